/*
 * Layer view: one layer's plots (layer_plot.c) and, under them, the trial
 * panel: format, bits, granularity, group size, scheme and range, each
 * changed by one key, with the error and size of the configuration
 * updating as keys are pressed, and a comparison of per-tensor,
 * per-channel and per-group scales at the same bits.  Sizes are computed
 * at once (they need no data); errors come from trials on the trial lane,
 * where a new key cancels the trial of the previous one.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "layer_view.h"
#include "trace.h"

/* Formats in the order f cycles through them; the int entry stands for every bit width. */
static const enum qs_quant_format format_cycle[] = {
    QS_QUANT_INT8, QS_QUANT_FP8E4M3, QS_QUANT_FP8E5M2, QS_QUANT_NF4, QS_QUANT_FP16, QS_QUANT_BF16
};
#define N_FORMATS (sizeof(format_cycle) / sizeof(format_cycle[0]))

/* Rows of the trial panel under the plots. */
#define PANEL_ROWS 7

/* Minimum width of the key in the title when it is shortened. */
#define LAYER_TITLE_KEY_MIN 16

static const struct qs_layer *
shown_layer(struct qs_view *view)
{
    struct layer_view *lv = view->priv;

    return lv->layer < view->ui->layers->count ? &view->ui->layers->items[lv->layer] : NULL;
}

/* Whether "config" is valid and fits "layer"; the reason in "message" when not. */
static int
config_fits(const struct qs_layer *layer, const struct qs_quant_config *config, char *message,
            size_t size)
{
    return qs_quant_config_check(config, message, size) == QS_OK &&
           qs_plan_check_config(layer, config, message, size) == QS_OK;
}

/* ---- trials ---- */

struct trial_job {
    struct qs_job base;
    struct qs_ui *ui;
    struct qs_ui_data *data;
    size_t layer;
    int threads;
    const char *path;
    int compare;             /* the comparison rows instead of the trial */
    struct trial trials[LAYER_COMPARE];
    int n;
    int want_clip;           /* compute the clipping range from the scales */
    double clip_lo, clip_hi;
    int clip_known;
    double key_time;
};

/*
 * The widest range the scales of an integer trial can represent.
 * NOTE: a small derivation of the quantization grid that belongs in
 * quant.h next to the kernels; here it only places two marks on a plot.
 */
static void
clip_range(const struct qs_quant_config *config, const float *scales, const int32_t *zero_points,
           uint64_t n, double *lo, double *hi)
{
    int bits = qs_quant_format_bits(config->format);
    double qmax_sym = ldexp(1.0, bits - 1) - 1.0, qmax_asym = ldexp(1.0, bits) - 1.0;

    *lo = INFINITY;
    *hi = -INFINITY;
    for (uint64_t i = 0; i < n; i++) {
        double s = scales[i];
        int asym = config->scheme == QS_QUANT_ASYM;
        double a = asym ? (0.0 - zero_points[i]) * s : -qmax_sym * s;
        double b = asym ? (qmax_asym - zero_points[i]) * s : qmax_sym * s;

        *lo = a < *lo ? a : *lo;
        *hi = b > *hi ? b : *hi;
    }
}

/* Run one trial; with "clip" set, also find its clipping range. */
static void
run_one(struct trial_job *job, struct trial *t, int clip)
{
    const struct qs_layer *layer = &job->ui->layers->items[job->layer];
    struct qs_quant_request request = { 0 };
    struct qs_quant_sizes sizes;
    struct qs_diag diag;
    char message[256];

    qs_diag_init(&diag);
    request.config = &t->config;
    request.layout = &job->data->layout;
    request.weights = job->data->data.values;
    request.threads = job->threads;
    request.file = job->path;
    request.layer = layer->key;
    if (clip && qs_quant_sizes_compute(&t->config, &job->data->layout, &sizes, message,
                                       sizeof(message)) == QS_OK && sizes.scales) {
        request.output.scales = qs_calloc(sizes.scales, sizeof(float));
        if (t->config.scheme == QS_QUANT_ASYM)
            request.output.zero_points = qs_calloc(sizes.scales, sizeof(int32_t));
    }
    if (qs_quant_trial(&request, &t->result, &diag) == QS_OK) {
        t->state = TRIAL_DONE;
        if (request.output.scales) {
            clip_range(&t->config, request.output.scales, request.output.zero_points, sizes.scales,
                       &job->clip_lo, &job->clip_hi);
            job->clip_known = 1;
        }
    } else {
        t->state = TRIAL_FAILED;
        snprintf(t->error, sizeof(t->error), "%s", diag.count ? diag.lines[0] : "trial failed");
    }
    free(request.output.scales);
    free(request.output.zero_points);
    qs_diag_done(&diag);
}

static void
trial_job_run(struct qs_job *base)
{
    struct trial_job *job = (struct trial_job *)base;

    for (int i = 0; i < job->n && !qs_job_cancelled(base); i++)
        run_one(job, &job->trials[i], job->want_clip && i == 0);
}

static void
trial_job_done(struct qs_job *base, void *ctx)
{
    struct trial_job *job = (struct trial_job *)base;
    struct qs_view *view = &((struct qs_ui *)ctx)->views[QS_VIEW_LAYER];
    struct layer_view *lv = view->priv;
    char text[QS_QUANT_CONFIG_MAX];

    if (!lv || lv->layer != job->layer)
        return;
    if (job->compare) {
        for (int i = 0; i < LAYER_COMPARE; i++)
            if (lv->compare_valid[i] && qs_quant_config_equal(&lv->compare[i].config,
                                                              &job->trials[i].config))
                lv->compare[i] = job->trials[i];
        return;
    }
    if (!qs_quant_config_equal(&lv->trial.config, &job->trials[0].config))
        return;
    lv->trial = job->trials[0];
    lv->clip_known = job->clip_known;
    lv->clip_lo = job->clip_lo;
    lv->clip_hi = job->clip_hi;
    qs_quant_config_format(&lv->trial.config, text, sizeof(text));
    QS_TRACE("trial %s of %s shown %.1f ms after the key (%s kernels)", text,
             job->ui->layers->items[job->layer].key, (qs_trace_now() - job->key_time) * 1e3,
             job->trials[0].result.isa ? job->trials[0].result.isa : "?");
}

static void
trial_job_free(struct qs_job *base)
{
    struct trial_job *job = (struct trial_job *)base;

    qs_ui_data_unref(job->data);
    free(job);
}

static const struct qs_job_ops trial_job_ops = {
    .name = "trial", .run = trial_job_run, .done = trial_job_done, .free = trial_job_free,
};

static struct trial_job *
trial_job_new(struct qs_ui *ui, struct qs_ui_data *data, size_t layer)
{
    struct trial_job *job = qs_calloc(1, sizeof(*job));

    job->base.ops = &trial_job_ops;
    job->ui = ui;
    job->data = data;
    job->layer = layer;
    job->threads = ui->threads;
    job->path = ui->path;
    job->key_time = ui->key_time;
    return job;
}

/* Start the trial and the comparison rows once the layer's data is there. */
static void
try_submit(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    struct qs_ui_data *data;
    struct trial_job *job;

    if (lv->trial.state != TRIAL_WAITING)
        return;
    data = qs_ui_data_get(ui, lv->layer);
    if (!data)
        return;
    job = trial_job_new(ui, data, lv->layer);
    job->trials[0] = lv->trial;
    job->n = 1;
    job->want_clip = lv->trial.config.range != QS_QUANT_RANGE_MINMAX;
    lv->trial.state = TRIAL_RUNNING;
    qs_ui_submit(ui, &job->base, QS_LANE_TRIAL, QS_SLOT_TRIAL);

    data->refs++;
    job = trial_job_new(ui, data, lv->layer);
    job->compare = 1;
    job->n = LAYER_COMPARE;
    for (int i = 0; i < LAYER_COMPARE; i++) {
        job->trials[i] = lv->compare[i];
        if (lv->compare_valid[i])
            lv->compare[i].state = TRIAL_RUNNING;
    }
    qs_ui_submit(ui, &job->base, QS_LANE_TRIAL, QS_SLOT_COMPARE);
}

/* The comparison configurations: the trial's format and bits with each granularity. */
static void
set_compare(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    static const enum qs_quant_granularity grans[LAYER_COMPARE] = {
        QS_QUANT_GRAN_TENSOR, QS_QUANT_GRAN_CHANNEL, QS_QUANT_GRAN_GROUP
    };
    char message[256];

    for (int i = 0; i < LAYER_COMPARE; i++) {
        struct trial *t = &lv->compare[i];

        memset(t, 0, sizeof(*t));
        t->config = lv->trial.config;
        t->config.granularity = grans[i];
        if (t->config.format == QS_QUANT_NF4 && grans[i] == QS_QUANT_GRAN_GROUP)
            t->config.granularity = QS_QUANT_GRAN_BLOCK;
        if (grans[i] != QS_QUANT_GRAN_GROUP)
            t->config.group_size = 0;
        else if (!t->config.group_size)
            t->config.group_size = t->config.format == QS_QUANT_NF4 ? 64 : 128;
        if (t->config.granularity != QS_QUANT_GRAN_BLOCK)
            t->config.double_quant = 0;
        lv->compare_valid[i] = config_fits(shown_layer(view), &t->config, message, sizeof(message));
        t->state = lv->compare_valid[i] ? TRIAL_WAITING : TRIAL_FAILED;
        if (!lv->compare_valid[i])
            snprintf(t->error, sizeof(t->error), "%s", message);
    }
}

static void
trial_start(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    const struct qs_layer *layer = shown_layer(view);
    struct qs_quant_layout layout;
    char message[256];

    /* No clipping marks from the layer shown before. */
    lv->clip_known = 0;
    /* Auxiliary layers (biases, normalisation parameters) get statistics, not trials. */
    if (!layer->quantizable) {
        lv->trial.state = TRIAL_FAILED;
        snprintf(lv->trial.error, sizeof(lv->trial.error), "not quantizable (%s): statistics only",
                 layer->fault ? layer->fault : layer->not_quantizable ? layer->not_quantizable
                                                                      : "no weight use");
        lv->sizes_ok = 0;
        return;
    }
    lv->trial.state = TRIAL_WAITING;
    lv->sizes_ok = qs_plan_layout(shown_layer(view), &layout, NULL, NULL) == QS_OK &&
                   qs_quant_sizes_compute(&lv->trial.config, &layout, &lv->sizes, message,
                                          sizeof(message)) == QS_OK;
    set_compare(view);
    try_submit(view);
}

/* ---- choosing the configuration ---- */

/* Make "config" fit "layer" by falling back to coarser granularities.  Returns 0, or -1. */
static int
config_adapt(const struct qs_layer *layer, struct qs_quant_config *config)
{
    char message[256];

    if (config_fits(layer, config, message, sizeof(message)))
        return 0;
    if (config->granularity == QS_QUANT_GRAN_GROUP || config->granularity == QS_QUANT_GRAN_BLOCK) {
        config->granularity = QS_QUANT_GRAN_CHANNEL;
        config->group_size = 0;
        config->double_quant = 0;
        if (config_fits(layer, config, message, sizeof(message)))
            return 0;
    }
    if (config->granularity == QS_QUANT_GRAN_CHANNEL) {
        config->granularity = QS_QUANT_GRAN_TENSOR;
        if (config_fits(layer, config, message, sizeof(message)))
            return 0;
    }
    return -1;
}

/* The configuration a newly shown layer starts with. */
static void
initial_config(struct qs_view *view, struct qs_quant_config *config)
{
    struct layer_view *lv = view->priv;
    const struct qs_plan_layer *entry = qs_ui_plan_entry(view->ui, lv->layer);
    const struct qs_layer *layer = shown_layer(view);

    if (entry && !entry->is_float) {
        *config = entry->config;
        lv->wanted = *config;
        lv->have_wanted = 1;
        return;
    }
    /* A layer without trials shows the chosen configuration unchanged, for the next one. */
    if (!layer->quantizable) {
        if (lv->have_wanted)
            *config = lv->wanted;
        else
            qs_quant_config_default(QS_QUANT_INT8, config);
        return;
    }
    if (lv->have_wanted) {
        *config = lv->wanted;
        if (config_adapt(layer, config) == 0)
            return;
    }
    qs_quant_config_default(QS_QUANT_INT8, config);
    config_adapt(layer, config);
}

static void
load_layer(struct qs_view *view, size_t index)
{
    struct layer_view *lv = view->priv;

    lv->layer = index;
    view->ui->layer = index;
    layer_plots_reset(lv);
    initial_config(view, &lv->trial.config);
    qs_ui_layer_stats(view->ui, index);
    trial_start(view);
}

/* Apply "config" as the new trial when it fits; else say why not. */
static void
apply(struct qs_view *view, const struct qs_quant_config *config)
{
    struct layer_view *lv = view->priv;
    char message[256];

    if (!config_fits(shown_layer(view), config, message, sizeof(message))) {
        qs_ui_error(view->ui, "%s", message);
        return;
    }
    lv->trial.config = *config;
    lv->wanted = *config;
    lv->have_wanted = 1;
    trial_start(view);
}

static void
change_format(struct qs_view *view, int step)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;
    enum qs_quant_kind kind = qs_quant_format_kind(config.format);
    size_t at = 0;

    for (size_t i = 0; i < N_FORMATS; i++)
        if (format_cycle[i] == config.format ||
            (kind == QS_QUANT_KIND_INT && qs_quant_format_kind(format_cycle[i]) == kind))
            at = i;
    at = (at + N_FORMATS + (size_t)(step > 0 ? 1 : N_FORMATS - 1)) % N_FORMATS;
    qs_quant_config_default(format_cycle[at], &config);
    /* Keep the granularity the user chose where the new format allows it. */
    if (qs_quant_format_kind(config.format) != QS_QUANT_KIND_CAST &&
        lv->trial.config.granularity != QS_QUANT_GRAN_NONE) {
        struct qs_quant_config keep = config;
        char message[256];

        keep.granularity = lv->trial.config.granularity;
        keep.group_size = lv->trial.config.group_size;
        if (keep.format == QS_QUANT_NF4 && keep.granularity == QS_QUANT_GRAN_GROUP)
            keep.granularity = QS_QUANT_GRAN_BLOCK;
        else if (keep.format != QS_QUANT_NF4 && keep.granularity == QS_QUANT_GRAN_BLOCK)
            keep.granularity = QS_QUANT_GRAN_GROUP;
        if (config_fits(shown_layer(view), &keep, message, sizeof(message)))
            config = keep;
    }
    config_adapt(shown_layer(view), &config);
    apply(view, &config);
}

static void
change_bits(struct qs_view *view, int step)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;
    int bits = qs_quant_format_bits(config.format);

    if (qs_quant_format_kind(config.format) != QS_QUANT_KIND_INT) {
        qs_ui_error(view->ui, "bits apply to int formats (f changes the format)");
        return;
    }
    if (step < 0)
        bits = bits == 16 ? 8 : bits > 2 ? bits - 1 : 2;
    else
        bits = bits == 8 ? 16 : bits < 8 ? bits + 1 : 16;
    config.format = bits == 16 ? QS_QUANT_INT16 : (enum qs_quant_format)(QS_QUANT_INT2 + bits - 2);
    apply(view, &config);
}

static void
change_granularity(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;
    int block = config.format == QS_QUANT_NF4;
    char message[256];

    if (config.granularity == QS_QUANT_GRAN_NONE) {
        qs_ui_error(view->ui, "%s is a plain cast without scales",
                    qs_quant_format_name(config.format));
        return;
    }
    /* tensor -> channel -> group -> tensor, skipping what the layer or format lacks. */
    for (int tries = 0; tries < 3; tries++) {
        if (config.granularity == QS_QUANT_GRAN_TENSOR)
            config.granularity = QS_QUANT_GRAN_CHANNEL;
        else if (config.granularity == QS_QUANT_GRAN_CHANNEL)
            config.granularity = block ? QS_QUANT_GRAN_BLOCK : QS_QUANT_GRAN_GROUP;
        else
            config.granularity = QS_QUANT_GRAN_TENSOR;
        config.group_size = config.granularity >= QS_QUANT_GRAN_GROUP
                            ? (lv->trial.config.group_size ? lv->trial.config.group_size
                                                           : block ? 64 : 128) : 0;
        if (config.granularity != QS_QUANT_GRAN_BLOCK)
            config.double_quant = 0;
        if (config_fits(shown_layer(view), &config, message, sizeof(message)))
            break;
    }
    apply(view, &config);
}

static void
change_group(struct qs_view *view, int step)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;

    if (config.granularity != QS_QUANT_GRAN_GROUP && config.granularity != QS_QUANT_GRAN_BLOCK) {
        qs_ui_error(view->ui, "the group size applies to groups (g changes the granularity)");
        return;
    }
    if (step < 0 && config.group_size > 16)
        config.group_size /= 2;
    else if (step > 0 && config.group_size < 1024)
        config.group_size *= 2;
    apply(view, &config);
}

static void
change_scheme(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;

    config.scheme = config.scheme == QS_QUANT_SYM ? QS_QUANT_ASYM : QS_QUANT_SYM;
    apply(view, &config);
}

static void
change_range(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_quant_config config = lv->trial.config;

    if (config.range == QS_QUANT_RANGE_MINMAX)
        config.range = QS_QUANT_RANGE_MSE;
    else if (config.range == QS_QUANT_RANGE_MSE) {
        config.range = QS_QUANT_RANGE_PERCENTILE;
        config.percentile_centi = 9999;
    } else if (config.percentile_centi == 9999)
        config.percentile_centi = 9990;
    else {
        config.range = QS_QUANT_RANGE_MINMAX;
        config.percentile_centi = 0;
    }
    apply(view, &config);
}

int
qs_layer_view_set_config(struct qs_ui *ui, const char *text)
{
    struct qs_quant_config config;
    char message[256];

    if (!ui->layers || qs_ui_show(ui, QS_VIEW_LAYER) != 0)
        return -1;
    if (qs_quant_config_parse(text, &config, message, sizeof(message)) != QS_OK) {
        qs_ui_error(ui, "%s", message);
        return -1;
    }
    apply(&ui->views[QS_VIEW_LAYER], &config);
    return 0;
}

/* ---- the plan ---- */

static void
plan_set_op(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    const struct qs_layer *layer = shown_layer(view);
    char op[128], pattern[160], message[256], text[QS_QUANT_CONFIG_MAX];
    size_t set = 0, skipped = 0;

    snprintf(op, sizeof(op), "%.*s", (int)strcspn(layer->ops, ","), layer->ops);
    snprintf(pattern, sizeof(pattern), "op:%s", op);
    for (size_t i = 0; i < ui->layers->count; i++) {
        const struct qs_layer *l = &ui->layers->items[i];

        if (!l->quantizable || !qs_layer_matches(l, pattern))
            continue;
        if (qs_plan_check_config(l, &lv->trial.config, message, sizeof(message)) != QS_OK)
            skipped++;
        else if (qs_ui_plan_set(ui, i, &lv->trial.config) == 0)
            set++;
    }
    qs_quant_config_format(&lv->trial.config, text, sizeof(text));
    qs_ui_message(ui, "%s for %zu %s layers%s", text, set, op,
                  skipped ? " (some skipped: the configuration does not fit them)" : "");
}

static void
plan_set(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    char text[QS_QUANT_CONFIG_MAX];

    if (qs_ui_plan_set(view->ui, lv->layer, &lv->trial.config) == 0) {
        qs_quant_config_format(&lv->trial.config, text, sizeof(text));
        qs_ui_message(view->ui, "plan: %s for %s", text, shown_layer(view)->key);
    }
}

/* ---- view hooks ---- */

static int
layer_open(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;

    lv->layer = SIZE_MAX;
    lv->focus = PLOT_RANGE;
    if (!ui->layers || ui->layers->count == 0) {
        qs_ui_error(ui, "this model has no weights to look at");
        return -1;
    }
    if (ui->layer == SIZE_MAX) {
        ui->layer = 0;
        for (size_t i = ui->layers->count; i-- > 0;)
            if (ui->layers->items[i].quantizable)
                ui->layer = i;
    }
    return 0;
}

static void
layer_close(struct qs_view *view)
{
    struct layer_view *lv = view->priv;

    layer_plots_reset(lv);
    layer_act_reset(lv);
}

static void
layer_shown(struct qs_view *view)
{
    struct layer_view *lv = view->priv;

    if (view->ui->layer != lv->layer)
        load_layer(view, view->ui->layer);
}

void
qs_ui_open_layer(struct qs_ui *ui, size_t index)
{
    if (!ui->layers || index >= ui->layers->count)
        return;
    ui->layer = index;
    qs_ui_show(ui, QS_VIEW_LAYER);
    if (ui->views[QS_VIEW_LAYER].opened)
        layer_shown(&ui->views[QS_VIEW_LAYER]);
}

/* Show the layer "step" rows away in the layers view's order. */
static void
step_layer(struct qs_view *view, int step)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    size_t n = ui->n_layer_order ? ui->n_layer_order : ui->layers->count;
    size_t at = 0;

    for (size_t i = 0; i < n; i++)
        if ((ui->n_layer_order ? ui->layer_order[i] : i) == lv->layer)
            at = i;
    if ((step < 0 && at == 0) || (step > 0 && at + 1 >= n))
        return;
    at = step < 0 ? at - 1 : at + 1;
    load_layer(view, ui->n_layer_order ? ui->layer_order[at] : at);
}

/* Actions that change the trial or put it into the plan. */
static int
changes_config(enum qs_action action)
{
    switch (action) {
    case QS_ACTION_FORMAT_NEXT: case QS_ACTION_FORMAT_PREV: case QS_ACTION_BITS_DOWN:
    case QS_ACTION_BITS_UP: case QS_ACTION_GRANULARITY: case QS_ACTION_GROUP_DOWN:
    case QS_ACTION_GROUP_UP: case QS_ACTION_SCHEME: case QS_ACTION_RANGE:
    case QS_ACTION_PLAN_SET: case QS_ACTION_PLAN_SET_OP:
        return 1;
    default:
        return 0;
    }
}

static int
layer_key(struct qs_view *view, enum qs_action action, int key)
{
    struct layer_view *lv = view->priv;

    (void)key;
    if (changes_config(action) && !shown_layer(view)->quantizable) {
        qs_ui_error(view->ui, "%s", lv->trial.error);
        return 1;
    }
    switch (action) {
    case QS_ACTION_FORMAT_NEXT: change_format(view, 1); return 1;
    case QS_ACTION_FORMAT_PREV: change_format(view, -1); return 1;
    case QS_ACTION_BITS_DOWN: change_bits(view, -1); return 1;
    case QS_ACTION_BITS_UP: change_bits(view, 1); return 1;
    case QS_ACTION_GRANULARITY: change_granularity(view); return 1;
    case QS_ACTION_GROUP_DOWN: change_group(view, -1); return 1;
    case QS_ACTION_GROUP_UP: change_group(view, 1); return 1;
    case QS_ACTION_SCHEME: change_scheme(view); return 1;
    case QS_ACTION_RANGE: change_range(view); return 1;
    case QS_ACTION_PLAN_SET: plan_set(view); return 1;
    case QS_ACTION_PLAN_SET_OP: plan_set_op(view); return 1;
    case QS_ACTION_LAYER_NEXT: step_layer(view, 1); return 1;
    case QS_ACTION_LAYER_PREV: step_layer(view, -1); return 1;
    case QS_ACTION_PLOT_SWITCH: lv->focus = !lv->focus; return 1;
    case QS_ACTION_PLOT_EXPORT:
        if (lv->act)
            layer_act_export(view);
        else
            layer_plot_export(view);
        return 1;
    case QS_ACTION_ACT_PLOTS: layer_act_toggle(view); return 1;
    case QS_ACTION_ACT_RANGE: layer_act_next_range(view); return 1;
    case QS_ACTION_SIXEL:
        if (!qs_plot_sixel_supported(view->ui->plot)) {
            qs_ui_error(view->ui, "sixel images need a terminal that reports sixel support, "
                        "and this one did not");
            return 1;
        }
        lv->sixel = !lv->sixel;
        qs_ui_message(view->ui, lv->sixel ? "plots as sixel images" : "plots as text");
        return 1;
    default:
        return 0;
    }
}

/* ---- drawing the panel ---- */

/* Bytes of a quantized weight: payload, scales and zero points (0 without sizes). */
static uint64_t
sizes_bytes(const struct qs_quant_sizes *sizes)
{
    return sizes ? sizes->payload_bytes + sizes->scale_bytes + sizes->zero_point_bytes : 0;
}

/* Append the part of the title after the key: op, shape, format, axes. */
static void
add_title_tail(const struct qs_layer *l, struct qs_row *row)
{
    char shape[128], format[160];

    qs_row_addf(row, QS_STYLE_OP, "  %s", l->ops[0] ? l->ops : "no consumer");
    qs_row_addf(row, QS_STYLE_NORMAL, " %s %s", qs_layer_shape(l, shape, sizeof(shape)),
                qs_layer_format(l, format, sizeof(format)));
    if (l->channel_axis >= 0 || l->group_axis >= 0)
        qs_row_addf(row, QS_STYLE_DIM, "  axes c%d g%d", l->channel_axis, l->group_axis);
    if (l->bn)
        qs_row_add(row, QS_STYLE_DIM, "  BN folded");
    if (l->axis_note)
        qs_row_addf(row, QS_STYLE_WARN, "  %s", l->axis_note);
}

/* The key, shortened in the middle when the op and shape after it would not fit. */
static void
draw_title(struct qs_view *view, struct qs_row *row, size_t cols)
{
    const struct qs_layer *l = shown_layer(view);
    size_t key_cols = qs_text_columns(l->key);
    size_t over;

    qs_row_add(row, QS_STYLE_TITLE, l->key);
    add_title_tail(l, row);
    if (row->width <= cols || key_cols <= LAYER_TITLE_KEY_MIN)
        return;
    over = row->width - cols;
    qs_row_clear(row);
    qs_row_cell(row, QS_STYLE_TITLE, l->key,
                key_cols > over + LAYER_TITLE_KEY_MIN ? key_cols - over : LAYER_TITLE_KEY_MIN, 0);
    add_title_tail(l, row);
}

static void
draw_stats(struct qs_view *view, struct qs_row *row)
{
    struct layer_view *lv = view->priv;
    const struct qs_stats *s = qs_ui_layer_stats(view->ui, lv->layer);
    const struct qs_ui_layer *info = &view->ui->info[lv->layer];

    if (info->state == QS_STATS_FAILED) {
        qs_row_add(row, QS_STYLE_BAD, info->error);
        return;
    }
    if (!s) {
        qs_row_addf(row, QS_STYLE_DIM, "statistics: computing%s", qs_glyphs.ellipsis);
        return;
    }
    /* First, as the line may be cut: values no figure below includes. */
    if (s->nan_count || s->inf_count)
        qs_row_addf(row, QS_STYLE_BAD, "%" PRIu64 " NaN %" PRIu64 " Inf left out  ",
                    s->nan_count, s->inf_count);
    if (!s->finite) {
        qs_row_add(row, s->count ? QS_STYLE_BAD : QS_STYLE_DIM,
                   s->count ? "no finite values" : "empty: no values");
        return;
    }
    qs_row_addf(row, QS_STYLE_NORMAL, "min %.4g max %.4g std %.4g kurt %.3g", s->min, s->max,
                s->std, s->kurtosis);
    qs_row_addf(row, s->outliers ? QS_STYLE_WARN : QS_STYLE_NORMAL, " outliers %.3f%%",
                100.0 * s->outlier_share);
    qs_row_addf(row, s->spread > 10 ? QS_STYLE_WARN : QS_STYLE_NORMAL, " spread %.3g", s->spread);
    qs_row_addf(row, s->dead_channels ? QS_STYLE_WARN : QS_STYLE_NORMAL, " dead %" PRIu64,
                s->dead_channels);
}

/* One setting of the trial: its key, its name (when "named"), its value. */
static void
add_setting(struct qs_row *row, enum qs_action action, const char *name, const char *value,
            int named)
{
    char key[16];

    if (row->width)
        qs_row_add(row, QS_STYLE_NORMAL, "  ");
    qs_row_add(row, QS_STYLE_KEY, qs_key_name(qs_actions[action].keys[0], key, sizeof(key)));
    if (named)
        qs_row_addf(row, QS_STYLE_DIM, " %s", name);
    qs_row_addf(row, QS_STYLE_NORMAL, " %s", value);
}

static void
add_settings(const struct qs_quant_config *c, struct qs_row *row, int named)
{
    static const char *const grans[] = { "none", "tensor", "channel", "group", "block" };
    char buf[32];

    add_setting(row, QS_ACTION_FORMAT_NEXT, "format", qs_quant_format_name(c->format), named);
    snprintf(buf, sizeof(buf), "%d", qs_quant_format_bits(c->format));
    add_setting(row, QS_ACTION_BITS_DOWN, "bits", buf, named);
    add_setting(row, QS_ACTION_GRANULARITY, "gran", grans[c->granularity], named);
    if (c->group_size)
        snprintf(buf, sizeof(buf), "%u", c->group_size);
    else
        snprintf(buf, sizeof(buf), "-");
    add_setting(row, QS_ACTION_GROUP_DOWN, "group", buf, named);
    add_setting(row, QS_ACTION_SCHEME, "scheme", c->granularity == QS_QUANT_GRAN_NONE ? "-"
                                                 : c->scheme == QS_QUANT_SYM ? "sym" : "asym",
                named);
    if (c->range == QS_QUANT_RANGE_PERCENTILE)
        snprintf(buf, sizeof(buf), "p%u.%02u", c->percentile_centi / 100,
                 c->percentile_centi % 100);
    else
        snprintf(buf, sizeof(buf), "%s", c->range == QS_QUANT_RANGE_MSE ? "mse" : "minmax");
    add_setting(row, QS_ACTION_RANGE, "range", c->granularity == QS_QUANT_GRAN_NONE ? "-" : buf,
                named);
}

/* The settings with their names, or without them where that would cut a value ("p99.99"). */
static void
draw_settings(struct qs_view *view, struct qs_row *row, size_t cols)
{
    const struct qs_quant_config *c = &((struct layer_view *)view->priv)->trial.config;

    add_settings(c, row, 1);
    if (row->width <= cols)
        return;
    qs_row_clear(row);
    add_settings(c, row, 0);
}

/*
 * What the numbers of a finished trial leave out: NaN and Inf, and the
 * segments without a usable scale (all zero, subnormal or not finite),
 * which get the placeholder scale 1.0 and quantize to 0.
 */
static void
add_trial_notes(struct qs_row *row, const struct trial *t)
{
    static const char *const segments[] = { "", "tensors", "channels", "groups", "blocks" };

    /* Where nothing is finite the metrics line says so already. */
    if (t->result.nonfinite && t->result.metrics.count)
        qs_row_addf(row, QS_STYLE_BAD, "  %" PRIu64 " NaN/Inf left out", t->result.nonfinite);
    if (t->result.flagged)
        qs_row_addf(row, QS_STYLE_WARN, "  %" PRIu64 " %s zeroed", t->result.flagged,
                    segments[t->config.granularity]);
}

static void
draw_config_line(struct qs_view *view, struct qs_row *row)
{
    struct layer_view *lv = view->priv;
    const struct qs_plan_layer *entry = qs_ui_plan_entry(view->ui, lv->layer);
    char text[QS_QUANT_CONFIG_MAX];

    qs_quant_config_format(&lv->trial.config, text, sizeof(text));
    qs_row_add(row, QS_STYLE_DIM, "trial ");
    qs_row_add(row, QS_STYLE_TITLE, text);
    qs_row_add(row, QS_STYLE_DIM, "   plan ");
    if (!shown_layer(view)->quantizable)
        qs_row_addf(row, QS_STYLE_DIM, "- (not quantizable: %s)",
                    shown_layer(view)->not_quantizable);
    else
        qs_row_add(row, entry && !entry->is_float ? QS_STYLE_NORMAL : QS_STYLE_DIM,
                   entry ? entry->config_text : QS_PLAN_FLOAT);
    if (entry && !entry->is_float && qs_quant_config_equal(&entry->config, &lv->trial.config))
        qs_row_add(row, QS_STYLE_GOOD, " (this)");
    if (lv->trial.state == TRIAL_DONE)
        add_trial_notes(row, &lv->trial);
}

/* MSE, SQNR, max error, then bytes and bits per weight of one trial. */
static void
add_metrics(struct qs_row *row, const struct trial *t, const struct qs_quant_sizes *sizes,
            uint64_t count)
{
    const struct qs_quant_metrics *m = &t->result.metrics;
    char sqnr[32];
    uint64_t bytes = sizes_bytes(sizes);

    if (t->state == TRIAL_DONE && m->count == 0)
        /* Every value is NaN or Inf: there is no error to speak of, least of all "exact". */
        qs_row_add(row, QS_STYLE_BAD, "no finite values to measure");
    else if (t->state == TRIAL_DONE) {
        qs_ui_sqnr_text(m->sqnr_db, m->exact, sqnr, sizeof(sqnr));
        qs_row_addf(row, QS_STYLE_NORMAL, "MSE %.3e  SQNR ", m->mse);
        qs_row_addf(row, m->exact || m->sqnr_db >= 30 ? QS_STYLE_GOOD
                         : m->sqnr_db < 15 ? QS_STYLE_BAD : QS_STYLE_WARN, "%s%s", sqnr,
                    m->exact ? "" : " dB");
        qs_row_addf(row, QS_STYLE_NORMAL, "  max err %.3e", m->max_abs_err);
    } else if (t->state == TRIAL_FAILED) {
        qs_row_add(row, QS_STYLE_BAD, t->error);
        return;
    } else
        qs_row_addf(row, QS_STYLE_DIM, "MSE %s  SQNR %s  max err %s", qs_glyphs.ellipsis,
                    qs_glyphs.ellipsis, qs_glyphs.ellipsis);
    if (sizes && count)
        qs_row_addf(row, QS_STYLE_NORMAL, "  bytes %" PRIu64 "  bpw %.3f", bytes,
                    (double)bytes * 8.0 / (double)count);
}

/* Column widths of the comparison table. */
#define CMP_LABEL 16
#define CMP_MSE 10
#define CMP_SQNR 8
#define CMP_MAX 10
#define CMP_BYTES 9
#define CMP_BPW 7

static void
compare_header(struct qs_row *row, int bits)
{
    char title[32];

    snprintf(title, sizeof(title), "at %d bits", bits);
    qs_row_cell(row, QS_STYLE_TITLE, title, CMP_LABEL, 0);
    qs_row_cell(row, QS_STYLE_TITLE, "MSE", CMP_MSE, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "SQNR dB", CMP_SQNR + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "max err", CMP_MAX + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "bytes", CMP_BYTES + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "bpw", CMP_BPW + 1, 1);
}

static void
compare_row(struct qs_row *row, const char *label, const struct trial *t,
            const struct qs_quant_sizes *sizes, uint64_t count)
{
    const struct qs_quant_metrics *m = &t->result.metrics;
    uint64_t bytes = sizes_bytes(sizes);
    char buf[32];

    qs_row_cell(row, QS_STYLE_DIM, label, CMP_LABEL, 0);
    if (t->state == TRIAL_FAILED) {
        qs_row_addf(row, QS_STYLE_DIM, " %s", t->error);
        return;
    }
    if (t->state == TRIAL_DONE && m->count == 0) {
        qs_row_cell(row, QS_STYLE_DIM, "-", CMP_MSE, 1);
        qs_row_cell(row, QS_STYLE_DIM, "-", CMP_SQNR + 1, 1);
        qs_row_cell(row, QS_STYLE_DIM, "-", CMP_MAX + 1, 1);
    } else if (t->state == TRIAL_DONE) {
        snprintf(buf, sizeof(buf), "%.3e", m->mse);
        qs_row_cell(row, QS_STYLE_NORMAL, buf, CMP_MSE, 1);
        qs_row_cell(row, QS_STYLE_NORMAL, qs_ui_sqnr_text(m->sqnr_db, m->exact, buf, sizeof(buf)),
                    CMP_SQNR + 1, 1);
        snprintf(buf, sizeof(buf), "%.3e", m->max_abs_err);
        qs_row_cell(row, QS_STYLE_NORMAL, buf, CMP_MAX + 1, 1);
    } else {
        qs_row_cell(row, QS_STYLE_DIM, qs_glyphs.ellipsis, CMP_MSE, 1);
        qs_row_cell(row, QS_STYLE_DIM, qs_glyphs.ellipsis, CMP_SQNR + 1, 1);
        qs_row_cell(row, QS_STYLE_DIM, qs_glyphs.ellipsis, CMP_MAX + 1, 1);
    }
    if (!sizes || !count)
        return;
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)bytes);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, CMP_BYTES + 1, 1);
    snprintf(buf, sizeof(buf), "%.3f", (double)bytes * 8.0 / (double)count);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, CMP_BPW + 1, 1);
}

static void
draw_compare(struct qs_view *view, struct qs_frame *frame, int y)
{
    struct layer_view *lv = view->priv;
    static const char *const names[LAYER_COMPARE] = { "per-tensor", "per-channel", "per-group" };
    uint64_t count = shown_layer(view)->count;
    char message[256], label[32];

    compare_header(&frame->rows[y], qs_quant_format_bits(lv->trial.config.format));
    /* A cast has no granularity: one line says so instead of the same error three times. */
    if (lv->trial.config.granularity == QS_QUANT_GRAN_NONE) {
        qs_row_addf(&frame->rows[y + 1], QS_STYLE_DIM, "  %s is a plain cast: no granularity "
                    "to compare", qs_quant_format_name(lv->trial.config.format));
        return;
    }
    for (int i = 0; i < LAYER_COMPARE; i++) {
        const struct qs_quant_config *c = &lv->compare[i].config;
        struct qs_quant_layout layout;
        struct qs_quant_sizes sizes;
        int have_sizes = lv->compare_valid[i] &&
                         qs_plan_layout(shown_layer(view), &layout, NULL, NULL) == QS_OK &&
                         qs_quant_sizes_compute(c, &layout, &sizes, message,
                                                sizeof(message)) == QS_OK;

        if (c->group_size)
            snprintf(label, sizeof(label), "  %s %c%u", names[i],
                     c->granularity == QS_QUANT_GRAN_BLOCK ? 'b' : 'g', c->group_size);
        else
            snprintf(label, sizeof(label), "  %s", names[i]);
        compare_row(&frame->rows[y + 1 + i], label, &lv->compare[i], have_sizes ? &sizes : NULL,
                    count);
    }
}

static void
draw_panel(struct qs_view *view, struct qs_frame *frame, int y)
{
    struct layer_view *lv = view->priv;

    if (!shown_layer(view)->quantizable) {
        qs_row_add(&frame->rows[y], QS_STYLE_DIM, lv->trial.error);
        return;
    }

    draw_settings(view, &frame->rows[y], (size_t)frame->cols);
    draw_config_line(view, &frame->rows[y + 1]);
    add_metrics(&frame->rows[y + 2], &lv->trial, lv->sizes_ok ? &lv->sizes : NULL,
                shown_layer(view)->count);
    draw_compare(view, frame, y + 3);
}

static void
layer_draw(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    struct layer_view *lv = view->priv;
    int plot_height = height - 2 - PANEL_ROWS;

    if (lv->layer == SIZE_MAX)
        layer_shown(view);
    try_submit(view);
    draw_title(view, &frame->rows[top], (size_t)frame->cols);
    if (height > 1 && lv->act)
        layer_act_stats(view, &frame->rows[top + 1]);
    else if (height > 1)
        draw_stats(view, &frame->rows[top + 1]);
    for (int i = 0; i < PLOT_COUNT; i++)
        lv->plot_shown[i] = 0;
    if (plot_height >= 4 && lv->act)
        layer_act_draw(view, frame, top + 2, plot_height);
    else if (plot_height >= 4)
        layer_plots_draw(view, frame, top + 2, plot_height);
    if (height >= PANEL_ROWS + 2)
        draw_panel(view, frame, top + height - PANEL_ROWS);
    for (int y = top; y < top + height; y++)
        qs_row_truncate(&frame->rows[y], (size_t)frame->cols);
}

static void
layer_status(struct qs_view *view, char *buf, size_t size)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;

    snprintf(buf, size, "layer %zu/%zu", lv->layer + 1, ui->layers->count);
}

const struct qs_view_ops qs_layer_view = {
    .name = "layer",
    .group = QS_GROUP_LAYER,
    .flags = QS_VIEW_MODEL | QS_VIEW_TAB,
    .private_size = sizeof(struct layer_view),
    .open = layer_open,
    .close = layer_close,
    .draw = layer_draw,
    .key = layer_key,
    .shown = layer_shown,
    .status = layer_status,
};
