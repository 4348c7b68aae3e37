/* GFLOP/s of mrt__linear per weight type at the scoring-MLP shapes, beside
 * cblas_sgemm on the same shapes, both with 2 threads. Median of 5 runs.
 * Usage: bench_linear [runs]   (MRT_CPU=generic|avx2|avx512 lowers the level) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "mrt_gguf.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
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

int main(int argc, char **argv)
{
	static const int types[] = {MRT_TYPE_F32,  MRT_TYPE_F16,  MRT_TYPE_BF16,
				    MRT_TYPE_Q8_0, MRT_TYPE_Q4_0, MRT_TYPE_Q4_K};
	static const shape nk[] = {{0, 1024, 256}, {0, 512, 1024}, {0, 256, 512}};
	static const int64_t Ms[] = {1, 64, 256};
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	if (runs < 1 || runs > 15)
		runs = 5;
	openblas_set_num_threads(2);
	mrt__pool *pool = mrt__pool_new(2);
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
				X[k] = (float)rand() / RAND_MAX - 0.5f;
			for (int64_t k = 0; k < s.N * s.K; k++)
				Wf[k] = (float)rand() / RAND_MAX - 0.5f;
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
