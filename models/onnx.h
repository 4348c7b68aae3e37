/* A reader for the ONNX messages the converter needs, decoded straight from
 * the protobuf wire format. Every length, varint and count in the input is
 * untrusted: a bad file is refused with a message naming the field and its
 * byte offset; decoding never reads outside the buffer. */
#ifndef ONNX_H
#define ONNX_H

#include <stddef.h>
#include <stdint.h>

/* TensorProto.DataType values. */
enum onnx_dtype {
	ONNX_UNDEFINED = 0,
	ONNX_FLOAT = 1,
	ONNX_UINT8 = 2,
	ONNX_INT8 = 3,
	ONNX_UINT16 = 4,
	ONNX_INT16 = 5,
	ONNX_INT32 = 6,
	ONNX_INT64 = 7,
	ONNX_STRING = 8,
	ONNX_BOOL = 9,
	ONNX_FLOAT16 = 10,
	ONNX_DOUBLE = 11,
	ONNX_UINT32 = 12,
	ONNX_UINT64 = 13,
	ONNX_COMPLEX64 = 14,
	ONNX_COMPLEX128 = 15,
	ONNX_BFLOAT16 = 16,
};

/* AttributeProto.AttributeType values we decode. */
enum onnx_attr_type {
	ONNX_ATTR_UNDEFINED = 0,
	ONNX_ATTR_FLOAT = 1,
	ONNX_ATTR_INT = 2,
	ONNX_ATTR_STRING = 3,
	ONNX_ATTR_TENSOR = 4,
	ONNX_ATTR_GRAPH = 5,
	ONNX_ATTR_FLOATS = 6,
	ONNX_ATTR_INTS = 7,
	ONNX_ATTR_STRINGS = 8,
};

/* A tensor. data holds numel elements in data_type's own little-endian
 * layout (FLOAT: float, INT64: int64_t, FLOAT16: uint16_t bits, BOOL: one
 * byte, ...), whichever field (raw_data or the typed *_data field) the file
 * used; numel equals the product of dims (checked). STRING tensors keep no
 * data (data NULL). from_raw is 1 when the file used raw_data. */
typedef struct onnx_tensor {
	char *name;
	int data_type; /* enum onnx_dtype */
	int ndim;
	int64_t *dims;
	int64_t numel;
	void *data;
	size_t nbytes;
	int from_raw;
} onnx_tensor;

typedef struct onnx_attr {
	char *name;
	int type; /* enum onnx_attr_type (inferred from the fields when absent) */
	float f;
	int64_t i;
	char *s; /* NUL-terminated copy; s_len excludes the NUL */
	size_t s_len;
	onnx_tensor *t;
	float *floats;
	int64_t *ints;
	char **strings;
	size_t n_floats, n_ints, n_strings;
} onnx_attr;

typedef struct onnx_node {
	char *name;
	char *op_type;
	char *domain; /* "" for the default domain */
	int n_in, n_out, n_attr;
	char **in; /* "" marks an absent optional input */
	char **out;
	onnx_attr *attr;
} onnx_node;

/* A graph input, output or value_info. has_shape is 0 when the file gives
 * no shape. A dim given by name (dim_param) or not at all is -1, and
 * dim_param[i] holds its name (or NULL). */
typedef struct onnx_value_info {
	char *name;
	int elem_type; /* enum onnx_dtype; 0 when not a tensor type */
	int is_tensor; /* 0 for sequence/map/optional types */
	int has_shape;
	int ndim;
	int64_t *dims;
	char **dim_param;
} onnx_value_info;

typedef struct onnx_graph {
	char *name;
	int n_nodes, n_inits, n_inputs, n_outputs, n_value_info;
	onnx_node *nodes;
	onnx_tensor *inits;
	onnx_value_info *inputs;
	onnx_value_info *outputs;
	onnx_value_info *value_info;
} onnx_graph;

typedef struct onnx_opset {
	char *domain; /* "" (or "ai.onnx") for the default domain */
	int64_t version;
} onnx_opset;

typedef struct onnx_arena onnx_arena;

typedef struct onnx_model {
	int64_t ir_version;
	char *producer_name;
	int n_opsets;
	onnx_opset *opsets;
	onnx_graph graph;
	onnx_arena *arena; /* owns every string and array above */
} onnx_model;

/* Decode a serialized ModelProto from buf (borrowed, only read during the
 * call; the result holds copies). Returns a new model, or NULL with a
 * message in err naming the field and byte offset of the first problem.
 * Refused: malformed wire data, wrong wire types, nesting deeper than 32,
 * graph-valued attributes (control flow), externally stored tensor data,
 * tensors whose data does not match their dims, and decoded structures
 * larger than a fixed multiple of the input size. */
onnx_model *onnx_model_decode(const void *buf, size_t len, char *err, size_t errlen);

/* Read the file at path and decode it as above. */
onnx_model *onnx_model_load(const char *path, char *err, size_t errlen);

/* Free a model and everything it owns. NULL is fine. */
void onnx_model_free(onnx_model *m);

/* The attribute of n named name, or NULL. */
const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name);

/* The version of the default-domain opset the model imports, or -1. */
int64_t onnx_model_opset(const onnx_model *m);

/* Bytes of one element of data type t, or 0 for STRING/unknown types. */
size_t onnx_dtype_size(int t);
/* "float", "int64", ...; "unknown" for an unknown number. */
const char *onnx_dtype_name(int t);

#endif
