/* Pieces of the int8 kernels: the prefetch distance of the one-row
 * k-quant kernel; the row offsets, prefetch, scales, transpose, dot
 * product and store of the 8-rows-per-lane tiles; a Q8_0/Q4_0 block for
 * the AVX-512 kernels. Included by the SIMD files only; the AVX2-targeted
 * functions inline into AVX-512 callers (a subset of their ISA). */
#ifndef MRT_KERNELS_Q8_H
#define MRT_KERNELS_Q8_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels_impl.h"
#include "mrt_gguf.h"

/* Software prefetch distance in bytes of W: the hardware prefetchers alone
 * leave the int8 kernels at about half the memory bandwidth on a decode
 * step (M = 1), which reads each weight once. 2 KiB ahead was best of
 * 1-16 KiB for the row stream on AVX2 hosts measured (tests/bench). */
#define MRT__W_PREFETCH 2048

/* The first multiple of tile at dist bytes or beyond: how far ahead a tile
 * that reads tile bytes at a time prefetches, whole tiles on. */
static inline size_t mrt__prefetch_whole(size_t dist, size_t tile)
{
	return (dist + tile - 1) / tile * tile;
}

/* A tile that reads `tile` bytes of W rows side by side prefetches the same
 * offset whole tiles on, from MRT__W_PREFETCH. */
static inline size_t mrt__tile_prefetch(size_t tile)
{
	return mrt__prefetch_whole(MRT__W_PREFETCH, tile);
}

/* The packed tiles (kernels_impl.h layout) read a group of 16 rows as one
 * stream and prefetch the first whole record at MRT__PACK_PREFETCH bytes
 * or beyond. At MRT__W_PREFETCH that was one or two records (2.2-3.4 KiB
 * for the k-quants), less than a core reads in one memory latency when it
 * streams weights at M = 1; 4 KiB ran Q4_0 and Q4_K 1.03-1.06x at one
 * stream and 1.01-1.09x at 8, Q8_0 0.94-1.02x at one (quartiles across
 * 1.0) and 1.03x at 8 (12-30 interleaved rounds a figure, noisy host;
 * tests/bench/README.md); 8 and 16 KiB were no better. */
#define MRT__PACK_PREFETCH 4096
static inline size_t mrt__pack_prefetch(size_t rec)
{
	return mrt__prefetch_whole(MRT__PACK_PREFETCH, rec);
}

/* The tiles that take 8 weight rows at once, one row per lane (AVX2
 * Q8_0/Q4_0, and Q4_K/Q5_K on every SIMD level): the byte offsets of rows
 * n .. n + 7 from row n, rows past C repeating row C - 1, in off and as a
 * vector for gathers. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
mrt__lane_rows(size_t wrow, int C, int off[8])
{
	for (int j = 0; j < 8; j++)
		off[j] = (int)(wrow * (size_t)(j < C ? j : C - 1));
	return _mm256_loadu_si256((const __m256i *)off);
}

/* The same for a split group: lanes 0-3 rows n .. n + 3, lanes 4-7 rows
 * n + h .. n + h + 3. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
mrt__lane_rows_split(size_t wrow, int64_t h, int off[8])
{
	for (int j = 0; j < 8; j++)
		off[j] = (int)(wrow * (size_t)(j < 4 ? j : h + j - 4));
	return _mm256_loadu_si256((const __m256i *)off);
}

/* Lane j (0-15) of step t of a one-row pass over two streams of 8 weight
 * rows: lanes 0-7 read rows n0 + t .., lanes 8-15 rows n0 + h + t ... */
static inline int64_t mrt__split_row(int64_t n0, int64_t h, int64_t t, int j)
{
	return n0 + t + (j < 8 ? j : h + j - 8);
}

/* The start of such a pass (h > 0 rows a stream), asked for at once: up
 * to 512 bytes of each of its first 16 rows, which the first tile reads
 * first. A tile's own prefetch reaches only the next tile, so a chunk
 * otherwise starts with a run of demand misses, and a decoding step's
 * chunks are short. Measured on the Zen 5 host, 2 threads, weights from
 * memory: Q4_K 768 x 768 8.4-9.1 us against 9.4-10.3 in one set of
 * rounds, no clear change in another (4096 rows: no change). One 110M
 * Q4_K_M stream: medians of the interleaved rounds' ratios 1.015-1.09x in
 * six sets of 12-30 and 0.94x in one (that one and two of the six against
 * a build without the attention prefetch of the same session), quartiles
 * about 0.95-1.10 (the host's memory is shared); Q8_0 1.03-1.06x, Q4_0
 * 0.99x. */
static inline __attribute__((always_inline)) void mrt__streams_start(const mrt__lin *a, int64_t n0,
                                                                     int64_t h)
{
	size_t bytes = a->wrow < 512 ? a->wrow : 512;
	for (int j = 0; j < 16 && h > 0; j++) {
		const char *row =
		    (const char *)a->W + a->wrow * (size_t)mrt__split_row(n0, h, 0, j);
		for (size_t o = 0; o < bytes; o += 64)
			_mm_prefetch(row + o, _MM_HINT_T0);
	}
}

/* While a tile reads block b of one group of rows, it prefetches the next
 * group linearly, `bytes` (the group's blocks) a block: 8 row streams left
 * to the hardware prefetchers ran at about 60% of the memory bandwidth. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) void
mrt__lane_prefetch(const char *next, int64_t b, size_t bytes)
{
	const char *p = next + (size_t)b * bytes;
	for (size_t o = 0; o < bytes; o += 64)
		_mm_prefetch(p + o, _MM_HINT_T0);
}

/* The f16 at byte `at` (0 or 2) of each dword of g, gathered from the 8
 * rows' blocks (lane j: row j), as floats. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256
mrt__lane_f16(__m256i g, int at)
{
	const __m256i lo =
	    _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5,
	                     8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
	const __m256i hi =
	    _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6, 7,
	                     10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
	g = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(g, at ? hi : lo), 0x08);
	return _mm256_cvtph_ps(_mm256_castsi256_si128(g));
}

/* V[0..3]: the 4-byte groups 0 .. 3 of the 16 bytes at p + off[j] of the 8
 * rows; lane j holds row j. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) void
mrt__lanes16(const uint8_t *p, const int *off, __m256i *V)
{
	__m256i A[4];
#pragma GCC unroll 4
	for (int j = 0; j < 4; j++)
		A[j] = _mm256_inserti128_si256(
		    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + off[j]))),
		    _mm_loadu_si128((const __m128i *)(p + off[j + 4])), 1);
	__m256i T0 = _mm256_unpacklo_epi32(A[0], A[1]), T1 = _mm256_unpackhi_epi32(A[0], A[1]);
	__m256i T2 = _mm256_unpacklo_epi32(A[2], A[3]), T3 = _mm256_unpackhi_epi32(A[2], A[3]);
	V[0] = _mm256_unpacklo_epi64(T0, T2);
	V[1] = _mm256_unpackhi_epi64(T0, T2);
	V[2] = _mm256_unpacklo_epi64(T1, T3);
	V[3] = _mm256_unpackhi_epi64(T1, T3);
}

/* The int16 sums over t < n of maddubs(V[t], x[4t .. 4t + 3] broadcast),
 * for n vectors V of unsigned weights (8 of 0..15: |sum| <= 16 x 15 x 128
 * = 30720; 4 of 0..31: 31744): lane j holds the two halves of row j's dot
 * product with x[0 .. 4n - 1]. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
mrt__lane_dotu(const __m256i *V, const int8_t *x, int n)
{
	__m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
	for (int t = 0; t < n; t++) {
		int32_t x4;
		memcpy(&x4, x + 4 * t, 4);
		s = _mm256_add_epi16(s, _mm256_maddubs_epi16(V[t], _mm256_set1_epi32(x4)));
	}
	return s;
}

/* Store lanes j < C of R accumulators: Y[m + r][n + j]. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) void
mrt__lane_store(const mrt__lin *a, int64_t m, int R, int64_t n, int C, const __m256 *acc)
{
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		float v[8];
		_mm256_storeu_ps(v, acc[r]);
		for (int j = 0; j < C; j++)
			mrt__lin_store(a, m + r, n + j, v[j]);
	}
}

static inline __attribute__((always_inline, target("avx2,fma,f16c"))) void
mrt__lane_store_split(const mrt__lin *a, int64_t m, int64_t n, int64_t h, __m256 acc)
{
	float v[8];
	_mm256_storeu_ps(v, acc);
	for (int j = 0; j < 8; j++)
		mrt__lin_store(a, m, n + (j < 4 ? j : h + j - 4), v[j]);
}

/* Store out[r][j], r < R, j < C, as Y[m + r][n + j] (mrt__lin_store): 16
 * columns at once in a 512-bit vector when C is 16. Stored one float at a
 * time, a tile's 8 x 16 results were reloaded from the vector store just
 * made: packed Q4_K, one thread in L2, 1024 x 768, M = 8: 37 -> 32 us.
 * (mrt__split_store16's two 8-float stores per row instead of the one
 * 512-bit store here ran packed Q4_0 at M = 1 5.8 -> 7.1 us.) */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
    mrt__tile_store16(const mrt__lin *a, int64_t m, int R, int64_t n, int C, const float (*out)[16])
{
	if (C < 16) {
		for (int r = 0; r < R; r++)
			for (int j = 0; j < C; j++)
				mrt__lin_store(a, m + r, n + j, out[r][j]);
		return;
	}
	for (int r = 0; r < R; r++) {
		float *y = a->Y + (size_t)(m + r) * a->ldy + n;
		__m512 v = _mm512_loadu_ps(out[r]);
		if (a->bias)
			v = _mm512_add_ps(v, _mm512_loadu_ps(a->bias + n));
		if (a->accumulate)
			v = _mm512_add_ps(_mm512_loadu_ps(y), v);
		_mm512_storeu_ps(y, v);
	}
}

/* Store a two-stream tile's 16 results (lanes 0-7: rows n0 + t .., lanes
 * 8-15: rows n0 + h + t .., mrt__split_row) of row m of X, 8 at a time. */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
    mrt__split_store16(const mrt__lin *a, int64_t m, int64_t n0, int64_t h, int64_t t,
                       const float out[16])
{
	for (int s = 0; s < 2; s++) {
		int64_t n = n0 + t + (s ? h : 0);
		float *y = a->Y + (size_t)m * a->ldy + n;
		__m256 v = _mm256_loadu_ps(out + 8 * s);
		if (a->bias)
			v = _mm256_add_ps(v, _mm256_loadu_ps(a->bias + n));
		if (a->accumulate)
			v = _mm256_add_ps(_mm256_loadu_ps(y), v);
		_mm256_storeu_ps(y, v);
	}
}

/* The one-weight-row-per-lane tiles of AVX-512 VNNI (16 rows): T[t] lane j
 * holds the 4-byte group t of the 32 bytes at rp[j] + at (t < 8). Rows i
 * and i + 8 share a vector, then an 8 x 8 transpose of 4-byte groups in
 * each half. */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
    mrt__lanes32x16(const uint8_t *const rp[16], size_t at, __m512i T[8])
{
	const __m512i lo2 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
	const __m512i hi2 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
	__m512i Z[8], U[8];
#pragma GCC unroll 8
	for (int i = 0; i < 8; i++)
		Z[i] = _mm512_inserti64x4(
		    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(rp[i] + at))),
		    _mm256_loadu_si256((const __m256i *)(rp[i + 8] + at)), 1);
#pragma GCC unroll 4
	for (int i = 0; i < 8; i += 2) {
		U[i] = _mm512_unpacklo_epi32(Z[i], Z[i + 1]);
		U[i + 1] = _mm512_unpackhi_epi32(Z[i], Z[i + 1]);
	}
#pragma GCC unroll 2
	for (int i = 0; i < 8; i += 4) {
		Z[i] = _mm512_unpacklo_epi64(U[i], U[i + 2]);
		Z[i + 1] = _mm512_unpackhi_epi64(U[i], U[i + 2]);
		Z[i + 2] = _mm512_unpacklo_epi64(U[i + 1], U[i + 3]);
		Z[i + 3] = _mm512_unpackhi_epi64(U[i + 1], U[i + 3]);
	}
#pragma GCC unroll 4
	for (int t = 0; t < 4; t++) {
		T[t] = _mm512_permutex2var_epi64(Z[t], lo2, Z[t + 4]);
		T[t + 4] = _mm512_permutex2var_epi64(Z[t], hi2, Z[t + 4]);
	}
}

/* The same for 16 bytes a row: T[t] lane j holds group t of rp[j] + at
 * (t < 4). Rows i, i + 4, i + 8, i + 12 share a vector, then a 4 x 4
 * transpose in each 128-bit lane. */
static inline
    __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))) void
    mrt__lanes16x16(const uint8_t *const rp[16], size_t at, __m512i T[4])
{
	__m512i Z[4], U[4];
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		__m256i lo = _mm256_inserti128_si256(
		    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(rp[i] + at))),
		    _mm_loadu_si128((const __m128i *)(rp[i + 4] + at)), 1);
		__m256i hi = _mm256_inserti128_si256(
		    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(rp[i + 8] + at))),
		    _mm_loadu_si128((const __m128i *)(rp[i + 12] + at)), 1);
		Z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
	}
	U[0] = _mm512_unpacklo_epi32(Z[0], Z[1]);
	U[1] = _mm512_unpackhi_epi32(Z[0], Z[1]);
	U[2] = _mm512_unpacklo_epi32(Z[2], Z[3]);
	U[3] = _mm512_unpackhi_epi32(Z[2], Z[3]);
	T[0] = _mm512_unpacklo_epi64(U[0], U[2]);
	T[1] = _mm512_unpackhi_epi64(U[0], U[2]);
	T[2] = _mm512_unpacklo_epi64(U[1], U[3]);
	T[3] = _mm512_unpackhi_epi64(U[1], U[3]);
}

/* Block b of a Q8_0 or Q4_0 weight row as 32 signed int8 and its scale. */
static inline __attribute__((always_inline, target("avx2,fma,f16c"))) __m256i
mrt__q8_wblock(int wtype, const uint8_t *row, int64_t b, float *d)
{
	if (wtype == MRT_TYPE_Q8_0) {
		const uint8_t *blk = row + (size_t)b * 34;
		*d = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
		return _mm256_loadu_si256((const __m256i *)(blk + 2));
	}
	const uint8_t *blk = row + (size_t)b * 18;
	*d = _cvtsh_ss((uint16_t)(blk[0] | blk[1] << 8));
	/* the 16 bytes in both lanes, the high lane shifted down a nibble */
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
	v = _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)),
			     _mm256_set1_epi8(0x0f));
	return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

/* Four signed bytes at p, as a dword. */
typedef struct mrt__i8x4 {
	int8_t b[4];
} mrt__i8x4;

/* acc + vpdpbusd(w, the four signed bytes at p in every dword): the
 * broadcast folded into the instruction as its {1to16} memory operand.
 * Written with _mm512_set1_epi32, GCC 12 emits a vpbroadcastd before each
 * vpdpbusd, which the 8-row tiles issue as often as the products. One
 * thread in L2, 1024 x 768, packed Q4_K at 8 rows of X: 36.9 -> 33.7 us
 * on a busy host, 26.9 -> 26.1 on a quiet one; 8 decoding streams of the
 * 110M model 1.04x (Q4_K_M), 1.07x (Q8_0), 1.0x (Q4_0). */
static inline __attribute__((always_inline, target("avx512f,avx512vnni"))) __m512i
mrt__dpbusd_bcst(__m512i acc, __m512i w, const int8_t *p)
{
	__asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const mrt__i8x4 *)p));
	return acc;
}

#endif
