/*
 * libFuzzer target for the ONNX loader.  It loads arbitrary bytes with
 * qs_model_load_memory, then walks everything a command would touch:
 * every graph, node, value and attribute, and the first and last elements
 * of every tensor.  The sanitizers then catch any field the loader left
 * inconsistent.
 *
 * External data is refused unless QSCOPE_FUZZ_DIR names a folder to
 * resolve it against; tools/run-fuzz.sh sets it to a scratch folder with
 * a small data file in it.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model.h"

/* Elements decoded from the start of each tensor. */
#define FUZZ_READ_COUNT 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the compiler from dropping reads whose results are otherwise unused. */
static volatile uint64_t sink;

static void
walk_tensor(const struct qs_tensor *t)
{
    float values[FUZZ_READ_COUNT];
    int64_t ints[FUZZ_READ_COUNT];
    size_t n = t->count < FUZZ_READ_COUNT ? (size_t)t->count : FUZZ_READ_COUNT;

    sink += qs_tensor_packed_bytes(t);
    for (int i = 0; i < t->rank; i++)
        sink += (uint64_t)t->dims[i];
    if (n == 0)
        return;

    if (qs_tensor_read_f32(t, 0, n, values) == QS_OK) {
        for (size_t i = 0; i < n; i++)
            sink += values[i] == values[i];
    }
    if (qs_tensor_read_i64(t, 0, n, ints) == QS_OK)
        sink += (uint64_t)ints[0];

    /* The last elements too: chunked readers start in the middle. */
    if (t->count > n && qs_tensor_read_f32(t, t->count - n, n, values) == QS_OK)
        sink += values[n - 1] == values[n - 1];
}

static void
walk_value(const struct qs_graph *graph, const struct qs_value *value)
{
    if (value == NULL)
        return;

    sink += value->kind + (uint64_t)value->n_consumers + (uint64_t)value->type.rank;
    for (int i = 0; i < value->type.rank; i++)
        sink += (uint64_t)value->type.dims[i].value;
    for (size_t i = 0; i < value->n_consumers; i++)
        sink += value->consumers[i]->index;
    if (qs_graph_lookup(graph, value->name) == NULL)
        sink++;
}

static void
walk_node(const struct qs_node *node)
{
    char op[256];
    const int64_t *ints;
    const float *floats;
    size_t len;

    sink += (uint64_t)qs_node_attr_int(node, "axis", 0);
    sink += qs_node_attr_float(node, "alpha", 0.0f) != 0.0f;
    sink += (uint64_t)qs_node_attr_ints(node, "pads", &ints);
    sink += (uint64_t)qs_node_attr_floats(node, "scales", &floats);
    sink += (uint64_t)(uintptr_t)qs_node_attr_string(node, "mode", "", &len) + len;
    sink += qs_node_attr_tensor(node, "value") != NULL;
    sink += qs_node_qualified_op(node, op, sizeof(op))[0];

    for (size_t i = 0; i < node->n_inputs; i++)
        walk_value(node->graph, node->inputs[i]);
    for (size_t i = 0; i < node->n_outputs; i++)
        walk_value(node->graph, node->outputs[i]);
    for (size_t i = 0; i < node->n_attrs; i++) {
        if (node->attr_tensors[i] != NULL)
            walk_tensor(node->attr_tensors[i]);
    }
}

static void
walk_model(const struct qs_model *model)
{
    sink += (uint64_t)qs_model_opset(model, "");
    for (size_t g = 0; g < model->n_graphs; g++) {
        const struct qs_graph *graph = model->graphs[g];

        for (size_t i = 0; i < graph->n_nodes; i++)
            walk_node(&graph->nodes[i]);
        for (size_t i = 0; i < graph->n_values; i++)
            walk_value(graph, graph->values[i]);
        for (size_t i = 0; i < graph->n_inputs; i++)
            walk_value(graph, graph->inputs[i]);
        for (size_t i = 0; i < graph->n_outputs; i++)
            walk_value(graph, graph->outputs[i]);
    }
    for (size_t i = 0; i < model->n_tensors; i++)
        walk_tensor(model->tensors[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *external_dir;
    static int looked_up;
    struct qs_load_options opts = { .keep_going = 1 };
    struct qs_diag diag;
    struct qs_model *model = NULL;
    enum qs_status status;

    if (!looked_up) {
        external_dir = getenv("QSCOPE_FUZZ_DIR");
        looked_up = 1;
    }

    qs_diag_init(&diag);
    status = qs_model_load_memory(data, size, "fuzz.onnx", external_dir, &opts, &diag, &model);
    if (status == QS_OK)
        walk_model(model);
    else if (model != NULL || diag.count == 0)
        abort();  /* a failure must leave no model and add a diagnostic */
    qs_model_free(model);
    qs_diag_done(&diag);
    return 0;
}
