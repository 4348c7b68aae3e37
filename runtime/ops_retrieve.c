/* RetrieveTopK (our extension, see GRAPH-FORMAT.md): the k catalog items with
 * the highest dot product with each query. Pool tasks take ranges of items,
 * score them in L2-sized chunks for a few users at a time with mrt__linear
 * (the catalog read in place, F32, F16, BF16 or quantized) and keep a k-heap
 * per user; the heaps are merged at the end. No [B,N] score matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

typedef struct rt_item {
	float v;
	int64_t id;
} rt_item;

/* 1 when a ranks before b: higher score, ties to the lower id. Scores are
 * never NaN here (NaN is stored as -INFINITY). */
static int rt_before(const rt_item *a, const rt_item *b)
{
	return a->v > b->v || (a->v == b->v && a->id < b->id);
}

/* Sift down from the root of a heap whose root ranks last. */
static void rt_sift(rt_item *h, int64_t n, int64_t at)
{
	for (;;) {
		int64_t l = 2 * at + 1, r = l + 1, w = at;
		rt_item t;
		if (l < n && rt_before(&h[w], &h[l]))
			w = l;
		if (r < n && rt_before(&h[w], &h[r]))
			w = r;
		if (w == at)
			return;
		t = h[at];
		h[at] = h[w];
		h[w] = t;
		at = w;
	}
}

static void rt_push(rt_item *h, int64_t n, rt_item it)
{
	int64_t c = n;

	h[c] = it;
	while (c > 0 && rt_before(&h[(c - 1) / 2], &h[c])) {
		rt_item t = h[c];
		h[c] = h[(c - 1) / 2];
		h[(c - 1) / 2] = t;
		c = (c - 1) / 2;
	}
}

static const int64_t *rt_dims(const mrt__value_info *const *in, const mrt__const *const *in_const,
                              int i, int *ndim, int *type)
{
	if (in_const && in_const[i]) {
		*ndim = in_const[i]->ndim;
		*type = in_const[i]->type;
		return in_const[i]->dims;
	}
	*ndim = in[i]->ndim;
	*type = in[i]->type;
	return in[i]->dims;
}

static int rt_catalog_type_ok(int t)
{
	return t == MRT_TYPE_F32 || t == MRT_TYPE_F16 || t == MRT_TYPE_BF16 || t == MRT_TYPE_Q8_0 ||
	       t == MRT_TYPE_Q4_0;
}

static int retrieve_infer(const mrt__node *node, const mrt__value_info *const *in,
                          const mrt__const *const *in_const, mrt__value_info *out, char *err,
                          size_t errlen)
{
	const int64_t *qd, *cd, *xd;
	int qn, qt, cn, ct, xn, xt;
	int64_t k;

	if (node->n_in < 2 || !in[0] || !in[1] || node->n_out != 2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "needs query and catalog inputs and two outputs");
	qd = rt_dims(in, in_const, 0, &qn, &qt);
	cd = rt_dims(in, in_const, 1, &cn, &ct);
	if (qt != MRT_TYPE_F32 || qn != 2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "query must be [B,D] float32");
	if (!rt_catalog_type_ok(ct) || cn != 2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "catalog must be [N,D] of float32, float16, bfloat16, q8_0 "
		                    "or q4_0");
	if (qd[1] >= 0 && cd[1] >= 0 && qd[1] != cd[1])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "query has %lld dims, catalog rows %lld", (long long)qd[1],
		                    (long long)cd[1]);
	if (mrt__attr_int(node, "k", -1, &k) < 0 || k < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "attribute k (INT >= 1) is required");
	if (cd[0] >= 0 && k > cd[0])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "k (%lld) exceeds the catalog (%lld items)", (long long)k,
		                    (long long)cd[0]);
	if (node->n_in > 2 && in[2]) {
		xd = rt_dims(in, in_const, 2, &xn, &xt);
		if ((xt != MRT_TYPE_I64 && xt != MRT_TYPE_I32) || xn != 2)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "exclude must be [B,L] int64");
		if (xd[0] >= 0 && qd[0] >= 0 && xd[0] != qd[0])
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "exclude has %lld rows, query %lld", (long long)xd[0],
			                    (long long)qd[0]);
	}
	out[0].type = MRT_TYPE_F32;
	out[1].type = MRT_TYPE_I64;
	out[0].ndim = out[1].ndim = 2;
	out[0].dims[0] = out[1].dims[0] = qd[0];
	out[0].dims[1] = out[1].dims[1] = k;
	return 0;
}

/* How a run is split: the catalog into n_tasks contiguous item ranges (pool
 * tasks, claimed dynamically), each walked in chunks of `chunk` items; per
 * chunk the scores of `group` users at a time come from one single-threaded
 * mrt__linear call. Groups stay under the size at which mrt__linear hands
 * float weights to OpenBLAS, so no BLAS threads run beside the pool's, and
 * a chunk (about 256 KiB of float rows) stays in L2 across the groups. Each
 * task keeps its own k-heap per user; the heaps are merged at the end. */
#ifndef RETRIEVE_GROUP
#define RETRIEVE_GROUP 8
#endif
#ifndef RETRIEVE_GROUP_Q
#define RETRIEVE_GROUP_Q 64
#endif
#ifndef RETRIEVE_CHUNK_BYTES
#define RETRIEVE_CHUNK_BYTES (256 * 1024)
#endif
#define RETRIEVE_TASKS 8

/* Scratch layout: per task [scores group x chunk | linear scratch] | heaps
 * [n_tasks, B, k] | heap sizes [n_tasks, B] | sorted exclusions [B, L].
 * Each part 64-aligned. */
typedef struct rt_layout {
	int64_t n_tasks, chunk, group;
	size_t task_bytes, lin, heaps, sizes, excl, total;
} rt_layout;

static size_t rt_align(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* -1 when the sizes are out of bounds (scratch() then reports 0 and run()
 * refuses). */
static int rt_plan(const mrt__tensor *const *in, int64_t k, rt_layout *L)
{
	int64_t B = in[0]->dims[0], D = in[0]->dims[1], N = in[1]->dims[0];
	int64_t nx = in[2] ? mrt__numel(in[2]->dims, in[2]->ndim) : 0;
	int64_t per_task;

	if (B < 0 || B > ((int64_t)1 << 24) || k < 1 || k > ((int64_t)1 << 24) || nx < 0 ||
	    nx > ((int64_t)1 << 32) || D < 1 || D > ((int64_t)1 << 24) || N < 1 ||
	    (uint64_t)B * (uint64_t)k > ((uint64_t)1 << 28))
		return -1;
	/* Float catalogs: groups under mrt__linear's BLAS threshold; block
	 * types have no BLAS path and their int8 tiles gain from more rows. */
	L->group = mrt_type_get(in[1]->type).block_elems > 1 ? RETRIEVE_GROUP_Q : RETRIEVE_GROUP;
	L->group = B < L->group ? (B > 0 ? B : 1) : L->group;
	L->chunk = RETRIEVE_CHUNK_BYTES / (D * 4);
	L->chunk = L->chunk < 64 ? 64 : L->chunk > 4096 ? 4096 : L->chunk;
	/* The scratch must not depend on the pool (scratch() does not see it):
	 * a fixed number of tasks, claimed dynamically, balances 2 to 8 threads
	 * on a busy machine; fewer when the per-task heaps would be large. */
	L->n_tasks = B * k <= 65536 ? RETRIEVE_TASKS : 2;
	per_task = (N + L->n_tasks - 1) / L->n_tasks;
	if (per_task < L->chunk)
		L->n_tasks = (N + L->chunk - 1) / L->chunk;
	if (L->n_tasks < 1)
		L->n_tasks = 1;
	L->lin = rt_align((size_t)L->group * (size_t)L->chunk * sizeof(float));
	L->task_bytes = L->lin + rt_align(mrt__linear_scratch(in[1]->type, L->group, D));
	L->heaps = (size_t)L->n_tasks * L->task_bytes;
	L->sizes =
	    L->heaps + rt_align((size_t)L->n_tasks * (size_t)B * (size_t)k * sizeof(rt_item));
	L->excl = L->sizes + rt_align((size_t)L->n_tasks * (size_t)B * sizeof(int64_t));
	L->total = L->excl + rt_align((size_t)nx * sizeof(int64_t));
	return 0;
}

static size_t retrieve_scratch(const mrt__node *node, const mrt__tensor *const *in,
                               const mrt__tensor *out)
{
	rt_layout L;
	const mrt__tensor *args[3] = {in[0], in[1], node->n_in > 2 ? in[2] : NULL};

	if (rt_plan(args, out[0].dims[1], &L) != 0)
		return 0;
	return L.total;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int rt_excluded(const int64_t *sorted, int64_t n, int64_t id)
{
	int64_t lo = 0, hi = n;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sorted[lo] == id;
}

/* Offer item it to heap h of *n entries (capacity k), unless excluded. */
static void rt_offer(rt_item *h, int64_t *n, int64_t k, rt_item it, const int64_t *ex, int64_t L)
{
	if (*n == k && !rt_before(&it, &h[0]))
		return;
	if (L > 0 && rt_excluded(ex, L, it.id))
		return;
	if (*n < k) {
		rt_push(h, (*n)++, it);
	} else {
		h[0] = it;
		rt_sift(h, *n, 0);
	}
}

/* Everything a task needs; read-only but for its own heaps and scratch. */
typedef struct rt_job {
	const float *query;
	const char *catalog;
	int wtype;
	uint64_t row_bytes;
	int64_t B, D, N, k, L;
	const int64_t *excl;
	const rt_layout *lay;
	char *scratch;
	rt_item *heaps; /* [n_tasks, B, k] */
	int64_t *sizes; /* [n_tasks, B] */
	int failed;     /* a linear call failed (unsupported type) */
} rt_job;

/* Scan a [g, cn] block of scores of users b0.. for items n0.. into the
 * task's heaps. */
static void rt_scan(const rt_job *j, rt_item *heaps, int64_t *sizes, const float *S, int64_t b0,
                    int64_t g, int64_t n0, int64_t cn)
{
	for (int64_t u = 0; u < g; u++) {
		int64_t b = b0 + u;
		rt_item *h = heaps + b * j->k;
		const float *row = S + u * cn;
		const int64_t *ex = j->excl + b * j->L;
		int64_t n = sizes[b];
		for (int64_t i = 0; i < cn; i++) {
			rt_item it = {isnan(row[i]) ? -INFINITY : row[i], n0 + i};
			/* The common case: below the worst kept score, no call. */
			if (n == j->k && it.v < h[0].v)
				continue;
			rt_offer(h, &n, j->k, it, ex, j->L);
		}
		sizes[b] = n;
	}
}

static void rt_task(void *arg, int task, int n_tasks)
{
	rt_job *j = arg;
	const rt_layout *L = j->lay;
	char *mine = j->scratch + (size_t)task * L->task_bytes;
	float *S = (float *)mine;
	rt_item *heaps = j->heaps + (size_t)task * (size_t)(j->B * j->k);
	int64_t *sizes = j->sizes + (size_t)task * (size_t)j->B;
	int64_t i0 = j->N * task / n_tasks, i1 = j->N * (task + 1) / n_tasks;

	memset(sizes, 0, (size_t)j->B * sizeof(int64_t));
	for (int64_t n0 = i0; n0 < i1; n0 += L->chunk) {
		int64_t cn = i1 - n0 < L->chunk ? i1 - n0 : L->chunk;
		const char *W = j->catalog + (size_t)n0 * j->row_bytes;
		for (int64_t b0 = 0; b0 < j->B; b0 += L->group) {
			int64_t g = j->B - b0 < L->group ? j->B - b0 : L->group;
			if (mrt__linear(j->query + b0 * j->D, (size_t)j->D, W, j->wtype, NULL, S,
			                (size_t)cn, g, cn, j->D, 0, mine + L->lin, NULL) != 0) {
				j->failed = 1;
				return;
			}
			rt_scan(j, heaps, sizes, S, b0, g, n0, cn);
		}
	}
}

/* Merge every task's heap of user b into task 0's. */
static void rt_merge(rt_job *j, int64_t n_tasks)
{
	for (int64_t b = 0; b < j->B; b++) {
		rt_item *h = j->heaps + b * j->k;
		int64_t n = j->sizes[b];
		for (int64_t t = 1; t < n_tasks; t++) {
			const rt_item *o = j->heaps + (t * j->B + b) * j->k;
			for (int64_t m = 0; m < j->sizes[t * j->B + b]; m++)
				rt_offer(h, &n, j->k, o[m], NULL, 0);
		}
		j->sizes[b] = n;
	}
}

/* Copy and sort each user's exclusions. Padding ids (< 0) stay in the list:
 * no item id is negative, so they never match. */
static void rt_prepare_excl(const mrt__tensor *x, int64_t *dst, int64_t B, int64_t L)
{
	for (int64_t i = 0; i < B * L; i++)
		dst[i] = x->type == MRT_TYPE_I32 ? ((const int32_t *)x->data)[i]
		                                 : ((const int64_t *)x->data)[i];
	for (int64_t b = 0; b < B; b++)
		qsort(dst + b * L, (size_t)L, sizeof(int64_t), cmp_i64);
}

/* Pop each heap worst-first into the tail of its output row; rows with
 * fewer than k candidates (everything excluded) end in -inf scores, id -1. */
static void rt_emit(rt_item *heaps, const int64_t *sizes, int64_t B, int64_t k, float *vo,
                    int64_t *io)
{
	for (int64_t b = 0; b < B; b++) {
		rt_item *h = heaps + b * k;
		int64_t n = sizes[b];
		for (int64_t m = k; m > n; m--) {
			vo[b * k + m - 1] = -INFINITY;
			io[b * k + m - 1] = -1;
		}
		for (int64_t m = n; m > 0; m--) {
			vo[b * k + m - 1] = h[0].v;
			io[b * k + m - 1] = h[0].id;
			h[0] = h[m - 1];
			rt_sift(h, m - 1, 0);
		}
	}
}

static int retrieve_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                        mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const mrt__tensor *args[3] = {in[0], in[1], node->n_in > 2 ? in[2] : NULL};
	int64_t B = in[0]->dims[0], D = in[0]->dims[1], N = in[1]->dims[0], k = out[0].dims[1];
	char *sc = ctx->scratch;
	rt_layout L;
	rt_job j;

	if (rt_plan(args, k, &L) != 0 || L.total > ctx->scratch_size || sc == NULL)
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	if (k > N)
		return mrt__op_fail(node, MRT_ERR_RANGE, err, errlen,
		                    "k (%lld) exceeds the catalog (%lld items)", (long long)k,
		                    (long long)N);
	memset(&j, 0, sizeof(j));
	if (mrt_type_nbytes(in[1]->type, (uint64_t)D, &j.row_bytes) != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "catalog rows of %lld elements do not fit type %d",
		                    (long long)D, in[1]->type);
	j.query = in[0]->data;
	j.catalog = in[1]->data;
	j.wtype = in[1]->type;
	j.B = B;
	j.D = D;
	j.N = N;
	j.k = k;
	j.lay = &L;
	j.scratch = sc;
	j.heaps = (rt_item *)(sc + L.heaps);
	j.sizes = (int64_t *)(sc + L.sizes);
	j.excl = (int64_t *)(sc + L.excl);
	j.L = args[2] && B > 0 ? args[2]->dims[1] : 0;
	if (j.L > 0)
		rt_prepare_excl(args[2], (int64_t *)j.excl, B, j.L);
	if (B > 0)
		mrt__pool_run(ctx->pool, (int)L.n_tasks, rt_task, &j);
	if (j.failed)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "no kernel for catalog type %d", in[1]->type);
	rt_merge(&j, L.n_tasks);
	rt_emit(j.heaps, j.sizes, B, k, out[0].data, out[1].data);
	return 0;
}

/* Inputs: query, catalog (bit 1: read in place when quantized), exclude. */
const mrt__op_def mrt__ops_retrieve[] = {
    {"RetrieveTopK", retrieve_infer, retrieve_scratch, retrieve_run, 2u},
    {NULL},
};
