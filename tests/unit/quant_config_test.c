/*
 * Configuration strings, layouts, sizes and metric totals of trial
 * quantization.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "quant.h"

/* Assert |got - want| <= tolerance (cmocka 1.1 has no double assertion). */
static void
assert_double_near(double got, double want, double tolerance)
{
    if (!(fabs(got - want) <= tolerance))
        fail_msg("%.17g, expected %.17g (tolerance %g)", got, want, tolerance);
}

/* Parse "text", assert success, and return its canonical string. */
static const char *
canonical(const char *text)
{
    static char buf[QS_QUANT_CONFIG_MAX];
    struct qs_quant_config config;
    char message[256];
    enum qs_status status = qs_quant_config_parse(text, &config, message, sizeof(message));

    if (status != QS_OK)
        fail_msg("'%s' rejected: %s", text, message);
    assert_true(qs_quant_config_format(&config, buf, sizeof(buf)) < QS_QUANT_CONFIG_MAX);
    return buf;
}

static void
defaults_fill_every_part(void **state)
{
    (void)state;
    assert_string_equal(canonical("int4"), "int4:g128:asym:minmax");
    assert_string_equal(canonical("int2"), "int2:g128:asym:minmax");
    assert_string_equal(canonical("int7"), "int7:g128:asym:minmax");
    assert_string_equal(canonical("int8"), "int8:channel:sym:minmax");
    assert_string_equal(canonical("int16"), "int16:channel:sym:minmax");
    assert_string_equal(canonical("fp8e4m3"), "fp8e4m3:channel:sym:minmax");
    assert_string_equal(canonical("fp8e5m2"), "fp8e5m2:channel:sym:minmax");
    assert_string_equal(canonical("nf4"), "nf4:b64:sym:minmax");
    assert_string_equal(canonical("fp16"), "fp16");
    assert_string_equal(canonical("bf16"), "bf16");
}

static void
parts_override_defaults(void **state)
{
    (void)state;
    assert_string_equal(canonical("int4:sym"), "int4:g128:sym:minmax");
    assert_string_equal(canonical("int4:channel"), "int4:channel:asym:minmax");
    assert_string_equal(canonical("int8:tensor:asym:mse"), "int8:tensor:asym:mse");
    assert_string_equal(canonical("int3:g32:mse"), "int3:g32:asym:mse");
    assert_string_equal(canonical("nf4:b64:dq"), "nf4:b64:dq:sym:minmax");
    assert_string_equal(canonical("nf4:b32:dq:p99"), "nf4:b32:dq:sym:p99");
    assert_string_equal(canonical("fp8e4m3:g32"), "fp8e4m3:g32:sym:minmax");
    assert_string_equal(canonical("INT8:Channel:SYM"), "int8:channel:sym:minmax");
}

static void
percentiles_format_shortest(void **state)
{
    (void)state;
    assert_string_equal(canonical("int8:p"), "int8:channel:sym:p99.99");
    assert_string_equal(canonical("int8:p99.9"), "int8:channel:sym:p99.9");
    assert_string_equal(canonical("int8:p99.90"), "int8:channel:sym:p99.9");
    assert_string_equal(canonical("int8:p99.99"), "int8:channel:sym:p99.99");
    assert_string_equal(canonical("int8:p100"), "int8:channel:sym:p100");
    assert_string_equal(canonical("int8:p0.01"), "int8:channel:sym:p0.01");
    assert_string_equal(canonical("int8:p50.5"), "int8:channel:sym:p50.5");
}

static void
scale_type_printed_when_not_default(void **state)
{
    (void)state;
    assert_string_equal(canonical("int4:g64:scale=fp16"), "int4:g64:asym:minmax");
    assert_string_equal(canonical("int4:g64:scale=fp32"), "int4:g64:asym:minmax:scale=fp32");
    assert_string_equal(canonical("int8:channel:scale=fp16"), "int8:channel:sym:minmax:scale=fp16");
}

static void
canonical_strings_round_trip(void **state)
{
    static const char *const texts[] = {
        "int2", "int3:tensor:sym", "int4:g1", "int5:g4294967295:mse", "int6:channel:p12.34",
        "int8:tensor:asym:p99.99", "int16:g7:sym", "fp8e5m2:tensor:mse", "nf4:channel",
        "nf4:b256:dq:mse", "fp16", "bf16", "int4:g64:scale=fp32", "fp8e4m3:g16:scale=fp32",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct qs_quant_config first, second;
        char once[QS_QUANT_CONFIG_MAX], twice[QS_QUANT_CONFIG_MAX];

        assert_int_equal(qs_quant_config_parse(texts[i], &first, NULL, 0), QS_OK);
        qs_quant_config_format(&first, once, sizeof(once));
        assert_int_equal(qs_quant_config_parse(once, &second, NULL, 0), QS_OK);
        qs_quant_config_format(&second, twice, sizeof(twice));
        assert_string_equal(once, twice);
        assert_true(qs_quant_config_equal(&first, &second));
    }
}

/* Assert that "text" is rejected with a message containing "part". */
static void
assert_rejected(const char *text, const char *part)
{
    struct qs_quant_config config;
    char message[256];

    assert_int_equal(qs_quant_config_parse(text, &config, message, sizeof(message)), QS_USAGE);
    if (!strstr(message, part))
        fail_msg("message for '%s' does not name '%s': %s", text, part, message);
}

static void
bad_strings_name_the_part(void **state)
{
    (void)state;
    assert_rejected("int9", "'int9'");
    assert_rejected("int4:g0", "'g0'");
    assert_rejected("int4:g4294967296", "'g4294967296'");
    assert_rejected("int4:gx", "'gx'");
    assert_rejected("int4:b64", "b64");
    assert_rejected("nf4:g64", "g64");
    assert_rejected("int4:sym:g128", "'g128'");
    assert_rejected("int4:mse:sym", "'sym'");
    assert_rejected("int4:sym:asym", "'asym'");
    assert_rejected("int4::sym", "empty part");
    assert_rejected("int4:", "empty part");
    assert_rejected("fp16:tensor", "fp16");
    assert_rejected("nf4:asym", "asym");
    assert_rejected("fp8e4m3:asym", "asym");
    assert_rejected("int8:p0", "'p0'");
    assert_rejected("int8:p100.01", "'p100.01'");
    assert_rejected("int8:p99.999", "'p99.999'");
    assert_rejected("int8:p99.", "'p99.'");
    assert_rejected("int8:foo", "'foo'");
    assert_rejected("int4:dq", "dq");
    assert_rejected("nf4:b64:dq:scale=fp16", "dq");
    assert_rejected("int8:scale=fp8", "'scale=fp8'");
    assert_rejected("", "empty");
    assert_rejected("int8 :channel", "'int8 '");
}

static void
equal_ignores_unused_fields(void **state)
{
    struct qs_quant_config a, b;

    (void)state;
    qs_quant_config_default(QS_QUANT_INT8, &a);
    qs_quant_config_default(QS_QUANT_INT8, &b);
    b.group_size = 32;             /* unused for per-channel */
    b.percentile_centi = 9000;     /* unused for minmax */
    assert_true(qs_quant_config_equal(&a, &b));
    b.scheme = QS_QUANT_ASYM;
    assert_false(qs_quant_config_equal(&a, &b));
}

static void
layout_of_conv_weight(void **state)
{
    /* Conv [M=8, C=4, 3, 3]: channel axis 0, group axis 1. */
    static const int64_t dims[] = { 8, 4, 3, 3 };
    struct qs_quant_layout l;

    (void)state;
    assert_int_equal(qs_quant_layout_init(&l, dims, 4, 0, 1, NULL, "m.onnx"), QS_OK);
    assert_int_equal(l.count, 288);
    assert_int_equal(l.channels, 8);
    assert_int_equal(l.channel_inner, 36);
    assert_int_equal(l.group_len, 4);
    assert_int_equal(l.group_inner, 9);
}

static void
layout_of_convtranspose_weight(void **state)
{
    /* ConvTranspose [C=2, M=3, 3, 3]: channel axis 1, group axis 0. */
    static const int64_t dims[] = { 2, 3, 3, 3 };
    struct qs_quant_layout l;

    (void)state;
    assert_int_equal(qs_quant_layout_init(&l, dims, 4, 1, 0, NULL, "m.onnx"), QS_OK);
    assert_int_equal(l.channels, 3);
    assert_int_equal(l.channel_inner, 9);
    assert_int_equal(l.group_len, 2);
    assert_int_equal(l.group_inner, 27);
}

static void
layout_rejects_bad_axes(void **state)
{
    static const int64_t dims[] = { 4, 5 };
    static const int64_t negative[] = { 4, -1 };
    static const int64_t huge[] = { INT64_MAX, 4 };
    struct qs_quant_layout l;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    assert_int_equal(qs_quant_layout_init(&l, dims, 2, 2, 0, &diag, "m.onnx"), QS_INVALID);
    assert_int_equal(qs_quant_layout_init(&l, dims, 2, 1, 1, &diag, "m.onnx"), QS_INVALID);
    assert_int_equal(qs_quant_layout_init(&l, dims, 2, -2, 0, &diag, "m.onnx"), QS_INVALID);
    assert_int_equal(qs_quant_layout_init(&l, negative, 2, 1, 0, &diag, "m.onnx"), QS_INVALID);
    assert_int_equal(qs_quant_layout_init(&l, huge, 2, 1, 0, &diag, "m.onnx"), QS_INVALID);
    assert_int_equal(diag.count, 5);
    assert_non_null(strstr(diag.lines[0], "m.onnx: "));
    assert_int_equal(qs_quant_layout_init(&l, dims, 2, -1, -1, &diag, "m.onnx"), QS_OK);
    assert_int_equal(l.count, 20);
    assert_int_equal(l.channels, 0);
    qs_diag_done(&diag);
}

static struct qs_quant_sizes
sizes_of(const char *text, uint64_t k, uint64_t n)
{
    struct qs_quant_config config;
    struct qs_quant_layout layout;
    struct qs_quant_sizes sizes;

    assert_int_equal(qs_quant_config_parse(text, &config, NULL, 0), QS_OK);
    qs_quant_layout_matmul_b(&layout, k, n);
    assert_int_equal(qs_quant_sizes_compute(&config, &layout, &sizes, NULL, 0), QS_OK);
    return sizes;
}

static void
sizes_of_each_granularity(void **state)
{
    struct qs_quant_sizes s;

    (void)state;
    /* int4 g128 asym on [4096, 4096]: 32 * 4096 groups, fp16 scale and
     * 4-bit zero point each: 4 + 16/128 + 4/128 = 4.15625 bits. */
    s = sizes_of("int4", 4096, 4096);
    assert_int_equal(s.scales, 32 * 4096);
    assert_int_equal(s.payload_bits, 4096ull * 4096 * 4);
    assert_int_equal(s.payload_bytes, 4096ull * 4096 / 2);
    assert_int_equal(s.scale_bits, 32 * 4096 * 16);
    assert_int_equal(s.zero_point_bits, 32 * 4096 * 4);
    assert_double_near(s.bits_per_weight, 4.15625, 1e-12);

    /* int8 per channel sym: 4096 fp32 scales, no zero points: 8 + 32/4096. */
    s = sizes_of("int8", 4096, 4096);
    assert_int_equal(s.scales, 4096);
    assert_int_equal(s.scale_bytes, 4096 * 4);
    assert_int_equal(s.zero_point_bits, 0);
    assert_double_near(s.bits_per_weight, 8.0078125, 1e-12);

    /* int3 per tensor asym on [3, 5]: 45 + 32 + 3 bits; bytes round up. */
    s = sizes_of("int3:tensor", 3, 5);
    assert_int_equal(s.total_bits, 80);
    assert_int_equal(s.payload_bytes, 6);
    assert_int_equal(s.zero_point_bytes, 1);

    /* Last group shorter: K = 200 with g128 gives 2 groups per column. */
    s = sizes_of("int4:g128", 200, 3);
    assert_int_equal(s.scales, 6);

    s = sizes_of("nf4", 4096, 4096);
    assert_double_near(s.bits_per_weight, 4.5, 1e-12);

    /* nf4 dq: 8-bit block scales, an fp32 absmax per 256 of them, an fp32
     * mean: 4 + 8/64 + 32/(64*256) + 32/n. */
    s = sizes_of("nf4:b64:dq", 4096, 4096);
    assert_int_equal(s.scales, 262144);
    assert_int_equal(s.scale_bits, 262144 * 8 + 1024 * 32 + 32);
    assert_double_near(s.bits_per_weight, 4.0 + 0.125 + 32.0 / 16384 + 32.0 / (4096.0 * 4096),
                        1e-12);

    s = sizes_of("fp16", 10, 10);
    assert_int_equal(s.scales, 0);
    assert_double_near(s.bits_per_weight, 16.0, 0);
}

static void
sizes_need_the_axis(void **state)
{
    static const int64_t dims[] = { 10 };
    struct qs_quant_config config;
    struct qs_quant_layout layout;
    struct qs_quant_sizes sizes;
    char message[256];

    (void)state;
    assert_int_equal(qs_quant_layout_init(&layout, dims, 1, -1, -1, NULL, "m"), QS_OK);
    qs_quant_config_default(QS_QUANT_INT8, &config);
    assert_int_equal(qs_quant_sizes_compute(&config, &layout, &sizes, message, sizeof(message)),
                     QS_USAGE);
    assert_non_null(strstr(message, "channel axis"));
    qs_quant_config_default(QS_QUANT_INT4, &config);
    assert_int_equal(qs_quant_sizes_compute(&config, &layout, &sizes, message, sizeof(message)),
                     QS_USAGE);
    assert_non_null(strstr(message, "group axis"));
}

static void
sizes_reject_huge_weights(void **state)
{
    struct qs_quant_config config;
    struct qs_quant_layout layout;
    struct qs_quant_sizes sizes;
    char message[256];

    (void)state;
    qs_quant_config_default(QS_QUANT_INT16, &config);
    qs_quant_layout_matmul_b(&layout, UINT64_C(1) << 40, UINT64_C(1) << 17);
    assert_int_equal(qs_quant_sizes_compute(&config, &layout, &sizes, message, sizeof(message)),
                     QS_INVALID);
    assert_non_null(strstr(message, "too large"));
    /* 2^56 elements is still accepted: 2^60 payload bits. */
    qs_quant_layout_matmul_b(&layout, UINT64_C(1) << 40, UINT64_C(1) << 16);
    assert_int_equal(qs_quant_sizes_compute(&config, &layout, &sizes, message, sizeof(message)),
                     QS_OK);
    assert_true(sizes.payload_bits == UINT64_C(1) << 60);
}

static void
metrics_total_over_layers(void **state)
{
    struct qs_quant_metrics a, b, total;

    (void)state;
    qs_quant_metrics_init(&a);
    qs_quant_metrics_init(&b);
    qs_quant_metrics_init(&total);
    /* Layer a: 100 weights, energy 100, squared error 1 (20 dB).
     * Layer b: 10 weights, energy 1, squared error 0.1 (10 dB). */
    a.count = 100, a.signal_energy = 100, a.sum_sq_err = 1, a.dot = 99.5, a.deq_energy = 100;
    a.max_abs_err = 0.3;
    b.count = 10, b.signal_energy = 1, b.sum_sq_err = 0.1, b.dot = 0.95, b.deq_energy = 1;
    b.max_abs_err = 0.5;
    qs_quant_metrics_finish(&a);
    qs_quant_metrics_finish(&b);
    assert_double_near(a.sqnr_db, 20.0, 1e-12);
    assert_double_near(b.sqnr_db, 10.0, 1e-12);

    qs_quant_metrics_add(&total, &a);
    qs_quant_metrics_add(&total, &b);
    qs_quant_metrics_finish(&total);
    /* 10 log10(101 / 1.1) = 19.6287..., not the 15 dB mean of the layers. */
    assert_double_near(total.sqnr_db, 10.0 * log10(101.0 / 1.1), 1e-12);
    assert_double_near(total.mse, 1.1 / 110.0, 1e-15);
    assert_double_near(total.max_abs_err, 0.5, 0);
    assert_double_near(total.cosine, 100.45 / 101.0, 1e-12);
    assert_false(total.exact);
}

static void
metrics_of_exact_and_zero(void **state)
{
    struct qs_quant_metrics m;

    (void)state;
    qs_quant_metrics_init(&m);
    assert_true(m.exact);
    assert_true(isinf(m.sqnr_db) && m.sqnr_db > 0);
    assert_double_near(m.cosine, 1.0, 0);
    assert_double_near(m.mse, 0.0, 0);

    m.count = 2, m.signal_energy = 4, m.deq_energy = 0, m.sum_sq_err = 4;
    qs_quant_metrics_finish(&m);
    assert_double_near(m.cosine, 0.0, 0);
    assert_double_near(m.sqnr_db, 0.0, 1e-12);
}

static void
metrics_cosine_stays_within_one(void **state)
{
    struct qs_quant_metrics m;

    (void)state;
    /* Sums rounded so that dot / sqrt(energy * deq_energy) is 1 + 1e-12,
     * and the same with the sign turned. */
    qs_quant_metrics_init(&m);
    m.count = 1, m.signal_energy = 2, m.deq_energy = 2, m.dot = 2 * (1 + 1e-12);
    m.sum_sq_err = 1e-20;
    qs_quant_metrics_finish(&m);
    assert_true(m.cosine == 1.0);
    m.dot = -2 * (1 + 1e-12);
    qs_quant_metrics_finish(&m);
    assert_true(m.cosine == -1.0);
    /* Inside the interval the quotient is kept as it is. */
    m.dot = 1.0;
    qs_quant_metrics_finish(&m);
    assert_double_near(m.cosine, 0.5, 1e-15);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_fill_every_part),
        cmocka_unit_test(parts_override_defaults),
        cmocka_unit_test(percentiles_format_shortest),
        cmocka_unit_test(scale_type_printed_when_not_default),
        cmocka_unit_test(canonical_strings_round_trip),
        cmocka_unit_test(bad_strings_name_the_part),
        cmocka_unit_test(equal_ignores_unused_fields),
        cmocka_unit_test(layout_of_conv_weight),
        cmocka_unit_test(layout_of_convtranspose_weight),
        cmocka_unit_test(layout_rejects_bad_axes),
        cmocka_unit_test(sizes_of_each_granularity),
        cmocka_unit_test(sizes_need_the_axis),
        cmocka_unit_test(sizes_reject_huge_weights),
        cmocka_unit_test(metrics_total_over_layers),
        cmocka_unit_test(metrics_of_exact_and_zero),
        cmocka_unit_test(metrics_cosine_stays_within_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
