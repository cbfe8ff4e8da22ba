/*
 * Graphs, nodes and values.  Each graph first defines every name of its
 * scope (inputs, initializers, node outputs), then walks its nodes in
 * order: attribute tensors, the node's inputs resolved through the scope
 * chain, and subgraphs from GRAPH and GRAPHS attributes, built depth first.
 * Names are looked up in one hash map per graph, so the work is linear in
 * the size of the model.
 */
#include "config.h"
#include "model_build.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* State of one graph while it is built. */
struct graph_ctx {
    struct qs_model_build *b;
    struct qs_graph *g;
    const Onnx__GraphProto *proto;
    struct qs_ptrvec values;
    struct qs_ptrvec initializers;
};

static enum qs_status graph_build(struct qs_model_build *b, const Onnx__GraphProto *proto,
                                  struct qs_node *parent_node, const char *attr_name,
                                  struct qs_graph **out);

static const char *
text_or_empty(const char *text)
{
    return text ? text : "";
}

static enum qs_status __attribute__((format(printf, 2, 3)))
graph_fail(struct graph_ctx *ctx, const char *fmt, ...)
{
    char detail[700];
    char where[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    qs_format_graph(ctx->g, where, sizeof(where));
    return qs_diag_add(ctx->b->diag, QS_INVALID, ctx->b->file, "%s (%s)", detail, where);
}

static void
type_from_proto(struct qs_arena *arena, const Onnx__TypeProto *proto, struct qs_type *type)
{
    const Onnx__TensorShapeProto *shape = NULL;

    if (!proto)
        return;
    switch (proto->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        type->kind = QS_TYPE_TENSOR;
        type->elem = proto->tensor_type->elem_type;
        shape = proto->tensor_type->shape;
        break;
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
        type->kind = QS_TYPE_SPARSE_TENSOR;
        type->elem = proto->sparse_tensor_type->elem_type;
        shape = proto->sparse_tensor_type->shape;
        break;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: type->kind = QS_TYPE_SEQUENCE; break;
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:      type->kind = QS_TYPE_MAP; break;
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: type->kind = QS_TYPE_OPTIONAL; break;
    case ONNX__TYPE_PROTO__VALUE_OPAQUE_TYPE:   type->kind = QS_TYPE_OPAQUE; break;
    default: return;
    }
    if (!shape || shape->n_dim > INT_MAX)
        return;

    struct qs_dim *dims = qs_arena_calloc(arena, shape->n_dim, sizeof(*dims));

    for (size_t i = 0; i < shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = shape->dim[i];

        dims[i].value = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
            && dim->dim_value >= 0)
            dims[i].value = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            dims[i].param = dim->dim_param;
    }
    type->rank = (int)shape->n_dim;
    type->dims = dims;
}

static void
type_from_tensor(struct qs_arena *arena, const struct qs_tensor *t, struct qs_type *type)
{
    struct qs_dim *dims;

    type->kind = QS_TYPE_TENSOR;
    type->elem = t->dtype;
    if (t->fault && !t->dims)
        return;  /* dims rejected: the shape is unknown */
    dims = qs_arena_calloc(arena, (size_t)t->rank, sizeof(*dims));
    for (int i = 0; i < t->rank; i++)
        dims[i].value = t->dims[i];
    type->rank = t->rank;
    type->dims = dims;
}

/* Define "name" in the graph's scope; NULL after reporting a duplicate. */
static struct qs_value *
value_define(struct graph_ctx *ctx, const char *name, enum qs_value_kind kind, const char *what)
{
    char shown[100];
    struct qs_value *v = qs_arena_calloc(ctx->b->arena, 1, sizeof(*v));
    struct qs_value *old;

    v->name = name;
    v->graph = ctx->g;
    v->kind = kind;
    v->type.rank = -1;
    old = qs_strmap_put(ctx->g->value_map, name, v);
    if (old) {
        graph_fail(ctx, "value '%s' is defined twice: as %s and again as %s",
                   qs_quote(name, shown, sizeof(shown)),
                   old->kind == QS_VALUE_NODE_OUTPUT ? "a node output"
                   : old->kind == QS_VALUE_GRAPH_INPUT ? "a graph input" : "an initializer",
                   what);
        return NULL;
    }
    qs_ptrvec_push(&ctx->values, v);
    return v;
}

static enum qs_status
graph_inputs(struct graph_ctx *ctx)
{
    const Onnx__GraphProto *gp = ctx->proto;

    ctx->g->n_inputs = gp->n_input;
    ctx->g->inputs = qs_arena_calloc(ctx->b->arena, gp->n_input, sizeof(*ctx->g->inputs));
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = text_or_empty(gp->input[i]->name);
        struct qs_value *v;

        if (!*name)
            return graph_fail(ctx, "graph input %zu has no name", i);
        v = value_define(ctx, name, QS_VALUE_GRAPH_INPUT, "a graph input");
        if (!v)
            return QS_INVALID;
        type_from_proto(ctx->b->arena, gp->input[i]->type, &v->type);
        ctx->g->inputs[i] = v;
    }
    return QS_OK;
}

/* Bind an initializer tensor to its name: a graph input's default, or a value of its own. */
static enum qs_status
graph_bind_initializer(struct graph_ctx *ctx, struct qs_tensor *t, const char *kind, size_t index)
{
    char shown[100];
    struct qs_value *v;

    if (!*t->name)
        return graph_fail(ctx, "%s %zu has no name", kind, index);
    v = qs_strmap_get(ctx->g->value_map, t->name);
    if (v && v->kind == QS_VALUE_GRAPH_INPUT && !v->tensor) {
        v->tensor = t;
    } else if (v) {
        return graph_fail(ctx, "initializer '%s' is defined twice",
                          qs_quote(t->name, shown, sizeof(shown)));
    } else {
        v = value_define(ctx, t->name, QS_VALUE_INITIALIZER, kind);
        if (!v)
            return QS_INVALID;
        v->tensor = t;
    }
    if (!t->fault || t->dims)
        type_from_tensor(ctx->b->arena, t, &v->type);
    qs_ptrvec_push(&ctx->initializers, t);
    return QS_OK;
}

static enum qs_status
graph_initializers(struct graph_ctx *ctx)
{
    const Onnx__GraphProto *gp = ctx->proto;
    struct qs_tensor_site site = { .graph = ctx->g, .kind = "initializer" };

    for (size_t i = 0; i < gp->n_initializer; i++) {
        struct qs_tensor *t;

        site.index = i;
        t = qs_build_tensor(ctx->b, gp->initializer[i], NULL, QS_ORIGIN_INITIALIZER, &site);
        if (graph_bind_initializer(ctx, t, "initializer", i) != QS_OK)
            return QS_INVALID;
    }

    site.kind = "sparse initializer";
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        struct qs_tensor *t;

        site.index = i;
        t = qs_build_sparse(ctx->b, gp->sparse_initializer[i], NULL,
                            QS_ORIGIN_SPARSE_INITIALIZER, &site);
        if (graph_bind_initializer(ctx, t, "sparse initializer", i) != QS_OK)
            return QS_INVALID;
    }
    return QS_OK;
}

static const char *
node_domain(const char *domain)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        return "";
    return domain;
}

/*
 * Warn once per name shared by several nodes; labels stay the names.
 * "names" maps each name to its first node, "reported" holds the names
 * already warned about (the map keeps the first value stored).
 */
static void
node_check_name(struct graph_ctx *ctx, struct qs_strmap *names, struct qs_strmap *reported,
                struct qs_node *node)
{
    char shown[100];
    char where[320];
    struct qs_node *first;

    if (!*node->name)
        return;
    first = qs_strmap_put(names, node->name, node);
    if (!first || qs_strmap_put(reported, node->name, node))
        return;
    qs_diag_warn(ctx->b->diag, ctx->b->file, "node name '%s' is used by more than one node "
                 "(nodes %zu and %zu in %s)", qs_quote(node->name, shown, sizeof(shown)),
                 first->index, node->index, qs_format_graph(ctx->g, where, sizeof(where)));
}

static enum qs_status
node_outputs(struct graph_ctx *ctx, struct qs_node *node)
{
    const Onnx__NodeProto *np = node->proto;

    node->n_outputs = np->n_output;
    node->outputs = qs_arena_calloc(ctx->b->arena, np->n_output, sizeof(*node->outputs));
    for (size_t j = 0; j < np->n_output; j++) {
        const char *name = text_or_empty(np->output[j]);
        struct qs_value *v;

        if (!*name)
            continue;  /* an omitted optional output */
        v = value_define(ctx, name, QS_VALUE_NODE_OUTPUT, "a node output");
        if (!v)
            return QS_INVALID;
        v->producer = node;
        v->producer_output = (int)j;
        node->outputs[j] = v;
    }
    return QS_OK;
}

static enum qs_status
graph_nodes(struct graph_ctx *ctx)
{
    const Onnx__GraphProto *gp = ctx->proto;
    struct qs_graph *g = ctx->g;
    struct qs_strmap *names = qs_strmap_new();
    struct qs_strmap *reported = qs_strmap_new();
    enum qs_status status = QS_OK;

    g->n_nodes = gp->n_node;
    g->nodes = qs_arena_calloc(ctx->b->arena, gp->n_node, sizeof(*g->nodes));
    for (size_t i = 0; i < gp->n_node && status == QS_OK; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        struct qs_node *node = &g->nodes[i];

        node->index = i;
        node->name = text_or_empty(np->name);
        node->label = *node->name ? node->name : qs_arena_printf(ctx->b->arena, "#%zu", i);
        node->op_type = text_or_empty(np->op_type);
        node->domain = node_domain(np->domain);
        node->graph = g;
        node->proto = np;
        node->n_attrs = np->n_attribute;
        node->attrs = (const Onnx__AttributeProto **)np->attribute;
        node->attr_tensors = qs_arena_calloc(ctx->b->arena, np->n_attribute,
                                             sizeof(*node->attr_tensors));
        node_check_name(ctx, names, reported, node);
        if (!*node->op_type)
            status = graph_fail(ctx, "node %zu has no op_type", i);
        else
            status = node_outputs(ctx, node);
    }
    qs_strmap_free(names);
    qs_strmap_free(reported);
    return status;
}

/* Declared types of value_info entries and graph outputs, where no tensor gave one. */
static void
graph_declared_types(struct graph_ctx *ctx)
{
    const Onnx__GraphProto *gp = ctx->proto;
    const Onnx__ValueInfoProto *const *lists[2] = {
        (const Onnx__ValueInfoProto *const *)gp->value_info,
        (const Onnx__ValueInfoProto *const *)gp->output
    };
    size_t counts[2] = { gp->n_value_info, gp->n_output };

    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            const char *name = text_or_empty(lists[l][i]->name);
            struct qs_value *v = qs_strmap_get(ctx->g->value_map, name);

            if (v && v->type.kind == QS_TYPE_UNKNOWN)
                type_from_proto(ctx->b->arena, lists[l][i]->type, &v->type);
        }
    }
}

static int
node_is_constant(const struct qs_node *node)
{
    return strcmp(node->op_type, "Constant") == 0 && *node->domain == '\0';
}

static void
node_attr_tensors(struct graph_ctx *ctx, struct qs_node *node)
{
    struct qs_tensor_site site = { .graph = ctx->g, .node = node };

    if (node_is_constant(node)) {
        struct qs_tensor *t = qs_build_constant(ctx->b, node, &site);

        if (node->n_outputs > 0 && node->outputs[0]) {
            node->outputs[0]->tensor = t;
            if (!t->fault || t->dims)
                type_from_tensor(ctx->b->arena, t, &node->outputs[0]->type);
        }
        return;
    }

    for (size_t i = 0; i < node->n_attrs; i++) {
        const Onnx__AttributeProto *attr = node->attrs[i];

        site.attr = text_or_empty(attr->name);
        if (attr->t)
            node->attr_tensors[i] = qs_build_tensor(ctx->b, attr->t, NULL,
                                                    QS_ORIGIN_ATTRIBUTE, &site);
        else if (attr->sparse_tensor)
            node->attr_tensors[i] = qs_build_sparse(ctx->b, attr->sparse_tensor, NULL,
                                                    QS_ORIGIN_ATTRIBUTE, &site);
        for (size_t k = 0; k < attr->n_tensors; k++)
            qs_build_tensor(ctx->b, attr->tensors[k], NULL, QS_ORIGIN_ATTRIBUTE, &site);
        for (size_t k = 0; k < attr->n_sparse_tensors; k++)
            qs_build_sparse(ctx->b, attr->sparse_tensors[k], NULL, QS_ORIGIN_ATTRIBUTE, &site);
    }
}

static void
use_add(struct qs_model_build *b, struct qs_value *value, struct qs_node *node)
{
    if (b->n_uses == b->cap_uses) {
        b->cap_uses = b->cap_uses ? b->cap_uses * 2 : 256;
        b->uses = qs_reallocarray(b->uses, b->cap_uses, sizeof(*b->uses));
    }
    b->uses[b->n_uses].value = value;
    b->uses[b->n_uses].node = node;
    b->n_uses++;
}

static enum qs_status
node_inputs(struct graph_ctx *ctx, struct qs_node *node)
{
    const Onnx__NodeProto *np = node->proto;
    char label[100];
    char shown[100];
    char op[100];

    node->n_inputs = np->n_input;
    node->inputs = qs_arena_calloc(ctx->b->arena, np->n_input, sizeof(*node->inputs));
    for (size_t j = 0; j < np->n_input; j++) {
        const char *name = text_or_empty(np->input[j]);
        struct qs_value *v;

        if (!*name)
            continue;  /* an omitted optional input */
        v = qs_graph_lookup(ctx->g, name);
        if (!v)
            return graph_fail(ctx, "node '%s' reads undefined value '%s' (input %zu of %s)",
                              qs_quote(node->label, label, sizeof(label)),
                              qs_quote(name, shown, sizeof(shown)), j,
                              qs_quote(node->op_type, op, sizeof(op)));
        node->inputs[j] = v;
        use_add(ctx->b, v, node);
    }
    return QS_OK;
}

static enum qs_status
node_subgraph(struct graph_ctx *ctx, struct qs_node *node, struct qs_ptrvec *subgraphs,
              const Onnx__GraphProto *proto, const char *attr_name)
{
    struct qs_graph *child;

    if (graph_build(ctx->b, proto, node, attr_name, &child) != QS_OK)
        return QS_INVALID;
    qs_ptrvec_push(subgraphs, child);
    return QS_OK;
}

/* Subgraphs of GRAPH and GRAPHS attributes; GRAPHS entries are scoped "attr[K]". */
static enum qs_status
node_subgraphs(struct graph_ctx *ctx, struct qs_node *node)
{
    struct qs_ptrvec subgraphs = { 0 };
    enum qs_status status = QS_OK;

    for (size_t i = 0; i < node->n_attrs && status == QS_OK; i++) {
        const Onnx__AttributeProto *attr = node->attrs[i];
        const char *name = text_or_empty(attr->name);

        if (attr->g)
            status = node_subgraph(ctx, node, &subgraphs, attr->g, name);
        for (size_t k = 0; k < attr->n_graphs && status == QS_OK; k++) {
            char *scoped = qs_arena_printf(ctx->b->arena, "%s[%zu]", name, k);

            status = node_subgraph(ctx, node, &subgraphs, attr->graphs[k], scoped);
        }
    }
    node->n_subgraphs = subgraphs.count;
    node->subgraphs = (struct qs_graph **)qs_ptrvec_to_arena(&subgraphs, ctx->b->arena);
    qs_ptrvec_done(&subgraphs);
    return status;
}

static enum qs_status
graph_outputs(struct graph_ctx *ctx)
{
    const Onnx__GraphProto *gp = ctx->proto;
    char shown[100];

    ctx->g->n_outputs = gp->n_output;
    ctx->g->outputs = qs_arena_calloc(ctx->b->arena, gp->n_output, sizeof(*ctx->g->outputs));
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = text_or_empty(gp->output[i]->name);
        struct qs_value *v;

        if (!*name)
            return graph_fail(ctx, "graph output %zu has no name", i);
        v = qs_graph_lookup(ctx->g, name);
        if (!v)
            return graph_fail(ctx, "graph output '%s' is not defined",
                              qs_quote(name, shown, sizeof(shown)));
        if (v->graph == ctx->g)
            v->is_graph_output = 1;
        ctx->g->outputs[i] = v;
    }
    return QS_OK;
}

static struct qs_graph *
graph_new(struct qs_model_build *b, const Onnx__GraphProto *proto, struct qs_node *parent_node,
          const char *attr_name)
{
    struct qs_graph *g = qs_arena_calloc(b->arena, 1, sizeof(*g));

    g->name = text_or_empty(proto->name);
    g->proto = proto;
    g->value_map = qs_strmap_new();
    g->scope = "";
    if (parent_node) {
        g->parent = parent_node->graph;
        g->parent_node = parent_node;
        g->attr_name = attr_name;
        g->depth = g->parent->depth + 1;
        g->scope = qs_arena_printf(b->arena, "%s%s/%s/", g->parent->scope, parent_node->label,
                                   attr_name);
    }
    qs_ptrvec_push(&b->graphs, g);
    return g;
}

/* Per node, in order: attribute tensors, inputs, then subgraphs. */
static enum qs_status
graph_walk_nodes(struct graph_ctx *ctx)
{
    for (size_t i = 0; i < ctx->g->n_nodes; i++) {
        struct qs_node *node = &ctx->g->nodes[i];

        node_attr_tensors(ctx, node);
        if (node_inputs(ctx, node) != QS_OK || node_subgraphs(ctx, node) != QS_OK)
            return QS_INVALID;
    }
    return QS_OK;
}

static enum qs_status
graph_build(struct qs_model_build *b, const Onnx__GraphProto *proto, struct qs_node *parent_node,
            const char *attr_name, struct qs_graph **out)
{
    struct graph_ctx ctx = { .b = b, .proto = proto };
    enum qs_status status;

    ctx.g = graph_new(b, proto, parent_node, attr_name);
    *out = ctx.g;
    if (ctx.g->depth > QS_MAX_GRAPH_DEPTH)
        return graph_fail(&ctx, "subgraphs nested deeper than %d levels",
                          QS_MAX_GRAPH_DEPTH);

    status = graph_inputs(&ctx);
    if (status == QS_OK)
        status = graph_initializers(&ctx);
    if (status == QS_OK)
        status = graph_nodes(&ctx);
    if (status == QS_OK) {
        graph_declared_types(&ctx);
        status = graph_walk_nodes(&ctx);
    }
    if (status == QS_OK)
        status = graph_outputs(&ctx);

    ctx.g->n_values = ctx.values.count;
    ctx.g->values = (struct qs_value **)qs_ptrvec_to_arena(&ctx.values, b->arena);
    ctx.g->n_initializers = ctx.initializers.count;
    ctx.g->initializers = (struct qs_tensor **)qs_ptrvec_to_arena(&ctx.initializers, b->arena);
    qs_ptrvec_done(&ctx.values);
    qs_ptrvec_done(&ctx.initializers);
    return status;
}

enum qs_status
qs_build_graphs(struct qs_model_build *b, const Onnx__GraphProto *main)
{
    struct qs_graph *g;
    enum qs_status status = graph_build(b, main, NULL, NULL, &g);

    b->model->graph = g;
    return status;
}

void
qs_build_consumers(struct qs_model_build *b)
{
    for (size_t i = 0; i < b->n_uses; i++)
        b->uses[i].value->n_consumers++;
    for (size_t i = 0; i < b->n_uses; i++) {
        struct qs_value *v = b->uses[i].value;

        if (!v->consumers) {
            v->consumers = qs_arena_calloc(b->arena, v->n_consumers, sizeof(*v->consumers));
            v->n_consumers = 0;
        }
        v->consumers[v->n_consumers++] = b->uses[i].node;
    }
}
