/* Conv and ConvTranspose, 1-D and 2-D, with groups, dilations, pads and
 * auto_pad. Conv F32 with narrow groups (weights in L1): im2col + GEMM over
 * tiles of positions across the whole batch, tiles in parallel on the pool,
 * bias added while storing NCHW. Wider groups: per-image im2col and sgemm
 * on the caller (OpenBLAS threads). Depthwise: a direct loop. Other weight
 * types (Q8_0, ...): mrt__linear on position-major columns. ConvTranspose
 * is GEMM + col2im. */
#include <cblas.h>
#include <immintrin.h>
#include <string.h>

#include "ops_window.h"

#define CONV_TILE_FLOATS ((int64_t)1 << 20) /* sgemm, packed and ConvTranspose columns */
#define CONV_SLOTS 8                         /* F32 tiles in flight, one scratch slot each */
#define CONV_SLOT_FLOATS ((int64_t)1 << 15)  /* F32 slot target: columns + GEMM output */
#define CONV_MIN_TILE 64                     /* F32 positions per tile at least */
#define CONV_TASK_FMAS ((int64_t)1 << 17)    /* least multiply-adds worth a second task */
#define CONV_KERNEL_MAX_W 4096               /* own F32 kernel while mg*K fits L1: it
                                              * re-reads a group's weights every 16
                                              * columns; sgemm's packing wins above */

/* Concrete geometry of one Conv/ConvTranspose run. */
typedef struct conv_geom {
	mrt__window w;
	int64_t n, c, m, g; /* batch, input and output channels, groups */
	int64_t cg, mg;     /* channels per group (in, out) */
	int64_t kk;         /* kernel positions kh*kw */
	int64_t K;          /* GEMM depth: cg*kk (Conv) or rows mg*kk (ConvTranspose) */
	int64_t pin, pout;  /* input and output positions per channel */
	int64_t pt;         /* positions per column tile (ConvTranspose, packed Conv) */
	int64_t tp;         /* Conv F32: positions per tile over the batch, multiple of 16 */
	int relu;           /* Conv: activation "Relu" fused (max(v, 0), NaN -> 0) */
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
	{
		const mrt__attr *act = mrt__node_attr(node, "activation");
		g->relu = act != NULL;
		if (act && (transposed || act->kind != MRT__ATTR_STRING || !act->s ||
		            strcmp(act->s, "Relu") != 0))
			return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
			                    "activation may only be \"Relu\", on Conv");
	}
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
	{
		int64_t pos = transposed ? g->pin : g->n * g->pout;
		g->pt = pos;
		if (pos > 0 && g->K * pos > CONV_TILE_FLOATS)
			g->pt = CONV_TILE_FLOATS / g->K > 0 ? CONV_TILE_FLOATS / g->K : 1;
		g->tp = CONV_SLOT_FLOATS / (g->K + g->mg) / 16 * 16;
		g->tp = g->tp < CONV_MIN_TILE ? CONV_MIN_TILE : g->tp;
		if (pos >= 0 && g->tp > (pos + 15) / 16 * 16)
			g->tp = (pos + 15) / 16 * 16;
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

static int conv_depthwise(const conv_geom *g)
{
	return g->cg == 1 && g->mg == 1;
}

/* A group's weights past L1 (F32): GEMMs large enough for sgemm, run on
 * the caller so OpenBLAS threads them as the host configured it. */
static int conv_large(const conv_geom *g)
{
	return g->mg * g->K > CONV_KERNEL_MAX_W;
}

/* conv_large: positions per sgemm, inside one image. */
static int64_t conv_large_tile(const conv_geom *g)
{
	int64_t t = CONV_TILE_FLOATS / g->K;
	t = t < 1 ? 1 : t;
	return t < g->pout ? t : g->pout;
}

/* Floats of a zero-padded input plane (plus slack for vector reads), used
 * when whole images fit a tile and the window has pads; else 0. */
static int64_t conv_plane_floats(const conv_geom *g)
{
	const mrt__window *w = &g->w;
	if (g->pout > g->tp || w->pb[0] + w->pb[1] + w->pe[0] + w->pe[1] == 0)
		return 0;
	return (w->in[0] + w->pb[0] + w->pe[0]) * (w->in[1] + w->pb[1] + w->pe[1]) + 16;
}

/* Bytes of one F32 scratch slot: columns [K][tp], GEMM output [mg][tp] and
 * the padded plane. */
static size_t conv_slot_bytes(const conv_geom *g)
{
	return align64((size_t)((g->K + g->mg) * g->tp + conv_plane_floats(g)) * sizeof(float));
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
	if (wt == MRT_TYPE_F32)
		return conv_depthwise(&g) ? 0
		       : conv_large(&g)   ? align64((size_t)(g.K * conv_large_tile(&g)) * 4)
		                          : CONV_SLOTS * conv_slot_bytes(&g);
	return align64((size_t)(g.K * g.pt) * sizeof(float)) +
	       align64((size_t)(g.mg * g.pt) * sizeof(float)) +
	       align64(mrt__linear_scratch(wt, g.pt, g.K));
}

/* d[o] = xr[o * s1] for o in [a, e); xr[i] is readable for i < lim. SSE
 * for strides 1 and 2 with a contiguous destination (step 1). */
static inline __attribute__((always_inline)) void im2col_copy(float *d, const float *xr,
                                                              int64_t a, int64_t e, int64_t s1,
                                                              size_t step, int64_t lim)
{
	int64_t o = a;

	if (step == 1 && s1 == 1)
		for (; o + 4 <= e; o += 4)
			_mm_storeu_ps(d + o, _mm_loadu_ps(xr + o));
	if (step == 1 && s1 == 2)
		for (; o + 4 <= e && 2 * o + 8 <= lim; o += 4)
			_mm_storeu_ps(d + o, _mm_shuffle_ps(_mm_loadu_ps(xr + 2 * o),
			                                    _mm_loadu_ps(xr + 2 * o + 4),
			                                    _MM_SHUFFLE(2, 0, 2, 0)));
	for (; o < e; o++)
		d[o * step] = xr[o * s1];
}

/* Column k (channel c, kernel offset ki,kj) of positions p0..p0+np-1 of one
 * image (x: its group's input channels), written every step floats. Works
 * one output row at a time: the valid input columns of a row are a
 * contiguous range of output columns. */
static void im2col_row(const conv_geom *g, const float *x, int64_t k, int64_t p0, int64_t np,
                       float *dst, size_t step)
{
	const mrt__window *w = &g->w;
	int64_t c = k / g->kk, ki = (k % g->kk) / w->k[1], kj = k % w->k[1];
	const float *xc = x + c * g->pin;
	int64_t oh = p0 / w->out[1], ow = p0 % w->out[1], ow_n = w->out[1];
	int64_t base = kj * w->d[1] - w->pb[1], s1 = w->s[1];
	/* Output columns whose input column ow*s1 + base is inside [0, in1). */
	int64_t lo = base < 0 ? (-base + s1 - 1) / s1 : 0;
	int64_t hi = w->in[1] - 1 - base < 0 ? 0 : (w->in[1] - 1 - base) / s1 + 1;

	hi = hi > ow_n ? ow_n : hi;
	for (int64_t p = 0; p < np; oh++, ow = 0) {
		int64_t end = ow + (np - p < ow_n - ow ? np - p : ow_n - ow);
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
		if (ow < hi && lo < end)
			im2col_copy(d, xr, ow > lo ? ow : lo, end < hi ? end : hi, s1, step,
			            w->in[1] - base);
		for (int64_t o = ow > hi ? ow : hi; o < end; o++)
			d[o * step] = 0.0f;
	}
}

/* Channel c of one image as a plane with the pads as zeros (row stride
 * in1 + pb1 + pe1); the plane itself when there are no pads. */
static const float *conv_pad_plane(const conv_geom *g, const float *xc, float *plane)
{
	const mrt__window *w = &g->w;
	int64_t wp = w->in[1] + w->pb[1] + w->pe[1], hp = w->in[0] + w->pb[0] + w->pe[0];

	if (w->pb[0] + w->pb[1] + w->pe[0] + w->pe[1] == 0)
		return xc;
	memset(plane, 0, (size_t)(w->pb[0] * wp) * sizeof(float));
	for (int64_t ih = 0; ih < w->in[0]; ih++) {
		float *r = plane + (w->pb[0] + ih) * wp;
		for (int64_t i = 0; i < w->pb[1]; i++)
			r[i] = 0.0f;
		memcpy(r + w->pb[1], xc + ih * w->in[1], (size_t)w->in[1] * sizeof(float));
		for (int64_t i = w->pb[1] + w->in[1]; i < wp; i++)
			r[i] = 0.0f;
	}
	memset(plane + (w->pb[0] + w->in[0]) * wp, 0, (size_t)((hp - w->pb[0] - w->in[0]) * wp) *
	                                                 sizeof(float));
	return plane;
}

/* All pout columns of one whole image (x: its group's channels) into rows
 * k of cols (row stride ld): every window row is inside the padded plane,
 * so a row of output positions is one strided copy. */
static void im2col_image(const conv_geom *g, const float *x, float *cols, int64_t ld,
                         float *plane)
{
	const mrt__window *w = &g->w;
	int64_t wp = w->in[1] + w->pb[1] + w->pe[1], ow_n = w->out[1];

	for (int64_t c = 0; c < g->cg; c++) {
		const float *pl = conv_pad_plane(g, x + c * g->pin, plane);
		for (int64_t ki = 0; ki < w->k[0]; ki++) {
			for (int64_t kj = 0; kj < w->k[1]; kj++) {
				float *d = cols + (c * g->kk + ki * w->k[1] + kj) * ld;
				const float *src = pl + ki * w->d[0] * wp + kj * w->d[1];
				int64_t lim = wp - kj * w->d[1]; /* readable in a row */
				int64_t rs = w->s[0] * wp;
				if (w->s[1] == 1)
					for (int64_t oh = 0; oh < w->out[0]; oh++, d += ow_n)
						im2col_copy(d, src + oh * rs, 0, ow_n, 1, 1, lim);
				else if (w->s[1] == 2)
					for (int64_t oh = 0; oh < w->out[0]; oh++, d += ow_n)
						im2col_copy(d, src + oh * rs, 0, ow_n, 2, 1, lim);
				else
					for (int64_t oh = 0; oh < w->out[0]; oh++, d += ow_n)
						im2col_copy(d, src + oh * rs, 0, ow_n, w->s[1], 1,
						            lim);
			}
		}
	}
}

/* Columns of group gi for the batch-wide positions t0..t0+np-1 (position t
 * is image t / pout, position t % pout). Row-major [K][ld] when pos_major is
 * 0 (columns np..ld-1 zeroed), else [np][K]. Rows k0..k1-1 only. */
static void im2col_span(const conv_geom *g, const float *x, int64_t gi, int64_t t0, int64_t np,
                        float *cols, int64_t ld, int pos_major, int64_t k0, int64_t k1,
                        float *plane)
{
	for (int64_t t = t0; t < t0 + np;) {
		int64_t img = t / g->pout, p = t % g->pout;
		int64_t len = g->pout - p < t0 + np - t ? g->pout - p : t0 + np - t;
		const float *xg = x + (img * g->c + gi * g->cg) * g->pin;
		if (plane && len == g->pout && k0 == 0 && k1 == g->K) {
			im2col_image(g, xg, cols + (t - t0), ld, plane);
			t += len;
			continue;
		}
		for (int64_t k = k0; k < k1; k++) {
			if (pos_major)
				im2col_row(g, xg, k, p, len, cols + (t - t0) * g->K + k,
				           (size_t)g->K);
			else
				im2col_row(g, xg, k, p, len, cols + k * ld + (t - t0), 1);
		}
		t += len;
	}
	for (int64_t k = k0; !pos_major && k < k1; k++)
		memset(cols + k * ld + np, 0, (size_t)(ld - np) * sizeof(float));
}

/* Where the AVX2 kernel writes: element (m, p) of a tile goes to
 * y[(p / pout) * img_stride + m * row_stride + p % pout] plus bias[m]
 * (bias may be NULL), then max(v, 0) when relu. A 16-column block never crosses an image: pout is a
 * multiple of 16, or at least the tile width. */
typedef struct conv_dst {
	float *y;
	int64_t img_stride, row_stride, pout;
	const float *bias;
	int relu;
} conv_dst;

/* Reference of conv_gemm_avx2 (same contract), for CPUs without AVX2. */
static void conv_gemm_ref(const float *w, int64_t mg, int64_t K, const float *cols, int64_t ld,
                          int64_t width, const conv_dst *o)
{
	for (int64_t p = 0; p < width; p += 16) {
		float *yb = o->y + (p / o->pout) * o->img_stride + p % o->pout;
		for (int64_t m = 0; m < mg; m++) {
			float acc[16], *r = yb + m * o->row_stride;
			for (int i = 0; i < 16; i++)
				acc[i] = o->bias ? o->bias[m] : 0.0f;
			for (int64_t k = 0; k < K; k++) {
				const float *c = cols + k * ld + p;
				float wv = w[m * K + k];
				for (int i = 0; i < 16; i++)
					acc[i] += wv * c[i];
			}
			for (int i = 0; o->relu && i < 16; i++)
				acc[i] = acc[i] > 0 ? acc[i] : 0.0f;
			memcpy(r, acc, sizeof(acc));
		}
	}
}

/* Y = w[mg][K] * cols[K][0..width) (+ bias), row stride ld, width a
 * multiple of 16: four rows by sixteen columns of accumulators, a column
 * block stays in L1 across rows. */
__attribute__((target("avx2,fma"))) static void conv_gemm_avx2(const float *w, int64_t mg,
                                                              int64_t K, const float *cols,
                                                              int64_t ld, int64_t width,
                                                              const conv_dst *o)
{
	for (int64_t p = 0; p < width; p += 16) {
		float *yb = o->y + (p / o->pout) * o->img_stride + p % o->pout;
		int64_t m = 0;
		for (; m + 4 <= mg; m += 4) {
			const float *w0 = w + m * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
			const float *c = cols + p;
			__m256 a0, a1, b0, b1, c0, c1, d0, d1;
			a0 = a1 = _mm256_set1_ps(o->bias ? o->bias[m] : 0.0f);
			b0 = b1 = _mm256_set1_ps(o->bias ? o->bias[m + 1] : 0.0f);
			c0 = c1 = _mm256_set1_ps(o->bias ? o->bias[m + 2] : 0.0f);
			d0 = d1 = _mm256_set1_ps(o->bias ? o->bias[m + 3] : 0.0f);
			for (int64_t k = 0; k < K; k++, c += ld) {
				__m256 x0 = _mm256_loadu_ps(c), x1 = _mm256_loadu_ps(c + 8), v;
				v = _mm256_broadcast_ss(w0 + k);
				a0 = _mm256_fmadd_ps(v, x0, a0);
				a1 = _mm256_fmadd_ps(v, x1, a1);
				v = _mm256_broadcast_ss(w1 + k);
				b0 = _mm256_fmadd_ps(v, x0, b0);
				b1 = _mm256_fmadd_ps(v, x1, b1);
				v = _mm256_broadcast_ss(w2 + k);
				c0 = _mm256_fmadd_ps(v, x0, c0);
				c1 = _mm256_fmadd_ps(v, x1, c1);
				v = _mm256_broadcast_ss(w3 + k);
				d0 = _mm256_fmadd_ps(v, x0, d0);
				d1 = _mm256_fmadd_ps(v, x1, d1);
			}
			float *r = yb + m * o->row_stride;
			int64_t rs = o->row_stride;
			if (o->relu) { /* maxps gives its second operand, 0, for NaN */
				__m256 z = _mm256_setzero_ps();
				a0 = _mm256_max_ps(a0, z);
				a1 = _mm256_max_ps(a1, z);
				b0 = _mm256_max_ps(b0, z);
				b1 = _mm256_max_ps(b1, z);
				c0 = _mm256_max_ps(c0, z);
				c1 = _mm256_max_ps(c1, z);
				d0 = _mm256_max_ps(d0, z);
				d1 = _mm256_max_ps(d1, z);
			}
			_mm256_storeu_ps(r, a0);
			_mm256_storeu_ps(r + 8, a1);
			_mm256_storeu_ps(r + rs, b0);
			_mm256_storeu_ps(r + rs + 8, b1);
			_mm256_storeu_ps(r + 2 * rs, c0);
			_mm256_storeu_ps(r + 2 * rs + 8, c1);
			_mm256_storeu_ps(r + 3 * rs, d0);
			_mm256_storeu_ps(r + 3 * rs + 8, d1);
		}
		for (; m < mg; m++) {
			const float *c = cols + p;
			__m256 a0 = _mm256_set1_ps(o->bias ? o->bias[m] : 0.0f), a1 = a0;
			for (int64_t k = 0; k < K; k++, c += ld) {
				__m256 v = _mm256_broadcast_ss(w + m * K + k);
				a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(c), a0);
				a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(c + 8), a1);
			}
			if (o->relu) {
				a0 = _mm256_max_ps(a0, _mm256_setzero_ps());
				a1 = _mm256_max_ps(a1, _mm256_setzero_ps());
			}
			_mm256_storeu_ps(yb + m * o->row_stride, a0);
			_mm256_storeu_ps(yb + m * o->row_stride + 8, a1);
		}
	}
}

/* Work for the pool: F32 tiles, packed columns or depthwise planes. */
typedef struct conv_job {
	const conv_geom *g;
	const float *x, *w, *b; /* all of X, all of W (F32; packed: Yt), bias or NULL */
	float *y;               /* all of Y */
	float *scratch;         /* F32: CONV_SLOTS slots; packed: the columns */
	int64_t tp, tn;         /* F32: column stride (multiple of 16), positions per tile */
	int64_t n_tiles;        /* F32: tiles of tn positions */
	int whole;              /* F32: tiles hold whole images and pout % 16 == 0 */
	int64_t gi, t0, np;     /* packed: group and position span */
	int avx2;               /* F32: the AVX2 kernel, else the reference */
} conv_job;

/* dst[i] = src[i] + bias, then max(v, 0) when relu (NaN -> 0, as Relu). */
static void conv_bias_relu(float *dst, const float *src, int64_t n, float bias, int relu)
{
	__m128 b4 = _mm_set1_ps(bias), z = _mm_setzero_ps();
	int64_t i = 0;

	if (relu)
		for (; i + 4 <= n; i += 4)
			_mm_storeu_ps(dst + i, _mm_max_ps(_mm_add_ps(_mm_loadu_ps(src + i), b4), z));
	else
		for (; i + 4 <= n; i += 4)
			_mm_storeu_ps(dst + i, _mm_add_ps(_mm_loadu_ps(src + i), b4));
	for (; i < n; i++) {
		float v = src[i] + bias;
		dst[i] = !relu || v > 0 ? v : 0.0f;
	}
}

/* Store out[mg][tp] of group gi, positions t0..t0+np-1, into NCHW Y with
 * the bias and the fused Relu. */
static void conv_store(const conv_job *j, const float *out, int64_t gi, int64_t t0, int64_t np)
{
	const conv_geom *g = j->g;

	for (int64_t t = t0; t < t0 + np;) {
		int64_t img = t / g->pout, p = t % g->pout;
		int64_t len = g->pout - p < t0 + np - t ? g->pout - p : t0 + np - t;
		for (int64_t m = 0; m < g->mg; m++) {
			const float *restrict src = out + m * j->tp + (t - t0);
			float *restrict dst = j->y + (img * g->m + gi * g->mg + m) * g->pout + p;
			float bv = j->b ? j->b[gi * g->mg + m] : 0.0f;
			conv_bias_relu(dst, src, len, bv, g->relu);
		}
		t += len;
	}
}

/* F32 tiles task, task + n_tasks, ..., in scratch slot task: per group
 * im2col, then GEMM into Y (whole images, pout % 16 == 0) or into a buffer
 * stored to Y with the bias. */
static void conv_tile_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	const conv_geom *g = j->g;
	size_t slot = conv_slot_bytes(g) / sizeof(float);
	float *cols = j->scratch + (size_t)task * slot, *out = cols + g->K * j->tp;
	float *plane = out + g->mg * j->tp;
	int64_t total = g->n * g->pout;

	for (int64_t tile = task; tile < j->n_tiles; tile += n_tasks) {
		int64_t t0 = tile * j->tn, np = total - t0 < j->tn ? total - t0 : j->tn;
		for (int64_t gi = 0; gi < g->g; gi++) {
			const float *wg = j->w + gi * g->mg * g->K;
			conv_dst d = {out, 0, j->tp, j->tp, NULL, 0};
			im2col_span(g, j->x, gi, t0, np, cols, j->tp, 0, 0, g->K,
			            g->pout <= g->tp ? plane : NULL);
			void (*gemm)(const float *, int64_t, int64_t, const float *, int64_t,
			             int64_t, const conv_dst *) =
			    j->avx2 ? conv_gemm_avx2 : conv_gemm_ref;
			if (j->whole) {
				d = (conv_dst){j->y + (t0 / g->pout * g->m + gi * g->mg) * g->pout,
				               g->m * g->pout, g->pout, g->pout,
				               j->b ? j->b + gi * g->mg : NULL, g->relu};
				gemm(wg, g->mg, g->K, cols, j->tp, (np + 15) / 16 * 16, &d);
				continue;
			}
			gemm(wg, g->mg, g->K, cols, j->tp, j->tp, &d);
			conv_store(j, out, gi, t0, np);
		}
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
		float *yc = j->y + q * g->pout, bias = j->b ? j->b[m] : 0.0f;
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
		if (g->relu)
			conv_bias_relu(yc, yc, g->pout, 0.0f, 1);
	}
}

static int conv_tasks(mrt__op_ctx *ctx, int64_t work)
{
	int n = mrt__pool_size(ctx->pool);
	return work < n ? (int)(work > 0 ? work : 1) : n;
}

/* 1 when the AVX2 conv kernel may run (the CPU has it and MRT_CPU allows). */
static int conv_avx2_ok(void)
{
	const char *lvl = mrt__cpu_level_name();
	return strcmp(lvl, "generic") != 0;
}

/* Rows task of task n_tasks of the columns [K][np] of positions t0.. */
static void conv_rows_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	int64_t K = j->g->K, k0 = K * task / n_tasks, k1 = K * (task + 1) / n_tasks;

	im2col_span(j->g, j->x, j->gi, j->t0, j->np, j->scratch, j->np, 0, k0, k1, NULL);
}

/* conv_large: per image, group and tile, columns built on the pool, then
 * one sgemm on the caller straight into Y; bias and Relu applied after. */
static void conv_run_large(conv_job *j, mrt__op_ctx *ctx)
{
	const conv_geom *g = j->g;
	int64_t tile = conv_large_tile(g);

	for (int64_t img = 0; img < g->n; img++) {
		for (int64_t gi = 0; gi < g->g; gi++) {
			for (int64_t p0 = 0; p0 < g->pout; p0 += tile) {
				float *yg = j->y + (img * g->m + gi * g->mg) * g->pout + p0;
				j->gi = gi;
				j->t0 = img * g->pout + p0;
				j->np = g->pout - p0 < tile ? g->pout - p0 : tile;
				mrt__pool_run(ctx->pool, conv_tasks(ctx, g->K), conv_rows_task, j);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->mg,
				            (int)j->np, (int)g->K, 1.0f, j->w + gi * g->mg * g->K,
				            (int)g->K, j->scratch, (int)j->np, 0.0f, yg, (int)g->pout);
			}
		}
		for (int64_t m = 0; (j->b || g->relu) && m < g->m; m++) {
			float *yc = j->y + (img * g->m + m) * g->pout;
			conv_bias_relu(yc, yc, g->pout, j->b ? j->b[m] : 0.0f, g->relu);
		}
	}
}

/* Positions per tile: whole images when one fits (so the GEMM can write Y
 * directly), and small enough that n_tasks threads all get a tile. Never
 * more than g->tp, which the scratch is sized for. */
static int64_t conv_tile_positions(const conv_geom *g, int64_t n_tasks)
{
	int64_t total = g->n * g->pout, tn = g->tp, want;

	if (g->pout <= tn) {
		tn = tn / g->pout * g->pout;
		want = (g->n + n_tasks - 1) / n_tasks * g->pout;
	} else {
		want = ((total + n_tasks - 1) / n_tasks + 15) / 16 * 16;
	}
	return want < tn ? want : tn;
}

/* F32 weights: tiles of positions across the batch, Y[mg, tile] =
 * W[mg, K] * cols[K, tile] per group, tiles spread over the pool with one
 * scratch slot per task. */
static void conv_run_f32(const conv_geom *g, const float *x, const float *w, const float *b,
                         float *y, mrt__op_ctx *ctx)
{
	conv_job j = {.g = g, .x = x, .w = w, .b = b, .y = y, .scratch = ctx->scratch};
	int64_t total = g->n * g->pout, n_tasks;
	double fmas = (double)g->m * (double)g->K * (double)total;

	if (conv_depthwise(g)) {
		mrt__pool_run(ctx->pool, conv_tasks(ctx, g->n * g->m), conv_dw_task, &j);
		return;
	}
	if (conv_large(g)) {
		conv_run_large(&j, ctx);
		return;
	}
	n_tasks = mrt__pool_size(ctx->pool);
	n_tasks = n_tasks > CONV_SLOTS ? CONV_SLOTS : n_tasks;
	if (fmas / (double)n_tasks < (double)CONV_TASK_FMAS)
		n_tasks = fmas >= 2.0 * CONV_TASK_FMAS ? (int64_t)(fmas / CONV_TASK_FMAS) : 1;
	j.tn = conv_tile_positions(g, n_tasks);
	j.tp = (j.tn + 15) / 16 * 16;
	j.n_tiles = (total + j.tn - 1) / j.tn;
	n_tasks = n_tasks > j.n_tiles ? j.n_tiles : n_tasks;
	j.avx2 = conv_avx2_ok();
	j.whole = g->pout <= j.tn && g->pout % 16 == 0;
	mrt__pool_run(ctx->pool, (int)n_tasks, conv_tile_task, &j);
}

static void im2col_packed_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	int64_t K = j->g->K, k0 = K * task / n_tasks, k1 = K * (task + 1) / n_tasks;

	im2col_span(j->g, j->x, j->gi, j->t0, j->np, j->scratch, 0, 1, k0, k1, NULL);
}

/* Packed: Yt[np][mg] (in j->w) of group gi into NCHW Y, with the fused
 * Relu; tasks split the positions. */
static void conv_untranspose_task(void *arg, int task, int n_tasks)
{
	const conv_job *j = arg;
	const conv_geom *g = j->g;
	int64_t a = j->np * task / n_tasks, e = j->np * (task + 1) / n_tasks;

	for (int64_t t = j->t0 + a; t < j->t0 + e; t++) {
		const float *src = j->w + (t - j->t0) * g->mg;
		float *yp = j->y + ((t / g->pout) * g->m + j->gi * g->mg) * g->pout + t % g->pout;
		for (int64_t m = 0; m < g->mg; m++)
			yp[m * g->pout] = !g->relu || src[m] > 0 ? src[m] : 0.0f;
	}
}

/* Other weight types: Yt[P, mg] = cols[P, K] * W[mg, K]^T via mrt__linear
 * over spans of positions across the batch, then transposed into Y. */
static int conv_run_packed(const conv_geom *g, const float *x, const void *w, int wt,
                           const float *b, float *y, mrt__op_ctx *ctx)
{
	size_t rb = conv_row_bytes(wt, g->K);
	float *cols = ctx->scratch;
	float *yt = (float *)((char *)ctx->scratch + align64((size_t)(g->K * g->pt) * 4));
	void *lin = (char *)yt + align64((size_t)(g->mg * g->pt) * 4);
	conv_job j = {.g = g, .x = x, .y = y, .scratch = cols};
	int64_t total = g->n * g->pout;

	if (!rb)
		return MRT_ERR_UNSUPPORTED;
	for (int64_t t0 = 0; t0 < total; t0 += g->pt) {
		j.t0 = t0;
		j.np = total - t0 < g->pt ? total - t0 : g->pt;
		for (int64_t gi = 0; gi < g->g; gi++) {
			const char *wg = (const char *)w + (size_t)(gi * g->mg) * rb;
			int rc;
			j.gi = gi;
			mrt__pool_run(ctx->pool, conv_tasks(ctx, g->K), im2col_packed_task, &j);
			rc = mrt__linear(cols, (size_t)g->K, wg, wt, b ? b + gi * g->mg : NULL, yt,
			                 (size_t)g->mg, j.np, g->mg, g->K, 0, lin, ctx->pool);
			if (rc < 0)
				return rc;
			j.w = yt;
			mrt__pool_run(ctx->pool, conv_tasks(ctx, j.np / 64 + 1), conv_untranspose_task,
			              &j);
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
		int64_t ih = j->t0 / w->in[1], iw = j->t0 % w->in[1];
		const float *col = j->x + k * j->np;
		float *yc = j->y + m * g->pout;
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
				               .t0 = p0,
				               .np = np,
				               .y = y + (n * g.m + gi * g.mg) * g.pout};
				mrt__pool_run(ctx->pool, conv_tasks(ctx, g.mg), col2im_task, &j);
			}
		}
	}
	return 0;
}
