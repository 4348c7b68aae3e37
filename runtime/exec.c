/* Run contexts: check inputs, plan for the concrete input shapes (shape
 * inference, folding of everything computable from shapes and constants,
 * liveness, arena offsets with buffer reuse, scratch size), then run the nodes.
 * DESIGN: a context belongs to one thread at a time; it only reads the model.
 * It keeps the plans of its last PLAN_CACHE input shapes (LRU), all sharing
 * one arena and one scratch that only grow, so a server whose batch size
 * changes on every run plans each size once and then runs without allocating. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_impl.h"
#include "util.h"

#define ALIGN 64
#define LIVE_FOREVER INT32_MAX
#define PLAN_CACHE 16
#define NO_OFF SIZE_MAX

typedef struct plan_val {
	int known;        /* value fixed at plan time (constant or folded) */
	mrt__const c;     /* its constant view when known */
	int first, last;  /* producing node, last consuming node (arena values) */
	size_t size, off; /* bytes and arena offset */
	int in_arena;
} plan_val;

/* One cached plan. The arrays are allocated with the slot and reused when
 * the slot is re-planned; only the folded values' buffers are per plan. */
typedef struct plan_slot {
	int used;          /* holds a valid plan */
	uint64_t last_use; /* LRU tick */
	int *in_ndim;      /* n_inputs: the key, with in_dims */
	int64_t *in_dims;  /* n_inputs x MRT_MAX_DIMS */
	mrt__tensor *tens; /* n_values: shapes; data of constants and folded values */
	size_t *off;       /* n_values: arena offset, NO_OFF when not in the arena */
	char *node_run;    /* n_nodes: 1 runs per run, 0 folded at plan time */
	void **folded;     /* owned buffers of folded values */
	int n_folded;
	size_t arena_size, scratch_size, values_bytes;
} plan_slot;

struct mrt_ctx {
	const mrt_model *m;
	mrt__pool *pool;
	mrt__tensor *tens;       /* one per value: the installed plan (or one being made) */
	const mrt__tensor **inp; /* node inputs, laid out like model->in_ids */
	plan_val *pv;            /* planning work area */
	char *node_run;          /* of the installed plan */
	plan_slot plans[PLAN_CACHE];
	plan_slot *cur;      /* installed in tens/node_run, NULL when none */
	plan_slot *building; /* the slot plan() fills */
	uint64_t tick;
	void *arena, *scratch; /* shared by all plans; grow only */
	size_t arena_cap, scratch_cap;
	int plans_made, buffer_allocs;
};

mrt_ctx_params mrt_ctx_default_params(void)
{
	mrt_ctx_params p = {1};
	return p;
}

/* Free a slot's folded buffers and mark it empty (its arrays stay). */
static void plan_drop(mrt_ctx *c, plan_slot *p)
{
	int i;

	for (i = 0; i < p->n_folded; i++)
		free(p->folded[i]);
	p->n_folded = 0;
	p->used = 0;
	if (c->cur == p)
		c->cur = NULL;
}

static void plan_slot_free(plan_slot *p)
{
	free(p->in_ndim);
	free(p->in_dims);
	free(p->tens);
	free(p->off);
	free(p->node_run);
	free(p->folded);
}

void mrt_ctx_free(mrt_ctx *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < PLAN_CACHE; i++) {
		plan_drop(c, &c->plans[i]);
		plan_slot_free(&c->plans[i]);
	}
	free(c->arena);
	free(c->scratch);
	mrt__pool_free(c->pool);
	free(c->tens);
	free(c->inp);
	free(c->pv);
	free(c->node_run);
	free(c);
}

/* Allocate the arrays of slot p. 0 or MRT_ERR_NOMEM. */
static int plan_slot_alloc(const mrt_model *m, plan_slot *p)
{
	const mrt__graph *g = m->graph;

	if (p->tens != NULL)
		return 0;
	p->in_ndim = calloc((size_t)g->n_inputs + 1, sizeof(int));
	p->in_dims = calloc((size_t)g->n_inputs * MRT_MAX_DIMS + 1, sizeof(int64_t));
	p->off = calloc((size_t)m->n_values + 1, sizeof(size_t));
	p->node_run = calloc((size_t)g->n_nodes + 1, 1);
	p->folded = calloc((size_t)m->n_values + 1, sizeof(void *));
	p->tens = calloc((size_t)m->n_values + 1, sizeof(mrt__tensor));
	if (!p->in_ndim || !p->in_dims || !p->off || !p->node_run || !p->folded || !p->tens) {
		plan_slot_free(p);
		memset(p, 0, sizeof(*p));
		return MRT_ERR_NOMEM;
	}
	return 0;
}

mrt_ctx *mrt_ctx_new(const mrt_model *m, const mrt_ctx_params *params, char *err, size_t errlen)
{
	mrt_ctx_params p = params ? *params : mrt_ctx_default_params();
	const mrt__graph *g;
	mrt_ctx *c;
	int i, n_in;

	if (m == NULL || m->graph == NULL || p.n_threads < 1 || p.n_threads > 256) {
		mrt__errf(err, errlen, MRT_ERR_INVALID, "bad model or thread count");
		return NULL;
	}
	g = m->graph;
	if (g->n_inputs > 64) {
		mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED, "more than 64 inputs");
		return NULL;
	}
	n_in = g->n_nodes ? m->node_in_off[g->n_nodes - 1] + g->nodes[g->n_nodes - 1].n_in : 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto nomem;
	c->m = m;
	c->tens = calloc((size_t)m->n_values + 1, sizeof(*c->tens));
	c->pv = calloc((size_t)m->n_values + 1, sizeof(*c->pv));
	c->inp = calloc((size_t)n_in + 1, sizeof(*c->inp));
	c->node_run = calloc((size_t)g->n_nodes + 1, 1);
	if (!c->tens || !c->pv || !c->inp || !c->node_run)
		goto nomem;
	if (p.n_threads > 1 && (c->pool = mrt__pool_new(p.n_threads)) == NULL)
		goto nomem;
	for (i = 0; i < n_in; i++)
		c->inp[i] = m->in_ids[i] >= 0 ? &c->tens[m->in_ids[i]] : NULL;
	return c;
nomem:
	mrt_ctx_free(c);
	mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	return NULL;
}

/* ---- input checks ---- */

static void fmt_dims(char *buf, size_t len, const int64_t *d, int nd)
{
	size_t k = 0;
	int i;

	k += (size_t)snprintf(buf, len, "[");
	for (i = 0; i < nd && k < len; i++) {
		if (d[i] < 0)
			k += (size_t)snprintf(buf + k, len - k, "%s*", i ? "," : "");
		else
			k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? "," : "",
			                      (long long)d[i]);
	}
	if (k < len)
		snprintf(buf + k, len - k, "]");
}

static int shape_error(const mrt_io_info *want, const mrt_tensor *got, char *err, size_t errlen)
{
	char a[200], b[200];

	fmt_dims(a, sizeof(a), want->dims, want->ndim);
	fmt_dims(b, sizeof(b), got->dims, got->ndim);
	return mrt__errf(err, errlen, MRT_ERR_SHAPE, "input '%s': expected %s, got %s", want->name,
	                 a, b);
}

/* Match inputs to the model's by name and check dtype, rank, dims and the
 * batch (a symbolic first dim) across inputs. order[i] (OUT) is the index
 * in inputs of model input i. */
static int check_inputs(const mrt_model *m, int n, const mrt_tensor *inputs, int *order, char *err,
                        size_t errlen)
{
	const mrt__graph *g = m->graph;
	int i, j, d, batch_from = -1;
	int64_t batch = -1;

	for (i = 0; i < g->n_inputs; i++)
		order[i] = -1;
	if (n < 0 || (n > 0 && inputs == NULL))
		return mrt__errf(err, errlen, MRT_ERR_INVALID, "bad input array");
	for (j = 0; j < n; j++) {
		for (i = 0; i < g->n_inputs; i++)
			if (inputs[j].name && strcmp(inputs[j].name, g->inputs[i].name) == 0)
				break;
		if (i == g->n_inputs)
			return mrt__errf(err, errlen, MRT_ERR_INVALID, "unknown input '%s'",
			                 inputs[j].name ? inputs[j].name : "(null)");
		if (order[i] >= 0)
			return mrt__errf(err, errlen, MRT_ERR_INVALID, "input '%s' given twice",
			                 inputs[j].name);
		order[i] = j;
	}
	for (i = 0; i < g->n_inputs; i++) {
		const mrt_io_info *w = &m->in_info[i];
		const mrt_tensor *t;
		int64_t numel;
		if (order[i] < 0)
			return mrt__errf(err, errlen, MRT_ERR_INVALID, "missing input '%s'",
			                 w->name);
		t = &inputs[order[i]];
		if (t->dtype != w->dtype)
			return mrt__errf(err, errlen, MRT_ERR_DTYPE,
			                 "input '%s': expected %s, got %s", w->name,
			                 mrt_dtype_name(w->dtype), mrt_dtype_name(t->dtype));
		if (t->ndim != w->ndim)
			return shape_error(w, t, err, errlen);
		for (d = 0; d < w->ndim; d++)
			if ((w->dims[d] >= 0 && t->dims[d] != w->dims[d]) || t->dims[d] < 0 ||
			    (d == 0 && w->dims[0] < 0 && t->dims[0] < 1))
				return shape_error(w, t, err, errlen);
		numel = mrt__numel(t->dims, t->ndim);
		if (numel < 0 || numel > ((int64_t)1 << 40))
			return shape_error(w, t, err, errlen);
		if (numel > 0 && t->data == NULL)
			return mrt__errf(err, errlen, MRT_ERR_INVALID, "input '%s': no data",
			                 w->name);
		if (w->ndim > 0 && w->dims[0] < 0) {
			if (batch >= 0 && t->dims[0] != batch)
				return mrt__errf(err, errlen, MRT_ERR_SHAPE,
				                 "input '%s': batch size %lld differs from %lld of "
				                 "input '%s'",
				                 w->name, (long long)t->dims[0], (long long)batch,
				                 m->in_info[batch_from].name);
			batch = t->dims[0];
			batch_from = i;
		}
	}
	return 0;
}

/* ---- planning ---- */

static size_t dense_size(int type)
{
	return type == MRT_TYPE_I64 ? 8 : (type == MRT_TYPE_F32 || type == MRT_TYPE_I32) ? 4 : 0;
}

#define PLAN_MAX_IO 64

/* Run node i now, on plan-time values, into new owned buffers. */
static int fold_node(mrt_ctx *c, int i, char *err, size_t errlen)
{
	const mrt_model *m = c->m;
	const mrt__node *n = &m->graph->nodes[i];
	const mrt__op_def *op = m->node_op[i];
	mrt__tensor *out = &c->tens[m->node_out0[i]];
	const mrt__tensor **in = &c->inp[m->node_in_off[i]];
	mrt__op_ctx octx = {NULL, NULL, 0};
	int j, rc;

	for (j = 0; j < n->n_out; j++) {
		plan_val *pv = &c->pv[m->node_out0[i] + j];
		void *buf = calloc(1, pv->size ? pv->size : 1);
		if (buf == NULL)
			return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
		c->building->folded[c->building->n_folded++] = buf;
		out[j].data = buf;
		pv->known = 1;
		pv->in_arena = 0;
		pv->c.name = NULL;
		pv->c.type = out[j].type;
		pv->c.ndim = out[j].ndim;
		memcpy(pv->c.dims, out[j].dims, sizeof(pv->c.dims));
		pv->c.data = buf;
		pv->c.nbytes = pv->size;
		pv->c.owned = 0;
	}
	if (op->scratch)
		octx.scratch_size = op->scratch(n, in, out);
	if (octx.scratch_size &&
	    (octx.scratch =
	         aligned_alloc(ALIGN, (octx.scratch_size + ALIGN - 1) / ALIGN * ALIGN)) == NULL)
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory");
	rc = op->run(n, in, out, &octx, err, errlen);
	free(octx.scratch);
	return rc;
}

/* Concrete inference for node i; fold it when its value is known now. */
static int plan_node(mrt_ctx *c, int i, char *err, size_t errlen)
{
	const mrt_model *m = c->m;
	const mrt__node *n = &m->graph->nodes[i];
	mrt__value_info vi[PLAN_MAX_IO], out[PLAN_MAX_IO];
	const mrt__value_info *pvi[PLAN_MAX_IO];
	const mrt__const *pvc[PLAN_MAX_IO];
	int j, rc, all_known = 1;

	for (j = 0; j < n->n_in; j++) {
		int v = m->in_ids[m->node_in_off[i] + j];
		pvi[j] = NULL;
		pvc[j] = NULL;
		if (v < 0)
			continue;
		memset(&vi[j], 0, sizeof(vi[j]));
		vi[j].type = c->tens[v].type;
		vi[j].ndim = c->tens[v].ndim;
		memcpy(vi[j].dims, c->tens[v].dims, sizeof(vi[j].dims));
		pvi[j] = &vi[j];
		if (c->pv[v].known)
			pvc[j] = &c->pv[v].c;
		else
			all_known = 0;
	}
	memset(out, 0, sizeof(out[0]) * (size_t)n->n_out);
	if ((rc = mrt__node_infer(n, pvi, pvc, out, err, errlen)) != 0)
		return rc;
	for (j = 0; j < n->n_out; j++) {
		int v = m->node_out0[i] + j;
		int64_t numel = mrt__numel(out[j].dims, out[j].ndim);
		size_t es = dense_size(out[j].type);
		if (numel < 0 || es == 0 || (uint64_t)numel > ((uint64_t)1 << 40) / es)
			return mrt__op_fail(n, MRT_ERR_SHAPE, err, errlen,
			                    "output '%s' has no concrete shape or is too large",
			                    n->out[j]);
		c->tens[v].type = out[j].type;
		c->tens[v].ndim = out[j].ndim;
		memcpy(c->tens[v].dims, out[j].dims, sizeof(out[j].dims));
		c->tens[v].data = NULL;
		c->pv[v].size = (size_t)numel * es;
		c->pv[v].known = 0;
		c->pv[v].in_arena = 1;
		c->pv[v].first = c->pv[v].last = i;
		c->building->values_bytes += c->pv[v].size;
	}
	if (n->n_in > 0 && (all_known || strcmp(n->op, "Shape") == 0))
		return fold_node(c, i, err, errlen);
	c->node_run[i] = 1;
	return 0;
}

typedef struct size_id {
	size_t size;
	int id;
} size_id;

static int by_size_desc(const void *a, const void *b)
{
	const size_id *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return x->id - y->id;
}

static int by_off(const void *a, const void *b)
{
	const plan_val *const *x = a, *const *y = b;
	return (*x)->off < (*y)->off ? -1 : (*x)->off > (*y)->off;
}

/* Greedy placement, largest first: each value goes to the lowest offset
 * that does not overlap a placed value whose lifetime overlaps its own. */
static int assign_arena(mrt_ctx *c)
{
	int n = 0, k, j, nconf;
	size_id *order = malloc(sizeof(*order) * ((size_t)c->m->n_values + 1));
	plan_val **placed = malloc(sizeof(*placed) * ((size_t)c->m->n_values + 1));
	plan_val **conf = malloc(sizeof(*conf) * ((size_t)c->m->n_values + 1));
	int n_placed = 0;

	if (!order || !placed || !conf) {
		free(order);
		free(placed);
		free(conf);
		return MRT_ERR_NOMEM;
	}
	for (k = 0; k < c->m->n_values; k++)
		if (c->pv[k].in_arena) {
			c->pv[k].size = (c->pv[k].size + ALIGN - 1) / ALIGN * ALIGN;
			if (c->pv[k].size == 0)
				c->pv[k].size = ALIGN;
			order[n].size = c->pv[k].size;
			order[n++].id = k;
		}
	qsort(order, (size_t)n, sizeof(*order), by_size_desc);
	c->building->arena_size = 0;
	for (k = 0; k < n; k++) {
		plan_val *v = &c->pv[order[k].id];
		size_t off = 0;
		for (j = 0, nconf = 0; j < n_placed; j++)
			if (placed[j]->first <= v->last && v->first <= placed[j]->last)
				conf[nconf++] = placed[j];
		qsort(conf, (size_t)nconf, sizeof(*conf), by_off);
		for (j = 0; j < nconf; j++) {
			if (off + v->size <= conf[j]->off)
				break;
			if (conf[j]->off + conf[j]->size > off)
				off = conf[j]->off + conf[j]->size;
		}
		v->off = off;
		placed[n_placed++] = v;
		if (off + v->size > c->building->arena_size)
			c->building->arena_size = off + v->size;
	}
	free(order);
	free(placed);
	free(conf);
	return 0;
}

/* Liveness of arena values: from the producing node to the last run node
 * reading it; graph outputs live to the end of the run. */
static void liveness(mrt_ctx *c)
{
	const mrt_model *m = c->m;
	const mrt__graph *g = m->graph;
	int i, j;

	for (i = 0; i < g->n_nodes; i++) {
		if (!c->node_run[i])
			continue;
		for (j = 0; j < g->nodes[i].n_in; j++) {
			int v = m->in_ids[m->node_in_off[i] + j];
			if (v >= 0 && c->pv[v].in_arena && c->pv[v].last < i)
				c->pv[v].last = i;
		}
	}
	for (i = 0; i < g->n_outputs; i++)
		if (c->pv[m->output_ids[i]].in_arena)
			c->pv[m->output_ids[i]].last = LIVE_FOREVER;
}

/* Make *buf hold at least need bytes (64-byte aligned), growing by half
 * again so a run of slowly rising batch sizes reallocates rarely. Contents
 * are not kept. 0 or MRT_ERR_NOMEM. */
static int buffer_reserve(mrt_ctx *c, void **buf, size_t *cap, size_t need)
{
	size_t want;
	void *nb;

	if (need <= *cap && *buf != NULL)
		return 0;
	want = *cap + *cap / 2;
	if (want < need || want < *cap)
		want = need;
	want = (want + ALIGN - 1) / ALIGN * ALIGN;
	if (want == 0 || want < need)
		return MRT_ERR_NOMEM;
	if ((nb = aligned_alloc(ALIGN, want)) == NULL)
		return MRT_ERR_NOMEM;
	free(*buf);
	*buf = nb;
	*cap = want;
	c->buffer_allocs++;
	c->cur = NULL; /* arena pointers of the installed plan moved */
	return 0;
}

/* Make the installed plan p: its tensors and run flags into the context,
 * arena values pointed into the shared arena. */
static void plan_install(mrt_ctx *c, plan_slot *p)
{
	const mrt_model *m = c->m;
	int v;

	p->last_use = ++c->tick;
	if (c->cur == p)
		return;
	memcpy(c->tens, p->tens, sizeof(*c->tens) * (size_t)m->n_values);
	memcpy(c->node_run, p->node_run, (size_t)m->graph->n_nodes);
	for (v = 0; v < m->n_values; v++)
		if (p->off[v] != NO_OFF)
			c->tens[v].data = (char *)c->arena + p->off[v];
	c->cur = p;
}

/* Record the inputs' shapes in p and the start state of the work area. */
static void plan_begin(mrt_ctx *c, plan_slot *p, const mrt_tensor *inputs, const int *order)
{
	const mrt_model *m = c->m;
	const mrt__graph *g = m->graph;
	int i, v;

	memset(c->pv, 0, sizeof(*c->pv) * (size_t)m->n_values);
	memset(c->node_run, 0, (size_t)g->n_nodes);
	p->values_bytes = 0;
	for (i = 0; i < g->n_inputs; i++) {
		const mrt_tensor *t = &inputs[order[i]];
		c->tens[i].type = g->inputs[i].type;
		c->tens[i].ndim = t->ndim;
		memcpy(c->tens[i].dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
		c->tens[i].data = NULL;
		p->in_ndim[i] = t->ndim;
		memcpy(&p->in_dims[i * MRT_MAX_DIMS], t->dims, sizeof(int64_t) * (size_t)t->ndim);
	}
	for (i = 0; i < g->n_consts; i++) {
		const mrt__const *k = &g->consts[i];
		v = m->const_base + i;
		c->tens[v].type = k->type;
		c->tens[v].ndim = k->ndim;
		memcpy(c->tens[v].dims, k->dims, sizeof(k->dims));
		c->tens[v].data = k->data;
		c->pv[v].known = 1;
		c->pv[v].c = *k;
	}
}

/* Plan for the shapes of inputs into slot p (evicted by the caller), grow
 * the shared buffers if needed and install the plan. On failure the slot is
 * left empty and no plan is installed. */
static int plan(mrt_ctx *c, plan_slot *p, const mrt_tensor *inputs, const int *order, char *err,
                size_t errlen)
{
	const mrt_model *m = c->m;
	const mrt__graph *g = m->graph;
	size_t scratch = 0;
	int i, v, rc;

	if (plan_slot_alloc(m, p) != 0)
		return mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory planning the run");
	c->cur = NULL; /* the work area is overwritten below */
	c->building = p;
	plan_begin(c, p, inputs, order);
	for (i = 0; i < g->n_nodes; i++) {
		if (g->nodes[i].n_in > PLAN_MAX_IO || g->nodes[i].n_out > PLAN_MAX_IO) {
			rc = mrt__errf(err, errlen, MRT_ERR_UNSUPPORTED,
			               "node '%s': too many inputs", g->nodes[i].name);
			goto fail;
		}
		if ((rc = plan_node(c, i, err, errlen)) != 0)
			goto fail;
	}
	liveness(c);
	if ((rc = assign_arena(c)) != 0)
		goto nomem;
	for (i = 0; i < g->n_nodes; i++) {
		const mrt__op_def *op = m->node_op[i];
		size_t s;
		if (!c->node_run[i] || op->scratch == NULL)
			continue;
		s = op->scratch(&g->nodes[i], &c->inp[m->node_in_off[i]],
		                &c->tens[m->node_out0[i]]);
		if (s > scratch)
			scratch = s;
	}
	p->scratch_size = scratch;
	if (buffer_reserve(c, &c->arena, &c->arena_cap, p->arena_size ? p->arena_size : ALIGN) ||
	    (scratch && buffer_reserve(c, &c->scratch, &c->scratch_cap, scratch)))
		goto nomem;
	memcpy(p->tens, c->tens, sizeof(*c->tens) * (size_t)m->n_values);
	memcpy(p->node_run, c->node_run, (size_t)g->n_nodes);
	for (v = 0; v < m->n_values; v++)
		p->off[v] = c->pv[v].in_arena ? c->pv[v].off : NO_OFF;
	p->used = 1;
	c->building = NULL;
	c->plans_made++;
	plan_install(c, p);
	return 0;
nomem:
	rc = mrt__errf(err, errlen, MRT_ERR_NOMEM, "out of memory planning the run");
fail:
	c->building = NULL;
	plan_drop(c, p);
	return rc;
}

static int same_shapes(const plan_slot *p, int n_inputs, const mrt_tensor *inputs, const int *order)
{
	int i;

	for (i = 0; i < n_inputs; i++) {
		const mrt_tensor *t = &inputs[order[i]];
		if (t->ndim != p->in_ndim[i] || memcmp(t->dims, &p->in_dims[i * MRT_MAX_DIMS],
		                                       sizeof(int64_t) * (size_t)t->ndim) != 0)
			return 0;
	}
	return 1;
}

/* Install the cached plan for these input shapes, or plan them into an
 * empty or the least recently used slot. */
static int plan_select(mrt_ctx *c, const mrt_tensor *inputs, const int *order, char *err,
                       size_t errlen)
{
	int n_inputs = c->m->graph->n_inputs, i;
	plan_slot *victim = NULL;

	if (c->cur && same_shapes(c->cur, n_inputs, inputs, order)) {
		c->cur->last_use = ++c->tick;
		return 0;
	}
	for (i = 0; i < PLAN_CACHE; i++) {
		plan_slot *p = &c->plans[i];
		if (p->used && same_shapes(p, n_inputs, inputs, order)) {
			plan_install(c, p);
			return 0;
		}
		if (!victim || (victim->used && (!p->used || p->last_use < victim->last_use)))
			victim = p;
	}
	plan_drop(c, victim);
	return plan(c, victim, inputs, order, err, errlen);
}

int mrt_run(mrt_ctx *c, int n_inputs, const mrt_tensor *inputs, mrt_tensor *outputs, char *err,
            size_t errlen)
{
	const mrt_model *m;
	const mrt__graph *g;
	mrt__op_ctx octx;
	int order[64], i, rc;

	if (c == NULL || outputs == NULL)
		return mrt__errf(err, errlen, MRT_ERR_INVALID, "no context or output array");
	m = c->m;
	g = m->graph;
	if ((rc = check_inputs(m, n_inputs, inputs, order, err, errlen)) != 0)
		return rc;
	if ((rc = plan_select(c, inputs, order, err, errlen)) != 0)
		return rc;
	for (i = 0; i < g->n_inputs; i++)
		c->tens[i].data = inputs[order[i]].data;
	octx.pool = c->pool;
	octx.scratch = c->scratch;
	octx.scratch_size = c->cur->scratch_size;
	for (i = 0; i < g->n_nodes; i++) {
		if (!c->node_run[i])
			continue;
		rc = m->node_op[i]->run(&g->nodes[i], &c->inp[m->node_in_off[i]],
		                        &c->tens[m->node_out0[i]], &octx, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < g->n_outputs; i++) {
		const mrt__tensor *t = &c->tens[m->output_ids[i]];
		outputs[i].name = g->outputs[i].name;
		outputs[i].dtype = mrt__dtype_of_type(t->type);
		outputs[i].ndim = t->ndim;
		memset(outputs[i].dims, 0, sizeof(outputs[i].dims));
		memcpy(outputs[i].dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
		outputs[i].data = t->data;
	}
	return 0;
}

void mrt__ctx_stats(const mrt_ctx *c, size_t *arena_bytes, size_t *values_bytes, int *nodes_run)
{
	int i, n = 0;

	for (i = 0; c->cur && i < c->m->graph->n_nodes; i++)
		n += c->node_run[i];
	*arena_bytes = c->cur ? c->cur->arena_size : 0;
	*values_bytes = c->cur ? c->cur->values_bytes : 0;
	*nodes_run = n;
}

void mrt__ctx_plan_stats(const mrt_ctx *c, mrt__plan_stats *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < PLAN_CACHE; i++)
		st->plans_cached += c->plans[i].used;
	st->plans_max = PLAN_CACHE;
	st->plans_made = c->plans_made;
	st->buffer_allocs = c->buffer_allocs;
	st->arena_capacity = c->arena_cap;
	st->scratch_capacity = c->scratch_cap;
}
