/*
 * The layer view's state, shared by layer.c (trial panel and keys) and
 * layer_plot.c (the two plots).
 */
#ifndef QS_LAYER_VIEW_H
#define QS_LAYER_VIEW_H

#include "plot.h"
#include "plot_panel.h"
#include "quant.h"
#include "ui.h"

/* The two plots of a layer. */
enum layer_plot_kind {
    PLOT_RANGE,              /* min and max per output channel */
    PLOT_HIST,               /* histogram of the values, log counts */
    PLOT_COUNT
};

/* Where a trial stands. */
enum trial_state {
    TRIAL_NONE,              /* nothing asked */
    TRIAL_WAITING,           /* asked; waiting for the layer's data */
    TRIAL_RUNNING,
    TRIAL_DONE,
    TRIAL_FAILED             /* "error" is the reason */
};

struct trial {
    struct qs_quant_config config;
    enum trial_state state;
    struct qs_quant_result result;
    char error[256];
};

/* Comparison rows: per-tensor, per-channel, per-group at the trial's bits. */
#define LAYER_COMPARE 3

struct layer_view {
    size_t layer;            /* the layer shown, SIZE_MAX before the first */
    struct trial trial;
    /*
     * The configuration last chosen (a key, `:config` or a plan entry).
     * Each layer shown starts from it, adapted to what the layer allows,
     * so that stepping over a bias or a per-tensor-only layer does not
     * lose the user's choice.
     */
    struct qs_quant_config wanted;
    int have_wanted;
    struct qs_quant_sizes sizes;    /* of the trial's configuration, computed at once */
    int sizes_ok;
    struct trial compare[LAYER_COMPARE];
    int compare_valid[LAYER_COMPARE];
    double clip_lo, clip_hi; /* widest clipping range of the trial, for the histogram */
    int clip_known;
    double key_time;         /* qs_trace_now() of the key that asked for the trial */

    /* Plots */
    int focus;               /* the plot shown when only one fits, and the one exported */
    int sixel;               /* draw sixel images instead of text */
    struct qs_plot_image images[PLOT_COUNT];
    char *image_key[PLOT_COUNT];    /* what each image shows (layer, size, marks) */
    char *pending_key[PLOT_COUNT];  /* what the plot job being drawn will show */
    int plot_y[PLOT_COUNT];  /* screen place of each plot at the last drawing, for sixel */
    int plot_x[PLOT_COUNT];
    int plot_shown[PLOT_COUNT];

    /* The input activation's plots (layer_act.c), shown instead of the weight's with x */
    int act;
    struct qs_plot_panel act_panels[PLOT_COUNT];   /* channels, |x| histogram */
};

/* Draw the plots of the layer in rows "top" .. "top + height - 1" of "frame". */
void layer_plots_draw(struct qs_view *view, struct qs_frame *frame, int top, int height);

/* Export the focused plot as PNG and SVG (asks before replacing files). */
void layer_plot_export(struct qs_view *view);

/* Forget the images (another layer is shown). */
void layer_plots_reset(struct layer_view *lv);

/* ---- layer_act.c: the plots of the layer's input activation ---- */

/* The statistics line of the input activation, in place of the weight's. */
void layer_act_stats(struct qs_view *view, struct qs_row *row);

/* Draw the activation plots in rows "top" .. "top + height - 1" of "frame". */
void layer_act_draw(struct qs_view *view, struct qs_frame *frame, int top, int height);

/* Switch between the weight's plots and the input activation's (x). */
void layer_act_toggle(struct qs_view *view);

/* Move the activation configuration to the next range method, saying where x clips now (c). */
void layer_act_next_range(struct qs_view *view);

/* Export the focused activation plot as PNG and SVG. */
void layer_act_export(struct qs_view *view);

/* Free the activation plots' images. */
void layer_act_reset(struct layer_view *lv);

#endif
