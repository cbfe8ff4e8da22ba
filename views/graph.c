/*
 * Graph view: every node in graph order, with the subgraphs of If, Loop
 * and Scan nodes nested under them and foldable.  Enter opens a node in
 * the node view.  The ops view can narrow it to the nodes of one op type.
 *
 * The entries (nodes and subgraph headings) are collected once, depth
 * first, with each entry's search text precomputed in one buffer, so that
 * searching 100,000 nodes is one pass of strstr and drawing touches only
 * the rows on screen.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "model_print.h"
#include "trace.h"
#include "ui.h"

enum graph_entry_kind {
    GRAPH_NODE,
    GRAPH_SUBGRAPH           /* heading of a subgraph under its node */
};

struct graph_entry {
    enum graph_entry_kind kind;
    int depth;               /* nesting: 0 for the main graph's nodes */
    struct qs_node *node;    /* the node, or the node owning the subgraph */
    struct qs_graph *graph;  /* GRAPH_SUBGRAPH: the subgraph */
    size_t end;              /* index after the entry's subtree */
    size_t search;           /* offset of its search text in graph_view.text */
};

struct graph_view {
    struct graph_entry *entries;
    size_t n_entries;
    size_t cap_entries;
    char *text;              /* search texts, NUL-separated, lowercase */
    size_t text_len;
    size_t text_cap;
    unsigned char *folded;   /* per entry: its subgraphs are hidden */
    size_t *visible;         /* entry indices shown, in order */
    size_t n_visible;
    char *filter;            /* op type shown alone, or NULL */
    size_t filter_count;
};

/* ---- collecting the entries ---- */

static void
text_append(struct graph_view *g, const char *text)
{
    size_t len = strlen(text);

    if (g->text_len + len + 2 > g->text_cap) {
        g->text_cap = (g->text_len + len + 2) * 2;
        g->text = qs_realloc(g->text, g->text_cap);
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        g->text[g->text_len++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    g->text[g->text_len++] = ' ';
    g->text[g->text_len] = 0;
}

static size_t
entry_add(struct graph_view *g, enum graph_entry_kind kind, int depth, struct qs_node *node,
          struct qs_graph *graph)
{
    struct graph_entry *e;
    char op[128];

    if (g->n_entries == g->cap_entries) {
        g->cap_entries = g->cap_entries ? g->cap_entries * 2 : 256;
        g->entries = qs_reallocarray(g->entries, g->cap_entries, sizeof(*g->entries));
    }
    e = &g->entries[g->n_entries];
    *e = (struct graph_entry){ kind, depth, node, graph, g->n_entries + 1, g->text_len };
    if (kind == GRAPH_NODE) {
        text_append(g, qs_node_qualified_op(node, op, sizeof(op)));
        text_append(g, node->label);
    } else
        text_append(g, graph->name ? graph->name : "");
    g->text_len++;           /* keep the NUL between texts */
    return g->n_entries++;
}

/* Add the nodes of "graph" and, under each node, its subgraphs. */
static void
collect(struct graph_view *g, struct qs_graph *graph, int depth)
{
    for (size_t i = 0; i < graph->n_nodes; i++) {
        struct qs_node *node = &graph->nodes[i];
        size_t at = entry_add(g, GRAPH_NODE, depth, node, NULL);

        for (size_t s = 0; s < node->n_subgraphs; s++) {
            size_t head = entry_add(g, GRAPH_SUBGRAPH, depth + 1, node, node->subgraphs[s]);

            /* The loader bounds nesting by QS_MAX_GRAPH_DEPTH, so recursion is bounded too. */
            collect(g, node->subgraphs[s], depth + 2);
            g->entries[head].end = g->n_entries;
        }
        g->entries[at].end = g->n_entries;
    }
}

static int
entry_matches_filter(const struct graph_view *g, const struct graph_entry *e)
{
    char op[128];

    return e->kind == GRAPH_NODE &&
           strcmp(qs_node_qualified_op(e->node, op, sizeof(op)), g->filter) == 0;
}

static void
rebuild_visible(struct graph_view *g)
{
    size_t i = 0;

    g->n_visible = 0;
    g->filter_count = 0;
    while (i < g->n_entries) {
        const struct graph_entry *e = &g->entries[i];

        if (g->filter) {
            if (entry_matches_filter(g, e))
                g->visible[g->n_visible++] = i;
            i++;
            continue;
        }
        g->visible[g->n_visible++] = i;
        i = g->folded[i] ? e->end : i + 1;
    }
    if (g->filter)
        g->filter_count = g->n_visible;
}

static int
graph_open(struct qs_view *view)
{
    struct graph_view *g = view->priv;
    double began = qs_trace_now();

    collect(g, view->ui->model->graph, 0);
    g->folded = qs_calloc(g->n_entries + 1, 1);
    g->visible = qs_calloc(g->n_entries + 1, sizeof(*g->visible));
    rebuild_visible(g);
    QS_TRACE("%zu entries in %.1f ms", g->n_entries, (qs_trace_now() - began) * 1e3);
    return 0;
}

static void
graph_close(struct qs_view *view)
{
    struct graph_view *g = view->priv;

    free(g->entries);
    free(g->text);
    free(g->folded);
    free(g->visible);
    free(g->filter);
}

static void show_entry(struct qs_view *view, size_t index);

/* Follow a change of the ops view's choice, keeping the selected node where it is still shown. */
static void
sync_filter(struct qs_view *view)
{
    struct graph_view *g = view->priv;
    const char *want = view->ui->graph_filter;
    size_t keep = view->sel < g->n_visible ? g->visible[view->sel] : SIZE_MAX;

    if ((!want && !g->filter) || (want && g->filter && strcmp(want, g->filter) == 0))
        return;
    free(g->filter);
    g->filter = want ? qs_strdup(want) : NULL;
    rebuild_visible(g);
    view->sel = 0;
    view->top = 0;
    if (keep != SIZE_MAX && (!g->filter || entry_matches_filter(g, &g->entries[keep])))
        show_entry(view, keep);
}

static size_t
graph_count(struct qs_view *view)
{
    struct graph_view *g = view->priv;

    sync_filter(view);
    return g->n_visible;
}

/* ---- drawing ---- */

/* Columns: index, op (with the nesting indent), name, shapes. */
#define GRAPH_INDEX_WIDTH 6
#define GRAPH_OP_WIDTH 21

static size_t
name_width(size_t cols)
{
    size_t fixed = GRAPH_INDEX_WIDTH + GRAPH_OP_WIDTH;
    size_t rest = cols > fixed ? cols - fixed : 0;

    return rest > 60 ? rest / 3 : rest * 2 / 5;
}

static void
graph_draw_header(struct qs_view *view, struct qs_row *row)
{
    (void)view;
    qs_row_cell(row, QS_STYLE_TITLE, "#", GRAPH_INDEX_WIDTH - 1, 1);
    qs_row_add(row, QS_STYLE_TITLE, " ");
    qs_row_cell(row, QS_STYLE_TITLE, "op", GRAPH_OP_WIDTH, 0);
    qs_row_cell(row, QS_STYLE_TITLE, "name", name_width((size_t)view->ui->cols), 0);
    qs_row_addf(row, QS_STYLE_TITLE, " inputs %s outputs", qs_glyphs.arrow_right);
}

/* Declared types of the node's non-constant inputs, then of its outputs. */
static void
draw_shapes(struct qs_row *row, const struct qs_node *node)
{
    int first = 1;

    for (size_t i = 0; i < node->n_inputs; i++) {
        const struct qs_value *v = node->inputs[i];
        char *text;

        if (!v || v->tensor)
            continue;
        text = qs_type_text(&v->type);
        qs_row_addf(row, QS_STYLE_DIM, "%s%s", first ? "" : " ", text);
        free(text);
        first = 0;
    }
    qs_row_addf(row, QS_STYLE_NORMAL, " %s", qs_glyphs.arrow_right);
    for (size_t i = 0; i < node->n_outputs; i++) {
        char *text;

        if (!node->outputs[i])
            continue;
        text = qs_type_text(&node->outputs[i]->type);
        qs_row_addf(row, QS_STYLE_DIM, " %s", text);
        free(text);
    }
}

static void
draw_node(struct graph_view *g, size_t index, struct qs_row *row, size_t cols)
{
    const struct graph_entry *e = &g->entries[index];
    size_t indent = g->filter ? 0 : (size_t)e->depth * 2;
    char buf[64], op[128];
    const char *mark = " ";

    snprintf(buf, sizeof(buf), "%zu", e->node->index);
    qs_row_cell(row, QS_STYLE_DIM, buf, GRAPH_INDEX_WIDTH - 1, 1);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    if (e->node->n_subgraphs && !g->filter)
        mark = g->folded[index] ? qs_glyphs.fold_closed : qs_glyphs.fold_open;
    qs_row_pad(row, row->width + (indent < GRAPH_OP_WIDTH - 6 ? indent : GRAPH_OP_WIDTH - 6));
    qs_row_add(row, QS_STYLE_NORMAL, mark);
    qs_row_cell(row, QS_STYLE_OP, qs_node_qualified_op(e->node, op, sizeof(op)),
                GRAPH_INDEX_WIDTH + GRAPH_OP_WIDTH - row->width - 1, 0);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    qs_row_cell(row, QS_STYLE_NORMAL, e->node->label, name_width(cols) - 1, 0);
    qs_row_add(row, QS_STYLE_NORMAL, " ");
    draw_shapes(row, e->node);
}

static void
graph_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    struct graph_view *g = view->priv;
    size_t index = g->visible[line];
    const struct graph_entry *e = &g->entries[index];

    if (e->kind == GRAPH_NODE) {
        draw_node(g, index, row, cols);
        return;
    }
    qs_row_pad(row, GRAPH_INDEX_WIDTH + (size_t)e->depth * 2);
    qs_row_addf(row, QS_STYLE_TITLE, "%s:", e->graph->attr_name ? e->graph->attr_name : "graph");
    qs_row_addf(row, QS_STYLE_DIM, " %s, %zu nodes", e->graph->name ? e->graph->name : "",
                e->graph->n_nodes);
}

static const char *
graph_search_text(struct qs_view *view, size_t line)
{
    struct graph_view *g = view->priv;

    return g->text + g->entries[g->visible[line]].search;
}

/* ---- keys ---- */

/* Index of the entry of the node that owns the selected row's subgraphs, or SIZE_MAX. */
static size_t
fold_target(struct graph_view *g, size_t line)
{
    size_t index;

    if (line >= g->n_visible)
        return SIZE_MAX;
    index = g->visible[line];
    if (g->entries[index].kind == GRAPH_NODE && g->entries[index].node->n_subgraphs)
        return index;
    /* Inside a subgraph: the node that owns it. */
    for (size_t i = index; i-- > 0;)
        if (g->entries[i].kind == GRAPH_NODE && g->entries[i].node->n_subgraphs &&
            g->entries[i].end > index)
            return i;
    return SIZE_MAX;
}

/* Keep the selection on entry "index" after the visible rows changed. */
static void
select_entry(struct qs_view *view, size_t index)
{
    struct graph_view *g = view->priv;

    for (size_t line = 0; line < g->n_visible; line++)
        if (g->visible[line] == index) {
            qs_view_select(view, line);
            return;
        }
}

/* Unfold what hides the entries whose text contains "needle".  Returns how many were hidden. */
static size_t
graph_search_reveal(struct qs_view *view, const char *needle)
{
    struct graph_view *g = view->priv;
    size_t keep = view->sel < g->n_visible ? g->visible[view->sel] : 0;
    /* The latest entry at each depth: as entries come depth first, entry i's ancestors. */
    size_t above[2 * QS_MAX_GRAPH_DEPTH + 2];
    size_t hidden = 0;

    if (g->filter)
        return 0;
    for (size_t i = 0; i < g->n_entries; i++) {
        int depth = g->entries[i].depth;
        int folded = 0;

        if (depth < 0 || (size_t)depth >= sizeof(above) / sizeof(above[0]))
            continue;
        above[depth] = i;
        for (int d = 0; d < depth; d++)
            folded |= g->folded[above[d]];
        if (!folded || !strstr(g->text + g->entries[i].search, needle))
            continue;
        for (int d = 0; d < depth; d++)
            g->folded[above[d]] = 0;
        hidden++;
    }
    if (hidden) {
        rebuild_visible(g);
        select_entry(view, keep);
    }
    return hidden;
}

static void
fold_all(struct qs_view *view, int fold)
{
    struct graph_view *g = view->priv;
    size_t keep = view->sel < g->n_visible ? g->visible[view->sel] : 0;

    for (size_t i = 0; i < g->n_entries; i++)
        g->folded[i] = fold && g->entries[i].kind == GRAPH_NODE && g->entries[i].node->n_subgraphs;
    /* The selected entry may now be inside a folded subgraph: go to its outermost node. */
    while (keep > 0 && g->entries[keep].depth > 0)
        keep--;
    rebuild_visible(g);
    select_entry(view, keep);
}

static int
graph_key(struct qs_view *view, enum qs_action action, int key)
{
    struct graph_view *g = view->priv;
    size_t index;

    (void)key;
    switch (action) {
    case QS_ACTION_ENTER:
        if (view->sel < g->n_visible && g->entries[g->visible[view->sel]].kind == GRAPH_NODE)
            qs_node_view_open(view->ui, g->entries[g->visible[view->sel]].node);
        return 1;
    case QS_ACTION_FOLD:
        index = fold_target(g, view->sel);
        if (index == SIZE_MAX || g->filter)
            return 1;
        g->folded[index] = !g->folded[index];
        rebuild_visible(g);
        select_entry(view, index);
        return 1;
    case QS_ACTION_FOLD_ALL:
    case QS_ACTION_UNFOLD_ALL:
        fold_all(view, action == QS_ACTION_FOLD_ALL);
        return 1;
    case QS_ACTION_CLEAR_FILTER:
        free(view->ui->graph_filter);
        view->ui->graph_filter = NULL;
        return 1;
    default:
        return 0;
    }
}

static void
graph_status(struct qs_view *view, char *buf, size_t size)
{
    struct graph_view *g = view->priv;

    if (g->filter)
        snprintf(buf, size, "%s only: %zu nodes", g->filter, g->filter_count);
    else
        snprintf(buf, size, "%zu/%zu", g->n_visible ? view->sel + 1 : 0, g->n_visible);
}

/* Select entry "index", unfolding every node whose subtree contains it. */
static void
show_entry(struct qs_view *view, size_t index)
{
    struct graph_view *g = view->priv;

    for (size_t i = 0; i < index; i++)
        if (g->entries[i].end > index)
            g->folded[i] = 0;
    rebuild_visible(g);
    select_entry(view, index);
}

void
qs_graph_view_select_node(struct qs_ui *ui, const struct qs_node *node)
{
    struct qs_view *view = &ui->views[QS_VIEW_GRAPH];
    struct graph_view *g = view->priv;
    size_t index = SIZE_MAX;

    if (!g)
        return;
    for (size_t i = 0; i < g->n_entries && index == SIZE_MAX; i++)
        if (g->entries[i].kind == GRAPH_NODE && g->entries[i].node == node)
            index = i;
    if (index != SIZE_MAX)
        show_entry(view, index);
}

const struct qs_view_ops qs_graph_view = {
    .name = "graph",
    .group = QS_GROUP_GRAPH,
    .flags = QS_VIEW_LIST | QS_VIEW_MODEL | QS_VIEW_TAB,
    .private_size = sizeof(struct graph_view),
    .open = graph_open,
    .close = graph_close,
    .count = graph_count,
    .draw_header = graph_draw_header,
    .draw_line = graph_draw_line,
    .search_text = graph_search_text,
    .search_reveal = graph_search_reveal,
    .key = graph_key,
    .status = graph_status,
};
