/*
 * Private parts of the layer module shared by layers.c, layers_fold.c,
 * layers_axes.c and layers_quantized.c.
 *
 * A fold describes how a constant value is computed from stored tensors:
 * a small expression tree whose leaves are qs_tensor objects.  Discovery
 * builds it from shapes alone; layers_fold_read computes the float32
 * values when a layer's data is requested.
 */
#ifndef QS_LAYERS_INTERNAL_H
#define QS_LAYERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "layers.h"
#include "model.h"
#include "status.h"

/* Fold chains deeper than this are not followed (a guard against hostile graphs). */
#define LAYERS_MAX_FOLD_DEPTH 64

/* Shape and axes tensors read at discovery have at most this many entries. */
#define LAYERS_MAX_SHAPE_ENTRIES 1024

enum layers_fold_op {
    LAYERS_FOLD_TENSOR,      /* a stored constant tensor */
    /* Same elements in the same order, new dims: Identity, Reshape, Squeeze, Unsqueeze, Flatten. */
    LAYERS_FOLD_RESHAPE,
    LAYERS_FOLD_CAST,
    LAYERS_FOLD_TRANSPOSE,
    LAYERS_FOLD_FILL,        /* ConstantOfShape */
    LAYERS_FOLD_DEQUANTIZE,  /* (x - zero_point) * scale, per tensor, axis or block */
    LAYERS_FOLD_NBITS        /* com.microsoft.MatMulNBits B: bit-packed blocks along K */
};

struct layers_fold {
    enum layers_fold_op op;
    int dtype;               /* element type of the result */
    int rank;
    int64_t *dims;
    uint64_t count;
    struct qs_node *node;    /* the op that computes it, NULL for a tensor */
    const struct qs_tensor *tensor;   /* LAYERS_FOLD_TENSOR */
    struct layers_fold *input;        /* the data input of every other op */

    int saturate;            /* CAST to fp8 */
    int64_t *perm;           /* TRANSPOSE: output axis i reads input axis perm[i] */
    float fill;              /* FILL */

    struct layers_fold *scale;        /* DEQUANTIZE and NBITS; NULL: scale 1 */
    struct layers_fold *zero_point;   /* DEQUANTIZE and NBITS; NULL: default_zero */
    float default_zero;
    int axis;                /* DEQUANTIZE: axis of the scale (per axis and per block) */
    int64_t block_size;      /* DEQUANTIZE: 0 unless blocked; NBITS: block along K */
    int bits;                /* NBITS */
    int64_t nbits_n, nbits_k;
    int zero_point_packed;   /* NBITS: uint8 zero points packed like B */
};

/* A pointer-keyed map from values to their folds. */
struct layers_ptrmap {
    const void **keys;
    void **values;
    size_t capacity;         /* a power of two, or 0 */
    size_t count;
};

struct layers_ctx {
    struct qs_model *model;
    struct qs_arena *arena;
    struct qs_diag *diag;
    struct layers_ptrmap folds;      /* qs_value -> layers_fold, or a marker */
    int64_t opset;                   /* default-domain opset of the model */
    int depth;                       /* current fold recursion depth */
    int keep_going;                  /* faults are warnings */
};

/* Report a fault that makes one weight unusable: an error, or a warning with keep_going. */
void layers_fault(struct layers_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Private state of struct qs_layers. */
struct qs_layers_private {
    struct qs_arena arena;
    struct qs_strmap *by_key;
    struct qs_strmap *by_source;     /* source tensor name -> layer, or the ambiguity marker */
};

void *layers_ptrmap_get(const struct layers_ptrmap *map, const void *key);
void layers_ptrmap_put(struct layers_ptrmap *map, const void *key, void *value);
void layers_ptrmap_done(struct layers_ptrmap *map);

/*
 * The fold that computes "value", or NULL when it is not computable from
 * constants.  Memoized per value.  Faults found on the way (a
 * DequantizeLinear whose scale does not fit) go to ctx->diag.
 */
struct layers_fold *layers_fold_value(struct layers_ctx *ctx, struct qs_value *value);

/* True when "node" is one of the fold ops and its output 0 folds. */
int layers_node_folds(struct layers_ctx *ctx, struct qs_node *node);

/* A new fold of "op" over "input" with "rank" dims copied from "dims". */
struct layers_fold *layers_fold_new(struct layers_ctx *ctx, enum layers_fold_op op,
                                    struct qs_node *node, int rank, const int64_t *dims);

/*
 * Check and describe a dequantization of "x" by "scale" and
 * "zero_point" (either may be NULL) along "axis" with "block_size" (0:
 * per tensor or per axis, chosen by the scale's size).  Returns the fold,
 * or NULL after adding a line naming "node" to ctx->diag.
 */
struct layers_fold *layers_fold_dequantize(struct layers_ctx *ctx, struct qs_node *node,
                                           struct layers_fold *x, struct layers_fold *scale,
                                           struct layers_fold *zero_point, int axis,
                                           int64_t block_size);

/*
 * Compute the fold's "f->count" values into "out".  Returns QS_OK, or
 * QS_INVALID / QS_UNSUPPORTED with "*why" set to a static reason.
 */
enum qs_status layers_fold_read(const struct layers_fold *f, float *out, const char **why);

/* The first stored tensor under the fold's data inputs, or NULL. */
const struct qs_tensor *layers_fold_source(const struct layers_fold *f);

/* Names of the fold ops from the source up ("Cast > Reshape"), owned by the arena. */
const char *layers_fold_chain(struct layers_ctx *ctx, const struct layers_fold *f);

/* The dequantization (DEQUANTIZE or NBITS) closest to the weight in the chain, or NULL. */
const struct layers_fold *layers_fold_find_dequantize(const struct layers_fold *f);

/*
 * The role of input "input" of "node" for a weight of "rank" dims:
 * fills "use" (role, is_weight, axes).  Inputs that are not weights get
 * is_weight 0 and a role naming the use.
 */
void layers_axes_for_use(const struct qs_node *node, int input, int rank,
                         struct qs_layer_use *use);

/*
 * For a quantized op (QLinearConv, QLinearMatMul, MatMulInteger,
 * ConvInteger, com.microsoft.MatMulNBits) reading an integer weight at
 * input "input": the fold that dequantizes it, or NULL when the input is
 * not a weight of such an op or the weight cannot be dequantized (a line
 * in ctx->diag then explains why).
 */
struct layers_fold *layers_quantized_fold(struct layers_ctx *ctx, struct qs_node *node,
                                          int input, struct layers_fold *weight);

/* True when "node" is one of those quantized ops and "input" one of its weight inputs. */
int layers_is_quantized_weight_input(const struct qs_node *node, int input);

/* Describe the stored format of a dequantizing fold (arena-owned). */
struct qs_layer_quantized *layers_describe_quantized(struct layers_ctx *ctx,
                                                     const struct layers_fold *dq);

/* True for a node of the default ONNX domain with op type "op". */
int layers_node_is(const struct qs_node *node, const char *op);

/*
 * Read a small integer fold (shapes, axes) into "out", at most "max"
 * entries.  Returns the count, or -1.
 */
ptrdiff_t layers_fold_read_small_i64(const struct layers_fold *f, int64_t *out, size_t max);

#endif
