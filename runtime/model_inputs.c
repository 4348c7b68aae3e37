/* What a request layer needs to know about a graph model's inputs beyond
 * dtype and shape: the pad id of ragged id lists, whether an input may be
 * omitted, and the embedding table its ids index (traced through the graph
 * so an id past the table is refused naming the input). */
#include <stdio.h>
#include <string.h>

#include "model_impl.h"

static int input_key(const mrt_model *m, int i, const char *what, char *key, size_t len)
{
	int n;

	if (m == NULL || m->graph == NULL || i < 0 || i >= m->graph->n_inputs)
		return -1;
	n = snprintf(key, len, "modelgraph.input.%s.%s", m->graph->inputs[i].name, what);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int mrt_model_input_pad(const mrt_model *m, int i, int64_t *pad)
{
	char key[512];

	if (input_key(m, i, "pad", key, sizeof(key)) != 0 || pad == NULL)
		return 0;
	return mrt_gguf_get_i64(m->file, key, pad) == 0;
}

int mrt_model_input_optional(const mrt_model *m, int i)
{
	mrt_gguf_value v;
	char key[512];
	int64_t idx;

	if (input_key(m, i, "optional", key, sizeof(key)) != 0)
		return 0;
	idx = mrt_gguf_find_kv(m->file, key);
	if (idx < 0 || mrt_gguf_kv(m->file, (uint64_t)idx, &(mrt_gguf_str){0}, &v) != 0)
		return 0;
	return v.type == MRT_GGUF_BOOL && v.v.b;
}

/* Ops that pass ids through unchanged (value-wise) from their input 0. */
static int passes_ids(const char *op)
{
	static const char *const ops[] = {"Reshape", "Flatten", "Cast",     "Unsqueeze",
	                                  "Squeeze", "Identity", "Expand", NULL};
	for (int k = 0; ops[k]; k++)
		if (strcmp(op, ops[k]) == 0)
			return 1;
	return 0;
}

/* The node producing value v, or -1 (graph input or constant). */
static int producer(const mrt_model *m, int v)
{
	for (int j = 0; j < m->graph->n_nodes; j++)
		if (v >= m->node_out0[j] && v < m->node_out0[j] + m->graph->nodes[j].n_out)
			return j;
	return -1;
}

int mrt_model_input_id_limit(const mrt_model *m, int i, int64_t *rows, const char **node)
{
	int found = 0;

	if (m == NULL || m->graph == NULL || i < 0 || i >= m->graph->n_inputs)
		return 0;
	for (int j = 0; j < m->graph->n_nodes; j++) {
		const mrt__node *n = &m->graph->nodes[j];
		int v, c, hops = 0;
		int64_t axis, table;
		if (strcmp(n->op, "Gather") != 0 || n->n_in < 2)
			continue;
		c = m->in_ids[m->node_in_off[j]] - m->const_base;
		if (c < 0 || c >= m->graph->n_consts || m->graph->consts[c].ndim < 1 ||
		    mrt__attr_int(n, "axis", 0, &axis) != 0 || axis != 0)
			continue;
		table = m->graph->consts[c].dims[0];
		v = m->in_ids[m->node_in_off[j] + 1];
		while (v >= m->graph->n_inputs && hops++ < 64) {
			int p = producer(m, v);
			if (p < 0 || !passes_ids(m->graph->nodes[p].op))
				break;
			v = m->in_ids[m->node_in_off[p]];
		}
		if (v != i || (found && table >= *rows))
			continue;
		*rows = table;
		*node = n->name;
		found = 1;
	}
	return found;
}
