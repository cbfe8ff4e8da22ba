/*
 * Ops without a family: Unique, Einsum (direct summation over every
 * label, fine for small operands), Det (LU with partial pivoting) and
 * TfIdfVectorizer over integer tokens.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* ---- Unique ---------------------------------------------------------------- */

/* Slices of one tensor along an axis, compared element by element in row-major order. */
struct slices {
    const struct qs_rt_tensor *t;
    uint64_t outer, len, inner;
};

static int
slice_compare(const struct slices *s, int64_t a, int64_t b)
{
    for (uint64_t o = 0; o < s->outer; o++) {
        for (uint64_t i = 0; i < s->inner; i++) {
            uint64_t ia = (o * s->len + (uint64_t)a) * s->inner + i;
            uint64_t ib = (o * s->len + (uint64_t)b) * s->inner + i;
            double x = qs_rt_is_float(s->t->dtype) ? rt_f(s->t)[ia] : (double)rt_i(s->t)[ia];
            double y = qs_rt_is_float(s->t->dtype) ? rt_f(s->t)[ib] : (double)rt_i(s->t)[ib];

            if (x != y)
                return x < y ? -1 : 1;
        }
    }
    return 0;
}

/* Stable merge sort of slice indices (ties keep index order). */
static void
sort_slices(const struct slices *s, int64_t *idx, int64_t *tmp, int64_t n)
{
    int64_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    sort_slices(s, idx, tmp, mid);
    sort_slices(s, idx + mid, tmp, n - mid);
    while (i < mid && j < n)
        tmp[k++] = slice_compare(s, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
    while (i < mid)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof(*idx));
}

struct unique_result {
    int64_t n_unique;
    int64_t *first;                      /* per unique slice: first index in the input */
    int64_t *count;
    int64_t *inverse;                    /* per input slice: its unique slice */
};

static void
unique_find(const struct slices *s, int sorted, struct unique_result *r)
{
    int64_t n = (int64_t)s->len, *order = qs_calloc((size_t)n + 1, sizeof(*order));
    int64_t *tmp = qs_calloc((size_t)n + 1, sizeof(*tmp));
    int64_t *group = qs_calloc((size_t)n + 1, sizeof(*group));
    int64_t *rank = qs_calloc((size_t)n + 1, sizeof(*rank));

    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    sort_slices(s, order, tmp, n);
    r->first = qs_calloc((size_t)n + 1, sizeof(*r->first));
    r->count = qs_calloc((size_t)n + 1, sizeof(*r->count));
    r->inverse = qs_calloc((size_t)n + 1, sizeof(*r->inverse));
    r->n_unique = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || slice_compare(s, order[i - 1], order[i]) != 0)
            r->first[r->n_unique++] = order[i];
        group[order[i]] = r->n_unique - 1;
        r->count[r->n_unique - 1]++;
    }
    /* Unsorted output lists unique slices by first occurrence. */
    for (int64_t g = 0; g < r->n_unique; g++)
        order[g] = g;
    if (!sorted) {
        for (int64_t a = 1; a < r->n_unique; a++) {
            for (int64_t b = a; b > 0 && r->first[order[b]] < r->first[order[b - 1]]; b--) {
                int64_t t = order[b];

                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        }
    }
    for (int64_t g = 0; g < r->n_unique; g++)
        rank[order[g]] = g;
    for (int64_t i = 0; i < n; i++)
        r->inverse[i] = rank[group[i]];
    for (int64_t g = 0; g < r->n_unique; g++)
        tmp[g] = r->first[order[g]];
    memcpy(r->first, tmp, (size_t)r->n_unique * sizeof(*tmp));
    for (int64_t g = 0; g < r->n_unique; g++)
        tmp[g] = r->count[order[g]];
    memcpy(r->count, tmp, (size_t)r->n_unique * sizeof(*tmp));
    free(order);
    free(tmp);
    free(group);
    free(rank);
}

static enum qs_status
unique_outputs(struct interp_call *call, const struct slices *s, const struct unique_result *r,
               int axis)
{
    const struct qs_rt_tensor *x = s->t;
    int64_t dims[QS_RT_MAX_RANK], n = r->n_unique, len = (int64_t)s->len;
    int esize = rt_esize(x);
    enum qs_status st;

    memcpy(dims, x->dims, sizeof(dims));
    dims[axis < 0 ? 0 : axis] = n;
    st = interp_new(call, x->dtype, axis < 0 ? 1 : x->rank, dims, &call->out[0]);
    for (uint64_t o = 0; st == QS_OK && o < s->outer; o++) {
        for (int64_t g = 0; g < n; g++) {
            uint64_t to = (o * (uint64_t)n + (uint64_t)g) * s->inner;
            uint64_t from = (o * s->len + (uint64_t)r->first[g]) * s->inner;

            memcpy((char *)call->out[0]->data + to * (uint64_t)esize,
                   (const char *)x->data + from * (uint64_t)esize,
                   (size_t)(s->inner * (uint64_t)esize));
        }
    }
    for (size_t k = 1; k < 4 && k < call->n_out && st == QS_OK; k++) {
        const int64_t *const sources[4] = { NULL, r->first, r->inverse, r->count };
        const int64_t *src = sources[k];
        int64_t m = k == 2 ? len : n;

        st = interp_new(call, QS_DT_INT64, 1, &m, &call->out[k]);
        if (st == QS_OK && m > 0)
            memcpy(rt_i(call->out[k]), src, (size_t)m * sizeof(*src));
    }
    return st;
}

enum qs_status
op_unique(struct interp_call *call)
{
    struct slices s;
    struct unique_result r;
    int axis = -1, sorted = (int)qs_node_attr_int(call->node, "sorted", 1);
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK && qs_node_attr(call->node, "axis"))
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", 0), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    s.t = call->in[0];
    s.outer = axis < 0 ? 1 : rt_span(s.t->dims, 0, axis);
    s.len = axis < 0 ? s.t->count : (uint64_t)s.t->dims[axis];
    s.inner = axis < 0 ? 1 : rt_span(s.t->dims, axis + 1, s.t->rank);
    unique_find(&s, sorted, &r);
    st = unique_outputs(call, &s, &r, axis);
    free(r.first);
    free(r.count);
    free(r.inverse);
    return st;
}

/* ---- Einsum ----------------------------------------------------------------- */

#define EINSUM_LABELS 64

/*
 * Einsum sums every label combination directly: O(product of all label
 * sizes).  Beyond this many products it reports the node as unsupported.
 * TODO: contract pairs of operands through the matrix product instead.
 */
#define EINSUM_MAX_TERMS ((uint64_t)1 << 32)

struct einsum {
    int n_ops;
    int labels[8][QS_RT_MAX_RANK];       /* label id per operand axis */
    int n_out;
    int out[QS_RT_MAX_RANK];
    int n_labels;
    int64_t size[EINSUM_LABELS];
};

/* Map a letter to a label id; ellipsis dims use ids 52 and above. */
static int
einsum_label(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* Parse one term ("ij", "...ii") for an operand of rank "rank" (or -1 for the output). */
static int
einsum_term(const char *s, size_t len, int rank, int ell_rank, int *out)
{
    int n = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' && i + 2 < len && s[i + 1] == '.' && s[i + 2] == '.') {
            int k = rank >= 0 ? rank - ((int)len - 3) : ell_rank;

            for (int e = ell_rank - k; e < ell_rank; e++)
                out[n++] = 52 + e;
            i += 2;
            continue;
        }
        if (einsum_label(s[i]) < 0 || n >= QS_RT_MAX_RANK)
            return -1;
        out[n++] = einsum_label(s[i]);
    }
    return n;
}

static enum qs_status
einsum_parse(struct interp_call *call, struct einsum *e)
{
    size_t len;
    const char *eq = qs_node_attr_string(call->node, "equation", "", &len);
    char buf[256];
    char *arrow, *term, *save = NULL;
    int ell_rank = 0, seen[EINSUM_LABELS] = { 0 };

    if (len == 0 || len >= sizeof(buf) || call->n_in > 8)
        return interp_fail(call, QS_UNSUPPORTED,
                           "equation is empty, too long, or has over 8 operands");
    memcpy(buf, eq, len);
    buf[len] = '\0';
    for (char *p = buf, *q = buf; ; p++) {
        if (*p != ' ')
            *q++ = *p;
        if (!*p)
            break;
    }
    arrow = strstr(buf, "->");
    if (arrow)
        *arrow = '\0';
    memset(e, 0, sizeof(*e));
    /* Ellipsis dims are right-aligned across operands: find the most first. */
    for (size_t k = 0, t = 0; k < call->n_in; k++) {
        const char *end = strchr(buf + t, ',');
        size_t tlen = end ? (size_t)(end - (buf + t)) : strlen(buf + t);
        int rank = call->in[k]->rank;

        if (memmem(buf + t, tlen, "...", 3) && rank - ((int)tlen - 3) > ell_rank)
            ell_rank = rank - ((int)tlen - 3);
        t += tlen + (end ? 1 : 0);
        if (!end)
            break;
    }
    for (term = strtok_r(buf, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
        int rank = e->n_ops < (int)call->n_in ? call->in[e->n_ops]->rank : -1;

        if (rank < 0
            || einsum_term(term, strlen(term), rank, ell_rank, e->labels[e->n_ops]) != rank)
            return interp_fail(call, QS_INVALID,
                               "term %d of the equation does not match its operand", e->n_ops);
        e->n_ops++;
    }
    if (e->n_ops != (int)call->n_in)
        return interp_fail(call, QS_INVALID, "the equation has %d terms for %zu inputs",
                           e->n_ops, call->n_in);

    for (int k = 0; k < e->n_ops; k++) {
        for (int a = 0; a < call->in[k]->rank; a++)
            seen[e->labels[k][a]]++;
    }
    if (arrow) {
        e->n_out = einsum_term(arrow + 2, strlen(arrow + 2), -1, ell_rank, e->out);
        if (e->n_out < 0)
            return interp_fail(call, QS_INVALID, "the output term is invalid");
    } else {
        for (int l = 52; l < 52 + ell_rank; l++)
            e->out[e->n_out++] = l;
        for (int l = 0; l < 52; l++) {
            if (seen[l] == 1)
                e->out[e->n_out++] = l;
        }
    }
    return QS_OK;
}

static enum qs_status
einsum_sizes(struct interp_call *call, struct einsum *e)
{
    for (int l = 0; l < EINSUM_LABELS; l++)
        e->size[l] = -1;
    for (int k = 0; k < e->n_ops; k++) {
        for (int a = 0; a < call->in[k]->rank; a++) {
            int l = e->labels[k][a];
            int64_t d = call->in[k]->dims[a];

            if (e->size[l] < 0 || e->size[l] == 1)
                e->size[l] = d;
            else if (d != 1 && d != e->size[l])
                return interp_fail(call, QS_INVALID, "label dims differ (%lld and %lld)",
                                   (long long)d, (long long)e->size[l]);
        }
    }
    for (int i = 0; i < e->n_out; i++) {
        if (e->size[e->out[i]] < 0)
            return interp_fail(call, QS_INVALID, "an output label appears in no input");
    }
    return QS_OK;
}

enum qs_status
op_einsum(struct interp_call *call)
{
    struct einsum e;
    int64_t dims[QS_RT_MAX_RANK], idx[EINSUM_LABELS] = { 0 };
    int all[EINSUM_LABELS], n_all = 0, in_out[EINSUM_LABELS] = { 0 };
    uint64_t total = 1;
    enum qs_status st = interp_need_inputs(call, call->n_in);

    for (size_t k = 0; st == QS_OK && k < call->n_in; k++)
        st = interp_need_float(call, k);
    if (st == QS_OK)
        st = einsum_parse(call, &e);
    if (st == QS_OK)
        st = einsum_sizes(call, &e);
    for (int i = 0; st == QS_OK && i < e.n_out; i++) {
        dims[i] = e.size[e.out[i]];
        all[n_all++] = e.out[i];
        in_out[e.out[i]] = 1;
    }
    if (st == QS_OK)
        st = interp_new(call, call->in[0]->dtype, e.n_out, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (int l = 0; l < EINSUM_LABELS; l++) {
        if (e.size[l] >= 0 && !in_out[l])
            all[n_all++] = l;
    }
    for (int i = 0; i < n_all; i++) {
        if (qs_mul_overflow_u64(total, (uint64_t)e.size[all[i]], &total)
            || total > EINSUM_MAX_TERMS)
            return interp_fail(call, QS_UNSUPPORTED,
                               "the equation needs more than %llu products, "
                               "too many for direct summation",
                               (unsigned long long)EINSUM_MAX_TERMS);
    }
    for (uint64_t it = 0; it < total; it++) {
        double prod = 1;
        uint64_t o = 0;

        for (int k = 0; k < e.n_ops; k++) {
            const struct qs_rt_tensor *t = call->in[k];
            uint64_t off = 0;

            for (int a = 0; a < t->rank; a++)
                off = off * (uint64_t)t->dims[a]
                      + (t->dims[a] == 1 ? 0 : (uint64_t)idx[e.labels[k][a]]);
            prod *= rt_f(t)[off];
        }
        for (int i = 0; i < e.n_out; i++)
            o = o * (uint64_t)dims[i] + (uint64_t)idx[e.out[i]];
        rt_f(call->out[0])[o] += (float)prod;
        for (int i = n_all - 1; i >= 0; i--) {
            if (++idx[all[i]] < e.size[all[i]])
                break;
            idx[all[i]] = 0;
        }
    }
    return QS_OK;
}

/* ---- Det ----------------------------------------------------------------------- */

static double
determinant(double *a, int64_t n)
{
    double det = 1;

    for (int64_t c = 0; c < n; c++) {
        int64_t pivot = c;

        for (int64_t r = c + 1; r < n; r++) {
            if (fabs(a[r * n + c]) > fabs(a[pivot * n + c]))
                pivot = r;
        }
        if (a[pivot * n + c] == 0)
            return 0;
        if (pivot != c) {
            for (int64_t k = 0; k < n; k++) {
                double t = a[c * n + k];

                a[c * n + k] = a[pivot * n + k];
                a[pivot * n + k] = t;
            }
            det = -det;
        }
        det *= a[c * n + c];
        for (int64_t r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];

            for (int64_t k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
        }
    }
    return det;
}

enum qs_status
op_det(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t n;
    uint64_t batch;
    double *m;
    enum qs_status st = interp_need_rank(call, 0, 2, QS_RT_MAX_RANK);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    n = x->dims[x->rank - 1];
    if (x->dims[x->rank - 2] != n || n > 4096)
        return interp_fail(call, QS_INVALID, "the last two dims must be equal (and at most 4096)");
    st = interp_new(call, x->dtype, x->rank - 2, x->dims, &call->out[0]);
    if (st != QS_OK)
        return st;
    batch = rt_span(x->dims, 0, x->rank - 2);
    m = qs_calloc((size_t)(n * n) + 1, sizeof(*m));
    for (uint64_t b = 0; b < batch; b++) {
        for (int64_t i = 0; i < n * n; i++)
            m[i] = rt_f(x)[b * (uint64_t)(n * n) + (uint64_t)i];
        rt_f(call->out[0])[b] = (float)determinant(m, n);
    }
    free(m);
    return QS_OK;
}

/* ---- TfIdfVectorizer --------------------------------------------------------------- */

struct tfidf {
    int64_t min_n, max_n, max_skip, out_len;
    const int64_t *counts, *indexes, *pool;
    ptrdiff_t n_counts, n_indexes, n_pool;
    const float *weights;
    ptrdiff_t n_weights;
    int mode;                            /* 0 TF, 1 IDF, 2 TFIDF */
};

const char *
check_tfidf(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    const int64_t *v;

    (void)opset;
    (void)buf;
    (void)size;
    if (qs_node_attr_ints(node, "pool_int64s", &v) < 0)
        return "only pool_int64s is supported (string pools are not)";
    return NULL;
}

/* Output index of the n-gram "tokens" (n entries), or -1. */
static int64_t
tfidf_lookup(const struct tfidf *t, int64_t n, const int64_t *tokens)
{
    int64_t start = t->counts[n - 1], end = n < t->n_counts ? t->counts[n] : t->n_pool;
    int64_t first_gram = 0;

    for (int64_t k = 0; k < n - 1; k++)
        first_gram += ((k + 1 < t->n_counts ? t->counts[k + 1] : t->n_pool) - t->counts[k])
                      / (k + 1);
    for (int64_t p = start, g = 0; p + n <= end; p += n, g++) {
        if (memcmp(t->pool + p, tokens, (size_t)n * sizeof(*tokens)) == 0)
            return first_gram + g < t->n_indexes ? t->indexes[first_gram + g] : -1;
    }
    return -1;
}

static void
tfidf_row(const struct tfidf *t, const int64_t *row, int64_t len, float *out)
{
    int64_t gram[64];

    for (int64_t skip = 0; skip <= t->max_skip; skip++) {
        for (int64_t start = 0; start < len; start++) {
            for (int64_t n = t->min_n; n <= t->max_n && n <= t->n_counts; n++) {
                int64_t at;

                if ((n == 1 && skip > 0) || start + (n - 1) * (skip + 1) >= len)
                    continue;
                for (int64_t k = 0; k < n; k++)
                    gram[k] = row[start + k * (skip + 1)];
                at = tfidf_lookup(t, n, gram);
                if (at >= 0 && at < t->out_len)
                    out[at] += 1;
            }
        }
    }
    for (int64_t i = 0; i < t->out_len; i++) {
        float w = t->weights && i < t->n_weights ? t->weights[i] : 1.0f;

        if (t->mode == 1)
            out[i] = out[i] > 0 ? w : 0;
        else if (t->mode == 2)
            out[i] *= w;
    }
}

enum qs_status
op_tfidf_vectorizer(struct interp_call *call)
{
    struct tfidf t;
    size_t len;
    const char *mode = qs_node_attr_string(call->node, "mode", "TF", &len);
    const struct qs_rt_tensor *x;
    int64_t dims[2], rows, cols;
    enum qs_status st = interp_need_rank(call, 0, 1, 2);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    if (qs_rt_is_float(x->dtype))
        return interp_fail(call, QS_INVALID, "input must hold integer tokens");
    t.min_n = qs_node_attr_int(call->node, "min_gram_length", 1);
    t.max_n = qs_node_attr_int(call->node, "max_gram_length", 1);
    t.max_skip = qs_node_attr_int(call->node, "max_skip_count", 0);
    t.n_counts = qs_node_attr_ints(call->node, "ngram_counts", &t.counts);
    t.n_indexes = qs_node_attr_ints(call->node, "ngram_indexes", &t.indexes);
    t.n_pool = qs_node_attr_ints(call->node, "pool_int64s", &t.pool);
    t.n_weights = qs_node_attr_floats(call->node, "weights", &t.weights);
    t.mode = 0;
    if (len == 3 && memcmp(mode, "IDF", 3) == 0)
        t.mode = 1;
    else if (len == 5 && memcmp(mode, "TFIDF", 5) == 0)
        t.mode = 2;
    if (t.min_n < 1 || t.max_n < t.min_n || t.max_n > 64 || t.max_skip < 0 || t.n_counts < 1
        || t.n_indexes < 1 || t.n_pool < 0 || t.max_skip > INT32_MAX)
        return interp_fail(call, QS_INVALID, "n-gram attributes are missing or inconsistent");
    for (ptrdiff_t i = 0; i < t.n_counts; i++) {
        if (t.counts[i] < (i ? t.counts[i - 1] : 0) || t.counts[i] > t.n_pool)
            return interp_fail(call, QS_INVALID, "ngram_counts must rise within the pool");
    }
    for (ptrdiff_t i = 0; i < t.n_indexes; i++) {
        if (t.indexes[i] < 0 || t.indexes[i] > INT32_MAX)
            return interp_fail(call, QS_INVALID, "ngram_indexes must be non-negative");
    }
    t.out_len = 0;
    for (ptrdiff_t i = 0; i < t.n_indexes; i++)
        t.out_len = t.indexes[i] + 1 > t.out_len ? t.indexes[i] + 1 : t.out_len;

    rows = x->rank == 2 ? x->dims[0] : 1;
    cols = x->dims[x->rank - 1];
    dims[0] = rows;
    dims[1] = t.out_len;
    st = interp_new(call, QS_DT_FLOAT, x->rank, x->rank == 2 ? dims : dims + 1, &call->out[0]);
    for (int64_t r = 0; st == QS_OK && r < rows; r++)
        tfidf_row(&t, rt_i(x) + r * cols, cols, rt_f(call->out[0]) + r * t.out_len);
    return st;
}
