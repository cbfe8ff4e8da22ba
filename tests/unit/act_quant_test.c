/*
 * Activation quantization: configuration strings, range selection on
 * synthetic histograms (percentile, entropy, MSE) and fake quantization,
 * static and dynamic, against numbers worked out by hand.
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "act_quant.h"

static void
assert_close(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance * fmax(1.0, fabs(expected)))) {
        print_error("got %.17g, expected %.17g\n", actual, expected);
        fail();
    }
}

static struct qs_act_config
parse(const char *text)
{
    struct qs_act_config config;
    char message[256];

    if (qs_act_config_parse(text, &config, message, sizeof(message)) != QS_OK) {
        print_error("%s\n", message);
        fail();
    }
    return config;
}

/* ---- configuration strings ----------------------------------------------- */

static void
test_config_defaults(void **state)
{
    struct qs_act_config c = parse("int8");
    char text[QS_ACT_CONFIG_MAX];

    (void)state;
    assert_int_equal(c.bits, 8);
    assert_int_equal(c.mode, QS_ACT_STATIC);
    assert_int_equal(c.scheme, QS_QUANT_ASYM);
    assert_int_equal(c.range, QS_ACT_RANGE_MINMAX);
    qs_act_config_format(&c, text, sizeof(text));
    assert_string_equal(text, "int8:tensor:asym:minmax");
}

static void
test_config_forms(void **state)
{
    static const struct {
        const char *text, *canonical;
    } cases[] = {
        { "int16:sym", "int16:tensor:sym:minmax" },
        { "int8:tensor:sym:p99.9", "int8:tensor:sym:p99.90" },
        { "int8:p", "int8:tensor:asym:p99.99" },
        { "int8:entropy", "int8:tensor:asym:entropy" },
        { "int8:asym:mse", "int8:tensor:asym:mse" },
        { "int8:token:sym", "int8:token:sym" },
        { "int8:dynamic", "int8:dynamic:asym" },
    };
    char text[QS_ACT_CONFIG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct qs_act_config c = parse(cases[i].text);

        qs_act_config_format(&c, text, sizeof(text));
        assert_string_equal(text, cases[i].canonical);
        c = parse(text);
        qs_act_config_format(&c, text, sizeof(text));
        assert_string_equal(text, cases[i].canonical);
    }
}

static void
test_config_rejected(void **state)
{
    static const char *const bad[] = {
        "int4", "", "int8:sym:tensor", "int8:token:entropy", "int8:p101", "int8:p99.999",
        "int8:tensor:sym:minmax:x", "int8:channel",
    };
    struct qs_act_config c;
    char message[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        message[0] = '\0';
        assert_int_equal(qs_act_config_parse(bad[i], &c, message, sizeof(message)), QS_USAGE);
        assert_true(message[0] != '\0');
    }
}

/* ---- range searches ------------------------------------------------------ */

static void
test_percentile_hand_checked(void **state)
{
    uint64_t flat[10], sparse[5] = { 0, 0, 5, 0, 5 };

    (void)state;
    for (int i = 0; i < 10; i++)
        flat[i] = 10;
    /* 100 values over [0, 10]: the 99th lies 9/10 into the last bin. */
    assert_close(qs_act_hist_percentile(flat, 10, 10.0, 99.0), 9.9, 1e-12);
    assert_close(qs_act_hist_percentile(flat, 10, 10.0, 50.0), 5.0, 1e-12);
    assert_close(qs_act_hist_percentile(flat, 10, 10.0, 100.0), 10.0, 1e-12);
    /* Empty bins are skipped: the 5th of 10 values ends bin 2, [2, 3). */
    assert_close(qs_act_hist_percentile(sparse, 5, 5.0, 50.0), 3.0, 1e-12);
    assert_close(qs_act_hist_percentile(sparse, 5, 5.0, 60.0), 4.2, 1e-12);
}

static void
test_entropy_hand_checked(void **state)
{
    /*
     * Bins [8, 4, 2, 2], 2 target bins.
     * i = 2: P = [8, 8], Q = [8, 4]: KL = 0.5 ln(9/8).
     * i = 3: P = [8, 4, 4], Q = [8, 3, 3]: KL = 0.5 ln(49/48), the least.
     * i = 4: P = [8, 4, 2, 2], Q = [6, 6, 2, 2]: KL = 0.5 ln(4/3) + 0.25 ln(2/3).
     */
    const uint64_t hist[4] = { 8, 4, 2, 2 };
    double divergence[3];

    (void)state;
    assert_close(qs_act_hist_entropy(hist, 4, 4.0, 2, divergence), 3.0, 1e-12);
    assert_close(divergence[0], 0.5 * log(9.0 / 8.0), 1e-12);
    assert_close(divergence[1], 0.5 * log(49.0 / 48.0), 1e-12);
    assert_close(divergence[2], 0.5 * log(4.0 / 3.0) + 0.25 * log(2.0 / 3.0), 1e-12);
}

static void
test_entropy_nothing_to_clip(void **state)
{
    const uint64_t few[4] = { 3, 1, 0, 0 };
    const uint64_t none[4] = { 0 };

    (void)state;
    /* Two nonzero bins fit in two target bins: the threshold is the last one's upper edge. */
    assert_close(qs_act_hist_entropy(few, 4, 4.0, 2, NULL), 2.0, 1e-12);
    assert_close(qs_act_hist_entropy(none, 4, 4.0, 2, NULL), 0.0, 1e-12);
}

/* An outlier far out must be clipped: the threshold stays near the bulk. */
static void
test_entropy_clips_outlier(void **state)
{
    uint64_t hist[QS_CALIB_BINS] = { 0 };
    double threshold;

    (void)state;
    for (size_t i = 0; i < 200; i++)
        hist[i] = 1000 - 4 * i;
    hist[2000] = 1;
    threshold = qs_act_hist_entropy(hist, QS_CALIB_BINS, 2048.0, 128, NULL);
    assert_true(threshold >= 128.0);
    assert_true(threshold <= 400.0);
}

static void
test_expected_sse_hand_checked(void **state)
{
    const uint64_t one[1] = { 1 }, above[2] = { 0, 1 }, zeros[1] = { 3 };

    (void)state;
    /* Uniform on [0, 1), step 1: the mean squared rounding error is 1/12. */
    assert_close(qs_act_hist_expected_sse(one, 1, 1.0, 0, 1.0, 1.0), 1.0 / 12.0, 1e-12);
    /* Uniform on [1, 2) clipped at 1: the integral of (x - 1)^2 is 1/3. */
    assert_close(qs_act_hist_expected_sse(above, 2, 2.0, 0, 1.0, 1.0), 1.0 / 3.0, 1e-12);
    /* Two of three values are exact zeros: only one value has error. */
    assert_close(qs_act_hist_expected_sse(zeros, 1, 1.0, 2, 1.0, 1.0), 1.0 / 12.0, 1e-12);
    /* Half a step: uniform on [0, 0.5) rounds to 0, error integral 0.5^3 / 3. */
    assert_close(qs_act_hist_expected_sse(one, 1, 0.5, 0, 1.0, 1.0), 0.25 / 3.0, 1e-12);
}

/*
 * Uniform data on [0, a) with q steps up to T: E(T) = (T step^2 / 12 + (a - T)^3 / 3) / a
 * with step = T / q, whose minimum solves a - T = T / (2 q): T = a * 2q / (2q + 1).
 */
static void
test_mse_uniform_optimum(void **state)
{
    static uint64_t hist[QS_CALIB_BINS];
    const double a = 2048.0;
    const struct qs_act_grid sym = { QS_QUANT_SYM, 8, 0.0, a };
    const struct qs_act_grid asym = { QS_QUANT_ASYM, 8, 0.0, a };
    double step = a / 127.0;

    (void)state;
    for (size_t i = 0; i < QS_CALIB_BINS; i++)
        hist[i] = 1000;
    assert_close(qs_act_grid_step(&sym, a), step, 1e-15);
    assert_close(qs_act_hist_expected_sse(hist, QS_CALIB_BINS, a, 0, step, a),
                 1000.0 * a * step * step / 12.0, 1e-9);
    /* Sym: q = 127, T = a * 254 / 255. */
    assert_close(qs_act_hist_mse(hist, QS_CALIB_BINS, a, 0, &sym, a), a * 254.0 / 255.0, 1e-5);
    /* Asym on data >= 0: all 255 steps lie on [0, T], so T = a * 510 / 511. */
    assert_close(qs_act_grid_step(&asym, a), a / 255.0, 1e-15);
    assert_close(qs_act_hist_mse(hist, QS_CALIB_BINS, a, 0, &asym, a), a * 510.0 / 511.0,
                 1e-5);
}

static void
test_grid_step_asym_two_sided(void **state)
{
    const struct qs_act_grid grid = { QS_QUANT_ASYM, 8, -1.0, 10.0 };

    (void)state;
    /* T = 5 clips the top only: [-1, 5] in 255 steps. */
    assert_close(qs_act_grid_step(&grid, 5.0), 6.0 / 255.0, 1e-15);
    /* T = 0.5 clips both sides: [-0.5, 0.5]. */
    assert_close(qs_act_grid_step(&grid, 0.5), 1.0 / 255.0, 1e-15);
}

/* ---- scales and fake quantization ---------------------------------------- */

static void
test_params_from_range(void **state)
{
    struct qs_act_config sym8 = parse("int8:sym"), asym8 = parse("int8:asym");
    struct qs_act_config sym16 = parse("int16:sym");
    struct qs_act_params p;

    (void)state;
    qs_act_params_from_range(&sym8, -2.0, 2.0, &p);
    assert_true(p.scale == (float)(2.0 / 127.0));
    assert_int_equal(p.zero_point, 0);
    assert_int_equal(p.qmin, -127);
    assert_int_equal(p.qmax, 127);
    qs_act_params_from_range(&asym8, -51.0, 204.0, &p);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.zero_point, 51);
    assert_int_equal(p.qmin, 0);
    assert_int_equal(p.qmax, 255);
    /* The range is widened to include 0, so zero needs no offset. */
    qs_act_params_from_range(&asym8, 0.5, 3.0, &p);
    assert_true(p.lo == 0.0);
    assert_true(p.scale == (float)(3.0 / 255.0));
    assert_int_equal(p.zero_point, 0);
    qs_act_params_from_range(&sym16, -1.0, 32767.0, &p);
    assert_true(p.scale == 1.0f);
    assert_int_equal(p.qmax, 32767);
    qs_act_params_from_range(&sym8, 0.0, 0.0, &p);
    assert_true(p.flagged);
    assert_true(p.scale == 1.0f);
}

static void
test_fake_quant_asym(void **state)
{
    struct qs_act_config asym8 = parse("int8:asym");
    const float x[4] = { -51.0f, 204.0f, 100.3f, 300.0f };
    struct qs_quant_metrics m = { 0 };
    struct qs_act_params p;
    float y[4];

    (void)state;
    qs_act_params_from_range(&asym8, -51.0, 204.0, &p);
    qs_act_fake_quant(&p, x, y, 4, &m);
    assert_true(y[0] == -51.0f);
    assert_true(y[1] == 204.0f);
    assert_true(y[2] == 100.0f);
    assert_true(y[3] == 204.0f);        /* saturates at code 255 */
    assert_int_equal(m.count, 4);
    assert_close(m.sum_sq_err, pow(100.3f - 100.0, 2) + 96.0 * 96.0, 1e-12);
    assert_close(m.max_abs_err, 96.0, 1e-12);
}

/*
 * Activations near FLT_MAX, int8 asym over [-3.4e38, 3.4e38]: scale
 * 6.8e38 / 255 = 2.667e36 and zero point rint(127.5) = 128.  So -3.4e38
 * gets code 0, which dequantizes to -128 * scale = -3.413e38, beyond
 * FLT_MAX: it saturates to -FLT_MAX instead of becoming -inf.
 */
static void
test_fake_quant_saturates_at_flt_max(void **state)
{
    struct qs_act_config asym8 = parse("int8:asym");
    const float x[2] = { 3.4e38f, -3.4e38f };
    struct qs_quant_metrics m = { 0 };
    struct qs_act_params p;
    float y[2];

    (void)state;
    qs_act_params_from_range(&asym8, -3.4e38, 3.4e38, &p);
    assert_false(p.flagged);
    assert_int_equal(p.zero_point, 128);
    qs_act_fake_quant(&p, x, y, 2, &m);
    assert_true(y[0] == (float)(127.0 * p.scale));
    assert_true(y[1] == -FLT_MAX);
    assert_int_equal(m.count, 2);
    assert_true(isfinite(m.sum_sq_err));
    assert_true(isfinite(m.deq_energy));
    assert_close(m.max_abs_err, (double)x[0] - y[0], 1e-12);
}

/*
 * x = [[127, -3.5, 2.5, 0.4], [-254, 3, 5, 1]], int8 sym.
 * Per token: row 0 has scale 1: [127, -4, 2, 0] (halves to even); row 1 scale 2:
 * x / 2 = [-127, 1.5, 2.5, 0.5] -> [-127, 2, 2, 0] -> [-254, 4, 4, 0].
 * Squared error 0.25 + 0.25 + 0.16 + 3 = 3.66.
 * Per tensor (dynamic): scale 2 for both rows: row 0 / 2 = [63.5, -1.75, 1.25, 0.2] ->
 * [64, -2, 1, 0] -> [128, -4, 2, 0], squared error 1 + 0.25 + 0.25 + 0.16 + 3 = 4.66.
 */
static void
test_dynamic_per_token_hand_checked(void **state)
{
    const float x[8] = { 127.0f, -3.5f, 2.5f, 0.4f, -254.0f, 3.0f, 5.0f, 1.0f };
    const float token_expected[8] = { 127, -4, 2, 0, -254, 4, 4, 0 };
    const float tensor_expected[8] = { 128, -4, 2, 0, -254, 4, 4, 0 };
    const int64_t dims[2] = { 2, 4 };
    struct qs_act_config token = parse("int8:token:sym"), dynamic = parse("int8:dynamic:sym");
    struct qs_quant_metrics m = { 0 };
    uint64_t flagged = 0;
    float y[8];
    double e04 = pow(0.4f, 2);

    (void)state;
    qs_act_quantize(&token, NULL, x, y, 2, dims, 8, &m, &flagged);
    assert_memory_equal(y, token_expected, sizeof(y));
    assert_close(m.sum_sq_err, 0.25 + 0.25 + e04 + 3.0, 1e-12);
    assert_close(m.max_abs_err, 1.0, 1e-12);
    assert_int_equal(m.count, 8);

    memset(&m, 0, sizeof(m));
    qs_act_quantize(&dynamic, NULL, x, y, 2, dims, 8, &m, &flagged);
    assert_memory_equal(y, tensor_expected, sizeof(y));
    assert_close(m.sum_sq_err, 1.0 + 0.25 + 0.25 + e04 + 3.0, 1e-12);
    assert_int_equal(flagged, 0);
}

static void
test_zero_tensor_flagged(void **state)
{
    const float x[3] = { 0.0f, 0.0f, 0.0f };
    const int64_t dims[1] = { 3 };
    struct qs_act_config token = parse("int8:token:asym");
    struct qs_quant_metrics m = { 0 };
    uint64_t flagged = 0;
    float y[3] = { 1, 1, 1 };

    (void)state;
    qs_act_quantize(&token, NULL, x, y, 1, dims, 3, &m, &flagged);
    assert_int_equal(flagged, 1);
    assert_memory_equal(y, x, sizeof(y));
    assert_int_equal(m.count, 3);
    assert_true(m.sum_sq_err == 0.0);
}

/* Static scales from a calibrated tensor: minmax and the 50th percentile. */
static void
test_static_params_from_calibration(void **state)
{
    static uint64_t hist[QS_CALIB_BINS];
    struct qs_calib_tensor t = {
        .count = QS_CALIB_BINS, .min = -1000.0, .max = 2048.0, .absmax = 2048.0,
        .hist_hi = 2048.0, .hist = hist,
    };
    struct qs_act_config sym = parse("int8:sym"), asym_p50 = parse("int8:asym:p50");
    struct qs_act_config sym_p50 = parse("int8:sym:p50");
    struct qs_act_params p;

    (void)state;
    for (size_t i = 0; i < QS_CALIB_BINS; i++)
        hist[i] = 1;
    qs_act_static_params(&sym, &t, &p);
    assert_true(p.scale == (float)(2048.0 / 127.0));
    qs_act_static_params(&sym_p50, &t, &p);
    assert_true(p.scale == (float)(1024.0 / 127.0));
    /* asym clips each side at T = 1024: [-1000, 1024]. */
    qs_act_static_params(&asym_p50, &t, &p);
    assert_true(p.lo == -1000.0);
    assert_true(p.hi == 1024.0);
    assert_true(p.scale == (float)(2024.0 / 255.0));
    assert_int_equal(p.zero_point, (int32_t)rint(1000.0 / (double)(float)(2024.0 / 255.0)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_forms),
        cmocka_unit_test(test_config_rejected),
        cmocka_unit_test(test_percentile_hand_checked),
        cmocka_unit_test(test_entropy_hand_checked),
        cmocka_unit_test(test_entropy_nothing_to_clip),
        cmocka_unit_test(test_entropy_clips_outlier),
        cmocka_unit_test(test_expected_sse_hand_checked),
        cmocka_unit_test(test_mse_uniform_optimum),
        cmocka_unit_test(test_grid_step_asym_two_sided),
        cmocka_unit_test(test_params_from_range),
        cmocka_unit_test(test_fake_quant_asym),
        cmocka_unit_test(test_dynamic_per_token_hand_checked),
        cmocka_unit_test(test_zero_tensor_flagged),
        cmocka_unit_test(test_fake_quant_saturates_at_flt_max),
        cmocka_unit_test(test_static_params_from_calibration),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
