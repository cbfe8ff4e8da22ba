/*
 * qscope stats: weight statistics per layer, or per channel with a
 * histogram for one layer.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "layers.h"
#include "output.h"
#include "stats.h"
#include "weight_cmd.h"

/* --axis takes -64 .. 63: far beyond the ranks of real weights. */
#define STATS_MAX_AXIS 64

enum stats_option { OPT_LAYER, OPT_BINS, OPT_SIGMA, OPT_NO_FOLD_BN, OPT_ALL, OPT_AXIS };

static const struct qs_cli_option stats_options[] = {
    [OPT_LAYER] = { "layer", 0, "KEY|PATTERN",
                    "one layer in detail, or the layers a pattern selects (repeatable)" },
    [OPT_BINS] = { "bins", 0, "N", "histogram bins for one layer, 1 to 4096 (default 64)" },
    [OPT_SIGMA] = { "outlier-sigma", 0, "K",
                    "outliers lie more than K standard deviations from the mean (default 6)" },
    [OPT_NO_FOLD_BN] = { "no-fold-bn", 0, NULL,
                         "show Conv weights without the BatchNormalization that follows them" },
    [OPT_ALL] = { "all", 0, NULL, "list auxiliary layers too (biases, normalization parameters)" },
    [OPT_AXIS] = { "axis", 0, "N",
                   "channels along axis N (negative: from the end) instead of the channel axis, "
                   "e.g. 0 for the input rows of a MatMul weight" },
};

static const struct qs_cli_spec stats_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = stats_options,
    .n_options = sizeof(stats_options) / sizeof(stats_options[0]),
    .min_args = 1,
    .max_args = 1,
};

enum stats_column {
    COL_KEY, COL_OPS, COL_SHAPE, COL_PARAMS, COL_STORED, COL_MIN, COL_MAX, COL_ABSMAX,
    COL_MEAN, COL_STD, COL_KURTOSIS, COL_OUTLIERS, COL_SPREAD, COL_CHANNELS, COL_DEAD,
    COL_SUBNORMAL, COL_NONFINITE, COL_NOTE, N_COLUMNS
};

static const struct qs_column stats_columns[N_COLUMNS] = {
    [COL_KEY] = { "key", NULL, QS_COL_STRING, NULL, NULL },
    [COL_OPS] = { "ops", NULL, QS_COL_STRING, NULL, NULL },
    [COL_SHAPE] = { "shape", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PARAMS] = { "params", NULL, QS_COL_INT, NULL, NULL },
    [COL_STORED] = { "stored", NULL, QS_COL_STRING, NULL, NULL },
    [COL_MIN] = { "min", NULL, QS_COL_FLOAT, "%.4g", NULL },
    [COL_MAX] = { "max", NULL, QS_COL_FLOAT, "%.4g", NULL },
    [COL_ABSMAX] = { "absmax", NULL, QS_COL_FLOAT, "%.4g", NULL },
    [COL_MEAN] = { "mean", NULL, QS_COL_FLOAT, "%.3g", NULL },
    [COL_STD] = { "std", NULL, QS_COL_FLOAT, "%.3g", NULL },
    [COL_KURTOSIS] = { "kurtosis", NULL, QS_COL_FLOAT, "%.2f", NULL },
    [COL_OUTLIERS] = { "outlier_share", "outliers", QS_COL_FLOAT, "%.2e", NULL },
    [COL_SPREAD] = { "channel_spread", "spread", QS_COL_FLOAT, "%.2f", "spread_infinite" },
    [COL_CHANNELS] = { "channels", NULL, QS_COL_INT, NULL, NULL },
    [COL_DEAD] = { "dead_channels", "dead", QS_COL_INT, NULL, NULL },
    [COL_SUBNORMAL] = { "subnormal_channels", "subnormal", QS_COL_INT, NULL, NULL },
    [COL_NONFINITE] = { "nonfinite", NULL, QS_COL_INT, NULL, NULL },
    [COL_NOTE] = { "note", NULL, QS_COL_STRING, NULL, NULL },
};

/* Options and state of one stats run. */
struct stats_run {
    const struct qs_cli *cli;
    struct weight_cmd_model wm;
    struct qs_diag *diag;
    unsigned data_flags;
    struct qs_stats_options options;
    int by_axis;                 /* --axis given */
    long axis;
};

static void
set_float_if(struct qs_table *table, size_t column, double value)
{
    if (!isnan(value))
        qs_table_set_float(table, column, value);
}

static void
row_identity(struct qs_table *table, const struct qs_layer *layer)
{
    char shape[256], stored[256];

    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, layer->key);
    qs_table_set_string(table, COL_OPS, layer->ops);
    qs_table_set_string(table, COL_SHAPE, qs_layer_shape(layer, shape, sizeof(shape)));
    qs_table_set_int(table, COL_PARAMS, (int64_t)layer->count);
    qs_table_set_string(table, COL_STORED, qs_layer_format(layer, stored, sizeof(stored)));
}

/* The note: what is special about the layer, joined by "; ". */
static void
row_note(struct qs_table *table, const struct qs_layer *layer, int bn_folded,
         const char *problem, const struct qs_stats *s)
{
    char note[1024] = "", empty[64];
    size_t used = 0;
    const char *parts[6];
    size_t n = 0;
    int says_empty = !layer->quantizable && layer->not_quantizable
                     && strncmp(layer->not_quantizable, "empty", 5) == 0;

    if (problem)
        parts[n++] = problem;
    if (layer->count == 0 && !says_empty)
        parts[n++] = "empty";
    if (s && s->count && !s->finite) {
        parts[n++] = "no finite values";
    } else if (s && s->count && s->empty_channels) {
        snprintf(empty, sizeof(empty), "%llu %s without a finite value",
                 (unsigned long long)s->empty_channels,
                 s->empty_channels == 1 ? "channel" : "channels");
        parts[n++] = empty;
    }
    if (bn_folded)
        parts[n++] = "BatchNormalization folded";
    if (!layer->quantizable && layer->not_quantizable)
        parts[n++] = layer->not_quantizable;
    if (layer->axis_note)
        parts[n++] = layer->axis_note;
    for (size_t i = 0; i < n && used < sizeof(note); i++)
        used += (size_t)snprintf(note + used, sizeof(note) - used, "%s%s", i ? "; " : "",
                                 parts[i]);
    if (n)
        qs_table_set_string(table, COL_NOTE, note);
}

static void
row_figures(struct qs_table *table, const struct qs_stats *s)
{
    qs_table_set_int(table, COL_CHANNELS, (int64_t)s->layout.channels);
    qs_table_set_int(table, COL_DEAD, (int64_t)s->dead_channels);
    qs_table_set_int(table, COL_SUBNORMAL, (int64_t)s->subnormal_channels);
    qs_table_set_int(table, COL_NONFINITE, (int64_t)(s->nan_count + s->inf_count));
    if (s->finite == 0)
        return;
    set_float_if(table, COL_MIN, s->min);
    set_float_if(table, COL_MAX, s->max);
    set_float_if(table, COL_ABSMAX, s->absmax);
    set_float_if(table, COL_MEAN, s->mean);
    set_float_if(table, COL_STD, s->std);
    set_float_if(table, COL_KURTOSIS, s->kurtosis);
    if (s->pass2_done)
        set_float_if(table, COL_OUTLIERS, s->outlier_share);
    set_float_if(table, COL_SPREAD, s->spread);
}

/*
 * The layout of "data" as channels along --axis, or the layer's own
 * channel axis without it.  A layer without that axis is one channel,
 * with a note.
 */
static const char *
stats_layout(const struct stats_run *run, const struct qs_layer_data *data,
             struct qs_stats_layout *layout)
{
    long axis = run->axis < 0 ? run->axis + data->rank : run->axis;

    layout->outer = data->outer;
    layout->channels = data->channels;
    layout->inner = data->inner;
    if (!run->by_axis)
        return NULL;
    layout->outer = 1;
    layout->channels = 1;
    layout->inner = data->count;
    if (axis < 0 || axis >= data->rank)
        return "no such axis, so one channel";
    layout->inner = 1;
    for (int i = 0; i < data->rank; i++) {
        if (i < axis)
            layout->outer *= (uint64_t)data->dims[i];
        else if (i == axis)
            layout->channels = (uint64_t)data->dims[i];
        else
            layout->inner *= (uint64_t)data->dims[i];
    }
    return NULL;
}

/*
 * Compute the statistics of "layer" into "s" (released by the caller
 * with qs_stats_done) and add its row.  Returns QS_OK, or the status of a
 * problem that the row's note names.
 */
static enum qs_status
stats_layer(struct stats_run *run, const struct qs_layer *layer, struct qs_table *table,
            struct qs_stats *s)
{
    struct qs_layer_data data;
    struct qs_stats_layout layout;
    const char *axis_problem;
    enum qs_status status;

    memset(s, 0, sizeof(*s));
    row_identity(table, layer);
    status = qs_layer_data_get(run->wm.layers, layer, run->data_flags, run->diag, &data);
    if (status != QS_OK) {
        row_note(table, layer, 0, layer->fault ? layer->fault : "data cannot be read", NULL);
        return status;
    }
    axis_problem = stats_layout(run, &data, &layout);
    status = qs_stats_compute(s, data.values, &layout, &run->options);
    if (status == QS_OK)
        row_figures(table, s);
    row_note(table, layer, data.bn_folded, status == QS_OK ? axis_problem : "statistics failed",
             status == QS_OK ? s : NULL);
    qs_layer_data_done(&data);
    return status;
}

static struct qs_table *
stats_table(struct stats_run *run, const unsigned char *selected)
{
    struct qs_table *table = qs_table_new(stats_columns, N_COLUMNS);
    struct weight_cmd_progress progress;
    size_t total = 0;

    for (size_t i = 0; i < run->wm.layers->count; i++)
        total += selected[i];
    weight_cmd_progress_begin(&progress, "stats", total);
    for (size_t i = 0; i < run->wm.layers->count; i++) {
        struct qs_stats s;

        if (!selected[i])
            continue;
        stats_layer(run, &run->wm.layers->items[i], table, &s);
        qs_stats_done(&s);
        weight_cmd_progress_step(&progress);
    }
    weight_cmd_progress_end(&progress);
    return table;
}

/* ---- one layer in detail ---- */

enum channel_column { CH_INDEX, CH_MIN, CH_MAX, CH_ABSMAX, CH_MEAN, CH_FINITE, CH_FLAGS, N_CH };

static const struct qs_column channel_columns[N_CH] = {
    [CH_INDEX] = { "channel", NULL, QS_COL_INT, NULL, NULL },
    [CH_MIN] = { "min", NULL, QS_COL_FLOAT, "%.6g", NULL },
    [CH_MAX] = { "max", NULL, QS_COL_FLOAT, "%.6g", NULL },
    [CH_ABSMAX] = { "absmax", NULL, QS_COL_FLOAT, "%.6g", NULL },
    [CH_MEAN] = { "mean", NULL, QS_COL_FLOAT, "%.4g", NULL },
    [CH_FINITE] = { "finite", NULL, QS_COL_INT, NULL, NULL },
    [CH_FLAGS] = { "flags", NULL, QS_COL_STRING, NULL, NULL },
};

enum hist_column { HI_BIN, HI_LO, HI_HI, HI_COUNT, HI_BAR, N_HI };

static const struct qs_column hist_columns[N_HI] = {
    [HI_BIN] = { "bin", NULL, QS_COL_INT, NULL, NULL },
    [HI_LO] = { "lo", NULL, QS_COL_FLOAT, "%.5g", NULL },
    [HI_HI] = { "hi", NULL, QS_COL_FLOAT, "%.5g", NULL },
    [HI_COUNT] = { "count", NULL, QS_COL_INT, NULL, NULL },
    [HI_BAR] = { "bar", NULL, QS_COL_STRING, NULL, NULL },
};

static const char *
channel_flags_text(unsigned flags)
{
    if (flags & QS_CHANNEL_EMPTY)
        return "empty";
    if (flags & QS_CHANNEL_DEAD)
        return "all-zero";
    if (flags & QS_CHANNEL_SUBNORMAL)
        return "subnormal-only";
    return NULL;
}

static struct qs_table *
channel_table(const struct qs_stats *s)
{
    struct qs_table *table = qs_table_new(channel_columns, N_CH);

    for (uint64_t c = 0; c < s->layout.channels; c++) {
        qs_table_add_row(table);
        qs_table_set_int(table, CH_INDEX, (int64_t)c);
        qs_table_set_int(table, CH_FINITE, (int64_t)s->channel_finite[c]);
        qs_table_set_string(table, CH_FLAGS, channel_flags_text(s->channel_flags[c]));
        if (s->channel_finite[c] == 0)
            continue;
        qs_table_set_float(table, CH_MIN, s->channel_min[c]);
        qs_table_set_float(table, CH_MAX, s->channel_max[c]);
        qs_table_set_float(table, CH_ABSMAX, s->channel_absmax[c]);
        qs_table_set_float(table, CH_MEAN, s->channel_mean[c]);
    }
    return table;
}

/* Bars of the text histogram: log-scaled, at most this wide. */
#define HIST_BAR_WIDTH 40

static struct qs_table *
hist_table(const struct qs_hist *hist)
{
    struct qs_table *table = qs_table_new(hist_columns, N_HI);
    char bar[HIST_BAR_WIDTH + 1];

    for (size_t i = 0; i < hist->bins; i++) {
        size_t width = (size_t)lround(qs_hist_log_height(hist, i) * HIST_BAR_WIDTH);

        memset(bar, '#', width);
        bar[width] = '\0';
        qs_table_add_row(table);
        qs_table_set_int(table, HI_BIN, (int64_t)i);
        qs_table_set_float(table, HI_LO, qs_hist_edge(hist, i));
        qs_table_set_float(table, HI_HI, qs_hist_edge(hist, i + 1));
        qs_table_set_int(table, HI_COUNT, (int64_t)hist->counts[i]);
        qs_table_set_string(table, HI_BAR, bar);
    }
    return table;
}

static json_t *
detail_json(struct qs_table *summary, const struct qs_stats *s)
{
    json_t *doc = json_object();
    json_t *rows = qs_table_json(summary);
    struct qs_table *channels = channel_table(s);

    json_object_set(doc, "layer", json_array_get(rows, 0));
    json_decref(rows);
    json_object_set_new(doc, "channels", qs_table_json(channels));
    qs_table_free(channels);
    if (s->pass2_done && s->hist.counts) {
        json_t *hist = json_object();
        json_t *counts = json_array();

        qs_json_set_number(hist, "lo", s->hist.lo, NULL);
        qs_json_set_number(hist, "hi", s->hist.hi, NULL);
        for (size_t i = 0; i < s->hist.bins; i++)
            json_array_append_new(counts, json_integer((json_int_t)s->hist.counts[i]));
        json_object_set_new(hist, "counts", counts);
        qs_json_set_int(hist, "below", (int64_t)s->hist.below);
        qs_json_set_int(hist, "above", (int64_t)s->hist.above);
        json_object_set_new(doc, "histogram", hist);
    }
    return doc;
}

static int
write_detail_text(FILE *fp, struct qs_table *summary, const struct qs_stats *s)
{
    struct qs_table *channels = channel_table(s);
    int failed = qs_table_write(summary, fp, QS_FORMAT_TEXT, 1);

    fputc('\n', fp);
    failed |= qs_table_write(channels, fp, QS_FORMAT_TEXT, 1);
    qs_table_free(channels);
    if (s->pass2_done && s->hist.counts && s->finite) {
        struct qs_table *hist = hist_table(&s->hist);

        fputc('\n', fp);
        failed |= qs_table_write(hist, fp, QS_FORMAT_TEXT, 1);
        qs_table_free(hist);
    }
    return failed;
}

static int
write_detail(struct stats_run *run, FILE *fp, const struct qs_layer *layer)
{
    struct qs_table *summary = qs_table_new(stats_columns, N_COLUMNS);
    struct qs_stats s;
    int failed = 0;

    stats_layer(run, layer, summary, &s);
    if (run->cli->format == QS_FORMAT_JSON) {
        json_t *doc = detail_json(summary, &s);

        failed = qs_json_write(fp, doc);
        json_decref(doc);
    } else if (run->cli->format == QS_FORMAT_CSV) {
        struct qs_table *channels = channel_table(&s);

        failed = qs_table_write(channels, fp, QS_FORMAT_CSV, 1);
        qs_table_free(channels);
    } else {
        failed = write_detail_text(fp, summary, &s);
    }
    qs_stats_done(&s);
    qs_table_free(summary);
    return failed;
}

/* ---- the command ---- */

static int
parse_stats_options(struct stats_run *run)
{
    const struct qs_cli *cli = run->cli;
    long bins = QS_STATS_DEFAULT_BINS;
    char *end;

    qs_stats_options_init(&run->options);
    run->options.threads = cli->threads;
    run->options.bins = 0;
    if (cli->values[OPT_BINS]
        && weight_cmd_parse_long(cli, "bins", cli->values[OPT_BINS], 1, 4096, &bins))
        return qs_status_exit_code(QS_USAGE);
    if (cli->values[OPT_SIGMA]) {
        run->options.outlier_k = strtod(cli->values[OPT_SIGMA], &end);
        if (end == cli->values[OPT_SIGMA] || *end || !isfinite(run->options.outlier_k)
            || run->options.outlier_k <= 0.0)
            return qs_cli_usage_error(cli, "invalid value '%s' for --outlier-sigma (expected "
                                      "a positive number)", cli->values[OPT_SIGMA]);
    }
    if (cli->values[OPT_AXIS]
        && weight_cmd_parse_long(cli, "axis", cli->values[OPT_AXIS], -STATS_MAX_AXIS,
                                 STATS_MAX_AXIS - 1, &run->axis))
        return qs_status_exit_code(QS_USAGE);
    run->by_axis = cli->values[OPT_AXIS] != NULL;
    run->options.bins = (size_t)bins;
    run->data_flags = cli->values[OPT_NO_FOLD_BN] ? QS_LAYER_NO_FOLD_BN : 0;
    return 0;
}

/* The layer named by the only --layer, when it names one exactly. */
static const struct qs_layer *
detail_layer(const struct qs_layers *layers, const struct weight_cmd_multi *multi)
{
    if (multi->count != 1 || !qs_layer_pattern_is_literal(multi->values[0]))
        return NULL;
    return qs_layers_find(layers, multi->values[0]);
}

static int
stats_run_model(struct stats_run *run, const struct weight_cmd_multi *layer_opt)
{
    const struct qs_layer *one = detail_layer(run->wm.layers, layer_opt);
    unsigned char *selected = qs_calloc(run->wm.layers->count + 1, 1);
    struct qs_cli_sink sink;
    int failed = 0;
    int all = run->cli->values[OPT_ALL] != NULL || (one && !one->quantizable);

    if (!one && weight_cmd_select(run->cli, run->wm.layers, layer_opt, all, selected)) {
        free(selected);
        return qs_status_exit_code(QS_USAGE);
    }
    if (qs_cli_output_begin(run->cli, &sink, run->diag) == QS_OK) {
        if (one) {
            failed = write_detail(run, sink.fp, one);
        } else {
            struct qs_table *table;

            run->options.bins = 0;
            table = stats_table(run, selected);
            failed = qs_table_write(table, sink.fp, run->cli->format, 1);
            qs_table_free(table);
        }
        if (failed)
            qs_diag_add(run->diag, QS_OUTPUT, run->cli->output ? run->cli->output : "stdout",
                        "write failed");
        qs_cli_output_end(&sink, !failed, run->diag);
    }
    free(selected);
    return 0;
}

int
qs_cmd_stats(const struct qs_command *command, int argc, char **argv)
{
    struct weight_cmd_multi layer_opt = { .name = "layer" };
    struct qs_cli cli;
    struct qs_diag diag;
    const char *inputs[1];
    struct stats_run run = { 0 };
    char **rest;
    int n_rest, rc;

    rc = weight_cmd_take_repeated(command->name, argc, argv, &layer_opt, 1, &n_rest, &rest);
    if (rc)
        return rc;
    qs_diag_init(&diag);
    if (qs_cli_parse(&cli, command, &stats_spec, n_rest, rest) != QS_OK || cli.help_shown) {
        rc = cli.help_shown ? 0 : qs_status_exit_code(QS_USAGE);
        goto out;
    }
    run.cli = &cli;
    run.diag = &diag;
    rc = parse_stats_options(&run);
    if (rc)
        goto out;
    inputs[0] = cli.args[0];
    if (weight_cmd_check_output(&cli, inputs, 1, &diag) != QS_OK) {
        rc = qs_cli_finish(&cli, &diag, cli.output);
        goto out;
    }
    if (weight_cmd_open(&cli, cli.args[0], &diag, &run.wm) == QS_OK)
        rc = stats_run_model(&run, &layer_opt);
    if (rc == 0)
        rc = qs_cli_finish(&cli, &diag, cli.args[0]);
    weight_cmd_close(&run.wm);

out:
    qs_cli_done(&cli);
    qs_diag_done(&diag);
    free(rest);
    return rc;
}
