/*
 * The view registry and what the framework does for every list view:
 * selection, scrolling and drawing the visible rows (and only those, so
 * that a graph of 100,000 nodes costs no more than one of 10).
 */
#include "config.h"
#include "view.h"

#include <string.h>

static const struct qs_view_ops *const registry[QS_VIEW_COUNT] = {
#define QS_VIEW_REGISTER(id, name) [QS_VIEW_##id] = &qs_##name##_view,
    QS_VIEW_INFO(QS_VIEW_REGISTER)
#undef QS_VIEW_REGISTER
};

const struct qs_view_ops *
qs_view_ops_of(enum qs_view_id id)
{
    return registry[id];
}

int
qs_view_find(const char *name)
{
    for (int id = 0; id < QS_VIEW_COUNT; id++)
        if (strcmp(registry[id]->name, name) == 0)
            return id;
    return -1;
}

/* Scroll so that the selection is on screen. */
static void
view_scroll(struct qs_view *view)
{
    size_t height = view->list_height > 0 ? (size_t)view->list_height : 1;

    if (view->sel < view->top)
        view->top = view->sel;
    else if (view->sel >= view->top + height)
        view->top = view->sel - height + 1;
    if (view->rows <= height)
        view->top = 0;
    else if (view->top > view->rows - height)
        view->top = view->rows - height;
}

void
qs_view_select(struct qs_view *view, size_t line)
{
    if (view->ops->count)
        view->rows = view->ops->count(view);
    if (view->rows == 0)
        line = 0;
    else if (line >= view->rows)
        line = view->rows - 1;
    view->sel = line;
    view_scroll(view);
}

void
qs_view_move(struct qs_view *view, long delta)
{
    size_t line = view->sel;

    if (delta < 0)
        line = (size_t)-delta > line ? 0 : line - (size_t)-delta;
    else
        line = line + (size_t)delta < line ? SIZE_MAX : line + (size_t)delta;
    qs_view_select(view, line);
}

void
qs_view_draw_list(struct qs_view *view, struct qs_frame *frame, int top, int height)
{
    size_t cols = (size_t)frame->cols;

    if (height <= 0)
        return;
    if (view->ops->draw_header) {
        struct qs_row *row = &frame->rows[top];

        view->ops->draw_header(view, row);
        qs_row_truncate(row, cols);
        top++;
        height--;
    }
    view->rows = view->ops->count ? view->ops->count(view) : 0;
    view->list_y = top;
    view->list_height = height;
    if (view->sel >= view->rows)
        view->sel = view->rows ? view->rows - 1 : 0;
    view_scroll(view);
    for (int y = 0; y < height && view->top + (size_t)y < view->rows; y++) {
        struct qs_row *row = &frame->rows[top + y];
        size_t line = view->top + (size_t)y;

        view->ops->draw_line(view, line, row, cols);
        qs_row_truncate(row, cols);
        if (line == view->sel)
            qs_row_restyle(row, QS_STYLE_SELECTED);
    }
}
