/*
 * qscope compare: per-tensor, per-channel and per-group scales side by
 * side for each layer and bit width, with model totals.
 *
 * Integer formats use the conventions' default scheme for their width:
 * sym for 8 and 16 bits, asym below.  Totals add squared errors and
 * energies.  A layer that cannot take per-channel or per-group scales
 * counts in those totals with its per-tensor numbers, so the three totals
 * cover the same weights.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "layers.h"
#include "output.h"
#include "plan.h"
#include "quant.h"
#include "weight_cmd.h"

/* Most bit widths one run compares. */
#define COMPARE_MAX_BITS 8

enum compare_option { OPT_BITS, OPT_GROUP_SIZE, OPT_LAYER, OPT_NO_FOLD_BN };

static const struct qs_cli_option compare_options[] = {
    [OPT_BITS] = { "bits", 'b', "LIST",
                   "integer widths to compare, comma-separated, from 2 to 8 and 16 "
                   "(default 8,4)" },
    [OPT_GROUP_SIZE] = { "group-size", 'g', "N",
                         "group length along the group axis, 1 to 65536 (default 128)" },
    [OPT_LAYER] = { "layer", 0, "KEY|PATTERN",
                    "only these layers: a key, a glob on keys or op:TYPE (repeatable)" },
    [OPT_NO_FOLD_BN] = { "no-fold-bn", 0, NULL,
                         "quantize Conv weights without the BatchNormalization that follows them" },
};

static const struct qs_cli_spec compare_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = compare_options,
    .n_options = sizeof(compare_options) / sizeof(compare_options[0]),
    .min_args = 1,
    .max_args = 1,
};

/* The three granularities compared, in column order. */
enum compare_gran { GRAN_TENSOR, GRAN_CHANNEL, GRAN_GROUP, N_GRAN };

enum compare_column {
    COL_KEY, COL_OPS, COL_PARAMS, COL_BITS, COL_SCHEME,
    COL_TENSOR_SQNR, COL_TENSOR_BYTES, COL_CHANNEL_SQNR, COL_CHANNEL_BYTES,
    COL_GROUP_SQNR, COL_GROUP_BYTES, COL_NOTE, N_COLUMNS
};

static const struct qs_column compare_columns[N_COLUMNS] = {
    [COL_KEY] = { "key", NULL, QS_COL_STRING, NULL, NULL },
    [COL_OPS] = { "ops", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PARAMS] = { "params", NULL, QS_COL_INT, NULL, NULL },
    [COL_BITS] = { "bits", NULL, QS_COL_INT, NULL, NULL },
    [COL_SCHEME] = { "scheme", NULL, QS_COL_STRING, NULL, NULL },
    [COL_TENSOR_SQNR] = { "tensor_sqnr_db", "tensor_dB", QS_COL_FLOAT, "%.2f", "tensor_exact" },
    [COL_TENSOR_BYTES] = { "tensor_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_CHANNEL_SQNR] = { "channel_sqnr_db", "channel_dB", QS_COL_FLOAT, "%.2f",
                           "channel_exact" },
    [COL_CHANNEL_BYTES] = { "channel_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_GROUP_SQNR] = { "group_sqnr_db", "group_dB", QS_COL_FLOAT, "%.2f", "group_exact" },
    [COL_GROUP_BYTES] = { "group_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_NOTE] = { "note", NULL, QS_COL_STRING, NULL, NULL },
};

/* Sums of one bit width and granularity over the layers. */
struct compare_sum {
    double sse;
    double energy;
    uint64_t bytes;
};

struct compare_run {
    const struct qs_cli *cli;
    struct qs_diag *diag;
    struct weight_cmd_model wm;
    int bits[COMPARE_MAX_BITS];
    size_t n_bits;
    long group_size;
    unsigned data_flags;
    struct qs_quant_config configs[COMPARE_MAX_BITS][N_GRAN];
    struct compare_sum sums[COMPARE_MAX_BITS][N_GRAN];
    uint64_t params;
};

static const char *
scheme_name(int bits)
{
    return bits >= 8 ? "sym" : "asym";
}

static int
format_of_bits(int bits, enum qs_quant_format *format)
{
    static const enum qs_quant_format formats[] = {
        QS_QUANT_INT2, QS_QUANT_INT3, QS_QUANT_INT4, QS_QUANT_INT5, QS_QUANT_INT6,
        QS_QUANT_INT7, QS_QUANT_INT8
    };

    if (bits == 16) {
        *format = QS_QUANT_INT16;
        return 1;
    }
    if (bits < 2 || bits > 8)
        return 0;
    *format = formats[bits - 2];
    return 1;
}

static void
make_configs(struct compare_run *run)
{
    for (size_t b = 0; b < run->n_bits; b++) {
        enum qs_quant_format format = QS_QUANT_INT8;

        format_of_bits(run->bits[b], &format);
        for (int g = 0; g < N_GRAN; g++) {
            struct qs_quant_config *c = &run->configs[b][g];

            qs_quant_config_default(format, c);
            c->scheme = run->bits[b] >= 8 ? QS_QUANT_SYM : QS_QUANT_ASYM;
            c->range = QS_QUANT_RANGE_MINMAX;
            c->granularity = g == GRAN_TENSOR ? QS_QUANT_GRAN_TENSOR
                             : g == GRAN_CHANNEL ? QS_QUANT_GRAN_CHANNEL : QS_QUANT_GRAN_GROUP;
            c->group_size = g == GRAN_GROUP ? (uint32_t)run->group_size : 0;
        }
    }
}

static int
parse_bits(struct compare_run *run)
{
    const char *text = run->cli->values[OPT_BITS] ? run->cli->values[OPT_BITS] : "8,4";
    const char *p = text;

    run->n_bits = 0;
    while (*p) {
        char *end;
        long bits = strtol(p, &end, 10);
        enum qs_quant_format format;

        int repeated = 0;

        for (size_t b = 0; b < run->n_bits; b++)
            repeated |= run->bits[b] == bits;
        if (end == p || (*end && *end != ',') || (*end == ',' && !end[1])
            || !format_of_bits((int)bits, &format) || run->n_bits == COMPARE_MAX_BITS)
            return qs_cli_usage_error(run->cli, "invalid value '%s' for --bits (expected up to "
                                      "%d widths from 2 to 8 or 16, comma-separated)", text,
                                      COMPARE_MAX_BITS);
        if (repeated)
            return qs_cli_usage_error(run->cli, "invalid value '%s' for --bits: %ld is given "
                                      "twice", text, bits);
        run->bits[run->n_bits++] = (int)bits;
        p = *end ? end + 1 : end;
    }
    if (run->n_bits == 0)
        return qs_cli_usage_error(run->cli, "--bits needs at least one width");
    return 0;
}

/* One trial; returns 1 with the sums and SQNR when it ran. */
static int
compare_trial(struct compare_run *run, const struct qs_layer *layer,
              const struct qs_layer_data *data, const struct qs_quant_config *config,
              struct compare_sum *sum, double *sqnr)
{
    struct qs_plan_measure m;
    char message[512];

    if (qs_plan_check_config(layer, config, message, sizeof(message)) != QS_OK)
        return 0;
    if (qs_plan_measure_data(layer, data, config, run->cli->threads, run->wm.path, run->diag,
                             &m) != QS_OK)
        return 0;
    sum->sse = m.sse;
    sum->energy = m.energy;
    sum->bytes = m.bytes;
    *sqnr = m.sqnr_db;
    return 1;
}

static void
compare_bits_row(struct compare_run *run, const struct qs_layer *layer,
                 const struct qs_layer_data *data, size_t b, struct qs_table *table)
{
    static const size_t sqnr_col[N_GRAN] = { COL_TENSOR_SQNR, COL_CHANNEL_SQNR, COL_GROUP_SQNR };
    static const size_t bytes_col[N_GRAN] = {
        COL_TENSOR_BYTES, COL_CHANNEL_BYTES, COL_GROUP_BYTES
    };
    struct compare_sum got[N_GRAN];
    int ran[N_GRAN];

    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, layer->key);
    qs_table_set_string(table, COL_OPS, layer->ops);
    qs_table_set_int(table, COL_PARAMS, (int64_t)layer->count);
    qs_table_set_int(table, COL_BITS, run->bits[b]);
    qs_table_set_string(table, COL_SCHEME, scheme_name(run->bits[b]));
    for (int g = 0; g < N_GRAN; g++) {
        double sqnr;

        ran[g] = compare_trial(run, layer, data, &run->configs[b][g], &got[g], &sqnr);
        if (!ran[g])
            continue;
        weight_cmd_set_sqnr(table, sqnr_col[g], sqnr);
        qs_table_set_int(table, bytes_col[g], (int64_t)got[g].bytes);
    }
    if (!ran[GRAN_TENSOR])
        return;
    for (int g = 0; g < N_GRAN; g++) {
        const struct compare_sum *use = ran[g] ? &got[g] : &got[GRAN_TENSOR];

        run->sums[b][g].sse += use->sse;
        run->sums[b][g].energy += use->energy;
        run->sums[b][g].bytes += use->bytes;
    }
    if (b == 0)
        run->params += layer->count;
}

static void
compare_layer(struct compare_run *run, const struct qs_layer *layer, struct qs_table *table)
{
    struct qs_layer_data data;
    int ok = qs_layer_data_get(run->wm.layers, layer, run->data_flags, run->diag,
                               &data) == QS_OK;

    for (size_t b = 0; b < run->n_bits; b++) {
        if (ok) {
            compare_bits_row(run, layer, &data, b, table);
        } else {
            qs_table_add_row(table);
            qs_table_set_string(table, COL_KEY, layer->key);
            qs_table_set_int(table, COL_BITS, run->bits[b]);
        }
        if (!ok)
            qs_table_set_string(table, COL_NOTE, "data cannot be read");
        else if (layer->axis_note)
            qs_table_set_string(table, COL_NOTE, layer->axis_note);
        else if (qs_layer_group_length(layer) == 1)
            qs_table_set_string(table, COL_NOTE, "the group axis has length 1, so each group "
                                "holds one value");
        else if (data.bn_folded)
            qs_table_set_string(table, COL_NOTE, "BatchNormalization folded");
    }
    if (ok)
        qs_layer_data_done(&data);
}

static void
add_total_rows(struct compare_run *run, struct qs_table *table)
{
    static const size_t sqnr_col[N_GRAN] = { COL_TENSOR_SQNR, COL_CHANNEL_SQNR, COL_GROUP_SQNR };
    static const size_t bytes_col[N_GRAN] = {
        COL_TENSOR_BYTES, COL_CHANNEL_BYTES, COL_GROUP_BYTES
    };

    for (size_t b = 0; b < run->n_bits; b++) {
        qs_table_add_row(table);
        qs_table_set_string(table, COL_KEY, "(total)");
        qs_table_set_int(table, COL_PARAMS, (int64_t)run->params);
        qs_table_set_int(table, COL_BITS, run->bits[b]);
        qs_table_set_string(table, COL_SCHEME, scheme_name(run->bits[b]));
        for (int g = 0; g < N_GRAN; g++) {
            const struct compare_sum *s = &run->sums[b][g];

            if (run->params == 0)
                continue;
            weight_cmd_set_sqnr(table, sqnr_col[g],
                                s->sse > 0.0 ? 10.0 * log10(s->energy / s->sse) : INFINITY);
            qs_table_set_int(table, bytes_col[g], (int64_t)s->bytes);
        }
    }
}

static int
write_json(FILE *fp, const struct compare_run *run, struct qs_table *table)
{
    json_t *doc = json_object();
    json_t *rows = qs_table_json(table);
    json_t *totals = json_array();
    json_t *bits = json_array();
    int failed;

    for (size_t b = 0; b < run->n_bits; b++) {
        size_t last = json_array_size(rows) - run->n_bits;

        json_array_append_new(bits, json_integer(run->bits[b]));
        json_array_append(totals, json_array_get(rows, last + b));
    }
    for (size_t b = 0; b < run->n_bits; b++)
        json_array_remove(rows, json_array_size(rows) - 1);
    json_object_set_new(doc, "bits", bits);
    qs_json_set_int(doc, "group_size", run->group_size);
    json_object_set_new(doc, "layers", rows);
    json_object_set_new(doc, "totals", totals);
    failed = qs_json_write(fp, doc);
    json_decref(doc);
    return failed;
}

static struct qs_table *
compare_table(struct compare_run *run, const unsigned char *selected)
{
    struct qs_table *table = qs_table_new(compare_columns, N_COLUMNS);
    struct weight_cmd_progress progress;
    size_t total = 0;

    for (size_t i = 0; i < run->wm.layers->count; i++)
        total += selected[i];
    weight_cmd_progress_begin(&progress, "compare", total);
    for (size_t i = 0; i < run->wm.layers->count; i++) {
        if (!selected[i])
            continue;
        compare_layer(run, &run->wm.layers->items[i], table);
        weight_cmd_progress_step(&progress);
    }
    weight_cmd_progress_end(&progress);
    add_total_rows(run, table);
    return table;
}

/* Returns 0, or an exit status for a usage error. */
static int
compare_run_model(struct compare_run *run, const struct weight_cmd_multi *layer_opt)
{
    unsigned char *selected = qs_calloc(run->wm.layers->count + 1, 1);
    struct qs_cli_sink sink;
    struct qs_table *table;
    int failed;

    if (weight_cmd_select(run->cli, run->wm.layers, layer_opt, 0, selected)) {
        free(selected);
        return qs_status_exit_code(QS_USAGE);
    }
    table = compare_table(run, selected);
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

static int
parse_compare_options(struct compare_run *run)
{
    run->group_size = 128;
    if (parse_bits(run))
        return qs_status_exit_code(QS_USAGE);
    if (run->cli->values[OPT_GROUP_SIZE]
        && weight_cmd_parse_long(run->cli, "group-size", run->cli->values[OPT_GROUP_SIZE], 1,
                                 65536, &run->group_size))
        return qs_status_exit_code(QS_USAGE);
    run->data_flags = run->cli->values[OPT_NO_FOLD_BN] ? QS_LAYER_NO_FOLD_BN : 0;
    make_configs(run);
    return 0;
}

int
qs_cmd_compare(const struct qs_command *command, int argc, char **argv)
{
    struct weight_cmd_multi layer_opt = { .name = "layer" };
    struct qs_cli cli;
    struct qs_diag diag;
    const char *inputs[1];
    struct compare_run *run = qs_calloc(1, sizeof(*run));
    char **rest;
    int n_rest, rc;

    rc = weight_cmd_take_repeated(command->name, argc, argv, &layer_opt, 1, &n_rest, &rest);
    if (rc) {
        free(run);
        return rc;
    }
    qs_diag_init(&diag);
    if (qs_cli_parse(&cli, command, &compare_spec, n_rest, rest) != QS_OK || cli.help_shown) {
        rc = cli.help_shown ? 0 : qs_status_exit_code(QS_USAGE);
        goto out;
    }
    run->cli = &cli;
    run->diag = &diag;
    rc = parse_compare_options(run);
    if (rc)
        goto out;
    inputs[0] = cli.args[0];
    if (weight_cmd_check_output(&cli, inputs, 1, &diag) != QS_OK) {
        rc = qs_cli_finish(&cli, &diag, cli.output);
        goto out;
    }
    if (weight_cmd_open(&cli, cli.args[0], &diag, &run->wm) == QS_OK)
        rc = compare_run_model(run, &layer_opt);
    if (rc == 0)
        rc = qs_cli_finish(&cli, &diag, cli.args[0]);
    weight_cmd_close(&run->wm);

out:
    qs_cli_done(&cli);
    qs_diag_done(&diag);
    free(rest);
    free(run);
    return rc;
}
