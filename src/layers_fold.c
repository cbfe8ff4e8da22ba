/*
 * Constant folding for weights: which values are computable from stored
 * tensors through Identity, Cast, Reshape, Transpose, Squeeze, Unsqueeze,
 * ConstantOfShape, Flatten and DequantizeLinear, with their shapes, and
 * the float32 computation of their values on request.
 */
#include "config.h"
#include "layers_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* Markers stored in the value map: not foldable, and being folded (a cycle guard). */
static char layers_not_foldable;
static char layers_in_progress;

/* Elements read from a tensor per call, so that huge tensors are read in pieces. */
#define LAYERS_READ_CHUNK ((uint64_t)1 << 22)

static size_t
ptrmap_slot(const struct layers_ptrmap *map, const void *key)
{
    uint64_t hash = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ULL;
    size_t mask = map->capacity - 1;
    size_t i = (size_t)(hash >> 17) & mask;

    while (map->keys[i] && map->keys[i] != key)
        i = (i + 1) & mask;
    return i;
}

void *
layers_ptrmap_get(const struct layers_ptrmap *map, const void *key)
{
    size_t i;

    if (!map->capacity)
        return NULL;
    i = ptrmap_slot(map, key);
    return map->keys[i] ? map->values[i] : NULL;
}

static void
ptrmap_grow(struct layers_ptrmap *map)
{
    struct layers_ptrmap bigger = { 0 };

    bigger.capacity = map->capacity ? map->capacity * 2 : 64;
    bigger.keys = qs_calloc(bigger.capacity, sizeof(*bigger.keys));
    bigger.values = qs_calloc(bigger.capacity, sizeof(*bigger.values));
    for (size_t i = 0; i < map->capacity; i++) {
        if (map->keys[i])
            layers_ptrmap_put(&bigger, map->keys[i], map->values[i]);
    }
    layers_ptrmap_done(map);
    *map = bigger;
}

void
layers_ptrmap_put(struct layers_ptrmap *map, const void *key, void *value)
{
    size_t i;

    if ((map->count + 1) * 2 > map->capacity)
        ptrmap_grow(map);
    i = ptrmap_slot(map, key);
    if (!map->keys[i]) {
        map->keys[i] = key;
        map->count++;
    }
    map->values[i] = value;
}

void
layers_ptrmap_done(struct layers_ptrmap *map)
{
    free(map->keys);
    free(map->values);
    memset(map, 0, sizeof(*map));
}

int
layers_node_is(const struct qs_node *node, const char *op)
{
    return node && node->domain[0] == '\0' && strcmp(node->op_type, op) == 0;
}

struct layers_fold *
layers_fold_new(struct layers_ctx *ctx, enum layers_fold_op op, struct qs_node *node,
                int rank, const int64_t *dims)
{
    struct layers_fold *f = qs_arena_calloc(ctx->arena, 1, sizeof(*f));
    uint64_t count = 1;

    f->op = op;
    f->node = node;
    f->rank = rank;
    f->dims = qs_arena_calloc(ctx->arena, rank > 0 ? (size_t)rank : 1, sizeof(int64_t));
    for (int i = 0; i < rank; i++) {
        f->dims[i] = dims[i];
        if (dims[i] < 0 || qs_mul_overflow_u64(count, (uint64_t)dims[i], &count))
            return NULL;
    }
    f->count = count;
    return f;
}

static struct layers_fold *
fold_tensor(struct layers_ctx *ctx, const struct qs_tensor *t)
{
    struct layers_fold *f;

    if (!qs_dtype_known(t->dtype) || !qs_dtype_decodable((enum qs_dtype)t->dtype))
        return NULL;
    f = layers_fold_new(ctx, LAYERS_FOLD_TENSOR, NULL, t->rank, t->dims);
    if (!f)
        return NULL;
    f->tensor = t;
    f->dtype = t->dtype;
    return f;
}

ptrdiff_t
layers_fold_read_small_i64(const struct layers_fold *f, int64_t *out, size_t max)
{
    if (!f || f->count > max || qs_dtype_is_float((enum qs_dtype)f->dtype))
        return -1;
    while (f->op == LAYERS_FOLD_RESHAPE)
        f = f->input;
    if (f->op != LAYERS_FOLD_TENSOR || f->tensor->fault)
        return -1;
    if (qs_tensor_read_i64(f->tensor, 0, (size_t)f->count, out) != QS_OK)
        return -1;
    return (ptrdiff_t)f->count;
}

/* The fold of input "i" of "node", or NULL when absent or not foldable. */
static struct layers_fold *
fold_input(struct layers_ctx *ctx, struct qs_node *node, size_t i)
{
    if (i >= node->n_inputs || !node->inputs[i])
        return NULL;
    return layers_fold_value(ctx, node->inputs[i]);
}

static struct layers_fold *
fold_same_order(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in,
                int rank, const int64_t *dims)
{
    struct layers_fold *f = layers_fold_new(ctx, LAYERS_FOLD_RESHAPE, node, rank, dims);

    if (!f || f->count != in->count)
        return NULL;
    f->input = in;
    f->dtype = in->dtype;
    return f;
}

static struct layers_fold *
fold_reshape(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    int64_t shape[LAYERS_MAX_SHAPE_ENTRIES];
    ptrdiff_t n;
    int allowzero = (int)qs_node_attr_int(node, "allowzero", 0);
    int infer = -1;
    uint64_t known = 1;

    n = layers_fold_read_small_i64(fold_input(ctx, node, 1), shape, LAYERS_MAX_SHAPE_ENTRIES);
    if (n < 0)
        return NULL;
    for (ptrdiff_t i = 0; i < n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= in->rank)
                return NULL;
            shape[i] = in->dims[i];
        }
        if (shape[i] == -1) {
            if (infer >= 0)
                return NULL;
            infer = (int)i;
            continue;
        }
        if (shape[i] < 0 || qs_mul_overflow_u64(known, (uint64_t)shape[i], &known))
            return NULL;
    }
    if (infer >= 0) {
        if (known == 0 || in->count % known != 0)
            return NULL;
        shape[infer] = (int64_t)(in->count / known);
    }
    return fold_same_order(ctx, node, in, (int)n, shape);
}

/* Axes of Squeeze or Unsqueeze: input 1 from opset 13, the attribute before. */
static ptrdiff_t
fold_axes(struct layers_ctx *ctx, struct qs_node *node, int64_t *axes)
{
    const int64_t *attr;
    ptrdiff_t n;

    if (node->n_inputs > 1 && node->inputs[1])
        return layers_fold_read_small_i64(fold_input(ctx, node, 1), axes, LAYERS_MAX_SHAPE_ENTRIES);
    n = qs_node_attr_ints(node, "axes", &attr);
    if (n > LAYERS_MAX_SHAPE_ENTRIES)
        return -1;
    for (ptrdiff_t i = 0; i < n; i++)
        axes[i] = attr[i];
    return n < 0 ? 0 : n;
}

static struct layers_fold *
fold_squeeze(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    int64_t axes[LAYERS_MAX_SHAPE_ENTRIES];
    int64_t dims[LAYERS_MAX_SHAPE_ENTRIES];
    char drop[LAYERS_MAX_SHAPE_ENTRIES] = { 0 };
    ptrdiff_t n = fold_axes(ctx, node, axes);
    int rank = 0;

    if (n < 0 || in->rank > LAYERS_MAX_SHAPE_ENTRIES)
        return NULL;
    for (ptrdiff_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + in->rank : axes[i];

        if (a < 0 || a >= in->rank || in->dims[a] != 1)
            return NULL;
        drop[a] = 1;
    }
    for (int i = 0; i < in->rank; i++) {
        if (n == 0 && in->dims[i] == 1)
            continue;
        if (!drop[i])
            dims[rank++] = in->dims[i];
    }
    return fold_same_order(ctx, node, in, rank, dims);
}

static struct layers_fold *
fold_unsqueeze(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    int64_t axes[LAYERS_MAX_SHAPE_ENTRIES];
    int64_t dims[LAYERS_MAX_SHAPE_ENTRIES];
    char add[LAYERS_MAX_SHAPE_ENTRIES] = { 0 };
    ptrdiff_t n = fold_axes(ctx, node, axes);
    int rank;
    int next = 0;

    if (n <= 0 || in->rank + n > LAYERS_MAX_SHAPE_ENTRIES)
        return NULL;
    rank = in->rank + (int)n;
    for (ptrdiff_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];

        if (a < 0 || a >= rank || add[a])
            return NULL;
        add[a] = 1;
    }
    for (int i = 0; i < rank; i++)
        dims[i] = add[i] ? 1 : in->dims[next++];
    return fold_same_order(ctx, node, in, rank, dims);
}

static struct layers_fold *
fold_flatten(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    int64_t axis = qs_node_attr_int(node, "axis", 1);
    int64_t dims[2];
    uint64_t rows = 1;

    if (axis < 0)
        axis += in->rank;
    if (axis < 0 || axis > in->rank)
        return NULL;
    for (int64_t i = 0; i < axis; i++)
        rows *= (uint64_t)in->dims[i];
    dims[0] = (int64_t)rows;
    dims[1] = rows ? (int64_t)(in->count / rows) : 0;
    if (rows == 0) {
        uint64_t cols = 1;

        for (int i = (int)axis; i < in->rank; i++)
            if (qs_mul_overflow_u64(cols, (uint64_t)in->dims[i], &cols))
                return NULL;
        dims[1] = (int64_t)cols;
    }
    return fold_same_order(ctx, node, in, 2, dims);
}

static struct layers_fold *
fold_transpose(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    const int64_t *attr;
    ptrdiff_t n = qs_node_attr_ints(node, "perm", &attr);
    struct layers_fold *f;
    int64_t *dims;
    char seen[LAYERS_MAX_SHAPE_ENTRIES] = { 0 };

    if (in->rank > LAYERS_MAX_SHAPE_ENTRIES || (n >= 0 && n != in->rank))
        return NULL;
    dims = qs_arena_calloc(ctx->arena, (size_t)in->rank + 1, sizeof(int64_t));
    f = layers_fold_new(ctx, LAYERS_FOLD_TRANSPOSE, node, in->rank, in->dims);
    if (!f)
        return NULL;
    f->perm = qs_arena_calloc(ctx->arena, (size_t)in->rank + 1, sizeof(int64_t));
    for (int i = 0; i < in->rank; i++) {
        int64_t p = n >= 0 ? attr[i] : in->rank - 1 - i;

        if (p < 0)
            p += in->rank;
        if (p < 0 || p >= in->rank || seen[p])
            return NULL;
        seen[p] = 1;
        f->perm[i] = p;
        dims[i] = in->dims[p];
    }
    memcpy(f->dims, dims, (size_t)in->rank * sizeof(int64_t));
    f->input = in;
    f->dtype = in->dtype;
    return f;
}

/* True when Cast can produce "dtype" from float32 values here. */
static int
cast_target_supported(int dtype)
{
    if (!qs_dtype_known(dtype) || !qs_dtype_decodable((enum qs_dtype)dtype))
        return 0;
    return dtype != QS_DT_FLOAT4E2M1 && dtype != QS_DT_FLOAT8E8M0;
}

static struct layers_fold *
fold_cast(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *in)
{
    int to = (int)qs_node_attr_int(node, "to", 0);
    struct layers_fold *f;

    if (!cast_target_supported(to))
        return NULL;
    f = layers_fold_new(ctx, LAYERS_FOLD_CAST, node, in->rank, in->dims);
    if (!f)
        return NULL;
    f->input = in;
    f->dtype = to;
    f->saturate = (int)qs_node_attr_int(node, "saturate", 1);
    return f;
}

static struct layers_fold *
fold_constant_of_shape(struct layers_ctx *ctx, struct qs_node *node)
{
    int64_t shape[LAYERS_MAX_SHAPE_ENTRIES];
    ptrdiff_t n = layers_fold_read_small_i64(fold_input(ctx, node, 0), shape,
                                             LAYERS_MAX_SHAPE_ENTRIES);
    struct qs_tensor *value = qs_node_attr_tensor(node, "value");
    struct layers_fold *f;

    if (n < 0)
        return NULL;
    f = layers_fold_new(ctx, LAYERS_FOLD_FILL, node, (int)n, shape);
    if (!f)
        return NULL;
    f->dtype = QS_DT_FLOAT;
    f->fill = 0.0f;
    if (value) {
        if (value->count != 1 || !qs_dtype_decodable((enum qs_dtype)value->dtype)
            || qs_tensor_read_f32(value, 0, 1, &f->fill) != QS_OK)
            return NULL;
        f->dtype = value->dtype;
    }
    return f;
}

static struct layers_fold *
fold_dequantize_node(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *x)
{
    struct layers_fold *scale = fold_input(ctx, node, 1);
    struct layers_fold *zero_point = NULL;
    int64_t axis = qs_node_attr_int(node, "axis", 1);
    int64_t block_size = qs_node_attr_int(node, "block_size", 0);

    if (!scale)
        return NULL;
    if (node->n_inputs > 2 && node->inputs[2]) {
        zero_point = fold_input(ctx, node, 2);
        if (!zero_point)
            return NULL;
    }
    if (ctx->opset < 13 && scale->count != 1) {
        layers_fault(ctx,
                     "DequantizeLinear '%s' has %llu scales, but opset %lld allows only one "
                     "(per-axis scales need opset 13)", node->label,
                     (unsigned long long)scale->count, (long long)ctx->opset);
        return NULL;
    }
    if (axis < -x->rank || axis >= (x->rank ? x->rank : 1)) {
        if (scale->count == 1 && block_size == 0)
            axis = 0;
        else {
            layers_fault(ctx, "DequantizeLinear '%s' has axis %lld, outside the %d dimensions "
                         "of its input", node->label, (long long)axis, x->rank);
            return NULL;
        }
    }
    if (axis < 0)
        axis += x->rank;
    return layers_fold_dequantize(ctx, node, x, scale, zero_point, (int)axis, block_size);
}

static void
format_dims(char *buf, size_t size, int rank, const int64_t *dims)
{
    size_t used = 0;

    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static int
check_blocked_scale(struct layers_ctx *ctx, struct qs_node *node, const struct layers_fold *x,
                    const struct layers_fold *scale, int axis, int64_t block_size)
{
    char have[128], need[128];
    int64_t want[LAYERS_MAX_SHAPE_ENTRIES];
    int ok = scale->rank == x->rank && x->rank <= LAYERS_MAX_SHAPE_ENTRIES;

    for (int i = 0; i < x->rank && i < LAYERS_MAX_SHAPE_ENTRIES; i++) {
        want[i] = i == axis ? (x->dims[i] + block_size - 1) / block_size : x->dims[i];
        if (ok && scale->dims[i] != want[i])
            ok = 0;
    }
    if (ok)
        return 1;
    format_dims(have, sizeof(have), scale->rank, scale->dims);
    format_dims(need, sizeof(need), x->rank < LAYERS_MAX_SHAPE_ENTRIES ? x->rank : 0, want);
    layers_fault(ctx,
                 "%s '%s': blocked scale has shape %s, but blocks of %lld along axis %d need %s",
                 node->op_type, node->label, have, (long long)block_size, axis, need);
    return 0;
}

static int
check_axis_scale(struct layers_ctx *ctx, struct qs_node *node, const struct layers_fold *x,
                 const struct layers_fold *scale, int axis)
{
    if (scale->rank == 1 && axis < x->rank && (uint64_t)x->dims[axis] == scale->count)
        return 1;
    if (axis >= x->rank || scale->rank != 1) {
        layers_fault(ctx,
                     "%s '%s': scale of rank %d with %llu entries does not fit an input of rank %d "
                     "(axis %d)", node->op_type, node->label, scale->rank,
                     (unsigned long long)scale->count, x->rank, axis);
        return 0;
    }
    layers_fault(ctx,
                 "%s '%s': scale has %llu entries, but axis %d%s of the input has size %lld",
                 node->op_type, node->label, (unsigned long long)scale->count, axis,
                 layers_node_is(node, "DequantizeLinear") && !qs_node_attr(node, "axis")
                 ? " (the default)" : "",
                 (long long)x->dims[axis]);
    return 0;
}

struct layers_fold *
layers_fold_dequantize(struct layers_ctx *ctx, struct qs_node *node, struct layers_fold *x,
                       struct layers_fold *scale, struct layers_fold *zero_point, int axis,
                       int64_t block_size)
{
    struct layers_fold *f;
    uint64_t n_scales = scale ? scale->count : (zero_point ? zero_point->count : 1);

    if (scale && !qs_dtype_is_float((enum qs_dtype)scale->dtype))
        return NULL;
    if (block_size < 0)
        return NULL;
    if (block_size > 0) {
        if (!check_blocked_scale(ctx, node, x, scale ? scale : zero_point, axis, block_size))
            return NULL;
    } else if (n_scales != 1) {
        if (!check_axis_scale(ctx, node, x, scale ? scale : zero_point, axis))
            return NULL;
    }
    if (scale && zero_point && zero_point->count != scale->count) {
        layers_fault(ctx,
                     "%s '%s': zero point has %llu entries but scale has %llu",
                     node->op_type, node->label, (unsigned long long)zero_point->count,
                     (unsigned long long)scale->count);
        return NULL;
    }
    f = layers_fold_new(ctx, LAYERS_FOLD_DEQUANTIZE, node, x->rank, x->dims);
    if (!f)
        return NULL;
    f->input = x;
    f->scale = scale;
    f->zero_point = zero_point;
    f->axis = n_scales == 1 && block_size == 0 ? -1 : axis;
    f->block_size = block_size;
    f->dtype = scale ? scale->dtype : QS_DT_FLOAT;
    return f;
}

static struct layers_fold *
fold_node(struct layers_ctx *ctx, struct qs_node *node)
{
    struct layers_fold *in;

    if (node->domain[0] != '\0')
        return NULL;
    if (strcmp(node->op_type, "ConstantOfShape") == 0)
        return fold_constant_of_shape(ctx, node);
    in = fold_input(ctx, node, 0);
    if (!in)
        return NULL;
    if (strcmp(node->op_type, "Identity") == 0)
        return fold_same_order(ctx, node, in, in->rank, in->dims);
    if (strcmp(node->op_type, "Cast") == 0)
        return fold_cast(ctx, node, in);
    if (strcmp(node->op_type, "Reshape") == 0)
        return fold_reshape(ctx, node, in);
    if (strcmp(node->op_type, "Transpose") == 0)
        return fold_transpose(ctx, node, in);
    if (strcmp(node->op_type, "Squeeze") == 0)
        return fold_squeeze(ctx, node, in);
    if (strcmp(node->op_type, "Unsqueeze") == 0)
        return fold_unsqueeze(ctx, node, in);
    if (strcmp(node->op_type, "Flatten") == 0)
        return fold_flatten(ctx, node, in);
    if (strcmp(node->op_type, "DequantizeLinear") == 0)
        return fold_dequantize_node(ctx, node, in);
    return NULL;
}

static struct layers_fold *
fold_compute(struct layers_ctx *ctx, struct qs_value *value)
{
    struct qs_tensor *t = value->tensor;

    if (!t && value->kind == QS_VALUE_NODE_OUTPUT && value->producer
        && layers_node_is(value->producer, "Constant"))
        t = qs_node_attr_tensor(value->producer, "value");
    if (t)
        return fold_tensor(ctx, t);
    if (value->kind != QS_VALUE_NODE_OUTPUT || !value->producer || value->producer_output != 0)
        return NULL;
    return fold_node(ctx, value->producer);
}

struct layers_fold *
layers_fold_value(struct layers_ctx *ctx, struct qs_value *value)
{
    void *known = layers_ptrmap_get(&ctx->folds, value);
    struct layers_fold *f;

    if (known == &layers_not_foldable || known == &layers_in_progress)
        return NULL;
    if (known)
        return known;
    if (ctx->depth >= LAYERS_MAX_FOLD_DEPTH)
        return NULL;

    layers_ptrmap_put(&ctx->folds, value, &layers_in_progress);
    ctx->depth++;
    f = fold_compute(ctx, value);
    ctx->depth--;
    layers_ptrmap_put(&ctx->folds, value, f ? (void *)f : (void *)&layers_not_foldable);
    return f;
}

int
layers_node_folds(struct layers_ctx *ctx, struct qs_node *node)
{
    static const char *const ops[] = {
        "Identity", "Cast", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
        "ConstantOfShape", "Flatten", "DequantizeLinear"
    };
    int is_fold_op = 0;

    if (node->domain[0] != '\0' || node->n_outputs == 0 || !node->outputs[0])
        return 0;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        is_fold_op |= strcmp(node->op_type, ops[i]) == 0;
    return is_fold_op && layers_fold_value(ctx, node->outputs[0]) != NULL;
}

const struct qs_tensor *
layers_fold_source(const struct layers_fold *f)
{
    while (f && f->op != LAYERS_FOLD_TENSOR)
        f = f->input;
    return f ? f->tensor : NULL;
}

const struct layers_fold *
layers_fold_find_dequantize(const struct layers_fold *f)
{
    for (; f; f = f->input) {
        if (f->op == LAYERS_FOLD_DEQUANTIZE || f->op == LAYERS_FOLD_NBITS)
            return f;
    }
    return NULL;
}

const char *
layers_fold_chain(struct layers_ctx *ctx, const struct layers_fold *f)
{
    const char *names[LAYERS_MAX_FOLD_DEPTH + 2];
    size_t n = 0;
    size_t len = 1;
    size_t used = 0;
    char *text;

    for (; f && n < sizeof(names) / sizeof(names[0]); f = f->input) {
        if (f->node && f->op != LAYERS_FOLD_TENSOR) {
            names[n++] = f->node->op_type;
            len += strlen(f->node->op_type) + 3;
        }
    }
    text = qs_arena_calloc(ctx->arena, len, 1);
    for (size_t i = n; i-- > 0;)
        used += (size_t)snprintf(text + used, len - used, "%s%s", names[i], i ? " > " : "");
    return text;
}

/* ---- computing the values ---- */

static enum qs_status
read_tensor(const struct qs_tensor *t, uint64_t count, float *out, const char **why)
{
    if (t->fault) {
        *why = t->fault;
        return QS_INVALID;
    }
    for (uint64_t start = 0; start < count; start += LAYERS_READ_CHUNK) {
        uint64_t n = count - start < LAYERS_READ_CHUNK ? count - start : LAYERS_READ_CHUNK;
        enum qs_status status = qs_tensor_read_f32(t, start, (size_t)n, out + start);

        if (status != QS_OK) {
            *why = status == QS_UNSUPPORTED ? "element type cannot be converted to float"
                                            : "tensor data cannot be read";
            return status;
        }
    }
    return QS_OK;
}

/* The value float32 "v" becomes after Cast to "to". */
static float
cast_value(float v, int to, int saturate)
{
    switch (to) {
    case QS_DT_FLOAT:
    case QS_DT_DOUBLE:
        return v;
    case QS_DT_FLOAT16:
        return qs_half_to_float(qs_float_to_half(v));
    case QS_DT_BFLOAT16:
        return qs_bf16_to_float(qs_float_to_bf16(v));
    case QS_DT_FLOAT8E4M3FN:
    case QS_DT_FLOAT8E4M3FNUZ:
    case QS_DT_FLOAT8E5M2:
    case QS_DT_FLOAT8E5M2FNUZ:
        return qs_fp8_to_float((enum qs_dtype)to,
                               qs_float_to_fp8((enum qs_dtype)to, v, saturate));
    case QS_DT_BOOL:
        return v != 0.0f;
    default:
        break;
    }

    /* Integer targets: truncate toward zero, NaN gives 0, out-of-range saturates. */
    if (isnan(v))
        return 0.0f;
    v = truncf(v);
    switch (to) {
    case QS_DT_UINT8:  return fminf(fmaxf(v, 0.0f), 255.0f);
    case QS_DT_INT8:   return fminf(fmaxf(v, -128.0f), 127.0f);
    case QS_DT_UINT16: return fminf(fmaxf(v, 0.0f), 65535.0f);
    case QS_DT_INT16:  return fminf(fmaxf(v, -32768.0f), 32767.0f);
    case QS_DT_UINT4:  return fminf(fmaxf(v, 0.0f), 15.0f);
    case QS_DT_INT4:   return fminf(fmaxf(v, -8.0f), 7.0f);
    case QS_DT_UINT32:
    case QS_DT_UINT64: return fmaxf(v, 0.0f);
    default:           return v;
    }
}

static enum qs_status
read_transpose(const struct layers_fold *f, float *out, const char **why)
{
    uint64_t in_stride[LAYERS_MAX_SHAPE_ENTRIES];
    int64_t coord[LAYERS_MAX_SHAPE_ENTRIES] = { 0 };
    float *in = qs_malloc((size_t)f->count * sizeof(float));
    enum qs_status status = layers_fold_read(f->input, in, why);
    uint64_t src = 0;

    if (status != QS_OK || f->count == 0) {
        free(in);
        return status;
    }
    in_stride[f->rank > 0 ? f->rank - 1 : 0] = 1;
    for (int i = f->rank - 1; i > 0; i--)
        in_stride[i - 1] = in_stride[i] * (uint64_t)f->input->dims[i];

    /* Walk the output in order; "src" follows the matching input element. */
    for (uint64_t o = 0; o < f->count; o++) {
        out[o] = in[src];
        for (int i = f->rank - 1; i >= 0; i--) {
            uint64_t stride = in_stride[f->perm[i]];

            if (++coord[i] < f->dims[i]) {
                src += stride;
                break;
            }
            src -= stride * (uint64_t)(f->dims[i] - 1);
            coord[i] = 0;
        }
    }
    free(in);
    return QS_OK;
}

/* Scale index of flat element "i" of a dequantization. */
static uint64_t
dequantize_index(const struct layers_fold *f, uint64_t i, uint64_t axis_len, uint64_t inner)
{
    uint64_t a, outer, rest, blocks;

    if (f->axis < 0)
        return 0;
    a = (i / inner) % axis_len;
    if (f->block_size == 0)
        return a;
    outer = i / (inner * axis_len);
    rest = i % inner;
    blocks = (axis_len + (uint64_t)f->block_size - 1) / (uint64_t)f->block_size;
    return (outer * blocks + a / (uint64_t)f->block_size) * inner + rest;
}

/*
 * NOTE: the stored integers pass through float32, so int32 and uint32
 * values beyond 2^24 (quantized biases) lose their low bits.
 */
static enum qs_status
read_dequantize(const struct layers_fold *f, float *out, const char **why)
{
    const struct layers_fold *params = f->scale ? f->scale : f->zero_point;
    uint64_t n_params = params ? params->count : 1;
    float *scale = qs_malloc((size_t)n_params * sizeof(float));
    float *zero = qs_malloc((size_t)n_params * sizeof(float));
    uint64_t axis_len = 1, inner = 1;
    enum qs_status status = layers_fold_read(f->input, out, why);

    for (uint64_t j = 0; j < n_params; j++) {
        scale[j] = 1.0f;
        zero[j] = f->default_zero;
    }
    if (status == QS_OK && f->scale)
        status = layers_fold_read(f->scale, scale, why);
    if (status == QS_OK && f->zero_point)
        status = layers_fold_read(f->zero_point, zero, why);
    if (status == QS_OK && f->axis >= 0) {
        axis_len = (uint64_t)f->dims[f->axis];
        for (int d = f->axis + 1; d < f->rank; d++)
            inner *= (uint64_t)f->dims[d];
    }
    for (uint64_t i = 0; status == QS_OK && i < f->count; i++) {
        uint64_t j = dequantize_index(f, i, axis_len, inner);

        out[i] = cast_value((out[i] - zero[j]) * scale[j], f->dtype, 1);
    }
    free(scale);
    free(zero);
    return status;
}

/* Bits [offset, offset + bits) of a little-endian bit stream whose bytes are stored as floats. */
static unsigned
nbits_code(const float *bytes, uint64_t offset, int bits)
{
    unsigned code = 0;

    for (int b = 0; b < bits; b++) {
        uint64_t bit = offset + (uint64_t)b;
        unsigned byte = (unsigned)bytes[bit / 8];

        code |= ((byte >> (bit % 8)) & 1u) << b;
    }
    return code;
}

/*
 * MatMulNBits B: for output row n and block b, the blob of
 * block_size * bits / 8 bytes contains the codes of K indices
 * b*block_size ... in order, low bits first.
 *
 *   B[n][b][0] = | k1 | k0 |   (4 bits: high nibble k1, low nibble k0)
 *
 * NOTE: for 3, 5, 6 and 7 bits the codes are read as one little-endian
 * bit stream per blob; no model with those widths was at hand to confirm
 * that onnxruntime packs them so.
 */
static enum qs_status
read_nbits(const struct layers_fold *f, float *out, const char **why)
{
    const struct layers_fold *b = f->input;
    uint64_t n_blocks = (uint64_t)(f->nbits_k + f->block_size - 1) / (uint64_t)f->block_size;
    uint64_t blob = (uint64_t)f->block_size * (uint64_t)f->bits / 8;
    uint64_t zp_row = (n_blocks * (uint64_t)f->bits + 7) / 8;
    float *bytes = qs_malloc((size_t)b->count * sizeof(float));
    float *scale = qs_malloc((size_t)f->scale->count * sizeof(float));
    float *zero = f->zero_point ? qs_malloc((size_t)f->zero_point->count * sizeof(float)) : NULL;
    enum qs_status status = layers_fold_read(b, bytes, why);

    if (status == QS_OK)
        status = layers_fold_read(f->scale, scale, why);
    if (status == QS_OK && zero)
        status = layers_fold_read(f->zero_point, zero, why);
    for (uint64_t n = 0; status == QS_OK && n < (uint64_t)f->nbits_n; n++) {
        for (uint64_t k = 0; k < (uint64_t)f->nbits_k; k++) {
            uint64_t blk = k / (uint64_t)f->block_size;
            uint64_t j = k % (uint64_t)f->block_size;
            float code = (float)nbits_code(bytes + (n * n_blocks + blk) * blob,
                                           j * (uint64_t)f->bits, f->bits);
            float zp = f->default_zero;

            if (zero && f->zero_point_packed)
                zp = (float)nbits_code(zero + n * zp_row, blk * (uint64_t)f->bits, f->bits);
            else if (zero)
                zp = zero[n * n_blocks + blk];
            out[n * (uint64_t)f->nbits_k + k] =
                cast_value((code - zp) * scale[n * n_blocks + blk], f->dtype, 1);
        }
    }
    free(bytes);
    free(scale);
    free(zero);
    return status;
}

enum qs_status
layers_fold_read(const struct layers_fold *f, float *out, const char **why)
{
    enum qs_status status;

    switch (f->op) {
    case LAYERS_FOLD_TENSOR:
        return read_tensor(f->tensor, f->count, out, why);
    case LAYERS_FOLD_RESHAPE:
        return layers_fold_read(f->input, out, why);
    case LAYERS_FOLD_CAST:
        status = layers_fold_read(f->input, out, why);
        for (uint64_t i = 0; status == QS_OK && i < f->count; i++)
            out[i] = cast_value(out[i], f->dtype, f->saturate);
        return status;
    case LAYERS_FOLD_TRANSPOSE:
        return read_transpose(f, out, why);
    case LAYERS_FOLD_FILL:
        for (uint64_t i = 0; i < f->count; i++)
            out[i] = f->fill;
        return QS_OK;
    case LAYERS_FOLD_DEQUANTIZE:
        return read_dequantize(f, out, why);
    case LAYERS_FOLD_NBITS:
        return read_nbits(f, out, why);
    }
    *why = "unknown fold";
    return QS_INVALID;
}
