/*
 * `qscope MODEL` and `qscope DIR`: the browser's command line, then the
 * interactive browser (views/ui.c).
 */
#include "config.h"
#include "tui_entry.h"

#include "act_cmd.h"
#include "activations.h"
#include "ui.h"

enum tui_option {
    OPT_QSTATS = ACT_OPT_COUNT,
    OPT_SENSITIVITY
};

static const struct qs_cli_option tui_options[] = {
    ACT_CMD_INPUT_OPTIONS,
    { "qstats", 0, "FILE", "activation statistics from qscope calibrate (default: MODEL.qstats "
      "next to the model, when it was made for this model)" },
    { "sensitivity", 0, "FILE", "sensitivity ranking from qscope sensitivity --json, for the "
      "out dB column" },
};

static const struct qs_cli_spec tui_spec = {
    .accepts = QS_CLI_OUT_DIR,
    .options = tui_options,
    .n_options = sizeof(tui_options) / sizeof(tui_options[0]),
    .min_args = 1,
    .max_args = 1,
};

/* The browser as a command without a name, for the parser's help and messages. */
static const struct qs_command tui_command = {
    "", "[OPTIONS] MODEL|DIR",
    "open the model, or the folder of models, for browsing; with inputs, calibration, "
    "sensitivity and evaluation run from the browser", NULL
};

/*
 * Fill the inputs of "options" from the parsed command line, checked as
 * the activation commands check them, and at most one source of samples.
 * Returns 0 or the usage exit status.
 */
static int
input_options(const struct act_cmd *ac, struct qs_ui_options *options)
{
    const struct qs_input_spec *spec = &options->inputs;
    int rc = act_cmd_input_spec(ac, &options->inputs);

    if (!rc && (!!spec->data_dir + !!spec->random + !!spec->n_files) > 1)
        rc = qs_cli_usage_error(&ac->cli, "give one of --input, --data and --random");
    return rc;
}

int
qs_tui_main(int argc, char **argv)
{
    struct act_cmd ac;
    struct qs_ui_options options = { 0 };
    int rc = act_cmd_parse(&ac, &tui_command, &tui_spec, 0, argc, argv);

    if (rc < 0)
        rc = input_options(&ac, &options);
    if (rc == 0 && !ac.cli.help_shown) {
        options.qstats = ac.cli.values[OPT_QSTATS];
        options.sensitivity = ac.cli.values[OPT_SENSITIVITY];
        rc = qs_ui_main(&ac.cli, &options);
    }
    return act_cmd_done(&ac, rc);
}
