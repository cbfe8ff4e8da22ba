/*
 * The optimizer ops of the ai.onnx.preview.training domain: Adagrad,
 * Momentum and Adam, one update step of n tensors each, computed in
 * double precision from the formulas of their ONNX definitions.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <string.h>

#include "dtype.h"

/* Inputs R, T, then "groups" lists of n tensors (X, G, ...); outputs "outs" lists of n. */
static enum qs_status
optimizer_shape(struct interp_call *call, size_t groups, size_t outs, size_t *n)
{
    enum qs_status st = interp_need_inputs(call, call->n_in);

    if (st != QS_OK)
        return st;
    if (call->n_in < 2 + groups || (call->n_in - 2) % groups != 0)
        return interp_fail(call, QS_INVALID, "expected R, T and %zu lists of tensors", groups);
    *n = (call->n_in - 2) / groups;
    if (call->n_out != outs * *n)
        return interp_fail(call, QS_INVALID, "expected %zu outputs", outs * *n);
    for (size_t i = 2; i < call->n_in; i++) {
        if (!qs_rt_is_float(call->in[i]->dtype)
            || call->in[i]->count != call->in[2 + (i - 2) % *n]->count)
            return interp_fail(call, QS_INVALID, "input %zu does not match its X", i);
    }
    for (size_t k = 0; k < call->n_out && st == QS_OK; k++)
        st = interp_new_like(call, call->in[2 + k % *n], &call->out[k]);
    return st;
}

enum qs_status
op_adagrad(struct interp_call *call)
{
    double decay = qs_node_attr_float(call->node, "decay_factor", 0.0f);
    double eps = qs_node_attr_float(call->node, "epsilon", 1e-6f);
    double norm = qs_node_attr_float(call->node, "norm_coefficient", 0.0f);
    float r, t;
    size_t n;
    enum qs_status st = optimizer_shape(call, 3, 2, &n);

    if (st == QS_OK)
        st = interp_scalar_float(call, 0, 0, &r);
    if (st == QS_OK)
        st = interp_scalar_float(call, 1, 0, &t);
    for (size_t k = 0; st == QS_OK && k < n; k++) {
        const float *x = rt_f(call->in[2 + k]), *g = rt_f(call->in[2 + n + k]);
        const float *h = rt_f(call->in[2 + 2 * n + k]);
        double rate = r / (1 + t * decay);

        for (uint64_t i = 0; i < call->in[2 + k]->count; i++) {
            double gr = norm * x[i] + g[i], hn = h[i] + gr * gr;

            rt_f(call->out[k])[i] = (float)(x[i] - rate * gr / (sqrt(hn) + eps));
            rt_f(call->out[n + k])[i] = (float)hn;
        }
    }
    return st;
}

enum qs_status
op_momentum(struct interp_call *call)
{
    double alpha = qs_node_attr_float(call->node, "alpha", 0.0f);
    double beta = qs_node_attr_float(call->node, "beta", 0.0f);
    double norm = qs_node_attr_float(call->node, "norm_coefficient", 0.0f);
    size_t len;
    const char *mode = qs_node_attr_string(call->node, "mode", "standard", &len);
    int nesterov = len == 8 && memcmp(mode, "nesterov", 8) == 0;
    float r, t;
    size_t n;
    enum qs_status st = optimizer_shape(call, 3, 2, &n);

    if (st == QS_OK)
        st = interp_scalar_float(call, 0, 0, &r);
    if (st == QS_OK)
        st = interp_scalar_float(call, 1, 0, &t);
    for (size_t k = 0; st == QS_OK && k < n; k++) {
        const float *x = rt_f(call->in[2 + k]), *g = rt_f(call->in[2 + n + k]);
        const float *v = rt_f(call->in[2 + 2 * n + k]);
        double b = t > 0 ? beta : 1.0;

        for (uint64_t i = 0; i < call->in[2 + k]->count; i++) {
            double gr = norm * x[i] + g[i], vn = alpha * v[i] + b * gr;

            rt_f(call->out[k])[i] = (float)(x[i] - r * (nesterov ? gr + alpha * vn : vn));
            rt_f(call->out[n + k])[i] = (float)vn;
        }
    }
    return st;
}

enum qs_status
op_adam(struct interp_call *call)
{
    double alpha = qs_node_attr_float(call->node, "alpha", 0.9f);
    double beta = qs_node_attr_float(call->node, "beta", 0.999f);
    double eps = qs_node_attr_float(call->node, "epsilon", 1e-6f);
    double norm = qs_node_attr_float(call->node, "norm_coefficient", 0.0f);
    double post = qs_node_attr_float(call->node, "norm_coefficient_post", 0.0f);
    float r, t;
    size_t n;
    enum qs_status st = optimizer_shape(call, 4, 3, &n);

    if (st == QS_OK)
        st = interp_scalar_float(call, 0, 0, &r);
    if (st == QS_OK)
        st = interp_scalar_float(call, 1, 0, &t);
    for (size_t k = 0; st == QS_OK && k < n; k++) {
        const float *x = rt_f(call->in[2 + k]), *g = rt_f(call->in[2 + n + k]);
        const float *v = rt_f(call->in[2 + 2 * n + k]), *h = rt_f(call->in[2 + 3 * n + k]);
        double rate = t > 0 ? r * sqrt(1 - pow(beta, t)) / (1 - pow(alpha, t)) : r;

        for (uint64_t i = 0; i < call->in[2 + k]->count; i++) {
            double gr = norm * x[i] + g[i];
            double vn = alpha * v[i] + (1 - alpha) * gr, hn = beta * h[i] + (1 - beta) * gr * gr;
            double xn = x[i] - rate * vn / (sqrt(hn) + eps);

            rt_f(call->out[k])[i] = (float)((1 - post) * xn);
            rt_f(call->out[n + k])[i] = (float)vn;
            rt_f(call->out[2 * n + k])[i] = (float)hn;
        }
    }
    return st;
}
