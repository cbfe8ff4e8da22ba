/*
 * Activation statistics collected from interpreter runs.
 */
#include "config.h"
#include "calib.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calib_internal.h"
#include "strmap.h"

char *
qs_calib_scoped_name(const struct qs_value *value)
{
    const char *scope = value->graph && value->graph->scope ? value->graph->scope : "";

    return qs_asprintf("%s%s", scope, value->name);
}

/* Gemm's transA or transB of the node, 0 or 1. */
static int
gemm_trans(const struct qs_node *node, const char *name)
{
    return qs_node_attr_int(node, name, 0) != 0;
}

int
qs_calib_activation_input(const struct qs_layer_use *use, int *input, int *axis)
{
    const struct qs_node *node = use->node;
    const char *op = node->op_type;
    int is_default = node->domain[0] == '\0';

    if (!use->is_weight)
        return 0;
    if (is_default && (strcmp(op, "Conv") == 0 || strcmp(op, "ConvTranspose") == 0)
        && use->input == 1) {
        *input = 0;
        *axis = 1;                        /* X [N, C, ...] */
    } else if (is_default && strcmp(op, "MatMul") == 0 && use->input <= 1) {
        *input = 1 - use->input;
        *axis = use->input == 1 ? -1 : -2;    /* A [..., M, K] or B [..., K, N] */
    } else if (is_default && strcmp(op, "Gemm") == 0 && use->input <= 1) {
        *input = 1 - use->input;
        if (use->input == 1)              /* A [M, K], or [K, M] with transA */
            *axis = gemm_trans(node, "transA") ? 0 : 1;
        else                              /* B [K, N], or [N, K] with transB */
            *axis = gemm_trans(node, "transB") ? 1 : 0;
    } else if (is_default && (strcmp(op, "LSTM") == 0 || strcmp(op, "GRU") == 0
                              || strcmp(op, "RNN") == 0) && use->input == 1) {
        *input = 0;
        *axis = -1;                       /* X [seq, batch, input] or [batch, seq, input] */
    } else if (strcmp(node->domain, "com.microsoft") == 0 && strcmp(op, "MatMulNBits") == 0
               && use->input == 1) {
        *input = 0;
        *axis = -1;                       /* A [..., K] */
    } else {
        return 0;
    }
    return (size_t)*input < node->n_inputs && node->inputs[*input] != NULL;
}

/* ---- setup ------------------------------------------------------------- */

static void
add_layer_input(struct qs_calib *calib, const struct qs_layer *layer,
                const struct qs_layer_use *use, size_t *cap)
{
    struct qs_calib_channels *entry;
    char op[128];
    int input, axis;

    if (!qs_calib_activation_input(use, &input, &axis))
        return;
    if (calib->n_layer_inputs == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        calib->layer_inputs = qs_reallocarray(calib->layer_inputs, *cap, sizeof(*entry));
    }
    entry = &calib->layer_inputs[calib->n_layer_inputs++];
    memset(entry, 0, sizeof(*entry));
    entry->layer = qs_strdup(layer->key);
    entry->node = qs_asprintf("%s%s", use->node->graph->scope, use->node->label);
    entry->op = qs_strdup(qs_node_qualified_op(use->node, op, sizeof(op)));
    entry->tensor = qs_calib_scoped_name(use->node->inputs[input]);
    entry->input = input;
    entry->axis = axis;
}

/* Chain the layer inputs by activation name, so that one lookup finds them all. */
static void
index_layer_inputs(struct qs_calib *calib)
{
    struct qs_calib_private *priv = calib->priv;

    priv->next_input = qs_calloc(calib->n_layer_inputs + 1, sizeof(size_t));
    for (size_t i = 0; i < calib->n_layer_inputs; i++) {
        struct qs_calib_channels *entry = &calib->layer_inputs[i];
        size_t at = (uintptr_t)qs_strmap_get(priv->inputs, entry->tensor);

        if (at == 0) {
            qs_strmap_put(priv->inputs, entry->tensor, (void *)(uintptr_t)(i + 1));
            continue;
        }
        while (priv->next_input[at - 1] != 0)
            at = priv->next_input[at - 1];
        priv->next_input[at - 1] = i + 1;
    }
}

void
qs_calib_init(struct qs_calib *calib, const struct qs_model *model,
              const struct qs_layers *layers)
{
    size_t cap = 0;

    memset(calib, 0, sizeof(*calib));
    calib->version = QS_CALIB_VERSION;
    calib->priv = qs_calloc(1, sizeof(*calib->priv));
    calib->priv->tensors = qs_strmap_new();
    calib->priv->inputs = qs_strmap_new();
    if (model) {
        const char *slash = strrchr(model->path, '/');

        calib->model_file = qs_strdup(slash ? slash + 1 : model->path);
        qs_sha256_hex(model->map, model->file_size, calib->sha256);
        calib->model_bytes = model->file_size;
    }
    for (size_t l = 0; layers && l < layers->count; l++) {
        const struct qs_layer *layer = &layers->items[l];

        for (size_t u = 0; layer->quantizable && u < layer->n_uses; u++)
            add_layer_input(calib, layer, &layer->uses[u], &cap);
    }
    index_layer_inputs(calib);
}

/* ---- tensors ----------------------------------------------------------- */

/* Merge bins pairwise and double the range. */
static void
hist_double(struct qs_calib_tensor *t)
{
    for (size_t i = 0; i < QS_CALIB_BINS / 2; i++)
        t->hist[i] = t->hist[2 * i] + t->hist[2 * i + 1];
    memset(t->hist + QS_CALIB_BINS / 2, 0, QS_CALIB_BINS / 2 * sizeof(*t->hist));

    /* Values clamped from index BINS belong to index BINS / 2 now, not BINS / 2 - 1. */
    t->hist[QS_CALIB_BINS / 2 - 1] -= t->top_clamped;
    t->hist[QS_CALIB_BINS / 2] += t->top_clamped;
    t->top_clamped = 0;
    t->hist_hi *= 2.0;
}

/* Pass 1 over one observation: census and range. */
static void
tensor_scan(struct qs_calib_tensor *t, const float *data, uint64_t n, double *absmax)
{
    double lo = INFINITY, hi = -INFINITY;

    *absmax = 0.0;
    for (uint64_t i = 0; i < n; i++) {
        double x = data[i];

        if (!isfinite(x)) {
            t->nonfinite++;
            continue;
        }
        if (x == 0.0)
            t->zeros++;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (lo > hi)
        return;
    *absmax = fmax(fabs(lo), fabs(hi));
    if (t->count == 0 || lo < t->min)
        t->min = lo;
    if (t->count == 0 || hi > t->max)
        t->max = hi;
    t->absmax = fmax(fabs(t->min), fabs(t->max));
}

void
qs_calib_tensor_add(struct qs_calib_tensor *t, const float *data, uint64_t n)
{
    uint64_t before = t->nonfinite;
    double absmax, scale;

    if (!t->hist)
        t->hist = qs_calloc(QS_CALIB_BINS, sizeof(*t->hist));
    t->observations++;
    tensor_scan(t, data, n, &absmax);

    if (absmax > 0.0 && t->hist_hi == 0.0)
        t->hist_hi = absmax;      /* earlier values were all 0: bin 0 at any range */
    while (absmax > t->hist_hi)
        hist_double(t);

    scale = t->hist_hi > 0.0 ? QS_CALIB_BINS / t->hist_hi : 0.0;
    for (uint64_t i = 0; i < n; i++) {
        double x = fabs((double)data[i]);
        size_t bin;

        if (!isfinite(x))
            continue;
        bin = (size_t)(x * scale);
        if (bin >= QS_CALIB_BINS) {
            t->top_clamped++;
            bin = QS_CALIB_BINS - 1;
        }
        t->hist[bin]++;
    }
    t->count += n - (t->nonfinite - before);
}

struct qs_calib_tensor *
calib_tensor_append(struct qs_calib *calib, char *name)
{
    struct qs_calib_private *priv = calib->priv;
    struct qs_calib_tensor *t;

    if (calib->n_tensors == priv->tensor_cap) {
        priv->tensor_cap = priv->tensor_cap ? priv->tensor_cap * 2 : 64;
        /* The map keys are the entries' name strings, which do not move. */
        calib->tensors = qs_reallocarray(calib->tensors, priv->tensor_cap, sizeof(*t));
    }
    t = &calib->tensors[calib->n_tensors++];
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->min = t->max = t->absmax = NAN;
    t->hist = qs_calloc(QS_CALIB_BINS, sizeof(*t->hist));
    qs_strmap_put(priv->tensors, t->name, (void *)(uintptr_t)calib->n_tensors);
    return t;
}

static struct qs_calib_tensor *
tensor_entry(struct qs_calib *calib, const struct qs_value *value, char *name)
{
    void *found = qs_strmap_get(calib->priv->tensors, name);
    struct qs_calib_tensor *t;
    char op[128];

    if (found) {
        free(name);
        return &calib->tensors[(uintptr_t)found - 1];
    }
    t = calib_tensor_append(calib, name);
    if (value->producer) {
        t->op = qs_strdup(qs_node_qualified_op(value->producer, op, sizeof(op)));
        t->node = qs_asprintf("%s%s", value->producer->graph->scope, value->producer->label);
    } else {
        t->op = qs_strdup("input");
        t->node = qs_strdup("");
    }
    return t;
}

/* ---- channels ---------------------------------------------------------- */

static void
channels_alloc(struct qs_calib_channels *entry, uint64_t channels)
{
    entry->channels = channels;
    entry->count = qs_calloc(channels, sizeof(*entry->count));
    entry->absmax = qs_calloc(channels, sizeof(*entry->absmax));
    entry->mean_abs = qs_calloc(channels, sizeof(*entry->mean_abs));
    entry->mean_sq = qs_calloc(channels, sizeof(*entry->mean_sq));
}

static void
channels_add(struct qs_calib_channels *entry, const struct qs_rt_tensor *tensor)
{
    int axis = entry->axis < 0 ? tensor->rank + entry->axis : entry->axis;
    uint64_t outer = 1, inner = 1, channels;

    if (axis < 0 || axis >= tensor->rank || tensor->dims[axis] == 0) {
        entry->mismatches++;
        return;
    }
    channels = (uint64_t)tensor->dims[axis];
    for (int d = 0; d < axis; d++)
        outer *= (uint64_t)tensor->dims[d];
    for (int d = axis + 1; d < tensor->rank; d++)
        inner *= (uint64_t)tensor->dims[d];
    if (entry->channels == 0)
        channels_alloc(entry, channels);
    if (entry->channels != channels) {
        entry->mismatches++;
        return;
    }

    const float *data = tensor->data;

    for (uint64_t o = 0; o < outer; o++) {
        for (uint64_t c = 0; c < channels; c++) {
            const float *row = data + (o * channels + c) * inner;

            for (uint64_t k = 0; k < inner; k++) {
                double x = row[k];

                if (!isfinite(x))
                    continue;
                entry->count[c]++;
                entry->mean_abs[c] += fabs(x);
                entry->mean_sq[c] += x * x;
                if (fabs(x) > entry->absmax[c])
                    entry->absmax[c] = fabs(x);
            }
        }
    }
}

enum qs_status
qs_calib_observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct qs_calib *calib = ctx;
    struct qs_calib_tensor *t;
    void *first;

    if (!qs_rt_is_float(tensor->dtype))
        return QS_OK;
    t = tensor_entry(calib, value, qs_calib_scoped_name(value));
    qs_calib_tensor_add(t, tensor->data, tensor->count);

    first = qs_strmap_get(calib->priv->inputs, t->name);
    for (size_t i = first ? (uintptr_t)first : 0; i > 0; i = calib->priv->next_input[i - 1])
        channels_add(&calib->layer_inputs[i - 1], tensor);
    return QS_OK;
}

void
qs_calib_finish(struct qs_calib *calib, const char *file, struct qs_diag *diag)
{
    for (size_t i = 0; i < calib->n_layer_inputs; i++) {
        struct qs_calib_channels *entry = &calib->layer_inputs[i];

        for (uint64_t c = 0; c < entry->channels; c++) {
            double n = (double)entry->count[c];

            entry->mean_abs[c] = n > 0 ? entry->mean_abs[c] / n : 0.0;
            entry->mean_sq[c] = n > 0 ? entry->mean_sq[c] / n : 0.0;
        }
        if (entry->mismatches)
            qs_diag_warn(diag, file, "layer '%s': %" PRIu64 " observations of its input '%s' "
                         "were left out of the channel statistics: axis %d is missing or "
                         "changed size", entry->layer, entry->mismatches, entry->tensor,
                         entry->axis);
        else if (entry->channels == 0)
            qs_diag_warn(diag, file, "layer '%s': its input '%s' was never computed by these "
                         "samples", entry->layer, entry->tensor);
    }
}

const struct qs_calib_tensor *
qs_calib_find(const struct qs_calib *calib, const char *name)
{
    void *found;

    if (!calib->priv)
        return NULL;
    found = qs_strmap_get(calib->priv->tensors, name);
    return found ? &calib->tensors[(uintptr_t)found - 1] : NULL;
}

void
qs_calib_done(struct qs_calib *calib)
{
    for (size_t i = 0; i < calib->n_tensors; i++) {
        free(calib->tensors[i].name);
        free(calib->tensors[i].op);
        free(calib->tensors[i].node);
        free(calib->tensors[i].hist);
    }
    for (size_t i = 0; i < calib->n_layer_inputs; i++) {
        struct qs_calib_channels *entry = &calib->layer_inputs[i];

        free(entry->layer);
        free(entry->node);
        free(entry->op);
        free(entry->tensor);
        free(entry->count);
        free(entry->absmax);
        free(entry->mean_abs);
        free(entry->mean_sq);
    }
    if (calib->priv) {
        qs_strmap_free(calib->priv->tensors);
        qs_strmap_free(calib->priv->inputs);
        free(calib->priv->next_input);
        free(calib->priv);
    }
    free(calib->tensors);
    free(calib->layer_inputs);
    free(calib->model_file);
    free(calib->source);
    memset(calib, 0, sizeof(*calib));
}
