/*
 * The layer view's plots of the layer's input activation x (the key x
 * switches to them): the channel statistics along the axis the layer
 * reduces over (absmax and mean |x| per input channel, outlier channels
 * marked) and the |x| histogram of the activation (log counts, the
 * clipping range of the activation configuration marked).  Every figure
 * comes from the calibration statistics (calib.h) and act_quant.h's
 * range methods.  Without gnuplot, a text histogram replaces the plots.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "layer_view.h"

/* Plots side by side from this many columns on, as the weight's plots. */
#define ACT_SIDE_BY_SIDE_COLS 100

/* Room above the largest value on the histogram's x axis, so that marks at the end show. */
#define ACT_HIST_MARGIN 1.05

/* Most labelled ticks on the histogram's x axis on a text screen. */
#define ACT_HIST_TICKS 5

static const int act_slots[PLOT_COUNT] = { QS_SLOT_PLOT_ACT_CHANNELS, QS_SLOT_PLOT_ACT_HIST };

void
qs_layer_view_config(struct qs_ui *ui, struct qs_quant_config *config)
{
    struct layer_view *lv = ui->views[QS_VIEW_LAYER].priv;

    if (lv && lv->layer != SIZE_MAX) {
        *config = lv->trial.config;
        return;
    }
    qs_quant_config_default(QS_QUANT_INT8, config);
}

void
layer_act_reset(struct layer_view *lv)
{
    for (int i = 0; i < PLOT_COUNT; i++)
        qs_plot_panel_reset(&lv->act_panels[i]);
}

static const struct qs_ui_act_layer *
shown_input(struct qs_view *view)
{
    return qs_ui_act_layer(view->ui, ((struct layer_view *)view->priv)->layer);
}

/* The calibration histogram of "t" as a struct qs_hist (borrowing its counts), for stats.h. */
static struct qs_hist
hist_of(const struct qs_calib_tensor *t)
{
    struct qs_hist h = {
        .kind = QS_HIST_ABS, .lo = 0.0, .hi = t->hist_hi, .bins = QS_CALIB_BINS,
        .counts = t->hist, .total = t->count, .skipped = t->nonfinite,
    };

    return h;
}

/* Bins up to the last one with values (0 for an empty histogram). */
static size_t
used_bins(const struct qs_calib_tensor *t)
{
    size_t n = QS_CALIB_BINS;

    while (n > 0 && t->hist[n - 1] == 0)
        n--;
    return n;
}

/* ---- scripts ---- */

/* The tick step for [0, "range"]: 1, 2 or 5 times a power of ten, giving at most "ticks" ticks. */
static double
tick_step(double range, int ticks)
{
    double raw = range / ticks;
    double power = pow(10.0, floor(log10(raw)));

    if (!(raw > 0) || !isfinite(raw))
        return 1.0;
    if (raw <= power)
        return power;
    if (raw <= 2 * power)
        return 2 * power;
    if (raw <= 5 * power)
        return 5 * power;
    return 10 * power;
}

/* A dashed vertical (or, with "horizontal", horizontal) mark at "at". */
static void
mark(struct qs_plot_script *s, double at, int horizontal, const char *color)
{
    if (!isfinite(at) || at <= 0)
        return;
    if (horizontal)
        qs_plot_script_add(s, "set arrow from graph 0, first %.9g to graph 1, first %.9g nohead "
                           "lc rgb '%s' dt 2\n", at, at, color);
    else
        qs_plot_script_add(s, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead lc rgb '%s' "
                           "dt 2\n", at, at, color);
}

static char *
channels_script(void *arg, const char *title)
{
    const struct qs_ui_act_layer *x = shown_input(arg);
    const struct qs_calib_channels *e = x->input;
    unsigned char *outlier = qs_calloc(e->channels + 1, 1);
    struct qs_plot_script s = { 0 };
    double absmax, median;
    uint64_t outliers;

    qs_ui_act_channels(e, &absmax, &median, &outliers, outlier);
    qs_plot_script_add(&s, "set border 3\nset tics nomirror scale 0.5\nunset key\n"
                       "set format y '%%.3g'\nset yrange [0:*]\nset xrange [-0.5:%" PRIu64 ".5]\n",
                       e->channels - 1);
    if (title)
        qs_plot_script_add(&s, "set title %s noenhanced\nset xlabel 'input channel'\n"
                           "set ylabel '|x|'\n", title);
    if (QS_UI_ACT_OUTLIER_RATIO * median <= absmax)
        mark(&s, QS_UI_ACT_OUTLIER_RATIO * median, 1, "orange");
    qs_plot_script_add(&s, "$a << EOD\n");
    for (uint64_t c = 0; c < e->channels; c++)
        if (e->count[c] > 0)
            qs_plot_script_add(&s, "%" PRIu64 " %.9g %.9g\n", c, e->absmax[c], e->mean_abs[c]);
    qs_plot_script_add(&s, "EOD\n$o << EOD\n");
    for (uint64_t c = 0; c < e->channels; c++)
        if (outlier[c])
            qs_plot_script_add(&s, "%" PRIu64 " %.9g\n", c, e->absmax[c]);
    qs_plot_script_add(&s, "EOD\nplot $a using 1:2 with impulses lc rgb '#3fa0ff', "
                       "$a using 1:3 with lines lc rgb '#00a000'");
    if (outliers)
        qs_plot_script_add(&s, ", $o using 1:2 with points pt %s lc rgb 'red'",
                           title ? "7" : "'*'");
    qs_plot_script_add(&s, "\n");
    free(outlier);
    return s.text;
}

static char *
hist_script(void *arg, const char *title)
{
    struct qs_view *view = arg;
    const struct qs_calib_tensor *t = shown_input(view)->tensor;
    struct qs_hist h = hist_of(t);
    struct qs_plot_script s = { 0 };
    size_t used = used_bins(t);
    double lo = NAN, hi = NAN, right = t->absmax;

    if (qs_ui_act_clip(view->ui, t, &lo, &hi))
        right = fmax(right, fmax(-lo, hi));
    right = right > 0 ? right * ACT_HIST_MARGIN : 1.0;
    qs_plot_script_add(&s, "set border 3\nset tics nomirror scale 0.5\nunset key\n"
                       "set logscale y\nset format x '%%.3g'\nset yrange [0.8:*]\n"
                       "set xrange [0:%.9g]\n", right);
    /* On a text screen, gnuplot's own ticks would run into each other. */
    if (!title)
        qs_plot_script_add(&s, "set xtics 0, %.9g\n", tick_step(right, ACT_HIST_TICKS));
    /* Bars one bin wide: with only the nonzero bins listed, gnuplot would widen them. */
    if (title)
        qs_plot_script_add(&s, "set title %s noenhanced\nset xlabel '|x|'\nset ylabel 'count'\n"
                           "set boxwidth %.9g absolute\n", title, t->hist_hi / QS_CALIB_BINS);
    mark(&s, -lo, 0, "red");
    if (hi != -lo)
        mark(&s, hi, 0, "red");
    qs_plot_script_add(&s, "$h << EOD\n");
    for (size_t i = 0; i < used; i++)
        if (t->hist[i])
            qs_plot_script_add(&s, "%.9g %" PRIu64 "\n",
                               (qs_hist_edge(&h, i) + qs_hist_edge(&h, i + 1)) / 2, t->hist[i]);
    qs_plot_script_add(&s, "EOD\nplot $h using 1:2 with %s lc rgb '#3fa0ff'\n",
                       title ? "boxes fill solid 0.8 noborder" : "impulses lw 2");
    return s.text;
}

/* ---- the statistics line ---- */

static void
add_clip(struct qs_ui *ui, const struct qs_calib_tensor *t, struct qs_row *row)
{
    char text[QS_ACT_CONFIG_MAX];
    double lo, hi;

    qs_act_config_format(&ui->act->config, text, sizeof(text));
    qs_row_addf(row, QS_STYLE_DIM, "  %s", text);
    if (qs_ui_act_clip(ui, t, &lo, &hi))
        qs_row_addf(row, QS_STYLE_NORMAL, " clips %.4g..%.4g", lo, hi);
    else
        qs_row_add(row, QS_STYLE_DIM, " (scales at run time)");
}

/* Most important first, since a narrow screen cuts the end off. */
void
layer_act_stats(struct qs_view *view, struct qs_row *row)
{
    struct qs_ui *ui = view->ui;
    const struct qs_ui_act_layer *x = shown_input(view);
    const struct qs_calib_tensor *t;

    if (!ui->act->calib) {
        qs_row_add(row, QS_STYLE_DIM, "input x: no activation statistics");
        return;
    }
    if (!x) {
        qs_row_add(row, QS_STYLE_DIM, "input x: none in the statistics (only quantizable "
                   "layers' inputs have channel statistics)");
        return;
    }
    t = x->tensor;
    qs_row_add(row, QS_STYLE_DIM, "x ");
    qs_row_add(row, QS_STYLE_TITLE, x->input->tensor);
    if (t)
        qs_row_addf(row, QS_STYLE_NORMAL, " %.4g..%.4g", t->min, t->max);
    qs_row_addf(row, x->outliers ? QS_STYLE_WARN : QS_STYLE_NORMAL,
                "  outlier ch %" PRIu64 " (>%g%smedian %.3g)", x->outliers,
                QS_UI_ACT_OUTLIER_RATIO, qs_glyphs.times, x->median);
    if (t)
        add_clip(ui, t, row);
    qs_row_addf(row, QS_STYLE_DIM, "  %" PRIu64 " ch", x->input->channels);
    if (t && t->count)
        qs_row_addf(row, QS_STYLE_DIM, "  zeros %.1f%%",
                    100.0 * (double)t->zeros / (double)t->count);
}

void
layer_act_next_range(struct qs_view *view)
{
    struct qs_ui *ui = view->ui;
    const struct qs_ui_act_layer *x = shown_input(view);
    char text[QS_ACT_CONFIG_MAX];
    double lo, hi;

    qs_ui_act_next_range(ui);
    if (!x || !qs_ui_act_clip(ui, x->tensor, &lo, &hi))
        return;
    qs_act_config_format(&ui->act->config, text, sizeof(text));
    qs_ui_message(ui, "activations: %s, so %s clips at %.4g..%.4g", text, x->input->tensor, lo,
                  hi);
}

/* ---- drawing ---- */

/* Whether "value" lies in the row [from, to), or [from, to] for the "last" row. */
static int
in_row(double value, double from, double to, int last)
{
    return value >= from && (value < to || (last && value <= to));
}

/* The |x| histogram as text bars, the clipping row marked: the fallback without gnuplot. */
static void
draw_text_hist(struct qs_ui *ui, const struct qs_calib_tensor *t, struct qs_frame *frame,
               int top, int lines)
{
    struct qs_hist h = hist_of(t);
    size_t used = used_bins(t);
    size_t rows = lines > 0 ? (size_t)lines : 1;
    size_t per = (used + rows - 1) / rows;
    size_t width = frame->cols > 36 ? (size_t)frame->cols - 32 : 4;
    double lo = NAN, hi = NAN;
    int clip = qs_ui_act_clip(ui, t, &lo, &hi);

    for (size_t r = 0; per && r * per < used && r < rows; r++) {
        struct qs_row *row = &frame->rows[top + (int)r];
        size_t last = (r + 1) * per < used ? (r + 1) * per : used;
        double height = 0, from = qs_hist_edge(&h, r * per), to = qs_hist_edge(&h, last);
        uint64_t count = 0;

        for (size_t i = r * per; i < last; i++) {
            height = fmax(height, qs_hist_log_height(&h, i));
            count += t->hist[i];
        }
        qs_row_addf(row, QS_STYLE_DIM, "%10.3g %10" PRIu64 " ", from, count);
        qs_row_bar(row, QS_STYLE_BAR, height, width);
        /* The last row includes its top edge, because the largest |x| may equal it. */
        if (clip && (in_row(hi, from, to, last == used) || (-lo > 0 &&
                                                            in_row(-lo, from, to, last == used))))
            qs_row_add(row, QS_STYLE_BAD, " clip");
    }
}

static void
draw_titles(struct layer_view *lv, struct qs_row *row, int both, int half)
{
    static const char *const titles[PLOT_COUNT] = {
        "x per input channel: absmax, mean |x|, outliers red",
        "|x| histogram, log counts, clipping red"
    };

    for (int kind = 0; kind < PLOT_COUNT; kind++) {
        if (!both && kind != lv->focus)
            continue;
        if (both && kind == PLOT_HIST)
            qs_row_pad(row, row->width < (size_t)half ? (size_t)half : row->width + 2);
        qs_row_add(row, kind == lv->focus ? QS_STYLE_TITLE : QS_STYLE_DIM, titles[kind]);
    }
}

static void
draw_one(struct qs_view *view, int kind, struct qs_frame *frame, int top, int left, int cols,
         int lines)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    char key[256], config[QS_ACT_CONFIG_MAX];

    if (kind == PLOT_HIST && !shown_input(view)->tensor) {
        qs_row_add(&frame->rows[top], QS_STYLE_DIM, "no histogram: the statistics lack x");
        return;
    }
    qs_act_config_format(&ui->act->config, config, sizeof(config));
    snprintf(key, sizeof(key), "%u/%zu/%d/%dx%d/%s", ui->act->calib_serial, lv->layer, kind,
             cols, lines, kind == PLOT_HIST ? config : "");
    qs_plot_panel_draw(ui, &lv->act_panels[kind], act_slots[kind], key,
                       kind == PLOT_RANGE ? channels_script : hist_script, view, frame, top, left,
                       cols, lines);
}

/* Say why there is nothing to plot; returns 1 when there is not. */
static int
draw_missing(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    struct qs_ui *ui = view->ui;
    char calibrate[16];

    qs_key_name(qs_actions[QS_ACTION_CALIBRATE].keys[0], calibrate, sizeof(calibrate));
    if (!ui->act->calib) {
        qs_row_add(&frame->rows[top], QS_STYLE_WARN, "no activation statistics to plot");
        if (height > 2)
            qs_row_addf(&frame->rows[top + 2], QS_STYLE_DIM, "%s calibrates over the inputs "
                        "given with --data DIR, --input NAME=FILE or --random N; --qstats "
                        "FILE reads a file from qscope calibrate", calibrate);
        return 1;
    }
    if (!shown_input(view)) {
        qs_row_add(&frame->rows[top], QS_STYLE_DIM, "this layer's input has no channel "
                   "statistics (biases and normalisation parameters have none)");
        return 1;
    }
    return 0;
}

void
layer_act_draw(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    struct layer_view *lv = view->priv;
    const char *error = qs_plot_error(view->ui->plot);
    int both = frame->cols >= ACT_SIDE_BY_SIDE_COLS;
    int half = frame->cols / 2;

    if (draw_missing(view, frame, top, height))
        return;
    if (error) {
        qs_row_addf(&frame->rows[top], QS_STYLE_WARN, "no plots: %s; text histogram of |x|:",
                    error);
        if (shown_input(view)->tensor)
            draw_text_hist(view->ui, shown_input(view)->tensor, frame, top + 1, height - 1);
        return;
    }
    draw_titles(lv, &frame->rows[top], both, half);
    if (both) {
        draw_one(view, PLOT_RANGE, frame, top + 1, 0, half - 1, height - 1);
        draw_one(view, PLOT_HIST, frame, top + 1, half, frame->cols - half, height - 1);
    } else {
        draw_one(view, lv->focus, frame, top + 1, 0, frame->cols, height - 1);
    }
}

void
layer_act_toggle(struct qs_view *view)
{
    struct layer_view *lv = view->priv;

    lv->act = !lv->act;
    qs_ui_message(view->ui, lv->act ? "plots of the input activation x" : "plots of the weight");
}

/* ---- export ---- */

void
layer_act_export(struct qs_view *view)
{
    struct layer_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    const struct qs_ui_act_layer *x = shown_input(view);
    const char *key = ui->layers->items[lv->layer].key;
    char title[600], quoted[700];
    char *base, *script;

    if (!x || qs_plot_error(ui->plot) || (lv->focus == PLOT_HIST && !x->tensor)) {
        qs_ui_error(ui, "no activation plot to export%s%s", qs_plot_error(ui->plot) ? ": " : "",
                    qs_plot_error(ui->plot) ? qs_plot_error(ui->plot) : "");
        return;
    }
    snprintf(title, sizeof(title), "%s: input %s, %s", key, x->input->tensor,
             lv->focus == PLOT_RANGE ? "absmax and mean |x| per channel"
                                     : "|x| histogram (log counts)");
    qs_plot_quote(title, quoted, sizeof(quoted));
    script = lv->focus == PLOT_RANGE ? channels_script(view, quoted) : hist_script(view, quoted);
    base = qs_plot_export_base(ui, key, lv->focus == PLOT_RANGE ? "x-channels" : "x-hist");
    qs_plot_export_ask(ui, base, script);
    free(base);
}
