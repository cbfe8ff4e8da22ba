/*
 * qscope quant: the error and size of one trial configuration on every
 * selected layer, with the model total.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "layers.h"
#include "output.h"
#include "plan.h"
#include "quant.h"
#include "weight_cmd.h"

enum quant_option { OPT_CONFIG, OPT_LAYER, OPT_PLAN, OPT_NO_FOLD_BN };

static const struct qs_cli_option quant_options[] = {
    [OPT_CONFIG] = { "config", 'c', "CONFIG",
                     "trial configuration FORMAT[:GRANULARITY][:SCHEME][:RANGE] (default int8)" },
    [OPT_LAYER] = { "layer", 0, "KEY|PATTERN",
                    "only these layers: a key, a glob on keys or op:TYPE (repeatable)" },
    [OPT_PLAN] = { "plan", 0, "PLAN", "also compare sizes with the configurations of a plan" },
    [OPT_NO_FOLD_BN] = { "no-fold-bn", 0, NULL,
                         "quantize Conv weights without the BatchNormalization that follows them" },
};

static const struct qs_cli_spec quant_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = quant_options,
    .n_options = sizeof(quant_options) / sizeof(quant_options[0]),
    .min_args = 1,
    .max_args = 1,
};

enum quant_column {
    COL_KEY, COL_OPS, COL_PARAMS, COL_CONFIG, COL_MSE, COL_RMSE, COL_MAX_ERR, COL_SQNR,
    COL_COSINE, COL_PAYLOAD, COL_SCALES, COL_ZERO_POINTS, COL_BYTES, COL_BPW, COL_FLOAT_BYTES,
    COL_DELTA_FLOAT, COL_NOTE, COL_PLAN_CONFIG, COL_PLAN_BYTES, COL_DELTA_PLAN, COL_PLAN_SQNR,
    N_COLUMNS
};

/* The plan columns come last, so that a table without --plan drops them. */
#define N_COLUMNS_NO_PLAN COL_PLAN_CONFIG

static const struct qs_column quant_columns[N_COLUMNS] = {
    [COL_KEY] = { "key", NULL, QS_COL_STRING, NULL, NULL },
    [COL_OPS] = { "ops", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PARAMS] = { "params", NULL, QS_COL_INT, NULL, NULL },
    [COL_CONFIG] = { "config", NULL, QS_COL_STRING, NULL, NULL },
    [COL_MSE] = { "mse", NULL, QS_COL_FLOAT, "%.3e", NULL },
    [COL_RMSE] = { "rmse", NULL, QS_COL_FLOAT, "%.3e", NULL },
    [COL_MAX_ERR] = { "max_abs_err", "max_err", QS_COL_FLOAT, "%.3e", NULL },
    [COL_SQNR] = { "sqnr_db", "sqnr_dB", QS_COL_FLOAT, "%.2f", "exact" },
    [COL_COSINE] = { "cosine", NULL, QS_COL_FLOAT, "%.6f", NULL },
    [COL_PAYLOAD] = { "payload_bytes", "payload", QS_COL_INT, NULL, NULL },
    [COL_SCALES] = { "scale_bytes", "scales", QS_COL_INT, NULL, NULL },
    [COL_ZERO_POINTS] = { "zero_point_bytes", "zero_pts", QS_COL_INT, NULL, NULL },
    [COL_BYTES] = { "bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_BPW] = { "bits_per_weight", "bpw", QS_COL_FLOAT, "%.3f", NULL },
    [COL_FLOAT_BYTES] = { "float_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_DELTA_FLOAT] = { "delta_float_bytes", "vs_float", QS_COL_INT, NULL, NULL },
    [COL_NOTE] = { "note", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PLAN_CONFIG] = { "plan_config", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PLAN_BYTES] = { "plan_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_DELTA_PLAN] = { "delta_plan_bytes", "vs_plan", QS_COL_INT, NULL, NULL },
    [COL_PLAN_SQNR] = { "plan_sqnr_db", "plan_sqnr_dB", QS_COL_FLOAT, "%.2f", "plan_exact" },
};

/* Sums over the layers measured. */
struct quant_total {
    struct qs_quant_metrics metrics;
    uint64_t params;
    uint64_t payload, scales, zero_points;
    uint64_t plan_bytes;
    int plan_bytes_known;
};

struct quant_run {
    const struct qs_cli *cli;
    struct qs_diag *diag;
    struct weight_cmd_model wm;
    struct qs_quant_config config;
    char config_text[QS_QUANT_CONFIG_MAX];
    unsigned data_flags;
    int have_plan;
    struct qs_plan plan;
    struct quant_total total;
};

/* A row's note: parts joined by "; ". */
struct quant_note {
    char text[512];
    size_t used;
};

static void
note_add(struct quant_note *note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note_add(struct quant_note *note, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (note->used >= sizeof(note->text) - 1)
        return;
    if (note->used)
        note->used += (size_t)snprintf(note->text + note->used, sizeof(note->text) - note->used,
                                       "; ");
    if (note->used >= sizeof(note->text) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(note->text + note->used, sizeof(note->text) - note->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        note->used += (size_t)n;
    if (note->used > sizeof(note->text) - 1)
        note->used = sizeof(note->text) - 1;
}

static void
note_set(struct qs_table *table, const struct quant_note *note)
{
    if (note->used)
        qs_table_set_string(table, COL_NOTE, note->text);
}

/*
 * The metric cells.  Without a finite weight there is nothing to
 * measure, and an infinite error (a value that overflows the format) has
 * no SQNR: both leave cells empty and say why in "note".
 */
static void
set_metrics(struct qs_table *table, const struct qs_quant_metrics *m, struct quant_note *note)
{
    if (m->count == 0) {
        note_add(note, "no finite values to measure");
        return;
    }
    qs_table_set_float(table, COL_MSE, m->mse);
    qs_table_set_float(table, COL_RMSE, m->rmse);
    qs_table_set_float(table, COL_MAX_ERR, m->max_abs_err);
    if (!weight_cmd_set_sqnr(table, COL_SQNR, m->sqnr_db))
        note_add(note, "the error is infinite: a value overflows the format");
    if (!isnan(m->cosine))
        qs_table_set_float(table, COL_COSINE, m->cosine);
}

/* Say how many scale segments were flagged and how many values left out. */
static void
note_result(struct quant_note *note, const struct qs_quant_config *config,
            const struct qs_quant_result *result)
{
    static const char *const nouns[][2] = {
        [QS_QUANT_GRAN_NONE] = { "segment", "segments" },
        [QS_QUANT_GRAN_TENSOR] = { "tensor", "tensors" },
        [QS_QUANT_GRAN_CHANNEL] = { "channel", "channels" },
        [QS_QUANT_GRAN_GROUP] = { "group", "groups" },
        [QS_QUANT_GRAN_BLOCK] = { "block", "blocks" },
    };
    unsigned g = config->granularity <= QS_QUANT_GRAN_BLOCK ? config->granularity : 0;

    if (result->flagged)
        note_add(note, "%llu %s without a usable scale (all zero, subnormal or not finite): "
                 "scale 1.0, quantized to 0", (unsigned long long)result->flagged,
                 nouns[g][result->flagged != 1]);
    if (result->nonfinite)
        note_add(note, "%llu NaN or infinite %s left out", (unsigned long long)result->nonfinite,
                 result->nonfinite == 1 ? "value" : "values");
}

static void
set_sizes(struct qs_table *table, uint64_t params, uint64_t payload, uint64_t scales,
          uint64_t zero_points)
{
    uint64_t bytes = payload + scales + zero_points;

    qs_table_set_int(table, COL_PAYLOAD, (int64_t)payload);
    qs_table_set_int(table, COL_SCALES, (int64_t)scales);
    qs_table_set_int(table, COL_ZERO_POINTS, (int64_t)zero_points);
    qs_table_set_int(table, COL_BYTES, (int64_t)bytes);
    if (params)
        qs_table_set_float(table, COL_BPW, (double)bytes * 8.0 / (double)params);
    qs_table_set_int(table, COL_FLOAT_BYTES, (int64_t)(params * 4));
    qs_table_set_int(table, COL_DELTA_FLOAT, (int64_t)bytes - (int64_t)(params * 4));
}

/* Bytes the plan gives the layer: from its configuration and the layer's layout. */
static int
plan_bytes(const struct qs_layer *layer, const struct qs_plan_layer *entry, uint64_t *bytes)
{
    struct qs_quant_layout layout;
    struct qs_quant_sizes sizes;
    char message[256];

    if (!entry || entry->is_float) {
        *bytes = layer->count * 4;
        return 1;
    }
    if (qs_plan_layout(layer, &layout, NULL, NULL) != QS_OK
        || qs_quant_sizes_compute(&entry->config, &layout, &sizes, message,
                                  sizeof(message)) != QS_OK)
        return 0;
    *bytes = sizes.payload_bytes + sizes.scale_bytes + sizes.zero_point_bytes;
    return 1;
}

static void
set_plan(struct quant_run *run, struct qs_table *table, const struct qs_layer *layer,
         uint64_t bytes, int measured)
{
    const struct qs_plan_layer *entry = qs_plan_find(&run->plan, layer->key);
    uint64_t planned;

    qs_table_set_string(table, COL_PLAN_CONFIG, entry ? entry->config_text : QS_PLAN_FLOAT);
    if (entry && entry->measured)
        weight_cmd_set_sqnr(table, COL_PLAN_SQNR, entry->m.sqnr_db);
    else if (!entry)
        qs_table_set_float(table, COL_PLAN_SQNR, INFINITY);
    if (!plan_bytes(layer, entry, &planned))
        return;
    qs_table_set_int(table, COL_PLAN_BYTES, (int64_t)planned);
    if (measured) {
        qs_table_set_int(table, COL_DELTA_PLAN, (int64_t)bytes - (int64_t)planned);
        run->total.plan_bytes += planned;
    }
}

/*
 * Run the trial on one layer and fill its row.  Returns 1 with the bytes
 * in "*bytes" when it was measured, else 0 with the reason in the note.
 */
static int
quant_layer(struct quant_run *run, const struct qs_layer *layer, struct qs_table *table,
            uint64_t *bytes)
{
    struct qs_layer_data data;
    struct qs_quant_layout layout;
    struct qs_quant_request request = { 0 };
    struct qs_quant_result result;
    struct quant_note note = { "", 0 };
    char message[512];

    if (qs_plan_check_config(layer, &run->config, message, sizeof(message)) != QS_OK) {
        qs_diag_warn(run->diag, run->wm.path, "layer '%s': %s", layer->key, message);
        qs_table_set_string(table, COL_NOTE, message);
        return 0;
    }
    if (qs_layer_data_get(run->wm.layers, layer, run->data_flags, run->diag, &data) != QS_OK) {
        qs_table_set_string(table, COL_NOTE, "data cannot be read");
        return 0;
    }
    request.config = &run->config;
    request.layout = &layout;
    request.weights = data.values;
    request.threads = run->cli->threads;
    request.file = run->wm.path;
    request.layer = layer->key;
    if (qs_plan_layout(layer, &layout, run->diag, run->wm.path) != QS_OK
        || qs_quant_trial(&request, &result, run->diag) != QS_OK) {
        qs_layer_data_done(&data);
        qs_table_set_string(table, COL_NOTE, "trial failed");
        return 0;
    }
    qs_layer_data_done(&data);

    if (data.bn_folded)
        note_add(&note, "BatchNormalization folded");
    note_result(&note, &run->config, &result);
    set_metrics(table, &result.metrics, &note);
    note_set(table, &note);
    set_sizes(table, layer->count, result.sizes.payload_bytes, result.sizes.scale_bytes,
              result.sizes.zero_point_bytes);
    *bytes = result.sizes.payload_bytes + result.sizes.scale_bytes
             + result.sizes.zero_point_bytes;
    qs_quant_metrics_add(&run->total.metrics, &result.metrics);
    run->total.params += layer->count;
    run->total.payload += result.sizes.payload_bytes;
    run->total.scales += result.sizes.scale_bytes;
    run->total.zero_points += result.sizes.zero_point_bytes;
    return 1;
}

static void
add_layer_row(struct quant_run *run, const struct qs_layer *layer, struct qs_table *table)
{
    uint64_t bytes = 0;
    int measured;

    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, layer->key);
    qs_table_set_string(table, COL_OPS, layer->ops);
    qs_table_set_int(table, COL_PARAMS, (int64_t)layer->count);
    qs_table_set_string(table, COL_CONFIG, run->config_text);
    measured = quant_layer(run, layer, table, &bytes);
    if (run->have_plan)
        set_plan(run, table, layer, bytes, measured);
}

/* The total row: key "(total)", sums of sizes, SQNR from summed errors and energies. */
static void
add_total_row(struct quant_run *run, struct qs_table *table)
{
    struct quant_total *t = &run->total;
    uint64_t bytes = t->payload + t->scales + t->zero_points;
    struct quant_note note = { "", 0 };

    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, "(total)");
    qs_table_set_int(table, COL_PARAMS, (int64_t)t->params);
    qs_table_set_string(table, COL_CONFIG, run->config_text);
    qs_quant_metrics_finish(&t->metrics);
    if (t->params) {
        set_metrics(table, &t->metrics, &note);
        note_set(table, &note);
    }
    set_sizes(table, t->params, t->payload, t->scales, t->zero_points);
    if (run->have_plan) {
        qs_table_set_int(table, COL_PLAN_BYTES, (int64_t)t->plan_bytes);
        qs_table_set_int(table, COL_DELTA_PLAN, (int64_t)bytes - (int64_t)t->plan_bytes);
    }
}

static struct qs_table *
quant_table(struct quant_run *run, const unsigned char *selected)
{
    struct qs_table *table = qs_table_new(quant_columns,
                                          run->have_plan ? N_COLUMNS : N_COLUMNS_NO_PLAN);
    struct weight_cmd_progress progress;
    size_t total = 0;

    qs_quant_metrics_init(&run->total.metrics);
    for (size_t i = 0; i < run->wm.layers->count; i++)
        total += selected[i];
    weight_cmd_progress_begin(&progress, "quant", total);
    for (size_t i = 0; i < run->wm.layers->count; i++) {
        if (!selected[i])
            continue;
        add_layer_row(run, &run->wm.layers->items[i], table);
        weight_cmd_progress_step(&progress);
    }
    weight_cmd_progress_end(&progress);
    return table;
}

/* JSON: {"config": ..., "layers": [rows], "total": row}. */
static int
write_json(FILE *fp, struct quant_run *run, struct qs_table *table)
{
    json_t *doc = json_object();
    json_t *rows = qs_table_json(table);
    size_t n = json_array_size(rows);
    json_t *total = json_incref(json_array_get(rows, n - 1));
    int failed;

    qs_json_set_string(doc, "config", run->config_text);
    json_array_remove(rows, n - 1);
    json_object_set_new(doc, "layers", rows);
    json_object_set_new(doc, "total", total);
    failed = qs_json_write(fp, doc);
    json_decref(doc);
    return failed;
}

static int
parse_quant_options(struct quant_run *run)
{
    const char *text = run->cli->values[OPT_CONFIG] ? run->cli->values[OPT_CONFIG] : "int8";
    char message[256];

    if (qs_quant_config_parse(text, &run->config, message, sizeof(message)) != QS_OK)
        return qs_cli_usage_error(run->cli, "invalid configuration '%s': %s", text, message);
    qs_quant_config_format(&run->config, run->config_text, sizeof(run->config_text));
    run->data_flags = run->cli->values[OPT_NO_FOLD_BN] ? QS_LAYER_NO_FOLD_BN : 0;
    return 0;
}

/* Returns 0, or an exit status for a usage error. */
static int
quant_run_model(struct quant_run *run, const struct weight_cmd_multi *layer_opt)
{
    unsigned char *selected = qs_calloc(run->wm.layers->count + 1, 1);
    struct qs_cli_sink sink;
    struct qs_table *table;
    int failed;

    if (weight_cmd_select(run->cli, run->wm.layers, layer_opt, 0, selected)) {
        free(selected);
        return qs_status_exit_code(QS_USAGE);
    }
    if (run->cli->values[OPT_PLAN]) {
        run->have_plan = 1;
        if (qs_plan_read(run->cli->values[OPT_PLAN], run->wm.layers, &run->plan,
                         run->diag) != QS_OK) {
            free(selected);
            return 0;
        }
    }
    table = quant_table(run, selected);
    add_total_row(run, table);
    if (qs_cli_output_begin(run->cli, &sink, run->diag) == QS_OK) {
        if (run->cli->format == QS_FORMAT_JSON)
            failed = write_json(sink.fp, run, table);
        else
            failed = qs_table_write(table, sink.fp, run->cli->format, 1);
        if (failed)
            qs_diag_add(run->diag, QS_OUTPUT, run->cli->output ? run->cli->output : "stdout",
                        "write failed");
        qs_cli_output_end(&sink, !failed, run->diag);
    }
    qs_table_free(table);
    free(selected);
    return 0;
}

int
qs_cmd_quant(const struct qs_command *command, int argc, char **argv)
{
    struct weight_cmd_multi layer_opt = { .name = "layer" };
    struct qs_cli cli;
    struct qs_diag diag;
    const char *inputs[2];
    struct quant_run run = { 0 };
    char **rest;
    int n_rest, rc;

    rc = weight_cmd_take_repeated(command->name, argc, argv, &layer_opt, 1, &n_rest, &rest);
    if (rc)
        return rc;
    qs_diag_init(&diag);
    qs_plan_init(&run.plan);
    if (qs_cli_parse(&cli, command, &quant_spec, n_rest, rest) != QS_OK || cli.help_shown) {
        rc = cli.help_shown ? 0 : qs_status_exit_code(QS_USAGE);
        goto out;
    }
    run.cli = &cli;
    run.diag = &diag;
    rc = parse_quant_options(&run);
    if (rc)
        goto out;
    inputs[0] = cli.args[0];
    inputs[1] = cli.values[OPT_PLAN];
    if (weight_cmd_check_output(&cli, inputs, 2, &diag) != QS_OK) {
        rc = qs_cli_finish(&cli, &diag, cli.output);
        goto out;
    }
    if (weight_cmd_open(&cli, cli.args[0], &diag, &run.wm) == QS_OK)
        rc = quant_run_model(&run, &layer_opt);
    if (rc == 0)
        rc = qs_cli_finish(&cli, &diag, cli.args[0]);
    weight_cmd_close(&run.wm);

out:
    qs_plan_done(&run.plan);
    qs_cli_done(&cli);
    qs_diag_done(&diag);
    free(rest);
    return rc;
}
