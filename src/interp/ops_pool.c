/*
 * Pooling: MaxPool (with the Indices output), AveragePool, LpPool and
 * their global forms, over any number of spatial dims.  Integer inputs
 * (MaxPool on int8/uint8) are pooled as float32, which holds them exactly.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/conv.h"
#include "interp/internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

struct pool_params {
    struct conv_params g;                    /* geometry; channels unused */
    int kind;                                /* enum interp_pool_kind */
    int count_include_pad;
    int column_major;                        /* MaxPool storage_order 1 */
    float p;                                 /* LpPool exponent */
};

/* Inputs per parallel chunk at least: a job costs some microseconds. */
#define POOL_CHUNK_INPUTS 16384

struct pool_job {
    const struct pool_params *pp;
    const float *x;
    float *y;
    int64_t *indices;                        /* MaxPool Indices, or NULL */
};

static enum qs_status
pool_attr_dims(struct interp_call *call, const char *name, int n, int64_t fallback, int64_t min,
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

/* Output length with ceil_mode: a last window starting in the end padding is dropped. */
static int64_t
pool_out_len(const struct conv_params *g, int i, int ceil_mode)
{
    int64_t span = (g->kernel[i] - 1) * g->dilation[i] + 1;
    int64_t room = g->in[i] + g->pad_begin[i] + g->pad_end[i] - span, out;

    if (room < 0)
        return 0;
    out = (ceil_mode ? (room + g->stride[i] - 1) / g->stride[i] : room / g->stride[i]) + 1;
    if (ceil_mode && (out - 1) * g->stride[i] >= g->in[i] + g->pad_begin[i])
        out--;
    return out;
}

static enum qs_status
pool_geometry(struct interp_call *call, const struct qs_rt_tensor *x, struct pool_params *pp)
{
    struct conv_params *g = &pp->g;
    int64_t pads[2 * CONV_MAX_DIMS];
    enum auto_pad mode = interp_auto_pad(call->node);
    int ceil_mode = (int)qs_node_attr_int(call->node, "ceil_mode", 0);
    enum qs_status st;

    g->nd = x->rank - 2;
    g->batch = x->dims[0];
    g->in_channels = g->out_channels = x->dims[1];
    memcpy(g->in, x->dims + 2, (size_t)g->nd * sizeof(*g->in));
    if (!qs_node_attr(call->node, "kernel_shape"))
        return interp_fail(call, QS_INVALID, "attribute kernel_shape is missing");
    st = pool_attr_dims(call, "kernel_shape", g->nd, 1, 1, g->kernel);
    if (st == QS_OK)
        st = pool_attr_dims(call, "strides", g->nd, 1, 1, g->stride);
    if (st == QS_OK)
        st = pool_attr_dims(call, "dilations", g->nd, 1, 1, g->dilation);
    if (st == QS_OK)
        st = pool_attr_dims(call, "pads", 2 * g->nd, 0, 0, pads);
    if (st != QS_OK)
        return st;

    for (int i = 0; i < g->nd; i++) {
        g->pad_begin[i] = pads[i];
        g->pad_end[i] = pads[g->nd + i];
        if (mode == AUTO_PAD_SAME_UPPER || mode == AUTO_PAD_SAME_LOWER)
            conv_same_pads(g->in[i], g->kernel[i], g->stride[i], g->dilation[i],
                           mode == AUTO_PAD_SAME_UPPER, &g->pad_begin[i], &g->pad_end[i]);
        else if (mode == AUTO_PAD_VALID)
            g->pad_begin[i] = g->pad_end[i] = 0;
        g->out[i] = pool_out_len(g, i, ceil_mode);
    }
    return QS_OK;
}

/*
 * Window taps j along axis "d": those whose position o*stride - pad +
 * j*dilation lies inside [0, in) run from "first" to "last", and
 * "padded_count" taps lie before the end of the padding.
 */
static void
window_range(const struct conv_params *g, int d, int64_t o, int64_t *first, int64_t *last,
             int64_t *padded_count)
{
    int64_t start = o * g->stride[d] - g->pad_begin[d], dil = g->dilation[d];
    int64_t limit = g->in[d] + g->pad_end[d], k = g->kernel[d];
    int64_t hi = g->in[d] - start <= 0 ? -1 : (g->in[d] - start - 1) / dil;
    int64_t n = limit - start <= 0 ? 0 : (limit - start - 1) / dil + 1;

    *first = start < 0 ? (-start + dil - 1) / dil : 0;
    *last = hi < k - 1 ? hi : k - 1;
    *padded_count = n < k ? n : k;
}

/* Pool one output position of one plane. */
static float
pool_window(const struct pool_params *pp, const float *x, const int64_t *o, int64_t *argmax)
{
    const struct conv_params *g = &pp->g;
    int64_t first[CONV_MAX_DIMS], last[CONV_MAX_DIMS], j[CONV_MAX_DIMS];
    int64_t tmp, best_off = -1;
    double padded = 1, valid = 1;
    double acc = pp->kind == POOL_MAX ? -INFINITY : 0.0;
    int d;

    for (d = 0; d < g->nd; d++) {
        window_range(g, d, o[d], &first[d], &last[d], &tmp);
        padded *= (double)tmp;
        valid *= last[d] >= first[d] ? (double)(last[d] - first[d] + 1) : 0.0;
        j[d] = first[d];
    }
    while (valid > 0) {
        int64_t off = 0;
        float v;

        for (d = 0; d < g->nd; d++)
            off = off * g->in[d] + o[d] * g->stride[d] - g->pad_begin[d] + j[d] * g->dilation[d];
        v = x[off];
        if (pp->kind == POOL_MAX) {
            if (v > acc || best_off < 0 || isnan(v)) {
                acc = v;
                best_off = off;
            }
        } else {
            acc += pp->kind == POOL_LP ? pow(fabs(v), pp->p) : v;
        }
        for (d = g->nd - 1; d >= 0; d--) {
            if (++j[d] <= last[d])
                break;
            j[d] = first[d];
        }
        if (d < 0)
            break;
    }
    *argmax = best_off;
    if (pp->kind == POOL_MAX)
        return (float)acc;
    if (pp->kind == POOL_LP)
        return (float)pow(acc, 1.0 / pp->p);
    return valid > 0 ? (float)(acc / (pp->count_include_pad ? padded : valid)) : 0.0f;
}

/* Offset of input element "off" (row-major in the plane) in the requested storage order. */
static int64_t
index_in_order(const struct conv_params *g, int64_t off, int column_major)
{
    int64_t coord[CONV_MAX_DIMS], out = 0;

    if (!column_major)
        return off;
    for (int d = g->nd - 1; d >= 0; d--) {
        coord[d] = off % g->in[d];
        off /= g->in[d];
    }
    for (int d = g->nd - 1; d >= 0; d--)
        out = out * g->in[d] + coord[d];
    return out;
}

static void
pool_planes(void *ctx, int64_t begin, int64_t end)
{
    const struct pool_job *jb = ctx;
    const struct conv_params *g = &jb->pp->g;
    int64_t in_total = 1, out_total = 1;

    for (int d = 0; d < g->nd; d++) {
        in_total *= g->in[d];
        out_total *= g->out[d];
    }
    for (int64_t plane = begin; plane < end; plane++) {
        int64_t o[CONV_MAX_DIMS] = { 0 }, argmax;

        for (int64_t pos = 0; pos < out_total; pos++) {
            float v = pool_window(jb->pp, jb->x + plane * in_total, o, &argmax);

            jb->y[plane * out_total + pos] = v;
            if (jb->indices)
                jb->indices[plane * out_total + pos] = plane * in_total
                    + (argmax < 0 ? 0 : index_in_order(g, argmax, jb->pp->column_major));
            for (int d = g->nd - 1; d >= 0; d--) {
                if (++o[d] < g->out[d])
                    break;
                o[d] = 0;
            }
        }
    }
}

/* Global pooling: one value per plane. */
static void
global_planes(void *ctx, int64_t begin, int64_t end)
{
    const struct pool_job *jb = ctx;
    const struct conv_params *g = &jb->pp->g;
    int64_t n = 1;

    for (int d = 0; d < g->nd; d++)
        n *= g->in[d];
    for (int64_t plane = begin; plane < end; plane++) {
        const float *x = jb->x + plane * n;
        double acc = jb->pp->kind == POOL_GLOBAL_MAX ? -INFINITY : 0.0;

        for (int64_t i = 0; i < n; i++) {
            if (jb->pp->kind == POOL_GLOBAL_MAX)
                acc = x[i] > acc ? x[i] : acc;
            else if (jb->pp->kind == POOL_GLOBAL_LP)
                acc += pow(fabs(x[i]), jb->pp->p);
            else
                acc += x[i];
        }
        if (jb->pp->kind == POOL_GLOBAL_AVERAGE)
            acc = n > 0 ? acc / (double)n : 0.0;
        else if (jb->pp->kind == POOL_GLOBAL_LP)
            acc = pow(acc, 1.0 / jb->pp->p);
        jb->y[plane] = (float)acc;
    }
}

static enum qs_status
pool_outputs(struct interp_call *call, const struct qs_rt_tensor *x, struct pool_params *pp,
             int global, struct qs_rt_tensor **y, struct qs_rt_tensor **indices)
{
    int64_t dims[CONV_MAX_DIMS + 2];
    enum qs_status st;

    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < pp->g.nd; d++)
        dims[2 + d] = global ? 1 : pp->g.out[d];
    st = interp_new_uninit(call, QS_DT_FLOAT, x->rank, dims, y);
    if (st == QS_OK && indices)
        st = interp_new_uninit(call, QS_DT_INT64, x->rank, dims, indices);
    return st;
}

enum qs_status
op_pool(struct interp_call *call)
{
    struct pool_params pp = { .kind = call->op->arg };
    struct qs_rt_tensor *xf = NULL, *y = NULL, *indices = NULL;
    struct pool_job job = { &pp, NULL, NULL, NULL };
    int global = pp.kind >= POOL_GLOBAL_MAX;
    int want_indices = pp.kind == POOL_MAX && call->n_out > 1 && call->node->outputs[1];
    int64_t planes, plane_inputs;
    enum qs_status st = interp_need_rank(call, 0, 3, CONV_MAX_DIMS + 2);

    if (st != QS_OK)
        return st;
    pp.count_include_pad = (int)qs_node_attr_int(call->node, "count_include_pad", 0);
    pp.column_major = qs_node_attr_int(call->node, "storage_order", 0) == 1;
    pp.p = (float)qs_node_attr_int(call->node, "p", 2);
    if (global) {
        pp.g.nd = call->in[0]->rank - 2;
        memcpy(pp.g.in, call->in[0]->dims + 2, (size_t)pp.g.nd * sizeof(int64_t));
    } else {
        st = pool_geometry(call, call->in[0], &pp);
    }
    if (st == QS_OK)
        st = interp_as_float(call, call->in[0], &xf);
    if (st == QS_OK)
        st = pool_outputs(call, call->in[0], &pp, global, &y, want_indices ? &indices : NULL);
    if (st != QS_OK) {
        qs_rt_unref(xf);
        qs_rt_unref(y);
        return st;
    }

    job.x = rt_f(xf);
    job.y = rt_f(y);
    job.indices = indices ? rt_i(indices) : NULL;
    planes = call->in[0]->dims[0] * call->in[0]->dims[1];
    plane_inputs = planes > 0 ? (int64_t)xf->count / planes : 0;
    /* Chunks of some POOL_CHUNK_INPUTS inputs, so small maps stay on one thread. */
    interp_parallel_for(call, planes, 1 + POOL_CHUNK_INPUTS / (plane_inputs + 1),
                        global ? global_planes : pool_planes, &job);
    qs_rt_unref(xf);
    if (call->in[0]->dtype != QS_DT_FLOAT) {
        st = interp_convert(call, y, call->in[0]->dtype, &call->out[0]);
        qs_rt_unref(y);
    } else {
        call->out[0] = y;
    }
    if (indices)
        call->out[1] = indices;
    return st;
}
