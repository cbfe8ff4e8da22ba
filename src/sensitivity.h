/*
 * Layer sensitivity: quantize one layer at a time, run the model on the
 * samples, and rank the layers by the error they cause at the outputs.
 *
 * For each selected layer, only that layer's weight is fake-quantized
 * (see struct qs_eval_weights).  Every float output of every sample is
 * compared with the float run, and the squared errors and signal
 * energies of all outputs are added.  So a layer's output SQNR is
 * 10 log10(total output energy / total output squared error).  The
 * ranking puts the most harmful layer first: output SQNR ascending, then
 * output MSE descending; a layer whose outputs were all NaN or infinite
 * comes first, and layers left out (configuration not applicable, weight
 * never read by these samples) come last.
 *
 * The ranking's JSON form (qs_sensitivity_to_json) is also what
 * `qscope plan --auto --sensitivity FILE` reads (plan_sensitivity.h).
 *
 * Cost: one float run per sample, then one run per sample per layer.
 */
#ifndef QS_SENSITIVITY_H
#define QS_SENSITIVITY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "inputs.h"
#include "layers.h"
#include "model.h"
#include "quant.h"
#include "status.h"

/* The "format" member of the JSON form. */
#define QS_SENSITIVITY_FORMAT "qscope-sensitivity"

/* Note of a layer whose float outputs were all NaN or infinite. */
#define QS_SENS_NOTE_NONFINITE "every output value is NaN or infinite"

/* Version of the JSON form; readers refuse larger ones. */
#define QS_SENSITIVITY_VERSION 1

/* One layer's measurement. */
struct qs_sens_layer {
    const struct qs_layer *layer;     /* borrowed */
    const char *skipped;         /* why it was left out (static string), or NULL */
    struct qs_quant_metrics weight;   /* the weight's own error at the configuration */
    struct qs_quant_metrics output;   /* every float output of every sample together */
    uint64_t output_values;      /* float output values compared, finite or not */
    uint64_t output_nonfinite;   /* of those, left out because either run gave NaN or inf */
    uint64_t rows;               /* classifier rows compared (see struct qs_eval_output) */
    uint64_t top1_agree;
};

struct qs_sens_result {
    struct qs_quant_config config;
    size_t samples;
    size_t count;                /* ranked, most harmful first */
    struct qs_sens_layer *items;
};

struct qs_sens_options {
    const struct qs_quant_config *config;
    const unsigned char *selected;    /* per layer: measure it; NULL: every quantizable layer */
    int threads;
    void (*progress)(void *ctx);      /* called after each layer, may be NULL */
    void *progress_ctx;
};

/*
 * Measure every selected layer of "layers" on the samples of "inputs".
 * Returns the first run failure or QS_OK; problems go to "diag" under
 * model->path.  "result" needs qs_sensitivity_done whatever this returns.
 */
enum qs_status qs_sensitivity_run(const struct qs_model *model, const struct qs_layers *layers,
                                  const struct qs_input_set *inputs,
                                  const struct qs_sens_options *options, struct qs_diag *diag,
                                  struct qs_sens_result *result);

/* Sort "result" as described at the top. */
void qs_sensitivity_rank(struct qs_sens_result *result);

/*
 * True when "item" compared float outputs but every value was NaN or
 * infinite in the float or the quantized run, so it has no output error.
 */
int qs_sens_output_nonfinite(const struct qs_sens_layer *item);

/* Top-1 agreement of "item" in [0, 1], or NaN without classifier outputs. */
double qs_sens_top1(const struct qs_sens_layer *item);

/*
 * The ranking as a JSON document with the model's identity (new
 * reference).  Layout in qscope(1), section sensitivity.
 */
json_t *qs_sensitivity_to_json(const struct qs_sens_result *result, const struct qs_model *model);

void qs_sensitivity_done(struct qs_sens_result *result);

#endif
