/* ONNX -> graph GGUF conversion and re-quantization of GGUF files
 * (the library behind `modelctl convert` and `modelctl quantize`). */
#ifndef CONVERT_H
#define CONVERT_H

#include <stddef.h>
#include <stdint.h>

#define CONVERT_MAX_PADS 16

typedef struct convert_options {
	int quant; /* enum mrt_type for weight matrices: F32, F16, Q8_0 or Q4_0 */
	int fuse;  /* 1 (default): fuse LayerNorm / GELU patterns and fold BatchNorm */
	/* Ragged id-list inputs: pad_names[i] (an int input [*,-1]) is padded
	 * with pad_values[i] (modelgraph.input.NAME.pad). Names borrowed. */
	int n_pads;
	const char *pad_names[CONVERT_MAX_PADS];
	int64_t pad_values[CONVERT_MAX_PADS];
	/* When set: an optional int64 [*,-1] input of that name (pad -1) holding
	 * ids to leave out of the fused RetrieveTopK's results. Borrowed. */
	const char *exclude_input;
} convert_options;
convert_options convert_default_options(void);

/* Convert an ONNX file into a graph GGUF file. Only weight matrices are
 * quantized (a matrix whose row length is not a multiple of the block size
 * stays F32); biases and norms stay F32. Returns 0, or a negative mrt_status
 * with a message in err (an unsupported operator is named with its op type
 * and node name). */
int convert_onnx_file(const char *in_path, const char *out_path, const convert_options *opt,
		      char *err, size_t errlen);

/* The k-quant mixes of llama.cpp's quantize tool, for llama files: Q4_K
 * (Q5_K) matrices, with Q6_K for output.weight and for attn_v / ffn_down in
 * the layers llama.cpp gives more bits (the first and last eighth, every
 * third in between). Values for convert_quantize_file's type. */
enum { CONVERT_Q4_K_M = 1000, CONVERT_Q5_K_M = 1001 };

/* The type (enum mrt_type, or CONVERT_Q4_K_M / CONVERT_Q5_K_M) named by
 * name ("q8_0", "q4_k_m", ...) that convert_quantize_file takes, or -1. */
int convert_quant_type(const char *name);

/* Re-quantize the weight matrices of a GGUF file (graph or llama model)
 * to type; other tensors and all metadata are copied. Graph files take f32,
 * f16, q8_0 and q4_0. Llama files also take the k-quants q4_k, q5_k, q6_k
 * and the mixes above; with a k-quant, output.weight is Q6_K as llama.cpp
 * makes it, and a matrix whose rows are not a multiple of 256 is Q8_0. A
 * matrix already in a quantized type that would change type is refused
 * (MRT_ERR_INVALID, naming it) unless allow_requantize. */
int convert_quantize_file(const char *in_path, const char *out_path, int type,
			  int allow_requantize, char *err, size_t errlen);

#endif
