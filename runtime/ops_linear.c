/* Gemm and MatMul. A weight B stored as [N,K] (Gemm transB=1, or our MatMul
 * extension attribute transB=1) goes through mrt__linear, which reads
 * F32/F16/BF16/Q8_0/Q4_0 rows in place; other layouts use sgemm (F32 only). */
#include <cblas.h>
#include <string.h>

#include "ops.h"

static int is_quant(int type)
{
	return type != MRT_TYPE_F32;
}

/* Y[M,N] += beta * C broadcast to [M,N] (C is 0-, 1- or 2-D). */
static void add_bias(float *Y, int64_t M, int64_t N, const mrt__tensor *C, float beta)
{
	const float *c = C->data;
	int64_t cm = C->ndim == 2 ? C->dims[0] : 1;
	int64_t cn = C->ndim >= 1 ? C->dims[C->ndim - 1] : 1, i, j;

	for (i = 0; i < M; i++)
		for (j = 0; j < N; j++)
			Y[i * N + j] += beta * c[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
}

/* ---- Gemm ---- */

typedef struct gemm_dims {
	int64_t M, N, K, ta, tb;
	float alpha, beta;
} gemm_dims;

static int gemm_get(const mrt__node *node, const mrt__value_info *const *in, gemm_dims *g,
                    char *err, size_t errlen)
{
	int64_t k2;

	if (node->n_in < 2 || !in[0] || !in[1] || node->n_out != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs A and B");
	if (in[0]->ndim != 2 || in[1]->ndim != 2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "A and B must be 2-D");
	if (mrt__attr_int(node, "transA", 0, &g->ta) || mrt__attr_int(node, "transB", 0, &g->tb))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "transA/transB must be INT");
	g->alpha = mrt__attr_float(node, "alpha", 1.0f);
	g->beta = mrt__attr_float(node, "beta", 1.0f);
	g->M = in[0]->dims[g->ta ? 1 : 0];
	g->K = in[0]->dims[g->ta ? 0 : 1];
	g->N = in[1]->dims[g->tb ? 0 : 1];
	k2 = in[1]->dims[g->tb ? 1 : 0];
	if (g->K >= 0 && k2 >= 0 && g->K != k2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "inner dims differ: A has %lld, B has %lld", (long long)g->K,
		                    (long long)k2);
	if (g->K < 0)
		g->K = k2;
	return 0;
}

static int infer_gemm(const mrt__node *node, const mrt__value_info *const *in,
                      const mrt__const *const *in_const, mrt__value_info *out, char *err,
                      size_t errlen)
{
	gemm_dims g;
	int rc = gemm_get(node, in, &g, err, errlen);

	if (rc != 0)
		return rc;
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "A must be float32");
	if (is_quant(in[1]->type) && (!g.tb || g.ta))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "a quantized B needs transB=1 and transA=0");
	if (node->n_in > 2 && in[2]) {
		const mrt__value_info *c = in[2];
		int64_t cm = c->ndim == 2 ? c->dims[0] : 1, cn = c->ndim ? c->dims[c->ndim - 1] : 1;
		if (c->ndim > 2 || c->type != MRT_TYPE_F32 ||
		    (cm != 1 && cm != -1 && g.M >= 0 && cm != g.M) ||
		    (cn != 1 && cn != -1 && g.N >= 0 && cn != g.N))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "C does not broadcast to [M,N]");
	}
	out->type = MRT_TYPE_F32;
	out->ndim = 2;
	out->dims[0] = g.M;
	out->dims[1] = g.N;
	return 0;
}

static size_t scratch_gemm(const mrt__node *node, const mrt__tensor *const *in,
                           const mrt__tensor *out)
{
	int64_t tb = 0;

	mrt__attr_int(node, "transB", 0, &tb);
	if (!tb)
		return 0;
	return mrt__linear_scratch(in[1]->type, out->dims[0], in[1]->dims[1]);
}

static int run_gemm(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                    mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const mrt__value_info *vi[2];
	mrt__value_info a, b;
	const mrt__tensor *C = node->n_in > 2 ? in[2] : NULL;
	const float *bias = NULL;
	float *Y = out->data;
	gemm_dims g;
	int64_t i;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.ndim = b.ndim = 2;
	memcpy(a.dims, in[0]->dims, sizeof(a.dims));
	memcpy(b.dims, in[1]->dims, sizeof(b.dims));
	vi[0] = &a;
	vi[1] = &b;
	if ((rc = gemm_get(node, vi, &g, err, errlen)) != 0)
		return rc;
	if (g.M == 0 || g.N == 0)
		return 0;
	if (g.tb && !g.ta) {
		/* a [N] or [1,N] C with alpha = beta = 1 is a plain bias */
		if (C && g.alpha == 1.0f && g.beta == 1.0f && C->dims[C->ndim - 1] == g.N &&
		    mrt__numel(C->dims, C->ndim) == g.N) {
			bias = C->data;
			C = NULL;
		}
		rc = mrt__linear(in[0]->data, (size_t)g.K, in[1]->data, in[1]->type, bias, Y,
		                 (size_t)g.N, g.M, g.N, g.K, 0, ctx->scratch, ctx->pool);
		if (rc != 0)
			return mrt__op_fail(node, rc, err, errlen, "no kernel for B's type");
		if (g.alpha != 1.0f)
			for (i = 0; i < g.M * g.N; i++)
				Y[i] *= g.alpha;
	} else {
		if (g.K == 0)
			memset(Y, 0, (size_t)(g.M * g.N) * sizeof(float));
		else
			cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans,
			            g.tb ? CblasTrans : CblasNoTrans, (int)g.M, (int)g.N, (int)g.K,
			            g.alpha, in[0]->data, (int)in[0]->dims[1], in[1]->data,
			            (int)in[1]->dims[1], 0.0f, Y, (int)g.N);
	}
	if (C && g.beta != 0.0f)
		add_bias(Y, g.M, g.N, C, g.beta);
	return 0;
}

/* ---- MatMul ---- */

/* Shapes of a MatMul after numpy promotion of 1-D operands. */
typedef struct mm_dims {
	int64_t M, N, K, tb;
	int nb; /* output batch rank */
	int64_t batch[MRT_MAX_DIMS], abatch[MRT_MAX_DIMS], bbatch[MRT_MAX_DIMS];
	int a1d, b1d;
} mm_dims;

static int mm_get(const mrt__node *node, const int64_t *ad, int an, const int64_t *bd, int bn,
                  mm_dims *m, char *err, size_t errlen)
{
	int64_t k2;
	int i, na, nb;

	if (mrt__attr_int(node, "transB", 0, &m->tb) != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "transB must be INT");
	if (an < 1 || bn < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "scalar operand");
	m->a1d = an == 1;
	m->b1d = bn == 1;
	m->M = m->a1d ? 1 : ad[an - 2];
	m->K = ad[an - 1];
	if (m->b1d) {
		m->N = 1;
		k2 = bd[0];
	} else {
		m->N = m->tb ? bd[bn - 2] : bd[bn - 1];
		k2 = m->tb ? bd[bn - 1] : bd[bn - 2];
	}
	if (m->K >= 0 && k2 >= 0 && m->K != k2)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "inner dims differ: A has %lld, B has %lld", (long long)m->K,
		                    (long long)k2);
	if (m->K < 0)
		m->K = k2;
	na = an > 2 ? an - 2 : 0;
	nb = bn > 2 ? bn - 2 : 0;
	m->nb = na > nb ? na : nb;
	for (i = 0; i < m->nb; i++) {
		int64_t x = i - (m->nb - na) >= 0 ? ad[i - (m->nb - na)] : 1;
		int64_t y = i - (m->nb - nb) >= 0 ? bd[i - (m->nb - nb)] : 1;
		m->abatch[i] = x;
		m->bbatch[i] = y;
		if (x == 1 || x == y)
			m->batch[i] = y;
		else if (y == 1 || y == -1)
			m->batch[i] = x;
		else if (x == -1)
			m->batch[i] = y;
		else
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "batch dims %lld and %lld do not broadcast",
			                    (long long)x, (long long)y);
	}
	return 0;
}

static int infer_matmul(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	mm_dims m;
	int rc, i;

	if (node->n_in != 2 || !in[0] || !in[1] || node->n_out != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs A and B");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "A must be float32");
	rc = mm_get(node, in[0]->dims, in[0]->ndim, in[1]->dims, in[1]->ndim, &m, err, errlen);
	if (rc != 0)
		return rc;
	if (is_quant(in[1]->type) && (!m.tb || m.b1d))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "a quantized B must be stored transposed (transB=1)");
	out->type = MRT_TYPE_F32;
	out->ndim = 0;
	for (i = 0; i < m.nb; i++)
		out->dims[out->ndim++] = m.batch[i];
	if (!m.a1d)
		out->dims[out->ndim++] = m.M;
	if (!m.b1d)
		out->dims[out->ndim++] = m.N;
	return 0;
}

static size_t scratch_matmul(const mrt__node *node, const mrt__tensor *const *in,
                             const mrt__tensor *out)
{
	mm_dims m;
	int64_t rows;

	if (mm_get(node, in[0]->dims, in[0]->ndim, in[1]->dims, in[1]->ndim, &m, NULL, 0) != 0)
		return 0;
	if (!m.tb)
		return 0;
	rows = in[1]->ndim <= 2 ? mrt__numel(in[0]->dims, in[0]->ndim) / (m.K ? m.K : 1) : m.M;
	return mrt__linear_scratch(in[1]->type, rows, m.K);
}

/* One [M,K] x B -> [M,N] product. */
static int mm_one(const mm_dims *m, int64_t rows, const float *A, const void *B, int btype,
                  float *Y, mrt__op_ctx *ctx)
{
	if (rows == 0 || m->N == 0)
		return 0;
	if (m->K == 0) {
		memset(Y, 0, (size_t)(rows * m->N) * sizeof(float));
		return 0;
	}
	if (m->tb)
		return mrt__linear(A, (size_t)m->K, B, btype, NULL, Y, (size_t)m->N, rows, m->N,
		                   m->K, 0, ctx->scratch, ctx->pool);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)m->N, (int)m->K,
	            1.0f, A, (int)m->K, B, (int)m->N, 0.0f, Y, (int)m->N);
	return 0;
}

static int run_matmul(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t idx[MRT_MAX_DIMS] = {0}, nbatch = 1, t, aoff, boff;
	uint64_t bbytes = 0;
	mm_dims m;
	int rc, d;

	rc = mm_get(node, in[0]->dims, in[0]->ndim, in[1]->dims, in[1]->ndim, &m, err, errlen);
	if (rc != 0)
		return rc;
	if (in[1]->ndim <= 2) { /* all of A's rows against one B */
		int64_t rows = mrt__numel(in[0]->dims, in[0]->ndim) / (m.K ? m.K : 1);
		if (m.K == 0)
			rows = mrt__numel(out->dims, out->ndim) / (m.N ? m.N : 1);
		rc = mm_one(&m, rows, in[0]->data, in[1]->data, in[1]->type, out->data, ctx);
		goto done;
	}
	if (mrt_type_nbytes(in[1]->type, (uint64_t)(m.N * m.K), &bbytes) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad B size");
	for (d = 0; d < m.nb; d++)
		nbatch *= m.batch[d];
	for (t = 0; t < nbatch && rc == 0; t++) {
		aoff = boff = 0;
		for (d = 0; d < m.nb; d++) {
			aoff = aoff * m.abatch[d] + (m.abatch[d] == 1 ? 0 : idx[d]);
			boff = boff * m.bbatch[d] + (m.bbatch[d] == 1 ? 0 : idx[d]);
		}
		rc = mm_one(&m, m.M, (const float *)in[0]->data + aoff * m.M * m.K,
		            (const char *)in[1]->data + (uint64_t)boff * bbytes, in[1]->type,
		            (float *)out->data + t * m.M * m.N, ctx);
		for (d = m.nb - 1; d >= 0; d--) {
			if (++idx[d] < m.batch[d])
				break;
			idx[d] = 0;
		}
	}
done:
	if (rc != 0)
		return mrt__op_fail(node, rc, err, errlen, "no kernel for B's type");
	return 0;
}

const mrt__op_def mrt__ops_linear[] = {
    {"Gemm", infer_gemm, scratch_gemm, run_gemm, 1u << 1},
    {"MatMul", infer_matmul, scratch_matmul, run_matmul, 1u << 1},
    {NULL},
};
