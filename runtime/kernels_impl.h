/* Private to the kernel files (kernels.c, kernels_avx2.c, kernels_avx512.c):
 * the argument block of one linear call, the layout of quantized activations
 * and the per-CPU-level kernel entry points. */
#ifndef MRT_KERNELS_IMPL_H
#define MRT_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "mrt_gguf.h"

/* Quantized activations ("Q8X"): each row of X is cut in blocks of 32 with
 * d = max|x| / 127 and q = nearbyint(x * (1 / d)) in [-127, 127]. Row r lives
 * at xq + r * xq_row: K int8 values, then K / 32 float scales at offset
 * mrt__q8x_dofs(K), then K / 32 int32 at mrt__q8x_sofs(K): 8 x the sum of
 * each block's q (the AVX2 Q4_0 kernel takes its nibbles unsigned, 0..15,
 * and subtracts this). Every CPU level produces the same bytes. */
#define MRT__QK 32
static inline size_t mrt__q8x_dofs(int64_t K)
{
	return ((size_t)K + 63) & ~(size_t)63;
}
static inline size_t mrt__q8x_sofs(int64_t K)
{
	return mrt__q8x_dofs(K) + ((((size_t)K / MRT__QK) * sizeof(float) + 63) & ~(size_t)63);
}
static inline size_t mrt__q8x_row(int64_t K)
{
	return mrt__q8x_sofs(K) + ((((size_t)K / MRT__QK) * sizeof(int32_t) + 63) & ~(size_t)63);
}

/* Quantized activations for k-quant weights ("Q8KX"): each row of X is cut
 * in super-blocks of 256 stored as ggml's block_q8_K (made by
 * mrt_quantize(MRT_TYPE_Q8_K), so every level has the same bytes): f32 d,
 * 256 int8 q with x ~ d * q, and the 16 sums of q over groups of 16. Row r
 * lives at xq + r * xq_row. */
#define MRT__QKK 256
typedef struct mrt__q8k {
	float d;
	int8_t qs[MRT__QKK];
	int16_t bsums[MRT__QKK / 16];
} mrt__q8k;
static inline size_t mrt__q8k_row(int64_t K)
{
	return (((size_t)K / MRT__QKK) * sizeof(mrt__q8k) + 63) & ~(size_t)63;
}

/* Packed Q8_0/Q4_0/Q4_K/Q5_K/Q6_K weights (mrt__pack; wtype | MRT__PACKED): the same
 * bytes as the file's rows, reordered for the one-weight-row-per-lane
 * tiles so that they read each group of 16 rows as one linear stream with
 * no transposes. Group g (rows 16g .. 16g + 15) keeps the bytes of those
 * rows, from 16g x wrow. Its blocks go in pairs, a record of 2 x P + 64
 * bytes (P = 512 for Q8_0, 256 for Q4_0): the payloads of blocks 2r and
 * 2r + 1, then their 16 f16 scales each (row order). A payload is P / 64
 * vectors; dword j of vector t holds bytes 4t .. 4t + 3 of row j's quants
 * (Q8_0 xor 0x80, so unsigned w + 128; Q4_0 as stored, two nibbles a
 * byte). An odd last block has a record of P + 32 bytes. Records of 64-byte
 * multiples keep the vectors aligned when the group is. Q4_K, Q5_K and
 * Q6_K (super-blocks of 144, 176 and 210 bytes): super-block b of the group is a
 * record of 16 x the bytes at b x 16 x that; dword u of row j's
 * super-block at 64u + 4j (vector u, lane j), Q6_K's f16 d (bytes 208-209)
 * apart, the 16 rows' at 64 x 52. */
static inline size_t mrt__pack_payload(int wtype)
{
	return wtype == MRT_TYPE_Q8_0 ? 512 : 256;
}
/* Offset in a group of block b's payload (of nb blocks); *scales: of its 16
 * scales. */
static inline size_t mrt__pack_at(int wtype, int64_t nb, int64_t b, size_t *scales)
{
	size_t P = mrt__pack_payload(wtype), rec = (size_t)(b / 2) * (2 * P + 64);
	if (b & 1) {
		*scales = rec + 2 * P + 32;
		return rec + P;
	}
	*scales = rec + (b + 1 < nb ? 2 * P : P);
	return rec;
}

/* One linear call: Y[M,N] (=|+=) X[M,K] W[N,K]^T + bias. Kernels compute the
 * rectangle rows [m0,m1) x columns [n0,n1) of Y. */
typedef struct mrt__lin {
	const float *X;
	size_t ldx;
	const void *W;
	int wtype;
	size_t wrow; /* bytes per row of W */
	const float *bias;
	float *Y;
	size_t ldy;
	int64_t M, N, K;
	int accumulate;
	int exact; /* no GEMM: a row's arithmetic whatever M (mrt__linear_exact) */
	int packed;  /* W packed (mrt__pack): only lin_q of the VNNI level reads it */
	uint8_t *xq; /* quantized activations: Q8X (Q8_0/Q4_0), Q8KX (k-quants) */
	size_t xq_row;
} mrt__lin;

/* Write the final value of Y[m][n]. */
static inline void mrt__lin_store(const mrt__lin *a, int64_t m, int64_t n, float v)
{
	float *y = a->Y + (size_t)m * a->ldy + n;
	if (a->bias)
		v += a->bias[n];
	*y = a->accumulate ? *y + v : v;
}

/* Kernels of one CPU level. lin_f: F32/F16/BF16 weights from X; lin_q:
 * Q8_0/Q4_0 weights from Q8X xq; lin_k: Q4_K/Q5_K/Q6_K weights from Q8KX
 * xq; quant_x: rows [m0,m1) of X into Q8X xq; quant_k: the same into Q8KX
 * (mrt_quantize's Q8_K bytes on every level); expand: n F16/BF16 values
 * to F32 (the sgemm panels). */
typedef struct mrt__kern {
	void (*lin_f)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
	void (*lin_q)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
	void (*lin_k)(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
	void (*quant_x)(const mrt__lin *a, int64_t m0, int64_t m1);
	void (*quant_k)(const mrt__lin *a, int64_t m0, int64_t m1);
	void (*expand)(int wtype, const uint16_t *src, float *dst, int64_t n);
} mrt__kern;

/* The k-quant kernels of kernels_kquant.c, one per level. */
/* The F32/F16/BF16 kernel of the AVX-512 levels (kernels_avx2.c): ftile's
 * arithmetic in 512-bit vectors for 2-15 rows of X, the same bytes. */
void mrt__lin_f_avx512(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void mrt__lin_k_generic(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void mrt__lin_k_avx2(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
/* mrt_quantize(MRT_TYPE_Q8_K) of nb super-blocks of finite x, the same bytes, on AVX2. */
void mrt__quant_k_avx2(const float *x, mrt__q8k *b, int64_t nb);
void mrt__lin_k_avx512(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void mrt__lin_k_vnni(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

extern const mrt__kern mrt__kern_generic;
extern const mrt__kern mrt__kern_avx2;
extern const mrt__kern mrt__kern_avx512;
extern const mrt__kern mrt__kern_avx512vnni;

/* One group of a packed matrix (kernels_impl.h layout): the 16 rows of nb
 * blocks at rows (wrow bytes apart) into out, which holds 16 x wrow bytes
 * and does not overlap them. mrt__pack_group_ref is the plain C form; the
 * AVX-512 one gives the same bytes, for wrow < 2^27 (its gather offsets
 * are 32-bit; mrt__pack takes the plain C form above that). */
void mrt__pack_group_ref(int wtype, const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *out);
void mrt__pack_group_avx512(int wtype, const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *out);

#endif
