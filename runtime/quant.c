/* Tensor element types: the type table, IEEE half / bfloat16 conversions and
 * quantize / dequantize of the ggml block layouts (Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_1 and the 256-element k-quant super-blocks). Block structs mirror
 * ggml byte for byte; multi-byte fields are little-endian, as on every host
 * we build for. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mrt_gguf.h"

#define QK 32   /* elements per Q4_0/Q4_1/Q5_x/Q8_0/Q8_1 block */
#define QK_K 256 /* elements per k-quant super-block */

typedef struct { uint16_t d; int8_t qs[QK]; } blk_q8_0;                 /* 34 B */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } blk_q4_0;            /* 18 B */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } blk_q4_1;         /* 20 B */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_0; /* 22 B */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } blk_q5_1; /* 24 B */
typedef struct { uint16_t d, s; int8_t qs[QK]; } blk_q8_1;              /* 36 B */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } blk_q2_k; /* 84 B */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } blk_q3_k;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_k; /* 144 B */
typedef struct {
	uint16_t d, dmin;
	uint8_t scales[12];
	uint8_t qh[32];
	uint8_t qs[128];
} blk_q5_k; /* 176 B */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } blk_q6_k;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } blk_q8_k; /* 292 B */

_Static_assert(sizeof(blk_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(blk_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(blk_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(blk_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(blk_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(blk_q2_k) == 84, "q2_k layout");
_Static_assert(sizeof(blk_q3_k) == 110, "q3_k layout");
_Static_assert(sizeof(blk_q4_k) == 144, "q4_k layout");
_Static_assert(sizeof(blk_q5_k) == 176, "q5_k layout");
_Static_assert(sizeof(blk_q6_k) == 210, "q6_k layout");
_Static_assert(sizeof(blk_q8_k) == 292, "q8_k layout");

/* name, elements per block, bytes per block, can_dequantize, can_quantize */
static const mrt_type_info type_table[MRT_TYPE_COUNT] = {
	[MRT_TYPE_F32] = {"f32", 1, 4, 1, 1},
	[MRT_TYPE_F16] = {"f16", 1, 2, 1, 1},
	[MRT_TYPE_Q4_0] = {"q4_0", QK, sizeof(blk_q4_0), 1, 1},
	[MRT_TYPE_Q4_1] = {"q4_1", QK, sizeof(blk_q4_1), 1, 0},
	[MRT_TYPE_Q5_0] = {"q5_0", QK, sizeof(blk_q5_0), 1, 0},
	[MRT_TYPE_Q5_1] = {"q5_1", QK, sizeof(blk_q5_1), 1, 0},
	[MRT_TYPE_Q8_0] = {"q8_0", QK, sizeof(blk_q8_0), 1, 1},
	[MRT_TYPE_Q8_1] = {"q8_1", QK, sizeof(blk_q8_1), 1, 0},
	[MRT_TYPE_Q2_K] = {"q2_k", QK_K, sizeof(blk_q2_k), 1, 0},
	[MRT_TYPE_Q3_K] = {"q3_k", QK_K, sizeof(blk_q3_k), 1, 0},
	[MRT_TYPE_Q4_K] = {"q4_k", QK_K, sizeof(blk_q4_k), 1, 1},
	[MRT_TYPE_Q5_K] = {"q5_k", QK_K, sizeof(blk_q5_k), 1, 1},
	[MRT_TYPE_Q6_K] = {"q6_k", QK_K, sizeof(blk_q6_k), 1, 1},
	[MRT_TYPE_Q8_K] = {"q8_k", QK_K, sizeof(blk_q8_k), 1, 1},
	[MRT_TYPE_I8] = {"i8", 1, 1, 1, 0},
	[MRT_TYPE_I16] = {"i16", 1, 2, 1, 0},
	[MRT_TYPE_I32] = {"i32", 1, 4, 1, 0},
	[MRT_TYPE_I64] = {"i64", 1, 8, 1, 0},
	[MRT_TYPE_F64] = {"f64", 1, 8, 1, 0},
	[MRT_TYPE_BF16] = {"bf16", 1, 2, 1, 1},
};

mrt_type_info mrt_type_get(int t)
{
	mrt_type_info none = {0};
	if (t < 0 || t >= MRT_TYPE_COUNT || !type_table[t].name)
		return none;
	return type_table[t];
}

int mrt_type_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int t = 0; t < MRT_TYPE_COUNT; t++) {
		const char *n = type_table[t].name;
		if (!n)
			continue;
		/* accept "Q8_0" as well as "q8_0" */
		size_t i = 0;
		while (n[i] && name[i] && (name[i] | 0x20) == (n[i] | 0x20))
			i++;
		if (!n[i] && !name[i])
			return t;
	}
	return -1;
}

int mrt_type_nbytes(int t, uint64_t n, uint64_t *bytes)
{
	mrt_type_info ti = mrt_type_get(t);
	if (!ti.name || n % ti.block_elems)
		return -1;
	uint64_t blocks = n / ti.block_elems;
	if (blocks > UINT64_MAX / ti.block_bytes)
		return -1;
	*bytes = blocks * ti.block_bytes;
	return 0;
}

/* ---- half and bfloat16 ---- */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float mrt_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	int32_t e = (h >> 10) & 0x1f;
	uint32_t m = h & 0x3ff;
	if (e == 0x1f)
		return bits_f32(sign | 0x7f800000u | (m << 13));
	if (e == 0) {
		if (m == 0)
			return bits_f32(sign);
		e = 1; /* subnormal: normalise the mantissa */
		while (!(m & 0x400)) {
			m <<= 1;
			e--;
		}
		m &= 0x3ff;
	}
	return bits_f32(sign | (uint32_t)(e + 112) << 23 | m << 13);
}

uint16_t mrt_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (x >> 16) & 0x8000;
	x &= 0x7fffffffu;
	if (x >= 0x7f800000u) /* inf stays inf; nan stays a (quiet) nan */
		return sign | 0x7c00 | (x > 0x7f800000u ? 0x200 | ((x >> 13) & 0x3ff) : 0);
	if (x >= 0x477ff000u) /* >= 65520 rounds past the largest half */
		return sign | 0x7c00;
	if (x < 0x38800000u) { /* below 2^-14: a subnormal half or zero */
		if (x <= 0x33000000u) /* <= 2^-25 rounds (to even) to zero */
			return sign;
		uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u;
		uint32_t shift = 126 - e; /* value in units of 2^-24 is m >> shift */
		uint32_t res = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (res & 1)))
			res++;
		return sign | (uint16_t)res;
	}
	uint32_t r = x - 0x38000000u; /* rebias 127 -> 15 */
	return sign | (uint16_t)((r + 0xfff + ((r >> 13) & 1)) >> 13);
}

float mrt_bf16_to_f32(uint16_t h)
{
	return bits_f32((uint32_t)h << 16);
}

uint16_t mrt_f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40); /* keep nan a quiet nan */
	return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

#define H2F(h) mrt_f16_to_f32(h)

/* ---- 32-element blocks ---- */

static void deq_q8_0(const blk_q8_0 *b, float *y, size_t nb)
{
	for (size_t i = 0; i < nb; i++) {
		float d = H2F(b[i].d);
		for (int j = 0; j < QK; j++)
			y[i * QK + j] = b[i].qs[j] * d;
	}
}

static void deq_q4_0(const blk_q4_0 *b, float *y, size_t nb)
{
	for (size_t i = 0; i < nb; i++, y += QK) {
		float d = H2F(b[i].d);
		for (int j = 0; j < QK / 2; j++) {
			y[j] = ((b[i].qs[j] & 0xf) - 8) * d;
			y[j + QK / 2] = ((b[i].qs[j] >> 4) - 8) * d;
		}
	}
}

static void deq_q4_1(const blk_q4_1 *b, float *y, size_t nb)
{
	for (size_t i = 0; i < nb; i++, y += QK) {
		float d = H2F(b[i].d), m = H2F(b[i].m);
		for (int j = 0; j < QK / 2; j++) {
			y[j] = (b[i].qs[j] & 0xf) * d + m;
			y[j + QK / 2] = (b[i].qs[j] >> 4) * d + m;
		}
	}
}

/* Q5_0 / Q5_1: the fifth bit of element j is bit j of the 32-bit qh. */
static void deq_q5(const uint8_t *qh4, const uint8_t *qs, float d, float m, int off, float *y)
{
	uint32_t qh = (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 | (uint32_t)qh4[2] << 16 |
		      (uint32_t)qh4[3] << 24;
	for (int j = 0; j < QK / 2; j++) {
		int hi0 = ((qh >> j) << 4) & 0x10, hi1 = (qh >> (j + 12)) & 0x10;
		y[j] = (((qs[j] & 0xf) | hi0) - off) * d + m;
		y[j + QK / 2] = (((qs[j] >> 4) | hi1) - off) * d + m;
	}
}

static void deq_q8_1(const blk_q8_1 *b, float *y, size_t nb)
{
	for (size_t i = 0; i < nb; i++) {
		float d = H2F(b[i].d);
		for (int j = 0; j < QK; j++)
			y[i * QK + j] = b[i].qs[j] * d;
	}
}

/* ---- k-quants ---- */

/* 6-bit scale and min number j (0..7) of a Q4_K/Q5_K super-block. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*mn = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
		*mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

static void deq_q2_k(const blk_q2_k *b, float *y)
{
	float d = H2F(b->d), dmin = H2F(b->dmin);
	const uint8_t *q = b->qs;
	int is = 0;
	for (int n = 0; n < QK_K; n += 128, q += 32)
		for (int shift = 0; shift < 8; shift += 2)
			for (int half = 0; half < 2; half++) {
				uint8_t sc = b->scales[is++];
				float dl = d * (sc & 0xf), ml = dmin * (sc >> 4);
				for (int l = 0; l < 16; l++)
					*y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
			}
}

static void deq_q3_k(const blk_q3_k *b, float *y)
{
	const uint32_t km1 = 0x03030303, km2 = 0x0f0f0f0f;
	uint32_t aux[4];
	int8_t scales[16];
	memcpy(aux, b->scales, 12);
	uint32_t tmp = aux[2];
	aux[2] = ((aux[0] >> 4) & km2) | (((tmp >> 4) & km1) << 4);
	aux[3] = ((aux[1] >> 4) & km2) | (((tmp >> 6) & km1) << 4);
	aux[0] = (aux[0] & km2) | (((tmp >> 0) & km1) << 4);
	aux[1] = (aux[1] & km2) | (((tmp >> 2) & km1) << 4);
	memcpy(scales, aux, 16);
	float d = H2F(b->d);
	const uint8_t *q = b->qs;
	uint8_t m = 1;
	int is = 0;
	for (int n = 0; n < QK_K; n += 128, q += 32)
		for (int shift = 0; shift < 8; shift += 2, m <<= 1)
			for (int half = 0; half < 2; half++) {
				float dl = d * (scales[is++] - 32);
				for (int l = 16 * half; l < 16 * half + 16; l++)
					*y++ = dl * (((q[l] >> shift) & 3) -
						     ((b->hmask[l] & m) ? 0 : 4));
			}
}

static void deq_q4_k(const blk_q4_k *b, float *y)
{
	float d = H2F(b->d), dmin = H2F(b->dmin);
	const uint8_t *q = b->qs;
	for (int is = 0; is < 8; is += 2, q += 32) {
		uint8_t sc, mn;
		scale_min_k4(is, b->scales, &sc, &mn);
		float d1 = d * sc, m1 = dmin * mn;
		scale_min_k4(is + 1, b->scales, &sc, &mn);
		float d2 = d * sc, m2 = dmin * mn;
		for (int l = 0; l < 32; l++)
			*y++ = d1 * (q[l] & 0xf) - m1;
		for (int l = 0; l < 32; l++)
			*y++ = d2 * (q[l] >> 4) - m2;
	}
}

static void deq_q5_k(const blk_q5_k *b, float *y)
{
	float d = H2F(b->d), dmin = H2F(b->dmin);
	const uint8_t *ql = b->qs;
	uint8_t u1 = 1, u2 = 2;
	for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
		uint8_t sc, mn;
		scale_min_k4(is, b->scales, &sc, &mn);
		float d1 = d * sc, m1 = dmin * mn;
		scale_min_k4(is + 1, b->scales, &sc, &mn);
		float d2 = d * sc, m2 = dmin * mn;
		for (int l = 0; l < 32; l++)
			*y++ = d1 * ((ql[l] & 0xf) + (b->qh[l] & u1 ? 16 : 0)) - m1;
		for (int l = 0; l < 32; l++)
			*y++ = d2 * ((ql[l] >> 4) + (b->qh[l] & u2 ? 16 : 0)) - m2;
	}
}

static void deq_q6_k(const blk_q6_k *b, float *y)
{
	float d = H2F(b->d);
	const uint8_t *ql = b->ql, *qh = b->qh;
	const int8_t *sc = b->scales;
	for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
		for (int l = 0; l < 32; l++) {
			int is = l / 16;
			int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
			int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
			int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
			int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
			y[l] = d * sc[is] * q1;
			y[l + 32] = d * sc[is + 2] * q2;
			y[l + 64] = d * sc[is + 4] * q3;
			y[l + 96] = d * sc[is + 6] * q4;
		}
}

static void deq_plain(int t, const void *src, float *dst, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (t) {
		case MRT_TYPE_I8: dst[i] = ((const int8_t *)src)[i]; break;
		case MRT_TYPE_I16: dst[i] = ((const int16_t *)src)[i]; break;
		case MRT_TYPE_I32: dst[i] = (float)((const int32_t *)src)[i]; break;
		case MRT_TYPE_I64: dst[i] = (float)((const int64_t *)src)[i]; break;
		default: dst[i] = (float)((const double *)src)[i]; break;
		}
	}
}

int mrt_dequantize(int t, const void *src, float *dst, size_t n)
{
	mrt_type_info ti = mrt_type_get(t);
	if (!ti.can_dequantize || n % ti.block_elems)
		return -1;
	size_t nb = n / ti.block_elems;
	const uint16_t *h = src;
	switch (t) {
	case MRT_TYPE_F32: memmove(dst, src, n * sizeof(float)); break;
	case MRT_TYPE_F16: for (size_t i = 0; i < n; i++) dst[i] = H2F(h[i]); break;
	case MRT_TYPE_BF16: for (size_t i = 0; i < n; i++) dst[i] = mrt_bf16_to_f32(h[i]); break;
	case MRT_TYPE_Q8_0: deq_q8_0(src, dst, nb); break;
	case MRT_TYPE_Q4_0: deq_q4_0(src, dst, nb); break;
	case MRT_TYPE_Q4_1: deq_q4_1(src, dst, nb); break;
	case MRT_TYPE_Q8_1: deq_q8_1(src, dst, nb); break;
	case MRT_TYPE_Q5_0:
		for (size_t i = 0; i < nb; i++) {
			const blk_q5_0 *b = (const blk_q5_0 *)src + i;
			deq_q5(b->qh, b->qs, H2F(b->d), 0.0f, 16, dst + i * QK);
		}
		break;
	case MRT_TYPE_Q5_1:
		for (size_t i = 0; i < nb; i++) {
			const blk_q5_1 *b = (const blk_q5_1 *)src + i;
			deq_q5(b->qh, b->qs, H2F(b->d), H2F(b->m), 0, dst + i * QK);
		}
		break;
	case MRT_TYPE_Q2_K: for (size_t i = 0; i < nb; i++) deq_q2_k((const blk_q2_k *)src + i, dst + i * QK_K); break;
	case MRT_TYPE_Q3_K: for (size_t i = 0; i < nb; i++) deq_q3_k((const blk_q3_k *)src + i, dst + i * QK_K); break;
	case MRT_TYPE_Q4_K: for (size_t i = 0; i < nb; i++) deq_q4_k((const blk_q4_k *)src + i, dst + i * QK_K); break;
	case MRT_TYPE_Q5_K: for (size_t i = 0; i < nb; i++) deq_q5_k((const blk_q5_k *)src + i, dst + i * QK_K); break;
	case MRT_TYPE_Q6_K: for (size_t i = 0; i < nb; i++) deq_q6_k((const blk_q6_k *)src + i, dst + i * QK_K); break;
	case MRT_TYPE_Q8_K:
		for (size_t i = 0; i < nb; i++) {
			const blk_q8_k *b = (const blk_q8_k *)src + i;
			for (int j = 0; j < QK_K; j++)
				dst[i * QK_K + j] = b->d * b->qs[j];
		}
		break;
	default: deq_plain(t, src, dst, n); break;
	}
	return 0;
}

/* ---- quantization ---- */

/* Q8_0: d = max|x| / 127 rounded to half; q = round(x / d) clamped to
 * [-127, 127]. Quantizing against the stored (rounded) d keeps every error
 * within d/2. */
static void q_q8_0(const float *x, blk_q8_0 *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++, x += QK) {
		float amax = 0.0f;
		for (int j = 0; j < QK; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		uint16_t dh = mrt_f32_to_f16(amax / 127.0f);
		float d = H2F(dh), id = d != 0.0f ? 1.0f / d : 0.0f;
		b[i].d = dh;
		for (int j = 0; j < QK; j++) {
			float v = roundf(x[j] * id);
			b[i].qs[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
		}
	}
}

/* Q4_0 level of x against the stored scale d with id = 1 / d (0 when d is
 * 0): floor(x / d + 8.5) clamped to [0, 15], as ggml's reference rounds; a
 * nan goes to 0. */
static int q4_0_level(float x, float id)
{
	float v = x * id + 8.5f;
	v = v > 0.0f ? v : 0.0f;
	v = v < 15.0f ? v : 15.0f;
	return (int)v; /* v >= 0: truncation is floor */
}

/* Eight lanes (GCC/clang vector extensions: two SSE2 halves on any x86-64,
 * one AVX2 register where the CPU has it) so the scale search below costs a
 * few times one plain pass. */
typedef float q4_v8f __attribute__((vector_size(32)));
typedef int32_t q4_v8i __attribute__((vector_size(32)));

/* The sum of w[j] (x[j] - (level - 8) d)^2 over a block, each error formed
 * in float as a reader dequantizes it (levels as q4_0_level), summed in a
 * fixed order. */
static inline __attribute__((always_inline)) float q4_0_error_body(const float *x,
								   const float *w, float d)
{
	float id = d != 0.0f ? 1.0f / d : 0.0f;
	const q4_v8f vid = id - (q4_v8f){0}, vd = d - (q4_v8f){0};
	const q4_v8f half = 8.5f - (q4_v8f){0}, top = 15.0f - (q4_v8f){0};
	q4_v8f acc = {0};
	for (int j = 0; j < QK; j += 8) {
		q4_v8f vx, vw;
		memcpy(&vx, x + j, sizeof(vx));
		memcpy(&vw, w + j, sizeof(vw));
		q4_v8f v = vx * vid + half;
		q4_v8i pos = v > 0.0f, low = v < top;
		v = (q4_v8f)((q4_v8i)v & pos); /* nan and negatives: 0 */
		v = (q4_v8f)(((q4_v8i)v & low) | ((q4_v8i)top & ~low));
		q4_v8f lv = __builtin_convertvector(__builtin_convertvector(v, q4_v8i), q4_v8f);
		q4_v8f r = vx - (lv - 8.0f) * vd;
		acc += vw * r * r;
	}
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float q4_0_error_plain(const float *x, const float *w, float d)
{
	return q4_0_error_body(x, w, d);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static float q4_0_error_avx2(const float *x, const float *w,
							     float d)
{
	return q4_0_error_body(x, w, d);
}
#endif

static float q4_0_error(const float *x, const float *w, float d)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2"))
		return q4_0_error_avx2(x, w, d);
#endif
	return q4_0_error_plain(x, w, d);
}

/* The ggml reference scale of a block: the signed value of largest
 * magnitude over -8, rounded to half (0 for an all-zero block). */
static uint16_t q4_0_ref_scale(const float *x, float *max_out)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < QK; j++)
		if (fabsf(x[j]) > amax) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	*max_out = max;
	return mrt_f32_to_f16(max / -8.0f);
}

/* Q4_0 with a searched scale. Candidates d = max / k for k in -8 .. -6 (the
 * extreme at level -8 .. -6) and 5 .. 8 (the extreme on the positive side,
 * clamped at 7 past 7.5) in steps of 1/4, each rounded to half; the block
 * keeps the one whose levels give the smallest error weighted by x^2 (large
 * weights matter most to a matmul) against the stored d. k = -8 is ggml's
 * reference rule and is tried first, so no block's weighted error exceeds
 * the reference's (ties keep it). The output is plain Q4_0. */
static void q_q4_0(const float *x, blk_q4_0 *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++, x += QK) {
		float max, w[QK];
		uint16_t best_dh = q4_0_ref_scale(x, &max), prev_dh = best_dh;
		for (int j = 0; j < QK; j++)
			w[j] = x[j] * x[j];
		float best = q4_0_error(x, w, H2F(best_dh));
		for (int c = 1; max != 0.0f && c < 9 + 13; c++) {
			float k = c < 9 ? -8.0f + 0.25f * c : 5.0f + 0.25f * (c - 9);
			uint16_t dh = mrt_f32_to_f16(max / k);
			if (dh == prev_dh)
				continue;
			prev_dh = dh;
			float err = q4_0_error(x, w, H2F(dh));
			if (err < best) {
				best = err;
				best_dh = dh;
			}
		}
		float d = H2F(best_dh), id = d != 0.0f ? 1.0f / d : 0.0f;
		b[i].d = best_dh;
		for (int j = 0; j < QK / 2; j++)
			b[i].qs[j] = (uint8_t)(q4_0_level(x[j], id) |
					       q4_0_level(x[j + QK / 2], id) << 4);
	}
}

/* Q8_K as ggml's quantize_row_q8_K: d = (signed max) / -127, q = x / d
 * rounded to nearest, ties to even (ggml's nearest_int), clamped to 127;
 * bsums[g] = sum of the 16 q of group g. (ggml used -128 until it made
 * room for its IQ2 kernels; llama.cpp's activations are -127 now.) */
static void q_q8_k(const float *x, blk_q8_k *b, size_t nb)
{
	for (size_t i = 0; i < nb; i++, x += QK_K) {
		float amax = 0.0f, max = 0.0f;
		for (int j = 0; j < QK_K; j++)
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		memset(&b[i], 0, sizeof(b[i]));
		if (amax == 0.0f)
			continue;
		float iscale = -127.0f / max;
		for (int j = 0; j < QK_K; j++) {
			float v = nearbyintf(iscale * x[j]);
			b[i].qs[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
			b[i].bsums[j / 16] += b[i].qs[j];
		}
		b[i].d = 1.0f / iscale;
	}
}

/* ---- k-quant quantization: reference quality (min/max per sub-block, the
 * sub-block scales quantized against the super-block scale), not ggml's
 * iterative search. ---- */

static uint8_t clamp_u(float v, int hi)
{
	return (uint8_t)(v < 0.0f ? 0 : v > hi ? hi : (int)v);
}

/* 8 sub-blocks of 32 with scale sc[j] >= 0 and min mn[j] >= 0 (value =
 * sc * q - mn): quantize the scales to 6 bits, pack them like ggml, and
 * return the effective per-sub-block scale and min in esc/emn. */
static void pack_scales_k4(const float *sc, const float *mn, uint16_t *dh, uint16_t *dminh,
			   uint8_t *scales, float *esc, float *emn)
{
	float msc = 0.0f, mmn = 0.0f;
	for (int j = 0; j < 8; j++) {
		msc = fmaxf(msc, sc[j]);
		mmn = fmaxf(mmn, mn[j]);
	}
	*dh = mrt_f32_to_f16(msc / 63.0f);
	*dminh = mrt_f32_to_f16(mmn / 63.0f);
	float d = H2F(*dh), dmin = H2F(*dminh);
	uint8_t ls[8], lm[8];
	for (int j = 0; j < 8; j++) {
		ls[j] = d > 0.0f ? clamp_u(roundf(sc[j] / d), 63) : 0;
		lm[j] = dmin > 0.0f ? clamp_u(roundf(mn[j] / dmin), 63) : 0;
		esc[j] = d * ls[j];
		emn[j] = dmin * lm[j];
	}
	memset(scales, 0, 12);
	for (int j = 0; j < 4; j++) {
		scales[j] = ls[j] | (uint8_t)((ls[j + 4] >> 4) << 6);
		scales[j + 4] = lm[j] | (uint8_t)((lm[j + 4] >> 4) << 6);
		scales[j + 8] = (ls[j + 4] & 0xf) | (uint8_t)((lm[j + 4] & 0xf) << 4);
	}
}

/* Q4_K (levels 15) and Q5_K (levels 31): q[i] gets the 256 levels. */
static void q_k_asym(const float *x, int levels, uint16_t *dh, uint16_t *dminh, uint8_t *scales,
		     uint8_t *q)
{
	float sc[8], mn[8], esc[8], emn[8];
	for (int j = 0; j < 8; j++) {
		float lo = 0.0f, hi = 0.0f;
		for (int l = 0; l < 32; l++) {
			lo = fminf(lo, x[32 * j + l]);
			hi = fmaxf(hi, x[32 * j + l]);
		}
		sc[j] = (hi - lo) / levels;
		mn[j] = -lo;
	}
	pack_scales_k4(sc, mn, dh, dminh, scales, esc, emn);
	for (int i = 0; i < QK_K; i++) {
		int j = i / 32;
		q[i] = esc[j] > 0.0f ? clamp_u(roundf((x[i] + emn[j]) / esc[j]), levels) : 0;
	}
}

static void q_q4_k(const float *x, blk_q4_k *b)
{
	uint8_t q[QK_K];
	q_k_asym(x, 15, &b->d, &b->dmin, b->scales, q);
	for (int p = 0; p < 4; p++)
		for (int l = 0; l < 32; l++)
			b->qs[32 * p + l] = q[64 * p + l] | (uint8_t)(q[64 * p + 32 + l] << 4);
}

static void q_q5_k(const float *x, blk_q5_k *b)
{
	uint8_t q[QK_K];
	q_k_asym(x, 31, &b->d, &b->dmin, b->scales, q);
	memset(b->qh, 0, sizeof(b->qh));
	for (int p = 0; p < 4; p++)
		for (int l = 0; l < 32; l++) {
			uint8_t a = q[64 * p + l], c = q[64 * p + 32 + l];
			b->qs[32 * p + l] = (a & 0xf) | (uint8_t)((c & 0xf) << 4);
			b->qh[l] |= (uint8_t)(((a >> 4) << (2 * p)) | ((c >> 4) << (2 * p + 1)));
		}
}

static void q_q6_k(const float *x, blk_q6_k *b)
{
	float sc[16], smax = 0.0f, ssigned = 0.0f;
	for (int j = 0; j < 16; j++) {
		float amax = 0.0f, max = 0.0f;
		for (int l = 0; l < 16; l++)
			if (fabsf(x[16 * j + l]) > amax) {
				amax = fabsf(x[16 * j + l]);
				max = x[16 * j + l];
			}
		sc[j] = max / -32.0f;
		if (fabsf(sc[j]) > smax) {
			smax = fabsf(sc[j]);
			ssigned = sc[j];
		}
	}
	b->d = mrt_f32_to_f16(ssigned / -128.0f);
	float d = H2F(b->d);
	uint8_t q[QK_K];
	for (int j = 0; j < 16; j++) {
		float v = d != 0.0f ? roundf(sc[j] / d) : 0.0f;
		b->scales[j] = (int8_t)(v > 127.0f ? 127 : v < -128.0f ? -128 : v);
		float e = d * b->scales[j];
		for (int l = 0; l < 16; l++)
			q[16 * j + l] = e != 0.0f ? clamp_u(roundf(x[16 * j + l] / e) + 32, 63) : 32;
	}
	for (int n = 0; n < 2; n++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *g = q + 128 * n + l;
			b->ql[64 * n + l] = (g[0] & 0xf) | (uint8_t)((g[64] & 0xf) << 4);
			b->ql[64 * n + l + 32] = (g[32] & 0xf) | (uint8_t)((g[96] & 0xf) << 4);
			b->qh[32 * n + l] = (uint8_t)((g[0] >> 4) | (g[32] >> 4) << 2 |
						      (g[64] >> 4) << 4 | (g[96] >> 4) << 6);
		}
}

static int quantize_k(int t, const float *src, void *dst, size_t nb)
{
	for (size_t i = 0; i < nb; i++, src += QK_K) {
		switch (t) {
		case MRT_TYPE_Q4_K: q_q4_k(src, (blk_q4_k *)dst + i); break;
		case MRT_TYPE_Q5_K: q_q5_k(src, (blk_q5_k *)dst + i); break;
		case MRT_TYPE_Q6_K: q_q6_k(src, (blk_q6_k *)dst + i); break;
		default: return -1;
		}
	}
	return 0;
}

int mrt_quantize(int t, const float *src, void *dst, size_t n)
{
	mrt_type_info ti = mrt_type_get(t);
	if (!ti.can_quantize || n % ti.block_elems)
		return -1;
	size_t nb = n / ti.block_elems;
	uint16_t *h = dst;
	switch (t) {
	case MRT_TYPE_F32: memmove(dst, src, n * sizeof(float)); break;
	case MRT_TYPE_F16: for (size_t i = 0; i < n; i++) h[i] = mrt_f32_to_f16(src[i]); break;
	case MRT_TYPE_BF16: for (size_t i = 0; i < n; i++) h[i] = mrt_f32_to_bf16(src[i]); break;
	case MRT_TYPE_Q8_0: q_q8_0(src, dst, nb); break;
	case MRT_TYPE_Q4_0: q_q4_0(src, dst, nb); break;
	case MRT_TYPE_Q8_K: q_q8_k(src, dst, nb); break;
	default: return quantize_k(t, src, dst, nb);
	}
	return 0;
}
