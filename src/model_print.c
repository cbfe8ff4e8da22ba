/*
 * Text and JSON forms of declared types and values for the commands.
 */
#include "config.h"
#include "model_print.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "status.h"

static const char *
kind_key(enum qs_type_kind kind)
{
    switch (kind) {
    case QS_TYPE_UNKNOWN:       return NULL;
    case QS_TYPE_TENSOR:        return "tensor";
    case QS_TYPE_SPARSE_TENSOR: return "sparse_tensor";
    case QS_TYPE_SEQUENCE:      return "sequence";
    case QS_TYPE_MAP:           return "map";
    case QS_TYPE_OPTIONAL:      return "optional";
    case QS_TYPE_OPAQUE:        return "opaque";
    }
    return NULL;
}

/* Append "text" to the growing string "*buf" of length "*len". */
static void
append(char **buf, size_t *len, const char *text)
{
    size_t n = strlen(text);

    *buf = qs_realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, text, n + 1);
    *len += n;
}

static void
append_shape(char **buf, size_t *len, const struct qs_type *type)
{
    char number[24];

    append(buf, len, "[");
    for (int i = 0; i < type->rank; i++) {
        const struct qs_dim *dim = &type->dims[i];

        if (i > 0)
            append(buf, len, ",");
        if (dim->param && *dim->param) {
            append(buf, len, dim->param);
        } else if (dim->value >= 0) {
            snprintf(number, sizeof(number), "%" PRId64, dim->value);
            append(buf, len, number);
        } else {
            append(buf, len, "?");
        }
    }
    append(buf, len, "]");
}

char *
qs_type_text(const struct qs_type *type)
{
    char *buf = qs_strdup("");
    size_t len = 0;

    if (type->kind != QS_TYPE_TENSOR && type->kind != QS_TYPE_SPARSE_TENSOR) {
        append(&buf, &len, type->kind == QS_TYPE_UNKNOWN ? "?" : kind_key(type->kind));
        return buf;
    }

    if (type->kind == QS_TYPE_SPARSE_TENSOR)
        append(&buf, &len, "sparse ");
    append(&buf, &len, type->elem ? qs_dtype_short_name(type->elem) : "?");
    if (type->rank >= 0)
        append_shape(&buf, &len, type);
    return buf;
}

char *
qs_value_text(const struct qs_value *value)
{
    char *type;
    char *text;

    if (value->type.kind == QS_TYPE_UNKNOWN)
        return qs_strdup(value->name);

    type = qs_type_text(&value->type);
    text = qs_asprintf("%s:%s", value->name, type);
    free(type);
    return text;
}

static json_t *
shape_json(const struct qs_type *type)
{
    json_t *shape = json_array();

    for (int i = 0; i < type->rank; i++) {
        const struct qs_dim *dim = &type->dims[i];

        if (dim->param && *dim->param)
            json_array_append_new(shape, qs_json_string(dim->param));
        else if (dim->value >= 0)
            json_array_append_new(shape, json_integer((json_int_t)dim->value));
        else
            json_array_append_new(shape, json_null());
    }
    return shape;
}

void
qs_type_json_add(json_t *object, const struct qs_type *type)
{
    int is_tensor = type->kind == QS_TYPE_TENSOR || type->kind == QS_TYPE_SPARSE_TENSOR;

    qs_json_set_string(object, "kind", kind_key(type->kind));
    qs_json_set_string(object, "elem_type",
                       is_tensor && type->elem ? qs_dtype_name(type->elem) : NULL);
    json_object_set_new(object, "shape",
                        is_tensor && type->rank >= 0 ? shape_json(type) : json_null());
}

json_t *
qs_value_json(const struct qs_value *value)
{
    json_t *object;

    if (!value)
        return json_null();

    object = json_object();
    qs_json_set_string(object, "name", value->name);
    qs_type_json_add(object, &value->type);
    return object;
}

const char *
qs_domain_text(const char *domain)
{
    return domain && *domain ? domain : "ai.onnx";
}
