/*
 * Resize (opsets 10 to 18) and Upsample: nearest, linear and cubic
 * interpolation with every coordinate transformation mode of opset 11
 * and later.  Each axis gets a table of taps (input index and weight per
 * output index); the output multiplies the taps of every axis.
 *
 * Before opset 11 (Resize-10, Upsample) coordinates are asymmetric and
 * nearest picks floor, or ceil when downsampling, as onnxruntime does.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"
#include "interp/resize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

float
resize_source_coord(const struct resize_axis_params *p, int64_t x)
{
    float xf = (float)x, in = (float)p->in_len, out = (float)p->out_len;

    switch (p->coord) {
    case COORD_HALF_PIXEL:
        return (xf + 0.5f) / p->scale - 0.5f;
    case COORD_PYTORCH_HALF_PIXEL:
        return p->out_len > 1 ? (xf + 0.5f) / p->scale - 0.5f : 0.0f;
    case COORD_ALIGN_CORNERS:
        /* The resized length is in * scale, not the output length rounded down. */
        return p->out_len == 1 ? 0.0f : xf * (in - 1) / (in * p->scale - 1);
    case COORD_TF_HALF_PIXEL_FOR_NN:
        return (xf + 0.5f) / p->scale;
    case COORD_TF_CROP_AND_RESIZE:
        if (p->out_len > 1)
            return p->roi_start * (in - 1)
                   + xf * (p->roi_end - p->roi_start) * (in - 1) / (out - 1);
        return 0.5f * (p->roi_start + p->roi_end) * (in - 1);
    default:
        return xf / p->scale;
    }
}

static int64_t
clamp_index(int64_t i, int64_t len)
{
    if (i < 0)
        return 0;
    return i >= len ? len - 1 : i;
}

static int64_t
nearest_index(const struct resize_axis_params *p, float x)
{
    float fl = floorf(x);
    int64_t i;

    switch (p->nearest) {
    case NEAREST_ROUND_PREFER_CEIL:
        i = (int64_t)(x - fl == 0.5f ? fl + 1 : roundf(x));
        break;
    case NEAREST_FLOOR:
        i = (int64_t)fl;
        break;
    case NEAREST_CEIL:
        i = (int64_t)ceilf(x);
        break;
    case NEAREST_SIMPLE:
        i = p->scale < 1 ? (int64_t)ceilf(x) : (int64_t)x;
        break;
    default:
        i = (int64_t)(x - fl == 0.5f ? fl : roundf(x));
        break;
    }
    return clamp_index(i, p->in_len);
}

static void
cubic_weights(float a, float t, float *w)
{
    float t1 = t + 1, t2 = 1 - t, t3 = 2 - t;

    w[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    w[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    w[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    w[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

static void
taps_for(const struct resize_axis_params *p, int64_t o, int64_t *idx, float *w)
{
    float x = resize_source_coord(p, o), sum = 0;
    int64_t base;

    if (p->coord == COORD_TF_CROP_AND_RESIZE && !(x >= 0 && x <= (float)(p->in_len - 1))) {
        idx[0] = -1;
        return;
    }
    /* Coordinates far outside read the edge anyway; keep them where integer casts are defined. */
    if (!(x > -2.0f))
        x = -2.0f;
    if (!(x < (float)p->in_len + 2.0f))
        x = (float)p->in_len + 2.0f;
    if (p->mode == RESIZE_NEAREST) {
        idx[0] = nearest_index(p, x);
        w[0] = 1;
        return;
    }
    if (p->mode == RESIZE_LINEAR) {
        x = x < 0 ? 0 : x > (float)(p->in_len - 1) ? (float)(p->in_len - 1) : x;
        idx[0] = (int64_t)x;
        idx[1] = idx[0] + 1 < p->in_len ? idx[0] + 1 : p->in_len - 1;
        w[1] = x - (float)idx[0];
        w[0] = 1 - w[1];
        return;
    }

    base = (int64_t)floorf(x);
    cubic_weights(p->cubic_a, x - (float)base, w);
    for (int k = 0; k < 4; k++) {
        int64_t i = base - 1 + k;

        if (p->exclude_outside && (i < 0 || i >= p->in_len))
            w[k] = 0;
        idx[k] = clamp_index(i, p->in_len);
        sum += w[k];
    }
    for (int k = 0; p->exclude_outside && sum != 0 && k < 4; k++)
        w[k] /= sum;
}

void
resize_taps_init(const struct resize_axis_params *p, struct resize_taps *t)
{
    size_t n = (size_t)(p->out_len > 0 ? p->out_len : 1);
    int identity = p->in_len == p->out_len && p->scale == 1.0f
                   && p->coord != COORD_TF_CROP_AND_RESIZE;

    if (identity || p->mode == RESIZE_NEAREST)
        t->taps = 1;
    else
        t->taps = p->mode == RESIZE_LINEAR ? 2 : 4;
    t->index = qs_calloc(n * (size_t)t->taps, sizeof(*t->index));
    t->weight = qs_calloc(n * (size_t)t->taps, sizeof(*t->weight));
    for (int64_t o = 0; o < p->out_len; o++) {
        if (identity) {
            t->index[o] = o;
            t->weight[o] = 1;
            continue;
        }
        taps_for(p, o, t->index + o * t->taps, t->weight + o * t->taps);
    }
}

void
resize_taps_done(struct resize_taps *t)
{
    free(t->index);
    free(t->weight);
    t->index = NULL;
    t->weight = NULL;
}

/* ---- the op -------------------------------------------------------------- */

struct resize_args {
    struct resize_axis_params axis[QS_RT_MAX_RANK];
    float extrapolation;
    int64_t out_dims[QS_RT_MAX_RANK];
};

static int
attr_is(const struct qs_node *node, const char *name, const char *fallback, const char *value)
{
    size_t len;
    const char *s = qs_node_attr_string(node, name, fallback, &len);

    return len == strlen(value) && memcmp(s, value, len) == 0;
}

static enum resize_coord
coord_mode(const struct qs_node *node)
{
    static const char *const names[] = {
        "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
        "tf_half_pixel_for_nn", "tf_crop_and_resize", "half_pixel_symmetric"
    };

    for (int i = 0; i < 7; i++) {
        if (attr_is(node, "coordinate_transformation_mode", "half_pixel", names[i]))
            return (enum resize_coord)i;
    }
    return (enum resize_coord)-1;
}

const char *
check_resize(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    int resize11 = strcmp(node->op_type, "Resize") == 0 && opset >= 11;

    if (!attr_is(node, "mode", "nearest", "nearest")
        && !attr_is(node, "mode", "nearest", "linear")
        && !attr_is(node, "mode", "nearest", "cubic")
        && !attr_is(node, "mode", "nearest", "bilinear"))
        return "mode is not nearest, linear or cubic";
    if (!resize11)
        return attr_is(node, "mode", "nearest", "cubic") ? "cubic mode before opset 11" : NULL;
    if ((int)coord_mode(node) < 0 || coord_mode(node) == COORD_HALF_PIXEL_SYMMETRIC) {
        snprintf(buf, size, "this coordinate_transformation_mode");
        return buf;
    }
    if (qs_node_attr_int(node, "antialias", 0) != 0)
        return "antialias";
    if (!attr_is(node, "keep_aspect_ratio_policy", "stretch", "stretch"))
        return "keep_aspect_ratio_policy other than stretch";
    return NULL;
}

static void
resize_modes(struct interp_call *call, struct resize_axis_params *a)
{
    const struct qs_node *node = call->node;
    int modern = strcmp(node->op_type, "Resize") == 0 && call->opset >= 11;

    a->mode = attr_is(node, "mode", "nearest", "nearest") ? RESIZE_NEAREST
              : attr_is(node, "mode", "nearest", "cubic") ? RESIZE_CUBIC : RESIZE_LINEAR;
    a->coord = modern ? coord_mode(node) : COORD_ASYMMETRIC;
    if (!modern)
        a->nearest = NEAREST_SIMPLE;
    else if (attr_is(node, "nearest_mode", "round_prefer_floor", "round_prefer_ceil"))
        a->nearest = NEAREST_ROUND_PREFER_CEIL;
    else if (attr_is(node, "nearest_mode", "round_prefer_floor", "floor"))
        a->nearest = NEAREST_FLOOR;
    else if (attr_is(node, "nearest_mode", "round_prefer_floor", "ceil"))
        a->nearest = NEAREST_CEIL;
    else
        a->nearest = NEAREST_ROUND_PREFER_FLOOR;
    a->cubic_a = qs_node_attr_float(node, "cubic_coeff_a", -0.75f);
    a->exclude_outside = (int)qs_node_attr_int(node, "exclude_outside", 0);
}

/* Read scales (attribute for Upsample-7, else an input) or sizes. */
static enum qs_status
resize_targets(struct interp_call *call, float *scales, size_t *n_scales, int64_t *sizes,
               size_t *n_sizes, float *roi, size_t *n_roi)
{
    int upsample = strcmp(call->node->op_type, "Upsample") == 0;
    size_t scales_at = upsample || call->opset < 11 ? 1 : 2;
    const struct qs_rt_tensor *t;
    enum qs_status st = QS_OK;

    *n_scales = *n_sizes = *n_roi = 0;
    if (upsample && call->opset < 9) {
        const float *v;
        ptrdiff_t n = qs_node_attr_floats(call->node, "scales", &v);

        if (n < 0 || n > QS_RT_MAX_RANK)
            return interp_fail(call, QS_INVALID, "attribute scales is missing or too long");
        memcpy(scales, v, (size_t)n * sizeof(*v));
        *n_scales = (size_t)n;
        return QS_OK;
    }
    t = scales_at < call->n_in ? call->in[scales_at] : NULL;
    if (t && t->count > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "scales has too many elements");
    for (uint64_t i = 0; t && i < t->count; i++)
        scales[i] = rt_f(t)[i];
    *n_scales = t ? (size_t)t->count : 0;
    if (scales_at == 2 && call->n_in > 3 && call->in[3] && call->in[3]->count > 0)
        st = interp_read_ints(call, 3, sizes, QS_RT_MAX_RANK, n_sizes);
    t = scales_at == 2 && call->n_in > 1 ? call->in[1] : NULL;
    if (st == QS_OK && t && t->count <= 2 * QS_RT_MAX_RANK && qs_rt_is_float(t->dtype)) {
        memcpy(roi, rt_f(t), (size_t)t->count * sizeof(*roi));
        *n_roi = (size_t)t->count;
    }
    return st;
}

static enum qs_status
resize_args(struct interp_call *call, const struct qs_rt_tensor *x, struct resize_args *r)
{
    float scales[QS_RT_MAX_RANK], roi[2 * QS_RT_MAX_RANK];
    int64_t sizes[QS_RT_MAX_RANK];
    size_t n_scales, n_sizes, n_roi;
    enum qs_status st = resize_targets(call, scales, &n_scales, sizes, &n_sizes, roi, &n_roi);

    if (st != QS_OK)
        return st;
    if (n_sizes ? n_sizes != (size_t)x->rank : n_scales != (size_t)x->rank)
        return interp_fail(call, QS_INVALID, "scales or sizes must have %d entries", x->rank);
    r->extrapolation = qs_node_attr_float(call->node, "extrapolation_value", 0.0f);
    for (int d = 0; d < x->rank; d++) {
        struct resize_axis_params *a = &r->axis[d];

        resize_modes(call, a);
        a->in_len = x->dims[d];
        if (n_sizes) {
            a->out_len = sizes[d];
            a->scale = a->in_len > 0 ? (float)a->out_len / (float)a->in_len : 1.0f;
        } else {
            float len = floorf((float)a->in_len * scales[d]);

            a->scale = scales[d];
            if (!(a->scale > 0) || !(len <= (float)INT32_MAX))
                return interp_fail(call, QS_INVALID, "scale %g of axis %d is invalid",
                                   (double)a->scale, d);
            a->out_len = (int64_t)len;
        }
        if (!(a->scale > 0) || isinf(a->scale) || a->out_len < 0 || a->out_len > INT32_MAX)
            return interp_fail(call, QS_INVALID, "scale %g of axis %d is invalid",
                               (double)a->scale, d);
        a->roi_start = n_roi == 2 * (size_t)x->rank ? roi[d] : 0.0f;
        a->roi_end = n_roi == 2 * (size_t)x->rank ? roi[x->rank + d] : 1.0f;
        r->out_dims[d] = a->out_len;
    }
    return QS_OK;
}

/* Interpolate one output element from the taps of the resized axes first .. rank-1. */
static float
resize_point(const float *x, const struct resize_taps *taps, const int64_t *o,
             const int64_t *strides, int first, int rank, float extrapolation)
{
    int k[QS_RT_MAX_RANK] = { 0 };
    double acc = 0;
    int d;

    for (d = first; d < rank; d++) {
        if (taps[d].index[o[d] * taps[d].taps] < 0)
            return extrapolation;
    }
    for (;;) {
        int64_t off = 0;
        float w = 1;

        for (d = first; d < rank; d++) {
            int64_t t = o[d] * taps[d].taps + k[d];

            off += taps[d].index[t] * strides[d];
            w *= taps[d].weight[t];
        }
        acc += (double)w * x[off];
        for (d = rank - 1; d >= first; d--) {
            if (++k[d] < taps[d].taps)
                break;
            k[d] = 0;
        }
        if (d < first)
            return (float)acc;
    }
}

static int
taps_are_identity(const struct resize_taps *t, int64_t in_len, int64_t out_len)
{
    if (t->taps != 1 || in_len != out_len)
        return 0;
    for (int64_t o = 0; o < out_len; o++) {
        if (t->index[o] != o || t->weight[o] != 1.0f)
            return 0;
    }
    return 1;
}

/*
 * One output row of a 2-D resize with "tx" taps per output column and the
 * row taps "iy"/"wy".  The arithmetic is that of resize_point (float
 * weight products, double sum in tap order), so both paths agree exactly.
 */
static void
resize_row_2d(const float *xp, int64_t in_w, const int64_t *iy, const float *wy, int ty,
              const struct resize_taps *tx, int64_t out_w, float extrapolation, float *yr)
{
    for (int64_t ox = 0; ox < out_w; ox++) {
        const int64_t *ix = tx->index + ox * tx->taps;
        const float *wx = tx->weight + ox * tx->taps;
        double acc = 0;

        if (ix[0] < 0) {
            yr[ox] = extrapolation;
            continue;
        }
        if (ty == 2 && tx->taps == 2) {
            const float *r0 = xp + iy[0] * in_w, *r1 = xp + iy[1] * in_w;

            acc += (double)(wy[0] * wx[0]) * r0[ix[0]];
            acc += (double)(wy[0] * wx[1]) * r0[ix[1]];
            acc += (double)(wy[1] * wx[0]) * r1[ix[0]];
            acc += (double)(wy[1] * wx[1]) * r1[ix[1]];
            yr[ox] = (float)acc;
            continue;
        }
        for (int a = 0; a < ty; a++) {
            for (int b = 0; b < tx->taps; b++)
                acc += (double)(wy[a] * wx[b]) * xp[iy[a] * in_w + ix[b]];
        }
        yr[ox] = (float)acc;
    }
}

/* Nearest on both axes: every weight is 1, so the output copies input elements. */
static void
resize_row_nearest(const float *row, const struct resize_taps *tx, int64_t out_w,
                   float extrapolation, float *yr)
{
    for (int64_t ox = 0; ox < out_w; ox++) {
        int64_t ix = tx->index[ox];

        yr[ox] = ix < 0 ? extrapolation : row[ix];
    }
}

/* Resize of the last two axes of every plane; taps[rank-2] may be the identity. */
static void
resize_plane_2d(const float *xp, float *yp, const struct resize_taps *ty,
                const struct resize_taps *tx, int64_t in_w, int64_t out_h, int64_t out_w,
                float extrapolation)
{
    int nearest = ty->taps == 1 && tx->taps == 1;

    for (int64_t oy = 0; oy < out_h; oy++) {
        const int64_t *iy = ty->index + oy * ty->taps;
        float *yr = yp + oy * out_w;

        if (iy[0] < 0) {
            for (int64_t ox = 0; ox < out_w; ox++)
                yr[ox] = extrapolation;
        } else if (nearest && oy > 0 && iy[0] == iy[-1]) {
            memcpy(yr, yr - out_w, (size_t)out_w * sizeof(*yr));
        } else if (nearest) {
            resize_row_nearest(xp + iy[0] * in_w, tx, out_w, extrapolation, yr);
        } else {
            resize_row_2d(xp, in_w, iy, ty->weight + oy * ty->taps, ty->taps, tx, out_w,
                          extrapolation, yr);
        }
    }
}

struct resize_job {
    const struct qs_rt_tensor *x;
    struct qs_rt_tensor *y;
    const struct resize_taps *ty, *tx;
    float extrapolation;
    uint64_t in_plane, out_plane;
};

static void
resize_planes(void *ctx, int64_t begin, int64_t end)
{
    const struct resize_job *j = ctx;
    int rank = j->x->rank;

    for (int64_t p = begin; p < end; p++)
        resize_plane_2d(rt_f(j->x) + (uint64_t)p * j->in_plane,
                        rt_f(j->y) + (uint64_t)p * j->out_plane, j->ty, j->tx,
                        j->x->dims[rank - 1], j->y->dims[rank - 2], j->y->dims[rank - 1],
                        j->extrapolation);
}

static void
resize_apply(struct interp_call *call, const struct qs_rt_tensor *x, struct qs_rt_tensor *y,
             const struct resize_taps *taps, float extrapolation)
{
    int64_t strides[QS_RT_MAX_RANK], o[QS_RT_MAX_RANK] = { 0 };
    int first = 0, rank = x->rank, d;
    uint64_t planes, in_plane, out_plane;

    /* Leading axes that are copied unchanged become whole planes. */
    while (first < rank && taps_are_identity(&taps[first], x->dims[first], y->dims[first]))
        first++;
    if (rank >= 2 && first >= rank - 2) {
        struct resize_job j = {
            x, y, &taps[rank - 2], &taps[rank - 1], extrapolation,
            rt_span(x->dims, rank - 2, rank), rt_span(y->dims, rank - 2, rank)
        };

        /* Chunks of at least some 32768 outputs, so small tensors stay on one thread. */
        interp_parallel_for(call, (int64_t)rt_span(x->dims, 0, rank - 2),
                            (int64_t)(32768 / (j.out_plane + 1) + 1), resize_planes, &j);
        return;
    }
    rt_strides(rank, x->dims, strides);
    planes = rt_span(x->dims, 0, first);
    in_plane = rt_span(x->dims, first, rank);
    out_plane = rt_span(y->dims, first, rank);
    for (uint64_t p = 0; p < planes; p++) {
        const float *xp = rt_f(x) + p * in_plane;
        float *yp = rt_f(y) + p * out_plane;

        for (uint64_t i = 0; i < out_plane; i++) {
            yp[i] = resize_point(xp, taps, o, strides, first, rank, extrapolation);
            for (d = rank - 1; d >= first; d--) {
                if (++o[d] < y->dims[d])
                    break;
                o[d] = 0;
            }
        }
    }
}

enum qs_status
op_resize(struct interp_call *call)
{
    struct resize_args r;
    struct resize_taps taps[QS_RT_MAX_RANK];
    struct qs_rt_tensor *xf = NULL, *y = NULL;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = resize_args(call, call->in[0], &r);
    if (st == QS_OK)
        st = interp_as_float(call, call->in[0], &xf);
    /* An empty input leaves nothing to interpolate: the output stays zero. */
    if (st == QS_OK && call->in[0]->count == 0)
        st = interp_new(call, QS_DT_FLOAT, call->in[0]->rank, r.out_dims, &y);
    else if (st == QS_OK)
        st = interp_new_uninit(call, QS_DT_FLOAT, call->in[0]->rank, r.out_dims, &y);
    if (st != QS_OK) {
        qs_rt_unref(xf);
        return st;
    }

    x = call->in[0];
    for (int d = 0; d < x->rank; d++)
        resize_taps_init(&r.axis[d], &taps[d]);
    if (y->count > 0 && x->count > 0)
        resize_apply(call, xf, y, taps, r.extrapolation);
    for (int d = 0; d < x->rank; d++)
        resize_taps_done(&taps[d]);
    qs_rt_unref(xf);

    if (x->dtype == QS_DT_FLOAT) {
        call->out[0] = y;
        return QS_OK;
    }
    st = interp_convert(call, y, x->dtype, &call->out[0]);
    qs_rt_unref(y);
    return st;
}
