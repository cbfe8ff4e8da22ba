/*
 * The layer view's plots: the range of each output channel (min and max,
 * outlier channels marked) and the histogram of the values (log counts,
 * outlier thresholds and the trial's clipping range marked), drawn by
 * gnuplot on the plot lane.  Where gnuplot cannot be used, one line says
 * why and a plain text histogram takes the plots' place.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "display.h"
#include "layer_view.h"

/* Plots side by side from this many columns on. */
#define PLOT_SIDE_BY_SIDE_COLS 100

/* Pixels of a character cell where the terminal does not say. */
#define PLOT_CELL_WIDTH 10
#define PLOT_CELL_HEIGHT 20

void
layer_plots_reset(struct layer_view *lv)
{
    for (int i = 0; i < PLOT_COUNT; i++) {
        qs_plot_image_done(&lv->images[i]);
        free(lv->image_key[i]);
        free(lv->pending_key[i]);
        lv->image_key[i] = lv->pending_key[i] = NULL;
    }
}

/* ---- scripts ---- */

/* A channel whose range reaches past the outlier threshold of the whole layer. */
static int
outlier_channel(const struct qs_stats *st, uint64_t c)
{
    double limit = st->options.outlier_k * st->std;

    return st->std > 0 &&
           (st->channel_max[c] - st->mean > limit || st->mean - st->channel_min[c] > limit);
}

/*
 * Point type of the outlier marks: a '*' on text terminals, a filled
 * circle in files (the scripts for files have a title).
 */
static const char *
mark_point(const char *title)
{
    return title ? "7" : "'*'";
}

static char *
range_script(const struct qs_stats *st, const char *title)
{
    struct qs_plot_script s = { 0 };
    uint64_t channels = st->layout.channels;
    int outliers = 0;

    qs_plot_script_add(&s, "set border 3\nset tics nomirror scale 0.5\nunset key\n"
                       "set format y '%%.2g'\n");
    qs_plot_script_add(&s, "set xrange [-0.5:%llu.5]\n", (unsigned long long)channels - 1);
    if (title)
        qs_plot_script_add(&s, "set title %s\nset xlabel 'output channel'\n", title);
    qs_plot_script_add(&s, "$r << EOD\n");
    for (uint64_t c = 0; c < channels; c++)
        if (!isnan(st->channel_min[c]))
            qs_plot_script_add(&s, "%llu %.9g %.9g\n", (unsigned long long)c,
                               st->channel_min[c], st->channel_max[c]);
    qs_plot_script_add(&s, "EOD\n$o << EOD\n");
    for (uint64_t c = 0; c < channels; c++)
        if (!isnan(st->channel_min[c]) && outlier_channel(st, c)) {
            qs_plot_script_add(&s, "%llu %.9g %.9g\n", (unsigned long long)c,
                               st->channel_min[c], st->channel_max[c]);
            outliers++;
        }
    qs_plot_script_add(&s, "EOD\nplot $r using 1:3 with impulses lc rgb '#3fa0ff', "
                       "$r using 1:2 with impulses lc rgb '#3fa0ff'");
    if (outliers)
        qs_plot_script_add(&s, ", $o using 1:3 with points pt %s lc rgb 'red', "
                           "$o using 1:2 with points pt %s lc rgb 'red'", mark_point(title),
                           mark_point(title));
    qs_plot_script_add(&s, "\n");
    return s.text;
}

/* A vertical mark at "x" when it lies inside the plotted range. */
static void
mark(struct qs_plot_script *s, const struct qs_hist *h, double x, const char *color)
{
    if (isfinite(x) && x > h->lo && x < h->hi)
        qs_plot_script_add(s, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead "
                           "lc rgb '%s' dt 2\n", x, x, color);
}

static char *
hist_script(const struct qs_stats *st, const struct layer_view *lv, const char *title)
{
    const struct qs_hist *h = &st->hist;
    struct qs_plot_script s = { 0 };
    double k = st->options.outlier_k * st->std;

    qs_plot_script_add(&s, "set border 3\nset tics nomirror scale 0.5\nunset key\n"
                       "set logscale y\n");
    qs_plot_script_add(&s, "set format x '%%.2g'\nset yrange [0.8:*]\nset xrange [%.9g:%.9g]\n",
                       h->lo, h->hi > h->lo ? h->hi : h->lo + 1);
    if (title)
        qs_plot_script_add(&s, "set title %s\nset xlabel 'value'\nset ylabel 'count'\n", title);
    mark(&s, h, st->mean - k, "orange");
    mark(&s, h, st->mean + k, "orange");
    if (lv->clip_known) {
        mark(&s, h, lv->clip_lo, "red");
        mark(&s, h, lv->clip_hi, "red");
    }
    qs_plot_script_add(&s, "$h << EOD\n");
    for (size_t i = 0; i < h->bins; i++)
        qs_plot_script_add(&s, "%.9g %llu\n", (qs_hist_edge(h, i) + qs_hist_edge(h, i + 1)) / 2,
                           (unsigned long long)h->counts[i]);
    /* Bars in files; in text, boxes would fill the plot with their outlines. */
    qs_plot_script_add(&s, "EOD\nplot $h using 1:($2 > 0 ? $2 : 1/0) with %s lc rgb '#3fa0ff'\n",
                       title ? "boxes fill solid 0.8 noborder" : "impulses lw 2");
    return s.text;
}

static char *
plot_script(struct qs_view *view, const struct qs_stats *st, int kind, const char *title)
{
    if (kind == PLOT_RANGE)
        return range_script(st, title);
    return hist_script(st, view->priv, title);
}

/* ---- the plot job ---- */

struct plot_job {
    struct qs_job base;
    struct qs_plot *plot;
    size_t layer;
    int kind;
    char *script;
    char *key;
    int sixel;
    int cols, lines;         /* text size, or the cells a sixel image covers */
    int width, height;       /* sixel pixels */
    struct qs_plot_image image;
};

static void
plot_job_run(struct qs_job *base)
{
    struct plot_job *job = (struct plot_job *)base;

    if (job->sixel)
        qs_plot_sixel(job->plot, job->script, job->width, job->height, &job->image);
    else
        qs_plot_text(job->plot, job->script, job->cols, job->lines, &job->image);
    job->image.sixel_lines = job->lines;
    job->image.sixel_cols = job->cols;
}

static void
plot_job_done(struct qs_job *base, void *ctx)
{
    struct plot_job *job = (struct plot_job *)base;
    struct qs_ui *ui = ctx;
    struct layer_view *lv = ui->views[QS_VIEW_LAYER].priv;

    if (!lv || !lv->pending_key[job->kind] || strcmp(lv->pending_key[job->kind], job->key) != 0)
        return;
    qs_plot_image_done(&lv->images[job->kind]);
    lv->images[job->kind] = job->image;
    memset(&job->image, 0, sizeof(job->image));
    free(lv->image_key[job->kind]);
    lv->image_key[job->kind] = lv->pending_key[job->kind];
    lv->pending_key[job->kind] = NULL;
}

static void
plot_job_free(struct qs_job *base)
{
    struct plot_job *job = (struct plot_job *)base;

    qs_plot_image_done(&job->image);
    free(job->script);
    free(job->key);
    free(job);
}

static const struct qs_job_ops plot_job_ops = {
    .name = "plot", .run = plot_job_run, .done = plot_job_done, .free = plot_job_free,
};

static void
submit_plot(struct qs_view *view, const struct qs_stats *st, int kind, int cols, int lines,
            const char *key)
{
    struct layer_view *lv = view->priv;
    struct plot_job *job = qs_calloc(1, sizeof(*job));
    int cell_w, cell_h;

    job->base.ops = &plot_job_ops;
    job->plot = view->ui->plot;
    job->layer = lv->layer;
    job->kind = kind;
    job->script = plot_script(view, st, kind, NULL);
    job->key = qs_strdup(key);
    job->sixel = lv->sixel;
    job->cols = cols;
    job->lines = lines;
    qs_display_cell_pixels(&cell_w, &cell_h);
    job->width = cols * (cell_w ? cell_w : PLOT_CELL_WIDTH);
    job->height = lines * (cell_h ? cell_h : PLOT_CELL_HEIGHT);
    free(lv->pending_key[kind]);
    lv->pending_key[kind] = qs_strdup(key);
    /* One slot per plot, so a new size or mark cancels the older drawing of the same plot. */
    qs_ui_submit(view->ui, &job->base, QS_LANE_PLOT,
                 kind == PLOT_RANGE ? QS_SLOT_PLOT_RANGE : QS_SLOT_PLOT_HIST);
}

/* ---- drawing ---- */

/* The histogram as text bars: the fallback without gnuplot. */
static void
draw_text_hist(const struct qs_stats *st, struct qs_frame *frame, int top, int lines)
{
    const struct qs_hist *h = &st->hist;
    size_t rows = lines > 0 ? (size_t)lines : 1;
    size_t per = (h->bins + rows - 1) / rows;
    size_t width = frame->cols > 30 ? (size_t)frame->cols - 26 : 4;

    for (size_t r = 0; per && r * per < h->bins && r < rows; r++) {
        struct qs_row *row = &frame->rows[top + (int)r];
        size_t last = (r + 1) * per < h->bins ? (r + 1) * per : h->bins;
        double height = 0;
        uint64_t count = 0;

        for (size_t i = r * per; i < last; i++) {
            double bin = qs_hist_log_height(h, i);

            height = bin > height ? bin : height;
            count += h->counts[i];
        }
        qs_row_addf(row, QS_STYLE_DIM, "%10.3g %10llu ", qs_hist_edge(h, r * per),
                    (unsigned long long)count);
        qs_row_bar(row, QS_STYLE_BAR, height, width);
    }
}

/* One plot: its image when it is up to date, else the last one while the new one is drawn. */
static void
draw_one(struct qs_view *view, const struct qs_stats *st, int kind, struct qs_frame *frame,
         int top, int left, int cols, int lines)
{
    struct layer_view *lv = view->priv;
    char key[256];

    snprintf(key, sizeof(key), "%zu/%d/%dx%d/%d/%d/%.9g/%.9g", lv->layer, kind, cols, lines,
             lv->sixel, kind == PLOT_HIST && lv->clip_known, lv->clip_lo, lv->clip_hi);
    if ((!lv->image_key[kind] || strcmp(lv->image_key[kind], key) != 0) &&
        (!lv->pending_key[kind] || strcmp(lv->pending_key[kind], key) != 0))
        submit_plot(view, st, kind, cols, lines, key);
    lv->plot_y[kind] = top;
    lv->plot_x[kind] = left;
    lv->plot_shown[kind] = 1;
    if (lv->images[kind].rows && !lv->sixel)
        qs_plot_image_draw(&lv->images[kind], frame, top, left, lines);
    else if (!lv->images[kind].sixel)
        qs_row_addf(&frame->rows[top + lines / 2], QS_STYLE_DIM, "%*sdrawing%s",
                    left + cols / 3, "", qs_glyphs.ellipsis);
}

static void
draw_titles(struct layer_view *lv, struct qs_row *row, int both, int half)
{
    static const char *const titles[PLOT_COUNT] = {
        "range per output channel (outliers red)",
        "histogram, log counts (outlier limits, clipping)"
    };

    for (int kind = 0; kind < PLOT_COUNT; kind++) {
        if (!both && kind != lv->focus)
            continue;
        if (both && kind == PLOT_HIST)
            qs_row_pad(row, (size_t)half);
        qs_row_add(row, kind == lv->focus ? QS_STYLE_TITLE : QS_STYLE_DIM, titles[kind]);
    }
}

void
layer_plots_draw(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    struct layer_view *lv = view->priv;
    const struct qs_stats *st = qs_ui_layer_stats(view->ui, lv->layer);
    const char *error = qs_plot_error(view->ui->plot);
    int both = frame->cols >= PLOT_SIDE_BY_SIDE_COLS;
    int half = frame->cols / 2;

    if (!st || st->finite == 0) {
        qs_row_addf(&frame->rows[top], QS_STYLE_DIM, st ? "no finite values to plot"
                                                        : "plots wait for the statistics");
        return;
    }
    if (error) {
        qs_row_addf(&frame->rows[top], QS_STYLE_WARN, "no plots: %s; text histogram:", error);
        draw_text_hist(st, frame, top + 1, height - 1);
        return;
    }
    draw_titles(lv, &frame->rows[top], both, half);
    if (both) {
        draw_one(view, st, PLOT_RANGE, frame, top + 1, 0, half - 1, height - 1);
        draw_one(view, st, PLOT_HIST, frame, top + 1, half, frame->cols - half, height - 1);
    } else
        draw_one(view, st, lv->focus, frame, top + 1, 0, frame->cols, height - 1);
}

/*
 * NOTE: never run on a terminal that draws sixel (tmux does not claim it),
 * and curses does not know the cells an image covers, so an image may stay
 * on screen after a resize until the next full redraw (Ctrl-L).
 */
void
qs_layer_view_after_paint(struct qs_ui *ui)
{
    struct layer_view *lv = ui->views[QS_VIEW_LAYER].priv;

    if (!lv || !lv->sixel || qs_ui_view(ui) != &ui->views[QS_VIEW_LAYER])
        return;
    for (int kind = 0; kind < PLOT_COUNT; kind++)
        if (lv->plot_shown[kind] && lv->images[kind].sixel)
            qs_display_sixel(lv->plot_y[kind], lv->plot_x[kind], lv->images[kind].sixel,
                             lv->images[kind].sixel_len);
}

/* ---- export ---- */

void
layer_plot_export(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    const struct qs_stats *st = NULL;
    char title[600], quoted[700];
    const char *key;
    char *base, *script;

    /* The statistics are asked for (and queued) only when gnuplot works. */
    if (!qs_plot_error(ui->plot))
        st = qs_ui_layer_stats(ui, lv->layer);
    if (!st) {
        qs_ui_error(ui, "no plot to export%s%s", qs_plot_error(ui->plot) ? ": " : " yet",
                    qs_plot_error(ui->plot) ? qs_plot_error(ui->plot) : "");
        return;
    }
    key = ui->layers->items[lv->layer].key;
    snprintf(title, sizeof(title), "%s: %s", key,
             lv->focus == PLOT_RANGE ? "range per output channel" : "histogram (log counts)");
    script = plot_script(view, st, lv->focus, qs_plot_quote(title, quoted, sizeof(quoted)));
    base = qs_plot_export_base(ui, key, lv->focus == PLOT_RANGE ? "range" : "hist");
    qs_plot_export_ask(ui, base, script);
    free(base);
}
