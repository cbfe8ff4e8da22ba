/*
 * Conv and ConvTranspose: attributes (auto_pad, pads, strides,
 * dilations, group, output_padding, output_shape) turned into a
 * struct conv_params for the kernels in conv_kernels.c.
 */
#include "config.h"
#include "interp/conv.h"
#include "interp/internal.h"

#include <string.h>

#include "dtype.h"

enum auto_pad
interp_auto_pad(const struct qs_node *node)
{
    size_t len;
    const char *s = qs_node_attr_string(node, "auto_pad", "NOTSET", &len);

    if (len == 10 && memcmp(s, "SAME_UPPER", 10) == 0)
        return AUTO_PAD_SAME_UPPER;
    if (len == 10 && memcmp(s, "SAME_LOWER", 10) == 0)
        return AUTO_PAD_SAME_LOWER;
    if (len == 5 && memcmp(s, "VALID", 5) == 0)
        return AUTO_PAD_VALID;
    return AUTO_PAD_NOTSET;
}

/*
 * An INTS attribute of "n" entries (or "2n" for pads) into "out", or
 * "fallback" everywhere when absent.  Values below "min" are rejected.
 */
static enum qs_status
attr_dims(struct interp_call *call, const char *name, int n, int64_t fallback, int64_t min,
          int64_t *out)
{
    const int64_t *v;
    ptrdiff_t count = qs_node_attr_ints(call->node, name, &v);

    for (int i = 0; i < n; i++)
        out[i] = fallback;
    if (count < 0)
        return QS_OK;
    if (count != n)
        return interp_fail(call, QS_INVALID, "attribute %s has %td entries, expected %d",
                           name, count, n);
    for (int i = 0; i < n; i++) {
        if (v[i] < min || v[i] > INT32_MAX)
            return interp_fail(call, QS_INVALID, "attribute %s has the invalid value %lld",
                               name, (long long)v[i]);
        out[i] = v[i];
    }
    return QS_OK;
}

/* Shared geometry: channels, group, kernel, strides, dilations and explicit pads. */
static enum qs_status
conv_common(struct interp_call *call, const struct qs_rt_tensor *x, const struct qs_rt_tensor *w,
            int transpose, struct conv_params *p)
{
    int64_t pads[2 * CONV_MAX_DIMS], kernel[CONV_MAX_DIMS];
    enum qs_status st;

    memset(p, 0, sizeof(*p));
    if (x->rank < 3 || x->rank - 2 > CONV_MAX_DIMS || w->rank != x->rank)
        return interp_fail(call, QS_INVALID, "input rank %d and weight rank %d are not supported",
                           x->rank, w->rank);
    p->nd = x->rank - 2;
    p->batch = x->dims[0];
    p->in_channels = x->dims[1];
    p->group = qs_node_attr_int(call->node, "group", 1);
    if (p->group < 1 || p->in_channels % p->group != 0)
        return interp_fail(call, QS_INVALID, "group %lld does not divide %lld input channels",
                           (long long)p->group, (long long)p->in_channels);
    if (transpose ? w->dims[0] != p->in_channels : w->dims[1] * p->group != p->in_channels)
        return interp_fail(call, QS_INVALID,
                           "weight dims do not match %lld input channels in %lld groups",
                           (long long)p->in_channels, (long long)p->group);
    p->out_channels = transpose ? w->dims[1] * p->group : w->dims[0];
    if (p->out_channels % p->group != 0)
        return interp_fail(call, QS_INVALID, "group %lld does not divide %lld output channels",
                           (long long)p->group, (long long)p->out_channels);

    memcpy(p->in, x->dims + 2, (size_t)p->nd * sizeof(*p->in));
    memcpy(p->kernel, w->dims + 2, (size_t)p->nd * sizeof(*p->kernel));
    st = attr_dims(call, "kernel_shape", p->nd, 0, 0, kernel);
    for (int i = 0; st == QS_OK && i < p->nd; i++) {
        if (qs_node_attr(call->node, "kernel_shape") && kernel[i] != p->kernel[i])
            st = interp_fail(call, QS_INVALID, "kernel_shape does not match the weight dims");
    }
    if (st == QS_OK)
        st = attr_dims(call, "strides", p->nd, 1, 1, p->stride);
    if (st == QS_OK)
        st = attr_dims(call, "dilations", p->nd, 1, 1, p->dilation);
    if (st == QS_OK)
        st = attr_dims(call, "pads", 2 * p->nd, 0, 0, pads);
    if (st != QS_OK)
        return st;
    memcpy(p->pad_begin, pads, (size_t)p->nd * sizeof(*pads));
    memcpy(p->pad_end, pads + p->nd, (size_t)p->nd * sizeof(*pads));
    return QS_OK;
}

static enum qs_status
conv_geometry(struct interp_call *call, const struct qs_rt_tensor *x,
              const struct qs_rt_tensor *w, struct conv_params *p)
{
    enum auto_pad mode = interp_auto_pad(call->node);
    enum qs_status st = conv_common(call, x, w, 0, p);

    if (st != QS_OK)
        return st;
    for (int i = 0; i < p->nd; i++) {
        if (mode == AUTO_PAD_SAME_UPPER || mode == AUTO_PAD_SAME_LOWER)
            conv_same_pads(p->in[i], p->kernel[i], p->stride[i], p->dilation[i],
                           mode == AUTO_PAD_SAME_UPPER, &p->pad_begin[i], &p->pad_end[i]);
        else if (mode == AUTO_PAD_VALID)
            p->pad_begin[i] = p->pad_end[i] = 0;
        p->out[i] = conv_out_len(p->in[i], p->kernel[i], p->stride[i], p->dilation[i],
                                 p->pad_begin[i], p->pad_end[i]);
    }
    return QS_OK;
}

static enum qs_status
conv_bias(struct interp_call *call, const struct conv_params *p, const float **bias)
{
    const struct qs_rt_tensor *b = call->n_in > 2 ? call->in[2] : NULL;

    *bias = NULL;
    if (!b)
        return QS_OK;
    if (!qs_rt_is_float(b->dtype) || b->count != (uint64_t)p->out_channels)
        return interp_fail(call, QS_INVALID, "bias has %llu elements for %lld output channels",
                           (unsigned long long)b->count, (long long)p->out_channels);
    *bias = rt_f(b);
    return QS_OK;
}

static enum qs_status
conv_output(struct interp_call *call, const struct conv_params *p)
{
    int64_t dims[CONV_MAX_DIMS + 2];

    dims[0] = p->batch;
    dims[1] = p->out_channels;
    memcpy(dims + 2, p->out, (size_t)p->nd * sizeof(*dims));
    /* The kernels write every output element unless there is no input channel. */
    if (p->in_channels == 0)
        return interp_new(call, call->in[0]->dtype, p->nd + 2, dims, &call->out[0]);
    return interp_new_uninit(call, call->in[0]->dtype, p->nd + 2, dims, &call->out[0]);
}

enum qs_status
op_conv(struct interp_call *call)
{
    struct conv_params p;
    const float *bias;
    enum qs_status st = interp_need_float(call, 0);

    if (st == QS_OK)
        st = interp_need_float(call, 1);
    if (st == QS_OK)
        st = conv_geometry(call, call->in[0], call->in[1], &p);
    if (st == QS_OK)
        st = conv_bias(call, &p, &bias);
    if (st == QS_OK)
        st = conv_output(call, &p);
    if (st != QS_OK)
        return st;
    conv_forward(call, &p, rt_f(call->in[0]), rt_f(call->in[1]), bias, rt_f(call->out[0]));
    return QS_OK;
}

/*
 * ConvTranspose output length and pads.  With output_shape (or a SAME
 * auto_pad) the total padding follows from the requested length, split
 * with the larger half at the end for SAME_UPPER and at the beginning
 * otherwise, as the ONNX operator tests expect.
 */
static void
transpose_axis(struct conv_params *p, int i, int64_t out_pad, int64_t requested, enum auto_pad mode)
{
    int64_t full = p->stride[i] * (p->in[i] - 1) + out_pad
                   + (p->kernel[i] - 1) * p->dilation[i] + 1;
    int64_t total;

    if (requested < 0 && (mode == AUTO_PAD_SAME_UPPER || mode == AUTO_PAD_SAME_LOWER))
        requested = p->in[i] * p->stride[i];
    if (requested < 0) {
        if (mode == AUTO_PAD_VALID)
            p->pad_begin[i] = p->pad_end[i] = 0;
        p->out[i] = full - p->pad_begin[i] - p->pad_end[i];
        return;
    }
    total = full - requested;
    if (total < 0)
        total = 0;
    p->pad_begin[i] = mode == AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    p->pad_end[i] = total - p->pad_begin[i];
    p->out[i] = requested;
}

static enum qs_status
conv_transpose_geometry(struct interp_call *call, const struct qs_rt_tensor *x,
                        const struct qs_rt_tensor *w, struct conv_params *p)
{
    int64_t out_pad[CONV_MAX_DIMS], shape[CONV_MAX_DIMS];
    const int64_t *v;
    ptrdiff_t n_shape = qs_node_attr_ints(call->node, "output_shape", &v);
    enum qs_status st = conv_common(call, x, w, 1, p);

    if (st == QS_OK)
        st = attr_dims(call, "output_padding", p->nd, 0, 0, out_pad);
    if (st != QS_OK)
        return st;
    if (n_shape >= 0 && n_shape != p->nd && n_shape != p->nd + 2)
        return interp_fail(call, QS_INVALID, "output_shape has %td entries for %d spatial dims",
                           n_shape, p->nd);
    for (int i = 0; i < p->nd; i++) {
        shape[i] = n_shape < 0 ? -1 : v[n_shape - p->nd + i];
        if (out_pad[i] >= p->stride[i] && out_pad[i] >= p->dilation[i])
            return interp_fail(call, QS_INVALID,
                               "output_padding %lld is not below stride or dilation",
                               (long long)out_pad[i]);
        transpose_axis(p, i, out_pad[i], shape[i], interp_auto_pad(call->node));
        if (p->out[i] < 0)
            return interp_fail(call, QS_INVALID, "pads leave a negative output length");
    }
    return QS_OK;
}

enum qs_status
op_conv_transpose(struct interp_call *call)
{
    struct conv_params p;
    const float *bias;
    enum qs_status st = interp_need_float(call, 0);

    if (st == QS_OK)
        st = interp_need_float(call, 1);
    if (st == QS_OK)
        st = conv_transpose_geometry(call, call->in[0], call->in[1], &p);
    if (st == QS_OK)
        st = conv_bias(call, &p, &bias);
    if (st == QS_OK)
        st = conv_output(call, &p);
    if (st != QS_OK)
        return st;
    conv_transpose_forward(call, &p, rt_f(call->in[0]), rt_f(call->in[1]), bias,
                           rt_f(call->out[0]));
    return QS_OK;
}
