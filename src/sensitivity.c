/*
 * Layer sensitivity: one quantized layer per pass over the samples.
 */
#include "config.h"
#include "sensitivity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "output.h"
#include "plan.h"
#include "sha256.h"

struct sens_state {
    const struct qs_input_set *inputs;
    const struct qs_sens_options *options;
    struct qs_diag *diag;
    struct qs_interp *interp;
    struct qs_eval_weights weights;
    size_t n_outputs;
    struct qs_rt_tensor **reference;  /* [sample * n_outputs + output]: float outputs */
};

static enum qs_status
float_runs(struct sens_state *st)
{
    enum qs_status status = QS_OK;
    size_t n_in = st->inputs->n_inputs;

    st->reference = qs_calloc(st->inputs->n_samples * st->n_outputs + 1,
                              sizeof(*st->reference));
    for (size_t s = 0; s < st->inputs->n_samples && status == QS_OK; s++)
        status = qs_interp_run(st->interp, st->inputs->tensors + s * n_in,
                               st->reference + s * st->n_outputs, st->diag);
    return status;
}

/* Add one sample's outputs to "item". */
static void
compare_sample(struct sens_state *st, size_t s, struct qs_rt_tensor **test,
               struct qs_sens_layer *item)
{
    for (size_t o = 0; o < st->n_outputs; o++) {
        struct qs_eval_output acc = { 0 };
        const struct qs_rt_tensor *ref = st->reference[s * st->n_outputs + o];

        if (!ref)
            continue;
        qs_eval_compare_output(ref, test[o], &acc);
        if (qs_rt_is_float(ref->dtype) && !acc.shape_mismatches) {
            item->output_values += ref->count;
            item->output_nonfinite += ref->count - acc.metrics.count;
        }
        qs_quant_metrics_add(&item->output, &acc.metrics);
        item->rows += acc.rows;
        item->top1_agree += acc.top1_agree;
    }
}

static enum qs_status
measure_layer(struct sens_state *st, struct qs_sens_layer *item)
{
    struct qs_interp_hooks hooks = { .weight = qs_eval_weights_hook, .ctx = &st->weights };
    struct qs_rt_tensor **test = qs_calloc(st->n_outputs + 1, sizeof(*test));
    size_t index = item->layer->index;
    size_t n_in = st->inputs->n_inputs;
    enum qs_status status = QS_OK;

    qs_eval_weights_clear(&st->weights);
    qs_eval_weights_set(&st->weights, index, st->options->config);
    qs_interp_set_hooks(st->interp, &hooks);
    for (size_t s = 0; s < st->inputs->n_samples && status == QS_OK; s++) {
        status = qs_interp_run(st->interp, st->inputs->tensors + s * n_in, test, st->diag);
        if (status == QS_OK)
            compare_sample(st, s, test, item);
        for (size_t o = 0; o < st->n_outputs; o++) {
            qs_rt_unref(test[o]);
            test[o] = NULL;
        }
    }
    free(test);

    item->weight = st->weights.metrics[index];
    qs_quant_metrics_finish(&item->weight);
    qs_quant_metrics_finish(&item->output);
    if (status == QS_OK && st->weights.hits[index] == 0)
        item->skipped = "not read by these samples";
    return status;
}

/* The layers to measure, with the configuration checked against each. */
static void
list_layers(const struct qs_layers *layers, const struct qs_sens_options *options,
            struct qs_sens_result *result)
{
    char message[256];

    result->items = qs_calloc(layers->count + 1, sizeof(*result->items));
    for (size_t i = 0; i < layers->count; i++) {
        const struct qs_layer *layer = &layers->items[i];
        struct qs_sens_layer *item;

        if (options->selected ? !options->selected[i] : !layer->quantizable)
            continue;
        item = &result->items[result->count++];
        item->layer = layer;
        if (qs_plan_check_config(layer, options->config, message, sizeof(message)) != QS_OK)
            item->skipped = layer->quantizable ? "configuration not applicable"
                                               : "not quantizable";
    }
}

enum qs_status
qs_sensitivity_run(const struct qs_model *model, const struct qs_layers *layers,
                   const struct qs_input_set *inputs, const struct qs_sens_options *options,
                   struct qs_diag *diag, struct qs_sens_result *result)
{
    struct qs_interp_options interp_options = { .threads = options->threads };
    struct sens_state st = { .inputs = inputs, .options = options, .diag = diag };
    enum qs_status status;

    memset(result, 0, sizeof(*result));
    result->config = *options->config;
    list_layers(layers, options, result);
    status = qs_interp_new(model, &interp_options, diag, &st.interp);
    if (status != QS_OK)
        return status;
    qs_eval_weights_init(&st.weights, layers, options->threads, model->path, diag);
    st.n_outputs = qs_interp_n_outputs(st.interp);
    status = float_runs(&st);

    for (size_t i = 0; i < result->count && status == QS_OK; i++) {
        if (!result->items[i].skipped)
            status = measure_layer(&st, &result->items[i]);
        if (options->progress)
            options->progress(options->progress_ctx);
    }
    if (status == QS_OK)
        result->samples = inputs->n_samples;

    for (size_t k = 0; st.reference && k < inputs->n_samples * st.n_outputs; k++)
        qs_rt_unref(st.reference[k]);
    free(st.reference);
    qs_eval_weights_done(&st.weights);
    qs_interp_free(st.interp);
    return status;
}

int
qs_sens_output_nonfinite(const struct qs_sens_layer *item)
{
    return item->output_values > 0 && item->output.count == 0;
}

/* Sort key: 0 no finite output, 1 measured with error, 2 exact, 3 left out. */
static int
rank_class(const struct qs_sens_layer *item)
{
    if (item->skipped)
        return 3;
    if (qs_sens_output_nonfinite(item))
        return 0;
    return item->output.exact ? 2 : 1;
}

static int
compare_items(const void *a, const void *b)
{
    const struct qs_sens_layer *x = a, *y = b;
    int cx = rank_class(x), cy = rank_class(y);

    if (cx != cy)
        return cx < cy ? -1 : 1;
    if (cx == 1 && x->output.sqnr_db != y->output.sqnr_db)
        return x->output.sqnr_db < y->output.sqnr_db ? -1 : 1;
    if (cx == 1 && x->output.mse != y->output.mse)
        return x->output.mse > y->output.mse ? -1 : 1;
    return x->layer->index < y->layer->index ? -1 : x->layer->index > y->layer->index;
}

void
qs_sensitivity_rank(struct qs_sens_result *result)
{
    qsort(result->items, result->count, sizeof(*result->items), compare_items);
}

double
qs_sens_top1(const struct qs_sens_layer *item)
{
    return item->rows ? (double)item->top1_agree / (double)item->rows : NAN;
}

/* An SQNR, null when not finite, and its flag: exact only for a zero error (+inf). */
static void
set_sqnr(json_t *obj, const char *key, const char *flag, double sqnr_db)
{
    qs_json_set_number(obj, key, sqnr_db, NULL);
    json_object_set_new(obj, flag, json_boolean(sqnr_db == INFINITY));
}

static void
set_output_numbers(json_t *obj, const struct qs_sens_layer *item)
{
    int measured = !item->skipped && !qs_sens_output_nonfinite(item);

    qs_json_set_number(obj, "output_sse", measured ? item->output.sum_sq_err : NAN, NULL);
    qs_json_set_number(obj, "output_energy", measured ? item->output.signal_energy : NAN, NULL);
    qs_json_set_number(obj, "output_mse", measured ? item->output.mse : NAN, NULL);
    set_sqnr(obj, "output_sqnr_db", "output_exact", measured ? item->output.sqnr_db : NAN);
    qs_json_set_number(obj, "cosine", measured ? item->output.cosine : NAN, NULL);
    qs_json_set_number(obj, "max_abs_diff", measured ? item->output.max_abs_err : NAN, NULL);
    qs_json_set_number(obj, "top1_agreement", measured ? qs_sens_top1(item) : NAN, NULL);
    qs_json_set_int(obj, "output_nonfinite", (int64_t)item->output_nonfinite);
    qs_json_set_string(obj, "note", qs_sens_output_nonfinite(item)
                                    ? QS_SENS_NOTE_NONFINITE : NULL);
}

static json_t *
item_json(const struct qs_sens_layer *item, size_t rank)
{
    json_t *obj = json_object();
    char shape[128];
    int measured = !item->skipped;

    qs_json_set_int(obj, "rank", (int64_t)rank);
    qs_json_set_string(obj, "key", item->layer->key);
    qs_json_set_string(obj, "op", item->layer->ops);
    qs_json_set_string(obj, "shape", qs_layer_shape(item->layer, shape, sizeof(shape)));
    qs_json_set_int(obj, "params", (int64_t)item->layer->count);
    qs_json_set_string(obj, "skipped", item->skipped);
    qs_json_set_number(obj, "weight_sse", measured ? item->weight.sum_sq_err : NAN, NULL);
    qs_json_set_number(obj, "weight_energy", measured ? item->weight.signal_energy : NAN, NULL);
    set_sqnr(obj, "weight_sqnr_db", "weight_exact", measured ? item->weight.sqnr_db : NAN);
    set_output_numbers(obj, item);
    return obj;
}

json_t *
qs_sensitivity_to_json(const struct qs_sens_result *result, const struct qs_model *model)
{
    json_t *doc = json_object();
    json_t *identity = json_object();
    json_t *items = json_array();
    char sha[QS_SHA256_HEX_LEN + 1];
    char config[QS_QUANT_CONFIG_MAX];
    const char *slash = strrchr(model->path, '/');

    qs_sha256_hex(model->map, model->file_size, sha);
    qs_quant_config_format(&result->config, config, sizeof(config));
    qs_json_set_string(doc, "format", QS_SENSITIVITY_FORMAT);
    qs_json_set_int(doc, "version", QS_SENSITIVITY_VERSION);
    qs_json_set_string(identity, "file", slash ? slash + 1 : model->path);
    qs_json_set_string(identity, "sha256", sha);
    qs_json_set_int(identity, "bytes", (int64_t)model->file_size);
    json_object_set_new(doc, "model", identity);
    qs_json_set_string(doc, "config", config);
    qs_json_set_int(doc, "samples", (int64_t)result->samples);
    for (size_t i = 0; i < result->count; i++)
        json_array_append_new(items, item_json(&result->items[i], i + 1));
    json_object_set_new(doc, "layers", items);
    return doc;
}

void
qs_sensitivity_done(struct qs_sens_result *result)
{
    free(result->items);
    memset(result, 0, sizeof(*result));
}
