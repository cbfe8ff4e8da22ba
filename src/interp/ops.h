/*
 * The interpreter's op table: one X-macro list of every op it runs,
 * with the run function, the static check (NULL when every attribute
 * combination runs) and an op-specific code.  ops.c turns the list into
 * the table; each ops_*.c file implements one family.
 */
#ifndef QS_INTERP_OPS_H
#define QS_INTERP_OPS_H

struct interp_call;
struct qs_node;

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Codes for op_unary. */
enum interp_unary {
    UN_ABS, UN_NEG, UN_FLOOR, UN_CEIL, UN_ROUND, UN_SQRT, UN_RECIPROCAL, UN_EXP, UN_LOG,
    UN_TANH, UN_SIGMOID, UN_RELU, UN_ERF, UN_SIN, UN_COS, UN_TAN, UN_ASIN, UN_ACOS, UN_ATAN,
    UN_SINH, UN_COSH, UN_ASINH, UN_ACOSH, UN_ATANH, UN_SOFTPLUS, UN_SOFTSIGN, UN_SIGN,
    UN_HARDSIGMOID, UN_HARDSWISH, UN_LEAKYRELU, UN_ELU, UN_SELU, UN_CELU, UN_THRESHOLDEDRELU,
    UN_SHRINK, UN_ISNAN, UN_ISINF, UN_NOT, UN_GELU, UN_MISH
};

/* Codes for op_binary and op_variadic. */
enum interp_binary {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MOD, BIN_MAX, BIN_MIN, BIN_PRELU,
    BIN_EQUAL, BIN_LESS, BIN_GREATER, BIN_LESS_EQUAL, BIN_GREATER_EQUAL,
    BIN_AND, BIN_OR, BIN_XOR, BIN_BITSHIFT, BIN_BITWISE_AND, BIN_BITWISE_OR, BIN_BITWISE_XOR,
    BIN_SUM, BIN_MEAN
};

/* Codes for op_reduce. */
enum interp_reduce {
    RED_SUM, RED_MEAN, RED_MAX, RED_MIN, RED_PROD, RED_L1, RED_L2, RED_LOGSUM, RED_LOGSUMEXP,
    RED_SUMSQUARE
};

/* Codes for op_softmax. */
enum interp_softmax { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

/* Codes for op_pool. */
enum interp_pool_kind { POOL_MAX, POOL_AVERAGE, POOL_LP, POOL_GLOBAL_MAX, POOL_GLOBAL_AVERAGE,
                        POOL_GLOBAL_LP };

/* Codes for op_window. */
enum interp_window { WINDOW_HANN, WINDOW_HAMMING, WINDOW_BLACKMAN };

/* Codes for op_rnn. */
enum interp_rnn_kind { RNN_LSTM, RNN_GRU, RNN_SIMPLE };

/*
 * The op list: _(DOMAIN, NAME, RUN, CHECK, ARG).  Keep it sorted by name
 * within each family.
 */
#define INTERP_OPS(_) \
    /* ops_elementwise.c */ \
    _("", "Abs", op_unary, NULL, UN_ABS) \
    _("", "Acos", op_unary, NULL, UN_ACOS) \
    _("", "Acosh", op_unary, NULL, UN_ACOSH) \
    _("", "Add", op_binary, NULL, BIN_ADD) \
    _("", "And", op_binary, NULL, BIN_AND) \
    _("", "Asin", op_unary, NULL, UN_ASIN) \
    _("", "Asinh", op_unary, NULL, UN_ASINH) \
    _("", "Atan", op_unary, NULL, UN_ATAN) \
    _("", "Atanh", op_unary, NULL, UN_ATANH) \
    _("", "BitShift", op_binary, NULL, BIN_BITSHIFT) \
    _("", "BitwiseAnd", op_binary, NULL, BIN_BITWISE_AND) \
    _("", "BitwiseNot", op_unary, NULL, UN_NOT) \
    _("", "BitwiseOr", op_binary, NULL, BIN_BITWISE_OR) \
    _("", "BitwiseXor", op_binary, NULL, BIN_BITWISE_XOR) \
    _("", "Ceil", op_unary, NULL, UN_CEIL) \
    _("", "Celu", op_unary, NULL, UN_CELU) \
    _("", "Clip", op_clip, NULL, 0) \
    _("", "Cos", op_unary, NULL, UN_COS) \
    _("", "Cosh", op_unary, NULL, UN_COSH) \
    _("", "Div", op_binary, NULL, BIN_DIV) \
    _("", "Elu", op_unary, NULL, UN_ELU) \
    _("", "Equal", op_binary, NULL, BIN_EQUAL) \
    _("", "Erf", op_unary, NULL, UN_ERF) \
    _("", "Exp", op_unary, NULL, UN_EXP) \
    _("", "Floor", op_unary, NULL, UN_FLOOR) \
    _("", "Gelu", op_unary, NULL, UN_GELU) \
    _("", "Greater", op_binary, NULL, BIN_GREATER) \
    _("", "GreaterOrEqual", op_binary, NULL, BIN_GREATER_EQUAL) \
    _("", "HardSigmoid", op_unary, NULL, UN_HARDSIGMOID) \
    _("", "HardSwish", op_unary, NULL, UN_HARDSWISH) \
    _("", "IsInf", op_unary, NULL, UN_ISINF) \
    _("", "IsNaN", op_unary, NULL, UN_ISNAN) \
    _("", "LeakyRelu", op_unary, NULL, UN_LEAKYRELU) \
    _("", "Less", op_binary, NULL, BIN_LESS) \
    _("", "LessOrEqual", op_binary, NULL, BIN_LESS_EQUAL) \
    _("", "Log", op_unary, NULL, UN_LOG) \
    _("", "Max", op_variadic, NULL, BIN_MAX) \
    _("", "Mean", op_variadic, NULL, BIN_MEAN) \
    _("", "Min", op_variadic, NULL, BIN_MIN) \
    _("", "Mish", op_unary, NULL, UN_MISH) \
    _("", "Mod", op_binary, NULL, BIN_MOD) \
    _("", "Mul", op_binary, NULL, BIN_MUL) \
    _("", "Neg", op_unary, NULL, UN_NEG) \
    _("", "Not", op_unary, NULL, UN_NOT) \
    _("", "Or", op_binary, NULL, BIN_OR) \
    _("", "Pow", op_binary, NULL, BIN_POW) \
    _("", "PRelu", op_binary, NULL, BIN_PRELU) \
    _("", "Reciprocal", op_unary, NULL, UN_RECIPROCAL) \
    _("", "Relu", op_unary, NULL, UN_RELU) \
    _("", "Round", op_unary, NULL, UN_ROUND) \
    _("", "Selu", op_unary, NULL, UN_SELU) \
    _("", "Shrink", op_unary, NULL, UN_SHRINK) \
    _("", "Sigmoid", op_unary, NULL, UN_SIGMOID) \
    _("", "Sign", op_unary, NULL, UN_SIGN) \
    _("", "Sin", op_unary, NULL, UN_SIN) \
    _("", "Sinh", op_unary, NULL, UN_SINH) \
    _("", "Softplus", op_unary, NULL, UN_SOFTPLUS) \
    _("", "Softsign", op_unary, NULL, UN_SOFTSIGN) \
    _("", "Sqrt", op_unary, NULL, UN_SQRT) \
    _("", "Sub", op_binary, NULL, BIN_SUB) \
    _("", "Sum", op_variadic, NULL, BIN_SUM) \
    _("", "Tan", op_unary, NULL, UN_TAN) \
    _("", "Tanh", op_unary, NULL, UN_TANH) \
    _("", "ThresholdedRelu", op_unary, NULL, UN_THRESHOLDEDRELU) \
    _("", "Where", op_where, NULL, 0) \
    _("", "Xor", op_binary, NULL, BIN_XOR) \
    /* ops_shape.c */ \
    _("", "Concat", op_concat, NULL, 0) \
    _("", "DepthToSpace", op_depth_to_space, NULL, 0) \
    _("", "Expand", op_expand, NULL, 0) \
    _("", "Flatten", op_flatten, NULL, 0) \
    _("", "Identity", op_identity, NULL, 0) \
    _("", "Pad", op_pad, NULL, 0) \
    _("", "Reshape", op_reshape, NULL, 0) \
    _("", "Shape", op_shape, NULL, 0) \
    _("", "Size", op_size, NULL, 0) \
    _("", "Slice", op_slice, NULL, 0) \
    _("", "SpaceToDepth", op_space_to_depth, NULL, 0) \
    _("", "Split", op_split, NULL, 0) \
    _("", "Squeeze", op_squeeze, NULL, 0) \
    _("", "Tile", op_tile, NULL, 0) \
    _("", "Transpose", op_transpose, NULL, 0) \
    _("", "Unsqueeze", op_unsqueeze, NULL, 0) \
    /* ops_data.c */ \
    _("", "Cast", op_cast, check_cast, 0) \
    _("", "CastLike", op_cast, check_cast, 1) \
    _("", "Constant", op_constant, check_constant, 0) \
    _("", "ConstantOfShape", op_constant_of_shape, NULL, 0) \
    _("", "Dropout", op_dropout, NULL, 0) \
    _("", "EyeLike", op_eye_like, NULL, 0) \
    _("", "Range", op_range, NULL, 0) \
    /* ops_gather.c */ \
    _("", "Compress", op_compress, NULL, 0) \
    _("", "Gather", op_gather, NULL, 0) \
    _("", "GatherElements", op_gather_elements, NULL, 0) \
    _("", "GatherND", op_gather_nd, NULL, 0) \
    _("", "NonZero", op_nonzero, NULL, 0) \
    _("", "OneHot", op_one_hot, NULL, 0) \
    _("", "ReverseSequence", op_reverse_sequence, NULL, 0) \
    _("", "Scatter", op_scatter_elements, NULL, 0) \
    _("", "ScatterElements", op_scatter_elements, NULL, 0) \
    _("", "ScatterND", op_scatter_nd, NULL, 0) \
    _("", "Trilu", op_trilu, NULL, 0) \
    /* ops_gemm.c */ \
    _("", "Gemm", op_gemm, NULL, 0) \
    _("", "MatMul", op_matmul, NULL, 0) \
    /* ops_conv.c */ \
    _("", "Conv", op_conv, NULL, 0) \
    _("", "ConvTranspose", op_conv_transpose, NULL, 0) \
    /* ops_pool.c */ \
    _("", "AveragePool", op_pool, NULL, POOL_AVERAGE) \
    _("", "GlobalAveragePool", op_pool, NULL, POOL_GLOBAL_AVERAGE) \
    _("", "GlobalLpPool", op_pool, NULL, POOL_GLOBAL_LP) \
    _("", "GlobalMaxPool", op_pool, NULL, POOL_GLOBAL_MAX) \
    _("", "LpPool", op_pool, NULL, POOL_LP) \
    _("", "MaxPool", op_pool, NULL, POOL_MAX) \
    /* ops_norm.c */ \
    _("", "BatchNormalization", op_batch_norm, NULL, 0) \
    _("", "InstanceNormalization", op_instance_norm, NULL, 0) \
    _("", "LayerNormalization", op_layer_norm, NULL, 0) \
    _("", "LpNormalization", op_lp_normalization, NULL, 0) \
    _("", "LRN", op_lrn, NULL, 0) \
    /* ops_reduce.c */ \
    _("", "ArgMax", op_argmax, NULL, 1) \
    _("", "ArgMin", op_argmax, NULL, 0) \
    _("", "CumSum", op_cumsum, NULL, 0) \
    _("", "Hardmax", op_softmax, NULL, SM_HARDMAX) \
    _("", "LogSoftmax", op_softmax, NULL, SM_LOGSOFTMAX) \
    _("", "MeanVarianceNormalization", op_mean_variance_normalization, NULL, 0) \
    _("", "ReduceL1", op_reduce, NULL, RED_L1) \
    _("", "ReduceL2", op_reduce, NULL, RED_L2) \
    _("", "ReduceLogSum", op_reduce, NULL, RED_LOGSUM) \
    _("", "ReduceLogSumExp", op_reduce, NULL, RED_LOGSUMEXP) \
    _("", "ReduceMax", op_reduce, NULL, RED_MAX) \
    _("", "ReduceMean", op_reduce, NULL, RED_MEAN) \
    _("", "ReduceMin", op_reduce, NULL, RED_MIN) \
    _("", "ReduceProd", op_reduce, NULL, RED_PROD) \
    _("", "ReduceSum", op_reduce, NULL, RED_SUM) \
    _("", "ReduceSumSquare", op_reduce, NULL, RED_SUMSQUARE) \
    _("", "Softmax", op_softmax, NULL, SM_SOFTMAX) \
    _("", "TopK", op_topk, NULL, 0) \
    /* ops_resize.c */ \
    _("", "Resize", op_resize, check_resize, 0) \
    _("", "Upsample", op_resize, check_resize, 0) \
    /* ops_rnn.c */ \
    _("", "GRU", op_rnn, check_rnn, RNN_GRU) \
    _("", "LSTM", op_rnn, check_rnn, RNN_LSTM) \
    _("", "RNN", op_rnn, check_rnn, RNN_SIMPLE) \
    /* ops_control.c */ \
    _("", "If", op_if, NULL, 0) \
    _("", "Loop", op_loop, NULL, 0) \
    _("", "Scan", op_scan, NULL, 0) \
    /* ops_quant.c */ \
    _("", "ConvInteger", op_conv_integer, NULL, 0) \
    _("", "DequantizeLinear", op_dequantize_linear, NULL, 0) \
    _("", "DynamicQuantizeLinear", op_dynamic_quantize_linear, NULL, 0) \
    _("", "MatMulInteger", op_matmul_integer, NULL, 0) \
    _("", "QLinearConv", op_qlinear_conv, NULL, 0) \
    _("", "QLinearMatMul", op_qlinear_matmul, NULL, 0) \
    _("", "QuantizeLinear", op_quantize_linear, NULL, 0) \
    _("com.microsoft", "DequantizeLinear", op_dequantize_linear, NULL, 0) \
    _("com.microsoft", "QuantizeLinear", op_quantize_linear, NULL, 0) \
    /* ops_loss.c */ \
    _("", "NegativeLogLikelihoodLoss", op_nll_loss, check_loss, 0) \
    _("", "SoftmaxCrossEntropyLoss", op_softmax_cross_entropy, check_loss, 0) \
    /* ops_misc.c */ \
    _("", "Det", op_det, NULL, 0) \
    _("", "Einsum", op_einsum, NULL, 0) \
    _("", "TfIdfVectorizer", op_tfidf_vectorizer, check_tfidf, 0) \
    _("", "Unique", op_unique, NULL, 0) \
    /* ops_signal.c */ \
    _("", "BlackmanWindow", op_window, NULL, WINDOW_BLACKMAN) \
    _("", "DFT", op_dft, NULL, 0) \
    _("", "HammingWindow", op_window, NULL, WINDOW_HAMMING) \
    _("", "HannWindow", op_window, NULL, WINDOW_HANN) \
    _("", "MelWeightMatrix", op_mel_weight_matrix, NULL, 0) \
    _("", "STFT", op_stft, NULL, 0) \
    /* ops_vision.c */ \
    _("", "GridSample", op_grid_sample, check_grid_sample, 0) \
    _("", "MaxUnpool", op_max_unpool, NULL, 0) \
    _("", "NonMaxSuppression", op_nonmax_suppression, NULL, 0) \
    _("", "RoiAlign", op_roi_align, NULL, 0) \
    /* ops_training.c */ \
    _("ai.onnx.preview.training", "Adagrad", op_adagrad, NULL, 0) \
    _("ai.onnx.preview.training", "Adam", op_adam, NULL, 0) \
    _("ai.onnx.preview.training", "Momentum", op_momentum, NULL, 0)

/* Prototypes of every run and check function named in the list. */
#define INTERP_OP_DECLARE(domain, name, run, check, arg) \
    enum qs_status run(struct interp_call *call);
INTERP_OPS(INTERP_OP_DECLARE)
#undef INTERP_OP_DECLARE

/* Static checks named in the list: NULL when the node runs, else the reason. */
const char *check_cast(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_grid_sample(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_tfidf(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_loss(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_constant(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_resize(const struct qs_node *node, int64_t opset, char *buf, size_t size);
const char *check_rnn(const struct qs_node *node, int64_t opset, char *buf, size_t size);

#endif
