/*
 * Detection and sampling ops: NonMaxSuppression, RoiAlign, GridSample
 * and MaxUnpool.  Interpolation details (edge handling, rounding) follow
 * onnxruntime's CPU kernels, which the ONNX operator tests agree with.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

static int
attr_equals(const struct qs_node *node, const char *name, const char *fallback, const char *value)
{
    size_t len;
    const char *s = qs_node_attr_string(node, name, fallback, &len);

    return len == strlen(value) && memcmp(s, value, len) == 0;
}

/* ---- NonMaxSuppression --------------------------------------------------- */

struct nms_box {
    float y1, x1, y2, x2;
};

static struct nms_box
nms_corners(const float *b, int center)
{
    struct nms_box r;

    if (center) {
        r.x1 = b[0] - b[2] / 2;
        r.x2 = b[0] + b[2] / 2;
        r.y1 = b[1] - b[3] / 2;
        r.y2 = b[1] + b[3] / 2;
    } else {
        r.y1 = fminf(b[0], b[2]);
        r.y2 = fmaxf(b[0], b[2]);
        r.x1 = fminf(b[1], b[3]);
        r.x2 = fmaxf(b[1], b[3]);
    }
    return r;
}

static float
nms_iou(struct nms_box a, struct nms_box b)
{
    float w = fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1), h = fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1);
    float inter, uni;

    if (w <= 0 || h <= 0)
        return 0;
    inter = w * h;
    uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return uni > 0 ? inter / uni : 0;
}

struct nms_candidate {
    float score;
    int64_t index;
};

/* Higher score first, then lower index. */
static int
nms_compare(const void *pa, const void *pb)
{
    const struct nms_candidate *a = pa, *b = pb;

    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

struct nms_args {
    int64_t max_out;
    float iou, score;
    int has_score, center;
};

/* Select boxes of one batch and class; appends (b, c, index) triples to "sel". */
static void
nms_class(const float *boxes, const float *scores, int64_t n, const struct nms_args *a,
          int64_t b, int64_t c, int64_t **sel, size_t *n_sel)
{
    struct nms_candidate *cand = qs_calloc((size_t)n + 1, sizeof(*cand));
    struct nms_box *kept = qs_calloc((size_t)n + 1, sizeof(*kept));
    size_t m = 0, k = 0;

    for (int64_t i = 0; i < n; i++) {
        if (!a->has_score || scores[i] > a->score) {
            cand[m].score = scores[i];
            cand[m++].index = i;
        }
    }
    qsort(cand, m, sizeof(*cand), nms_compare);
    for (size_t i = 0; i < m && (int64_t)k < a->max_out; i++) {
        struct nms_box box = nms_corners(boxes + cand[i].index * 4, a->center);
        int suppressed = 0;

        for (size_t j = 0; j < k && !suppressed; j++)
            suppressed = nms_iou(box, kept[j]) > a->iou;
        if (suppressed)
            continue;
        kept[k++] = box;
        *sel = qs_reallocarray(*sel, (*n_sel + 1) * 3, sizeof(**sel));
        (*sel)[*n_sel * 3] = b;
        (*sel)[*n_sel * 3 + 1] = c;
        (*sel)[*n_sel * 3 + 2] = cand[i].index;
        (*n_sel)++;
    }
    free(cand);
    free(kept);
}

enum qs_status
op_nonmax_suppression(struct interp_call *call)
{
    struct nms_args a = { 0 };
    const struct qs_rt_tensor *boxes, *scores;
    int64_t *sel = NULL, dims[2];
    size_t n_sel = 0;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_scalar_int(call, 2, 0, &a.max_out);
    if (st == QS_OK)
        st = interp_scalar_float(call, 3, 0, &a.iou);
    if (st == QS_OK)
        st = interp_scalar_float(call, 4, 0, &a.score);
    if (st != QS_OK)
        return st;
    boxes = call->in[0];
    scores = call->in[1];
    a.has_score = call->n_in > 4 && call->in[4];
    a.center = (int)qs_node_attr_int(call->node, "center_point_box", 0);
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3
        || scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1]
        || !qs_rt_is_float(boxes->dtype) || !qs_rt_is_float(scores->dtype))
        return interp_fail(call, QS_INVALID, "boxes must be [B, N, 4] and scores [B, C, N]");

    for (int64_t b = 0; b < boxes->dims[0]; b++) {
        for (int64_t c = 0; c < scores->dims[1]; c++)
            nms_class(rt_f(boxes) + b * boxes->dims[1] * 4,
                      rt_f(scores) + (b * scores->dims[1] + c) * scores->dims[2], boxes->dims[1],
                      &a, b, c, &sel, &n_sel);
    }
    dims[0] = (int64_t)n_sel;
    dims[1] = 3;
    st = interp_new(call, QS_DT_INT64, 2, dims, &call->out[0]);
    if (st == QS_OK && n_sel)
        memcpy(rt_i(call->out[0]), sel, n_sel * 3 * sizeof(*sel));
    free(sel);
    return st;
}

/* ---- RoiAlign -------------------------------------------------------------- */

/* Bilinear sample of one plane at (y, x) as onnxruntime's RoiAlign: 0 beyond one pixel outside. */
static float
roi_sample(const float *plane, int64_t h, int64_t w, float y, float x, int is_max)
{
    int64_t y0, x0, y1, x1;
    float ly, lx, v[4], wt[4], best;

    if (!(y >= -1.0f && y <= (float)h && x >= -1.0f && x <= (float)w))
        return 0;
    y = y < 0 ? 0 : y;
    x = x < 0 ? 0 : x;
    y0 = (int64_t)y;
    x0 = (int64_t)x;
    if (y0 >= h - 1) {
        y0 = y1 = h - 1;
        y = (float)y0;
    } else {
        y1 = y0 + 1;
    }
    if (x0 >= w - 1) {
        x0 = x1 = w - 1;
        x = (float)x0;
    } else {
        x1 = x0 + 1;
    }
    ly = y - (float)y0;
    lx = x - (float)x0;
    v[0] = plane[y0 * w + x0];
    v[1] = plane[y0 * w + x1];
    v[2] = plane[y1 * w + x0];
    v[3] = plane[y1 * w + x1];
    wt[0] = (1 - ly) * (1 - lx);
    wt[1] = (1 - ly) * lx;
    wt[2] = ly * (1 - lx);
    wt[3] = ly * lx;
    if (!is_max)
        return wt[0] * v[0] + wt[1] * v[1] + wt[2] * v[2] + wt[3] * v[3];
    best = wt[0] * v[0];
    for (int k = 1; k < 4; k++)
        best = wt[k] * v[k] > best ? wt[k] * v[k] : best;
    return best;
}

struct roi_args {
    int64_t oh, ow, ratio;
    float scale, offset;
    int is_max, half_pixel;
};

/* Adaptive sampling: ceil(bin size) points, at least 1; bins of absurd size are capped. */
static int64_t
samples_per_bin(float bin)
{
    if (!(bin > 1.0f))
        return 1;
    return bin > 4096.0f ? 4096 : (int64_t)ceilf(bin);
}

static void
roi_one(const struct roi_args *a, const float *plane, int64_t h, int64_t w, const float *roi,
        float *out)
{
    float x0 = roi[0] * a->scale - a->offset, y0 = roi[1] * a->scale - a->offset;
    float rw = roi[2] * a->scale - a->offset - x0, rh = roi[3] * a->scale - a->offset - y0;
    float bh, bw;
    int64_t gh, gw;

    if (!a->half_pixel) {
        rw = rw > 1 ? rw : 1;
        rh = rh > 1 ? rh : 1;
    }
    bh = rh / (float)a->oh;
    bw = rw / (float)a->ow;
    gh = a->ratio > 0 ? a->ratio : samples_per_bin(rh / (float)a->oh);
    gw = a->ratio > 0 ? a->ratio : samples_per_bin(rw / (float)a->ow);
    for (int64_t py = 0; py < a->oh; py++) {
        for (int64_t px = 0; px < a->ow; px++) {
            double acc = a->is_max ? -INFINITY : 0;
            int64_t count = gh * gw > 0 ? gh * gw : 1;

            for (int64_t iy = 0; iy < gh; iy++) {
                float y = y0 + (float)py * bh + ((float)iy + 0.5f) * bh / (float)gh;

                for (int64_t ix = 0; ix < gw; ix++) {
                    float x = x0 + (float)px * bw + ((float)ix + 0.5f) * bw / (float)gw;
                    float v = roi_sample(plane, h, w, y, x, a->is_max);

                    if (!a->is_max)
                        acc += v;
                    else if (v > acc)
                        acc = v;
                }
            }
            out[py * a->ow + px] = (float)(a->is_max ? acc : acc / (double)count);
        }
    }
}

enum qs_status
op_roi_align(struct interp_call *call)
{
    struct roi_args a;
    const struct qs_rt_tensor *x, *rois, *idx;
    int64_t dims[4], c, plane;
    enum qs_status st = interp_need_rank(call, 0, 4, 4);

    if (st == QS_OK)
        st = interp_need_inputs(call, 3);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    rois = call->in[1];
    idx = call->in[2];
    if (rois->rank != 2 || rois->dims[1] != 4 || idx->count != (uint64_t)rois->dims[0]
        || !qs_rt_is_float(x->dtype) || qs_rt_is_float(idx->dtype))
        return interp_fail(call, QS_INVALID, "rois must be [R, 4] with R batch indices");
    a.oh = qs_node_attr_int(call->node, "output_height", 1);
    a.ow = qs_node_attr_int(call->node, "output_width", 1);
    a.ratio = qs_node_attr_int(call->node, "sampling_ratio", 0);
    a.scale = qs_node_attr_float(call->node, "spatial_scale", 1.0f);
    a.is_max = attr_equals(call->node, "mode", "avg", "max");
    a.half_pixel = attr_equals(call->node, "coordinate_transformation_mode", "half_pixel",
                               "half_pixel");
    a.offset = a.half_pixel ? 0.5f : 0.0f;
    if (a.oh < 1 || a.ow < 1 || a.oh > 65536 || a.ow > 65536 || a.ratio > 4096)
        return interp_fail(call, QS_INVALID, "output size or sampling_ratio is out of range");

    c = x->dims[1];
    plane = x->dims[2] * x->dims[3];
    dims[0] = rois->dims[0];
    dims[1] = c;
    dims[2] = a.oh;
    dims[3] = a.ow;
    st = interp_new(call, x->dtype, 4, dims, &call->out[0]);
    for (int64_t r = 0; st == QS_OK && r < rois->dims[0]; r++) {
        int64_t b = rt_i(idx)[r];

        if (b < 0 || b >= x->dims[0])
            return interp_fail(call, QS_INVALID, "batch index %lld is out of range", (long long)b);
        for (int64_t k = 0; k < c; k++)
            roi_one(&a, rt_f(x) + (b * c + k) * plane, x->dims[2], x->dims[3], rt_f(rois) + r * 4,
                    rt_f(call->out[0]) + (r * c + k) * a.oh * a.ow);
    }
    return st;
}

/* ---- GridSample ------------------------------------------------------------ */

enum grid_padding { GRID_ZEROS, GRID_BORDER, GRID_REFLECTION };

struct grid_args {
    int align_corners;
    enum grid_padding padding;
    int mode;                            /* 0 bilinear, 1 nearest, 2 bicubic */
};

/* Reflect "x" into [lo, hi] (the coordinate range of the padding mode). */
static float
grid_reflect(float x, float lo, float hi)
{
    float span = hi - lo, d;
    int64_t flips;

    if (span <= 0)
        return 0;
    d = fabsf(x - lo);
    flips = (int64_t)floorf(d / span);
    d = fmodf(d, span);
    return flips % 2 == 0 ? lo + d : hi - d;
}

static float
grid_bound(const struct grid_args *a, float x, int64_t len)
{
    float lo = a->align_corners ? 0.0f : -0.5f;
    float hi = a->align_corners ? (float)(len - 1) : (float)len - 0.5f;

    if (a->padding == GRID_BORDER)
        return x < 0 ? 0 : x > (float)(len - 1) ? (float)(len - 1) : x;
    if (a->padding == GRID_REFLECTION) {
        x = grid_reflect(x, lo, hi);
        return x < 0 ? 0 : x > (float)(len - 1) ? (float)(len - 1) : x;
    }
    return x;
}

static float
grid_pixel(const float *plane, int64_t h, int64_t w, int64_t y, int64_t x)
{
    return y < 0 || y >= h || x < 0 || x >= w ? 0.0f : plane[y * w + x];
}

static void
cubic_coeffs(float t, float *c)
{
    const float a = -0.75f;      /* the coefficient PyTorch and onnxruntime use */
    float t1 = t + 1, t2 = 1 - t, t3 = 2 - t;

    c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

static float
grid_bicubic(const struct grid_args *a, const float *plane, int64_t h, int64_t w, float y, float x)
{
    float fy = floorf(y), fx = floorf(x), cy[4], cx[4], acc = 0;

    cubic_coeffs(y - fy, cy);
    cubic_coeffs(x - fx, cx);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            float yy = fy - 1 + (float)i, xx = fx - 1 + (float)j;

            if (a->padding != GRID_ZEROS) {
                yy = grid_bound(a, yy, h);
                xx = grid_bound(a, xx, w);
            }
            acc += cy[i] * cx[j] * grid_pixel(plane, h, w, (int64_t)yy, (int64_t)xx);
        }
    }
    return acc;
}

static float
grid_value(const struct grid_args *a, const float *plane, int64_t h, int64_t w, float gx, float gy)
{
    float x = a->align_corners ? (gx + 1) / 2 * (float)(w - 1) : ((gx + 1) * (float)w - 1) / 2;
    float y = a->align_corners ? (gy + 1) / 2 * (float)(h - 1) : ((gy + 1) * (float)h - 1) / 2;
    float x0, y0, lx, ly;

    if (!isfinite(x) || !isfinite(y))
        return 0.0f;
    /* Far outside the image every mode reads zeros or the edge; keep integer casts defined. */
    x = fminf(fmaxf(x, -1e6f), 1e6f);
    y = fminf(fmaxf(y, -1e6f), 1e6f);
    if (a->mode == 2)
        return grid_bicubic(a, plane, h, w, y, x);
    x = grid_bound(a, x, w);
    y = grid_bound(a, y, h);
    if (a->mode == 1)
        return grid_pixel(plane, h, w, (int64_t)nearbyintf(y), (int64_t)nearbyintf(x));
    x0 = floorf(x);
    y0 = floorf(y);
    lx = x - x0;
    ly = y - y0;
    return (1 - ly) * ((1 - lx) * grid_pixel(plane, h, w, (int64_t)y0, (int64_t)x0)
                       + lx * grid_pixel(plane, h, w, (int64_t)y0, (int64_t)x0 + 1))
           + ly * ((1 - lx) * grid_pixel(plane, h, w, (int64_t)y0 + 1, (int64_t)x0)
                   + lx * grid_pixel(plane, h, w, (int64_t)y0 + 1, (int64_t)x0 + 1));
}

const char *
check_grid_sample(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    (void)opset;
    (void)buf;
    (void)size;
    if (!attr_equals(node, "mode", "bilinear", "bilinear")
        && !attr_equals(node, "mode", "bilinear", "nearest")
        && !attr_equals(node, "mode", "bilinear", "bicubic"))
        return "mode is not bilinear, nearest or bicubic";
    if (!attr_equals(node, "padding_mode", "zeros", "zeros")
        && !attr_equals(node, "padding_mode", "zeros", "border")
        && !attr_equals(node, "padding_mode", "zeros", "reflection"))
        return "padding_mode is not zeros, border or reflection";
    return NULL;
}

enum qs_status
op_grid_sample(struct interp_call *call)
{
    struct grid_args a;
    const struct qs_rt_tensor *x, *grid;
    int64_t dims[4], n, c, h, w, oh, ow;
    enum qs_status st = interp_need_rank(call, 0, 4, 4);

    if (st == QS_OK)
        st = interp_need_rank(call, 1, 4, 4);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    grid = call->in[1];
    n = x->dims[0];
    c = x->dims[1];
    h = x->dims[2];
    w = x->dims[3];
    oh = grid->dims[1];
    ow = grid->dims[2];
    if (grid->dims[0] != n || grid->dims[3] != 2 || !qs_rt_is_float(x->dtype)
        || !qs_rt_is_float(grid->dtype))
        return interp_fail(call, QS_INVALID, "grid must be [N, H_out, W_out, 2] floats");
    a.align_corners = (int)qs_node_attr_int(call->node, "align_corners", 0);
    a.mode = attr_equals(call->node, "mode", "bilinear", "nearest") ? 1
             : attr_equals(call->node, "mode", "bilinear", "bicubic") ? 2 : 0;
    if (attr_equals(call->node, "padding_mode", "zeros", "border"))
        a.padding = GRID_BORDER;
    else if (attr_equals(call->node, "padding_mode", "zeros", "reflection"))
        a.padding = GRID_REFLECTION;
    else
        a.padding = GRID_ZEROS;
    dims[0] = n;
    dims[1] = c;
    dims[2] = oh;
    dims[3] = ow;
    st = interp_new(call, x->dtype, 4, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int64_t b = 0; b < n; b++) {
        for (int64_t k = 0; k < c; k++) {
            const float *plane = rt_f(x) + (b * c + k) * h * w;
            float *out = rt_f(call->out[0]) + (b * c + k) * oh * ow;

            for (int64_t i = 0; i < oh * ow; i++) {
                const float *g = rt_f(grid) + (b * oh * ow + i) * 2;

                out[i] = grid_value(&a, plane, h, w, g[0], g[1]);
            }
        }
    }
    return QS_OK;
}

/* ---- MaxUnpool --------------------------------------------------------------- */

/*
 * Indices address the unpooled shape, the inverse of the pooling.  With
 * output_shape that shape is placed at the start of a larger output, as
 * the ONNX operator tests expect.
 */
static enum qs_status
unpool_place(struct interp_call *call, const int64_t *natural, int rank, int64_t at, uint64_t *out)
{
    const struct qs_rt_tensor *y = call->out[0];
    uint64_t pos = 0;

    for (int d = 0; d < rank; d++) {
        uint64_t below = rt_span(natural, d + 1, rank);
        int64_t coord = (int64_t)((uint64_t)at / below % (uint64_t)natural[d]);

        if (coord >= y->dims[d])
            return interp_fail(call, QS_INVALID, "index %lld is outside the output", (long long)at);
        pos = pos * (uint64_t)y->dims[d] + (uint64_t)coord;
    }
    *out = pos;
    return QS_OK;
}

enum qs_status
op_max_unpool(struct interp_call *call)
{
    const struct qs_rt_tensor *x, *idx;
    int64_t natural[QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK];
    const int64_t *kernel, *strides, *pads;
    ptrdiff_t nk, ns, np;
    size_t n_shape;
    uint64_t total, pos = 0;
    int nd;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    idx = call->in[1];
    nd = x->rank - 2;
    nk = qs_node_attr_ints(call->node, "kernel_shape", &kernel);
    ns = qs_node_attr_ints(call->node, "strides", &strides);
    np = qs_node_attr_ints(call->node, "pads", &pads);
    if (nd < 1 || nk != nd || (ns >= 0 && ns != nd) || (np >= 0 && np != 2 * nd)
        || idx->count != x->count || qs_rt_is_float(idx->dtype))
        return interp_fail(call, QS_INVALID,
                           "kernel_shape, strides, pads or indices do not fit the input");
    natural[0] = x->dims[0];
    natural[1] = x->dims[1];
    for (int d = 0; d < nd; d++)
        natural[2 + d] = (x->dims[2 + d] - 1) * (ns >= 0 ? strides[d] : 1) + kernel[d]
                         - (np >= 0 ? pads[d] + pads[nd + d] : 0);
    memcpy(dims, natural, sizeof(dims));
    if (call->n_in > 2 && call->in[2]) {
        st = interp_read_ints(call, 2, dims, QS_RT_MAX_RANK, &n_shape);
        if (st == QS_OK && n_shape != (size_t)x->rank)
            st = interp_fail(call, QS_INVALID, "output_shape must have %d entries", x->rank);
    }
    if (st == QS_OK && rt_mul_dims(x->rank, natural, &total))
        st = interp_fail(call, QS_INVALID, "the unpooled shape is invalid");
    if (st == QS_OK)
        st = interp_new(call, x->dtype, x->rank, dims, &call->out[0]);
    for (uint64_t i = 0; st == QS_OK && i < x->count; i++) {
        int64_t at = rt_i(idx)[i];

        if (at < 0 || (uint64_t)at >= total)
            return interp_fail(call, QS_INVALID, "index %lld is outside the output", (long long)at);
        st = unpool_place(call, natural, x->rank, at, &pos);
        if (st == QS_OK)
            rt_f(call->out[0])[pos] = rt_f(x)[i];
    }
    return st;
}
