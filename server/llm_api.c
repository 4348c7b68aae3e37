/* OpenAI-shaped HTTP API of language models: /v1/completions,
 * /v1/chat/completions and /v1/predict request parsing and validation,
 * response bodies, and Server-Sent Events streaming through an MHD content
 * reader that suspends the connection until the scheduler sends more text.
 * Loop thread only. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "json_schema.h"
#include "llm.h"
#include "strbuf.h"

enum srv_llm_api { API_COMPLETION = 0, API_CHAT, API_PREDICT, API_EMBED };

typedef struct srv__perr {
	int status;
	char code[32];
	char msg[256];
} srv__perr;

/* Fill e: HTTP status, error code, printf-style message. */
__attribute__((format(printf, 4, 5))) static void srv__seterr(srv__perr *e, int status,
                                                             const char *code, const char *fmt,
                                                             ...)
{
	va_list ap;
	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

/* A client's mistake (400) from a function returning int. */
#define PERR(e, c, ...)                                                                            \
	do {                                                                                       \
		srv__seterr(e, 400, c, __VA_ARGS__);                                               \
		return -1;                                                                         \
	} while (0)

/* Number field key of body into *out within [lo, hi]; absent or null keeps
 * *out. 0 or -1 with e. */

/* A JSON string of n bytes of generated text. Byte-fallback tokens can
 * produce sequences that are not UTF-8 (a lone continuation byte, an
 * overlong or truncated form); JSON strings must be UTF-8, so each invalid
 * byte becomes U+FFFD, as other servers do, instead of losing the text.
 * Returns a new reference (never NULL unless out of memory). */
static json_t *srv__json_text(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
		                          : (c & 0xF8) == 0xF0 ? 4 : 0;
		json_t *probe = len && i + len <= n ? json_stringn(s + i, len) : NULL;
		if (probe) { /* jansson's own check: shortest form, no surrogates */
			json_decref(probe);
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, o);
	free(out);
	return j;
}

static int srv__num(json_t *body, const char *key, double lo, double hi, double *out, srv__perr *e)
{
	json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		PERR(e, "invalid_request", "\"%s\" must be a number", key);
	double d = json_number_value(v);
	if (!(d >= lo && d <= hi))
		PERR(e, "invalid_request", "\"%s\" must be in [%.10g, %.10g]", key, lo, hi);
	*out = d;
	return 0;
}

static int srv__int(json_t *body, const char *key, double lo, double hi, int *out, srv__perr *e)
{
	json_t *v = json_object_get(body, key);
	if (v && !json_is_null(v) && !json_is_integer(v))
		PERR(e, "invalid_request", "\"%s\" must be an integer", key);
	double d = *out;
	if (srv__num(body, key, lo, hi, &d, e) < 0)
		return -1;
	*out = (int)d;
	return 0;
}

static int srv__bool(json_t *body, const char *key, int *out, srv__perr *e)
{
	json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		PERR(e, "invalid_request", "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* "stop": a string or up to SRV_LLM_MAX_STOP non-empty strings. */
static int srv__stops(json_t *body, srv_llm_gen *g, srv__perr *e)
{
	json_t *v = json_object_get(body, "stop"), *it;
	size_t i;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		v = json_pack("[O]", v);
	} else if (json_is_array(v)) {
		json_incref(v);
	} else {
		PERR(e, "invalid_request", "\"stop\" must be a string or an array of strings");
	}
	int rc = 0;
	if (json_array_size(v) > SRV_LLM_MAX_STOP) {
		srv__seterr(e, 400, "invalid_request", "\"stop\" holds at most %d strings",
		            SRV_LLM_MAX_STOP);
		rc = -1;
	}
	json_array_foreach(v, i, it)
	{
		if (rc < 0)
			break;
		if (!json_is_string(it) || json_string_length(it) == 0 ||
		    json_string_length(it) > 256) {
			srv__seterr(e, 400, "invalid_request",
			            "\"stop\" entries are strings of 1-256 bytes");
			rc = -1;
			break;
		}
		g->stop[g->n_stop++] = strdup(json_string_value(it));
		if (!g->stop[g->n_stop - 1])
			g->n_stop--;
	}
	json_decref(v);
	return rc;
}

/* vLLM's "stop_token_ids": up to SRV_LLM_MAX_STOP_IDS ids in the vocabulary. */
static int srv__stop_ids(json_t *body, srv_llm_gen *g, int n_vocab, srv__perr *e)
{
	json_t *v = json_object_get(body, "stop_token_ids"), *it;
	size_t i;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > SRV_LLM_MAX_STOP_IDS)
		PERR(e, "invalid_request",
		     "\"stop_token_ids\" must be an array of at most %d token ids",
		     SRV_LLM_MAX_STOP_IDS);
	json_array_foreach(v, i, it)
	{
		json_int_t id = json_integer_value(it);
		if (!json_is_integer(it) || id < 0 || id >= n_vocab)
			PERR(e, "invalid_request",
			     "\"stop_token_ids\"[%zu] is not a token id in [0, %d)", i, n_vocab);
		g->stop_ids[g->n_stop_ids++] = (int32_t)id;
	}
	return 0;
}

/* "logit_bias": {"token id": bias in [-100, 100], ...}, at most
 * SRV_LLM_MAX_BIAS entries, ids in the vocabulary; added to the logits
 * before sampling (greedy too), as OpenAI and llama.cpp do. */
static int srv__logit_bias(json_t *body, srv_llm_gen *g, int n_vocab, srv__perr *e)
{
	json_t *v = json_object_get(body, "logit_bias"), *b;
	const char *key;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		PERR(e, "invalid_request", "\"logit_bias\" must be an object of token ids to numbers");
	size_t n = json_object_size(v);
	if (n > SRV_LLM_MAX_BIAS)
		PERR(e, "invalid_request", "\"logit_bias\" holds at most %d tokens", SRV_LLM_MAX_BIAS);
	if (n == 0)
		return 0;
	if (!(g->bias_ids = malloc(n * sizeof(*g->bias_ids))) ||
	    !(g->bias = malloc(n * sizeof(*g->bias)))) {
		srv__seterr(e, 500, "internal", "out of memory");
		return -1;
	}
	int k = 0;
	json_object_foreach(v, key, b)
	{
		char *end;
		errno = 0;
		long id = strtol(key, &end, 10);
		if (!*key || *end || errno || id < 0 || id >= n_vocab)
			PERR(e, "invalid_request",
			     "\"logit_bias\": \"%.40s\" is not a token id in [0, %d)", key, n_vocab);
		if (!json_is_number(b) || !(json_number_value(b) >= -100) ||
		    !(json_number_value(b) <= 100))
			PERR(e, "invalid_request",
			     "\"logit_bias\": the bias of token %ld must be a number in [-100, 100]",
			     id);
		g->bias_ids[k] = (int32_t)id;
		g->bias[k++] = (float)json_number_value(b);
	}
	g->sp.n_bias = k;
	g->sp.bias_ids = g->bias_ids;
	g->sp.bias = g->bias;
	return 0;
}

/* "response_format": {"type": "text"} (the default); {"type":
 * "json_object"}: the output is kept one JSON object; {"type":
 * "json_schema", "json_schema": {"name", "schema", "strict"}}: one that
 * follows the schema (json_schema.h; llama.cpp's {"type": "json_object",
 * "schema": ...} too). Any API. 0 or -1 with e. */
static int srv__response_format(json_t *body, srv_llm_gen *g, srv__perr *e)
{
	json_t *rf = json_object_get(body, "response_format");
	if (!rf || json_is_null(rf))
		return 0;
	json_t *type = json_object_get(rf, "type"), *schema = NULL;
	if (!json_is_string(type))
		PERR(e, "invalid_request", "\"response_format\" must be {\"type\": ...}");
	const char *t = json_string_value(type);
	if (strcmp(t, "text") == 0)
		return 0;
	if (strcmp(t, "json_object") == 0) {
		schema = json_object_get(rf, "schema");
	} else if (strcmp(t, "json_schema") == 0) {
		json_t *js = json_object_get(rf, "json_schema");
		if (!json_is_object(js) || !json_is_object(schema = json_object_get(js, "schema")))
			PERR(e, "invalid_request",
			     "\"response_format\": type \"json_schema\" needs \"json_schema\": "
			     "{\"name\": ..., \"schema\": {...}}");
	} else {
		PERR(e, "unsupported",
		     "\"response_format\": type \"%.32s\" is not supported; \"text\", "
		     "\"json_object\" or \"json_schema\"",
		     t);
	}
	g->json = 1;
	if (schema && !json_is_null(schema)) {
		char err[200];
		if (!(g->schema = srv_schema_compile(schema, err, sizeof(err))))
			PERR(e, "unsupported", "\"response_format\": the schema: %s", err);
	}
	return 0;
}

/* Sampling and length fields common to the three APIs. */
static int srv__gen_params(srv_llm_job *job, srv_model *m, json_t *body, srv__perr *e)
{
	srv_llm_gen *g = &job->gen;
	mrt_sampler_params *sp = &g->sp;
	*sp = mrt_sampler_default_params();
	double t = 1.0, top_p = 1.0, min_p = 0, pp = 0, fp = 0, rp = 1, seed = 0;
	int top_k = 0, n = 1;
	g->max_tokens = (int)m->cfg.max_tokens_default;
	if (srv__num(body, "temperature", 0, 2, &t, e) ||
	    srv__num(body, "top_p", 0, 1, &top_p, e) || srv__num(body, "min_p", 0, 1, &min_p, e) ||
	    srv__int(body, "top_k", -1, 1e6, &top_k, e) ||
	    srv__num(body, "presence_penalty", -2, 2, &pp, e) ||
	    srv__num(body, "frequency_penalty", -2, 2, &fp, e) ||
	    srv__num(body, "repeat_penalty", 0, 10, &rp, e) ||
	    srv__num(body, "seed", -9.2e18, 9.2e18, &seed, e) ||
	    srv__int(body, "n", 1, 128, &n, e) ||
	    srv__int(body, "max_tokens", 0, 1 << 30, &g->max_tokens, e) ||
	    srv__int(body, "max_completion_tokens", 0, 1 << 30, &g->max_tokens, e) ||
	    srv__int(body, "min_tokens", 0, 1 << 30, &g->min_tokens, e) ||
	    srv__bool(body, "ignore_eos", &g->ignore_eos, e) ||
	    srv__bool(body, "stream", &job->stream, e) || srv__bool(body, "echo", &job->echo, e) ||
	    srv__stops(body, g, e) || srv__stop_ids(body, g, srv_llm_info(m->llm)->n_vocab, e))
		return -1;
	if (n > 1 && job->api == API_PREDICT)
		PERR(e, "invalid_request", "\"n\" must be 1 for /v1/predict");
	job->n_choices = n;
	if (job->echo && job->api != API_COMPLETION)
		PERR(e, "invalid_request", "\"echo\" is for /v1/completions");
	if (g->min_tokens > g->max_tokens)
		PERR(e, "invalid_request", "\"min_tokens\" (%d) is more than \"max_tokens\" (%d)",
		     g->min_tokens, g->max_tokens);
	if (g->max_tokens == 0 && !job->echo)
		PERR(e, "invalid_request",
		     "\"max_tokens\" must be at least 1 (0 only with \"echo\": the prompt alone)");
	sp->temperature = (float)t;
	sp->top_p = (float)top_p;
	sp->min_p = (float)min_p;
	sp->top_k = top_k < 0 ? 0 : top_k; /* -1: off, as vLLM and llama.cpp write it */
	sp->presence_penalty = (float)pp;
	sp->frequency_penalty = (float)fp;
	sp->repeat_penalty = (float)rp;
	sp->seed = json_object_get(body, "seed") ? (uint64_t)(int64_t)seed : uv_hrtime();
	if (srv__logit_bias(body, g, srv_llm_info(m->llm)->n_vocab, e) < 0 ||
	    srv__response_format(body, g, e) < 0)
		return -1;
	json_t *so = json_object_get(body, "stream_options");
	if (json_is_object(so) && srv__bool(so, "include_usage", &job->include_usage, e) < 0)
		return -1;
	return 0;
}

/* logprobs: an integer 0-5 (completions) or a boolean with top_logprobs
 * 0-20 (chat). */
static int srv__logprobs(srv_llm_job *job, json_t *body, srv__perr *e)
{
	json_t *v = json_object_get(body, "logprobs");
	srv_llm_gen *g = &job->gen;
	if (!v || json_is_null(v))
		return 0;
	if (job->api == API_CHAT) {
		if (srv__bool(body, "logprobs", &g->logprobs, e) < 0 ||
		    srv__int(body, "top_logprobs", 0, SRV_LLM_MAX_TOP, &g->top_logprobs, e) < 0)
			return -1;
		return 0;
	}
	int k = 0;
	if (srv__int(body, "logprobs", 0, 5, &k, e) < 0)
		return -1;
	g->logprobs = 1;
	g->top_logprobs = k;
	return 0;
}

/* A message content given as an array of parts (OpenAI's form): the text
 * parts joined with newlines, as vLLM joins them; any other part (images,
 * audio) is refused. New string or NULL with e. */
static char *srv__text_parts(json_t *parts, size_t msg, srv__perr *e)
{
	size_t j, len = 0;
	json_t *p;
	json_array_foreach(parts, j, p)
	{
		json_t *type = json_object_get(p, "type"), *txt = json_object_get(p, "text");
		if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 ||
		    !json_is_string(txt)) {
			srv__seterr(e, 400, "invalid_request",
			            "messages[%zu].content[%zu]: only parts {\"type\": \"text\", "
			            "\"text\": string} are supported (this server runs text-only models)",
			            msg, j);
			return NULL;
		}
		len += json_string_length(txt) + 1;
	}
	char *out = malloc(len + 1), *w = out;
	if (!out) {
		srv__seterr(e, 500, "internal", "out of memory");
		return NULL;
	}
	json_array_foreach(parts, j, p)
	{
		json_t *txt = json_object_get(p, "text");
		if (j > 0)
			*w++ = '\n';
		memcpy(w, json_string_value(txt), json_string_length(txt));
		w += json_string_length(txt);
	}
	*w = 0;
	return out;
}

/* The prompt text of a chat body: its messages formatted by the model's
 * template. New string or NULL with e. */
static char *srv__chat_prompt(srv_llm_job *job, srv_llm *l, json_t *body, srv__perr *e)
{
	json_t *msgs = json_object_get(body, "messages"), *it;
	size_t i, n = json_array_size(msgs);
	char err[200];
	if (!json_is_array(msgs) || n == 0 || n > 1024) {
		srv__seterr(e, 400, "invalid_request",
		            "\"messages\" must be an array of 1-1024 messages");
		return NULL;
	}
	srv_chat_msg *cm = calloc(n, sizeof(*cm));
	char **joined = calloc(n, sizeof(*joined));
	char ***args = calloc(n, sizeof(*args)); /* tool call arguments' texts per message */
	char *text = NULL;
	if (!cm || !joined || !args) {
		srv__seterr(e, 500, "internal", "out of memory");
		goto out;
	}
	json_array_foreach(msgs, i, it)
	{
		json_t *role = json_object_get(it, "role"),
		       *content = json_object_get(it, "content");
		if (!json_is_string(role) ||
		    !(json_is_string(content) || json_is_array(content) || json_is_null(content))) {
			srv__seterr(e, 400, "invalid_request",
			            "messages[%zu] needs a string \"role\" and a string or an array of "
			            "text parts as \"content\"",
			            i);
			goto out;
		}
		cm[i].role = json_string_value(role);
		/* OpenAI's "developer" role is the system role of newer models */
		if (strcmp(cm[i].role, "developer") == 0)
			cm[i].role = "system";
		if (json_is_string(content)) {
			cm[i].content = json_string_value(content);
		} else if (json_is_null(content)) {
			cm[i].content = ""; /* an assistant turn without text */
		} else if (!(cm[i].content = joined[i] = srv__text_parts(content, i, e))) {
			goto out;
		}
		srv_chat_call *calls = NULL;
		if (srv_llm_tools_msg_calls(it, i, &calls, &cm[i].n_calls, &args[i], err,
		                            sizeof(err)) < 0) {
			free(calls);
			srv__seterr(e, 400, "invalid_request", "%s", err);
			goto out;
		}
		cm[i].calls = calls;
		cm[i].tool_call_id = json_string_value(json_object_get(it, "tool_call_id"));
	}
	const srv_llm_tools *t = &job->tools;
	srv_chat_opts o = {job->family,
	                   srv_llm_info(l)->chat_template,
	                   0,
	                   (const char *const *)t->flat,
	                   (const char *const *)t->indented,
	                   (const char *const *)t->mistral,
	                   t->mode ? t->n : 0};
	text = srv_chat_format(&o, cm, (int)n, 1, err, sizeof(err));
	if (!text) {
		srv__seterr(e, 400, "invalid_request", "messages: %s", err);
	}
out:
	for (i = 0; joined && i < n; i++)
		free(joined[i]);
	for (i = 0; cm && args && i < n; i++) {
		for (int k = 0; args[i] && k < cm[i].n_calls; k++)
			free(args[i][k]);
		free(args[i]);
		free((void *)cm[i].calls);
	}
	free(args);
	free(joined);
	free(cm);
	return text;
}

/* Reasoning apart (reasoning.h): the request's "reasoning_format" ("auto"
 * takes the model's), off for output held to JSON from its first token
 * (response_format, a forced call), and whether the prompt opened a
 * <think>. 0 or -1 with e. */
static int srv__reasoning(srv_llm_job *job, srv_model *m, json_t *body, const char *prompt,
                          srv__perr *e)
{
	json_t *f = json_object_get(body, "reasoning_format");
	const char *fmt = m->cfg.reasoning_format;
	if (f && !json_is_null(f)) {
		const char *v = json_string_value(f);
		if (!v || !srv_think_format_known(v))
			PERR(e, "invalid_request",
			     "\"reasoning_format\" must be \"auto\", \"deepseek\" or \"none\"");
		if (strcmp(v, "auto") != 0)
			fmt = v;
	}
	job->think_on = strcmp(fmt, "none") != 0 && !job->gen.json;
	job->think_open = srv_think_prompt_open(prompt);
	srv_think_init(&job->think, job->think_open);
	return 0;
}

/* Function calling: the tools offered, and when a call is required the
 * schema that makes the answer one (it cannot be combined with a
 * response_format). 0 or -1 with e. */
static int srv__tools(srv_llm_job *job, srv_llm *l, json_t *body, srv__perr *e)
{
	char err[200];
	int r = srv_llm_tools_read(&job->tools, body, job->family, srv_llm_info(l)->chat_template,
	                           err, sizeof(err));
	if (r < 0)
		PERR(e, r == -2 ? "unsupported" : "invalid_request", "%s", err);
	if (job->tools.mode != SRV_TOOLS_REQUIRED)
		return 0;
	if (job->gen.json)
		PERR(e, "invalid_request",
		     "a required tool call and \"response_format\" cannot be combined");
	if (!(job->gen.schema = srv_llm_tools_schema(&job->tools, job->family, err, sizeof(err))))
		PERR(e, "unsupported", "tools: %s", err);
	job->gen.json = 1;
	return 0;
}

/* A prompt given as token ids (OpenAI's array-of-integers form), used as
 * is: no BOS is added. 0 or -1 with e. */
static int srv__prompt_ids(srv_llm_job *job, srv_llm *l, json_t *ids, srv__perr *e)
{
	size_t n = json_array_size(ids), i;
	int n_vocab = srv_llm_info(l)->n_vocab;
	json_t *it;
	if (n >= (size_t)srv_llm_n_ctx(l))
		PERR(e, "context_length_exceeded",
		     "the prompt holds %zu tokens; this model's context is %d tokens", n,
		     srv_llm_n_ctx(l));
	if (!(job->gen.prompt = malloc(sizeof(int32_t) * n)))
		PERR(e, "internal", "out of memory");
	json_array_foreach(ids, i, it)
	{
		json_int_t v = json_is_integer(it) ? json_integer_value(it) : -1;
		if (v < 0 || v >= n_vocab)
			PERR(e, "invalid_request", "prompt[%zu]: token ids are integers in [0, %d)",
			     i, n_vocab);
		job->gen.prompt[i] = (int32_t)v;
	}
	job->gen.n_prompt = (int)n;
	return 0;
}

/* The tokens of text into *out (a new array, replacing the old one; OUT):
 * their number, or -1. */
static int srv__tokenize_text(const mrt_model *model, const char *text, int add_bos, int special,
                              int32_t **out)
{
	size_t len = strlen(text);
	int cap = len < 4096 ? (int)len + 8 : 4096, n;
	for (;;) {
		free(*out);
		*out = malloc(sizeof(int32_t) * (size_t)cap);
		n = *out ? mrt_tokenize(model, text, len, add_bos, special, *out, cap) : -1;
		if (n <= cap)
			return n;
		cap = n;
	}
}

/* A token's bytes into buf (SRV__PIECE_MAX; a longer piece is cut), as
 * the answers show tokens: their number. */
#define SRV__PIECE_MAX 256
static size_t srv__piece_bytes(const mrt_model *model, int32_t tok, char *buf)
{
	int n = mrt_token_to_piece(model, tok, 0, buf, SRV__PIECE_MAX);
	return n < 0 ? 0 : n > SRV__PIECE_MAX ? SRV__PIECE_MAX : (size_t)n;
}

/* A prompt's length against the context. 0 or -1 with e. */
static int srv__prompt_fits(srv_llm *l, int n, srv__perr *e)
{
	if (n == 0)
		PERR(e, "invalid_request", "the prompt is empty");
	if (n >= srv_llm_n_ctx(l))
		PERR(e, "context_length_exceeded",
		     "the prompt holds %d tokens; this model's context is %d tokens", n,
		     srv_llm_n_ctx(l));
	return 0;
}

/* One completions prompt (a string, or token ids used as they are) into
 * job->gen. 0 or -1 with e. */
static int srv__completion_prompt(srv_llm_job *job, srv_model *m, json_t *p, srv__perr *e)
{
	srv_llm *l = m->llm;
	if (json_is_array(p) && json_is_integer(json_array_get(p, 0)))
		return srv__prompt_ids(job, l, p, e);
	if (!json_is_string(p))
		PERR(e, "invalid_request",
		     "\"prompt\" must be a string, an array of token ids, or an array of either "
		     "(several prompts)");
	int n = srv__tokenize_text(m->model, json_string_value(p), srv_llm_info(l)->add_bos, 0,
	                           &job->gen.prompt);
	if (n < 0) {
		srv__seterr(e, 500, "internal", "cannot tokenize the prompt");
		return -1;
	}
	job->gen.n_prompt = n;
	return srv__prompt_fits(l, n, e);
}

/* Completions' "prompt": one prompt into job->gen, or several (an array
 * of strings or of token-id arrays, as OpenAI takes them): the first into
 * job->gen, the others' tokens kept for their leads (srv__siblings), and
 * "n" choices for each. 0 or -1 with e. */
static int srv__completion_prompts(srv_llm_job *job, srv_model *m, json_t *p, srv__perr *e)
{
	size_t np = json_array_size(p);
	if (!json_is_array(p) || json_is_integer(json_array_get(p, 0)) || np == 1)
		return srv__completion_prompt(job, m, np == 1 ? json_array_get(p, 0) : p, e);
	if (np == 0)
		PERR(e, "invalid_request", "\"prompt\" is an empty array");
	if (job->api != API_COMPLETION)
		PERR(e, "invalid_request",
		     "one prompt per request here (several: /v1/completions)");
	if (np * (size_t)job->n_choices > 128)
		PERR(e, "invalid_request",
		     "%zu prompts x \"n\" %d choices; a request has at most 128 choices", np,
		     job->n_choices);
	job->more_ids = calloc(np - 1, sizeof(*job->more_ids));
	job->more_n = calloc(np - 1, sizeof(*job->more_n));
	if (!job->more_ids || !job->more_n)
		PERR(e, "internal", "out of memory");
	job->n_prompts = (int)np;
	for (size_t k = 1; k < np; k++) {
		srv_llm_job t = {0};
		int rc = srv__completion_prompt(&t, m, json_array_get(p, k), e);
		job->more_ids[k - 1] = t.gen.prompt;
		job->more_n[k - 1] = t.gen.n_prompt;
		if (rc < 0)
			return -1;
	}
	job->n_choices *= (int)np;
	return srv__completion_prompt(job, m, json_array_get(p, 0), e);
}

/* Tokenize the request's prompt into job->gen. 0 or -1 with e. */
static int srv__prompt_read(srv_llm_job *job, srv_model *m, json_t *body, srv__perr *e)
{
	srv_llm *l = m->llm;
	const mrt_llm_info *info = srv_llm_info(l);
	if (job->api != API_CHAT) {
		/* legacy completion fields that would change the answer */
		int best_of = 1;
		json_t *suffix = json_object_get(body, "suffix");
		if (srv__int(body, "best_of", 1, 128, &best_of, e) < 0)
			return -1;
		if (best_of != 1)
			PERR(e, "unsupported", "\"best_of\" above 1 is not supported");
		if (suffix && !json_is_null(suffix) &&
		    !(json_is_string(suffix) && json_string_length(suffix) == 0))
			PERR(e, "unsupported", "\"suffix\" (insertion) is not supported");
		return srv__completion_prompts(job, m, json_object_get(body, "prompt"), e);
	}
	int add_bos = info->add_bos;
	job->family = srv_llm_chat_family(l);
	char *text;
	if (srv__tools(job, l, body, e) < 0 || !(text = srv__chat_prompt(job, l, body, e)))
		return -1;
	if (srv__reasoning(job, m, body, text, e) < 0) {
		free(text);
		return -1;
	}
	if (srv_chat_emits_bos(srv_llm_chat_family(l)))
		add_bos = 0;
	int n = srv__tokenize_text(m->model, text, add_bos, 1, &job->gen.prompt);
	free(text);
	if (n < 0) {
		srv__seterr(e, 500, "internal", "cannot tokenize the prompt");
		return -1;
	}
	job->gen.n_prompt = n;
	return srv__prompt_fits(l, n, e);
}

/* With echo (completions), a prompt lead's text as the model read it
 * (its tokens' pieces, so that the logprobs' tokens and offsets index it)
 * and, with logprobs, room for its tokens' logprobs. 0 or -1 (out of
 * memory). */
static int srv__echo_setup(srv_llm_job *job, const mrt_model *model)
{
	srv_llm_gen *g = &job->gen;
	srv_strbuf b = {0};
	char piece[SRV__PIECE_MAX];
	for (int i = 0; i < g->n_prompt; i++) /* as the logprobs' tokens are written */
		srv_strbuf_put(&b, piece, srv__piece_bytes(model, g->prompt[i], piece));
	if (b.failed || !(job->echo_text = b.p ? b.p : strdup(""))) {
		free(b.p);
		return -1;
	}
	if (g->prompt_lp && !(job->ptoks = calloc((size_t)g->n_prompt, sizeof(srv_llm_tok))))
		return -1;
	for (int i = 0; job->ptoks && i < g->n_prompt; i++)
		job->ptoks[i].id = g->prompt[i]; /* the scheduler adds the logprobs */
	return 0;
}

/* The prompt, and its echo. 0 or -1 with e. */
static int srv__prompt(srv_llm_job *job, srv_model *m, json_t *body, srv__perr *e)
{
	if (srv__prompt_read(job, m, body, e) < 0)
		return -1;
	if (!job->echo)
		return 0;
	job->gen.prompt_lp = job->gen.logprobs;
	if (srv__echo_setup(job, m->model) < 0) {
		srv__seterr(e, 500, "internal", "out of memory");
		return -1;
	}
	return 0;
}

/* Choice index (> 0) of head's request: a new job that shares the head's
 * identity and holds a reference to it, in head->sibs (made for all
 * n_choices - 1 at the first). NULL when out of memory. */
static srv_llm_job *srv__sibling_new(srv_llm_job *head, int index)
{
	if (!head->sibs && !(head->sibs = calloc((size_t)head->n_choices - 1, sizeof(*head->sibs))))
		return NULL;
	srv_llm_job *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	head->sibs[index - 1] = c;
	c->llm = head->llm;
	c->refs = 1; /* the head's */
	c->head = head;
	head->refs++;
	c->index = index;
	c->n_choices = 1;
	c->api = head->api;
	memcpy(c->id, head->id, sizeof(c->id));
	c->created = head->created;
	return c;
}

/* ---- /v1/embeddings ---- */

/* One input of an embeddings request into job: a string, tokenized as a
 * completions prompt is, or token ids. 0 or -1 with e. */
static int srv__embd_input(srv_llm_job *job, srv_model *m, json_t *in, size_t idx, srv__perr *e)
{
	srv_llm *l = m->llm;
	srv_llm_gen *g = &job->gen;
	if (json_is_string(in)) {
		if (json_string_length(in) == 0)
			PERR(e, "invalid_request", "input %zu is empty", idx);
		const mrt_llm_info *info = srv_llm_info(l);
		int n = srv__tokenize_text(m->model, json_string_value(in), info->add_bos, 0,
		                           &g->prompt);
		if (n < 0)
			PERR(e, "internal", "cannot tokenize input %zu", idx);
		/* EOS after a text, when the file asks for it (embedding models), as
		 * llama.cpp's tokenizer adds it with the special tokens */
		if (info->add_eos && info->eos >= 0) {
			int32_t *p = realloc(g->prompt, sizeof(int32_t) * (size_t)(n + 1));
			if (!p)
				PERR(e, "internal", "out of memory");
			g->prompt = p;
			p[n++] = info->eos;
		}
		g->n_prompt = n;
	} else if (!json_is_array(in) || srv__prompt_ids(job, l, in, e) < 0) {
		if (!e->msg[0])
			PERR(e, "invalid_request",
			     "\"input\" must be a string, an array of strings, an array of token "
			     "ids or an array of such arrays");
		return -1;
	}
	if (g->n_prompt == 0)
		PERR(e, "invalid_request", "input %zu is empty", idx);
	if (g->n_prompt >= srv_llm_n_ctx(l))
		PERR(e, "context_length_exceeded",
		     "input %zu holds %d tokens; this model's context is %d tokens", idx,
		     g->n_prompt, srv_llm_n_ctx(l));
	g->sp = mrt_sampler_default_params();
	g->pool = srv_llm_pooling(l);
	if (!(job->embd = calloc((size_t)srv_llm_info(l)->n_embd, sizeof(double))))
		PERR(e, "internal", "out of memory");
	return 0;
}

/* An embeddings request (OpenAI's shape): one job per input, the head
 * holding the request and the others as its siblings. 0 or -1 with e. */
static int srv__embd_request(srv_llm_job *head, srv_model *m, json_t *body, srv__perr *e)
{
	json_t *in = json_object_get(body, "input"),
	       *fmt = json_object_get(body, "encoding_format");
	json_t *dims = json_object_get(body, "dimensions");
	int n_embd = srv_llm_info(m->llm)->n_embd;
	/* a string or an array of ids is one input; an array of them, several */
	int one =
	    json_is_string(in) || (json_is_array(in) && json_is_integer(json_array_get(in, 0)));
	size_t n = one ? 1 : json_array_size(in);
	if (!in || (!one && (!json_is_array(in) || n == 0)))
		PERR(e, "invalid_request",
		     "\"input\" must be a string, an array of strings, an array of token ids or an "
		     "array of such arrays");
	if (n > 128)
		PERR(e, "invalid_request", "\"input\" holds at most 128 inputs");
	if (fmt && !json_is_null(fmt)) {
		const char *f = json_string_value(fmt);
		if (!f || (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0))
			PERR(e, "invalid_request",
			     "\"encoding_format\" must be \"float\" or \"base64\"");
		head->embd_b64 = strcmp(f, "base64") == 0;
	}
	if (dims && !json_is_null(dims) &&
	    (!json_is_integer(dims) || json_integer_value(dims) != n_embd))
		PERR(e, "unsupported", "\"dimensions\": this model's embeddings have %d", n_embd);
	head->n_choices = (int)n;
	for (size_t i = 0; i < n; i++) {
		srv_llm_job *c = i ? srv__sibling_new(head, (int)i) : head;
		if (!c)
			PERR(e, "internal", "out of memory");
		if (srv__embd_input(c, m, one ? in : json_array_get(in, i), i, e) < 0)
			return -1;
	}
	return 0;
}

static void srv__job_free(srv_llm_job *job)
{
	srv_llm_job *head = job->head;
	for (int i = 0; i < job->gen.n_stop; i++)
		free(job->gen.stop[i]);
	free(job->gen.prompt);
	free(job->gen.bias_ids);
	free(job->gen.bias);
	if (!head) /* a sibling borrows it */
		srv_schema_free(job->gen.schema);
	if (!job->lead) /* the prompt's other choices borrow it */
		free(job->echo_text);
	for (int i = 0; job->more_ids && i < job->n_prompts - 1; i++)
		free(job->more_ids[i]);
	free(job->more_ids);
	free(job->more_n);
	free(job->ptoks);
	free(job->embd);
	srv_llm_tools_free(&job->tools);
	free(job->sibs); /* their references were dropped when the request ended */
	free(job->text);
	free(job->toks);
	free(job->out);
	free(job->p_text);
	free(job->p_toks);
	srv_llm_job *lead = job->lead;
	free(job);
	if (lead)
		srv_llm_job_unref(lead);
	if (head)
		srv_llm_job_unref(head);
}

void srv_llm_job_unref(srv_llm_job *job)
{
	if (--job->refs == 0)
		srv__job_free(job);
}

/* Disconnect watch: libmicrohttpd does not poll a suspended connection, so
 * a client that leaves while its request waits for a slot or for tokens
 * would go unnoticed until the answer is written. A uv_poll_t on the
 * socket for hang-ups (EPOLLRDHUP: the peer closed or reset) cancels the
 * job, freeing its slot at the next step. A client that half-closes its
 * side while waiting counts as gone. Stopped before MHD can close the fd. */
struct srv__llm_watch {
	uv_poll_t poll;
	srv_llm_job *job;
};

static void srv__watch_closed(uv_handle_t *h)
{
	free(h->data);
}

static void srv__watch_stop(srv_llm_job *job)
{
	struct srv__llm_watch *w = job->watch;
	if (!w)
		return;
	job->watch = NULL;
	uv_close((uv_handle_t *)&w->poll, srv__watch_closed);
}

/* Choice i of a head's group (0: the head). */
static srv_llm_job *srv__choice(srv_llm_job *head, int i)
{
	return i == 0 ? head : head->sibs[i - 1];
}

/* Whether every choice of the head's group has finished. */
static int srv__group_finished(srv_llm_job *head)
{
	for (int i = 0; i < head->n_choices; i++)
		if (!srv__choice(head, i)->finish)
			return 0;
	return 1;
}

/* Cancel the choices still running (the client left). */
static void srv__group_cancel(srv_llm_job *head, int client_gone)
{
	for (int i = 0; i < head->n_choices; i++) {
		srv_llm_job *c = srv__choice(head, i);
		c->client_gone = client_gone;
		if (!c->finish)
			srv_llm_cancel(c->llm, c);
	}
}

static void srv__on_hangup(uv_poll_t *p, int status, int events)
{
	struct srv__llm_watch *w = p->data;
	srv_llm_job *job = w->job;
	(void)status;
	(void)events;
	srv__watch_stop(job);
	if (srv__group_finished(job))
		return;
	srv__group_cancel(job, 1);
}

/* The siblings of head for "n" > 1 or several prompts: copies of its
 * request with seeds seed + 1, seed + 2, ...; choice i answers prompt
 * i / n, whose first choice leads it (its echo and prompt logprobs).
 * 0 or -1 (out of memory). */
static int srv__siblings(srv_llm_job *head, const mrt_model *model)
{
	int per = head->n_choices / (head->n_prompts > 1 ? head->n_prompts : 1);
	for (int i = 1; i < head->n_choices; i++) {
		srv_llm_job *c = srv__sibling_new(head, i);
		if (!c)
			return -1;
		c->family = head->family;
		c->think_on = head->think_on;
		c->think_open = head->think_open;
		c->think = head->think;
		c->stream = head->stream;
		c->echo = head->echo;
		srv_llm_gen *g = &c->gen;
		*g = head->gen; /* then its own copies of what it owns */
		g->sp.seed = head->gen.sp.seed + (uint64_t)i;
		g->prompt = NULL, g->bias_ids = NULL, g->bias = NULL, g->n_stop = 0;
		if (i % per == 0) { /* leads prompt i / per (> 0): takes its tokens */
			g->prompt = head->more_ids[i / per - 1];
			g->n_prompt = head->more_n[i / per - 1];
			head->more_ids[i / per - 1] = NULL;
			if (c->echo && srv__echo_setup(c, model) < 0)
				return -1;
		} else { /* borrows its lead's prompt, echo and prompt logprobs */
			srv_llm_job *lead = srv__choice(head, i - i % per);
			c->lead = lead;
			lead->refs++;
			c->echo_text = lead->echo_text;
			g->prompt_lp = 0; /* the lead reads them for all */
			g->n_prompt = lead->gen.n_prompt;
			if (!(g->prompt = malloc(sizeof(int32_t) * (size_t)g->n_prompt)))
				return -1;
			memcpy(g->prompt, lead->gen.prompt, sizeof(int32_t) * (size_t)g->n_prompt);
		}
		for (; g->n_stop < head->gen.n_stop; g->n_stop++)
			if (!(g->stop[g->n_stop] = strdup(head->gen.stop[g->n_stop])))
				return -1;
		if (head->gen.sp.n_bias > 0) {
			size_t nb = (size_t)head->gen.sp.n_bias;
			g->bias_ids = malloc(sizeof(int32_t) * nb);
			g->bias = malloc(sizeof(float) * nb);
			if (!g->bias_ids || !g->bias)
				return -1;
			memcpy(g->bias_ids, head->gen.bias_ids, sizeof(int32_t) * nb);
			memcpy(g->bias, head->gen.bias, sizeof(float) * nb);
			g->sp.bias_ids = g->bias_ids, g->sp.bias = g->bias;
		}
	}
	return 0;
}

/* Drop the head's references to its siblings (the request is over). */
static void srv__group_drop(srv_llm_job *head)
{
	for (int i = 0; head->sibs && i < head->n_choices - 1; i++)
		if (head->sibs[i]) {
			srv_llm_job *c = head->sibs[i];
			head->sibs[i] = NULL;
			srv_llm_job_unref(c);
		}
}

/* The tools a choice's answer is read with (a sibling borrows the head's). */
static const srv_llm_tools *srv__tools_of(const srv_llm_job *job)
{
	return job->head ? &job->head->tools : &job->tools;
}

/* Best effort: without a watch the slot frees when the answer fails. */
static void srv__watch_start(srv_llm_job *job, srv_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct srv__llm_watch *w = ci ? calloc(1, sizeof(*w)) : NULL;
	if (!w)
		return;
	w->job = job;
	w->poll.data = w;
	if (uv_poll_init_socket(r->srv->loop, &w->poll, ci->connect_fd) < 0) {
		free(w);
		return;
	}
	job->watch = w;
	if (uv_poll_start(&w->poll, UV_DISCONNECT, srv__on_hangup) < 0)
		srv__watch_stop(job);
}

static void srv__tokens_answer(srv_req *r, srv_model *m, json_t *body, int tokenize);

void srv_llm_route(srv_req *r, srv_model *m, json_t *body)
{
	srv__perr e = {0};
	int api = !strcmp(r->endpoint, "/v1/chat/completions") ? API_CHAT
	          : !strcmp(r->endpoint, "/v1/completions")    ? API_COMPLETION
	          : !strcmp(r->endpoint, "/v1/predict")        ? API_PREDICT
	          : !strcmp(r->endpoint, "/v1/embeddings")     ? API_EMBED
	                                                       : -1;
	if (!strcmp(r->endpoint, "/tokenize") || !strcmp(r->endpoint, "/detokenize")) {
		srv__tokens_answer(r, m, body, !strcmp(r->endpoint, "/tokenize"));
		return;
	}
	if (api < 0) {
		srv_req_error(r, 400, "invalid_request",
		              "'%s' is a language model: use /v1/completions, "
		              "/v1/chat/completions, /v1/embeddings or /v1/predict",
		              m->cfg.name);
		return;
	}
	srv_llm_job *job = calloc(1, sizeof(*job));
	if (!job) {
		srv_req_error(r, 500, "internal", "out of memory");
		return;
	}
	job->llm = m->llm;
	job->api = api;
	job->refs = 1;
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	job->created = tv.tv_sec;
	snprintf(job->id, sizeof(job->id), "%s%llx%06x", api == API_CHAT ? "chatcmpl-" : "cmpl-",
	         (unsigned long long)uv_hrtime(), (unsigned)(((uintptr_t)job >> 4) & 0xffffff));
	if (api == API_EMBED
	        ? srv__embd_request(job, m, body, &e) < 0
	        : srv__gen_params(job, m, body, &e) < 0 || srv__logprobs(job, body, &e) < 0 ||
	              srv__prompt(job, m, body, &e) < 0)
		goto fail;
	if (api == API_PREDICT)
		job->stream = 0;
	if (job->n_choices > srv_llm_max_queue(m->llm)) {
		srv__seterr(&e, 400, "invalid_request",
		            "%s %d; model '%s' queues at most %d requests (max_queue)",
		            api == API_EMBED ? "the inputs are" : "\"n\" is", job->n_choices,
		            m->cfg.name, srv_llm_max_queue(m->llm));
		goto fail;
	}
	if (api != API_EMBED && srv__siblings(job, m->model) < 0) {
		srv__seterr(&e, 500, "internal", "out of memory");
		goto fail;
	}
	r->t_queued = uv_hrtime();
	srv_llm_job *all[128];
	for (int i = 0; i < job->n_choices; i++)
		all[i] = srv__choice(job, i);
	if (srv_llm_submit(m->llm, all, job->n_choices) < 0) {
		r->retry_after = 1;
		e.status = 503;
		snprintf(e.code, sizeof(e.code), "queue_full");
		snprintf(e.msg, sizeof(e.msg), "model '%s': too many requests waiting",
		         m->cfg.name);
		goto fail;
	}
	job->req = r;
	r->llm = job;
	r->model = m;
	srv_model_ref(m);
	srv__watch_start(job, r);
	if (job->stream) {
		r->llm_stream = 1;
		r->ctype = "text/event-stream";
		srv_req_answer(r, 200, strdup(""));
	}
	return;
fail:
	srv_req_error(r, e.status ? e.status : 400, e.code[0] ? e.code : "invalid_request", "%s",
	              e.msg);
	srv__group_drop(job);
	srv__job_free(job);
}

/* ---- answers ---- */

/* A token's text as a JSON string (invalid UTF-8 pieces become ""), and
 * its bytes when bytes is not NULL (OUT: new array). */
static json_t *srv__piece(const mrt_model *model, int32_t tok, json_t **bytes)
{
	char buf[SRV__PIECE_MAX];
	int n = (int)srv__piece_bytes(model, tok, buf);
	if (bytes) {
		*bytes = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(*bytes, json_integer((unsigned char)buf[i]));
	}
	json_t *s = srv__json_text(buf, (size_t)n);
	return s ? s : json_string("");
}

/* Chat logprobs of tokens [from, to): {"content": [{token, logprob, bytes,
 * top_logprobs}]}. */
static json_t *srv__chat_logprobs(srv_llm_job *job, const mrt_model *model, int from, int to)
{
	json_t *content = json_array();
	for (int i = from; i < to; i++) {
		const srv_llm_tok *t = &job->toks[i];
		json_t *bytes, *top = json_array();
		for (int k = 0; k < t->n_top && k < job->gen.top_logprobs; k++) {
			json_t *tb;
			json_t *ts = srv__piece(model, t->top_id[k], &tb);
			json_array_append_new(top,
			                      json_pack("{s:o, s:f, s:o}", "token", ts, "logprob",
			                                (double)t->top_lp[k], "bytes", tb));
		}
		json_t *ts = srv__piece(model, t->id, &bytes);
		json_array_append_new(content, json_pack("{s:o, s:f, s:o, s:o}", "token", ts,
		                                         "logprob", (double)t->logprob, "bytes",
		                                         bytes, "top_logprobs", top));
	}
	return json_pack("{s:o}", "content", content);
}

/* Legacy completions logprobs: toks[from, to) appended to lp's tokens,
 * token_logprobs, top_logprobs and text_offset (counted from *off_io, which
 * is advanced). toks[i] for i < nulls have no logprob (a prompt's first
 * token, or a prompt not read to its end): null, as OpenAI's echo gives
 * the first. Returns lp. */
static json_t *srv__lp_append(json_t *lp, const mrt_model *model, const srv_llm_tok *toks, int from,
                              int to, int nulls, size_t *off_io)
{
	json_t *ta = json_object_get(lp, "tokens"), *lps = json_object_get(lp, "token_logprobs"),
	       *tops = json_object_get(lp, "top_logprobs"),
	       *offs = json_object_get(lp, "text_offset");
	size_t off = *off_io;
	for (int i = from; i < to; i++) {
		const srv_llm_tok *t = &toks[i];
		json_t *ts = srv__piece(model, t->id, NULL);
		json_array_append_new(offs, json_integer((json_int_t)off));
		off += json_string_length(ts);
		json_array_append_new(ta, ts);
		if (i < nulls) {
			json_array_append_new(lps, json_null());
			json_array_append_new(tops, json_null());
			continue;
		}
		json_array_append_new(lps, json_real(t->logprob));
		json_t *top = json_object();
		for (int k = 0; k < t->n_top; k++) {
			json_t *p = srv__piece(model, t->top_id[k], NULL);
			json_object_set_new(top, json_string_value(p), json_real(t->top_lp[k]));
			json_decref(p);
		}
		json_array_append_new(tops, top);
	}
	*off_io = off;
	return lp;
}

static json_t *srv__lp_new(void)
{
	return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs",
	                 "text_offset");
}

/* Legacy completions logprobs of the generated tokens [from, to). */
static json_t *srv__completion_logprobs(srv_llm_job *job, const mrt_model *model, int from, int to,
                                        size_t *off_io)
{
	return srv__lp_append(srv__lp_new(), model, job->toks, from, to, 0, off_io);
}

/* The choice that reads the prompt's logprobs: the prompt's lead. */
static const srv_llm_job *srv__lp_owner(const srv_llm_job *job)
{
	return job->lead ? job->lead : job;
}

/* Whether a choice asked for the prompt's logprobs and will not have them:
 * the request was cut (drain) before its prompt was read. */
static int srv__unscored(const srv_llm_job *job)
{
	const srv_llm_job *o = srv__lp_owner(job);
	return job->echo && job->gen.logprobs && o->finish && !o->prompt_done;
}

/* The prompt's logprobs (echo): its first token's null. */
static json_t *srv__prompt_logprobs(srv_llm_job *job, const mrt_model *model)
{
	const srv_llm_job *o = srv__lp_owner(job);
	size_t off = 0;
	int n = o->gen.n_prompt;
	return srv__lp_append(srv__lp_new(), model, o->ptoks, 0, n, o->prompt_done ? 1 : n, &off);
}

/* Prompt tokens of a request: each prompt's (or input's) once. */
static int srv__prompt_tokens(srv_llm_job *head)
{
	int n = 0;
	for (int i = 0; i < head->n_choices; i++)
		if (!srv__choice(head, i)->lead)
			n += srv__choice(head, i)->gen.n_prompt;
	return n;
}

/* Of them, the tokens the slots already held (prompt_cache). */
static int srv__cached_tokens(srv_llm_job *head)
{
	int n = 0;
	for (int i = 0; i < head->n_choices; i++)
		if (!srv__choice(head, i)->lead)
			n += srv__choice(head, i)->n_cached;
	return n;
}

/* Usage of a request: its prompt once, the tokens of every choice. */
static json_t *srv__usage(srv_llm_job *head)
{
	int completion = 0;
	if (head->api == API_EMBED) {
		int n = srv__prompt_tokens(head);
		return json_pack("{s:i, s:i}", "prompt_tokens", n, "total_tokens", n);
	}
	for (int i = 0; i < head->n_choices; i++)
		completion += srv__choice(head, i)->n_completion;
	int prompt = srv__prompt_tokens(head);
	json_t *u = json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", prompt,
	                      "completion_tokens", completion, "total_tokens", prompt + completion,
	                      "prompt_tokens_details", "cached_tokens", srv__cached_tokens(head));
	if (u && head->think_on) { /* OpenAI's count of the thoughts' tokens */
		int r = 0;
		for (int i = 0; i < head->n_choices; i++)
			r += srv__choice(head, i)->n_reasoning;
		json_object_set_new(u, "completion_tokens_details",
		                    json_pack("{s:i}", "reasoning_tokens", r));
	}
	return u;
}

static char *srv__dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

/* One finished choice of a non-streamed answer (chat or completions). */
static json_t *srv__choice_json(srv_llm_job *job, srv_model *m)
{
	const char *fin = srv_llm_finish_name(job->finish);
	const char *all = job->text ? job->text : "";
	size_t c0 = 0, len = job->text_len; /* the content: all[c0, c0 + len) */
	json_t *reasoning = NULL;
	if (job->api == API_CHAT && job->think_on) {
		srv_think th;
		srv_think_init(&th, job->think_open);
		srv_think_update(&th, all, job->text_len, 1);
		if (th.state != SRV_THINK_NONE) {
			reasoning = srv__json_text(all + th.r0, th.r1 - th.r0);
			c0 = th.c0, len = th.c1 - th.c0;
		}
	}
	json_t *text = srv__json_text(all + c0, len);
	json_t *lp = json_null();
	if (!text)
		text = json_string("");
	if (job->echo) { /* the prompt's text first, and its tokens' logprobs */
		size_t a = strlen(job->echo_text);
		char *buf = malloc(a + len + 1);
		json_t *t = NULL;
		if (buf) {
			memcpy(buf, job->echo_text, a);
			memcpy(buf + a, all + c0, len);
			t = srv__json_text(buf, a + len);
			free(buf);
		}
		if (t)
			json_decref(text), text = t;
	}
	if (job->gen.logprobs) {
		size_t off = job->echo ? strlen(job->echo_text) : 0;
		json_decref(lp);
		if (job->api == API_CHAT)
			lp = srv__chat_logprobs(job, m->model, 0, job->n_toks);
		else
			lp = srv__lp_append(job->echo ? srv__prompt_logprobs(job, m->model)
			                              : srv__lp_new(),
			                    m->model, job->toks, 0, job->n_toks, 0, &off);
	}
	if (job->api != API_CHAT)
		return json_pack("{s:i, s:o, s:o, s:s}", "index", job->index, "text", text,
		                 "logprobs", lp, "finish_reason", fin);
	size_t before = 0;
	json_t *calls =
	    job->finish == SRV_LLM_STOP
	        ? srv_llm_tools_parse(srv__tools_of(job), job->family, all + c0, len, &before)
	        : NULL;
	if (calls) { /* the text before the calls (trimmed) is the content */
		while (before > 0 && strchr(" \t\n\r", all[c0 + before - 1]))
			before--;
		json_decref(text);
		text = before ? srv__json_text(all + c0, before) : json_null();
		fin = "tool_calls";
	}
	json_t *msg = json_pack("{s:s, s:o}", "role", "assistant", "content", text);
	if (reasoning)
		json_object_set_new(msg, "reasoning_content", reasoning);
	if (calls)
		json_object_set_new(msg, "tool_calls", calls);
	return json_pack("{s:i, s:o, s:o, s:s}", "index", job->index, "message", msg, "logprobs",
	                 lp, "finish_reason", fin);
}

/* Standard base64 of n bytes. New string or NULL. */
static char *srv__base64(const unsigned char *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* The answer of an embeddings request: each input's vector as float32, in
 * JSON numbers of 9 significant digits (enough to read back the same
 * float32) or, with encoding_format base64, their little-endian bytes. */
static char *srv__embd_body(srv_llm_job *head, srv_model *m)
{
	int d = srv_llm_info(m->llm)->n_embd;
	float *f = malloc(sizeof(float) * (size_t)d);
	json_t *data = json_array();
	for (int i = 0; f && data && i < head->n_choices; i++) {
		const srv_llm_job *c = srv__choice(head, i);
		json_t *v;
		for (int k = 0; k < d; k++)
			f[k] = (float)c->embd[k];
		if (head->embd_b64) {
			unsigned char *b = (unsigned char *)f;
			for (int k = 0; k < d; k++) { /* little-endian, whatever the host */
				uint32_t u;
				memcpy(&u, &f[k], 4);
				b[4 * k] = (unsigned char)u, b[4 * k + 1] = (unsigned char)(u >> 8);
				b[4 * k + 2] = (unsigned char)(u >> 16),
				          b[4 * k + 3] = (unsigned char)(u >> 24);
			}
			char *s64 = srv__base64(b, sizeof(float) * (size_t)d);
			v = s64 ? json_string(s64) : NULL;
			free(s64);
		} else {
			v = json_array();
			for (int k = 0; v && k < d; k++)
				json_array_append_new(v, json_real((double)f[k]));
		}
		json_array_append_new(data, json_pack("{s:s, s:i, s:o*}", "object", "embedding",
		                                      "index", i, "embedding", v));
	}
	free(f);
	json_t *j = json_pack("{s:s, s:o*, s:s, s:o}", "object", "list", "data", data, "model",
	                      m->cfg.name, "usage", srv__usage(head));
	char *out = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(j);
	return out;
}

/* The whole (non-streamed) answer of a finished request. New string. */
static char *srv__final_body(srv_llm_job *head, srv_model *m)
{
	if (head->api == API_EMBED)
		return srv__embd_body(head, m);
	if (head->api == API_PREDICT) {
		json_t *text = srv__json_text(head->text ? head->text : "", head->text_len);
		return srv__dump(json_pack("{s:s, s:o, s:s, s:o}", "model", m->cfg.name, "text",
		                           text ? text : json_string(""), "finish_reason",
		                           srv_llm_finish_name(head->finish), "usage",
		                           srv__usage(head)));
	}
	json_t *choices = json_array();
	for (int i = 0; choices && i < head->n_choices; i++)
		json_array_append_new(choices, srv__choice_json(srv__choice(head, i), m));
	return srv__dump(json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", head->id, "object",
	                           head->api == API_CHAT ? "chat.completion" : "text_completion",
	                           "created", (json_int_t)head->created, "model", m->cfg.name,
	                           "choices", choices, "usage", srv__usage(head)));
}

/* ---- streaming ---- */

static void srv__out_append(srv_llm_job *job, const char *s, size_t n)
{
	if (job->out_len + n + 1 > job->out_cap) {
		size_t cap = job->out_cap ? job->out_cap : 1024;
		while (cap < job->out_len + n + 1)
			cap *= 2;
		char *p = realloc(job->out, cap);
		if (!p)
			return;
		job->out = p;
		job->out_cap = cap;
	}
	memcpy(job->out + job->out_len, s, n);
	job->out_len += n;
}

/* Frame one chunk object as an SSE event into the request's output (the
 * head's). Takes over chunk. */
static void srv__event(srv_llm_job *job, json_t *chunk)
{
	char *s = srv__dump(chunk);
	if (job->head)
		job = job->head;
	if (!s)
		return;
	srv__out_append(job, "data: ", 6);
	srv__out_append(job, s, strlen(s));
	srv__out_append(job, "\n\n", 2);
	free(s);
}

/* A chunk with one choice (delta for chat: piece as its field, "content"
 * or "reasoning_content"; text for completions); takes over piece and lp
 * (NULL: null logprobs). */
static json_t *srv__chunk(srv_llm_job *job, srv_model *m, const char *field, json_t *piece,
                          json_t *lp, const char *fin)
{
	json_t *choice;
	json_t *jf = fin ? json_string(fin) : json_null();
	if (!lp)
		lp = json_null();
	if (job->api == API_CHAT) {
		json_t *delta = json_object();
		if (!job->role_sent) {
			json_object_set_new(delta, "role", json_string("assistant"));
			job->role_sent = 1;
		}
		if (piece)
			json_object_set_new(delta, field, piece);
		choice = json_pack("{s:i, s:o, s:o, s:o}", "index", job->index, "delta", delta,
		                   "logprobs", lp, "finish_reason", jf);
	} else {
		choice = json_pack("{s:i, s:o, s:o, s:o}", "index", job->index, "text",
		                   piece ? piece : json_string(""), "logprobs", lp, "finish_reason", jf);
	}
	return json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", job->id, "object",
	                 job->api == API_CHAT ? "chat.completion.chunk" : "text_completion",
	                 "created", (json_int_t)job->created, "model", m->cfg.name, "choices",
	                 choice);
}

/* n bytes of new text as a JSON string, after the echoed prompt's bytes
 * not sent yet (the end of a character cut by the prompt's end). */
static json_t *srv__echo_joined(srv_llm_job *job, const char *p, size_t n)
{
	size_t tail = job->echo_pending;
	if (tail == 0)
		return srv__json_text(p, n);
	char *buf = malloc(tail + n + 1);
	json_t *j = NULL;
	if (buf) {
		memcpy(buf, job->echo_text + strlen(job->echo_text) - tail, tail);
		memcpy(buf + tail, p, n);
		j = srv__json_text(buf, tail + n);
		free(buf);
	}
	job->echo_pending = 0;
	return j;
}

/* New text with the logprobs of the tokens that arrived with it, and at the
 * end the closing events, into job->out. A sequence that ended without an
 * answer (cancelled, failed) closes with an error event; a drain cuts
 * running sequences as "length" (llm_sched.c). */
static void srv__stream_progress(srv_llm_job *job, srv_model *m)
{
	int new_toks = job->gen.logprobs && job->n_toks > job->toks_streamed;
	const char *all = job->text ? job->text : "";
	/* the content known so far: all[base, end); the reasoning to send */
	size_t base = 0, end = job->text_len, r_from = 0, r_to = 0;
	json_t *calls = NULL;
	const srv_llm_tools *tools = srv__tools_of(job);
	if (job->fin_sent)
		return;
	if (job->api == API_CHAT && job->think_on) {
		srv_think *th = &job->think;
		srv_think_update(th, all, job->text_len, job->finish != SRV_LLM_RUNNING);
		if (th->state != SRV_THINK_NONE) {
			base = th->c0, end = th->c1;
			r_from = job->r_streamed > th->r0 ? job->r_streamed : th->r0;
			r_to = th->r1;
		}
	}
	/* with tools, text that may be a call waits for the end */
	size_t upto = end, before = 0;
	if (tools->mode && job->finish == SRV_LLM_STOP &&
	    (calls = srv_llm_tools_parse(tools, job->family, all + base, end - base, &before)))
		upto = base + before;
	else if (tools->mode && !job->finish)
		upto = base + srv_llm_tools_streamable(tools, job->family, all + base, end - base);
	if (job->streamed < base)
		job->streamed = base;
	if (upto < job->streamed)
		upto = job->streamed;
	if (job->api == API_CHAT && !job->role_sent)
		srv__event(job, srv__chunk(job, m, "content", json_string(""), NULL, NULL));
	if (job->echo && !job->echo_sent) { /* the prompt first, with its logprobs */
		int lps = job->gen.logprobs;
		if (job->finish == SRV_LLM_CANCEL || job->finish == SRV_LLM_ERROR ||
		    srv__unscored(job)) {
			job->echo_sent = 1; /* the stream ends in an error event */
		} else if (!lps || srv__lp_owner(job)->prompt_done) {
			/* a character cut between the prompt and the answer goes out
			 * with the answer's first bytes, as the whole answer has it */
			size_t len = strlen(job->echo_text);
			size_t k = mrt_utf8_complete_prefix(job->echo_text, len);
			json_t *lp = lps ? srv__prompt_logprobs(job, m->model) : NULL;
			srv__event(job, srv__chunk(job, m, "content",
			                           srv__json_text(job->echo_text, k), lp, NULL));
			job->echo_sent = 1;
			job->echo_pending = len - k;
			job->lp_off = len;
		} else {
			return; /* until the prompt is read */
		}
	}
	/* the logprobs of the tokens that arrived ride on the first chunk */
	json_t *lp = NULL;
	if (new_toks) {
		lp = job->api == API_CHAT
		         ? srv__chat_logprobs(job, m->model, job->toks_streamed, job->n_toks)
		         : srv__completion_logprobs(job, m->model, job->toks_streamed, job->n_toks,
		                                    &job->lp_off);
		job->toks_streamed = job->n_toks;
	}
	if (r_to > r_from) {
		json_t *piece = srv__json_text(all + r_from, r_to - r_from);
		job->r_streamed = r_to;
		if (piece) {
			srv__event(job, srv__chunk(job, m, "reasoning_content", piece, lp, NULL));
			lp = NULL;
		}
	}
	if (upto > job->streamed || lp || (job->echo_pending && job->finish)) {
		json_t *piece = srv__echo_joined(job, all + job->streamed, upto - job->streamed);
		job->streamed = upto;
		if (piece)
			srv__event(job, srv__chunk(job, m, "content", piece, lp, NULL));
		else
			json_decref(lp);
	}
	if (!job->finish)
		return;
	if (calls) { /* each call as one delta, then the end */
		size_t i;
		json_t *c;
		json_array_foreach(calls, i, c) json_object_set_new(c, "index", json_integer((json_int_t)i));
		json_t *chunk = srv__chunk(job, m, "content", NULL, NULL, NULL);
		json_object_set(json_object_get(json_array_get(json_object_get(chunk, "choices"), 0),
		                                "delta"),
		                "tool_calls", calls);
		srv__event(job, chunk);
		json_decref(calls);
		srv__event(job, srv__chunk(job, m, "content", NULL, NULL, "tool_calls"));
		goto end;
	}
	if (job->finish == SRV_LLM_CANCEL || job->finish == SRV_LLM_ERROR || srv__unscored(job)) {
		int failed = job->finish == SRV_LLM_ERROR;
		srv__event(job,
		           json_pack("{s:{s:s, s:s}}", "error", "code",
		                     failed             ? "internal"
		                     : job->client_gone ? "client_closed"
		                                        : "draining",
		                     "message",
		                     failed ? "generation failed" : "the request was cancelled"));
	} else {
		srv__event(job, srv__chunk(job, m, "content", NULL, NULL,
		                           srv_llm_finish_name(job->finish)));
	}
end:
	job->fin_sent = 1;
	/* the last choice to end closes the stream */
	srv_llm_job *head = job->head ? job->head : job;
	if (head->out_done || !srv__group_finished(head))
		return;
	for (int i = 0; i < head->n_choices; i++)
		if (!srv__choice(head, i)->fin_sent)
			return;
	if (head->include_usage)
		srv__event(
		    head,
		    json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", head->id, "object",
		              head->api == API_CHAT ? "chat.completion.chunk" : "text_completion",
		              "created", (json_int_t)head->created, "model", m->cfg.name, "choices",
		              "usage", srv__usage(head)));
	srv__out_append(head, "data: [DONE]\n\n", 14);
	head->out_done = 1;
}

void srv_llm_job_progress(srv_llm_job *job)
{
	srv_llm_job *head = job->head ? job->head : job;
	srv_req *r = head->req;
	if (!r)
		return;
	srv_model *m = r->model;
	int all = srv__group_finished(head);
	if (all)
		srv__watch_stop(head);
	if (r->llm_stream) {
		srv__stream_progress(job, m);
		/* choices that wait for their lead's prompt logprobs to echo them */
		for (int i = 1; !job->lead && job->gen.prompt_lp && i < head->n_choices; i++)
			if (srv__choice(head, i)->lead == job)
				srv__stream_progress(srv__choice(head, i), m);
		if (head->out_suspended) {
			head->out_suspended = 0;
			MHD_resume_connection(r->conn);
		}
		return;
	}
	if (!all || head->answered) /* choices ending in one wake-up each come here */
		return;
	head->answered = 1;
	/* the worst end of the choices answers for the request */
	int fin = SRV_LLM_STOP, gone = 0;
	for (int i = 0; i < head->n_choices; i++) {
		srv_llm_job *c = srv__choice(head, i);
		/* a prompt to score that was cut before it was read has no answer */
		int f = srv__unscored(c) && c->finish != SRV_LLM_ERROR ? SRV_LLM_CANCEL : c->finish;
		if (f == SRV_LLM_ERROR || (f == SRV_LLM_CANCEL && fin != SRV_LLM_ERROR))
			fin = f;
		gone |= c->client_gone;
	}
	r->t_run = r->t_queued + (uint64_t)(head->ttft_ms * 1e6);
	r->t_done = uv_hrtime();
	if (fin == SRV_LLM_ERROR)
		srv_req_error(r, 500, "internal", "model '%s': generation failed", m->cfg.name);
	else if (fin == SRV_LLM_CANCEL && gone)
		srv_req_error(r, 499, "client_closed", "the client closed the connection");
	else if (fin == SRV_LLM_CANCEL)
		srv_req_error(r, 503, "draining", "model '%s': the server is shutting down",
		              m->cfg.name);
	else
		srv_req_answer(r, 200, srv__final_body(head, m));
}

static ssize_t srv__stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	srv_llm_job *job = cls;
	(void)pos;
	if (job->out_off < job->out_len) {
		size_t n = job->out_len - job->out_off;
		if (n > max)
			n = max;
		memcpy(buf, job->out + job->out_off, n);
		job->out_off += n;
		if (job->out_off == job->out_len)
			job->out_off = job->out_len = 0;
		return (ssize_t)n;
	}
	if (job->out_done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (!job->req)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	job->out_suspended = 1;
	MHD_suspend_connection(job->req->conn);
	return 0;
}

static void srv__stream_free(void *cls)
{
	srv_llm_job_unref(cls);
}

struct MHD_Response *srv_llm_stream_response(srv_req *r)
{
	srv_llm_job *job = r->llm;
	struct MHD_Response *resp = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, 4096, srv__stream_read, job, srv__stream_free);
	if (!resp)
		return NULL;
	job->refs++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	return resp;
}

void srv_llm_req_done(srv_req *r, srv_log_record *rec)
{
	srv_llm_job *job = r->llm;
	if (!job)
		return;
	if (rec) {
		rec->prompt_tokens = srv__prompt_tokens(job);
		rec->completion_tokens = 0;
		for (int i = 0; i < job->n_choices; i++)
			rec->completion_tokens += srv__choice(job, i)->n_completion;
		rec->cached_tokens = srv__cached_tokens(job);
		rec->ttft_ms = job->ttft_ms;
		snprintf(rec->finish_reason, sizeof(rec->finish_reason), "%s",
		         job->finish ? srv_llm_finish_name(job->finish) : "cancelled");
		rec->instances = job->n_choices;
	}
	srv__watch_stop(job);
	for (int i = 0; i < job->n_choices; i++) {
		srv_llm_job *c = srv__choice(job, i);
		if (!c->finish)
			srv_llm_cancel(c->llm, c);
	}
	srv__group_drop(job);
	job->req = NULL;
	r->llm = NULL;
	srv_llm_job_unref(job);
}

json_t *srv_llm_model_json(srv_model *m)
{
	srv_llm *l = m->llm;
	const mrt_llm_info *in = srv_llm_info(l);
	return json_pack(
	    "{s:s, s:s, s:i, s:I, s:s, s:i, s:i, s:i, s:s, s:I, s:i, s:I, s:I, s:s, s:b, "
	    "s:s, s:s}",
	    "name", m->cfg.name, "kind", "llm", "version", (int)m->version, "file_size",
	    (json_int_t)mrt_model_file_size(m->model), "tensor_types",
	    mrt_model_tensor_types(m->model), "context_length", srv_llm_n_ctx(l), "parallel",
	    srv_llm_parallel(l), "n_vocab", in->n_vocab, "chat_template",
	    srv_chat_family_name(srv_llm_chat_family(l)), "n_params", (json_int_t)in->n_params,
	    "prompt_chunk", (int)m->cfg.prompt_chunk, "max_queue", (json_int_t)m->cfg.max_queue,
	    "max_tokens_default", (json_int_t)m->cfg.max_tokens_default, "kv_cache_type",
	    m->cfg.kv_cache_type, "prompt_cache", m->cfg.prompt_cache != 0, "reasoning_format",
	    m->cfg.reasoning_format, "pooling", m->cfg.pooling);
}

/* ---- /tokenize and /detokenize ----
 * The tokens a prompt takes, as llama.cpp's and vLLM's servers answer them:
 * {"model", "prompt" (or llama.cpp's "content") | "messages" (+ "tools"),
 * "add_special" / "add_special_tokens", "parse_special", "with_pieces"} ->
 * {"model", "tokens", "count", "max_model_len"}; by default the tokens
 * /v1/completions or /v1/chat/completions would read (BOS as they add it,
 * text given as "prompt" not parsed for special tokens). And back:
 * {"model", "tokens"} -> {"model", "prompt", "content"} (the same text
 * under both servers' names), as llama.cpp's detokenizer writes it. */

static int srv__tokenize_body(srv_model *m, json_t *body, json_t *out, srv__perr *e)
{
	const mrt_llm_info *info = srv_llm_info(m->llm);
	json_t *p = json_object_get(body, "prompt");
	int add_bos = info->add_bos, special = 0, pieces = 0, n, rc = -1;
	char *owned = NULL;
	const char *text;
	srv_llm_job job;

	memset(&job, 0, sizeof(job));
	if (!p)
		p = json_object_get(body, "content");
	if (json_object_get(body, "messages")) {
		job.family = srv_llm_chat_family(m->llm);
		if (srv__tools(&job, m->llm, body, e) < 0 ||
		    !(owned = srv__chat_prompt(&job, m->llm, body, e)))
			goto out;
		text = owned;
		special = 1;
		if (srv_chat_emits_bos(job.family))
			add_bos = 0;
	} else if (json_is_string(p)) {
		text = json_string_value(p);
	} else {
		srv__seterr(e, 400, "invalid_request",
		            "the body needs \"prompt\" (or \"content\") as a string, or "
		            "\"messages\"");
		goto out;
	}
	if ((json_object_get(body, "add_special") &&
	     srv__bool(body, "add_special", &add_bos, e) < 0) ||
	    (json_object_get(body, "add_special_tokens") &&
	     srv__bool(body, "add_special_tokens", &add_bos, e) < 0) ||
	    srv__bool(body, "parse_special", &special, e) < 0 ||
	    srv__bool(body, "with_pieces", &pieces, e) < 0)
		goto out;
	if ((n = srv__tokenize_text(m->model, text, add_bos, special, &job.gen.prompt)) < 0) {
		srv__seterr(e, 500, "internal", "cannot tokenize the prompt");
		goto out;
	}
	json_t *toks = json_array();
	for (int i = 0; i < n; i++) {
		json_t *id = json_integer(job.gen.prompt[i]);
		if (pieces) { /* llama.cpp's form: the piece as text, or bytes when not UTF-8 */
			char small[256], *buf = small;
			int32_t tok = job.gen.prompt[i];
			int len = mrt_token_to_piece(m->model, tok, 1, small, sizeof(small));
			if (len > (int)sizeof(small) && (buf = malloc((size_t)len)) != NULL)
				len = mrt_token_to_piece(m->model, tok, 1, buf, (size_t)len);
			json_t *piece = buf && len >= 0 ? json_stringn(buf, (size_t)len) : NULL;
			if (!piece && buf && len >= 0) {
				piece = json_array();
				for (int b = 0; b < len; b++)
					json_array_append_new(piece,
					                      json_integer((unsigned char)buf[b]));
			}
			if (buf != small)
				free(buf);
			id = json_pack("{s:o, s:o}", "id", id, "piece",
			               piece ? piece : json_string(""));
		}
		json_array_append_new(toks, id);
	}
	json_object_set_new(out, "tokens", toks);
	json_object_set_new(out, "count", json_integer(n));
	json_object_set_new(out, "max_model_len", json_integer(srv_llm_n_ctx(m->llm)));
	rc = 0;
out:
	free(owned);
	free(job.gen.prompt);
	srv_llm_tools_free(&job.tools);
	srv_schema_free(job.gen.schema);
	return rc;
}

static int srv__detokenize_body(srv_model *m, json_t *body, json_t *out, srv__perr *e)
{
	json_t *ids = json_object_get(body, "tokens"), *it;
	size_t n = json_array_size(ids), i;
	int n_vocab = srv_llm_info(m->llm)->n_vocab, len;
	if (!json_is_array(ids) || n > INT32_MAX / 4)
		PERR(e, "invalid_request", "\"tokens\" must be an array of token ids");
	int32_t *toks = malloc(sizeof(int32_t) * (n ? n : 1));
	if (!toks) {
		srv__seterr(e, 500, "internal", "out of memory");
		return -1;
	}
	json_array_foreach(ids, i, it)
	{
		json_int_t v = json_is_integer(it) ? json_integer_value(it) : -1;
		if (v < 0 || v >= n_vocab) {
			free(toks);
			PERR(e, "invalid_request", "tokens[%zu]: token ids are integers in [0, %d)",
			     i, n_vocab);
		}
		toks[i] = (int32_t)v;
	}
	/* a guess that fits almost every text; the exact size when it does not */
	size_t cap = 16 * n + 64;
	char *text = malloc(cap);
	len = text ? mrt_detokenize(m->model, toks, (int)n, 1, text, cap) : -1;
	if (len >= 0 && (size_t)len > cap) {
		char *more = realloc(text, (size_t)len);
		text = more ? more : (free(text), NULL);
		len = text ? mrt_detokenize(m->model, toks, (int)n, 1, text, (size_t)len) : -1;
	}
	free(toks);
	json_t *j = len >= 0 && text ? srv__json_text(text, (size_t)len) : NULL;
	free(text);
	if (!j) {
		srv__seterr(e, 500, "internal", "cannot detokenize");
		return -1;
	}
	json_object_set(out, "prompt", j);
	json_object_set_new(out, "content", j);
	return 0;
}

static void srv__tokens_answer(srv_req *r, srv_model *m, json_t *body, int tokenize)
{
	srv__perr e = {0};
	json_t *out = json_pack("{s:s}", "model", m->cfg.name);
	if (!out) {
		srv_req_error(r, 500, "internal", "out of memory");
		return;
	}
	if ((tokenize ? srv__tokenize_body(m, body, out, &e)
	              : srv__detokenize_body(m, body, out, &e)) < 0) {
		json_decref(out);
		srv_req_error(r, e.status ? e.status : 400, e.code[0] ? e.code : "invalid_request",
		              "%s", e.msg);
		return;
	}
	srv_req_answer(r, 200, srv__dump(out));
}
