/*
 * qscope sensitivity: quantize one layer at a time and rank the layers by
 * the error each causes at the model's outputs.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_cmd.h"
#include "commands.h"
#include "output.h"
#include "quant.h"
#include "sensitivity.h"

enum sensitivity_option {
    OPT_CONFIG = ACT_OPT_COUNT,
    OPT_LAYER
};

/* Configuration applied to each layer when --config is not given. */
#define SENSITIVITY_DEFAULT_CONFIG "int8:channel"

static const struct qs_cli_option sensitivity_options[] = {
    ACT_CMD_INPUT_OPTIONS,
    { "config", 0, "CONFIG", "configuration each layer is quantized with (default: "
      SENSITIVITY_DEFAULT_CONFIG ")" },
    { "layer", 0, "PATTERN", "measure only the layers PATTERN selects (glob on the key, or "
      "op:TYPE); repeatable" },
};

static const struct qs_cli_spec sensitivity_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = sensitivity_options,
    .n_options = sizeof(sensitivity_options) / sizeof(sensitivity_options[0]),
    .min_args = 1,
    .max_args = 1,
};

enum { COL_RANK, COL_KEY, COL_OP, COL_SHAPE, COL_PARAMS, COL_WEIGHT_SQNR, COL_OUT_SQNR,
       COL_OUT_MSE, COL_COSINE, COL_MAX_ABS, COL_TOP1, COL_SKIPPED, N_COLUMNS };

static const struct qs_column sensitivity_columns[N_COLUMNS] = {
    { .key = "rank", .type = QS_COL_INT },
    { .key = "key", .title = "layer", .type = QS_COL_STRING },
    { .key = "op", .type = QS_COL_STRING },
    { .key = "shape", .type = QS_COL_STRING },
    { .key = "params", .type = QS_COL_INT },
    { .key = "weight_sqnr_db", .title = "weight_db", .type = QS_COL_FLOAT, .format = "%.2f",
      .flag = "weight_exact" },
    { .key = "output_sqnr_db", .title = "output_db", .type = QS_COL_FLOAT, .format = "%.2f",
      .flag = "output_exact" },
    { .key = "output_mse", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "cosine", .type = QS_COL_FLOAT, .format = "%.6f" },
    { .key = "max_abs_diff", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "top1_agreement", .title = "top1", .type = QS_COL_FLOAT, .format = "%.4f" },
    { .key = "skipped", .title = "note", .type = QS_COL_STRING },
};

static struct qs_table *
ranking_table(const struct qs_sens_result *result)
{
    struct qs_table *table = qs_table_new(sensitivity_columns, N_COLUMNS);
    char shape[128];

    for (size_t i = 0; i < result->count; i++) {
        const struct qs_sens_layer *item = &result->items[i];

        qs_table_add_row(table);
        qs_table_set_int(table, COL_RANK, (int64_t)i + 1);
        qs_table_set_string(table, COL_KEY, item->layer->key);
        qs_table_set_string(table, COL_OP, item->layer->ops);
        qs_table_set_string(table, COL_SHAPE, qs_layer_shape(item->layer, shape, sizeof(shape)));
        qs_table_set_int(table, COL_PARAMS, (int64_t)item->layer->count);
        qs_table_set_string(table, COL_SKIPPED, item->skipped);
        if (item->skipped)
            continue;
        weight_cmd_set_sqnr(table, COL_WEIGHT_SQNR, item->weight.sqnr_db);
        if (qs_sens_output_nonfinite(item)) {
            qs_table_set_string(table, COL_SKIPPED, QS_SENS_NOTE_NONFINITE);
            continue;
        }
        weight_cmd_set_sqnr(table, COL_OUT_SQNR, item->output.sqnr_db);
        qs_table_set_float(table, COL_OUT_MSE, item->output.mse);
        qs_table_set_float(table, COL_COSINE, item->output.cosine);
        qs_table_set_float(table, COL_MAX_ABS, item->output.max_abs_err);
        if (item->rows)
            qs_table_set_float(table, COL_TOP1, qs_sens_top1(item));
    }
    return table;
}

static void
print_result(FILE *fp, const struct act_cmd *ac, const struct qs_sens_result *result)
{
    struct qs_table *table;
    char config[QS_QUANT_CONFIG_MAX];
    char *source;
    json_t *doc;

    if (ac->cli.format == QS_FORMAT_JSON) {
        doc = qs_sensitivity_to_json(result, ac->wm.model);
        qs_json_write(fp, doc);
        json_decref(doc);
        return;
    }
    table = ranking_table(result);
    if (ac->cli.format == QS_FORMAT_TEXT) {
        source = act_cmd_source(ac);
        qs_quant_config_format(&result->config, config, sizeof(config));
        fprintf(fp, "config: %s, one layer at a time; samples: %zu (%s)\n"
                "ranked by output SQNR, lowest (most harmful) first\n\n", config,
                result->samples, source);
        free(source);
    }
    qs_table_write(table, fp, ac->cli.format, 1);
    qs_table_free(table);
}

static enum qs_status
measure(struct act_cmd *ac, const struct qs_quant_config *config, const unsigned char *selected,
        struct qs_sens_result *result)
{
    struct qs_sens_options options = {
        .config = config, .selected = selected, .threads = ac->cli.threads,
        .progress = act_cmd_progress_step, .progress_ctx = ac,
    };
    size_t total = 0;
    enum qs_status status;

    for (size_t i = 0; i < ac->wm.layers->count; i++)
        total += selected[i];
    act_cmd_progress_begin(ac, "measuring layers", total);
    status = qs_sensitivity_run(ac->wm.model, ac->wm.layers, &ac->inputs, &options, &ac->diag,
                                result);
    act_cmd_progress_end(ac);
    qs_sensitivity_rank(result);
    return status;
}

static int
sensitivity_run(struct act_cmd *ac)
{
    const char *text = ac->cli.values[OPT_CONFIG] ? ac->cli.values[OPT_CONFIG]
                                                  : SENSITIVITY_DEFAULT_CONFIG;
    struct qs_quant_config config;
    struct qs_sens_result result = { 0 };
    struct qs_cli_sink sink;
    unsigned char *selected = NULL;
    char message[256];
    enum qs_status status = QS_OK;
    int rc = -1;

    if (qs_quant_config_parse(text, &config, message, sizeof(message)) != QS_OK)
        return qs_cli_usage_error(&ac->cli, "%s", message);
    if (ac->cli.output)
        status = act_cmd_check_output(ac, ac->cli.output, NULL, 0);
    if (status == QS_OK)
        status = act_cmd_open(ac);
    if (status == QS_OK) {
        selected = qs_calloc(ac->wm.layers->count + 1, 1);
        rc = weight_cmd_select(&ac->cli, ac->wm.layers, &ac->multi[ACT_MULTI_LAYER], 0,
                               selected);
    }
    if (status == QS_OK && rc <= 0)
        status = measure(ac, &config, selected, &result);
    if (status == QS_OK && rc <= 0)
        status = qs_cli_output_begin(&ac->cli, &sink, &ac->diag);
    if (status == QS_OK && rc <= 0) {
        print_result(sink.fp, ac, &result);
        status = qs_cli_output_end(&sink, 1, &ac->diag);
    }
    qs_sensitivity_done(&result);
    free(selected);
    if (rc > 0)
        return rc;
    return status == QS_OK ? -1 : qs_status_exit_code(status);
}

int
qs_cmd_sensitivity(const struct qs_command *command, int argc, char **argv)
{
    struct act_cmd ac;
    int rc = act_cmd_parse(&ac, command, &sensitivity_spec, 1, argc, argv);

    if (rc < 0)
        rc = sensitivity_run(&ac);
    return act_cmd_done(&ac, rc);
}
