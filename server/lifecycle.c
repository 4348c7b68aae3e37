/* Process life: loading at start and on SIGHUP (configuration and model
 * files read off the loop, then an atomic swap on it), the SIGTERM drain,
 * periodic metric snapshots and the systemd notifications around them. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm.h"
#include "srv.h"

typedef struct srv__load_job {
	uv_work_t work;
	srv *srv;
	int have_cfg, cfg_failed;
	srv_config cfg;
	srv_model **loaded;
	char err[4096];
} srv__load_job;

int srv_config_build(const srv *s, srv_config *cfg, char *err, size_t errlen)
{
	srv_config_defaults(cfg);
	if (s->config_path && srv_config_load(cfg, s->config_path, err, errlen) < 0)
		return -1;
	if (s->cli_listen && srv_config_set(cfg, "listen", s->cli_listen, err, errlen) < 0)
		return -1;
	if (s->cli_log_db && srv_config_set(cfg, "log_db", s->cli_log_db, err, errlen) < 0)
		return -1;
	for (int i = 0; i < s->n_cli_models; i++)
		if (srv_config_add_model(cfg, s->cli_models[i], err, errlen) < 0)
			return -1;
	return srv_config_check(cfg, err, errlen);
}

static void srv__load_work(uv_work_t *w)
{
	srv__load_job *job = w->data;
	if (!job->have_cfg &&
	    srv_config_build(job->srv, &job->cfg, job->err, sizeof(job->err)) < 0) {
		job->cfg_failed = 1;
		return;
	}
	job->loaded = srv_registry_load(job->srv, &job->cfg, job->err, sizeof(job->err));
	if (!job->loaded) {
		job->cfg_failed = 1;
		snprintf(job->err, sizeof(job->err), "out of memory");
	}
}

static void srv__status(srv *s, const char *prefix)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "%sSTATUS=serving %d model%s on port %d", prefix, s->n_models,
		 s->n_models == 1 ? "" : "s", s->port);
	srv_notify(msg);
}

/* Settings that take effect on reload; listen, workers, log and thread
 * counts need a restart. */
static void srv__apply_cfg(srv *s, const srv_config *next)
{
	srv_config keep = s->cfg;
	s->cfg = *next;
	memcpy(s->cfg.listen, keep.listen, sizeof(keep.listen));
	memcpy(s->cfg.log_db, keep.log_db, sizeof(keep.log_db));
	s->cfg.workers = keep.workers;
	s->cfg.blas_threads = keep.blas_threads;
	s->cfg.max_connections = keep.max_connections;
	s->cfg.connection_timeout_s = keep.connection_timeout_s;
	s->cfg.connection_memory_bytes = keep.connection_memory_bytes;
	s->cfg.log_queue = keep.log_queue;
}

static void srv__load_done(uv_work_t *w, int status)
{
	srv__load_job *job = w->data;
	srv *s = job->srv;
	int first = !s->ready;
	if (job->err[0])
		fprintf(stderr, "modeld: %s%s\n", first ? "" : "reload: ", job->err);
	if (first && (job->cfg_failed || job->err[0])) {
		if (job->loaded)
			srv_registry_discard(job->loaded, job->cfg.n_models);
		s->exit_code = 1;
		s->loading = 0;
		srv_drain(s);
		goto out;
	}
	if (job->cfg_failed || job->err[0])
		s->metrics.reload_failures++;
	if (!job->cfg_failed) {
		srv__apply_cfg(s, &job->cfg);
		srv_registry_swap(s, job->loaded, job->cfg.n_models);
	}
	if (!first)
		s->metrics.reloads++;
	s->ready = 1;
	s->loading = s->reloading = 0;
	fprintf(stderr, "modeld: %s %d model%s\n", first ? "serving" : "reloaded", s->n_models,
		s->n_models == 1 ? "" : "s");
	srv__status(s, "READY=1\n");
	if (s->reload_again && !s->draining) {
		s->reload_again = 0;
		srv_reload(s, NULL);
	}
	if (s->draining)
		srv_drain_check(s);
out:
	free(job->loaded);
	free(job);
}

void srv_reload(srv *s, const srv_config *cfg)
{
	if (s->draining)
		return;
	if (s->loading || s->reloading) {
		s->reload_again = 1;
		return;
	}
	srv__load_job *job = calloc(1, sizeof(*job));
	if (!job) {
		fprintf(stderr, "modeld: reload: out of memory\n");
		return;
	}
	job->srv = s;
	job->work.data = job;
	if (cfg) {
		job->cfg = *cfg;
		job->have_cfg = 1;
	}
	if (s->ready) {
		struct timespec ts;
		char msg[96];
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
			 (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
		srv_notify(msg);
		s->reloading = 1;
	} else {
		s->loading = 1;
	}
	uv_queue_work(s->loop, &job->work, srv__load_work, srv__load_done);
}

static void srv__stop(srv *s)
{
	s->stopping = 1;
	uv_close((uv_handle_t *)&s->sig_term, NULL);
	uv_close((uv_handle_t *)&s->sig_int, NULL);
	uv_close((uv_handle_t *)&s->sig_hup, NULL);
	uv_close((uv_handle_t *)&s->metrics_timer, NULL);
	uv_close((uv_handle_t *)&s->drain_timer, NULL);
	uv_close((uv_handle_t *)&s->stop_timer, NULL);
	srv_http_stop(s);
	srv_registry_clear(s);
	if (s->metrics_timer_on)
		srv_metrics_snapshot(s);
}

static int srv__drained(srv *s)
{
	return s->draining && !s->stopping && !s->loading && !s->reloading &&
	       s->metrics.inflight == 0;
}

static void srv__on_stop_timer(uv_timer_t *t)
{
	if (srv__drained(t->data))
		srv__stop(t->data);
}

/* Called from MHD callbacks too, where the daemon must not be stopped: the
 * stop happens on the next loop turn. */
void srv_drain_check(srv *s)
{
	if (srv__drained(s))
		uv_timer_start(&s->stop_timer, srv__on_stop_timer, 0, 0);
}

/* The drain took too long: answer whatever still waits and cut running
 * generations so the loop ends. */
static void srv__on_drain_timeout(uv_timer_t *t)
{
	srv *s = t->data;
	fprintf(stderr, "modeld: drain timeout: refusing queued requests\n");
	for (int i = 0; i < s->n_models; i++) {
		srv_model *m = s->models[i];
		while (m->head) {
			srv_req *r = m->head;
			m->head = r->next;
			m->n_queued--;
			m->queued_instances -= r->in.batch;
			srv_req_error(r, 503, "draining", "server is shutting down");
		}
		m->tail = NULL;
		if (m->llm)
			srv_llm_drain(m->llm); /* streams end as "length", queued ones 503 */
	}
	srv_http_run(s);
}

void srv_drain(srv *s)
{
	if (s->draining)
		return;
	s->draining = 1;
	srv_notify("STOPPING=1\nSTATUS=draining");
	fprintf(stderr, "modeld: draining\n");
	srv_http_quiesce(s);
	for (int i = 0; i < s->n_models; i++)
		srv_batch_poll(s->models[i]); /* no more waiting for fuller batches */
	uv_timer_start(&s->drain_timer, srv__on_drain_timeout,
		       (uint64_t)s->cfg.drain_timeout_s * 1000u, 0);
	srv_http_run(s);
	srv_drain_check(s);
}

static void srv__on_signal(uv_signal_t *h, int signum)
{
	srv *s = h->data;
	if (signum == SIGHUP) {
		fprintf(stderr, "modeld: SIGHUP: reloading\n");
		srv_reload(s, NULL);
	} else {
		srv_drain(s);
	}
}

static void srv__on_metrics_timer(uv_timer_t *t)
{
	srv_metrics_snapshot(t->data);
}

int srv_lifecycle_start(srv *s)
{
	uv_signal_t *sigs[] = {&s->sig_term, &s->sig_int, &s->sig_hup};
	int nums[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(s->loop, sigs[i]);
		sigs[i]->data = s;
		int rc = uv_signal_start(sigs[i], srv__on_signal, nums[i]);
		if (rc < 0)
			return rc;
	}
	uv_timer_init(s->loop, &s->drain_timer);
	s->drain_timer.data = s;
	uv_timer_init(s->loop, &s->stop_timer);
	s->stop_timer.data = s;
	uv_timer_init(s->loop, &s->metrics_timer);
	s->metrics_timer.data = s;
	if (s->cfg.metrics_interval_s > 0) {
		uint64_t ms = (uint64_t)s->cfg.metrics_interval_s * 1000u;
		uv_timer_start(&s->metrics_timer, srv__on_metrics_timer, ms, ms);
		s->metrics_timer_on = 1;
	}
	return 0;
}
