/*
 * Layer discovery: every constant-computable value read by a node that
 * does not fold it further becomes a layer, keyed by its scoped name.
 */
#include "config.h"
#include "layers.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "layers_internal.h"
#include "strmap.h"

/* ConstantOfShape weights larger than this are not computed: nothing in the file bounds them. */
#define LAYERS_MAX_FILL_ELEMENTS ((uint64_t)1 << 28)

/* Growable list of layers during discovery. */
struct layers_list {
    struct qs_layer *items;
    size_t *use_capacity;
    size_t count;
    size_t capacity;
    struct layers_ptrmap index;      /* qs_value -> layer index + 1 */
};

static struct qs_layer *
list_layer_for(struct layers_list *list, struct qs_value *value, int *created)
{
    uintptr_t at = (uintptr_t)layers_ptrmap_get(&list->index, value);

    *created = 0;
    if (at)
        return &list->items[at - 1];
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? list->capacity * 2 : 32;
        list->items = qs_reallocarray(list->items, list->capacity, sizeof(*list->items));
        list->use_capacity = qs_reallocarray(list->use_capacity, list->capacity, sizeof(size_t));
    }
    memset(&list->items[list->count], 0, sizeof(list->items[0]));
    list->use_capacity[list->count] = 0;
    list->items[list->count].index = list->count;
    list->items[list->count].value = value;
    list->count++;
    layers_ptrmap_put(&list->index, value, (void *)(uintptr_t)list->count);
    *created = 1;
    return &list->items[list->count - 1];
}

static void
list_add_use(struct layers_list *list, struct qs_layer *layer, struct qs_node *node, int input)
{
    size_t *capacity = &list->use_capacity[layer->index];

    if (layer->n_uses == *capacity) {
        *capacity = *capacity ? *capacity * 2 : 2;
        layer->uses = qs_reallocarray(layer->uses, *capacity, sizeof(*layer->uses));
    }
    memset(&layer->uses[layer->n_uses], 0, sizeof(layer->uses[0]));
    layer->uses[layer->n_uses].node = node;
    layer->uses[layer->n_uses].input = input;
    layer->n_uses++;
}

/* Record that input "input" of "node" reads "value", when that makes a layer. */
static void
record_use(struct layers_ctx *ctx, struct layers_list *list, struct qs_node *node, int input)
{
    struct qs_value *value = node->inputs[input];
    struct layers_fold *f = layers_fold_value(ctx, value);
    struct layers_fold *weight = f;
    struct qs_layer *layer;
    int quantized = 0;
    int created;

    if (!f || layers_node_folds(ctx, node))
        return;
    if (layers_is_quantized_weight_input(node, input))
        quantized = 1;
    else if (!qs_dtype_is_float((enum qs_dtype)f->dtype))
        return;

    layer = list_layer_for(list, value, &created);
    /* NOTE: an integer weight read by two quantized ops takes the first op's scales. */
    if (created && quantized) {
        weight = layers_quantized_fold(ctx, node, input, f);
        if (!weight)
            layer->fault = "the weight cannot be dequantized";
    }
    if (created)
        layer->fold = weight ? weight : f;
    list_add_use(list, layer, node, input);
}

/* A constant graph output read by no node is still a weight, though not a quantizable one. */
static void
record_output(struct layers_ctx *ctx, struct layers_list *list, struct qs_value *value)
{
    struct layers_fold *f = layers_fold_value(ctx, value);
    struct qs_layer *layer;
    int created;

    if (!f || !qs_dtype_is_float((enum qs_dtype)f->dtype) || value->n_consumers > 0
        || layers_ptrmap_get(&list->index, value))
        return;
    layer = list_layer_for(list, value, &created);
    layer->fold = f;
}

static void
discover(struct layers_ctx *ctx, struct layers_list *list)
{
    for (size_t g = 0; g < ctx->model->n_graphs; g++) {
        struct qs_graph *graph = ctx->model->graphs[g];

        for (size_t n = 0; n < graph->n_nodes; n++) {
            struct qs_node *node = &graph->nodes[n];

            for (size_t i = 0; i < node->n_inputs; i++) {
                if (node->inputs[i])
                    record_use(ctx, list, node, (int)i);
            }
        }
    }
    for (size_t g = 0; g < ctx->model->n_graphs; g++) {
        struct qs_graph *graph = ctx->model->graphs[g];

        for (size_t i = 0; i < graph->n_outputs; i++) {
            if (graph->outputs[i])
                record_output(ctx, list, graph->outputs[i]);
        }
    }
}

/* First data fault among the stored tensors the fold reads. */
static const char *
fold_fault(const struct layers_fold *f)
{
    const char *why;

    if (!f)
        return NULL;
    if (f->op == LAYERS_FOLD_TENSOR)
        return f->tensor->fault;
    if (f->op == LAYERS_FOLD_FILL && f->count > LAYERS_MAX_FILL_ELEMENTS)
        return "ConstantOfShape output is larger than the 2^28 values qscope computes";
    why = fold_fault(f->input);
    if (!why)
        why = fold_fault(f->scale);
    if (!why)
        why = fold_fault(f->zero_point);
    return why;
}

static const char *
ops_list(struct layers_ctx *ctx, const struct qs_layer *layer)
{
    char text[512] = "";
    size_t used = 0;

    for (size_t i = 0; i < layer->n_uses; i++) {
        char op[128];
        const char *name = qs_node_qualified_op(layer->uses[i].node, op, sizeof(op));
        int seen = 0;

        for (size_t j = 0; j < i; j++) {
            char other[128];

            seen |= strcmp(qs_node_qualified_op(layer->uses[j].node, other, sizeof(other)),
                           name) == 0;
        }
        if (!seen && used < sizeof(text))
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
                                     used ? "," : "", name);
    }
    return qs_arena_strdup(ctx->arena, text);
}

/* Channel and group axes from the weight uses; per-tensor only when they disagree. */
static void
settle_axes(struct layers_ctx *ctx, struct qs_layer *layer)
{
    const struct qs_layer_use *first = NULL;

    layer->channel_axis = -1;
    layer->group_axis = -1;
    for (size_t i = 0; i < layer->n_uses; i++) {
        const struct qs_layer_use *use = &layer->uses[i];

        if (!use->is_weight)
            continue;
        if (!first) {
            first = use;
            continue;
        }
        if (use->channel_axis != first->channel_axis || use->group_axis != first->group_axis) {
            layer->axis_note = qs_arena_printf(
                ctx->arena, "consumers disagree on the axes: %s '%s' uses channel axis %d and "
                "group axis %d, %s '%s' uses %d and %d, so only per-tensor scales are offered",
                first->node->op_type, first->node->label, first->channel_axis,
                first->group_axis, use->node->op_type, use->node->label, use->channel_axis,
                use->group_axis);
            return;
        }
    }
    if (!first)
        return;
    layer->channel_axis = first->channel_axis;
    layer->group_axis = first->group_axis;
    for (size_t i = 0; i < layer->n_uses; i++) {
        const struct qs_layer_use *use = &layer->uses[i];
        int64_t group = qs_node_attr_int(use->node, "group", 1);

        if (use->is_weight && layers_node_is(use->node, "ConvTranspose") && group > 1)
            layer->axis_note = qs_arena_printf(
                ctx->arena, "ConvTranspose '%s' has group %lld: the scales of channel axis 1 "
                "are shared by the groups, so one scale per output channel is not expressible",
                use->node->label, (long long)group);
    }
}

static void
settle_quantizable(struct layers_ctx *ctx, struct qs_layer *layer)
{
    const struct qs_layer_use *aux = NULL;

    for (size_t i = 0; i < layer->n_uses; i++) {
        if (layer->uses[i].is_weight)
            layer->quantizable = 1;
        else if (!aux)
            aux = &layer->uses[i];
    }
    if (layer->quantizable && layer->count == 0) {
        layer->quantizable = 0;
        layer->not_quantizable = "empty tensor: no elements to quantize";
    } else if (layer->quantizable && layer->fault) {
        layer->quantizable = 0;
        layer->not_quantizable = "its data cannot be computed";
    } else if (!layer->quantizable && aux) {
        layer->not_quantizable = qs_arena_printf(ctx->arena, "%s of %s '%s'", aux->role,
                                                 aux->node->op_type, aux->node->label);
    } else if (!layer->quantizable) {
        layer->not_quantizable = "graph output read by no node";
    }
}

/*
 * True when the factor scale / sqrt(variance + epsilon) of every channel
 * is finite.  Otherwise the BatchNormalization itself makes NaN or
 * infinities (a negative or zero variance without epsilon): say so, and
 * keep the weight unfolded rather than blame its values.
 */
static int
bn_factors_finite(struct layers_ctx *ctx, const struct qs_layer *layer, const struct qs_node *bn,
                  const struct layers_fold *scale, const struct layers_fold *var, float epsilon)
{
    size_t n = (size_t)scale->count;
    float *s = qs_malloc(n * sizeof(float) + 1);
    float *v = qs_malloc(n * sizeof(float) + 1);
    const char *why = NULL;
    int ok = layers_fold_read(scale, s, &why) == QS_OK && layers_fold_read(var, v, &why) == QS_OK;

    for (size_t m = 0; ok && m < n; m++) {
        if (isfinite(s[m] / sqrt((double)v[m] + epsilon)))
            continue;
        qs_diag_warn(ctx->diag, ctx->model->path,
                     "BatchNormalization '%s' is not folded into '%s': channel %zu has scale "
                     "%g, variance %g and epsilon %g, so scale / sqrt(variance + epsilon) is "
                     "not finite", bn->label, layer->key, m, s[m], v[m], epsilon);
        ok = 0;
    }
    free(s);
    free(v);
    return ok;
}

/* The BatchNormalization that follows a Conv reading this weight, when it can be folded. */
static struct qs_node *
find_batch_norm(struct layers_ctx *ctx, struct qs_layer *layer)
{
    struct qs_node *conv, *bn;
    struct qs_value *out;
    struct layers_fold *scale, *var;

    if (layer->n_uses != 1 || !layers_node_is(layer->uses[0].node, "Conv")
        || layer->uses[0].input != 1 || layer->rank < 1)
        return NULL;
    conv = layer->uses[0].node;
    out = conv->n_outputs ? conv->outputs[0] : NULL;
    if (!out || out->is_graph_output || out->n_consumers != 1)
        return NULL;
    bn = out->consumers[0];
    if (!layers_node_is(bn, "BatchNormalization") || bn->n_inputs < 5 || bn->inputs[0] != out
        || qs_node_attr_int(bn, "training_mode", 0) != 0)
        return NULL;
    for (size_t i = 1; i < bn->n_outputs; i++) {
        if (bn->outputs[i] && (bn->outputs[i]->n_consumers || bn->outputs[i]->is_graph_output))
            return NULL;
    }
    scale = bn->inputs[1] ? layers_fold_value(ctx, bn->inputs[1]) : NULL;
    var = bn->inputs[4] ? layers_fold_value(ctx, bn->inputs[4]) : NULL;
    if (!scale || !var || scale->count != (uint64_t)layer->dims[0]
        || var->count != scale->count || fold_fault(scale) || fold_fault(var))
        return NULL;
    layer->bn_epsilon = qs_node_attr_float(bn, "epsilon", 1e-5f);
    if (!bn_factors_finite(ctx, layer, bn, scale, var, layer->bn_epsilon))
        return NULL;
    layer->bn_scale = scale;
    layer->bn_var = var;
    return bn;
}

static void
settle_layer(struct layers_ctx *ctx, struct qs_layer *layer)
{
    const struct layers_fold *f = layer->fold;
    const struct layers_fold *dq = layers_fold_find_dequantize(f);
    const char *fault = fold_fault(f);

    layer->name = layer->value->name;
    layer->graph = layer->value->graph;
    layer->key = qs_arena_printf(ctx->arena, "%s%s", layer->graph ? layer->graph->scope : "",
                                 layer->name);
    layer->source = layers_fold_source(f);
    layer->stored_dtype = layer->source ? layer->source->dtype : f->dtype;
    layer->chain = layers_fold_chain(ctx, f);
    layer->overridable = layer->value->kind == QS_VALUE_GRAPH_INPUT;
    layer->dtype = f->dtype;
    layer->rank = f->rank;
    layer->dims = f->dims;
    layer->count = f->count;
    if (!layer->fault && fault)
        layer->fault = fault;
    if (dq)
        layer->quantized = layers_describe_quantized(ctx, dq);

    for (size_t i = 0; i < layer->n_uses; i++)
        layers_axes_for_use(layer->uses[i].node, layer->uses[i].input, layer->rank,
                            &layer->uses[i]);
    layer->ops = ops_list(ctx, layer);
    settle_axes(ctx, layer);
    settle_quantizable(ctx, layer);
    if (!layer->fault)
        layer->bn = find_batch_norm(ctx, layer);
}

/* An entry of the source-name map: the layer, unless several layers share the name. */
struct layers_source {
    const struct qs_layer *layer;
    int ambiguous;
};

/* Index the layers by key (renaming the rare clash) and by source tensor name. */
static void
index_layers(struct layers_ctx *ctx, struct qs_layers *layers)
{
    struct qs_layers_private *priv = layers->priv;

    priv->by_key = qs_strmap_new();
    priv->by_source = qs_strmap_new();
    for (size_t i = 0; i < layers->count; i++) {
        struct qs_layer *layer = &layers->items[i];
        struct layers_source *entry, *known;
        const char *key = layer->key;

        for (int n = 2; qs_strmap_get(priv->by_key, key); n++)
            key = qs_arena_printf(ctx->arena, "%s~%d", layer->key, n);
        if (key != layer->key) {
            qs_diag_warn(ctx->diag, ctx->model->path,
                         "two weights have the key '%s'; the second is called '%s'",
                         layer->key, key);
            layer->key = key;
        }
        qs_strmap_put(priv->by_key, layer->key, layer);

        if (!layer->source || !layer->source->name[0])
            continue;
        entry = qs_arena_calloc(ctx->arena, 1, sizeof(*entry));
        entry->layer = layer;
        known = qs_strmap_put(priv->by_source, layer->source->name, entry);
        if (known && known->layer != layer)
            known->ambiguous = 1;
    }
}

void
layers_fault(struct layers_ctx *ctx, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (ctx->keep_going)
        qs_diag_warn(ctx->diag, ctx->model->path, "%s; going on without it", text);
    else
        qs_diag_add(ctx->diag, QS_INVALID, ctx->model->path, "%s", text);
}

enum qs_status
qs_layers_build(struct qs_model *model, int keep_going, struct qs_diag *diag,
                struct qs_layers **out)
{
    struct qs_layers *layers = qs_calloc(1, sizeof(*layers));
    struct layers_list list = { 0 };
    struct layers_ctx ctx = { 0 };

    layers->model = model;
    layers->priv = qs_calloc(1, sizeof(*layers->priv));
    qs_arena_init(&layers->priv->arena);
    ctx.model = model;
    ctx.arena = &layers->priv->arena;
    ctx.diag = diag;
    ctx.keep_going = keep_going;
    ctx.opset = qs_model_opset(model, "");

    discover(&ctx, &list);
    layers->items = list.items;
    layers->count = list.count;
    for (size_t i = 0; i < layers->count; i++) {
        settle_layer(&ctx, &layers->items[i]);
        if (layers->items[i].quantizable) {
            layers->n_quantizable++;
            layers->quantizable_params += layers->items[i].count;
        }
    }
    index_layers(&ctx, layers);

    free(list.use_capacity);
    layers_ptrmap_done(&list.index);
    layers_ptrmap_done(&ctx.folds);
    *out = layers;
    return QS_OK;
}

void
qs_layers_free(struct qs_layers *layers)
{
    if (!layers)
        return;
    for (size_t i = 0; i < layers->count; i++)
        free(layers->items[i].uses);
    free(layers->items);
    qs_strmap_free(layers->priv->by_key);
    qs_strmap_free(layers->priv->by_source);
    qs_arena_done(&layers->priv->arena);
    free(layers->priv);
    free(layers);
}

const struct qs_layer *
qs_layers_find(const struct qs_layers *layers, const char *key)
{
    const struct qs_layer *layer = qs_strmap_get(layers->priv->by_key, key);
    const struct layers_source *entry;

    if (layer)
        return layer;
    entry = qs_strmap_get(layers->priv->by_source, key);
    return entry && !entry->ambiguous ? entry->layer : NULL;
}

int
qs_layer_pattern_is_literal(const char *pattern)
{
    return strncmp(pattern, "op:", 3) != 0 && !strpbrk(pattern, "*?[\\");
}

int
qs_layer_matches(const struct qs_layer *layer, const char *pattern)
{
    if (strncmp(pattern, "op:", 3) == 0) {
        for (size_t i = 0; i < layer->n_uses; i++) {
            char op[128];
            const struct qs_node *node = layer->uses[i].node;

            if (strcmp(node->op_type, pattern + 3) == 0
                || strcmp(qs_node_qualified_op(node, op, sizeof(op)), pattern + 3) == 0)
                return 1;
        }
        return 0;
    }
    return fnmatch(pattern, layer->key, 0) == 0;
}

/* Multiply each output channel by scale / sqrt(var + epsilon). */
static enum qs_status
fold_batch_norm(const struct qs_layer *layer, float *values, const char **why)
{
    uint64_t channels = (uint64_t)layer->dims[0];
    uint64_t inner = channels ? layer->count / channels : 0;
    float *scale = qs_malloc((size_t)channels * sizeof(float) + 1);
    float *var = qs_malloc((size_t)channels * sizeof(float) + 1);
    enum qs_status status = layers_fold_read(layer->bn_scale, scale, why);

    if (status == QS_OK)
        status = layers_fold_read(layer->bn_var, var, why);
    for (uint64_t m = 0; status == QS_OK && m < channels; m++) {
        double factor = scale[m] / sqrt((double)var[m] + layer->bn_epsilon);

        for (uint64_t j = 0; j < inner; j++)
            values[m * inner + j] = (float)(values[m * inner + j] * factor);
    }
    free(scale);
    free(var);
    return status;
}

static void
data_layout(const struct qs_layer *layer, struct qs_layer_data *out)
{
    out->count = layer->count;
    out->rank = layer->rank;
    out->dims = layer->dims;
    out->channel_axis = layer->channel_axis;
    out->group_axis = layer->group_axis;
    out->outer = 1;
    out->channels = 1;
    out->inner = 1;
    if (layer->channel_axis < 0) {
        out->inner = layer->count;
        return;
    }
    for (int i = 0; i < layer->rank; i++) {
        if (i < layer->channel_axis)
            out->outer *= (uint64_t)layer->dims[i];
        else if (i == layer->channel_axis)
            out->channels = (uint64_t)layer->dims[i];
        else
            out->inner *= (uint64_t)layer->dims[i];
    }
}

static void
count_nonfinite(const struct qs_layers *layers, const struct qs_layer *layer,
                struct qs_layer_data *out, struct qs_diag *diag)
{
    for (uint64_t i = 0; i < out->count; i++) {
        if (isfinite(out->values[i]))
            continue;
        if (out->n_nan + out->n_inf == 0)
            out->first_nonfinite = i;
        if (isnan(out->values[i]))
            out->n_nan++;
        else
            out->n_inf++;
    }
    if (out->n_nan + out->n_inf)
        qs_diag_warn(diag, layers->model->path,
                     "weight '%s' has %" PRIu64 " NaN and %" PRIu64 " infinite values, the "
                     "first at flat index %" PRIu64 "; statistics leave them out",
                     layer->key, out->n_nan, out->n_inf, out->first_nonfinite);
}

enum qs_status
qs_layer_data_get(const struct qs_layers *layers, const struct qs_layer *layer, unsigned flags,
                  struct qs_diag *diag, struct qs_layer_data *out)
{
    const char *why = NULL;
    enum qs_status status;

    memset(out, 0, sizeof(*out));
    if (layer->fault)
        return qs_diag_add(diag, QS_INVALID, layers->model->path, "weight '%s': %s",
                           layer->key, layer->fault);

    out->values = qs_reallocarray(NULL, layer->count ? (size_t)layer->count : 1, sizeof(float));
    status = layers_fold_read(layer->fold, out->values, &why);
    if (status == QS_OK && layer->bn && !(flags & QS_LAYER_NO_FOLD_BN)) {
        status = fold_batch_norm(layer, out->values, &why);
        out->bn_folded = 1;
    }
    if (status != QS_OK) {
        qs_layer_data_done(out);
        return qs_diag_add(diag, status, layers->model->path, "weight '%s': %s", layer->key,
                           why ? why : "data cannot be read");
    }

    data_layout(layer, out);
    count_nonfinite(layers, layer, out, diag);
    return QS_OK;
}

void
qs_layer_data_done(struct qs_layer_data *data)
{
    free(data->values);
    data->values = NULL;
}

static const char *
granularity_text(const struct qs_layer_quantized *q, char *buf, size_t size)
{
    switch (q->granularity) {
    case QS_LAYER_PER_TENSOR:
        snprintf(buf, size, "per tensor");
        break;
    case QS_LAYER_PER_AXIS:
        snprintf(buf, size, "per axis %d", q->axis);
        break;
    case QS_LAYER_PER_BLOCK:
        snprintf(buf, size, "blocks of %lld along axis %d", (long long)q->block_size, q->axis);
        break;
    }
    return buf;
}

const char *
qs_layer_format(const struct qs_layer *layer, char *buf, size_t size)
{
    const struct qs_layer_quantized *q = layer->quantized;
    char gran[64];

    if (q) {
        char type[16];

        if (q->dtype)
            snprintf(type, sizeof(type), "%s", qs_dtype_short_name(q->dtype));
        else
            snprintf(type, sizeof(type), "%d-bit", q->bits);
        snprintf(buf, size, "%s %s (%s)%s", type, granularity_text(q, gran, sizeof(gran)), q->op,
                 q->has_scale ? "" : ", scale applied outside the op");
        return buf;
    }
    if (layer->chain[0])
        snprintf(buf, size, "%s via %s", qs_dtype_short_name(layer->stored_dtype), layer->chain);
    else
        snprintf(buf, size, "%s", qs_dtype_short_name(layer->stored_dtype));
    return buf;
}

const char *
qs_layer_shape(const struct qs_layer *layer, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");

    for (int i = 0; i < layer->rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)layer->dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

int64_t
qs_layer_group_length(const struct qs_layer *layer)
{
    return layer->group_axis >= 0 ? layer->dims[layer->group_axis] : 0;
}
