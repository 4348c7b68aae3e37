/* Recommendation rewrites: fuse MatMul(query, catalog^T constant) -> TopK
 * into RetrieveTopK (scores and ids without a [B,N] score matrix), add an
 * optional exclusion input wired to it, and check id-list pad options. */
#include "convert_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The single int64 held by constant name, or -1 with *ok = 0. */
static int64_t const_scalar(cv_graph *cv, const char *name, int *ok)
{
	mrt__const *c = name && name[0] ? cv__const(cv, name) : NULL;

	*ok = c && c->type == MRT_TYPE_I64 && mrt__numel(c->dims, c->ndim) == 1;
	return *ok ? *(const int64_t *)c->data : -1;
}

int cv__check_retrieve_k(cv_graph *cv)
{
	mrt__graph *g = cv->g;
	int i, p, ok;

	for (i = 0; i < g->n_nodes; i++) {
		const mrt__node *t = &g->nodes[i];
		const mrt__const *cat;
		int64_t k;
		if (strcmp(t->op, "TopK") || t->n_in < 2 || (p = cv__producer(cv, t->in[0])) < 0 ||
		    strcmp(g->nodes[p].op, "MatMul") || g->nodes[p].n_in < 2)
			continue;
		cat = cv__const(cv, g->nodes[p].in[1]);
		k = const_scalar(cv, t->in[1], &ok);
		if (ok && cat && cat->ndim == 2 && k > cat->dims[1])
			return cv__fail(cv, MRT_ERR_SHAPE,
			                "node '%s' (TopK): k (%lld) exceeds the catalog (%lld items)",
			                t->name, (long long)k, (long long)cat->dims[1]);
	}
	return 0;
}

/* 1 when TopK node t takes the best k along the last axis, sorted. */
static int topk_is_retrieval(const mrt__node *t)
{
	int64_t axis, largest, sorted;

	return !mrt__attr_int(t, "axis", -1, &axis) && (axis == -1 || axis == 1) &&
	       !mrt__attr_int(t, "largest", 1, &largest) && largest == 1 &&
	       !mrt__attr_int(t, "sorted", 1, &sorted) && sorted == 1 && t->n_out == 2;
}

/* Add graph input name: int64 [*,-1]. */
static int add_exclude_input(cv_graph *cv, const char *name)
{
	mrt__graph *g = cv->g;
	mrt__value_info *ins;

	for (int i = 0; i < g->n_inputs; i++)
		if (!strcmp(g->inputs[i].name, name))
			return cv__fail(cv, MRT_ERR_INVALID, "--exclude-input %s: the model already "
			                "has an input of that name", name);
	ins = realloc(g->inputs, sizeof(*ins) * (size_t)(g->n_inputs + 1));
	if (!ins)
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	g->inputs = ins;
	memset(&ins[g->n_inputs], 0, sizeof(ins[0]));
	if (!(ins[g->n_inputs].name = strdup(name)))
		return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
	ins[g->n_inputs].type = MRT_TYPE_I64;
	ins[g->n_inputs].ndim = 2;
	ins[g->n_inputs].dims[0] = -1;
	ins[g->n_inputs].dims[1] = -1;
	g->n_inputs++;
	return 0;
}

/* Turn TopK node t into RetrieveTopK(query, catalog, exclude) with k. */
static int make_retrieve(mrt__node *t, const char *query, const char *catalog, int64_t k,
                         const char *exclude)
{
	char **in = calloc(3, sizeof(*in));
	mrt__attr *attr = calloc(1, sizeof(*attr));
	char *op = strdup("RetrieveTopK"), *kname = strdup("k");

	if (!in || !attr || !op || !kname || !(in[0] = strdup(query)) ||
	    !(in[1] = strdup(catalog)) || !(in[2] = strdup(exclude ? exclude : ""))) {
		for (int i = 0; in && i < 3; i++)
			free(in[i]);
		free(in);
		free(attr);
		free(op);
		free(kname);
		return MRT_ERR_NOMEM;
	}
	for (int i = 0; i < t->n_in; i++)
		free(t->in[i]);
	for (int i = 0; i < t->n_attr; i++) {
		free(t->attr[i].name);
		free(t->attr[i].s);
		free(t->attr[i].ints);
		free(t->attr[i].floats);
	}
	free(t->in);
	free(t->attr);
	free(t->op);
	t->op = op;
	t->in = in;
	t->n_in = 3;
	t->attr = attr;
	t->n_attr = 1;
	attr->name = kname;
	attr->kind = MRT__ATTR_INT;
	attr->i = k;
	return 0;
}

int cv__fuse_retrieve(cv_graph *cv, const char *exclude_input)
{
	mrt__graph *g = cv->g;
	int i, p, ok, fused = 0, rc;

	for (i = 0; i < g->n_nodes; i++) {
		mrt__node *t = &g->nodes[i], *mm;
		const mrt__const *cat;
		int64_t k, tb;
		if (strcmp(t->op, "TopK") || t->n_in < 2 || !topk_is_retrieval(t) ||
		    (p = cv__producer(cv, t->in[0])) < 0)
			continue;
		mm = &g->nodes[p];
		k = const_scalar(cv, t->in[1], &ok);
		cat = mm->n_in == 2 ? cv__const(cv, mm->in[1]) : NULL;
		if (strcmp(mm->op, "MatMul") || !ok || !cat || cat->ndim != 2 ||
		    mrt__attr_int(mm, "transB", 0, &tb) || tb != 1 ||
		    cv__consumers(cv, t->in[0]) != 1 || cv__is_output(cv, t->in[0]))
			continue;
		if (k < 1 || k > cat->dims[0])
			return cv__fail(cv, MRT_ERR_SHAPE,
			                "node '%s' (TopK): k (%lld) exceeds the catalog (%lld items)",
			                t->name, (long long)k, (long long)cat->dims[0]);
		if (make_retrieve(t, mm->in[0], mm->in[1], k, fused ? NULL : exclude_input))
			return cv__fail(cv, MRT_ERR_NOMEM, "out of memory");
		fused++;
		cv__remove_node(cv, p);
		i = -1; /* indices moved: start again (the fused node no longer matches) */
	}
	if (exclude_input && !fused)
		return cv__fail(cv, MRT_ERR_INVALID,
		                "--exclude-input %s: the model has no MatMul(query, catalog) -> "
		                "TopK to attach it to", exclude_input);
	if (exclude_input && (rc = add_exclude_input(cv, exclude_input)) != 0)
		return rc;
	return 0;
}

int cv__check_pads(cv_graph *cv, const convert_options *o)
{
	for (int j = 0; j < o->n_pads; j++) {
		const mrt__value_info *v = NULL;
		for (int i = 0; i < cv->g->n_inputs; i++)
			if (!strcmp(cv->g->inputs[i].name, o->pad_names[j]))
				v = &cv->g->inputs[i];
		if (!v)
			return cv__fail(cv, MRT_ERR_INVALID, "--pad %s: the model has no such input",
			                o->pad_names[j]);
		if (v->type == MRT_TYPE_F32 || v->ndim != 2 || v->dims[0] >= 0 || v->dims[1] >= 0)
			return cv__fail(cv, MRT_ERR_INVALID,
			                "--pad %s: only integer id inputs of shape [*,-1] (batch, "
			                "free length) take ragged lists",
			                o->pad_names[j]);
	}
	return 0;
}

int cv__write_input_keys(mrt_gguf_writer *w, const convert_options *o, char *err, size_t errlen)
{
	char key[512];

	for (int j = 0; j < o->n_pads + (o->exclude_input ? 1 : 0); j++) {
		int excl = j == o->n_pads;
		const char *name = excl ? o->exclude_input : o->pad_names[j];
		snprintf(key, sizeof(key), "modelgraph.input.%s.pad", name);
		if (mrt_gguf_writer_set_i64(w, key, excl ? -1 : o->pad_values[j]) != 0)
			goto nomem;
		snprintf(key, sizeof(key), "modelgraph.input.%s.optional", name);
		if (excl && mrt_gguf_writer_set_bool(w, key, 1) != 0)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory writing input keys");
	return MRT_ERR_NOMEM;
}
