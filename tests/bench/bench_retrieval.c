/* Retrieval benchmark: users/s of RetrieveTopK over a catalog of N items x
 * D dims (F32 and Q8_0, read in place) at batch 1, 16 and 64, beside the
 * floor to beat: one OpenBLAS sgemm for the full [B,N] score matrix and a
 * per-user partial selection (quickselect, then a sort of the k best).
 * Each figure is the median of 3 rounds of SECONDS / 3. BENCH_CLOCK=cpu
 * measures process CPU time / THREADS instead of wall time: on a shared,
 * overloaded machine that estimates the speed with the cores to itself (the
 * runtime's pool sleeps when idle; a spinning BLAS thread counts against it).
 * usage: bench_retrieval [N] [D] [K] [THREADS] [SECONDS] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mrt_gguf.h"
#include "ops.h"

static int cpu_clock, n_threads = 1;

static double now(void)
{
	struct timespec ts;
	clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec * 1e-9) / (cpu_clock ? n_threads : 1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct sc {
	float v;
	int64_t id;
} sc;

static int sc_desc(const void *a, const void *b)
{
	const sc *x = a, *y = b;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	return x->id < y->id ? -1 : 1;
}

/* Move the k largest of s[0..n) to the front (Hoare quickselect). */
static void select_k(sc *s, int64_t n, int64_t k)
{
	int64_t lo = 0, hi = n - 1;
	while (lo < hi) {
		float p = s[lo + (hi - lo) / 2].v;
		int64_t i = lo, j = hi;
		while (i <= j) {
			while (s[i].v > p)
				i++;
			while (s[j].v < p)
				j--;
			if (i <= j) {
				sc t = s[i];
				s[i++] = s[j];
				s[j--] = t;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

static void floor_run(const float *q, const float *cat, int64_t B, int64_t N, int64_t D, int64_t k,
                      float *scores, sc *work, int64_t *ids_out)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)N, (int)D, 1.0f, q,
	            (int)D, cat, (int)D, 0.0f, scores, (int)N);
	for (int64_t b = 0; b < B; b++) {
		for (int64_t i = 0; i < N; i++) {
			work[i].v = scores[b * N + i];
			work[i].id = i;
		}
		select_k(work, N, k);
		qsort(work, (size_t)k, sizeof(*work), sc_desc);
		for (int64_t j = 0; j < k; j++)
			ids_out[b * k + j] = work[j].id;
	}
}

int main(int argc, char **argv)
{
	int64_t N = argc > 1 ? atoll(argv[1]) : 1000000, D = argc > 2 ? atoll(argv[2]) : 64;
	int64_t K = argc > 3 ? atoll(argv[3]) : 100;
	int threads = argc > 4 ? atoi(argv[4]) : 2;
	char uptime[128] = "?";
	FILE *up = fopen("/proc/loadavg", "r");
	double secs = argc > 5 ? atof(argv[5]) : 2.0;
	const int batches[] = {1, 16, 64};
	float *cat = malloc(sizeof(float) * (size_t)(N * D)), *q = malloc(sizeof(float) * 64 * D);
	float *scores = malloc(sizeof(float) * (size_t)(64 * N));
	sc *work = malloc(sizeof(sc) * (size_t)N);
	uint64_t qbytes;
	void *cat_q8;
	mrt__pool *pool = threads > 1 ? mrt__pool_new(threads) : NULL;
	const mrt__op_def *op = mrt__op_find("RetrieveTopK");
	char *in_names[3] = {"q", "cat", ""}, *out_names[2] = {"s", "i"};
	mrt__attr kattr = {"k", MRT__ATTR_INT, K};
	mrt__node node = {"RetrieveTopK", "retrieve", 3, 2, 1, in_names, out_names, &kattr};

	srand(1);
	for (int64_t i = 0; i < N * D; i++)
		cat[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	for (int64_t i = 0; i < 64 * D; i++)
		q[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
	mrt_type_nbytes(MRT_TYPE_Q8_0, (uint64_t)(N * D), &qbytes);
	cat_q8 = malloc(qbytes);
	mrt_quantize(MRT_TYPE_Q8_0, cat, cat_q8, (size_t)(N * D));
	openblas_set_num_threads(threads);
	cpu_clock = getenv("BENCH_CLOCK") && !strcmp(getenv("BENCH_CLOCK"), "cpu");
	n_threads = threads > 1 ? threads : 1;
	if (up) {
		if (!fgets(uptime, sizeof(uptime), up))
			strcpy(uptime, "?");
		uptime[strcspn(uptime, "\n")] = '\0';
		fclose(up);
	}
	printf("retrieval over %lld items x %lld dims, k = %lld, %d threads, cpu %s\n",
	       (long long)N, (long long)D, (long long)K, threads, mrt_cpu_features());
	printf("clock: %s; median of 3 rounds; load average %s\n",
	       cpu_clock ? "process CPU time / threads" : "wall", uptime);
	printf("%-6s %-28s %12s %10s\n", "batch", "method", "users/s", "ms/batch");
	for (size_t bi = 0; bi < sizeof(batches) / sizeof(batches[0]); bi++) {
		int64_t B = batches[bi];
		int64_t *ids = malloc(sizeof(int64_t) * (size_t)(B * K)),
		        *fids = malloc(sizeof(int64_t) * (size_t)(B * K));
		float *vals = malloc(sizeof(float) * (size_t)(B * K));
		for (int variant = 0; variant < 3; variant++) {
			mrt__tensor tq = {MRT_TYPE_F32, 2, {B, D}, q};
			mrt__tensor tc = {variant == 1 ? MRT_TYPE_Q8_0 : MRT_TYPE_F32,
			                  2,
			                  {N, D},
			                  variant == 1 ? cat_q8 : cat};
			mrt__tensor out[2] = {{MRT_TYPE_F32, 2, {B, K}, vals},
			                      {MRT_TYPE_I64, 2, {B, K}, ids}};
			const mrt__tensor *in[3] = {&tq, &tc, NULL};
			mrt__op_ctx ctx = {pool, NULL, 0};
			double per_run[3];
			ctx.scratch_size = op->scratch(&node, in, out);
			ctx.scratch = aligned_alloc(64, (ctx.scratch_size + 63) / 64 * 64);
			for (int round = 0; round < 3; round++) {
				double t0 = now(), t;
				int runs = 0;
				do {
					if (variant < 2)
						op->run(&node, in, out, &ctx, NULL, 0);
					else
						floor_run(q, cat, B, N, D, K, scores, work, fids);
					runs++;
					t = now() - t0;
				} while (t < secs / 3);
				per_run[round] = t / runs;
			}
			qsort(per_run, 3, sizeof(double), cmp_double);
			printf("%-6lld %-28s %12.1f %10.2f\n", (long long)B,
			       variant == 0   ? "RetrieveTopK f32"
			       : variant == 1 ? "RetrieveTopK q8_0"
			                      : "sgemm [B,N] + partial sort",
			       B / per_run[1], 1e3 * per_run[1]);
			free(ctx.scratch);
		}
		{ /* the F32 op and the floor agree on the ids */
			mrt__tensor tq = {MRT_TYPE_F32, 2, {B, D}, q},
			            tc = {MRT_TYPE_F32, 2, {N, D}, cat};
			mrt__tensor out[2] = {{MRT_TYPE_F32, 2, {B, K}, vals},
			                      {MRT_TYPE_I64, 2, {B, K}, ids}};
			const mrt__tensor *in[3] = {&tq, &tc, NULL};
			mrt__op_ctx ctx = {pool, NULL, 0};
			int same = 0;
			ctx.scratch_size = op->scratch(&node, in, out);
			ctx.scratch = aligned_alloc(64, (ctx.scratch_size + 63) / 64 * 64);
			op->run(&node, in, out, &ctx, NULL, 0);
			for (int64_t j = 0; j < B * K; j++)
				same += ids[j] == fids[j];
			printf("%-6lld ids equal to the floor's: %d of %lld\n", (long long)B, same,
			       (long long)(B * K));
			free(ctx.scratch);
		}
		free(ids);
		free(fids);
		free(vals);
	}
	mrt__pool_free(pool);
	free(cat);
	free(cat_q8);
	free(q);
	free(scores);
	free(work);
	return 0;
}
