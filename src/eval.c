/*
 * End-to-end evaluation: a float run and a quantized run per sample, with
 * the outputs and (optionally) every intermediate float tensor compared.
 */
#include "config.h"
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* A float-run tensor kept for the trace until the quantized run reaches it. */
struct capture {
    const struct qs_value *value;
    float *data;
    int rank;
    int64_t dims[QS_RT_MAX_RANK];
    uint64_t count;
    size_t row;                  /* trace row */
};

/* An activation that the quantized run fake-quantizes. */
struct act_target {
    char *name;
    struct qs_act_params params; /* static mode */
    struct qs_quant_metrics metrics;
    uint64_t flagged;
};

struct eval_state {
    const struct qs_eval_options *opts;
    const char *file;
    struct qs_diag *diag;
    struct qs_eval_result *result;
    struct qs_eval_weights weights;

    struct capture *captures;    /* the float run of the current sample, in order */
    size_t n_captures, cap_captures;
    size_t position;             /* quantized run: next capture to compare */
    int diverged;                /* the quantized run left the float run's path */
    struct qs_strmap *trace_index;    /* name -> trace row + 1 */
    size_t trace_cap;

    struct qs_strmap *act_index; /* name -> act target + 1 */
    size_t n_acts;
    struct act_target *acts;
};

/* ---- trace ------------------------------------------------------------- */

static size_t
trace_row(struct eval_state *st, const struct qs_value *value, char *name)
{
    struct qs_eval_result *r = st->result;
    size_t found = (uintptr_t)qs_strmap_get(st->trace_index, name);
    struct qs_eval_trace *row;
    char op[128];

    if (found) {
        free(name);
        return found - 1;
    }
    if (r->n_trace == st->trace_cap) {
        st->trace_cap = st->trace_cap ? 2 * st->trace_cap : 64;
        r->trace = qs_reallocarray(r->trace, st->trace_cap, sizeof(*row));
    }
    row = &r->trace[r->n_trace];
    memset(row, 0, sizeof(*row));
    row->name = name;
    if (value->producer) {
        row->op = qs_strdup(qs_node_qualified_op(value->producer, op, sizeof(op)));
        row->node = qs_asprintf("%s%s", value->producer->graph->scope, value->producer->label);
    } else {
        row->op = qs_strdup("input");
        row->node = qs_strdup("");
    }
    qs_strmap_put(st->trace_index, row->name, (void *)(uintptr_t)(r->n_trace + 1));
    return r->n_trace++;
}

static enum qs_status
float_observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct eval_state *st = ctx;
    struct capture *c;

    if (!qs_rt_is_float(tensor->dtype))
        return QS_OK;
    if (st->n_captures == st->cap_captures) {
        st->cap_captures = st->cap_captures ? 2 * st->cap_captures : 64;
        st->captures = qs_reallocarray(st->captures, st->cap_captures, sizeof(*c));
    }
    c = &st->captures[st->n_captures++];
    c->value = value;
    c->rank = tensor->rank;
    memcpy(c->dims, tensor->dims, sizeof(c->dims));
    c->count = tensor->count;
    c->data = qs_calloc(tensor->count + 1, sizeof(float));
    memcpy(c->data, tensor->data, tensor->count * sizeof(float));
    c->row = trace_row(st, value, qs_calib_scoped_name(value));
    return QS_OK;
}

static void
captures_clear(struct eval_state *st)
{
    for (size_t i = 0; i < st->n_captures; i++)
        free(st->captures[i].data);
    st->n_captures = 0;
    st->position = 0;
    st->diverged = 0;
}

static int
capture_matches(const struct capture *c, const struct qs_rt_tensor *t)
{
    return c->rank == t->rank && c->count == t->count
           && memcmp(c->dims, t->dims, (size_t)t->rank * sizeof(int64_t)) == 0;
}

/* Compare a tensor of the quantized run with the float run's tensor at the same step. */
static void
trace_compare(struct eval_state *st, const struct qs_value *value,
              const struct qs_rt_tensor *tensor)
{
    struct capture *c;

    if (st->diverged)
        return;
    if (st->position >= st->n_captures || st->captures[st->position].value != value) {
        st->diverged = 1;
        st->result->diverged++;
        return;
    }
    c = &st->captures[st->position++];
    if (!capture_matches(c, tensor)) {
        st->result->trace[c->row].mismatches++;
        return;
    }
    qs_eval_add_error(c->data, tensor->data, c->count, &st->result->trace[c->row].metrics);
}

/* ---- activations ------------------------------------------------------- */

/*
 * Fake-quantize "*tensor" as activation target "index": in place when it
 * owns its data, else replaced by a quantized copy.
 */
static enum qs_status
act_quantize(struct eval_state *st, size_t index, struct qs_rt_tensor **tensor)
{
    struct act_target *a = &st->acts[index];
    enum qs_status status;

    status = qs_act_quantize_tensor(st->opts->act, &a->params, tensor, &a->metrics,
                                    &a->flagged);
    if (status != QS_OK)
        return qs_diag_add(st->diag, status, st->file, "activation '%s' cannot be copied for "
                           "quantization", a->name);
    return QS_OK;
}

/* The transform hook of the quantized run: activation targets are fake-quantized. */
static enum qs_status
quant_transform(void *ctx, const struct qs_value *value, struct qs_rt_tensor **tensor)
{
    struct eval_state *st = ctx;
    char *name = qs_calib_scoped_name(value);
    size_t act = (uintptr_t)qs_strmap_get(st->act_index, name);

    free(name);
    if (!act)
        return QS_OK;
    return act_quantize(st, act - 1, tensor);
}

/* The observe hook of the quantized run: the trace comparison. */
static enum qs_status
quant_observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct eval_state *st = ctx;

    if (qs_rt_is_float(tensor->dtype))
        trace_compare(st, value, tensor);
    return QS_OK;
}

static enum qs_status
quant_weight(void *ctx, const struct qs_value *value, struct qs_rt_tensor *tensor)
{
    struct eval_state *st = ctx;

    return qs_eval_weights_hook(&st->weights, value, tensor);
}

/* Add "name" as an activation target; static scales come from the calibration. */
static enum qs_status
act_add(struct eval_state *st, char *name, const char *layer_key)
{
    const struct qs_calib_tensor *t = NULL;
    struct act_target *a;

    if (qs_strmap_get(st->act_index, name)) {
        free(name);
        return QS_OK;
    }
    if (st->opts->act->mode == QS_ACT_STATIC) {
        t = st->opts->calib ? qs_calib_find(st->opts->calib, name) : NULL;
        if (!t) {
            /* The calibration samples never computed it, as in an If branch not taken. */
            qs_diag_warn(st->diag, st->file, "input '%s' of layer '%s' has no calibration "
                         "statistics, so it stays in float", name, layer_key);
            free(name);
            return QS_OK;
        }
    }
    st->acts = qs_reallocarray(st->acts, st->n_acts + 1, sizeof(*a));
    a = &st->acts[st->n_acts];
    memset(a, 0, sizeof(*a));
    a->name = name;
    if (t)
        qs_act_static_params(st->opts->act, t, &a->params);
    st->n_acts++;
    /* The keys are the names, which stay put when the array grows. */
    qs_strmap_put(st->act_index, a->name, (void *)(uintptr_t)st->n_acts);
    return QS_OK;
}

/* ---- setup ------------------------------------------------------------- */

/* Activate the plan's layers, and collect the activations they read. */
static enum qs_status
apply_plan(struct eval_state *st, const struct qs_layers *layers)
{
    const struct qs_plan *plan = st->opts->plan;
    enum qs_status status = QS_OK;
    char message[256];

    for (size_t i = 0; i < plan->count; i++) {
        const struct qs_plan_layer *entry = &plan->layers[i];
        const struct qs_layer *layer = qs_layers_find(layers, entry->key);

        if (entry->is_float)
            continue;
        if (!layer) {
            status = qs_diag_add(st->diag, QS_INVALID, st->file, "the plan names layer '%s', "
                                 "which the model lacks", entry->key);
            continue;
        }
        if (qs_plan_check_config(layer, &entry->config, message, sizeof(message)) != QS_OK) {
            status = qs_diag_add(st->diag, QS_INVALID, st->file, "layer '%s': %s (plan "
                                 "configuration %s)", layer->key, message, entry->config_text);
            continue;
        }
        qs_eval_weights_set(&st->weights, layer->index, &entry->config);
        st->result->layers_planned++;

        for (size_t u = 0; st->opts->act && u < layer->n_uses; u++) {
            int input, axis;

            if (qs_calib_activation_input(&layer->uses[u], &input, &axis))
                status = qs_status_worst(status,
                    act_add(st, qs_calib_scoped_name(layer->uses[u].node->inputs[input]),
                            layer->key));
        }
    }
    return status;
}

static enum qs_status
make_interps(const struct qs_model *model, struct eval_state *st, struct qs_interp **fl,
             struct qs_interp **qu)
{
    struct qs_interp_options options = { .threads = st->opts->threads };
    struct qs_interp_hooks float_hooks = { .observe = float_observe, .ctx = st };
    struct qs_interp_hooks quant_hooks = {
        .transform = quant_transform, .observe = quant_observe, .weight = quant_weight,
        .ctx = st,
    };
    enum qs_status status = qs_interp_new(model, &options, st->diag, fl);

    if (status == QS_OK)
        status = qs_interp_new(model, &options, st->diag, qu);
    if (status != QS_OK)
        return status;
    if (st->opts->trace)
        qs_interp_set_hooks(*fl, &float_hooks);
    if (!st->opts->trace)
        quant_hooks.observe = NULL;
    if (st->n_acts == 0)
        quant_hooks.transform = NULL;
    qs_interp_set_hooks(*qu, &quant_hooks);
    return QS_OK;
}

/* ---- runs -------------------------------------------------------------- */

/*
 * The quantized run's inputs: the sample's own tensors, except that graph
 * inputs read by quantized layers get a fake-quantized copy.  Copies are
 * stored in "owned" for the caller to drop.
 */
static enum qs_status
quant_inputs(struct eval_state *st, const struct qs_interp *interp,
             const struct qs_input_set *inputs, size_t s, struct qs_rt_tensor **run,
             struct qs_rt_tensor **owned)
{
    for (size_t i = 0; i < inputs->n_inputs; i++) {
        const struct qs_value *value = qs_interp_input(interp, i);
        struct qs_rt_tensor *t = qs_inputs_get(inputs, s, i);
        char *name = qs_calib_scoped_name(value);
        size_t act = (uintptr_t)qs_strmap_get(st->act_index, name);
        enum qs_status status;

        run[i] = t;
        if (act && qs_rt_is_float(t->dtype)) {
            /* The extra reference makes the sample's tensor shared, so it gets a copy. */
            owned[i] = qs_rt_ref(t);
            status = act_quantize(st, act - 1, &owned[i]);
            if (status != QS_OK) {
                free(name);
                return status;
            }
            run[i] = owned[i];
            if (st->opts->trace) {
                size_t row = trace_row(st, value, qs_strdup(name));
                struct qs_quant_metrics *m = &st->result->trace[row].metrics;

                qs_eval_add_error(t->data, owned[i]->data, t->count, m);
            }
        }
        free(name);
    }
    return QS_OK;
}

static void
compare_outputs(struct eval_state *st, const struct qs_interp *interp,
                struct qs_rt_tensor **ref, struct qs_rt_tensor **test)
{
    struct qs_eval_result *r = st->result;

    for (size_t i = 0; i < r->n_outputs; i++) {
        if (!r->outputs[i].name)
            r->outputs[i].name = qs_strdup(qs_interp_output(interp, i)->name);
        if (ref[i])
            qs_eval_compare_output(ref[i], test[i], &r->outputs[i]);
    }
}

static void
drop_tensors(struct qs_rt_tensor **tensors, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        qs_rt_unref(tensors[i]);
        tensors[i] = NULL;
    }
}

static enum qs_status
run_sample(struct eval_state *st, struct qs_interp *fl, struct qs_interp *qu,
           const struct qs_input_set *inputs, size_t s)
{
    size_t n_in = inputs->n_inputs, n_out = st->result->n_outputs;
    struct qs_rt_tensor **ref = qs_calloc(n_out + 1, sizeof(*ref));
    struct qs_rt_tensor **test = qs_calloc(n_out + 1, sizeof(*test));
    struct qs_rt_tensor **run = qs_calloc(n_in + 1, sizeof(*run));
    struct qs_rt_tensor **owned = qs_calloc(n_in + 1, sizeof(*owned));
    enum qs_status status;

    status = quant_inputs(st, qu, inputs, s, run, owned);
    if (status == QS_OK)
        status = qs_interp_run(fl, inputs->tensors + s * n_in, ref, st->diag);
    if (status == QS_OK)
        status = qs_interp_run(qu, run, test, st->diag);
    if (status == QS_OK)
        compare_outputs(st, qu, ref, test);

    captures_clear(st);
    drop_tensors(ref, n_out);
    drop_tensors(test, n_out);
    drop_tensors(owned, n_in);
    free(ref);
    free(test);
    free(run);
    free(owned);
    return status;
}

static void
finish(struct eval_state *st)
{
    struct qs_eval_result *r = st->result;
    const struct qs_layers *layers = st->weights.layers;

    for (size_t i = 0; i < layers->count; i++) {
        if (!st->weights.active[i])
            continue;
        r->layers_reached += st->weights.hits[i] > 0;
        qs_quant_metrics_add(&r->weights, &st->weights.metrics[i]);
    }
    qs_quant_metrics_finish(&r->weights);
    for (size_t i = 0; i < r->n_outputs; i++)
        qs_quant_metrics_finish(&r->outputs[i].metrics);
    for (size_t i = 0; i < r->n_trace; i++) {
        size_t act = (uintptr_t)qs_strmap_get(st->act_index, r->trace[i].name);

        qs_quant_metrics_finish(&r->trace[i].metrics);
        if (act) {
            r->trace[i].act_quantized = 1;
            r->trace[i].act_metrics = st->acts[act - 1].metrics;
            qs_quant_metrics_finish(&r->trace[i].act_metrics);
        }
    }
    r->n_act = st->n_acts;
}

static void
state_done(struct eval_state *st)
{
    captures_clear(st);
    free(st->captures);
    for (size_t i = 0; i < st->n_acts; i++)
        free(st->acts[i].name);
    free(st->acts);
    qs_strmap_free(st->act_index);
    qs_strmap_free(st->trace_index);
    qs_eval_weights_done(&st->weights);
}

enum qs_status
qs_eval_run(const struct qs_model *model, const struct qs_layers *layers,
            const struct qs_input_set *inputs, const struct qs_eval_options *opts,
            struct qs_diag *diag, struct qs_eval_result *result)
{
    struct eval_state st = {
        .opts = opts, .file = model->path, .diag = diag, .result = result,
        .trace_index = qs_strmap_new(), .act_index = qs_strmap_new(),
    };
    struct qs_interp *fl = NULL, *qu = NULL;
    enum qs_status status;

    memset(result, 0, sizeof(*result));
    qs_eval_weights_init(&st.weights, layers, opts->threads, model->path, diag);
    status = apply_plan(&st, layers);
    if (status == QS_OK)
        status = make_interps(model, &st, &fl, &qu);
    if (status == QS_OK) {
        result->n_outputs = qs_interp_n_outputs(qu);
        result->outputs = qs_calloc(result->n_outputs + 1, sizeof(*result->outputs));
    }
    for (size_t s = 0; status == QS_OK && s < inputs->n_samples; s++) {
        status = run_sample(&st, fl, qu, inputs, s);
        result->samples += status == QS_OK;
        if (opts->progress)
            opts->progress(opts->progress_ctx);
    }

    finish(&st);
    qs_interp_free(fl);
    qs_interp_free(qu);
    state_done(&st);
    return status;
}

void
qs_eval_result_done(struct qs_eval_result *result)
{
    for (size_t i = 0; i < result->n_outputs; i++)
        free(result->outputs[i].name);
    for (size_t i = 0; i < result->n_trace; i++) {
        free(result->trace[i].name);
        free(result->trace[i].op);
        free(result->trace[i].node);
    }
    free(result->outputs);
    free(result->trace);
    memset(result, 0, sizeof(*result));
}
