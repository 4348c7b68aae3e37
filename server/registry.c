/* Model registry: name -> loaded model with its batch queue and a pool of run
 * contexts. Loading happens on a worker; the swap happens on the loop, so a
 * request either sees the old or the new model, never neither. A model lives
 * while the registry, a queued request or a running batch holds a reference. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "srv.h"

static srv_model *srv__model_load(srv *s, const srv_model_cfg *mc, char *err, size_t errlen)
{
	srv_model *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mrt_model_params mp = mrt_model_default_params();
	mp.repack = (int)mc->repack;
	m->model = mrt_model_load(mc->path, &mp, err, errlen);
	if (!m->model)
		goto fail_free;
	if (pthread_mutex_init(&m->ctx_lock, NULL) != 0) {
		snprintf(err, errlen, "mutex");
		goto fail_model;
	}
	m->srv = s;
	m->cfg = *mc;
	m->n_inputs = mrt_model_n_inputs(m->model);
	m->n_outputs = mrt_model_n_outputs(m->model);
	if (mrt_model_kind(m->model) == MRT_MODEL_LLAMA &&
	    srv_llm_load(m, s->cfg.workers > 2 ? 2 : (int)s->cfg.workers, err, errlen) < 0)
		goto fail_mutex;
	return m;
fail_mutex:
	pthread_mutex_destroy(&m->ctx_lock);
fail_model:
	mrt_model_free(m->model);
fail_free:
	free(m);
	return NULL;
}

srv_model **srv_registry_load(srv *s, const srv_config *cfg, char *err, size_t errlen)
{
	srv_model **out = calloc((size_t)cfg->n_models + 1, sizeof(*out));
	if (!out)
		return NULL;
	err[0] = '\0';
	for (int i = 0; i < cfg->n_models; i++) {
		char why[512];
		out[i] = srv__model_load(s, &cfg->models[i], why, sizeof(why));
		if (!out[i]) {
			size_t used = strlen(err);
			snprintf(err + used, errlen - used, "%smodel '%s': %s", used ? "; " : "",
				 cfg->models[i].name, why);
		}
	}
	return out;
}

static void srv__model_free_cb(uv_handle_t *h)
{
	srv_model *m = h->data;
	for (int i = 0; i < m->n_ctx_free; i++)
		mrt_ctx_free(m->ctx_free[i]);
	free(m->ctx_free);
	pthread_mutex_destroy(&m->ctx_lock);
	srv_llm_free(m->llm);
	mrt_model_free(m->model);
	free(m);
}

void srv_registry_discard(srv_model **loaded, int n)
{
	for (int i = 0; i < n; i++) {
		if (!loaded[i])
			continue;
		pthread_mutex_destroy(&loaded[i]->ctx_lock);
		srv_llm_free(loaded[i]->llm);
		mrt_model_free(loaded[i]->model);
		free(loaded[i]);
		loaded[i] = NULL;
	}
}

/* Give a newly loaded model its loop handles (loop thread). */
static void srv__model_attach(srv *s, srv_model *m)
{
	m->version = ++s->generation;
	m->refs = 1;
	uv_timer_init(s->loop, &m->timer);
	m->timer.data = m;
	if (m->llm && srv_llm_attach(m, s->loop) < 0)
		fprintf(stderr, "modeld: model '%s': cannot start its scheduler\n", m->cfg.name);
}

void srv_model_ref(srv_model *m)
{
	m->refs++;
}

void srv_model_unref(srv_model *m)
{
	if (--m->refs > 0)
		return;
	srv_batch_close(m, srv__model_free_cb);
}

srv_model *srv_registry_find(srv *s, const char *name)
{
	for (int i = 0; i < s->n_models; i++)
		if (strcmp(s->models[i]->cfg.name, name) == 0)
			return s->models[i];
	return NULL;
}

void srv_registry_swap(srv *s, srv_model **loaded, int n)
{
	srv_model *next[SRV_MAX_MODELS];
	int n_next = 0;
	for (int i = 0; i < n && n_next < SRV_MAX_MODELS; i++) {
		if (loaded[i]) {
			srv__model_attach(s, loaded[i]);
			next[n_next++] = loaded[i];
			continue;
		}
		/* keep serving the old file when the new one failed */
		srv_model *old = srv_registry_find(s, s->cfg.models[i].name);
		if (old) {
			srv_model_ref(old);
			next[n_next++] = old;
		}
	}
	for (int i = 0; i < s->n_models; i++)
		srv_model_unref(s->models[i]);
	memcpy(s->models, next, sizeof(next[0]) * (size_t)n_next);
	s->n_models = n_next;
}

void srv_registry_clear(srv *s)
{
	for (int i = 0; i < s->n_models; i++)
		srv_model_unref(s->models[i]);
	s->n_models = 0;
}

mrt_ctx *srv_model_ctx_take(srv_model *m, char *err, size_t errlen)
{
	mrt_ctx *ctx = NULL;
	pthread_mutex_lock(&m->ctx_lock);
	if (m->n_ctx_free > 0)
		ctx = m->ctx_free[--m->n_ctx_free];
	pthread_mutex_unlock(&m->ctx_lock);
	if (ctx)
		return ctx;
	mrt_ctx_params cp = mrt_ctx_default_params();
	cp.n_threads = 1;
	return mrt_ctx_new(m->model, &cp, err, errlen);
}

void srv_model_ctx_give(srv_model *m, mrt_ctx *ctx)
{
	pthread_mutex_lock(&m->ctx_lock);
	if (m->n_ctx_free == m->ctx_cap) {
		int cap = m->ctx_cap ? m->ctx_cap * 2 : 4;
		mrt_ctx **nc = realloc(m->ctx_free, sizeof(*nc) * (size_t)cap);
		if (!nc) {
			pthread_mutex_unlock(&m->ctx_lock);
			mrt_ctx_free(ctx);
			return;
		}
		m->ctx_free = nc;
		m->ctx_cap = cap;
	}
	m->ctx_free[m->n_ctx_free++] = ctx;
	pthread_mutex_unlock(&m->ctx_lock);
}
