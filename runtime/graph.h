/* Graph models: the in-memory operator graph (IR) shared by the converter
 * (models/) and the executor, its GGUF serialization, and per-operator shape
 * inference and evaluation. The file layout is documented in
 * runtime/GRAPH-FORMAT.md; keep the two in step. */
#ifndef MRT_GRAPH_H
#define MRT_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "mrt.h"
#include "mrt_gguf.h"

#define MRT_GRAPH_ARCH "modelgraph"
#define MRT_GRAPH_VERSION 1

enum mrt__attr_kind {
	MRT__ATTR_INT = 0,    /* i */
	MRT__ATTR_FLOAT = 1,  /* f */
	MRT__ATTR_STRING = 2, /* s */
	MRT__ATTR_INTS = 3,   /* ints[n] */
	MRT__ATTR_FLOATS = 4, /* floats[n] */
};

typedef struct mrt__attr {
	char *name;
	int kind; /* enum mrt__attr_kind */
	int64_t i;
	float f;
	char *s;
	int64_t *ints;
	float *floats;
	int64_t n;
} mrt__attr;

/* One operator with ONNX semantics (op is the ONNX op_type; the few
 * extensions are listed in GRAPH-FORMAT.md). An empty input name marks an
 * absent optional input. */
typedef struct mrt__node {
	char *op;
	char *name;
	int n_in, n_out, n_attr;
	char **in;
	char **out;
	mrt__attr *attr;
} mrt__node;

/* A graph input, output or intermediate value: type is enum mrt_type
 * (MRT_TYPE_F32, MRT_TYPE_I64 or MRT_TYPE_I32); -1 dims are symbolic. */
typedef struct mrt__value_info {
	char *name;
	int type;
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
} mrt__value_info;

/* A constant (weight or folded value). type is enum mrt_type (F32, F16,
 * BF16, Q8_0, Q4_0, I64, I32). dims are ONNX order (row-major, last fastest).
 * data is owned when owned != 0, else borrowed (e.g. from a file map). */
typedef struct mrt__const {
	char *name;
	int type;
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
	void *data;
	size_t nbytes;
	int owned;
} mrt__const;

typedef struct mrt__graph {
	int n_inputs, n_outputs, n_nodes, n_consts;
	mrt__value_info *inputs;
	mrt__value_info *outputs;
	mrt__node *nodes; /* in topological order */
	mrt__const *consts;
	int64_t opset;
} mrt__graph;

/* Free everything the graph owns (names, attrs, owned constant data) and
 * the graph struct itself. NULL is fine. */
void mrt__graph_free(mrt__graph *g);

/* Free what one node owns (op, name, input and output names, attributes)
 * and zero it; the node struct itself stays (it lives in an array). Arrays
 * may be NULL, as after a partial read. */
void mrt__node_clear(mrt__node *n);

/* Read a graph from an open GGUF file. Constant data is borrowed from the
 * file's map (the file must outlive the graph). Every key and tensor is
 * validated; returns NULL with a message in err for a bad graph. */
mrt__graph *mrt__graph_read(const mrt_gguf *file, char *err, size_t errlen);

/* Serialize a graph: metadata keys and constant tensors go into w. */
int mrt__graph_write(const mrt__graph *g, mrt_gguf_writer *w, char *err, size_t errlen);

/* Find an attribute of a node by name, or NULL. */
const mrt__attr *mrt__node_attr(const mrt__node *n, const char *name);

/* Shape and dtype inference for one node. in[i] describes input i (NULL for
 * an absent optional input; name may be NULL); in_const[i] is the input's
 * value when it is a known constant (else NULL), needed by ops such as
 * Reshape whose output shape depends on an input's value. Symbolic dims are
 * -1 and propagate. Fills out[0..n_out-1] (names untouched).
 * Returns 0, MRT_ERR_SHAPE / MRT_ERR_DTYPE with a message naming the node, or
 * MRT_ERR_UNSUPPORTED for an unknown op or attribute value. */
int mrt__node_infer(const mrt__node *node, const mrt__value_info *const *in,
		    const mrt__const *const *in_const, mrt__value_info *out, char *err,
		    size_t errlen);

/* Evaluate one node whose inputs are all constants (in[i] NULL for absent
 * inputs); used for constant folding. Fills out[0..n_out-1] with new, owned
 * F32/I64/I32 constants (names NULL; the caller names them).
 * Returns 0 or a negative status with a message. */
int mrt__node_eval(const mrt__node *node, const mrt__const *const *in, mrt__const *out,
		   char *err, size_t errlen);

/* 1 when the op is one the executor runs. */
int mrt__op_supported(const char *op);

#endif
