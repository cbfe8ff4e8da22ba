/*
 * The browser's activation state, and the runs of the model that
 * produce it:
 *
 *   statistics    a .qstats calibration (calib.h), read from --qstats FILE
 *                 or MODEL.qstats next to the model, or collected by the
 *                 calibration run (C); the layers view shows each
 *                 layer's input absmax and outlier channels, the layer
 *                 view plots them (x)
 *   sensitivity   the output SQNR of each layer quantized alone
 *                 (sensitivity.h), read from --sensitivity FILE or
 *                 measured by the sensitivity run (R); the layers view's
 *                 "out dB" column
 *   evaluation    the plan's end-to-end error with the per-tensor trace
 *                 (eval.h), from the evaluation run (t); the eval view
 *
 * Runs use the inputs of the command line (--input, --data, --random, as
 * `qscope calibrate` takes them), one run at a time, on the run lane of
 * the worker.  The status line shows a progress bar while one runs, and
 * X cancels it.  Every number comes from the core; this module schedules
 * the runs and keeps their results.
 *
 * Threads: like ui.h, everything here belongs to the main thread except
 * the "run" hooks of the jobs, which read only what the job holds and the
 * model and its layers.
 */
#ifndef QS_ACTIVATIONS_H
#define QS_ACTIVATIONS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "act_quant.h"
#include "calib.h"
#include "eval.h"
#include "inputs.h"
#include "quant.h"
#include "ui.h"

/*
 * A channel is an outlier when its absmax exceeds this many times the
 * median channel absmax of the same activation.  With one scale for the
 * whole tensor, the median channel then uses less than 1/8 of the code
 * range, so it loses 3 of its bits.
 */
#define QS_UI_ACT_OUTLIER_RATIO 8.0

/* The activation configuration whose clipping range the plots mark at first. */
#define QS_UI_ACT_DEFAULT_CONFIG "int8:tensor:asym:minmax"

/* The browser's options about activations, from the command line (strings borrowed). */
struct qs_ui_options {
    struct qs_input_spec inputs; /* --input, --data or --random and their settings */
    const char *qstats;          /* --qstats FILE, or NULL for MODEL.qstats when it exists */
    const char *sensitivity;     /* --sensitivity FILE, or NULL */
};

/* The input activation of one layer, from the statistics. */
struct qs_ui_act_layer {
    const struct qs_calib_channels *input;  /* channel statistics of its first use, or NULL */
    const struct qs_calib_tensor *tensor;   /* the activation that use reads, or NULL */
    size_t uses;                 /* uses with channel statistics */
    double absmax;               /* largest channel absmax over its uses; NaN when unknown */
    double median;               /* median channel absmax of the first use */
    uint64_t outliers;           /* outlier channels, the most of any use */
};

/* The output SQNR of one layer quantized alone. */
struct qs_ui_sens_layer {
    int measured;                /* 0: the ranking left it out ("skipped" is the reason) */
    double sqnr_db;              /* +inf when exact */
    int exact;
    char skipped[64];
};

enum qs_ui_run_kind {
    QS_RUN_CALIBRATE,
    QS_RUN_SENSITIVITY,
    QS_RUN_EVAL
};

/*
 * A run of the model: the start of every run job.  "done_steps" and
 * "total_steps" are written by the lane thread and read by the status
 * line.
 */
struct qs_ui_run {
    struct qs_job base;
    enum qs_ui_run_kind kind;
    struct qs_ui *ui;            /* main thread only */
    const struct qs_model *model;
    const struct qs_layers *layers;
    struct qs_input_spec spec;
    int threads;
    const char *unit;            /* what a step is: "samples", "layers" */
    atomic_size_t done_steps;
    atomic_size_t total_steps;
    size_t samples;              /* samples read, set by qs_ui_run_inputs */
    int stopping;                /* the run's thread shrank the allocation limit to stop it */
    enum qs_status status;
    struct qs_diag diag;
};

struct qs_ui_act {
    struct qs_ui_options options;

    /* Statistics */
    struct qs_calib *calib;      /* or NULL */
    char *calib_file;            /* where it was read or written; NULL while not saved */
    struct qs_ui_act_layer *layers;  /* per layer, with "calib" */
    struct qs_act_config config; /* whose clipping range the plots mark */
    unsigned calib_serial;       /* counts the statistics taken, for the plots' keys */

    /* Sensitivity */
    struct qs_ui_sens_layer *sens;   /* per layer, or NULL */
    char sens_config[QS_QUANT_CONFIG_MAX];
    char *sens_file;             /* the file it was read from, or NULL when measured here */
    uint64_t sens_samples;

    /* Evaluation */
    struct qs_eval_result *eval; /* or NULL */
    char *eval_source;           /* samples it ran on ("2 random samples, seed 0, normal") */
    char *eval_plan;             /* the configurations evaluated, to see that the plan changed */
    unsigned eval_serial;        /* counts the evaluations taken, for the plot's key */

    struct qs_ui_run *run;       /* the run in progress, or NULL */
};

/* ---- activations.c: state, files, summaries, the run's progress ---- */

/* Create "ui->act" (qs_ui_init calls it). */
void qs_ui_act_init(struct qs_ui *ui);

/* Free "ui->act" and what it owns (qs_ui_done calls it, after the worker stopped). */
void qs_ui_act_done(struct qs_ui *ui);

/*
 * Take the command line's "options" (NULL: none) and read the files they
 * name in the background: --qstats FILE, else MODEL.qstats when it exists
 * next to the model, and --sensitivity FILE.  A file that does not fit
 * the model is not loaded, and one status-line message gives the reason.
 */
void qs_ui_act_start(struct qs_ui *ui, const struct qs_ui_options *options);

/* Read the statistics at "path" in the background (`:qstats FILE`). */
void qs_ui_act_read_qstats(struct qs_ui *ui, const char *path);

/*
 * Make "calib" (owned from now on) the statistics, read from or written
 * to "file" (NULL: not saved).
 */
void qs_ui_act_set_calib(struct qs_ui *ui, struct qs_calib *calib, const char *file);

/* The input activation of layer "index", or NULL without statistics for it. */
const struct qs_ui_act_layer *qs_ui_act_layer(const struct qs_ui *ui, size_t index);

/*
 * The sensitivity of layer "index", or NULL without a ranking.  A layer
 * the ranking left out or does not list has "measured" 0.
 */
const struct qs_ui_sens_layer *qs_ui_sens_layer(const struct qs_ui *ui, size_t index);

/*
 * Summarise the channel statistics "e": largest and median channel
 * absmax over the channels with values, and the outlier channels (see
 * QS_UI_ACT_OUTLIER_RATIO).  "outlier" (may be NULL) gets one flag per
 * channel.  "*absmax" and "*median" are NaN when no channel has values.
 */
void qs_ui_act_channels(const struct qs_calib_channels *e, double *absmax, double *median,
                        uint64_t *outliers, unsigned char *outlier);

/*
 * Set the activation configuration from "text" (`:act int8:tensor:sym:entropy`).
 * Returns 0, or -1 with an error shown.
 */
int qs_ui_act_set_config(struct qs_ui *ui, const char *text);

/* Move to the next static range: minmax, p99.99, entropy, mse. */
void qs_ui_act_next_range(struct qs_ui *ui);

/*
 * The range the activation configuration gives "t": 1 with "*lo" and
 * "*hi" set for static configurations, 0 for the dynamic ones (no fixed
 * range).
 */
int qs_ui_act_clip(const struct qs_ui *ui, const struct qs_calib_tensor *t, double *lo, double *hi);

/* Describe "spec" with "samples" samples ("--data DIR", "2 random samples, seed 0, normal"). */
char *qs_ui_inputs_source(const struct qs_input_spec *spec, size_t samples);

/* ---- runs (activations.c) ---- */

/* Start "run" (zeroed) of "kind" with "ops"; the caller fills the rest and submits it. */
void qs_ui_run_init(struct qs_ui *ui, struct qs_ui_run *run, enum qs_ui_run_kind kind,
                    const struct qs_job_ops *ops);

/*
 * Queue "run" on the run lane.  Returns 0, or -1 with an error shown (and
 * the run freed) when another run is in progress.
 */
int qs_ui_run_submit(struct qs_ui *ui, struct qs_ui_run *run);

/*
 * In the run's thread: create an interpreter for the model and read the
 * samples of the command line into "inputs".  Returns the status, with
 * problems in run->diag.  "*interp" and "inputs" need freeing whatever
 * this returns.
 */
enum qs_status qs_ui_run_inputs(struct qs_ui_run *run, struct qs_interp **interp,
                                struct qs_input_set *inputs);

/*
 * One step done (a progress callback: "ctx" is the run).  In a cancelled
 * run, this makes the interpreter fail at its next allocation, so that
 * qs_sensitivity_run and qs_eval_run return early.
 */
void qs_ui_run_step(void *ctx);

/* In the run's thread, after the core call: undo what qs_ui_run_step did to stop it. */
void qs_ui_run_end(struct qs_ui_run *run);

/* In the job's "free" hook: forget the run when it is the current one, free its diagnostics. */
void qs_ui_run_release(struct qs_ui_run *run);

/* Show the first problem of a failed run, with what the browser needs to run the model. */
void qs_ui_run_failed(struct qs_ui *ui, struct qs_ui_run *run, const char *what);

/* Cancel the run in progress (X).  Returns 0, or -1 with an error when none runs. */
int qs_ui_run_cancel(struct qs_ui *ui);

/*
 * Draw the progress bar of the run in progress at the start of the status
 * line "row" ("cols" wide).  Returns 1 when it drew one.
 */
int qs_ui_run_draw(struct qs_ui *ui, struct qs_row *row, size_t cols);

/*
 * Handle the actions of this module (calibrate, sensitivity, eval,
 * cancel).  Returns 1 when "action" was one.
 */
int qs_ui_act_action(struct qs_ui *ui, enum qs_action action);

/* ---- calibrate_job.c ---- */

/* Run the calibration over the inputs, then offer to write the statistics (C, :calibrate). */
int qs_ui_calibrate(struct qs_ui *ui);

/* Write the statistics to "path" ("force": replace it).  Returns 0, or -1 with an error shown. */
int qs_ui_calib_write(struct qs_ui *ui, const char *path, int force);

/* The default statistics file: MODEL.qstats in the output folder.  Caller frees. */
char *qs_ui_calib_default_path(const struct qs_ui *ui);

/* ---- sensitivity_job.c ---- */

/* Run the sensitivity at the layer view's configuration (R, :sensitivity). */
int qs_ui_sensitivity(struct qs_ui *ui);

/* Read the ranking `qscope sensitivity --json` wrote to "path" (:sensitivity FILE). */
int qs_ui_sensitivity_read(struct qs_ui *ui, const char *path);

/* ---- eval.c ---- */

/* Evaluate the plan over the inputs with the trace and show the eval view (t, :eval). */
int qs_ui_eval(struct qs_ui *ui);

/* The configurations of the plan as one string, to see whether it changed.  Caller frees. */
char *qs_ui_eval_plan_key(const struct qs_ui *ui);

#endif
