/* mrt__linear at every CPU level, pool size, weight type and shape against
 * mrt__linear_ref (and F32 against cblas_sgemm); the worker pool runs every
 * task exactly once. */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_impl.h"
#include "mrt.h"
#include "mrt_gguf.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* ---- pool ---- */
static void count_task(void *arg, int task, int n_tasks)
{
	atomic_int *hits = arg;
	atomic_fetch_add(&hits[task], 1);
}

/* Each task records the pool thread that ran it. */
typedef struct who_job {
	mrt__pool *pool;
	atomic_int seen[4]; /* tasks run by thread number i */
	atomic_int out_of_range;
} who_job;

static void who_task(void *arg, int task, int n_tasks)
{
	who_job *j = arg;
	int t = mrt__pool_thread(j->pool);
	if (t < 0 || t >= mrt__pool_size(j->pool))
		atomic_fetch_add(&j->out_of_range, 1);
	else
		atomic_fetch_add(&j->seen[t], 1);
	for (volatile int spin = 0; spin < 20000; spin++)
		; /* long enough that a worker joins */
}

/* Guided chunks tile [0, total) in order, aligned, never growing, each at
 * least min_chunk but the last. */
static void test_guided(void)
{
	static const int64_t totals[] = {1, 8, 16, 17, 64, 100, 768, 2304, 4096, 32000};
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		for (int nt = 1; nt <= 4; nt++) {
			int64_t total = totals[i], at = 0, prev = INT64_MAX;
			int n = mrt__guided_count(total, 8, 64, nt), bad = 0;
			CHECK(n >= 1 && n <= 64);
			for (int t = 0; t < n; t++) {
				int64_t lo, hi;
				mrt__guided_chunk(total, 8, 64, nt, t, &lo, &hi);
				bad += lo != at || hi <= lo || (hi - lo > prev) ||
				       (hi < total && ((hi - lo) % 8 != 0 || hi - lo < 64));
				prev = hi - lo;
				at = hi;
			}
			CHECK_EQ_INT(bad, 0);
			CHECK(at == total);
		}
	/* one thread takes all; 2 threads: half of what is left each time */
	int64_t lo, hi;
	CHECK_EQ_INT(mrt__guided_count(2304, 16, 64, 1), 1);
	CHECK_EQ_INT(mrt__guided_count(2304, 16, 64, 2), 6);
	mrt__guided_chunk(2304, 16, 64, 2, 1, &lo, &hi);
	CHECK(lo == 1152 && hi == 1728);
	CHECK_EQ_INT(mrt__guided_count(0, 16, 64, 2), 0);
}

static void test_pool(void)
{
	for (int threads = 1; threads <= 3; threads++) {
		mrt__pool *pool = mrt__pool_new(threads);
		CHECK(pool != NULL);
		CHECK_EQ_INT(mrt__pool_size(pool), threads);
		static atomic_int hits[64];
		int bad = 0;
		for (int run = 0; run < 10000; run++) {
			int n = 1 + run % 64;
			for (int i = 0; i < n; i++)
				atomic_store(&hits[i], 0);
			mrt__pool_run(pool, n, count_task, hits);
			for (int i = 0; i < n; i++)
				bad += atomic_load(&hits[i]) != 1;
		}
		CHECK_EQ_INT(bad, 0);
		mrt__pool_free(pool);
	}
	CHECK(mrt__pool_new(0) == NULL);
	CHECK_EQ_INT(mrt__pool_size(NULL), 1);

	/* thread numbers: 0 for the caller, 1 .. n - 1 for workers, and 0
	 * outside a pool or for another pool */
	mrt__pool *pool = mrt__pool_new(3), *other = mrt__pool_new(2);
	CHECK(pool != NULL && other != NULL);
	CHECK_EQ_INT(mrt__pool_thread(pool), 0);
	CHECK_EQ_INT(mrt__pool_thread(NULL), 0);
	who_job j = {.pool = pool};
	for (int run = 0; run < 200; run++)
		mrt__pool_run(pool, 16, who_task, &j);
	CHECK_EQ_INT(atomic_load(&j.out_of_range), 0);
	CHECK_EQ_INT(atomic_load(&j.seen[0]) + atomic_load(&j.seen[1]) + atomic_load(&j.seen[2]),
	             200 * 16);
	CHECK(atomic_load(&j.seen[1]) > 0 || atomic_load(&j.seen[2]) > 0);
	who_job k = {.pool = pool}; /* tasks of other ask about pool: never a worker of it */
	for (int run = 0; run < 50; run++)
		mrt__pool_run(other, 8, who_task, &k);
	CHECK_EQ_INT(atomic_load(&k.seen[0]), 50 * 8);
	mrt__pool_free(other);
	mrt__pool_free(pool);
}

/* Activations as the quantized kernels see them: 32-blocks, d = amax / 127,
 * q = nearbyint(x * (1 / d)); the reference then runs on q * d. */
static void q8x_roundtrip(float *x, int64_t n)
{
	for (int64_t b = 0; b < n; b += 32) {
		float amax = 0.0f;
		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(x[b + j]));
		float d = amax / 127.0f, id = amax > 0.0f ? 1.0f / d : 0.0f;
		for (int j = 0; j < 32; j++)
			x[b + j] = nearbyintf(x[b + j] * id) * d;
	}
}

/* The same through ggml's Q8_K (per 256) for k-quant weights at small M. */
static void q8k_roundtrip(float *x, int64_t n)
{
	uint64_t nb;
	mrt_type_nbytes(MRT_TYPE_Q8_K, (uint64_t)n, &nb);
	void *q = malloc(nb);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_K, x, q, (size_t)n), 0);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_K, q, x, (size_t)n), 0);
	free(q);
}

static const int wtypes[] = {MRT_TYPE_F32, MRT_TYPE_F16,  MRT_TYPE_BF16, MRT_TYPE_Q8_0,
			     MRT_TYPE_Q4_0, MRT_TYPE_Q4_K, MRT_TYPE_Q5_K, MRT_TYPE_Q6_K};

/* The AVX2 Q8_K activation quantizer writes mrt_quantize's bytes: random
 * rows at several scales, rounding ties (x * -127 / max = k + 0.5 exactly:
 * to even) and the floats just below them,
 * +max and -max in either order, a single non-zero, all zeros. */
static void test_quant_k_avx2(void)
{
	enum { NB = 4, N = NB * MRT__QKK };
	static float x[N];
	static mrt__q8k want[NB], got[NB];
	int bad = 0;
	for (int c = 0; c < 600; c++) {
		float scale = c % 3 == 0 ? 1e-3f : c % 3 == 1 ? 1.0f : 3e4f;
		for (int i = 0; i < N; i++)
			x[i] = frand() * scale;
		if (c % 5 == 1) /* max -127: iscale 1, x = k + 0.5 are exact ties */
			for (int i = 0; i < N; i++)
				x[i] = i % MRT__QKK == 7 ? -127.0f : (float)((int)(frand() * 126)) + 0.5f;
		if (c % 5 == 2) /* equal magnitudes of both signs */
			for (int i = 0; i < N; i++)
				x[i] = (i * 7 + c) % 11 == 0 ? (c & 1 ? 2.5f : -2.5f) * (i & 1 ? 1 : -1)
							      : frand();
		if (c % 5 == 4) /* just below ties: round down, where adding 0.5 would not */
			for (int i = 0; i < N; i++)
				x[i] = i % MRT__QKK == 9 ? 127.0f
							 : nextafterf((float)((int)(frand() * 126)) + 0.5f, 0.0f);
		if (c % 5 == 3) { /* one non-zero, the rest zero; block 1 all zero */
			for (int i = 0; i < N; i++)
				x[i] = 0.0f;
			x[c % MRT__QKK] = frand() + 2.0f;
		}
		CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_K, x, want, N), 0);
		memset(got, 0x55, sizeof(got));
		mrt__quant_k_avx2(x, got, NB);
		bad += memcmp(want, got, sizeof(want)) != 0;
	}
	CHECK_EQ_INT(bad, 0);
}

/* Q8X activations (the Q8_0/Q4_0 kernels' input) are the same bytes on
 * the generic and AVX2 levels, and each block's stored sum is 8 x the sum
 * of its q (the AVX2 Q4_0 kernel's offset). */
static void test_q8x_avx2(void)
{
	static const int64_t Ks[] = {32, 96, 1024};
	int bad = 0;
	for (size_t i = 0; i < sizeof(Ks) / sizeof(Ks[0]); i++) {
		int64_t K = Ks[i], M = 3, nb = K / MRT__QK;
		size_t ss = mrt__linear_scratch(MRT_TYPE_Q4_0, M, K);
		float *x = malloc(sizeof(float) * (size_t)(M * K));
		uint8_t *gen = malloc(ss), *avx = malloc(ss);
		for (int64_t j = 0; j < M * K; j++) /* ties at 0.5 in row 1 */
			x[j] = j / K == 1 ? (float)(j % 253 - 126) + 0.5f : frand() * 3.0f;
		x[5] = 0.0f;
		memset(gen, 0, ss), memset(avx, 0, ss);
		setenv("MRT_CPU", "generic", 1);
		CHECK_EQ_INT(mrt__linear_prepare(x, (size_t)K, MRT_TYPE_Q4_0, M, K, gen, NULL), 0);
		setenv("MRT_CPU", "avx2", 1);
		CHECK_EQ_INT(mrt__linear_prepare(x, (size_t)K, MRT_TYPE_Q4_0, M, K, avx, NULL), 0);
		unsetenv("MRT_CPU");
		bad += memcmp(gen, avx, ss) != 0;
		size_t row = ss / (size_t)M;
		for (int64_t m = 0; m < M; m++) {
			const int8_t *q = (const int8_t *)(avx + row * (size_t)m);
			const int32_t *sum = (const int32_t *)(avx + row * (size_t)m + mrt__q8x_sofs(K));
			for (int64_t b = 0; b < nb; b++) {
				int32_t s = 0;
				for (int j = 0; j < MRT__QK; j++)
					s += q[b * MRT__QK + j];
				bad += sum[b] != 8 * s;
			}
		}
		free(x), free(gen), free(avx);
	}
	CHECK_EQ_INT(bad, 0);
}

/* One case: returns the number of outputs out of tolerance. */
static int run_case(int wtype, int64_t M, int64_t N, int64_t K, int accumulate, int use_bias,
		    mrt__pool *pool)
{
	mrt_type_info ti = mrt_type_get(wtype);
	uint64_t rb;
	if (K % (int64_t)ti.block_elems || mrt_type_nbytes(wtype, (uint64_t)K, &rb))
		return 0;
	size_t ldx = (size_t)K + 3, ldy = (size_t)N + 2;
	float *X = malloc(sizeof(float) * ldx * (size_t)M);
	float *Xr = malloc(sizeof(float) * ldx * (size_t)M);
	float *Wf = malloc(sizeof(float) * (size_t)(N * K));
	float *Wd = malloc(sizeof(float) * (size_t)K);
	uint8_t *W = malloc(rb * (size_t)N);
	float *bias = malloc(sizeof(float) * (size_t)N);
	float *Y = malloc(sizeof(float) * ldy * (size_t)M);
	float *Yr = malloc(sizeof(float) * ldy * (size_t)M);
	float *mag = malloc(sizeof(float) * (size_t)(M * N));
	size_t ss = mrt__linear_scratch(wtype, M, K);
	void *scratch = ss ? aligned_alloc(64, (ss + 63) & ~(size_t)63) : NULL;
	for (size_t i = 0; i < ldx * (size_t)M; i++)
		X[i] = Xr[i] = frand();
	for (int64_t i = 0; i < N * K; i++)
		Wf[i] = frand();
	for (int64_t n = 0; n < N; n++) {
		mrt_quantize(wtype, Wf + n * K, W + rb * (size_t)n, (size_t)K);
		bias[n] = frand();
	}
	for (size_t i = 0; i < ldy * (size_t)M; i++)
		Y[i] = Yr[i] = frand();
	/* the reference sees the activations as the kernels do */
	int xtype = mrt__linear_xtype(wtype, M);
	for (int64_t m = 0; m < M; m++)
		if (xtype == MRT_TYPE_Q8_0)
			q8x_roundtrip(Xr + (size_t)m * ldx, K);
		else if (xtype == MRT_TYPE_Q8_K)
			q8k_roundtrip(Xr + (size_t)m * ldx, K);
	/* output scale: sum of |x w| for each output */
	for (int64_t n = 0; n < N; n++) {
		mrt__dequantize_row(wtype, W, n, K, Wd);
		for (int64_t m = 0; m < M; m++) {
			double s = fabs(bias[n]) + fabs(Y[m * ldy + n]);
			for (int64_t k = 0; k < K; k++)
				s += fabs(Xr[m * ldx + k] * Wd[k]);
			mag[m * N + n] = (float)s;
		}
	}
	const float *b = use_bias ? bias : NULL;
	int rc = mrt__linear(X, ldx, W, wtype, b, Y, ldy, M, N, K, accumulate, scratch, pool);
	int rr = mrt__linear_ref(Xr, ldx, W, wtype, b, Yr, ldy, M, N, K, accumulate);
	int bad = rc != 0 || rr != 0;
	for (int64_t m = 0; m < M; m++)
		for (int64_t n = 0; n < N; n++) {
			float d = fabsf(Y[m * ldy + n] - Yr[m * ldy + n]);
			if (!(d <= 1e-5f * mag[m * N + n] + 1e-6f)) {
				if (bad < 3)
					fprintf(stderr, "%s M=%lld N=%lld K=%lld [%lld,%lld]: %g vs %g\n",
						ti.name, (long long)M, (long long)N, (long long)K,
						(long long)m, (long long)n, Y[m * ldy + n],
						Yr[m * ldy + n]);
				bad++;
			}
		}
	/* the padding columns of Y are untouched */
	for (int64_t m = 0; m < M; m++)
		bad += Y[m * ldy + N] != Yr[m * ldy + N];
	free(X), free(Xr), free(Wf), free(Wd), free(W), free(bias), free(Y), free(Yr), free(mag);
	free(scratch);
	return bad;
}

static void test_linear_level(const char *level)
{
	static const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 8, 16, 33, 64, 256};
	static const int64_t Ns[] = {1, 3, 17, 64, 130};
	static const int64_t Ks[] = {32, 64, 96, 256, 1024};
	setenv("MRT_CPU", level, 1);
	fprintf(stderr, "level %s (in use: %s)\n", level, mrt__cpu_level_name());
	for (int threads = 1; threads <= 2; threads++) {
		mrt__pool *pool = mrt__pool_new(threads);
		int cases = 0, bad = 0;
		for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++)
			for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++)
				for (size_t j = 0; j < sizeof(Ns) / sizeof(Ns[0]); j++)
					for (size_t k = 0; k < sizeof(Ks) / sizeof(Ks[0]); k++) {
						/* keep the run short: big M only with small N*K */
						if (Ms[i] >= 64 && Ns[j] * Ks[k] > 64 * 256)
							continue;
						int v = (int)(i + j + k + t);
						bad += run_case(wtypes[t], Ms[i], Ns[j], Ks[k], v & 1,
								(v >> 1) & 1, pool);
						cases++;
					}
		/* odd K for the plain types, and one large-M case per type */
		for (int64_t K = 1; K <= 19; K += 9)
			for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++) {
				bad += run_case(MRT_TYPE_F32, Ms[i], 17, K, 1, 1, pool);
				bad += run_case(MRT_TYPE_F16, Ms[i], 17, K, 0, 1, pool);
				bad += run_case(MRT_TYPE_BF16, Ms[i], 5, K, 1, 0, pool);
				cases += 3;
			}
		for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++)
			bad += run_case(wtypes[t], 256, 130, 1024, 0, 1, pool), cases++;
		/* F32 from 16 rows up (the GEMM on AVX2): partial row panels,
		 * column tails of 1..5, K blocks of 512 with a tail, K < 8 */
		static const int64_t gM[] = {16, 17, 31, 48, 100, 129};
		static const int64_t gNK[][2] = {{6, 8}, {7, 513}, {11, 1030}, {64, 300}, {5, 3}};
		for (size_t i = 0; i < sizeof(gM) / sizeof(gM[0]); i++)
			for (size_t j = 0; j < sizeof(gNK) / sizeof(gNK[0]); j++) {
				int v = (int)(i + j);
				bad += run_case(MRT_TYPE_F32, gM[i], gNK[j][0], gNK[j][1], v & 1,
						(v >> 1) & 1, pool);
				cases++;
			}
		fprintf(stderr, "  %d threads: %d cases\n", threads, cases);
		CHECK_EQ_INT(bad, 0);
		mrt__pool_free(pool);
	}
	unsetenv("MRT_CPU");
}

/* F32 mrt__linear against OpenBLAS directly. */
static void test_vs_sgemm(void)
{
	int64_t shapes[][3] = {{1, 64, 256}, {7, 130, 96}, {64, 64, 1024}, {33, 17, 10}};
	for (size_t s = 0; s < 4; s++) {
		int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
		float *X = malloc(sizeof(float) * (size_t)(M * K));
		float *W = malloc(sizeof(float) * (size_t)(N * K));
		float *Y = malloc(sizeof(float) * (size_t)(M * N));
		float *Yb = malloc(sizeof(float) * (size_t)(M * N));
		for (int64_t i = 0; i < M * K; i++)
			X[i] = frand();
		for (int64_t i = 0; i < N * K; i++)
			W[i] = frand();
		CHECK_EQ_INT(mrt__linear(X, (size_t)K, W, MRT_TYPE_F32, NULL, Y, (size_t)N, M, N, K, 0,
					 NULL, NULL),
			     0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, X,
			    (int)K, W, (int)K, 0.0f, Yb, (int)N);
		double maxd = 0.0;
		for (int64_t i = 0; i < M * N; i++)
			maxd = fmax(maxd, fabs(Y[i] - Yb[i]));
		CHECK(maxd <= 1e-5 * sqrt((double)K) * 2);
		free(X), free(W), free(Y), free(Yb);
	}
}

static void test_errors(void)
{
	float x[64] = {0}, y[4] = {0};
	uint8_t w[64] = {0};
	CHECK_EQ_INT(mrt__linear(x, 33, w, MRT_TYPE_Q8_0, NULL, y, 1, 1, 1, 33, 0, NULL, NULL),
		     -7);
	CHECK_EQ_INT(mrt__linear(x, 1, w, 99, NULL, y, 1, 1, 1, 1, 0, NULL, NULL), -3);
	CHECK_EQ_INT(mrt__linear_ref(x, 1, w, 5, NULL, y, 1, 1, 1, 1, 0), -7);
	CHECK_EQ_INT(mrt__dequantize_row(MRT_TYPE_Q4_0, w, 0, 31, y), -7);
	CHECK(strlen(mrt__cpu_level_name()) > 0);
}

/* mrt__linear_prepare + mrt__linear_prepared give the bytes of mrt__linear,
 * also for a second weight type of the same activation type quantized once
 * (Q4_0 after Q8_0, Q6_K after Q4_K), on row ranges of W as the llama
 * decoder's fused groups call them; F32 needs no preparation. */
static void test_prepared(mrt__pool *pool)
{
	enum { K = 512, N = 40, MAXM = 8 };
	static const int pairs[][2] = {
	    {MRT_TYPE_Q8_0, MRT_TYPE_Q4_0}, {MRT_TYPE_Q4_K, MRT_TYPE_Q6_K}, {MRT_TYPE_F32, MRT_TYPE_F16}};
	float *X = malloc(sizeof(float) * MAXM * K), *Wf = malloc(sizeof(float) * N * K);
	float *Y = malloc(sizeof(float) * MAXM * N), *Yp = malloc(sizeof(float) * MAXM * N);
	size_t ss = 0;
	for (size_t p = 0; p < 3; p++)
		for (int i = 0; i < 2; i++)
			if (mrt__linear_scratch(pairs[p][i], MAXM, K) > ss)
				ss = mrt__linear_scratch(pairs[p][i], MAXM, K);
	ss = (ss + 63) & ~(size_t)63;
	void *scr = aligned_alloc(64, ss), *scr2 = aligned_alloc(64, ss);
	void *W = malloc((size_t)N * K * 4);
	int bad = 0;
	for (int i = 0; i < MAXM * K; i++)
		X[i] = frand();
	for (int i = 0; i < N * K; i++)
		Wf[i] = frand();
	for (size_t p = 0; p < 3; p++)
		for (int64_t M = 1; M <= MAXM; M++) {
			CHECK_EQ_INT(mrt__linear_prepare(X, K, pairs[p][0], M, K, scr, pool), 0);
			for (int i = 0; i < 2; i++) {
				int t = pairs[p][i];
				uint64_t rb;
				mrt_type_nbytes(t, K, &rb);
				if (t == MRT_TYPE_F32)
					memcpy(W, Wf, sizeof(float) * N * K);
				else
					mrt_quantize(t, Wf, W, (uint64_t)N * K);
				CHECK_EQ_INT(mrt__linear(X, K, W, t, NULL, Y, N, M, N, K, 0, scr2, pool), 0);
				/* rows [8, 40) of W in two ranges, one prepared X */
				for (int r0 = 8; r0 < N; r0 += 16)
					CHECK_EQ_INT(mrt__linear_prepared(X, K, (char *)W + rb * (size_t)r0,
									  t, NULL, Yp + r0, N, M, 16, K, 0,
									  scr, NULL),
						     0);
				for (int64_t m = 0; m < M; m++)
					bad += memcmp(Y + m * N + 8, Yp + m * N + 8, sizeof(float) * 32) != 0;
			}
		}
	CHECK_EQ_INT(bad, 0);
	free(X), free(Wf), free(Y), free(Yp), free(scr), free(scr2), free(W);
}

/* mrt__linear_exact: each row of an M-row call equals that row alone, bit
 * for bit, for every weight type (Q5_0 stands for the types dequantized in
 * chunks), across the row counts where mrt__linear changes kernels, with and
 * without a pool; for the plain types also with K past one GEMM block and
 * not a multiple of 8, a column tail, accumulate and no bias. */
static int exact_case(int wt, int64_t K, int64_t N, int accumulate, int use_bias,
		      mrt__pool *pool)
{
	enum { MAXM = 300 };
	static const int64_t Ms[] = {2, 3, 5, 8, 9, 16, 17, 64, 65, 130, MAXM};
	mrt_type_info ti = mrt_type_get(wt);
	uint64_t rb;
	mrt_type_nbytes(wt, (uint64_t)K, &rb);
	float *X = malloc(sizeof(float) * MAXM * (size_t)K), *Wf = malloc(sizeof(float) * N * K);
	float *bias = malloc(sizeof(float) * (size_t)N), *Y0 = malloc(sizeof(float) * MAXM * N);
	float *Y1 = malloc(sizeof(float) * MAXM * N), *Y = malloc(sizeof(float) * MAXM * N);
	uint8_t *W = malloc(rb * (size_t)N);
	size_t ss = (mrt__linear_exact_scratch(wt, MAXM, K) + 63) & ~(size_t)63;
	void *scr = ss ? aligned_alloc(64, ss) : NULL;
	const float *b = use_bias ? bias : NULL;
	int bad = 0;
	for (int64_t i = 0; i < MAXM * K; i++)
		X[i] = frand();
	for (int64_t i = 0; i < N * K; i++)
		Wf[i] = frand();
	for (int64_t i = 0; i < N; i++)
		bias[i] = frand();
	for (int64_t i = 0; i < MAXM * N; i++)
		Y0[i] = frand();
	if (ti.can_quantize) {
		mrt_quantize(wt, Wf, W, (uint64_t)(N * K));
	} else { /* random blocks with a scale of 1/16 */
		for (uint64_t i = 0; i < rb * (uint64_t)N; i++)
			W[i] = (uint8_t)(frand() * 97.0f + 97.0f);
		for (uint64_t i = 0; i < rb * (uint64_t)N; i += ti.block_bytes)
			W[i] = 0x00, W[i + 1] = 0x2c;
	}
	memcpy(Y1, Y0, sizeof(float) * MAXM * N);
	for (int64_t m = 0; m < MAXM; m++)
		bad += mrt__linear_exact(X + m * K, (size_t)K, W, wt, b, Y1 + m * N, (size_t)N, 1, N,
					 K, accumulate, scr, pool) != 0;
	for (size_t i = 0; i < sizeof(Ms) / sizeof(Ms[0]); i++) {
		memcpy(Y, Y0, sizeof(float) * MAXM * N);
		bad += mrt__linear_exact(X, (size_t)K, W, wt, b, Y, (size_t)N, Ms[i], N, K,
					 accumulate, scr, pool) != 0;
		if (memcmp(Y, Y1, sizeof(float) * (size_t)(Ms[i] * N)) != 0) {
			fprintf(stderr, "  exact %s K=%lld M=%lld differs from its rows alone\n",
				ti.name, (long long)K, (long long)Ms[i]);
			bad++;
		}
	}
	free(X), free(Wf), free(bias), free(Y0), free(Y1), free(Y), free(W), free(scr);
	return bad;
}

static void test_exact(const char *level)
{
	static const int types[] = {MRT_TYPE_F32,  MRT_TYPE_F16,  MRT_TYPE_BF16, MRT_TYPE_Q8_0,
				    MRT_TYPE_Q4_0, MRT_TYPE_Q4_K, MRT_TYPE_Q5_K, MRT_TYPE_Q6_K,
				    MRT_TYPE_Q5_0};
	int bad = 0, cases = 0;
	setenv("MRT_CPU", level, 1);
	for (int threads = 1; threads <= 2; threads++) {
		mrt__pool *pool = threads > 1 ? mrt__pool_new(threads) : NULL;
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++, cases++)
			bad += exact_case(types[t], 512, 37, 0, 1, pool);
		for (size_t t = 0; t < 3; t++, cases++)
			bad += exact_case(types[t], 1030, 13, 1, 0, pool);
		/* an odd number of 32-blocks (the AVX-512 tiles take two at a time) */
		for (size_t t = 3; t < 5; t++, cases += 2)
			bad += exact_case(types[t], 480, 23, 1, 0, pool) +
			       exact_case(types[t], 32, 9, 0, 1, pool);
		/* the k-quants' 8- and 16-row tiles with a tail of 9 rows of W
		 * (and an odd count for the one-row pairs), accumulating */
		for (size_t t = 5; t < 8; t++, cases++)
			bad += exact_case(types[t], 768, 41, 1, 0, pool);
		mrt__pool_free(pool);
	}
	fprintf(stderr, "exact, level %s: %d cases\n", mrt__cpu_level_name(), cases);
	CHECK_EQ_INT(bad, 0);
	unsetenv("MRT_CPU");
}

/* Y for one shape at each level in levels (NULL: the best one), into
 * Y[level]; odd shapes add bias and accumulate into Y. */
static int levels_case(int wtype, const int64_t shape[3], int odd, const char *const *levels,
                       int n_levels, mrt__pool *pool)
{
	int64_t M = shape[0], N = shape[1], K = shape[2];
	uint64_t rb;
	mrt_type_nbytes(wtype, (uint64_t)K, &rb);
	float *X = malloc(sizeof(float) * (size_t)(M * K));
	float *Wf = malloc(sizeof(float) * (size_t)(N * K));
	float *bias = malloc(sizeof(float) * (size_t)N);
	float *Y0 = malloc(sizeof(float) * (size_t)(M * N)),
	      *Y = malloc(sizeof(float) * (size_t)(M * N));
	uint8_t *W = malloc(rb * (size_t)N);
	size_t ss = (mrt__linear_exact_scratch(wtype, M, K) + 63) & ~(size_t)63;
	void *scr = aligned_alloc(64, ss);
	int bad = 0;
	for (int64_t i = 0; i < M * K; i++)
		X[i] = frand();
	for (int64_t i = 0; i < N * K; i++)
		Wf[i] = frand();
	for (int64_t i = 0; i < N; i++)
		bias[i] = frand();
	mrt_quantize(wtype, Wf, W, (uint64_t)(N * K));
	for (int lv = 0; lv < n_levels; lv++) {
		float *y = lv ? Y : Y0;
		for (int64_t i = 0; i < M * N; i++)
			y[i] = (float)i; /* accumulated into on odd shapes */
		if (levels[lv])
			setenv("MRT_CPU", levels[lv], 1);
		else
			unsetenv("MRT_CPU");
		bad += mrt__linear_exact(X, (size_t)K, W, wtype, odd ? bias : NULL, y, (size_t)N, M,
		                         N, K, odd, scr, pool) != 0;
		if (lv && memcmp(Y0, Y, sizeof(float) * (size_t)(M * N)) != 0) {
			fprintf(stderr, "  %s M=%lld N=%lld K=%lld: level %s differs from %s\n",
			        mrt_type_get(wtype).name, (long long)M, (long long)N, (long long)K,
			        levels[lv] ? levels[lv] : "native", levels[0]);
			bad++;
		}
	}
	unsetenv("MRT_CPU");
	free(X), free(Wf), free(bias), free(Y0), free(Y), free(W), free(scr);
	return bad;
}

/* Q8_0/Q4_0: the AVX-512 VNNI tile (qlv) and the AVX2 lane tiles compute
 * every row the same way (exact integer block dots, then one float FMA a
 * block), so their bytes are equal, for one row of X (its two-stream split
 * and tail) and for more, with and without bias and accumulation. */
static void test_vnni_matches_avx2(void)
{
	static const int types[] = {MRT_TYPE_Q8_0, MRT_TYPE_Q4_0};
	static const int64_t shapes[][3] = {
	    {1, 100, 768}, {1, 37, 480}, {5, 53, 64}, {9, 40, 2048}};
	static const char *const levels[] = {"avx2", NULL};
	int bad = 0, cases = 0;
	mrt__pool *pool = mrt__pool_new(2);
	for (size_t t = 0; t < 2; t++)
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++, cases++)
			bad += levels_case(types[t], shapes[s], (int)(s & 1), levels, 2, pool);
	mrt__pool_free(pool);
	fprintf(stderr, "avx512vnni Q8_0/Q4_0 against avx2: %d cases\n", cases);
	CHECK_EQ_INT(bad, 0);
}

/* Packed Q8_0/Q4_0/Q4_K/Q5_K/Q6_K (mrt__pack): the VNNI tiles on the packed bytes give
 * the bytes of the unpacked matrix for every M (one row of X, tiles of 8
 * and a tail), on 1 and 2 threads, exact and not, with bias and
 * accumulation, for a matrix of an odd number of blocks a row, and for a
 * slice of groups (W + 16 g rows); a row dequantizes to the unpacked row;
 * packing in place gives the same bytes, and so does the plain C packer
 * (mrt__pack takes the AVX-512 transposes); under MRT_CPU=avx2 the packed
 * matrix is dequantized and matches the reference; rows not a multiple of
 * 16 are refused. */
static int packed_case(int wtype, int64_t M, int64_t N, int64_t K, mrt__pool *pool)
{
	uint64_t rb;
	mrt_type_nbytes(wtype, (uint64_t)K, &rb);
	size_t wb = rb * (size_t)N;
	float *X = malloc(sizeof(float) * (size_t)(M * K)),
	      *Wf = malloc(sizeof(float) * (size_t)(N * K));
	float *bias = malloc(sizeof(float) * (size_t)N),
	      *Y0 = malloc(sizeof(float) * (size_t)(M * N)),
	      *Y1 = malloc(sizeof(float) * (size_t)(M * N)),
	      *r0 = malloc(sizeof(float) * (size_t)K), *r1 = malloc(sizeof(float) * (size_t)K);
	uint8_t *W = malloc(wb), *P = malloc(wb), *Q = malloc(wb);
	size_t ss = (mrt__linear_scratch(wtype, M, K) + 63) & ~(size_t)63;
	void *scr = aligned_alloc(64, ss);
	int bad = 0, pw = wtype | MRT__PACKED;
	for (int64_t i = 0; i < M * K; i++)
		X[i] = frand();
	for (int64_t i = 0; i < N * K; i++)
		Wf[i] = frand();
	for (int64_t i = 0; i < N; i++)
		bias[i] = frand();
	mrt_quantize(wtype, Wf, W, (uint64_t)(N * K));
	memcpy(Q, W, wb);
	bad += mrt__pack(wtype, W, P, N, K) != 0;
	bad += mrt__pack(wtype, Q, Q, N, K) != 0;
	bad += memcmp(P, Q, wb) != 0;
	bad += memcmp(P, W, wb) == 0; /* it did reorder */
	int64_t nb = K / (int64_t)mrt_type_get(wtype).block_elems;
	for (int64_t g = 0; g < N / MRT__PACK_ROWS; g++) /* the plain C packer, in Q */
		mrt__pack_group_ref(wtype, W + 16 * rb * (size_t)g, (size_t)rb, nb,
		                    Q + 16 * rb * (size_t)g);
	if (memcmp(P, Q, wb) != 0) {
		fprintf(stderr, "  packed %s N=%lld K=%lld: not the plain C packer's bytes\n",
		        mrt_type_get(wtype).name, (long long)N, (long long)K);
		bad++;
	}
	for (int variant = 0; variant < 4; variant++) {
		int odd = variant & 1, exact = variant < 2;
		for (int64_t i = 0; i < M * N; i++)
			Y0[i] = Y1[i] = (float)i;
		int (*fn)(const float *, size_t, const void *, int, const float *, float *, size_t,
		          int64_t, int64_t, int64_t, int, void *, mrt__pool *) =
		    exact ? mrt__linear_exact : mrt__linear;
		bad += fn(X, (size_t)K, W, wtype, odd ? bias : NULL, Y0, (size_t)N, M, N, K, odd,
		          scr, pool) != 0;
		bad += fn(X, (size_t)K, P, pw, odd ? bias : NULL, Y1, (size_t)N, M, N, K, odd, scr,
		          pool) != 0;
		if (memcmp(Y0, Y1, sizeof(float) * (size_t)(M * N)) != 0) {
			fprintf(stderr, "  packed %s M=%lld N=%lld K=%lld variant %d differs\n",
			        mrt_type_get(wtype).name, (long long)M, (long long)N, (long long)K,
			        variant);
			bad++;
		}
	}
	/* the last group alone, through a row offset */
	if (N >= 32) {
		int64_t g0 = N - 16;
		bad += mrt__linear_exact(X, (size_t)K, P + rb * (size_t)g0, pw, NULL, Y1, 16, M, 16,
		                         K, 0, scr, pool) != 0;
		bad += mrt__linear_exact(X, (size_t)K, W + rb * (size_t)g0, wtype, NULL, Y0, 16, M,
		                         16, K, 0, scr, pool) != 0;
		bad += memcmp(Y0, Y1, sizeof(float) * (size_t)(M * 16)) != 0;
	}
	for (int64_t r = 0; r < N; r += 7) {
		bad += mrt__dequantize_row(pw, P, r, K, r1) != 0;
		mrt__dequantize_row(wtype, W, r, K, r0);
		bad += memcmp(r0, r1, sizeof(float) * (size_t)K) != 0;
	}
	/* a lower level than the packing one: dequantized rows */
	setenv("MRT_CPU", "avx2", 1);
	bad +=
	    mrt__linear_exact(X, (size_t)K, P, pw, bias, Y1, (size_t)N, M, N, K, 0, scr, pool) != 0;
	unsetenv("MRT_CPU");
	mrt__linear_ref(X, (size_t)K, W, wtype, bias, Y0, (size_t)N, M, N, K, 0);
	for (int64_t i = 0; i < M * N; i++)
		if (fabsf(Y0[i] - Y1[i]) > 1e-4f * (1.0f + fabsf(Y0[i]))) {
			fprintf(stderr, "  packed %s under avx2: [%lld] %g against %g\n",
			        mrt_type_get(wtype).name, (long long)i, Y1[i], Y0[i]);
			bad++;
			break;
		}
	free(X), free(Wf), free(bias), free(Y0), free(Y1), free(r0), free(r1), free(W), free(P),
	    free(Q), free(scr);
	return bad;
}

static void test_packed(void)
{
	static const int types[] = {MRT_TYPE_Q8_0, MRT_TYPE_Q4_0, MRT_TYPE_Q4_K, MRT_TYPE_Q5_K,
	                            MRT_TYPE_Q6_K};
	static const int64_t shapes[][3] = {{1, 16, 32},   {1, 256, 768}, {3, 48, 96},
	                                    {8, 64, 2048}, {13, 96, 160}, {17, 32, 768}};
	static const int64_t kshapes[][3] = {{1, 16, 256},  {1, 256, 768}, {2, 48, 512},
	                                     {8, 64, 2048}, {13, 96, 256}, {17, 32, 768}};
	int bad = 0, cases = 0;
	for (int threads = 1; threads <= 2; threads++) {
		mrt__pool *pool = mrt__pool_new(threads);
		for (size_t t = 0; t < 5; t++)
			for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++, cases++) {
				const int64_t *sh = t < 2 ? shapes[s] : kshapes[s];
				bad += packed_case(types[t], sh[0], sh[1], sh[2], pool);
			}
		mrt__pool_free(pool);
	}
	fprintf(stderr, "packed Q8_0/Q4_0/Q4_K/Q5_K/Q6_K: %d cases\n", cases);
	CHECK_EQ_INT(bad, 0);
	CHECK(!mrt__pack_ok(MRT_TYPE_Q8_0, 40, 64));
	CHECK(!mrt__pack_ok(MRT_TYPE_Q3_K, 32, 256));
	CHECK(!mrt__pack_ok(MRT_TYPE_Q4_K, 32, 384));
	uint8_t w[34 * 8] = {0};
	float x[32] = {0}, y[24];
	CHECK_EQ_INT(mrt__linear_exact(x, 32, w, MRT_TYPE_Q8_0 | MRT__PACKED, NULL, y, 24, 1, 24,
	                               32, 0, NULL, NULL),
	             MRT_ERR_INVALID);
	CHECK_EQ_INT(mrt__pack(MRT_TYPE_Q8_0, w, w, 8, 32), MRT_ERR_INVALID);
}

/* F32/F16/BF16 with 2-15 rows of X: the AVX-512 tile (two elements a
 * 512-bit vector) gives each element the AVX2 tile's FMAs in the same
 * order, so the same bytes: tiles of 8 rows and tails, 1-3 W rows past
 * the 4-row groups, K with a tail past the 8-float steps. */
static void test_f_zmm_matches_avx2(void)
{
	static const int types[] = {MRT_TYPE_F32, MRT_TYPE_F16, MRT_TYPE_BF16};
	static const int64_t shapes[][3] = {
	    {2, 64, 768}, {5, 53, 64}, {8, 40, 2048}, {9, 37, 483}, {15, 100, 768}};
	static const char *const levels[] = {"avx2", "avx512"};
	int bad = 0, cases = 0;
	mrt__pool *pool = mrt__pool_new(2);
	for (size_t t = 0; t < 3; t++)
		for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++, cases++)
			bad += levels_case(types[t], shapes[s], (int)(s & 1), levels, 2, pool);
	mrt__pool_free(pool);
	fprintf(stderr, "avx512 F32/F16/BF16 tiles against avx2: %d cases\n", cases);
	CHECK_EQ_INT(bad, 0);
}

/* Q4_K/Q5_K/Q6_K: every SIMD level computes a row as exact integer
 * super-block dots and one float FMA each (klanes' and kpair6's contract),
 * so AVX2, AVX-512 and VNNI (with its Q6_K lane tile) give the same bytes:
 * one row of X (the two-stream pairs, an odd tail), 2 to 16 rows, tails
 * of rows of W past the 8- and 16-row tiles, bias and accumulation. */
static void test_kquant_levels(void)
{
	static const int types[] = {MRT_TYPE_Q4_K, MRT_TYPE_Q5_K, MRT_TYPE_Q6_K};
	static const int64_t shapes[][3] = {{1, 100, 768}, {1, 37, 512},  {2, 53, 256},
	                                    {3, 40, 768},  {5, 33, 1024}, {8, 70, 768},
	                                    {9, 23, 512},  {16, 41, 256}};
	static const char *const levels[] = {"avx2", "avx512", NULL};
	int bad = 0, cases = 0;
	for (int threads = 1; threads <= 2; threads++) {
		mrt__pool *pool = threads > 1 ? mrt__pool_new(threads) : NULL;
		for (size_t t = 0; t < 3; t++)
			for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++, cases++)
				bad +=
				    levels_case(types[t], shapes[s], (int)(s & 1), levels, 3, pool);
		mrt__pool_free(pool);
	}
	fprintf(stderr, "k-quants, avx512 and avx512vnni against avx2: %d cases\n", cases);
	CHECK_EQ_INT(bad, 0);
}

/* Scratch for the largest M serves every smaller M (callers rely on it). */
static void test_scratch_monotonic(void)
{
	int bad = 0;
	for (size_t t = 0; t < sizeof(wtypes) / sizeof(wtypes[0]); t++)
		for (int64_t M = 1; M <= 300; M++)
			bad += mrt__linear_scratch(wtypes[t], M, 4096) <
			       mrt__linear_scratch(wtypes[t], M - 1, 4096);
	CHECK_EQ_INT(bad, 0);
	CHECK(mrt__linear_scratch(MRT_TYPE_Q4_K, 1, 4096) > 0);
}

int main(void)
{
	openblas_set_num_threads(1);
	test_pool();
	test_guided();
	test_errors();
	test_scratch_monotonic();
	test_vs_sgemm();
	for (int threads = 1; threads <= 2; threads++) {
		mrt__pool *pool = mrt__pool_new(threads);
		test_prepared(pool);
		mrt__pool_free(pool);
	}
	test_linear_level("generic");
	test_exact("generic");
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	    __builtin_cpu_supports("f16c"))
		test_linear_level("avx2"), test_quant_k_avx2(), test_q8x_avx2(), test_exact("avx2");
	else
		fprintf(stderr, "SKIP avx2 kernels: this CPU lacks AVX2/FMA/F16C\n");
	if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		test_linear_level("avx512"), test_exact("avx512"), /* and, unset, avx512vnni */
		    test_f_zmm_matches_avx2();
	else
		fprintf(stderr, "SKIP avx512 kernels: this CPU lacks AVX-512\n");
	if (__builtin_cpu_supports("avx512vnni"))
		test_linear_level("native"), test_exact("native"), test_vnni_matches_avx2(),
		    test_kquant_levels(), test_packed();
	else
		fprintf(stderr, "SKIP avx512vnni kernels: this CPU lacks AVX-512 VNNI\n");
	TEST_END();
}
