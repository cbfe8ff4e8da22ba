/*
 * End-to-end error: run a model in float and with fake-quantized weights
 * (and activations), on the same samples, and compare the outputs and,
 * optionally, every intermediate float tensor along the graph.
 *
 * Weights: the interpreter's weight hook replaces each planned layer's
 * float weight by its quantize-dequantize image (quant.h, the layer's
 * configuration).  A Conv weight that layers.h reports with a
 * BatchNormalization folded in is quantized folded, as a deployed model
 * stores it.  The result is divided back by the BatchNormalization scale
 * of its output channel, so the interpreter's Conv followed by
 * BatchNormalization computes the quantized folded convolution (up to
 * float rounding).
 *
 * Activations (optional): the float input of every planned layer is
 * fake-quantized where it is produced, so every consumer of that tensor
 * reads the quantized value, as a QuantizeLinear/DequantizeLinear pair
 * placed on the tensor does.  Graph inputs are quantized before the run.
 * The interpreter's transform hook does the quantization.  A tensor that
 * owns its data is quantized in place.  A view of another value (the
 * output of Reshape, Identity, Flatten ...) is replaced by a quantized
 * copy, so the value it shares data with keeps its float data.
 *
 * Memory: with the trace on, a copy of every float tensor of the float
 * run is kept until the quantized run of the same sample has passed it.
 */
#ifndef QS_EVAL_H
#define QS_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "act_quant.h"
#include "calib.h"
#include "inputs.h"
#include "interp/interp.h"
#include "layers.h"
#include "plan.h"
#include "quant.h"
#include "status.h"

/* ---- fake-quantized weights -------------------------------------------- */

/* Weight hook state: the layers to quantize and what was measured on them. */
struct qs_eval_weights {
    const struct qs_layers *layers;
    int threads;
    const char *file;            /* for messages: the model */
    struct qs_diag *diag;

    struct qs_quant_config *configs;  /* per layer */
    unsigned char *active;       /* per layer: quantize it */
    struct qs_quant_metrics *metrics; /* per layer: weight error, summed over hook calls */
    uint64_t *hits;              /* per layer: times the hook quantized it */

    size_t n_index;              /* private: value -> layer, sorted by value address */
    struct qs_eval_weight_index *index;
};

/* Start with no layer active.  Free with qs_eval_weights_done. */
void qs_eval_weights_init(struct qs_eval_weights *w, const struct qs_layers *layers, int threads,
                          const char *file, struct qs_diag *diag);

/* Quantize layer "index" with "config" (copied), or leave it in float when "config" is NULL. */
void qs_eval_weights_set(struct qs_eval_weights *w, size_t index,
                         const struct qs_quant_config *config);

/* Make every layer float again and zero the measurements. */
void qs_eval_weights_clear(struct qs_eval_weights *w);

/*
 * The weight hook (struct qs_interp_hooks.weight, "ctx" a struct
 * qs_eval_weights): replaces the data of an active layer's weight by its
 * fake-quantized image.  A weight whose shape does not match its layer is
 * left alone with a warning.
 */
enum qs_status qs_eval_weights_hook(void *ctx, const struct qs_value *value,
                                    struct qs_rt_tensor *tensor);

void qs_eval_weights_done(struct qs_eval_weights *w);

/* ---- comparisons ------------------------------------------------------- */

/* Float against quantized for one graph output, summed over the samples. */
struct qs_eval_output {
    char *name;
    int dtype;
    int rank;                    /* of the last sample */
    int64_t dims[QS_RT_MAX_RANK];
    struct qs_quant_metrics metrics;  /* float outputs: reference x, quantized x' */
    int classifier;              /* float, rank >= 1, last dim > 1: top-1 is measured */
    uint64_t rows;               /* classifier rows compared (samples x leading dims) */
    uint64_t top1_agree;         /* rows whose argmax is the same */
    uint64_t equal;              /* integer outputs: elements that are equal */
    uint64_t compared;           /* integer outputs: elements compared */
    uint64_t shape_mismatches;   /* samples whose two outputs differ in shape */
};

/*
 * Add the comparison of "ref" (float run) and "test" (quantized run) of
 * one output to "acc" (sums only: call qs_quant_metrics_finish on
 * acc->metrics after the last sample).
 */
void qs_eval_compare_output(const struct qs_rt_tensor *ref, const struct qs_rt_tensor *test,
                            struct qs_eval_output *acc);

/*
 * Add the error of "n" values "y" against the reference values "x" to
 * "metrics" (sums only).  Pairs where either value is NaN or Inf are left
 * out.
 */
void qs_eval_add_error(const float *x, const float *y, uint64_t n,
                       struct qs_quant_metrics *metrics);

/* Top-1 agreement of "o" in [0, 1], or NaN when it is not a classifier. */
double qs_eval_top1(const struct qs_eval_output *o);

/* ---- evaluation -------------------------------------------------------- */

struct qs_eval_options {
    const struct qs_plan *plan;  /* layers with a configuration are quantized */
    const struct qs_act_config *act;  /* activation quantization, or NULL */
    const struct qs_calib *calib;     /* static activation scales; needed for QS_ACT_STATIC */
    int trace;                   /* compare every intermediate float tensor */
    int threads;
    void (*progress)(void *ctx); /* called after each sample, may be NULL */
    void *progress_ctx;
};

/* One intermediate float tensor, float run against quantized run. */
struct qs_eval_trace {
    char *name;                  /* scoped name */
    char *op;                    /* producing op, "input" for a graph input */
    char *node;                  /* producing node's label, "" for a graph input */
    struct qs_quant_metrics metrics;
    int act_quantized;           /* this tensor's activations were fake-quantized */
    struct qs_quant_metrics act_metrics;  /* the error of that quantization alone */
    uint64_t mismatches;         /* observations not compared: shape or control flow differed */
};

struct qs_eval_result {
    size_t samples;
    size_t layers_planned;       /* plan entries with a configuration */
    size_t layers_reached;       /* of those, quantized by at least one run */
    struct qs_quant_metrics weights;  /* the planned layers' weight error */
    size_t n_outputs;
    struct qs_eval_output *outputs;
    size_t n_trace;              /* in graph (execution) order; 0 without the trace */
    struct qs_eval_trace *trace;
    size_t n_act;                /* activation tensors quantized */
    uint64_t act_skipped;        /* activation observations left in float: always 0 since
                                    views are quantized too, kept for the JSON field
                                    "activations_left_in_float" */
    uint64_t diverged;           /* samples whose quantized run took another path */
};

/*
 * Run "model" on every sample of "inputs" in float and with the plan
 * applied, and compare.  Plan entries naming layers "layers" lacks, or
 * with a configuration the layer cannot take, are QS_INVALID, found
 * before anything runs.  With static activation scales, a planned
 * layer's input without statistics in opts->calib stays in float, with a
 * warning.  Problems go to "diag" under model->path.  "result" needs
 * qs_eval_result_done whatever this returns.
 */
enum qs_status qs_eval_run(const struct qs_model *model, const struct qs_layers *layers,
                           const struct qs_input_set *inputs, const struct qs_eval_options *opts,
                           struct qs_diag *diag, struct qs_eval_result *result);

void qs_eval_result_done(struct qs_eval_result *result);

#endif
