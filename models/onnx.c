/* ONNX protobuf decoder: one decode function per message we use (the wire
 * primitives are in onnx_wire.c). Every message is decoded in two passes over
 * its bytes: the first counts repeated fields so arrays are allocated once,
 * the second fills them. All memory comes from one arena per model. */
#include "onnx_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- TensorProto ---- */

size_t onnx_dtype_size(int t)
{
	switch (t) {
	case ONNX_UINT8:
	case ONNX_INT8:
	case ONNX_BOOL:
		return 1;
	case ONNX_UINT16:
	case ONNX_INT16:
	case ONNX_FLOAT16:
	case ONNX_BFLOAT16:
		return 2;
	case ONNX_FLOAT:
	case ONNX_INT32:
	case ONNX_UINT32:
		return 4;
	case ONNX_INT64:
	case ONNX_DOUBLE:
	case ONNX_UINT64:
	case ONNX_COMPLEX64:
		return 8;
	case ONNX_COMPLEX128:
		return 16;
	default:
		return 0;
	}
}

const char *onnx_dtype_name(int t)
{
	static const char *const names[] = {
	    "undefined", "float",  "uint8",     "int8",       "uint16",   "int16",
	    "int32",     "int64",  "string",    "bool",       "float16",  "double",
	    "uint32",    "uint64", "complex64", "complex128", "bfloat16",
	};

	if (t < 0 || (size_t)t >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[t];
}

/* The typed fields of a TensorProto as read in the second pass. */
typedef struct typed_data {
	uint32_t *f32; /* float_data bits */
	uint64_t *i32; /* int32_data varints */
	uint64_t *i64; /* int64_data */
	uint64_t *f64; /* double_data bits */
	uint64_t *u64; /* uint64_data */
	size_t n_f32, n_i32, n_i64, n_f64, n_u64;
	size_t raw_off, raw_len;
	int has_raw;
} typed_data;

/* Fill t->data from raw_data or the typed field matching t->data_type. */
static int tensor_fill(onnx__dec *d, size_t at, onnx_tensor *t, const typed_data *td)
{
	size_t es = onnx_dtype_size(t->data_type), n_src = 0, i, mult = 1;
	const void *src = NULL;
	int src_kind = 0; /* 4: 32-bit items, 8: 64-bit items */

	if (t->numel > 0 && (uint64_t)t->numel > SIZE_MAX / (es ? es : 1))
		return onnx__fail(d, at, "tensor '%s': too large", t->name);
	t->nbytes = (size_t)t->numel * es;
	if (td->has_raw) {
		if (td->raw_len != t->nbytes)
			return onnx__fail(d, at,
			                  "tensor '%s': raw_data has %zu bytes, dims need %zu",
			                  t->name, td->raw_len, t->nbytes);
		t->from_raw = 1;
		t->data = onnx__arena_alloc(d->arena, t->nbytes);
		if (!t->data)
			return onnx__nomem(d, at);
		memcpy(t->data, d->buf + td->raw_off, t->nbytes);
		return 0;
	}
	switch (t->data_type) {
	case ONNX_COMPLEX64:
		mult = 2; /* fall through */
	case ONNX_FLOAT:
		src = td->f32, n_src = td->n_f32, src_kind = 4;
		break;
	case ONNX_INT64:
		src = td->i64, n_src = td->n_i64, src_kind = 8;
		break;
	case ONNX_COMPLEX128:
		mult = 2; /* fall through */
	case ONNX_DOUBLE:
		src = td->f64, n_src = td->n_f64, src_kind = 8;
		break;
	case ONNX_UINT32:
	case ONNX_UINT64:
		src = td->u64, n_src = td->n_u64, src_kind = 8;
		break;
	default:
		src = td->i32, n_src = td->n_i32, src_kind = 8;
		break;
	}
	if (n_src != (size_t)t->numel * mult)
		return onnx__fail(d, at, "tensor '%s' (%s): %zu data elements, dims need %lld",
		                  t->name, onnx_dtype_name(t->data_type), n_src / mult,
		                  (long long)t->numel);
	t->data = onnx__arena_alloc(d->arena, t->nbytes);
	if (!t->data)
		return onnx__nomem(d, at);
	/* Items narrow to the element size, little-endian (x86-64 and arm64). */
	for (i = 0; i < n_src; i++) {
		uint64_t v =
		    src_kind == 4 ? ((const uint32_t *)src)[i] : ((const uint64_t *)src)[i];
		size_t isz = es / mult;

		memcpy((unsigned char *)t->data + i * isz, &v, isz);
	}
	return 0;
}

static int tensor_dims(onnx__dec *d, size_t at, onnx_tensor *t)
{
	int64_t numel = 1;
	int i;

	for (i = 0; i < t->ndim; i++) {
		if (t->dims[i] < 0)
			return onnx__fail(d, at, "tensor '%s': negative dim %lld", t->name,
			                  (long long)t->dims[i]);
		if (t->dims[i] && numel > INT64_MAX / t->dims[i])
			return onnx__fail(d, at, "tensor '%s': element count overflows", t->name);
		numel *= t->dims[i];
	}
	t->numel = numel;
	return 0;
}

static int decode_tensor(onnx__dec *d, size_t off, size_t len, onnx_tensor *t)
{
	static const unsigned char kinds[ONNX_MAX_FIELD] = {
	    [1] = K_VARINT, [4] = K_I32,  [5] = K_VARINT,
	    [7] = K_VARINT, [10] = K_I64, [11] = K_VARINT,
	};
	size_t counts[ONNX_MAX_FIELD], pos = off, end = off + len, nd = 0, ext_at = 0;
	typed_data td = {0};
	void *p;
	onnx__field f;
	int rc = -1;

	if (onnx__enter(d, off, "TensorProto") || onnx__count_fields(d, off, end, kinds, counts))
		goto out;
	if (counts[1] > 64) {
		onnx__fail(d, off, "tensor has %zu dims", counts[1]);
		goto out;
	}
	if (!onnx__alloc_array(d, off, counts[1], 8, &p))
		goto out;
	t->dims = p;
	t->ndim = (int)counts[1];
	if (!onnx__alloc_array(d, off, counts[4], 4, &p))
		goto out;
	td.f32 = p;
	if (!onnx__alloc_array(d, off, counts[5], 8, &p))
		goto out;
	td.i32 = p;
	if (!onnx__alloc_array(d, off, counts[7], 8, &p))
		goto out;
	td.i64 = p;
	if (!onnx__alloc_array(d, off, counts[10], 8, &p))
		goto out;
	td.f64 = p;
	if (!onnx__alloc_array(d, off, counts[11], 8, &p))
		goto out;
	td.u64 = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		switch (f.num) {
		case 1:
			if (onnx__read_repeated(d, &f, K_VARINT, t->dims, &nd, counts[1],
			                        "TensorProto.dims"))
				goto out;
			break;
		case 2:
			if (onnx__want(d, &f, WT_VARINT, "TensorProto.data_type"))
				goto out;
			t->data_type = (int)(f.u > 255 ? 255 : f.u);
			break;
		case 4:
			if (onnx__read_repeated(d, &f, K_I32, td.f32, &td.n_f32, counts[4],
			                        "TensorProto.float_data"))
				goto out;
			break;
		case 5:
			if (onnx__read_repeated(d, &f, K_VARINT, td.i32, &td.n_i32, counts[5],
			                        "TensorProto.int32_data"))
				goto out;
			break;
		case 7:
			if (onnx__read_repeated(d, &f, K_VARINT, td.i64, &td.n_i64, counts[7],
			                        "TensorProto.int64_data"))
				goto out;
			break;
		case 10:
			if (onnx__read_repeated(d, &f, K_I64, td.f64, &td.n_f64, counts[10],
			                        "TensorProto.double_data"))
				goto out;
			break;
		case 11:
			if (onnx__read_repeated(d, &f, K_VARINT, td.u64, &td.n_u64, counts[11],
			                        "TensorProto.uint64_data"))
				goto out;
			break;
		case 8:
			if (onnx__dup_bytes(d, &f, &t->name, "TensorProto.name"))
				goto out;
			break;
		case 9:
			if (onnx__want(d, &f, WT_LEN, "TensorProto.raw_data"))
				goto out;
			td.has_raw = 1, td.raw_off = f.off, td.raw_len = f.len;
			break;
		case 13:
			ext_at = f.at + 1;
			break;
		case 14:
			if (onnx__want(d, &f, WT_VARINT, "TensorProto.data_location"))
				goto out;
			if (f.u == 1)
				ext_at = f.at + 1;
			break;
		default:
			break;
		}
	}
	if (!t->name)
		t->name = "";
	if (ext_at) {
		onnx__fail(
		    d, ext_at - 1,
		    "tensor '%s': data stored in an external file (data_location EXTERNAL) is "
		    "not supported; save the model with its weights inside",
		    t->name);
		goto out;
	}
	if (tensor_dims(d, off, t))
		goto out;
	if (t->data_type == ONNX_STRING) {
		rc = 0;
		goto out;
	}
	if (onnx_dtype_size(t->data_type) == 0) {
		onnx__fail(d, off, "tensor '%s': unknown data type %d", t->name, t->data_type);
		goto out;
	}
	rc = tensor_fill(d, off, t, &td);
out:
	onnx__leave(d);
	return rc;
}

/* ---- AttributeProto ---- */

static int attr_refuse(onnx__dec *d, size_t at, const onnx_attr *a, const char *what)
{
	return onnx__fail(d, at, "attribute '%s': %s are not supported", a->name ? a->name : "",
	                  what);
}

static int decode_attr(onnx__dec *d, size_t off, size_t len, onnx_attr *a)
{
	static const unsigned char kinds[ONNX_MAX_FIELD] = {[7] = K_I32, [8] = K_VARINT};
	size_t counts[ONNX_MAX_FIELD], pos = off, end = off + len, ns = 0, bad_at = 0;
	const char *bad = NULL;
	void *p;
	onnx__field f;
	int rc = -1, has_f = 0, has_i = 0;

	if (onnx__enter(d, off, "AttributeProto") || onnx__count_fields(d, off, end, kinds, counts))
		goto out;
	if (!onnx__alloc_array(d, off, counts[7], 4, &p))
		goto out;
	a->floats = p;
	if (!onnx__alloc_array(d, off, counts[8], 8, &p))
		goto out;
	a->ints = p;
	if (!onnx__alloc_array(d, off, counts[9], sizeof(char *), &p))
		goto out;
	a->strings = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		switch (f.num) {
		case 1:
			if (onnx__dup_bytes(d, &f, &a->name, "AttributeProto.name"))
				goto out;
			break;
		case 20:
			if (onnx__want(d, &f, WT_VARINT, "AttributeProto.type"))
				goto out;
			a->type = (int)(f.u > 255 ? 255 : f.u);
			break;
		case 2:
			if (onnx__want(d, &f, WT_I32, "AttributeProto.f"))
				goto out;
			memcpy(&a->f, &(uint32_t){(uint32_t)f.u}, 4);
			has_f = 1;
			break;
		case 3:
			if (onnx__want(d, &f, WT_VARINT, "AttributeProto.i"))
				goto out;
			a->i = (int64_t)f.u;
			has_i = 1;
			break;
		case 4:
			if (onnx__dup_bytes(d, &f, &a->s, "AttributeProto.s"))
				goto out;
			a->s_len = f.len;
			break;
		case 5:
			if (onnx__want(d, &f, WT_LEN, "AttributeProto.t"))
				goto out;
			a->t = onnx__arena_alloc(d->arena, sizeof(*a->t));
			if (!a->t) {
				onnx__nomem(d, f.at);
				goto out;
			}
			if (decode_tensor(d, f.off, f.len, a->t))
				goto out;
			break;
		case 7:
			if (onnx__read_repeated(d, &f, K_I32, a->floats, &a->n_floats, counts[7],
			                        "AttributeProto.floats"))
				goto out;
			break;
		case 8:
			if (onnx__read_repeated(d, &f, K_VARINT, a->ints, &a->n_ints, counts[8],
			                        "AttributeProto.ints"))
				goto out;
			break;
		case 9:
			if (onnx__dup_bytes(d, &f, &a->strings[ns++], "AttributeProto.strings"))
				goto out;
			a->n_strings = ns;
			break;
		case 6:
		case 11:
			bad = "graph values (control flow such as If, Loop, Scan)", bad_at = f.at;
			break;
		case 10:
		case 22:
		case 23:
		case 14:
		case 15:
			bad = "tensor lists, sparse tensors and type protos", bad_at = f.at;
			break;
		default:
			break;
		}
	}
	if (!a->name)
		a->name = "";
	if (a->type == ONNX_ATTR_GRAPH || a->type == 10)
		bad = "graph values (control flow such as If, Loop, Scan)", bad_at = off;
	if (bad) {
		attr_refuse(d, bad_at, a, bad);
		goto out;
	}
	if (a->type == ONNX_ATTR_UNDEFINED) /* old files: infer from the fields */
		a->type = a->t           ? ONNX_ATTR_TENSOR
		          : a->s         ? ONNX_ATTR_STRING
		          : has_f        ? ONNX_ATTR_FLOAT
		          : has_i        ? ONNX_ATTR_INT
		          : a->n_floats  ? ONNX_ATTR_FLOATS
		          : a->n_ints    ? ONNX_ATTR_INTS
		          : a->n_strings ? ONNX_ATTR_STRINGS
		                         : ONNX_ATTR_UNDEFINED;
	if (a->type > ONNX_ATTR_STRINGS || a->type == ONNX_ATTR_UNDEFINED) {
		onnx__fail(d, off, "attribute '%s': unsupported attribute type %d", a->name,
		           a->type);
		goto out;
	}
	if (a->type == ONNX_ATTR_TENSOR && !a->t) {
		onnx__fail(d, off, "attribute '%s': type TENSOR without a tensor", a->name);
		goto out;
	}
	if (!a->s)
		a->s = "";
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

/* ---- NodeProto ---- */

static int check_count(onnx__dec *d, size_t at, size_t n, const char *what)
{
	if (n > (size_t)1 << 24)
		return onnx__fail(d, at, "%s: %zu entries is too many", what, n);
	return 0;
}

static int decode_node(onnx__dec *d, size_t off, size_t len, onnx_node *n)
{
	size_t counts[ONNX_MAX_FIELD], pos = off, end = off + len;
	void *p;
	onnx__field f;
	int rc = -1, ni = 0, no = 0, na = 0;

	if (onnx__enter(d, off, "NodeProto") || onnx__count_fields(d, off, end, NULL, counts))
		goto out;
	if (check_count(d, off, counts[1], "NodeProto.input") ||
	    check_count(d, off, counts[2], "NodeProto.output") ||
	    check_count(d, off, counts[5], "NodeProto.attribute"))
		goto out;
	if (!onnx__alloc_array(d, off, counts[1], sizeof(char *), &p))
		goto out;
	n->in = p;
	if (!onnx__alloc_array(d, off, counts[2], sizeof(char *), &p))
		goto out;
	n->out = p;
	if (!onnx__alloc_array(d, off, counts[5], sizeof(onnx_attr), &p))
		goto out;
	n->attr = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		switch (f.num) {
		case 1:
			if (onnx__dup_bytes(d, &f, &n->in[ni++], "NodeProto.input"))
				goto out;
			break;
		case 2:
			if (onnx__dup_bytes(d, &f, &n->out[no++], "NodeProto.output"))
				goto out;
			break;
		case 3:
			if (onnx__dup_bytes(d, &f, &n->name, "NodeProto.name"))
				goto out;
			break;
		case 4:
			if (onnx__dup_bytes(d, &f, &n->op_type, "NodeProto.op_type"))
				goto out;
			break;
		case 7:
			if (onnx__dup_bytes(d, &f, &n->domain, "NodeProto.domain"))
				goto out;
			break;
		case 5:
			if (onnx__want(d, &f, WT_LEN, "NodeProto.attribute") ||
			    decode_attr(d, f.off, f.len, &n->attr[na++]))
				goto out;
			break;
		default:
			break;
		}
	}
	n->n_in = ni, n->n_out = no, n->n_attr = na;
	if (!n->name)
		n->name = "";
	if (!n->domain)
		n->domain = "";
	if (!n->op_type || !n->op_type[0]) {
		onnx__fail(d, off, "node '%s' has no op_type", n->name);
		goto out;
	}
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

/* ---- ValueInfoProto / TypeProto / TensorShapeProto ---- */

static int decode_dim(onnx__dec *d, size_t off, size_t len, int64_t *dim, char **param)
{
	size_t pos = off, end = off + len;
	onnx__field f;

	*dim = -1;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			return -1;
		if (f.num == 1) {
			if (onnx__want(d, &f, WT_VARINT, "Dimension.dim_value"))
				return -1;
			if ((int64_t)f.u < -1)
				return onnx__fail(d, f.at, "negative dimension %lld",
				                  (long long)f.u);
			*dim = (int64_t)f.u;
		} else if (f.num == 2) {
			if (onnx__dup_bytes(d, &f, param, "Dimension.dim_param"))
				return -1;
		}
	}
	return 0;
}

static int decode_shape(onnx__dec *d, size_t off, size_t len, onnx_value_info *vi)
{
	size_t counts[ONNX_MAX_FIELD], pos = off, end = off + len;
	void *p;
	onnx__field f;
	int k = 0, rc = -1;

	if (onnx__enter(d, off, "TensorShapeProto") ||
	    onnx__count_fields(d, off, end, NULL, counts))
		goto out;
	if (counts[1] > 64) {
		onnx__fail(d, off, "shape with %zu dims", counts[1]);
		goto out;
	}
	if (!onnx__alloc_array(d, off, counts[1], 8, &p))
		goto out;
	vi->dims = p;
	if (!onnx__alloc_array(d, off, counts[1], sizeof(char *), &p))
		goto out;
	vi->dim_param = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		if (f.num != 1)
			continue;
		if (onnx__want(d, &f, WT_LEN, "TensorShapeProto.dim") ||
		    decode_dim(d, f.off, f.len, &vi->dims[k], &vi->dim_param[k]))
			goto out;
		k++;
	}
	vi->ndim = k;
	vi->has_shape = 1;
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

/* A TypeProto: fills vi for a tensor type; other kinds (sequence, map,
 * optional, sparse) are walked to validate them (vi NULL below the top). */
static int decode_type(onnx__dec *d, size_t off, size_t len, onnx_value_info *vi)
{
	size_t pos = off, end = off + len, ip, iend;
	onnx__field f, g;
	int rc = -1;

	if (onnx__enter(d, off, "TypeProto"))
		goto out;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		if (f.num != 1 && f.num != 4 && f.num != 5 && f.num != 8 && f.num != 9)
			continue;
		if (onnx__want(d, &f, WT_LEN, "TypeProto value"))
			goto out;
		ip = f.off, iend = f.off + f.len;
		while (ip < iend) {
			if (onnx__next_field(d, &ip, iend, &g))
				goto out;
			if (f.num == 1 && vi && g.num == 1) {
				if (onnx__want(d, &g, WT_VARINT, "TypeProto.Tensor.elem_type"))
					goto out;
				vi->elem_type = (int)(g.u > 255 ? 255 : g.u);
				vi->is_tensor = 1;
			} else if (f.num == 1 && vi && g.num == 2) {
				if (onnx__want(d, &g, WT_LEN, "TypeProto.Tensor.shape") ||
				    decode_shape(d, g.off, g.len, vi))
					goto out;
			} else if ((f.num == 4 || f.num == 9) && g.num == 1) {
				if (onnx__want(d, &g, WT_LEN, "TypeProto element type") ||
				    decode_type(d, g.off, g.len, NULL))
					goto out;
			} else if (f.num == 5 && g.num == 2) {
				if (onnx__want(d, &g, WT_LEN, "TypeProto.Map.value_type") ||
				    decode_type(d, g.off, g.len, NULL))
					goto out;
			}
		}
	}
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

static int decode_value_info(onnx__dec *d, size_t off, size_t len, onnx_value_info *vi)
{
	size_t pos = off, end = off + len;
	onnx__field f;
	int rc = -1;

	if (onnx__enter(d, off, "ValueInfoProto"))
		goto out;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		if (f.num == 1) {
			if (onnx__dup_bytes(d, &f, &vi->name, "ValueInfoProto.name"))
				goto out;
		} else if (f.num == 2) {
			if (onnx__want(d, &f, WT_LEN, "ValueInfoProto.type") ||
			    decode_type(d, f.off, f.len, vi))
				goto out;
		}
	}
	if (!vi->name)
		vi->name = "";
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

/* ---- GraphProto / ModelProto ---- */

static int decode_graph(onnx__dec *d, size_t off, size_t len, onnx_graph *g)
{
	size_t counts[ONNX_MAX_FIELD], pos = off, end = off + len;
	void *p;
	onnx__field f;
	int rc = -1, nn = 0, nt = 0, ni = 0, no = 0, nv = 0;

	if (onnx__enter(d, off, "GraphProto") || onnx__count_fields(d, off, end, NULL, counts))
		goto out;
	if (check_count(d, off, counts[1], "GraphProto.node") ||
	    check_count(d, off, counts[5], "GraphProto.initializer") ||
	    check_count(d, off, counts[11], "GraphProto.input") ||
	    check_count(d, off, counts[12], "GraphProto.output") ||
	    check_count(d, off, counts[13], "GraphProto.value_info"))
		goto out;
	if (counts[15]) {
		onnx__fail(d, off, "sparse initializers are not supported");
		goto out;
	}
	if (!onnx__alloc_array(d, off, counts[1], sizeof(onnx_node), &p))
		goto out;
	g->nodes = p;
	if (!onnx__alloc_array(d, off, counts[5], sizeof(onnx_tensor), &p))
		goto out;
	g->inits = p;
	if (!onnx__alloc_array(d, off, counts[11], sizeof(onnx_value_info), &p))
		goto out;
	g->inputs = p;
	if (!onnx__alloc_array(d, off, counts[12], sizeof(onnx_value_info), &p))
		goto out;
	g->outputs = p;
	if (!onnx__alloc_array(d, off, counts[13], sizeof(onnx_value_info), &p))
		goto out;
	g->value_info = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			goto out;
		switch (f.num) {
		case 1:
			if (onnx__want(d, &f, WT_LEN, "GraphProto.node") ||
			    decode_node(d, f.off, f.len, &g->nodes[nn++]))
				goto out;
			break;
		case 2:
			if (onnx__dup_bytes(d, &f, &g->name, "GraphProto.name"))
				goto out;
			break;
		case 5:
			if (onnx__want(d, &f, WT_LEN, "GraphProto.initializer") ||
			    decode_tensor(d, f.off, f.len, &g->inits[nt++]))
				goto out;
			break;
		case 11:
			if (onnx__want(d, &f, WT_LEN, "GraphProto.input") ||
			    decode_value_info(d, f.off, f.len, &g->inputs[ni++]))
				goto out;
			break;
		case 12:
			if (onnx__want(d, &f, WT_LEN, "GraphProto.output") ||
			    decode_value_info(d, f.off, f.len, &g->outputs[no++]))
				goto out;
			break;
		case 13:
			if (onnx__want(d, &f, WT_LEN, "GraphProto.value_info") ||
			    decode_value_info(d, f.off, f.len, &g->value_info[nv++]))
				goto out;
			break;
		default:
			break;
		}
	}
	g->n_nodes = nn, g->n_inits = nt, g->n_inputs = ni, g->n_outputs = no;
	g->n_value_info = nv;
	if (!g->name)
		g->name = "";
	rc = 0;
out:
	onnx__leave(d);
	return rc;
}

static int decode_opset(onnx__dec *d, size_t off, size_t len, onnx_opset *o)
{
	size_t pos = off, end = off + len;
	onnx__field f;

	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			return -1;
		if (f.num == 1) {
			if (onnx__dup_bytes(d, &f, &o->domain, "OperatorSetIdProto.domain"))
				return -1;
		} else if (f.num == 2) {
			if (onnx__want(d, &f, WT_VARINT, "OperatorSetIdProto.version"))
				return -1;
			o->version = (int64_t)f.u;
		}
	}
	if (!o->domain)
		o->domain = "";
	return 0;
}

static int decode_model(onnx__dec *d, onnx_model *m)
{
	size_t counts[ONNX_MAX_FIELD], pos = 0, end = d->len;
	void *p;
	onnx__field f;
	int k = 0;

	if (onnx__count_fields(d, 0, end, NULL, counts))
		return -1;
	if (counts[7] != 1)
		return onnx__fail(d, 0,
		                  counts[7] ? "more than one graph"
		                            : "no graph (not an ONNX "
		                              "model?)");
	if (check_count(d, 0, counts[8], "ModelProto.opset_import"))
		return -1;
	if (!onnx__alloc_array(d, 0, counts[8], sizeof(onnx_opset), &p))
		return -1;
	m->opsets = p;
	while (pos < end) {
		if (onnx__next_field(d, &pos, end, &f))
			return -1;
		switch (f.num) {
		case 1:
			if (onnx__want(d, &f, WT_VARINT, "ModelProto.ir_version"))
				return -1;
			m->ir_version = (int64_t)f.u;
			break;
		case 2:
			if (onnx__dup_bytes(d, &f, &m->producer_name, "ModelProto.producer_name"))
				return -1;
			break;
		case 7:
			if (onnx__want(d, &f, WT_LEN, "ModelProto.graph") ||
			    decode_graph(d, f.off, f.len, &m->graph))
				return -1;
			break;
		case 8:
			if (onnx__want(d, &f, WT_LEN, "ModelProto.opset_import") ||
			    decode_opset(d, f.off, f.len, &m->opsets[k++]))
				return -1;
			break;
		default:
			break;
		}
	}
	m->n_opsets = k;
	if (!m->producer_name)
		m->producer_name = "";
	return 0;
}

onnx_model *onnx_model_decode(const void *buf, size_t len, char *err, size_t errlen)
{
	onnx__dec d = {.buf = buf, .len = len, .err = err, .errlen = errlen};
	onnx_arena *arena;
	onnx_model *m;

	if (err && errlen)
		err[0] = '\0';
	if (!buf && len) {
		onnx__fail(&d, 0, "no buffer");
		return NULL;
	}
	arena = onnx__arena_new(len > (SIZE_MAX - ONNX_BASE_BYTES) / ONNX_EXPANSION
	                            ? SIZE_MAX
	                            : len * ONNX_EXPANSION + ONNX_BASE_BYTES);
	if (!arena) {
		onnx__nomem(&d, 0);
		return NULL;
	}
	d.arena = arena;
	m = onnx__arena_alloc(arena, sizeof(*m));
	if (!m) {
		onnx__nomem(&d, 0);
		goto fail_arena;
	}
	m->arena = arena;
	if (decode_model(&d, m))
		goto fail_arena;
	return m;
fail_arena:
	onnx__arena_free(arena);
	return NULL;
}

onnx_model *onnx_model_load(const char *path, char *err, size_t errlen)
{
	onnx_model *m = NULL;
	unsigned char *buf = NULL;
	long size;
	FILE *fp;

	fp = fopen(path, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot determine the size: %s", path, strerror(errno));
		goto close_file;
	}
	if ((unsigned long)size > ONNX_MAX_FILE) {
		snprintf(err, errlen, "%s: %ld bytes is too large", path, size);
		goto close_file;
	}
	buf = malloc(size ? (size_t)size : 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory for %ld bytes", path, size);
		goto close_file;
	}
	if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
		snprintf(err, errlen, "%s: read error", path);
		goto free_buf;
	}
	m = onnx_model_decode(buf, (size_t)size, err, errlen);
free_buf:
	free(buf);
close_file:
	fclose(fp);
	return m;
}

void onnx_model_free(onnx_model *m)
{
	if (m)
		onnx__arena_free(m->arena);
}

const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name)
{
	int i;

	for (i = 0; i < n->n_attr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t onnx_model_opset(const onnx_model *m)
{
	int i;

	for (i = 0; i < m->n_opsets; i++)
		if (!m->opsets[i].domain[0] || strcmp(m->opsets[i].domain, "ai.onnx") == 0)
			return m->opsets[i].version;
	return -1;
}
