/* Tests of the ONNX decoder: models built byte by byte with a tiny protobuf
 * encoder (every field kind, packed and unpacked repeats, raw and typed
 * tensor data), hostile inputs, and the committed fixture files. */
#include "onnx.h"
#include "test.h"

#include <stdint.h>

/* ---- a tiny protobuf encoder ---- */

typedef struct pbuf {
	unsigned char b[8192];
	size_t n;
} pbuf;

static void put_varint(pbuf *p, uint64_t v)
{
	do {
		p->b[p->n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void put_tag(pbuf *p, int field, int wt)
{
	put_varint(p, (uint64_t)field << 3 | (uint64_t)wt);
}

static void put_int(pbuf *p, int field, int64_t v)
{
	put_tag(p, field, 0);
	put_varint(p, (uint64_t)v);
}

static void put_bytes(pbuf *p, int field, const void *data, size_t len)
{
	put_tag(p, field, 2);
	put_varint(p, len);
	memcpy(p->b + p->n, data, len);
	p->n += len;
}

static void put_str(pbuf *p, int field, const char *s)
{
	put_bytes(p, field, s, strlen(s));
}

static void put_msg(pbuf *p, int field, const pbuf *m)
{
	put_bytes(p, field, m->b, m->n);
}

static void put_f32(pbuf *p, int field, float f)
{
	put_tag(p, field, 5);
	memcpy(p->b + p->n, &f, 4);
	p->n += 4;
}

static void put_packed_f32(pbuf *p, int field, const float *v, size_t n)
{
	put_bytes(p, field, v, n * 4);
}

static void put_packed_varints(pbuf *p, int field, const int64_t *v, size_t n)
{
	pbuf tmp = {.n = 0};
	size_t i;

	for (i = 0; i < n; i++)
		put_varint(&tmp, (uint64_t)v[i]);
	put_msg(p, field, &tmp);
}

/* ValueInfoProto with a float tensor type; dims < 0 are written as
 * dim_param "batch". */
static void put_value_info(pbuf *p, int field, const char *name, const int64_t *dims, int nd)
{
	pbuf vi = {.n = 0}, type = {.n = 0}, tt = {.n = 0}, shape = {.n = 0};
	int i;

	for (i = 0; i < nd; i++) {
		pbuf dim = {.n = 0};

		if (dims[i] < 0)
			put_str(&dim, 2, "batch");
		else
			put_int(&dim, 1, dims[i]);
		put_msg(&shape, 1, &dim);
	}
	put_int(&tt, 1, ONNX_FLOAT);
	put_msg(&tt, 2, &shape);
	put_msg(&type, 1, &tt);
	put_str(&vi, 1, name);
	put_msg(&vi, 2, &type);
	put_msg(p, field, &vi);
}

/* ---- a model using every field kind ---- */

static void build_model(pbuf *model)
{
	static const float w[6] = {1, -2, 3.5f, 4, 5, 6.25f};
	static const float bias[3] = {0.5f, -0.5f, 1.5f};
	static const int64_t shape[2] = {-1, 2};
	static const int64_t two_dims[2] = {3, 2};
	pbuf graph = {.n = 0}, node = {.n = 0}, t = {.n = 0}, a = {.n = 0}, op = {.n = 0};
	int64_t ints[3] = {1, -3, 300};

	/* initializer W: raw_data, dims packed */
	put_packed_varints(&t, 1, two_dims, 2);
	put_int(&t, 2, ONNX_FLOAT);
	put_str(&t, 8, "W");
	put_bytes(&t, 9, w, sizeof(w));
	put_msg(&graph, 5, &t);
	/* initializer B: float_data packed, dims unpacked */
	t.n = 0;
	put_int(&t, 1, 3);
	put_int(&t, 2, ONNX_FLOAT);
	put_packed_f32(&t, 4, bias, 3);
	put_str(&t, 8, "B");
	put_msg(&graph, 5, &t);
	/* initializer K: int64_data unpacked (two fields), negative values */
	t.n = 0;
	put_int(&t, 1, 2);
	put_int(&t, 7, -1);
	put_int(&t, 7, 1LL << 40);
	put_int(&t, 2, ONNX_INT64);
	put_str(&t, 8, "K");
	put_msg(&graph, 5, &t);
	/* initializer I8: int32_data for int8 */
	t.n = 0;
	put_int(&t, 1, 2);
	put_int(&t, 2, ONNX_INT8);
	put_packed_varints(&t, 5, (const int64_t[]){-5, 7}, 2);
	put_str(&t, 8, "I8");
	put_msg(&graph, 5, &t);
	/* initializer D: double_data, scalar */
	t.n = 0;
	put_int(&t, 2, ONNX_DOUBLE);
	put_bytes(&t, 10, &(double){2.25}, 8);
	put_str(&t, 8, "D");
	put_msg(&graph, 5, &t);

	/* node with attributes of every kind */
	put_str(&node, 1, "x");
	put_str(&node, 1, "W");
	put_str(&node, 1, "");
	put_str(&node, 2, "y");
	put_str(&node, 3, "gemm0");
	put_str(&node, 4, "Gemm");
	put_int(&a, 20, ONNX_ATTR_FLOAT), put_str(&a, 1, "alpha"), put_f32(&a, 2, 0.25f);
	put_msg(&node, 5, &a);
	a.n = 0; /* no type field: inferred as INT */
	put_str(&a, 1, "transB"), put_int(&a, 3, 1);
	put_msg(&node, 5, &a);
	a.n = 0;
	put_str(&a, 1, "mode"), put_int(&a, 20, ONNX_ATTR_STRING), put_str(&a, 4, "constant");
	put_msg(&node, 5, &a);
	a.n = 0;
	put_str(&a, 1, "pads"), put_int(&a, 20, ONNX_ATTR_INTS);
	put_int(&a, 8, ints[0]), put_int(&a, 8, ints[1]), put_int(&a, 8, ints[2]);
	put_msg(&node, 5, &a);
	a.n = 0;
	put_str(&a, 1, "scales"), put_int(&a, 20, ONNX_ATTR_FLOATS);
	put_f32(&a, 7, 1.5f), put_packed_f32(&a, 7, (const float[]){2.5f, -1}, 2);
	put_msg(&node, 5, &a);
	a.n = 0;
	put_str(&a, 1, "names"), put_int(&a, 20, ONNX_ATTR_STRINGS);
	put_str(&a, 9, "p"), put_str(&a, 9, "qr");
	put_msg(&node, 5, &a);
	a.n = 0;
	t.n = 0;
	put_int(&t, 2, ONNX_FLOAT), put_f32(&t, 4, 7.0f);
	put_str(&a, 1, "value"), put_int(&a, 20, ONNX_ATTR_TENSOR), put_msg(&a, 5, &t);
	put_msg(&node, 5, &a);
	put_msg(&graph, 1, &node);

	put_str(&graph, 2, "g");
	put_value_info(&graph, 11, "x", shape, 2);
	put_value_info(&graph, 12, "y", shape, 2);

	put_int(model, 1, 8);
	put_str(model, 2, "hand");
	put_str(&op, 1, "");
	put_int(&op, 2, 13);
	put_msg(model, 8, &op);
	put_msg(model, 7, &graph); /* last: every strict prefix is then invalid */
}

static void test_fields(void)
{
	char err[256];
	pbuf p = {.n = 0};
	onnx_model *m;
	const onnx_graph *g;
	const onnx_node *n;
	const onnx_attr *a;
	const onnx_tensor *t;

	build_model(&p);
	m = onnx_model_decode(p.b, p.n, err, sizeof(err));
	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	g = &m->graph;
	CHECK_EQ_INT(m->ir_version, 8);
	CHECK(strcmp(m->producer_name, "hand") == 0);
	CHECK_EQ_INT(onnx_model_opset(m), 13);
	CHECK(strcmp(g->name, "g") == 0);
	CHECK_EQ_INT(g->n_inits, 5);
	CHECK_EQ_INT(g->n_nodes, 1);
	CHECK_EQ_INT(g->n_inputs, 1);
	CHECK_EQ_INT(g->n_outputs, 1);

	t = &g->inits[0];
	CHECK(strcmp(t->name, "W") == 0);
	CHECK_EQ_INT(t->ndim, 2);
	CHECK_EQ_INT(t->dims[0], 3);
	CHECK_EQ_INT(t->dims[1], 2);
	CHECK_EQ_INT(t->numel, 6);
	CHECK_EQ_INT(t->from_raw, 1);
	CHECK_NEAR(((float *)t->data)[2], 3.5, 0);
	CHECK_NEAR(((float *)t->data)[5], 6.25, 0);
	t = &g->inits[1];
	CHECK_EQ_INT(t->from_raw, 0);
	CHECK_EQ_INT(t->dims[0], 3);
	CHECK_NEAR(((float *)t->data)[1], -0.5, 0);
	t = &g->inits[2];
	CHECK_EQ_INT(t->data_type, ONNX_INT64);
	CHECK_EQ_INT(((int64_t *)t->data)[0], -1);
	CHECK_EQ_INT(((int64_t *)t->data)[1], 1LL << 40);
	t = &g->inits[3];
	CHECK_EQ_INT(t->nbytes, 2);
	CHECK_EQ_INT(((int8_t *)t->data)[0], -5);
	CHECK_EQ_INT(((int8_t *)t->data)[1], 7);
	t = &g->inits[4];
	CHECK_EQ_INT(t->ndim, 0);
	CHECK_EQ_INT(t->numel, 1);
	CHECK_NEAR(((double *)t->data)[0], 2.25, 0);

	n = &g->nodes[0];
	CHECK(strcmp(n->op_type, "Gemm") == 0);
	CHECK(strcmp(n->name, "gemm0") == 0);
	CHECK(strcmp(n->domain, "") == 0);
	CHECK_EQ_INT(n->n_in, 3);
	CHECK(strcmp(n->in[1], "W") == 0);
	CHECK(strcmp(n->in[2], "") == 0);
	CHECK_EQ_INT(n->n_out, 1);
	CHECK(strcmp(n->out[0], "y") == 0);
	CHECK_EQ_INT(n->n_attr, 7);
	a = onnx_node_attr(n, "alpha");
	CHECK(a && a->type == ONNX_ATTR_FLOAT && a->f == 0.25f);
	a = onnx_node_attr(n, "transB");
	CHECK(a && a->type == ONNX_ATTR_INT && a->i == 1);
	a = onnx_node_attr(n, "mode");
	CHECK(a && a->type == ONNX_ATTR_STRING && strcmp(a->s, "constant") == 0 && a->s_len == 8);
	a = onnx_node_attr(n, "pads");
	CHECK(a && a->n_ints == 3 && a->ints[1] == -3 && a->ints[2] == 300);
	a = onnx_node_attr(n, "scales");
	CHECK(a && a->n_floats == 3 && a->floats[0] == 1.5f && a->floats[2] == -1.0f);
	a = onnx_node_attr(n, "names");
	CHECK(a && a->n_strings == 2 && strcmp(a->strings[1], "qr") == 0);
	a = onnx_node_attr(n, "value");
	CHECK(a && a->type == ONNX_ATTR_TENSOR && a->t && a->t->numel == 1 &&
	      ((float *)a->t->data)[0] == 7.0f);
	CHECK(onnx_node_attr(n, "nothere") == NULL);

	CHECK(strcmp(g->inputs[0].name, "x") == 0);
	CHECK_EQ_INT(g->inputs[0].elem_type, ONNX_FLOAT);
	CHECK_EQ_INT(g->inputs[0].ndim, 2);
	CHECK_EQ_INT(g->inputs[0].dims[0], -1);
	CHECK(g->inputs[0].dim_param[0] && strcmp(g->inputs[0].dim_param[0], "batch") == 0);
	CHECK_EQ_INT(g->inputs[0].dims[1], 2);
	CHECK(g->inputs[0].dim_param[1] == NULL);
	onnx_model_free(m);
}

/* Decode must fail with a message containing want. */
static void expect_fail(const void *buf, size_t len, const char *want)
{
	char err[256] = "";
	onnx_model *m = onnx_model_decode(buf, len, err, sizeof(err));

	CHECK(m == NULL);
	CHECK_STR_CONTAINS(err, want);
	onnx_model_free(m);
}

static void test_truncation(void)
{
	pbuf p = {.n = 0};
	size_t i, failed = 0;
	char err[256];

	build_model(&p);
	for (i = 0; i < p.n; i++) {
		/* a copy of exactly i bytes, so sanitizers see any overread */
		unsigned char *cut = malloc(i ? i : 1);
		onnx_model *m;

		memcpy(cut, p.b, i);
		err[0] = '\0';
		m = onnx_model_decode(cut, i, err, sizeof(err));
		if (!m && err[0])
			failed++;
		onnx_model_free(m);
		free(cut);
	}
	CHECK_EQ_INT(failed, p.n); /* the graph is last: no strict prefix is a model */
}

static void test_hostile(void)
{
	static const unsigned char long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff, 0xff, 0x81, 0x01};
	static const unsigned char over_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff, 0xff, 0x7f};
	static const unsigned char past_end[] = {0x3a, 0x7f, 0x0a, 0x00};
	static const unsigned char graph_varint[] = {0x08, 0x07, 0x38, 0x05};
	static const unsigned char group[] = {0x0b, 0x0c};
	pbuf p = {.n = 0}, g = {.n = 0}, n = {.n = 0}, t = {.n = 0}, a = {.n = 0};
	pbuf m = {.n = 0};
	int i;

	expect_fail(long_varint, sizeof(long_varint), "longer than 10 bytes");
	expect_fail(over_varint, sizeof(over_varint), "overflows 64 bits");
	expect_fail(past_end, sizeof(past_end), "at byte 0: field 7: length 127 runs past");
	expect_fail(graph_varint, sizeof(graph_varint), "at byte 2: ModelProto.graph: wrong wire");
	expect_fail(group, sizeof(group), "unsupported wire type 3");
	expect_fail("", 0, "no graph");

	/* node input as a varint */
	put_int(&n, 1, 5);
	put_msg(&g, 1, &n);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "NodeProto.input: wrong wire type 0");

	/* a tensor claiming 2^40 x 2^40 elements with no data */
	p.n = g.n = 0;
	put_int(&t, 1, 1LL << 40), put_int(&t, 1, 1LL << 40), put_int(&t, 2, ONNX_FLOAT);
	put_str(&t, 8, "big");
	put_msg(&g, 5, &t);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "tensor 'big': element count overflows");

	/* data that does not match the dims */
	p.n = g.n = t.n = 0;
	put_int(&t, 1, 4), put_int(&t, 2, ONNX_FLOAT), put_str(&t, 8, "w");
	put_bytes(&t, 9, "12345678", 8);
	put_msg(&g, 5, &t);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "tensor 'w': raw_data has 8 bytes, dims need 16");

	/* externally stored data */
	p.n = g.n = t.n = 0;
	put_str(&t, 8, "ext"), put_int(&t, 2, ONNX_FLOAT), put_int(&t, 14, 1);
	put_msg(&g, 5, &t);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "tensor 'ext': data stored in an external file");

	/* a graph-valued attribute (If/Loop body) */
	p.n = g.n = n.n = 0;
	put_str(&a, 1, "then_branch"), put_int(&a, 20, ONNX_ATTR_GRAPH), put_bytes(&a, 6, "", 0);
	put_str(&n, 4, "If"), put_msg(&n, 5, &a);
	put_msg(&g, 1, &n);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "attribute 'then_branch': graph values");

	/* a packed float field whose length is not a multiple of 4 */
	p.n = g.n = t.n = 0;
	put_int(&t, 2, ONNX_FLOAT), put_bytes(&t, 4, "abcde", 5);
	put_msg(&g, 5, &t);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "not a multiple of the element size");

	/* sequence(sequence(...)) nested 40 deep in an input type */
	p.n = g.n = 0;
	t.n = 0;
	put_int(&t, 1, ONNX_FLOAT); /* innermost tensor type's elem_type */
	{
		pbuf inner = {.n = 0}, outer;

		put_msg(&inner, 1, &t);
		for (i = 0; i < 40; i++) {
			pbuf seq = {.n = 0};

			put_msg(&seq, 1, &inner); /* Sequence.elem_type */
			outer.n = 0;
			put_msg(&outer, 4, &seq); /* TypeProto.sequence_type */
			inner = outer;
		}
		m.n = 0;
		put_str(&m, 1, "deep");
		put_msg(&m, 2, &inner);
	}
	put_msg(&g, 11, &m);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "nested deeper than 32");

	/* two graphs */
	p.n = 0;
	put_bytes(&p, 7, "", 0), put_bytes(&p, 7, "", 0);
	expect_fail(p.b, p.n, "more than one graph");

	/* a node without op_type */
	p.n = g.n = n.n = 0;
	put_str(&n, 3, "anon");
	put_msg(&g, 1, &n);
	put_msg(&p, 7, &g);
	expect_fail(p.b, p.n, "node 'anon' has no op_type");
}

/* Every byte value at every position of the model: no crash, and a
 * failure always comes with a message. */
static void test_mutations(void)
{
	pbuf p = {.n = 0};
	static unsigned char mut[8192];
	size_t i;
	int v, bad_msg = 0;
	char err[256];

	build_model(&p);
	for (i = 0; i < p.n; i += 3) {
		for (v = 0; v < 256; v += 17) {
			onnx_model *m;

			memcpy(mut, p.b, p.n);
			mut[i] = (unsigned char)v;
			err[0] = '\0';
			m = onnx_model_decode(mut, p.n, err, sizeof(err));
			if (!m && !err[0])
				bad_msg++;
			onnx_model_free(m);
		}
	}
	CHECK_EQ_INT(bad_msg, 0);
}

static void test_fixtures(void)
{
	const char *src = getenv("top_srcdir");
	char path[1024], err[256];
	onnx_model *m;
	const onnx_graph *g;
	const onnx_tensor *t = NULL;
	int i;

	snprintf(path, sizeof(path), "%s/tests/fixtures/models/cnn.onnx", src ? src : ".");
	m = onnx_model_load(path, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "skipping fixture checks: %s\n", err);
		return;
	}
	g = &m->graph;
	CHECK_EQ_INT(m->ir_version, 6);
	CHECK_EQ_INT(onnx_model_opset(m), 11);
	CHECK_EQ_INT(g->n_nodes, 9);
	CHECK_EQ_INT(g->n_inits, 10);
	CHECK(strcmp(g->inputs[0].name, "image") == 0);
	CHECK_EQ_INT(g->inputs[0].ndim, 4);
	CHECK_EQ_INT(g->inputs[0].dims[0], -1);
	CHECK_EQ_INT(g->inputs[0].dims[1], 3);
	CHECK(strcmp(g->nodes[5].op_type, "BatchNormalization") == 0);
	CHECK_NEAR(onnx_node_attr(&g->nodes[5], "epsilon")->f, 1e-5, 1e-9);
	CHECK_EQ_INT(onnx_node_attr(&g->nodes[0], "pads")->n_ints, 4);
	CHECK_EQ_INT(onnx_node_attr(&g->nodes[8], "transB")->i, 1);
	for (i = 0; i < g->n_inits; i++)
		if (strcmp(g->inits[i].name, "conv2.weight") == 0)
			t = &g->inits[i];
	CHECK(t != NULL);
	if (t) {
		CHECK_EQ_INT(t->numel, 16 * 8 * 9);
		/* values printed by onnx.numpy_helper */
		CHECK_NEAR(((float *)t->data)[0], 0.085049763, 1e-7);
		CHECK_NEAR(((float *)t->data)[1], -0.0078420592, 1e-7);
	}
	onnx_model_free(m);

	snprintf(path, sizeof(path), "%s/tests/fixtures/models/nonexistent.onnx", src ? src : ".");
	CHECK(onnx_model_load(path, err, sizeof(err)) == NULL);
	CHECK_STR_CONTAINS(err, "nonexistent.onnx");
}

/* Node and initializer counts of every fixture, as onnx.load reports them. */
static void test_all_fixtures(void)
{
	static const struct {
		const char *name;
		int nodes, inits;
	} want[] = {
		{"autoencoder", 8, 8},	  {"cnn", 9, 10},	   {"embedding", 11, 7},
		{"gru_cls", 18, 5},	  {"lstm_cls", 36, 8},	   {"mlp_scoring", 8, 8},
		{"mlp_small", 5, 6},	  {"transformer_block", 107, 12},
		{"transformer_block17", 87, 12}, {"two_tower", 6, 5},
	};
	const char *src = getenv("top_srcdir");
	char path[1024], err[256];
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		onnx_model *m;

		snprintf(path, sizeof(path), "%s/tests/fixtures/models/%s.onnx", src ? src : ".",
			 want[i].name);
		m = onnx_model_load(path, err, sizeof(err));
		CHECK(m != NULL);
		if (!m) {
			fprintf(stderr, "%s\n", err);
			continue;
		}
		CHECK_EQ_INT(m->graph.n_nodes, want[i].nodes);
		CHECK_EQ_INT(m->graph.n_inits, want[i].inits);
		onnx_model_free(m);
	}
}

int main(void)
{
	test_all_fixtures();
	test_fields();
	test_truncation();
	test_hostile();
	test_mutations();
	test_fixtures();
	TEST_END();
}
