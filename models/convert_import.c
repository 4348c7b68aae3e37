/* ONNX model -> graph IR: constants from initializers and Constant nodes,
 * graph inputs with a symbolic batch dimension, nodes with their attributes
 * in the runtime's attribute kinds. */
#include "convert_int.h"
#include "onnx.h"

#include <stdlib.h>
#include <string.h>

#define OPSET_MIN 11
#define OPSET_MAX 17

/* Value type of the runtime for an ONNX data type, or -1. */
static int value_type(int onnx_type)
{
	switch (onnx_type) {
	case ONNX_FLOAT:
	case ONNX_DOUBLE:
	case ONNX_FLOAT16:
	case ONNX_BFLOAT16:
		return MRT_TYPE_F32;
	case ONNX_INT64:
	case ONNX_UINT32:
	case ONNX_UINT64:
		return MRT_TYPE_I64;
	case ONNX_INT32:
	case ONNX_INT16:
	case ONNX_INT8:
	case ONNX_UINT16:
	case ONNX_UINT8:
	case ONNX_BOOL:
		return MRT_TYPE_I32;
	default:
		return -1;
	}
}

/* Element i of t converted to double (integers exactly up to 2^53) or
 * int64 (integers). */
static double elem_f(const onnx_tensor *t, int64_t i)
{
	const void *d = t->data;

	switch (t->data_type) {
	case ONNX_FLOAT:
		return ((const float *)d)[i];
	case ONNX_DOUBLE:
		return ((const double *)d)[i];
	case ONNX_FLOAT16:
		return mrt_f16_to_f32(((const uint16_t *)d)[i]);
	case ONNX_BFLOAT16:
		return mrt_bf16_to_f32(((const uint16_t *)d)[i]);
	default:
		return 0;
	}
}

static int64_t elem_i(const onnx_tensor *t, int64_t i)
{
	const void *d = t->data;

	switch (t->data_type) {
	case ONNX_INT64:
		return ((const int64_t *)d)[i];
	case ONNX_UINT64:
		return (int64_t)((const uint64_t *)d)[i];
	case ONNX_UINT32:
		return ((const uint32_t *)d)[i];
	case ONNX_INT32:
		return ((const int32_t *)d)[i];
	case ONNX_INT16:
		return ((const int16_t *)d)[i];
	case ONNX_INT8:
		return ((const int8_t *)d)[i];
	case ONNX_UINT16:
		return ((const uint16_t *)d)[i];
	case ONNX_UINT8:
	case ONNX_BOOL:
		return ((const uint8_t *)d)[i];
	default:
		return 0;
	}
}

/* Add an ONNX tensor as constant `name`. */
static int add_tensor(cv_graph *cv, const char *name, const onnx_tensor *t)
{
	int type = value_type(t->data_type);
	size_t es, nbytes;
	void *data;
	int64_t i;

	if (type < 0)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED,
		                "constant '%s': data type %s is not supported", name,
		                onnx_dtype_name(t->data_type));
	if (t->ndim > MRT_MAX_DIMS)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "constant '%s': %d dims (at most %d)",
		                name, t->ndim, MRT_MAX_DIMS);
	es = type == MRT_TYPE_I64 ? 8 : 4;
	if ((uint64_t)t->numel > SIZE_MAX / es)
		return cv__fail(cv, MRT_ERR_NOMEM, "constant '%s' is too large", name);
	nbytes = (size_t)t->numel * es;
	data = malloc(nbytes ? nbytes : 1);
	if (!data)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory for constant '%s'", name);
	for (i = 0; i < t->numel; i++) {
		if (type == MRT_TYPE_F32)
			((float *)data)[i] = (float)elem_f(t, i);
		else if (type == MRT_TYPE_I64)
			((int64_t *)data)[i] = elem_i(t, i);
		else
			((int32_t *)data)[i] = (int32_t)elem_i(t, i);
	}
	if (cv__add_const(cv, name, type, t->ndim, t->dims, data, nbytes))
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	return 0;
}

/* A Constant node becomes a constant named by its output. */
static int import_constant(cv_graph *cv, const onnx_node *n)
{
	const onnx_attr *a = n->n_attr == 1 ? &n->attr[0] : NULL;
	onnx_tensor t = {0};
	int64_t dim;

	if (n->n_out != 1 || !a)
		return cv__fail(cv, MRT_ERR_FORMAT,
		                "Constant node '%s' needs one output and one "
		                "value attribute",
		                n->name);
	if (strcmp(a->name, "value") == 0 && a->type == ONNX_ATTR_TENSOR)
		return add_tensor(cv, n->out[0], a->t);
	if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_floats") == 0) {
		t.data_type = ONNX_FLOAT;
		t.data = a->name[11] ? (void *)a->floats : (void *)&a->f;
		t.numel = a->name[11] ? (int64_t)a->n_floats : 1;
	} else if (strcmp(a->name, "value_int") == 0 || strcmp(a->name, "value_ints") == 0) {
		t.data_type = ONNX_INT64;
		t.data = a->name[9] ? (void *)a->ints : (void *)&a->i;
		t.numel = a->name[9] ? (int64_t)a->n_ints : 1;
	} else {
		return cv__fail(cv, MRT_ERR_UNSUPPORTED,
		                "Constant node '%s': attribute '%s' is "
		                "not supported",
		                n->name, a->name);
	}
	dim = t.numel;
	t.ndim = a->name[strlen(a->name) - 1] == 's'; /* value_floats, value_ints */
	t.dims = &dim;
	return add_tensor(cv, n->out[0], &t);
}

static char *join_strings(char *const *v, size_t n)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	return s;
}

/* ONNX attribute -> runtime attribute. A tensor attribute (ConstantOfShape
 * value) becomes an INT/FLOAT (one element) or INTS/FLOATS; a string list
 * becomes one comma-separated STRING. */
static int import_attr(cv_graph *cv, const onnx_node *n, const onnx_attr *a, mrt__attr *out)
{
	int64_t i, cnt;

	out->name = strdup(a->name);
	if (!out->name)
		return MRT_ERR_NOMEM;
	switch (a->type) {
	case ONNX_ATTR_INT:
		out->kind = MRT__ATTR_INT, out->i = a->i;
		return 0;
	case ONNX_ATTR_FLOAT:
		out->kind = MRT__ATTR_FLOAT, out->f = a->f;
		return 0;
	case ONNX_ATTR_STRING:
		out->kind = MRT__ATTR_STRING, out->s = strdup(a->s);
		return out->s ? 0 : MRT_ERR_NOMEM;
	case ONNX_ATTR_STRINGS:
		out->kind = MRT__ATTR_STRING, out->s = join_strings(a->strings, a->n_strings);
		return out->s ? 0 : MRT_ERR_NOMEM;
	case ONNX_ATTR_INTS:
		cnt = (int64_t)a->n_ints;
		out->kind = MRT__ATTR_INTS, out->n = cnt;
		out->ints = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
		if (!out->ints)
			return MRT_ERR_NOMEM;
		if (cnt)
			memcpy(out->ints, a->ints, sizeof(int64_t) * (size_t)cnt);
		return 0;
	case ONNX_ATTR_FLOATS:
		cnt = (int64_t)a->n_floats;
		out->kind = MRT__ATTR_FLOATS, out->n = cnt;
		out->floats = malloc(sizeof(float) * (size_t)(cnt ? cnt : 1));
		if (!out->floats)
			return MRT_ERR_NOMEM;
		if (cnt)
			memcpy(out->floats, a->floats, sizeof(float) * (size_t)cnt);
		return 0;
	case ONNX_ATTR_TENSOR:
		break;
	default:
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "node '%s': attribute '%s' of type %d",
		                n->name, a->name, a->type);
	}
	if (value_type(a->t->data_type) < 0 || a->t->numel > (1 << 20))
		return cv__fail(cv, MRT_ERR_UNSUPPORTED,
		                "node '%s': tensor attribute '%s' "
		                "(%s) is not supported",
		                n->name, a->name, onnx_dtype_name(a->t->data_type));
	cnt = a->t->numel;
	if (value_type(a->t->data_type) == MRT_TYPE_F32) {
		out->kind = cnt == 1 ? MRT__ATTR_FLOAT : MRT__ATTR_FLOATS;
		out->floats = malloc(sizeof(float) * (size_t)(cnt ? cnt : 1));
		if (!out->floats)
			return MRT_ERR_NOMEM;
		for (i = 0; i < cnt; i++)
			out->floats[i] = (float)elem_f(a->t, i);
		out->f = cnt ? out->floats[0] : 0;
	} else {
		out->kind = cnt == 1 ? MRT__ATTR_INT : MRT__ATTR_INTS;
		out->ints = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
		if (!out->ints)
			return MRT_ERR_NOMEM;
		for (i = 0; i < cnt; i++)
			out->ints[i] = elem_i(a->t, i);
		out->i = cnt ? out->ints[0] : 0;
	}
	out->n = cnt;
	return 0;
}

static int dup_names(char ***dst, char *const *src, int n)
{
	int i;

	*dst = calloc((size_t)(n ? n : 1), sizeof(char *));
	if (!*dst)
		return MRT_ERR_NOMEM;
	for (i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return MRT_ERR_NOMEM;
	return 0;
}

static int import_node(cv_graph *cv, const onnx_node *n)
{
	mrt__graph *g = cv->g;
	mrt__node *dst;
	int i, rc;

	if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED,
		                "node '%s' (%s) is in domain '%s': only "
		                "the default ONNX domain is supported",
		                n->name, n->op_type, n->domain);
	if (strcmp(n->op_type, "Constant") == 0)
		return import_constant(cv, n);
	if (n->n_in > 64 || n->n_out > 16)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "node '%s': too many inputs/outputs",
		                n->name);
	if (g->n_nodes >= cv->cap_nodes) {
		int nc = cv->cap_nodes ? cv->cap_nodes * 2 : 64;
		mrt__node *p = realloc(g->nodes, sizeof(*p) * (size_t)nc);

		if (!p)
			return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
		g->nodes = p;
		cv->cap_nodes = nc;
	}
	dst = &g->nodes[g->n_nodes++];
	memset(dst, 0, sizeof(*dst));
	dst->op = strdup(n->op_type);
	dst->name = strdup(n->name);
	dst->attr = calloc((size_t)(n->n_attr ? n->n_attr : 1), sizeof(mrt__attr));
	if (!dst->op || !dst->name || !dst->attr)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	dst->n_in = n->n_in, dst->n_out = n->n_out;
	if (dup_names(&dst->in, n->in, n->n_in) || dup_names(&dst->out, n->out, n->n_out))
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < n->n_attr; i++) {
		dst->n_attr = i + 1;
		rc = import_attr(cv, n, &n->attr[i], &dst->attr[i]);
		if (rc == MRT_ERR_NOMEM)
			return cv__fail(cv, rc, "out of memory");
		if (rc)
			return rc;
	}
	return 0;
}

static int is_init(const onnx_graph *og, const char *name)
{
	int i;

	for (i = 0; i < og->n_inits; i++)
		if (strcmp(og->inits[i].name, name) == 0)
			return 1;
	return 0;
}

/* Graph inputs that are not initializers; the first dim is the batch. */
static int import_inputs(cv_graph *cv, const onnx_graph *og)
{
	mrt__graph *g = cv->g;
	int i, k, type;

	g->inputs = calloc((size_t)(og->n_inputs ? og->n_inputs : 1), sizeof(*g->inputs));
	if (!g->inputs)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < og->n_inputs; i++) {
		const onnx_value_info *vi = &og->inputs[i];
		mrt__value_info *dst;

		if (is_init(og, vi->name))
			continue;
		type = value_type(vi->elem_type);
		if (!vi->is_tensor ||
		    (type < 0 || (vi->elem_type != ONNX_FLOAT && vi->elem_type != ONNX_INT64 &&
		                  vi->elem_type != ONNX_INT32)))
			return cv__fail(cv, MRT_ERR_UNSUPPORTED,
			                "input '%s': type %s is not "
			                "supported (float, int64 or int32 tensors)",
			                vi->name,
			                vi->is_tensor ? onnx_dtype_name(vi->elem_type)
			                              : "non-tensor");
		if (!vi->has_shape || vi->ndim > MRT_MAX_DIMS)
			return cv__fail(cv, MRT_ERR_UNSUPPORTED, "input '%s': %s", vi->name,
			                vi->has_shape ? "too many dims" : "no shape in the file");
		dst = &g->inputs[g->n_inputs++];
		dst->name = strdup(vi->name);
		if (!dst->name)
			return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
		dst->type = type;
		dst->ndim = vi->ndim;
		for (k = 0; k < vi->ndim; k++)
			dst->dims[k] = k == 0 ? -1 : vi->dims[k];
	}
	if (g->n_inputs == 0)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "the model has no inputs");
	return 0;
}

int cv__import(cv_graph *cv, const onnx_model *m)
{
	const onnx_graph *og = &m->graph;
	mrt__graph *g = cv->g;
	int64_t opset = onnx_model_opset(m);
	int i, rc;

	if (opset < OPSET_MIN || opset > OPSET_MAX)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "ONNX opset %lld is not supported (%d-%d)",
		                (long long)opset, OPSET_MIN, OPSET_MAX);
	g->opset = opset;
	for (i = 0; i < og->n_inits; i++)
		if ((rc = add_tensor(cv, og->inits[i].name, &og->inits[i])))
			return rc;
	if ((rc = import_inputs(cv, og)))
		return rc;
	g->outputs = calloc((size_t)(og->n_outputs ? og->n_outputs : 1), sizeof(*g->outputs));
	if (!g->outputs)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < og->n_outputs; i++) {
		g->outputs[i].name = strdup(og->outputs[i].name);
		if (!g->outputs[i].name)
			return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
		g->n_outputs++;
	}
	if (g->n_outputs == 0)
		return cv__fail(cv, MRT_ERR_UNSUPPORTED, "the model has no outputs");
	for (i = 0; i < og->n_nodes; i++)
		if ((rc = import_node(cv, &og->nodes[i])))
			return rc;
	return 0;
}
