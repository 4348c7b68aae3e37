/* Routing: method + path -> handler. Everything that can be decided from the
 * request line and headers (unknown route, wrong method, API key, GET
 * answers) is decided before the body is read; predictions after. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "predict_fast.h"
#include "srv.h"

enum srv__route {
	R_NONE = 0,
	R_HEALTHZ,
	R_READYZ,
	R_METRICS,
	R_MODELS,
	R_MODEL,
	R_PREDICT,
	R_MODEL_PREDICT,
	R_COMPLETIONS,
	R_V2_SERVER,
	R_V2_LIVE,
	R_V2_READY,
	R_V2_MODEL,
	R_V2_MODEL_READY,
	R_V2_INFER,
};

typedef struct srv__route_match {
	int route;
	const char *endpoint; /* pattern for logs and metrics */
	const char *allow;    /* the one method it takes */
	int public;           /* needs no API key */
} srv__route_match;

static int srv__starts(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (strncmp(s, prefix, n) != 0)
		return 0;
	*rest = s + n;
	return 1;
}

/* Copy a {name} path segment of length n; 0 when it is not a valid name. */
static int srv__name(srv_req *r, const char *p, size_t n)
{
	if (n == 0 || n >= sizeof(r->model_name) || memchr(p, '/', n))
		return 0;
	memcpy(r->model_name, p, n);
	r->model_name[n] = '\0';
	return 1;
}

static srv__route_match srv__match(srv_req *r, const char *url)
{
	static const srv__route_match fixed[] = {
	    {R_HEALTHZ, "/healthz", "GET", 1},
	    {R_READYZ, "/readyz", "GET", 1},
	    {R_READYZ, "/health", "GET", 1}, /* llama.cpp's and vLLM's: ready to serve */
	    {R_METRICS, "/metrics", "GET", 0},
	    {R_MODELS, "/v1/models", "GET", 0},
	    {R_PREDICT, "/v1/predict", "POST", 0},
	    {R_COMPLETIONS, "/v1/completions", "POST", 0},
	    {R_COMPLETIONS, "/v1/chat/completions", "POST", 0},
	    {R_COMPLETIONS, "/tokenize", "POST", 0},
	    {R_COMPLETIONS, "/detokenize", "POST", 0},
	    {R_COMPLETIONS, "/v1/embeddings", "POST", 0},
	    {R_V2_SERVER, "/v2", "GET", 1},
	    {R_V2_LIVE, "/v2/health/live", "GET", 1},
	    {R_V2_READY, "/v2/health/ready", "GET", 1},
	};
	srv__route_match none = {R_NONE, NULL, NULL, 1};
	const char *rest, *end;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(url, fixed[i].endpoint) == 0)
			return fixed[i];
	if (srv__starts(url, "/v1/models/", &rest)) {
		end = strchr(rest, ':');
		if (!end && srv__name(r, rest, strlen(rest)))
			return (srv__route_match){R_MODEL, "/v1/models/{name}", "GET", 0};
		if (end && !strcmp(end, ":predict") && srv__name(r, rest, (size_t)(end - rest)))
			return (srv__route_match){R_MODEL_PREDICT, "/v1/models/{name}:predict",
						  "POST", 0};
		return none;
	}
	if (srv__starts(url, "/v2/models/", &rest)) {
		end = strchr(rest, '/');
		if (!end && srv__name(r, rest, strlen(rest)))
			return (srv__route_match){R_V2_MODEL, "/v2/models/{name}", "GET", 0};
		if (!end || !srv__name(r, rest, (size_t)(end - rest)))
			return none;
		if (!strcmp(end, "/ready"))
			return (srv__route_match){R_V2_MODEL_READY, "/v2/models/{name}/ready", "GET",
						  1};
		if (!strcmp(end, "/infer"))
			return (srv__route_match){R_V2_INFER, "/v2/models/{name}/infer", "POST", 0};
	}
	return none;
}

/* Constant-time comparison of the presented key with the configured one. */
static int srv__key_ok(srv *s, struct MHD_Connection *conn)
{
	const char *want = s->cfg.api_key;
	const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");
	const char *auth =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!got && auth && strncasecmp(auth, "Bearer ", 7) == 0)
		got = auth + 7;
	if (!got)
		return 0;
	size_t wl = strlen(want), gl = strlen(got);
	unsigned char diff = (unsigned char)(wl != gl);
	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)(want[i] ^ (i < gl ? got[i] : 0));
	return diff == 0;
}

static char *srv__dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static json_t *srv__io_json(const mrt_io_info *io)
{
	json_t *shape = json_array();
	for (int d = 0; d < io->ndim; d++)
		json_array_append_new(shape, json_integer(io->dims[d]));
	return json_pack("{s:s, s:s, s:o}", "name", io->name, "dtype", mrt_dtype_name(io->dtype),
			 "shape", shape);
}

static json_t *srv__model_json(srv_model *m)
{
	if (m->llm)
		return srv_llm_model_json(m);
	json_t *ins = json_array(), *outs = json_array();
	mrt_io_info io;
	for (int i = 0; i < m->n_inputs; i++)
		if (mrt_model_input(m->model, i, &io) == 0)
			json_array_append_new(ins, srv__io_json(&io));
	for (int i = 0; i < m->n_outputs; i++)
		if (mrt_model_output(m->model, i, &io) == 0)
			json_array_append_new(outs, srv__io_json(&io));
	return json_pack("{s:s, s:s, s:i, s:I, s:s, s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "name",
			 m->cfg.name,
			 "kind", mrt_model_kind(m->model) == MRT_MODEL_LLAMA ? "llama" : "graph",
			 "version", (int)m->version, "file_size",
			 (json_int_t)mrt_model_file_size(m->model), "tensor_types",
			 mrt_model_tensor_types(m->model), "inputs", ins, "outputs", outs,
			 "batching", "max_batch_size", (json_int_t)m->cfg.max_batch_size,
			 "max_batch_delay_us", (json_int_t)m->cfg.max_batch_delay_us, "max_queue",
			 (json_int_t)m->cfg.max_queue, "timeout_ms", (json_int_t)m->cfg.timeout_ms);
}

/* OpenAI's model object (id, object, created, owned_by; what the openai
 * clients' models.list() and models.retrieve() read) followed by our fields.
 * "created" is when this process started. New object. */
static json_t *srv__openai_model(srv *s, srv_model *m)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	int64_t created = tv.tv_sec - (int64_t)((uv_hrtime() - s->t_boot) / 1000000000u);
	json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "id", m->cfg.name, "object", "model",
			      "created", (json_int_t)created, "owned_by", "modeld");
	json_t *ours = srv__model_json(m);
	if (j && ours)
		json_object_update(j, ours);
	json_decref(ours);
	return j;
}

static void srv__not_ready(srv_req *r, const char *v2key)
{
	srv *s = r->srv;
	const char *why = s->draining ? "draining" : s->ready ? "ready" : "loading";
	if (s->ready && !s->draining) {
		srv_req_answer(r, 200,
			       srv__dump(v2key ? json_pack("{s:b}", v2key, 1)
					       : json_pack("{s:s}", "status", "ready")));
		return;
	}
	srv_req_error(r, 503, "not_ready", "server is %s", why);
}

/* GET handlers: answer at once. */
static void srv__get(srv_req *r, int route)
{
	srv *s = r->srv;
	srv_model *m;
	json_t *arr;
	size_t len;
	switch (route) {
	case R_HEALTHZ:
		srv_req_answer(r, 200, strdup("{\"status\":\"ok\"}"));
		return;
	case R_V2_LIVE:
		srv_req_answer(r, 200, strdup("{\"live\":true}"));
		return;
	case R_READYZ:
		srv__not_ready(r, NULL);
		return;
	case R_V2_READY:
		srv__not_ready(r, "ready");
		return;
	case R_METRICS:
		r->ctype = "text/plain; version=0.0.4; charset=utf-8";
		srv_req_answer(r, 200, srv_metrics_render(s, &len));
		return;
	case R_V2_SERVER:
		srv_req_answer(r, 200,
			       srv__dump(json_pack("{s:s, s:s, s:[]}", "name", "modeld", "version",
						   SRV_VERSION, "extensions")));
		return;
	case R_MODELS: {
		/* "data" for OpenAI clients, "models" for ours: the same entries */
		json_t *data = json_array();
		arr = json_array();
		for (int i = 0; i < s->n_models; i++) {
			json_array_append_new(arr, srv__model_json(s->models[i]));
			json_array_append_new(data, srv__openai_model(s, s->models[i]));
		}
		srv_req_answer(r, 200,
			       srv__dump(json_pack("{s:s, s:o, s:o}", "object", "list", "data",
						   data, "models", arr)));
		return;
	}
	}
	m = srv_registry_find(s, r->model_name);
	if (!m) {
		srv_req_error(r, 404, "model_not_found", "no model named '%s'", r->model_name);
		return;
	}
	if (route == R_MODEL)
		srv_req_answer(r, 200, srv__dump(srv__openai_model(s, m)));
	else if (route == R_V2_MODEL)
		srv_req_answer(r, 200, srv_v2_model_body(m));
	else
		srv_req_answer(r, 200,
			       srv__dump(json_pack("{s:s, s:b}", "name", m->cfg.name, "ready",
						   !s->draining)));
}

int srv_route_early(srv_req *r, const char *method, const char *url)
{
	srv__route_match rm = srv__match(r, url);
	r->endpoint = rm.endpoint ? rm.endpoint : "other";
	if (rm.route == R_NONE) {
		r->model_name[0] = '\0';
		srv_req_error(r, 404, "not_found", "no route for %s %s", method, url);
		return 1;
	}
	if (strcmp(method, rm.allow) != 0) {
		r->allow = rm.allow;
		srv_req_error(r, 405, "method_not_allowed", "%s takes %s, not %s", rm.endpoint,
			      rm.allow, method);
		return 1;
	}
	if (!rm.public && r->srv->cfg.api_key[0] && !srv__key_ok(r->srv, r->conn)) {
		srv_req_error(r, 401, "unauthorized",
			      "missing or wrong API key (Authorization: Bearer KEY or X-API-Key)");
		return 1;
	}
	if (rm.allow[0] == 'G') {
		srv__get(r, rm.route);
		return 1;
	}
	if (r->srv->draining) {
		srv_req_error(r, 503, "draining", "server is shutting down");
		return 1;
	}
	r->kind = rm.route == R_V2_INFER      ? SRV_REQ_V2
		  : rm.route == R_MODEL_PREDICT ? SRV_REQ_V1_MODEL
		  : rm.route == R_COMPLETIONS   ? -1
						: SRV_REQ_V1;
	return 0;
}

/* Which model a /v1/predict or completion body names (sole model if none). */
static srv_model *srv__body_model(srv_req *r, json_t *body)
{
	srv *s = r->srv;
	json_t *jm = json_object_get(body, "model");
	if (jm && !json_is_string(jm)) {
		srv_req_error(r, 400, "invalid_request", "\"model\" must be a string");
		return NULL;
	}
	if (!jm && r->kind == SRV_REQ_V1 && s->n_models == 1) {
		snprintf(r->model_name, sizeof(r->model_name), "%s", s->models[0]->cfg.name);
		return s->models[0];
	}
	/* /tokenize and /detokenize (llama.cpp's take no model): the only
	 * language model when there is one */
	if (!jm && r->kind < 0 && strstr(r->endpoint, "tokenize")) {
		srv_model *only = NULL;
		int n_llm = 0;
		for (int i = 0; i < s->n_models; i++)
			if (s->models[i]->llm)
				only = s->models[i], n_llm++;
		if (n_llm == 1) {
			snprintf(r->model_name, sizeof(r->model_name), "%s", only->cfg.name);
			return only;
		}
	}
	if (!jm) {
		srv_req_error(r, 400, "invalid_request", "the body must name a \"model\"");
		return NULL;
	}
	snprintf(r->model_name, sizeof(r->model_name), "%s", json_string_value(jm));
	srv_model *m = srv_registry_find(s, r->model_name);
	if (r->kind < 0 && (!m || !m->llm)) {
		srv_req_error(r, 404, "model_not_found", "no language model named '%s'",
			      r->model_name);
		return NULL;
	}
	if (!m)
		srv_req_error(r, 404, "model_not_found", "no model named '%s'", r->model_name);
	return m;
}

/* The common body, {"model": NAME, "inputs": [[numbers]...]} for a model
 * with one float32 input, decoded without a JSON tree (predict_fast.h).
 * Returns 1 when the request was queued, 0 to take the general path (which
 * also gives every error its message). */
static int srv__route_fast(srv_req *r)
{
	srv_fast_body fb;
	srv_model *m = NULL;
	srv *s = r->srv;

	if ((r->kind != SRV_REQ_V1 && r->kind != SRV_REQ_V1_MODEL) || !r->body ||
	    srv_fast_scan(r->body, r->body_len, &fb) != 0)
		return 0;
	if (r->kind == SRV_REQ_V1_MODEL) {
		m = srv_registry_find(s, r->model_name);
	} else if (fb.model && fb.model_len < sizeof(r->model_name)) {
		memcpy(r->model_name, fb.model, fb.model_len);
		r->model_name[fb.model_len] = '\0';
		m = srv_registry_find(s, r->model_name);
	} else if (!fb.model && s->n_models == 1) {
		m = s->models[0];
		snprintf(r->model_name, sizeof(r->model_name), "%s", m->cfg.name);
	}
	if (!m || srv_fast_inputs(m->model, &fb, &r->in) != 1) {
		srv_fast_body_free(&fb);
		return 0;
	}
	r->v2_owned = 0;
	r->model = m;
	srv_model_ref(m);
	srv_batch_enqueue(r);
	return 1;
}

void srv_route(srv_req *r, const char *method, const char *url)
{
	if (srv__route_fast(r))
		return;
	json_error_t jerr;
	codec_error e;
	json_t *body = json_loadb(r->body ? r->body : "", r->body_len, 0, &jerr);
	srv_model *m = NULL;
	if (!body) {
		srv_req_error(r, 400, "invalid_json", "body is not JSON: %s (line %d, column %d)",
			      jerr.text, jerr.line, jerr.column);
		return;
	}
	if (!json_is_object(body)) {
		srv_req_error(r, 400, "invalid_request", "the body must be a JSON object");
		goto out;
	}
	if (r->kind == SRV_REQ_V1 || r->kind < 0) {
		if (!(m = srv__body_model(r, body)))
			goto out;
	} else if (!(m = srv_registry_find(r->srv, r->model_name))) {
		srv_req_error(r, 404, "model_not_found", "no model named '%s'", r->model_name);
		goto out;
	}
	if (m->llm) {
		srv_llm_route(r, m, body);
		goto out;
	}
	r->v2_owned = r->kind == SRV_REQ_V2;
	int rc = r->kind == SRV_REQ_V2 ? srv_v2_parse(r, m->model, body, &e)
				       : codec_parse_predict(m->model, body, &r->in, &e);
	if (rc < 0) {
		srv_req_error(r, e.status ? e.status : 400, e.code, "%s", e.message);
		goto out;
	}
	if (r->in.batch < 1) {
		srv_req_error(r, 400, "invalid_shape", "the request holds no instances");
		goto out;
	}
	r->model = m;
	srv_model_ref(m);
	srv_batch_enqueue(r);
out:
	json_decref(body);
}
