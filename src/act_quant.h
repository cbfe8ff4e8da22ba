/*
 * Activation quantization trials: choose the range of an activation from
 * its calibration histogram (static) or from the values at run time
 * (dynamic), fake-quantize real activations with it, and measure the
 * error with the metrics weights use (MSE, SQNR, max absolute error,
 * cosine similarity).
 *
 * A configuration string is FORMAT[:MODE][:SCHEME][:RANGE]:
 *   FORMAT  int8 or int16
 *   MODE    tensor   one static scale per tensor, from calibration (default)
 *           dynamic  one scale per tensor computed from each run's values
 *                    (per batch, as ONNX DynamicQuantizeLinear does)
 *           token    one scale per row of the last axis, computed at run
 *                    time (per token, as LLM runtimes quantize activations)
 *   SCHEME  asym (default: range widened to include 0, with a zero point)
 *           or sym (scale = T / (2^(b-1) - 1), no zero point)
 *   RANGE   static only: minmax (default), pNN.NN (percentile of |x|),
 *           entropy (KL divergence, TensorRT's method) or mse
 * e.g. "int8:tensor:asym:entropy", "int8:token:sym".
 *
 * Ranges from the |x| histogram: percentile, entropy and mse choose a
 * clipping threshold T on |x|.  For entropy, bin 0 of the calibration
 * histogram first takes the count of bin 1, so that a spike of exact
 * zeros (after ReLU) does not decide the threshold.  With sym the range is [-T, T]; with asym
 * it is [max(min, -T), min(max, T)], so a ReLU output (min 0) keeps all
 * 2^b levels on [0, T].
 *
 * Rounding is half to even, codes saturate, and a scale below the
 * smallest normal float is replaced by 1.0 with every code 0 (flagged),
 * as for weights.
 */
#ifndef QS_ACT_QUANT_H
#define QS_ACT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "calib.h"
#include "inputs.h"
#include "interp/interp.h"
#include "quant.h"
#include "status.h"

/* Target bins of the entropy search for 8-bit codes: 2^(8-1), one per positive level. */
#define QS_ACT_ENTROPY_TARGET_BINS 128

/* Longest canonical configuration string, with the NUL. */
#define QS_ACT_CONFIG_MAX 48

enum qs_act_mode {
    QS_ACT_STATIC,               /* "tensor" */
    QS_ACT_DYNAMIC,              /* "dynamic": per tensor at run time */
    QS_ACT_TOKEN                 /* "token": per row of the last axis at run time */
};

enum qs_act_range {
    QS_ACT_RANGE_MINMAX,
    QS_ACT_RANGE_PERCENTILE,
    QS_ACT_RANGE_ENTROPY,
    QS_ACT_RANGE_MSE
};

struct qs_act_config {
    int bits;                    /* 8 or 16 */
    enum qs_act_mode mode;
    enum qs_quant_scheme scheme;
    enum qs_act_range range;     /* QS_ACT_STATIC only; minmax otherwise */
    uint32_t percentile_centi;   /* percentile times 100 (9999 for p99.99) */
};

/*
 * Parse "text" into "config".  Returns QS_OK, or QS_USAGE with one line
 * naming the bad part in "message" (may be NULL).
 */
enum qs_status qs_act_config_parse(const char *text, struct qs_act_config *config,
                                   char *message, size_t size);

/*
 * Write the canonical string of "config" ("int8:tensor:asym:entropy",
 * "int8:token:sym") to "buf"; returns what snprintf returns.
 */
int qs_act_config_format(const struct qs_act_config *config, char *buf, size_t size);

/* The quantization of one scale: q = clamp(rint(x / scale) + zero_point, qmin, qmax). */
struct qs_act_params {
    double lo;                   /* the range the scale was made from, 0 included */
    double hi;
    float scale;
    int32_t zero_point;          /* 0 for sym */
    int32_t qmin;
    int32_t qmax;
    int flagged;                 /* scale below FLT_MIN: placeholder 1.0, codes 0 */
};

/* Parameters for the range [lo, hi] (finite, lo <= hi) with "config"'s bits and scheme. */
void qs_act_params_from_range(const struct qs_act_config *config, double lo, double hi,
                              struct qs_act_params *params);

/*
 * Range searches on a histogram of |x|: "bins" counts over [0, "hi"],
 * bin i covering [i * hi / bins, (i + 1) * hi / bins).  Each returns a
 * threshold T on |x|.
 */

/*
 * The value below which "percent" percent of the counted values lie,
 * interpolated linearly inside its bin; 0 for an empty histogram.
 */
double qs_act_hist_percentile(const uint64_t *hist, size_t bins, double hi, double percent);

/*
 * TensorRT's entropy calibration: for each i from "target" to one past
 * the last nonzero bin, the reference distribution P is bins 0 .. i-1
 * with every count above folded into bin i-1; Q merges bins 0 .. i-1
 * into "target" groups (the last group takes the remainder) and spreads
 * each group's count evenly over the bins where P is nonzero.  Both are
 * normalised and smoothed (every zero gets 1e-4, taken evenly from the
 * nonzero entries), and the i with the least KL(P || Q) gives T = i * hi
 * / bins.  When "divergence" is not NULL it receives KL for each i
 * (index i - target, bins - target + 1 entries; +inf where smoothing was
 * impossible, NaN past the last nonzero bin).  Fewer nonzero bins than
 * "target" give the upper edge of the last nonzero bin: nothing needs
 * clipping.
 */
double qs_act_hist_entropy(const uint64_t *hist, size_t bins, double hi, size_t target,
                           double *divergence);

/*
 * The grid an MSE search assumes: "bits" and "scheme" of the
 * configuration, and the observed range, on which the asym step depends.
 */
struct qs_act_grid {
    enum qs_quant_scheme scheme;
    int bits;
    double min;
    double max;
};

/*
 * Quantization step for the threshold T: T / (2^(b-1) - 1) for sym; for
 * asym the clipped range [max(min, -T), min(max, T)], widened to include
 * 0, divided by 2^b - 1.
 */
double qs_act_grid_step(const struct qs_act_grid *grid, double threshold);

/*
 * Expected sum of squared errors of rounding the histogram's values to
 * multiples of "step" and clipping them at "threshold", taking the
 * values of each bin as spread evenly over it, except "zeros" values in
 * bin 0 that are exactly 0 and quantize without error.
 */
double qs_act_hist_expected_sse(const uint64_t *hist, size_t bins, double hi, uint64_t zeros,
                                double step, double threshold);

/*
 * The threshold that minimises qs_act_hist_expected_sse on "grid": a grid
 * of 100 ratios of "absmax" from 1.0 down to 0.2, refined by
 * golden-section search around the best one.
 */
double qs_act_hist_mse(const uint64_t *hist, size_t bins, double hi, uint64_t zeros,
                       const struct qs_act_grid *grid, double absmax);

/*
 * Parameters of a static "config" for the calibrated tensor "t": the
 * range its RANGE method gives.  A tensor without finite values gets the
 * flagged placeholder.
 */
void qs_act_static_params(const struct qs_act_config *config, const struct qs_calib_tensor *t,
                          struct qs_act_params *params);

/*
 * Fake-quantize "n" values of "x" with "params" into "out" (may equal
 * "x") and add the error to "metrics" (sums only; call
 * qs_quant_metrics_finish after).  NaN and Inf pass through unchanged
 * and are left out of the metrics.
 */
void qs_act_fake_quant(const struct qs_act_params *params, const float *x, float *out,
                       uint64_t n, struct qs_quant_metrics *metrics);

/*
 * Fake-quantize one activation of shape "dims" ("rank" entries) with
 * "config": the static "params" for QS_ACT_STATIC, or scales computed
 * from the values for the dynamic modes (one per tensor, or one per row
 * of the last axis).  Adds to "metrics" and to "*flagged" (scales that
 * got the placeholder; may be NULL).
 */
void qs_act_quantize(const struct qs_act_config *config, const struct qs_act_params *params,
                     const float *x, float *out, int rank, const int64_t *dims, uint64_t count,
                     struct qs_quant_metrics *metrics, uint64_t *flagged);

/*
 * Fake-quantize the float tensor "*tensor" as qs_act_quantize does, in
 * the shape a struct qs_interp_hooks.transform hook needs: in place when
 * qs_rt_unique(*tensor), else into a new tensor that replaces it (the old
 * reference is dropped).  A non-float tensor is left alone.  Fails only
 * when the copy cannot be created (qs_rt_new's status); "*tensor" is then
 * unchanged.
 */
enum qs_status qs_act_quantize_tensor(const struct qs_act_config *config,
                                      const struct qs_act_params *params,
                                      struct qs_rt_tensor **tensor,
                                      struct qs_quant_metrics *metrics, uint64_t *flagged);

/* The error of one activation tensor over every run of a trial. */
struct qs_act_result {
    char *name;                  /* scoped name */
    char *op;                    /* producing op, "input" for a graph input */
    struct qs_act_params params; /* static mode: the scale used */
    struct qs_quant_metrics metrics;
    uint64_t flagged;            /* scales that got the placeholder */
    int uncalibrated;            /* static mode without statistics: not measured */
};

struct qs_act_trial {
    size_t count;                /* in the order of first observation */
    struct qs_act_result *items;
};

/*
 * Run "interp" on every sample of "inputs" and fake-quantize each float
 * activation (graph inputs included) with "config", measuring the error
 * of that tensor alone: the quantized values are not fed forward.  A
 * static "config" needs "calib" (the statistics of the same model); a
 * tensor it lacks is skipped with a warning.  Replaces the interpreter's
 * hooks.  Returns the worst status, with problems in "diag" under "file".
 */
enum qs_status qs_act_trial_run(struct qs_interp *interp, const struct qs_input_set *inputs,
                                const struct qs_act_config *config, const struct qs_calib *calib,
                                const char *file, struct qs_diag *diag,
                                struct qs_act_trial *trial);

/* Free the results.  Safe on a zeroed struct. */
void qs_act_trial_done(struct qs_act_trial *trial);

#endif
