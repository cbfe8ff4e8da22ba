/*
 * Steps shared by calibrate, eval and sensitivity.
 */
#include "config.h"
#include "act_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Most generated samples: enough for calibration, small enough to notice a typo. */
#define ACT_CMD_MAX_RANDOM 100000

static const char *const multi_names[ACT_MULTI_COUNT] = { "input", "shape", "range", "layer" };

int
act_cmd_parse(struct act_cmd *ac, const struct qs_command *command,
              const struct qs_cli_spec *spec, int with_layer, int argc, char **argv)
{
    size_t n_multi = with_layer ? ACT_MULTI_COUNT : ACT_MULTI_LAYER;
    int n_rest, rc;

    memset(ac, 0, sizeof(*ac));
    qs_diag_init(&ac->diag);
    qs_cli_init(&ac->cli, command->name);
    for (size_t i = 0; i < ACT_MULTI_COUNT; i++)
        ac->multi[i].name = multi_names[i];
    rc = weight_cmd_take_repeated(command->name, argc, argv, ac->multi, n_multi, &n_rest,
                                  &ac->rest);
    if (rc)
        return rc;
    if (qs_cli_parse(&ac->cli, command, spec, n_rest, ac->rest) != QS_OK)
        return qs_status_exit_code(QS_USAGE);
    return ac->cli.help_shown ? 0 : -1;
}

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

int
act_cmd_input_spec(const struct act_cmd *ac, struct qs_input_spec *spec)
{
    const struct qs_cli *cli = &ac->cli;
    const char *dist = cli->values[ACT_OPT_DIST];
    int rc = 0;

    memset(spec, 0, sizeof(*spec));
    spec->files = ac->multi[ACT_MULTI_INPUT].values;
    spec->n_files = ac->multi[ACT_MULTI_INPUT].count;
    spec->data_dir = cli->values[ACT_OPT_DATA];
    spec->shapes = ac->multi[ACT_MULTI_SHAPE].values;
    spec->n_shapes = ac->multi[ACT_MULTI_SHAPE].count;
    spec->ranges = ac->multi[ACT_MULTI_RANGE].values;
    spec->n_ranges = ac->multi[ACT_MULTI_RANGE].count;
    if (cli->values[ACT_OPT_RANDOM])
        rc = weight_cmd_parse_long(cli, "random", cli->values[ACT_OPT_RANDOM], 1,
                                   ACT_CMD_MAX_RANDOM, &spec->random);
    if (!rc && cli->values[ACT_OPT_SEED])
        rc = parse_seed(cli, cli->values[ACT_OPT_SEED], &spec->seed);
    if (!rc && dist && strcmp(dist, "normal") != 0 && strcmp(dist, "uniform") != 0)
        rc = qs_cli_usage_error(cli, "invalid value '%s' for --dist (expected normal or "
                                "uniform)", dist);
    spec->dist = dist && strcmp(dist, "uniform") == 0 ? QS_INPUT_UNIFORM : QS_INPUT_NORMAL;
    if (!rc && !spec->random && (cli->values[ACT_OPT_SEED] || dist))
        rc = qs_cli_usage_error(cli, "--seed and --dist apply to generated inputs: add "
                                "--random N");
    return rc;
}

enum qs_status
act_cmd_open(struct act_cmd *ac)
{
    struct qs_interp_options options = { .threads = ac->cli.threads };
    const char *path = ac->cli.args[0];
    struct qs_input_spec spec;
    enum qs_status status;

    if (act_cmd_input_spec(ac, &spec) != 0)
        return QS_USAGE;
    status = weight_cmd_open(&ac->cli, path, &ac->diag, &ac->wm);
    if (status != QS_OK)
        return status;
    status = qs_interp_new(ac->wm.model, &options, &ac->diag, &ac->interp);
    if (status != QS_OK)
        return status;
    return qs_inputs_load(ac->interp, &spec, path, &ac->diag, &ac->inputs);
}

enum qs_status
act_cmd_check_output(struct act_cmd *ac, const char *path, const char *const *extra,
                     size_t n_extra)
{
    const struct weight_cmd_multi *files = &ac->multi[ACT_MULTI_INPUT];
    const char **inputs = qs_calloc(1 + files->count + n_extra, sizeof(*inputs));
    size_t n = 0;
    enum qs_status status;

    inputs[n++] = ac->cli.args[0];
    for (size_t i = 0; i < files->count; i++) {
        const char *eq = strchr(files->values[i], '=');

        inputs[n++] = eq ? eq + 1 : files->values[i];
    }
    for (size_t i = 0; i < n_extra; i++)
        inputs[n++] = extra[i];
    status = weight_cmd_check_target(path, ac->cli.force, inputs, n, &ac->diag);
    free(inputs);
    return status;
}

char *
act_cmd_source(const struct act_cmd *ac)
{
    const struct qs_cli *cli = &ac->cli;
    size_t n = ac->inputs.n_samples;

    if (cli->values[ACT_OPT_DATA])
        return qs_asprintf("--data %s", cli->values[ACT_OPT_DATA]);
    if (cli->values[ACT_OPT_RANDOM])
        return qs_asprintf("%zu random sample%s, seed %s, %s", n, n == 1 ? "" : "s",
                           cli->values[ACT_OPT_SEED] ? cli->values[ACT_OPT_SEED] : "0",
                           cli->values[ACT_OPT_DIST] ? cli->values[ACT_OPT_DIST] : "normal");
    if (ac->multi[ACT_MULTI_INPUT].count)
        return qs_asprintf("--input files, %zu sample%s", n, n == 1 ? "" : "s");
    return qs_strdup("no inputs");
}

void
act_cmd_progress_begin(struct act_cmd *ac, const char *what, size_t total)
{
    weight_cmd_progress_begin(&ac->progress, what, total);
}

void
act_cmd_progress_step(void *ac)
{
    weight_cmd_progress_step(&((struct act_cmd *)ac)->progress);
}

void
act_cmd_progress_end(struct act_cmd *ac)
{
    weight_cmd_progress_end(&ac->progress);
}

int
act_cmd_done(struct act_cmd *ac, int rc)
{
    const char *file = ac->cli.n_args > 0 ? ac->cli.args[0] : ac->cli.command;

    if (rc <= 0)
        rc = qs_cli_finish(&ac->cli, &ac->diag, file);
    else
        qs_diag_print(&ac->diag, file);
    weight_cmd_progress_end(&ac->progress);
    qs_inputs_done(&ac->inputs);
    qs_interp_free(ac->interp);
    weight_cmd_close(&ac->wm);
    qs_cli_done(&ac->cli);
    qs_diag_done(&ac->diag);
    free(ac->rest);
    return rc;
}
