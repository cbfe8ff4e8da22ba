/*
 * Option parsing shared by every command, and the steps every command
 * ends with: writing its output (to standard output or atomically to
 * -o FILE) and turning its problems into messages and an exit status.
 *
 * Syntax: options and arguments may come in any order; long options take
 * their value as "--name=VALUE" or "--name VALUE", short ones as "-o FILE"
 * or "-oFILE"; "--" ends the options.  A later option overrides an
 * earlier one.
 *
 * Every command accepts --help, --threads N, --keep-going and --strict;
 * the groups below are accepted where the command's spec says so.
 */
#ifndef QS_CLI_H
#define QS_CLI_H

#include <stddef.h>

#include "atomic_file.h"
#include "commands.h"
#include "model.h"
#include "output.h"
#include "status.h"

/* Option groups a command may accept on top of the ones every command takes. */
enum qs_cli_accepts {
    QS_CLI_FORMAT  = 1 << 0,     /* --format text|json|csv, --json, --csv */
    QS_CLI_OUTPUT  = 1 << 1,     /* -o/--output FILE and --force */
    QS_CLI_OUT_DIR = 1 << 2      /* --out-dir DIR and --force */
};

/* Largest --threads value accepted. */
#define QS_CLI_MAX_THREADS 1024

/* Most command-specific options one command may declare. */
#define QS_CLI_MAX_OPTIONS 16

/* A command-specific option. */
struct qs_cli_option {
    const char *name;            /* long name without the dashes */
    char short_name;             /* one-letter form, or 0 */
    const char *value_name;      /* its value in help ("N", "count|name"); NULL for a flag */
    const char *help;            /* one line for --help */
};

/* What one command accepts. */
struct qs_cli_spec {
    unsigned accepts;            /* enum qs_cli_accepts bits */
    const struct qs_cli_option *options;
    size_t n_options;            /* at most QS_CLI_MAX_OPTIONS */
    int min_args;                /* positional arguments required */
    int max_args;                /* -1 for no limit */
};

/* The parsed command line of one command. */
struct qs_cli {
    const char *command;         /* name used in messages ("info"), never NULL */
    enum qs_format format;
    int threads;                 /* >= 1; default: the online cores */
    int keep_going;
    int strict;
    int force;
    const char *output;          /* -o FILE, or NULL for standard output */
    const char *out_dir;         /* --out-dir DIR, or NULL */
    /* Per spec option: its value ("" for a flag), or NULL when absent. */
    const char *values[QS_CLI_MAX_OPTIONS];
    int n_args;
    char **args;                 /* positional arguments (array owned, strings from argv) */
    int help_shown;              /* --help was given and the help printed: exit 0 */
};

/* Fill "cli" with the defaults for command name "command" and no arguments. */
void qs_cli_init(struct qs_cli *cli, const char *command);

/* Free what qs_cli_parse allocated. */
void qs_cli_done(struct qs_cli *cli);

/*
 * Parse "argc" entries of "argv" (argv[0] is the command name, skipped)
 * for "command" (NULL for `qscope MODEL`) as "spec" allows.  With --help,
 * print the command's help to standard output, set "help_shown" and
 * return QS_OK.  A usage error prints one line to stderr and returns
 * QS_USAGE.  "cli" needs qs_cli_done either way.
 */
enum qs_status qs_cli_parse(struct qs_cli *cli, const struct qs_command *command,
                            const struct qs_cli_spec *spec, int argc, char **argv);

/*
 * The whole of a simple command: parse "argv" as "spec" allows, then call
 * "run" unless --help was given.  Returns the exit status.
 */
int qs_cli_run(const struct qs_command *command, const struct qs_cli_spec *spec,
               int argc, char **argv, int (*run)(const struct qs_cli *cli));

/* qs_model_load with the load options of "cli" (--keep-going). */
enum qs_status qs_cli_load_model(const struct qs_cli *cli, const char *path,
                                 struct qs_diag *diag, struct qs_model **out);

/* Help text stays within this many columns, to fit an 80-column terminal. */
#define QS_CLI_HELP_WIDTH 79

/*
 * Print "text" to standard output from "column" (where the cursor is),
 * breaking lines at blanks before QS_CLI_HELP_WIDTH.  Continuation lines
 * start at column "indent".  A word longer than a line is printed whole.
 * Ends with a newline.
 */
void qs_cli_help_wrap(const char *text, int column, int indent);

/* Print "qscope: COMMAND: MESSAGE" and a pointer to --help to stderr; returns exit status 2. */
int qs_cli_usage_error(const struct qs_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Where a command writes its output. */
struct qs_cli_sink {
    FILE *fp;                    /* standard output or the temporary file */
    struct qs_atomic_file file;  /* used when "cli->output" is set */
    int to_file;
};

/*
 * Open the command's output: standard output, or the temporary file of
 * "cli->output" (QS_OUTPUT with a line in "diag" when it exists and
 * --force is not given).
 */
enum qs_status qs_cli_output_begin(const struct qs_cli *cli, struct qs_cli_sink *sink,
                                   struct qs_diag *diag);

/*
 * Finish the output: when "keep" is set, commit the file (or flush
 * standard output), else discard the temporary file.  Returns QS_OUTPUT
 * with a line in "diag" when writing failed.
 */
enum qs_status qs_cli_output_end(struct qs_cli_sink *sink, int keep, struct qs_diag *diag);

/*
 * Print the problems in "diag" ("file" names the subject of the summary
 * line when lines were dropped) and return the exit status of its worst
 * status; with --strict, warnings make it at least 1.
 */
int qs_cli_finish(const struct qs_cli *cli, const struct qs_diag *diag, const char *file);

#endif
