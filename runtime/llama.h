/* Internal: a loaded llama-architecture model (hyper-parameters and the
 * tensors it reads in place from the file's map), shared by llama_load.c
 * (load, validate, describe) and llama.c (contexts and decoding). */
#ifndef MRT_LLAMA_H
#define MRT_LLAMA_H

#include <stdint.h>

#include "mrt.h"
#include "mrt_gguf.h"
#include "mrt_llm.h"
#include "tokenizer.h"

/* A weight: its blocks in the map (borrowed, live as long as the file) and
 * its type (enum mrt_type). Rows of a matrix are contiguous; a matrix
 * mrt__llama_pack reordered has type | MRT__PACKED (kernels.h) and its
 * blocks in the model's packed buffer. */
typedef struct mrt__lweight {
	const void *data;
	int type;
} mrt__lweight;

typedef struct mrt__llayer {
	const float *attn_norm, *ffn_norm; /* n_embd F32 */
	mrt__lweight wq, wk, wv, wo; /* wq: n_embd_q rows, wk/wv: n_embd_kv rows, of n_embd;
	                                wo: n_embd rows of n_embd_q */
	mrt__lweight gate, up, down;       /* gate/up: n_ff rows; down: n_embd rows of n_ff */
} mrt__llayer;

typedef struct mrt__llama {
	int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
	int head_dim, n_embd_kv, n_rot;
	int n_embd_q; /* n_head x head_dim: n_embd, unless the file's key_length decouples the
	                 head size from it (Mistral Nemo: 32 heads of 128 in a 5120 model) */
	float rope_base, norm_eps;
	float rope_freq_scale;    /* 1 / llama.rope.scaling.factor for linear scaling, else 1 */
	const float *rope_freqs;  /* n_rot / 2 divisors of the frequencies (rope_freqs.weight,
				     Llama 3.1 style), or NULL */
	int32_t bos, eos;
	int add_bos, add_eos;
	char *tokenizer_model; /* NUL-terminated copies (owned) */
	char *chat_template;   /* NULL when the file has none */
	uint64_t n_params;
	mrt__tokenizer *tok; /* owned; NULL when the file has no tokenizer.ggml.model */

	mrt__lweight tok_embd; /* n_vocab rows of n_embd */
	mrt__lweight output;   /* n_vocab rows of n_embd; tok_embd when tied */
	const float *output_norm;
	mrt__llayer *layers; /* n_layer (owned) */
	void *packed;        /* the packed matrices (owned), or NULL */
	float *vectors;      /* the norms and rope_freqs copied out of the map (owned), or NULL */
	size_t packed_bytes;
} mrt__llama;

/* Read and validate the hyper-parameters and tensors of an open llama file.
 * Returns a new model description, or NULL with a message in err. */
mrt__llama *mrt__llama_load(const mrt_gguf *file, char *err, size_t errlen);
void mrt__llama_free(mrt__llama *l);
/* Reorder the Q8_0/Q4_0/Q4_K/Q5_K/Q6_K matrices of the layers and an untied
 * output matrix that the kernels in use read faster packed (mrt__pack_ok).
 * Where the file is mapped: first the norm vectors are copied out of the
 * map and what stays in it is populated (the embedding table, matrices not
 * packed); then each matrix goes, in slices, into one buffer of the same
 * total size on huge pages, its file pages populated, read and given back,
 * so the process holds the bytes once. A file read into memory is packed
 * in place. Returns the bytes packed; a failed allocation leaves the
 * matrices in place (and the whole map populated). */
size_t mrt__llama_pack(mrt__llama *l, const mrt_gguf *f);

/* Attention kernels (llama_attn.c). K and V rows are F32 or F16 cache
 * elements (the set is made for one type). scores: out[j] = scale *
 * (q . k_j) for n_keys contiguous rows k_j of hd elements. softmax: in place
 * over n. wsum: out (+)= sum_j p[j] v_j in key order (accumulate: start
 * from out), so a sum split into two key ranges equals the whole.
 * scores2/wsum2: two queries at once, sharing the loads of K and V (wsum2's
 * accumulate holds for both outputs). Every value is computed the same way
 * whatever the pairing, so batching never changes a result. store: n
 * floats into a cache row of the set's type. */
typedef struct mrt__attn_kern {
	void (*scores)(const float *q, const void *k, int n_keys, int hd, float scale, float *out);
	void (*scores2)(const float *qa, const float *qb, const void *k, int n_keys, int hd,
	                float scale, float *outa, float *outb);
	void (*softmax)(float *x, int n);
	void (*wsum)(const float *p, const void *v, int n_keys, int hd, float *out,
	             int accumulate);
	void (*wsum2)(const float *pa, const float *pb, const void *v, int n_keys, int hd,
	              float *outa, float *outb, int accumulate);
	void (*store)(void *dst, const float *src, int n);
	/* the SwiGLU gate, also here for its exp: g[i] = silu(g[i]) * u[i] */
	void (*silu)(float *g, const float *u, int n);
	/* RMSNorm of a row: y = x / sqrt(mean(x^2) + eps) * w (the sum of
	 * squares in double; y may be x) */
	void (*rms_norm)(float *y, const float *x, const float *w, int d, float eps);
} mrt__attn_kern;

/* KV cache element kinds of the attention kernels. */
enum { MRT__KV_F32 = 0, MRT__KV_F16 = 1, MRT__KV_Q8 = 2 /* head_dim % 32 == 0 */ };

/* The fastest kernel set the CPU runs for heads of head_dim elements and a
 * cache of kind kv (AVX2 needs head_dim % 16 == 0, and F16C for F16 and
 * Q8_0), else the reference; simd 0 asks for the reference (tests). */
mrt__attn_kern mrt__attn_kernels(int head_dim, int kv, int simd);

/* The llama description of a model, or NULL for a graph model. */
const mrt__llama *mrt__model_llama(const mrt_model *model);

#endif
