/*
 * Already-quantized weights: the weight inputs of QLinearConv,
 * QLinearMatMul, MatMulInteger, ConvInteger and com.microsoft.MatMulNBits,
 * and the description of every stored quantized format (those and
 * DequantizeLinear).
 */
#include "config.h"
#include "layers_internal.h"

#include <stdio.h>
#include <string.h>

#include "dtype.h"

static int
is_microsoft(const struct qs_node *node, const char *op)
{
    return strcmp(node->domain, "com.microsoft") == 0 && strcmp(node->op_type, op) == 0;
}

int
layers_is_quantized_weight_input(const struct qs_node *node, int input)
{
    if (layers_node_is(node, "QLinearConv"))
        return input == 3;
    if (layers_node_is(node, "QLinearMatMul"))
        return input == 0 || input == 3;
    if (layers_node_is(node, "MatMulInteger"))
        return input == 0 || input == 1;
    if (layers_node_is(node, "ConvInteger"))
        return input == 1;
    if (is_microsoft(node, "MatMulNBits"))
        return input == 1;
    return 0;
}

/*
 * An optional constant parameter input: returns 1 with "*out" set (NULL
 * when the input is absent), or 0 after a warning when it is present but
 * not a constant.
 */
static int
parameter_input(struct layers_ctx *ctx, struct qs_node *node, size_t input, const char *what,
                struct layers_fold **out)
{
    *out = NULL;
    if (input >= node->n_inputs || !node->inputs[input])
        return 1;
    *out = layers_fold_value(ctx, node->inputs[input]);
    if (*out)
        return 1;
    qs_diag_warn(ctx->diag, ctx->model->path,
                 "%s '%s': the %s is not a constant, so its weight is not analysed",
                 node->op_type, node->label, what);
    return 0;
}

/* Weight dequantized by scale input "scale_at" and zero point input "zero_at" along "axis". */
static struct layers_fold *
dequantize_by_inputs(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *weight,
                     int scale_at, int zero_at, int axis)
{
    struct layers_fold *scale = NULL;
    struct layers_fold *zero_point = NULL;

    if (scale_at >= 0 && !parameter_input(ctx, node, (size_t)scale_at, "weight scale", &scale))
        return NULL;
    if (!parameter_input(ctx, node, (size_t)zero_at, "weight zero point", &zero_point))
        return NULL;
    if (scale_at >= 0 && !scale) {
        layers_fault(ctx,
                     "%s '%s': the weight scale input is missing", node->op_type, node->label);
        return NULL;
    }
    if (axis < 0)
        axis = 0;
    return layers_fold_dequantize(ctx, node, weight, scale, zero_point, axis, 0);
}

static int
nbits_check(struct layers_ctx *ctx, struct qs_node *node, const struct layers_fold *b,
            int64_t n, int64_t k, int64_t bits, int64_t block_size)
{
    int64_t n_blocks, blob;

    if (n <= 0 || k <= 0 || bits < 2 || bits > 8 || block_size < 16
        || (block_size & (block_size - 1)) != 0 || n > INT32_MAX || k > INT32_MAX) {
        layers_fault(ctx,
                     "MatMulNBits '%s': attributes K=%lld N=%lld bits=%lld block_size=%lld are "
                     "invalid (K and N positive, bits 2 to 8, block_size a power of two from 16)",
                     node->label, (long long)k, (long long)n, (long long)bits,
                     (long long)block_size);
        return 0;
    }
    n_blocks = (k + block_size - 1) / block_size;
    blob = block_size * bits / 8;
    if (b->rank != 3 || b->dims[0] != n || b->dims[1] != n_blocks || b->dims[2] != blob) {
        layers_fault(ctx,
                     "MatMulNBits '%s': B must have shape [%lld, %lld, %lld] for K=%lld N=%lld "
                     "bits=%lld block_size=%lld", node->label, (long long)n, (long long)n_blocks,
                     (long long)blob, (long long)k, (long long)n, (long long)bits,
                     (long long)block_size);
        return 0;
    }
    return 1;
}

static int
nbits_check_params(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *f,
                   uint64_t n_blocks)
{
    uint64_t n = (uint64_t)f->nbits_n;
    uint64_t packed_row = (n_blocks * (uint64_t)f->bits + 7) / 8;

    if (!f->scale || f->scale->count != n * n_blocks
        || !qs_dtype_is_float((enum qs_dtype)f->scale->dtype)) {
        layers_fault(ctx,
                     "MatMulNBits '%s': scales must be %llu float values (N x blocks)",
                     node->label, (unsigned long long)(n * n_blocks));
        return 0;
    }
    if (!f->zero_point)
        return 1;
    f->zero_point_packed = !qs_dtype_is_float((enum qs_dtype)f->zero_point->dtype);
    if (f->zero_point->count == (f->zero_point_packed ? n * packed_row : n * n_blocks))
        return 1;
    layers_fault(ctx,
                 "MatMulNBits '%s': zero_points has %llu values, expected %llu",
                 node->label, (unsigned long long)f->zero_point->count,
                 (unsigned long long)(f->zero_point_packed ? n * packed_row : n * n_blocks));
    return 0;
}

static struct layers_fold *
nbits_fold(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *b)
{
    int64_t k = qs_node_attr_int(node, "K", 0);
    int64_t n = qs_node_attr_int(node, "N", 0);
    int64_t bits = qs_node_attr_int(node, "bits", 4);
    int64_t block_size = qs_node_attr_int(node, "block_size", 0);
    int64_t dims[2] = { n, k };
    struct layers_fold *f;

    if (!nbits_check(ctx, node, b, n, k, bits, block_size))
        return NULL;
    if (node->n_inputs > 4 && node->inputs[4]) {
        qs_diag_warn(ctx->diag, ctx->model->path,
                     "MatMulNBits '%s' has a g_idx input, which qscope does not read; "
                     "its weight is not analysed", node->label);
        return NULL;
    }
    f = layers_fold_new(ctx, LAYERS_FOLD_NBITS, node, 2, dims);
    if (!f)
        return NULL;
    f->input = b;
    f->bits = (int)bits;
    f->block_size = block_size;
    f->nbits_n = n;
    f->nbits_k = k;
    f->default_zero = (float)(1 << (bits - 1));
    if (!parameter_input(ctx, node, 2, "scale", &f->scale)
        || !parameter_input(ctx, node, 3, "zero point", &f->zero_point))
        return NULL;
    if (!nbits_check_params(ctx, node, f, (uint64_t)((k + block_size - 1) / block_size)))
        return NULL;
    f->dtype = f->scale->dtype;
    return f;
}

struct layers_fold *
layers_quantized_fold(struct layers_ctx *ctx, struct qs_node *node, int input,
                      struct layers_fold *weight)
{
    int last = weight->rank - 1;

    if (!layers_is_quantized_weight_input(node, input))
        return NULL;
    if (layers_node_is(node, "QLinearConv"))
        return dequantize_by_inputs(ctx, node, weight, 4, 5, 0);
    if (layers_node_is(node, "ConvInteger"))
        return dequantize_by_inputs(ctx, node, weight, -1, 3, 0);
    if (layers_node_is(node, "QLinearMatMul"))
        return input == 0 ? dequantize_by_inputs(ctx, node, weight, 1, 2, last - 1)
                          : dequantize_by_inputs(ctx, node, weight, 4, 5, last);
    if (layers_node_is(node, "MatMulInteger"))
        return input == 0 ? dequantize_by_inputs(ctx, node, weight, -1, 2, last - 1)
                          : dequantize_by_inputs(ctx, node, weight, -1, 3, last);
    return nbits_fold(ctx, node, weight);
}

static uint64_t
param_bytes(const struct layers_fold *f)
{
    uint64_t bytes = 0;

    if (f && qs_dtype_packed_size((enum qs_dtype)f->dtype, f->count, &bytes) != 0)
        return 0;
    return bytes;
}

struct qs_layer_quantized *
layers_describe_quantized(struct layers_ctx *ctx, const struct layers_fold *dq)
{
    struct qs_layer_quantized *q = qs_arena_calloc(ctx->arena, 1, sizeof(*q));
    char op[128];
    const struct layers_fold *x = dq->input;

    q->op = qs_arena_strdup(ctx->arena, qs_node_qualified_op(dq->node, op, sizeof(op)));
    q->node = dq->node;
    q->has_scale = dq->scale != NULL;
    q->has_zero_point = dq->zero_point != NULL;
    q->n_scales = dq->scale ? dq->scale->count : (dq->zero_point ? dq->zero_point->count : 1);
    q->stored_bytes = param_bytes(x) + param_bytes(dq->scale) + param_bytes(dq->zero_point);
    if (dq->op == LAYERS_FOLD_NBITS) {
        /* Widths without an ONNX element type are shown as "N-bit". */
        q->dtype = QS_DT_UNDEFINED;
        if (dq->bits == 4)
            q->dtype = QS_DT_UINT4;
        else if (dq->bits == 8)
            q->dtype = QS_DT_UINT8;
        q->bits = dq->bits;
        q->granularity = QS_LAYER_PER_BLOCK;
        q->axis = 1;
        q->block_size = dq->block_size;
        return q;
    }
    q->dtype = x->dtype;
    q->bits = qs_dtype_bits((enum qs_dtype)x->dtype);
    q->axis = dq->axis;
    q->block_size = dq->block_size;
    if (dq->axis < 0)
        q->granularity = QS_LAYER_PER_TENSOR;
    else
        q->granularity = dq->block_size > 0 ? QS_LAYER_PER_BLOCK : QS_LAYER_PER_AXIS;
    return q;
}
