/*
 * Ops that move data without arithmetic: views (Identity, Reshape,
 * Flatten, Squeeze, Unsqueeze), shape queries, Transpose, Expand, Tile,
 * Concat, Split, Slice, Pad, DepthToSpace and SpaceToDepth.  Attributes
 * that became inputs (Squeeze/Unsqueeze axes at opset 13, Slice at 10,
 * Pad at 11, Split at 13) are read from where the node's opset puts them.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/*
 * Axes from attribute "name" before "input_opset", else from input
 * "index".  "*given" is 0 when neither is present.
 */
static enum qs_status
read_axes(struct interp_call *call, const char *name, int64_t input_opset, size_t index,
          int64_t *axes, size_t *n, int *given)
{
    const int64_t *values;
    ptrdiff_t count;

    *n = 0;
    *given = 0;
    if (call->opset < input_opset) {
        count = qs_node_attr_ints(call->node, name, &values);
        if (count < 0)
            return QS_OK;
        if (count > QS_RT_MAX_RANK)
            return interp_fail(call, QS_INVALID, "attribute %s has too many entries", name);
        memcpy(axes, values, (size_t)count * sizeof(*axes));
        *n = (size_t)count;
        *given = 1;
        return QS_OK;
    }
    if (index >= call->n_in || !call->in[index])
        return QS_OK;
    *given = 1;
    return interp_read_ints(call, index, axes, QS_RT_MAX_RANK, n);
}

/* Normalize "n" axes against "rank" and reject repeats. */
static enum qs_status
normalize_axes(struct interp_call *call, int64_t *axes, size_t n, int rank)
{
    int seen[QS_RT_MAX_RANK] = { 0 }, a;
    enum qs_status st;

    for (size_t i = 0; i < n; i++) {
        st = interp_axis(call, axes[i], rank, &a);
        if (st != QS_OK)
            return st;
        if (seen[a]++)
            return interp_fail(call, QS_INVALID, "axis %lld is repeated", (long long)axes[i]);
        axes[i] = a;
    }
    return QS_OK;
}

enum qs_status
op_identity(struct interp_call *call)
{
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    call->out[0] = qs_rt_ref(call->in[0]);
    return QS_OK;
}

/* Reshape: 0 copies the input dim (unless allowzero), one -1 is inferred. */
static enum qs_status
reshape_dims(struct interp_call *call, const struct qs_rt_tensor *x, int64_t *shape, size_t n)
{
    int allowzero = (int)qs_node_attr_int(call->node, "allowzero", 0);
    uint64_t known = 1;
    int infer = -1;

    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return interp_fail(call, QS_INVALID,
                                   "shape entry %zu is 0 but the input has rank %d", i, x->rank);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1 && infer < 0) {
            infer = (int)i;
            continue;
        }
        if (shape[i] < 0)
            return interp_fail(call, QS_INVALID, "shape entry %zu is %lld", i,
                               (long long)shape[i]);
        if (qs_mul_overflow_u64(known, (uint64_t)shape[i], &known))
            return interp_fail(call, QS_INVALID, "shape element count overflows");
    }
    if (infer >= 0) {
        if (known == 0 || x->count % known != 0)
            return interp_fail(call, QS_INVALID,
                               "cannot infer dim %d: %llu elements do not divide by %llu",
                               infer, (unsigned long long)x->count, (unsigned long long)known);
        shape[infer] = (int64_t)(x->count / known);
    }
    return QS_OK;
}

enum qs_status
op_reshape(struct interp_call *call)
{
    int64_t shape[QS_RT_MAX_RANK];
    const int64_t *attr;
    size_t n = 0;
    ptrdiff_t count;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    if (call->opset < 5) {
        count = qs_node_attr_ints(call->node, "shape", &attr);
        if (count < 0 || count > QS_RT_MAX_RANK)
            return interp_fail(call, QS_INVALID, "attribute shape is missing or too long");
        memcpy(shape, attr, (size_t)count * sizeof(*shape));
        n = (size_t)count;
    } else {
        st = interp_need_inputs(call, 2);
        if (st == QS_OK)
            st = interp_read_ints(call, 1, shape, QS_RT_MAX_RANK, &n);
    }
    if (st == QS_OK)
        st = reshape_dims(call, call->in[0], shape, n);
    if (st != QS_OK)
        return st;
    return interp_view(call, call->in[0], (int)n, shape, &call->out[0]);
}

enum qs_status
op_flatten(struct interp_call *call)
{
    int64_t dims[2];
    int64_t axis;
    enum qs_status st = interp_need_inputs(call, 1);
    const struct qs_rt_tensor *x;

    if (st != QS_OK)
        return st;
    x = call->in[0];
    axis = qs_node_attr_int(call->node, "axis", 1);
    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return interp_fail(call, QS_INVALID, "axis is out of range for rank %d", x->rank);
    dims[0] = (int64_t)rt_span(x->dims, 0, (int)axis);
    dims[1] = (int64_t)rt_span(x->dims, (int)axis, x->rank);
    return interp_view(call, call->in[0], 2, dims, &call->out[0]);
}

enum qs_status
op_squeeze(struct interp_call *call)
{
    int64_t axes[QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK];
    int drop[QS_RT_MAX_RANK] = { 0 }, rank = 0, given;
    size_t n;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = read_axes(call, "axes", 13, 1, axes, &n, &given);
    if (st == QS_OK)
        st = normalize_axes(call, axes, n, call->in[0]->rank);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    for (size_t i = 0; i < n; i++) {
        if (x->dims[axes[i]] != 1)
            return interp_fail(call, QS_INVALID, "cannot squeeze axis %lld of size %lld",
                               (long long)axes[i], (long long)x->dims[axes[i]]);
        drop[axes[i]] = 1;
    }
    for (int i = 0; i < x->rank; i++) {
        if (!(n > 0 ? drop[i] : x->dims[i] == 1))
            dims[rank++] = x->dims[i];
    }
    return interp_view(call, call->in[0], rank, dims, &call->out[0]);
}

enum qs_status
op_unsqueeze(struct interp_call *call)
{
    int64_t axes[QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK];
    int insert[QS_RT_MAX_RANK] = { 0 }, rank, given;
    size_t n;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = read_axes(call, "axes", 13, 1, axes, &n, &given);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    rank = x->rank + (int)n;
    if (!given || rank > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "axes are missing or the rank exceeds %d",
                           QS_RT_MAX_RANK);
    st = normalize_axes(call, axes, n, rank);
    if (st != QS_OK)
        return st;

    for (size_t i = 0; i < n; i++)
        insert[axes[i]] = 1;
    for (int i = 0, k = 0; i < rank; i++)
        dims[i] = insert[i] ? 1 : x->dims[k++];
    return interp_view(call, call->in[0], rank, dims, &call->out[0]);
}

enum qs_status
op_shape(struct interp_call *call)
{
    int64_t start, end, n;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    start = qs_node_attr_int(call->node, "start", 0);
    end = qs_node_attr_int(call->node, "end", x->rank);
    start = start < 0 ? start + x->rank : start;
    end = end < 0 ? end + x->rank : end;
    start = start < 0 ? 0 : start > x->rank ? x->rank : start;
    end = end < 0 ? 0 : end > x->rank ? x->rank : end;
    n = end > start ? end - start : 0;

    st = interp_new(call, QS_DT_INT64, 1, &n, &call->out[0]);
    if (st != QS_OK)
        return st;
    for (int64_t i = 0; i < n; i++)
        rt_i(call->out[0])[i] = x->dims[start + i];
    return QS_OK;
}

enum qs_status
op_size(struct interp_call *call)
{
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_new(call, QS_DT_INT64, 0, NULL, &call->out[0]);
    if (st == QS_OK)
        rt_i(call->out[0])[0] = (int64_t)call->in[0]->count;
    return st;
}

enum qs_status
op_transpose(struct interp_call *call)
{
    int64_t perm[QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK], strides[QS_RT_MAX_RANK];
    int64_t src_strides[QS_RT_MAX_RANK];
    const int64_t *attr;
    ptrdiff_t n;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    n = qs_node_attr_ints(call->node, "perm", &attr);
    if (n >= 0 && n != x->rank)
        return interp_fail(call, QS_INVALID, "perm has %td entries for rank %d", n, x->rank);
    for (int i = 0; i < x->rank; i++)
        perm[i] = n >= 0 ? attr[i] : x->rank - 1 - i;
    st = normalize_axes(call, perm, (size_t)x->rank, x->rank);
    if (st != QS_OK)
        return st;

    rt_strides(x->rank, x->dims, strides);
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[perm[i]];
        src_strides[i] = strides[perm[i]];
    }
    st = interp_new_uninit(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st == QS_OK)
        rt_copy_strided(call->out[0]->data, x->data, rt_esize(x), x->rank, dims, src_strides, 0);
    return st;
}

enum qs_status
op_expand(struct interp_call *call)
{
    int64_t shape[QS_RT_MAX_RANK];
    struct qs_rt_tensor *target = NULL;
    const struct qs_rt_tensor *pair[2];
    struct interp_bcast bc;
    int64_t strides[QS_RT_MAX_RANK] = { 0 }, s = 1;
    size_t n;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_read_ints(call, 1, shape, QS_RT_MAX_RANK, &n);
    if (st == QS_OK)
        st = qs_rt_new(QS_DT_BOOL, 0, NULL, &target);
    if (st != QS_OK)
        return st == QS_INVALID ? st : interp_fail(call, st, "cannot create the target shape");

    /* Only the dims of "target" matter to the broadcast. */
    x = call->in[0];
    target->rank = (int)n;
    memcpy(target->dims, shape, n * sizeof(*shape));
    pair[0] = x;
    pair[1] = target;
    st = interp_bcast_init(call, &bc, 2, pair);
    qs_rt_unref(target);
    if (st == QS_OK)
        st = interp_new_uninit(call, x->dtype, bc.rank, bc.dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int i = x->rank - 1; i >= 0; i--) {
        strides[bc.rank - x->rank + i] = x->dims[i] == 1 ? 0 : s;
        s *= x->dims[i];
    }
    rt_copy_strided(call->out[0]->data, x->data, rt_esize(x), bc.rank, bc.dims, strides, 0);
    return QS_OK;
}

/*
 * Copy with a source index map per axis: output element (o0, o1, ...)
 * reads source (maps[0][o0], maps[1][o1], ...), or is "fill" when any
 * map entry is -1.  Used by Tile and Pad.
 */
static void
copy_mapped(struct qs_rt_tensor *out, const struct qs_rt_tensor *src, int64_t *const *maps,
            float fill_f, int64_t fill_i)
{
    int64_t strides[QS_RT_MAX_RANK], idx[QS_RT_MAX_RANK] = { 0 };
    int rank = out->rank, inner = rank - 1, d;
    const int64_t *imap;
    uint64_t o = 0;

    if (out->count == 0)
        return;
    rt_strides(src->rank, src->dims, strides);
    if (rank == 0) {
        memcpy(out->data, src->data, (size_t)rt_esize(src));
        return;
    }
    imap = maps[inner];
    for (;;) {
        int64_t base = 0;
        int outside = 0;

        for (d = 0; d < inner; d++) {
            if (maps[d][idx[d]] < 0)
                outside = 1;
            base += maps[d][idx[d]] * strides[d];
        }
        for (int64_t i = 0; i < out->dims[inner]; i++, o++) {
            int miss = outside || imap[i] < 0;

            if (qs_rt_is_float(out->dtype))
                rt_f(out)[o] = miss ? fill_f : rt_f(src)[base + imap[i]];
            else
                rt_i(out)[o] = miss ? fill_i : rt_i(src)[base + imap[i]];
        }
        for (d = inner - 1; d >= 0; d--) {
            if (++idx[d] < out->dims[d])
                break;
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

static void
free_maps(int64_t **maps, int rank)
{
    for (int i = 0; i < rank; i++)
        free(maps[i]);
}

enum qs_status
op_tile(struct interp_call *call)
{
    int64_t repeats[QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK];
    int64_t *maps[QS_RT_MAX_RANK] = { 0 };
    const struct qs_rt_tensor *x;
    size_t n;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_read_ints(call, 1, repeats, QS_RT_MAX_RANK, &n);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    if ((int)n != x->rank)
        return interp_fail(call, QS_INVALID, "repeats has %zu entries for rank %d", n, x->rank);
    for (int i = 0; i < x->rank; i++) {
        if (repeats[i] < 0 || __builtin_mul_overflow(x->dims[i], repeats[i], &dims[i]))
            return interp_fail(call, QS_INVALID, "repeat %lld of axis %d is invalid",
                               (long long)repeats[i], i);
    }
    st = interp_new_uninit(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int i = 0; i < x->rank; i++) {
        maps[i] = qs_calloc(dims[i] ? (size_t)dims[i] : 1, sizeof(**maps));
        for (int64_t o = 0; o < dims[i]; o++)
            maps[i][o] = o % x->dims[i];
    }
    copy_mapped(call->out[0], x, maps, 0, 0);
    free_maps(maps, x->rank);
    return QS_OK;
}

/* ---- Concat and Split --------------------------------------------------- */

static enum qs_status
concat_shape(struct interp_call *call, int axis, int64_t *dims)
{
    const struct qs_rt_tensor *first = call->in[0];

    memcpy(dims, first->dims, sizeof(first->dims));
    dims[axis] = 0;
    for (size_t k = 0; k < call->n_in; k++) {
        const struct qs_rt_tensor *t = call->in[k];

        if (t->rank != first->rank || t->dtype != first->dtype)
            return interp_fail(call, QS_INVALID,
                               "input %zu differs in rank or type from input 0", k);
        for (int d = 0; d < t->rank; d++) {
            if (d != axis && t->dims[d] != first->dims[d])
                return interp_fail(call, QS_INVALID,
                                   "input %zu has %lld in dim %d, input 0 has %lld",
                                   k, (long long)t->dims[d], d, (long long)first->dims[d]);
        }
        if (__builtin_add_overflow(dims[axis], t->dims[axis], &dims[axis]))
            return interp_fail(call, QS_INVALID, "concatenated size overflows");
    }
    return QS_OK;
}

enum qs_status
op_concat(struct interp_call *call)
{
    int64_t dims[QS_RT_MAX_RANK];
    uint64_t outer, out_row, offset = 0;
    int axis, esize;
    enum qs_status st = interp_need_inputs(call, call->n_in ? call->n_in : 1);

    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", call->opset < 4 ? 1 : 0),
                         call->in[0]->rank, &axis);
    if (st == QS_OK)
        st = concat_shape(call, axis, dims);
    if (st == QS_OK)
        st = interp_new_uninit(call, call->in[0]->dtype, call->in[0]->rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    esize = rt_esize(call->in[0]);
    outer = rt_span(dims, 0, axis);
    out_row = rt_span(dims, axis, call->in[0]->rank);
    for (size_t k = 0; k < call->n_in; k++) {
        const struct qs_rt_tensor *t = call->in[k];
        uint64_t row = rt_span(t->dims, axis, t->rank);

        for (uint64_t o = 0; o < outer && row > 0; o++)
            memcpy((char *)call->out[0]->data + (o * out_row + offset) * (uint64_t)esize,
                   (const char *)t->data + o * row * (uint64_t)esize,
                   (size_t)(row * (uint64_t)esize));
        offset += row;
    }
    return QS_OK;
}

/* Split sizes: the "split" attribute or input, num_outputs, or equal parts. */
static enum qs_status
split_sizes(struct interp_call *call, int64_t dim, int64_t *sizes)
{
    const int64_t *attr;
    ptrdiff_t n = -1;
    size_t count;
    int64_t total = 0, part;
    enum qs_status st;

    if (call->opset < 13) {
        n = qs_node_attr_ints(call->node, "split", &attr);
        if (n >= 0 && (size_t)n == call->n_out)
            memcpy(sizes, attr, (size_t)n * sizeof(*sizes));
    } else if (call->n_in > 1 && call->in[1]) {
        st = interp_read_ints(call, 1, sizes, call->n_out, &count);
        if (st != QS_OK)
            return st;
        n = (ptrdiff_t)count;
    }
    if (n >= 0) {
        for (size_t i = 0; i < call->n_out; i++)
            total += (size_t)n == call->n_out && sizes[i] >= 0 ? sizes[i] : -dim - 1;
        if ((size_t)n != call->n_out || total != dim)
            return interp_fail(call, QS_INVALID, "split sizes do not add up to %lld in %zu parts",
                               (long long)dim, call->n_out);
        return QS_OK;
    }

    part = call->opset >= 18 ? (dim + (int64_t)call->n_out - 1) / (int64_t)call->n_out
                             : dim / (int64_t)call->n_out;
    if (call->opset < 18 && dim % (int64_t)call->n_out != 0)
        return interp_fail(call, QS_INVALID, "dim %lld does not split into %zu equal parts",
                           (long long)dim, call->n_out);
    for (size_t i = 0; i < call->n_out; i++) {
        sizes[i] = dim - total < part ? dim - total : part;
        total += sizes[i];
    }
    return QS_OK;
}

enum qs_status
op_split(struct interp_call *call)
{
    int64_t *sizes, dims[QS_RT_MAX_RANK], offset = 0;
    const struct qs_rt_tensor *x;
    uint64_t outer, in_row, inner;
    int axis, esize;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK || call->n_out == 0)
        return st;
    x = call->in[0];
    sizes = qs_calloc(call->n_out, sizeof(*sizes));
    st = split_sizes(call, x->dims[axis], sizes);

    esize = rt_esize(x);
    outer = rt_span(x->dims, 0, axis);
    inner = rt_span(x->dims, axis + 1, x->rank);
    in_row = (uint64_t)x->dims[axis] * inner;
    memcpy(dims, x->dims, sizeof(dims));
    for (size_t k = 0; k < call->n_out && st == QS_OK; k++) {
        uint64_t row = (uint64_t)sizes[k] * inner;

        dims[axis] = sizes[k];
        st = interp_new_uninit(call, x->dtype, x->rank, dims, &call->out[k]);
        for (uint64_t o = 0; st == QS_OK && o < outer && row > 0; o++)
            memcpy((char *)call->out[k]->data + o * row * (uint64_t)esize,
                   (const char *)x->data
                       + (o * in_row + (uint64_t)offset * inner) * (uint64_t)esize,
                   (size_t)(row * (uint64_t)esize));
        offset += sizes[k];
    }
    free(sizes);
    return st;
}

/* ---- Slice -------------------------------------------------------------- */

struct slice_args {
    int64_t starts[QS_RT_MAX_RANK], ends[QS_RT_MAX_RANK], axes[QS_RT_MAX_RANK];
    int64_t steps[QS_RT_MAX_RANK];
    size_t n;
};

static enum qs_status
slice_read(struct interp_call *call, struct slice_args *s)
{
    size_t n_ends = 0, n_axes = 0, n_steps = 0;
    int given;
    enum qs_status st;

    if (call->opset < 10) {
        const int64_t *v;
        ptrdiff_t ns = qs_node_attr_ints(call->node, "starts", &v);

        if (ns < 0 || ns > QS_RT_MAX_RANK)
            return interp_fail(call, QS_INVALID, "attribute starts is missing or too long");
        memcpy(s->starts, v, (size_t)ns * sizeof(*v));
        s->n = (size_t)ns;
        if (qs_node_attr_ints(call->node, "ends", &v) != ns)
            return interp_fail(call, QS_INVALID, "attributes starts and ends differ in length");
        memcpy(s->ends, v, (size_t)ns * sizeof(*v));
        n_ends = s->n;
    } else {
        st = interp_need_inputs(call, 3);
        if (st == QS_OK)
            st = interp_read_ints(call, 1, s->starts, QS_RT_MAX_RANK, &s->n);
        if (st == QS_OK)
            st = interp_read_ints(call, 2, s->ends, QS_RT_MAX_RANK, &n_ends);
        if (st == QS_OK && call->n_in > 4 && call->in[4])
            st = interp_read_ints(call, 4, s->steps, QS_RT_MAX_RANK, &n_steps);
        if (st != QS_OK)
            return st;
    }
    st = read_axes(call, "axes", 10, 3, s->axes, &n_axes, &given);
    if (st != QS_OK)
        return st;
    if (n_ends != s->n || (given && n_axes != s->n) || (n_steps && n_steps != s->n))
        return interp_fail(call, QS_INVALID, "starts, ends, axes and steps differ in length");
    for (size_t i = 0; i < s->n; i++) {
        if (!given)
            s->axes[i] = (int64_t)i;
        if (!n_steps)
            s->steps[i] = 1;
        if (s->steps[i] == 0)
            return interp_fail(call, QS_INVALID, "step %zu is 0", i);
    }
    return normalize_axes(call, s->axes, s->n, call->in[0]->rank);
}

/* Clamp start and end of one axis of length "dim" as numpy slicing does; returns the length. */
static int64_t
slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first)
{
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *first = start;
        return end > start ? (end - start - 1) / step + 1 : 0;
    }
    if (step < -INT64_MAX)
        step = -INT64_MAX;
    start = start < -1 ? -1 : start > dim - 1 ? dim - 1 : start;
    end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
    *first = start;
    return start > end ? (start - end - 1) / -step + 1 : 0;
}

enum qs_status
op_slice(struct interp_call *call)
{
    struct slice_args s;
    int64_t dims[QS_RT_MAX_RANK], strides[QS_RT_MAX_RANK], src[QS_RT_MAX_RANK];
    int64_t offset = 0, first;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = slice_read(call, &s);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    memcpy(dims, x->dims, sizeof(dims));
    rt_strides(x->rank, x->dims, strides);
    memcpy(src, strides, sizeof(src));
    for (size_t i = 0; i < s.n; i++) {
        int a = (int)s.axes[i];

        dims[a] = slice_axis(x->dims[a], s.starts[i], s.ends[i], s.steps[i], &first);
        if (dims[a] > 0)
            offset += first * strides[a];
        src[a] = strides[a] * s.steps[i];
    }
    st = interp_new_uninit(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st == QS_OK)
        rt_copy_strided(call->out[0]->data, x->data, rt_esize(x), x->rank, dims, src, offset);
    return st;
}

/* ---- Pad ---------------------------------------------------------------- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

static enum qs_status
pad_read(struct interp_call *call, int64_t *pads, enum pad_mode *mode, float *fill)
{
    const struct qs_rt_tensor *x = call->in[0];
    int rank = x->rank;
    int64_t raw[2 * QS_RT_MAX_RANK], axes[QS_RT_MAX_RANK];
    size_t n = 0, n_axes = 0, len;
    const char *m = qs_node_attr_string(call->node, "mode", "constant", &len);
    enum qs_status st = QS_OK;

    *mode = len == 7 && memcmp(m, "reflect", 7) == 0 ? PAD_REFLECT
            : len == 4 && memcmp(m, "edge", 4) == 0 ? PAD_EDGE
            : len == 4 && memcmp(m, "wrap", 4) == 0 ? PAD_WRAP : PAD_CONSTANT;
    if (call->opset < 11) {
        const int64_t *v;
        ptrdiff_t c = qs_node_attr_ints(call->node, call->opset < 2 ? "paddings" : "pads", &v);

        if (c < 0 || c > 2 * QS_RT_MAX_RANK)
            return interp_fail(call, QS_INVALID, "attribute pads is missing or too long");
        memcpy(raw, v, (size_t)c * sizeof(*v));
        n = (size_t)c;
        *fill = qs_node_attr_float(call->node, "value", 0.0f);
    } else {
        st = interp_need_inputs(call, 2);
        if (st == QS_OK)
            st = interp_read_ints(call, 1, raw, 2 * QS_RT_MAX_RANK, &n);
        if (st == QS_OK)
            st = interp_scalar_float(call, 2, 0.0f, fill);
        if (st == QS_OK && call->n_in > 3 && call->in[3])
            st = interp_read_ints(call, 3, axes, QS_RT_MAX_RANK, &n_axes);
        if (st == QS_OK && n_axes)
            st = normalize_axes(call, axes, n_axes, rank);
    }
    if (st != QS_OK)
        return st;

    memset(pads, 0, 2 * QS_RT_MAX_RANK * sizeof(*pads));
    if (!n_axes) {
        n_axes = (size_t)rank;
        for (int i = 0; i < rank; i++)
            axes[i] = i;
    }
    if (n != 2 * n_axes)
        return interp_fail(call, QS_INVALID, "pads has %zu entries, expected %zu", n, 2 * n_axes);
    for (size_t i = 0; i < n_axes; i++) {
        pads[axes[i]] = raw[i];
        pads[rank + axes[i]] = raw[n_axes + i];
    }
    return QS_OK;
}

/* Source index of output position "o" along an axis of "dim" padded by "begin". */
static int64_t
pad_source(enum pad_mode mode, int64_t o, int64_t begin, int64_t dim)
{
    int64_t c = o - begin, period;

    if (c >= 0 && c < dim)
        return c;
    switch (mode) {
    case PAD_EDGE:
        return c < 0 ? 0 : dim - 1;
    case PAD_WRAP:
        return ((c % dim) + dim) % dim;
    case PAD_REFLECT:
        if (dim == 1)
            return 0;
        period = 2 * (dim - 1);
        c = ((c % period) + period) % period;
        return c < dim ? c : period - c;
    default:
        return -1;
    }
}

enum qs_status
op_pad(struct interp_call *call)
{
    int64_t pads[2 * QS_RT_MAX_RANK], dims[QS_RT_MAX_RANK];
    int64_t *maps[QS_RT_MAX_RANK] = { 0 };
    enum pad_mode mode;
    float fill;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = pad_read(call, pads, &mode, &fill);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[i] + pads[i] + pads[x->rank + i];
        if (dims[i] < 0 || pads[i] > INT32_MAX || pads[x->rank + i] > INT32_MAX)
            return interp_fail(call, QS_INVALID, "pads of axis %d are out of range", i);
        if (mode != PAD_CONSTANT && x->dims[i] == 0 && dims[i] > 0)
            return interp_fail(call, QS_INVALID, "cannot pad empty axis %d in this mode", i);
    }
    st = interp_new_uninit(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int i = 0; i < x->rank; i++) {
        maps[i] = qs_calloc(dims[i] ? (size_t)dims[i] : 1, sizeof(**maps));
        for (int64_t o = 0; o < dims[i]; o++)
            maps[i][o] = pad_source(mode, o, pads[i], x->dims[i]);
    }
    copy_mapped(call->out[0], x, maps, fill, (int64_t)fill);
    free_maps(maps, x->rank);
    return QS_OK;
}

/* ---- DepthToSpace and SpaceToDepth -------------------------------------- */

/* Copy "x" viewed as 6-D "view" dims, permuted by "perm", into a 4-D output. */
static enum qs_status
permute_6d(struct interp_call *call, const int64_t *view, const int *perm, const int64_t *out_dims)
{
    const struct qs_rt_tensor *x = call->in[0];
    int64_t strides[6], dims[6], src[6];
    enum qs_status st = interp_new_uninit(call, x->dtype, 4, out_dims, &call->out[0]);

    if (st != QS_OK)
        return st;
    rt_strides(6, view, strides);
    for (int i = 0; i < 6; i++) {
        dims[i] = view[perm[i]];
        src[i] = strides[perm[i]];
    }
    rt_copy_strided(call->out[0]->data, x->data, rt_esize(x), 6, dims, src, 0);
    return QS_OK;
}

enum qs_status
op_depth_to_space(struct interp_call *call)
{
    static const int dcr[6] = { 0, 3, 4, 1, 5, 2 }, crd[6] = { 0, 1, 4, 2, 5, 3 };
    int64_t b = qs_node_attr_int(call->node, "blocksize", 0), n, c, h, w;
    size_t len;
    const char *mode = qs_node_attr_string(call->node, "mode", "DCR", &len);
    int is_crd = len == 3 && memcmp(mode, "CRD", 3) == 0;
    int64_t out_dims[4], view[6];
    enum qs_status st = interp_need_rank(call, 0, 4, 4);

    if (st != QS_OK)
        return st;
    n = call->in[0]->dims[0];
    c = call->in[0]->dims[1];
    h = call->in[0]->dims[2];
    w = call->in[0]->dims[3];
    if (b <= 0 || b > 65536 || c % (b * b) != 0)
        return interp_fail(call, QS_INVALID, "blocksize %lld does not divide %lld channels",
                           (long long)b, (long long)c);

    out_dims[0] = n;
    out_dims[1] = c / (b * b);
    out_dims[2] = h * b;
    out_dims[3] = w * b;
    /* DCR views channels as (b, b, C/b^2), CRD as (C/b^2, b, b). */
    view[0] = n;
    view[1] = is_crd ? c / (b * b) : b;
    view[2] = b;
    view[3] = is_crd ? b : c / (b * b);
    view[4] = h;
    view[5] = w;
    return permute_6d(call, view, is_crd ? crd : dcr, out_dims);
}

enum qs_status
op_space_to_depth(struct interp_call *call)
{
    static const int perm[6] = { 0, 3, 5, 1, 2, 4 };
    int64_t b = qs_node_attr_int(call->node, "blocksize", 0), n, c, h, w;
    int64_t out_dims[4], view[6];
    enum qs_status st = interp_need_rank(call, 0, 4, 4);

    if (st != QS_OK)
        return st;
    n = call->in[0]->dims[0];
    c = call->in[0]->dims[1];
    h = call->in[0]->dims[2];
    w = call->in[0]->dims[3];
    if (b <= 0 || b > 65536 || h % b != 0 || w % b != 0)
        return interp_fail(call, QS_INVALID, "blocksize %lld does not divide the spatial dims",
                           (long long)b);

    out_dims[0] = n;
    out_dims[1] = c * b * b;
    out_dims[2] = h / b;
    out_dims[3] = w / b;
    view[0] = n;
    view[1] = c;
    view[2] = h / b;
    view[3] = b;
    view[4] = w / b;
    view[5] = b;
    return permute_6d(call, view, perm, out_dims);
}
