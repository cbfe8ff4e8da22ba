/*
 * qscope calibrate: run the model on the samples and save the statistics
 * of every float activation to a .qstats file.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_cmd.h"
#include "act_quant.h"
#include "calib.h"
#include "commands.h"
#include "output.h"

enum calibrate_option {
    OPT_ACT = ACT_OPT_COUNT
};

static const struct qs_cli_option calibrate_options[] = {
    ACT_CMD_INPUT_OPTIONS,
    { "act", 0, "CONFIG", "also fake-quantize every activation with CONFIG (int8:tensor:asym:"
      "entropy, int8:token:sym, ...) and print each one's error" },
};

static const struct qs_cli_spec calibrate_spec = {
    .accepts = QS_CLI_OUTPUT | QS_CLI_FORMAT,
    .options = calibrate_options,
    .n_options = sizeof(calibrate_options) / sizeof(calibrate_options[0]),
    .min_args = 1,
    .max_args = 1,
};

/* MODEL with ".onnx" replaced by ".qstats" (or ".qstats" appended); caller frees. */
static char *
default_output(const char *model)
{
    size_t len = strlen(model);

    if (len > 5 && strcmp(model + len - 5, ".onnx") == 0)
        return qs_asprintf("%.*s.qstats", (int)(len - 5), model);
    return qs_asprintf("%s.qstats", model);
}

static enum qs_status
run_sample(struct act_cmd *ac, struct qs_calib *calib, size_t s)
{
    size_t n_out = qs_interp_n_outputs(ac->interp);
    struct qs_rt_tensor **outputs = qs_calloc(n_out + 1, sizeof(*outputs));
    enum qs_status status;

    /* The interpreter observes node outputs only: graph inputs are added here. */
    for (size_t i = 0; i < ac->inputs.n_inputs; i++)
        qs_calib_observe(calib, qs_interp_input(ac->interp, i), qs_inputs_get(&ac->inputs, s, i));
    status = qs_interp_run(ac->interp, ac->inputs.tensors + s * ac->inputs.n_inputs, outputs,
                           &ac->diag);
    for (size_t i = 0; i < n_out; i++)
        qs_rt_unref(outputs[i]);
    free(outputs);
    return status;
}

static enum qs_status
collect(struct act_cmd *ac, struct qs_calib *calib)
{
    struct qs_interp_hooks hooks = { .observe = qs_calib_observe, .ctx = calib };
    enum qs_status status = QS_OK;

    qs_calib_init(calib, ac->wm.model, ac->wm.layers);
    calib->source = act_cmd_source(ac);
    qs_interp_set_hooks(ac->interp, &hooks);
    act_cmd_progress_begin(ac, "calibrating", ac->inputs.n_samples);
    for (size_t s = 0; s < ac->inputs.n_samples && status == QS_OK; s++) {
        status = run_sample(ac, calib, s);
        act_cmd_progress_step(ac);
    }
    act_cmd_progress_end(ac);
    qs_interp_set_hooks(ac->interp, NULL);
    calib->samples = ac->inputs.n_samples;
    qs_calib_finish(calib, ac->cli.args[0], &ac->diag);
    return status;
}

enum { COL_NAME, COL_OP, COL_LO, COL_HI, COL_SCALE, COL_ZERO_POINT, COL_SQNR, COL_COSINE,
       COL_MAX_ABS, COL_MSE, COL_FLAGGED, N_COLUMNS };

static const struct qs_column trial_columns[N_COLUMNS] = {
    { .key = "name", .type = QS_COL_STRING },
    { .key = "op", .type = QS_COL_STRING },
    { .key = "lo", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "hi", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "scale", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "zero_point", .type = QS_COL_INT },
    { .key = "sqnr_db", .type = QS_COL_FLOAT, .format = "%.2f", .flag = "exact" },
    { .key = "cosine", .type = QS_COL_FLOAT, .format = "%.6f" },
    { .key = "max_abs_err", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "mse", .type = QS_COL_FLOAT, .format = "%.4g" },
    { .key = "flagged", .type = QS_COL_INT },
};

/* One row per activation; static scales show their range, dynamic ones do not. */
static struct qs_table *
trial_table(const struct qs_act_config *config, const struct qs_act_trial *trial)
{
    struct qs_table *table = qs_table_new(trial_columns, N_COLUMNS);

    for (size_t i = 0; i < trial->count; i++) {
        const struct qs_act_result *r = &trial->items[i];

        qs_table_add_row(table);
        qs_table_set_string(table, COL_NAME, r->name);
        qs_table_set_string(table, COL_OP, r->op);
        if (config->mode == QS_ACT_STATIC && !r->uncalibrated) {
            qs_table_set_float(table, COL_LO, r->params.lo);
            qs_table_set_float(table, COL_HI, r->params.hi);
            qs_table_set_float(table, COL_SCALE, r->params.scale);
            qs_table_set_int(table, COL_ZERO_POINT, r->params.zero_point);
        }
        qs_table_set_int(table, COL_FLAGGED, (int64_t)r->flagged);
        if (r->metrics.count == 0)
            continue;
        weight_cmd_set_sqnr(table, COL_SQNR, r->metrics.sqnr_db);
        qs_table_set_float(table, COL_COSINE, r->metrics.cosine);
        qs_table_set_float(table, COL_MAX_ABS, r->metrics.max_abs_err);
        qs_table_set_float(table, COL_MSE, r->metrics.mse);
    }
    return table;
}

/* Fake-quantize every activation with --act and print the errors. */
static enum qs_status
act_trial(struct act_cmd *ac, const struct qs_act_config *config, const struct qs_calib *calib)
{
    struct qs_act_trial trial;
    struct qs_table *table;
    char text[QS_ACT_CONFIG_MAX];
    enum qs_status status;

    act_cmd_progress_begin(ac, "activation trial", ac->inputs.n_samples);
    status = qs_act_trial_run(ac->interp, &ac->inputs, config, calib, ac->cli.args[0],
                              &ac->diag, &trial);
    act_cmd_progress_end(ac);
    if (status == QS_OK) {
        table = trial_table(config, &trial);
        qs_act_config_format(config, text, sizeof(text));
        if (ac->cli.format == QS_FORMAT_TEXT)
            printf("\nactivations quantized alone with %s (errors are not fed forward):\n", text);
        qs_table_write(table, stdout, ac->cli.format, 1);
        qs_table_free(table);
    }
    qs_act_trial_done(&trial);
    return status;
}

static int
calibrate_run(struct act_cmd *ac)
{
    char *path = ac->cli.output ? qs_strdup(ac->cli.output) : default_output(ac->cli.args[0]);
    const char *act = ac->cli.values[OPT_ACT];
    struct qs_calib calib = { 0 };
    struct qs_act_config config;
    char message[256];
    enum qs_status status = QS_OK;

    if (act && qs_act_config_parse(act, &config, message, sizeof(message)) != QS_OK) {
        free(path);
        return qs_cli_usage_error(&ac->cli, "%s", message);
    }
    if (!act && ac->cli.format != QS_FORMAT_TEXT) {
        free(path);
        return qs_cli_usage_error(&ac->cli, "--format applies to the table of --act");
    }
    status = act_cmd_check_output(ac, path, NULL, 0);
    if (status == QS_OK)
        status = act_cmd_open(ac);
    if (status == QS_OK)
        status = collect(ac, &calib);
    if (status == QS_OK)
        status = qs_calib_write(&calib, path, ac->cli.force, &ac->diag);
    if (status == QS_OK && ac->cli.format == QS_FORMAT_TEXT)
        printf("%s: %zu activation tensors, %zu layer inputs, %llu sample%s\n", path,
               calib.n_tensors, calib.n_layer_inputs, (unsigned long long)calib.samples,
               calib.samples == 1 ? "" : "s");
    if (status == QS_OK && act)
        status = act_trial(ac, &config, &calib);
    qs_calib_done(&calib);
    free(path);
    return status == QS_OK ? -1 : qs_status_exit_code(status);
}

int
qs_cmd_calibrate(const struct qs_command *command, int argc, char **argv)
{
    struct act_cmd ac;
    int rc = act_cmd_parse(&ac, command, &calibrate_spec, 0, argc, argv);

    if (rc < 0)
        rc = calibrate_run(&ac);
    return act_cmd_done(&ac, rc);
}
