/* Sliding-window geometry for Conv, ConvTranspose and the pools: ONNX
 * attribute parsing and output-size rules (see ops_window.h). */
#include <string.h>

#include "ops_window.h"

/* Read an ints attribute of exactly want values into out[], or leave out[]
 * untouched when absent. Returns 1 if read, 0 if absent, -1 if malformed. */
static int window_ints(const mrt__node *node, const char *name, int want, int64_t *out)
{
	const mrt__attr *a = mrt__node_attr(node, name);
	if (!a)
		return 0;
	if (a->kind != MRT__ATTR_INTS || a->n != want)
		return -1;
	for (int i = 0; i < want; i++)
		out[i] = a->ints[i];
	return 1;
}

static int window_auto_pad(const mrt__node *node, int *mode)
{
	const mrt__attr *a = mrt__node_attr(node, "auto_pad");
	static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

	*mode = 0;
	if (!a)
		return 0;
	if (a->kind != MRT__ATTR_STRING || !a->s)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (!strcmp(a->s, names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -1;
}

/* Read all window attributes for ns spatial dims into the 2-D arrays of w
 * (index 2 - ns onwards). */
static int window_attrs(const mrt__node *node, int ns, const int64_t *kernel, mrt__window *w,
                        int64_t *opad, int64_t *oshape, int *has_oshape, char *err, size_t errlen)
{
	int64_t v[4], off = 2 - ns;
	int rc;

	rc = window_ints(node, "kernel_shape", ns, v);
	if (rc < 0 || (rc == 0 && !kernel))
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "kernel_shape must list %d sizes", ns);
	for (int i = 0; i < ns; i++) {
		if (kernel && rc == 1 && v[i] != kernel[i])
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "kernel_shape does not match the weight");
		w->k[off + i] = kernel ? kernel[i] : v[i];
	}
	if (window_ints(node, "strides", ns, w->s + off) < 0 ||
	    window_ints(node, "dilations", ns, w->d + off) < 0 ||
	    window_ints(node, "output_padding", ns, opad + off) < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "strides, dilations and output_padding need %d values", ns);
	rc = window_ints(node, "pads", 2 * ns, v);
	if (rc < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen, "pads need %d values",
		                    2 * ns);
	for (int i = 0; rc == 1 && i < ns; i++) {
		w->pb[off + i] = v[i];
		w->pe[off + i] = v[ns + i];
	}
	rc = window_ints(node, "output_shape", ns, oshape + off);
	if (rc < 0)
		return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
		                    "output_shape needs %d values", ns);
	*has_oshape = rc;
	for (int i = 0; i < 2; i++) {
		if (w->k[i] < 1 || w->s[i] < 1 || w->d[i] < 1 || w->pb[i] < 0 || w->pe[i] < 0 ||
		    opad[i] < 0 || (opad[i] && opad[i] >= w->s[i] && opad[i] >= w->d[i]))
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "kernel, strides, dilations must be >= 1, pads >= 0, "
			                    "output_padding < stride or dilation");
	}
	return 0;
}

/* Split a total pad between start and end for SAME_UPPER (extra at end) or
 * SAME_LOWER (extra at start). */
static void window_split(int64_t total, int upper, int64_t *pb, int64_t *pe)
{
	if (upper) {
		*pb = total / 2;
		*pe = total - *pb;
	} else {
		*pe = total / 2;
		*pb = total - *pe;
	}
}

/* Output size of one spatial dim for Conv and pools. */
static int64_t window_out_fwd(mrt__window *w, int i, int mode, int autopad, int ceil_mode)
{
	int64_t in = w->in[i], s = w->s[i], ek = (w->k[i] - 1) * w->d[i] + 1, out, span;

	if (autopad == 1 || autopad == 2) {
		out = (in + s - 1) / s;
		span = (out - 1) * s + ek - in;
		window_split(span > 0 ? span : 0, autopad == 1, &w->pb[i], &w->pe[i]);
		return out;
	}
	if (autopad == 3)
		w->pb[i] = w->pe[i] = 0;
	span = in + w->pb[i] + w->pe[i] - ek;
	if (span < 0)
		return 0;
	if (mode == MRT__WINDOW_POOL && ceil_mode) {
		out = (span + s - 1) / s + 1;
		/* The last window must start inside the input or its start pad. */
		if ((out - 1) * s >= in + w->pb[i])
			out--;
		return out;
	}
	return span / s + 1;
}

/* Output size of one spatial dim for ConvTranspose. */
static int64_t window_out_trans(mrt__window *w, int i, int autopad, int64_t opad, int64_t oshape,
                                int has_oshape)
{
	int64_t in = w->in[i], s = w->s[i], ek = (w->k[i] - 1) * w->d[i] + 1;
	int64_t full = s * (in - 1) + opad + ek;

	if (has_oshape || autopad == 1 || autopad == 2) {
		int64_t out = has_oshape ? oshape : in * s;
		if (full - out < 0)
			return 0;
		window_split(full - out, autopad == 1, &w->pb[i], &w->pe[i]);
		return out;
	}
	if (autopad == 3)
		w->pb[i] = w->pe[i] = 0;
	return full - w->pb[i] - w->pe[i];
}

int mrt__window_init(const mrt__node *node, int mode, const int64_t *dims, int ndim,
                     const int64_t *kernel, mrt__window *w, char *err, size_t errlen)
{
	int64_t opad[2] = {0, 0}, oshape[2] = {1, 1}, ceil_mode = 0;
	int ns = ndim - 2, autopad, has_oshape = 0, rc;

	if (ns < 1 || ns > 2)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "only 1-D and 2-D windows are supported (input rank %d)", ndim);
	for (int i = 0; i < 2; i++) {
		w->in[i] = w->k[i] = w->s[i] = w->d[i] = 1;
		w->pb[i] = w->pe[i] = 0;
	}
	for (int i = 0; i < ns; i++)
		w->in[2 - ns + i] = dims[2 + i];
	rc = window_attrs(node, ns, kernel, w, opad, oshape, &has_oshape, err, errlen);
	if (rc < 0)
		return rc;
	if (window_auto_pad(node, &autopad) < 0 ||
	    mrt__attr_int(node, "ceil_mode", 0, &ceil_mode) < 0)
		return mrt__op_fail(node, MRT_ERR_UNSUPPORTED, err, errlen,
		                    "bad auto_pad or ceil_mode");
	for (int i = 0; i < 2; i++) {
		if (w->in[i] < 0) {
			w->out[i] = -1;
			continue;
		}
		if (mode == MRT__WINDOW_TRANS)
			w->out[i] = window_out_trans(w, i, autopad, opad[i], oshape[i], has_oshape);
		else
			w->out[i] = window_out_fwd(w, i, mode, autopad, (int)ceil_mode);
		if (w->out[i] < 1)
			return mrt__op_fail(node, MRT_ERR_SHAPE, err, errlen,
			                    "window (kernel %lld, dilation %lld, stride %lld) does "
			                    "not fit input size %lld with pads %lld+%lld",
			                    (long long)w->k[i], (long long)w->d[i],
			                    (long long)w->s[i], (long long)w->in[i],
			                    (long long)w->pb[i], (long long)w->pe[i]);
	}
	return 0;
}
