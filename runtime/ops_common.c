/* Operator lookup over all op tables, the helpers op files share, and the
 * per-node entry points used by the converter and the executor: shape
 * inference (mrt__node_infer) and constant evaluation (mrt__node_eval). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static const mrt__op_def *const op_tables[] = {
    mrt__ops_elementwise, mrt__ops_shape, mrt__ops_linear,
    mrt__ops_nn,          mrt__ops_rnn,   mrt__ops_reduce,
    mrt__ops_retrieve,
};

const mrt__op_def *mrt__op_find(const char *op)
{
	size_t t;
	const mrt__op_def *d;

	if (op == NULL)
		return NULL;
	for (t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++)
		for (d = op_tables[t]; d->name != NULL; d++)
			if (strcmp(d->name, op) == 0)
				return d;
	return NULL;
}

int mrt__op_supported(const char *op)
{
	const mrt__op_def *d = mrt__op_find(op);
	return d != NULL && d->infer != NULL && d->run != NULL;
}

int64_t mrt__numel(const int64_t *dims, int ndim)
{
	int64_t n = 1;
	int i;

	for (i = 0; i < ndim; i++) {
		if (dims[i] < 0)
			return -1;
		if (dims[i] != 0 && n > INT64_MAX / dims[i])
			return -1;
		n *= dims[i];
	}
	return n;
}

/* Returns 0 and *out = the INT attribute (or def when absent); -1 when the
 * attribute exists with another kind. */
int mrt__attr_int(const mrt__node *n, const char *name, int64_t def, int64_t *out)
{
	const mrt__attr *a = mrt__node_attr(n, name);

	*out = def;
	if (a == NULL)
		return 0;
	if (a->kind != MRT__ATTR_INT)
		return -1;
	*out = a->i;
	return 0;
}

/* The FLOAT attribute (an INT one is converted), or def. */
float mrt__attr_float(const mrt__node *n, const char *name, float def)
{
	const mrt__attr *a = mrt__node_attr(n, name);

	if (a == NULL)
		return def;
	if (a->kind == MRT__ATTR_FLOAT)
		return a->f;
	if (a->kind == MRT__ATTR_INT)
		return (float)a->i;
	return def;
}

int mrt__op_fail(const mrt__node *n, int status, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int k = 0;

	if (err == NULL || errlen == 0)
		return status;
	k = snprintf(err, errlen, "node '%s' (%s): ", n && n->name ? n->name : "",
	             n && n->op ? n->op : "?");
	if (k < 0)
		k = 0;
	if ((size_t)k < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
		va_end(ap);
	}
	return status;
}

int mrt__node_infer(const mrt__node *node, const mrt__value_info *const *in,
                    const mrt__const *const *in_const, mrt__value_info *out, char *err,
                    size_t errlen)
{
	const mrt__op_def *d = mrt__op_find(node->op);
	int i, rc;

	if (d == NULL || d->infer == NULL)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "operator '%s' is not supported", node->op);
	for (i = 0; i < node->n_out; i++) {
		out[i].type = MRT_TYPE_F32;
		out[i].ndim = 0;
	}
	rc = d->infer(node, in, in_const, out, err, errlen);
	if (rc != 0)
		return rc;
	for (i = 0; i < node->n_out; i++) {
		if (out[i].ndim < 0 || out[i].ndim > MRT_MAX_DIMS)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "output %d has rank %d (at most %d)", i, out[i].ndim,
			                    MRT_MAX_DIMS);
	}
	return 0;
}

/* Element size of a dense run type (F32, I64, I32), or 0. */
static size_t dense_size(int type)
{
	switch (type) {
	case MRT_TYPE_F32:
	case MRT_TYPE_I32:
		return 4;
	case MRT_TYPE_I64:
		return 8;
	default:
		return 0;
	}
}

/* Turn constant c into a dense tensor view; half/quantized data is expanded
 * into *owned (new, caller frees). */
static int const_to_tensor(const mrt__const *c, mrt__tensor *t, void **owned)
{
	int64_t n = mrt__numel(c->dims, c->ndim);

	*owned = NULL;
	t->type = c->type;
	t->ndim = c->ndim;
	memcpy(t->dims, c->dims, sizeof(t->dims));
	t->data = c->data;
	if (dense_size(c->type) != 0)
		return 0;
	if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
		return MRT_ERR_NOMEM;
	*owned = malloc(n ? (size_t)n * sizeof(float) : 1);
	if (*owned == NULL)
		return MRT_ERR_NOMEM;
	if (mrt_dequantize(c->type, c->data, *owned, (size_t)n) != 0)
		return MRT_ERR_UNSUPPORTED;
	t->type = MRT_TYPE_F32;
	t->data = *owned;
	return 0;
}

#define EVAL_MAX_IO 16

/* Evaluate one node over constants; see graph.h. */
int mrt__node_eval(const mrt__node *node, const mrt__const *const *in, mrt__const *out, char *err,
                   size_t errlen)
{
	const mrt__op_def *d = mrt__op_find(node->op);
	mrt__value_info vi[EVAL_MAX_IO], vo[EVAL_MAX_IO];
	const mrt__value_info *pvi[EVAL_MAX_IO];
	mrt__tensor ti[EVAL_MAX_IO], to[EVAL_MAX_IO];
	const mrt__tensor *pti[EVAL_MAX_IO];
	void *owned[EVAL_MAX_IO] = {0};
	mrt__op_ctx octx = {NULL, NULL, 0};
	int i, rc;

	if (d == NULL || d->run == NULL)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "operator '%s' is not supported", node->op);
	if (node->n_in > EVAL_MAX_IO || node->n_out > EVAL_MAX_IO)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "too many inputs or outputs to evaluate");
	for (i = 0; i < node->n_out; i++)
		memset(&out[i], 0, sizeof(out[i]));
	for (i = 0; i < node->n_in; i++) {
		pvi[i] = NULL;
		pti[i] = NULL;
		if (in[i] == NULL)
			continue;
		memset(&vi[i], 0, sizeof(vi[i]));
		vi[i].type = in[i]->type;
		vi[i].ndim = in[i]->ndim;
		memcpy(vi[i].dims, in[i]->dims, sizeof(vi[i].dims));
		pvi[i] = &vi[i];
		rc = const_to_tensor(in[i], &ti[i], &owned[i]);
		if (rc != 0) {
			mrt__op_fail(node, rc, err, errlen, "cannot read constant input %d", i);
			goto fail;
		}
		vi[i].type = ti[i].type;
		pti[i] = &ti[i];
	}
	rc = mrt__node_infer(node, pvi, in, vo, err, errlen);
	if (rc != 0)
		goto fail;
	for (i = 0; i < node->n_out; i++) {
		int64_t n = mrt__numel(vo[i].dims, vo[i].ndim);
		size_t es = dense_size(vo[i].type);

		if (n < 0 || es == 0 || (uint64_t)n > SIZE_MAX / es / 2) {
			rc = mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                  "output %d has no concrete shape", i);
			goto fail;
		}
		out[i].type = vo[i].type;
		out[i].ndim = vo[i].ndim;
		memcpy(out[i].dims, vo[i].dims, sizeof(out[i].dims));
		out[i].nbytes = (size_t)n * es;
		out[i].data = calloc(1, out[i].nbytes ? out[i].nbytes : 1);
		out[i].owned = 1;
		if (out[i].data == NULL) {
			rc = MRT_ERR_NOMEM;
			goto fail;
		}
		to[i].type = out[i].type;
		to[i].ndim = out[i].ndim;
		memcpy(to[i].dims, out[i].dims, sizeof(to[i].dims));
		to[i].data = out[i].data;
	}
	if (d->scratch != NULL)
		octx.scratch_size = d->scratch(node, pti, to);
	if (octx.scratch_size != 0) {
		octx.scratch = aligned_alloc(64, (octx.scratch_size + 63) / 64 * 64);
		if (octx.scratch == NULL) {
			rc = MRT_ERR_NOMEM;
			goto fail;
		}
	}
	rc = d->run(node, pti, to, &octx, err, errlen);
	free(octx.scratch);
	if (rc != 0)
		goto fail;
	for (i = 0; i < node->n_in; i++)
		free(owned[i]);
	return 0;
fail:
	for (i = 0; i < node->n_in; i++)
		free(owned[i]);
	for (i = 0; i < node->n_out; i++) {
		free(out[i].data);
		memset(&out[i], 0, sizeof(out[i]));
	}
	return rc;
}
