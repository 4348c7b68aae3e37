/* Conv and ConvTranspose, 1-D and 2-D, with groups, dilations, pads and
 * auto_pad. Conv is im2col + GEMM: F32 weights go to cblas_sgemm straight
 * into the NCHW output (no im2col for 1x1 stride-1 unpadded kernels, a
 * direct loop for depthwise); other weight types (Q8_0, ...) run natively
 * through mrt__linear on position-major columns. ConvTranspose is GEMM +
 * col2im. Columns are built in tiles that fit CONV_TILE_FLOATS. */
#include <cblas.h>
#include <string.h>

#include "ops_window.h"

#define CONV_TILE_FLOATS ((int64_t)1 << 20)

/* Concrete geometry of one Conv/ConvTranspose run. */
typedef struct conv_geom {
	mrt__window w;
	int64_t n, c, m, g; /* batch, input and output channels, groups */
	int64_t cg, mg;     /* channels per group (in, out) */
	int64_t kk;         /* kernel positions kh*kw */
	int64_t K;          /* GEMM depth: cg*kk (Conv) or rows mg*kk (ConvTranspose) */
	int64_t pin, pout;  /* input and output positions per channel */
	int64_t pt;         /* positions per column tile */
	int direct;         /* Conv: 1x1, stride 1, no pads: X is already the columns */
} conv_geom;

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* Resolve geometry from X dims xd and weight dims wd (rank ndim each).
 * transposed: ConvTranspose layout W [C, M/g, k...]. Dims may be -1 at infer
 * time (then pt and K-derived fields are unused). */
static int conv_geom_init(const mrt__node *node, const int64_t *xd, const int64_t *wd, int ndim,
                          int wdim, int transposed, conv_geom *g, char *err, size_t errlen)
{
	int64_t group;
	int rc;

	if (ndim < 3 || ndim > 4 || wdim != ndim)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "X and W must both have rank 3 or 4 (got %d and %d)", ndim,
		                    wdim);
	if (mrt__attr_int(node, "group", 1, &group) < 0 || group < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "group must be >= 1");
	for (int i = 0; i < ndim; i++)
		if (wd[i] < 1)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "weight dims must be known and >= 1");
	rc = mrt__window_init(node, transposed ? MRT__WINDOW_TRANS : MRT__WINDOW_CONV, xd, ndim,
	                      wd + 2, &g->w, err, errlen);
	if (rc < 0)
		return rc;
	g->g = group;
	g->n = xd[0];
	g->c = transposed ? wd[0] : wd[1] * group;
	g->m = transposed ? wd[1] * group : wd[0];
	if ((xd[1] >= 0 && xd[1] != g->c) || g->c % group || g->m % group)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "X has %lld channels, W %s with group %lld does not fit",
		                    (long long)xd[1], transposed ? "[C, M/g, k]" : "[M, C/g, k]",
		                    (long long)group);
	g->cg = g->c / group;
	g->mg = g->m / group;
	g->kk = g->w.k[0] * g->w.k[1];
	g->K = transposed ? g->mg * g->kk : g->cg * g->kk;
	g->pin = g->w.in[0] * g->w.in[1];
	g->pout = g->w.out[0] * g->w.out[1];
	g->direct = !transposed && g->kk == 1 && g->w.s[0] == 1 && g->w.s[1] == 1 &&
	            g->w.pb[0] + g->w.pb[1] + g->w.pe[0] + g->w.pe[1] == 0;
	{
		int64_t pos = transposed ? g->pin : g->pout;
		g->pt = pos;
		if (pos > 0 && g->K * pos > CONV_TILE_FLOATS)
			g->pt = CONV_TILE_FLOATS / g->K > 0 ? CONV_TILE_FLOATS / g->K : 1;
	}
	return 0;
}

static int conv_infer_common(const mrt__node *node, const mrt__value_info *const *in,
                             const mrt__const *const *in_const, mrt__value_info *out,
                             int transposed, char *err, size_t errlen)
{
	const int64_t *wd;
	conv_geom g;
	int wdim, rc;

	if (node->n_in < 2 || !in[0] || !in[1])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs inputs X and W");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "X must be float32");
	wd = in_const && in_const[1] ? in_const[1]->dims : in[1]->dims;
	wdim = in_const && in_const[1] ? in_const[1]->ndim : in[1]->ndim;
	rc = conv_geom_init(node, in[0]->dims, wd, in[0]->ndim, wdim, transposed, &g, err, errlen);
	if (rc < 0)
		return rc;
	if (node->n_in > 2 && in[2] && (in[2]->ndim != 1 || in[2]->dims[0] != g.m))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "B must have %lld values",
		                    (long long)g.m);
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = in[0]->ndim;
	out[0].dims[0] = in[0]->dims[0];
	out[0].dims[1] = g.m;
	if (in[0]->ndim == 4) {
		out[0].dims[2] = g.w.out[0];
		out[0].dims[3] = g.w.out[1];
	} else {
		out[0].dims[2] = g.w.out[1];
	}
	return 0;
}

int mrt__conv_infer(const mrt__node *node, const mrt__value_info *const *in,
                    const mrt__const *const *in_const, mrt__value_info *out, char *err,
                    size_t errlen)
{
	return conv_infer_common(node, in, in_const, out, 0, err, errlen);
}

int mrt__convt_infer(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, mrt__value_info *out, char *err,
                     size_t errlen)
{
	if (node->n_in > 1 && in[1] && in_const && in_const[1] && in_const[1]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "W must be float32");
	return conv_infer_common(node, in, in_const, out, 1, err, errlen);
}

/* ---- Conv ---- */

/* Bytes per weight row (K elements of type t), or 0 if K does not fit. */
static size_t conv_row_bytes(int t, int64_t K)
{
	uint64_t b;
	if (mrt_type_nbytes(t, (uint64_t)K, &b) < 0)
		return 0;
	return (size_t)b;
}

size_t mrt__conv_scratch(const mrt__node *node, const mrt__tensor *const *in,
                         const mrt__tensor *out)
{
	conv_geom g;
	char err[8];
	int wt = in[1]->type;

	if (conv_geom_init(node, in[0]->dims, in[1]->dims, in[0]->ndim, in[1]->ndim, 0, &g, err,
	                   sizeof(err)) < 0)
		return 0;
	if (wt == MRT_TYPE_F32) {
		if (g.direct || (g.cg == 1 && g.mg == 1))
			return 0;
		return align64((size_t)(g.K * g.pt) * sizeof(float));
	}
	return align64((size_t)(g.K * g.pt) * sizeof(float)) +
	       align64((size_t)(g.mg * g.pt) * sizeof(float)) +
	       align64(mrt__linear_scratch(wt, g.pt, g.K));
}

/* Work for the pool: build columns or run depthwise planes. */
typedef struct conv_job {
	const conv_geom *g;
	const float *x; /* one group's input channels (im2col) or all of X */
	const float *w, *b;
	float *dst;     /* columns or Y */
	int64_t p0, np; /* position tile */
	int pos_major;  /* columns as [np][K] instead of [K][np] */
} conv_job;

/* Column k (channel c, kernel offset ki,kj) of positions p0..p0+np-1,
 * written every step floats. Works one output row at a time: the valid
 * input columns of a row are a contiguous range of output columns. */
static void im2col_row(const conv_job *j, int64_t k, float *dst, size_t step)
{
	const mrt__window *w = &j->g->w;
	int64_t c = k / j->g->kk, ki = (k % j->g->kk) / w->k[1], kj = k % w->k[1];
	const float *xc = j->x + c * j->g->pin;
	int64_t oh = j->p0 / w->out[1], ow = j->p0 % w->out[1], ow_n = w->out[1];
	int64_t base = kj * w->d[1] - w->pb[1], s1 = w->s[1];
	/* Output columns whose input column ow*s1 + base is inside [0, in1). */
	int64_t lo = base < 0 ? (-base + s1 - 1) / s1 : 0;
	int64_t hi = w->in[1] - 1 - base < 0 ? 0 : (w->in[1] - 1 - base) / s1 + 1;

	hi = hi > ow_n ? ow_n : hi;
	for (int64_t p = 0; p < j->np; oh++, ow = 0) {
		int64_t end = ow + (j->np - p < ow_n - ow ? j->np - p : ow_n - ow);
		int64_t ih = oh * w->s[0] - w->pb[0] + ki * w->d[0];
		float *d = dst + (size_t)p * step - (size_t)ow * step;
		const float *xr = xc + ih * w->in[1] + base;

		p += end - ow;
		if (ih < 0 || ih >= w->in[0]) {
			for (int64_t o = ow; o < end; o++)
				d[o * step] = 0.0f;
			continue;
		}
		for (int64_t o = ow; o < end && o < lo; o++)
			d[o * step] = 0.0f;
		for (int64_t o = ow > lo ? ow : lo; o < end && o < hi; o++)
			d[o * step] = xr[o * s1];
		for (int64_t o = ow > hi ? ow : hi; o < end; o++)
			d[o * step] = 0.0f;
	}
}

static void im2col_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	int64_t K = j->g->K, k0 = K * task / n_tasks, k1 = K * (task + 1) / n_tasks;

	for (int64_t k = k0; k < k1; k++) {
		if (j->pos_major)
			im2col_row(j, k, j->dst + k, (size_t)K);
		else
			im2col_row(j, k, j->dst + k * j->np, 1);
	}
}

/* Depthwise (one input and one output channel per group), F32: direct loop
 * over planes (n, m), one kernel tap at a time over the output columns it
 * reaches inside the input. */
static void conv_dw_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	const conv_geom *g = j->g;
	const mrt__window *w = &g->w;
	int64_t planes = g->n * g->m, q0 = planes * task / n_tasks;
	int64_t q1 = planes * (task + 1) / n_tasks, s1 = w->s[1];

	for (int64_t q = q0; q < q1; q++) {
		int64_t m = q % g->m;
		const float *xc = j->x + q * g->pin, *wk = j->w + m * g->kk;
		float *yc = j->dst + q * g->pout, bias = j->b ? j->b[m] : 0.0f;
		for (int64_t oh = 0; oh < w->out[0]; oh++) {
			float *yr = yc + oh * w->out[1];
			for (int64_t o = 0; o < w->out[1]; o++)
				yr[o] = bias;
			for (int64_t ki = 0; ki < w->k[0]; ki++) {
				int64_t ih = oh * w->s[0] - w->pb[0] + ki * w->d[0];
				if (ih < 0 || ih >= w->in[0])
					continue;
				for (int64_t kj = 0; kj < w->k[1]; kj++) {
					int64_t base = kj * w->d[1] - w->pb[1];
					int64_t lo = base < 0 ? (-base + s1 - 1) / s1 : 0;
					int64_t hi = w->in[1] - 1 - base < 0
					                 ? 0
					                 : (w->in[1] - 1 - base) / s1 + 1;
					const float *xr = xc + ih * w->in[1] + base;
					float wv = wk[ki * w->k[1] + kj];
					hi = hi > w->out[1] ? w->out[1] : hi;
					for (int64_t o = lo; o < hi; o++)
						yr[o] += xr[o * s1] * wv;
				}
			}
		}
	}
}

static int conv_tasks(mrt__op_ctx *ctx, int64_t work)
{
	int n = mrt__pool_size(ctx->pool);
	return work < n ? (int)(work > 0 ? work : 1) : n;
}

/* F32 weights: Y[mg, P] = W[mg, K] * cols[K, P] per (batch, group, tile). */
static void conv_run_f32(const conv_geom *g, const float *x, const float *w, const float *b,
                         float *y, mrt__op_ctx *ctx)
{
	conv_job j = {.g = g, .w = w, .b = b};

	if (g->cg == 1 && g->mg == 1) {
		j.x = x;
		j.dst = y;
		mrt__pool_run(ctx->pool, conv_tasks(ctx, g->n * g->m), conv_dw_task, &j);
		return;
	}
	for (int64_t n = 0; n < g->n; n++) {
		for (int64_t gi = 0; gi < g->g; gi++) {
			const float *xg = x + (n * g->c + gi * g->cg) * g->pin;
			const float *wg = w + gi * g->mg * g->K;
			float *yg = y + (n * g->m + gi * g->mg) * g->pout;
			if (g->direct) {
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->mg,
				            (int)g->pout, (int)g->K, 1.0f, wg, (int)g->K, xg,
				            (int)g->pout, 0.0f, yg, (int)g->pout);
				continue;
			}
			for (int64_t p0 = 0; p0 < g->pout; p0 += g->pt) {
				j.x = xg;
				j.dst = ctx->scratch;
				j.p0 = p0;
				j.np = g->pout - p0 < g->pt ? g->pout - p0 : g->pt;
				j.pos_major = 0;
				mrt__pool_run(ctx->pool, conv_tasks(ctx, g->K), im2col_task, &j);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->mg,
				            (int)j.np, (int)g->K, 1.0f, wg, (int)g->K, j.dst,
				            (int)j.np, 0.0f, yg + p0, (int)g->pout);
			}
		}
	}
	for (int64_t q = 0; b && q < g->n * g->m; q++) {
		float *yc = y + q * g->pout, bv = b[q % g->m];
		for (int64_t p = 0; p < g->pout; p++)
			yc[p] += bv;
	}
}

/* Other weight types: Yt[P, mg] = cols[P, K] * W[mg, K]^T via mrt__linear,
 * then transposed into Y. */
static int conv_run_packed(const conv_geom *g, const float *x, const void *w, int wt,
                           const float *b, float *y, mrt__op_ctx *ctx)
{
	size_t rb = conv_row_bytes(wt, g->K);
	float *cols = ctx->scratch;
	float *yt = (float *)((char *)ctx->scratch + align64((size_t)(g->K * g->pt) * 4));
	void *lin = (char *)yt + align64((size_t)(g->mg * g->pt) * 4);
	conv_job j = {.g = g, .pos_major = 1, .dst = cols};

	if (!rb)
		return MRT_ERR_UNSUPPORTED;
	for (int64_t n = 0; n < g->n; n++) {
		for (int64_t gi = 0; gi < g->g; gi++) {
			const char *wg = (const char *)w + (size_t)(gi * g->mg) * rb;
			float *yg = y + (n * g->m + gi * g->mg) * g->pout;
			j.x = x + (n * g->c + gi * g->cg) * g->pin;
			for (int64_t p0 = 0; p0 < g->pout; p0 += g->pt) {
				int rc;
				j.p0 = p0;
				j.np = g->pout - p0 < g->pt ? g->pout - p0 : g->pt;
				mrt__pool_run(ctx->pool, conv_tasks(ctx, g->K), im2col_task, &j);
				rc = mrt__linear(cols, (size_t)g->K, wg, wt,
				                 b ? b + gi * g->mg : NULL, yt, (size_t)g->mg, j.np,
				                 g->mg, g->K, 0, lin, ctx->pool);
				if (rc < 0)
					return rc;
				for (int64_t m = 0; m < g->mg; m++)
					for (int64_t p = 0; p < j.np; p++)
						yg[m * g->pout + p0 + p] = yt[p * g->mg + m];
			}
		}
	}
	return 0;
}

int mrt__conv_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                  mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *b = node->n_in > 2 && in[2] ? in[2]->data : NULL;
	conv_geom g;
	int rc;

	rc = conv_geom_init(node, in[0]->dims, in[1]->dims, in[0]->ndim, in[1]->ndim, 0, &g, err,
	                    errlen);
	if (rc < 0)
		return rc;
	if (ctx->scratch_size < mrt__conv_scratch(node, in, out))
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	if (g.pout == 0 || g.n == 0)
		return 0;
	if (in[1]->type == MRT_TYPE_F32) {
		conv_run_f32(&g, in[0]->data, in[1]->data, b, out[0].data, ctx);
		return 0;
	}
	rc = conv_run_packed(&g, in[0]->data, in[1]->data, in[1]->type, b, out[0].data, ctx);
	if (rc < 0)
		return mrt__op_fail(node, rc, err, errlen,
		                    "no kernel for weight type %d with K = %lld", in[1]->type,
		                    (long long)g.K);
	return 0;
}

/* ---- ConvTranspose ---- */

size_t mrt__convt_scratch(const mrt__node *node, const mrt__tensor *const *in,
                          const mrt__tensor *out)
{
	conv_geom g;
	char err[8];

	if (conv_geom_init(node, in[0]->dims, in[1]->dims, in[0]->ndim, in[1]->ndim, 1, &g, err,
	                   sizeof(err)) < 0)
		return 0;
	return align64((size_t)(g.K * g.pt) * sizeof(float));
}

/* Scatter-add columns [K = mg*kk][np] of input positions p0.. into one
 * group's output channels; tasks split the output channels. */
static void col2im_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	const conv_geom *g = j->g;
	const mrt__window *w = &g->w;
	int64_t m0 = g->mg * task / n_tasks, m1 = g->mg * (task + 1) / n_tasks;

	for (int64_t k = m0 * g->kk; k < m1 * g->kk; k++) {
		int64_t m = k / g->kk, ki = (k % g->kk) / w->k[1], kj = k % w->k[1];
		int64_t ih = j->p0 / w->in[1], iw = j->p0 % w->in[1];
		const float *col = j->x + k * j->np;
		float *yc = j->dst + m * g->pout;
		for (int64_t p = 0; p < j->np; p++) {
			int64_t oh = ih * w->s[0] - w->pb[0] + ki * w->d[0];
			int64_t ow = iw * w->s[1] - w->pb[1] + kj * w->d[1];
			if (oh >= 0 && oh < w->out[0] && ow >= 0 && ow < w->out[1])
				yc[oh * w->out[1] + ow] += col[p];
			if (++iw == w->in[1]) {
				iw = 0;
				ih++;
			}
		}
	}
}

int mrt__convt_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                   mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *x = in[0]->data, *w = in[1]->data;
	const float *b = node->n_in > 2 && in[2] ? in[2]->data : NULL;
	float *y = out[0].data, *cols = ctx->scratch;
	conv_geom g;
	conv_job j;
	int rc;

	if (in[1]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "W must be float32");
	rc = conv_geom_init(node, in[0]->dims, in[1]->dims, in[0]->ndim, in[1]->ndim, 1, &g, err,
	                    errlen);
	if (rc < 0)
		return rc;
	if (ctx->scratch_size < mrt__convt_scratch(node, in, out))
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	for (int64_t q = 0; q < g.n * g.m; q++)
		for (int64_t p = 0; p < g.pout; p++)
			y[q * g.pout + p] = b ? b[q % g.m] : 0.0f;
	for (int64_t n = 0; n < g.n; n++) {
		for (int64_t gi = 0; gi < g.g; gi++) {
			const float *xg = x + (n * g.c + gi * g.cg) * g.pin;
			const float *wg = w + gi * g.cg * g.K;
			for (int64_t p0 = 0; p0 < g.pin; p0 += g.pt) {
				int64_t np = g.pin - p0 < g.pt ? g.pin - p0 : g.pt;
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K,
				            (int)np, (int)g.cg, 1.0f, wg, (int)g.K, xg + p0,
				            (int)g.pin, 0.0f, cols, (int)np);
				j = (conv_job){.g = &g,
				               .x = cols,
				               .p0 = p0,
				               .np = np,
				               .dst = y + (n * g.m + gi * g.mg) * g.pout};
				mrt__pool_run(ctx->pool, conv_tasks(ctx, g.mg), col2im_task, &j);
			}
		}
	}
	return 0;
}
