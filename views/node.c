/*
 * Node view: one node in full.  Its attributes (tensors summarised, not
 * dumped), its inputs with the node or graph input that produces each,
 * its outputs with the nodes that consume them, the statistics of the
 * weights it reads, and its subgraphs.  Enter (or p and c) follows an
 * edge to another node; Back returns along the path taken.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model_print.h"
#include "output.h"
#include "ui.h"

enum node_row_kind {
    ROW_TITLE,
    ROW_WHERE,
    ROW_SECTION,
    ROW_ATTR,
    ROW_INPUT,
    ROW_WEIGHT,              /* statistics of the weight read by the input above */
    ROW_OUTPUT,
    ROW_CONSUMER,            /* a further consumer of the output above */
    ROW_SUBGRAPH
};

struct node_row {
    enum node_row_kind kind;
    size_t index;            /* attribute, input, output or subgraph index */
    const char *section;     /* ROW_SECTION */
    const struct qs_node *target;    /* where Enter goes, or NULL */
    size_t layer;            /* ROW_INPUT, ROW_WEIGHT: the weight's layer, or SIZE_MAX */
};

struct node_view {
    const struct qs_node *node;
    size_t name_width;       /* the longest name of the node's values, within limits */
    const struct qs_node **path; /* nodes to go back to, oldest first */
    size_t n_path;
    size_t cap_path;
    struct node_row *rows;
    size_t n_rows;
    size_t cap_rows;
};

/* Narrowest name column of attribute, input and output rows. */
#define NODE_NAME_WIDTH 22

/* Values of a small tensor shown in full, at most. */
#define NODE_TENSOR_SHOWN 8

/* ---- building the rows ---- */

static struct node_row *
row_add(struct node_view *n, enum node_row_kind kind, size_t index)
{
    struct node_row *row;

    if (n->n_rows == n->cap_rows) {
        n->cap_rows = n->cap_rows ? n->cap_rows * 2 : 32;
        n->rows = qs_reallocarray(n->rows, n->cap_rows, sizeof(*n->rows));
    }
    row = &n->rows[n->n_rows++];
    *row = (struct node_row){ kind, index, NULL, NULL, SIZE_MAX };
    return row;
}

static void
section_add(struct node_view *n, const char *title)
{
    row_add(n, ROW_SECTION, 0)->section = title;
}

static void
build_inputs(struct qs_ui *ui, struct node_view *n)
{
    const struct qs_node *node = n->node;

    section_add(n, "Inputs");
    for (size_t i = 0; i < node->n_inputs; i++) {
        struct node_row *row = row_add(n, ROW_INPUT, i);
        const struct qs_value *v = node->inputs[i];

        if (!v)
            continue;
        row->target = v->producer;
        row->layer = qs_ui_layer_of_value(ui, v);
        if (row->layer != SIZE_MAX)
            row_add(n, ROW_WEIGHT, i)->layer = row->layer;
    }
}

static void
build_outputs(struct node_view *n)
{
    const struct qs_node *node = n->node;

    section_add(n, "Outputs");
    for (size_t i = 0; i < node->n_outputs; i++) {
        const struct qs_value *v = node->outputs[i];
        struct node_row *row = row_add(n, ROW_OUTPUT, i);

        if (!v)
            continue;
        row->target = v->n_consumers ? v->consumers[0] : NULL;
        for (size_t c = 1; c < v->n_consumers; c++)
            row_add(n, ROW_CONSUMER, i)->target = v->consumers[c];
    }
}

static void
build_rows(struct qs_ui *ui, struct node_view *n)
{
    const struct qs_node *node = n->node;

    n->n_rows = 0;
    row_add(n, ROW_TITLE, 0);
    row_add(n, ROW_WHERE, 0);
    if (node->n_attrs) {
        section_add(n, "Attributes");
        for (size_t i = 0; i < node->n_attrs; i++)
            row_add(n, ROW_ATTR, i);
    }
    build_inputs(ui, n);
    build_outputs(n);
    if (node->n_subgraphs) {
        section_add(n, "Subgraphs");
        for (size_t i = 0; i < node->n_subgraphs; i++) {
            struct node_row *row = row_add(n, ROW_SUBGRAPH, i);

            if (node->subgraphs[i]->n_nodes)
                row->target = &node->subgraphs[i]->nodes[0];
        }
    }
}

/* Width of the name column: the longest name, at least NODE_NAME_WIDTH, at most half the screen. */
static size_t
name_width(const struct qs_node *node, size_t cols)
{
    size_t width = NODE_NAME_WIDTH;

    for (size_t i = 0; i < node->n_inputs + node->n_outputs; i++) {
        const struct qs_value *v = i < node->n_inputs ? node->inputs[i]
                                                      : node->outputs[i - node->n_inputs];

        if (v && qs_text_columns(v->name) > width)
            width = qs_text_columns(v->name);
    }
    return width > cols / 2 && cols / 2 > NODE_NAME_WIDTH ? cols / 2 : width;
}

/* Show "node", selecting its first input (the edge most often followed). */
static void
show_node(struct qs_view *view, const struct qs_node *node)
{
    struct node_view *n = view->priv;
    size_t first = 0;

    n->node = node;
    n->name_width = name_width(node, (size_t)view->ui->cols);
    build_rows(view->ui, n);
    for (size_t i = 0; i < n->n_rows && !first; i++)
        if (n->rows[i].kind == ROW_INPUT)
            first = i;
    view->top = 0;
    qs_view_select(view, first);
}

void
qs_node_view_open(struct qs_ui *ui, const struct qs_node *node)
{
    struct qs_view *view = &ui->views[QS_VIEW_NODE];
    int was_current = ui->depth && qs_ui_view(ui) == view;
    struct node_view *n;

    if (qs_ui_show(ui, QS_VIEW_NODE) != 0)
        return;
    n = view->priv;
    if (!was_current)
        n->n_path = 0;
    else if (n->node) {
        if (n->n_path == n->cap_path) {
            n->cap_path = n->cap_path ? n->cap_path * 2 : 16;
            n->path = qs_reallocarray(n->path, n->cap_path, sizeof(*n->path));
        }
        n->path[n->n_path++] = n->node;
    }
    show_node(view, node);
}

static void
node_close(struct qs_view *view)
{
    struct node_view *n = view->priv;

    free(n->path);
    free(n->rows);
}

static size_t
node_count(struct qs_view *view)
{
    struct node_view *n = view->priv;

    return n->n_rows;
}

/* ---- attribute values ---- */

static void
add_ints(struct qs_row *row, const int64_t *values, size_t count)
{
    qs_row_add(row, QS_STYLE_NORMAL, "[");
    for (size_t i = 0; i < count && i < 16; i++)
        qs_row_addf(row, QS_STYLE_NORMAL, "%s%" PRId64, i ? ", " : "", values[i]);
    if (count > 16)
        qs_row_addf(row, QS_STYLE_DIM, ", %s %zu values", qs_glyphs.ellipsis, count);
    qs_row_add(row, QS_STYLE_NORMAL, "]");
}

static void
add_floats(struct qs_row *row, const float *values, size_t count)
{
    qs_row_add(row, QS_STYLE_NORMAL, "[");
    for (size_t i = 0; i < count && i < 16; i++)
        qs_row_addf(row, QS_STYLE_NORMAL, "%s%.6g", i ? ", " : "", (double)values[i]);
    if (count > 16)
        qs_row_addf(row, QS_STYLE_DIM, ", %s %zu values", qs_glyphs.ellipsis, count);
    qs_row_add(row, QS_STYLE_NORMAL, "]");
}

/* "fp32[16, 3] (48 values)", plus the values of a small tensor. */
static void
add_tensor(struct qs_row *row, const struct qs_tensor *t)
{
    float f[NODE_TENSOR_SHOWN];
    int64_t i64[NODE_TENSOR_SHOWN];

    qs_row_addf(row, QS_STYLE_NORMAL, "tensor %s[", qs_dtype_short_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        qs_row_addf(row, QS_STYLE_NORMAL, "%s%" PRId64, d ? ", " : "", t->dims[d]);
    qs_row_addf(row, QS_STYLE_NORMAL, "] (%" PRIu64 " values)", t->count);
    if (t->fault) {
        qs_row_addf(row, QS_STYLE_BAD, " %s", t->fault);
        return;
    }
    if (t->count == 0 || t->count > NODE_TENSOR_SHOWN)
        return;
    qs_row_add(row, QS_STYLE_NORMAL, " = ");
    if (qs_dtype_is_integer((enum qs_dtype)t->dtype) &&
        qs_tensor_read_i64(t, 0, (size_t)t->count, i64) == QS_OK)
        add_ints(row, i64, (size_t)t->count);
    else if (qs_tensor_read_f32(t, 0, (size_t)t->count, f) == QS_OK)
        add_floats(row, f, (size_t)t->count);
}

static void
add_attr_value(struct qs_row *row, const struct qs_node *node, size_t i)
{
    const Onnx__AttributeProto *a = node->attrs[i];
    char *text;

    switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        qs_row_addf(row, QS_STYLE_NORMAL, "%" PRId64, a->i);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        qs_row_addf(row, QS_STYLE_NORMAL, "%.6g", (double)a->f);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        text = qs_strndup((const char *)a->s.data, a->s.len);
        qs_row_addf(row, QS_STYLE_NORMAL, "\"%s\"", text);
        free(text);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        add_ints(row, a->ints, a->n_ints);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        add_floats(row, a->floats, a->n_floats);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (node->attr_tensors[i])
            add_tensor(row, node->attr_tensors[i]);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
        qs_row_addf(row, QS_STYLE_NORMAL, "graph %s", a->g && a->g->name ? a->g->name : "");
        break;
    default:
        qs_row_addf(row, QS_STYLE_DIM, "%zu strings, %zu tensors, %zu graphs", a->n_strings,
                    a->n_tensors, a->n_graphs);
        break;
    }
}

/* ---- drawing ---- */

static void
add_node_ref(struct qs_row *row, const struct qs_node *node)
{
    char op[128];

    qs_row_addf(row, QS_STYLE_DIM, "#%zu ", node->index);
    qs_row_add(row, QS_STYLE_OP, qs_node_qualified_op(node, op, sizeof(op)));
    qs_row_addf(row, QS_STYLE_NORMAL, " %s", node->label);
}

/* Where an input comes from. */
static void
add_source(struct qs_row *row, const struct qs_node *node, const struct qs_value *v)
{
    qs_row_addf(row, QS_STYLE_NORMAL, "  %s ", qs_glyphs.arrow_left);
    if (v->producer)
        add_node_ref(row, v->producer);
    else if (v->kind == QS_VALUE_GRAPH_INPUT)
        qs_row_add(row, QS_STYLE_DIM, v->tensor ? "graph input with initializer" : "graph input");
    else if (v->tensor)
        qs_row_add(row, QS_STYLE_DIM, "initializer");
    else
        qs_row_add(row, QS_STYLE_BAD, "undefined");
    if (v->graph != node->graph)
        qs_row_add(row, QS_STYLE_DIM, " (outer scope)");
}

static void
add_value(struct qs_row *row, size_t index, const struct qs_value *v, size_t width)
{
    char *type;

    qs_row_addf(row, QS_STYLE_DIM, "  %zu ", index);
    if (!v) {
        qs_row_add(row, QS_STYLE_DIM, "(omitted)");
        return;
    }
    qs_row_cell(row, QS_STYLE_NORMAL, v->name, width, 0);
    type = qs_type_text(&v->type);
    qs_row_addf(row, QS_STYLE_DIM, " %s", type);
    free(type);
}

static void
add_stats(struct qs_ui *ui, struct qs_row *row, size_t layer)
{
    const struct qs_layer *l = &ui->layers->items[layer];
    const struct qs_stats *s = qs_ui_layer_stats(ui, layer);

    qs_row_add(row, QS_STYLE_NORMAL, "      ");
    qs_row_add(row, QS_STYLE_TITLE, l->quantizable ? "weight " : "constant ");
    if (l->bn)
        qs_row_add(row, QS_STYLE_DIM, "(BN folded) ");
    if (ui->info[layer].state == QS_STATS_FAILED) {
        qs_row_add(row, QS_STYLE_BAD, ui->info[layer].error);
        return;
    }
    if (!s) {
        qs_row_addf(row, QS_STYLE_DIM, "statistics: computing%s", qs_glyphs.ellipsis);
        return;
    }
    if (s->nan_count || s->inf_count)
        qs_row_addf(row, QS_STYLE_BAD, "%" PRIu64 " NaN %" PRIu64 " Inf left out  ",
                    s->nan_count, s->inf_count);
    if (!s->finite) {
        qs_row_add(row, s->count ? QS_STYLE_BAD : QS_STYLE_DIM,
                   s->count ? "no finite values" : "empty: no values");
        return;
    }
    qs_row_addf(row, QS_STYLE_NORMAL, "min %.4g max %.4g absmax %.4g std %.4g kurtosis %.3g",
                s->min, s->max, s->absmax, s->std, s->kurtosis);
    qs_row_addf(row, s->outliers ? QS_STYLE_WARN : QS_STYLE_NORMAL, " outliers %.3f%%",
                100.0 * s->outlier_share);
    if (s->dead_channels)
        qs_row_addf(row, QS_STYLE_WARN, " dead channels %" PRIu64, s->dead_channels);
    if (!l->quantizable && l->not_quantizable)
        qs_row_addf(row, QS_STYLE_DIM, " (%s)", l->not_quantizable);
}

static void
draw_title(struct qs_ui *ui, const struct qs_node *node, struct qs_row *row, int where)
{
    char op[128];

    (void)ui;
    if (!where) {
        qs_row_add(row, QS_STYLE_OP, qs_node_qualified_op(node, op, sizeof(op)));
        qs_row_addf(row, QS_STYLE_TITLE, " %s", node->label);
        return;
    }
    qs_row_addf(row, QS_STYLE_DIM, "node %zu of %s", node->index,
                node->graph->depth ? "subgraph" : "the main graph");
    if (node->graph->depth)
        qs_row_addf(row, QS_STYLE_DIM, " %s (scope %s)", node->graph->name ? node->graph->name : "",
                    node->graph->scope);
    qs_row_addf(row, QS_STYLE_DIM, ", %zu input%s, %zu output%s", node->n_inputs,
                node->n_inputs == 1 ? "" : "s", node->n_outputs, node->n_outputs == 1 ? "" : "s");
}

static void
node_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    struct node_view *n = view->priv;
    const struct node_row *r = &n->rows[line];
    const struct qs_node *node = n->node;
    const struct qs_value *v;

    (void)cols;
    switch (r->kind) {
    case ROW_TITLE:
    case ROW_WHERE:
        draw_title(view->ui, node, row, r->kind == ROW_WHERE);
        break;
    case ROW_SECTION:
        qs_row_add(row, QS_STYLE_TITLE, r->section);
        break;
    case ROW_ATTR:
        qs_row_add(row, QS_STYLE_NORMAL, "  ");
        qs_row_cell(row, QS_STYLE_NORMAL, node->attrs[r->index]->name, NODE_NAME_WIDTH, 0);
        qs_row_add(row, QS_STYLE_NORMAL, " ");
        add_attr_value(row, node, r->index);
        break;
    case ROW_INPUT:
        v = node->inputs[r->index];
        add_value(row, r->index, v, n->name_width);
        if (v)
            add_source(row, node, v);
        break;
    case ROW_WEIGHT:
        add_stats(view->ui, row, r->layer);
        break;
    case ROW_OUTPUT:
        v = node->outputs[r->index];
        add_value(row, r->index, v, n->name_width);
        if (v && r->target) {
            qs_row_addf(row, QS_STYLE_NORMAL, "  %s ", qs_glyphs.arrow_right);
            add_node_ref(row, r->target);
        } else if (v)
            qs_row_addf(row, QS_STYLE_DIM, "  %s %s", qs_glyphs.arrow_right,
                        v->is_graph_output ? "graph output" : "not used");
        break;
    case ROW_CONSUMER:
        qs_row_pad(row, n->name_width + 4);
        qs_row_addf(row, QS_STYLE_NORMAL, "  %s ", qs_glyphs.arrow_right);
        add_node_ref(row, r->target);
        break;
    case ROW_SUBGRAPH:
        qs_row_addf(row, QS_STYLE_NORMAL, "  %s: %s, %zu nodes",
                    node->subgraphs[r->index]->attr_name, node->subgraphs[r->index]->name,
                    node->subgraphs[r->index]->n_nodes);
        break;
    }
}

/* ---- keys ---- */

/* The row of "kind" whose target to follow: the selected one, else the first of that kind. */
static const struct qs_node *
edge_target(struct node_view *n, size_t sel, enum node_row_kind a, enum node_row_kind b)
{
    if (sel < n->n_rows && (n->rows[sel].kind == a || n->rows[sel].kind == b) &&
        n->rows[sel].target)
        return n->rows[sel].target;
    for (size_t i = 0; i < n->n_rows; i++)
        if ((n->rows[i].kind == a || n->rows[i].kind == b) && n->rows[i].target)
            return n->rows[i].target;
    return NULL;
}

static int
enter_row(struct qs_view *view)
{
    struct node_view *n = view->priv;
    const struct node_row *r = view->sel < n->n_rows ? &n->rows[view->sel] : NULL;

    if (!r)
        return 1;
    if ((r->kind == ROW_WEIGHT || r->kind == ROW_INPUT) && r->layer != SIZE_MAX &&
        (r->kind == ROW_WEIGHT || !r->target))
        qs_ui_open_layer(view->ui, r->layer);
    else if (r->kind == ROW_SUBGRAPH && r->target) {
        qs_ui_show(view->ui, QS_VIEW_GRAPH);
        qs_graph_view_select_node(view->ui, r->target);
    } else if (r->target)
        qs_node_view_open(view->ui, r->target);
    else
        qs_ui_error(view->ui, "nothing to follow from this line");
    return 1;
}

static int
follow(struct qs_view *view, const struct qs_node *target, const char *what)
{
    if (target)
        qs_node_view_open(view->ui, target);
    else
        qs_ui_error(view->ui, "this node has no %s", what);
    return 1;
}

static int
node_key(struct qs_view *view, enum qs_action action, int key)
{
    struct node_view *n = view->priv;

    (void)key;
    switch (action) {
    case QS_ACTION_ENTER:
        return enter_row(view);
    case QS_ACTION_PRODUCER:
        return follow(view, edge_target(n, view->sel, ROW_INPUT, ROW_INPUT), "producer node");
    case QS_ACTION_CONSUMER:
        return follow(view, edge_target(n, view->sel, ROW_OUTPUT, ROW_CONSUMER), "consumer");
    case QS_ACTION_BACK:
        if (n->n_path > 0) {
            show_node(view, n->path[--n->n_path]);
            return 1;
        }
        /* Leaving the node view: the graph view shows where we were. */
        qs_graph_view_select_node(view->ui, n->node);
        return 0;
    default:
        return 0;
    }
}

static void
node_status(struct qs_view *view, char *buf, size_t size)
{
    struct node_view *n = view->priv;

    if (n->n_path)
        snprintf(buf, size, n->n_path == 1 ? "1 step back" : "%zu steps back", n->n_path);
}

const struct qs_view_ops qs_node_view = {
    .name = "node",
    .group = QS_GROUP_NODE,
    .flags = QS_VIEW_LIST | QS_VIEW_MODEL,
    .private_size = sizeof(struct node_view),
    .close = node_close,
    .count = node_count,
    .draw_line = node_draw_line,
    .key = node_key,
    .status = node_status,
};
