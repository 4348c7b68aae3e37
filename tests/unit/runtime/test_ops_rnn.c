/* LSTM and GRU against PyTorch (tests/fixtures/ops/rnn.bin): two stacked
 * bidirectional layers as two nodes, initial states, sequence_lens, reverse,
 * GRU linear_before_reset 0 (numpy reference) and 1, and Q8_0 weights. */
#include "ops_fixture.h"

#define TOL 1e-4

static fx_set *S;

/* [seq, dirs, batch, H] -> [seq, batch, dirs*H] (the next layer's input). */
static mrt__tensor *merge_dirs(const mrt__tensor *y)
{
	int64_t seq = y->dims[0], dirs = y->dims[1], b = y->dims[2], h = y->dims[3];
	mrt__tensor *m = calloc(1, sizeof(*m));
	const float *src = y->data;
	float *dst = malloc((size_t)(seq * dirs * b * h) * 4);

	for (int64_t t = 0; t < seq; t++)
		for (int64_t d = 0; d < dirs; d++)
			for (int64_t i = 0; i < b; i++)
				memcpy(dst + ((t * b + i) * dirs + d) * h,
				       src + ((t * dirs + d) * b + i) * h, (size_t)h * 4);
	m->type = MRT_TYPE_F32;
	m->ndim = 3;
	m->dims[0] = seq;
	m->dims[1] = b;
	m->dims[2] = dirs * h;
	m->data = dst;
	return m;
}

static void tensor_free(mrt__tensor *t)
{
	free(t->data);
	free(t);
}

/* Rows [from, from + n) of a [dirs, batch, H] state tensor's first dim. */
static mrt__tensor slice0(const mrt__tensor *t, int64_t from, int64_t n)
{
	mrt__tensor s = *t;
	s.dims[0] = n;
	s.data = (float *)t->data + from * t->dims[1] * t->dims[2];
	return s;
}

static void check_states(const run_out *r0, const run_out *r1, const mrt__tensor *want, int out)
{
	mrt__tensor a = slice0(want, 0, 2), b = slice0(want, 2, 2);
	CHECK_TENSOR(&r0->t[out], &a, TOL);
	CHECK_TENSOR(&r1->t[out], &b, TOL);
}

static void two_layers(const char *op, const char *p, int lstm, mrt__pool *pool)
{
	char n[8][32];
	const char *suf[8] = {"x", "w0", "r0", "b0", "w1", "r1", "b1", "h0"};
	mrt__tensor h0, h1, c0, c1, *mid;
	tnode t;
	run_out r0, r1;

	for (int i = 0; i < 8; i++)
		snprintf(n[i], sizeof(n[i]), "%s_%s", p, suf[i]);
	h0 = slice0(fx(S, n[7]), 0, 2);
	h1 = slice0(fx(S, n[7]), 2, 2);
	if (lstm) {
		char c[32];
		snprintf(c, sizeof(c), "%s_c0", p);
		c0 = slice0(fx(S, c), 0, 2);
		c1 = slice0(fx(S, c), 2, 2);
	}
	tnode_init(&t, op, lstm ? 7 : 6, lstm ? 3 : 2);
	attr_s(&t, "direction", "bidirectional");
	attr_i(&t, "hidden_size", 4);
	if (!lstm)
		attr_i(&t, "linear_before_reset", 1);
	r0 = run_op(&t,
	            (const mrt__tensor *[]){fx(S, n[0]), fx(S, n[1]), fx(S, n[2]), fx(S, n[3]),
	                                    NULL, &h0, lstm ? &c0 : NULL},
	            ~1u, pool);
	CHECK_EQ_INT(r0.status, 0);
	mid = merge_dirs(&r0.t[0]);
	r1 = run_op(&t,
	            (const mrt__tensor *[]){mid, fx(S, n[4]), fx(S, n[5]), fx(S, n[6]), NULL, &h1,
	                                    lstm ? &c1 : NULL},
	            ~1u, pool);
	CHECK_EQ_INT(r1.status, 0);
	{
		char y[32], hn[32], cn[32];
		mrt__tensor *top = merge_dirs(&r1.t[0]);
		snprintf(y, sizeof(y), "%s_y", p);
		snprintf(hn, sizeof(hn), "%s_hn", p);
		snprintf(cn, sizeof(cn), "%s_cn", p);
		CHECK_TENSOR(top, fx(S, y), TOL);
		check_states(&r0, &r1, fx(S, hn), 1);
		if (lstm)
			check_states(&r0, &r1, fx(S, cn), 2);
		tensor_free(top);
	}
	tensor_free(mid);
	run_free(&r0);
	run_free(&r1);
}

/* Bidirectional LSTM with sequence_lens [6, 4, 2] (I32 and I64). */
static void test_lstm_lens(mrt__pool *pool)
{
	mrt__tensor *lens64 = fx(S, "lstms_lens"), lens32 = *lens64;
	int32_t l32[3];
	tnode t;

	for (int i = 0; i < 3; i++)
		l32[i] = (int32_t)((int64_t *)lens64->data)[i];
	lens32.type = MRT_TYPE_I32;
	lens32.data = l32;
	for (int pass = 0; pass < 2; pass++) {
		run_out r;
		mrt__tensor *y;
		tnode_init(&t, "LSTM", 5, 3);
		attr_s(&t, "direction", "bidirectional");
		attr_i(&t, "hidden_size", 4);
		r = run_op(&t,
		           (const mrt__tensor *[]){fx(S, "lstms_x"), fx(S, "lstms_w"),
		                                   fx(S, "lstms_r"), fx(S, "lstms_b"),
		                                   pass ? lens64 : &lens32},
		           ~1u, pool);
		CHECK_EQ_INT(r.status, 0);
		y = merge_dirs(&r.t[0]);
		CHECK_TENSOR(y, fx(S, "lstms_y"), TOL);
		CHECK_TENSOR(&r.t[1], fx(S, "lstms_hn"), TOL);
		CHECK_TENSOR(&r.t[2], fx(S, "lstms_cn"), TOL);
		tensor_free(y);
		run_free(&r);
	}
	/* a length past the sequence is a range error, not a crash */
	l32[1] = 7;
	{
		run_out r =
		    run_op(&t,
		           (const mrt__tensor *[]){fx(S, "lstms_x"), fx(S, "lstms_w"),
		                                   fx(S, "lstms_r"), fx(S, "lstms_b"), &lens32},
		           ~1u, pool);
		CHECK_EQ_INT(r.status, MRT_ERR_RANGE);
		CHECK_STR_CONTAINS(r.err, "sequence_lens[1] = 7");
		run_free(&r);
	}
}

static void test_gru_single(mrt__pool *pool)
{
	tnode t;
	run_out r;

	tnode_init(&t, "GRU", 4, 2);
	attr_s(&t, "direction", "reverse");
	attr_i(&t, "hidden_size", 4);
	attr_i(&t, "linear_before_reset", 1);
	r = run_op(&t,
	           (const mrt__tensor *[]){fx(S, "grur_x"), fx(S, "grur_w"), fx(S, "grur_r"),
	                                   fx(S, "grur_b")},
	           ~1u, pool);
	CHECK_EQ_INT(r.status, 0);
	{
		mrt__tensor *y = merge_dirs(&r.t[0]);
		CHECK_TENSOR(y, fx(S, "grur_y"), TOL);
		tensor_free(y);
	}
	CHECK_TENSOR(&r.t[1], fx(S, "grur_hn"), TOL);
	run_free(&r);

	tnode_init(&t, "GRU", 6, 2); /* forward, linear_before_reset 0 */
	attr_i(&t, "hidden_size", 4);
	r = run_op(&t,
	           (const mrt__tensor *[]){fx(S, "gru0_x"), fx(S, "gru0_w"), fx(S, "gru0_r"),
	                                   fx(S, "gru0_b"), NULL, fx(S, "gru0_h0")},
	           ~1u, pool);
	CHECK_EQ_INT(r.status, 0);
	CHECK_TENSOR(&r.t[0], fx(S, "gru0_y"), TOL);
	CHECK_TENSOR(&r.t[1], fx(S, "gru0_hn"), TOL);
	run_free(&r);
}

/* Q8_0 W and R (K = 32) against the same op with the dequantized weights,
 * and the F32 op within a stated 3e-2 of the output scale. */
static void test_q8(void)
{
	enum { SEQ = 5, B = 2, IN = 32, H = 32 };
	static float x[SEQ * B * IN], w[4 * H * IN], r[4 * H * H], wd[4 * H * IN], rd[4 * H * H];
	static unsigned char wq[4 * H * IN / 32 * 34], rq[4 * H * H / 32 * 34];
	mrt__tensor tx = {MRT_TYPE_F32, 3, {SEQ, B, IN}, x};
	mrt__tensor tw = {MRT_TYPE_F32, 3, {1, 4 * H, IN}, w},
	            tr = {MRT_TYPE_F32, 3, {1, 4 * H, H}, r};
	mrt__tensor twq = tw, trq = tr, twd = tw, trd = tr;
	uint32_t seed = 1;
	tnode t;
	run_out a, b, c;

	for (size_t i = 0; i < sizeof(x) / 4 + sizeof(w) / 4 + sizeof(r) / 4; i++) {
		float *p = i < SEQ * B * IN                ? &x[i]
		           : i < SEQ * B * IN + 4 * H * IN ? &w[i - SEQ * B * IN]
		                                           : &r[i - SEQ * B * IN - 4 * H * IN];
		seed = seed * 1664525u + 1013904223u;
		*p = ((float)(seed >> 8) / (float)(1 << 24) - 0.5f) *
		     (i < SEQ * B * IN ? 2.0f : 0.4f);
	}
	twq.type = trq.type = MRT_TYPE_Q8_0;
	twq.data = wq;
	trq.data = rq;
	twd.data = wd;
	trd.data = rd;
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, w, wq, 4 * H * IN), 0);
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, r, rq, 4 * H * H), 0);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, wq, wd, 4 * H * IN), 0);
	CHECK_EQ_INT(mrt_dequantize(MRT_TYPE_Q8_0, rq, rd, 4 * H * H), 0);
	tnode_init(&t, "LSTM", 3, 3);
	attr_i(&t, "hidden_size", H);
	a = run_op(&t, (const mrt__tensor *[]){&tx, &twq, &trq}, ~1u, NULL);
	b = run_op(&t, (const mrt__tensor *[]){&tx, &twd, &trd}, ~1u, NULL);
	c = run_op(&t, (const mrt__tensor *[]){&tx, &tw, &tr}, ~1u, NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK_EQ_INT(b.status, 0);
	CHECK_TENSOR(&a.t[0], &b.t[0], 3e-2);
	CHECK_TENSOR(&a.t[0], &c.t[0], 3e-2);
	run_free(&a);
	run_free(&b);
	run_free(&c);
}

static void test_errors(void)
{
	tnode t;
	run_out r;

	tnode_init(&t, "LSTM", 3, 1);
	attr_i(&t, "hidden_size", 5); /* R says 4 */
	r = run_op(&t,
	           (const mrt__tensor *[]){fx(S, "lstms_x"), fx(S, "lstms_w"), fx(S, "lstms_r")},
	           ~1u, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(r.err, "hidden_size");
	run_free(&r);

	tnode_init(&t, "LSTM", 3, 1); /* one direction, but W holds two */
	attr_i(&t, "hidden_size", 4);
	r = run_op(&t,
	           (const mrt__tensor *[]){fx(S, "lstms_x"), fx(S, "lstms_w"), fx(S, "lstms_r")},
	           ~1u, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(r.err, "test_node");
	run_free(&r);

	tnode_init(&t, "GRU", 3, 1);
	attr_s(&t, "direction", "sideways");
	r = run_op(&t, (const mrt__tensor *[]){fx(S, "grur_x"), fx(S, "grur_w"), fx(S, "grur_r")},
	           ~1u, NULL);
	CHECK_EQ_INT(r.status, MRT_ERR_UNSUPPORTED);
	run_free(&r);
}

int main(void)
{
	mrt__pool *pool = mrt__pool_new(2);

	S = fx_load("rnn.bin");
	for (int pass = 0; pass < 2; pass++) {
		mrt__pool *p = pass ? pool : NULL;
		two_layers("LSTM", "lstm", 1, p);
		two_layers("GRU", "gru", 0, p);
		test_lstm_lens(p);
		test_gru_single(p);
	}
	test_q8();
	test_errors();
	mrt__pool_free(pool);
	TEST_END();
}
