/*
 * Command-line option parsing, per-command help, and the output and exit
 * steps shared by the commands.
 */
#include "config.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Options every command takes belong to no group. */
#define GROUP_ALWAYS 0u

enum common_id {
    OPT_FORMAT,
    OPT_JSON,
    OPT_CSV,
    OPT_OUTPUT,
    OPT_OUT_DIR,
    OPT_FORCE,
    OPT_THREADS,
    OPT_KEEP_GOING,
    OPT_STRICT,
    OPT_HELP
};

struct common_option {
    struct qs_cli_option option;
    unsigned groups;             /* accepted when the spec accepts any of these; 0: always */
    enum common_id id;
};

static const struct common_option common_options[] = {
    { { "format", 0, "text|json|csv", "output format (default: text)" },
      QS_CLI_FORMAT, OPT_FORMAT },
    { { "json", 0, NULL, "same as --format=json" }, QS_CLI_FORMAT, OPT_JSON },
    { { "csv", 0, NULL, "same as --format=csv" }, QS_CLI_FORMAT, OPT_CSV },
    { { "output", 'o', "FILE", "write the output to FILE instead of standard output" },
      QS_CLI_OUTPUT, OPT_OUTPUT },
    { { "out-dir", 0, "DIR", "write plots and other files into DIR" },
      QS_CLI_OUT_DIR, OPT_OUT_DIR },
    { { "force", 0, NULL, "replace output files that already exist" },
      QS_CLI_OUTPUT | QS_CLI_OUT_DIR, OPT_FORCE },
    { { "threads", 0, "N", "worker threads, 1 to 1024 (default: every online core)" },
      GROUP_ALWAYS, OPT_THREADS },
    { { "keep-going", 0, NULL, "go on without tensors whose data is unusable (default: fail)" },
      GROUP_ALWAYS, OPT_KEEP_GOING },
    { { "strict", 0, NULL, "treat warnings as errors (exit status 1)" },
      GROUP_ALWAYS, OPT_STRICT },
    { { "help", 'h', NULL, "show this help and exit" }, GROUP_ALWAYS, OPT_HELP },
};

#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

static int
online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > QS_CLI_MAX_THREADS ? QS_CLI_MAX_THREADS : (int)n;
}

void
qs_cli_init(struct qs_cli *cli, const char *command)
{
    memset(cli, 0, sizeof(*cli));
    cli->command = command ? command : "";
    cli->format = QS_FORMAT_TEXT;
    cli->threads = online_cores();
}

void
qs_cli_done(struct qs_cli *cli)
{
    free(cli->args);
    cli->args = NULL;
    cli->n_args = 0;
}

int
qs_cli_usage_error(const struct qs_cli *cli, const char *fmt, ...)
{
    va_list ap;

    fputs("qscope: ", stderr);
    if (*cli->command)
        fprintf(stderr, "%s: ", cli->command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'qscope %s%s--help')\n", cli->command, *cli->command ? " " : "");
    return qs_status_exit_code(QS_USAGE);
}

/* ---- help ------------------------------------------------------------- */

/* Column where the help text of an option starts. */
#define HELP_TEXT_COLUMN 30

void
qs_cli_help_wrap(const char *text, int column, int indent)
{
    int start = column;

    for (const char *p = text; *p;) {
        int word = (int)strcspn(p, " ");

        if (column > start && column + 1 + word > QS_CLI_HELP_WIDTH) {
            printf("\n%*s", indent, "");
            column = start = indent;
        } else if (column > start) {
            putchar(' ');
            column++;
        }
        printf("%.*s", word, p);
        column += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    putchar('\n');
}

static void
help_option(const struct qs_cli_option *option)
{
    char left[64];

    if (option->short_name)
        snprintf(left, sizeof(left), "-%c, --%s%s%s", option->short_name, option->name,
                 option->value_name ? "=" : "", option->value_name ? option->value_name : "");
    else
        snprintf(left, sizeof(left), "    --%s%s%s", option->name,
                 option->value_name ? "=" : "", option->value_name ? option->value_name : "");
    if (strlen(left) > HELP_TEXT_COLUMN - 4)
        printf("  %s\n%*s", left, HELP_TEXT_COLUMN, "");
    else
        printf("  %-*s  ", HELP_TEXT_COLUMN - 4, left);
    qs_cli_help_wrap(option->help, HELP_TEXT_COLUMN, HELP_TEXT_COLUMN);
}

static void
help_print(const struct qs_command *command, const struct qs_cli_spec *spec)
{
    static const char usage[] = "usage: qscope ";
    char *summary;

    if (command) {
        fputs(usage, stdout);
        qs_cli_help_wrap(command->usage, (int)strlen(usage), (int)strlen(usage));
        summary = qs_asprintf("%c%s.", toupper((unsigned char)command->summary[0]),
                              command->summary + 1);
        putchar('\n');
        qs_cli_help_wrap(summary, 0, 0);
        free(summary);
    } else {
        printf("usage: qscope [OPTIONS] MODEL|DIR\n\n"
               "Open the model, or the folder of models, for browsing.\n");
    }

    printf("\noptions:\n");
    for (size_t i = 0; i < spec->n_options; i++)
        help_option(&spec->options[i]);
    for (size_t i = 0; i < N_COMMON; i++)
        if (common_options[i].groups == GROUP_ALWAYS || (common_options[i].groups & spec->accepts))
            help_option(&common_options[i].option);
}

/* ---- parsing ---------------------------------------------------------- */

/* One option occurrence being parsed. */
struct option_match {
    const struct qs_cli_option *option;
    int spec_index;              /* index in the spec, or -1 for a common option */
    enum common_id id;
    char text[64];               /* the option as the user wrote it, for messages */
};

static int
option_is(const struct qs_cli_option *option, const char *name, size_t len, char short_name)
{
    if (short_name)
        return option->short_name == short_name;
    return strlen(option->name) == len && memcmp(option->name, name, len) == 0;
}

/* Find the option "name" ("len" bytes) or the short option "short_name". */
static int
option_find(const struct qs_cli_spec *spec, const char *name, size_t len, char short_name,
            struct option_match *match)
{
    for (size_t i = 0; i < spec->n_options; i++) {
        if (option_is(&spec->options[i], name, len, short_name)) {
            match->option = &spec->options[i];
            match->spec_index = (int)i;
            return 1;
        }
    }
    for (size_t i = 0; i < N_COMMON; i++) {
        const struct common_option *common = &common_options[i];

        if (common->groups != GROUP_ALWAYS && !(common->groups & spec->accepts))
            continue;
        if (option_is(&common->option, name, len, short_name)) {
            match->option = &common->option;
            match->spec_index = -1;
            match->id = common->id;
            return 1;
        }
    }
    return 0;
}

static enum qs_status
parse_threads(struct qs_cli *cli, const char *value)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < 1 || n > QS_CLI_MAX_THREADS) {
        qs_cli_usage_error(cli, "invalid value '%s' for --threads (expected a whole number "
                           "from 1 to %d)", value, QS_CLI_MAX_THREADS);
        return QS_USAGE;
    }
    cli->threads = (int)n;
    return QS_OK;
}

static enum qs_status
parse_format(struct qs_cli *cli, const char *value)
{
    if (strcmp(value, "text") == 0)
        cli->format = QS_FORMAT_TEXT;
    else if (strcmp(value, "json") == 0)
        cli->format = QS_FORMAT_JSON;
    else if (strcmp(value, "csv") == 0)
        cli->format = QS_FORMAT_CSV;
    else {
        qs_cli_usage_error(cli, "invalid value '%s' for --format (expected text, json or csv)",
                           value);
        return QS_USAGE;
    }
    return QS_OK;
}

/* A file or folder name: an empty one would name nothing and fail late and obscurely. */
static enum qs_status
parse_path(struct qs_cli *cli, const char *option, const char *value, const char **out)
{
    if (!*value) {
        qs_cli_usage_error(cli, "invalid empty value for %s (expected a path)", option);
        return QS_USAGE;
    }
    *out = value;
    return QS_OK;
}

/* Store one common option; "value" is NULL for flags. */
static enum qs_status
apply_common(struct qs_cli *cli, enum common_id id, const char *value)
{
    switch (id) {
    case OPT_FORMAT:     return parse_format(cli, value);
    case OPT_JSON:       cli->format = QS_FORMAT_JSON; break;
    case OPT_CSV:        cli->format = QS_FORMAT_CSV; break;
    case OPT_OUTPUT:     return parse_path(cli, "--output", value, &cli->output);
    case OPT_OUT_DIR:    return parse_path(cli, "--out-dir", value, &cli->out_dir);
    case OPT_FORCE:      cli->force = 1; break;
    case OPT_THREADS:    return parse_threads(cli, value);
    case OPT_KEEP_GOING: cli->keep_going = 1; break;
    case OPT_STRICT:     cli->strict = 1; break;
    case OPT_HELP:       cli->help_shown = 1; break;
    }
    return QS_OK;
}

/*
 * Parse the option at argv[*i] (which starts with '-'), taking its value
 * from the next entry when needed (advancing *i).
 */
static enum qs_status
parse_option(struct qs_cli *cli, const struct qs_cli_spec *spec, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    int is_long = arg[1] == '-';
    const char *name = arg + (is_long ? 2 : 1);
    const char *inline_value = is_long ? strchr(name, '=') : (name[1] ? name + 1 : NULL);
    size_t len = is_long && inline_value ? (size_t)(inline_value - name) : strlen(name);
    struct option_match match = { 0 };
    const char *value = NULL;

    if (is_long && inline_value)
        inline_value++;
    snprintf(match.text, sizeof(match.text), "%s%.*s", is_long ? "--" : "-", (int)len, name);
    if (!option_find(spec, name, is_long ? len : 1, is_long ? 0 : name[0], &match)) {
        qs_cli_usage_error(cli, "unknown option '%s'", is_long ? match.text : arg);
        return QS_USAGE;
    }

    if (match.option->value_name) {
        value = inline_value;
        if (!value && *i + 1 < argc)
            value = argv[++*i];
        if (!value) {
            qs_cli_usage_error(cli, "option '%s' needs a value (%s)", match.text,
                               match.option->value_name);
            return QS_USAGE;
        }
    } else if (inline_value) {
        qs_cli_usage_error(cli, "option '%s' takes no value", is_long ? match.text : arg);
        return QS_USAGE;
    }

    if (match.spec_index >= 0) {
        cli->values[match.spec_index] = value ? value : "";
        return QS_OK;
    }
    return apply_common(cli, match.id, value);
}

static enum qs_status
check_arg_count(struct qs_cli *cli, const struct qs_cli_spec *spec,
                const struct qs_command *command)
{
    const char *usage = command ? command->usage : "MODEL|DIR";
    const char *placeholder = strrchr(usage, ' ') ? strrchr(usage, ' ') + 1 : usage;

    if (cli->n_args < spec->min_args) {
        qs_cli_usage_error(cli, "missing %s", placeholder);
        return QS_USAGE;
    }
    if (spec->max_args >= 0 && cli->n_args > spec->max_args) {
        qs_cli_usage_error(cli, "unexpected argument '%s' (expected %s)",
                           cli->args[spec->max_args], placeholder);
        return QS_USAGE;
    }
    return QS_OK;
}

enum qs_status
qs_cli_parse(struct qs_cli *cli, const struct qs_command *command,
             const struct qs_cli_spec *spec, int argc, char **argv)
{
    int options_done = 0;

    qs_cli_init(cli, command ? command->name : NULL);
    cli->args = qs_calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            cli->args[cli->n_args++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (parse_option(cli, spec, argc, argv, &i) != QS_OK) {
            return QS_USAGE;
        }
    }

    if (cli->help_shown) {
        help_print(command, spec);
        return QS_OK;
    }
    return check_arg_count(cli, spec, command);
}

int
qs_cli_run(const struct qs_command *command, const struct qs_cli_spec *spec,
           int argc, char **argv, int (*run)(const struct qs_cli *cli))
{
    struct qs_cli cli;
    int exit_code;

    if (qs_cli_parse(&cli, command, spec, argc, argv) != QS_OK)
        exit_code = qs_status_exit_code(QS_USAGE);
    else
        exit_code = cli.help_shown ? 0 : run(&cli);
    qs_cli_done(&cli);
    return exit_code;
}

enum qs_status
qs_cli_load_model(const struct qs_cli *cli, const char *path, struct qs_diag *diag,
                  struct qs_model **out)
{
    struct qs_load_options opts = { .keep_going = cli->keep_going };

    return qs_model_load(path, &opts, diag, out);
}

/* ---- output and exit -------------------------------------------------- */

enum qs_status
qs_cli_output_begin(const struct qs_cli *cli, struct qs_cli_sink *sink, struct qs_diag *diag)
{
    enum qs_status status;

    memset(sink, 0, sizeof(*sink));
    sink->fp = stdout;
    if (!cli->output || strcmp(cli->output, "-") == 0)
        return QS_OK;

    status = qs_atomic_open(&sink->file, cli->output, cli->force, diag);
    if (status != QS_OK)
        return status;
    sink->fp = sink->file.fp;
    sink->to_file = 1;
    return QS_OK;
}

enum qs_status
qs_cli_output_end(struct qs_cli_sink *sink, int keep, struct qs_diag *diag)
{
    if (sink->to_file) {
        sink->to_file = 0;
        if (!keep) {
            qs_atomic_abort(&sink->file);
            return QS_OK;
        }
        return qs_atomic_commit(&sink->file, diag);
    }

    if (fflush(stdout) != 0 || ferror(stdout))
        return qs_diag_add(diag, QS_OUTPUT, "standard output", "write failed: %s",
                           strerror(errno ? errno : EIO));
    return QS_OK;
}

int
qs_cli_finish(const struct qs_cli *cli, const struct qs_diag *diag, const char *file)
{
    enum qs_status status = diag->worst;

    qs_diag_print(diag, file ? file : cli->command);
    if (cli->strict && diag->warnings > 0)
        status = qs_status_worst(status, QS_INVALID);
    return qs_status_exit_code(status);
}
