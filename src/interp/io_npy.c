/*
 * NumPy .npy files: format versions 1.0, 2.0 and 3.0, little-endian
 * (or byte-sized) elements in C order.
 *
 * Layout:
 *   "\x93NUMPY" major minor  header_len (2 bytes LE in 1.0, 4 in 2.0/3.0)
 *   header: a Python dict literal, e.g.
 *           {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
 *   data:   the elements, product(shape) of them
 */
#include "config.h"
#include "interp/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

static const struct {
    const char *code;                    /* descr without its byte-order character */
    int dtype;
} npy_types[] = {
    { "f4", QS_DT_FLOAT }, { "f8", QS_DT_DOUBLE }, { "f2", QS_DT_FLOAT16 },
    { "i8", QS_DT_INT64 }, { "i4", QS_DT_INT32 }, { "u1", QS_DT_UINT8 },
    { "i1", QS_DT_INT8 }, { "b1", QS_DT_BOOL },
};

/* The text after "'key':" in the header, or NULL. */
static const char *
header_value(const char *header, const char *key)
{
    char quoted[32];
    const char *p;

    snprintf(quoted, sizeof(quoted), "'%s'", key);
    p = strstr(header, quoted);
    if (!p)
        return NULL;
    p += strlen(quoted);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static enum qs_status
parse_descr(const char *header, const char *name, struct qs_diag *diag, int *dtype)
{
    const char *p = header_value(header, "descr");
    char order;

    if (!p || (*p != '\'' && *p != '"'))
        return qs_diag_add(diag, QS_INVALID, name, "the .npy header has no descr");
    order = p[1];
    if (order == '>')
        return qs_diag_add(diag, QS_UNSUPPORTED, name, "big-endian .npy data is not supported");
    if (order != '<' && order != '|' && order != '=')
        return qs_diag_add(diag, QS_INVALID, name, "the .npy descr is not understood");
    for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
        if (strncmp(p + 2, npy_types[i].code, 2) == 0 && p[4] == p[0]) {
            *dtype = npy_types[i].dtype;
            return QS_OK;
        }
    }
    return qs_diag_add(diag, QS_UNSUPPORTED, name,
                       "the .npy element type is not one of f4, f8, f2, i8, i4, u1, i1, b1");
}

static enum qs_status
parse_shape(const char *header, const char *name, struct qs_diag *diag, int *rank, int64_t *dims)
{
    const char *p = header_value(header, "shape");
    char *end;

    *rank = 0;
    if (!p || *p != '(')
        return qs_diag_add(diag, QS_INVALID, name, "the .npy header has no shape");
    p++;
    for (;;) {
        long long v;

        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            return QS_OK;
        if (*p < '0' || *p > '9' || *rank >= QS_RT_MAX_RANK)
            return qs_diag_add(diag, QS_INVALID, name, "the .npy shape is invalid or above rank %d",
                               QS_RT_MAX_RANK);
        v = strtoll(p, &end, 10);
        if (end == p || v < 0 || v > INT64_MAX / 2)
            return qs_diag_add(diag, QS_INVALID, name, "the .npy shape has an invalid dim");
        dims[(*rank)++] = v;
        p = end;
        if (*p == 'L')
            p++;
    }
}

static enum qs_status
parse_header(const uint8_t *bytes, size_t size, const char *name, struct qs_diag *diag,
             size_t *data_offset, char **header)
{
    size_t hlen, start;

    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0)
        return qs_diag_add(diag, QS_INVALID, name, "not a .npy file (bad magic)");
    if (bytes[6] == 1) {
        hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        start = 10;
    } else if (bytes[6] == 2 || bytes[6] == 3) {
        if (size < 12)
            return qs_diag_add(diag, QS_INVALID, name, "the .npy header is truncated");
        hlen = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16
               | (size_t)bytes[11] << 24;
        start = 12;
    } else {
        return qs_diag_add(diag, QS_UNSUPPORTED, name, ".npy format version %d is not supported",
                           bytes[6]);
    }
    if (hlen > size - start)
        return qs_diag_add(diag, QS_INVALID, name, "the .npy header is truncated");
    *header = qs_strndup((const char *)bytes + start, hlen);
    *data_offset = start + hlen;
    return QS_OK;
}

enum qs_status
qs_rt_parse_npy(const void *data, size_t size, const char *name, struct qs_diag *diag,
                struct qs_rt_tensor **out)
{
    const uint8_t *bytes = data;
    char *header = NULL;
    const char *fortran;
    int64_t dims[QS_RT_MAX_RANK];
    uint64_t need;
    size_t offset = 0;
    int dtype = 0, rank = 0;
    enum qs_status st;

    *out = NULL;
    st = parse_header(bytes, size, name, diag, &offset, &header);
    if (st == QS_OK)
        st = parse_descr(header, name, diag, &dtype);
    if (st == QS_OK)
        st = parse_shape(header, name, diag, &rank, dims);
    fortran = st == QS_OK ? header_value(header, "fortran_order") : NULL;
    if (st == QS_OK && fortran && strncmp(fortran, "True", 4) == 0)
        st = qs_diag_add(diag, QS_UNSUPPORTED, name, "Fortran-order .npy data is not supported");
    free(header);
    if (st != QS_OK)
        return st;

    st = qs_rt_new(dtype, rank, dims, out);
    if (st != QS_OK)
        return qs_diag_add(diag, QS_INVALID, name, "the .npy shape is too large");
    if (qs_dtype_packed_size(dtype, (*out)->count, &need) != 0 || need != size - offset) {
        qs_rt_unref(*out);
        *out = NULL;
        return qs_diag_add(diag, QS_INVALID, name,
                           "the .npy data has %zu bytes, the shape needs %llu",
                           size - offset, (unsigned long long)need);
    }
    if ((*out)->count == 0)
        return QS_OK;
    if (qs_rt_is_float(dtype))
        qs_decode_f32(dtype, bytes + offset, 0, (size_t)(*out)->count, rt_f(*out));
    else
        qs_decode_i64(dtype, bytes + offset, 0, (size_t)(*out)->count, rt_i(*out));
    return QS_OK;
}

enum qs_status
qs_rt_read_npy(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out)
{
    uint8_t *data;
    size_t size;
    enum qs_status st = interp_read_whole_file(path, diag, &data, &size);

    *out = NULL;
    if (st != QS_OK)
        return st;
    st = qs_rt_parse_npy(data, size, path, diag, out);
    free(data);
    return st;
}
