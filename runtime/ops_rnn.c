/* Operator table ops_rnn: LSTM and GRU with ONNX semantics (layout 0,
 * forward/reverse/bidirectional, optional B, sequence_lens, initial states,
 * clip, default activations; GRU linear_before_reset 0 and 1). X * W^T is
 * computed for all timesteps in one mrt__linear call, then each step does
 * H * R^T at M = batch; W and R may be quantized constants. */
#include <math.h>
#include <string.h>

#include "ops.h"

enum { RNN_LSTM = 0, RNN_GRU = 1 };

/* Everything fixed for one node and input shape. */
typedef struct rnn_geom {
	int kind;          /* RNN_LSTM or RNN_GRU */
	int gates;         /* 4 (iofc) or 3 (zrh) */
	int dirs, reverse; /* 1 or 2 directions; reverse-only when 1 */
	int lbr;           /* GRU linear_before_reset */
	int64_t seq, batch, in, hid;
	float clip; /* 0: none */
} rnn_geom;

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static int rnn_attrs(const mrt__node *node, rnn_geom *g, char *err, size_t errlen)
{
	const mrt__attr *dir = mrt__node_attr(node, "direction");
	int64_t layout = 0, input_forget = 0, lbr = 0;

	g->kind = !strcmp(node->op, "GRU") ? RNN_GRU : RNN_LSTM;
	g->gates = g->kind == RNN_GRU ? 3 : 4;
	g->dirs = 1;
	g->reverse = 0;
	if (dir && (dir->kind != MRT__ATTR_STRING || !dir->s))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad direction");
	if (dir && !strcmp(dir->s, "reverse"))
		g->reverse = 1;
	else if (dir && !strcmp(dir->s, "bidirectional"))
		g->dirs = 2;
	else if (dir && strcmp(dir->s, "forward"))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "unknown direction '%s'", dir->s);
	if (mrt__attr_int(node, "layout", 0, &layout) < 0 || layout != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "only layout 0");
	if (mrt__attr_int(node, "input_forget", 0, &input_forget) < 0 || input_forget != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "input_forget is not supported");
	if (mrt__attr_int(node, "linear_before_reset", 0, &lbr) < 0 || lbr < 0 || lbr > 1)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "linear_before_reset must be 0 or 1");
	g->lbr = (int)lbr;
	if (mrt__node_attr(node, "activations") || mrt__node_attr(node, "activation_alpha") ||
	    mrt__node_attr(node, "activation_beta"))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "only the default activations are supported");
	g->clip = mrt__attr_float(node, "clip", 0.0f);
	if (g->clip < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "clip must be > 0");
	return 0;
}

/* Check the shapes: X [seq, batch, in], W [dirs, G*H, in], R [dirs, G*H, H],
 * B [dirs, 2*G*H], sequence_lens [batch], initial states [dirs, batch, H].
 * dims[i]/ndim[i] describe input i (ndim -1 when absent). */
static int rnn_shapes(const mrt__node *node, rnn_geom *g, const int64_t *const *dims,
                      const int *ndim, char *err, size_t errlen)
{
	int64_t hid = 0, gh;
	const int64_t *x = dims[0], *w = dims[1], *r = dims[2];

	if (ndim[0] != 3 || ndim[1] != 3 || ndim[2] != 3)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "X, W and R must have rank 3");
	if (mrt__attr_int(node, "hidden_size", r[2], &hid) < 0 || hid < 1 || hid != r[2])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "hidden_size %lld does not match R [%lld, %lld, %lld]",
		                    (long long)hid, (long long)r[0], (long long)r[1],
		                    (long long)r[2]);
	gh = g->gates * hid;
	g->seq = x[0];
	g->batch = x[1];
	g->in = x[2];
	g->hid = hid;
	if (w[0] != g->dirs || w[1] != gh || (x[2] >= 0 && w[2] != x[2]) || r[0] != g->dirs ||
	    r[1] != gh)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "W must be [%d, %lld, %lld] and R [%d, %lld, %lld]", g->dirs,
		                    (long long)gh, (long long)x[2], g->dirs, (long long)gh,
		                    (long long)hid);
	g->in = w[2];
	if (ndim[3] >= 0 && (ndim[3] != 2 || dims[3][0] != g->dirs || dims[3][1] != 2 * gh))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "B must be [%d, %lld]",
		                    g->dirs, (long long)(2 * gh));
	if (ndim[4] >= 0 && (ndim[4] != 1 || (x[1] >= 0 && dims[4][0] >= 0 && dims[4][0] != x[1])))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "sequence_lens must be [batch]");
	for (int i = 5; i < (g->kind == RNN_LSTM ? 7 : 6); i++) {
		if (ndim[i] >= 0 && (ndim[i] != 3 || dims[i][0] != g->dirs || dims[i][2] != hid ||
		                     (x[1] >= 0 && dims[i][1] >= 0 && dims[i][1] != x[1])))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "initial states must be [%d, batch, %lld]", g->dirs,
			                    (long long)hid);
	}
	if (g->kind == RNN_LSTM && ndim[7] >= 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "peepholes (P) are not supported");
	return 0;
}

static int rnn_infer(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, mrt__value_info *out, char *err,
                     size_t errlen)
{
	const int64_t *dims[8];
	int ndim[8], rc;
	rnn_geom g;

	rc = rnn_attrs(node, &g, err, errlen);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 8; i++) {
		const mrt__const *c = in_const && i < node->n_in ? in_const[i] : NULL;
		int present = i < node->n_in && in[i];
		dims[i] = c ? c->dims : present ? in[i]->dims : NULL;
		ndim[i] = c ? c->ndim : present ? in[i]->ndim : -1;
	}
	if (!dims[0] || !dims[1] || !dims[2])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs X, W and R");
	if (in[0]->type != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "X must be float32");
	rc = rnn_shapes(node, &g, dims, ndim, err, errlen);
	if (rc < 0)
		return rc;
	for (int o = 0; o < node->n_out && o < (g.kind == RNN_LSTM ? 3 : 2); o++) {
		out[o].type = MRT_TYPE_F32;
		out[o].ndim = o == 0 ? 4 : 3;
		int64_t *d = out[o].dims;
		if (o == 0) {
			d[0] = g.seq;
			d[1] = g.dirs;
			d[2] = g.batch;
			d[3] = g.hid;
		} else {
			d[0] = g.dirs;
			d[1] = g.batch;
			d[2] = g.hid;
		}
	}
	return 0;
}

/* Scratch layout, in order: xw [seq*batch, G*H], gates [batch, G*H],
 * rh [batch, H], h [batch, H], c [batch, H], bias [G*H], rbh [H], linear. */
typedef struct rnn_scratch {
	float *xw, *gates, *rh, *h, *c, *bias, *rbh;
	void *lin;
	size_t total;
} rnn_scratch;

static void rnn_layout(const rnn_geom *g, int wt, int rt, char *base, rnn_scratch *s)
{
	size_t gh = (size_t)(g->gates * g->hid), off = 0, lw, lr;
	size_t sz[7] = {(size_t)(g->seq * g->batch) * gh,
	                (size_t)g->batch * gh,
	                (size_t)(g->batch * g->hid),
	                (size_t)(g->batch * g->hid),
	                (size_t)(g->batch * g->hid),
	                gh,
	                (size_t)g->hid};
	float **dst[7] = {&s->xw, &s->gates, &s->rh, &s->h, &s->c, &s->bias, &s->rbh};

	for (int i = 0; i < 7; i++) {
		*dst[i] = base ? (float *)(base + off) : NULL;
		off += align64(sz[i] * sizeof(float));
	}
	lw = mrt__linear_scratch(wt, g->seq * g->batch, g->in);
	lr = mrt__linear_scratch(rt, g->batch, g->hid);
	s->lin = base ? base + off : NULL;
	s->total = off + align64(lw > lr ? lw : lr);
}

static int rnn_geom_run(const mrt__node *node, const mrt__tensor *const *in, rnn_geom *g, char *err,
                        size_t errlen)
{
	const int64_t *dims[8];
	int ndim[8], rc = rnn_attrs(node, g, err, errlen);

	if (rc < 0)
		return rc;
	for (int i = 0; i < 8; i++) {
		int present = i < node->n_in && in[i];
		dims[i] = present ? in[i]->dims : NULL;
		ndim[i] = present ? in[i]->ndim : -1;
	}
	return rnn_shapes(node, g, dims, ndim, err, errlen);
}

static size_t rnn_scratch_size(const mrt__node *node, const mrt__tensor *const *in,
                               const mrt__tensor *out)
{
	rnn_geom g;
	rnn_scratch s;
	char err[8];

	if (rnn_geom_run(node, in, &g, err, sizeof(err)) < 0)
		return 0;
	rnn_layout(&g, in[1]->type, in[2]->type, NULL, &s);
	return s.total;
}

static float sigm(float v)
{
	return 1.0f / (1.0f + expf(-v));
}

static float clipv(const rnn_geom *g, float v)
{
	if (g->clip > 0)
		v = v > g->clip ? g->clip : v < -g->clip ? -g->clip : v;
	return v;
}

/* Per-run state handed to the step functions. */
typedef struct rnn_run {
	const rnn_geom *g;
	rnn_scratch s;
	const void *rw;          /* R of this direction */
	int rt;                  /* R type */
	size_t rrow;             /* bytes per R row */
	float *y;                /* Y, or NULL */
	int d;                   /* direction index */
	const mrt__tensor *lens; /* sequence_lens (I32 or I64), or NULL: all seq */
	mrt__pool *pool;
} rnn_run;

/* Time index processed by batch row b at step s, or -1 when b is done. */
static int64_t rnn_time(const rnn_run *r, int64_t s, int64_t b, int rev)
{
	int64_t len = r->g->seq;
	if (r->lens)
		len = r->lens->type == MRT_TYPE_I32 ? ((const int32_t *)r->lens->data)[b]
		                                    : ((const int64_t *)r->lens->data)[b];
	if (s >= len)
		return -1;
	return rev ? len - 1 - s : s;
}

static void rnn_store(const rnn_run *r, int64_t t, int64_t b)
{
	const rnn_geom *g = r->g;
	if (r->y)
		memcpy(r->y + ((t * g->dirs + r->d) * g->batch + b) * g->hid, r->s.h + b * g->hid,
		       (size_t)g->hid * sizeof(float));
}

static int lstm_step(rnn_run *r, int64_t s, int rev)
{
	const rnn_geom *g = r->g;
	int64_t H = g->hid, GH = 4 * H;
	int rc = mrt__linear(r->s.h, (size_t)H, r->rw, r->rt, NULL, r->s.gates, (size_t)GH,
	                     g->batch, GH, H, 0, r->s.lin, r->pool);

	if (rc < 0)
		return rc;
	for (int64_t b = 0; b < g->batch; b++) {
		int64_t t = rnn_time(r, s, b, rev);
		if (t < 0)
			continue;
		const float *xr = r->s.xw + (t * g->batch + b) * GH;
		float *gr = r->s.gates + b * GH, *h = r->s.h + b * H, *c = r->s.c + b * H;
		for (int64_t j = 0; j < H; j++) {
			float i = sigm(clipv(g, xr[j] + gr[j]));
			float o = sigm(clipv(g, xr[H + j] + gr[H + j]));
			float f = sigm(clipv(g, xr[2 * H + j] + gr[2 * H + j]));
			float cc = tanhf(clipv(g, xr[3 * H + j] + gr[3 * H + j]));
			c[j] = f * c[j] + i * cc;
			h[j] = o * tanhf(c[j]);
		}
		rnn_store(r, t, b);
	}
	return 0;
}

static int gru_step(rnn_run *r, int64_t s, int rev)
{
	const rnn_geom *g = r->g;
	int64_t H = g->hid, GH = 3 * H;
	/* linear_before_reset 0: the h gate's R product needs r (.) h first. */
	int64_t n_first = g->lbr ? GH : 2 * H;
	int rc = mrt__linear(r->s.h, (size_t)H, r->rw, r->rt, NULL, r->s.gates, (size_t)GH,
	                     g->batch, n_first, H, 0, r->s.lin, r->pool);

	if (rc < 0)
		return rc;
	if (!g->lbr) {
		for (int64_t b = 0; b < g->batch; b++) {
			int64_t t = rnn_time(r, s, b, rev);
			const float *xr = r->s.xw + (t < 0 ? 0 : t * g->batch + b) * GH;
			const float *gr = r->s.gates + b * GH;
			for (int64_t j = 0; j < H; j++)
				r->s.rh[b * H + j] = t < 0 ? 0.0f
				                           : sigm(clipv(g, xr[H + j] + gr[H + j])) *
				                                 r->s.h[b * H + j];
		}
		rc = mrt__linear(r->s.rh, (size_t)H, (const char *)r->rw + 2 * H * r->rrow, r->rt,
		                 NULL, r->s.gates + 2 * H, (size_t)GH, g->batch, H, H, 0, r->s.lin,
		                 r->pool);
		if (rc < 0)
			return rc;
	}
	for (int64_t b = 0; b < g->batch; b++) {
		int64_t t = rnn_time(r, s, b, rev);
		if (t < 0)
			continue;
		const float *xr = r->s.xw + (t * g->batch + b) * GH;
		float *gr = r->s.gates + b * GH, *h = r->s.h + b * H;
		for (int64_t j = 0; j < H; j++) {
			float z = sigm(clipv(g, xr[j] + gr[j]));
			float rr = sigm(clipv(g, xr[H + j] + gr[H + j]));
			float hl = g->lbr ? rr * (gr[2 * H + j] + r->s.rbh[j]) : gr[2 * H + j];
			float hh = tanhf(clipv(g, xr[2 * H + j] + hl));
			h[j] = (1.0f - z) * hh + z * h[j];
		}
		rnn_store(r, t, b);
	}
	return 0;
}

/* Bias for the input projection: Wb + Rb, except the GRU h gate with
 * linear_before_reset, whose Rb goes inside the reset product (rbh). */
static void rnn_bias(const rnn_geom *g, const float *bd, rnn_scratch *s)
{
	int64_t GH = g->gates * g->hid;
	for (int64_t j = 0; j < GH; j++) {
		int sep = g->kind == RNN_GRU && g->lbr && j >= 2 * g->hid;
		s->bias[j] = bd ? bd[j] + (sep ? 0.0f : bd[GH + j]) : 0.0f;
		if (sep)
			s->rbh[j - 2 * g->hid] = bd ? bd[GH + j] : 0.0f;
	}
	if (!(g->kind == RNN_GRU && g->lbr))
		memset(s->rbh, 0, (size_t)g->hid * sizeof(float));
}

static void rnn_init_state(const rnn_geom *g, const mrt__tensor *t, int d, float *dst)
{
	size_t n = (size_t)(g->batch * g->hid);
	if (t)
		memcpy(dst, (const float *)t->data + d * n, n * sizeof(float));
	else
		memset(dst, 0, n * sizeof(float));
}

static int rnn_check_lens(const mrt__node *node, const rnn_geom *g, const mrt__tensor *lens,
                          char *err, size_t errlen)
{
	if (!lens)
		return 0;
	if (lens->type != MRT_TYPE_I32 && lens->type != MRT_TYPE_I64)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
		                    "sequence_lens must be int32 or int64");
	if (lens->ndim != 1 || lens->dims[0] != g->batch)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "sequence_lens must have %lld values", (long long)g->batch);
	for (int64_t b = 0; b < g->batch; b++) {
		int64_t v = lens->type == MRT_TYPE_I32 ? ((const int32_t *)lens->data)[b]
		                                       : ((const int64_t *)lens->data)[b];
		if (v < 0 || v > g->seq)
			return mrt__op_fail(node, MRT_ERR_RANGE, err, errlen,
			                    "sequence_lens[%lld] = %lld outside [0, %lld]",
			                    (long long)b, (long long)v, (long long)g->seq);
	}
	return 0;
}

/* One direction: input projection for all steps, then the recurrence. */
static int rnn_direction(rnn_run *r, const mrt__tensor *const *in, int n_in, int d)
{
	const rnn_geom *g = r->g;
	int64_t GH = g->gates * g->hid;
	int wt = in[1]->type, rc;
	uint64_t wrow, rrow;
	int rev = g->dirs == 2 ? d == 1 : g->reverse;

	if (mrt_type_nbytes(wt, (uint64_t)g->in, &wrow) < 0 ||
	    mrt_type_nbytes(r->rt, (uint64_t)g->hid, &rrow) < 0)
		return MRT_ERR_UNSUPPORTED;
	r->d = d;
	r->rrow = (size_t)rrow;
	r->rw = (const char *)in[2]->data + (size_t)(d * GH) * (size_t)rrow;
	rnn_bias(g, n_in > 3 && in[3] ? (const float *)in[3]->data + d * 2 * GH : NULL, &r->s);
	rc = mrt__linear(in[0]->data, (size_t)g->in,
	                 (const char *)in[1]->data + (size_t)(d * GH) * wrow, wt, r->s.bias,
	                 r->s.xw, (size_t)GH, g->seq * g->batch, GH, g->in, 0, r->s.lin, r->pool);
	if (rc < 0)
		return rc;
	rnn_init_state(g, n_in > 5 ? in[5] : NULL, d, r->s.h);
	if (g->kind == RNN_LSTM)
		rnn_init_state(g, n_in > 6 ? in[6] : NULL, d, r->s.c);
	for (int64_t s = 0; s < g->seq; s++) {
		rc = g->kind == RNN_LSTM ? lstm_step(r, s, rev) : gru_step(r, s, rev);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int rnn_run_op(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	rnn_geom g;
	rnn_run r;
	size_t hb;
	int rc = rnn_geom_run(node, in, &g, err, errlen);

	if (rc < 0)
		return rc;
	r = (rnn_run){
	    .g = &g, .rt = in[2]->type, .pool = ctx->pool, .lens = node->n_in > 4 ? in[4] : NULL};
	rc = rnn_check_lens(node, &g, r.lens, err, errlen);
	if (rc < 0)
		return rc;
	rnn_layout(&g, in[1]->type, in[2]->type, ctx->scratch, &r.s);
	if (!ctx->scratch || ctx->scratch_size < r.s.total)
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	r.y = node->n_out > 0 ? out[0].data : NULL;
	if (r.y && r.lens)
		memset(r.y, 0, (size_t)(g.seq * g.dirs * g.batch * g.hid) * sizeof(float));
	hb = (size_t)(g.batch * g.hid) * sizeof(float);
	for (int d = 0; d < g.dirs; d++) {
		rc = rnn_direction(&r, in, node->n_in, d);
		if (rc < 0)
			return mrt__op_fail(node, rc, err, errlen,
			                    "no kernel for weight types %d/%d", in[1]->type,
			                    in[2]->type);
		if (node->n_out > 1 && out[1].data)
			memcpy((char *)out[1].data + d * hb, r.s.h, hb);
		if (g.kind == RNN_LSTM && node->n_out > 2 && out[2].data)
			memcpy((char *)out[2].data + d * hb, r.s.c, hb);
	}
	return 0;
}

const mrt__op_def mrt__ops_rnn[] = {
    {"LSTM", rnn_infer, rnn_scratch_size, rnn_run_op, (1u << 1) | (1u << 2)},
    {"GRU", rnn_infer, rnn_scratch_size, rnn_run_op, (1u << 1) | (1u << 2)},
    {NULL},
};
