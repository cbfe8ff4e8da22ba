/*
 * The axis table: for each op that reads a weight, the role of each
 * input and, for weight roles, the channel axis (one scale per index)
 * and the group axis (cut into blocks).
 *
 *   consumer                    layout            channel   group
 *   Conv W                      [M, C/g, k...]    0         1
 *   ConvTranspose W             [C, M/g, k...]    1         0
 *   Gemm B transB=0 / 1         [K, N] / [N, K]   1 / 0     0 / 1
 *   Gemm A transA=0 / 1         [M, K] / [K, M]   0 / 1     1 / 0
 *   MatMul B                    [..., K, N]       last      second to last
 *   MatMul A                    [..., M, K]       second to last   last
 *   Gather data                 [V, D]            0         1
 *   LSTM, GRU, RNN W and R      [dirs, G*H, I|H]  1         2
 *
 * The quantized ops take the axes of the float op they stand for
 * (QLinearConv and ConvInteger as Conv, QLinearMatMul and MatMulInteger
 * as MatMul), and MatMulNBits reads its dequantized B as [N, K] with
 * channel axis 0 and group axis 1.
 */
#include "config.h"
#include "layers_internal.h"

#include <string.h>

static void
set_weight(struct qs_layer_use *use, const char *role, int channel, int group)
{
    use->role = role;
    use->is_weight = 1;
    use->channel_axis = channel;
    use->group_axis = group;
}

/* Axes of a matrix operand: "rows" is the output axis when it is the channel. */
static void
set_matmul_b(struct qs_layer_use *use, const char *role, int rank)
{
    if (rank >= 2)
        set_weight(use, role, rank - 1, rank - 2);
    else
        set_weight(use, role, -1, rank == 1 ? 0 : -1);
}

static void
set_matmul_a(struct qs_layer_use *use, const char *role, int rank)
{
    if (rank >= 2)
        set_weight(use, role, rank - 2, rank - 1);
    else
        set_weight(use, role, -1, rank == 1 ? 0 : -1);
}

static void
set_conv(struct qs_layer_use *use, int rank, int transposed)
{
    if (rank < 2)
        set_weight(use, "weight", rank == 1 ? 0 : -1, -1);
    else if (transposed)
        set_weight(use, "weight", 1, 0);
    else
        set_weight(use, "weight", 0, 1);
}

static void
set_gemm(const struct qs_node *node, int input, int rank, struct qs_layer_use *use)
{
    int trans_a = qs_node_attr_int(node, "transA", 0) != 0;
    int trans_b = qs_node_attr_int(node, "transB", 0) != 0;

    if (rank != 2) {
        set_weight(use, input == 0 ? "A" : "B", -1, -1);
        return;
    }
    if (input == 0)
        set_weight(use, "A", trans_a ? 1 : 0, trans_a ? 0 : 1);
    else
        set_weight(use, "B", trans_b ? 0 : 1, trans_b ? 1 : 0);
}

static void
set_recurrent(struct qs_layer_use *use, const char *role, int rank)
{
    if (rank == 3)
        set_weight(use, role, 1, 2);
    else
        set_weight(use, role, -1, -1);
}

/* Roles of the inputs that are not weights, for the "not quantizable" reason. */
static const char *
auxiliary_role(const struct qs_node *node, int input)
{
    static const char *const bn_roles[] = { "input", "scale", "bias", "mean", "variance" };

    if (layers_node_is(node, "Conv") || layers_node_is(node, "ConvTranspose")
        || layers_node_is(node, "Gemm"))
        return input == 2 ? "bias" : "input";
    if (layers_node_is(node, "BatchNormalization") && input < 5)
        return bn_roles[input];
    if (layers_node_is(node, "LayerNormalization") || layers_node_is(node, "InstanceNormalization")
        || layers_node_is(node, "GroupNormalization")) {
        if (input == 1)
            return "scale";
        return input == 2 ? "bias" : "input";
    }
    if (layers_node_is(node, "LSTM") || layers_node_is(node, "GRU") || layers_node_is(node, "RNN"))
        return input == 3 ? "bias" : "state";
    if (layers_node_is(node, "Clip"))
        return input == 1 ? "min" : "max";
    if (layers_node_is(node, "PRelu"))
        return "slope";
    if (layers_node_is(node, "Add") || layers_node_is(node, "Sub") || layers_node_is(node, "Mul")
        || layers_node_is(node, "Div") || layers_node_is(node, "Pow")
        || layers_node_is(node, "Max") || layers_node_is(node, "Min"))
        return "operand";
    if (layers_node_is(node, "QuantizeLinear") || layers_node_is(node, "DequantizeLinear"))
        return input == 1 ? "quantization scale" : "quantization input";
    return "input";
}

static int
node_is_microsoft(const struct qs_node *node, const char *op)
{
    return strcmp(node->domain, "com.microsoft") == 0 && strcmp(node->op_type, op) == 0;
}

/* The quantized ops: QLinearConv, QLinearMatMul, MatMulInteger, ConvInteger, MatMulNBits. */
static int
set_quantized(const struct qs_node *node, int input, int rank, struct qs_layer_use *use)
{
    if (!layers_is_quantized_weight_input(node, input))
        return 0;
    if (layers_node_is(node, "QLinearConv") || layers_node_is(node, "ConvInteger"))
        set_conv(use, rank, 0);
    else if (node_is_microsoft(node, "MatMulNBits"))
        set_weight(use, "B", 0, 1);
    else if (input == 0)
        set_matmul_a(use, "A", rank);
    else
        set_matmul_b(use, "B", rank);
    return 1;
}

void
layers_axes_for_use(const struct qs_node *node, int input, int rank, struct qs_layer_use *use)
{
    use->node = (struct qs_node *)node;
    use->input = input;
    use->role = NULL;
    use->is_weight = 0;
    use->channel_axis = -1;
    use->group_axis = -1;

    if (set_quantized(node, input, rank, use))
        return;
    if (layers_node_is(node, "Conv") && input == 1)
        set_conv(use, rank, 0);
    else if (layers_node_is(node, "ConvTranspose") && input == 1)
        set_conv(use, rank, 1);
    else if (layers_node_is(node, "Gemm") && input < 2)
        set_gemm(node, input, rank, use);
    else if (layers_node_is(node, "MatMul") && input == 1)
        set_matmul_b(use, "B", rank);
    else if (layers_node_is(node, "MatMul") && input == 0)
        set_matmul_a(use, "A", rank);
    else if (layers_node_is(node, "Gather") && input == 0)
        set_weight(use, "data", 0, rank >= 2 ? 1 : -1);
    else if ((layers_node_is(node, "LSTM") || layers_node_is(node, "GRU")
              || layers_node_is(node, "RNN")) && (input == 1 || input == 2))
        set_recurrent(use, input == 1 ? "W" : "R", rank);
    else
        use->role = auxiliary_role(node, input);
}
