/*
 * Shared steps of the weight analysis commands (stats, quant, compare,
 * plan): repeatable options, opening a model with its layers, choosing
 * layers by pattern, and a progress bar.
 */
#ifndef QS_WEIGHT_CMD_H
#define QS_WEIGHT_CMD_H

#include <stddef.h>

#include "cli.h"
#include "layers.h"
#include "model.h"
#include "output.h"
#include "status.h"

/* Most values one repeatable option collects. */
#define WEIGHT_CMD_MAX_VALUES 256

/* The values of one repeatable option, in command-line order. */
struct weight_cmd_multi {
    const char *name;            /* long name without the dashes */
    const char *values[WEIGHT_CMD_MAX_VALUES];
    size_t count;
};

/*
 * Take every "--NAME VALUE" and "--NAME=VALUE" of the options in "multi"
 * (an array of "n_multi") out of "argc"/"argv", before qs_cli_parse,
 * which keeps only the last value of an option.  "*new_argv" (caller
 * frees) and "*new_argc" hold the rest.  Arguments after "--" are left
 * alone.  Returns 0, or prints a usage error and returns 2.
 *
 * NOTE: qs_cli_parse keeps one value per option, so these options are
 * collected here; the spec still lists them for --help.
 */
int weight_cmd_take_repeated(const char *command, int argc, char **argv,
                             struct weight_cmd_multi *multi, size_t n_multi,
                             int *new_argc, char ***new_argv);

/* A model and its layers, opened for one command. */
struct weight_cmd_model {
    const char *path;
    struct qs_model *model;
    struct qs_layers *layers;
};

/*
 * Load the model at "path" and find its layers, with --keep-going from
 * "cli".  Returns QS_OK, or the status of the problems (in "diag") that
 * stop the command.
 */
enum qs_status weight_cmd_open(const struct qs_cli *cli, const char *path,
                               struct qs_diag *diag, struct weight_cmd_model *wm);

/* Free what weight_cmd_open made.  Safe on a zeroed struct. */
void weight_cmd_close(struct weight_cmd_model *wm);

/*
 * Mark in "selected" (one byte per layer) the layers that the patterns
 * in "multi" choose (every layer when "multi" is empty) and that are
 * quantizable unless "all" is set.  A pattern that matches no layer is a
 * usage error (returns 2 after printing it); a literal key naming a layer
 * that is not quantizable is one too, unless "all" is set.  Returns 0.
 */
int weight_cmd_select(const struct qs_cli *cli, const struct qs_layers *layers,
                      const struct weight_cmd_multi *multi, int all, unsigned char *selected);

/* A progress bar on stderr, drawn only when stderr is a terminal. */
struct weight_cmd_progress {
    int enabled;
    size_t total;
    size_t done;
    const char *what;
};

void weight_cmd_progress_begin(struct weight_cmd_progress *progress, const char *what,
                               size_t total);
void weight_cmd_progress_step(struct weight_cmd_progress *progress);
/* Erase the bar. */
void weight_cmd_progress_end(struct weight_cmd_progress *progress);

/*
 * Check the file "path" a command is about to write, with "force" from
 * --force, as weight_cmd_check_output does.  "-" passes.
 */
enum qs_status weight_cmd_check_target(const char *path, int force, const char *const *inputs,
                                       size_t n_inputs, struct qs_diag *diag);

/*
 * Check the --output file of "cli" before the work: QS_OUTPUT with a line
 * in "diag" when it exists without --force (see qs_atomic_check), or
 * when it is one of the "n_inputs" files in "inputs" (NULL entries are
 * skipped), which --force must not replace either.  "-" and no --output
 * pass.
 */
enum qs_status weight_cmd_check_output(const struct qs_cli *cli, const char *const *inputs,
                                       size_t n_inputs, struct qs_diag *diag);

/*
 * Set an SQNR cell to "sqnr_db" when it is finite or +inf (an exact
 * result).  -inf (an infinite error: a value overflowed the format) and
 * NaN leave the cell empty, so that the JSON flag beside the column,
 * which says "exact", is never true for them.  Returns 1 when the cell
 * was set.
 */
int weight_cmd_set_sqnr(struct qs_table *table, size_t column, double sqnr_db);

/*
 * The same for a JSON object: set "key" to "sqnr_db" (null when it is
 * not finite) and "flag" to true only for +inf, an exact result.  -inf
 * and NaN give null with "flag" false.
 */
void weight_cmd_json_set_sqnr(json_t *object, const char *key, const char *flag,
                              double sqnr_db);

/*
 * Parse a whole number from "text" into "*out" within [min, max].
 * Returns 0, or prints a usage error naming "option" and returns 2.
 */
int weight_cmd_parse_long(const struct qs_cli *cli, const char *option, const char *text,
                          long min, long max, long *out);

#endif
