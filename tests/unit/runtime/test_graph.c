/* Graph files and the executor: build graphs in memory, write them with
 * mrt__graph_write, load them with mrt_model_load, run and check outputs,
 * plan reuse and re-planning, refused graphs, input errors with exact
 * messages, and many contexts on one model in two threads. */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "model_impl.h"
#include "test.h"

static char path[256], err[512];

/* ---- in-memory graph builder ---- */

static char *sdup(const char *s)
{
	char *p = malloc(strlen(s) + 1);
	strcpy(p, s);
	return p;
}

static mrt__graph *graph_new(void)
{
	mrt__graph *g = calloc(1, sizeof(*g));
	g->inputs = calloc(8, sizeof(*g->inputs));
	g->outputs = calloc(8, sizeof(*g->outputs));
	g->nodes = calloc(32, sizeof(*g->nodes));
	g->consts = calloc(32, sizeof(*g->consts));
	g->opset = 17;
	return g;
}

static void io_add(mrt__value_info *v, int *n, const char *name, int type, int ndim, int64_t d0,
                   int64_t d1)
{
	mrt__value_info *x = &v[(*n)++];
	x->name = sdup(name);
	x->type = type;
	x->ndim = ndim;
	x->dims[0] = d0;
	x->dims[1] = d1;
}

/* A node from "a,b" style lists ("" entries allowed via ",,"). */
static mrt__node *node_add(mrt__graph *g, const char *op, const char *ins, const char *outs)
{
	mrt__node *n = &g->nodes[g->n_nodes];
	char buf[64];
	const char *p;
	int k;

	n->op = sdup(op);
	snprintf(buf, sizeof(buf), "n%d", g->n_nodes++);
	n->name = sdup(buf);
	n->in = calloc(8, sizeof(char *));
	n->out = calloc(4, sizeof(char *));
	n->attr = calloc(4, sizeof(mrt__attr));
	if (*ins)
		for (p = ins;; p += k + 1) {
			k = (int)strcspn(p, ",");
			n->in[n->n_in] = calloc(1, (size_t)k + 1);
			memcpy(n->in[n->n_in++], p, (size_t)k);
			if (p[k] == 0)
				break;
		}
	for (p = outs;; p += k + 1) {
		k = (int)strcspn(p, ",");
		n->out[n->n_out] = calloc(1, (size_t)k + 1);
		memcpy(n->out[n->n_out++], p, (size_t)k);
		if (p[k] == 0)
			break;
	}
	return n;
}

static void attr_i(mrt__node *n, const char *name, int64_t v)
{
	mrt__attr *a = &n->attr[n->n_attr++];
	a->name = sdup(name);
	a->kind = MRT__ATTR_INT;
	a->i = v;
}

static void const_add(mrt__graph *g, const char *name, int type, int ndim, const int64_t *dims,
                      const void *data, size_t nbytes)
{
	mrt__const *c = &g->consts[g->n_consts++];
	c->name = sdup(name);
	c->type = type;
	c->ndim = ndim;
	if (ndim > 0)
		memcpy(c->dims, dims, sizeof(int64_t) * (size_t)ndim);
	c->data = malloc(nbytes ? nbytes : 1);
	memcpy(c->data, data, nbytes);
	c->nbytes = nbytes;
	c->owned = 1;
}

/* Write g to the temp file (and free it); returns 0 or the status. */
static int save(mrt__graph *g, const char *arch)
{
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	int rc;

	mrt_gguf_writer_set_str(w, "general.name", "test");
	rc = mrt__graph_write(g, w, err, sizeof(err));
	if (rc == 0 && arch) { /* rewrite the architecture: build a second writer */
		mrt_gguf_writer_free(w);
		w = mrt_gguf_writer_new();
		mrt_gguf_writer_set_str(w, "general.architecture", arch);
	}
	if (rc == 0)
		rc = mrt_gguf_writer_write(w, path, err, sizeof(err));
	mrt_gguf_writer_free(w);
	mrt__graph_free(g);
	return rc;
}

static mrt_model *load(int mode)
{
	mrt_model_params p = mrt_model_default_params();
	p.weights_mode = mode;
	err[0] = 0;
	return mrt_model_load(path, &p, err, sizeof(err));
}

/* ---- the MLP model: y = relu(x W^T + b) + zeros([batch,3]) + 0.5, h ---- */

static const float W[12] = {0.5f, -1, 2, 0, 1, 1, -1, 0.25f, -2, 0.5f, 0, 1};
static const float B[3] = {0.1f, -0.2f, 0.3f};

static void make_mlp(void)
{
	mrt__graph *g = graph_new();
	int64_t wd[2] = {3, 4}, bd[1] = {3}, one[1] = {1}, idx0 = 0, ax0 = 0, three = 3;
	float half = 0.5f;
	mrt__node *n;

	io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, 4);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 3);
	io_add(g->outputs, &g->n_outputs, "h", MRT_TYPE_F32, 2, -1, 3);
	const_add(g, "W", MRT_TYPE_F32, 2, wd, W, sizeof(W));
	const_add(g, "b", MRT_TYPE_F32, 1, bd, B, sizeof(B));
	const_add(g, "i0", MRT_TYPE_I64, 0, NULL, &idx0, 8);
	const_add(g, "ax", MRT_TYPE_I64, 1, one, &ax0, 8);
	const_add(g, "n3", MRT_TYPE_I64, 1, one, &three, 8);
	const_add(g, "half", MRT_TYPE_F32, 0, NULL, &half, 4);
	n = node_add(g, "Gemm", "x,W,b", "h");
	attr_i(n, "transB", 1);
	node_add(g, "Relu", "h", "r");
	/* the PyTorch initial-state pattern: folded at plan time */
	node_add(g, "Shape", "x", "s");
	node_add(g, "Gather", "s,i0", "b0");
	node_add(g, "Unsqueeze", "b0,ax", "b1");
	n = node_add(g, "Concat", "b1,n3", "shp");
	attr_i(n, "axis", 0);
	node_add(g, "ConstantOfShape", "shp", "z");
	node_add(g, "Add", "z,half", "zh");
	node_add(g, "Add", "r,zh", "y");
	CHECK_EQ_INT(save(g, NULL), 0);
}

static void mlp_ref(const float *x, int64_t batch, float *y, float *h)
{
	int64_t i, j, k;

	for (i = 0; i < batch; i++)
		for (j = 0; j < 3; j++) {
			float s = B[j];
			for (k = 0; k < 4; k++)
				s += x[i * 4 + k] * W[j * 4 + k];
			h[i * 3 + j] = s;
			y[i * 3 + j] = (s > 0 ? s : 0) + 0.5f;
		}
}

static void fill_x(float *x, int64_t n, int seed)
{
	int64_t i;
	for (i = 0; i < n; i++)
		x[i] = (float)(((i + 1) * 7919 + seed * 104729) % 2001 - 1000) / 300.0f;
}

static int run1(mrt_ctx *c, const char *name, int dtype, int ndim, int64_t d0, int64_t d1,
                void *data, mrt_tensor *out)
{
	mrt_tensor in;
	memset(&in, 0, sizeof(in));
	in.name = name;
	in.dtype = dtype;
	in.ndim = ndim;
	in.dims[0] = d0;
	in.dims[1] = d1;
	in.data = data;
	err[0] = 0;
	return mrt_run(c, 1, &in, out, err, sizeof(err));
}

static void test_mlp(void)
{
	static float x[64 * 4], y[64 * 3], h[64 * 3];
	int64_t batches[5] = {1, 3, 64, 3, 3}, i;
	mrt_model *m;
	mrt_ctx *c;
	mrt_tensor out[2];
	mrt_io_info info;
	size_t arena, values;
	int nrun, t;
	void *prev = NULL;

	make_mlp();
	m = load(MRT_WEIGHTS_NATIVE);
	CHECK(m != NULL);
	if (m == NULL) {
		fprintf(stderr, "load: %s\n", err);
		return;
	}
	CHECK_EQ_INT(mrt_model_kind(m), MRT_MODEL_GRAPH);
	CHECK_EQ_INT(mrt_model_n_inputs(m), 1);
	CHECK_EQ_INT(mrt_model_n_outputs(m), 2);
	CHECK_EQ_INT(mrt_model_input(m, 0, &info), 0);
	CHECK(strcmp(info.name, "x") == 0 && info.ndim == 2 && info.dims[0] == -1 &&
	      info.dims[1] == 4 && info.dtype == MRT_DTYPE_F32);
	CHECK_EQ_INT(mrt_model_input(m, 1, &info), MRT_ERR_INVALID);
	CHECK(strcmp(mrt_model_tensor_types(m), "f32,i64") == 0);
	CHECK_EQ_INT(mrt_model_heap_bytes(m), 0);
	c = mrt_ctx_new(m, NULL, err, sizeof(err));
	CHECK(c != NULL);
	for (t = 0; t < 5 && c; t++) {
		int64_t bs = batches[t];
		fill_x(x, bs * 4, t);
		mlp_ref(x, bs, y, h);
		CHECK_EQ_INT(run1(c, "x", MRT_DTYPE_F32, 2, bs, 4, x, out), 0);
		CHECK(out[0].ndim == 2 && out[0].dims[0] == bs && out[0].dims[1] == 3);
		CHECK(strcmp(out[0].name, "y") == 0 && strcmp(out[1].name, "h") == 0);
		for (i = 0; i < bs * 3; i++) {
			CHECK_NEAR(((float *)out[0].data)[i], y[i], 1e-5);
			CHECK_NEAR(((float *)out[1].data)[i], h[i], 1e-5);
		}
		if (t == 4) /* same shape as the run before: plan kept */
			CHECK(out[0].data == prev);
		prev = out[0].data;
	}
	mrt__ctx_stats(c, &arena, &values, &nrun);
	CHECK_EQ_INT(nrun, 3); /* Gemm, Relu, Add: the shape chain was folded */
	mrt_ctx_free(c);
	mrt_model_free(m);
}

/* A chain of 6 elementwise ops: the arena holds 2-3 buffers, not 6. */
static void test_arena_reuse(void)
{
	mrt__graph *g = graph_new();
	static float x[16 * 256];
	mrt_model *m;
	mrt_ctx *c;
	mrt_tensor out[1];
	size_t arena, values;
	int nrun;
	int64_t i;

	io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, 256);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 256);
	node_add(g, "Relu", "x", "a");
	node_add(g, "Neg", "a", "b");
	node_add(g, "Relu", "b", "c");
	node_add(g, "Neg", "c", "d");
	node_add(g, "Abs", "d", "e");
	node_add(g, "Sigmoid", "e", "y");
	CHECK_EQ_INT(save(g, NULL), 0);
	m = load(MRT_WEIGHTS_NATIVE);
	c = m ? mrt_ctx_new(m, NULL, err, sizeof(err)) : NULL;
	CHECK(c != NULL);
	if (c == NULL)
		return;
	fill_x(x, 16 * 256, 1);
	CHECK_EQ_INT(run1(c, "x", MRT_DTYPE_F32, 2, 16, 256, x, out), 0);
	for (i = 0; i < 16 * 256; i++) /* relu(-relu(x)) = 0 -> sigmoid(0) */
		CHECK_NEAR(((float *)out[0].data)[i], 0.5, 1e-7);
	mrt__ctx_stats(c, &arena, &values, &nrun);
	fprintf(stderr, "chain: arena %zu bytes, values %zu bytes\n", arena, values);
	CHECK_EQ_INT(values, 6 * 16 * 256 * 4);
	CHECK(arena <= 3 * 16 * 256 * 4);
	mrt_ctx_free(c);
	mrt_model_free(m);
}

/* Q8_0 weight read in place (NATIVE) or expanded at load (EXPAND). */
static void test_quantized(void)
{
	enum { N = 4, K = 64 };
	float w[N * K], x[2 * K], ref[2 * N], got[2][2 * N];
	unsigned char q[N * K / 32 * 34];
	int64_t wd[2] = {N, K}, i, j, k;
	int mode;

	for (i = 0; i < N * K; i++)
		w[i] = (float)((i * 13) % 29 - 14) / 14.0f;
	fill_x(x, 2 * K, 3);
	for (i = 0; i < 2; i++)
		for (j = 0; j < N; j++) {
			double s = 0;
			for (k = 0; k < K; k++)
				s += (double)x[i * K + k] * w[j * K + k];
			ref[i * N + j] = (float)s;
		}
	mrt_quantize(MRT_TYPE_Q8_0, w, q, N * K);
	for (mode = 0; mode < 2; mode++) {
		mrt__graph *g = graph_new();
		mrt_model *m;
		mrt_ctx *c;
		mrt_tensor out[1];
		mrt__node *n;

		io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, K);
		io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, N);
		const_add(g, "w", MRT_TYPE_Q8_0, 2, wd, q, sizeof(q));
		n = node_add(g, "MatMul", "x,w", "y");
		attr_i(n, "transB", 1);
		CHECK_EQ_INT(save(g, NULL), 0);
		m = load(mode ? MRT_WEIGHTS_EXPAND : MRT_WEIGHTS_NATIVE);
		CHECK(m != NULL);
		if (m == NULL)
			continue;
		CHECK_EQ_INT(mrt_model_heap_bytes(m), mode ? N * K * 4 : 0);
		CHECK(strcmp(mrt_model_tensor_types(m), "q8_0") == 0);
		c = mrt_ctx_new(m, NULL, err, sizeof(err));
		CHECK_EQ_INT(run1(c, "x", MRT_DTYPE_F32, 2, 2, K, x, out), 0);
		for (i = 0; i < 2 * N; i++) {
			got[mode][i] = ((float *)out[0].data)[i];
			CHECK_NEAR(got[mode][i], ref[i], 0.05 * (1 + fabs(ref[i])));
		}
		mrt_ctx_free(c);
		mrt_model_free(m);
	}
}

/* A 4-D Q8_0 constant (a Conv weight whose last dim is not a block
 * multiple) is written as rows of its reduction length and read back with
 * its ONNX shape and bytes intact. */
static void test_quantized_conv_weight(void)
{
	enum { OC = 2, IC = 32, KH = 3, KW = 3, K = IC * KH * KW };
	float w[OC * K];
	unsigned char q[OC * K / 32 * 34];
	int64_t wd[4] = {OC, IC, KH, KW};
	mrt__graph *g = graph_new();
	mrt_gguf *f;
	mrt__graph *back;
	int i;

	for (i = 0; i < OC * K; i++)
		w[i] = (float)((i * 7) % 23 - 11) / 11.0f;
	mrt_quantize(MRT_TYPE_Q8_0, w, q, OC * K);
	io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, 4);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 4);
	const_add(g, "convw", MRT_TYPE_Q8_0, 4, wd, q, sizeof(q));
	node_add(g, "Relu", "x", "y");
	CHECK_EQ_INT(save(g, NULL), 0);
	f = mrt_gguf_open(path, err, sizeof(err));
	CHECK(f != NULL);
	if (f == NULL)
		return;
	back = mrt__graph_read(f, err, sizeof(err));
	CHECK(back != NULL);
	if (back) {
		CHECK_EQ_INT(back->n_consts, 1);
		CHECK_EQ_INT(back->consts[0].ndim, 4);
		for (i = 0; i < 4; i++)
			CHECK_EQ_INT(back->consts[0].dims[i], wd[i]);
		CHECK_EQ_INT(back->consts[0].nbytes, sizeof(q));
		CHECK(memcmp(back->consts[0].data, q, sizeof(q)) == 0);
		mrt__graph_free(back);
	}
	mrt_gguf_close(f);
}

/* ---- refused graphs ---- */

static void expect_refused(const char *what, const char *msg)
{
	mrt_model *m = load(MRT_WEIGHTS_NATIVE);
	CHECK(m == NULL);
	CHECK_STR_CONTAINS(err, msg);
	if (m != NULL || !strstr(err, msg))
		fprintf(stderr, "  (%s: got \"%s\")\n", what, err);
	mrt_model_free(m);
}

static mrt__graph *one_node(const char *op, const char *in)
{
	mrt__graph *g = graph_new();
	io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, 4);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 4);
	node_add(g, op, in, "y");
	return g;
}

static void test_refused(void)
{
	mrt_gguf_writer *w;
	mrt__graph *g;

	save(one_node("Foo", "x"), NULL);
	expect_refused("unknown op", "node 0 ('n0'): operator 'Foo' is not supported");
	save(one_node("Relu", "nope"), NULL);
	expect_refused("dangling", "node 0 ('n0', Relu): input 'nope' is not a graph input, a "
	                           "constant or an earlier node's output");
	/* an attribute of a type graphs do not use (bool) */
	g = one_node("LeakyRelu", "x");
	w = mrt_gguf_writer_new();
	CHECK_EQ_INT(mrt__graph_write(g, w, err, sizeof(err)), 0);
	mrt_gguf_writer_set_bool(w, "modelgraph.node.0.attr.alpha", 1);
	CHECK_EQ_INT(mrt_gguf_writer_write(w, path, err, sizeof(err)), 0);
	mrt_gguf_writer_free(w);
	mrt__graph_free(g);
	expect_refused("bool attr", "node 0 ('n0'): key 'modelgraph.node.0.attr.alpha' has a bad "
	                            "name or type");
	/* an attribute of the wrong kind for its op */
	g = one_node("Gemm", "x,x");
	g->nodes[0].attr[0].name = sdup("transB");
	g->nodes[0].attr[0].kind = MRT__ATTR_STRING;
	g->nodes[0].attr[0].s = sdup("yes");
	g->nodes[0].n_attr = 1;
	save(g, NULL);
	expect_refused("attr kind", "node 'n0' (Gemm): transA/transB must be INT");
	/* a value defined twice */
	g = one_node("Relu", "x");
	node_add(g, "Neg", "x", "y");
	save(g, NULL);
	expect_refused("duplicate", "node 1 ('n1', Neg): output 'y' is empty or defined twice");
	/* language models come later */
	save(one_node("Relu", "x"), "llama");
	expect_refused("llama", "llama: key llama.context_length is missing");
}

/* ---- input errors and run errors ---- */

static void test_input_errors(void)
{
	mrt__graph *g = graph_new();
	float x[8] = {0}, u[9] = {0};
	int64_t xi[8] = {0};
	mrt_tensor in[2], out[1];
	mrt_model *m;
	mrt_ctx *c;

	io_add(g->inputs, &g->n_inputs, "x", MRT_TYPE_F32, 2, -1, 4);
	io_add(g->inputs, &g->n_inputs, "u", MRT_TYPE_F32, 2, -1, 3);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 4);
	node_add(g, "Relu", "x", "y");
	node_add(g, "Relu", "u", "v");
	CHECK_EQ_INT(save(g, NULL), 0);
	m = load(MRT_WEIGHTS_NATIVE);
	c = m ? mrt_ctx_new(m, NULL, err, sizeof(err)) : NULL;
	CHECK(c != NULL);
	if (c == NULL)
		return;
	memset(in, 0, sizeof(in));
	in[0].name = "x";
	in[0].dtype = MRT_DTYPE_F32;
	in[0].ndim = 2;
	in[0].dims[0] = 2;
	in[0].dims[1] = 4;
	in[0].data = x;
	in[1] = in[0];
	in[1].name = "u";
	in[1].dims[1] = 3;
	in[1].data = u;
#define EXPECT(rc_, msg)                                                                           \
	do {                                                                                       \
		err[0] = 0;                                                                        \
		CHECK_EQ_INT(mrt_run(c, 2, in, out, err, sizeof(err)), rc_);                       \
		CHECK(strcmp(err, msg) == 0);                                                      \
		if (strcmp(err, msg) != 0)                                                         \
			fprintf(stderr, "  got \"%s\"\n", err);                                    \
	} while (0)
	in[1].name = "q";
	EXPECT(MRT_ERR_INVALID, "unknown input 'q'");
	in[1].name = "u";
	in[0].ndim = 1;
	EXPECT(MRT_ERR_SHAPE, "input 'x': expected [*,4], got [2]");
	in[0].ndim = 2;
	in[0].dims[1] = 5;
	EXPECT(MRT_ERR_SHAPE, "input 'x': expected [*,4], got [2,5]");
	in[0].dims[1] = 4;
	in[0].dtype = MRT_DTYPE_I64;
	in[0].data = xi;
	EXPECT(MRT_ERR_DTYPE, "input 'x': expected float32, got int64");
	in[0].dtype = MRT_DTYPE_F32;
	in[0].data = x;
	in[1].dims[0] = 3;
	EXPECT(MRT_ERR_SHAPE, "input 'u': batch size 3 differs from 2 of input 'x'");
	in[1].dims[0] = 0;
	EXPECT(MRT_ERR_SHAPE, "input 'u': expected [*,3], got [0,3]");
	in[1].dims[0] = 2;
	err[0] = 0;
	CHECK_EQ_INT(mrt_run(c, 1, in, out, err, sizeof(err)), MRT_ERR_INVALID);
	CHECK(strcmp(err, "missing input 'u'") == 0);
	x[5] = 3; /* the context still works */
	CHECK_EQ_INT(mrt_run(c, 2, in, out, err, sizeof(err)), 0);
	CHECK_EQ_INT(((float *)out[0].data)[5], 3);
#undef EXPECT
	mrt_ctx_free(c);
	mrt_model_free(m);
}

static void test_run_error(void)
{
	mrt__graph *g = graph_new();
	float table[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	int64_t td[2] = {5, 2}, ids[2] = {1, 7};
	mrt_tensor out[1];
	mrt_model *m;
	mrt_ctx *c;
	int rc;

	io_add(g->inputs, &g->n_inputs, "ids", MRT_TYPE_I64, 1, -1, 0);
	io_add(g->outputs, &g->n_outputs, "y", MRT_TYPE_F32, 2, -1, 2);
	const_add(g, "t", MRT_TYPE_F32, 2, td, table, sizeof(table));
	node_add(g, "Gather", "t,ids", "y");
	CHECK_EQ_INT(save(g, NULL), 0);
	m = load(MRT_WEIGHTS_NATIVE);
	c = m ? mrt_ctx_new(m, NULL, err, sizeof(err)) : NULL;
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "gather model: %s\n", err);
		return;
	}
	rc = run1(c, "ids", MRT_DTYPE_I64, 1, 2, 0, ids, out);
	CHECK(rc < 0);
	CHECK_STR_CONTAINS(err, "n0");
	ids[1] = 4;
	CHECK_EQ_INT(run1(c, "ids", MRT_DTYPE_I64, 1, 2, 0, ids, out), 0);
	CHECK_EQ_INT(((float *)out[0].data)[0], 2);
	CHECK_EQ_INT(((float *)out[0].data)[3], 9);
	mrt_ctx_free(c);
	mrt_model_free(m);
}

/* ---- two threads, one model ---- */

typedef struct worker {
	const mrt_model *m;
	const float *x;
	const float *want;
	int bad;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	mrt_ctx *c = mrt_ctx_new(w->m, NULL, NULL, 0);
	mrt_tensor in, out[2];
	int r;

	if (c == NULL) {
		w->bad = 1;
		return NULL;
	}
	memset(&in, 0, sizeof(in));
	in.name = "x";
	in.dtype = MRT_DTYPE_F32;
	in.ndim = 2;
	in.dims[1] = 4;
	in.data = (void *)w->x;
	for (r = 0; r < 200; r++) {
		in.dims[0] = 1 + r % 8; /* re-plan now and then */
		if (mrt_run(c, 1, &in, out, NULL, 0) != 0 ||
		    memcmp(out[0].data, w->want, sizeof(float) * 3 * (size_t)in.dims[0]) != 0)
			w->bad++;
	}
	mrt_ctx_free(c);
	return NULL;
}

static void test_threads(void)
{
	static float x[8 * 4];
	mrt_tensor out[2];
	mrt_model *m;
	mrt_ctx *c;
	worker w[2];
	pthread_t th[2];
	float want[8 * 3];
	int i;

	make_mlp();
	m = load(MRT_WEIGHTS_NATIVE);
	c = m ? mrt_ctx_new(m, NULL, err, sizeof(err)) : NULL;
	CHECK(c != NULL);
	if (c == NULL)
		return;
	fill_x(x, 8 * 4, 9);
	CHECK_EQ_INT(run1(c, "x", MRT_DTYPE_F32, 2, 8, 4, x, out), 0);
	memcpy(want, out[0].data, sizeof(want));
	for (i = 0; i < 2; i++) {
		w[i].m = m;
		w[i].x = x;
		w[i].want = want;
		w[i].bad = 0;
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].bad, 0);
	}
	mrt_ctx_free(c);
	mrt_model_free(m);
}

int main(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/test_graph_XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return 77;
	close(fd);
	test_mlp();
	test_arena_reuse();
	test_quantized();
	test_quantized_conv_weight();
	test_refused();
	test_input_errors();
	test_run_error();
	test_threads();
	unlink(path);
	TEST_END();
}
