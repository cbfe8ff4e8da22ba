/*
 * Plans: for each graph, the slot of every value, which values are
 * constant (initializers, Constant values, and values folded from them),
 * and which slots each node frees.  A value is freed after the last node
 * of its graph that reads it, where a node holding a subgraph counts as a
 * reader of every outer value its subgraphs read (from the model's
 * consumer lists) or return.  Also the peak-memory estimate.
 */
#include "config.h"
#include "interp/exec.h"

#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* Ops whose outputs are folded into weights when their inputs are constant. */
static const char *const folding_ops[] = {
    "Constant", "Identity", "Cast", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
    "ConstantOfShape", "Flatten", "DequantizeLinear", NULL
};

struct graph_plan *
interp_plan_of(const struct qs_interp *in, const struct qs_graph *g)
{
    for (size_t i = 0; i < in->n_plans; i++) {
        if (in->plans[i].graph == g)
            return &in->plans[i];
    }
    return NULL;
}

static uint32_t
plan_slot(const struct graph_plan *gp, const struct qs_value *v)
{
    size_t lo = 0, hi = gp->n_values;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (gp->sorted[mid] == v)
            return gp->sorted_slot[mid];
        if ((uintptr_t)gp->sorted[mid] < (uintptr_t)v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_SLOT;
}

static enum qs_status
resolve(struct qs_interp *in, const struct qs_value *v, struct slot_ref *ref, struct qs_diag *diag,
        const struct qs_graph *where)
{
    ref->plan = v->graph ? interp_plan_of(in, v->graph) : NULL;
    ref->slot = ref->plan ? plan_slot(ref->plan, v) : NO_SLOT;
    if (ref->slot == NO_SLOT || v->kind == QS_VALUE_UNDEFINED)
        return qs_diag_add(diag, QS_INVALID, in->model->path,
                           "value '%s' is used but not defined (graph '%s%s')",
                           v->name, where->scope, where->name);
    return QS_OK;
}

/* The node of graph "g" that is "node" or holds it in a subgraph, else NULL. */
static const struct qs_node *
ancestor_in(const struct qs_node *node, const struct qs_graph *g)
{
    while (node && node->graph != g)
        node = node->graph->parent_node;
    return node;
}

/* Raise last_use[slot] for outer values of "g" named by outputs of graphs below "node". */
static void
mark_subgraph_outputs(struct graph_plan *gp, const struct qs_node *node, const struct qs_graph *sub,
                      long *last_use)
{
    for (size_t i = 0; i < sub->n_outputs; i++) {
        const struct qs_value *v = sub->outputs[i];
        uint32_t slot = v && v->graph == gp->graph ? plan_slot(gp, v) : NO_SLOT;

        if (slot != NO_SLOT && last_use[slot] < (long)node->index)
            last_use[slot] = (long)node->index;
    }
    for (size_t n = 0; n < sub->n_nodes; n++) {
        for (size_t s = 0; s < sub->nodes[n].n_subgraphs; s++)
            mark_subgraph_outputs(gp, node, sub->nodes[n].subgraphs[s], last_use);
    }
}

/* Last node of the graph that reads each value, from the model's consumer lists. */
static void
plan_last_uses(struct graph_plan *gp, long *last_use)
{
    const struct qs_graph *g = gp->graph;

    for (size_t i = 0; i < gp->n_values; i++) {
        const struct qs_value *v = g->values[i];

        last_use[i] = v->producer && v->producer->graph == g ? (long)v->producer->index : -1;
        for (size_t c = 0; c < v->n_consumers; c++) {
            const struct qs_node *user = ancestor_in(v->consumers[c], g);

            if (user && (long)user->index > last_use[i])
                last_use[i] = (long)user->index;
        }
    }
    for (size_t n = 0; n < g->n_nodes; n++) {
        for (size_t s = 0; s < g->nodes[n].n_subgraphs; s++)
            mark_subgraph_outputs(gp, &g->nodes[n], g->nodes[n].subgraphs[s], last_use);
    }
}

static void
plan_releases(struct graph_plan *gp)
{
    const struct qs_graph *g = gp->graph;
    long *last_use = qs_calloc(gp->n_values ? gp->n_values : 1, sizeof(*last_use));

    plan_last_uses(gp, last_use);
    for (size_t i = 0; i < gp->n_values; i++) {
        const struct qs_value *v = g->values[i];
        size_t *n;
        uint32_t **list;

        if (gp->is_const[i] || v->is_graph_output)
            continue;
        if (last_use[i] < 0) {
            n = &gp->n_release;
            list = &gp->release;
        } else {
            n = &gp->nodes[last_use[i]].n_release;
            list = &gp->nodes[last_use[i]].release;
        }
        *list = qs_reallocarray(*list, *n + 1, sizeof(**list));
        (*list)[(*n)++] = (uint32_t)i;
    }
    free(last_use);
}

static int
is_folding_op(const struct qs_node *node)
{
    if (node->domain[0] != '\0' || node->n_subgraphs > 0)
        return 0;
    for (size_t i = 0; folding_ops[i]; i++) {
        if (strcmp(node->op_type, folding_ops[i]) == 0)
            return 1;
    }
    return 0;
}

/* A constant value of "gp": an initializer or a Constant node's value. */
static int
value_is_constant(const struct qs_value *v)
{
    if (!v->tensor)
        return 0;
    /* In the main graph an initializer that is also a graph input is constant.
     * In a subgraph it is only a default, because the owning op binds the inputs. */
    return v->kind != QS_VALUE_GRAPH_INPUT || v->graph->depth == 0;
}

static int
ref_is_const(const struct slot_ref *ref)
{
    return !ref->plan || ref->plan->is_const[ref->slot];
}

static enum qs_status
plan_node(struct qs_interp *in, struct graph_plan *gp, size_t index, struct qs_diag *diag)
{
    const struct qs_node *node = &gp->graph->nodes[index];
    struct node_plan *np = &gp->nodes[index];
    enum qs_status st = QS_OK;
    int all_const = 1;

    np->node = node;
    np->op = interp_op_find(node->domain, node->op_type);
    np->opset = qs_model_opset(in->model, node->domain);
    np->in = qs_calloc(node->n_inputs ? node->n_inputs : 1, sizeof(*np->in));
    np->out = qs_calloc(node->n_outputs ? node->n_outputs : 1, sizeof(*np->out));

    for (size_t i = 0; i < node->n_inputs && st == QS_OK; i++) {
        if (node->inputs[i])
            st = resolve(in, node->inputs[i], &np->in[i], diag, gp->graph);
        all_const = all_const && ref_is_const(&np->in[i]);
    }
    for (size_t i = 0; i < node->n_outputs; i++)
        np->out[i] = node->outputs[i] ? plan_slot(gp, node->outputs[i]) : NO_SLOT;
    if (st != QS_OK)
        return st;

    np->folded = all_const && is_folding_op(node);
    for (size_t i = 0; i < node->n_outputs; i++) {
        if (np->out[i] == NO_SLOT)
            continue;
        if (np->folded || value_is_constant(node->outputs[i]))
            gp->is_const[np->out[i]] = 1;
    }
    return QS_OK;
}

static enum qs_status
plan_graph(struct qs_interp *in, struct graph_plan *gp, struct qs_diag *diag)
{
    const struct qs_graph *g = gp->graph;
    enum qs_status st = QS_OK;

    for (size_t i = 0; i < g->n_values; i++) {
        if (value_is_constant(g->values[i]) && !g->values[i]->producer)
            gp->is_const[i] = 1;
    }
    for (size_t i = 0; i < g->n_nodes && st == QS_OK; i++)
        st = plan_node(in, gp, i, diag);
    gp->in_slots = qs_calloc(g->n_inputs ? g->n_inputs : 1, sizeof(*gp->in_slots));
    for (size_t i = 0; i < g->n_inputs; i++)
        gp->in_slots[i] = plan_slot(gp, g->inputs[i]);
    gp->outs = qs_calloc(g->n_outputs ? g->n_outputs : 1, sizeof(*gp->outs));
    for (size_t i = 0; i < g->n_outputs && st == QS_OK; i++)
        st = resolve(in, g->outputs[i], &gp->outs[i], diag, g);
    if (st == QS_OK)
        plan_releases(gp);
    return st;
}

struct sort_entry {
    const struct qs_value *value;
    uint32_t slot;
};

static int
compare_entry(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct sort_entry *)a)->value;
    uintptr_t y = (uintptr_t)((const struct sort_entry *)b)->value;

    return x < y ? -1 : x > y;
}

static void
plan_index(struct graph_plan *gp, const struct qs_graph *g)
{
    size_t n = g->n_values ? g->n_values : 1;
    struct sort_entry *entries = qs_calloc(n, sizeof(*entries));

    gp->graph = g;
    gp->n_values = g->n_values;
    gp->sorted = qs_calloc(n, sizeof(*gp->sorted));
    gp->sorted_slot = qs_calloc(n, sizeof(*gp->sorted_slot));
    gp->is_const = qs_calloc(n, 1);
    gp->cache = qs_calloc(n, sizeof(*gp->cache));
    gp->nodes = qs_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*gp->nodes));

    for (size_t i = 0; i < g->n_values; i++) {
        entries[i].value = g->values[i];
        entries[i].slot = (uint32_t)i;
    }
    qsort(entries, g->n_values, sizeof(*entries), compare_entry);
    for (size_t i = 0; i < g->n_values; i++) {
        gp->sorted[i] = entries[i].value;
        gp->sorted_slot[i] = entries[i].slot;
    }
    free(entries);
}

void
interp_drop_cache(struct qs_interp *in)
{
    for (size_t p = 0; p < in->n_plans; p++) {
        for (size_t i = 0; i < in->plans[p].n_values; i++) {
            qs_rt_unref(in->plans[p].cache[i]);
            in->plans[p].cache[i] = NULL;
        }
    }
}

void
interp_plans_free(struct qs_interp *in)
{
    interp_drop_cache(in);
    for (size_t p = 0; p < in->n_plans; p++) {
        struct graph_plan *gp = &in->plans[p];

        for (size_t i = 0; i < gp->graph->n_nodes; i++) {
            free(gp->nodes[i].in);
            free(gp->nodes[i].out);
            free(gp->nodes[i].release);
        }
        free(gp->nodes);
        free(gp->sorted);
        free(gp->sorted_slot);
        free(gp->is_const);
        free(gp->cache);
        free(gp->in_slots);
        free(gp->outs);
        free(gp->release);
    }
    free(in->plans);
}

enum qs_status
interp_plans_build(struct qs_interp *in, struct qs_diag *diag)
{
    enum qs_status st = QS_OK;

    for (size_t i = 0; i < in->n_plans; i++)
        plan_index(&in->plans[i], in->model->graphs[i]);
    for (size_t i = 0; i < in->n_plans && st == QS_OK; i++)
        st = plan_graph(in, &in->plans[i], diag);
    return st;
}

/* ---- peak memory estimate ------------------------------------------------ */

/* Symbolic dims bound to the sizes the run inputs give them. */
struct dim_binding {
    size_t count;
    const char *param[64];
    int64_t value[64];
};

static void
bind_dims(const struct qs_interp *in, struct qs_rt_tensor *const *inputs, struct dim_binding *b)
{
    b->count = 0;
    for (size_t i = 0; i < in->n_inputs; i++) {
        const struct qs_type *type = &in->inputs[i]->type;

        if (!inputs[i] || type->rank != inputs[i]->rank)
            continue;
        for (int d = 0; d < type->rank && b->count < 64; d++) {
            if (type->dims[d].param) {
                b->param[b->count] = type->dims[d].param;
                b->value[b->count++] = inputs[i]->dims[d];
            }
        }
    }
}

/* Bytes of "v" at run time where its declared shape is known, else 0. */
static uint64_t
value_bytes(const struct qs_value *v, const struct dim_binding *b)
{
    const struct qs_type *type = &v->type;
    uint64_t n = qs_rt_is_float(type->elem) ? 4 : 8;

    if (v->tensor)
        return qs_mul_overflow_u64(v->tensor->count, n, &n) ? UINT64_MAX : n;
    if (type->kind != QS_TYPE_TENSOR || type->rank < 0)
        return 0;
    for (int d = 0; d < type->rank; d++) {
        int64_t dim = type->dims[d].value;

        for (size_t k = 0; dim < 0 && type->dims[d].param && k < b->count; k++) {
            if (strcmp(b->param[k], type->dims[d].param) == 0)
                dim = b->value[k];
        }
        if (dim < 0)
            return 0;
        if (qs_mul_overflow_u64(n, (uint64_t)dim, &n))
            return UINT64_MAX;
    }
    return n;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Everything a graph's estimate needs: the interpreter, the run inputs and their dims. */
struct estimate {
    const struct qs_interp *interp;
    struct qs_rt_tensor *const *inputs;
    struct dim_binding binding;
};

static uint64_t graph_peak(const struct estimate *e, const struct graph_plan *gp);

/*
 * Bytes of every value of "gp" that is computed at run time (constants
 * count 0: they are counted once for the whole model).  The main graph's
 * run inputs count the size of the tensors given.
 */
static uint64_t *
slot_bytes(const struct estimate *e, const struct graph_plan *gp)
{
    const struct qs_interp *in = e->interp;
    uint64_t *bytes = qs_calloc(gp->n_values ? gp->n_values : 1, sizeof(*bytes));

    for (size_t i = 0; i < gp->n_values; i++) {
        if (!gp->is_const[i])
            bytes[i] = value_bytes(gp->graph->values[i], &e->binding);
    }
    if (gp != &in->plans[0])
        return bytes;
    for (size_t i = 0; i < in->n_inputs; i++) {
        uint32_t slot = gp->in_slots[in->input_index[i]];
        const struct qs_rt_tensor *t = e->inputs[i];

        if (slot == NO_SLOT || !t)
            continue;
        if (qs_mul_overflow_u64(t->count, (uint64_t)rt_esize(t), &bytes[slot]))
            bytes[slot] = UINT64_MAX;
    }
    return bytes;
}

static uint64_t
release_bytes(uint64_t live, const uint64_t *bytes, const uint32_t *slots, size_t n)
{
    for (size_t r = 0; r < n; r++)
        live = live >= bytes[slots[r]] ? live - bytes[slots[r]] : 0;
    return live;
}

/*
 * Peak of the values a node's subgraphs hold while it runs: the largest
 * of its subgraphs, since one If branch runs and a Loop or Scan body's
 * values are freed before its next iteration.
 */
static uint64_t
subgraphs_peak(const struct estimate *e, const struct qs_node *node)
{
    uint64_t max_peak = 0;

    for (size_t s = 0; s < node->n_subgraphs; s++) {
        const struct graph_plan *sub = interp_plan_of(e->interp, node->subgraphs[s]);
        uint64_t peak = sub ? graph_peak(e, sub) : 0;

        max_peak = peak > max_peak ? peak : max_peak;
    }
    return max_peak;
}

/*
 * The largest sum of live run-time values while "gp" runs once: its
 * inputs, then each node's outputs until their last reader.  A node with
 * subgraphs adds their peak while it runs.
 */
static uint64_t
graph_peak(const struct estimate *e, const struct graph_plan *gp)
{
    const struct qs_graph *g = gp->graph;
    uint64_t *bytes = slot_bytes(e, gp);
    uint64_t live = 0, peak;

    for (size_t i = 0; i < g->n_inputs; i++) {
        if (gp->in_slots[i] != NO_SLOT)
            live = add_sat(live, bytes[gp->in_slots[i]]);
    }
    peak = live;
    live = release_bytes(live, bytes, gp->release, gp->n_release);

    for (size_t n = 0; n < g->n_nodes; n++) {
        const struct node_plan *np = &gp->nodes[n];
        uint64_t during = add_sat(live, subgraphs_peak(e, np->node));

        peak = during > peak ? during : peak;
        for (size_t o = 0; o < np->node->n_outputs; o++) {
            if (np->out[o] != NO_SLOT)
                live = add_sat(live, bytes[np->out[o]]);
        }
        peak = live > peak ? live : peak;
        live = release_bytes(live, bytes, np->release, np->n_release);
    }
    free(bytes);
    return peak;
}

uint64_t
qs_interp_estimate_peak(const struct qs_interp *interp, struct qs_rt_tensor *const *inputs)
{
    struct estimate e = { .interp = interp, .inputs = inputs };
    uint64_t consts = 0;

    bind_dims(interp, inputs, &e.binding);
    for (size_t p = 0; p < interp->n_plans; p++) {
        const struct graph_plan *gp = &interp->plans[p];

        for (size_t i = 0; i < gp->n_values; i++) {
            if (gp->is_const[i])
                consts = add_sat(consts, value_bytes(gp->graph->values[i], &e.binding));
        }
    }
    return add_sat(consts, graph_peak(&e, &interp->plans[0]));
}
