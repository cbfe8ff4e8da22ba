/*
 * Lookups on a loaded model: attributes of a node, opset versions, names
 * in a graph's scope.
 */
#include "config.h"
#include "model_build.h"

#include <stdio.h>
#include <string.h>

const Onnx__AttributeProto *
qs_node_attr(const struct qs_node *node, const char *name)
{
    for (size_t i = 0; i < node->n_attrs; i++) {
        if (node->attrs[i]->name && strcmp(node->attrs[i]->name, name) == 0)
            return node->attrs[i];
    }
    return NULL;
}

/*
 * True when "attr" contains a value of "type".  Files from before IR
 * version 2 may leave the type unset, so then the field that is present
 * decides.
 */
static int
attr_is(const Onnx__AttributeProto *attr, Onnx__AttributeProto__AttributeType type, int present)
{
    if (!attr)
        return 0;
    if (attr->has_type && attr->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return attr->type == type;
    return present;
}

int64_t
qs_node_attr_int(const struct qs_node *node, const char *name, int64_t fallback)
{
    const Onnx__AttributeProto *attr = qs_node_attr(node, name);

    return attr_is(attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, attr && attr->has_i)
        ? attr->i : fallback;
}

float
qs_node_attr_float(const struct qs_node *node, const char *name, float fallback)
{
    const Onnx__AttributeProto *attr = qs_node_attr(node, name);

    return attr_is(attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, attr && attr->has_f)
        ? attr->f : fallback;
}

const char *
qs_node_attr_string(const struct qs_node *node, const char *name, const char *fallback,
                    size_t *len)
{
    const Onnx__AttributeProto *attr = qs_node_attr(node, name);

    if (!attr_is(attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, attr && attr->has_s)) {
        if (len)
            *len = fallback ? strlen(fallback) : 0;
        return fallback;
    }
    if (len)
        *len = attr->s.len;
    return attr->s.data ? (const char *)attr->s.data : "";
}

ptrdiff_t
qs_node_attr_ints(const struct qs_node *node, const char *name, const int64_t **values)
{
    const Onnx__AttributeProto *attr = qs_node_attr(node, name);

    if (!attr_is(attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, attr && attr->n_ints > 0))
        return -1;
    *values = attr->ints;
    return (ptrdiff_t)attr->n_ints;
}

ptrdiff_t
qs_node_attr_floats(const struct qs_node *node, const char *name, const float **values)
{
    const Onnx__AttributeProto *attr = qs_node_attr(node, name);

    if (!attr_is(attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, attr && attr->n_floats > 0))
        return -1;
    *values = attr->floats;
    return (ptrdiff_t)attr->n_floats;
}

struct qs_tensor *
qs_node_attr_tensor(const struct qs_node *node, const char *name)
{
    for (size_t i = 0; i < node->n_attrs; i++) {
        if (node->attrs[i]->name && strcmp(node->attrs[i]->name, name) == 0)
            return node->attr_tensors[i];
    }
    return NULL;
}

const char *
qs_node_qualified_op(const struct qs_node *node, char *buf, size_t size)
{
    if (*node->domain)
        snprintf(buf, size, "%s.%s", node->domain, node->op_type);
    else
        snprintf(buf, size, "%s", node->op_type);
    return buf;
}

int64_t
qs_model_opset(const struct qs_model *model, const char *domain)
{
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (size_t i = 0; i < model->n_opsets; i++) {
        if (strcmp(model->opsets[i].domain, domain) == 0)
            return model->opsets[i].version;
    }
    return -1;
}

struct qs_value *
qs_graph_lookup(const struct qs_graph *graph, const char *name)
{
    for (const struct qs_graph *g = graph; g; g = g->parent) {
        struct qs_value *v = qs_strmap_get(g->value_map, name);

        if (v)
            return v;
    }
    return NULL;
}
