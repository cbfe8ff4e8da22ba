/*
 * The executor's private state: a plan per graph (value slots, constant
 * values and their decoded cache, the slots freed after each node), the
 * frames of a run, and the interpreter object.  plan.c builds the plans,
 * interp.c runs them.
 */
#ifndef QS_INTERP_EXEC_H
#define QS_INTERP_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "interp/internal.h"

#define NO_SLOT UINT32_MAX

/* A value as seen by a node: the plan of the graph defining it and its slot there. */
struct slot_ref {
    struct graph_plan *plan;         /* NULL for an omitted optional input */
    uint32_t slot;
};

struct node_plan {
    const struct qs_node *node;
    const struct interp_op *op;
    int64_t opset;
    struct slot_ref *in;             /* node->n_inputs */
    uint32_t *out;                   /* node->n_outputs; NO_SLOT where omitted */
    size_t n_release;
    uint32_t *release;               /* own-graph slots whose last use is this node */
    int folded;                      /* all inputs constant and a weight-folding op */
};

struct graph_plan {
    const struct qs_graph *graph;
    size_t n_values;                 /* graph->n_values; slot i is graph->values[i] */
    const struct qs_value **sorted;  /* values by address, for slot lookup */
    uint32_t *sorted_slot;
    unsigned char *is_const;         /* constant, or folded from constants */
    struct qs_rt_tensor **cache;     /* decoded constants */
    struct node_plan *nodes;         /* in run order (topological), not graph order */
    uint32_t *in_slots;              /* graph->n_inputs */
    struct slot_ref *outs;           /* graph->n_outputs */
    size_t n_release;
    uint32_t *release;               /* slots never read: freed before the first node */
};

struct interp_frame {
    struct graph_plan *plan;
    struct interp_frame *parent;
    struct qs_rt_tensor **slots;
};

struct qs_interp {
    const struct qs_model *model;
    size_t n_plans;
    struct graph_plan *plans;        /* parallel to model->graphs */
    struct qs_interp_hooks hooks;
    int threads;
    uint64_t memory_limit;
    struct interp_pool *pool;
    int pool_threads;

    size_t n_inputs;
    const struct qs_value **inputs;  /* main graph inputs without initializer */
    uint32_t *input_index;           /* position of each among the graph inputs */
};

/* Build the plan of every graph of "in->model" (in->plans, in->n_plans set by the caller). */
enum qs_status interp_plans_build(struct qs_interp *in, struct qs_diag *diag);

/* Free the plans and their decoded constants. */
void interp_plans_free(struct qs_interp *in);

/* Drop every decoded constant (they are decoded again on next use). */
void interp_drop_cache(struct qs_interp *in);

/* The plan of graph "g", or NULL. */
struct graph_plan *interp_plan_of(const struct qs_interp *in, const struct qs_graph *g);

#endif
