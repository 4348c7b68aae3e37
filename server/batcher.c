/* Dynamic batching: per model, a bounded FIFO of parsed requests. A batch
 * closes at max_batch_size instances or when its oldest request has waited
 * max_batch_delay_us, and only while fewer than `workers` batches of the
 * model run, so requests pile up into bigger batches under load. When no
 * batch of the model runs, the queue is sent at the end of the current loop
 * turn (no delay when idle, but the requests read in one turn go together).
 * A batch above batch_multiple instances closes at a multiple of it when its
 * newest requests make up the excess (the runtime's F32 product works on
 * 16-row panels); those requests stay first in the queue.
 * DESIGN: the loop owns the queues; a closed batch is handed whole to a
 * uv_queue_work worker, which concatenates the inputs into the batch's
 * reusable buffers, runs the model with a pooled mrt_ctx and writes each
 * request's answer body; the after-work callback (loop) sends them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict_fast.h"
#include "srv.h"

typedef struct srv__batch {
	uv_work_t work;
	srv_model *m;
	srv_req **reqs;
	int n, cap;
	int64_t instances;
	mrt_tensor *in; /* n_inputs concatenated inputs */
	void **buf;     /* their buffers, grown as needed, kept for reuse */
	size_t *buf_cap;
	int rc;
	char err[256];
	uint64_t t_run, t_done;
	struct srv__batch *next_free;
} srv__batch;

static void srv__batch_free(srv__batch *b, int n_inputs)
{
	for (int i = 0; b->buf && i < n_inputs; i++)
		free(b->buf[i]);
	free(b->buf);
	free(b->buf_cap);
	free(b->in);
	free(b->reqs);
	free(b);
}

static srv__batch *srv__batch_get(srv_model *m)
{
	srv__batch *b = m->batch_free;
	if (b) {
		m->batch_free = b->next_free;
		b->n = 0;
		b->instances = 0;
		b->rc = 0;
		b->err[0] = '\0';
		return b;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	size_t ni = (size_t)(m->n_inputs > 0 ? m->n_inputs : 1);
	b->in = calloc(ni, sizeof(*b->in));
	b->buf = calloc(ni, sizeof(*b->buf));
	b->buf_cap = calloc(ni, sizeof(*b->buf_cap));
	if (!b->in || !b->buf || !b->buf_cap) {
		srv__batch_free(b, 0);
		return NULL;
	}
	b->m = m;
	return b;
}

static void srv__batch_put(srv_model *m, srv__batch *b)
{
	b->next_free = m->batch_free;
	m->batch_free = b;
}

void srv_batch_close(srv_model *m, uv_close_cb cb)
{
	srv__batch *b;
	while ((b = m->batch_free) != NULL) {
		m->batch_free = b->next_free;
		srv__batch_free(b, m->n_inputs);
	}
	uv_close((uv_handle_t *)&m->timer, cb);
}

/* Do the non-batch dims of two requests' inputs agree (so they concatenate)? */
static int srv__same_rows(const srv_req *a, const srv_req *b)
{
	for (int i = 0; i < a->in.n; i++) {
		const mrt_tensor *x = &a->in.t[i], *y = &b->in.t[i];
		if (x->ndim != y->ndim || x->dtype != y->dtype ||
		    memcmp(x->dims + 1, y->dims + 1, sizeof(x->dims[0]) * (size_t)(x->ndim - 1)))
			return 0;
	}
	return 1;
}

/* Bytes of one row (batch entry) of t, or 0 on overflow. */
static size_t srv__row_bytes(const mrt_tensor *t)
{
	size_t n = mrt_dtype_size(t->dtype);
	for (int d = 1; d < t->ndim; d++) {
		if (t->dims[d] < 0 || (t->dims[d] && n > SIZE_MAX / (size_t)t->dims[d]))
			return 0;
		n *= (size_t)t->dims[d];
	}
	return n;
}

/* Worker: concatenate the requests' inputs along dim 0 into b->in. */
static int srv__batch_concat(srv__batch *b)
{
	srv_model *m = b->m;
	for (int i = 0; i < m->n_inputs; i++) {
		const mrt_tensor *t0 = &b->reqs[0]->in.t[i];
		size_t row = srv__row_bytes(t0);
		if (!row || (size_t)b->instances > SIZE_MAX / row)
			return MRT_ERR_NOMEM;
		size_t need = row * (size_t)b->instances;
		if (need > b->buf_cap[i]) {
			void *nb = realloc(b->buf[i], need);
			if (!nb)
				return MRT_ERR_NOMEM;
			b->buf[i] = nb;
			b->buf_cap[i] = need;
		}
		char *dst = b->buf[i];
		for (int k = 0; k < b->n; k++) {
			const mrt_tensor *t = &b->reqs[k]->in.t[i];
			memcpy(dst, t->data, row * (size_t)t->dims[0]);
			dst += row * (size_t)t->dims[0];
		}
		b->in[i] = *t0;
		b->in[i].dims[0] = b->instances;
		b->in[i].data = b->buf[i];
	}
	return 0;
}

/* Worker: the answer body of request r, rows [row0, row0 + rows). */
static char *srv__answer_body(srv_model *m, srv_req *r, const mrt_tensor *out, int64_t row0)
{
	int64_t rows = r->in.batch;
	if (r->kind == SRV_REQ_V2)
		return srv_v2_outputs_body(r, out, row0, rows);
	const char *name = r->kind == SRV_REQ_V1_MODEL ? NULL : m->cfg.name;
	int inst = r->kind == SRV_REQ_V1_MODEL || r->in.used_instances;
	char *fast = m->n_outputs == 1 && r->in.k == 0
			     ? srv_fast_outputs_body(name, inst, &out[0], row0, rows)
			     : NULL;
	if (fast)
		return fast;
	json_t *j = codec_outputs_json_k(m->model, out, row0, rows, r->in.k);
	if (!j)
		return NULL;
	if (r->kind == SRV_REQ_V1_MODEL)
		return codec_predict_body(NULL, j, 1);
	return codec_predict_body(m->cfg.name, j, r->in.used_instances);
}

/* Run the model on in, the rows of reqs[0 .. n) in order, with a pooled
 * context and write each request's answer body (NULL when out of memory).
 * Any thread. Returns the run's status, err filled on failure. */
static int srv__run_reqs(srv_model *m, const mrt_tensor *in, srv_req *const *reqs, int n,
			 char *err, size_t errlen)
{
	mrt_tensor out[MRT_MAX_DIMS * 4];
	if (m->n_outputs > (int)(sizeof(out) / sizeof(out[0]))) {
		snprintf(err, errlen, "too many outputs");
		return MRT_ERR_UNSUPPORTED;
	}
	mrt_ctx *ctx = srv_model_ctx_take(m, err, errlen);
	if (!ctx)
		return MRT_ERR_NOMEM;
	int rc = mrt_run(ctx, m->n_inputs, in, out, err, errlen);
	int64_t row0 = 0;
	for (int k = 0; rc == 0 && k < n; row0 += reqs[k++]->in.batch)
		reqs[k]->resp = srv__answer_body(m, reqs[k], out, row0);
	srv_model_ctx_give(m, ctx);
	return rc;
}

static void srv__batch_work(uv_work_t *w)
{
	srv__batch *b = w->data;
	b->t_run = uv_hrtime();
	const mrt_tensor *in = b->reqs[0]->in.t;
	if (b->n > 1) {
		b->rc = srv__batch_concat(b);
		in = b->in;
	}
	if (b->rc == 0)
		b->rc = srv__run_reqs(b->m, in, b->reqs, b->n, b->err, sizeof(b->err));
	b->t_done = uv_hrtime();
}

static int srv__client_fault(int rc)
{
	return rc == MRT_ERR_SHAPE || rc == MRT_ERR_DTYPE || rc == MRT_ERR_RANGE ||
	       rc == MRT_ERR_INVALID;
}

/* Put r back at the head of its model's queue. */
static void srv__queue_front(srv_model *m, srv_req *r)
{
	r->next = m->head;
	m->head = r;
	if (!m->tail)
		m->tail = r;
	m->n_queued++;
	m->queued_instances += r->in.batch;
}

/* Put the requests of a failed batch back at the head, each to run alone, so
 * one bad input cannot fail its neighbours. */
static void srv__batch_requeue(srv__batch *b)
{
	for (int k = b->n - 1; k >= 0; k--) {
		b->reqs[k]->solo = 1;
		srv__queue_front(b->m, b->reqs[k]);
	}
}

/* Answer r from its run: rc, err and its body r->resp (when rc == 0). */
static void srv__req_finish(srv_req *r, int rc, const char *err)
{
	if (rc == 0) {
		char *body = r->resp;
		r->resp = NULL;
		srv_req_answer(r, 200, body);
	} else if (srv__client_fault(rc)) {
		srv_req_error(r, 400, rc == MRT_ERR_RANGE ? "out_of_range" : "invalid_input", "%s",
			      err);
	} else {
		srv_req_error(r, 500, "inference_failed", "%s: %s", mrt_strerror(rc), err);
	}
}

/* Fold a run's time per instance into the model's moving average. */
static void srv__cost_add(srv_model *m, uint64_t ns, int64_t instances)
{
	double per = (double)ns / (double)(instances > 0 ? instances : 1);
	m->cost_ns = m->cost_ns > 0 ? m->cost_ns + (per - m->cost_ns) / 8 : per;
}

static void srv__batch_done(uv_work_t *w, int status)
{
	srv__batch *b = w->data;
	srv_model *m = b->m;
	srv *s = m->srv;
	if (b->rc != 0 && b->n > 1 && srv__client_fault(b->rc)) {
		srv__batch_requeue(b);
		goto out;
	}
	if (b->rc == 0)
		srv__cost_add(m, b->t_done - b->t_run, b->instances);
	for (int k = 0; k < b->n; k++) {
		srv_req *r = b->reqs[k];
		r->t_run = b->t_run;
		r->t_done = b->t_done;
		r->batch_size = (int)b->instances;
		srv__req_finish(r, b->rc, b->err);
	}
out:
	m->inflight_batches--;
	srv__batch_put(m, b);
	srv_batch_poll(m);
	srv_model_unref(m);
	srv_http_run(s);
}

/* Pop the head request, answering 504 for those whose deadline passed. */
static srv_req *srv__pop_live(srv_model *m, uint64_t now)
{
	while (m->head) {
		srv_req *r = m->head;
		m->head = r->next;
		if (!m->head)
			m->tail = NULL;
		r->next = NULL;
		m->n_queued--;
		m->queued_instances -= r->in.batch;
		if (now - r->t_queued <= (uint64_t)m->cfg.timeout_ms * 1000000u)
			return r;
		r->t_run = r->t_done = now;
		srv_req_error(r, 504, "deadline_exceeded",
			      "request waited more than %lld ms in the queue of '%s'",
			      (long long)m->cfg.timeout_ms, m->cfg.name);
	}
	return NULL;
}

/* Close one batch from the head of the queue and hand it to a worker. */
static void srv__batch_dispatch(srv_model *m, uint64_t now)
{
	srv__batch *b = srv__batch_get(m);
	int cap = (int)m->cfg.max_batch_size;
	if (b && b->cap < cap) {
		srv_req **nr = realloc(b->reqs, sizeof(*nr) * (size_t)cap);
		if (nr) {
			b->reqs = nr;
			b->cap = cap;
		}
	}
	srv_req *r = b && b->cap >= cap ? srv__pop_live(m, now) : NULL;
	if (!r) {
		if (b)
			srv__batch_put(m, b);
		if (b && b->cap >= cap)
			return; /* every waiting request had passed its deadline */
		if ((r = srv__pop_live(m, now)) != NULL) /* fail one so the queue moves */
			srv_req_error(r, 500, "internal", "out of memory");
		return;
	}
	/* each request holds >= 1 instance, so cap requests always fit */
	for (;;) {
		b->reqs[b->n++] = r;
		b->instances += r->in.batch;
		r = m->head;
		if (!r || r->solo || b->reqs[0]->solo || !srv__same_rows(b->reqs[0], r) ||
		    b->instances + r->in.batch > m->cfg.max_batch_size)
			break;
		if (!(r = srv__pop_live(m, now)))
			break;
	}
	/* the newest requests past a multiple of batch_multiple wait for the next
	 * batch, first in the queue (srv_batch_keep) */
	for (int keep = srv_batch_keep(b->reqs, b->n, m->cfg.batch_multiple); b->n > keep;) {
		r = b->reqs[--b->n];
		b->instances -= r->in.batch;
		srv__queue_front(m, r);
	}
	b->work.data = b;
	m->inflight_batches++;
	srv_model_ref(m);
	uv_queue_work(m->srv->loop, &b->work, srv__batch_work, srv__batch_done);
}

static void srv__batch_run(srv_model *m, int from_timer);

static void srv__on_timer(uv_timer_t *t)
{
	srv__batch_run(t->data, 1);
}

/* Close and dispatch batches while workers are free. from_timer: the model's
 * timer fired (a delay ran out, or the loop turn that found the workers idle
 * has ended). */
static void srv__batch_run(srv_model *m, int from_timer)
{
	uint64_t now = uv_hrtime();
	while (m->head && m->inflight_batches < m->srv->cfg.workers) {
		uint64_t waited = now - m->head->t_queued;
		uint64_t delay = (uint64_t)m->cfg.max_batch_delay_us * 1000u;
		int wait = m->queued_instances < m->cfg.max_batch_size && !m->srv->draining &&
			   !m->head->solo;
		/* with every worker idle, waiting only adds latency: batches form
		 * from what arrives while the workers are busy */
		if (wait && waited < delay && m->inflight_batches > 0) {
			uint64_t left_ms = (delay - waited + 999999) / 1000000;
			uv_timer_start(&m->timer, srv__on_timer, left_ms, 0);
			return;
		}
		/* idle: close the batch when this loop turn ends, so the requests
		 * read in the same turn (a burst of answered clients sending again)
		 * go together instead of the first alone */
		if (wait && m->inflight_batches == 0 && !from_timer) {
			uv_timer_start(&m->timer, srv__on_timer, 0, 0);
			return;
		}
		srv__batch_dispatch(m, now);
	}
}

void srv_batch_poll(srv_model *m)
{
	srv__batch_run(m, 0);
}

/* Should r run on the loop thread now? Only for a model whose measured
 * cost per instance times r's instances stays below inline_max_us, and
 * only at low load: none of its batches running or queued (order is kept),
 * r the first prediction read in this pass over the connections and the
 * previous pass read at most one. Under load the loop thread is the
 * bottleneck (it reads, parses and sends every request), so the work goes
 * to the workers, batched. The first requests go through the workers,
 * which measure the cost. */
static int srv__want_inline(const srv_model *m, const srv_req *r)
{
	const srv *s = m->srv;
	return m->cfg.inline_max_us > 0 && m->cost_ns > 0 && !m->head &&
	       m->inflight_batches == 0 && s->run_preds == 1 && s->last_run_preds <= 1 &&
	       !r->solo && !s->draining &&
	       m->cost_ns * (double)r->in.batch < (double)m->cfg.inline_max_us * 1e3;
}

/* Run r on the loop thread: for a model cheaper than the hand-off to a
 * worker and back (the queue, a thread wake-up, the async wake-up of the
 * loop, and suspending and resuming the connection), the way a server
 * without batching runs a model on its request thread. */
static void srv__run_inline(srv_model *m, srv_req *r)
{
	char err[256] = "";
	r->t_queued = r->t_run = uv_hrtime();
	r->inlined = 1;
	r->batch_size = (int)r->in.batch;
	int rc = srv__run_reqs(m, r->in.t, &r, 1, err, sizeof(err));
	r->t_done = uv_hrtime();
	if (rc == 0)
		srv__cost_add(m, r->t_done - r->t_run, r->in.batch);
	srv__req_finish(r, rc, err);
}

void srv_batch_enqueue(srv_req *r)
{
	srv_model *m = r->model;
	m->srv->run_preds++;
	if (srv__want_inline(m, r)) {
		srv__run_inline(m, r);
		return;
	}
	if (m->n_queued >= m->cfg.max_queue) {
		srv_req_error(r, 503, "queue_full", "the queue of '%s' is full (%lld requests)",
			      m->cfg.name, (long long)m->cfg.max_queue);
		return;
	}
	r->t_queued = uv_hrtime();
	r->next = NULL;
	if (m->tail)
		m->tail->next = r;
	else
		m->head = r;
	m->tail = r;
	m->n_queued++;
	m->queued_instances += r->in.batch;
	srv_batch_poll(m);
}
