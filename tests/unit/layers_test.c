/*
 * Layer discovery and layer data: the shared cases (numbers from their
 * case.json, under the int8 symmetric per-channel convention they state),
 * the PaddleOCR and Silero models, and synthetic graphs for folding,
 * axes, batch normalization and the quantized ops.  The cases and models
 * are skipped visibly without QSCOPE_TESTDATA.
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

#include <cmocka.h>
#include <jansson.h>

#include "layers.h"
#include "model_builder.h"
#include "quant.h"
#include "stats.h"
#include "status.h"

/* ---- helpers ---- */

static const char *
testdata(void)
{
    const char *dir = getenv("QSCOPE_TESTDATA");
    struct stat st;

    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return dir;
}

#define REQUIRE_TESTDATA()                                                  \
    do {                                                                    \
        if (!testdata()) {                                                  \
            print_message("QSCOPE_TESTDATA is not set or missing: skipped\n"); \
            skip();                                                         \
        }                                                                   \
    } while (0)

/* A loaded model with its layers and the messages of both steps. */
struct loaded {
    struct qs_model *model;
    struct qs_layers *layers;
    struct qs_diag diag;
    json_t *doc;
};

static void
load_path(struct loaded *l, const char *path, int keep_going)
{
    struct qs_load_options options = { keep_going };

    qs_diag_init(&l->diag);
    l->doc = NULL;
    if (qs_model_load(path, &options, &l->diag, &l->model) != QS_OK) {
        qs_diag_print(&l->diag, path);
        fail_msg("cannot load %s", path);
    }
    assert_int_equal(qs_layers_build(l->model, keep_going, &l->diag, &l->layers), QS_OK);
}

/* Load "$QSCOPE_TESTDATA/cases/NAME/model.onnx" and its case.json. */
static void
load_case(struct loaded *l, const char *name, int keep_going)
{
    char path[4096];
    json_error_t error;

    snprintf(path, sizeof(path), "%s/cases/%s/model.onnx", testdata(), name);
    load_path(l, path, keep_going);
    snprintf(path, sizeof(path), "%s/cases/%s/case.json", testdata(), name);
    l->doc = json_load_file(path, 0, &error);
    if (!l->doc)
        fail_msg("%s: %s", path, error.text);
}

static void
unload(struct loaded *l)
{
    qs_layers_free(l->layers);
    qs_model_free(l->model);
    qs_diag_done(&l->diag);
    json_decref(l->doc);
}

static int
diag_has(const struct qs_diag *diag, const char *a, const char *b)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++)
        if (strstr(diag->lines[i], a) && (!b || strstr(diag->lines[i], b)))
            return 1;
    return 0;
}

static const json_t *
numbers(const struct loaded *l, const char *key)
{
    const json_t *value = json_object_get(json_object_get(l->doc, "numbers"), key);

    if (!value)
        fail_msg("case.json has no numbers.%s", key);
    return value;
}

static const struct qs_layer *
find_layer(const struct loaded *l, const char *key)
{
    const struct qs_layer *layer = qs_layers_find(l->layers, key);

    if (!layer)
        fail_msg("no layer '%s'", key);
    return layer;
}

/*
 * Absolute tolerance near zero: case 12 gives the MSE of a channel that
 * contains one subnormal value as 0 "to within 1e-80".
 */
#define ABS_TOLERANCE 1e-80

static void
assert_close(double actual, double expected, double rel, const char *what, size_t index)
{
    double tolerance = rel * fabs(expected) + ABS_TOLERANCE;

    if (!(fabs(actual - expected) <= tolerance))
        fail_msg("%s[%zu]: got %.10g, expected %.10g (relative tolerance %g)", what, index,
                 actual, expected, rel);
}

static float *
layer_values(const struct loaded *l, const struct qs_layer *layer, unsigned flags,
             struct qs_layer_data *data)
{
    if (qs_layer_data_get(l->layers, layer, flags, (struct qs_diag *)&l->diag, data) != QS_OK)
        fail_msg("layer '%s': data cannot be read", layer->key);
    return data->values;
}

/* Assert the layer's values equal the JSON array (nested arrays flattened) as float32. */
static void
check_values(const struct loaded *l, const char *key, const json_t *expected)
{
    const struct qs_layer *layer = find_layer(l, key);
    struct qs_layer_data data;
    float *values = layer_values(l, layer, 0, &data);
    size_t n = 0, i;
    const json_t *row;

    json_array_foreach(expected, i, row) {
        if (json_is_array(row)) {
            size_t k;
            const json_t *cell;

            json_array_foreach(row, k, cell) {
                assert_true(n < data.count);
                assert_close(values[n], (float)json_number_value(cell), 0.0, key, n);
                n++;
            }
        } else {
            assert_true(n < data.count);
            assert_close(values[n], (float)json_number_value(row), 0.0, key, n);
            n++;
        }
    }
    assert_int_equal(n, data.count);
    qs_layer_data_done(&data);
}

/*
 * Relative tolerance for the per-channel MSE.  The reference dequantizes
 * in float64 with a float64 scale and the trial in float32.  That moves
 * each error by up to about 1e-7 of the weight, which is about 5e-5 of an
 * error of half a step at 127 steps.
 */
#define MSE_TOLERANCE 1e-4

static void
check_json_array(const json_t *array, const double *actual, size_t n, double rel,
                 const char *what)
{
    assert_int_equal(json_array_size(array), n);
    for (size_t c = 0; c < n; c++)
        assert_close(actual[c], json_number_value(json_array_get(array, c)), rel, what, c);
}

/* Per-channel MSE of "dequant" against "values" along the layout's channels. */
static void
channel_mse(const struct qs_layer_data *data, const float *dequant, double *mse)
{
    uint64_t *count = qs_calloc(data->channels + 1, sizeof(uint64_t));

    for (uint64_t c = 0; c < data->channels; c++)
        mse[c] = 0.0;
    for (uint64_t i = 0; i < data->count; i++) {
        uint64_t c = (i / data->inner) % data->channels;
        double e = (double)data->values[i] - (double)dequant[i];

        mse[c] += e * e;
        count[c]++;
    }
    for (uint64_t c = 0; c < data->channels; c++)
        mse[c] = count[c] ? mse[c] / (double)count[c] : 0.0;
    free(count);
}

/*
 * Check a case's per-channel block (axis, channels, min, max, absmax,
 * scale, mse) against the layer's statistics and an int8 symmetric
 * per-channel trial.
 */
static void
check_channels(const struct loaded *l, const char *key, const json_t *block)
{
    const struct qs_layer *layer = find_layer(l, key);
    struct qs_layer_data data;
    struct qs_stats stats;
    struct qs_stats_layout layout;
    struct qs_quant_config config;
    struct qs_quant_layout qlayout;
    struct qs_quant_request request = { 0 };
    struct qs_quant_result result;
    size_t channels = (size_t)json_integer_value(json_object_get(block, "channels"));
    float *dequant, *scales;
    double *mse;

    assert_int_equal(layer->channel_axis, json_integer_value(json_object_get(block, "axis")));
    layer_values(l, layer, 0, &data);
    assert_int_equal(data.channels, channels);

    layout.outer = data.outer;
    layout.channels = data.channels;
    layout.inner = data.inner;
    assert_int_equal(qs_stats_compute(&stats, data.values, &layout, NULL), QS_OK);
    check_json_array(json_object_get(block, "min"), stats.channel_min, channels, 1e-7, "min");
    check_json_array(json_object_get(block, "max"), stats.channel_max, channels, 1e-7, "max");
    check_json_array(json_object_get(block, "absmax"), stats.channel_absmax, channels, 1e-7,
                     "absmax");
    qs_stats_done(&stats);

    assert_int_equal(qs_quant_config_parse("int8:channel:sym:minmax", &config, NULL, 0), QS_OK);
    assert_int_equal(qs_quant_layout_init(&qlayout, layer->dims, layer->rank,
                                          layer->channel_axis, layer->group_axis, NULL, NULL),
                     QS_OK);
    dequant = qs_calloc(data.count + 1, sizeof(float));
    scales = qs_calloc(channels + 1, sizeof(float));
    mse = qs_calloc(channels + 1, sizeof(double));
    request.config = &config;
    request.layout = &qlayout;
    request.weights = data.values;
    request.threads = 1;
    request.output.dequant = dequant;
    request.output.scales = scales;
    assert_int_equal(qs_quant_trial(&request, &result, NULL), QS_OK);
    for (size_t c = 0; c < channels; c++)
        mse[c] = scales[c];
    check_json_array(json_object_get(block, "scale"), mse, channels, 1e-7, "scale");
    channel_mse(&data, dequant, mse);
    check_json_array(json_object_get(block, "mse"), mse, channels, MSE_TOLERANCE, "mse");

    free(dequant);
    free(scales);
    free(mse);
    qs_layer_data_done(&data);
}

/* ---- the shared cases ---- */

static void
case08_constant_node_weights(void **state)
{
    struct loaded l;
    const struct qs_layer *bias;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "08-constant-node-weights", 0);
    assert_int_equal(l.layers->n_quantizable, 2);
    assert_string_equal(find_layer(&l, "convW")->ops, "Conv");
    assert_string_equal(find_layer(&l, "mmW")->ops, "MatMul");
    check_channels(&l, "convW", numbers(&l, "conv_weight_per_channel_axis0"));
    check_channels(&l, "mmW", numbers(&l, "fc_weight_KxN_per_channel_axis1"));

    bias = find_layer(&l, "convB");
    assert_false(bias->quantizable);
    assert_non_null(strstr(bias->not_quantizable, "bias of Conv 'conv'"));
    check_values(&l, "convB", numbers(&l, "conv_bias"));
    unload(&l);
}

static void
case09_subgraph_weights_scoped(void **state)
{
    const char *keys[] = { "if0/then_branch/W_then", "if0/else_branch/W_else",
                           "loop0/body/W_loop" };
    const json_t *weights;
    struct loaded l;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "09-subgraph-weights", 0);
    weights = numbers(&l, "weights");
    assert_int_equal(l.layers->n_quantizable, 3);
    for (size_t i = 0; i < 3; i++)
        check_channels(&l, keys[i], json_object_get(weights, keys[i]));
    unload(&l);
}

static void
case11_initializer_graph_input(void **state)
{
    struct loaded l;
    const struct qs_layer *w;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "11-initializer-is-graph-input", 0);
    w = find_layer(&l, "W");
    assert_true(w->overridable);
    assert_int_equal(w->group_axis, 0);
    check_channels(&l, "W", numbers(&l, "W_gemm_transB0_per_channel_axis1"));
    assert_false(find_layer(&l, "bias")->quantizable);
    unload(&l);
}

static void
case12_zero_channels_flagged(void **state)
{
    struct loaded l;
    const struct qs_layer *w;
    struct qs_layer_data data;
    struct qs_stats stats;
    struct qs_stats_layout layout;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "12-zero-constant-channels", 0);
    check_channels(&l, "W", numbers(&l, "per_channel_axis0"));

    w = find_layer(&l, "W");
    layer_values(&l, w, 0, &data);
    layout.outer = data.outer;
    layout.channels = data.channels;
    layout.inner = data.inner;
    assert_int_equal(qs_stats_compute(&stats, data.values, &layout, NULL), QS_OK);
    assert_int_equal(stats.dead_channels, 1);
    assert_true(stats.channel_flags[1] & QS_CHANNEL_DEAD);
    assert_int_equal(stats.subnormal_channels, 1);
    assert_true(stats.channel_flags[3] & QS_CHANNEL_SUBNORMAL);
    assert_int_equal(stats.channel_flags[2], 0);
    qs_stats_done(&stats);
    qs_layer_data_done(&data);
    unload(&l);
}

static void
case14_fp16_bf16_through_cast(void **state)
{
    struct loaded l;
    const struct qs_layer *w16, *wbf;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "14-fp16-bf16-weights", 0);
    w16 = find_layer(&l, "W16_f32");
    assert_ptr_equal(find_layer(&l, "W16"), w16);
    assert_int_equal(w16->stored_dtype, QS_DT_FLOAT16);
    assert_string_equal(w16->chain, "Cast");
    check_values(&l, "W16", numbers(&l, "W16_decoded"));
    check_channels(&l, "W16", numbers(&l, "W16_per_channel_axis1"));

    wbf = find_layer(&l, "Wbf16");
    assert_int_equal(wbf->stored_dtype, QS_DT_BFLOAT16);
    check_values(&l, "Wbf16", numbers(&l, "Wbf16_decoded"));
    check_channels(&l, "Wbf16", numbers(&l, "Wbf16_per_channel_axis1"));
    unload(&l);
}

static void
case15_int4_uint4_dequantized(void **state)
{
    struct loaded l;
    const struct qs_layer *u;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "15-int4-uint4-packing", 0);
    check_values(&l, "A", numbers(&l, "A_dequant"));
    check_values(&l, "U", numbers(&l, "U_dequant_axis1"));
    check_values(&l, "C", numbers(&l, "C_dequant"));
    u = find_layer(&l, "U");
    assert_non_null(u->quantized);
    assert_int_equal(u->quantized->dtype, QS_DT_UINT4);
    assert_int_equal(u->quantized->bits, 4);
    assert_int_equal(u->quantized->granularity, QS_LAYER_PER_AXIS);
    assert_int_equal(u->quantized->axis, 1);
    assert_int_equal(find_layer(&l, "A")->quantized->dtype, QS_DT_INT4);
    unload(&l);
}

static void
case16_convtranspose_axis_one(void **state)
{
    struct loaded l;
    const struct qs_layer *w2;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "16-convtranspose-axis", 0);
    check_channels(&l, "W1", numbers(&l, "W1_correct_axis1"));
    assert_null(find_layer(&l, "W1")->axis_note);

    w2 = find_layer(&l, "W2");
    check_channels(&l, "W2", numbers(&l, "W2_axis1_shared_across_groups"));
    assert_non_null(w2->axis_note);
    assert_non_null(strstr(w2->axis_note, "not expressible"));
    assert_int_equal(w2->group_axis, 0);
    unload(&l);
}

static void
case18_duplicate_names_weights(void **state)
{
    struct loaded l;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "18-empty-duplicate-names", 0);
    check_channels(&l, "W", numbers(&l, "W_per_channel_axis1"));
    check_channels(&l, "W_scale", numbers(&l, "W_scale_per_channel_axis1"));
    unload(&l);
}

static void
case19_empty_tensors_not_quantized(void **state)
{
    struct loaded l;
    const struct qs_layer *wz, *e;
    struct qs_layer_data data;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "19-zero-size-tensor", 0);
    wz = find_layer(&l, "Wz");
    assert_int_equal(wz->count, 0);
    assert_false(wz->quantizable);
    assert_non_null(strstr(wz->not_quantizable, "empty"));
    layer_values(&l, wz, 0, &data);
    assert_int_equal(data.count, 0);
    assert_int_equal(data.channels, 0);
    qs_layer_data_done(&data);
    e = find_layer(&l, "E");
    assert_int_equal(e->count, 0);
    assert_false(e->quantizable);
    check_channels(&l, "W", numbers(&l, "W_per_channel_axis1"));
    assert_int_equal(l.layers->n_quantizable, 1);
    unload(&l);
}

static void
case21_dequantize_default_axis(void **state)
{
    struct loaded l;
    const struct qs_layer *mm;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "21-dequantize-default-axis", 0);
    assert_int_equal(l.diag.worst, QS_INVALID);
    assert_true(diag_has(&l.diag, "'dq_conv_no_axis'", "scale has 3 entries"));
    assert_true(diag_has(&l.diag, "axis 1 (the default)", "has size 2"));
    assert_null(qs_layers_find(l.layers, "W_conv"));
    mm = find_layer(&l, "W_mm");
    assert_int_equal(mm->quantized->granularity, QS_LAYER_PER_AXIS);
    assert_int_equal(mm->quantized->axis, 1);
    check_values(&l, "W_mm", numbers(&l, "dq_mm_no_axis_dequant"));
    unload(&l);

    load_case(&l, "21-dequantize-default-axis", 1);
    assert_int_equal(l.diag.worst, QS_OK);
    assert_true(diag_has(&l.diag, "'dq_conv_no_axis'", "going on without it"));
    unload(&l);
}

static void
case22_blocked_dequantize(void **state)
{
    struct loaded l;
    const struct qs_layer *bw;

    (void)state;
    REQUIRE_TESTDATA();
    load_case(&l, "22-dequantize-block-size-opset21", 0);
    bw = find_layer(&l, "Bw");
    assert_int_equal(bw->quantized->granularity, QS_LAYER_PER_BLOCK);
    assert_int_equal(bw->quantized->block_size, 2);
    assert_int_equal(bw->quantized->axis, 0);
    assert_int_equal(bw->quantized->n_scales, 6);
    check_values(&l, "Bw", numbers(&l, "Bw_dequant"));
    check_values(&l, "A", numbers(&l, "A_dequant"));
    unload(&l);
}

/* ---- real models ---- */

struct model_expect {
    const char *file;
    size_t conv, conv_transpose, matmul;
};

static void
count_ops(const struct qs_layers *layers, size_t *conv, size_t *convt, size_t *matmul)
{
    *conv = *convt = *matmul = 0;
    for (size_t i = 0; i < layers->count; i++) {
        const struct qs_layer *layer = &layers->items[i];

        if (!layer->quantizable)
            continue;
        *conv += strcmp(layer->ops, "Conv") == 0;
        *convt += strcmp(layer->ops, "ConvTranspose") == 0;
        *matmul += strcmp(layer->ops, "MatMul") == 0;
        assert_true(layer->channel_axis >= 0);
        assert_null(layer->fault);
    }
}

static void
real_models_conv_layers(void **state)
{
    static const struct model_expect models[] = {
        { "ch_PP-OCRv4_det_infer.onnx", 62, 2, 0 },
        { "ch_PP-OCRv4_rec_infer.onnx", 38, 0, 9 },
        { "ch_ppocr_mobile_v2.0_cls_infer.onnx", 53, 0, 1 },
        { "silero_vad.onnx", 12, 0, 0 },
    };

    (void)state;
    REQUIRE_TESTDATA();
    for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
        char path[4096];
        struct loaded l;
        size_t conv, convt, matmul;

        snprintf(path, sizeof(path), "%s/models/real/%s", testdata(), models[m].file);
        load_path(&l, path, 0);
        count_ops(l.layers, &conv, &convt, &matmul);
        if (conv != models[m].conv || convt != models[m].conv_transpose
            || matmul != models[m].matmul)
            fail_msg("%s: %zu Conv, %zu ConvTranspose, %zu MatMul layers", models[m].file, conv,
                     convt, matmul);
        assert_int_equal(l.layers->n_quantizable, conv + convt + matmul);
        unload(&l);
    }
}

static void
real_model_batch_norm_folded(void **state)
{
    char path[4096];
    struct loaded l;
    const struct qs_layer *w, *gamma, *var;
    struct qs_layer_data raw, folded, g, v;
    uint64_t inner;
    float eps;

    (void)state;
    REQUIRE_TESTDATA();
    snprintf(path, sizeof(path), "%s/models/real/ch_PP-OCRv4_rec_infer.onnx", testdata());
    load_path(&l, path, 0);
    w = find_layer(&l, "conv2d_10.w_0");
    assert_non_null(w->bn);
    gamma = find_layer(&l, w->bn->inputs[1]->name);
    var = find_layer(&l, w->bn->inputs[4]->name);
    eps = qs_node_attr_float(w->bn, "epsilon", 1e-5f);
    layer_values(&l, w, QS_LAYER_NO_FOLD_BN, &raw);
    layer_values(&l, w, 0, &folded);
    layer_values(&l, gamma, 0, &g);
    layer_values(&l, var, 0, &v);
    assert_false(raw.bn_folded);
    assert_true(folded.bn_folded);
    inner = w->count / (uint64_t)w->dims[0];
    for (uint64_t i = 0; i < w->count; i++) {
        uint64_t m = i / inner;
        double expected = raw.values[i] * (g.values[m] / sqrt((double)v.values[m] + eps));

        assert_close(folded.values[i], (float)expected, 0.0, "folded", (size_t)i);
    }
    qs_layer_data_done(&raw);
    qs_layer_data_done(&folded);
    qs_layer_data_done(&g);
    qs_layer_data_done(&v);
    assert_null(find_layer(&l, "conv2d_157.w_0")->bn);
    unload(&l);
}

/* ---- synthetic graphs ---- */

static void
load_built(struct model_builder *mb, struct loaded *l, int keep_going)
{
    struct qs_load_options options = { keep_going };

    qs_diag_init(&l->diag);
    l->doc = NULL;
    if (mb_load(mb, &options, &l->diag, &l->model) != QS_OK) {
        qs_diag_print(&l->diag, "test.onnx");
        fail_msg("synthetic model does not load");
    }
    assert_int_equal(qs_layers_build(l->model, keep_going, &l->diag, &l->layers), QS_OK);
}

static void
check_floats(const struct loaded *l, const char *key, const float *expected, size_t n)
{
    const struct qs_layer *layer = find_layer(l, key);
    struct qs_layer_data data;

    layer_values(l, layer, 0, &data);
    assert_int_equal(data.count, n);
    for (size_t i = 0; i < n; i++)
        assert_close(data.values[i], expected[i], 0.0, key, i);
    qs_layer_data_done(&data);
}

static void
fold_transpose_reshape_chain(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t wdims[2] = { 2, 3 }, sdims[1] = { 2 }, perm[2] = { 1, 0 };
    const float w[6] = { 1, 2, 3, 4, 5, 6 };
    const int64_t shape[2] = { 3, 2 };
    const float expected[6] = { 1, 4, 2, 5, 3, 6 };
    const struct qs_layer *layer;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 2, wdims, w);
    mb_init_raw(&mb, "shape", QS_DT_INT64, 1, sdims, shape, sizeof(shape));
    mb_attr_ints(&mb, mb_node(&mb, "Transpose", "t", "W", "Wt"), "perm", 2, perm);
    mb_node(&mb, "Reshape", "r", "Wt,shape", "Wr");
    mb_node(&mb, "MatMul", "mm", "X,Wr", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    assert_int_equal(l.layers->count, 1);
    layer = find_layer(&l, "Wr");
    assert_ptr_equal(find_layer(&l, "W"), layer);
    assert_string_equal(layer->chain, "Transpose > Reshape");
    assert_int_equal(layer->rank, 2);
    assert_int_equal(layer->dims[0], 3);
    assert_int_equal(layer->channel_axis, 1);
    assert_int_equal(layer->group_axis, 0);
    check_floats(&l, "Wr", expected, 6);
    assert_null(qs_layers_find(l.layers, "shape"));
    unload(&l);
    mb_done(&mb);
}

static void
fold_cast_fp16_rounds(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t dims[2] = { 1, 2 }, axes[1] = { 0 }, adims[1] = { 1 };
    const float w[2] = { 0.1f, -3.0f };
    const float expected[2] = { 0.0999755859375f, -3.0f };
    const struct qs_layer *layer;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 2, dims, w);
    mb_init_raw(&mb, "axes", QS_DT_INT64, 1, adims, axes, sizeof(axes));
    mb_attr_int(&mb, mb_node(&mb, "Cast", "c16", "W", "W16"), "to", QS_DT_FLOAT16);
    mb_attr_int(&mb, mb_node(&mb, "Cast", "c32", "W16", "W32"), "to", QS_DT_FLOAT);
    mb_node(&mb, "Squeeze", "sq", "W32,axes", "Ws");
    mb_node(&mb, "Unsqueeze", "us", "Ws,axes", "Wu");
    mb_node(&mb, "MatMul", "mm", "X,Wu", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "Wu");
    assert_string_equal(layer->chain, "Cast > Cast > Squeeze > Unsqueeze");
    assert_int_equal(layer->rank, 2);
    assert_int_equal(layer->stored_dtype, QS_DT_FLOAT);
    check_floats(&l, "Wu", expected, 2);
    unload(&l);
    mb_done(&mb);
}

static void
fold_constant_of_shape(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t sdims[1] = { 2 }, shape[2] = { 2, 3 }, vdims[1] = { 1 };
    const float half = 0.5f;
    const float expected[6] = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
    Onnx__NodeProto *fill;
    const struct qs_layer *layer;

    (void)state;
    mb_init(&mb, 13);
    mb_init_raw(&mb, "shape", QS_DT_INT64, 1, sdims, shape, sizeof(shape));
    fill = mb_node(&mb, "ConstantOfShape", "fill", "shape", "W");
    mb_attr_tensor(&mb, fill, "value", mb_tensor(&mb, "", QS_DT_FLOAT, 1, vdims, &half, 4));
    mb_node(&mb, "MatMul", "mm", "X,W", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "W");
    assert_null(layer->source);
    assert_string_equal(layer->chain, "ConstantOfShape");
    check_floats(&l, "W", expected, 6);
    unload(&l);
    mb_done(&mb);
}

static void
axes_by_consumer(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t d2[2] = { 4, 6 }, d3[3] = { 1, 8, 3 }, g2[2] = { 10, 4 }, gi[1] = { 2 };
    float values[64] = { 0 };
    const int64_t idx[2] = { 1, 3 };
    Onnx__NodeProto *gemm;

    (void)state;
    for (int i = 0; i < 64; i++)
        values[i] = (float)(i % 7) - 3.0f;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "Bt", 2, d2, values);
    mb_init_f32(&mb, "At", 2, d2, values);
    mb_init_f32(&mb, "LW", 3, d3, values);
    mb_init_f32(&mb, "LR", 3, d3, values);
    mb_init_f32(&mb, "E", 2, g2, values);
    mb_init_raw(&mb, "idx", QS_DT_INT64, 1, gi, idx, sizeof(idx));
    gemm = mb_node(&mb, "Gemm", "g", "At,Bt", "G");
    mb_attr_int(&mb, gemm, "transA", 1);
    mb_attr_int(&mb, gemm, "transB", 1);
    mb_node(&mb, "LSTM", "lstm", "X,LW,LR", "H");
    mb_node(&mb, "Gather", "emb", "E,idx", "Z");
    mb_input(&mb, "X");
    mb_output(&mb, "G");
    load_built(&mb, &l, 0);

    assert_int_equal(find_layer(&l, "Bt")->channel_axis, 0);
    assert_int_equal(find_layer(&l, "Bt")->group_axis, 1);
    assert_int_equal(find_layer(&l, "At")->channel_axis, 1);
    assert_int_equal(find_layer(&l, "At")->group_axis, 0);
    assert_int_equal(find_layer(&l, "LW")->channel_axis, 1);
    assert_int_equal(find_layer(&l, "LR")->group_axis, 2);
    assert_int_equal(find_layer(&l, "E")->channel_axis, 0);
    assert_int_equal(find_layer(&l, "E")->group_axis, 1);
    assert_null(qs_layers_find(l.layers, "idx"));
    unload(&l);
    mb_done(&mb);
}

static void
shared_weight_disagreeing_axes(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t dims[2] = { 4, 4 };
    float w[16];
    const struct qs_layer *layer;
    Onnx__NodeProto *gemm;

    (void)state;
    for (int i = 0; i < 16; i++)
        w[i] = (float)i;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 2, dims, w);
    mb_node(&mb, "MatMul", "mm", "X,W", "Y1");
    gemm = mb_node(&mb, "Gemm", "gm", "X,W", "Y2");
    mb_attr_int(&mb, gemm, "transB", 1);
    mb_node(&mb, "Add", "add", "Y1,W", "Y3");
    mb_input(&mb, "X");
    mb_output(&mb, "Y3");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "W");
    assert_int_equal(layer->n_uses, 3);
    assert_string_equal(layer->ops, "MatMul,Gemm,Add");
    assert_true(layer->quantizable);
    assert_int_equal(layer->channel_axis, -1);
    assert_int_equal(layer->group_axis, -1);
    assert_non_null(strstr(layer->axis_note, "disagree"));
    assert_false(layer->uses[2].is_weight);
    assert_string_equal(layer->uses[2].role, "operand");
    unload(&l);
    mb_done(&mb);
}

static void
batch_norm_fold_numbers(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t wdims[4] = { 2, 1, 1, 2 }, cdims[1] = { 2 };
    const float w[4] = { 1, -1, 2, 4 };
    const float gamma[2] = { 2, 3 }, beta[2] = { 0, 0 }, mean[2] = { 5, 5 }, var[2] = { 3, 0 };
    const float folded[4] = { 1, -1, 6, 12 };
    const float raw[4] = { 1, -1, 2, 4 };
    const struct qs_layer *layer;
    struct qs_layer_data data;
    Onnx__NodeProto *bn;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 4, wdims, w);
    mb_init_f32(&mb, "gamma", 1, cdims, gamma);
    mb_init_f32(&mb, "beta", 1, cdims, beta);
    mb_init_f32(&mb, "mean", 1, cdims, mean);
    mb_init_f32(&mb, "var", 1, cdims, var);
    mb_node(&mb, "Conv", "conv", "X,W", "C");
    bn = mb_node(&mb, "BatchNormalization", "bn", "C,gamma,beta,mean,var", "Y");
    mb_attr_float(&mb, bn, "epsilon", 1.0f);
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "W");
    assert_non_null(layer->bn);
    assert_string_equal(layer->bn->label, "bn");
    check_floats(&l, "W", folded, 4);
    layer_values(&l, layer, QS_LAYER_NO_FOLD_BN, &data);
    for (int i = 0; i < 4; i++)
        assert_close(data.values[i], raw[i], 0.0, "raw", (size_t)i);
    qs_layer_data_done(&data);
    assert_false(find_layer(&l, "gamma")->quantizable);
    assert_non_null(strstr(find_layer(&l, "var")->not_quantizable, "variance"));
    unload(&l);
    mb_done(&mb);
}

/*
 * A BatchNormalization whose factor scale / sqrt(var + epsilon) is not
 * finite in some channel (here a negative variance, and a zero one with
 * epsilon 0) would turn good weights into NaN and infinities: the weight
 * stays unfolded and a warning names the node, the channel and the
 * numbers.
 */
static void
batch_norm_invalid_variance_not_folded(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t wdims[4] = { 3, 1, 1, 2 }, cdims[1] = { 3 };
    const float w[6] = { 1, -1, 2, 4, 0.5f, 0.25f };
    const float gamma[3] = { 1, 1, 1 }, beta[3] = { 0 }, mean[3] = { 0 }, var[3] = { 1, -1, 0 };
    const struct qs_layer *layer;
    Onnx__NodeProto *bn;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 4, wdims, w);
    mb_init_f32(&mb, "gamma", 1, cdims, gamma);
    mb_init_f32(&mb, "beta", 1, cdims, beta);
    mb_init_f32(&mb, "mean", 1, cdims, mean);
    mb_init_f32(&mb, "var", 1, cdims, var);
    mb_node(&mb, "Conv", "conv", "X,W", "C");
    bn = mb_node(&mb, "BatchNormalization", "bn", "C,gamma,beta,mean,var", "Y");
    mb_attr_float(&mb, bn, "epsilon", 0.0f);
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "W");
    assert_null(layer->bn);
    assert_int_equal(l.diag.worst, QS_OK);
    assert_int_equal(l.diag.warnings, 1);
    assert_true(diag_has(&l.diag, "BatchNormalization 'bn' is not folded into 'W'",
                         "channel 1 has scale 1, variance -1 and epsilon 0"));
    check_floats(&l, "W", w, 6);
    unload(&l);
    mb_done(&mb);
}

static void
qlinearconv_weight_dequantized(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t wdims[4] = { 2, 1, 1, 2 }, cdims[1] = { 2 }, sdims[1] = { 1 };
    const int8_t q[4] = { 3, -5, 7, 1 };
    const float scale[2] = { 0.5f, 0.25f }, one = 1.0f;
    const int8_t zp[2] = { 1, -1 }, zero = 0;
    const float expected[4] = { 1.0f, -3.0f, 2.0f, 0.5f };
    const struct qs_layer *layer;

    (void)state;
    mb_init(&mb, 13);
    mb_init_raw(&mb, "Wq", QS_DT_INT8, 4, wdims, q, sizeof(q));
    mb_init_f32(&mb, "ws", 1, cdims, scale);
    mb_init_raw(&mb, "wz", QS_DT_INT8, 1, cdims, zp, sizeof(zp));
    mb_init_f32(&mb, "xs", 0, sdims, &one);
    mb_init_raw(&mb, "xz", QS_DT_INT8, 0, sdims, &zero, 1);
    mb_node(&mb, "QLinearConv", "qconv", "X,xs,xz,Wq,ws,wz,xs,xz", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "Wq");
    assert_true(layer->quantizable);
    assert_int_equal(layer->channel_axis, 0);
    assert_non_null(layer->quantized);
    assert_string_equal(layer->quantized->op, "QLinearConv");
    assert_int_equal(layer->quantized->granularity, QS_LAYER_PER_AXIS);
    assert_int_equal(layer->quantized->axis, 0);
    assert_int_equal(layer->quantized->bits, 8);
    assert_int_equal(layer->quantized->stored_bytes, 4 + 8 + 2);
    check_floats(&l, "Wq", expected, 4);
    unload(&l);
    mb_done(&mb);
}

static void
matmulinteger_weight_without_scale(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t bdims[2] = { 3, 2 }, zdims[1] = { 2 };
    const uint8_t b[6] = { 10, 200, 0, 255, 128, 100 };
    const uint8_t zp[2] = { 128, 100 };
    const float expected[6] = { -118, 100, -128, 155, 0, 0 };
    const struct qs_layer *layer;
    char text[256];

    (void)state;
    mb_init(&mb, 13);
    mb_init_raw(&mb, "B", QS_DT_UINT8, 2, bdims, b, sizeof(b));
    mb_init_raw(&mb, "bz", QS_DT_UINT8, 1, zdims, zp, sizeof(zp));
    mb_node(&mb, "MatMulInteger", "mmi", "X,B,,bz", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "B");
    assert_false(layer->quantized->has_scale);
    assert_int_equal(layer->quantized->axis, 1);
    assert_int_equal(layer->channel_axis, 1);
    assert_non_null(strstr(qs_layer_format(layer, text, sizeof(text)), "scale applied outside"));
    check_floats(&l, "B", expected, 6);
    unload(&l);
    mb_done(&mb);
}

/* MatMulNBits with K = 20 (two blocks of 16, the second partly padding) and N = 2. */
static void
matmulnbits_blocks_unpacked(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t bdims[3] = { 2, 2, 8 }, sdims[1] = { 4 }, zdims[1] = { 2 };
    uint8_t b[32] = { 0 }, zp[2];
    float scales[4], expected[40];
    const struct qs_layer *layer;
    Onnx__NodeProto *node;

    (void)state;
    for (int n = 0; n < 2; n++) {
        zp[n] = (uint8_t)(((n + 0) % 16) | (((n + 3) % 16) << 4));
        for (int blk = 0; blk < 2; blk++) {
            scales[n * 2 + blk] = 0.125f * (float)(n + 1) + 0.5f * (float)blk;
            for (int j = 0; j < 16; j++) {
                int k = blk * 16 + j;
                int code = (n * 7 + k) % 16;

                b[(n * 2 + blk) * 8 + j / 2] |= (uint8_t)(code << (4 * (j % 2)));
                if (k < 20)
                    expected[n * 20 + k] = (float)(code - (blk ? (n + 3) % 16 : n % 16))
                                           * scales[n * 2 + blk];
            }
        }
    }
    mb_init(&mb, 13);
    mb_init_raw(&mb, "Bq", QS_DT_UINT8, 3, bdims, b, sizeof(b));
    mb_init_f32(&mb, "sc", 1, sdims, scales);
    mb_init_raw(&mb, "zp", QS_DT_UINT8, 1, zdims, zp, sizeof(zp));
    node = mb_node(&mb, "MatMulNBits", "nb", "X,Bq,sc,zp", "Y");
    mb_node_domain(&mb, node, "com.microsoft");
    mb_attr_int(&mb, node, "K", 20);
    mb_attr_int(&mb, node, "N", 2);
    mb_attr_int(&mb, node, "bits", 4);
    mb_attr_int(&mb, node, "block_size", 16);
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    layer = find_layer(&l, "Bq");
    assert_int_equal(layer->rank, 2);
    assert_int_equal(layer->dims[0], 2);
    assert_int_equal(layer->dims[1], 20);
    assert_int_equal(layer->channel_axis, 0);
    assert_int_equal(layer->group_axis, 1);
    assert_int_equal(layer->quantized->granularity, QS_LAYER_PER_BLOCK);
    assert_int_equal(layer->quantized->block_size, 16);
    assert_int_equal(layer->quantized->bits, 4);
    assert_true(qs_layer_matches(layer, "op:MatMulNBits"));
    assert_true(qs_layer_matches(layer, "op:com.microsoft.MatMulNBits"));
    check_floats(&l, "Bq", expected, 40);
    unload(&l);
    mb_done(&mb);
}

static void
matmulnbits_wrong_shape_reported(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t bdims[3] = { 2, 1, 8 }, sdims[1] = { 4 };
    uint8_t b[16] = { 0 };
    float scales[4] = { 1, 1, 1, 1 };
    Onnx__NodeProto *node;

    (void)state;
    mb_init(&mb, 13);
    mb_init_raw(&mb, "Bq", QS_DT_UINT8, 3, bdims, b, sizeof(b));
    mb_init_f32(&mb, "sc", 1, sdims, scales);
    node = mb_node(&mb, "MatMulNBits", "nb", "X,Bq,sc", "Y");
    mb_node_domain(&mb, node, "com.microsoft");
    mb_attr_int(&mb, node, "K", 20);
    mb_attr_int(&mb, node, "N", 2);
    mb_attr_int(&mb, node, "block_size", 16);
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);

    assert_true(diag_has(&l.diag, "MatMulNBits 'nb'", "B must have shape [2, 2, 8]"));
    assert_non_null(find_layer(&l, "Bq")->fault);
    assert_false(find_layer(&l, "Bq")->quantizable);
    unload(&l);
    mb_done(&mb);
}

static void
dequantize_per_axis_needs_opset13(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t qdims[2] = { 2, 2 }, sdims[1] = { 2 };
    const int8_t q[4] = { 1, 2, 3, 4 };
    const float s[2] = { 1, 2 };

    (void)state;
    mb_init(&mb, 10);
    mb_init_raw(&mb, "Wq", QS_DT_INT8, 2, qdims, q, sizeof(q));
    mb_init_f32(&mb, "s", 1, sdims, s);
    mb_node(&mb, "DequantizeLinear", "dq", "Wq,s", "W");
    mb_node(&mb, "MatMul", "mm", "X,W", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);
    assert_true(diag_has(&l.diag, "DequantizeLinear 'dq' has 2 scales", "opset 10"));
    assert_null(qs_layers_find(l.layers, "W"));
    unload(&l);
    mb_done(&mb);
}

static void
nonfinite_weight_warned(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t dims[2] = { 2, 2 };
    const float w[4] = { 1.0f, 2.0f, INFINITY, NAN };
    struct qs_layer_data data;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "W", 2, dims, w);
    mb_node(&mb, "MatMul", "mm", "X,W", "Y");
    mb_input(&mb, "X");
    mb_output(&mb, "Y");
    load_built(&mb, &l, 0);
    layer_values(&l, find_layer(&l, "W"), 0, &data);
    assert_int_equal(data.n_nan, 1);
    assert_int_equal(data.n_inf, 1);
    assert_int_equal(data.first_nonfinite, 2);
    assert_int_equal(l.diag.worst, QS_OK);
    assert_int_equal(l.diag.warnings, 1);
    assert_true(diag_has(&l.diag, "weight 'W' has 1 NaN and 1 infinite", "flat index 2"));
    qs_layer_data_done(&data);
    unload(&l);
    mb_done(&mb);
}

static void
patterns_select_layers(void **state)
{
    struct model_builder mb;
    struct loaded l;
    const int64_t dims[2] = { 2, 2 }, cdims[4] = { 2, 2, 1, 1 };
    const float w[4] = { 1, 2, 3, 4 };
    const struct qs_layer *a, *c;

    (void)state;
    mb_init(&mb, 13);
    mb_init_f32(&mb, "enc/fc.w", 2, dims, w);
    mb_init_f32(&mb, "conv.w", 4, cdims, w);
    mb_node(&mb, "MatMul", "mm", "X,enc/fc.w", "Y1");
    mb_node(&mb, "Conv", "cv", "X,conv.w", "Y2");
    mb_input(&mb, "X");
    mb_output(&mb, "Y1");
    load_built(&mb, &l, 0);

    a = find_layer(&l, "enc/fc.w");
    c = find_layer(&l, "conv.w");
    assert_true(qs_layer_matches(a, "enc/*"));
    assert_true(qs_layer_matches(a, "*.w"));
    assert_true(qs_layer_matches(c, "*.w"));
    assert_false(qs_layer_matches(c, "enc/*"));
    assert_true(qs_layer_matches(c, "op:Conv"));
    assert_false(qs_layer_matches(a, "op:Conv"));
    assert_true(qs_layer_pattern_is_literal("enc/fc.w"));
    assert_false(qs_layer_pattern_is_literal("enc/*"));
    assert_false(qs_layer_pattern_is_literal("op:Conv"));
    unload(&l);
    mb_done(&mb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(case08_constant_node_weights),
        cmocka_unit_test(case09_subgraph_weights_scoped),
        cmocka_unit_test(case11_initializer_graph_input),
        cmocka_unit_test(case12_zero_channels_flagged),
        cmocka_unit_test(case14_fp16_bf16_through_cast),
        cmocka_unit_test(case15_int4_uint4_dequantized),
        cmocka_unit_test(case16_convtranspose_axis_one),
        cmocka_unit_test(case18_duplicate_names_weights),
        cmocka_unit_test(case19_empty_tensors_not_quantized),
        cmocka_unit_test(case21_dequantize_default_axis),
        cmocka_unit_test(case22_blocked_dequantize),
        cmocka_unit_test(real_models_conv_layers),
        cmocka_unit_test(real_model_batch_norm_folded),
        cmocka_unit_test(fold_transpose_reshape_chain),
        cmocka_unit_test(fold_cast_fp16_rounds),
        cmocka_unit_test(fold_constant_of_shape),
        cmocka_unit_test(axes_by_consumer),
        cmocka_unit_test(shared_weight_disagreeing_axes),
        cmocka_unit_test(batch_norm_fold_numbers),
        cmocka_unit_test(batch_norm_invalid_variance_not_folded),
        cmocka_unit_test(qlinearconv_weight_dequantized),
        cmocka_unit_test(matmulinteger_weight_without_scale),
        cmocka_unit_test(matmulnbits_blocks_unpacked),
        cmocka_unit_test(matmulnbits_wrong_shape_reported),
        cmocka_unit_test(dequantize_per_axis_needs_opset13),
        cmocka_unit_test(nonfinite_weight_warned),
        cmocka_unit_test(patterns_select_layers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
