/* Tests of the ONNX -> graph GGUF converter on small exported graphs
 * (tests/fixtures/onnx_unit): each rewrite happened and kept the numbers
 * (against PyTorch's output, the unfused graph, or weights recomputed here
 * from the ONNX file), weight types follow the quantization rule, and bad
 * models are refused by name. */
#include "convert.h"
#include "graph.h"
#include "mrt.h"
#include "mrt_gguf.h"
#include "onnx.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char src_dir[900];
static char err[512];

static const char *fixture(const char *name)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s", src_dir, name);
	return path;
}

/* Convert fixture name to out with weight type quant; returns the status. */
static int convert(const char *name, const char *out, int quant, int fuse)
{
	convert_options o = convert_default_options();
	int rc;

	o.quant = quant;
	o.fuse = fuse;
	err[0] = '\0';
	rc = convert_onnx_file(fixture(name), out, &o, err, sizeof(err));
	if (rc)
		fprintf(stderr, "convert %s: %s\n", name, err);
	return rc;
}

/* A converted file and its graph (constants point into the file). */
typedef struct loaded {
	mrt_gguf *f;
	mrt__graph *g;
} loaded;

static int load(const char *path, loaded *l)
{
	l->f = mrt_gguf_open(path, err, sizeof(err));
	l->g = l->f ? mrt__graph_read(l->f, err, sizeof(err)) : NULL;
	if (!l->g)
		fprintf(stderr, "%s: %s\n", path, err);
	return l->g ? 0 : -1;
}

static void unload(loaded *l)
{
	mrt__graph_free(l->g);
	mrt_gguf_close(l->f);
}

static int count_op(const mrt__graph *g, const char *op)
{
	int i, n = 0;

	for (i = 0; i < g->n_nodes; i++)
		n += strcmp(g->nodes[i].op, op) == 0;
	return n;
}

static const mrt__node *find_op(const mrt__graph *g, const char *op)
{
	int i;

	for (i = 0; i < g->n_nodes; i++)
		if (strcmp(g->nodes[i].op, op) == 0)
			return &g->nodes[i];
	return NULL;
}

static const mrt__const *find_const(const mrt__graph *g, const char *name)
{
	int i;

	for (i = 0; i < g->n_consts; i++)
		if (strcmp(g->consts[i].name, name) == 0)
			return &g->consts[i];
	return NULL;
}

static const float *onnx_init(const onnx_model *m, const char *name)
{
	int i;

	for (i = 0; i < m->graph.n_inits; i++)
		if (strcmp(m->graph.inits[i].name, name) == 0)
			return m->graph.inits[i].data;
	return NULL;
}

/* Run a one-input model on x (dims given); copies output 0 into y. Returns
 * the number of output elements, or -1 when the model cannot be run. */
static long run(const char *path, const float *x, int ndim, const int64_t *dims, float *y, long cap)
{
	mrt_model *m = mrt_model_load(path, NULL, err, sizeof(err));
	mrt_ctx *ctx = m ? mrt_ctx_new(m, NULL, err, sizeof(err)) : NULL;
	mrt_io_info info;
	mrt_tensor in = {0}, out[4];
	long n = -1, i;

	if (!ctx || mrt_model_input(m, 0, &info))
		goto done;
	in.name = info.name, in.dtype = MRT_DTYPE_F32, in.ndim = ndim, in.data = (void *)x;
	memcpy(in.dims, dims, sizeof(int64_t) * (size_t)ndim);
	if (mrt_run(ctx, 1, &in, out, err, sizeof(err)))
		goto done;
	for (n = 1, i = 0; i < out[0].ndim; i++)
		n *= (long)out[0].dims[i];
	if (n > cap)
		n = cap;
	memcpy(y, out[0].data, sizeof(float) * (size_t)n);
done:
	if (n < 0)
		fprintf(stderr, "run %s: %s\n", path, err);
	mrt_ctx_free(ctx);
	mrt_model_free(m);
	return n;
}

static long read_floats(const char *name, float *v, long cap)
{
	FILE *fp = fopen(fixture(name), "rb");
	long n;

	if (!fp)
		return -1;
	n = (long)fread(v, sizeof(float), (size_t)cap, fp);
	fclose(fp);
	return n;
}

static void test_conv_bn(void)
{
	static float x[2 * 3 * 6 * 6], want[2 * 4 * 6 * 6], y[2 * 4 * 6 * 6];
	static const int64_t dims[4] = {2, 3, 6, 6};
	char msg[256];
	onnx_model *om;
	loaded l;
	const mrt__node *conv;
	const mrt__const *w, *b;
	const float *w0, *b0, *gamma, *beta, *mean, *var;
	int i, k;

	CHECK_EQ_INT(
	    convert("onnx_unit/conv_bn.onnx", "test_convert_conv_bn.gguf", MRT_TYPE_F32, 1), 0);
	if (load("test_convert_conv_bn.gguf", &l))
		return;
	CHECK_EQ_INT(count_op(l.g, "BatchNormalization"), 0);
	CHECK_EQ_INT(count_op(l.g, "Conv"), 1);
	conv = find_op(l.g, "Conv");
	om = onnx_model_load(fixture("onnx_unit/conv_bn.onnx"), msg, sizeof(msg));
	CHECK(om != NULL);
	if (conv && om && conv->n_in == 3) {
		w = find_const(l.g, conv->in[1]), b = find_const(l.g, conv->in[2]);
		w0 = onnx_init(om, "conv.weight"), b0 = onnx_init(om, "conv.bias");
		gamma = onnx_init(om, "bn.weight"), beta = onnx_init(om, "bn.bias");
		mean = onnx_init(om, "bn.running_mean"), var = onnx_init(om, "bn.running_var");
		CHECK(w && b && w0 && b0 && gamma && beta && mean && var);
		if (w && b && w0 && b0 && gamma && beta && mean && var) {
			CHECK_EQ_INT(w->type, MRT_TYPE_F32);
			for (k = 0; k < 4; k++) {
				double s = gamma[k] / sqrt((double)var[k] + 1e-5);

				CHECK_NEAR(((const float *)b->data)[k],
				           (b0[k] - mean[k]) * s + beta[k], 1e-5);
				for (i = 0; i < 27; i++)
					CHECK_NEAR(((const float *)w->data)[k * 27 + i],
					           w0[k * 27 + i] * s, 1e-6);
			}
		}
	}
	onnx_model_free(om);
	unload(&l);

	/* against PyTorch, fused and unfused */
	CHECK_EQ_INT(read_floats("onnx_unit/conv_bn.in.bin", x, 216), 216);
	CHECK_EQ_INT(read_floats("onnx_unit/conv_bn.out.bin", want, 288), 288);
	for (k = 0; k < 2; k++) {
		if (k == 1) {
			CHECK_EQ_INT(convert("onnx_unit/conv_bn.onnx", "test_convert_conv_bn.gguf",
			                     MRT_TYPE_F32, 0),
			             0);
			if (load("test_convert_conv_bn.gguf", &l) == 0) {
				CHECK_EQ_INT(count_op(l.g, "BatchNormalization"), 1);
				unload(&l);
			}
		}
		if (run("test_convert_conv_bn.gguf", x, 4, dims, y, 288) != 288) {
			CHECK(!"conv_bn runs");
			continue;
		}
		for (i = 0; i < 288; i++)
			CHECK_NEAR(y[i], want[i], 1e-5);
	}
}

static void test_ln_gelu(void)
{
	static float x[2 * 4 * 32], fused[2 * 4 * 64], plain[2 * 4 * 64];
	static const int64_t dims[3] = {2, 4, 32};
	const mrt__node *mm;
	const mrt__const *b;
	char msg[256];
	onnx_model *om;
	loaded l;
	long i, nf, np;
	int j;

	CHECK_EQ_INT(
	    convert("onnx_unit/ln_gelu.onnx", "test_convert_ln_gelu.gguf", MRT_TYPE_F32, 1), 0);
	if (load("test_convert_ln_gelu.gguf", &l))
		return;
	CHECK_EQ_INT(count_op(l.g, "LayerNormalization"), 1);
	CHECK_EQ_INT(count_op(l.g, "Gelu"), 1);
	CHECK_EQ_INT(count_op(l.g, "Erf"), 0);
	CHECK_EQ_INT(count_op(l.g, "ReduceMean"), 0);
	CHECK_EQ_INT(count_op(l.g, "Pow"), 0);
	CHECK_EQ_INT(l.g->n_nodes, 4); /* MatMul, Add, Gelu, LayerNormalization */
	mm = find_op(l.g, "MatMul");
	b = mm ? find_const(l.g, mm->in[1]) : NULL;
	CHECK(mm && mrt__node_attr(mm, "transB") && mrt__node_attr(mm, "transB")->i == 1);
	CHECK(b && b->ndim == 2 && b->dims[0] == 64 && b->dims[1] == 32);
	om = onnx_model_load(fixture("onnx_unit/ln_gelu.onnx"), msg, sizeof(msg));
	if (b && om) {
		const onnx_tensor *t = NULL;

		for (j = 0; j < om->graph.n_inits; j++)
			if (om->graph.inits[j].ndim == 2)
				t = &om->graph.inits[j];
		CHECK(t && t->dims[0] == 32 && t->dims[1] == 64);
		for (i = 0; t && i < 32 * 64; i += 37) /* B^T[n][k] == B[k][n] */
			CHECK_EQ_INT(((const float *)b->data)[(i % 64) * 32 + i / 64] ==
			                 ((const float *)t->data)[i],
			             1);
	}
	onnx_model_free(om);
	unload(&l);

	for (i = 0; i < 256; i++)
		x[i] = (float)sin(0.37 * (double)i) * 2.0f;
	nf = run("test_convert_ln_gelu.gguf", x, 3, dims, fused, 512);
	CHECK_EQ_INT(
	    convert("onnx_unit/ln_gelu.onnx", "test_convert_ln_gelu.gguf", MRT_TYPE_F32, 0), 0);
	np = run("test_convert_ln_gelu.gguf", x, 3, dims, plain, 512);
	CHECK_EQ_INT(nf, 512);
	CHECK_EQ_INT(np, 512);
	for (i = 0; nf == 512 && np == 512 && i < 512; i++)
		CHECK_NEAR(fused[i], plain[i], 1e-5);
}

static void test_gelu_variants(void)
{
	loaded l;

	CHECK_EQ_INT(convert("onnx_unit/gelu_mul.onnx", "test_convert_g.gguf", MRT_TYPE_F32, 1), 0);
	if (load("test_convert_g.gguf", &l) == 0) {
		CHECK_EQ_INT(l.g->n_nodes, 1);
		CHECK_EQ_INT(count_op(l.g, "Gelu"), 1);
		CHECK_EQ_INT(l.g->n_consts, 0);
		unload(&l);
	}
	CHECK_EQ_INT(convert("onnx_unit/not_gelu.onnx", "test_convert_g.gguf", MRT_TYPE_F32, 1), 0);
	if (load("test_convert_g.gguf", &l) == 0) {
		CHECK_EQ_INT(count_op(l.g, "Gelu"), 0);
		CHECK_EQ_INT(count_op(l.g, "Erf"), 1);
		unload(&l);
	}
}

static void test_fold(void)
{
	const mrt__node *add;
	const mrt__const *c;
	loaded l;
	int i;

	CHECK_EQ_INT(convert("onnx_unit/fold.onnx", "test_convert_fold.gguf", MRT_TYPE_F32, 1), 0);
	if (load("test_convert_fold.gguf", &l))
		return;
	CHECK_EQ_INT(l.g->n_nodes, 1);
	CHECK_EQ_INT(count_op(l.g, "Cast"), 0);
	add = find_op(l.g, "Add");
	c = add ? find_const(l.g, add->in[1]) : NULL;
	CHECK(c && c->type == MRT_TYPE_F32 && c->nbytes == 16 * sizeof(float));
	for (i = 0; c && i < 16; i++)
		CHECK_NEAR(((const float *)c->data)[i], 2.0 * i, 0);
	unload(&l);
}

/* Gemm transB=0 [64,20] is transposed and quantized; [8,20] (rows of 20)
 * stays F32; biases F32; Identity, the dead Relu and the unused constant
 * are gone. */
static void test_quant(void)
{
	static const int types[] = {MRT_TYPE_Q8_0, MRT_TYPE_Q4_0, MRT_TYPE_F16, MRT_TYPE_F32};
	const mrt__const *w1, *w2, *b1;
	size_t t;
	loaded l;

	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		int q = types[t];

		CHECK_EQ_INT(convert("onnx_unit/gemms.onnx", "test_convert_q.gguf", q, 1), 0);
		if (load("test_convert_q.gguf", &l))
			continue;
		CHECK_EQ_INT(l.g->n_nodes, 2);
		CHECK_EQ_INT(count_op(l.g, "Identity"), 0);
		CHECK_EQ_INT(l.g->n_consts, 4);
		w1 = find_const(l.g, "W1"), w2 = find_const(l.g, "W2"), b1 = find_const(l.g, "b1");
		CHECK(w1 && w2 && b1);
		if (w1 && w2 && b1) {
			CHECK_EQ_INT(w1->type, q);
			CHECK_EQ_INT(w1->dims[0], 20);
			CHECK_EQ_INT(w1->dims[1], 64);
			CHECK_EQ_INT(w2->type, q == MRT_TYPE_F16 ? MRT_TYPE_F16 : MRT_TYPE_F32);
			CHECK_EQ_INT(b1->type, MRT_TYPE_F32);
		}
		CHECK(find_const(l.g, "unused_const") == NULL);
		unload(&l);
	}
	/* re-quantize the F32 file */
	err[0] = '\0';
	CHECK_EQ_INT(convert_quantize_file("test_convert_q.gguf", "test_convert_q4.gguf",
	                                   MRT_TYPE_Q4_0, 0, err, sizeof(err)),
	             0);
	if (load("test_convert_q4.gguf", &l) == 0) {
		w1 = find_const(l.g, "W1"), w2 = find_const(l.g, "W2");
		CHECK(w1 && w1->type == MRT_TYPE_Q4_0);
		CHECK(w2 && w2->type == MRT_TYPE_F32);
		CHECK_EQ_INT(l.g->n_nodes, 2);
		unload(&l);
	}
	CHECK(convert_quantize_file("test_convert_nonexistent.gguf", "test_convert_q4.gguf",
	                            MRT_TYPE_Q4_0, 0, err, sizeof(err)) < 0);
	unlink("test_convert_q4.gguf");
	unlink("test_convert_q.gguf");
}

static void test_refusals(void)
{
	CHECK(convert("onnx_unit/unsupported.onnx", "test_convert_r.gguf", MRT_TYPE_F32, 1) < 0);
	CHECK_STR_CONTAINS(err, "unsupported operator 'Det' (node 'the_det')");
	CHECK(convert("onnx_unit/foreign.onnx", "test_convert_r.gguf", MRT_TYPE_F32, 1) < 0);
	CHECK_STR_CONTAINS(err, "domain 'com.microsoft'");
	CHECK(convert("onnx_unit/missing.onnx", "test_convert_r.gguf", MRT_TYPE_F32, 1) < 0);
	CHECK_STR_CONTAINS(err, "missing.onnx");
	CHECK(convert("onnx_unit/conv_bn.in.bin", "test_convert_r.gguf", MRT_TYPE_F32, 1) < 0);
	CHECK(err[0] != '\0');
	CHECK(access("test_convert_r.gguf", F_OK) != 0);
}

/* Every conformance fixture converts at q8_0; the transformer's LayerNorm
 * and GELU decompositions are fused. */
static void test_fixtures(void)
{
	static const char *const names[] = {
	    "autoencoder", "cnn",       "embedding",         "gru_cls",
	    "lstm_cls",    "mlp_small", "transformer_block", "two_tower",
	};
	char name[256];
	loaded l;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(name, sizeof(name), "models/%s.onnx", names[i]);
		CHECK_EQ_INT(convert(name, "test_convert_fx.gguf", MRT_TYPE_Q8_0, 1), 0);
		if (strcmp(names[i], "transformer_block") || load("test_convert_fx.gguf", &l))
			continue;
		CHECK(count_op(l.g, "LayerNormalization") >= 1);
		CHECK(count_op(l.g, "Gelu") == 1);
		CHECK_EQ_INT(count_op(l.g, "Erf"), 0);
		unload(&l);
	}
	unlink("test_convert_fx.gguf");
}

/* The type of tensor name in an open GGUF file, or -1. */
static int tensor_type(const mrt_gguf *g, const char *name)
{
	mrt_gguf_tensor_info ti;
	int64_t i = mrt_gguf_find_tensor(g, name);
	return i >= 0 && mrt_gguf_tensor(g, (uint64_t)i, &ti) == 0 ? ti.type : -1;
}

static int same_bytes(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca = 0, cb = 0, same = fa && fb;
	while (same && ca != EOF) {
		ca = getc(fa), cb = getc(fb);
		same = ca == cb;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

typedef struct tensor_want {
	const char *name;
	int type;
} tensor_want;

/* The tensors of GGUF file path have the types of want (ended by a NULL
 * name) and general.file_type is file_type; returns 1 when so. */
static int check_types(const char *path, const tensor_want *want, uint64_t file_type)
{
	uint64_t ft = 0;
	int ok = 1;
	mrt_gguf *g = mrt_gguf_open(path, err, sizeof(err));

	if (g == NULL)
		return 0;
	for (; want->name; want++) {
		CHECK_EQ_INT(tensor_type(g, want->name), want->type);
		ok &= tensor_type(g, want->name) == want->type;
	}
	ok &= mrt_gguf_get_u64(g, "general.file_type", &ft) == 0 && ft == file_type;
	mrt_gguf_close(g);
	return ok;
}

/* Quantize fixture in to out as type and check the result's types. */
static void check_quantized(const char *in, const char *out, int type, const tensor_want *want,
                            uint64_t file_type)
{
	CHECK_EQ_INT(convert_quantize_file(fixture(in), out, type, 0, err, sizeof(err)), 0);
	CHECK(check_types(out, want, file_type));
}

/* modelctl quantize on llama files: the k-quants and llama.cpp's mixes. */
static void test_quant_llama(void)
{
	const char *out = "test_convert_kq.gguf";

	CHECK_EQ_INT(convert_quant_type("q4_k_m"), CONVERT_Q4_K_M);
	CHECK_EQ_INT(convert_quant_type("q5_k_m"), CONVERT_Q5_K_M);
	CHECK_EQ_INT(convert_quant_type("q6_k"), MRT_TYPE_Q6_K);
	CHECK_EQ_INT(convert_quant_type("q8_0"), MRT_TYPE_Q8_0);
	CHECK_EQ_INT(convert_quant_type("q4_k_s"), -1);
	CHECK_EQ_INT(convert_quant_type("q8_k"), MRT_TYPE_Q8_K); /* a type, refused below */
	CHECK(convert_quantize_file(fixture("llama/kq-f16.gguf"), out, MRT_TYPE_Q8_K, 0, err,
	                            sizeof(err)) < 0);
	/* one layer, rows of 256: Q4_K, with Q6_K for output, and attn_v and
	 * ffn_down of layer 0 (the last eighth of one layer) */
	static const tensor_want q4km[] = {
	    {"token_embd.weight", MRT_TYPE_Q4_K},     {"blk.0.attn_q.weight", MRT_TYPE_Q4_K},
	    {"blk.0.attn_v.weight", MRT_TYPE_Q6_K},   {"blk.0.ffn_gate.weight", MRT_TYPE_Q4_K},
	    {"blk.0.ffn_down.weight", MRT_TYPE_Q6_K}, {"blk.0.attn_norm.weight", MRT_TYPE_F32},
	    {"output.weight", MRT_TYPE_Q6_K},         {NULL, 0}};
	check_quantized("llama/kq-f16.gguf", out, CONVERT_Q4_K_M, q4km, 15);
	/* the committed fixture llama.cpp was run on is this very file */
	CHECK(same_bytes(out, fixture("llama/kq-q4_k_m.gguf")));
	/* rows of 64 do not fit the 256-blocks: Q8_0 */
	static const tensor_want q5k[] = {
	    {"blk.1.attn_q.weight", MRT_TYPE_Q8_0}, {"output.weight", MRT_TYPE_Q8_0}, {NULL, 0}};
	check_quantized("llama/gqa-f32.gguf", out, MRT_TYPE_Q5_K, q5k, 16);
	/* graph files take no k-quants */
	char digits[1024];
	snprintf(digits, sizeof(digits), "%s/models/digits.gguf", src_dir);
	err[0] = '\0';
	CHECK_EQ_INT(convert_quantize_file(digits, out, MRT_TYPE_Q4_K, 0, err, sizeof(err)),
	             MRT_ERR_UNSUPPORTED);
	CHECK(strstr(err, "llama files") != NULL);
	/* an already quantized matrix is not quantized again to another type
	 * without the flag; to its own type it is copied */
	const char *q8 = "test_convert_kq8.gguf";
	CHECK_EQ_INT(convert_quantize_file(digits, q8, MRT_TYPE_Q8_0, 0, err, sizeof(err)), 0);
	err[0] = '\0';
	CHECK_EQ_INT(convert_quantize_file(q8, out, MRT_TYPE_Q4_0, 0, err, sizeof(err)),
	             MRT_ERR_INVALID);
	CHECK(strstr(err, "already q8_0") != NULL && strstr(err, "--allow-requantize") != NULL);
	CHECK_EQ_INT(convert_quantize_file(q8, out, MRT_TYPE_Q4_0, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(convert_quantize_file(q8, out, MRT_TYPE_Q8_0, 0, err, sizeof(err)), 0);
	CHECK_EQ_INT(convert_quantize_file(q8, out, MRT_TYPE_F32, 0, err, sizeof(err)), 0);
	unlink(q8);
	err[0] = '\0';
	CHECK_EQ_INT(convert_quantize_file(fixture("llama/kq-q6_k.gguf"), out, CONVERT_Q4_K_M, 0,
	                                   err, sizeof(err)),
	             MRT_ERR_INVALID);
	CHECK(strstr(err, "already q6_k") != NULL);
	static const tensor_want from_q6k[] = {{"blk.0.attn_q.weight", MRT_TYPE_Q4_K},
	                                       {"output.weight", MRT_TYPE_Q6_K}, {NULL, 0}};
	CHECK_EQ_INT(convert_quantize_file(fixture("llama/kq-q6_k.gguf"), out, CONVERT_Q4_K_M, 1,
	                                   err, sizeof(err)),
	             0);
	CHECK(check_types(out, from_q6k, 15));
	unlink(out);
}

/* The _m mixes over many layers. A synthetic llama file of n blocks (rows of
 * 256, two rows each) quantized to q4_k_m and q5_k_m: attn_v and ffn_down
 * take Q6_K exactly in the layers llama.cpp's use_more_bits picks (i < n/8,
 * i >= 7n/8, or (i - n/8) % 3 == 2), worked out here by hand for 12 and 32
 * blocks (32: the layout of a 7B Q4_K_M file); the other matrices take the
 * mix's base type, output.weight Q6_K. */
static void test_mix_layers(void)
{
	static const int more12[] = {0, 3, 6, 9, 10, 11, -1};
	static const int more32[] = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31, -1};
	static const struct {
		int n;
		const int *more;
	} cases[] = {{12, more12}, {32, more32}};
	static const char *const parts[] = {"attn_q", "attn_v", "ffn_down"};
	const char *in = "test_convert_mix_in.gguf", *out = "test_convert_mix_out.gguf";
	float data[2 * 256];
	uint64_t ne[2] = {256, 2};
	char name[64];

	for (int i = 0; i < 2 * 256; i++)
		data[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		int n = cases[c].n, bad = 0;
		mrt_gguf_writer *w = mrt_gguf_writer_new();
		CHECK(w != NULL);
		if (!w)
			return;
		mrt_gguf_writer_set_str(w, "general.architecture", "llama");
		mrt_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)n);
		for (int i = 0; i < n; i++)
			for (int p = 0; p < 3; p++) {
				snprintf(name, sizeof(name), "blk.%d.%s.weight", i, parts[p]);
				CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, name, MRT_TYPE_F32, 2, ne, data),
				             0);
			}
		CHECK_EQ_INT(mrt_gguf_writer_add_tensor(w, "output.weight", MRT_TYPE_F32, 2, ne, data),
		             0);
		CHECK_EQ_INT(mrt_gguf_writer_write(w, in, err, sizeof(err)), 0);
		mrt_gguf_writer_free(w);
		for (int m = 0; m < 2; m++) {
			int mix = m ? CONVERT_Q5_K_M : CONVERT_Q4_K_M;
			int base = m ? MRT_TYPE_Q5_K : MRT_TYPE_Q4_K;
			CHECK_EQ_INT(convert_quantize_file(in, out, mix, 0, err, sizeof(err)), 0);
			mrt_gguf *g = mrt_gguf_open(out, err, sizeof(err));
			CHECK(g != NULL);
			if (!g)
				continue;
			for (int i = 0, k = 0; i < n; i++) {
				int more = cases[c].more[k] == i;
				k += more;
				for (int p = 0; p < 3; p++) {
					snprintf(name, sizeof(name), "blk.%d.%s.weight", i, parts[p]);
					bad += tensor_type(g, name) != (p > 0 && more ? MRT_TYPE_Q6_K : base);
				}
			}
			bad += tensor_type(g, "output.weight") != MRT_TYPE_Q6_K;
			mrt_gguf_close(g);
		}
		fprintf(stderr, "q4_k_m / q5_k_m over %d layers: %d tensors of the wrong type\n", n,
		        bad);
		CHECK_EQ_INT(bad, 0);
	}
	unlink(in);
	unlink(out);
}

int main(void)
{
	const char *s = getenv("top_srcdir");

	snprintf(src_dir, sizeof(src_dir), "%s", s ? s : ".");
	test_conv_bn();
	test_ln_gelu();
	test_gelu_variants();
	test_fold();
	test_quant();
	test_quant_llama();
	test_mix_layers();
	test_refusals();
	test_fixtures();
	unlink("test_convert_conv_bn.gguf");
	unlink("test_convert_ln_gelu.gguf");
	unlink("test_convert_g.gguf");
	unlink("test_convert_fold.gguf");
	TEST_END();
}
