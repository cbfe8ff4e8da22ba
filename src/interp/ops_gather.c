/*
 * Indexing ops: Gather, GatherElements, GatherND, ScatterElements (and
 * the older Scatter), ScatterND, OneHot, NonZero, Compress, Trilu and
 * ReverseSequence.  Every index is checked against its axis; negative
 * indices count from the end where the op allows them.
 */
#include "config.h"
#include "interp/internal.h"

#include <string.h>

#include "dtype.h"

/* Index "v" along an axis of "dim", negative counting from the end; -1 when out of range. */
static int64_t
fix_index(int64_t v, int64_t dim)
{
    if (v < 0)
        v += dim;
    return v >= 0 && v < dim ? v : -1;
}

static enum qs_status
need_int_indices(struct interp_call *call, size_t index)
{
    if (index >= call->n_in || !call->in[index])
        return interp_fail(call, QS_INVALID, "input %zu is missing", index);
    if (!qs_rt_is_int(call->in[index]->dtype))
        return interp_fail(call, QS_INVALID, "input %zu must hold integer indices", index);
    return QS_OK;
}

static void
copy_elements(struct qs_rt_tensor *dst, uint64_t at, const struct qs_rt_tensor *src, uint64_t from,
              uint64_t n)
{
    int esize = rt_esize(src);

    memcpy((char *)dst->data + at * (uint64_t)esize,
           (const char *)src->data + from * (uint64_t)esize, (size_t)(n * (uint64_t)esize));
}

enum qs_status
op_gather(struct interp_call *call)
{
    const struct qs_rt_tensor *data, *idx;
    int64_t dims[QS_RT_MAX_RANK];
    uint64_t outer, inner, n_idx;
    int axis, rank = 0;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    data = call->in[0];
    idx = call->in[1];
    if (data->rank + idx->rank - 1 > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "output rank exceeds %d", QS_RT_MAX_RANK);
    for (int d = 0; d < axis; d++)
        dims[rank++] = data->dims[d];
    for (int d = 0; d < idx->rank; d++)
        dims[rank++] = idx->dims[d];
    for (int d = axis + 1; d < data->rank; d++)
        dims[rank++] = data->dims[d];
    st = interp_new_uninit(call, data->dtype, rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    outer = rt_span(data->dims, 0, axis);
    inner = rt_span(data->dims, axis + 1, data->rank);
    n_idx = idx->count;
    for (uint64_t i = 0; i < n_idx; i++) {
        int64_t k = fix_index(rt_i(idx)[i], data->dims[axis]);

        if (k < 0)
            return interp_fail(call, QS_INVALID, "index %lld is out of range for axis length %lld",
                               (long long)rt_i(idx)[i], (long long)data->dims[axis]);
        for (uint64_t o = 0; o < outer; o++)
            copy_elements(call->out[0], (o * n_idx + i) * inner, data,
                          (o * (uint64_t)data->dims[axis] + (uint64_t)k) * inner, inner);
    }
    return QS_OK;
}

/* Advance the row-major coordinate "coord" within "shape". */
static void
next_coord(int64_t *coord, const int64_t *shape, int rank)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++coord[d] < shape[d])
            return;
        coord[d] = 0;
    }
}

enum qs_status
op_gather_elements(struct interp_call *call)
{
    int64_t c[QS_RT_MAX_RANK] = { 0 };
    const struct qs_rt_tensor *data, *idx;
    int64_t strides[QS_RT_MAX_RANK];
    int axis;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    data = call->in[0];
    idx = call->in[1];
    if (idx->rank != data->rank)
        return interp_fail(call, QS_INVALID, "indices and data differ in rank");
    st = interp_new(call, data->dtype, idx->rank, idx->dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    rt_strides(data->rank, data->dims, strides);
    for (uint64_t pos = 0; pos < idx->count; pos++, next_coord(c, idx->dims, idx->rank)) {
        int64_t k = fix_index(rt_i(idx)[pos], data->dims[axis]), off = 0;

        if (k < 0)
            return interp_fail(call, QS_INVALID, "index %lld is out of range",
                               (long long)rt_i(idx)[pos]);
        for (int d = 0; d < data->rank; d++) {
            if (d != axis && c[d] >= data->dims[d])
                return interp_fail(call, QS_INVALID, "indices exceed the data shape");
            off += (d == axis ? k : c[d]) * strides[d];
        }
        copy_elements(call->out[0], pos, data, (uint64_t)off, 1);
    }
    return QS_OK;
}

/*
 * Add to "*off" the offset in "data" of the index tuple "tuple" (k entries) after "batch_dims"
 * axes.
 */
static enum qs_status
nd_offset(struct interp_call *call, const struct qs_rt_tensor *data, const int64_t *tuple,
          int64_t k, int batch_dims, const int64_t *strides, int64_t *off)
{
    for (int64_t j = 0; j < k; j++) {
        int d = batch_dims + (int)j;
        int64_t v = fix_index(tuple[j], data->dims[d]);

        if (v < 0)
            return interp_fail(call, QS_INVALID, "index %lld is out of range for axis %d",
                               (long long)tuple[j], d);
        *off += v * strides[d];
    }
    return QS_OK;
}

enum qs_status
op_gather_nd(struct interp_call *call)
{
    const struct qs_rt_tensor *data, *idx;
    int64_t dims[QS_RT_MAX_RANK], strides[QS_RT_MAX_RANK], k;
    int b = (int)qs_node_attr_int(call->node, "batch_dims", 0), rank = 0;
    uint64_t tuples, slice, batches, per_batch;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st != QS_OK)
        return st;
    data = call->in[0];
    idx = call->in[1];
    k = idx->rank > 0 ? idx->dims[idx->rank - 1] : 0;
    if (idx->rank < 1 || b < 0 || b >= idx->rank || b + k > data->rank)
        return interp_fail(call, QS_INVALID,
                           "indices shape does not fit the data with batch_dims %d", b);
    for (int d = 0; d < idx->rank - 1; d++)
        dims[rank++] = idx->dims[d];
    for (int d = b + (int)k; d < data->rank; d++)
        dims[rank++] = data->dims[d];
    st = interp_new(call, data->dtype, rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    rt_strides(data->rank, data->dims, strides);
    tuples = k ? idx->count / (uint64_t)k : rt_span(idx->dims, 0, idx->rank - 1);
    slice = rt_span(data->dims, b + (int)k, data->rank);
    batches = rt_span(idx->dims, 0, b);
    per_batch = batches ? tuples / batches : 0;
    for (uint64_t t = 0; t < tuples; t++) {
        int64_t off = (int64_t)(per_batch ? t / per_batch : 0) * (b > 0 ? strides[b - 1] : 0);

        st = nd_offset(call, data, rt_i(idx) + t * (uint64_t)k, k, b, strides, &off);
        if (st != QS_OK)
            return st;
        copy_elements(call->out[0], t * slice, data, (uint64_t)off, slice);
    }
    return QS_OK;
}

enum scatter_reduction { SCATTER_NONE, SCATTER_ADD, SCATTER_MUL, SCATTER_MAX, SCATTER_MIN };

static enum scatter_reduction
scatter_reduction(const struct qs_node *node)
{
    size_t len;
    const char *s = qs_node_attr_string(node, "reduction", "none", &len);

    if (len == 3 && memcmp(s, "add", 3) == 0)
        return SCATTER_ADD;
    if (len == 3 && memcmp(s, "mul", 3) == 0)
        return SCATTER_MUL;
    if (len == 3 && memcmp(s, "max", 3) == 0)
        return SCATTER_MAX;
    if (len == 3 && memcmp(s, "min", 3) == 0)
        return SCATTER_MIN;
    return SCATTER_NONE;
}

static float
reduce_float(enum scatter_reduction r, float old, float u)
{
    switch (r) {
    case SCATTER_ADD: return old + u;
    case SCATTER_MUL: return old * u;
    case SCATTER_MAX: return u > old ? u : old;
    case SCATTER_MIN: return u < old ? u : old;
    default:          return u;
    }
}

static int64_t
reduce_int(enum scatter_reduction r, int64_t old, int64_t u)
{
    switch (r) {
    case SCATTER_ADD: return (int64_t)((uint64_t)old + (uint64_t)u);
    case SCATTER_MUL: return (int64_t)((uint64_t)old * (uint64_t)u);
    case SCATTER_MAX: return u > old ? u : old;
    case SCATTER_MIN: return u < old ? u : old;
    default:          return u;
    }
}

static void
scatter_one(struct qs_rt_tensor *out, uint64_t at, const struct qs_rt_tensor *upd, uint64_t from,
            enum scatter_reduction r)
{
    if (qs_rt_is_float(out->dtype))
        rt_f(out)[at] = reduce_float(r, rt_f(out)[at], rt_f(upd)[from]);
    else
        rt_i(out)[at] = reduce_int(r, rt_i(out)[at], rt_i(upd)[from]);
}

enum qs_status
op_scatter_elements(struct interp_call *call)
{
    int64_t c[QS_RT_MAX_RANK] = { 0 };
    const struct qs_rt_tensor *data, *idx, *upd;
    int64_t strides[QS_RT_MAX_RANK];
    enum scatter_reduction r = scatter_reduction(call->node);
    int axis;
    enum qs_status st = interp_need_inputs(call, 3);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    data = call->in[0];
    idx = call->in[1];
    upd = call->in[2];
    if (idx->rank != data->rank || upd->count != idx->count || upd->dtype != data->dtype)
        return interp_fail(call, QS_INVALID,
                           "indices and updates must match each other and the data rank");
    st = interp_convert(call, data, data->dtype, &call->out[0]);
    if (st != QS_OK)
        return st;

    rt_strides(data->rank, data->dims, strides);
    for (uint64_t pos = 0; pos < idx->count; pos++, next_coord(c, idx->dims, idx->rank)) {
        int64_t k = fix_index(rt_i(idx)[pos], data->dims[axis]), off = 0;

        if (k < 0)
            return interp_fail(call, QS_INVALID, "index %lld is out of range",
                               (long long)rt_i(idx)[pos]);
        for (int d = 0; d < data->rank; d++) {
            if (d != axis && c[d] >= data->dims[d])
                return interp_fail(call, QS_INVALID, "indices exceed the data shape");
            off += (d == axis ? k : c[d]) * strides[d];
        }
        scatter_one(call->out[0], (uint64_t)off, upd, pos, r);
    }
    return QS_OK;
}

enum qs_status
op_scatter_nd(struct interp_call *call)
{
    const struct qs_rt_tensor *data, *idx, *upd;
    int64_t strides[QS_RT_MAX_RANK], k;
    uint64_t tuples, slice;
    enum scatter_reduction r = scatter_reduction(call->node);
    enum qs_status st = interp_need_inputs(call, 3);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st != QS_OK)
        return st;
    data = call->in[0];
    idx = call->in[1];
    upd = call->in[2];
    k = idx->rank > 0 ? idx->dims[idx->rank - 1] : 0;
    if (idx->rank < 1 || k > data->rank || upd->dtype != data->dtype)
        return interp_fail(call, QS_INVALID, "indices do not fit the data");
    tuples = rt_span(idx->dims, 0, idx->rank - 1);
    slice = rt_span(data->dims, (int)k, data->rank);
    if (upd->count != tuples * slice)
        return interp_fail(call, QS_INVALID, "updates have %llu elements, expected %llu",
                           (unsigned long long)upd->count, (unsigned long long)(tuples * slice));
    st = interp_convert(call, data, data->dtype, &call->out[0]);
    if (st != QS_OK)
        return st;

    rt_strides(data->rank, data->dims, strides);
    for (uint64_t t = 0; t < tuples; t++) {
        int64_t off = 0;

        st = nd_offset(call, data, rt_i(idx) + t * (uint64_t)k, k, 0, strides, &off);
        if (st != QS_OK)
            return st;
        for (uint64_t i = 0; i < slice; i++)
            scatter_one(call->out[0], (uint64_t)off + i, upd, t * slice + i, r);
    }
    return QS_OK;
}

enum qs_status
op_one_hot(struct interp_call *call)
{
    const struct qs_rt_tensor *idx, *values;
    int64_t dims[QS_RT_MAX_RANK], depth;
    float fdepth;
    uint64_t outer, inner;
    int axis, rank;
    enum qs_status st = interp_need_inputs(call, 3);

    if (st == QS_OK)
        st = interp_scalar_float(call, 1, 0, &fdepth);
    if (st != QS_OK)
        return st;
    idx = call->in[0];
    values = call->in[2];
    if (!(fdepth >= 1 && fdepth <= (float)INT32_MAX))
        return interp_fail(call, QS_INVALID, "depth %g is out of range", (double)fdepth);
    depth = (int64_t)fdepth;
    rank = idx->rank + 1;
    if (values->count != 2 || depth < 1 || rank > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "values must have 2 elements and depth be positive");
    st = interp_axis(call, qs_node_attr_int(call->node, "axis", -1), rank, &axis);
    if (st != QS_OK)
        return st;
    for (int d = 0, k = 0; d < rank; d++)
        dims[d] = d == axis ? depth : idx->dims[k++];
    st = interp_new(call, values->dtype, rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    outer = rt_span(idx->dims, 0, axis);
    inner = rt_span(idx->dims, axis, idx->rank);
    for (uint64_t o = 0; o < outer; o++) {
        for (int64_t c = 0; c < depth; c++) {
            for (uint64_t i = 0; i < inner; i++) {
                double raw = qs_rt_is_float(idx->dtype) ? rt_f(idx)[o * inner + i]
                                                         : (double)rt_i(idx)[o * inner + i];
                int64_t v = raw > -1e15 && raw < 1e15 ? (int64_t)raw : -(int64_t)INT32_MAX * 4;
                uint64_t at = (o * (uint64_t)depth + (uint64_t)c) * inner + i;

                v = v < 0 ? v + depth : v;
                copy_elements(call->out[0], at, values, v == c ? 1 : 0, 1);
            }
        }
    }
    return QS_OK;
}

static int
is_nonzero(const struct qs_rt_tensor *x, uint64_t i)
{
    return qs_rt_is_float(x->dtype) ? rt_f(x)[i] != 0 : rt_i(x)[i] != 0;
}

enum qs_status
op_nonzero(struct interp_call *call)
{
    int64_t c[QS_RT_MAX_RANK] = { 0 };
    const struct qs_rt_tensor *x;
    int64_t dims[2], k = 0;
    uint64_t nnz = 0;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    for (uint64_t i = 0; i < x->count; i++)
        nnz += is_nonzero(x, i);
    dims[0] = x->rank;
    dims[1] = (int64_t)nnz;
    st = interp_new(call, QS_DT_INT64, 2, dims, &call->out[0]);
    if (st != QS_OK)
        return st;
    for (uint64_t pos = 0; pos < x->count; pos++, next_coord(c, x->dims, x->rank)) {
        if (is_nonzero(x, pos)) {
            for (int d = 0; d < x->rank; d++)
                rt_i(call->out[0])[(uint64_t)d * nnz + (uint64_t)k] = c[d];
            k++;
        }
    }
    return QS_OK;
}

enum qs_status
op_compress(struct interp_call *call)
{
    const struct qs_rt_tensor *x, *cond;
    int64_t dims[QS_RT_MAX_RANK], kept = 0;
    uint64_t outer, inner, len, at = 0;
    int axis = 0, flat = !qs_node_attr(call->node, "axis");
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK && !flat)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    cond = call->in[1];
    len = flat ? x->count : (uint64_t)x->dims[axis];
    if (cond->count > len)
        return interp_fail(call, QS_INVALID, "condition is longer than the axis");
    for (uint64_t i = 0; i < cond->count; i++)
        kept += is_nonzero(cond, i);
    if (flat) {
        dims[0] = kept;
        st = interp_new(call, x->dtype, 1, dims, &call->out[0]);
    } else {
        memcpy(dims, x->dims, sizeof(dims));
        dims[axis] = kept;
        st = interp_new(call, x->dtype, x->rank, dims, &call->out[0]);
    }
    if (st != QS_OK)
        return st;

    outer = flat ? 1 : rt_span(x->dims, 0, axis);
    inner = flat ? 1 : rt_span(x->dims, axis + 1, x->rank);
    for (uint64_t o = 0; o < outer; o++) {
        for (uint64_t i = 0; i < cond->count; i++) {
            if (!is_nonzero(cond, i))
                continue;
            copy_elements(call->out[0], at, x, (o * len + i) * inner, inner);
            at += inner;
        }
    }
    return QS_OK;
}

enum qs_status
op_trilu(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t k = 0, rows, cols;
    int upper = (int)qs_node_attr_int(call->node, "upper", 1);
    enum qs_status st = interp_need_rank(call, 0, 2, QS_RT_MAX_RANK);

    if (st == QS_OK)
        st = interp_scalar_int(call, 1, 0, &k);
    if (st == QS_OK)
        st = interp_convert(call, call->in[0], call->in[0]->dtype, &call->out[0]);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    rows = x->dims[x->rank - 2];
    cols = x->dims[x->rank - 1];
    for (uint64_t i = 0; i < x->count; i++) {
        int64_t c = (int64_t)(i % (uint64_t)cols);
        int64_t r = (int64_t)(i / (uint64_t)cols % (uint64_t)rows);
        int keep = upper ? c - r >= k : c - r <= k;

        if (keep)
            continue;
        if (qs_rt_is_float(x->dtype))
            rt_f(call->out[0])[i] = 0;
        else
            rt_i(call->out[0])[i] = 0;
    }
    return QS_OK;
}

enum qs_status
op_reverse_sequence(struct interp_call *call)
{
    int64_t c[QS_RT_MAX_RANK] = { 0 };
    const struct qs_rt_tensor *x, *lens;
    int64_t strides[QS_RT_MAX_RANK];
    int batch_axis = (int)qs_node_attr_int(call->node, "batch_axis", 1);
    int time_axis = (int)qs_node_attr_int(call->node, "time_axis", 0);
    enum qs_status st = interp_need_rank(call, 0, 2, QS_RT_MAX_RANK);

    if (st == QS_OK)
        st = need_int_indices(call, 1);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    lens = call->in[1];
    if (batch_axis < 0 || batch_axis > 1 || time_axis < 0 || time_axis > 1
        || batch_axis == time_axis || lens->count != (uint64_t)x->dims[batch_axis])
        return interp_fail(call, QS_INVALID,
                           "batch_axis, time_axis or sequence_lens do not fit the input");
    st = interp_new_like(call, x, &call->out[0]);
    if (st != QS_OK)
        return st;

    rt_strides(x->rank, x->dims, strides);
    for (uint64_t pos = 0; pos < x->count; pos++, next_coord(c, x->dims, x->rank)) {
        int64_t len = rt_i(lens)[c[batch_axis]], t = c[time_axis];
        int64_t src = (int64_t)pos;

        if (len > x->dims[time_axis] || len < 0)
            return interp_fail(call, QS_INVALID, "sequence length %lld is out of range",
                               (long long)len);
        if (t < len)
            src += (len - 1 - 2 * t) * strides[time_axis];
        copy_elements(call->out[0], pos, x, (uint64_t)src, 1);
    }
    return QS_OK;
}
