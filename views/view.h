/*
 * The interface between the browser's framework (ui.c) and its views.
 *
 * Each view lives in its own file views/NAME.c, which fills one
 * `const struct qs_view_ops qs_NAME_view` with designated initializers.
 * The framework allocates the view's private state ("private_size"
 * zeroed bytes) when the view is first shown, calls "open" once, and
 * "close" when the browser ends.
 *
 * Drawing never touches curses: a view describes its rows as text with
 * styles (row.h) and display.c paints them.  List views (QS_VIEW_LIST)
 * give a row count and a "draw_line" hook, and the framework handles
 * scrolling, selection, the mouse and search; other views draw their
 * whole area with "draw".
 *
 * Keys go through a chain: the framework looks the key up in the action
 * table (actions.h; the view's group first), and passes the action to the
 * view's "key" hook.  The hook returns 1 when it handled it; otherwise the
 * framework's generic driver in ui.c does (movement, view switching,
 * search, quit).
 */
#ifndef QS_VIEW_H
#define QS_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "actions.h"
#include "row.h"

struct qs_ui;
struct qs_view;

/* Every view: ID, name (also its `:view NAME` command), tab flag. */
#define QS_VIEW_INFO(_) \
    _(GRAPH,  graph) \
    _(NODE,   node) \
    _(OPS,    ops) \
    _(LAYERS, layers) \
    _(LAYER,  layer) \
    _(PLAN,   plan) \
    _(EVAL,   eval) \
    _(HELP,   help)

enum qs_view_id {
#define QS_VIEW_ENUM(id, name) QS_VIEW_##id,
    QS_VIEW_INFO(QS_VIEW_ENUM)
#undef QS_VIEW_ENUM
    QS_VIEW_COUNT
};

enum qs_view_flags {
    QS_VIEW_LIST = 1 << 0,       /* rows with a selection: the framework moves and draws them */
    QS_VIEW_MODEL = 1 << 1,      /* needs a model: not offered for a folder of models */
    QS_VIEW_TAB = 1 << 2         /* listed in the tab line with its key */
};

struct qs_view_ops {
    const char *name;            /* "graph" */
    enum qs_action_group group;  /* whose keys the view takes first */
    unsigned flags;              /* enum qs_view_flags */
    size_t private_size;         /* bytes of zeroed state in view->priv */

    /* Called once before the view is first drawn.  Returns 0, or -1 with a message set. */
    int (*open)(struct qs_view *view);
    /* Free what the view allocated itself (not view->priv). */
    void (*close)(struct qs_view *view);

    /* List views: number of rows, called before each drawing (may rebuild them). */
    size_t (*count)(struct qs_view *view);
    /* List views: column titles above the rows, or NULL for none. */
    void (*draw_header)(struct qs_view *view, struct qs_row *row);
    /* List views: row "line" (< count) in "row", at most "cols" columns. */
    void (*draw_line)(struct qs_view *view, size_t line, struct qs_row *row, size_t cols);
    /* List views: lowercase text that `/` searches in row "line", or NULL. */
    const char *(*search_text)(struct qs_view *view, size_t line);
    /*
     * List views with hidden rows (folded subgraphs), optional: show the
     * rows whose text holds "needle" (lowercase).  Returns how many were
     * hidden; the search then runs again.
     */
    size_t (*search_reveal)(struct qs_view *view, const char *needle);

    /*
     * Views without a list, or with panels around it: draw rows "top" ..
     * "top + height - 1" of "frame".  List views may call
     * qs_view_draw_list for their list part.
     */
    void (*draw)(struct qs_view *view, struct qs_frame *frame, int top, int height);

    /* Handle "action" (QS_ACTION_NONE for an unbound key "key").  Returns 1 when handled. */
    int (*key)(struct qs_view *view, enum qs_action action, int key);

    /* The view became the current one (after open). */
    void (*shown)(struct qs_view *view);

    /* Text for the right end of the status line ("row 3/765"), or nothing. */
    void (*status)(struct qs_view *view, char *buf, size_t size);
};

struct qs_view {
    enum qs_view_id id;
    const struct qs_view_ops *ops;
    struct qs_ui *ui;
    void *priv;                  /* ops->private_size bytes, owned by the framework */
    int opened;

    /* List state, kept by the framework. */
    size_t rows;                 /* row count at the last drawing */
    size_t top;                  /* first row on screen */
    size_t sel;                  /* selected row */
    int list_y;                  /* screen line of the first list row at the last drawing */
    int list_height;             /* list rows on screen at the last drawing */
};

#define QS_VIEW_DECLARE(id, name) extern const struct qs_view_ops qs_##name##_view;
QS_VIEW_INFO(QS_VIEW_DECLARE)
#undef QS_VIEW_DECLARE

/* Ops of view "id". */
const struct qs_view_ops *qs_view_ops_of(enum qs_view_id id);

/* The view called "name", or -1. */
int qs_view_find(const char *name);

/*
 * Draw the list of a list view in rows "top" .. "top + height - 1" of
 * "frame": its header (if any) and the rows around the selection.
 */
void qs_view_draw_list(struct qs_view *view, struct qs_frame *frame, int top, int height);

/* Select row "line" (clamped to the row count) and scroll so it shows. */
void qs_view_select(struct qs_view *view, size_t line);

/*
 * Move the selection by "delta" rows (negative: up) and keep it on
 * screen.
 */
void qs_view_move(struct qs_view *view, long delta);

/* ---- entry points of the views, for the framework and for each other ---- */

struct qs_node;

/* Show "node" in the node view; the node shown before is remembered for Back. */
void qs_node_view_open(struct qs_ui *ui, const struct qs_node *node);

/* Select "node" in the graph view, unfolding what hides it. */
void qs_graph_view_select_node(struct qs_ui *ui, const struct qs_node *node);

/*
 * Set the layer view's trial configuration from a configuration string
 * (`:config int4:g64:sym`).  Returns 0, or -1 with an error shown.
 */
int qs_layer_view_set_config(struct qs_ui *ui, const char *text);

/* Draw what curses cannot (sixel images) after the screen was painted. */
void qs_layer_view_after_paint(struct qs_ui *ui);

struct qs_quant_config;

/*
 * The layer view's trial configuration in "config": the one on screen,
 * or the default int8 per-channel one before the view was first shown.
 */
void qs_layer_view_config(struct qs_ui *ui, struct qs_quant_config *config);

#endif
