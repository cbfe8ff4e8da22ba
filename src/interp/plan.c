/*
 * Plans: for each graph, the slot of every value, which values are
 * constant (initializers, Constant values, and values folded from them),
 * and which slots each node frees.  A value is freed after the last node
 * of its graph that reads it, where a node holding a subgraph counts as a
 * reader of every outer value its subgraphs read (from the model's
 * consumer lists) or return.  Also the peak-memory estimate.
 *
 * A graph's nodes run in a topological order: graph order where the
 * dependencies allow it, so an unsorted graph runs and a cycle is
 * rejected.  gp->nodes[k] is the k-th node to run, and node positions in
 * the freeing logic are positions in that order.
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
mark_subgraph_outputs(struct graph_plan *gp, long position, const struct qs_graph *sub,
                      long *last_use)
{
    for (size_t i = 0; i < sub->n_outputs; i++) {
        const struct qs_value *v = sub->outputs[i];
        uint32_t slot = v && v->graph == gp->graph ? plan_slot(gp, v) : NO_SLOT;

        if (slot != NO_SLOT && last_use[slot] < position)
            last_use[slot] = position;
    }
    for (size_t n = 0; n < sub->n_nodes; n++) {
        for (size_t s = 0; s < sub->nodes[n].n_subgraphs; s++)
            mark_subgraph_outputs(gp, position, sub->nodes[n].subgraphs[s], last_use);
    }
}

/*
 * Position in the run order of the last node of the graph that reads each
 * value, from the model's consumer lists; -1 for none.
 */
static void
plan_last_uses(struct graph_plan *gp, const size_t *position, long *last_use)
{
    const struct qs_graph *g = gp->graph;

    for (size_t i = 0; i < gp->n_values; i++) {
        const struct qs_value *v = g->values[i];

        last_use[i] = -1;
        if (v->producer && v->producer->graph == g)
            last_use[i] = (long)position[v->producer->index];
        for (size_t c = 0; c < v->n_consumers; c++) {
            const struct qs_node *user = ancestor_in(v->consumers[c], g);

            if (user && (long)position[user->index] > last_use[i])
                last_use[i] = (long)position[user->index];
        }
    }
    for (size_t n = 0; n < g->n_nodes; n++) {
        for (size_t s = 0; s < g->nodes[n].n_subgraphs; s++)
            mark_subgraph_outputs(gp, (long)position[n], g->nodes[n].subgraphs[s], last_use);
    }
}

static void
plan_releases(struct graph_plan *gp, const size_t *position)
{
    const struct qs_graph *g = gp->graph;
    long *last_use = qs_calloc(gp->n_values ? gp->n_values : 1, sizeof(*last_use));

    plan_last_uses(gp, position, last_use);
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

/* ---- run order ----------------------------------------------------------- */

/* Dependencies between the nodes of one graph: producer -> reader, grouped by producer. */
struct node_edges {
    size_t n_nodes;
    size_t n_edges;
    size_t cap;
    size_t (*pairs)[2];              /* { producer, reader } node indices, while collecting */
    size_t *first;                   /* n_nodes + 1: readers of node i are next[first[i]..] */
    size_t *next;
};

static void
edge_add(struct node_edges *e, const struct qs_node *producer, const struct qs_node *reader)
{
    if (e->n_edges == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->pairs = qs_reallocarray(e->pairs, e->cap, sizeof(*e->pairs));
    }
    e->pairs[e->n_edges][0] = producer->index;
    e->pairs[e->n_edges][1] = reader->index;
    e->n_edges++;
}

/* Edges to "holder" from the producers in "g" of values that graphs below "holder" return. */
static void
edges_from_subgraph_outputs(struct node_edges *e, const struct qs_graph *g,
                            const struct qs_node *holder, const struct qs_graph *sub)
{
    for (size_t i = 0; i < sub->n_outputs; i++) {
        const struct qs_value *v = sub->outputs[i];

        if (v && v->graph == g && v->producer && v->producer->graph == g)
            edge_add(e, v->producer, holder);
    }
    for (size_t n = 0; n < sub->n_nodes; n++) {
        for (size_t s = 0; s < sub->nodes[n].n_subgraphs; s++)
            edges_from_subgraph_outputs(e, g, holder, sub->nodes[n].subgraphs[s]);
    }
}

/* Group the collected pairs by producer (a counting sort into first/next). */
static void
edges_group(struct node_edges *e)
{
    size_t *fill = qs_calloc(e->n_nodes + 1, sizeof(*fill));

    e->first = qs_calloc(e->n_nodes + 1, sizeof(*e->first));
    e->next = qs_calloc(e->n_edges ? e->n_edges : 1, sizeof(*e->next));
    for (size_t k = 0; k < e->n_edges; k++)
        e->first[e->pairs[k][0] + 1]++;
    for (size_t n = 0; n < e->n_nodes; n++)
        e->first[n + 1] += e->first[n];
    for (size_t k = 0; k < e->n_edges; k++) {
        size_t producer = e->pairs[k][0];

        e->next[e->first[producer] + fill[producer]] = e->pairs[k][1];
        fill[producer]++;
    }
    free(fill);
}

/*
 * Collect the edges of "g": a node depends on the producer of every value
 * it reads, and a node holding subgraphs on the producers of the outer
 * values they read or return.  Then group them by producer.
 */
static void
edges_build(struct node_edges *e, const struct qs_graph *g)
{
    memset(e, 0, sizeof(*e));
    e->n_nodes = g->n_nodes;
    for (size_t i = 0; i < g->n_values; i++) {
        const struct qs_value *v = g->values[i];

        if (!v->producer || v->producer->graph != g)
            continue;
        for (size_t c = 0; c < v->n_consumers; c++) {
            const struct qs_node *reader = ancestor_in(v->consumers[c], g);

            if (reader)
                edge_add(e, v->producer, reader);
        }
    }
    for (size_t n = 0; n < g->n_nodes; n++) {
        for (size_t s = 0; s < g->nodes[n].n_subgraphs; s++)
            edges_from_subgraph_outputs(e, g, &g->nodes[n], g->nodes[n].subgraphs[s]);
    }

    edges_group(e);
}

static void
edges_done(struct node_edges *e)
{
    free(e->pairs);
    free(e->first);
    free(e->next);
}

/* A binary min-heap of node indices, so ready nodes run in graph order. */
struct index_heap {
    size_t *items;
    size_t count;
};

static void
heap_push(struct index_heap *h, size_t value)
{
    size_t i = h->count++;

    while (i > 0 && h->items[(i - 1) / 2] > value) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = value;
}

static size_t
heap_pop(struct index_heap *h)
{
    size_t top = h->items[0];
    size_t last = h->items[--h->count];
    size_t i = 0;

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1] < h->items[child])
            child++;
        if (h->items[child] >= last)
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count > 0)
        h->items[i] = last;
    return top;
}

/*
 * A node on a cycle among the nodes that Kahn's algorithm left ("done" is
 * 0): each has an unfinished producer, so following producers back as
 * many steps as there are nodes ends on a cycle.  Returns the lowest index
 * on that cycle.
 */
static size_t
cycle_node(const struct node_edges *e, const unsigned char *done)
{
    size_t *producer = qs_calloc(e->n_nodes ? e->n_nodes : 1, sizeof(*producer));
    size_t start = 0;
    size_t lowest;

    for (size_t k = 0; k < e->n_edges; k++) {
        if (!done[e->pairs[k][0]] && !done[e->pairs[k][1]])
            producer[e->pairs[k][1]] = e->pairs[k][0];
    }
    while (done[start])
        start++;
    for (size_t step = 0; step < e->n_nodes; step++)
        start = producer[start];

    lowest = start;
    for (size_t n = producer[start]; n != start; n = producer[n])
        lowest = n < lowest ? n : lowest;
    free(producer);
    return lowest;
}

/*
 * Fill "order" with the node indices of "g" in run order (Kahn's
 * algorithm, taking the lowest ready index first) and "position" with its
 * inverse.  A cycle is QS_INVALID, naming a node on it.
 */
static enum qs_status
plan_order(struct qs_interp *in, const struct qs_graph *g, size_t *order, size_t *position,
           struct qs_diag *diag)
{
    struct node_edges e;
    struct index_heap ready = { .count = 0 };
    size_t *waiting = qs_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*waiting));
    unsigned char *done = qs_calloc(g->n_nodes ? g->n_nodes : 1, 1);
    size_t n_done = 0;
    enum qs_status st = QS_OK;

    edges_build(&e, g);
    ready.items = qs_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*ready.items));
    for (size_t k = 0; k < e.n_edges; k++)
        waiting[e.pairs[k][1]]++;
    for (size_t n = 0; n < g->n_nodes; n++) {
        if (waiting[n] == 0)
            heap_push(&ready, n);
    }

    while (ready.count > 0) {
        size_t n = heap_pop(&ready);

        done[n] = 1;
        position[n] = n_done;
        order[n_done++] = n;
        for (size_t k = e.first[n]; k < e.first[n + 1]; k++) {
            if (--waiting[e.next[k]] == 0)
                heap_push(&ready, e.next[k]);
        }
    }

    if (n_done < g->n_nodes) {
        const struct qs_node *node = &g->nodes[cycle_node(&e, done)];

        st = qs_diag_add(diag, QS_INVALID, in->model->path,
                         "graph '%s%s' has a cycle through node '%s' (%s)", g->scope, g->name,
                         node->label, node->op_type);
    }
    edges_done(&e);
    free(ready.items);
    free(waiting);
    free(done);
    return st;
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

/* Plan node "index" of the graph as the node run at "position". */
static enum qs_status
plan_node(struct qs_interp *in, struct graph_plan *gp, size_t index, size_t position,
          struct qs_diag *diag)
{
    const struct qs_node *node = &gp->graph->nodes[index];
    struct node_plan *np = &gp->nodes[position];
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
    size_t *order = qs_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*order));
    size_t *position = qs_calloc(g->n_nodes ? g->n_nodes : 1, sizeof(*position));
    enum qs_status st;

    for (size_t i = 0; i < g->n_values; i++) {
        if (value_is_constant(g->values[i]) && !g->values[i]->producer)
            gp->is_const[i] = 1;
    }
    st = plan_order(in, g, order, position, diag);

    /* In run order, because a node is folded only when every input is known constant. */
    for (size_t k = 0; k < g->n_nodes && st == QS_OK; k++)
        st = plan_node(in, gp, order[k], k, diag);
    gp->in_slots = qs_calloc(g->n_inputs ? g->n_inputs : 1, sizeof(*gp->in_slots));
    for (size_t i = 0; i < g->n_inputs; i++)
        gp->in_slots[i] = plan_slot(gp, g->inputs[i]);
    gp->outs = qs_calloc(g->n_outputs ? g->n_outputs : 1, sizeof(*gp->outs));
    for (size_t i = 0; i < g->n_outputs && st == QS_OK; i++)
        st = resolve(in, g->outputs[i], &gp->outs[i], diag, g);
    if (st == QS_OK)
        plan_releases(gp, position);
    free(order);
    free(position);
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
