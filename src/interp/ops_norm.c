/*
 * Normalizations: BatchNormalization (inference, and training mode with
 * batch statistics), InstanceNormalization, LayerNormalization,
 * LpNormalization and LRN.
 * Statistics are accumulated in double precision.
 */
#include "config.h"
#include "interp/vectorize.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/*
 * Per-channel parameter "index": C entries, or (before opset 9 with
 * spatial=0) one entry per element of a channel's plane.
 */
static enum qs_status
bn_param(struct interp_call *call, size_t index, uint64_t channels, uint64_t plane)
{
    const struct qs_rt_tensor *t = call->in[index];

    if (!qs_rt_is_float(t->dtype) || (t->count != channels && t->count != channels * plane))
        return interp_fail(call, QS_INVALID, "input %zu has %llu elements for %llu channels",
                           index, (unsigned long long)t->count, (unsigned long long)channels);
    return QS_OK;
}

/* Batch mean and population variance per channel. */
static void
bn_batch_stats(const struct qs_rt_tensor *x, uint64_t channels, uint64_t plane, double *mean,
               double *var)
{
    uint64_t batch = (uint64_t)x->dims[0], n = batch * plane;

    for (uint64_t c = 0; c < channels; c++) {
        double s = 0, sq = 0;

        for (uint64_t b = 0; b < batch; b++) {
            const float *p = rt_f(x) + (b * channels + c) * plane;

            for (uint64_t i = 0; i < plane; i++)
                s += p[i];
        }
        mean[c] = n ? s / (double)n : 0;
        for (uint64_t b = 0; b < batch; b++) {
            const float *p = rt_f(x) + (b * channels + c) * plane;

            for (uint64_t i = 0; i < plane; i++)
                sq += (p[i] - mean[c]) * (p[i] - mean[c]);
        }
        var[c] = n ? sq / (double)n : 0;
    }
}

static enum qs_status
bn_running_outputs(struct interp_call *call, uint64_t channels, const double *mean,
                   const double *var)
{
    float momentum = qs_node_attr_float(call->node, "momentum", 0.9f);
    int64_t dim = (int64_t)channels;
    enum qs_status st = QS_OK;

    for (size_t k = 1; k < 3 && k < call->n_out && st == QS_OK; k++) {
        const float *running = rt_f(call->in[k + 2]);
        const double *batch = k == 1 ? mean : var;

        st = interp_new(call, call->in[0]->dtype, 1, &dim, &call->out[k]);
        for (uint64_t c = 0; st == QS_OK && c < channels; c++)
            rt_f(call->out[k])[c] = (float)(running[c] * momentum + batch[c] * (1.0 - momentum));
    }
    return st;
}

/* y = (x - mean) * scale + bias with parameters per element of a channel's plane. */
static void
bn_apply_elements(struct interp_call *call, uint64_t batch, uint64_t channels, uint64_t plane,
                  const double *mean, const double *var, float eps)
{
    const struct qs_rt_tensor *x = call->in[0];
    int per_element = call->in[1]->count != channels;

    for (uint64_t b = 0; b < batch; b++) {
        for (uint64_t c = 0; c < channels; c++) {
            const float *xp = rt_f(x) + (b * channels + c) * plane;
            float *yp = rt_f(call->out[0]) + (b * channels + c) * plane;

            for (uint64_t i = 0; i < plane; i++) {
                uint64_t k = per_element ? c * plane + i : c;
                float scale = rt_f(call->in[1])[k] / sqrtf((float)var[k] + eps);

                yp[i] = (xp[i] - (float)mean[k]) * scale + rt_f(call->in[2])[k];
            }
        }
    }
}

struct bn_job {
    const float *x, *scale_in, *bias_in;
    float *y;
    const double *mean, *var;
    float eps;
    uint64_t batch, channels, plane;
};

/*
 * The same with one scale per channel, computed once per channel; the
 * float operations are those of bn_apply_elements, so results match.
 */
static void
bn_channels(void *ctx, int64_t begin, int64_t end)
{
    const struct bn_job *j = ctx;

    for (uint64_t c = (uint64_t)begin; c < (uint64_t)end; c++) {
        float scale = j->scale_in[c] / sqrtf((float)j->var[c] + j->eps);
        float m = (float)j->mean[c], bias = j->bias_in[c];

        for (uint64_t b = 0; b < j->batch; b++) {
            const float *xp = j->x + (b * j->channels + c) * j->plane;
            float *yp = j->y + (b * j->channels + c) * j->plane;

            for (uint64_t i = 0; i < j->plane; i++)
                yp[i] = (xp[i] - m) * scale + bias;
        }
    }
}

static void
bn_apply_channels(struct interp_call *call, uint64_t batch, uint64_t channels, uint64_t plane,
                  const double *mean, const double *var, float eps)
{
    struct bn_job j = {
        rt_f(call->in[0]), rt_f(call->in[1]), rt_f(call->in[2]), rt_f(call->out[0]),
        mean, var, eps, batch, channels, plane
    };

    uint64_t per_channel = batch * plane > 0 ? batch * plane : 1;

    /* Chunks of at least some 32768 elements, so small tensors stay on one thread. */
    interp_parallel_for(call, (int64_t)channels, (int64_t)(32768 / per_channel + 1), bn_channels,
                        &j);
}

enum qs_status
op_batch_norm(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    uint64_t channels, plane, batch, n_param;
    double *mean, *var;
    float eps = qs_node_attr_float(call->node, "epsilon", 1e-5f);
    int training = call->opset >= 14 && qs_node_attr_int(call->node, "training_mode", 0);
    int per_channel;
    enum qs_status st = interp_need_inputs(call, 5);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st == QS_OK && call->in[0]->rank < 2)
        st = interp_fail(call, QS_INVALID, "input has rank %d, at least 2 expected",
                         call->in[0]->rank);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    batch = (uint64_t)x->dims[0];
    channels = (uint64_t)x->dims[1];
    plane = rt_span(x->dims, 2, x->rank);
    for (size_t i = 1; i < 5 && st == QS_OK; i++)
        st = bn_param(call, i, channels, plane);
    if (st == QS_OK && training && call->in[1]->count != channels)
        st = interp_fail(call, QS_UNSUPPORTED, "training mode needs per-channel parameters");
    if (st == QS_OK)
        st = interp_new_like_uninit(call, x, &call->out[0]);
    if (st != QS_OK)
        return st;

    /* Parameters have C entries, or C x plane before opset 9 with spatial=0. */
    per_channel = training || (call->in[1]->count == channels && call->in[2]->count == channels
                               && call->in[3]->count == channels
                               && call->in[4]->count == channels);
    n_param = per_channel ? channels : channels * plane;
    mean = qs_calloc(n_param + 1, sizeof(*mean));
    var = qs_calloc(n_param + 1, sizeof(*var));
    if (training)
        bn_batch_stats(x, channels, plane, mean, var);
    for (uint64_t i = 0; !training && i < call->in[3]->count; i++) {
        mean[i] = rt_f(call->in[3])[i];
        var[i] = rt_f(call->in[4])[i];
    }
    if (per_channel)
        bn_apply_channels(call, batch, channels, plane, mean, var, eps);
    else
        bn_apply_elements(call, batch, channels, plane, mean, var, eps);
    if (training)
        st = bn_running_outputs(call, channels, mean, var);
    free(mean);
    free(var);
    return st;
}

enum qs_status
op_instance_norm(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    uint64_t channels, plane;
    float eps = qs_node_attr_float(call->node, "epsilon", 1e-5f);
    enum qs_status st = interp_need_inputs(call, 3);

    if (st == QS_OK)
        st = interp_need_rank(call, 0, 3, QS_RT_MAX_RANK);
    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    channels = (uint64_t)x->dims[1];
    plane = rt_span(x->dims, 2, x->rank);
    if (call->in[1]->count != channels || call->in[2]->count != channels)
        return interp_fail(call, QS_INVALID, "scale and B must have %llu elements",
                           (unsigned long long)channels);
    st = interp_new_like(call, x, &call->out[0]);
    if (st != QS_OK)
        return st;

    for (uint64_t p = 0; p < (uint64_t)x->dims[0] * channels; p++) {
        const float *xp = rt_f(x) + p * plane;
        float *yp = rt_f(call->out[0]) + p * plane;
        uint64_t c = p % channels;
        double mean = 0, var = 0;
        float scale;

        for (uint64_t i = 0; i < plane; i++)
            mean += xp[i];
        mean /= (double)(plane ? plane : 1);
        for (uint64_t i = 0; i < plane; i++)
            var += (xp[i] - mean) * (xp[i] - mean);
        var /= (double)(plane ? plane : 1);
        scale = rt_f(call->in[1])[c] / (float)sqrt(var + eps);
        for (uint64_t i = 0; i < plane; i++)
            yp[i] = (float)(xp[i] - mean) * scale + rt_f(call->in[2])[c];
    }
    return QS_OK;
}

/* Normalize each row of "x" (rows of "len" elements) into "z"; store mean and 1/std per row. */
static void
layer_norm_rows(const float *x, float *z, uint64_t rows, uint64_t len, float eps, float *mean_out,
                float *inv_out)
{
    for (uint64_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        float *zr = z + r * len;
        double mean = 0, var = 0, inv;

        for (uint64_t i = 0; i < len; i++)
            mean += xr[i];
        mean /= (double)(len ? len : 1);
        for (uint64_t i = 0; i < len; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        var /= (double)(len ? len : 1);
        inv = 1.0 / sqrt(var + eps);
        for (uint64_t i = 0; i < len; i++)
            zr[i] = (float)((xr[i] - mean) * inv);
        mean_out[r] = (float)mean;
        inv_out[r] = (float)inv;
    }
}

enum qs_status
op_layer_norm(struct interp_call *call)
{
    struct qs_rt_tensor *z = NULL, *scaled = NULL, *stats[2] = { NULL, NULL };
    int64_t dims[QS_RT_MAX_RANK];
    int axis;
    uint64_t rows;
    const struct qs_rt_tensor *x;
    enum qs_status st = interp_need_inputs(call, 2);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", -1), call->in[0]->rank, &axis);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    rows = rt_span(x->dims, 0, axis);
    for (int d = 0; d < x->rank; d++)
        dims[d] = d < axis ? x->dims[d] : 1;
    st = interp_new_like(call, x, &z);
    for (int k = 0; k < 2 && st == QS_OK; k++)
        st = interp_new(call, QS_DT_FLOAT, x->rank, dims, &stats[k]);
    if (st == QS_OK) {
        layer_norm_rows(rt_f(x), rt_f(z), rows, rows ? x->count / rows : 0,
                        qs_node_attr_float(call->node, "epsilon", 1e-5f), rt_f(stats[0]),
                        rt_f(stats[1]));
        st = interp_binary(call, BIN_MUL, z, call->in[1], &scaled);
    }
    if (st == QS_OK && call->n_in > 2 && call->in[2])
        st = interp_binary(call, BIN_ADD, scaled, call->in[2], &call->out[0]);
    else if (st == QS_OK)
        call->out[0] = qs_rt_ref(scaled);
    for (size_t k = 1; k < 3 && k < call->n_out && st == QS_OK; k++)
        call->out[k] = qs_rt_ref(stats[k - 1]);
    qs_rt_unref(z);
    qs_rt_unref(scaled);
    qs_rt_unref(stats[0]);
    qs_rt_unref(stats[1]);
    return st;
}

/* x / ||x||_p along "axis" (p = 1 or 2); an all-zero line stays zero. */
enum qs_status
op_lp_normalization(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t p = qs_node_attr_int(call->node, "p", 2);
    uint64_t outer, len, inner;
    int axis;
    enum qs_status st = interp_need_float(call, 0);

    if (st == QS_OK)
        st = interp_axis(call, qs_node_attr_int(call->node, "axis", -1), call->in[0]->rank, &axis);
    if (st == QS_OK && p != 1 && p != 2)
        st = interp_fail(call, QS_INVALID, "p must be 1 or 2, not %lld", (long long)p);
    if (st == QS_OK)
        st = interp_new_like_uninit(call, call->in[0], &call->out[0]);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    outer = rt_span(x->dims, 0, axis);
    len = (uint64_t)x->dims[axis];
    inner = rt_span(x->dims, axis + 1, x->rank);
    for (uint64_t o = 0; o < outer; o++) {
        for (uint64_t i = 0; i < inner; i++) {
            const float *xs = rt_f(x) + o * len * inner + i;
            float *ys = rt_f(call->out[0]) + o * len * inner + i;
            double norm = 0;

            for (uint64_t k = 0; k < len; k++)
                norm += p == 1 ? fabs(xs[k * inner]) : (double)xs[k * inner] * xs[k * inner];
            norm = p == 1 ? norm : sqrt(norm);
            for (uint64_t k = 0; k < len; k++)
                ys[k * inner] = norm > 0 ? (float)(xs[k * inner] / norm) : 0.0f;
        }
    }
    return QS_OK;
}

enum qs_status
op_lrn(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t size = qs_node_attr_int(call->node, "size", 0), channels, before, after;
    float alpha = qs_node_attr_float(call->node, "alpha", 1e-4f);
    float beta = qs_node_attr_float(call->node, "beta", 0.75f);
    float bias = qs_node_attr_float(call->node, "bias", 1.0f);
    uint64_t plane;
    enum qs_status st = interp_need_rank(call, 0, 3, QS_RT_MAX_RANK);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st == QS_OK && size < 1)
        st = interp_fail(call, QS_INVALID, "attribute size must be positive");
    if (st == QS_OK)
        st = interp_new_like(call, call->in[0], &call->out[0]);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    channels = x->dims[1];
    plane = rt_span(x->dims, 2, x->rank);
    before = (size - 1) / 2;
    after = size - 1 - before;
    for (int64_t n = 0; n < x->dims[0]; n++) {
        for (int64_t c = 0; c < channels; c++) {
            int64_t lo = c - before < 0 ? 0 : c - before;
            int64_t hi = c + after >= channels ? channels - 1 : c + after;
            const float *xc = rt_f(x) + (uint64_t)(n * channels + c) * plane;
            float *yc = rt_f(call->out[0]) + (uint64_t)(n * channels + c) * plane;

            for (uint64_t i = 0; i < plane; i++) {
                double sq = 0;

                for (int64_t k = lo; k <= hi; k++) {
                    float v = rt_f(x)[(uint64_t)(n * channels + k) * plane + i];

                    sq += (double)v * v;
                }
                yc[i] = (float)(xc[i] / pow(bias + alpha / (double)size * sq, beta));
            }
        }
    }
    return QS_OK;
}
