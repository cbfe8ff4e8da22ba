/*
 * Eval view: the plan's end-to-end error (t, `:eval`).  qs_eval_run runs
 * the model on the command line's inputs in float and with the plan's
 * weights fake-quantized, with the trace on.  The view shows the outputs'
 * SQNR, cosine similarity and top-1 agreement, and the SQNR of every
 * float tensor along the graph: as a gnuplot line plot (tensor index on
 * x), and as a list with one tensor and a bar per row.
 * Enter opens the node that produced the selected tensor.  Without
 * gnuplot the list stands alone.
 *
 * NOTE: weights only.  qs_eval_run can also quantize the planned layers'
 * inputs with static scales from the statistics; the view does not offer
 * it yet.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "plot_panel.h"
#include "ui.h"

/* Output rows above the plot; more outputs are summed up in one line. */
#define EVAL_OUTPUT_ROWS 3

/* Column widths of the list. */
#define EVAL_INDEX_WIDTH 5
#define EVAL_KEY_MIN 16
#define EVAL_OP_WIDTH 14
#define EVAL_SQNR_WIDTH 9
#define EVAL_COSINE_WIDTH 10

struct eval_view {
    struct qs_plot_panel panel;
};

static const struct qs_eval_result *
result_of(const struct qs_view *view)
{
    return view->ui->act ? view->ui->act->eval : NULL;
}

/* ---- the run ---- */

struct eval_job {
    struct qs_ui_run run;
    struct qs_plan plan;         /* the configurations, copied from the browser's plan */
    char *plan_key;
    struct qs_eval_result result;
};

static void
eval_job_run(struct qs_job *base)
{
    struct eval_job *job = (struct eval_job *)base;
    struct qs_eval_options options = {
        .plan = &job->plan, .trace = 1, .threads = job->run.threads,
        .progress = qs_ui_run_step, .progress_ctx = &job->run,
    };
    struct qs_interp *interp;
    struct qs_input_set inputs;
    enum qs_status status = qs_ui_run_inputs(&job->run, &interp, &inputs);

    /* The interpreter only read the inputs: qs_eval_run makes its own. */
    qs_interp_free(interp);
    atomic_store(&job->run.total_steps, inputs.n_samples);
    if (status == QS_OK)
        status = qs_eval_run(job->run.model, job->run.layers, &inputs, &options, &job->run.diag,
                             &job->result);
    qs_ui_run_end(&job->run);
    job->run.status = status;
    qs_inputs_done(&inputs);
}

static void
eval_job_done(struct qs_job *base, void *ctx)
{
    struct eval_job *job = (struct eval_job *)base;
    struct qs_ui *ui = ctx;
    struct qs_ui_act *act = ui->act;

    if (job->run.status != QS_OK) {
        qs_ui_run_failed(ui, &job->run, "evaluation");
        return;
    }
    if (act->eval)
        qs_eval_result_done(act->eval);
    free(act->eval);
    act->eval = qs_calloc(1, sizeof(*act->eval));
    *act->eval = job->result;
    memset(&job->result, 0, sizeof(job->result));
    free(act->eval_source);
    act->eval_source = qs_ui_inputs_source(&job->run.spec, job->run.samples);
    free(act->eval_plan);
    act->eval_plan = job->plan_key;
    job->plan_key = NULL;
    act->eval_serial++;
    qs_ui_message(ui, "evaluated the plan (%zu layer%s quantized) over %zu sample%s",
                  act->eval->layers_planned, act->eval->layers_planned == 1 ? "" : "s",
                  act->eval->samples, act->eval->samples == 1 ? "" : "s");
}

static void
eval_job_free(struct qs_job *base)
{
    struct eval_job *job = (struct eval_job *)base;

    qs_eval_result_done(&job->result);
    qs_plan_done(&job->plan);
    free(job->plan_key);
    qs_ui_run_release(&job->run);
    free(job);
}

static const struct qs_job_ops eval_job_ops = {
    .name = "evaluation", .run = eval_job_run, .done = eval_job_done, .free = eval_job_free,
};

char *
qs_ui_eval_plan_key(const struct qs_ui *ui)
{
    struct qs_plot_script key = { 0 };

    qs_plot_script_add(&key, "%s", "");
    for (size_t i = 0; i < ui->plan.count; i++)
        if (!ui->plan.layers[i].is_float)
            qs_plot_script_add(&key, "%s=%s;", ui->plan.layers[i].key,
                               ui->plan.layers[i].config_text);
    return key.text;
}

int
qs_ui_eval(struct qs_ui *ui)
{
    struct eval_job *job = qs_calloc(1, sizeof(*job));

    qs_ui_run_init(ui, &job->run, QS_RUN_EVAL, &eval_job_ops);
    qs_plan_init(&job->plan);
    for (size_t i = 0; i < ui->plan.count; i++) {
        const struct qs_plan_layer *from = &ui->plan.layers[i];

        qs_plan_layer_set(qs_plan_get(&job->plan, from->key),
                          from->is_float ? NULL : &from->config);
    }
    job->plan_key = qs_ui_eval_plan_key(ui);
    if (qs_ui_run_submit(ui, &job->run) != 0)
        return -1;
    return qs_ui_show(ui, QS_VIEW_EVAL);
}

/* ---- the plot ---- */

static char *
sqnr_script(void *arg, const char *title)
{
    const struct qs_eval_result *r = result_of(arg);
    struct qs_plot_script s = { 0 };

    qs_plot_script_add(&s, "set border 3\nset tics nomirror scale 0.5\nunset key\n"
                       "set format y '%%.0f'\nset xrange [-0.5:%zu.5]\n", r->n_trace - 1);
    if (title)
        qs_plot_script_add(&s, "set title %s noenhanced\nset xlabel 'tensor (execution order)'\n"
                           "set ylabel 'SQNR dB'\n", title);
    qs_plot_script_add(&s, "$s << EOD\n");
    /* Exact tensors (infinite SQNR) are left out as NaN, which breaks the line there. */
    for (size_t i = 0; i < r->n_trace; i++)
        if (r->trace[i].metrics.count && isfinite(r->trace[i].metrics.sqnr_db))
            qs_plot_script_add(&s, "%zu %.9g\n", i, r->trace[i].metrics.sqnr_db);
        else
            qs_plot_script_add(&s, "%zu NaN\n", i);
    qs_plot_script_add(&s, "EOD\nplot $s using 1:2 with linespoints pt %s lc rgb '#3fa0ff'\n",
                       title ? "7 ps 0.5" : "'+'");
    return s.text;
}

/* Whether any tensor of the trace has a finite SQNR to plot. */
static int
has_finite(const struct qs_eval_result *r)
{
    for (size_t i = 0; i < r->n_trace; i++)
        if (r->trace[i].metrics.count && isfinite(r->trace[i].metrics.sqnr_db))
            return 1;
    return 0;
}

/* ---- drawing ---- */

static int
sqnr_style(const struct qs_quant_metrics *m)
{
    return m->exact || m->sqnr_db >= 30 ? QS_STYLE_GOOD
           : m->sqnr_db < 15 ? QS_STYLE_BAD : QS_STYLE_WARN;
}

static void
draw_summary(struct qs_view *view, struct qs_row *row)
{
    struct qs_ui *ui = view->ui;
    const struct qs_eval_result *r = result_of(view);
    char sqnr[32];
    char *now = qs_ui_eval_plan_key(ui);

    qs_row_addf(row, QS_STYLE_TITLE, "plan: %zu layer%s quantized", r->layers_planned,
                r->layers_planned == 1 ? "" : "s");
    qs_row_addf(row, QS_STYLE_NORMAL, " (%zu read), weight SQNR %s%s", r->layers_reached,
                qs_ui_sqnr_text(r->weights.sqnr_db, r->weights.exact, sqnr, sizeof(sqnr)),
                r->weights.exact ? "" : " dB");
    qs_row_addf(row, QS_STYLE_DIM, "; %s", ui->act->eval_source);
    if (r->diverged)
        qs_row_addf(row, QS_STYLE_WARN, "; %" PRIu64 " samples took another path", r->diverged);
    if (strcmp(now, ui->act->eval_plan) != 0)
        qs_row_add(row, QS_STYLE_WARN, "  (the plan changed since: t runs it again)");
    free(now);
}

static void
draw_output(const struct qs_eval_output *o, struct qs_row *row)
{
    char sqnr[32];

    qs_row_add(row, QS_STYLE_DIM, "output ");
    qs_row_add(row, QS_STYLE_NORMAL, o->name);
    if (!o->metrics.count) {
        qs_row_addf(row, QS_STYLE_DIM, "  not float: %" PRIu64 " of %" PRIu64 " values equal",
                    o->equal, o->compared);
        return;
    }
    qs_row_add(row, QS_STYLE_NORMAL, "  SQNR ");
    qs_row_addf(row, sqnr_style(&o->metrics), "%s%s",
                qs_ui_sqnr_text(o->metrics.sqnr_db, o->metrics.exact, sqnr, sizeof(sqnr)),
                o->metrics.exact ? "" : " dB");
    qs_row_addf(row, QS_STYLE_NORMAL, "  cosine %.6f  max diff %.3g", o->metrics.cosine,
                o->metrics.max_abs_err);
    if (o->classifier)
        qs_row_addf(row, QS_STYLE_NORMAL, "  top-1 %.2f%% of %" PRIu64 " rows",
                    100.0 * qs_eval_top1(o), o->rows);
}

/* The outputs' lines from row "y" on; returns the rows used. */
static int
draw_outputs(struct qs_view *view, struct qs_frame *frame, int y)
{
    const struct qs_eval_result *r = result_of(view);
    int rows = 0;

    for (size_t i = 0; i < r->n_outputs && rows < EVAL_OUTPUT_ROWS; i++)
        draw_output(&r->outputs[i], &frame->rows[y + rows++]);
    if (r->n_outputs > EVAL_OUTPUT_ROWS)
        qs_row_addf(&frame->rows[y + rows - 1], QS_STYLE_DIM, "  (and %zu more outputs)",
                    r->n_outputs - EVAL_OUTPUT_ROWS);
    return rows;
}

/* The plot, or a line saying why there is none; returns the rows used. */
static int
draw_plot(struct qs_view *view, struct qs_frame *frame, int y, int lines)
{
    struct eval_view *ev = view->priv;
    struct qs_ui *ui = view->ui;
    const struct qs_eval_result *r = result_of(view);
    const char *error = qs_plot_error(ui->plot);
    char key[64];

    if (!has_finite(r)) {
        qs_row_add(&frame->rows[y], QS_STYLE_DIM, "every tensor is exact: the plan changes "
                   "nothing these runs read");
        return 1;
    }
    if (error) {
        qs_row_addf(&frame->rows[y], QS_STYLE_WARN, "no plot: %s; the list below has the "
                    "numbers", error);
        return 1;
    }
    qs_row_add(&frame->rows[y], QS_STYLE_TITLE, "SQNR dB of every float tensor, in execution "
               "order (exact ones left out)");
    snprintf(key, sizeof(key), "%u/%dx%d", ui->act->eval_serial, frame->cols, lines - 1);
    qs_plot_panel_draw(ui, &ev->panel, QS_SLOT_PLOT_EVAL, key, sqnr_script, view, frame, y + 1, 0,
                       frame->cols, lines - 1);
    return lines;
}

/* The view's text before the first result. */
static void
draw_empty(struct qs_view *view, struct qs_frame *frame, int top)
{
    struct qs_ui *ui = view->ui;
    char key[16];

    if (ui->act->run && ui->act->run->kind == QS_RUN_EVAL) {
        qs_row_addf(&frame->rows[top], QS_STYLE_DIM, "evaluating the plan over the inputs%s",
                    qs_glyphs.ellipsis);
        return;
    }
    qs_key_name(qs_actions[QS_ACTION_EVAL].keys[0], key, sizeof(key));
    qs_row_addf(&frame->rows[top], QS_STYLE_DIM, "%s evaluates the plan over the inputs given "
                "with --data DIR, --input NAME=FILE or --random N (weights only)", key);
}

static void
eval_draw(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    const struct qs_eval_result *r = result_of(view);
    int y = top, plot;

    if (!r) {
        draw_empty(view, frame, top);
        return;
    }
    draw_summary(view, &frame->rows[y++]);
    y += draw_outputs(view, frame, y);
    plot = (top + height - y) / 2;
    if (plot >= 5)
        y += draw_plot(view, frame, y, plot);
    if (top + height - y >= 2)
        qs_view_draw_list(view, frame, y, top + height - y);
    for (int i = top; i < top + height; i++)
        qs_row_truncate(&frame->rows[i], (size_t)frame->cols);
}

/* ---- the list ---- */

static size_t
key_width(size_t cols)
{
    size_t rest = EVAL_INDEX_WIDTH + EVAL_OP_WIDTH + EVAL_SQNR_WIDTH + EVAL_COSINE_WIDTH + 12;

    return cols > rest + EVAL_KEY_MIN ? (cols - rest) / 2 + EVAL_KEY_MIN / 2 : EVAL_KEY_MIN;
}

static size_t
eval_count(struct qs_view *view)
{
    const struct qs_eval_result *r = result_of(view);

    return r ? r->n_trace : 0;
}

static void
eval_draw_header(struct qs_view *view, struct qs_row *row)
{
    qs_row_cell(row, QS_STYLE_TITLE, "#", EVAL_INDEX_WIDTH, 1);
    qs_row_add(row, QS_STYLE_TITLE, " ");
    qs_row_cell(row, QS_STYLE_TITLE, "tensor", key_width((size_t)view->ui->cols), 0);
    qs_row_add(row, QS_STYLE_TITLE, " ");
    qs_row_cell(row, QS_STYLE_TITLE, "op", EVAL_OP_WIDTH, 0);
    qs_row_cell(row, QS_STYLE_TITLE, "SQNR dB", EVAL_SQNR_WIDTH, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "cosine", EVAL_COSINE_WIDTH + 1, 1);
}

/* The largest finite SQNR of the trace, the full length of the bars. */
static double
bar_scale(const struct qs_eval_result *r)
{
    double top = 0;

    for (size_t i = 0; i < r->n_trace; i++)
        if (r->trace[i].metrics.count && isfinite(r->trace[i].metrics.sqnr_db))
            top = fmax(top, r->trace[i].metrics.sqnr_db);
    return top;
}

static void
eval_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    const struct qs_eval_result *r = result_of(view);
    const struct qs_eval_trace *t = &r->trace[line];
    const struct qs_quant_metrics *m = &t->metrics;
    size_t used;
    double scale = bar_scale(r);
    char buf[32];

    snprintf(buf, sizeof(buf), "%zu", line);
    qs_row_cell(row, QS_STYLE_DIM, buf, EVAL_INDEX_WIDTH, 1);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    qs_row_cell(row, QS_STYLE_NORMAL, t->name, key_width(cols), 0);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    qs_row_cell(row, QS_STYLE_OP, t->op, EVAL_OP_WIDTH, 0);
    if (!m->count) {
        qs_row_cell(row, QS_STYLE_DIM, "-", EVAL_SQNR_WIDTH, 1);
        return;
    }
    qs_row_cell(row, sqnr_style(m), qs_ui_sqnr_text(m->sqnr_db, m->exact, buf, sizeof(buf)),
                EVAL_SQNR_WIDTH, 1);
    snprintf(buf, sizeof(buf), "%.6f", m->cosine);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, EVAL_COSINE_WIDTH + 1, 1);
    used = row->width + 1;
    if (cols > used + 4 && scale > 0) {
        qs_row_add(row, QS_STYLE_NORMAL, " ");
        qs_row_bar(row, QS_STYLE_BAR, m->exact ? 1.0 : fmax(m->sqnr_db, 0.0) / scale,
                   cols - used);
    }
}

static const char *
eval_search_text(struct qs_view *view, size_t line)
{
    const struct qs_eval_trace *t = &result_of(view)->trace[line];
    static char text[512];

    snprintf(text, sizeof(text), "%s %s", t->name, t->op);
    for (char *p = text; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return text;
}

/* ---- keys ---- */

/* The node whose scoped label is "label", or NULL (graph inputs have none). */
static const struct qs_node *
find_node(const struct qs_model *model, const char *label)
{
    for (size_t g = 0; g < model->n_graphs; g++) {
        const struct qs_graph *graph = model->graphs[g];
        size_t scope = strlen(graph->scope);

        if (strncmp(label, graph->scope, scope) != 0)
            continue;
        for (size_t n = 0; n < graph->n_nodes; n++)
            if (strcmp(graph->nodes[n].label, label + scope) == 0)
                return &graph->nodes[n];
    }
    return NULL;
}

static void
open_producer(struct qs_view *view)
{
    const struct qs_eval_result *r = result_of(view);
    const struct qs_node *node;

    if (!r || view->sel >= r->n_trace)
        return;
    node = find_node(view->ui->model, r->trace[view->sel].node);
    if (node)
        qs_node_view_open(view->ui, node);
    else
        qs_ui_message(view->ui, "%s is a graph input", r->trace[view->sel].name);
}

static void
export_plot(struct qs_view *view)
{
    struct qs_ui *ui = view->ui;
    const char *slash = strrchr(ui->path, '/');
    const char *name = slash ? slash + 1 : ui->path;
    size_t stem = strlen(name);
    char title[600], quoted[700];
    char *dir, *base;

    if (!result_of(view) || !has_finite(result_of(view)) || qs_plot_error(ui->plot)) {
        qs_ui_error(ui, "no plot to export%s%s", qs_plot_error(ui->plot) ? ": " : "",
                    qs_plot_error(ui->plot) ? qs_plot_error(ui->plot) : "");
        return;
    }
    if (stem > 5 && strcmp(name + stem - 5, ".onnx") == 0)
        stem -= 5;
    snprintf(title, sizeof(title), "%.*s: SQNR of every tensor under the plan", (int)stem, name);
    dir = qs_ui_output_dir(ui);
    base = qs_asprintf("%s/%.*s.eval-trace", dir, (int)stem, name);
    qs_plot_export_ask(ui, base, sqnr_script(view, qs_plot_quote(title, quoted, sizeof(quoted))));
    free(base);
    free(dir);
}

static int
eval_key(struct qs_view *view, enum qs_action action, int key)
{
    (void)key;
    switch (action) {
    case QS_ACTION_ENTER: open_producer(view); return 1;
    case QS_ACTION_EVAL_EXPORT: export_plot(view); return 1;
    default: return 0;
    }
}

static void
eval_close(struct qs_view *view)
{
    struct eval_view *ev = view->priv;

    qs_plot_panel_reset(&ev->panel);
}

static void
eval_status(struct qs_view *view, char *buf, size_t size)
{
    size_t n = eval_count(view);

    snprintf(buf, size, "%zu/%zu", n ? view->sel + 1 : 0, n);
}

const struct qs_view_ops qs_eval_view = {
    .name = "eval",
    .group = QS_GROUP_EVAL,
    .flags = QS_VIEW_LIST | QS_VIEW_MODEL,
    .private_size = sizeof(struct eval_view),
    .close = eval_close,
    .count = eval_count,
    .draw_header = eval_draw_header,
    .draw_line = eval_draw_line,
    .search_text = eval_search_text,
    .draw = eval_draw,
    .key = eval_key,
    .status = eval_status,
};
