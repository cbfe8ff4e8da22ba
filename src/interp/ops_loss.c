/*
 * Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss,
 * with class weights, ignore_index and the reductions none, sum, mean.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN };

static enum loss_reduction
loss_reduction(const struct qs_node *node)
{
    size_t len;
    const char *s = qs_node_attr_string(node, "reduction", "mean", &len);

    if (len == 4 && memcmp(s, "none", 4) == 0)
        return LOSS_NONE;
    if (len == 3 && memcmp(s, "sum", 3) == 0)
        return LOSS_SUM;
    return LOSS_MEAN;
}

const char *
check_loss(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    size_t len;
    const char *s = qs_node_attr_string(node, "reduction", "mean", &len);

    (void)opset;
    (void)buf;
    (void)size;
    if ((len == 4 && memcmp(s, "none", 4) == 0) || (len == 3 && memcmp(s, "sum", 3) == 0)
        || (len == 4 && memcmp(s, "mean", 4) == 0))
        return NULL;
    return "reduction is not none, sum or mean";
}

/*
 * The loss over log-probabilities "logp" [N, C, d...] for "target"
 * [N, d...]: -logp[n, t, d] * weight[t], 0 where t is ignore_index.
 */
static enum qs_status
nll(struct interp_call *call, const struct qs_rt_tensor *logp, const struct qs_rt_tensor *target,
    const struct qs_rt_tensor *weight, struct qs_rt_tensor **out)
{
    enum loss_reduction red = loss_reduction(call->node);
    const Onnx__AttributeProto *ignore_attr = qs_node_attr(call->node, "ignore_index");
    int64_t ignore = qs_node_attr_int(call->node, "ignore_index", 0), classes;
    uint64_t batch, inner;
    double total = 0, weights = 0;
    float *loss;
    enum qs_status st;

    if (logp->rank < 2 || target->rank != logp->rank - 1 || qs_rt_is_float(target->dtype))
        return interp_fail(call, QS_INVALID,
                           "input must be [N, C, ...] and target [N, ...] integers");
    for (int d = 0; d < target->rank; d++) {
        if (target->dims[d] != logp->dims[d == 0 ? 0 : d + 1])
            return interp_fail(call, QS_INVALID, "target dim %d does not match the input", d);
    }
    classes = logp->dims[1];
    if (weight && weight->count != (uint64_t)classes)
        return interp_fail(call, QS_INVALID, "weight must have %lld elements", (long long)classes);
    batch = (uint64_t)logp->dims[0];
    inner = rt_span(logp->dims, 2, logp->rank);
    loss = qs_calloc(target->count + 1, sizeof(*loss));
    for (uint64_t n = 0; n < batch; n++) {
        for (uint64_t i = 0; i < inner; i++) {
            int64_t t = rt_i(target)[n * inner + i];
            uint64_t at;
            double w;

            if (ignore_attr && t == ignore)
                continue;
            if (t < 0 || t >= classes) {
                free(loss);
                return interp_fail(call, QS_INVALID, "target %lld is out of range", (long long)t);
            }
            w = weight ? rt_f(weight)[t] : 1.0;
            at = (n * (uint64_t)classes + (uint64_t)t) * inner + i;
            loss[n * inner + i] = (float)(-rt_f(logp)[at] * w);
            total += loss[n * inner + i];
            weights += w;
        }
    }

    if (red == LOSS_NONE) {
        st = interp_new(call, logp->dtype, target->rank, target->dims, out);
        if (st == QS_OK)
            memcpy(rt_f(*out), loss, (size_t)target->count * sizeof(*loss));
    } else {
        st = interp_new(call, logp->dtype, 0, NULL, out);
        if (st == QS_OK)
            rt_f(*out)[0] = (float)(red == LOSS_SUM ? total : total / weights);
    }
    free(loss);
    return st;
}

enum qs_status
op_nll_loss(struct interp_call *call)
{
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    return nll(call, call->in[0], call->in[1], call->n_in > 2 ? call->in[2] : NULL, &call->out[0]);
}

enum qs_status
op_softmax_cross_entropy(struct interp_call *call)
{
    struct qs_rt_tensor *logp = NULL;
    const struct qs_rt_tensor *x;
    uint64_t outer, len, inner;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st == QS_OK)
        st = interp_need_rank(call, 0, 2, QS_RT_MAX_RANK);
    if (st == QS_OK)
        st = interp_new_like(call, call->in[0], &logp);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    outer = (uint64_t)x->dims[0];
    len = (uint64_t)x->dims[1];
    inner = rt_span(x->dims, 2, x->rank);
    for (uint64_t o = 0; o < outer; o++) {
        for (uint64_t i = 0; i < inner; i++) {
            const float *xs = rt_f(x) + o * len * inner + i;
            float *ls = rt_f(logp) + o * len * inner + i;
            double m = -INFINITY, sum = 0;

            for (uint64_t k = 0; k < len; k++)
                m = xs[k * inner] > m ? xs[k * inner] : m;
            for (uint64_t k = 0; k < len; k++)
                sum += exp(xs[k * inner] - m);
            for (uint64_t k = 0; k < len; k++)
                ls[k * inner] = (float)(xs[k * inner] - m - log(sum));
        }
    }
    st = nll(call, logp, call->in[1], call->n_in > 2 ? call->in[2] : NULL, &call->out[0]);
    if (st == QS_OK && call->n_out > 1)
        call->out[1] = qs_rt_ref(logp);
    qs_rt_unref(logp);
    return st;
}
