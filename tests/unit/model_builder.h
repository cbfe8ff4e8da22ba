/*
 * Small ONNX models built in memory for the layer and plan tests: the
 * shared test data has no QLinearConv, MatMulNBits or shared weights, so
 * the tests write the graphs they need.  Every allocation lives in the
 * builder's arena and goes with mb_done.
 */
#ifndef QS_TEST_MODEL_BUILDER_H
#define QS_TEST_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "model.h"
#include "onnx.pb-c.h"

/* Most nodes, initializers, inputs or outputs one test graph holds. */
#define MB_MAX 32

struct model_builder {
    struct qs_arena arena;
    Onnx__NodeProto *nodes[MB_MAX];
    size_t n_nodes;
    Onnx__TensorProto *inits[MB_MAX];
    size_t n_inits;
    Onnx__ValueInfoProto *inputs[MB_MAX];
    size_t n_inputs;
    Onnx__ValueInfoProto *outputs[MB_MAX];
    size_t n_outputs;
    int64_t opset;           /* default domain */
    int64_t ms_opset;        /* com.microsoft, 0 when not imported */
    uint8_t *packed;         /* the serialized model, once mb_load ran */
};

void mb_init(struct model_builder *mb, int64_t opset);
void mb_done(struct model_builder *mb);

/* A tensor with raw data ("raw_bytes" bytes copied), not yet placed anywhere. */
Onnx__TensorProto *mb_tensor(struct model_builder *mb, const char *name, int dtype, int rank,
                             const int64_t *dims, const void *raw, size_t raw_bytes);

/* Initializers: float32 values, or raw bytes of any element type. */
Onnx__TensorProto *mb_init_f32(struct model_builder *mb, const char *name, int rank,
                               const int64_t *dims, const float *values);
Onnx__TensorProto *mb_init_raw(struct model_builder *mb, const char *name, int dtype, int rank,
                               const int64_t *dims, const void *raw, size_t raw_bytes);

/*
 * A node of the default domain.  "inputs" and "outputs" are
 * comma-separated names; an empty name between commas is an omitted
 * optional input.  "name" may be NULL for an unnamed node.
 */
Onnx__NodeProto *mb_node(struct model_builder *mb, const char *op, const char *name,
                         const char *inputs, const char *outputs);
void mb_node_domain(struct model_builder *mb, Onnx__NodeProto *node, const char *domain);

void mb_attr_int(struct model_builder *mb, Onnx__NodeProto *node, const char *name,
                 int64_t value);
void mb_attr_float(struct model_builder *mb, Onnx__NodeProto *node, const char *name,
                   float value);
void mb_attr_ints(struct model_builder *mb, Onnx__NodeProto *node, const char *name, size_t n,
                  const int64_t *values);
void mb_attr_tensor(struct model_builder *mb, Onnx__NodeProto *node, const char *name,
                    Onnx__TensorProto *tensor);

/* Float graph inputs and outputs. */
void mb_input(struct model_builder *mb, const char *name);
void mb_output(struct model_builder *mb, const char *name);

/* Serialize the model and load it with qs_model_load_memory; the bytes live until mb_done. */
enum qs_status mb_load(struct model_builder *mb, const struct qs_load_options *opts,
                       struct qs_diag *diag, struct qs_model **out);

#endif
