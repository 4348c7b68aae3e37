/* Shape operators: Flatten, Reshape, Transpose, Concat, Slice, Squeeze,
 * Unsqueeze, Pad, Shape, ConstantOfShape, Expand, Range. Shapes that come
 * from an input's value need that input constant at inference (the executor
 * folds such inputs at plan time); otherwise the dims stay symbolic (-1). */
#include <math.h>
#include <string.h>

#include "ops.h"

#define MAXD MRT_MAX_DIMS

static size_t elem_size(int type)
{
	return type == MRT_TYPE_I64 ? 8 : 4;
}

static int dense_type(int type)
{
	return type == MRT_TYPE_F32 || type == MRT_TYPE_I64 || type == MRT_TYPE_I32;
}

/* Integer element i of a constant (I64, I32 or F32). */
static int64_t const_i64(const mrt__const *c, int64_t i)
{
	switch (c->type) {
	case MRT_TYPE_I64:
		return ((const int64_t *)c->data)[i];
	case MRT_TYPE_I32:
		return ((const int32_t *)c->data)[i];
	default:
		return (int64_t)((const float *)c->data)[i];
	}
}

/* Integer element i of a run tensor. */
static int64_t tensor_i64(const mrt__tensor *t, int64_t i)
{
	switch (t->type) {
	case MRT_TYPE_I64:
		return ((const int64_t *)t->data)[i];
	case MRT_TYPE_I32:
		return ((const int32_t *)t->data)[i];
	default:
		return (int64_t)((const float *)t->data)[i];
	}
}

/* The INT or INTS attribute attr (NULL: none) as a vector: its length, -3
 * when longer than max, -2 when absent. Shared by read_ints (inference) and
 * run_ints (run), so both read attributes the same way. */
static int attr_ints(const mrt__node *node, const char *attr, int64_t *v, int max)
{
	const mrt__attr *a = attr != NULL ? mrt__node_attr(node, attr) : NULL;
	int64_t i;

	if (a != NULL && a->kind == MRT__ATTR_INTS) {
		if (a->n > max)
			return -3;
		for (i = 0; i < a->n; i++)
			v[i] = a->ints[i];
		return (int)a->n;
	}
	if (a != NULL && a->kind == MRT__ATTR_INT && max >= 1) {
		v[0] = a->i;
		return 1;
	}
	return -2;
}

/* Read a 1-D (or scalar) integer vector from constant input k, or from the
 * INTS attribute attr when the input is absent. Returns its length, -1 when
 * neither is known (input present but not constant), -2 when absent. */
static int read_ints(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, int k, const char *attr, int64_t *v,
                     int max)
{
	int64_t n, i;

	if (k < node->n_in && in[k] != NULL) {
		if (in_const == NULL || in_const[k] == NULL || !dense_type(in_const[k]->type))
			return -1;
		n = mrt__numel(in_const[k]->dims, in_const[k]->ndim);
		if (n < 0 || n > max)
			return -3;
		for (i = 0; i < n; i++)
			v[i] = const_i64(in_const[k], i);
		return (int)n;
	}
	return attr_ints(node, attr, v, max);
}

/* Same at run time from a tensor (input k) or the attribute. */
static int run_ints(const mrt__node *node, const mrt__tensor *const *in, int k, const char *attr,
                    int64_t *v, int max)
{
	int64_t n, i;

	if (k < node->n_in && in[k] != NULL) {
		n = mrt__numel(in[k]->dims, in[k]->ndim);
		if (n < 0 || n > max)
			return -3;
		for (i = 0; i < n; i++)
			v[i] = tensor_i64(in[k], i);
		return (int)n;
	}
	return attr_ints(node, attr, v, max);
}

static int norm_axis(int64_t axis, int rank, int *out)
{
	if (axis < 0)
		axis += rank;
	if (axis < 0 || axis >= rank)
		return -1;
	*out = (int)axis;
	return 0;
}

static int64_t dim_mul(int64_t a, int64_t b)
{
	if (a < 0 || b < 0)
		return -1;
	if (b != 0 && a > INT64_MAX / b)
		return -1;
	return a * b;
}

static void copy_run(const mrt__tensor *x, mrt__tensor *y)
{
	int64_t n = mrt__numel(y->dims, y->ndim);

	if (x->data != y->data)
		memcpy(y->data, x->data, (size_t)n * elem_size(y->type));
}

static int need_inputs(const mrt__node *node, const mrt__value_info *const *in, int n, char *err,
                       size_t errlen)
{
	int k;

	if (node->n_in < n || node->n_out < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs %d input(s)", n);
	for (k = 0; k < n; k++)
		if (in[k] == NULL)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "input %d is missing",
			                    k);
	if (!dense_type(in[0]->type))
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "unsupported input type");
	return 0;
}

/* ---- Flatten ---- */

static int infer_flatten(const mrt__node *node, const mrt__value_info *const *in,
                         const mrt__const *const *in_const, mrt__value_info *out, char *err,
                         size_t errlen)
{
	int64_t axis, a = 1, b = 1;
	int i, rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	mrt__attr_int(node, "axis", 1, &axis);
	if (axis < 0)
		axis += in[0]->ndim;
	if (axis < 0 || axis > in[0]->ndim)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "axis out of range");
	for (i = 0; i < in[0]->ndim; i++) {
		if (i < axis)
			a = dim_mul(a, in[0]->dims[i]);
		else
			b = dim_mul(b, in[0]->dims[i]);
	}
	out->type = in[0]->type;
	out->ndim = 2;
	out->dims[0] = a;
	out->dims[1] = b;
	return 0;
}

static int run_copy(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                    mrt__op_ctx *ctx, char *err, size_t errlen)
{
	copy_run(in[0], out);
	return 0;
}

/* ---- Reshape ---- */

static int infer_reshape(const mrt__node *node, const mrt__value_info *const *in,
                         const mrt__const *const *in_const, mrt__value_info *out, char *err,
                         size_t errlen)
{
	int64_t shape[MAXD], allowzero, known_in = 1, known_out = 1;
	int n, i, neg = -1, sym_in = 0, sym_copied = 0, rc;

	if ((rc = need_inputs(node, in, 2, err, errlen)) != 0)
		return rc;
	mrt__attr_int(node, "allowzero", 0, &allowzero);
	out->type = in[0]->type;
	n = read_ints(node, in, in_const, 1, NULL, shape, MAXD);
	if (n == -1) { /* shape not known yet: only the rank */
		if (in[1]->ndim != 1 || in[1]->dims[0] < 0 || in[1]->dims[0] > MAXD)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "shape input must be 1-D with at most %d values", MAXD);
		out->ndim = (int)in[1]->dims[0];
		for (i = 0; i < out->ndim; i++)
			out->dims[i] = -1;
		return 0;
	}
	if (n < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad shape input");
	for (i = 0; i < in[0]->ndim; i++) {
		if (in[0]->dims[i] < 0)
			sym_in++;
		else
			known_in = dim_mul(known_in, in[0]->dims[i]);
	}
	out->ndim = n;
	for (i = 0; i < n; i++) {
		int64_t d = shape[i];
		if (d == 0 && !allowzero) {
			if (i >= in[0]->ndim)
				return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
				                    "0 at index %d copies a missing dim", i);
			d = in[0]->dims[i];
			if (d < 0)
				sym_copied++;
		} else if (d == -1) {
			if (neg >= 0)
				return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
				                    "more than one -1 in shape");
			neg = i;
		} else if (d < 0) {
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad dim %lld",
			                    (long long)d);
		}
		out->dims[i] = d;
		if (d >= 0 && i != neg)
			known_out = dim_mul(known_out, d);
	}
	if (neg >= 0) {
		if (sym_in > sym_copied)
			out->dims[neg] = -1;
		else if (known_out <= 0 || known_in < 0 || known_in % known_out != 0)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "cannot infer -1: %lld elements into %lld",
			                    (long long)known_in, (long long)known_out);
		else
			out->dims[neg] = known_in / known_out;
	} else if (sym_in == 0 && sym_copied == 0 && known_in != known_out) {
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "cannot reshape %lld elements into %lld", (long long)known_in,
		                    (long long)known_out);
	}
	return 0;
}

/* ---- Transpose ---- */

static int get_perm(const mrt__node *node, int rank, int64_t *perm)
{
	const mrt__attr *a = mrt__node_attr(node, "perm");
	int i, seen = 0;

	if (a == NULL) {
		for (i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return 0;
	}
	if (a->kind != MRT__ATTR_INTS || a->n != rank)
		return -1;
	for (i = 0; i < rank; i++) {
		perm[i] = a->ints[i] < 0 ? a->ints[i] + rank : a->ints[i];
		if (perm[i] < 0 || perm[i] >= rank || (seen & (1 << perm[i])))
			return -1;
		seen |= 1 << perm[i];
	}
	return 0;
}

static int infer_transpose(const mrt__node *node, const mrt__value_info *const *in,
                           const mrt__const *const *in_const, mrt__value_info *out, char *err,
                           size_t errlen)
{
	int64_t perm[MAXD];
	int i, rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	if (get_perm(node, in[0]->ndim, perm) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "perm is not a permutation of %d axes", in[0]->ndim);
	out->type = in[0]->type;
	out->ndim = in[0]->ndim;
	for (i = 0; i < out->ndim; i++)
		out->dims[i] = in[0]->dims[perm[i]];
	return 0;
}

/* Copy src (dims sdims, strides sst in elements, possibly permuted) into a
 * dense dst of dims ddims: a generic strided gather. */
static void strided_copy(char *dst, const char *src, size_t es, int nd, const int64_t *ddims,
                         const int64_t *sst, int64_t sbase)
{
	int64_t idx[MAXD] = {0}, off = sbase, n = mrt__numel(ddims, nd), k;
	int d;

	for (k = 0; k < n; k++) {
		memcpy(dst + k * (int64_t)es, src + off * (int64_t)es, es);
		for (d = nd - 1; d >= 0; d--) {
			idx[d]++;
			off += sst[d];
			if (idx[d] < ddims[d])
				break;
			off -= sst[d] * ddims[d];
			idx[d] = 0;
		}
	}
}

static void dense_strides(const int64_t *dims, int nd, int64_t *st)
{
	int64_t s = 1;
	int i;

	for (i = nd - 1; i >= 0; i--) {
		st[i] = s;
		s *= dims[i];
	}
}

static int run_transpose(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                         mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t perm[MAXD], ist[MAXD], sst[MAXD];
	int i, nd = in[0]->ndim;

	get_perm(node, nd, perm);
	dense_strides(in[0]->dims, nd, ist);
	for (i = 0; i < nd; i++)
		sst[i] = ist[perm[i]];
	if (mrt__numel(out->dims, nd) == 0)
		return 0;
	strided_copy(out->data, in[0]->data, elem_size(out->type), nd, out->dims, sst, 0);
	return 0;
}

/* ---- Concat ---- */

static int infer_concat(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	int64_t axis;
	int ax, k, i, rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	mrt__attr_int(node, "axis", 0, &axis);
	if (norm_axis(axis, in[0]->ndim, &ax) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "axis out of range");
	*out = *in[0];
	out->name = NULL;
	for (k = 1; k < node->n_in; k++) {
		if (in[k] == NULL || in[k]->ndim != in[0]->ndim || in[k]->type != in[0]->type)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "input %d differs in rank or type", k);
		for (i = 0; i < out->ndim; i++) {
			int64_t d = in[k]->dims[i];
			if (i == ax) {
				out->dims[i] = out->dims[i] < 0 || d < 0 ? -1 : out->dims[i] + d;
			} else if (d >= 0 && out->dims[i] >= 0 && d != out->dims[i]) {
				return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
				                    "input %d: dim %d is %lld, expected %lld", k, i,
				                    (long long)d, (long long)out->dims[i]);
			} else if (out->dims[i] < 0) {
				out->dims[i] = d;
			}
		}
	}
	return 0;
}

static int run_concat(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t axis, outer = 1, inner = 1, o, pos = 0;
	size_t es = elem_size(out->type);
	int ax, i, k;

	mrt__attr_int(node, "axis", 0, &axis);
	norm_axis(axis, out->ndim, &ax);
	for (i = 0; i < ax; i++)
		outer *= out->dims[i];
	for (i = ax + 1; i < out->ndim; i++)
		inner *= out->dims[i];
	for (k = 0; k < node->n_in; k++) {
		int64_t chunk = in[k]->dims[ax] * inner;
		for (o = 0; o < outer; o++)
			memcpy((char *)out->data + (o * out->dims[ax] * inner + pos) * (int64_t)es,
			       (const char *)in[k]->data + o * chunk * (int64_t)es,
			       (size_t)chunk * es);
		pos += chunk;
	}
	return 0;
}

/* ---- Slice ---- */

/* Per-axis start and step plus output dims of a slice; dims of unknown
 * (symbolic) size or unknown parameters give -1. */
typedef struct slice_plan {
	int64_t start[MAXD], step[MAXD];
} slice_plan;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/* Fill sp and dims (in = input dims). Returns 0 or an error message code:
 * -1 bad axes, -2 zero step. */
static int slice_compute(int nd, const int64_t *in_dims, int n, const int64_t *starts,
                         const int64_t *ends, const int64_t *axes, const int64_t *steps,
                         slice_plan *sp, int64_t *dims)
{
	int i, ax, seen = 0;

	for (i = 0; i < nd; i++) {
		sp->start[i] = 0;
		sp->step[i] = 1;
		dims[i] = in_dims[i];
	}
	for (i = 0; i < n; i++) {
		int64_t d, st = steps ? steps[i] : 1, b = starts[i], e = ends[i];
		if (norm_axis(axes ? axes[i] : i, nd, &ax) != 0 || (seen & (1 << ax)))
			return -1;
		seen |= 1 << ax;
		if (st == 0)
			return -2;
		d = in_dims[ax];
		if (d < 0) {
			dims[ax] = -1;
			continue;
		}
		if (b < 0)
			b += d;
		if (e < 0)
			e += d;
		if (st > 0) {
			b = clamp64(b, 0, d);
			e = clamp64(e, 0, d);
			dims[ax] = e > b ? (e - b + st - 1) / st : 0;
		} else {
			b = clamp64(b, 0, d - 1);
			e = clamp64(e, -1, d - 1);
			dims[ax] = b > e ? (b - e + (-st) - 1) / (-st) : 0;
		}
		sp->start[ax] = b;
		sp->step[ax] = st;
	}
	return 0;
}

static int infer_slice(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	int64_t starts[MAXD], ends[MAXD], axes[MAXD], steps[MAXD];
	int ns, ne, na, nst, i, rc;
	slice_plan sp;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	out->type = in[0]->type;
	out->ndim = in[0]->ndim;
	ns = read_ints(node, in, in_const, 1, "starts", starts, MAXD);
	ne = read_ints(node, in, in_const, 2, "ends", ends, MAXD);
	na = read_ints(node, in, in_const, 3, "axes", axes, MAXD);
	nst = read_ints(node, in, in_const, 4, NULL, steps, MAXD);
	if (ns == -1 || ne == -1 || na == -1 || nst == -1) {
		for (i = 0; i < out->ndim; i++)
			out->dims[i] = -1;
		return 0;
	}
	if (ns < 0 || ne != ns || (na != -2 && na != ns) || (nst != -2 && nst != ns))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "starts, ends, axes and steps must have one length");
	rc = slice_compute(out->ndim, in[0]->dims, ns, starts, ends, na == -2 ? NULL : axes,
	                   nst == -2 ? NULL : steps, &sp, out->dims);
	if (rc != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    rc == -1 ? "bad or repeated axis" : "step is 0");
	return 0;
}

static int run_slice(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t starts[MAXD], ends[MAXD], axes[MAXD], steps[MAXD], dims[MAXD], ist[MAXD];
	int64_t sst[MAXD], base = 0;
	int ns, na, nst, i, nd = in[0]->ndim;
	slice_plan sp;

	ns = run_ints(node, in, 1, "starts", starts, MAXD);
	run_ints(node, in, 2, "ends", ends, MAXD);
	na = run_ints(node, in, 3, "axes", axes, MAXD);
	nst = run_ints(node, in, 4, NULL, steps, MAXD);
	if (slice_compute(nd, in[0]->dims, ns, starts, ends, na < 0 ? NULL : axes,
	                  nst < 0 ? NULL : steps, &sp, dims) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad slice parameters");
	dense_strides(in[0]->dims, nd, ist);
	for (i = 0; i < nd; i++) {
		if (dims[i] != out->dims[i])
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "slice parameters changed after planning");
		base += sp.start[i] * ist[i];
		sst[i] = sp.step[i] * ist[i];
	}
	if (mrt__numel(out->dims, nd) == 0)
		return 0;
	strided_copy(out->data, in[0]->data, elem_size(out->type), nd, out->dims, sst, base);
	return 0;
}

/* ---- Squeeze / Unsqueeze ---- */

static int infer_squeeze(const mrt__node *node, const mrt__value_info *const *in,
                         const mrt__const *const *in_const, mrt__value_info *out, char *err,
                         size_t errlen)
{
	int64_t axes[MAXD];
	int n, i, ax, drop = 0, rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	n = read_ints(node, in, in_const, 1, "axes", axes, MAXD);
	if (n == -1 || n == -3)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "axes must be a constant");
	for (i = 0; i < n; i++) {
		if (norm_axis(axes[i], in[0]->ndim, &ax) != 0 || in[0]->dims[ax] > 1 ||
		    in[0]->dims[ax] == 0)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "axis %lld is not a dim of size 1", (long long)axes[i]);
		drop |= 1 << ax;
	}
	if (n < 0)
		for (i = 0; i < in[0]->ndim; i++)
			if (in[0]->dims[i] == 1)
				drop |= 1 << i;
	out->type = in[0]->type;
	out->ndim = 0;
	for (i = 0; i < in[0]->ndim; i++)
		if (!(drop & (1 << i)))
			out->dims[out->ndim++] = in[0]->dims[i];
	return 0;
}

static int infer_unsqueeze(const mrt__node *node, const mrt__value_info *const *in,
                           const mrt__const *const *in_const, mrt__value_info *out, char *err,
                           size_t errlen)
{
	int64_t axes[MAXD];
	int n, i, j, ax, add = 0, rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	n = read_ints(node, in, in_const, 1, "axes", axes, MAXD);
	if (n < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "axes must be a constant");
	out->type = in[0]->type;
	out->ndim = in[0]->ndim + n;
	if (out->ndim > MAXD)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "rank above %d", MAXD);
	for (i = 0; i < n; i++) {
		if (norm_axis(axes[i], out->ndim, &ax) != 0 || (add & (1 << ax)))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "bad or repeated axis %lld", (long long)axes[i]);
		add |= 1 << ax;
	}
	for (i = 0, j = 0; i < out->ndim; i++)
		out->dims[i] = (add & (1 << i)) ? 1 : in[0]->dims[j++];
	return 0;
}

/* ---- Pad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static int pad_mode(const mrt__node *node)
{
	const mrt__attr *a = mrt__node_attr(node, "mode");

	if (a == NULL)
		return PAD_CONSTANT;
	if (a->kind != MRT__ATTR_STRING)
		return -1;
	if (strcmp(a->s, "constant") == 0)
		return PAD_CONSTANT;
	if (strcmp(a->s, "reflect") == 0)
		return PAD_REFLECT;
	if (strcmp(a->s, "edge") == 0)
		return PAD_EDGE;
	return -1;
}

/* Expand pads (with optional axes) to begin/end per dim. */
static int pad_expand(int nd, int n, const int64_t *pads, int na, const int64_t *axes,
                      int64_t *begin, int64_t *end)
{
	int i, ax, cnt = na >= 0 ? na : nd;

	if (n != 2 * cnt)
		return -1;
	for (i = 0; i < nd; i++)
		begin[i] = end[i] = 0;
	for (i = 0; i < cnt; i++) {
		if (norm_axis(na >= 0 ? axes[i] : i, nd, &ax) != 0)
			return -1;
		begin[ax] = pads[i];
		end[ax] = pads[cnt + i];
	}
	return 0;
}

static int infer_pad(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, mrt__value_info *out, char *err,
                     size_t errlen)
{
	int64_t pads[2 * MAXD], axes[MAXD], begin[MAXD], end[MAXD];
	int n, na, i, mode = pad_mode(node), rc;

	if ((rc = need_inputs(node, in, 1, err, errlen)) != 0)
		return rc;
	if (mode < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "mode must be constant, reflect or edge");
	out->type = in[0]->type;
	out->ndim = in[0]->ndim;
	n = read_ints(node, in, in_const, 1, "pads", pads, 2 * MAXD);
	na = read_ints(node, in, in_const, 3, NULL, axes, MAXD);
	if (n == -1 || na == -1) {
		for (i = 0; i < out->ndim; i++)
			out->dims[i] = -1;
		return 0;
	}
	if (n < 0 || pad_expand(out->ndim, n, pads, na == -2 ? -1 : na, axes, begin, end) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "pads must hold 2 values per axis");
	for (i = 0; i < out->ndim; i++) {
		int64_t d = in[0]->dims[i];
		if (d < 0) {
			out->dims[i] = -1;
			continue;
		}
		if (begin[i] < -d || end[i] < -d || d + begin[i] + end[i] < 0 ||
		    begin[i] > INT32_MAX || end[i] > INT32_MAX)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "pads out of range on axis %d", i);
		if (mode == PAD_REFLECT && (begin[i] >= d || end[i] >= d) &&
		    (begin[i] > 0 || end[i] > 0))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "reflect pad on axis %d needs pads < dim %lld", i,
			                    (long long)d);
		if (mode == PAD_EDGE && d == 0 && (begin[i] > 0 || end[i] > 0))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "edge pad of an empty axis %d", i);
		out->dims[i] = d + begin[i] + end[i];
	}
	return 0;
}

/* Source index along one axis for output index o, or -1 for the fill. */
static int64_t pad_src(int mode, int64_t o, int64_t b, int64_t d)
{
	int64_t s = o - b;

	if (s >= 0 && s < d)
		return s;
	if (mode == PAD_CONSTANT)
		return -1;
	if (mode == PAD_EDGE)
		return s < 0 ? 0 : d - 1;
	if (d == 1)
		return 0;
	while (s < 0 || s >= d) /* reflect (pads < d, so at most twice) */
		s = s < 0 ? -s : 2 * (d - 1) - s;
	return s;
}

static int run_pad(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                   mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t pads[2 * MAXD], axes[MAXD], begin[MAXD], end[MAXD], ist[MAXD], idx[MAXD] = {0};
	int64_t n_out = mrt__numel(out->dims, out->ndim), k;
	int nd = out->ndim, mode = pad_mode(node), n, na, d;
	size_t es = elem_size(out->type);
	double cval = mrt__attr_float(node, "value", 0.0f);
	char fill[8];

	n = run_ints(node, in, 1, "pads", pads, 2 * MAXD);
	na = run_ints(node, in, 3, NULL, axes, MAXD);
	if (pad_expand(nd, n, pads, na < 0 ? -1 : na, axes, begin, end) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad pads");
	if (node->n_in > 2 && in[2] != NULL && mrt__numel(in[2]->dims, in[2]->ndim) > 0)
		cval = in[2]->type == MRT_TYPE_F32 ? ((const float *)in[2]->data)[0]
		                                   : (double)tensor_i64(in[2], 0);
	if (out->type == MRT_TYPE_F32) {
		float f = (float)cval;
		memcpy(fill, &f, 4);
	} else if (out->type == MRT_TYPE_I32) {
		int32_t v = (int32_t)cval;
		memcpy(fill, &v, 4);
	} else {
		int64_t v = (int64_t)cval;
		memcpy(fill, &v, 8);
	}
	dense_strides(in[0]->dims, nd, ist);
	for (k = 0; k < n_out; k++) {
		int64_t off = 0;
		for (d = 0; d < nd; d++) {
			int64_t s = pad_src(mode, idx[d], begin[d], in[0]->dims[d]);
			if (s < 0) {
				off = -1;
				break;
			}
			off += s * ist[d];
		}
		memcpy((char *)out->data + k * (int64_t)es,
		       off < 0 ? fill : (const char *)in[0]->data + off * (int64_t)es, es);
		for (d = nd - 1; d >= 0; d--) {
			if (++idx[d] < out->dims[d])
				break;
			idx[d] = 0;
		}
	}
	return 0;
}

/* ---- Shape, ConstantOfShape ---- */

static void shape_range(const mrt__node *node, int rank, int64_t *b, int64_t *e)
{
	mrt__attr_int(node, "start", 0, b);
	mrt__attr_int(node, "end", rank, e);
	if (*b < 0)
		*b += rank;
	if (*e < 0)
		*e += rank;
	*b = clamp64(*b, 0, rank);
	*e = clamp64(*e, *b, rank);
}

static int infer_shape(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	int64_t b, e;

	if (node->n_in < 1 || !in[0] || node->n_out != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs one input");
	shape_range(node, in[0]->ndim, &b, &e);
	out->type = MRT_TYPE_I64;
	out->ndim = 1;
	out->dims[0] = e - b;
	return 0;
}

static int run_shape(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t b, e, i;

	shape_range(node, in[0]->ndim, &b, &e);
	for (i = b; i < e; i++)
		((int64_t *)out->data)[i - b] = in[0]->dims[i];
	return 0;
}

static int infer_cos(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, mrt__value_info *out, char *err,
                     size_t errlen)
{
	const mrt__attr *a = mrt__node_attr(node, "value");
	int64_t shape[MAXD];
	int n, i;

	if (node->n_in < 1 || !in[0] || node->n_out != 1 || in[0]->ndim != 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs a 1-D shape input");
	out->type = MRT_TYPE_F32;
	if (a != NULL && (a->kind == MRT__ATTR_INT || a->kind == MRT__ATTR_INTS))
		out->type = MRT_TYPE_I64;
	else if (a != NULL && a->kind != MRT__ATTR_FLOAT && a->kind != MRT__ATTR_FLOATS)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad 'value' kind");
	n = read_ints(node, in, in_const, 0, NULL, shape, MAXD);
	if (n == -1) {
		if (in[0]->dims[0] < 0 || in[0]->dims[0] > MAXD)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad shape length");
		out->ndim = (int)in[0]->dims[0];
		for (i = 0; i < out->ndim; i++)
			out->dims[i] = -1;
		return 0;
	}
	if (n < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad shape input");
	out->ndim = n;
	for (i = 0; i < n; i++) {
		if (shape[i] < 0)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "negative dim");
		out->dims[i] = shape[i];
	}
	return 0;
}

static int run_cos(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                   mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const mrt__attr *a = mrt__node_attr(node, "value");
	int64_t n = mrt__numel(out->dims, out->ndim), i, iv = 0;
	float fv = 0;

	if (a != NULL) {
		iv = a->kind == MRT__ATTR_INTS ? (a->n ? a->ints[0] : 0) : a->i;
		fv = a->kind == MRT__ATTR_FLOATS ? (a->n ? a->floats[0] : 0) : a->f;
	}
	for (i = 0; i < n; i++) {
		if (out->type == MRT_TYPE_I64)
			((int64_t *)out->data)[i] = iv;
		else
			((float *)out->data)[i] = fv;
	}
	return 0;
}

/* ---- Expand ---- */

static int infer_expand(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	int64_t shape[MAXD];
	int n, i, rc;

	if ((rc = need_inputs(node, in, 2, err, errlen)) != 0)
		return rc;
	out->type = in[0]->type;
	n = read_ints(node, in, in_const, 1, NULL, shape, MAXD);
	if (n == -1) {
		if (in[1]->ndim != 1 || in[1]->dims[0] < 0 || in[1]->dims[0] > MAXD)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad shape input");
		n = (int)in[1]->dims[0];
		for (i = 0; i < n; i++)
			shape[i] = -1;
	} else if (n < 0) {
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad shape input");
	}
	out->ndim = n > in[0]->ndim ? n : in[0]->ndim;
	for (i = 0; i < out->ndim; i++) {
		int ia = i - (out->ndim - in[0]->ndim), ib = i - (out->ndim - n);
		int64_t a = ia >= 0 ? in[0]->dims[ia] : 1, b = ib >= 0 ? shape[ib] : 1;
		if (a == 1 || a == b)
			out->dims[i] = b;
		else if (b == 1 || b == -1)
			out->dims[i] = a;
		else if (a == -1)
			out->dims[i] = b;
		else
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "dim %d: %lld cannot expand to %lld", i, (long long)a,
			                    (long long)b);
	}
	return 0;
}

static int run_expand(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t ist[MAXD], sst[MAXD];
	int i, off = out->ndim - in[0]->ndim;

	dense_strides(in[0]->dims, in[0]->ndim, ist);
	for (i = 0; i < out->ndim; i++)
		sst[i] = i < off || in[0]->dims[i - off] == 1 ? 0 : ist[i - off];
	if (mrt__numel(out->dims, out->ndim) == 0)
		return 0;
	strided_copy(out->data, in[0]->data, elem_size(out->type), out->ndim, out->dims, sst, 0);
	return 0;
}

/* ---- Range ---- */

static int range_len(double start, double limit, double delta, int64_t *n)
{
	double c;

	if (delta == 0 || isnan(start) || isnan(limit) || isnan(delta))
		return -1;
	c = ceil((limit - start) / delta);
	if (!(c < 1e9))
		return -1;
	*n = c > 0 ? (int64_t)c : 0;
	return 0;
}

static double scalar_d(const mrt__const *c)
{
	return c->type == MRT_TYPE_F32 ? ((const float *)c->data)[0] : (double)const_i64(c, 0);
}

static int infer_range(const mrt__node *node, const mrt__value_info *const *in,
                       const mrt__const *const *in_const, mrt__value_info *out, char *err,
                       size_t errlen)
{
	int k, rc;

	if ((rc = need_inputs(node, in, 3, err, errlen)) != 0)
		return rc;
	for (k = 0; k < 3; k++)
		if (mrt__numel(in[k]->dims, in[k]->ndim) != 1 || in[k]->type != in[0]->type)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "start, limit and delta must be scalars of one type");
	out->type = in[0]->type;
	out->ndim = 1;
	out->dims[0] = -1;
	if (in_const && in_const[0] && in_const[1] && in_const[2] &&
	    range_len(scalar_d(in_const[0]), scalar_d(in_const[1]), scalar_d(in_const[2]),
	              &out->dims[0]) != 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad range");
	return 0;
}

static int run_range(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                     mrt__op_ctx *ctx, char *err, size_t errlen)
{
	int64_t i, n = out->dims[0];

	if (out->type == MRT_TYPE_F32) {
		float s = ((const float *)in[0]->data)[0], d = ((const float *)in[2]->data)[0];
		for (i = 0; i < n; i++)
			((float *)out->data)[i] = s + (float)i * d;
	} else {
		int64_t s = tensor_i64(in[0], 0), d = tensor_i64(in[2], 0);
		for (i = 0; i < n; i++) {
			if (out->type == MRT_TYPE_I64)
				((int64_t *)out->data)[i] = s + i * d;
			else
				((int32_t *)out->data)[i] = (int32_t)(s + i * d);
		}
	}
	return 0;
}

const mrt__op_def mrt__ops_shape[] = {
    {"Flatten", infer_flatten, NULL, run_copy, 0},
    {"Reshape", infer_reshape, NULL, run_copy, 0},
    {"Squeeze", infer_squeeze, NULL, run_copy, 0},
    {"Unsqueeze", infer_unsqueeze, NULL, run_copy, 0},
    {"Transpose", infer_transpose, NULL, run_transpose, 0},
    {"Concat", infer_concat, NULL, run_concat, 0},
    {"Slice", infer_slice, NULL, run_slice, 0},
    {"Pad", infer_pad, NULL, run_pad, 0},
    {"Shape", infer_shape, NULL, run_shape, 0},
    {"ConstantOfShape", infer_cos, NULL, run_cos, 0},
    {"Expand", infer_expand, NULL, run_expand, 0},
    {"Range", infer_range, NULL, run_range, 0},
    {NULL},
};
