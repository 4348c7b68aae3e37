/* AVX2 + FMA + F16C kernel set: register-tiled F32/F16/BF16 GEMV-style
 * kernels for small M (W read once for a tile of X rows), an F32 GEMM on
 * packed panels of X for 16 and more rows, int8 dot products of Q8_0/Q4_0
 * weights (8 rows at once, one per lane) against Q8X activations (the k-quants are
 * in kernels_kquant.c), F16C panel expansion. Compiled for the
 * target by attribute only; kernels.c calls it when the CPU has AVX2. */
#include <immintrin.h>
#include <limits.h>
#include <string.h>

#include "kernels_impl.h"
#include "kernels_q8.h"
#include "mrt_gguf.h"

/* Round to nearest even without exceptions: a literal, as the intrinsic needs. */
#define KQ_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

INL __m256 load8(const void *w, int wtype, int64_t k)
{
	if (wtype == MRT_TYPE_F32)
		return _mm256_loadu_ps((const float *)w + k);
	__m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
	if (wtype == MRT_TYPE_F16)
		return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INL float load1(const void *w, int wtype, int64_t k)
{
	if (wtype == MRT_TYPE_F32)
		return ((const float *)w)[k];
	uint16_t h = ((const uint16_t *)w)[k];
	return wtype == MRT_TYPE_F16 ? _cvtsh_ss(h) : mrt_bf16_to_f32(h);
}

/* Largest of the 8 lanes, for the activation quantizers. */
INL float hmax8(__m256 v)
{
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

INL float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The two halves of an element of Y in the dot-product tiles, shared by
 * ftile and lin_f_big so both do the same arithmetic: acc[r][c] (8 lanes,
 * lane l over k = l mod 8) += X rows x[r] at k .. k + 7 times the 8 weights
 * wv[c]; then the 8 lanes by hsum8 plus the tail k0 .. K - 1 in order. */
INL void fstep(__m256 acc[4][4], const float *const *x, int R, const __m256 *wv, int C, int64_t k)
{
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
		__m256 xv = _mm256_loadu_ps(x[r] + k);
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
	}
}

INL float fend(__m256 acc, const float *x, const void *w, int wtype, int64_t k0, int64_t K)
{
	float s = hsum8(acc);
	for (int64_t t = k0; t < K; t++)
		s += x[t] * load1(w, wtype, t);
	return s;
}

/* R rows of X (from m) times C rows of W (from n), all of K. */
INL void ftile(const mrt__lin *a, int wtype, int64_t m, int64_t n, int R, int C)
{
	__m256 acc[4][4];
	const float *x[4];
	const char *w[4];
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
		x[r] = a->X + (size_t)(m + r) * a->ldx;
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			acc[r][c] = _mm256_setzero_ps();
	}
#pragma GCC unroll 4
	for (int c = 0; c < C; c++)
		w[c] = (const char *)a->W + a->wrow * (size_t)(n + c);
	int64_t k = 0, K8 = a->K & ~(int64_t)7;
	for (; k < K8; k += 8) {
		__m256 wv[4];
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			wv[c] = load8(w[c], wtype, k);
		fstep(acc, x, R, wv, C, k);
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int c = 0; c < C; c++)
			mrt__lin_store(a, m + r, n + c, fend(acc[r][c], x[r], w[c], wtype, k, a->K));
}

/* Columns in steps of C (4 when fewer than 4 rows are left so the FMA units
 * stay busy, else 2), rows in tiles of 4. */
INL void lin_f_type(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
		    int64_t n1)
{
	int wide = m1 - m0 < 4;
	int64_t n = n0;
	for (; n < n1;) {
		int C = (int)(n1 - n < (wide ? 4 : 2) ? n1 - n : (wide ? 4 : 2));
		for (int64_t m = m0; m < m1;) {
			int R = (int)(m1 - m < 4 ? m1 - m : 4);
			if (R == 3 && C == 4)
				C = 3;
			switch (R * 8 + C) {
			case 4 * 8 + 2: ftile(a, wtype, m, n, 4, 2); break;
			case 4 * 8 + 1: ftile(a, wtype, m, n, 4, 1); break;
			case 3 * 8 + 3: ftile(a, wtype, m, n, 3, 3); break;
			case 3 * 8 + 2: ftile(a, wtype, m, n, 3, 2); break;
			case 3 * 8 + 1: ftile(a, wtype, m, n, 3, 1); break;
			case 2 * 8 + 4: ftile(a, wtype, m, n, 2, 4); break;
			case 2 * 8 + 3: ftile(a, wtype, m, n, 2, 3); break;
			case 2 * 8 + 2: ftile(a, wtype, m, n, 2, 2); break;
			case 2 * 8 + 1: ftile(a, wtype, m, n, 2, 1); break;
			case 1 * 8 + 4: ftile(a, wtype, m, n, 1, 4); break;
			case 1 * 8 + 3: ftile(a, wtype, m, n, 1, 3); break;
			case 1 * 8 + 2: ftile(a, wtype, m, n, 1, 2); break;
			default: ftile(a, wtype, m, n, 1, 1); break;
			}
			m += R;
		}
		n += C;
	}
}

/* ---- F32 GEMM for 16 and more rows ----
 * Y^T = W X^T in the outer-product form: a panel of 16 rows of X is packed
 * K-major (16 floats per k, GEMM_KC k at a time, on the stack), then
 * each tile of 6 W rows broadcasts one weight per row and k against the
 * panel's two vectors: 12 accumulators, 12 FMAs per 8 loads, no horizontal
 * sums. Later K blocks add their partial sums to Y. */
#define GEMM_KC 512 /* 32 KiB panel: 512 beat 256 and 1024 (single thread) */
#define GEMM_MR 16
#define GEMM_NR 6

/* 8 rows j of X (x, row stride ld) at k = 0 .. 7 into xp[16 * k + j]:
 * an 8 x 8 transpose in registers. */
INL void gemm_pack8(const float *x, size_t ld, float *xp)
{
	__m256 r[8], t[8];
#pragma GCC unroll 8
	for (int j = 0; j < 8; j++)
		r[j] = _mm256_loadu_ps(x + (size_t)j * ld);
#pragma GCC unroll 4
	for (int j = 0; j < 8; j += 2) {
		t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
		t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
	}
#pragma GCC unroll 2
	for (int j = 0; j < 8; j += 4) {
		r[j] = _mm256_shuffle_ps(t[j], t[j + 2], 0x44);
		r[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], 0xee);
		r[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0x44);
		r[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], 0xee);
	}
	/* r[0..3]: k 0-3 | 4-7 of rows 0-3; r[4..7] the same of rows 4-7 */
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		_mm256_store_ps(xp + 16 * i, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
		_mm256_store_ps(xp + 16 * (i + 4), _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
	}
}

/* xp[k][j] = X[m + j][k0 + k] for j < mr, 0 for mr <= j < 16. */
INL void gemm_pack(const mrt__lin *a, int64_t m, int mr, int64_t k0, int64_t kc, float *xp)
{
	const float *x = a->X + (size_t)m * a->ldx + k0;
	int64_t k = 0;
	if (mr == GEMM_MR)
		for (; k + 8 <= kc; k += 8) {
			gemm_pack8(x + k, a->ldx, xp + 16 * k);
			gemm_pack8(x + k + (size_t)8 * a->ldx, a->ldx, xp + 16 * k + 8);
		}
	for (; k < kc; k++)
		for (int j = 0; j < GEMM_MR; j++)
			xp[16 * k + j] = j < mr ? x[(size_t)j * a->ldx + k] : 0.0f;
}

/* W rows n .. n + NR - 1 against the panel over kc; Y rows m .. m + mr - 1. */
INL void gemm_tile(const mrt__lin *a, const float *xp, int64_t m, int mr, int64_t n, int NR,
		   int64_t k0, int64_t kc)
{
	__m256 acc[GEMM_NR][2];
	const float *w[GEMM_NR];
#pragma GCC unroll 6
	for (int i = 0; i < NR; i++) {
		w[i] = (const float *)((const char *)a->W + a->wrow * (size_t)(n + i)) + k0;
		acc[i][0] = acc[i][1] = _mm256_setzero_ps();
	}
	for (int64_t k = 0; k < kc; k++) {
		__m256 x0 = _mm256_load_ps(xp + 16 * k), x1 = _mm256_load_ps(xp + 16 * k + 8);
#pragma GCC unroll 6
		for (int i = 0; i < NR; i++) {
			__m256 b = _mm256_broadcast_ss(w[i] + k);
			acc[i][0] = _mm256_fmadd_ps(b, x0, acc[i][0]);
			acc[i][1] = _mm256_fmadd_ps(b, x1, acc[i][1]);
		}
	}
	float out[GEMM_NR][GEMM_MR];
#pragma GCC unroll 6
	for (int i = 0; i < NR; i++) {
		_mm256_storeu_ps(out[i], acc[i][0]);
		_mm256_storeu_ps(out[i] + 8, acc[i][1]);
	}
	float *y = a->Y + (size_t)m * a->ldy + n;
	if (k0 == 0 && !a->bias && !a->accumulate) {
		for (int j = 0; j < mr; j++, y += a->ldy)
#pragma GCC unroll 6
			for (int i = 0; i < NR; i++)
				y[i] = out[i][j];
	} else if (k0 > 0) {
		for (int j = 0; j < mr; j++, y += a->ldy)
#pragma GCC unroll 6
			for (int i = 0; i < NR; i++)
				y[i] += out[i][j];
	} else {
		for (int j = 0; j < mr; j++)
			for (int i = 0; i < NR; i++)
				mrt__lin_store(a, m + j, n + i, out[i][j]);
	}
}

static TGT void lin_f_gemm(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	_Alignas(32) float xp[GEMM_KC * GEMM_MR];
	for (int64_t m = m0; m < m1; m += GEMM_MR) {
		int mr = (int)(m1 - m < GEMM_MR ? m1 - m : GEMM_MR);
		for (int64_t k0 = 0; k0 < a->K; k0 += GEMM_KC) {
			int64_t kc = a->K - k0 < GEMM_KC ? a->K - k0 : GEMM_KC;
			gemm_pack(a, m, mr, k0, kc, xp);
			int64_t n = n0;
			for (; n + GEMM_NR <= n1; n += GEMM_NR)
				gemm_tile(a, xp, m, mr, n, GEMM_NR, k0, kc);
			switch (n1 - n) {
			case 5: gemm_tile(a, xp, m, mr, n, 5, k0, kc); break;
			case 4: gemm_tile(a, xp, m, mr, n, 4, k0, kc); break;
			case 3: gemm_tile(a, xp, m, mr, n, 3, k0, kc); break;
			case 2: gemm_tile(a, xp, m, mr, n, 2, k0, kc); break;
			case 1: gemm_tile(a, xp, m, mr, n, 1, k0, kc); break;
			default: break;
			}
		}
	}
}

/* ---- exact: the dot-product tiles' arithmetic for many rows ----
 * In ftile an element of Y is 8 lanes of FMA chains over k (lane l takes
 * k = l mod 8, in order), summed by hsum8, plus the scalar tail of K mod 8.
 * lin_f_big computes exactly that for ranges of 16 and more rows under
 * mrt__linear_exact, blocked for the caches: 16 rows of X, 96 rows of W and
 * 256 k at a time in 4 x 3 register tiles, the lanes kept in a buffer on the
 * stack between k blocks; the first row tile of each W tile prefetches the
 * next W tile's block. So a row of X gives the same bits alone (ftile) or
 * among hundreds. */
#ifndef BIG_MB
#define BIG_MB 16
#endif
#ifndef BIG_NB
#define BIG_NB 96
#endif
#ifndef BIG_KB
#define BIG_KB 256
#endif

/* Lanes of R rows of X (packed in xb, BIG_KB floats a row, from k0) x W
 * rows [n, n + C) over k in [k0, k0 + kc): from lanes (row j, W row i at
 * lanes + 8 * (j * BIG_NB + i)) unless first. */
INL void big_tile(const mrt__lin *a, int wtype, const float *xb, int R, int64_t n, int C,
		  int64_t k0, int64_t kc, float *lanes, int first, int prefetch)
{
	size_t esz = wtype == MRT_TYPE_F32 ? 4 : 2, pf = a->wrow * (size_t)C;
	__m256 acc[4][4];
	const float *x[4];
	const char *w[3];
#pragma GCC unroll 3
	for (int c = 0; c < C; c++)
		w[c] = (const char *)a->W + a->wrow * (size_t)(n + c);
#pragma GCC unroll 4
	for (int r = 0; r < R; r++) {
		x[r] = xb + (size_t)r * BIG_KB - k0;
#pragma GCC unroll 3
		for (int c = 0; c < C; c++)
			acc[r][c] = first ? _mm256_setzero_ps()
					  : _mm256_load_ps(lanes + 8 * (r * BIG_NB + c));
	}
	for (int64_t k = k0; k < k0 + kc; k += 8) {
		__m256 wv[3];
#pragma GCC unroll 3
		for (int c = 0; c < C; c++) {
			if (prefetch) /* the same k of the next tile's W rows */
				_mm_prefetch(w[c] + pf + (size_t)k * esz, _MM_HINT_T0);
			wv[c] = load8(w[c], wtype, k);
		}
		fstep(acc, x, R, wv, C, k);
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
#pragma GCC unroll 3
		for (int c = 0; c < C; c++)
			_mm256_store_ps(lanes + 8 * (r * BIG_NB + c), acc[r][c]);
}

INL void lin_f_big_type(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
			int64_t n1)
{
	_Alignas(32) float lanes[BIG_MB * BIG_NB * 8], xb[BIG_MB * BIG_KB];
	int64_t K8 = a->K & ~(int64_t)7;
	for (int64_t mb = m0; mb < m1; mb += BIG_MB) {
		int mr = (int)(m1 - mb < BIG_MB ? m1 - mb : BIG_MB);
		for (int64_t nb = n0; nb < n1; nb += BIG_NB) {
			int nr = (int)(n1 - nb < BIG_NB ? n1 - nb : BIG_NB);
			if (K8 == 0)
				memset(lanes, 0, sizeof(lanes));
			for (int64_t k0 = 0; k0 < K8; k0 += BIG_KB) {
				int64_t kc = K8 - k0 < BIG_KB ? K8 - k0 : BIG_KB;
				/* rows of X a power of two apart share L1 sets: pack */
				for (int j = 0; j < mr; j++)
					memcpy(xb + (size_t)j * BIG_KB,
					       a->X + (size_t)(mb + j) * a->ldx + k0,
					       sizeof(float) * (size_t)kc);
				for (int i = 0; i < nr;) {
					int C = nr - i < 3 ? nr - i : 3;
					for (int j = 0; j < mr;) {
						int R = mr - j < 4 ? mr - j : 4;
						const float *xr = xb + (size_t)j * BIG_KB;
						float *l = lanes + 8 * (j * BIG_NB + i);
						int64_t n = nb + i;
						int first = k0 == 0, pf = j == 0;
						switch (R * 8 + C) {
						case 4 * 8 + 3: big_tile(a, wtype, xr, 4, n, 3, k0, kc, l, first, pf); break;
						case 4 * 8 + 2: big_tile(a, wtype, xr, 4, n, 2, k0, kc, l, first, pf); break;
						case 4 * 8 + 1: big_tile(a, wtype, xr, 4, n, 1, k0, kc, l, first, pf); break;
						case 3 * 8 + 3: big_tile(a, wtype, xr, 3, n, 3, k0, kc, l, first, pf); break;
						case 3 * 8 + 2: big_tile(a, wtype, xr, 3, n, 2, k0, kc, l, first, pf); break;
						case 3 * 8 + 1: big_tile(a, wtype, xr, 3, n, 1, k0, kc, l, first, pf); break;
						case 2 * 8 + 3: big_tile(a, wtype, xr, 2, n, 3, k0, kc, l, first, pf); break;
						case 2 * 8 + 2: big_tile(a, wtype, xr, 2, n, 2, k0, kc, l, first, pf); break;
						case 2 * 8 + 1: big_tile(a, wtype, xr, 2, n, 1, k0, kc, l, first, pf); break;
						case 1 * 8 + 3: big_tile(a, wtype, xr, 1, n, 3, k0, kc, l, first, pf); break;
						case 1 * 8 + 2: big_tile(a, wtype, xr, 1, n, 2, k0, kc, l, first, pf); break;
						default: big_tile(a, wtype, xr, 1, n, 1, k0, kc, l, first, pf); break;
						}
						j += R;
					}
					i += C;
				}
			}
			/* fend, as ftile ends */
			for (int j = 0; j < mr; j++) {
				const float *x = a->X + (size_t)(mb + j) * a->ldx;
				for (int i = 0; i < nr; i++) {
					const char *w = (const char *)a->W + a->wrow * (size_t)(nb + i);
					__m256 l = _mm256_load_ps(lanes + 8 * (j * BIG_NB + i));
					mrt__lin_store(a, mb + j, nb + i, fend(l, x, w, wtype, K8, a->K));
				}
			}
		}
	}
}

static TGT void lin_f_big(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	switch (a->wtype) {
	case MRT_TYPE_F16: lin_f_big_type(a, MRT_TYPE_F16, m0, m1, n0, n1); break;
	case MRT_TYPE_BF16: lin_f_big_type(a, MRT_TYPE_BF16, m0, m1, n0, n1); break;
	default: lin_f_big_type(a, MRT_TYPE_F32, m0, m1, n0, n1); break;
	}
}

/* F32 ranges of at least 16 rows and GEMM_NR columns take the GEMM; the
 * rest (N = 1 output layers among them) the dot-product tiles above. Under
 * a->exact (mrt__linear_exact) 16 and more rows take lin_f_big instead. */
static TGT void lin_f(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	if (a->exact && m1 - m0 >= BIG_MB) {
		lin_f_big(a, m0, m1, n0, n1);
		return;
	}
	if (!a->exact && a->wtype == MRT_TYPE_F32 && m1 - m0 >= GEMM_MR && n1 - n0 >= GEMM_NR) {
		lin_f_gemm(a, m0, m1, n0, n1);
		return;
	}
	switch (a->wtype) {
	case MRT_TYPE_F16: lin_f_type(a, MRT_TYPE_F16, m0, m1, n0, n1); break;
	case MRT_TYPE_BF16: lin_f_type(a, MRT_TYPE_BF16, m0, m1, n0, n1); break;
	default: lin_f_type(a, MRT_TYPE_F32, m0, m1, n0, n1); break;
	}
}

/* ---- F32/F16/BF16, 2 to 15 rows of X, on AVX-512 ----
 * ftile with 512-bit vectors: a vector holds the 8 lanes of two elements of
 * Y (W rows c and c + 1 in its halves) and X's 8 floats broadcast to both,
 * so each element's lanes take the FMAs ftile gives them in the same order,
 * then the same fend: the same bytes as ftile, in half the instructions.
 * R rows of X (from m) against W rows n .. n + 3. */
#define TGT512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,f16c")))
static inline __attribute__((always_inline)) TGT512 void ftile_zmm(const mrt__lin *a, int wtype,
                                                                   int64_t m, int64_t n, int R)
{
	__m512 acc[8][2];
	const float *x[8];
	const char *w[4];
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		x[r] = a->X + (size_t)(m + r) * a->ldx;
		acc[r][0] = acc[r][1] = _mm512_setzero_ps();
	}
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++)
		w[c] = (const char *)a->W + a->wrow * (size_t)(n + c);
	int64_t k = 0, K8 = a->K & ~(int64_t)7;
	for (; k < K8; k += 8) {
		__m512 w01 = _mm512_insertf32x8(_mm512_castps256_ps512(load8(w[0], wtype, k)),
		                                load8(w[1], wtype, k), 1);
		__m512 w23 = _mm512_insertf32x8(_mm512_castps256_ps512(load8(w[2], wtype, k)),
		                                load8(w[3], wtype, k), 1);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			__m512 xv = _mm512_broadcast_f32x8(_mm256_loadu_ps(x[r] + k));
			acc[r][0] = _mm512_fmadd_ps(xv, w01, acc[r][0]);
			acc[r][1] = _mm512_fmadd_ps(xv, w23, acc[r][1]);
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
#pragma GCC unroll 4
		for (int c = 0; c < 4; c++) {
			__m256 h = c & 1 ? _mm512_extractf32x8_ps(acc[r][c >> 1], 1)
			                 : _mm512_castps512_ps256(acc[r][c >> 1]);
			mrt__lin_store(a, m + r, n + c, fend(h, x[r], w[c], wtype, k, a->K));
		}
}

static inline __attribute__((always_inline)) TGT512 void
lin_f_zmm_type(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	int64_t n4 = n0 + (n1 - n0) / 4 * 4;
	for (int64_t n = n0; n < n4; n += 4)
		for (int64_t m = m0; m < m1;) {
			int R = (int)(m1 - m < 8 ? m1 - m : 8);
			switch (R) {
			case 8:
				ftile_zmm(a, wtype, m, n, 8);
				break;
			case 7:
				ftile_zmm(a, wtype, m, n, 7);
				break;
			case 6:
				ftile_zmm(a, wtype, m, n, 6);
				break;
			case 5:
				ftile_zmm(a, wtype, m, n, 5);
				break;
			case 4:
				ftile_zmm(a, wtype, m, n, 4);
				break;
			case 3:
				ftile_zmm(a, wtype, m, n, 3);
				break;
			case 2:
				ftile_zmm(a, wtype, m, n, 2);
				break;
			default:
				ftile_zmm(a, wtype, m, n, 1);
				break;
			}
			m += R;
		}
	if (n4 < n1) /* the last 1-3 W rows: ftile, the same arithmetic */
		lin_f_type(a, wtype, m0, m1, n4, n1);
}

/* lin_f of the AVX-512 levels: 2 to 15 rows of X through ftile_zmm (one
 * row stays on ftile, bound by memory; measured, see tests/bench). */
TGT512 void mrt__lin_f_avx512(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	if (m1 - m0 < 2 || m1 - m0 >= BIG_MB) {
		lin_f(a, m0, m1, n0, n1);
		return;
	}
	switch (a->wtype) {
	case MRT_TYPE_F16:
		lin_f_zmm_type(a, MRT_TYPE_F16, m0, m1, n0, n1);
		break;
	case MRT_TYPE_BF16:
		lin_f_zmm_type(a, MRT_TYPE_BF16, m0, m1, n0, n1);
		break;
	default:
		lin_f_zmm_type(a, MRT_TYPE_F32, m0, m1, n0, n1);
		break;
	}
}

/* ---- Q8_0 / Q4_0 ---- */

/* Both types take 8 weight rows at once, one row per lane, so each element
 * of Y is computed as: for each block b in order, the exact int32 dot
 * product of the block's weights with its Q8X activations, then
 * acc = fma((float)dot, d_w * d_x, acc) from 0. Every tile below does that,
 * so batching changes no result (test_kernels, test_llama).
 *
 * qtile, R rows of X against weight rows n .. n + 7: block b of the 8
 * rows is transposed by 4-byte groups, so vector t holds k = 4t .. 4t + 3
 * of all 8 rows, and each maddubs takes it against 4 bytes of x broadcast
 * to every lane. Q4_0 keeps its nibbles unsigned (0..15, t < 4 the low
 * nibbles, t >= 4 the high ones): the 8 products add up in int16
 * (|sum| <= 8 * 2 * 15 * 127 = 30480), one madd makes lane j the block's
 * q_j . x, and the stored 8 x sum(x) of the block (Q8X) turns it into
 * (q_j - 8) . x. Q8_0 uses the sign trick (|w| times x with w's sign) and
 * one madd per product, whose int16 pairs reach 2 * 127 * 127. Rows past C
 * repeat row C - 1; their lanes are dropped. While it reads one group of
 * 8 rows, the tile prefetches the next group linearly (8 blocks' bytes a
 * block): 8 row streams left to the hardware prefetchers ran at about 60%
 * of the memory bandwidth. For one row of X, h > 0 splits the group: lanes
 * 0-3 take rows n .. n + 3 and lanes 4-7 rows n + h .. n + h + 3, so the
 * two halves of a task's rows are read and prefetched as two streams side
 * by side (Q8_0 from memory, 2 threads: about 1.2x the one stream). */
#define QT_R 8
INL void qtile_s(const mrt__lin *a, int wtype, int64_t m, int R, int64_t n, int C, int prefetch,
                 int64_t h)
{
	__m256 acc[QT_R];
	const int8_t *xq[QT_R];
	const float *xd[QT_R];
	const int32_t *xs[QT_R];
	size_t dofs = mrt__q8x_dofs(a->K), sofs = mrt__q8x_sofs(a->K);
	const int q8 = wtype == MRT_TYPE_Q8_0;
	const size_t bsz = q8 ? 34 : 18;
	const uint8_t *w0 = (const uint8_t *)a->W + a->wrow * (size_t)n;
	const char *next = (const char *)w0 + (h ? 4 : 8) * a->wrow;
	const char *next2 = (const char *)w0 + (size_t)(h + 4) * a->wrow;
	int off[8];
	const __m256i voff =
	    h ? mrt__lane_rows_split(a->wrow, h, off) : mrt__lane_rows(a->wrow, C, off);
	const __m256i ones = _mm256_set1_epi16(1), lo4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		xq[r] = (const int8_t *)(a->xq + a->xq_row * (size_t)(m + r));
		xd[r] = (const float *)((const uint8_t *)xq[r] + dofs);
		xs[r] = (const int32_t *)((const uint8_t *)xq[r] + sofs);
		acc[r] = _mm256_setzero_ps();
	}
	int64_t nb = a->K / 32;
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = w0 + (size_t)b * bsz;
		if (h) {
			mrt__lane_prefetch(next, b, 4 * bsz);
			mrt__lane_prefetch(next2, b, 4 * bsz);
		} else if (prefetch)
			mrt__lane_prefetch(next, b, 8 * bsz);
		__m256 dw = mrt__lane_f16(_mm256_i32gather_epi32((const int *)blk, voff, 1), 0);
		__m256i V[8], aV[8];
		/* 4 x 4 transposes of 4-byte groups, rows j and j + 4 side by side */
		for (int h = 0; h < (q8 ? 2 : 1); h++)
			mrt__lanes16(blk + 2 + 16 * h, off, V + 4 * h);
		if (q8) {
#pragma GCC unroll 8
			for (int t = 0; t < 8; t++)
				aV[t] = _mm256_sign_epi8(V[t], V[t]);
		} else {
#pragma GCC unroll 4
			for (int t = 0; t < 4; t++) {
				V[t + 4] = _mm256_and_si256(_mm256_srli_epi16(V[t], 4), lo4);
				V[t] = _mm256_and_si256(V[t], lo4);
			}
		}
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			const int8_t *x = xq[r] + b * 32;
			__m256i i;
			if (q8) {
				i = _mm256_setzero_si256();
#pragma GCC unroll 8
				for (int t = 0; t < 8; t++) {
					int32_t x4;
					memcpy(&x4, x + 4 * t, 4);
					__m256i p = _mm256_maddubs_epi16(
					    aV[t], _mm256_sign_epi8(_mm256_set1_epi32(x4), V[t]));
					i = _mm256_add_epi32(i, _mm256_madd_epi16(p, ones));
				}
			} else {
				__m256i s = mrt__lane_dotu(V, x, 8);
				i = _mm256_sub_epi32(_mm256_madd_epi16(s, ones),
						     _mm256_set1_epi32(xs[r][b]));
			}
			acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i),
						 _mm256_mul_ps(dw, _mm256_broadcast_ss(xd[r] + b)), acc[r]);
		}
	}
	if (h)
		mrt__lane_store_split(a, m, n, h, acc[0]);
	else
		mrt__lane_store(a, m, R, n, C, acc);
}

INL void qtile(const mrt__lin *a, int wtype, int64_t m, int R, int64_t n, int C, int prefetch)
{
	qtile_s(a, wtype, m, R, n, C, prefetch, 0);
}

/* Q8_0, one row of X against weight rows n .. n + 7: qtile's arithmetic
 * without the transpose of W (which made one stream about 10% slower):
 * each row's 8 partial sums of a block reduce in a transpose-and-add tree
 * to one lane per row. Still about 6% fewer tokens/s for one stream than
 * the former one-row kernel, whose 8 float lanes per element no multi-row
 * tile shared (see tests/bench/README.md). */
INL void q8row_s(const mrt__lin *a, int64_t m, int64_t n, int C, int prefetch, int64_t h)
{
	size_t dofs = mrt__q8x_dofs(a->K);
	const int8_t *xq = (const int8_t *)(a->xq + a->xq_row * (size_t)m);
	const float *xd = (const float *)((const uint8_t *)xq + dofs);
	const uint8_t *w0 = (const uint8_t *)a->W + a->wrow * (size_t)n;
	const char *next = (const char *)w0 + (h ? 4 : 8) * a->wrow;
	const char *next2 = (const char *)w0 + (size_t)(h + 4) * a->wrow;
	int off[8];
	const __m256i voff =
	    h ? mrt__lane_rows_split(a->wrow, h, off) : mrt__lane_rows(a->wrow, C, off);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc = _mm256_setzero_ps();
	int64_t nb = a->K / 32;
	for (int64_t b = 0; b < nb; b++) {
		const uint8_t *blk = w0 + (size_t)b * 34;
		if (h) {
			mrt__lane_prefetch(next, b, 4 * 34);
			mrt__lane_prefetch(next2, b, 4 * 34);
		} else if (prefetch)
			mrt__lane_prefetch(next, b, 8 * 34);
		__m256 dw = mrt__lane_f16(_mm256_i32gather_epi32((const int *)blk, voff, 1), 0);
		__m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
		__m256i P[8];
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++) {
			__m256i w = _mm256_loadu_si256((const __m256i *)(blk + off[j] + 2));
			P[j] = _mm256_madd_epi16(
			    _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w)), ones);
		}
		/* lane j of i: the sum of P[j]'s 8 lanes */
		__m256i A[4], B[2];
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++)
			A[j] = _mm256_add_epi32(_mm256_unpacklo_epi32(P[2 * j], P[2 * j + 1]),
						_mm256_unpackhi_epi32(P[2 * j], P[2 * j + 1]));
#pragma GCC unroll 2
		for (int j = 0; j < 2; j++)
			B[j] = _mm256_add_epi32(_mm256_unpacklo_epi64(A[2 * j], A[2 * j + 1]),
						_mm256_unpackhi_epi64(A[2 * j], A[2 * j + 1]));
		__m256i i = _mm256_add_epi32(_mm256_permute2x128_si256(B[0], B[1], 0x20),
					     _mm256_permute2x128_si256(B[0], B[1], 0x31));
		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i),
				      _mm256_mul_ps(dw, _mm256_broadcast_ss(xd + b)), acc);
	}
	if (h) {
		mrt__lane_store_split(a, m, n, h, acc);
		return;
	}
	float v[8];
	_mm256_storeu_ps(v, acc);
	for (int j = 0; j < C; j++)
		mrt__lin_store(a, m, n + j, v[j]);
}

INL void q8row(const mrt__lin *a, int64_t m, int64_t n, int C, int prefetch)
{
	q8row_s(a, m, n, C, prefetch, 0);
}

INL void lin_q_type(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
		    int64_t n1)
{
	/* One row of X: the rows of W in two halves read side by side, each a
	 * stream prefetched ahead (lane offsets are ints: chunks of W below
	 * 2 GiB). */
	int64_t cap = (int64_t)(INT_MAX / a->wrow) - 8;
	while (m1 - m0 == 1 && n1 - n0 >= 8 && cap >= 8) {
		int64_t h = ((n1 - n0 < cap ? n1 - n0 : cap) / 8) * 4;
		for (int64_t t = 0; t < h; t += 4) {
			if (wtype == MRT_TYPE_Q8_0)
				q8row_s(a, m0, n0 + t, 8, 1, h);
			else
				qtile_s(a, wtype, m0, 1, n0 + t, 8, 1, h);
		}
		n0 += 2 * h;
	}
	for (int64_t n = n0; n < n1; n += 8) {
		int C = n1 - n < 8 ? (int)(n1 - n) : 8;
		int prefetch = n + 16 <= n1;
		for (int64_t m = m0; m < m1;) {
			int R = m1 - m < QT_R ? (int)(m1 - m) : QT_R;
			switch (R) {
			case 8: qtile(a, wtype, m, 8, n, C, prefetch); break;
			case 7: qtile(a, wtype, m, 7, n, C, prefetch); break;
			case 6: qtile(a, wtype, m, 6, n, C, prefetch); break;
			case 5: qtile(a, wtype, m, 5, n, C, prefetch); break;
			case 4: qtile(a, wtype, m, 4, n, C, prefetch); break;
			case 3: qtile(a, wtype, m, 3, n, C, prefetch); break;
			case 2: qtile(a, wtype, m, 2, n, C, prefetch); break;
			default:
				if (wtype == MRT_TYPE_Q8_0)
					q8row(a, m, n, C, prefetch);
				else
					qtile(a, wtype, m, 1, n, C, prefetch);
				break;
			}
			m += R;
		}
	}
}

static TGT void lin_q(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	if (a->wtype == MRT_TYPE_Q8_0)
		lin_q_type(a, MRT_TYPE_Q8_0, m0, m1, n0, n1);
	else
		lin_q_type(a, MRT_TYPE_Q4_0, m0, m1, n0, n1);
}

/* Sum of the 8 int32 lanes of v. */
INL int hsum_epi32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return _mm_cvtsi128_si32(s);
}

/* Same bytes as the generic quantizer: d = amax / 127, q = nearbyint(x / d
 * computed as x * (1 / d)), ties to even. */
static TGT void quant_x(const mrt__lin *a, int64_t m0, int64_t m1)
{
	int64_t nb = a->K / 32;
	size_t dofs = mrt__q8x_dofs(a->K), sofs = mrt__q8x_sofs(a->K);
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	for (int64_t m = m0; m < m1; m++) {
		const float *x = a->X + (size_t)m * a->ldx;
		int8_t *q = (int8_t *)(a->xq + a->xq_row * (size_t)m);
		float *d = (float *)((uint8_t *)q + dofs);
		int32_t *sum = (int32_t *)((uint8_t *)q + sofs);
		for (int64_t b = 0; b < nb; b++, x += 32, q += 32) {
			__m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
			__m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
			__m256 mx = _mm256_max_ps(
				_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
				_mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
			float amax = hmax8(mx);
			d[b] = amax / 127.0f;
			__m256 id = _mm256_set1_ps(amax > 0.0f ? 1.0f / d[b] : 0.0f);
			__m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), KQ_ROUND));
			__m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), KQ_ROUND));
			__m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), KQ_ROUND));
			__m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), KQ_ROUND));
			/* packs interleave 128-bit lanes; the permute restores order */
			__m256i s01 = _mm256_packs_epi32(i0, i1), s23 = _mm256_packs_epi32(i2, i3);
			__m256i s = _mm256_packs_epi16(s01, s23);
			s = _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
			s = _mm256_max_epi8(s, _mm256_set1_epi8(-127));
			_mm256_storeu_si256((__m256i *)q, s);
			sum[b] = 8 * hsum_epi32(_mm256_madd_epi16(
					 _mm256_maddubs_epi16(_mm256_set1_epi8(1), s), _mm256_set1_epi16(1)));
		}
	}
}


/* ggml's Q8_K quantizer with the bytes of mrt_quantize(MRT_TYPE_Q8_K) for
 * finite x: max = the first x of largest magnitude, q = x * -127 / max
 * rounded to nearest even (cvtps under the default rounding mode, as
 * nearbyintf), d = max / -127, bsums per 16. */
TGT void mrt__quant_k_avx2(const float *x, mrt__q8k *b, int64_t nb)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	for (int64_t i = 0; i < nb; i++, x += MRT__QKK, b++) {
		__m256 mx = _mm256_setzero_ps();
		for (int j = 0; j < MRT__QKK; j += 8) /* a NaN lane keeps mx */
			mx = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), absmask), mx);
		float amax = hmax8(mx), max = 0.0f;
		memset(b, 0, sizeof(*b));
		if (amax == 0.0f)
			continue;
		__m256 va = _mm256_set1_ps(amax);
		for (int j = 0; j < MRT__QKK; j += 8) {
			__m256 e = _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), absmask), va,
						 _CMP_EQ_OQ);
			int hit = _mm256_movemask_ps(e);
			if (hit) {
				max = x[j + __builtin_ctz((unsigned)hit)];
				break;
			}
		}
		float iscale = -127.0f / max;
		__m256 is = _mm256_set1_ps(iscale);
		for (int j = 0; j < MRT__QKK; j += 32) {
			__m256i q[4];
#pragma GCC unroll 4
			for (int u = 0; u < 4; u++)
				q[u] = _mm256_cvtps_epi32(
				    _mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * u), is));
			/* |q| <= 127: the packs do not saturate */
			__m256i s = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
						       _mm256_packs_epi32(q[2], q[3]));
			s = _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
			_mm256_storeu_si256((__m256i *)(b->qs + j), s);
			/* the sums of 16: pairs (maddubs by 1), fours (madd), then
			 * two horizontal adds within each 128-bit half */
			__m256i t = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), s),
			                              _mm256_set1_epi16(1));
			t = _mm256_hadd_epi32(t, t);
			t = _mm256_hadd_epi32(t, t);
			b->bsums[j / 16] = (int16_t)_mm256_extract_epi32(t, 0);
			b->bsums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(t, 4);
		}
		b->d = 1.0f / iscale;
	}
}

static TGT void quant_k(const mrt__lin *a, int64_t m0, int64_t m1)
{
	for (int64_t m = m0; m < m1; m++)
		mrt__quant_k_avx2(a->X + (size_t)m * a->ldx,
				  (mrt__q8k *)(a->xq + a->xq_row * (size_t)m), a->K / MRT__QKK);
}

/* F16 (F16C) or BF16 (shift) to F32, for the sgemm panels. */
static TGT void expand(int wtype, const uint16_t *src, float *dst, int64_t n)
{
	int64_t i = 0;
	if (wtype == MRT_TYPE_F16) {
		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(dst + i, load8(src, MRT_TYPE_F16, i));
	} else {
		for (; i + 8 <= n; i += 8)
			_mm256_storeu_ps(dst + i, load8(src, MRT_TYPE_BF16, i));
	}
	for (; i < n; i++)
		dst[i] = load1(src, wtype, i);
}

const mrt__kern mrt__kern_avx2 = {lin_f, lin_q, mrt__lin_k_avx2, quant_x, quant_k, expand};
