/*
 * Element-wise ops: unary functions, binary arithmetic, comparison and
 * logic with numpy broadcasting, the variadic Max/Min/Sum/Mean, Where
 * and Clip.  Kernels are plain loops the compiler vectorises; the op code
 * is switched on outside each loop.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

/* Element-wise work below this many elements stays on one thread. */
#define ELEMENTWISE_CHUNK 32768

struct unary_job {
    int code;
    const float *x;
    float *y;
    float alpha, beta, gamma;
    int detect_negative, detect_positive;
};

static float
sigmoid(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    return expf(x) / (1.0f + expf(x));
}

/* -1, 0 or 1; zeros and NaN are returned as they are. */
static float
sign_of(float x)
{
    if (x > 0)
        return 1.0f;
    if (x < 0)
        return -1.0f;
    return x;
}

static float
softplus(float x)
{
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

/* Activation functions with attributes. */
static void
unary_activation(const struct unary_job *j, int64_t b, int64_t e)
{
    const float *x = j->x;
    float *y = j->y;
    float a = j->alpha, be = j->beta, g = j->gamma;

    switch (j->code) {
    case UN_HARDSIGMOID:
        for (int64_t i = b; i < e; i++)
            y[i] = fmaxf(0.0f, fminf(1.0f, a * x[i] + be));
        break;
    case UN_HARDSWISH:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] * fmaxf(0.0f, fminf(1.0f, x[i] / 6.0f + 0.5f));
        break;
    case UN_LEAKYRELU:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] < 0 ? a * x[i] : x[i];
        break;
    case UN_ELU:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] < 0 ? a * (expf(x[i]) - 1.0f) : x[i];
        break;
    case UN_SELU:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] <= 0 ? g * (a * expf(x[i]) - a) : g * x[i];
        break;
    case UN_CELU:
        for (int64_t i = b; i < e; i++)
            y[i] = fmaxf(0.0f, x[i]) + fminf(0.0f, a * (expf(x[i] / a) - 1.0f));
        break;
    case UN_THRESHOLDEDRELU:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] > a ? x[i] : 0.0f;
        break;
    case UN_SHRINK:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] < -g ? x[i] + be : x[i] > g ? x[i] - be : 0.0f;
        break;
    case UN_GELU:
        if (a != 0) {
            for (int64_t i = b; i < e; i++)
                y[i] = 0.5f * x[i]
                       * (1.0f + tanhf(0.7978845608f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
        } else {
            for (int64_t i = b; i < e; i++)
                y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
        }
        break;
    case UN_MISH:
        for (int64_t i = b; i < e; i++)
            y[i] = x[i] * tanhf(softplus(x[i]));
        break;
    }
}

/* Plain math functions. */
INTERP_VECTOR_CLONES static void
unary_math(const struct unary_job *j, int64_t b, int64_t e)
{
    const float *x = j->x;
    float *y = j->y;

#define UNARY_LOOP(expr) for (int64_t i = b; i < e; i++) { float v = x[i]; y[i] = (expr); } break
    switch (j->code) {
    case UN_ABS:        UNARY_LOOP(fabsf(v));
    case UN_NEG:        UNARY_LOOP(-v);
    case UN_FLOOR:      UNARY_LOOP(floorf(v));
    case UN_CEIL:       UNARY_LOOP(ceilf(v));
    case UN_ROUND:      UNARY_LOOP(nearbyintf(v));
    case UN_SQRT:       UNARY_LOOP(sqrtf(v));
    case UN_RECIPROCAL: UNARY_LOOP(1.0f / v);
    case UN_EXP:        UNARY_LOOP(expf(v));
    case UN_LOG:        UNARY_LOOP(logf(v));
    case UN_TANH:       UNARY_LOOP(tanhf(v));
    case UN_SIGMOID:    UNARY_LOOP(sigmoid(v));
    case UN_RELU:       UNARY_LOOP(v > 0 ? v : 0.0f);
    case UN_ERF:        UNARY_LOOP(erff(v));
    case UN_SIN:        UNARY_LOOP(sinf(v));
    case UN_COS:        UNARY_LOOP(cosf(v));
    case UN_TAN:        UNARY_LOOP(tanf(v));
    case UN_ASIN:       UNARY_LOOP(asinf(v));
    case UN_ACOS:       UNARY_LOOP(acosf(v));
    case UN_ATAN:       UNARY_LOOP(atanf(v));
    case UN_SINH:       UNARY_LOOP(sinhf(v));
    case UN_COSH:       UNARY_LOOP(coshf(v));
    case UN_ASINH:      UNARY_LOOP(asinhf(v));
    case UN_ACOSH:      UNARY_LOOP(acoshf(v));
    case UN_ATANH:      UNARY_LOOP(atanhf(v));
    case UN_SOFTPLUS:   UNARY_LOOP(softplus(v));
    case UN_SOFTSIGN:   UNARY_LOOP(v / (1.0f + fabsf(v)));
    case UN_SIGN:       UNARY_LOOP(sign_of(v));
    default:
        unary_activation(j, b, e);
        break;
    }
#undef UNARY_LOOP
}

static void
unary_chunk(void *ctx, int64_t b, int64_t e)
{
    unary_math(ctx, b, e);
}

static enum qs_status
unary_int(struct interp_call *call, const struct qs_rt_tensor *x, struct qs_rt_tensor *y)
{
    const int64_t *a = rt_i(x);
    int64_t *o = rt_i(y);
    uint64_t n = x->count;

    switch (call->op->arg) {
    case UN_ABS:
        for (uint64_t i = 0; i < n; i++)
            o[i] = a[i] < 0 ? (int64_t)(0 - (uint64_t)a[i]) : a[i];
        break;
    case UN_NEG:
        for (uint64_t i = 0; i < n; i++)
            o[i] = (int64_t)(0 - (uint64_t)a[i]);
        break;
    case UN_SIGN:
        for (uint64_t i = 0; i < n; i++)
            o[i] = x->dtype == QS_DT_UINT64 ? a[i] != 0 : (a[i] > 0) - (a[i] < 0);
        break;
    case UN_RELU:
        for (uint64_t i = 0; i < n; i++)
            o[i] = a[i] > 0 ? a[i] : 0;
        break;
    case UN_NOT:
        for (uint64_t i = 0; i < n; i++)
            o[i] = x->dtype == QS_DT_BOOL ? !a[i] : ~a[i];
        break;
    case UN_ISNAN:
    case UN_ISINF:
        break;
    default:
        return interp_fail(call, QS_UNSUPPORTED, "element type %s is not supported",
                           qs_dtype_name(x->dtype));
    }
    return QS_OK;
}

static void
unary_classify(const struct unary_job *j, const float *x, int64_t *o, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (j->code == UN_ISNAN)
            o[i] = isnan(x[i]) != 0;
        else
            o[i] = isinf(x[i]) && ((x[i] > 0 && j->detect_positive)
                                   || (x[i] < 0 && j->detect_negative));
    }
}

static void
unary_attributes(const struct qs_node *node, struct unary_job *j)
{
    j->alpha = qs_node_attr_float(node, "alpha", 0.0f);
    j->beta = qs_node_attr_float(node, "beta", 0.0f);
    switch (j->code) {
    case UN_HARDSIGMOID:
        j->alpha = qs_node_attr_float(node, "alpha", 0.2f);
        j->beta = qs_node_attr_float(node, "beta", 0.5f);
        break;
    case UN_LEAKYRELU:
        j->alpha = qs_node_attr_float(node, "alpha", 0.01f);
        break;
    case UN_ELU:
    case UN_CELU:
    case UN_THRESHOLDEDRELU:
        j->alpha = qs_node_attr_float(node, "alpha", 1.0f);
        break;
    case UN_SELU:
        /* Defaults from the ONNX Selu definition. */
        j->alpha = qs_node_attr_float(node, "alpha", 1.67326319217681884765625f);
        j->gamma = qs_node_attr_float(node, "gamma", 1.05070102214813232421875f);
        break;
    case UN_SHRINK:
        j->beta = qs_node_attr_float(node, "bias", 0.0f);
        j->gamma = qs_node_attr_float(node, "lambd", 0.5f);
        break;
    case UN_GELU: {
        size_t len;
        const char *s = qs_node_attr_string(node, "approximate", "none", &len);

        j->alpha = len == 4 && memcmp(s, "tanh", 4) == 0;
        break;
    }
    }
    j->detect_negative = (int)qs_node_attr_int(node, "detect_negative", 1);
    j->detect_positive = (int)qs_node_attr_int(node, "detect_positive", 1);
}

enum qs_status
op_unary(struct interp_call *call)
{
    struct unary_job job = { .code = call->op->arg };
    const struct qs_rt_tensor *x;
    int classify = job.code == UN_ISNAN || job.code == UN_ISINF;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    st = interp_new_uninit(call, classify ? QS_DT_BOOL : x->dtype, x->rank, x->dims, &call->out[0]);
    if (st != QS_OK)
        return st;
    if (!qs_rt_is_float(x->dtype))
        return unary_int(call, x, call->out[0]);
    if (job.code == UN_NOT)
        return interp_fail(call, QS_INVALID, "input has element type %s, bool expected",
                           qs_dtype_name(x->dtype));

    unary_attributes(call->node, &job);
    if (classify) {
        unary_classify(&job, rt_f(x), rt_i(call->out[0]), x->count);
        return QS_OK;
    }
    job.x = rt_f(x);
    job.y = rt_f(call->out[0]);
    interp_parallel_for(call, (int64_t)x->count, ELEMENTWISE_CHUNK, unary_chunk, &job);
    return QS_OK;
}

/* ---- binary ------------------------------------------------------------- */

struct binary_job {
    int code;
    int dtype;                  /* input element type */
    int fmod;                   /* Mod: C remainder instead of Python modulo */
    int shift_left;             /* BitShift direction */
    const void *a, *b;
    void *o;
};

#define ROW_LOOP(TI, TO, EXPR) do { \
        const TI *pa = (const TI *)j->a + off[0], *pb = (const TI *)j->b + off[1]; \
        TO *po = (TO *)j->o + out; \
        if (steps[0] && steps[1]) { \
            for (int64_t i = 0; i < len; i++) { TI x = pa[i], y = pb[i]; po[i] = (EXPR); } \
        } else if (steps[1]) { \
            TI x = pa[0]; \
            for (int64_t i = 0; i < len; i++) { TI y = pb[i]; po[i] = (EXPR); } \
        } else if (steps[0]) { \
            TI y = pb[0]; \
            for (int64_t i = 0; i < len; i++) { TI x = pa[i]; po[i] = (EXPR); } \
        } else { \
            TI x = pa[0], y = pb[0]; \
            for (int64_t i = 0; i < len; i++) po[i] = (EXPR); \
        } \
    } while (0)

INTERP_VECTOR_CLONES static void
float_row(void *ctx, uint64_t out, const int64_t *off, const int64_t *steps, int64_t len)
{
    const struct binary_job *j = ctx;

    switch (j->code) {
    case BIN_ADD:           ROW_LOOP(float, float, x + y); break;
    case BIN_SUB:           ROW_LOOP(float, float, x - y); break;
    case BIN_MUL:           ROW_LOOP(float, float, x * y); break;
    case BIN_DIV:           ROW_LOOP(float, float, x / y); break;
    case BIN_POW:           ROW_LOOP(float, float, powf(x, y)); break;
    case BIN_MOD:           ROW_LOOP(float, float, fmodf(x, y)); break;
    case BIN_MAX:           ROW_LOOP(float, float, isnan(x) || x >= y ? x : y); break;
    case BIN_MIN:           ROW_LOOP(float, float, isnan(x) || x <= y ? x : y); break;
    case BIN_PRELU:         ROW_LOOP(float, float, x < 0 ? x * y : x); break;
    case BIN_EQUAL:         ROW_LOOP(float, int64_t, x == y); break;
    case BIN_LESS:          ROW_LOOP(float, int64_t, x < y); break;
    case BIN_GREATER:       ROW_LOOP(float, int64_t, x > y); break;
    case BIN_LESS_EQUAL:    ROW_LOOP(float, int64_t, x <= y); break;
    case BIN_GREATER_EQUAL: ROW_LOOP(float, int64_t, x >= y); break;
    }
}

static int64_t
int_div(int64_t x, int64_t y, int is_unsigned)
{
    if (y == 0)
        return 0;
    if (is_unsigned)
        return (int64_t)((uint64_t)x / (uint64_t)y);
    if (x == INT64_MIN && y == -1)
        return INT64_MIN;
    return x / y;
}

/* Remainder with the sign of the divisor (Python), or of the dividend with "fmod". */
static int64_t
int_mod(int64_t x, int64_t y, int fmod_sign, int is_unsigned)
{
    int64_t r;

    if (y == 0)
        return 0;
    if (is_unsigned)
        return (int64_t)((uint64_t)x % (uint64_t)y);
    if (y == -1)
        return 0;
    r = x % y;
    if (!fmod_sign && r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}

static int64_t
int_pow(int64_t x, int64_t y)
{
    uint64_t result = 1, base = (uint64_t)x;

    if (y < 0)
        return x == 1 ? 1 : x == -1 ? (y % 2 ? -1 : 1) : 0;
    while (y > 0) {
        if (y & 1)
            result *= base;
        base *= base;
        y >>= 1;
    }
    return (int64_t)result;
}

static int64_t
int_shift(int64_t x, int64_t y, int left)
{
    if (y < 0 || y >= 64)
        return 0;
    return left ? (int64_t)((uint64_t)x << y) : (int64_t)((uint64_t)x >> y);
}

static void
int_row(void *ctx, uint64_t out, const int64_t *off, const int64_t *steps, int64_t len)
{
    const struct binary_job *j = ctx;
    int u = j->dtype == QS_DT_UINT64;

    switch (j->code) {
    case BIN_ADD: ROW_LOOP(int64_t, int64_t, (int64_t)((uint64_t)x + (uint64_t)y)); break;
    case BIN_SUB: ROW_LOOP(int64_t, int64_t, (int64_t)((uint64_t)x - (uint64_t)y)); break;
    case BIN_MUL: ROW_LOOP(int64_t, int64_t, (int64_t)((uint64_t)x * (uint64_t)y)); break;
    case BIN_DIV: ROW_LOOP(int64_t, int64_t, int_div(x, y, u)); break;
    case BIN_POW: ROW_LOOP(int64_t, int64_t, int_pow(x, y)); break;
    case BIN_MOD: ROW_LOOP(int64_t, int64_t, int_mod(x, y, j->fmod, u)); break;
    case BIN_MAX:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x >= (uint64_t)y ? x : y);
        else
            ROW_LOOP(int64_t, int64_t, x >= y ? x : y);
        break;
    case BIN_MIN:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x <= (uint64_t)y ? x : y);
        else
            ROW_LOOP(int64_t, int64_t, x <= y ? x : y);
        break;
    case BIN_PRELU:
        ROW_LOOP(int64_t, int64_t, x < 0 ? (int64_t)((uint64_t)x * (uint64_t)y) : x);
        break;
    case BIN_EQUAL: ROW_LOOP(int64_t, int64_t, x == y); break;
    case BIN_LESS:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x < (uint64_t)y);
        else
            ROW_LOOP(int64_t, int64_t, x < y);
        break;
    case BIN_GREATER:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x > (uint64_t)y);
        else
            ROW_LOOP(int64_t, int64_t, x > y);
        break;
    case BIN_LESS_EQUAL:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x <= (uint64_t)y);
        else
            ROW_LOOP(int64_t, int64_t, x <= y);
        break;
    case BIN_GREATER_EQUAL:
        if (u)
            ROW_LOOP(int64_t, int64_t, (uint64_t)x >= (uint64_t)y);
        else
            ROW_LOOP(int64_t, int64_t, x >= y);
        break;
    case BIN_AND: ROW_LOOP(int64_t, int64_t, x && y); break;
    case BIN_OR:  ROW_LOOP(int64_t, int64_t, x || y); break;
    case BIN_XOR: ROW_LOOP(int64_t, int64_t, !x != !y); break;
    case BIN_BITSHIFT: ROW_LOOP(int64_t, int64_t, int_shift(x, y, j->shift_left)); break;
    case BIN_BITWISE_AND: ROW_LOOP(int64_t, int64_t, x & y); break;
    case BIN_BITWISE_OR:  ROW_LOOP(int64_t, int64_t, x | y); break;
    case BIN_BITWISE_XOR: ROW_LOOP(int64_t, int64_t, x ^ y); break;
    }
}

/* Pow with an exponent of another type: computed in double, stored in the base's type. */
static void
mixed_pow_row(void *ctx, uint64_t out, const int64_t *off, const int64_t *steps, int64_t len)
{
    const struct binary_job *j = ctx;
    const struct qs_rt_tensor *const *t = j->a;
    int fa = qs_rt_is_float(t[0]->dtype), fb = qs_rt_is_float(t[1]->dtype);

    for (int64_t i = 0; i < len; i++) {
        int64_t ia = off[0] + i * steps[0], ib = off[1] + i * steps[1];
        double x = fa ? rt_f(t[0])[ia] : (double)rt_i(t[0])[ia];
        double y = fb ? rt_f(t[1])[ib] : (double)rt_i(t[1])[ib];
        double r = pow(x, y);

        if (fa)
            ((float *)j->o)[out + (uint64_t)i] = (float)r;
        else
            ((int64_t *)j->o)[out + (uint64_t)i] = isfinite(r) && fabs(r) < 9.2e18 ? (int64_t)r : 0;
    }
}

static int
is_comparison(int code)
{
    return code >= BIN_EQUAL && code <= BIN_XOR;
}

static int
is_int_only(int code)
{
    return code >= BIN_AND;
}

/*
 * Before opset 7, Add, Sub, Mul and Div broadcast only with the attribute
 * broadcast=1, aligning B at "axis" of A.  Returns the view of B that
 * numpy rules broadcast the same way (a new reference).
 */
static enum qs_status
legacy_broadcast_view(struct interp_call *call, struct qs_rt_tensor **b)
{
    const struct qs_rt_tensor *a = call->in[0];
    struct qs_rt_tensor *src = call->in[1];
    int64_t axis = qs_node_attr_int(call->node, "axis", a->rank - src->rank);
    int64_t dims[QS_RT_MAX_RANK];
    int rank = src->rank;

    *b = NULL;
    if (axis < 0)
        axis += a->rank;
    if (axis < 0 || axis + src->rank > a->rank)
        return interp_fail(call, QS_INVALID, "broadcast axis %lld does not fit ranks %d and %d",
                           (long long)axis, a->rank, src->rank);
    memcpy(dims, src->dims, sizeof(dims));
    while (rank < a->rank - axis)
        dims[rank++] = 1;
    return interp_view(call, src, rank, dims, b);
}

static enum qs_status
binary_setup(struct interp_call *call, const struct binary_job *j,
             const struct qs_rt_tensor *const *t)
{
    int code = j->code;

    if (code == BIN_POW && qs_rt_is_float(t[0]->dtype) != qs_rt_is_float(t[1]->dtype))
        return QS_OK;
    if (qs_rt_is_float(t[0]->dtype) != qs_rt_is_float(t[1]->dtype)
        || (t[0]->dtype != t[1]->dtype && code != BIN_POW && code != BIN_PRELU))
        return interp_fail(call, QS_INVALID, "inputs have different element types (%s and %s)",
                           qs_dtype_name(t[0]->dtype), qs_dtype_name(t[1]->dtype));
    if (qs_rt_is_float(t[0]->dtype) && is_int_only(code))
        return interp_fail(call, QS_INVALID, "element type %s is not an integer or bool type",
                           qs_dtype_name(t[0]->dtype));
    if (code == BIN_MOD && qs_rt_is_float(t[0]->dtype) && !j->fmod)
        return interp_fail(call, QS_INVALID, "Mod of float inputs needs fmod=1");
    return QS_OK;
}

enum qs_status
interp_binary(struct interp_call *call, int code, const struct qs_rt_tensor *a,
             const struct qs_rt_tensor *b, struct qs_rt_tensor **out)
{
    const struct qs_rt_tensor *t[2] = { a, b };
    struct binary_job j = { .code = code, .dtype = a->dtype };
    struct interp_bcast bc;
    size_t len;
    const char *dir = qs_node_attr_string(call->node, "direction", "", &len);
    int mixed = code == BIN_POW && qs_rt_is_float(a->dtype) != qs_rt_is_float(b->dtype);
    enum qs_status st;

    j.fmod = (int)qs_node_attr_int(call->node, "fmod", 0);
    j.shift_left = len == 4 && memcmp(dir, "LEFT", 4) == 0;
    st = binary_setup(call, &j, t);
    if (st == QS_OK)
        st = interp_bcast_init(call, &bc, 2, t);
    if (st == QS_OK)
        st = interp_new_uninit(call, is_comparison(code) && code < BIN_AND ? QS_DT_BOOL : a->dtype,
                        bc.rank, bc.dims, out);
    if (st != QS_OK)
        return st;

    j.a = a->data;
    j.b = b->data;
    j.o = (*out)->data;
    if (mixed) {
        j.a = t;
        interp_bcast_for(&bc, mixed_pow_row, &j);
    } else {
        interp_bcast_for_par(call, &bc, qs_rt_is_float(a->dtype) ? float_row : int_row, &j);
    }
    return QS_OK;
}

enum qs_status
op_binary(struct interp_call *call)
{
    struct qs_rt_tensor *b = NULL;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st != QS_OK)
        return st;
    if (call->opset < 7 && qs_node_attr_int(call->node, "broadcast", 0)) {
        st = legacy_broadcast_view(call, &b);
        if (st == QS_OK)
            st = interp_binary(call, call->op->arg, call->in[0], b, &call->out[0]);
        qs_rt_unref(b);
        return st;
    }
    return interp_binary(call, call->op->arg, call->in[0], call->in[1], &call->out[0]);
}

/* Max, Min, Sum, Mean: a left fold of the binary op over every input. */
enum qs_status
op_variadic(struct interp_call *call)
{
    int code = call->op->arg == BIN_SUM || call->op->arg == BIN_MEAN ? BIN_ADD : call->op->arg;
    struct qs_rt_tensor *acc;
    enum qs_status st = interp_need_inputs(call, call->n_in > 0 ? call->n_in : 1);

    if (st != QS_OK)
        return st;
    acc = qs_rt_ref(call->in[0]);
    if (call->n_in == 1) {
        st = interp_convert(call, acc, acc->dtype, &call->out[0]);
        qs_rt_unref(acc);
        acc = call->out[0];
    }
    for (size_t i = 1; i < call->n_in && st == QS_OK; i++) {
        struct qs_rt_tensor *next = NULL;

        st = interp_binary(call, code, acc, call->in[i], &next);
        qs_rt_unref(acc);
        acc = next;
    }
    if (st != QS_OK) {
        qs_rt_unref(acc);
        call->out[0] = NULL;
        return st;
    }

    if (call->op->arg == BIN_MEAN && qs_rt_is_float(acc->dtype)) {
        for (uint64_t i = 0; i < acc->count; i++)
            rt_f(acc)[i] /= (float)call->n_in;
    }
    call->out[0] = acc;
    return QS_OK;
}

/* ---- Where and Clip ----------------------------------------------------- */

struct where_job {
    const int64_t *cond;
    const void *x, *y;
    void *o;
    int is_float;
};

static void
where_row(void *ctx, uint64_t out, const int64_t *off, const int64_t *steps, int64_t len)
{
    const struct where_job *j = ctx;
    const int64_t *c = j->cond + off[0];

    if (j->is_float) {
        const float *x = (const float *)j->x + off[1], *y = (const float *)j->y + off[2];
        float *o = (float *)j->o + out;

        for (int64_t i = 0; i < len; i++)
            o[i] = c[i * steps[0]] ? x[i * steps[1]] : y[i * steps[2]];
    } else {
        const int64_t *x = (const int64_t *)j->x + off[1], *y = (const int64_t *)j->y + off[2];
        int64_t *o = (int64_t *)j->o + out;

        for (int64_t i = 0; i < len; i++)
            o[i] = c[i * steps[0]] ? x[i * steps[1]] : y[i * steps[2]];
    }
}

enum qs_status
op_where(struct interp_call *call)
{
    struct interp_bcast bc;
    struct where_job j;
    enum qs_status st = interp_need_inputs(call, 3);

    if (st != QS_OK)
        return st;
    if (qs_rt_is_float(call->in[0]->dtype) || call->in[1]->dtype != call->in[2]->dtype)
        return interp_fail(call, QS_INVALID, "condition must be bool and X, Y of one type");
    st = interp_bcast_init(call, &bc, 3, (const struct qs_rt_tensor *const *)call->in);
    if (st == QS_OK)
        st = interp_new_uninit(call, call->in[1]->dtype, bc.rank, bc.dims, &call->out[0]);
    if (st != QS_OK)
        return st;
    j.cond = rt_i(call->in[0]);
    j.x = call->in[1]->data;
    j.y = call->in[2]->data;
    j.o = call->out[0]->data;
    j.is_float = qs_rt_is_float(call->in[1]->dtype);
    interp_bcast_for(&bc, where_row, &j);
    return QS_OK;
}

/* Clip bounds: attributes before opset 11, optional scalar inputs from it. */
static enum qs_status
clip_bounds(struct interp_call *call, double *lo, double *hi)
{
    float f;
    enum qs_status st = QS_OK;

    *lo = -INFINITY;
    *hi = INFINITY;
    if (call->opset < 11) {
        *lo = qs_node_attr_float(call->node, "min", -INFINITY);
        *hi = qs_node_attr_float(call->node, "max", INFINITY);
        return QS_OK;
    }
    for (size_t i = 1; i <= 2 && st == QS_OK; i++) {
        const struct qs_rt_tensor *t = i < call->n_in ? call->in[i] : NULL;

        if (!t)
            continue;
        if (t->count != 1)
            return interp_fail(call, QS_INVALID, "input %zu must be a scalar", i);
        if (qs_rt_is_float(t->dtype)) {
            st = interp_scalar_float(call, i, 0, &f);
            *(i == 1 ? lo : hi) = f;
        } else {
            *(i == 1 ? lo : hi) = (double)rt_i(t)[0];
        }
    }
    return st;
}

struct clip_job {
    const float *a;
    float *o;
    float lo, hi;
};

INTERP_VECTOR_CLONES static void
clip_chunk(void *ctx, int64_t b, int64_t e)
{
    const struct clip_job *j = ctx;
    const float *a = j->a;
    float *o = j->o, l = j->lo, h = j->hi;

    for (int64_t i = b; i < e; i++)
        o[i] = a[i] < l ? l : a[i] > h ? h : a[i];
}

enum qs_status
op_clip(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    double lo, hi;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = clip_bounds(call, &lo, &hi);
    if (st == QS_OK)
        st = interp_new_like_uninit(call, call->in[0], &call->out[0]);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    if (qs_rt_is_float(x->dtype)) {
        struct clip_job j = { rt_f(x), rt_f(call->out[0]), (float)lo, (float)hi };

        interp_parallel_for(call, (int64_t)x->count, ELEMENTWISE_CHUNK, clip_chunk, &j);
    } else {
        const int64_t *a = rt_i(x);
        int64_t *o = rt_i(call->out[0]);

        for (uint64_t i = 0; i < x->count; i++)
            o[i] = (double)a[i] < lo ? (int64_t)lo : (double)a[i] > hi ? (int64_t)hi : a[i];
    }
    return QS_OK;
}
