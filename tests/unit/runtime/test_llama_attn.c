/* The llama attention kernels (runtime/llama_attn.c), for F32, F16 and
 * Q8_0 KV caches: reference and SIMD sets against a double-precision
 * attention over the values the cache holds, the identities batching relies on (two
 * queries at once give the bytes of one at a time, and a weighted sum split
 * into two key ranges gives the bytes of the whole), and the F16 store
 * against mrt_f32_to_f16 bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"
#include "test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float uniform(float lo, float hi)
{
	return lo + (hi - lo) * (float)(test_xorshift64(&rng) >> 40) / (float)(1 << 24);
}

/* out = softmax(scale * q K^T) V in double. */
static void attend_double(const float *q, const float *k, const float *v, int n, int hd,
                          float scale, double *out)
{
	double *p = malloc(sizeof(double) * (size_t)n), mx = -1e300, sum = 0;
	for (int j = 0; j < n; j++) {
		double s = 0;
		for (int i = 0; i < hd; i++)
			s += (double)q[i] * k[(size_t)j * hd + i];
		p[j] = s * scale;
		mx = p[j] > mx ? p[j] : mx;
	}
	for (int j = 0; j < n; j++)
		sum += p[j] = exp(p[j] - mx);
	for (int i = 0; i < hd; i++) {
		out[i] = 0;
		for (int j = 0; j < n; j++)
			out[i] += p[j] / sum * v[(size_t)j * hd + i];
	}
	free(p);
}

static const char *const kv_names[3] = {"", " f16", " q8_0"};

/* Bytes of n elements of a cache of kind kv (Q8_0: n % 32 == 0). */
static size_t kv_bytes(int kv, size_t n)
{
	return kv == MRT__KV_Q8 ? n / 32 * 34 : n * (kv == MRT__KV_F16 ? 2 : 4);
}

/* One kernel set on one shape: values near the double reference, pairs
 * and split sums bit-identical to single calls. kv: the kind of rows the
 * set reads; k and v are what the cache holds (rounded to half, or
 * quantized to Q8_0 and widened back) before the reference sees them. */
static void check_set(const mrt__attn_kern *ak, const char *name, int n, int hd, int kv_kind)
{
	size_t kv = (size_t)n * hd;
	/* calloc: gcc 12 with the sanitizers cannot see the loops below fill them */
	float *k = calloc(kv, sizeof(float)), *v = calloc(kv, sizeof(float));
	void *kc = calloc(kv, 4), *vc = calloc(kv, 4);
	float *q = calloc(2 * (size_t)hd, sizeof(float)), *sa = malloc(sizeof(float) * n);
	float *sb = malloc(sizeof(float) * n), *s1 = malloc(sizeof(float) * n);
	float *oa = malloc(sizeof(float) * hd), *ob = malloc(sizeof(float) * hd);
	float *o1 = malloc(sizeof(float) * hd), *o2 = malloc(sizeof(float) * hd);
	float *o3 = malloc(sizeof(float) * hd), *o4 = malloc(sizeof(float) * hd);
	double *want = malloc(sizeof(double) * hd), worst = 0;
	float scale = 1.0f / sqrtf((float)hd) * 3; /* peaked enough to test softmax */
	int n1 = n > 1 ? n / 2 : 1, exact = 1;

	for (size_t i = 0; i < kv; i++)
		k[i] = uniform(-1, 1), v[i] = uniform(-2, 2);
	for (int i = 0; i < 2 * hd; i++)
		q[i] = uniform(-1, 1);
	for (int j = 0; j < n; j++) { /* the cache rows, through the set's store */
		ak->store((char *)kc + kv_bytes(kv_kind, (size_t)j * hd), k + (size_t)j * hd, hd);
		ak->store((char *)vc + kv_bytes(kv_kind, (size_t)j * hd), v + (size_t)j * hd, hd);
	}
	for (size_t i = 0; kv_kind == MRT__KV_F16 && i < kv; i++) {
		k[i] = mrt_f16_to_f32(((uint16_t *)kc)[i]);
		v[i] = mrt_f16_to_f32(((uint16_t *)vc)[i]);
	}
	if (kv_kind == MRT__KV_Q8) {
		CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, kc, k, kv), 0);
		CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, vc, v, kv), 0);
	}
	const char *kb = kc, *vb = vc;
	size_t rest = kv_bytes(kv_kind, (size_t)n1 * hd);
	ak->scores2(q, q + hd, kb, n1, hd, scale, sa, sb);
	if (n > n1)
		ak->scores(q, kb + rest, n - n1, hd, scale, sa + n1);
	ak->scores(q, kb, n, hd, scale, s1);
	exact &= memcmp(sa, s1, sizeof(float) * n) == 0;
	ak->scores(q + hd, kb, n1, hd, scale, s1);
	exact &= memcmp(sb, s1, sizeof(float) * n1) == 0;
	ak->softmax(sa, n);
	ak->softmax(sb, n1);
	double total = 0;
	for (int j = 0; j < n; j++)
		total += sa[j];
	CHECK_NEAR(total, 1.0, 1e-5);
	ak->wsum2(sa, sb, vb, n1, hd, oa, ob, 0);
	if (n > n1)
		ak->wsum(sa + n1, vb + rest, n - n1, hd, oa, 1);
	ak->wsum(sa, vb, n, hd, o1, 0);
	ak->wsum(sb, vb, n1, hd, o2, 0);
	exact &= memcmp(oa, o1, sizeof(float) * hd) == 0 && memcmp(ob, o2, sizeof(float) * hd) == 0;
	/* the pair split in two key ranges, the second accumulating (a
	 * decoding step's chunks): the whole single calls' bytes */
	int h = n1 / 2;
	ak->wsum2(sa, sb, vb, h, hd, o3, o4, 0);
	ak->wsum2(sa + h, sb + h, vb + kv_bytes(kv_kind, (size_t)h * hd), n1 - h, hd, o3, o4, 1);
	ak->wsum(sa, vb, n1, hd, o1, 0);
	exact &= memcmp(o3, o1, sizeof(float) * hd) == 0 && memcmp(o4, o2, sizeof(float) * hd) == 0;
	CHECK(exact);
	attend_double(q, k, v, n, hd, scale, want);
	for (int i = 0; i < hd; i++) {
		double e = fabs(oa[i] - want[i]);
		worst = e > worst ? e : worst;
	}
	attend_double(q + hd, k, v, n1, hd, scale, want);
	for (int i = 0; i < hd; i++) {
		double e = fabs(ob[i] - want[i]);
		worst = e > worst ? e : worst;
	}
	if (worst > 2e-5 || !exact)
		fprintf(stderr, "%s%s n %d hd %d: worst abs err %.3g, exact %d\n", name,
		        kv_names[kv_kind], n, hd, worst, exact);
	CHECK(worst <= 2e-5);
	free(k), free(v), free(kc), free(vc), free(q), free(sa), free(sb), free(s1);
	free(oa), free(ob), free(o1), free(o2), free(o3), free(o4), free(want);
}

/* Softmax of arguments spanning more than exp's range: tiny terms vanish,
 * the result still sums to one and matches the double softmax. */
static void check_softmax_range(const mrt__attn_kern *ak)
{
	float x[37];
	double mx = 40, sum = 0, w[37];
	for (int i = 0; i < 37; i++)
		x[i] = 40.0f - 4.0f * i; /* 40 .. -104 */
	for (int i = 0; i < 37; i++)
		sum += w[i] = exp(x[i] - mx);
	ak->softmax(x, 37);
	for (int i = 0; i < 37; i++)
		CHECK_NEAR(x[i], w[i] / sum, 1e-7 + 1e-6 * w[i] / sum);
}

/* The F16 store against mrt_f32_to_f16: random values over the half range,
 * exact ties between two halves and the floats either side of them,
 * subnormals, overflow to infinity, signed zeros. */
static void check_store(const mrt__attn_kern *ak, const char *name)
{
	enum { N = 4099 };
	static float x[N];
	static uint16_t got[N];
	int bad = 0, n = 0;
	for (; n < 2000; n++)
		x[n] = uniform(-1, 1) * powf(2.0f, (float)(n % 40) - 24);
	for (int i = 0; n + 3 <= 3500; i++) { /* halfway between half h and h + 1 */
		uint16_t h = (uint16_t)(0x0400 + (i * 37) % 0x7800);
		float a = mrt_f16_to_f32(h), b = mrt_f16_to_f32((uint16_t)(h + 1));
		float mid = a + (b - a) / 2;
		x[n++] = mid;
		x[n++] = nextafterf(mid, 0);
		x[n++] = -nextafterf(mid, INFINITY);
	}
	const float special[] = {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f,
	                         5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f, -6.0e-5f, 1e-10f};
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
		x[n++] = special[i];
	while (n < N)
		x[n++] = uniform(-70000, 70000);
	ak->store(got, x, N);
	for (int i = 0; i < N; i++)
		bad += got[i] != mrt_f32_to_f16(x[i]);
	if (bad)
		fprintf(stderr, "%s f16 store: %d of %d differ from mrt_f32_to_f16\n", name, bad, N);
	CHECK_EQ_INT(bad, 0);
}

/* The Q8_0 store against mrt_quantize byte for byte: random blocks over
 * many magnitudes, blocks whose values fall exactly on halves of the step
 * (rounded away from zero), all-zero blocks, and negative maxima. */
static void check_store_q8(const mrt__attn_kern *ak, const char *name)
{
	enum { NB = 200, N = 32 * NB };
	static float x[N];
	static uint8_t got[NB * 34], want[NB * 34];
	for (int b = 0; b < NB; b++)
		for (int j = 0; j < 32; j++) {
			float *v = x + 32 * b + j;
			if (b % 4 == 1) /* step 1 (max 127): k + 0.5 are exact ties */
				*v = j == 0 ? 127.0f : (float)((j * 7) % 250 - 125) + 0.5f;
			else if (b % 4 == 2)
				*v = b % 8 == 2 ? 0.0f : -uniform(0, 1) * (j == 5 ? 3.0f : 1.0f);
			else
				*v = uniform(-1, 1) * powf(2.0f, (float)(b % 30) - 15);
		}
	ak->store(got, x, N);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, x, want, N), 0);
	int bad = 0;
	for (int i = 0; i < NB * 34; i++)
		bad += got[i] != want[i];
	if (bad)
		fprintf(stderr, "%s q8_0 store: %d of %d bytes differ from mrt_quantize\n", name, bad,
		        NB * 34);
	CHECK_EQ_INT(bad, 0);
}

/* SwiGLU against g * sigmoid(g) * u in double over |g| up to 120 (where
 * exp(-|g|) underflows), and split anywhere: the same bytes as whole. */
static void check_silu(const mrt__attn_kern *ak, const char *name)
{
	enum { N = 1003 };
	static float g[N], u[N], whole[N], part[N];
	double worst = 0;
	for (int i = 0; i < N; i++) {
		g[i] = i < 40 ? (float)(i - 20) * 6.0f : uniform(-12, 12);
		u[i] = uniform(-2, 2);
	}
	memcpy(whole, g, sizeof(g));
	ak->silu(whole, u, N);
	for (int i = 0; i < N; i++) {
		double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
		double e = fabs(whole[i] - want) / (fabs(want) + 1e-30);
		if (fabs(want) > 1e-30)
			worst = e > worst ? e : worst;
	}
	if (worst > 1e-6)
		fprintf(stderr, "%s silu: worst rel err %.3g\n", name, worst);
	CHECK(worst <= 1e-6);
	int same = 1;
	for (int cut = 1; cut < 40; cut += 3) {
		memcpy(part, g, sizeof(g));
		ak->silu(part, u, cut);
		ak->silu(part + cut, u + cut, N - cut);
		same &= memcmp(part, whole, sizeof(part)) == 0;
	}
	CHECK(same);
}

/* RMSNorm against the same formula in double, for row lengths with and
 * without a SIMD tail, rows of large and of tiny values (where eps counts),
 * and in place: the same bytes as into another row. */
static void check_rms_norm(const mrt__attn_kern *ak, const char *name)
{
	static const int lens[] = {1, 7, 16, 17, 768, 1003};
	enum { N = 1003 };
	static float x[N], w[N], y[N], z[N];
	double worst = 0;
	int same = 1;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (int mag = -12; mag <= 12; mag += 6) {
			int d = lens[l];
			float eps = 1e-5f;
			for (int i = 0; i < d; i++) {
				x[i] = uniform(-1, 1) * powf(2.0f, (float)mag);
				w[i] = uniform(0.5f, 1.5f);
			}
			ak->rms_norm(y, x, w, d, eps);
			double ss = 0;
			for (int i = 0; i < d; i++)
				ss += (double)x[i] * x[i];
			double scale = 1.0 / sqrt(ss / d + eps);
			for (int i = 0; i < d; i++) {
				double want = x[i] * scale * w[i];
				double e = fabs(y[i] - want) / (fabs(want) + 1e-30);
				worst = e > worst ? e : worst;
			}
			memcpy(z, x, sizeof(float) * (size_t)d);
			ak->rms_norm(z, z, w, d, eps);
			same &= memcmp(z, y, sizeof(float) * (size_t)d) == 0;
		}
	if (worst > 3e-7)
		fprintf(stderr, "%s rms_norm: worst rel err %.3g\n", name, worst);
	CHECK(worst <= 3e-7);
	CHECK(same);
}

int main(void)
{
	static const int lens[] = {1, 2, 3, 8, 17, 64, 129};
	static const int dims[] = {16, 64, 128, 80, 24, 96};
	mrt__attn_kern ref = mrt__attn_kernels(64, 0, 0), fast = mrt__attn_kernels(64, 0, 1);
	int simd = memcmp(&ref, &fast, sizeof(ref)) != 0;

	for (int kv = 0; kv < 3; kv++)
		for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
			for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
				if (kv == MRT__KV_Q8 && dims[d] % 32 != 0)
					continue; /* refused at context creation */
				mrt__attn_kern r = mrt__attn_kernels(dims[d], kv, 0);
				mrt__attn_kern best = mrt__attn_kernels(dims[d], kv, 1);
				check_set(&r, "ref", lens[i], dims[d], kv);
				check_set(&best, "best", lens[i], dims[d], kv);
			}
	/* the Q8_0 sets read what ggml's Q8_0 quantizer wrote, and the SIMD
	 * set is not the reference */
	mrt__attn_kern ref8 = mrt__attn_kernels(64, MRT__KV_Q8, 0);
	mrt__attn_kern fast8 = mrt__attn_kernels(64, MRT__KV_Q8, 1);
	CHECK(memcmp(&fast8, &ref8, sizeof(ref8)) != 0 || !simd);
	check_store_q8(&ref8, "ref");
	check_store_q8(&fast8, "best");
	mrt__attn_kern ref16 = mrt__attn_kernels(64, 1, 0), fast16 = mrt__attn_kernels(64, 1, 1);
	check_store(&ref16, "ref");
	check_store(&fast16, "best");
	check_softmax_range(&ref);
	check_softmax_range(&fast);
	check_silu(&ref, "ref");
	check_silu(&fast, "best");
	check_rms_norm(&ref, "ref");
	check_rms_norm(&fast, "best");
	/* a head size the SIMD set cannot take falls back to the reference */
	mrt__attn_kern odd = mrt__attn_kernels(24, 0, 1), odd16 = mrt__attn_kernels(24, 1, 1);
	CHECK(memcmp(&odd, &ref, sizeof(ref)) == 0);
	CHECK(memcmp(&odd16, &ref16, sizeof(ref)) == 0);
	CHECK(memcmp(&fast16, &ref16, sizeof(ref)) != 0 || !simd);
	fprintf(stderr, "attention kernels: reference%s\n", simd ? " and SIMD" : " only (no AVX2)");
	TEST_END();
}
