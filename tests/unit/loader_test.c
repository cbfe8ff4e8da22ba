/*
 * Loader tests on synthetic models built here: hostile wire formats
 * (truncation at every byte, deep nesting, groups, bad types), a large
 * graph, tensor storage variants, sparse and Constant tensors, external
 * data in a scratch folder, scopes, attribute helpers, and names and sites
 * as messages show them.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader_util.h"

/* Load packed bytes with a fresh diag; the caller frees model and diag. */
static enum qs_status
load_bytes(const uint8_t *data, size_t len, int keep_going, struct qs_diag *diag,
           struct qs_model **model)
{
    struct qs_load_options opts = { .keep_going = keep_going };

    qs_diag_init(diag);
    return qs_model_load_memory(data, len, "test.onnx", NULL, &opts, diag, model);
}

/* Pack "proto" and load it; the packed bytes stay alive in "*bytes". */
static enum qs_status
load_proto(const Onnx__ModelProto *proto, int keep_going, struct qs_diag *diag,
           struct qs_model **model, uint8_t **bytes)
{
    size_t len;

    *bytes = lt_pack(proto, &len);
    return load_bytes(*bytes, len, keep_going, diag, model);
}

static const int64_t dims_2x2[] = { 2, 2 };
static const int64_t dims_4[] = { 4 };
static const float values_2x2[] = { 1.5f, -2.0f, 0.25f, 8.0f };

/* x -> MatMul(W) -> Relu -> y, plus a Constant; no ir_version or opsets. */
static Onnx__ModelProto *
small_model(struct qs_arena *arena)
{
    Onnx__GraphProto *g = lt_graph(arena, "small");
    Onnx__NodeProto *mm = lt_node(arena, "MatMul", "mm", "x,W", "h");
    Onnx__NodeProto *c = lt_node(arena, "Constant", "c", "", "k");
    Onnx__AttributeProto *attr = lt_attr(arena, c, "value",
                                         ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    Onnx__ModelProto *model;

    attr->t = lt_tensor_f32(arena, "", 1, dims_4, values_2x2);
    lt_attr(arena, mm, "note", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)->i = 7;
    lt_graph_input(arena, g, "x", QS_DT_FLOAT);
    lt_graph_initializer(arena, g, lt_tensor_f32(arena, "W", 2, dims_2x2, values_2x2));
    lt_graph_node(arena, g, mm);
    lt_graph_node(arena, g, c);
    lt_graph_node(arena, g, lt_node(arena, "Relu", "", "h", "y"));
    lt_graph_output(arena, g, "y", QS_DT_FLOAT);
    model = lt_model(arena, g);
    model->has_ir_version = 0;
    model->n_opset_import = 0;
    return model;
}

static void
truncated_at_every_byte(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    uint8_t *bytes;
    size_t len;

    (void)state;
    qs_arena_init(&arena);
    bytes = lt_pack(small_model(&arena), &len);
    assert_int_equal(load_bytes(bytes, len, 0, &diag, &model), QS_OK);
    qs_model_free(model);
    qs_diag_done(&diag);

    /* Only the graph field is present, so every proper prefix cuts it. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *prefix = qs_malloc(cut);

        memcpy(prefix, bytes, cut);
        assert_int_equal(load_bytes(prefix, cut, 0, &diag, &model), QS_INVALID);
        assert_null(model);
        assert_int_equal(diag.count, 1);
        if (cut == 0)
            assert_true(lt_diag_has(&diag, "file is empty", NULL, NULL));
        else if (!lt_diag_has(&diag, "truncated at byte", NULL, NULL))
            fail_msg("cut at %zu: %s", cut, diag.lines[0]);
        qs_diag_done(&diag);
        free(prefix);
    }
    free(bytes);
    qs_arena_done(&arena);
}

static void
truncated_names_innermost_field(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    uint8_t *bytes;
    size_t len;
    const uint8_t *raw;

    (void)state;
    qs_arena_init(&arena);
    bytes = lt_pack(small_model(&arena), &len);

    /* Cut two bytes into the first raw_data containing values_2x2: the Constant's, as nodes
     * come before initializers in the packed graph. */
    raw = memmem(bytes, len, values_2x2, sizeof(values_2x2));
    assert_non_null(raw);
    assert_int_equal(load_bytes(bytes, (size_t)(raw - bytes) + 2, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "field TensorProto.raw_data declares 16 bytes, 2 remain",
                            "in ModelProto.graph > GraphProto.node > NodeProto.attribute > "
                            "AttributeProto.t)", NULL));
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* A model whose graph nests "levels" Loop bodies; the innermost graph is empty. */
static uint8_t *
nested_model(int levels, size_t *len)
{
    struct lt_bytes graph = { 0 };
    struct lt_bytes model = { 0 };

    for (int i = 0; i < levels; i++) {
        struct lt_bytes attr = { 0 };
        struct lt_bytes node = { 0 };

        lt_put_field(&attr, 1, "body", 4);
        lt_put_tag(&attr, 20, 0);
        lt_put_varint(&attr, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
        lt_put_field(&attr, 6, graph.data, graph.len);
        lt_put_field(&node, 3, "n", 1);
        lt_put_field(&node, 4, "Loop", 4);
        lt_put_field(&node, 5, attr.data, attr.len);
        lt_bytes_free(&graph);
        lt_put_field(&graph, 1, node.data, node.len);
        lt_bytes_free(&attr);
        lt_bytes_free(&node);
    }
    lt_put_field(&model, 7, graph.data, graph.len);
    lt_bytes_free(&graph);
    *len = model.len;
    return model.data;
}

static void
deep_nesting_rejected(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    uint8_t *bytes;
    size_t len;

    (void)state;
    bytes = nested_model(5000, &len);
    assert_int_equal(load_bytes(bytes, len, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "messages nested deeper than 100 levels", NULL, NULL));
    qs_diag_done(&diag);
    free(bytes);

    /* 33 levels pass the wire check (graph 33 is message 100) but not the graph limit. */
    bytes = nested_model(QS_MAX_GRAPH_DEPTH + 1, &len);
    assert_int_equal(load_bytes(bytes, len, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "subgraphs nested deeper than 32 levels", NULL, NULL));
    qs_diag_done(&diag);
    free(bytes);

    bytes = nested_model(QS_MAX_GRAPH_DEPTH, &len);
    assert_int_equal(load_bytes(bytes, len, 0, &diag, &model), QS_OK);
    assert_int_equal(model->n_graphs, QS_MAX_GRAPH_DEPTH + 1);
    assert_int_equal(model->graphs[QS_MAX_GRAPH_DEPTH]->depth, QS_MAX_GRAPH_DEPTH);
    assert_string_equal(model->graphs[2]->scope, "n/body/n/body/");
    assert_ptr_equal(model->graphs[2]->parent, model->graphs[1]);
    assert_string_equal(model->graphs[2]->attr_name, "body");
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
}

static void
large_graph_loads(void **state)
{
    const size_t n = 100000;
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    uint8_t *bytes;
    char in[32];
    char out[32];

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "chain");
    lt_graph_input(&arena, g, "v0", QS_DT_FLOAT);
    g->node = qs_arena_calloc(&arena, n, sizeof(*g->node));
    for (size_t i = 0; i < n; i++) {
        snprintf(in, sizeof(in), "v%zu", i);
        snprintf(out, sizeof(out), "v%zu", i + 1);
        g->node[i] = lt_node(&arena, "Relu", NULL, in, out);
    }
    g->n_node = n;
    snprintf(out, sizeof(out), "v%zu", n);
    lt_graph_output(&arena, g, out, QS_DT_FLOAT);

    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_OK);
    assert_int_equal(model->graph->n_nodes, n);
    assert_int_equal(model->graph->n_values, n + 1);
    for (size_t i = 0; i < n; i++) {
        const struct qs_node *node = &model->graph->nodes[i];

        assert_int_equal(node->inputs[0]->n_consumers, 1);
        assert_ptr_equal(node->inputs[0]->consumers[0], node);
        assert_ptr_equal(node->outputs[0]->producer, node);
    }
    assert_true(model->graph->outputs[0]->is_graph_output);
    assert_int_equal(model->graph->outputs[0]->n_consumers, 0);
    assert_string_equal(model->graph->nodes[n - 1].label, "#99999");
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* Load raw bytes that must fail with a message containing "a" and "c". */
static void
expect_wire_fault(const struct lt_bytes *b, const char *a, const char *c)
{
    struct qs_diag diag;
    struct qs_model *model;

    assert_int_equal(load_bytes(b->data, b->len, 0, &diag, &model), QS_INVALID);
    if (!lt_diag_has(&diag, a, c, NULL)) {
        lt_diag_show(&diag);
        fail_msg("expected '%s' and '%s'", a, c ? c : "");
    }
    qs_diag_done(&diag);
}

static void
wire_faults_named(void **state)
{
    struct lt_bytes b = { 0 };

    (void)state;
    lt_put_tag(&b, 3, 3);                       /* a group start */
    expect_wire_fault(&b, "unsupported group wire type at byte 0", "ModelProto.producer_version");
    lt_bytes_free(&b);

    lt_put_tag(&b, 7, 0);                       /* graph as a varint */
    lt_put_varint(&b, 1);
    expect_wire_fault(&b, "invalid wire type at byte 0", "field ModelProto.graph has varint");
    lt_bytes_free(&b);

    lt_put_tag(&b, 0, 0);
    lt_put_varint(&b, 1);
    expect_wire_fault(&b, "invalid field number 0 at byte 0", NULL);
    lt_bytes_free(&b);

    lt_put_tag(&b, 1, 0);                       /* ir_version varint of 11 bytes */
    for (int i = 0; i < 10; i++)
        lt_put_varint(&b, 0);
    for (size_t i = 1; i < b.len; i++)
        b.data[i] = 0x80;
    lt_put_varint(&b, 1);
    expect_wire_fault(&b, "invalid varint at byte 0", "ModelProto.ir_version");
    lt_bytes_free(&b);

    lt_put_tag(&b, 7, 2);                       /* a length near 2^64 must not wrap */
    lt_put_varint(&b, UINT64_MAX - 1);
    expect_wire_fault(&b, "truncated at byte 0: field ModelProto.graph declares "
                      "18446744073709551614 bytes, 0 remain", "file has 11 bytes");
    lt_bytes_free(&b);

    lt_put_tag(&b, 99, 7);                      /* wire type 7 does not exist */
    expect_wire_fault(&b, "invalid wire type 7", "field 99 (unknown)");
    lt_bytes_free(&b);
}

static void
wire_packed_length_checked(void **state)
{
    struct lt_bytes tensor = { 0 };
    struct lt_bytes graph = { 0 };
    struct lt_bytes model = { 0 };
    const uint8_t five[5] = { 0 };

    (void)state;
    lt_put_field(&tensor, 8, "T", 1);
    lt_put_field(&tensor, 4, five, sizeof(five));   /* float_data: 5 bytes */
    lt_put_field(&graph, 5, tensor.data, tensor.len);
    lt_put_field(&model, 7, graph.data, graph.len);
    expect_wire_fault(&model, "TensorProto.float_data has 5 bytes, not a multiple of 4", NULL);
    lt_bytes_free(&tensor);
    lt_bytes_free(&graph);
    lt_bytes_free(&model);
}

static void
unknown_fields_kept(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    struct lt_bytes b = { 0 };
    uint8_t *packed;
    size_t len;
    const ProtobufCMessageUnknownField *unknown;

    (void)state;
    qs_arena_init(&arena);
    packed = lt_pack(small_model(&arena), &len);
    lt_put_field(&b, 1000, "future", 6);
    lt_put_tag(&b, 1001, 5);                        /* a fixed32 of four zero bytes */
    b.data = qs_realloc(b.data, b.len + 4 + len);
    memset(b.data + b.len, 0, 4);
    b.len += 4;
    memcpy(b.data + b.len, packed, len);
    b.len += len;

    assert_int_equal(load_bytes(b.data, b.len, 0, &diag, &model), QS_OK);
    assert_int_equal(model->proto->base.n_unknown_fields, 2);
    unknown = &model->proto->base.unknown_fields[0];
    assert_int_equal(unknown->tag, 1000);
    assert_int_equal(unknown->wire_type, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    assert_int_equal(unknown->len, 7);              /* protobuf-c keeps the length prefix */
    assert_memory_equal(unknown->data, "\006future", 7);
    assert_non_null(lt_find_tensor(model, "W"));
    qs_model_free(model);
    qs_diag_done(&diag);
    lt_bytes_free(&b);
    free(packed);
    qs_arena_done(&arena);
}

static void
not_a_model_named(void **state)
{
    static const char text[] = "name,value\nalpha,1\nbeta,2\n";
    static const char lfs[] = "version https://git-lfs.github.com/spec/v1\n"
                              "oid sha256:0123\nsize 4096\n";
    struct qs_diag diag;
    struct qs_model *model;
    struct lt_bytes b = { 0 };

    (void)state;
    assert_int_equal(load_bytes((const uint8_t *)"", 0, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "test.onnx: file is empty (0 bytes)", NULL, NULL));
    qs_diag_done(&diag);

    assert_int_equal(load_bytes((const uint8_t *)text, strlen(text), 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "not an ONNX model: the file is text", "\"name,value\"", NULL));
    qs_diag_done(&diag);

    assert_int_equal(load_bytes((const uint8_t *)lfs, strlen(lfs), 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "Git LFS pointer", "(4096 bytes) was never downloaded", NULL));
    qs_diag_done(&diag);

    lt_put_field(&b, 2, "producer", 8);             /* a valid message without a graph */
    assert_int_equal(load_bytes(b.data, b.len, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "model has no graph", NULL, NULL));
    qs_diag_done(&diag);
    lt_bytes_free(&b);
}

static void
unknown_element_type_unsupported(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__TensorProto *t;
    uint8_t *bytes;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    t = lt_tensor_f32(&arena, "Wx", 1, dims_4, values_2x2);
    t->data_type = 30;
    lt_graph_initializer(&arena, g, t);

    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_UNSUPPORTED);
    assert_true(lt_diag_has(&diag, "tensor 'Wx': element type 30 is not supported",
                            "(graph 'g', initializer 0)", NULL));
    assert_null(model);
    qs_diag_done(&diag);
    free(bytes);

    assert_int_equal(load_proto(lt_model(&arena, g), 1, &diag, &model, &bytes), QS_OK);
    assert_int_equal(diag.warnings, 1);
    assert_non_null(model->tensors[0]->fault);
    assert_int_equal(qs_tensor_read_f32(model->tensors[0], 0, 1, (float[1]){ 0 }), QS_INVALID);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static void
undefined_input_rejected(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    uint8_t *bytes;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    lt_graph_node(&arena, g, lt_node(&arena, "Add", "add1", "x,nope", "y"));
    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_INVALID);
    assert_true(lt_diag_has(&diag, "node 'add1' reads undefined value 'nope' (input 1 of Add)",
                            "(graph 'g')", NULL));
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static void
duplicate_definitions_rejected(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    uint8_t *bytes;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_initializer(&arena, g, lt_tensor_f32(&arena, "W", 1, dims_4, values_2x2));
    lt_graph_initializer(&arena, g, lt_tensor_f32(&arena, "W", 1, dims_4, values_2x2));
    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_INVALID);
    assert_true(lt_diag_has(&diag, "initializer 'W' is defined twice", NULL, NULL));
    qs_diag_done(&diag);
    free(bytes);

    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "r", "x", "x"));
    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_INVALID);
    assert_true(lt_diag_has(&diag, "value 'x' is defined twice: as a graph input and again as "
                            "a node output", NULL, NULL));
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* Three nodes share one name: one warning, naming the first two. */
static void
duplicate_node_name_warned_once(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    uint8_t *bytes;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "same", "x", "a"));
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "same", "a", "b"));
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "same", "b", "y"));
    lt_graph_output(&arena, g, "y", QS_DT_FLOAT);
    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_OK);
    assert_int_equal(diag.count, 1);
    assert_int_equal(diag.warnings, 1);
    assert_true(lt_diag_has(&diag, "node name 'same' is used by more than one node (nodes 0 "
                            "and 1 in graph 'g')", NULL, NULL));
    assert_string_equal(model->graph->nodes[2].label, "same");
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* Nodes out of topological order are accepted, with producers and consumers set. */
static void
unsorted_nodes_indexed(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    uint8_t *bytes;
    struct qs_value *t;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "second", "t", "y"));
    lt_graph_node(&arena, g, lt_node(&arena, "Neg", "first", "x", "t"));
    lt_graph_output(&arena, g, "y", QS_DT_FLOAT);
    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_OK);
    assert_int_equal(diag.count, 0);
    t = qs_graph_lookup(model->graph, "t");
    assert_int_equal(t->kind, QS_VALUE_NODE_OUTPUT);
    assert_ptr_equal(t->producer, &model->graph->nodes[1]);
    assert_int_equal(t->n_consumers, 1);
    assert_ptr_equal(t->consumers[0], &model->graph->nodes[0]);
    assert_ptr_equal(model->graph->nodes[0].inputs[0], t);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/*
 * A NUL inside a string would cut it where protobuf-c hands it over, so
 * that the location "w.bin\0../x" would name "w.bin": refused.  A NUL in
 * a doc string is only shown and is accepted.
 */
static void
string_with_nul_rejected(void **state)
{
    static const char location[] = "weights.bin\0../../etc/passwd";
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    struct lt_bytes b = { 0 };
    struct lt_bytes entry = { 0 };
    struct lt_bytes tensor = { 0 };
    struct lt_bytes graph = { 0 };
    struct lt_bytes doc = { 0 };
    uint8_t *packed;
    uint8_t *with_doc;
    size_t len;

    (void)state;
    qs_arena_init(&arena);
    packed = lt_pack(small_model(&arena), &len);

    /* ModelProto.doc_string (field 6) with a NUL, after the rest: accepted. */
    lt_put_field(&doc, 6, "doc\0string", 10);
    with_doc = qs_malloc(len + doc.len);
    memcpy(with_doc, packed, len);
    memcpy(with_doc + len, doc.data, doc.len);
    assert_int_equal(load_bytes(with_doc, len + doc.len, 0, &diag, &model), QS_OK);
    assert_string_equal(model->doc_string, "doc");
    qs_model_free(model);
    qs_diag_done(&diag);

    /* An initializer whose external data location holds a NUL. */
    lt_put_field(&entry, 1, "location", 8);
    lt_put_field(&entry, 2, location, sizeof(location) - 1);
    lt_put_tag(&tensor, 1, 0);
    lt_put_varint(&tensor, 4);
    lt_put_tag(&tensor, 2, 0);
    lt_put_varint(&tensor, QS_DT_FLOAT);
    lt_put_field(&tensor, 8, "W", 1);
    lt_put_field(&tensor, 13, entry.data, entry.len);
    lt_put_tag(&tensor, 14, 0);
    lt_put_varint(&tensor, ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
    lt_put_field(&graph, 5, tensor.data, tensor.len);
    lt_put_field(&b, 7, graph.data, graph.len);
    assert_int_equal(load_bytes(b.data, b.len, 1, &diag, &model), QS_INVALID);
    assert_null(model);
    assert_int_equal(diag.count, 1);
    assert_true(lt_diag_has(&diag, "field StringStringEntryProto.value contains a NUL byte",
                            "TensorProto.external_data", NULL));
    qs_diag_done(&diag);

    lt_bytes_free(&b);
    lt_bytes_free(&entry);
    lt_bytes_free(&tensor);
    lt_bytes_free(&graph);
    lt_bytes_free(&doc);
    free(with_doc);
    free(packed);
    qs_arena_done(&arena);
}

/* main: If(c) with both branches reading the outer "x". */
static void
outer_scope_consumers(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__GraphProto *then_g;
    Onnx__GraphProto *else_g;
    Onnx__NodeProto *node;
    uint8_t *bytes;
    struct qs_value *x;

    (void)state;
    qs_arena_init(&arena);
    then_g = lt_graph(&arena, "then_body");
    lt_graph_node(&arena, then_g, lt_node(&arena, "Neg", "neg", "x", "t"));
    lt_graph_output(&arena, then_g, "t", QS_DT_FLOAT);
    else_g = lt_graph(&arena, "else_body");
    lt_graph_node(&arena, else_g, lt_node(&arena, "Identity", NULL, "x", "e"));
    lt_graph_output(&arena, else_g, "x", QS_DT_FLOAT);

    g = lt_graph(&arena, "main");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    lt_graph_input(&arena, g, "c", QS_DT_BOOL);
    node = lt_node(&arena, "If", NULL, "c", "y");
    lt_attr(&arena, node, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = then_g;
    lt_attr(&arena, node, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = else_g;
    lt_graph_node(&arena, g, lt_node(&arena, "Relu", "first", "x", "x1"));
    lt_graph_node(&arena, g, node);
    lt_graph_output(&arena, g, "y", QS_DT_FLOAT);

    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_OK);
    assert_int_equal(model->n_graphs, 3);
    assert_string_equal(model->graphs[1]->scope, "#1/then_branch/");
    assert_string_equal(model->graphs[2]->scope, "#1/else_branch/");
    assert_int_equal(model->graph->nodes[1].n_subgraphs, 2);
    x = qs_graph_lookup(model->graph, "x");
    assert_ptr_equal(qs_graph_lookup(model->graphs[1], "x"), x);
    assert_int_equal(x->n_consumers, 3);
    assert_ptr_equal(x->consumers[0], &model->graph->nodes[0]);
    assert_ptr_equal(x->consumers[1], &model->graphs[1]->nodes[0]);
    assert_ptr_equal(x->consumers[2], &model->graphs[2]->nodes[0]);
    assert_ptr_equal(model->graphs[2]->outputs[0], x);  /* an outer value as branch output */
    assert_false(x->is_graph_output);
    assert_true(model->graphs[1]->outputs[0]->is_graph_output);
    assert_null(qs_graph_lookup(model->graph, "t"));
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static struct qs_tensor *
output_tensor(const struct qs_model *model, const char *name)
{
    struct qs_value *v = qs_graph_lookup(model->graph, name);

    assert_non_null(v);
    assert_non_null(v->tensor);
    assert_null(v->tensor->fault);
    assert_int_equal(v->tensor->origin, QS_ORIGIN_CONSTANT_NODE);
    return v->tensor;
}

static void
constant_value_kinds(void **state)
{
    static const float floats[] = { 0.5f, -1.0f, 3.0f };
    static const int64_t ints[] = { -3, 9 };
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__NodeProto *n;
    Onnx__AttributeProto *a;
    uint8_t *bytes;
    float f[3];
    int64_t i64[2];

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    n = lt_node(&arena, "Constant", "c1", "", "cf");
    lt_attr(&arena, n, "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)->f = 2.5f;
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c2", "", "cfs");
    a = lt_attr(&arena, n, "value_floats", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = 3;
    a->floats = (float *)floats;
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c3", "", "ci");
    lt_attr(&arena, n, "value_int", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)->i = -42;
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c4", "", "cis");
    a = lt_attr(&arena, n, "value_ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = 2;
    a->ints = (int64_t *)ints;
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c5", "", "cs");
    a = lt_attr(&arena, n, "value_string", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->s.data = (uint8_t *)"hello";
    a->s.len = 5;
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c6", "", "none");
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Constant", "c7", "", "two");
    lt_attr(&arena, n, "value_int", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)->i = 1;
    lt_attr(&arena, n, "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)->f = 1.0f;
    lt_graph_node(&arena, g, n);

    /* A tensor attribute without a name, whose data length is wrong. */
    n = lt_node(&arena, "Identity", "c8", "cf", "unnamed");
    a = lt_attr(&arena, n, "", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = lt_tensor_f32(&arena, "", 1, dims_4, values_2x2);
    a->t->raw_data.len = 12;
    lt_graph_node(&arena, g, n);

    assert_int_equal(load_proto(lt_model(&arena, g), 1, &diag, &model, &bytes), QS_OK);
    assert_int_equal(output_tensor(model, "cf")->rank, 0);
    assert_int_equal(qs_tensor_read_f32(output_tensor(model, "cf"), 0, 1, f), QS_OK);
    assert_true(f[0] == 2.5f);
    assert_int_equal(output_tensor(model, "cfs")->dims[0], 3);
    assert_int_equal(qs_tensor_read_f32(output_tensor(model, "cfs"), 0, 3, f), QS_OK);
    assert_memory_equal(f, floats, sizeof(floats));
    assert_int_equal(qs_tensor_read_i64(output_tensor(model, "ci"), 0, 1, i64), QS_OK);
    assert_int_equal(i64[0], -42);
    assert_int_equal(qs_tensor_read_i64(output_tensor(model, "cis"), 0, 2, i64), QS_OK);
    assert_memory_equal(i64, ints, sizeof(ints));
    assert_int_equal(output_tensor(model, "cs")->storage, QS_STORE_STRING);
    assert_int_equal(qs_tensor_read_f32(output_tensor(model, "cs"), 0, 1, f), QS_UNSUPPORTED);
    assert_int_equal(((const ProtobufCBinaryData *)output_tensor(model, "cs")->data)->len, 5);
    assert_string_equal(qs_graph_lookup(model->graph, "cf")->tensor->name, "cf");
    assert_int_equal(qs_graph_lookup(model->graph, "cfs")->type.kind, QS_TYPE_TENSOR);
    assert_int_equal(qs_graph_lookup(model->graph, "cfs")->type.elem, QS_DT_FLOAT);
    assert_int_equal(qs_graph_lookup(model->graph, "cfs")->type.dims[0].value, 3);
    assert_true(lt_diag_has(&diag, "tensor 'none' skipped: Constant node has no value attribute",
                            "(graph 'g', node 'c6', Constant without a value attribute)", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'two' skipped: Constant node has more than one value "
                            "attribute", "(graph 'g', node 'c7', Constant with 2 value "
                            "attributes)", NULL));
    assert_true(lt_diag_has(&diag, "(graph 'g', node 'c8', attribute without a name)", NULL,
                            NULL));
    for (size_t i = 0; i < diag.count && i < QS_DIAG_MAX; i++)
        assert_null(strstr(diag.lines[i], "attribute ''"));
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static Onnx__SparseTensorProto *
sparse(struct qs_arena *arena, const char *name, const float *values, size_t nnz,
       const int64_t *indices, size_t index_rank, const int64_t *dims, size_t rank)
{
    Onnx__SparseTensorProto *sp = qs_arena_calloc(arena, 1, sizeof(*sp));
    int64_t vdims[1] = { (int64_t)nnz };
    int64_t idims[2] = { (int64_t)nnz, (int64_t)rank };
    Onnx__TensorProto *ix = lt_tensor(arena, "", QS_DT_INT64, index_rank, idims);

    onnx__sparse_tensor_proto__init(sp);
    sp->values = lt_tensor_f32(arena, name, 1, vdims, values);
    ix->n_int64_data = nnz * (index_rank == 2 ? rank : 1);
    ix->int64_data = (int64_t *)indices;
    sp->indices = ix;
    sp->n_dims = rank;
    sp->dims = (int64_t *)dims;
    return sp;
}

static void
sparse_initializers_densified(void **state)
{
    static const float vals[] = { 1.5f, -2.0f };
    static const int64_t linear[] = { 1, 10 };
    static const int64_t coords[] = { 0, 1, 2, 2 };
    static const int64_t bad[] = { 1, 12 };
    static const int64_t dims[] = { 3, 4 };
    static const int64_t huge[] = { 1 << 20, 1 << 10 };
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__SparseTensorProto *list[5];
    uint8_t *bytes;
    float *dense;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    list[0] = sparse(&arena, "S_linear", vals, 2, linear, 1, dims, 2);
    list[1] = sparse(&arena, "S_coords", vals, 2, coords, 2, dims, 2);
    list[2] = sparse(&arena, "S_bad", vals, 2, bad, 1, dims, 2);
    list[3] = sparse(&arena, "S_huge", vals, 2, linear, 1, huge, 2);
    list[4] = sparse(&arena, "S_nnz", vals, 2, linear, 1, dims, 2);
    list[4]->indices->dims[0] = 3;                  /* three indices for two values */
    list[4]->indices->n_int64_data = 3;
    list[4]->indices->int64_data = (int64_t *)coords;
    g->n_sparse_initializer = 5;
    g->sparse_initializer = list;

    assert_int_equal(load_proto(lt_model(&arena, g), 1, &diag, &model, &bytes), QS_OK);
    for (int k = 0; k < 2; k++) {
        struct qs_tensor *t = lt_find_tensor(model, k ? "S_coords" : "S_linear");

        assert_non_null(t);
        assert_null(t->fault);
        assert_int_equal(t->origin, QS_ORIGIN_SPARSE_INITIALIZER);
        assert_int_equal(t->count, 12);
        dense = lt_read_all(t);
        /* Linear positions 1 and 10 are coordinates (0,1) and (2,2) of [3,4]. */
        for (int i = 0; i < 12; i++) {
            float expected = 0.0f;

            if (i == 1)
                expected = 1.5f;
            else if (i == 10)
                expected = -2.0f;
            assert_true(dense[i] == expected);
        }
        free(dense);
    }
    assert_int_equal(model->graph->n_initializers, 5);
    assert_true(lt_diag_has(&diag, "tensor 'S_bad' skipped: sparse index 12 of value 1 is out "
                            "of range [0,12)", "sparse initializer 2", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'S_huge' skipped", "exceeds the 1 GiB limit", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'S_nnz' skipped", "sparse indices have dims [3]",
                            NULL));
    assert_int_equal(model->n_faulty_tensors, 3);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/*
 * Sparse tensors of a few bytes each may not densify to more than 1 GiB
 * together: 64 of 1 GiB each filled 64 GiB.  Two of 768 MiB: the first
 * is densified (in memory the system zeroes lazily), the second refused.
 */
static void
sparse_dense_total_limited(void **state)
{
    static const float vals[] = { 1.5f, -2.0f };
    static const int64_t linear[] = { 1, 201326591 };
    static const int64_t dims[] = { 3, 67108864 };  /* 768 MiB of floats */
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__SparseTensorProto *list[2];
    uint8_t *bytes;
    struct qs_tensor *first;
    float f[2];

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    list[0] = sparse(&arena, "S_first", vals, 2, linear, 1, dims, 2);
    list[1] = sparse(&arena, "S_second", vals, 2, linear, 1, dims, 2);
    g->n_sparse_initializer = 2;
    g->sparse_initializer = list;

    assert_int_equal(load_proto(lt_model(&arena, g), 1, &diag, &model, &bytes), QS_OK);
    first = lt_find_tensor(model, "S_first");
    assert_null(first->fault);
    assert_int_equal(qs_tensor_read_f32(first, 0, 2, f), QS_OK);
    assert_true(f[0] == 0.0f && f[1] == 1.5f);
    assert_int_equal(qs_tensor_read_f32(first, 201326590, 2, f), QS_OK);
    assert_true(f[0] == 0.0f && f[1] == -2.0f);
    assert_non_null(lt_find_tensor(model, "S_second")->fault);
    assert_true(lt_diag_has(&diag, "tensor 'S_second' skipped: dense form of 805306368 bytes "
                            "exceeds the 1 GiB limit for all sparse tensors together",
                            "(805306368 bytes already used)", NULL));
    assert_int_equal(model->n_faulty_tensors, 1);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* A tensor of "count" elements of "dtype" whose int32_data contains "entries". */
static Onnx__TensorProto *
int32_tensor(struct qs_arena *arena, const char *name, int dtype, int64_t count,
             const int32_t *entries, size_t n)
{
    Onnx__TensorProto *t = lt_tensor(arena, name, dtype, 1, &count);

    t->n_int32_data = n;
    t->int32_data = (int32_t *)entries;
    return t;
}

static void
typed_storage_variants(void **state)
{
    static const int32_t u16[] = { 65535, 1, 300 };
    static const int32_t bools[] = { 1, 0, 1 };
    static const int32_t i16[] = { -32768, 5 };
    static const int32_t e4m3[] = { 0x38, 0xb8, 0x7e };    /* 1.0, -1.0, 448 */
    static const int32_t u4[] = { 0x21, 0x03 };            /* 1, 2, 3 (pad nibble 0) */
    static const uint64_t u32[] = { 4000000000u, 7 };
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__TensorProto *t;
    uint8_t *bytes;
    int64_t v[3];
    float f[3];

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "u16", QS_DT_UINT16, 3, u16, 3));
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "b", QS_DT_BOOL, 3, bools, 3));
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "i16", QS_DT_INT16, 2, i16, 2));
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "e4m3", QS_DT_FLOAT8E4M3FN, 3, e4m3, 3));
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "u4", QS_DT_UINT4, 3, u4, 2));
    lt_graph_initializer(&arena, g, int32_tensor(&arena, "u4_short", QS_DT_UINT4, 5, u4, 2));
    t = lt_tensor(&arena, "u32", QS_DT_UINT32, 1, (int64_t[]){ 2 });
    t->n_uint64_data = 2;
    t->uint64_data = (uint64_t *)u32;
    lt_graph_initializer(&arena, g, t);
    t = lt_tensor(&arena, "h_wrong", QS_DT_FLOAT16, 1, (int64_t[]){ 2 });
    t->n_float_data = 2;
    t->float_data = (float *)values_2x2;
    lt_graph_initializer(&arena, g, t);
    lt_graph_initializer(&arena, g, lt_tensor(&arena, "empty", QS_DT_FLOAT, 1, dims_4));

    assert_int_equal(load_proto(lt_model(&arena, g), 1, &diag, &model, &bytes), QS_OK);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "u16"), 0, 3, v), QS_OK);
    assert_true(v[0] == 65535 && v[1] == 1 && v[2] == 300);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "b"), 0, 3, v), QS_OK);
    assert_true(v[0] == 1 && v[1] == 0 && v[2] == 1);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "i16"), 0, 2, v), QS_OK);
    assert_true(v[0] == -32768 && v[1] == 5);
    assert_int_equal(qs_tensor_read_f32(lt_find_tensor(model, "e4m3"), 0, 3, f), QS_OK);
    assert_true(f[0] == 1.0f && f[1] == -1.0f && f[2] == 448.0f);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "u4"), 0, 3, v), QS_OK);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "u4"), 1, 2, v), QS_OK);
    assert_true(v[0] == 2 && v[1] == 3);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "u32"), 0, 2, v), QS_OK);
    assert_true(v[0] == 4000000000LL && v[1] == 7);
    assert_int_equal(qs_tensor_packed_bytes(lt_find_tensor(model, "u4")), 2);
    assert_int_equal(qs_tensor_read_i64(lt_find_tensor(model, "u4"), 2, 2, v), QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor 'u4_short' skipped: int32_data has 2 entries, dims [5] "
                            "of UINT4 need 3 (two elements per entry)", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'h_wrong' skipped: FLOAT16 data is in float_data, "
                            "expected int32_data", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'empty' skipped: no data: dims [4] need 4 elements",
                            NULL, NULL));
    assert_int_equal(model->n_faulty_tensors, 3);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/*
 * Names in messages: bytes that are not UTF-8 and C1 controls (which a
 * terminal may run as escape sequences) become '?', valid UTF-8 stays.
 */
static void
name_bytes_made_safe(void **state)
{
    /* "\xc2\x9b" is CSI as a C1 control, so the name would clear a terminal screen. */
    static const char hostile[] = "\xc2\x9b" "2J" "\xff";
    static const char accented[] = "caf\xc3\xa9";
    char long_name[160];
    char long_shown[160];
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__TensorProto *t;
    uint8_t *bytes;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    t = lt_tensor_f32(&arena, hostile, 2, dims_2x2, values_2x2);
    t->raw_data.len = 12;                           /* dims [2,2] of FLOAT need 16 */
    lt_graph_initializer(&arena, g, t);
    t = lt_tensor_f32(&arena, accented, 2, dims_2x2, values_2x2);
    t->raw_data.len = 12;
    lt_graph_initializer(&arena, g, t);

    /* 39 + 2 * 30 bytes: the 80-byte cut falls inside the 21st two-byte character. */
    memset(long_name, 'a', 39);
    memset(long_shown, 'a', 39);
    for (int i = 0; i < 30; i++)
        memcpy(long_name + 39 + 2 * i, "\xc3\xa9", 2);
    long_name[99] = '\0';
    memcpy(long_shown + 39, long_name + 39, 40);
    snprintf(long_shown + 79, sizeof(long_shown) - 79, "...': raw_data");
    t = lt_tensor_f32(&arena, long_name, 2, dims_2x2, values_2x2);
    t->raw_data.len = 12;
    lt_graph_initializer(&arena, g, t);

    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor '?2J?': raw_data has 12 bytes", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'caf\xc3\xa9': raw_data has 12 bytes", NULL, NULL));
    assert_true(lt_diag_has(&diag, long_shown, NULL, NULL));
    for (size_t i = 0; i < diag.count && i < QS_DIAG_MAX; i++) {
        assert_null(strstr(diag.lines[i], "\xc2\x9b"));
        assert_null(strchr(diag.lines[i], '\xff'));
    }
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static void
raw_data_points_into_buffer(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    uint8_t *bytes;
    const struct qs_tensor *w;
    const struct qs_tensor *k;

    (void)state;
    qs_arena_init(&arena);
    assert_int_equal(load_proto(small_model(&arena), 0, &diag, &model, &bytes), QS_OK);
    w = lt_find_tensor(model, "W");
    k = qs_graph_lookup(model->graph, "k")->tensor;
    assert_int_equal(w->storage, QS_STORE_PACKED);
    assert_ptr_equal(w->data, bytes + w->file_offset);
    assert_int_equal(w->nbytes, sizeof(values_2x2));
    assert_memory_equal(w->data, values_2x2, sizeof(values_2x2));
    assert_ptr_equal(k->data, bytes + k->file_offset);
    assert_ptr_equal(model->graph->nodes[1].attr_tensors[0], k);
    assert_ptr_equal(model->map, bytes);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

static void
attribute_helpers(void **state)
{
    static const float floats[] = { 0.25f, 4.0f };
    static const int64_t ints[] = { 3, 1, 4 };
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__NodeProto *n;
    Onnx__AttributeProto *a;
    Onnx__ModelProto *proto;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[2];
    uint8_t *bytes;
    const int64_t *iv;
    const float *fv;
    size_t len;
    char op[64];

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT);
    n = lt_node(&arena, "MatMulNBits", "q", "x", "y");
    n->domain = "com.microsoft";
    lt_attr(&arena, n, "bits", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)->i = 4;
    lt_attr(&arena, n, "alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)->f = 0.5f;
    a = lt_attr(&arena, n, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->s.data = (uint8_t *)"nearest";
    a->s.len = 7;
    a = lt_attr(&arena, n, "pads", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = (int64_t *)ints;
    a->n_ints = 3;
    a = lt_attr(&arena, n, "scales", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->floats = (float *)floats;
    a->n_floats = 2;
    lt_attr(&arena, n, "table", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t =
        lt_tensor_f32(&arena, "", 2, dims_2x2, values_2x2);
    lt_graph_node(&arena, g, n);
    n = lt_node(&arena, "Relu", "r", "y", "z");
    n->domain = "ai.onnx";
    lt_graph_node(&arena, g, n);
    proto = lt_model(&arena, g);
    opset.domain = "ai.onnx";
    opset.has_version = 1;
    opset.version = 19;
    opsets[0] = &opset;
    opsets[1] = qs_arena_calloc(&arena, 1, sizeof(*opsets[1]));
    onnx__operator_set_id_proto__init(opsets[1]);
    opsets[1]->domain = "com.microsoft";
    opsets[1]->has_version = 1;
    opsets[1]->version = 1;
    proto->opset_import = opsets;
    proto->n_opset_import = 2;
    proto->producer_name = "unit";

    assert_int_equal(load_proto(proto, 0, &diag, &model, &bytes), QS_OK);
    const struct qs_node *q = &model->graph->nodes[0];

    assert_int_equal(qs_node_attr_int(q, "bits", 8), 4);
    assert_int_equal(qs_node_attr_int(q, "alpha", 8), 8);        /* wrong type */
    assert_int_equal(qs_node_attr_int(q, "missing", -1), -1);
    assert_true(qs_node_attr_float(q, "alpha", 1.0f) == 0.5f);
    assert_memory_equal(qs_node_attr_string(q, "mode", "linear", &len), "nearest", 7);
    assert_int_equal(len, 7);
    assert_string_equal(qs_node_attr_string(q, "missing", "linear", &len), "linear");
    assert_int_equal(len, 6);
    assert_int_equal(qs_node_attr_ints(q, "pads", &iv), 3);
    assert_int_equal(iv[2], 4);
    assert_int_equal(qs_node_attr_ints(q, "scales", &iv), -1);
    assert_int_equal(qs_node_attr_floats(q, "scales", &fv), 2);
    assert_true(fv[1] == 4.0f);
    assert_int_equal(qs_node_attr_tensor(q, "table")->count, 4);
    assert_int_equal(qs_node_attr_tensor(q, "table")->origin, QS_ORIGIN_ATTRIBUTE);
    assert_null(qs_node_attr_tensor(q, "bits"));
    assert_string_equal(qs_node_qualified_op(q, op, sizeof(op)), "com.microsoft.MatMulNBits");
    assert_string_equal(qs_node_qualified_op(&model->graph->nodes[1], op, sizeof(op)), "Relu");
    assert_string_equal(model->graph->nodes[1].domain, "");
    assert_int_equal(qs_model_opset(model, ""), 19);
    assert_int_equal(qs_model_opset(model, "ai.onnx"), 19);
    assert_int_equal(qs_model_opset(model, "com.microsoft"), 1);
    assert_int_equal(qs_model_opset(model, "ai.onnx.ml"), -1);
    assert_string_equal(model->opsets[0].domain, "");
    assert_string_equal(model->producer_name, "unit");
    assert_int_equal(model->ir_version, 8);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

/* Files for the external data test in a scratch folder. */
struct ext_dir {
    char base[64];
    char model_dir[96];
    char outside[96];
};

static void
ext_write(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static void
ext_setup(struct ext_dir *dir)
{
    float weights[16];
    char path[160];

    for (int i = 0; i < 16; i++)
        weights[i] = (float)i;
    snprintf(dir->base, sizeof(dir->base), "/tmp/qscope-loader-XXXXXX");
    assert_non_null(mkdtemp(dir->base));
    snprintf(dir->model_dir, sizeof(dir->model_dir), "%s/model", dir->base);
    snprintf(dir->outside, sizeof(dir->outside), "%s/outside.bin", dir->base);
    assert_int_equal(mkdir(dir->model_dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/weights.bin", dir->model_dir);
    ext_write(path, weights, sizeof(weights));
    ext_write(dir->outside, weights, sizeof(weights));
    snprintf(path, sizeof(path), "%s/link.bin", dir->model_dir);
    assert_int_equal(symlink(dir->outside, path), 0);
}

static void
ext_teardown(const struct ext_dir *dir)
{
    const char *files[] = { "weights.bin", "link.bin", "model.onnx" };
    char path[160];

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir->model_dir, files[i]);
        unlink(path);
    }
    rmdir(dir->model_dir);
    unlink(dir->outside);
    rmdir(dir->base);
}

static Onnx__TensorProto *
ext_tensor(struct qs_arena *arena, Onnx__GraphProto *g, const char *name, const char *location,
           const char *offset, const char *length)
{
    Onnx__TensorProto *t = lt_tensor(arena, name, QS_DT_FLOAT, 1, dims_4);

    lt_external(arena, t, location, offset, length);
    lt_graph_initializer(arena, g, t);
    return t;
}

static void
external_data_checked(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    struct qs_load_options opts = { .keep_going = 1 };
    struct ext_dir dir;
    Onnx__GraphProto *g;
    uint8_t *bytes;
    size_t len;
    char path[160];
    float f[4];

    (void)state;
    ext_setup(&dir);
    qs_arena_init(&arena);
    g = lt_graph(&arena, "ext");
    ext_tensor(&arena, g, "A", "weights.bin", NULL, "16");
    ext_tensor(&arena, g, "B", "./weights.bin", "16", NULL);
    ext_tensor(&arena, g, "L", "link.bin", NULL, NULL);
    ext_tensor(&arena, g, "G", "weights.bin", "12x", NULL);
    ext_tensor(&arena, g, "N", "weights.bin", "-5", NULL);
    ext_tensor(&arena, g, "O", "weights.bin", "99999999999999999999", NULL);
    ext_tensor(&arena, g, "P", "weights.bin", "18446744073709551615", NULL);
    ext_tensor(&arena, g, "E", "weights.bin", "56", NULL);
    ext_tensor(&arena, g, "M", "missing.bin", NULL, NULL);
    bytes = lt_pack(lt_model(&arena, g), &len);
    snprintf(path, sizeof(path), "%s/model.onnx", dir.model_dir);
    ext_write(path, bytes, len);

    qs_diag_init(&diag);
    assert_int_equal(qs_model_load(path, &opts, &diag, &model), QS_OK);
    assert_int_equal(qs_tensor_read_f32(lt_find_tensor(model, "A"), 0, 4, f), QS_OK);
    assert_true(f[0] == 0.0f && f[3] == 3.0f);
    assert_int_equal(qs_tensor_read_f32(lt_find_tensor(model, "B"), 0, 4, f), QS_OK);
    assert_true(f[0] == 4.0f && f[3] == 7.0f);
    /* One mapping for both tensors. */
    assert_ptr_equal((const uint8_t *)lt_find_tensor(model, "B")->data,
                     (const uint8_t *)lt_find_tensor(model, "A")->data + 16);
    assert_int_equal(lt_find_tensor(model, "B")->file_offset, 16);
    assert_true(lt_diag_has(&diag, "tensor 'L' skipped: external data location 'link.bin' "
                            "escapes model directory", "symbolic link", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'G' skipped: external data offset '12x' is not a "
                            "non-negative 64-bit decimal number", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'N' skipped: external data offset '-5'", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'O' skipped: external data offset "
                            "'99999999999999999999'", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'P' skipped: external data offset "
                            "18446744073709551615 plus length 16 overflows", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'E' skipped: external data bytes [56,72) requested, "
                            "weights.bin has 64 bytes", "(graph 'ext', initializer 7)", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'M' skipped: external data file 'missing.bin' not "
                            "found", NULL, NULL));
    assert_int_equal(model->n_faulty_tensors, 7);
    qs_model_free(model);
    qs_diag_done(&diag);

    /* From memory without a folder, external data cannot be read. */
    assert_int_equal(load_bytes(bytes, len, 0, &diag, &model), QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor 'A': external data 'weights.bin' cannot be read: the "
                            "model was loaded from memory without a folder", NULL, NULL));
    qs_diag_done(&diag);

    free(bytes);
    qs_arena_done(&arena);
    ext_teardown(&dir);
}

/*
 * A FIFO as the model or as its external data file is refused at once (an
 * open for reading used to wait for a writer forever), and a location that
 * cannot be resolved says why.  alarm() turns a hang into a failure.
 */
static void
special_files_refused(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    struct qs_load_options opts = { .keep_going = 1 };
    struct ext_dir dir;
    Onnx__GraphProto *g;
    uint8_t *bytes;
    size_t len;
    char fifo[160];
    char loop[160];
    char path[160];

    (void)state;
    ext_setup(&dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo.bin", dir.model_dir);
    snprintf(loop, sizeof(loop), "%s/loop.bin", dir.model_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink("loop.bin", loop), 0);
    alarm(30);

    qs_diag_init(&diag);
    assert_int_equal(qs_model_load(fifo, NULL, &diag, &model), QS_INVALID);
    assert_null(model);
    assert_true(lt_diag_has(&diag, "fifo.bin: cannot read the model: not a regular file",
                            NULL, NULL));
    qs_diag_done(&diag);

    qs_arena_init(&arena);
    g = lt_graph(&arena, "ext");
    ext_tensor(&arena, g, "F", "fifo.bin", NULL, NULL);
    ext_tensor(&arena, g, "L", "loop.bin", NULL, NULL);
    ext_tensor(&arena, g, "A", "weights.bin", NULL, NULL);
    bytes = lt_pack(lt_model(&arena, g), &len);
    snprintf(path, sizeof(path), "%s/model.onnx", dir.model_dir);
    ext_write(path, bytes, len);
    qs_diag_init(&diag);
    assert_int_equal(qs_model_load(path, &opts, &diag, &model), QS_OK);
    assert_true(lt_diag_has(&diag, "tensor 'F' skipped: external data file 'fifo.bin' cannot "
                            "be read: not a regular file", NULL, NULL));
    assert_true(lt_diag_has(&diag, "tensor 'L' skipped: external data file 'loop.bin' cannot "
                            "be opened: ", NULL, NULL));
    assert_int_equal(model->n_faulty_tensors, 2);
    assert_null(lt_find_tensor(model, "A")->fault);
    qs_model_free(model);
    qs_diag_done(&diag);
    alarm(0);

    unlink(fifo);
    unlink(loop);
    free(bytes);
    qs_arena_done(&arena);
    ext_teardown(&dir);
}

static void
value_types_declared(void **state)
{
    struct qs_arena arena;
    struct qs_diag diag;
    struct qs_model *model;
    Onnx__GraphProto *g;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
    Onnx__TensorShapeProto__Dimension d1 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
    Onnx__TensorShapeProto__Dimension *dims[2] = { &d0, &d1 };
    uint8_t *bytes;
    struct qs_value *x;
    struct qs_value *w;

    (void)state;
    qs_arena_init(&arena);
    g = lt_graph(&arena, "g");
    lt_graph_input(&arena, g, "x", QS_DT_FLOAT16);
    d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0.dim_param = "batch";
    d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1.dim_value = 2;
    shape.n_dim = 2;
    shape.dim = dims;
    g->input[0]->type->tensor_type->shape = &shape;
    lt_graph_initializer(&arena, g, lt_tensor_f32(&arena, "W", 2, dims_2x2, values_2x2));
    lt_graph_node(&arena, g, lt_node(&arena, "MatMul", "mm", "x,W", "y"));
    lt_graph_output(&arena, g, "y", QS_DT_FLOAT16);

    assert_int_equal(load_proto(lt_model(&arena, g), 0, &diag, &model, &bytes), QS_OK);
    x = qs_graph_lookup(model->graph, "x");
    w = qs_graph_lookup(model->graph, "W");
    assert_int_equal(x->type.kind, QS_TYPE_TENSOR);
    assert_int_equal(x->type.elem, QS_DT_FLOAT16);
    assert_int_equal(x->type.rank, 2);
    assert_int_equal(x->type.dims[0].value, -1);
    assert_string_equal(x->type.dims[0].param, "batch");
    assert_int_equal(x->type.dims[1].value, 2);
    assert_int_equal(w->kind, QS_VALUE_INITIALIZER);
    assert_int_equal(w->type.elem, QS_DT_FLOAT);
    assert_int_equal(w->type.rank, 2);
    assert_int_equal(qs_graph_lookup(model->graph, "y")->type.elem, QS_DT_FLOAT16);
    assert_int_equal(qs_graph_lookup(model->graph, "y")->type.rank, -1);
    assert_int_equal(qs_graph_lookup(model->graph, "y")->kind, QS_VALUE_NODE_OUTPUT);
    assert_int_equal(model->graph->n_values, 3);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(bytes);
    qs_arena_done(&arena);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(truncated_names_innermost_field),
        cmocka_unit_test(deep_nesting_rejected),
        cmocka_unit_test(large_graph_loads),
        cmocka_unit_test(wire_faults_named),
        cmocka_unit_test(wire_packed_length_checked),
        cmocka_unit_test(unknown_fields_kept),
        cmocka_unit_test(not_a_model_named),
        cmocka_unit_test(unknown_element_type_unsupported),
        cmocka_unit_test(undefined_input_rejected),
        cmocka_unit_test(duplicate_definitions_rejected),
        cmocka_unit_test(duplicate_node_name_warned_once),
        cmocka_unit_test(unsorted_nodes_indexed),
        cmocka_unit_test(string_with_nul_rejected),
        cmocka_unit_test(outer_scope_consumers),
        cmocka_unit_test(constant_value_kinds),
        cmocka_unit_test(sparse_initializers_densified),
        cmocka_unit_test(sparse_dense_total_limited),
        cmocka_unit_test(typed_storage_variants),
        cmocka_unit_test(raw_data_points_into_buffer),
        cmocka_unit_test(name_bytes_made_safe),
        cmocka_unit_test(attribute_helpers),
        cmocka_unit_test(external_data_checked),
        cmocka_unit_test(special_files_refused),
        cmocka_unit_test(value_types_declared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
