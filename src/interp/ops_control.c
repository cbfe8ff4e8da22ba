/*
 * Control flow: If, Loop and Scan run their subgraphs through the
 * executor, which resolves the outer-scope values the bodies read.
 */
#include "config.h"
#include "interp/internal.h"

#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* Most iterations a Loop runs before it is stopped as runaway. */
#define LOOP_MAX_ITERATIONS ((int64_t)1 << 31)

static const struct qs_graph *
subgraph(const struct qs_node *node, const char *attr)
{
    for (size_t i = 0; i < node->n_subgraphs; i++) {
        if (strcmp(node->subgraphs[i]->attr_name, attr) == 0)
            return node->subgraphs[i];
    }
    return NULL;
}

/* Declared element type of body output "i", float when undeclared (for empty scan outputs). */
static int
body_elem(const struct qs_graph *body, size_t i)
{
    int elem = body->outputs[i]->type.elem;

    return qs_rt_is_float(elem) || qs_rt_is_int(elem) ? elem : QS_DT_FLOAT;
}

static int
truthy(const struct qs_rt_tensor *t)
{
    if (t->count < 1)
        return 0;
    return qs_rt_is_float(t->dtype) ? rt_f(t)[0] != 0 : rt_i(t)[0] != 0;
}

static void
unref_all(struct qs_rt_tensor **ts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qs_rt_unref(ts[i]);
        ts[i] = NULL;
    }
}

enum qs_status
op_if(struct interp_call *call)
{
    const struct qs_graph *branch;
    struct qs_rt_tensor **outs;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st != QS_OK)
        return st;
    branch = subgraph(call->node, truthy(call->in[0]) ? "then_branch" : "else_branch");
    if (!branch || branch->n_outputs != call->n_out)
        return interp_fail(call, QS_INVALID, "the branch is missing or has %zu outputs for %zu",
                           branch ? branch->n_outputs : 0, call->n_out);
    outs = qs_calloc(branch->n_outputs + 1, sizeof(*outs));
    st = interp_run_subgraph(call, branch, NULL, outs);
    for (size_t i = 0; i < call->n_out; i++)
        call->out[i] = st == QS_OK ? outs[i] : NULL;
    free(outs);
    return st;
}

/* ---- stacking per-iteration values --------------------------------------- */

struct stack {
    size_t count, cap;
    struct qs_rt_tensor **items;
};

static void
stack_push(struct stack *s, struct qs_rt_tensor *t)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->items = qs_reallocarray(s->items, s->cap, sizeof(*s->items));
    }
    s->items[s->count++] = qs_rt_ref(t);
}

static void
stack_done(struct stack *s)
{
    unref_all(s->items, s->count);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/*
 * Stack the items along a new axis "axis" (0 .. rank), in reverse order
 * when "reverse".  With no items the result is [0] of "dtype".
 */
static enum qs_status
stack_join(struct interp_call *call, const struct stack *s, int axis, int reverse, int dtype,
           struct qs_rt_tensor **out)
{
    const struct qs_rt_tensor *first = s->count ? s->items[0] : NULL;
    int64_t dims[QS_RT_MAX_RANK], zero = 0;
    uint64_t outer, inner;
    int esize;
    enum qs_status st;

    if (!first)
        return interp_new(call, dtype, 1, &zero, out);
    if (first->rank + 1 > QS_RT_MAX_RANK || axis < 0 || axis > first->rank)
        return interp_fail(call, QS_INVALID, "scan output axis %d does not fit rank %d", axis,
                           first->rank);
    for (size_t i = 1; i < s->count; i++) {
        if (s->items[i]->rank != first->rank || s->items[i]->dtype != first->dtype
            || memcmp(s->items[i]->dims, first->dims, (size_t)first->rank * sizeof(int64_t)) != 0)
            return interp_fail(call, QS_INVALID, "scan output shapes differ between iterations");
    }
    for (int d = 0, k = 0; d <= first->rank; d++)
        dims[d] = d == axis ? (int64_t)s->count : first->dims[k++];
    st = interp_new(call, first->dtype, first->rank + 1, dims, out);
    if (st != QS_OK)
        return st;

    esize = rt_esize(first);
    outer = rt_span(first->dims, 0, axis);
    inner = rt_span(first->dims, axis, first->rank);
    for (size_t i = 0; i < s->count; i++) {
        const struct qs_rt_tensor *t = s->items[reverse ? s->count - 1 - i : i];

        for (uint64_t o = 0; o < outer; o++)
            memcpy((char *)(*out)->data + ((o * s->count + i) * inner) * (uint64_t)esize,
                   (const char *)t->data + o * inner * (uint64_t)esize,
                   (size_t)(inner * (uint64_t)esize));
    }
    return QS_OK;
}

/* ---- Loop ----------------------------------------------------------------- */

struct loop_state {
    const struct qs_graph *body;
    size_t n_carried, n_scan;
    struct qs_rt_tensor **inputs;        /* body inputs: iteration, condition, carried... */
    struct qs_rt_tensor **outputs;       /* body outputs: condition, carried..., scan... */
    struct stack *scans;
};

static enum qs_status
loop_iteration(struct interp_call *call, struct loop_state *ls, int64_t iter, int *keep_going)
{
    enum qs_status st;

    rt_i(ls->inputs[0])[0] = iter;
    st = interp_run_subgraph(call, ls->body, ls->inputs, ls->outputs);
    if (st != QS_OK)
        return st;
    *keep_going = truthy(ls->outputs[0]);
    qs_rt_unref(ls->inputs[1]);
    ls->inputs[1] = ls->outputs[0];
    ls->outputs[0] = NULL;
    for (size_t i = 0; i < ls->n_carried; i++) {
        qs_rt_unref(ls->inputs[2 + i]);
        ls->inputs[2 + i] = ls->outputs[1 + i];
        ls->outputs[1 + i] = NULL;
    }
    for (size_t k = 0; k < ls->n_scan; k++) {
        stack_push(&ls->scans[k], ls->outputs[1 + ls->n_carried + k]);
        qs_rt_unref(ls->outputs[1 + ls->n_carried + k]);
        ls->outputs[1 + ls->n_carried + k] = NULL;
    }
    return QS_OK;
}

static enum qs_status
loop_setup(struct interp_call *call, struct loop_state *ls)
{
    enum qs_status st;

    ls->body = subgraph(call->node, "body");
    if (!ls->body || ls->body->n_inputs < 2 || call->n_in < 2
        || ls->body->n_inputs != call->n_in || ls->body->n_outputs < ls->body->n_inputs - 1)
        return interp_fail(call, QS_INVALID, "the body's inputs and outputs do not match the node");
    ls->n_carried = call->n_in - 2;
    ls->n_scan = ls->body->n_outputs - 1 - ls->n_carried;
    if (call->n_out > ls->n_carried + ls->n_scan)
        return interp_fail(call, QS_INVALID, "the node has more outputs than the body");
    ls->inputs = qs_calloc(call->n_in, sizeof(*ls->inputs));
    ls->outputs = qs_calloc(ls->body->n_outputs, sizeof(*ls->outputs));
    ls->scans = qs_calloc(ls->n_scan + 1, sizeof(*ls->scans));

    st = interp_new(call, QS_DT_INT64, 0, NULL, &ls->inputs[0]);
    if (st == QS_OK)
        st = interp_new(call, QS_DT_BOOL, 0, NULL, &ls->inputs[1]);
    if (st != QS_OK)
        return st;
    rt_i(ls->inputs[1])[0] = call->in[1] ? truthy(call->in[1]) : 1;
    for (size_t i = 0; i < ls->n_carried; i++) {
        if (!call->in[2 + i])
            return interp_fail(call, QS_INVALID, "loop-carried input %zu is missing", i);
        ls->inputs[2 + i] = qs_rt_ref(call->in[2 + i]);
    }
    return QS_OK;
}

static void
loop_done(struct loop_state *ls)
{
    if (ls->inputs)
        unref_all(ls->inputs, ls->body->n_inputs);
    if (ls->outputs)
        unref_all(ls->outputs, ls->body->n_outputs);
    for (size_t k = 0; ls->scans && k < ls->n_scan; k++)
        stack_done(&ls->scans[k]);
    free(ls->inputs);
    free(ls->outputs);
    free(ls->scans);
}

enum qs_status
op_loop(struct interp_call *call)
{
    struct loop_state ls = { 0 };
    int64_t max_trips = LOOP_MAX_ITERATIONS;
    int keep_going;
    enum qs_status st = QS_OK;

    if (call->n_in > 0 && call->in[0])
        st = interp_scalar_int(call, 0, 0, &max_trips);
    if (st == QS_OK && (call->n_in < 2 || !call->in[1]) && (call->n_in < 1 || !call->in[0]))
        st = interp_fail(call, QS_UNSUPPORTED, "a loop without trip count or condition never ends");
    if (st == QS_OK)
        st = loop_setup(call, &ls);

    keep_going = st == QS_OK && truthy(ls.inputs[1]);
    for (int64_t iter = 0; st == QS_OK && keep_going && iter < max_trips; iter++) {
        if (iter >= LOOP_MAX_ITERATIONS)
            st = interp_fail(call, QS_INVALID, "the loop ran %lld iterations without ending",
                             (long long)iter);
        else
            st = loop_iteration(call, &ls, iter, &keep_going);
    }

    for (size_t i = 0; st == QS_OK && i < call->n_out; i++) {
        if (i < ls.n_carried)
            call->out[i] = qs_rt_ref(ls.inputs[2 + i]);
        else
            st = stack_join(call, &ls.scans[i - ls.n_carried], 0, 0, body_elem(ls.body, 1 + i),
                            &call->out[i]);
    }
    loop_done(&ls);
    return st;
}

/* ---- Scan ----------------------------------------------------------------- */

struct scan_args {
    const struct qs_graph *body;
    size_t n_state, n_in, n_out;         /* state variables, scan inputs, scan outputs */
    int64_t in_axis[QS_RT_MAX_RANK * 4], in_reverse[QS_RT_MAX_RANK * 4];
    int64_t out_axis[QS_RT_MAX_RANK * 4], out_reverse[QS_RT_MAX_RANK * 4];
};

static void
ints_or(const struct qs_node *node, const char *name, size_t n, int64_t fallback, int64_t *out)
{
    const int64_t *v;
    ptrdiff_t count = qs_node_attr_ints(node, name, &v);

    for (size_t i = 0; i < n; i++)
        out[i] = count >= 0 && (size_t)count > i ? v[i] : fallback;
}

/* Slice "t" at index "i" of "axis" (the axis removed), reading "batch" first for opset 8. */
static enum qs_status
scan_slice(struct interp_call *call, const struct qs_rt_tensor *t, int axis, int64_t i,
           struct qs_rt_tensor **out)
{
    int64_t dims[QS_RT_MAX_RANK], strides[QS_RT_MAX_RANK], src[QS_RT_MAX_RANK];
    int rank = 0;
    enum qs_status st;

    rt_strides(t->rank, t->dims, strides);
    for (int d = 0; d < t->rank; d++) {
        if (d == axis)
            continue;
        dims[rank] = t->dims[d];
        src[rank++] = strides[d];
    }
    st = interp_new(call, t->dtype, rank, dims, out);
    if (st == QS_OK)
        rt_copy_strided((*out)->data, t->data, rt_esize(t), rank, dims, src, i * strides[axis]);
    return st;
}

static enum qs_status
scan_setup(struct interp_call *call, struct scan_args *a, size_t first_input)
{
    int64_t n_in = qs_node_attr_int(call->node, "num_scan_inputs", 0);

    memset(a, 0, sizeof(*a));
    a->body = subgraph(call->node, "body");
    if (!a->body || n_in < 1 || (size_t)n_in > call->n_in - first_input
        || (size_t)n_in > QS_RT_MAX_RANK * 4)
        return interp_fail(call, QS_INVALID, "the body or num_scan_inputs does not match the node");
    a->n_in = (size_t)n_in;
    a->n_state = call->n_in - first_input - a->n_in;
    if (a->body->n_inputs != a->n_state + a->n_in || a->body->n_outputs < a->n_state
        || a->body->n_outputs - a->n_state > QS_RT_MAX_RANK * 4 || call->n_out > a->body->n_outputs)
        return interp_fail(call, QS_INVALID, "the body's inputs and outputs do not match the node");
    a->n_out = a->body->n_outputs - a->n_state;
    ints_or(call->node, "scan_input_axes", a->n_in, 0, a->in_axis);
    ints_or(call->node, call->opset < 9 ? "directions" : "scan_input_directions", a->n_in, 0,
            a->in_reverse);
    ints_or(call->node, "scan_output_axes", a->n_out, 0, a->out_axis);
    ints_or(call->node, "scan_output_directions", a->n_out, 0, a->out_reverse);
    return QS_OK;
}

/* One scan over "inputs" (state then scan inputs, already per batch for opset 8). */
static enum qs_status
scan_run(struct interp_call *call, const struct scan_args *a, struct qs_rt_tensor *const *inputs,
         struct qs_rt_tensor **results)
{
    size_t nb_in = a->body->n_inputs, nb_out = a->body->n_outputs;
    struct qs_rt_tensor **bin = qs_calloc(nb_in, sizeof(*bin));
    struct qs_rt_tensor **bout = qs_calloc(nb_out, sizeof(*bout));
    struct stack *stacks = qs_calloc(a->n_out + 1, sizeof(*stacks));
    int axes[QS_RT_MAX_RANK * 4];
    int64_t steps = -1;
    enum qs_status st = QS_OK;

    for (size_t i = 0; i < a->n_state; i++)
        bin[i] = qs_rt_ref(inputs[i]);
    for (size_t k = 0; k < a->n_in && st == QS_OK; k++) {
        const struct qs_rt_tensor *t = inputs[a->n_state + k];

        st = interp_axis(call, a->in_axis[k], t->rank, &axes[k]);
        if (st == QS_OK && steps >= 0 && t->dims[axes[k]] != steps)
            st = interp_fail(call, QS_INVALID, "scan inputs differ in sequence length");
        if (st == QS_OK)
            steps = t->dims[axes[k]];
    }

    for (int64_t s = 0; st == QS_OK && s < steps; s++) {
        for (size_t k = 0; k < a->n_in && st == QS_OK; k++) {
            qs_rt_unref(bin[a->n_state + k]);
            bin[a->n_state + k] = NULL;
            st = scan_slice(call, inputs[a->n_state + k], axes[k],
                            a->in_reverse[k] ? steps - 1 - s : s, &bin[a->n_state + k]);
        }
        if (st == QS_OK)
            st = interp_run_subgraph(call, a->body, bin, bout);
        for (size_t i = 0; st == QS_OK && i < a->n_state; i++) {
            qs_rt_unref(bin[i]);
            bin[i] = bout[i];
            bout[i] = NULL;
        }
        for (size_t k = 0; st == QS_OK && k < a->n_out; k++)
            stack_push(&stacks[k], bout[a->n_state + k]);
        unref_all(bout, nb_out);
    }

    for (size_t i = 0; st == QS_OK && i < a->n_state; i++)
        results[i] = qs_rt_ref(bin[i]);
    for (size_t k = 0; st == QS_OK && k < a->n_out; k++) {
        int rank = stacks[k].count ? stacks[k].items[0]->rank + 1 : 1;
        int64_t axis = a->out_axis[k] < 0 ? a->out_axis[k] + rank : a->out_axis[k];

        st = stack_join(call, &stacks[k], (int)axis, (int)a->out_reverse[k],
                        body_elem(a->body, a->n_state + k),
                        &results[a->n_state + k]);
    }
    for (size_t k = 0; k < a->n_out; k++)
        stack_done(&stacks[k]);
    unref_all(bin, nb_in);
    free(bin);
    free(bout);
    free(stacks);
    return st;
}

static enum qs_status
scan9(struct interp_call *call)
{
    struct scan_args a;
    struct qs_rt_tensor **results;
    enum qs_status st = scan_setup(call, &a, 0);

    if (st == QS_OK)
        st = interp_need_inputs(call, call->n_in);
    if (st != QS_OK)
        return st;
    results = qs_calloc(a.n_state + a.n_out, sizeof(*results));
    st = scan_run(call, &a, call->in, results);
    for (size_t i = 0; i < a.n_state + a.n_out; i++) {
        if (st == QS_OK && i < call->n_out)
            call->out[i] = results[i];
        else
            qs_rt_unref(results[i]);
    }
    free(results);
    return st;
}

/* Scan-8: a leading batch axis on every input and output, scanned along axis 1. */
static enum qs_status
scan8(struct interp_call *call)
{
    struct scan_args a;
    struct qs_rt_tensor **per_batch, **results;
    struct stack *outs;
    int64_t batch;
    size_t n_all;
    enum qs_status st = scan_setup(call, &a, 1);

    for (size_t i = 1; st == QS_OK && i < call->n_in; i++) {
        if (!call->in[i] || call->in[i]->rank < 1)
            st = interp_fail(call, QS_INVALID, "input %zu is missing or has no batch axis", i);
    }
    if (st != QS_OK)
        return st;
    if (call->n_in > 0 && call->in[0])
        return interp_fail(call, QS_UNSUPPORTED, "sequence_lens of Scan-8 is not supported");
    n_all = a.n_state + a.n_in;
    batch = call->in[1]->rank > 0 ? call->in[1]->dims[0] : 0;
    per_batch = qs_calloc(n_all, sizeof(*per_batch));
    results = qs_calloc(a.n_state + a.n_out, sizeof(*results));
    outs = qs_calloc(a.n_state + a.n_out, sizeof(*outs));
    for (size_t k = 0; k < a.n_in; k++)
        a.in_axis[k] = 0;

    for (int64_t b = 0; b < batch && st == QS_OK; b++) {
        for (size_t i = 0; i < n_all && st == QS_OK; i++)
            st = scan_slice(call, call->in[1 + i], 0, b, &per_batch[i]);
        if (st == QS_OK)
            st = scan_run(call, &a, per_batch, results);
        for (size_t i = 0; st == QS_OK && i < a.n_state + a.n_out; i++)
            stack_push(&outs[i], results[i]);
        unref_all(per_batch, n_all);
        unref_all(results, a.n_state + a.n_out);
    }
    for (size_t i = 0; st == QS_OK && i < call->n_out; i++)
        st = stack_join(call, &outs[i], 0, 0, QS_DT_FLOAT, &call->out[i]);
    for (size_t i = 0; i < a.n_state + a.n_out; i++)
        stack_done(&outs[i]);
    free(per_batch);
    free(results);
    free(outs);
    return st;
}

enum qs_status
op_scan(struct interp_call *call)
{
    return call->opset < 9 ? scan8(call) : scan9(call);
}
