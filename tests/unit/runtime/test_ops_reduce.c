/* Softmax/LogSoftmax, reductions, TopK and Gather against references in
 * tests/fixtures/ops/reduce.bin (PyTorch / numpy), Q8_0 embedding rows,
 * int64 shape gathers and out-of-range ids. */
#include "ops_fixture.h"

#define TOL 1e-4

static fx_set *S;

static void softmax_case(const char *op, int64_t axis, int coerce, const char *want)
{
	tnode t;
	run_out r;

	tnode_init(&t, op, 1, 1);
	attr_i(&t, "axis", axis);
	if (coerce)
		attr_i(&t, "coerce_2d", 1);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "sm_x")}, 0, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, want), TOL);
	run_free(&r);
}

static void test_softmax(void)
{
	softmax_case("Softmax", 1, 0, "sm_a1");
	softmax_case("Softmax", -1, 0, "sm_a3");
	softmax_case("Softmax", 0, 0, "sm_a0");
	softmax_case("LogSoftmax", 2, 0, "lsm_a2");
	softmax_case("Softmax", 1, 1, "sm_c1");
	softmax_case("LogSoftmax", 2, 1, "lsm_c2");
}

/* axes as the attribute (as_input 0) or as a constant I64 input. */
static void reduce_case(const char *op, int n_axes, const int64_t *axes, int keepdims, int as_input,
                        const char *want)
{
	mrt__tensor ax = {MRT_TYPE_I64, 1, {n_axes}, (void *)axes};
	tnode t;
	run_out r;

	tnode_init(&t, op, as_input ? 2 : 1, 1);
	attr_i(&t, "keepdims", keepdims);
	if (!as_input && n_axes)
		attr_ints(&t, "axes", n_axes, axes);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "sm_x"), &ax}, 2, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, want), TOL);
	run_free(&r);
}

static void test_reduce(void)
{
	mrt__tensor *x = fx(S, "sm_x");
	mrt__tensor empty = {MRT_TYPE_I64, 1, {0}, NULL};
	tnode t;
	run_out r;

	reduce_case("ReduceSum", 2, (int64_t[]){1, 3}, 1, 1, "rs_13");
	reduce_case("ReduceMean", 2, (int64_t[]){0, -2}, 0, 0, "rm_02");
	reduce_case("ReduceSum", 0, NULL, 1, 0, "rs_all");
	reduce_case("ReduceMean", 1, (int64_t[]){-1}, 1, 1, "rm_m1");
	reduce_case("ReduceMax", 1, (int64_t[]){2}, 0, 0, "rmax_2");
	reduce_case("ReduceMin", 1, (int64_t[]){1}, 1, 0, "rmin_1");

	/* noop_with_empty_axes: identity */
	tnode_init(&t, "ReduceSum", 2, 1);
	attr_i(&t, "noop_with_empty_axes", 1);
	r = run_op(&t, (const mrt__tensor *[]){x, &empty}, 2, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], x, 0);
	run_free(&r);

	/* a bad axis names the node */
	tnode_init(&t, "ReduceSum", 1, 1);
	attr_ints(&t, "axes", 1, (int64_t[]){4});
	r = run_op(&t, (const mrt__tensor *[]){x}, 0, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(r.err, "test_node");
	run_free(&r);
}

static void topk_case(const char *x, int64_t k, int64_t axis, int largest, const char *wv,
                      const char *wi)
{
	mrt__tensor kt = {MRT_TYPE_I64, 1, {1}, &k};
	mrt__tensor *want_i = fx(S, wi);
	int64_t n = mrt__numel(want_i->dims, want_i->ndim), bad = 0;
	tnode t;
	run_out r;

	tnode_init(&t, "TopK", 2, 2);
	attr_i(&t, "axis", axis);
	attr_i(&t, "largest", largest);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, x), &kt}, 2, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, wv), 0);
	CHECK_EQ_INT(r.t[1].type, MRT_TYPE_I64);
	for (int64_t i = 0; r.status == 0 && i < n; i++)
		bad += ((int64_t *)r.t[1].data)[i] != ((int64_t *)want_i->data)[i];
	CHECK_EQ_INT(bad, 0);
	run_free(&r);
}

static void test_topk(void)
{
	mrt__tensor *x = fx(S, "tk_x");
	int64_t k = 11;
	mrt__tensor kt = {MRT_TYPE_I64, 1, {1}, &k};
	const mrt__value_info xi = {.type = MRT_TYPE_F32, .ndim = 2, .dims = {-1, 10}};
	const mrt__value_info ki = {.type = MRT_TYPE_I64, .ndim = 1, .dims = {1}};
	mrt__value_info out[2];
	char err[256];
	tnode t;
	run_out r;

	topk_case("tk_x", 4, 1, 1, "tk_v1", "tk_i1");
	topk_case("tk_x", 2, 0, 0, "tk_v0", "tk_i0");
	topk_case("tkl_x", 5, -1, 1, "tkl_v", "tkl_i");

	tnode_init(&t, "TopK", 2, 2); /* K past the axis */
	r = run_op(&t, (const mrt__tensor *[]){x, &kt}, 2, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(r.err, "K = 11");
	run_free(&r);

	/* K unknown at inference: symbolic output dim */
	CHECK_EQ_INT(mrt__op_find("TopK")->infer(&t.n, (const mrt__value_info *[]){&xi, &ki}, NULL,
	                                         out, err, sizeof(err)),
	             0);
	CHECK_EQ_INT(out[0].dims[0], -1);
	CHECK_EQ_INT(out[0].dims[1], -1);
	CHECK_EQ_INT(out[1].type, MRT_TYPE_I64);
}

static void test_gather(void)
{
	mrt__tensor *table = fx(S, "g_table"), *ids = fx(S, "g_ids");
	int64_t n = mrt__numel(table->dims, table->ndim);
	int64_t bad_id[2] = {2, 10}, shape[4] = {7, 3, 5, 2}, pick[2] = {-1, 1};
	int32_t ids32[6];
	mrt__tensor bad = {MRT_TYPE_I64, 1, {2}, bad_id}, t32 = *ids, tq = *table, td = *table;
	mrt__tensor shp = {MRT_TYPE_I64, 1, {4}, shape}, pk = {MRT_TYPE_I64, 1, {2}, pick};
	uint64_t qb = 0;
	tnode t;
	run_out r, rd;

	tnode_init(&t, "Gather", 2, 1);
	r = run_op(&t, (const mrt__tensor *[]){table, ids}, 1, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "g_y"), 0);
	run_free(&r);

	for (int i = 0; i < 6; i++)
		ids32[i] = (int32_t)((int64_t *)ids->data)[i];
	t32.type = MRT_TYPE_I32;
	t32.data = ids32;
	r = run_op(&t, (const mrt__tensor *[]){table, &t32}, 1, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "g_y"), 0);
	run_free(&r);

	r = run_op(&t, (const mrt__tensor *[]){table, &bad}, 1, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_RANGE);
	CHECK_STR_CONTAINS(r.err, "test_node");
	CHECK_STR_CONTAINS(r.err, "index 10");
	CHECK_STR_CONTAINS(r.err, "10 rows");
	run_free(&r);

	/* Q8_0 table: gathered rows equal the dequantized table's rows, and the
	 * F32 rows within 1% of the table's scale. */
	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q8_0, (uint64_t)n, &qb), 0);
	tq.type = MRT_TYPE_Q8_0;
	tq.data = malloc(qb);
	td.data = malloc((size_t)n * 4);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, table->data, tq.data, (size_t)n), 0);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, tq.data, td.data, (size_t)n), 0);
	r = run_op(&t, (const mrt__tensor *[]){&tq, ids}, 1, NULL);
	rd = run_op(&t, (const mrt__tensor *[]){&td, ids}, 1, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_INT(r.t[0].type, MRT_TYPE_F32);
	CHECK_TENSOR(&r.t[0], &rd.t[0], 0);
	CHECK_TENSOR(&r.t[0], fx(S, "g_y"), 1e-2);
	run_free(&r);
	run_free(&rd);
	free(tq.data);
	free(td.data);

	/* axis 1 on F32, and int64 data as in shape subgraphs */
	tnode_init(&t, "Gather", 2, 1);
	attr_i(&t, "axis", 1);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "g3_x"), fx(S, "g3_ids")}, 1, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "g3_y"), 0);
	run_free(&r);

	tnode_init(&t, "Gather", 2, 1);
	r = run_op(&t, (const mrt__tensor *[]){&shp, &pk}, 3, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_INT(r.t[0].type, MRT_TYPE_I64);
	CHECK_EQ_INT(r.t[0].dims[0], 2);
	CHECK_EQ_INT(((int64_t *)r.t[0].data)[0], 2);
	CHECK_EQ_INT(((int64_t *)r.t[0].data)[1], 3);
	run_free(&r);
}

int main(void)
{
	S = fx_load("reduce.bin");
	test_softmax();
	test_reduce();
	test_topk();
	test_gather();
	TEST_END();
}
