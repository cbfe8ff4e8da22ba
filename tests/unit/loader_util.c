/*
 * Helpers for the loader tests (see loader_util.h).
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "loader_util.h"

const char *
lt_testdata(void)
{
    const char *dir = getenv("QSCOPE_TESTDATA");
    struct stat st;

    if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return dir;
}

char *
lt_testdata_path(const char *rel)
{
    const char *dir = lt_testdata();

    return dir ? qs_asprintf("%s/%s", dir, rel) : NULL;
}

int
lt_skip_without_testdata(void)
{
    if (lt_testdata())
        return 0;
    printf("1..0 # SKIP QSCOPE_TESTDATA is not set or not a folder\n");
    return 1;
}

int
lt_diag_has(const struct qs_diag *diag, const char *a, const char *b, const char *c)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++) {
        const char *line = diag->lines[i];

        if ((!a || strstr(line, a)) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
            return 1;
    }
    return 0;
}

void
lt_diag_show(const struct qs_diag *diag)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++)
        print_message("diag: %s\n", diag->lines[i]);
}

struct qs_tensor *
lt_find_tensor(const struct qs_model *model, const char *key)
{
    for (size_t i = 0; i < model->n_tensors; i++) {
        struct qs_tensor *t = model->tensors[i];
        size_t scope_len = strlen(t->graph->scope);

        if (strncmp(key, t->graph->scope, scope_len) == 0 && strcmp(key + scope_len, t->name) == 0)
            return t;
    }
    return NULL;
}

struct qs_node *
lt_find_node(const struct qs_graph *graph, const char *op_type)
{
    for (size_t i = 0; i < graph->n_nodes; i++) {
        if (strcmp(graph->nodes[i].op_type, op_type) == 0)
            return &graph->nodes[i];
    }
    return NULL;
}

float *
lt_read_all(const struct qs_tensor *t)
{
    float *values = qs_calloc(t->count ? (size_t)t->count : 1, sizeof(*values));

    assert_int_equal(qs_tensor_read_f32(t, 0, (size_t)t->count, values), QS_OK);
    return values;
}

void
lt_assert_close(double actual, double expected)
{
    double tolerance = fabs(expected) * 1e-6 + 1e-44;

    if (fabs(actual - expected) > tolerance)
        fail_msg("got %.9g, expected %.9g", actual, expected);
}

void
lt_check_channel_minmax(const struct qs_tensor *t, int axis, const json_t *stats)
{
    const json_t *mins = json_object_get(stats, "min");
    const json_t *maxs = json_object_get(stats, "max");
    size_t channels = (size_t)t->dims[axis];
    size_t inner = 1;
    float *values = lt_read_all(t);
    double *lo = qs_calloc(channels, sizeof(*lo));
    double *hi = qs_calloc(channels, sizeof(*hi));

    assert_int_equal(json_array_size(mins), channels);
    assert_int_equal(json_array_size(maxs), channels);
    for (int d = axis + 1; d < t->rank; d++)
        inner *= (size_t)t->dims[d];
    for (size_t c = 0; c < channels; c++) {
        lo[c] = INFINITY;
        hi[c] = -INFINITY;
    }
    for (size_t i = 0; i < t->count; i++) {
        size_t c = (i / inner) % channels;

        lo[c] = fmin(lo[c], values[i]);
        hi[c] = fmax(hi[c], values[i]);
    }
    for (size_t c = 0; c < channels; c++) {
        lt_assert_close(lo[c], json_number_value(json_array_get(mins, c)));
        lt_assert_close(hi[c], json_number_value(json_array_get(maxs, c)));
    }
    free(values);
    free(lo);
    free(hi);
}

json_t *
lt_case_json(const char *name)
{
    char *path = qs_asprintf("%s/cases/%s/case.json", lt_testdata(), name);
    json_error_t error;
    json_t *doc = json_load_file(path, 0, &error);

    if (!doc)
        fail_msg("%s: %s", path, error.text);
    free(path);
    return doc;
}

enum qs_status
lt_load_case(const char *name, const char *file, int keep_going, struct qs_diag *diag,
             struct qs_model **out)
{
    char *path = qs_asprintf("%s/cases/%s/%s", lt_testdata(), name, file);
    struct qs_load_options opts = { .keep_going = keep_going };
    enum qs_status status = qs_model_load(path, &opts, diag, out);

    free(path);
    return status;
}

/* --- Synthetic models ------------------------------------------------------- */

/* Append "item" to a protobuf-c repeated field of pointers, in the arena. */
static void *
lt_append(struct qs_arena *arena, void *array, size_t *count, void *item)
{
    void **old = array;
    void **items = qs_arena_calloc(arena, *count + 1, sizeof(*items));

    if (*count)
        memcpy(items, old, *count * sizeof(*items));
    items[(*count)++] = item;
    return items;
}

Onnx__TensorProto *
lt_tensor(struct qs_arena *arena, const char *name, int dtype, size_t rank, const int64_t *dims)
{
    Onnx__TensorProto *t = qs_arena_calloc(arena, 1, sizeof(*t));

    onnx__tensor_proto__init(t);
    t->name = qs_arena_strdup(arena, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = rank;
    t->dims = qs_arena_calloc(arena, rank, sizeof(*t->dims));
    if (rank)
        memcpy(t->dims, dims, rank * sizeof(*dims));
    return t;
}

Onnx__TensorProto *
lt_tensor_f32(struct qs_arena *arena, const char *name, size_t rank, const int64_t *dims,
              const float *values)
{
    Onnx__TensorProto *t = lt_tensor(arena, name, QS_DT_FLOAT, rank, dims);
    size_t count = 1;

    for (size_t i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    t->has_raw_data = 1;
    t->raw_data.len = count * sizeof(float);
    t->raw_data.data = qs_arena_alloc(arena, t->raw_data.len);
    memcpy(t->raw_data.data, values, t->raw_data.len);
    return t;
}

/* Split "a,b,,c" into a string array in the arena; "" gives none. */
static char **
lt_split(struct qs_arena *arena, const char *list, size_t *count)
{
    char **items = NULL;
    const char *p = list;

    *count = 0;
    if (!*list)
        return NULL;
    for (;;) {
        size_t len = strcspn(p, ",");

        items = lt_append(arena, items, count, qs_arena_strndup(arena, p, len));
        if (!p[len])
            return items;
        p += len + 1;
    }
}

Onnx__NodeProto *
lt_node(struct qs_arena *arena, const char *op_type, const char *name, const char *inputs,
        const char *outputs)
{
    Onnx__NodeProto *node = qs_arena_calloc(arena, 1, sizeof(*node));

    onnx__node_proto__init(node);
    node->op_type = qs_arena_strdup(arena, op_type);
    if (name)
        node->name = qs_arena_strdup(arena, name);
    node->input = lt_split(arena, inputs, &node->n_input);
    node->output = lt_split(arena, outputs, &node->n_output);
    return node;
}

Onnx__AttributeProto *
lt_attr(struct qs_arena *arena, Onnx__NodeProto *node, const char *name,
        Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *attr = qs_arena_calloc(arena, 1, sizeof(*attr));

    onnx__attribute_proto__init(attr);
    attr->name = qs_arena_strdup(arena, name);
    attr->has_type = 1;
    attr->type = type;
    attr->has_f = type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    attr->has_i = type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    attr->has_s = type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    node->attribute = lt_append(arena, node->attribute, &node->n_attribute, attr);
    return attr;
}

Onnx__ValueInfoProto *
lt_value_info(struct qs_arena *arena, const char *name, int elem)
{
    Onnx__ValueInfoProto *info = qs_arena_calloc(arena, 1, sizeof(*info));
    Onnx__TypeProto *type = qs_arena_calloc(arena, 1, sizeof(*type));
    Onnx__TypeProto__Tensor *tensor = qs_arena_calloc(arena, 1, sizeof(*tensor));

    onnx__value_info_proto__init(info);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1;
    tensor->elem_type = elem;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    info->name = qs_arena_strdup(arena, name);
    info->type = type;
    return info;
}

Onnx__GraphProto *
lt_graph(struct qs_arena *arena, const char *name)
{
    Onnx__GraphProto *graph = qs_arena_calloc(arena, 1, sizeof(*graph));

    onnx__graph_proto__init(graph);
    graph->name = qs_arena_strdup(arena, name);
    return graph;
}

void
lt_graph_node(struct qs_arena *arena, Onnx__GraphProto *graph, Onnx__NodeProto *node)
{
    graph->node = lt_append(arena, graph->node, &graph->n_node, node);
}

void
lt_graph_initializer(struct qs_arena *arena, Onnx__GraphProto *graph, Onnx__TensorProto *t)
{
    graph->initializer = lt_append(arena, graph->initializer, &graph->n_initializer, t);
}

void
lt_graph_input(struct qs_arena *arena, Onnx__GraphProto *graph, const char *name, int elem)
{
    graph->input = lt_append(arena, graph->input, &graph->n_input,
                             lt_value_info(arena, name, elem));
}

void
lt_graph_output(struct qs_arena *arena, Onnx__GraphProto *graph, const char *name, int elem)
{
    graph->output = lt_append(arena, graph->output, &graph->n_output,
                              lt_value_info(arena, name, elem));
}

Onnx__ModelProto *
lt_model(struct qs_arena *arena, Onnx__GraphProto *graph)
{
    Onnx__ModelProto *model = qs_arena_calloc(arena, 1, sizeof(*model));
    Onnx__OperatorSetIdProto *opset = qs_arena_calloc(arena, 1, sizeof(*opset));

    onnx__model_proto__init(model);
    onnx__operator_set_id_proto__init(opset);
    opset->domain = qs_arena_strdup(arena, "");
    opset->has_version = 1;
    opset->version = 17;
    model->has_ir_version = 1;
    model->ir_version = 8;
    model->opset_import = lt_append(arena, model->opset_import, &model->n_opset_import, opset);
    model->graph = graph;
    return model;
}

uint8_t *
lt_pack(const Onnx__ModelProto *model, size_t *len)
{
    size_t size = onnx__model_proto__get_packed_size(model);
    uint8_t *data = qs_malloc(size);

    *len = onnx__model_proto__pack(model, data);
    assert_int_equal(*len, size);
    return data;
}

static Onnx__StringStringEntryProto *
lt_entry(struct qs_arena *arena, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *entry = qs_arena_calloc(arena, 1, sizeof(*entry));

    onnx__string_string_entry_proto__init(entry);
    entry->key = qs_arena_strdup(arena, key);
    entry->value = qs_arena_strdup(arena, value);
    return entry;
}

void
lt_external(struct qs_arena *arena, Onnx__TensorProto *t, const char *location,
            const char *offset, const char *length)
{
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = lt_append(arena, t->external_data, &t->n_external_data,
                                 lt_entry(arena, "location", location));
    if (offset)
        t->external_data = lt_append(arena, t->external_data, &t->n_external_data,
                                     lt_entry(arena, "offset", offset));
    if (length)
        t->external_data = lt_append(arena, t->external_data, &t->n_external_data,
                                     lt_entry(arena, "length", length));
}

/* --- Raw protobuf bytes ----------------------------------------------------- */

static void
lt_reserve(struct lt_bytes *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    while (b->len + more > b->cap)
        b->cap = b->cap ? b->cap * 2 : 64;
    b->data = qs_realloc(b->data, b->cap);
}

void
lt_put_varint(struct lt_bytes *b, uint64_t value)
{
    lt_reserve(b, 10);
    while (value >= 0x80) {
        b->data[b->len++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    b->data[b->len++] = (uint8_t)value;
}

void
lt_put_tag(struct lt_bytes *b, uint32_t field, int wire_type)
{
    lt_put_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type);
}

void
lt_put_field(struct lt_bytes *b, uint32_t field, const void *data, size_t len)
{
    lt_put_tag(b, field, 2);
    lt_put_varint(b, len);
    lt_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

void
lt_bytes_free(struct lt_bytes *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
