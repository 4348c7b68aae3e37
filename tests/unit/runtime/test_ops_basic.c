/* Elementwise, shape and linear operators against hand-computed values,
 * run through mrt__node_eval (the constant-folding entry point, which calls
 * each op's infer and run) and mrt__node_infer for symbolic shapes. */
#include <stdint.h>

#include "ops.h"
#include "test.h"

/* ---- building nodes and constants ---- */

typedef struct tnode {
	mrt__node n;
	char *in[8], *out[4];
	mrt__attr attr[8];
} tnode;

static void node_init(tnode *t, const char *op, int n_in, int n_out)
{
	static char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
	static char *onames[] = {"y0", "y1", "y2", "y3"};
	int i;

	memset(t, 0, sizeof(*t));
	t->n.op = (char *)op;
	t->n.name = "n";
	t->n.n_in = n_in;
	t->n.n_out = n_out;
	for (i = 0; i < n_in; i++)
		t->in[i] = names[i];
	for (i = 0; i < n_out; i++)
		t->out[i] = onames[i];
	t->n.in = t->in;
	t->n.out = t->out;
	t->n.attr = t->attr;
}

static mrt__attr *attr_add(tnode *t, const char *name, int kind)
{
	mrt__attr *a = &t->attr[t->n.n_attr++];
	memset(a, 0, sizeof(*a));
	a->name = (char *)name;
	a->kind = kind;
	return a;
}

static void attr_i(tnode *t, const char *name, int64_t v)
{
	attr_add(t, name, MRT__ATTR_INT)->i = v;
}

static void attr_f(tnode *t, const char *name, float v)
{
	attr_add(t, name, MRT__ATTR_FLOAT)->f = v;
}

static void attr_s(tnode *t, const char *name, const char *v)
{
	attr_add(t, name, MRT__ATTR_STRING)->s = (char *)v;
}

static void attr_ints(tnode *t, const char *name, int64_t *v, int n)
{
	mrt__attr *a = attr_add(t, name, MRT__ATTR_INTS);
	a->ints = v;
	a->n = n;
}

static mrt__const cst(int type, void *data, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
	mrt__const c;
	int64_t d[3] = {d0, d1, d2};
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.ndim = ndim;
	memcpy(c.dims, d, sizeof(int64_t) * (size_t)(ndim < 3 ? ndim : 3));
	c.data = data;
	return c;
}

#define CF(data, ndim, d0, d1, d2) cst(MRT_TYPE_F32, data, ndim, d0, d1, d2)
#define CI(data, ndim, d0, d1, d2) cst(MRT_TYPE_I64, data, ndim, d0, d1, d2)

static char errbuf[512];

/* Evaluate t on up to 5 constants (NULL = absent); out must be freed. */
static int ev(tnode *t, mrt__const *out, const mrt__const *a, const mrt__const *b,
              const mrt__const *c, const mrt__const *d, const mrt__const *e)
{
	const mrt__const *in[5] = {a, b, c, d, e};
	int rc;

	errbuf[0] = 0;
	rc = mrt__node_eval(&t->n, in, out, errbuf, sizeof(errbuf));
	if (rc != 0)
		fprintf(stderr, "  eval %s: %d %s\n", t->n.op, rc, errbuf);
	return rc;
}

static void check_f(const mrt__const *o, const float *want, int64_t n, double tol)
{
	int64_t i;

	CHECK_EQ_INT(o->type, MRT_TYPE_F32);
	CHECK_EQ_INT(mrt__numel(o->dims, o->ndim), n);
	if (o->type != MRT_TYPE_F32 || mrt__numel(o->dims, o->ndim) != n)
		return;
	for (i = 0; i < n; i++)
		CHECK_NEAR(((float *)o->data)[i], want[i], tol);
}

static void check_i(const mrt__const *o, const int64_t *want, int64_t n)
{
	int64_t i;

	CHECK_EQ_INT(o->type, MRT_TYPE_I64);
	CHECK_EQ_INT(mrt__numel(o->dims, o->ndim), n);
	if (o->type != MRT_TYPE_I64 || mrt__numel(o->dims, o->ndim) != n)
		return;
	for (i = 0; i < n; i++)
		CHECK_EQ_INT(((int64_t *)o->data)[i], want[i]);
}

static void dims_are(const mrt__const *o, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
	int64_t d[3] = {d0, d1, d2};
	int i;

	CHECK_EQ_INT(o->ndim, ndim);
	for (i = 0; i < ndim && i < 3 && i < o->ndim; i++)
		CHECK_EQ_INT(o->dims[i], d[i]);
}

static void done(mrt__const *o)
{
	free(o->data);
	o->data = NULL;
}

/* ---- elementwise ---- */

static void test_broadcast(void)
{
	float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, col[2] = {2, 3};
	float row[3] = {1, 2, 4};
	mrt__const A = CF(a, 2, 2, 3, 0), B = CF(b, 1, 3, 0, 0), C = CF(col, 2, 2, 1, 0);
	mrt__const R = CF(row, 2, 1, 3, 0), o;
	tnode t;

	node_init(&t, "Add", 2, 1);
	if (ev(&t, &o, &A, &B, NULL, NULL, NULL) == 0) {
		float w[6] = {11, 22, 33, 14, 25, 36};
		dims_are(&o, 2, 2, 3, 0);
		check_f(&o, w, 6, 0);
		done(&o);
	}
	node_init(&t, "Mul", 2, 1); /* [2,1] x [1,3] -> [2,3] */
	if (ev(&t, &o, &C, &R, NULL, NULL, NULL) == 0) {
		float w[6] = {2, 4, 8, 3, 6, 12};
		dims_are(&o, 2, 2, 3, 0);
		check_f(&o, w, 6, 0);
		done(&o);
	}
	node_init(&t, "Sub", 2, 1);
	if (ev(&t, &o, &B, &A, NULL, NULL, NULL) == 0) {
		float w[6] = {9, 18, 27, 6, 15, 24};
		check_f(&o, w, 6, 0);
		done(&o);
	}
	node_init(&t, "Div", 2, 1);
	if (ev(&t, &o, &A, &C, NULL, NULL, NULL) == 0) {
		float w[6] = {0.5f, 1, 1.5f, 4.0f / 3, 5.0f / 3, 2};
		check_f(&o, w, 6, 1e-6);
		done(&o);
	}
	{
		float e = 2;
		mrt__const E = CF(&e, 0, 0, 0, 0);
		node_init(&t, "Pow", 2, 1);
		if (ev(&t, &o, &A, &E, NULL, NULL, NULL) == 0) {
			float w[6] = {1, 4, 9, 16, 25, 36};
			check_f(&o, w, 6, 1e-5);
			done(&o);
		}
	}
	{
		int64_t x[3] = {5, -7, 9}, y[1] = {2};
		mrt__const X = CI(x, 1, 3, 0, 0), Y = CI(y, 1, 1, 0, 0);
		node_init(&t, "Div", 2, 1);
		if (ev(&t, &o, &X, &Y, NULL, NULL, NULL) == 0) {
			int64_t w[3] = {2, -3, 4}; /* truncation, like C and ONNX */
			check_i(&o, w, 3);
			done(&o);
		}
		node_init(&t, "Mul", 2, 1);
		if (ev(&t, &o, &X, &Y, NULL, NULL, NULL) == 0) {
			int64_t w[3] = {10, -14, 18};
			check_i(&o, w, 3);
			done(&o);
		}
	}
	{ /* incompatible shapes are refused with a message */
		float z[4] = {0};
		mrt__const Z = CF(z, 1, 4, 0, 0);
		node_init(&t, "Add", 2, 1);
		CHECK_EQ_INT(mrt__node_eval(&t.n, (const mrt__const *[]){&A, &Z}, &o, errbuf,
		                            sizeof(errbuf)),
		             MRT_ERR_SHAPE);
		CHECK_STR_CONTAINS(errbuf, "node 'n' (Add): shapes cannot be broadcast");
	}
}

static void test_where_equal_minmax(void)
{
	float a[4] = {1, 5, 3, 7}, b[4] = {1, 2, 3, 4}, hi = 4;
	mrt__const A = CF(a, 1, 4, 0, 0), B = CF(b, 1, 4, 0, 0), H = CF(&hi, 0, 0, 0, 0), o, eq;
	tnode t;

	node_init(&t, "Equal", 2, 1);
	if (ev(&t, &eq, &A, &B, NULL, NULL, NULL) == 0) {
		int64_t w[4] = {1, 0, 1, 0};
		check_i(&eq, w, 4);
		node_init(&t, "Where", 3, 1);
		if (ev(&t, &o, &eq, &A, &H, NULL, NULL) == 0) {
			float ww[4] = {1, 4, 3, 4};
			check_f(&o, ww, 4, 0);
			done(&o);
		}
		done(&eq);
	}
	node_init(&t, "Max", 2, 1);
	if (ev(&t, &o, &A, &H, NULL, NULL, NULL) == 0) {
		float w[4] = {4, 5, 4, 7};
		check_f(&o, w, 4, 0);
		done(&o);
	}
	node_init(&t, "Min", 3, 1);
	if (ev(&t, &o, &A, &B, &H, NULL, NULL) == 0) {
		float w[4] = {1, 2, 3, 4};
		check_f(&o, w, 4, 0);
		done(&o);
	}
}

static void unary(const char *op, const char *approx, float alpha, const float *x,
                  const float *want, int n, double tol)
{
	mrt__const X = CF((void *)x, 1, n, 0, 0), o;
	tnode t;

	node_init(&t, op, 1, 1);
	if (approx)
		attr_s(&t, "approximate", approx);
	if (alpha != 0)
		attr_f(&t, "alpha", alpha);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		check_f(&o, want, n, tol);
		done(&o);
	}
}

static void test_unary(void)
{
	float x[5] = {-2, -0.5f, 0, 0.5f, 1};

	/* erf, gelu values from tables (Abramowitz & Stegun; exact formulas) */
	unary("Erf", NULL, 0, x,
	      (float[]){-0.995322265f, -0.520499878f, 0, 0.520499878f, 0.842700793f}, 5, 1e-6);
	unary("Gelu", NULL, 0, x,
	      (float[]){-0.0455002639f, -0.154268769f, 0, 0.345731231f, 0.841344746f}, 5, 1e-6);
	unary("Gelu", "none", 0, x,
	      (float[]){-0.0455002639f, -0.154268769f, 0, 0.345731231f, 0.841344746f}, 5, 1e-6);
	unary("Gelu", "tanh", 0, x,
	      (float[]){-0.0454023059f, -0.154285990f, 0, 0.345714010f, 0.841191990f}, 5, 1e-6);
	unary("Relu", NULL, 0, x, (float[]){0, 0, 0, 0.5f, 1}, 5, 0);
	unary("LeakyRelu", NULL, 0.1f, x, (float[]){-0.2f, -0.05f, 0, 0.5f, 1}, 5, 1e-7);
	unary("LeakyRelu", NULL, 0, x, (float[]){-0.02f, -0.005f, 0, 0.5f, 1}, 5, 1e-7);
	unary("Sigmoid", NULL, 0, x,
	      (float[]){0.119202922f, 0.377540669f, 0.5f, 0.622459331f, 0.731058579f}, 5, 1e-6);
	unary("Tanh", NULL, 0, x,
	      (float[]){-0.964027580f, -0.462117157f, 0, 0.462117157f, 0.761594156f}, 5, 1e-6);
	unary("Neg", NULL, 0, x, (float[]){2, 0.5f, 0, -0.5f, -1}, 5, 0);
	unary("Abs", NULL, 0, x, (float[]){2, 0.5f, 0, 0.5f, 1}, 5, 0);
	unary("Sqrt", NULL, 0, (float[]){0, 1, 4, 2.25f, 100}, (float[]){0, 1, 2, 1.5f, 10}, 5,
	      1e-7);
	unary("Exp", NULL, 0, x, (float[]){0.135335283f, 0.60653066f, 1, 1.64872127f, 2.718281828f},
	      5, 1e-6);
	unary("Identity", NULL, 0, x, x, 5, 0);
	{ /* Clip with min/max as inputs (opset 11+) */
		float lo = -1, hi = 0.5f;
		mrt__const X = CF(x, 1, 5, 0, 0), L = CF(&lo, 0, 0, 0, 0), H = CF(&hi, 0, 0, 0, 0),
		           o;
		tnode t;
		node_init(&t, "Clip", 3, 1);
		if (ev(&t, &o, &X, &L, &H, NULL, NULL) == 0) {
			check_f(&o, (float[]){-1, -0.5f, 0, 0.5f, 0.5f}, 5, 0);
			done(&o);
		}
	}
	{ /* a bad Gelu mode is refused */
		mrt__const X = CF(x, 1, 5, 0, 0), o;
		tnode t;
		node_init(&t, "Gelu", 1, 1);
		attr_s(&t, "approximate", "fast");
		CHECK_EQ_INT(
		    mrt__node_eval(&t.n, (const mrt__const *[]){&X}, &o, errbuf, sizeof(errbuf)),
		    MRT_ERR_UNSUPPORTED);
		CHECK_STR_CONTAINS(errbuf, "approximate");
	}
}

static void test_cast(void)
{
	float x[4] = {2.7f, -2.7f, 0, 1e3f};
	int64_t xi[3] = {3, -4, 0};
	mrt__const X = CF(x, 1, 4, 0, 0), XI = CI(xi, 1, 3, 0, 0), o;
	tnode t;

	node_init(&t, "Cast", 1, 1);
	attr_i(&t, "to", 7);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		check_i(&o, (int64_t[]){2, -2, 0, 1000}, 4);
		done(&o);
	}
	node_init(&t, "Cast", 1, 1);
	attr_i(&t, "to", 1);
	if (ev(&t, &o, &XI, NULL, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){3, -4, 0}, 3, 0);
		done(&o);
	}
	node_init(&t, "Cast", 1, 1);
	attr_i(&t, "to", 9); /* bool: carried as int64 0/1 */
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		check_i(&o, (int64_t[]){1, 1, 0, 1}, 4);
		done(&o);
	}
	node_init(&t, "Cast", 1, 1);
	attr_i(&t, "to", 8); /* string */
	CHECK_EQ_INT(mrt__node_eval(&t.n, (const mrt__const *[]){&X}, &o, errbuf, sizeof(errbuf)),
	             MRT_ERR_UNSUPPORTED);
}

/* ---- shape ops ---- */

static void test_reshape_flatten(void)
{
	float x[24];
	int64_t sh[2] = {0, -1}, sh0[2] = {0, 24}, d[3] = {-1, 3, 4};
	mrt__const X = CF(x, 3, 2, 3, 4), S = CI(sh, 1, 2, 0, 0), S0 = CI(sh0, 1, 2, 0, 0), o;
	mrt__value_info vi, vs, out;
	const mrt__value_info *pin[2] = {&vi, &vs};
	const mrt__const *pc[2] = {NULL, &S};
	tnode t;
	int i;

	for (i = 0; i < 24; i++)
		x[i] = (float)i;
	node_init(&t, "Reshape", 2, 1);
	if (ev(&t, &o, &X, &S, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 2, 12, 0);
		CHECK_EQ_INT(((float *)o.data)[23], 23);
		done(&o);
	}
	attr_i(&t, "allowzero", 1); /* 0 is a real zero: 0 x 24 != 24 elements */
	CHECK_EQ_INT(
	    mrt__node_eval(&t.n, (const mrt__const *[]){&X, &S0}, &o, errbuf, sizeof(errbuf)),
	    MRT_ERR_SHAPE);
	/* symbolic batch: [-1,3,4] with [0,-1] -> [-1,12] */
	memset(&vi, 0, sizeof(vi));
	memset(&vs, 0, sizeof(vs));
	vi.type = MRT_TYPE_F32;
	vi.ndim = 3;
	memcpy(vi.dims, d, sizeof(d));
	vs.type = MRT_TYPE_I64;
	vs.ndim = 1;
	vs.dims[0] = 2;
	node_init(&t, "Reshape", 2, 1);
	CHECK_EQ_INT(mrt__node_infer(&t.n, pin, pc, &out, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(out.ndim, 2);
	CHECK_EQ_INT(out.dims[0], -1);
	CHECK_EQ_INT(out.dims[1], 12);
	/* shape not known yet: rank only */
	pc[1] = NULL;
	CHECK_EQ_INT(mrt__node_infer(&t.n, pin, pc, &out, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ_INT(out.ndim, 2);
	CHECK_EQ_INT(out.dims[1], -1);

	node_init(&t, "Flatten", 1, 1);
	attr_i(&t, "axis", 2);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 6, 4, 0);
		done(&o);
	}
	node_init(&t, "Flatten", 1, 1);
	attr_i(&t, "axis", -3);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 1, 24, 0);
		done(&o);
	}
}

static void test_transpose_concat(void)
{
	float x[6] = {1, 2, 3, 4, 5, 6}, y[2] = {7, 8};
	int64_t perm[3] = {2, 0, 1};
	mrt__const X = CF(x, 2, 2, 3, 0), X3 = CF(x, 3, 1, 2, 3), Y = CF(y, 2, 2, 1, 0), o;
	tnode t;

	node_init(&t, "Transpose", 1, 1);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 3, 2, 0);
		check_f(&o, (float[]){1, 4, 2, 5, 3, 6}, 6, 0);
		done(&o);
	}
	node_init(&t, "Transpose", 1, 1);
	attr_ints(&t, "perm", perm, 3);
	if (ev(&t, &o, &X3, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 3, 3, 1, 2);
		check_f(&o, (float[]){1, 4, 2, 5, 3, 6}, 6, 0);
		done(&o);
	}
	node_init(&t, "Concat", 2, 1);
	attr_i(&t, "axis", -1);
	if (ev(&t, &o, &X, &Y, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 2, 4, 0);
		check_f(&o, (float[]){1, 2, 3, 7, 4, 5, 6, 8}, 8, 0);
		done(&o);
	}
}

static void test_slice(void)
{
	float x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, m[12];
	int64_t st[1] = {-1}, en[1] = {INT64_MIN}, sp[1] = {-2};
	int64_t st2[2] = {1, -1}, en2[2] = {100, 0}, ax2[2] = {0, 1}, sp2[2] = {1, -1};
	mrt__const X = CF(x, 1, 10, 0, 0), S = CI(st, 1, 1, 0, 0), E = CI(en, 1, 1, 0, 0);
	mrt__const P = CI(sp, 1, 1, 0, 0), M = CF(m, 2, 3, 4, 0), S2 = CI(st2, 1, 2, 0, 0);
	mrt__const E2 = CI(en2, 1, 2, 0, 0), A2 = CI(ax2, 1, 2, 0, 0), P2 = CI(sp2, 1, 2, 0, 0);
	mrt__const o;
	tnode t;
	int i;

	for (i = 0; i < 12; i++)
		m[i] = (float)i;
	node_init(&t, "Slice", 5, 1); /* x[-1::-2] */
	if (ev(&t, &o, &X, &S, &E, NULL, &P) == 0) {
		check_f(&o, (float[]){9, 7, 5, 3, 1}, 5, 0);
		done(&o);
	}
	/* m[1:100, -1:0:-1] of a 3x4 -> rows 1,2; cols 3,2,1 */
	if (ev(&t, &o, &M, &S2, &E2, &A2, &P2) == 0) {
		dims_are(&o, 2, 2, 3, 0);
		check_f(&o, (float[]){7, 6, 5, 11, 10, 9}, 6, 0);
		done(&o);
	}
	node_init(&t, "Slice", 3, 1); /* clamped: x[-100:3] */
	st[0] = -100;
	en[0] = 3;
	if (ev(&t, &o, &X, &S, &E, NULL, NULL) == 0) {
		check_f(&o, (float[]){0, 1, 2}, 3, 0);
		done(&o);
	}
}

static void test_squeeze_unsqueeze(void)
{
	float x[3] = {1, 2, 3};
	int64_t ax[2] = {0, -1};
	mrt__const X = CF(x, 3, 1, 3, 1), A = CI(ax, 1, 2, 0, 0), o;
	tnode t;

	node_init(&t, "Squeeze", 2, 1);
	if (ev(&t, &o, &X, &A, NULL, NULL, NULL) == 0) {
		dims_are(&o, 1, 3, 0, 0);
		done(&o);
	}
	node_init(&t, "Squeeze", 1, 1);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 1, 3, 0, 0);
		done(&o);
	}
	node_init(&t, "Unsqueeze", 2, 1); /* opset 13: axes input */
	if (ev(&t, &o, &X, &A, NULL, NULL, NULL) == 0) {
		CHECK_EQ_INT(o.ndim, 5);
		CHECK(o.dims[0] == 1 && o.dims[1] == 1 && o.dims[2] == 3 && o.dims[3] == 1 &&
		      o.dims[4] == 1);
		done(&o);
	}
	node_init(&t, "Unsqueeze", 1, 1); /* opset 11: axes attribute */
	attr_ints(&t, "axes", ax, 1);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		CHECK_EQ_INT(o.ndim, 4);
		CHECK_EQ_INT(o.dims[0], 1);
		done(&o);
	}
	node_init(&t, "Squeeze", 2, 1);
	ax[0] = 1; /* dim of size 3 */
	CHECK_EQ_INT(
	    mrt__node_eval(&t.n, (const mrt__const *[]){&X, &A}, &o, errbuf, sizeof(errbuf)),
	    MRT_ERR_SHAPE);
}

static void test_pad(void)
{
	float x[3] = {1, 2, 3}, v = 9, m[4] = {1, 2, 3, 4};
	int64_t pads[2] = {2, 1}, pads2[4] = {1, 0, 0, 1};
	mrt__const X = CF(x, 1, 3, 0, 0), P = CI(pads, 1, 2, 0, 0), V = CF(&v, 0, 0, 0, 0), o;
	mrt__const M = CF(m, 2, 2, 2, 0), P2 = CI(pads2, 1, 4, 0, 0);
	tnode t;

	node_init(&t, "Pad", 2, 1);
	if (ev(&t, &o, &X, &P, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){0, 0, 1, 2, 3, 0}, 6, 0);
		done(&o);
	}
	node_init(&t, "Pad", 3, 1);
	if (ev(&t, &o, &X, &P, &V, NULL, NULL) == 0) {
		check_f(&o, (float[]){9, 9, 1, 2, 3, 9}, 6, 0);
		done(&o);
	}
	node_init(&t, "Pad", 2, 1);
	attr_s(&t, "mode", "reflect");
	if (ev(&t, &o, &X, &P, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){3, 2, 1, 2, 3, 2}, 6, 0);
		done(&o);
	}
	node_init(&t, "Pad", 2, 1);
	attr_s(&t, "mode", "edge");
	if (ev(&t, &o, &X, &P, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){1, 1, 1, 2, 3, 3}, 6, 0);
		done(&o);
	}
	node_init(&t, "Pad", 2, 1); /* 2-D: one row on top, one column right */
	attr_s(&t, "mode", "edge");
	if (ev(&t, &o, &M, &P2, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 3, 3, 0);
		check_f(&o, (float[]){1, 2, 2, 1, 2, 2, 3, 4, 4}, 9, 0);
		done(&o);
	}
	node_init(&t, "Pad", 2, 1); /* reflect needs pads < dim */
	attr_s(&t, "mode", "reflect");
	pads[0] = 3;
	CHECK_EQ_INT(
	    mrt__node_eval(&t.n, (const mrt__const *[]){&X, &P}, &o, errbuf, sizeof(errbuf)),
	    MRT_ERR_SHAPE);
}

static void test_shape_family(void)
{
	float x[6] = {1, 2, 3, 4, 5, 6}, s = 1, l = 2.5f, d = 0.5f;
	int64_t shp[2] = {2, 3}, one[3] = {1, 1, 3};
	mrt__const X = CF(x, 3, 2, 1, 3), SH = CI(shp, 1, 2, 0, 0), o;
	mrt__const R = CF(x, 1, 3, 0, 0), ONE = CI(one, 1, 3, 0, 0);
	mrt__const S = CF(&s, 0, 0, 0, 0), L = CF(&l, 0, 0, 0, 0), D = CF(&d, 0, 0, 0, 0);
	tnode t;

	node_init(&t, "Shape", 1, 1);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		check_i(&o, (int64_t[]){2, 1, 3}, 3);
		done(&o);
	}
	attr_i(&t, "start", -2);
	if (ev(&t, &o, &X, NULL, NULL, NULL, NULL) == 0) {
		check_i(&o, (int64_t[]){1, 3}, 2);
		done(&o);
	}
	node_init(&t, "ConstantOfShape", 1, 1);
	if (ev(&t, &o, &SH, NULL, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 2, 3, 0);
		check_f(&o, (float[]){0, 0, 0, 0, 0, 0}, 6, 0);
		done(&o);
	}
	attr_i(&t, "value", 7);
	if (ev(&t, &o, &SH, NULL, NULL, NULL, NULL) == 0) {
		check_i(&o, (int64_t[]){7, 7, 7, 7, 7, 7}, 6);
		done(&o);
	}
	node_init(&t, "Expand", 2, 1); /* [3] to [2,3] */
	if (ev(&t, &o, &R, &SH, NULL, NULL, NULL) == 0) {
		dims_are(&o, 2, 2, 3, 0);
		check_f(&o, (float[]){1, 2, 3, 1, 2, 3}, 6, 0);
		done(&o);
	}
	node_init(&t, "Expand", 2, 1); /* [2,1,3] with [1,1,3] stays [2,1,3] */
	if (ev(&t, &o, &X, &ONE, NULL, NULL, NULL) == 0) {
		dims_are(&o, 3, 2, 1, 3);
		check_f(&o, x, 6, 0);
		done(&o);
	}
	node_init(&t, "Range", 3, 1);
	if (ev(&t, &o, &S, &L, &D, NULL, NULL) == 0) {
		check_f(&o, (float[]){1, 1.5f, 2}, 3, 0);
		done(&o);
	}
}

/* ---- linear ---- */

/* Plain triple loop: C[M,N] = A[M,K] B[K,N]. */
static void ref_mm(const float *A, const float *B, float *C, int M, int N, int K)
{
	int i, j, k;

	for (i = 0; i < M; i++)
		for (j = 0; j < N; j++) {
			double s = 0;
			for (k = 0; k < K; k++)
				s += (double)A[i * K + k] * B[k * N + j];
			C[i * N + j] = (float)s;
		}
}

static void test_gemm(void)
{
	/* A [2,3], B [3,2]; hand-computed A*B = [[4,5],[10,11]] */
	float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, bt[6] = {1, 0, 1, 0, 1, 1};
	float at[6] = {1, 4, 2, 5, 3, 6}, c[2] = {100, 200};
	mrt__const A = CF(a, 2, 2, 3, 0), B = CF(b, 2, 3, 2, 0), BT = CF(bt, 2, 2, 3, 0);
	mrt__const AT = CF(at, 2, 3, 2, 0), C = CF(c, 1, 2, 0, 0), o;
	tnode t;

	node_init(&t, "Gemm", 2, 1);
	if (ev(&t, &o, &A, &B, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){4, 5, 10, 11}, 4, 1e-6);
		done(&o);
	}
	node_init(&t, "Gemm", 3, 1); /* transB, alpha, beta, bias */
	attr_i(&t, "transB", 1);
	attr_f(&t, "alpha", 2);
	attr_f(&t, "beta", 0.5f);
	if (ev(&t, &o, &A, &BT, &C, NULL, NULL) == 0) {
		check_f(&o, (float[]){58, 110, 70, 122}, 4, 1e-5);
		done(&o);
	}
	node_init(&t, "Gemm", 3, 1); /* transB with plain bias (the linear path) */
	attr_i(&t, "transB", 1);
	if (ev(&t, &o, &A, &BT, &C, NULL, NULL) == 0) {
		check_f(&o, (float[]){104, 205, 110, 211}, 4, 1e-5);
		done(&o);
	}
	node_init(&t, "Gemm", 2, 1); /* transA */
	attr_i(&t, "transA", 1);
	if (ev(&t, &o, &AT, &B, NULL, NULL, NULL) == 0) {
		check_f(&o, (float[]){4, 5, 10, 11}, 4, 1e-6);
		done(&o);
	}
	node_init(&t, "Gemm", 2, 1); /* inner dims differ */
	CHECK_EQ_INT(
	    mrt__node_eval(&t.n, (const mrt__const *[]){&A, &A}, &o, errbuf, sizeof(errbuf)),
	    MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(errbuf, "inner dims differ");
}

static void test_matmul(void)
{
	enum { M = 3, K = 64, N = 5 };
	float a[2 * M * K], b[2 * K * N], bt[N * K], want[2 * M * N];
	unsigned char q[N * K / 32 * 34]; /* Q8_0: 34 bytes per 32 values */
	mrt__const A = CF(a, 3, 2, M, K), B2 = CF(b, 2, K, N, 0), B3 = CF(b, 3, 2, K, N), o;
	mrt__const BT = CF(bt, 2, N, K, 0), BQ;
	tnode t;
	int i, j;

	for (i = 0; i < 2 * M * K; i++)
		a[i] = (float)((i * 37) % 17 - 8) / 8.0f;
	for (i = 0; i < 2 * K * N; i++)
		b[i] = (float)((i * 11) % 13 - 6) / 6.0f;
	for (i = 0; i < K; i++)
		for (j = 0; j < N; j++)
			bt[j * K + i] = b[i * N + j];
	/* batched A against one 2-D B */
	node_init(&t, "MatMul", 2, 1);
	ref_mm(a, b, want, 2 * M, N, K);
	if (ev(&t, &o, &A, &B2, NULL, NULL, NULL) == 0) {
		dims_are(&o, 3, 2, M, N);
		check_f(&o, want, 2 * M * N, 1e-4);
		done(&o);
	}
	/* batched both sides */
	ref_mm(a, b, want, M, N, K);
	ref_mm(a + M * K, b + K * N, want + M * N, M, N, K);
	if (ev(&t, &o, &A, &B3, NULL, NULL, NULL) == 0) {
		dims_are(&o, 3, 2, M, N);
		check_f(&o, want, 2 * M * N, 1e-4);
		done(&o);
	}
	/* extension: transB=1, B stored [N,K], F32 and Q8_0 */
	ref_mm(a, b, want, 2 * M, N, K);
	node_init(&t, "MatMul", 2, 1);
	attr_i(&t, "transB", 1);
	if (ev(&t, &o, &A, &BT, NULL, NULL, NULL) == 0) {
		check_f(&o, want, 2 * M * N, 1e-4);
		done(&o);
	}
	CHECK_EQ_INT(mrt_quantize(MRT_TYPE_Q8_0, bt, q, N * K), 0);
	BQ = cst(MRT_TYPE_Q8_0, q, 2, N, K, 0);
	{
		const mrt__const *in[2] = {&A, &BQ};
		const mrt__op_def *d = mrt__op_find("MatMul");
		mrt__tensor ta = {MRT_TYPE_F32, 3, {2, M, K}, a},
		            tb = {MRT_TYPE_Q8_0, 2, {N, K}, q};
		const mrt__tensor *tin[2] = {&ta, &tb};
		float y[2 * M * N];
		mrt__tensor ty = {MRT_TYPE_F32, 3, {2, M, N}, y};
		size_t ss = d->scratch(&t.n, tin, &ty);
		mrt__op_ctx octx = {NULL, ss ? aligned_alloc(64, (ss + 63) / 64 * 64) : NULL, ss};
		double maxerr = 0;

		CHECK(d->quant_inputs & 2u);
		CHECK_EQ_INT(d->run(&t.n, tin, &ty, &octx, errbuf, sizeof(errbuf)), 0);
		for (i = 0; i < 2 * M * N; i++)
			if (fabs(y[i] - want[i]) > maxerr)
				maxerr = fabs(y[i] - want[i]);
		CHECK(maxerr < 0.05); /* 8-bit weights and activations: ~1% of |y| */
		free(octx.scratch);
		/* mrt__node_eval expands the quantized constant and agrees */
		if (mrt__node_eval(&t.n, in, &o, errbuf, sizeof(errbuf)) == 0) {
			check_f(&o, want, 2 * M * N, 0.05);
			done(&o);
		}
	}
	/* a quantized B must use the [N,K] layout */
	node_init(&t, "MatMul", 2, 1);
	{
		mrt__value_info va = {NULL, MRT_TYPE_F32, 2, {M, K}};
		mrt__value_info vb = {NULL, MRT_TYPE_Q8_0, 2, {K, N}};
		const mrt__value_info *pin[2] = {&va, &vb};
		mrt__value_info out;
		CHECK_EQ_INT(mrt__node_infer(&t.n, pin, NULL, &out, errbuf, sizeof(errbuf)),
		             MRT_ERR_UNSUPPORTED);
	}
	/* 1-D A: [K] x [K,N] -> [N] */
	{
		mrt__const A1 = CF(a, 1, K, 0, 0);
		ref_mm(a, b, want, 1, N, K);
		if (ev(&t, &o, &A1, &B2, NULL, NULL, NULL) == 0) {
			dims_are(&o, 1, N, 0, 0);
			check_f(&o, want, N, 1e-4);
			done(&o);
		}
	}
}

static void test_lookup(void)
{
	const char *mine[] = {"Add",     "Sub",       "Mul",       "Div",       "Pow",
	                      "Sqrt",    "Erf",       "Relu",      "LeakyRelu", "Sigmoid",
	                      "Tanh",    "Gelu",      "Cast",      "Identity",  "Dropout",
	                      "Flatten", "Reshape",   "Transpose", "Concat",    "Slice",
	                      "Squeeze", "Unsqueeze", "Pad",       "Shape",     "ConstantOfShape",
	                      "Expand",  "Range",     "Gemm",      "MatMul"};
	size_t i;

	for (i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		CHECK(mrt__op_supported(mine[i]));
	CHECK(!mrt__op_supported("NoSuchOp"));
	CHECK(mrt__op_find(NULL) == NULL);
}

int main(void)
{
	test_lookup();
	test_broadcast();
	test_where_equal_minmax();
	test_unary();
	test_cast();
	test_reshape_flatten();
	test_transpose_concat();
	test_slice();
	test_squeeze_unsqueeze();
	test_pad();
	test_shape_family();
	test_gemm();
	test_matmul();
	TEST_END();
}
