/*
 * Activation calibration: statistics of every floating-point activation
 * collected while the interpreter runs, and the .qstats file that keeps
 * them (format described in qscope-qstats(5)).
 *
 * Per activation tensor: min, max, absmax, counts of zeros and of NaN and
 * Inf values (left out of every other figure), and a histogram of |x|
 * with QS_CALIB_BINS equal bins over [0, hist_hi].
 *
 * Histogram range across samples: the range starts at the absmax of the
 * first observation that has a nonzero value and doubles, merging bins
 * pairwise, whenever a later observation exceeds it.  Because the bin of
 * |x| is computed as floor(|x| * (BINS / hist_hi)) and halving that
 * product is exact in floating point, the merged histogram equals, bin
 * for bin, the histogram the final range would have given in one pass.
 * The values at the top of the range are counted one bin to the right
 * before clamping, so they move correctly when the range doubles.  The
 * final range is below twice the absmax, so at least half of the bins
 * (1024) cover [0, absmax]: eight times the 128 target bins of entropy
 * calibration.
 *
 * Per input of a quantizable layer (one entry per weight use: a layer
 * read by three MatMuls has three), the channel statistics along the
 * axis that layer reduces over: axis 1 for Conv and ConvTranspose, the
 * last axis for MatMul with a constant B, Gemm's K axis, the input axis
 * of LSTM, GRU and RNN.  Per channel: absmax, mean |x|, mean x^2 and the
 * count of finite values.
 *
 * Thread safety: a collector is fed by one run at a time.
 */
#ifndef QS_CALIB_H
#define QS_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "interp/interp.h"
#include "layers.h"
#include "model.h"
#include "sha256.h"
#include "status.h"

/* Histogram bins per tensor. */
#define QS_CALIB_BINS 2048

/* Version written in new files; readers refuse larger ones. */
#define QS_CALIB_VERSION 1

/* The "format" member of a .qstats file. */
#define QS_CALIB_FORMAT "qscope-qstats"

/* Statistics of one activation tensor. */
struct qs_calib_tensor {
    char *name;                  /* scoped value name (see qs_calib_scoped_name) */
    char *op;                    /* producing op ("Conv", "com.microsoft.Attention"), "input" */
    char *node;                  /* producing node's label, "" for a graph input */
    uint64_t observations;       /* tensors seen: samples times executions */
    uint64_t count;              /* finite values, the population of every figure below */
    uint64_t nonfinite;          /* NaN and Inf values, left out */
    uint64_t zeros;              /* values equal to 0 or -0 */
    double min;                  /* NaN while count is 0 */
    double max;
    double absmax;
    double hist_hi;              /* histogram range [0, hist_hi]; 0 while every value is 0 */
    uint64_t *hist;              /* QS_CALIB_BINS counts of |x|; they add up to "count" */
    uint64_t top_clamped;        /* private: values whose bin index was QS_CALIB_BINS */
};

/* Channel statistics of the activation one quantizable layer use reads. */
struct qs_calib_channels {
    char *layer;                 /* layer key */
    char *node;                  /* consumer node's label, scoped */
    char *op;                    /* consumer op */
    char *tensor;                /* scoped name of the activation */
    int input;                   /* index of the activation among the node's inputs */
    int axis;                    /* 0 or more from the front, negative from the end (-1: last) */
    uint64_t channels;           /* size of that axis; 0 until observed */
    uint64_t *count;             /* finite values per channel */
    double *absmax;              /* per channel; 0 for a channel without values */
    double *mean_abs;            /* mean |x| (sum |x| while collecting) */
    double *mean_sq;             /* mean x^2 (sum x^2 while collecting) */
    uint64_t mismatches;         /* observations skipped: the axis was missing or changed size */
};

struct qs_calib_private;

/* A calibration: from a collector, or read from a .qstats file. */
struct qs_calib {
    int version;
    char *model_file;            /* file name without folders */
    char sha256[QS_SHA256_HEX_LEN + 1];
    uint64_t model_bytes;
    uint64_t samples;            /* samples the statistics come from */
    char *source;                /* how the samples were given ("--data DIR"), or NULL */
    size_t n_tensors;            /* in the order of first observation (graph order) */
    struct qs_calib_tensor *tensors;
    size_t n_layer_inputs;       /* in layer order, then use order */
    struct qs_calib_channels *layer_inputs;
    struct qs_calib_private *priv;
};

/*
 * Scoped name of "value": its graph's scope followed by its name
 * ("loop_1/body/h"), as layer keys are formed.  The caller frees it.
 */
char *qs_calib_scoped_name(const struct qs_value *value);

/*
 * The activation a weight use reads together with the weight: store the
 * node input index of the activation and its channel axis (negative from
 * the end) and return 1, or return 0 when the use has no float
 * activation input (Gather indices, LSTM R, integer ops).
 */
int qs_calib_activation_input(const struct qs_layer_use *use, int *input, int *axis);

/*
 * Start an empty calibration for "model" (identity from its mapped file)
 * with one channel entry per weight use of each quantizable layer of
 * "layers" (may be NULL for none).  Free with qs_calib_done.
 */
void qs_calib_init(struct qs_calib *calib, const struct qs_model *model,
                   const struct qs_layers *layers);

/*
 * Add one observation of "value" with data "tensor".  The signature fits
 * struct qs_interp_hooks.observe with the calibration as "ctx".  Tensors
 * that are not float are ignored.  Graph inputs are not observed by the
 * interpreter: callers pass them here before each run.
 */
enum qs_status qs_calib_observe(void *ctx, const struct qs_value *value,
                                const struct qs_rt_tensor *tensor);

/*
 * Finish collecting: turn the channel sums into means, and add a warning
 * to "diag" (under "file") for each layer input whose observations were
 * skipped or which was never observed.
 */
void qs_calib_finish(struct qs_calib *calib, const char *file, struct qs_diag *diag);

/* The tensor named "name" (scoped), or NULL. */
const struct qs_calib_tensor *qs_calib_find(const struct qs_calib *calib, const char *name);

/* The calibration as a JSON document (new reference). */
json_t *qs_calib_to_json(const struct qs_calib *calib);

/*
 * Write the calibration to "path" atomically; an existing file is
 * replaced only with "force" (QS_OUTPUT otherwise, with a line in "diag").
 */
enum qs_status qs_calib_write(const struct qs_calib *calib, const char *path, int force,
                              struct qs_diag *diag);

/*
 * Read and validate the .qstats file at "path" into "calib" (free with
 * qs_calib_done whatever this returns).  Each fault adds a line to "diag"
 * naming the JSON member: malformed JSON, a missing or mistyped member,
 * a version newer than QS_CALIB_VERSION (QS_UNSUPPORTED), a histogram
 * whose length or sum is wrong, ranges that contradict each other.  With
 * "model" set, a file made for another model (SHA-256 differs) and
 * tensor names the model lacks are QS_INVALID too.
 */
enum qs_status qs_calib_read(const char *path, const struct qs_model *model,
                             struct qs_calib *calib, struct qs_diag *diag);

/* Free everything "calib" owns.  Safe on a zeroed struct. */
void qs_calib_done(struct qs_calib *calib);

/*
 * Add one histogram observation of "n" values to "t" (exposed for tests):
 * the range update, the bin counts and the moments, as qs_calib_observe
 * does for one tensor.
 */
void qs_calib_tensor_add(struct qs_calib_tensor *t, const float *data, uint64_t n);

#endif
