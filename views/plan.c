/*
 * Plan view: every quantizable layer with its configuration, error and
 * bytes, and the model's totals under them: float and planned size,
 * average bits per weight, and the model SQNR (total squared error over
 * total energy, from plan.h).  Writes and reads plan files and starts the
 * automatic plan for a typed budget.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ui.h"

/* Rows of totals under the list. */
#define PLAN_TOTAL_ROWS 3

/* Narrowest key column: at 80 columns the key gets 18 and every number still fits. */
#define PLAN_KEY_MIN 12
#define PLAN_CONFIG_WIDTH 22
#define PLAN_SQNR_WIDTH 8
#define PLAN_MSE_WIDTH 10
#define PLAN_BYTES_WIDTH 10
#define PLAN_BPW_WIDTH 7

static size_t
key_width(size_t cols)
{
    size_t rest = PLAN_CONFIG_WIDTH + PLAN_SQNR_WIDTH + PLAN_MSE_WIDTH + PLAN_BYTES_WIDTH +
                  PLAN_BPW_WIDTH + 5;

    return cols > rest + PLAN_KEY_MIN ? cols - rest : PLAN_KEY_MIN;
}

static int
plan_open(struct qs_view *view)
{
    if (!view->ui->layers) {
        qs_ui_error(view->ui, "the layers of this model could not be found");
        return -1;
    }
    return 0;
}

static size_t
plan_count(struct qs_view *view)
{
    return view->ui->plan.count;
}

/* Layer index of plan row "line". */
static size_t
row_layer(struct qs_view *view, size_t line)
{
    return qs_ui_layer_find(view->ui, view->ui->plan.layers[line].key);
}

static void
plan_draw_header(struct qs_view *view, struct qs_row *row)
{
    size_t key = key_width((size_t)view->ui->cols);

    qs_row_cell(row, QS_STYLE_TITLE, "layer", key, 0);
    qs_row_add(row, QS_STYLE_TITLE, " ");
    qs_row_cell(row, QS_STYLE_TITLE, "config", PLAN_CONFIG_WIDTH, 0);
    qs_row_cell(row, QS_STYLE_TITLE, "SQNR dB", PLAN_SQNR_WIDTH + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "MSE", PLAN_MSE_WIDTH + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "bytes", PLAN_BYTES_WIDTH + 1, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "bpw", PLAN_BPW_WIDTH + 1, 1);
}

static void
plan_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    const struct qs_plan_layer *e = &view->ui->plan.layers[line];
    size_t index = row_layer(view, line);
    uint64_t bytes = index != SIZE_MAX ? qs_ui_layer_bytes(view->ui, index) : 0;
    uint64_t count = index != SIZE_MAX ? view->ui->layers->items[index].count : 0;
    char buf[64];

    qs_row_cell(row, QS_STYLE_NORMAL, e->key, key_width(cols), 0);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    qs_row_cell(row, e->is_float ? QS_STYLE_DIM : QS_STYLE_NORMAL,
                qs_ui_config_short(e->config_text, buf, sizeof(buf)), PLAN_CONFIG_WIDTH, 0);
    if (e->is_float)
        snprintf(buf, sizeof(buf), "-");
    else if (!e->measured)
        snprintf(buf, sizeof(buf), "%s", qs_glyphs.ellipsis);
    else
        qs_ui_sqnr_text(e->m.sqnr_db, e->m.exact, buf, sizeof(buf));
    qs_row_cell(row, QS_STYLE_NORMAL, buf, PLAN_SQNR_WIDTH + 1, 1);
    if (e->measured && !e->is_float)
        snprintf(buf, sizeof(buf), "%.3e", e->m.mse);
    else
        snprintf(buf, sizeof(buf), "-");
    qs_row_cell(row, QS_STYLE_DIM, buf, PLAN_MSE_WIDTH + 1, 1);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)bytes);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, PLAN_BYTES_WIDTH + 1, 1);
    snprintf(buf, sizeof(buf), "%.3f", count ? (double)bytes * 8.0 / (double)count : 0.0);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, PLAN_BPW_WIDTH + 1, 1);
}

static const char *
plan_search_text(struct qs_view *view, size_t line)
{
    static char text[512];

    snprintf(text, sizeof(text), "%s %s", view->ui->plan.layers[line].key,
             view->ui->plan.layers[line].config_text);
    for (char *p = text; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return text;
}

/* Entries still waiting for their numbers. */
static size_t
unmeasured(const struct qs_plan *plan)
{
    size_t n = 0;

    for (size_t i = 0; i < plan->count; i++)
        n += !plan->layers[i].measured;
    return n;
}

static void
draw_totals(struct qs_view *view, struct qs_frame *frame, int y)
{
    struct qs_ui *ui = view->ui;
    const struct qs_plan_totals *t = qs_ui_plan_totals(ui);
    uint64_t float_bytes, planned;
    char a[32], b[32], sqnr[32];
    size_t waiting = unmeasured(&ui->plan);

    qs_ui_sizes(ui, &float_bytes, &planned);
    qs_row_addf(&frame->rows[y], QS_STYLE_TITLE, "Totals over %zu quantizable layers%s",
                ui->plan.count, ui->plan_dirty ? " (not saved)" : "");
    if (ui->plan_path)
        qs_row_addf(&frame->rows[y], QS_STYLE_DIM, "  %s", ui->plan_path);
    qs_row_addf(&frame->rows[y + 1], QS_STYLE_NORMAL, "size fp32 %s %s planned %s (%.1f%%)  "
                "bits per weight %.3f", qs_ui_bytes_text(float_bytes, a, sizeof(a)),
                qs_glyphs.arrow_right, qs_ui_bytes_text(planned, b, sizeof(b)),
                float_bytes ? 100.0 * (double)planned / (double)float_bytes : 0.0,
                float_bytes ? (double)planned * 32.0 / (double)float_bytes : 0.0);
    qs_row_addf(&frame->rows[y + 2], QS_STYLE_NORMAL, "model SQNR %s%s",
                qs_ui_sqnr_text(t->sqnr_db, t->exact, sqnr, sizeof(sqnr)), t->exact ? "" : " dB");
    if (waiting)
        qs_row_addf(&frame->rows[y + 2], QS_STYLE_DIM, "  (%zu layers not measured yet)", waiting);
    if (ui->plan.method && strcmp(ui->plan.method, "auto") == 0 && ui->plan.budget)
        qs_row_addf(&frame->rows[y + 2], QS_STYLE_DIM, "  automatic plan for %s", ui->plan.budget);
}

static void
plan_draw(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    int list = height - PLAN_TOTAL_ROWS - 1;

    qs_view_draw_list(view, frame, top, list > 2 ? list : 2);
    if (height > PLAN_TOTAL_ROWS + 2)
        draw_totals(view, frame, top + height - PLAN_TOTAL_ROWS);
}

static void
open_entered(struct qs_ui *ui, const char *text, void *arg)
{
    (void)arg;
    if (*text)
        qs_ui_plan_read(ui, text);
}

static void
budget_entered(struct qs_ui *ui, const char *text, void *arg)
{
    (void)arg;
    if (*text)
        qs_ui_plan_auto(ui, text);
}

static int
plan_key(struct qs_view *view, enum qs_action action, int key)
{
    struct qs_ui *ui = view->ui;
    size_t index = view->sel < ui->plan.count ? row_layer(view, view->sel) : SIZE_MAX;

    (void)key;
    switch (action) {
    case QS_ACTION_VIEW_LAYER:      /* the selected layer is the one under the cursor */
        if (index == SIZE_MAX)
            return 0;
        qs_ui_open_layer(ui, index);
        return 1;
    case QS_ACTION_ENTER:
        if (index != SIZE_MAX)
            qs_ui_open_layer(ui, index);
        return 1;
    case QS_ACTION_PLAN_WRITE:
        qs_ui_plan_write_ask(ui);
        return 1;
    case QS_ACTION_PLAN_OPEN:
        qs_ui_prompt(ui, "Read a plan from: ", ui->plan_path, open_entered, NULL);
        return 1;
    case QS_ACTION_PLAN_AUTO:
        qs_ui_prompt(ui, "Budget (4.5bpw, 300MB, 25%): ", ui->plan.budget, budget_entered, NULL);
        return 1;
    case QS_ACTION_PLAN_DROP:
        if (index != SIZE_MAX && qs_ui_plan_set(ui, index, NULL) == 0)
            qs_ui_message(ui, "%s stays float", ui->layers->items[index].key);
        return 1;
    default:
        return 0;
    }
}

static void
plan_status(struct qs_view *view, char *buf, size_t size)
{
    snprintf(buf, size, "%zu/%zu", view->ui->plan.count ? view->sel + 1 : 0, view->ui->plan.count);
}

const struct qs_view_ops qs_plan_view = {
    .name = "plan",
    .group = QS_GROUP_PLAN,
    .flags = QS_VIEW_LIST | QS_VIEW_MODEL | QS_VIEW_TAB,
    .open = plan_open,
    .count = plan_count,
    .draw_header = plan_draw_header,
    .draw_line = plan_draw_line,
    .search_text = plan_search_text,
    .draw = plan_draw,
    .key = plan_key,
    .status = plan_status,
};
