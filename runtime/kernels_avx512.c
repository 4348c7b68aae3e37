/* AVX-512 (BW/VL/DQ) and AVX-512 VNNI kernel sets for Q8_0/Q4_0 weights.
 * The F32/F16/BF16 kernels and the activation quantizer are the AVX2 ones
 * (same bytes on every level). This file includes itself with KERN_PASS
 * set, once per target: without VNNI the tile is qtile (two 32-blocks of
 * a weight row per vector, maddubs with the sign trick), with it qlv (one
 * weight row per lane, 16 rows a vector). */
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
	mrt__lin_f_avx512(a, m0, m1, n0, n1);
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

/* mrt__pack_group on AVX-512: the dwords of the 16 rows' block b go
 * through the transposes of the unpacked tiles, 8 at a time
 * (mrt__lanes32x16), the last 4 of a 4 mod 8 run 4 at a time
 * (mrt__lanes16x16); the 2-byte pieces (the Q8_0/Q4_0 scales, Q6_K's d)
 * are a gather of the dword that holds them, narrowed to 16 bits. No read
 * leaves the group's blocks. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
mrt__pack_group_avx512(int wtype, const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *out)
{
	const size_t bsz = mrt_type_get(wtype).block_bytes;
	const __m512i idx = _mm512_mullo_epi32(
	    _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
	    _mm512_set1_epi32((int)wrow));
	const __m512i flip = _mm512_set1_epi8((char)(wtype == MRT_TYPE_Q8_0 ? 0x80 : 0));
	const int qb = wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0;
	const size_t first = qb ? 2 : 0, n_dw = (bsz - first) / 4; /* 8, 4, 36, 44, 52 */
	const uint8_t *rp[16];
	for (int j = 0; j < 16; j++)
		rp[j] = rows + wrow * (size_t)j;

	for (int64_t b = 0; b < nb; b++) {
		size_t blk = bsz * (size_t)b, at, piece;
		if (qb) {
			at = mrt__pack_at(wtype, nb, b, &piece);
		} else {
			at = (size_t)b * MRT__PACK_ROWS * bsz;
			piece = at + 64 * n_dw; /* Q6_K's d */
		}
		if (qb || bsz % 4) { /* the 2-byte piece: scale (bytes 0-1) or d (208-209) */
			__m512i v = _mm512_i32gather_epi32(idx, rows + blk + (qb ? 0 : bsz - 4), 1);
			if (!qb)
				v = _mm512_srli_epi32(v, 16);
			_mm256_storeu_si256((__m256i *)(out + piece), _mm512_cvtepi32_epi16(v));
		}
		size_t d = 0;
		for (; d + 8 <= n_dw; d += 8) {
			__m512i T[8];
			mrt__lanes32x16(rp, blk + first + 4 * d, T);
			for (int t = 0; t < 8; t++)
				_mm512_storeu_si512(out + at + 64 * (d + (size_t)t),
				                    _mm512_xor_si512(T[t], flip));
		}
		if (d < n_dw) { /* 4 left */
			__m512i T[4];
			mrt__lanes16x16(rp, blk + first + 4 * d, T);
			for (int t = 0; t < 4; t++)
				_mm512_storeu_si512(out + at + 64 * (d + (size_t)t),
				                    _mm512_xor_si512(T[t], flip));
		}
	}
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
/* The 16 f16 scales of block `at` of rows rp, widened: through the scalar
 * units (a gather cost one row of X a third of its speed). */
INL __m512 SFX(lane_d16)(const uint8_t *const rp[16], size_t at)
{
	uint64_t d4[4];
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		uint16_t h[4];
#pragma GCC unroll 4
		for (int u = 0; u < 4; u++)
			memcpy(&h[u], rp[4 * k + u] + at, 2);
		d4[k] = h[0] | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 32 | (uint64_t)h[3] << 48;
	}
	return _mm512_cvtph_ps(_mm256_setr_epi64x((long long)d4[0], (long long)d4[1],
	                                          (long long)d4[2], (long long)d4[3]));
}

/* Rows m .. m + R - 1 of Q8X xq: their quants, scales and sums, and
 * zeroed accumulators. */
INL void SFX(qlv_xrows)(const mrt__lin *a, int64_t m, int R, const int8_t **xq, const float **xd,
                        const int32_t **xs, __m512 *acc)
{
	const size_t dofs = mrt__q8x_dofs(a->K), sofs = mrt__q8x_sofs(a->K);
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		xq[r] = (const int8_t *)(a->xq + a->xq_row * (size_t)(m + r));
		xd[r] = (const float *)((const uint8_t *)xq[r] + dofs);
		xs[r] = (const int32_t *)((const uint8_t *)xq[r] + sofs);
		acc[r] = _mm512_setzero_ps();
	}
}

/* Block b of a one-weight-row-per-lane tile: V[t] (lane j: weights 4t ..
 * 4t + 3 of row j, unsigned: Q8_0 w + 128, Q4_0 the nibble) and the 16
 * rows' scales dw against rows r < R of X, into acc[r]. */
INL void SFX(qlv_block)(int q8, int R, const int8_t *const *xq, const float *const *xd,
                        const int32_t *const *xs, int64_t b, const __m512i *V, __m512 dw,
                        __m512 *acc)
{
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		const int8_t *x = xq[r] + b * 32;
		__m512i xo = _mm512_set1_epi32(xs[r][b]); /* 8 x sum(x) */
		if (q8)
			xo = _mm512_slli_epi32(xo, 4);
		/* integer sums, so the order is free: with 4 rows of X or
		 * more, two chains of four, the first from minus the
		 * offset (the rows' chains overlap; 3 operations fewer a
		 * row and block than four chains: Q8_0 M = 8 124-126 ->
		 * 143-147 GMAC/s, M = 4 101 -> 114, Q4_0 M = 8 139-145 ->
		 * 153, one thread in L2); with fewer, four chains of two,
		 * where one row's latency shows */
		const int NC = R >= 4 ? 2 : 4;
		__m512i i4[4];
#pragma GCC unroll 8
		for (int t = 0; t < 8; t++) {
			__m512i from = t >= NC  ? i4[t % NC]
			               : t == 0 ? _mm512_sub_epi32(_mm512_setzero_si512(), xo)
			                        : _mm512_setzero_si512();
			i4[t % NC] = mrt__dpbusd_bcst(from, V[t], x + 4 * t);
		}
		__m512i i = NC == 2 ? _mm512_add_epi32(i4[0], i4[1])
		                    : _mm512_add_epi32(_mm512_add_epi32(i4[0], i4[1]),
		                                       _mm512_add_epi32(i4[2], i4[3]));
		acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i),
		                         _mm512_mul_ps(dw, _mm512_set1_ps(xd[r][b])), acc[r]);
	}
}

/* Q8_0/Q4_0 with VNNI, one weight row per lane: rows m .. m + R - 1 of X
 * (R <= 8) against 16 weight rows, lane j row rows[j] (rp). Per block, the
 * 16 rows' 32 weights are transposed to V[t] (lane j: weights 4t .. 4t + 3
 * of row j), and 8 vpdpbusd with x's 4-byte groups broadcast give each
 * lane its row's whole-block dot. The weights are the unsigned operand:
 * Q8_0 w + 128, Q4_0 the nibble q (standing for q - 8); the lane starts
 * from minus that offset times the block's sum of x (Q8X keeps 8 x the
 * sum), so it holds the exact integer w . x. Then, as every lane-per-row
 * tile (the AVX2 qtile): acc += float(dot) * (dw * dx), block by block,
 * so a row's result is the same whatever R, the rows beside it, or the
 * level (AVX2 or this). The transpose is paid once per 16 rows and block
 * for all R rows of X: at R = 8 about 19 vector operations per 512
 * products, against 36 for two weight rows a vector. pf (or NULL): the
 * next rows to prefetch, pf_bytes a block (see mrt__lane_prefetch), pf2 a
 * second stream. */
INL void SFX(qlv)(const mrt__lin *a, int wtype, int64_t m, int R, const uint8_t *const rp[16],
                  const char *pf, const char *pf2, size_t pf_bytes, float out[8][16])
{
	const int q8 = wtype == MRT_TYPE_Q8_0;
	const size_t bsz = q8 ? 34 : 18;
	const int8_t *xq[8];
	const float *xd[8];
	const int32_t *xs[8];
	__m512 acc[8];
	SFX(qlv_xrows)(a, m, R, xq, xd, xs, acc);
	const __m512i nib = _mm512_set1_epi8(0x0f);
	int64_t nb = a->K / 32;
	for (int64_t b = 0; b < nb; b++) {
		size_t at = (size_t)b * bsz;
		if (pf)
			mrt__lane_prefetch(pf, b, pf_bytes);
		if (pf2)
			mrt__lane_prefetch(pf2, b, pf_bytes);
		__m512 dw = SFX(lane_d16)(rp, at);
		__m512i V[8];
		if (q8) {
			mrt__lanes32x16(rp, at + 2, V);
#pragma GCC unroll 8
			for (int t = 0; t < 8; t++) /* w + 128 */
				V[t] = _mm512_xor_si512(V[t], _mm512_set1_epi8((char)0x80));
		} else {
			/* group t's low nibbles are weights 4t .., its high ones 16 + 4t .. */
			__m512i U[4];
			mrt__lanes16x16(rp, at + 2, U);
#pragma GCC unroll 4
			for (int t = 0; t < 4; t++) {
				V[t] = _mm512_and_si512(U[t], nib);
				V[t + 4] = _mm512_and_si512(_mm512_srli_epi16(U[t], 4), nib);
			}
		}
		SFX(qlv_block)(q8, R, xq, xd, xs, b, V, dw, acc);
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		_mm512_storeu_ps(out[r], acc[r]);
}

/* qlv on packed weights (kernels_impl.h): the 16 rows of group grp come
 * as vectors and scales in one stream, the same arithmetic block by block
 * (so the same results as qlv on the unpacked rows). Each record
 * prefetches whole records ahead (mrt__pack_prefetch) when pf:
 * the first tile of rows of X over a group. */
INL void SFX(qlp)(const mrt__lin *a, int wtype, int64_t m, int R, const uint8_t *grp, int pf,
                  float out[8][16])
{
	const int q8 = wtype == MRT_TYPE_Q8_0;
	const size_t P = mrt__pack_payload(wtype), rec = 2 * P + 64;
	const size_t pfd = mrt__pack_prefetch(rec);
	const int8_t *xq[8];
	const float *xd[8];
	const int32_t *xs[8];
	__m512 acc[8];
	SFX(qlv_xrows)(a, m, R, xq, xd, xs, acc);
	const __m512i nib = _mm512_set1_epi8(0x0f);
	int64_t nb = a->K / 32;
	for (int64_t b = 0; b < nb; b++) {
		size_t sat, at = mrt__pack_at(wtype, nb, b, &sat);
		if (pf && (b & 1) == 0)
			for (size_t o = 0; o < rec; o += 64)
				_mm_prefetch((const char *)grp + at + pfd + o, _MM_HINT_T0);
		__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(grp + sat)));
		__m512i V[8];
		if (q8) {
#pragma GCC unroll 8
			for (int t = 0; t < 8; t++)
				V[t] = _mm512_loadu_si512(grp + at + 64 * t);
		} else {
#pragma GCC unroll 4
			for (int t = 0; t < 4; t++) {
				__m512i U = _mm512_loadu_si512(grp + at + 64 * t);
				V[t] = _mm512_and_si512(U, nib);
				V[t + 4] = _mm512_and_si512(_mm512_srli_epi16(U, 4), nib);
			}
		}
		SFX(qlv_block)(q8, R, xq, xd, xs, b, V, dw, acc);
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		_mm512_storeu_ps(out[r], acc[r]);
}

/* Packed rows [n0, n1) (multiples of 16) against rows [m0, m1) of X. */
INL void SFX(qlp_range)(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
                        int64_t n1)
{
	float out[8][16];
	for (int64_t n = n0; n < n1; n += MRT__PACK_ROWS) {
		const uint8_t *grp = (const uint8_t *)a->W + a->wrow * (size_t)n;
		for (int64_t m = m0; m < m1; m += 8) {
			int R = (int)(m1 - m < 8 ? m1 - m : 8), pf = m == m0;
			switch (R) {
			case 8:
				SFX(qlp)(a, wtype, m, 8, grp, pf, out);
				break;
			case 7:
				SFX(qlp)(a, wtype, m, 7, grp, pf, out);
				break;
			case 6:
				SFX(qlp)(a, wtype, m, 6, grp, pf, out);
				break;
			case 5:
				SFX(qlp)(a, wtype, m, 5, grp, pf, out);
				break;
			case 4:
				SFX(qlp)(a, wtype, m, 4, grp, pf, out);
				break;
			case 3:
				SFX(qlp)(a, wtype, m, 3, grp, pf, out);
				break;
			case 2:
				SFX(qlp)(a, wtype, m, 2, grp, pf, out);
				break;
			default:
				SFX(qlp)(a, wtype, m, 1, grp, pf, out);
				break;
			}
			mrt__tile_store16(a, m, R, n, MRT__PACK_ROWS, out);
		}
	}
}

/* qlv for R (1 .. 8) rows of X: one instance per R, so acc stays in
 * registers. */
INL void SFX(qlv_rows)(const mrt__lin *a, int wtype, int64_t m, int R, const uint8_t *const rp[16],
                       const char *pf, const char *pf2, size_t pf_bytes, float out[8][16])
{
	switch (R) {
	case 8:
		SFX(qlv)(a, wtype, m, 8, rp, pf, pf2, pf_bytes, out);
		break;
	case 7:
		SFX(qlv)(a, wtype, m, 7, rp, pf, pf2, pf_bytes, out);
		break;
	case 6:
		SFX(qlv)(a, wtype, m, 6, rp, pf, pf2, pf_bytes, out);
		break;
	case 5:
		SFX(qlv)(a, wtype, m, 5, rp, pf, pf2, pf_bytes, out);
		break;
	case 4:
		SFX(qlv)(a, wtype, m, 4, rp, pf, pf2, pf_bytes, out);
		break;
	case 3:
		SFX(qlv)(a, wtype, m, 3, rp, pf, pf2, pf_bytes, out);
		break;
	case 2:
		SFX(qlv)(a, wtype, m, 2, rp, pf, pf2, pf_bytes, out);
		break;
	default:
		SFX(qlv)(a, wtype, m, 1, rp, pf, pf2, pf_bytes, out);
		break;
	}
}
#endif

INL void SFX(lin_q_type)(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
			 int64_t n1)
{
#if VNNI
	if (a->packed) {
		SFX(qlp_range)(a, wtype, m0, m1, n0, n1);
		return;
	}
	const size_t bsz = wtype == MRT_TYPE_Q8_0 ? 34 : 18;
	const uint8_t *W = a->W;
	const uint8_t *rp[16];
	float out[8][16];
	int64_t n = n0;
	if (m1 - m0 == 1) {
		/* two streams: lanes 0-7 rows n .. n + 7, lanes 8-15 rows
		 * n + h .. n + h + 7, each prefetching its next 8 rows */
		int64_t h = (n1 - n0) / 16 * 8;
		mrt__streams_start(a, n0, h);
		for (int64_t t = 0; t < h; t += 8) {
			for (int j = 0; j < 16; j++)
				rp[j] = W + a->wrow * (size_t)mrt__split_row(n0, h, t, j);
			const char *pf = (const char *)rp[7] + a->wrow;
			const char *pf2 = (const char *)rp[15] + a->wrow;
			SFX(qlv)(a, wtype, m0, 1, rp, pf, pf2, 8 * bsz, out);
			mrt__split_store16(a, m0, n0, h, t, out[0]);
		}
		n = n0 + 2 * h;
	}
	/* 16 rows side by side (rows past the end repeat the last), the first
	 * tile of X rows prefetching the next 16 */
	for (; n < n1; n += 16) {
		int C = n1 - n < 16 ? (int)(n1 - n) : 16;
		for (int j = 0; j < 16; j++)
			rp[j] = W + a->wrow * (size_t)(n + (j < C ? j : C - 1));
		for (int64_t m = m0; m < m1; m += 8) {
			int R = (int)(m1 - m < 8 ? m1 - m : 8);
			const char *pf =
			    m == m0 && n + 16 < n1 ? (const char *)rp[0] + 16 * a->wrow : NULL;
			SFX(qlv_rows)(a, wtype, m, R, rp, pf, NULL, 16 * bsz, out);
			mrt__tile_store16(a, m, R, n, C, out);
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
