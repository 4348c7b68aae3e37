/* libmodelrt: load GGUF model files and run them.
 *
 * A loaded model (mrt_model) is immutable and may be used from any number of
 * threads at once; every run needs its own context (mrt_ctx), which owns the
 * scratch arena, the plan for the current input shapes and a worker pool.
 * This header includes only standard headers. */
#ifndef MRT_H
#define MRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MRT_MAX_DIMS 8

/* Status codes: 0 success, negative error. mrt_strerror() names them. */
enum mrt_status {
	MRT_OK = 0,
	MRT_ERR_IO = -1,          /* file cannot be opened, read or mapped */
	MRT_ERR_FORMAT = -2,      /* the file is not a valid GGUF / graph file */
	MRT_ERR_UNSUPPORTED = -3, /* valid, but uses something we do not implement */
	MRT_ERR_NOMEM = -4,       /* allocation failed or a size overflowed */
	MRT_ERR_SHAPE = -5,       /* an input's shape does not fit the model */
	MRT_ERR_DTYPE = -6,       /* an input's element type does not fit the model */
	MRT_ERR_INVALID = -7,     /* bad argument (unknown input name, NULL, ...) */
	MRT_ERR_RANGE = -8,       /* a value is out of range (e.g. an id past a table) */
};
const char *mrt_strerror(int status);

/* Element types of run inputs and outputs. */
enum mrt_dtype {
	MRT_DTYPE_F32 = 0,
	MRT_DTYPE_I64 = 1,
	MRT_DTYPE_I32 = 2,
};
const char *mrt_dtype_name(int dtype); /* "float32", "int64", "int32" */
size_t mrt_dtype_size(int dtype);

enum mrt_model_kind {
	MRT_MODEL_GRAPH = 0, /* operator graph (converted from ONNX) */
	MRT_MODEL_LLAMA = 1, /* llama-architecture language model */
};

/* How quantized weights of a graph model are used. */
enum mrt_weights_mode {
	MRT_WEIGHTS_NATIVE = 0, /* quantized kernels read the mapped blocks in place */
	MRT_WEIGHTS_EXPAND = 1, /* dequantize once at load to F32 and use sgemm */
};

typedef struct mrt_model_params {
	int weights_mode; /* enum mrt_weights_mode, default NATIVE */
	int use_mmap;     /* 1 (default): map the file read-only and share pages */
	int repack; /* 1 (default): a language model's Q8_0/Q4_0/Q4_K/Q5_K/Q6_K matrices reordered
	               at load for this CPU's kernels (same bytes, held once, not
	               shared); 0: read in place from the file */
} mrt_model_params;
mrt_model_params mrt_model_default_params(void);

/* Description of one input or output. dims[i] == -1 marks the symbolic
 * batch dimension (or another free dimension). Strings are borrowed from the
 * model and live as long as it. */
typedef struct mrt_io_info {
	const char *name;
	int dtype; /* enum mrt_dtype */
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
} mrt_io_info;

/* A tensor handed to or returned by a run: dense, row-major. */
typedef struct mrt_tensor {
	const char *name; /* input/output name; borrowed */
	int dtype;        /* enum mrt_dtype */
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
	void *data; /* borrowed (inputs) or owned by the context (outputs) */
} mrt_tensor;

typedef struct mrt_model mrt_model;
typedef struct mrt_ctx mrt_ctx;

/* Load a model file. Returns a new model, or NULL with a message in err
 * (which names the problem and, for a bad file, its byte offset). */
mrt_model *mrt_model_load(const char *path, const mrt_model_params *params, char *err,
			  size_t errlen);
void mrt_model_free(mrt_model *model);

int mrt_model_kind(const mrt_model *model);
int mrt_model_n_inputs(const mrt_model *model);
int mrt_model_n_outputs(const mrt_model *model);
/* Fill *info (OUT) with input/output i. Returns 0 or MRT_ERR_INVALID. */
int mrt_model_input(const mrt_model *model, int i, mrt_io_info *info);
int mrt_model_output(const mrt_model *model, int i, mrt_io_info *info);
/* Padding id of input i (metadata modelgraph.input.NAME.pad): returns 1
 * with *pad (OUT) set when the file declares one (the input then accepts
 * ragged id lists, padded to the longest), else 0. */
int mrt_model_input_pad(const mrt_model *model, int i, int64_t *pad);
/* 1 when input i may be omitted from a request (modelgraph.input.NAME.
 * optional): mrt_run still takes it, as an empty [B,0] tensor. */
int mrt_model_input_optional(const mrt_model *model, int i);
/* 1 when the values of integer input i are ids into an embedding table (a
 * Gather along axis 0 of a constant, reached directly or through Reshape,
 * Flatten, Cast, Unsqueeze, Squeeze, Identity or Expand): *rows (OUT) is the
 * smallest such table's row count and *node (OUT, borrowed from the model)
 * that Gather's name. 0 otherwise. */
int mrt_model_input_id_limit(const mrt_model *model, int i, int64_t *rows, const char **node);
/* Size of the model file in bytes and the bytes of weights held in heap
 * memory beside the mapping (0 unless weights were expanded). */
uint64_t mrt_model_file_size(const mrt_model *model);
uint64_t mrt_model_heap_bytes(const mrt_model *model);
/* Comma-separated list of the tensor types in the file, e.g. "f32,q8_0";
 * borrowed, lives as long as the model. */
const char *mrt_model_tensor_types(const mrt_model *model);

typedef struct mrt_ctx_params {
	int n_threads; /* threads a run may use (>= 1), default 1 */
} mrt_ctx_params;
mrt_ctx_params mrt_ctx_default_params(void);

/* A run context for one model. The model must outlive the context. */
mrt_ctx *mrt_ctx_new(const mrt_model *model, const mrt_ctx_params *params, char *err,
		     size_t errlen);
void mrt_ctx_free(mrt_ctx *ctx);

/* Run the model on one batch.
 * inputs: n_inputs tensors matched to the model's inputs by name (borrowed,
 * only read during the call). Every input's dims must agree with the model's
 * declared shape; the batch dimension may be any size >= 1 but must be the
 * same for all inputs.
 * outputs: OUT, an array of mrt_model_n_outputs() tensors in the model's
 * output order; their data lives in the context and stays valid until the
 * next run on it or mrt_ctx_free.
 * The plan (shapes, arena) is made on the first run with given input shapes
 * and reused while they stay the same: no allocation per run.
 * Returns 0, or a negative status with a message in err naming the input,
 * the expected and the received shape. */
int mrt_run(mrt_ctx *ctx, int n_inputs, const mrt_tensor *inputs, mrt_tensor *outputs, char *err,
	    size_t errlen);

/* Name of the fastest kernel set this CPU supports ("avx512vnni", "avx2",
 * "generic"); kernels are chosen at run time. */
const char *mrt_cpu_features(void);

#ifdef __cplusplus
}
#endif
#endif
