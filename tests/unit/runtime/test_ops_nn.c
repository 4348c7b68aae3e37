/* Conv, ConvTranspose, pools and normalizations against PyTorch references
 * (tests/fixtures/ops/nn.bin), plus Q8_0 conv weights, symbolic shapes and
 * bad attributes. */
#include "ops_fixture.h"

#define TOL 1e-4

static fx_set *S;

static run_out conv(tnode *t, const char *x, const char *w, const char *b, mrt__pool *pool)
{
	const mrt__tensor *in[3] = {fx(S, x), fx(S, w), b ? fx(S, b) : NULL};
	return run_op(t, in, 6, pool);
}

static void test_conv(mrt__pool *pool)
{
	tnode t;
	run_out r;

	/* groups, stride, dilation, asymmetric pads */
	tnode_init(&t, "Conv", 3, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 1});
	attr_ints(&t, "dilations", 2, (int64_t[]){1, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){1, 0, 2, 1});
	r = conv(&t, "c1_x", "c1_w", "c1_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "c1_y"), TOL);
	run_free(&r);

	/* SAME_UPPER and SAME_LOWER */
	for (int lower = 0; lower < 2; lower++) {
		tnode_init(&t, "Conv", 2, 1);
		attr_s(&t, "auto_pad", lower ? "SAME_LOWER" : "SAME_UPPER");
		attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
		attr_ints(&t, "kernel_shape", 2, (int64_t[]){4, 4});
		r = conv(&t, "c2_x", "c2_w", NULL, pool);
		CHECK_EQ_INT(r.status, 0);
		CHECK_TENSOR(&r.t[0], fx(S, lower ? "c2_lower" : "c2_upper"), TOL);
		run_free(&r);
	}

	/* 1x1 (no im2col), depthwise, 1-D */
	tnode_init(&t, "Conv", 3, 1);
	r = conv(&t, "c3_x", "c3_w", "c3_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "c3_y"), TOL);
	run_free(&r);

	tnode_init(&t, "Conv", 3, 1);
	attr_i(&t, "group", 6);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	r = conv(&t, "c4_x", "c4_w", "c4_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "c4_y"), TOL);
	run_free(&r);

	tnode_init(&t, "Conv", 3, 1);
	attr_ints(&t, "strides", 1, (int64_t[]){2});
	attr_ints(&t, "pads", 2, (int64_t[]){1, 1});
	r = conv(&t, "c6_x", "c6_w", "c6_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "c6_y"), TOL);
	run_free(&r);
}

/* Run conv node t (adding activation "Relu" when relu) and compare with
 * want, or with max(want, 0) when relu. */
static void check_conv(tnode *t, const char *x, const char *w, const char *b, const char *want,
                       int relu, mrt__pool *pool)
{
	mrt__tensor ref = *fx(S, want);
	int64_t n = mrt__numel(ref.dims, ref.ndim);
	float *v = malloc((size_t)n * sizeof(float));
	run_out r;

	memcpy(v, ref.data, (size_t)n * sizeof(float));
	for (int64_t i = 0; relu && i < n; i++)
		v[i] = v[i] > 0 ? v[i] : 0.0f;
	ref.data = v;
	if (relu)
		attr_s(t, "activation", "Relu");
	r = conv(t, x, w, b, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], &ref, TOL);
	run_free(&r);
	free(v);
}

/* Batches whose position tiles cross images: groups with a row tail for
 * the AVX2 kernel, dilation, 72 rows with K = 16, stride 2 with asymmetric
 * pads, whole images written straight into Y, wide groups through sgemm;
 * run with each kernel level the CPU allows (generic: the reference kernel). */
static void test_conv_batched(int relu, mrt__pool *pool)
{
	tnode t;

	tnode_init(&t, "Conv", 3, 1);
	attr_i(&t, "group", 3);
	attr_ints(&t, "dilations", 2, (int64_t[]){2, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){2, 2, 2, 2});
	check_conv(&t, "cb1_x", "cb1_w", "cb1_b", "cb1_y", relu, pool);

	tnode_init(&t, "Conv", 3, 1);
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	check_conv(&t, "cb2_x", "cb2_w", "cb2_b", "cb2_y", relu, pool);

	tnode_init(&t, "Conv", 3, 1);
	check_conv(&t, "cb3_x", "cb3_w", "cb3_b", "cb3_y", relu, pool);

	tnode_init(&t, "Conv", 2, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){0, 1, 1, 0});
	check_conv(&t, "cb4_x", "cb4_w", NULL, "cb4_y", relu, pool);

	tnode_init(&t, "Conv", 3, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	check_conv(&t, "cb5_x", "cb5_w", "cb5_b", "cb5_y", relu, pool);

	tnode_init(&t, "Conv", 3, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	check_conv(&t, "cb6_x", "cb6_w", "cb6_b", "cb6_y", relu, pool);

	tnode_init(&t, "Conv", 3, 1); /* depthwise */
	attr_i(&t, "group", 6);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	check_conv(&t, "c4_x", "c4_w", "c4_b", "c4_y", relu, pool);
}

/* Q8_0 weights run natively: equal to the F32 conv of the dequantized
 * weights (to 1e-4), and within 2e-2 of the F32 reference (8-bit weights
 * and 8-bit activations in the kernel). */
static void test_conv_q8(mrt__pool *pool)
{
	mrt__tensor *w = fx(S, "c5_w"), wq = *w, wd = *w;
	int64_t n = mrt__numel(w->dims, w->ndim);
	uint64_t qb = 0;
	int64_t bad = 0;
	tnode t;
	run_out rq, rd, rr;

	CHECK_EQ_INT(mrt_type_nbytes(MRT_TYPE_Q8_0, (uint64_t)n, &qb), 0);
	wq.type = MRT_TYPE_Q8_0;
	wq.data = malloc(qb);
	wd.data = malloc((size_t)n * 4);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, w->data, wq.data, (size_t)n), 0);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, wq.data, wd.data, (size_t)n), 0);
	tnode_init(&t, "Conv", 3, 1);
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	rq = run_op(&t, (const mrt__tensor *[]){fx(S, "c5_x"), &wq, fx(S, "c5_b")}, 6, pool);
	rd = run_op(&t, (const mrt__tensor *[]){fx(S, "c5_x"), &wd, fx(S, "c5_b")}, 6, pool);
	CHECK_EQ_INT(rq.status, 0);
	CHECK_EQ_INT(rd.status, 0);
	CHECK_TENSOR(&rq.t[0], fx(S, "c5_y"), 2e-2);
	CHECK_TENSOR(&rq.t[0], &rd.t[0], 2e-2);
	CHECK_TENSOR(&rd.t[0], fx(S, "c5_y"), 1e-2);
	/* fused Relu on the native path: exactly max(rq, 0) */
	attr_s(&t, "activation", "Relu");
	rr = run_op(&t, (const mrt__tensor *[]){fx(S, "c5_x"), &wq, fx(S, "c5_b")}, 6, pool);
	CHECK_EQ_INT(rr.status, 0);
	for (int64_t i = 0; rr.status == 0 && i < mrt__numel(rq.t[0].dims, 4); i++) {
		float q = ((float *)rq.t[0].data)[i];
		bad += ((float *)rr.t[0].data)[i] != (q > 0 ? q : 0.0f);
	}
	CHECK_EQ_INT(bad, 0);
	run_free(&rr);
	run_free(&rq);
	run_free(&rd);
	free(wq.data);
	free(wd.data);
}

static void test_conv_transpose(mrt__pool *pool)
{
	tnode t;
	run_out r;

	tnode_init(&t, "ConvTranspose", 3, 1);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){1, 1, 1, 1});
	attr_ints(&t, "output_padding", 2, (int64_t[]){1, 1});
	r = conv(&t, "t1_x", "t1_w", "t1_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "t1_y"), TOL);
	run_free(&r);

	tnode_init(&t, "ConvTranspose", 2, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 3});
	attr_ints(&t, "dilations", 2, (int64_t[]){1, 2});
	attr_ints(&t, "pads", 4, (int64_t[]){0, 1, 1, 0});
	r = conv(&t, "t2_x", "t2_w", NULL, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "t2_y"), TOL);
	run_free(&r);

	/* output_shape gives the same result as the explicit pads */
	tnode_init(&t, "ConvTranspose", 3, 1);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	attr_ints(&t, "output_padding", 2, (int64_t[]){1, 1});
	attr_ints(&t, "output_shape", 2, (int64_t[]){10, 10});
	r = conv(&t, "t1_x", "t1_w", "t1_b", pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "t1_y"), TOL);
	run_free(&r);
}

static void pool_case(const char *op, const char *x, const char *want, int k, int s, int pad,
                      int dil, int ceil_mode, int cip, mrt__pool *pool)
{
	tnode t;
	run_out r;

	tnode_init(&t, op, 1, 1);
	attr_ints(&t, "kernel_shape", 2, (int64_t[]){k, k});
	attr_ints(&t, "strides", 2, (int64_t[]){s, s});
	attr_ints(&t, "pads", 4, (int64_t[]){pad, pad, pad, pad});
	if (dil > 1)
		attr_ints(&t, "dilations", 2, (int64_t[]){dil, dil});
	attr_i(&t, "ceil_mode", ceil_mode);
	if (cip >= 0)
		attr_i(&t, "count_include_pad", cip);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, x)}, 0, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, want), TOL);
	run_free(&r);
}

/* MaxPool where the input has NaNs: NaN exactly where the reference has
 * one, the other values equal (a max picks, it does not round). */
static void pool_nan_case(const char *want, int k, int s, int pad, mrt__pool *pool)
{
	mrt__tensor *w = fx(S, want);
	int64_t n = mrt__numel(w->dims, w->ndim), nans = 0, bad = 0;
	tnode t;
	run_out r;

	tnode_init(&t, "MaxPool", 1, 1);
	attr_ints(&t, "kernel_shape", 2, (int64_t[]){k, k});
	attr_ints(&t, "strides", 2, (int64_t[]){s, s});
	attr_ints(&t, "pads", 4, (int64_t[]){pad, pad, pad, pad});
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "mp_x")}, 0, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_EQ_INT(mrt__numel(r.t[0].dims, r.t[0].ndim), n);
	for (int64_t i = 0; r.status == 0 && i < n; i++) {
		float got = ((float *)r.t[0].data)[i], ref = ((float *)w->data)[i];
		nans += ref != ref;
		bad += ref != ref ? got == got : got != ref;
	}
	CHECK(nans > 0);
	CHECK_EQ_INT(bad, 0);
	run_free(&r);
}

static void test_pools(mrt__pool *pool)
{
	tnode t;
	run_out r;

	pool_case("MaxPool", "p_x", "p1_y", 3, 2, 1, 1, 1, -1, pool);
	pool_case("MaxPool", "p_x", "p2_y", 2, 1, 0, 2, 0, -1, pool);
	pool_case("AveragePool", "p_x", "p3_y", 3, 2, 1, 1, 1, 1, pool);
	pool_case("AveragePool", "p_x", "p4_y", 3, 2, 1, 1, 1, 0, pool);
	pool_case("AveragePool", "p5_x", "p5_y", 3, 3, 1, 1, 1, 1, pool);
	pool_case("MaxPool", "p5_x", "p5_max", 3, 3, 1, 1, 1, -1, pool);
	pool_nan_case("mp_y", 2, 2, 0, pool);
	pool_nan_case("mp3_y", 3, 1, 1, pool);

	tnode_init(&t, "GlobalAveragePool", 1, 1);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "p5_x")}, 0, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "gap_y"), TOL);
	run_free(&r);
}

static void test_norms(void)
{
	tnode t;
	run_out r;

	tnode_init(&t, "BatchNormalization", 5, 1);
	attr_f(&t, "epsilon", 1e-3f);
	r = run_op(&t,
	           (const mrt__tensor *[]){fx(S, "bn_x"), fx(S, "bn_scale"), fx(S, "bn_b"),
	                                   fx(S, "bn_mean"), fx(S, "bn_var")},
	           30, NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "bn_y"), TOL);
	run_free(&r);

	tnode_init(&t, "LayerNormalization", 3, 1);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "ln_x"), fx(S, "ln_s1"), fx(S, "ln_b1")}, 6,
	           NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "ln_y1"), TOL);
	run_free(&r);

	tnode_init(&t, "LayerNormalization", 3, 3);
	attr_i(&t, "axis", 1);
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "ln_x"), fx(S, "ln_s2"), fx(S, "ln_b2")}, 6,
	           NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "ln_y2"), TOL);
	CHECK_TENSOR(&r.t[1], fx(S, "ln_mean2"), TOL);
	CHECK_TENSOR(&r.t[2], fx(S, "ln_inv2"), TOL);
	run_free(&r);
}

/* Symbolic batch and spatial dims propagate; bad attributes are refused
 * with a message naming the node. */
static void test_infer_errors(void)
{
	const mrt__op_def *def = mrt__op_find("Conv");
	mrt__value_info x = {.type = MRT_TYPE_F32, .ndim = 4, .dims = {-1, 4, -1, 8}};
	mrt__value_info w = {.type = MRT_TYPE_F32, .ndim = 4, .dims = {6, 2, 3, 3}};
	const mrt__value_info *in[3] = {&x, &w, NULL};
	mrt__value_info out[1];
	char err[256] = "";
	tnode t;

	tnode_init(&t, "Conv", 2, 1);
	attr_i(&t, "group", 2);
	attr_ints(&t, "strides", 2, (int64_t[]){2, 2});
	CHECK_EQ_INT(def->infer(&t.n, in, NULL, out, err, sizeof(err)), 0);
	CHECK_EQ_INT(out[0].dims[0], -1);
	CHECK_EQ_INT(out[0].dims[1], 6);
	CHECK_EQ_INT(out[0].dims[2], -1);
	CHECK_EQ_INT(out[0].dims[3], 3);

	x.dims[1] = 5; /* 5 channels do not fit group 2 x 2 */
	CHECK_EQ_INT(def->infer(&t.n, in, NULL, out, err, sizeof(err)), MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(err, "test_node");

	x.dims[1] = 4;
	x.dims[3] = 2; /* kernel 3 does not fit width 2 */
	CHECK_EQ_INT(def->infer(&t.n, in, NULL, out, err, sizeof(err)), MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(err, "does not fit");

	tnode_init(&t, "Conv", 2, 1);
	attr_s(&t, "auto_pad", "SAME_SIDEWAYS");
	x.dims[3] = 8;
	CHECK_EQ_INT(def->infer(&t.n, in, NULL, out, err, sizeof(err)), MRT_ERR_UNSUPPORTED);

	tnode_init(&t, "Conv", 2, 1);
	attr_s(&t, "activation", "Sigmoid"); /* only Relu is fused */
	CHECK_EQ_INT(def->infer(&t.n, in, NULL, out, err, sizeof(err)), MRT_ERR_UNSUPPORTED);
	CHECK_STR_CONTAINS(err, "activation");
	tnode_init(&t, "ConvTranspose", 2, 1);
	attr_s(&t, "activation", "Relu");
	w.dims[0] = 4;
	CHECK_EQ_INT(mrt__op_find("ConvTranspose")->infer(&t.n, in, NULL, out, err, sizeof(err)),
	             MRT_ERR_UNSUPPORTED);
	w.dims[0] = 6;

	tnode_init(&t, "MaxPool", 1, 1); /* no kernel_shape */
	CHECK_EQ_INT(mrt__op_find("MaxPool")->infer(&t.n, in, NULL, out, err, sizeof(err)),
	             MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(err, "kernel_shape");
}

int main(void)
{
	mrt__pool *pool = mrt__pool_new(2);

	S = fx_load("nn.bin");
	for (int pass = 0; pass < 2; pass++) {
		mrt__pool *p = pass ? pool : NULL;
		for (int relu = 0; relu < 2; relu++) {
			test_conv_batched(relu, p);
			setenv("MRT_CPU", "generic", 1); /* the reference kernel */
			test_conv_batched(relu, p);
			unsetenv("MRT_CPU");
		}
		test_conv(p);
		setenv("MRT_CPU", "generic", 1);
		test_conv(p);
		unsetenv("MRT_CPU");
		test_conv_transpose(p);
		test_pools(p);
	}
	test_conv_q8(pool);
	test_norms();
	test_infer_errors();
	mrt__pool_free(pool);
	TEST_END();
}
