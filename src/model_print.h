/*
 * How the commands print parts of a model: declared types and shapes,
 * for text and for JSON.
 */
#ifndef QS_MODEL_PRINT_H
#define QS_MODEL_PRINT_H

#include <stddef.h>

#include <jansson.h>

#include "model.h"

/*
 * The declared type "type" for people, in a new string (caller frees):
 * "fp32[1,3,batch,?]" with symbolic dimensions by name and unknown ones as
 * '?', "int64[]" for a scalar, "fp32" when no shape is declared, "?" when
 * nothing is; "sparse fp32[...]" for sparse tensors and the kind alone
 * ("sequence", "map", "optional", "opaque") for other types.
 */
char *qs_type_text(const struct qs_type *type);

/* The value's name and its type as qs_type_text writes it: "x:fp32[1,3]", or "x" with no type. */
char *qs_value_text(const struct qs_value *value);

/*
 * Add the type's keys to the JSON object "object": "kind" ("tensor",
 * "sparse_tensor", "sequence", "map", "optional", "opaque", or null when
 * not declared), "elem_type" (the ONNX name, or null) and "shape" (an
 * array of integers for known dimensions, strings for symbolic ones and
 * null for unknown ones; null when no shape is declared).
 */
void qs_type_json_add(json_t *object, const struct qs_type *type);

/* {"name": ..., and the keys of qs_type_json_add} for "value"; null for NULL (new reference). */
json_t *qs_value_json(const struct qs_value *value);

/* Domain as printed: "ai.onnx" for the default domain "", else the domain. */
const char *qs_domain_text(const char *domain);

#endif
