/*
 * qscope's CPU interpreter: runs a loaded model's graph, subgraphs
 * included (If, Loop, Scan), to produce activations for calibration,
 * evaluation and sensitivity analysis.
 *
 * Numerics: every floating-point tensor (float, double, float16,
 * bfloat16) is held and computed as float32; the declared type is kept,
 * and casts to float16 or bfloat16 round the values to that type.  Every
 * integer and bool tensor is held as int64 and results are wrapped to the
 * declared type's range.  GEMM and convolutions go through OpenBLAS.
 *
 * Threads: the "threads" setting is the number of workers, qscope's own
 * kernels and OpenBLAS together.  OpenBLAS runs single-threaded inside
 * the workers on matrix tiles of a fixed size, so results are bit for bit
 * the same whatever the thread count.
 *
 * Memory: a value is freed as soon as the last node that reads it has
 * run (nodes inside a subgraph count for the node that owns the
 * subgraph).  Constants, and the values computed from constants alone by
 * the ops that fold weights (Identity, Cast, Reshape, Transpose, Squeeze,
 * Unsqueeze, ConstantOfShape, Flatten, DequantizeLinear), are decoded
 * once and kept until the weight hook changes or the interpreter is
 * freed.
 *
 * Known limitations: sequence, map, optional and string values are not
 * supported, and neither are ops outside the default domain except the
 * few in the op table (qs_interp_check names what is missing).
 * NOTE: integer and bool tensors take 8 bytes per element whatever their
 * declared type, so a large uint8 or bool activation costs twice its
 * float32 size.
 */
#ifndef QS_INTERP_H
#define QS_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"

/* Largest tensor rank the interpreter handles. */
#define QS_RT_MAX_RANK 16

/*
 * A tensor at run time.  "data" points to "count" float32 elements when
 * qs_rt_is_float(dtype), else to "count" int64 elements.  Tensors are
 * reference counted; a view (the output of Reshape or Identity) shares
 * its base's data, so data must not be changed unless qs_rt_unique.
 */
struct qs_rt_tensor {
    int dtype;                        /* declared element type (enum qs_dtype) */
    int rank;
    int64_t dims[QS_RT_MAX_RANK];
    uint64_t count;                   /* product of dims; 1 for a scalar */
    void *data;

    int refs;                         /* private: reference count */
    struct qs_rt_tensor *base;        /* private: owner of "data" for views, else NULL */
};

/* True when elements of "dtype" are held as float32 (floating-point types). */
int qs_rt_is_float(int dtype);

/* True when elements of "dtype" are held as int64 (integer types and bool). */
int qs_rt_is_int(int dtype);

/*
 * Create a tensor of "dtype" with "rank" dims (copied), elements zeroed.
 * Fails with QS_UNSUPPORTED for types it cannot hold (string, complex)
 * and QS_INVALID for a rank above QS_RT_MAX_RANK, a negative dim, an
 * element count that overflows, or a size above the allocation limit
 * (see qs_rt_set_alloc_limit).  On success "*out" has one reference.
 */
enum qs_status qs_rt_new(int dtype, int rank, const int64_t *dims, struct qs_rt_tensor **out);

/* Add a reference to "t" and return it.  NULL is allowed. */
struct qs_rt_tensor *qs_rt_ref(struct qs_rt_tensor *t);

/* Drop a reference; the last one frees the tensor.  NULL is allowed. */
void qs_rt_unref(struct qs_rt_tensor *t);

/* True when no other tensor shares "t"'s data, so it may be changed in place. */
int qs_rt_unique(const struct qs_rt_tensor *t);

/*
 * Largest single tensor, in bytes, that qs_rt_new allocates.  The
 * default is the memory available when first asked (MemAvailable); 0
 * restores that default.
 */
void qs_rt_set_alloc_limit(uint64_t bytes);
uint64_t qs_rt_alloc_limit(void);

/*
 * Read a serialized ONNX TensorProto (the input_N.pb / output_N.pb files
 * of the ONNX test layout) at "path" into "*out".  Fails with
 * QS_INVALID for an unreadable or malformed file and QS_UNSUPPORTED for
 * string and complex tensors; the problem is added to "diag".
 */
enum qs_status qs_rt_read_pb(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out);

/* The same from "size" bytes in memory; "name" is used in messages. */
enum qs_status qs_rt_parse_pb(const void *bytes, size_t size, const char *name,
                              struct qs_diag *diag, struct qs_rt_tensor **out);

/*
 * Read a NumPy .npy file (format versions 1, 2 and 3, little-endian
 * f4, f8, f2, i8, i4, u1, i1 or b1 elements, C order) into "*out".
 */
enum qs_status qs_rt_read_npy(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out);
enum qs_status qs_rt_parse_npy(const void *bytes, size_t size, const char *name,
                               struct qs_diag *diag, struct qs_rt_tensor **out);

/* Read a tensor file, choosing the format by its extension (".npy", else TensorProto). */
enum qs_status qs_rt_read_file(const char *path, struct qs_diag *diag, struct qs_rt_tensor **out);

/*
 * The interpreter.
 */
struct qs_interp;

struct qs_interp_options {
    int threads;                 /* workers (OpenBLAS included); 0 or less: all cores */
    uint64_t memory_limit;       /* largest estimated peak, in bytes, of a run that is allowed
                                    to start; 0: the memory available */
};

/*
 * Hooks called during a run; every pointer may be NULL.  A hook that
 * returns anything but QS_OK stops the run with that status.
 *
 * "transform" is called once for every float tensor a node produces
 * (inside subgraphs: once per execution), with the value it becomes, and
 * may replace it, e.g. to fake-quantize activations.  On entry "*tensor"
 * holds the interpreter's reference.  The hook either leaves it there, or
 * unrefs it and stores a new tensor with one reference, which the
 * interpreter then owns.  The replacement must have the same element type
 * and dims, else the run fails with QS_INVALID.  The data may be changed
 * in place only when qs_rt_unique(*tensor).  A view (the output of
 * Reshape, Flatten, Identity ...) shares its data with its base, which
 * other nodes may still read, so a changed view must be a copy.
 * Whatever the hook leaves in "*tensor" is passed to "observe", read by
 * every later node and, for a graph output, returned by the run.  When it
 * owns its data it is rounded to its declared type (float16, bfloat16),
 * as every node result is.  On failure "*tensor" must still hold the
 * interpreter's reference, or NULL.  Graph inputs and constants do not
 * pass through this hook.
 *
 * "observe" is called for the same tensors, after "transform".  The
 * tensor is borrowed and must not be changed.
 *
 * "weight" is called once for every float constant: initializers,
 * Constant node values and the values folded from them (see the module
 * comment), as each is first decoded.  It may change "tensor"'s data in
 * place, e.g. to substitute fake-quantized weights; the changed data is
 * used by this run and every later one until the hooks are set again.
 */
struct qs_interp_hooks {
    enum qs_status (*transform)(void *ctx, const struct qs_value *value,
                                struct qs_rt_tensor **tensor);
    enum qs_status (*observe)(void *ctx, const struct qs_value *value,
                              const struct qs_rt_tensor *tensor);
    enum qs_status (*weight)(void *ctx, const struct qs_value *value,
                             struct qs_rt_tensor *tensor);
    void *ctx;
};

/* One op the interpreter cannot run, with the nodes that use it. */
struct qs_interp_gap {
    char *op;                    /* qualified op type: "Einsum", "com.microsoft.Attention" */
    char *reason;                /* "not implemented", or what is unsupported about these nodes */
    size_t n_nodes;
    const struct qs_node **nodes;
};

struct qs_interp_gaps {
    size_t count;
    struct qs_interp_gap *items;
};

/*
 * Check that every node of "model" (subgraphs included) can be run.
 * Each op that cannot is stored in "gaps" (may be NULL; free it with
 * qs_interp_gaps_done) and added to "diag" as one line naming the op and
 * its nodes.  Returns QS_OK or QS_UNSUPPORTED.  Values of a type the
 * interpreter cannot hold (sequence, map, optional, string) as graph
 * inputs or outputs are reported as the gap "type".
 */
enum qs_status qs_interp_check(const struct qs_model *model, struct qs_interp_gaps *gaps,
                               struct qs_diag *diag);
void qs_interp_gaps_done(struct qs_interp_gaps *gaps);

/*
 * Create an interpreter for "model" (borrowed: it must outlive the
 * interpreter).  Runs qs_interp_check first and fails with
 * QS_UNSUPPORTED when anything is missing.  "opts" may be NULL.
 */
enum qs_status qs_interp_new(const struct qs_model *model, const struct qs_interp_options *opts,
                             struct qs_diag *diag, struct qs_interp **out);

/* Free an interpreter and its decoded constants.  NULL is allowed. */
void qs_interp_free(struct qs_interp *interp);

/* Set the hooks ("hooks" is copied; NULL clears them) and drop the decoded constants. */
void qs_interp_set_hooks(struct qs_interp *interp, const struct qs_interp_hooks *hooks);

/* Set the thread count for later runs (0 or less: all cores). */
void qs_interp_set_threads(struct qs_interp *interp, int threads);

/*
 * The run inputs: the main graph's inputs that have no initializer, in
 * graph order.  Input "i" of qs_interp_run is qs_interp_input(interp, i).
 */
size_t qs_interp_n_inputs(const struct qs_interp *interp);
const struct qs_value *qs_interp_input(const struct qs_interp *interp, size_t i);

/* The main graph's outputs, in graph order. */
size_t qs_interp_n_outputs(const struct qs_interp *interp);
const struct qs_value *qs_interp_output(const struct qs_interp *interp, size_t i);

/*
 * Estimate the peak memory, in bytes, of a run on "inputs" (as for
 * qs_interp_run).  The estimate is the constants of every graph plus the
 * largest sum of values live at once in the main graph, where each value
 * is freed after its last reader, as a run does.  While a node with
 * subgraphs runs, the peak of its largest subgraph is added: the larger
 * If branch, or a Loop or Scan body once.  Only values whose shapes are
 * known from the inputs, the declared types and value_info count, so
 * values of unknown shape count nothing.
 * NOTE: a Loop's scan outputs are kept for every iteration until the
 * loop ends, but the trip count is not known before the run, so they
 * count one iteration's worth and the estimate is low there.  Views
 * (Reshape, Identity ...) share their input's data but count as new
 * values, so it is high there.
 */
uint64_t qs_interp_estimate_peak(const struct qs_interp *interp,
                                 struct qs_rt_tensor *const *inputs);

/*
 * Run the main graph on "inputs" (qs_interp_n_inputs entries, borrowed)
 * and store a new reference to each graph output in "outputs"
 * (qs_interp_n_outputs entries; the caller unrefs them).  Before
 * running, the estimated peak is checked against the memory limit
 * (QS_INVALID, with the estimate).  A bad shape or value at run time
 * gives QS_INVALID naming the node and op; an unsupported type or
 * attribute value met at run time gives QS_UNSUPPORTED.  On failure
 * every output is NULL.
 */
enum qs_status qs_interp_run(struct qs_interp *interp, struct qs_rt_tensor *const *inputs,
                             struct qs_rt_tensor **outputs, struct qs_diag *diag);

/*
 * Types of every op the interpreter implements, for listings: "Add",
 * "Conv", ...; NULL-terminated, static.  The few ops outside the default
 * domain (the ai.onnx.preview.training optimizers) are listed by type
 * alone: use qs_interp_supports to ask about a domain.
 */
const char *const *qs_interp_op_names(void);

/* True when the interpreter implements "op_type" of "domain" ("" or "ai.onnx" for the default). */
int qs_interp_supports(const char *domain, const char *op_type);

#endif
