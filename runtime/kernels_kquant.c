/* Q4_K / Q5_K / Q6_K weights against Q8KX activations (kernels_impl.h): the
 * plain-C kernel, and an int8 kernel compiled three times from one text, for
 * AVX2, AVX-512 (KQ_ZMM: some tiles in 512-bit vectors) and AVX-512 VNNI
 * (KQ_VNNI: Q4_K and Q6_K tiles with vpdpbusd); this file includes itself with
 * KERN_PASS set. Weight nibbles are unsigned, so pmaddubsw (vpdpbusd) takes
 * them as its unsigned operand; the Q4_K/Q5_K mins and the Q6_K offset of 32
 * come from the activation sums. */
#ifndef KERN_PASS
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels_impl.h"
#include "kernels_q8.h"
#include "mrt_gguf.h"

/* The super-blocks as ggml lays them out (quant.c checks the sizes). */
typedef struct {
	uint16_t d, dmin;
	uint8_t scales[12];
	uint8_t qs[128];
} blk_q4_k;
typedef struct {
	uint16_t d, dmin;
	uint8_t scales[12];
	uint8_t qh[32];
	uint8_t qs[128];
} blk_q5_k;
typedef struct {
	uint8_t ql[128];
	uint8_t qh[64];
	int8_t scales[16];
	uint16_t d;
} blk_q6_k;
_Static_assert(sizeof(mrt__q8k) == 292, "q8_k layout");

/* ---- plain C: dequantize one super-block of W, dot it with d * q ---- */

static void gen_lin_k(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	mrt_type_info ti = mrt_type_get(a->wtype);
	int64_t nb = a->K / MRT__QKK;
	float w[MRT__QKK];
	for (int64_t n = n0; n < n1; n++) {
		const uint8_t *wrow = (const uint8_t *)a->W + a->wrow * (size_t)n;
		float acc[16] = {0};
		for (int64_t mb = m0; mb < m1; mb += 16) {
			int64_t mr = m1 - mb < 16 ? m1 - mb : 16;
			for (int64_t i = 0; i < nb; i++) {
				mrt_dequantize(a->wtype, wrow + (size_t)i * ti.block_bytes, w,
				               MRT__QKK);
				for (int64_t r = 0; r < mr; r++) {
					const mrt__q8k *x =
					    (const mrt__q8k *)(a->xq +
					                       a->xq_row * (size_t)(mb + r)) +
					    i;
					float s = 0.0f;
					for (int l = 0; l < MRT__QKK; l++)
						s += w[l] * x->qs[l];
					acc[r] += s * x->d;
				}
			}
			for (int64_t r = 0; r < mr; r++) {
				mrt__lin_store(a, mb + r, n, acc[r]);
				acc[r] = 0.0f;
			}
		}
	}
}

void mrt__lin_k_generic(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	gen_lin_k(a, m0, m1, n0, n1);
}

#define KERN_PASS 1
#define TGT __attribute__((target("avx2,fma,f16c")))
#define SFX(name) name##_avx2
#include "kernels_kquant.c"
#undef TGT
#undef SFX
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define SFX(name) name##_avx512
#define KQ_ZMM 1 /* kpair keeps its two rows in the halves of a 512-bit vector */
#include "kernels_kquant.c"
#undef TGT
#undef SFX
#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define SFX(name) name##_vnni
#define KQ_VNNI 1 /* Q4_K tiles of 8 weight rows, Q6_K of 16, with vpdpbusd */
#include "kernels_kquant.c"

#else /* KERN_PASS: the int8 kernel for target TGT */

#define INL static inline __attribute__((always_inline)) TGT
/* Keep v in a register here: without it GCC defers the int32 adds of a
 * tile to the end of the super-block and spills the partial products to
 * the stack (measured: 8 streams of a Q4_K_M model 314-358 -> 430-459
 * tokens/s together with the 8-row tiles). The sums are exact integers, so
 * the order of the adds changes no result. */
#define KQ_PIN(v) __asm__("" : "+x"(v))
#define KT_MAX_R 8 /* rows of X per tile: each weight super-block is decoded once for them */

/* Lane r: the sum of the 8 int32 lanes of v[r], r < R (0 past R). */
INL __m256i SFX(hsum8_i32)(const __m256i *v, int R)
{
	__m256i z = _mm256_setzero_si256(), h[4];
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++)
		h[k] =
		    _mm256_hadd_epi32(2 * k < R ? v[2 * k] : z, 2 * k + 1 < R ? v[2 * k + 1] : z);
	__m256i lo = _mm256_hadd_epi32(h[0], h[1]), hi = _mm256_hadd_epi32(h[2], h[3]);
	return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20),
	                        _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* Byte-shuffle control broadcasting 16-bit word w0 over the low 128-bit
 * lane and word w1 over the high one (w0, w1 < 8). */
INL __m256i SFX(pick2)(int w0, int w1)
{
	return _mm256_setr_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * w0)),
				 _mm_set1_epi16((short)(0x0100 + 0x0202 * w1)));
}

/* isum += (w0 . x0) * s0 + (w1 . x1) * s1 in 8 int32 lanes; w unsigned. */
INL __m256i SFX(dot2)(__m256i isum, __m256i w0, __m256i w1, const int8_t *x, __m256i s0, __m256i s1)
{
	__m256i p0 = _mm256_maddubs_epi16(w0, _mm256_loadu_si256((const __m256i *)x));
	__m256i p1 = _mm256_maddubs_epi16(w1, _mm256_loadu_si256((const __m256i *)(x + 32)));
	return _mm256_add_epi32(
	    isum, _mm256_add_epi32(_mm256_madd_epi16(p0, s0), _mm256_madd_epi16(p1, s1)));
}

/* The 8 six-bit scales (bytes 0-7) and mins (bytes 8-15) of a Q4_K/Q5_K
 * super-block from its 12 packed bytes q: scale j < 4 is the low 6 bits of
 * q[j], min j < 4 those of q[j + 4]; for j >= 4 the low / high nibble of
 * q[j + 4] gives the low 4 bits and the top 2 bits of q[j - 4] / q[j] the
 * high 2. On the words a, b, c of q, in a register: [a & m6, (c & m4) |
 * (a >> 2 & m30), b & m6, (c >> 4 & m4) | (b >> 2 & m30)]. Reads 16 bytes:
 * qs follows the scales. */
INL __m128i SFX(kq_scales_v)(const uint8_t *q)
{
	__m128i v = _mm_loadu_si128((const __m128i *)q);
	__m128i lo = _mm_srlv_epi32(_mm_shuffle_epi32(v, 0x98), _mm_setr_epi32(0, 0, 0, 4));
	lo = _mm_and_si128(lo, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
	__m128i hi = _mm_and_si128(_mm_srli_epi32(_mm_shuffle_epi32(v, 0x50), 2),
				   _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
	return _mm_or_si128(lo, hi);
}

/* The weights (0..15, or 0..31 for Q5_K) of sub-blocks 2j and 2j + 1 of a
 * Q4_K/Q5_K super-block: qs its nibbles, hb its 32 fifth-bit bytes. */
INL void SFX(q45_w)(const uint8_t *qs, __m256i hb, int Q5, int j, __m256i *w0, __m256i *w1)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
	*w0 = _mm256_and_si256(q, m4);
	*w1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
	if (Q5) { /* bit 2j / 2j+1 of qh[l] is bit 4 of sub-block 2j / 2j+1 */
		const __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * j)));
		const __m256i b1 = _mm256_set1_epi8((char)(2 << (2 * j)));
		const __m256i x10 = _mm256_set1_epi8(0x10);
		*w0 = _mm256_or_si256(
		    *w0, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b0), b0), x10));
		*w1 = _mm256_or_si256(
		    *w1, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b1), b1), x10));
	}
}

/* The weights (0..63) of a Q6_K half's 32-byte groups 2p and 2p + 1 from
 * its low bits l0, l1 (ql) and high bits hi (qh). */
INL void SFX(q6_w)(__m256i l0, __m256i l1, __m256i hi, int p, __m256i *w0, __m256i *w1)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
	if (p == 0) {
		*w0 = _mm256_or_si256(_mm256_and_si256(l0, m4),
		                      _mm256_and_si256(_mm256_slli_epi16(hi, 4), m30));
		*w1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
		                      _mm256_and_si256(_mm256_slli_epi16(hi, 2), m30));
	} else {
		*w0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
		                      _mm256_and_si256(hi, m30));
		*w1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
		                      _mm256_and_si256(_mm256_srli_epi16(hi, 2), m30));
	}
}

/* ---- Q6_K ----
 *
 * Each element of Y is computed as: for each super-block in order, the
 * exact int32 dot product of its weights (q - 32, scales applied) with the
 * Q8KX activations, then acc = fma((float)dot, d_w * d_x, acc), from 0:
 * klanes' contract for Q4_K without the mins. kpair6 (one row of X),
 * ktile and on AVX-512 VNNI the lane tile q6lanes all do this, so a row's
 * result does not depend on the other rows, nor on the level. The dot
 * cannot overflow: |q - 32| <= 32, |x| <= 127, |scale| <= 128, so its 256
 * products add up to at most 256 x 32 x 127 x 128 = 133,169,152 < 2^31;
 * the kernels take q unsigned (0..63) and subtract 32 x the scaled
 * activation sums (bsums) afterwards, both parts below 2^29 too. */

/* Q6_K super-block i against R rows: lane r of the result its exact dot
 * product with x[r]; q in 0..63 stands for q - 32. */
INL __m256i SFX(sb_q6)(const uint8_t *wrow, int64_t i, const mrt__q8k *const *x, int R)
{
	const blk_q6_k *b = (const blk_q6_k *)wrow + i;
	/* the 16 scales as 16-bit words; scale k of a half sits in word k % 8 of
	 * both 128-bit lanes of sch, and a byte shuffle broadcasts two of them */
	__m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
	__m256i isum[KT_MAX_R];
#ifdef KQ_ZMM
	/* 64 weights a vector: int32 lane l + 8 holds what lane l of the
	 * 256-bit code adds for the second 32, so folding the halves gives
	 * the same sums */
	__m512i isz[KT_MAX_R];
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		isz[r] = _mm512_setzero_si512();
#else
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		isum[r] = _mm256_setzero_si256();
#endif
#pragma GCC unroll 2
	for (int h = 0; h < 2; h++) {
		__m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
		__m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
		__m256i hi = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
		__m256i w[4];
		SFX(q6_w)(l0, l1, hi, 0, &w[0], &w[1]);
		SFX(q6_w)(l0, l1, hi, 1, &w[2], &w[3]);
#ifdef KQ_ZMM
		__m512i schz = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1)
		                                        : _mm256_castsi256_si128(sc16));
#pragma GCC unroll 2
		for (int p = 0; p < 2; p++) {
			__m512i wz =
			    _mm512_inserti64x4(_mm512_castsi256_si512(w[2 * p]), w[2 * p + 1], 1);
			__m512i sz = _mm512_shuffle_epi8(
			    schz,
			    _mm512_inserti64x4(_mm512_castsi256_si512(SFX(pick2)(4 * p, 4 * p + 1)),
			                       SFX(pick2)(4 * p + 2, 4 * p + 3), 1));
#pragma GCC unroll 8
			for (int r = 0; r < R; r++) {
				__m512i xz = _mm512_loadu_si512(x[r]->qs + 128 * h + 64 * p);
				isz[r] = _mm512_add_epi32(
				    isz[r], _mm512_madd_epi16(_mm512_maddubs_epi16(wz, xz), sz));
				KQ_PIN(isz[r]);
			}
		}
#else
		__m256i sch = _mm256_permute2x128_si256(sc16, sc16, h ? 0x11 : 0x00);
#pragma GCC unroll 2
		for (int p = 0; p < 2; p++) {
			__m256i s0 = _mm256_shuffle_epi8(sch, SFX(pick2)(4 * p, 4 * p + 1));
			__m256i s1 = _mm256_shuffle_epi8(sch, SFX(pick2)(4 * p + 2, 4 * p + 3));
#pragma GCC unroll 8
			for (int r = 0; r < R; r++) {
				isum[r] = SFX(dot2)(isum[r], w[2 * p], w[2 * p + 1],
				                    x[r]->qs + 128 * h + 64 * p, s0, s1);
				KQ_PIN(isum[r]);
			}
		}
#endif
	}
#ifdef KQ_ZMM
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		isum[r] = _mm256_add_epi32(_mm512_castsi512_si256(isz[r]),
		                           _mm512_extracti64x4_epi64(isz[r], 1));
#endif
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		__m256i bs = _mm256_loadu_si256((const __m256i *)x[r]->bsums);
		__m256i off = _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 5);
		isum[r] = _mm256_sub_epi32(isum[r], off);
	}
	return SFX(hsum8_i32)(isum, R);
}

/* Rows [m, m + R) of X against Q6_K weight row n: lane r of acc row m + r
 * (with one FMA for the R rows' float steps: at 8 rows a scalar FMA and
 * horizontal sum a row cost 0.85-0.88x in cache). */
INL void SFX(ktile)(const mrt__lin *a, int64_t m, int64_t n, int R)
{
	const mrt__q8k *x[KT_MAX_R];
	const uint8_t *wrow = (const uint8_t *)a->W + a->wrow * (size_t)n;
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		x[r] = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)(m + r));
	__m256 acc = _mm256_setzero_ps();
	int64_t nb = a->K / MRT__QKK;
	for (int64_t i = 0; i < nb; i++) {
		for (size_t o = 0; o < sizeof(blk_q6_k); o += 64)
			_mm_prefetch((const char *)wrow + (size_t)i * sizeof(blk_q6_k) +
			                 MRT__W_PREFETCH + o,
			             _MM_HINT_T0);
		__m256i dot = SFX(sb_q6)(wrow, i, x, R);
		/* in registers: R scalar stores and one vector load of them
		 * stall on store forwarding */
		__m256 dx = _mm256_setr_ps(x[0]->d, R > 1 ? x[1]->d : 0.0f, R > 2 ? x[2]->d : 0.0f,
		                           R > 3 ? x[3]->d : 0.0f, R > 4 ? x[4]->d : 0.0f,
		                           R > 5 ? x[5]->d : 0.0f, R > 6 ? x[6]->d : 0.0f,
		                           R > 7 ? x[7]->d : 0.0f);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			x[r]++;
		__m256 p =
		    _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(((const blk_q6_k *)wrow)[i].d)), dx);
		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), p, acc);
	}
	float v[KT_MAX_R];
	_mm256_storeu_ps(v, acc);
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		mrt__lin_store(a, m + r, n, v[r]);
}

/* Q4_K (Q5 = 0) or Q5_K (Q5 = 1), one row m of X (a decode step) against
 * weight rows n and n2 (n2 = n: row n alone): the activation loads and
 * sums are shared, and the two rows' reductions share their horizontal
 * adds (in cache, 768 x 768, one thread: about 1.3x one row at a time).
 * Each row's arithmetic is klanes': lanes 0 and 2 of acc hold the two
 * rows, lanes 1 and 3 carry nothing used. Each row is prefetched ahead as its own stream; the
 * caller pairs rows of the two halves of its range, and two streams read side by side drew more of
 * the memory bandwidth than one (1.05-1.15x from memory, 2 threads; rows n and n + 1 as one stream
 * gained nothing there). */
INL void SFX(kpair)(const mrt__lin *a, int Q5, int64_t m, int64_t n, int64_t n2)
{
	const mrt__q8k *x = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)m);
	const uint8_t *wr[2];
	wr[0] = (const uint8_t *)a->W + a->wrow * (size_t)n;
	wr[1] = (const uint8_t *)a->W + a->wrow * (size_t)n2;
	const size_t bsz = Q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k);
	const int64_t nb = a->K / MRT__QKK;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m128 acc = _mm_setzero_ps();
	for (int64_t i = 0; i < nb; i++, x++) {
		const uint8_t *qs[2], *qh[2] = {NULL, NULL};
		__m256i sc[2], hb[2], isum[2];
		__m128i mins[2];
		uint32_t dd[2];
		for (size_t o = 0; o < bsz; o += 64) {
			_mm_prefetch((const char *)wr[0] + (size_t)i * bsz + MRT__W_PREFETCH + o,
			             _MM_HINT_T0);
			_mm_prefetch((const char *)wr[1] + (size_t)i * bsz + MRT__W_PREFETCH + o,
			             _MM_HINT_T0);
		}
#pragma GCC unroll 2
		for (int k = 0; k < 2; k++) {
			const uint8_t *scp;
			if (Q5) {
				const blk_q5_k *b = (const blk_q5_k *)wr[k] + i;
				qs[k] = b->qs, qh[k] = b->qh, scp = b->scales;
				dd[k] = b->d | (uint32_t)b->dmin << 16;
			} else {
				const blk_q4_k *b = (const blk_q4_k *)wr[k] + i;
				qs[k] = b->qs, scp = b->scales;
				dd[k] = b->d | (uint32_t)b->dmin << 16;
			}
			__m256i sm = _mm256_cvtepu8_epi16(SFX(kq_scales_v)(scp));
			sc[k] = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
			mins[k] = _mm256_extracti128_si256(sm, 1);
			hb[k] = Q5 ? _mm256_loadu_si256((const __m256i *)qh[k]) : m4;
			isum[k] = _mm256_setzero_si256();
		}
#ifdef KQ_ZMM
		/* row n in the low half, n2 in the high one: the same integer sums */
		{
			__m512i sz = _mm512_inserti64x4(_mm512_castsi256_si512(sc[0]), sc[1], 1);
			__m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(hb[0]), hb[1], 1);
			__m512i iz = _mm512_setzero_si512();
			const __m512i m4z = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 4
			for (int j = 0; j < 4; j++) {
				__m512i x0 = _mm512_broadcast_i64x4(
				    _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j)));
				__m512i x1 = _mm512_broadcast_i64x4(
				    _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j + 32)));
				__m512i q = _mm512_inserti64x4(
				    _mm512_castsi256_si512(
				        _mm256_loadu_si256((const __m256i *)(qs[0] + 32 * j))),
				    _mm256_loadu_si256((const __m256i *)(qs[1] + 32 * j)), 1);
				__m512i w0 = _mm512_and_si512(q, m4z);
				__m512i w1 = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4z);
				if (Q5) {
					const __m512i x10 = _mm512_set1_epi8(0x10);
					w0 = _mm512_mask_add_epi8(
					    w0,
					    _mm512_test_epi8_mask(
					        hz, _mm512_set1_epi8((char)(1 << (2 * j)))),
					    w0, x10);
					w1 = _mm512_mask_add_epi8(
					    w1,
					    _mm512_test_epi8_mask(
					        hz, _mm512_set1_epi8((char)(2 << (2 * j)))),
					    w1, x10);
				}
				const __m512i c0 = _mm512_set1_epi16((short)(0x0100 + 0x0404 * j));
				const __m512i c1 = _mm512_set1_epi16((short)(0x0302 + 0x0404 * j));
				__m512i p0 = _mm512_madd_epi16(_mm512_maddubs_epi16(w0, x0),
				                               _mm512_shuffle_epi8(sz, c0));
				__m512i p1 = _mm512_madd_epi16(_mm512_maddubs_epi16(w1, x1),
				                               _mm512_shuffle_epi8(sz, c1));
				iz = _mm512_add_epi32(iz, _mm512_add_epi32(p0, p1));
				KQ_PIN(iz);
			}
			isum[0] = _mm512_castsi512_si256(iz);
			isum[1] = _mm512_extracti64x4_epi64(iz, 1);
		}
#else
#pragma GCC unroll 4
		for (int j = 0; j < 4; j++) {
			__m256i x0 = _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j));
			__m256i x1 = _mm256_loadu_si256((const __m256i *)(x->qs + 64 * j + 32));
			const __m256i c0 = _mm256_set1_epi16((short)(0x0100 + 0x0404 * j));
			const __m256i c1 = _mm256_set1_epi16((short)(0x0302 + 0x0404 * j));
#pragma GCC unroll 2
			for (int k = 0; k < 2; k++) {
				__m256i w0, w1;
				SFX(q45_w)(qs[k], hb[k], Q5, j, &w0, &w1);
				__m256i p0 = _mm256_maddubs_epi16(w0, x0);
				__m256i p1 = _mm256_maddubs_epi16(w1, x1);
				isum[k] = _mm256_add_epi32(
				    isum[k],
				    _mm256_add_epi32(
				        _mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc[k], c0)),
				        _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc[k], c1))));
				KQ_PIN(isum[k]);
			}
		}
#endif
		/* [dot n, mins n, dot n+1, mins n+1] */
		const __m128i *bs = (const __m128i *)x->bsums;
		__m128i sub = _mm_hadd_epi16(_mm_loadu_si128(bs), _mm_loadu_si128(bs + 1));
		__m128i h[2];
#pragma GCC unroll 2
		for (int k = 0; k < 2; k++)
			h[k] = _mm_hadd_epi32(_mm_add_epi32(_mm256_castsi256_si128(isum[k]),
			                                    _mm256_extracti128_si256(isum[k], 1)),
			                      _mm_madd_epi16(sub, mins[k]));
		__m128 f = _mm_cvtepi32_ps(_mm_hadd_epi32(h[0], h[1]));
		__m128 p = _mm_mul_ps(_mm_cvtph_ps(_mm_set_epi32(0, 0, (int)dd[1], (int)dd[0])),
		                      _mm_set1_ps(x->d));
		acc =
		    _mm_fnmadd_ps(_mm_movehdup_ps(f), _mm_movehdup_ps(p), _mm_fmadd_ps(f, p, acc));
	}
	mrt__lin_store(a, m, n, _mm_cvtss_f32(acc));
	if (n2 != n) /* once: the store adds to Y when accumulating */
		mrt__lin_store(a, m, n2, _mm_cvtss_f32(_mm_movehl_ps(acc, acc)));
}

/* Q6_K, one row m of X against weight rows n and n2 (n2 = n: row n alone)
 * with shared activation loads, as kpair; each row's arithmetic is
 * ktile's: lanes 0 and 1 of acc hold the two rows. */
INL void SFX(kpair6)(const mrt__lin *a, int64_t m, int64_t n, int64_t n2)
{
	const mrt__q8k *x = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)m);
	const blk_q6_k *wr[2];
	wr[0] = (const blk_q6_k *)((const uint8_t *)a->W + a->wrow * (size_t)n);
	wr[1] = (const blk_q6_k *)((const uint8_t *)a->W + a->wrow * (size_t)n2);
	const int64_t nb = a->K / MRT__QKK;
	__m128 acc = _mm_setzero_ps();
	for (int64_t i = 0; i < nb; i++, x++) {
		__m256i sc16[2], isum[2];
		for (size_t o = 0; o < sizeof(blk_q6_k); o += 64) {
			_mm_prefetch((const char *)(wr[0] + i) + MRT__W_PREFETCH + o, _MM_HINT_T0);
			_mm_prefetch((const char *)(wr[1] + i) + MRT__W_PREFETCH + o, _MM_HINT_T0);
		}
#pragma GCC unroll 2
		for (int k = 0; k < 2; k++) {
			sc16[k] =
			    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wr[k][i].scales));
			isum[k] = _mm256_setzero_si256();
		}
#ifdef KQ_ZMM
		{
			__m512i sz =
			    _mm512_inserti64x4(_mm512_castsi256_si512(sc16[0]), sc16[1], 1);
			__m512i iz = _mm512_setzero_si512();
			const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
#pragma GCC unroll 2
			for (int h = 0; h < 2; h++) {
				/* 128-bit lanes [n lo, n lo, n2 lo, n2 lo] or the high ones */
				__m512i sch = _mm512_shuffle_i64x2(sz, sz, h ? 0xf5 : 0xa0);
				const blk_q6_k *b0 = wr[0] + i, *b1 = wr[1] + i;
#define KQ_LD2(f, o)                                                                               \
	_mm512_inserti64x4(                                                                        \
	    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0->f + (o)))),            \
	    _mm256_loadu_si256((const __m256i *)(b1->f + (o))), 1)
				__m512i l0 = KQ_LD2(ql, 64 * h), l1 = KQ_LD2(ql, 64 * h + 32);
				__m512i hi = KQ_LD2(qh, 32 * h);
#undef KQ_LD2
#pragma GCC unroll 2
				for (int p = 0; p < 2; p++) {
					const int8_t *xq = x->qs + 128 * h + 64 * p;
					__m512i x0 = _mm512_broadcast_i64x4(
					    _mm256_loadu_si256((const __m256i *)xq));
					__m512i x1 = _mm512_broadcast_i64x4(
					    _mm256_loadu_si256((const __m256i *)(xq + 32)));
					__m512i w0, w1;
					if (p == 0) {
						w0 = _mm512_or_si512(
						    _mm512_and_si512(l0, m4),
						    _mm512_and_si512(_mm512_slli_epi16(hi, 4),
						                     m30));
						w1 = _mm512_or_si512(
						    _mm512_and_si512(l1, m4),
						    _mm512_and_si512(_mm512_slli_epi16(hi, 2),
						                     m30));
					} else {
						w0 = _mm512_or_si512(
						    _mm512_and_si512(_mm512_srli_epi16(l0, 4), m4),
						    _mm512_and_si512(hi, m30));
						w1 = _mm512_or_si512(
						    _mm512_and_si512(_mm512_srli_epi16(l1, 4), m4),
						    _mm512_and_si512(_mm512_srli_epi16(hi, 2),
						                     m30));
					}
					__m512i c0 =
					    _mm512_broadcast_i64x4(SFX(pick2)(4 * p, 4 * p + 1));
					__m512i c1 = _mm512_broadcast_i64x4(
					    SFX(pick2)(4 * p + 2, 4 * p + 3));
					iz = _mm512_add_epi32(
					    iz,
					    _mm512_add_epi32(
					        _mm512_madd_epi16(_mm512_maddubs_epi16(w0, x0),
					                          _mm512_shuffle_epi8(sch, c0)),
					        _mm512_madd_epi16(_mm512_maddubs_epi16(w1, x1),
					                          _mm512_shuffle_epi8(sch, c1))));
					KQ_PIN(iz);
				}
			}
			isum[0] = _mm512_castsi512_si256(iz);
			isum[1] = _mm512_extracti64x4_epi64(iz, 1);
		}
#else
#pragma GCC unroll 2
		for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
			for (int p = 0; p < 2; p++) {
				const int8_t *xq = x->qs + 128 * h + 64 * p;
				__m256i x0 = _mm256_loadu_si256((const __m256i *)xq);
				__m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + 32));
#pragma GCC unroll 2
				for (int k = 0; k < 2; k++) {
					const blk_q6_k *b = wr[k] + i;
					__m256i l0 =
					    _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
					__m256i l1 = _mm256_loadu_si256(
					    (const __m256i *)(b->ql + 64 * h + 32));
					__m256i hi =
					    _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
					__m256i w0, w1;
					SFX(q6_w)(l0, l1, hi, p, &w0, &w1);
					__m256i sch = _mm256_permute2x128_si256(sc16[k], sc16[k],
					                                        h ? 0x11 : 0x00);
					__m256i s0 =
					    _mm256_shuffle_epi8(sch, SFX(pick2)(4 * p, 4 * p + 1));
					__m256i s1 = _mm256_shuffle_epi8(
					    sch, SFX(pick2)(4 * p + 2, 4 * p + 3));
					isum[k] = _mm256_add_epi32(
					    isum[k],
					    _mm256_add_epi32(
					        _mm256_madd_epi16(_mm256_maddubs_epi16(w0, x0), s0),
					        _mm256_madd_epi16(_mm256_maddubs_epi16(w1, x1),
					                          s1)));
					KQ_PIN(isum[k]);
				}
			}
#endif
		__m256i bs = _mm256_loadu_si256((const __m256i *)x->bsums);
#pragma GCC unroll 2
		for (int k = 0; k < 2; k++)
			isum[k] = _mm256_sub_epi32(
			    isum[k], _mm256_slli_epi32(_mm256_madd_epi16(bs, sc16[k]), 5));
		/* [dot n, dot n2, dot n, dot n2] */
		__m256i h = _mm256_hadd_epi32(isum[0], isum[1]);
		__m128i s =
		    _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
		s = _mm_hadd_epi32(s, s);
		__m128 p = _mm_mul_ps(
		    _mm_cvtph_ps(_mm_cvtsi32_si128((int)(wr[0][i].d | (uint32_t)wr[1][i].d << 16))),
		    _mm_set1_ps(x->d));
		acc = _mm_fmadd_ps(_mm_cvtepi32_ps(s), p, acc);
	}
	mrt__lin_store(a, m, n, _mm_cvtss_f32(acc));
	if (n2 != n) /* once: the store adds to Y when accumulating */
		mrt__lin_store(a, m, n2, _mm_cvtss_f32(_mm_movehdup_ps(acc)));
}

/* ---- Q4_K and Q5_K, 2 to 8 rows of X: 8 weight rows at once, one per lane ----
 *
 * Each element of Y is computed as: for each super-block in order, the
 * exact int32 dot product of its weights (scales applied) with the Q8KX
 * activations and the exact int32 sum of mins x activation sums, then
 * acc = fma((float)dot, d_w * d_x, acc) and acc = fma(-(float)mins,
 * dmin_w * d_x, acc), from 0. kpair does the same for one row of X, so
 * a row's result does not depend on the other rows (test_kernels,
 * test_llama).
 *
 * The 8 rows' bytes are transposed by 4-byte groups, so vector t holds the
 * weights 4t .. 4t + 3 of a sub-block of all 8 rows, and one maddubs takes
 * it against 4 activations broadcast to every lane. Weights stay unsigned:
 * a Q4_K sub-block (32 weights, 0..15) adds up 8 maddubs in int16 (|sum| <=
 * 16 x 15 x 128 = 30720) before one madd with the rows' scales, a Q5_K one
 * (0..31) twice 4, where kpair needs a madd per 32 weights and row. Q6_K
 * in this form (a madd per 16 weights, and three transposes a group) was
 * slower than ktile at 8 rows from memory, so Q6_K keeps ktile for 2 and
 * more rows on AVX2 and AVX-512; with VNNI it has q6lanes. */

/* Byte-shuffle control copying 16-bit word w (0 or 1) of each dword over
 * the whole dword. */
INL __m256i SFX(dup_words)(int w)
{
	return _mm256_add_epi8(_mm256_set1_epi32(w ? 0x03020302 : 0x01000100),
	                       _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0,
	                                         0x04040404, 0x08080808, 0x0c0c0c0c));
}

/* A klanes tile's weight row offsets (mrt__lane_rows), x row pointers and
 * zeroed accumulators. */
INL void SFX(kl_rows)(const mrt__lin *a, int64_t m, int R, int C, int *off, const mrt__q8k **x,
                      __m256 *acc)
{
	(void)mrt__lane_rows(a->wrow, C, off);
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		x[r] = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)(m + r));
		acc[r] = _mm256_setzero_ps();
	}
}

/* The 16-byte heads (d, dmin, 12 bytes of scales) of a klanes tile's 8
 * rows at blk, transposed by dwords (mrt__lanes16) and unpacked for the 8
 * rows at once: dw, mw their d and dmin; S[h], lane j: row j's scales
 * 4h .. 4h + 3, a byte each; Mn[h]: its mins 4h .. 4h + 3. In place of a
 * shuffle ladder per row and an 8 x 8 transpose, one thread in L2, 1024 x
 * 768, GMAC/s: Q4_K AVX2 M = 2 51-54 -> 54-57, M = 8 94-95 -> 95-100;
 * AVX-512 M = 2 62-66 -> 67-73, M = 8 about 100 either way; Q5_K (VNNI
 * level) M = 2 51-52 -> 57, M = 8 89 -> 92. */
INL void SFX(kl_heads)(const uint8_t *blk, const int *off, __m256 *dw, __m256 *mw, __m256i *S,
                       __m256i *Mn)
{
	__m256i H[4];
	mrt__lanes16(blk, off, H);
	*dw = mrt__lane_f16(H[0], 0);
	*mw = mrt__lane_f16(H[0], 2);
	const __m256i m4 = _mm256_set1_epi8(0x0f), m6 = _mm256_set1_epi8(0x3f),
	              m30 = _mm256_set1_epi8(0x30);
	S[0] = _mm256_and_si256(H[1], m6);
	S[1] = _mm256_or_si256(_mm256_and_si256(H[3], m4),
	                       _mm256_and_si256(_mm256_srli_epi32(H[1], 2), m30));
	Mn[0] = _mm256_and_si256(H[2], m6);
	Mn[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(H[3], 4), m4),
	                        _mm256_and_si256(_mm256_srli_epi32(H[2], 2), m30));
}

/* Byte-shuffle control taking bytes 0, 1 (b = 0) or 2, 3 (b = 2) of each
 * dword as two zero-extended 16-bit words. */
INL __m256i SFX(kl_words)(int b)
{
	return _mm256_add_epi8(_mm256_set1_epi32(b ? (int)0x80038002 : (int)0x80018000),
	                       _mm256_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c, 0,
	                                         0x04040404, 0x08080808, 0x0c0c0c0c));
}

/* A super-block of a klanes tile's 8 rows at blk, prefetching the next
 * tile's at pf unless NULL: dw, mw their d and dmin; P[k], lane j: row j's
 * 16-bit scales 2k, 2k + 1 (k < 4) or mins 2k - 8, 2k - 7 (k >= 4). */
INL void SFX(kl_scales)(const uint8_t *blk, const char *pf, size_t bsz, const int *off, __m256 *dw,
                        __m256 *mw, __m256i *P)
{
	if (pf)
		mrt__lane_prefetch(pf, 0, 8 * bsz);
	__m256i S[2], Mn[2];
	SFX(kl_heads)(blk, off, dw, mw, S, Mn);
	const __m256i w01 = SFX(kl_words)(0), w23 = SFX(kl_words)(2);
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++) {
		P[k] = _mm256_shuffle_epi8(S[k >> 1], k & 1 ? w23 : w01);
		P[k + 4] = _mm256_shuffle_epi8(Mn[k >> 1], k & 1 ? w23 : w01);
	}
}

/* acc plus the super-block's dot products is (lane j: row j) scaled, minus
 * its mins against x's sums. */
INL __m256 SFX(kl_accum)(__m256 acc, __m256i is, const __m256i *P, __m256 dw, __m256 mw,
                         const mrt__q8k *x)
{
	const __m128i *bs = (const __m128i *)x->bsums;
	__m256i sub = _mm256_broadcastsi128_si256(
	    _mm_hadd_epi16(_mm_loadu_si128(bs), _mm_loadu_si128(bs + 1)));
	__m256i mn = _mm256_add_epi32(
	    _mm256_add_epi32(_mm256_madd_epi16(P[4], _mm256_shuffle_epi32(sub, 0x00)),
	                     _mm256_madd_epi16(P[5], _mm256_shuffle_epi32(sub, 0x55))),
	    _mm256_add_epi32(_mm256_madd_epi16(P[6], _mm256_shuffle_epi32(sub, 0xaa)),
	                     _mm256_madd_epi16(P[7], _mm256_shuffle_epi32(sub, 0xff))));
	__m256 dx = _mm256_set1_ps(x->d);
	acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, dx), acc);
	return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mn), _mm256_mul_ps(mw, dx), acc);
}

/* Q4_K (Q5 = 0) or Q5_K (Q5 = 1): rows [m, m + R) of X against weight rows
 * n .. n + 7 (C of them real). */
INL void SFX(klanes)(const mrt__lin *a, int Q5, int64_t m, int R, int64_t n, int C, int prefetch)
{
	const size_t bsz = Q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k), qs = Q5 ? 48 : 16;
	const uint8_t *w0 = (const uint8_t *)a->W + a->wrow * (size_t)n;
	const char *next = (const char *)w0 + 8 * a->wrow;
	int off[8];
	const __m256i m4 = _mm256_set1_epi8(0x0f), x10 = _mm256_set1_epi8(0x10);
	const __m256i dup0 = SFX(dup_words)(0), dup1 = SFX(dup_words)(1);
	const mrt__q8k *x[KT_MAX_R];
	__m256 acc[KT_MAX_R];
	SFX(kl_rows)(a, m, R, C, off, x, acc);
	for (int64_t i = 0; i < a->K / MRT__QKK; i++) {
		const uint8_t *blk = w0 + (size_t)i * bsz;
		const char *pf = prefetch ? next + (size_t)i * 8 * bsz : NULL;
		__m256 dw, mw;
		__m256i P[8];
		SFX(kl_scales)(blk, pf, bsz, off, &dw, &mw, P);
		__m256i isum[KT_MAX_R];
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			isum[r] = _mm256_setzero_si256();
		/* Q5_K: the fifth bits, qh[l] bit 2c (+ 1 for high nibbles) for
		 * weight l of sub-block 2c (2c + 1), transposed as the nibbles */
		__m256i QH[8];
		if (Q5) {
			mrt__lanes16(blk + 16, off, QH);
			mrt__lanes16(blk + 32, off, QH + 4);
		}
#pragma GCC unroll 1
		for (int c = 0; c < 4; c++) {
			__m256i V[8];
			mrt__lanes16(blk + qs + 32 * c, off, V);
			mrt__lanes16(blk + qs + 16 + 32 * c, off, V + 4);
#pragma GCC unroll 2
			for (int h = 0; h < 2; h++) {
				__m256i W[8];
				int bit = 2 * c + h; /* moves to bit 4 of each byte */
#pragma GCC unroll 8
				for (int t = 0; t < 8; t++) {
					W[t] = _mm256_and_si256(
					    h ? _mm256_srli_epi16(V[t], 4) : V[t], m4);
					if (Q5)
						W[t] = _mm256_or_si256(
						    W[t],
						    _mm256_and_si256(
						        bit <= 4
						            ? _mm256_slli_epi16(QH[t], 4 - bit)
						            : _mm256_srli_epi16(QH[t], bit - 4),
						        x10));
				}
				__m256i S = _mm256_shuffle_epi8(P[c], h ? dup1 : dup0);
#pragma GCC unroll 8
				for (int r = 0; r < R; r++) {
					const int8_t *xp = x[r]->qs + 64 * c + 32 * h;
					/* Q5_K: 8 products of 31 x 128 fill an int16 */
					__m256i p =
					    Q5 ? _mm256_add_epi32(
					             _mm256_madd_epi16(mrt__lane_dotu(W, xp, 4), S),
					             _mm256_madd_epi16(
					                 mrt__lane_dotu(W + 4, xp + 16, 4), S))
					       : _mm256_madd_epi16(mrt__lane_dotu(W, xp, 8), S);
					isum[r] = _mm256_add_epi32(isum[r], p);
				}
			}
		}
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			acc[r] = SFX(kl_accum)(acc[r], isum[r], P, dw, mw, x[r]++);
		}
	}
	mrt__lane_store(a, m, R, n, C, acc);
}

#ifdef KQ_VNNI
/* The 16-byte heads (d, dmin, 12 bytes of scales) of a klanes tile's 8
 * rows at blk, transposed by dwords (H[k] lane j: dword k of row j), and
 * unpacked in vector operations as klv does for 16 rows, instead of row by
 * row (kl_scales): dw, mw the rows' d and dmin; Sd[h], dwords 2j and
 * 2j + 1: row j's scales 4h .. 4h + 3, a byte each; Mw[k], lane j: row j's
 * mins 2k and 2k + 1 as 16-bit words. Prefetches the next tile's
 * super-block at pf unless NULL. Against kl_scales and kl_accum, on the
 * Zen 5 host, 1024 x 768, one thread in L2: M = 2 89 -> 102 GMAC/s, M = 4
 * 113-117 -> 125-130, M = 8 146-148 -> 153-156; from memory, 2 threads,
 * 4096 rows: M = 2 138 -> 153, M = 8 unchanged (268-270). */
INL void SFX(kl_heads_v)(const uint8_t *blk, const char *pf, size_t bsz, const int *off, __m256 *dw,
                         __m256 *mw, __m512i *Sd, __m256i *Mw)
{
	if (pf)
		mrt__lane_prefetch(pf, 0, 8 * bsz);
	__m256i S[2], Mn[2];
	SFX(kl_heads)(blk, off, dw, mw, S, Mn);
	const __m512i dup = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
	Sd[0] = _mm512_permutexvar_epi32(dup, _mm512_castsi256_si512(S[0]));
	Sd[1] = _mm512_permutexvar_epi32(dup, _mm512_castsi256_si512(S[1]));
	const __m256i w01 = SFX(kl_words)(0), w23 = SFX(kl_words)(2);
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++)
		Mw[k] = _mm256_shuffle_epi8(Mn[k >> 1], k & 1 ? w23 : w01);
}

/* x's 8 sub-block sums (of 32 activations), two 16-bit words a dword. */
INL void SFX(kq_subsums)(const mrt__q8k *x, int32_t sub[4])
{
	const __m128i *bs = (const __m128i *)x->bsums;
	_mm_storeu_si128((__m128i *)sub,
	                 _mm_hadd_epi16(_mm_loadu_si128(bs), _mm_loadu_si128(bs + 1)));
}

/* kl_accum with kl_heads_v's mins: the same exact int32 sum of mins x
 * activation sums (4 vpdpwssd), the same float steps. */
INL __m256 SFX(kl_accum_v)(__m256 acc, __m256i is, const __m256i *Mw, __m256 dw, __m256 mw,
                           const mrt__q8k *x)
{
	int32_t sub[4];
	SFX(kq_subsums)(x, sub);
	__m256i mn = _mm256_setzero_si256();
#pragma GCC unroll 4
	for (int k = 0; k < 4; k++)
		mn = _mm256_dpwssd_epi32(mn, Mw[k], _mm256_set1_epi32(sub[k]));
	__m256 dx = _mm256_set1_ps(x->d);
	acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, dx), acc);
	return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mn), _mm256_mul_ps(mw, dx), acc);
}

/* klanes for Q4_K with AVX-512 VNNI: the same exact int32 sums, the weight
 * rows transposed by 8-byte groups instead of 4. Qword j of a 512-bit
 * vector holds 16 nibbles of row j; its low nibbles meet 8 activations of
 * sub-block 2c broadcast to every qword, its high ones 8 of sub-block 2c +
 * 1, in vpdpbusd (int32 sums, no int16 stage), and the two int32 sums of
 * row j (dwords 2j, 2j + 1) are multiplied by its scales, then folded. */
INL void SFX(klanes4v)(const mrt__lin *a, int64_t m, int R, int64_t n, int C, int prefetch)
{
	const size_t bsz = sizeof(blk_q4_k);
	const uint8_t *w0 = (const uint8_t *)a->W + a->wrow * (size_t)n;
	const char *next = (const char *)w0 + 8 * a->wrow;
	int off[8];
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	/* shuffle control: byte 0 of each dword zero-extended (add k for byte k) */
	const __m512i b0 =
	    _mm512_add_epi8(_mm512_set1_epi32((int)0x80808000),
	                    _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0));
	const mrt__q8k *x[KT_MAX_R];
	__m256 acc[KT_MAX_R];
	SFX(kl_rows)(a, m, R, C, off, x, acc);
	for (int64_t i = 0; i < a->K / MRT__QKK; i++) {
		const uint8_t *blk = w0 + (size_t)i * bsz;
		const char *pf = prefetch ? next + (size_t)i * 8 * bsz : NULL;
		__m256 dw, mw;
		__m512i Sd[2];
		__m256i Mw[4];
		SFX(kl_heads_v)(blk, pf, bsz, off, &dw, &mw, Sd, Mw);
		__m512i isum[KT_MAX_R];
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			isum[r] = _mm512_setzero_si512();
#pragma GCC unroll 1
		for (int c = 0; c < 4; c++) {
			/* W[q]: bytes 8q .. 8q + 7 of the rows' 32 qs bytes of c, qword
			 * j row j; low nibbles then (W[q + 4]) high nibbles */
			__m512i W[8];
#pragma GCC unroll 2
			for (int k = 0; k < 2; k++) {
				const uint8_t *p = blk + 16 + 32 * c + 16 * k;
				__m512i B[2];
#pragma GCC unroll 2
				for (int e = 0; e < 2; e++) {
					__m512i v = _mm512_castsi128_si512(
					    _mm_loadu_si128((const __m128i *)(p + off[e])));
					v = _mm512_inserti32x4(
					    v, _mm_loadu_si128((const __m128i *)(p + off[e + 2])),
					    1);
					v = _mm512_inserti32x4(
					    v, _mm_loadu_si128((const __m128i *)(p + off[e + 4])),
					    2);
					B[e] = _mm512_inserti32x4(
					    v, _mm_loadu_si128((const __m128i *)(p + off[e + 6])),
					    3);
				}
				__m512i q0 = _mm512_unpacklo_epi64(B[0], B[1]);
				__m512i q1 = _mm512_unpackhi_epi64(B[0], B[1]);
				W[2 * k] = _mm512_and_si512(q0, m4);
				W[2 * k + 1] = _mm512_and_si512(q1, m4);
				W[2 * k + 4] = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
				W[2 * k + 5] = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
			}
			/* row j's scales of sub-blocks 2c, 2c + 1 in dwords 2j, 2j + 1 */
			__m512i s0 = _mm512_shuffle_epi8(
			    Sd[c >> 1], _mm512_add_epi8(b0, _mm512_set1_epi32(2 * (c & 1))));
			__m512i s1 = _mm512_shuffle_epi8(
			    Sd[c >> 1], _mm512_add_epi8(b0, _mm512_set1_epi32(2 * (c & 1) + 1)));
#pragma GCC unroll 8
			for (int r = 0; r < R; r++) {
				const int8_t *xp = x[r]->qs + 64 * c;
				__m512i d0 = _mm512_setzero_si512(), d1 = _mm512_setzero_si512();
#pragma GCC unroll 4
				for (int q = 0; q < 4; q++) {
					int64_t x0, x1;
					memcpy(&x0, xp + 8 * q, 8);
					memcpy(&x1, xp + 32 + 8 * q, 8);
					d0 = _mm512_dpbusd_epi32(d0, W[q], _mm512_set1_epi64(x0));
					d1 = _mm512_dpbusd_epi32(d1, W[q + 4],
					                         _mm512_set1_epi64(x1));
				}
				isum[r] = _mm512_add_epi32(
				    isum[r], _mm512_add_epi32(_mm512_mullo_epi32(d0, s0),
				                              _mm512_mullo_epi32(d1, s1)));
			}
		}
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			/* dwords 2j + 2j + 1 -> lane j */
			__m256i is = _mm512_cvtepi64_epi32(
			    _mm512_add_epi32(isum[r], _mm512_srli_epi64(isum[r], 32)));
			acc[r] = SFX(kl_accum_v)(acc[r], is, Mw, dw, mw, x[r]++);
		}
	}
	mrt__lane_store(a, m, R, n, C, acc);
}
#endif

#ifdef KQ_VNNI
/* The heads of 16 Q4_K/Q5_K rows, dword k of row j in lane j of H[k]
 * (H[0]: d | dmin << 16; H[1..3]: the scale bytes 0-3, 4-7, 8-11), as
 * kq_scales_v unpacks them, a row per lane: dw, mw the rows' d and dmin;
 * scales 0-3 and 4-7 (S), mins 0-3 and 4-7 (Mn), a byte each. */
INL void SFX(kl_heads16)(const __m512i *H, __m512 *dw, __m512 *mw, __m512i *S, __m512i *Mn)
{
	const __m512i m4 = _mm512_set1_epi8(0x0f), m6 = _mm512_set1_epi8(0x3f),
	              m30 = _mm512_set1_epi8(0x30);
	*dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(H[0]));
	*mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(H[0], 16)));
	S[0] = _mm512_and_si512(H[1], m6);
	S[1] = _mm512_or_si512(_mm512_and_si512(H[3], m4),
	                       _mm512_and_si512(_mm512_srli_epi32(H[1], 2), m30));
	Mn[0] = _mm512_and_si512(H[2], m6);
	Mn[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(H[3], 4), m4),
	                        _mm512_and_si512(_mm512_srli_epi32(H[2], 2), m30));
}

/* Q4_K with VNNI, one row m of X (a decode step) against 16 weight rows
 * rp[0..15], one per lane of a 512-bit vector; the same arithmetic as
 * klanes and kpair (the exact int32 dot and mins of a super-block, then
 * two float steps), so a row's result does not depend on M. Each 32-byte
 * group of nibbles is transposed by 4-byte groups for the 16 rows at once
 * (mrt__lanes32x16); its low nibbles are sub-block 2c, its high ones 2c +
 * 1, and 8 vpdpbusd with x's 4-byte groups broadcast give each lane its
 * row's sub-block dot, which one vpmulld scales. The 16-byte heads (d,
 * dmin, 12 bytes of scales) are transposed by dwords (mrt__lanes16x16), so
 * the 6-bit scales and mins of the 16 rows unpack in a few vector
 * operations, and the mins meet x's sub-block sums in 4 vpdpwssd. pf, pf2:
 * the next rows to prefetch, pf_bytes a super-block, spread over its four
 * steps (all at once, one stream ran 0.98-1.01x kpair instead of 1.055-1.074x).
 *
 * Measured on the Zen 5 host, one 110M Q4_K_M stream, 2 threads,
 * interleaved rounds: 1.055-1.074x kpair's tokens/s. In L2 one thread
 * reads 1.19x kpair's bytes/s. With 2 to 8 rows of X the same tile (an
 * instance per R) ran 0.94-0.98x klanes4v from memory, so klanes4v keeps
 * those. */
INL void SFX(klv)(const mrt__lin *a, int64_t m, const uint8_t *const rp[16], const char *pf,
                  const char *pf2, size_t pf_bytes, float out[16])
{
	const mrt__q8k *x = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)m);
	__m512 acc = _mm512_setzero_ps();
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	/* shuffle controls: byte k of each dword zero-extended (b0 + k), or
	 * bytes 0, 1 (w01) and 2, 3 (w23) as 16-bit words */
	const __m512i dw4 = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0);
	const __m512i b0 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80808000), dw4);
	const __m512i w01 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80018000), dw4);
	const __m512i w23 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80038002), dw4);
	for (int64_t i = 0; i < a->K / MRT__QKK; i++, x++) {
		const size_t at = (size_t)i * sizeof(blk_q4_k);
		/* H[0]: d | dmin << 16; H[1..3]: the scale bytes 0-3, 4-7, 8-11 */
		__m512i H[4];
		mrt__lanes16x16(rp, at, H);
		__m512 dw, mw;
		__m512i S[2], Mn[2];
		SFX(kl_heads16)(H, &dw, &mw, S, Mn);
		/* the mins against x's 8 sub-block sums, two a dword */
		int32_t sub[4];
		SFX(kq_subsums)(x, sub);
		__m512i mn = _mm512_setzero_si512();
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			mn = _mm512_dpwssd_epi32(mn,
			                         _mm512_shuffle_epi8(Mn[k >> 1], k & 1 ? w23 : w01),
			                         _mm512_set1_epi32(sub[k]));
		__m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 1
		for (int c = 0; c < 4; c++) {
			for (size_t o = (size_t)c * pf_bytes / 4;
			     o < (size_t)(c + 1) * pf_bytes / 4; o += 64) {
				if (pf)
					_mm_prefetch(pf + (size_t)i * pf_bytes + o, _MM_HINT_T0);
				if (pf2)
					_mm_prefetch(pf2 + (size_t)i * pf_bytes + o, _MM_HINT_T0);
			}
			__m512i T[8];
			mrt__lanes32x16(rp, at + 16 + 32 * (size_t)c, T);
#pragma GCC unroll 2
			for (int h = 0; h < 2; h++) {
				const int sb = 2 * c + h;
				const int8_t *xp = x->qs + 32 * sb;
				__m512i d2[2];
#pragma GCC unroll 8
				for (int t = 0; t < 8; t++) {
					__m512i w = _mm512_and_si512(
					    h ? _mm512_srli_epi16(T[t], 4) : T[t], m4);
					d2[t & 1] = mrt__dpbusd_bcst(t < 2 ? _mm512_setzero_si512()
					                                   : d2[t & 1],
					                             w, xp + 4 * t);
				}
				/* sub-block sb's scale, zero-extended in each dword */
				__m512i sc = _mm512_shuffle_epi8(
				    S[sb >> 2], _mm512_add_epi8(b0, _mm512_set1_epi32(sb & 3)));
				isum = _mm512_add_epi32(
				    isum, _mm512_mullo_epi32(_mm512_add_epi32(d2[0], d2[1]), sc));
			}
		}
		__m512 dx = _mm512_set1_ps(x->d);
		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx), acc);
		acc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mn), _mm512_mul_ps(mw, dx), acc);
	}
	_mm512_storeu_ps(out, acc);
}

/* Q4_K on VNNI, one row of X: klv over two streams (lanes 0-7 rows n ..,
 * lanes 8-15 rows n + h ..), each prefetching its next 8 rows, as the
 * Q8_0/Q4_0 tile does; the last rows in one tile, the rows past the end
 * repeating the last. */
INL void SFX(lin_q4k_row)(const mrt__lin *a, int64_t m, int64_t n0, int64_t n1)
{
	const size_t bsz = sizeof(blk_q4_k);
	const uint8_t *W = a->W;
	const uint8_t *rp[16];
	float out[16];
	int64_t h = (n1 - n0) / 16 * 8;
	mrt__streams_start(a, n0, h);
	for (int64_t t = 0; t < h; t += 8) {
		for (int j = 0; j < 16; j++)
			rp[j] = W + a->wrow * (size_t)mrt__split_row(n0, h, t, j);
		SFX(klv)
		(a, m, rp, (const char *)rp[7] + a->wrow, (const char *)rp[15] + a->wrow, 8 * bsz,
		 out);
		mrt__split_store16(a, m, n0, h, t, out);
	}
	int64_t n = n0 + 2 * h;
	if (n < n1) {
		int C = (int)(n1 - n);
		for (int j = 0; j < 16; j++)
			rp[j] = W + a->wrow * (size_t)(n + (j < C ? j : C - 1));
		SFX(klv)(a, m, rp, NULL, NULL, 0, out);
		for (int j = 0; j < C; j++)
			mrt__lin_store(a, m, n + j, out[j]);
	}
}
#endif

/* klanes, or on AVX-512 VNNI klanes4v for Q4_K. */
INL void SFX(klanes_at)(const mrt__lin *a, int Q5, int64_t m, int R, int64_t n, int C, int prefetch)
{
#ifdef KQ_VNNI
	if (!Q5) {
		SFX(klanes4v)(a, m, R, n, C, prefetch);
		return;
	}
#endif
	SFX(klanes)(a, Q5, m, R, n, C, prefetch);
}

#ifdef KQ_VNNI
/* ---- Q6_K, 2 to 8 rows of X with AVX-512 VNNI: 16 weight rows at once, one per dword lane ----
 *
 * ktile's arithmetic (the Q6_K contract above) with the weight rows
 * transposed, so the per-super-block dots come out one row per lane and
 * the float step is one FMA for 16 rows. */

/* Rows m .. m + R - 1 of Q8KX xq and zeroed 16-lane accumulators. */
INL void SFX(kq_xrows)(const mrt__lin *a, int64_t m, int R, const mrt__q8k **x, __m512 *acc)
{
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		x[r] = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)(m + r));
		acc[r] = _mm512_setzero_ps();
	}
}

/* One Q6_K super-block of 16 rows in the packed layout at sb (vector u:
 * dword u of the 16 rows; their d at 64 x 52) against rows x[r] of X (r <
 * R), into acc[r]: ktile's contract, a row per lane. The -32 offset starts
 * each lane from the scales against x's 16 sums (vpdpwssd); per sub-block,
 * 4 vpdpbusd with x's 4-byte groups broadcast give each lane its row's
 * dot (at most 16 x 63 x 127), times the row's scale (vpmulld). The
 * decoding is paid once for the R rows. pf (or NULL): 3360 bytes to
 * prefetch, a quarter in each of the four steps (all at once, the
 * prefetches stalled: 0.75-0.8x at 8 rows of X, 32000 x 768, one thread). */
INL void SFX(q6_sb)(const uint8_t *sb, const mrt__q8k *const *x, int R, const char *pf, __m512 *acc)
{
	const size_t rec = MRT__PACK_ROWS * sizeof(blk_q6_k);
	const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
	/* byte shuffles giving each dword bytes b, b, b + 1, b + 1 of itself */
	const __m512i in4 =
	    _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0x04040404, 0x08080808, 0x0c0c0c0c));
	const __m512i pair[2] = {_mm512_add_epi8(in4, _mm512_set1_epi32(0x01010000)),
	                         _mm512_add_epi8(in4, _mm512_set1_epi32(0x03030202))};
	/* vector u: dword u (bytes 4u .. 4u + 3) of the 16 rows */
#define Q6P_V(byte) _mm512_loadu_si512(sb + 16 * (size_t)(byte))
	__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sb + 64 * 52)));
	__m512i S[4], sc[16], P[8];
#pragma GCC unroll 4
	for (int t = 0; t < 4; t++)
		S[t] = Q6P_V(offsetof(blk_q6_k, scales) + 4 * t);
#pragma GCC unroll 16
	for (int s = 0; s < 16; s++)
		sc[s] = _mm512_srai_epi32(_mm512_slli_epi32(S[s / 4], 24 - 8 * (s % 4)), 24);
#pragma GCC unroll 8
	for (int k = 0; k < 8; k++)
		P[k] = _mm512_mullo_epi16(
		    _mm512_srai_epi16(_mm512_shuffle_epi8(S[k / 2], pair[k % 2]), 8),
		    _mm512_set1_epi16(-32));
	__m512i isum[KT_MAX_R];
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		isum[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++) {
			int32_t b2;
			memcpy(&b2, x[r]->bsums + 2 * k, 4);
			isum[r] = _mm512_dpwssd_epi32(isum[r], P[k], _mm512_set1_epi32(b2));
		}
	}
#pragma GCC unroll 1
	for (int h = 0; h < 2; h++)
#pragma GCC unroll 1
		for (int l16 = 0; l16 < 2; l16++) {
			if (pf)
				for (size_t o = (size_t)(2 * h + l16) * rec / 4;
				     o < (size_t)(2 * h + l16 + 1) * rec / 4; o += 64)
					_mm_prefetch(pf + o, _MM_HINT_T0);
			__m512i LA[4], LB[4], H[4];
#pragma GCC unroll 4
			for (int t = 0; t < 4; t++) {
				LA[t] = Q6P_V(64 * h + 16 * l16 + 4 * t);
				LB[t] = Q6P_V(64 * h + 32 + 16 * l16 + 4 * t);
				H[t] = Q6P_V(offsetof(blk_q6_k, qh) + 32 * h + 16 * l16 + 4 * t);
			}
#pragma GCC unroll 4
			for (int g = 0; g < 4; g++) {
				__m512i W[4];
#pragma GCC unroll 4
				for (int t = 0; t < 4; t++) {
					__m512i lo = g & 1 ? LB[t] : LA[t];
					if (g >= 2)
						lo = _mm512_srli_epi16(lo, 4);
					__m512i hb = g == 0   ? _mm512_slli_epi16(H[t], 4)
					             : g == 1 ? _mm512_slli_epi16(H[t], 2)
					             : g == 2 ? H[t]
					                      : _mm512_srli_epi16(H[t], 2);
					W[t] = _mm512_or_si512(_mm512_and_si512(lo, m4),
					                       _mm512_and_si512(hb, m30));
				}
				const int s = 8 * h + 2 * g + l16;
#pragma GCC unroll 8
				for (int r = 0; r < R; r++) {
					const int8_t *xp = x[r]->qs + 16 * s;
					__m512i d = _mm512_setzero_si512();
#pragma GCC unroll 4
					for (int t = 0; t < 4; t++)
						d = mrt__dpbusd_bcst(d, W[t], xp + 4 * t);
					isum[r] =
					    _mm512_add_epi32(isum[r], _mm512_mullo_epi32(d, sc[s]));
				}
			}
		}
#undef Q6P_V
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]),
		                         _mm512_mul_ps(dw, _mm512_set1_ps(x[r]->d)), acc[r]);
	}
}

/* Rows m .. m + R - 1 of X (R <= 8) against the 16 Q6_K weight rows rp
 * (lane j: rp[j]), into out[r][j]: each super-block of the 16 rows is
 * transposed by dwords (mrt__lanes16x16) into the packed layout on the
 * stack, then q6_sb. pf (or NULL): the next 16 rows, their super-block
 * prefetched a quarter in each of q6_sb's four steps. */
INL void SFX(q6lanes)(const mrt__lin *a, int64_t m, int R, const uint8_t *const rp[16],
                      const char *pf, float out[KT_MAX_R][16])
{
	const size_t bsz = sizeof(blk_q6_k);
	const mrt__q8k *x[KT_MAX_R];
	__m512 acc[KT_MAX_R];
	_Alignas(64) uint8_t rec[MRT__PACK_ROWS * sizeof(blk_q6_k)];
#pragma GCC unroll 8
	for (int r = 0; r < R; r++) {
		x[r] = (const mrt__q8k *)(a->xq + a->xq_row * (size_t)(m + r));
		acc[r] = _mm512_setzero_ps();
	}
	for (int64_t i = 0; i < a->K / MRT__QKK; i++) {
		const size_t at = (size_t)i * bsz;
#pragma GCC unroll 1
		for (size_t u = 0; u < offsetof(blk_q6_k, d); u += 16) {
			__m512i T[4];
			mrt__lanes16x16(rp, at + u, T);
#pragma GCC unroll 4
			for (int t = 0; t < 4; t++)
				_mm512_store_si512(rec + 16 * u + 64 * t, T[t]);
		}
#pragma GCC unroll 16
		for (int j = 0; j < 16; j++)
			memcpy(rec + 64 * 52 + 2 * j, rp[j] + at + offsetof(blk_q6_k, d), 2);
		SFX(q6_sb)(rec, x, R, pf ? pf + (size_t)i * 16 * bsz : NULL, acc);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			x[r]++;
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		_mm512_storeu_ps(out[r], acc[r]);
}

/* ---- packed Q4_K, Q5_K and Q6_K (mrt__pack), 1 to 8 rows of X, AVX-512 VNNI ----
 *
 * A packed super-block of 16 rows holds, as vector u, what mrt__lanes16x16
 * and mrt__lanes32x16 make of dword u of the 16 rows, so klp is klv (and
 * q6p q6lanes) with loads for the transposes (Q5_K: klv with each weight's
 * fifth bit from qh, as klanes takes it), and every row of X shares
 * the decoded weights: the same integer sums and float steps, the same
 * bytes as the unpacked tiles. pf: prefetch the next super-blocks (the
 * first tile of X rows over a group). */
INL void SFX(klp)(const mrt__lin *a, int Q5, int64_t m, int R, const uint8_t *grp, int pf,
                  float out[KT_MAX_R][16])
{
	const size_t rec = MRT__PACK_ROWS * (Q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k));
	const size_t pfd = mrt__pack_prefetch(rec);
	/* the vectors of qs (dwords 4 on, or 12 on after Q5_K's 32 bytes of qh) */
	const size_t qs = 64 * (Q5 ? 12 : 4);
	const __m512i m10 = _mm512_set1_epi8(0x10);
	const mrt__q8k *x[KT_MAX_R];
	__m512 acc[KT_MAX_R];
	SFX(kq_xrows)(a, m, R, x, acc);
	const __m512i m4 = _mm512_set1_epi8(0x0f);
	const __m512i dw4 = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0);
	const __m512i b0 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80808000), dw4);
	const __m512i w01 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80018000), dw4);
	const __m512i w23 = _mm512_add_epi8(_mm512_set1_epi32((int)0x80038002), dw4);
	for (int64_t i = 0; i < a->K / MRT__QKK; i++) {
		const uint8_t *sb = grp + (size_t)i * rec;
		__m512i H[4];
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			H[k] = _mm512_loadu_si512(sb + 64 * k);
		__m512 dw, mw;
		__m512i S[2], Mn[2];
		SFX(kl_heads16)(H, &dw, &mw, S, Mn);
		__m512i isum[KT_MAX_R];
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			isum[r] = _mm512_setzero_si512();
#pragma GCC unroll 1
		for (int c = 0; c < 4; c++) {
			if (pf)
				for (size_t o = (size_t)c * rec / 4; o < (size_t)(c + 1) * rec / 4;
				     o += 64)
					_mm_prefetch((const char *)sb + pfd + o, _MM_HINT_T0);
#pragma GCC unroll 1
			for (int h = 0; h < 2; h++) {
				const int s = 2 * c + h;
				__m512i w[8];
#pragma GCC unroll 8
				for (int t = 0; t < 8; t++) {
					__m512i T = _mm512_loadu_si512(sb + qs + 512 * c + 64 * t);
					w[t] =
					    _mm512_and_si512(h ? _mm512_srli_epi16(T, 4) : T, m4);
					if (Q5) { /* bit s of qh[l] as bit 4 of weight l */
						__m512i q = _mm512_loadu_si512(sb + 64 * (4 + t));
						q = s < 4   ? _mm512_slli_epi16(q, 4 - s)
						    : s > 4 ? _mm512_srli_epi16(q, s - 4)
						            : q;
						w[t] =
						    _mm512_or_si512(w[t], _mm512_and_si512(q, m10));
					}
				}
				__m512i sc = _mm512_shuffle_epi8(
				    S[s >> 2], _mm512_add_epi8(b0, _mm512_set1_epi32(s & 3)));
#pragma GCC unroll 8
				for (int r = 0; r < R; r++) {
					const int8_t *xp = x[r]->qs + 32 * s;
					__m512i d2[2];
#pragma GCC unroll 8
					for (int t = 0; t < 8; t++)
						d2[t & 1] = mrt__dpbusd_bcst(
						    t < 2 ? _mm512_setzero_si512() : d2[t & 1],
						    w[t], xp + 4 * t);
					isum[r] = _mm512_add_epi32(
					    isum[r],
					    _mm512_mullo_epi32(_mm512_add_epi32(d2[0], d2[1]), sc));
				}
			}
		}
		__m512i Mw[4];
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++)
			Mw[k] = _mm512_shuffle_epi8(Mn[k >> 1], k & 1 ? w23 : w01);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			int32_t sub[4];
			SFX(kq_subsums)(x[r], sub);
			__m512i mn = _mm512_setzero_si512();
#pragma GCC unroll 4
			for (int k = 0; k < 4; k++)
				mn = _mm512_dpwssd_epi32(mn, Mw[k], _mm512_set1_epi32(sub[k]));
			__m512 dx = _mm512_set1_ps(x[r]->d);
			acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), _mm512_mul_ps(dw, dx),
			                         acc[r]);
			acc[r] =
			    _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mn), _mm512_mul_ps(mw, dx), acc[r]);
			x[r]++;
		}
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		_mm512_storeu_ps(out[r], acc[r]);
}

/* q6_sb over a packed group's super-blocks. */
INL void SFX(q6p)(const mrt__lin *a, int64_t m, int R, const uint8_t *grp, int pf,
                  float out[KT_MAX_R][16])
{
	const size_t rec = MRT__PACK_ROWS * sizeof(blk_q6_k), pfd = mrt__pack_prefetch(rec);
	const mrt__q8k *x[KT_MAX_R];
	__m512 acc[KT_MAX_R];
	SFX(kq_xrows)(a, m, R, x, acc);
	for (int64_t i = 0; i < a->K / MRT__QKK; i++) {
		const uint8_t *sb = grp + (size_t)i * rec;
		SFX(q6_sb)(sb, x, R, pf ? (const char *)sb + pfd : NULL, acc);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			x[r]++;
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		_mm512_storeu_ps(out[r], acc[r]);
}

INL void SFX(klp4)(const mrt__lin *a, int64_t m, int R, const uint8_t *grp, int pf,
                   float out[KT_MAX_R][16])
{
	SFX(klp)(a, 0, m, R, grp, pf, out);
}

INL void SFX(klp5)(const mrt__lin *a, int64_t m, int R, const uint8_t *grp, int pf,
                   float out[KT_MAX_R][16])
{
	SFX(klp)(a, 1, m, R, grp, pf, out);
}

/* One function per type and R (1 .. 8 rows of X), so acc stays in
 * registers and each is compiled on its own. Inlined into one function,
 * the 24 instances ran slower (one thread in L2, 1024 x 768, M = 8: Q4_K
 * 32 -> 27-28 us, Q5_K 31 -> 28 us) and made this file's ASan + UBSan
 * build take 6.7 min instead of 4.5. */
#define KP_INST(fn, R)                                                                             \
	static __attribute__((noinline)) TGT void SFX(fn##_r##R)(                                  \
	    const mrt__lin *a, int64_t m, const uint8_t *grp, int pf, float out[KT_MAX_R][16])     \
	{                                                                                          \
		SFX(fn)(a, m, R, grp, pf, out);                                                    \
	}
#define KP_INSTS(fn)                                                                               \
	KP_INST(fn, 1)                                                                             \
	KP_INST(fn, 2)                                                                             \
	KP_INST(fn, 3)                                                                             \
	KP_INST(fn, 4)                                                                             \
	KP_INST(fn, 5)                                                                             \
	KP_INST(fn, 6)                                                                             \
	KP_INST(fn, 7)                                                                             \
	KP_INST(fn, 8)
KP_INSTS(klp4)
KP_INSTS(klp5)
KP_INSTS(q6p)
#define KP_CASE(fn, R)                                                                             \
	case R:                                                                                    \
		SFX(fn##_r##R)(a, m, grp, pf, out);                                                \
		break
/* Packed Q4_K, Q5_K or Q6_K rows [n0, n1) (multiples of 16) against rows [m0,
 * m1) of X. */
INL void SFX(kpacked_range)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	float out[KT_MAX_R][16];
	for (int64_t n = n0; n < n1; n += MRT__PACK_ROWS) {
		const uint8_t *grp = (const uint8_t *)a->W + a->wrow * (size_t)n;
		for (int64_t m = m0; m < m1; m += KT_MAX_R) {
			int R = m1 - m < KT_MAX_R ? (int)(m1 - m) : KT_MAX_R, pf = m == m0;
			if (a->wtype == MRT_TYPE_Q4_K)
				switch (R) {
					KP_CASE(klp4, 8);
					KP_CASE(klp4, 7);
					KP_CASE(klp4, 6);
					KP_CASE(klp4, 5);
					KP_CASE(klp4, 4);
					KP_CASE(klp4, 3);
					KP_CASE(klp4, 2);
				default:
					SFX(klp4_r1)(a, m, grp, pf, out);
					break;
				}
			else if (a->wtype == MRT_TYPE_Q5_K)
				switch (R) {
					KP_CASE(klp5, 8);
					KP_CASE(klp5, 7);
					KP_CASE(klp5, 6);
					KP_CASE(klp5, 5);
					KP_CASE(klp5, 4);
					KP_CASE(klp5, 3);
					KP_CASE(klp5, 2);
				default:
					SFX(klp5_r1)(a, m, grp, pf, out);
					break;
				}
			else
				switch (R) {
					KP_CASE(q6p, 8);
					KP_CASE(q6p, 7);
					KP_CASE(q6p, 6);
					KP_CASE(q6p, 5);
					KP_CASE(q6p, 4);
					KP_CASE(q6p, 3);
					KP_CASE(q6p, 2);
				default:
					SFX(q6p_r1)(a, m, grp, pf, out);
					break;
				}
			mrt__tile_store16(a, m, R, n, MRT__PACK_ROWS, out);
		}
	}
}
#undef KP_CASE
#undef KP_INSTS
#undef KP_INST

/* Q6_K rows [m0, m1) of X (2 or more) against weight rows [n0, n1): 16
 * weight rows side by side (rows past the end repeat the last), one
 * q6lanes instance per R so acc stays in registers, the first tile of X
 * rows prefetching the next 16. */
INL void SFX(q6lanes_range)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	const uint8_t *rp[16];
	float out[KT_MAX_R][16];
	for (int64_t n = n0; n < n1; n += 16) {
		int C = n1 - n < 16 ? (int)(n1 - n) : 16;
		for (int j = 0; j < 16; j++)
			rp[j] = (const uint8_t *)a->W + a->wrow * (size_t)(n + (j < C ? j : C - 1));
		for (int64_t m = m0; m < m1; m += KT_MAX_R) {
			int R = m1 - m < KT_MAX_R ? (int)(m1 - m) : KT_MAX_R;
			const char *pf =
			    m == m0 && n + 16 < n1 ? (const char *)rp[0] + 16 * a->wrow : NULL;
			switch (R) {
			case 8:
				SFX(q6lanes)(a, m, 8, rp, pf, out);
				break;
			case 7:
				SFX(q6lanes)(a, m, 7, rp, pf, out);
				break;
			case 6:
				SFX(q6lanes)(a, m, 6, rp, pf, out);
				break;
			case 5:
				SFX(q6lanes)(a, m, 5, rp, pf, out);
				break;
			case 4:
				SFX(q6lanes)(a, m, 4, rp, pf, out);
				break;
			case 3:
				SFX(q6lanes)(a, m, 3, rp, pf, out);
				break;
			case 2:
				SFX(q6lanes)(a, m, 2, rp, pf, out);
				break;
			default:
				SFX(q6lanes)(a, m, 1, rp, pf, out);
				break;
			}
			mrt__tile_store16(a, m, R, n, C, out);
		}
	}
}
#endif

/* Q4_K and Q5_K: 8 weight rows at a time for 2 and more rows of X, two
 * (kpair) for one; Q6_K: two weight rows at a time for one row of X
 * (kpair6), 16 (q6lanes) with VNNI for more, else one (ktile: it stays in
 * L1 across the row tiles). */
INL void SFX(lin_k_type)(const mrt__lin *a, int wtype, int64_t m0, int64_t m1, int64_t n0,
                         int64_t n1)
{
#ifdef KQ_VNNI
	if (wtype == MRT_TYPE_Q4_K && m1 - m0 == 1) {
		SFX(lin_q4k_row)(a, m0, n0, n1);
		return;
	}
#endif
	if (wtype != MRT_TYPE_Q6_K && m1 - m0 >= 2) {
		const int Q5 = wtype == MRT_TYPE_Q5_K;
		for (int64_t n = n0; n < n1; n += 8) {
			int C = n1 - n < 8 ? (int)(n1 - n) : 8;
			int prefetch = n + 16 <= n1;
			for (int64_t m = m0; m < m1;) {
				int R = m1 - m < KT_MAX_R ? (int)(m1 - m) : KT_MAX_R;
				switch (R) {
				case 8:
					SFX(klanes_at)(a, Q5, m, 8, n, C, prefetch);
					break;
				case 7:
					SFX(klanes_at)(a, Q5, m, 7, n, C, prefetch);
					break;
				case 6:
					SFX(klanes_at)(a, Q5, m, 6, n, C, prefetch);
					break;
				case 5:
					SFX(klanes_at)(a, Q5, m, 5, n, C, prefetch);
					break;
				case 4:
					SFX(klanes_at)(a, Q5, m, 4, n, C, prefetch);
					break;
				case 3:
					SFX(klanes_at)(a, Q5, m, 3, n, C, prefetch);
					break;
				case 2:
					SFX(klanes_at)(a, Q5, m, 2, n, C, prefetch);
					break;
				default:
					for (int64_t nn = n; nn < n + C; nn += 2) {
						int64_t n2 = nn + 1 < n + C ? nn + 1 : nn;
						SFX(kpair)(a, Q5, m, nn, n2);
					}
					break;
				}
				m += R;
			}
		}
		return;
	}
#ifdef KQ_VNNI
	if (m1 - m0 >= 2) {
		SFX(q6lanes_range)(a, m0, m1, n0, n1);
		return;
	}
#endif
	if (m1 - m0 == 1) { /* rows n and n + h together: two streams of W */
		int64_t h = (n1 - n0) / 2;
		for (int64_t t = 0; t < h; t++)
			if (wtype == MRT_TYPE_Q6_K)
				SFX(kpair6)(a, m0, n0 + t, n0 + h + t);
			else
				SFX(kpair)(a, wtype == MRT_TYPE_Q5_K, m0, n0 + t, n0 + h + t);
		if ((n1 - n0) & 1) {
			if (wtype == MRT_TYPE_Q6_K)
				SFX(kpair6)(a, m0, n1 - 1, n1 - 1);
			else
				SFX(kpair)(a, wtype == MRT_TYPE_Q5_K, m0, n1 - 1, n1 - 1);
		}
		return;
	}
	for (int64_t n = n0; n < n1; n++)
		for (int64_t m = m0; m < m1;) {
			int64_t left = m1 - m;
			int R = left >= 8 ? 8 : left >= 4 ? 4 : (int)left;
			switch (R) {
			case 8:
				SFX(ktile)(a, m, n, 8);
				break;
			case 4:
				SFX(ktile)(a, m, n, 4);
				break;
			case 3:
				SFX(ktile)(a, m, n, 3);
				break;
			case 2:
				SFX(ktile)(a, m, n, 2);
				break;
			default:
				SFX(ktile)(a, m, n, 1);
				break;
			}
			m += R;
		}
}

TGT void SFX(mrt__lin_k)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
#ifdef KQ_VNNI
	/* here, not in lin_k_type: one copy of the packed tiles, not one per
	 * type (this file's sanitizer build took 13.7 min with three) */
	if (a->packed) {
		SFX(kpacked_range)(a, m0, m1, n0, n1);
		return;
	}
#endif
	switch (a->wtype) {
	case MRT_TYPE_Q4_K:
		SFX(lin_k_type)(a, MRT_TYPE_Q4_K, m0, m1, n0, n1);
		break;
	case MRT_TYPE_Q5_K:
		SFX(lin_k_type)(a, MRT_TYPE_Q5_K, m0, m1, n0, n1);
		break;
	default:
		SFX(lin_k_type)(a, MRT_TYPE_Q6_K, m0, m1, n0, n1);
		break;
	}
}

#undef INL
#undef KT_MAX_R
#undef KQ_PIN
#endif
