/*
 * Helpers for op implementations: outputs and views, type conversion,
 * input checks and reads, axes, and numpy broadcasting.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

static enum qs_status
new_output(struct interp_call *call, int dtype, int rank, const int64_t *dims, int zeroed,
           struct qs_rt_tensor **out)
{
    enum qs_status st = rt_new(dtype, rank, dims, zeroed, out);
    uint64_t count = 0;

    if (st == QS_OK)
        return QS_OK;
    if (st == QS_UNSUPPORTED)
        return interp_fail(call, st, "element type %s is not supported", qs_dtype_name(dtype));
    if (rank > QS_RT_MAX_RANK)
        return interp_fail(call, st, "output rank %d is above the limit of %d", rank,
                           QS_RT_MAX_RANK);
    if (rt_mul_dims(rank, dims, &count))
        return interp_fail(call, st, "output shape is negative or its element count overflows");
    return interp_fail(call, st,
                       "output of %llu elements exceeds the allocation limit of %llu bytes",
                       (unsigned long long)count, (unsigned long long)qs_rt_alloc_limit());
}

enum qs_status
interp_new(struct interp_call *call, int dtype, int rank, const int64_t *dims,
           struct qs_rt_tensor **out)
{
    return new_output(call, dtype, rank, dims, 1, out);
}

enum qs_status
interp_new_uninit(struct interp_call *call, int dtype, int rank, const int64_t *dims,
                  struct qs_rt_tensor **out)
{
    return new_output(call, dtype, rank, dims, 0, out);
}

enum qs_status
interp_new_like(struct interp_call *call, const struct qs_rt_tensor *src,
                struct qs_rt_tensor **out)
{
    return new_output(call, src->dtype, src->rank, src->dims, 1, out);
}

enum qs_status
interp_new_like_uninit(struct interp_call *call, const struct qs_rt_tensor *src,
                       struct qs_rt_tensor **out)
{
    return new_output(call, src->dtype, src->rank, src->dims, 0, out);
}

enum qs_status
interp_view(struct interp_call *call, struct qs_rt_tensor *src, int rank, const int64_t *dims,
            struct qs_rt_tensor **out)
{
    struct qs_rt_tensor *t;
    uint64_t count;

    *out = NULL;
    if (rank < 0 || rank > QS_RT_MAX_RANK)
        return interp_fail(call, QS_INVALID, "output rank %d is above the limit of %d", rank,
                           QS_RT_MAX_RANK);
    if (rt_mul_dims(rank, dims, &count) || count != src->count)
        return interp_fail(call, QS_INVALID, "output shape does not hold the input's %llu elements",
                           (unsigned long long)src->count);

    t = qs_calloc(1, sizeof(*t));
    t->dtype = src->dtype;
    t->rank = rank;
    if (rank > 0)
        memcpy(t->dims, dims, (size_t)rank * sizeof(*dims));
    t->count = count;
    t->data = src->data;
    t->refs = 1;
    t->base = qs_rt_ref(src->base ? src->base : src);
    *out = t;
    return QS_OK;
}

/* Float to int64 as C truncation, saturating; NaN gives 0 (no undefined behaviour). */
static int64_t
float_to_i64(float v)
{
    if (isnan(v))
        return 0;
    if (v >= 9.2233720368547758e18f)
        return INT64_MAX;
    if (v <= -9.2233720368547758e18f)
        return INT64_MIN;
    return (int64_t)v;
}

/* Float to an unsigned 64-bit value held in int64 bits. */
static int64_t
float_to_u64_bits(float v)
{
    if (isnan(v) || v <= 0)
        return float_to_i64(v);
    if (v >= 1.8446744073709552e19f)
        return -1;
    return (int64_t)(uint64_t)v;
}

static float
int_to_float(int dtype, int64_t v)
{
    if (dtype == QS_DT_UINT64)
        return (float)(uint64_t)v;
    return (float)v;
}

/* Convert every element of "src" into "dst" of type "dtype" (same shape). */
static void
convert_elements(const struct qs_rt_tensor *src, int dtype, struct qs_rt_tensor *dst)
{
    uint64_t n = src->count;

    if (qs_rt_is_float(src->dtype) && qs_rt_is_float(dtype)) {
        const float *s = rt_f(src);
        float *d = rt_f(dst);

        for (uint64_t i = 0; i < n; i++)
            d[i] = rt_round_float(dtype, s[i]);
    } else if (qs_rt_is_float(src->dtype)) {
        const float *s = rt_f(src);
        int64_t *d = rt_i(dst);

        for (uint64_t i = 0; i < n; i++) {
            int64_t v = dtype == QS_DT_UINT64 ? float_to_u64_bits(s[i])
                        : dtype == QS_DT_BOOL ? s[i] != 0 : float_to_i64(s[i]);
            d[i] = rt_wrap_int(dtype, v);
        }
    } else if (qs_rt_is_float(dtype)) {
        const int64_t *s = rt_i(src);
        float *d = rt_f(dst);

        for (uint64_t i = 0; i < n; i++)
            d[i] = rt_round_float(dtype, int_to_float(src->dtype, s[i]));
    } else {
        const int64_t *s = rt_i(src);
        int64_t *d = rt_i(dst);

        for (uint64_t i = 0; i < n; i++)
            d[i] = rt_wrap_int(dtype, s[i]);
    }
}

enum qs_status
interp_convert(struct interp_call *call, const struct qs_rt_tensor *src, int dtype,
               struct qs_rt_tensor **out)
{
    enum qs_status st = interp_new_uninit(call, dtype, src->rank, src->dims, out);

    if (st == QS_OK)
        convert_elements(src, dtype, *out);
    return st;
}

enum qs_status
rt_convert(const struct qs_rt_tensor *src, int dtype, struct qs_rt_tensor **out)
{
    enum qs_status st = rt_new(dtype, src->rank, src->dims, 0, out);

    if (st == QS_OK)
        convert_elements(src, dtype, *out);
    return st;
}

enum qs_status
interp_as_float(struct interp_call *call, struct qs_rt_tensor *src, struct qs_rt_tensor **out)
{
    if (src->dtype == QS_DT_FLOAT) {
        *out = qs_rt_ref(src);
        return QS_OK;
    }
    return interp_convert(call, src, QS_DT_FLOAT, out);
}

enum qs_status
interp_need_inputs(struct interp_call *call, size_t min_count)
{
    for (size_t i = 0; i < min_count; i++) {
        if (i >= call->n_in || !call->in[i])
            return interp_fail(call, QS_INVALID, "input %zu is missing", i);
    }
    return QS_OK;
}

enum qs_status
interp_need_float(struct interp_call *call, size_t index)
{
    const struct qs_rt_tensor *t = index < call->n_in ? call->in[index] : NULL;

    if (!t)
        return interp_fail(call, QS_INVALID, "input %zu is missing", index);
    if (!qs_rt_is_float(t->dtype))
        return interp_fail(call, QS_UNSUPPORTED, "input %zu has element type %s, not a float type",
                           index, qs_dtype_name(t->dtype));
    return QS_OK;
}

enum qs_status
interp_need_rank(struct interp_call *call, size_t index, int min_rank, int max_rank)
{
    const struct qs_rt_tensor *t = index < call->n_in ? call->in[index] : NULL;

    if (!t)
        return interp_fail(call, QS_INVALID, "input %zu is missing", index);
    if (t->rank < min_rank || t->rank > max_rank) {
        if (min_rank == max_rank)
            return interp_fail(call, QS_INVALID, "input %zu has rank %d, expected %d",
                               index, t->rank, min_rank);
        return interp_fail(call, QS_INVALID, "input %zu has rank %d, expected %d to %d",
                           index, t->rank, min_rank, max_rank);
    }
    return QS_OK;
}

enum qs_status
interp_read_ints(struct interp_call *call, size_t index, int64_t *values, size_t max,
                 size_t *count)
{
    const struct qs_rt_tensor *t = index < call->n_in ? call->in[index] : NULL;

    *count = 0;
    if (!t)
        return interp_fail(call, QS_INVALID, "input %zu is missing", index);
    if (t->count > max)
        return interp_fail(call, QS_INVALID, "input %zu has %llu elements, at most %zu allowed",
                           index, (unsigned long long)t->count, max);
    for (uint64_t i = 0; i < t->count; i++)
        values[i] = qs_rt_is_float(t->dtype) ? float_to_i64(rt_f(t)[i]) : rt_i(t)[i];
    *count = (size_t)t->count;
    return QS_OK;
}

enum qs_status
interp_scalar_int(struct interp_call *call, size_t index, int64_t fallback, int64_t *value)
{
    const struct qs_rt_tensor *t = index < call->n_in ? call->in[index] : NULL;

    *value = fallback;
    if (!t)
        return QS_OK;
    if (t->count < 1)
        return interp_fail(call, QS_INVALID, "input %zu is empty, a scalar is expected", index);
    *value = qs_rt_is_float(t->dtype) ? float_to_i64(rt_f(t)[0]) : rt_i(t)[0];
    return QS_OK;
}

enum qs_status
interp_scalar_float(struct interp_call *call, size_t index, float fallback, float *value)
{
    const struct qs_rt_tensor *t = index < call->n_in ? call->in[index] : NULL;

    *value = fallback;
    if (!t)
        return QS_OK;
    if (t->count < 1)
        return interp_fail(call, QS_INVALID, "input %zu is empty, a scalar is expected", index);
    *value = qs_rt_is_float(t->dtype) ? rt_f(t)[0] : int_to_float(t->dtype, rt_i(t)[0]);
    return QS_OK;
}

enum qs_status
interp_axis(struct interp_call *call, int64_t axis, int rank, int *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;

    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return interp_fail(call, QS_INVALID, "axis %lld is out of range for rank %d",
                           (long long)axis, rank);
    *out = (int)a;
    return QS_OK;
}

/* Output dims of the broadcast, right-aligned numpy rules. */
static enum qs_status
bcast_shape(struct interp_call *call, struct interp_bcast *b, int n,
            const struct qs_rt_tensor *const *ts)
{
    b->rank = 0;
    for (int k = 0; k < n; k++)
        b->rank = ts[k]->rank > b->rank ? ts[k]->rank : b->rank;

    for (int i = 0; i < b->rank; i++) {
        int64_t d = 1;

        for (int k = 0; k < n; k++) {
            int off = i - (b->rank - ts[k]->rank);
            int64_t dk = off >= 0 ? ts[k]->dims[off] : 1;

            if (dk == d || dk == 1)
                continue;
            if (d != 1)
                return interp_fail(call, QS_INVALID,
                                   "inputs cannot be broadcast: dim %d is %lld and %lld",
                                   i, (long long)d, (long long)dk);
            d = dk;
        }
        b->dims[i] = d;
    }
    if (rt_mul_dims(b->rank, b->dims, &b->count))
        return interp_fail(call, QS_INVALID, "broadcast element count overflows");
    return QS_OK;
}

/* Merge dims that are contiguous for every input, dropping dims of 1. */
static void
bcast_merge(struct interp_bcast *b, const int64_t strides[][QS_RT_MAX_RANK])
{
    b->crank = 0;
    for (int i = 0; i < b->rank; i++) {
        int c = b->crank - 1, mergeable = c >= 0;

        if (b->dims[i] == 1)
            continue;
        for (int k = 0; k < b->n && mergeable; k++)
            mergeable = b->cstrides[k][c] == strides[k][i] * b->dims[i];
        if (mergeable) {
            b->cdims[c] *= b->dims[i];
            for (int k = 0; k < b->n; k++)
                b->cstrides[k][c] = strides[k][i];
            continue;
        }
        b->cdims[b->crank] = b->dims[i];
        for (int k = 0; k < b->n; k++)
            b->cstrides[k][b->crank] = strides[k][i];
        b->crank++;
    }
    if (b->crank == 0) {
        b->crank = 1;
        b->cdims[0] = 1;
        for (int k = 0; k < b->n; k++)
            b->cstrides[k][0] = 0;
    }
}

enum qs_status
interp_bcast_init(struct interp_call *call, struct interp_bcast *b, int n,
                  const struct qs_rt_tensor *const *ts)
{
    int64_t strides[INTERP_BCAST_MAX][QS_RT_MAX_RANK];
    enum qs_status st;

    memset(b, 0, sizeof(*b));
    b->n = n;
    st = bcast_shape(call, b, n, ts);
    if (st != QS_OK)
        return st;

    for (int k = 0; k < n; k++) {
        int64_t s = 1;

        for (int i = b->rank - 1; i >= 0; i--) {
            int off = i - (b->rank - ts[k]->rank);
            int64_t dk = off >= 0 ? ts[k]->dims[off] : 1;

            strides[k][i] = dk == 1 ? 0 : s;
            s *= dk;
        }
    }
    bcast_merge(b, (const int64_t (*)[QS_RT_MAX_RANK])strides);
    return QS_OK;
}

void
interp_bcast_for(const struct interp_bcast *b, interp_row_fn row, void *ctx)
{
    int64_t idx[QS_RT_MAX_RANK] = { 0 };
    int64_t off[INTERP_BCAST_MAX] = { 0 };
    int64_t steps[INTERP_BCAST_MAX];
    int inner = b->crank - 1;
    int64_t len = b->cdims[inner];
    uint64_t out = 0;

    if (b->count == 0)
        return;
    for (int k = 0; k < b->n; k++)
        steps[k] = b->cstrides[k][inner];

    for (;;) {
        int d;

        row(ctx, out, off, steps, len);
        out += (uint64_t)len;
        for (d = inner - 1; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < b->n; k++)
                off[k] += b->cstrides[k][d];
            if (idx[d] < b->cdims[d])
                break;
            for (int k = 0; k < b->n; k++)
                off[k] -= b->cstrides[k][d] * b->cdims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

/* interp_bcast_for over output elements [begin, end) only, rows cut at both ends. */
static void
bcast_range(const struct interp_bcast *b, interp_row_fn row, void *ctx, uint64_t begin,
            uint64_t end)
{
    int64_t idx[QS_RT_MAX_RANK] = { 0 };
    int64_t off[INTERP_BCAST_MAX] = { 0 };
    int64_t steps[INTERP_BCAST_MAX];
    int inner = b->crank - 1;
    uint64_t len = (uint64_t)b->cdims[inner], r = begin / len, at = begin % len;

    for (int k = 0; k < b->n; k++)
        steps[k] = b->cstrides[k][inner];
    for (int d = inner - 1; d >= 0; d--) {
        idx[d] = (int64_t)(r % (uint64_t)b->cdims[d]);
        r /= (uint64_t)b->cdims[d];
        for (int k = 0; k < b->n; k++)
            off[k] += idx[d] * b->cstrides[k][d];
    }
    while (begin < end) {
        uint64_t n = len - at < end - begin ? len - at : end - begin;
        int64_t row_off[INTERP_BCAST_MAX];

        for (int k = 0; k < b->n; k++)
            row_off[k] = off[k] + (int64_t)at * steps[k];
        row(ctx, begin, row_off, steps, (int64_t)n);
        begin += n;
        at = 0;
        for (int d = inner - 1; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < b->n; k++)
                off[k] += b->cstrides[k][d];
            if (idx[d] < b->cdims[d])
                break;
            for (int k = 0; k < b->n; k++)
                off[k] -= b->cstrides[k][d] * b->cdims[d];
            idx[d] = 0;
        }
    }
}

struct bcast_job {
    const struct interp_bcast *b;
    interp_row_fn row;
    void *ctx;
};

static void
bcast_blocks(void *ctx, int64_t begin, int64_t end)
{
    const struct bcast_job *j = ctx;
    uint64_t lo = (uint64_t)begin * INTERP_BCAST_BLOCK, hi = (uint64_t)end * INTERP_BCAST_BLOCK;

    bcast_range(j->b, j->row, j->ctx, lo, hi < j->b->count ? hi : j->b->count);
}

void
interp_bcast_for_par(struct interp_call *call, const struct interp_bcast *b, interp_row_fn row,
                     void *ctx)
{
    struct bcast_job j = { b, row, ctx };
    uint64_t blocks = (b->count + INTERP_BCAST_BLOCK - 1) / INTERP_BCAST_BLOCK;

    if (b->count == 0 || b->cdims[b->crank - 1] == 0)
        return;
    interp_parallel_for(call, (int64_t)blocks, 2, bcast_blocks, &j);
}

void
rt_copy_strided(void *dst, const void *src, int esize, int rank, const int64_t *dims,
                const int64_t *src_strides, int64_t src_offset)
{
    int64_t idx[QS_RT_MAX_RANK] = { 0 };
    int64_t off = src_offset, len, step;
    uint64_t out = 0, count = rt_span(dims, 0, rank);
    int inner = rank - 1, d;

    if (count == 0)
        return;
    if (rank == 0) {
        memcpy(dst, (const char *)src + src_offset * esize, (size_t)esize);
        return;
    }
    len = dims[inner];
    step = src_strides[inner];
    for (;;) {
        if (esize == 4) {
            const float *from = (const float *)src + off;
            float *to = (float *)dst + out;

            for (int64_t i = 0; i < len; i++)
                to[i] = from[i * step];
        } else {
            const int64_t *from = (const int64_t *)src + off;
            int64_t *to = (int64_t *)dst + out;

            for (int64_t i = 0; i < len; i++)
                to[i] = from[i * step];
        }
        out += (uint64_t)len;

        for (d = inner - 1; d >= 0; d--) {
            off += src_strides[d];
            if (++idx[d] < dims[d])
                break;
            off -= src_strides[d] * dims[d];
            idx[d] = 0;
        }
        if (d < 0)
            return;
    }
}

int
rt_esize(const struct qs_rt_tensor *t)
{
    return qs_rt_is_float(t->dtype) ? 4 : 8;
}
