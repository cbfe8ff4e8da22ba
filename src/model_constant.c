/*
 * The value of a Constant node as a tensor.  The "value" and
 * "sparse_value" attributes contain tensors.  value_float(s), value_int(s)
 * and value_string(s) become tensors that point at the attribute's own
 * arrays.
 */
#include "config.h"
#include "model_build.h"

#include <string.h>

static const char *const constant_attrs[] = {
    "value", "sparse_value", "value_float", "value_floats",
    "value_int", "value_ints", "value_string", "value_strings"
};

#define N_CONSTANT_ATTRS (sizeof(constant_attrs) / sizeof(constant_attrs[0]))

/* Index in constant_attrs of the value attribute, -1 for none, -2 for several. */
static int
constant_find(const struct qs_node *node, size_t *attr_index)
{
    int found = -1;

    for (size_t i = 0; i < node->n_attrs; i++) {
        const char *name = node->attrs[i]->name ? node->attrs[i]->name : "";

        for (size_t k = 0; k < N_CONSTANT_ATTRS; k++) {
            if (strcmp(name, constant_attrs[k]) != 0)
                continue;
            if (found >= 0)
                return -2;
            found = (int)k;
            *attr_index = i;
        }
    }
    return found;
}

/* A tensor over an attribute's scalar or array: rank 0 when "vector" is 0. */
static struct qs_tensor *
constant_from_array(struct qs_model_build *b, const char *name, int dtype, int vector,
                    size_t n, const void *data, const struct qs_tensor_site *site)
{
    struct qs_tensor *t = qs_arena_calloc(b->arena, 1, sizeof(*t));
    int64_t *dims = qs_arena_calloc(b->arena, 1, sizeof(*dims));

    dims[0] = (int64_t)n;
    t->name = name;
    t->dtype = dtype;
    t->origin = QS_ORIGIN_CONSTANT_NODE;
    t->graph = site->graph;
    t->node = site->node;
    t->rank = vector ? 1 : 0;
    t->dims = dims;
    t->count = n;
    if (n > 0) {
        t->storage = dtype == QS_DT_STRING ? QS_STORE_STRING : QS_STORE_PACKED;
        t->data = data;
        t->nbytes = dtype == QS_DT_STRING ? n : n * (size_t)(qs_dtype_bits(dtype) / 8);
    }
    qs_tensor_register(b, t, QS_OK, site);
    return t;
}

static struct qs_tensor *
constant_fault(struct qs_model_build *b, const char *name, const struct qs_tensor_site *site,
               const char *fault)
{
    struct qs_tensor *t = qs_arena_calloc(b->arena, 1, sizeof(*t));

    t->name = name;
    t->origin = QS_ORIGIN_CONSTANT_NODE;
    t->graph = site->graph;
    t->node = site->node;
    qs_tensor_register(b, t, qs_tensor_fault(b, t, QS_INVALID, "%s", fault), site);
    return t;
}

struct qs_tensor *
qs_build_constant(struct qs_model_build *b, struct qs_node *node,
                  const struct qs_tensor_site *node_site)
{
    struct qs_tensor_site site = *node_site;
    const char *name = node->n_outputs > 0 && node->outputs[0] ? node->outputs[0]->name : "";
    size_t index = 0;
    int kind = constant_find(node, &index);
    const Onnx__AttributeProto *attr;

    if (kind == -1)
        return constant_fault(b, name, &site, "Constant node has no value attribute");
    if (kind == -2)
        return constant_fault(b, name, &site, "Constant node has more than one value attribute");

    attr = node->attrs[index];
    site.attr = constant_attrs[kind];
    switch (kind) {
    case 0:
        if (!attr->t)
            return constant_fault(b, name, &site, "attribute 'value' holds no tensor");
        node->attr_tensors[index] = qs_build_tensor(b, attr->t, name, QS_ORIGIN_CONSTANT_NODE,
                                                    &site);
        return node->attr_tensors[index];
    case 1:
        if (!attr->sparse_tensor)
            return constant_fault(b, name, &site, "attribute 'sparse_value' holds no tensor");
        node->attr_tensors[index] = qs_build_sparse(b, attr->sparse_tensor, name,
                                                    QS_ORIGIN_CONSTANT_NODE, &site);
        return node->attr_tensors[index];
    case 2:
        return constant_from_array(b, name, QS_DT_FLOAT, 0, 1, &attr->f, &site);
    case 3:
        return constant_from_array(b, name, QS_DT_FLOAT, 1, attr->n_floats, attr->floats, &site);
    case 4:
        return constant_from_array(b, name, QS_DT_INT64, 0, 1, &attr->i, &site);
    case 5:
        return constant_from_array(b, name, QS_DT_INT64, 1, attr->n_ints, attr->ints, &site);
    case 6:
        return constant_from_array(b, name, QS_DT_STRING, 0, 1, &attr->s, &site);
    default:
        return constant_from_array(b, name, QS_DT_STRING, 1, attr->n_strings, attr->strings,
                                   &site);
    }
}
