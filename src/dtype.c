/*
 * ONNX element types: the traits table, decoding to float32 and int64,
 * and the scalar conversions between float32 and the narrow float formats.
 *
 * Format definitions (ONNX docs/technical float8.md, float4.md, int4.md;
 * OCP Microscaling Formats v1.0 for E8M0):
 *
 *   type      layout        bias  inf          NaN                 max
 *   fp16      S EEEEE M10     15  S.11111.0    S.11111.nonzero     65504
 *   bf16      S E8 M7        127  S.E=255.0    S.E=255.nonzero     ~3.39e38
 *   E4M3FN    S EEEE MMM       7  none         S.1111.111          448
 *   E4M3FNUZ  S EEEE MMM       8  none         1.0000.000 only     240
 *   E5M2      S EEEEE MM      15  S.11111.00   S.11111.{01,10,11}  57344
 *   E5M2FNUZ  S EEEEE MM      16  none         1.00000.00 only     57344
 *   E8M0      EEEEEEEE       127  none         0xFF                2^127
 *   E2M1      S EE M           1  none         none                6
 *
 * FNUZ types have a single zero (0x00) and no negative zero.  E8M0 has no
 * sign and no zero: 0x00 is 2^-127.
 */
#include "config.h"
#include "dtype.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "status.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DTYPE_HAVE_F16C_PATH 1
#include <cpuid.h>
#include <immintrin.h>
#endif

enum dtype_kind {
    KIND_NONE,
    KIND_FLOAT,
    KIND_INTEGER,
    KIND_BOOL,
    KIND_STRING,
    KIND_COMPLEX
};

typedef void decode_f32_fn(const unsigned char *packed, uint64_t first,
                           size_t count, float *out);
typedef void decode_i64_fn(const unsigned char *packed, uint64_t first,
                           size_t count, int64_t *out);

/* One row of the traits table; decoders are NULL for types without one. */
struct dtype_info {
    const char *name;            /* ONNX TensorProto.DataType name */
    const char *short_name;      /* lower-case name for tables */
    int bits;                    /* bits per element in the packed layout */
    enum dtype_kind kind;
    decode_f32_fn *to_f32;
    decode_i64_fn *to_i64;
};

/* Indices into fp8_tables, one per 8-bit float format. */
enum fp8_index {
    FP8_E4M3FN,
    FP8_E4M3FNUZ,
    FP8_E5M2,
    FP8_E5M2FNUZ,
    FP8_E8M0,
    FP8_COUNT
};

/* Placement of the special codes in a sign.exponent.mantissa fp8 format. */
enum fp8_special {
    FP8_SPECIAL_FN,      /* no inf, NaN is S.1..1.1..1 */
    FP8_SPECIAL_FNUZ,    /* no inf, no -0, NaN is 0x80 only */
    FP8_SPECIAL_IEEE     /* inf is S.1..1.0, NaN S.1..1.nonzero */
};

struct fp8_format {
    int exp_bits;
    int man_bits;
    int bias;
    enum fp8_special special;
    uint8_t max_code;    /* largest finite magnitude, sign bit clear */
};

static const struct fp8_format fp8_formats[FP8_E8M0] = {
    [FP8_E4M3FN] = { 4, 3, 7, FP8_SPECIAL_FN, 0x7e },
    [FP8_E4M3FNUZ] = { 4, 3, 8, FP8_SPECIAL_FNUZ, 0x7f },
    [FP8_E5M2] = { 5, 2, 15, FP8_SPECIAL_IEEE, 0x7b },
    [FP8_E5M2FNUZ] = { 5, 2, 16, FP8_SPECIAL_FNUZ, 0x7f },
};

/* Every value of the 4-bit types, indexed by the nibble. */
static const float fp4_values[16] = {
    0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f
};
static const float int4_values[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1
};
static const float uint4_values[16] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

static float fp8_tables[FP8_COUNT][256];
static pthread_once_t fp8_tables_once = PTHREAD_ONCE_INIT;

/* ---- bit casts ---------------------------------------------------------- */

static inline float
bits_to_float(uint32_t bits)
{
    float value;

    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint32_t
float_to_bits(float value)
{
    uint32_t bits;

    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* ---- fp16 and bf16 ------------------------------------------------------ */

/*
 * Branch-free so that the decode loop vectorises.  A subnormal half m*2^-24
 * is rebuilt exactly as (2^-14 + m*2^-24) - 2^-14; NaNs keep their payload
 * and get the quiet bit, as the F16C instruction does.
 */
static inline float
half_to_float_inline(uint16_t half)
{
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t body = (uint32_t)(half & 0x7fffu) << 13;
    uint32_t exponent = body & 0x0f800000u;
    uint32_t rebased = body + ((127u - 15u) << 23);
    uint32_t special = rebased + ((128u - 16u) << 23);
    float subnormal = bits_to_float(rebased + (1u << 23)) - bits_to_float(113u << 23);
    uint32_t bits;

    if (body > 0x0f800000u)
        special |= 0x00400000u;
    bits = exponent == 0x0f800000u ? special : rebased;
    bits = exponent == 0 ? float_to_bits(subnormal) : bits;
    return bits_to_float(bits | sign);
}

float
qs_half_to_float(uint16_t bits)
{
    return half_to_float_inline(bits);
}

/* Round the 24-bit significand "m" right by "shift" bits, ties to even. */
static inline uint32_t
round_shift_even(uint32_t m, int shift)
{
    uint32_t quotient = m >> shift;
    uint32_t rest = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);

    if (rest > half || (rest == half && (quotient & 1u)))
        quotient++;
    return quotient;
}

uint16_t
qs_float_to_half(float value)
{
    uint32_t bits = float_to_bits(value);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t body = bits & 0x7fffffffu;
    int exponent = (int)(body >> 23);
    uint32_t mantissa = body & 0x007fffffu;

    if (body > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00u | (mantissa >> 13));
    if (exponent >= 127 + 16)
        return (uint16_t)(sign | 0x7c00u);
    if (exponent >= 127 - 14) {
        /* Normal: a carry out of the mantissa bumps the exponent, up to inf. */
        uint32_t half = ((uint32_t)(exponent - 112) << 10) | (mantissa >> 13);
        uint32_t rest = mantissa & 0x1fffu;

        if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    /* Below 2^-25 (or exactly it, a tie to even zero) the result is zero. */
    if (body <= 0x33000000u)
        return sign;
    /* Subnormal: value / 2^-24 = (mantissa | 2^23) * 2^(exponent - 126). */
    return (uint16_t)(sign | round_shift_even(mantissa | 0x00800000u, 126 - exponent));
}

float
qs_bf16_to_float(uint16_t bits)
{
    return bits_to_float((uint32_t)bits << 16);
}

uint16_t
qs_float_to_bf16(float value)
{
    uint32_t bits = float_to_bits(value);

    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x0040u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

/* ---- fp8 and E8M0 ------------------------------------------------------- */

static int
fp8_index_of(enum qs_dtype dtype)
{
    switch (dtype) {
    case QS_DT_FLOAT8E4M3FN: return FP8_E4M3FN;
    case QS_DT_FLOAT8E4M3FNUZ: return FP8_E4M3FNUZ;
    case QS_DT_FLOAT8E5M2: return FP8_E5M2;
    case QS_DT_FLOAT8E5M2FNUZ: return FP8_E5M2FNUZ;
    case QS_DT_FLOAT8E8M0: return FP8_E8M0;
    default: return -1;
    }
}

static float
e8m0_to_float(uint8_t bits)
{
    if (bits == 0xff)
        return NAN;
    return ldexpf(1.0f, (int)bits - 127);
}

static float
fp8_format_to_float(const struct fp8_format *format, uint8_t bits)
{
    int exp_mask = (1 << format->exp_bits) - 1;
    int exponent = (bits >> format->man_bits) & exp_mask;
    int mantissa = bits & ((1 << format->man_bits) - 1);
    float sign = (bits & 0x80u) ? -1.0f : 1.0f;

    if (format->special == FP8_SPECIAL_FNUZ && bits == 0x80u)
        return NAN;
    if (format->special == FP8_SPECIAL_FN && (bits & 0x7fu) == 0x7fu)
        return copysignf(NAN, sign);
    if (format->special == FP8_SPECIAL_IEEE && exponent == exp_mask)
        return mantissa == 0 ? sign * INFINITY : copysignf(NAN, sign);
    if (exponent == 0)
        return sign * ldexpf((float)mantissa, 1 - format->bias - format->man_bits);
    return sign * ldexpf((float)((1 << format->man_bits) | mantissa),
                         exponent - format->bias - format->man_bits);
}

float
qs_fp8_to_float(enum qs_dtype dtype, uint8_t bits)
{
    int index = fp8_index_of(dtype);

    if (index < 0)
        return NAN;
    if (index == FP8_E8M0)
        return e8m0_to_float(bits);
    return fp8_format_to_float(&fp8_formats[index], bits);
}

/* Code for an overflowing or infinite magnitude, by the ONNX Cast tables. */
static uint8_t
fp8_overflow_code(const struct fp8_format *format, uint8_t sign, int saturate, int is_inf)
{
    if (format->special == FP8_SPECIAL_FNUZ)
        return (uint8_t)(is_inf || !saturate ? 0x80u : sign | format->max_code);
    if (saturate)
        return (uint8_t)(sign | format->max_code);
    if (format->special == FP8_SPECIAL_IEEE)
        return (uint8_t)(sign | 0x7cu);
    return (uint8_t)(sign | 0x7fu);
}

/* Magnitude code of finite "body" (float bits without sign), rounded to
 * nearest even; may exceed the format's largest code. */
static uint32_t
fp8_round_magnitude(const struct fp8_format *format, uint32_t body)
{
    int exponent = (int)(body >> 23) - 127;
    uint32_t significand = (body & 0x007fffffu) | 0x00800000u;
    int min_exponent = 1 - format->bias;
    int shift = 23 - format->man_bits;

    if ((body >> 23) == 0)
        return 0;    /* float32 subnormals are far below every fp8 subnormal */
    if (exponent >= min_exponent) {
        uint32_t code = ((uint32_t)(exponent + format->bias) << format->man_bits)
                        | ((body & 0x007fffffu) >> shift);
        uint32_t rest = body & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);

        if (rest > half || (rest == half && (code & 1u)))
            code++;
        return code;
    }
    shift += min_exponent - exponent;
    if (shift > 24)
        return 0;
    return round_shift_even(significand, shift);
}

static uint8_t
float_to_e8m0(float value, int saturate)
{
    uint32_t body = float_to_bits(value) & 0x7fffffffu;
    uint32_t exponent = body >> 23;
    uint32_t code;

    if (body > 0x7f800000u)
        return 0xff;
    if (body == 0x7f800000u)
        return saturate ? 0xfe : 0xff;
    if (exponent == 0)
        return body > 0x00400000u ? 1 : 0;
    code = exponent + ((body & 0x007fffffu) != 0);
    if (code > 0xfe)
        return saturate ? 0xfe : 0xff;
    return (uint8_t)code;
}

uint8_t
qs_float_to_fp8(enum qs_dtype dtype, float value, int saturate)
{
    int index = fp8_index_of(dtype);
    const struct fp8_format *format;
    uint32_t bits = float_to_bits(value);
    uint32_t body = bits & 0x7fffffffu;
    uint8_t sign = (uint8_t)((bits >> 24) & 0x80u);
    uint32_t code;

    if (index < 0)
        return 0;
    if (index == FP8_E8M0)
        return float_to_e8m0(value, saturate);
    format = &fp8_formats[index];
    if (body > 0x7f800000u)
        return format->special == FP8_SPECIAL_FNUZ ? 0x80u : (uint8_t)(sign | 0x7fu);
    if (body == 0x7f800000u)
        return fp8_overflow_code(format, sign, saturate, 1);
    code = fp8_round_magnitude(format, body);
    if (code > format->max_code)
        return fp8_overflow_code(format, sign, saturate, 0);
    if (code == 0 && format->special == FP8_SPECIAL_FNUZ)
        return 0;
    return (uint8_t)(sign | code);
}

/* ---- fp4 ---------------------------------------------------------------- */

float
qs_fp4_to_float(uint8_t nibble)
{
    return fp4_values[nibble & 0x0fu];
}

uint8_t
qs_float_to_fp4(float value)
{
    uint8_t sign = signbit(value) ? 0x08u : 0x00u;
    float magnitude = fabsf(value);

    /* Thresholds are the midpoints between neighbours; each tie goes to
     * the even code, hence the alternating <= and <. */
    if (isnan(value))
        return 0x07;
    if (magnitude <= 0.25f)
        return sign;
    if (magnitude < 0.75f)
        return sign | 1u;
    if (magnitude <= 1.25f)
        return sign | 2u;
    if (magnitude < 1.75f)
        return sign | 3u;
    if (magnitude <= 2.5f)
        return sign | 4u;
    if (magnitude < 3.5f)
        return sign | 5u;
    if (magnitude <= 5.0f)
        return sign | 6u;
    return sign | 7u;
}

/* ---- lookup tables ------------------------------------------------------ */

static void
fp8_tables_build(void)
{
    for (int code = 0; code < 256; code++) {
        for (int index = 0; index < FP8_E8M0; index++)
            fp8_tables[index][code] = fp8_format_to_float(&fp8_formats[index], (uint8_t)code);
        fp8_tables[FP8_E8M0][code] = e8m0_to_float((uint8_t)code);
    }
}

static const float *
fp8_table(enum fp8_index index)
{
    pthread_once(&fp8_tables_once, fp8_tables_build);
    return fp8_tables[index];
}

/* ---- float32 decoders --------------------------------------------------- */

static void
decode_f32_float(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    memcpy(out, packed + first * 4, count * 4);
}

static void
decode_f32_double(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    const unsigned char *p = packed + first * 8;

    for (size_t i = 0; i < count; i++) {
        double value;

        memcpy(&value, p + i * 8, 8);
        out[i] = (float)value;
    }
}

static void
decode_fp16_portable(const unsigned char *p, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++) {
        uint16_t bits;

        memcpy(&bits, p + i * 2, 2);
        out[i] = half_to_float_inline(bits);
    }
}

#ifdef DTYPE_HAVE_F16C_PATH
__attribute__((target("avx,f16c")))
static void
decode_fp16_f16c(const unsigned char *p, size_t count, float *out)
{
    size_t i = 0;

    for (; i + 8 <= count; i += 8) {
        __m128i half = _mm_loadu_si128((const __m128i *)(const void *)(p + i * 2));

        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(half));
    }
    decode_fp16_portable(p + i * 2, count - i, out + i);
}

/* F16C needs the CPU flag and an OS that saves the AVX register state. */
static int
cpu_has_f16c(void)
{
    unsigned int eax, ebx, ecx, edx, xcr0_low, xcr0_high;

    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX) || !(ecx & bit_F16C))
        return 0;
    __asm__ volatile ("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    (void)xcr0_high;
    return (xcr0_low & 0x6u) == 0x6u;
}

static void (*decode_fp16_impl)(const unsigned char *, size_t, float *);
static pthread_once_t decode_fp16_once = PTHREAD_ONCE_INIT;

static void
decode_fp16_choose(void)
{
    decode_fp16_impl = cpu_has_f16c() ? decode_fp16_f16c : decode_fp16_portable;
}
#endif

static void
decode_f32_fp16(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
#ifdef DTYPE_HAVE_F16C_PATH
    pthread_once(&decode_fp16_once, decode_fp16_choose);
    decode_fp16_impl(packed + first * 2, count, out);
#else
    decode_fp16_portable(packed + first * 2, count, out);
#endif
}

static void
decode_f32_bf16(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    const unsigned char *p = packed + first * 2;

    for (size_t i = 0; i < count; i++) {
        uint16_t bits;

        memcpy(&bits, p + i * 2, 2);
        out[i] = bits_to_float((uint32_t)bits << 16);
    }
}

static void
decode_with_table(const float *table, const unsigned char *packed, uint64_t first,
                  size_t count, float *out)
{
    const unsigned char *p = packed + first;

    for (size_t i = 0; i < count; i++)
        out[i] = table[p[i]];
}

#define DEFINE_FP8_DECODER(fn, index) \
    static void \
    fn(const unsigned char *packed, uint64_t first, size_t count, float *out) \
    { \
        decode_with_table(fp8_table(index), packed, first, count, out); \
    }

DEFINE_FP8_DECODER(decode_f32_e4m3fn, FP8_E4M3FN)
DEFINE_FP8_DECODER(decode_f32_e4m3fnuz, FP8_E4M3FNUZ)
DEFINE_FP8_DECODER(decode_f32_e5m2, FP8_E5M2)
DEFINE_FP8_DECODER(decode_f32_e5m2fnuz, FP8_E5M2FNUZ)
DEFINE_FP8_DECODER(decode_f32_e8m0, FP8_E8M0)

/* Decode 4-bit elements through a 16-entry table: a leading high nibble,
 * then whole bytes, then a trailing low nibble. */
static void
decode_nibbles(const float *table, const unsigned char *packed, uint64_t first,
               size_t count, float *out)
{
    const unsigned char *p = packed + first / 2;
    size_t i = 0;

    if (count > 0 && (first & 1u)) {
        out[i++] = table[*p++ >> 4];
    }
    for (; i + 2 <= count; i += 2, p++) {
        out[i] = table[*p & 0x0fu];
        out[i + 1] = table[*p >> 4];
    }
    if (i < count)
        out[i] = table[*p & 0x0fu];
}

static void
decode_f32_fp4(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    decode_nibbles(fp4_values, packed, first, count, out);
}

static void
decode_f32_int4(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    decode_nibbles(int4_values, packed, first, count, out);
}

static void
decode_f32_uint4(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    decode_nibbles(uint4_values, packed, first, count, out);
}

static void
decode_f32_bool(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = packed[first + i] != 0 ? 1.0f : 0.0f;
}

/* Integer decoders: "ctype" is the stored type, loaded with memcpy. */
#define DEFINE_INT_DECODERS(suffix, ctype) \
    static void \
    decode_f32_##suffix(const unsigned char *packed, uint64_t first, size_t count, \
                        float *out) \
    { \
        const unsigned char *p = packed + first * sizeof(ctype); \
        for (size_t i = 0; i < count; i++) { \
            ctype value; \
            memcpy(&value, p + i * sizeof(ctype), sizeof(ctype)); \
            out[i] = (float)value; \
        } \
    } \
    static void \
    decode_i64_##suffix(const unsigned char *packed, uint64_t first, size_t count, \
                        int64_t *out) \
    { \
        const unsigned char *p = packed + first * sizeof(ctype); \
        for (size_t i = 0; i < count; i++) { \
            ctype value; \
            memcpy(&value, p + i * sizeof(ctype), sizeof(ctype)); \
            out[i] = (int64_t)value; \
        } \
    }

DEFINE_INT_DECODERS(int8, int8_t)
DEFINE_INT_DECODERS(uint8, uint8_t)
DEFINE_INT_DECODERS(int16, int16_t)
DEFINE_INT_DECODERS(uint16, uint16_t)
DEFINE_INT_DECODERS(int32, int32_t)
DEFINE_INT_DECODERS(uint32, uint32_t)
DEFINE_INT_DECODERS(int64, int64_t)

static void
decode_f32_uint64(const unsigned char *packed, uint64_t first, size_t count, float *out)
{
    const unsigned char *p = packed + first * 8;

    for (size_t i = 0; i < count; i++) {
        uint64_t value;

        memcpy(&value, p + i * 8, 8);
        out[i] = (float)value;
    }
}

/* ---- int64 decoders ----------------------------------------------------- */

/* Truncate toward zero; NaN gives 0 and out-of-range values saturate. */
static int64_t
truncate_to_i64(double value)
{
    if (isnan(value))
        return 0;
    if (value >= 9223372036854775808.0)
        return INT64_MAX;
    if (value < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)value;
}

/* NOTE: values above INT64_MAX saturate; int64 cannot hold them. */
static void
decode_i64_uint64(const unsigned char *packed, uint64_t first, size_t count, int64_t *out)
{
    const unsigned char *p = packed + first * 8;

    for (size_t i = 0; i < count; i++) {
        uint64_t value;

        memcpy(&value, p + i * 8, 8);
        out[i] = value > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)value;
    }
}

static void
decode_i64_double(const unsigned char *packed, uint64_t first, size_t count, int64_t *out)
{
    const unsigned char *p = packed + first * 8;

    for (size_t i = 0; i < count; i++) {
        double value;

        memcpy(&value, p + i * 8, 8);
        out[i] = truncate_to_i64(value);
    }
}

static void
decode_i64_bool(const unsigned char *packed, uint64_t first, size_t count, int64_t *out)
{
    for (size_t i = 0; i < count; i++)
        out[i] = packed[first + i] != 0;
}

static void
decode_i64_nibbles(const float *table, const unsigned char *packed, uint64_t first,
                   size_t count, int64_t *out)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t index = first + i;
        unsigned byte = packed[index / 2];

        out[i] = (int64_t)table[(index & 1u) ? byte >> 4 : byte & 0x0fu];
    }
}

static void
decode_i64_int4(const unsigned char *packed, uint64_t first, size_t count, int64_t *out)
{
    decode_i64_nibbles(int4_values, packed, first, count, out);
}

static void
decode_i64_uint4(const unsigned char *packed, uint64_t first, size_t count, int64_t *out)
{
    decode_i64_nibbles(uint4_values, packed, first, count, out);
}

/* ---- the traits table --------------------------------------------------- */

#define FLOAT_TYPE(name, short_name, bits, decoder) \
    { name, short_name, bits, KIND_FLOAT, decoder, NULL }
#define INT_TYPE(name, short_name, bits, suffix) \
    { name, short_name, bits, KIND_INTEGER, decode_f32_##suffix, decode_i64_##suffix }

static const struct dtype_info dtype_table[QS_DT_COUNT] = {
    [QS_DT_UNDEFINED] = { "UNKNOWN", "unknown", 0, KIND_NONE, NULL, NULL },
    [QS_DT_FLOAT] = FLOAT_TYPE("FLOAT", "fp32", 32, decode_f32_float),
    [QS_DT_UINT8] = INT_TYPE("UINT8", "uint8", 8, uint8),
    [QS_DT_INT8] = INT_TYPE("INT8", "int8", 8, int8),
    [QS_DT_UINT16] = INT_TYPE("UINT16", "uint16", 16, uint16),
    [QS_DT_INT16] = INT_TYPE("INT16", "int16", 16, int16),
    [QS_DT_INT32] = INT_TYPE("INT32", "int32", 32, int32),
    [QS_DT_INT64] = INT_TYPE("INT64", "int64", 64, int64),
    [QS_DT_STRING] = { "STRING", "string", 0, KIND_STRING, NULL, NULL },
    [QS_DT_BOOL] = { "BOOL", "bool", 8, KIND_BOOL, decode_f32_bool, decode_i64_bool },
    [QS_DT_FLOAT16] = FLOAT_TYPE("FLOAT16", "fp16", 16, decode_f32_fp16),
    [QS_DT_DOUBLE] = { "DOUBLE", "fp64", 64, KIND_FLOAT, decode_f32_double, decode_i64_double },
    [QS_DT_UINT32] = INT_TYPE("UINT32", "uint32", 32, uint32),
    [QS_DT_UINT64] = INT_TYPE("UINT64", "uint64", 64, uint64),
    [QS_DT_COMPLEX64] = { "COMPLEX64", "complex64", 64, KIND_COMPLEX, NULL, NULL },
    [QS_DT_COMPLEX128] = { "COMPLEX128", "complex128", 128, KIND_COMPLEX, NULL, NULL },
    [QS_DT_BFLOAT16] = FLOAT_TYPE("BFLOAT16", "bf16", 16, decode_f32_bf16),
    [QS_DT_FLOAT8E4M3FN] = FLOAT_TYPE("FLOAT8E4M3FN", "e4m3fn", 8, decode_f32_e4m3fn),
    [QS_DT_FLOAT8E4M3FNUZ] = FLOAT_TYPE("FLOAT8E4M3FNUZ", "e4m3fnuz", 8, decode_f32_e4m3fnuz),
    [QS_DT_FLOAT8E5M2] = FLOAT_TYPE("FLOAT8E5M2", "e5m2", 8, decode_f32_e5m2),
    [QS_DT_FLOAT8E5M2FNUZ] = FLOAT_TYPE("FLOAT8E5M2FNUZ", "e5m2fnuz", 8, decode_f32_e5m2fnuz),
    [QS_DT_UINT4] = INT_TYPE("UINT4", "uint4", 4, uint4),
    [QS_DT_INT4] = INT_TYPE("INT4", "int4", 4, int4),
    [QS_DT_FLOAT4E2M1] = FLOAT_TYPE("FLOAT4E2M1", "e2m1", 4, decode_f32_fp4),
    [QS_DT_FLOAT8E8M0] = FLOAT_TYPE("FLOAT8E8M0", "e8m0", 8, decode_f32_e8m0),
};

static const struct dtype_info *
dtype_lookup(int number)
{
    if (!qs_dtype_known(number))
        return &dtype_table[QS_DT_UNDEFINED];
    return &dtype_table[number];
}

int
qs_dtype_known(int number)
{
    return number > QS_DT_UNDEFINED && number < QS_DT_COUNT;
}

const char *
qs_dtype_name(int number)
{
    return dtype_lookup(number)->name;
}

const char *
qs_dtype_short_name(int number)
{
    return dtype_lookup(number)->short_name;
}

int
qs_dtype_bits(enum qs_dtype dtype)
{
    return dtype_lookup((int)dtype)->bits;
}

int
qs_dtype_is_float(enum qs_dtype dtype)
{
    return dtype_lookup((int)dtype)->kind == KIND_FLOAT;
}

int
qs_dtype_is_integer(enum qs_dtype dtype)
{
    enum dtype_kind kind = dtype_lookup((int)dtype)->kind;

    return kind == KIND_INTEGER || kind == KIND_BOOL;
}

int
qs_dtype_decodable(enum qs_dtype dtype)
{
    return dtype_lookup((int)dtype)->to_f32 != NULL;
}

int
qs_dtype_packed_size(enum qs_dtype dtype, uint64_t count, uint64_t *bytes)
{
    int bits = qs_dtype_bits(dtype);
    uint64_t total;

    if (bits == 0)
        return -1;
    if (bits == 4) {
        *bytes = count / 2 + (count & 1u);
        return 0;
    }
    if (qs_mul_overflow_u64(count, (uint64_t)(bits / 8), &total))
        return -1;
    *bytes = total;
    return 0;
}

void
qs_decode_f32(enum qs_dtype dtype, const void *packed, uint64_t first,
              size_t count, float *out)
{
    const struct dtype_info *info = dtype_lookup((int)dtype);

    /* An empty range may come with a NULL buffer (a zero-size tensor). */
    if (count == 0)
        return;
    if (info->to_f32 == NULL) {
        for (size_t i = 0; i < count; i++)
            out[i] = NAN;
        return;
    }
    info->to_f32(packed, first, count, out);
}

/* Float types other than double go through float32 in stack-sized runs. */
static void
decode_i64_via_f32(decode_f32_fn *to_f32, const unsigned char *packed, uint64_t first,
                   size_t count, int64_t *out)
{
    float buffer[256];

    while (count > 0) {
        size_t run = count < 256 ? count : 256;

        to_f32(packed, first, run, buffer);
        for (size_t i = 0; i < run; i++)
            out[i] = truncate_to_i64(buffer[i]);
        first += run;
        out += run;
        count -= run;
    }
}

void
qs_decode_i64(enum qs_dtype dtype, const void *packed, uint64_t first,
              size_t count, int64_t *out)
{
    const struct dtype_info *info = dtype_lookup((int)dtype);

    if (count == 0)
        return;
    if (info->to_i64 != NULL) {
        info->to_i64(packed, first, count, out);
        return;
    }
    if (info->to_f32 != NULL) {
        decode_i64_via_f32(info->to_f32, packed, first, count, out);
        return;
    }
    memset(out, 0, count * sizeof *out);
}
