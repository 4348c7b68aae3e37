/* Attention kernels of the llama decoder: dot products of queries with a
 * head's contiguous keys, softmax, and weighted sums of values, as a plain C
 * reference and AVX2 versions chosen at run time (see llama.h). The cache
 * holds keys and values as F32, as F16 (half the memory and half the bytes
 * streamed per step), or as Q8_0 blocks of 32 (an F16 scale and 32 int8:
 * 34 bytes, 0.53 of F16); every kernel exists for the three. An F32 or F16
 * element is widened to the same float by all of them; the reference widens
 * a Q8_0 element to scale x q (exact in a float), the AVX2 kernels apply the
 * scale per block (the q8_ functions). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "llama.h"

/* scores: out[j] = scale * (q . k_j) for the n_keys contiguous rows k_j of
 * hd elements. wsum: out (+)= sum_j p[j] v_j, summed in key order, so a sum
 * split in two key ranges (the second accumulating) equals the whole one.
 * scores2/wsum2: the same for two queries at once, sharing the loads of K
 * and V (wsum2 accumulates into both outputs or neither). Each value is
 * computed the same way whatever tile, pairing or batch it belongs to, so
 * batching never changes a result. The _t templates take H = 0 for F32, 1
 * for F16 and 2 for Q8_0 elements (then hd % 32 == 0); the _f32, _f16 and
 * _q8 entry points at the end instantiate them. */

#define INL static inline __attribute__((always_inline))
#define Q8_BLOCK 34 /* bytes of 32 Q8_0 elements: F16 scale, then 32 int8 */

INL uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Element i of a cache row that starts at p: F32, F16 widened, or a Q8_0
 * element as scale x q. */
INL float kv_elt(const void *p, size_t i, int H)
{
	if (H == 2) {
		const uint8_t *b = (const uint8_t *)p + i / 32 * Q8_BLOCK;
		return mrt_f16_to_f32(rd16(b)) * (float)(int8_t)b[2 + i % 32];
	}
	return H ? mrt_f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* The row start i elements after row start p (Q8_0: i % 32 == 0). */
INL const void *kv_off(const void *p, size_t i, int H)
{
	return (const char *)p + (H == 2 ? i / 32 * Q8_BLOCK : i * (H ? sizeof(uint16_t) : sizeof(float)));
}

INL void scores_ref_t(const float *q, const void *k, int n_keys, int hd, float scale, float *out,
                      int H)
{
	for (int j = 0; j < n_keys; j++) {
		const void *kr = kv_off(k, (size_t)j * hd, H);
		float acc[8] = {0};
		int i = 0;
		for (; i + 8 <= hd; i += 8)
			for (int u = 0; u < 8; u++)
				acc[u] += q[i + u] * kv_elt(kr, (size_t)(i + u), H);
		for (; i < hd; i++)
			acc[0] += q[i] * kv_elt(kr, (size_t)i, H);
		out[j] = (((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		          ((acc[2] + acc[6]) + (acc[3] + acc[7]))) *
		         scale;
	}
}

INL void wsum_ref_t(const float *p, const void *v, int n_keys, int hd, float *out, int accumulate,
                    int H)
{
	if (!accumulate)
		memset(out, 0, sizeof(float) * (size_t)hd);
	for (int j = 0; j < n_keys; j++)
		for (int i = 0; i < hd; i++)
			out[i] += p[j] * kv_elt(v, (size_t)j * hd + i, H);
}

#define TGT __attribute__((target("avx2,fma,f16c")))

/* 8 elements of the F32 or F16 cache row starting at p from element i, as
 * floats: kv_elt's values. (Q8_0 rows never come here: every AVX2 kernel
 * hands them to the q8_ functions below first.) */
INL TGT __m256 kv_load8(const void *p, size_t i, int H)
{
	return H ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)))
		 : _mm256_loadu_ps((const float *)p + i);
}

TGT static inline float hsum_avx2(__m256 v)
{
	__m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

/* ---- Q8_0 rows on AVX2: the scale leaves the element loop ----
 * scores: per block of 32, s0 = q0 k0 + q2 k2 and s1 = q1 k1 + q3 k3 over
 * its four groups of 8, then a0 += s0 d and a1 += s1 d; the dot product is
 * hsum(a0 + a1). wsum: out += (p_j d) v_j per block. Every AVX2 path,
 * single or paired, does exactly this per key and value, so pairing and
 * splitting keep their bytes; the reference widens each element instead
 * (a different rounding, within the tests' tolerance). */

INL TGT __m256 q8_cvt8(const uint8_t *p)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

INL TGT float q8_scale(const uint8_t *blk)
{
	return _cvtsh_ss(rd16(blk));
}

/* One block of 32 (its elements x[0..3] as floats, scale d) into a query's
 * pair of accumulators. */
INL TGT void q8_acc(const float *q, const __m256 *x, __m256 d, __m256 *a0, __m256 *a1)
{
	__m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(q), x[0]);
	__m256 s1 = _mm256_mul_ps(_mm256_loadu_ps(q + 8), x[1]);
	s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 16), x[2], s0);
	s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + 24), x[3], s1);
	*a0 = _mm256_fmadd_ps(s0, d, *a0);
	*a1 = _mm256_fmadd_ps(s1, d, *a1);
}

/* The block at blk: its 32 elements as floats, and its scale. */
INL TGT __m256 q8_block(const uint8_t *blk, __m256 *x)
{
#pragma GCC unroll 4
	for (int u = 0; u < 4; u++)
		x[u] = q8_cvt8(blk + 2 + 8 * u);
	return _mm256_set1_ps(q8_scale(blk));
}

/* q . k and, when qb, qb . k for the Q8_0 row k of hd elements. */
INL TGT void q8_dot2(const float *qa, const float *qb, const uint8_t *k, int hd, float *oa,
                     float *ob)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, x[4];
	for (int i = 0; i < hd; i += 32, k += Q8_BLOCK) {
		__m256 d = q8_block(k, x);
		q8_acc(qa + i, x, d, &a0, &a1);
		if (qb)
			q8_acc(qb + i, x, d, &b0, &b1);
	}
	*oa = hsum_avx2(_mm256_add_ps(a0, a1));
	if (qb)
		*ob = hsum_avx2(_mm256_add_ps(b0, b1));
}

/* q . k_u for the NK Q8_0 rows k_u = k + u row (the arithmetic of q8_dot2,
 * NK keys side by side for their independent chains). */
INL TGT void q8_dotn(const float *q, const uint8_t *k, size_t row, int hd, float *out, int NK)
{
	__m256 a0[4], a1[4], x[4];
#pragma GCC unroll 4
	for (int u = 0; u < NK; u++)
		a0[u] = a1[u] = _mm256_setzero_ps();
	for (int i = 0; i < hd; i += 32, k += Q8_BLOCK) {
#pragma GCC unroll 4
		for (int u = 0; u < NK; u++) {
			__m256 d = q8_block(k + row * (size_t)u, x);
			q8_acc(q + i, x, d, &a0[u], &a1[u]);
		}
	}
#pragma GCC unroll 4
	for (int u = 0; u < NK; u++)
		out[u] = hsum_avx2(_mm256_add_ps(a0[u], a1[u]));
}

/* out (+)= sum_j p[j] v_j (and outb with pb) over values i .. i + 32 NB - 1
 * of the Q8_0 rows v, NB blocks at a time. */
INL TGT void q8_wsum_cols(const float *pa, const float *pb, const uint8_t *v, int n_keys, int hd,
                          float *outa, float *outb, int accumulate, int i, int NB)
{
	__m256 o[8], ob[8];
	const size_t row = (size_t)hd / 32 * Q8_BLOCK;
	v += (size_t)i / 32 * Q8_BLOCK;
#pragma GCC unroll 8
	for (int u = 0; u < 4 * NB; u++) {
		o[u] = accumulate ? _mm256_loadu_ps(outa + i + 8 * u) : _mm256_setzero_ps();
		ob[u] = accumulate && pb ? _mm256_loadu_ps(outb + i + 8 * u) : _mm256_setzero_ps();
	}
	for (int j = 0; j < n_keys; j++, v += row) {
#pragma GCC unroll 2
		for (int b = 0; b < NB; b++) {
			const uint8_t *blk = v + b * Q8_BLOCK;
			float d = q8_scale(blk);
			__m256 wa = _mm256_set1_ps(pa[j] * d), wb = _mm256_setzero_ps();
			if (pb)
				wb = _mm256_set1_ps(pb[j] * d);
#pragma GCC unroll 4
			for (int u = 0; u < 4; u++) {
				__m256 x = q8_cvt8(blk + 2 + 8 * u);
				o[4 * b + u] = _mm256_fmadd_ps(wa, x, o[4 * b + u]);
				if (pb)
					ob[4 * b + u] = _mm256_fmadd_ps(wb, x, ob[4 * b + u]);
			}
		}
	}
#pragma GCC unroll 8
	for (int u = 0; u < 4 * NB; u++) {
		_mm256_storeu_ps(outa + i + 8 * u, o[u]);
		if (pb)
			_mm256_storeu_ps(outb + i + 8 * u, ob[u]);
	}
}

INL TGT void q8_wsum(const float *pa, const float *pb, const void *v, int n_keys, int hd,
                     float *outa, float *outb, int accumulate)
{
	int i = 0;
	if (!pb) /* one query: 64 values (8 FMA chains) at a time */
		for (; i + 64 <= hd; i += 64)
			q8_wsum_cols(pa, NULL, v, n_keys, hd, outa, NULL, accumulate, i, 2);
	for (; i < hd; i += 32)
		q8_wsum_cols(pa, pb, v, n_keys, hd, outa, outb, accumulate, i, 1);
}

/* hd % 16 == 0 (checked at context creation). Two keys at a time, each with
 * its own pair of accumulators; a lone last key runs the same arithmetic. */
INL TGT void scores_avx2_t(const float *q, const void *k, int n_keys, int hd, float scale,
                           float *out, int H)
{
	int j = 0;

	if (H == 2) {
		const size_t row = (size_t)hd / 32 * Q8_BLOCK;
		for (; j + 4 <= n_keys; j += 4)
			q8_dotn(q, (const uint8_t *)k + row * (size_t)j, row, hd, out + j, 4);
		for (; j < n_keys; j++)
			q8_dotn(q, (const uint8_t *)k + row * (size_t)j, row, hd, out + j, 1);
		for (j = 0; j < n_keys; j++)
			out[j] *= scale;
		return;
	}

	/* 4 keys at a time: 8 independent FMA chains (2 were latency-bound) */
	for (; j + 4 <= n_keys; j += 4) {
		const void *kr[4];
		__m256 a[4][2];
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++) {
			kr[u] = kv_off(k, (size_t)(j + u) * hd, H);
			a[u][0] = a[u][1] = _mm256_setzero_ps();
		}
		for (int i = 0; i < hd; i += 16) {
			__m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
#pragma GCC unroll 4
			for (int u = 0; u < 4; u++) {
				a[u][0] = _mm256_fmadd_ps(q0, kv_load8(kr[u], (size_t)i, H), a[u][0]);
				a[u][1] = _mm256_fmadd_ps(q1, kv_load8(kr[u], (size_t)i + 8, H), a[u][1]);
			}
		}
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++)
			out[j + u] = hsum_avx2(_mm256_add_ps(a[u][0], a[u][1])) * scale;
	}
	for (; j + 2 <= n_keys; j += 2) {
		const void *k0 = kv_off(k, (size_t)j * hd, H), *k1 = kv_off(k0, (size_t)hd, H);
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
		for (int i = 0; i < hd; i += 16) {
			__m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
			a0 = _mm256_fmadd_ps(q0, kv_load8(k0, (size_t)i, H), a0);
			a1 = _mm256_fmadd_ps(q1, kv_load8(k0, (size_t)i + 8, H), a1);
			b0 = _mm256_fmadd_ps(q0, kv_load8(k1, (size_t)i, H), b0);
			b1 = _mm256_fmadd_ps(q1, kv_load8(k1, (size_t)i + 8, H), b1);
		}
		out[j] = hsum_avx2(_mm256_add_ps(a0, a1)) * scale;
		out[j + 1] = hsum_avx2(_mm256_add_ps(b0, b1)) * scale;
	}
	if (j < n_keys) {
		const void *k0 = kv_off(k, (size_t)j * hd, H);
		__m256 a0 = _mm256_setzero_ps(), a1 = a0;
		for (int i = 0; i < hd; i += 16) {
			a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv_load8(k0, (size_t)i, H), a0);
			a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
			                     kv_load8(k0, (size_t)i + 8, H), a1);
		}
		out[j] = hsum_avx2(_mm256_add_ps(a0, a1)) * scale;
	}
}

INL void scores2_ref_t(const float *qa, const float *qb, const void *k, int n_keys, int hd,
                       float scale, float *outa, float *outb, int H)
{
	scores_ref_t(qa, k, n_keys, hd, scale, outa, H);
	scores_ref_t(qb, k, n_keys, hd, scale, outb, H);
}

INL void wsum2_ref_t(const float *pa, const float *pb, const void *v, int n_keys, int hd,
                     float *outa, float *outb, int accumulate, int H)
{
	wsum_ref_t(pa, v, n_keys, hd, outa, accumulate, H);
	wsum_ref_t(pb, v, n_keys, hd, outb, accumulate, H);
}

/* softmax in place: x[i] = exp(x[i] - max) / sum. */
static void softmax_ref(float *x, int n)
{
	float mx = -INFINITY, sum = 0.0f;

	for (int i = 0; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	float inv = 1.0f / sum;
	for (int i = 0; i < n; i++)
		x[i] *= inv;
}

/* exp(x) for x <= 0 (softmax arguments; below -87 it flushes to 0):
 * 2^n * p(r) with r = x - n ln2 in [-ln2/2, ln2/2] and a degree-6
 * polynomial (relative error about 2e-7). */
TGT static inline __m256 exp_avx2(__m256 x)
{
	const __m256 lo = _mm256_set1_ps(-87.0f);
	__m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
	x = _mm256_max_ps(x, lo);
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
	__m256 p = _mm256_set1_ps(1.0f / 720);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	__m256i e =
	    _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

TGT static void softmax_avx2(float *x, int n)
{
	__m256 vmx = _mm256_set1_ps(-INFINITY), vsum = _mm256_setzero_ps();
	int i = 0, n8 = n & ~7;

	for (; i < n8; i += 8)
		vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + i));
	__m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
	m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
	m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
	float mx = _mm_cvtss_f32(m4), sum;
	for (; i < n; i++)
		mx = x[i] > mx ? x[i] : mx;
	__m256 bm = _mm256_set1_ps(mx);
	for (i = 0; i < n8; i += 8) {
		__m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), bm));
		_mm256_storeu_ps(x + i, e);
		vsum = _mm256_add_ps(vsum, e);
	}
	sum = hsum_avx2(vsum);
	for (; i < n; i++) {
		x[i] = expf(x[i] - mx);
		sum += x[i];
	}
	__m256 inv = _mm256_set1_ps(1.0f / sum);
	for (i = 0; i < n8; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
	for (; i < n; i++)
		x[i] *= 1.0f / sum;
}

/* Output values i .. i + 8 NV - 1 held in NV registers over all keys: each
 * an FMA chain in key order, NV of them side by side (2 chains were bound
 * by the FMA latency). */
INL TGT void wsum_cols_t(const float *p, const void *v, int n_keys, int hd, float *out,
                         int accumulate, int H, int i, int NV)
{
	__m256 o[8];
	const void *vr = v;
#pragma GCC unroll 8
	for (int u = 0; u < NV; u++)
		o[u] = accumulate ? _mm256_loadu_ps(out + i + 8 * u) : _mm256_setzero_ps();
	for (int j = 0; j < n_keys; j++, vr = kv_off(vr, (size_t)hd, H)) {
		__m256 pj = _mm256_set1_ps(p[j]);
#pragma GCC unroll 8
		for (int u = 0; u < NV; u++)
			o[u] = _mm256_fmadd_ps(pj, kv_load8(vr, (size_t)(i + 8 * u), H), o[u]);
	}
#pragma GCC unroll 8
	for (int u = 0; u < NV; u++)
		_mm256_storeu_ps(out + i + 8 * u, o[u]);
}

/* 64 output values at a time, then the rest (hd % 16 == 0). */
INL TGT void wsum_avx2_t(const float *p, const void *v, int n_keys, int hd, float *out,
                         int accumulate, int H)
{
	int i = 0;

	if (H == 2) {
		q8_wsum(p, NULL, v, n_keys, hd, out, NULL, accumulate);
		return;
	}
	for (; i + 64 <= hd; i += 64)
		wsum_cols_t(p, v, n_keys, hd, out, accumulate, H, i, 8);
	switch ((hd - i) / 16) {
	case 3: wsum_cols_t(p, v, n_keys, hd, out, accumulate, H, i, 6); break;
	case 2: wsum_cols_t(p, v, n_keys, hd, out, accumulate, H, i, 4); break;
	case 1: wsum_cols_t(p, v, n_keys, hd, out, accumulate, H, i, 2); break;
	default: break;
	}
}

/* Two queries against two keys at a time: four dot products, each with the
 * accumulator pair the single-query kernel gives it. */
INL TGT void scores2_avx2_t(const float *qa, const float *qb, const void *k, int n_keys, int hd,
                            float scale, float *outa, float *outb, int H)
{
	int j = 0;

	if (H == 2) {
		const size_t row = (size_t)hd / 32 * Q8_BLOCK;
		for (; j < n_keys; j++) {
			q8_dot2(qa, qb, (const uint8_t *)k + row * (size_t)j, hd, outa + j, outb + j);
			outa[j] *= scale;
			outb[j] *= scale;
		}
		return;
	}

	for (; j + 2 <= n_keys; j += 2) {
		const void *k0 = kv_off(k, (size_t)j * hd, H), *k1 = kv_off(k0, (size_t)hd, H);
		__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
		__m256 c0 = a0, c1 = a0, d0 = a0, d1 = a0;
		for (int i = 0; i < hd; i += 16) {
			__m256 x0 = kv_load8(k0, (size_t)i, H), x1 = kv_load8(k0, (size_t)i + 8, H);
			__m256 y0 = kv_load8(k1, (size_t)i, H), y1 = kv_load8(k1, (size_t)i + 8, H);
			__m256 qa0 = _mm256_loadu_ps(qa + i), qa1 = _mm256_loadu_ps(qa + i + 8);
			a0 = _mm256_fmadd_ps(qa0, x0, a0);
			a1 = _mm256_fmadd_ps(qa1, x1, a1);
			b0 = _mm256_fmadd_ps(qa0, y0, b0);
			b1 = _mm256_fmadd_ps(qa1, y1, b1);
			__m256 qb0 = _mm256_loadu_ps(qb + i), qb1 = _mm256_loadu_ps(qb + i + 8);
			c0 = _mm256_fmadd_ps(qb0, x0, c0);
			c1 = _mm256_fmadd_ps(qb1, x1, c1);
			d0 = _mm256_fmadd_ps(qb0, y0, d0);
			d1 = _mm256_fmadd_ps(qb1, y1, d1);
		}
		outa[j] = hsum_avx2(_mm256_add_ps(a0, a1)) * scale;
		outa[j + 1] = hsum_avx2(_mm256_add_ps(b0, b1)) * scale;
		outb[j] = hsum_avx2(_mm256_add_ps(c0, c1)) * scale;
		outb[j + 1] = hsum_avx2(_mm256_add_ps(d0, d1)) * scale;
	}
	if (j < n_keys) {
		const void *kj = kv_off(k, (size_t)j * hd, H);
		scores_avx2_t(qa, kj, n_keys - j, hd, scale, outa + j, H);
		scores_avx2_t(qb, kj, n_keys - j, hd, scale, outb + j, H);
	}
}

INL TGT void wsum2_avx2_t(const float *pa, const float *pb, const void *v, int n_keys, int hd,
                          float *outa, float *outb, int accumulate, int H)
{
	int i = 0;

	if (H == 2) {
		q8_wsum(pa, pb, v, n_keys, hd, outa, outb, accumulate);
		return;
	}
	/* 32 values of both queries at a time: 8 FMA chains */
	for (; i + 32 <= hd; i += 32) {
		__m256 a[4], b[4];
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++) {
			a[u] = accumulate ? _mm256_loadu_ps(outa + i + 8 * u) : _mm256_setzero_ps();
			b[u] = accumulate ? _mm256_loadu_ps(outb + i + 8 * u) : _mm256_setzero_ps();
		}
		const void *vr = v;
		for (int j = 0; j < n_keys; j++, vr = kv_off(vr, (size_t)hd, H)) {
			__m256 pj = _mm256_set1_ps(pa[j]), qj = _mm256_set1_ps(pb[j]);
#pragma GCC unroll 4
			for (int u = 0; u < 4; u++) {
				__m256 x = kv_load8(vr, (size_t)(i + 8 * u), H);
				a[u] = _mm256_fmadd_ps(pj, x, a[u]);
				b[u] = _mm256_fmadd_ps(qj, x, b[u]);
			}
		}
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++) {
			_mm256_storeu_ps(outa + i + 8 * u, a[u]);
			_mm256_storeu_ps(outb + i + 8 * u, b[u]);
		}
	}
	for (; i < hd; i += 16) {
		__m256 z = _mm256_setzero_ps();
		__m256 a0 = accumulate ? _mm256_loadu_ps(outa + i) : z;
		__m256 a1 = accumulate ? _mm256_loadu_ps(outa + i + 8) : z;
		__m256 b0 = accumulate ? _mm256_loadu_ps(outb + i) : z;
		__m256 b1 = accumulate ? _mm256_loadu_ps(outb + i + 8) : z;
		const void *vr = v;
		for (int j = 0; j < n_keys; j++, vr = kv_off(vr, (size_t)hd, H)) {
			__m256 v0 = kv_load8(vr, (size_t)i, H), v1 = kv_load8(vr, (size_t)i + 8, H);
			__m256 pj = _mm256_set1_ps(pa[j]), qj = _mm256_set1_ps(pb[j]);
			a0 = _mm256_fmadd_ps(pj, v0, a0);
			a1 = _mm256_fmadd_ps(pj, v1, a1);
			b0 = _mm256_fmadd_ps(qj, v0, b0);
			b1 = _mm256_fmadd_ps(qj, v1, b1);
		}
		_mm256_storeu_ps(outa + i, a0);
		_mm256_storeu_ps(outa + i + 8, a1);
		_mm256_storeu_ps(outb + i, b0);
		_mm256_storeu_ps(outb + i + 8, b1);
	}
}

/* SwiGLU: g[i] = g[i] * sigmoid(g[i]) * u[i], with sigmoid(g) = 1 / (1 + e)
 * for g >= 0 and e / (1 + e) below, e = exp(-|g|) (so exp never overflows). */
static void silu_ref(float *g, const float *u, int n)
{
	for (int i = 0; i < n; i++) {
		float e = expf(-fabsf(g[i]));
		g[i] = g[i] * (g[i] >= 0 ? 1.0f : e) / (1.0f + e) * u[i];
	}
}

TGT static inline __m256 silu8(__m256 x, __m256 u)
{
	const __m256 one = _mm256_set1_ps(1.0f);
	__m256 e = exp_avx2(_mm256_or_ps(x, _mm256_set1_ps(-0.0f))); /* exp(-|x|) */
	__m256 num = _mm256_blendv_ps(one, e, x); /* e where x < 0 (sign bit set) */
	return _mm256_mul_ps(_mm256_div_ps(_mm256_mul_ps(x, num), _mm256_add_ps(one, e)), u);
}

/* The tail goes through a padded copy, so every element gets the same
 * arithmetic wherever a range starts or ends. */
TGT static void silu_avx2(float *g, const float *u, int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(g + i, silu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
	if (i < n) {
		float tg[8] = {0}, tu[8] = {0};
		memcpy(tg, g + i, sizeof(float) * (size_t)(n - i));
		memcpy(tu, u + i, sizeof(float) * (size_t)(n - i));
		_mm256_storeu_ps(tg, silu8(_mm256_loadu_ps(tg), _mm256_loadu_ps(tu)));
		memcpy(g + i, tg, sizeof(float) * (size_t)(n - i));
	}
}

/* RMSNorm. The squares are exact in double; the reference sums them in
 * order, the AVX2 form in 16 lanes, so the two differ by the rounding of
 * a double sum (about 1e-16 of it) and the scale almost never. Both then
 * round x * scale, then that times w, in float. The serial sum is a
 * chain of dependent adds: a row of 768 took 0.81 us, the AVX2 form 0.25
 * (one thread, Zen 5); at 8 streams of the 110M model the two norm steps
 * of a layer fell from 12.5 to 8-9 us. */
static void rms_norm_ref(float *y, const float *x, const float *w, int d, float eps)
{
	double ss = 0;
	for (int j = 0; j < d; j++)
		ss += (double)x[j] * x[j];
	float scale = (float)(1.0 / sqrt(ss / d + eps));
	for (int j = 0; j < d; j++)
		y[j] = x[j] * scale * w[j];
}

TGT static void rms_norm_avx2(float *y, const float *x, const float *w, int d, float eps)
{
	__m256d s[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
	                _mm256_setzero_pd()};
	int j = 0;
	for (; j + 16 <= d; j += 16)
		for (int k = 0; k < 4; k++) {
			__m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + j + 4 * k));
			s[k] = _mm256_fmadd_pd(v, v, s[k]);
		}
	__m256d t = _mm256_add_pd(_mm256_add_pd(s[0], s[1]), _mm256_add_pd(s[2], s[3]));
	double l[4], ss;
	_mm256_storeu_pd(l, t);
	ss = (l[0] + l[1]) + (l[2] + l[3]);
	for (; j < d; j++)
		ss += (double)x[j] * x[j];
	float scale = (float)(1.0 / sqrt(ss / d + eps));
	__m256 sc = _mm256_set1_ps(scale);
	for (j = 0; j + 8 <= d; j += 8)
		_mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j), sc),
		                                      _mm256_loadu_ps(w + j)));
	for (; j < d; j++)
		y[j] = x[j] * scale * w[j];
}

/* Cache stores: n floats into a row of the cache's element type (F16
 * rounds to nearest even, as mrt_f32_to_f16 does). */
static void store_f32(void *dst, const float *src, int n)
{
	memcpy(dst, src, sizeof(float) * (size_t)n);
}

static void store_f16_ref(void *dst, const float *src, int n)
{
	mrt_quantize(MRT_TYPE_F16, src, dst, (size_t)n);
}

/* Q8_0 blocks of 32 as ggml makes them (n % 32 == 0). */
static void store_q8(void *dst, const float *src, int n)
{
	mrt_quantize(MRT_TYPE_Q8_0, src, dst, (size_t)n);
}

TGT static void store_f16_avx2(void *dst, const float *src, int n)
{
	uint16_t *d = dst;
	int i = 0;
	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(d + i),
				 _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
	store_f16_ref(d + i, src + i, n - i);
}

/* mrt_quantize's Q8_0 blocks (n % 32 == 0), byte for byte: d = max|x| / 127
 * rounded to half, q = roundf(x / d) (halves away from zero: trunc, then one
 * more where the exact remainder is at least a half) clamped to 127. */
TGT static void store_q8_avx2(void *dst, const float *src, int n)
{
	uint8_t *out = dst;
	const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
	const __m256 lim = _mm256_set1_ps(127.0f);
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	for (int i = 0; i + 32 <= n; i += 32, out += Q8_BLOCK) {
		__m256 x[4], m = _mm256_setzero_ps();
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++) {
			x[u] = _mm256_loadu_ps(src + i + 8 * u);
			m = _mm256_max_ps(_mm256_and_ps(x[u], absm), m); /* a NaN lane keeps m */
		}
		__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		h = _mm_max_ps(h, _mm_movehl_ps(h, h));
		h = _mm_max_ss(h, _mm_movehdup_ps(h));
		uint16_t dh = mrt_f32_to_f16(_mm_cvtss_f32(h) / 127.0f);
		float d = mrt_f16_to_f32(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
		memcpy(out, &dh, 2);
		__m256i q[4];
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++) {
			__m256 v = _mm256_mul_ps(x[u], _mm256_set1_ps(id));
			__m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
			__m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(v, t), absm), half,
			                          _CMP_GE_OQ);
			t = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_andnot_ps(absm, v), one)));
			t = _mm256_min_ps(_mm256_max_ps(t, _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim);
			q[u] = _mm256_cvttps_epi32(t);
		}
		__m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
		                               _mm256_packs_epi32(q[2], q[3]));
		_mm256_storeu_si256((__m256i *)(out + 2), _mm256_permutevar8x32_epi32(p, order));
	}
}

/* The entry points: one per kernel, element type and instruction set. */
#define KV_ENTRY(attr, name, params, ...)                                                         \
	attr static void name##_f32 params { name##_t(__VA_ARGS__, 0); }                          \
	attr static void name##_f16 params { name##_t(__VA_ARGS__, 1); }                          \
	attr static void name##_q8 params { name##_t(__VA_ARGS__, 2); }
#define KV_SET(attr, isa)                                                                          \
	KV_ENTRY(attr, scores_##isa,                                                               \
	         (const float *q, const void *k, int n_keys, int hd, float scale, float *out), q,  \
	         k, n_keys, hd, scale, out)                                                        \
	KV_ENTRY(attr, scores2_##isa,                                                              \
	         (const float *qa, const float *qb, const void *k, int n_keys, int hd,             \
	          float scale, float *outa, float *outb),                                          \
	         qa, qb, k, n_keys, hd, scale, outa, outb)                                         \
	KV_ENTRY(attr, wsum_##isa,                                                                 \
	         (const float *p, const void *v, int n_keys, int hd, float *out, int acc), p, v,   \
	         n_keys, hd, out, acc)                                                             \
	KV_ENTRY(attr, wsum2_##isa,                                                                \
	         (const float *pa, const float *pb, const void *v, int n_keys, int hd,             \
	          float *outa, float *outb, int acc),                                              \
	         pa, pb, v, n_keys, hd, outa, outb, acc)
#define NOATTR
KV_SET(NOATTR, ref)
KV_SET(TGT, avx2)
#undef KV_SET
#undef KV_ENTRY
#undef NOATTR

mrt__attn_kern mrt__attn_kernels(int head_dim, int kv, int simd)
{
	static const mrt__attn_kern ref[3] = {
	    {scores_ref_f32, scores2_ref_f32, softmax_ref, wsum_ref_f32, wsum2_ref_f32, store_f32,
	     silu_ref, rms_norm_ref},
	    {scores_ref_f16, scores2_ref_f16, softmax_ref, wsum_ref_f16, wsum2_ref_f16,
	     store_f16_ref, silu_ref, rms_norm_ref},
	    {scores_ref_q8, scores2_ref_q8, softmax_ref, wsum_ref_q8, wsum2_ref_q8, store_q8,
	     silu_ref, rms_norm_ref}};
	static const mrt__attn_kern avx2[3] = {
	    {scores_avx2_f32, scores2_avx2_f32, softmax_avx2, wsum_avx2_f32, wsum2_avx2_f32,
	     store_f32, silu_avx2, rms_norm_avx2},
	    {scores_avx2_f16, scores2_avx2_f16, softmax_avx2, wsum_avx2_f16, wsum2_avx2_f16,
	     store_f16_avx2, silu_avx2, rms_norm_avx2},
	    {scores_avx2_q8, scores2_avx2_q8, softmax_avx2, wsum_avx2_q8, wsum2_avx2_q8,
	     store_q8_avx2, silu_avx2, rms_norm_avx2}};

	kv = kv == MRT__KV_F16 ? 1 : kv == MRT__KV_Q8 ? 2 : 0;
	if (simd && head_dim % 16 == 0 && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("fma") && (kv == 0 || __builtin_cpu_supports("f16c")))
		return avx2[kv];
	return ref[kv];
}
