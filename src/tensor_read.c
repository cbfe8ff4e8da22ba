/*
 * Reading tensor elements as float32 or int64.  Packed data is decoded in
 * place.  Typed protobuf fields are first turned into the packed layout
 * one chunk at a time on the stack, so a read never allocates.
 */
#include "config.h"
#include "model_build.h"

#include <string.h>

/* Typed storage whose array is already the packed layout of the element type. */
static int
chunk_in_place(const struct qs_tensor *t)
{
    switch (t->storage) {
    case QS_STORE_PACKED:
        return 1;
    case QS_STORE_FLOAT_DATA:
        return t->dtype == QS_DT_FLOAT || t->dtype == QS_DT_COMPLEX64;
    case QS_STORE_INT32_DATA:
        return t->dtype == QS_DT_INT32;
    case QS_STORE_INT64_DATA:
        return t->dtype == QS_DT_INT64;
    case QS_STORE_DOUBLE_DATA:
        return t->dtype == QS_DT_DOUBLE || t->dtype == QS_DT_COMPLEX128;
    case QS_STORE_UINT64_DATA:
        return t->dtype == QS_DT_UINT64;
    default:
        return 0;
    }
}

size_t
qs_tensor_chunk_elements(const struct qs_tensor *t)
{
    int bits = qs_dtype_bits(t->dtype);

    if (bits <= 0)
        return 0;
    /* One element less than fits, so that a 4-bit chunk may start on an odd element. */
    return (size_t)QS_TENSOR_CHUNK * 8 / (size_t)bits - 1;
}

/* Store the low "width" bytes of each entry, little-endian. */
static void
chunk_narrow(uint8_t *buf, const void *entries, int entry_bytes, int width, size_t first,
             size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t value;

        if (entry_bytes == 4) {
            int32_t v;

            memcpy(&v, (const uint8_t *)entries + (first + i) * 4, 4);
            value = (uint64_t)(uint32_t)v;
        } else {
            memcpy(&value, (const uint8_t *)entries + (first + i) * 8, 8);
        }
        for (int k = 0; k < width; k++)
            buf[i * (size_t)width + (size_t)k] = (uint8_t)(value >> (8 * k));
    }
}

const void *
qs_tensor_packed_chunk(const struct qs_tensor *t, uint64_t start, size_t count, uint8_t *buf,
                       uint64_t *first)
{
    int bits = qs_dtype_bits(t->dtype);

    if (bits <= 0 || t->storage == QS_STORE_NONE || t->storage == QS_STORE_STRING || !t->data)
        return NULL;
    *first = start;
    if (chunk_in_place(t))
        return t->data;

    *first = 0;
    if (bits == 4) {
        /* int32_data entries are packed bytes, two elements each. */
        size_t entry = (size_t)(start / 2);
        size_t bytes = (size_t)((start % 2 + count + 1) / 2);

        chunk_narrow(buf, t->data, 4, 1, entry, bytes);
        *first = start % 2;
        return buf;
    }
    chunk_narrow(buf, t->data, t->storage == QS_STORE_INT32_DATA ? 4 : 8, bits / 8,
                 (size_t)start, count);
    return buf;
}

static enum qs_status
read_check(const struct qs_tensor *t, uint64_t start, size_t count)
{
    uint64_t end;

    if (t->fault)
        return QS_INVALID;
    if (qs_add_overflow_u64(start, count, &end) || end > t->count)
        return QS_INVALID;
    if (!qs_dtype_decodable(t->dtype))
        return QS_UNSUPPORTED;
    return QS_OK;
}

enum qs_status
qs_tensor_read_f32(const struct qs_tensor *t, uint64_t start, size_t count, float *out)
{
    uint8_t buf[QS_TENSOR_CHUNK];
    size_t step = qs_tensor_chunk_elements(t);
    enum qs_status status = read_check(t, start, count);

    if (status != QS_OK || count == 0)
        return status;
    while (count > 0) {
        size_t n = count < step ? count : step;
        uint64_t first;
        const void *packed = qs_tensor_packed_chunk(t, start, n, buf, &first);

        if (!packed)
            return QS_INVALID;
        qs_decode_f32(t->dtype, packed, first, n, out);
        start += n;
        out += n;
        count -= n;
    }
    return QS_OK;
}

enum qs_status
qs_tensor_read_i64(const struct qs_tensor *t, uint64_t start, size_t count, int64_t *out)
{
    uint8_t buf[QS_TENSOR_CHUNK];
    size_t step = qs_tensor_chunk_elements(t);
    enum qs_status status = read_check(t, start, count);

    if (status != QS_OK || count == 0)
        return status;
    while (count > 0) {
        size_t n = count < step ? count : step;
        uint64_t first;
        const void *packed = qs_tensor_packed_chunk(t, start, n, buf, &first);

        if (!packed)
            return QS_INVALID;
        qs_decode_i64(t->dtype, packed, first, n, out);
        start += n;
        out += n;
        count -= n;
    }
    return QS_OK;
}

uint64_t
qs_tensor_packed_bytes(const struct qs_tensor *t)
{
    uint64_t bytes;

    if (!qs_dtype_known(t->dtype) || qs_dtype_packed_size(t->dtype, t->count, &bytes) < 0)
        return 0;
    return bytes;
}
