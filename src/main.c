/*
 * qscope entry point: picks the command named by the first argument, or
 * opens the model (or folder) given without a command.
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "actions.h"
#include "cli.h"
#include "commands.h"
#include "status.h"
#include "tui_entry.h"

const struct qs_command qs_commands[] = {
#define QS_COMMAND_ENTRY(name, usage, summary) { #name, usage, summary, qs_cmd_##name },
    QS_COMMAND_LIST(QS_COMMAND_ENTRY)
#undef QS_COMMAND_ENTRY
    { NULL, NULL, NULL, NULL }
};

const struct qs_command *
qs_command_find(const char *name)
{
    for (const struct qs_command *command = qs_commands; command->name; command++)
        if (strcmp(command->name, name) == 0)
            return command;
    return NULL;
}

static void
print_help(void)
{
    size_t width = 0;

    printf("usage: qscope [OPTIONS] MODEL|DIR\n"
           "       qscope COMMAND [OPTIONS] ARGUMENTS\n"
           "       qscope --help | --version\n"
           "\n"
           "See where quantization hurts an ONNX model.  Without a command, open the\n"
           "model (or the folder of models) for browsing.\n"
           "\n"
           "commands:\n");
    for (const struct qs_command *command = qs_commands; command->name; command++)
        if (strlen(command->name) > width)
            width = strlen(command->name);
    for (const struct qs_command *command = qs_commands; command->name; command++) {
        printf("  %-*s  ", (int)width, command->name);
        qs_cli_help_wrap(command->summary, (int)width + 4, (int)width + 4);
    }
    printf("\n"
           "Run 'qscope COMMAND --help' for the options of one command.\n"
           "Exit status: 0 success, 1 invalid input, 2 usage error, 3 output not\n"
           "written, 4 check failed, 5 unsupported.\n");
}

/* True when "arg" looks like a mistyped command rather than a path. */
static int
looks_like_command(const char *arg)
{
    struct stat st;

    return arg[0] != '-' && !strchr(arg, '/') && !strchr(arg, '.') && stat(arg, &st) != 0;
}

/* `qscope [OPTIONS] MODEL|DIR`: the browser, which parses its own options. */
static int
open_model(int argc, char **argv)
{
    return qs_tui_main(argc, argv);
}

int
main(int argc, char **argv)
{
    const struct qs_command *command;

    /* The user's locale for characters (the TUI draws UTF-8), but numbers
     * are always printed and read with '.' as the decimal point. */
    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C");

    if (argc < 2) {
        fprintf(stderr, "qscope: missing MODEL or COMMAND (see 'qscope --help')\n");
        return qs_status_exit_code(QS_USAGE);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help();
        return fflush(stdout) == 0 ? 0 : qs_status_exit_code(QS_OUTPUT);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return fflush(stdout) == 0 ? 0 : qs_status_exit_code(QS_OUTPUT);
    }

    /* The key table as roff, for the man page (make update-docs). */
    if (strcmp(argv[1], "--list-keys") == 0)
        return qs_action_write_roff(stdout) == 0 ? 0 : qs_status_exit_code(QS_OUTPUT);

    command = qs_command_find(argv[1]);
    if (command)
        return command->run(command, argc - 1, argv + 1);
    if (looks_like_command(argv[1])) {
        fprintf(stderr, "qscope: unknown command '%s' (see 'qscope --help')\n", argv[1]);
        return qs_status_exit_code(QS_USAGE);
    }
    return open_model(argc, argv);
}
