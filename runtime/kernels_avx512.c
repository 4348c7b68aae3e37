/* AVX-512 (BW/VL/DQ) and AVX-512 VNNI kernel sets for Q8_0/Q4_0 weights:
 * two 32-blocks per 512-bit vector. The F32/F16/BF16 kernels and the
 * activation quantizer are the AVX2 ones (same bytes on every level).
 * This file includes itself with KERN_PASS set, once per target: without
 * VNNI the tile is qtile (maddubs with the sign trick), with it qtv. */
#ifndef KERN_PASS
#include <immintrin.h>
#include <string.h>

#include "kernels_impl.h"
#include "kernels_q8.h"
#include "mrt_gguf.h"

#define KERN_PASS 1
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define SFX(name) name##_512
#define VNNI 0
#include "kernels_avx512.c"
#undef TGT
#undef SFX
#undef VNNI
#define TGT                                                                                   \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define SFX(name) name##_vnni
#define VNNI 1
#include "kernels_avx512.c"

static void lin_f(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	mrt__kern_avx2.lin_f(a, m0, m1, n0, n1);
}

static void quant_x(const mrt__lin *a, int64_t m0, int64_t m1)
{
	mrt__kern_avx2.quant_x(a, m0, m1);
}

static void quant_k(const mrt__lin *a, int64_t m0, int64_t m1)
{
	mrt__kern_avx2.quant_k(a, m0, m1);
}

static void expand(int wtype, const uint16_t *src, float *dst, int64_t n)
{
	mrt__kern_avx2.expand(wtype, src, dst, n);
}

const mrt__kern mrt__kern_avx512 = {lin_f,   lin_q_512, mrt__lin_k_avx512,
				    quant_x, quant_k,   expand};
const mrt__kern mrt__kern_avx512vnni = {lin_f,   lin_q_vnni, mrt__lin_k_vnni,
                                        quant_x, quant_k,    expand};

#else /* KERN_PASS: the Q8_0/Q4_0 kernel for target TGT */

#define INL static inline __attribute__((always_inline)) TGT

INL __m512 SFX(pair)(float d0, float d1)
{
	return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0)), _mm256_set1_ps(d1),
	                          1);
}

#if !VNNI
/* w . x in 16 int32 lanes without VNNI: |w| times x with w's sign. */
INL __m512i SFX(dot)(__m512i w, __m512i aw, __m512i x)
{
	__mmask64 neg = _mm512_movepi8_mask(w);
	__m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
	return _mm512_madd_epi16(_mm512_maddubs_epi16(aw, sx), _mm512_set1_epi16(1));
}

INL void SFX(qtile)(const mrt__lin *a, int wtype, int64_t m, int64_t n, int R, int C)
{
	__m512 acc[4][2];
	const int8_t *xq[4];
	const float *xd[4];
	const uint8_t *w[2];
	size_t dofs = mrt__q8x_dofs(a->K);
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
		xq[r] = (const int8_t *)(a->xq + a->xq_row * (size_t)(m + r));
		xd[r] = (const float *)((const uint8_t *)xq[r] + dofs);
#pragma GCC unroll 2
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	}
#pragma GCC unroll 2
	for (int c = 0; c < C; c++)
		w[c] = (const uint8_t *)a->W + a->wrow * (size_t)(n + c);
	int64_t nb = a->K / 32, b = 0;
	/* software prefetch of the same offset whole tiles of rows on */
	size_t bsz = wtype == MRT_TYPE_Q8_0 ? 34 : 18;
	size_t pfd = mrt__tile_prefetch((size_t)C * a->wrow);
	/* an odd last block is padded with a zero block */
	for (; b < nb; b += 2) {
		int two = b + 1 < nb;
		__m512i wv[2], aw[2];
		__m512 dw[2];
#pragma GCC unroll 2
		for (int c = 0; c < C; c++) {
			float d0, d1 = 0.0f;
			const char *pf = (const char *)w[c] + (size_t)b * bsz + pfd;
			_mm_prefetch(pf, _MM_HINT_T0);
			_mm_prefetch(pf + 2 * bsz - 1, _MM_HINT_T0); /* the two blocks' last byte */
			__m256i lo = mrt__q8_wblock(wtype, w[c], b, &d0);
			__m256i hi = two ? mrt__q8_wblock(wtype, w[c], b + 1, &d1)
					 : _mm256_setzero_si256();
			wv[c] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
			aw[c] = _mm512_abs_epi8(wv[c]);
			dw[c] = SFX(pair)(d0, d1);
		}
#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			__m512i xv = two ? _mm512_loadu_si512(xq[r] + b * 32)
					 : _mm512_castsi256_si512(_mm256_loadu_si256(
						   (const __m256i *)(xq[r] + b * 32)));
			if (!two)
				xv = _mm512_inserti64x4(xv, _mm256_setzero_si256(), 1);
			__m512 dx = SFX(pair)(xd[r][b], two ? xd[r][b + 1] : 0.0f);
#pragma GCC unroll 2
			for (int c = 0; c < C; c++) {
				__m512 f = _mm512_cvtepi32_ps(SFX(dot)(wv[c], aw[c], xv));
				acc[r][c] = _mm512_fmadd_ps(f, _mm512_mul_ps(dw[c], dx), acc[r][c]);
			}
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 2
		for (int c = 0; c < C; c++)
			mrt__lin_store(a, m + r, n + c, _mm512_reduce_add_ps(acc[r][c]));
}

#else
/* Rows m .. m + R - 1 of X (R <= 8) against weight rows rows[0 .. C - 1]
 * (C <= 4, R * C <= 16): qtile's arithmetic with fewer instructions a
 * block. The integer dot takes the weights as the unsigned operand (Q8_0:
 * w + 128; Q4_0: the nibble q, which stands for q - 8) and starts from
 * minus that offset times the lane sums of x, so each int32 lane holds the
 * same exact sum of four w * x as in qtile; the f16 scales of two blocks
 * are widened in one conversion (exact, as the scalar one). Every (row of
 * X, weight row) goes through the same operations whatever R and C. */
INL void SFX(qtv)(const mrt__lin *a, int wtype, int64_t m, int R, const int64_t *rows, int C,
                  size_t pfd)
{
	const int q8 = wtype == MRT_TYPE_Q8_0;
	const size_t bsz = q8 ? 34 : 18;
	const int8_t *xq[8];
	const float *xd[8];
	const uint8_t *w[4];
	__m512 acc[8][4];
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		xq[r] = (const int8_t *)(a->xq + a->xq_row * (size_t)(m + r));
		xd[r] = (const float *)((const uint8_t *)xq[r] + mrt__q8x_dofs(a->K));
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm512_setzero_ps();
	}
#pragma GCC unroll 4
	for (int c = 0; c < C; c++)
		w[c] = (const uint8_t *)a->W + a->wrow * (size_t)rows[c];
	int64_t nb = a->K / 32;
	const __m512i off = _mm512_set1_epi8((char)(q8 ? 0x80 : 8));
	for (int64_t b = 0; b < nb; b += 2) {
		int two = b + 1 < nb;
		int64_t b1 = two ? b + 1 : b; /* an odd last block: its x half is zero */
		__m512i wu[4];
		__m512 dw[4];
#pragma GCC unroll 4
		for (int c = 0; c < C; c++) {
			const uint8_t *p0 = w[c] + (size_t)b * bsz, *p1 = w[c] + (size_t)b1 * bsz;
			_mm_prefetch((const char *)p0 + pfd, _MM_HINT_T0);
			_mm_prefetch((const char *)p0 + pfd + 2 * bsz - 1, _MM_HINT_T0);
			if (q8) {
				wu[c] = _mm512_inserti64x4(
				    _mm512_castsi256_si512(
				        _mm256_loadu_si256((const __m256i *)(p0 + 2))),
				    _mm256_loadu_si256((const __m256i *)(p1 + 2)), 1);
				wu[c] = _mm512_xor_si512(wu[c], off);
			} else {
				/* [b lo, b hi, b1 lo, b1 hi] nibbles, 16 each */
				__m256i t = _mm256_inserti128_si256(
				    _mm256_castsi128_si256(
				        _mm_loadu_si128((const __m128i *)(p0 + 2))),
				    _mm_loadu_si128((const __m128i *)(p1 + 2)), 1);
				wu[c] = _mm512_permutexvar_epi64(
				    _mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3),
				    _mm512_castsi256_si512(t));
				wu[c] = _mm512_and_si512(
				    _mm512_srlv_epi64(wu[c],
				                      _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)),
				    _mm512_set1_epi8(0x0f));
			}
			__m256i dh = _mm256_inserti128_si256(
			    _mm256_castsi128_si256(_mm_set1_epi16((short)(p0[0] | p0[1] << 8))),
			    _mm_set1_epi16(two ? (short)(p1[0] | p1[1] << 8) : 0), 1);
			dw[c] = _mm512_cvtph_ps(dh);
		}
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			__m512i xv =
			    _mm512_maskz_loadu_epi8(two ? ~0ULL : 0xffffffffULL, xq[r] + b * 32);
			__m512i xc =
			    _mm512_sub_epi32(_mm512_setzero_si512(),
			                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, xv));
			__m512 dx = SFX(pair)(xd[r][b], two ? xd[r][b + 1] : 0.0f);
#pragma GCC unroll 4
			for (int c = 0; c < C; c++) {
				__m512 f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(xc, wu[c], xv));
				acc[r][c] = _mm512_fmadd_ps(f, _mm512_mul_ps(dw[c], dx), acc[r][c]);
			}
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			mrt__lin_store(a, m + r, rows[c], _mm512_reduce_add_ps(acc[r][c]));
}

/* qtv for R rows of X against the C (1 or 2) weight rows at rows. */
INL void SFX(qtv_rows)(const mrt__lin *a, int wtype, int64_t m, int R, const int64_t *rows, int C,
                       size_t pfd)
{
	switch (R) {
	case 8:
		SFX(qtv)(a, wtype, m, 8, rows, C, pfd);
		break;
	case 7:
		SFX(qtv)(a, wtype, m, 7, rows, C, pfd);
		break;
	case 6:
		SFX(qtv)(a, wtype, m, 6, rows, C, pfd);
		break;
	case 5:
		SFX(qtv)(a, wtype, m, 5, rows, C, pfd);
		break;
	case 4:
		SFX(qtv)(a, wtype, m, 4, rows, C, pfd);
		break;
	case 3:
		SFX(qtv)(a, wtype, m, 3, rows, C, pfd);
		break;
	case 2:
		SFX(qtv)(a, wtype, m, 2, rows, C, pfd);
		break;
	default:
		SFX(qtv)(a, wtype, m, 1, rows, C, pfd);
		break;
	}
}
#endif

INL void SFX(lin_q_type)(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
			 int64_t n1)
{
#if VNNI
	if (m1 - m0 == 1) {
		/* two streams: rows n, n + 1 with n + h, n + h + 1 */
		int64_t h = (n1 - n0) / 4 * 2;
		size_t pf2 = mrt__tile_prefetch(2 * a->wrow);
		for (int64_t t = 0; t < h; t += 2) {
			int64_t r[4] = {n0 + t, n0 + t + 1, n0 + h + t, n0 + h + t + 1};
			SFX(qtv)(a, wtype, m0, 1, r, 4, pf2);
		}
		/* fewer than 4 rows left, side by side */
		int64_t n = n0 + 2 * h, r[4] = {n, n + 1, n + 2, n + 3};
		size_t pf = mrt__tile_prefetch((size_t)(n1 > n ? n1 - n : 1) * a->wrow);
		if (n1 - n == 3)
			SFX(qtv)(a, wtype, m0, 1, r, 3, pf);
		else if (n1 - n == 2)
			SFX(qtv)(a, wtype, m0, 1, r, 2, pf);
		else if (n1 - n == 1)
			SFX(qtv)(a, wtype, m0, 1, r, 1, pf);
		return;
	}
	/* 2 weight rows against up to 8 rows of X */
	for (int64_t n = n0; n < n1; n += 2) {
		int64_t r[2] = {n, n + 1};
		size_t pf = mrt__tile_prefetch(2 * a->wrow);
		for (int64_t m = m0; m < m1; m += 8) {
			int R = (int)(m1 - m < 8 ? m1 - m : 8);
			if (n + 1 < n1)
				SFX(qtv_rows)(a, wtype, m, R, r, 2, pf);
			else
				SFX(qtv_rows)(a, wtype, m, R, r, 1, pf);
		}
	}
#else
	for (int64_t n = n0; n < n1;) {
		int C = n1 - n < 2 ? 1 : 2;
		for (int64_t m = m0; m < m1;) {
			int R = (int)(m1 - m < 4 ? m1 - m : 4);
			switch (R * 8 + C) {
			case 4 * 8 + 2: SFX(qtile)(a, wtype, m, n, 4, 2); break;
			case 4 * 8 + 1: SFX(qtile)(a, wtype, m, n, 4, 1); break;
			case 3 * 8 + 2: SFX(qtile)(a, wtype, m, n, 3, 2); break;
			case 3 * 8 + 1: SFX(qtile)(a, wtype, m, n, 3, 1); break;
			case 2 * 8 + 2: SFX(qtile)(a, wtype, m, n, 2, 2); break;
			case 2 * 8 + 1: SFX(qtile)(a, wtype, m, n, 2, 1); break;
			case 1 * 8 + 2: SFX(qtile)(a, wtype, m, n, 1, 2); break;
			default: SFX(qtile)(a, wtype, m, n, 1, 1); break;
			}
			m += R;
		}
		n += C;
	}
#endif
}

static TGT void SFX(lin_q)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	if (a->wtype == MRT_TYPE_Q8_0)
		SFX(lin_q_type)(a, MRT_TYPE_Q8_0, m0, m1, n0, n1);
	else
		SFX(lin_q_type)(a, MRT_TYPE_Q4_0, m0, m1, n0, n1);
}

#undef INL
#endif
