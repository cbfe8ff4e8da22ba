/*
 * The browser's framework: start-up and fallbacks, the main loop, the
 * view stack, the generic key driver, and the lines every view shares
 * (header, tab line, status line with the input line).
 */
#include "config.h"
#include "ui.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activations.h"
#include "commands.h"
#include "corpus.h"
#include "display.h"
#include "plot.h"
#include "trace.h"
#include "ui_script.h"

/* Screen lines the framework takes: header and tabs above, status below. */
#define UI_TOP_LINES 2
#define UI_BOTTOM_LINES 1

/* Milliseconds between two clicks on the same row that open it. */
#define UI_DOUBLE_CLICK_MS 400

/* ---- messages ---- */

static void
set_message(struct qs_ui *ui, int style, const char *fmt, va_list ap)
{
    vsnprintf(ui->message, sizeof(ui->message), fmt, ap);
    ui->message_style = style;
    QS_TRACE("message: %s", ui->message);
}

void
qs_ui_message(struct qs_ui *ui, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_message(ui, QS_STYLE_MESSAGE, fmt, ap);
    va_end(ap);
}

void
qs_ui_error(struct qs_ui *ui, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    set_message(ui, QS_STYLE_ERROR, fmt, ap);
    va_end(ap);
}

void
qs_ui_error_diag(struct qs_ui *ui, const struct qs_diag *diag)
{
    if (diag->count == 0)
        return;
    if (diag->count > 1)
        qs_ui_error(ui, "%s (and %zu more problems)", diag->lines[0], diag->count - 1);
    else
        qs_ui_error(ui, "%s", diag->lines[0]);
}

/* ---- views and the stack ---- */

struct qs_view *
qs_ui_view(struct qs_ui *ui)
{
    return &ui->views[ui->stack[ui->depth - 1]];
}

static int
view_open(struct qs_ui *ui, struct qs_view *view)
{
    if (view->opened)
        return 0;
    if ((view->ops->flags & QS_VIEW_MODEL) && !ui->model) {
        qs_ui_error(ui, "the %s view needs a model: %s is a folder", view->ops->name, ui->path);
        return -1;
    }
    view->priv = view->ops->private_size ? qs_calloc(1, view->ops->private_size) : NULL;
    view->opened = 1;
    if (view->ops->open && view->ops->open(view) != 0) {
        if (view->ops->close)
            view->ops->close(view);
        free(view->priv);
        view->priv = NULL;
        view->opened = 0;
        return -1;
    }
    return 0;
}

int
qs_ui_show(struct qs_ui *ui, enum qs_view_id id)
{
    struct qs_view *view = &ui->views[id];
    int i;

    if (view_open(ui, view) != 0)
        return -1;
    /* A view already on the stack comes back with what was above it dropped. */
    for (i = 0; i < ui->depth; i++)
        if (ui->stack[i] == id)
            break;
    if (i < ui->depth)
        ui->depth = i + 1;
    else if (ui->depth < QS_UI_STACK_MAX)
        ui->stack[ui->depth++] = id;
    else {
        memmove(ui->stack, ui->stack + 1, (QS_UI_STACK_MAX - 1) * sizeof(ui->stack[0]));
        ui->stack[QS_UI_STACK_MAX - 1] = id;
    }
    if (view->ops->shown)
        view->ops->shown(view);
    return 0;
}

int
qs_ui_back(struct qs_ui *ui)
{
    struct qs_view *view;

    if (ui->depth <= 1)
        return -1;
    ui->depth--;
    view = qs_ui_view(ui);
    if (view->ops->shown)
        view->ops->shown(view);
    return 0;
}

void
qs_ui_submit(struct qs_ui *ui, struct qs_job *job, enum qs_lane lane, int slot)
{
    qs_worker_submit(ui->worker, job, lane, slot);
}

/* ---- the input line ---- */

static void
prompt_reset(struct qs_ui *ui)
{
    if (ui->prompt.arg)
        free(ui->prompt.arg);
    memset(&ui->prompt, 0, sizeof(ui->prompt));
}

static void
prompt_start(struct qs_ui *ui, enum qs_prompt_kind kind, const char *label, const char *initial)
{
    prompt_reset(ui);
    ui->prompt.kind = kind;
    snprintf(ui->prompt.label, sizeof(ui->prompt.label), "%s", label);
    snprintf(ui->prompt.text, sizeof(ui->prompt.text), "%s", initial ? initial : "");
    ui->prompt.len = strlen(ui->prompt.text);
    ui->message[0] = 0;
}

void
qs_ui_prompt(struct qs_ui *ui, const char *label, const char *initial, qs_prompt_done_fn *done,
             void *arg)
{
    prompt_start(ui, QS_PROMPT_TEXT, label, initial);
    ui->prompt.done = done;
    ui->prompt.arg = arg;
}

void
qs_ui_confirm(struct qs_ui *ui, const char *question, qs_confirm_done_fn *done, void *arg)
{
    char label[160];

    snprintf(label, sizeof(label), "%s (y/n) ", question);
    prompt_start(ui, QS_PROMPT_CONFIRM, label, NULL);
    ui->prompt.confirm = done;
    ui->prompt.arg = arg;
}

/* Remove the last UTF-8 character of the input line. */
static void
prompt_backspace(struct qs_prompt *prompt)
{
    while (prompt->len > 0) {
        unsigned char c = (unsigned char)prompt->text[--prompt->len];

        if ((c & 0xc0) != 0x80)
            break;
    }
    prompt->text[prompt->len] = 0;
}

static void
prompt_insert(struct qs_prompt *prompt, int key)
{
    char utf8[8];
    size_t n;

    qs_key_name(key, utf8, sizeof(utf8));
    if (key == ' ')
        snprintf(utf8, sizeof(utf8), " ");
    n = strlen(utf8);
    if (prompt->len + n + 1 > sizeof(prompt->text))
        return;
    memcpy(prompt->text + prompt->len, utf8, n + 1);
    prompt->len += n;
}

static void search_run(struct qs_ui *ui, int direction, int from_next);

/* Finish the input line with Enter. */
static void
prompt_submit(struct qs_ui *ui)
{
    struct qs_prompt prompt = ui->prompt;
    char text[sizeof(prompt.text)];

    memcpy(text, prompt.text, sizeof(text));
    memset(&ui->prompt, 0, sizeof(ui->prompt));
    switch (prompt.kind) {
    case QS_PROMPT_COMMAND:
        qs_ui_command(ui, text);
        break;
    case QS_PROMPT_SEARCH:
        for (char *p = text; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        snprintf(ui->search, sizeof(ui->search), "%s", text);
        search_run(ui, 1, 0);
        break;
    case QS_PROMPT_TEXT:
        prompt.done(ui, text, prompt.arg);
        break;
    default:
        break;
    }
}

/* A key while the input line is open. */
static void
prompt_key(struct qs_ui *ui, int key)
{
    struct qs_prompt *prompt = &ui->prompt;

    if (prompt->kind == QS_PROMPT_CONFIRM) {
        struct qs_prompt asked = *prompt;

        if (key != 'y' && key != 'Y' && key != 'n' && key != 'N' && key != QS_KEY_ESC)
            return;
        memset(prompt, 0, sizeof(*prompt));
        asked.confirm(ui, key == 'y' || key == 'Y', asked.arg);
        return;
    }
    if (key == QS_KEY_ESC)
        prompt_reset(ui);
    else if (key == QS_KEY_ENTER)
        prompt_submit(ui);
    else if (key == QS_KEY_BACKSPACE) {
        if (prompt->len == 0)
            prompt_reset(ui);
        else
            prompt_backspace(prompt);
    } else if (key == QS_KEY_CTRL('u')) {
        prompt->len = 0;
        prompt->text[0] = 0;
    } else if ((key >= 0x20 && key < QS_KEY_BASE && key != 0x7f))
        prompt_insert(prompt, key);
}

/* ---- search ---- */

/* Select the next row (after the selection when "from_next") whose text holds the search. */
static void
search_run(struct qs_ui *ui, int direction, int from_next)
{
    struct qs_view *view = qs_ui_view(ui);
    double began = qs_trace_now();
    size_t rows, start;

    if (!ui->search[0]) {
        qs_ui_error(ui, "no search yet: press / to search");
        return;
    }
    if (!(view->ops->flags & QS_VIEW_LIST) || !view->ops->search_text) {
        qs_ui_error(ui, "the %s view cannot be searched", view->ops->name);
        return;
    }
    rows = view->ops->count(view);
    if (rows == 0)
        return;
    start = view->sel < rows ? view->sel : 0;
    for (size_t step = from_next ? 1 : 0; step <= rows; step++) {
        size_t line = direction > 0 ? (start + step) % rows : (start + rows - step % rows) % rows;
        const char *text = view->ops->search_text(view, line);

        if (text && strstr(text, ui->search)) {
            QS_TRACE("search '%s' found row %zu of %zu in %.2f ms", ui->search, line, rows,
                     (qs_trace_now() - began) * 1e3);
            qs_view_select(view, line);
            qs_ui_message(ui, "/%s: row %zu of %zu", ui->search, line + 1, rows);
            return;
        }
    }
    /* Matches may hide in folded subgraphs: unfold them and look once more. */
    if (view->ops->search_reveal && view->ops->search_reveal(view, ui->search) > 0) {
        search_run(ui, direction, from_next);
        return;
    }
    qs_ui_error(ui, "'%s' not found", ui->search);
}

/* ---- the generic key driver ---- */

static void
quit_answer(struct qs_ui *ui, int yes, void *arg)
{
    (void)arg;
    if (yes)
        ui->quit = 1;
}

static void
show_view_for(struct qs_ui *ui, enum qs_action action)
{
    static const enum qs_view_id targets[] = {
        [QS_ACTION_VIEW_GRAPH] = QS_VIEW_GRAPH, [QS_ACTION_VIEW_OPS] = QS_VIEW_OPS,
        [QS_ACTION_VIEW_LAYERS] = QS_VIEW_LAYERS, [QS_ACTION_VIEW_LAYER] = QS_VIEW_LAYER,
        [QS_ACTION_VIEW_PLAN] = QS_VIEW_PLAN, [QS_ACTION_HELP] = QS_VIEW_HELP,
    };

    qs_ui_show(ui, targets[action]);
}

/* Movement in a list view; returns 1 when "action" was one. */
static int
list_action(struct qs_view *view, enum qs_action action)
{
    long page = view->list_height > 1 ? view->list_height : 1;

    switch (action) {
    case QS_ACTION_MOVE_UP: qs_view_move(view, -1); return 1;
    case QS_ACTION_MOVE_DOWN: qs_view_move(view, 1); return 1;
    case QS_ACTION_PAGE_UP: qs_view_move(view, -page); return 1;
    case QS_ACTION_PAGE_DOWN: qs_view_move(view, page); return 1;
    case QS_ACTION_HALF_UP: qs_view_move(view, -(page / 2 ? page / 2 : 1)); return 1;
    case QS_ACTION_HALF_DOWN: qs_view_move(view, page / 2 ? page / 2 : 1); return 1;
    case QS_ACTION_MOVE_TOP: qs_view_select(view, 0); return 1;
    case QS_ACTION_MOVE_BOTTOM: qs_view_select(view, SIZE_MAX); return 1;
    default: return 0;
    }
}

static void
generic_action(struct qs_ui *ui, enum qs_action action, int key)
{
    struct qs_view *view = qs_ui_view(ui);
    char name[16];

    if ((view->ops->flags & QS_VIEW_LIST) && list_action(view, action))
        return;
    switch (action) {
    case QS_ACTION_VIEW_GRAPH: case QS_ACTION_VIEW_OPS: case QS_ACTION_VIEW_LAYERS:
    case QS_ACTION_VIEW_LAYER: case QS_ACTION_VIEW_PLAN: case QS_ACTION_HELP:
        show_view_for(ui, action);
        break;
    case QS_ACTION_BACK:
        qs_ui_back(ui);
        break;
    case QS_ACTION_QUIT:
        if (ui->plan_dirty)
            qs_ui_confirm(ui, "The plan has unsaved changes. Quit anyway?", quit_answer, NULL);
        else
            ui->quit = 1;
        break;
    case QS_ACTION_PROMPT:
        prompt_start(ui, QS_PROMPT_COMMAND, ":", NULL);
        break;
    case QS_ACTION_SEARCH:
        prompt_start(ui, QS_PROMPT_SEARCH, "/", NULL);
        break;
    case QS_ACTION_SEARCH_NEXT:
    case QS_ACTION_SEARCH_PREV:
        search_run(ui, action == QS_ACTION_SEARCH_NEXT ? 1 : -1, 1);
        break;
    case QS_ACTION_REDRAW:
        qs_display_clear();
        break;
    case QS_ACTION_CALIBRATE: case QS_ACTION_SENSITIVITY: case QS_ACTION_EVAL:
    case QS_ACTION_CANCEL_RUN:
        qs_ui_act_action(ui, action);
        break;
    default:
        qs_ui_error(ui, "%s does nothing here (? shows every key)",
                    qs_key_name(key, name, sizeof(name)));
        break;
    }
}

/* Which tab of the tab line is at column "x", or -1. */
static int tab_at(struct qs_ui *ui, int x);

static void
mouse_event(struct qs_ui *ui, const struct qs_mouse *mouse)
{
    static double last_click;
    static size_t last_line = SIZE_MAX;
    struct qs_view *view = qs_ui_view(ui);
    double now = qs_trace_now();
    int tab = mouse->y == 1 ? tab_at(ui, mouse->x) : -1;

    if (mouse->kind == QS_MOUSE_WHEEL_UP || mouse->kind == QS_MOUSE_WHEEL_DOWN) {
        if (view->ops->flags & QS_VIEW_LIST)
            qs_view_move(view, mouse->kind == QS_MOUSE_WHEEL_UP ? -3 : 3);
        return;
    }
    if (tab >= 0) {
        qs_ui_show(ui, (enum qs_view_id)tab);
        return;
    }
    if (!(view->ops->flags & QS_VIEW_LIST) || mouse->y < view->list_y ||
        mouse->y >= view->list_y + view->list_height)
        return;
    if (view->top + (size_t)(mouse->y - view->list_y) >= view->rows)
        return;
    qs_view_select(view, view->top + (size_t)(mouse->y - view->list_y));
    if (view->sel == last_line && now - last_click < UI_DOUBLE_CLICK_MS / 1e3) {
        last_line = SIZE_MAX;
        if (!view->ops->key || !view->ops->key(view, QS_ACTION_ENTER, QS_KEY_ENTER))
            generic_action(ui, QS_ACTION_ENTER, QS_KEY_ENTER);
        return;
    }
    last_line = view->sel;
    last_click = now;
}

void
qs_ui_key(struct qs_ui *ui, int key, const struct qs_mouse *mouse)
{
    struct qs_view *view = qs_ui_view(ui);
    enum qs_action action;
    char name[16];

    ui->key_time = qs_trace_now();
    QS_TRACE("key %s in %s", qs_key_name(key, name, sizeof(name)), view->ops->name);
    if (key == QS_KEY_RESIZE)
        return;
    if (ui->prompt.kind != QS_PROMPT_NONE) {
        prompt_key(ui, key);
        return;
    }
    ui->message[0] = 0;
    if (key == QS_KEY_MOUSE) {
        if (mouse)
            mouse_event(ui, mouse);
        return;
    }
    action = qs_action_lookup(key, view->ops->group, (view->ops->flags & QS_VIEW_LIST) != 0);
    if (view->ops->key && view->ops->key(view, action, key))
        return;
    generic_action(ui, action, key);
}

/* ---- drawing the shared lines ---- */

/* Header fields, most important first; the later ones go when the line is too narrow. */
enum header_field { HEAD_NAME, HEAD_SIZES, HEAD_PARAMS, HEAD_OPSET, HEAD_PRODUCER, HEAD_COUNT };

static void
header_fields(struct qs_ui *ui, char fields[HEAD_COUNT][128])
{
    const struct qs_model *m = ui->model;
    const char *slash = strrchr(ui->path, '/');
    char a[32], b[32], delta[32] = "";
    uint64_t float_bytes, planned;

    snprintf(fields[HEAD_NAME], 128, "%s", slash && slash[1] ? slash + 1 : ui->path);
    snprintf(fields[HEAD_PRODUCER], 128, "%s%s%s", m->producer_name,
             m->producer_version[0] ? " " : "", m->producer_version);
    if (!m->producer_name[0])
        fields[HEAD_PRODUCER][0] = 0;
    snprintf(fields[HEAD_OPSET], 128, "opset %lld", (long long)qs_model_opset(m, ""));
    snprintf(fields[HEAD_PARAMS], 128, "%s params",
             qs_ui_count_text(ui->weight_params, a, sizeof(a)));
    qs_ui_sizes(ui, &float_bytes, &planned);
    if (float_bytes)
        snprintf(delta, sizeof(delta), " (%+.1f%%)",
                 100.0 * ((double)planned - (double)float_bytes) / (double)float_bytes);
    snprintf(fields[HEAD_SIZES], 128, "fp32 %s %s %s%s%s",
             qs_ui_bytes_text(float_bytes, a, sizeof(a)), qs_glyphs.arrow_right,
             qs_ui_bytes_text(planned, b, sizeof(b)), delta, ui->plan_dirty ? " *" : "");
}

static void
draw_header(struct qs_ui *ui, struct qs_row *row)
{
    static const enum header_field order[HEAD_COUNT] = {
        HEAD_NAME, HEAD_PRODUCER, HEAD_OPSET, HEAD_PARAMS, HEAD_SIZES
    };
    char fields[HEAD_COUNT][128];
    int keep = HEAD_COUNT;
    size_t width;

    row->fill = QS_STYLE_HEADER;
    if (!ui->model) {
        size_t len = strlen(ui->path);
        const char *name;

        /* The folder's own name, as the header shows a model's file name. */
        while (len > 1 && ui->path[len - 1] == '/')
            len--;
        for (name = ui->path + len; name > ui->path && name[-1] != '/'; name--)
            continue;
        qs_row_addf(row, QS_STYLE_HEADER, " %.*s", (int)(ui->path + len - name), name);
        if (ui->corpus)
            qs_corpus_header(ui->corpus, row);
        qs_row_truncate(row, (size_t)ui->cols);
        return;
    }
    header_fields(ui, fields);
    /* Drop the least important fields until the rest fits. */
    do {
        width = 1;
        for (int f = 0; f < keep; f++)
            width += qs_text_columns(fields[f]) + 2;
    } while (width > (size_t)ui->cols && --keep > 1);
    for (int i = 0; i < HEAD_COUNT; i++)
        if ((int)order[i] < keep && fields[order[i]][0])
            qs_row_addf(row, QS_STYLE_HEADER, i ? "  %s" : " %s", fields[order[i]]);
    qs_row_truncate(row, (size_t)ui->cols);
}

/* The key of the action that shows view "id", or 0. */
static int
view_key(enum qs_view_id id)
{
    static const enum qs_action actions[QS_VIEW_COUNT] = {
        [QS_VIEW_GRAPH] = QS_ACTION_VIEW_GRAPH, [QS_VIEW_OPS] = QS_ACTION_VIEW_OPS,
        [QS_VIEW_LAYERS] = QS_ACTION_VIEW_LAYERS, [QS_VIEW_LAYER] = QS_ACTION_VIEW_LAYER,
        [QS_VIEW_PLAN] = QS_ACTION_VIEW_PLAN, [QS_VIEW_HELP] = QS_ACTION_HELP,
    };

    return actions[id] ? qs_actions[actions[id]].keys[0] : 0;
}

/* Columns of each tab in the tab line, filled by draw_tabs for the mouse; -1 when not shown. */
static int tab_start[QS_VIEW_COUNT];
static int tab_end[QS_VIEW_COUNT];

static int
tab_at(struct qs_ui *ui, int x)
{
    (void)ui;
    for (int id = 0; id < QS_VIEW_COUNT; id++)
        if (tab_start[id] >= 0 && x >= tab_start[id] && x < tab_end[id])
            return id;
    return -1;
}

static void
draw_progress(struct qs_ui *ui, struct qs_row *row)
{
    const char *label = NULL;
    int permille = 0;
    char text[64] = "";

    if (ui->layers && ui->stats_finished < ui->stats_queued)
        snprintf(text, sizeof(text), "statistics %zu/%zu", ui->stats_finished, ui->stats_queued);
    else if (ui->plan_measuring)
        snprintf(text, sizeof(text), "measuring %zu layers", ui->plan_measuring);
    else if (qs_worker_busy(ui->worker, &label, &permille) && label)
        snprintf(text, sizeof(text), permille > 0 ? "%s %d%%" : "%s", label, permille / 10);
    if (!text[0] || row->width + strlen(text) + 2 > (size_t)ui->cols)
        return;
    qs_row_pad(row, (size_t)ui->cols - strlen(text) - 1);
    qs_row_add(row, QS_STYLE_WARN, text);
}

static void
draw_tabs(struct qs_ui *ui, struct qs_row *row)
{
    enum qs_view_id current = qs_ui_view(ui)->id;
    char key[16];

    if (current == QS_VIEW_NODE)
        current = QS_VIEW_GRAPH;
    for (int id = 0; id < QS_VIEW_COUNT; id++)
        tab_start[id] = tab_end[id] = -1;
    for (int id = 0; id < QS_VIEW_COUNT; id++) {
        const struct qs_view_ops *ops = ui->views[id].ops;
        int style = id == (int)current ? QS_STYLE_TAB_ACTIVE : QS_STYLE_TAB;

        if (!(ops->flags & QS_VIEW_TAB) || ((ops->flags & QS_VIEW_MODEL) && !ui->model))
            continue;
        qs_row_add(row, QS_STYLE_NORMAL, " ");
        tab_start[id] = (int)row->width;
        qs_row_add(row, id == (int)current ? style : QS_STYLE_KEY,
                   qs_key_name(view_key((enum qs_view_id)id), key, sizeof(key)));
        qs_row_addf(row, style, " %s", ops->name);
        tab_end[id] = (int)row->width;
    }
    draw_progress(ui, row);
    qs_row_truncate(row, (size_t)ui->cols);
}

/* Append the hint of "action" when it fits before column "room". */
static void
add_hint(struct qs_row *row, enum qs_action action, size_t room)
{
    const struct qs_action_info *info = &qs_actions[action];
    char key[16];

    qs_key_name(info->keys[0], key, sizeof(key));
    if (!info->hint || row->width + strlen(key) + strlen(info->hint) + 2 > room)
        return;
    qs_row_add(row, QS_STYLE_KEY, key);
    qs_row_addf(row, QS_STYLE_STATUS, " %s ", info->hint);
}

static void
add_hints(struct qs_row *row, enum qs_action_group group, size_t room)
{
    for (int a = 1; a < QS_ACTION_COUNT; a++)
        if (qs_actions[a].group == group)
            add_hint(row, (enum qs_action)a, room);
}

/*
 * Key hints: the view's own keys, then the list's, then back and search;
 * help and quit always get room at the end.
 */
static void
draw_hints(struct qs_ui *ui, struct qs_row *row, size_t room)
{
    const struct qs_view *view = qs_ui_view(ui);
    struct qs_row last;
    size_t reserve;

    qs_row_init(&last);
    add_hint(&last, QS_ACTION_HELP, room);
    add_hint(&last, QS_ACTION_QUIT, room);
    reserve = last.width < room ? room - last.width : 0;
    if (view->ops->group != QS_GROUP_GLOBAL)
        add_hints(row, view->ops->group, reserve);
    if (view->ops->flags & QS_VIEW_LIST)
        add_hints(row, QS_GROUP_LIST, reserve);
    if (ui->depth > 1)
        add_hint(row, QS_ACTION_BACK, reserve);
    if (view->ops->search_text)
        add_hint(row, QS_ACTION_SEARCH, reserve);
    add_hint(row, QS_ACTION_HELP, room);
    add_hint(row, QS_ACTION_QUIT, room);
    qs_row_done(&last);
}

/*
 * The input line: its label, cut in the middle when too wide so that the
 * end of a question ("Replace it? (y/n)") stays in sight, then the end of
 * the text typed so far.
 */
static void
draw_prompt(struct qs_ui *ui, struct qs_row *row, int y)
{
    char label[sizeof(ui->prompt.label)];
    size_t cols = (size_t)ui->cols;
    const char *shown = ui->prompt.text;
    size_t room, width;

    qs_shorten_middle(ui->prompt.label, cols > 2 ? cols - 2 : 1, label, sizeof(label));
    room = cols > qs_text_columns(label) + 1 ? cols - qs_text_columns(label) - 1 : 0;
    width = qs_text_columns(shown);
    while (width > room && *shown) {
        shown++;
        while ((*shown & 0xc0) == 0x80)
            shown++;
        width--;
    }
    qs_row_add(row, QS_STYLE_KEY, label);
    qs_row_add(row, QS_STYLE_NORMAL, shown);
    ui->frame.cursor_y = y;
    ui->frame.cursor_x = (int)row->width;
}

static void
draw_status(struct qs_ui *ui, struct qs_row *row, int y)
{
    struct qs_view *view = qs_ui_view(ui);
    char right[96] = "";

    if (ui->prompt.kind != QS_PROMPT_NONE) {
        draw_prompt(ui, row, y);
        return;
    }
    /* A run of the model shows its progress bar, with any message after it. */
    if (qs_ui_run_draw(ui, row, (size_t)ui->cols)) {
        if (ui->message[0])
            qs_row_add(row, ui->message_style, ui->message);
        qs_row_truncate(row, (size_t)ui->cols);
        return;
    }
    if (view->ops->status)
        view->ops->status(view, right, sizeof(right));
    if (ui->message[0])
        qs_row_add(row, ui->message_style, ui->message);
    else
        draw_hints(ui, row, (size_t)ui->cols > strlen(right) + 1
                            ? (size_t)ui->cols - strlen(right) - 1 : 0);
    if (right[0] && row->width + strlen(right) + 1 <= (size_t)ui->cols) {
        qs_row_pad(row, (size_t)ui->cols - strlen(right));
        qs_row_add(row, QS_STYLE_DIM, right);
    }
    qs_row_truncate(row, (size_t)ui->cols);
}

void
qs_ui_draw(struct qs_ui *ui)
{
    struct qs_view *view = qs_ui_view(ui);
    int body = ui->lines - UI_TOP_LINES - UI_BOTTOM_LINES;

    qs_frame_reset(&ui->frame, ui->lines, ui->cols);
    if (ui->lines < UI_TOP_LINES + UI_BOTTOM_LINES + 1 || ui->cols < 20) {
        qs_row_add(&ui->frame.rows[0], QS_STYLE_ERROR, "terminal too small");
        return;
    }
    draw_header(ui, &ui->frame.rows[0]);
    draw_tabs(ui, &ui->frame.rows[1]);
    if (view->ops->draw)
        view->ops->draw(view, &ui->frame, UI_TOP_LINES, body);
    else
        qs_view_draw_list(view, &ui->frame, UI_TOP_LINES, body);
    draw_status(ui, &ui->frame.rows[ui->lines - 1], ui->lines - 1);
}

/* ---- set-up and teardown ---- */

void
qs_ui_init(struct qs_ui *ui, const struct qs_cli *cli, int lines, int cols)
{
    memset(ui, 0, sizeof(*ui));
    ui->cli = cli;
    ui->path = cli->args[0];
    ui->threads = cli->threads > 0 ? cli->threads : 1;
    ui->lines = lines;
    ui->cols = cols;
    ui->layer = SIZE_MAX;
    qs_plan_init(&ui->plan);
    for (int id = 0; id < QS_VIEW_COUNT; id++) {
        ui->views[id].id = (enum qs_view_id)id;
        ui->views[id].ops = qs_view_ops_of((enum qs_view_id)id);
        ui->views[id].ui = ui;
    }
    ui->worker = qs_worker_new(ui);
    if (!ui->worker)
        qs_die("cannot start the worker threads");
    ui->plot = qs_plot_new();
    qs_ui_act_init(ui);
}

void
qs_ui_done(struct qs_ui *ui)
{
    /* A plan still waiting for measurements is not written on the way out. */
    free(ui->pending_write);
    ui->pending_write = NULL;
    qs_worker_free(ui->worker);
    ui->worker = NULL;
    for (int id = 0; id < QS_VIEW_COUNT; id++) {
        struct qs_view *view = &ui->views[id];

        if (view->opened && view->ops->close)
            view->ops->close(view);
        free(view->priv);
        view->priv = NULL;
    }
    prompt_reset(ui);
    qs_plot_free(ui->plot);
    qs_ui_act_done(ui);
    qs_ui_layers_done(ui);
    qs_corpus_free(ui->corpus);
    qs_model_free(ui->model);
    qs_frame_done(&ui->frame);
    free(ui->graph_filter);
    free(ui->layer_order);
    free(ui->plan_path);
    memset(ui, 0, sizeof(*ui));
}

/* ---- the main loop ---- */

static void
paint(struct qs_ui *ui)
{
    double began = qs_trace_now();

    qs_display_size(&ui->lines, &ui->cols);
    qs_ui_draw(ui);
    qs_display_paint(&ui->frame);
    qs_layer_view_after_paint(ui);
    QS_TRACE("painted %s in %.2f ms", qs_ui_view(ui)->ops->name, (qs_trace_now() - began) * 1e3);
}

/* Wait for a key, a finished job or a signal; returns when any is there. */
static void
wait_input(struct qs_ui *ui)
{
    struct pollfd fds[3];
    nfds_t n = 0;
    int busy = qs_worker_busy(ui->worker, NULL, NULL);

    fds[n++] = (struct pollfd){ .fd = qs_worker_fd(ui->worker), .events = POLLIN };
    fds[n++] = (struct pollfd){ .fd = qs_display_signal_fd(), .events = POLLIN };
    if (qs_display_input_fd() >= 0)
        fds[n++] = (struct pollfd){ .fd = qs_display_input_fd(), .events = POLLIN };
    /* While jobs run, wake up now and then to move the progress line. */
    if (poll(fds, n, busy ? 250 : -1) < 0 && errno != EINTR)
        ui->quit = 1;
}

static void
run_loop(struct qs_ui *ui, struct qs_ui_script *script)
{
    struct qs_mouse mouse;
    int key;

    while (!ui->quit) {
        if (script) {
            qs_worker_wait_idle(ui->worker);
            paint(ui);
            if (qs_ui_script_step(ui, script) != 0)
                break;
            continue;
        }
        paint(ui);
        wait_input(ui);
        if (qs_display_stop_requested(NULL))
            break;
        qs_worker_collect(ui->worker);
        while (!ui->quit && (key = qs_display_read_key(&mouse)) >= 0) {
            if (key == QS_KEY_RESIZE)
                qs_display_resized();
            qs_ui_key(ui, key, &mouse);
        }
    }
}

/* Where the browser cannot start: print what the commands print, and say why. */
static int
fallback(const struct qs_cli *cli, int is_dir, const char *why)
{
    int status = is_dir ? qs_ops_run(cli) : qs_info_run(cli);

    fprintf(stderr, "qscope: %s: printed 'qscope %s' instead of opening the browser\n", why,
            is_dir ? "ops" : "info");
    return status;
}

/* Load the model before the screen is touched; returns 0 or the exit status. */
static int
load_model(const struct qs_cli *cli, struct qs_model **model, struct qs_diag *diag)
{
    enum qs_status status = qs_cli_load_model(cli, cli->args[0], diag, model);

    if (status != QS_OK) {
        int rc = qs_cli_finish(cli, diag, cli->args[0]);

        return rc ? rc : qs_status_exit_code(status);
    }
    return 0;
}

static int
run_browser(const struct qs_cli *cli, struct qs_model *model, const struct qs_diag *diag,
            struct qs_ui_script *script, const struct qs_ui_options *ui_options)
{
    struct qs_display_options options = { 0 };
    struct qs_ui ui;
    int lines, cols, sixel = 0, signo = 0;

    options.no_display = getenv("QSCOPE_NO_DISPLAY") != NULL;
    options.no_color = getenv("NO_COLOR") && getenv("NO_COLOR")[0];
    if (!options.no_display && !script)
        sixel = qs_display_query_sixel(150);
    if (qs_display_open(&options) != 0) {
        qs_model_free(model);
        return qs_status_exit_code(QS_UNSUPPORTED);
    }
    qs_display_size(&lines, &cols);
    qs_ui_init(&ui, cli, lines, cols);
    ui.script = script != NULL;
    qs_plot_configure(ui.plot, qs_display_colors(), sixel);
    if (model) {
        qs_ui_set_model(&ui, model);
        qs_ui_act_start(&ui, ui_options);
    } else {
        qs_ui_set_folder(&ui, cli->args[0]);
    }
    if (diag->count)
        qs_ui_error_diag(&ui, diag);
    run_loop(&ui, script);
    qs_ui_done(&ui);
    qs_display_close();
    if (qs_display_stop_requested(&signo))
        return 128 + signo;
    return 0;
}

int
qs_ui_main(const struct qs_cli *cli, const struct qs_ui_options *options)
{
    const char *term = getenv("TERM");
    int no_display = getenv("QSCOPE_NO_DISPLAY") != NULL;
    struct qs_model *model = NULL;
    struct qs_ui_script *script = NULL;
    struct qs_diag diag;
    struct stat st;
    int is_dir = stat(cli->args[0], &st) == 0 && S_ISDIR(st.st_mode);
    int rc;

    if (!no_display && !isatty(STDOUT_FILENO))
        return fallback(cli, is_dir, "standard output is not a terminal");
    if (!no_display && !isatty(STDIN_FILENO))
        return fallback(cli, is_dir, "standard input is not a terminal");
    if (!no_display && (!term || !*term || strcmp(term, "dumb") == 0))
        return fallback(cli, is_dir, "TERM is unset or dumb");
    qs_glyphs_init(qs_ui_locale_is_utf8());
    qs_diag_init(&diag);
    rc = is_dir ? 0 : load_model(cli, &model, &diag);
    if (rc != 0) {
        qs_diag_done(&diag);
        return rc;
    }
    if (getenv("QSCOPE_SCRIPT"))
        script = qs_ui_script_open(getenv("QSCOPE_SCRIPT"));
    if (getenv("QSCOPE_SCRIPT") && !script) {
        fprintf(stderr, "qscope: %s: cannot read the key script\n", getenv("QSCOPE_SCRIPT"));
        qs_model_free(model);
        qs_diag_done(&diag);
        return qs_status_exit_code(QS_USAGE);
    }
    qs_trace_open();
    rc = run_browser(cli, model, &diag, script, options);
    qs_ui_script_close(script);
    qs_trace_close();
    qs_diag_done(&diag);
    return rc;
}
