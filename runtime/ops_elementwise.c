/* Elementwise operators with numpy multidirectional broadcasting: arithmetic,
 * comparisons, Where, activations, Clip, Cast, Identity and Dropout.
 * F32 is the fast path; I64 is exact; other mixes compute in double.
 * Booleans are carried as int64 0/1 (see GRAPH-FORMAT.md). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ops.h"

enum ew_code {
	EW_ADD,
	EW_SUB,
	EW_MUL,
	EW_DIV,
	EW_POW,
	EW_MIN,
	EW_MAX,
	EW_EQUAL,
	EW_LESS,
	EW_GREATER,
};

static size_t elem_size(int type)
{
	return type == MRT_TYPE_I64 ? 8 : 4;
}

static int dense_type(int type)
{
	return type == MRT_TYPE_F32 || type == MRT_TYPE_I64 || type == MRT_TYPE_I32;
}

static double load_d(const void *p, int type, int64_t i)
{
	switch (type) {
	case MRT_TYPE_I64:
		return (double)((const int64_t *)p)[i];
	case MRT_TYPE_I32:
		return (double)((const int32_t *)p)[i];
	default:
		return (double)((const float *)p)[i];
	}
}

static void store_d(void *p, int type, int64_t i, double v)
{
	switch (type) {
	case MRT_TYPE_I64:
		((int64_t *)p)[i] = (int64_t)v;
		break;
	case MRT_TYPE_I32:
		((int32_t *)p)[i] = (int32_t)v;
		break;
	default:
		((float *)p)[i] = (float)v;
	}
}

/* ---- broadcasting ---- */

/* Broadcast the dims of n value infos into out; -1 (symbolic) stays -1
 * unless the other side fixes it. Returns 0 or -1 on a mismatch. */
static int bcast_dims(const mrt__value_info *const *in, int n, mrt__value_info *out)
{
	int k, i, nd = 0;

	for (k = 0; k < n; k++)
		if (in[k]->ndim > nd)
			nd = in[k]->ndim;
	out->ndim = nd;
	for (i = 0; i < nd; i++)
		out->dims[i] = 1;
	for (k = 0; k < n; k++) {
		int off = nd - in[k]->ndim;
		for (i = 0; i < in[k]->ndim; i++) {
			int64_t d = in[k]->dims[i], *o = &out->dims[off + i];
			if (d == 1)
				continue;
			if (*o == 1 || (*o == -1 && d != -1))
				*o = d;
			else if (d != -1 && *o != d)
				return -1;
		}
	}
	return 0;
}

/* Iteration over an output with up to three broadcast inputs: per-input
 * element strides (0 on broadcast dims), adjacent dims merged. */
typedef struct bcast {
	int ndim, n_in;
	int64_t dims[MRT_MAX_DIMS];
	int64_t st[3][MRT_MAX_DIMS];
} bcast;

static void bcast_setup(bcast *b, const mrt__tensor *out, const mrt__tensor *const *in, int n)
{
	int k, i, j;

	b->n_in = n;
	b->ndim = out->ndim;
	memcpy(b->dims, out->dims, sizeof(b->dims));
	for (k = 0; k < n; k++) {
		int64_t s = 1;
		int off = out->ndim - in[k]->ndim;
		for (i = out->ndim - 1; i >= 0; i--) {
			int64_t d = i >= off ? in[k]->dims[i - off] : 1;
			b->st[k][i] = d == 1 ? 0 : s;
			s *= d;
		}
	}
	/* merge dim i into i+1 when every input is contiguous across them */
	for (i = b->ndim - 2; i >= 0; i--) {
		int ok = 1;
		for (k = 0; k < n; k++)
			if (b->st[k][i] != b->st[k][i + 1] * b->dims[i + 1])
				ok = 0;
		if (!ok)
			continue;
		b->dims[i + 1] *= b->dims[i];
		for (j = i; j < b->ndim - 1; j++) {
			b->dims[j] = b->dims[j + 1];
			for (k = 0; k < n; k++)
				b->st[k][j] = b->st[k][j + 1];
		}
		b->ndim--;
	}
}

typedef void (*row_fn)(int code, void *o, const void *const *in, const int64_t *st, int64_t n,
                       const int *types, int otype);

/* Walk all rows (last dim) of the broadcast; o, in[] are typed by es sizes. */
static void bcast_run(const bcast *b, int code, void *out, size_t oes, const void *const *in,
                      const size_t *ies, const int *types, int otype, row_fn fn)
{
	int64_t idx[MRT_MAX_DIMS] = {0}, off[3] = {0, 0, 0}, ooff = 0;
	int64_t inner = b->ndim ? b->dims[b->ndim - 1] : 1;
	int64_t st_last[3];
	int k, d;

	for (k = 0; k < b->n_in; k++)
		st_last[k] = b->ndim ? b->st[k][b->ndim - 1] : 0;
	if (mrt__numel(b->dims, b->ndim) == 0)
		return;
	for (;;) {
		const void *p[3];
		for (k = 0; k < b->n_in; k++)
			p[k] = (const char *)in[k] + off[k] * (int64_t)ies[k];
		fn(code, (char *)out + ooff * (int64_t)oes, p, st_last, inner, types, otype);
		ooff += inner;
		for (d = b->ndim - 2; d >= 0; d--) {
			idx[d]++;
			for (k = 0; k < b->n_in; k++)
				off[k] += b->st[k][d];
			if (idx[d] < b->dims[d])
				break;
			for (k = 0; k < b->n_in; k++)
				off[k] -= b->st[k][d] * b->dims[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

/* ---- binary arithmetic ---- */

#define BIN_LOOP(T, EXPR)                                                                          \
	do {                                                                                       \
		for (i = 0; i < n; i++) {                                                          \
			T x = a[i * sa], y = b[i * sb];                                            \
			o[i] = (EXPR);                                                             \
		}                                                                                  \
	} while (0)

static void row_f32(int code, void *out, const void *const *in, const int64_t *st, int64_t n,
                    const int *types, int otype)
{
	const float *a = in[0], *b = in[1];
	float *o = out;
	int64_t sa = st[0], sb = st[1], i;

	switch (code) {
	case EW_ADD:
		BIN_LOOP(float, x + y);
		break;
	case EW_SUB:
		BIN_LOOP(float, x - y);
		break;
	case EW_MUL:
		BIN_LOOP(float, x *y);
		break;
	case EW_DIV:
		BIN_LOOP(float, x / y);
		break;
	case EW_POW:
		BIN_LOOP(float, powf(x, y));
		break;
	case EW_MIN:
		BIN_LOOP(float, y < x || isnan(y) ? y : x);
		break;
	case EW_MAX:
		BIN_LOOP(float, y > x || isnan(y) ? y : x);
		break;
	}
}

static void row_i64(int code, void *out, const void *const *in, const int64_t *st, int64_t n,
                    const int *types, int otype)
{
	const int64_t *a = in[0], *b = in[1];
	int64_t *o = out;
	int64_t sa = st[0], sb = st[1], i;

	switch (code) {
	case EW_ADD:
		BIN_LOOP(int64_t, (int64_t)((uint64_t)x + (uint64_t)y));
		break;
	case EW_SUB:
		BIN_LOOP(int64_t, (int64_t)((uint64_t)x - (uint64_t)y));
		break;
	case EW_MUL:
		BIN_LOOP(int64_t, (int64_t)((uint64_t)x * (uint64_t)y));
		break;
	case EW_DIV:
		BIN_LOOP(int64_t, y == 0 || (y == -1 && x == INT64_MIN) ? 0 : x / y);
		break;
	case EW_POW:
		BIN_LOOP(int64_t, (int64_t)pow((double)x, (double)y));
		break;
	case EW_MIN:
		BIN_LOOP(int64_t, y < x ? y : x);
		break;
	case EW_MAX:
		BIN_LOOP(int64_t, y > x ? y : x);
		break;
	case EW_EQUAL:
		BIN_LOOP(int64_t, x == y);
		break;
	case EW_LESS:
		BIN_LOOP(int64_t, x < y);
		break;
	case EW_GREATER:
		BIN_LOOP(int64_t, x > y);
		break;
	}
}

/* Any mix of types: computed in double. */
static void row_any(int code, void *out, const void *const *in, const int64_t *st, int64_t n,
                    const int *types, int otype)
{
	int64_t i;

	for (i = 0; i < n; i++) {
		double x = load_d(in[0], types[0], i * st[0]);
		double y = load_d(in[1], types[1], i * st[1]), r = 0;
		switch (code) {
		case EW_ADD:
			r = x + y;
			break;
		case EW_SUB:
			r = x - y;
			break;
		case EW_MUL:
			r = x * y;
			break;
		case EW_DIV:
			r = otype == MRT_TYPE_F32 ? x / y : (y == 0 ? 0 : trunc(x / y));
			break;
		case EW_POW:
			r = pow(x, y);
			break;
		case EW_MIN:
			r = y < x ? y : x;
			break;
		case EW_MAX:
			r = y > x ? y : x;
			break;
		case EW_EQUAL:
			r = x == y;
			break;
		case EW_LESS:
			r = x < y;
			break;
		case EW_GREATER:
			r = x > y;
			break;
		}
		store_d(out, otype, i, r);
	}
}

static int is_compare(int code)
{
	return code == EW_EQUAL || code == EW_LESS || code == EW_GREATER;
}

static int infer_binary(const mrt__node *node, const mrt__value_info *const *in, int code,
                        mrt__value_info *out, char *err, size_t errlen)
{
	if (node->n_in != 2 || !in[0] || !in[1] || node->n_out != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs 2 inputs, 1 output");
	if (!dense_type(in[0]->type) || !dense_type(in[1]->type))
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "unsupported input type");
	if (code != EW_POW && !is_compare(code) && in[0]->type != in[1]->type)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
		                    "input types differ (%d vs %d)", in[0]->type, in[1]->type);
	if (bcast_dims(in, 2, out) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "shapes cannot be broadcast together");
	out->type = is_compare(code) ? MRT_TYPE_I64 : in[0]->type;
	return 0;
}

static int run_binary(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      int code)
{
	bcast b;
	const void *p[2] = {in[0]->data, in[1]->data};
	size_t es[2] = {elem_size(in[0]->type), elem_size(in[1]->type)};
	int types[2] = {in[0]->type, in[1]->type};
	row_fn fn = row_any;

	if (types[0] == MRT_TYPE_F32 && types[1] == MRT_TYPE_F32 && out->type == MRT_TYPE_F32)
		fn = row_f32;
	else if (types[0] == MRT_TYPE_I64 && types[1] == MRT_TYPE_I64 && out->type == MRT_TYPE_I64)
		fn = row_i64;
	bcast_setup(&b, out, in, 2);
	bcast_run(&b, code, out->data, elem_size(out->type), p, es, types, out->type, fn);
	return 0;
}

#define BINARY_OP(NAME, CODE)                                                                      \
	static int infer_##NAME(const mrt__node *node, const mrt__value_info *const *in,           \
	                        const mrt__const *const *in_const, mrt__value_info *out,           \
	                        char *err, size_t errlen)                                          \
	{                                                                                          \
		return infer_binary(node, in, CODE, out, err, errlen);                             \
	}                                                                                          \
	static int run_##NAME(const mrt__node *node, const mrt__tensor *const *in,                 \
	                      mrt__tensor *out, mrt__op_ctx *ctx, char *err, size_t errlen)        \
	{                                                                                          \
		return run_binary(node, in, out, CODE);                                            \
	}

BINARY_OP(add, EW_ADD)
BINARY_OP(sub, EW_SUB)
BINARY_OP(mul, EW_MUL)
BINARY_OP(div, EW_DIV)
BINARY_OP(pow, EW_POW)
BINARY_OP(equal, EW_EQUAL)
BINARY_OP(less, EW_LESS)
BINARY_OP(greater, EW_GREATER)

/* Min and Max take one or more inputs; folded pairwise. */
static int infer_minmax(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	int k;

	if (node->n_in < 1 || node->n_out != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs inputs");
	for (k = 0; k < node->n_in; k++)
		if (!in[k] || !dense_type(in[k]->type) || in[k]->type != in[0]->type)
			return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
			                    "inputs must share one type");
	if (bcast_dims(in, node->n_in, out) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "shapes cannot be broadcast together");
	out->type = in[0]->type;
	return 0;
}

static int run_minmax(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int code = strcmp(node->op, "Min") == 0 ? EW_MIN : EW_MAX;
	const mrt__tensor *pair[2];
	mrt__tensor acc = *out;
	int k;

	/* out = broadcast(in[0]), then out = f(out, in[k]) */
	pair[0] = in[0];
	pair[1] = in[0];
	run_binary(node, pair, out, EW_MIN);
	pair[0] = &acc;
	for (k = 1; k < node->n_in; k++) {
		pair[1] = in[k];
		run_binary(node, pair, out, code);
	}
	return 0;
}

/* Where(cond, X, Y): cond is any type (nonzero = true); X and Y share one. */
static int infer_where(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	if (node->n_in != 3 || !in[0] || !in[1] || !in[2])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs 3 inputs");
	if (!dense_type(in[0]->type) || !dense_type(in[1]->type) || in[1]->type != in[2]->type)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "X and Y types differ");
	if (bcast_dims(in, 3, out) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "shapes cannot be broadcast together");
	out->type = in[1]->type;
	return 0;
}

static void row_where(int code, void *out, const void *const *in, const int64_t *st, int64_t n,
                      const int *types, int otype)
{
	size_t es = elem_size(otype);
	int64_t i;

	for (i = 0; i < n; i++) {
		int c = load_d(in[0], types[0], i * st[0]) != 0;
		const char *src = c ? (const char *)in[1] + i * st[1] * (int64_t)es
		                    : (const char *)in[2] + i * st[2] * (int64_t)es;
		memcpy((char *)out + i * (int64_t)es, src, es);
	}
}

static int run_where(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	bcast b;
	const void *p[3] = {in[0]->data, in[1]->data, in[2]->data};
	size_t es[3] = {elem_size(in[0]->type), elem_size(in[1]->type), elem_size(in[2]->type)};
	int types[3] = {in[0]->type, in[1]->type, in[2]->type};

	bcast_setup(&b, out, in, 3);
	bcast_run(&b, 0, out->data, elem_size(out->type), p, es, types, out->type, row_where);
	return 0;
}

/* ---- unary ---- */

enum un_code {
	UN_IDENTITY,
	UN_NEG,
	UN_ABS,
	UN_RELU,
	UN_SQRT,
	UN_EXP,
	UN_LOG,
	UN_ERF,
	UN_SIGMOID,
	UN_TANH,
	UN_LEAKY,
	UN_GELU,
	UN_GELU_TANH,
	UN_CLIP,
	UN_FLOOR,
	UN_CEIL,
	UN_RECIP,
	UN_NOT,
};

static int un_code_of(const mrt__node *node)
{
	static const struct {
		const char *op;
		int code;
	} map[] = {
	    {"Identity", UN_IDENTITY}, {"Dropout", UN_IDENTITY}, {"Neg", UN_NEG},
	    {"Abs", UN_ABS},           {"Relu", UN_RELU},        {"Sqrt", UN_SQRT},
	    {"Exp", UN_EXP},           {"Log", UN_LOG},          {"Erf", UN_ERF},
	    {"Sigmoid", UN_SIGMOID},   {"Tanh", UN_TANH},        {"LeakyRelu", UN_LEAKY},
	    {"Gelu", UN_GELU},         {"Clip", UN_CLIP},        {"Floor", UN_FLOOR},
	    {"Ceil", UN_CEIL},         {"Reciprocal", UN_RECIP}, {"Not", UN_NOT},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].op, node->op) == 0)
			return map[i].code;
	return -1;
}

/* Ops that also take integer inputs. */
static int un_any_type(int code)
{
	return code == UN_IDENTITY || code == UN_NEG || code == UN_ABS || code == UN_RELU ||
	       code == UN_CLIP || code == UN_NOT;
}

static int infer_unary(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	int code = un_code_of(node), k;
	const mrt__attr *a;

	if (node->n_in < 1 || !in[0] || node->n_out < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs an input");
	if (!dense_type(in[0]->type) || (!un_any_type(code) && in[0]->type != MRT_TYPE_F32))
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "input must be float32");
	if (code == UN_GELU && (a = mrt__node_attr(node, "approximate")) != NULL &&
	    (a->kind != MRT__ATTR_STRING ||
	     (strcmp(a->s, "none") != 0 && strcmp(a->s, "tanh") != 0)))
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "attribute 'approximate' must be \"none\" or \"tanh\"");
	if (code == UN_CLIP)
		for (k = 1; k < node->n_in; k++)
			if (in[k] && mrt__numel(in[k]->dims, in[k]->ndim) > 1)
				return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
				                    "min and max must be scalars");
	if (node->n_out > 2 || (node->n_out == 2 && code != UN_IDENTITY))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "too many outputs");
	for (k = 0; k < node->n_out; k++) {
		out[k] = *in[0];
		out[k].name = NULL;
	}
	if (node->n_out == 2) /* Dropout mask: all true */
		out[1].type = MRT_TYPE_I64;
	return 0;
}

static float gelu_erf(float x)
{
	return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

static float gelu_tanh(float x)
{
	return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

typedef struct unary_job {
	int code;
	float alpha, lo, hi;
	const float *x;
	float *y;
	int64_t n;
} unary_job;

#define UN_LOOP(EXPR)                                                                              \
	do {                                                                                       \
		for (i = b; i < e; i++) {                                                          \
			float v = x[i];                                                            \
			y[i] = (EXPR);                                                             \
		}                                                                                  \
	} while (0)

static void unary_task(void *arg, int task, int n_tasks)
{
	const unary_job *j = arg;
	const float *x = j->x;
	float *y = j->y, al = j->alpha, lo = j->lo, hi = j->hi;
	int64_t b = j->n * task / n_tasks, e = j->n * (task + 1) / n_tasks, i;

	switch (j->code) {
	case UN_IDENTITY:
		memcpy(y + b, x + b, (size_t)(e - b) * sizeof(float));
		break;
	case UN_NEG:
		UN_LOOP(-v);
		break;
	case UN_ABS:
		UN_LOOP(fabsf(v));
		break;
	case UN_RELU: /* maxps picks its second operand, 0, for NaN like v > 0 ? v : 0 */
		for (i = b; i + 4 <= e; i += 4)
			_mm_storeu_ps(y + i, _mm_max_ps(_mm_loadu_ps(x + i), _mm_setzero_ps()));
		b = i;
		UN_LOOP(v > 0 ? v : 0);
		break;
	case UN_SQRT:
		UN_LOOP(sqrtf(v));
		break;
	case UN_EXP:
		UN_LOOP(expf(v));
		break;
	case UN_LOG:
		UN_LOOP(logf(v));
		break;
	case UN_ERF:
		UN_LOOP(erff(v));
		break;
	case UN_SIGMOID:
		UN_LOOP(1.0f / (1.0f + expf(-v)));
		break;
	case UN_TANH:
		UN_LOOP(tanhf(v));
		break;
	case UN_LEAKY:
		UN_LOOP(v >= 0 ? v : al * v);
		break;
	case UN_GELU:
		UN_LOOP(gelu_erf(v));
		break;
	case UN_GELU_TANH:
		UN_LOOP(gelu_tanh(v));
		break;
	case UN_CLIP:
		UN_LOOP(v < lo ? lo : (v > hi ? hi : v));
		break;
	case UN_FLOOR:
		UN_LOOP(floorf(v));
		break;
	case UN_CEIL:
		UN_LOOP(ceilf(v));
		break;
	case UN_RECIP:
		UN_LOOP(1.0f / v);
		break;
	case UN_NOT:
		UN_LOOP(v == 0 ? 1.0f : 0.0f);
		break;
	}
}

/* Integer path (I64/I32 via double is exact for the ops allowed). */
static void unary_int(int code, const mrt__tensor *x, mrt__tensor *y, double lo, double hi)
{
	int64_t n = mrt__numel(x->dims, x->ndim), i;

	for (i = 0; i < n; i++) {
		double v = load_d(x->data, x->type, i), r = v;
		switch (code) {
		case UN_NEG:
			r = -v;
			break;
		case UN_ABS:
			r = v < 0 ? -v : v;
			break;
		case UN_RELU:
			r = v > 0 ? v : 0;
			break;
		case UN_CLIP:
			r = v < lo ? lo : (v > hi ? hi : v);
			break;
		case UN_NOT:
			r = v == 0;
			break;
		}
		store_d(y->data, y->type, i, r);
	}
}

static int run_unary(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	unary_job j;
	const mrt__attr *a;
	int64_t n = mrt__numel(out->dims, out->ndim), k;
	int tasks;

	j.code = un_code_of(node);
	j.alpha = mrt__attr_float(node, "alpha", 0.01f);
	j.lo = mrt__attr_float(node, "min", -INFINITY);
	j.hi = mrt__attr_float(node, "max", INFINITY);
	if (j.code == UN_GELU && (a = mrt__node_attr(node, "approximate")) != NULL &&
	    a->kind == MRT__ATTR_STRING && strcmp(a->s, "tanh") == 0)
		j.code = UN_GELU_TANH;
	if (j.code == UN_CLIP) {
		if (node->n_in > 1 && in[1])
			j.lo = (float)load_d(in[1]->data, in[1]->type, 0);
		if (node->n_in > 2 && in[2])
			j.hi = (float)load_d(in[2]->data, in[2]->type, 0);
	}
	if (node->n_out == 2) /* Dropout mask */
		for (k = 0; k < n; k++)
			((int64_t *)out[1].data)[k] = 1;
	if (in[0]->type != MRT_TYPE_F32) {
		if (j.code == UN_IDENTITY)
			memcpy(out->data, in[0]->data, (size_t)n * elem_size(out->type));
		else
			unary_int(j.code, in[0], out, j.lo, j.hi);
		return 0;
	}
	j.x = in[0]->data;
	j.y = out->data;
	j.n = n;
	tasks = n >= (1 << 16) ? mrt__pool_size(ctx->pool) : 1;
	if (tasks > 1)
		mrt__pool_run(ctx->pool, tasks, unary_task, &j);
	else
		unary_task(&j, 0, 1);
	return 0;
}

/* ---- Cast ---- */

/* Our type for an ONNX TensorProto data type: float-like -> F32, INT32 ->
 * I32, everything integral or bool -> I64; -1 for strings. */
static int cast_target(int64_t onnx_type)
{
	switch (onnx_type) {
	case 1:
	case 10:
	case 11:
	case 16:
		return MRT_TYPE_F32;
	case 6:
		return MRT_TYPE_I32;
	case 2:
	case 3:
	case 4:
	case 5:
	case 7:
	case 9:
	case 12:
	case 13:
		return MRT_TYPE_I64;
	default:
		return -1;
	}
}

static int infer_cast(const mrt__node *node, const mrt__value_info *const *in,
                      const mrt__const *const *in_const, mrt__value_info *out, char *err,
                      size_t errlen)
{
	int64_t to;

	if (node->n_in != 1 || !in[0] || node->n_out != 1 || !dense_type(in[0]->type))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs one dense input");
	if (mrt__attr_int(node, "to", -1, &to) != 0 || cast_target(to) < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "attribute 'to' is missing or an unsupported type");
	*out = *in[0];
	out->name = NULL;
	out->type = cast_target(to);
	return 0;
}

static int run_cast(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                    mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t n = mrt__numel(out->dims, out->ndim), i, to = 1;

	mrt__attr_int(node, "to", 1, &to);
	if (in[0]->type == out->type && to != 9) {
		memcpy(out->data, in[0]->data, (size_t)n * elem_size(out->type));
		return 0;
	}
	for (i = 0; i < n; i++) {
		double v = load_d(in[0]->data, in[0]->type, i);
		if (to == 9)
			v = v != 0;
		else if (out->type != MRT_TYPE_F32 && !(fabs(v) < 9.2e18))
			v = 0; /* NaN or out of range: C would be undefined */
		store_d(out->data, out->type, i, v);
	}
	return 0;
}

#define UNARY(NAME) {NAME, infer_unary, NULL, run_unary, 0},
#define UNARY_TABLE                                                                                \
	UNARY("Identity")                                                                          \
	UNARY("Dropout") UNARY("Neg") UNARY("Abs") UNARY("Relu") UNARY("Sqrt") UNARY("Exp")        \
	    UNARY("Log") UNARY("Erf") UNARY("Sigmoid") UNARY("Tanh") UNARY("LeakyRelu")            \
	        UNARY("Gelu") UNARY("Clip") UNARY("Floor") UNARY("Ceil") UNARY("Reciprocal")       \
	            UNARY("Not"){"Cast", infer_cast, NULL, run_cast, 0},

const mrt__op_def mrt__ops_elementwise[] = {
    {"Add", infer_add, NULL, run_add, 0},       {"Sub", infer_sub, NULL, run_sub, 0},
    {"Mul", infer_mul, NULL, run_mul, 0},       {"Div", infer_div, NULL, run_div, 0},
    {"Pow", infer_pow, NULL, run_pow, 0},       {"Equal", infer_equal, NULL, run_equal, 0},
    {"Less", infer_less, NULL, run_less, 0},    {"Greater", infer_greater, NULL, run_greater, 0},
    {"Min", infer_minmax, NULL, run_minmax, 0}, {"Max", infer_minmax, NULL, run_minmax, 0},
    {"Where", infer_where, NULL, run_where, 0}, UNARY_TABLE{NULL},
};
