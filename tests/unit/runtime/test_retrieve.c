/* RetrieveTopK against a brute-force reference (every score computed in
 * double, a full sort, ties to the lower id): F32 and Q8_0 catalogs across
 * chunk boundaries, batches with a pool, exclusions with padding, ties,
 * k == N, everything excluded, and k larger than the catalog refused. */
#include "ops_fixture.h"

typedef struct ref_item {
	double v;
	int64_t id;
} ref_item;

static int ref_cmp(const void *a, const void *b)
{
	const ref_item *x = a, *y = b;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static uint64_t rng = 88172645463325252ull;

static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* The k best non-excluded ids of user b: scores from dequantized rows. */
static void reference(const float *q, const float *cat, int64_t N, int64_t D, const int64_t *ex,
                      int64_t L, int64_t k, ref_item *all, ref_item *best)
{
	int64_t n = 0;

	for (int64_t i = 0; i < N; i++) {
		int skip = 0;
		double s = 0;
		for (int64_t l = 0; l < L; l++)
			skip |= ex[l] == i;
		if (skip)
			continue;
		for (int64_t d = 0; d < D; d++)
			s += (double)q[d] * cat[i * D + d];
		all[n].v = s;
		all[n++].id = i;
	}
	qsort(all, (size_t)n, sizeof(*all), ref_cmp);
	for (int64_t j = 0; j < k; j++) {
		best[j].v = j < n ? all[j].v : -INFINITY;
		best[j].id = j < n ? all[j].id : -1;
	}
}

/* One case: B users, N items of D dims, catalog of type wtype, L excluded
 * ids per user (some padding), k results, n_threads in the pool. */
static void check_case(int64_t B, int64_t N, int64_t D, int wtype, int64_t L, int64_t k,
                       int n_threads)
{
	float *q = malloc(sizeof(float) * (size_t)(B * D));
	float *cat = malloc(sizeof(float) * (size_t)(N * D));
	float *deq = malloc(sizeof(float) * (size_t)(N * D));
	uint64_t wbytes = 0;
	void *w;
	int64_t *ex = calloc((size_t)(B * L + 1), sizeof(int64_t));
	ref_item *all = malloc(sizeof(ref_item) * (size_t)N),
	         *best = malloc(sizeof(ref_item) * (size_t)k);
	mrt__pool *pool = n_threads > 1 ? mrt__pool_new(n_threads) : NULL;
	/* Q8_0 also rounds the query to 8 bits per 32 (mrt__linear_xtype): with
	 * 64 dims of |x| <= 1 that moves a score by well under 0.06. */
	double tol = wtype == MRT_TYPE_F32 ? 1e-4 : 6e-2;
	int ids_equal = 1;
	tnode t;
	run_out r;

	for (int64_t i = 0; i < B * D; i++)
		q[i] = frand();
	for (int64_t i = 0; i < N * D; i++)
		cat[i] = frand();
	/* Ties: item 7 repeats item 3, so where both qualify 3 comes first. */
	if (N > 8)
		memcpy(cat + 7 * D, cat + 3 * D, sizeof(float) * (size_t)D);
	for (int64_t i = 0; i < B * L; i++)
		ex[i] = i % 3 == 2 ? -1 : (int64_t)((rng >>= 1) % (uint64_t)N);
	mrt_type_nbytes(wtype, (uint64_t)(N * D), &wbytes);
	w = malloc(wbytes);
	if (wtype == MRT_TYPE_F32)
		memcpy(w, cat, wbytes);
	else
		mrt_quantize(wtype, cat, w, (size_t)(N * D));
	mrt_dequantize(wtype, w, deq, (size_t)(N * D));

	mrt__tensor tq = {MRT_TYPE_F32, 2, {B, D}, q};
	mrt__tensor tc = {wtype, 2, {N, D}, w};
	mrt__tensor tx = {MRT_TYPE_I64, 2, {B, L}, ex};
	tnode_init(&t, "RetrieveTopK", 3, 2);
	attr_i(&t, "k", k);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &tc, L >= 0 ? &tx : NULL}, 2u, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_INT(r.t[0].dims[0], B);
	CHECK_EQ_INT(r.t[0].dims[1], k);
	for (int64_t b = 0; r.status == 0 && b < B; b++) {
		const float *vs = (const float *)r.t[0].data + b * k;
		const int64_t *is = (const int64_t *)r.t[1].data + b * k;
		reference(q + b * D, deq, N, D, ex + b * (L > 0 ? L : 0), L > 0 ? L : 0, k, all,
		          best);
		for (int64_t j = 0; j < k; j++) {
			CHECK_NEAR(vs[j], best[j].v, tol);
			if (j > 0)
				CHECK(vs[j] <= vs[j - 1]);
			ids_equal &= is[j] == best[j].id;
			/* a returned id is never excluded */
			for (int64_t l = 0; l < L; l++)
				CHECK(is[j] < 0 || is[j] != ex[b * L + l]);
		}
	}
	/* Exact id agreement at F32 (the reference uses the same floats); a
	 * quantized catalog is compared through its dequantized rows, where a
	 * near-tie may swap, so only scores are checked. */
	if (wtype == MRT_TYPE_F32)
		CHECK(ids_equal);
	run_free(&r);
	mrt__pool_free(pool);
	free(q);
	free(cat);
	free(deq);
	free(w);
	free(ex);
	free(all);
	free(best);
}

static void test_ties_and_all_excluded(void)
{
	/* Four identical items: ids 0..3 all score 1; k = 3 gives 0, 1, 2. */
	float q[2] = {1, 0}, cat[8] = {1, 0, 1, 0, 1, 0, 1, 0};
	int64_t ex[4] = {0, 1, 2, 3};
	mrt__tensor tq = {MRT_TYPE_F32, 2, {1, 2}, q};
	mrt__tensor tc = {MRT_TYPE_F32, 2, {4, 2}, cat};
	mrt__tensor tx = {MRT_TYPE_I64, 2, {1, 4}, ex};
	tnode t;
	run_out r;

	tnode_init(&t, "RetrieveTopK", 2, 2);
	attr_i(&t, "k", 3);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &tc}, 2u, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_INT(((int64_t *)r.t[1].data)[0], 0);
	CHECK_EQ_INT(((int64_t *)r.t[1].data)[1], 1);
	CHECK_EQ_INT(((int64_t *)r.t[1].data)[2], 2);
	run_free(&r);

	/* Every item excluded: the row is -inf scores and id -1. */
	tnode_init(&t, "RetrieveTopK", 3, 2);
	attr_i(&t, "k", 2);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &tc, &tx}, 2u, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK(isinf(((float *)r.t[0].data)[0]) && ((float *)r.t[0].data)[0] < 0);
	CHECK_EQ_INT(((int64_t *)r.t[1].data)[1], -1);
	run_free(&r);

	/* k larger than the catalog is refused at inference (load time). */
	tnode_init(&t, "RetrieveTopK", 2, 2);
	attr_i(&t, "k", 5);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &tc}, 2u, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(r.err, "k (5) exceeds the catalog (4 items)");
	run_free(&r);

	/* Query and catalog widths must agree. */
	mrt__tensor bad = {MRT_TYPE_F32, 2, {2, 4}, cat};
	tnode_init(&t, "RetrieveTopK", 2, 2);
	attr_i(&t, "k", 1);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &bad}, 2u, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	run_free(&r);
}

/* 20,000 identical items scored in several pool tasks: the heaps merged
 * across tasks still keep the lowest ids, for every user of the batch. */
static void test_ties_across_tasks(void)
{
	int64_t N = 20000, B = 11, k = 7;
	float *q = calloc((size_t)(B * 2), sizeof(float)), *cat = malloc(sizeof(float) * 2 * N);
	mrt__pool *pool = mrt__pool_new(2);
	tnode t;
	run_out r;

	for (int64_t i = 0; i < N; i++) {
		cat[2 * i] = 0.5f;
		cat[2 * i + 1] = 0.25f;
	}
	for (int64_t b = 0; b < B; b++)
		q[2 * b] = (float)(b + 1);
	mrt__tensor tq = {MRT_TYPE_F32, 2, {B, 2}, q};
	mrt__tensor tc = {MRT_TYPE_F32, 2, {N, 2}, cat};
	tnode_init(&t, "RetrieveTopK", 2, 2);
	attr_i(&t, "k", k);
	r = run_op(&t, (const mrt__tensor *[]){&tq, &tc}, 2u, pool);
	CHECK_EQ_INT(r.status, 0);
	for (int64_t b = 0; b < B && r.status == 0; b++)
		for (int64_t j = 0; j < k; j++) {
			CHECK_EQ_INT(((int64_t *)r.t[1].data)[b * k + j], j);
			CHECK(((float *)r.t[0].data)[b * k + j] == 0.5f * (float)(b + 1));
		}
	run_free(&r);
	mrt__pool_free(pool);
	free(q);
	free(cat);
}

int main(void)
{
	(void)fx_load;
	(void)fx;
	check_case(1, 50, 8, MRT_TYPE_F32, -1, 50, 1);     /* k == N, no exclude */
	check_case(3, 10000, 32, MRT_TYPE_F32, 6, 10, 1);  /* crosses chunks */
	check_case(17, 9000, 64, MRT_TYPE_F32, 5, 20, 2);  /* pool */
	check_case(5, 9000, 64, MRT_TYPE_Q8_0, 4, 10, 2);  /* quantized catalog */
	check_case(4, 5000, 64, MRT_TYPE_F16, 0, 10, 1);   /* L = 0 */
	check_case(37, 30000, 64, MRT_TYPE_F32, 3, 25, 2); /* groups and tasks */
	check_case(9, 12345, 32, MRT_TYPE_Q8_0, 2, 5, 3);  /* uneven task ranges */
	test_ties_across_tasks();
	test_ties_and_all_excluded();
	TEST_END();
}
