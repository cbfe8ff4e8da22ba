/*
 * The list of qscope's commands.  It is the one place a command is
 * registered: the dispatcher in main.c, `qscope --help` and each
 * command's --help are generated from it.
 *
 * To add a command NAME: add one line to QS_COMMAND_LIST below, write
 * src/cmd_NAME.c defining
 *     int qs_cmd_NAME(const struct qs_command *command, int argc, char **argv)
 * Its argv[0] is the command name.  It parses the rest with qs_cli_parse
 * (or qs_cli_run) and returns the exit status.  Then list the file in
 * src/commands.am.
 */
#ifndef QS_COMMANDS_H
#define QS_COMMANDS_H

/* _(NAME, USAGE after "qscope ", one-line SUMMARY), in the order `qscope --help` lists them. */
#define QS_COMMAND_LIST(_) \
    _(info, "info [OPTIONS] MODEL", \
      "show format versions, inputs, outputs, node counts, constants, weights and metadata") \
    _(ops, "ops [--sort=count|name] [--subgraphs] [OPTIONS] MODEL|DIR...", \
      "count op types in one model or in every .onnx file under folders") \
    _(graph, "graph [OPTIONS] MODEL", \
      "list nodes in graph order with their inputs, outputs and subgraphs") \
    _(stats, "stats [--layer KEY|PATTERN]... [--bins N] [OPTIONS] MODEL", \
      "weight statistics per layer, or per channel with a histogram for one layer") \
    _(quant, "quant [--config CONFIG] [--layer KEY|PATTERN]... [--plan PLAN] [OPTIONS] MODEL", \
      "error and size of one trial configuration on every layer, with the model total") \
    _(compare, "compare [--bits 8,4] [--group-size N] [OPTIONS] MODEL", \
      "per-tensor, per-channel and per-group scales side by side for each layer") \
    _(plan, \
      "plan (--auto BUDGET|--set PATTERN=CONFIG...|--from PLAN|--check PLAN) [OPTIONS] MODEL", \
      "make a mixed-precision plan within a budget, or check one against its model") \
    _(calibrate, "calibrate (INPUTS) [-o FILE.qstats] [OPTIONS] MODEL", \
      "run the model on samples and save activation statistics for calibration") \
    _(eval, "eval --plan PLAN (INPUTS) [--trace] [--act CONFIG [--qstats FILE]] [OPTIONS] MODEL", \
      "end-to-end error of a plan: outputs of the float and the quantized model compared") \
    _(sensitivity, "sensitivity (INPUTS) [--config CONFIG] [--layer PATTERN]... [OPTIONS] MODEL", \
      "quantize one layer at a time and rank the layers by the output error each causes")

struct qs_command {
    const char *name;
    const char *usage;           /* after "qscope " */
    const char *summary;
    int (*run)(const struct qs_command *command, int argc, char **argv);
};

#define QS_COMMAND_DECLARE(name, usage, summary) \
    int qs_cmd_##name(const struct qs_command *command, int argc, char **argv);
QS_COMMAND_LIST(QS_COMMAND_DECLARE)
#undef QS_COMMAND_DECLARE

/* Every command, in list order, then an entry whose name is NULL. */
extern const struct qs_command qs_commands[];

/* The command called "name", or NULL. */
const struct qs_command *qs_command_find(const char *name);

struct qs_cli;

/*
 * The work of `info` and `ops` on already parsed options, for callers
 * that have a struct qs_cli of their own (`qscope MODEL` before the TUI
 * exists).  "cli->args" contains the model (info) or the models and folders
 * (ops).  Return the exit status.
 */
int qs_info_run(const struct qs_cli *cli);
int qs_ops_run(const struct qs_cli *cli);

#endif
