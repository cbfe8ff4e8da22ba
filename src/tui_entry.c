/*
 * `qscope MODEL` and `qscope DIR`: the browser's command line, then the
 * interactive browser (views/ui.c).
 */
#include "config.h"
#include "tui_entry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "act_cmd.h"
#include "activations.h"
#include "ui.h"

/* Most generated samples, as the activation commands allow. */
#define TUI_MAX_RANDOM 100000

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

static int
parse_seed(const struct qs_cli *cli, const char *text, uint64_t *seed)
{
    char *end;

    errno = 0;
    *seed = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-')
        return qs_cli_usage_error(cli, "invalid value '%s' for --seed (expected a whole number "
                                  "from 0 to %" PRIu64 ")", text, UINT64_MAX);
    return 0;
}

/*
 * Fill the inputs of "options" from the parsed command line, checked as
 * the activation commands check them.  Returns 0 or the usage exit status.
 * NOTE: the same checks as act_cmd.c's input_spec, which is private there.
 */
static int
input_options(const struct act_cmd *ac, struct qs_ui_options *options)
{
    const struct qs_cli *cli = &ac->cli;
    struct qs_input_spec *spec = &options->inputs;
    const char *dist = cli->values[ACT_OPT_DIST];
    int rc = 0;

    spec->files = ac->multi[ACT_MULTI_INPUT].values;
    spec->n_files = ac->multi[ACT_MULTI_INPUT].count;
    spec->data_dir = cli->values[ACT_OPT_DATA];
    spec->shapes = ac->multi[ACT_MULTI_SHAPE].values;
    spec->n_shapes = ac->multi[ACT_MULTI_SHAPE].count;
    spec->ranges = ac->multi[ACT_MULTI_RANGE].values;
    spec->n_ranges = ac->multi[ACT_MULTI_RANGE].count;
    if (cli->values[ACT_OPT_RANDOM])
        rc = weight_cmd_parse_long(cli, "random", cli->values[ACT_OPT_RANDOM], 1, TUI_MAX_RANDOM,
                                   &spec->random);
    if (!rc && cli->values[ACT_OPT_SEED])
        rc = parse_seed(cli, cli->values[ACT_OPT_SEED], &spec->seed);
    if (!rc && dist && strcmp(dist, "normal") != 0 && strcmp(dist, "uniform") != 0)
        rc = qs_cli_usage_error(cli, "invalid value '%s' for --dist (expected normal or "
                                "uniform)", dist);
    spec->dist = dist && strcmp(dist, "uniform") == 0 ? QS_INPUT_UNIFORM : QS_INPUT_NORMAL;
    if (!rc && !spec->random && (cli->values[ACT_OPT_SEED] || dist))
        rc = qs_cli_usage_error(cli, "--seed and --dist apply to generated inputs: add "
                                "--random N");
    if (!rc && (!!spec->data_dir + !!spec->random + !!spec->n_files) > 1)
        rc = qs_cli_usage_error(cli, "give one of --input, --data and --random");
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
