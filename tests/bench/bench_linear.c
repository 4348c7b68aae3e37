/* GFLOP/s of mrt__linear per weight type at the scoring-MLP shapes, beside
 * cblas_sgemm on the same shapes, both with 2 threads. Median of 5 runs.
 * `bw` mode: weight bytes read per second at M = 1, 2, 4, 8 for a matrix of
 * ~96 MB (past the L3), beside a plain 2-thread read of the same size.
 * Usage: bench_linear [bw] [runs]   (MRT_CPU=generic|avx2|avx512 lowers the level) */
#include <cblas.h>
#include <emmintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "mrt_gguf.h"

/* Wall time, or with BENCH_CLOCK=cpu the process CPU time over the 2
 * threads: on a shared, overloaded machine that estimates what the code
 * does when it has both cores (an idle worker polls for at most 200 us
 * after a run, then sleeps; back-to-back calls keep it polling, which this
 * clock counts). */
static int cpu_clock;

static double now(void)
{
	struct timespec ts;
	clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9) / (cpu_clock ? 2 : 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct shape {
	int64_t M, N, K;
} shape;

/* Median GFLOP/s of `runs` runs, each repeating until 20 ms have passed. */
static double measure(int wtype, const shape *s, const float *X, const void *W, float *Y,
		      void *scratch, mrt__pool *pool, int runs)
{
	double flop = 2.0 * s->M * s->N * s->K, g[16];
	for (int r = 0; r < runs; r++) {
		int iters = 0;
		double t0 = now(), t;
		do {
			if (wtype < 0)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->M,
					    (int)s->N, (int)s->K, 1.0f, X, (int)s->K, W, (int)s->K,
					    0.0f, Y, (int)s->N);
			else
				mrt__linear(X, (size_t)s->K, W, wtype, NULL, Y, (size_t)s->N, s->M,
					    s->N, s->K, 0, scratch, pool);
			iters++;
			t = now() - t0;
		} while (t < 0.02);
		g[r] = flop * iters / t * 1e-9;
	}
	qsort(g, (size_t)runs, sizeof(double), cmp_double);
	return g[runs / 2];
}

/* ---- bandwidth mode ---- */

#define BW_BYTES ((size_t)96 << 20)

typedef struct read_job {
	const uint64_t *buf;
	size_t n; /* words */
	uint64_t sum[2];
} read_job;

/* Sum this task's share of the buffer as 4 streams read side by side (as
 * the kernels read several weight rows), 64 bytes of each per step. */
static void read_task(void *arg, int task, int n_tasks)
{
	read_job *j = arg;
	size_t q = j->n / (size_t)n_tasks / 32 * 8, i0 = 4 * q * (size_t)task;
	__m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
	for (size_t i = i0; i < i0 + q; i += 8) {
		const __m128i *p = (const __m128i *)(j->buf + i);
		for (int k = 0; k < 4; k++) {
			s0 = _mm_add_epi64(s0, _mm_load_si128(p));
			s1 = _mm_add_epi64(s1, _mm_load_si128(p + 1));
			s2 = _mm_add_epi64(s2, _mm_load_si128(p + 2));
			s3 = _mm_add_epi64(s3, _mm_load_si128(p + 3));
			p += q / 2;
		}
	}
	s0 = _mm_xor_si128(_mm_xor_si128(s0, s1), _mm_xor_si128(s2, s3));
	j->sum[task & 1] += (uint64_t)_mm_cvtsi128_si64(s0);
}

/* Median GB/s of `runs` runs of fn over `bytes`. */
static double bw_plain(mrt__pool *pool, const void *buf, size_t bytes, int runs)
{
	read_job j = {.buf = buf, .n = bytes / 8};
	double g[16];
	for (int r = 0; r < runs; r++) {
		int iters = 0;
		double t0 = now(), t;
		do {
			mrt__pool_run(pool, 8, read_task, &j);
			iters++;
			t = now() - t0;
		} while (t < 0.1);
		g[r] = bytes * (double)iters / t * 1e-9;
	}
	qsort(g, (size_t)runs, sizeof(double), cmp_double);
	if (j.sum[0] == 42)
		printf(" ");
	return g[runs / 2];
}

static int bench_bw(mrt__pool *pool, int runs)
{
	static const int types[] = {MRT_TYPE_F32,  MRT_TYPE_F16,  MRT_TYPE_BF16, MRT_TYPE_Q8_0,
				    MRT_TYPE_Q4_0, MRT_TYPE_Q4_K, MRT_TYPE_Q5_K, MRT_TYPE_Q6_K};
	static const int64_t Ms[] = {1, 2, 4, 8};
	const int64_t K = 4096, proto = 64;
	uint8_t *W = aligned_alloc(64, BW_BYTES + 4096);
	float *Wf = malloc(sizeof(float) * (size_t)(proto * K));
	float *X = malloc(sizeof(float) * 8 * (size_t)K);
	if (!W || !Wf || !X)
		return 1;
	memset(W, 1, BW_BYTES);
	for (int64_t i = 0; i < proto * K; i++)
		Wf[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	for (int64_t i = 0; i < 8 * K; i++)
		X[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	double plain = bw_plain(pool, W, BW_BYTES, runs);
	printf("kernels: %s, 2 threads, median of %d runs; K = %lld, W ~ %zu MB\n",
	       mrt__cpu_level_name(), runs, (long long)K, BW_BYTES >> 20);
	printf("plain 2-thread read: %.1f GB/s\n", plain);
	printf("%-6s %7s", "type", "N");
	for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++)
		printf("   M=%lld GB/s (of read)", (long long)Ms[i]);
	printf("\n");
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		uint64_t rb;
		mrt_type_nbytes(types[t], (uint64_t)K, &rb);
		int64_t N = (int64_t)(BW_BYTES / rb) & ~(int64_t)63;
		mrt_quantize(types[t], Wf, W, (size_t)(proto * K));
		for (int64_t n = proto; n < N; n += proto)
			memcpy(W + rb * (size_t)n, W, rb * (size_t)(N - n < proto ? N - n : proto));
		float *Y = malloc(sizeof(float) * 8 * (size_t)N);
		printf("%-6s %7lld", mrt_type_get(types[t]).name, (long long)N);
		for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++) {
			shape s = {Ms[i], N, K};
			size_t ss = mrt__linear_scratch(types[t], s.M, s.K);
			void *scratch = ss ? aligned_alloc(64, (ss + 63) & ~(size_t)63) : NULL;
			double gf = measure(types[t], &s, X, W, Y, scratch, pool, runs);
			double gbs = gf / (2.0 * (double)s.M * (double)K) * (double)rb;
			printf("   %8.1f (%5.2fx)    ", gbs, gbs / plain);
			free(scratch);
		}
		printf("\n");
		fflush(stdout);
		free(Y);
	}
	free(W), free(Wf), free(X);
	return 0;
}

int main(int argc, char **argv)
{
	static const int types[] = {MRT_TYPE_F32,  MRT_TYPE_F16,  MRT_TYPE_BF16, MRT_TYPE_Q8_0,
				    MRT_TYPE_Q4_0, MRT_TYPE_Q4_K, MRT_TYPE_Q6_K};
	static const shape nk[] = {{0, 1024, 256}, {0, 512, 1024}, {0, 256, 512}};
	static const int64_t Ms[] = {1, 8, 64, 256};
	int bw = argc > 1 && !strcmp(argv[1], "bw");
	cpu_clock = getenv("BENCH_CLOCK") && !strcmp(getenv("BENCH_CLOCK"), "cpu");
	printf("clock: %s\n", cpu_clock ? "process CPU time / 2" : "wall");
	int runs = argc > 1 + bw ? atoi(argv[1 + bw]) : 5;
	if (runs < 1 || runs > 15)
		runs = 5;
	openblas_set_num_threads(2);
	mrt__pool *pool = mrt__pool_new(2);
	if (bw) {
		int rc = bench_bw(pool, runs);
		mrt__pool_free(pool);
		return rc;
	}
	printf("kernels: %s, 2 threads, median of %d runs, GFLOP/s (ratio to sgemm)\n",
	       mrt__cpu_level_name(), runs);
	printf("%-16s %9s", "M x N x K", "sgemm");
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		printf(" %15s", mrt_type_get(types[t]).name);
	printf("\n");
	srand(1);
	for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++)
		for (size_t j = 0; j < sizeof(nk) / sizeof(nk[0]); j++) {
			shape s = {Ms[i], nk[j].N, nk[j].K};
			float *X = malloc(sizeof(float) * (size_t)(s.M * s.K));
			float *Wf = malloc(sizeof(float) * (size_t)(s.N * s.K));
			float *Y = malloc(sizeof(float) * (size_t)(s.M * s.N));
			void *W = malloc(sizeof(float) * (size_t)(s.N * s.K));
			for (int64_t k = 0; k < s.M * s.K; k++)
				X[k] = (float)((double)rand() / RAND_MAX) - 0.5f;
			for (int64_t k = 0; k < s.N * s.K; k++)
				Wf[k] = (float)((double)rand() / RAND_MAX) - 0.5f;
			double base = measure(-1, &s, X, Wf, Y, NULL, NULL, runs);
			printf("%4lld x%5lld x%5lld %9.1f", (long long)s.M, (long long)s.N,
			       (long long)s.K, base);
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
				mrt_quantize(types[t], Wf, W, (size_t)(s.N * s.K));
				size_t ss = mrt__linear_scratch(types[t], s.M, s.K);
				void *scratch = ss ? aligned_alloc(64, (ss + 63) & ~(size_t)63) : NULL;
				double g = measure(types[t], &s, X, W, Y, scratch, pool, runs);
				printf(" %7.1f (%4.2fx)", g, g / base);
				free(scratch);
			}
			printf("\n");
			fflush(stdout);
			free(X), free(Wf), free(Y), free(W);
		}
	mrt__pool_free(pool);
	return 0;
}
