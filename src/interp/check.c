/*
 * The static check run before anything executes: every op the model
 * uses must be in the op table and accept the node's attributes, and
 * graph inputs and outputs must be tensors of a type the interpreter
 * holds.  Gaps are grouped by op and reason.
 */
#include "config.h"
#include "interp/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* Most node labels listed in one diagnostic line. */
#define GAP_LABELS_SHOWN 5

static struct qs_interp_gap *
gap_find(struct qs_interp_gaps *gaps, const char *op, const char *reason)
{
    for (size_t i = 0; i < gaps->count; i++) {
        if (strcmp(gaps->items[i].op, op) == 0 && strcmp(gaps->items[i].reason, reason) == 0)
            return &gaps->items[i];
    }
    gaps->items = qs_reallocarray(gaps->items, gaps->count + 1, sizeof(*gaps->items));
    memset(&gaps->items[gaps->count], 0, sizeof(gaps->items[0]));
    gaps->items[gaps->count].op = qs_strdup(op);
    gaps->items[gaps->count].reason = qs_strdup(reason);
    return &gaps->items[gaps->count++];
}

static void
gap_add(struct qs_interp_gaps *gaps, const char *op, const char *reason, const struct qs_node *node)
{
    struct qs_interp_gap *gap = gap_find(gaps, op, reason);

    if (!node)
        return;
    gap->nodes = qs_reallocarray(gap->nodes, gap->n_nodes + 1, sizeof(*gap->nodes));
    gap->nodes[gap->n_nodes++] = node;
}

static const char *
type_problem(const struct qs_type *type)
{
    switch (type->kind) {
    case QS_TYPE_SEQUENCE:      return "sequence values are not supported";
    case QS_TYPE_MAP:           return "map values are not supported";
    case QS_TYPE_OPTIONAL:      return "optional values are not supported";
    case QS_TYPE_SPARSE_TENSOR: return "sparse tensor values are not supported";
    case QS_TYPE_OPAQUE:        return "opaque values are not supported";
    default:                    break;
    }
    if (type->elem != 0 && !qs_rt_is_float(type->elem) && !qs_rt_is_int(type->elem))
        return type->elem == QS_DT_STRING ? "string tensors are not supported"
                                          : "this element type is not supported";
    return NULL;
}

static void
check_values(struct qs_interp_gaps *gaps, struct qs_value *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *problem = type_problem(&values[i]->type);

        if (problem)
            gap_add(gaps, "type", problem, values[i]->producer);
    }
}

static void
check_node(struct qs_interp_gaps *gaps, const struct qs_model *model, const struct qs_node *node)
{
    const struct interp_op *op = interp_op_find(node->domain, node->op_type);
    int64_t opset = qs_model_opset(model, node->domain);
    char qualified[160], buf[160];
    const char *reason = NULL;

    qs_node_qualified_op(node, qualified, sizeof(qualified));
    if (!op)
        reason = "not implemented";
    else if (opset < 1)
        reason = "its domain is not imported by the model";
    else if (op->check)
        reason = op->check(node, opset, buf, sizeof(buf));
    if (reason)
        gap_add(gaps, qualified, reason, node);

    for (size_t i = 0; i < node->n_attrs; i++) {
        const struct qs_tensor *t = node->attr_tensors ? node->attr_tensors[i] : NULL;

        if (t && !qs_rt_is_float(t->dtype) && !qs_rt_is_int(t->dtype))
            gap_add(gaps, "type", "string and complex constants are not supported", node);
    }
}

static void
gaps_report(const struct qs_interp_gaps *gaps, const char *path, struct qs_diag *diag)
{
    for (size_t i = 0; i < gaps->count; i++) {
        const struct qs_interp_gap *gap = &gaps->items[i];
        char labels[512] = "";
        size_t len = 0;

        for (size_t k = 0; k < gap->n_nodes && k < GAP_LABELS_SHOWN; k++) {
            int w = snprintf(labels + len, sizeof(labels) - len, "%s%s%s", k ? ", " : "",
                             gap->nodes[k]->graph->scope, gap->nodes[k]->label);
            if (w < 0 || (size_t)w >= sizeof(labels) - len)
                break;
            len += (size_t)w;
        }
        if (gap->n_nodes > GAP_LABELS_SHOWN)
            snprintf(labels + len, sizeof(labels) - len, " and %zu more",
                     gap->n_nodes - GAP_LABELS_SHOWN);
        if (strcmp(gap->op, "type") == 0)
            qs_diag_add(diag, QS_UNSUPPORTED, path, "%s%s%s%s", gap->reason,
                        gap->n_nodes ? " (nodes: " : "", labels, gap->n_nodes ? ")" : "");
        else
            qs_diag_add(diag, QS_UNSUPPORTED, path, "op %s cannot be run: %s (nodes: %s)",
                        gap->op, gap->reason, labels);
    }
}

enum qs_status
qs_interp_check(const struct qs_model *model, struct qs_interp_gaps *gaps_out,
                struct qs_diag *diag)
{
    struct qs_interp_gaps gaps = { 0 };
    enum qs_status st;

    for (size_t g = 0; g < model->n_graphs; g++) {
        const struct qs_graph *graph = model->graphs[g];

        check_values(&gaps, graph->inputs, graph->n_inputs);
        check_values(&gaps, graph->outputs, graph->n_outputs);
        for (size_t n = 0; n < graph->n_nodes; n++)
            check_node(&gaps, model, &graph->nodes[n]);
    }

    st = gaps.count ? QS_UNSUPPORTED : QS_OK;
    gaps_report(&gaps, model->path, diag);
    if (gaps_out)
        *gaps_out = gaps;
    else
        qs_interp_gaps_done(&gaps);
    return st;
}

void
qs_interp_gaps_done(struct qs_interp_gaps *gaps)
{
    for (size_t i = 0; i < gaps->count; i++) {
        free(gaps->items[i].op);
        free(gaps->items[i].reason);
        free(gaps->items[i].nodes);
    }
    free(gaps->items);
    memset(gaps, 0, sizeof(*gaps));
}
