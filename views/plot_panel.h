/*
 * A plot panel: one gnuplot plot on screen, drawn as text on the plot
 * lane (plot.h).  The panel keeps the last image and a key that names
 * what it shows (data, size, marks).  Drawing a panel whose key changed
 * queues a new plot, and the old image stays until the new one is there.
 * Also the PNG and SVG export of a plot, asking before it replaces files.
 *
 * NOTE: text only.  The layer view's weight plots (layer_plot.c) also
 * draw sixel images, so they keep their own plot job.  They use the
 * script, image and export functions here.
 */
#ifndef QS_PLOT_PANEL_H
#define QS_PLOT_PANEL_H

#include "plot.h"
#include "row.h"

struct qs_ui;

struct qs_plot_panel {
    struct qs_plot_image image;
    char *image_key;             /* what "image" shows, or NULL */
    char *pending_key;           /* what the plot being drawn will show, or NULL */
};

/*
 * The gnuplot script of a plot (caller frees): for the screen when
 * "title" is NULL, else for a file with "title" (a quoted gnuplot
 * string) at the top.
 */
typedef char *qs_plot_script_fn(void *arg, const char *title);

/*
 * Draw "panel" in rows "top" .. "top + lines - 1" of "frame", columns
 * "left" .. "left + cols - 1".  When "key" differs from the image's and
 * the pending plot's, the script made by "script" with "arg" is queued
 * on the plot lane in "slot" (cancelling the older plot of that slot).
 */
void qs_plot_panel_draw(struct qs_ui *ui, struct qs_plot_panel *panel, int slot, const char *key,
                        qs_plot_script_fn *script, void *arg, struct qs_frame *frame, int top,
                        int left, int cols, int lines);

/* A gnuplot script being written. */
struct qs_plot_script {
    char *text;                  /* NUL-terminated, caller frees; NULL before the first line */
    size_t len;
    size_t cap;
};

/* Append formatted text (numbers in the C locale) to "script". */
void qs_plot_script_add(struct qs_plot_script *script, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget the image and the pending plot (what the panel shows changed). */
void qs_plot_panel_reset(struct qs_plot_panel *panel);

/* Copy the text image "image" into "frame" at "top", "left", at most "lines" rows. */
void qs_plot_image_draw(const struct qs_plot_image *image, struct qs_frame *frame, int top,
                        int left, int lines);

/*
 * Return the export path of a plot without its extension (caller frees):
 * "DIR/MODEL.KEY.SUFFIX".  DIR is the browser's output folder and MODEL
 * the model's file name less ".onnx".  KEY is "key" with every character
 * other than letters, digits, '.', '-' and '_' replaced by '_'.
 */
char *qs_plot_export_base(const struct qs_ui *ui, const char *key, const char *suffix);

/*
 * Write "script" (owned from now on) as BASE.png and BASE.svg in the
 * background, asking first when either file exists.
 */
void qs_plot_export_ask(struct qs_ui *ui, const char *base, char *script);

#endif
