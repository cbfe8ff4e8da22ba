/*
 * Trials: hand-computed values for each format and granularity, edge
 * cases (zero, constant and subnormal segments, non-finite inputs), and
 * properties over random tensors (thread count, reference agreement,
 * error against bits and granularity).
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "quant.h"
#include "quant_internal.h"

/* Assert |got - want| <= tolerance (cmocka 1.1 has no double assertion). */
static void
assert_double_near(double got, double want, double tolerance)
{
    if (!(fabs(got - want) <= tolerance))
        fail_msg("%.17g, expected %.17g (tolerance %g)", got, want, tolerance);
}

/* The vector kernels add the same exact double products as the reference,
 * in another order. */
#define FAST_SUM_TOLERANCE 1e-12

/* One trial with every output written. */
struct run {
    struct qs_quant_config config;
    struct qs_quant_result result;
    float *deq;
    int32_t *codes;
    float *scales;
    int32_t *zero_points;
};

static void
run_free(struct run *r)
{
    free(r->deq);
    free(r->codes);
    free(r->scales);
    free(r->zero_points);
    memset(r, 0, sizeof(*r));
}

/* Run "text" over "x" with "layout"; reference kernels when "ref" is set. */
static struct run
run_trial(const char *text, const struct qs_quant_layout *layout, const float *x, int threads,
          int ref)
{
    struct run r;
    struct qs_quant_sizes sizes;
    struct qs_quant_request req;
    char message[256];
    enum qs_status status;

    memset(&r, 0, sizeof(r));
    status = qs_quant_config_parse(text, &r.config, message, sizeof(message));
    if (status != QS_OK)
        fail_msg("%s: %s", text, message);
    assert_int_equal(qs_quant_sizes_compute(&r.config, layout, &sizes, message, sizeof(message)),
                     QS_OK);
    r.deq = qs_calloc(layout->count + 1, sizeof(float));
    r.codes = qs_calloc(layout->count + 1, sizeof(int32_t));
    r.scales = qs_calloc(sizes.scales + 1, sizeof(float));
    r.zero_points = qs_calloc(sizes.scales + 1, sizeof(int32_t));
    memset(&req, 0, sizeof(req));
    req.config = &r.config;
    req.layout = layout;
    req.weights = x;
    req.threads = threads;
    req.output = (struct qs_quant_output){ r.deq, r.codes, r.scales, r.zero_points };
    req.file = "test.onnx";
    req.layer = "W";
    if (ref)
        status = qs_quant_trial_ref(&req, &r.result, NULL);
    else
        status = qs_quant_trial(&req, &r.result, NULL);
    assert_int_equal(status, QS_OK);
    return r;
}

/* Layout of a weight without axes, or of a 2-D weight with both axes. */
static struct qs_quant_layout
layout_2d(int64_t rows, int64_t cols, int channel_axis, int group_axis)
{
    const int64_t dims[] = { rows, cols };
    struct qs_quant_layout l;

    assert_int_equal(qs_quant_layout_init(&l, dims, 2, channel_axis, group_axis, NULL, "t"), QS_OK);
    return l;
}

static void
assert_floats(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("element %zu: %.9g, expected %.9g", i, got[i], want[i]);
}

static void
assert_codes(const int32_t *got, const int32_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("code %zu: %d, expected %d", i, got[i], want[i]);
}

static void
assert_relative(double got, double want, double tolerance)
{
    if (fabs(got - want) > tolerance * fabs(want))
        fail_msg("%.17g, expected %.17g (relative tolerance %g)", got, want, tolerance);
}

/* ---- Hand-computed values ---- */

static void
int8_tensor_rounds_half_to_even(void **state)
{
    /* absmax 127 gives scale 127 / 127 = 1 and inv 1, so the codes are
     * rint(w): -3.5 -> -4, 2.5 -> 2, 0.4 -> 0, -0.5 -> 0, 1.5 -> 2. */
    static const float x[] = { 127.0f, -3.5f, 2.5f, 0.4f, -0.5f, 1.5f };
    static const int32_t codes[] = { 127, -4, 2, 0, 0, 2 };
    static const float deq[] = { 127.0f, -4.0f, 2.0f, 0.0f, 0.0f, 2.0f };
    struct qs_quant_layout l = layout_2d(1, 6, -1, -1);
    struct run r = run_trial("int8:tensor", &l, x, 1, 0);
    double e4 = (double)0.4f;
    const struct qs_quant_metrics *m = &r.result.metrics;

    (void)state;
    assert_codes(r.codes, codes, 6);
    assert_floats(r.deq, deq, 6);
    assert_true(r.scales[0] == 1.0f);
    /* Errors 0, 0.5, 0.5, 0.4f, -0.5, -0.5. */
    assert_relative(m->sum_sq_err, 4 * 0.25 + e4 * e4, FAST_SUM_TOLERANCE);
    assert_relative(m->mse, (1.0 + e4 * e4) / 6, FAST_SUM_TOLERANCE);
    assert_true(m->max_abs_err == 0.5);
    /* Energy 127^2 + 3.5^2 + 2.5^2 + 0.4f^2 + 0.5^2 + 1.5^2 = 16150 + 0.4f^2. */
    assert_relative(m->signal_energy, 16150.0 + e4 * e4, FAST_SUM_TOLERANCE);
    assert_relative(m->sqnr_db, 10 * log10((16150.0 + e4 * e4) / (1.0 + e4 * e4)),
                    FAST_SUM_TOLERANCE);
    /* dot 16129 + 14 + 5 + 0 + 0 + 3, deq energy 16129 + 16 + 4 + 4. */
    assert_relative(m->cosine, 16151.0 / sqrt((16150.0 + e4 * e4) * 16153.0), FAST_SUM_TOLERANCE);
    assert_int_equal(r.result.sizes.total_bits, 6 * 8 + 32);
    assert_int_equal(r.result.flagged, 0);
    run_free(&r);
}

static void
int8_channel_of_matmul_b(void **state)
{
    /* MatMul B [K=3, N=2], channel axis 1.  Column 0 {1, -0.5, 0.25}:
     * scale fl(1/127), inv 127 exactly: -63.5 -> -64, 31.75 -> 32.
     * Column 1 {3, 0, -1.5}: scale fl(3/127) = 0.023622047, inv
     * 42.333332; -1.5 * inv rounds to -63.5 in float32, then to -64. */
    static const float x[] = { 1.0f, 3.0f, -0.5f, 0.0f, 0.25f, -1.5f };
    static const int32_t codes[] = { 127, 127, -64, 0, 32, -64 };
    struct qs_quant_layout l = layout_2d(3, 2, 1, 0);
    struct run r = run_trial("int8:channel:sym", &l, x, 1, 0);
    float s0 = 1.0f / 127.0f, s1 = 3.0f / 127.0f;
    double e[] = { (double)x[2] - (double)(-64 * s0), (double)x[4] - (double)(32 * s0),
                   (double)x[5] - (double)(-64 * s1) };

    (void)state;
    assert_codes(r.codes, codes, 6);
    assert_true(r.scales[0] == s0 && r.scales[1] == s1);
    assert_true(r.deq[0] == 1.0f && r.deq[1] == 3.0f);
    assert_relative(r.result.metrics.sum_sq_err, e[0] * e[0] + e[1] * e[1] + e[2] * e[2],
                    FAST_SUM_TOLERANCE);
    /* Largest error: -1.5 against -64 * 3/127 = -1.511811. */
    assert_relative(r.result.metrics.max_abs_err, fabs(e[2]), 1e-7);
    run_free(&r);
}

static void
int4_groups_with_zero_points(void **state)
{
    /* Gemm B with transB=1 [N=1, K=8], groups of 4 along K (contiguous).
     * Group 0 {0, 1, 2, 15}: range [0, 15], scale 1, zero point 0: exact.
     * Group 1 {-7.5, 0, 3, 7.5}: scale 15/15 = 1, zero point rint(7.5) = 8;
     * codes rint(w) + 8 = {-8+8, 8, 11, 8+8 -> 15}: dequantized {-8, 0, 3, 7}. */
    static const float x[] = { 0, 1, 2, 15, -7.5f, 0, 3, 7.5f };
    static const int32_t codes[] = { 0, 1, 2, 15, 0, 8, 11, 15 };
    static const float deq[] = { 0, 1, 2, 15, -8, 0, 3, 7 };
    struct qs_quant_layout l = layout_2d(1, 8, 0, 1);
    struct run r = run_trial("int4:g4:asym", &l, x, 1, 0);

    (void)state;
    assert_codes(r.codes, codes, 8);
    assert_floats(r.deq, deq, 8);
    assert_true(r.scales[0] == 1.0f && r.scales[1] == 1.0f);
    assert_int_equal(r.zero_points[0], 0);
    assert_int_equal(r.zero_points[1], 8);
    assert_true(r.result.metrics.sum_sq_err == 0.5);
    assert_true(r.result.metrics.max_abs_err == 0.5);
    /* 8 * 4 payload bits, 2 fp16 scales, 2 4-bit zero points. */
    assert_int_equal(r.result.sizes.total_bits, 32 + 32 + 8);
    run_free(&r);
}

static void
int4_groups_along_rows(void **state)
{
    /* MatMul B [K=4, N=2], g2 along K: groups are rows {0,1} and {2,3} of
     * each column (scale index = block * 2 + column).
     *   col 0 rows 0-1 {0, 15}: scale 1, zero 0, exact.
     *   col 1 rows 0-1 {-7.5, 7.5}: scale 1, zero 8: codes {0, 15} -> {-8, 7}.
     *   col 0 rows 2-3 {1, 15}: range [0, 15], exact.
     *   col 1 rows 2-3 {3, -7.5}: scale 10.5/15 = 0.7, as fp16 0.7001953125;
     *     zero rint(7.5 / 0.7001953125) = rint(10.71) = 11; codes 15 and 0,
     *     dequantized 4 * s = 2.80078125 and -11 * s = -7.7021484375. */
    static const float x[] = { 0, -7.5f, 15, 7.5f, 1, 3, 15, -7.5f };
    static const int32_t codes[] = { 0, 0, 15, 15, 1, 15, 15, 0 };
    static const float deq[] = { 0, -8, 15, 7, 1, 2.80078125f, 15, -7.7021484375f };
    struct qs_quant_layout l = layout_2d(4, 2, 1, 0);
    struct run r = run_trial("int4:g2:asym", &l, x, 1, 0);

    (void)state;
    assert_codes(r.codes, codes, 8);
    assert_floats(r.deq, deq, 8);
    assert_true(r.scales[0] == 1.0f && r.scales[1] == 1.0f && r.scales[2] == 1.0f);
    assert_true(r.scales[3] == 0.7001953125f);
    assert_int_equal(r.zero_points[1], 8);
    assert_int_equal(r.zero_points[3], 11);
    run_free(&r);
}

static void
fp8_tensor_grid(void **state)
{
    /* absmax 448 gives scale 1: the values round to the E4M3 grid.
     * 300 -> 288 (0x79), 0.3 -> 0.3125 (1.25 * 2^-2, 0x2a), -17 -> -16
     * (tie, even mantissa, 0xd8), 1e-3 -> 2^-9 (subnormal code 1). */
    static const float x[] = { 448, 300, 0.3f, -17, 1e-3f, 0 };
    static const int32_t codes[] = { 0x7e, 0x79, 0x2a, 0xd8, 0x01, 0x00 };
    static const float deq[] = { 448, 288, 0.3125f, -16, 0x1p-9f, 0 };
    struct qs_quant_layout l = layout_2d(1, 6, -1, -1);
    struct run r = run_trial("fp8e4m3:tensor", &l, x, 1, 0);

    (void)state;
    assert_codes(r.codes, codes, 6);
    assert_floats(r.deq, deq, 6);
    assert_true(r.scales[0] == 1.0f);
    run_free(&r);

    /* E5M2 per tensor with absmax 57344 * 2: scale 2; 1000 / 2 = 500 lies
     * between 448 and 512 (2 mantissa bits), nearer 512: code 0x60. */
    {
        static const float y[] = { 114688, 1000 };
        struct qs_quant_layout l2 = layout_2d(1, 2, -1, -1);
        struct run e = run_trial("fp8e5m2:tensor", &l2, y, 1, 0);

        assert_true(e.scales[0] == 2.0f);
        assert_int_equal(e.codes[0], 0x7b);
        assert_int_equal(e.codes[1], 0x60);
        assert_true(e.deq[1] == 1024.0f);
        run_free(&e);
    }
}

static void
nf4_blocks(void **state)
{
    /* Blocks of 2 along the group axis of [1, 4].
     * Block {2, 1}: absmax 2, y = {1, 0.5}: level 15 (1.0) and 12
     * (0.4407..., since 0.5 is below the 12/13 midpoint 0.5017).
     * Block {-0.6, 0.1}: absmax 0.6, y = {-1, 0.1667}: level 0 and 9
     * (0.1609..., below the 9/10 midpoint 0.2035). */
    static const float x[] = { 2.0f, 1.0f, -0.6f, 0.1f };
    static const int32_t codes[] = { 15, 12, 0, 9 };
    struct qs_quant_layout l = layout_2d(1, 4, 0, 1);
    struct run r = run_trial("nf4:b2", &l, x, 1, 0);

    (void)state;
    assert_codes(r.codes, codes, 4);
    assert_true(r.scales[0] == 2.0f && r.scales[1] == 0.6f);
    assert_true(r.deq[1] == 0.44070982933044434f * 2.0f);
    assert_true(r.deq[2] == -0.6f);
    assert_true(r.deq[3] == 0.16093020141124725f * 0.6f);
    /* 4 bits per weight plus one fp32 scale per 2 weights. */
    assert_double_near(r.result.sizes.bits_per_weight, 20.0, 0);
    run_free(&r);
}

static void
casts_round_half_to_even(void **state)
{
    /* fp16: 1 + 2^-11 is halfway between 1 and 1 + 2^-10: 1.0 (0x3c00);
     * 1 + 3 * 2^-11 -> 1 + 2^-9 (0x3c02); 6e-8 -> 2^-24 (subnormal 0x0001). */
    static const float x[] = { 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 6e-8f, 65504.0f };
    static const int32_t half_codes[] = { 0x3c00, 0x3c02, 0x0001, 0x7bff };
    /* bf16: 1 + 2^-8 is halfway between 1 and 1 + 2^-7: 0x3f80; 1 + 3 * 2^-8
     * -> 1 + 2^-6 (0x3f82); 6e-8 keeps 8 bits of mantissa; 65504 -> 65536. */
    static const float y[] = { 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 65504.0f };
    static const int32_t bf16_codes[] = { 0x3f80, 0x3f82, 0x4780 };
    struct qs_quant_layout l4 = layout_2d(1, 4, -1, -1), l3 = layout_2d(1, 3, -1, -1);
    struct run h = run_trial("fp16", &l4, x, 1, 0), b = run_trial("bf16", &l3, y, 1, 0);

    (void)state;
    assert_codes(h.codes, half_codes, 4);
    assert_true(h.deq[2] == 0x1p-24f && h.deq[3] == 65504.0f);
    assert_int_equal(h.result.sizes.scales, 0);
    assert_codes(b.codes, bf16_codes, 3);
    assert_true(b.deq[2] == 65536.0f);
    run_free(&h);
    run_free(&b);
}

static void
percentile_interpolates(void **state)
{
    /* 1 .. 100 per tensor, p99: position 0.99 * 99 = 98.01 between the
     * sorted values 99 and 100: 99.01; scale 99.01 / 127. */
    float x[100];
    struct qs_quant_layout l = layout_2d(1, 100, -1, -1);
    struct run r;

    (void)state;
    for (int i = 0; i < 100; i++)
        x[i] = (float)(i + 1);
    r = run_trial("int8:tensor:p99", &l, x, 1, 0);
    assert_true(r.scales[0] == 99.01f / 127.0f);
    assert_int_equal(r.codes[99], 127);          /* 100 saturates */
    run_free(&r);

    /* asym p90: low tail percentile 10 at 0.1 * 99 = 9.9 -> 10.9, high
     * tail 90 at 89.1 -> 90.1; the range widens to [0, 90.1]. */
    r = run_trial("int8:tensor:asym:p90", &l, x, 1, 0);
    assert_true(r.scales[0] == 90.1f / 255.0f);
    assert_int_equal(r.zero_points[0], 0);
    run_free(&r);
}

static void
double_quantization_of_scales(void **state)
{
    /* Block scales {1, 3}: mean 2, offsets {-1, 1}, block absmax 1; the
     * dynamic map's extremes are 1.0 and -0.99296875 (the mean of the last
     * two points of linspace(0.1, 1, 65)), so the scales become
     * -0.99296875 + 2 and 1 + 2. */
    static const float absmax[] = { 1.0f, 3.0f };
    float out[2];

    (void)state;
    quant_double_quantize(absmax, 2, out);
    assert_relative(out[0], 2.0 - 0.99296875, 1e-6);
    assert_true(out[1] == 3.0f);
}

static void
nf4_dq_keeps_codes(void **state)
{
    enum { K = 256, N = 40 };
    float *x = qs_calloc(K * N, sizeof(float));
    struct qs_quant_layout l = layout_2d(K, N, 1, 0);
    struct run plain, dq;

    (void)state;
    for (int i = 0; i < K * N; i++)
        x[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 7));
    plain = run_trial("nf4:b64", &l, x, 1, 0);
    dq = run_trial("nf4:b64:dq", &l, x, 1, 0);
    /* Codes come from the fp32 absmax (as bitsandbytes), scales from the 8-bit copy. */
    assert_codes(dq.codes, plain.codes, K * N);
    for (int s = 0; s < 4 * N; s++)
        assert_relative(dq.scales[s], plain.scales[s], 0.02);
    assert_true(dq.result.metrics.sum_sq_err != plain.result.metrics.sum_sq_err);
    assert_relative(dq.result.metrics.sum_sq_err, plain.result.metrics.sum_sq_err, 0.05);
    /* 4 + 8/64 + (32 + 32) / 10240 bits per weight. */
    assert_double_near(dq.result.sizes.bits_per_weight, 4.125 + 64.0 / (K * N), 1e-12);
    run_free(&plain);
    run_free(&dq);
    free(x);
}

/* ---- Edge cases ---- */

static void
zero_and_subnormal_channels_are_flagged(void **state)
{
    /* [4 channels, 4]: channel 0 normal, 1 all zero, 2 constant 0.5,
     * 3 zero but for one subnormal 1e-42. */
    static const float x[] = {
        1.0f, -0.5f, 0.25f, 0.75f,
        0.0f, 0.0f, 0.0f, 0.0f,
        0.5f, 0.5f, 0.5f, 0.5f,
        -0.0f, -0.0f, 1e-42f, -0.0f,
    };
    static const char *const configs[] = { "int8:channel:sym", "int8:channel:asym",
                                           "int4:channel:sym", "fp8e4m3:channel",
                                           "nf4:channel" };
    struct qs_quant_layout l = layout_2d(4, 4, 0, 1);

    (void)state;
    for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
        struct run r = run_trial(configs[c], &l, x, 1, 0);

        assert_int_equal(r.result.flagged, 2);
        assert_true(r.scales[1] == 1.0f && r.scales[3] == 1.0f);
        for (int i = 4; i < 8; i++)
            assert_true(r.deq[i] == 0.0f);
        assert_true(r.deq[14] == 0.0f);
        /* The constant channel is exact in every format. */
        for (int i = 8; i < 12; i++)
            assert_true(r.deq[i] == 0.5f);
        for (int i = 0; i < 16; i++)
            assert_true(isfinite(r.deq[i]));
        assert_true(isfinite(r.result.metrics.sqnr_db));
        run_free(&r);
    }
}

static void
zero_tensor_is_exact(void **state)
{
    static const char *const configs[] = {
        "int2", "int4", "int8", "int16", "int8:tensor:asym", "fp8e4m3", "fp8e5m2:g4", "nf4",
        "nf4:b64:dq", "fp16", "bf16", "int4:g8:mse", "int8:channel:p99",
    };
    float x[64] = { 0 };
    struct qs_quant_layout l = layout_2d(16, 4, 1, 0);

    (void)state;
    for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
        struct run r = run_trial(configs[c], &l, x, 2, 0);

        assert_true(r.result.metrics.exact);
        assert_true(isinf(r.result.metrics.sqnr_db));
        assert_true(r.result.metrics.cosine == 1.0);
        assert_int_equal(r.result.flagged, r.result.sizes.scales);
        for (int i = 0; i < 64; i++)
            assert_true(r.deq[i] == 0.0f);
        run_free(&r);
    }
}

static void
nonfinite_inputs_are_skipped(void **state)
{
    float x[40], clean[40];
    struct qs_quant_layout l = layout_2d(10, 4, 1, 0);
    struct run r, base;

    (void)state;
    for (int i = 0; i < 40; i++)
        x[i] = clean[i] = sinf((float)i);
    x[5] = NAN;
    x[22] = -INFINITY;
    clean[5] = 0.0f;
    clean[22] = 0.0f;
    r = run_trial("int8:channel", &l, x, 2, 0);
    base = run_trial("int8:channel", &l, clean, 1, 1);
    assert_int_equal(r.result.nonfinite, 2);
    assert_int_equal(r.result.metrics.count, 38);
    assert_string_equal(r.result.isa, "ref");
    assert_true(isnan(r.deq[5]));
    assert_true(isinf(r.deq[22]));
    assert_int_equal(r.codes[5], 0);
    /* Skipped values add nothing: the sums equal those with zeros there. */
    assert_true(r.result.metrics.sum_sq_err == base.result.metrics.sum_sq_err);
    assert_true(r.result.metrics.signal_energy == base.result.metrics.signal_energy);
    run_free(&r);
    run_free(&base);
}

static void
missing_axis_is_reported(void **state)
{
    static const int64_t dims[] = { 10 };
    static const float x[10];
    struct qs_quant_layout l;
    struct qs_quant_config config;
    struct qs_quant_result result;
    struct qs_quant_request req = { 0 };
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(qs_quant_layout_init(&l, dims, 1, -1, -1, NULL, "m"), QS_OK);
    qs_quant_config_default(QS_QUANT_INT8, &config);
    req.config = &config;
    req.layout = &l;
    req.weights = x;
    req.threads = 1;
    req.file = "model.onnx";
    req.layer = "bias";
    assert_int_equal(qs_quant_trial(&req, &result, &diag), QS_USAGE);
    assert_int_equal(diag.count, 1);
    assert_non_null(strstr(diag.lines[0], "model.onnx: "));
    assert_non_null(strstr(diag.lines[0], "channel axis"));
    assert_non_null(strstr(diag.lines[0], "bias"));

    /* Weights missing altogether. */
    qs_quant_config_default(QS_QUANT_INT8, &config);
    config.granularity = QS_QUANT_GRAN_TENSOR;
    req.weights = NULL;
    assert_int_equal(qs_quant_trial(&req, &result, &diag), QS_USAGE);
    assert_int_equal(diag.count, 2);
    qs_diag_done(&diag);
}

/* ---- Properties over random tensors ---- */

static float *
normal_tensor(size_t n, unsigned seed)
{
    float *x = qs_calloc(n, sizeof(float));
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

    for (size_t i = 0; i < n; i += 2) {
        double u1, u2, r;

        s = s * 6364136223846793005ull + 1442695040888963407ull;
        u1 = ((double)(s >> 11) + 1.0) / 9007199254740994.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        u2 = (double)(s >> 11) / 9007199254740992.0;
        r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(6.283185307179586 * u2) * (1.0 + (double)(i % 13) / 4.0));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
    return x;
}

/* Layouts that exercise every plan of the trial driver. */
struct test_layout {
    const char *name;
    int64_t dims[4];
    int rank, channel_axis, group_axis;
};

static const struct test_layout test_layouts[] = {
    { "matmul B [K, N]", { 300, 70 }, 2, 1, 0 },
    { "gemm B transB [N, K]", { 70, 300 }, 2, 0, 1 },
    { "conv [M, C, kh, kw]", { 12, 20, 3, 3 }, 4, 0, 1 },
    { "convtranspose [C, M, kh, kw]", { 20, 12, 3, 3 }, 4, 1, 0 },
    { "lstm [dirs, 4H, I]", { 2, 48, 30 }, 3, 1, 2 },
};

static const char *const property_configs[] = {
    "int8", "int8:tensor", "int8:channel:asym", "int4", "int4:g32:sym", "int3:g128",
    "int16:channel", "fp8e4m3", "fp8e5m2:g16", "nf4", "nf4:b32:dq", "fp16", "bf16",
    "int4:g32:mse", "int8:channel:p99.9", "int4:channel:asym:p99", "nf4:b64:mse",
    "int8:channel:mse",
};

static struct qs_quant_layout
test_layout(const struct test_layout *t)
{
    struct qs_quant_layout l;

    assert_int_equal(qs_quant_layout_init(&l, t->dims, t->rank, t->channel_axis, t->group_axis,
                                          NULL, "t"), QS_OK);
    return l;
}

static void compare_with_reference(void);

static void
assert_same_run(const struct run *a, const struct run *b, size_t n, int exact_sums)
{
    const struct qs_quant_metrics *ma = &a->result.metrics, *mb = &b->result.metrics;

    assert_codes(a->codes, b->codes, n);
    assert_floats(a->deq, b->deq, n);
    assert_floats(a->scales, b->scales, (size_t)a->result.sizes.scales);
    assert_int_equal(a->result.flagged, b->result.flagged);
    if (exact_sums) {
        assert_true(ma->sum_sq_err == mb->sum_sq_err);
        assert_true(ma->signal_energy == mb->signal_energy);
        assert_true(ma->dot == mb->dot);
        assert_true(ma->deq_energy == mb->deq_energy);
    } else {
        assert_relative(ma->sum_sq_err, mb->sum_sq_err, FAST_SUM_TOLERANCE);
        assert_relative(ma->signal_energy, mb->signal_energy, FAST_SUM_TOLERANCE);
        assert_relative(ma->dot, mb->dot, FAST_SUM_TOLERANCE);
        assert_relative(ma->deq_energy, mb->deq_energy, FAST_SUM_TOLERANCE);
        assert_true(ma->cosine <= 1.0 && mb->cosine <= 1.0);
    }
    /* Every kernel computes w - w' in double. */
    assert_true(ma->max_abs_err == mb->max_abs_err);
}

static void
threads_give_identical_results(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(test_layouts) / sizeof(test_layouts[0]); k++) {
        struct qs_quant_layout l = test_layout(&test_layouts[k]);
        float *x = normal_tensor(l.count, (unsigned)k + 1);

        for (size_t c = 0; c < sizeof(property_configs) / sizeof(property_configs[0]); c++) {
            struct run one = run_trial(property_configs[c], &l, x, 1, 0);
            struct run two = run_trial(property_configs[c], &l, x, 2, 0);
            struct run three = run_trial(property_configs[c], &l, x, 3, 0);

            assert_same_run(&one, &two, l.count, 1);
            assert_same_run(&one, &three, l.count, 1);
            run_free(&one);
            run_free(&two);
            run_free(&three);
        }
        free(x);
    }
}

static void
fast_trial_matches_reference(void **state)
{
    static const char *const isas[] = { "avx512", "avx2", "x86-64" };

    (void)state;
    for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
        assert_int_equal(qs_quant_set_isa(isas[i]), QS_OK);
        compare_with_reference();
    }
    assert_int_equal(qs_quant_set_isa(NULL), QS_OK);
    assert_int_equal(qs_quant_set_isa("sse9"), QS_USAGE);
}

static void
compare_with_reference(void)
{
    for (size_t k = 0; k < sizeof(test_layouts) / sizeof(test_layouts[0]); k++) {
        struct qs_quant_layout l = test_layout(&test_layouts[k]);
        float *x = normal_tensor(l.count, (unsigned)k + 11);

        for (size_t c = 0; c < sizeof(property_configs) / sizeof(property_configs[0]); c++) {
            struct run fast = run_trial(property_configs[c], &l, x, 2, 0);
            struct run ref = run_trial(property_configs[c], &l, x, 1, 1);

            assert_string_equal(ref.result.isa, "ref");
            assert_same_run(&fast, &ref, l.count, 0);
            run_free(&fast);
            run_free(&ref);
        }
        free(x);
    }
}

static void
metrics_only_equals_full_outputs(void **state)
{
    struct qs_quant_layout l = test_layout(&test_layouts[0]);
    float *x = normal_tensor(l.count, 5);

    (void)state;
    for (size_t c = 0; c < sizeof(property_configs) / sizeof(property_configs[0]); c++) {
        struct run full = run_trial(property_configs[c], &l, x, 2, 0);
        struct qs_quant_request req = { 0 };
        struct qs_quant_result result;

        req.config = &full.config;
        req.layout = &l;
        req.weights = x;
        req.threads = 2;
        assert_int_equal(qs_quant_trial(&req, &result, NULL), QS_OK);
        assert_true(result.metrics.sum_sq_err == full.result.metrics.sum_sq_err);
        assert_true(result.metrics.dot == full.result.metrics.dot);
        assert_true(result.metrics.max_abs_err == full.result.metrics.max_abs_err);
        run_free(&full);
    }
    free(x);
}

static double
sse_of(const char *text, const struct qs_quant_layout *l, const float *x, double *max_err)
{
    struct run r = run_trial(text, l, x, 2, 0);
    double sse = r.result.metrics.sum_sq_err;

    if (max_err)
        *max_err = r.result.metrics.max_abs_err;
    run_free(&r);
    return sse;
}

static void
error_falls_as_bits_rise(void **state)
{
    static const char *const families[] = { "int%d:channel:sym", "int%d:g64:asym",
                                            "int%d:tensor:sym" };
    struct qs_quant_layout l = test_layout(&test_layouts[0]);
    float *x = normal_tensor(l.count, 21);

    (void)state;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        double previous = INFINITY;

        for (int bits = 2; bits <= 8; bits++) {
            char text[32];
            double sse;

            snprintf(text, sizeof(text), families[f], bits);
            sse = sse_of(text, &l, x, NULL);
            if (!(sse < previous))
                fail_msg("%s: squared error %g not below %g", text, sse, previous);
            previous = sse;
        }
        assert_true(sse_of("int16:channel", &l, x, NULL) < previous);
    }
    free(x);
}

static void
finer_granularity_never_worse(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(test_layouts) / sizeof(test_layouts[0]); k++) {
        struct qs_quant_layout l = test_layout(&test_layouts[k]);
        float *x = normal_tensor(l.count, (unsigned)k + 31);

        for (int bits = 3; bits <= 8; bits++) {
            char tensor[32], channel[32];
            double max_tensor, max_channel;

            snprintf(tensor, sizeof(tensor), "int%d:tensor:sym", bits);
            snprintf(channel, sizeof(channel), "int%d:channel:sym", bits);
            assert_true(sse_of(channel, &l, x, &max_channel) <= sse_of(tensor, &l, x, &max_tensor));
            if (max_channel > max_tensor)
                fail_msg("%s on %s: max error %g above per-tensor %g", channel,
                         test_layouts[k].name, max_channel, max_tensor);
        }
        free(x);
    }
}

static void
mse_range_never_worse_than_minmax(void **state)
{
    static const char *const pairs[][2] = {
        { "int4:g32:asym", "int4:g32:asym:mse" }, { "int3:channel:sym", "int3:channel:sym:mse" },
        { "int8:tensor", "int8:tensor:mse" }, { "nf4:b64", "nf4:b64:mse" },
        { "fp8e4m3:channel", "fp8e4m3:channel:mse" },
    };
    struct qs_quant_layout l = test_layout(&test_layouts[2]);
    float *x = normal_tensor(l.count, 41);

    (void)state;
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++)
        assert_true(sse_of(pairs[p][1], &l, x, NULL) <= sse_of(pairs[p][0], &l, x, NULL));
    /* p100 is the min/max range itself. */
    assert_true(sse_of("int8:channel:p100", &l, x, NULL) == sse_of("int8:channel", &l, x, NULL));
    assert_true(sse_of("int4:g32:p100", &l, x, NULL) == sse_of("int4:g32", &l, x, NULL));
    free(x);
}

/* ---- Extreme ranges, stored scales and sums ---- */

/* Run "text" over "x" with the fast kernels and again with the reference
 * kernels; the fast run must not have fallen back to the reference. */
static void
run_both(const char *text, const struct qs_quant_layout *l, const float *x, struct run out[2])
{
    out[0] = run_trial(text, l, x, 1, 0);
    out[1] = run_trial(text, l, x, 1, 1);
    assert_string_equal(out[0].result.isa, qs_quant_isa());
    assert_codes(out[0].codes, out[1].codes, (size_t)l->count);
    assert_floats(out[0].deq, out[1].deq, (size_t)l->count);
}

static void
sym_dequantization_saturates_at_flt_max(void **state)
{
    /* absmax FLT_MAX: the scale fl(FLT_MAX / qmax) times qmax rounds to
     * +inf in float32; saturated, it gives FLT_MAX back exactly. */
    static const char *const configs[] = { "int8:tensor:sym", "int16:tensor:sym",
                                           "int8:channel:sym", "int8:g2:sym:scale=fp32",
                                           "fp8e4m3:tensor", "fp8e5m2:tensor" };
    const float x[] = { FLT_MAX, -FLT_MAX };
    struct qs_quant_layout l = layout_2d(2, 1, 1, 0);

    (void)state;
    for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
        struct run r[2];

        run_both(configs[c], &l, x, r);
        for (int k = 0; k < 2; k++) {
            const struct qs_quant_metrics *m = &r[k].result.metrics;

            if (!(r[k].deq[0] == FLT_MAX && r[k].deq[1] == -FLT_MAX))
                fail_msg("%s (%s): dequantized %.9g %.9g, expected +-FLT_MAX", configs[c],
                         r[k].result.isa, r[k].deq[0], r[k].deq[1]);
            assert_true(m->exact);
            assert_true(m->mse == 0.0 && m->max_abs_err == 0.0);
            assert_true(isinf(m->sqnr_db) && m->sqnr_db > 0);
            assert_true(m->cosine == 1.0);
        }
        run_free(&r[0]);
        run_free(&r[1]);
    }
}

static void
asym_range_wider_than_flt_max(void **state)
{
    /* MatMul B [[3e38], [-3e38]]: the range 6e38 overflows float32 but
     * not double, so the scale is fl(6e38 / 255) = 2.3529e36.  The zero
     * point rint(127.5) = 128 puts both ends half a step away:
     * 3e38 -> code 255 = 127 steps, -3e38 -> code 0 = -128 steps. */
    const float x[] = { 3e38f, -3e38f };
    struct qs_quant_layout l = layout_2d(2, 1, 1, 0);
    float scale = (float)(((double)3e38f + (double)3e38f) / 255.0);
    struct run r[2];

    (void)state;
    run_both("int8:tensor:asym", &l, x, r);
    for (int k = 0; k < 2; k++) {
        const struct qs_quant_metrics *m = &r[k].result.metrics;

        assert_true(r[k].scales[0] == scale);
        assert_int_equal(r[k].zero_points[0], 128);
        assert_int_equal(r[k].codes[0], 255);
        assert_int_equal(r[k].codes[1], 0);
        /* Half a step, give or take the rounding of 3e38f and of the scale. */
        assert_relative(m->max_abs_err, 0.5 * scale, 1e-4);
        /* Energy 1.8e77 over twice (scale / 2)^2: about 48.13 dB. */
        assert_double_near(m->sqnr_db, 10 * log10(2 * 9e76 / (2 * 0.25 * scale * scale)), 1e-3);
    }
    run_free(&r[0]);
    run_free(&r[1]);
}

/* Smallest fp16 value >= v for v in [2^-13, 2^-12), where fp16 steps by 2^-23. */
static float
half_up_binade_13(float v)
{
    assert_true(v >= 0x1p-13f && v < 0x1p-12f);
    return ceilf(v * 0x1p23f) * 0x1p-23f;
}

static void
fp16_group_scales_round_up(void **state)
{
    /* int16 g4 with absmax 5.0016: fl(5.0016 / 32767) = 1280.45 * 2^-23
     * rounds to the nearest fp16 1280 * 2^-23, and 5.0016 would need code
     * 32778 > 32767.  Rounded up to 1281 * 2^-23 it is not clipped. */
    const float x[] = { 5.0016f, -5.0016f, 2.5f, 1.0f };
    struct qs_quant_layout l = layout_2d(4, 1, 1, 0);
    float exact = 5.0016f / 32767.0f;
    struct run r[2];

    (void)state;
    run_both("int16:g4:sym", &l, x, r);
    for (int k = 0; k < 2; k++) {
        assert_true(r[k].scales[0] == half_up_binade_13(exact));
        assert_true(r[k].scales[0] > exact);
        for (int i = 0; i < 4; i++) {
            assert_true(abs(r[k].codes[i]) < 32767);
            if (!(fabs((double)x[i] - r[k].deq[i]) <= 0.5 * r[k].scales[0]))
                fail_msg("element %d: %.9g dequantized to %.9g, more than half a step off",
                         i, x[i], r[k].deq[i]);
        }
    }
    run_free(&r[0]);
    run_free(&r[1]);
}

static void
fp16_group_scales_match_fp32_scales(void **state)
{
    /* With 16-bit codes, storing group scales as fp16 costs about nothing
     * once no absmax is clipped: the SQNR stays within a few tenths of a
     * dB of fp32 scales (it was about 5 dB below when scales were rounded
     * to nearest). */
    static const char *const pairs[][2] = {
        { "int16:g128:sym", "int16:g128:sym:scale=fp32" },
        { "int16:g128:asym", "int16:g128:asym:scale=fp32" },
        { "int16:g32:sym", "int16:g32:sym:scale=fp32" },
    };
    struct qs_quant_layout l = layout_2d(1024, 16, 1, 0);
    float *x = normal_tensor(l.count, 51);

    (void)state;
    for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
        struct run half = run_trial(pairs[p][0], &l, x, 2, 0);
        struct run full = run_trial(pairs[p][1], &l, x, 2, 0);
        double loss = full.result.metrics.sqnr_db - half.result.metrics.sqnr_db;

        if (!(loss < 0.3))
            fail_msg("%s: SQNR %.4f dB, %.4f dB below fp32 scales", pairs[p][0],
                     half.result.metrics.sqnr_db, loss);
        run_free(&half);
        run_free(&full);
    }
    free(x);
}

static void
fast_sums_match_float64_definition(void **state)
{
    /* Eight floats whose fp16 cast gave cosine 1.0000000119 and energy
     * 4.2796346657 when the vector kernels summed float products.  The
     * float64 definition gives 0.9999999932268435 and 4.279634811908669. */
    static const uint32_t bits[] = { 0x3f996f32, 0x3ea1d69a, 0xbf1cce2c, 0xbec44374,
                                     0x3e430553, 0xbfbaecfe, 0x3e09d525, 0x3e3be6de };
    static const char *const isas[] = { "avx512", "avx2", "x86-64" };
    float x[8];
    struct qs_quant_layout l = layout_2d(1, 8, -1, -1);

    (void)state;
    memcpy(x, bits, sizeof(x));
    for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
        struct run r;

        assert_int_equal(qs_quant_set_isa(isas[i]), QS_OK);
        r = run_trial("fp16", &l, x, 1, 0);
        assert_true(r.result.metrics.cosine <= 1.0);
        assert_relative(r.result.metrics.cosine, 0.9999999932268435, 1e-15);
        assert_relative(r.result.metrics.signal_energy, 4.279634811908669, 1e-15);
        run_free(&r);
    }
    assert_int_equal(qs_quant_set_isa(NULL), QS_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int8_tensor_rounds_half_to_even),
        cmocka_unit_test(int8_channel_of_matmul_b),
        cmocka_unit_test(int4_groups_with_zero_points),
        cmocka_unit_test(int4_groups_along_rows),
        cmocka_unit_test(fp8_tensor_grid),
        cmocka_unit_test(nf4_blocks),
        cmocka_unit_test(casts_round_half_to_even),
        cmocka_unit_test(percentile_interpolates),
        cmocka_unit_test(double_quantization_of_scales),
        cmocka_unit_test(nf4_dq_keeps_codes),
        cmocka_unit_test(zero_and_subnormal_channels_are_flagged),
        cmocka_unit_test(zero_tensor_is_exact),
        cmocka_unit_test(nonfinite_inputs_are_skipped),
        cmocka_unit_test(missing_axis_is_reported),
        cmocka_unit_test(threads_give_identical_results),
        cmocka_unit_test(fast_trial_matches_reference),
        cmocka_unit_test(metrics_only_equals_full_outputs),
        cmocka_unit_test(error_falls_as_bits_rise),
        cmocka_unit_test(finer_granularity_never_worse),
        cmocka_unit_test(mse_range_never_worse_than_minmax),
        cmocka_unit_test(sym_dequantization_saturates_at_flt_max),
        cmocka_unit_test(asym_range_wider_than_flt_max),
        cmocka_unit_test(fp16_group_scales_round_up),
        cmocka_unit_test(fp16_group_scales_match_fp32_scales),
        cmocka_unit_test(fast_sums_match_float64_definition),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
