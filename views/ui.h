/*
 * The browser: `qscope MODEL` and `qscope DIR` in a terminal.
 *
 * struct qs_ui is the state every view shares: the model and its layers,
 * what is known about each layer (statistics computed in the background),
 * the plan being edited, the view stack, the input line and the message
 * in the status line.  ui.c runs the main loop and the generic key
 * driver; ui_layers.c keeps the layer statistics, layer data and the plan;
 * ui_cmd.c runs `:` commands and key scripts.
 *
 * Threads: everything here belongs to the main thread.  Jobs (worker.h)
 * get copies or references of what they need and hand results back in
 * their "done" hook, which runs on the main thread.
 */
#ifndef QS_UI_H
#define QS_UI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "layers.h"
#include "model.h"
#include "plan.h"
#include "quant.h"
#include "row.h"
#include "stats.h"
#include "view.h"
#include "worker.h"

struct qs_plot;
struct qs_corpus;
struct qs_ui_act;
struct qs_ui_options;

/* Deepest view stack. */
#define QS_UI_STACK_MAX 16

/* Job slots (see worker.h): a new job of a slot cancels the older ones. */
enum qs_ui_slot {
    QS_SLOT_TRIAL,           /* the layer view's trial */
    QS_SLOT_COMPARE,         /* the layer view's comparison rows */
    QS_SLOT_DATA,            /* loading the layer view's data */
    QS_SLOT_PLOT_RANGE,      /* drawing the layer view's range plot */
    QS_SLOT_PLOT_HIST,       /* drawing its histogram */
    QS_SLOT_AUTO,            /* the automatic plan */
    QS_SLOT_CORPUS,          /* the folder scan */
    QS_SLOT_RUN,             /* the run of the model: calibration, sensitivity or evaluation */
    QS_SLOT_PLOT_ACT_CHANNELS,   /* the layer view's plot of its input's channels */
    QS_SLOT_PLOT_ACT_HIST,   /* the layer view's histogram of its input */
    QS_SLOT_PLOT_EVAL        /* the eval view's plot */
};

enum qs_ui_stats_state {
    QS_STATS_NONE,           /* not asked for yet */
    QS_STATS_PENDING,        /* queued or running */
    QS_STATS_DONE,
    QS_STATS_FAILED          /* "error" is the reason */
};

/* What the browser knows about one layer. */
struct qs_ui_layer {
    enum qs_ui_stats_state state;
    struct qs_stats stats;   /* valid when DONE */
    char *error;             /* FAILED: the reason */
    int measuring;           /* plan measurements of this layer queued and not yet back */
    size_t entry;            /* index of its plan entry last time it was looked up (a hint) */
};

/*
 * A layer's float32 data and trial layout, shared by the trials that run
 * on it.  Reference counted on the main thread only: a job takes a
 * reference when it is made and drops it in its "free" hook.
 */
struct qs_ui_data {
    int refs;
    size_t layer;
    struct qs_layer_data data;
    struct qs_quant_layout layout;
};

/* What the input line is for. */
enum qs_prompt_kind {
    QS_PROMPT_NONE,
    QS_PROMPT_COMMAND,       /* `:` */
    QS_PROMPT_SEARCH,        /* `/` */
    QS_PROMPT_TEXT,          /* a file name or a budget for a callback */
    QS_PROMPT_CONFIRM        /* a yes/no question */
};

typedef void qs_prompt_done_fn(struct qs_ui *ui, const char *text, void *arg);
typedef void qs_confirm_done_fn(struct qs_ui *ui, int yes, void *arg);

struct qs_prompt {
    enum qs_prompt_kind kind;
    char label[160];
    char text[1024];
    size_t len;              /* bytes in "text" */
    qs_prompt_done_fn *done;
    qs_confirm_done_fn *confirm;
    void *arg;               /* passed to the callback; freed with free() when not taken */
};

struct qs_ui {
    const struct qs_cli *cli;
    const char *path;        /* the model or folder as given */
    int threads;
    int script;              /* input comes from QSCOPE_SCRIPT: wait for jobs after each key */

    struct qs_model *model;  /* NULL for a folder */
    struct qs_layers *layers;    /* NULL when the layers could not be found */
    struct qs_ui_layer *info;    /* one per layer */
    size_t stats_queued;     /* statistics jobs queued so far, for the progress line */
    size_t stats_finished;
    uint64_t weight_params;  /* elements of every layer */
    struct qs_corpus *corpus;    /* a folder of models, else NULL */
    struct qs_ui_act *act;   /* activation statistics, sensitivity, evaluation (activations.h) */

    struct qs_plan plan;
    int plan_dirty;          /* changed since written or read */
    char *plan_path;         /* the file last written or read, or NULL */
    size_t plan_measuring;   /* plan measurements queued and not yet back */
    int plan_totals_stale;   /* plan.totals miss measurements: see qs_ui_plan_totals */
    struct qs_ui_data *data; /* the data of the layer last shown, or NULL */
    size_t data_loading;     /* layer whose data is being loaded, or SIZE_MAX */
    char *pending_write;     /* plan file to write once every entry is measured, or NULL */
    int pending_force;       /* replace it when it exists */
    int identity_done;       /* the plan names the model (its SHA-256 is computed) */

    size_t layer;            /* the layer the layer view shows; SIZE_MAX: none chosen yet */
    size_t *layer_order;     /* layer indices in the layers view's order, for ] and [ */
    size_t n_layer_order;
    char *graph_filter;      /* op type the graph view shows alone, or NULL */
    unsigned generation;     /* bumped when statistics, the plan or filters change */

    struct qs_view views[QS_VIEW_COUNT];
    enum qs_view_id stack[QS_UI_STACK_MAX];
    int depth;

    struct qs_worker *worker;
    struct qs_plot *plot;
    struct qs_prompt prompt;
    char search[128];        /* the last search, lowercase */
    char message[256];
    int message_style;       /* QS_STYLE_MESSAGE or QS_STYLE_ERROR */

    int lines, cols;
    struct qs_frame frame;
    int quit;
    int exit_status;
    double key_time;         /* qs_trace_now() of the last key, for latency traces */
};

/*
 * `qscope MODEL|DIR`: open the browser on "cli->args[0]", with the
 * inputs and files of "options" (may be NULL for none; borrowed for the
 * browser's lifetime).  Where standard output is not a terminal, or TERM
 * is unset or "dumb", prints what `qscope info` (or `qscope ops` for a
 * folder) prints and a one-line note instead.  A model that fails to
 * load gives the commands' message before the screen is touched.
 * Returns the exit status.
 */
int qs_ui_main(const struct qs_cli *cli, const struct qs_ui_options *options);

/* Set up "ui" for "cli" without a terminal: load nothing.  For tests. */
void qs_ui_init(struct qs_ui *ui, const struct qs_cli *cli, int lines, int cols);

/* Take "model" (owned from now on), find its layers and start the statistics. */
void qs_ui_set_model(struct qs_ui *ui, struct qs_model *model);

/* Browse the folder "path" of models: the op histogram of all of them. */
void qs_ui_set_folder(struct qs_ui *ui, const char *path);

/* Free everything "ui" owns. */
void qs_ui_done(struct qs_ui *ui);

/* True when the character locale is UTF-8 (else the browser draws ASCII only). */
int qs_ui_locale_is_utf8(void);

/* Handle one key as the main loop does (prompt, chain, generic driver). */
void qs_ui_key(struct qs_ui *ui, int key, const struct qs_mouse *mouse);

/* Build the whole screen in ui->frame. */
void qs_ui_draw(struct qs_ui *ui);

/* The current view. */
struct qs_view *qs_ui_view(struct qs_ui *ui);

/* Make view "id" the current one (opening it first); returns 0 or -1 when it cannot be shown. */
int qs_ui_show(struct qs_ui *ui, enum qs_view_id id);

/* Return to the view under the current one.  Returns 0, or -1 at the bottom. */
int qs_ui_back(struct qs_ui *ui);

/* Show a message in the status line until the next key. */
void qs_ui_message(struct qs_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qs_ui_error(struct qs_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Show the first problem of "diag" as an error (with a count of the rest). */
void qs_ui_error_diag(struct qs_ui *ui, const struct qs_diag *diag);

/*
 * Ask for a line of text in the status line; "done" gets it when Enter is
 * pressed (not when Esc cancels).  "arg" is handed to "done", and freed
 * with free() when the prompt is cancelled.
 */
void qs_ui_prompt(struct qs_ui *ui, const char *label, const char *initial,
                  qs_prompt_done_fn *done, void *arg);

/* Ask a yes/no question; "done" gets the answer (Esc and n are no). */
void qs_ui_confirm(struct qs_ui *ui, const char *question, qs_confirm_done_fn *done, void *arg);

/* Queue a job (see worker.h); in script mode the key loop waits for it. */
void qs_ui_submit(struct qs_ui *ui, struct qs_job *job, enum qs_lane lane, int slot);

/* Run a `:` command line (without the colon).  Returns 0, or -1 with an error shown. */
int qs_ui_command(struct qs_ui *ui, const char *line);

/*
 * True when files may be written into folder "dir": it grants write
 * permission and has a write bit at all (so that a read-only folder
 * counts as read-only for root too).
 */
int qs_ui_dir_writable(const char *dir);

/*
 * Folder for files the browser writes: --out-dir, else the model's
 * folder, else the current folder where the model's folder is read-only.
 * Caller frees.
 */
char *qs_ui_output_dir(const struct qs_ui *ui);

/* Number of `:` commands, and the name and one-line help of command "i" (static strings). */
size_t qs_ui_command_count(void);
const char *qs_ui_command_name(size_t i);
const char *qs_ui_command_help(size_t i);

/* Write the screen as curses shows it (or ui->frame without a display) to "path". */
int qs_ui_save_screen(struct qs_ui *ui, const char *path);

/* ---- ui_layers.c: layers, statistics, data and the plan ---- */

/* Free the layers, their statistics and the plan (qs_ui_done calls it). */
void qs_ui_layers_done(struct qs_ui *ui);

/* Index of the layer with key "key", or SIZE_MAX. */
size_t qs_ui_layer_find(const struct qs_ui *ui, const char *key);

/* The layer whose weight is the value "value", or SIZE_MAX. */
size_t qs_ui_layer_of_value(const struct qs_ui *ui, const struct qs_value *value);

/*
 * Statistics of layer "index", or NULL while they are not computed;
 * queues the computation when it was never asked for.
 */
const struct qs_stats *qs_ui_layer_stats(struct qs_ui *ui, size_t index);

/* Queue statistics for every layer in the background. */
void qs_ui_stats_all(struct qs_ui *ui);

/*
 * The data of layer "index" with a new reference (release with
 * qs_ui_data_unref), or NULL while it is loading: the load is queued and
 * the layer view redrawn when it is there.
 */
struct qs_ui_data *qs_ui_data_get(struct qs_ui *ui, size_t index);
void qs_ui_data_unref(struct qs_ui_data *data);

/* Show layer "index" in the layer view. */
void qs_ui_open_layer(struct qs_ui *ui, size_t index);

/* The plan entry of layer "index", or NULL when the plan does not list it. */
const struct qs_plan_layer *qs_ui_plan_entry(const struct qs_ui *ui, size_t index);

/*
 * Put "config" (NULL: float) into the plan for layer "index" and queue
 * its measurement.  Returns 0, or -1 with an error shown when the layer
 * cannot take it.
 */
int qs_ui_plan_set(struct qs_ui *ui, size_t index, const struct qs_quant_config *config);

/* Bytes of layer "index" under the plan: float32, measured, or computed from its layout. */
uint64_t qs_ui_layer_bytes(const struct qs_ui *ui, size_t index);

/*
 * Header numbers: float32 bytes of the quantizable layers, and their bytes
 * with the plan applied (layers not measured yet count as float).
 */
void qs_ui_sizes(const struct qs_ui *ui, uint64_t *float_bytes, uint64_t *planned_bytes);

/*
 * The plan's totals, summed again first when measurements arrived since
 * (ui->plan.totals itself may lag behind them).
 */
const struct qs_plan_totals *qs_ui_plan_totals(struct qs_ui *ui);

/* Queue the measurement of layer "index"'s plan entry (nothing when it is measured). */
void qs_ui_plan_measure(struct qs_ui *ui, size_t index);

/* Compute the model's SHA-256 for the plan in the background. */
void qs_ui_plan_identity(struct qs_ui *ui);

/* Write the plan waiting in "pending_write" once nothing is left to measure. */
void qs_ui_plan_written_check(struct qs_ui *ui);

/*
 * Write the plan to "path" ("force": replace an existing file); waits
 * for measurements still running, then writes.  Returns 0, or -1 with an
 * error shown.
 */
int qs_ui_plan_write(struct qs_ui *ui, const char *path, int force);

/* Ask for a file name, then whether to replace it, then write the plan. */
void qs_ui_plan_write_ask(struct qs_ui *ui);

/* Read the plan at "path" and measure it. */
int qs_ui_plan_read(struct qs_ui *ui, const char *path);

/* Start the automatic plan for "budget" ("4.5bpw", "300MB", "25%"). */
int qs_ui_plan_auto(struct qs_ui *ui, const char *budget);

/* Format a byte count for people: "812 B", "23.7 KB", "10.3 MB" (powers of 1000). */
const char *qs_ui_bytes_text(uint64_t bytes, char *buf, size_t size);

/* Format a count for people: "216", "5.93k", "10.3M". */
const char *qs_ui_count_text(uint64_t count, char *buf, size_t size);

/* A configuration string for tables: "text" without the default ":minmax" range. */
const char *qs_ui_config_short(const char *text, char *buf, size_t size);

/* Format an SQNR: "45.2 dB", "exact" when infinite; "-" when NaN. */
const char *qs_ui_sqnr_text(double sqnr_db, int exact, char *buf, size_t size);

#endif
