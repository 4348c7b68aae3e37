/* GFLOP/s of the runtime's linear kernel (mrt__linear) beside OpenBLAS sgemm
 * on the same shapes: the layers of the scoring MLP (256-1024-512-256) at
 * batch 1, 64 and 256, with F32, Q8_0 and Q4_0 weights. Each result is first
 * checked against sgemm so the timing is of correct work. Not run by make
 * check: `make tests/bench/bench_models && tests/bench/bench_models [SECONDS]`. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "mrt.h"
#include "mrt_gguf.h"

#define N_THREADS 2

typedef struct shape {
	int64_t M, K, N;
} shape;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* What one timed call does: either the runtime's linear or sgemm. */
typedef struct job {
	const shape *s;
	const float *X, *Wf;
	const void *W;
	int wtype;
	float *Y;
	void *scratch;
	mrt__pool *pool;
	int use_sgemm;
} job;

static void call(const job *j)
{
	const shape *s = j->s;

	if (j->use_sgemm)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->M, (int)s->N,
			    (int)s->K, 1.0f, j->X, (int)s->K, j->Wf, (int)s->K, 0.0f, j->Y,
			    (int)s->N);
	else
		mrt__linear(j->X, (size_t)s->K, j->W, j->wtype, NULL, j->Y, (size_t)s->N, s->M,
			    s->N, s->K, 0, j->scratch, j->pool);
}

/* Median GFLOP/s over samples of about 2 ms each for `seconds`. */
static double gflops(const job *j, double seconds)
{
	double flop = 2.0 * (double)j->s->M * (double)j->s->K * (double)j->s->N;
	double t[4096], start, t0, el;
	int reps = 1, n = 0, r;

	call(j); /* warm-up, and size a sample */
	t0 = now_s();
	call(j);
	el = now_s() - t0;
	if (el < 2e-3)
		reps = (int)(2e-3 / (el > 1e-7 ? el : 1e-7)) + 1;
	start = now_s();
	while (n < 4096 && (n < 5 || now_s() - start < seconds)) {
		t0 = now_s();
		for (r = 0; r < reps; r++)
			call(j);
		t[n++] = (now_s() - t0) / reps;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return flop / t[n / 2] * 1e-9;
}

/* Largest |a - b| relative to max |b|. */
static double rel_err(const float *a, const float *b, size_t n)
{
	double worst = 0, scale = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
		scale = fmax(scale, fabs((double)b[i]));
	}
	return worst / (scale > 0 ? scale : 1);
}

static int bench_shape(const shape *s, mrt__pool *pool, double seconds)
{
	static const int types[] = {MRT_TYPE_F32, MRT_TYPE_Q8_0, MRT_TYPE_Q4_0};
	size_t nx = (size_t)(s->M * s->K), nw = (size_t)(s->N * s->K), ny = (size_t)(s->M * s->N);
	float *X = malloc(nx * 4), *Wf = malloc(nw * 4), *Wq = malloc(nw * 4);
	float *Y = malloc(ny * 4), *Yref = malloc(ny * 4), *Wdq = malloc(nw * 4);
	uint64_t seed = 88172645463325252u;
	double base;
	size_t i, t;
	int rc = 0;

	if (!X || !Wf || !Wq || !Y || !Yref || !Wdq)
		return -1;
	for (i = 0; i < nx + nw; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		float v = (float)(seed >> 40) / (float)(1 << 23) - 1.0f;
		if (i < nx)
			X[i] = v;
		else
			Wf[i - nx] = v * 0.05f;
	}
	job j = {s, X, Wf, Wf, MRT_TYPE_F32, Yref, NULL, pool, 1};
	base = gflops(&j, seconds);
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		int wt = types[t];
		const void *W = Wf;
		size_t sc = mrt__linear_scratch(wt, s->M, s->K);
		void *scratch = sc ? aligned_alloc(64, (sc + 63) / 64 * 64) : NULL;
		double g, err;
		if (wt != MRT_TYPE_F32) {
			if (mrt_quantize(wt, Wf, Wq, nw) != 0 ||
			    mrt_dequantize(wt, Wq, Wdq, nw) != 0)
				return -1;
			W = Wq;
		}
		/* The reference for a quantized W is sgemm on its dequantized values. */
		j = (job){s, X, wt == MRT_TYPE_F32 ? Wf : Wdq, NULL, 0, Yref, NULL, NULL, 1};
		call(&j);
		j = (job){s, X, Wf, W, wt, Y, scratch, pool, 0};
		call(&j);
		err = rel_err(Y, Yref, ny);
		g = gflops(&j, seconds);
		printf("| %4lld | %4lld | %4lld | %-5s | %8.1f | %8.1f | %5.2f | %.1e |\n",
		       (long long)s->M, (long long)s->K, (long long)s->N, mrt_type_get(wt).name, g,
		       base, g / base, err);
		/* Quantized kernels also round the activations to 8 bits. */
		if (err > (wt == MRT_TYPE_F32 ? 1e-4 : 3e-2))
			rc = -1;
		free(scratch);
	}
	free(X), free(Wf), free(Wq), free(Y), free(Yref), free(Wdq);
	return rc;
}

int main(int argc, char **argv)
{
	static const int64_t layers[][2] = {{256, 1024}, {1024, 512}, {512, 256}};
	static const int64_t batches[] = {1, 64, 256};
	double seconds = argc > 1 ? atof(argv[1]) : 0.3;
	mrt__pool *pool = mrt__pool_new(N_THREADS);
	size_t b, l;
	int rc = 0;

	if (!pool || !(seconds > 0)) {
		fprintf(stderr, "usage: bench_models [SECONDS per case]\n");
		return 2;
	}
	openblas_set_num_threads(N_THREADS);
	printf("kernels: %s, %d threads; sgemm = OpenBLAS cblas_sgemm on F32 weights\n\n",
	       mrt_cpu_features(), N_THREADS);
	printf("| M | K | N | W type | runtime GFLOP/s | sgemm GFLOP/s | ratio | rel err |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++)
		for (l = 0; l < sizeof(layers) / sizeof(layers[0]); l++) {
			shape s = {batches[b], layers[l][0], layers[l][1]};
			if (bench_shape(&s, pool, seconds) != 0)
				rc = 1;
		}
	mrt__pool_free(pool);
	if (rc)
		fprintf(stderr, "bench_models: a kernel disagreed with sgemm\n");
	return rc;
}
