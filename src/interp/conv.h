/*
 * Convolution and pooling geometry and kernels, shared by the ops and
 * their unit tests.  Layout is NC[D]HW, weights [M, C/group, k...] for
 * Conv and [C, M/group, k...] for ConvTranspose.
 */
#ifndef QS_INTERP_CONV_H
#define QS_INTERP_CONV_H

#include <stdint.h>

#include "status.h"

struct interp_call;
struct qs_node;

/* Most spatial dims a convolution or pooling handles. */
#define CONV_MAX_DIMS 8

struct conv_params {
    int nd;                                  /* spatial dims */
    int64_t batch, in_channels, out_channels, group;
    int64_t in[CONV_MAX_DIMS], out[CONV_MAX_DIMS], kernel[CONV_MAX_DIMS];
    int64_t stride[CONV_MAX_DIMS], dilation[CONV_MAX_DIMS];
    int64_t pad_begin[CONV_MAX_DIMS], pad_end[CONV_MAX_DIMS];
};

/*
 * Convolution of "x" [batch, in_channels, in...] with "w" [out_channels,
 * in_channels/group, kernel...] plus bias "b" (out_channels entries, may
 * be NULL) into "y" [batch, out_channels, out...].  Uses im2col and
 * cblas_sgemm, or a direct kernel for 2-D depthwise convolutions.
 * "call" gives the workers and may be NULL (one thread).
 */
void conv_forward(struct interp_call *call, const struct conv_params *p, const float *x,
                  const float *w, const float *b, float *y);

/*
 * Transposed convolution: "x" [batch, in_channels, in...], "w"
 * [in_channels, out_channels/group, kernel...], bias "b" (may be NULL),
 * into "y" [batch, out_channels, out...] whose out dims the caller set
 * (pads and output_padding already folded into out and pad_begin).
 */
void conv_transpose_forward(struct interp_call *call, const struct conv_params *p,
                            const float *x, const float *w, const float *b, float *y);

/* Output length of a convolution or pooling window along one axis (floor rounding). */
int64_t conv_out_len(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                     int64_t pad_begin, int64_t pad_end);

/*
 * Fill pad_begin/pad_end for auto_pad SAME_UPPER ("upper" 1) or
 * SAME_LOWER ("upper" 0): out = ceil(in / stride), the extra pad going
 * to the end for SAME_UPPER and to the beginning for SAME_LOWER.
 */
void conv_same_pads(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int upper,
                    int64_t *pad_begin, int64_t *pad_end);

/* The auto_pad attribute of a convolution or pooling node. */
enum auto_pad { AUTO_PAD_NOTSET, AUTO_PAD_SAME_UPPER, AUTO_PAD_SAME_LOWER, AUTO_PAD_VALID };

enum auto_pad interp_auto_pad(const struct qs_node *node);

#endif
