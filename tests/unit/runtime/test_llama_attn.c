/* The llama attention kernels (runtime/llama_attn.c): reference and SIMD
 * sets against a double-precision attention, and the identities batching
 * relies on: two queries at once give the bytes of one at a time, and a
 * weighted sum split into two key ranges gives the bytes of the whole. */
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

/* One kernel set on one shape: values near the double reference, pairs
 * and split sums bit-identical to single calls. */
static void check_set(const mrt__attn_kern *ak, const char *name, int n, int hd)
{
	size_t kv = (size_t)n * hd;
	float *k = malloc(sizeof(float) * kv), *v = malloc(sizeof(float) * kv);
	float *q = malloc(sizeof(float) * 2 * hd), *sa = malloc(sizeof(float) * n);
	float *sb = malloc(sizeof(float) * n), *s1 = malloc(sizeof(float) * n);
	float *oa = malloc(sizeof(float) * hd), *ob = malloc(sizeof(float) * hd);
	float *o1 = malloc(sizeof(float) * hd), *o2 = malloc(sizeof(float) * hd);
	double *want = malloc(sizeof(double) * hd), worst = 0;
	float scale = 1.0f / sqrtf((float)hd) * 3; /* peaked enough to test softmax */
	int n1 = n > 1 ? n / 2 : 1, exact = 1;

	for (size_t i = 0; i < kv; i++)
		k[i] = uniform(-1, 1), v[i] = uniform(-2, 2);
	for (int i = 0; i < 2 * hd; i++)
		q[i] = uniform(-1, 1);
	/* query a sees n keys, query b the first n1 */
	ak->scores2(q, q + hd, k, n1, hd, scale, sa, sb);
	if (n > n1)
		ak->scores(q, k + (size_t)n1 * hd, n - n1, hd, scale, sa + n1);
	ak->scores(q, k, n, hd, scale, s1);
	exact &= memcmp(sa, s1, sizeof(float) * n) == 0;
	ak->scores(q + hd, k, n1, hd, scale, s1);
	exact &= memcmp(sb, s1, sizeof(float) * n1) == 0;
	ak->softmax(sa, n);
	ak->softmax(sb, n1);
	double total = 0;
	for (int j = 0; j < n; j++)
		total += sa[j];
	CHECK_NEAR(total, 1.0, 1e-5);
	ak->wsum2(sa, sb, v, n1, hd, oa, ob);
	if (n > n1)
		ak->wsum(sa + n1, v + (size_t)n1 * hd, n - n1, hd, oa, 1);
	ak->wsum(sa, v, n, hd, o1, 0);
	ak->wsum(sb, v, n1, hd, o2, 0);
	exact &= memcmp(oa, o1, sizeof(float) * hd) == 0 && memcmp(ob, o2, sizeof(float) * hd) == 0;
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
		fprintf(stderr, "%s n %d hd %d: worst abs err %.3g, exact %d\n", name, n, hd, worst,
		        exact);
	CHECK(worst <= 2e-5);
	free(k), free(v), free(q), free(sa), free(sb), free(s1);
	free(oa), free(ob), free(o1), free(o2), free(want);
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

int main(void)
{
	static const int lens[] = {1, 2, 3, 8, 17, 64, 129};
	static const int dims[] = {16, 64, 128, 80, 24};
	mrt__attn_kern ref = mrt__attn_kernels(64, 0), fast = mrt__attn_kernels(64, 1);
	int simd = memcmp(&ref, &fast, sizeof(ref)) != 0;

	for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			mrt__attn_kern best = mrt__attn_kernels(dims[d], 1);
			check_set(&ref, "ref", lens[i], dims[d]);
			check_set(&best, "best", lens[i], dims[d]);
		}
	check_softmax_range(&ref);
	check_softmax_range(&fast);
	/* a head size the SIMD set cannot take falls back to the reference */
	mrt__attn_kern odd = mrt__attn_kernels(24, 1);
	CHECK(memcmp(&odd, &ref, sizeof(ref)) == 0);
	fprintf(stderr, "attention kernels: reference%s\n", simd ? " and SIMD" : " only (no AVX2)");
	TEST_END();
}
