/* Graph models on disk: read and validate the operator graph stored in a
 * GGUF file's metadata (layout in GRAPH-FORMAT.md), write one, free one.
 * Everything read is untrusted: every name, type, rank and count is checked
 * and a bad graph is refused with a message naming the node and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "util.h"

#define KEY_MAX 1200
#define NAME_MAX_LEN 1024
#define MAX_NODES (1 << 20)

/* ---- freeing ---- */

static void free_value_infos(mrt__value_info *v, int n)
{
	int i;

	for (i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

void mrt__node_clear(mrt__node *n)
{
	int i;

	free(n->op);
	free(n->name);
	for (i = 0; n->in && i < n->n_in; i++)
		free(n->in[i]);
	for (i = 0; n->out && i < n->n_out; i++)
		free(n->out[i]);
	for (i = 0; n->attr && i < n->n_attr; i++) {
		free(n->attr[i].name);
		free(n->attr[i].s);
		free(n->attr[i].ints);
		free(n->attr[i].floats);
	}
	free(n->in);
	free(n->out);
	free(n->attr);
	memset(n, 0, sizeof(*n));
}

void mrt__graph_free(mrt__graph *g)
{
	int i;

	if (g == NULL)
		return;
	free_value_infos(g->inputs, g->n_inputs);
	free_value_infos(g->outputs, g->n_outputs);
	for (i = 0; g->nodes && i < g->n_nodes; i++)
		mrt__node_clear(&g->nodes[i]);
	for (i = 0; g->consts && i < g->n_consts; i++) {
		free(g->consts[i].name);
		if (g->consts[i].owned)
			free(g->consts[i].data);
	}
	free(g->nodes);
	free(g->consts);
	free(g);
}

const mrt__attr *mrt__node_attr(const mrt__node *n, const char *name)
{
	int i;

	for (i = 0; i < n->n_attr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

/* ---- a set of names (validation) ---- */

typedef struct name_set {
	const char **slots;
	size_t cap; /* power of two */
} name_set;

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int set_init(name_set *s, size_t n)
{
	s->cap = 16;
	while (s->cap < 2 * n + 2)
		s->cap *= 2;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	return s->slots ? 0 : -1;
}

/* Returns 1 when name is in the set; with add, inserts it (returns 0). */
static int set_has(name_set *s, const char *name, int add)
{
	size_t i = (size_t)name_hash(name) & (s->cap - 1);

	while (s->slots[i] != NULL) {
		if (strcmp(s->slots[i], name) == 0)
			return 1;
		i = (i + 1) & (s->cap - 1);
	}
	if (add)
		s->slots[i] = name;
	return 0;
}

/* ---- reading helpers ---- */

/* New NUL-terminated copy of a file string; NULL when it holds a NUL or is
 * too long. */
static char *dup_str(mrt_gguf_str s)
{
	char *p;

	if (s.len > NAME_MAX_LEN || memchr(s.ptr, 0, (size_t)s.len) != NULL)
		return NULL;
	p = malloc((size_t)s.len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s.ptr, (size_t)s.len);
	p[s.len] = 0;
	return p;
}

static int type_of_dtype(mrt_gguf_str s)
{
	if (mrt_gguf_str_eq(s, "float32"))
		return MRT_TYPE_F32;
	if (mrt_gguf_str_eq(s, "int64"))
		return MRT_TYPE_I64;
	if (mrt_gguf_str_eq(s, "int32"))
		return MRT_TYPE_I32;
	return -1;
}

static const char *dtype_of_type(int t)
{
	return t == MRT_TYPE_I64 ? "int64" : t == MRT_TYPE_I32 ? "int32" : "float32";
}

/* Read an array of integers (a shape) at key into dims; returns the rank or
 * -1 (absent / wrong type), -2 (rank above MRT_MAX_DIMS). */
static int read_shape(const mrt_gguf *f, const char *key, int64_t *dims)
{
	mrt_gguf_value v;
	uint64_t i;

	if (mrt_gguf_get_arr(f, key, &v) != 0)
		return -1;
	if (v.v.arr.n > MRT_MAX_DIMS)
		return -2;
	for (i = 0; i < v.v.arr.n; i++)
		if (mrt_gguf_arr_i64(&v, i, &dims[i]) != 0)
			return -1;
	return (int)v.v.arr.n;
}

/* Read a string array at key into new, owned strings (*out, *n). Empty
 * strings are kept (absent optional inputs). */
static int read_strs(const mrt_gguf *f, const char *key, char ***out, int *n, char *err,
                     size_t errlen)
{
	mrt_gguf_value v;
	mrt_gguf_str *tmp = NULL;
	uint64_t i;

	*out = NULL;
	*n = 0;
	if (mrt_gguf_get_arr(f, key, &v) != 0 || v.v.arr.elem_type != MRT_GGUF_STRING)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT,
		                 "key '%s' is missing or not an array of strings", key);
	if (v.v.arr.n > MAX_NODES)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT, "key '%s': too many entries", key);
	tmp = malloc((v.v.arr.n + 1) * sizeof(*tmp));
	*out = calloc(v.v.arr.n + 1, sizeof(**out));
	if (tmp == NULL || *out == NULL)
		goto nomem;
	if (mrt_gguf_arr_strs(&v, tmp) != 0)
		goto bad;
	for (i = 0; i < v.v.arr.n; i++) {
		(*out)[i] = dup_str(tmp[i]);
		if ((*out)[i] == NULL)
			goto bad;
		*n = (int)i + 1;
	}
	free(tmp);
	return 0;
bad:
	free(tmp);
	return mrt__errf(err, errlen, MRT_ERR_FORMAT, "key '%s': bad string", key);
nomem:
	free(tmp);
	return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory reading '%s'", key);
}

static void free_strs(char **s, int n)
{
	int i;

	for (i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

/* Inputs or outputs (what = "input"/"output"). */
static int read_ios(const mrt_gguf *f, const char *what, mrt__value_info **out, int *n, char *err,
                    size_t errlen)
{
	char key[KEY_MAX], **names = NULL;
	mrt_gguf_str s;
	int i, j, rc;

	snprintf(key, sizeof(key), "modelgraph.%ss", what);
	if ((rc = read_strs(f, key, &names, n, err, errlen)) != 0)
		return rc;
	*out = calloc((size_t)*n + 1, sizeof(**out));
	if (*out == NULL) {
		free_strs(names, *n);
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < *n; i++) {
		mrt__value_info *v = &(*out)[i];
		v->name = names[i];
		names[i] = NULL;
		if (v->name[0] == 0) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT, "%s %d has an empty name", what,
			               i);
			goto out;
		}
		snprintf(key, sizeof(key), "modelgraph.%s.%s.dtype", what, v->name);
		if (mrt_gguf_get_str(f, key, &s) != 0 || (v->type = type_of_dtype(s)) < 0) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT,
			               "key '%s' is missing or not float32/int64/int32", key);
			goto out;
		}
		snprintf(key, sizeof(key), "modelgraph.%s.%s.shape", what, v->name);
		v->ndim = read_shape(f, key, v->dims);
		for (j = 0; j < v->ndim; j++)
			if (v->dims[j] < -1)
				v->ndim = -3;
		if (v->ndim < 0) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT,
			               "key '%s' is missing, not integers >= -1 or of rank > %d",
			               key, MRT_MAX_DIMS);
			goto out;
		}
	}
out:
	free_strs(names, *n);
	return rc;
}

/* ---- nodes ---- */

/* Decode one attribute value. */
static int read_attr(const mrt_gguf_value *v, mrt__attr *a)
{
	uint64_t i;
	double d;

	switch (v->type) {
	case MRT_GGUF_INT64:
	case MRT_GGUF_INT32:
	case MRT_GGUF_UINT32:
	case MRT_GGUF_UINT64:
	case MRT_GGUF_INT8:
	case MRT_GGUF_UINT8:
	case MRT_GGUF_INT16:
	case MRT_GGUF_UINT16:
		a->kind = MRT__ATTR_INT;
		a->i = v->type == MRT_GGUF_UINT64 || v->type == MRT_GGUF_UINT32 ||
		               v->type == MRT_GGUF_UINT16 || v->type == MRT_GGUF_UINT8
		           ? (int64_t)v->v.u64
		           : v->v.i64;
		if (v->type == MRT_GGUF_UINT64 && v->v.u64 > INT64_MAX)
			return -1;
		return 0;
	case MRT_GGUF_FLOAT32:
	case MRT_GGUF_FLOAT64:
		a->kind = MRT__ATTR_FLOAT;
		a->f = (float)v->v.f64;
		return 0;
	case MRT_GGUF_STRING:
		a->kind = MRT__ATTR_STRING;
		a->s = dup_str(v->v.str);
		return a->s ? 0 : -1;
	case MRT_GGUF_ARRAY:
		break;
	default:
		return -1;
	}
	if (v->v.arr.n > (1u << 24))
		return -1;
	a->n = (int64_t)v->v.arr.n;
	if (v->v.arr.elem_type == MRT_GGUF_FLOAT32 || v->v.arr.elem_type == MRT_GGUF_FLOAT64) {
		a->kind = MRT__ATTR_FLOATS;
		a->floats = malloc((size_t)a->n * sizeof(float) + 1);
		if (a->floats == NULL)
			return -1;
		for (i = 0; i < v->v.arr.n; i++) {
			if (mrt_gguf_arr_f64(v, i, &d) != 0)
				return -1;
			a->floats[i] = (float)d;
		}
		return 0;
	}
	a->kind = MRT__ATTR_INTS;
	a->ints = malloc((size_t)a->n * sizeof(int64_t) + 1);
	if (a->ints == NULL)
		return -1;
	for (i = 0; i < v->v.arr.n; i++)
		if (mrt_gguf_arr_i64(v, i, &a->ints[i]) != 0)
			return -1;
	return 0;
}

/* If key is "modelgraph.node.I.attr.NAME" return I and set *name into the
 * key; else -1. */
static int64_t attr_key(mrt_gguf_str key, const char **name, size_t *name_len)
{
	static const char pfx[] = "modelgraph.node.";
	const char *p = key.ptr, *end = key.ptr + key.len;
	int64_t idx = 0;

	if (key.len <= sizeof(pfx) - 1 || memcmp(p, pfx, sizeof(pfx) - 1) != 0)
		return -1;
	p += sizeof(pfx) - 1;
	if (p == end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9' && idx < MAX_NODES)
		idx = idx * 10 + (*p++ - '0');
	if (end - p <= 6 || memcmp(p, ".attr.", 6) != 0)
		return -1;
	*name = p + 6;
	*name_len = (size_t)(end - p - 6);
	return idx;
}

/* One pass over all keys: count attributes per node, then fill them. */
static int read_attrs(const mrt_gguf *f, mrt__graph *g, char *err, size_t errlen)
{
	uint64_t k, nkv = mrt_gguf_n_kv(f);
	mrt_gguf_str key, nm;
	mrt_gguf_value v;
	const char *name;
	size_t len;
	int pass, i;
	int64_t idx;

	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < nkv; k++) {
			mrt__node *n;
			mrt__attr *a;
			if (mrt_gguf_kv(f, k, &key, &v) != 0 ||
			    (idx = attr_key(key, &name, &len)) < 0)
				continue;
			if (idx >= g->n_nodes)
				return mrt__errf(err, errlen, MRT_ERR_FORMAT,
				                 "attribute key '%.*s' names node %lld of %d",
				                 (int)key.len, key.ptr, (long long)idx, g->n_nodes);
			n = &g->nodes[idx];
			if (pass == 0) {
				n->n_attr++;
				continue;
			}
			a = &n->attr[n->n_attr++];
			nm.ptr = name;
			nm.len = len;
			if ((a->name = dup_str(nm)) == NULL || read_attr(&v, a) != 0)
				return mrt__errf(
				    err, errlen, MRT_ERR_FORMAT,
				    "node %lld ('%s'): key '%.*s' has a bad name or type",
				    (long long)idx, n->name, (int)key.len, key.ptr);
		}
		for (i = 0; pass == 0 && i < g->n_nodes; i++) {
			g->nodes[i].attr =
			    calloc((size_t)g->nodes[i].n_attr + 1, sizeof(mrt__attr));
			if (g->nodes[i].attr == NULL)
				return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
			g->nodes[i].n_attr = 0;
		}
	}
	return 0;
}

static int read_node(const mrt_gguf *f, int i, mrt__node *n, char *err, size_t errlen)
{
	char key[KEY_MAX];
	mrt_gguf_str s;
	int rc;

	snprintf(key, sizeof(key), "modelgraph.node.%d.op", i);
	if (mrt_gguf_get_str(f, key, &s) != 0 || (n->op = dup_str(s)) == NULL)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT, "key '%s' is missing or not a string",
		                 key);
	snprintf(key, sizeof(key), "modelgraph.node.%d.name", i);
	if (mrt_gguf_get_str(f, key, &s) != 0 || (n->name = dup_str(s)) == NULL)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT, "key '%s' is missing or not a string",
		                 key);
	snprintf(key, sizeof(key), "modelgraph.node.%d.inputs", i);
	if ((rc = read_strs(f, key, &n->in, &n->n_in, err, errlen)) != 0)
		return rc;
	snprintf(key, sizeof(key), "modelgraph.node.%d.outputs", i);
	if ((rc = read_strs(f, key, &n->out, &n->n_out, err, errlen)) != 0)
		return rc;
	if (!mrt__op_supported(n->op))
		return mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
		                 "node %d ('%s'): operator '%s' is not supported", i, n->name,
		                 n->op);
	return 0;
}

/* ---- constants ---- */

static int const_type_ok(int t)
{
	return t == MRT_TYPE_F32 || t == MRT_TYPE_F16 || t == MRT_TYPE_BF16 || t == MRT_TYPE_Q8_0 ||
	       t == MRT_TYPE_Q4_0 || t == MRT_TYPE_I64 || t == MRT_TYPE_I32;
}

static int read_const(const mrt_gguf *f, uint64_t t, mrt__const *c, char *err, size_t errlen)
{
	char key[KEY_MAX];
	mrt_gguf_tensor_info ti;
	uint64_t ne = 1;
	int64_t n;
	uint32_t d;

	if (mrt_gguf_tensor(f, t, &ti) != 0 || (c->name = dup_str(ti.name)) == NULL ||
	    c->name[0] == 0)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT, "tensor %llu has a bad name",
		                 (unsigned long long)t);
	if (!const_type_ok(ti.type))
		return mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
		                 "tensor '%s': type %d is not supported in graph models", c->name,
		                 ti.type);
	for (d = 0; d < ti.n_dims && d < 4; d++)
		ne *= ti.ne[d]; /* the reader checked this product fits */
	c->type = ti.type;
	c->data = (void *)ti.data;
	c->nbytes = (size_t)ti.nbytes;
	c->owned = 0;
	snprintf(key, sizeof(key), "modelgraph.const.%s.shape", c->name);
	c->ndim = read_shape(f, key, c->dims);
	if (c->ndim == -1 && mrt_gguf_find_kv(f, key) < 0) { /* absent: ne reversed */
		c->ndim = (int)ti.n_dims;
		for (d = 0; d < ti.n_dims; d++)
			c->dims[d] = (int64_t)ti.ne[ti.n_dims - 1 - d];
	}
	if (c->ndim < 0)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT,
		                 "key '%s' is not an array of integers of rank <= %d", key,
		                 MRT_MAX_DIMS);
	n = mrt__numel(c->dims, c->ndim);
	for (d = 0; d < (uint32_t)c->ndim; d++)
		if (c->dims[d] < 0)
			n = -1;
	if (n < 0 || (uint64_t)n != ne)
		return mrt__errf(err, errlen, MRT_ERR_FORMAT,
		                 "tensor '%s': shape in '%s' has %lld elements, the tensor %llu",
		                 c->name, key, (long long)n, (unsigned long long)ne);
	return 0;
}

/* ---- validation ---- */

/* Every node input defined before use, no value defined twice, every output
 * defined. */
static int validate(const mrt__graph *g, char *err, size_t errlen)
{
	name_set set;
	int i, j, rc = 0;

	size_t total = (size_t)g->n_inputs + (size_t)g->n_consts;

	for (i = 0; i < g->n_nodes; i++) /* sized for every name: never grows */
		total += (size_t)g->nodes[i].n_out;
	if (set_init(&set, total) != 0)
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	for (i = 0; i < g->n_inputs; i++)
		if (set_has(&set, g->inputs[i].name, 1)) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT, "input '%s' is declared twice",
			               g->inputs[i].name);
			goto out;
		}
	for (i = 0; i < g->n_consts; i++)
		if (set_has(&set, g->consts[i].name, 1)) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT,
			               "constant '%s' duplicates another value's name",
			               g->consts[i].name);
			goto out;
		}
	for (i = 0; i < g->n_nodes; i++) {
		const mrt__node *n = &g->nodes[i];
		for (j = 0; j < n->n_in; j++)
			if (n->in[j][0] != 0 && !set_has(&set, n->in[j], 0)) {
				rc = mrt__errf(
				    err, errlen, MRT_ERR_FORMAT,
				    "node %d ('%s', %s): input '%s' is not a graph input, a "
				    "constant or an earlier node's output",
				    i, n->name, n->op, n->in[j]);
				goto out;
			}
		for (j = 0; j < n->n_out; j++)
			if (n->out[j][0] == 0 || set_has(&set, n->out[j], 1)) {
				rc = mrt__errf(
				    err, errlen, MRT_ERR_FORMAT,
				    "node %d ('%s', %s): output '%s' is empty or defined twice", i,
				    n->name, n->op, n->out[j]);
				goto out;
			}
	}
	for (i = 0; i < g->n_outputs; i++)
		if (!set_has(&set, g->outputs[i].name, 0)) {
			rc = mrt__errf(err, errlen, MRT_ERR_FORMAT, "output '%s' is never computed",
			               g->outputs[i].name);
			goto out;
		}
out:
	free(set.slots);
	return rc;
}

mrt__graph *mrt__graph_read(const mrt_gguf *f, char *err, size_t errlen)
{
	mrt__graph *g = calloc(1, sizeof(*g));
	mrt_gguf_str arch;
	uint64_t version = 0, count = 0, nt;
	int i, rc;

	if (g == NULL) {
		mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (mrt_gguf_get_str(f, "general.architecture", &arch) != 0 ||
	    !mrt_gguf_str_eq(arch, MRT_GRAPH_ARCH)) {
		mrt__errf(err, errlen, MRT_ERR_FORMAT, "general.architecture is not '%s'",
		          MRT_GRAPH_ARCH);
		goto fail;
	}
	if (mrt_gguf_get_u64(f, "modelgraph.version", &version) != 0 ||
	    version != MRT_GRAPH_VERSION) {
		mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
		          "modelgraph.version is missing or not %d", MRT_GRAPH_VERSION);
		goto fail;
	}
	if (mrt_gguf_get_i64(f, "modelgraph.opset", &g->opset) != 0)
		g->opset = 0;
	if (read_ios(f, "input", &g->inputs, &g->n_inputs, err, errlen) != 0 ||
	    read_ios(f, "output", &g->outputs, &g->n_outputs, err, errlen) != 0)
		goto fail;
	if (mrt_gguf_get_u64(f, "modelgraph.node_count", &count) != 0 || count > MAX_NODES) {
		mrt__errf(err, errlen, MRT_ERR_FORMAT,
		          "modelgraph.node_count is missing or too large");
		goto fail;
	}
	g->nodes = calloc(count + 1, sizeof(*g->nodes));
	nt = mrt_gguf_n_tensors(f);
	g->consts = calloc(nt + 1, sizeof(*g->consts));
	if (g->nodes == NULL || g->consts == NULL || nt > MAX_NODES) {
		mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < (int)count; i++) {
		g->n_nodes = i + 1;
		if ((rc = read_node(f, i, &g->nodes[i], err, errlen)) != 0)
			goto fail;
	}
	if (read_attrs(f, g, err, errlen) != 0)
		goto fail;
	for (i = 0; i < (int)nt; i++) {
		g->n_consts = i + 1;
		if (read_const(f, (uint64_t)i, &g->consts[i], err, errlen) != 0)
			goto fail;
	}
	if (validate(g, err, errlen) != 0)
		goto fail;
	return g;
fail:
	mrt__graph_free(g);
	return NULL;
}

/* ---- writing ---- */

static int put_shape(mrt_gguf_writer *w, const char *key, const int64_t *dims, int ndim)
{
	return mrt_gguf_writer_set_arr(w, key, MRT_GGUF_INT64, dims, (uint64_t)ndim);
}

static int write_ios(mrt_gguf_writer *w, const char *what, const mrt__value_info *v, int n)
{
	char key[KEY_MAX];
	const char **names = calloc((size_t)n + 1, sizeof(*names));
	int i, rc;

	if (names == NULL)
		return MRT_ERR_NOMEM;
	for (i = 0; i < n; i++)
		names[i] = v[i].name;
	snprintf(key, sizeof(key), "modelgraph.%ss", what);
	rc = mrt_gguf_writer_set_arr_str(w, key, names, (uint64_t)n);
	free(names);
	for (i = 0; rc == 0 && i < n; i++) {
		snprintf(key, sizeof(key), "modelgraph.%s.%s.dtype", what, v[i].name);
		rc = mrt_gguf_writer_set_str(w, key, dtype_of_type(v[i].type));
		snprintf(key, sizeof(key), "modelgraph.%s.%s.shape", what, v[i].name);
		if (rc == 0)
			rc = put_shape(w, key, v[i].dims, v[i].ndim);
	}
	return rc;
}

static int write_attr(mrt_gguf_writer *w, const char *key, const mrt__attr *a)
{
	switch (a->kind) {
	case MRT__ATTR_INT:
		return mrt_gguf_writer_set_i64(w, key, a->i);
	case MRT__ATTR_FLOAT:
		return mrt_gguf_writer_set_f32(w, key, a->f);
	case MRT__ATTR_STRING:
		return mrt_gguf_writer_set_str(w, key, a->s ? a->s : "");
	case MRT__ATTR_INTS:
		return mrt_gguf_writer_set_arr(w, key, MRT_GGUF_INT64, a->ints, (uint64_t)a->n);
	case MRT__ATTR_FLOATS:
		return mrt_gguf_writer_set_arr(w, key, MRT_GGUF_FLOAT32, a->floats, (uint64_t)a->n);
	default:
		return MRT_ERR_INVALID;
	}
}

static int write_node(mrt_gguf_writer *w, int i, const mrt__node *n)
{
	char key[KEY_MAX];
	int rc, j;

	snprintf(key, sizeof(key), "modelgraph.node.%d.op", i);
	rc = mrt_gguf_writer_set_str(w, key, n->op);
	snprintf(key, sizeof(key), "modelgraph.node.%d.name", i);
	if (rc == 0)
		rc = mrt_gguf_writer_set_str(w, key, n->name ? n->name : "");
	snprintf(key, sizeof(key), "modelgraph.node.%d.inputs", i);
	if (rc == 0)
		rc = mrt_gguf_writer_set_arr_str(w, key, (const char *const *)n->in,
		                                 (uint64_t)n->n_in);
	snprintf(key, sizeof(key), "modelgraph.node.%d.outputs", i);
	if (rc == 0)
		rc = mrt_gguf_writer_set_arr_str(w, key, (const char *const *)n->out,
		                                 (uint64_t)n->n_out);
	for (j = 0; rc == 0 && j < n->n_attr; j++) {
		if (snprintf(key, sizeof(key), "modelgraph.node.%d.attr.%s", i, n->attr[j].name) >=
		    (int)sizeof(key))
			return MRT_ERR_INVALID;
		rc = write_attr(w, key, &n->attr[j]);
	}
	return rc;
}

/* GGUF ne of a constant: ONNX dims reversed for rank 1..4, [1] for a
 * scalar, [last, product of the rest] above rank 4. */
static uint32_t const_ne(const mrt__const *c, uint64_t *ne)
{
	int d;

	if (c->ndim == 0) {
		ne[0] = 1;
		return 1;
	}
	/* Block types are quantized along rows of everything but the first
	 * dim (a Conv weight [OC, IC/g, kh, kw] has rows of IC/g*kh*kw), so
	 * they are stored 2-D: ne = [row length, dims[0]]. */
	if (c->ndim > 2 && mrt_type_get(c->type).block_elems > 1) {
		ne[1] = (uint64_t)c->dims[0];
		ne[0] = 1;
		for (d = 1; d < c->ndim; d++)
			ne[0] *= (uint64_t)c->dims[d];
		return 2;
	}
	if (c->ndim <= 4) {
		for (d = 0; d < c->ndim; d++)
			ne[d] = (uint64_t)c->dims[c->ndim - 1 - d];
		return (uint32_t)c->ndim;
	}
	ne[0] = (uint64_t)c->dims[c->ndim - 1];
	ne[1] = 1;
	for (d = 0; d < c->ndim - 1; d++)
		ne[1] *= (uint64_t)c->dims[d];
	return 2;
}

int mrt__graph_write(const mrt__graph *g, mrt_gguf_writer *w, char *err, size_t errlen)
{
	char key[KEY_MAX];
	uint64_t ne[4];
	int i, rc;

	rc = mrt_gguf_writer_set_str(w, "general.architecture", MRT_GRAPH_ARCH);
	if (rc == 0)
		rc = mrt_gguf_writer_set_u32(w, "modelgraph.version", MRT_GRAPH_VERSION);
	if (rc == 0)
		rc = mrt_gguf_writer_set_i64(w, "modelgraph.opset", g->opset);
	if (rc == 0)
		rc = write_ios(w, "input", g->inputs, g->n_inputs);
	if (rc == 0)
		rc = write_ios(w, "output", g->outputs, g->n_outputs);
	if (rc == 0)
		rc = mrt_gguf_writer_set_u32(w, "modelgraph.node_count", (uint32_t)g->n_nodes);
	if (rc != 0)
		return mrt__errf(err, errlen, rc, "cannot write graph metadata");
	for (i = 0; i < g->n_nodes; i++)
		if ((rc = write_node(w, i, &g->nodes[i])) != 0)
			return mrt__errf(err, errlen, rc, "cannot write node %d ('%s')", i,
			                 g->nodes[i].name ? g->nodes[i].name : "");
	for (i = 0; i < g->n_consts; i++) {
		const mrt__const *c = &g->consts[i];
		uint32_t nd = const_ne(c, ne);
		snprintf(key, sizeof(key), "modelgraph.const.%s.shape", c->name);
		rc = put_shape(w, key, c->dims, c->ndim);
		if (rc == 0)
			rc = mrt_gguf_writer_add_tensor(w, c->name, c->type, nd, ne, c->data);
		if (rc != 0)
			return mrt__errf(err, errlen, rc, "cannot write constant '%s'", c->name);
	}
	return 0;
}
