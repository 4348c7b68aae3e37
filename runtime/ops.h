/* Operator implementations: each op has shape inference, a scratch-size
 * query and a run function over dense tensors. Ops are grouped in tables by
 * concern (ops_*.c) and found by name through mrt__op_find(). */
#ifndef MRT_OPS_H
#define MRT_OPS_H

#include "graph.h"
#include "kernels.h"

/* A tensor during a run. type is enum mrt_type: values are F32, I64 or I32;
 * a constant weight may also be F16, BF16, Q8_0 or Q4_0 when the op declares
 * that input in quant_inputs. Dense row-major, dims in ONNX order. */
typedef struct mrt__tensor {
	int type;
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
	void *data;
} mrt__tensor;

/* What a run hands every op: the context's pool (may be NULL) and the
 * scratch the op asked for through its scratch() query (64-byte aligned). */
typedef struct mrt__op_ctx {
	mrt__pool *pool;
	void *scratch;
	size_t scratch_size;
} mrt__op_ctx;

typedef struct mrt__op_def {
	const char *name; /* ONNX op_type */
	/* Shape/type inference, contract as mrt__node_infer() in graph.h. */
	int (*infer)(const mrt__node *node, const mrt__value_info *const *in,
		     const mrt__const *const *in_const, mrt__value_info *out, char *err,
		     size_t errlen);
	/* Scratch bytes needed to run with these concrete shapes (NULL = 0). */
	size_t (*scratch)(const mrt__node *node, const mrt__tensor *const *in,
			  const mrt__tensor *out);
	/* Compute out[] (buffers preallocated with the inferred shapes) from in[]
	 * (NULL entries for absent optional inputs). No allocation. Returns 0 or
	 * a negative mrt_status with a message (e.g. MRT_ERR_RANGE for an id past
	 * an embedding table, naming the node). */
	int (*run)(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
		   mrt__op_ctx *ctx, char *err, size_t errlen);
	/* Bit i set: input i may be a quantized/half constant (F16, BF16, Q8_0,
	 * Q4_0) used in place; any other quantized constant is expanded to F32 at
	 * load. */
	unsigned quant_inputs;
} mrt__op_def;

/* Tables, each ending with a {NULL} entry. */
extern const mrt__op_def mrt__ops_elementwise[]; /* ops_elementwise.c */
extern const mrt__op_def mrt__ops_shape[];       /* ops_shape.c */
extern const mrt__op_def mrt__ops_linear[];      /* ops_linear.c: Gemm, MatMul */
extern const mrt__op_def mrt__ops_nn[];          /* ops_nn.c: Conv, pools, norms */
extern const mrt__op_def mrt__ops_rnn[];         /* ops_rnn.c: LSTM, GRU */
extern const mrt__op_def mrt__ops_reduce[];      /* ops_reduce.c: softmax, reduce, TopK, Gather */
extern const mrt__op_def mrt__ops_retrieve[];    /* ops_retrieve.c: RetrieveTopK */

/* The op named op, or NULL. */
const mrt__op_def *mrt__op_find(const char *op);

/* Helpers shared by op files (ops_common.c). */
int64_t mrt__numel(const int64_t *dims, int ndim); /* -1 if any dim is -1 */
int mrt__attr_int(const mrt__node *n, const char *name, int64_t def, int64_t *out);
float mrt__attr_float(const mrt__node *n, const char *name, float def);
/* printf into err, prefixed with "node 'NAME' (OP): ". Returns status. */
int mrt__op_fail(const mrt__node *n, int status, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
