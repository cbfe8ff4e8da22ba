/*
 * ONNX element types: their names and sizes, and the one routine that
 * turns any numeric element type into float32.
 *
 * Packed layout: elements are little-endian and contiguous, as in an ONNX
 * raw_data field or external data file.  4-bit types hold two elements per
 * byte, the first in the low nibble; the last byte of an odd count has an
 * unused high nibble.
 */
#ifndef QS_DTYPE_H
#define QS_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* Element type numbers, fixed by the ONNX file format. */
enum qs_dtype {
    QS_DT_UNDEFINED = 0,
    QS_DT_FLOAT = 1,
    QS_DT_UINT8 = 2,
    QS_DT_INT8 = 3,
    QS_DT_UINT16 = 4,
    QS_DT_INT16 = 5,
    QS_DT_INT32 = 6,
    QS_DT_INT64 = 7,
    QS_DT_STRING = 8,
    QS_DT_BOOL = 9,
    QS_DT_FLOAT16 = 10,
    QS_DT_DOUBLE = 11,
    QS_DT_UINT32 = 12,
    QS_DT_UINT64 = 13,
    QS_DT_COMPLEX64 = 14,
    QS_DT_COMPLEX128 = 15,
    QS_DT_BFLOAT16 = 16,
    QS_DT_FLOAT8E4M3FN = 17,
    QS_DT_FLOAT8E4M3FNUZ = 18,
    QS_DT_FLOAT8E5M2 = 19,
    QS_DT_FLOAT8E5M2FNUZ = 20,
    QS_DT_UINT4 = 21,
    QS_DT_INT4 = 22,
    QS_DT_FLOAT4E2M1 = 23,
    QS_DT_FLOAT8E8M0 = 24,
    QS_DT_COUNT           /* one past the largest number qscope knows */
};

/* True when "number" is an element type qscope knows (1 .. 24). */
int qs_dtype_known(int number);

/* Upper-case ONNX name ("FLOAT16"), or "UNKNOWN" for numbers it does not know. */
const char *qs_dtype_name(int number);

/* Lower-case short name for tables ("fp16", "int4", "e4m3fn"). */
const char *qs_dtype_short_name(int number);

/* Bits per element in the packed layout: 4, 8, 16, 32, 64, 128; 0 for string and unknown. */
int qs_dtype_bits(enum qs_dtype dtype);

/* True for the floating-point types (fp32, fp64, fp16, bf16, fp8, fp4, e8m0), not complex. */
int qs_dtype_is_float(enum qs_dtype dtype);

/* True for integer and bool types. */
int qs_dtype_is_integer(enum qs_dtype dtype);

/* True when qs_decode_f32 can decode the type (every numeric type but complex). */
int qs_dtype_decodable(enum qs_dtype dtype);

/*
 * Packed byte size of "count" elements, rounding 4-bit types up to whole
 * bytes.  Returns 0 and stores the size, or -1 on overflow or for types
 * without a packed size (string, unknown).
 */
int qs_dtype_packed_size(enum qs_dtype dtype, uint64_t count, uint64_t *bytes);

/*
 * Decode "count" elements of "dtype", starting at element "first" of the
 * packed buffer "packed", into float32 "out".  The caller guarantees the
 * buffer holds elements first .. first+count-1.  Integers convert exactly
 * where float32 can hold them and round to nearest otherwise; fp8 NaN
 * encodings give NaN; bool gives 0 or 1.  Types without a decoder (string,
 * complex, unknown) give NaN.
 */
void qs_decode_f32(enum qs_dtype dtype, const void *packed, uint64_t first,
                   size_t count, float *out);

/*
 * The same for integer, bool and float types into int64 (floats truncate
 * toward zero, NaN gives 0).  Values beyond the int64 range saturate, and
 * types without a decoder give 0.
 */
void qs_decode_i64(enum qs_dtype dtype, const void *packed, uint64_t first,
                   size_t count, int64_t *out);

/* Scalar conversions used by decoders and quantizers. */
float qs_half_to_float(uint16_t bits);
uint16_t qs_float_to_half(float value);          /* round to nearest even, saturates to inf */
float qs_bf16_to_float(uint16_t bits);
uint16_t qs_float_to_bf16(float value);          /* round to nearest even, NaN stays NaN */
float qs_fp8_to_float(enum qs_dtype dtype, uint8_t bits);
uint8_t qs_float_to_fp8(enum qs_dtype dtype, float value, int saturate);
float qs_fp4_to_float(uint8_t nibble);           /* E2M1, low 4 bits used */

/*
 * Notes on the scalar conversions above:
 * - qs_float_to_half: NaN stays NaN (quiet, sign and top payload bits kept).
 * - qs_fp8_to_float: also takes QS_DT_FLOAT8E8M0.  It returns NaN for a type
 *   that is not an 8-bit float.
 * - qs_float_to_fp8: rounds to nearest even and follows the ONNX Cast tables.
 *   With "saturate", out-of-range values become +-max.  Inf becomes +-max
 *   for E4M3FN and E5M2 but NaN (0x80) for the FNUZ types.  Without
 *   "saturate", out-of-range values and inf give NaN with the sign kept for
 *   E4M3FN, 0x80 for the FNUZ types and +-inf for E5M2.  NaN gives S.1111111
 *   (0x80 for FNUZ), and -0 gives 0x00 for FNUZ.
 * - qs_float_to_fp8 with E8M0 rounds |value| up to a power of two (the ONNX
 *   Cast round_mode "up").  Values at or below 2^-127, zero included, give
 *   0x00 and NaN gives 0xFF.  Overflow and inf give 0xFE with "saturate",
 *   else 0xFF.
 * - qs_float_to_fp8 returns 0 for a type that is not an 8-bit float.
 */

/* E2M1 nibble (low 4 bits) of "value", rounded to nearest even.  Values
 * beyond +-6 and +-inf saturate to +-6, and NaN gives 6, as ONNX Cast does. */
uint8_t qs_float_to_fp4(float value);

#endif
