/*
 * Steps shared by stats, quant, compare and plan.
 */
#include "config.h"
#include "weight_cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Width of the progress bar in characters. */
#define PROGRESS_WIDTH 30

static struct weight_cmd_multi *
multi_match(struct weight_cmd_multi *multi, size_t n_multi, const char *arg, const char **value)
{
    for (size_t i = 0; i < n_multi; i++) {
        size_t len = strlen(multi[i].name);

        if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, multi[i].name, len) != 0)
            continue;
        if (arg[2 + len] == '=') {
            *value = arg + 3 + len;
            return &multi[i];
        }
        if (arg[2 + len] == '\0') {
            *value = NULL;
            return &multi[i];
        }
    }
    return NULL;
}

int
weight_cmd_take_repeated(const char *command, int argc, char **argv,
                         struct weight_cmd_multi *multi, size_t n_multi,
                         int *new_argc, char ***new_argv)
{
    char **kept = qs_calloc((size_t)argc + 1, sizeof(char *));
    int n = 0;
    int options_done = 0;

    for (int i = 0; i < argc; i++) {
        const char *value = NULL;
        struct weight_cmd_multi *m = NULL;

        if (i > 0 && !options_done && strcmp(argv[i], "--") == 0)
            options_done = 1;
        if (i > 0 && !options_done)
            m = multi_match(multi, n_multi, argv[i], &value);
        if (!m) {
            kept[n++] = argv[i];
            continue;
        }
        if (!value && i + 1 < argc)
            value = argv[++i];
        if (!value || m->count == WEIGHT_CMD_MAX_VALUES) {
            fprintf(stderr, "qscope: %s: %s '--%s' (see 'qscope %s --help')\n", command,
                    value ? "too many values for" : "missing value for", m->name, command);
            free(kept);
            return qs_status_exit_code(QS_USAGE);
        }
        m->values[m->count++] = value;
    }
    *new_argc = n;
    *new_argv = kept;
    return 0;
}

enum qs_status
weight_cmd_open(const struct qs_cli *cli, const char *path, struct qs_diag *diag,
                struct weight_cmd_model *wm)
{
    struct qs_load_options options = { cli->keep_going };
    enum qs_status status;

    memset(wm, 0, sizeof(*wm));
    wm->path = path;
    status = qs_model_load(path, &options, diag, &wm->model);
    if (status != QS_OK)
        return status;
    status = qs_layers_build(wm->model, cli->keep_going, diag, &wm->layers);
    if (status != QS_OK)
        return status;
    return diag->worst;
}

void
weight_cmd_close(struct weight_cmd_model *wm)
{
    qs_layers_free(wm->layers);
    qs_model_free(wm->model);
    memset(wm, 0, sizeof(*wm));
}

static int
select_pattern(const struct qs_cli *cli, const struct qs_layers *layers, const char *pattern,
               int all, unsigned char *selected)
{
    const struct qs_layer *named = NULL;
    size_t matched = 0;

    if (qs_layer_pattern_is_literal(pattern))
        named = qs_layers_find(layers, pattern);
    if (named) {
        if (!named->quantizable && !all)
            return qs_cli_usage_error(cli, "layer '%s' is not quantizable: %s", named->key,
                                      named->not_quantizable ? named->not_quantizable
                                                             : "no weight use");
        selected[named->index] = 1;
        return 0;
    }
    for (size_t i = 0; i < layers->count; i++) {
        if (!qs_layer_matches(&layers->items[i], pattern))
            continue;
        if (layers->items[i].quantizable || all) {
            selected[i] = 1;
            matched++;
        }
    }
    if (matched == 0)
        return qs_cli_usage_error(cli, "no %slayer matches '%s'", all ? "" : "quantizable ",
                                  pattern);
    return 0;
}

int
weight_cmd_select(const struct qs_cli *cli, const struct qs_layers *layers,
                  const struct weight_cmd_multi *multi, int all, unsigned char *selected)
{
    memset(selected, 0, layers->count);
    if (!multi || multi->count == 0) {
        for (size_t i = 0; i < layers->count; i++)
            selected[i] = all || layers->items[i].quantizable;
        return 0;
    }
    for (size_t p = 0; p < multi->count; p++) {
        int rc = select_pattern(cli, layers, multi->values[p], all, selected);

        if (rc)
            return rc;
    }
    return 0;
}

static void
progress_draw(const struct weight_cmd_progress *progress)
{
    size_t filled = progress->total ? progress->done * PROGRESS_WIDTH / progress->total : 0;
    char bar[PROGRESS_WIDTH + 1];

    for (size_t i = 0; i < PROGRESS_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[PROGRESS_WIDTH] = '\0';
    fprintf(stderr, "\r%s [%s] %zu/%zu", progress->what, bar, progress->done, progress->total);
    fflush(stderr);
}

void
weight_cmd_progress_begin(struct weight_cmd_progress *progress, const char *what, size_t total)
{
    progress->enabled = isatty(STDERR_FILENO) && total > 1;
    progress->total = total;
    progress->done = 0;
    progress->what = what;
    if (progress->enabled)
        progress_draw(progress);
}

void
weight_cmd_progress_step(struct weight_cmd_progress *progress)
{
    progress->done++;
    if (progress->enabled)
        progress_draw(progress);
}

void
weight_cmd_progress_end(struct weight_cmd_progress *progress)
{
    if (progress->enabled)
        fputs("\r\033[K", stderr);
    progress->enabled = 0;
}

int
weight_cmd_parse_long(const struct qs_cli *cli, const char *option, const char *text,
                      long min, long max, long *out)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return qs_cli_usage_error(cli, "invalid value '%s' for --%s (expected a whole number "
                                  "from %ld to %ld)", text, option, min, max);
    *out = value;
    return 0;
}

int
weight_cmd_set_sqnr(struct qs_table *table, size_t column, double sqnr_db)
{
    if (isnan(sqnr_db) || sqnr_db == -INFINITY)
        return 0;
    qs_table_set_float(table, column, sqnr_db);
    return 1;
}

void
weight_cmd_json_set_sqnr(json_t *object, const char *key, const char *flag, double sqnr_db)
{
    qs_json_set_number(object, key, sqnr_db, NULL);
    json_object_set_new(object, flag, json_boolean(sqnr_db == INFINITY));
}

enum qs_status
weight_cmd_check_target(const char *path, int force, const char *const *inputs,
                        size_t n_inputs, struct qs_diag *diag)
{
    struct stat out, in;

    if (strcmp(path, "-") == 0)
        return QS_OK;
    for (size_t i = 0; i < n_inputs && stat(path, &out) == 0; i++) {
        if (inputs[i] && stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev
            && in.st_ino == out.st_ino)
            return qs_diag_add(diag, QS_OUTPUT, path, "is the input '%s' of this "
                               "command, so it is not replaced; write to another file",
                               inputs[i]);
    }
    return qs_atomic_check(path, force, diag);
}

enum qs_status
weight_cmd_check_output(const struct qs_cli *cli, const char *const *inputs, size_t n_inputs,
                        struct qs_diag *diag)
{
    if (!cli->output)
        return QS_OK;
    return weight_cmd_check_target(cli->output, cli->force, inputs, n_inputs, diag);
}
