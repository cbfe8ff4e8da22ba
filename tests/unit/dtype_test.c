/*
 * Element type traits, decoding of every numeric type against bit patterns
 * written out by hand, and the float encoders.
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dtype.h"

static uint32_t
bits_of(float value)
{
    uint32_t bits;

    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Exact comparison that tells -0 from 0 and accepts NaN for NaN. */
static void
check_float(float actual, float expected, const char *what, size_t index)
{
    if (isnan(expected) && isnan(actual))
        return;
    if (bits_of(actual) != bits_of(expected)) {
        print_error("%s[%zu]: got %a (0x%08x), expected %a (0x%08x)\n", what, index,
                    (double)actual, (unsigned)bits_of(actual),
                    (double)expected, (unsigned)bits_of(expected));
        fail();
    }
}

/* Decode "count" elements from element "first" and compare each. */
static void
check_decode(enum qs_dtype dtype, const void *packed, uint64_t first, size_t count,
             const float *expected)
{
    float out[64];

    assert_true(count <= 64);
    qs_decode_f32(dtype, packed, first, count, out);
    for (size_t i = 0; i < count; i++)
        check_float(out[i], expected[i], qs_dtype_short_name(dtype), i);
}

/* Little-endian 16-bit patterns laid out as bytes, starting one byte into
 * the buffer so that loads are unaligned. */
static void
check_decode_u16(enum qs_dtype dtype, const uint16_t *codes, size_t count,
                 const float *expected)
{
    unsigned char bytes[1 + 2 * 64];

    assert_true(count <= 64);
    for (size_t i = 0; i < count; i++) {
        bytes[1 + 2 * i] = (unsigned char)(codes[i] & 0xff);
        bytes[2 + 2 * i] = (unsigned char)(codes[i] >> 8);
    }
    check_decode(dtype, bytes + 1, 0, count, expected);
}

/* ---- traits ------------------------------------------------------------- */

static void
test_names_and_bits(void **state)
{
    (void)state;
    assert_string_equal(qs_dtype_name(QS_DT_FLOAT), "FLOAT");
    assert_string_equal(qs_dtype_name(QS_DT_FLOAT8E8M0), "FLOAT8E8M0");
    assert_string_equal(qs_dtype_name(0), "UNKNOWN");
    assert_string_equal(qs_dtype_name(25), "UNKNOWN");
    assert_string_equal(qs_dtype_name(-3), "UNKNOWN");
    assert_string_equal(qs_dtype_short_name(QS_DT_FLOAT16), "fp16");
    assert_string_equal(qs_dtype_short_name(QS_DT_FLOAT8E4M3FN), "e4m3fn");
    assert_string_equal(qs_dtype_short_name(QS_DT_INT4), "int4");
    assert_false(qs_dtype_known(0));
    assert_true(qs_dtype_known(1));
    assert_true(qs_dtype_known(24));
    assert_false(qs_dtype_known(25));
    assert_int_equal(qs_dtype_bits(QS_DT_INT4), 4);
    assert_int_equal(qs_dtype_bits(QS_DT_FLOAT4E2M1), 4);
    assert_int_equal(qs_dtype_bits(QS_DT_BOOL), 8);
    assert_int_equal(qs_dtype_bits(QS_DT_BFLOAT16), 16);
    assert_int_equal(qs_dtype_bits(QS_DT_DOUBLE), 64);
    assert_int_equal(qs_dtype_bits(QS_DT_COMPLEX128), 128);
    assert_int_equal(qs_dtype_bits(QS_DT_STRING), 0);
}

static void
test_type_classes(void **state)
{
    (void)state;
    assert_true(qs_dtype_is_float(QS_DT_FLOAT8E8M0));
    assert_true(qs_dtype_is_float(QS_DT_FLOAT4E2M1));
    assert_true(qs_dtype_is_float(QS_DT_DOUBLE));
    assert_false(qs_dtype_is_float(QS_DT_COMPLEX64));
    assert_false(qs_dtype_is_float(QS_DT_INT8));
    assert_true(qs_dtype_is_integer(QS_DT_BOOL));
    assert_true(qs_dtype_is_integer(QS_DT_UINT4));
    assert_false(qs_dtype_is_integer(QS_DT_FLOAT16));
    assert_true(qs_dtype_decodable(QS_DT_INT64));
    assert_true(qs_dtype_decodable(QS_DT_FLOAT8E5M2FNUZ));
    assert_false(qs_dtype_decodable(QS_DT_COMPLEX64));
    assert_false(qs_dtype_decodable(QS_DT_STRING));
    assert_false(qs_dtype_decodable(QS_DT_UNDEFINED));
}

static void
test_packed_size(void **state)
{
    uint64_t bytes = 0;

    (void)state;
    assert_int_equal(qs_dtype_packed_size(QS_DT_INT4, 5, &bytes), 0);
    assert_int_equal(bytes, 3);
    assert_int_equal(qs_dtype_packed_size(QS_DT_FLOAT4E2M1, 4, &bytes), 0);
    assert_int_equal(bytes, 2);
    assert_int_equal(qs_dtype_packed_size(QS_DT_UINT4, UINT64_MAX, &bytes), 0);
    assert_true(bytes == UINT64_MAX / 2 + 1);
    assert_int_equal(qs_dtype_packed_size(QS_DT_DOUBLE, 3, &bytes), 0);
    assert_int_equal(bytes, 24);
    assert_int_equal(qs_dtype_packed_size(QS_DT_FLOAT, UINT64_MAX / 2, &bytes), -1);
    assert_int_equal(qs_dtype_packed_size(QS_DT_STRING, 1, &bytes), -1);
    assert_int_equal(qs_dtype_packed_size((enum qs_dtype)99, 1, &bytes), -1);
}

/* ---- wide floats -------------------------------------------------------- */

static void
test_decode_fp32(void **state)
{
    /* 1.0, -2.5, -0, inf, starting one byte in. */
    static const unsigned char bytes[] = {
        0xaa, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
        0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x7f
    };
    static const float expected[] = { 1.0f, -2.5f, -0.0f, INFINITY };

    (void)state;
    check_decode(QS_DT_FLOAT, bytes + 1, 0, 4, expected);
    check_decode(QS_DT_FLOAT, bytes + 1, 2, 2, expected + 2);
}

static void
test_decode_fp64(void **state)
{
    /* 1.0, -0.1 (0xBFB999999999999A), 1e300 (overflows float), -0. */
    static const unsigned char bytes[] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
        0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0xbf,
        0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80
    };
    float expected[] = { 1.0f, -0.1f, INFINITY, -0.0f };

    (void)state;
    check_decode(QS_DT_DOUBLE, bytes, 0, 4, expected);
}

static void
test_decode_fp16(void **state)
{
    static const uint16_t codes[] = {
        0x3c00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0xfe00,
        0x8000, 0xc000, 0x3555, 0x8001, 0x7c01
    };
    static const float expected[] = {
        1.0f, 0x1p-24f, 0x3ffp-24f, 0x1p-14f, 65504.0f, INFINITY, -INFINITY, NAN,
        -0.0f, -2.0f, 0x1.554p-2f, -0x1p-24f, NAN
    };
    float out[13];

    (void)state;
    /* 13 values: one F16C block of 8 and a scalar tail of 5. */
    check_decode_u16(QS_DT_FLOAT16, codes, 13, expected);
    for (size_t i = 0; i < 13; i++)
        check_float(qs_half_to_float(codes[i]), expected[i], "qs_half_to_float", i);

    qs_decode_f32(QS_DT_FLOAT16, codes, 0, 13, out);
    assert_true(signbit(out[7]));
    assert_false(signbit(out[12]));
}

/* The vector or F16C path agrees bit for bit with the scalar one. */
static void
test_decode_fp16_all_patterns(void **state)
{
    static uint16_t codes[65536];
    static float out[65536];

    (void)state;
    for (uint32_t i = 0; i < 65536; i++)
        codes[i] = (uint16_t)i;
    qs_decode_f32(QS_DT_FLOAT16, codes, 0, 65536, out);
    for (uint32_t i = 0; i < 65536; i++) {
        float scalar = qs_half_to_float((uint16_t)i);

        if (bits_of(out[i]) != bits_of(scalar)) {
            print_error("fp16 0x%04x: decode 0x%08x, scalar 0x%08x\n", (unsigned)i,
                        (unsigned)bits_of(out[i]), (unsigned)bits_of(scalar));
            fail();
        }
    }
}

static void
test_decode_bf16(void **state)
{
    static const uint16_t codes[] = {
        0x3f80, 0xc040, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x7f7f, 0x0080
    };
    static const float expected[] = {
        1.0f, -3.0f, INFINITY, -INFINITY, NAN, 0x1p-133f, -0.0f, 0x1.fep127f, 0x1p-126f
    };

    (void)state;
    check_decode_u16(QS_DT_BFLOAT16, codes, 9, expected);
    for (size_t i = 0; i < 9; i++)
        check_float(qs_bf16_to_float(codes[i]), expected[i], "qs_bf16_to_float", i);
}

/* ---- 8-bit floats ------------------------------------------------------- */

static void
check_fp8(enum qs_dtype dtype, const uint8_t *codes, size_t count, const float *expected)
{
    check_decode(dtype, codes, 0, count, expected);
    for (size_t i = 0; i < count; i++)
        check_float(qs_fp8_to_float(dtype, codes[i]), expected[i], "qs_fp8_to_float", i);
}

static void
test_decode_e4m3fn(void **state)
{
    /* max, -max, min subnormal, largest subnormal, min normal, 1, NaN, -NaN, -0, 0 */
    static const uint8_t codes[] = { 0x7e, 0xfe, 0x01, 0x07, 0x08, 0x38, 0x7f, 0xff, 0x80, 0x00 };
    static const float expected[] = {
        448.0f, -448.0f, 0x1p-9f, 0x7p-9f, 0x1p-6f, 1.0f, NAN, NAN, -0.0f, 0.0f
    };

    (void)state;
    check_fp8(QS_DT_FLOAT8E4M3FN, codes, 10, expected);
    /* 0x78 is S.1111.000 = 256: a normal number, not inf. */
    check_float(qs_fp8_to_float(QS_DT_FLOAT8E4M3FN, 0x78), 256.0f, "e4m3fn 0x78", 0);
}

static void
test_decode_e4m3fnuz(void **state)
{
    /* max, -max, min subnormal, min normal, 1 (bias 8), NaN, 0 */
    static const uint8_t codes[] = { 0x7f, 0xff, 0x01, 0x08, 0x40, 0x80, 0x00 };
    static const float expected[] = { 240.0f, -240.0f, 0x1p-10f, 0x1p-7f, 1.0f, NAN, 0.0f };

    (void)state;
    check_fp8(QS_DT_FLOAT8E4M3FNUZ, codes, 7, expected);
}

static void
test_decode_e5m2(void **state)
{
    /* max, inf, -inf, three NaNs, min subnormal, min normal, 1, -0 */
    static const uint8_t codes[] = { 0x7b, 0x7c, 0xfc, 0x7d, 0x7e, 0xff, 0x01, 0x04, 0x3c, 0x80 };
    static const float expected[] = {
        57344.0f, INFINITY, -INFINITY, NAN, NAN, NAN, 0x1p-16f, 0x1p-14f, 1.0f, -0.0f
    };

    (void)state;
    check_fp8(QS_DT_FLOAT8E5M2, codes, 10, expected);
}

static void
test_decode_e5m2fnuz(void **state)
{
    /* max, 0x7c is finite (2^15), min subnormal, min normal, 1 (bias 16), NaN, -max */
    static const uint8_t codes[] = { 0x7f, 0x7c, 0x01, 0x04, 0x40, 0x80, 0xff };
    static const float expected[] = {
        57344.0f, 32768.0f, 0x1p-17f, 0x1p-15f, 1.0f, NAN, -57344.0f
    };

    (void)state;
    check_fp8(QS_DT_FLOAT8E5M2FNUZ, codes, 7, expected);
}

static void
test_decode_e8m0(void **state)
{
    static const uint8_t codes[] = { 0x7f, 0x00, 0xfe, 0xff, 0x80, 0x7e, 0x01 };
    static const float expected[] = { 1.0f, 0x1p-127f, 0x1p127f, NAN, 2.0f, 0.5f, 0x1p-126f };

    (void)state;
    check_fp8(QS_DT_FLOAT8E8M0, codes, 7, expected);
}

/* The lookup tables match the scalar formula for every code of every type. */
static void
test_fp8_tables_match_scalar(void **state)
{
    static const enum qs_dtype types[] = {
        QS_DT_FLOAT8E4M3FN, QS_DT_FLOAT8E4M3FNUZ, QS_DT_FLOAT8E5M2,
        QS_DT_FLOAT8E5M2FNUZ, QS_DT_FLOAT8E8M0
    };
    uint8_t codes[256];
    float out[256];
    int nans;

    (void)state;
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)i;
    for (size_t t = 0; t < 5; t++) {
        qs_decode_f32(types[t], codes, 0, 256, out);
        nans = 0;
        for (int i = 0; i < 256; i++) {
            check_float(out[i], qs_fp8_to_float(types[t], (uint8_t)i), "fp8 table", (size_t)i);
            nans += isnan(out[i]) != 0;
        }
        /* NaN codes: E4M3FN 2, FNUZ 1, E5M2 6, E8M0 1. */
        assert_int_equal(nans, types[t] == QS_DT_FLOAT8E4M3FN ? 2
                               : types[t] == QS_DT_FLOAT8E5M2 ? 6 : 1);
    }
    assert_true(isnan(qs_fp8_to_float(QS_DT_FLOAT16, 0)));
}

/* ---- 4-bit types -------------------------------------------------------- */

static void
test_decode_fp4_all_codes(void **state)
{
    static const unsigned char bytes[] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe };
    static const float expected[] = {
        0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
        -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f
    };

    (void)state;
    check_decode(QS_DT_FLOAT4E2M1, bytes, 0, 16, expected);
    check_decode(QS_DT_FLOAT4E2M1, bytes, 3, 10, expected + 3);
    for (uint8_t code = 0; code < 16; code++)
        check_float(qs_fp4_to_float(code), expected[code], "qs_fp4_to_float", code);
    check_float(qs_fp4_to_float(0xf3), 1.5f, "qs_fp4_to_float high bits", 0);
}

static void
test_decode_int4_nibble_order(void **state)
{
    /* Elements low nibble first: 1, 2, -1, -8, -2, 7, (unused high nibble 0xa). */
    static const unsigned char bytes[] = { 0x21, 0x8f, 0x7e, 0xa0 };
    static const float all[] = { 1, 2, -1, -8, -2, 7, 0 };
    static const int64_t all_i64[] = { 1, 2, -1, -8, -2, 7, 0 };
    int64_t out[7];

    (void)state;
    check_decode(QS_DT_INT4, bytes, 0, 7, all);
    /* Odd start, even count; odd start, odd count; single high nibble. */
    check_decode(QS_DT_INT4, bytes, 1, 4, all + 1);
    check_decode(QS_DT_INT4, bytes, 1, 3, all + 1);
    check_decode(QS_DT_INT4, bytes, 3, 1, all + 3);
    check_decode(QS_DT_INT4, bytes, 0, 3, all);

    qs_decode_i64(QS_DT_INT4, bytes, 1, 6, out);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(out[i], all_i64[i + 1]);
}

static void
test_decode_uint4(void **state)
{
    static const unsigned char bytes[] = { 0x21, 0x8f, 0x7e };
    static const float expected[] = { 1, 2, 15, 8, 14, 7 };
    int64_t out[3];

    (void)state;
    check_decode(QS_DT_UINT4, bytes, 0, 6, expected);
    check_decode(QS_DT_UINT4, bytes, 3, 3, expected + 3);
    qs_decode_i64(QS_DT_UINT4, bytes, 2, 3, out);
    assert_int_equal(out[0], 15);
    assert_int_equal(out[1], 8);
    assert_int_equal(out[2], 14);
}

/* ---- integers and bool -------------------------------------------------- */

static void
test_decode_8_and_16_bit_integers(void **state)
{
    static const unsigned char bytes8[] = { 0x80, 0x7f, 0xff, 0x00 };
    static const float int8[] = { -128, 127, -1, 0 };
    static const float uint8[] = { 128, 127, 255, 0 };
    static const uint16_t codes16[] = { 0x8000, 0x7fff, 0xffff };
    static const float int16[] = { -32768, 32767, -1 };
    static const float uint16[] = { 32768, 32767, 65535 };

    (void)state;
    check_decode(QS_DT_INT8, bytes8, 0, 4, int8);
    check_decode(QS_DT_UINT8, bytes8, 0, 4, uint8);
    check_decode_u16(QS_DT_INT16, codes16, 3, int16);
    check_decode_u16(QS_DT_UINT16, codes16, 3, uint16);
}

static void
test_decode_32_bit_integers(void **state)
{
    /* INT32_MIN, INT32_MAX (rounds to 2^31), 16777217 (ties to even 2^24), -1 */
    static const unsigned char bytes[] = {
        0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f,
        0x01, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff
    };
    static const float int32[] = { -0x1p31f, 0x1p31f, 0x1p24f, -1.0f };
    static const float uint32[] = { 0x1p31f, 0x1p31f, 0x1p24f, 0x1p32f };
    int64_t out[4];

    (void)state;
    check_decode(QS_DT_INT32, bytes, 0, 4, int32);
    check_decode(QS_DT_UINT32, bytes, 0, 4, uint32);
    qs_decode_i64(QS_DT_INT32, bytes, 0, 4, out);
    assert_true(out[0] == INT32_MIN);
    assert_true(out[1] == INT32_MAX);
    assert_true(out[2] == 16777217);
    qs_decode_i64(QS_DT_UINT32, bytes, 3, 1, out);
    assert_true(out[0] == UINT32_MAX);
}

static void
test_decode_64_bit_integers(void **state)
{
    /* INT64_MIN, UINT64_MAX bytes (-1 signed), 2^53 + 1 */
    static const unsigned char bytes[] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00
    };
    static const float int64[] = { -0x1p63f, -1.0f, 0x1p53f };
    static const float uint64[] = { 0x1p63f, 0x1p64f, 0x1p53f };
    int64_t out[3];

    (void)state;
    check_decode(QS_DT_INT64, bytes, 0, 3, int64);
    check_decode(QS_DT_UINT64, bytes, 0, 3, uint64);
    qs_decode_i64(QS_DT_INT64, bytes, 0, 3, out);
    assert_true(out[0] == INT64_MIN);
    assert_true(out[1] == -1);
    assert_true(out[2] == 9007199254740993LL);
    qs_decode_i64(QS_DT_UINT64, bytes, 0, 3, out);
    assert_true(out[0] == INT64_MAX);    /* 2^63 saturates */
    assert_true(out[1] == INT64_MAX);
    assert_true(out[2] == 9007199254740993LL);
}

static void
test_decode_bool(void **state)
{
    static const unsigned char bytes[] = { 0x00, 0x01, 0x02, 0xff };
    static const float expected[] = { 0, 1, 1, 1 };
    int64_t out[4];

    (void)state;
    check_decode(QS_DT_BOOL, bytes, 0, 4, expected);
    qs_decode_i64(QS_DT_BOOL, bytes, 0, 4, out);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[2], 1);
    assert_int_equal(out[3], 1);
}

static void
test_decode_i64_from_floats(void **state)
{
    static const uint16_t half[] = { 0xc100, 0x3c00, 0x7e00, 0x7c00, 0x3bff };
    /* -1e300 and 2.9999999999999996 as doubles */
    static const unsigned char doubles[] = {
        0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0xfe,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x40
    };
    int64_t out[5];

    (void)state;
    qs_decode_i64(QS_DT_FLOAT16, half, 0, 5, out);
    assert_int_equal(out[0], -2);    /* -2.5 truncates toward zero */
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 0);     /* NaN */
    assert_true(out[3] == INT64_MAX);
    assert_int_equal(out[4], 0);     /* 0.99951171875 */
    qs_decode_i64(QS_DT_DOUBLE, doubles, 0, 2, out);
    assert_true(out[0] == INT64_MIN);
    assert_int_equal(out[1], 2);
}

static void
test_decode_undecodable(void **state)
{
    static const unsigned char bytes[16] = { 0 };
    float out[2] = { 0, 0 };
    int64_t ints[2] = { 5, 5 };

    (void)state;
    qs_decode_f32(QS_DT_COMPLEX64, bytes, 0, 2, out);
    assert_true(isnan(out[0]) && isnan(out[1]));
    qs_decode_i64(QS_DT_STRING, bytes, 0, 2, ints);
    assert_int_equal(ints[0], 0);
    assert_int_equal(ints[1], 0);
}

/* ---- encoders ----------------------------------------------------------- */

static void
test_half_round_trip(void **state)
{
    (void)state;
    for (uint32_t code = 0; code < 65536; code++) {
        float value = qs_half_to_float((uint16_t)code);
        uint16_t back = qs_float_to_half(value);

        if (isnan(value)) {
            assert_true((back & 0x7c00) == 0x7c00 && (back & 0x03ff) != 0);
            assert_int_equal(back & 0x8000, code & 0x8000);
            continue;
        }
        if (back != code) {
            print_error("half 0x%04x -> %a -> 0x%04x\n", (unsigned)code, (double)value,
                        (unsigned)back);
            fail();
        }
    }
}

/* The midpoint between neighbours goes to the even one, a hair above it to
 * the upper one; covers every finite positive and negative pair. */
static void
test_half_ties_to_even(void **state)
{
    (void)state;
    for (uint32_t code = 0; code < 0x7bff; code++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            float low = qs_half_to_float((uint16_t)(sign | code));
            float high = qs_half_to_float((uint16_t)(sign | (code + 1)));
            float mid = (low + high) / 2;    /* exact in float32 */
            uint16_t even = (uint16_t)(sign | ((code & 1) ? code + 1 : code));
            float above = nextafterf(mid, high);

            assert_int_equal(qs_float_to_half(mid), even);
            assert_int_equal(qs_float_to_half(above), sign | (code + 1));
            assert_int_equal(qs_float_to_half(nextafterf(mid, low)), sign | code);
        }
    }
}

static void
test_half_encoder_edges(void **state)
{
    (void)state;
    assert_int_equal(qs_float_to_half(65504.0f), 0x7bff);
    assert_int_equal(qs_float_to_half(65519.99f), 0x7bff);
    assert_int_equal(qs_float_to_half(65520.0f), 0x7c00);
    assert_int_equal(qs_float_to_half(-1e10f), 0xfc00);
    assert_int_equal(qs_float_to_half(FLT_MAX), 0x7c00);
    assert_int_equal(qs_float_to_half(INFINITY), 0x7c00);
    assert_int_equal(qs_float_to_half(-0.0f), 0x8000);
    assert_int_equal(qs_float_to_half(0x1p-25f), 0x0000);         /* tie to even 0 */
    assert_int_equal(qs_float_to_half(0x1.000002p-25f), 0x0001);
    assert_int_equal(qs_float_to_half(-0x1.8p-25f), 0x8001);
    assert_int_equal(qs_float_to_half(0x3p-25f), 0x0002);         /* 1.5 quanta: tie to 2 */
    assert_int_equal(qs_float_to_half(0x7ffp-25f), 0x0400);       /* 1023.5 quanta */
    assert_int_equal(qs_float_to_half(FLT_TRUE_MIN), 0x0000);
    assert_int_equal(qs_float_to_half(0x1.002p0f), 0x3c00);       /* 1 + 2^-11: tie to even */
    assert_int_equal(qs_float_to_half(0x1.006p0f), 0x3c02);
    assert_int_equal(qs_float_to_half(NAN) & 0x7e00, 0x7e00);
}

static void
test_bf16_encoder(void **state)
{
    (void)state;
    assert_int_equal(qs_float_to_bf16(1.0f), 0x3f80);
    assert_int_equal(qs_float_to_bf16(0x1.01p0f), 0x3f80);     /* tie to even */
    assert_int_equal(qs_float_to_bf16(0x1.03p0f), 0x3f82);     /* tie to even, upward */
    assert_int_equal(qs_float_to_bf16(0x1.0101p0f), 0x3f81);
    assert_int_equal(qs_float_to_bf16(-3.0f), 0xc040);
    assert_int_equal(qs_float_to_bf16(FLT_MAX), 0x7f80);
    assert_int_equal(qs_float_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(qs_float_to_bf16(-0.0f), 0x8000);
    assert_int_equal(qs_float_to_bf16(NAN) & 0x7fc0, 0x7fc0);
    /* A NaN whose payload lies only in the low 16 bits must stay NaN. */
    {
        uint32_t bits = 0x7f800001u;
        float nan;

        memcpy(&nan, &bits, sizeof nan);
        assert_true(isnan(qs_bf16_to_float(qs_float_to_bf16(nan))));
    }
    for (uint32_t code = 0; code < 65536; code++) {
        float value = qs_bf16_to_float((uint16_t)code);

        if (!isnan(value))
            assert_int_equal(qs_float_to_bf16(value), code);
    }
}

/* Every non-NaN code encodes back to itself, with and without saturation. */
static void
test_fp8_round_trip(void **state)
{
    static const enum qs_dtype types[] = {
        QS_DT_FLOAT8E4M3FN, QS_DT_FLOAT8E4M3FNUZ, QS_DT_FLOAT8E5M2,
        QS_DT_FLOAT8E5M2FNUZ, QS_DT_FLOAT8E8M0
    };

    (void)state;
    for (size_t t = 0; t < 5; t++) {
        for (int code = 0; code < 256; code++) {
            float value = qs_fp8_to_float(types[t], (uint8_t)code);

            if (isnan(value) || isinf(value))
                continue;
            if (qs_float_to_fp8(types[t], value, 1) != code
                || qs_float_to_fp8(types[t], value, 0) != code) {
                print_error("%s code 0x%02x -> %a -> 0x%02x\n", qs_dtype_short_name(types[t]),
                            (unsigned)code, (double)value,
                            (unsigned)qs_float_to_fp8(types[t], value, 1));
                fail();
            }
        }
    }
    assert_int_equal(qs_float_to_fp8(QS_DT_FLOAT8E5M2, INFINITY, 0), 0x7c);
    assert_int_equal(qs_float_to_fp8(QS_DT_FLOAT8E5M2, -INFINITY, 0), 0xfc);
}

static void
test_fp8_e4m3fn_saturation(void **state)
{
    enum qs_dtype t = QS_DT_FLOAT8E4M3FN;

    (void)state;
    assert_int_equal(qs_float_to_fp8(t, 464.0f, 0), 0x7e);     /* tie between 448 and "480" */
    assert_int_equal(qs_float_to_fp8(t, 465.0f, 1), 0x7e);
    assert_int_equal(qs_float_to_fp8(t, 465.0f, 0), 0x7f);
    assert_int_equal(qs_float_to_fp8(t, -1e9f, 1), 0xfe);
    assert_int_equal(qs_float_to_fp8(t, -1e9f, 0), 0xff);
    assert_int_equal(qs_float_to_fp8(t, INFINITY, 1), 0x7e);
    assert_int_equal(qs_float_to_fp8(t, -INFINITY, 1), 0xfe);
    assert_int_equal(qs_float_to_fp8(t, INFINITY, 0), 0x7f);
    assert_int_equal(qs_float_to_fp8(t, -INFINITY, 0), 0xff);
    assert_int_equal(qs_float_to_fp8(t, NAN, 1) & 0x7f, 0x7f);
    assert_int_equal(qs_float_to_fp8(t, -0.0f, 1), 0x80);
    assert_int_equal(qs_float_to_fp8(t, 0x1p-10f, 1), 0x00);    /* half the min subnormal */
    assert_int_equal(qs_float_to_fp8(t, -0x1.8p-10f, 1), 0x81);
    assert_int_equal(qs_float_to_fp8(t, 0x3p-10f, 1), 0x02);    /* 1.5 quanta: tie to 2 */
    assert_int_equal(qs_float_to_fp8(t, 0x1.1p0f, 1), 0x38);    /* 1.0625: tie to even 1 */
    assert_int_equal(qs_float_to_fp8(t, 0x1.3p0f, 1), 0x3a);    /* 1.1875: tie to 1.25 */
    assert_int_equal(qs_float_to_fp8(t, 0x1.ep-7f, 1), 0x08);   /* rounds up into min normal */
    assert_int_equal(qs_float_to_fp8(t, FLT_TRUE_MIN, 1), 0x00);
}

static void
test_fp8_e5m2_saturation(void **state)
{
    enum qs_dtype t = QS_DT_FLOAT8E5M2;

    (void)state;
    assert_int_equal(qs_float_to_fp8(t, 57344.0f, 0), 0x7b);
    assert_int_equal(qs_float_to_fp8(t, 61439.0f, 0), 0x7b);
    assert_int_equal(qs_float_to_fp8(t, 61440.0f, 0), 0x7c);    /* tie rounds to inf */
    assert_int_equal(qs_float_to_fp8(t, 61440.0f, 1), 0x7b);
    assert_int_equal(qs_float_to_fp8(t, -1e9f, 0), 0xfc);
    assert_int_equal(qs_float_to_fp8(t, -1e9f, 1), 0xfb);
    assert_int_equal(qs_float_to_fp8(t, INFINITY, 1), 0x7b);
    assert_int_equal(qs_float_to_fp8(t, -0.0f, 0), 0x80);
    assert_int_equal(qs_float_to_fp8(t, 0x1p-17f, 1), 0x00);
    assert_int_equal(qs_float_to_fp8(t, 0x1.8p-17f, 1), 0x01);
    assert_true(isnan(qs_fp8_to_float(t, qs_float_to_fp8(t, NAN, 0))));
}

static void
test_fp8_fnuz_saturation(void **state)
{
    enum qs_dtype e4 = QS_DT_FLOAT8E4M3FNUZ;
    enum qs_dtype e5 = QS_DT_FLOAT8E5M2FNUZ;

    (void)state;
    assert_int_equal(qs_float_to_fp8(e4, 240.0f, 0), 0x7f);
    assert_int_equal(qs_float_to_fp8(e4, 1e9f, 1), 0x7f);
    assert_int_equal(qs_float_to_fp8(e4, -1e9f, 1), 0xff);
    assert_int_equal(qs_float_to_fp8(e4, 1e9f, 0), 0x80);
    assert_int_equal(qs_float_to_fp8(e4, INFINITY, 1), 0x80);   /* inf is NaN even saturated */
    assert_int_equal(qs_float_to_fp8(e4, -INFINITY, 1), 0x80);
    assert_int_equal(qs_float_to_fp8(e4, NAN, 1), 0x80);
    assert_int_equal(qs_float_to_fp8(e4, -0.0f, 1), 0x00);      /* no negative zero */
    assert_int_equal(qs_float_to_fp8(e4, -0x1p-12f, 1), 0x00);  /* underflow is +0, not NaN */
    assert_int_equal(qs_float_to_fp8(e4, -0x1p-10f, 1), 0x81);
    assert_int_equal(qs_float_to_fp8(e5, 57344.0f, 0), 0x7f);
    assert_int_equal(qs_float_to_fp8(e5, 1e9f, 1), 0x7f);
    assert_int_equal(qs_float_to_fp8(e5, 1e9f, 0), 0x80);
    assert_int_equal(qs_float_to_fp8(e5, INFINITY, 1), 0x80);
    assert_int_equal(qs_float_to_fp8(e5, -0.0f, 0), 0x00);
    assert_int_equal(qs_float_to_fp8(e5, 0x1p-17f, 1), 0x01);
    assert_int_equal(qs_float_to_fp8(e5, -0x1p-19f, 1), 0x00);
}

static void
test_e8m0_encoder(void **state)
{
    enum qs_dtype t = QS_DT_FLOAT8E8M0;

    (void)state;
    assert_int_equal(qs_float_to_fp8(t, 1.0f, 1), 0x7f);
    assert_int_equal(qs_float_to_fp8(t, 1.5f, 1), 0x80);       /* rounds up to 2 */
    assert_int_equal(qs_float_to_fp8(t, 0.75f, 1), 0x7f);
    assert_int_equal(qs_float_to_fp8(t, -4.0f, 1), 0x81);      /* magnitude */
    assert_int_equal(qs_float_to_fp8(t, 0.0f, 1), 0x00);
    assert_int_equal(qs_float_to_fp8(t, 0x1p-127f, 1), 0x00);
    assert_int_equal(qs_float_to_fp8(t, 0x1.8p-127f, 1), 0x01);
    assert_int_equal(qs_float_to_fp8(t, 0x1p-126f, 1), 0x01);
    assert_int_equal(qs_float_to_fp8(t, 0x1p127f, 0), 0xfe);
    assert_int_equal(qs_float_to_fp8(t, 0x1.8p127f, 1), 0xfe);
    assert_int_equal(qs_float_to_fp8(t, 0x1.8p127f, 0), 0xff);
    assert_int_equal(qs_float_to_fp8(t, INFINITY, 1), 0xfe);
    assert_int_equal(qs_float_to_fp8(t, INFINITY, 0), 0xff);
    assert_int_equal(qs_float_to_fp8(t, NAN, 1), 0xff);
    assert_int_equal(qs_float_to_fp8(QS_DT_FLOAT16, 1.0f, 1), 0);
}

static void
test_fp4_encoder(void **state)
{
    (void)state;
    for (uint8_t code = 0; code < 16; code++)
        assert_int_equal(qs_float_to_fp4(qs_fp4_to_float(code)), code);
    assert_int_equal(qs_float_to_fp4(0.25f), 0x0);
    assert_int_equal(qs_float_to_fp4(0.26f), 0x1);
    assert_int_equal(qs_float_to_fp4(0.75f), 0x2);
    assert_int_equal(qs_float_to_fp4(1.25f), 0x2);
    assert_int_equal(qs_float_to_fp4(1.75f), 0x4);
    assert_int_equal(qs_float_to_fp4(2.5f), 0x4);
    assert_int_equal(qs_float_to_fp4(3.5f), 0x6);
    assert_int_equal(qs_float_to_fp4(5.0f), 0x6);
    assert_int_equal(qs_float_to_fp4(5.01f), 0x7);
    assert_int_equal(qs_float_to_fp4(-0.1f), 0x8);
    assert_int_equal(qs_float_to_fp4(-2.75f), 0xd);
    assert_int_equal(qs_float_to_fp4(1e9f), 0x7);
    assert_int_equal(qs_float_to_fp4(-INFINITY), 0xf);
    assert_int_equal(qs_float_to_fp4(NAN), 0x7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_bits),
        cmocka_unit_test(test_type_classes),
        cmocka_unit_test(test_packed_size),
        cmocka_unit_test(test_decode_fp32),
        cmocka_unit_test(test_decode_fp64),
        cmocka_unit_test(test_decode_fp16),
        cmocka_unit_test(test_decode_fp16_all_patterns),
        cmocka_unit_test(test_decode_bf16),
        cmocka_unit_test(test_decode_e4m3fn),
        cmocka_unit_test(test_decode_e4m3fnuz),
        cmocka_unit_test(test_decode_e5m2),
        cmocka_unit_test(test_decode_e5m2fnuz),
        cmocka_unit_test(test_decode_e8m0),
        cmocka_unit_test(test_fp8_tables_match_scalar),
        cmocka_unit_test(test_decode_fp4_all_codes),
        cmocka_unit_test(test_decode_int4_nibble_order),
        cmocka_unit_test(test_decode_uint4),
        cmocka_unit_test(test_decode_8_and_16_bit_integers),
        cmocka_unit_test(test_decode_32_bit_integers),
        cmocka_unit_test(test_decode_64_bit_integers),
        cmocka_unit_test(test_decode_bool),
        cmocka_unit_test(test_decode_i64_from_floats),
        cmocka_unit_test(test_decode_undecodable),
        cmocka_unit_test(test_half_round_trip),
        cmocka_unit_test(test_half_ties_to_even),
        cmocka_unit_test(test_half_encoder_edges),
        cmocka_unit_test(test_bf16_encoder),
        cmocka_unit_test(test_fp8_round_trip),
        cmocka_unit_test(test_fp8_e4m3fn_saturation),
        cmocka_unit_test(test_fp8_e5m2_saturation),
        cmocka_unit_test(test_fp8_fnuz_saturation),
        cmocka_unit_test(test_e8m0_encoder),
        cmocka_unit_test(test_fp4_encoder),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
