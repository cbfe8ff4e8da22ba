/*
 * Plots through gnuplot: one gnuplot process, found at run time
 * (QSCOPE_GNUPLOT, else "gnuplot" on PATH), started at the first plot and
 * fed over a pipe for the rest of the session.
 *
 * A request is a gnuplot script that sets up and draws one plot (data
 * inline as datablocks); qs_plot_text wraps it in `set terminal dumb` of
 * the wanted size (with ansi256 colours where the terminal has 256
 * colours) and turns the text that comes back into rows with colour
 * styles.  qs_plot_sixel does the same with the sixelgd terminal, and
 * qs_plot_export writes PNG and SVG files.
 *
 * Never hangs: the pipes are non-blocking, every read and write has a
 * time limit, and SIGPIPE is ignored (display.c).  A gnuplot that cannot
 * be found, dies, or does not answer in time is reported in one line
 * (qs_plot_error) and not started again; callers then draw a plain text
 * histogram instead.  Every line sent to gnuplot goes to the trace.
 *
 * Threads: qs_plot_new, qs_plot_configure and qs_plot_free belong to the
 * main thread; the drawing calls run on the plot lane (worker.h) only.
 */
#ifndef QS_PLOT_H
#define QS_PLOT_H

#include <stddef.h>

#include "row.h"
#include "status.h"

struct qs_plot;

/* What one plot request gave. */
struct qs_plot_image {
    int lines;               /* text rows (dumb terminal) */
    int cols;
    struct qs_row *rows;     /* "lines" rows */
    char *sixel;             /* sixel image bytes, or NULL */
    size_t sixel_len;
    int sixel_lines;         /* screen lines and columns the sixel image covers */
    int sixel_cols;
};

/* A plotter that has not started gnuplot yet (it starts at the first plot). */
struct qs_plot *qs_plot_new(void);

/* Stop gnuplot and free the plotter.  NULL is allowed. */
void qs_plot_free(struct qs_plot *plot);

/* Terminal abilities: "colors" 0, 8 or 256; "sixel" whether the terminal said it draws sixel. */
void qs_plot_configure(struct qs_plot *plot, int colors, int sixel);

/* Whether sixel images may be drawn. */
int qs_plot_sixel_supported(const struct qs_plot *plot);

/*
 * Why plots cannot be drawn ("gnuplot not found: ..."), or NULL while
 * gnuplot works or has not been tried.  The string stays valid until
 * qs_plot_free.  Safe from any thread.
 */
const char *qs_plot_error(const struct qs_plot *plot);

/*
 * Draw "script" as text "cols" x "lines" into "out" (zeroed first; free
 * with qs_plot_image_done).  Returns QS_OK, or QS_UNSUPPORTED when
 * gnuplot cannot be used (see qs_plot_error).
 */
enum qs_status qs_plot_text(struct qs_plot *plot, const char *script, int cols, int lines,
                            struct qs_plot_image *out);

/* Draw "script" as a sixel image of "width" x "height" pixels into out->sixel. */
enum qs_status qs_plot_sixel(struct qs_plot *plot, const char *script, int width, int height,
                             struct qs_plot_image *out);

/*
 * Write "script" as a PNG file and an SVG file ("png_path", "svg_path"),
 * each through a temporary file in its folder renamed into place; an
 * existing file is replaced only with "force".  Returns QS_OK, or
 * QS_OUTPUT or QS_UNSUPPORTED with one line in "diag".
 */
enum qs_status qs_plot_export(struct qs_plot *plot, const char *script, const char *png_path,
                              const char *svg_path, int force, struct qs_diag *diag);

void qs_plot_image_done(struct qs_plot_image *image);

/*
 * Turn gnuplot's dumb-terminal output "text" of "len" bytes (ANSI colour
 * escapes included) into at most "lines" rows of "cols" columns.
 * Exposed for tests.
 */
void qs_plot_parse_text(const char *text, size_t len, int cols, int lines,
                        struct qs_plot_image *out);

/* Quote "text" as a gnuplot string literal into "buf" (for titles and paths). */
const char *qs_plot_quote(const char *text, char *buf, size_t size);

#endif
