/*
 * Interpreter internals shared by the executor and the op files: the
 * call passed to every op, the op table, and helpers for shapes,
 * broadcasting, attributes and errors.
 */
#ifndef QS_INTERP_INTERNAL_H
#define QS_INTERP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "interp/interp.h"
#include "interp/ops.h"

struct interp_frame;
struct interp_pool;

/* State of one run, shared by every node it executes. */
struct interp_exec {
    struct qs_interp *interp;
    struct qs_diag *diag;
    const char *path;                /* model path, the FILE of messages */
    int threads;
    struct interp_pool *pool;        /* NULL when single-threaded */
};

/* One node being run: its inputs, the outputs the op fills, and where it runs. */
struct interp_call {
    struct interp_exec *ex;
    struct interp_frame *frame;      /* frame of the node's graph, for subgraphs */
    const struct qs_node *node;
    const struct interp_op *op;
    int64_t opset;                   /* imported version of the node's domain */
    size_t n_in;
    struct qs_rt_tensor **in;        /* borrowed; NULL for omitted optional inputs */
    size_t n_out;
    struct qs_rt_tensor **out;       /* set by the op: one new reference each (NULL allowed
                                        only for outputs the node omits) */
};

/*
 * An op's static check: whether "node" (with its domain's "opset") can
 * run.  Returns NULL when it can, else a short reason that names the
 * unsupported attribute value ("mode 'foo'").  "buf" may hold the text.
 */
typedef const char *(*interp_check_fn)(const struct qs_node *node, int64_t opset,
                                       char *buf, size_t size);
typedef enum qs_status (*interp_run_fn)(struct interp_call *call);

struct interp_op {
    const char *domain;
    const char *name;
    interp_run_fn run;
    interp_check_fn check;           /* NULL: every attribute combination runs */
    int arg;                         /* op-specific code, e.g. which unary function */
};

/* The op table entry for "domain"/"op_type", or NULL. */
const struct interp_op *interp_op_find(const char *domain, const char *op_type);

/*
 * Errors.  The message is prefixed with the node ("node LABEL (OP): ")
 * and added to the run's diagnostics; returns "status".
 */
enum qs_status interp_fail(struct interp_call *call, enum qs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Accessors for the two storage kinds. */
static inline float *
rt_f(const struct qs_rt_tensor *t)
{
    return (float *)t->data;
}

static inline int64_t *
rt_i(const struct qs_rt_tensor *t)
{
    return (int64_t *)t->data;
}

/* qs_rt_new without zeroing the elements unless "zeroed". */
enum qs_status rt_new(int dtype, int rank, const int64_t *dims, int zeroed,
                      struct qs_rt_tensor **out);

/*
 * The buffer cache of rtensor.c keeps freed element buffers for reuse
 * while at least one interpreter is attached; the last detach frees them.
 */
void rt_cache_attach(void);
void rt_cache_detach(void);

/* Wrap "v" to the range of integer "dtype" (two's complement), 0/1 for bool. */
int64_t rt_wrap_int(int dtype, int64_t v);

/*
 * Round "v" to the precision of float "dtype" (float16, bfloat16, fp8); float and double are
 * returned unchanged.
 */
float rt_round_float(int dtype, float v);

/* Apply rt_round_float or rt_wrap_int to every element, as the declared type requires. */
void rt_normalize(struct qs_rt_tensor *t);

/*
 * Output creation for ops: qs_rt_new with the failure reported against
 * the node.  "dims" may be NULL when "rank" is 0.
 */
enum qs_status interp_new(struct interp_call *call, int dtype, int rank, const int64_t *dims,
                          struct qs_rt_tensor **out);
/*
 * The same without zeroing the elements, for ops that write every one
 * (the allocation is then cheaper).
 */
enum qs_status interp_new_uninit(struct interp_call *call, int dtype, int rank,
                                 const int64_t *dims, struct qs_rt_tensor **out);

/* A tensor of "src"'s type and shape, zeroed or not. */
enum qs_status interp_new_like(struct interp_call *call, const struct qs_rt_tensor *src,
                               struct qs_rt_tensor **out);
enum qs_status interp_new_like_uninit(struct interp_call *call, const struct qs_rt_tensor *src,
                                      struct qs_rt_tensor **out);
/* A view of "src" with another shape (same element count, checked by the caller). */
enum qs_status interp_view(struct interp_call *call, struct qs_rt_tensor *src, int rank,
                           const int64_t *dims, struct qs_rt_tensor **out);
/* A copy of "src" converted to "dtype" (float <-> int conversions as Cast does). */
enum qs_status interp_convert(struct interp_call *call, const struct qs_rt_tensor *src, int dtype,
                              struct qs_rt_tensor **out);

/* Read the file at "path" into a new buffer (caller frees); problems go to "diag". */
enum qs_status interp_read_whole_file(const char *path, struct qs_diag *diag, uint8_t **data,
                                      size_t *size);

/* Decode a model tensor (an attribute's value) into a new runtime tensor. */
enum qs_status interp_from_model_tensor(struct interp_call *call, const struct qs_tensor *t,
                                        struct qs_rt_tensor **out);

/* interp_convert without a node: the status alone reports a failure. */
enum qs_status rt_convert(const struct qs_rt_tensor *src, int dtype, struct qs_rt_tensor **out);

/* "src" as float32: a new reference to it, or to a converted copy. */
enum qs_status interp_as_float(struct interp_call *call, struct qs_rt_tensor *src,
                               struct qs_rt_tensor **out);

/* Input checks: each fails with QS_INVALID naming the input. */
enum qs_status interp_need_inputs(struct interp_call *call, size_t min_count);
enum qs_status interp_need_float(struct interp_call *call, size_t index);
enum qs_status interp_need_rank(struct interp_call *call, size_t index, int min_rank, int max_rank);

/*
 * Read an integer tensor input (shape, axes, pads ...) into "values"
 * (up to "max" entries); stores the count.  A float tensor is truncated.
 * Fails when it has more than "max" elements.
 */
enum qs_status interp_read_ints(struct interp_call *call, size_t index, int64_t *values,
                                size_t max, size_t *count);
/* First element of input "index" as int64 / float; "fallback" when the input is omitted. */
enum qs_status interp_scalar_int(struct interp_call *call, size_t index, int64_t fallback,
                                 int64_t *value);
enum qs_status interp_scalar_float(struct interp_call *call, size_t index, float fallback,
                                   float *value);

/* Normalize "axis" against "rank" (negative counts from the end); fails when out of range. */
enum qs_status interp_axis(struct interp_call *call, int64_t axis, int rank, int *out);

/*
 * Copy the elements of a strided view of "src" into "dst" in row-major
 * order: element (i0, i1, ...) of the view is src[src_offset + sum
 * ik * src_strides[k]].  "esize" is 4 (float) or 8 (int64).
 */
void rt_copy_strided(void *dst, const void *src, int esize, int rank, const int64_t *dims,
                     const int64_t *src_strides, int64_t src_offset);

/* Bytes per held element of "t": 4 or 8. */
int rt_esize(const struct qs_rt_tensor *t);

/* Row-major strides of "dims". */
void rt_strides(int rank, const int64_t *dims, int64_t *strides);

/* Product of dims[from .. to-1], assumed not to overflow (a tensor's dims). */
uint64_t rt_span(const int64_t *dims, int from, int to);

/* Multiply checked: 0 on success. */
int rt_mul_dims(int rank, const int64_t *dims, uint64_t *count);

/*
 * Numpy broadcasting of up to 4 inputs.  After interp_bcast_init, the
 * output has "rank"/"dims"; "strides[k]" are input k's element strides
 * in the output's index space (0 on broadcast dims).  Dims that are
 * contiguous for every input are merged, so the innermost dim is as
 * long as possible: iterate with interp_bcast_for.
 */
#define INTERP_BCAST_MAX 4

struct interp_bcast {
    int n;
    int rank;                                   /* of the output */
    int64_t dims[QS_RT_MAX_RANK];               /* of the output */
    uint64_t count;
    int crank;                                  /* merged rank, >= 1 */
    int64_t cdims[QS_RT_MAX_RANK];
    int64_t cstrides[INTERP_BCAST_MAX][QS_RT_MAX_RANK];
};

enum qs_status interp_bcast_init(struct interp_call *call, struct interp_bcast *b, int n,
                                 const struct qs_rt_tensor *const *ts);

/*
 * Call "row" for every innermost row of a broadcast.  "offsets" are the
 * element offsets of the row start in each input and "out_offset" the one
 * in the output.  "len" is the row length and "steps" each input's stride
 * along the row (0 or the input's innermost stride).
 */
typedef void (*interp_row_fn)(void *ctx, uint64_t out_offset, const int64_t *offsets,
                              const int64_t *steps, int64_t len);
void interp_bcast_for(const struct interp_bcast *b, interp_row_fn row, void *ctx);

/*
 * interp_bcast_for spread over the workers in blocks of
 * INTERP_BCAST_BLOCK output elements; "row" may then be called on part
 * of a row, from any thread, and must write only its own outputs.
 */
#define INTERP_BCAST_BLOCK 16384
void interp_bcast_for_par(struct interp_call *call, const struct interp_bcast *b,
                          interp_row_fn row, void *ctx);

/*
 * C = alpha * op(A) op(B) + beta * C for row-major matrices (op: transpose
 * when "trans_a"/"trans_b"), through OpenBLAS on fixed tiles shared among
 * the workers, so results do not depend on the thread count.  Must not be
 * called from inside interp_parallel_for.  Dims must fit in int.
 */
void interp_sgemm(struct interp_call *call, int trans_a, int trans_b, int64_t m, int64_t n,
                  int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                  float beta, float *c, int64_t ldc);

/* A pool of "threads" - 1 workers (the caller is the last); NULL for one thread. */
struct interp_pool *interp_pool_new(int threads);
void interp_pool_free(struct interp_pool *pool);

/*
 * Apply binary op "code" (enum interp_binary: BIN_ADD ... BIN_BITWISE_XOR)
 * to "a" and "b" with numpy broadcasting into a new "*out".  Attributes
 * of the current node (fmod, direction) are read where the op has them.
 */
enum qs_status interp_binary(struct interp_call *call, int code, const struct qs_rt_tensor *a,
                             const struct qs_rt_tensor *b, struct qs_rt_tensor **out);

/* Thread count of the current run (>= 1). */
int interp_threads(const struct interp_call *call);

/*
 * Run fn(ctx, begin, end) over [0, n) split into contiguous chunks of at
 * least "min_chunk" items (at most 32 chunks), whose bounds depend only on
 * "n" and "min_chunk", and wait.  Threads take chunks in turn, so a
 * descheduled thread stalls at most one chunk.  Results must not depend on
 * the chunk bounds.  Runs inline when "n" is below twice "min_chunk", when
 * one thread is set, or when "call" is NULL (kernel unit tests).
 */
void interp_parallel_for(struct interp_call *call, int64_t n, int64_t min_chunk,
                         void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

/*
 * Run subgraph "graph" of the current node with "inputs" bound to its
 * inputs (borrowed, graph->n_inputs entries) and store new references to
 * its outputs in "outputs" (graph->n_outputs entries).
 */
enum qs_status interp_run_subgraph(struct interp_call *call, const struct qs_graph *graph,
                                   struct qs_rt_tensor *const *inputs,
                                   struct qs_rt_tensor **outputs);

#endif
