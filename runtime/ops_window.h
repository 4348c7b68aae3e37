/* Sliding-window geometry shared by the convolution and pooling operators
 * (ops_conv.c, ops_nn.c): kernel, strides, dilations, pads and auto_pad
 * resolved into output sizes with ONNX rules. 1-D ops are mapped to 2-D with
 * a unit height. Also the Conv/ConvTranspose entry points of ops_conv.c. */
#ifndef MRT_OPS_WINDOW_H
#define MRT_OPS_WINDOW_H

#include "ops.h"

typedef struct mrt__window {
	int64_t in[2];  /* input height, width (-1 when symbolic) */
	int64_t k[2];   /* kernel */
	int64_t s[2];   /* strides */
	int64_t d[2];   /* dilations */
	int64_t pb[2];  /* pads at the start */
	int64_t pe[2];  /* pads at the end */
	int64_t out[2]; /* output height, width (-1 when symbolic) */
} mrt__window;

/* How an op computes its output size. */
enum mrt__window_mode {
	MRT__WINDOW_CONV = 0,  /* floor */
	MRT__WINDOW_POOL = 1,  /* floor or ceil (ceil_mode), PyTorch's last-window rule */
	MRT__WINDOW_TRANS = 2, /* ConvTranspose: output_padding, output_shape */
};

/* Fill *w (OUT) for a node whose input has rank ndim (3 or 4: N, C, spatial)
 * with spatial sizes dims[2..]; kernel gives the kernel sizes when they come
 * from the weight (NULL: the kernel_shape attribute). Reads strides,
 * dilations, pads, auto_pad, ceil_mode, output_padding, output_shape.
 * Returns 0, or MRT_ERR_SHAPE / MRT_ERR_UNSUPPORTED with a message. */
int mrt__window_init(const mrt__node *node, int mode, const int64_t *dims, int ndim,
                     const int64_t *kernel, mrt__window *w, char *err, size_t errlen);

/* Conv and ConvTranspose (ops_conv.c), listed in the ops_nn table. */
int mrt__conv_infer(const mrt__node *node, const mrt__value_info *const *in,
                    const mrt__const *const *in_const, mrt__value_info *out, char *err,
                    size_t errlen);
size_t mrt__conv_scratch(const mrt__node *node, const mrt__tensor *const *in,
                         const mrt__tensor *out);
int mrt__conv_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                  mrt__op_ctx *ctx, char *err, size_t errlen);
int mrt__convt_infer(const mrt__node *node, const mrt__value_info *const *in,
                     const mrt__const *const *in_const, mrt__value_info *out, char *err,
                     size_t errlen);
size_t mrt__convt_scratch(const mrt__node *node, const mrt__tensor *const *in,
                          const mrt__tensor *out);
int mrt__convt_run(const mrt__node *node, const mrt__tensor *const *in, mrt__tensor *out,
                   mrt__op_ctx *ctx, char *err, size_t errlen);

#endif
