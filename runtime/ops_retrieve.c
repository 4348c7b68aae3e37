/* RetrieveTopK (our extension, see GRAPH-FORMAT.md): the k catalog items with
 * the highest dot product with each query, computed in chunks of items with
 * one batched mrt__linear call per chunk (the catalog read in place, F32,
 * F16, BF16 or quantized) and a per-user heap, never a [B,N] score matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define RETRIEVE_CHUNK 4096

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
	return t == MRT_TYPE_F32 || t == MRT_TYPE_F16 || t == MRT_TYPE_BF16 ||
	       t == MRT_TYPE_Q8_0 || t == MRT_TYPE_Q4_0;
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
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "query must be [B,D] float32");
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

/* Scratch layout: scores [B, CHUNK] | heaps [B, k] | heap sizes [B] |
 * sorted exclusions [B, L] | mrt__linear's scratch. Each part 64-aligned. */
typedef struct rt_layout {
	size_t scores, heaps, sizes, excl, lin, total;
} rt_layout;

static size_t rt_align(size_t n)
{
	return (n + 63) / 64 * 64;
}

/* 0 on overflow (scratch() then reports 0 and run() refuses). */
static int rt_plan(const mrt__tensor *const *in, int64_t k, rt_layout *L)
{
	int64_t B = in[0]->dims[0], D = in[0]->dims[1], N = in[1]->dims[0];
	int64_t chunk = N < RETRIEVE_CHUNK ? N : RETRIEVE_CHUNK;
	int64_t nx = in[2] ? mrt__numel(in[2]->dims, in[2]->ndim) : 0;
	size_t s, h, z, x, l;

	if (B < 0 || B > ((int64_t)1 << 24) || k < 1 || k > ((int64_t)1 << 24) || nx < 0 ||
	    nx > ((int64_t)1 << 32) || chunk < 0)
		return -1;
	s = rt_align((size_t)B * (size_t)chunk * sizeof(float));
	h = rt_align((size_t)B * (size_t)k * sizeof(rt_item));
	z = rt_align((size_t)B * sizeof(int64_t));
	x = rt_align((size_t)nx * sizeof(int64_t));
	l = rt_align(mrt__linear_scratch(in[1]->type, B, D));
	L->scores = 0;
	L->heaps = s;
	L->sizes = s + h;
	L->excl = s + h + z;
	L->lin = s + h + z + x;
	L->total = L->lin + l;
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

/* One pass over a chunk of scores for a range of users. */
typedef struct rt_scan {
	const float *scores;
	int64_t B, n0, cn, k, L;
	rt_item *heaps;
	int64_t *sizes;
	const int64_t *excl;
} rt_scan;

static void rt_scan_user(const rt_scan *s, int64_t b)
{
	const float *row = s->scores + b * s->cn;
	rt_item *h = s->heaps + b * s->k;
	const int64_t *ex = s->excl + b * s->L;
	int64_t n = s->sizes[b];

	for (int64_t j = 0; j < s->cn; j++) {
		rt_item it = {isnan(row[j]) ? -INFINITY : row[j], s->n0 + j};
		/* Items come in id order: an equal score never displaces the root. */
		if (n == s->k && !(it.v > h[0].v))
			continue;
		if (s->L > 0 && rt_excluded(ex, s->L, it.id))
			continue;
		if (n < s->k) {
			rt_push(h, n++, it);
		} else {
			h[0] = it;
			rt_sift(h, n, 0);
		}
	}
	s->sizes[b] = n;
}

static void rt_scan_task(void *arg, int task, int n_tasks)
{
	const rt_scan *s = arg;
	int64_t per = (s->B + n_tasks - 1) / n_tasks;
	int64_t b0 = (int64_t)task * per, b1 = b0 + per < s->B ? b0 + per : s->B;

	for (int64_t b = b0; b < b1; b++)
		rt_scan_user(s, b);
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
	uint64_t row_bytes;
	rt_layout L;
	rt_scan s;
	char *sc = ctx->scratch;
	int rc;

	if (rt_plan(args, k, &L) != 0 || L.total > ctx->scratch_size || sc == NULL)
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	if (k > N)
		return mrt__op_fail(node, MRT_ERR_RANGE, err, errlen,
		                    "k (%lld) exceeds the catalog (%lld items)", (long long)k,
		                    (long long)N);
	if (mrt_type_nbytes(in[1]->type, (uint64_t)D, &row_bytes) != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "catalog rows of %lld elements do not fit type %d",
		                    (long long)D, in[1]->type);
	memset(&s, 0, sizeof(s));
	s.B = B;
	s.k = k;
	s.heaps = (rt_item *)(sc + L.heaps);
	s.sizes = (int64_t *)(sc + L.sizes);
	s.excl = (int64_t *)(sc + L.excl);
	s.L = args[2] && B > 0 ? args[2]->dims[1] : 0;
	memset(s.sizes, 0, (size_t)B * sizeof(int64_t));
	if (s.L > 0)
		rt_prepare_excl(args[2], (int64_t *)s.excl, B, s.L);
	for (int64_t n0 = 0; n0 < N; n0 += RETRIEVE_CHUNK) {
		int64_t cn = N - n0 < RETRIEVE_CHUNK ? N - n0 : RETRIEVE_CHUNK;
		const char *W = (const char *)in[1]->data + (size_t)n0 * row_bytes;
		float *S = (float *)(sc + L.scores);
		rc = mrt__linear(in[0]->data, (size_t)D, W, in[1]->type, NULL, S, (size_t)cn, B,
		                 cn, D, 0, sc + L.lin, ctx->pool);
		if (rc != 0)
			return mrt__op_fail(node, rc, err, errlen, "no kernel for catalog type %d",
			                    in[1]->type);
		s.scores = S;
		s.n0 = n0;
		s.cn = cn;
		mrt__pool_run(B > 1 ? ctx->pool : NULL, B > 1 ? mrt__pool_size(ctx->pool) : 1,
		              rt_scan_task, &s);
	}
	rt_emit(s.heaps, s.sizes, B, k, out[0].data, out[1].data);
	return 0;
}

/* Inputs: query, catalog (bit 1: read in place when quantized), exclude. */
const mrt__op_def mrt__ops_retrieve[] = {
    {"RetrieveTopK", retrieve_infer, retrieve_scratch, retrieve_run, 2u},
    {NULL},
};
