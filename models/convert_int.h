/* Internal to the converter: the graph being built (an mrt__graph plus
 * array capacities and the inferred value shapes) and the passes over it,
 * split across convert.c (ONNX import, inference, folding, writing),
 * convert_fuse.c (rewrites) and convert_quant.c (weight quantization). */
#ifndef CONVERT_INT_H
#define CONVERT_INT_H

#include "convert.h"
#include "ops.h" /* graph IR and the attribute helpers */

typedef struct cv_graph {
	mrt__graph *g; /* owned; its arrays have the capacities below */
	int cap_nodes, cap_consts;
	mrt__value_info *vals; /* shapes of node outputs, by name */
	int n_vals, cap_vals;
	char *err;
	size_t errlen;
} cv_graph;

/* printf into cv->err; returns status. */
int cv__fail(cv_graph *cv, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Lookups by name; NULL / -1 when absent. */
mrt__const *cv__const(cv_graph *cv, const char *name);
const mrt__value_info *cv__value(cv_graph *cv, const char *name);
int cv__is_output(const cv_graph *cv, const char *name);
/* Number of node inputs (over all live nodes) that read name. */
int cv__consumers(const cv_graph *cv, const char *name);
/* Index of the node producing name, or -1. */
int cv__producer(const cv_graph *cv, const char *name);

/* Append a constant (takes over data, which must be malloc'd; name copied).
 * Returns 0 or MRT_ERR_NOMEM (data is freed then). */
int cv__add_const(cv_graph *cv, const char *name, int type, int ndim, const int64_t *dims,
                  void *data, size_t nbytes);
/* Remove node i (freeing it) / constant i. */
void cv__remove_node(cv_graph *cv, int i);
void cv__remove_const(cv_graph *cv, int i);
/* Replace every read of `from` by `to` in the nodes. 0 or MRT_ERR_NOMEM. */
int cv__rename_uses(cv_graph *cv, const char *from, const char *to);
/* Set an INT or FLOAT attribute of a node (added when absent). */
int cv__set_attr_int(mrt__node *n, const char *name, int64_t v);
int cv__set_attr_float(mrt__node *n, const char *name, float v);

typedef struct onnx_model onnx_model;
/* Import a decoded ONNX model into cv (convert_import.c): graph inputs,
 * outputs (names only), constants from initializers and Constant nodes,
 * nodes with their attributes. Refuses other domains, opsets outside 11-17
 * and value types the runtime does not have. */
int cv__import(cv_graph *cv, const onnx_model *m);

/* Rewrites (convert_fuse.c): fold BatchNormalization, fuse LayerNorm and
 * GELU, drop Identity/Dropout, transpose constant MatMul/Gemm weights, drop
 * dead nodes and unused constants. fuse = 0 keeps only the weight
 * transposition and dead-code removal. */
int cv__rewrite(cv_graph *cv, int fuse);

/* Make LSTM/GRU initial states that are ConstantOfShape zeros absent (the
 * ONNX default); run before shape inference. */
int cv__drop_zero_states(cv_graph *cv);

/* Recommendation passes (convert_recsys.c). cv__check_retrieve_k refuses
 * TopK(MatMul(x, catalog)) with k above the catalog's items (run before
 * shape inference, for a clear message); cv__fuse_retrieve makes
 * RetrieveTopK of MatMul(query, catalog transB=1) -> TopK (after the weight
 * transposition) and adds the exclusion input when exclude_input is set;
 * cv__check_pads validates o->pad_names; cv__write_input_keys writes the
 * pad / optional keys of the inputs. Each returns 0 or a status. */
int cv__check_retrieve_k(cv_graph *cv);
int cv__fuse_retrieve(cv_graph *cv, const char *exclude_input);
int cv__check_pads(cv_graph *cv, const convert_options *o);
int cv__write_input_keys(mrt_gguf_writer *w, const convert_options *o, char *err, size_t errlen);

/* Quantize the weight matrices of a graph to type (convert_quant.c): F32
 * constants only (others are left alone). */
int cv__quantize(mrt__graph *g, int type, char *err, size_t errlen);

/* Row length of constant c when it is a weight matrix of graph g (the
 * second input of Gemm transB=1 or MatMul transB=1, Conv weights, LSTM/GRU W
 * and R, Gather tables) and nothing else reads it; 0 when it is not. */
int64_t cv__weight_row(const mrt__graph *g, const mrt__const *c);

#endif
