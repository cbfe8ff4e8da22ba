/*
 * Fake-quantized weights for the interpreter's weight hook, and the
 * comparison of one output between two runs.
 */
#include "config.h"
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One entry of the value -> layer index. */
struct qs_eval_weight_index {
    uintptr_t value;
    size_t layer;
};

static int
index_compare(const void *a, const void *b)
{
    const struct qs_eval_weight_index *x = a, *y = b;

    return x->value < y->value ? -1 : x->value > y->value;
}

void
qs_eval_weights_init(struct qs_eval_weights *w, const struct qs_layers *layers, int threads,
                     const char *file, struct qs_diag *diag)
{
    size_t n = layers->count;

    memset(w, 0, sizeof(*w));
    w->layers = layers;
    w->threads = threads > 0 ? threads : 1;
    w->file = file;
    w->diag = diag;
    w->configs = qs_calloc(n + 1, sizeof(*w->configs));
    w->active = qs_calloc(n + 1, 1);
    w->metrics = qs_calloc(n + 1, sizeof(*w->metrics));
    w->hits = qs_calloc(n + 1, sizeof(*w->hits));
    w->index = qs_calloc(n + 1, sizeof(*w->index));
    for (size_t i = 0; i < n; i++) {
        if (!layers->items[i].value)
            continue;
        w->index[w->n_index].value = (uintptr_t)layers->items[i].value;
        w->index[w->n_index++].layer = i;
    }
    qsort(w->index, w->n_index, sizeof(*w->index), index_compare);
}

void
qs_eval_weights_set(struct qs_eval_weights *w, size_t index, const struct qs_quant_config *config)
{
    w->active[index] = config != NULL;
    if (config)
        w->configs[index] = *config;
}

void
qs_eval_weights_clear(struct qs_eval_weights *w)
{
    size_t n = w->layers->count;

    memset(w->active, 0, n);
    memset(w->metrics, 0, n * sizeof(*w->metrics));
    memset(w->hits, 0, n * sizeof(*w->hits));
}

void
qs_eval_weights_done(struct qs_eval_weights *w)
{
    free(w->configs);
    free(w->active);
    free(w->metrics);
    free(w->hits);
    free(w->index);
    memset(w, 0, sizeof(*w));
}

/*
 * Per index of dim 0, the factor that the BatchNormalization fold applied:
 * the least-squares ratio of folded to raw values of that output channel
 * (exact up to rounding, since the fold multiplies the whole channel).
 * NaN for a channel whose raw values are all 0.
 */
static double *
fold_factors(const struct qs_layer *layer, const float *raw, const float *folded)
{
    uint64_t rows = layer->rank > 0 ? (uint64_t)layer->dims[0] : 1;
    uint64_t inner = rows ? layer->count / rows : 0;
    double *factor = qs_calloc(rows + 1, sizeof(double));

    for (uint64_t m = 0; m < rows; m++) {
        double fr = 0.0, rr = 0.0;

        for (uint64_t k = m * inner; k < (m + 1) * inner; k++) {
            if (!isfinite(raw[k]) || !isfinite(folded[k]))
                continue;
            fr += (double)folded[k] * raw[k];
            rr += (double)raw[k] * raw[k];
        }
        factor[m] = rr > 0.0 ? fr / rr : NAN;
    }
    return factor;
}

/* Write the dequantized folded weight back in raw (unfolded) form. */
static void
unfold(const struct qs_layer *layer, const double *factor, const float *deq, float *raw)
{
    uint64_t rows = layer->rank > 0 ? (uint64_t)layer->dims[0] : 1;
    uint64_t inner = rows ? layer->count / rows : 0;

    for (uint64_t m = 0; m < rows; m++) {
        if (!isfinite(factor[m]) || factor[m] == 0.0)
            continue;     /* an all-zero or zero-scaled channel: the fold makes it irrelevant */
        for (uint64_t k = m * inner; k < (m + 1) * inner; k++)
            raw[k] = (float)(deq[k] / factor[m]);
    }
}

static enum qs_status
quantize_layer(struct qs_eval_weights *w, size_t index, struct qs_rt_tensor *tensor)
{
    const struct qs_layer *layer = &w->layers->items[index];
    struct qs_layer_data folded = { 0 };
    struct qs_quant_request request = { 0 };
    struct qs_quant_layout layout;
    struct qs_quant_result result;
    float *deq = qs_calloc(layer->count + 1, sizeof(float));
    const float *source = tensor->data;
    enum qs_status status = qs_plan_layout(layer, &layout, w->diag, w->file);

    if (status == QS_OK && layer->bn) {
        status = qs_layer_data_get(w->layers, layer, 0, w->diag, &folded);
        if (status == QS_OK && folded.bn_folded)
            source = folded.values;
    }
    if (status == QS_OK) {
        request.config = &w->configs[index];
        request.layout = &layout;
        request.weights = source;
        request.threads = w->threads;
        request.output.dequant = deq;
        request.file = w->file;
        request.layer = layer->key;
        status = qs_quant_trial(&request, &result, w->diag);
    }
    if (status == QS_OK) {
        qs_quant_metrics_add(&w->metrics[index], &result.metrics);
        w->hits[index]++;
        if (source == folded.values) {
            double *factor = fold_factors(layer, tensor->data, folded.values);

            unfold(layer, factor, deq, tensor->data);
            free(factor);
        } else {
            memcpy(tensor->data, deq, layer->count * sizeof(float));
        }
    }
    qs_layer_data_done(&folded);
    free(deq);
    return status;
}

enum qs_status
qs_eval_weights_hook(void *ctx, const struct qs_value *value, struct qs_rt_tensor *tensor)
{
    struct qs_eval_weights *w = ctx;
    struct qs_eval_weight_index key = { (uintptr_t)value, 0 };
    const struct qs_eval_weight_index *found;
    const struct qs_layer *layer;

    found = bsearch(&key, w->index, w->n_index, sizeof(key), index_compare);
    if (!found || !w->active[found->layer])
        return QS_OK;
    layer = &w->layers->items[found->layer];
    if (!qs_rt_is_float(tensor->dtype) || tensor->count != layer->count) {
        qs_diag_warn(w->diag, w->file, "layer '%s': the interpreter's weight has %llu values, "
                     "the layer %llu: left in float", layer->key,
                     (unsigned long long)tensor->count, (unsigned long long)layer->count);
        return QS_OK;
    }
    return quantize_layer(w, found->layer, tensor);
}

/* ---- comparisons ------------------------------------------------------- */

/* Index of the largest finite value of "n" at "x", or -1 when none is finite. */
static int64_t
argmax(const float *x, uint64_t n)
{
    int64_t best = -1;

    for (uint64_t i = 0; i < n; i++)
        if (isfinite(x[i]) && (best < 0 || x[i] > x[best]))
            best = (int64_t)i;
    return best;
}

static int
same_shape(const struct qs_rt_tensor *a, const struct qs_rt_tensor *b)
{
    if (a->rank != b->rank || a->count != b->count)
        return 0;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

void
qs_eval_add_error(const float *x, const float *y, uint64_t n, struct qs_quant_metrics *m)
{
    for (uint64_t i = 0; i < n; i++) {
        double a = x[i], b = y[i], err;

        if (!isfinite(a) || !isfinite(b))
            continue;
        err = a - b;
        m->count++;
        m->sum_sq_err += err * err;
        m->signal_energy += a * a;
        m->dot += a * b;
        m->deq_energy += b * b;
        if (fabs(err) > m->max_abs_err)
            m->max_abs_err = fabs(err);
    }
}

void
qs_eval_compare_output(const struct qs_rt_tensor *ref, const struct qs_rt_tensor *test,
                       struct qs_eval_output *acc)
{
    acc->dtype = ref->dtype;
    acc->rank = ref->rank;
    memcpy(acc->dims, ref->dims, sizeof(acc->dims));
    if (!test || !same_shape(ref, test) || ref->dtype != test->dtype) {
        acc->shape_mismatches++;
        return;
    }
    if (!qs_rt_is_float(ref->dtype)) {
        const int64_t *x = ref->data, *y = test->data;

        for (uint64_t i = 0; i < ref->count; i++)
            acc->equal += x[i] == y[i];
        acc->compared += ref->count;
        return;
    }

    qs_eval_add_error(ref->data, test->data, ref->count, &acc->metrics);
    acc->classifier = ref->rank >= 1 && ref->dims[ref->rank - 1] > 1;
    if (!acc->classifier)
        return;

    uint64_t classes = (uint64_t)ref->dims[ref->rank - 1];

    for (uint64_t start = 0; start < ref->count; start += classes) {
        const float *x = (const float *)ref->data + start;
        const float *y = (const float *)test->data + start;

        acc->rows++;
        acc->top1_agree += argmax(x, classes) == argmax(y, classes);
    }
}

double
qs_eval_top1(const struct qs_eval_output *o)
{
    return o->classifier && o->rows ? (double)o->top1_agree / (double)o->rows : NAN;
}
