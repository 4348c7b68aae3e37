/* Decoding llama-architecture models: a context holds the KV cache of every
 * sequence slot, a scratch arena sized once for n_batch tokens and a worker
 * pool; mrt_llm_decode() runs one forward pass over a batch that may mix the
 * tokens of several sequences, reading every weight matrix once.
 *
 * DESIGN: a context belongs to one thread at a time (the caller of decode);
 * the pool's threads only run the tasks of the current call and share
 * nothing else. Every step of a layer is split over the pool: norms, rope
 * and SiLU by rows (on the caller when too small to pay for a wake-up), the
 * linear maps by the kernels, attention by (tile of queries, KV head). A
 * small batch (decoding) runs Q/K/V as one pool job and gate/up/SiLU as one,
 * each task calling the kernels on its own rows of the weights, so a layer
 * costs four wake-ups instead of eight. Nothing is allocated while
 * decoding. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"
#include "llama.h"
#include "util.h"

#define LLM_MAX_THREADS 256
#define ATT_TASKS_PER_THREAD 4
#define ATT_ROWS 16       /* queries per attention tile (tokens x heads of a KV head) */
/* Attention below this many key visits x heads runs inline. Since each item
 * prefetches the next one's keys and values (att_task), one stream's heads
 * gain from both threads from about 20 keys on: one 110M Q4_K_M stream 16
 * to 80 deep, attention 155-180 -> 105-120 us a token, tokens/s 1.05x
 * (medians of 10 interleaved rounds, at 256 and at 0); Q8_0 1.04x. */
#define ATT_SERIAL 256
#define ATT_PREFETCH 16384 /* bytes of a prompt item's keys (and values) asked for ahead */
#define ATT_CHUNK 8        /* keys a decoding item scores or sums between prefetches */
#define ROWS_SERIAL 4096  /* elementwise steps below this many elements run inline */
#define GROUP_MAX_M 8     /* batches up to this size use the fused linear groups */
#define GROUP_ALIGN 32    /* weight rows per task: a multiple of this (a Q8_0 cache block) */
#define GROUP_MIN 64   /* and at least this many (guided chunks, kernels.h) */

struct mrt_llm_ctx {
	const mrt__llama *l;
	mrt_llm_params p;
	mrt__pool *pool;
	mrt__attn_kern ak; /* attention kernels for this model's head size */

	/* KV cache, F16 (default), F32 or Q8_0 elements (kv_bytes):
	 * [n_seq][n_layer][n_head_kv][n_ctx][head_dim] each of K and V (one
	 * head's keys are contiguous, so attention streams them), i.e.
	 * 2 * n_seq * n_layer * n_ctx * n_embd_kv elements (a 110M model with
	 * n_embd_kv 768, 12 layers, 2048 tokens: 72 MiB per slot at F16, 38 MiB
	 * at Q8_0, whose rows of head_dim % 32 == 0 elements are whole blocks). */
	void *kcache, *vcache;
	int kv_kind; /* MRT__KV_F32, MRT__KV_F16, MRT__KV_Q8 */
	int *seq_len; /* n_seq: tokens held by each slot */

	/* scratch arena (one allocation, 64-byte aligned sections) */
	void *arena;
	float *x, *xn, *q, *k, *v, *att, *gate, *up; /* n_batch rows each */
	float *rope_cs;      /* n_batch rows of n_rot: (cos, sin) per pair */
	double *inv_freq;    /* n_rot / 2 */
	int *pos;            /* n_batch: position of each batch entry */
	int *seq_count;      /* n_seq: entries of the current batch per slot */
	int *logit_row;      /* n_batch: row of xn (and of logits, below n_logit_rows) per entry,
	                        or -1 */
	int n_logit_rows;    /* entries of the last decode with logits */
	int *tiles;          /* n_batch: first entry of each attention tile, then the end */
	float *scores;       /* n_att_tasks x att_score_rows rows of n_ctx */
	void *lin_scratch;   /* quantized activations of the int8 types */
	char *group_scratch; /* n_threads x group_stride bytes (fused linear groups) */
	size_t group_stride;
	int n_att_tasks, att_rows, n_tiles;
	int decoding;       /* make_tiles: no entry continues the one before (attention) */
	int att_score_rows; /* 2, or the query heads per KV head when more */

	float *logits; /* n_batch rows of n_vocab, allocated at creation: pages
	                  become resident only as batches ask for that many rows */
	int last_n;
};

/* ---- context ---- */

mrt_llm_params mrt_llm_default_params(void)
{
	mrt_llm_params p = {2048, 1, 512, 1, MRT_TYPE_F16};
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
		const mrt__lweight *w[] = {&y->wq, &y->wk, &y->wv, &y->gate, &y->up};
		for (size_t j = 0; j < sizeof(w) / sizeof(w[0]); j++)
			if ((s = mrt__linear_exact_scratch(w[j]->type, m, l->n_embd)) > best)
				best = s;
		if ((s = mrt__linear_exact_scratch(y->wo.type, m, l->n_embd_q)) > best)
			best = s;
		if ((s = mrt__linear_exact_scratch(y->down.type, m, l->n_ff)) > best)
			best = s;
	}
	if ((s = mrt__linear_exact_scratch(l->output.type, m, l->n_embd)) > best)
		best = s;
	return best;
}

/* Scratch of one thread of a fused linear group: the quantized activations
 * of up to GROUP_MAX_M rows for the widest input (n_embd or n_ff). */
static size_t group_scratch_bytes(const mrt__llama *l)
{
	size_t a = lin_scratch_bytes(l, GROUP_MAX_M), s;

	for (int i = 0; i < l->n_layer; i++)
		if ((s = mrt__linear_exact_scratch(l->layers[i].down.type, GROUP_MAX_M,
		                                   l->n_ff)) > a)
			a = s;
	return a == SIZE_MAX ? a : (a + 63) & ~(size_t)63;
}

/* Lay out the scratch arena for n_batch tokens: one allocation. */
static int make_arena(mrt_llm_ctx *c)
{
	const mrt__llama *l = c->l;
	size_t nb = (size_t)c->p.n_batch, off = 0, lin = lin_scratch_bytes(l, c->p.n_batch);
	size_t o_x, o_xn, o_q, o_k, o_v, o_att, o_gate, o_up, o_cs, o_if, o_pos, o_cnt, o_row, o_sc,
	    o_lin, o_tile, o_grp, grp_bytes;
	size_t ne = (size_t)l->n_embd, kv = (size_t)l->n_embd_kv, ff = (size_t)l->n_ff;
	size_t nq = (size_t)l->n_embd_q;
	int group = l->n_head / l->n_head_kv;

	c->n_att_tasks = ATT_TASKS_PER_THREAD * c->p.n_threads;
	c->att_rows = group > ATT_ROWS ? group : ATT_ROWS;
	c->att_score_rows = group > 2 ? group : 2;
	c->group_stride = group_scratch_bytes(l);
	if (c->group_stride == SIZE_MAX ||
	    __builtin_mul_overflow(c->group_stride, (size_t)c->p.n_threads, &grp_bytes))
		return -1;
	o_x = arena_take(&off, nb * ne, sizeof(float));
	o_xn = arena_take(&off, nb * ne, sizeof(float));
	o_q = arena_take(&off, nb * nq, sizeof(float));
	o_k = arena_take(&off, nb * kv, sizeof(float));
	o_v = arena_take(&off, nb * kv, sizeof(float));
	o_att = arena_take(&off, nb * nq, sizeof(float));
	o_gate = arena_take(&off, nb * ff, sizeof(float));
	o_up = arena_take(&off, nb * ff, sizeof(float));
	o_cs = arena_take(&off, nb * (size_t)(l->n_rot + 1), sizeof(float));
	o_if = arena_take(&off, (size_t)l->n_rot / 2 + 1, sizeof(double));
	o_pos = arena_take(&off, nb, sizeof(int));
	o_cnt = arena_take(&off, (size_t)c->p.n_seq, sizeof(int));
	o_row = arena_take(&off, nb, sizeof(int));
	o_tile = arena_take(&off, nb + 1, sizeof(int));
	o_sc = arena_take(&off, (size_t)c->att_score_rows * (size_t)c->n_att_tasks,
	                  (size_t)c->p.n_ctx * sizeof(float));
	o_grp = arena_take(&off, grp_bytes + 1, 1);
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
	c->tiles = (int *)(a + o_tile);
	c->scores = (float *)(a + o_sc);
	c->group_scratch = a + o_grp;
	c->lin_scratch = a + o_lin;
	for (int i = 0; i < l->n_rot / 2; i++) /* as ggml: scale * base^(-2i/n) / factor_i */
		c->inv_freq[i] = pow((double)l->rope_base, -2.0 * i / l->n_rot) *
				 l->rope_freq_scale / (l->rope_freqs ? l->rope_freqs[i] : 1.0f);
	return 0;
}

/* A KV cache array of 2 MiB or more: 2 MiB aligned and, where the kernel
 * offers it, backed by transparent huge pages. A decoding step stores each
 * token's key and value rows of every head in a page of its own; with
 * 4 KiB pages each such store missed the TLB, which the weights streaming
 * through evict (a page walk is costly under virtualisation). Freed with
 * free(). */
static void *kv_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	void *p = NULL;
	if (posix_memalign(&p, bytes >= huge ? huge : 64, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (bytes >= huge)
		madvise(p, bytes, MADV_HUGEPAGE); /* a hint: 4 KiB pages work too */
#endif
	return p;
}

/* Bytes of n cache elements (for Q8_0, n is a multiple of 32). */
static size_t kv_bytes(const mrt_llm_ctx *c, size_t n)
{
	return c->kv_kind == MRT__KV_Q8 ? n / 32 * 34 : n * (c->kv_kind == MRT__KV_F16 ? 2 : 4);
}

static int check_params(const mrt_llm_params *p, char *err, size_t errlen)
{
	if (p->n_ctx < 1 || p->n_seq < 1 || p->n_batch < 1 || p->n_threads < 1 ||
	    p->n_threads > LLM_MAX_THREADS)
		return mrt__errf(
		    err, errlen, MRT_ERR_INVALID,
		    "llm context: n_ctx %d, n_seq %d, n_batch %d must be >= 1 and n_threads "
		    "%d in [1, %d]",
		    p->n_ctx, p->n_seq, p->n_batch, p->n_threads, LLM_MAX_THREADS);
	if (p->kv_type != MRT_TYPE_F16 && p->kv_type != MRT_TYPE_F32 &&
	    p->kv_type != MRT_TYPE_Q8_0)
		return mrt__errf(err, errlen, MRT_ERR_INVALID,
				 "llm context: KV cache type %d: f16, f32 or q8_0 only", p->kv_type);
	return 0;
}

mrt_llm_ctx *mrt_llm_ctx_new(const mrt_model *model, const mrt_llm_params *params, char *err,
                             size_t errlen)
{
	const mrt__llama *l = mrt__model_llama(model);
	mrt_llm_ctx *c;
	size_t cells, bytes;

	if (l == NULL) {
		mrt__errf(err, errlen, MRT_ERR_INVALID, "llm context: not a language model");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->l = l;
	c->p = params ? *params : mrt_llm_default_params();
	if (check_params(&c->p, err, errlen) != 0)
		goto fail;
	c->kv_kind = c->p.kv_type == MRT_TYPE_F16   ? MRT__KV_F16
	             : c->p.kv_type == MRT_TYPE_Q8_0 ? MRT__KV_Q8
	                                             : MRT__KV_F32;
	if (c->kv_kind == MRT__KV_Q8 && l->head_dim % 32 != 0) {
		mrt__errf(err, errlen, MRT_ERR_INVALID,
		          "llm context: a q8_0 KV cache needs a head size that is a multiple of 32 "
		          "(this model's is %d); use f16",
		          l->head_dim);
		goto fail;
	}
	if (__builtin_mul_overflow((size_t)c->p.n_seq, (size_t)l->n_layer, &cells) ||
	    __builtin_mul_overflow(cells, (size_t)c->p.n_ctx, &cells) ||
	    __builtin_mul_overflow(cells, (size_t)l->n_embd_kv, &cells) ||
	    __builtin_mul_overflow(cells, (size_t)4, &bytes) || (bytes = kv_bytes(c, cells)) == 0 ||
	    (c->kcache = kv_alloc(bytes)) == NULL || (c->vcache = kv_alloc(bytes)) == NULL) {
		mrt__errf(err, errlen, MRT_ERR_NOMEM,
		     "llm context: KV cache of %d slots x %d tokens x %d layers x %d too large",
		     c->p.n_seq, c->p.n_ctx, l->n_layer, l->n_embd_kv);
		goto fail;
	}
	/* Touched now, as llama.cpp clears its cache: a cache page's first
	 * write faults (a 4 KiB page holds 32 positions of one head), and those
	 * faults cost one stream 5-7% of its tokens/s at 16-144 tokens deep.
	 * A loaded model then holds its whole cache, and a host too small for
	 * it finds out at load, not mid-answer. */
	memset(c->kcache, 0, bytes);
	memset(c->vcache, 0, bytes);
	if ((c->seq_len = calloc((size_t)c->p.n_seq, sizeof(int))) == NULL || make_arena(c) != 0)
		goto nomem;
	if ((size_t)c->p.n_batch > SIZE_MAX / sizeof(float) / (size_t)l->n_vocab ||
	    (c->logits = malloc((size_t)c->p.n_batch * (size_t)l->n_vocab * sizeof(float))) == NULL)
		goto nomem;
	if (c->p.n_threads > 1 && (c->pool = mrt__pool_new(c->p.n_threads)) == NULL)
		goto nomem;
	c->ak = mrt__attn_kernels(l->head_dim, c->kv_kind, 1);
	return c;
nomem:
	mrt__errf(err, errlen, MRT_ERR_NOMEM, "llm context: out of memory");
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

void mrt_llm_seq_keep(mrt_llm_ctx *c, int seq, int n)
{
	if (c != NULL && seq >= 0 && seq < c->p.n_seq && n >= 0 && n < c->seq_len[seq])
		c->seq_len[seq] = n;
}

const float *mrt_llm_logits(const mrt_llm_ctx *c, int i)
{
	if (c == NULL || i < 0 || i >= c->last_n || c->logit_row[i] < 0 ||
	    c->logit_row[i] >= c->n_logit_rows)
		return NULL;
	return c->logits + (size_t)c->logit_row[i] * (size_t)c->l->n_vocab;
}

const float *mrt_llm_hidden(const mrt_llm_ctx *c, int i)
{
	if (c == NULL || i < 0 || i >= c->last_n || c->logit_row[i] < 0)
		return NULL;
	return c->xn + (size_t)c->logit_row[i] * (size_t)c->l->n_embd;
}

/* ---- forward pass: elementwise steps ---- */

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

/* Turn elements [lo, hi) (both even) of token t's query or key row x:
 * the part of each head's first n_rot elements in that span. */
static void rope_span(const mrt_llm_ctx *c, float *x, int t, int lo, int hi)
{
	int hd = c->l->head_dim, nr = c->l->n_rot;
	const float *cs = c->rope_cs + (size_t)t * (size_t)nr;

	for (int h0 = lo / hd * hd; h0 < hi; h0 += hd) {
		int a = lo > h0 ? lo - h0 : 0, b = hi - h0 < nr ? hi - h0 : nr;
		float *v = x + h0;
		for (int i = a; i < b; i += 2) {
			float x0 = v[i], x1 = v[i + 1];
			v[i] = x0 * cs[i] - x1 * cs[i + 1];
			v[i + 1] = x0 * cs[i + 1] + x1 * cs[i];
		}
	}
}

/* Offset of (seq, layer, kv head, pos) in the K or V cache. */
static size_t cache_at(const mrt_llm_ctx *c, int seq, int layer, int kvh, int pos)
{
	const mrt__llama *l = c->l;
	return ((((size_t)seq * l->n_layer + layer) * l->n_head_kv + kvh) * c->p.n_ctx + pos) *
	       l->head_dim;
}

/* Store elements [lo, hi) of batch entry t's key or value row x (n_embd_kv
 * wide) in cache (kcache or vcache) at the entry's sequence and position;
 * for a Q8_0 cache lo and hi are multiples of 32. */
static void store_span(const mrt_llm_ctx *c, void *cache, const float *x, const int32_t *seq,
                       int layer, int t, int lo, int hi)
{
	int hd = c->l->head_dim;

	for (int h0 = lo / hd * hd; h0 < hi; h0 += hd) {
		int a = lo > h0 ? lo - h0 : 0, b = hi - h0 < hd ? hi - h0 : hd;
		size_t at = cache_at(c, seq[t], layer, h0 / hd, c->pos[t]) + (size_t)a;
		c->ak.store((char *)cache + kv_bytes(c, at), x + h0 + a, b - a);
	}
}

int mrt_llm_seq_copy(mrt_llm_ctx *c, int dst, int src, int n)
{
	if (c == NULL || dst < 0 || dst >= c->p.n_seq || src < 0 || src >= c->p.n_seq || n < 0 ||
	    n > c->seq_len[src])
		return MRT_ERR_INVALID;
	if (dst != src && n > 0) {
		const mrt__llama *l = c->l;
		size_t row = kv_bytes(c, (size_t)n * l->head_dim);
		for (int layer = 0; layer < l->n_layer; layer++)
			for (int h = 0; h < l->n_head_kv; h++) {
				size_t to = kv_bytes(c, cache_at(c, dst, layer, h, 0));
				size_t from = kv_bytes(c, cache_at(c, src, layer, h, 0));
				memcpy((char *)c->kcache + to, (const char *)c->kcache + from, row);
				memcpy((char *)c->vcache + to, (const char *)c->vcache + from, row);
			}
	}
	c->seq_len[dst] = n;
	return 0;
}

enum row_kind { ROWS_NORM, ROWS_ROPE, ROWS_SILU };

/* One row-wise step over rows [0, n): ROWS_NORM xn = rmsnorm(x) * w;
 * ROWS_ROPE turns the queries and keys of a token and stores its key and
 * value in the cache; ROWS_SILU gate = silu(gate) * up. */
typedef struct rows_job {
	mrt_llm_ctx *c;
	int kind, n, layer;
	const float *w;
	const int32_t *seq;
} rows_job;

static void rows_range(const rows_job *j, int r0, int r1)
{
	mrt_llm_ctx *c = j->c;
	const mrt__llama *l = c->l;
	int e = l->n_embd, kv = l->n_embd_kv, eq = l->n_embd_q;

	for (int t = r0; t < r1; t++) {
		if (j->kind == ROWS_NORM) {
			c->ak.rms_norm(c->xn + (size_t)t * e, c->x + (size_t)t * e, j->w, e,
			               l->norm_eps);
		} else if (j->kind == ROWS_SILU) {
			c->ak.silu(c->gate + (size_t)t * l->n_ff, c->up + (size_t)t * l->n_ff, l->n_ff);
		} else {
			float *k = c->k + (size_t)t * kv, *v = c->v + (size_t)t * kv;
			rope_span(c, c->q + (size_t)t * eq, t, 0, eq);
			rope_span(c, k, t, 0, kv);
			store_span(c, c->kcache, k, j->seq, j->layer, t, 0, kv);
			store_span(c, c->vcache, v, j->seq, j->layer, t, 0, kv);
		}
	}
}

static void rows_task(void *arg, int task, int n_tasks)
{
	const rows_job *j = arg;
	rows_range(j, (int)((int64_t)j->n * task / n_tasks),
	           (int)((int64_t)j->n * (task + 1) / n_tasks));
}

/* Run a row-wise step of n rows of width elements: on the caller when it
 * is too small to pay for waking the pool. */
static void run_rows(mrt_llm_ctx *c, rows_job *j, int width)
{
	int nt = mrt__pool_size(c->pool);
	if ((int64_t)j->n * width < ROWS_SERIAL || nt == 1 || j->n < 2)
		rows_range(j, 0, j->n);
	else
		mrt__pool_run(c->pool, j->n < 2 * nt ? j->n : 2 * nt, rows_task, j);
}

static void norm_rows(mrt_llm_ctx *c, const float *w, int n)
{
	rows_job j = {.c = c, .kind = ROWS_NORM, .n = n, .w = w};
	run_rows(c, &j, c->l->n_embd);
}

/* ---- attention ----
 * Entries of the batch are cut into tiles: runs of consecutive entries of
 * one sequence at consecutive positions, at most att_rows / group tokens.
 * A work item is (tile, KV head): its queries (tokens x the heads sharing
 * that KV head), two at a time, meet the head's contiguous keys in one pass,
 * then softmax, then one pass over the values; after the first pair the
 * head's K and V rows are cache-warm for the rest of the tile. */

static void make_tiles(mrt_llm_ctx *c, const int32_t *seq, int n)
{
	int group = c->l->n_head / c->l->n_head_kv;
	int max_tok = c->att_rows / group > 0 ? c->att_rows / group : 1, len = 0;

	c->n_tiles = 0;
	c->decoding = 1;
	for (int i = 0; i < n; i++) {
		int next = i > 0 && seq[i] == seq[i - 1] && c->pos[i] == c->pos[i - 1] + 1;
		if (next) /* a prompt's */
			c->decoding = 0;
		if (len > 0 && len < max_tok && next) {
			len++;
			continue;
		}
		c->tiles[c->n_tiles++] = i;
		len = 1;
	}
	c->tiles[c->n_tiles] = n;
}

typedef struct att_job {
	mrt_llm_ctx *c;
	const int32_t *seq;
	int layer;
} att_job;

/* Query row r of a tile (token e0 + r / group, head kvh * group + r % group):
 * its query vector, output row and number of keys. */
typedef struct att_row {
	const float *q;
	float *out;
	int n_keys;
} att_row;

static att_row tile_row(const mrt_llm_ctx *c, int e0, int kvh, int r)
{
	const mrt__llama *l = c->l;
	int group = l->n_head / l->n_head_kv, t = e0 + r / group;
	size_t at = (size_t)t * l->n_embd_q + (size_t)(kvh * group + r % group) * l->head_dim;
	att_row row = {c->q + at, c->att + at, c->pos[t] + 1};
	return row;
}

/* Where item it's keys and values start, and their bytes (each). */
typedef struct att_span {
	const char *k, *v;
	size_t bytes;
} att_span;

static att_span item_span(const att_job *j, int it)
{
	const mrt_llm_ctx *c = j->c;
	int tile = it / c->l->n_head_kv, last = c->tiles[tile + 1] - 1;
	size_t at =
	    kv_bytes(c, cache_at(c, j->seq[c->tiles[tile]], j->layer, it % c->l->n_head_kv, 0));
	att_span s = {(const char *)c->kcache + at, (const char *)c->vcache + at,
	              kv_bytes(c, (size_t)(c->pos[last] + 1) * (size_t)c->l->head_dim)};
	return s;
}

/* Ask for the cache lines of bytes [lo, hi) from p. */
static void prefetch_span(const char *p, size_t lo, size_t hi)
{
	for (size_t o = lo & ~(size_t)63; o < hi; o += 64)
		__builtin_prefetch(p + o, 0, 3);
}

/* Ask for share i of n of bytes from p. */
static void prefetch_share(const char *p, size_t bytes, int i, int n)
{
	prefetch_span(p, bytes * (size_t)i / (size_t)n, bytes * (size_t)(i + 1) / (size_t)n);
}

/* Ask for the first ATT_PREFETCH bytes of an item's keys and values. */
static void prefetch_start(const att_span *s)
{
	size_t n = s->bytes < ATT_PREFETCH ? s->bytes : ATT_PREFETCH;
	prefetch_span(s->k, 0, n);
	prefetch_span(s->v, 0, n);
}

/* Item (tile, kvh), its keys and values at cur; next is the item its task
 * takes after it (bytes 0 when none). A decoding step's keys and values
 * are out of every cache (the weights streamed through since the layer
 * last ran), and each item's head is a few KiB, too short for the hardware
 * prefetcher to get ahead, so an item asks for the next one's.
 *
 * A tile of one token (decoding) runs its keys ATT_CHUNK at a time, each
 * chunk for all its queries (the heads sharing the KV head, two at a time),
 * and after each chunk asks for the same share of the next item's keys
 * (while scoring) or values (while summing). Asked for all at once before
 * the item, hundreds of prefetches had stalled the core until most had
 * arrived. Keys and values split in chunks give the whole call's bytes
 * (llama.h), so a token's values do not depend on its tile.
 *
 * A tile of several tokens (a prompt) asks for the first ATT_PREFETCH bytes
 * of the next item's keys and values, then takes its queries two at a time
 * over the keys both see, then the longer one alone over the rest; after
 * the first pair the head's keys and values are cache-warm. scores holds
 * att_score_rows rows of n_ctx. */
static void attend_item(const att_job *j, int tile, int kvh, float *scores, const att_span *cur,
                        const att_span *next)
{
	const mrt_llm_ctx *c = j->c;
	const mrt__llama *l = c->l;
	int e0 = c->tiles[tile], hd = l->head_dim, group = l->n_head / l->n_head_kv;
	int rows = (c->tiles[tile + 1] - e0) * group;
	size_t n_ctx = (size_t)c->p.n_ctx;
	const char *kc = cur->k, *vc = cur->v;
	float scale = 1.0f / sqrtf((float)hd), *sa = scores, *sb = scores + n_ctx;

	if (rows == group) { /* the token's query heads and output rows lie side by side */
		att_row a = tile_row(c, e0, kvh, 0);
		size_t row = kv_bytes(c, (size_t)hd), nb = next->bytes;
		int n = a.n_keys, n_ch = (n + ATT_CHUNK - 1) / ATT_CHUNK;

		for (int i = 0; i < n_ch; i++) {
			int s = i * ATT_CHUNK, m = n - s < ATT_CHUNK ? n - s : ATT_CHUNK;
			for (int r = 0; r < rows; r += 2) {
				const float *qa = a.q + (size_t)r * hd;
				float *oa = scores + (size_t)r * n_ctx + s;
				if (r + 1 < rows)
					c->ak.scores2(qa, qa + hd, kc + (size_t)s * row, m, hd,
					              scale, oa, oa + n_ctx);
				else
					c->ak.scores(qa, kc + (size_t)s * row, m, hd, scale, oa);
			}
			prefetch_share(next->k, nb, i, n_ch);
		}
		for (int r = 0; r < rows; r++)
			c->ak.softmax(scores + (size_t)r * n_ctx, n);
		for (int i = 0; i < n_ch; i++) {
			int s = i * ATT_CHUNK, m = n - s < ATT_CHUNK ? n - s : ATT_CHUNK;
			for (int r = 0; r < rows; r += 2) {
				float *oa = a.out + (size_t)r * hd;
				const float *pa = scores + (size_t)r * n_ctx + s;
				if (r + 1 < rows)
					c->ak.wsum2(pa, pa + n_ctx, vc + (size_t)s * row, m, hd, oa,
					            oa + hd, i > 0);
				else
					c->ak.wsum(pa, vc + (size_t)s * row, m, hd, oa, i > 0);
			}
			prefetch_share(next->v, nb, i, n_ch);
		}
		return;
	}
	prefetch_start(next);
	for (int r = 0; r < rows; r += 2) {
		att_row a = tile_row(c, e0, kvh, r);
		if (r + 1 == rows) {
			c->ak.scores(a.q, kc, a.n_keys, hd, scale, sa);
			c->ak.softmax(sa, a.n_keys);
			c->ak.wsum(sa, vc, a.n_keys, hd, a.out, 0);
			break;
		}
		att_row b = tile_row(c, e0, kvh, r + 1);
		int nc = a.n_keys < b.n_keys ? a.n_keys : b.n_keys;
		att_row *lg = a.n_keys > nc ? &a : &b;
		float *sl = lg == &a ? sa : sb;
		size_t rest = kv_bytes(c, (size_t)nc * hd);
		c->ak.scores2(a.q, b.q, kc, nc, hd, scale, sa, sb);
		if (lg->n_keys > nc)
			c->ak.scores(lg->q, kc + rest, lg->n_keys - nc, hd, scale, sl + nc);
		c->ak.softmax(sa, a.n_keys);
		c->ak.softmax(sb, b.n_keys);
		c->ak.wsum2(sa, sb, vc, nc, hd, a.out, b.out, 0);
		if (lg->n_keys > nc)
			c->ak.wsum(sl + nc, vc + rest, lg->n_keys - nc, hd, lg->out, 1);
	}
}

/* Items task, task + n_tasks, ...: strided so the costly late tiles of a
 * long prompt spread over every task. The first item's keys and values are
 * asked for before it starts, each next one's while the one before runs
 * (attend_item). */
static void att_task(void *arg, int task, int n_tasks)
{
	const att_job *j = arg;
	int n_items = j->c->n_tiles * j->c->l->n_head_kv;
	float *scores = j->c->scores + (size_t)task * j->c->att_score_rows * (size_t)j->c->p.n_ctx;

	if (task >= n_items)
		return;
	att_span cur = item_span(j, task);
	prefetch_start(&cur);
	for (int it = task; it < n_items; it += n_tasks) {
		att_span next = {NULL, NULL, 0};
		if (it + n_tasks < n_items)
			next = item_span(j, it + n_tasks);
		attend_item(j, it / j->c->l->n_head_kv, it % j->c->l->n_head_kv, scores, &cur,
		            &next);
		cur = next;
	}
}

/* A step of decoding tokens only (a tile each, none continuing the entry
 * before: make_tiles) takes one task a thread: its items are alike, and a
 * task's first item is the one whose keys and values nobody asked for
 * ahead. Against ATT_TASKS_PER_THREAD tasks a thread: one 110M Q4_K_M
 * stream 200 to 264 deep 1.08x, 8 streams 36 to 100 deep 1.01-1.03x,
 * grouped-query (4 KV heads) 1.03x (medians of 12-16 interleaved rounds).
 * Prompt tiles differ in cost and keep more tasks: a 1536-token prompt
 * with a task a thread took 1.5-2% longer. A prompt of a model with more
 * than ATT_ROWS query heads a KV head has tiles of one token too, but its
 * entries continue each other, so it keeps them. */
static void attention(mrt_llm_ctx *c, const int32_t *seq, int n, int layer)
{
	att_job j = {c, seq, layer};
	int n_items = c->n_tiles * c->l->n_head_kv;
	int most = c->decoding ? mrt__pool_size(c->pool) : c->n_att_tasks;
	int64_t work = 0;

	for (int t = 0; t < n; t++)
		work += (int64_t)(c->pos[t] + 1) * c->l->n_head;
	int n_tasks = work < ATT_SERIAL ? 1 : n_items < most ? n_items : most;
	mrt__pool_run(c->pool, n_tasks, att_task, &j);
}

/* ---- linear maps ---- */

static int linear(mrt_llm_ctx *c, const float *x, const mrt__lweight *w, float *y, int m, int n,
                  int k, int accumulate)
{
	return mrt__linear_exact(x, (size_t)k, w->data, w->type, NULL, y, (size_t)n, m, n, k,
	                         accumulate, c->lin_scratch, c->pool);
}

/* A fused group for small batches: up to three weight matrices that read
 * the same m rows of x (Q, K, V; or gate and up, then SiLU) as one pool
 * job. When the parts quantize x the same way it is quantized once, before
 * (xq); else each task quantizes it in its thread's scratch. Task t takes
 * guided chunk t of the stacked output rows (kernels.h: large chunks first,
 * small ones last, multiples of GROUP_ALIGN) and calls the kernels on its
 * own thread; each value is computed as a whole-matrix call would. Q, K
 * and V (seq set) also turn their chunk's queries and keys and store its
 * keys and values (ROWS_ROPE's work, the same values) while the rows are
 * in the task's cache: a separate step read them from both threads'
 * caches, as a pool run of its own at 8 streams. The caller no longer asks
 * for the cache lines of the stores ahead (it did for the separate step):
 * the lines then came to its cache, and a task on the other thread had to
 * take them from there; without it one stream ran 1.03-1.11x (medians of
 * 10-20 interleaved rounds on a loaded host), 8 streams 0.96-1.03x. */
typedef struct group_job {
	mrt_llm_ctx *c;
	const float *x;
	const mrt__lweight *w[3];
	float *y[3];
	int n[3], n_parts, m, k, silu;
	const int32_t *seq; /* Q, K, V: non-NULL to turn and store as ROWS_ROPE */
	int layer;
	void *xq; /* x quantized for every part, or NULL */
	atomic_int rc;
} group_job;

static int group_part(group_job *j, int p, int r0, int r1, void *scratch)
{
	uint64_t row;
	if (mrt_type_nbytes(j->w[p]->type & ~MRT__PACKED, (uint64_t)j->k, &row) != 0)
		return MRT_ERR_INVALID;
	const char *w = (const char *)j->w[p]->data + row * (uint64_t)r0;

	if (j->xq)
		return mrt__linear_prepared(j->x, (size_t)j->k, w, j->w[p]->type, NULL,
		                            j->y[p] + r0, (size_t)j->n[p], j->m, r1 - r0, j->k, 0,
		                            j->xq, NULL);
	return mrt__linear_exact(j->x, (size_t)j->k, w, j->w[p]->type, NULL, j->y[p] + r0,
	                         (size_t)j->n[p], j->m, r1 - r0, j->k, 0, scratch, NULL);
}

/* Output rows the tasks share: the stacked rows of every part, or for
 * gate/up/SiLU the rows of gate (up's are the same range). */
static int group_rows(const group_job *j)
{
	int total = 0;
	for (int p = 0; p < (j->silu ? 1 : j->n_parts); p++)
		total += j->n[p];
	return total;
}

static void group_task(void *arg, int task, int n_tasks)
{
	group_job *j = arg;
	void *scratch =
	    j->c->group_scratch + (size_t)mrt__pool_thread(j->c->pool) * j->c->group_stride;
	int rc = 0;
	int64_t lo, hi;
	(void)n_tasks;
	mrt__guided_chunk(group_rows(j), GROUP_ALIGN, GROUP_MIN, mrt__pool_size(j->c->pool), task,
	                  &lo, &hi);
	int r0 = (int)lo, r1 = (int)hi;
	if (r0 >= r1)
		return;
	if (j->silu) {
		if ((rc = group_part(j, 0, r0, r1, scratch)) == 0 &&
		    (rc = group_part(j, 1, r0, r1, scratch)) == 0)
			for (int t = 0; t < j->m; t++) {
				size_t at = (size_t)t * j->n[0] + (size_t)r0;
				j->c->ak.silu(j->y[0] + at, j->y[1] + at, r1 - r0);
			}
	} else {
		for (int p = 0, b = 0; p < j->n_parts && rc == 0; b += j->n[p++]) {
			int lo = r0 > b ? r0 : b, hi = r1 < b + j->n[p] ? r1 : b + j->n[p];
			if (lo < hi && (rc = group_part(j, p, lo - b, hi - b, scratch)) == 0 &&
			    j->seq)
				for (int t = 0; t < j->m; t++) {
					float *y = j->y[p] + (size_t)t * j->n[p];
					if (p < 2)
						rope_span(j->c, y, t, lo - b, hi - b);
					if (p > 0)
						store_span(j->c,
						           p == 1 ? j->c->kcache : j->c->vcache, y,
						           j->seq, j->layer, t, lo - b, hi - b);
				}
		}
	}
	if (rc != 0)
		atomic_store(&j->rc, rc);
}

static int run_group(mrt_llm_ctx *c, group_job *j)
{
	int n_tasks =
	    mrt__guided_count(group_rows(j), GROUP_ALIGN, GROUP_MIN, mrt__pool_size(c->pool));

	int xtype = mrt__linear_xtype(j->w[0]->type, j->m), rc;
	for (int p = 1; p < j->n_parts; p++)
		if (mrt__linear_xtype(j->w[p]->type, j->m) != xtype)
			xtype = MRT_TYPE_F32; /* mixed: each task quantizes for itself */
	j->xq = NULL;
	if (xtype != MRT_TYPE_F32) {
		if ((rc = mrt__linear_prepare(j->x, (size_t)j->k, j->w[0]->type, j->m, j->k,
		                              c->lin_scratch, c->pool)) != 0)
			return rc;
		j->xq = c->lin_scratch;
	}
	atomic_init(&j->rc, 0);
	mrt__pool_run(c->pool, n_tasks, group_task, j);
	return atomic_load(&j->rc);
}

/* ---- layers ---- */

static int attention_block(mrt_llm_ctx *c, const mrt__llayer *y, int layer, const int32_t *seq,
                           int n)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, kv = l->n_embd_kv, eq = l->n_embd_q, rc;

	norm_rows(c, y->attn_norm, n);
	if (n <= GROUP_MAX_M) {
		group_job g = {.c = c,
		               .x = c->xn,
		               .w = {&y->wq, &y->wk, &y->wv},
		               .y = {c->q, c->k, c->v},
		               .n = {eq, kv, kv},
		               .n_parts = 3,
		               .m = n,
		               .k = e,
		               .seq = seq,
		               .layer = layer};
		if ((rc = run_group(c, &g)) != 0)
			return rc;
	} else {
		if ((rc = linear(c, c->xn, &y->wq, c->q, n, eq, e, 0)) != 0 ||
		    (rc = linear(c, c->xn, &y->wk, c->k, n, kv, e, 0)) != 0 ||
		    (rc = linear(c, c->xn, &y->wv, c->v, n, kv, e, 0)) != 0)
			return rc;
		rows_job r = {.c = c, .kind = ROWS_ROPE, .n = n, .layer = layer, .seq = seq};
		run_rows(c, &r, eq + 2 * kv);
	}
	attention(c, seq, n, layer);
	return linear(c, c->att, &y->wo, c->x, n, e, eq, 1);
}

static int ffn_block(mrt_llm_ctx *c, const mrt__llayer *y, int n)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, ff = l->n_ff, rc;

	norm_rows(c, y->ffn_norm, n);
	if (n <= GROUP_MAX_M) {
		group_job g = {.c = c,
		               .x = c->xn,
		               .w = {&y->gate, &y->up},
		               .y = {c->gate, c->up},
		               .n = {ff, ff},
		               .n_parts = 2,
		               .m = n,
		               .k = e,
		               .silu = 1};
		if ((rc = run_group(c, &g)) != 0)
			return rc;
	} else {
		if ((rc = linear(c, c->xn, &y->gate, c->gate, n, ff, e, 0)) != 0 ||
		    (rc = linear(c, c->xn, &y->up, c->up, n, ff, e, 0)) != 0)
			return rc;
		rows_job r = {.c = c, .kind = ROWS_SILU, .n = n};
		run_rows(c, &r, ff);
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
		return mrt__errf(err, errlen, MRT_ERR_RANGE, "batch of %d tokens exceeds n_batch %d",
		            b->n, c->p.n_batch);
	for (int i = 0; i < b->n; i++) {
		if (b->tokens[i] < 0 || b->tokens[i] >= c->l->n_vocab)
			return mrt__errf(err, errlen, MRT_ERR_INVALID,
			            "batch entry %d: token %d is not in [0, %d)", i,
			            (int)b->tokens[i], c->l->n_vocab);
		if (b->seq[i] < 0 || b->seq[i] >= c->p.n_seq)
			return mrt__errf(err, errlen, MRT_ERR_INVALID,
			            "batch entry %d: sequence slot %d is not in [0, %d)", i,
			            (int)b->seq[i], c->p.n_seq);
	}
	memset(c->seq_count, 0, sizeof(int) * (size_t)c->p.n_seq);
	for (int i = 0; i < b->n; i++) {
		int s = b->seq[i];
		if (c->seq_len[s] + c->seq_count[s] >= c->p.n_ctx)
			return mrt__errf(err, errlen, MRT_ERR_RANGE,
			            "sequence %d would pass its context of %d tokens", s,
			            c->p.n_ctx);
		c->pos[i] = c->seq_len[s] + c->seq_count[s]++;
		*n_out += b->want_logits && b->want_logits[i];
	}
	return 0;
}

/* Final norm of the entries that want logits or the hidden state, and the
 * output projection of those that want logits: their rows of xn come
 * first (logit_row < n_logit_rows), the hidden-state-only ones after. */
static int output_logits(mrt_llm_ctx *c, const mrt_llm_batch *b)
{
	const mrt__llama *l = c->l;
	int e = l->n_embd, m = 0;

	for (int pass = 1; pass <= 2; pass++) {
		for (int i = 0; i < b->n; i++) {
			int want = b->want_logits ? b->want_logits[i] : 0;
			if (pass == 1)
				c->logit_row[i] = -1;
			if (want == 0 || (want == MRT_LLM_WANT_HIDDEN) != (pass == 2))
				continue;
			c->ak.rms_norm(c->xn + (size_t)m * e, c->x + (size_t)i * e, l->output_norm,
			               e, l->norm_eps);
			c->logit_row[i] = m++;
		}
		if (pass == 1)
			c->n_logit_rows = m;
	}
	return linear(c, c->xn, &l->output, c->logits, c->n_logit_rows, l->n_vocab, e, 0);
}

int mrt_llm_decode(mrt_llm_ctx *c, const mrt_llm_batch *b, char *err, size_t errlen)
{
	const mrt__llama *l;
	int rc, n_out, e;

	if (c == NULL || b == NULL || b->n < 0 || (b->n > 0 && (!b->tokens || !b->seq)))
		return mrt__errf(err, errlen, MRT_ERR_INVALID, "decode: invalid batch");
	l = c->l;
	e = l->n_embd;
	if ((rc = batch_prepare(c, b, &n_out, err, errlen)) != 0)
		return rc;
	c->last_n = 0;
	for (int i = 0; i < b->n; i++)
		if ((rc = mrt__dequantize_row(l->tok_embd.type, l->tok_embd.data, b->tokens[i], e,
		                              c->x + (size_t)i * e)) != 0)
			return mrt__errf(err, errlen, rc, "decode: cannot read token %d's embedding",
			            (int)b->tokens[i]);
	rope_tables(c, b->n);
	make_tiles(c, b->seq, b->n);
	for (int i = 0; i < l->n_layer; i++)
		if ((rc = attention_block(c, &l->layers[i], i, b->seq, b->n)) != 0 ||
		    (rc = ffn_block(c, &l->layers[i], b->n)) != 0)
			return mrt__errf(err, errlen, rc, "decode: layer %d: %s", i, mrt_strerror(rc));
	if ((rc = output_logits(c, b)) != 0)
		return mrt__errf(err, errlen, rc, "decode: output: %s", mrt_strerror(rc));
	for (int i = 0; i < c->p.n_seq; i++)
		c->seq_len[i] += c->seq_count[i];
	c->last_n = b->n;
	return 0;
}
