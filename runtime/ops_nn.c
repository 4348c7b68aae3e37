/* Operator table ops_nn: convolutions (ops_conv.c), MaxPool, AveragePool,
 * GlobalAveragePool/GlobalMaxPool, BatchNormalization (inference) and
 * LayerNormalization, with ONNX semantics. Pools follow PyTorch for
 * ceil_mode (a last window starting in the end padding is dropped). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ops_window.h"

/* ---- MaxPool / AveragePool ---- */

static int pool_check(const mrt__node *node, int is_max, char *err, size_t errlen)
{
	int64_t cip;

	if (node->n_out > 1 && node->out[1] && node->out[1][0])
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "the Indices output is not supported");
	if (mrt__attr_int(node, "count_include_pad", 0, &cip) < 0 || cip < 0 || cip > 1)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "count_include_pad must be 0 or 1");
	if (!is_max && mrt__node_attr(node, "dilations")) {
		const mrt__attr *a = mrt__node_attr(node, "dilations");
		for (int64_t i = 0; a->kind == MRT__ATTR_INTS && i < a->n; i++)
			if (a->ints[i] != 1)
				return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
				                    "AveragePool dilations must be 1");
	}
	return 0;
}

static int pool_infer(const mrt__node *node, const mrt__value_info *const *in,
                      const mrt__const *const *in_const, mrt__value_info *out, char *err,
                      size_t errlen)
{
	mrt__window w;
	int rc;

	if (node->n_in < 1 || !in[0])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "missing input");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "input must be float32");
	rc = pool_check(node, !strcmp(node->op, "MaxPool"), err, errlen);
	if (rc < 0)
		return rc;
	rc = mrt__window_init(node, MRT__WINDOW_POOL, in[0]->dims, in[0]->ndim, NULL, &w, err,
	                      errlen);
	if (rc < 0)
		return rc;
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = in[0]->ndim;
	out[0].dims[0] = in[0]->dims[0];
	out[0].dims[1] = in[0]->dims[1];
	out[0].dims[out[0].ndim - 1] = w.out[1];
	if (out[0].ndim == 4)
		out[0].dims[2] = w.out[0];
	return 0;
}

typedef struct pool_job {
	const mrt__window *w;
	const float *x;
	float *y;
	int64_t planes;
	int is_max, count_pad;
} pool_job;

/* One output element of an average pool at (oh, ow). */
static float pool_avg(const pool_job *j, const float *xc, int64_t oh, int64_t ow)
{
	const mrt__window *w = j->w;
	int64_t h0 = oh * w->s[0] - w->pb[0], w0 = ow * w->s[1] - w->pb[1];
	int64_t h1 = h0 + w->k[0], w1 = w0 + w->k[1], cnt;
	float acc = 0;

	/* count_include_pad counts the window clipped to the padded input. */
	if (j->count_pad) {
		int64_t hh = h1 < w->in[0] + w->pe[0] ? h1 : w->in[0] + w->pe[0];
		int64_t ww = w1 < w->in[1] + w->pe[1] ? w1 : w->in[1] + w->pe[1];
		cnt = (hh - h0) * (ww - w0);
	}
	h0 = h0 < 0 ? 0 : h0;
	w0 = w0 < 0 ? 0 : w0;
	h1 = h1 > w->in[0] ? w->in[0] : h1;
	w1 = w1 > w->in[1] ? w->in[1] : w1;
	if (!j->count_pad)
		cnt = (h1 - h0) * (w1 - w0);
	for (int64_t ih = h0; ih < h1; ih++)
		for (int64_t iw = w0; iw < w1; iw++)
			acc += xc[ih * w->in[1] + iw];
	return cnt > 0 ? acc / (float)cnt : 0.0f;
}

/* max(a, b) where a NaN in either wins. */
static inline __m128 pool_nanmax(__m128 a, __m128 b)
{
	__m128 nan = _mm_cmpunord_ps(a, a);
	return _mm_or_ps(_mm_and_ps(nan, a), _mm_andnot_ps(nan, _mm_max_ps(a, b)));
}

/* 1 for the common 2x2 window, stride 2, no pads or dilation. */
static int pool_is_2x2(const mrt__window *w)
{
	return w->k[0] == 2 && w->k[1] == 2 && w->s[0] == 2 && w->s[1] == 2 && w->d[0] == 1 &&
	       w->d[1] == 1 && w->pb[0] + w->pb[1] + w->pe[0] + w->pe[1] == 0 &&
	       2 * w->out[0] <= w->in[0] && 2 * w->out[1] <= w->in[1];
}

/* Max pool 2x2 stride 2 of one plane: four outputs from two rows of eight
 * inputs (inside the rows since 2 * out <= in), pairs deinterleaved. */
static void pool_max_2x2(const mrt__window *w, const float *xc, float *yc)
{
	for (int64_t oh = 0; oh < w->out[0]; oh++) {
		const float *r0 = xc + 2 * oh * w->in[1], *r1 = r0 + w->in[1];
		float *yr = yc + oh * w->out[1];
		int64_t o = 0;
		for (; o + 4 <= w->out[1]; o += 4) {
			__m128 a = pool_nanmax(_mm_loadu_ps(r0 + 2 * o), _mm_loadu_ps(r1 + 2 * o));
			__m128 b = pool_nanmax(_mm_loadu_ps(r0 + 2 * o + 4),
			                       _mm_loadu_ps(r1 + 2 * o + 4));
			__m128 ev = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
			__m128 od = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
			_mm_storeu_ps(yr + o, pool_nanmax(ev, od));
		}
		for (; o < w->out[1]; o++) {
			float m = r0[2 * o];
			const float v[3] = {r0[2 * o + 1], r1[2 * o], r1[2 * o + 1]};
			for (int i = 0; i < 3; i++)
				m = v[i] > m || v[i] != v[i] ? v[i] : m;
			yr[o] = m;
		}
	}
}

/* yr[o] = max(yr[o], xr[o * s1]) for o in [lo, hi); a NaN wins. SSE for
 * strides 1 and 2 (pairs deinterleaved from contiguous loads, never past
 * xr[(hi - 1) * s1]), scalar for the rest and the tail. */
static void pool_max_tap(const float *restrict xr, float *restrict yr, int64_t lo, int64_t hi,
                         int64_t s1)
{
	int64_t o = lo;

	if (s1 == 1 || s1 == 2) {
		for (; o + 4 <= hi && (o + 3) * s1 + s1 - 1 <= (hi - 1) * s1; o += 4) {
			__m128 v = _mm_loadu_ps(xr + o * s1);
			if (s1 == 2)
				v = _mm_shuffle_ps(v, _mm_loadu_ps(xr + o * 2 + 4),
				                   _MM_SHUFFLE(2, 0, 2, 0));
			_mm_storeu_ps(yr + o, pool_nanmax(v, _mm_loadu_ps(yr + o)));
		}
	}
	for (; o < hi; o++) {
		float v = xr[o * s1], m = yr[o];
		yr[o] = v > m || v != v ? v : m;
	}
}

/* Max pool of one plane, one kernel tap at a time over the output columns
 * whose input column is inside the row (the im2col range rule): no bounds
 * test per element. */
static void pool_max_plane(const mrt__window *w, const float *xc, float *yc)
{
	int64_t s1 = w->s[1];

	for (int64_t oh = 0; oh < w->out[0]; oh++) {
		float *yr = yc + oh * w->out[1];
		for (int64_t o = 0; o < w->out[1]; o++)
			yr[o] = -INFINITY;
		for (int64_t ki = 0; ki < w->k[0]; ki++) {
			int64_t ih = oh * w->s[0] - w->pb[0] + ki * w->d[0];
			if (ih < 0 || ih >= w->in[0])
				continue;
			for (int64_t kj = 0; kj < w->k[1]; kj++) {
				int64_t base = kj * w->d[1] - w->pb[1];
				int64_t lo = base < 0 ? (-base + s1 - 1) / s1 : 0;
				int64_t hi = w->in[1] - 1 - base < 0 ? 0 : (w->in[1] - 1 - base) / s1 + 1;
				hi = hi > w->out[1] ? w->out[1] : hi;
				pool_max_tap(xc + ih * w->in[1] + base, yr, lo, hi, s1);
			}
		}
	}
}

static void pool_task(void *arg, int task, int n_tasks)
{
	const pool_job *j = arg;
	const mrt__window *w = j->w;
	int64_t q0 = j->planes * task / n_tasks, q1 = j->planes * (task + 1) / n_tasks;

	for (int64_t q = q0; q < q1; q++) {
		const float *xc = j->x + q * w->in[0] * w->in[1];
		float *yc = j->y + q * w->out[0] * w->out[1];
		if (j->is_max && pool_is_2x2(w)) {
			pool_max_2x2(w, xc, yc);
			continue;
		}
		if (j->is_max) {
			pool_max_plane(w, xc, yc);
			continue;
		}
		for (int64_t oh = 0; oh < w->out[0]; oh++)
			for (int64_t ow = 0; ow < w->out[1]; ow++)
				yc[oh * w->out[1] + ow] = pool_avg(j, xc, oh, ow);
	}
}

static int pool_n_tasks(mrt__op_ctx *ctx, int64_t planes)
{
	int n = mrt__pool_size(ctx->pool);
	return planes < n ? (int)(planes > 0 ? planes : 1) : n;
}

static int pool_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                    mrt__op_ctx *ctx, char *err, size_t errlen)
{
	mrt__window w;
	int64_t cip = 0;
	pool_job j;
	int rc;

	rc = mrt__window_init(node, MRT__WINDOW_POOL, in[0]->dims, in[0]->ndim, NULL, &w, err,
	                      errlen);
	if (rc < 0)
		return rc;
	mrt__attr_int(node, "count_include_pad", 0, &cip);
	j = (pool_job){.w = &w,
	               .x = in[0]->data,
	               .y = out[0].data,
	               .planes = in[0]->dims[0] * in[0]->dims[1],
	               .is_max = !strcmp(node->op, "MaxPool"),
	               .count_pad = cip != 0};
	mrt__pool_run(ctx->pool, pool_n_tasks(ctx, j.planes), pool_task, &j);
	return 0;
}

/* ---- GlobalAveragePool / GlobalMaxPool ---- */

static int gpool_infer(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	if (node->n_in < 1 || !in[0] || in[0]->ndim < 3)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "input must be [N, C, spatial...]");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "input must be float32");
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = in[0]->ndim;
	memcpy(out[0].dims, in[0]->dims, sizeof(out[0].dims));
	for (int d = 2; d < in[0]->ndim; d++)
		out[0].dims[d] = 1;
	return 0;
}

static int gpool_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *x = in[0]->data;
	float *y = out[0].data;
	int64_t planes = in[0]->dims[0] * in[0]->dims[1];
	int64_t sp = mrt__numel(in[0]->dims + 2, in[0]->ndim - 2);
	int is_max = !strcmp(node->op, "GlobalMaxPool");

	for (int64_t q = 0; q < planes; q++) {
		const float *xc = x + q * sp;
		double acc = 0;
		float m = -INFINITY;
		for (int64_t i = 0; i < sp; i++) {
			acc += xc[i];
			m = xc[i] > m || isnan(xc[i]) ? xc[i] : m;
		}
		y[q] = is_max ? m : sp ? (float)(acc / (double)sp) : NAN;
	}
	return 0;
}

/* ---- BatchNormalization (inference) ---- */

static int bn_infer(const mrt__node *node, const mrt__value_info *const *in,
                    const mrt__const *const *in_const, mrt__value_info *out, char *err,
                    size_t errlen)
{
	int64_t training = 0;

	if (node->n_in < 5 || !in[0] || !in[1] || !in[2] || !in[3] || !in[4])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "needs X, scale, B, mean and var");
	if (mrt__attr_int(node, "training_mode", 0, &training) < 0 || training != 0 ||
	    (node->n_out > 1 && node->out[1] && node->out[1][0]))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "only inference mode is supported");
	if (in[0]->ndim < 2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "X must be [N, C, ...]");
	for (int i = 0; i < 5; i++) {
		if (in[i]->type != MRT_TYPE_F32 &&
		    !(in_const && in_const[i] && in_const[i]->type == MRT_TYPE_F32))
			return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
			                    "inputs must be float32");
		if (i > 0 &&
		    (in[i]->ndim != 1 || (in[0]->dims[1] >= 0 && in[i]->dims[0] != in[0]->dims[1])))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "input %d must have C = %lld values", i,
			                    (long long)in[0]->dims[1]);
	}
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = in[0]->ndim;
	memcpy(out[0].dims, in[0]->dims, sizeof(out[0].dims));
	return 0;
}

/* y = x * a + b per channel, a = scale / sqrt(var + eps), b = B - mean * a. */
static void bn_plane(const float *restrict x, float *restrict y, int64_t sp, float a, float b)
{
	for (int64_t i = 0; i < sp; i++)
		y[i] = x[i] * a + b;
}

static int bn_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                  mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *x = in[0]->data, *scale = in[1]->data, *bias = in[2]->data;
	const float *mean = in[3]->data, *var = in[4]->data;
	float *y = out[0].data, eps = mrt__attr_float(node, "epsilon", 1e-5f);
	int64_t c = in[0]->dims[1], sp = mrt__numel(in[0]->dims + 2, in[0]->ndim - 2);

	for (int64_t q = 0; q < in[0]->dims[0] * c; q++) {
		int64_t ch = q % c;
		float a = scale[ch] / sqrtf(var[ch] + eps), b = bias[ch] - mean[ch] * a;
		if (x == y)
			for (int64_t i = 0; i < sp; i++)
				y[q * sp + i] = y[q * sp + i] * a + b;
		else
			bn_plane(x + q * sp, y + q * sp, sp, a, b);
	}
	return 0;
}

/* ---- LayerNormalization (opset 17) ---- */

static int ln_axis(const mrt__node *node, int ndim, int *ax)
{
	int64_t axis;
	if (mrt__attr_int(node, "axis", -1, &axis) < 0 || axis < -(int64_t)ndim || axis >= ndim)
		return -1;
	*ax = (int)(axis < 0 ? axis + ndim : axis);
	return 0;
}

static int ln_infer(const mrt__node *node, const mrt__value_info *const *in,
                    const mrt__const *const *in_const, mrt__value_info *out, char *err,
                    size_t errlen)
{
	int ax;
	int64_t norm;

	if (node->n_in < 2 || !in[0] || !in[1])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs X and Scale");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "X must be float32");
	if (ln_axis(node, in[0]->ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "axis out of range");
	norm = mrt__numel(in[0]->dims + ax, in[0]->ndim - ax);
	for (int i = 1; i < 3 && i < node->n_in; i++) {
		int64_t n = in[i] ? mrt__numel(in[i]->dims, in[i]->ndim) : 1;
		if (norm >= 0 && n != norm && n != 1)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "%s has %lld values, normalized size is %lld",
			                    i == 1 ? "Scale" : "B", (long long)n, (long long)norm);
	}
	for (int o = 0; o < node->n_out && o < 3; o++) {
		out[o].type = MRT_TYPE_F32;
		out[o].ndim = in[0]->ndim;
		memcpy(out[o].dims, in[0]->dims, sizeof(out[o].dims));
		for (int d = ax; o > 0 && d < in[0]->ndim; d++)
			out[o].dims[d] = 1;
	}
	return 0;
}

static int ln_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                  mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *x = in[0]->data, *sc = in[1]->data;
	const float *b = node->n_in > 2 && in[2] ? in[2]->data : NULL;
	float eps = mrt__attr_float(node, "epsilon", 1e-5f);
	int64_t norm, rows, n_sc = mrt__numel(in[1]->dims, in[1]->ndim);
	int64_t n_b = b ? mrt__numel(in[2]->dims, in[2]->ndim) : 0;
	int ax;

	if (ln_axis(node, in[0]->ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "axis out of range");
	norm = mrt__numel(in[0]->dims + ax, in[0]->ndim - ax);
	rows = mrt__numel(in[0]->dims, ax);
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = x + r * norm;
		float *yr = (float *)out[0].data + r * norm;
		double mean = 0, var = 0;
		for (int64_t i = 0; i < norm; i++)
			mean += xr[i];
		mean = norm ? mean / (double)norm : 0;
		for (int64_t i = 0; i < norm; i++)
			var += (xr[i] - mean) * (xr[i] - mean);
		var = norm ? var / (double)norm : 0;
		float inv = (float)(1.0 / sqrt(var + eps)), mf = (float)mean;
		for (int64_t i = 0; i < norm; i++) {
			float v = (xr[i] - mf) * inv * sc[n_sc == 1 ? 0 : i];
			yr[i] = b ? v + b[n_b == 1 ? 0 : i] : v;
		}
		if (node->n_out > 1 && out[1].data)
			((float *)out[1].data)[r] = mf;
		if (node->n_out > 2 && out[2].data)
			((float *)out[2].data)[r] = inv;
	}
	return 0;
}

const mrt__op_def mrt__ops_nn[] = {
    {"Conv", mrt__conv_infer, mrt__conv_scratch, mrt__conv_run, 1u << 1},
    {"ConvTranspose", mrt__convt_infer, mrt__convt_scratch, mrt__convt_run, 0},
    {"MaxPool", pool_infer, NULL, pool_run, 0},
    {"AveragePool", pool_infer, NULL, pool_run, 0},
    {"GlobalAveragePool", gpool_infer, NULL, gpool_run, 0},
    {"GlobalMaxPool", gpool_infer, NULL, gpool_run, 0},
    {"BatchNormalization", bn_infer, NULL, bn_run, 0},
    {"LayerNormalization", ln_infer, NULL, ln_run, 0},
    {NULL},
};
