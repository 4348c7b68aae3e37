/* Reductions and selection: Softmax, LogSoftmax, ReduceSum/Mean/Max/Min,
 * TopK and Gather, with ONNX semantics (opsets 11-17).
 * Extension: Softmax/LogSoftmax take an int attribute "coerce_2d"; when it is
 * 1 the node follows opset < 13 (input coerced to 2-D [prod(d[:axis]),
 * prod(d[axis:])], default axis 1). The converter sets it for old opsets. */
#include <math.h>
#include <string.h>

#include "ops.h"

/* Normalize axis against rank ndim into *out. Returns 0 or -1. */
static int norm_axis(int64_t axis, int ndim, int *out)
{
	if (axis < -(int64_t)ndim || axis >= ndim)
		return -1;
	*out = (int)(axis < 0 ? axis + ndim : axis);
	return 0;
}

static int64_t prod_dims(const int64_t *dims, int from, int to)
{
	int64_t p = 1;
	for (int i = from; i < to; i++)
		p *= dims[i];
	return p;
}

/* Element type of a value from its info or, for a constant, its own type. */
static int in_type(const mrt__value_info *const *in, const mrt__const *const *in_const, int i)
{
	if (in_const && in_const[i])
		return in_const[i]->type;
	return in[i]->type;
}

/* ---- Softmax / LogSoftmax ---- */

/* Resolve the softmax layout: rows of n elements, inner stride. */
static int softmax_layout(const mrt__node *node, const int64_t *dims, int ndim, int64_t *outer,
                          int64_t *n, int64_t *inner, char *err, size_t errlen)
{
	int64_t coerce = 0, axis;
	int ax;

	if (mrt__attr_int(node, "coerce_2d", 0, &coerce) < 0 ||
	    mrt__attr_int(node, "axis", coerce ? 1 : -1, &axis) < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad attribute type");
	if (ndim < 1 || norm_axis(axis, ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "axis %lld out of range for rank %d", (long long)axis, ndim);
	*outer = prod_dims(dims, 0, ax);
	if (coerce) {
		*n = prod_dims(dims, ax, ndim);
		*inner = 1;
	} else {
		*n = dims[ax];
		*inner = prod_dims(dims, ax + 1, ndim);
	}
	return 0;
}

static int softmax_infer(const mrt__node *node, const mrt__value_info *const *in,
                         const mrt__const *const *in_const, mrt__value_info *out, char *err,
                         size_t errlen)
{
	int64_t o, n, i;
	int rc;

	if (node->n_in < 1 || !in[0])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "missing input");
	if (in_type(in, in_const, 0) != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "input must be float32");
	rc = softmax_layout(node, in[0]->dims, in[0]->ndim, &o, &n, &i, err, errlen);
	if (rc < 0)
		return rc;
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = in[0]->ndim;
	memcpy(out[0].dims, in[0]->dims, sizeof(out[0].dims));
	return 0;
}

static int softmax_common(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                          int log_mode, char *err, size_t errlen)
{
	const float *x = in[0]->data;
	float *y = out[0].data;
	int64_t outer, n, inner;
	int rc = softmax_layout(node, in[0]->dims, in[0]->ndim, &outer, &n, &inner, err, errlen);

	if (rc < 0)
		return rc;
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t j = 0; j < inner; j++) {
			const float *xr = x + o * n * inner + j;
			float *yr = y + o * n * inner + j;
			float mx = -INFINITY;
			double sum = 0;

			for (int64_t k = 0; k < n; k++)
				mx = xr[k * inner] > mx ? xr[k * inner] : mx;
			for (int64_t k = 0; k < n; k++) {
				float e = expf(xr[k * inner] - mx);
				sum += e;
				if (!log_mode)
					yr[k * inner] = e;
			}
			if (log_mode) {
				float ls = (float)log(sum);
				for (int64_t k = 0; k < n; k++)
					yr[k * inner] = xr[k * inner] - mx - ls;
			} else {
				float inv = (float)(1.0 / sum);
				for (int64_t k = 0; k < n; k++)
					yr[k * inner] *= inv;
			}
		}
	}
	return 0;
}

static int softmax_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                       mrt__op_ctx *ctx, char *err, size_t errlen)
{
	return softmax_common(node, in, out, 0, err, errlen);
}

static int logsoftmax_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                          mrt__op_ctx *ctx, char *err, size_t errlen)
{
	return softmax_common(node, in, out, 1, err, errlen);
}

/* ---- ReduceSum / ReduceMean / ReduceMax / ReduceMin ---- */

enum reduce_kind { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN };

static int reduce_kind_of(const char *op)
{
	if (!strcmp(op, "ReduceSum"))
		return REDUCE_SUM;
	if (!strcmp(op, "ReduceMean"))
		return REDUCE_MEAN;
	if (!strcmp(op, "ReduceMax"))
		return REDUCE_MAX;
	return REDUCE_MIN;
}

/* Which axes of a rank-ndim input the node reduces. Axes come from the
 * "axes" attribute or from input 1 (I64/I32 values at axes_data, n_axes of
 * them; axes_data NULL when absent). Sets mask[d] = 1 for reduced axes;
 * an empty axes list reduces everything unless noop_with_empty_axes = 1. */
static int reduce_mask(const mrt__node *node, int ndim, const void *axes_data, int axes_type,
                       int64_t n_axes, int mask[MRT_MAX_DIMS], char *err, size_t errlen)
{
	const mrt__attr *a = mrt__node_attr(node, "axes");
	int64_t noop = 0;

	if (mrt__attr_int(node, "noop_with_empty_axes", 0, &noop) < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad attribute type");
	if (a && a->kind != MRT__ATTR_INTS && a->kind != MRT__ATTR_INT)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad 'axes' attribute");
	if (a && !axes_data) {
		axes_data = a->kind == MRT__ATTR_INTS ? (const void *)a->ints : (const void *)&a->i;
		axes_type = MRT_TYPE_I64;
		n_axes = a->kind == MRT__ATTR_INTS ? a->n : 1;
	}
	if (!axes_data)
		n_axes = 0;
	for (int d = 0; d < ndim; d++)
		mask[d] = n_axes == 0 && !noop;
	for (int64_t i = 0; i < n_axes; i++) {
		int64_t v = axes_type == MRT_TYPE_I32 ? ((const int32_t *)axes_data)[i]
		                                      : ((const int64_t *)axes_data)[i];
		int ax;
		if (norm_axis(v, ndim, &ax) < 0)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "axis %lld out of range for rank %d", (long long)v,
			                    ndim);
		mask[ax] = 1;
	}
	return 0;
}

/* Output dims of a reduction with the given mask. Returns the output rank. */
static int reduce_dims(const int64_t *dims, int ndim, const int mask[MRT_MAX_DIMS], int keepdims,
                       int64_t *odims)
{
	int r = 0;
	for (int d = 0; d < ndim; d++) {
		if (!mask[d])
			odims[r++] = dims[d];
		else if (keepdims)
			odims[r++] = 1;
	}
	return r;
}

static int reduce_infer(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	int mask[MRT_MAX_DIMS];
	const void *axes = NULL;
	int64_t n_axes = 0, keepdims;
	int axes_type = MRT_TYPE_I64, rc;

	if (node->n_in < 1 || !in[0])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "missing input");
	if (in_type(in, in_const, 0) != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "input must be float32");
	if (node->n_in > 1 && in[1]) {
		if (!in_const || !in_const[1])
			return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
			                    "axes input must be a constant");
		axes_type = in_const[1]->type;
		if (axes_type != MRT_TYPE_I64 && axes_type != MRT_TYPE_I32)
			return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
			                    "axes must be int64 or int32");
		axes = in_const[1]->data;
		n_axes = mrt__numel(in_const[1]->dims, in_const[1]->ndim);
	}
	if (mrt__attr_int(node, "keepdims", 1, &keepdims) < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen, "bad 'keepdims'");
	rc = reduce_mask(node, in[0]->ndim, axes, axes_type, n_axes, mask, err, errlen);
	if (rc < 0)
		return rc;
	out[0].type = MRT_TYPE_F32;
	out[0].ndim = reduce_dims(in[0]->dims, in[0]->ndim, mask, keepdims != 0, out[0].dims);
	return 0;
}

static int reduce_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const mrt__tensor *x = in[0];
	const float *src = x->data;
	float *dst = out[0].data;
	int kind = reduce_kind_of(node->op), nd = x->ndim, mask[MRT_MAX_DIMS];
	int64_t ostride[MRT_MAX_DIMS], idx[MRT_MAX_DIMS] = {0}, n_in, n_out, s = 1;
	float init = kind == REDUCE_MAX ? -INFINITY : kind == REDUCE_MIN ? INFINITY : 0.0f;
	int rc;

	rc = reduce_mask(node, nd, node->n_in > 1 && in[1] ? in[1]->data : NULL,
	                 node->n_in > 1 && in[1] ? in[1]->type : MRT_TYPE_I64,
	                 node->n_in > 1 && in[1] ? mrt__numel(in[1]->dims, in[1]->ndim) : 0, mask,
	                 err, errlen);
	if (rc < 0)
		return rc;
	n_in = mrt__numel(x->dims, nd);
	n_out = mrt__numel(out[0].dims, out[0].ndim);
	for (int d = nd - 1; d >= 0; d--) {
		ostride[d] = mask[d] ? 0 : s;
		s *= mask[d] ? 1 : x->dims[d];
	}
	for (int64_t i = 0; i < n_out; i++)
		dst[i] = init;
	if (n_in == 0)
		goto finish;
	if (nd == 0) {
		dst[0] = src[0];
		return 0;
	}
	/* Odometer over all but the last dim; the last dim is the inner loop. */
	int64_t last = x->dims[nd - 1], ls = ostride[nd - 1], off = 0;
	for (int64_t row = 0; row < n_in / last; row++) {
		const float *xr = src + row * last;
		float *yr = dst + off;
		for (int64_t k = 0; k < last; k++) {
			float v = xr[k], *o = yr + k * ls;
			if (kind == REDUCE_MAX)
				*o = v > *o || isnan(v) ? v : *o;
			else if (kind == REDUCE_MIN)
				*o = v < *o || isnan(v) ? v : *o;
			else
				*o += v;
		}
		for (int d = nd - 2; d >= 0; d--) {
			off += ostride[d];
			if (++idx[d] < x->dims[d])
				break;
			off -= ostride[d] * x->dims[d];
			idx[d] = 0;
		}
	}
finish:
	if (kind == REDUCE_MEAN) {
		float inv = n_out ? (float)n_out / (float)n_in : 0;
		for (int64_t i = 0; i < n_out; i++)
			dst[i] = n_in ? dst[i] * inv : NAN;
	}
	return 0;
}

/* ---- TopK ---- */

typedef struct topk_item {
	float v;
	int64_t i;
} topk_item;

/* 1 when a ranks before b: larger (or smaller) value, NaN counting as the
 * largest, ties to the lower index. */
static int topk_before(const topk_item *a, const topk_item *b, int largest)
{
	int an = isnan(a->v), bn = isnan(b->v);
	if (an || bn) {
		if (an && bn)
			return a->i < b->i;
		return largest ? an : bn;
	}
	if (a->v != b->v)
		return largest ? a->v > b->v : a->v < b->v;
	return a->i < b->i;
}

/* Sift down in a heap whose root is the item ranking last. */
static void topk_sift(topk_item *h, int64_t n, int64_t at, int largest)
{
	for (;;) {
		int64_t l = 2 * at + 1, r = l + 1, w = at;
		if (l < n && topk_before(&h[w], &h[l], largest))
			w = l;
		if (r < n && topk_before(&h[w], &h[r], largest))
			w = r;
		if (w == at)
			return;
		topk_item t = h[at];
		h[at] = h[w];
		h[w] = t;
		at = w;
	}
}

static int topk_k(const mrt__tensor *kt, int64_t *k)
{
	if (mrt__numel(kt->dims, kt->ndim) != 1)
		return -1;
	if (kt->type == MRT_TYPE_I64)
		*k = *(const int64_t *)kt->data;
	else if (kt->type == MRT_TYPE_I32)
		*k = *(const int32_t *)kt->data;
	else
		return -1;
	return 0;
}

static int topk_infer(const mrt__node *node, const mrt__value_info *const *in,
                      const mrt__const *const *in_const, mrt__value_info *out, char *err,
                      size_t errlen)
{
	int64_t axis, k = -1;
	int ax;

	if (node->n_in < 2 || !in[0] || !in[1] || node->n_out < 1)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs inputs X and K");
	if (in_type(in, in_const, 0) != MRT_TYPE_F32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "X must be float32");
	if (mrt__attr_int(node, "axis", -1, &axis) < 0 || norm_axis(axis, in[0]->ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad axis for rank %d",
		                    in[0]->ndim);
	if (in_const && in_const[1]) {
		const mrt__const *c = in_const[1];
		mrt__tensor kt = {.type = c->type, .ndim = c->ndim, .data = c->data};
		memcpy(kt.dims, c->dims, sizeof(kt.dims));
		if (topk_k(&kt, &k) < 0)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "K must hold one int64");
		if (k < 0 || (in[0]->dims[ax] >= 0 && k > in[0]->dims[ax]))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "K = %lld out of range for axis of size %lld",
			                    (long long)k, (long long)in[0]->dims[ax]);
	}
	for (int o = 0; o < node->n_out && o < 2; o++) {
		out[o].type = o ? MRT_TYPE_I64 : MRT_TYPE_F32;
		out[o].ndim = in[0]->ndim;
		memcpy(out[o].dims, in[0]->dims, sizeof(out[o].dims));
		out[o].dims[ax] = k;
	}
	return 0;
}

static size_t topk_scratch(const mrt__node *node, const mrt__tensor *const *in,
                           const mrt__tensor *out)
{
	int64_t axis;
	int ax;
	if (mrt__attr_int(node, "axis", -1, &axis) < 0 || norm_axis(axis, out[0].ndim, &ax) < 0)
		return 0;
	return (size_t)(out[0].dims[ax] > 0 ? out[0].dims[ax] : 0) * sizeof(topk_item);
}

static int topk_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                    mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const float *x = in[0]->data;
	topk_item *h = ctx->scratch;
	int64_t axis, largest, k, n, outer, inner;
	int ax;

	if (mrt__attr_int(node, "axis", -1, &axis) < 0 ||
	    mrt__attr_int(node, "largest", 1, &largest) < 0 ||
	    norm_axis(axis, in[0]->ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad axis");
	n = in[0]->dims[ax];
	if (topk_k(in[1], &k) < 0 || k < 0 || k > n || k != out[0].dims[ax])
		return mrt__op_fail(node, MRT_ERR_RANGE, err, errlen,
		                    "K out of range for axis of size %lld", (long long)n);
	if (k > 0 && (!h || ctx->scratch_size < (size_t)k * sizeof(*h)))
		return mrt__op_fail(node, MRT_ERR_INVALID, err, errlen, "scratch too small");
	outer = prod_dims(in[0]->dims, 0, ax);
	inner = prod_dims(in[0]->dims, ax + 1, in[0]->ndim);
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t j = 0; j < inner; j++) {
			const float *xs = x + o * n * inner + j;
			/* Heap of the k best so far, root = worst of them. */
			for (int64_t i = 0; i < n; i++) {
				topk_item it = {xs[i * inner], i};
				if (i < k) {
					int64_t c = i;
					h[c] = it;
					while (c > 0 &&
					       topk_before(&h[(c - 1) / 2], &h[c], largest)) {
						topk_item t = h[c];
						h[c] = h[(c - 1) / 2];
						h[(c - 1) / 2] = t;
						c = (c - 1) / 2;
					}
				} else if (k > 0 && topk_before(&it, &h[0], largest)) {
					h[0] = it;
					topk_sift(h, k, 0, largest);
				}
			}
			/* Pop worst-first into the tail: output is best-first. */
			float *vo = (float *)out[0].data + o * k * inner + j;
			int64_t *io =
			    node->n_out > 1 ? (int64_t *)out[1].data + o * k * inner + j : NULL;
			for (int64_t m = k; m > 0; m--) {
				vo[(m - 1) * inner] = h[0].v;
				if (io)
					io[(m - 1) * inner] = h[0].i;
				h[0] = h[m - 1];
				topk_sift(h, m - 1, 0, largest);
			}
		}
	}
	return 0;
}

/* ---- Gather ---- */

/* 1 for element types stored as float that Gather reads through a row
 * dequantizer (only along axis 0). */
static int gather_is_packed(int t)
{
	return t == MRT_TYPE_F16 || t == MRT_TYPE_BF16 || t == MRT_TYPE_Q8_0 || t == MRT_TYPE_Q4_0;
}

static int gather_infer(const mrt__node *node, const mrt__value_info *const *in,
                        const mrt__const *const *in_const, mrt__value_info *out, char *err,
                        size_t errlen)
{
	int64_t axis;
	int ax, dt, it, r = 0;
	const int64_t *dd;
	int dn;

	if (node->n_in < 2 || !in[0] || !in[1])
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "needs data and indices");
	dt = in_type(in, in_const, 0);
	it = in_type(in, in_const, 1);
	dd = in_const && in_const[0] ? in_const[0]->dims : in[0]->dims;
	dn = in_const && in_const[0] ? in_const[0]->ndim : in[0]->ndim;
	if (it != MRT_TYPE_I64 && it != MRT_TYPE_I32)
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen,
		                    "indices must be int64/int32");
	if (dt != MRT_TYPE_F32 && dt != MRT_TYPE_I64 && dt != MRT_TYPE_I32 && !gather_is_packed(dt))
		return mrt__op_fail(node, MRT_ERR_DTYPE, err, errlen, "unsupported data type %d",
		                    dt);
	if (mrt__attr_int(node, "axis", 0, &axis) < 0 || norm_axis(axis, dn, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad axis for rank %d", dn);
	if (gather_is_packed(dt) && ax != 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "quantized data only along axis 0");
	if (dn - 1 + in[1]->ndim > MRT_MAX_DIMS)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "output rank too large");
	for (int d = 0; d < ax; d++)
		out[0].dims[r++] = dd[d];
	for (int d = 0; d < in[1]->ndim; d++)
		out[0].dims[r++] = in[1]->dims[d];
	for (int d = ax + 1; d < dn; d++)
		out[0].dims[r++] = dd[d];
	out[0].ndim = r;
	out[0].type = gather_is_packed(dt) ? MRT_TYPE_F32 : dt;
	return 0;
}

static int gather_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                      mrt__op_ctx *ctx, char *err, size_t errlen)
{
	const mrt__tensor *data = in[0], *ids = in[1];
	int64_t axis, outer, n, inner, n_ids;
	size_t es;
	int ax, rc;

	if (mrt__attr_int(node, "axis", 0, &axis) < 0 || norm_axis(axis, data->ndim, &ax) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "bad axis");
	outer = prod_dims(data->dims, 0, ax);
	n = data->dims[ax];
	inner = prod_dims(data->dims, ax + 1, data->ndim);
	n_ids = mrt__numel(ids->dims, ids->ndim);
	es = data->type == MRT_TYPE_I32 ? 4 : 8;
	if (data->type == MRT_TYPE_F32)
		es = 4;
	for (int64_t i = 0; i < n_ids; i++) {
		int64_t id = ids->type == MRT_TYPE_I32 ? ((const int32_t *)ids->data)[i]
		                                       : ((const int64_t *)ids->data)[i];
		int64_t row = id < 0 ? id + n : id;
		if (row < 0 || row >= n)
			return mrt__op_fail(node, MRT_ERR_RANGE, err, errlen,
			                    "index %lld out of range for table of %lld rows "
			                    "(axis %d)",
			                    (long long)id, (long long)n, ax);
		if (gather_is_packed(data->type)) {
			float *dst = (float *)out[0].data + i * inner;
			rc = mrt__dequantize_row(data->type, data->data, row, inner, dst);
			if (rc < 0)
				return mrt__op_fail(node, rc, err, errlen,
				                    "cannot dequantize row of type %d", data->type);
			continue;
		}
		for (int64_t o = 0; o < outer; o++) {
			const char *src =
			    (const char *)data->data + (size_t)((o * n + row) * inner) * es;
			char *dst = (char *)out[0].data + (size_t)((o * n_ids + i) * inner) * es;
			memcpy(dst, src, (size_t)inner * es);
		}
	}
	return 0;
}

const mrt__op_def mrt__ops_reduce[] = {
    {"Softmax", softmax_infer, NULL, softmax_run, 0},
    {"LogSoftmax", softmax_infer, NULL, logsoftmax_run, 0},
    {"ReduceSum", reduce_infer, NULL, reduce_run, 0},
    {"ReduceMean", reduce_infer, NULL, reduce_run, 0},
    {"ReduceMax", reduce_infer, NULL, reduce_run, 0},
    {"ReduceMin", reduce_infer, NULL, reduce_run, 0},
    {"TopK", topk_infer, topk_scratch, topk_run, 0},
    {"Gather", gather_infer, NULL, gather_run, 1u},
    {NULL},
};
