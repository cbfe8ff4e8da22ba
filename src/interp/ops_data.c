/*
 * Ops that make or convert values: Constant, ConstantOfShape, Cast,
 * CastLike, Dropout (inference), Range and EyeLike.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dtype.h"

enum qs_status
interp_from_model_tensor(struct interp_call *call, const struct qs_tensor *t,
                         struct qs_rt_tensor **out)
{
    enum qs_status st;

    if (t->fault)
        return interp_fail(call, QS_INVALID, "tensor '%s' is unusable: %s", t->name, t->fault);
    st = interp_new(call, t->dtype, t->rank, t->dims, out);
    if (st != QS_OK || t->count == 0)
        return st;
    if (qs_rt_is_float(t->dtype))
        st = qs_tensor_read_f32(t, 0, (size_t)t->count, rt_f(*out));
    else
        st = qs_tensor_read_i64(t, 0, (size_t)t->count, rt_i(*out));
    if (st != QS_OK) {
        qs_rt_unref(*out);
        *out = NULL;
        return interp_fail(call, st, "tensor '%s' could not be decoded", t->name);
    }
    return QS_OK;
}

const char *
check_constant(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    static const char *const supported[] = {
        "value", "value_float", "value_floats", "value_int", "value_ints", NULL
    };

    (void)opset;
    (void)buf;
    (void)size;
    for (size_t i = 0; supported[i]; i++) {
        if (qs_node_attr(node, supported[i]))
            return NULL;
    }
    return "only tensor, float and int values are supported";
}

enum qs_status
op_constant(struct interp_call *call)
{
    const struct qs_node *node = call->node;
    const struct qs_tensor *t = qs_node_attr_tensor(node, "value");
    const float *fv;
    const int64_t *iv;
    ptrdiff_t n;
    int64_t dim;
    enum qs_status st;

    if (t)
        return interp_from_model_tensor(call, t, &call->out[0]);
    if (qs_node_attr(node, "value_float") || qs_node_attr(node, "value_int")) {
        int is_float = qs_node_attr(node, "value_float") != NULL;

        st = interp_new(call, is_float ? QS_DT_FLOAT : QS_DT_INT64, 0, NULL, &call->out[0]);
        if (st == QS_OK && is_float)
            rt_f(call->out[0])[0] = qs_node_attr_float(node, "value_float", 0);
        else if (st == QS_OK)
            rt_i(call->out[0])[0] = qs_node_attr_int(node, "value_int", 0);
        return st;
    }
    n = qs_node_attr_floats(node, "value_floats", &fv);
    if (n >= 0) {
        dim = n;
        st = interp_new(call, QS_DT_FLOAT, 1, &dim, &call->out[0]);
        if (st == QS_OK && n > 0)
            memcpy(rt_f(call->out[0]), fv, (size_t)n * sizeof(*fv));
        return st;
    }
    n = qs_node_attr_ints(node, "value_ints", &iv);
    if (n < 0)
        return interp_fail(call, QS_UNSUPPORTED, "the node has no tensor, float or int value");
    dim = n;
    st = interp_new(call, QS_DT_INT64, 1, &dim, &call->out[0]);
    if (st == QS_OK && n > 0)
        memcpy(rt_i(call->out[0]), iv, (size_t)n * sizeof(*iv));
    return st;
}

enum qs_status
op_constant_of_shape(struct interp_call *call)
{
    const struct qs_tensor *value = qs_node_attr_tensor(call->node, "value");
    struct qs_rt_tensor *fill = NULL;
    int64_t dims[QS_RT_MAX_RANK];
    size_t n = 0;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_read_ints(call, 0, dims, QS_RT_MAX_RANK, &n);
    if (st == QS_OK && value)
        st = interp_from_model_tensor(call, value, &fill);
    if (st == QS_OK && fill && fill->count != 1)
        st = interp_fail(call, QS_INVALID, "value must hold one element");
    if (st == QS_OK)
        st = interp_new(call, fill ? fill->dtype : QS_DT_FLOAT, (int)n, dims, &call->out[0]);
    if (st == QS_OK && fill) {
        struct qs_rt_tensor *out = call->out[0];

        for (uint64_t i = 0; i < out->count; i++) {
            if (qs_rt_is_float(out->dtype))
                rt_f(out)[i] = rt_f(fill)[0];
            else
                rt_i(out)[i] = rt_i(fill)[0];
        }
    }
    qs_rt_unref(fill);
    return st;
}

const char *
check_cast(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    int64_t to = qs_node_attr_int(node, "to", 0);

    (void)opset;
    if (node->op_type[4] == 'L')            /* CastLike: the type comes at run time */
        return NULL;
    if (qs_rt_is_float((int)to) || qs_rt_is_int((int)to))
        return NULL;
    snprintf(buf, size, "cast to %s", qs_dtype_name((int)to));
    return buf;
}

enum qs_status
op_cast(struct interp_call *call)
{
    int to;
    enum qs_status st = interp_need_inputs(call, call->op->arg ? 2 : 1);

    if (st != QS_OK)
        return st;
    to = call->op->arg ? call->in[1]->dtype : (int)qs_node_attr_int(call->node, "to", 0);
    if (to == call->in[0]->dtype) {
        call->out[0] = qs_rt_ref(call->in[0]);
        return QS_OK;
    }
    return interp_convert(call, call->in[0], to, &call->out[0]);
}

/*
 * Dropout at inference is the identity with an all-true mask.  Training
 * mode (the training_mode input, opset 12) draws random numbers, which is
 * refused.
 */
enum qs_status
op_dropout(struct interp_call *call)
{
    int64_t training = 0;
    float ratio = 0.5f;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK && call->opset >= 12)
        st = interp_scalar_float(call, 1, 0.5f, &ratio);
    if (st == QS_OK && call->opset >= 12)
        st = interp_scalar_int(call, 2, 0, &training);
    if (st != QS_OK)
        return st;
    if (training && ratio > 0)
        return interp_fail(call, QS_UNSUPPORTED, "training mode draws random numbers");

    call->out[0] = qs_rt_ref(call->in[0]);
    if (call->n_out > 1 && call->node->outputs[1]) {
        const struct qs_rt_tensor *x = call->in[0];
        int mask_type = call->opset < 10 ? x->dtype : QS_DT_BOOL;

        st = interp_new(call, mask_type, x->rank, x->dims, &call->out[1]);
        for (uint64_t i = 0; st == QS_OK && i < x->count; i++) {
            if (qs_rt_is_float(mask_type))
                rt_f(call->out[1])[i] = 1.0f;
            else
                rt_i(call->out[1])[i] = 1;
        }
    }
    return st;
}

enum qs_status
op_range(struct interp_call *call)
{
    const struct qs_rt_tensor *start;
    int64_t n;
    enum qs_status st = interp_need_inputs(call, 3);

    if (st != QS_OK)
        return st;
    start = call->in[0];
    if (qs_rt_is_float(start->dtype)) {
        float s = rt_f(start)[0], l = rt_f(call->in[1])[0], d = rt_f(call->in[2])[0];
        double steps = ceil(((double)l - s) / d);

        if (d == 0 || !isfinite(steps) || steps > 1e12)
            return interp_fail(call, QS_INVALID, "start, limit and delta give no finite range");
        n = steps > 0 ? (int64_t)steps : 0;
        st = interp_new(call, start->dtype, 1, &n, &call->out[0]);
        for (int64_t i = 0; st == QS_OK && i < n; i++)
            rt_f(call->out[0])[i] = s + (float)i * d;
    } else {
        int64_t s = rt_i(start)[0], l = rt_i(call->in[1])[0], d = rt_i(call->in[2])[0];
        double steps = ceil(((double)l - (double)s) / (double)d);

        if (d == 0 || steps > 1e12)
            return interp_fail(call, QS_INVALID, "delta is 0 or the range is too long");
        n = steps > 0 ? (int64_t)steps : 0;
        st = interp_new(call, start->dtype, 1, &n, &call->out[0]);
        for (int64_t i = 0; st == QS_OK && i < n; i++)
            rt_i(call->out[0])[i] = s + i * d;
    }
    return st;
}

enum qs_status
op_eye_like(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t k = qs_node_attr_int(call->node, "k", 0);
    int dtype;
    enum qs_status st = interp_need_rank(call, 0, 2, 2);

    if (st != QS_OK)
        return st;
    x = call->in[0];
    dtype = (int)qs_node_attr_int(call->node, "dtype", x->dtype);
    st = interp_new(call, dtype, 2, x->dims, &call->out[0]);
    if (st != QS_OK)
        return st;
    for (int64_t r = 0; r < x->dims[0]; r++) {
        int64_t c = r + k;

        if (c < 0 || c >= x->dims[1])
            continue;
        if (qs_rt_is_float(dtype))
            rt_f(call->out[0])[r * x->dims[1] + c] = 1.0f;
        else
            rt_i(call->out[0])[r * x->dims[1] + c] = 1;
    }
    return QS_OK;
}
