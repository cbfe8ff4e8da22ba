/*
 * The browser's activation state: statistics read from .qstats files and
 * their per-layer summaries, the activation configuration whose
 * clipping range the plots mark, and the run of the model in progress
 * (its inputs, progress bar and cancellation).
 */
#include "config.h"
#include "activations.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trace.h"

/* Columns of the progress bar in the status line. */
#define RUN_BAR_WIDTH 20

/* ---- state ---- */

void
qs_ui_act_init(struct qs_ui *ui)
{
    ui->act = qs_calloc(1, sizeof(*ui->act));
    qs_act_config_parse(QS_UI_ACT_DEFAULT_CONFIG, &ui->act->config, NULL, 0);
}

static void
calib_free(struct qs_ui_act *act)
{
    if (act->calib)
        qs_calib_done(act->calib);
    free(act->calib);
    free(act->calib_file);
    free(act->layers);
    act->calib = NULL;
    act->calib_file = NULL;
    act->layers = NULL;
}

void
qs_ui_act_done(struct qs_ui *ui)
{
    struct qs_ui_act *act = ui->act;

    if (!act)
        return;
    calib_free(act);
    free(act->sens);
    free(act->sens_file);
    if (act->eval)
        qs_eval_result_done(act->eval);
    free(act->eval);
    free(act->eval_source);
    free(act->eval_plan);
    free(act);
    ui->act = NULL;
}

/* ---- per-layer summaries ---- */

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

void
qs_ui_act_channels(const struct qs_calib_channels *e, double *absmax, double *median,
                   uint64_t *outliers, unsigned char *outlier)
{
    double *sorted = qs_calloc(e->channels + 1, sizeof(double));
    size_t n = 0;

    *absmax = NAN;
    *median = NAN;
    *outliers = 0;
    for (uint64_t c = 0; c < e->channels; c++)
        if (e->count[c] > 0)
            sorted[n++] = e->absmax[c];
    if (n > 0) {
        qsort(sorted, n, sizeof(double), compare_double);
        *absmax = sorted[n - 1];
        *median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }
    free(sorted);

    for (uint64_t c = 0; c < e->channels; c++) {
        int is_outlier = n > 0 && e->count[c] > 0 &&
                         e->absmax[c] > QS_UI_ACT_OUTLIER_RATIO * *median;

        *outliers += (uint64_t)is_outlier;
        if (outlier)
            outlier[c] = (unsigned char)is_outlier;
    }
}

/* Add the channel statistics "e" of one use to its layer's summary. */
static void
summarise_use(struct qs_ui *ui, const struct qs_calib_channels *e)
{
    size_t index = qs_ui_layer_find(ui, e->layer);
    struct qs_ui_act_layer *s;
    double absmax, median;
    uint64_t outliers;

    if (index == SIZE_MAX || e->channels == 0)
        return;
    s = &ui->act->layers[index];
    qs_ui_act_channels(e, &absmax, &median, &outliers, NULL);
    if (!s->input) {
        s->input = e;
        s->tensor = qs_calib_find(ui->act->calib, e->tensor);
        s->median = median;
    }
    s->uses++;
    if (!(s->absmax >= absmax))
        s->absmax = isnan(s->absmax) ? absmax : fmax(s->absmax, absmax);
    if (outliers > s->outliers)
        s->outliers = outliers;
}

void
qs_ui_act_set_calib(struct qs_ui *ui, struct qs_calib *calib, const char *file)
{
    struct qs_ui_act *act = ui->act;

    calib_free(act);
    act->calib = calib;
    act->calib_file = file ? qs_strdup(file) : NULL;
    act->calib_serial++;
    if (ui->layers) {
        act->layers = qs_calloc(ui->layers->count + 1, sizeof(*act->layers));
        for (size_t i = 0; i < ui->layers->count; i++)
            act->layers[i].absmax = NAN;
        for (size_t i = 0; i < calib->n_layer_inputs; i++)
            summarise_use(ui, &calib->layer_inputs[i]);
    }
    ui->generation++;
}

const struct qs_ui_act_layer *
qs_ui_act_layer(const struct qs_ui *ui, size_t index)
{
    if (!ui->act || !ui->act->layers || !ui->layers || index >= ui->layers->count ||
        !ui->act->layers[index].input)
        return NULL;
    return &ui->act->layers[index];
}

const struct qs_ui_sens_layer *
qs_ui_sens_layer(const struct qs_ui *ui, size_t index)
{
    if (!ui->act || !ui->act->sens || !ui->layers || index >= ui->layers->count)
        return NULL;
    return &ui->act->sens[index];
}

/* ---- the activation configuration ---- */

int
qs_ui_act_set_config(struct qs_ui *ui, const char *text)
{
    struct qs_act_config config;
    char message[256], canonical[QS_ACT_CONFIG_MAX];

    if (qs_act_config_parse(text, &config, message, sizeof(message)) != QS_OK) {
        qs_ui_error(ui, "%s", message);
        return -1;
    }
    ui->act->config = config;
    qs_act_config_format(&config, canonical, sizeof(canonical));
    qs_ui_message(ui, "activations: %s", canonical);
    return 0;
}

void
qs_ui_act_next_range(struct qs_ui *ui)
{
    struct qs_act_config *c = &ui->act->config;
    char text[QS_ACT_CONFIG_MAX];

    /* Dynamic scales have no range to choose: the cycle starts over with static ones. */
    if (c->mode != QS_ACT_STATIC) {
        c->mode = QS_ACT_STATIC;
        c->range = QS_ACT_RANGE_MINMAX;
    } else if (c->range == QS_ACT_RANGE_MINMAX) {
        c->range = QS_ACT_RANGE_PERCENTILE;
        c->percentile_centi = 9999;
    } else if (c->range == QS_ACT_RANGE_PERCENTILE) {
        c->range = QS_ACT_RANGE_ENTROPY;
    } else if (c->range == QS_ACT_RANGE_ENTROPY) {
        c->range = QS_ACT_RANGE_MSE;
    } else {
        c->range = QS_ACT_RANGE_MINMAX;
    }
    qs_act_config_format(c, text, sizeof(text));
    qs_ui_message(ui, "activations: %s", text);
}

int
qs_ui_act_clip(const struct qs_ui *ui, const struct qs_calib_tensor *t, double *lo, double *hi)
{
    struct qs_act_params params;

    if (ui->act->config.mode != QS_ACT_STATIC || !t || t->count == 0)
        return 0;
    qs_act_static_params(&ui->act->config, t, &params);
    *lo = params.lo;
    *hi = params.hi;
    return 1;
}

char *
qs_ui_inputs_source(const struct qs_input_spec *spec, size_t samples)
{
    const char *plural = samples == 1 ? "" : "s";

    if (spec->data_dir)
        return qs_asprintf("--data %s", spec->data_dir);
    if (spec->random)
        return qs_asprintf("%zu random sample%s, seed %" PRIu64 ", %s", samples, plural,
                           spec->seed, spec->dist == QS_INPUT_UNIFORM ? "uniform" : "normal");
    if (spec->n_files)
        return qs_asprintf("--input files, %zu sample%s", samples, plural);
    return qs_strdup("no inputs");
}

/* ---- reading statistics ---- */

struct qstats_job {
    struct qs_job base;
    const struct qs_model *model;
    char *path;
    struct qs_calib *calib;
    enum qs_status status;
    struct qs_diag diag;
};

static void
qstats_job_run(struct qs_job *base)
{
    struct qstats_job *job = (struct qstats_job *)base;

    job->status = qs_calib_read(job->path, job->model, job->calib, &job->diag);
}

static void
qstats_job_done(struct qs_job *base, void *ctx)
{
    struct qstats_job *job = (struct qstats_job *)base;
    struct qs_ui *ui = ctx;
    struct qs_calib *calib = job->calib;

    if (job->status != QS_OK) {
        qs_ui_error(ui, "statistics not loaded: %s",
                    job->diag.count ? job->diag.lines[0] : job->path);
        return;
    }
    job->calib = NULL;
    qs_ui_act_set_calib(ui, calib, job->path);
    qs_ui_message(ui, "statistics from %s: %zu activations, %" PRIu64 " sample%s", job->path,
                  calib->n_tensors, calib->samples, calib->samples == 1 ? "" : "s");
}

static void
qstats_job_free(struct qs_job *base)
{
    struct qstats_job *job = (struct qstats_job *)base;

    if (job->calib)
        qs_calib_done(job->calib);
    free(job->calib);
    free(job->path);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops qstats_job_ops = {
    .name = "reading statistics", .run = qstats_job_run, .done = qstats_job_done,
    .free = qstats_job_free,
};

void
qs_ui_act_read_qstats(struct qs_ui *ui, const char *path)
{
    struct qstats_job *job = qs_calloc(1, sizeof(*job));

    job->base.ops = &qstats_job_ops;
    job->model = ui->model;
    job->path = qs_strdup(path);
    job->calib = qs_calloc(1, sizeof(*job->calib));
    qs_diag_init(&job->diag);
    /* Not behind the weight statistics of every layer, which may take a while. */
    qs_ui_submit(ui, &job->base, QS_LANE_RUN, -1);
}

/* MODEL.qstats next to the model: the name `qscope calibrate` writes by default.  Caller frees. */
static char *
qstats_beside_model(const char *model)
{
    size_t len = strlen(model);

    if (len > 5 && strcmp(model + len - 5, ".onnx") == 0)
        return qs_asprintf("%.*s.qstats", (int)(len - 5), model);
    return qs_asprintf("%s.qstats", model);
}

void
qs_ui_act_start(struct qs_ui *ui, const struct qs_ui_options *options)
{
    struct stat st;
    char *beside;

    if (options)
        ui->act->options = *options;
    if (!ui->model || !ui->layers)
        return;
    if (ui->act->options.qstats) {
        qs_ui_act_read_qstats(ui, ui->act->options.qstats);
    } else {
        beside = qstats_beside_model(ui->path);
        if (stat(beside, &st) == 0 && S_ISREG(st.st_mode))
            qs_ui_act_read_qstats(ui, beside);
        free(beside);
    }
    if (ui->act->options.sensitivity)
        qs_ui_sensitivity_read(ui, ui->act->options.sensitivity);
}

/* ---- runs ---- */

static const char *const run_names[] = {
    [QS_RUN_CALIBRATE] = "calibrating",
    [QS_RUN_SENSITIVITY] = "sensitivity",
    [QS_RUN_EVAL] = "evaluating",
};

void
qs_ui_run_init(struct qs_ui *ui, struct qs_ui_run *run, enum qs_ui_run_kind kind,
               const struct qs_job_ops *ops)
{
    run->base.ops = ops;
    run->kind = kind;
    run->ui = ui;
    run->model = ui->model;
    run->layers = ui->layers;
    run->spec = ui->act->options.inputs;
    run->threads = ui->threads;
    run->unit = "samples";
    atomic_init(&run->done_steps, 0);
    atomic_init(&run->total_steps, 0);
    qs_diag_init(&run->diag);
}

int
qs_ui_run_submit(struct qs_ui *ui, struct qs_ui_run *run)
{
    char key[16];

    if (ui->act->run) {
        qs_ui_error(ui, "%s is running (%s cancels it)", run_names[ui->act->run->kind],
                    qs_key_name(qs_actions[QS_ACTION_CANCEL_RUN].keys[0], key, sizeof(key)));
        run->base.ops->free(&run->base);
        return -1;
    }
    ui->act->run = run;
    qs_ui_submit(ui, &run->base, QS_LANE_RUN, QS_SLOT_RUN);
    QS_TRACE("%s started", run_names[run->kind]);
    return 0;
}

enum qs_status
qs_ui_run_inputs(struct qs_ui_run *run, struct qs_interp **interp, struct qs_input_set *inputs)
{
    struct qs_interp_options options = { .threads = run->threads };
    enum qs_status status;

    memset(inputs, 0, sizeof(*inputs));
    *interp = NULL;
    status = qs_interp_new(run->model, &options, &run->diag, interp);
    if (status != QS_OK)
        return status;
    status = qs_inputs_load(*interp, &run->spec, run->model->path, &run->diag, inputs);
    run->samples = inputs->n_samples;
    return status;
}

void
qs_ui_run_step(void *ctx)
{
    struct qs_ui_run *run = ctx;
    size_t done = atomic_fetch_add(&run->done_steps, 1) + 1;
    size_t total = atomic_load(&run->total_steps);

    if (total)
        atomic_store(&run->base.progress, (int)(done * 1000 / total));
    /*
     * XXX: qs_sensitivity_run and qs_eval_run cannot be told to stop, so a
     * cancelled run shrinks the interpreter's largest allocation to one
     * byte, and the next tensor it makes fails the run.  Only this lane
     * runs the interpreter, one run at a time, and qs_ui_run_end restores
     * the limit.  A cancel flag in their options would replace this.
     */
    if (qs_job_cancelled(&run->base) && !run->stopping) {
        run->stopping = 1;
        qs_rt_set_alloc_limit(1);
    }
}

void
qs_ui_run_end(struct qs_ui_run *run)
{
    if (run->stopping)
        qs_rt_set_alloc_limit(0);
    run->stopping = 0;
}

void
qs_ui_run_release(struct qs_ui_run *run)
{
    if (run->ui->act && run->ui->act->run == run)
        run->ui->act->run = NULL;
    qs_diag_done(&run->diag);
}

void
qs_ui_run_failed(struct qs_ui *ui, struct qs_ui_run *run, const char *what)
{
    const struct qs_input_spec *spec = &run->spec;

    if (run->status == QS_USAGE && !spec->data_dir && !spec->random && !spec->n_files) {
        qs_ui_error(ui, "%s needs inputs: start qscope with --data DIR, --input NAME=FILE or "
                    "--random N", what);
        return;
    }
    if (run->diag.count)
        qs_ui_error_diag(ui, &run->diag);
    else
        qs_ui_error(ui, "%s failed (%s)", what, qs_status_text(run->status));
}

int
qs_ui_run_cancel(struct qs_ui *ui)
{
    struct qs_ui_run *run = ui->act ? ui->act->run : NULL;

    if (!run) {
        qs_ui_error(ui, "nothing to cancel: no calibration, sensitivity or evaluation runs");
        return -1;
    }
    /* The job may still finish its current step on its lane; its result is dropped. */
    qs_worker_cancel_slot(ui->worker, QS_SLOT_RUN);
    ui->act->run = NULL;
    qs_ui_message(ui, "%s cancelled", run_names[run->kind]);
    return 0;
}

int
qs_ui_run_draw(struct qs_ui *ui, struct qs_row *row, size_t cols)
{
    struct qs_ui_run *run = ui->act ? ui->act->run : NULL;
    size_t done, total;
    char key[16];

    if (!run || cols < RUN_BAR_WIDTH + 30)
        return 0;
    done = atomic_load(&run->done_steps);
    total = atomic_load(&run->total_steps);
    qs_row_addf(row, QS_STYLE_WARN, "%s ", run_names[run->kind]);
    if (total == 0) {
        qs_row_addf(row, QS_STYLE_DIM, "reading the inputs%s ", qs_glyphs.ellipsis);
    } else {
        qs_row_add(row, QS_STYLE_DIM, qs_glyphs.vline);
        qs_row_bar(row, QS_STYLE_BAR, (double)done / (double)total, RUN_BAR_WIDTH);
        qs_row_add(row, QS_STYLE_DIM, qs_glyphs.vline);
        qs_row_addf(row, QS_STYLE_NORMAL, " %zu/%zu %s  ", done, total, run->unit);
    }
    qs_row_add(row, QS_STYLE_KEY,
               qs_key_name(qs_actions[QS_ACTION_CANCEL_RUN].keys[0], key, sizeof(key)));
    qs_row_add(row, QS_STYLE_STATUS, " cancel");
    if (ui->message[0])
        qs_row_add(row, QS_STYLE_STATUS, "  ");
    return 1;
}

int
qs_ui_act_action(struct qs_ui *ui, enum qs_action action)
{
    switch (action) {
    case QS_ACTION_CALIBRATE: case QS_ACTION_SENSITIVITY: case QS_ACTION_EVAL:
        if (!ui->model || !ui->layers) {
            qs_ui_error(ui, "%s needs a model whose layers were found",
                        qs_actions[action].name);
            return 1;
        }
        if (action == QS_ACTION_CALIBRATE)
            qs_ui_calibrate(ui);
        else if (action == QS_ACTION_SENSITIVITY)
            qs_ui_sensitivity(ui);
        else
            qs_ui_eval(ui);
        return 1;
    case QS_ACTION_CANCEL_RUN:
        qs_ui_run_cancel(ui);
        return 1;
    default:
        return 0;
    }
}
