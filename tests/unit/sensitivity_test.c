/*
 * Sensitivity weights for automatic plans: factors read from a ranking,
 * normalised by their median and clamped, and applied to candidate errors.
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
#include <unistd.h>
#include <cmocka.h>

#include "model.h"
#include "plan_sensitivity.h"
#include "sensitivity.h"

#define HEADER "{\"format\": \"qscope-sensitivity\", \"version\": %d, " \
    "\"model\": {\"file\": \"m.onnx\", \"sha256\": " \
    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", \"bytes\": 1}, " \
    "\"config\": \"int4:channel:sym:minmax\", \"samples\": 1, \"layers\": [%s]}"

/* Write a ranking with "layers" (JSON objects) and read it back. */
static enum qs_status
read_ranking(int version, const char *layers, struct qs_plan_sensitivity *s)
{
    char path[] = "/tmp/qscope-sensitivity-test.XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    struct qs_diag diag;
    enum qs_status status;

    assert_non_null(fp);
    fprintf(fp, HEADER, version, layers);
    fclose(fp);
    qs_diag_init(&diag);
    status = qs_plan_sensitivity_read(path, NULL, s, &diag);
    qs_diag_done(&diag);
    unlink(path);
    return status;
}

static void
test_factors_against_median(void **state)
{
    /* Raw factors 2, 1 and 0.5 (median 1); D was left out, E has no weight error. */
    const char *layers =
        "{\"key\": \"A\", \"skipped\": null, \"weight_sse\": 1.0, \"output_sse\": 2.0},"
        "{\"key\": \"B\", \"skipped\": null, \"weight_sse\": 2.0, \"output_sse\": 2.0},"
        "{\"key\": \"C\", \"skipped\": null, \"weight_sse\": 4.0, \"output_sse\": 2.0},"
        "{\"key\": \"D\", \"skipped\": \"not read by these samples\", \"weight_sse\": null,"
        " \"output_sse\": null},"
        "{\"key\": \"E\", \"skipped\": null, \"weight_sse\": 0.0, \"output_sse\": 0.0}";
    struct qs_plan_sensitivity s;
    struct qs_plan_option options[2] = { { 100, 0.5 }, { 50, 3.0 } };

    (void)state;
    assert_int_equal(read_ranking(1, layers, &s), QS_OK);
    assert_string_equal(s.config, "int4:channel:sym:minmax");
    assert_true(qs_plan_sensitivity_factor(&s, "A") == 2.0);
    assert_true(qs_plan_sensitivity_factor(&s, "B") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "C") == 0.5);
    assert_true(qs_plan_sensitivity_factor(&s, "D") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "E") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "missing") == 1.0);

    qs_plan_sensitivity_weigh(&s, "A", options, 2);
    assert_true(options[0].sse == 1.0);
    assert_true(options[1].sse == 6.0);
    assert_int_equal(options[1].bytes, 50);
    qs_plan_sensitivity_done(&s);
}

static void
test_factors_clamped(void **state)
{
    /* Raw factors 1, 1 and 1e9: median 1, so the last one is clamped to 1000. */
    const char *layers =
        "{\"key\": \"A\", \"weight_sse\": 1.0, \"output_sse\": 1.0},"
        "{\"key\": \"B\", \"weight_sse\": 1.0, \"output_sse\": 1.0},"
        "{\"key\": \"C\", \"weight_sse\": 1.0, \"output_sse\": 1e9},"
        "{\"key\": \"Z\", \"weight_sse\": 1.0, \"output_sse\": 0.0}";
    struct qs_plan_sensitivity s;

    (void)state;
    assert_int_equal(read_ranking(1, layers, &s), QS_OK);
    assert_true(qs_plan_sensitivity_factor(&s, "C") == QS_PLAN_SENSITIVITY_MAX_FACTOR);
    assert_true(qs_plan_sensitivity_factor(&s, "Z") == QS_PLAN_SENSITIVITY_MIN_FACTOR);
    qs_plan_sensitivity_done(&s);
}

static void
test_ranking_rejected(void **state)
{
    struct qs_plan_sensitivity s;

    (void)state;
    assert_int_equal(read_ranking(2, "", &s), QS_UNSUPPORTED);
    qs_plan_sensitivity_done(&s);
    assert_int_equal(read_ranking(1, "{\"key\": 3}", &s), QS_INVALID);
    qs_plan_sensitivity_done(&s);
}

/* The layer object at "index" of a ranking document. */
static json_t *
ranked(json_t *doc, size_t index)
{
    json_t *object = json_array_get(json_object_get(doc, "layers"), index);

    assert_non_null(object);
    return object;
}

/*
 * "exact" is true only for a zero error (SQNR +inf): an infinite weight
 * error is not exact, and a layer whose outputs were all NaN or infinite
 * has no output numbers instead of a zero error.
 */
static void
test_exact_flags_in_json(void **state)
{
    static const int64_t dims[2] = { 2, 2 };
    static const uint8_t bytes[1] = { 0 };
    struct qs_layer layers[3];
    struct qs_sens_layer items[3];
    struct qs_sens_result result = { .samples = 1, .count = 3, .items = items };
    struct qs_model model;
    json_t *doc, *o;

    (void)state;
    memset(layers, 0, sizeof(layers));
    memset(items, 0, sizeof(items));
    memset(&model, 0, sizeof(model));
    model.path = "dir/m.onnx";
    model.map = bytes;
    model.file_size = 1;
    for (size_t i = 0; i < 3; i++) {
        layers[i].key = i == 0 ? "overflow" : i == 1 ? "nan_out" : "exact";
        layers[i].ops = "MatMul";
        layers[i].rank = 2;
        layers[i].dims = dims;
        layers[i].count = 4;
        items[i].layer = &layers[i];
    }
    /* overflow: the weight error is infinite, the outputs are finite with error 1 in 100. */
    items[0].weight = (struct qs_quant_metrics){ .count = 4, .sum_sq_err = INFINITY,
                                                 .signal_energy = 4.0 };
    items[0].output = (struct qs_quant_metrics){ .count = 4, .sum_sq_err = 1.0,
                                                 .signal_energy = 100.0 };
    /* nan_out: weight error 1 in 1000; every one of 6 output values NaN. */
    items[1].weight = (struct qs_quant_metrics){ .count = 4, .sum_sq_err = 1.0,
                                                 .signal_energy = 1000.0 };
    items[1].output_values = 6;
    items[1].output_nonfinite = 6;
    /* exact: zero error in both. */
    items[2].weight = (struct qs_quant_metrics){ .count = 4, .signal_energy = 4.0 };
    items[2].output = (struct qs_quant_metrics){ .count = 4, .signal_energy = 4.0 };
    items[2].output_values = 4;
    for (size_t i = 0; i < 3; i++) {
        qs_quant_metrics_finish(&items[i].weight);
        qs_quant_metrics_finish(&items[i].output);
    }

    doc = qs_sensitivity_to_json(&result, &model);
    o = ranked(doc, 0);
    assert_true(json_is_null(json_object_get(o, "weight_sqnr_db")));
    assert_true(json_is_false(json_object_get(o, "weight_exact")));
    assert_true(fabs(json_number_value(json_object_get(o, "output_sqnr_db")) - 20.0) < 1e-9);
    assert_true(json_is_false(json_object_get(o, "output_exact")));

    o = ranked(doc, 1);
    assert_true(fabs(json_number_value(json_object_get(o, "weight_sqnr_db")) - 30.0) < 1e-9);
    assert_true(json_is_false(json_object_get(o, "weight_exact")));
    assert_true(json_is_null(json_object_get(o, "output_sse")));
    assert_true(json_is_null(json_object_get(o, "output_mse")));
    assert_true(json_is_null(json_object_get(o, "output_sqnr_db")));
    assert_true(json_is_false(json_object_get(o, "output_exact")));
    assert_int_equal(json_integer_value(json_object_get(o, "output_nonfinite")), 6);
    assert_string_equal(json_string_value(json_object_get(o, "note")),
                        "every output value is NaN or infinite");

    o = ranked(doc, 2);
    assert_true(json_is_null(json_object_get(o, "output_sqnr_db")));
    assert_true(json_is_true(json_object_get(o, "output_exact")));
    assert_true(json_is_true(json_object_get(o, "weight_exact")));
    assert_true(json_number_value(json_object_get(o, "output_sse")) == 0.0);
    assert_int_equal(json_integer_value(json_object_get(o, "output_nonfinite")), 0);
    assert_true(json_is_null(json_object_get(o, "note")));
    json_decref(doc);
}

/* A layer whose outputs were all NaN ranks as the most harmful, not as exact. */
static void
test_nonfinite_output_ranked_first(void **state)
{
    struct qs_layer layers[2];
    struct qs_sens_layer items[2];
    struct qs_sens_result result = { .count = 2, .items = items };

    (void)state;
    memset(layers, 0, sizeof(layers));
    memset(items, 0, sizeof(items));
    layers[0].key = "fine";
    layers[1].key = "nan_out";
    layers[1].index = 1;
    items[0].layer = &layers[0];
    items[0].output = (struct qs_quant_metrics){ .count = 4, .sum_sq_err = 1.0,
                                                 .signal_energy = 100.0 };
    items[0].output_values = 4;
    items[1].layer = &layers[1];
    items[1].output_values = 4;
    items[1].output_nonfinite = 4;
    qs_quant_metrics_finish(&items[0].output);
    qs_quant_metrics_finish(&items[1].output);
    qs_sensitivity_rank(&result);
    assert_string_equal(result.items[0].layer->key, "nan_out");
    assert_string_equal(result.items[1].layer->key, "fine");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factors_against_median),
        cmocka_unit_test(test_factors_clamped),
        cmocka_unit_test(test_ranking_rejected),
        cmocka_unit_test(test_exact_flags_in_json),
        cmocka_unit_test(test_nonfinite_output_ranked_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
