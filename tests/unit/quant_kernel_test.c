/*
 * Quantization kernels: the scalar definitions against the element-type
 * conversions of dtype.c and brute force, and every vector kernel family
 * this CPU has against the scalar reference kernels (codes, scales and
 * dequantized values bit for bit, sums within the tolerances below).
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

#include "dtype.h"
#include "quant.h"
#include "quant_internal.h"

/* Relative tolerances of the vector sums against the reference sums.
 * Every kernel adds the same exact double products (w - w' in double
 * too), and only the order differs: at most a few thousand additions,
 * each rounding by 2^-53. */
static const struct {
    const char *name;
    double relative;
} sum_tolerance[] = {
    { "sse", 1e-12 },
    { "energy", 1e-12 },
    { "dot", 1e-12 },
    { "deq_energy", 1e-12 },
};

/* The range search squares float32 errors: sums this small (per element)
 * are compared with this absolute tolerance, because squares below
 * FLT_MIN underflow there. */
#define TINY_SUM 1e-30

/* ---- Test data ---- */

static uint64_t rng_state;

static uint32_t
rng_next(void)
{
    /* xorshift64*, fixed seed per test for reproducible data. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static float
rng_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_next() >> 8) * 0x1p-24f;
}

/* Random floats with every exponent from 2^-30 to 2^10, and some zeros. */
static float
rng_wide(void)
{
    uint32_t r = rng_next();
    float v = ldexpf(1.0f + (float)(r & 0xffff) / 65536.0f, (int)((r >> 16) % 41) - 30);

    if ((r >> 28) == 0)
        return (r & 1) ? -0.0f : 0.0f;
    return (r & 0x08000000u) ? -v : v;
}

static int
same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- Kernel families available here ---- */

static const struct quant_ops *
family(int index)
{
    if (index == 2)
        return &quant_ops_generic;
    __builtin_cpu_init();
    if (index == 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return &quant_ops_avx512;
    if (index == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &quant_ops_avx2;
    return NULL;
}

/* Every configuration the kernels distinguish. */
static const char *const kernel_configs[] = {
    "int2:tensor:sym", "int2:tensor:asym", "int3:tensor:sym", "int4:tensor:asym",
    "int4:tensor:sym", "int5:tensor:asym", "int7:tensor:sym", "int8:tensor:sym",
    "int8:tensor:asym", "int16:tensor:sym", "int16:tensor:asym", "int4:g32:asym",
    "int8:g32:sym", "fp8e4m3:tensor", "fp8e5m2:tensor", "fp8e4m3:g16", "nf4:tensor",
    "nf4:b64",
};

static void
spec_of(const char *text, struct quant_spec *spec)
{
    struct qs_quant_config config;

    assert_int_equal(qs_quant_config_parse(text, &config, NULL, 0), QS_OK);
    quant_spec_init(spec, &config);
}

static void
assert_sums_close(const struct quant_sums *fast, const struct quant_sums *ref, const char *what)
{
    const double got[] = { fast->sse, fast->energy, fast->dot, fast->deq_energy };
    const double want[] = { ref->sse, ref->energy, ref->dot, ref->deq_energy };

    for (size_t i = 0; i < sizeof(sum_tolerance) / sizeof(sum_tolerance[0]); i++) {
        double limit = sum_tolerance[i].relative * fabs(want[i]);

        if (fabs(got[i] - want[i]) > limit)
            fail_msg("%s: %s %.17g, reference %.17g", what, sum_tolerance[i].name, got[i], want[i]);
    }
    if (fast->max_err != ref->max_err)
        fail_msg("%s: max error %.17g, reference %.17g", what, fast->max_err, ref->max_err);
}

/* ---- Scalar definitions against dtype.c and brute force ---- */

static void
fp8_grid_matches_dtype_conversion(void **state)
{
    (void)state;
    for (int e5m2 = 0; e5m2 <= 1; e5m2++) {
        enum qs_dtype dt = e5m2 ? QS_DT_FLOAT8E5M2 : QS_DT_FLOAT8E4M3FN;

        rng_state = 0x1234 + (uint64_t)e5m2;
        for (int i = 0; i < 200000; i++) {
            float y = i < 256 ? qs_fp8_to_float(dt, (uint8_t)i) : rng_wide();
            int32_t code;
            float v;

            if (i >= 256 && (i & 3) == 0) {    /* halfway points between neighbours */
                uint8_t below = (uint8_t)(i & 0x7f);

                y = (qs_fp8_to_float(dt, below) + qs_fp8_to_float(dt, (uint8_t)(below + 1))) / 2;
            }
            if (!isfinite(y))
                continue;
            v = quant_fp8_ref(e5m2, y, &code);
            if ((uint8_t)code != qs_float_to_fp8(dt, y, 1))
                fail_msg("%s of %.9g: code 0x%02x, dtype.c 0x%02x", e5m2 ? "e5m2" : "e4m3", y,
                         (unsigned)code, qs_float_to_fp8(dt, y, 1));
            assert_true(same_bits(v, qs_fp8_to_float(dt, (uint8_t)code)));
        }
    }
}

static void
fp8_hand_values(void **state)
{
    int32_t code;

    (void)state;
    /* E4M3: 300 lies between 288 (1.125 * 2^8) and 320: nearer 288, code
     * exponent 8 + 7 = 15, mantissa 1: 0x79. */
    assert_true(quant_fp8_ref(0, 300.0f, &code) == 288.0f);
    assert_int_equal(code, 0x79);
    /* -17 is halfway between 16 (mantissa 0) and 18 (mantissa 1): even, -16. */
    assert_true(quant_fp8_ref(0, -17.0f, &code) == -16.0f);
    assert_int_equal(code, 0xd8);
    /* 1e-3 is subnormal in E4M3 (below 2^-6): step 2^-9, 1e-3 * 512 = 0.512 -> 1. */
    assert_true(quant_fp8_ref(0, 1e-3f, &code) == 0x1p-9f);
    assert_int_equal(code, 0x01);
    /* Beyond the largest value saturates: 1000 -> 448 (0x7e), never NaN (0x7f). */
    assert_true(quant_fp8_ref(0, 1000.0f, &code) == 448.0f);
    assert_int_equal(code, 0x7e);
    /* E5M2: 60000 saturates to 57344 (0x7b), not infinity (0x7c). */
    assert_true(quant_fp8_ref(1, 60000.0f, &code) == 57344.0f);
    assert_int_equal(code, 0x7b);
    /* -0.0 keeps its sign bit. */
    assert_true(quant_fp8_ref(0, -0.0f, &code) == 0.0f);
    assert_int_equal(code, 0x80);
}

static void
casts_match_dtype_conversion(void **state)
{
    struct quant_spec half, bf16;

    (void)state;
    spec_of("fp16", &half);
    spec_of("bf16", &bf16);
    rng_state = 99;
    for (int i = 0; i < 200000; i++) {
        float w = i < 4 ? (float[]){ 65504.0f, 65519.996f, 65520.0f, 0x1p-25f }[i] : rng_wide();
        int32_t code;
        float v;

        if (i % 5 == 0)
            w *= 1e4f;
        v = quant_cast_ref(&half, w, &code);
        assert_int_equal((uint16_t)code, qs_float_to_half(w));
        assert_true(same_bits(v, qs_half_to_float((uint16_t)code)));
        v = quant_cast_ref(&bf16, w, &code);
        assert_int_equal((uint16_t)code, qs_float_to_bf16(w));
        assert_true(same_bits(v, qs_bf16_to_float((uint16_t)code)));
    }
}

static void
nf4_index_is_nearest_level(void **state)
{
    (void)state;
    rng_state = 7;
    for (int i = 0; i < 100000; i++) {
        float y = rng_uniform(-1.2f, 1.2f);
        int k = quant_nf4_index_ref(y), best = 0;

        for (int j = 1; j < 16; j++)
            if (fabsf(y - qs_quant_nf4_levels[j]) < fabsf(y - qs_quant_nf4_levels[best]))
                best = j;
        /* Off by one only where y lies on a rounded midpoint. */
        if (k != best) {
            float gap = fabsf(y - qs_quant_nf4_levels[k]) - fabsf(y - qs_quant_nf4_levels[best]);

            assert_true(fabsf(gap) <= 1e-7f);
        }
    }
    /* A value exactly on a midpoint goes to the lower level, as bitsandbytes does. */
    assert_int_equal(quant_nf4_index_ref(quant_nf4_mid[7]), 7);
    assert_int_equal(quant_nf4_index_ref(nextafterf(quant_nf4_mid[7], 1.0f)), 8);
}

static void
half_rounding_of_scales(void **state)
{
    (void)state;
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even mantissa, 1. */
    assert_true(quant_round_half_ref(1.0f + 0x1p-11f) == 1.0f);
    /* 1 + 3 * 2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9: 1 + 2^-9. */
    assert_true(quant_round_half_ref(1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);
    /* Subnormal fp16: a grid of 2^-24; 1.5 * 2^-24 rounds to 2 * 2^-24. */
    assert_true(quant_round_half_ref(1.5f * 0x1p-24f) == 0x1p-23f);
    assert_true(quant_round_half_ref(0x1p-26f) == 0.0f);
    assert_true(quant_round_half_ref(65504.0f) == 65504.0f);
}

static void
half_rounding_up_of_scales(void **state)
{
    (void)state;
    /* Representable values stay; anything above goes to the next fp16. */
    assert_true(quant_round_half_up_ref(1.0f) == 1.0f);
    assert_true(quant_round_half_up_ref(1.0f + 0x1p-23f) == 1.0f + 0x1p-10f);
    assert_true(quant_round_half_up_ref(1.0f + 0x1p-11f) == 1.0f + 0x1p-10f);
    /* A carry out of the mantissa moves to the next binade. */
    assert_true(quant_round_half_up_ref(2.0f - 0x1p-20f) == 2.0f);
    /* Subnormal fp16: the next multiple of 2^-24; the smallest normal
     * float32 gives 2^-24, never 0. */
    assert_true(quant_round_half_up_ref(1.5f * 0x1p-24f) == 0x1p-23f);
    assert_true(quant_round_half_up_ref(FLT_MIN) == 0x1p-24f);
    assert_true(quant_round_half_up_ref(0x1p-14f - 0x1p-30f) == 0x1p-14f);
    assert_true(quant_round_half_up_ref(65503.0f) == 65504.0f);
    assert_true(quant_round_half_up_ref(65504.0f) == 65504.0f);
    /* Against brute force over a range of normal and subnormal fp16. */
    for (float v = 0x1p-20f; v < 4.0f; v *= 1.0001f) {
        float up = quant_round_half_up_ref(v), down = nextafterf(up, 0.0f);

        assert_true(up >= v);
        assert_true(quant_round_half_ref(up) == up);
        /* Every float32 below "up" that is >= v is not an fp16 value. */
        assert_true(down < v || quant_round_half_ref(down) != down);
    }
}

static void
params_flag_tiny_scales(void **state)
{
    struct quant_spec spec;
    float s, inv, z;

    (void)state;
    spec_of("int8:channel:sym", &spec);
    /* absmax 1e-42 (subnormal): scale 1e-42 / 127 is below FLT_MIN. */
    assert_int_equal(quant_param_ref(&spec, 0.0f, 1e-42f, &s, &inv, &z), 1);
    assert_true(s == 1.0f && inv == 0.0f && z == 0.0f);
    assert_int_equal(quant_param_ref(&spec, 0.0f, 0.0f, &s, &inv, &z), 1);
    /* FLT_MIN * 127 gives exactly FLT_MIN: not flagged. */
    assert_int_equal(quant_param_ref(&spec, 0.0f, FLT_MIN * 127.0f, &s, &inv, &z), 0);
    assert_true(s == FLT_MIN);

    /* fp16 group scales round up: 1e-9 / 127 becomes the smallest
     * subnormal fp16 2^-24, not 0, and is not flagged. */
    spec_of("int8:g32:sym", &spec);
    assert_int_equal(quant_param_ref(&spec, 0.0f, 1e-9f, &s, &inv, &z), 0);
    assert_true(s == 0x1p-24f);
    /* 1 / 32767 = 512.016 * 2^-24 rounds up to 513 * 2^-24 (to nearest it
     * would be 512 * 2^-24, and 1.0 would need code 32768). */
    spec_of("int16:g32:sym", &spec);
    assert_int_equal(quant_param_ref(&spec, 0.0f, 1.0f, &s, &inv, &z), 0);
    assert_true(s == 513 * 0x1p-24f);
    assert_true(1.0f * inv < 32767.0f);
    /* Huge ranges saturate the fp16 scale at 65504 instead of infinity. */
    spec_of("int8:g32:sym", &spec);
    assert_int_equal(quant_param_ref(&spec, 0.0f, 1e30f, &s, &inv, &z), 0);
    assert_true(s == 65504.0f);

    /* asym: [-7.5, 7.5] on 4 bits: scale 1, zero point rint(7.5) = 8. */
    spec_of("int4:tensor:asym", &spec);
    assert_int_equal(quant_param_ref(&spec, -7.5f, 7.5f, &s, &inv, &z), 0);
    assert_true(s == 1.0f && z == 8.0f);
    /* The range is widened to include 0: [2, 17] acts as [0, 17]. */
    assert_int_equal(quant_param_ref(&spec, 2.0f, 17.0f, &s, &inv, &z), 0);
    assert_true(s == 17.0f / 15.0f && z == 0.0f);
    /* Ranges wider than FLT_MAX are measured in double. */
    assert_int_equal(quant_param_ref(&spec, -FLT_MAX, FLT_MAX, &s, &inv, &z), 0);
    assert_true(s == (float)(2.0 * FLT_MAX / 15.0));
    assert_true(z == 8.0f);
    spec_of("int8:tensor:asym", &spec);
    assert_int_equal(quant_param_ref(&spec, -3e38f, 3e38f, &s, &inv, &z), 0);
    assert_true(s == (float)(((double)3e38f + (double)3e38f) / 255.0));
    assert_true(z == 128.0f);
}

/* ---- Vector kernels against the reference kernels ---- */

/* Random segment ranges: ordinary, zero, tiny, huge, up to FLT_MAX. */
static void
random_range(float *lo, float *hi)
{
    uint32_t r = rng_next() % 10;

    *lo = -rng_uniform(0.0f, 3.0f);
    *hi = rng_uniform(0.0f, 3.0f);
    if (r == 0)
        *lo = *hi = 0.0f;
    else if (r == 1)
        *hi = 1e-42f, *lo = -2e-42f;
    else if (r == 2)
        *hi = 3e-37f, *lo = -1e-38f;
    else if (r == 3)
        *hi = 3e37f, *lo = -FLT_MAX;
    else if (r == 4)
        *hi = rng_uniform(1e-9f, 1e-4f), *lo = -*hi;
    else if (r == 5)
        *hi = FLT_MAX, *lo = -3e38f;     /* hi - lo and qmax * scale pass FLT_MAX */
}

static void
check_params(const struct quant_ops *ops, const char *text)
{
    enum { N = 77 };
    struct quant_spec spec;
    float lo[N], hi[N], s[2][N], inv[2][N], z[2][N];
    uint64_t flagged[2] = { 0, 0 };

    spec_of(text, &spec);
    for (int i = 0; i < N; i++)
        random_range(&lo[i], &hi[i]);
    quant_ops_ref.params(&spec, N, lo, hi, s[0], inv[0], z[0], &flagged[0]);
    ops->params(&spec, N, lo, hi, s[1], inv[1], z[1], &flagged[1]);
    assert_int_equal(flagged[0], flagged[1]);
    for (int i = 0; i < N; i++) {
        if (!same_bits(s[0][i], s[1][i]) || !same_bits(inv[0][i], inv[1][i])
            || z[0][i] != z[1][i])
            fail_msg("%s %s range [%g, %g]: scale %a inv %a zero %g, reference %a %a %g",
                     ops->name, text, lo[i], hi[i], s[1][i], inv[1][i], z[1][i], s[0][i],
                     inv[0][i], z[0][i]);
    }
}

/* Largest data magnitude of the range search test: the search sums
 * float32 squares, which must not overflow.  The kernels take data up to
 * FLT_MAX. */
#define SEARCH_DATA_MAX 1e18f

/* Data for one segment with parameters (s, inv, z): random values within
 * and beyond the range, exact ties of the integer grid, zeros; none
 * beyond +-"limit". */
static void
random_data(float *x, size_t n, float scale, float range, float limit)
{
    range = fminf(range, limit);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rng_next() % 8;

        x[i] = rng_uniform(-range, range);
        if (r == 0)
            x[i] = ((float)(int)(rng_next() % 31) - 15.5f) * scale;   /* a tie before rounding */
        else if (r == 1)
            x[i] *= 1.5f;                                             /* beyond the range */
        else if (r == 2)
            x[i] = (rng_next() & 1) ? 0.0f : -0.0f;
        else if (r == 3)
            x[i] = rng_wide() * range;
        x[i] = fmaxf(fminf(x[i], limit), -limit);
    }
}

static void
compare_outputs(const char *what, const float *deq0, const float *deq1, const int32_t *code0,
                const int32_t *code1, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (code0[i] != code1[i] || !same_bits(deq0[i], deq1[i]))
            fail_msg("%s element %zu (x = %.9g): code %d value %.9g, reference %d %.9g",
                     what, i, x[i], code1[i], deq1[i], code0[i], deq0[i]);
    }
}

static void
check_run(const struct quant_ops *ops, const char *text, size_t n)
{
    struct quant_spec spec;
    float *x = qs_calloc(n, sizeof(float)), *deq[2], lo, hi, s, inv, z;
    int32_t *code[2];
    struct quant_sums sums[2];
    char what[128];

    spec_of(text, &spec);
    for (int k = 0; k < 2; k++) {
        deq[k] = qs_calloc(n, sizeof(float));
        code[k] = qs_calloc(n, sizeof(int32_t));
        memset(&sums[k], 0, sizeof(sums[k]));
    }
    random_range(&lo, &hi);
    quant_param_ref(&spec, lo, hi, &s, &inv, &z);
    random_data(x, n, s, fmaxf(hi, -lo), FLT_MAX);
    quant_ops_ref.quant_run(&spec, x, n, s, inv, z, deq[0], code[0], &sums[0]);
    ops->quant_run(&spec, x, n, s, inv, z, deq[1], code[1], &sums[1]);
    snprintf(what, sizeof(what), "%s run %s n=%zu scale %a", ops->name, text, n, s);
    compare_outputs(what, deq[0], deq[1], code[0], code[1], x, n);
    assert_sums_close(&sums[1], &sums[0], what);

    /* Metrics only: the same sums without outputs. */
    memset(&sums[1], 0, sizeof(sums[1]));
    ops->quant_run(&spec, x, n, s, inv, z, NULL, NULL, &sums[1]);
    assert_sums_close(&sums[1], &sums[0], what);
    for (int k = 0; k < 2; k++) {
        free(deq[k]);
        free(code[k]);
    }
    free(x);
}

/* A rows x width rectangle with a row stride wider than width. */
static void
check_cols(const struct quant_ops *ops, const char *text, size_t rows, size_t width)
{
    size_t stride = width + 3, n = rows * stride;
    struct quant_spec spec;
    float *x = qs_calloc(n, sizeof(float)), *deq[2], *p[2][5];
    int32_t *code[2];
    struct quant_sums sums[2];
    uint64_t flagged[2] = { 0, 0 };
    char what[128];

    spec_of(text, &spec);
    for (int k = 0; k < 2; k++) {
        deq[k] = qs_calloc(n, sizeof(float));
        code[k] = qs_calloc(n, sizeof(int32_t));
        for (int j = 0; j < 5; j++)
            p[k][j] = qs_calloc(width, sizeof(float));
        memset(&sums[k], 0, sizeof(sums[k]));
    }
    for (size_t j = 0; j < width; j++) {
        float lo, hi, s, inv, z;

        random_range(&lo, &hi);
        quant_param_ref(&spec, lo, hi, &s, &inv, &z);
        for (size_t r = 0; r < rows; r++)
            random_data(&x[r * stride + j], 1, s, fmaxf(hi, -lo), FLT_MAX);
    }

    /* Ranges, then parameters and codes: reference against vector. */
    snprintf(what, sizeof(what), "%s cols %s %zux%zu", ops->name, text, rows, width);
    quant_ops_ref.range_cols(x, rows, width, stride, spec.asym, p[0][3], p[0][4]);
    ops->range_cols(x, rows, width, stride, spec.asym, p[1][3], p[1][4]);
    /* Equal as numbers: min and max may pick either sign of zero. */
    for (size_t j = 0; j < width; j++)
        assert_true(p[0][3][j] == p[1][3][j] && p[0][4][j] == p[1][4][j]);
    quant_ops_ref.params(&spec, width, p[0][3], p[0][4], p[0][0], p[0][1], p[0][2], &flagged[0]);
    quant_ops_ref.quant_cols(&spec, x, rows, width, stride, p[0][0], p[0][1], p[0][2], deq[0],
                             code[0], &sums[0]);
    ops->quant_cols(&spec, x, rows, width, stride, p[0][0], p[0][1], p[0][2], deq[1], code[1],
                    &sums[1]);
    compare_outputs(what, deq[0], deq[1], code[0], code[1], x, n);
    assert_sums_close(&sums[1], &sums[0], what);

    /* The fused kernel finds the same parameters and codes in one call. */
    if (!ops->fused_cols)
        goto done;
    memset(&sums[1], 0, sizeof(sums[1]));
    memset(deq[1], 0, n * sizeof(float));
    memset(code[1], 0, n * sizeof(int32_t));
    ops->fused_cols(&spec, x, rows, width, stride, p[1][0], p[1][1], p[1][2], &flagged[1],
                    deq[1], code[1], &sums[1]);
    assert_int_equal(flagged[0], flagged[1]);
    for (size_t j = 0; j < width; j++)
        assert_true(same_bits(p[0][0][j], p[1][0][j]) && same_bits(p[0][1][j], p[1][1][j])
                    && p[0][2][j] == p[1][2][j]);
    compare_outputs(what, deq[0], deq[1], code[0], code[1], x, n);
    assert_sums_close(&sums[1], &sums[0], what);

done:
    for (int k = 0; k < 2; k++) {
        free(deq[k]);
        free(code[k]);
        for (int j = 0; j < 5; j++)
            free(p[k][j]);
    }
    free(x);
}

static void
vector_params_match_reference(void **state)
{
    (void)state;
    for (int f = 0; f < 3; f++) {
        const struct quant_ops *ops = family(f);

        if (!ops)
            continue;
        rng_state = 42;
        for (size_t c = 0; c < sizeof(kernel_configs) / sizeof(kernel_configs[0]); c++)
            for (int round = 0; round < 20; round++)
                check_params(ops, kernel_configs[c]);
    }
}

static void
vector_runs_match_reference(void **state)
{
    static const size_t lengths[] = { 1, 7, 16, 17, 100, 1000, 4099 };

    (void)state;
    for (int f = 0; f < 3; f++) {
        const struct quant_ops *ops = family(f);

        if (!ops)
            continue;
        rng_state = 4242;
        for (size_t c = 0; c < sizeof(kernel_configs) / sizeof(kernel_configs[0]); c++)
            for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++)
                for (int round = 0; round < 4; round++)
                    check_run(ops, kernel_configs[c], lengths[k]);
    }
}

static void
vector_cols_match_reference(void **state)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 3, 17 }, { 4, 16 }, { 5, 33 },
                                        { 64, 40 }, { 128, 7 }, { 9, 300 } };

    (void)state;
    for (int f = 0; f < 3; f++) {
        const struct quant_ops *ops = family(f);

        if (!ops)
            continue;
        rng_state = 777;
        for (size_t c = 0; c < sizeof(kernel_configs) / sizeof(kernel_configs[0]); c++)
            for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++)
                check_cols(ops, kernel_configs[c], shapes[k][0], shapes[k][1]);
    }
}

static void
vector_casts_match_reference(void **state)
{
    static const char *const casts[] = { "fp16", "bf16" };
    enum { N = 5003 };
    float x[N], deq[2][N];
    int32_t code[2][N];

    (void)state;
    for (int f = 0; f < 3; f++) {
        const struct quant_ops *ops = family(f);

        if (!ops)
            continue;
        rng_state = 5;
        for (int i = 0; i < N; i++)
            x[i] = rng_wide() * ((i % 3 == 0) ? 3e4f : 1.0f);
        x[0] = 65519.99f;
        x[1] = 0x1p-25f;
        x[2] = 1.0f + 0x1p-8f;
        for (int c = 0; c < 2; c++) {
            struct quant_spec spec;
            struct quant_sums sums[2];

            spec_of(casts[c], &spec);
            memset(sums, 0, sizeof(sums));
            quant_ops_ref.cast_run(&spec, x, N, deq[0], code[0], &sums[0]);
            ops->cast_run(&spec, x, N, deq[1], code[1], &sums[1]);
            compare_outputs(casts[c], deq[0], deq[1], code[0], code[1], x, N);
            assert_sums_close(&sums[1], &sums[0], casts[c]);
        }
    }
}

static void
search_sums_agree_across_isas(void **state)
{
    static const size_t lengths[] = { 1, 15, 16, 17, 255, 256, 257, 5000 };
    float v[5000];

    (void)state;
    rng_state = 31337;
    for (size_t c = 0; c < sizeof(kernel_configs) / sizeof(kernel_configs[0]); c++) {
        struct quant_spec spec;

        spec_of(kernel_configs[c], &spec);
        for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
            size_t n = lengths[k];
            float lo, hi, s, inv, z;
            double direct = 0.0, sums[3];
            int32_t code;

            random_range(&lo, &hi);
            quant_param_ref(&spec, lo, hi, &s, &inv, &z);
            random_data(v, n, s, fmaxf(hi, -lo), SEARCH_DATA_MAX);
            for (size_t i = 0; i < n; i++) {
                double e = (double)v[i] - quant_element_ref(&spec, v[i], s, inv, z, &code);

                direct += e * e;
            }
            for (int variant = 0; variant < 3; variant++) {
                if (variant > 0 && !family(2 - variant))
                    continue;
                sums[variant] = quant_range_sse(&spec, v, n, lo, hi, variant);
                if (memcmp(&sums[variant], &sums[0], sizeof(double)) != 0)
                    fail_msg("%s n=%zu: variant %d sums %.17g, baseline %.17g", kernel_configs[c],
                             n, variant, sums[variant], sums[0]);
            }
            if (fabs(sums[0] - direct) > 1e-6 * direct + TINY_SUM * (double)n)
                fail_msg("%s n=%zu: search sum %.17g, element sum %.17g", kernel_configs[c], n,
                         sums[0], direct);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fp8_grid_matches_dtype_conversion),
        cmocka_unit_test(fp8_hand_values),
        cmocka_unit_test(casts_match_dtype_conversion),
        cmocka_unit_test(nf4_index_is_nearest_level),
        cmocka_unit_test(half_rounding_of_scales),
        cmocka_unit_test(half_rounding_up_of_scales),
        cmocka_unit_test(params_flag_tiny_scales),
        cmocka_unit_test(vector_params_match_reference),
        cmocka_unit_test(vector_runs_match_reference),
        cmocka_unit_test(vector_cols_match_reference),
        cmocka_unit_test(vector_casts_match_reference),
        cmocka_unit_test(search_sums_agree_across_isas),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
