/* Tensor types: the type table, sizes and their overflow checks, half and
 * bfloat16 rounding, exact block bytes of Q8_0/Q4_0, the Q4_0 scale search
 * against the reference rule, k-quant dequantization of hand-built
 * super-blocks, and quantize round-trip error bounds. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "mrt_gguf.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void)
{
	return test_xorshift64(&rng);
}
static float frand(void)
{
	return (float)((next_u64() >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static float bits_f(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void test_types(void)
{
	static const struct {
		int t;
		const char *name;
		size_t be, bb;
	} want[] = {
		{MRT_TYPE_F32, "f32", 1, 4},       {MRT_TYPE_F16, "f16", 1, 2},
		{MRT_TYPE_Q4_0, "q4_0", 32, 18},   {MRT_TYPE_Q4_1, "q4_1", 32, 20},
		{MRT_TYPE_Q5_0, "q5_0", 32, 22},   {MRT_TYPE_Q5_1, "q5_1", 32, 24},
		{MRT_TYPE_Q8_0, "q8_0", 32, 34},   {MRT_TYPE_Q8_1, "q8_1", 32, 36},
		{MRT_TYPE_Q2_K, "q2_k", 256, 84},  {MRT_TYPE_Q3_K, "q3_k", 256, 110},
		{MRT_TYPE_Q4_K, "q4_k", 256, 144}, {MRT_TYPE_Q5_K, "q5_k", 256, 176},
		{MRT_TYPE_Q6_K, "q6_k", 256, 210}, {MRT_TYPE_Q8_K, "q8_k", 256, 292},
		{MRT_TYPE_I8, "i8", 1, 1},         {MRT_TYPE_I16, "i16", 1, 2},
		{MRT_TYPE_I32, "i32", 1, 4},       {MRT_TYPE_I64, "i64", 1, 8},
		{MRT_TYPE_F64, "f64", 1, 8},       {MRT_TYPE_BF16, "bf16", 1, 2},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		mrt_type_info ti = mrt_type_get(want[i].t);
		CHECK(ti.name && !strcmp(ti.name, want[i].name));
		CHECK_EQ_INT(ti.block_elems, want[i].be);
		CHECK_EQ_INT(ti.block_bytes, want[i].bb);
		CHECK_EQ_INT(ti.can_dequantize, 1);
		CHECK_EQ_INT(mrt_type_from_name(want[i].name), want[i].t);
	}
	CHECK(mrt_type_get(4).name == NULL);
	CHECK(mrt_type_get(-1).name == NULL);
	CHECK(mrt_type_get(MRT_TYPE_COUNT).name == NULL);
	CHECK_EQ_INT(mrt_type_from_name("Q4_K"), MRT_TYPE_Q4_K);
	CHECK_EQ_INT(mrt_type_from_name("q4"), -1);
	CHECK_EQ_INT(mrt_type_from_name("q4_0x"), -1);
	CHECK_EQ_INT(mrt_type_from_name(NULL), -1);
	CHECK_EQ_INT(mrt_type_get(MRT_TYPE_Q8_0).can_quantize, 1);
	CHECK_EQ_INT(mrt_type_get(MRT_TYPE_Q2_K).can_quantize, 0);

	uint64_t b = 0;
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q8_0, 64, &b), 0);
	CHECK_EQ_INT(b, 68);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q6_K, 512, &b), 0);
	CHECK_EQ_INT(b, 420);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q8_0, 33, &b), -1);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q4_K, 32, &b), -1);
	CHECK_EQ_INT(mrt_type_nbytes(4, 32, &b), -1);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_F32, UINT64_MAX / 4 + 1, &b), -1);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_F32, UINT64_MAX / 4, &b), 0);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q8_0, UINT64_MAX / 32 * 32, &b), -1);
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q4_0, 0, &b), 0);
	CHECK_EQ_INT(b, 0);

	float f[64];
	uint8_t blk[64] = {0};
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, blk, f, 31), -1);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q4_0, f, blk, 33), -1);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q2_K, f, blk, 256), -1);
	CHECK_EQ_INT(mrt_dequantize(4, blk, f, 1), -1);
}

__attribute__((target("f16c"))) static uint16_t hw_f16(float f)
{
	return (uint16_t)_cvtss_sh(f, 0); /* round to nearest even */
}

static void test_half(void)
{
	static const struct {
		float f;
		uint16_t h;
	} cases[] = {
		{1.0f, 0x3c00},
		{-2.0f, 0xc000},
		{65504.0f, 0x7bff},
		{65519.99f, 0x7bff},
		{65520.0f, 0x7c00},          /* tie to even rounds to inf */
		{0x1p-14f, 0x0400},          /* smallest normal */
		{0x1p-24f, 0x0001},          /* smallest subnormal */
		{0x1p-25f, 0x0000},          /* tie between 0 and 2^-24: even */
		{0x1.000002p-25f, 0x0001},   /* just above the tie */
		{0x3p-25f, 0x0002},          /* tie between 1 and 2 ulps: even */
		{0x3ffp-24f, 0x03ff},        /* largest subnormal */
		{1.0f + 0x1p-11f, 0x3c00},   /* tie: to even */
		{1.0f + 0x3p-11f, 0x3c02},   /* tie: to even (up) */
		{1.0f + 0x1.8p-11f, 0x3c01}, /* above the tie */
		{-0.0f, 0x8000},
		{INFINITY, 0x7c00},
		{-INFINITY, 0xfc00},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_INT(mrt_f32_to_f16(cases[i].f), cases[i].h);
	uint16_t hn = mrt_f32_to_f16(NAN);
	CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0);
	CHECK(isnan(mrt_f16_to_f32(0x7e00)));
	CHECK(isinf(mrt_f16_to_f32(0xfc00)) && mrt_f16_to_f32(0xfc00) < 0);
	CHECK(mrt_f16_to_f32(0x0001) == 0x1p-24f);
	CHECK(mrt_f16_to_f32(0x83ff) == -0x3ffp-24f);
	CHECK(mrt_f16_to_f32(0x3555) == 0x1.554p-2f);
	CHECK(signbit(mrt_f16_to_f32(0x8000)));
	/* every half value survives a round trip */
	int bad = 0;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = mrt_f16_to_f32((uint16_t)h);
		if (!isnan(f) && mrt_f32_to_f16(f) != h)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	/* against the F16C instruction on random bit patterns */
	if (__builtin_cpu_supports("f16c")) {
		bad = 0;
		for (int i = 0; i < 1000000; i++) {
			float f = bits_f((uint32_t)next_u64());
			if (i & 1) /* half of them near the half range */
				f = bits_f(0x30000000u + (uint32_t)(next_u64() % 0x18000000u));
			if (!isnan(f) && mrt_f32_to_f16(f) != hw_f16(f))
				bad++;
		}
		CHECK_EQ_INT(bad, 0);
	} else {
		fprintf(stderr, "SKIP f16 vs F16C: no F16C\n");
	}

	CHECK_EQ_INT(mrt_f32_to_bf16(1.0f), 0x3f80);
	CHECK_EQ_INT(mrt_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
	CHECK_EQ_INT(mrt_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82); /* tie to even (up) */
	CHECK_EQ_INT(mrt_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);
	CHECK_EQ_INT(mrt_f32_to_bf16(-INFINITY), 0xff80);
	CHECK_EQ_INT(mrt_f32_to_bf16(0x1p-133f), 0x0001); /* subnormal */
	CHECK_EQ_INT(mrt_f32_to_bf16(0x1.fffffep127f), 0x7f80); /* rounds to inf */
	uint16_t bn = mrt_f32_to_bf16(bits_f(0x7f800001u)); /* nan with low payload */
	CHECK((bn & 0x7f80) == 0x7f80 && (bn & 0x7f) != 0);
	CHECK(mrt_bf16_to_f32(0xc040) == -3.0f);
	bad = 0;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = mrt_bf16_to_f32((uint16_t)h);
		if (!isnan(f) && mrt_f32_to_bf16(f) != h)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

/* Exact bytes of hand-made blocks. */
static void test_layouts(void)
{
	float x[32], y[32];
	uint8_t q[34];
	/* Q8_0: max |x| = 127 gives d = 1.0 (0x3c00) and q = x */
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16);
	x[0] = 127.0f;
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, x, q, 32), 0);
	CHECK_EQ_INT(q[0], 0x00);
	CHECK_EQ_INT(q[1], 0x3c);
	CHECK_EQ_INT(q[2], 127);
	for (int j = 1; j < 32; j++)
		CHECK_EQ_INT((int8_t)q[2 + j], j - 16);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, q, y, 32), 0);
	CHECK(!memcmp(x, y, sizeof(x)));

	/* Q4_0 blocks the reference rule quantizes exactly keep its bytes (no
	 * candidate scale has a smaller error than 0).
	 * The largest magnitude is -8, so d = -8 / -8 = 1 and q = x + 8;
	 * element j in the low nibble of qs[j], element j + 16 in the high one */
	for (int j = 0; j < 16; j++) {
		x[j] = (float)(j - 8);
		x[j + 16] = (float)(7 - j);
	}
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q4_0, x, q, 32), 0);
	CHECK_EQ_INT(q[0], 0x00);
	CHECK_EQ_INT(q[1], 0x3c);
	for (int j = 0; j < 16; j++)
		CHECK_EQ_INT(q[2 + j], j | (15 - j) << 4);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q4_0, q, y, 32), 0);
	CHECK(!memcmp(x, y, sizeof(x)));

	/* Q4_0 with a positive extreme: d = 4 / -8 = -0.5 (0xb800), x = 4 -> q 0 */
	for (int j = 0; j < 32; j++)
		x[j] = 0.0f;
	x[3] = 4.0f;
	x[20] = -3.5f; /* q = -3.5 / -0.5 + 8 = 15 */
	mrt_quantize(MRT_TYPE_Q4_0, x, q, 32);
	CHECK_EQ_INT(q[0] | q[1] << 8, 0xb800);
	CHECK_EQ_INT(q[2 + 3], 0x80 | 0x00);
	CHECK_EQ_INT(q[2 + 4], 0xf8);
	CHECK_EQ_INT(q[2 + 0], 0x88);
}

/* Q4_K / Q5_K with scales {1,2,3,4,17,33,50,63} and mins {0,5,10,15,20,40,60,63}:
 * the 12 packed bytes below were worked out by hand from the layout
 * (bytes 0-3: scale j low 6 bits, top 2 bits of scale j+4; bytes 4-7 the
 * same for mins; bytes 8-11: low nibbles of scale j+4 | min j+4 << 4). */
static const uint8_t k4_scales[12] = {65, 130, 195, 196, 64, 133, 202, 207, 65, 129, 194, 255};
static const int k4_sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
static const int k4_mn[8] = {0, 5, 10, 15, 20, 40, 60, 63};

static void test_kquants(void)
{
	uint8_t blk[292];
	float y[256];
	int bad = 0;

	/* Q4_K: d = 1.0, dmin = 0.5; qs[i] = 7i; element e of pair p = e / 64
	 * is the low nibble of qs[32p + e % 32] (sub-block 2p) for e % 64 < 32,
	 * else the high nibble (sub-block 2p + 1); value d*sc*q - dmin*mn */
	memset(blk, 0, sizeof(blk));
	blk[0] = 0x00, blk[1] = 0x3c, blk[2] = 0x00, blk[3] = 0x38;
	memcpy(blk + 4, k4_scales, 12);
	for (int i = 0; i < 128; i++)
		blk[16 + i] = (uint8_t)(7 * i);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q4_K, blk, y, 256), 0);
	for (int e = 0; e < 256; e++) {
		int p = e / 64, hi = e % 64 >= 32, j = 2 * p + hi;
		uint8_t byte = (uint8_t)(7 * (32 * p + e % 32));
		int qv = hi ? byte >> 4 : byte & 15;
		bad += y[e] != 1.0f * k4_sc[j] * qv - 0.5f * k4_mn[j];
	}
	CHECK_EQ_INT(bad, 0);

	/* Q5_K: same header, qh[l] = 0xa5 ^ l: bit 2p + hi of qh[e % 32] is
	 * the fifth bit */
	memset(blk, 0, sizeof(blk));
	blk[0] = 0x00, blk[1] = 0x3c, blk[2] = 0x00, blk[3] = 0x38;
	memcpy(blk + 4, k4_scales, 12);
	for (int l = 0; l < 32; l++)
		blk[16 + l] = (uint8_t)(0xa5 ^ l);
	for (int i = 0; i < 128; i++)
		blk[48 + i] = (uint8_t)(11 * i + 3);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q5_K, blk, y, 256), 0);
	bad = 0;
	for (int e = 0; e < 256; e++) {
		int p = e / 64, hi = e % 64 >= 32, j = 2 * p + hi, l = e % 32;
		uint8_t byte = (uint8_t)(11 * (32 * p + l) + 3);
		int qv = (hi ? byte >> 4 : byte & 15) + ((((0xa5 ^ l) >> j) & 1) << 4);
		bad += y[e] != 1.0f * k4_sc[j] * qv - 0.5f * k4_mn[j];
	}
	CHECK_EQ_INT(bad, 0);

	/* Q6_K: ql[128], qh[64], int8 scales[16], d = 0.25 (0x3400). Element
	 * e: half n = e / 128, l = e % 32, quarter k = (e % 128) / 32; low 4
	 * bits from ql[64n + l + 32 (k & 1)] (low nibble for k < 2), high 2
	 * bits (qh[32n + l] >> 2k) & 3; q - 32 times scale 8n + 2k + l / 16 */
	memset(blk, 0, sizeof(blk));
	for (int i = 0; i < 128; i++)
		blk[i] = (uint8_t)(13 * i + 1);
	for (int i = 0; i < 64; i++)
		blk[128 + i] = (uint8_t)(29 * i + 5);
	for (int i = 0; i < 16; i++)
		blk[192 + i] = (uint8_t)(int8_t)(i * 9 - 70);
	blk[208] = 0x00, blk[209] = 0x34;
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q6_K, blk, y, 256), 0);
	bad = 0;
	for (int e = 0; e < 256; e++) {
		int n = e / 128, l = e % 32, k = (e % 128) / 32;
		uint8_t lb = (uint8_t)(13 * (64 * n + l + 32 * (k & 1)) + 1);
		uint8_t hb = (uint8_t)(29 * (32 * n + l) + 5);
		int qv = ((k < 2 ? lb & 15 : lb >> 4) | ((hb >> (2 * k)) & 3) << 4) - 32;
		int sc = (int8_t)(uint8_t)(int8_t)((8 * n + 2 * k + l / 16) * 9 - 70);
		bad += y[e] != 0.25f * sc * qv;
	}
	CHECK_EQ_INT(bad, 0);

	/* Q8_K: float d then 256 int8 */
	memset(blk, 0, sizeof(blk));
	float d = 0.125f;
	memcpy(blk, &d, 4);
	for (int i = 0; i < 256; i++)
		blk[4 + i] = (uint8_t)(int8_t)(i - 128);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_K, blk, y, 256), 0);
	CHECK(y[0] == -16.0f && y[255] == 127 * 0.125f);
}

static float h2f(const uint8_t *p)
{
	return mrt_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* The x^2-weighted squared error of one Q4_0 block dequantized with the
 * levels q (0..15) and scale d, in double. */
static double q4_werr(const float *x, const uint8_t *q, float d)
{
	double s = 0;
	for (int j = 0; j < 32; j++) {
		double r = (double)x[j] - (double)((float)(q[j] - 8) * d);
		s += (double)x[j] * x[j] * r * r;
	}
	return s;
}

/* Levels of x against d by nearest rounding, as any Q4_0 writer must. */
static void q4_levels(const float *x, float d, uint8_t *q)
{
	for (int j = 0; j < 32; j++) {
		double v = d != 0.0f ? floor((double)x[j] / d + 8.5) : 8;
		q[j] = (uint8_t)(v < 0 ? 0 : v > 15 ? 15 : v);
	}
}

/* The ggml reference rule: d = (signed max |x|) / -8 rounded to half. */
static float q4_ref_d(const float *x)
{
	float amax = 0, max = 0;
	for (int j = 0; j < 32; j++)
		if (fabsf(x[j]) > amax)
			amax = fabsf(x[j]), max = x[j];
	return mrt_f16_to_f32(mrt_f32_to_f16(max / -8.0f));
}

/* Q4_0 scale search: on random and adversarial blocks the stored levels are
 * the nearest ones for the stored d, the x^2-weighted error is never above
 * the reference rule's and equals the best of the documented candidates
 * (d = max / k, k in -8 .. -6 and 5 .. 8 by 1/4, computed here
 * independently), and over many blocks it is clearly lower. */
static void test_q4_0_search(void)
{
	float x[32];
	uint8_t blk[18], want[32];
	int bad_levels = 0, worse = 0, not_best = 0, nblocks = 0;
	double sum_new = 0, sum_ref = 0;
	for (int it = 0; it < 3000; it++) {
		int kind = it % 6;
		for (int j = 0; j < 32; j++) {
			float r = frand();
			switch (kind) {
			case 0: x[j] = r; break;                          /* uniform */
			case 1: x[j] = r * r * r * 3.0f; break;           /* heavy center */
			case 2: x[j] = j == it % 32 ? 20.0f * r : r; break; /* one outlier */
			case 3: x[j] = (float)((int)(r * 9.0f)) * 0.25f; break; /* a grid */
			case 4: x[j] = j == 0 ? -1.0f : 0.96875f + 0.01f * r; break; /* clamps */
			default: x[j] = r * 1e-6f; break;                 /* tiny: subnormal d */
			}
		}
		CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q4_0, x, blk, 32), 0);
		float d = h2f(blk);
		uint8_t got[32];
		for (int j = 0; j < 16; j++)
			got[j] = blk[2 + j] & 15, got[j + 16] = blk[2 + j] >> 4;
		q4_levels(x, d, want);
		bad_levels += memcmp(got, want, 32) != 0;
		double e_new = q4_werr(x, got, d);
		float dr = q4_ref_d(x);
		q4_levels(x, dr, want);
		double e_ref = q4_werr(x, want, dr);
		worse += !(e_new <= e_ref * (1 + 1e-5) + 1e-300);
		double e_min = e_ref;
		float amax = 0, max = 0;
		for (int j = 0; j < 32; j++)
			if (fabsf(x[j]) > amax)
				amax = fabsf(x[j]), max = x[j];
		for (int c = 0; c < 9 + 13; c++) {
			float k = c < 9 ? -8.0f + 0.25f * c : 5.0f + 0.25f * (c - 9);
			float dc = mrt_f16_to_f32(mrt_f32_to_f16(max / k));
			q4_levels(x, dc, want);
			e_min = fmin(e_min, q4_werr(x, want, dc));
		}
		not_best += !(e_new <= e_min * (1 + 1e-5) + 1e-300);
		sum_new += e_new / (amax * amax * amax * amax + 1e-300);
		sum_ref += e_ref / (amax * amax * amax * amax + 1e-300);
		nblocks++;
	}
	CHECK_EQ_INT(bad_levels, 0);
	CHECK_EQ_INT(worse, 0);
	CHECK_EQ_INT(not_best, 0);
	CHECK(nblocks == 3000 && sum_new < 0.8 * sum_ref);
	fprintf(stderr, "q4_0 weighted error, search / reference: %.3f\n", sum_new / sum_ref);

	/* hand block where the reference clamps: x[0] = -1 gives d = 0.125 and
	 * puts the 31 values 0.96875 = 7.75 d at level 15 (0.875). k = -7.25
	 * gives d = 1 / 7.25 -> half 0x306a = 1130 / 8192 = 0.137939: x[0] at
	 * level 1 (-0.96558), the rest at 15 (0.96558), weighted error
	 * 0.0344^2 + 31 0.96875^2 0.00317^2 = 0.0015, against 0.028 at k = -7
	 * (d 0.142822) and 0.016 for x[0] alone at k = 8 (d = -0.125) */
	for (int j = 0; j < 32; j++)
		x[j] = j == 0 ? -1.0f : 0.96875f;
	mrt_quantize(MRT_TYPE_Q4_0, x, blk, 32);
	CHECK_EQ_INT(blk[0] | blk[1] << 8, 0x306a);
	CHECK_EQ_INT(blk[2], 0x01 | 0xf0);
	for (int j = 1; j < 16; j++)
		CHECK_EQ_INT(blk[2 + j], 0xff);
}

/* Round trips of random data with their derived bounds. */
static void test_roundtrip(void)
{
	enum { N = 4096 };
	static float x[N], y[N];
	static uint8_t q[N * 2];
	for (int i = 0; i < N; i++)
		x[i] = frand() * (i % 97 == 0 ? 40.0f : 1.0f) * (float)(1 + i / 1024);

	/* Q8_0: |x - q d| <= d / 2 (d is the stored half scale) */
	mrt_quantize(MRT_TYPE_Q8_0, x, q, N);
	mrt_dequantize(MRT_TYPE_Q8_0, q, y, N);
	int bad = 0;
	for (int i = 0; i < N; i++) {
		float d = h2f(q + (i / 32) * 34);
		bad += !(fabsf(x[i] - y[i]) <= d * 0.5f * (1 + 1e-6f));
	}
	CHECK_EQ_INT(bad, 0);

	/* Q4_0: |x - (q-8) d| <= |d| / 2 unless q clamps at 0 or 15, where
	 * the scale search keeps |x| <= 8 |d| up to d's half rounding (2^-11
	 * relative, times 8), so the error is <= |d| (1 + 8 2^-11) */
	mrt_quantize(MRT_TYPE_Q4_0, x, q, N);
	mrt_dequantize(MRT_TYPE_Q4_0, q, y, N);
	bad = 0;
	for (int i = 0; i < N; i++) {
		float d = h2f(q + (i / 32) * 18), t = x[i] / d;
		int clamped = t > 7.5f || t < -8.5f;
		float bound = fabsf(d) * (clamped ? 1.0f + 8 * 0x1p-11f : 0.5f * (1 + 1e-6f));
		bad += !(fabsf(x[i] - y[i]) <= bound);
	}
	CHECK_EQ_INT(bad, 0);

	/* F16 / BF16: relative error <= 2^-11 / 2^-8 (normal range) */
	mrt_quantize(MRT_TYPE_F16, x, q, N);
	mrt_dequantize(MRT_TYPE_F16, q, y, N);
	bad = 0;
	for (int i = 0; i < N; i++)
		bad += !(fabsf(x[i] - y[i]) <= fabsf(x[i]) * 0x1p-11f + 0x1p-25f);
	mrt_quantize(MRT_TYPE_BF16, x, q, N);
	mrt_dequantize(MRT_TYPE_BF16, q, y, N);
	for (int i = 0; i < N; i++)
		bad += !(fabsf(x[i] - y[i]) <= fabsf(x[i]) * 0x1p-8f);
	CHECK_EQ_INT(bad, 0);

	/* k-quants: sub-block j has step s_j = range / levels (Q4_K, Q5_K) or
	 * max|x| / 32 (Q6_K). Its scale is rounded against the super-block
	 * scale D = max s / 63 (max |s| / 128 for Q6_K) and its min against
	 * DMIN = max min / 63, so |x - y| <= s_j / 2 + (levels + 1) D / 2 +
	 * DMIN / 2 (q <= levels; half-float rounding of D covered by 1%). */
	static const struct {
		int t, sub, levels, dden;
	} kq[] = {{MRT_TYPE_Q4_K, 32, 15, 63}, {MRT_TYPE_Q5_K, 32, 31, 63},
		  {MRT_TYPE_Q6_K, 16, 32, 128}};
	for (int c = 0; c < 3; c++) {
		CHECK_EQ_INT(mrt_quantize(kq[c].t, x, q, N), 0);
		CHECK_EQ_INT(mrt_dequantize(kq[c].t, q, y, N), 0);
		bad = 0;
		double se = 0, sx = 0;
		for (int sb = 0; sb < N; sb += 256) {
			float step[16], mn[16], D = 0, DMIN = 0;
			int nsub = 256 / kq[c].sub;
			for (int j = 0; j < nsub; j++) {
				float lo = 0, hi = 0, amax = 0;
				for (int l = 0; l < kq[c].sub; l++) {
					float v = x[sb + j * kq[c].sub + l];
					lo = fminf(lo, v), hi = fmaxf(hi, v), amax = fmaxf(amax, fabsf(v));
				}
				step[j] = kq[c].t == MRT_TYPE_Q6_K ? amax / 32 : (hi - lo) / kq[c].levels;
				mn[j] = kq[c].t == MRT_TYPE_Q6_K ? 0 : -lo;
				D = fmaxf(D, step[j] / kq[c].dden);
				DMIN = fmaxf(DMIN, mn[j] / 63);
			}
			for (int i = sb; i < sb + 256; i++) {
				int j = (i - sb) / kq[c].sub;
				float e = fabsf(x[i] - y[i]);
				se += (double)e * e;
				sx += (double)x[i] * x[i];
				float bound = 0.5f * step[j] + (kq[c].levels + 1) * D / 2 + DMIN / 2;
				bad += !(e <= 1.01f * bound + 1e-6f);
			}
		}
		CHECK_EQ_INT(bad, 0);
		CHECK(sqrt(se / sx) < 0.2 / kq[c].levels * 15);
	}

	/* Q8_K: |x - q d| <= |d| / 2, bsums are the sums of 16 */
	mrt_quantize(MRT_TYPE_Q8_K, x, q, 256);
	mrt_dequantize(MRT_TYPE_Q8_K, q, y, 256);
	float d8;
	memcpy(&d8, q, 4);
	bad = 0;
	for (int i = 0; i < 256; i++)
		bad += !(fabsf(x[i] - y[i]) <= fabsf(d8) * 0.5001f);
	for (int g = 0; g < 16; g++) {
		int s = 0;
		int16_t bs;
		for (int l = 0; l < 16; l++)
			s += (int8_t)q[4 + 16 * g + l];
		memcpy(&bs, q + 260 + 2 * g, 2);
		bad += s != bs;
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	test_types();
	test_half();
	test_layouts();
	test_kquants();
	test_q4_0_search();
	test_roundtrip();
	TEST_END();
}
