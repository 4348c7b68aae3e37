/* ONNX -> graph GGUF: import the decoded ONNX model into the runtime's graph
 * IR, infer shapes and fold constant subgraphs with the runtime's own
 * operator implementations, rewrite, quantize and write the file. */
#include "convert_int.h"
#include "onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

convert_options convert_default_options(void)
{
	convert_options o = {.quant = MRT_TYPE_F32, .fuse = 1};
	return o;
}

int cv__fail(cv_graph *cv, int status, const char *fmt, ...)
{
	va_list ap;

	if (cv->err && cv->errlen) {
		va_start(ap, fmt);
		vsnprintf(cv->err, cv->errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* ---- lookups and edits ---- */

mrt__const *cv__const(cv_graph *cv, const char *name)
{
	int i;

	for (i = 0; i < cv->g->n_consts; i++)
		if (strcmp(cv->g->consts[i].name, name) == 0)
			return &cv->g->consts[i];
	return NULL;
}

const mrt__value_info *cv__value(cv_graph *cv, const char *name)
{
	int i;

	for (i = 0; i < cv->g->n_inputs; i++)
		if (strcmp(cv->g->inputs[i].name, name) == 0)
			return &cv->g->inputs[i];
	for (i = cv->n_vals - 1; i >= 0; i--)
		if (strcmp(cv->vals[i].name, name) == 0)
			return &cv->vals[i];
	return NULL;
}

int cv__is_output(const cv_graph *cv, const char *name)
{
	int i;

	for (i = 0; i < cv->g->n_outputs; i++)
		if (strcmp(cv->g->outputs[i].name, name) == 0)
			return 1;
	return 0;
}

int cv__consumers(const cv_graph *cv, const char *name)
{
	int i, j, n = 0;

	for (i = 0; i < cv->g->n_nodes; i++)
		for (j = 0; j < cv->g->nodes[i].n_in; j++)
			n += strcmp(cv->g->nodes[i].in[j], name) == 0;
	return n;
}

int cv__producer(const cv_graph *cv, const char *name)
{
	int i, j;

	for (i = 0; i < cv->g->n_nodes; i++)
		for (j = 0; j < cv->g->nodes[i].n_out; j++)
			if (strcmp(cv->g->nodes[i].out[j], name) == 0)
				return i;
	return -1;
}

/* Grow *arr (of *cap elements of size sz) to hold n + 1. */
static int grow(void **arr, int *cap, int n, size_t sz)
{
	void *p;
	int nc;

	if (n < *cap)
		return 0;
	if (*cap > (1 << 28))
		return MRT_ERR_NOMEM;
	nc = *cap ? *cap * 2 : 16;
	p = realloc(*arr, (size_t)nc * sz);
	if (!p)
		return MRT_ERR_NOMEM;
	memset((char *)p + (size_t)*cap * sz, 0, (size_t)(nc - *cap) * sz);
	*arr = p;
	*cap = nc;
	return 0;
}

int cv__add_const(cv_graph *cv, const char *name, int type, int ndim, const int64_t *dims,
                  void *data, size_t nbytes)
{
	mrt__const *c;

	if (grow((void **)&cv->g->consts, &cv->cap_consts, cv->g->n_consts, sizeof(*c))) {
		free(data);
		return MRT_ERR_NOMEM;
	}
	c = &cv->g->consts[cv->g->n_consts];
	memset(c, 0, sizeof(*c));
	c->name = strdup(name);
	if (!c->name) {
		free(data);
		return MRT_ERR_NOMEM;
	}
	c->type = type;
	c->ndim = ndim;
	if (ndim)
		memcpy(c->dims, dims, sizeof(int64_t) * (size_t)ndim);
	c->data = data;
	c->nbytes = nbytes;
	c->owned = 1;
	cv->g->n_consts++;
	return 0;
}

void cv__remove_node(cv_graph *cv, int i)
{
	mrt__graph *g = cv->g;

	mrt__node_clear(&g->nodes[i]);
	memmove(&g->nodes[i], &g->nodes[i + 1], sizeof(*g->nodes) * (size_t)(g->n_nodes - i - 1));
	g->n_nodes--;
}

void cv__remove_const(cv_graph *cv, int i)
{
	mrt__graph *g = cv->g;

	free(g->consts[i].name);
	if (g->consts[i].owned)
		free(g->consts[i].data);
	memmove(&g->consts[i], &g->consts[i + 1],
	        sizeof(*g->consts) * (size_t)(g->n_consts - i - 1));
	g->n_consts--;
}

int cv__rename_uses(cv_graph *cv, const char *from, const char *to)
{
	int i, j;

	for (i = 0; i < cv->g->n_nodes; i++) {
		mrt__node *n = &cv->g->nodes[i];

		for (j = 0; j < n->n_in; j++) {
			char *s;

			if (strcmp(n->in[j], from) != 0)
				continue;
			s = strdup(to);
			if (!s)
				return MRT_ERR_NOMEM;
			free(n->in[j]);
			n->in[j] = s;
		}
	}
	return 0;
}

static mrt__attr *attr_slot(mrt__node *n, const char *name)
{
	mrt__attr *a;
	int i;

	for (i = 0; i < n->n_attr; i++)
		if (strcmp(n->attr[i].name, name) == 0) {
			a = &n->attr[i];
			free(a->s), free(a->ints), free(a->floats);
			a->s = NULL, a->ints = NULL, a->floats = NULL, a->n = 0;
			return a;
		}
	a = realloc(n->attr, sizeof(*a) * (size_t)(n->n_attr + 1));
	if (!a)
		return NULL;
	n->attr = a;
	a = &n->attr[n->n_attr];
	memset(a, 0, sizeof(*a));
	a->name = strdup(name);
	if (!a->name)
		return NULL;
	n->n_attr++;
	return a;
}

int cv__set_attr_int(mrt__node *n, const char *name, int64_t v)
{
	mrt__attr *a = attr_slot(n, name);

	if (!a)
		return MRT_ERR_NOMEM;
	a->kind = MRT__ATTR_INT;
	a->i = v;
	return 0;
}

int cv__set_attr_float(mrt__node *n, const char *name, float v)
{
	mrt__attr *a = attr_slot(n, name);

	if (!a)
		return MRT_ERR_NOMEM;
	a->kind = MRT__ATTR_FLOAT;
	a->f = v;
	return 0;
}

/* ---- shape inference and constant folding ---- */

static int add_value(cv_graph *cv, const char *name, const mrt__value_info *vi)
{
	mrt__value_info *v;

	if (grow((void **)&cv->vals, &cv->cap_vals, cv->n_vals, sizeof(*v)))
		return MRT_ERR_NOMEM;
	v = &cv->vals[cv->n_vals];
	*v = *vi;
	v->name = strdup(name);
	if (!v->name)
		return MRT_ERR_NOMEM;
	cv->n_vals++;
	return 0;
}

/* Fold node i (all inputs constant): its outputs become constants and the
 * node goes away. */
static int fold_node(cv_graph *cv, int i, const mrt__const *const *in_const)
{
	mrt__node *n = &cv->g->nodes[i];
	mrt__const out[16];
	char msg[256];
	int k, rc;

	rc = mrt__node_eval(n, in_const, out, msg, sizeof(msg));
	if (rc)
		return cv__fail(cv, rc, "folding constant node '%s' (%s): %s", n->name, n->op, msg);
	for (k = 0; k < n->n_out; k++) {
		rc = n->out[k][0] ? cv__add_const(cv, n->out[k], out[k].type, out[k].ndim,
		                                  out[k].dims, out[k].data, out[k].nbytes)
		                  : (free(out[k].data), 0);
		if (rc) {
			while (++k < n->n_out)
				free(out[k].data);
			return cv__fail(cv, rc, "out of memory");
		}
	}
	cv__remove_node(cv, i);
	return 0;
}

/* Infer every node in order; fold those whose inputs are all constants. */
static int infer_all(cv_graph *cv)
{
	const mrt__value_info *in[64];
	const mrt__const *in_const[64];
	mrt__value_info out[16], cvi[64];
	char msg[256];
	int i = 0, k, rc;

	while (i < cv->g->n_nodes) {
		mrt__node *n = &cv->g->nodes[i];
		int all_const = n->n_in > 0;

		if (!mrt__op_supported(n->op))
			return cv__fail(cv, MRT_ERR_UNSUPPORTED,
			                "unsupported operator '%s' (node '%s')", n->op, n->name);
		for (k = 0; k < n->n_in; k++) {
			in[k] = NULL, in_const[k] = NULL;
			if (!n->in[k][0])
				continue;
			in_const[k] = cv__const(cv, n->in[k]);
			if (in_const[k]) {
				memset(&cvi[k], 0, sizeof(cvi[k]));
				cvi[k].type = in_const[k]->type;
				cvi[k].ndim = in_const[k]->ndim;
				memcpy(cvi[k].dims, in_const[k]->dims, sizeof(cvi[k].dims));
				in[k] = &cvi[k];
				continue;
			}
			all_const = 0;
			in[k] = cv__value(cv, n->in[k]);
			if (!in[k])
				return cv__fail(cv, MRT_ERR_FORMAT,
				                "node '%s' (%s): input '%s' is not "
				                "produced by any earlier node",
				                n->name, n->op, n->in[k]);
		}
		if (all_const) {
			if ((rc = fold_node(cv, i, in_const)))
				return rc;
			continue;
		}
		memset(out, 0, sizeof(out));
		rc = mrt__node_infer(n, in, in_const, out, msg, sizeof(msg));
		if (rc)
			return cv__fail(cv, rc, "%s", msg);
		for (k = 0; k < n->n_out; k++)
			if (n->out[k][0] && add_value(cv, n->out[k], &out[k]))
				return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
		i++;
	}
	return 0;
}

/* Give the graph outputs their inferred types and shapes. */
static int fill_outputs(cv_graph *cv)
{
	int i;

	for (i = 0; i < cv->g->n_outputs; i++) {
		mrt__value_info *o = &cv->g->outputs[i];
		const mrt__value_info *v = cv__value(cv, o->name);

		if (!v)
			return cv__fail(cv, MRT_ERR_UNSUPPORTED, "output '%s' is %s", o->name,
			                cv__const(cv, o->name) ? "a constant (it does not depend "
			                                         "on any input)"
			                                       : "not produced by any node");
		o->type = v->type;
		o->ndim = v->ndim;
		memcpy(o->dims, v->dims, sizeof(o->dims));
	}
	return 0;
}

static int write_graph(const mrt__graph *g, const convert_options *o, const char *out_path,
                       char *err, size_t errlen)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	int rc;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return MRT_ERR_NOMEM;
	}
	rc = mrt__graph_write(g, w, err, errlen);
	if (rc == 0)
		rc = cv__write_input_keys(w, o, err, errlen);
	if (rc == 0)
		rc = mrt_gguf_writer_write(w, out_path, err, errlen);
	mrt_gguf_writer_free(w);
	return rc;
}

static void cv_free(cv_graph *cv)
{
	int i;

	for (i = 0; i < cv->n_vals; i++)
		free(cv->vals[i].name);
	free(cv->vals);
	mrt__graph_free(cv->g);
}

int convert_onnx_file(const char *in_path, const char *out_path, const convert_options *opt,
                      char *err, size_t errlen)
{
	convert_options o = opt ? *opt : convert_default_options();
	cv_graph cv = {.err = err, .errlen = errlen};
	onnx_model *m;
	int rc;

	if (o.quant != MRT_TYPE_F32 && o.quant != MRT_TYPE_F16 && o.quant != MRT_TYPE_Q8_0 &&
	    o.quant != MRT_TYPE_Q4_0) {
		snprintf(err, errlen, "weight type %d is not one of f32, f16, q8_0, q4_0", o.quant);
		return MRT_ERR_INVALID;
	}
	m = onnx_model_load(in_path, err, errlen);
	if (!m)
		return MRT_ERR_FORMAT;
	cv.g = calloc(1, sizeof(*cv.g));
	if (!cv.g) {
		rc = cv__fail(&cv, MRT_ERR_NOMEM, "out of memory");
		goto free_model;
	}
	rc = cv__import(&cv, m);
	if (rc == 0)
		rc = cv__drop_zero_states(&cv);
	if (rc == 0)
		rc = cv__check_retrieve_k(&cv);
	if (rc == 0)
		rc = infer_all(&cv);
	if (rc == 0)
		rc = fill_outputs(&cv);
	if (rc == 0)
		rc = cv__rewrite(&cv, o.fuse);
	if (rc == 0)
		rc = cv__fuse_retrieve(&cv, o.exclude_input);
	if (rc == 0)
		rc = cv__check_pads(&cv, &o);
	if (rc == 0)
		rc = cv__quantize(cv.g, o.quant, err, errlen);
	if (rc == 0)
		rc = write_graph(cv.g, &o, out_path, err, errlen);
	cv_free(&cv);
free_model:
	onnx_model_free(m);
	return rc;
}
