/*
 * Evaluation with fake-quantized activations through the interpreter's
 * transform hook: a layer input that is a view (a Reshape output) is
 * quantized, and the layer reads the quantized values.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval.h"
#include "model_builder.h"

/* The trace row named "name", or NULL. */
static const struct qs_eval_trace *
trace_find(const struct qs_eval_result *r, const char *name)
{
    for (size_t i = 0; i < r->n_trace; i++) {
        if (strcmp(r->trace[i].name, name) == 0)
            return &r->trace[i];
    }
    return NULL;
}

/*
 * x [2, 2] -> Relu -> a -> Reshape [1, 4] -> r -> MatMul W [4, 1] -> y.
 * r, the activation of layer W, is a view of a.  W = (127, 2, 3, 1)
 * quantizes exactly (int8 channel sym: scale 127 / 127 = 1).  With
 * x = (0, 0.5, 1, 255), dynamic asym int8 has scale 255 / 255 = 1 and
 * zero point 0, so r becomes (0, 0, 1, 255): 0.5 rounds half to even.
 * y is 0 + 1 + 3 + 255 = 259 in float and 0 + 0 + 3 + 255 = 258 when
 * MatMul reads the quantized r.
 */
static void
test_eval_quantizes_reshape_output(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_layers *layers;
    struct qs_plan plan;
    struct qs_plan_layer entry;
    struct qs_act_config act;
    struct qs_eval_options opts = { .act = &act, .trace = 1, .threads = 1 };
    struct qs_eval_result result;
    struct qs_rt_tensor *x;
    struct qs_input_set inputs = { .n_inputs = 1, .n_samples = 1, .tensors = &x };
    const struct qs_eval_trace *row;
    const float xv[4] = { 0, 0.5f, 1, 255 }, wv[4] = { 127, 2, 3, 1 };
    const int64_t x_dims[2] = { 2, 2 }, w_dims[2] = { 4, 1 }, shape_dims[1] = { 2 };
    const int64_t shape[2] = { 1, 4 };
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_init_f32(&mb, "W", 2, w_dims, wv);
    mb_init_raw(&mb, "shape", QS_DT_INT64, 1, shape_dims, shape, sizeof(shape));
    mb_node(&mb, "Relu", "relu", "x", "a");
    mb_node(&mb, "Reshape", "reshape", "a,shape", "r");
    mb_node(&mb, "MatMul", "matmul", "r,W", "y");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_layers_build(model, 0, &diag, &layers), QS_OK);
    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, x_dims, &x), QS_OK);
    memcpy(x->data, xv, sizeof(xv));

    qs_plan_init(&plan);
    memset(&entry, 0, sizeof(entry));
    entry.key = "W";
    assert_int_equal(qs_quant_config_parse("int8", &entry.config, NULL, 0), QS_OK);
    plan.count = 1;
    plan.layers = &entry;
    opts.plan = &plan;
    assert_int_equal(qs_act_config_parse("int8:dynamic:asym", &act, NULL, 0), QS_OK);

    assert_int_equal(qs_eval_run(model, layers, &inputs, &opts, &diag, &result), QS_OK);
    assert_int_equal(result.samples, 1);
    assert_int_equal(result.n_act, 1);
    assert_int_equal(result.act_skipped, 0);
    assert_int_equal(result.diverged, 0);
    assert_true(result.weights.exact);

    /* The Reshape output was quantized: one element off by 0.5. */
    row = trace_find(&result, "r");
    assert_non_null(row);
    assert_true(row->act_quantized);
    assert_int_equal(row->act_metrics.count, 4);
    assert_true(row->act_metrics.sum_sq_err == 0.25);
    assert_true(row->metrics.sum_sq_err == 0.25);

    /* Its base, the Relu output, was not. */
    row = trace_find(&result, "a");
    assert_non_null(row);
    assert_false(row->act_quantized);
    assert_true(row->metrics.exact);

    /* MatMul read the quantized r: 258 against 259. */
    assert_int_equal(result.n_outputs, 1);
    assert_string_equal(result.outputs[0].name, "y");
    assert_true(result.outputs[0].metrics.sum_sq_err == 1.0);
    assert_true(result.outputs[0].metrics.max_abs_err == 1.0);
    row = trace_find(&result, "y");
    assert_non_null(row);
    assert_true(row->metrics.sum_sq_err == 1.0);

    /* The sample's own input tensor is left alone. */
    assert_true(((float *)x->data)[1] == 0.5f);

    qs_eval_result_done(&result);
    qs_rt_unref(x);
    qs_layers_free(layers);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_quantizes_reshape_output),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
