/*
 * What the browser knows about layers: statistics computed in the
 * background, the data of the layer on screen, plan entries and their
 * measurements.  Every number comes from the core (stats.h, plan.h,
 * quant.h); this file only schedules the work and keeps the results.
 */
#include "config.h"
#include "ui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

/* ---- formatting ---- */

const char *
qs_ui_bytes_text(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "KB", "MB", "GB", "TB" };
    double value = (double)bytes;
    int unit = -1;

    while (value >= 999.95 && unit < 3) {
        value /= 1000.0;
        unit++;
    }
    if (unit < 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", value, units[unit]);
    return buf;
}

const char *
qs_ui_count_text(uint64_t count, char *buf, size_t size)
{
    static const char *const units[] = { "k", "M", "G", "T" };
    double value = (double)count;
    int unit = -1;

    while (value >= 999.5 && unit < 3) {
        value /= 1000.0;
        unit++;
    }
    if (unit < 0)
        snprintf(buf, size, "%llu", (unsigned long long)count);
    else
        snprintf(buf, size, value < 9.995 ? "%.2f%s" : value < 99.95 ? "%.1f%s" : "%.0f%s",
                 value, units[unit]);
    return buf;
}

const char *
qs_ui_config_short(const char *text, char *buf, size_t size)
{
    size_t len = strlen(text);

    if (len > 7 && strcmp(text + len - 7, ":minmax") == 0)
        len -= 7;
    snprintf(buf, size, "%.*s", (int)len, text);
    return buf;
}

const char *
qs_ui_sqnr_text(double sqnr_db, int exact, char *buf, size_t size)
{
    if (exact || isinf(sqnr_db))
        snprintf(buf, size, "exact");
    else if (isnan(sqnr_db))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.2f", sqnr_db);
    return buf;
}

/* ---- lookups ---- */

size_t
qs_ui_layer_find(const struct qs_ui *ui, const char *key)
{
    const struct qs_layer *layer;

    if (!ui->layers)
        return SIZE_MAX;
    layer = qs_layers_find(ui->layers, key);
    return layer ? layer->index : SIZE_MAX;
}

size_t
qs_ui_layer_of_value(const struct qs_ui *ui, const struct qs_value *value)
{
    if (!ui->layers || !value)
        return SIZE_MAX;
    for (size_t i = 0; i < ui->layers->count; i++)
        if (ui->layers->items[i].value == value)
            return i;
    return SIZE_MAX;
}

const struct qs_plan_layer *
qs_ui_plan_entry(const struct qs_ui *ui, size_t index)
{
    const char *key;
    const struct qs_plan_layer *entry;

    if (!ui->layers || index >= ui->layers->count)
        return NULL;
    /* The hint saves a search of the whole plan for every layer on every drawing. */
    key = ui->layers->items[index].key;
    if (ui->info[index].entry < ui->plan.count &&
        strcmp(ui->plan.layers[ui->info[index].entry].key, key) == 0)
        return &ui->plan.layers[ui->info[index].entry];
    entry = qs_plan_find(&ui->plan, key);
    if (entry)
        ui->info[index].entry = (size_t)(entry - ui->plan.layers);
    return entry;
}

/* ---- statistics (and the plan measurement of the layer's current entry) ---- */

struct stats_job {
    struct qs_job base;
    struct qs_ui *ui;
    const struct qs_layers *layers;
    const char *path;
    size_t index;
    int threads;
    int measure;             /* measure the plan entry's configuration too */
    int is_float;
    struct qs_quant_config config;
    struct qs_stats stats;
    struct qs_plan_measure m;
    enum qs_status status;
    enum qs_status measured;
    struct qs_diag diag;
};

static void
stats_job_run(struct qs_job *base)
{
    struct stats_job *job = (struct stats_job *)base;
    const struct qs_layer *layer = &job->layers->items[job->index];
    struct qs_stats_options options;
    struct qs_stats_layout layout;
    struct qs_layer_data data;

    job->measured = QS_INVALID;
    job->status = qs_layer_data_get(job->layers, layer, 0, &job->diag, &data);
    if (job->status != QS_OK)
        return;
    qs_stats_options_init(&options);
    options.threads = job->threads;
    layout = (struct qs_stats_layout){ data.outer, data.channels, data.inner };
    job->status = qs_stats_compute(&job->stats, data.values, &layout, &options);
    if (job->measure)
        job->measured = qs_plan_measure_data(layer, &data, job->is_float ? NULL : &job->config,
                                             job->threads, job->path, &job->diag, &job->m);
    qs_layer_data_done(&data);
}

/* Store a measurement of "config" (NULL: float) when the plan still asks for it. */
static void
plan_store(struct qs_ui *ui, size_t index, int is_float, const struct qs_quant_config *config,
           const struct qs_plan_measure *m)
{
    /* Found through the layer's hint: a search of the plan per layer measured is quadratic. */
    const struct qs_plan_layer *found = qs_ui_plan_entry(ui, index);
    struct qs_plan_layer *entry = found ? &ui->plan.layers[found - ui->plan.layers] : NULL;

    if (!entry || entry->is_float != is_float ||
        (!is_float && !qs_quant_config_equal(&entry->config, config)))
        return;
    entry->m = *m;
    entry->measured = 1;
    /* Summed when next shown or written: a sum per measurement is quadratic in the layers. */
    ui->plan_totals_stale = 1;
    qs_ui_plan_written_check(ui);
}

const struct qs_plan_totals *
qs_ui_plan_totals(struct qs_ui *ui)
{
    if (ui->plan_totals_stale) {
        qs_plan_totals_compute(&ui->plan);
        ui->plan_totals_stale = 0;
    }
    return &ui->plan.totals;
}

static void
stats_job_done(struct qs_job *base, void *ctx)
{
    struct stats_job *job = (struct stats_job *)base;
    struct qs_ui *ui = ctx;
    struct qs_ui_layer *info = &ui->info[job->index];

    if (job->status == QS_OK) {
        qs_stats_done(&info->stats);
        info->stats = job->stats;
        memset(&job->stats, 0, sizeof(job->stats));
        info->state = QS_STATS_DONE;
    } else {
        info->state = QS_STATS_FAILED;
        free(info->error);
        info->error = qs_strdup(job->diag.count ? job->diag.lines[0] : "no data");
    }
    if (job->measured == QS_OK)
        plan_store(ui, job->index, job->is_float, &job->config, &job->m);
    ui->generation++;
}

static void
stats_job_free(struct qs_job *base)
{
    struct stats_job *job = (struct stats_job *)base;

    /* Counted here so that failed and dropped jobs move the progress line too. */
    job->ui->stats_finished++;
    if (job->measure)
        qs_ui_plan_written_check(job->ui);
    qs_stats_done(&job->stats);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops stats_job_ops = {
    .name = "statistics", .run = stats_job_run, .done = stats_job_done, .free = stats_job_free,
};

static void
stats_queue(struct qs_ui *ui, size_t index)
{
    struct stats_job *job = qs_calloc(1, sizeof(*job));
    const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, index);

    job->base.ops = &stats_job_ops;
    job->ui = ui;
    job->layers = ui->layers;
    job->path = ui->path;
    job->index = index;
    job->threads = ui->threads;
    qs_diag_init(&job->diag);
    if (entry && !entry->measured) {
        job->measure = 1;
        job->is_float = entry->is_float;
        job->config = entry->config;
    }
    ui->info[index].state = QS_STATS_PENDING;
    ui->stats_queued++;
    qs_ui_submit(ui, &job->base, QS_LANE_BACKGROUND, -1);
}

const struct qs_stats *
qs_ui_layer_stats(struct qs_ui *ui, size_t index)
{
    if (!ui->layers || index >= ui->layers->count)
        return NULL;
    if (ui->info[index].state == QS_STATS_NONE)
        stats_queue(ui, index);
    return ui->info[index].state == QS_STATS_DONE ? &ui->info[index].stats : NULL;
}

void
qs_ui_stats_all(struct qs_ui *ui)
{
    for (size_t i = 0; ui->layers && i < ui->layers->count; i++)
        if (ui->info[i].state == QS_STATS_NONE)
            stats_queue(ui, i);
}

/* ---- the data of the layer on screen ---- */

struct data_job {
    struct qs_job base;
    const struct qs_layers *layers;
    const char *path;
    struct qs_ui_data *data;
    enum qs_status status;
    struct qs_diag diag;
};

static void
data_job_run(struct qs_job *base)
{
    struct data_job *job = (struct data_job *)base;
    const struct qs_layer *layer = &job->layers->items[job->data->layer];

    job->status = qs_layer_data_get(job->layers, layer, 0, &job->diag, &job->data->data);
    if (job->status == QS_OK)
        job->status = qs_plan_layout(layer, &job->data->layout, &job->diag, job->path);
}

static void
data_job_done(struct qs_job *base, void *ctx)
{
    struct data_job *job = (struct data_job *)base;
    struct qs_ui *ui = ctx;

    ui->data_loading = SIZE_MAX;
    if (job->status != QS_OK) {
        qs_ui_error_diag(ui, &job->diag);
        return;
    }
    qs_ui_data_unref(ui->data);
    ui->data = job->data;
    job->data = NULL;
    ui->generation++;
}

static void
data_job_free(struct qs_job *base)
{
    struct data_job *job = (struct data_job *)base;

    qs_ui_data_unref(job->data);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops data_job_ops = {
    .name = "layer data", .run = data_job_run, .done = data_job_done, .free = data_job_free,
};

void
qs_ui_data_unref(struct qs_ui_data *data)
{
    if (!data || --data->refs > 0)
        return;
    qs_layer_data_done(&data->data);
    free(data);
}

struct qs_ui_data *
qs_ui_data_get(struct qs_ui *ui, size_t index)
{
    struct data_job *job;

    if (ui->data && ui->data->layer == index) {
        ui->data->refs++;
        return ui->data;
    }
    if (ui->data_loading == index)
        return NULL;
    job = qs_calloc(1, sizeof(*job));
    job->base.ops = &data_job_ops;
    job->layers = ui->layers;
    job->path = ui->path;
    job->data = qs_calloc(1, sizeof(*job->data));
    job->data->refs = 1;
    job->data->layer = index;
    qs_diag_init(&job->diag);
    ui->data_loading = index;
    qs_ui_submit(ui, &job->base, QS_LANE_TRIAL, QS_SLOT_DATA);
    return NULL;
}

/* ---- plan measurements ---- */

struct measure_job {
    struct qs_job base;
    struct qs_ui *ui;
    const struct qs_layers *layers;
    const char *path;
    size_t index;
    int threads;
    int is_float;
    struct qs_quant_config config;
    struct qs_ui_data *data;     /* shared data, or NULL to load it */
    struct qs_plan_measure m;
    enum qs_status status;
    struct qs_diag diag;
};

static void
measure_job_run(struct qs_job *base)
{
    struct measure_job *job = (struct measure_job *)base;
    const struct qs_layer *layer = &job->layers->items[job->index];
    struct qs_layer_data own;

    if (job->data) {
        job->status = qs_plan_measure_data(layer, &job->data->data,
                                           job->is_float ? NULL : &job->config, job->threads,
                                           job->path, &job->diag, &job->m);
        return;
    }
    job->status = qs_layer_data_get(job->layers, layer, 0, &job->diag, &own);
    if (job->status != QS_OK)
        return;
    job->status = qs_plan_measure_data(layer, &own, job->is_float ? NULL : &job->config,
                                       job->threads, job->path, &job->diag, &job->m);
    qs_layer_data_done(&own);
}

static void
measure_job_done(struct qs_job *base, void *ctx)
{
    struct measure_job *job = (struct measure_job *)base;
    struct qs_ui *ui = ctx;

    if (job->status != QS_OK) {
        qs_ui_error_diag(ui, &job->diag);
        return;
    }
    plan_store(ui, job->index, job->is_float, &job->config, &job->m);
    ui->generation++;
}

static void
measure_job_free(struct qs_job *base)
{
    struct measure_job *job = (struct measure_job *)base;

    if (job->ui->plan_measuring > 0)
        job->ui->plan_measuring--;
    if (job->ui->info[job->index].measuring > 0)
        job->ui->info[job->index].measuring--;
    /* A plan waiting to be written goes out once nothing is left to measure, failed or not. */
    qs_ui_plan_written_check(job->ui);
    qs_ui_data_unref(job->data);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops measure_job_ops = {
    .name = "plan measurement", .run = measure_job_run, .done = measure_job_done,
    .free = measure_job_free,
};

void
qs_ui_plan_measure(struct qs_ui *ui, size_t index)
{
    const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, index);
    struct measure_job *job;

    if (!entry || entry->measured)
        return;
    job = qs_calloc(1, sizeof(*job));
    job->base.ops = &measure_job_ops;
    job->ui = ui;
    job->layers = ui->layers;
    job->path = ui->path;
    job->index = index;
    job->threads = ui->threads;
    job->is_float = entry->is_float;
    job->config = entry->config;
    qs_diag_init(&job->diag);
    if (ui->data && ui->data->layer == index) {
        job->data = ui->data;
        ui->data->refs++;
    }
    ui->plan_measuring++;
    ui->info[index].measuring++;
    /* The layer on screen is measured at once; others wait behind the statistics. */
    qs_ui_submit(ui, &job->base, job->data ? QS_LANE_TRIAL : QS_LANE_BACKGROUND, -1);
}

int
qs_ui_plan_set(struct qs_ui *ui, size_t index, const struct qs_quant_config *config)
{
    const struct qs_layer *layer = &ui->layers->items[index];
    const struct qs_plan_layer *found;
    struct qs_plan_layer *entry;
    char message[256];

    if (config && qs_plan_check_config(layer, config, message, sizeof(message)) != QS_OK) {
        qs_ui_error(ui, "%s: %s", layer->key, message);
        return -1;
    }
    found = qs_ui_plan_entry(ui, index);
    entry = found ? &ui->plan.layers[found - ui->plan.layers] : qs_plan_get(&ui->plan, layer->key);
    if (entry->is_float == !config && (!config || qs_quant_config_equal(&entry->config, config)))
        return 0;
    qs_plan_layer_set(entry, config);
    ui->plan_totals_stale = 1;
    ui->plan_dirty = 1;
    ui->generation++;
    qs_ui_plan_measure(ui, index);
    return 0;
}

/* Bytes of "entry" on "layer": measured, else computed from the layout (no data needed). */
static uint64_t
entry_bytes(const struct qs_layer *layer, const struct qs_plan_layer *entry)
{
    struct qs_quant_layout layout;
    struct qs_quant_sizes sizes;
    char message[128];

    if (!entry || entry->is_float)
        return layer->count * 4;
    if (entry->measured)
        return entry->m.bytes;
    if (qs_plan_layout(layer, &layout, NULL, NULL) != QS_OK ||
        qs_quant_sizes_compute(&entry->config, &layout, &sizes, message, sizeof(message)) != QS_OK)
        return layer->count * 4;
    return sizes.payload_bytes + sizes.scale_bytes + sizes.zero_point_bytes;
}

uint64_t
qs_ui_layer_bytes(const struct qs_ui *ui, size_t index)
{
    return entry_bytes(&ui->layers->items[index], qs_ui_plan_entry(ui, index));
}

void
qs_ui_sizes(const struct qs_ui *ui, uint64_t *float_bytes, uint64_t *planned_bytes)
{
    *float_bytes = 0;
    *planned_bytes = 0;
    for (size_t i = 0; ui->layers && i < ui->layers->count; i++) {
        const struct qs_layer *layer = &ui->layers->items[i];

        if (!layer->quantizable)
            continue;
        *float_bytes += layer->count * 4;
        *planned_bytes += entry_bytes(layer, qs_ui_plan_entry(ui, i));
    }
}

/* ---- set-up ---- */

void
qs_ui_set_model(struct qs_ui *ui, struct qs_model *model)
{
    struct qs_diag diag;

    ui->model = model;
    ui->data_loading = SIZE_MAX;
    qs_diag_init(&diag);
    if (qs_layers_build(model, ui->cli->keep_going, &diag, &ui->layers) != QS_OK)
        ui->layers = NULL;
    if (diag.count)
        qs_ui_error_diag(ui, &diag);
    qs_diag_done(&diag);
    if (ui->layers) {
        ui->info = qs_calloc(ui->layers->count + 1, sizeof(*ui->info));
        for (size_t i = 0; i < ui->layers->count; i++) {
            ui->weight_params += ui->layers->items[i].count;
            if (ui->layers->items[i].quantizable)
                qs_plan_get(&ui->plan, ui->layers->items[i].key);
        }
        qs_ui_plan_identity(ui);
        qs_ui_stats_all(ui);
    }
    qs_ui_show(ui, QS_VIEW_GRAPH);
}

void
qs_ui_layers_done(struct qs_ui *ui)
{
    for (size_t i = 0; ui->layers && i < ui->layers->count; i++) {
        qs_stats_done(&ui->info[i].stats);
        free(ui->info[i].error);
    }
    free(ui->info);
    ui->info = NULL;
    qs_ui_data_unref(ui->data);
    ui->data = NULL;
    qs_layers_free(ui->layers);
    ui->layers = NULL;
    qs_plan_done(&ui->plan);
    free(ui->pending_write);
    ui->pending_write = NULL;
}
