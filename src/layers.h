/*
 * Layers: the weights of a model and the nodes that read them.
 *
 * A weight is a floating-point tensor computable from constants alone:
 * an initializer, a sparse initializer or a Constant node's value, or the
 * output of Identity, Cast, Reshape, Transpose, Squeeze, Unsqueeze,
 * ConstantOfShape, Flatten or DequantizeLinear applied to such values.
 * Discovery folds these chains by shape only, and qs_layer_data_get
 * computes the float32 data when a caller requests it.  Integer constants (shapes, indices,
 * axes) are not weights, except the weight inputs of the quantized ops
 * QLinearConv, QLinearMatMul, MatMulInteger, ConvInteger and
 * com.microsoft.MatMulNBits, which are layers dequantized by their op's
 * scales and zero points.
 *
 * A layer is one weight and every node that reads it.  Its key is the
 * weight's scoped name: the scope of the graph that defines it ("" for
 * the main graph, "loop_1/body/" below) followed by the name of the value
 * the consumers read.  For W16 -> Cast -> W16_f32 -> MatMul the key is
 * "W16_f32" and the source tensor is W16, whose name qs_layers_find
 * accepts too.
 *
 * Which layers can be quantized:
 * - A layer is quantizable when at least one consumer reads it in a role
 *   of the axis table: Conv and ConvTranspose weight, Gemm A or B,
 *   MatMul A or B, Gather data, LSTM/GRU/RNN W and R, and the weight
 *   inputs of the quantized ops above.  That role gives its channel axis
 *   (one scale per index) and group axis (cut into blocks).
 * - Every other use (Conv and Gemm bias, BatchNormalization parameters,
 *   operands of Add, Mul, Div, Clip bounds, ...) makes an auxiliary
 *   layer: it has statistics but no trials, plans leave it alone, and
 *   budgets do not count it.  "not_quantizable" says which use it has.
 * - A quantizable layer that also has auxiliary uses takes its axes from
 *   its weight uses only.
 * - A constant-computable graph output that no node reads is an auxiliary
 *   layer without uses.
 * - Weight uses that disagree on the axes leave the layer per-tensor only
 *   (channel_axis and group_axis -1) with the reason in "axis_note".
 * - ConvTranspose with group > 1 keeps channel axis 1, whose scales are
 *   shared by the groups; "axis_note" says that one scale per output
 *   channel is not expressible.
 *
 * Batch normalization: a Conv weight read by exactly one Conv whose only
 * consumer is a BatchNormalization with constant scale and variance is
 * reported folded: each output channel m scaled by
 * scale[m] / sqrt(var[m] + epsilon).  QS_LAYER_NO_FOLD_BN gives the raw
 * weight.
 *
 * Thread safety: after qs_layers_build the object is read-only, and
 * qs_layer_data_get may run on several layers (or the same one) from
 * several threads at once.
 *
 * NOTE: a weight also read through a fold chain (W read by MatMul and by
 * Transpose -> Gemm) gives two layers that share data, and totals count
 * that data twice.
 */
#ifndef QS_LAYERS_H
#define QS_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"

/* Granularity of the scales of a stored quantized weight. */
enum qs_layer_granularity {
    QS_LAYER_PER_TENSOR,
    QS_LAYER_PER_AXIS,       /* one scale per index of "axis" */
    QS_LAYER_PER_BLOCK       /* blocks of "block_size" along "axis" */
};

/* The stored format of an already-quantized weight. */
struct qs_layer_quantized {
    const char *op;          /* "DequantizeLinear", "QLinearConv", "com.microsoft.MatMulNBits" */
    struct qs_node *node;    /* the node that dequantizes it */
    int dtype;               /* element type of the stored values (int8, uint4, fp8 ...) */
    int bits;                /* bits per stored value */
    enum qs_layer_granularity granularity;
    int axis;                /* PER_AXIS and PER_BLOCK: axis of the stored tensor */
    int64_t block_size;      /* PER_BLOCK only, else 0 */
    int has_scale;           /* 0 for MatMulInteger and ConvInteger (scale applied outside) */
    int has_zero_point;      /* 0: zero point 0 (or 2^(bits-1) for MatMulNBits) */
    uint64_t n_scales;       /* number of scales (1 for per tensor) */
    uint64_t stored_bytes;   /* packed values + scales + zero points as stored */
};

/* One consumer of a layer: a node input that reads the weight. */
struct qs_layer_use {
    struct qs_node *node;
    int input;               /* index among the node's inputs */
    const char *role;        /* "weight", "B", "A", "bias", "scale", "operand", ... (static) */
    int is_weight;           /* a role of the axis table */
    int channel_axis;        /* -1 when none */
    int group_axis;          /* -1 when none */
};

struct layers_fold;

struct qs_layer {
    size_t index;            /* position in qs_layers.items */
    const char *key;         /* scoped name, unique in the model */
    const char *name;        /* the value's name in its graph */
    struct qs_graph *graph;  /* graph that defines the value */
    struct qs_value *value;

    const struct qs_tensor *source;  /* tensor holding the data; NULL for ConstantOfShape */
    int stored_dtype;        /* element type as stored (source's, or the fill value's) */
    /* Fold ops from the source to the weight ("Cast", "DequantizeLinear > Reshape"), or "". */
    const char *chain;
    int overridable;         /* an initializer also listed as a graph input */

    int dtype;               /* element type the consumers read */
    int rank;
    const int64_t *dims;     /* of the float weight (MatMulNBits: [N, K]) */
    uint64_t count;

    size_t n_uses;
    struct qs_layer_use *uses;  /* in graph order */
    const char *ops;         /* distinct consumer op types, comma-separated ("MatMul,Gemm") */

    int quantizable;
    const char *not_quantizable;  /* when !quantizable: the use that makes it auxiliary */
    int channel_axis;        /* -1: per-tensor only */
    int group_axis;          /* -1: no groups */
    const char *axis_note;   /* reason for per-tensor only, or a caveat; NULL when none */

    struct qs_node *bn;      /* BatchNormalization folded into this Conv weight, or NULL */
    const struct qs_layer_quantized *quantized;  /* already-quantized weight, or NULL */
    const char *fault;       /* why the data cannot be computed, or NULL */

    /* Private: how the data is computed. */
    struct layers_fold *fold;
    struct layers_fold *bn_scale, *bn_var;
    float bn_epsilon;
};

struct qs_layers {
    struct qs_model *model;  /* borrowed */
    size_t count;
    struct qs_layer *items;
    size_t n_quantizable;
    uint64_t quantizable_params;  /* elements of quantizable layers */
    struct qs_layers_private *priv;
};

/*
 * Find the layers of "model".  Problems that make one layer's data
 * unusable (a DequantizeLinear whose scale does not fit its axis, a
 * MatMulNBits with inconsistent sizes) are added to "diag" naming the
 * node and the sizes: as QS_INVALID, or as warnings when "keep_going" is
 * set.  Such a weight is left out, or kept with a "fault" when its value
 * is known but its data is not.  Returns QS_OK and stores the layers in
 * "*out" (caller frees with qs_layers_free); the model must outlive them.
 */
enum qs_status qs_layers_build(struct qs_model *model, int keep_going, struct qs_diag *diag,
                               struct qs_layers **out);

/* Free the layers.  NULL is allowed. */
void qs_layers_free(struct qs_layers *layers);

/*
 * The layer with key "key", else the one whose source tensor is named
 * "key" when exactly one is, else NULL.
 */
const struct qs_layer *qs_layers_find(const struct qs_layers *layers, const char *key);

/*
 * True when "pattern" selects "layer": "op:TYPE" matches a consumer op
 * type (plain "Conv" or qualified "com.microsoft.MatMulNBits"), anything
 * else is an fnmatch(3) glob on the key in which '*' also matches '/'.
 */
int qs_layer_matches(const struct qs_layer *layer, const char *pattern);

/* True when "pattern" is a literal key (no glob characters, no "op:"). */
int qs_layer_pattern_is_literal(const char *pattern);

/* Flags for qs_layer_data_get. */
enum qs_layer_data_flags {
    QS_LAYER_NO_FOLD_BN = 1 << 0    /* the raw Conv weight, without BatchNormalization */
};

/*
 * A layer's float32 data in the layout statistics and trials need:
 * row-major "dims", viewed as [outer, channels, inner] around the channel
 * axis (channels 1 and inner 1 when per-tensor only).
 */
struct qs_layer_data {
    float *values;           /* "count" values, owned (qs_layer_data_done frees) */
    uint64_t count;
    int rank;
    const int64_t *dims;     /* borrowed from the layer */
    int channel_axis;        /* -1: none */
    int group_axis;          /* -1: none */
    uint64_t outer, channels, inner;
    int bn_folded;           /* the BatchNormalization scale was applied */
    uint64_t n_nan;          /* NaN values */
    uint64_t n_inf;          /* infinite values */
    uint64_t first_nonfinite;  /* flat index of the first NaN or Inf, when any */
};

/*
 * Compute "layer"'s data into "out".  NaN and Inf values are counted, and
 * a warning naming the layer key and the first flat index goes to "diag".
 * They stay in the data, and statistics skip them.  Returns QS_INVALID
 * with a line in "diag" for a faulty layer or unreadable data, and then
 * "out" owns no memory.
 */
enum qs_status qs_layer_data_get(const struct qs_layers *layers, const struct qs_layer *layer,
                                 unsigned flags, struct qs_diag *diag,
                                 struct qs_layer_data *out);

/* Free the data's values.  Safe on a zeroed struct and twice. */
void qs_layer_data_done(struct qs_layer_data *data);

/*
 * The stored format in words ("fp32", "fp16 via Cast", "int8 per axis 0
 * (QLinearConv)", "uint4 blocks of 32 along axis 1 (com.microsoft.MatMulNBits)")
 * written to "buf" of "size" bytes; returns "buf".
 */
const char *qs_layer_format(const struct qs_layer *layer, char *buf, size_t size);

/* The layer's shape as "[64, 3, 3, 3]" in "buf"; returns "buf". */
const char *qs_layer_shape(const struct qs_layer *layer, char *buf, size_t size);

/* Size of the group axis, or 0 when the layer has none. */
int64_t qs_layer_group_length(const struct qs_layer *layer);

#endif
