/*
 * Quantization ops: QuantizeLinear and DequantizeLinear (per tensor,
 * per axis, and blocked with block_size; also their com.microsoft forms),
 * DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv.
 * Rounding is half to even (nearbyint in the default rounding mode).
 */
#include "config.h"
#include "interp/conv.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* How a scale (and zero point) tensor maps onto the data. */
struct quant_layout {
    uint64_t outer, len, inner;          /* data as outer x len x inner around "axis" */
    int64_t block;                       /* 0: per tensor or per axis */
    int per_axis;
    uint64_t blocks;                     /* ceil(len / block) */
};

static enum qs_status
quant_layout(struct interp_call *call, const struct qs_rt_tensor *x,
             const struct qs_rt_tensor *scale, struct quant_layout *q)
{
    int axis = 0;
    int64_t block = qs_node_attr_int(call->node, "block_size", 0);
    enum qs_status st;

    memset(q, 0, sizeof(*q));
    q->outer = x->count;
    q->len = q->inner = 1;
    if (scale->count == 1 && scale->rank <= 1 && block == 0)
        return QS_OK;
    /* The com.microsoft forms always took an axis. */
    if (call->opset < 13 && call->node->domain[0] == '\0')
        return interp_fail(call, QS_INVALID,
                           "scale has %llu elements; before opset 13 it must be a scalar",
                           (unsigned long long)scale->count);
    st = interp_axis(call, qs_node_attr_int(call->node, "axis", 1), x->rank, &axis);
    if (st != QS_OK)
        return st;
    q->outer = rt_span(x->dims, 0, axis);
    q->len = (uint64_t)x->dims[axis];
    q->inner = rt_span(x->dims, axis + 1, x->rank);
    if (block <= 0) {
        if (scale->rank != 1 || scale->count != q->len)
            return interp_fail(call, QS_INVALID,
                               "scale has %llu elements but axis %d has size %llu",
                               (unsigned long long)scale->count, axis, (unsigned long long)q->len);
        q->per_axis = 1;
        return QS_OK;
    }

    q->block = block;
    q->blocks = (q->len + (uint64_t)block - 1) / (uint64_t)block;
    if (scale->rank != x->rank)
        return interp_fail(call, QS_INVALID, "blocked scale must have rank %d", x->rank);
    for (int d = 0; d < x->rank; d++) {
        int64_t want = d == axis ? (int64_t)q->blocks : x->dims[d];

        if (scale->dims[d] != want)
            return interp_fail(call, QS_INVALID, "blocked scale has %lld in dim %d, expected %lld",
                               (long long)scale->dims[d], d, (long long)want);
    }
    return QS_OK;
}

/* Scale index of element (o, a, n). */
static uint64_t
quant_index(const struct quant_layout *q, uint64_t o, uint64_t a, uint64_t n)
{
    if (q->block)
        return (o * q->blocks + a / (uint64_t)q->block) * q->inner + n;
    return q->per_axis ? a : 0;
}

static int
zero_point_matches(const struct qs_rt_tensor *zp, const struct qs_rt_tensor *scale)
{
    return !zp || (zp->count == scale->count && zp->rank == scale->rank);
}

static float
zp_value(const struct qs_rt_tensor *zp, uint64_t i)
{
    if (!zp)
        return 0.0f;
    return qs_rt_is_float(zp->dtype) ? rt_f(zp)[i] : (float)rt_i(zp)[i];
}

/* Saturating range of the integer type "dtype". */
static void
int_range(int dtype, double *lo, double *hi)
{
    switch (dtype) {
    case QS_DT_INT8:   *lo = -128;   *hi = 127;   break;
    case QS_DT_UINT16: *lo = 0;      *hi = 65535; break;
    case QS_DT_INT16:  *lo = -32768; *hi = 32767; break;
    case QS_DT_INT4:   *lo = -8;     *hi = 7;     break;
    case QS_DT_UINT4:  *lo = 0;      *hi = 15;    break;
    case QS_DT_INT32:  *lo = -2147483648.0; *hi = 2147483647.0; break;
    default:           *lo = 0;      *hi = 255;   break;
    }
}

static int
quant_output_type(struct interp_call *call, const struct qs_rt_tensor *zp)
{
    int64_t dt = qs_node_attr_int(call->node, "output_dtype", 0);

    if (zp)
        return zp->dtype;
    return dt ? (int)dt : QS_DT_UINT8;
}

enum qs_status
op_quantize_linear(struct interp_call *call)
{
    const struct qs_rt_tensor *x, *scale, *zp;
    struct quant_layout q;
    int out_type;
    int saturate = (int)qs_node_attr_int(call->node, "saturate", 1);
    double lo, hi;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    scale = call->in[1];
    zp = call->n_in > 2 ? call->in[2] : NULL;
    if (!zero_point_matches(zp, scale))
        return interp_fail(call, QS_INVALID, "zero point and scale differ in shape");
    out_type = quant_output_type(call, zp);
    st = quant_layout(call, x, scale, &q);
    if (st == QS_OK)
        st = interp_new(call, out_type, x->rank, x->dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    int_range(out_type, &lo, &hi);
    for (uint64_t o = 0, i = 0; o < q.outer; o++) {
        for (uint64_t a = 0; a < q.len; a++) {
            for (uint64_t n = 0; n < q.inner; n++, i++) {
                uint64_t s = quant_index(&q, o, a, n);
                float v = rt_f(x)[i] / rt_f(scale)[s];

                if (qs_rt_is_float(out_type)) {
                    rt_f(call->out[0])[i] = qs_fp8_to_float(out_type,
                        qs_float_to_fp8(out_type, v + zp_value(zp, s), saturate));
                } else {
                    double r = (double)nearbyintf(v) + zp_value(zp, s);

                    r = isnan(r) ? 0 : r < lo ? lo : r > hi ? hi : r;
                    rt_i(call->out[0])[i] = (int64_t)r;
                }
            }
        }
    }
    return QS_OK;
}

enum qs_status
op_dequantize_linear(struct interp_call *call)
{
    const struct qs_rt_tensor *x, *scale, *zp;
    struct quant_layout q;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 1);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    scale = call->in[1];
    zp = call->n_in > 2 ? call->in[2] : NULL;
    if (!zero_point_matches(zp, scale))
        return interp_fail(call, QS_INVALID, "zero point and scale differ in shape");
    st = quant_layout(call, x, scale, &q);
    if (st == QS_OK)
        st = interp_new(call, scale->dtype, x->rank, x->dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (uint64_t o = 0, i = 0; o < q.outer; o++) {
        for (uint64_t a = 0; a < q.len; a++) {
            for (uint64_t n = 0; n < q.inner; n++, i++) {
                uint64_t s = quant_index(&q, o, a, n);
                float v = qs_rt_is_float(x->dtype) ? rt_f(x)[i] : (float)rt_i(x)[i];

                rt_f(call->out[0])[i] = (v - zp_value(zp, s)) * rt_f(scale)[s];
            }
        }
    }
    return QS_OK;
}

enum qs_status
op_dynamic_quantize_linear(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    float lo = 0, hi = 0, scale, zp;
    enum qs_status st = interp_need_float(call, 0);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    for (uint64_t i = 0; i < x->count; i++) {
        lo = rt_f(x)[i] < lo ? rt_f(x)[i] : lo;
        hi = rt_f(x)[i] > hi ? rt_f(x)[i] : hi;
    }
    /* The ONNX definition: range widened to include 0, mapped onto uint8 [0, 255]. */
    scale = (hi - lo) / 255.0f;
    zp = scale > 0 && isfinite(scale) ? nearbyintf(-lo / scale) : 0;
    zp = fminf(fmaxf(zp, 0.0f), 255.0f);

    st = interp_new(call, QS_DT_UINT8, x->rank, x->dims, &call->out[0]);
    if (st == QS_OK && call->n_out > 1)
        st = interp_new(call, QS_DT_FLOAT, 0, NULL, &call->out[1]);
    if (st == QS_OK && call->n_out > 2)
        st = interp_new(call, QS_DT_UINT8, 0, NULL, &call->out[2]);
    if (st != QS_OK)
        return st;
    for (uint64_t i = 0; i < x->count; i++) {
        float q = scale > 0 ? nearbyintf(rt_f(x)[i] / scale) + zp : zp;

        if (isnan(q))
            q = zp;
        rt_i(call->out[0])[i] = (int64_t)fminf(fmaxf(q, 0.0f), 255.0f);
    }
    if (call->n_out > 1)
        rt_f(call->out[1])[0] = scale;
    if (call->n_out > 2)
        rt_i(call->out[2])[0] = (int64_t)zp;
    return QS_OK;
}

/*
 * "t" minus its zero point "zp" as int64: a scalar zero point, or one per
 * entry along "axis" (rows of A, columns of B, output channels of W).
 */
static enum qs_status
subtract_zero_point(struct interp_call *call, const struct qs_rt_tensor *t,
                    const struct qs_rt_tensor *zp, int axis, struct qs_rt_tensor **out)
{
    uint64_t inner, len;
    enum qs_status st;

    if (qs_rt_is_float(t->dtype) || (zp && qs_rt_is_float(zp->dtype)))
        return interp_fail(call, QS_INVALID, "inputs and zero points must be integers");
    st = interp_convert(call, t, QS_DT_INT64, out);
    if (st != QS_OK || !zp)
        return st;
    axis = axis < 0 ? axis + t->rank : axis;
    len = t->rank > 0 && axis >= 0 && axis < t->rank ? (uint64_t)t->dims[axis] : 1;
    inner = t->rank > 0 && axis >= 0 ? rt_span(t->dims, axis + 1, t->rank) : 1;
    if (zp->count != 1 && zp->count != len) {
        qs_rt_unref(*out);
        *out = NULL;
        return interp_fail(call, QS_INVALID, "zero point has %llu elements, expected 1 or %llu",
                           (unsigned long long)zp->count, (unsigned long long)len);
    }
    for (uint64_t i = 0; i < t->count; i++)
        rt_i(*out)[i] -= rt_i(zp)[zp->count == 1 ? 0 : i / inner % len];
    return QS_OK;
}

/* Integer MatMul of the zero-point-adjusted inputs through the MatMul op. */
static enum qs_status
matmul_adjusted(struct interp_call *call, size_t ia, size_t iazp, size_t ib, size_t ibzp,
                struct qs_rt_tensor **acc)
{
    struct qs_rt_tensor *a = NULL, *b = NULL, *saved[2], *in[2], *out[1] = { NULL };
    const struct qs_rt_tensor *azp = call->n_in > iazp ? call->in[iazp] : NULL;
    const struct qs_rt_tensor *bzp = call->n_in > ibzp ? call->in[ibzp] : NULL;
    struct interp_call sub = *call;
    enum qs_status st;

    st = subtract_zero_point(call, call->in[ia], azp, -2, &a);
    if (st == QS_OK)
        st = subtract_zero_point(call, call->in[ib], bzp, -1, &b);
    if (st == QS_OK) {
        saved[0] = a;
        saved[1] = b;
        in[0] = saved[0];
        in[1] = saved[1];
        sub.n_in = 2;
        sub.in = in;
        sub.n_out = 1;
        sub.out = out;
        st = op_matmul(&sub);
        *acc = out[0];
    }
    qs_rt_unref(a);
    qs_rt_unref(b);
    return st;
}

enum qs_status
op_matmul_integer(struct interp_call *call)
{
    struct qs_rt_tensor *acc = NULL;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = matmul_adjusted(call, 0, 2, 1, 3, &acc);
    if (st == QS_OK)
        st = interp_convert(call, acc, QS_DT_INT32, &call->out[0]);
    qs_rt_unref(acc);
    return st;
}

/* Requantize an integer accumulator: round(acc * scale / y_scale) + y_zp, saturated. */
static enum qs_status
requantize(struct interp_call *call, const struct qs_rt_tensor *acc, const float *real_scale,
           uint64_t n_scale, uint64_t inner, const struct qs_rt_tensor *yzp)
{
    int out_type = yzp ? yzp->dtype : QS_DT_UINT8;
    double lo, hi;
    enum qs_status st = interp_new(call, out_type, acc->rank, acc->dims, &call->out[0]);

    if (st != QS_OK)
        return st;
    int_range(out_type, &lo, &hi);
    for (uint64_t i = 0; i < acc->count; i++) {
        float s = real_scale[n_scale == 1 ? 0 : i / inner % n_scale];
        double v = qs_rt_is_float(acc->dtype) ? rt_f(acc)[i] : (double)rt_i(acc)[i];
        double r = (double)nearbyintf((float)(v * s)) + (yzp ? (double)rt_i(yzp)[0] : 0);

        rt_i(call->out[0])[i] = (int64_t)(r < lo ? lo : r > hi ? hi : r);
    }
    return QS_OK;
}

enum qs_status
op_qlinear_matmul(struct interp_call *call)
{
    struct qs_rt_tensor *acc = NULL;
    float *scale = NULL;
    uint64_t n = 0;
    enum qs_status st = interp_need_inputs(call, 8);

    if (st == QS_OK)
        st = matmul_adjusted(call, 0, 2, 3, 5, &acc);
    if (st == QS_OK && (call->in[1]->count != 1 || call->in[6]->count != 1))
        st = interp_fail(call, QS_UNSUPPORTED, "per-row a_scale or y_scale is not supported");
    if (st == QS_OK) {
        n = call->in[4]->count;
        scale = qs_calloc(n, sizeof(*scale));
        for (uint64_t i = 0; i < n; i++)
            scale[i] = rt_f(call->in[1])[0] * rt_f(call->in[4])[i] / rt_f(call->in[6])[0];
        st = requantize(call, acc, scale, n, 1, call->in[7]);
    }
    free(scale);
    qs_rt_unref(acc);
    return st;
}

/*
 * Float convolution of zero-point-adjusted integer inputs (exact while partial sums stay below
 * 2^24).
 */
static enum qs_status
conv_adjusted(struct interp_call *call, size_t ix, size_t ixzp, size_t iw, size_t iwzp,
              struct qs_rt_tensor **acc)
{
    struct qs_rt_tensor *x = NULL, *w = NULL, *xf = NULL, *wf = NULL, *in[2], *out[1] = { NULL };
    struct interp_call sub = *call;
    enum qs_status st;

    st = subtract_zero_point(call, call->in[ix], call->n_in > ixzp ? call->in[ixzp] : NULL, 1, &x);
    if (st == QS_OK)
        st = subtract_zero_point(call, call->in[iw], call->n_in > iwzp ? call->in[iwzp] : NULL,
                                 0, &w);
    if (st == QS_OK)
        st = interp_convert(call, x, QS_DT_FLOAT, &xf);
    if (st == QS_OK)
        st = interp_convert(call, w, QS_DT_FLOAT, &wf);
    if (st == QS_OK) {
        in[0] = xf;
        in[1] = wf;
        sub.n_in = 2;
        sub.in = in;
        sub.n_out = 1;
        sub.out = out;
        st = op_conv(&sub);
        *acc = out[0];
    }
    qs_rt_unref(x);
    qs_rt_unref(w);
    qs_rt_unref(xf);
    qs_rt_unref(wf);
    return st;
}

enum qs_status
op_conv_integer(struct interp_call *call)
{
    struct qs_rt_tensor *acc = NULL;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = conv_adjusted(call, 0, 2, 1, 3, &acc);
    if (st == QS_OK)
        st = interp_convert(call, acc, QS_DT_INT32, &call->out[0]);
    qs_rt_unref(acc);
    return st;
}

enum qs_status
op_qlinear_conv(struct interp_call *call)
{
    struct qs_rt_tensor *acc = NULL;
    const struct qs_rt_tensor *bias;
    float *scale = NULL;
    uint64_t n = 0, plane;
    enum qs_status st = interp_need_inputs(call, 8);

    if (st == QS_OK)
        st = conv_adjusted(call, 0, 2, 3, 5, &acc);
    if (st == QS_OK && (call->in[1]->count != 1 || call->in[6]->count != 1))
        st = interp_fail(call, QS_INVALID, "x_scale and y_scale must be scalars");
    if (st != QS_OK) {
        qs_rt_unref(acc);
        return st;
    }

    bias = call->n_in > 8 ? call->in[8] : NULL;
    plane = rt_span(acc->dims, 2, acc->rank);
    for (uint64_t i = 0; bias && i < acc->count; i++)
        rt_f(acc)[i] += (float)rt_i(bias)[i / plane % (uint64_t)acc->dims[1]];
    n = call->in[4]->count;
    scale = qs_calloc(n, sizeof(*scale));
    for (uint64_t i = 0; i < n; i++)
        scale[i] = rt_f(call->in[1])[0] * rt_f(call->in[4])[i] / rt_f(call->in[6])[0];
    st = requantize(call, acc, scale, n, plane, call->in[7]);
    free(scale);
    qs_rt_unref(acc);
    return st;
}
