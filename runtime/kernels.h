/* Internal kernel interface: the worker pool and the matrix kernels every
 * operator builds on. One reference implementation per kernel, with fast
 * versions chosen at run time by CPU feature (see kernels.c). */
#ifndef MRT_KERNELS_H
#define MRT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- worker pool ----
 * A fixed set of threads owned by one run context. mrt__pool_run() calls
 * fn(arg, task, n_tasks) for task = 0 .. n_tasks-1 spread over the pool's
 * threads and the calling thread, and returns when all are done. A NULL pool
 * runs every task on the caller. Between runs a waiting thread polls for up
 * to 200 us (runs of a decoder step come that close), then sleeps. */
typedef struct mrt__pool mrt__pool;
typedef void (*mrt__task_fn)(void *arg, int task, int n_tasks);
mrt__pool *mrt__pool_new(int n_threads); /* NULL on failure; n_threads >= 1 */
void mrt__pool_free(mrt__pool *pool);
int mrt__pool_size(const mrt__pool *pool); /* threads incl. the caller; 1 for NULL */
/* The calling thread's number in pool: 1 .. n_threads - 1 for one of its
 * workers, 0 for any other thread (the caller). Tasks use it to pick
 * per-thread scratch. */
int mrt__pool_thread(const mrt__pool *pool);
void mrt__pool_run(mrt__pool *pool, int n_tasks, mrt__task_fn fn, void *arg);

/* Guided self-scheduling of [0, total) over n_threads: chunk t covers
 * [lo, hi), each chunk 1 / n_threads of what the chunks before it left,
 * rounded up to a multiple of align and at least min_chunk (a multiple of
 * align). The large chunks are claimed first and the last ones are small,
 * so a thread slower than the other waits little at the end (on a 2-core
 * host, when both read memory, one core read 1.45x faster than the other),
 * and there are few chunk starts (a weight stream that starts anew waits
 * for memory before the prefetchers catch up: 1 / (2 n_threads) with
 * smaller chunks measured slower than 4 even tasks a thread). Bounds
 * depend only on the arguments. mrt__guided_count gives the number of
 * chunks (0 when total <= 0). */
int mrt__guided_count(int64_t total, int64_t align, int64_t min_chunk, int n_threads);
void mrt__guided_chunk(int64_t total, int64_t align, int64_t min_chunk, int n_threads, int t,
                       int64_t *lo, int64_t *hi);

/* ---- linear: Y = X * W^T (+ bias) ----
 * X: M rows of K floats, row stride ldx (floats).
 * W: N rows of K elements of type wtype (enum mrt_type: F32, F16, BF16, Q8_0,
 *    Q4_0, and the k-quants Q4_K, Q5_K, Q6_K), rows contiguous, row stride
 *    mrt_type_nbytes(wtype, K). Block types need K % block size == 0.
 * bias: N floats or NULL. Y: M rows of N floats, row stride ldy.
 * accumulate: 0 writes Y, 1 adds to Y.
 * scratch: at least mrt__linear_scratch(wtype, M, K) bytes (quantized
 * activations or dequantized weight panels), 64-byte aligned; may be NULL
 * when that size is 0. The size never decreases with M, so scratch sized for
 * the largest M serves every smaller one.
 * Returns 0, or MRT_ERR_UNSUPPORTED for a weight type without a kernel. */
size_t mrt__linear_scratch(int wtype, int64_t M, int64_t K);

/* What mrt__linear does to X before the dot products with M rows of wtype
 * weights: MRT_TYPE_F32 (uses X as is), MRT_TYPE_Q8_K (each row quantized
 * as ggml's Q8_K, per 256), or MRT_TYPE_Q8_0 (per 32 like Q8_0 but with an
 * f32 scale d = max|x| / 127 and q = nearbyint(x / d)). Tests and callers
 * derive their tolerances from it. */
int mrt__linear_xtype(int wtype, int64_t M);
int mrt__linear(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
		void *scratch, mrt__pool *pool);

/* mrt__linear with the same arithmetic for a row of X whatever M and
 * whatever the other rows, so a row's result is bit for bit what it is
 * alone: the int8 types as always; F32/F16/BF16 through the small-M
 * kernels' dot products at every M (a cache-blocked version of them from 16
 * rows on AVX2), never sgemm; other types dequantized in chunks. The
 * decoder uses it: a sequence's logits do not depend on the other sequences
 * of a step or on how its prompt was cut into chunks. scratch: at least
 * mrt__linear_exact_scratch(wtype, M, K) bytes (the quantized rows of X of
 * the int8 types; 0, and scratch may be NULL, for F32/F16/BF16 and the
 * types dequantized in chunks). */
size_t mrt__linear_exact_scratch(int wtype, int64_t M, int64_t K);
int mrt__linear_exact(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		      float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
		      void *scratch, mrt__pool *pool);

/* mrt__linear in two steps, so several products with the same X quantize
 * it once: mrt__linear_prepare quantizes X into scratch as mrt__linear
 * would for wtype and M rows (nothing when that is F32), and
 * mrt__linear_prepared then runs without quantizing, for any weight type
 * with the same mrt__linear_xtype at that M (the same X, scratch, M, K). */
int mrt__linear_prepare(const float *X, size_t ldx, int wtype, int64_t M, int64_t K,
			void *scratch, mrt__pool *pool);
int mrt__linear_prepared(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
			 float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
			 void *scratch, mrt__pool *pool);

/* ---- packed weights ----
 * Q8_0, Q4_0, Q4_K, Q5_K and Q6_K matrices, whose rows the AVX-512 VNNI tiles
 * read 16 at a time, can be reordered once (mrt__pack) into the layout of
 * kernels_impl.h:
 * the same bytes per 16 rows, no transposes left for the kernels. A packed
 * matrix goes to the functions above as wtype | MRT__PACKED, with N and
 * every row offset (W + r x row bytes) a multiple of 16; its results are
 * bit for bit those of the unpacked matrix. Under a lower MRT_CPU level
 * than the one it was packed for, it is dequantized row by row (F32
 * arithmetic, slow). mrt__pack_ok: the current level reads wtype packed
 * and N, K fit. mrt__pack: packs N rows of K from src into dst (the same
 * byte count; dst may be src); MRT_ERR_INVALID when not mrt__pack_ok,
 * MRT_ERR_NOMEM. */
#define MRT__PACKED 0x100
#define MRT__PACK_ROWS 16
int mrt__pack_ok(int wtype, int64_t N, int64_t K);
int mrt__pack(int wtype, const void *src, void *dst, int64_t N, int64_t K);

/* Reference version of mrt__linear (plain C, dequantizes W row by row):
 * what every fast path is tested against. */
int mrt__linear_ref(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		    float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate);

/* Dequantize row r (K elements) of a matrix of type t (MRT__PACKED too) into dst. */
int mrt__dequantize_row(int t, const void *W, int64_t r, int64_t K, float *dst);

/* Name of the kernel set in use: "avx512vnni", "avx512", "avx2", "generic". */
const char *mrt__cpu_level_name(void);

#endif
