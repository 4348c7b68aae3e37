/* Llama decoder benchmark (never run by make check): writes a random
 * llama model, measures prompt and decode tokens/s through the runtime with
 * 1..8 sequences per batch, and the memory bandwidth that bounds decoding.
 *   bench_llama make OUT.gguf          random 110M model (F32)
 *   bench_llama quant IN OUT TYPE      re-quantize (k-quants too)
 *   bench_llama bw                     read bandwidth, 2 threads, 1 GiB
 *   bench_llama run FILE [THREADS]     one table row */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int make_model(const char *path)
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
	rc |= mrt_gguf_writer_set_u32(w, "llama.vocab_size", VOCAB);
	rc |= add(w, "token_embd.weight", DIM, VOCAB, 1.0f);
	const struct {
		const char *sfx;
		uint64_t ne0, ne1;
		float scale; /* 0: a norm weight of ones */
	} blk[] = {{"attn_norm", DIM, 0, 0},
	           {"attn_q", DIM, DIM, s},
	           {"attn_k", DIM, DIM, s},
	           {"attn_v", DIM, DIM, s},
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

/* ---- bandwidth ---- */

typedef struct bw_part {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
} bw_part;

static void *bw_sum(void *arg)
{
	bw_part *b = arg;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (size_t i = 0; i + 4 <= b->n; i += 4)
		s0 += b->p[i], s1 += b->p[i + 1], s2 += b->p[i + 2], s3 += b->p[i + 3];
	b->sum = s0 + s1 + s2 + s3;
	return NULL;
}

static int bandwidth(void)
{
	size_t bytes = (size_t)1 << 30, n = bytes / 8;
	uint64_t *buf = malloc(bytes);
	double best = 0;

	if (buf == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = i;
	for (int rep = 0; rep < 5; rep++) {
		bw_part parts[2] = {{buf, n / 2, 0}, {buf + n / 2, n / 2, 0}};
		pthread_t t;
		double t0 = now();
		pthread_create(&t, NULL, bw_sum, &parts[1]);
		bw_sum(&parts[0]);
		pthread_join(t, NULL);
		double gbs = bytes / (now() - t0) / 1e9;
		best = gbs > best ? gbs : best;
		if (parts[0].sum + parts[1].sum == 42)
			puts("");
	}
	printf("%.1f\n", best);
	free(buf);
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

static int run(const char *path, int threads)
{
	enum { PROMPT = 512, STEPS = 32, MAXSEQ = 8 };
	static int32_t toks[PROMPT], seq[PROMPT];
	static int8_t want[PROMPT];
	char err[256];
	mrt_model *m = mrt_model_load(path, NULL, err, sizeof(err));
	mrt_llm_params p = mrt_llm_default_params();
	double t0, best_prompt = 0, agg[4] = {0};

	if (m == NULL) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 1;
	}
	p.n_ctx = PROMPT + 64;
	p.n_seq = MAXSEQ;
	p.n_batch = PROMPT;
	p.n_threads = threads;
	mrt_llm_ctx *c = mrt_llm_ctx_new(m, &p, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < PROMPT; i++)
		toks[i] = (int32_t)((i * 7919) % VOCAB);
	want[PROMPT - 1] = 1;
	for (int rep = 0; rep < 2; rep++) { /* prompt: 512 tokens in one batch */
		mrt_llm_seq_clear(c, 0);
		t0 = now();
		if (decode(c, PROMPT, toks, seq, want))
			return 1;
		double r = PROMPT / (now() - t0);
		best_prompt = r > best_prompt ? r : best_prompt;
	}
	static const int widths[4] = {1, 2, 4, 8};
	for (int k = 0; k < 4; k++) { /* B sequences, one token each per step */
		int B = widths[k];
		int32_t s[MAXSEQ];
		int8_t w[MAXSEQ];
		for (int i = 0; i < B; i++) {
			mrt_llm_seq_clear(c, i);
			s[i] = i, w[i] = 1;
		}
		for (int i = 0; i < B; i++) { /* a short prompt each */
			int32_t ps[16];
			for (int j = 0; j < 16; j++)
				ps[j] = i;
			if (decode(c, 16, toks + 16 * i, ps, want))
				return 1;
		}
		t0 = now();
		for (int step = 0; step < STEPS; step++)
			if (decode(c, B, toks + step, s, w))
				return 1;
		agg[k] = B * STEPS / (now() - t0);
	}
	double wb = weight_bytes(path);
	printf("%-8s %8.1f MB %9.1f %9.1f %9.1f %9.1f %9.1f\n", mrt_model_tensor_types(m), wb / 1e6,
	       best_prompt, agg[0], agg[1], agg[2], agg[3]);
	mrt_llm_ctx_free(c);
	mrt_model_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "make") == 0)
		return make_model(argv[2]);
	if (argc == 5 && strcmp(argv[1], "quant") == 0)
		return quantize(argv[2], argv[3], argv[4]);
	if (argc == 2 && strcmp(argv[1], "bw") == 0)
		return bandwidth();
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "run") == 0)
		return run(argv[2], argc == 4 ? atoi(argv[3]) : 2);
	fprintf(stderr, "usage: bench_llama make OUT.gguf | quant IN OUT TYPE | bw | "
	                "run FILE [THREADS]\n");
	return 2;
}
