/*
 * Input sets: the samples a command runs the interpreter on, read from
 * tensor files, from ONNX test-data folders, or generated from a seed.
 *
 * A sample holds one tensor per run input of the interpreter (the main
 * graph's inputs without an initializer, in graph order).  Three sources,
 * exactly one per command:
 *
 *   --input NAME=FILE   .npy or TensorProto (.pb) files; the k-th
 *                       occurrence of NAME belongs to sample k, so every
 *                       input must be given the same number of times
 *   --data DIR          each DIR/test_data_set_* folder is one sample, in
 *                       the numeric order of its suffix; input_N.pb is the
 *                       N-th run input.  A DIR that holds input_N.pb files
 *                       itself is one sample.
 *   --random N          N generated samples (see struct qs_input_spec)
 *
 * Every sample is checked against the declared inputs before anything
 * runs: element type, rank, fixed dims, and symbolic dims that must agree
 * across the inputs of one sample.
 */
#ifndef QS_INPUTS_H
#define QS_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "interp/interp.h"
#include "status.h"

/* Distribution of generated float values. */
enum qs_input_dist {
    QS_INPUT_NORMAL,             /* mean 0, standard deviation 1 */
    QS_INPUT_UNIFORM             /* uniform in [-1, 1) */
};

/*
 * What the command line asked for.  Strings are borrowed.  At most one of
 * "files", "data_dir" and "random" may be set; none is allowed only for a
 * model without run inputs (one empty sample).
 */
struct qs_input_spec {
    const char *const *files;    /* "NAME=FILE" entries, in command-line order */
    size_t n_files;
    const char *data_dir;
    long random;                 /* generated samples; 0 for none */
    uint64_t seed;
    enum qs_input_dist dist;
    /*
     * "NAME=D0xD1x..." shapes for generated inputs (empty after '=' for a
     * scalar); required where a dim is symbolic or unknown and no other
     * input's shape binds its name.
     */
    const char *const *shapes;
    size_t n_shapes;
    /*
     * "NAME=LO:HI" value ranges for generated inputs: integers uniform in
     * [LO, HI] (required for integer inputs other than bool, which
     * default to 0:1); for float inputs uniform in [LO, HI), replacing
     * the distribution.
     */
    const char *const *ranges;
    size_t n_ranges;
};

/* The samples of one command. */
struct qs_input_set {
    size_t n_inputs;             /* run inputs of the interpreter */
    size_t n_samples;
    struct qs_rt_tensor **tensors;   /* [sample * n_inputs + input], one reference each */
    char **labels;               /* per sample: its folder, file or "random #K" */
};

/*
 * Build "set" from "spec" for the run inputs of "interp".  A malformed
 * option value, an unknown input name or a missing source gives QS_USAGE;
 * an unreadable file or one whose tensor does not fit its input gives
 * QS_INVALID; each problem adds a line to "diag" naming the input (under
 * the file when there is one, else under "model_path").  The samples are
 * checked with qs_inputs_check before this returns.  "set" needs
 * qs_inputs_done whatever this returns.
 */
enum qs_status qs_inputs_load(const struct qs_interp *interp, const struct qs_input_spec *spec,
                              const char *model_path, struct qs_diag *diag,
                              struct qs_input_set *set);

/*
 * Check every sample of "set" against the declared run inputs of
 * "interp": element type, rank, fixed dims and the agreement of symbolic
 * dims within a sample.  Returns QS_OK, or QS_INVALID with one line per
 * fault in "diag" under "file".
 */
enum qs_status qs_inputs_check(const struct qs_interp *interp, const struct qs_input_set *set,
                               const char *file, struct qs_diag *diag);

/* Tensor of input "input" of sample "sample" (borrowed). */
struct qs_rt_tensor *qs_inputs_get(const struct qs_input_set *set, size_t sample, size_t input);

/* Drop every tensor and label.  Safe on a zeroed set and twice. */
void qs_inputs_done(struct qs_input_set *set);

/*
 * Parse "text" = "D0xD1x..." (an empty string is a scalar) into "dims"
 * (room for QS_RT_MAX_RANK) and "*rank".  Returns 0, or -1 for a
 * malformed shape or a dim outside [0, 2^40].
 */
int qs_inputs_parse_shape(const char *text, int64_t *dims, int *rank);

#endif
