/*
 * Internals shared by the loader's files (model_*.c, tensor_read.c): the
 * state of one load and the model's private part.  Not for other modules.
 */
#ifndef QS_MODEL_BUILD_H
#define QS_MODEL_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "model.h"
#include "strmap.h"
#include "wire.h"

/*
 * Sparse tensors whose dense form would be larger than this are refused,
 * and so are those that would take the dense forms of all of a model's
 * sparse tensors past it, because a few bytes of file must not fill the
 * memory.
 */
#define QS_MAX_SPARSE_DENSE_BYTES ((uint64_t)1 << 30)

/* Growable array of pointers on the heap, used while building. */
struct qs_ptrvec {
    void **items;
    size_t count;
    size_t cap;
};

void qs_ptrvec_push(struct qs_ptrvec *vec, void *item);
void qs_ptrvec_done(struct qs_ptrvec *vec);
/* Copy the items into the arena; returns NULL for an empty vector. */
void **qs_ptrvec_to_arena(const struct qs_ptrvec *vec, struct qs_arena *arena);

/* An external data file, mapped once however many tensors use it. */
struct qs_ext_file {
    const char *real_path;
    const uint8_t *map;          /* NULL for an empty file */
    uint64_t size;
};

struct qs_model_private {
    struct qs_arena arena;
    const uint8_t *owned_map;    /* the model file, when qs_model_load mapped it */
    uint64_t owned_size;
    struct qs_ptrvec ext_files;  /* struct qs_ext_file *, heap-allocated */
    struct qs_ptrvec buffers;    /* heap buffers the model owns: dense forms of sparse tensors */
    struct qs_strmap *ext_by_path;
    const char *real_dir;        /* realpath of model->dir, resolved on first use */
    int real_dir_failed;
};

/* Location of a tensor in the model, for messages: "graph 'main', initializer 3". */
struct qs_tensor_site {
    struct qs_graph *graph;
    struct qs_node *node;        /* attribute and Constant tensors */
    const char *attr;            /* attribute name, with node */
    const char *kind;            /* "initializer", "sparse initializer", else NULL */
    size_t index;
};

/* A read of "value" by "node", collected while building, sorted out at the end. */
struct qs_use {
    struct qs_value *value;
    struct qs_node *node;
};

struct qs_model_build {
    struct qs_model *model;
    struct qs_arena *arena;
    const char *file;            /* name in messages */
    struct qs_diag *diag;
    int keep_going;
    const struct qs_wire_span *spans;
    size_t n_spans;

    struct qs_ptrvec graphs;
    struct qs_ptrvec tensors;
    struct qs_use *uses;
    size_t n_uses;
    size_t cap_uses;
    enum qs_status tensor_status; /* worst per-tensor fault, when not keep_going */
    uint64_t sparse_dense_bytes; /* dense forms of sparse tensors so far */
};

/* model_graph.c: build the main graph and every subgraph below it; QS_OK or a reported fault. */
enum qs_status qs_build_graphs(struct qs_model_build *b, const Onnx__GraphProto *main);

/* model_graph.c: fill every value's consumers from the collected uses. */
void qs_build_consumers(struct qs_model_build *b);

/*
 * model_tensor.c: build and register a tensor from "proto"; a fault in its
 * data is reported and kept in the tensor.  "name" overrides proto->name
 * when not NULL.
 */
struct qs_tensor *qs_build_tensor(struct qs_model_build *b, const Onnx__TensorProto *proto,
                                  const char *name, enum qs_tensor_origin origin,
                                  const struct qs_tensor_site *site);

/* model_tensor.c: the tensor of a Constant node, from whichever value attribute it has. */
struct qs_tensor *qs_build_constant(struct qs_model_build *b, struct qs_node *node,
                                    const struct qs_tensor_site *site);

/* model_sparse.c: build and register the dense form of a sparse tensor. */
struct qs_tensor *qs_build_sparse(struct qs_model_build *b, const Onnx__SparseTensorProto *proto,
                                  const char *name, enum qs_tensor_origin origin,
                                  const struct qs_tensor_site *site);

/*
 * model_tensor.c: fill "t" from "proto" without registering or reporting.
 * Returns QS_OK, or the status of the fault stored in t->fault.
 */
enum qs_status qs_tensor_fill(struct qs_model_build *b, struct qs_tensor *t,
                              const Onnx__TensorProto *proto);

/* model_tensor.c: register "t" in the model and report its fault, if any. */
void qs_tensor_register(struct qs_model_build *b, struct qs_tensor *t, enum qs_status status,
                        const struct qs_tensor_site *site);

/*
 * model_tensor.c: check "rank" dims (none negative, product without
 * overflow) and set t->dims, t->rank and t->count, or set a fault.
 */
enum qs_status qs_tensor_set_dims(struct qs_model_build *b, struct qs_tensor *t, size_t rank,
                                  const int64_t *dims);

/* model_tensor.c: set t->fault from a format; returns "status". */
enum qs_status qs_tensor_fault(struct qs_model_build *b, struct qs_tensor *t,
                               enum qs_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* model_tensor.c: "[4,3]" into "buf". */
const char *qs_format_dims(const int64_t *dims, size_t rank, char *buf, size_t size);

/* model_extdata.c: point "t" at its external data; QS_OK or a fault set in "t". */
enum qs_status qs_extdata_resolve(struct qs_model_build *b, struct qs_tensor *t,
                                  const Onnx__TensorProto *proto, uint64_t expected);

/* model_extdata.c: unmap external files; called by qs_model_free. */
void qs_extdata_release(struct qs_model_private *priv);

/* model_graph.c: "graph 'main'" or "subgraph 'body' at loop_1/body" into "buf". */
const char *qs_format_graph(const struct qs_graph *graph, char *buf, size_t size);

/* model_graph.c: a tensor site as text: "graph 'main', initializer 3". */
const char *qs_format_site(const struct qs_tensor_site *site, char *buf, size_t size);

/*
 * A name from the file made safe for a message: control characters (C0,
 * DEL and C1) and bytes that are not valid UTF-8 become '?', and long
 * names are cut with "..." at a character boundary.  Returns "buf".
 */
const char *qs_quote(const char *name, char *buf, size_t size);

/*
 * tensor_read.c: pointer to elements start .. start+count-1 in packed
 * layout, either in place or converted into "buf" (QS_TENSOR_CHUNK bytes).
 * "*first" receives the index of element "start" in the returned data
 * (non-zero only for 4-bit types and in-place data).  "count" must fit one
 * chunk: at most qs_tensor_chunk_elements(t).  NULL for strings, unknown
 * types and tensors without data.
 */
#define QS_TENSOR_CHUNK 4096
const void *qs_tensor_packed_chunk(const struct qs_tensor *t, uint64_t start, size_t count,
                                   uint8_t *buf, uint64_t *first);
size_t qs_tensor_chunk_elements(const struct qs_tensor *t);

#endif
