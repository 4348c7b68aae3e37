/* Graph rewrites after shape inference: BatchNormalization folded into the
 * Conv/Gemm before it, Relu into the Conv before it, the PyTorch LayerNorm
 * and erf-GELU decompositions fused, Identity/Dropout dropped, constant
 * MatMul/Gemm weights stored transposed ([N,K], transB=1), dead nodes and
 * unused constants removed.
 * A pattern is rewritten only when it matches exactly; the last node of a
 * pattern is rewritten in place and the rest are left to dead-code removal. */
#include "convert_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_USES 8

/* Up to MAX_USES (node, input slot) pairs reading name; returns the count
 * (which may exceed MAX_USES). */
static int uses(const cv_graph *cv, const char *name, int *node, int *slot)
{
	int i, j, n = 0;

	for (i = 0; i < cv->g->n_nodes; i++)
		for (j = 0; j < cv->g->nodes[i].n_in; j++)
			if (strcmp(cv->g->nodes[i].in[j], name) == 0) {
				if (n < MAX_USES)
					node[n] = i, slot[n] = j;
				n++;
			}
	return n;
}

/* The one node reading name (which is not a graph output), with op, or -1. */
static int sole_user(const cv_graph *cv, const char *name, const char *op)
{
	int node[MAX_USES], slot[MAX_USES];

	if (cv__is_output(cv, name) || uses(cv, name, node, slot) != 1)
		return -1;
	if (op && strcmp(cv->g->nodes[node[0]].op, op) != 0)
		return -1;
	return node[0];
}

static int is_op(const mrt__node *n, const char *op)
{
	return strcmp(n->op, op) == 0;
}

/* 1 when name is an F32 constant holding one value within 1e-6 of want. */
static int const_is(cv_graph *cv, const char *name, double want)
{
	const mrt__const *c = cv__const(cv, name);

	if (!c || c->type != MRT_TYPE_F32 || c->nbytes != sizeof(float))
		return 0;
	return fabs(((const float *)c->data)[0] - want) <= 1e-6;
}

/* For a binary node with one input equal to x, the other input; else NULL. */
static const char *other_input(const mrt__node *n, const char *x)
{
	if (n->n_in != 2)
		return NULL;
	if (strcmp(n->in[0], x) == 0)
		return n->in[1];
	if (strcmp(n->in[1], x) == 0)
		return n->in[0];
	return NULL;
}

/* Turn node n into op(in[0..n_in-1]) with no attributes, keeping its
 * outputs. */
static int reset_node(mrt__node *n, const char *op, int n_in, const char *const *in)
{
	char *nop = strdup(op), **nin = calloc((size_t)n_in, sizeof(char *));
	int i;

	if (!nop || !nin)
		goto fail;
	for (i = 0; i < n_in; i++)
		if (!(nin[i] = strdup(in[i])))
			goto fail;
	for (i = 0; i < n->n_attr; i++) {
		free(n->attr[i].name);
		free(n->attr[i].s);
		free(n->attr[i].ints);
		free(n->attr[i].floats);
	}
	n->n_attr = 0;
	for (i = 0; i < n->n_in; i++)
		free(n->in[i]);
	free(n->in);
	free(n->op);
	n->op = nop, n->in = nin, n->n_in = n_in;
	return 0;
fail:
	for (i = 0; nin && i < n_in; i++)
		free(nin[i]);
	free(nin);
	free(nop);
	return MRT_ERR_NOMEM;
}

/* ---- dead code ---- */

static int name_in(const char *const *set, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(set[i], name) == 0)
			return 1;
	return 0;
}

static int remove_dead(cv_graph *cv)
{
	mrt__graph *g = cv->g;
	const char **need;
	int n_need = 0, i, j, live, cap = g->n_outputs;

	for (i = 0; i < g->n_nodes; i++)
		cap += g->nodes[i].n_in;
	need = malloc(sizeof(*need) * (size_t)(cap ? cap : 1));
	if (!need)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < g->n_outputs; i++)
		need[n_need++] = g->outputs[i].name;
	for (i = g->n_nodes - 1; i >= 0; i--) {
		mrt__node *n = &g->nodes[i];

		for (live = 0, j = 0; j < n->n_out && !live; j++)
			live = n->out[j][0] && name_in(need, n_need, n->out[j]);
		if (!live) {
			cv__remove_node(cv, i);
			continue;
		}
		for (j = 0; j < n->n_in; j++)
			if (n->in[j][0])
				need[n_need++] = n->in[j];
	}
	for (i = g->n_consts - 1; i >= 0; i--)
		if (!name_in(need, n_need, g->consts[i].name))
			cv__remove_const(cv, i);
	free(need);
	return 0;
}

/* ---- Identity / Dropout ---- */

static int drop_identities(cv_graph *cv)
{
	int i, p, rc;

	for (i = 0; i < cv->g->n_nodes; i++) {
		mrt__node *n = &cv->g->nodes[i];
		char *x, *y;

		if (!(is_op(n, "Identity") || is_op(n, "Dropout")) || n->n_in < 1 || n->n_out < 1)
			continue;
		if (n->n_out > 1 && n->out[1][0] && cv__consumers(cv, n->out[1]))
			continue; /* the mask is used */
		x = n->in[0], y = n->out[0];
		if (!cv__is_output(cv, y)) {
			if ((rc = cv__rename_uses(cv, y, x)))
				return cv__fail(cv, rc, "out of memory");
			continue; /* n is now dead */
		}
		p = cv__producer(cv, x);
		if (p < 0 || cv__is_output(cv, x) || cv__consumers(cv, x) != 1)
			continue;
		for (int k = 0; k < cv->g->nodes[p].n_out; k++)
			if (strcmp(cv->g->nodes[p].out[k], x) == 0) {
				char *s = strdup(y);

				if (!s)
					return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
				free(cv->g->nodes[p].out[k]);
				cv->g->nodes[p].out[k] = s;
			}
		n->out[0][0] = '\0'; /* n is now dead */
	}
	return 0;
}

/* ---- BatchNormalization after Conv / Gemm ---- */

/* F32 constant of n elements, or NULL. */
static const float *vec(cv_graph *cv, const char *name, int64_t n)
{
	const mrt__const *c = cv__const(cv, name);

	if (!c || c->type != MRT_TYPE_F32 || c->nbytes != (size_t)n * sizeof(float))
		return NULL;
	return c->data;
}

/* Input slot k of node n, "" when absent. */
static const char *input(const mrt__node *n, int k)
{
	return k < n->n_in ? n->in[k] : "";
}

static int set_input(mrt__node *n, int k, const char *name)
{
	char *s = strdup(name);

	if (!s)
		return MRT_ERR_NOMEM;
	if (k >= n->n_in) {
		char **p = realloc(n->in, sizeof(char *) * (size_t)(k + 1));

		if (!p) {
			free(s);
			return MRT_ERR_NOMEM;
		}
		n->in = p;
		while (n->n_in <= k)
			n->in[n->n_in++] = NULL;
	}
	free(n->in[k]);
	n->in[k] = s;
	return 0;
}

/* Weights W (rows of C for Conv and Gemm transB=1, columns for transB=0)
 * scaled by s; bias (beta * old bias, or 0) shifted: (b - mean) * s + bnb. */
static int fold_bn_into(cv_graph *cv, mrt__node *p, const mrt__node *bn, const float *s, int64_t C)
{
	const mrt__const *w = cv__const(cv, p->in[1]);
	const float *mean = vec(cv, bn->in[3], C), *bnb = vec(cv, bn->in[2], C), *b0 = NULL;
	int is_gemm = is_op(p, "Gemm"), rc;
	int64_t tb = 0, n, i, row, wdims[MRT_MAX_DIMS];
	int wndim = w->ndim;
	float beta = 1.0f, *nw, *nb;
	char name[512];

	if (is_gemm) {
		mrt__attr_int(p, "transB", 0, &tb);
		beta = mrt__attr_float(p, "beta", 1.0f);
	}
	if (input(p, 2)[0]) {
		const mrt__const *c = cv__const(cv, p->in[2]);

		if (!c || c->type != MRT_TYPE_F32 || c->nbytes != (size_t)C * 4)
			return 0; /* a bias we cannot fold into (broadcast, non-constant) */
		b0 = c->data;
	}
	memcpy(wdims, w->dims, sizeof(wdims)); /* w moves when constants are added */
	n = (int64_t)(w->nbytes / 4);
	row = n / C;
	nw = malloc(w->nbytes);
	nb = malloc((size_t)C * 4);
	if (!nw || !nb) {
		free(nw), free(nb);
		return MRT_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) /* transB=0: [K, N], channel is the column */
		nw[i] = ((const float *)w->data)[i] * s[is_gemm && !tb ? i % C : i / row];
	for (i = 0; i < C; i++)
		nb[i] = ((b0 ? beta * b0[i] : 0.0f) - mean[i]) * s[i] + bnb[i];
	snprintf(name, sizeof(name), "%s.folded_weight", bn->out[0]);
	if ((rc = cv__add_const(cv, name, MRT_TYPE_F32, wndim, wdims, nw, (size_t)n * 4)) ||
	    (rc = set_input(p, 1, name))) {
		free(nb);
		return rc;
	}
	snprintf(name, sizeof(name), "%s.folded_bias", bn->out[0]);
	if ((rc = cv__add_const(cv, name, MRT_TYPE_F32, 1, &C, nb, (size_t)C * 4)) ||
	    (rc = set_input(p, 2, name)))
		return rc;
	if (is_gemm && (rc = cv__set_attr_float(p, "beta", 1.0f)))
		return rc;
	return 1;
}

/* Fold BatchNormalization node b into its producer when exact. Returns 1
 * when folded, 0 when not applicable, negative on error. */
static int fold_bn(cv_graph *cv, int b)
{
	mrt__node *bn = &cv->g->nodes[b], *p;
	const mrt__const *w;
	const float *scale, *var;
	float *s;
	int64_t C, tb = 0, ta = 0;
	int pi, rc;
	char *out;

	if (bn->n_in != 5 || (bn->n_out > 1 && bn->out[1][0]) || (bn->n_out > 2 && bn->out[2][0]))
		return 0;
	pi = cv__producer(cv, bn->in[0]);
	if (pi < 0 || sole_user(cv, bn->in[0], "BatchNormalization") < 0)
		return 0;
	p = &cv->g->nodes[pi];
	if (!(is_op(p, "Conv") || is_op(p, "Gemm")) || p->n_out != 1 || p->n_in < 2)
		return 0;
	w = cv__const(cv, p->in[1]);
	if (!w || w->type != MRT_TYPE_F32 || w->ndim < 2)
		return 0;
	if (is_op(p, "Gemm")) {
		if (mrt__attr_int(p, "transB", 0, &tb) || mrt__attr_int(p, "transA", 0, &ta) ||
		    ta || w->ndim != 2)
			return 0;
		C = tb ? w->dims[0] : w->dims[1];
	} else {
		C = w->dims[0];
	}
	scale = vec(cv, bn->in[1], C), var = vec(cv, bn->in[4], C);
	if (C <= 0 || !scale || !var || !vec(cv, bn->in[2], C) || !vec(cv, bn->in[3], C))
		return 0;
	s = malloc(sizeof(float) * (size_t)C);
	if (!s)
		return MRT_ERR_NOMEM;
	for (int64_t c = 0; c < C; c++)
		s[c] = scale[c] / sqrtf(var[c] + mrt__attr_float(bn, "epsilon", 1e-5f));
	rc = fold_bn_into(cv, p, bn, s, C);
	free(s);
	if (rc <= 0)
		return rc;
	p = &cv->g->nodes[pi];
	bn = &cv->g->nodes[b];
	out = strdup(bn->out[0]);
	if (!out)
		return MRT_ERR_NOMEM;
	free(p->out[0]);
	p->out[0] = out;
	cv__remove_node(cv, b);
	return 1;
}

/* ---- Relu after Conv: Conv's activation attribute (GRAPH-FORMAT.md) ---- */

/* Fuse Relu node r into the Conv whose output only it reads: the Conv gets
 * activation "Relu" and r's output. Returns 1 when fused, 0 when not
 * applicable, negative on error. */
static int fuse_conv_relu(cv_graph *cv, int r)
{
	mrt__node *relu = &cv->g->nodes[r], *p;
	mrt__attr *a;
	char *out, *act;
	int pi;

	if (relu->n_in != 1 || relu->n_out != 1)
		return 0;
	pi = cv__producer(cv, relu->in[0]);
	if (pi < 0 || sole_user(cv, relu->in[0], "Relu") < 0)
		return 0;
	p = &cv->g->nodes[pi];
	if (!is_op(p, "Conv") || p->n_out != 1 || mrt__node_attr(p, "activation"))
		return 0;
	out = strdup(relu->out[0]);
	act = strdup("Relu");
	if (!out || !act || cv__set_attr_int(p, "activation", 0)) {
		free(out);
		free(act);
		return MRT_ERR_NOMEM;
	}
	a = (mrt__attr *)mrt__node_attr(p, "activation"); /* now a string */
	a->kind = MRT__ATTR_STRING;
	a->s = act;
	free(p->out[0]);
	p->out[0] = out;
	cv__remove_node(cv, r);
	return 1;
}

/* ---- LayerNorm: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div,
 * Mul gamma, Add beta ---- */

static int reduces_last(cv_graph *cv, const mrt__node *n, const char *x)
{
	const mrt__value_info *vi = cv__value(cv, x);
	const mrt__attr *axes = mrt__node_attr(n, "axes");
	int64_t keep = 1;

	if (!vi || n->n_in != 1 || !axes || axes->kind != MRT__ATTR_INTS || axes->n != 1 ||
	    mrt__attr_int(n, "keepdims", 1, &keep) || !keep)
		return 0;
	return axes->ints[0] == -1 || axes->ints[0] == vi->ndim - 1;
}

/* The node reading name alone, when it is op; with the other input in
 * *other for binary ops. */
static mrt__node *next(cv_graph *cv, const char *name, const char *op, const char **other)
{
	int k = sole_user(cv, name, op);
	mrt__node *n = k < 0 ? NULL : &cv->g->nodes[k];

	if (n && other && !(*other = other_input(n, name)))
		return NULL;
	return n;
}

static int fuse_layernorm(cv_graph *cv, int r)
{
	mrt__node *rm = &cv->g->nodes[r], *sub, *pw = NULL, *dv = NULL, *rm2, *add, *sq, *mul, *fin;
	int node[MAX_USES], slot[MAX_USES], k, rc;
	const char *x = rm->in[0], *eps, *gamma, *beta, *two;
	const mrt__const *ec;
	char *ins[3];

	if (!reduces_last(cv, rm, x) || !(sub = next(cv, rm->out[0], "Sub", NULL)) ||
	    sub->n_in != 2 || strcmp(sub->in[0], x) || strcmp(sub->in[1], rm->out[0]) ||
	    cv__is_output(cv, sub->out[0]) || uses(cv, sub->out[0], node, slot) != 2)
		return 0;
	for (k = 0; k < 2; k++) {
		mrt__node *u = &cv->g->nodes[node[k]];

		if (is_op(u, "Pow") && slot[k] == 0)
			pw = u;
		else if (is_op(u, "Div") && slot[k] == 0)
			dv = u;
	}
	if (!pw || !dv || pw->n_in != 2 || !const_is(cv, (two = pw->in[1]), 2.0) ||
	    !(rm2 = next(cv, pw->out[0], "ReduceMean", NULL)) ||
	    !reduces_last(cv, rm2, pw->out[0]) || !(add = next(cv, rm2->out[0], "Add", &eps)) ||
	    !(sq = next(cv, add->out[0], "Sqrt", NULL)) || sole_user(cv, sq->out[0], "Div") < 0 ||
	    &cv->g->nodes[sole_user(cv, sq->out[0], "Div")] != dv || dv->n_in != 2 ||
	    strcmp(dv->in[1], sq->out[0]) || !(mul = next(cv, dv->out[0], "Mul", &gamma)) ||
	    !(fin = next(cv, mul->out[0], "Add", &beta)))
		return 0;
	ec = cv__const(cv, eps);
	if (!ec || ec->type != MRT_TYPE_F32 || ec->nbytes != 4 || !cv__const(cv, gamma) ||
	    !cv__const(cv, beta))
		return 0;
	ins[0] = (char *)x, ins[1] = (char *)gamma, ins[2] = (char *)beta;
	/* copy names first: reset_node frees fin's inputs (beta may be one) */
	for (k = 0; k < 3; k++)
		if (!(ins[k] = strdup(ins[k])))
			goto nomem;
	rc = reset_node(fin, "LayerNormalization", 3, (const char *const *)ins);
	rc = rc ? rc : cv__set_attr_int(fin, "axis", -1);
	rc = rc ? rc : cv__set_attr_float(fin, "epsilon", ((const float *)ec->data)[0]);
	for (k = 0; k < 3; k++)
		free(ins[k]);
	return rc ? rc : 1;
nomem:
	while (k-- > 0)
		free(ins[k]);
	return MRT_ERR_NOMEM;
}

/* ---- GELU: x * 0.5 * (1 + erf(x / sqrt 2)) in its exported orders ---- */

static int fuse_gelu(cv_graph *cv, int e)
{
	mrt__node *erf = &cv->g->nodes[e], *scale, *add, *m2, *fin = NULL;
	const char *x = NULL, *one, *other, *half;
	int ps;
	char *xs;

	if (erf->n_in != 1 || (ps = cv__producer(cv, erf->in[0])) < 0 ||
	    sole_user(cv, erf->in[0], "Erf") < 0)
		return 0;
	scale = &cv->g->nodes[ps];
	if (scale->n_in != 2)
		return 0;
	if (is_op(scale, "Div") && const_is(cv, scale->in[1], M_SQRT2))
		x = scale->in[0];
	else if (is_op(scale, "Mul") && const_is(cv, scale->in[1], M_SQRT1_2))
		x = scale->in[0];
	else if (is_op(scale, "Mul") && const_is(cv, scale->in[0], M_SQRT1_2))
		x = scale->in[1];
	if (!x || !(add = next(cv, erf->out[0], "Add", &one)) || !const_is(cv, one, 1.0) ||
	    !(m2 = next(cv, add->out[0], "Mul", &other)))
		return 0;
	if (strcmp(other, x) == 0) { /* (x * e1) * 0.5 */
		fin = next(cv, m2->out[0], "Mul", &half);
		if (!fin || !const_is(cv, half, 0.5))
			return 0;
	} else { /* (x * 0.5) * e1 */
		int ph = cv__producer(cv, other);
		mrt__node *hx = ph < 0 ? NULL : &cv->g->nodes[ph];
		const char *h = hx && is_op(hx, "Mul") ? other_input(hx, x) : NULL;

		if (!h || !const_is(cv, h, 0.5) || sole_user(cv, other, "Mul") < 0)
			return 0;
		fin = m2;
	}
	xs = strdup(x);
	if (!xs)
		return MRT_ERR_NOMEM;
	ps = reset_node(fin, "Gelu", 1, (const char *const *)&xs);
	free(xs);
	return ps ? ps : 1;
}

/* ---- constant weights stored transposed ---- */

static int transpose_weight(cv_graph *cv, mrt__node *n)
{
	mrt__const *b = n->n_in >= 2 ? cv__const(cv, n->in[1]) : NULL;
	int64_t K, N, i, j, dims[2];
	float *t;
	char name[512];
	int rc;

	if (!b || b->type != MRT_TYPE_F32 || b->ndim != 2 || cv__const(cv, n->in[0]))
		return 0;
	K = b->dims[0], N = b->dims[1];
	t = malloc(b->nbytes ? b->nbytes : 1);
	if (!t)
		return MRT_ERR_NOMEM;
	for (i = 0; i < K; i++)
		for (j = 0; j < N; j++)
			t[j * K + i] = ((const float *)b->data)[i * N + j];
	dims[0] = N, dims[1] = K;
	if (cv__consumers(cv, b->name) == 1 && !cv__is_output(cv, b->name)) {
		if (b->owned)
			free(b->data);
		b->data = t, b->owned = 1;
		memcpy(b->dims, dims, sizeof(dims));
	} else {
		snprintf(name, sizeof(name), "%s.T", b->name);
		if (cv__const(cv, name)) {
			free(t);
			return 0;
		}
		if ((rc = cv__add_const(cv, name, MRT_TYPE_F32, 2, dims, t, b->nbytes)) ||
		    (rc = set_input(n, 1, name)))
			return rc;
	}
	return cv__set_attr_int(n, "transB", 1);
}

static int transpose_weights(cv_graph *cv)
{
	int i, rc;
	int64_t tb, ta;

	for (i = 0; i < cv->g->n_nodes; i++) {
		mrt__node *n = &cv->g->nodes[i];

		if (is_op(n, "MatMul")) {
			if (mrt__attr_int(n, "transB", 0, &tb) || tb)
				continue;
		} else if (is_op(n, "Gemm")) {
			if (mrt__attr_int(n, "transB", 0, &tb) || tb ||
			    mrt__attr_int(n, "transA", 0, &ta) || ta)
				continue;
		} else {
			continue;
		}
		if ((rc = transpose_weight(cv, n)))
			return cv__fail(cv, rc, "out of memory");
	}
	return 0;
}

/* Apply fn to every node with op, in order; each rewrite may leave dead
 * nodes, removed before the next pass. */
static int each(cv_graph *cv, const char *op, int (*fn)(cv_graph *, int))
{
	int i, rc;

	for (i = 0; i < cv->g->n_nodes; i++) {
		if (!is_op(&cv->g->nodes[i], op))
			continue;
		rc = fn(cv, i);
		if (rc < 0)
			return cv__fail(cv, rc, "out of memory");
		if (rc > 0) {
			if ((rc = remove_dead(cv)))
				return rc;
			i = -1; /* indices moved: start over */
		}
	}
	return 0;
}

int cv__rewrite(cv_graph *cv, int fuse)
{
	int rc;

	if ((rc = drop_identities(cv)) || (rc = remove_dead(cv)))
		return rc;
	if (fuse &&
	    ((rc = each(cv, "BatchNormalization", fold_bn)) ||
	     (rc = each(cv, "Relu", fuse_conv_relu)) ||
	     (rc = each(cv, "ReduceMean", fuse_layernorm)) || (rc = each(cv, "Erf", fuse_gelu))))
		return rc;
	if ((rc = transpose_weights(cv)))
		return rc;
	return remove_dead(cv);
}

/* ---- zero initial states of LSTM/GRU ---- */

/* 1 when node n is ConstantOfShape filling zeros. */
static int zeros_of_shape(const mrt__node *n)
{
	const mrt__attr *a = mrt__node_attr(n, "value");

	if (!is_op(n, "ConstantOfShape"))
		return 0;
	if (!a)
		return 1;
	switch (a->kind) {
	case MRT__ATTR_FLOAT:
		return a->f == 0.0f;
	case MRT__ATTR_INT:
		return a->i == 0;
	case MRT__ATTR_FLOATS:
		return a->n == 1 && a->floats[0] == 0.0f;
	case MRT__ATTR_INTS:
		return a->n == 1 && a->ints[0] == 0;
	default:
		return 0;
	}
}

/* 1 when value v is all zeros: ConstantOfShape(0), possibly through ops
 * that only select or reshape its elements. */
static int is_zeros(const cv_graph *cv, const char *v)
{
	static const char *const keep[] = {"Slice",  "Squeeze",  "Unsqueeze", "Reshape",
	                                   "Expand", "Identity", "Transpose"};
	int depth, p;
	size_t k;

	for (depth = 0; depth < 8; depth++) {
		const mrt__node *n;

		if ((p = cv__producer(cv, v)) < 0)
			return 0;
		n = &cv->g->nodes[p];
		if (zeros_of_shape(n))
			return 1;
		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (is_op(n, keep[k]))
				break;
		if (k == sizeof(keep) / sizeof(keep[0]) || n->n_in < 1)
			return 0;
		v = n->in[0];
	}
	return 0;
}

/* PyTorch feeds LSTM/GRU initial_h (input 5) and initial_c (input 6) from
 * ConstantOfShape(0) over the batch size read at run time (often through
 * Slice). ONNX's default for an absent initial state is zeros of exactly
 * that shape, so such an input is made absent; other readers of the zeros
 * are untouched and dead code goes later. */
int cv__drop_zero_states(cv_graph *cv)
{
	int i, k;

	for (i = 0; i < cv->g->n_nodes; i++) {
		mrt__node *rnn = &cv->g->nodes[i];

		if (!is_op(rnn, "LSTM") && !is_op(rnn, "GRU"))
			continue;
		for (k = 5; k <= 6 && k < rnn->n_in; k++)
			if (rnn->in[k][0] && is_zeros(cv, rnn->in[k]))
				rnn->in[k][0] = '\0';
	}
	return 0;
}
