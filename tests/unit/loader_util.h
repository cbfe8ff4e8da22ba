/*
 * Helpers for the loader tests: shared test data, checks on diagnostics
 * and tensors, and builders for synthetic models (protobuf-c structs
 * allocated in an arena, and raw protobuf bytes for hostile inputs).
 */
#ifndef QS_LOADER_UTIL_H
#define QS_LOADER_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "arena.h"
#include "model.h"

/* $QSCOPE_TESTDATA, or NULL when it is unset or not a folder. */
const char *lt_testdata(void);

/* "$QSCOPE_TESTDATA/REL" (caller frees), or NULL without test data. */
char *lt_testdata_path(const char *rel);

/*
 * Without test data, print a TAP plan that skips the whole program and
 * return 1 (main then returns 0).  cmocka's own skip() prints "not ok
 * # SKIP", which the automake TAP driver counts as a failure.
 */
int lt_skip_without_testdata(void);

/* True when some line of "diag" contains every non-NULL string given. */
int lt_diag_has(const struct qs_diag *diag, const char *a, const char *b, const char *c);

/* Print every line of "diag" through cmocka, for failing tests. */
void lt_diag_show(const struct qs_diag *diag);

/* The tensor whose layer key (graph scope + name) is "key", or NULL. */
struct qs_tensor *lt_find_tensor(const struct qs_model *model, const char *key);

/* The first node with "op_type" in "graph", or NULL. */
struct qs_node *lt_find_node(const struct qs_graph *graph, const char *op_type);

/* All elements of "t" as float32 (caller frees); asserts the read succeeds. */
float *lt_read_all(const struct qs_tensor *t);

/* Assert that |actual - expected| is within a relative 1e-6 (absolute 1e-44 near 0). */
void lt_assert_close(double actual, double expected);

/* Assert the per-channel "min" and "max" arrays of "stats" against "t" along "axis". */
void lt_check_channel_minmax(const struct qs_tensor *t, int axis, const json_t *stats);

/* Load "$QSCOPE_TESTDATA/cases/NAME/case.json" (caller decrefs). */
json_t *lt_case_json(const char *name);

/* Load "$QSCOPE_TESTDATA/cases/NAME/FILE"; returns the status, model in "*out". */
enum qs_status lt_load_case(const char *name, const char *file, int keep_going,
                            struct qs_diag *diag, struct qs_model **out);

/* --- Synthetic models (all memory from "arena") ------------------------- */

Onnx__TensorProto *lt_tensor(struct qs_arena *arena, const char *name, int dtype,
                             size_t rank, const int64_t *dims);
/* A FLOAT tensor whose raw_data contains "values". */
Onnx__TensorProto *lt_tensor_f32(struct qs_arena *arena, const char *name, size_t rank,
                                 const int64_t *dims, const float *values);
Onnx__NodeProto *lt_node(struct qs_arena *arena, const char *op_type, const char *name,
                         const char *inputs, const char *outputs);
/*
 * Add an attribute to "node" and return it for the caller to fill (has_f,
 * has_i or has_s set by type).
 */
Onnx__AttributeProto *lt_attr(struct qs_arena *arena, Onnx__NodeProto *node, const char *name,
                              Onnx__AttributeProto__AttributeType type);
Onnx__ValueInfoProto *lt_value_info(struct qs_arena *arena, const char *name, int elem);
Onnx__GraphProto *lt_graph(struct qs_arena *arena, const char *name);
void lt_graph_node(struct qs_arena *arena, Onnx__GraphProto *graph, Onnx__NodeProto *node);
void lt_graph_initializer(struct qs_arena *arena, Onnx__GraphProto *graph, Onnx__TensorProto *t);
void lt_graph_input(struct qs_arena *arena, Onnx__GraphProto *graph, const char *name, int elem);
void lt_graph_output(struct qs_arena *arena, Onnx__GraphProto *graph, const char *name, int elem);
/* A model with ir_version 8 and opset 17 of the default domain. */
Onnx__ModelProto *lt_model(struct qs_arena *arena, Onnx__GraphProto *graph);
/* Serialise "model" (heap buffer, caller frees). */
uint8_t *lt_pack(const Onnx__ModelProto *model, size_t *len);

/* Set key/value entries of a tensor's external_data and mark it EXTERNAL. */
void lt_external(struct qs_arena *arena, Onnx__TensorProto *t, const char *location,
                 const char *offset, const char *length);

/* --- Raw protobuf bytes -------------------------------------------------- */

struct lt_bytes {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void lt_put_varint(struct lt_bytes *b, uint64_t value);
void lt_put_tag(struct lt_bytes *b, uint32_t field, int wire_type);
/* A length-delimited field of "len" bytes. */
void lt_put_field(struct lt_bytes *b, uint32_t field, const void *data, size_t len);
void lt_bytes_free(struct lt_bytes *b);

#endif
