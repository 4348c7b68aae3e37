/* The public model API: load a model file (dispatch on its architecture),
 * resolve and validate its graph once, expand quantized constants that the
 * consuming ops cannot read in place, and describe inputs and outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "util.h"

const char *mrt_strerror(int status)
{
	switch (status) {
	case MRT_OK:
		return "success";
	case MRT_ERR_IO:
		return "i/o error";
	case MRT_ERR_FORMAT:
		return "invalid file format";
	case MRT_ERR_UNSUPPORTED:
		return "unsupported";
	case MRT_ERR_NOMEM:
		return "out of memory";
	case MRT_ERR_SHAPE:
		return "invalid shape";
	case MRT_ERR_DTYPE:
		return "invalid dtype";
	case MRT_ERR_INVALID:
		return "invalid argument";
	case MRT_ERR_RANGE:
		return "value out of range";
	default:
		return "unknown error";
	}
}

const char *mrt_dtype_name(int dtype)
{
	switch (dtype) {
	case MRT_DTYPE_F32:
		return "float32";
	case MRT_DTYPE_I64:
		return "int64";
	case MRT_DTYPE_I32:
		return "int32";
	default:
		return "unknown";
	}
}

size_t mrt_dtype_size(int dtype)
{
	switch (dtype) {
	case MRT_DTYPE_F32:
		return 4;
	case MRT_DTYPE_I64:
		return 8;
	case MRT_DTYPE_I32:
		return 4;
	default:
		return 0;
	}
}

int mrt__type_of_dtype(int dtype)
{
	return dtype == MRT_DTYPE_F32   ? MRT_TYPE_F32
	       : dtype == MRT_DTYPE_I64 ? MRT_TYPE_I64
	       : dtype == MRT_DTYPE_I32 ? MRT_TYPE_I32
	                                : -1;
}

int mrt__dtype_of_type(int type)
{
	return type == MRT_TYPE_F32   ? MRT_DTYPE_F32
	       : type == MRT_TYPE_I64 ? MRT_DTYPE_I64
	       : type == MRT_TYPE_I32 ? MRT_DTYPE_I32
	                              : -1;
}

const char *mrt_cpu_features(void)
{
	return mrt__cpu_level_name();
}

mrt_model_params mrt_model_default_params(void)
{
	mrt_model_params p = {MRT_WEIGHTS_NATIVE, 1, 1};
	return p;
}

void mrt_model_free(mrt_model *m)
{
	if (m == NULL)
		return;
	mrt__graph_free(m->graph);
	mrt__llama_free(m->llama);
	mrt_gguf_close(m->file);
	free(m->file_buf);
	free(m->tensor_types);
	free(m->values);
	free(m->node_op);
	free(m->node_in_off);
	free(m->in_ids);
	free(m->node_out0);
	free(m->output_ids);
	free(m->in_info);
	free(m->out_info);
	free(m);
}

/* ---- value table ---- */

typedef struct id_map {
	const char **names;
	int *ids;
	size_t cap;
} id_map;

static size_t map_slot(const id_map *h, const char *name)
{
	uint64_t x = 1469598103934665603ull;
	const char *p;
	size_t i;

	for (p = name; *p; p++)
		x = (x ^ (unsigned char)*p) * 1099511628211ull;
	i = (size_t)x & (h->cap - 1);
	while (h->names[i] != NULL && strcmp(h->names[i], name) != 0)
		i = (i + 1) & (h->cap - 1);
	return i;
}

static int map_get(const id_map *h, const char *name)
{
	size_t i = map_slot(h, name);
	return h->names[i] ? h->ids[i] : -1;
}

static void map_put(id_map *h, const char *name, int id)
{
	size_t i = map_slot(h, name);
	h->names[i] = name;
	h->ids[i] = id;
}

/* Number the values and resolve every node input and graph output to an id.
 * The graph was validated by mrt__graph_read (or is trusted in-memory). */
static int resolve(mrt_model *m, char *err, size_t errlen)
{
	const mrt__graph *g = m->graph;
	id_map h = {NULL, NULL, 16};
	int i, j, id, n_in = 0, rc = MRT_ERR_NOMEM;

	m->n_values = g->n_inputs + g->n_consts;
	for (i = 0; i < g->n_nodes; i++) {
		m->n_values += g->nodes[i].n_out;
		n_in += g->nodes[i].n_in;
	}
	while (h.cap < 2 * (size_t)m->n_values + 2)
		h.cap *= 2;
	h.names = calloc(h.cap, sizeof(*h.names));
	h.ids = calloc(h.cap, sizeof(*h.ids));
	m->values = calloc((size_t)m->n_values + 1, sizeof(*m->values));
	m->node_op = calloc((size_t)g->n_nodes + 1, sizeof(*m->node_op));
	m->node_in_off = calloc((size_t)g->n_nodes + 1, sizeof(int));
	m->node_out0 = calloc((size_t)g->n_nodes + 1, sizeof(int));
	m->in_ids = calloc((size_t)n_in + 1, sizeof(int));
	m->output_ids = calloc((size_t)g->n_outputs + 1, sizeof(int));
	if (!h.names || !h.ids || !m->values || !m->node_op || !m->node_in_off || !m->node_out0 ||
	    !m->in_ids || !m->output_ids) {
		mrt__errf(err, errlen, rc, "out of memory");
		goto out;
	}
	id = 0;
	for (i = 0; i < g->n_inputs; i++, id++) {
		m->values[id] = g->inputs[i];
		map_put(&h, g->inputs[i].name, id);
	}
	m->const_base = id;
	for (i = 0; i < g->n_consts; i++, id++) {
		const mrt__const *c = &g->consts[i];
		m->values[id].name = c->name;
		m->values[id].type = c->type;
		m->values[id].ndim = c->ndim;
		memcpy(m->values[id].dims, c->dims, sizeof(c->dims));
		map_put(&h, c->name, id);
	}
	n_in = 0;
	rc = MRT_ERR_FORMAT;
	for (i = 0; i < g->n_nodes; i++) {
		const mrt__node *n = &g->nodes[i];
		m->node_op[i] = mrt__op_find(n->op);
		if (m->node_op[i] == NULL) {
			mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
			          "node '%s': operator '%s' is not supported", n->name, n->op);
			rc = MRT_ERR_UNSUPPORTED;
			goto out;
		}
		m->node_in_off[i] = n_in;
		for (j = 0; j < n->n_in; j++) {
			int v = n->in[j][0] ? map_get(&h, n->in[j]) : -1;
			if (n->in[j][0] && v < 0) {
				mrt__errf(err, errlen, rc, "node '%s': input '%s' is not defined",
				          n->name, n->in[j]);
				goto out;
			}
			m->in_ids[n_in++] = v;
		}
		m->node_out0[i] = id;
		for (j = 0; j < n->n_out; j++, id++) {
			m->values[id].name = n->out[j];
			map_put(&h, n->out[j], id);
		}
	}
	for (i = 0; i < g->n_outputs; i++) {
		m->output_ids[i] = map_get(&h, g->outputs[i].name);
		if (m->output_ids[i] < 0) {
			mrt__errf(err, errlen, rc, "output '%s' is never computed",
			          g->outputs[i].name);
			goto out;
		}
	}
	rc = 0;
out:
	free(h.names);
	free(h.ids);
	return rc;
}

/* ---- load-time preparation ---- */

static int is_dense(int type)
{
	return type == MRT_TYPE_F32 || type == MRT_TYPE_I64 || type == MRT_TYPE_I32;
}

/* Dequantize constants that some consumer (or a graph output) cannot read in
 * place, or all of them in MRT_WEIGHTS_EXPAND mode; the F32 copies are
 * owned by the graph and counted in heap_bytes. */
static int expand_consts(mrt_model *m, int expand_all, char *err, size_t errlen)
{
	mrt__graph *g = m->graph;
	char *need = calloc((size_t)g->n_consts + 1, 1);
	int i, j, c;

	if (need == NULL)
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < g->n_nodes; i++)
		for (j = 0; j < g->nodes[i].n_in; j++) {
			c = m->in_ids[m->node_in_off[i] + j] - m->const_base;
			if (c >= 0 && c < g->n_consts &&
			    (j >= 32 || !(m->node_op[i]->quant_inputs & (1u << j))))
				need[c] = 1;
		}
	for (i = 0; i < g->n_outputs; i++) {
		c = m->output_ids[i] - m->const_base;
		if (c >= 0 && c < g->n_consts)
			need[c] = 1;
	}
	for (c = 0; c < g->n_consts; c++) {
		mrt__const *k = &g->consts[c];
		int64_t n = mrt__numel(k->dims, k->ndim);
		float *f;
		if (is_dense(k->type) || !(need[c] || expand_all))
			continue;
		if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float) ||
		    (f = malloc((size_t)n * sizeof(float) + 1)) == NULL) {
			free(need);
			return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory expanding '%s'",
			                 k->name);
		}
		if (mrt_dequantize(k->type, k->data, f, (size_t)n) != 0) {
			free(f);
			free(need);
			return mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
			                 "constant '%s': cannot dequantize type %d", k->name,
			                 k->type);
		}
		if (k->owned)
			free(k->data);
		k->data = f;
		k->owned = 1;
		k->type = MRT_TYPE_F32;
		k->nbytes = (size_t)n * sizeof(float);
		m->values[m->const_base + c].type = MRT_TYPE_F32;
		m->heap_bytes += k->nbytes;
	}
	free(need);
	return 0;
}

#define LOAD_MAX_IO 64

/* Shape inference over the whole graph with symbolic dims: validates every
 * node once and records each value's symbolic shape. */
static int infer_all(mrt_model *m, char *err, size_t errlen)
{
	const mrt__graph *g = m->graph;
	const mrt__value_info *vi[LOAD_MAX_IO];
	const mrt__const *vc[LOAD_MAX_IO];
	mrt__value_info out[LOAD_MAX_IO];
	int i, j, rc;

	for (i = 0; i < g->n_nodes; i++) {
		const mrt__node *n = &g->nodes[i];
		if (n->n_in > LOAD_MAX_IO || n->n_out > LOAD_MAX_IO)
			return mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
			                 "node '%s': too many inputs or outputs", n->name);
		for (j = 0; j < n->n_in; j++) {
			int v = m->in_ids[m->node_in_off[i] + j];
			int c = v - m->const_base;
			vi[j] = v >= 0 ? &m->values[v] : NULL;
			vc[j] = c >= 0 && c < g->n_consts ? &g->consts[c] : NULL;
		}
		memset(out, 0, sizeof(out[0]) * (size_t)n->n_out);
		rc = mrt__node_infer(n, vi, vc, out, err, errlen);
		if (rc != 0)
			return rc;
		for (j = 0; j < n->n_out; j++) {
			mrt__value_info *dst = &m->values[m->node_out0[i] + j];
			dst->type = out[j].type;
			dst->ndim = out[j].ndim;
			memcpy(dst->dims, out[j].dims, sizeof(dst->dims));
		}
	}
	for (i = 0; i < g->n_outputs; i++) {
		const mrt__value_info *v = &m->values[m->output_ids[i]];
		if (v->type != g->outputs[i].type)
			return mrt__errf(
			    err, errlen, MRT_ERR_FORMAT,
			    "output '%s': declared %s but computed type %d", g->outputs[i].name,
			    mrt_dtype_name(mrt__dtype_of_type(g->outputs[i].type)), v->type);
	}
	return 0;
}

static void fill_info(mrt_io_info *info, const mrt__value_info *v)
{
	info->name = v->name;
	info->dtype = mrt__dtype_of_type(v->type);
	info->ndim = v->ndim;
	memset(info->dims, 0, sizeof(info->dims));
	memcpy(info->dims, v->dims, sizeof(int64_t) * (size_t)v->ndim);
}

/* "f32,q8_0": the distinct tensor types of the file, in type order. */
static int make_tensor_types(mrt_model *m)
{
	char seen[MRT_TYPE_COUNT] = {0};
	uint64_t i, n = mrt_gguf_n_tensors(m->file);
	mrt_gguf_tensor_info ti;
	size_t len = 0;
	int t;

	m->tensor_types = calloc(1, MRT_TYPE_COUNT * 8 + 1);
	if (m->tensor_types == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (mrt_gguf_tensor(m->file, i, &ti) == 0 && ti.type >= 0 &&
		    ti.type < MRT_TYPE_COUNT)
			seen[ti.type] = 1;
	for (t = 0; t < MRT_TYPE_COUNT; t++) {
		const char *name = mrt_type_get(t).name;
		if (!seen[t] || name == NULL)
			continue;
		len += (size_t)snprintf(m->tensor_types + len, 8 * MRT_TYPE_COUNT + 1 - len, "%s%s",
		                        len ? "," : "", name);
	}
	return 0;
}

/* Read the whole file into the heap (use_mmap = 0). */
static mrt_gguf *open_copy(mrt_model *m, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	long size;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		mrt__errf(err, errlen, MRT_ERR_IO, "cannot open '%s'", path);
		goto fail;
	}
	m->file_buf = malloc((size_t)size + 1);
	if (m->file_buf == NULL || fread(m->file_buf, 1, (size_t)size, fp) != (size_t)size) {
		mrt__errf(err, errlen, MRT_ERR_IO, "cannot read '%s'", path);
		goto fail;
	}
	fclose(fp);
	m->heap_bytes += (uint64_t)size;
	return mrt_gguf_open_buffer(m->file_buf, (size_t)size, err, errlen);
fail:
	if (fp)
		fclose(fp);
	return NULL;
}

static int load_graph(mrt_model *m, const mrt_model_params *p, char *err, size_t errlen)
{
	int i, rc;

	m->kind = MRT_MODEL_GRAPH;
	m->graph = mrt__graph_read(m->file, err, errlen);
	if (m->graph == NULL)
		return MRT_ERR_FORMAT;
	if ((rc = resolve(m, err, errlen)) != 0 ||
	    (rc = expand_consts(m, p->weights_mode == MRT_WEIGHTS_EXPAND, err, errlen)) != 0 ||
	    (rc = infer_all(m, err, errlen)) != 0)
		return rc;
	m->in_info = calloc((size_t)m->graph->n_inputs + 1, sizeof(*m->in_info));
	m->out_info = calloc((size_t)m->graph->n_outputs + 1, sizeof(*m->out_info));
	if (m->in_info == NULL || m->out_info == NULL || make_tensor_types(m) != 0)
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < m->graph->n_inputs; i++)
		fill_info(&m->in_info[i], &m->graph->inputs[i]);
	for (i = 0; i < m->graph->n_outputs; i++)
		fill_info(&m->out_info[i], &m->graph->outputs[i]);
	return 0;
}

mrt_model *mrt_model_load(const char *path, const mrt_model_params *params, char *err,
                          size_t errlen)
{
	mrt_model_params p = params ? *params : mrt_model_default_params();
	mrt_model *m;
	mrt_gguf_str arch;

	if (path == NULL) {
		mrt__errf(err, errlen, MRT_ERR_INVALID, "no model path");
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	m->file = p.use_mmap ? mrt_gguf_open(path, err, errlen) : open_copy(m, path, err, errlen);
	if (m->file == NULL)
		goto fail;
	m->file_size = mrt_gguf_file_size(m->file);
	if (mrt_gguf_get_str(m->file, "general.architecture", &arch) != 0) {
		mrt__errf(err, errlen, MRT_ERR_FORMAT, "%s: general.architecture is missing", path);
		goto fail;
	}
	if (mrt_gguf_str_eq(arch, "llama")) {
		m->kind = MRT_MODEL_LLAMA;
		m->llama = mrt__llama_load(m->file, err, errlen);
		if (m->llama == NULL)
			goto fail;
		if (make_tensor_types(m) != 0) {
			mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (p.repack)
			(void)mrt__llama_pack(m->llama, m->file); /* populates the rest */
		else if (p.use_mmap)
			(void)mrt_gguf_populate(m->file); /* a hint: pages fault in otherwise */
		return m;
	}
	if (!mrt_gguf_str_eq(arch, MRT_GRAPH_ARCH)) {
		mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED, "%s: unknown architecture '%.*s'", path,
		          (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
		goto fail;
	}
	if (load_graph(m, &p, err, errlen) != 0)
		goto fail;
	return m;
fail:
	mrt_model_free(m);
	return NULL;
}

int mrt_model_kind(const mrt_model *m)
{
	return m->kind;
}

int mrt_model_n_inputs(const mrt_model *m)
{
	return m->graph ? m->graph->n_inputs : 0;
}

int mrt_model_n_outputs(const mrt_model *m)
{
	return m->graph ? m->graph->n_outputs : 0;
}

int mrt_model_input(const mrt_model *m, int i, mrt_io_info *info)
{
	if (m == NULL || info == NULL || i < 0 || i >= mrt_model_n_inputs(m))
		return MRT_ERR_INVALID;
	*info = m->in_info[i];
	return 0;
}

int mrt_model_output(const mrt_model *m, int i, mrt_io_info *info)
{
	if (m == NULL || info == NULL || i < 0 || i >= mrt_model_n_outputs(m))
		return MRT_ERR_INVALID;
	*info = m->out_info[i];
	return 0;
}

uint64_t mrt_model_file_size(const mrt_model *m)
{
	return m->file_size;
}

uint64_t mrt_model_heap_bytes(const mrt_model *m)
{
	return m->heap_bytes;
}

const char *mrt_model_tensor_types(const mrt_model *m)
{
	return m->tensor_types ? m->tensor_types : "";
}
