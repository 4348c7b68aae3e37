/* Sampling the next token from logits, with llama.cpp's order of steps:
 * logit bias, penalties (repetition: llama.cpp; presence/frequency: OpenAI), top_k,
 * top_p, min_p, temperature, then a draw from the sampler's own seeded
 * generator (xoshiro256**). Temperature 0 is argmax after the penalties.
 * A sampler belongs to one sequence; it is not shared between threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrt_llm.h"

struct mrt_sampler {
	mrt_sampler_params p;
	int n_vocab;
	uint64_t rng[4];
	int32_t *count;  /* occurrences of each token in the penalty window */
	int32_t *window; /* ring of the last penalty_last_n accepted tokens */
	int win_cap, win_len, win_head;
	float *work;   /* biased and penalized logits */
	float *masked; /* logits with the disallowed at -inf (allocated on first use) */
	uint8_t *mask; /* the allowed tokens, from the caller's fill */
	int32_t *cand; /* candidate ids, best first once sorted */
	int32_t *bias_ids; /* p.bias_ids and p.bias point here (copies) */
	float *bias;
};

mrt_sampler_params mrt_sampler_default_params(void)
{
	mrt_sampler_params p = {0};

	p.temperature = 0.8f;
	p.top_k = 40;
	p.top_p = 0.95f;
	p.min_p = 0.05f;
	p.repeat_penalty = 1.0f;
	p.penalty_last_n = 64;
	p.seed = 0;
	return p;
}

/* ---- generator: xoshiro256**, seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rng_uniform(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

mrt_sampler *mrt_sampler_new(const mrt_sampler_params *params, int n_vocab)
{
	mrt_sampler *s;
	uint64_t x;

	if (n_vocab <= 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->p = params ? *params : mrt_sampler_default_params();
	s->n_vocab = n_vocab;
	x = s->p.seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	/* A negative window means every accepted token (the ring grows). */
	s->win_cap = s->p.penalty_last_n > 0 ? s->p.penalty_last_n : 0;
	s->count = calloc((size_t)n_vocab, sizeof(*s->count));
	s->window = malloc(((size_t)s->win_cap + 1) * sizeof(*s->window));
	s->work = malloc((size_t)n_vocab * sizeof(*s->work));
	s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
	if (s->count == NULL || s->window == NULL || s->work == NULL || s->cand == NULL) {
		mrt_sampler_free(s);
		return NULL;
	}
	/* the bias: copied, tokens outside the vocabulary dropped */
	int nb = s->p.n_bias > 0 && s->p.bias_ids && s->p.bias ? s->p.n_bias : 0;
	s->p.n_bias = 0;
	if (nb > 0 && ((s->bias_ids = malloc((size_t)nb * sizeof(*s->bias_ids))) == NULL ||
	               (s->bias = malloc((size_t)nb * sizeof(*s->bias))) == NULL)) {
		mrt_sampler_free(s);
		return NULL;
	}
	for (int i = 0; i < nb; i++)
		if (params->bias_ids[i] >= 0 && params->bias_ids[i] < n_vocab) {
			s->bias_ids[s->p.n_bias] = params->bias_ids[i];
			s->bias[s->p.n_bias++] = params->bias[i];
		}
	s->p.bias_ids = s->bias_ids;
	s->p.bias = s->bias;
	return s;
}

void mrt_sampler_free(mrt_sampler *s)
{
	if (s == NULL)
		return;
	free(s->bias);
	free(s->bias_ids);
	free(s->masked);
	free(s->mask);
	free(s->cand);
	free(s->work);
	free(s->window);
	free(s->count);
	free(s);
}

void mrt_sampler_accept(mrt_sampler *s, int32_t tok)
{
	if (s == NULL || tok < 0 || tok >= s->n_vocab || s->p.penalty_last_n == 0)
		return;
	if (s->p.penalty_last_n < 0 && s->win_len == s->win_cap) { /* unbounded: grow */
		int cap = s->win_cap < 64 ? 64 : s->win_cap * 2;
		int32_t *w;

		if (cap > (1 << 26) || (w = malloc((size_t)cap * sizeof(*w))) == NULL)
			return; /* the window stops growing; sampling still works */
		for (int i = 0; i < s->win_len; i++)
			w[i] = s->window[(s->win_head + i) % (s->win_cap ? s->win_cap : 1)];
		free(s->window);
		s->window = w;
		s->win_cap = cap;
		s->win_head = 0;
	}
	if (s->win_len == s->win_cap) { /* full: forget the oldest */
		s->count[s->window[s->win_head]]--;
		s->win_head = (s->win_head + 1) % s->win_cap;
		s->win_len--;
	}
	s->window[(s->win_head + s->win_len) % s->win_cap] = tok;
	s->win_len++;
	s->count[tok]++;
}

static int penalties_on(const mrt_sampler_params *p)
{
	return p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
	       p->frequency_penalty != 0.0f || p->n_bias > 0;
}

/* work = the logits, NaN as -inf so they are never chosen; plus the bias
 * (in the order given, so a token listed twice ends with the last value);
 * then the penalties on the tokens of the window, the only ones with counts
 * (the loop over the whole vocabulary was half of sampling's time):
 * repetition divides a positive logit and multiplies a negative one; then
 * presence and frequency are subtracted. Only called when penalties_on. */
static void apply_penalties(mrt_sampler *s, const float *logits)
{
	const mrt_sampler_params *p = &s->p;
	const int pen = p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
	                p->frequency_penalty != 0.0f;

	/* a copy, then a pass that only reads until it meets a NaN: a loop
	 * loading logits[i] and storing work[i] ran 3x slower (two buffers of
	 * the same alignment falsely alias every 4 KiB) */
	memcpy(s->work, logits, (size_t)s->n_vocab * sizeof(*s->work));
	for (int i = 0; i < s->n_vocab; i++)
		if (isnan(s->work[i]))
			s->work[i] = -INFINITY;
	for (int i = 0; i < p->n_bias; i++) {
		int32_t t = p->bias_ids[i];
		if (!isnan(logits[t]))
			s->work[t] = logits[t] + p->bias[i];
	}
	if (!pen)
		return;
	/* each distinct token of the window once (its count negated meanwhile);
	 * NaN logits stay -inf */
	for (int k = 0; k < s->win_len; k++) {
		int32_t t = s->window[(s->win_head + k) % s->win_cap], c = s->count[t];
		float l = s->work[t];

		if (c <= 0)
			continue;
		s->count[t] = -c;
		if (isnan(logits[t]))
			continue;
		if (p->repeat_penalty > 0.0f)
			l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
		l -= (float)c * p->frequency_penalty + p->presence_penalty;
		s->work[t] = l;
	}
	for (int k = 0; k < s->win_len; k++) {
		int32_t t = s->window[(s->win_head + k) % s->win_cap];

		if (s->count[t] < 0)
			s->count[t] = -s->count[t];
	}
}

/* A logit as the sampler ranks it: NaN as -inf. */
static float rank_key(float v)
{
	return v == v ? v : -INFINITY;
}

/* x ranks before y: larger logit, then smaller id (deterministic ties). */
static int better(const float *l, int32_t x, int32_t y)
{
	float a = rank_key(l[x]), b = rank_key(l[y]);
	return a > b || (a == b && x < y);
}

/* Sift down in a heap whose top is its worst entry. */
static void sift_worst(const float *l, int32_t *h, int n, int i)
{
	for (;;) {
		int c = 2 * i + 1;
		int32_t t;

		if (c >= n)
			return;
		if (c + 1 < n && better(l, h[c], h[c + 1]))
			c++;
		if (!better(l, h[i], h[c]))
			return;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

/* The k best of the ids 0..n-1 into ids[0..k), best first. O(n log k);
 * the scan compares each logit with the heap's worst held in a register,
 * not through ids. */
static void select_top(const float *l, int32_t *ids, int n, int k)
{
	for (int i = 0; i < k; i++)
		ids[i] = i;
	for (int i = k / 2 - 1; i >= 0; i--)
		sift_worst(l, ids, k, i);
	float worst = rank_key(l[ids[0]]);
	for (int i = k; i < n; i++) {
		if (l[i] >= worst && better(l, i, ids[0])) { /* NaN fails the first test */
			ids[0] = i;
			sift_worst(l, ids, k, 0);
			worst = rank_key(l[ids[0]]);
		}
	}
	for (int m = k - 1; m > 0; m--) { /* pop the worst to the back */
		int32_t t = ids[0];

		ids[0] = ids[m];
		ids[m] = t;
		sift_worst(l, ids, m, 0);
	}
}

/* Candidates left after top_k, top_p and min_p (on the untempered
 * distribution, as llama.cpp does), sorted best first. Returns their count
 * (>= 1). */
static int filter(mrt_sampler *s, const float *src)
{
	const mrt_sampler_params *p = &s->p;
	const float *l = s->work;
	int n = s->n_vocab, k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
	double sum = 0.0, cum = 0.0;

	select_top(src, s->cand, n, k);
	if (src != s->work) /* the raw logits: work needs only the candidates */
		for (int i = 0; i < k; i++)
			s->work[s->cand[i]] = rank_key(src[s->cand[i]]);
	n = k;
	if (l[s->cand[0]] == -INFINITY)
		return 1; /* every logit is -inf or NaN: the first token */
	if (p->top_p < 1.0f) {
		for (int i = 0; i < n; i++)
			sum += exp((double)l[s->cand[i]] - l[s->cand[0]]);
		for (int i = 0; i < n; i++) {
			cum += exp((double)l[s->cand[i]] - l[s->cand[0]]) / sum;
			if (cum >= p->top_p) {
				n = i + 1;
				break;
			}
		}
	}
	if (p->min_p > 0.0f) { /* p_i >= min_p * p_max */
		double cut = (double)l[s->cand[0]] + log(p->min_p);
		int m = 1;

		while (m < n && (double)l[s->cand[m]] >= cut)
			m++;
		n = m;
	}
	return n;
}

/* The first index of the largest logit, NaN counting as -inf (as
 * apply_penalties makes it); 0 when none is above -inf. Two passes with 8
 * independent maxima instead of one compare chain: greedy decoding of 8
 * streams spent 4% of its time in the single chain. */
static int32_t argmax_first(const float *l, int n)
{
	float m8[8];
	int i = 0;
	for (int j = 0; j < 8; j++)
		m8[j] = -INFINITY;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			m8[j] = l[i + j] > m8[j] ? l[i + j] : m8[j];
	float m = -INFINITY;
	for (int j = 0; j < 8; j++)
		m = m8[j] > m ? m8[j] : m;
	for (; i < n; i++)
		m = l[i] > m ? l[i] : m;
	if (m == -INFINITY)
		return 0;
	for (i = 0; i < n; i++)
		if (l[i] == m)
			return i;
	return 0;
}

int32_t mrt_sampler_sample(mrt_sampler *s, const float *logits)
{
	double sum = 0.0, u, t;
	int n;

	if (s == NULL || logits == NULL)
		return -1;
	/* without penalties the logits are read in place: greedy is an argmax,
	 * and top-k fills work for its candidates only (59 -> 30 us at
	 * temperature for 32000 logits) */
	const float *l = logits;
	if (penalties_on(&s->p)) {
		apply_penalties(s, logits);
		l = s->work;
	}
	if (!(s->p.temperature > 0.0f))
		return argmax_first(l, s->n_vocab);
	n = filter(s, l);
	if (n == 1)
		return s->cand[0];
	t = s->p.temperature;
	for (int i = 0; i < n; i++)
		sum += exp(((double)s->work[s->cand[i]] - s->work[s->cand[0]]) / t);
	u = rng_uniform(s->rng) * sum;
	for (int i = 0; i < n; i++) {
		u -= exp(((double)s->work[s->cand[i]] - s->work[s->cand[0]]) / t);
		if (u < 0.0)
			return s->cand[i];
	}
	return s->cand[n - 1]; /* rounding left u just above 0 */
}

int32_t mrt_sampler_sample_allowed(mrt_sampler *s, const float *logits,
				   int (*allowed)(void *ctx, int32_t tok),
				   int (*fill)(void *ctx, uint8_t *mask), void *ctx)
{
	int32_t tok, first = -1;

	if (s == NULL || logits == NULL || allowed == NULL)
		return -1;
	tok = mrt_sampler_sample(s, logits);
	if (tok >= 0 && allowed(ctx, tok))
		return tok;
	if ((s->masked == NULL &&
	     (s->masked = malloc((size_t)s->n_vocab * sizeof(*s->masked))) == NULL) ||
	    (fill && s->mask == NULL && (s->mask = malloc((size_t)s->n_vocab)) == NULL))
		return -1;
	if (fill && fill(ctx, s->mask) < 0)
		return -1;
	for (int32_t i = 0; i < s->n_vocab; i++) {
		if (fill ? s->mask[i] : allowed(ctx, i)) {
			s->masked[i] = logits[i];
			if (first < 0)
				first = i;
		} else {
			s->masked[i] = -INFINITY;
		}
	}
	if (first < 0)
		return -1;
	tok = mrt_sampler_sample(s, s->masked);
	/* every allowed logit -inf or NaN: the sampler fell back to token 0 */
	return tok >= 0 && s->masked[tok] > -INFINITY ? tok : first;
}

/* log(sum(exp(logits))) computed stably. */
static double log_sum_exp(const float *logits, int n)
{
	double m = -INFINITY, sum = 0.0;

	for (int i = 0; i < n; i++)
		if (logits[i] > m)
			m = logits[i];
	if (m == -INFINITY)
		return m;
	for (int i = 0; i < n; i++)
		sum += exp((double)logits[i] - m);
	return m + log(sum);
}

float mrt_logprob(const float *logits, int n_vocab, int32_t tok)
{
	if (logits == NULL || tok < 0 || tok >= n_vocab)
		return -INFINITY;
	return (float)((double)logits[tok] - log_sum_exp(logits, n_vocab));
}

int mrt_top_logprobs(const float *logits, int n_vocab, int k, int32_t *ids, float *logprobs)
{
	int32_t *all;
	double lse;

	if (logits == NULL || ids == NULL || logprobs == NULL || n_vocab <= 0 || k <= 0)
		return 0;
	if (k > n_vocab)
		k = n_vocab;
	all = malloc((size_t)k * sizeof(*all));
	if (all == NULL)
		return 0;
	select_top(logits, all, n_vocab, k);
	lse = log_sum_exp(logits, n_vocab);
	for (int i = 0; i < k; i++) {
		ids[i] = all[i];
		logprobs[i] = (float)((double)logits[all[i]] - lse);
	}
	free(all);
	return k;
}
