/*
 * Tensors: dims and element type checked, then the data located in
 * raw_data (a span of the mapped file), a typed field of the unpacked
 * message, or external data.  Nothing is copied; only sparse tensors are
 * densified (model_sparse.c).
 */
#include "config.h"
#include "model_build.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum qs_status
qs_tensor_fault(struct qs_model_build *b, struct qs_tensor *t, enum qs_status status,
                const char *fmt, ...)
{
    char detail[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);

    t->fault = qs_arena_strdup(b->arena, detail);
    t->storage = QS_STORE_NONE;
    t->data = NULL;
    t->nbytes = 0;
    return status;
}

void
qs_tensor_register(struct qs_model_build *b, struct qs_tensor *t, enum qs_status status,
                   const struct qs_tensor_site *site)
{
    char name[100];
    char where[500];

    qs_ptrvec_push(&b->tensors, t);
    if (!t->fault)
        return;

    qs_quote(t->name, name, sizeof(name));
    qs_format_site(site, where, sizeof(where));
    if (b->keep_going) {
        qs_diag_warn(b->diag, b->file, "tensor '%s' skipped: %s (%s)", name, t->fault, where);
        return;
    }
    qs_diag_add(b->diag, status, b->file, "tensor '%s': %s (%s)", name, t->fault, where);
    b->tensor_status = qs_status_worst(b->tensor_status, status);
}

enum qs_status
qs_tensor_set_dims(struct qs_model_build *b, struct qs_tensor *t, size_t rank, const int64_t *dims)
{
    char text[200];
    uint64_t count = 1;
    int has_zero = 0;
    int overflow = 0;
    int64_t *copy;

    qs_format_dims(dims, rank, text, sizeof(text));
    if (rank > INT_MAX)
        return qs_tensor_fault(b, t, QS_INVALID, "rank %zu is too large", rank);
    for (size_t i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return qs_tensor_fault(b, t, QS_INVALID, "negative dimension %" PRId64
                                   " at index %zu of dims %s", dims[i], i, text);
        if (dims[i] == 0)
            has_zero = 1;
        else if (qs_mul_overflow_u64(count, (uint64_t)dims[i], &count))
            overflow = 1;
    }
    if (overflow && !has_zero)
        return qs_tensor_fault(b, t, QS_INVALID, "dimension product overflows: dims %s "
                               "have more than 2^64 elements", text);

    copy = qs_arena_calloc(b->arena, rank, sizeof(*copy));
    if (rank)
        memcpy(copy, dims, rank * sizeof(*copy));
    t->dims = copy;
    t->rank = (int)rank;
    t->count = has_zero ? 0 : count;
    return QS_OK;
}

static enum qs_status
tensor_check_dtype(struct qs_model_build *b, struct qs_tensor *t)
{
    if (t->dtype > QS_DT_FLOAT8E8M0)
        return qs_tensor_fault(b, t, QS_UNSUPPORTED, "element type %d is not supported "
                               "(qscope knows types 1 to %d)", t->dtype, QS_DT_FLOAT8E8M0);
    if (t->dtype == QS_DT_UNDEFINED)
        return qs_tensor_fault(b, t, QS_INVALID, "element type is not set (data_type 0)");
    if (!qs_dtype_known(t->dtype))
        return qs_tensor_fault(b, t, QS_INVALID, "invalid element type %d", t->dtype);
    return QS_OK;
}

static const char *
tensor_dims_text(const struct qs_tensor *t, char *buf, size_t size)
{
    return qs_format_dims(t->dims, (size_t)t->rank, buf, size);
}

static enum qs_status
tensor_raw(struct qs_model_build *b, struct qs_tensor *t, const struct qs_wire_span *span,
           uint64_t expected)
{
    char dims[200];

    t->file_offset = span->offset;
    if (t->dtype == QS_DT_STRING)
        return qs_tensor_fault(b, t, QS_INVALID, "STRING tensor has raw_data; strings belong "
                               "in string_data");
    if (span->length != expected)
        return qs_tensor_fault(b, t, QS_INVALID, "raw_data has %" PRIu64 " bytes, dims %s of "
                               "%s need %" PRIu64, span->length,
                               tensor_dims_text(t, dims, sizeof(dims)),
                               qs_dtype_name(t->dtype), expected);
    if (t->count == 0)
        return QS_OK;

    t->storage = QS_STORE_PACKED;
    t->data = b->model->map + span->offset;
    t->nbytes = span->length;
    return QS_OK;
}

/* The typed field for elements of "dtype", and how many entries "count" elements take. */
static enum qs_storage
tensor_typed_field(int dtype, uint64_t count, uint64_t *entries)
{
    *entries = count;
    switch (dtype) {
    case QS_DT_FLOAT:
        return QS_STORE_FLOAT_DATA;
    case QS_DT_COMPLEX64:
        *entries = count * 2;  /* cannot overflow: the byte size was checked */
        return QS_STORE_FLOAT_DATA;
    case QS_DT_UINT4:
    case QS_DT_INT4:
    case QS_DT_FLOAT4E2M1:
        *entries = count / 2 + count % 2;  /* one packed byte per entry */
        return QS_STORE_INT32_DATA;
    case QS_DT_INT64:
        return QS_STORE_INT64_DATA;
    case QS_DT_DOUBLE:
        return QS_STORE_DOUBLE_DATA;
    case QS_DT_COMPLEX128:
        *entries = count * 2;
        return QS_STORE_DOUBLE_DATA;
    case QS_DT_UINT32:
    case QS_DT_UINT64:
        return QS_STORE_UINT64_DATA;
    case QS_DT_STRING:
        return QS_STORE_STRING;
    default:
        return QS_STORE_INT32_DATA;  /* 8- and 16-bit types, bool, int32, fp8, e8m0 */
    }
}

static const char *
tensor_field_name(enum qs_storage storage)
{
    switch (storage) {
    case QS_STORE_FLOAT_DATA:  return "float_data";
    case QS_STORE_INT32_DATA:  return "int32_data";
    case QS_STORE_INT64_DATA:  return "int64_data";
    case QS_STORE_DOUBLE_DATA: return "double_data";
    case QS_STORE_UINT64_DATA: return "uint64_data";
    case QS_STORE_STRING:      return "string_data";
    default:                   return "raw_data";
    }
}

/* Entry count and array of one typed field of "proto". */
static size_t
tensor_field_entries(const Onnx__TensorProto *proto, enum qs_storage storage, const void **data)
{
    switch (storage) {
    case QS_STORE_FLOAT_DATA:  *data = proto->float_data;  return proto->n_float_data;
    case QS_STORE_INT32_DATA:  *data = proto->int32_data;  return proto->n_int32_data;
    case QS_STORE_INT64_DATA:  *data = proto->int64_data;  return proto->n_int64_data;
    case QS_STORE_DOUBLE_DATA: *data = proto->double_data; return proto->n_double_data;
    case QS_STORE_UINT64_DATA: *data = proto->uint64_data; return proto->n_uint64_data;
    case QS_STORE_STRING:      *data = proto->string_data; return proto->n_string_data;
    default:                   *data = NULL;               return 0;
    }
}

/* The first typed field other than "expected" that has entries, or QS_STORE_NONE. */
static enum qs_storage
tensor_other_field(const Onnx__TensorProto *proto, enum qs_storage expected)
{
    const void *ignored;

    for (int s = QS_STORE_FLOAT_DATA; s <= QS_STORE_STRING; s++) {
        if (s != (int)expected && tensor_field_entries(proto, s, &ignored) > 0)
            return s;
    }
    return QS_STORE_NONE;
}

static enum qs_status
tensor_no_data(struct qs_model_build *b, struct qs_tensor *t, const Onnx__TensorProto *proto)
{
    char dims[200];

    tensor_dims_text(t, dims, sizeof(dims));
    if (proto->n_external_data > 0)
        return qs_tensor_fault(b, t, QS_INVALID, "no data: dims %s need %" PRIu64 " elements; "
                               "external_data is present but data_location is not EXTERNAL",
                               dims, t->count);
    return qs_tensor_fault(b, t, QS_INVALID, "no data: dims %s need %" PRIu64 " elements but "
                           "the tensor has no raw_data, typed data or external data",
                           dims, t->count);
}

static enum qs_status
tensor_typed(struct qs_model_build *b, struct qs_tensor *t, const Onnx__TensorProto *proto)
{
    char dims[200];
    uint64_t needed;
    enum qs_storage storage = tensor_typed_field(t->dtype, t->count, &needed);
    const void *data;
    size_t entries = tensor_field_entries(proto, storage, &data);
    enum qs_storage other = tensor_other_field(proto, storage);

    if (entries == 0 && other != QS_STORE_NONE)
        return qs_tensor_fault(b, t, QS_INVALID, "%s data is in %s, expected %s",
                               qs_dtype_name(t->dtype), tensor_field_name(other),
                               tensor_field_name(storage));
    if (entries == 0 && t->count > 0)
        return tensor_no_data(b, t, proto);
    if (entries != needed)
        return qs_tensor_fault(b, t, QS_INVALID, "%s has %zu entries, dims %s of %s need "
                               "%" PRIu64 "%s", tensor_field_name(storage), entries,
                               tensor_dims_text(t, dims, sizeof(dims)),
                               qs_dtype_name(t->dtype), needed,
                               qs_dtype_bits(t->dtype) == 4 ? " (two elements per entry)" : "");
    if (t->count == 0)
        return QS_OK;

    t->storage = storage;
    t->data = data;
    t->nbytes = entries;
    return QS_OK;
}

static int
tensor_is_external(const Onnx__TensorProto *proto)
{
    return proto->has_data_location
        && proto->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

enum qs_status
qs_tensor_fill(struct qs_model_build *b, struct qs_tensor *t, const Onnx__TensorProto *proto)
{
    enum qs_status status;
    uint64_t expected = 0;

    t->proto = proto;
    if (!t->name)
        t->name = proto->name ? proto->name : "";
    t->dtype = proto->has_data_type ? proto->data_type : QS_DT_UNDEFINED;

    status = qs_tensor_set_dims(b, t, proto->n_dims, proto->dims);
    if (status == QS_OK)
        status = tensor_check_dtype(b, t);
    if (status != QS_OK)
        return status;
    if (t->dtype != QS_DT_STRING && qs_dtype_packed_size(t->dtype, t->count, &expected) < 0)
        return qs_tensor_fault(b, t, QS_INVALID, "dimension product overflows: %" PRIu64
                               " elements of %s take more than 2^64 bytes", t->count,
                               qs_dtype_name(t->dtype));
    if (proto->segment)
        return qs_tensor_fault(b, t, QS_UNSUPPORTED, "segmented tensors are not supported");

    if (tensor_is_external(proto))
        return qs_extdata_resolve(b, t, proto, expected);
    /* An empty raw_data next to typed data is a writer's leftover, not the data. */
    if (proto->has_raw_data) {
        int64_t index = qs_wire_token_index(proto->raw_data.data, proto->raw_data.len,
                                            b->n_spans);

        if (index < 0)
            return qs_tensor_fault(b, t, QS_INVALID, "internal error: raw_data was not "
                                   "replaced by a token");
        if (b->spans[index].length > 0
            || tensor_other_field(proto, QS_STORE_NONE) == QS_STORE_NONE)
            return tensor_raw(b, t, &b->spans[index], expected);
    }
    return tensor_typed(b, t, proto);
}

struct qs_tensor *
qs_build_tensor(struct qs_model_build *b, const Onnx__TensorProto *proto, const char *name,
                enum qs_tensor_origin origin, const struct qs_tensor_site *site)
{
    struct qs_tensor *t = qs_arena_calloc(b->arena, 1, sizeof(*t));
    enum qs_status status;

    t->name = name;
    t->origin = origin;
    t->graph = site->graph;
    t->node = site->node;
    status = qs_tensor_fill(b, t, proto);
    qs_tensor_register(b, t, status, site);
    return t;
}
