/* Matrix kernels: the reference linear, the plain-C kernel set, run-time
 * choice of the fastest kernel set for this CPU (capped by MRT_CPU), and the
 * driver that splits a linear over the worker pool and picks between the
 * small-M kernels and OpenBLAS sgemm (never sgemm for mrt__linear_exact). */
#include <cblas.h>
#include <math.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kernels_impl.h"
#include "mrt.h"
#include "mrt_gguf.h"

/* At and above this many rows, F32 weights go to sgemm and F16/BF16/k-quant
 * weights are expanded panel by panel into scratch for sgemm. */
#ifndef SGEMM_MIN_M
#define SGEMM_MIN_M 16
#endif
/* F32 weights with SGEMM_MIN_M <= M <= F32_GEMM_MAX_M use the AVX2 kernel
 * set's packed-panel GEMM instead of sgemm, on the AVX-512 levels too
 * (their F32 kernels are the AVX2 ones): on the scoring-MLP shapes with 2
 * threads it measured 1.5x sgemm at M = 16 and 1.1-1.25x at M = 256 on an
 * AVX2 host, and 1.14-1.25x at M = 64 and 1.02-1.14x at M = 256 against
 * OpenBLAS's AVX-512 (Cooperlake) sgemm on a Zen 5 host (bench_linear). */
#ifndef F32_GEMM_MAX_M
#define F32_GEMM_MAX_M 256
#endif
#define PANEL_ROWS 128  /* rows of W expanded per sgemm panel */
#define CHUNK_ELEMS 1024 /* elements of a W row dequantized at a time */
/* Q4_K/Q5_K/Q6_K weights use the int8 kernels against Q8_K activations at
 * every M: they beat dequantized panels and sgemm on a 256-token prompt of
 * the 110M llama (555 against 500 tokens/s, AVX2), and one path for every M
 * keeps a row's result independent of the rows batched with it. */

enum cpu_level { LVL_GENERIC, LVL_AVX2, LVL_AVX512, LVL_AVX512VNNI };
static const char *const level_names[] = {"generic", "avx2", "avx512", "avx512vnni"};

static pthread_once_t hw_once = PTHREAD_ONCE_INIT;
static int hw_level; /* written once under hw_once, then read-only */

/* F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does
 * not know "f16c", so it is read directly for every compiler. */
static int hw_has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}

static void hw_detect(void)
{
	__builtin_cpu_init();
	int lvl = LVL_GENERIC;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && hw_has_f16c())
		lvl = LVL_AVX2;
	if (lvl == LVL_AVX2 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512dq"))
		lvl = LVL_AVX512;
	if (lvl == LVL_AVX512 && __builtin_cpu_supports("avx512vnni"))
		lvl = LVL_AVX512VNNI;
	hw_level = lvl;
}

/* The level in use: the CPU's best, lowered by MRT_CPU=generic|avx2|avx512
 * (read on each call so tests can switch; a higher request is ignored). */
static int cpu_level(void)
{
	pthread_once(&hw_once, hw_detect);
	int lvl = hw_level;
	const char *env = getenv("MRT_CPU");
	if (env && *env) {
		int want = lvl;
		if (!strcmp(env, "generic"))
			want = LVL_GENERIC;
		else if (!strcmp(env, "avx2"))
			want = LVL_AVX2;
		else if (!strcmp(env, "avx512"))
			want = LVL_AVX512;
		if (want < lvl)
			lvl = want;
	}
	return lvl;
}

const char *mrt__cpu_level_name(void)
{
	return level_names[cpu_level()];
}

static const mrt__kern *level_kern(int lvl)
{
	switch (lvl) {
	case LVL_AVX512VNNI: return &mrt__kern_avx512vnni;
	case LVL_AVX512: return &mrt__kern_avx512;
	case LVL_AVX2: return &mrt__kern_avx2;
	default: return &mrt__kern_generic;
	}
}

static int pack_type(int wtype)
{
	return wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0 || wtype == MRT_TYPE_Q4_K ||
	       wtype == MRT_TYPE_Q5_K || wtype == MRT_TYPE_Q6_K;
}

/* Where the piece of block b (of nb a row) of row j of a group that starts
 * at byte o of the block goes in the packed group (kernels_impl.h), and its
 * length (*len: 2 or 4 bytes). */
static size_t pack_piece(int wtype, int64_t nb, int64_t b, size_t o, size_t j, size_t *len)
{
	size_t at, sat;
	if (wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0) {
		at = mrt__pack_at(wtype, nb, b, &sat);
		*len = o == 0 ? 2 : 4;
		return o == 0 ? sat + 2 * j : at + 16 * (o - 2) + 4 * j;
	}
	size_t rec = (size_t)b * MRT__PACK_ROWS * mrt_type_get(wtype).block_bytes;
	*len = wtype == MRT_TYPE_Q6_K && o == 208 ? 2 : 4;
	return *len == 2 ? rec + 64 * 52 + 2 * j : rec + 16 * o + 4 * j;
}

/* Block b of row r of a packed matrix (wtype without the flag, rows of
 * wrow bytes, nb blocks), rebuilt as the file stores it into blk. */
static void packed_block(int wtype, const uint8_t *W, size_t wrow, int64_t nb, int64_t r, int64_t b,
                         uint8_t *blk)
{
	const uint8_t *grp = W + wrow * (size_t)(r / MRT__PACK_ROWS * MRT__PACK_ROWS);
	size_t j = (size_t)(r % MRT__PACK_ROWS), len = 0, bsz = mrt_type_get(wtype).block_bytes;
	for (size_t o = 0; o < bsz; o += len) {
		size_t at = pack_piece(wtype, nb, b, o, j, &len);
		memcpy(blk + o, grp + at, len);
		if (wtype == MRT_TYPE_Q8_0 && o > 0)
			for (size_t i = 0; i < len; i++)
				blk[o + i] ^= 0x80;
	}
}

/* Elements [k, k + len) of row r (k and len multiples of the block) of a
 * packed matrix as floats. */
static void packed_span(int wtype, const void *W, size_t wrow, int64_t K, int64_t r, int64_t k,
                        int64_t len, float *dst)
{
	uint8_t blk[256];
	int64_t be = (int64_t)mrt_type_get(wtype).block_elems;
	for (int64_t b = k / be; b < (k + len) / be; b++) {
		packed_block(wtype, W, wrow, K / be, r, b, blk);
		mrt_dequantize(wtype, blk, dst + (b * be - k), (size_t)be);
	}
}

int mrt__pack_ok(int wtype, int64_t N, int64_t K)
{
	uint64_t rb;
	return cpu_level() == LVL_AVX512VNNI && pack_type(wtype) && N > 0 &&
	       N % MRT__PACK_ROWS == 0 && K > 0 &&
	       K % (int64_t)mrt_type_get(wtype).block_elems == 0 && N <= INT32_MAX &&
	       K <= INT32_MAX && mrt_type_nbytes(wtype, (uint64_t)K, &rb) == 0 &&
	       rb <= SIZE_MAX / MRT__PACK_ROWS;
}

void mrt__pack_group_ref(int wtype, const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *out)
{
	size_t bsz = mrt_type_get(wtype).block_bytes, len = 0;
	for (int64_t b = 0; b < nb; b++)
		for (size_t j = 0; j < MRT__PACK_ROWS; j++) {
			const uint8_t *blk = rows + wrow * j + bsz * (size_t)b;
			/* the first piece and its length, then the dwords in their
			 * stride (pack_piece) */
			uint8_t *to = out + pack_piece(wtype, nb, b, 0, j, &len);
			memcpy(to, blk, len);
			size_t o = len, end = bsz - (bsz - len) % 4;
			to = out + pack_piece(wtype, nb, b, o, j, &len);
			for (; o < end; o += 4, to += 64) {
				uint32_t v;
				memcpy(&v, blk + o, 4);
				memcpy(to, &v, 4);
			}
			if (o < bsz) /* Q6_K's d */
				memcpy(out + pack_piece(wtype, nb, b, o, j, &len), blk + o,
				       bsz - o);
		}
	if (wtype == MRT_TYPE_Q8_0) /* the quants unsigned, w + 128 */
		for (int64_t b = 0; b < nb; b += 2) {
			size_t sat, at = mrt__pack_at(wtype, nb, b, &sat);
			size_t n = (b + 1 < nb ? 2 : 1) * mrt__pack_payload(wtype);
			for (size_t i = 0; i < n; i++)
				out[at + i] ^= 0x80;
		}
}

/* Group by group; a group packed in place goes through tmp. */
int mrt__pack(int wtype, const void *src, void *dst, int64_t N, int64_t K)
{
	uint64_t rb;
	if (!mrt__pack_ok(wtype, N, K) || mrt_type_nbytes(wtype, (uint64_t)K, &rb))
		return MRT_ERR_INVALID;
	size_t wrow = (size_t)rb, gsz = MRT__PACK_ROWS * wrow,
	       all = gsz * (size_t)(N / MRT__PACK_ROWS);
	int64_t nb = K / (int64_t)mrt_type_get(wtype).block_elems;
	const uint8_t *s = src;
	uint8_t *d = dst, *tmp = NULL;
	int overlap = s < d + all && d < s + all;
	if (overlap && (tmp = malloc(gsz)) == NULL)
		return MRT_ERR_NOMEM;
	void (*group)(int, const uint8_t *, size_t, int64_t, uint8_t *) =
	    wrow < ((size_t)1 << 27) ? mrt__pack_group_avx512 : mrt__pack_group_ref;
	for (int64_t g = 0; g < N / MRT__PACK_ROWS; g++) {
		size_t at = gsz * (size_t)g;
		group(wtype, s + at, wrow, nb, overlap ? tmp : d + at);
		if (overlap)
			memcpy(d + at, tmp, gsz);
	}
	free(tmp);
	return 0;
}

int mrt__dequantize_row(int t, const void *W, int64_t r, int64_t K, float *dst)
{
	uint64_t rb;
	int packed = (t & MRT__PACKED) != 0;
	t &= ~MRT__PACKED;
	if (r < 0 || K < 0 || mrt_type_nbytes(t, (uint64_t)K, &rb) || (rb && (uint64_t)r > SIZE_MAX / rb))
		return MRT_ERR_INVALID;
	if (packed) {
		if (!pack_type(t) || K % (int64_t)mrt_type_get(t).block_elems)
			return MRT_ERR_INVALID;
		packed_span(t, W, (size_t)rb, K, r, 0, K, dst);
		return 0;
	}
	if (mrt_dequantize(t, (const char *)W + (size_t)(rb * (uint64_t)r), dst, (size_t)K))
		return MRT_ERR_UNSUPPORTED;
	return 0;
}

int mrt__linear_ref(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		    float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate)
{
	mrt_type_info ti = mrt_type_get(wtype);
	uint64_t rb;
	if (M < 0 || N < 0 || K < 0 || mrt_type_nbytes(wtype, (uint64_t)K, &rb))
		return MRT_ERR_INVALID;
	if (!ti.can_dequantize)
		return MRT_ERR_UNSUPPORTED;
	float *w = malloc(((size_t)K ? (size_t)K : 1) * sizeof(float));
	if (!w)
		return MRT_ERR_NOMEM;
	for (int64_t n = 0; n < N; n++) {
		mrt_dequantize(wtype, (const char *)W + (size_t)rb * (size_t)n, w, (size_t)K);
		for (int64_t m = 0; m < M; m++) {
			const float *x = X + (size_t)m * ldx;
			double s = bias ? bias[n] : 0.0;
			for (int64_t k = 0; k < K; k++)
				s += (double)x[k] * w[k];
			float *y = Y + (size_t)m * ldy + n;
			*y = accumulate ? (float)(*y + s) : (float)s;
		}
	}
	free(w);
	return 0;
}

/* ---- the plain-C kernel set ---- */

/* Dequantizes W one chunk at a time and accumulates the dot with up to 16
 * rows of X at once; any dequantizable type. */
static void gen_lin_f(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	float buf[CHUNK_ELEMS];
	size_t be = mrt_type_get(a->wtype).block_elems, bb = mrt_type_get(a->wtype).block_bytes;
	int64_t chunk = (int64_t)(CHUNK_ELEMS / be * be);
	for (int64_t n = n0; n < n1; n++) {
		const char *wrow = (const char *)a->W + a->wrow * (size_t)n;
		for (int64_t mb = m0; mb < m1; mb += 16) {
			int64_t mr = m1 - mb < 16 ? m1 - mb : 16;
			float acc[16] = {0};
			for (int64_t k = 0; k < a->K; k += chunk) {
				int64_t len = a->K - k < chunk ? a->K - k : chunk;
				mrt_dequantize(a->wtype, wrow + (size_t)k / be * bb, buf, (size_t)len);
				for (int64_t r = 0; r < mr; r++) {
					const float *x = a->X + (size_t)(mb + r) * a->ldx + k;
					float s = 0.0f;
					for (int64_t i = 0; i < len; i++)
						s += x[i] * buf[i];
					acc[r] += s;
				}
			}
			for (int64_t r = 0; r < mr; r++)
				mrt__lin_store(a, mb + r, n, acc[r]);
		}
	}
}

/* Weight block b of a Q8_0 / Q4_0 row as 32 signed values and its scale. */
static float gen_wblock(int wtype, const uint8_t *row, int64_t b, int8_t *q)
{
	if (wtype == MRT_TYPE_Q8_0) {
		const uint8_t *blk = row + (size_t)b * 34;
		memcpy(q, blk + 2, 32);
		return mrt_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
	}
	const uint8_t *blk = row + (size_t)b * 18;
	for (int j = 0; j < 16; j++) {
		q[j] = (int8_t)((blk[2 + j] & 0xf) - 8);
		q[j + 16] = (int8_t)((blk[2 + j] >> 4) - 8);
	}
	return mrt_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
}

static void gen_lin_q(const mrt__lin *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	int64_t nb = a->K / MRT__QK;
	size_t dofs = mrt__q8x_dofs(a->K);
	int8_t wq[MRT__QK];
	for (int64_t n = n0; n < n1; n++) {
		const uint8_t *wrow = (const uint8_t *)a->W + a->wrow * (size_t)n;
		for (int64_t m = m0; m < m1; m++) {
			const uint8_t *xr = a->xq + a->xq_row * (size_t)m;
			const float *xd = (const float *)(xr + dofs);
			float acc = 0.0f;
			for (int64_t b = 0; b < nb; b++) {
				float dw = gen_wblock(a->wtype, wrow, b, wq);
				const int8_t *xqs = (const int8_t *)xr + b * MRT__QK;
				int32_t s = 0;
				for (int j = 0; j < MRT__QK; j++)
					s += wq[j] * xqs[j];
				acc += (float)s * (dw * xd[b]);
			}
			mrt__lin_store(a, m, n, acc);
		}
	}
}

static void gen_quant_x(const mrt__lin *a, int64_t m0, int64_t m1)
{
	int64_t nb = a->K / MRT__QK;
	size_t dofs = mrt__q8x_dofs(a->K), sofs = mrt__q8x_sofs(a->K);
	for (int64_t m = m0; m < m1; m++) {
		const float *x = a->X + (size_t)m * a->ldx;
		int8_t *q = (int8_t *)(a->xq + a->xq_row * (size_t)m);
		float *d = (float *)((uint8_t *)q + dofs);
		int32_t *sum = (int32_t *)((uint8_t *)q + sofs);
		for (int64_t b = 0; b < nb; b++, x += MRT__QK, q += MRT__QK) {
			float amax = 0.0f;
			for (int j = 0; j < MRT__QK; j++)
				amax = fmaxf(amax, fabsf(x[j]));
			d[b] = amax / 127.0f;
			float id = amax > 0.0f ? 1.0f / d[b] : 0.0f;
			int32_t s = 0;
			for (int j = 0; j < MRT__QK; j++) {
				float v = nearbyintf(x[j] * id);
				q[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
				s += q[j];
			}
			sum[b] = 8 * s;
		}
	}
}

static void gen_quant_k(const mrt__lin *a, int64_t m0, int64_t m1)
{
	for (int64_t m = m0; m < m1; m++)
		mrt_quantize(MRT_TYPE_Q8_K, a->X + (size_t)m * a->ldx, a->xq + a->xq_row * (size_t)m,
			     (size_t)a->K);
}

const mrt__kern mrt__kern_generic = {gen_lin_f,   gen_lin_q,   mrt__lin_k_generic,
				     gen_quant_x, gen_quant_k, NULL};


/* ---- the driver ---- */

static int is_kquant(int wtype)
{
	return wtype == MRT_TYPE_Q4_K || wtype == MRT_TYPE_Q5_K || wtype == MRT_TYPE_Q6_K;
}

int mrt__linear_xtype(int wtype, int64_t M)
{
	wtype &= ~MRT__PACKED;
	if (wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0)
		return MRT_TYPE_Q8_0;
	(void)M;
	if (is_kquant(wtype))
		return MRT_TYPE_Q8_K;
	return MRT_TYPE_F32;
}

size_t mrt__linear_scratch(int wtype, int64_t M, int64_t K)
{
	wtype &= ~MRT__PACKED;
	if (M <= 0 || K <= 0)
		return 0;
	if (wtype == MRT_TYPE_F32)
		return 0;
	if (mrt__linear_xtype(wtype, M) != MRT_TYPE_F32) {
		size_t row = wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0 ? mrt__q8x_row(K)
									      : mrt__q8k_row(K);
		return (uint64_t)M > SIZE_MAX / row ? SIZE_MAX : row * (size_t)M;
	}
	if (M < SGEMM_MIN_M)
		return 0;
	return (uint64_t)K > SIZE_MAX / (PANEL_ROWS * sizeof(float)) ? SIZE_MAX
								    : (size_t)K * PANEL_ROWS * sizeof(float);
}

size_t mrt__linear_exact_scratch(int wtype, int64_t M, int64_t K)
{
	return mrt__linear_xtype(wtype, M) == MRT_TYPE_F32 ? 0 : mrt__linear_scratch(wtype, M, K);
}

#define COL_ALIGN 8 /* W rows per task: a multiple of this */
#define COL_MIN 64  /* and at least this many in guided chunks */

enum job_kind { JOB_LIN_F, JOB_LIN_Q, JOB_LIN_K, JOB_QUANT_X, JOB_QUANT_K, JOB_PANEL, JOB_LIN_DEQ };

/* One pool run: task t covers row chunk t / n_col_chunks and column chunk
 * t % n_col_chunks (JOB_QUANT_X, JOB_QUANT_K and JOB_PANEL split rows only). */
typedef struct lin_job {
	const mrt__lin *a;
	const mrt__kern *kern;
	int kind;
	int64_t rows, rows_per, cols, cols_per, n_col_chunks;
	int guided; /* > 0: one row chunk, columns in guided chunks for this many threads */
	int64_t align; /* columns per task: a multiple of this (COL_ALIGN, or 16 packed) */
	float *panel;
	int64_t p0; /* first W row of the panel */
} lin_job;

static int64_t ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/* Block types without their own kernel, rows [m0, m1) (at most DEQ_ROWS):
 * dequantize a chunk of each W row on the stack and let the level's F32
 * kernel dot it with the rows of X. A row's result does not depend on m0,
 * m1 or the other rows. */
#define DEQ_ROWS 64
static void deq_lin(const lin_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
	const mrt__lin *a = j->a;
	float buf[CHUNK_ELEMS], part[DEQ_ROWS];
	mrt_type_info ti = mrt_type_get(a->wtype);
	int64_t chunk = (int64_t)(CHUNK_ELEMS / ti.block_elems * ti.block_elems);
	for (int64_t n = n0; n < n1; n++) {
		const char *wrow = (const char *)a->W + a->wrow * (size_t)n;
		for (int64_t k = 0; k < a->K; k += chunk) {
			int64_t len = a->K - k < chunk ? a->K - k : chunk;
			if (a->packed)
				packed_span(a->wtype, a->W, a->wrow, a->K, n, k, len, buf);
			else
				mrt_dequantize(a->wtype,
				               wrow + (size_t)k / ti.block_elems * ti.block_bytes,
				               buf, (size_t)len);
			mrt__lin s = {.X = a->X + (size_t)m0 * a->ldx + k, .ldx = a->ldx, .W = buf,
				      .wtype = MRT_TYPE_F32, .wrow = (size_t)len * sizeof(float),
				      .Y = part, .ldy = 1, .M = m1 - m0, .N = 1, .K = len,
				      .accumulate = k > 0, .exact = 1};
			j->kern->lin_f(&s, 0, m1 - m0, 0, 1);
		}
		for (int64_t m = m0; m < m1; m++)
			mrt__lin_store(a, m, n, part[m - m0]);
	}
}

/* Rows [r0,r1) of the current panel: W rows p0 + r as F32. */
static void expand_panel(const lin_job *j, int64_t r0, int64_t r1)
{
	const mrt__lin *a = j->a;
	int half = a->wtype == MRT_TYPE_F16 || a->wtype == MRT_TYPE_BF16;
	for (int64_t r = r0; r < r1; r++) {
		float *dst = j->panel + (size_t)r * (size_t)a->K;
		if (half && j->kern->expand)
			j->kern->expand(a->wtype,
					(const uint16_t *)((const char *)a->W +
							   a->wrow * (size_t)(j->p0 + r)),
					dst, a->K);
		else
			mrt__dequantize_row(a->wtype | (a->packed ? MRT__PACKED : 0), a->W,
			                    j->p0 + r, a->K, dst);
	}
}

static void lin_task(void *arg, int task, int n_tasks)
{
	const lin_job *j = arg;
	int64_t m0 = (task / j->n_col_chunks) * j->rows_per, n0 = (task % j->n_col_chunks) * j->cols_per;
	int64_t m1 = m0 + j->rows_per < j->rows ? m0 + j->rows_per : j->rows;
	int64_t n1 = n0 + j->cols_per < j->cols ? n0 + j->cols_per : j->cols;
	if (j->guided) {
		m0 = 0;
		m1 = j->rows;
		mrt__guided_chunk(j->cols, j->align, COL_MIN, j->guided, task, &n0, &n1);
	}
	switch (j->kind) {
	case JOB_LIN_F: j->kern->lin_f(j->a, m0, m1, n0, n1); break;
	case JOB_LIN_Q: j->kern->lin_q(j->a, m0, m1, n0, n1); break;
	case JOB_QUANT_X: j->kern->quant_x(j->a, m0, m1); break;
	case JOB_LIN_K: j->kern->lin_k(j->a, m0, m1, n0, n1); break;
	case JOB_QUANT_K: j->kern->quant_k(j->a, m0, m1); break;
	case JOB_LIN_DEQ: deq_lin(j, m0, m1, n0, n1); break;
	default: expand_panel(j, m0, m1); break;
	}
}

/* Run kind over rows x cols on the pool: rows in chunks of at most
 * DEQ_ROWS (when split_rows), columns in multiples of COL_ALIGN so every
 * thread streams its own rows of W. With one chunk of rows (decoding),
 * the columns go in guided chunks (kernels.h); else about 4 tasks a
 * thread. */
static void run_split(lin_job *j, mrt__pool *pool, int64_t rows, int64_t cols, int split_rows)
{
	int nt = mrt__pool_size(pool);
	j->rows = rows;
	j->cols = cols;
	j->rows_per = rows;
	j->cols_per = cols;
	j->n_col_chunks = 1;
	j->guided = 0;
	j->align = j->a->packed ? MRT__PACK_ROWS : COL_ALIGN;
	if (split_rows && rows > DEQ_ROWS)
		j->rows_per = DEQ_ROWS;
	int64_t n_row_chunks = ceil_div(rows, j->rows_per);
	if (nt > 1 && cols > 1 && n_row_chunks == 1) {
		j->guided = nt;
		mrt__pool_run(pool, mrt__guided_count(cols, j->align, COL_MIN, nt), lin_task, j);
		return;
	}
	if (nt > 1 && cols > 1) {
		int64_t want = ceil_div(4 * (int64_t)nt, n_row_chunks);
		int64_t per = ceil_div(ceil_div(cols, want), j->align) * j->align;
		j->cols_per = per < cols ? per : cols;
		j->n_col_chunks = ceil_div(cols, j->cols_per);
	}
	mrt__pool_run(pool, (int)(n_row_chunks * j->n_col_chunks), lin_task, j);
}

/* Split rows only (quantize X, expand a panel): about 2 tasks per thread. */
static void run_rows(lin_job *j, mrt__pool *pool, int64_t rows)
{
	int64_t nt = mrt__pool_size(pool);
	j->rows = rows;
	j->rows_per = nt > 1 ? ceil_div(rows, 2 * nt) : rows;
	j->cols = j->cols_per = j->n_col_chunks = 1;
	mrt__pool_run(pool, (int)ceil_div(rows, j->rows_per), lin_task, j);
}

/* Y = X W^T through sgemm. Bias and accumulate are folded into beta. */
static void sgemm_prepare(const mrt__lin *a, float *beta)
{
	*beta = a->accumulate ? 1.0f : 0.0f;
	if (!a->bias)
		return;
	for (int64_t m = 0; m < a->M; m++) {
		float *y = a->Y + (size_t)m * a->ldy;
		for (int64_t n = 0; n < a->N; n++)
			y[n] = a->accumulate ? y[n] + a->bias[n] : a->bias[n];
	}
	*beta = 1.0f;
}

/* Y[:, n0 .. n0 + n) (+)= X w^T for n rows of F32 weights w. With OpenBLAS
 * single-threaded (modeld sets it so; its threads would compete with the
 * pool), the rows are split over the pool, one sgemm call each. */
typedef struct sgemm_job {
	const mrt__lin *a;
	const float *w;
	int64_t n0, n;
	float beta;
} sgemm_job;

static void sgemm_task(void *arg, int task, int n_tasks)
{
	const sgemm_job *j = arg;
	const mrt__lin *a = j->a;
	int64_t per = (ceil_div(j->n, n_tasks) + 15) & ~(int64_t)15;
	int64_t c0 = task * per, c1 = c0 + per < j->n ? c0 + per : j->n;
	if (c0 >= c1)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->M, (int)(c1 - c0), (int)a->K,
		    1.0f, a->X, (int)a->ldx, j->w + (size_t)c0 * (size_t)a->K, (int)a->K, j->beta,
		    a->Y + j->n0 + c0, (int)a->ldy);
}

static void sgemm_rows(const mrt__lin *a, const float *w, int64_t n0, int64_t n, float beta,
		       mrt__pool *pool)
{
	sgemm_job j = {a, w, n0, n, beta};
	int nt = mrt__pool_size(pool);
	if (nt > 1 && n >= 32 && openblas_get_num_threads() == 1)
		mrt__pool_run(pool, nt, sgemm_task, &j);
	else
		sgemm_task(&j, 0, 1);
}

static void sgemm_panels(const mrt__lin *a, const mrt__kern *kern, float *panel, mrt__pool *pool)
{
	float beta;
	sgemm_prepare(a, &beta);
	if (a->wtype == MRT_TYPE_F32) {
		sgemm_rows(a, a->W, 0, a->N, beta, pool);
		return;
	}
	lin_job j = {.a = a, .kern = kern, .kind = JOB_PANEL, .panel = panel};
	for (int64_t p0 = 0; p0 < a->N; p0 += PANEL_ROWS) {
		int64_t np = a->N - p0 < PANEL_ROWS ? a->N - p0 : PANEL_ROWS;
		j.p0 = p0;
		run_rows(&j, pool, np);
		sgemm_rows(a, panel, p0, np, beta, pool);
	}
}

/* X rows quantized on the calling thread below this many: a pool run costs
 * more than quantizing 8 rows (a decoding step of 8 streams runs about 90
 * linear maps; 8 -> 16 measured 3-5% more tokens/s there). */
#define QX_POOL_M 16

/* Point a (rows of X, K) at the quantized rows in scratch for the int8
 * kernels (q8x: per 32 with an f32 scale, else Q8_K), and quantize them
 * unless prepared (mrt__linear_prepare did). */
static void quantize_x(mrt__lin *a, const mrt__kern *kern, int q8x, void *scratch,
		       mrt__pool *pool, int prepared)
{
	a->xq = scratch;
	a->xq_row = q8x ? mrt__q8x_row(a->K) : mrt__q8k_row(a->K);
	lin_job j = {.a = a, .kern = kern, .kind = q8x ? JOB_QUANT_X : JOB_QUANT_K};
	if (!prepared)
		run_rows(&j, a->M >= QX_POOL_M ? pool : NULL, a->M);
}

/* mrt__linear; prepared: X is already quantized in scratch (int8 paths);
 * exact: see mrt__linear_exact (the small-M kernels' arithmetic at every
 * M, no sgemm). */
static int linear_impl(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		       float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
		       void *scratch, mrt__pool *pool, int prepared, int exact)
{
	uint64_t rb;
	int packed = (wtype & MRT__PACKED) != 0;
	wtype &= ~MRT__PACKED;
	if (M < 0 || N < 0 || K < 0 || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
		return MRT_ERR_INVALID;
	if (packed && (!pack_type(wtype) || N % MRT__PACK_ROWS ||
	               K % (int64_t)mrt_type_get(wtype).block_elems))
		return MRT_ERR_INVALID;
	if (!mrt_type_get(wtype).can_dequantize)
		return MRT_ERR_UNSUPPORTED;
	if (mrt_type_nbytes(wtype, (uint64_t)K, &rb))
		return MRT_ERR_INVALID;
	if (M == 0 || N == 0)
		return 0;
	if (!scratch && (exact ? mrt__linear_exact_scratch(wtype, M, K)
			       : mrt__linear_scratch(wtype, M, K)))
		return MRT_ERR_INVALID;
	mrt__lin a = {.X = X,
	              .ldx = ldx,
	              .W = W,
	              .wtype = wtype,
	              .wrow = (size_t)rb,
	              .bias = bias,
	              .Y = Y,
	              .ldy = ldy,
	              .M = M,
	              .N = N,
	              .K = K,
	              .accumulate = accumulate,
	              .exact = exact,
	              .packed = packed};
	int lvl = cpu_level();
	const mrt__kern *kern = level_kern(lvl);
	if (packed && lvl != LVL_AVX512VNNI) { /* MRT_CPU lowered after packing */
		lin_job j = {.a = &a, .kern = kern, .kind = JOB_LIN_DEQ};
		run_split(&j, pool, M, N, 1);
		return 0;
	}
	/* the AVX2 Q8_0/Q4_0 kernels and the Q4_K/Q5_K tiles of every SIMD
	 * level (klanes) address 8 weight rows by int32 offsets; rows too long
	 * for that take the generic kernel, whose arithmetic is also the same
	 * for every M */
	if (rb > INT32_MAX / 8 &&
	    ((lvl == LVL_AVX2 && (wtype == MRT_TYPE_Q8_0 || wtype == MRT_TYPE_Q4_0)) ||
	     (lvl >= LVL_AVX2 && (wtype == MRT_TYPE_Q4_K || wtype == MRT_TYPE_Q5_K))))
		kern = &mrt__kern_generic;
	lin_job j = {.a = &a, .kern = kern};
	int xtype = mrt__linear_xtype(wtype, M);
	int plain = wtype == MRT_TYPE_F32 || wtype == MRT_TYPE_F16 || wtype == MRT_TYPE_BF16;
	if (xtype != MRT_TYPE_F32) { /* quantize X into scratch, then int8 */
		int q8x = xtype == MRT_TYPE_Q8_0;
		quantize_x(&a, kern, q8x, scratch, pool, prepared);
		j.kind = q8x ? JOB_LIN_Q : JOB_LIN_K;
		run_split(&j, pool, M, N, 1);
		return 0;
	}
	if (exact) {
		j.kind = plain ? JOB_LIN_F : JOB_LIN_DEQ;
		run_split(&j, pool, M, N, 1);
		return 0;
	}
	if (wtype == MRT_TYPE_F32 && lvl >= LVL_AVX2 && M >= SGEMM_MIN_M && M <= F32_GEMM_MAX_M) {
		j.kind = JOB_LIN_F;
		run_split(&j, pool, M, N, 1);
		return 0;
	}
	if (M >= SGEMM_MIN_M) {
		sgemm_panels(&a, kern, scratch, pool);
		return 0;
	}
	j.kind = plain ? JOB_LIN_F : JOB_LIN_DEQ;
	run_split(&j, pool, M, N, 0);
	return 0;
}

int mrt__linear(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
		void *scratch, mrt__pool *pool)
{
	return linear_impl(X, ldx, W, wtype, bias, Y, ldy, M, N, K, accumulate, scratch, pool, 0,
			   0);
}

int mrt__linear_exact(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
		      float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
		      void *scratch, mrt__pool *pool)
{
	return linear_impl(X, ldx, W, wtype, bias, Y, ldy, M, N, K, accumulate, scratch, pool, 0,
			   1);
}

int mrt__linear_prepare(const float *X, size_t ldx, int wtype, int64_t M, int64_t K,
			void *scratch, mrt__pool *pool)
{
	wtype &= ~MRT__PACKED;
	int xtype = mrt__linear_xtype(wtype, M);
	if (xtype == MRT_TYPE_F32 || M <= 0 || K <= 0 || M > INT32_MAX || K > INT32_MAX)
		return 0;
	if (!scratch || (K % (xtype == MRT_TYPE_Q8_0 ? 32 : MRT__QKK)) != 0)
		return MRT_ERR_INVALID;
	mrt__lin a = {.X = X, .ldx = ldx, .wtype = wtype, .M = M, .K = K};
	quantize_x(&a, level_kern(cpu_level()), xtype == MRT_TYPE_Q8_0, scratch, pool, 0);
	return 0;
}

int mrt__linear_prepared(const float *X, size_t ldx, const void *W, int wtype, const float *bias,
			 float *Y, size_t ldy, int64_t M, int64_t N, int64_t K, int accumulate,
			 void *scratch, mrt__pool *pool)
{
	return linear_impl(X, ldx, W, wtype, bias, Y, ldy, M, N, K, accumulate, scratch, pool, 1,
			   0);
}
