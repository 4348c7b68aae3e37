/* `modelctl inspect`: what a GGUF file holds (header, metadata with long
 * arrays abbreviated, the graph's inputs/outputs and operators, tensors and
 * totals by type), as text or as JSON. Works on any GGUF file. */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "modelctl.h"
#include "mrt.h"
#include "mrt_gguf.h"

static const char *const INSPECT_USAGE = "usage: modelctl inspect FILE.gguf [--json]\n";
static const char *const INSPECT_HELP =
	"\n"
	"Show a GGUF file: version, alignment, metadata (arrays longer than 8\n"
	"elements show their first 3), for graph models the inputs and outputs\n"
	"(dtype and shape, * = any size) and the node count by operator, then every\n"
	"tensor (name, type, shape in ggml order ne0 first, bytes, offset in the data\n"
	"section) and the totals by type. --json prints the same as one JSON object.\n";

#define ARRAY_SHOW_ALL 8 /* arrays up to this length are shown whole */
#define ARRAY_HEAD 3     /* longer ones show this many elements */
#define STR_SHOW 48      /* strings are cut after this many bytes */

/* A growing text buffer; on allocation failure it stops growing. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
	int ascii; /* escape every byte >= 0x80 (for text that is not UTF-8) */
} strbuf;

static void sb_add(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 64) * 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return;
		b->s = s;
		b->cap = cap;
	}
}

static const char *vtype_name(int t)
{
	static const char *const names[] = {"u8",   "i8",  "u16",   "i16", "u32", "i32", "f32",
					    "bool", "str", "array", "u64", "i64", "f64"};
	return t >= 0 && t <= MRT_GGUF_FLOAT64 ? names[t] : "?";
}

/* A file string, quoted with q, escaped and cut after max bytes. */
static void sb_str(strbuf *b, mrt_gguf_str s, char q, uint64_t max)
{
	uint64_t i, n = s.len < max ? s.len : max;

	sb_add(b, "%c", q);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c == (unsigned char)q || c == '\\')
			sb_add(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && b->ascii))
			sb_add(b, "\\x%02x", c);
		else
			sb_add(b, "%c", c);
	}
	sb_add(b, "%c%s", q, s.len > n ? "..." : "");
}

static void sb_value(strbuf *b, const mrt_gguf_value *v, int depth);

/* The shortest "%g" text that reads back as the same float32 (f32 values
 * widened to double print as 9.99999975e-06 otherwise), or %.17g. */
static void sb_real(strbuf *b, double v, int is_f32)
{
	char buf[40];
	int p;

	for (p = 6; is_f32 && p <= 9; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, v);
		if ((float)strtod(buf, NULL) == (float)v) {
			sb_add(b, "%s", buf);
			return;
		}
	}
	sb_add(b, "%.17g", v);
}

/* Element i of an array, shown like a scalar. */
static void sb_elem(strbuf *b, const mrt_gguf_value *arr, uint64_t i, int depth)
{
	int et = arr->v.arr.elem_type;
	mrt_gguf_value sub;
	mrt_gguf_str s;
	int64_t iv;
	double dv;

	if (et == MRT_GGUF_STRING && mrt_gguf_arr_str(arr, i, &s) == 0)
		sb_str(b, s, '\'', STR_SHOW);
	else if (et == MRT_GGUF_ARRAY && mrt_gguf_arr_sub(arr, i, &sub) == 0)
		sb_value(b, &sub, depth + 1);
	else if (et == MRT_GGUF_BOOL)
		sb_add(b, "%s", arr->v.arr.data[i] ? "true" : "false");
	else if ((et == MRT_GGUF_FLOAT32 || et == MRT_GGUF_FLOAT64) &&
		 mrt_gguf_arr_f64(arr, i, &dv) == 0)
		sb_real(b, dv, et == MRT_GGUF_FLOAT32);
	else if (et == MRT_GGUF_UINT64) {
		uint64_t u;
		memcpy(&u, arr->v.arr.data + i * 8, 8);
		sb_add(b, "%" PRIu64, u);
	} else if (mrt_gguf_arr_i64(arr, i, &iv) == 0)
		sb_add(b, "%" PRId64, iv);
	else
		sb_add(b, "?");
}

/* A metadata value in one line: scalars as they are, arrays as
 * "[N type: a, b, c, ...]" with at most ARRAY_HEAD elements when long. */
static void sb_value(strbuf *b, const mrt_gguf_value *v, int depth)
{
	uint64_t i, n, show;

	switch (v->type) {
	case MRT_GGUF_STRING:
		sb_str(b, v->v.str, '"', STR_SHOW);
		return;
	case MRT_GGUF_BOOL:
		sb_add(b, "%s", v->v.b ? "true" : "false");
		return;
	case MRT_GGUF_FLOAT32:
	case MRT_GGUF_FLOAT64:
		sb_real(b, v->v.f64, v->type == MRT_GGUF_FLOAT32);
		return;
	case MRT_GGUF_UINT8:
	case MRT_GGUF_UINT16:
	case MRT_GGUF_UINT32:
	case MRT_GGUF_UINT64:
		sb_add(b, "%" PRIu64, v->v.u64);
		return;
	case MRT_GGUF_ARRAY:
		break;
	default:
		sb_add(b, "%" PRId64, v->v.i64);
		return;
	}
	n = v->v.arr.n;
	show = n <= ARRAY_SHOW_ALL ? n : ARRAY_HEAD;
	if (depth > 2)
		show = 0;
	sb_add(b, "[%" PRIu64 " %s%s%s", n,
	       v->v.arr.elem_type == MRT_GGUF_STRING  ? "strings"
	       : v->v.arr.elem_type == MRT_GGUF_ARRAY ? "arrays"
						      : vtype_name(v->v.arr.elem_type),
	       show ? ": " : "", "");
	for (i = 0; i < show; i++) {
		sb_add(b, "%s", i ? ", " : "");
		sb_elem(b, v, i, depth);
	}
	sb_add(b, "%s]", show < n && show ? ", ..." : "");
}

static char *file_str(mrt_gguf_str s)
{
	char *c = malloc(s.len + 1);

	if (c) {
		memcpy(c, s.ptr, s.len);
		c[s.len] = '\0';
	}
	return c;
}

/* A metadata key as a UTF-8 C string: bytes that are not UTF-8 are
 * escaped as \xNN. New string or NULL. */
static char *file_key(mrt_gguf_str key)
{
	strbuf b = {NULL, 0, 0, 0};
	json_t *probe;

	sb_str(&b, key, '\'', UINT64_MAX);
	if (b.s && (probe = json_stringn(b.s, b.len)) != NULL) {
		json_decref(probe);
	} else {
		free(b.s);
		b = (strbuf){NULL, 0, 0, 1};
		sb_str(&b, key, '\'', UINT64_MAX);
	}
	if (!b.s)
		return NULL;
	/* drop the quotes sb_str added */
	memmove(b.s, b.s + 1, b.len - 1);
	b.s[b.len - 2] = '\0';
	return b.s;
}

static json_t *dims_json(const int64_t *dims, int ndim)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < ndim; i++)
		json_array_append_new(a, dims[i] < 0 ? json_string("*") : json_integer(dims[i]));
	return a;
}

/* Graph value types (enum mrt_type) by the names the API uses. */
static const char *io_dtype_name(int type)
{
	switch (type) {
	case MRT_TYPE_F32:
		return mrt_dtype_name(MRT_DTYPE_F32);
	case MRT_TYPE_I64:
		return mrt_dtype_name(MRT_DTYPE_I64);
	case MRT_TYPE_I32:
		return mrt_dtype_name(MRT_DTYPE_I32);
	}
	return mrt_type_get(type).name ?: "?";
}

static json_t *io_json(const mrt__value_info *v, int n)
{
	json_t *a = json_array();
	int i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:o}", "name", v[i].name, "dtype",
						   io_dtype_name(v[i].type), "shape",
						   dims_json(v[i].dims, v[i].ndim)));
	return a;
}

/* Graph section: inputs, outputs, node count by op type. */
static json_t *graph_json(const mrt_gguf *g, char *err, size_t errlen)
{
	mrt__graph *graph = mrt__graph_read(g, err, errlen);
	json_t *ops, *res;
	int i;

	if (!graph)
		return NULL;
	ops = json_object();
	for (i = 0; i < graph->n_nodes; i++) {
		const char *op = graph->nodes[i].op;
		json_t *c = json_object_get(ops, op);
		json_object_set_new(ops, op, json_integer(c ? json_integer_value(c) + 1 : 1));
	}
	res = json_pack("{s:o,s:o,s:i,s:o}", "inputs", io_json(graph->inputs, graph->n_inputs),
			"outputs", io_json(graph->outputs, graph->n_outputs), "nodes",
			graph->n_nodes, "ops", ops);
	mrt__graph_free(graph);
	return res;
}

/* The double nearest the shortest decimal that reads back as float32 v, so
 * that 15-digit printing shows 1e-05 rather than 9.99999975e-06. */
static double short_f32(double v)
{
	strbuf b = {NULL, 0, 0, 0};
	double d = v;

	sb_real(&b, v, 1);
	if (b.s)
		d = strtod(b.s, NULL);
	free(b.s);
	return d;
}

/* A scalar metadata value as its JSON value (strings that are not UTF-8
 * and arrays give NULL: they are shown as text). */
static json_t *scalar_json(const mrt_gguf_value *v)
{
	switch (v->type) {
	case MRT_GGUF_ARRAY:
		return NULL;
	case MRT_GGUF_STRING:
		return json_stringn(v->v.str.ptr, v->v.str.len);
	case MRT_GGUF_BOOL:
		return json_boolean(v->v.b);
	case MRT_GGUF_FLOAT32:
		return json_real(short_f32(v->v.f64));
	case MRT_GGUF_FLOAT64:
		return json_real(v->v.f64);
	case MRT_GGUF_UINT8:
	case MRT_GGUF_UINT16:
	case MRT_GGUF_UINT32:
	case MRT_GGUF_UINT64:
		if (v->v.u64 > (uint64_t)INT64_MAX)
			return json_real((double)v->v.u64);
		return json_integer((json_int_t)v->v.u64);
	}
	return json_integer((json_int_t)v->v.i64);
}

/* An array (or a string that is not UTF-8) in JSON: its element type,
 * length and summary text (taken over). */
static json_t *array_json(const mrt_gguf_value *v, json_t *summary)
{
	if (!summary)
		return NULL;
	if (v->type != MRT_GGUF_ARRAY)
		return json_pack("{s:s,s:o}", "type", "str", "text", summary);
	return json_pack("{s:s,s:s,s:I,s:o}", "type", "array", "elem_type",
			 vtype_name(v->v.arr.elem_type), "n", (json_int_t)v->v.arr.n, "text",
			 summary);
}

/* The whole description as JSON (also the source of the text form). */
static json_t *describe(const mrt_gguf *g, const char *path)
{
	json_t *doc, *meta = json_object(), *tensors = json_array(), *totals = json_object();
	uint64_t i, sum_bytes = 0;
	mrt_gguf_str arch;
	char err[512];

	for (i = 0; i < mrt_gguf_n_kv(g); i++) {
		mrt_gguf_str key;
		mrt_gguf_value val;
		strbuf b = {0};
		json_t *text, *summary;
		char *k;
		if (mrt_gguf_kv(g, i, &key, &val) != 0)
			continue;
		k = file_key(key);
		text = scalar_json(&val);
		if (!text) {
			sb_value(&b, &val, 0);
			summary = b.s ? json_stringn(b.s, b.len) : NULL;
			if (!summary) { /* not UTF-8 (or cut inside a character) */
				free(b.s);
				b = (strbuf){NULL, 0, 0, 1};
				sb_value(&b, &val, 0);
				summary = b.s ? json_stringn(b.s, b.len) : NULL;
			}
			text = array_json(&val, summary);
		}
		if (k && text)
			json_object_set_new(meta, k, text);
		else
			json_decref(text);
		free(k);
		free(b.s);
	}
	for (i = 0; i < mrt_gguf_n_tensors(g); i++) {
		mrt_gguf_tensor_info t;
		json_t *ne = json_array(), *tot;
		const char *tname;
		char *name;
		uint32_t d;
		if (mrt_gguf_tensor(g, i, &t) != 0)
			continue;
		for (d = 0; d < t.n_dims; d++)
			json_array_append_new(ne, json_integer((json_int_t)t.ne[d]));
		tname = mrt_type_get(t.type).name ?: "?";
		name = file_str(t.name);
		json_array_append_new(tensors,
				      json_pack("{s:s?,s:s,s:o,s:I,s:I}", "name", name, "type",
						tname, "ne", ne, "bytes", (json_int_t)t.nbytes,
						"offset", (json_int_t)t.offset));
		free(name);
		tot = json_object_get(totals, tname);
		if (!tot) {
			tot = json_pack("{s:I,s:I}", "tensors", (json_int_t)0, "bytes",
					(json_int_t)0);
			json_object_set_new(totals, tname, tot);
		}
		json_object_set_new(
		    tot, "tensors",
		    json_integer(json_integer_value(json_object_get(tot, "tensors")) + 1));
		json_object_set_new(tot, "bytes",
				    json_integer(json_integer_value(json_object_get(tot, "bytes")) +
						 (json_int_t)t.nbytes));
		sum_bytes += t.nbytes;
	}
	doc = json_pack("{s:s,s:i,s:i,s:I,s:o,s:o,s:o,s:I}", "file", path, "version",
			(int)mrt_gguf_version(g), "alignment", (int)mrt_gguf_alignment(g),
			"file_size", (json_int_t)mrt_gguf_file_size(g), "metadata", meta, "tensors",
			tensors, "totals", totals, "tensor_bytes", (json_int_t)sum_bytes);
	if (doc && mrt_gguf_get_str(g, "general.architecture", &arch) == 0 &&
	    mrt_gguf_str_eq(arch, MRT_GRAPH_ARCH)) {
		json_t *graph = graph_json(g, err, sizeof(err));
		if (graph)
			json_object_set_new(doc, "graph", graph);
		else
			json_object_set_new(doc, "graph_error", json_string(err));
	}
	return doc;
}

static void print_io(const char *what, const json_t *list)
{
	size_t i, d;
	json_t *v, *dim;

	json_array_foreach(list, i, v)
	{
		printf("  %-6s %-24s %-8s [", what, json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "dtype")));
		json_array_foreach(json_object_get(v, "shape"), d, dim)
		{
			if (json_is_string(dim))
				printf("%s*", d ? "," : "");
			else
				printf("%s%" JSON_INTEGER_FORMAT, d ? "," : "",
				       json_integer_value(dim));
		}
		printf("]\n");
	}
}

/* One metadata line: arrays by their summary text, scalars as JSON. */
static void print_meta(const char *key, const json_t *v)
{
	char *s;

	if (json_is_object(v)) {
		printf("  %s = %s\n", key, json_string_value(json_object_get(v, "text")));
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
	printf("  %s = %s\n", key, s ? s : "?");
	free(s);
}

static void print_text(const json_t *doc)
{
	const json_t *graph = json_object_get(doc, "graph"), *v;
	const char *key;
	size_t i, d;

	printf("file: %s\n", json_string_value(json_object_get(doc, "file")));
	printf("GGUF version %d, alignment %d, %" JSON_INTEGER_FORMAT " bytes\n",
	       (int)json_integer_value(json_object_get(doc, "version")),
	       (int)json_integer_value(json_object_get(doc, "alignment")),
	       json_integer_value(json_object_get(doc, "file_size")));
	printf("\nmetadata (%zu keys):\n", json_object_size(json_object_get(doc, "metadata")));
	json_object_foreach((json_t *)json_object_get(doc, "metadata"), key, v) print_meta(key, v);
	if (graph) {
		printf("\ngraph:\n");
		print_io("input", json_object_get(graph, "inputs"));
		print_io("output", json_object_get(graph, "outputs"));
		printf("  %" JSON_INTEGER_FORMAT " nodes:",
		       json_integer_value(json_object_get(graph, "nodes")));
		json_object_foreach((json_t *)json_object_get(graph, "ops"), key, v)
		    printf(" %s %" JSON_INTEGER_FORMAT, key, json_integer_value(v));
		printf("\n");
	} else if ((v = json_object_get(doc, "graph_error"))) {
		printf("\ngraph: unreadable: %s\n", json_string_value(v));
	}
	printf("\ntensors (%zu):\n", json_array_size(json_object_get(doc, "tensors")));
	printf("  %-36s %-6s %-20s %12s %12s\n", "name", "type", "ne", "bytes", "offset");
	json_array_foreach(json_object_get(doc, "tensors"), i, v)
	{
		strbuf b = {0};
		json_t *n;
		sb_add(&b, "[");
		json_array_foreach(json_object_get(v, "ne"), d, n)
		    sb_add(&b, "%s%" JSON_INTEGER_FORMAT, d ? "," : "", json_integer_value(n));
		sb_add(&b, "]");
		printf("  %-36s %-6s %-20s %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT "\n",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "type")), b.s ? b.s : "?",
		       json_integer_value(json_object_get(v, "bytes")),
		       json_integer_value(json_object_get(v, "offset")));
		free(b.s);
	}
	printf("\ntotals by type:\n");
	json_object_foreach((json_t *)json_object_get(doc, "totals"), key, v)
	    printf("  %-6s %6" JSON_INTEGER_FORMAT " tensors %14" JSON_INTEGER_FORMAT " bytes\n",
		   key, json_integer_value(json_object_get(v, "tensors")),
		   json_integer_value(json_object_get(v, "bytes")));
	printf("  %-6s %6zu tensors %14" JSON_INTEGER_FORMAT " bytes\n", "all",
	       json_array_size(json_object_get(doc, "tensors")),
	       json_integer_value(json_object_get(doc, "tensor_bytes")));
}

int modelctl_inspect(int argc, char **argv)
{
	const char *path = NULL;
	int i, as_json = 0;
	char err[512];
	mrt_gguf *g;
	json_t *doc;

	for (i = 1; i < argc; i++) {
		if (modelctl_is_help(argv[i])) {
			printf("%s%s", INSPECT_USAGE, INSPECT_HELP);
			return MODELCTL_OK;
		}
		if (!strcmp(argv[i], "--json"))
			as_json = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return modelctl_usage_error("inspect", INSPECT_USAGE, "unknown option %s",
						    argv[i]);
		else if (path)
			return modelctl_usage_error("inspect", INSPECT_USAGE,
						    "unexpected argument %s", argv[i]);
		else
			path = argv[i];
	}
	if (!path)
		return modelctl_usage_error("inspect", INSPECT_USAGE, "needs FILE.gguf");
	if (!(g = mrt_gguf_open(path, err, sizeof(err)))) {
		modelctl_error("%s: %s", path, err);
		return MODELCTL_FAIL;
	}
	doc = describe(g, path);
	if (doc && as_json) {
		char *s = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		if (s)
			printf("%s\n", s);
		free(s);
	} else if (doc) {
		print_text(doc);
	}
	json_decref(doc);
	mrt_gguf_close(g);
	if (!doc) {
		modelctl_error("%s: out of memory", path);
		return MODELCTL_FAIL;
	}
	return MODELCTL_OK;
}
