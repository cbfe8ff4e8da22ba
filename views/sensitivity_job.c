/*
 * Layer sensitivity in the browser: the run (R, `:sensitivity`) that
 * quantizes one layer at a time at the layer view's configuration and
 * measures the output SQNR with qs_sensitivity_run, and the reading of
 * the ranking `qscope sensitivity --json` writes (--sensitivity FILE,
 * `:sensitivity FILE`).  The layers view shows the result as its
 * "out dB" column.
 */
#include "config.h"
#include "activations.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plan_sensitivity.h"
#include "sensitivity.h"

struct sens_job {
    struct qs_ui_run run;
    struct qs_quant_config config;
    struct qs_ui_sens_layer *sens;   /* per layer */
};

/* Copy the measurements of "result" into the per-layer array "sens". */
static void
sens_store(struct qs_ui_sens_layer *sens, const struct qs_sens_result *result)
{
    for (size_t i = 0; i < result->count; i++) {
        const struct qs_sens_layer *item = &result->items[i];
        struct qs_ui_sens_layer *s = &sens[item->layer->index];

        s->measured = !item->skipped;
        s->sqnr_db = item->output.sqnr_db;
        s->exact = item->output.exact;
        snprintf(s->skipped, sizeof(s->skipped), "%s", item->skipped ? item->skipped : "");
    }
}

/* Every quantizable layer, one at a time; a cancelled run stops after the layer it measures. */
static enum qs_status
measure(struct sens_job *job, const struct qs_input_set *inputs)
{
    struct qs_sens_options options = {
        .config = &job->config, .threads = job->run.threads,
        .progress = qs_ui_run_step, .progress_ctx = &job->run,
    };
    struct qs_sens_result result;
    enum qs_status status;

    status = qs_sensitivity_run(job->run.model, job->run.layers, inputs, &options,
                                &job->run.diag, &result);
    qs_ui_run_end(&job->run);
    if (status == QS_OK)
        sens_store(job->sens, &result);
    qs_sensitivity_done(&result);
    return status;
}

static void
sens_job_run(struct qs_job *base)
{
    struct sens_job *job = (struct sens_job *)base;
    const struct qs_layers *layers = job->run.layers;
    struct qs_interp *interp;
    struct qs_input_set inputs;
    enum qs_status status = qs_ui_run_inputs(&job->run, &interp, &inputs);
    size_t total = 0;

    /* The interpreter only read the inputs: qs_sensitivity_run makes its own. */
    qs_interp_free(interp);
    for (size_t i = 0; i < layers->count; i++)
        total += layers->items[i].quantizable;
    atomic_store(&job->run.total_steps, total);
    if (status == QS_OK)
        status = measure(job, &inputs);
    job->run.status = status;
    qs_inputs_done(&inputs);
}

/* Make "sens" (owned from now on) the browser's sensitivity. */
static void
sens_set(struct qs_ui *ui, struct qs_ui_sens_layer *sens, const char *config, const char *file,
         uint64_t samples)
{
    free(ui->act->sens);
    free(ui->act->sens_file);
    ui->act->sens = sens;
    snprintf(ui->act->sens_config, sizeof(ui->act->sens_config), "%s", config);
    ui->act->sens_file = file ? qs_strdup(file) : NULL;
    ui->act->sens_samples = samples;
    ui->generation++;
}

static void
sens_job_done(struct qs_job *base, void *ctx)
{
    struct sens_job *job = (struct sens_job *)base;
    struct qs_ui *ui = ctx;
    char config[QS_QUANT_CONFIG_MAX];
    size_t measured = 0;

    if (job->run.status != QS_OK) {
        qs_ui_run_failed(ui, &job->run, "sensitivity");
        return;
    }
    for (size_t i = 0; i < ui->layers->count; i++)
        measured += (size_t)job->sens[i].measured;
    qs_quant_config_format(&job->config, config, sizeof(config));
    sens_set(ui, job->sens, config, NULL, job->run.samples);
    job->sens = NULL;
    qs_ui_message(ui, "sensitivity at %s: %zu layers measured on %zu samples (layers view, "
                  "out dB)", config, measured, job->run.samples);
}

static void
sens_job_free(struct qs_job *base)
{
    struct sens_job *job = (struct sens_job *)base;

    free(job->sens);
    qs_ui_run_release(&job->run);
    free(job);
}

static const struct qs_job_ops sens_job_ops = {
    .name = "sensitivity", .run = sens_job_run, .done = sens_job_done, .free = sens_job_free,
};

int
qs_ui_sensitivity(struct qs_ui *ui)
{
    struct sens_job *job = qs_calloc(1, sizeof(*job));

    qs_ui_run_init(ui, &job->run, QS_RUN_SENSITIVITY, &sens_job_ops);
    job->run.unit = "layers";
    qs_layer_view_config(ui, &job->config);
    job->sens = qs_calloc(ui->layers->count + 1, sizeof(*job->sens));
    return qs_ui_run_submit(ui, &job->run);
}

/* ---- reading a ranking ---- */

struct sens_file_job {
    struct qs_job base;
    const struct qs_model *model;
    const struct qs_layers *layers;
    char *path;
    struct qs_ui_sens_layer *sens;   /* per layer */
    char *config;
    uint64_t samples;
    size_t listed;               /* entries naming a layer of the model */
    size_t unknown;              /* entries naming none */
    enum qs_status status;
    struct qs_diag diag;
};

/* One entry of the "layers" array; numbers that are null were not finite. */
static void
read_item(struct sens_file_job *job, json_t *item)
{
    const char *key = json_string_value(json_object_get(item, "key"));
    const struct qs_layer *layer = key ? qs_layers_find(job->layers, key) : NULL;
    json_t *sqnr = json_object_get(item, "output_sqnr_db");
    const char *skipped = json_string_value(json_object_get(item, "skipped"));
    struct qs_ui_sens_layer *s;

    if (!layer) {
        job->unknown++;
        return;
    }
    s = &job->sens[layer->index];
    s->exact = json_is_true(json_object_get(item, "output_exact"));
    s->measured = !skipped && (json_is_number(sqnr) || s->exact);
    s->sqnr_db = s->exact ? INFINITY : json_is_number(sqnr) ? json_number_value(sqnr) : NAN;
    snprintf(s->skipped, sizeof(s->skipped), "%s", skipped ? skipped : "");
    job->listed++;
}

static void
sens_file_job_run(struct qs_job *base)
{
    struct sens_file_job *job = (struct sens_file_job *)base;
    struct qs_plan_sensitivity checked;
    json_error_t error;
    json_t *doc, *layers;
    json_int_t samples;

    /* The core's reader checks the format, the version and the model's SHA-256. */
    job->status = qs_plan_sensitivity_read(job->path, job->model, &checked, &job->diag);
    if (job->status == QS_OK)
        job->config = qs_strdup(checked.config);
    qs_plan_sensitivity_done(&checked);
    if (job->status != QS_OK)
        return;
    doc = json_load_file(job->path, JSON_REJECT_DUPLICATES, &error);
    if (!doc) {
        job->status = qs_diag_add(&job->diag, QS_INVALID, job->path, "%s (line %d)", error.text,
                                  error.line);
        return;
    }
    samples = json_integer_value(json_object_get(doc, "samples"));
    job->samples = samples > 0 ? (uint64_t)samples : 0;
    layers = json_object_get(doc, "layers");
    for (size_t i = 0; i < json_array_size(layers); i++)
        read_item(job, json_array_get(layers, i));
    json_decref(doc);
}

static void
sens_file_job_done(struct qs_job *base, void *ctx)
{
    struct sens_file_job *job = (struct sens_file_job *)base;
    struct qs_ui *ui = ctx;

    if (job->status != QS_OK) {
        qs_ui_error(ui, "sensitivity not loaded: %s",
                    job->diag.count ? job->diag.lines[0] : job->path);
        return;
    }
    sens_set(ui, job->sens, job->config, job->path, job->samples);
    job->sens = NULL;
    if (job->unknown)
        qs_ui_error(ui, "%s: %zu layers are not in this model (their rows are left out)",
                    job->path, job->unknown);
    else
        qs_ui_message(ui, "sensitivity from %s: %zu layers at %s", job->path, job->listed,
                      job->config);
}

static void
sens_file_job_free(struct qs_job *base)
{
    struct sens_file_job *job = (struct sens_file_job *)base;

    free(job->sens);
    free(job->config);
    free(job->path);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops sens_file_job_ops = {
    .name = "reading sensitivity", .run = sens_file_job_run, .done = sens_file_job_done,
    .free = sens_file_job_free,
};

int
qs_ui_sensitivity_read(struct qs_ui *ui, const char *path)
{
    struct sens_file_job *job;

    if (!ui->model || !ui->layers) {
        qs_ui_error(ui, "a sensitivity ranking needs a model whose layers were found");
        return -1;
    }
    job = qs_calloc(1, sizeof(*job));
    job->base.ops = &sens_file_job_ops;
    job->model = ui->model;
    job->layers = ui->layers;
    job->path = qs_strdup(path);
    job->sens = qs_calloc(ui->layers->count + 1, sizeof(*job->sens));
    qs_diag_init(&job->diag);
    qs_ui_submit(ui, &job->base, QS_LANE_RUN, -1);
    return 0;
}
