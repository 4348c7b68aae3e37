/* Llama decoder benchmark (never run by make check): writes a random
 * llama model, measures prompt and decode tokens/s through the runtime with
 * 1..8 sequences per batch, and the memory bandwidth that bounds decoding.
 *   bench_llama make OUT.gguf [KV_HEADS]
 *                                      random 110M model (F32); KV_HEADS
 *                                      (a divisor of 12, default 12) for
 *                                      grouped-query attention
 *   bench_llama quant IN OUT TYPE      re-quantize (k-quants too)
 *   bench_llama bw                     read GB/s, 2 threads: median, best
 *   bench_llama run FILE [THREADS]     one table row (medians of 3 rounds)
 *   bench_llama profile FILE THREADS STREAMS STEPS
 *                                      tokens/s of one case for perf record
 *                                      (STREAMS 0: a prompt of STEPS tokens)
 *   bench_llama deep FILE THREADS STREAMS DEPTH STEPS
 *                                      decoding after DEPTH-token prompts
 *   bench_llama attn KEYS HEADS        the attention kernels alone, F16 and
 *                                      Q8_0 caches
 * BENCH_KV=f32 or q8_0 in the environment runs an F32 or Q8_0 KV cache
 * (default F16, as modeld). */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "llama.h"
#include "mrt.h"
#include "mrt_gguf.h"
#include "mrt_llm.h"

enum { DIM = 768, LAYERS = 12, HEADS = 12, FF = 2048, VOCAB = 32000 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;

static float randn_ish(void) /* sum of uniforms: cheap, roughly normal */
{
	float s = 0;
	for (int i = 0; i < 4; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		s += (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
	}
	return s * 1.7f;
}

static int add(mrt_gguf_writer *w, const char *name, uint64_t ne0, uint64_t ne1, float scale)
{
	uint64_t ne[2] = {ne0, ne1}, n = ne0 * (ne1 ? ne1 : 1);
	float *d = malloc(n * sizeof(float));
	int rc;

	if (d == NULL)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		d[i] = scale ? randn_ish() * scale : 1.0f;
	rc = mrt_gguf_writer_add_tensor(w, name, MRT_TYPE_F32, ne1 ? 2 : 1, ne, d);
	if (rc != 0)
		fprintf(stderr, "add %s: %s\n", name, mrt_strerror(rc));
	free(d);
	return rc;
}

/* A SentencePiece-shaped vocabulary of VOCAB pieces: <unk>, <s>, </s>, the
 * 256 byte pieces, then made-up words. */
static int add_vocab(mrt_gguf_writer *w)
{
	char **tok = calloc(VOCAB, sizeof(*tok));
	float *score = calloc(VOCAB, sizeof(*score));
	int32_t *type = calloc(VOCAB, sizeof(*type));
	int rc = tok && score && type ? 0 : -1;
	for (int i = 0; rc == 0 && i < VOCAB; i++) {
		char buf[32];
		if (i < 3)
			snprintf(buf, sizeof(buf), "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
		else if (i < 3 + 256)
			snprintf(buf, sizeof(buf), "<0x%02X>", i - 3);
		else
			snprintf(buf, sizeof(buf), "\xe2\x96\x81w%d", i);
		type[i] = i == 0 ? 2 : i < 3 ? 3 : i < 3 + 256 ? 6 : 1;
		score[i] = i < 3 + 256 ? 0.0f : -(float)i;
		rc = (tok[i] = strdup(buf)) ? 0 : -1;
	}
	if (rc == 0)
		rc = mrt_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") ||
		     mrt_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
		                                 VOCAB) ||
		     mrt_gguf_writer_set_arr(w, "tokenizer.ggml.scores", MRT_GGUF_FLOAT32, score,
		                             VOCAB) ||
		     mrt_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", MRT_GGUF_INT32, type,
		                             VOCAB) ||
		     mrt_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
		     mrt_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2)
		         ? -1
		         : 0;
	for (int i = 0; tok && i < VOCAB; i++)
		free(tok[i]);
	free(tok);
	free(score);
	free(type);
	return rc;
}

static int make_model(const char *path, int kv_heads)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	char name[64], err[256];
	const float s = 1.0f / 28.0f; /* about 1/sqrt(DIM) */
	int rc = 0;

	rc |= mrt_gguf_writer_set_str(w, "general.architecture", "llama");
	rc |= mrt_gguf_writer_set_u32(w, "llama.context_length", 2048);
	rc |= mrt_gguf_writer_set_u32(w, "llama.embedding_length", DIM);
	rc |= mrt_gguf_writer_set_u32(w, "llama.block_count", LAYERS);
	rc |= mrt_gguf_writer_set_u32(w, "llama.feed_forward_length", FF);
	rc |= mrt_gguf_writer_set_u32(w, "llama.attention.head_count", HEADS);
	rc |= mrt_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)kv_heads);
	rc |= mrt_gguf_writer_set_u32(w, "llama.vocab_size", VOCAB);
	/* the keys llama.cpp insists on, so a peer can load the same file */
	rc |= mrt_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	rc |= mrt_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
	rc |= add_vocab(w);
	rc |= add(w, "token_embd.weight", DIM, VOCAB, 1.0f);
	const struct {
		const char *sfx;
		uint64_t ne0, ne1;
		float scale; /* 0: a norm weight of ones */
	} blk[] = {{"attn_norm", DIM, 0, 0},
	           {"attn_q", DIM, DIM, s},
	           {"attn_k", DIM, DIM / HEADS * kv_heads, s},
	           {"attn_v", DIM, DIM / HEADS * kv_heads, s},
	           {"attn_output", DIM, DIM, s},
	           {"ffn_norm", DIM, 0, 0},
	           {"ffn_gate", DIM, FF, s},
	           {"ffn_up", DIM, FF, s},
	           {"ffn_down", FF, DIM, 1.0f / 45.0f}};
	for (int i = 0; i < LAYERS && rc == 0; i++)
		for (size_t j = 0; j < sizeof(blk) / sizeof(blk[0]) && rc == 0; j++) {
			snprintf(name, sizeof(name), "blk.%d.%s.weight", i, blk[j].sfx);
			rc = add(w, name, blk[j].ne0, blk[j].ne1, blk[j].scale);
		}
	rc |= add(w, "output_norm.weight", DIM, 0, 0);
	rc |= add(w, "output.weight", DIM, VOCAB, s);
	if (rc == 0 && mrt_gguf_writer_write(w, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "write %s: %s\n", path, err);
		rc = -1;
	}
	mrt_gguf_writer_free(w);
	return rc ? 1 : 0;
}

/* Re-quantize the matrices of a file to type (modelctl quantize has no
 * k-quants): output.weight to q6_k when type is a k-quant, as llama.cpp's
 * Q4_K_M does. */
static int quantize(const char *in, const char *out, const char *tname)
{
	char err[256], name[128];
	int type = mrt_type_from_name(tname), rc = 0;
	mrt_gguf *g = mrt_gguf_open(in, err, sizeof(err));
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	mrt_gguf_tensor_info ti;

	if (g == NULL || w == NULL || type < 0 || !mrt_type_get(type).can_quantize) {
		fprintf(stderr, "quantize %s to %s: %s\n", in, tname, g ? "bad type" : err);
		rc = -1;
	}
	for (uint64_t i = 0; rc == 0 && i < mrt_gguf_n_kv(g); i++)
		rc = mrt_gguf_writer_copy_kv(w, g, i);
	for (uint64_t i = 0; rc == 0 && i < mrt_gguf_n_tensors(g); i++) {
		mrt_gguf_tensor(g, i, &ti);
		snprintf(name, sizeof(name), "%.*s", (int)ti.name.len, ti.name.ptr);
		int t = ti.n_dims < 2 ? ti.type
		        : strcmp(name, "output.weight") == 0 && type >= MRT_TYPE_Q2_K &&
		                type <= MRT_TYPE_Q8_K
		            ? MRT_TYPE_Q6_K
		            : type;
		uint64_t n = ti.ne[0] * (ti.n_dims > 1 ? ti.ne[1] : 1), nb;
		float *f = malloc(n * sizeof(float));
		void *q = mrt_type_nbytes(t, n, &nb) == 0 ? malloc(nb) : NULL;
		rc = !f || !q || mrt_dequantize(ti.type, ti.data, f, n) ||
		     mrt_quantize(t, f, q, n) ||
		     mrt_gguf_writer_add_tensor(w, name, t, ti.n_dims, ti.ne, q);
		free(f);
		free(q);
	}
	if (rc == 0 && mrt_gguf_writer_write(w, out, err, sizeof(err)) != 0) {
		fprintf(stderr, "write %s: %s\n", out, err);
		rc = -1;
	}
	mrt_gguf_writer_free(w);
	mrt_gguf_close(g);
	return rc ? 1 : 0;
}

/* ---- bandwidth ----
 * Read bandwidth with 2 threads over a buffer far larger than the L3: the
 * median of several passes (a single pass on a shared machine says more
 * about the neighbours than about the memory). */

enum { BW_BYTES = 256 << 20, BW_PASSES = 9 };

/* The buffer is claimed in 1 MiB chunks from a shared counter (as the
 * runtime's pool claims tasks), so a thread the scheduler parks does not
 * hold the pass hostage. */
typedef struct bw_job {
	const uint64_t *p;
	size_t n_chunks, chunk; /* chunk: uint64 per chunk */
	atomic_size_t next;
	uint64_t sum[2];
} bw_job;

typedef struct bw_arg {
	bw_job *job;
	int id;
} bw_arg;

/* Sum n uint64 (n % 16 == 0): 256-bit loads when the CPU has AVX2, since a
 * scalar loop is bound by its adds (about 5 GB/s a core here), not by the
 * memory. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *p, size_t n)
{
	__m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
	uint64_t o[4];
	for (size_t i = 0; i < n; i += 16) {
		a = _mm256_add_epi64(a, _mm256_loadu_si256((const __m256i *)(p + i)));
		b = _mm256_add_epi64(b, _mm256_loadu_si256((const __m256i *)(p + i + 4)));
		c = _mm256_add_epi64(c, _mm256_loadu_si256((const __m256i *)(p + i + 8)));
		d = _mm256_add_epi64(d, _mm256_loadu_si256((const __m256i *)(p + i + 12)));
	}
	_mm256_storeu_si256((__m256i *)o,
	                    _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
	return o[0] + o[1] + o[2] + o[3];
}
#define HAVE_SUM_AVX2 1
#endif

static uint64_t sum_plain(const uint64_t *p, size_t n)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = 0; i < n; i += 4)
		s0 += p[i], s1 += p[i + 1], s2 += p[i + 2], s3 += p[i + 3];
	return s0 + s1 + s2 + s3;
}

static void *bw_sum(void *arg)
{
	bw_arg *a = arg;
	bw_job *b = a->job;
	uint64_t s = 0;
	size_t c;
#ifdef HAVE_SUM_AVX2
	int simd = __builtin_cpu_supports("avx2");
#else
	int simd = 0;
#endif
	while ((c = atomic_fetch_add(&b->next, 1)) < b->n_chunks) {
		const uint64_t *p = b->p + c * b->chunk;
#ifdef HAVE_SUM_AVX2
		s += simd ? sum_avx2(p, b->chunk) : sum_plain(p, b->chunk);
#else
		s += sum_plain(p, b->chunk);
#endif
	}
	(void)simd;
	b->sum[a->id] = s;
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median GB/s of passes (<= BW_PASSES) passes over a fresh buffer; *best
 * (OUT) gets the fastest pass. Returns a negative value when out of memory. */
static double bandwidth(int passes, double *best)
{
	size_t n = BW_BYTES / 8;
	uint64_t *buf = malloc(BW_BYTES), check = 0;
	double gbs[BW_PASSES];

	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		buf[i] = i;
	*best = 0;
	for (int rep = 0; rep < passes; rep++) {
		bw_job job = {.p = buf, .chunk = (1 << 20) / 8, .n_chunks = BW_BYTES >> 20};
		bw_arg args[2] = {{&job, 0}, {&job, 1}};
		pthread_t t;
		double t0 = now();
		if (pthread_create(&t, NULL, bw_sum, &args[1]) != 0) {
			free(buf);
			return -1;
		}
		bw_sum(&args[0]);
		pthread_join(t, NULL);
		gbs[rep] = BW_BYTES / (now() - t0) / 1e9;
		*best = gbs[rep] > *best ? gbs[rep] : *best;
		check += job.sum[0] + job.sum[1];
	}
	free(buf);
	if (check == 42) /* keeps the sums alive */
		puts("");
	return median(gbs, passes);
}

static int print_bandwidth(void)
{
	double best, med = bandwidth(BW_PASSES, &best);
	if (med < 0)
		return 1;
	printf("%.1f %.1f\n", med, best);
	return 0;
}

/* ---- decoding ---- */

/* Bytes of weights one decoded token reads: every matrix but the token
 * embedding (one row of it). */
static double weight_bytes(const char *path)
{
	char err[256];
	mrt_gguf *g = mrt_gguf_open(path, err, sizeof(err));
	mrt_gguf_tensor_info ti;
	double b = 0;

	for (uint64_t i = 0; g && i < mrt_gguf_n_tensors(g); i++) {
		mrt_gguf_tensor(g, i, &ti);
		b += mrt_gguf_str_eq(ti.name, "token_embd.weight") ? (double)ti.nbytes / ti.ne[1]
		                                                   : (double)ti.nbytes;
	}
	mrt_gguf_close(g);
	return b;
}

static int decode(mrt_llm_ctx *c, int n, const int32_t *toks, const int32_t *seq, int8_t *want)
{
	char err[256];
	mrt_llm_batch b = {n, toks, seq, want};
	if (mrt_llm_decode(c, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "decode: %s\n", err);
		return -1;
	}
	return 0;
}

enum { PROMPT = 512, STEPS = 32, MAXSEQ = 8, ROUNDS = 3 };

static mrt_llm_ctx *open_ctx(const char *path, int threads, int n_ctx, mrt_model **m)
{
	char err[256];
	mrt_llm_params p = mrt_llm_default_params();
	mrt_llm_ctx *c;
	mrt_model_params mp = mrt_model_default_params();
	const char *repack = getenv("BENCH_REPACK"); /* 0: Q8_0/Q4_0 read in place */

	mp.repack = !repack || strcmp(repack, "0") != 0;
	if ((*m = mrt_model_load(path, &mp, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return NULL;
	}
	p.n_ctx = n_ctx;
	p.n_seq = MAXSEQ;
	p.n_batch = PROMPT;
	p.n_threads = threads;
	const char *kv = getenv("BENCH_KV");
	p.kv_type = !kv                      ? MRT_TYPE_F16
	            : strcmp(kv, "f32") == 0  ? MRT_TYPE_F32
	            : strcmp(kv, "q8_0") == 0 ? MRT_TYPE_Q8_0
	                                      : MRT_TYPE_F16;
	if ((c = mrt_llm_ctx_new(*m, &p, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		mrt_model_free(*m);
	}
	return c;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Prompt tokens/s: n tokens of slot 0 in one batch, logits of the last. */
static double prompt_rate(mrt_llm_ctx *c, int n)
{
	static int32_t toks[PROMPT], seq[PROMPT];
	static int8_t want[PROMPT];

	for (int i = 0; i < n; i++)
		toks[i] = (int32_t)((i * 7919) % VOCAB), want[i] = i == n - 1;
	mrt_llm_seq_clear(c, 0);
	double t0 = now();
	if (decode(c, n, toks, seq, want))
		return -1;
	return n / (now() - t0);
}

/* Aggregate decode tokens/s of B sequences (one token each per step)
 * after a 16-token prompt each; *cpu_ms (OUT) gets the CPU time of all
 * threads per generated token. */
/* B streams decoding steps tokens each, one per stream per step, after a
 * prompt of depth tokens each (read in chunks of PROMPT). */
static double decode_rate_at(mrt_llm_ctx *c, int B, int depth, int steps, double *cpu_ms)
{
	static int32_t ps[PROMPT], pt[PROMPT];
	static int8_t pw[PROMPT];
	int32_t s[MAXSEQ], toks[MAXSEQ];
	int8_t w[MAXSEQ];

	for (int i = 0; i < B; i++) {
		mrt_llm_seq_clear(c, i);
		s[i] = i, w[i] = 1;
		for (int off = 0; off < depth; off += PROMPT) {
			int n = depth - off < PROMPT ? depth - off : PROMPT;
			for (int j = 0; j < n; j++) {
				ps[j] = i, pw[j] = off + j == depth - 1;
				pt[j] = (int32_t)((i * 16 + off + j) * 7919 % VOCAB);
			}
			if (decode(c, n, pt, ps, pw))
				return -1;
		}
	}
	double t0 = now(), cpu = cpu_seconds();
	for (int step = 0; step < steps; step++) {
		for (int i = 0; i < B; i++)
			toks[i] = (int32_t)((step * 31 + i * 977) % VOCAB);
		if (decode(c, B, toks, s, w))
			return -1;
	}
	*cpu_ms = (cpu_seconds() - cpu) * 1e3 / (B * steps);
	return B * steps / (now() - t0);
}

static double decode_rate(mrt_llm_ctx *c, int B, int steps, double *cpu_ms)
{
	return decode_rate_at(c, B, 16, steps, cpu_ms);
}

/* One table row: medians over ROUNDS rounds. Each round measures the
 * prompt and every width; single-stream decoding sits between two
 * bandwidth probes of 3 passes, and its ratio to the bound those give is
 * taken per round (a peer measured beside it, as the machine allows). */
static int run(const char *path, int threads)
{
	static const int widths[4] = {1, 2, 4, 8};
	double pr[ROUNDS], agg[4][ROUNDS], bw[ROUNDS], ratio[ROUNDS], best, cpu_ms, bw0, bw1 = 0;
	double wb = weight_bytes(path);
	mrt_model *m;
	mrt_llm_ctx *c = open_ctx(path, threads, PROMPT + 64, &m);

	if (c == NULL)
		return 1;
	if (prompt_rate(c, 64) < 0) /* warm-up: fault the map in */
		return 1;
	for (int r = 0; r < ROUNDS; r++) {
		if ((pr[r] = prompt_rate(c, PROMPT)) < 0 || (bw0 = bandwidth(3, &best)) < 0)
			return 1;
		for (int k = 0; k < 4; k++)
			if ((agg[k][r] = decode_rate(c, widths[k], STEPS, &cpu_ms)) < 0)
				return 1;
			else if (k == 0 && (bw1 = bandwidth(3, &best)) < 0)
				return 1;
		bw[r] = (bw0 + bw1) / 2;
		ratio[r] = agg[0][r] / (bw[r] * 1e9 / wb);
	}
	printf("%-14s %7.1f MB %8.1f %8.1f %8.1f %8.1f %8.1f %6.1f %6.0f%%\n",
	       mrt_model_tensor_types(m), wb / 1e6, median(pr, ROUNDS), median(agg[0], ROUNDS),
	       median(agg[1], ROUNDS), median(agg[2], ROUNDS), median(agg[3], ROUNDS),
	       median(bw, ROUNDS), 100 * median(ratio, ROUNDS));
	mrt_llm_ctx_free(c);
	mrt_model_free(m);
	return 0;
}

/* Profiling aid: B streams for steps steps (or an n-token prompt when
 * B is 0), printing tokens/s and the CPU time (all threads) per token, which
 * a crowded machine disturbs less than the wall clock. */
static int profile(const char *path, int threads, int B, int steps)
{
	mrt_model *m;
	mrt_llm_ctx *c = open_ctx(path, threads, PROMPT + steps + 64, &m);
	double r;

	if (c == NULL || B < 0 || B > MAXSEQ || steps < 1)
		return 1;
	double cpu_ms = cpu_seconds();
	int n = steps < PROMPT ? steps : PROMPT;
	if (B == 0) {
		r = prompt_rate(c, n);
		cpu_ms = (cpu_seconds() - cpu_ms) * 1e3 / n;
	} else {
		r = decode_rate(c, B, steps, &cpu_ms);
	}
	printf("%.1f tokens/s %.2f cpu-ms/token\n", r, cpu_ms);
	mrt_llm_ctx_free(c);
	mrt_model_free(m);
	return r < 0;
}

/* Decoding deep in the context: STREAMS streams each read a prompt of
 * DEPTH tokens, then decode STEPS tokens together; tokens/s and CPU time
 * per token as profile prints them. The KV cache reads grow with DEPTH
 * (BENCH_KV chooses their type). */
static int deep(const char *path, int threads, int B, int depth, int steps)
{
	mrt_model *m;
	double cpu_ms, r;
	if (B < 1 || B > MAXSEQ || depth < 1 || steps < 1)
		return 1;
	mrt_llm_ctx *c = open_ctx(path, threads, depth + steps + 16, &m);
	if (c == NULL)
		return 1;
	r = decode_rate_at(c, B, depth, steps, &cpu_ms);
	printf("%.1f tokens/s %.2f cpu-ms/token\n", r, cpu_ms);
	mrt_llm_ctx_free(c);
	mrt_model_free(m);
	return r < 0;
}

/* The attention kernels alone, one thread: one query against KEYS keys of
 * one head (head size 64: scores, softmax, weighted sum) for each of HEADS
 * heads stored one after another, so many heads come from memory and few
 * from the caches; best of 5 passes, per head, for the F16 and Q8_0 caches. */
static int attn(int n, int heads)
{
	enum { HD = 64 };
	if (n < 1 || heads < 1)
		return 1;
	for (int kind = MRT__KV_F16; kind <= MRT__KV_Q8; kind++) {
		mrt__attn_kern ak = mrt__attn_kernels(HD, kind, 1);
		size_t rowb = kind == MRT__KV_Q8 ? HD / 32 * 34 : HD * 2, rows = (size_t)n * heads;
		char *K = malloc(rowb * rows), *V = malloc(rowb * rows);
		float q[HD], out[HD], x[HD], *sc = malloc(sizeof(float) * (size_t)n), best = 1e9f;
		if (!K || !V || !sc)
			return 1;
		for (size_t j = 0; j < rows; j++) {
			for (int i = 0; i < HD; i++)
				x[i] = (float)((j * 31 + (size_t)i * 17) % 97) / 97.0f - 0.5f;
			ak.store(K + rowb * j, x, HD);
			ak.store(V + rowb * j, x, HD);
		}
		for (int i = 0; i < HD; i++)
			q[i] = 0.01f * (float)i;
		for (int r = 0; r < 5; r++) {
			double t0 = now();
			for (int h = 0; h < heads; h++) {
				ak.scores(q, K + rowb * (size_t)n * h, n, HD, 0.125f, sc);
				ak.softmax(sc, n);
				ak.wsum(sc, V + rowb * (size_t)n * h, n, HD, out, 0);
			}
			float t = (float)((now() - t0) / heads);
			best = t < best ? t : best;
		}
		printf("%s cache: %.1f us per head (%d keys, %d heads, %.0f MB)\n",
		       kind == MRT__KV_Q8 ? "q8_0" : "f16", best * 1e6, n, heads,
		       2.0 * (double)(rowb * rows) / 1e6);
		free(K), free(V), free(sc);
	}
	return 0;
}

int main(int argc, char **argv)
{
	/* as modeld runs it: the runtime's pool splits sgemm calls itself, and
	 * OpenBLAS threads beside the pool would compete for the cores */
	openblas_set_num_threads(1);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "make") == 0) {
		int kv_heads = argc == 4 ? atoi(argv[3]) : HEADS;
		if (kv_heads < 1 || HEADS % kv_heads != 0) {
			fprintf(stderr, "make: KV_HEADS must divide %d\n", HEADS);
			return 2;
		}
		return make_model(argv[2], kv_heads);
	}
	if (argc == 5 && strcmp(argv[1], "quant") == 0)
		return quantize(argv[2], argv[3], argv[4]);
	if (argc == 2 && strcmp(argv[1], "bw") == 0)
		return print_bandwidth();
	if (argc == 6 && strcmp(argv[1], "profile") == 0)
		return profile(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "attn") == 0)
		return attn(atoi(argv[2]), atoi(argv[3]));
	if (argc == 7 && strcmp(argv[1], "deep") == 0)
		return deep(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "run") == 0)
		return run(argv[2], argc == 4 ? atoi(argv[3]) : 2);
	fprintf(stderr, "usage: bench_llama make OUT.gguf [KV_HEADS] | quant IN OUT TYPE | bw | "
	                "run FILE [THREADS] | profile FILE THREADS STREAMS STEPS | "
	                "deep FILE THREADS STREAMS DEPTH STEPS | attn KEYS HEADS\n");
	return 2;
}
