/*
 * Plans in memory: entries, model identity, measuring a configuration on
 * a layer, totals and budgets.  Reading and writing the JSON form is in
 * plan_json.c, the automatic search in plan_auto.c.
 */
#include "config.h"
#include "plan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
qs_plan_init(struct qs_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->version = QS_PLAN_VERSION;
    plan->tolerance_relative = QS_PLAN_TOLERANCE_RELATIVE;
    plan->tolerance_sqnr_db = QS_PLAN_TOLERANCE_SQNR_DB;
}

void
qs_plan_done(struct qs_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++)
        free(plan->layers[i].key);
    free(plan->layers);
    qs_strmap_free(plan->index);
    free(plan->model_file);
    free(plan->method);
    free(plan->budget);
    free(plan->candidates);
    free(plan->sensitivity);
    memset(plan, 0, sizeof(*plan));
}

void
qs_plan_set_model(struct qs_plan *plan, const char *path, const void *data, uint64_t size)
{
    const char *slash = strrchr(path, '/');

    free(plan->model_file);
    plan->model_file = qs_strdup(slash ? slash + 1 : path);
    qs_sha256_hex(data, size, plan->sha256);
    plan->model_bytes = size;
}

struct qs_plan_layer *
qs_plan_find(const struct qs_plan *plan, const char *key)
{
    /* The index stores position + 1, because the map cannot hold NULL. */
    uintptr_t position = (uintptr_t)qs_strmap_get(plan->index, key);

    return position ? &plan->layers[position - 1] : NULL;
}

struct qs_plan_layer *
qs_plan_get(struct qs_plan *plan, const char *key)
{
    struct qs_plan_layer *entry = qs_plan_find(plan, key);

    if (entry)
        return entry;
    if (plan->count == plan->capacity) {
        /* Doubling keeps adding n entries linear; growing by one copies them n times. */
        plan->capacity = plan->capacity ? plan->capacity * 2 : 16;
        plan->layers = qs_reallocarray(plan->layers, plan->capacity, sizeof(*plan->layers));
    }
    entry = &plan->layers[plan->count++];
    memset(entry, 0, sizeof(*entry));
    entry->key = qs_strdup(key);
    if (!plan->index)
        plan->index = qs_strmap_new();
    qs_strmap_put(plan->index, entry->key, (void *)(uintptr_t)plan->count);
    qs_plan_layer_set(entry, NULL);
    return entry;
}

void
qs_plan_layer_set(struct qs_plan_layer *entry, const struct qs_quant_config *config)
{
    entry->measured = 0;
    memset(&entry->m, 0, sizeof(entry->m));
    if (!config) {
        entry->is_float = 1;
        snprintf(entry->config_text, sizeof(entry->config_text), "%s", QS_PLAN_FLOAT);
        return;
    }
    entry->is_float = 0;
    entry->config = *config;
    qs_quant_config_format(config, entry->config_text, sizeof(entry->config_text));
}

const char *
qs_plan_layer_label(const struct qs_layer *layer, char *buf, size_t size)
{
    char shape[128];

    snprintf(buf, size, "%s %s", layer->ops[0] ? layer->ops : "no consumer",
             qs_layer_shape(layer, shape, sizeof(shape)));
    return buf;
}

enum qs_status
qs_plan_check_config(const struct qs_layer *layer, const struct qs_quant_config *config,
                     char *message, size_t size)
{
    if (!layer->quantizable) {
        snprintf(message, size, "the layer is not quantizable (%s)",
                 layer->fault ? layer->fault
                              : layer->not_quantizable ? layer->not_quantizable : "no weight use");
        return QS_USAGE;
    }
    if (config->granularity == QS_QUANT_GRAN_CHANNEL && layer->channel_axis < 0) {
        snprintf(message, size, "per-channel scales need a channel axis, but the layer offers "
                 "per-tensor scales only%s%s", layer->axis_note ? ": " : "",
                 layer->axis_note ? layer->axis_note : "");
        return QS_USAGE;
    }
    if ((config->granularity == QS_QUANT_GRAN_GROUP || config->granularity == QS_QUANT_GRAN_BLOCK)
        && layer->group_axis < 0) {
        snprintf(message, size, "groups need a group axis, which the layer lacks%s%s",
                 layer->axis_note ? ": " : "", layer->axis_note ? layer->axis_note : "");
        return QS_USAGE;
    }
    return QS_OK;
}

enum qs_status
qs_plan_layout(const struct qs_layer *layer, struct qs_quant_layout *layout,
               struct qs_diag *diag, const char *file)
{
    return qs_quant_layout_init(layout, layer->dims, layer->rank, layer->channel_axis,
                                layer->group_axis, diag, file);
}

static void
measure_float(const struct qs_layer_data *data, struct qs_plan_measure *out)
{
    double energy = 0.0;

    for (uint64_t i = 0; i < data->count; i++) {
        double x = data->values[i];

        if (isfinite(x))
            energy += x * x;
    }
    out->energy = energy;
    out->sse = 0.0;
    out->mse = 0.0;
    out->sqnr_db = INFINITY;
    out->max_abs_err = 0.0;
    out->cosine = 1.0;
    out->exact = 1;
    out->bytes = out->params * 4;
}

/* Without a finite weight there is no error to measure, so nothing is called exact. */
static void
measure_no_finite(struct qs_plan_measure *out)
{
    out->no_finite = 1;
    out->sse = 0.0;
    out->energy = 0.0;
    out->mse = NAN;
    out->sqnr_db = NAN;
    out->max_abs_err = NAN;
    out->cosine = NAN;
    out->exact = 0;
}

enum qs_status
qs_plan_measure_data(const struct qs_layer *layer, const struct qs_layer_data *data,
                     const struct qs_quant_config *config, int threads, const char *file,
                     struct qs_diag *diag, struct qs_plan_measure *out)
{
    struct qs_quant_layout layout;
    struct qs_quant_request request = { 0 };
    struct qs_quant_result result;
    enum qs_status status;

    memset(out, 0, sizeof(*out));
    out->params = layer->count;
    if (!config) {
        measure_float(data, out);
    } else {
        status = qs_plan_layout(layer, &layout, diag, file);
        if (status != QS_OK)
            return status;
        request.config = config;
        request.layout = &layout;
        request.weights = data->values;
        request.threads = threads > 0 ? threads : 1;
        request.file = file;
        request.layer = layer->key;
        status = qs_quant_trial(&request, &result, diag);
        if (status != QS_OK)
            return status;
        out->sse = result.metrics.sum_sq_err;
        out->energy = result.metrics.signal_energy;
        out->mse = result.metrics.mse;
        out->sqnr_db = result.metrics.sqnr_db;
        out->max_abs_err = result.metrics.max_abs_err;
        out->cosine = result.metrics.cosine;
        out->exact = result.metrics.exact;
        if (result.metrics.count == 0 && out->params > 0)
            measure_no_finite(out);
        out->bytes = result.sizes.payload_bytes + result.sizes.scale_bytes
                     + result.sizes.zero_point_bytes;
    }
    out->bits_per_weight = out->params ? (double)out->bytes * 8.0 / (double)out->params : 0.0;
    return QS_OK;
}

void
qs_plan_totals_compute(struct qs_plan *plan)
{
    struct qs_plan_totals *t = &plan->totals;

    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < plan->count; i++) {
        const struct qs_plan_layer *entry = &plan->layers[i];

        if (!entry->measured)
            continue;
        t->params += entry->m.params;
        t->planned_bytes += entry->m.bytes;
        t->sse += entry->m.sse;
        t->energy += entry->m.energy;
    }
    t->float_bytes = t->params * 4;
    t->bits_per_weight = t->params ? (double)t->planned_bytes * 8.0 / (double)t->params : 0.0;
    t->exact = t->sse == 0.0;
    t->sqnr_db = t->exact ? INFINITY : 10.0 * log10(t->energy / t->sse);
}

/* ---- budgets ---- */

struct budget_unit {
    const char *suffix;
    enum qs_plan_budget_unit unit;
    double factor;
};

static const struct budget_unit budget_units[] = {
    { "bpw", QS_BUDGET_BPW, 1.0 },
    { "%", QS_BUDGET_PERCENT, 1.0 },
    { "B", QS_BUDGET_BYTES, 1.0 },
    { "kB", QS_BUDGET_BYTES, 1e3 },
    { "KB", QS_BUDGET_BYTES, 1e3 },
    { "MB", QS_BUDGET_BYTES, 1e6 },
    { "GB", QS_BUDGET_BYTES, 1e9 },
    { "KiB", QS_BUDGET_BYTES, 1024.0 },
    { "MiB", QS_BUDGET_BYTES, 1048576.0 },
    { "GiB", QS_BUDGET_BYTES, 1073741824.0 },
};

enum qs_status
qs_plan_budget_parse(const char *text, struct qs_plan_budget *budget, char *message,
                     size_t size)
{
    char *end;
    double value;

    errno = 0;
    value = strtod(text, &end);
    if (end == text || errno || !isfinite(value) || value <= 0.0) {
        snprintf(message, size, "invalid budget '%s' (expected a positive number with a unit: "
                 "4.5bpw, 300MB or 25%%)", text);
        return QS_USAGE;
    }
    for (size_t i = 0; i < sizeof(budget_units) / sizeof(budget_units[0]); i++) {
        if (strcmp(end, budget_units[i].suffix) == 0) {
            budget->unit = budget_units[i].unit;
            budget->value = value * budget_units[i].factor;
            return QS_OK;
        }
    }
    snprintf(message, size, "invalid budget '%s': the unit must be bpw, %%, B, kB, MB, GB, "
             "KiB, MiB or GiB", text);
    return QS_USAGE;
}

uint64_t
qs_plan_budget_bytes(const struct qs_plan_budget *budget, uint64_t params)
{
    double bytes = 0.0;

    switch (budget->unit) {
    case QS_BUDGET_BPW:
        bytes = budget->value * (double)params / 8.0;
        break;
    case QS_BUDGET_BYTES:
        bytes = budget->value;
        break;
    case QS_BUDGET_PERCENT:
        bytes = budget->value / 100.0 * (double)params * 4.0;
        break;
    }
    if (bytes >= 1.8e19)
        return UINT64_MAX;
    return (uint64_t)floor(bytes);
}
