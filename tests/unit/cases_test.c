/*
 * The loading side of each shared case (cases/NN-name with case.json):
 * the error it must give, or the tensors it must find with their values.
 * Skipped visibly without QSCOPE_TESTDATA.
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

#include <cmocka.h>

#include "loader_util.h"

static const json_t *
case_numbers(const json_t *doc, const char *key)
{
    const json_t *value = json_object_get(json_object_get(doc, "numbers"), key);

    assert_non_null(value);
    return value;
}

/* Assert that "t" contains exactly the numbers of the JSON array (nested arrays flattened). */
static void
check_values(const struct qs_tensor *t, const json_t *expected)
{
    float *values = lt_read_all(t);
    size_t n = 0;
    size_t i;
    const json_t *row;

    json_array_foreach(expected, i, row) {
        if (json_is_array(row)) {
            size_t k;
            const json_t *cell;

            json_array_foreach(row, k, cell)
                lt_assert_close(values[n++], json_number_value(cell));
        } else {
            lt_assert_close(values[n++], json_number_value(row));
        }
    }
    assert_int_equal(n, t->count);
    free(values);
}

static struct qs_tensor *
find_tensor(const struct qs_model *model, const char *key)
{
    struct qs_tensor *t = lt_find_tensor(model, key);

    if (!t)
        fail_msg("tensor '%s' not found", key);
    return t;
}

static void
case01_path_traversal_rejected(void **state)
{
    const char *rejected[] = { "W_up", "W_abs", "W_mid" };
    const char *locations[] = { "../", "'/etc/passwd'", "sub/../../" };
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    char name[64];

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("01-extdata-path-traversal", "model.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_null(model);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "tensor '%s'", rejected[i]);
        assert_true(lt_diag_has(&diag, name, "escapes model directory", locations[i]));
    }
    assert_int_equal(diag.count, 3);
    qs_diag_done(&diag);

    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("01-extdata-path-traversal", "model.onnx", 1, &diag, &model),
                     QS_OK);
    assert_int_equal(diag.warnings, 3);
    assert_true(lt_diag_has(&diag, "tensor 'W_abs' skipped", "escapes model directory", NULL));
    assert_int_equal(model->n_faulty_tensors, 3);
    for (int i = 0; i < 3; i++) {
        struct qs_tensor *t = find_tensor(model, rejected[i]);

        assert_non_null(t->fault);
        assert_int_equal(t->storage, QS_STORE_NONE);
        assert_null(t->data);
    }

    doc = lt_case_json("01-extdata-path-traversal");
    struct qs_tensor *ok = find_tensor(model, "W_ok");

    assert_null(ok->fault);
    assert_true(ok->is_external);
    assert_string_equal(ok->location, "weights.bin");
    lt_check_channel_minmax(ok, 1, case_numbers(doc, "W_ok_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case02_external_out_of_bounds(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("02-extdata-out-of-bounds", "model.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor 'W_len'", "bytes [32,96) requested",
                            "weights.bin has 64 bytes"));
    assert_true(lt_diag_has(&diag, "tensor 'W_nolen'", "bytes [48,112) requested",
                            "weights.bin has 64 bytes"));
    assert_true(lt_diag_has(&diag, "tensor 'W_off'", "bytes [4096,4104) requested",
                            "weights.bin has 64 bytes"));
    assert_true(lt_diag_has(&diag, "tensor 'W_mismatch'", "length 32 does not match",
                            "(64 bytes)"));
    assert_true(lt_diag_has(&diag, "tensor 'W_missing'", "'no_such_file.bin'", "not found"));
    assert_int_equal(diag.count, 5);
    qs_diag_done(&diag);

    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("02-extdata-out-of-bounds", "model.onnx", 1, &diag, &model),
                     QS_OK);
    assert_int_equal(model->n_faulty_tensors, 5);
    doc = lt_case_json("02-extdata-out-of-bounds");
    lt_check_channel_minmax(find_tensor(model, "W_ok"), 1,
                            case_numbers(doc, "W_ok_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case04_dims_data_mismatch(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("04-dims-vs-data-mismatch", "model.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor 'W_huge'", "raw_data has 16 bytes",
                            "need 34359738368"));
    assert_true(lt_diag_has(&diag, "tensor 'W_short'", "raw_data has 12 bytes", "need 16"));
    assert_true(lt_diag_has(&diag, "tensor 'W_long'", "raw_data has 20 bytes", "need 16"));
    assert_true(lt_diag_has(&diag, "tensor 'W_floatdata'", "float_data has 4 entries",
                            "need 6"));
    assert_int_equal(diag.worst, QS_INVALID);
    qs_diag_done(&diag);
}

static void
case05_dims_overflow(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("05-dims-int64-overflow", "model.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_true(lt_diag_has(&diag, "tensor 'W_wrap'", "dimension product overflows", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'W_neg'", "negative dimension -1", NULL));
    assert_true(lt_diag_has(&diag, "tensor 'W_bytes_overflow'", "dimension product overflows",
                            "4611686018427387904 elements"));
    qs_diag_done(&diag);

    /* With keep_going the tensors stay faulty: W_wrap is never an empty tensor. */
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("05-dims-int64-overflow", "model.onnx", 1, &diag, &model),
                     QS_OK);
    assert_non_null(find_tensor(model, "W_wrap")->fault);
    assert_non_null(find_tensor(model, "W_neg")->fault);
    assert_non_null(find_tensor(model, "W_bytes_overflow")->fault);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case06_truncated_and_lfs(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    char size_text[64];

    (void)state;
    doc = lt_case_json("06-truncated-file");
    snprintf(size_text, sizeof(size_text), "file has %lld bytes",
             (long long)json_integer_value(case_numbers(doc, "truncated_size")));
    json_decref(doc);

    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("06-truncated-file", "model.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_null(model);
    assert_int_equal(diag.count, 1);
    assert_true(lt_diag_has(&diag, "truncated at byte", "field TensorProto.raw_data declares",
                            size_text));
    qs_diag_done(&diag);

    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("06-truncated-file", "lfs_pointer.onnx", 0, &diag, &model),
                     QS_INVALID);
    assert_true(lt_diag_has(&diag, "Git LFS pointer", "never downloaded", NULL));
    qs_diag_done(&diag);
}

static void
case07_typed_fields(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    int64_t shape[2];

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("07-typed-data-fields", "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json("07-typed-data-fields");

    struct qs_tensor *w = find_tensor(model, "W");
    struct qs_tensor *w16 = find_tensor(model, "W16");
    struct qs_tensor *wi8 = find_tensor(model, "Wi8");
    struct qs_tensor *b = find_tensor(model, "B");
    struct qs_tensor *s = find_tensor(model, "shape");

    assert_int_equal(w->storage, QS_STORE_FLOAT_DATA);
    assert_int_equal(w16->storage, QS_STORE_INT32_DATA);
    assert_int_equal(wi8->storage, QS_STORE_INT32_DATA);
    assert_int_equal(b->storage, QS_STORE_DOUBLE_DATA);
    assert_int_equal(s->storage, QS_STORE_INT64_DATA);
    lt_check_channel_minmax(w, 1, case_numbers(doc, "W_matmul_KxN_per_channel_axis1"));
    check_values(w16, case_numbers(doc, "W16_values"));
    check_values(wi8, case_numbers(doc, "Wi8_values"));
    check_values(b, case_numbers(doc, "B_values"));
    assert_int_equal(qs_tensor_read_i64(s, 0, 2, shape), QS_OK);
    const json_t *shape_values = case_numbers(doc, "shape_values");

    assert_int_equal(shape[0], json_integer_value(json_array_get(shape_values, 0)));
    assert_int_equal(shape[1], json_integer_value(json_array_get(shape_values, 1)));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case08_constant_weights(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("08-constant-node-weights", "model.onnx", 0, &diag, &model),
                     QS_OK);
    doc = lt_case_json("08-constant-node-weights");
    assert_int_equal(model->graph->n_initializers, 0);

    struct qs_node *conv = lt_find_node(model->graph, "Conv");
    struct qs_node *matmul = lt_find_node(model->graph, "MatMul");

    assert_non_null(conv);
    assert_non_null(matmul);
    struct qs_tensor *conv_w = conv->inputs[1]->tensor;
    struct qs_tensor *conv_b = conv->inputs[2]->tensor;
    struct qs_tensor *mm_w = matmul->inputs[1]->tensor;

    assert_non_null(conv_w);
    assert_non_null(conv_b);
    assert_non_null(mm_w);
    assert_int_equal(conv_w->origin, QS_ORIGIN_CONSTANT_NODE);
    assert_string_equal(conv->inputs[1]->producer->op_type, "Constant");
    lt_check_channel_minmax(conv_w, 0, case_numbers(doc, "conv_weight_per_channel_axis0"));
    lt_check_channel_minmax(mm_w, 1, case_numbers(doc, "fc_weight_KxN_per_channel_axis1"));
    check_values(conv_b, case_numbers(doc, "conv_bias"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case09_subgraph_weights(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    const char *key;
    json_t *stats;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("09-subgraph-weights", "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json("09-subgraph-weights");
    json_object_foreach((json_t *)case_numbers(doc, "weights"), key, stats) {
        struct qs_tensor *t = find_tensor(model, key);

        assert_int_equal(t->graph->depth, 1);
        lt_check_channel_minmax(t, (int)json_integer_value(json_object_get(stats, "axis")), stats);
    }
    assert_int_equal(find_tensor(model, "if0/then_branch/W_then")->origin, QS_ORIGIN_INITIALIZER);
    assert_int_equal(find_tensor(model, "if0/else_branch/W_else")->origin,
                     QS_ORIGIN_CONSTANT_NODE);
    assert_int_equal(model->n_graphs, 4);
    assert_int_equal(model->graphs[0]->depth, 0);
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case11_initializer_as_input(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    struct qs_value *x;
    struct qs_value *w;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("11-initializer-is-graph-input", "model.onnx", 0, &diag, &model),
                     QS_OK);
    doc = lt_case_json("11-initializer-is-graph-input");
    x = qs_graph_lookup(model->graph, "X");
    w = qs_graph_lookup(model->graph, "W");
    assert_int_equal(x->kind, QS_VALUE_GRAPH_INPUT);
    assert_null(x->tensor);
    assert_int_equal(w->kind, QS_VALUE_GRAPH_INPUT);
    assert_non_null(w->tensor);
    assert_int_equal(qs_graph_lookup(model->graph, "bias")->kind, QS_VALUE_GRAPH_INPUT);
    assert_non_null(qs_graph_lookup(model->graph, "bias")->tensor);
    assert_int_equal(w->n_consumers, 1);
    assert_string_equal(w->consumers[0]->op_type, "Gemm");
    lt_check_channel_minmax(w->tensor, 1, case_numbers(doc, "W_gemm_transB0_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

/* Load a case that must load cleanly and check one tensor's channels. */
static void
check_case_channels(const char *name, const char *tensor, int axis, const char *stats_key)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;

    qs_diag_init(&diag);
    assert_int_equal(lt_load_case(name, "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json(name);
    lt_check_channel_minmax(find_tensor(model, tensor), axis, case_numbers(doc, stats_key));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case12_zero_channels(void **state)
{
    (void)state;
    check_case_channels("12-zero-constant-channels", "W", 0, "per_channel_axis0");
}

static void
case14_fp16_bf16(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("14-fp16-bf16-weights", "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json("14-fp16-bf16-weights");
    struct qs_tensor *w16 = find_tensor(model, "W16");
    struct qs_tensor *wbf = find_tensor(model, "Wbf16");

    assert_int_equal(w16->dtype, QS_DT_FLOAT16);
    assert_int_equal(wbf->dtype, QS_DT_BFLOAT16);
    check_values(w16, case_numbers(doc, "W16_decoded"));
    check_values(wbf, case_numbers(doc, "Wbf16_decoded"));
    lt_check_channel_minmax(w16, 1, case_numbers(doc, "W16_per_channel_axis1"));
    lt_check_channel_minmax(wbf, 1, case_numbers(doc, "Wbf16_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case15_int4_packing(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("15-int4-uint4-packing", "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json("15-int4-uint4-packing");
    struct qs_tensor *wi4 = find_tensor(model, "Wi4");
    struct qs_tensor *wu4 = find_tensor(model, "Wu4");
    struct qs_tensor *w32 = find_tensor(model, "Wi4_int32data");

    assert_int_equal(wi4->storage, QS_STORE_PACKED);
    assert_int_equal(wi4->nbytes, 4);       /* ceil(7 / 2) */
    assert_int_equal(wu4->nbytes, 5);       /* ceil(9 / 2) */
    assert_int_equal(w32->storage, QS_STORE_INT32_DATA);
    assert_int_equal(w32->nbytes, 2);       /* two entries, one packed byte each */
    check_values(wi4, case_numbers(doc, "Wi4_values"));
    check_values(wu4, case_numbers(doc, "Wu4_values"));
    check_values(w32, case_numbers(doc, "Wi4_int32data_values"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case16_convtranspose(void **state)
{
    (void)state;
    check_case_channels("16-convtranspose-axis", "W1", 1, "W1_correct_axis1");
    check_case_channels("16-convtranspose-axis", "W1", 0, "W1_wrong_axis0");
    check_case_channels("16-convtranspose-axis", "W2", 1, "W2_axis1_shared_across_groups");
}

static void
case18_names(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    size_t i;
    const json_t *item;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("18-empty-duplicate-names", "model.onnx", 0, &diag, &model),
                     QS_OK);
    doc = lt_case_json("18-empty-duplicate-names");
    assert_int_equal(diag.warnings, 1);
    assert_true(lt_diag_has(&diag, "node name 'mm' is used by more than one node", NULL, NULL));
    json_array_foreach(case_numbers(doc, "unnamed_node_indices"), i, item) {
        const struct qs_node *node = &model->graph->nodes[json_integer_value(item)];
        char label[32];

        snprintf(label, sizeof(label), "#%lld", (long long)json_integer_value(item));
        assert_string_equal(node->name, "");
        assert_string_equal(node->label, label);
    }
    /* Names an exporter might generate already exist, as values or as node names. */
    json_array_foreach(case_numbers(doc, "reserved_looking_names"), i, item) {
        const char *name = json_string_value(item);
        int found = qs_graph_lookup(model->graph, name) != NULL;

        for (size_t k = 0; k < model->graph->n_nodes; k++)
            found |= strcmp(model->graph->nodes[k].name, name) == 0;
        assert_true(found);
    }
    lt_check_channel_minmax(find_tensor(model, "W"), 1, case_numbers(doc, "W_per_channel_axis1"));
    lt_check_channel_minmax(find_tensor(model, "W_scale"), 1,
                            case_numbers(doc, "W_scale_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case19_zero_size(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    const char *name;
    json_t *dims;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("19-zero-size-tensor", "model.onnx", 0, &diag, &model), QS_OK);
    doc = lt_case_json("19-zero-size-tensor");
    json_object_foreach((json_t *)case_numbers(doc, "empty_tensors"), name, dims) {
        struct qs_tensor *t = find_tensor(model, name);

        assert_null(t->fault);
        assert_int_equal(t->count, 0);
        assert_int_equal(t->storage, QS_STORE_NONE);
        assert_int_equal(t->rank, (int)json_array_size(dims));
        for (int d = 0; d < t->rank; d++)
            assert_int_equal(t->dims[d], json_integer_value(json_array_get(dims, (size_t)d)));
        assert_int_equal(qs_tensor_read_f32(t, 0, 0, NULL), QS_OK);
    }
    lt_check_channel_minmax(find_tensor(model, "W"), 1, case_numbers(doc, "W_per_channel_axis1"));
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

/* Dequantize the node's input 0 with scales (and zero points) along "axis" in blocks. */
static float *
dequantize(const struct qs_node *dq, int axis, int64_t block)
{
    const struct qs_tensor *q = dq->inputs[0]->tensor;
    const struct qs_tensor *s = dq->inputs[1]->tensor;
    const struct qs_tensor *z = dq->n_inputs > 2 && dq->inputs[2] ? dq->inputs[2]->tensor : NULL;
    float *qv = lt_read_all(q);
    float *sv = lt_read_all(s);
    float *zv = z ? lt_read_all(z) : NULL;
    size_t inner = 1;
    size_t dim = (size_t)q->dims[axis];
    size_t blocks = (dim + (size_t)block - 1) / (size_t)block;

    for (int d = axis + 1; d < q->rank; d++)
        inner *= (size_t)q->dims[d];
    for (size_t i = 0; i < q->count; i++) {
        size_t along = (i / inner) % dim;
        size_t outer = i / (inner * dim);
        size_t si = (outer * blocks + along / (size_t)block) * inner + i % inner;

        if (s->rank == 1)
            si = along / (size_t)block;
        qv[i] = (qv[i] - (zv ? zv[si] : 0.0f)) * sv[si];
    }
    free(sv);
    free(zv);
    return qv;
}

static void
check_dequantized(const float *values, const json_t *expected, size_t count)
{
    size_t n = 0;
    size_t i;
    const json_t *row;

    json_array_foreach(expected, i, row) {
        size_t k;
        const json_t *cell;

        json_array_foreach(row, k, cell)
            lt_assert_close(values[n++], json_number_value(cell));
    }
    assert_int_equal(n, count);
}

static void
case21_dequantize_axis(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    const struct qs_node *dq = NULL;
    float *values;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("21-dequantize-default-axis", "model.onnx", 0, &diag, &model),
                     QS_OK);
    doc = lt_case_json("21-dequantize-default-axis");
    assert_int_equal(qs_model_opset(model, ""), 13);
    for (size_t i = 0; i < model->graph->n_nodes; i++) {
        if (strcmp(model->graph->nodes[i].name, "dq_mm_no_axis") == 0)
            dq = &model->graph->nodes[i];
    }
    assert_non_null(dq);
    assert_int_equal(qs_node_attr_int(dq, "axis", 1), 1);
    assert_null(qs_node_attr(dq, "axis"));
    values = dequantize(dq, 1, 1);
    check_dequantized(values, case_numbers(doc, "dq_mm_no_axis_dequant"), 6);
    free(values);
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

static void
case22_dequantize_blocks(void **state)
{
    struct qs_diag diag;
    struct qs_model *model;
    json_t *doc;
    const char *names[] = { "dq_blk_axis1", "dq_blk_axis0" };
    const char *keys[] = { "A_dequant", "Bw_dequant" };

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(lt_load_case("22-dequantize-block-size-opset21", "model.onnx", 0, &diag,
                                  &model), QS_OK);
    doc = lt_case_json("22-dequantize-block-size-opset21");
    assert_int_equal(qs_model_opset(model, "ai.onnx"), 21);
    for (int k = 0; k < 2; k++) {
        const struct qs_node *dq = NULL;
        float *values;

        for (size_t i = 0; i < model->graph->n_nodes; i++) {
            if (strcmp(model->graph->nodes[i].name, names[k]) == 0)
                dq = &model->graph->nodes[i];
        }
        assert_non_null(dq);
        values = dequantize(dq, (int)qs_node_attr_int(dq, "axis", 1),
                            qs_node_attr_int(dq, "block_size", 0));
        check_dequantized(values, case_numbers(doc, keys[k]), (size_t)dq->inputs[0]->tensor->count);
        free(values);
    }
    json_decref(doc);
    qs_model_free(model);
    qs_diag_done(&diag);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case01_path_traversal_rejected),
        cmocka_unit_test(case02_external_out_of_bounds),
        cmocka_unit_test(case04_dims_data_mismatch),
        cmocka_unit_test(case05_dims_overflow),
        cmocka_unit_test(case06_truncated_and_lfs),
        cmocka_unit_test(case07_typed_fields),
        cmocka_unit_test(case08_constant_weights),
        cmocka_unit_test(case09_subgraph_weights),
        cmocka_unit_test(case11_initializer_as_input),
        cmocka_unit_test(case12_zero_channels),
        cmocka_unit_test(case14_fp16_bf16),
        cmocka_unit_test(case15_int4_packing),
        cmocka_unit_test(case16_convtranspose),
        cmocka_unit_test(case18_names),
        cmocka_unit_test(case19_zero_size),
        cmocka_unit_test(case21_dequantize_axis),
        cmocka_unit_test(case22_dequantize_blocks),
    };

    if (lt_skip_without_testdata())
        return 0;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
