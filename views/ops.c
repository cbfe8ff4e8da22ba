/*
 * Ops view: how often each op type occurs, as horizontal bars with counts
 * and shares, sorted by count or by name.  Enter shows the graph view
 * narrowed to the chosen op.  For a folder it shows the corpus: nodes of
 * every model and the number of models using each op.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "strmap.h"
#include "ui.h"

struct ops_entry {
    char *op;
    char *search;            /* lowercase op */
    uint64_t count;
    uint64_t models;         /* folders only */
};

struct ops_view {
    struct ops_entry *entries;
    size_t n;
    uint64_t total;
    uint64_t largest;
    int by_name;
    int corpus;              /* counts come from a folder */
    unsigned generation;     /* ui->generation the corpus counts were taken at */
};

#define OPS_NAME_WIDTH 24
#define OPS_COUNT_WIDTH 8
#define OPS_SHARE_WIDTH 7
#define OPS_MODELS_WIDTH 7

static void
entries_free(struct ops_view *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->entries[i].op);
        free(o->entries[i].search);
    }
    free(o->entries);
    o->entries = NULL;
    o->n = 0;
}

static struct ops_entry *
entry_add(struct ops_view *o, const char *op)
{
    struct ops_entry *e;

    o->entries = qs_reallocarray(o->entries, o->n + 1, sizeof(*o->entries));
    e = &o->entries[o->n++];
    memset(e, 0, sizeof(*e));
    e->op = qs_strdup(op);
    e->search = qs_strdup(op);
    for (char *p = e->search; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return e;
}

static int
compare_count(const void *a, const void *b)
{
    const struct ops_entry *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->op, y->op);
}

static int
compare_name(const void *a, const void *b)
{
    const struct ops_entry *x = a, *y = b;

    return strcmp(x->op, y->op);
}

static void
sort_entries(struct ops_view *o)
{
    if (o->n > 1)
        qsort(o->entries, o->n, sizeof(*o->entries), o->by_name ? compare_name : compare_count);
}

/* Count the op types of every graph of the model. */
static void
count_model(struct ops_view *o, const struct qs_model *model)
{
    struct qs_strmap *map = qs_strmap_new();
    char buf[256];

    for (size_t g = 0; g < model->n_graphs; g++)
        for (size_t i = 0; i < model->graphs[g]->n_nodes; i++) {
            const char *op = qs_node_qualified_op(&model->graphs[g]->nodes[i], buf, sizeof(buf));
            size_t index = (size_t)(uintptr_t)qs_strmap_get(map, op);

            if (!index) {
                entry_add(o, op);
                index = o->n;
                /* The key is the entry's own string, which stays put when the array moves. */
                qs_strmap_put(map, o->entries[index - 1].op, (void *)(uintptr_t)index);
            }
            o->entries[index - 1].count++;
            o->total++;
        }
    qs_strmap_free(map);
}

static void
take_corpus(struct ops_view *o, const struct qs_corpus *corpus)
{
    entries_free(o);
    o->total = corpus->total;
    for (size_t i = 0; i < corpus->n_ops; i++) {
        struct ops_entry *e = entry_add(o, corpus->ops[i].op);

        e->count = corpus->ops[i].count;
        e->models = corpus->ops[i].models;
    }
}

static void
finish(struct ops_view *o)
{
    o->largest = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->entries[i].count > o->largest)
            o->largest = o->entries[i].count;
    sort_entries(o);
}

static int
ops_open(struct qs_view *view)
{
    struct ops_view *o = view->priv;

    o->corpus = view->ui->model == NULL;
    if (!o->corpus) {
        count_model(o, view->ui->model);
        finish(o);
    }
    return 0;
}

static void
ops_close(struct qs_view *view)
{
    entries_free(view->priv);
}

static size_t
ops_count(struct qs_view *view)
{
    struct ops_view *o = view->priv;

    if (o->corpus && view->ui->corpus && o->generation != view->ui->generation) {
        o->generation = view->ui->generation;
        take_corpus(o, view->ui->corpus);
        finish(o);
    }
    return o->n;
}

static void
ops_draw_header(struct qs_view *view, struct qs_row *row)
{
    struct ops_view *o = view->priv;

    qs_row_cell(row, QS_STYLE_TITLE, "op", OPS_NAME_WIDTH, 0);
    qs_row_cell(row, QS_STYLE_TITLE, "nodes", OPS_COUNT_WIDTH, 1);
    qs_row_cell(row, QS_STYLE_TITLE, "share", OPS_SHARE_WIDTH, 1);
    if (o->corpus)
        qs_row_cell(row, QS_STYLE_TITLE, "models", OPS_MODELS_WIDTH + 1, 1);
    qs_row_addf(row, QS_STYLE_TITLE, "  sorted by %s", o->by_name ? "name" : "count");
}

static void
ops_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    struct ops_view *o = view->priv;
    const struct ops_entry *e = &o->entries[line];
    char buf[32];
    size_t used;

    qs_row_cell(row, QS_STYLE_OP, e->op, OPS_NAME_WIDTH, 0);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)e->count);
    qs_row_cell(row, QS_STYLE_NORMAL, buf, OPS_COUNT_WIDTH, 1);
    snprintf(buf, sizeof(buf), "%.1f%%",
             o->total ? 100.0 * (double)e->count / (double)o->total : 0.0);
    qs_row_cell(row, QS_STYLE_DIM, buf, OPS_SHARE_WIDTH, 1);
    if (o->corpus) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)e->models);
        qs_row_cell(row, QS_STYLE_NORMAL, buf, OPS_MODELS_WIDTH + 1, 1);
    }
    qs_row_add(row, QS_STYLE_NORMAL, "  ");
    used = row->width;
    if (cols > used + 1)
        qs_row_bar(row, QS_STYLE_BAR, o->largest ? (double)e->count / (double)o->largest : 0,
                   cols - used - 1);
}

static const char *
ops_search_text(struct qs_view *view, size_t line)
{
    struct ops_view *o = view->priv;

    return o->entries[line].search;
}

/* Re-sort, keeping the same op selected. */
static void
toggle_sort(struct qs_view *view)
{
    struct ops_view *o = view->priv;
    char *keep = view->sel < o->n ? qs_strdup(o->entries[view->sel].op) : NULL;

    o->by_name = !o->by_name;
    sort_entries(o);
    for (size_t i = 0; keep && i < o->n; i++)
        if (strcmp(o->entries[i].op, keep) == 0)
            qs_view_select(view, i);
    free(keep);
}

static int
ops_key(struct qs_view *view, enum qs_action action, int key)
{
    struct ops_view *o = view->priv;
    struct qs_ui *ui = view->ui;

    (void)key;
    if (action == QS_ACTION_SORT_TOGGLE) {
        toggle_sort(view);
        return 1;
    }
    if (action != QS_ACTION_ENTER || view->sel >= o->n)
        return 0;
    if (o->corpus) {
        qs_ui_error(ui, "a folder has no graph view: open one of its models");
        return 1;
    }
    free(ui->graph_filter);
    ui->graph_filter = qs_strdup(o->entries[view->sel].op);
    qs_ui_show(ui, QS_VIEW_GRAPH);
    return 1;
}

static void
ops_status(struct qs_view *view, char *buf, size_t size)
{
    struct ops_view *o = view->priv;

    snprintf(buf, size, "%zu op types, %llu nodes", o->n, (unsigned long long)o->total);
}

const struct qs_view_ops qs_ops_view = {
    .name = "ops",
    .group = QS_GROUP_OPS,
    .flags = QS_VIEW_LIST | QS_VIEW_TAB,
    .private_size = sizeof(struct ops_view),
    .open = ops_open,
    .close = ops_close,
    .count = ops_count,
    .draw_header = ops_draw_header,
    .draw_line = ops_draw_line,
    .search_text = ops_search_text,
    .key = ops_key,
    .status = ops_status,
};
