/* Prometheus metrics: per-model request counters by status and histograms of
 * latency, queue time, inference time and batch size, plus gauges, rendered
 * in the text exposition format. Loop thread only. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "srv.h"

static const double srv__time_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
					  0.05,   0.1,   0.25,   0.5,   1,    2.5, 10};
static const double srv__batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void srv__hist_init(srv_hist *h, const double *bounds, int n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->n = n;
}

static void srv__hist_add(srv_hist *h, double v)
{
	int i = 0;
	while (i < h->n && v > h->bounds[i])
		i++;
	if (i < h->n)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

static void srv__stats_init(srv_model_stats *st, const char *name)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	srv__hist_init(&st->latency, srv__time_bounds, N_ELEMS(srv__time_bounds));
	srv__hist_init(&st->queue, srv__time_bounds, N_ELEMS(srv__time_bounds));
	srv__hist_init(&st->infer, srv__time_bounds, N_ELEMS(srv__time_bounds));
	srv__hist_init(&st->batch, srv__batch_bounds, N_ELEMS(srv__batch_bounds));
}

void srv_metrics_init(srv_metrics *m)
{
	memset(m, 0, sizeof(*m));
	srv__stats_init(&m->models[0], "");
	m->n_models = 1;
}

/* Stats of a model name; names past the table share the "" entry. */
static srv_model_stats *srv__stats(srv_metrics *m, const char *model)
{
	for (int i = 0; i < m->n_models; i++)
		if (strcmp(m->models[i].name, model) == 0)
			return &m->models[i];
	if (m->n_models == N_ELEMS(m->models))
		return &m->models[0];
	srv__stats_init(&m->models[m->n_models], model);
	return &m->models[m->n_models++];
}

void srv_metrics_inline(srv_metrics *m, const char *model)
{
	srv__stats(m, model)->inline_runs++;
}

void srv_metrics_request(srv_metrics *m, const char *model, int status, double latency_s,
			 double queue_s, double infer_s, int batch_size)
{
	/* unknown names would let clients grow the table: count them under "" */
	srv_model_stats *st = srv__stats(m, status == 404 ? "" : model);
	int i = 0;
	while (i < st->n_status && st->status[i] != status)
		i++;
	if (i == st->n_status && i < SRV_STATUS_MAX) {
		st->status[i] = status;
		st->by_status[i] = 0;
		st->n_status++;
	}
	if (i < SRV_STATUS_MAX)
		st->by_status[i]++;
	srv__hist_add(&st->latency, latency_s);
	if (batch_size > 0) {
		srv__hist_add(&st->queue, queue_s);
		srv__hist_add(&st->infer, infer_s);
		srv__hist_add(&st->batch, batch_size);
	}
}

typedef struct srv__buf {
	char *p;
	size_t len, cap;
	int failed;
} srv__buf;

static void srv__printf(srv__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv__printf(srv__buf *b, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !b->failed; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void srv__hist_render(srv__buf *b, const char *metric, const char *model,
			     const srv_hist *h)
{
	uint64_t cum = 0;
	for (int i = 0; i < h->n; i++) {
		cum += h->counts[i];
		srv__printf(b, "%s_bucket{model=\"%s\",le=\"%g\"} %llu\n", metric, model,
			    h->bounds[i], (unsigned long long)cum);
	}
	srv__printf(b, "%s_bucket{model=\"%s\",le=\"+Inf\"} %llu\n", metric, model,
		    (unsigned long long)h->count);
	srv__printf(b, "%s_sum{model=\"%s\"} %.9g\n%s_count{model=\"%s\"} %llu\n", metric, model,
		    h->sum, metric, model, (unsigned long long)h->count);
}

static void srv__render_hists(srv__buf *b, const srv_metrics *m)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} hs[] = {
		{"modeld_request_duration_seconds", "Time from request start to answer.",
		 offsetof(srv_model_stats, latency)},
		{"modeld_queue_duration_seconds", "Time a prediction waited for its batch.",
		 offsetof(srv_model_stats, queue)},
		{"modeld_inference_duration_seconds", "Time the batch of a prediction ran.",
		 offsetof(srv_model_stats, infer)},
		{"modeld_batch_size", "Instances in the batch a prediction ran in.",
		 offsetof(srv_model_stats, batch)},
	};
	for (int k = 0; k < N_ELEMS(hs); k++) {
		srv__printf(b, "# HELP %s %s\n# TYPE %s histogram\n", hs[k].name, hs[k].help,
			    hs[k].name);
		for (int i = 0; i < m->n_models; i++) {
			const srv_hist *h =
				(const srv_hist *)(const void *)((const char *)&m->models[i] +
								 hs[k].off);
			if (h->count)
				srv__hist_render(b, hs[k].name, m->models[i].name, h);
		}
	}
}

char *srv_metrics_render(srv *s, size_t *len)
{
	srv__buf b = {0};
	const srv_metrics *m = &s->metrics;
	srv__printf(&b, "# HELP modeld_requests_total Answered requests.\n"
			"# TYPE modeld_requests_total counter\n");
	for (int i = 0; i < m->n_models; i++)
		for (int k = 0; k < m->models[i].n_status; k++)
			srv__printf(&b, "modeld_requests_total{model=\"%s\",status=\"%d\"} %llu\n",
				    m->models[i].name, m->models[i].status[k],
				    (unsigned long long)m->models[i].by_status[k]);
	srv__render_hists(&b, m);
	srv__printf(&b, "# HELP modeld_inline_predictions_total Predictions run on the event loop "
			"thread (inline_max_us).\n# TYPE modeld_inline_predictions_total counter\n");
	for (int i = 0; i < m->n_models; i++)
		if (m->models[i].name[0])
			srv__printf(&b, "modeld_inline_predictions_total{model=\"%s\"} %llu\n",
				    m->models[i].name,
				    (unsigned long long)m->models[i].inline_runs);
	srv__printf(&b, "# HELP modeld_queue_depth Requests waiting for a batch.\n"
			"# TYPE modeld_queue_depth gauge\n");
	for (int i = 0; i < s->n_models; i++)
		srv__printf(&b, "modeld_queue_depth{model=\"%s\"} %lld\n", s->models[i]->cfg.name,
			    (long long)s->models[i]->n_queued);
	for (int i = 0; i < s->n_models; i++) {
		char *t = s->models[i]->llm
				  ? srv_llm_metrics_text(s->models[i]->llm, s->models[i]->cfg.name)
				  : NULL;
		if (t)
			srv__printf(&b, "%s", t);
		free(t);
	}
	srv__printf(&b,
		    "# TYPE modeld_inflight_requests gauge\nmodeld_inflight_requests %llu\n"
		    "# TYPE modeld_models_loaded gauge\nmodeld_models_loaded %d\n"
		    "# TYPE modeld_ready gauge\nmodeld_ready %d\n"
		    "# TYPE modeld_reloads_total counter\nmodeld_reloads_total %llu\n"
		    "# TYPE modeld_reload_failures_total counter\n"
		    "modeld_reload_failures_total %llu\n"
		    "# TYPE modeld_log_rows_written_total counter\n"
		    "modeld_log_rows_written_total %llu\n"
		    "# TYPE modeld_log_rows_dropped_total counter\n"
		    "modeld_log_rows_dropped_total %llu\n",
		    (unsigned long long)m->inflight, s->n_models, s->ready && !s->draining,
		    (unsigned long long)m->reloads, (unsigned long long)m->reload_failures,
		    (unsigned long long)(s->log ? srv_log_rows_written(s->log) : 0),
		    (unsigned long long)(s->log ? srv_log_rows_dropped(s->log) : 0));
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

void srv_metrics_snapshot(srv *s)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	int64_t now = tv.tv_sec * 1000000 + tv.tv_usec;
	int64_t queued = 0;
	uint64_t total = 0;
	for (int i = 0; i < s->n_models; i++)
		queued += s->models[i]->n_queued;
	for (int i = 0; i < s->metrics.n_models; i++)
		total += s->metrics.models[i].latency.count;
	srv_log_submit_metric(s->log, now, "requests_total", (double)total);
	srv_log_submit_metric(s->log, now, "queue_depth", (double)queued);
	srv_log_submit_metric(s->log, now, "inflight_requests", (double)s->metrics.inflight);
	srv_log_submit_metric(s->log, now, "models_loaded", (double)s->n_models);
	srv_log_submit_metric(s->log, now, "log_rows_dropped",
			      (double)srv_log_rows_dropped(s->log));
}
