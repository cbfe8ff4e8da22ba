/*
 * Tensor files: serialized ONNX TensorProto messages (the input_N.pb
 * and output_N.pb files of the ONNX test layout), and the format switch
 * used by callers that take either .pb or .npy.
 *
 * A tensor file is small and self-contained, so it is unpacked whole
 * with protobuf-c, raw_data included.
 */
#include "config.h"
#include "interp/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

enum qs_status
interp_read_whole_file(const char *path, struct qs_diag *diag, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;

    *data = NULL;
    *size = 0;
    if (!f)
        return qs_diag_add(diag, QS_INVALID, path, "cannot open: %s", strerror(errno));
    do {
        if (len == cap) {
            if (cap >= qs_rt_alloc_limit()) {
                free(buf);
                fclose(f);
                return qs_diag_add(diag, QS_INVALID, path,
                                   "file is larger than the memory available");
            }
            cap = cap ? 2 * cap : 65536;
            buf = qs_realloc(buf, cap);
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return qs_diag_add(diag, QS_INVALID, path, "read error");
    }
    fclose(f);
    *data = buf;
    *size = len;
    return QS_OK;
}

/* Decode a typed repeated field holding "n" entries into "t". */
static enum qs_status
pb_typed(const Onnx__TensorProto *tp, struct qs_rt_tensor *t, const char *name,
         struct qs_diag *diag)
{
    uint64_t n = t->count;
    int is_float = qs_rt_is_float(t->dtype);

    if (n == 0)
        return QS_OK;
    if (t->dtype == QS_DT_FLOAT && tp->n_float_data == n) {
        memcpy(t->data, tp->float_data, (size_t)n * sizeof(float));
    } else if (t->dtype == QS_DT_DOUBLE && tp->n_double_data == n) {
        for (uint64_t i = 0; i < n; i++)
            rt_f(t)[i] = (float)tp->double_data[i];
    } else if (t->dtype == QS_DT_INT64 && tp->n_int64_data == n) {
        memcpy(t->data, tp->int64_data, (size_t)n * sizeof(int64_t));
    } else if ((t->dtype == QS_DT_UINT32 || t->dtype == QS_DT_UINT64) && tp->n_uint64_data == n) {
        for (uint64_t i = 0; i < n; i++)
            rt_i(t)[i] = (int64_t)tp->uint64_data[i];
    } else if (tp->n_int32_data == n) {
        /*
         * int32_data contains the narrow integer types, bool, and the bits of 16- and 8-bit
         * floats.
         */
        for (uint64_t i = 0; i < n; i++) {
            int32_t v = tp->int32_data[i];

            if (t->dtype == QS_DT_FLOAT16)
                rt_f(t)[i] = qs_half_to_float((uint16_t)v);
            else if (t->dtype == QS_DT_BFLOAT16)
                rt_f(t)[i] = qs_bf16_to_float((uint16_t)v);
            else if (is_float)
                rt_f(t)[i] = qs_fp8_to_float(t->dtype, (uint8_t)v);
            else
                rt_i(t)[i] = rt_wrap_int(t->dtype, v);
        }
    } else if (n > 0) {
        return qs_diag_add(diag, QS_INVALID, name, "tensor data does not hold %llu elements of %s",
                           (unsigned long long)n, qs_dtype_name(t->dtype));
    }
    return QS_OK;
}

static enum qs_status
pb_raw(const Onnx__TensorProto *tp, struct qs_rt_tensor *t, const char *name, struct qs_diag *diag)
{
    uint64_t want;

    if (qs_dtype_packed_size(t->dtype, t->count, &want) != 0 || tp->raw_data.len != want)
        return qs_diag_add(diag, QS_INVALID, name,
                           "raw_data has %zu bytes, %llu elements of %s need %llu",
                           tp->raw_data.len, (unsigned long long)t->count, qs_dtype_name(t->dtype),
                           (unsigned long long)want);
    if (t->count == 0)
        return QS_OK;
    if (qs_rt_is_float(t->dtype))
        qs_decode_f32(t->dtype, tp->raw_data.data, 0, (size_t)t->count, rt_f(t));
    else
        qs_decode_i64(t->dtype, tp->raw_data.data, 0, (size_t)t->count, rt_i(t));
    if (t->dtype == QS_DT_UINT64)
        memcpy(t->data, tp->raw_data.data, (size_t)want);
    return QS_OK;
}

static enum qs_status
pb_convert(const Onnx__TensorProto *tp, const char *name, struct qs_diag *diag,
           struct qs_rt_tensor **out)
{
    int dtype = tp->has_data_type ? tp->data_type : 0;
    enum qs_status st;

    if (tp->n_dims > QS_RT_MAX_RANK)
        return qs_diag_add(diag, QS_INVALID, name, "rank %zu is above the limit of %d", tp->n_dims,
                           QS_RT_MAX_RANK);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return qs_diag_add(diag, QS_UNSUPPORTED, name,
                           "external data in a tensor file is not supported");
    st = qs_rt_new(dtype, (int)tp->n_dims, tp->dims, out);
    if (st == QS_UNSUPPORTED)
        return qs_diag_add(diag, st, name, "element type %s is not supported",
                           qs_dtype_name(dtype));
    if (st != QS_OK)
        return qs_diag_add(diag, st, name, "dims are negative or too large");

    st = tp->has_raw_data ? pb_raw(tp, *out, name, diag) : pb_typed(tp, *out, name, diag);
    if (st != QS_OK) {
        qs_rt_unref(*out);
        *out = NULL;
    }
    return st;
}

enum qs_status
qs_rt_parse_pb(const void *bytes, size_t size, const char *name, struct qs_diag *diag,
               struct qs_rt_tensor **out)
{
    Onnx__TensorProto *tp;
    enum qs_status st;

    *out = NULL;
    tp = onnx__tensor_proto__unpack(NULL, size, bytes);
    if (!tp)
        return qs_diag_add(diag, QS_INVALID, name, "not a valid ONNX TensorProto");
    st = pb_convert(tp, name, diag, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

enum qs_status
qs_rt_read_pb(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out)
{
    uint8_t *data;
    size_t size;
    enum qs_status st = interp_read_whole_file(path, diag, &data, &size);

    *out = NULL;
    if (st != QS_OK)
        return st;
    st = qs_rt_parse_pb(data, size, path, diag, out);
    free(data);
    return st;
}

enum qs_status
qs_rt_read_file(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out)
{
    size_t len = strlen(path);

    if (len >= 4 && strcmp(path + len - 4, ".npy") == 0)
        return qs_rt_read_npy(path, diag, out);
    return qs_rt_read_pb(path, diag, out);
}
