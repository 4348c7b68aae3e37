/* Sampler tests: greedy and filters against hand-computed candidates,
 * empirical frequencies over 20000 seeded draws against softmax computed
 * here in double, repeatability by seed, penalties and logit bias by their
 * definitions, log-probabilities against a direct log-softmax. */
#include <stdint.h>

#include "mrt_llm.h"
#include "test.h"

#define DRAWS 20000

static mrt_sampler_params plain(float temperature, uint64_t seed)
{
	mrt_sampler_params p = mrt_sampler_default_params();

	p.temperature = temperature;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	p.seed = seed;
	return p;
}

/* softmax(logits / t) restricted to keep[] (NULL: all), in double. */
static void reference(const float *logits, int n, double t, const int *keep, double *prob)
{
	double m = -INFINITY, sum = 0.0;

	for (int i = 0; i < n; i++)
		if ((!keep || keep[i]) && logits[i] / t > m)
			m = logits[i] / t;
	for (int i = 0; i < n; i++) {
		prob[i] = (!keep || keep[i]) ? exp(logits[i] / t - m) : 0.0;
		sum += prob[i];
	}
	for (int i = 0; i < n; i++)
		prob[i] /= sum;
}

/* Draw DRAWS tokens and compare frequencies with prob (abs. 0.02). */
static void check_freq(const mrt_sampler_params *p, const float *logits, int n, const double *prob,
                       const int32_t *accepted, int n_acc)
{
	mrt_sampler *s = mrt_sampler_new(p, n);
	int count[16] = {0};

	CHECK(s != NULL && n <= 16);
	if (s == NULL)
		return;
	for (int i = 0; i < n_acc; i++)
		mrt_sampler_accept(s, accepted[i]);
	for (int i = 0; i < DRAWS; i++) {
		int32_t t = mrt_sampler_sample(s, logits);

		CHECK(t >= 0 && t < n);
		if (t >= 0 && t < n)
			count[t]++;
	}
	for (int i = 0; i < n; i++) {
		CHECK_NEAR((double)count[i] / DRAWS, prob[i], 0.02);
		if (prob[i] == 0.0)
			CHECK_EQ_INT(count[i], 0);
	}
	mrt_sampler_free(s);
}

static void test_distributions(void)
{
	const float logits[5] = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f};
	/* probabilities 0.5, 0.3, 0.15, 0.05 as logits */
	const float q[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
	mrt_sampler_params p = plain(1.0f, 42);
	double prob[5];
	int keep[5];
	int32_t acc[2] = {4, 4};

	reference(logits, 5, 1.0, NULL, prob);
	check_freq(&p, logits, 5, prob, NULL, 0);
	p.temperature = 0.5f;
	reference(logits, 5, 0.5, NULL, prob);
	check_freq(&p, logits, 5, prob, NULL, 0);
	p.temperature = 2.0f;
	reference(logits, 5, 2.0, NULL, prob);
	check_freq(&p, logits, 5, prob, NULL, 0);

	/* top_k = 2: only tokens 4 and 1, in their softmax ratio. */
	p = plain(1.0f, 7);
	p.top_k = 2;
	memcpy(keep, (int[]){0, 1, 0, 0, 1}, sizeof(keep));
	reference(logits, 5, 1.0, keep, prob);
	check_freq(&p, logits, 5, prob, NULL, 0);

	/* top_p = 0.75: 0.5 < 0.75 <= 0.8, so the nucleus is {0, 1}. */
	p = plain(1.0f, 8);
	p.top_p = 0.75f;
	memcpy(keep, (int[]){1, 1, 0, 0, 0}, sizeof(keep));
	reference(q, 4, 1.0, keep, prob);
	check_freq(&p, q, 4, prob, NULL, 0);
	/* top_p = 0.85 needs the third token too. */
	p.top_p = 0.85f;
	memcpy(keep, (int[]){1, 1, 1, 0, 0}, sizeof(keep));
	reference(q, 4, 1.0, keep, prob);
	check_freq(&p, q, 4, prob, NULL, 0);

	/* min_p = 0.2: keep p >= 0.1, drops only 0.05. */
	p = plain(1.0f, 9);
	p.min_p = 0.2f;
	memcpy(keep, (int[]){1, 1, 1, 0, 0}, sizeof(keep));
	reference(q, 4, 1.0, keep, prob);
	check_freq(&p, q, 4, prob, NULL, 0);
	/* min_p = 0.5: keep p >= 0.25. */
	p.min_p = 0.5f;
	memcpy(keep, (int[]){1, 1, 0, 0, 0}, sizeof(keep));
	reference(q, 4, 1.0, keep, prob);
	check_freq(&p, q, 4, prob, NULL, 0);

	/* presence 1 and frequency 0.5 after token 4 twice: its logit is
	 * 3 - (1 + 2 * 0.5) = 1. */
	p = plain(1.0f, 10);
	p.presence_penalty = 1.0f;
	p.frequency_penalty = 0.5f;
	{
		float pen[5] = {1.0f, 2.0f, 0.5f, -1.0f, 1.0f};

		reference(pen, 5, 1.0, NULL, prob);
		check_freq(&p, logits, 5, prob, acc, 2);
	}
	/* repetition 1.5 after token 4: 3 / 1.5 = 2. */
	p = plain(1.0f, 11);
	p.repeat_penalty = 1.5f;
	{
		float pen[5] = {1.0f, 2.0f, 0.5f, -1.0f, 2.0f};

		reference(pen, 5, 1.0, NULL, prob);
		check_freq(&p, logits, 5, prob, acc, 1);
	}
}

static int32_t greedy_after(const float *logits, int n, mrt_sampler_params p, const int32_t *acc,
                            int n_acc)
{
	mrt_sampler *s = mrt_sampler_new(&p, n);
	int32_t t;

	for (int i = 0; i < n_acc; i++)
		mrt_sampler_accept(s, acc[i]);
	t = mrt_sampler_sample(s, logits);
	mrt_sampler_free(s);
	return t;
}

/* Penalties decide greedy choices exactly where their definitions say. */
static void test_penalties(void)
{
	mrt_sampler_params p = plain(0.0f, 1);
	int32_t zero[3] = {0, 0, 0}, slide[3] = {0, 5, 6};

	p.repeat_penalty = 1.1f; /* positive: 2.0 / 1.1 = 1.818 */
	CHECK_EQ_INT(greedy_after((float[]){2.0f, 1.81f}, 2, p, zero, 1), 0);
	CHECK_EQ_INT(greedy_after((float[]){2.0f, 1.83f}, 2, p, zero, 1), 1);
	/* negative: -1.0 * 1.1 = -1.1 */
	CHECK_EQ_INT(greedy_after((float[]){-1.0f, -1.05f}, 2, p, zero, 1), 1);
	CHECK_EQ_INT(greedy_after((float[]){-1.0f, -1.15f}, 2, p, zero, 1), 0);
	/* counted once however often it occurred */
	CHECK_EQ_INT(greedy_after((float[]){2.0f, 1.81f}, 2, p, zero, 3), 0);
	p.repeat_penalty = 1.0f;
	p.presence_penalty = 0.3f; /* 1.0 - 0.3 = 0.7 */
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.6f}, 2, p, zero, 2), 0);
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.75f}, 2, p, zero, 2), 1);
	p.presence_penalty = 0.0f;
	p.frequency_penalty = 0.3f; /* 1.0 - 2 * 0.3 = 0.4 */
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.35f}, 2, p, zero, 2), 0);
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.45f}, 2, p, zero, 2), 1);
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.45f}, 2, p, zero, 1), 0);
	/* window of 2: token 0 (1 - 0.3 = 0.7 < 0.8) slid out after 5 and 6 */
	p.penalty_last_n = 2;
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.8f, 0, 0, 0, 0, 0}, 7, p, slide, 3), 0);
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.8f, 0, 0, 0, 0, 0}, 7, p, slide, 1), 1);
	/* window 0: no penalties at all */
	p.penalty_last_n = 0;
	CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.45f}, 2, p, zero, 2), 0);
	/* negative window: every accepted token counts */
	p.penalty_last_n = -1;
	{
		int32_t many[200];

		for (int i = 0; i < 200; i++)
			many[i] = i == 0 ? 0 : 2;
		CHECK_EQ_INT(greedy_after((float[]){1.0f, 0.8f, -9.0f}, 3, p, many, 200), 1);
	}
}

static void test_greedy_seed(void)
{
	float logits[1000];
	uint64_t x = 12345;
	mrt_sampler_params g = plain(0.0f, 1), k1 = plain(1.5f, 2),
	                   r = mrt_sampler_default_params();
	mrt_sampler *sg = mrt_sampler_new(&g, 1000), *sk = mrt_sampler_new(&k1, 1000);
	mrt_sampler *a, *b, *c;
	int same = 1, differ = 0, argmax = 0;

	for (int i = 0; i < 1000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		logits[i] = (float)((x >> 40) % 10000) / 1000.0f;
		if (logits[i] > logits[argmax])
			argmax = i;
	}
	CHECK_EQ_INT(mrt_sampler_sample(sg, logits), argmax);
	k1.top_k = 1;
	mrt_sampler_free(sk);
	sk = mrt_sampler_new(&k1, 1000);
	for (int i = 0; i < 100; i++)
		CHECK_EQ_INT(mrt_sampler_sample(sk, logits), argmax);
	r.temperature = 1.5f; /* a wide distribution so seeds visibly differ */
	r.top_k = 0;
	r.min_p = 0;
	r.seed = 99;
	a = mrt_sampler_new(&r, 1000);
	b = mrt_sampler_new(&r, 1000);
	r.seed = 100;
	c = mrt_sampler_new(&r, 1000);
	for (int i = 0; i < 200; i++) {
		int32_t ta = mrt_sampler_sample(a, logits), tb = mrt_sampler_sample(b, logits);

		same &= ta == tb;
		differ |= ta != mrt_sampler_sample(c, logits);
		mrt_sampler_accept(a, ta);
		mrt_sampler_accept(b, tb);
	}
	CHECK(same);
	CHECK(differ);
	/* Defaults are the documented ones. */
	r = mrt_sampler_default_params();
	CHECK_NEAR(r.temperature, 0.8, 1e-6);
	CHECK_EQ_INT(r.top_k, 40);
	CHECK_NEAR(r.top_p, 0.95, 1e-6);
	CHECK_NEAR(r.min_p, 0.05, 1e-6);
	CHECK_NEAR(r.repeat_penalty, 1.0, 0);
	CHECK_EQ_INT(r.penalty_last_n, 64);
	/* Bad arguments fail cleanly. */
	CHECK(mrt_sampler_new(&r, 0) == NULL);
	CHECK_EQ_INT(mrt_sampler_sample(a, NULL), -1);
	mrt_sampler_accept(a, -3);
	mrt_sampler_accept(a, 1000);
	mrt_sampler_free(NULL);
	/* NaN logits are never chosen. */
	CHECK_EQ_INT(mrt_sampler_sample(sg, (float[1000]){NAN, 0.5f, NAN}), 1);
	mrt_sampler_free(a);
	mrt_sampler_free(b);
	mrt_sampler_free(c);
	mrt_sampler_free(sg);
	mrt_sampler_free(sk);
}

/* Greedy without penalties takes a two-pass argmax: the same choice as the
 * general path (NaN as -inf, the first of equal maxima) on vectors full of
 * ties, NaN, infinities and signed zeros, of every length mod 8. */
static void test_greedy_argmax(void)
{
	static const float pool[] = {1.0f, 2.0f, 2.0f, -3.0f, 0.0f, -0.0f, NAN, INFINITY, -INFINITY};
	float l[67];
	uint64_t x = 777;
	int bad = 0, cases = 0;
	mrt_sampler_params g = plain(0.0f, 1), gp = plain(0.0f, 1);
	gp.repeat_penalty = 1.5f; /* general path; no token accepted, so no effect */
	for (int n = 1; n <= 67; n++)
		for (int rep = 0; rep < 40; rep++, cases++) {
			mrt_sampler *fast = mrt_sampler_new(&g, n), *slow = mrt_sampler_new(&gp, n);
			int best = 0;
			for (int i = 0; i < n; i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				int k = (int)((x >> 33) % (rep < 5 ? 3 : 9));
				l[i] = rep == 6 ? NAN : rep == 7 ? -INFINITY : pool[k + (rep < 5 ? 6 : 0)];
			}
			for (int i = 1; i < n; i++) /* the sequential scan, NaN as -inf */
				if (!isnan(l[i]) && (isnan(l[best]) || l[i] > l[best]))
					best = i;
			if (isnan(l[best]) || l[best] == -INFINITY)
				best = 0;
			int32_t a = mrt_sampler_sample(fast, l), b = mrt_sampler_sample(slow, l);
			bad += a != best || b != best;
			mrt_sampler_free(fast);
			mrt_sampler_free(slow);
		}
	CHECK_EQ_INT(bad, 0);
	CHECK(cases > 2000);
}

/* Sampling at temperature reads the logits in place without penalties and
 * a penalized copy with them: with an empty penalty window both make the
 * same draws from the same seed, and neither draws a NaN. */
static void test_temperature_paths(void)
{
	enum { N = 3000 };
	static float l[N];
	uint64_t x = 4242;
	int bad = 0, nan_drawn = 0;
	mrt_sampler_params a = mrt_sampler_default_params(), b;
	a.seed = 5;
	a.top_k = 0; /* the whole vocabulary: top_p and min_p decide */
	b = a;
	b.repeat_penalty = 1.5f; /* the general path; no token accepted */
	for (int round = 0; round < 4; round++) {
		mrt_sampler *fa, *fb;
		a.top_k = b.top_k = round % 2 ? 40 : 0;
		a.temperature = b.temperature = round < 2 ? 0.8f : 2.0f;
		fa = mrt_sampler_new(&a, N);
		fb = mrt_sampler_new(&b, N);
		for (int i = 0; i < N; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			l[i] = (x >> 61) == 0 ? NAN : (float)((x >> 40) % 64) / 16.0f; /* ties */
		}
		for (int i = 0; i < 300; i++) {
			int32_t ta = mrt_sampler_sample(fa, l), tb = mrt_sampler_sample(fb, l);
			bad += ta != tb;
			nan_drawn += ta < 0 || ta >= N || isnan(l[ta]);
		}
		mrt_sampler_free(fa);
		mrt_sampler_free(fb);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(nan_drawn, 0);
}

static void test_logprobs(void)
{
	const float l[6] = {0.5f, 3.0f, -2.0f, 3.0f, 1.0f, 100.0f};
	double sum = 0.0;
	int32_t ids[8];
	float lp[8];

	for (int i = 0; i < 6; i++)
		sum += exp((double)l[i] - 100.0);
	for (int i = 0; i < 6; i++)
		CHECK_NEAR(mrt_logprob(l, 6, i), l[i] - 100.0 - log(sum), 1e-5);
	CHECK(mrt_logprob(l, 6, 6) == -INFINITY);
	CHECK_EQ_INT(mrt_top_logprobs(l, 6, 3, ids, lp), 3);
	CHECK_EQ_INT(ids[0], 5);
	CHECK_EQ_INT(ids[1], 1); /* ties: lower id first */
	CHECK_EQ_INT(ids[2], 3);
	for (int i = 0; i < 3; i++)
		CHECK_NEAR(lp[i], mrt_logprob(l, 6, ids[i]), 1e-6);
	CHECK_EQ_INT(mrt_top_logprobs(l, 6, 10, ids, lp), 6);
	CHECK_EQ_INT(ids[5], 2);
	CHECK_EQ_INT(mrt_top_logprobs(l, 6, 0, ids, lp), 0);
	/* a NaN logit ranks as -inf: it leaves the top 2 to real ones */
	const float ln[5] = {NAN, 1.0f, NAN, 2.0f, 0.5f};
	CHECK_EQ_INT(mrt_top_logprobs(ln, 5, 2, ids, lp), 2);
	CHECK_EQ_INT(ids[0], 3);
	CHECK_EQ_INT(ids[1], 1);
}

/* Logit bias: added before the penalties, in greedy and sampled draws;
 * copied at mrt_sampler_new; ids outside the vocabulary dropped. */
static void test_logit_bias(void)
{
	mrt_sampler_params p = plain(0.0f, 1);
	int32_t ids[3] = {1, 99, -4}, zero[1] = {0};
	float bias[3] = {0.5f, 100.0f, 100.0f};

	p.n_bias = 3;
	p.bias_ids = ids;
	p.bias = bias;
	/* 1.0 + 0.5 > 1.4; the two out-of-range ids change nothing */
	CHECK_EQ_INT(greedy_after((float[]){1.4f, 1.0f, 0.2f}, 3, p, NULL, 0), 1);
	CHECK_EQ_INT(greedy_after((float[]){1.6f, 1.0f, 0.2f}, 3, p, NULL, 0), 0);
	/* before the repetition penalty: (2 + 1) / 1.5 = 2.0 < 2.2 picks token 1;
	 * applied after it, 2 / 1.5 + 1 = 2.33 would pick token 0 */
	ids[0] = 0;
	bias[0] = 1.0f;
	p.n_bias = 1;
	p.repeat_penalty = 1.5f;
	CHECK_EQ_INT(greedy_after((float[]){2.0f, 2.2f}, 2, p, zero, 1), 1);
	CHECK_EQ_INT(greedy_after((float[]){2.0f, 1.9f}, 2, p, zero, 1), 0);
	p.repeat_penalty = 1.0f;

	/* at temperature 1 over 8 equal logits: -100 bans token 3, and the
	 * sampler keeps its own copy of the bias (the caller's is overwritten) */
	float flat[8] = {0};
	int hits[8] = {0};
	p = plain(1.0f, 9);
	ids[0] = 3;
	bias[0] = -100.0f;
	p.n_bias = 1;
	p.bias_ids = ids;
	p.bias = bias;
	mrt_sampler *s = mrt_sampler_new(&p, 8);
	ids[0] = 5;
	bias[0] = 0.0f;
	for (int i = 0; i < 4000; i++)
		hits[mrt_sampler_sample(s, flat)]++;
	mrt_sampler_free(s);
	CHECK_EQ_INT(hits[3], 0);
	for (int i = 0; i < 8; i++)
		if (i != 3)
			CHECK(hits[i] > 400 && hits[i] < 750); /* 4000 / 7 = 571 each */
	/* +100 on one token takes every draw, top_k and top_p on or not */
	p = mrt_sampler_default_params();
	p.seed = 4;
	ids[0] = 6;
	bias[0] = 100.0f;
	p.n_bias = 1;
	p.bias_ids = ids;
	p.bias = bias;
	s = mrt_sampler_new(&p, 8);
	int all6 = 1;
	for (int i = 0; i < 500; i++)
		all6 &= mrt_sampler_sample(s, flat) == 6;
	mrt_sampler_free(s);
	CHECK(all6);
}

int main(void)
{
	test_greedy_seed();
	test_greedy_argmax();
	test_temperature_paths();
	test_penalties();
	test_logit_bias();
	test_distributions();
	test_logprobs();
	TEST_END();
}
