/*
 * qscope's model representation: what the loader builds from an .onnx
 * file and every other part (statistics, quantization, views, the
 * interpreter) reads.
 *
 * A model lives in one arena freed by qs_model_free.  Tensors whose data
 * sits in the file (raw_data) or in an external data file point into
 * read-only memory maps; nothing is copied or read until a caller decodes
 * it.  All strings are NUL-terminated and owned by the model.
 *
 * Raw data: the protobuf-c messages behind "proto" pointers were unpacked
 * from a compact copy of the file in which every raw_data payload was
 * replaced by a short token.  Never read TensorProto.raw_data from them;
 * use struct qs_tensor.
 */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "status.h"
#include "onnx.pb-c.h"

/* Subgraphs nested deeper than this (If inside Loop inside ...) are rejected. */
#define QS_MAX_GRAPH_DEPTH 32

/* Protobuf messages nested deeper than this are rejected by the wire walk. */
#define QS_MAX_MESSAGE_DEPTH 100

/* Where a tensor's elements are stored. */
enum qs_storage {
    QS_STORE_NONE,        /* zero elements, or unusable (see fault) */
    QS_STORE_PACKED,      /* packed little-endian bytes: raw_data, external data, owned buffer */
    QS_STORE_FLOAT_DATA,  /* TensorProto.float_data */
    QS_STORE_INT32_DATA,  /* TensorProto.int32_data: an element (4-bit types: a byte) per entry */
    QS_STORE_INT64_DATA,
    QS_STORE_DOUBLE_DATA,
    QS_STORE_UINT64_DATA,
    QS_STORE_STRING       /* TensorProto.string_data */
};

/* How a constant tensor entered the graph. */
enum qs_tensor_origin {
    QS_ORIGIN_INITIALIZER,
    QS_ORIGIN_SPARSE_INITIALIZER,  /* densified at load */
    QS_ORIGIN_CONSTANT_NODE,       /* the value of a Constant node */
    QS_ORIGIN_ATTRIBUTE            /* a tensor attribute of another node */
};

struct qs_graph;
struct qs_node;

/* A constant tensor with its data location. */
struct qs_tensor {
    const char *name;            /* may be "" for attribute tensors */
    int dtype;                   /* element type number as stored; may be unknown */
    int rank;
    const int64_t *dims;         /* "rank" entries, all >= 0 */
    uint64_t count;              /* product of dims, checked for overflow */
    enum qs_tensor_origin origin;
    struct qs_graph *graph;      /* graph that defines it */
    struct qs_node *node;        /* Constant or attribute owner, else NULL */

    enum qs_storage storage;
    const void *data;            /* QS_STORE_PACKED: bytes; typed storage: the protobuf-c array */
    uint64_t nbytes;             /* QS_STORE_PACKED: byte length; else entries in the typed array */
    int is_external;             /* data lives in an external file */
    const char *location;        /* external file as written in the model, else NULL */
    uint64_t file_offset;        /* byte offset of the data in its file (model or external) */

    const char *fault;           /* non-NULL: why the data cannot be used (storage QS_STORE_NONE) */
    const Onnx__TensorProto *proto;
};

/* One dimension of a declared shape. */
struct qs_dim {
    int64_t value;               /* >= 0, or -1 when unknown or symbolic */
    const char *param;           /* symbolic name, or NULL */
};

enum qs_type_kind {
    QS_TYPE_UNKNOWN,
    QS_TYPE_TENSOR,
    QS_TYPE_SPARSE_TENSOR,
    QS_TYPE_SEQUENCE,
    QS_TYPE_MAP,
    QS_TYPE_OPTIONAL,
    QS_TYPE_OPAQUE
};

/* A declared type: from graph inputs and outputs, value_info, initializers, Constant values. */
struct qs_type {
    enum qs_type_kind kind;
    int elem;                    /* element type number for tensors, 0 when unknown */
    int rank;                    /* -1 when the shape is not declared */
    const struct qs_dim *dims;
};

enum qs_value_kind {
    QS_VALUE_GRAPH_INPUT,        /* a graph input (possibly with an initializer as default) */
    QS_VALUE_INITIALIZER,        /* an initializer that is not a graph input */
    QS_VALUE_NODE_OUTPUT,
    QS_VALUE_UNDEFINED           /* referenced but defined nowhere in scope */
};

/* A named value in a graph's scope. */
struct qs_value {
    const char *name;
    struct qs_graph *graph;      /* graph whose scope defines it */
    enum qs_value_kind kind;
    struct qs_node *producer;    /* QS_VALUE_NODE_OUTPUT only */
    int producer_output;         /* index among the producer's outputs */
    struct qs_tensor *tensor;    /* constant data: initializer or Constant node value, else NULL */
    struct qs_type type;
    int is_graph_output;

    /* Nodes that read it: in its own graph, and in nested subgraphs that
     * refer to it as an outer-scope name.  In graph order per graph. */
    size_t n_consumers;
    struct qs_node **consumers;
};

struct qs_opset {
    const char *domain;          /* "" for the default ONNX domain */
    int64_t version;
};

struct qs_metadata {
    const char *key;
    const char *value;
};

struct qs_node {
    size_t index;                /* position in its graph */
    const char *name;            /* as stored; may be "" */
    const char *label;           /* name, or "#INDEX" where the name is empty */
    const char *op_type;
    const char *domain;          /* "" for the default domain ("ai.onnx" is mapped to "") */
    struct qs_graph *graph;

    size_t n_inputs;
    struct qs_value **inputs;    /* NULL entries for omitted optional inputs ("") */
    size_t n_outputs;
    struct qs_value **outputs;   /* NULL entries for omitted optional outputs */

    size_t n_attrs;
    const Onnx__AttributeProto **attrs;
    struct qs_tensor **attr_tensors;  /* parallel to attrs: the "t" tensor, else NULL */

    size_t n_subgraphs;
    struct qs_graph **subgraphs; /* from GRAPH and GRAPHS attributes, in attribute order */

    const Onnx__NodeProto *proto;
};

struct qs_graph {
    const char *name;
    const char *scope;           /* layer-key prefix: "" for the main graph, "loop_1/body/" below */
    int depth;                   /* 0 for the main graph */
    struct qs_graph *parent;
    struct qs_node *parent_node;
    const char *attr_name;       /* attribute of parent_node holding this graph */

    size_t n_nodes;
    struct qs_node *nodes;

    size_t n_inputs;
    struct qs_value **inputs;
    size_t n_outputs;
    struct qs_value **outputs;
    size_t n_initializers;       /* dense and densified sparse initializers */
    struct qs_tensor **initializers;

    size_t n_values;             /* every name defined in this graph */
    struct qs_value **values;
    struct qs_strmap *value_map;

    const Onnx__GraphProto *proto;
};

struct qs_model {
    const char *path;            /* as given */
    const char *dir;             /* folder holding the model, for external data */
    const uint8_t *map;          /* the mapped file */
    uint64_t file_size;

    int64_t ir_version;
    const char *producer_name;
    const char *producer_version;
    const char *domain;
    int64_t model_version;
    const char *doc_string;

    size_t n_opsets;
    struct qs_opset *opsets;
    size_t n_metadata;
    struct qs_metadata *metadata;
    size_t n_functions;

    struct qs_graph *graph;      /* the main graph */
    size_t n_graphs;             /* all graphs, main first, then depth-first in node order */
    struct qs_graph **graphs;
    size_t n_tensors;            /* every constant tensor of every graph */
    struct qs_tensor **tensors;
    size_t n_faulty_tensors;     /* tensors with a fault */

    Onnx__ModelProto *proto;
    struct qs_model_private *priv;
};

struct qs_load_options {
    int keep_going;              /* continue past per-tensor data faults (reported as warnings) */
};

/*
 * Load the model at "path".  Structural faults stop loading with
 * QS_INVALID; an element type number qscope does not know gives
 * QS_UNSUPPORTED; faults confined to one tensor's data are reported per
 * tensor and give QS_INVALID unless "opts->keep_going" is set, in which
 * case the tensors keep a fault and loading succeeds.  Every problem is
 * added to "diag" (may be NULL).  On success "*out" owns everything; on
 * failure it is set to NULL.  "opts" may be NULL.
 */
enum qs_status qs_model_load(const char *path, const struct qs_load_options *opts,
                             struct qs_diag *diag, struct qs_model **out);

/*
 * Load a model from "size" bytes at "data" (not copied: the caller keeps
 * them alive until qs_model_free).  "name" is used in messages; external
 * data is resolved against "dir", or refused when "dir" is NULL.  Used by
 * the fuzzer and by tests.
 */
enum qs_status qs_model_load_memory(const void *data, size_t size, const char *name,
                                    const char *dir, const struct qs_load_options *opts,
                                    struct qs_diag *diag, struct qs_model **out);

/* Free a model and unmap its files.  NULL is allowed. */
void qs_model_free(struct qs_model *model);

/* Imported version of "domain" ("" or "ai.onnx" for the default), or -1. */
int64_t qs_model_opset(const struct qs_model *model, const char *domain);

/* The value named "name" as seen from "graph": its own scope, then outer scopes.  NULL if none. */
struct qs_value *qs_graph_lookup(const struct qs_graph *graph, const char *name);

/* Attribute access.  A missing attribute, or one of another type, gives the default. */
const Onnx__AttributeProto *qs_node_attr(const struct qs_node *node, const char *name);
int64_t qs_node_attr_int(const struct qs_node *node, const char *name, int64_t fallback);
float qs_node_attr_float(const struct qs_node *node, const char *name, float fallback);
/*
 * String attribute bytes (not NUL-terminated); when absent, returns
 * "fallback" with "*len" set to strlen(fallback).
 */
const char *qs_node_attr_string(const struct qs_node *node, const char *name,
                                const char *fallback, size_t *len);
/* INTS attribute: number of entries, pointer stored in "*values" (borrowed); -1 when absent. */
ptrdiff_t qs_node_attr_ints(const struct qs_node *node, const char *name, const int64_t **values);
ptrdiff_t qs_node_attr_floats(const struct qs_node *node, const char *name, const float **values);
/* TENSOR attribute, or NULL. */
struct qs_tensor *qs_node_attr_tensor(const struct qs_node *node, const char *name);

/* Op type with its domain for reports: "Conv", or "com.microsoft.MatMulNBits". */
const char *qs_node_qualified_op(const struct qs_node *node, char *buf, size_t size);

/*
 * Tensor data access.  Each reads elements start .. start+count-1 (the
 * caller checks the range against t->count) and converts them; large
 * tensors are read chunk by chunk this way.  They fail with
 * QS_UNSUPPORTED for element types they cannot convert and QS_INVALID
 * for a faulty tensor.
 */
enum qs_status qs_tensor_read_f32(const struct qs_tensor *t, uint64_t start,
                                  size_t count, float *out);
enum qs_status qs_tensor_read_i64(const struct qs_tensor *t, uint64_t start,
                                  size_t count, int64_t *out);

/* Packed byte size of the tensor's elements, or 0 for strings and unknown types. */
uint64_t qs_tensor_packed_bytes(const struct qs_tensor *t);

#endif
