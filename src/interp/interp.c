/*
 * The executor and the public API.  A run walks the nodes of a graph in
 * order, following the plan that plan.c built, and recurses into
 * subgraphs for control-flow ops.
 */
#include "config.h"
#include "interp/exec.h"

#include <cblas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"

static enum qs_status run_graph(struct interp_exec *ex, struct interp_frame *parent,
                                struct graph_plan *gp, struct qs_rt_tensor *const *inputs,
                                struct qs_rt_tensor **outputs);

enum qs_status
interp_fail(struct interp_call *call, enum qs_status status, const char *fmt, ...)
{
    char detail[768];
    char op[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    qs_node_qualified_op(call->node, op, sizeof(op));
    return qs_diag_add(call->ex->diag, status, call->ex->path, "node %s%s (%s): %s",
                       call->node->graph->scope, call->node->label, op, detail);
}

/* ---- running ------------------------------------------------------------ */

static struct interp_frame *
frame_of(struct interp_frame *frame, const struct graph_plan *gp)
{
    while (frame && frame->plan != gp)
        frame = frame->parent;
    return frame;
}

static enum qs_status
call_weight_hook(struct interp_exec *ex, const struct qs_value *v, struct qs_rt_tensor *t)
{
    const struct qs_interp_hooks *h = &ex->interp->hooks;

    if (!h->weight || !qs_rt_is_float(t->dtype))
        return QS_OK;
    return h->weight(h->ctx, v, t);
}

/* Decode constant "slot" of "gp" into the cache. */
static enum qs_status
load_constant(struct interp_exec *ex, struct graph_plan *gp, uint32_t slot)
{
    const struct qs_value *v = gp->graph->values[slot];
    const struct qs_tensor *t = v->tensor;
    struct qs_rt_tensor *rt;
    enum qs_status st;

    if (!t)
        return qs_diag_add(ex->diag, QS_INVALID, ex->path,
                           "value '%s%s' is used before it is computed", gp->graph->scope, v->name);
    if (t->fault)
        return qs_diag_add(ex->diag, QS_INVALID, ex->path, "constant '%s%s' is unusable: %s",
                           gp->graph->scope, v->name, t->fault);
    st = qs_rt_new(t->dtype, t->rank, t->dims, &rt);
    if (st != QS_OK)
        return qs_diag_add(ex->diag, st, ex->path,
                           "constant '%s%s' of type %s cannot be held (%s)", gp->graph->scope,
                           v->name, qs_dtype_name(t->dtype),
                           st == QS_UNSUPPORTED ? "unsupported type" : "too large");

    if (t->count > 0 && qs_rt_is_float(t->dtype))
        st = qs_tensor_read_f32(t, 0, (size_t)t->count, rt_f(rt));
    else if (t->count > 0)
        st = qs_tensor_read_i64(t, 0, (size_t)t->count, rt_i(rt));
    if (st == QS_OK)
        st = call_weight_hook(ex, v, rt);
    if (st != QS_OK) {
        qs_rt_unref(rt);
        return qs_diag_add(ex->diag, st, ex->path, "constant '%s%s' could not be decoded",
                           gp->graph->scope, v->name);
    }
    gp->cache[slot] = rt;
    return QS_OK;
}

/* The tensor of "ref" as seen from "frame" (borrowed), or NULL for an omitted input. */
static enum qs_status
fetch(struct interp_exec *ex, struct interp_frame *frame, const struct slot_ref *ref,
      struct qs_rt_tensor **out)
{
    struct graph_plan *gp = ref->plan;
    struct interp_frame *owner;
    enum qs_status st;

    *out = NULL;
    if (!gp)
        return QS_OK;
    if (gp->is_const[ref->slot]) {
        if (!gp->cache[ref->slot]) {
            st = load_constant(ex, gp, ref->slot);
            if (st != QS_OK)
                return st;
        }
        *out = gp->cache[ref->slot];
        return QS_OK;
    }

    owner = frame_of(frame, gp);
    if (!owner || !owner->slots[ref->slot])
        return qs_diag_add(ex->diag, QS_INVALID, ex->path,
                           "value '%s%s' is used before it is computed",
                           gp->graph->scope, gp->graph->values[ref->slot]->name);
    *out = owner->slots[ref->slot];
    return QS_OK;
}

/* A folded node whose outputs are all decoded (or decodable) needs no run. */
static enum qs_status
folded_outputs_ready(struct interp_exec *ex, struct graph_plan *gp, const struct node_plan *np,
                     int *ready)
{
    enum qs_status st;

    *ready = 1;
    for (size_t i = 0; i < np->node->n_outputs; i++) {
        uint32_t slot = np->out[i];

        if (slot == NO_SLOT || gp->cache[slot])
            continue;
        if (!gp->graph->values[slot]->tensor) {
            *ready = 0;
            continue;
        }
        st = load_constant(ex, gp, slot);
        if (st != QS_OK)
            return st;
    }
    return QS_OK;
}

/*
 * Pass output "v" of the current node through the transform hook, which may
 * replace "*t" (see struct qs_interp_hooks), and check the replacement.
 */
static enum qs_status
transform_output(struct interp_call *call, const struct qs_value *v, struct qs_rt_tensor **t)
{
    const struct qs_interp_hooks *h = &call->ex->interp->hooks;
    int dtype = (*t)->dtype, rank = (*t)->rank;
    int64_t dims[QS_RT_MAX_RANK];
    enum qs_status st;

    memcpy(dims, (*t)->dims, sizeof(dims));
    st = h->transform(h->ctx, v, t);
    if (st != QS_OK)
        return st;
    if (!*t)
        return interp_fail(call, QS_INVALID, "the transform hook left output '%s' empty",
                           v->name);
    if ((*t)->dtype != dtype || (*t)->rank != rank
        || memcmp((*t)->dims, dims, (size_t)rank * sizeof(*dims)) != 0)
        return interp_fail(call, QS_INVALID,
                           "the transform hook changed the type or shape of output '%s'",
                           v->name);
    if (qs_rt_unique(*t))
        rt_normalize(*t);
    return QS_OK;
}

static enum qs_status
store_output(struct interp_call *call, struct graph_plan *gp, const struct node_plan *np,
             size_t i)
{
    struct interp_exec *ex = call->ex;
    struct qs_rt_tensor *t = call->out[i];
    const struct qs_value *v = np->node->outputs[i];
    const struct qs_interp_hooks *h = &ex->interp->hooks;
    uint32_t slot = np->out[i];
    enum qs_status st;

    call->out[i] = NULL;
    if (slot == NO_SLOT) {
        qs_rt_unref(t);
        return QS_OK;
    }
    if (!t)
        return interp_fail(call, QS_INVALID, "output %zu was not produced", i);

    /* Results of narrow types wrap (integers) or round (16-bit floats) to their declared type.
     * Shared tensors, such as an Identity of an input, already are. */
    if (qs_rt_unique(t))
        rt_normalize(t);
    if (gp->is_const[slot]) {
        qs_rt_unref(gp->cache[slot]);
        gp->cache[slot] = t;
        return call_weight_hook(ex, v, t);
    }
    if (h->transform && qs_rt_is_float(t->dtype)) {
        st = transform_output(call, v, &t);
        if (st != QS_OK) {
            qs_rt_unref(t);
            return st;
        }
    }
    call->frame->slots[slot] = t;
    if (h->observe && qs_rt_is_float(t->dtype))
        return h->observe(h->ctx, v, t);
    return QS_OK;
}

static enum qs_status
run_node(struct interp_exec *ex, struct interp_frame *frame, struct node_plan *np)
{
    const struct qs_node *node = np->node;
    struct qs_rt_tensor *in_buf[8], *out_buf[8];
    struct interp_call call = {
        .ex = ex, .frame = frame, .node = node, .op = np->op, .opset = np->opset,
        .n_in = node->n_inputs, .n_out = node->n_outputs,
    };
    enum qs_status st = QS_OK;
    int ready = 0;

    if (np->folded) {
        st = folded_outputs_ready(ex, frame->plan, np, &ready);
        if (st != QS_OK || ready)
            return st;
    }
    call.in = node->n_inputs <= 8 ? in_buf : qs_calloc(node->n_inputs, sizeof(*call.in));
    call.out = node->n_outputs <= 8 ? out_buf : qs_calloc(node->n_outputs, sizeof(*call.out));
    memset(call.out, 0, node->n_outputs * sizeof(*call.out));

    for (size_t i = 0; i < node->n_inputs && st == QS_OK; i++)
        st = fetch(ex, frame, &np->in[i], &call.in[i]);
    if (st == QS_OK)
        st = np->op->run(&call);
    for (size_t i = 0; i < node->n_outputs; i++) {
        if (st == QS_OK)
            st = store_output(&call, frame->plan, np, i);
        qs_rt_unref(call.out[i]);
    }

    if (call.in != in_buf)
        free(call.in);
    if (call.out != out_buf)
        free(call.out);
    return st;
}

static void
release_slots(struct interp_frame *frame, const uint32_t *slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qs_rt_unref(frame->slots[slots[i]]);
        frame->slots[slots[i]] = NULL;
    }
}

static enum qs_status
collect_outputs(struct interp_exec *ex, struct interp_frame *frame,
                struct qs_rt_tensor **outputs)
{
    const struct graph_plan *gp = frame->plan;
    enum qs_status st = QS_OK;

    for (size_t i = 0; i < gp->graph->n_outputs; i++)
        outputs[i] = NULL;
    for (size_t i = 0; i < gp->graph->n_outputs && st == QS_OK; i++) {
        st = fetch(ex, frame, &gp->outs[i], &outputs[i]);
        qs_rt_ref(outputs[i]);
    }
    if (st != QS_OK) {
        for (size_t i = 0; i < gp->graph->n_outputs; i++) {
            qs_rt_unref(outputs[i]);
            outputs[i] = NULL;
        }
    }
    return st;
}

/* Run "gp" with "inputs" bound to its graph inputs (NULL entries stay unbound). */
static enum qs_status
run_graph(struct interp_exec *ex, struct interp_frame *parent, struct graph_plan *gp,
          struct qs_rt_tensor *const *inputs, struct qs_rt_tensor **outputs)
{
    const struct qs_graph *g = gp->graph;
    struct interp_frame frame = { .plan = gp, .parent = parent };
    enum qs_status st = QS_OK;

    frame.slots = qs_calloc(gp->n_values ? gp->n_values : 1, sizeof(*frame.slots));
    for (size_t i = 0; i < g->n_inputs; i++) {
        uint32_t slot = gp->in_slots[i];

        if (slot != NO_SLOT && !gp->is_const[slot])
            frame.slots[slot] = qs_rt_ref(inputs[i]);
    }
    release_slots(&frame, gp->release, gp->n_release);

    for (size_t i = 0; i < g->n_nodes && st == QS_OK; i++) {
        st = run_node(ex, &frame, &gp->nodes[i]);
        release_slots(&frame, gp->nodes[i].release, gp->nodes[i].n_release);
    }
    if (st == QS_OK)
        st = collect_outputs(ex, &frame, outputs);

    for (size_t i = 0; i < gp->n_values; i++)
        qs_rt_unref(frame.slots[i]);
    free(frame.slots);
    return st;
}

enum qs_status
interp_run_subgraph(struct interp_call *call, const struct qs_graph *graph,
                    struct qs_rt_tensor *const *inputs, struct qs_rt_tensor **outputs)
{
    struct graph_plan *gp = interp_plan_of(call->ex->interp, graph);

    if (!gp)
        return interp_fail(call, QS_INVALID, "subgraph '%s' is not part of the model",
                           graph->name);
    return run_graph(call->ex, call->frame, gp, inputs, outputs);
}

/* ---- public API --------------------------------------------------------- */

static int
cores_online(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

void
qs_interp_set_threads(struct qs_interp *interp, int threads)
{
    interp->threads = threads > 0 ? threads : cores_online();
}

static void
list_run_inputs(struct qs_interp *in)
{
    const struct qs_graph *g = in->model->graph;
    struct graph_plan *gp = &in->plans[0];

    in->inputs = qs_calloc(g->n_inputs ? g->n_inputs : 1, sizeof(*in->inputs));
    in->input_index = qs_calloc(g->n_inputs ? g->n_inputs : 1, sizeof(*in->input_index));
    for (size_t i = 0; i < g->n_inputs; i++) {
        uint32_t slot = gp->in_slots[i];

        if (slot == NO_SLOT || gp->is_const[slot])
            continue;
        in->inputs[in->n_inputs] = g->inputs[i];
        in->input_index[in->n_inputs++] = (uint32_t)i;
    }
}

enum qs_status
qs_interp_new(const struct qs_model *model, const struct qs_interp_options *opts,
              struct qs_diag *diag, struct qs_interp **out)
{
    struct qs_interp *in;
    enum qs_status st;

    *out = NULL;
    st = qs_interp_check(model, NULL, diag);
    if (st != QS_OK)
        return st;

    in = qs_calloc(1, sizeof(*in));
    rt_cache_attach();
    in->model = model;
    qs_interp_set_threads(in, opts ? opts->threads : 0);
    in->memory_limit = opts ? opts->memory_limit : 0;
    in->n_plans = model->n_graphs;
    in->plans = qs_calloc(model->n_graphs ? model->n_graphs : 1, sizeof(*in->plans));
    st = interp_plans_build(in, diag);
    if (st != QS_OK) {
        qs_interp_free(in);
        return st;
    }
    list_run_inputs(in);
    *out = in;
    return QS_OK;
}

void
qs_interp_free(struct qs_interp *interp)
{
    if (!interp)
        return;
    interp_plans_free(interp);
    interp_pool_free(interp->pool);
    free(interp->inputs);
    free(interp->input_index);
    free(interp);
    rt_cache_detach();
}

void
qs_interp_set_hooks(struct qs_interp *interp, const struct qs_interp_hooks *hooks)
{
    static const struct qs_interp_hooks none;

    interp->hooks = hooks ? *hooks : none;
    interp_drop_cache(interp);
}

size_t
qs_interp_n_inputs(const struct qs_interp *interp)
{
    return interp->n_inputs;
}

const struct qs_value *
qs_interp_input(const struct qs_interp *interp, size_t i)
{
    return i < interp->n_inputs ? interp->inputs[i] : NULL;
}

size_t
qs_interp_n_outputs(const struct qs_interp *interp)
{
    return interp->model->graph->n_outputs;
}

const struct qs_value *
qs_interp_output(const struct qs_interp *interp, size_t i)
{
    const struct qs_graph *g = interp->model->graph;

    return i < g->n_outputs ? g->outputs[i] : NULL;
}

/*
 * Check each run input's type and fixed dims against the graph's
 * declaration.  A float input of another float type (or an integer input
 * of another integer type) is converted: "converted[i]" receives the copy,
 * else NULL.
 */
static enum qs_status
check_inputs(const struct qs_interp *in, struct qs_rt_tensor *const *inputs,
             struct qs_rt_tensor **converted, struct qs_diag *diag)
{
    const char *path = in->model->path;

    for (size_t i = 0; i < in->n_inputs; i++) {
        const struct qs_value *v = in->inputs[i];
        const struct qs_rt_tensor *t = inputs[i];
        int same_kind;

        if (!t)
            return qs_diag_add(diag, QS_INVALID, path, "input '%s' is missing", v->name);
        if (qs_rt_is_float(v->type.elem))
            same_kind = qs_rt_is_float(t->dtype);
        else
            same_kind = qs_rt_is_int(v->type.elem) && qs_rt_is_int(t->dtype);
        if (v->type.elem != 0 && v->type.elem != t->dtype && !same_kind)
            return qs_diag_add(diag, QS_INVALID, path,
                               "input '%s' has type %s, the model expects %s",
                               v->name, qs_dtype_name(t->dtype), qs_dtype_name(v->type.elem));
        if (v->type.elem != 0 && v->type.elem != t->dtype
            && rt_convert(t, v->type.elem, &converted[i]) != QS_OK)
            return qs_diag_add(diag, QS_INVALID, path, "input '%s' cannot be converted to %s",
                               v->name, qs_dtype_name(v->type.elem));
        if (v->type.rank < 0)
            continue;
        if (v->type.rank != t->rank)
            return qs_diag_add(diag, QS_INVALID, path,
                               "input '%s' has rank %d, the model expects %d",
                               v->name, t->rank, v->type.rank);
        for (int d = 0; d < t->rank; d++) {
            if (v->type.dims[d].value >= 0 && v->type.dims[d].value != t->dims[d])
                return qs_diag_add(diag, QS_INVALID, path,
                                   "input '%s' has %lld in dim %d, the model expects %lld",
                                   v->name, (long long)t->dims[d], d,
                                   (long long)v->type.dims[d].value);
        }
    }
    return QS_OK;
}

/* Write "bytes" for a message: exact below 1 MiB, else in MiB with one decimal. */
static void
format_bytes(uint64_t bytes, char *buf, size_t size)
{
    if (bytes < ((uint64_t)1 << 20))
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f MiB", (double)bytes / (double)((uint64_t)1 << 20));
}

static void
prepare_threads(struct qs_interp *in, struct interp_exec *ex)
{
    if (in->pool_threads != in->threads) {
        interp_pool_free(in->pool);
        in->pool = interp_pool_new(in->threads);
        in->pool_threads = in->threads;
    }
    ex->threads = in->threads;
    ex->pool = in->pool;
    /* OpenBLAS runs inside the workers, one thread each: see interp_sgemm. */
    openblas_set_num_threads(1);
}

enum qs_status
qs_interp_run(struct qs_interp *interp, struct qs_rt_tensor *const *inputs,
              struct qs_rt_tensor **outputs, struct qs_diag *diag)
{
    const struct qs_graph *g = interp->model->graph;
    struct interp_exec ex = { .interp = interp, .diag = diag, .path = interp->model->path };
    struct qs_rt_tensor **bound, **converted;
    uint64_t peak, limit;
    char peak_text[48], limit_text[48];
    enum qs_status st;

    for (size_t i = 0; i < g->n_outputs; i++)
        outputs[i] = NULL;
    converted = qs_calloc(interp->n_inputs + 1, sizeof(*converted));
    bound = qs_calloc(g->n_inputs ? g->n_inputs : 1, sizeof(*bound));
    st = check_inputs(interp, inputs, converted, diag);
    limit = interp->memory_limit ? interp->memory_limit : qs_rt_alloc_limit();
    peak = st == QS_OK ? qs_interp_estimate_peak(interp, inputs) : 0;
    if (st == QS_OK && peak > limit) {
        format_bytes(peak, peak_text, sizeof(peak_text));
        format_bytes(limit, limit_text, sizeof(limit_text));
        st = qs_diag_add(diag, QS_INVALID, ex.path,
                         "estimated peak memory of %s exceeds the limit of %s", peak_text,
                         limit_text);
    }

    if (st == QS_OK) {
        prepare_threads(interp, &ex);
        for (size_t i = 0; i < interp->n_inputs; i++)
            bound[interp->input_index[i]] = converted[i] ? converted[i] : inputs[i];
        st = run_graph(&ex, NULL, &interp->plans[0], bound, outputs);
    }
    for (size_t i = 0; i < interp->n_inputs; i++)
        qs_rt_unref(converted[i]);
    free(converted);
    free(bound);
    return st;
}
