/* modeld internals shared by the server's files: the one state struct
 * (srv), loaded models (srv_model), requests (srv_req) and the functions each
 * file offers the others.
 * DESIGN: one libuv loop thread owns everything here (HTTP, queues, timers,
 * registry, metrics, reference counts) except what a batch hands a worker
 * for the length of one uv_queue_work: the batch's requests' inputs and
 * response buffers, and an mrt_ctx taken from the model's context pool. */
#ifndef SRV_H
#define SRV_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#include "codec.h"
#include "srv_config.h"
#include "log.h"
#include "mrt.h"

#define SRV_VERSION PACKAGE_VERSION

typedef struct srv srv;
typedef struct srv_req srv_req;

/* ---- metrics.c: Prometheus counters and histograms (loop thread) ---- */

#define SRV_HIST_MAX 16
typedef struct srv_hist {
	int n;                         /* buckets (upper bounds) */
	const double *bounds;          /* static table */
	uint64_t counts[SRV_HIST_MAX]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
} srv_hist;

#define SRV_STATUS_MAX 16
typedef struct srv_model_stats {
	char name[SRV_NAME_MAX]; /* "" for requests not bound to a model */
	int n_status;
	int status[SRV_STATUS_MAX];
	uint64_t by_status[SRV_STATUS_MAX];
	srv_hist latency, queue, infer, batch;
	uint64_t inline_runs; /* predictions run on the loop thread */
} srv_model_stats;

typedef struct srv_metrics {
	int n_models;
	srv_model_stats models[SRV_MAX_MODELS + 1];
	uint64_t inflight; /* requests started, not yet completed */
	uint64_t reloads, reload_failures;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
/* Count one answered request (status, times in seconds, batch size or 0). */
void srv_metrics_request(srv_metrics *m, const char *model, int status, double latency_s,
			 double queue_s, double infer_s, int batch_size);
/* Count a prediction that ran on the loop thread (inline_max_us). */
void srv_metrics_inline(srv_metrics *m, const char *model);
/* Prometheus text of everything; new string (free()) or NULL. */
char *srv_metrics_render(srv *s, size_t *len);
/* Queue a snapshot of the main gauges into the log's metrics table. */
void srv_metrics_snapshot(srv *s);

/* ---- registry.c: loaded models, reference counted (loop thread) ---- */

typedef struct srv_model {
	srv *srv;
	srv_model_cfg cfg;
	mrt_model *model; /* immutable, shared by workers */
	unsigned version; /* load generation, 1 = first load */
	int refs;         /* registry + queued requests + running batches */
	int n_inputs, n_outputs;
	/* batcher state */
	srv_req *head, *tail; /* waiting requests, oldest first */
	int64_t n_queued;     /* requests waiting */
	int64_t queued_instances;
	int inflight_batches;
	double cost_ns; /* inference ns per instance (moving average), 0 = none yet */
	void *batch_free; /* idle batches with their input buffers (batcher.c) */
	uv_timer_t timer;
	int timer_closed;
	/* context pool: one mrt_ctx per concurrently running batch */
	pthread_mutex_t ctx_lock;
	mrt_ctx **ctx_free;
	int n_ctx_free, ctx_cap;
	struct srv_llm *llm; /* language models: the scheduler (llm.h); else NULL */
} srv_model;

/* Load every model named in cfg on the calling (worker) thread. Returns an
 * array of cfg->n_models new models (entries NULL when loading failed, with
 * the reasons appended to err). Not yet registered: see srv_registry_swap. */
srv_model **srv_registry_load(srv *s, const srv_config *cfg, char *err, size_t errlen);
/* On the loop: install the loaded set, keeping the old model for a name whose
 * new file failed to load; the old set loses the registry's reference. */
void srv_registry_swap(srv *s, srv_model **loaded, int n);
/* Free loaded models that were never swapped in (a failed start). */
void srv_registry_discard(srv_model **loaded, int n);
srv_model *srv_registry_find(srv *s, const char *name);
void srv_model_ref(srv_model *m);
void srv_model_unref(srv_model *m); /* frees at zero (closes its timer) */
/* Drop every registry reference (shutdown). */
void srv_registry_clear(srv *s);
/* Take / give back a run context (any thread). NULL on failure with err. */
mrt_ctx *srv_model_ctx_take(srv_model *m, char *err, size_t errlen);
void srv_model_ctx_give(srv_model *m, mrt_ctx *ctx);

/* ---- http.c + router.c: requests ---- */

enum srv_req_kind {
	SRV_REQ_V1 = 0,     /* /v1/predict */
	SRV_REQ_V1_MODEL,   /* /v1/models/{name}:predict */
	SRV_REQ_V2,         /* /v2/models/{name}/infer */
};

struct srv_req {
	srv *srv;
	struct MHD_Connection *conn;
	const char *endpoint; /* route pattern for logs and metrics; static */
	char model_name[SRV_NAME_MAX];
	char client[64];
	uint64_t t_start, t_queued, t_run, t_done; /* uv_hrtime() ns */
	/* request body */
	char *body;
	size_t body_len, body_cap;
	int too_large, suspended, answered, sent;
	/* prediction */
	int kind; /* enum srv_req_kind */
	srv_model *model;
	codec_inputs in;  /* inputs in model order; in.t[i].data owned */
	int v2_owned;     /* in.t was built by v2.c: free with srv_v2_inputs_free */
	char v2_id[128];  /* v2 "id" echoed back */
	int batch_size;   /* instances in the batch it ran in */
	int solo;         /* run alone (its batch failed on a bad input) */
	int inlined;      /* ran on the loop thread, without queue or worker */
	srv_req *next;    /* queue link */
	/* answer */
	int status;
	char err_code[32];
	char *resp; /* new body or NULL */
	size_t resp_len;
	int retry_after;
	const char *allow;
	const char *ctype; /* Content-Type when not JSON; static */
	/* language models (llm.h) */
	void *llm;      /* its srv_llm_job while the request lives */
	int llm_stream; /* answered with an SSE stream */
};

/* Answer a request: takes over body (malloc'd JSON). Queues it on MHD if the
 * connection is live (resuming it if suspended). Loop thread only. */
void srv_req_answer(srv_req *r, int status, char *body);
/* Answer with {"error": {...}}; printf-style message. */
void srv_req_error(srv_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Route a complete request (body read); answers or queues it. */
void srv_route(srv_req *r, const char *method, const char *url);
/* Route decision before the body is read: 0 = go on reading, 1 = answered. */
int srv_route_early(srv_req *r, const char *method, const char *url);

int srv_http_start(srv *s, char *err, size_t errlen);
void srv_http_run(srv *s);     /* run MHD now and re-arm its timer */
void srv_http_quiesce(srv *s); /* stop accepting new connections */
void srv_http_stop(srv *s);

/* ---- batcher.c ---- */

/* Queue r (parsed, holding a model reference) on its model. Answers 503
 * when the queue is full. */
void srv_batch_enqueue(srv_req *r);
/* How many of the n requests closing a batch (oldest first) to keep so that
 * a batch above `multiple` instances holds a multiple of it: the newest
 * requests go back to the queue only when they make up the excess exactly
 * (and the oldest always stays). n when nothing is to be left. */
int srv_batch_keep(srv_req *const *reqs, int n, int64_t multiple);
/* Make a batch now if the model's queue allows. */
void srv_batch_poll(srv_model *m);
/* Stop the model's timer (before it is freed). */
void srv_batch_close(srv_model *m, uv_close_cb cb);

/* ---- v2.c: KServe v2 / Open Inference Protocol ---- */

/* Parse a v2 infer body into r->in. 0, or -1 with *e filled. */
int srv_v2_parse(srv_req *r, const mrt_model *model, const json_t *body, codec_error *e);
void srv_v2_inputs_free(codec_inputs *in);
/* Body for rows [row0, row0+rows) of outputs; new string or NULL. */
char *srv_v2_outputs_body(srv_req *r, const mrt_tensor *outputs, int64_t row0, int64_t rows);
/* GET /v2/models/{name} metadata; new string. */
char *srv_v2_model_body(srv_model *m);

/* ---- notify.c ---- */

/* Send one datagram to $NOTIFY_SOCKET (no-op without it). 0 or -errno. */
int srv_notify(const char *state);

/* ---- lifecycle.c ---- */

int srv_lifecycle_start(srv *s);
/* Build the configuration from the file and the command line (any thread).
 * 0 or -1 with err. */
int srv_config_build(const srv *s, srv_config *cfg, char *err, size_t errlen);
/* Load the models of cfg (NULL: re-read the configuration) off the loop and
 * swap them in; at start, a model that fails to load stops the server. */
void srv_reload(srv *s, const srv_config *cfg);
/* Begin the drain (SIGTERM). */
void srv_drain(srv *s);
/* Called when requests complete; finishes the drain when nothing is left. */
void srv_drain_check(srv *s);

/* ---- the server ---- */

struct srv {
	uv_loop_t *loop;
	srv_config cfg;
	/* where the configuration comes from, re-read on SIGHUP (borrowed argv) */
	const char *config_path; /* NULL: no file */
	const char *cli_listen, *cli_log_db;
	char **cli_models; /* NAME=FILE */
	int n_cli_models;
	/* HTTP */
	struct MHD_Daemon *mhd;
	uv_poll_t mhd_poll;
	uv_timer_t mhd_timer;
	int port;
	/* predictions read in the current MHD_run and in the one before it: a
	 * load signal for running cheap models inline (batcher.c) */
	int run_preds, last_run_preds;
	/* models */
	srv_model *models[SRV_MAX_MODELS];
	int n_models;
	unsigned generation;
	/* state */
	int ready, loading, reloading, reload_again, draining, stopping, metrics_timer_on;
	int exit_code;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t metrics_timer, drain_timer, stop_timer;
	srv_log *log;
	srv_metrics metrics;
	uint64_t t_boot;
};

#endif
