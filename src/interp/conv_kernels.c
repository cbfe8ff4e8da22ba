/*
 * Convolution kernels: im2col followed by a matrix product per group, a
 * direct kernel for 2-D depthwise convolutions, and the transposed
 * convolution as sgemm followed by col2im.  1-D problems run as 2-D
 * with a height of one.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/conv.h"
#include "interp/internal.h"

#include <stdlib.h>
#include <string.h>

/* Floats of im2col buffer per tile: 8 MiB keeps it in the last-level cache of most CPUs. */
#define COL_BUDGET (1 << 21)

/* Multiply-adds per depthwise chunk at least: a job costs some microseconds. */
#define DEPTHWISE_CHUNK_WORK 32768

int64_t
conv_out_len(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
             int64_t pad_end)
{
    int64_t span = (kernel - 1) * dilation + 1, room = in + pad_begin + pad_end - span;

    return room < 0 ? 0 : room / stride + 1;
}

void
conv_same_pads(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int upper,
               int64_t *pad_begin, int64_t *pad_end)
{
    int64_t out = (in + stride - 1) / stride;
    int64_t total = (out - 1) * stride + (kernel - 1) * dilation + 1 - in;

    if (total < 0)
        total = 0;
    *pad_begin = upper ? total / 2 : total - total / 2;
    *pad_end = total - *pad_begin;
}

/* A 2-D view of the problem: 1-D convolutions get a height of 1. */
struct conv2d {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
};

static void
conv2d_view(const struct conv_params *p, struct conv2d *v)
{
    int o = p->nd == 2 ? 1 : 0;

    v->ih = o ? p->in[0] : 1;
    v->oh = o ? p->out[0] : 1;
    v->kh = o ? p->kernel[0] : 1;
    v->sh = o ? p->stride[0] : 1;
    v->dh = o ? p->dilation[0] : 1;
    v->ph = o ? p->pad_begin[0] : 0;
    v->iw = p->in[o];
    v->ow = p->out[o];
    v->kw = p->kernel[o];
    v->sw = p->stride[o];
    v->dw = p->dilation[o];
    v->pw = p->pad_begin[o];
}

/* First and last output column whose input column ox*sw - pw + off lies in [0, iw). */
static void
valid_cols(const struct conv2d *v, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t start = v->pw - off;

    *lo = start <= 0 ? 0 : (start + v->sw - 1) / v->sw;
    *hi = (v->iw - 1 + v->pw - off) < 0 ? -1 : (v->iw - 1 + v->pw - off) / v->sw;
    if (*hi > v->ow - 1)
        *hi = v->ow - 1;
}

struct im2col_job {
    const struct conv2d *v;
    const float *x;                          /* [channels, ih, iw] */
    float *col;                              /* [channels * kh * kw, rows * ow] */
    int64_t row0, rows;                      /* output rows of this tile */
};

INTERP_VECTOR_CLONES static void
im2col_rows(void *ctx, int64_t begin, int64_t end)
{
    const struct im2col_job *j = ctx;
    const struct conv2d *v = j->v;
    int64_t k = v->kh * v->kw, cols = j->rows * v->ow;

    for (int64_t r = begin; r < end; r++) {
        int64_t c = r / k, ky = r % k / v->kw, kx = r % v->kw, lo, hi;
        const float *xc = j->x + c * v->ih * v->iw;
        float *dst = j->col + r * cols;

        valid_cols(v, kx * v->dw, &lo, &hi);
        for (int64_t oy = j->row0; oy < j->row0 + j->rows; oy++, dst += v->ow) {
            int64_t iy = oy * v->sh - v->ph + ky * v->dh;
            int64_t base = iy * v->iw - v->pw + kx * v->dw;   /* input index of ox = 0 */

            if (iy < 0 || iy >= v->ih || lo > hi) {
                memset(dst, 0, (size_t)v->ow * sizeof(*dst));
                continue;
            }
            for (int64_t ox = 0; ox < lo; ox++)
                dst[ox] = 0;
            if (v->sw == 1)
                memcpy(dst + lo, xc + base + lo, (size_t)(hi - lo + 1) * sizeof(*dst));
            else
                for (int64_t ox = lo; ox <= hi; ox++)
                    dst[ox] = xc[base + ox * v->sw];
            for (int64_t ox = hi + 1; ox < v->ow; ox++)
                dst[ox] = 0;
        }
    }
}

/* One group of one image, 1-D or 2-D, tiled over output rows. */
static void
conv2d_group(struct interp_call *call, const struct conv_params *p, const float *x,
             const float *w, float beta, float *y, float *col)
{
    struct conv2d v;
    int64_t cg = p->in_channels / p->group, mg = p->out_channels / p->group, ck, tile;
    struct im2col_job job;

    conv2d_view(p, &v);
    ck = cg * v.kh * v.kw;
    if (v.kh * v.kw == 1 && v.sh == 1 && v.sw == 1 && v.ph == 0 && v.pw == 0
        && v.oh == v.ih && v.ow == v.iw) {
        interp_sgemm(call, 0, 0, mg, v.oh * v.ow, cg, 1.0f, w, cg, x, v.oh * v.ow, beta, y,
                     v.oh * v.ow);
        return;
    }

    tile = COL_BUDGET / (ck * v.ow > 0 ? ck * v.ow : 1);
    tile = tile < 1 ? 1 : tile > v.oh ? v.oh : tile;
    job.v = &v;
    job.x = x;
    job.col = col;
    for (int64_t row0 = 0; row0 < v.oh; row0 += tile) {
        job.row0 = row0;
        job.rows = v.oh - row0 < tile ? v.oh - row0 : tile;
        interp_parallel_for(call, ck, 16, im2col_rows, &job);
        interp_sgemm(call, 0, 0, mg, job.rows * v.ow, ck, 1.0f, w, ck, col, job.rows * v.ow, beta,
                     y + row0 * v.ow, v.oh * v.ow);
    }
}

/* Size of the 2-D im2col buffer, in floats. */
static int64_t
conv2d_col_size(const struct conv_params *p)
{
    struct conv2d v;
    int64_t ck, tile;

    conv2d_view(p, &v);
    ck = p->in_channels / p->group * v.kh * v.kw;
    tile = COL_BUDGET / (ck * v.ow > 0 ? ck * v.ow : 1);
    tile = tile < 1 ? 1 : tile > v.oh ? v.oh : tile;
    return ck * tile * v.ow;
}

/* ---- generic N-d im2col -------------------------------------------------- */

static int64_t
span(const int64_t *dims, int n)
{
    int64_t s = 1;

    for (int i = 0; i < n; i++)
        s *= dims[i];
    return s;
}

static void
im2col_nd(const struct conv_params *p, const float *x, int64_t channels, float *col)
{
    int64_t k = span(p->kernel, p->nd), out_total = span(p->out, p->nd);
    int64_t in_total = span(p->in, p->nd);

    for (int64_t c = 0; c < channels; c++) {
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t koff[CONV_MAX_DIMS], rem = kk;
            float *row = col + (c * k + kk) * out_total;

            for (int d = p->nd - 1; d >= 0; d--) {
                koff[d] = rem % p->kernel[d];
                rem /= p->kernel[d];
            }
            for (int64_t pos = 0; pos < out_total; pos++) {
                int64_t r = pos, off = 0, o[CONV_MAX_DIMS];
                int inside = 1;

                for (int d = p->nd - 1; d >= 0; d--) {
                    o[d] = r % p->out[d];
                    r /= p->out[d];
                }
                for (int d = 0; d < p->nd; d++) {
                    int64_t ic = o[d] * p->stride[d] - p->pad_begin[d] + koff[d] * p->dilation[d];

                    inside = inside && ic >= 0 && ic < p->in[d];
                    off = off * p->in[d] + ic;
                }
                row[pos] = inside ? x[c * in_total + off] : 0.0f;
            }
        }
    }
}

/* ---- depthwise ----------------------------------------------------------- */

struct depthwise_job {
    const struct conv_params *p;
    const float *x, *w, *b;
    float *y;
};

INTERP_VECTOR_CLONES static void
depthwise_planes(void *ctx, int64_t begin, int64_t end)
{
    const struct depthwise_job *j = ctx;
    const struct conv_params *p = j->p;
    struct conv2d v;
    int64_t mult = p->out_channels / p->group;

    conv2d_view(p, &v);
    for (int64_t plane = begin; plane < end; plane++) {
        int64_t m = plane % p->out_channels, n = plane / p->out_channels;
        const float *xp = j->x + (n * p->in_channels + m / mult) * v.ih * v.iw;
        const float *wp = j->w + m * v.kh * v.kw;
        float *yp = j->y + plane * v.oh * v.ow;

        for (int64_t oy = 0; oy < v.oh; oy++) {
            float *yrow = yp + oy * v.ow;
            float bias = j->b ? j->b[m] : 0.0f;

            for (int64_t ox = 0; ox < v.ow; ox++)
                yrow[ox] = bias;
            for (int64_t ky = 0; ky < v.kh; ky++) {
                int64_t iy = oy * v.sh - v.ph + ky * v.dh;

                if (iy < 0 || iy >= v.ih)
                    continue;
                for (int64_t kx = 0; kx < v.kw; kx++) {
                    int64_t base = iy * v.iw - v.pw + kx * v.dw, lo, hi;
                    float wv = wp[ky * v.kw + kx];

                    valid_cols(&v, kx * v.dw, &lo, &hi);
                    if (v.sw == 1)
                        for (int64_t ox = lo; ox <= hi; ox++)
                            yrow[ox] += wv * xp[base + ox];
                    else
                        for (int64_t ox = lo; ox <= hi; ox++)
                            yrow[ox] += wv * xp[base + ox * v.sw];
                }
            }
        }
    }
}

static void
add_bias(const struct conv_params *p, const float *b, float *y)
{
    int64_t out_total = span(p->out, p->nd);

    for (int64_t n = 0; n < p->batch; n++) {
        for (int64_t m = 0; m < p->out_channels; m++) {
            float *ym = y + (n * p->out_channels + m) * out_total;

            for (int64_t i = 0; i < out_total; i++)
                ym[i] += b[m];
        }
    }
}

/* Every output plane set to its channel's bias. */
static void
fill_bias(const struct conv_params *p, const float *b, float *y)
{
    int64_t out_total = span(p->out, p->nd);

    for (int64_t n = 0; n < p->batch; n++) {
        for (int64_t m = 0; m < p->out_channels; m++) {
            float *ym = y + (n * p->out_channels + m) * out_total;

            for (int64_t i = 0; i < out_total; i++)
                ym[i] = b[m];
        }
    }
}

void
conv_forward(struct interp_call *call, const struct conv_params *p, const float *x,
             const float *w, const float *b, float *y)
{
    int64_t cg = p->in_channels / p->group, mg = p->out_channels / p->group;
    int64_t k = span(p->kernel, p->nd), in_total = span(p->in, p->nd);
    int64_t out_total = span(p->out, p->nd);
    int flat = p->nd <= 2;
    float *col;

    if (out_total == 0 || p->out_channels == 0)
        return;
    if (p->nd == 2 && cg == 1) {
        struct depthwise_job job = { p, x, w, b, y };
        int64_t plane_work = out_total * k;

        if (out_total > DEPTHWISE_CHUNK_WORK)
            plane_work = DEPTHWISE_CHUNK_WORK;

        /* Chunks of some DEPTHWISE_CHUNK_WORK products, so small maps stay on one thread. */
        interp_parallel_for(call, p->batch * p->out_channels,
                            1 + DEPTHWISE_CHUNK_WORK / (plane_work + 1), depthwise_planes, &job);
        return;
    }

    /* The bias goes in first and the products add to it (beta 1): one pass less over y. */
    if (b)
        fill_bias(p, b, y);
    col = qs_malloc((size_t)(flat ? conv2d_col_size(p) : cg * k * out_total) * sizeof(*col) + 1);
    for (int64_t n = 0; n < p->batch; n++) {
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (n * p->in_channels + g * cg) * in_total;
            const float *wg = w + g * mg * cg * k;
            float *yg = y + (n * p->out_channels + g * mg) * out_total;

            if (flat) {
                conv2d_group(call, p, xg, wg, b ? 1.0f : 0.0f, yg, col);
                continue;
            }
            im2col_nd(p, xg, cg, col);
            interp_sgemm(call, 0, 0, mg, out_total, cg * k, 1.0f, wg, cg * k, col, out_total,
                         b ? 1.0f : 0.0f, yg, out_total);
        }
    }
    free(col);
}

/* ---- transposed convolution --------------------------------------------- */

/* Scatter-add columns [mg * k, in_total] into the output planes [mg, out...]. */
static void
col2im(const struct conv_params *p, const float *col, int64_t channels, float *y)
{
    int64_t k = span(p->kernel, p->nd), in_total = span(p->in, p->nd);
    int64_t out_total = span(p->out, p->nd);

    for (int64_t c = 0; c < channels; c++) {
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t koff[CONV_MAX_DIMS], rem = kk;
            const float *row = col + (c * k + kk) * in_total;
            float *yc = y + c * out_total;

            for (int d = p->nd - 1; d >= 0; d--) {
                koff[d] = rem % p->kernel[d];
                rem /= p->kernel[d];
            }
            for (int64_t pos = 0; pos < in_total; pos++) {
                int64_t r = pos, off = 0, i[CONV_MAX_DIMS];
                int inside = 1;

                for (int d = p->nd - 1; d >= 0; d--) {
                    i[d] = r % p->in[d];
                    r /= p->in[d];
                }
                for (int d = 0; d < p->nd && inside; d++) {
                    int64_t oc = i[d] * p->stride[d] - p->pad_begin[d] + koff[d] * p->dilation[d];

                    inside = oc >= 0 && oc < p->out[d];
                    off = off * p->out[d] + oc;
                }
                if (inside)
                    yc[off] += row[pos];
            }
        }
    }
}

/* The same for 2-D (and 1-D), row by row. */
static void
col2im_2d(const struct conv_params *p, const float *col, int64_t channels, float *y)
{
    struct conv2d v;
    int64_t k;

    /* Swap roles: the "input" of the scatter is the conv's input grid. */
    conv2d_view(p, &v);
    k = v.kh * v.kw;
    for (int64_t c = 0; c < channels; c++) {
        for (int64_t kk = 0; kk < k; kk++) {
            int64_t ky = kk / v.kw, kx = kk % v.kw;
            const float *row = col + (c * k + kk) * v.ih * v.iw;
            float *yc = y + c * v.oh * v.ow;

            for (int64_t iy = 0; iy < v.ih; iy++) {
                int64_t oy = iy * v.sh - v.ph + ky * v.dh;
                const float *src = row + iy * v.iw;
                float *dst;

                if (oy < 0 || oy >= v.oh)
                    continue;
                dst = yc + oy * v.ow;
                for (int64_t ix = 0; ix < v.iw; ix++) {
                    int64_t ox = ix * v.sw - v.pw + kx * v.dw;

                    if (ox >= 0 && ox < v.ow)
                        dst[ox] += src[ix];
                }
            }
        }
    }
}

void
conv_transpose_forward(struct interp_call *call, const struct conv_params *p, const float *x,
                       const float *w, const float *b, float *y)
{
    int64_t cg = p->in_channels / p->group, mg = p->out_channels / p->group;
    int64_t k = span(p->kernel, p->nd), in_total = span(p->in, p->nd);
    int64_t out_total = span(p->out, p->nd);
    float *col;

    memset(y, 0, (size_t)(p->batch * p->out_channels * out_total) * sizeof(*y));
    if (out_total == 0 || p->out_channels == 0 || in_total == 0) {
        if (b)
            add_bias(p, b, y);
        return;
    }

    col = qs_malloc((size_t)(mg * k * in_total) * sizeof(*col) + 1);
    for (int64_t n = 0; n < p->batch; n++) {
        for (int64_t g = 0; g < p->group; g++) {
            const float *xg = x + (n * p->in_channels + g * cg) * in_total;
            const float *wg = w + g * cg * mg * k;
            float *yg = y + (n * p->out_channels + g * mg) * out_total;

            interp_sgemm(call, 1, 0, mg * k, in_total, cg, 1.0f, wg, mg * k, xg, in_total, 0.0f,
                         col, in_total);
            if (p->nd <= 2)
                col2im_2d(p, col, mg, yg);
            else
                col2im(p, col, mg, yg);
        }
    }
    free(col);
    if (b)
        add_bias(p, b, y);
}
