/* The executor's plan cache: a context fed a different batch size on every
 * run (as a dynamic batcher does) answers like a reference MLP, plans each
 * shape once, evicts the least recently used plan when full, and after
 * warm-up runs without a single heap allocation (counted by wrapping glibc's
 * allocator in this program). */
#include <stdint.h>
#include <unistd.h>

#include "model_impl.h"
#include "test.h"

/* ---- allocation counter: every malloc-family call while counting ----
 * Not under AddressSanitizer, which owns the allocator itself; there the
 * executor's own buffer statistics are still checked. */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int counting;
static volatile long n_allocs;

void *malloc(size_t n)
{
	n_allocs += counting;
	return __libc_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	n_allocs += counting;
	return __libc_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	n_allocs += counting;
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	n_allocs += counting;
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	n_allocs += counting;
	*out = __libc_memalign(align, n);
	return *out ? 0 : 12; /* ENOMEM */
}

void free(void *p)
{
	__libc_free(p);
}
#define HAVE_COUNTER 1
#else
static int counting;
static long n_allocs;
#define HAVE_COUNTER 0
#endif

static char path[256], err[512];

enum { K = 16, H = 32, N = 8, MAXB = 64 };
static float W1[H * K], B1[H], W2[N * H], B2[N];

/* ---- the model: y = relu(x W1^T + b1) W2^T + b2 + zeros([batch, N]) + 0.25 ---- */

static char *sdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(malloc(n), s, n);
}

static void value_add(mrt__value_info *v, int *n, const char *name, int64_t d1)
{
	mrt__value_info *x = &v[(*n)++];
	x->name = sdup(name);
	x->type = MRT_TYPE_F32;
	x->ndim = 2;
	x->dims[0] = -1;
	x->dims[1] = d1;
}

static mrt__node *node_add(mrt__graph *g, const char *op, int n_in, const char **ins,
                           const char *out)
{
	mrt__node *n = &g->nodes[g->n_nodes];
	char name[16];
	int i;

	snprintf(name, sizeof(name), "n%d", g->n_nodes++);
	n->name = sdup(name);
	n->op = sdup(op);
	n->in = calloc(4, sizeof(char *));
	n->out = calloc(1, sizeof(char *));
	n->attr = calloc(2, sizeof(mrt__attr));
	for (i = 0; i < n_in; i++)
		n->in[n->n_in++] = sdup(ins[i]);
	n->out[n->n_out++] = sdup(out);
	return n;
}

static void attr_add(mrt__node *n, const char *name, int64_t v)
{
	mrt__attr *a = &n->attr[n->n_attr++];
	a->name = sdup(name);
	a->kind = MRT__ATTR_INT;
	a->i = v;
}

static void const_add(mrt__graph *g, const char *name, int type, int ndim, int64_t d0, int64_t d1,
                      const void *data, size_t nbytes)
{
	mrt__const *c = &g->consts[g->n_consts++];
	c->name = sdup(name);
	c->type = type;
	c->ndim = ndim;
	c->dims[0] = d0;
	c->dims[1] = d1;
	c->data = memcpy(malloc(nbytes), data, nbytes);
	c->nbytes = nbytes;
	c->owned = 1;
}

static int make_model(void)
{
	mrt__graph *g = calloc(1, sizeof(*g));
	mrt_gguf_writer *w = mrt_gguf_writer_new();
	int64_t zero = 0, nout = N;
	float quarter = 0.25f;
	int i, rc;

	for (i = 0; i < H * K; i++)
		W1[i] = (float)((i * 37) % 23 - 11) / 16.0f;
	for (i = 0; i < H; i++)
		B1[i] = (float)(i % 5 - 2) / 8.0f;
	for (i = 0; i < N * H; i++)
		W2[i] = (float)((i * 13) % 17 - 8) / 32.0f;
	for (i = 0; i < N; i++)
		B2[i] = (float)(i % 3) / 4.0f;
	g->inputs = calloc(1, sizeof(*g->inputs));
	g->outputs = calloc(1, sizeof(*g->outputs));
	g->nodes = calloc(12, sizeof(*g->nodes));
	g->consts = calloc(8, sizeof(*g->consts));
	g->opset = 17;
	value_add(g->inputs, &g->n_inputs, "x", K);
	value_add(g->outputs, &g->n_outputs, "y", N);
	const_add(g, "W1", MRT_TYPE_F32, 2, H, K, W1, sizeof(W1));
	const_add(g, "b1", MRT_TYPE_F32, 1, H, 0, B1, sizeof(B1));
	const_add(g, "W2", MRT_TYPE_F32, 2, N, H, W2, sizeof(W2));
	const_add(g, "b2", MRT_TYPE_F32, 1, N, 0, B2, sizeof(B2));
	const_add(g, "i0", MRT_TYPE_I64, 0, 0, 0, &zero, 8);
	const_add(g, "ax", MRT_TYPE_I64, 1, 1, 0, &zero, 8);
	const_add(g, "nout", MRT_TYPE_I64, 1, 1, 0, &nout, 8);
	const_add(g, "quarter", MRT_TYPE_F32, 0, 0, 0, &quarter, 4);
	attr_add(node_add(g, "Gemm", 3, (const char *[]){"x", "W1", "b1"}, "h"), "transB", 1);
	node_add(g, "Relu", 1, (const char *[]){"h"}, "r");
	attr_add(node_add(g, "Gemm", 3, (const char *[]){"r", "W2", "b2"}, "g"), "transB", 1);
	/* a value that depends on the batch size and is folded at plan time:
	 * a stale plan would hand back one of the wrong size */
	node_add(g, "Shape", 1, (const char *[]){"x"}, "s");
	node_add(g, "Gather", 2, (const char *[]){"s", "i0"}, "b0");
	node_add(g, "Unsqueeze", 2, (const char *[]){"b0", "ax"}, "b1s");
	attr_add(node_add(g, "Concat", 2, (const char *[]){"b1s", "nout"}, "shp"), "axis", 0);
	node_add(g, "ConstantOfShape", 1, (const char *[]){"shp"}, "z");
	node_add(g, "Add", 2, (const char *[]){"z", "quarter"}, "zq");
	node_add(g, "Add", 2, (const char *[]){"g", "zq"}, "y");
	mrt_gguf_writer_set_str(w, "general.name", "plan_cache");
	rc = mrt__graph_write(g, w, err, sizeof(err));
	if (rc == 0)
		rc = mrt_gguf_writer_write(w, path, err, sizeof(err));
	mrt_gguf_writer_free(w);
	mrt__graph_free(g);
	return rc;
}

static void reference(const float *x, int64_t batch, float *y)
{
	float h[H];
	int64_t b, i, j;

	for (b = 0; b < batch; b++) {
		for (i = 0; i < H; i++) {
			double s = B1[i];
			for (j = 0; j < K; j++)
				s += (double)x[b * K + j] * W1[i * K + j];
			h[i] = s > 0 ? (float)s : 0;
		}
		for (i = 0; i < N; i++) {
			double s = B2[i] + 0.25;
			for (j = 0; j < H; j++)
				s += (double)h[j] * W2[i * H + j];
			y[b * N + i] = (float)s;
		}
	}
}

static float X[MAXB * K], Y[MAXB * N];

/* Run batch rows starting at row0 of X; check against the reference. */
static int run_check(mrt_ctx *c, int64_t batch, int64_t row0)
{
	mrt_tensor in, out[1];
	int64_t i, bad = 0;
	int rc;

	memset(&in, 0, sizeof(in));
	in.name = "x";
	in.dtype = MRT_DTYPE_F32;
	in.ndim = 2;
	in.dims[0] = batch;
	in.dims[1] = K;
	in.data = X + row0 * K;
	rc = mrt_run(c, 1, &in, out, err, sizeof(err));
	CHECK_EQ_INT(rc, 0);
	if (rc != 0)
		return -1;
	CHECK(out[0].ndim == 2 && out[0].dims[0] == batch && out[0].dims[1] == N);
	counting = 0; /* the checks themselves may allocate nothing, but be safe */
	reference(X + row0 * K, batch, Y);
	for (i = 0; i < batch * N; i++)
		if (fabsf(((float *)out[0].data)[i] - Y[i]) > 1e-4f * (1 + fabsf(Y[i])))
			bad++;
	CHECK_EQ_INT(bad, 0);
	return 0;
}

static void test_sequence(mrt_model *m)
{
	static const int64_t seq[] = {1, 7, 3, 64, 1, 33, 7, 64, 2, 16, 3, 15, 17, 1, 64, 5};
	const int n = (int)(sizeof(seq) / sizeof(seq[0]));
	mrt_ctx *c = mrt_ctx_new(m, NULL, err, sizeof(err));
	mrt__plan_stats st0, st;
	int i, distinct = 0, j;

	CHECK(c != NULL);
	if (!c)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && seq[j] != seq[i]; j++)
			;
		distinct += j == i;
		run_check(c, seq[i], (i * 3) % (MAXB - seq[i] + 1));
	}
	mrt__ctx_plan_stats(c, &st0);
	CHECK_EQ_INT(st0.plans_made, distinct); /* each shape planned once */
	CHECK_EQ_INT(st0.plans_cached, distinct);
	CHECK(distinct <= st0.plans_max);
	CHECK(st0.buffer_allocs >= 1 && st0.buffer_allocs <= distinct * 2);
	/* after warm-up: the same sizes again, in another order, allocate nothing */
	n_allocs = 0;
	for (i = n - 1; i >= 0; i--) {
		counting = 1;
		run_check(c, seq[i], (i * 5) % (MAXB - seq[i] + 1));
		counting = 0;
	}
	mrt__ctx_plan_stats(c, &st);
	CHECK_EQ_INT(st.plans_made, st0.plans_made);
	CHECK_EQ_INT(st.buffer_allocs, st0.buffer_allocs);
	CHECK_EQ_INT(st.arena_capacity, st0.arena_capacity);
	if (HAVE_COUNTER)
		CHECK_EQ_INT(n_allocs, 0);
	fprintf(stderr,
	        "sequence: %d plans, %d buffer allocations, arena %zu bytes, "
	        "%ld allocations in %d warm runs\n",
	        st.plans_made, st.buffer_allocs, st.arena_capacity, n_allocs, n);
	mrt_ctx_free(c);
}

/* More shapes than the cache holds: the least recently used plan goes. */
static void test_eviction(mrt_model *m)
{
	mrt_ctx *c = mrt_ctx_new(m, NULL, err, sizeof(err));
	mrt__plan_stats st;
	int b, cap, made;

	CHECK(c != NULL);
	if (!c)
		return;
	mrt__ctx_plan_stats(c, &st);
	cap = st.plans_max;
	CHECK(cap >= 8);
	for (b = 1; b <= cap + 4 && b <= MAXB; b++)
		run_check(c, b, 0);
	mrt__ctx_plan_stats(c, &st);
	CHECK_EQ_INT(st.plans_cached, cap);
	CHECK_EQ_INT(st.plans_made, cap + 4);
	made = st.plans_made;
	run_check(c, cap + 4, 1); /* most recent: cached */
	run_check(c, 5, 2);       /* evicted (sizes 1..4 went first), but 5 stayed */
	mrt__ctx_plan_stats(c, &st);
	CHECK_EQ_INT(st.plans_made, made);
	n_allocs = 0;
	counting = 1;
	run_check(c, 1, 3); /* evicted: planned again (which allocates: the counter works) */
	counting = 0;
	if (HAVE_COUNTER)
		CHECK(n_allocs > 0);
	mrt__ctx_plan_stats(c, &st);
	CHECK_EQ_INT(st.plans_made, made + 1);
	CHECK_EQ_INT(st.plans_cached, cap);
	mrt_ctx_free(c);
}

/* A failed run (bad shape) keeps the cached plans usable. */
static void test_error_keeps_cache(mrt_model *m)
{
	mrt_ctx *c = mrt_ctx_new(m, NULL, err, sizeof(err));
	mrt_tensor in, out[1];
	mrt__plan_stats st;

	CHECK(c != NULL);
	if (!c)
		return;
	run_check(c, 4, 0);
	memset(&in, 0, sizeof(in));
	in.name = "x";
	in.dtype = MRT_DTYPE_F32;
	in.ndim = 2;
	in.dims[0] = 4;
	in.dims[1] = K + 1;
	in.data = X;
	CHECK_EQ_INT(mrt_run(c, 1, &in, out, err, sizeof(err)), MRT_ERR_SHAPE);
	CHECK_STR_CONTAINS(err, "expected [*,16], got [4,17]");
	run_check(c, 4, 1);
	mrt__ctx_plan_stats(c, &st);
	CHECK_EQ_INT(st.plans_made, 1);
	mrt_ctx_free(c);
}

int main(void)
{
	const char *dir = getenv("TMPDIR");
	mrt_model *m;
	int fd, i;

	snprintf(path, sizeof(path), "%s/test_plan_cache_XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return 77;
	close(fd);
	for (i = 0; i < MAXB * K; i++)
		X[i] = (float)(((i + 1) * 7919) % 2001 - 1000) / 400.0f;
	CHECK_EQ_INT(make_model(), 0);
	m = mrt_model_load(path, NULL, err, sizeof(err));
	CHECK(m != NULL);
	if (m) {
		test_sequence(m);
		test_eviction(m);
		test_error_keeps_cache(m);
	} else {
		fprintf(stderr, "load: %s\n", err);
	}
	mrt_model_free(m);
	unlink(path);
	TEST_END();
}
