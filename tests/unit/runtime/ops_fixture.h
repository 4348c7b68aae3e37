/* Helpers for the operator tests: read the reference tensors written by
 * tests/fixtures/make_op_fixtures.py, build a node with attributes, and run
 * one op through its infer / scratch / run entry points like the executor. */
#ifndef OPS_FIXTURE_H
#define OPS_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "test.h"

#define FX_MAX 128

typedef struct fx_set {
	int n;
	char name[FX_MAX][48];
	mrt__tensor t[FX_MAX];
} fx_set;

/* Load $top_srcdir/tests/fixtures/ops/<file>. Exits 99 when unreadable. */
static fx_set *fx_load(const char *file)
{
	const char *top = getenv("top_srcdir");
	char path[1024];
	unsigned char hdr[12];
	fx_set *s = calloc(1, sizeof(*s));
	FILE *f;
	uint32_t count;

	snprintf(path, sizeof(path), "%s/tests/fixtures/ops/%s", top ? top : ".", file);
	f = fopen(path, "rb");
	if (!s || !f || fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "MOPF", 4)) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		exit(99);
	}
	memcpy(&count, hdr + 8, 4);
	for (uint32_t i = 0; i < count && i < FX_MAX; i++) {
		uint32_t len, code, ndim;
		mrt__tensor *t = &s->t[i];
		int ok = fread(&len, 4, 1, f) == 1 && len < sizeof(s->name[i]) &&
		         fread(s->name[i], 1, len, f) == len && fread(&code, 4, 1, f) == 1 &&
		         fread(&ndim, 4, 1, f) == 1 && ndim <= MRT_MAX_DIMS &&
		         fread(t->dims, 8, ndim, f) == ndim;
		int64_t n = ok ? mrt__numel(t->dims, (int)ndim) : -1;
		size_t es = code ? 8 : 4;
		t->ndim = (int)ndim;
		t->type = code ? MRT_TYPE_I64 : MRT_TYPE_F32;
		t->data = n >= 0 ? malloc((size_t)n * es + 1) : NULL;
		if (!t->data || fread(t->data, es, (size_t)n, f) != (size_t)n) {
			fprintf(stderr, "bad fixture %s at tensor %u\n", path, i);
			exit(99);
		}
		s->n++;
	}
	fclose(f);
	return s;
}

static mrt__tensor *fx(fx_set *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return &s->t[i];
	fprintf(stderr, "fixture tensor %s missing\n", name);
	exit(99);
}

/* A node with up to 16 attributes, inputs and outputs named in0.., out0.. */
typedef struct tnode {
	mrt__node n;
	mrt__attr attrs[16];
	int64_t ints[16][8];
	char *in[10], *out[4];
} tnode;

static inline void tnode_init(tnode *t, const char *op, int n_in, int n_out)
{
	static char names[14][8] = {"in0", "in1", "in2", "in3",  "in4",  "in5",  "in6",
	                            "in7", "in8", "in9", "out0", "out1", "out2", "out3"};
	memset(t, 0, sizeof(*t));
	t->n.op = (char *)op;
	t->n.name = (char *)"test_node";
	t->n.n_in = n_in;
	t->n.n_out = n_out;
	t->n.in = t->in;
	t->n.out = t->out;
	t->n.attr = t->attrs;
	for (int i = 0; i < 10; i++)
		t->in[i] = names[i];
	for (int i = 0; i < 4; i++)
		t->out[i] = names[10 + i];
}

static mrt__attr *tnode_attr(tnode *t, const char *name, int kind)
{
	mrt__attr *a = &t->attrs[t->n.n_attr++];
	a->name = (char *)name;
	a->kind = kind;
	return a;
}

static inline void attr_i(tnode *t, const char *name, int64_t v)
{
	tnode_attr(t, name, MRT__ATTR_INT)->i = v;
}

static inline void attr_f(tnode *t, const char *name, float v)
{
	tnode_attr(t, name, MRT__ATTR_FLOAT)->f = v;
}

static inline void attr_s(tnode *t, const char *name, const char *v)
{
	tnode_attr(t, name, MRT__ATTR_STRING)->s = (char *)v;
}

/* attr_ints(t, "pads", 4, (int64_t[]){1, 0, 2, 1}) */
static inline void attr_ints(tnode *t, const char *name, int n, const int64_t *v)
{
	int slot = t->n.n_attr;
	mrt__attr *a = tnode_attr(t, name, MRT__ATTR_INTS);
	memcpy(t->ints[slot], v, (size_t)n * sizeof(int64_t));
	a->ints = t->ints[slot];
	a->n = n;
}

/* Result of run_op: outputs (owned, free with run_free). */
typedef struct run_out {
	mrt__tensor t[4];
	int status;
	char err[256];
} run_out;

/* Run node on inputs (NULL = absent). Inputs whose bit is set in const_mask
 * are presented to infer as constants. Output buffers get the inferred
 * shapes; the run uses the real library with the given pool (may be NULL). */
static inline run_out run_op(tnode *t, const mrt__tensor *const *in, unsigned const_mask,
                             mrt__pool *pool)
{
	const mrt__op_def *def = mrt__op_find(t->n.op);
	mrt__value_info vi[10], vo[4];
	const mrt__value_info *pvi[10];
	mrt__const cst[10];
	const mrt__const *pc[10];
	run_out r;
	mrt__op_ctx ctx = {.pool = pool};
	size_t ss;

	memset(&r, 0, sizeof(r));
	memset(vo, 0, sizeof(vo));
	if (!def) {
		r.status = MRT_ERR_UNSUPPORTED;
		snprintf(r.err, sizeof(r.err), "no op %s", t->n.op);
		return r;
	}
	for (int i = 0; i < t->n.n_in; i++) {
		pvi[i] = NULL;
		pc[i] = NULL;
		if (!in[i])
			continue;
		memset(&vi[i], 0, sizeof(vi[i]));
		vi[i].type = in[i]->type;
		vi[i].ndim = in[i]->ndim;
		memcpy(vi[i].dims, in[i]->dims, sizeof(vi[i].dims));
		pvi[i] = &vi[i];
		if (const_mask & (1u << i)) {
			memset(&cst[i], 0, sizeof(cst[i]));
			cst[i].type = in[i]->type;
			cst[i].ndim = in[i]->ndim;
			memcpy(cst[i].dims, in[i]->dims, sizeof(cst[i].dims));
			cst[i].data = in[i]->data;
			pc[i] = &cst[i];
		}
	}
	r.status = def->infer(&t->n, pvi, pc, vo, r.err, sizeof(r.err));
	if (r.status < 0)
		return r;
	for (int o = 0; o < t->n.n_out; o++) {
		int64_t n = mrt__numel(vo[o].dims, vo[o].ndim);
		r.t[o].type = vo[o].type;
		r.t[o].ndim = vo[o].ndim;
		memcpy(r.t[o].dims, vo[o].dims, sizeof(r.t[o].dims));
		r.t[o].data = calloc((size_t)(n > 0 ? n : 1), 8);
	}
	ss = def->scratch ? def->scratch(&t->n, in, r.t) : 0;
	ctx.scratch = ss ? aligned_alloc(64, (ss + 63) & ~(size_t)63) : NULL;
	ctx.scratch_size = ss;
	r.status = def->run(&t->n, in, r.t, &ctx, r.err, sizeof(r.err));
	free(ctx.scratch);
	return r;
}

static inline void run_free(run_out *r)
{
	for (int i = 0; i < 4; i++)
		free(r->t[i].data);
}

/* Max |got - want| relative to max |want| (the output scale). */
static inline double rel_err(const float *got, const float *want, int64_t n)
{
	double scale = 1e-12, e = 0;
	for (int64_t i = 0; i < n; i++)
		scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);
		if (!(d <= e))
			e = d; /* NaN propagates as a failure */
	}
	return e / scale;
}

/* Check that out has want's shape and values within tol (relative). */
#define CHECK_TENSOR(out, want, tol)                                                               \
	do {                                                                                       \
		const mrt__tensor *ct__o = (out), *ct__w = (want);                                 \
		CHECK_EQ_INT(ct__o->ndim, ct__w->ndim);                                            \
		for (int ct__d = 0; ct__d < ct__w->ndim; ct__d++)                                  \
			CHECK_EQ_INT(ct__o->dims[ct__d], ct__w->dims[ct__d]);                      \
		if (ct__o->ndim == ct__w->ndim &&                                                  \
		    !memcmp(ct__o->dims, ct__w->dims, (size_t)ct__w->ndim * 8))                    \
			CHECK_NEAR(rel_err(ct__o->data, ct__w->data,                               \
			                   mrt__numel(ct__w->dims, ct__w->ndim)),                  \
			           0.0, (tol));                                                    \
	} while (0)

#endif
