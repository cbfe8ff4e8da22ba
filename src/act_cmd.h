/*
 * Steps shared by the commands that run the model (calibrate, eval,
 * sensitivity): the input options, opening the model with its layers and
 * an interpreter, reading the samples, and a progress bar.
 *
 * The checks come in this order, so that nothing runs on input that will
 * fail.  First the command line and the output file (exit 3), then the
 * model and its layers (exit 1).  Then every op the interpreter lacks is
 * named with its nodes (exit 5), and last every sample's element types
 * and shapes are checked (exit 1).
 */
#ifndef QS_ACT_CMD_H
#define QS_ACT_CMD_H

#include "cli.h"
#include "inputs.h"
#include "interp/interp.h"
#include "status.h"
#include "weight_cmd.h"

/* The input options; each activation command's option array starts with them. */
#define ACT_CMD_INPUT_OPTIONS \
    { "input", 0, "NAME=FILE", "tensor file (.npy or TensorProto .pb) for input NAME; " \
      "repeat per input and per sample" }, \
    { "data", 0, "DIR", "one sample per DIR/test_data_set_N folder of input_N.pb files" }, \
    { "random", 0, "N", "N generated samples" }, \
    { "seed", 0, "S", "seed of the generated samples (default: 0)" }, \
    { "dist", 0, "normal|uniform", "generated float values: normal (0, 1) or uniform in " \
      "[-1, 1) (default: normal)" }, \
    { "shape", 0, "NAME=D0xD1x...", "shape of a generated input with dynamic dims" }, \
    { "range", 0, "NAME=LO:HI", "value range of a generated input (integers need one)" }

/* Indices of those options in the spec; the command's own options follow. */
enum act_cmd_option {
    ACT_OPT_INPUT,
    ACT_OPT_DATA,
    ACT_OPT_RANDOM,
    ACT_OPT_SEED,
    ACT_OPT_DIST,
    ACT_OPT_SHAPE,
    ACT_OPT_RANGE,
    ACT_OPT_COUNT
};

/* The repeatable options, collected before the parser reads the rest. */
enum act_cmd_multi {
    ACT_MULTI_INPUT,
    ACT_MULTI_SHAPE,
    ACT_MULTI_RANGE,
    ACT_MULTI_LAYER,
    ACT_MULTI_COUNT
};

/* One activation command's state. */
struct act_cmd {
    struct qs_cli cli;
    struct weight_cmd_multi multi[ACT_MULTI_COUNT];
    char **rest;                 /* argv without the repeatable options */
    struct qs_diag diag;
    struct weight_cmd_model wm;
    struct qs_interp *interp;
    struct qs_input_set inputs;
    struct weight_cmd_progress progress;
};

/*
 * Parse the command line: collect the repeatable options (--layer only
 * when "with_layer" is set), then parse the rest as "spec" allows.
 * Returns -1 to go on, or the exit status (0 after --help, 2 for a usage
 * error).  "ac" needs act_cmd_done either way.
 */
int act_cmd_parse(struct act_cmd *ac, const struct qs_command *command,
                  const struct qs_cli_spec *spec, int with_layer, int argc, char **argv);

/*
 * Fill "spec" from the parsed input options (--input, --data, --random,
 * --seed, --dist, --shape, --range), checking the numbers and that --seed
 * and --dist come with --random.  "spec" borrows the strings of "ac".
 * Returns 0, or the usage exit status after saying what is wrong.
 */
int act_cmd_input_spec(const struct act_cmd *ac, struct qs_input_spec *spec);

/*
 * Load the model and its layers, create the interpreter (which names
 * every op it lacks) and read and check the samples.  Returns the status
 * that stops the command, with the problems in ac->diag.
 */
enum qs_status act_cmd_open(struct act_cmd *ac);

/*
 * Check the file "path" the command will write before anything runs:
 * QS_OUTPUT with a line in ac->diag when it exists without --force, or
 * when it is the model, an --input file or one of the "n_extra" files in
 * "extra" (NULL entries are skipped), which --force must not replace.
 */
enum qs_status act_cmd_check_output(struct act_cmd *ac, const char *path,
                                    const char *const *extra, size_t n_extra);

/* Describe where the samples came from ("--data DIR", "3 random samples"); caller frees. */
char *act_cmd_source(const struct act_cmd *ac);

/* Start, advance and erase the progress bar on stderr (drawn only on a terminal). */
void act_cmd_progress_begin(struct act_cmd *ac, const char *what, size_t total);
void act_cmd_progress_step(void *ac);
void act_cmd_progress_end(struct act_cmd *ac);

/*
 * Print the problems, free everything, and return the exit status: "rc"
 * when it is already an exit status other than -1 and 0, else the one
 * the problems give.
 */
int act_cmd_done(struct act_cmd *ac, int rc);

#endif
