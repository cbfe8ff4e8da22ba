/*
 * make_samples: write qscope's bundled sample models and their inputs.
 *
 *     make_samples DIR
 *
 * writes DIR/tiny_cnn.onnx, DIR/tiny_transformer.onnx, DIR/tiny_if.onnx
 * and DIR/MODEL/test_data_set_N/input_0.pb.  The output is committed in
 * samples/ and must come out byte for byte the same on every run, with
 * gcc or clang, so value generation follows three rules:
 *
 * - Random numbers come from splitmix64, seeded from each tensor's name,
 *   so changing one tensor does not perturb the others.
 * - Only correctly rounded IEEE operations (+, -, *, /, sqrt, conversions)
 *   are used, never libm transcendentals: normals are Irwin-Hall sums of 12
 *   uniforms, and log-uniform factors are integer powers of 10^(-1/32).
 *   The file is compiled with -ffp-contract=off so that no FMA changes
 *   a rounding.
 * - Values are computed in double and rounded to float once.
 *
 * samples/README.md lists each model's layers and weight peculiarities.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "onnx.pb-c.h"
#include "status.h"

#define SAMPLES_IR_VERSION 8
#define SAMPLES_OPSET 17
#define SAMPLES_PRODUCER "qscope-samples"
/* Version of this generator's output, bumped when any sample changes. */
#define SAMPLES_PRODUCER_VERSION "1"

/* Fixed capacities: the samples are small and known in advance. */
#define GRAPH_MAX_ITEMS 64
#define NODE_MAX_ATTRS 8

/* 10^(-1/32) rounded to double, so that its 64th power is about 0.01. */
#define LOG_STEP 0x1.dc73f044bae55p-1
/* Log-uniform factor ranges, in LOG_STEP powers: [0.01, 1] and [0.1, 1]. */
#define STEPS_100X 64
#define STEPS_10X 32

/* Every allocation of one model, freed together. */
struct arena {
    void **blocks;
    size_t count;
    size_t cap;
};

/* A graph under construction, with room for GRAPH_MAX_ITEMS of each item. */
struct graph_builder {
    struct arena *arena;
    Onnx__GraphProto *graph;
};

/* splitmix64 state. */
struct rng {
    uint64_t state;
};

static void *
arena_alloc(struct arena *arena, size_t count, size_t size)
{
    void *block = qs_calloc(count, size);

    if (arena->count == arena->cap) {
        arena->cap = arena->cap ? arena->cap * 2 : 256;
        arena->blocks = qs_reallocarray(arena->blocks, arena->cap, sizeof(*arena->blocks));
    }
    arena->blocks[arena->count++] = block;
    return block;
}

static char *
arena_strdup(struct arena *arena, const char *text)
{
    size_t len = strlen(text);
    char *copy = arena_alloc(arena, len + 1, 1);

    memcpy(copy, text, len);
    return copy;
}

static void
arena_done(struct arena *arena)
{
    for (size_t i = 0; i < arena->count; i++)
        free(arena->blocks[i]);
    free(arena->blocks);
    memset(arena, 0, sizeof(*arena));
}

/* --- Deterministic random numbers ------------------------------------- */

static uint64_t
rng_next(struct rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A generator seeded with the 64-bit FNV-1a hash of "name". */
static struct rng
rng_for(const char *name)
{
    struct rng rng = { 0xcbf29ce484222325u };

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        rng.state = (rng.state ^ *p) * 0x100000001b3u;
    return rng;
}

/* Uniform in [0, 1), a multiple of 2^-53, exact in double. */
static double
rng_uniform(struct rng *rng)
{
    return (double)(rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Approximately standard normal: the Irwin-Hall sum of 12 uniforms minus
 * 6 has mean 0, variance 1 and is bounded by 6 in magnitude. */
static double
rng_normal(struct rng *rng)
{
    double sum = 0.0;

    for (int i = 0; i < 12; i++)
        sum += rng_uniform(rng);
    return sum - 6.0;
}

/* LOG_STEP^k for k uniform in [0, "steps"]: log-uniform on a grid. */
static double
rng_log_uniform(struct rng *rng, unsigned steps)
{
    unsigned k = (unsigned)(rng_next(rng) % (steps + 1u));
    double factor = 1.0;

    while (k-- > 0)
        factor *= LOG_STEP;
    return factor;
}

/* --- Weight values ---------------------------------------------------- */

static double *
values_normal(struct arena *arena, struct rng *rng, size_t count, double mean, double std)
{
    double *values = arena_alloc(arena, count, sizeof(*values));

    for (size_t i = 0; i < count; i++)
        values[i] = mean + std * rng_normal(rng);
    return values;
}

static double *
values_log_uniform(struct arena *arena, struct rng *rng, size_t count, unsigned steps)
{
    double *values = arena_alloc(arena, count, sizeof(*values));

    for (size_t i = 0; i < count; i++)
        values[i] = rng_log_uniform(rng, steps);
    return values;
}

/*
 * Multiply each channel of "values" by its factor, viewing the tensor as
 * [outer, channels, inner].  A Conv weight [M, C, k, k] is outer 1 and
 * inner C*k*k, and a MatMul weight [K, N] is outer K and inner 1.
 */
static void
scale_channels(double *values, size_t outer, size_t channels, size_t inner,
               const double *factors)
{
    for (size_t o = 0; o < outer; o++)
        for (size_t c = 0; c < channels; c++)
            for (size_t i = 0; i < inner; i++)
                values[(o * channels + c) * inner + i] *= factors[c];
}

/* --- Protocol buffer construction -------------------------------------- */

static void
put_le32(uint8_t *out, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static void
put_le64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static size_t
dims_count(size_t rank, const int64_t *dims)
{
    size_t count = 1;

    for (size_t i = 0; i < rank; i++)
        count *= (size_t)dims[i];
    return count;
}

static Onnx__TensorProto *
tensor_new(struct arena *arena, const char *name, int32_t data_type,
           size_t rank, const int64_t *dims, size_t data_size)
{
    Onnx__TensorProto *tensor = arena_alloc(arena, 1, sizeof(*tensor));

    onnx__tensor_proto__init(tensor);
    tensor->name = arena_strdup(arena, name);
    tensor->has_data_type = 1;
    tensor->data_type = data_type;
    tensor->n_dims = rank;
    tensor->dims = arena_alloc(arena, rank, sizeof(*tensor->dims));
    /* A scalar has rank 0 and may pass NULL "dims". */
    if (rank > 0)
        memcpy(tensor->dims, dims, rank * sizeof(*dims));
    tensor->has_raw_data = 1;
    tensor->raw_data.len = data_size;
    tensor->raw_data.data = arena_alloc(arena, data_size, 1);
    return tensor;
}

/* A float tensor holding "values" rounded to float, little-endian. */
static Onnx__TensorProto *
tensor_float(struct arena *arena, const char *name, size_t rank, const int64_t *dims,
             const double *values)
{
    size_t count = dims_count(rank, dims);
    Onnx__TensorProto *tensor = tensor_new(arena, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                                           rank, dims, count * 4);

    for (size_t i = 0; i < count; i++) {
        float value = (float)values[i];
        uint32_t bits;

        memcpy(&bits, &value, sizeof(bits));
        put_le32(tensor->raw_data.data + 4 * i, bits);
    }
    return tensor;
}

static Onnx__TensorProto *
tensor_int64(struct arena *arena, const char *name, size_t count, const int64_t *values)
{
    int64_t dims[1] = { (int64_t)count };
    Onnx__TensorProto *tensor = tensor_new(arena, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
                                           1, dims, count * 8);

    for (size_t i = 0; i < count; i++)
        put_le64(tensor->raw_data.data + 8 * i, (uint64_t)values[i]);
    return tensor;
}

static Onnx__ValueInfoProto *
value_info_new(struct arena *arena, const char *name, int32_t elem_type,
               size_t rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *info = arena_alloc(arena, 1, sizeof(*info));
    Onnx__TypeProto *type = arena_alloc(arena, 1, sizeof(*type));
    Onnx__TypeProto__Tensor *tensor_type = arena_alloc(arena, 1, sizeof(*tensor_type));
    Onnx__TensorShapeProto *shape = arena_alloc(arena, 1, sizeof(*shape));

    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = rank;
    shape->dim = arena_alloc(arena, rank, sizeof(*shape->dim));
    for (size_t i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *dim = arena_alloc(arena, 1, sizeof(*dim));

        onnx__tensor_shape_proto__dimension__init(dim);
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dim->dim_value = dims[i];
        shape->dim[i] = dim;
    }

    onnx__type_proto__tensor__init(tensor_type);
    tensor_type->has_elem_type = 1;
    tensor_type->elem_type = elem_type;
    tensor_type->shape = shape;
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor_type;
    onnx__value_info_proto__init(info);
    info->name = arena_strdup(arena, name);
    info->type = type;
    return info;
}

static void
check_capacity(size_t count, size_t cap, const char *what)
{
    if (count >= cap)
        qs_die("make_samples: too many %s for the fixed capacity %zu", what, cap);
}

static struct graph_builder
graph_new(struct arena *arena, const char *name)
{
    struct graph_builder builder = { arena, arena_alloc(arena, 1, sizeof(Onnx__GraphProto)) };
    Onnx__GraphProto *graph = builder.graph;

    onnx__graph_proto__init(graph);
    graph->name = arena_strdup(arena, name);
    graph->node = arena_alloc(arena, GRAPH_MAX_ITEMS, sizeof(*graph->node));
    graph->initializer = arena_alloc(arena, GRAPH_MAX_ITEMS, sizeof(*graph->initializer));
    graph->input = arena_alloc(arena, GRAPH_MAX_ITEMS, sizeof(*graph->input));
    graph->output = arena_alloc(arena, GRAPH_MAX_ITEMS, sizeof(*graph->output));
    return builder;
}

static void
graph_add_initializer(struct graph_builder *builder, Onnx__TensorProto *tensor)
{
    Onnx__GraphProto *graph = builder->graph;

    check_capacity(graph->n_initializer, GRAPH_MAX_ITEMS, "initializers");
    graph->initializer[graph->n_initializer++] = tensor;
}

/* Add a float initializer with values from "values". */
static void
graph_add_float(struct graph_builder *builder, const char *name, size_t rank,
                const int64_t *dims, const double *values)
{
    graph_add_initializer(builder, tensor_float(builder->arena, name, rank, dims, values));
}

/* Add a float scalar (rank 0) initializer. */
static void
graph_add_scalar(struct graph_builder *builder, const char *name, double value)
{
    graph_add_float(builder, name, 0, NULL, &value);
}

static void
graph_add_input(struct graph_builder *builder, const char *name, int32_t elem_type,
                size_t rank, const int64_t *dims)
{
    Onnx__GraphProto *graph = builder->graph;

    check_capacity(graph->n_input, GRAPH_MAX_ITEMS, "graph inputs");
    graph->input[graph->n_input++] = value_info_new(builder->arena, name, elem_type, rank, dims);
}

static void
graph_add_output(struct graph_builder *builder, const char *name, int32_t elem_type,
                 size_t rank, const int64_t *dims)
{
    Onnx__GraphProto *graph = builder->graph;

    check_capacity(graph->n_output, GRAPH_MAX_ITEMS, "graph outputs");
    graph->output[graph->n_output++] = value_info_new(builder->arena, name, elem_type, rank, dims);
}

static char **
strings_copy(struct arena *arena, const char *const *names, size_t *count)
{
    char **copy;

    *count = 0;
    while (names[*count])
        (*count)++;
    copy = arena_alloc(arena, *count, sizeof(*copy));
    for (size_t i = 0; i < *count; i++)
        copy[i] = arena_strdup(arena, names[i]);
    return copy;
}

/* Append a node; "inputs" and "outputs" are NULL-terminated name lists. */
static Onnx__NodeProto *
graph_add_node(struct graph_builder *builder, const char *op_type, const char *name,
               const char *const *inputs, const char *const *outputs)
{
    struct arena *arena = builder->arena;
    Onnx__GraphProto *graph = builder->graph;
    Onnx__NodeProto *node = arena_alloc(arena, 1, sizeof(*node));

    check_capacity(graph->n_node, GRAPH_MAX_ITEMS, "nodes");
    onnx__node_proto__init(node);
    node->op_type = arena_strdup(arena, op_type);
    node->name = arena_strdup(arena, name);
    node->input = strings_copy(arena, inputs, &node->n_input);
    node->output = strings_copy(arena, outputs, &node->n_output);
    node->attribute = arena_alloc(arena, NODE_MAX_ATTRS, sizeof(*node->attribute));
    graph->node[graph->n_node++] = node;
    return node;
}

/* Shorthand for the NULL-terminated name lists of graph_add_node. */
#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static Onnx__AttributeProto *
node_add_attr(struct arena *arena, Onnx__NodeProto *node, const char *name,
              Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *attr = arena_alloc(arena, 1, sizeof(*attr));

    check_capacity(node->n_attribute, NODE_MAX_ATTRS, "node attributes");
    onnx__attribute_proto__init(attr);
    attr->name = arena_strdup(arena, name);
    attr->has_type = 1;
    attr->type = type;
    node->attribute[node->n_attribute++] = attr;
    return attr;
}

static void
node_set_int(struct arena *arena, Onnx__NodeProto *node, const char *name, int64_t value)
{
    Onnx__AttributeProto *attr = node_add_attr(arena, node, name,
                                               ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

    attr->has_i = 1;
    attr->i = value;
}

static void
node_set_float(struct arena *arena, Onnx__NodeProto *node, const char *name, float value)
{
    Onnx__AttributeProto *attr = node_add_attr(arena, node, name,
                                               ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

    attr->has_f = 1;
    attr->f = value;
}

static void
node_set_ints(struct arena *arena, Onnx__NodeProto *node, const char *name,
              size_t count, const int64_t *values)
{
    Onnx__AttributeProto *attr = node_add_attr(arena, node, name,
                                               ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

    attr->n_ints = count;
    attr->ints = arena_alloc(arena, count, sizeof(*attr->ints));
    memcpy(attr->ints, values, count * sizeof(*values));
}

static void
node_set_tensor(struct arena *arena, Onnx__NodeProto *node, const char *name,
                Onnx__TensorProto *tensor)
{
    Onnx__AttributeProto *attr = node_add_attr(arena, node, name,
                                               ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);

    attr->t = tensor;
}

static void
node_set_graph(struct arena *arena, Onnx__NodeProto *node, const char *name,
               Onnx__GraphProto *graph)
{
    Onnx__AttributeProto *attr = node_add_attr(arena, node, name,
                                               ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);

    attr->g = graph;
}

static Onnx__ModelProto *
model_new(struct arena *arena, Onnx__GraphProto *graph, const char *doc)
{
    Onnx__ModelProto *model = arena_alloc(arena, 1, sizeof(*model));
    Onnx__OperatorSetIdProto *opset = arena_alloc(arena, 1, sizeof(*opset));

    onnx__operator_set_id_proto__init(opset);
    opset->domain = arena_strdup(arena, "");
    opset->has_version = 1;
    opset->version = SAMPLES_OPSET;

    onnx__model_proto__init(model);
    model->has_ir_version = 1;
    model->ir_version = SAMPLES_IR_VERSION;
    model->n_opset_import = 1;
    model->opset_import = arena_alloc(arena, 1, sizeof(*model->opset_import));
    model->opset_import[0] = opset;
    model->producer_name = arena_strdup(arena, SAMPLES_PRODUCER);
    model->producer_version = arena_strdup(arena, SAMPLES_PRODUCER_VERSION);
    model->doc_string = arena_strdup(arena, doc);
    model->graph = graph;
    return model;
}

/* --- Output files ------------------------------------------------------ */

/* Create "path" unless it is already a folder; 0 on success. */
static int
make_dir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0777) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "make_samples: %s: cannot create folder: %s\n", path, strerror(errno));
    return -1;
}

/* Write "size" bytes to "path" through a temporary file and a rename. */
static int
write_file(const char *path, const uint8_t *data, size_t size)
{
    char *temp = qs_asprintf("%s.tmp", path);
    FILE *file = fopen(temp, "wb");
    int failed = file == NULL;

    if (file) {
        failed = fwrite(data, 1, size, file) != size;
        failed |= fclose(file) != 0;
    }
    if (!failed && rename(temp, path) != 0)
        failed = 1;
    if (failed) {
        fprintf(stderr, "make_samples: %s: cannot write: %s\n", path, strerror(errno));
        remove(temp);
    }
    free(temp);
    return failed ? -1 : 0;
}

static int
write_message(const char *path, const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size(message);
    uint8_t *data = qs_malloc(size);
    int result;

    protobuf_c_message_pack(message, data);
    result = write_file(path, data, size);
    free(data);
    return result;
}

/* Write "tensor" to DIR/MODEL/test_data_set_SET/input_0.pb. */
static int
write_test_input(const char *dir, const char *model, int set, const Onnx__TensorProto *tensor)
{
    char *model_dir = qs_asprintf("%s/%s", dir, model);
    char *set_dir = qs_asprintf("%s/test_data_set_%d", model_dir, set);
    char *path = qs_asprintf("%s/input_0.pb", set_dir);
    int result = -1;

    if (make_dir(model_dir) == 0 && make_dir(set_dir) == 0)
        result = write_message(path, &tensor->base);
    free(model_dir);
    free(set_dir);
    free(path);
    return result;
}

static int
write_model(const char *dir, const char *model_name, const Onnx__ModelProto *model)
{
    char *path = qs_asprintf("%s/%s.onnx", dir, model_name);
    int result = write_message(path, &model->base);

    free(path);
    return result;
}

/* --- tiny_cnn ------------------------------------------------------------ */

/* One Conv layer: weight "NAME.weight" [out, in/group, k, k], "NAME.bias". */
struct conv_layer {
    const char *name;
    int64_t out_channels;
    int64_t in_channels;
    int64_t kernel;
    int64_t group;
    int64_t pad;
};

/* The position and sign of one planted outlier in a Conv weight. */
struct conv_outlier {
    int64_t out_channel, in_channel, row, col;
    double sign;
};

/*
 * conv1.weight has three outliers of 20 times the He standard deviation.
 * The other weights are at most 6 standard deviations (Irwin-Hall bound)
 * times a channel factor of at most 1, so these three are the largest
 * magnitudes in the tensor.
 */
static const struct conv_outlier cnn_outliers[] = {
    { 3, 1, 0, 2, +1.0 },
    { 9, 0, 2, 1, -1.0 },
    { 14, 2, 1, 1, +1.0 },
};
#define CNN_OUTLIER_SIGMAS 20.0

/* conv2.weight output channel 21 is all zero, and so is conv2.bias[21]. */
#define CNN_DEAD_CHANNEL 21

/* Weights per output channel: in/group * k * k. */
static size_t
conv_per_channel(const struct conv_layer *layer)
{
    return (size_t)(layer->in_channels / layer->group * layer->kernel * layer->kernel);
}

/*
 * He-initialised weights with a log-uniform factor in [0.01, 1] per
 * output channel; returns the weight values and stores the factors in
 * "*factors".
 */
static double *
conv_weight_values(struct arena *arena, const struct conv_layer *layer, double **factors)
{
    size_t per_channel = conv_per_channel(layer);
    char *name = qs_asprintf("%s.weight", layer->name);
    struct rng rng = rng_for(name);
    double *values;

    *factors = values_log_uniform(arena, &rng, (size_t)layer->out_channels, STEPS_100X);
    values = values_normal(arena, &rng, (size_t)layer->out_channels * per_channel, 0.0,
                           sqrt(2.0 / (double)per_channel));
    scale_channels(values, 1, (size_t)layer->out_channels, per_channel, *factors);
    free(name);
    return values;
}

static void
plant_cnn_outliers(const struct conv_layer *layer, double *values)
{
    size_t per_channel = conv_per_channel(layer);
    double sigma = sqrt(2.0 / (double)per_channel);

    for (size_t i = 0; i < sizeof(cnn_outliers) / sizeof(cnn_outliers[0]); i++) {
        const struct conv_outlier *o = &cnn_outliers[i];
        size_t index = (size_t)(((o->out_channel * layer->in_channels + o->in_channel)
                                 * layer->kernel + o->row) * layer->kernel + o->col);

        values[index] = o->sign * CNN_OUTLIER_SIGMAS * sigma;
    }
}

static void
zero_channel(double *values, size_t per_channel, size_t channel)
{
    for (size_t i = 0; i < per_channel; i++)
        values[channel * per_channel + i] = 0.0;
}

/* Add the Conv node with its weight values "weight" and bias "bias". */
static void
add_conv(struct graph_builder *builder, const struct conv_layer *layer, const double *weight,
         const double *bias, const char *input, const char *output)
{
    struct arena *arena = builder->arena;
    int64_t dims[4] = { layer->out_channels, layer->in_channels / layer->group,
                        layer->kernel, layer->kernel };
    int64_t kernel[2] = { layer->kernel, layer->kernel };
    int64_t pads[4] = { layer->pad, layer->pad, layer->pad, layer->pad };
    char *weight_name = qs_asprintf("%s.weight", layer->name);
    char *bias_name = qs_asprintf("%s.bias", layer->name);
    Onnx__NodeProto *node;

    graph_add_float(builder, weight_name, 4, dims, weight);
    graph_add_float(builder, bias_name, 1, dims, bias);
    node = graph_add_node(builder, "Conv", layer->name, NAMES(input, weight_name, bias_name),
                          NAMES(output));
    node_set_ints(arena, node, "kernel_shape", 2, kernel);
    node_set_ints(arena, node, "pads", 4, pads);
    if (layer->group != 1)
        node_set_int(arena, node, "group", layer->group);
    free(weight_name);
    free(bias_name);
}

static double *
conv_bias_values(struct arena *arena, const struct conv_layer *layer, const double *factors)
{
    char *name = qs_asprintf("%s.bias", layer->name);
    struct rng rng = rng_for(name);
    double *values = values_normal(arena, &rng, (size_t)layer->out_channels, 0.0, 0.05);

    /* A dead channel's bias is +0.0, not the -0.0 that a negative value
     * times a zero factor would give. */
    for (int64_t c = 0; c < layer->out_channels; c++)
        values[c] = factors[c] == 0.0 ? 0.0 : values[c] * factors[c];
    free(name);
    return values;
}

/*
 * BatchNormalization "NAME" after a Conv whose output channel c was scaled
 * by factors[c].  Its running variance is about the Conv output's
 * variance, 2 * factors[c]^2 for unit inputs and He weights, times
 * 1 + 0.1 z with |z| <= 6, so it stays positive.  A dead channel
 * (factor 0) gets mean 0 and variance 1e-4.
 */
static void
add_batch_norm(struct graph_builder *builder, const char *name, int64_t channels,
               const double *factors, const char *input, const char *output)
{
    struct arena *arena = builder->arena;
    const char *suffixes[4] = { "scale", "bias", "mean", "var" };
    char *names[4];
    double *params[4];
    Onnx__NodeProto *node;

    for (int p = 0; p < 4; p++) {
        struct rng rng;

        names[p] = qs_asprintf("%s.%s", name, suffixes[p]);
        rng = rng_for(names[p]);
        params[p] = values_normal(arena, &rng, (size_t)channels, p == 0 ? 1.0 : 0.0, 0.1);
    }
    for (int64_t c = 0; c < channels; c++) {
        double f = factors[c];

        params[2][c] = f == 0.0 ? 0.0 : 0.5 * f * params[2][c];
        params[3][c] = f == 0.0 ? 1e-4 : 2.0 * f * f * (1.0 + params[3][c]);
    }

    for (int p = 0; p < 4; p++)
        graph_add_float(builder, names[p], 1, &channels, params[p]);
    node = graph_add_node(builder, "BatchNormalization", name,
                          NAMES(input, names[0], names[1], names[2], names[3]), NAMES(output));
    node_set_float(arena, node, "epsilon", 1e-5f);
    for (int p = 0; p < 4; p++)
        free(names[p]);
}

static void
add_unary(struct graph_builder *builder, const char *op_type, const char *name,
          const char *input, const char *output)
{
    graph_add_node(builder, op_type, name, NAMES(input), NAMES(output));
}

static void
add_cnn_convs(struct graph_builder *builder)
{
    static const struct conv_layer conv1 = { "conv1", 16, 3, 3, 1, 1 };
    static const struct conv_layer conv2 = { "conv2", 32, 16, 3, 1, 0 };
    static const struct conv_layer dwconv = { "dwconv", 32, 32, 3, 32, 1 };
    struct arena *arena = builder->arena;
    int64_t pool[2] = { 2, 2 };
    double *factors, *weight;
    Onnx__NodeProto *node;

    weight = conv_weight_values(arena, &conv1, &factors);
    plant_cnn_outliers(&conv1, weight);
    add_conv(builder, &conv1, weight, conv_bias_values(arena, &conv1, factors),
             "image", "conv1.out");
    add_batch_norm(builder, "bn1", conv1.out_channels, factors, "conv1.out", "bn1.out");
    add_unary(builder, "Relu", "relu1", "bn1.out", "relu1.out");
    node = graph_add_node(builder, "MaxPool", "pool1", NAMES("relu1.out"), NAMES("pool1.out"));
    node_set_ints(arena, node, "kernel_shape", 2, pool);
    node_set_ints(arena, node, "strides", 2, pool);

    weight = conv_weight_values(arena, &conv2, &factors);
    factors[CNN_DEAD_CHANNEL] = 0.0;
    zero_channel(weight, conv_per_channel(&conv2), CNN_DEAD_CHANNEL);
    add_conv(builder, &conv2, weight, conv_bias_values(arena, &conv2, factors),
             "pool1.out", "conv2.out");
    add_batch_norm(builder, "bn2", conv2.out_channels, factors, "conv2.out", "bn2.out");
    add_unary(builder, "Relu", "relu2", "bn2.out", "relu2.out");

    weight = conv_weight_values(arena, &dwconv, &factors);
    add_conv(builder, &dwconv, weight, conv_bias_values(arena, &dwconv, factors),
             "relu2.out", "dwconv.out");
    add_unary(builder, "Relu", "relu3", "dwconv.out", "relu3.out");
}

static void
add_cnn_head(struct graph_builder *builder)
{
    int64_t weight_dims[2] = { 10, 32 };
    int64_t bias_dims[1] = { 10 };
    struct rng rng = rng_for("fc.weight");
    double *weight = values_normal(builder->arena, &rng, 320, 0.0, sqrt(1.0 / 32.0));
    double *bias;
    Onnx__NodeProto *node;

    rng = rng_for("fc.bias");
    bias = values_normal(builder->arena, &rng, 10, 0.0, 0.05);
    add_unary(builder, "GlobalAveragePool", "gap", "relu3.out", "gap.out");
    add_unary(builder, "Flatten", "flatten", "gap.out", "flatten.out");
    graph_add_float(builder, "fc.weight", 2, weight_dims, weight);
    graph_add_float(builder, "fc.bias", 1, bias_dims, bias);
    node = graph_add_node(builder, "Gemm", "fc", NAMES("flatten.out", "fc.weight", "fc.bias"),
                          NAMES("fc.out"));
    node_set_int(builder->arena, node, "transB", 1);
    add_unary(builder, "Softmax", "softmax", "fc.out", "probs");
}

static Onnx__ModelProto *
build_tiny_cnn(struct arena *arena)
{
    static const int64_t image_dims[4] = { 1, 3, 32, 32 };
    static const int64_t probs_dims[2] = { 1, 10 };
    struct graph_builder builder = graph_new(arena, "tiny_cnn");

    graph_add_input(&builder, "image", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, image_dims);
    add_cnn_convs(&builder);
    add_cnn_head(&builder);
    graph_add_output(&builder, "probs", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, probs_dims);
    return model_new(arena, builder.graph,
                     "Small CNN classifier with synthetic weights: per-channel scales "
                     "spread over 100x, three outliers in conv1.weight, dead channel 21 "
                     "in conv2.weight.");
}

/* --- tiny_transformer ------------------------------------------------- */

#define TF_SEQ 16
#define TF_DIM 64
#define TF_HEADS 4
#define TF_HEAD_DIM (TF_DIM / TF_HEADS)
#define TF_HIDDEN 256

/*
 * Rows of attn.q/k/v.weight [K, N] that are 50 times larger than the
 * rest: the input channels, coming from ln1, that carry the outlier
 * activations of large language models.
 */
static const size_t tf_outlier_rows[] = { 7, 29, 50 };
#define TF_OUTLIER_GAIN 50.0

/* mlp.fc1.weight column (output channel) 137 is all zero, and so is
 * mlp.fc1.bias[137]. */
#define TF_DEAD_COLUMN 137

/*
 * MatMul weight [K, N] in the GPT-2 style: normal with standard deviation
 * 0.02, each column scaled by a log-uniform factor in [0.1, 1].
 */
static double *
linear_weight_values(struct arena *arena, const char *name, size_t rows, size_t cols)
{
    char *weight_name = qs_asprintf("%s.weight", name);
    struct rng rng = rng_for(weight_name);
    double *factors = values_log_uniform(arena, &rng, cols, STEPS_10X);
    double *values = values_normal(arena, &rng, rows * cols, 0.0, 0.02);

    scale_channels(values, rows, cols, 1, factors);
    free(weight_name);
    return values;
}

static double *
linear_bias_values(struct arena *arena, const char *name, size_t cols)
{
    char *bias_name = qs_asprintf("%s.bias", name);
    struct rng rng = rng_for(bias_name);
    double *values = values_normal(arena, &rng, cols, 0.0, 0.01);

    free(bias_name);
    return values;
}

/*
 * Add "NAME.matmul" (MatMul by NAME.weight [rows, cols]) and "NAME.add"
 * (Add NAME.bias [cols]); the result is "NAME.out".
 */
static void
add_linear(struct graph_builder *builder, const char *name, const char *input,
           int64_t rows, int64_t cols, const double *weight, const double *bias)
{
    int64_t dims[2] = { rows, cols };
    char *weight_name = qs_asprintf("%s.weight", name);
    char *bias_name = qs_asprintf("%s.bias", name);
    char *matmul_name = qs_asprintf("%s.matmul", name);
    char *matmul_out = qs_asprintf("%s.matmul.out", name);
    char *add_name = qs_asprintf("%s.add", name);
    char *output = qs_asprintf("%s.out", name);

    graph_add_float(builder, weight_name, 2, dims, weight);
    graph_add_float(builder, bias_name, 1, &dims[1], bias);
    graph_add_node(builder, "MatMul", matmul_name, NAMES(input, weight_name), NAMES(matmul_out));
    graph_add_node(builder, "Add", add_name, NAMES(matmul_out, bias_name), NAMES(output));
    free(weight_name);
    free(bias_name);
    free(matmul_name);
    free(matmul_out);
    free(add_name);
    free(output);
}

/* Add a linear layer with the default weight and bias values. */
static void
add_plain_linear(struct graph_builder *builder, const char *name, const char *input,
                 int64_t rows, int64_t cols)
{
    double *weight = linear_weight_values(builder->arena, name, (size_t)rows, (size_t)cols);
    double *bias = linear_bias_values(builder->arena, name, (size_t)cols);

    add_linear(builder, name, input, rows, cols, weight, bias);
}

/* LayerNormalization "NAME" over the last axis with NAME.weight, NAME.bias. */
static void
add_layer_norm(struct graph_builder *builder, const char *name, const char *input)
{
    int64_t dims[1] = { TF_DIM };
    char *weight_name = qs_asprintf("%s.weight", name);
    char *bias_name = qs_asprintf("%s.bias", name);
    char *output = qs_asprintf("%s.out", name);
    struct rng rng = rng_for(weight_name);
    Onnx__NodeProto *node;

    graph_add_float(builder, weight_name, 1, dims,
                    values_normal(builder->arena, &rng, TF_DIM, 1.0, 0.1));
    rng = rng_for(bias_name);
    graph_add_float(builder, bias_name, 1, dims,
                    values_normal(builder->arena, &rng, TF_DIM, 0.0, 0.02));
    node = graph_add_node(builder, "LayerNormalization", name,
                          NAMES(input, weight_name, bias_name), NAMES(output));
    node_set_int(builder->arena, node, "axis", -1);
    node_set_float(builder->arena, node, "epsilon", 1e-5f);
    free(weight_name);
    free(bias_name);
    free(output);
}

/* Q, K or V projection of ln1.out with the outlier input rows planted. */
static void
add_attention_projection(struct graph_builder *builder, const char *name)
{
    double *weight = linear_weight_values(builder->arena, name, TF_DIM, TF_DIM);
    double *bias = linear_bias_values(builder->arena, name, TF_DIM);

    for (size_t r = 0; r < sizeof(tf_outlier_rows) / sizeof(tf_outlier_rows[0]); r++)
        for (size_t c = 0; c < TF_DIM; c++)
            weight[tf_outlier_rows[r] * TF_DIM + c] *= TF_OUTLIER_GAIN;
    add_linear(builder, name, "ln1.out", TF_DIM, TF_DIM, weight, bias);
}

/* Reshape "NAME.out" [1, S, D] to heads and transpose it by "perm". */
static void
add_split_heads(struct graph_builder *builder, const char *name, const int64_t perm[4])
{
    char *input = qs_asprintf("%s.out", name);
    char *split = qs_asprintf("%s.split", name);
    char *split_out = qs_asprintf("%s.split.out", name);
    char *heads = qs_asprintf("%s.heads", name);
    char *heads_out = qs_asprintf("%s.heads.out", name);
    Onnx__NodeProto *node;

    graph_add_node(builder, "Reshape", split, NAMES(input, "attn.split_shape"), NAMES(split_out));
    node = graph_add_node(builder, "Transpose", heads, NAMES(split_out), NAMES(heads_out));
    node_set_ints(builder->arena, node, "perm", 4, perm);
    free(input);
    free(split);
    free(split_out);
    free(heads);
    free(heads_out);
}

static void
add_attention(struct graph_builder *builder)
{
    static const int64_t split_shape[4] = { 1, TF_SEQ, TF_HEADS, TF_HEAD_DIM };
    static const int64_t merge_shape[3] = { 1, TF_SEQ, TF_DIM };
    static const int64_t to_heads[4] = { 0, 2, 1, 3 };
    static const int64_t to_heads_transposed[4] = { 0, 2, 3, 1 };
    Onnx__NodeProto *node;

    add_layer_norm(builder, "ln1", "x");
    add_attention_projection(builder, "attn.q");
    add_attention_projection(builder, "attn.k");
    add_attention_projection(builder, "attn.v");
    graph_add_initializer(builder,
                          tensor_int64(builder->arena, "attn.split_shape", 4, split_shape));
    graph_add_initializer(builder,
                          tensor_int64(builder->arena, "attn.merge_shape", 3, merge_shape));
    add_split_heads(builder, "attn.q", to_heads);
    add_split_heads(builder, "attn.k", to_heads_transposed);
    add_split_heads(builder, "attn.v", to_heads);

    graph_add_scalar(builder, "attn.sqrt_head_dim", sqrt((double)TF_HEAD_DIM));
    graph_add_node(builder, "MatMul", "attn.scores", NAMES("attn.q.heads.out", "attn.k.heads.out"),
                   NAMES("attn.scores.out"));
    graph_add_node(builder, "Div", "attn.scale", NAMES("attn.scores.out", "attn.sqrt_head_dim"),
                   NAMES("attn.scale.out"));
    node = graph_add_node(builder, "Softmax", "attn.softmax", NAMES("attn.scale.out"),
                          NAMES("attn.softmax.out"));
    node_set_int(builder->arena, node, "axis", -1);
    graph_add_node(builder, "MatMul", "attn.context", NAMES("attn.softmax.out", "attn.v.heads.out"),
                   NAMES("attn.context.out"));
    node = graph_add_node(builder, "Transpose", "attn.merge_heads", NAMES("attn.context.out"),
                          NAMES("attn.merge_heads.out"));
    node_set_ints(builder->arena, node, "perm", 4, to_heads);
    graph_add_node(builder, "Reshape", "attn.merge",
                   NAMES("attn.merge_heads.out", "attn.merge_shape"),
                   NAMES("attn.merge.out"));

    add_plain_linear(builder, "attn.o", "attn.merge.out", TF_DIM, TF_DIM);
    graph_add_node(builder, "Add", "residual1", NAMES("x", "attn.o.out"), NAMES("residual1.out"));
}

/* GELU as opset 17 has to write it: x * 0.5 * (1 + Erf(x / sqrt(2))). */
static void
add_gelu(struct graph_builder *builder, const char *input, const char *output)
{
    graph_add_scalar(builder, "gelu.sqrt2", sqrt(2.0));
    graph_add_scalar(builder, "gelu.one", 1.0);
    graph_add_scalar(builder, "gelu.half", 0.5);
    graph_add_node(builder, "Div", "gelu.div", NAMES(input, "gelu.sqrt2"), NAMES("gelu.div.out"));
    add_unary(builder, "Erf", "gelu.erf", "gelu.div.out", "gelu.erf.out");
    graph_add_node(builder, "Add", "gelu.add", NAMES("gelu.erf.out", "gelu.one"),
                   NAMES("gelu.add.out"));
    graph_add_node(builder, "Mul", "gelu.mul_half", NAMES(input, "gelu.half"),
                   NAMES("gelu.mul_half.out"));
    graph_add_node(builder, "Mul", "gelu.mul", NAMES("gelu.mul_half.out", "gelu.add.out"),
                   NAMES(output));
}

static void
add_mlp(struct graph_builder *builder)
{
    double *weight = linear_weight_values(builder->arena, "mlp.fc1", TF_DIM, TF_HIDDEN);
    double *bias = linear_bias_values(builder->arena, "mlp.fc1", TF_HIDDEN);

    for (size_t r = 0; r < TF_DIM; r++)
        weight[r * TF_HIDDEN + TF_DEAD_COLUMN] = 0.0;
    bias[TF_DEAD_COLUMN] = 0.0;

    add_layer_norm(builder, "ln2", "residual1.out");
    add_linear(builder, "mlp.fc1", "ln2.out", TF_DIM, TF_HIDDEN, weight, bias);
    add_gelu(builder, "mlp.fc1.out", "gelu.out");
    add_plain_linear(builder, "mlp.fc2", "gelu.out", TF_HIDDEN, TF_DIM);
    graph_add_node(builder, "Add", "residual2", NAMES("residual1.out", "mlp.fc2.out"), NAMES("y"));
}

static Onnx__ModelProto *
build_tiny_transformer(struct arena *arena)
{
    static const int64_t dims[3] = { 1, TF_SEQ, TF_DIM };
    struct graph_builder builder = graph_new(arena, "tiny_transformer");

    graph_add_input(&builder, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, dims);
    add_attention(&builder);
    add_mlp(&builder);
    graph_add_output(&builder, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, dims);
    return model_new(arena, builder.graph,
                     "One pre-LN transformer block with synthetic weights: input rows 7, 29 "
                     "and 50 of attn.q/k/v.weight are 50x larger, column 137 of "
                     "mlp.fc1.weight is dead.");
}

/* --- tiny_if ------------------------------------------------------------ */

#define IF_IN 8
#define IF_OUT 4

/* W_else column (output channel) 2 is all zero. */
#define IF_DEAD_COLUMN 2

/* Branch graph NAME_branch: y_NAME = MatMul(x, W_NAME), where W_NAME comes
 * from a Constant node and x from the outer graph. */
static Onnx__GraphProto *
build_branch(struct arena *arena, const char *name, int dead_column)
{
    static const int64_t weight_dims[2] = { IF_IN, IF_OUT };
    static const int64_t out_dims[2] = { 1, IF_OUT };
    char *graph_name = qs_asprintf("%s_branch", name);
    char *weight_name = qs_asprintf("W_%s", name);
    char *const_name = qs_asprintf("%s_const", name);
    char *matmul_name = qs_asprintf("%s_matmul", name);
    char *output = qs_asprintf("y_%s", name);
    struct graph_builder builder = graph_new(arena, graph_name);
    struct rng rng = rng_for(weight_name);
    double *weight = values_normal(arena, &rng, IF_IN * IF_OUT, 0.0, 0.35);
    Onnx__NodeProto *node;

    if (dead_column >= 0)
        for (size_t r = 0; r < IF_IN; r++)
            weight[r * IF_OUT + (size_t)dead_column] = 0.0;
    node = graph_add_node(&builder, "Constant", const_name, NAMES(NULL), NAMES(weight_name));
    node_set_tensor(arena, node, "value", tensor_float(arena, weight_name, 2, weight_dims, weight));
    graph_add_node(&builder, "MatMul", matmul_name, NAMES("x", weight_name), NAMES(output));
    graph_add_output(&builder, output, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, out_dims);
    free(graph_name);
    free(weight_name);
    free(const_name);
    free(matmul_name);
    free(output);
    return builder.graph;
}

static Onnx__ModelProto *
build_tiny_if(struct arena *arena)
{
    static const int64_t in_dims[2] = { 1, IF_IN };
    static const int64_t out_dims[2] = { 1, IF_OUT };
    struct graph_builder builder = graph_new(arena, "tiny_if");
    Onnx__NodeProto *node;

    graph_add_input(&builder, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, in_dims);
    graph_add_scalar(&builder, "threshold", 0.0);
    node = graph_add_node(&builder, "ReduceSum", "sum", NAMES("x"), NAMES("sum.out"));
    node_set_int(arena, node, "keepdims", 0);
    graph_add_node(&builder, "Greater", "positive", NAMES("sum.out", "threshold"), NAMES("cond"));
    node = graph_add_node(&builder, "If", "select", NAMES("cond"), NAMES("y"));
    node_set_graph(arena, node, "then_branch", build_branch(arena, "then", -1));
    node_set_graph(arena, node, "else_branch", build_branch(arena, "else", IF_DEAD_COLUMN));
    graph_add_output(&builder, "y", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, out_dims);
    return model_new(arena, builder.graph,
                     "If on the sign of sum(x): both branches multiply x by a Constant "
                     "weight [8, 4]; column 2 of W_else is dead.");
}

/* --- Inputs and main ------------------------------------------------------ */

/* A standard normal input tensor "name", seeded from "seed". */
static Onnx__TensorProto *
normal_input(struct arena *arena, const char *seed, const char *name,
             size_t rank, const int64_t *dims)
{
    struct rng rng = rng_for(seed);
    double *values = values_normal(arena, &rng, dims_count(rank, dims), 0.0, 1.0);

    return tensor_float(arena, name, rank, dims, values);
}

static int
write_cnn_inputs(struct arena *arena, const char *dir)
{
    static const int64_t dims[4] = { 1, 3, 32, 32 };

    return write_test_input(dir, "tiny_cnn", 0,
                            normal_input(arena, "tiny_cnn/image", "image", 4, dims));
}

static int
write_transformer_inputs(struct arena *arena, const char *dir)
{
    static const int64_t dims[3] = { 1, TF_SEQ, TF_DIM };

    return write_test_input(dir, "tiny_transformer", 0,
                            normal_input(arena, "tiny_transformer/x", "x", 3, dims));
}

static void
negate(double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        values[i] = -values[i];
}

/*
 * Set 0 has a positive sum and takes the then branch; set 1 is its
 * negation and takes the else branch.
 */
static int
write_if_inputs(struct arena *arena, const char *dir)
{
    static const int64_t dims[2] = { 1, IF_IN };
    struct rng rng = rng_for("tiny_if/x");
    double *values = values_normal(arena, &rng, IF_IN, 0.0, 1.0);
    double sum = 0.0;

    for (size_t i = 0; i < IF_IN; i++)
        sum += values[i];
    if (sum <= 0.0)
        negate(values, IF_IN);
    if (write_test_input(dir, "tiny_if", 0, tensor_float(arena, "x", 2, dims, values)) != 0)
        return -1;

    negate(values, IF_IN);
    return write_test_input(dir, "tiny_if", 1, tensor_float(arena, "x", 2, dims, values));
}

struct sample {
    const char *name;
    Onnx__ModelProto *(*build)(struct arena *arena);
    int (*write_inputs)(struct arena *arena, const char *dir);
};

static const struct sample samples[] = {
    { "tiny_cnn", build_tiny_cnn, write_cnn_inputs },
    { "tiny_transformer", build_tiny_transformer, write_transformer_inputs },
    { "tiny_if", build_tiny_if, write_if_inputs },
};

static int
write_sample(const struct sample *sample, const char *dir)
{
    struct arena arena = { 0 };
    int result = write_model(dir, sample->name, sample->build(&arena));

    if (result == 0)
        result = sample->write_inputs(&arena, dir);
    arena_done(&arena);
    return result;
}

int
main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: make_samples DIR\n"
                "Write the sample models and their test inputs into the folder DIR.\n");
        return 2;
    }
    if (make_dir(argv[1]) != 0)
        return 3;

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (write_sample(&samples[i], argv[1]) != 0)
            return 3;
    return 0;
}
