/*
 * In-memory ONNX model builder for tests.
 */
#include "config.h"
#include "model_builder.h"

#include <stdlib.h>
#include <string.h>

#include "status.h"

void
mb_init(struct model_builder *mb, int64_t opset)
{
    memset(mb, 0, sizeof(*mb));
    qs_arena_init(&mb->arena);
    mb->opset = opset;
}

void
mb_done(struct model_builder *mb)
{
    free(mb->packed);
    qs_arena_done(&mb->arena);
    memset(mb, 0, sizeof(*mb));
}

Onnx__TensorProto *
mb_tensor(struct model_builder *mb, const char *name, int dtype, int rank, const int64_t *dims,
          const void *raw, size_t raw_bytes)
{
    Onnx__TensorProto *t = qs_arena_calloc(&mb->arena, 1, sizeof(*t));

    onnx__tensor_proto__init(t);
    t->name = qs_arena_strdup(&mb->arena, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = qs_arena_calloc(&mb->arena, (size_t)rank + 1, sizeof(int64_t));
    memcpy(t->dims, dims, (size_t)rank * sizeof(int64_t));
    t->has_raw_data = 1;
    t->raw_data.len = raw_bytes;
    t->raw_data.data = qs_arena_alloc(&mb->arena, raw_bytes + 1);
    memcpy(t->raw_data.data, raw, raw_bytes);
    return t;
}

Onnx__TensorProto *
mb_init_raw(struct model_builder *mb, const char *name, int dtype, int rank, const int64_t *dims,
            const void *raw, size_t raw_bytes)
{
    Onnx__TensorProto *t = mb_tensor(mb, name, dtype, rank, dims, raw, raw_bytes);

    if (mb->n_inits == MB_MAX)
        abort();
    mb->inits[mb->n_inits++] = t;
    return t;
}

Onnx__TensorProto *
mb_init_f32(struct model_builder *mb, const char *name, int rank, const int64_t *dims,
            const float *values)
{
    size_t count = 1;

    for (int i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    return mb_init_raw(mb, name, QS_DT_FLOAT, rank, dims, values, count * sizeof(float));
}

/* Split "list" at commas into arena strings; returns the count. */
static size_t
split_names(struct model_builder *mb, const char *list, char ***out)
{
    size_t n = *list ? 1 : 0;
    char **names;
    size_t i = 0;

    for (const char *p = list; *p; p++)
        n += *p == ',';
    names = qs_arena_calloc(&mb->arena, n + 1, sizeof(char *));
    while (i < n) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);

        names[i++] = qs_arena_strndup(&mb->arena, list, len);
        list += len + (end ? 1 : 0);
    }
    *out = names;
    return n;
}

Onnx__NodeProto *
mb_node(struct model_builder *mb, const char *op, const char *name, const char *inputs,
        const char *outputs)
{
    Onnx__NodeProto *node = qs_arena_calloc(&mb->arena, 1, sizeof(*node));

    onnx__node_proto__init(node);
    node->op_type = qs_arena_strdup(&mb->arena, op);
    node->name = qs_arena_strdup(&mb->arena, name ? name : "");
    node->n_input = split_names(mb, inputs, &node->input);
    node->n_output = split_names(mb, outputs, &node->output);
    node->attribute = qs_arena_calloc(&mb->arena, 16, sizeof(Onnx__AttributeProto *));
    if (mb->n_nodes == MB_MAX)
        abort();
    mb->nodes[mb->n_nodes++] = node;
    return node;
}

void
mb_node_domain(struct model_builder *mb, Onnx__NodeProto *node, const char *domain)
{
    node->domain = qs_arena_strdup(&mb->arena, domain);
    if (strcmp(domain, "com.microsoft") == 0 && mb->ms_opset == 0)
        mb->ms_opset = 1;
}

static Onnx__AttributeProto *
new_attr(struct model_builder *mb, Onnx__NodeProto *node, const char *name,
         Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *attr = qs_arena_calloc(&mb->arena, 1, sizeof(*attr));

    onnx__attribute_proto__init(attr);
    attr->name = qs_arena_strdup(&mb->arena, name);
    attr->has_type = 1;
    attr->type = type;
    if (node->n_attribute == 16)
        abort();
    node->attribute[node->n_attribute++] = attr;
    return attr;
}

void
mb_attr_int(struct model_builder *mb, Onnx__NodeProto *node, const char *name, int64_t value)
{
    Onnx__AttributeProto *attr = new_attr(mb, node, name,
                                          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

    attr->has_i = 1;
    attr->i = value;
}

void
mb_attr_float(struct model_builder *mb, Onnx__NodeProto *node, const char *name, float value)
{
    Onnx__AttributeProto *attr = new_attr(mb, node, name,
                                          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

    attr->has_f = 1;
    attr->f = value;
}

void
mb_attr_ints(struct model_builder *mb, Onnx__NodeProto *node, const char *name, size_t n,
             const int64_t *values)
{
    Onnx__AttributeProto *attr = new_attr(mb, node, name,
                                          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

    attr->n_ints = n;
    attr->ints = qs_arena_calloc(&mb->arena, n + 1, sizeof(int64_t));
    memcpy(attr->ints, values, n * sizeof(int64_t));
}

void
mb_attr_tensor(struct model_builder *mb, Onnx__NodeProto *node, const char *name,
               Onnx__TensorProto *tensor)
{
    Onnx__AttributeProto *attr = new_attr(mb, node, name,
                                          ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);

    attr->t = tensor;
}

static Onnx__ValueInfoProto *
value_info(struct model_builder *mb, const char *name)
{
    Onnx__ValueInfoProto *info = qs_arena_calloc(&mb->arena, 1, sizeof(*info));
    Onnx__TypeProto *type = qs_arena_calloc(&mb->arena, 1, sizeof(*type));
    Onnx__TypeProto__Tensor *tensor = qs_arena_calloc(&mb->arena, 1, sizeof(*tensor));

    onnx__value_info_proto__init(info);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1;
    tensor->elem_type = QS_DT_FLOAT;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    info->name = qs_arena_strdup(&mb->arena, name);
    info->type = type;
    return info;
}

void
mb_input(struct model_builder *mb, const char *name)
{
    mb->inputs[mb->n_inputs++] = value_info(mb, name);
}

void
mb_output(struct model_builder *mb, const char *name)
{
    mb->outputs[mb->n_outputs++] = value_info(mb, name);
}

enum qs_status
mb_load(struct model_builder *mb, const struct qs_load_options *opts, struct qs_diag *diag,
        struct qs_model **out)
{
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opsets[2] = {
        ONNX__OPERATOR_SET_ID_PROTO__INIT, ONNX__OPERATOR_SET_ID_PROTO__INIT
    };
    Onnx__OperatorSetIdProto *opset_list[2] = { &opsets[0], &opsets[1] };
    size_t size;

    opsets[0].domain = "";
    opsets[0].has_version = 1;
    opsets[0].version = mb->opset;
    opsets[1].domain = "com.microsoft";
    opsets[1].has_version = 1;
    opsets[1].version = mb->ms_opset;
    graph.name = "test";
    graph.n_node = mb->n_nodes;
    graph.node = mb->nodes;
    graph.n_initializer = mb->n_inits;
    graph.initializer = mb->inits;
    graph.n_input = mb->n_inputs;
    graph.input = mb->inputs;
    graph.n_output = mb->n_outputs;
    graph.output = mb->outputs;
    model.has_ir_version = 1;
    model.ir_version = 10;
    model.n_opset_import = mb->ms_opset ? 2 : 1;
    model.opset_import = opset_list;
    model.graph = &graph;

    size = onnx__model_proto__get_packed_size(&model);
    free(mb->packed);
    mb->packed = qs_malloc(size + 1);
    onnx__model_proto__pack(&model, mb->packed);
    return qs_model_load_memory(mb->packed, size, "test.onnx", NULL, opts, diag, out);
}
