/*
 * qscope eval: end-to-end error of a plan, float run against quantized
 * run, per output and optionally per intermediate tensor.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_cmd.h"
#include "act_quant.h"
#include "calib.h"
#include "commands.h"
#include "eval.h"
#include "output.h"
#include "plan.h"

enum eval_option {
    OPT_PLAN = ACT_OPT_COUNT,
    OPT_TRACE,
    OPT_ACT,
    OPT_QSTATS
};

static const struct qs_cli_option eval_options[] = {
    ACT_CMD_INPUT_OPTIONS,
    { "plan", 0, "PLAN.json", "the plan whose layers are quantized (required)" },
    { "trace", 0, NULL, "also compare every intermediate float tensor, in graph order" },
    { "act", 0, "CONFIG", "also quantize the inputs of planned layers (int8:tensor:asym:minmax, "
      "int8:token:sym, ...)" },
    { "qstats", 0, "FILE", "calibration statistics for static activation scales" },
};

static const struct qs_cli_spec eval_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = eval_options,
    .n_options = sizeof(eval_options) / sizeof(eval_options[0]),
    .min_args = 1,
    .max_args = 1,
};

/* State of one eval run: the plan, the activation settings, the statistics and the result. */
struct eval_cmd {
    struct act_cmd ac;
    struct qs_plan plan;
    struct qs_act_config act;
    int has_act;
    struct qs_calib calib;
    int has_calib;
    struct qs_eval_result result;
};

/* ---- output ------------------------------------------------------------ */

enum { COL_KIND, COL_NAME, COL_OP, COL_SHAPE, COL_SQNR, COL_COSINE, COL_MAX_ABS, COL_MSE,
       COL_TOP1, COL_ACT_SQNR, N_COLUMNS };

#define COLUMN_KIND { .key = "kind", .type = QS_COL_STRING }
#define COLUMN_NAME { .key = "name", .type = QS_COL_STRING }
#define COLUMN_OP { .key = "op", .type = QS_COL_STRING }
#define COLUMN_SHAPE { .key = "shape", .type = QS_COL_STRING }
#define COLUMN_SQNR { .key = "sqnr_db", .type = QS_COL_FLOAT, .format = "%.2f", .flag = "exact" }
#define COLUMN_COSINE { .key = "cosine", .type = QS_COL_FLOAT, .format = "%.6f" }
#define COLUMN_MAX_ABS { .key = "max_abs_diff", .type = QS_COL_FLOAT, .format = "%.4g" }
#define COLUMN_MSE { .key = "mse", .type = QS_COL_FLOAT, .format = "%.4g" }
#define COLUMN_TOP1 { .key = "top1_agreement", .title = "top1", .type = QS_COL_FLOAT, \
                      .format = "%.4f" }
#define COLUMN_ACT_SQNR { .key = "act_sqnr_db", .type = QS_COL_FLOAT, .format = "%.2f", \
                          .flag = "act_exact" }

/* CSV: every row in one table, where "kind" names the type of row. */
static const struct qs_column all_columns[] = {
    COLUMN_KIND, COLUMN_NAME, COLUMN_OP, COLUMN_SHAPE, COLUMN_SQNR, COLUMN_COSINE,
    COLUMN_MAX_ABS, COLUMN_MSE, COLUMN_TOP1, COLUMN_ACT_SQNR,
};
static const struct qs_column output_columns[] = {
    COLUMN_NAME, COLUMN_SHAPE, COLUMN_SQNR, COLUMN_COSINE, COLUMN_MAX_ABS, COLUMN_MSE,
    COLUMN_TOP1,
};
static const struct qs_column trace_columns[] = {
    COLUMN_NAME, COLUMN_OP, COLUMN_SQNR, COLUMN_COSINE, COLUMN_MAX_ABS, COLUMN_MSE,
    COLUMN_ACT_SQNR,
};

/* Position of each COL_ value in a table's columns, or -1 where the table lacks it. */
static const int all_map[N_COLUMNS] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const int output_map[N_COLUMNS] = { -1, 0, -1, 1, 2, 3, 4, 5, 6, -1 };
static const int trace_map[N_COLUMNS] = { -1, 0, 1, -1, 2, 3, 4, 5, -1, 6 };

#define N_OF(array) (sizeof(array) / sizeof((array)[0]))

/* One row, before it is cut to a table's columns. */
struct eval_row {
    const char *kind;
    const char *name;
    const char *op;
    const char *shape;
    const struct qs_quant_metrics *metrics;
    double top1;                 /* NaN: not measured */
    const struct qs_quant_metrics *act;   /* NULL: not quantized */
};

static void
shape_text(const struct qs_eval_output *o, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");

    for (int d = 0; d < o->rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, d ? ", " : "",
                                 o->dims[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static void
set_string(struct qs_table *table, const int *map, size_t column, const char *value)
{
    if (map[column] >= 0 && value)
        qs_table_set_string(table, (size_t)map[column], value);
}

static void
set_float(struct qs_table *table, const int *map, size_t column, double value)
{
    if (map[column] >= 0)
        qs_table_set_float(table, (size_t)map[column], value);
}

/* An SQNR cell: empty for -inf and NaN, so that its "exact" flag means a zero error. */
static void
set_sqnr(struct qs_table *table, const int *map, size_t column, double sqnr_db)
{
    if (map[column] >= 0)
        weight_cmd_set_sqnr(table, (size_t)map[column], sqnr_db);
}

static void
add_row(struct qs_table *table, const int *map, const struct eval_row *row)
{
    const struct qs_quant_metrics *m = row->metrics;

    qs_table_add_row(table);
    set_string(table, map, COL_KIND, row->kind);
    set_string(table, map, COL_NAME, row->name);
    set_string(table, map, COL_OP, row->op);
    set_string(table, map, COL_SHAPE, row->shape);
    if (m && m->count) {
        set_sqnr(table, map, COL_SQNR, m->sqnr_db);
        set_float(table, map, COL_COSINE, m->cosine);
        set_float(table, map, COL_MAX_ABS, m->max_abs_err);
        set_float(table, map, COL_MSE, m->mse);
    }
    if (!isnan(row->top1))
        set_float(table, map, COL_TOP1, row->top1);
    if (row->act && row->act->count)
        set_sqnr(table, map, COL_ACT_SQNR, row->act->sqnr_db);
}

static void
add_outputs(struct qs_table *table, const int *map, const struct qs_eval_result *r)
{
    char shape[160];

    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct qs_eval_output *o = &r->outputs[i];
        struct eval_row row = {
            .kind = "output", .name = o->name, .shape = shape, .metrics = &o->metrics,
            .top1 = o->classifier ? qs_eval_top1(o)
                    : o->compared ? (double)o->equal / (double)o->compared : NAN,
        };

        shape_text(o, shape, sizeof(shape));
        add_row(table, map, &row);
    }
}

static void
add_trace(struct qs_table *table, const int *map, const struct qs_eval_result *r)
{
    for (size_t i = 0; i < r->n_trace; i++) {
        const struct qs_eval_trace *t = &r->trace[i];
        struct eval_row row = {
            .kind = "trace", .name = t->name, .op = t->op, .metrics = &t->metrics, .top1 = NAN,
            .act = t->act_quantized ? &t->act_metrics : NULL,
        };

        add_row(table, map, &row);
    }
}

static void
print_text(FILE *fp, const struct eval_cmd *ec, const char *source)
{
    const struct qs_eval_result *r = &ec->result;
    struct qs_table *table;
    char act[QS_ACT_CONFIG_MAX] = "none";
    char sqnr[32];

    if (ec->has_act)
        qs_act_config_format(&ec->act, act, sizeof(act));
    qs_format_double(sqnr, sizeof(sqnr), "%.2f", r->weights.sqnr_db);
    fprintf(fp, "plan: %s: %zu layers quantized, %zu of them read by the runs, weight SQNR "
            "%s dB\n", ec->ac.cli.values[OPT_PLAN], r->layers_planned, r->layers_reached, sqnr);
    fprintf(fp, "activations: %s (%zu tensors)\n", act, r->n_act);
    fprintf(fp, "samples: %zu (%s)\n\n", r->samples, source);

    table = qs_table_new(output_columns, N_OF(output_columns));
    add_outputs(table, output_map, r);
    qs_table_write(table, fp, QS_FORMAT_TEXT, 1);
    qs_table_free(table);
    if (!ec->ac.cli.values[OPT_TRACE])
        return;

    fprintf(fp, "\ntrace: every float tensor in graph order, float run against quantized "
            "run\n");
    table = qs_table_new(trace_columns, N_OF(trace_columns));
    add_trace(table, trace_map, r);
    qs_table_write(table, fp, QS_FORMAT_TEXT, 1);
    qs_table_free(table);
}

static void
print_json(FILE *fp, const struct eval_cmd *ec, const char *source)
{
    const struct qs_eval_result *r = &ec->result;
    json_t *doc = json_object();
    json_t *weights = json_object();
    struct qs_table *table;
    char act[QS_ACT_CONFIG_MAX];

    qs_json_set_string(doc, "model", ec->ac.cli.args[0]);
    qs_json_set_string(doc, "plan", ec->ac.cli.values[OPT_PLAN]);
    qs_json_set_int(doc, "samples", (int64_t)r->samples);
    qs_json_set_string(doc, "source", source);
    qs_json_set_int(weights, "layers", (int64_t)r->layers_planned);
    qs_json_set_int(weights, "layers_read", (int64_t)r->layers_reached);
    weight_cmd_json_set_sqnr(weights, "sqnr_db", "exact", r->weights.sqnr_db);
    qs_json_set_number(weights, "sse", r->weights.sum_sq_err, NULL);
    qs_json_set_number(weights, "energy", r->weights.signal_energy, NULL);
    json_object_set_new(doc, "weights", weights);
    if (ec->has_act)
        qs_act_config_format(&ec->act, act, sizeof(act));
    qs_json_set_string(doc, "activations", ec->has_act ? act : NULL);
    qs_json_set_int(doc, "activation_tensors", (int64_t)r->n_act);
    qs_json_set_int(doc, "activations_left_in_float", (int64_t)r->act_skipped);
    qs_json_set_int(doc, "diverged_samples", (int64_t)r->diverged);

    table = qs_table_new(output_columns, N_OF(output_columns));
    add_outputs(table, output_map, r);
    json_object_set_new(doc, "outputs", qs_table_json(table));
    qs_table_free(table);
    if (ec->ac.cli.values[OPT_TRACE]) {
        table = qs_table_new(trace_columns, N_OF(trace_columns));
        add_trace(table, trace_map, r);
        json_object_set_new(doc, "trace", qs_table_json(table));
        qs_table_free(table);
    }
    qs_json_write(fp, doc);
    json_decref(doc);
}

static void
print_csv(FILE *fp, const struct eval_cmd *ec)
{
    struct qs_table *table = qs_table_new(all_columns, N_OF(all_columns));

    add_outputs(table, all_map, &ec->result);
    add_trace(table, all_map, &ec->result);
    qs_table_write(table, fp, QS_FORMAT_CSV, 1);
    qs_table_free(table);
}

/* ---- command ----------------------------------------------------------- */

/* Read the plan, the activation configuration and the statistics. */
static enum qs_status
load_settings(struct eval_cmd *ec)
{
    struct act_cmd *ac = &ec->ac;
    const char *model_path = ac->cli.args[0];
    const char *qstats = ac->cli.values[OPT_QSTATS];
    char sha[QS_SHA256_HEX_LEN + 1];
    enum qs_status status;

    status = qs_plan_read(ac->cli.values[OPT_PLAN], ac->wm.layers, &ec->plan, &ac->diag);
    if (status != QS_OK)
        return status;
    qs_sha256_hex(ac->wm.model->map, ac->wm.model->file_size, sha);
    if (ec->plan.sha256[0] && strcmp(sha, ec->plan.sha256) != 0)
        qs_diag_warn(&ac->diag, ac->cli.values[OPT_PLAN], "the plan was made for another file "
                     "(SHA-256 %.12s..., %s has %.12s...); its layers were found in this model",
                     ec->plan.sha256, model_path, sha);
    if (qstats) {
        status = qs_calib_read(qstats, ac->wm.model, &ec->calib, &ac->diag);
        ec->has_calib = 1;
    }
    return status;
}

/* Check the options that need no file; returns 0 or the usage exit status. */
static int
check_options(struct eval_cmd *ec)
{
    const struct qs_cli *cli = &ec->ac.cli;
    char message[256];

    if (!cli->values[OPT_PLAN])
        return qs_cli_usage_error(cli, "missing --plan PLAN.json (write one with qscope plan)");
    if (cli->values[OPT_ACT]) {
        if (qs_act_config_parse(cli->values[OPT_ACT], &ec->act, message, sizeof(message))
            != QS_OK)
            return qs_cli_usage_error(cli, "%s", message);
        ec->has_act = 1;
        if (ec->act.mode == QS_ACT_STATIC && !cli->values[OPT_QSTATS])
            return qs_cli_usage_error(cli, "static activation scales (%s) need --qstats FILE "
                                      "from qscope calibrate", cli->values[OPT_ACT]);
    } else if (cli->values[OPT_QSTATS]) {
        return qs_cli_usage_error(cli, "--qstats needs --act CONFIG");
    }
    return 0;
}

static enum qs_status
evaluate(struct eval_cmd *ec)
{
    struct act_cmd *ac = &ec->ac;
    struct qs_eval_options options = {
        .plan = &ec->plan, .act = ec->has_act ? &ec->act : NULL,
        .calib = ec->has_calib ? &ec->calib : NULL, .trace = ac->cli.values[OPT_TRACE] != NULL,
        .threads = ac->cli.threads, .progress = act_cmd_progress_step, .progress_ctx = ac,
    };
    enum qs_status status;

    act_cmd_progress_begin(ac, "evaluating", ac->inputs.n_samples);
    status = qs_eval_run(ac->wm.model, ac->wm.layers, &ac->inputs, &options, &ac->diag,
                         &ec->result);
    act_cmd_progress_end(ac);
    return status;
}

static enum qs_status
write_result(struct eval_cmd *ec)
{
    struct act_cmd *ac = &ec->ac;
    struct qs_cli_sink sink;
    char *source = act_cmd_source(ac);
    enum qs_status status = qs_cli_output_begin(&ac->cli, &sink, &ac->diag);

    if (status == QS_OK) {
        if (ac->cli.format == QS_FORMAT_JSON)
            print_json(sink.fp, ec, source);
        else if (ac->cli.format == QS_FORMAT_CSV)
            print_csv(sink.fp, ec);
        else
            print_text(sink.fp, ec, source);
        status = qs_cli_output_end(&sink, 1, &ac->diag);
    }
    free(source);
    return status;
}

static int
eval_run(struct eval_cmd *ec)
{
    struct act_cmd *ac = &ec->ac;
    const char *extra[2] = { ac->cli.values[OPT_PLAN], ac->cli.values[OPT_QSTATS] };
    enum qs_status status = QS_OK;
    int rc = check_options(ec);

    if (rc)
        return rc;
    if (ac->cli.output)
        status = act_cmd_check_output(ac, ac->cli.output, extra, 2);
    if (status == QS_OK)
        status = act_cmd_open(ac);
    if (status == QS_OK)
        status = load_settings(ec);
    if (status == QS_OK)
        status = evaluate(ec);
    if (status == QS_OK)
        status = write_result(ec);
    return status == QS_OK ? -1 : qs_status_exit_code(status);
}

int
qs_cmd_eval(const struct qs_command *command, int argc, char **argv)
{
    struct eval_cmd ec = { 0 };
    int rc = act_cmd_parse(&ec.ac, command, &eval_spec, 0, argc, argv);

    qs_plan_init(&ec.plan);
    if (rc < 0)
        rc = eval_run(&ec);
    qs_eval_result_done(&ec.result);
    qs_calib_done(&ec.calib);
    qs_plan_done(&ec.plan);
    return act_cmd_done(&ec.ac, rc);
}
