/*
 * Sensitivity weights for automatic plans: `qscope plan --auto BUDGET
 * --sensitivity FILE` reads the ranking that `qscope sensitivity --json`
 * wrote and scales each layer's candidate errors by how much that layer's
 * weight error shows at the model's outputs.
 *
 * A layer's factor is its output squared error divided by its weight
 * squared error, both measured at the ranking's configuration.  So the
 * weighted error of a candidate estimates the output error it would
 * cause, under a first-order model: output error grows in proportion to
 * weight error and adds up over layers.  Factors are divided by
 * their median, so weighted errors keep the scale of weight errors, and
 * are clamped to [1e-3, 1e3] so that one layer measured as exact or as
 * catastrophic cannot dominate.  Layers the file lacks or left out, and
 * layers whose weight error was zero, get the factor 1 (the median).
 */
#ifndef QS_PLAN_SENSITIVITY_H
#define QS_PLAN_SENSITIVITY_H

#include <stddef.h>

#include "model.h"
#include "plan.h"
#include "sha256.h"
#include "status.h"

/* Clamp of the factors relative to their median. */
#define QS_PLAN_SENSITIVITY_MIN_FACTOR 1e-3
#define QS_PLAN_SENSITIVITY_MAX_FACTOR 1e3

struct qs_plan_sensitivity_layer {
    char *key;
    double factor;               /* after normalisation and clamping */
};

struct qs_plan_sensitivity {
    char *config;                /* configuration the ranking was measured at */
    char sha256[QS_SHA256_HEX_LEN + 1];
    size_t count;
    struct qs_plan_sensitivity_layer *layers;
};

/*
 * Read the sensitivity ranking at "path" (the JSON of `qscope
 * sensitivity`) into "s" (free with qs_plan_sensitivity_done whatever
 * this returns).  A malformed file, or one made for another model when
 * "model" is not NULL, gives QS_INVALID; a newer version QS_UNSUPPORTED;
 * each fault adds a line to "diag".
 */
enum qs_status qs_plan_sensitivity_read(const char *path, const struct qs_model *model,
                                        struct qs_plan_sensitivity *s, struct qs_diag *diag);

/* The factor of layer "key": its own, or 1 when the file has none. */
double qs_plan_sensitivity_factor(const struct qs_plan_sensitivity *s, const char *key);

/* Multiply the "sse" of "n" candidate "options" of layer "key" by its factor. */
void qs_plan_sensitivity_weigh(const struct qs_plan_sensitivity *s, const char *key,
                               struct qs_plan_option *options, size_t n);

void qs_plan_sensitivity_done(struct qs_plan_sensitivity *s);

#endif
