/* JSON codec of the predict bodies (see codec.h): request JSON -> dense
 * input tensors checked against the model's declared inputs, output tensors
 * -> response JSON. Every refusal names the input, the place in the nested
 * lists and what was expected, so a client can fix its request. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* Largest number of elements one input may hold (2^31). */
#define CODEC_MAX_ELEMS ((int64_t)1 << 31)
/* jansson formatting of every body: compact, floats with 9 significant
 * digits, which is enough for any float32 to read back to the same bits. */
#define CODEC_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

int codec_fail(codec_error *e, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

int codec_fail_run(codec_error *e, int status, const char *message)
{
	switch (status) {
	case MRT_ERR_SHAPE:
		return codec_fail(e, 400, "invalid_shape", "%s", message);
	case MRT_ERR_DTYPE:
		return codec_fail(e, 400, "invalid_dtype", "%s", message);
	case MRT_ERR_RANGE:
		return codec_fail(e, 400, "out_of_range", "%s", message);
	case MRT_ERR_INVALID:
		return codec_fail(e, 400, "invalid_request", "%s", message);
	}
	return codec_fail(e, 500, "internal", "%s: %s", mrt_strerror(status), message);
}

void codec_dims_str(const int64_t *dims, int ndim, char *buf, size_t buflen)
{
	size_t used = 0;
	int i, n;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	n = snprintf(buf, buflen, "[");
	used = n > 0 ? (size_t)n : 0;
	for (i = 0; i < ndim && used < buflen; i++) {
		const char *sep = i ? "," : "";
		if (dims[i] < 0)
			n = snprintf(buf + used, buflen - used, "%s*", sep);
		else
			n = snprintf(buf + used, buflen - used, "%s%" PRId64, sep, dims[i]);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used < buflen)
		snprintf(buf + used, buflen - used, "]");
}

/* "[1][2]" rendering of a path of list indices. */
static void path_str(const int64_t *path, int depth, char *buf, size_t buflen)
{
	size_t used = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < depth && used < buflen; i++) {
		n = snprintf(buf + used, buflen - used, "[%" PRId64 "]", path[i]);
		used += n > 0 ? (size_t)n : 0;
	}
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* "a, b, c": the model's input names, for missing/unknown input messages. */
static void input_names(const mrt_model *model, char *buf, size_t buflen)
{
	mrt_io_info info;
	size_t used = 0;
	int i, n, count = mrt_model_n_inputs(model);

	buf[0] = '\0';
	for (i = 0; i < count && used < buflen; i++) {
		if (mrt_model_input(model, i, &info) != 0)
			continue;
		n = snprintf(buf + used, buflen - used, "%s%s", i ? ", " : "", info.name);
		used += n > 0 ? (size_t)n : 0;
	}
}

/* State of decoding one input: its declaration, the shape taken from the
 * request, the buffer being filled and the current path for messages. */
typedef struct decode_state {
	const mrt_io_info *info;
	int ndim;
	int64_t dims[MRT_MAX_DIMS];
	int64_t path[MRT_MAX_DIMS];
	unsigned char *data;
	int64_t next; /* next element to write */
	codec_error *e;
} decode_state;

static int fail_at(decode_state *s, int depth, const char *code, const char *label, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));

/* Fail with "input 'x': <label> at [i][j]: <detail>". */
static int fail_at(decode_state *s, int depth, const char *code, const char *label, const char *fmt,
		   ...)
{
	char detail[256], where[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	path_str(s->path, depth, where, sizeof(where));
	return codec_fail(s->e, 400, code, "input '%s': %s at %s: %s", s->info->name, label, where,
			  detail);
}

/* Store one leaf number, checking its type against the input's dtype. */
static int decode_leaf(decode_state *s, const json_t *v, int depth)
{
	const char *want = mrt_dtype_name(s->info->dtype);
	json_int_t iv;
	double dv;
	float fv;

	if (s->info->dtype == MRT_DTYPE_F32) {
		if (!json_is_number(v))
			return fail_at(s, depth, "invalid_dtype", "bad value",
				       "expected a number (%s), got %s", want, json_kind(v));
		dv = json_number_value(v);
		fv = (float)dv;
		if (!isfinite(dv) || !isfinite(fv))
			return fail_at(s, depth, "out_of_range", "bad value",
				       "value %g does not fit float32", dv);
		((float *)s->data)[s->next++] = fv;
		return 0;
	}
	if (!json_is_integer(v))
		return fail_at(s, depth, "invalid_dtype", "bad value",
			       "expected an integer (%s), got %s", want, json_kind(v));
	iv = json_integer_value(v);
	if (s->info->dtype == MRT_DTYPE_I64) {
		((int64_t *)s->data)[s->next++] = (int64_t)iv;
		return 0;
	}
	if (iv < INT32_MIN || iv > INT32_MAX)
		return fail_at(s, depth, "out_of_range", "bad value",
			       "value %" JSON_INTEGER_FORMAT " does not fit int32", iv);
	((int32_t *)s->data)[s->next++] = (int32_t)iv;
	return 0;
}

/* Walk a list at depth `depth` (0 = the batch), check it holds exactly
 * dims[depth] entries of the right kind and store the leaves in order. The
 * recursion depth is bounded by ndim <= MRT_MAX_DIMS. */
static int decode_list(decode_state *s, const json_t *list, int depth)
{
	size_t i, n = json_array_size(list);

	if ((int64_t)n != s->dims[depth])
		return fail_at(s, depth, "invalid_shape", "ragged list",
			       "expected %" PRId64 " elements, got %zu", s->dims[depth], n);
	for (i = 0; i < n; i++) {
		const json_t *item = json_array_get(list, i);
		s->path[depth] = (int64_t)i;
		if (depth + 1 == s->ndim) {
			if (json_is_array(item))
				return fail_at(s, depth + 1, "invalid_shape", "ragged list",
					       "expected a number, got a list");
			if (decode_leaf(s, item, depth + 1) != 0)
				return -1;
		} else if (!json_is_array(item)) {
			if (json_is_number(item))
				return fail_at(s, depth + 1, "invalid_shape", "ragged list",
					       "expected a list of %" PRId64
					       " elements, got a number",
					       s->dims[depth + 1]);
			return fail_at(s, depth + 1, "invalid_dtype", "bad value",
				       "expected a list, got %s", json_kind(item));
		} else if (decode_list(s, item, depth + 1) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Shape of a nested list, read along its first elements. */
static int infer_shape(decode_state *s, const json_t *batch)
{
	const json_t *cur = batch;

	s->ndim = 0;
	while (json_is_array(cur)) {
		if (s->ndim == MRT_MAX_DIMS)
			return codec_fail(s->e, 400, "invalid_shape",
					  "input '%s': more than %d nested list levels",
					  s->info->name, MRT_MAX_DIMS);
		s->dims[s->ndim++] = (int64_t)json_array_size(cur);
		cur = json_array_get(cur, 0); /* NULL for an empty list */
	}
	return 0;
}

/* The whole request shape of one input against its declaration. */
static int check_shape(decode_state *s)
{
	const mrt_io_info *info = s->info;
	char want[128], got[128];
	int i, ok = s->ndim == info->ndim;

	for (i = 0; ok && i < info->ndim; i++)
		if (info->dims[i] >= 0 && info->dims[i] != s->dims[i])
			ok = 0;
	if (ok)
		return 0;
	codec_dims_str(info->dims, info->ndim, want, sizeof(want));
	codec_dims_str(s->dims, s->ndim, got, sizeof(got));
	return codec_fail(s->e, 400, "invalid_shape", "input '%s': expected %s, got %s", info->name,
			  want, got);
}

/* Ragged id lists of an input declared [*,-1] with a pad id: instance b's
 * list goes to row b of a [B,L] tensor, L the longest list (at least 1),
 * the rest of each row filled with the pad id. An empty list is a row of
 * pad ids. */
static int decode_ragged(const mrt_io_info *info, const json_t *batch, int64_t pad, mrt_tensor *t,
			 codec_error *e)
{
	size_t b, j, n = json_array_size(batch), longest = 1;
	size_t es = mrt_dtype_size(info->dtype);
	decode_state s;
	int64_t elems;

	memset(&s, 0, sizeof(s));
	s.info = info;
	s.e = e;
	s.ndim = 2;
	if (!json_is_array(batch) || n == 0)
		return codec_fail(e, 400, "invalid_shape",
				  "input '%s': expected a non-empty list of id lists", info->name);
	for (b = 0; b < n; b++) {
		const json_t *row = json_array_get(batch, b);
		s.path[0] = (int64_t)b;
		if (!json_is_array(row))
			return fail_at(&s, 1, "invalid_shape", "bad value",
				       "expected a list of ids, got %s", json_kind(row));
		if (json_array_size(row) > longest)
			longest = json_array_size(row);
	}
	if (__builtin_mul_overflow((int64_t)n, (int64_t)longest, &elems) ||
	    elems > CODEC_MAX_ELEMS)
		return codec_fail(e, 400, "invalid_shape", "input '%s': more than %" PRId64
				  " elements", info->name, CODEC_MAX_ELEMS);
	s.dims[0] = (int64_t)n;
	s.dims[1] = (int64_t)longest;
	if (!(s.data = malloc((size_t)elems * es)))
		return codec_fail(e, 500, "internal", "out of memory");
	for (b = 0; b < n; b++) {
		const json_t *row = json_array_get(batch, b);
		s.path[0] = (int64_t)b;
		s.next = (int64_t)(b * longest);
		for (j = 0; j < json_array_size(row); j++) {
			const json_t *v = json_array_get(row, j);
			s.path[1] = (int64_t)j;
			if (decode_leaf(&s, v, 2) != 0) {
				free(s.data);
				return -1;
			}
		}
		for (; j < longest; j++) {
			if (info->dtype == MRT_DTYPE_I32)
				((int32_t *)s.data)[s.next++] = (int32_t)pad;
			else
				((int64_t *)s.data)[s.next++] = pad;
		}
	}
	t->name = info->name;
	t->dtype = info->dtype;
	t->ndim = 2;
	memcpy(t->dims, s.dims, sizeof(s.dims));
	t->data = s.data;
	return 0;
}

/* 1 when input info takes ragged lists (declared [*,-1] integer ids with a
 * pad id in the file); *pad (OUT) is that id. */
static int is_ragged(const mrt_model *model, int i, const mrt_io_info *info, int64_t *pad)
{
	return info->ndim == 2 && info->dims[0] < 0 && info->dims[1] < 0 &&
	       info->dtype != MRT_DTYPE_F32 && mrt_model_input_pad(model, i, pad);
}

/* Decode the batch list of one input into *t (OUT: dims and a new buffer). */
static int decode_input(const mrt_io_info *info, const json_t *batch, mrt_tensor *t, codec_error *e)
{
	decode_state s;
	int64_t elems = 1;
	size_t bytes;
	int i;

	memset(&s, 0, sizeof(s));
	s.info = info;
	s.e = e;
	if (!json_is_array(batch))
		return codec_fail(e, 400, "invalid_shape",
				  "input '%s': expected a list of instances, got %s", info->name,
				  json_kind(batch));
	if (json_array_size(batch) == 0)
		return codec_fail(e, 400, "invalid_shape",
				  "input '%s': empty batch: send at least one instance",
				  info->name);
	if (info->ndim == 0)
		return codec_fail(e, 400, "invalid_shape",
				  "input '%s': the model declares no batch dimension", info->name);
	if (infer_shape(&s, batch) != 0)
		return -1;
	for (i = 0; i < s.ndim; i++) {
		if (__builtin_mul_overflow(elems, s.dims[i], &elems) || elems > CODEC_MAX_ELEMS)
			return codec_fail(e, 400, "invalid_shape",
					  "input '%s': more than %" PRId64 " elements", info->name,
					  CODEC_MAX_ELEMS);
	}
	if (__builtin_mul_overflow((size_t)elems, mrt_dtype_size(info->dtype), &bytes))
		return codec_fail(e, 400, "invalid_shape", "input '%s': too large", info->name);
	/* Walk before comparing with the declaration: a ragged list is named as
	 * such rather than as a shape read from its first elements. */
	s.data = malloc(bytes ? bytes : 1);
	if (!s.data)
		return codec_fail(e, 500, "internal", "out of memory");
	if (decode_list(&s, batch, 0) != 0 || check_shape(&s) != 0) {
		free(s.data);
		return -1;
	}
	t->name = info->name;
	t->dtype = info->dtype;
	t->ndim = s.ndim;
	memcpy(t->dims, s.dims, sizeof(s.dims));
	t->data = s.data;
	return 0;
}

void codec_inputs_free(codec_inputs *in)
{
	int i;

	if (!in || !in->t)
		return;
	for (i = 0; i < in->n; i++)
		free(in->t[i].data);
	free(in->t);
	in->t = NULL;
	in->n = 0;
}

/* Per-input batch lists gathered from the request, in model input order
 * (borrowed references, or owned ones when built from instance objects). */
typedef struct gathered {
	int n;
	json_t **batch;
	int owned;
} gathered;

/* Index of the model input called name, or -1. */
static int input_index(const mrt_model *model, const char *name)
{
	mrt_io_info info;
	int i, n = mrt_model_n_inputs(model);

	for (i = 0; i < n; i++)
		if (mrt_model_input(model, i, &info) == 0 && !strcmp(info.name, name))
			return i;
	return -1;
}

/* {"name": [inst, ...], ...}: every model input present, no unknown name. */
static int gather_object(const mrt_model *model, const json_t *obj, gathered *g, codec_error *e)
{
	char names[400];
	mrt_io_info info;
	const char *key;
	json_t *val;
	int i;

	json_object_foreach((json_t *)obj, key, val)
	{
		if ((i = input_index(model, key)) < 0) {
			input_names(model, names, sizeof(names));
			return codec_fail(e, 400, "unknown_input",
					  "unknown input '%s' (expected: %s)", key, names);
		}
		g->batch[i] = val;
	}
	for (i = 0; i < g->n; i++) {
		if (g->batch[i] || mrt_model_input_optional(model, i))
			continue;
		mrt_model_input(model, i, &info);
		input_names(model, names, sizeof(names));
		return codec_fail(e, 400, "missing_input", "missing input '%s' (expected: %s)",
				  info.name, names);
	}
	return 0;
}

/* [{"name": value, ...}, ...]: one object per instance; builds one batch
 * list per input (owned by g). */
static int gather_instances(const mrt_model *model, const json_t *list, gathered *g, codec_error *e)
{
	char names[400];
	mrt_io_info info;
	const char *key;
	json_t *v;
	size_t k;
	int i;

	g->owned = 1;
	for (i = 0; i < g->n; i++)
		if (!(g->batch[i] = json_array()))
			return codec_fail(e, 500, "internal", "out of memory");
	input_names(model, names, sizeof(names));
	for (k = 0; k < json_array_size(list); k++) {
		json_t *inst = json_array_get(list, k);
		if (!json_is_object(inst))
			return codec_fail(e, 400, "invalid_request",
					  "instances[%zu]: expected an object like instances[0], "
					  "got %s",
					  k, json_kind(inst));
		json_object_foreach(inst, key, v)
		{
			if (input_index(model, key) < 0)
				return codec_fail(e, 400, "unknown_input",
						  "instances[%zu]: unknown input '%s' "
						  "(expected: %s)",
						  k, key, names);
		}
		for (i = 0; i < g->n; i++) {
			mrt_model_input(model, i, &info);
			v = json_object_get(inst, info.name);
			if (!v && mrt_model_input_optional(model, i))
				v = json_array(); /* an empty id list */
			else if (v)
				json_incref(v);
			if (!v)
				return codec_fail(e, 400, "missing_input",
						  "instances[%zu]: missing input '%s' "
						  "(expected: %s)",
						  k, info.name, names);
			if (json_array_append_new(g->batch[i], v) != 0)
				return codec_fail(e, 500, "internal", "out of memory");
		}
	}
	return 0;
}

/* The index of the one input that is not optional, or -1. */
static int only_required(const mrt_model *model)
{
	int i, found = -1, n = mrt_model_n_inputs(model);

	for (i = 0; i < n; i++) {
		if (mrt_model_input_optional(model, i))
			continue;
		if (found >= 0)
			return -1;
		found = i;
	}
	return found;
}

/* Pick the per-input batch lists out of the "inputs"/"instances" value. */
static int gather(const mrt_model *model, const json_t *val, int instances, gathered *g,
		  codec_error *e)
{
	const char *key = instances ? "instances" : "inputs";
	char names[400];
	int required;

	if (json_is_object(val))
		return gather_object(model, val, g, e);
	if (!json_is_array(val))
		return codec_fail(e, 400, "invalid_request",
				  "\"%s\" must be a list or an object, got %s", key,
				  json_kind(val));
	if (instances && json_array_size(val) > 0 && json_is_object(json_array_get(val, 0)))
		return gather_instances(model, val, g, e);
	if (g->n != 1 && (required = only_required(model)) >= 0) {
		g->batch[required] = (json_t *)val; /* the others are optional */
		return 0;
	}
	if (g->n != 1) {
		input_names(model, names, sizeof(names));
		return codec_fail(e, 400, "invalid_request",
				  "the model has %d inputs (%s): send \"%s\" as an object of "
				  "named inputs",
				  g->n, names, key);
	}
	g->batch[0] = (json_t *)val;
	return 0;
}

/* Repeat the single instance of t n times (user features sent once are
 * broadcast to every candidate). */
static int broadcast(mrt_tensor *t, int64_t n, codec_error *e)
{
	size_t row = mrt_dtype_size(t->dtype), total;
	char *data;
	int d;

	for (d = 1; d < t->ndim; d++)
		if (__builtin_mul_overflow(row, (size_t)t->dims[d], &row))
			return codec_fail(e, 400, "invalid_shape", "input '%s': too large", t->name);
	if (__builtin_mul_overflow(row, (size_t)n, &total) ||
	    total / (mrt_dtype_size(t->dtype) ? mrt_dtype_size(t->dtype) : 1) >
		(size_t)CODEC_MAX_ELEMS)
		return codec_fail(e, 400, "invalid_shape", "input '%s': too large to broadcast",
				  t->name);
	if (!(data = malloc(total ? total : 1)))
		return codec_fail(e, 500, "internal", "out of memory");
	for (int64_t r = 0; r < n; r++)
		memcpy(data + (size_t)r * row, t->data, row);
	free(t->data);
	t->data = data;
	t->dims[0] = n;
	return 0;
}

/* All inputs decoded: they must agree on the batch size, except that an
 * input given for one instance is broadcast to the others' batch. */
static int check_batch(codec_inputs *out, codec_error *e)
{
	int64_t n = 1;
	int i;

	for (i = 0; i < out->n; i++)
		if (out->t[i].dims[0] > n)
			n = out->t[i].dims[0];
	for (i = 0; i < out->n && n > 1; i++)
		if (out->t[i].dims[0] == 1 && broadcast(&out->t[i], n, e) != 0)
			return -1;
	for (i = 1; i < out->n; i++)
		if (out->t[i].dims[0] != out->t[0].dims[0])
			return codec_fail(e, 400, "invalid_shape",
					  "input '%s': batch of %" PRId64 " instances, but input "
					  "'%s' has %" PRId64,
					  out->t[i].name, out->t[i].dims[0], out->t[0].name,
					  out->t[0].dims[0]);
	return 0;
}

/* Omitted optional inputs become empty tensors ([B,0]: no ids) with the
 * batch of the first given input. */
static int check_batch_omitted(const mrt_model *model, const gathered *g, codec_inputs *out,
			       codec_error *e)
{
	int64_t batch = 1;
	mrt_io_info info;
	int i, d;

	for (i = 0; i < g->n; i++)
		if (g->batch[i] && out->t[i].dims[0] > batch)
			batch = out->t[i].dims[0];
	for (i = 0; i < g->n; i++) {
		if (g->batch[i] || mrt_model_input(model, i, &info) != 0)
			continue;
		if (info.ndim < 2)
			return codec_fail(e, 400, "missing_input", "missing input '%s'", info.name);
		out->t[i].name = info.name;
		out->t[i].dtype = info.dtype;
		out->t[i].ndim = info.ndim;
		for (d = 0; d < info.ndim; d++)
			out->t[i].dims[d] = info.dims[d] < 0 ? 0 : info.dims[d];
		out->t[i].dims[0] = batch;
		if (!(out->t[i].data = calloc(1, 1)))
			return codec_fail(e, 500, "internal", "out of memory");
	}
	return 0;
}

/* Ids that index an embedding table must lie in [0, rows): refused here,
 * before the request is queued, naming the input (and the table's node). */
static int check_ids(const mrt_model *model, const codec_inputs *out, codec_error *e)
{
	const char *node;
	int64_t rows, pad, n, id;
	int i, has_pad;

	for (i = 0; i < out->n; i++) {
		const mrt_tensor *t = &out->t[i];
		if (t->dtype == MRT_DTYPE_F32 || !mrt_model_input_id_limit(model, i, &rows, &node))
			continue;
		has_pad = mrt_model_input_pad(model, i, &pad);
		n = 1;
		for (int d = 0; d < t->ndim; d++)
			n *= t->dims[d];
		for (int64_t k = 0; k < n; k++) {
			id = t->dtype == MRT_DTYPE_I32 ? ((const int32_t *)t->data)[k]
						       : ((const int64_t *)t->data)[k];
			if ((id < 0 || id >= rows) && !(has_pad && id == pad))
				return codec_fail(e, 400, "out_of_range",
						  "input '%s': id %" PRId64 " out of range [0, %" PRId64
						  ") (node '%s')",
						  t->name, id, rows, node);
		}
	}
	return 0;
}

/* The model's top-k length: the fixed second dim shared by all outputs
 * when every output is [*,K]; 0 when the model returns no top-k lists. */
static int64_t model_k(const mrt_model *model)
{
	int i, n = mrt_model_n_outputs(model);
	mrt_io_info info;
	int64_t k = 0;

	for (i = 0; i < n; i++) {
		if (mrt_model_output(model, i, &info) != 0 || info.ndim != 2 || info.dims[1] < 1 ||
		    (k && info.dims[1] != k))
			return 0;
		k = info.dims[1];
	}
	return k;
}

/* Optional top-level "k": return only the first k of each output row. */
static int parse_k(const mrt_model *model, const json_t *body, codec_inputs *out, codec_error *e)
{
	const json_t *v = json_object_get(body, "k");
	int64_t most = model_k(model);
	json_int_t k;

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return codec_fail(e, 400, "invalid_request", "\"k\" must be an integer, got %s",
				  json_kind(v));
	if (most == 0)
		return codec_fail(e, 400, "invalid_request",
				  "\"k\" is only for models that return top-k lists");
	k = json_integer_value(v);
	if (k < 1 || k > most)
		return codec_fail(e, 400, "out_of_range",
				  "\"k\" (%" JSON_INTEGER_FORMAT ") must be in [1, %" PRId64
				  "]: the model returns at most k = %" PRId64 " items",
				  k, most, most);
	out->k = (int64_t)k;
	return 0;
}

int codec_parse_predict(const mrt_model *model, const json_t *body, codec_inputs *out,
			codec_error *e)
{
	const json_t *inputs, *instances, *val;
	gathered g = {0, NULL, 0};
	mrt_io_info info;
	int64_t pad;
	int i, rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(body))
		return codec_fail(e, 400, "invalid_request", "the body must be a JSON object");
	inputs = json_object_get(body, "inputs");
	instances = json_object_get(body, "instances");
	if (inputs && instances)
		return codec_fail(e, 400, "invalid_request",
				  "send either \"inputs\" or \"instances\", not both");
	if (!inputs && !instances)
		return codec_fail(e, 400, "invalid_request",
				  "the body needs \"inputs\" (or \"instances\")");
	val = inputs ? inputs : instances;
	g.n = mrt_model_n_inputs(model);
	if (g.n <= 0)
		return codec_fail(e, 400, "invalid_request", "the model takes no tensor inputs");
	g.batch = calloc((size_t)g.n, sizeof(*g.batch));
	out->t = calloc((size_t)g.n, sizeof(*out->t));
	if (!g.batch || !out->t) {
		codec_fail(e, 500, "internal", "out of memory");
		goto done;
	}
	out->n = g.n;
	out->used_instances = instances != NULL;
	if (gather(model, val, instances != NULL, &g, e) != 0)
		goto done;
	for (i = 0; i < g.n; i++) {
		if (mrt_model_input(model, i, &info) != 0) {
			codec_fail(e, 500, "internal", "model input %d unreadable", i);
			goto done;
		}
		if (!g.batch[i])
			continue; /* an omitted optional input, filled below */
		if (is_ragged(model, i, &info, &pad) ? decode_ragged(&info, g.batch[i], pad,
								    &out->t[i], e)
						     : decode_input(&info, g.batch[i], &out->t[i], e))
			goto done;
	}
	if (check_batch_omitted(model, &g, out, e) != 0 || check_batch(out, e) != 0 ||
	    check_ids(model, out, e) != 0 || parse_k(model, body, out, e) != 0)
		goto done;
	out->batch = out->t[0].dims[0];
	rc = 0;
done:
	if (g.owned)
		for (i = 0; i < g.n; i++)
			json_decref(g.batch[i]);
	free(g.batch);
	if (rc != 0)
		codec_inputs_free(out);
	return rc;
}

/* One element of a tensor as JSON. NaN and infinities become null: JSON has
 * no way to write them, and a client can test for null. */
static json_t *elem_json(const mrt_tensor *t, int64_t idx)
{
	float f;

	switch (t->dtype) {
	case MRT_DTYPE_F32:
		f = ((const float *)t->data)[idx];
		return isfinite(f) ? json_real((double)f) : json_null();
	case MRT_DTYPE_I64:
		return json_integer((json_int_t)((const int64_t *)t->data)[idx]);
	case MRT_DTYPE_I32:
		return json_integer((json_int_t)((const int32_t *)t->data)[idx]);
	}
	return NULL;
}

/* Nested list of dims[d..ndim) starting at element *idx (advanced). */
static json_t *nested_json(const mrt_tensor *t, int d, int64_t *idx)
{
	json_t *list;
	int64_t i;

	if (d == t->ndim)
		return elem_json(t, (*idx)++);
	if (!(list = json_array()))
		return NULL;
	for (i = 0; i < t->dims[d]; i++) {
		if (json_array_append_new(list, nested_json(t, d + 1, idx)) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* The first k entries of row r of a 2-D tensor. */
static json_t *row_prefix(const mrt_tensor *t, int64_t r, int64_t k)
{
	json_t *list = json_array();

	for (int64_t j = 0; list && j < k; j++)
		if (json_array_append_new(list, elem_json(t, r * t->dims[1] + j)) != 0) {
			json_decref(list);
			return NULL;
		}
	return list;
}

/* The rows [row0, row0 + rows) of one output as a list of instances; k > 0
 * keeps only the first k entries of each row of a 2-D output. */
static json_t *output_rows(const mrt_tensor *t, int64_t row0, int64_t rows, int64_t k)
{
	int64_t row_elems = 1, idx, r;
	json_t *list;
	int d;

	if (t->ndim < 1 || row0 < 0 || rows < 0 || row0 > t->dims[0] - rows)
		return NULL;
	for (d = 1; d < t->ndim; d++)
		row_elems *= t->dims[d];
	if (!(list = json_array()))
		return NULL;
	idx = row0 * row_elems;
	for (r = 0; r < rows; r++) {
		json_t *item = k > 0 && t->ndim == 2 && k < t->dims[1] ? row_prefix(t, row0 + r, k)
								       : nested_json(t, 1, &idx);
		if (k > 0 && t->ndim == 2 && k < t->dims[1])
			idx += row_elems;
		if (json_array_append_new(list, item) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

json_t *codec_outputs_json(const mrt_model *model, const mrt_tensor *outputs, int64_t row0,
			   int64_t rows)
{
	return codec_outputs_json_k(model, outputs, row0, rows, 0);
}

json_t *codec_outputs_json_k(const mrt_model *model, const mrt_tensor *outputs, int64_t row0,
			     int64_t rows, int64_t k)
{
	int i, n = mrt_model_n_outputs(model);
	mrt_io_info info;
	json_t *obj;

	if (n == 1)
		return output_rows(&outputs[0], row0, rows, k);
	if (!(obj = json_object()))
		return NULL;
	for (i = 0; i < n; i++) {
		const char *name = outputs[i].name;
		if (mrt_model_output(model, i, &info) == 0)
			name = info.name;
		if (!name || json_object_set_new(obj, name, output_rows(&outputs[i], row0, rows, k))) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

char *codec_predict_body(const char *model_name, json_t *outputs_json, int used_instances)
{
	json_t *obj = json_object();
	char *s = NULL;

	if (!obj || !outputs_json)
		goto done;
	if (model_name && json_object_set_new(obj, "model", json_string(model_name)) != 0)
		goto done;
	if (json_object_set(obj, used_instances ? "predictions" : "outputs", outputs_json) != 0)
		goto done;
	s = json_dumps(obj, CODEC_DUMP_FLAGS);
done:
	json_decref(obj);
	json_decref(outputs_json);
	return s;
}

char *codec_error_body(const codec_error *e)
{
	char msg[sizeof(e->message)];
	json_t *obj, *text = NULL;
	size_t len;
	char *s;

	/* A message cut by snprintf may end inside a UTF-8 sequence: drop the
	 * partial character rather than fail. */
	snprintf(msg, sizeof(msg), "%s", e->message);
	for (len = strlen(msg); !text && len + 4 > strlen(msg) && len > 0; len--)
		text = json_stringn(msg, len);
	if (!text)
		text = json_string("");
	obj = json_pack("{s:{s:s,s:o}}", "error", "code", e->code, "message", text);
	if (!obj)
		return NULL;
	s = json_dumps(obj, CODEC_DUMP_FLAGS);
	json_decref(obj);
	return s;
}
