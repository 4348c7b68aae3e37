/* Language models in modeld: a continuous-batching scheduler per llama model
 * (llm_sched.c) and the OpenAI-shaped HTTP API on top of it (llm_api.c).
 * DESIGN: the loop thread owns requests, their output buffers and the
 * streaming responses; one scheduler thread per model owns the mrt_llm_ctx
 * (its KV slots) and the samplers. They meet in srv_llm's mutex-protected
 * queue (jobs waiting for a slot) and per-job pending output, which the
 * scheduler fills and the loop drains when woken through a uv_async_t. */
#ifndef SRV_LLM_H
#define SRV_LLM_H

#include <jansson.h>
#include <stdint.h>

#include "mrt_llm.h"
#include "reasoning.h"
#include "srv.h"

typedef struct srv_llm srv_llm;
typedef struct srv_llm_job srv_llm_job;

#define SRV_LLM_MAX_STOP 4
#define SRV_LLM_MAX_TOP 20
#define SRV_LLM_MAX_BIAS 1024 /* logit_bias entries */
#define SRV_LLM_MAX_STOP_IDS 64 /* stop_token_ids */

/* What a request asks of the scheduler (filled on the loop, then read-only). */
typedef struct srv_llm_gen {
	mrt_sampler_params sp;
	int max_tokens; /* 0: none (echo: the prompt's logprobs only) */
	int min_tokens; /* end-of-generation and stop_ids not drawn, stop strings not
	                   looked for, before this many tokens (vLLM) */
	int ignore_eos; /* end-of-generation tokens are never drawn (llama.cpp, vLLM) */
	int n_stop_ids;
	int32_t stop_ids[SRV_LLM_MAX_STOP_IDS]; /* tokens that end the answer (vLLM) */
	int n_stop;
	char *stop[SRV_LLM_MAX_STOP]; /* owned */
	int logprobs;                 /* keep per-token log-probabilities */
	int top_logprobs;             /* 0..SRV_LLM_MAX_TOP alternatives per token */
	int32_t *prompt;              /* owned */
	int n_prompt;
	int32_t *bias_ids; /* logit_bias (owned; sp.bias_ids and sp.bias point here) */
	float *bias;
	int prompt_lp; /* echo with logprobs: the prompt tokens' log-probabilities too */
	int pool;      /* /v1/embeddings: enum srv_llm_pool; the prompt is all there is */
	int json; /* response_format json_object or json_schema: the output is kept JSON */
	struct srv_schema *schema; /* json_schema (owned): the JSON follows it */
} srv_llm_gen;

/* One generated token as the loop receives it (logprobs requested only). */
typedef struct srv_llm_tok {
	int32_t id;
	float logprob;
	int n_top;
	int32_t top_id[SRV_LLM_MAX_TOP];
	float top_lp[SRV_LLM_MAX_TOP];
} srv_llm_tok;

/* How an embedding pools the final hidden states of its prompt (normalized
 * to length 1 after), as llama.cpp's pooling types. */
enum srv_llm_pool { SRV_POOL_NONE = 0, SRV_POOL_MEAN, SRV_POOL_CLS, SRV_POOL_LAST };
int srv_llm_pooling(const srv_llm *l); /* the model's (config "pooling") */

enum srv_llm_finish {
	SRV_LLM_RUNNING = 0,
	SRV_LLM_STOP,   /* stop string or end-of-generation token */
	SRV_LLM_LENGTH, /* max_tokens or the context is full */
	SRV_LLM_CANCEL, /* client gone or server stopping */
	SRV_LLM_ERROR,  /* decode failed */
};
const char *srv_llm_finish_name(int finish); /* "stop", "length", ... */

/* Function calling (llm_tools.c): the tools a chat request offers. */
enum srv_tools_mode {
	SRV_TOOLS_OFF = 0,  /* none offered (or tool_choice "none") */
	SRV_TOOLS_AUTO,     /* the model may call one */
	SRV_TOOLS_REQUIRED, /* it must ("required", or one named: forced) */
};
typedef struct srv_llm_tools {
	int mode;
	int n;                   /* tools */
	json_t *tools;           /* the request's array (owned copy) */
	char **flat, **indented; /* each as the template's tojson writes it (owned) */
	char **mistral;          /* each as Mistral Nemo's template writes it (owned) */
	int forced;              /* the tool tool_choice names, or -1 */
} srv_llm_tools;

/* Loop-side view of a job: what has arrived from the scheduler so far. */
struct srv_llm_job {
	srv_llm *llm;
	srv_req *req; /* NULL once the request completed (client gone) */
	int refs;     /* loop: request + scheduler + stream response (+ each sibling, + each
	                 choice it leads) */
	srv_llm_gen gen;
	/* "n" choices: one job each. The first (the head) holds the request, the
	 * stream output and a reference to each sibling; a sibling (head set)
	 * holds one to the head and borrows its schema and tools. */
	srv_llm_job *head;
	srv_llm_job **sibs; /* head: n_choices - 1 siblings */
	int n_choices, index;
	/* completions with several prompts: choice i answers prompt i / n. The
	 * first choice of each prompt leads it (lead NULL: it owns the prompt's
	 * echo text and logprobs); the others hold a reference to their lead
	 * (lead set) and borrow them. The head keeps the other prompts' tokens
	 * (more_ids, more_n: n_prompts - 1) until their leads take them. */
	srv_llm_job *lead;
	int n_prompts;
	int32_t **more_ids;
	int *more_n;
	int api;             /* enum srv_llm_api (llm_api.c) */
	int family;          /* the chat template family (chat API) */
	srv_llm_tools tools; /* function calling (chat API) */
	int stream, include_usage, echo;
	/* reasoning (chat API): think_on when the answer's <think> block is
	 * returned apart (reasoning_format), think_open when the prompt opened
	 * it; think follows the arrived text */
	int think_on, think_open;
	srv_think think;
	char id[40];
	int64_t created;
	/* arrived text and tokens (loop thread) */
	char *text;
	size_t text_len, text_cap;
	srv_llm_tok *toks;
	int n_toks, toks_cap;
	/* echo (completions): the prompt's text, and with logprobs its tokens'
	 * (n_prompt, the first without), written by the scheduler while it
	 * reads the prompt and read once prompt_done is taken (as p_*) */
	char *echo_text; /* owned by a prompt's lead; its other choices borrow it */
	double *embd;    /* /v1/embeddings: n_embd, written by the scheduler, read once finished */
	int embd_b64;    /* head: encoding_format base64 */
	srv_llm_tok *ptoks; /* the lead's; its other choices answer with the lead's */
	int prompt_done, echo_sent;
	size_t echo_pending; /* stream: the last bytes of echo_text not sent yet (they go with
	                        the answer's first bytes: a character cut by the prompt's end) */
	int finish;       /* enum srv_llm_finish once done */
	int n_completion; /* tokens generated */
	int n_reasoning;  /* of them, the thoughts' (think_on), through </think> */
	int n_cached;     /* prompt tokens the slot already held (prompt_cache) */
	double ttft_ms;
	/* stream output not yet taken by MHD (loop thread) */
	char *out;
	size_t out_len, out_off, out_cap;
	size_t streamed;   /* bytes of text already framed into out (content) */
	size_t r_streamed; /* end of the reasoning already framed into out */
	int toks_streamed; /* tokens whose logprobs are framed into out */
	size_t lp_off;     /* completions text_offset of the next streamed token */
	int out_done, out_suspended, role_sent;
	int fin_sent;                 /* this choice's last chunk is framed */
	int answered;                 /* head, not streamed: the answer is given */
	int client_gone;              /* the connection closed before the answer */
	struct srv__llm_watch *watch; /* disconnect watch while waiting (llm_api.c) */
	/* scheduler -> loop handoff, under llm->lock */
	char *p_text;
	size_t p_len, p_cap;
	srv_llm_tok *p_toks;
	int p_n, p_cap_toks;
	int p_finish, p_completion, p_cached, p_prompt_done, p_reasoning;
	double p_ttft_ms;
	int p_dirty;
	srv_llm_job *p_next_dirty;
	srv_llm_job *l_next; /* loop thread: the next job of the list it took */
	/* scheduler only */
	volatile int cancelled; /* set by the loop (under lock) */
	srv_llm_job *q_next;
	uint64_t t_enqueued;
};

/* ---- llm_sched.c ---- */

/* For registry.c: when m->model is a language model, create its scheduler
 * state (KV cache of cfg.parallel x cfg.ctx_size) on the loading thread.
 * 0 (m->llm set), or -1 with err. */
int srv_llm_load(srv_model *m, int n_threads, char *err, size_t errlen);
/* On the loop once the model is installed: start the scheduler thread and
 * its uv_async_t. 0 or -1. */
int srv_llm_attach(srv_model *m, uv_loop_t *loop);
/* Stop the thread, free the context; the async handle is closed and the
 * rest freed later by libuv. Loop thread. Safe on a never-attached llm. */
void srv_llm_free(srv_llm *l);

/* Queue n jobs, all or none (refs: +1 each for the scheduler). 0, or -1
 * when the queue has no room for them (the caller answers 503). Loop
 * thread. */
int srv_llm_submit(srv_llm *l, srv_llm_job *const *jobs, int n);
int srv_llm_max_queue(const srv_llm *l);
/* The request of job is gone: drop it from the scheduler at the next step
 * (a job still queued is finished at once). */
void srv_llm_cancel(srv_llm *l, srv_llm_job *job);
/* Drain timeout: running sequences end at the next step with finish
 * "length" (their text so far is a valid, cut answer); queued jobs end as
 * cancelled. Later submits are cut the same way. Loop thread. */
void srv_llm_drain(srv_llm *l);
/* Model facts for the API: context per slot, slots, and chat template. */
int srv_llm_n_ctx(const srv_llm *l);
int srv_llm_parallel(const srv_llm *l);
int srv_llm_chat_family(const srv_llm *l);
const mrt_llm_info *srv_llm_info(const srv_llm *l);
/* Prometheus sample lines of the model's token counters, gauges (active
 * slots, queue, KV cache use, tokens/s) and latency histograms. New string
 * (free()) or NULL. Loop thread. */
char *srv_llm_metrics_text(const srv_llm *l, const char *model);

/* ---- llm_tools.c ---- */

/* Read a chat request's "tools" and "tool_choice" for a template family
 * (tmpl: the model's template text or NULL) into *t (OUT; free with
 * srv_llm_tools_free even on failure). 0; -1 with a message for a
 * malformed request; -2 when the family does not take tools. */
int srv_llm_tools_read(srv_llm_tools *t, json_t *body, int family, const char *tmpl, char *err,
                       size_t errlen);
void srv_llm_tools_free(srv_llm_tools *t);
/* The schema that makes the answer one call of a tool t allows (mode
 * SRV_TOOLS_REQUIRED), in the family's format. NULL with a message (a
 * parameters schema modeld cannot keep). */
struct srv_schema *srv_llm_tools_schema(const srv_llm_tools *t, int family, char *err,
                                        size_t errlen);
/* The calls in an answer, in OpenAI's form (new array), and in
 * *content_len (OUT) the length of the text before them; NULL when the
 * answer is not calls of the tools offered. */
json_t *srv_llm_tools_parse(const srv_llm_tools *t, int family, const char *text, size_t len,
                            size_t *content_len);
/* Bytes of a growing answer that may be streamed as text: the rest may be
 * the start of a call. */
size_t srv_llm_tools_streamable(const srv_llm_tools *t, int family, const char *text, size_t len);
/* The "tool_calls" of messages[index] as the template takes them (*calls,
 * *n; the arguments' texts in *texts, n of them, owned by the caller, as
 * is *calls). 0, or -1 with a message. */
struct srv_chat_call;
int srv_llm_tools_msg_calls(json_t *msg, size_t index, struct srv_chat_call **calls, int *n,
                            char ***texts, char *err, size_t errlen);

/* ---- llm_api.c ---- */

/* Route a parsed body for a language model (/v1/completions,
 * /v1/chat/completions, /v1/predict). Answers or queues r. */
void srv_llm_route(srv_req *r, srv_model *m, json_t *body);
/* Called by the scheduler's async callback with new output of job. */
void srv_llm_job_progress(srv_llm_job *job);
/* Drop a loop reference; frees the job at zero. */
void srv_llm_job_unref(srv_llm_job *job);
/* http.c: build the SSE response of a streaming request. */
struct MHD_Response *srv_llm_stream_response(srv_req *r);
/* http.c: the request finished (or the client left): fill the log record's
 * language-model fields and let go of the job. */
void srv_llm_req_done(srv_req *r, srv_log_record *rec);
/* router.c: /v1/models entry of a language model. New JSON object. */
json_t *srv_llm_model_json(srv_model *m);

#endif
