/*
 * Reductions and ops along an axis: ReduceSum/Mean/Max/Min/Prod/L1/L2/
 * LogSum/LogSumExp/SumSquare, ArgMax/ArgMin, Softmax, LogSoftmax,
 * Hardmax, TopK, CumSum and MeanVarianceNormalization.
 *
 * Reductions move the reduced axes last (one strided copy unless they
 * already are) and reduce each contiguous row in double precision.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* Axes to reduce: "keep[d]" is 0 for reduced axes. */
struct reduce_plan {
    int keep[QS_RT_MAX_RANK];
    int keepdims;
    int noop;                                /* empty axes with noop_with_empty_axes */
    int64_t out_dims[QS_RT_MAX_RANK];
    int out_rank;
    uint64_t rows, row_len;
};

static enum qs_status
reduce_axes(struct interp_call *call, int rank, int64_t *axes, size_t *n)
{
    const int64_t *v;
    ptrdiff_t count;
    /* ReduceSum takes its axes as an input from opset 13, the others from opset 18. */
    int64_t input_opset = strcmp(call->node->op_type, "ReduceSum") == 0 ? 13 : 18;

    *n = 0;
    if (call->opset >= input_opset) {
        if (call->n_in > 1 && call->in[1])
            return interp_read_ints(call, 1, axes, QS_RT_MAX_RANK, n);
        return QS_OK;
    }
    count = qs_node_attr_ints(call->node, "axes", &v);
    if (count > rank || count > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "attribute axes has %td entries for rank %d",
                           count, rank);
    if (count > 0)
        memcpy(axes, v, (size_t)count * sizeof(*v));
    *n = count > 0 ? (size_t)count : 0;
    return QS_OK;
}

static enum qs_status
reduce_plan(struct interp_call *call, const struct qs_rt_tensor *x, struct reduce_plan *rp)
{
    int64_t axes[QS_RT_MAX_RANK];
    size_t n;
    int a;
    enum qs_status st = reduce_axes(call, x->rank, axes, &n);

    if (st != QS_OK)
        return st;
    rp->keepdims = (int)qs_node_attr_int(call->node, "keepdims", 1);
    rp->noop = n == 0 && qs_node_attr_int(call->node, "noop_with_empty_axes", 0);
    for (int d = 0; d < x->rank; d++)
        rp->keep[d] = n > 0;
    for (size_t i = 0; i < n; i++) {
        st = interp_axis(call, axes[i], x->rank, &a);
        if (st != QS_OK)
            return st;
        rp->keep[a] = 0;
    }

    rp->out_rank = 0;
    rp->rows = rp->row_len = 1;
    for (int d = 0; d < x->rank; d++) {
        if (rp->keep[d] || rp->noop) {
            rp->out_dims[rp->out_rank++] = x->dims[d];
            rp->rows *= (uint64_t)x->dims[d];
        } else {
            rp->row_len *= (uint64_t)x->dims[d];
            if (rp->keepdims)
                rp->out_dims[rp->out_rank++] = 1;
        }
    }
    return QS_OK;
}

/* "x" with the reduced axes moved last: a new reference, possibly "x" itself. */
static enum qs_status
reduce_layout(struct interp_call *call, struct qs_rt_tensor *x, const struct reduce_plan *rp,
              struct qs_rt_tensor **out)
{
    int64_t dims[QS_RT_MAX_RANK], strides[QS_RT_MAX_RANK], src[QS_RT_MAX_RANK];
    int order[QS_RT_MAX_RANK], k = 0, trailing = 1, seen_reduced = 0;
    enum qs_status st;

    for (int d = 0; d < x->rank; d++) {
        int kept = rp->keep[d] || rp->noop;

        if (kept && seen_reduced && x->dims[d] != 1)
            trailing = 0;
        seen_reduced |= !kept && x->dims[d] != 1;
    }
    if (trailing) {
        *out = qs_rt_ref(x);
        return QS_OK;
    }
    for (int pass = 1; pass >= 0; pass--) {
        for (int d = 0; d < x->rank; d++) {
            if ((rp->keep[d] != 0) == pass)
                order[k++] = d;
        }
    }
    rt_strides(x->rank, x->dims, strides);
    for (int d = 0; d < x->rank; d++) {
        dims[d] = x->dims[order[d]];
        src[d] = strides[order[d]];
    }
    st = interp_new_uninit(call, x->dtype, x->rank, dims, out);
    if (st == QS_OK)
        rt_copy_strided((*out)->data, x->data, rt_esize(x), x->rank, dims, src, 0);
    return st;
}

static double
reduce_row_float(int code, const float *x, uint64_t n)
{
    double acc, m;

    switch (code) {
    case RED_MAX:
        acc = -INFINITY;
        for (uint64_t i = 0; i < n; i++)
            acc = x[i] > acc || isnan(x[i]) ? x[i] : acc;
        return acc;
    case RED_MIN:
        acc = INFINITY;
        for (uint64_t i = 0; i < n; i++)
            acc = x[i] < acc || isnan(x[i]) ? x[i] : acc;
        return acc;
    case RED_PROD:
        acc = 1;
        for (uint64_t i = 0; i < n; i++)
            acc *= x[i];
        return acc;
    case RED_LOGSUMEXP:
        m = -INFINITY;
        for (uint64_t i = 0; i < n; i++)
            m = x[i] > m ? x[i] : m;
        if (isinf(m))
            return m;
        acc = 0;
        for (uint64_t i = 0; i < n; i++)
            acc += exp(x[i] - m);
        return m + log(acc);
    default:
        break;
    }
    acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        double v = x[i];

        if (code == RED_L1)
            acc += fabs(v);
        else if (code == RED_L2 || code == RED_SUMSQUARE)
            acc += v * v;
        else
            acc += v;
    }
    if (code == RED_MEAN)
        return acc / (double)n;
    if (code == RED_L2)
        return sqrt(acc);
    if (code == RED_LOGSUM)
        return log(acc);
    return acc;
}

static int64_t
reduce_row_int(int code, const int64_t *x, uint64_t n)
{
    uint64_t acc = code == RED_PROD ? 1 : 0;
    int64_t m;

    if (code == RED_MAX || code == RED_MIN) {
        m = code == RED_MAX ? INT64_MIN : INT64_MAX;
        for (uint64_t i = 0; i < n; i++)
            m = (code == RED_MAX ? x[i] > m : x[i] < m) ? x[i] : m;
        return m;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = (uint64_t)x[i];

        if (code == RED_PROD)
            acc *= v;
        else if (code == RED_L1)
            acc += x[i] < 0 ? 0 - v : v;
        else if (code == RED_SUMSQUARE || code == RED_L2)
            acc += v * v;
        else
            acc += v;
    }
    if (code == RED_MEAN)
        return n ? (int64_t)acc / (int64_t)n : 0;
    if (code == RED_L2)
        return (int64_t)sqrt((double)acc);
    return (int64_t)acc;
}

enum qs_status
op_reduce(struct interp_call *call)
{
    struct reduce_plan rp;
    struct qs_rt_tensor *xt = NULL, *y;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = reduce_plan(call, call->in[0], &rp);
    if (st != QS_OK)
        return st;
    if (rp.noop) {
        call->out[0] = qs_rt_ref(call->in[0]);
        return QS_OK;
    }
    st = reduce_layout(call, call->in[0], &rp, &xt);
    if (st == QS_OK)
        st = interp_new_uninit(call, call->in[0]->dtype, rp.out_rank, rp.out_dims, &call->out[0]);
    if (st != QS_OK) {
        qs_rt_unref(xt);
        return st;
    }

    y = call->out[0];
    for (uint64_t r = 0; r < rp.rows; r++) {
        if (qs_rt_is_float(xt->dtype))
            rt_f(y)[r] = (float)reduce_row_float(call->op->arg, rt_f(xt) + r * rp.row_len,
                                                 rp.row_len);
        else
            rt_i(y)[r] = reduce_row_int(call->op->arg, rt_i(xt) + r * rp.row_len, rp.row_len);
    }
    qs_rt_unref(xt);
    return QS_OK;
}

/* ---- ops along one axis: outer x axis x inner ---------------------------- */

struct axis_view {
    uint64_t outer, len, inner;
};

static void
axis_view(const struct qs_rt_tensor *x, int axis, struct axis_view *v)
{
    v->outer = rt_span(x->dims, 0, axis);
    v->len = (uint64_t)(x->rank > 0 ? x->dims[axis] : 1);
    v->inner = rt_span(x->dims, axis + 1, x->rank);
}

enum qs_status
op_argmax(struct interp_call *call)
{
    struct axis_view v = { 0, 0, 0 };
    int64_t dims[QS_RT_MAX_RANK];
    int axis, rank = 0, is_max = call->op->arg;
    int keepdims = (int)qs_node_attr_int(call->node, "keepdims", 1);
    int last = (int)qs_node_attr_int(call->node, "select_last_index", 0);
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    for (int d = 0; d < x->rank; d++) {
        if (d != axis || keepdims)
            dims[rank++] = d == axis ? 1 : x->dims[d];
    }
    st = interp_new(call, QS_DT_INT64, rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    axis_view(x, axis, &v);
    for (uint64_t o = 0; o < v.outer; o++) {
        for (uint64_t i = 0; i < v.inner; i++) {
            uint64_t base = o * v.len * v.inner + i, best = 0;

            for (uint64_t k = 1; k < v.len; k++) {
                uint64_t ia = base + k * v.inner, ib = base + best * v.inner;
                double a = qs_rt_is_float(x->dtype) ? rt_f(x)[ia] : (double)rt_i(x)[ia];
                double b = qs_rt_is_float(x->dtype) ? rt_f(x)[ib] : (double)rt_i(x)[ib];

                if (is_max ? (a > b || (last && a == b)) : (a < b || (last && a == b)))
                    best = k;
            }
            rt_i(call->out[0])[o * v.inner + i] = (int64_t)best;
        }
    }
    return QS_OK;
}

/*
 * Softmax axis.  Before opset 13 the input is seen as 2-D, flattened at
 * "axis" (default 1).  From opset 13 the op runs along one axis (default
 * -1).  Both become an outer x len x inner view.
 */
static enum qs_status
softmax_view(struct interp_call *call, const struct qs_rt_tensor *x, struct axis_view *v)
{
    int axis;
    enum qs_status st;

    if (call->opset < 13) {
        int64_t a = qs_node_attr_int(call->node, "axis", 1);

        if (a < 0)
            a += x->rank;
        if (a < 0 || a > x->rank)
            return interp_fail(call, QS_INVALID, "axis is out of range for rank %d", x->rank);
        v->outer = rt_span(x->dims, 0, (int)a);
        v->len = rt_span(x->dims, (int)a, x->rank);
        v->inner = 1;
        return QS_OK;
    }
    st = interp_axis(call, qs_node_attr_int(call->node, "axis", -1), x->rank, &axis);
    if (st == QS_OK)
        axis_view(x, axis, v);
    return st;
}

static void
softmax_line(int code, const float *x, float *y, uint64_t len, uint64_t step)
{
    float m = -INFINITY;
    uint64_t best = 0;
    double sum = 0;

    for (uint64_t k = 0; k < len; k++) {
        if (x[k * step] > m) {
            m = x[k * step];
            best = k;
        }
    }
    if (code == SM_HARDMAX) {
        for (uint64_t k = 0; k < len; k++)
            y[k * step] = k == best ? 1.0f : 0.0f;
        return;
    }
    for (uint64_t k = 0; k < len; k++) {
        float e = expf(x[k * step] - m);

        y[k * step] = e;
        sum += e;
    }
    for (uint64_t k = 0; k < len; k++) {
        if (code == SM_LOGSOFTMAX)
            y[k * step] = (float)((double)x[k * step] - m - log(sum));
        else
            y[k * step] = (float)(y[k * step] / sum);
    }
}

enum qs_status
op_softmax(struct interp_call *call)
{
    struct axis_view v = { 0, 0, 0 };
    enum qs_status st = interp_need_float(call, 0);

    if (st == QS_OK)
        st = softmax_view(call, call->in[0], &v);
    if (st == QS_OK)
        st = interp_new_like_uninit(call, call->in[0], &call->out[0]);
    if (st != QS_OK)
        return st;
    for (uint64_t o = 0; o < v.outer; o++) {
        for (uint64_t i = 0; i < v.inner; i++) {
            uint64_t base = o * v.len * v.inner + i;

            softmax_line(call->op->arg, rt_f(call->in[0]) + base, rt_f(call->out[0]) + base,
                         v.len, v.inner);
        }
    }
    return QS_OK;
}

/* ---- TopK ---------------------------------------------------------------- */

/*
 * One element of a TopK line: the sort key is negated for "largest" so one ascending order
 * serves.
 */
struct topk_entry {
    double key;
    int64_t ikey;
    int64_t index;
};

/* Ascending key, then lower index first. */
static int
topk_compare_float(const void *pa, const void *pb)
{
    const struct topk_entry *a = pa, *b = pb;
    int c = a->key < b->key ? -1 : a->key > b->key;

    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int
topk_compare_int(const void *pa, const void *pb)
{
    const struct topk_entry *a = pa, *b = pb;
    int c = a->ikey < b->ikey ? -1 : a->ikey > b->ikey;

    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static enum qs_status
topk_outputs(struct interp_call *call, const struct qs_rt_tensor *x, int axis, int64_t k)
{
    int64_t dims[QS_RT_MAX_RANK];
    enum qs_status st;

    memcpy(dims, x->dims, sizeof(dims));
    dims[axis] = k;
    st = interp_new(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st == QS_OK && call->n_out > 1)
        st = interp_new(call, QS_DT_INT64, x->rank, dims, &call->out[1]);
    return st;
}

enum qs_status
op_topk(struct interp_call *call)
{
    struct axis_view v = { 0, 0, 0 };
    struct topk_entry *line;
    int64_t k;
    int axis, largest, is_float;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", -1), call->in[0]->rank, &axis);
    if (st == QS_OK && call->opset >= 10)
        st = interp_scalar_int(call, 1, -1, &k);
    else
        k = qs_node_attr_int(call->node, "k", -1);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    if (k < 0 || k > x->dims[axis])
        return interp_fail(call, QS_INVALID, "k %lld is out of range for axis length %lld",
                           (long long)k, (long long)x->dims[axis]);
    st = topk_outputs(call, x, axis, k);
    if (st != QS_OK)
        return st;

    largest = (int)qs_node_attr_int(call->node, "largest", 1);
    is_float = qs_rt_is_float(x->dtype);
    axis_view(x, axis, &v);
    line = qs_calloc(v.len ? v.len : 1, sizeof(*line));
    for (uint64_t o = 0; o < v.outer; o++) {
        for (uint64_t i = 0; i < v.inner; i++) {
            uint64_t base = o * v.len * v.inner + i, obase = o * (uint64_t)k * v.inner + i;

            for (uint64_t j = 0; j < v.len; j++) {
                line[j].index = (int64_t)j;
                if (is_float)
                    line[j].key = largest ? -(double)rt_f(x)[base + j * v.inner]
                                          : rt_f(x)[base + j * v.inner];
                else    /* ~v reverses the order of int64 values without overflow */
                    line[j].ikey = largest ? ~rt_i(x)[base + j * v.inner]
                                           : rt_i(x)[base + j * v.inner];
            }
            qsort(line, v.len, sizeof(*line), is_float ? topk_compare_float : topk_compare_int);
            for (int64_t j = 0; j < k; j++) {
                if (is_float)
                    rt_f(call->out[0])[obase + (uint64_t)j * v.inner] =
                        (float)(largest ? -line[j].key : line[j].key);
                else
                    rt_i(call->out[0])[obase + (uint64_t)j * v.inner] =
                        largest ? ~line[j].ikey : line[j].ikey;
                if (call->n_out > 1 && call->out[1])
                    rt_i(call->out[1])[obase + (uint64_t)j * v.inner] = line[j].index;
            }
        }
    }
    free(line);
    return QS_OK;
}

/* ---- CumSum -------------------------------------------------------------- */

enum qs_status
op_cumsum(struct interp_call *call)
{
    struct axis_view v = { 0, 0, 0 };
    int64_t axis_value;
    int axis, exclusive, reverse;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_scalar_int(call, 1, 0, &axis_value);
    if (st == QS_OK)
        st = interp_axis(call, axis_value, call->in[0]->rank, &axis);
    if (st == QS_OK)
        st = interp_new_like(call, call->in[0], &call->out[0]);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    exclusive = (int)qs_node_attr_int(call->node, "exclusive", 0);
    reverse = (int)qs_node_attr_int(call->node, "reverse", 0);
    axis_view(x, axis, &v);
    for (uint64_t o = 0; o < v.outer; o++) {
        for (uint64_t i = 0; i < v.inner; i++) {
            double acc = 0;
            int64_t iacc = 0;

            for (uint64_t j = 0; j < v.len; j++) {
                uint64_t k = reverse ? v.len - 1 - j : j;
                uint64_t at = o * v.len * v.inner + k * v.inner + i;

                if (qs_rt_is_float(x->dtype)) {
                    double cur = rt_f(x)[at];

                    rt_f(call->out[0])[at] = (float)(exclusive ? acc : acc + cur);
                    acc += cur;
                } else {
                    int64_t cur = rt_i(x)[at];

                    rt_i(call->out[0])[at] = exclusive ? iacc
                                                       : (int64_t)((uint64_t)iacc + (uint64_t)cur);
                    iacc = (int64_t)((uint64_t)iacc + (uint64_t)cur);
                }
            }
        }
    }
    return QS_OK;
}

/* ---- MeanVarianceNormalization ------------------------------------------ */

/*
 * (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) over "axes" (default 0, 2, 3), as the ONNX
 * function body.
 */
enum qs_status
op_mean_variance_normalization(struct interp_call *call)
{
    int64_t axes[QS_RT_MAX_RANK] = { 0, 2, 3 };
    const int64_t *v;
    ptrdiff_t n = qs_node_attr_ints(call->node, "axes", &v);
    int reduced[QS_RT_MAX_RANK] = { 0 }, a;
    int64_t strides[QS_RT_MAX_RANK], stat_strides[QS_RT_MAX_RANK], stat_dims[QS_RT_MAX_RANK];
    double *sum, *sq;
    uint64_t stats = 1, group;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_float(call, 0);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    if (n > x->rank)
        return interp_fail(call, QS_INVALID, "too many axes");
    if (n >= 0)
        memcpy(axes, v, (size_t)n * sizeof(*v));
    else
        n = x->rank < 4 ? 0 : 3;
    for (ptrdiff_t i = 0; i < n; i++) {
        st = interp_axis(call, axes[i], x->rank, &a);
        if (st != QS_OK)
            return st;
        reduced[a] = 1;
    }
    st = interp_new_like(call, x, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int d = 0; d < x->rank; d++) {
        stat_dims[d] = reduced[d] ? 1 : x->dims[d];
        stats *= (uint64_t)stat_dims[d];
    }
    group = stats ? x->count / stats : 0;
    rt_strides(x->rank, x->dims, strides);
    rt_strides(x->rank, stat_dims, stat_strides);
    sum = qs_calloc(stats ? stats : 1, sizeof(*sum));
    sq = qs_calloc(stats ? stats : 1, sizeof(*sq));
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < x->count; i++) {
            uint64_t rem = i, s = 0;
            double xv = rt_f(x)[i];

            for (int d = 0; d < x->rank; d++) {
                uint64_t c = rem / (uint64_t)strides[d];

                rem %= (uint64_t)strides[d];
                s += reduced[d] ? 0 : c * (uint64_t)stat_strides[d];
            }
            if (pass == 0) {
                sum[s] += xv;
                sq[s] += xv * xv;
            } else {
                double mean = sum[s] / (double)group, var = sq[s] / (double)group - mean * mean;

                rt_f(call->out[0])[i] = (float)((xv - mean) / (sqrt(var > 0 ? var : 0) + 1e-9));
            }
        }
    }
    free(sum);
    free(sq);
    return QS_OK;
}
