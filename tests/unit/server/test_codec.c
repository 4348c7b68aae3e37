/* The predict JSON codec against real graph models written here with the
 * runtime's graph writer: every accepted request form, every refusal with its
 * exact code and message, output JSON (slicing, NaN -> null, int64) and the
 * round trip of printed floats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "graph.h"
#include "mrt.h"
#include "mrt_gguf.h"
#include "test.h"

static float W[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1}; /* y = x W^T */
static float TABLE[5 * 2] = {0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f};

static mrt__value_info vinfo(const char *name, int type, int ndim, int64_t d0, int64_t d1,
			     int64_t d2)
{
	mrt__value_info v = {(char *)name, type, ndim, {d0, d1, d2}};
	return v;
}

/* Write one of the test models to path:
 * 1: x f32 [*,4] -> Gemm(x, W^T) -> y [*,3]
 * 2: x f32 [*,4], ids int64 [*] -> y [*,3], emb = Gather(table, ids) [*,2]
 * 3: v f32 [*,2,3] -> Relu -> r [*,2,3] */
static int write_model(const char *path, int which)
{
	static char *gemm_in[] = {"x", "W"}, *gemm_out[] = {"y"};
	static char *gather_in[] = {"table", "ids"}, *gather_out[] = {"emb"};
	static char *relu_in[] = {"v"}, *relu_out[] = {"r"};
	mrt__attr transb = {"transB", MRT__ATTR_INT, 1};
	mrt__attr axis = {"axis", MRT__ATTR_INT, 0};
	mrt__node nodes[2];
	mrt__value_info ins[2], outs[2];
	mrt__const consts[2] = {
	    {"W", MRT_TYPE_F32, 2, {3, 4}, W, sizeof(W), 0},
	    {"table", MRT_TYPE_F32, 2, {5, 2}, TABLE, sizeof(TABLE), 0},
	};
	mrt__graph g;
	mrt_gguf_writer *w;
	char err[256];
	int rc;

	memset(&g, 0, sizeof(g));
	memset(nodes, 0, sizeof(nodes));
	nodes[0] = (mrt__node){"Gemm", "gemm", 2, 1, 1, gemm_in, gemm_out, &transb};
	nodes[1] = (mrt__node){"Gather", "gather", 2, 1, 1, gather_in, gather_out, &axis};
	ins[0] = vinfo("x", MRT_TYPE_F32, 2, -1, 4, 0);
	ins[1] = vinfo("ids", MRT_TYPE_I64, 1, -1, 0, 0);
	outs[0] = vinfo("y", MRT_TYPE_F32, 2, -1, 3, 0);
	outs[1] = vinfo("emb", MRT_TYPE_F32, 2, -1, 2, 0);
	g.inputs = ins;
	g.outputs = outs;
	g.nodes = nodes;
	g.consts = consts;
	g.opset = 13;
	g.n_inputs = g.n_outputs = g.n_nodes = g.n_consts = which == 2 ? 2 : 1;
	if (which == 3) {
		nodes[0] = (mrt__node){"Relu", "relu", 1, 1, 0, relu_in, relu_out, NULL};
		ins[0] = vinfo("v", MRT_TYPE_F32, 3, -1, 2, 3);
		outs[0] = vinfo("r", MRT_TYPE_F32, 3, -1, 2, 3);
		g.n_consts = 0;
	}
	if (!(w = mrt_gguf_writer_new()))
		return -1;
	rc = mrt__graph_write(&g, w, err, sizeof(err));
	if (rc == 0)
		rc = mrt_gguf_writer_write(w, path, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "writing test model %d: %s\n", which, err);
	mrt_gguf_writer_free(w);
	return rc;
}

static mrt_model *load_model(const char *dir, int which)
{
	char path[512], err[256];
	mrt_model *m;
	mrt_model_params mp = mrt_model_default_params();

	snprintf(path, sizeof(path), "%s/model%d.gguf", dir, which);
	if (write_model(path, which) != 0)
		return NULL;
	m = mrt_model_load(path, &mp, err, sizeof(err));
	if (!m)
		fprintf(stderr, "loading test model %d: %s\n", which, err);
	unlink(path);
	return m;
}

/* Parse text against model; returns the status (0 / -1), leaves *in filled
 * on success and *e on failure. */
static int parse(const mrt_model *m, const char *text, codec_inputs *in, codec_error *e)
{
	json_error_t jerr;
	json_t *body = json_loads(text, 0, &jerr);
	int rc;

	if (!body) {
		fprintf(stderr, "bad test JSON %s: %s\n", text, jerr.text);
		return -2;
	}
	rc = codec_parse_predict(m, body, in, e);
	json_decref(body);
	return rc;
}

/* A request that must be refused with exactly this code and message. */
static void expect_error(const mrt_model *m, const char *text, const char *code,
			 const char *message)
{
	codec_inputs in;
	codec_error e;

	memset(&e, 0, sizeof(e));
	CHECK_EQ_INT(parse(m, text, &in, &e), -1);
	CHECK_EQ_INT(e.status, 400);
	if (strcmp(e.code, code) || strcmp(e.message, message)) {
		fprintf(stderr, "request %s\n  got  %s: %s\n  want %s: %s\n", text, e.code,
			e.message, code, message);
		CHECK(0);
	}
	CHECK(in.t == NULL);
}

static void test_single_input(const mrt_model *m1)
{
	static const float want[] = {1, 2, 3, 4, 5, 6, 7, 8.5f};
	const char *forms[] = {
	    "{\"inputs\":[[1,2,3,4],[5,6,7,8.5]]}",
	    "{\"model\":\"m\",\"instances\":[[1,2,3,4],[5,6,7,8.5]]}",
	    "{\"inputs\":{\"x\":[[1,2,3,4],[5,6,7,8.5]]}}",
	    "{\"instances\":[{\"x\":[1,2,3,4]},{\"x\":[5,6,7,8.5]}]}",
	};
	codec_inputs in;
	codec_error e;
	size_t f;

	for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		CHECK_EQ_INT(parse(m1, forms[f], &in, &e), 0);
		if (in.t == NULL)
			continue;
		CHECK_EQ_INT(in.n, 1);
		CHECK_EQ_INT(in.batch, 2);
		CHECK_EQ_INT(in.used_instances, strstr(forms[f], "instances") != NULL);
		CHECK_EQ_INT(in.t[0].dtype, MRT_DTYPE_F32);
		CHECK_EQ_INT(in.t[0].ndim, 2);
		CHECK_EQ_INT(in.t[0].dims[0], 2);
		CHECK_EQ_INT(in.t[0].dims[1], 4);
		CHECK(!strcmp(in.t[0].name, "x"));
		CHECK(!memcmp(in.t[0].data, want, sizeof(want)));
		codec_inputs_free(&in);
	}
}

static void test_two_inputs(const mrt_model *m2)
{
	const char *forms[] = {
	    "{\"inputs\":{\"ids\":[4,0],\"x\":[[1,2,3,4],[0,0,0,-1]]}}",
	    "{\"instances\":{\"x\":[[1,2,3,4],[0,0,0,-1]],\"ids\":[4,0]}}",
	    "{\"instances\":[{\"x\":[1,2,3,4],\"ids\":4},{\"ids\":0,\"x\":[0,0,0,-1]}]}",
	};
	codec_inputs in;
	codec_error e;
	size_t f;

	for (f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		CHECK_EQ_INT(parse(m2, forms[f], &in, &e), 0);
		if (in.t == NULL)
			continue;
		CHECK_EQ_INT(in.n, 2);
		CHECK_EQ_INT(in.batch, 2);
		CHECK(!strcmp(in.t[0].name, "x") && !strcmp(in.t[1].name, "ids"));
		CHECK_EQ_INT(in.t[1].dtype, MRT_DTYPE_I64);
		CHECK_EQ_INT(in.t[1].ndim, 1);
		CHECK_EQ_INT(((int64_t *)in.t[1].data)[0], 4);
		CHECK_EQ_INT(((int64_t *)in.t[1].data)[1], 0);
		CHECK_EQ_INT(((float *)in.t[0].data)[7], -1);
		codec_inputs_free(&in);
	}
	/* Large ids keep every bit of an int64 (and are refused against the
	 * 5-row table they index, naming the input). */
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[9007199254740993]}}",
		     "out_of_range",
		     "input 'ids': id 9007199254740993 out of range [0, 5) (node 'gather')");
	/* An input sent once is broadcast to the others' batch. */
	CHECK_EQ_INT(parse(m2, "{\"inputs\":{\"x\":[[1,2,3,4.5]],\"ids\":[1,2,4]}}", &in, &e), 0);
	if (in.t) {
		CHECK_EQ_INT(in.batch, 3);
		CHECK_EQ_INT(in.t[0].dims[0], 3);
		CHECK(((float *)in.t[0].data)[11] == 4.5f);
		CHECK_EQ_INT(((float *)in.t[0].data)[4], 1);
		codec_inputs_free(&in);
	}
}

static void test_errors(const mrt_model *m1, const mrt_model *m2, const mrt_model *m3)
{
	codec_inputs in;
	codec_error e;

	/* "k" cuts rows of [*,K] outputs; above the model's K it is refused. */
	CHECK_EQ_INT(parse(m1, "{\"inputs\":[[1,2,3,4]],\"k\":2}", &in, &e), 0);
	CHECK_EQ_INT(in.k, 2);
	codec_inputs_free(&in);
	expect_error(m1, "{\"inputs\":[[1,2,3,4]],\"k\":4}", "out_of_range",
		     "\"k\" (4) must be in [1, 3]: the model returns at most k = 3 items");
	expect_error(m1, "{\"inputs\":[[1,2,3,4],[1,2,3]]}", "invalid_shape",
		     "input 'x': ragged list at [1]: expected 4 elements, got 3");
	expect_error(m1, "{\"inputs\":[[1,2,3,4],5]}", "invalid_shape",
		     "input 'x': ragged list at [1]: expected a list of 4 elements, got a number");
	expect_error(m1, "{\"inputs\":[[1,2,3,4],[1,2,[3],4]]}", "invalid_shape",
		     "input 'x': ragged list at [1][2]: expected a number, got a list");
	expect_error(m3, "{\"inputs\":[[[1,2,3],[4,5,6]],[[1,2,3],[4,5]]]}", "invalid_shape",
		     "input 'v': ragged list at [1][1]: expected 3 elements, got 2");
	expect_error(m1, "{\"inputs\":[[1,2,3],[4,5,6]]}", "invalid_shape",
		     "input 'x': expected [*,4], got [2,3]");
	expect_error(m1, "{\"inputs\":[1,2,3,4]}", "invalid_shape",
		     "input 'x': expected [*,4], got [4]");
	expect_error(m3, "{\"inputs\":[[1,2,3],[4,5,6]]}", "invalid_shape",
		     "input 'v': expected [*,2,3], got [2,3]");
	expect_error(m1, "{\"inputs\":[]}", "invalid_shape",
		     "input 'x': empty batch: send at least one instance");
	expect_error(m1, "{\"inputs\":[[[[[[[[[1]]]]]]]]]}", "invalid_shape",
		     "input 'x': more than 8 nested list levels");
	expect_error(m1, "{\"inputs\":[[1,2,\"3\",4]]}", "invalid_dtype",
		     "input 'x': bad value at [0][2]: expected a number (float32), got a string");
	expect_error(m1, "{\"inputs\":[[1,2,true,4]]}", "invalid_dtype",
		     "input 'x': bad value at [0][2]: expected a number (float32), got a boolean");
	expect_error(m1, "{\"inputs\":[[1,2,null,4]]}", "invalid_dtype",
		     "input 'x': bad value at [0][2]: expected a number (float32), got null");
	expect_error(m1, "{\"inputs\":[[1,2,1e39,4]]}", "out_of_range",
		     "input 'x': bad value at [0][2]: value 1e+39 does not fit float32");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[1.5]}}", "invalid_dtype",
		     "input 'ids': bad value at [0]: expected an integer (int64), got a float");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[2.0]}}", "invalid_dtype",
		     "input 'ids': bad value at [0]: expected an integer (int64), got a float");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[\"7\"]}}", "invalid_dtype",
		     "input 'ids': bad value at [0]: expected an integer (int64), got a string");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[false]}}", "invalid_dtype",
		     "input 'ids': bad value at [0]: expected an integer (int64), got a boolean");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[[1]]}}", "invalid_shape",
		     "input 'ids': expected [*], got [1,1]");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]]}}", "missing_input",
		     "missing input 'ids' (expected: x, ids)");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4]],\"ids\":[1],\"z\":[1]}}", "unknown_input",
		     "unknown input 'z' (expected: x, ids)");
	expect_error(m2, "{\"instances\":[{\"x\":[1,2,3,4],\"ids\":1},{\"x\":[1,2,3,4]}]}",
		     "missing_input", "instances[1]: missing input 'ids' (expected: x, ids)");
	expect_error(m2, "{\"instances\":[{\"x\":[1,2,3,4],\"ids\":1,\"y\":2}]}", "unknown_input",
		     "instances[0]: unknown input 'y' (expected: x, ids)");
	expect_error(m2, "{\"instances\":[{\"x\":[1,2,3,4],\"ids\":1},[1]]}", "invalid_request",
		     "instances[1]: expected an object like instances[0], got a list");
	expect_error(m2, "{\"inputs\":{\"x\":[[1,2,3,4],[1,2,3,4]],\"ids\":[1,2,3]}}",
		     "invalid_shape", "input 'ids': batch of 3 instances, but input 'x' has 2");
	expect_error(m2, "{\"inputs\":[[1,2,3,4]]}", "invalid_request",
		     "the model has 2 inputs (x, ids): send \"inputs\" as an object of named "
		     "inputs");
	expect_error(m2, "{\"inputs\":{\"x\":5,\"ids\":[1]}}", "invalid_shape",
		     "input 'x': expected a list of instances, got an integer");
	expect_error(m1, "{\"inputs\":\"abc\"}", "invalid_request",
		     "\"inputs\" must be a list or an object, got a string");
	expect_error(m1, "{\"model\":\"m\"}", "invalid_request",
		     "the body needs \"inputs\" (or \"instances\")");
	expect_error(m1, "{\"inputs\":[[1,2,3,4]],\"instances\":[[1,2,3,4]]}", "invalid_request",
		     "send either \"inputs\" or \"instances\", not both");
	expect_error(m1, "[[1,2,3,4]]", "invalid_request", "the body must be a JSON object");
}

/* Dump j (taking it over) compactly with the codec's float formatting. */
static char *body_of(json_t *j, int used_instances)
{
	return codec_predict_body("m", j, used_instances);
}

static void expect_body(char *got, const char *want)
{
	if (!got || strcmp(got, want)) {
		fprintf(stderr, "body\n  got  %s\n  want %s\n", got ? got : "(null)", want);
		CHECK(0);
	} else {
		CHECK(1);
	}
	free(got);
}

static void test_outputs(const mrt_model *m1, const mrt_model *m2, const mrt_model *m3)
{
	float y[2 * 3] = {0.1f, 1.0f, -2.5f, NAN, -INFINITY, 1e10f};
	float emb[2 * 2] = {0.5f, 1, 3, 16777216.0f};
	float r[1 * 2 * 3] = {1, 2, 3, 4, 5, 0.25f};
	mrt_tensor t[2] = {{"y", MRT_DTYPE_F32, 2, {2, 3}, y},
			   {"emb", MRT_DTYPE_F32, 2, {2, 2}, emb}};
	mrt_tensor t3 = {"r", MRT_DTYPE_F32, 3, {1, 2, 3}, r};
	int64_t ids[3] = {7, -9, INT64_C(9007199254740993)};
	mrt_tensor ti = {"y", MRT_DTYPE_I64, 1, {3}, ids};
	char *s;

	expect_body(body_of(codec_outputs_json(m1, t, 0, 2), 0),
		    "{\"model\":\"m\",\"outputs\":[[0.100000001,1.0,-2.5],[null,null,1e10]]}");
	expect_body(body_of(codec_outputs_json(m1, t, 1, 1), 1),
		    "{\"model\":\"m\",\"predictions\":[[null,null,1e10]]}");
	expect_body(body_of(codec_outputs_json(m2, t, 0, 2), 0),
		    "{\"model\":\"m\",\"outputs\":{\"y\":[[0.100000001,1.0,-2.5],[null,null,1e10]],"
		    "\"emb\":[[0.5,1.0],[3.0,16777216.0]]}}");
	expect_body(body_of(codec_outputs_json(m2, t, 1, 1), 0),
		    "{\"model\":\"m\",\"outputs\":{\"y\":[[null,null,1e10]],"
		    "\"emb\":[[3.0,16777216.0]]}}");
	expect_body(body_of(codec_outputs_json(m3, &t3, 0, 1), 0),
		    "{\"model\":\"m\",\"outputs\":[[[1.0,2.0,3.0],[4.0,5.0,0.25]]]}");
	expect_body(body_of(codec_outputs_json(m1, &ti, 0, 3), 0),
		    "{\"model\":\"m\",\"outputs\":[7,-9,9007199254740993]}");
	expect_body(codec_predict_body(NULL, codec_outputs_json(m1, &ti, 2, 1), 0),
		    "{\"outputs\":[9007199254740993]}");
	/* Rows outside the batch: no JSON, and the body call copes with NULL. */
	CHECK(codec_outputs_json(m1, t, 1, 2) == NULL);
	CHECK(codec_predict_body("m", NULL, 0) == NULL);

	{
		codec_error e;
		codec_fail(&e, 400, "invalid_shape", "input '%s': expected %s, got %s", "x",
			   "[*,10]", "[2,9]");
		s = codec_error_body(&e);
		expect_body(s, "{\"error\":{\"code\":\"invalid_shape\","
			       "\"message\":\"input 'x': expected [*,10], got [2,9]\"}}");
		/* A message cut inside a UTF-8 character still makes valid JSON. */
		memset(e.message, 'a', sizeof(e.message));
		memcpy(e.message + sizeof(e.message) - 2, "\xc3", 1);
		e.message[sizeof(e.message) - 1] = '\0';
		s = codec_error_body(&e);
		CHECK(s != NULL && strlen(s) > 500);
		free(s);
	}
	{
		char buf[64];
		int64_t d[3] = {-1, 10, 3};
		codec_dims_str(d, 3, buf, sizeof(buf));
		CHECK(!strcmp(buf, "[*,10,3]"));
		codec_dims_str(d, 0, buf, sizeof(buf));
		CHECK(!strcmp(buf, "[]"));
	}
}

/* Every printed float32 reads back to the same bits. */
static void test_round_trip(const mrt_model *m1)
{
	enum { N = 20000 };
	static float v[N];
	mrt_tensor t = {"y", MRT_DTYPE_F32, 1, {N}, v};
	uint64_t state = 0x9e3779b97f4a7c15u;
	json_t *doc, *list;
	int i, bad = 0;
	char *s;

	for (i = 0; i < N; i++) {
		uint32_t bits;
		state = state * 6364136223846793005u + 1442695040888963407u;
		bits = (uint32_t)(state >> 32);
		if (i < 4)
			bits = (uint32_t[]){0x00000001, 0x7f7fffff, 0x80800000, 0x3eaaaaab}[i];
		memcpy(&v[i], &bits, 4);
		if (!isfinite(v[i]))
			v[i] = (float)i;
	}
	s = codec_predict_body(NULL, codec_outputs_json(m1, &t, 0, N), 0);
	CHECK(s != NULL);
	doc = s ? json_loads(s, 0, NULL) : NULL;
	list = json_object_get(doc, "outputs");
	CHECK_EQ_INT(json_array_size(list), N);
	for (i = 0; i < N && (size_t)i < json_array_size(list); i++) {
		float back = (float)json_number_value(json_array_get(list, i));
		if (memcmp(&back, &v[i], 4))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	json_decref(doc);
	free(s);
}

/* Decoded inputs run through the runtime give the values computed by hand. */
static void test_run(const mrt_model *m2)
{
	codec_inputs in;
	codec_error e;
	mrt_tensor out[2];
	char err[256];
	mrt_ctx_params cp;
	mrt_ctx *ctx;
	char *s;

	if (parse(m2,
		  "{\"instances\":[{\"x\":[1,2,3,4],\"ids\":4},{\"x\":[0.5,0,0,-1],\"ids\":0}]}",
		  &in, &e) != 0) {
		CHECK(0);
		return;
	}
	cp = mrt_ctx_default_params();
	ctx = mrt_ctx_new(m2, &cp, err, sizeof(err));
	CHECK(ctx != NULL);
	if (ctx && mrt_run(ctx, in.n, in.t, out, err, sizeof(err)) == 0) {
		s = codec_predict_body("two", codec_outputs_json(m2, out, 0, in.batch),
				       in.used_instances);
		expect_body(s, "{\"model\":\"two\",\"predictions\":{\"y\":[[1.0,2.0,10.0],"
			       "[0.5,0.0,-0.5]],\"emb\":[[4.0,4.5],[0.0,0.5]]}}");
	} else {
		fprintf(stderr, "mrt_run: %s\n", err);
		CHECK(0);
	}
	mrt_ctx_free(ctx);
	codec_inputs_free(&in);
}

int main(void)
{
	char dir[] = "test_codec.XXXXXX"; /* in the build directory */
	mrt_model *m1, *m2, *m3;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	m1 = load_model(dir, 1);
	m2 = load_model(dir, 2);
	m3 = load_model(dir, 3);
	rmdir(dir);
	CHECK(m1 && m2 && m3);
	if (!m1 || !m2 || !m3)
		TEST_END();
	test_single_input(m1);
	test_two_inputs(m2);
	test_errors(m1, m2, m3);
	test_outputs(m1, m2, m3);
	test_round_trip(m1);
	test_run(m2);
	mrt_model_free(m1);
	mrt_model_free(m2);
	mrt_model_free(m3);
	TEST_END();
}
