/*
 * Mixed-precision plans: one trial configuration per quantizable layer,
 * with the error and size each one was measured to give, saved as JSON.
 *
 * A plan names the model it was made for (file name and SHA-256), so that
 * `plan --check` can tell a plan that no longer fits its model.  A layer
 * the plan does not list, or lists with the configuration "float", stays
 * in float32: 32 bits per weight and no error.
 *
 * Sizes: a layer's bytes are its payload, scale and zero-point bytes as
 * qs_quant_sizes_compute rounds them; "float bytes" are 4 per weight.
 * Model totals add squared errors and signal energies over the layers and
 * give SQNR = 10 log10(energy / squared error), never an average of dB
 * values.  Only quantizable layers are counted (see layers.h).
 *
 * The file format is documented in qscope-plan(5).
 */
#ifndef QS_PLAN_H
#define QS_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "layers.h"
#include "quant.h"
#include "sha256.h"
#include "status.h"
#include "strmap.h"

/* Version written in new plans; readers refuse larger ones. */
#define QS_PLAN_VERSION 1

/* Configuration name of a layer left in float32. */
#define QS_PLAN_FLOAT "float"

/* Default tolerances written into new plans and used by `plan --check`. */
#define QS_PLAN_TOLERANCE_RELATIVE 1e-6   /* squared error, energy and MSE, relative */
#define QS_PLAN_TOLERANCE_SQNR_DB 1e-3    /* SQNR, absolute dB */

/* Error and size that one configuration gave one layer. */
struct qs_plan_measure {
    uint64_t params;         /* elements */
    double sse;              /* sum of squared errors (finite elements) */
    double energy;           /* sum of squared weights */
    double mse;
    double sqnr_db;          /* +inf when exact */
    double max_abs_err;
    double cosine;
    int exact;               /* sse is 0; false when no_finite */
    int no_finite;           /* weights but none finite: sse and energy 0, the rest NaN */
    uint64_t bytes;          /* payload + scales + zero points */
    double bits_per_weight;  /* bytes * 8 / params; 0 for an empty layer */
};

struct qs_plan_layer {
    char *key;
    int is_float;            /* QS_PLAN_FLOAT: left unquantized */
    struct qs_quant_config config;    /* when !is_float */
    char config_text[QS_QUANT_CONFIG_MAX];  /* canonical string, or "float" */
    int pinned;              /* --auto leaves it as it is */
    int measured;            /* "m" contains measured numbers */
    struct qs_plan_measure m;
};

struct qs_plan_totals {
    uint64_t params;
    uint64_t float_bytes;    /* 4 per weight */
    uint64_t planned_bytes;
    double bits_per_weight;  /* planned_bytes * 8 / params */
    double sse;
    double energy;
    double sqnr_db;          /* +inf when exact */
    int exact;
};

struct qs_plan {
    int version;
    char *model_file;        /* file name without folders */
    char sha256[QS_SHA256_HEX_LEN + 1];
    uint64_t model_bytes;
    char *method;            /* how it was made: "auto", "set", "from", or NULL */
    char *budget;            /* --auto budget as given, or NULL */
    char *candidates;        /* --auto candidates, comma-separated, or NULL */
    char *sensitivity;       /* --auto --sensitivity file as given, or NULL */
    double tolerance_relative;
    double tolerance_sqnr_db;
    size_t count;
    size_t capacity;         /* entries allocated in "layers" */
    struct qs_plan_layer *layers;     /* in model layer order when made by qscope */
    struct qs_strmap *index;  /* key -> position in "layers" + 1; entries come from qs_plan_get */
    struct qs_plan_totals totals;
};

/* Start an empty plan with the current version and default tolerances. */
void qs_plan_init(struct qs_plan *plan);

/* Free everything the plan owns.  Safe on an initialised or zeroed plan. */
void qs_plan_done(struct qs_plan *plan);

/* Set the model identity: file name of "path" and the SHA-256 of its "size" bytes at "data". */
void qs_plan_set_model(struct qs_plan *plan, const char *path, const void *data, uint64_t size);

/* The entry for "key", or NULL; a hash lookup, so constant time on average. */
struct qs_plan_layer *qs_plan_find(const struct qs_plan *plan, const char *key);

/*
 * The entry for "key", added (as float, not pinned, not measured) when
 * missing.  The pointer is valid until the next call that adds an entry.
 */
struct qs_plan_layer *qs_plan_get(struct qs_plan *plan, const char *key);

/*
 * Set "entry" to "config", or to float when "config" is NULL; clears the
 * measurement.
 */
void qs_plan_layer_set(struct qs_plan_layer *entry, const struct qs_quant_config *config);

/*
 * Check whether "config" can be applied to "layer".  Returns QS_OK, or
 * QS_USAGE with one sentence in "message" when the layer is not
 * quantizable or the granularity needs an axis the layer lacks: "channel"
 * on a per-tensor only layer, "gN" or "bN" without a group axis.  A group
 * size longer than the group axis is allowed, because the axis then forms
 * one short group.
 */
enum qs_status qs_plan_check_config(const struct qs_layer *layer,
                                    const struct qs_quant_config *config,
                                    char *message, size_t size);

/* Layout of "layer" for quant.h trials. */
enum qs_status qs_plan_layout(const struct qs_layer *layer, struct qs_quant_layout *layout,
                              struct qs_diag *diag, const char *file);

/*
 * Measure "config" (NULL: float, which only sums the energy) on the data
 * of "layer" in "data" with "threads" workers.  Returns QS_OK, or the
 * trial's status with a line in "diag".
 */
enum qs_status qs_plan_measure_data(const struct qs_layer *layer,
                                    const struct qs_layer_data *data,
                                    const struct qs_quant_config *config, int threads,
                                    const char *file, struct qs_diag *diag,
                                    struct qs_plan_measure *out);

/* Describe a layer for messages, "Conv [16, 3, 3, 3]", in "buf"; returns "buf". */
const char *qs_plan_layer_label(const struct qs_layer *layer, char *buf, size_t size);

/*
 * Sum the measured entries into plan->totals.  Entries without numbers
 * are left out.
 */
void qs_plan_totals_compute(struct qs_plan *plan);

/* The plan as a JSON document (new reference). */
json_t *qs_plan_to_json(const struct qs_plan *plan);

/*
 * Write the plan to "path" atomically ("-" for standard output).  An
 * existing file is replaced only with "force" (QS_OUTPUT otherwise).
 * Returns QS_UNSUPPORTED, writing nothing, when a layer key is not valid
 * UTF-8, because JSON cannot hold it as a key.
 */
enum qs_status qs_plan_write(const struct qs_plan *plan, const char *path, int force,
                             struct qs_diag *diag);

/*
 * Read and validate the plan at "path" into "plan", which this call
 * initialises and the caller frees with qs_plan_done even on failure.
 * Each problem adds a line to "diag" naming the JSON key, and for layers
 * the layer key with the layer's ops and shape.  Problems are an unknown
 * key, a wrong type, a version newer than QS_PLAN_VERSION
 * (QS_UNSUPPORTED), a layer the model lacks, a layer that is not
 * quantizable, and an unparsable or impossible configuration.  With
 * "layers" NULL only the file itself is checked.  Returns the worst
 * status found.
 */
enum qs_status qs_plan_read(const char *path, const struct qs_layers *layers,
                            struct qs_plan *plan, struct qs_diag *diag);

/*
 * Compare the numbers "stored" was written with against "measured" (same
 * layers and configurations) within the tolerances stored in "stored".
 * Each difference adds a QS_CHECK line to "diag" under "file".  Returns
 * QS_OK or QS_CHECK.
 */
enum qs_status qs_plan_compare(const struct qs_plan *stored, const struct qs_plan *measured,
                               const char *file, struct qs_diag *diag);

/*
 * True when measurement "b" differs from "a" beyond the tolerances of
 * "stored".  Weights and bytes must be equal, squared error and energy
 * within the relative tolerance, and SQNR within its dB tolerance (both
 * exact, or neither).
 */
int qs_plan_measure_differs(const struct qs_plan *stored, const struct qs_plan_measure *a,
                            const struct qs_plan_measure *b);

/* The totals as a measurement (params, bytes, sse, energy, sqnr_db, exact). */
void qs_plan_totals_as_measure(const struct qs_plan_totals *totals, struct qs_plan_measure *m);

/* ---- budgets ---- */

enum qs_plan_budget_unit {
    QS_BUDGET_BPW,           /* bits per weight */
    QS_BUDGET_BYTES,         /* an absolute size */
    QS_BUDGET_PERCENT        /* percent of the float32 size */
};

struct qs_plan_budget {
    enum qs_plan_budget_unit unit;
    double value;            /* bits per weight, bytes, or percent */
};

/*
 * Parse "4.5bpw", "300MB" (also B, kB, KB, KiB, MiB, GB, GiB: kB/KB/MB/GB
 * are powers of 1000, KiB/MiB/GiB of 1024) or "25%".  Returns QS_OK, or
 * QS_USAGE with a message.
 */
enum qs_status qs_plan_budget_parse(const char *text, struct qs_plan_budget *budget,
                                    char *message, size_t size);

/* The budget in bytes for "params" quantizable weights (float size 4 bytes each). */
uint64_t qs_plan_budget_bytes(const struct qs_plan_budget *budget, uint64_t params);

/* ---- automatic plans (plan_auto.c) ---- */

/* One candidate for one layer: its size and its squared error. */
struct qs_plan_option {
    uint64_t bytes;
    double sse;
};

/*
 * Check whether an --auto candidate measured as "m" may enter the search:
 * true unless its bytes exceed the float32 bytes of the layer (4 per
 * weight).  Float32 is always the fallback, so a larger format, such as
 * nf4:b64 with one fp32 scale per weight on a group axis of length 1,
 * would only cost size and add error.
 */
int qs_plan_candidate_fits(const struct qs_plan_measure *m);

/* Candidate configurations of the automatic plan when none are given. */
#define QS_PLAN_DEFAULT_CANDIDATES "int8:channel,int4:g128,int4:g32,nf4,fp16"

/* One layer's candidates; a pinned layer has exactly one. */
struct qs_plan_item {
    size_t n_options;
    const struct qs_plan_option *options;
};

/*
 * Choose one option per item so that the bytes add up to at most
 * "budget" and the squared errors to as little as possible.  The search
 * starts from each item's lowest-error option and repeatedly takes the
 * step, along each item's lower convex hull of bytes against error, that
 * adds the least error per byte saved until the budget holds.  It then
 * refines the result (see plan_auto.c and qscope-plan(5)).  Writes the
 * option index of item i to "choice[i]".  Returns QS_OK, or QS_USAGE with
 * a message giving the smallest total when even the smallest options
 * exceed the budget.
 */
enum qs_status qs_plan_greedy(const struct qs_plan_item *items, size_t n, uint64_t budget,
                              size_t *choice, char *message, size_t size);

/*
 * The same problem solved exactly by dynamic programming over the Pareto
 * front of (bytes, error) sums.  Returns QS_UNSUPPORTED when the front
 * would hold more than "max_states" points (then use qs_plan_greedy),
 * QS_USAGE when the budget cannot be met.
 */
enum qs_status qs_plan_exact(const struct qs_plan_item *items, size_t n, uint64_t budget,
                             size_t max_states, size_t *choice, char *message, size_t size);

#endif
