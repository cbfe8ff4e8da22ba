/*
 * Matrix products through OpenBLAS: Gemm and MatMul (numpy batch
 * broadcasting, 1-D operands promoted as numpy does).
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <string.h>

#include "dtype.h"

/* Initialize Y [m, n] with beta * C broadcast to it (Gemm's bias). */
static enum qs_status
gemm_bias(struct interp_call *call, const struct qs_rt_tensor *c, float beta, float *y,
          int64_t m, int64_t n)
{
    int64_t rows, cols;

    if (c->rank > 2)
        return interp_fail(call, QS_INVALID, "input C has rank %d, at most 2 expected", c->rank);
    rows = c->rank == 2 ? c->dims[0] : 1;
    cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if ((rows != 1 && rows != m) || (cols != 1 && cols != n))
        return interp_fail(call, QS_INVALID,
                           "input C [%lld, %lld] does not broadcast to [%lld, %lld]",
                           (long long)rows, (long long)cols, (long long)m, (long long)n);
    for (int64_t i = 0; i < m; i++) {
        const float *src = rt_f(c) + (rows == 1 ? 0 : i * cols);

        for (int64_t j = 0; j < n; j++)
            y[i * n + j] = beta * src[cols == 1 ? 0 : j];
    }
    return QS_OK;
}

enum qs_status
op_gemm(struct interp_call *call)
{
    const struct qs_rt_tensor *a, *b, *c;
    int trans_a = (int)qs_node_attr_int(call->node, "transA", 0);
    int trans_b = (int)qs_node_attr_int(call->node, "transB", 0);
    float alpha = qs_node_attr_float(call->node, "alpha", 1.0f);
    float beta = qs_node_attr_float(call->node, "beta", 1.0f);
    int64_t m, k, n, dims[2];
    enum qs_status st = interp_need_rank(call, 0, 2, 2);

    if (st == QS_OK)
        st = interp_need_rank(call, 1, 2, 2);
    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    a = call->in[0];
    b = call->in[1];
    c = call->n_in > 2 ? call->in[2] : NULL;
    m = a->dims[trans_a ? 1 : 0];
    k = a->dims[trans_a ? 0 : 1];
    n = b->dims[trans_b ? 0 : 1];
    if (b->dims[trans_b ? 1 : 0] != k)
        return interp_fail(call, QS_INVALID, "inner dims differ: A gives %lld, B has %lld",
                           (long long)k, (long long)b->dims[trans_b ? 1 : 0]);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return interp_fail(call, QS_INVALID, "matrix dims exceed the BLAS limit");
    dims[0] = m;
    dims[1] = n;
    st = interp_new(call, a->dtype, 2, dims, &call->out[0]);
    if (st == QS_OK && c && beta != 0)
        st = gemm_bias(call, c, beta, rt_f(call->out[0]), m, n);
    if (st != QS_OK || m == 0 || n == 0)
        return st;
    if (k > 0)
        interp_sgemm(call, trans_a, trans_b, m, n, k, alpha, rt_f(a), a->dims[1], rt_f(b),
                     b->dims[1], c && beta != 0 ? 1.0f : 0.0f, rt_f(call->out[0]), n);
    return QS_OK;
}

/* MatMul operand shapes after numpy's promotion of 1-D operands. */
struct matmul_shape {
    int rank;                               /* of the batch dims of the output */
    int64_t batch[QS_RT_MAX_RANK];
    int64_t a_stride[QS_RT_MAX_RANK], b_stride[QS_RT_MAX_RANK];  /* in matrices */
    int64_t m, k, n;
    int out_rank;
    int64_t out_dims[QS_RT_MAX_RANK];
};

static enum qs_status
matmul_shape(struct interp_call *call, const struct qs_rt_tensor *a, const struct qs_rt_tensor *b,
             struct matmul_shape *s)
{
    int ar = a->rank >= 2 ? a->rank - 2 : 0, br = b->rank >= 2 ? b->rank - 2 : 0;
    int64_t as = 1, bs = 1;

    if (a->rank == 0 || b->rank == 0)
        return interp_fail(call, QS_INVALID, "MatMul inputs must have rank 1 or more");
    s->m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    s->k = a->dims[a->rank - 1];
    s->n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if ((b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0]) != s->k)
        return interp_fail(call, QS_INVALID, "inner dims differ: %lld and %lld", (long long)s->k,
                           (long long)(b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0]));

    s->rank = ar > br ? ar : br;
    for (int i = s->rank - 1; i >= 0; i--) {
        int ia = i - (s->rank - ar), ib = i - (s->rank - br);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;

        if (da != db && da != 1 && db != 1)
            return interp_fail(call, QS_INVALID, "batch dims %lld and %lld do not broadcast",
                               (long long)da, (long long)db);
        s->batch[i] = da == 1 ? db : da;
        s->a_stride[i] = da == 1 ? 0 : as;
        s->b_stride[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
    }

    s->out_rank = 0;
    for (int i = 0; i < s->rank; i++)
        s->out_dims[s->out_rank++] = s->batch[i];
    if (a->rank >= 2)
        s->out_dims[s->out_rank++] = s->m;
    if (b->rank >= 2)
        s->out_dims[s->out_rank++] = s->n;
    return QS_OK;
}

/* Integer product with wrapping arithmetic; rows of B are streamed so the inner loop vectorises. */
static void
matmul_int(const int64_t *a, const int64_t *b, int64_t *y, int64_t m, int64_t k, int64_t n)
{
    for (int64_t i = 0; i < m; i++) {
        uint64_t *row = (uint64_t *)(y + i * n);

        for (int64_t j = 0; j < n; j++)
            row[j] = 0;
        for (int64_t p = 0; p < k; p++) {
            uint64_t av = (uint64_t)a[i * k + p];
            const int64_t *brow = b + p * n;

            for (int64_t j = 0; j < n; j++)
                row[j] += av * (uint64_t)brow[j];
        }
    }
}

static void
matmul_batches(struct interp_call *call, const struct matmul_shape *s, const struct qs_rt_tensor *a,
               const struct qs_rt_tensor *b, struct qs_rt_tensor *y)
{
    int64_t idx[QS_RT_MAX_RANK] = { 0 };
    uint64_t batches = rt_span(s->batch, 0, s->rank), mk = (uint64_t)(s->m * s->k);
    uint64_t kn = (uint64_t)(s->k * s->n), mn = (uint64_t)(s->m * s->n);
    int is_float = qs_rt_is_float(a->dtype);

    for (uint64_t bi = 0; bi < batches; bi++) {
        int64_t ao = 0, bo = 0;

        for (int d = 0; d < s->rank; d++) {
            ao += idx[d] * s->a_stride[d];
            bo += idx[d] * s->b_stride[d];
        }
        if (is_float && s->k > 0)
            interp_sgemm(call, 0, 0, s->m, s->n, s->k, 1.0f, rt_f(a) + (uint64_t)ao * mk, s->k,
                         rt_f(b) + (uint64_t)bo * kn, s->n, 0.0f, rt_f(y) + bi * mn, s->n);
        else if (!is_float)
            matmul_int(rt_i(a) + (uint64_t)ao * mk, rt_i(b) + (uint64_t)bo * kn,
                       rt_i(y) + bi * mn, s->m, s->k, s->n);
        for (int d = s->rank - 1; d >= 0; d--) {
            if (++idx[d] < s->batch[d])
                break;
            idx[d] = 0;
        }
    }
}

enum qs_status
op_matmul(struct interp_call *call)
{
    struct matmul_shape s;
    const struct qs_rt_tensor *a, *b;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st != QS_OK)
        return st;
    a = call->in[0];
    b = call->in[1];
    if (qs_rt_is_float(a->dtype) != qs_rt_is_float(b->dtype))
        return interp_fail(call, QS_INVALID, "inputs have different element types");
    st = matmul_shape(call, a, b, &s);
    if (st == QS_OK && (s.m > INT32_MAX || s.n > INT32_MAX || s.k > INT32_MAX))
        st = interp_fail(call, QS_INVALID, "matrix dims exceed the BLAS limit");
    if (st == QS_OK)
        st = interp_new(call, a->dtype, s.out_rank, s.out_dims, &call->out[0]);
    if (st != QS_OK || call->out[0]->count == 0)
        return st;

    /* A batch of A against one B matrix is one product with the batches stacked as rows. */
    if (b->rank <= 2 && a->rank > 2 && s.rank > 0) {
        s.m *= (int64_t)rt_span(s.batch, 0, s.rank);
        s.rank = 0;
        if (s.m > INT32_MAX)
            return interp_fail(call, QS_INVALID, "matrix dims exceed the BLAS limit");
    }
    matmul_batches(call, &s, a, b, call->out[0]);
    return QS_OK;
}
