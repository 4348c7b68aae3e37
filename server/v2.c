/* KServe v2 / Open Inference Protocol bodies: typed tensors
 * {"name", "shape", "datatype", "data"} with flat or nested data in, flat
 * data out; model metadata. Datatypes: FP32, INT64, INT32. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

static const char *srv__v2_type(int dtype)
{
	return dtype == MRT_DTYPE_I64 ? "INT64" : dtype == MRT_DTYPE_I32 ? "INT32" : "FP32";
}

void srv_v2_inputs_free(codec_inputs *in)
{
	for (int i = 0; in->t && i < in->n; i++)
		free(in->t[i].data);
	free(in->t);
	in->t = NULL;
	in->n = 0;
}

typedef struct srv__fill {
	int dtype;
	size_t n, cap; /* elements written / expected */
	char *dst;
	const char *name;
	codec_error *e;
} srv__fill;

/* Write the numbers of v (a number or nested lists) in row-major order. */
static int srv__v2_fill(srv__fill *f, const json_t *v, int depth)
{
	if (json_is_array(v)) {
		if (depth > MRT_MAX_DIMS)
			return codec_fail(f->e, 400, "invalid_shape", "input '%s': data nested too deep",
					  f->name);
		size_t i;
		const json_t *x;
		json_array_foreach(v, i, x) if (srv__v2_fill(f, x, depth + 1) < 0) return -1;
		return 0;
	}
	if (f->n == f->cap)
		return codec_fail(f->e, 400, "invalid_shape",
				  "input '%s': data holds more than the %zu values of its shape",
				  f->name, f->cap);
	if (f->dtype == MRT_DTYPE_F32) {
		if (!json_is_number(v))
			return codec_fail(f->e, 400, "invalid_dtype", "input '%s': FP32 data must be numbers",
					  f->name);
		((float *)(void *)f->dst)[f->n++] = (float)json_number_value(v);
		return 0;
	}
	if (!json_is_integer(v))
		return codec_fail(f->e, 400, "invalid_dtype", "input '%s': %s data must be integers",
				  f->name, srv__v2_type(f->dtype));
	json_int_t iv = json_integer_value(v);
	if (f->dtype == MRT_DTYPE_I64) {
		((int64_t *)(void *)f->dst)[f->n++] = iv;
		return 0;
	}
	if (iv < INT32_MIN || iv > INT32_MAX)
		return codec_fail(f->e, 400, "out_of_range", "input '%s': %lld does not fit INT32",
				  f->name, (long long)iv);
	((int32_t *)(void *)f->dst)[f->n++] = (int32_t)iv;
	return 0;
}

static const json_t *srv__v2_find(const json_t *inputs, const char *name)
{
	size_t i;
	const json_t *x;
	json_array_foreach(inputs, i, x)
	{
		const char *n = json_string_value(json_object_get(x, "name"));
		if (n && strcmp(n, name) == 0)
			return x;
	}
	return NULL;
}

/* Shape of tensor j checked against io into t->dims; elements into *count. */
static int srv__v2_shape(const json_t *j, const mrt_io_info *io, mrt_tensor *t, size_t *count,
			 codec_error *e)
{
	const json_t *shape = json_object_get(j, "shape");
	char want[128];
	codec_dims_str(io->dims, io->ndim, want, sizeof(want));
	if (!json_is_array(shape) || json_array_size(shape) != (size_t)io->ndim)
		return codec_fail(e, 400, "invalid_shape", "input '%s': expected shape %s", io->name,
				  want);
	size_t n = 1;
	t->ndim = io->ndim;
	for (int d = 0; d < io->ndim; d++) {
		const json_t *x = json_array_get(shape, (size_t)d);
		json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
		if (v < 0 || (io->dims[d] >= 0 && v != io->dims[d]) || (d == 0 && v == 0) ||
		    (v && n > SIZE_MAX / 16 / (size_t)v))
			return codec_fail(e, 400, "invalid_shape", "input '%s': expected shape %s",
					  io->name, want);
		t->dims[d] = v;
		n *= (size_t)v;
	}
	*count = n;
	return 0;
}

/* One model input from the request's list into t. */
static int srv__v2_input(const json_t *inputs, const mrt_io_info *io, mrt_tensor *t,
			 codec_error *e)
{
	const json_t *j = srv__v2_find(inputs, io->name);
	if (!j)
		return codec_fail(e, 400, "missing_input", "input '%s' is missing", io->name);
	const char *dt = json_string_value(json_object_get(j, "datatype"));
	if (!dt || strcmp(dt, srv__v2_type(io->dtype)) != 0)
		return codec_fail(e, 400, "invalid_dtype", "input '%s': datatype must be %s",
				  io->name, srv__v2_type(io->dtype));
	size_t count = 0;
	if (srv__v2_shape(j, io, t, &count, e) < 0)
		return -1;
	t->name = io->name;
	t->dtype = io->dtype;
	t->data = malloc(count ? count * mrt_dtype_size(io->dtype) : 1);
	if (!t->data)
		return codec_fail(e, 500, "internal", "out of memory");
	srv__fill f = {io->dtype, 0, count, t->data, io->name, e};
	const json_t *data = json_object_get(j, "data");
	if (!json_is_array(data))
		return codec_fail(e, 400, "invalid_request", "input '%s': \"data\" must be a list",
				  io->name);
	if (srv__v2_fill(&f, data, 0) < 0)
		return -1;
	if (f.n != count)
		return codec_fail(e, 400, "invalid_shape",
				  "input '%s': shape holds %zu values, data has %zu", io->name,
				  count, f.n);
	return 0;
}

int srv_v2_parse(srv_req *r, const mrt_model *model, const json_t *body, codec_error *e)
{
	const json_t *inputs = json_object_get(body, "inputs");
	const char *id = json_string_value(json_object_get(body, "id"));
	if (id)
		snprintf(r->v2_id, sizeof(r->v2_id), "%s", id);
	if (!json_is_array(inputs))
		return codec_fail(e, 400, "invalid_request", "\"inputs\" must be a list of tensors");
	int n = mrt_model_n_inputs(model);
	r->in.t = calloc((size_t)(n > 0 ? n : 1), sizeof(*r->in.t));
	if (!r->in.t)
		return codec_fail(e, 500, "internal", "out of memory");
	r->in.n = n;
	for (int i = 0; i < n; i++) {
		mrt_io_info io;
		if (mrt_model_input(model, i, &io) < 0 || srv__v2_input(inputs, &io, &r->in.t[i], e))
			goto fail;
		if (i > 0 && r->in.t[i].dims[0] != r->in.t[0].dims[0]) {
			codec_fail(e, 400, "invalid_shape", "input '%s': batch %lld differs from %lld",
				   io.name, (long long)r->in.t[i].dims[0],
				   (long long)r->in.t[0].dims[0]);
			goto fail;
		}
	}
	r->in.batch = n > 0 ? r->in.t[0].dims[0] : 0;
	return 0;
fail:
	srv_v2_inputs_free(&r->in);
	return -1;
}

/* Flat data of rows [row0, row0+rows) of t. */
static json_t *srv__v2_data(const mrt_tensor *t, int64_t row0, int64_t rows)
{
	size_t row = 1;
	for (int d = 1; d < t->ndim; d++)
		row *= (size_t)t->dims[d];
	size_t start = (size_t)row0 * row, n = (size_t)rows * row;
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *v;
		if (t->dtype == MRT_DTYPE_F32)
			v = json_real(((const float *)t->data)[start + i]);
		else if (t->dtype == MRT_DTYPE_I64)
			v = json_integer(((const int64_t *)t->data)[start + i]);
		else
			v = json_integer(((const int32_t *)t->data)[start + i]);
		if (json_array_append_new(a, v) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

char *srv_v2_outputs_body(srv_req *r, const mrt_tensor *outputs, int64_t row0, int64_t rows)
{
	srv_model *m = r->model;
	json_t *outs = json_array();
	for (int i = 0; outs && i < m->n_outputs; i++) {
		const mrt_tensor *t = &outputs[i];
		mrt_io_info io;
		if (mrt_model_output(m->model, i, &io) < 0)
			io.name = t->name ? t->name : "";
		json_t *shape = json_array();
		json_array_append_new(shape, json_integer(rows));
		for (int d = 1; d < t->ndim; d++)
			json_array_append_new(shape, json_integer(t->dims[d]));
		json_array_append_new(outs, json_pack("{s:s, s:s, s:o, s:o?}", "name", io.name,
						      "datatype", srv__v2_type(t->dtype), "shape",
						      shape, "data", srv__v2_data(t, row0, rows)));
	}
	char ver[16];
	snprintf(ver, sizeof(ver), "%u", m->version);
	json_t *body = json_pack("{s:s, s:s, s:o}", "model_name", m->cfg.name, "model_version", ver,
				 "outputs", outs);
	if (body && r->v2_id[0])
		json_object_set_new(body, "id", json_string(r->v2_id));
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(body);
	return s;
}

static json_t *srv__v2_io(const mrt_io_info *io)
{
	json_t *shape = json_array();
	for (int d = 0; d < io->ndim; d++)
		json_array_append_new(shape, json_integer(io->dims[d]));
	return json_pack("{s:s, s:s, s:o}", "name", io->name, "datatype", srv__v2_type(io->dtype),
			 "shape", shape);
}

char *srv_v2_model_body(srv_model *m)
{
	json_t *ins = json_array(), *outs = json_array();
	mrt_io_info io;
	for (int i = 0; i < m->n_inputs; i++)
		if (mrt_model_input(m->model, i, &io) == 0)
			json_array_append_new(ins, srv__v2_io(&io));
	for (int i = 0; i < m->n_outputs; i++)
		if (mrt_model_output(m->model, i, &io) == 0)
			json_array_append_new(outs, srv__v2_io(&io));
	char ver[16];
	snprintf(ver, sizeof(ver), "%u", m->version);
	json_t *body = json_pack("{s:s, s:[s], s:s, s:o, s:o}", "name", m->cfg.name, "versions", ver,
				 "platform", "modeld_gguf", "inputs", ins, "outputs", outs);
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	return s;
}
