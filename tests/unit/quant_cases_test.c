/*
 * Per-channel int8 trials on the weights of the shared cases, against the
 * per-channel scales and mean squared errors listed in their case.json
 * (computed there in float64 from the stored float32 values).  Skipped
 * visibly without QSCOPE_TESTDATA.
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
#include "quant.h"

/* Scales: float32 here against float64 there, printed to 9 digits. */
#define SCALE_TOLERANCE 1e-6
/*
 * MSE: qscope's dequantized values are float32, case.json's float64.  The
 * rounding moves each error by up to 2^-24 |w'|, about 6e-8 absmax, while
 * a typical error is scale / sqrt(12), about absmax / 440; over a channel
 * of a few elements that changes the mean square by up to about 5e-5.
 */
#define MSE_TOLERANCE 1e-4

/* Compare "got" with "want" within a relative tolerance, or 1e-30 absolute near zero. */
static void
assert_near(double got, double want, double relative, const char *what, size_t index)
{
    if (fabs(got - want) > relative * fabs(want) + 1e-30)
        fail_msg("%s[%zu]: %.9g, case.json %.9g", what, index, got, want);
}

/*
 * Run int8:channel:sym on tensor "name" of case "dir" along "axis" and
 * check the "scale" and "mse" lists of numbers."key".  Returns the
 * number of flagged channels.
 */
static uint64_t
check_case(const char *dir, const char *name, int axis, const char *key)
{
    struct qs_diag diag;
    struct qs_model *model = NULL;
    struct qs_tensor *t;
    struct qs_quant_layout layout;
    struct qs_quant_config config;
    struct qs_quant_request req = { 0 };
    struct qs_quant_result result;
    json_t *doc = lt_case_json(dir);
    const json_t *numbers, *scales, *mses;
    float *x, *deq, *scale;
    uint64_t flagged;

    assert_non_null(doc);
    numbers = json_object_get(json_object_get(doc, "numbers"), key);
    scales = json_object_get(numbers, "scale");
    mses = json_object_get(numbers, "mse");
    assert_non_null(scales);
    assert_non_null(mses);

    qs_diag_init(&diag);
    lt_load_case(dir, "model.onnx", 1, &diag, &model);
    assert_non_null(model);
    t = lt_find_tensor(model, name);
    assert_non_null(t);
    x = lt_read_all(t);
    assert_int_equal(qs_quant_layout_init(&layout, t->dims, t->rank, axis, -1, &diag, dir), QS_OK);
    assert_int_equal(layout.channels, json_array_size(scales));

    assert_int_equal(qs_quant_config_parse("int8:channel:sym", &config, NULL, 0), QS_OK);
    deq = qs_calloc(layout.count, sizeof(float));
    scale = qs_calloc(layout.channels, sizeof(float));
    req.config = &config;
    req.layout = &layout;
    req.weights = x;
    req.threads = 2;
    req.output.dequant = deq;
    req.output.scales = scale;
    assert_int_equal(qs_quant_trial(&req, &result, &diag), QS_OK);

    for (size_t c = 0; c < layout.channels; c++) {
        double sse = 0.0;
        uint64_t count = 0;

        for (uint64_t i = 0; i < layout.count; i++) {
            if ((i / layout.channel_inner) % layout.channels != c)
                continue;
            sse += ((double)x[i] - deq[i]) * ((double)x[i] - deq[i]);
            count++;
        }
        assert_near(scale[c], json_number_value(json_array_get(scales, c)), SCALE_TOLERANCE,
                    "scale", c);
        assert_near(sse / (double)count, json_number_value(json_array_get(mses, c)),
                    MSE_TOLERANCE, "mse", c);
    }
    flagged = result.flagged;
    free(x);
    free(deq);
    free(scale);
    qs_model_free(model);
    qs_diag_done(&diag);
    json_decref(doc);
    return flagged;
}

static void
external_data_weights(void **state)
{
    (void)state;
    assert_int_equal(check_case("01-extdata-path-traversal", "W_ok", 1,
                                "W_ok_per_channel_axis1"), 0);
    assert_int_equal(check_case("02-extdata-out-of-bounds", "W_ok", 1,
                                "W_ok_per_channel_axis1"), 0);
}

static void
typed_and_constant_weights(void **state)
{
    (void)state;
    check_case("07-typed-data-fields", "W", 1, "W_matmul_KxN_per_channel_axis1");
    check_case("08-constant-node-weights", "convW", 0, "conv_weight_per_channel_axis0");
    check_case("08-constant-node-weights", "mmW", 1, "fc_weight_KxN_per_channel_axis1");
}

static void
zero_constant_and_subnormal_channels(void **state)
{
    (void)state;
    /* Channel 1 is all zero and channel 3 holds only a subnormal: both
     * flagged with scale 1.0 (listed in case.json). */
    assert_int_equal(check_case("12-zero-constant-channels", "W", 0, "per_channel_axis0"), 2);
}

static void
half_precision_weights(void **state)
{
    (void)state;
    check_case("14-fp16-bf16-weights", "W16", 1, "W16_per_channel_axis1");
    check_case("14-fp16-bf16-weights", "Wbf16", 1, "Wbf16_per_channel_axis1");
}

static void
convtranspose_axes(void **state)
{
    (void)state;
    check_case("16-convtranspose-axis", "W1", 1, "W1_correct_axis1");
    check_case("16-convtranspose-axis", "W1", 0, "W1_wrong_axis0");
    check_case("16-convtranspose-axis", "W2", 1, "W2_axis1_shared_across_groups");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(external_data_weights),
        cmocka_unit_test(typed_and_constant_weights),
        cmocka_unit_test(zero_constant_and_subnormal_channels),
        cmocka_unit_test(half_precision_weights),
        cmocka_unit_test(convtranspose_axes),
    };

    if (lt_skip_without_testdata())
        return 0;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
