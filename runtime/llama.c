/* Decoding llama-architecture models: a context holds the KV cache of every
 * sequence slot, a scratch arena sized once for n_batch tokens and a worker
 * pool; mrt_llm_decode() runs one forward pass over a batch that may mix the
 * tokens of several sequences, reading every weight matrix once.
 *
 * DESIGN: a context belongs to one thread at a time (the caller of decode);
 * the pool's threads only run the tasks of the current call (linear kernels
 * and attention, split by token x head) and share nothing else. */
#include <immintrin.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "llama.h"

#define LLM_MAX_THREADS 256
#define ATT_TASKS_PER_THREAD 4

typedef float (*dot_fn)(const float *a, const float *b, int n);
typedef void (*axpy_fn)(float *y, float a, const float *x, int n);

struct mrt_llm_ctx {
	const mrt__llama *l;
	mrt_llm_params p;
	mrt__pool *pool;
	dot_fn dot;
	axpy_fn axpy;

	/* KV cache, F32 for exactness: [n_seq][n_layer][n_ctx][n_embd_kv] each
	 * of K and V, i.e. 8 * n_seq * n_layer * n_ctx * n_embd_kv bytes (a
	 * 110M model with n_embd_kv 768, 12 layers, 2048 tokens: 144 MiB per
	 * slot). */
	float *kcache, *vcache;
	int *seq_len; /* n_seq: tokens held by each slot */

	/* scratch arena (one allocation, 64-byte aligned sections) */
	void *arena;
	float *x, *xn, *q, *k, *v, *att, *gate, *up; /* n_batch rows each */
	float *rope_cs;    /* n_batch rows of n_rot: (cos, sin) per pair */
	double *inv_freq;  /* n_rot / 2 */
	int *pos;          /* n_batch: position of each batch entry */
	int *seq_count;    /* n_seq: entries of the current batch per slot */
	int *logit_row;    /* n_batch: row of logits per entry, or -1 */
	float *scores;     /* n_att_tasks rows of n_ctx */
	void *lin_scratch; /* quantized activations / dequantized panels */
	int n_att_tasks;

	float *logits; /* logits_cap rows of n_vocab; grows when a batch asks more */
	int logits_cap, last_n;
};

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* ---- small vector kernels: reference and AVX2, chosen per context ---- */

static float dot_ref(const float *a, const float *b, int n)
{
	float acc[8] = {0};
	int i = 0;

	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[j] += a[i + j] * b[i + j];
	for (; i < n; i++)
		acc[0] += a[i] * b[i];
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void axpy_ref(float *y, float a, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	int i = 0;

	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	s0 = _mm256_add_ps(s0, s1);
	__m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	float s = _mm_cvtss_f32(h);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

__attribute__((target("avx2,fma"))) static void axpy_avx2(float *y, float a, const float *x, int n)
{
	__m256 va = _mm256_set1_ps(a);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(
		    y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

/* ---- context ---- */

mrt_llm_params mrt_llm_default_params(void)
{
	mrt_llm_params p = {2048, 1, 512, 1};
	return p;
}

/* Reserve count elements of size bytes at *off (64-byte aligned) in an
 * arena being sized; returns the section's offset or SIZE_MAX on overflow. */
static size_t arena_take(size_t *off, size_t count, size_t size)
{
	size_t start = (*off + 63) & ~(size_t)63, bytes;

	if (*off == SIZE_MAX || start < *off || __builtin_mul_overflow(count, size, &bytes) ||
	    __builtin_add_overflow(start, bytes, off)) {
		*off = SIZE_MAX;
		return SIZE_MAX;
	}
	return start;
}

static size_t lin_scratch_bytes(const mrt__llama *l, int64_t m)
{
	size_t best = 0, s;

	for (int i = 0; i < l->n_layer; i++) {
		const mrt__llayer *y = &l->layers[i];
		const mrt__lweight *w[] = {&y->wq, &y->wk, &y->wv, &y->wo, &y->gate, &y->up};
		for (size_t j = 0; j < sizeof(w) / sizeof(w[0]); j++)
			if ((s = mrt__linear_scratch(w[j]->type, m, l->n_embd)) > best)
				best = s;
		if ((s = mrt__linear_scratch(y->down.type, m, l->n_ff)) > best)
			best = s;
	}
	if ((s = mrt__linear_scratch(l->output.type, m, l->n_embd)) > best)
		best = s;
	return best;
}

/* Lay out the scratch arena for n_batch tokens: one allocation. */
static int make_arena(mrt_llm_ctx *c)
{
	const mrt__llama *l = c->l;
	size_t nb = (size_t)c->p.n_batch, off = 0, lin = lin_scratch_bytes(l, c->p.n_batch);
	size_t o_x, o_xn, o_q, o_k, o_v, o_att, o_gate, o_up, o_cs, o_if, o_pos, o_cnt, o_row, o_sc,
	    o_lin;
	size_t ne = (size_t)l->n_embd, kv = (size_t)l->n_embd_kv, ff = (size_t)l->n_ff;

	c->n_att_tasks = ATT_TASKS_PER_THREAD * c->p.n_threads;
	o_x = arena_take(&off, nb * ne, sizeof(float));
	o_xn = arena_take(&off, nb * ne, sizeof(float));
	o_q = arena_take(&off, nb * ne, sizeof(float));
	o_k = arena_take(&off, nb * kv, sizeof(float));
	o_v = arena_take(&off, nb * kv, sizeof(float));
	o_att = arena_take(&off, nb * ne, sizeof(float));
	o_gate = arena_take(&off, nb * ff, sizeof(float));
	o_up = arena_take(&off, nb * ff, sizeof(float));
	o_cs = arena_take(&off, nb * (size_t)(l->n_rot + 1), sizeof(float));
	o_if = arena_take(&off, (size_t)l->n_rot / 2 + 1, sizeof(double));
	o_pos = arena_take(&off, nb, sizeof(int));
	o_cnt = arena_take(&off, (size_t)c->p.n_seq, sizeof(int));
	o_row = arena_take(&off, nb, sizeof(int));
	o_sc = arena_take(&off, (size_t)c->n_att_tasks * (size_t)c->p.n_ctx, sizeof(float));
	o_lin = arena_take(&off, lin == SIZE_MAX ? SIZE_MAX : lin + 1, 1);
	if (off == SIZE_MAX || (off = (off + 63) & ~(size_t)63) == 0 ||
	    (c->arena = aligned_alloc(64, off)) == NULL)
		return -1;
	char *a = c->arena;
	c->x = (float *)(a + o_x);
	c->xn = (float *)(a + o_xn);
	c->q = (float *)(a + o_q);
	c->k = (float *)(a + o_k);
	c->v = (float *)(a + o_v);
	c->att = (float *)(a + o_att);
	c->gate = (float *)(a + o_gate);
	c->up = (float *)(a + o_up);
	c->rope_cs = (float *)(a + o_cs);
	c->inv_freq = (double *)(a + o_if);
	c->pos = (int *)(a + o_pos);
	c->seq_count = (int *)(a + o_cnt);
	c->logit_row = (int *)(a + o_row);
	c->scores = (float *)(a + o_sc);
	c->lin_scratch = a + o_lin;
	for (int i = 0; i < l->n_rot / 2; i++)
		c->inv_freq[i] = pow((double)l->rope_base, -2.0 * i / l->n_rot);
	return 0;
}

static int check_params(const mrt_llm_params *p, char *err, size_t errlen)
{
	if (p->n_ctx < 1 || p->n_seq < 1 || p->n_batch < 1 || p->n_threads < 1 ||
	    p->n_threads > LLM_MAX_THREADS)
		return fail(
		    err, errlen, MRT_ERR_INVALID,
		    "llm context: n_ctx %d, n_seq %d, n_batch %d must be >= 1 and n_threads "
		    "%d in [1, %d]",
		    p->n_ctx, p->n_seq, p->n_batch, p->n_threads, LLM_MAX_THREADS);
	return 0;
}

mrt_llm_ctx *mrt_llm_ctx_new(const mrt_model *model, const mrt_llm_params *params, char *err,
                             size_t errlen)
{
	const mrt__llama *l = mrt__model_llama(model);
	mrt_llm_ctx *c;
	size_t cells, bytes;

	if (l == NULL) {
		fail(err, errlen, MRT_ERR_INVALID, "llm context: not a language model");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->l = l;
	c->p = params ? *params : mrt_llm_default_params();
	if (check_params(&c->p, err, errlen) != 0)
		goto fail;
	if (__builtin_mul_overflow((size_t)c->p.n_seq, (size_t)l->n_layer, &cells) ||
	    __builtin_mul_overflow(cells, (size_t)c->p.n_ctx, &cells) ||
	    __builtin_mul_overflow(cells, (size_t)l->n_embd_kv, &cells) ||
	    __builtin_mul_overflow(cells, sizeof(float), &bytes) ||
	    (c->kcache = malloc(bytes)) == NULL || (c->vcache = malloc(bytes)) == NULL) {
		fail(err, errlen, MRT_ERR_NOMEM,
		     "llm context: KV cache of %d slots x %d tokens x %d layers x %d too large",
		     c->p.n_seq, c->p.n_ctx, l->n_layer, l->n_embd_kv);
		goto fail;
	}
	if ((c->seq_len = calloc((size_t)c->p.n_seq, sizeof(int))) == NULL || make_arena(c) != 0)
		goto nomem;
	c->logits_cap = c->p.n_seq < c->p.n_batch ? c->p.n_seq : c->p.n_batch;
	if ((size_t)c->logits_cap > SIZE_MAX / sizeof(float) / (size_t)l->n_vocab ||
	    (c->logits = malloc((size_t)c->logits_cap * (size_t)l->n_vocab * sizeof(float))) ==
	        NULL)
		goto nomem;
	if (c->p.n_threads > 1 && (c->pool = mrt__pool_new(c->p.n_threads)) == NULL)
		goto nomem;
	int simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	c->dot = simd ? dot_avx2 : dot_ref;
	c->axpy = simd ? axpy_avx2 : axpy_ref;
	return c;
nomem:
	fail(err, errlen, MRT_ERR_NOMEM, "llm context: out of memory");
fail:
	mrt_llm_ctx_free(c);
	return NULL;
}

void mrt_llm_ctx_free(mrt_llm_ctx *c)
{
	if (c == NULL)
		return;
	mrt__pool_free(c->pool);
	free(c->kcache);
	free(c->vcache);
	free(c->seq_len);
	free(c->arena);
	free(c->logits);
	free(c);
}

int mrt_llm_seq_len(const mrt_llm_ctx *c, int seq)
{
	if (c == NULL || seq < 0 || seq >= c->p.n_seq)
		return MRT_ERR_INVALID;
	return c->seq_len[seq];
}

void mrt_llm_seq_clear(mrt_llm_ctx *c, int seq)
{
	if (c != NULL && seq >= 0 && seq < c->p.n_seq)
		c->seq_len[seq] = 0;
}

const float *mrt_llm_logits(const mrt_llm_ctx *c, int i)
{
	if (c == NULL || i < 0 || i >= c->last_n || c->logit_row[i] < 0)
		return NULL;
	return c->logits + (size_t)c->logit_row[i] * (size_t)c->l->n_vocab;
}

/* ---- forward pass ---- */

/* y = x / sqrt(mean(x^2) + eps) * w over n rows of d. */
static void rms_norm(float *y, const float *x, const float *w, int n, int d, float eps)
{
	for (int i = 0; i < n; i++) {
		const float *xr = x + (size_t)i * d;
		float *yr = y + (size_t)i * d;
		double ss = 0;
		for (int j = 0; j < d; j++)
			ss += (double)xr[j] * xr[j];
		float scale = (float)(1.0 / sqrt(ss / d + eps));
		for (int j = 0; j < d; j++)
			yr[j] = xr[j] * scale * w[j];
	}
}

/* RoPE in GGUF ("normal") order: within each head, the pairs (x[2i],
 * x[2i+1]) for 2i < n_rot turn by pos * base^(-2i/n_rot). */
static void rope_tables(mrt_llm_ctx *c, int n)
{
	int half = c->l->n_rot / 2;

	for (int t = 0; t < n; t++) {
		float *cs = c->rope_cs + (size_t)t * (size_t)c->l->n_rot;
		for (int i = 0; i < half; i++) {
			double theta = (double)c->pos[t] * c->inv_freq[i];
			cs[2 * i] = (float)cos(theta);
			cs[2 * i + 1] = (float)sin(theta);
		}
	}
}

static void rope_apply(const mrt_llm_ctx *c, float *x, int n, int n_heads)
{
	int hd = c->l->head_dim, half = c->l->n_rot / 2;

	for (int t = 0; t < n; t++) {
		const float *cs = c->rope_cs + (size_t)t * (size_t)c->l->n_rot;
		for (int h = 0; h < n_heads; h++) {
			float *v = x + ((size_t)t * n_heads + h) * hd;
			for (int i = 0; i < half; i++) {
				float x0 = v[2 * i], x1 = v[2 * i + 1];
				v[2 * i] = x0 * cs[2 * i] - x1 * cs[2 * i + 1];
				v[2 * i + 1] = x0 * cs[2 * i + 1] + x1 * cs[2 * i];
			}
		}
	}
}

static size_t cache_row(const mrt_llm_ctx *c, int seq, int layer, int pos)
{
	return (((size_t)seq * c->l->n_layer + layer) * c->p.n_ctx + pos) * c->l->n_embd_kv;
}

typedef struct att_job {
	mrt_llm_ctx *c;
	const int32_t *seq;
	int n, layer;
} att_job;

/* Causal attention of entry t, head h over its own sequence's cache rows
 * 0 .. pos[t] (already holding this batch's keys and values). */
static void attend(const att_job *j, int t, int h, float *scores)
{
	const mrt_llm_ctx *c = j->c;
	const mrt__llama *l = c->l;
	int hd = l->head_dim, kvh = h / (l->n_head / l->n_head_kv), p = c->pos[t];
	const float *q = c->q + (size_t)t * l->n_embd + (size_t)h * hd;
	size_t base = cache_row(c, j->seq[t], j->layer, 0) + (size_t)kvh * hd;
	const float *kc = c->kcache + base, *vc = c->vcache + base;
	float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY, sum = 0.0f;
	float *out = c->att + (size_t)t * l->n_embd + (size_t)h * hd;

	for (int i = 0; i <= p; i++) {
		scores[i] = c->dot(q, kc + (size_t)i * l->n_embd_kv, hd) * scale;
		mx = scores[i] > mx ? scores[i] : mx;
	}
	for (int i = 0; i <= p; i++) {
		scores[i] = expf(scores[i] - mx);
		sum += scores[i];
	}
	memset(out, 0, sizeof(float) * (size_t)hd);
	for (int i = 0; i <= p; i++)
		c->axpy(out, scores[i] / sum, vc + (size_t)i * l->n_embd_kv, hd);
}

static void att_task(void *arg, int task, int n_tasks)
{
	const att_job *j = arg;
	int n_items = j->n * j->c->l->n_head;
	int per = (n_items + n_tasks - 1) / n_tasks;
	float *scores = j->c->scores + (size_t)task * (size_t)j->c->p.n_ctx;

	for (int it = task * per; it < n_items && it < (task + 1) * per; it++)
		attend(j, it / j->c->l->n_head, it % j->c->l->n_head, scores);
}

static int linear(mrt_llm_ctx *c, const float *x, const mrt__lweight *w, float *y, int m, int n,
                  int k, int accumulate)
{
	return mrt__linear(x, (size_t)k, w->data, w->type, NULL, y, (size_t)n, m, n, k, accumulate,
	                   c->lin_scratch, c->pool);
}

static int attention_block(mrt_llm_ctx *c, const mrt__llayer *y, int layer, const int32_t *seq,
                           int n)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, kv = l->n_embd_kv, rc, n_tasks;

	rms_norm(c->xn, c->x, y->attn_norm, n, e, l->norm_eps);
	if ((rc = linear(c, c->xn, &y->wq, c->q, n, e, e, 0)) != 0 ||
	    (rc = linear(c, c->xn, &y->wk, c->k, n, kv, e, 0)) != 0 ||
	    (rc = linear(c, c->xn, &y->wv, c->v, n, kv, e, 0)) != 0)
		return rc;
	rope_apply(c, c->q, n, l->n_head);
	rope_apply(c, c->k, n, l->n_head_kv);
	for (int t = 0; t < n; t++) {
		size_t row = cache_row(c, seq[t], layer, c->pos[t]);
		memcpy(c->kcache + row, c->k + (size_t)t * kv, sizeof(float) * (size_t)kv);
		memcpy(c->vcache + row, c->v + (size_t)t * kv, sizeof(float) * (size_t)kv);
	}
	att_job j = {c, seq, n, layer};
	n_tasks = n * l->n_head < c->n_att_tasks ? n * l->n_head : c->n_att_tasks;
	mrt__pool_run(c->pool, n_tasks, att_task, &j);
	return linear(c, c->att, &y->wo, c->x, n, e, e, 1);
}

static int ffn_block(mrt_llm_ctx *c, const mrt__llayer *y, int n)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, ff = l->n_ff, rc;
	size_t total = (size_t)n * (size_t)ff;

	rms_norm(c->xn, c->x, y->ffn_norm, n, e, l->norm_eps);
	if ((rc = linear(c, c->xn, &y->gate, c->gate, n, ff, e, 0)) != 0 ||
	    (rc = linear(c, c->xn, &y->up, c->up, n, ff, e, 0)) != 0)
		return rc;
	for (size_t i = 0; i < total; i++) {
		float g = c->gate[i];
		c->gate[i] = g / (1.0f + expf(-g)) * c->up[i];
	}
	return linear(c, c->gate, &y->down, c->x, n, e, ff, 1);
}

/* Check the batch and give every entry its position; nothing is changed
 * in the context on failure. */
static int batch_prepare(mrt_llm_ctx *c, const mrt_llm_batch *b, int *n_out, char *err,
                         size_t errlen)
{
	*n_out = 0;
	if (b->n > c->p.n_batch)
		return fail(err, errlen, MRT_ERR_RANGE, "batch of %d tokens exceeds n_batch %d",
		            b->n, c->p.n_batch);
	for (int i = 0; i < b->n; i++) {
		if (b->tokens[i] < 0 || b->tokens[i] >= c->l->n_vocab)
			return fail(err, errlen, MRT_ERR_INVALID,
			            "batch entry %d: token %d is not in [0, %d)", i,
			            (int)b->tokens[i], c->l->n_vocab);
		if (b->seq[i] < 0 || b->seq[i] >= c->p.n_seq)
			return fail(err, errlen, MRT_ERR_INVALID,
			            "batch entry %d: sequence slot %d is not in [0, %d)", i,
			            (int)b->seq[i], c->p.n_seq);
	}
	memset(c->seq_count, 0, sizeof(int) * (size_t)c->p.n_seq);
	for (int i = 0; i < b->n; i++) {
		int s = b->seq[i];
		if (c->seq_len[s] + c->seq_count[s] >= c->p.n_ctx)
			return fail(err, errlen, MRT_ERR_RANGE,
			            "sequence %d would pass its context of %d tokens", s,
			            c->p.n_ctx);
		c->pos[i] = c->seq_len[s] + c->seq_count[s]++;
		*n_out += b->want_logits && b->want_logits[i];
	}
	if (*n_out > c->logits_cap) {
		size_t bytes = (size_t)*n_out * (size_t)c->l->n_vocab * sizeof(float);
		float *g = realloc(c->logits, bytes);
		if (g == NULL)
			return fail(err, errlen, MRT_ERR_NOMEM, "out of memory for logits");
		c->logits = g;
		c->logits_cap = *n_out;
	}
	return 0;
}

/* Final norm and output projection of the entries that want logits. */
static int output_logits(mrt_llm_ctx *c, const mrt_llm_batch *b)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, m = 0;

	for (int i = 0; i < b->n; i++) {
		c->logit_row[i] = -1;
		if (b->want_logits && b->want_logits[i]) {
			rms_norm(c->xn + (size_t)m * e, c->x + (size_t)i * e, l->output_norm, 1, e,
			         l->norm_eps);
			c->logit_row[i] = m++;
		}
	}
	return linear(c, c->xn, &l->output, c->logits, m, l->n_vocab, e, 0);
}

int mrt_llm_decode(mrt_llm_ctx *c, const mrt_llm_batch *b, char *err, size_t errlen)
{
	const mrt__llama *l;
	int rc, n_out, e;

	if (c == NULL || b == NULL || b->n < 0 || (b->n > 0 && (!b->tokens || !b->seq)))
		return fail(err, errlen, MRT_ERR_INVALID, "decode: invalid batch");
	l = c->l;
	e = l->n_embd;
	if ((rc = batch_prepare(c, b, &n_out, err, errlen)) != 0)
		return rc;
	c->last_n = 0;
	for (int i = 0; i < b->n; i++)
		if ((rc = mrt__dequantize_row(l->tok_embd.type, l->tok_embd.data, b->tokens[i], e,
		                              c->x + (size_t)i * e)) != 0)
			return fail(err, errlen, rc, "decode: cannot read token %d's embedding",
			            (int)b->tokens[i]);
	rope_tables(c, b->n);
	for (int i = 0; i < l->n_layer; i++)
		if ((rc = attention_block(c, &l->layers[i], i, b->seq, b->n)) != 0 ||
		    (rc = ffn_block(c, &l->layers[i], b->n)) != 0)
			return fail(err, errlen, rc, "decode: layer %d: %s", i, mrt_strerror(rc));
	if ((rc = output_logits(c, b)) != 0)
		return fail(err, errlen, rc, "decode: output: %s", mrt_strerror(rc));
	for (int i = 0; i < c->p.n_seq; i++)
		c->seq_len[i] += c->seq_count[i];
	c->last_n = b->n;
	return 0;
}
