/*
 * The interpreter's executor on small graphs built in memory: the
 * unsupported-op check, the observer, weight and transform hooks, freeing
 * values after their last reader, errors naming the node, the memory
 * estimate (subgraphs included), opset-dependent attributes, and the run
 * order of unsorted graphs and cycles.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "interp/interp.h"
#include "model_builder.h"

static struct qs_rt_tensor *
vector(const float *values, int64_t n)
{
    struct qs_rt_tensor *t;

    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 1, &n, &t), QS_OK);
    memcpy(t->data, values, (size_t)n * sizeof(float));
    return t;
}

static int
diag_mentions(const struct qs_diag *diag, const char *text)
{
    for (size_t i = 0; i < diag->count && i < QS_DIAG_MAX; i++) {
        if (strstr(diag->lines[i], text))
            return 1;
    }
    return 0;
}

static void
test_check_names_missing_op(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp = NULL;
    struct qs_interp_gaps gaps;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_node(&mb, "Relu", "r", "x", "a");
    mb_node(&mb, "FancyOp", "f1", "a", "b");
    mb_node(&mb, "FancyOp", "f2", "b", "y");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);

    assert_int_equal(qs_interp_check(model, &gaps, &diag), QS_UNSUPPORTED);
    assert_int_equal(gaps.count, 1);
    assert_string_equal(gaps.items[0].op, "FancyOp");
    assert_int_equal(gaps.items[0].n_nodes, 2);
    assert_string_equal(gaps.items[0].nodes[0]->label, "f1");
    assert_string_equal(gaps.items[0].nodes[1]->label, "f2");
    assert_true(diag_mentions(&diag, "FancyOp"));
    assert_true(diag_mentions(&diag, "f1, f2"));
    qs_interp_gaps_done(&gaps);

    assert_int_equal(qs_interp_new(model, NULL, NULL, &interp), QS_UNSUPPORTED);
    assert_null(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/* Observer state: names seen and, when "c" appears, the references left on "a" and "b". */
struct watch {
    char names[8][16];
    int count;
    struct qs_rt_tensor *kept[8];
    int refs_a_at_c, refs_b_at_c;
};

static enum qs_status
observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct watch *w = ctx;

    if (w->count >= 8)
        return QS_OK;
    snprintf(w->names[w->count], sizeof(w->names[0]), "%s", value->name);
    w->kept[w->count] = qs_rt_ref((struct qs_rt_tensor *)tensor);
    if (strcmp(value->name, "c") == 0) {
        w->refs_a_at_c = w->kept[0]->refs;
        w->refs_b_at_c = w->kept[1]->refs;
    }
    w->count++;
    return QS_OK;
}

static void
test_observer_and_release(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    struct qs_interp_hooks hooks = { .observe = observe };
    struct watch w = { .count = 0 };
    const float xv[3] = { -1, 2, -3 };
    struct qs_rt_tensor *x = vector(xv, 3), *y = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_node(&mb, "Relu", "n1", "x", "a");
    mb_node(&mb, "Neg", "n2", "a", "b");
    mb_node(&mb, "Abs", "n3", "b", "c");
    mb_output(&mb, "c");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    hooks.ctx = &w;
    qs_interp_set_hooks(interp, &hooks);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);

    assert_int_equal(w.count, 3);
    assert_string_equal(w.names[0], "a");
    assert_string_equal(w.names[1], "b");
    assert_string_equal(w.names[2], "c");
    /*
     * When c is produced, a (last read by n2) is already released; b is still held until n3
     * ends.
     */
    assert_int_equal(w.refs_a_at_c, 1);
    assert_int_equal(w.refs_b_at_c, 2);
    assert_true(((float *)y->data)[0] == 0.0f);
    assert_true(((float *)y->data)[1] == 2.0f);
    assert_true(((float *)y->data)[2] == 0.0f);

    for (int i = 0; i < w.count; i++)
        qs_rt_unref(w.kept[i]);
    qs_rt_unref(x);
    qs_rt_unref(y);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/* Observer for the If test: the references left on "a" as "y" and "z" appear. */
struct if_watch {
    struct qs_rt_tensor *a;
    int refs_a_at_y, refs_a_at_z;
    int saw_branch_value;
};

static enum qs_status
observe_if(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct if_watch *w = ctx;

    if (strcmp(value->name, "a") == 0)
        w->a = qs_rt_ref((struct qs_rt_tensor *)tensor);
    else if (strcmp(value->name, "y_then") == 0)
        w->saw_branch_value = 1;
    else if (strcmp(value->name, "y") == 0 && w->a)
        w->refs_a_at_y = w->a->refs;
    else if (strcmp(value->name, "z") == 0 && w->a)
        w->refs_a_at_z = w->a->refs;
    return QS_OK;
}

/* A graph output named "name" without a declared type. */
static Onnx__ValueInfoProto *
untyped_output(Onnx__ValueInfoProto *vi, char *name)
{
    onnx__value_info_proto__init(vi);
    vi->name = name;
    return vi;
}

/*
 * x -> Relu -> a;  If(c) { then: y_then = Neg(a)  else: output a itself } -> y;
 * y -> Abs -> z.  Both branches read the outer value a, which must stay
 * alive until the If node has run and be released right after.
 */
static void
test_if_keeps_outer_value(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    struct if_watch w = { 0 };
    struct qs_interp_hooks hooks = { .observe = observe_if, .ctx = &w };
    Onnx__GraphProto then_g = ONNX__GRAPH_PROTO__INIT, else_g = ONNX__GRAPH_PROTO__INIT;
    Onnx__NodeProto neg = ONNX__NODE_PROTO__INIT, *then_nodes[1] = { &neg }, *if_node;
    Onnx__ValueInfoProto then_out, else_out;
    Onnx__ValueInfoProto *then_outs[1] = { &then_out }, *else_outs[1] = { &else_out };
    Onnx__AttributeProto then_attr = ONNX__ATTRIBUTE_PROTO__INIT;
    Onnx__AttributeProto else_attr = ONNX__ATTRIBUTE_PROTO__INIT;
    char a_name[] = "a", y_then[] = "y_then";
    char then_name[] = "then_branch", else_name[] = "else_branch";
    char neg_op[] = "Neg", neg_name[] = "neg";
    char then_graph_name[] = "then", else_graph_name[] = "else";
    char *neg_in[1] = { a_name }, *neg_out[1] = { y_then };
    const float xv[2] = { -1, 3 }, one[1] = { 1 }, zero[1] = { 0 };
    struct qs_rt_tensor *in[2] = { vector(xv, 2), vector(one, 1) }, *z = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    neg.op_type = neg_op;
    neg.name = neg_name;
    neg.n_input = 1;
    neg.input = neg_in;
    neg.n_output = 1;
    neg.output = neg_out;
    then_g.name = then_graph_name;
    then_g.n_node = 1;
    then_g.node = then_nodes;
    then_g.n_output = 1;
    then_g.output = then_outs;
    untyped_output(&then_out, y_then);
    else_g.name = else_graph_name;
    else_g.n_output = 1;
    else_g.output = else_outs;
    untyped_output(&else_out, a_name);
    then_attr.name = then_name;
    then_attr.has_type = 1;
    then_attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    then_attr.g = &then_g;
    else_attr = then_attr;
    else_attr.name = else_name;
    else_attr.g = &else_g;

    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_input(&mb, "c");
    mb_node(&mb, "Relu", "relu", "x", "a");
    if_node = mb_node(&mb, "If", "if", "c", "y");
    if_node->attribute[if_node->n_attribute++] = &then_attr;
    if_node->attribute[if_node->n_attribute++] = &else_attr;
    mb_node(&mb, "Abs", "abs", "y", "z");
    mb_output(&mb, "z");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    qs_interp_set_hooks(interp, &hooks);

    assert_int_equal(qs_interp_run(interp, in, &z, &diag), QS_OK);
    assert_true(w.saw_branch_value);
    /* As y appears the frame still holds a (its last reader, the If, has just run). */
    assert_int_equal(w.refs_a_at_y, 2);
    assert_int_equal(w.refs_a_at_z, 1);
    assert_true(((float *)z->data)[0] == 0.0f);
    assert_true(((float *)z->data)[1] == 3.0f);
    qs_rt_unref(z);
    qs_rt_unref(w.a);

    /* The else branch returns the outer value itself. */
    memset(&w, 0, sizeof(w));
    qs_rt_unref(in[1]);
    in[1] = vector(zero, 1);
    assert_int_equal(qs_interp_run(interp, in, &z, &diag), QS_OK);
    assert_false(w.saw_branch_value);
    assert_true(((float *)z->data)[1] == 3.0f);
    qs_rt_unref(z);
    qs_rt_unref(w.a);

    qs_rt_unref(in[0]);
    qs_rt_unref(in[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

static enum qs_status
double_weights(void *ctx, const struct qs_value *value, struct qs_rt_tensor *tensor)
{
    int *calls = ctx;

    (*calls)++;
    if (strcmp(value->name, "W") == 0) {
        for (uint64_t i = 0; i < tensor->count; i++)
            ((float *)tensor->data)[i] *= 2;
    }
    return QS_OK;
}

static void
test_weight_hook_substitutes(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    int calls = 0;
    struct qs_interp_hooks hooks = { .weight = double_weights, .ctx = &calls };
    const float xv[2] = { 1, 2 }, wv[2] = { 10, 20 };
    const int64_t dims[1] = { 2 };
    struct qs_rt_tensor *x = vector(xv, 2), *y = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_init_f32(&mb, "W", 1, dims, wv);
    mb_node(&mb, "Add", "add", "x,W", "y");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);

    qs_interp_set_hooks(interp, &hooks);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    assert_true(((float *)y->data)[0] == 21.0f);
    assert_true(((float *)y->data)[1] == 42.0f);
    qs_rt_unref(y);

    /* The substituted weight stays decoded: a second run does not call the hook again. */
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    assert_int_equal(calls, 1);
    assert_true(((float *)y->data)[1] == 42.0f);
    qs_rt_unref(y);

    /* Clearing the hooks drops the decoded weights, so the original values return. */
    qs_interp_set_hooks(interp, NULL);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    assert_true(((float *)y->data)[1] == 22.0f);
    qs_rt_unref(y);

    qs_rt_unref(x);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

static void
test_bad_shape_names_node(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    const float v[3] = { 1, 2, 3 };
    struct qs_rt_tensor *in[2] = { vector(v, 2), vector(v, 3) }, *y = (struct qs_rt_tensor *)1;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "a");
    mb_input(&mb, "b");
    mb_node(&mb, "Mul", "mul_1", "a,b", "y");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);

    assert_int_equal(qs_interp_run(interp, in, &y, &diag), QS_INVALID);
    assert_null(y);
    assert_true(diag_mentions(&diag, "node mul_1 (Mul)"));
    assert_true(diag_mentions(&diag, "cannot be broadcast"));

    qs_rt_unref(in[0]);
    qs_rt_unref(in[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

static void
test_memory_estimate_refuses(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    struct qs_interp_options opts = { .threads = 1, .memory_limit = 1000 };
    float *wv = qs_calloc(1000, sizeof(float));
    const int64_t dims[1] = { 1000 };
    const float xv[1] = { 1 };
    struct qs_rt_tensor *x = vector(xv, 1), *y = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_init_f32(&mb, "W", 1, dims, wv);
    mb_node(&mb, "Add", "add", "x,W", "y");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, &opts, &diag, &interp), QS_OK);

    /* The 4000-byte constant alone exceeds the 1000-byte limit. */
    assert_true(qs_interp_estimate_peak(interp, &x) >= 4000);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_INVALID);
    assert_true(diag_mentions(&diag, "estimated peak memory"));

    free(wv);
    qs_rt_unref(x);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/* A float value_info of one fixed dim, with all its parts. */
struct typed_info {
    Onnx__ValueInfoProto info;
    Onnx__TypeProto type;
    Onnx__TypeProto__Tensor tensor;
    Onnx__TensorShapeProto shape;
    Onnx__TensorShapeProto__Dimension dim;
    Onnx__TensorShapeProto__Dimension *dims[1];
};

static Onnx__ValueInfoProto *
typed_info(struct typed_info *ti, char *name, int64_t len)
{
    onnx__value_info_proto__init(&ti->info);
    onnx__type_proto__init(&ti->type);
    onnx__type_proto__tensor__init(&ti->tensor);
    onnx__tensor_shape_proto__init(&ti->shape);
    onnx__tensor_shape_proto__dimension__init(&ti->dim);
    ti->dim.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    ti->dim.dim_value = len;
    ti->dims[0] = &ti->dim;
    ti->shape.n_dim = 1;
    ti->shape.dim = ti->dims;
    ti->tensor.has_elem_type = 1;
    ti->tensor.elem_type = QS_DT_FLOAT;
    ti->tensor.shape = &ti->shape;
    ti->type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ti->type.tensor_type = &ti->tensor;
    ti->info.name = name;
    ti->info.type = &ti->type;
    return &ti->info;
}

/* An If branch: "mid" [mid_len] = Tile(x, reps), "out" [1] = ReduceSum(mid). */
struct tile_branch {
    Onnx__AttributeProto attr;
    Onnx__GraphProto graph;
    Onnx__NodeProto tile, sum;
    Onnx__NodeProto *nodes[2];
    char *tile_in[2], *tile_out[1], *sum_out[1];
    struct typed_info mid_info, out_info;
    Onnx__ValueInfoProto *value_info[1], *outputs[1];
};

static Onnx__AttributeProto *
tile_branch(struct tile_branch *b, char *attr_name, char *reps, char *mid, int64_t mid_len,
            char *out)
{
    onnx__attribute_proto__init(&b->attr);
    onnx__graph_proto__init(&b->graph);
    onnx__node_proto__init(&b->tile);
    onnx__node_proto__init(&b->sum);
    b->tile_in[0] = "x";
    b->tile_in[1] = reps;
    b->tile_out[0] = mid;
    b->sum_out[0] = out;
    b->tile.op_type = "Tile";
    b->tile.n_input = 2;
    b->tile.input = b->tile_in;
    b->tile.n_output = 1;
    b->tile.output = b->tile_out;
    b->sum.op_type = "ReduceSum";
    b->sum.n_input = 1;
    b->sum.input = b->tile_out;
    b->sum.n_output = 1;
    b->sum.output = b->sum_out;
    b->nodes[0] = &b->tile;
    b->nodes[1] = &b->sum;
    b->value_info[0] = typed_info(&b->mid_info, mid, mid_len);
    b->outputs[0] = typed_info(&b->out_info, out, 1);
    b->graph.name = attr_name;
    b->graph.n_node = 2;
    b->graph.node = b->nodes;
    b->graph.n_value_info = 1;
    b->graph.value_info = b->value_info;
    b->graph.n_output = 1;
    b->graph.output = b->outputs;
    b->attr.name = attr_name;
    b->attr.has_type = 1;
    b->attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    b->attr.g = &b->graph;
    return &b->attr;
}

/*
 * y = If(c) { then: ReduceSum(Tile(x, 16)) else: ReduceSum(Tile(x, 4)) }
 * with x of 250 floats.  The main graph alone never holds more than x
 * and c, but the then branch holds a 4000-float tile.
 */
static void
test_memory_estimate_counts_branches(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    struct qs_interp_options opts = { .threads = 1, .memory_limit = 10000 };
    struct tile_branch then_b, else_b;
    Onnx__NodeProto *if_node;
    const int64_t reps_dims[1] = { 1 }, then_reps[1] = { 16 }, else_reps[1] = { 4 };
    const float one[1] = { 1 };
    float xv[250];
    struct qs_rt_tensor *in[2], *y = NULL;
    struct qs_diag diag;

    (void)state;
    for (int i = 0; i < 250; i++)
        xv[i] = (float)(i % 5);
    in[0] = vector(xv, 250);
    in[1] = vector(one, 1);
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_input(&mb, "c");
    mb_init_raw(&mb, "then_reps", QS_DT_INT64, 1, reps_dims, then_reps, sizeof(then_reps));
    mb_init_raw(&mb, "else_reps", QS_DT_INT64, 1, reps_dims, else_reps, sizeof(else_reps));
    if_node = mb_node(&mb, "If", "if", "c", "y");
    if_node->attribute[if_node->n_attribute++] =
        tile_branch(&then_b, "then_branch", "then_reps", "t", 4000, "y_then");
    if_node->attribute[if_node->n_attribute++] =
        tile_branch(&else_b, "else_branch", "else_reps", "e", 1000, "y_else");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, &opts, &diag, &interp), QS_OK);

    /*
     * Constants 2 x 8 bytes.  While the If runs: x and c (1000 + 4 bytes)
     * plus the larger branch, the then branch's t and y_then (16000 + 4);
     * the else branch (4000 + 4) is not added.
     */
    assert_int_equal(qs_interp_estimate_peak(interp, in), 16 + 1004 + 16004);
    assert_int_equal(qs_interp_run(interp, in, &y, &diag), QS_INVALID);
    assert_null(y);
    assert_true(diag_mentions(&diag, "estimated peak memory of 17024 bytes exceeds the limit "
                                     "of 10000 bytes"));
    qs_interp_free(interp);

    /* Without the limit the model runs: 16 tiles of x sum to 16 * 500. */
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    assert_int_equal(qs_interp_run(interp, in, &y, &diag), QS_OK);
    assert_int_equal(y->count, 1);
    assert_true(((float *)y->data)[0] == 8000.0f);

    qs_rt_unref(y);
    qs_rt_unref(in[0]);
    qs_rt_unref(in[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/*
 * Transform hook state: whether each value owned its data on entry, the
 * tensor stored for "r" and the one "observe" then saw.  "bad_shape"
 * makes the hook return a replacement of the wrong shape.
 */
struct transform_watch {
    int unique_a, unique_r, calls;
    int bad_shape;
    const struct qs_rt_tensor *stored_r, *observed_r;
    float observed_a[4];
};

/* Round "r" to integers (a fake quantization with scale 1); every other value is kept. */
static enum qs_status
round_view(void *ctx, const struct qs_value *value, struct qs_rt_tensor **tensor)
{
    struct transform_watch *w = ctx;
    struct qs_rt_tensor *t = *tensor, *copy;
    int64_t n = w->bad_shape ? 3 : 4;

    w->calls++;
    if (strcmp(value->name, "a") == 0)
        w->unique_a = qs_rt_unique(t);
    if (strcmp(value->name, "r") != 0)
        return QS_OK;
    w->unique_r = qs_rt_unique(t);
    if (qs_rt_new(QS_DT_FLOAT, w->bad_shape ? 1 : t->rank, w->bad_shape ? &n : t->dims,
                  &copy) != QS_OK)
        return QS_INVALID;
    for (uint64_t i = 0; i < copy->count; i++)
        ((float *)copy->data)[i] = rintf(((const float *)t->data)[i]);
    qs_rt_unref(t);
    *tensor = copy;
    w->stored_r = copy;
    return QS_OK;
}

static enum qs_status
observe_transformed(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct transform_watch *w = ctx;

    if (strcmp(value->name, "r") == 0)
        w->observed_r = tensor;
    if (strcmp(value->name, "a") == 0)
        memcpy(w->observed_a, tensor->data, sizeof(w->observed_a));
    return QS_OK;
}

/*
 * x -> Relu -> a -> Reshape [2, 2] -> r -> Neg -> y, and a -> Abs -> z.
 * r is a view of a; the hook replaces it by a rounded copy, which Neg
 * must read, while a (and so z) keeps its values.
 */
static void
test_transform_replaces_view(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    struct transform_watch w = { 0 };
    struct qs_interp_hooks hooks = {
        .transform = round_view, .observe = observe_transformed, .ctx = &w,
    };
    const float xv[4] = { 0.4f, 1.6f, -2.0f, 2.5f };
    const float want_y[4] = { -0.0f, -2.0f, -0.0f, -2.0f }, want_z[4] = { 0.4f, 1.6f, 0, 2.5f };
    const int64_t shape[2] = { 2, 2 }, shape_dims[1] = { 2 };
    struct qs_rt_tensor *x = vector(xv, 4), *out[2] = { NULL, NULL };
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_init_raw(&mb, "shape", QS_DT_INT64, 1, shape_dims, shape, sizeof(shape));
    mb_node(&mb, "Relu", "relu", "x", "a");
    mb_node(&mb, "Reshape", "reshape", "a,shape", "r");
    mb_node(&mb, "Neg", "neg", "r", "y");
    mb_node(&mb, "Abs", "abs", "a", "z");
    mb_output(&mb, "y");
    mb_output(&mb, "z");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    qs_interp_set_hooks(interp, &hooks);
    assert_int_equal(qs_interp_run(interp, &x, out, &diag), QS_OK);

    /* Called for a, r, y and z; only r shared its data. */
    assert_int_equal(w.calls, 4);
    assert_true(w.unique_a);
    assert_false(w.unique_r);
    assert_ptr_equal(w.observed_r, w.stored_r);
    for (int i = 0; i < 4; i++) {
        assert_true(((float *)out[0]->data)[i] == want_y[i]);
        assert_true(((float *)out[1]->data)[i] == want_z[i]);
        assert_true(w.observed_a[i] == want_z[i]);
    }
    assert_int_equal(out[0]->rank, 2);
    qs_rt_unref(out[0]);
    qs_rt_unref(out[1]);

    /* A replacement of another shape stops the run, naming the node and the value. */
    w.bad_shape = 1;
    assert_int_equal(qs_interp_run(interp, &x, out, &diag), QS_INVALID);
    assert_null(out[0]);
    assert_null(out[1]);
    assert_true(diag_mentions(&diag, "node reshape (Reshape)"));
    assert_true(diag_mentions(&diag, "changed the type or shape of output 'r'"));

    qs_rt_unref(x);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/* Softmax before opset 13 normalizes over every dim from "axis" on; from 13 over one axis. */
static void
run_softmax(int64_t opset, float *out)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    const float v[4] = { 0, 0, 0, 0 };
    struct qs_rt_tensor *x, *y = NULL;
    const int64_t dims[2] = { 2, 2 };
    struct qs_diag diag;

    qs_diag_init(&diag);
    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, dims, &x), QS_OK);
    memcpy(x->data, v, sizeof(v));
    mb_init(&mb, opset);
    mb_input(&mb, "x");
    mb_attr_int(&mb, mb_node(&mb, "Softmax", "sm", "x", "y"), "axis", 0);
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    memcpy(out, y->data, 4 * sizeof(float));

    qs_rt_unref(x);
    qs_rt_unref(y);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

static void
test_softmax_axis_by_opset(void **state)
{
    float out[4];

    (void)state;
    run_softmax(11, out);
    assert_true(fabsf(out[0] - 0.25f) < 1e-6f);
    run_softmax(13, out);
    assert_true(fabsf(out[0] - 0.5f) < 1e-6f);
}

/* LpNormalization of [3, 4] along the last axis. */
static void
run_lp_norm(int64_t p, float *out)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    const float v[2] = { 3, 4 };
    struct qs_rt_tensor *x = vector(v, 2), *y = NULL;
    struct qs_diag diag;

    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_attr_int(&mb, mb_node(&mb, "LpNormalization", "lp", "x", "y"), "p", p);
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    memcpy(out, y->data, 2 * sizeof(float));

    qs_rt_unref(x);
    qs_rt_unref(y);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

static void
test_lp_normalization(void **state)
{
    float out[2];

    (void)state;
    run_lp_norm(2, out);
    assert_true(fabsf(out[0] - 0.6f) < 1e-6f);
    assert_true(fabsf(out[1] - 0.8f) < 1e-6f);
    run_lp_norm(1, out);
    assert_true(fabsf(out[0] - 3.0f / 7.0f) < 1e-6f);
    assert_true(fabsf(out[1] - 4.0f / 7.0f) < 1e-6f);
}

/* Nodes listed before their producers run in dependency order. */
static void
test_unsorted_graph_runs(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    const float xv[3] = { -1, 2, -3 };
    struct qs_rt_tensor *x = vector(xv, 3), *y = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_node(&mb, "Neg", "neg", "t", "y");
    mb_node(&mb, "Relu", "relu", "x", "t");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);

    assert_int_equal(qs_interp_run(interp, &x, &y, &diag), QS_OK);
    assert_int_equal(diag.count, 0);
    assert_non_null(y);
    assert_int_equal(y->count, 3);
    assert_true(((float *)y->data)[0] == 0.0f);
    assert_true(((float *)y->data)[1] == -2.0f);
    assert_true(((float *)y->data)[2] == 0.0f);

    qs_rt_unref(x);
    qs_rt_unref(y);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/*
 * y = If(c) with a = Relu(x).  The then branch lists y_then = Abs(t)
 * before t = Neg(a), and the else branch returns a.
 */
static void
test_unsorted_subgraph_runs(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp;
    Onnx__GraphProto then_g = ONNX__GRAPH_PROTO__INIT, else_g = ONNX__GRAPH_PROTO__INIT;
    Onnx__NodeProto abs_node = ONNX__NODE_PROTO__INIT, neg = ONNX__NODE_PROTO__INIT;
    Onnx__NodeProto *then_nodes[2] = { &abs_node, &neg }, *if_node;
    Onnx__ValueInfoProto then_out, else_out;
    Onnx__ValueInfoProto *then_outs[1] = { &then_out }, *else_outs[1] = { &else_out };
    Onnx__AttributeProto then_attr = ONNX__ATTRIBUTE_PROTO__INIT;
    Onnx__AttributeProto else_attr = ONNX__ATTRIBUTE_PROTO__INIT;
    char a_name[] = "a", t_name[] = "t", y_then[] = "y_then";
    char then_name[] = "then_branch", else_name[] = "else_branch";
    char neg_op[] = "Neg", neg_name[] = "neg", abs_op[] = "Abs", abs_name[] = "abs";
    char then_graph_name[] = "then", else_graph_name[] = "else";
    char *neg_in[1] = { a_name }, *neg_out[1] = { t_name };
    char *abs_in[1] = { t_name }, *abs_out[1] = { y_then };
    const float xv[2] = { -1, 3 }, one[1] = { 1 };
    struct qs_rt_tensor *in[2] = { vector(xv, 2), vector(one, 1) }, *y = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    neg.op_type = neg_op;
    neg.name = neg_name;
    neg.n_input = 1;
    neg.input = neg_in;
    neg.n_output = 1;
    neg.output = neg_out;
    abs_node.op_type = abs_op;
    abs_node.name = abs_name;
    abs_node.n_input = 1;
    abs_node.input = abs_in;
    abs_node.n_output = 1;
    abs_node.output = abs_out;
    then_g.name = then_graph_name;
    then_g.n_node = 2;
    then_g.node = then_nodes;
    then_g.n_output = 1;
    then_g.output = then_outs;
    untyped_output(&then_out, y_then);
    else_g.name = else_graph_name;
    else_g.n_output = 1;
    else_g.output = else_outs;
    untyped_output(&else_out, a_name);
    then_attr.name = then_name;
    then_attr.has_type = 1;
    then_attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    then_attr.g = &then_g;
    else_attr = then_attr;
    else_attr.name = else_name;
    else_attr.g = &else_g;

    /* The If is listed before Relu, whose output both branches read. */
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_input(&mb, "c");
    if_node = mb_node(&mb, "If", "if", "c", "y");
    if_node->attribute[if_node->n_attribute++] = &then_attr;
    if_node->attribute[if_node->n_attribute++] = &else_attr;
    mb_node(&mb, "Relu", "relu", "x", "a");
    mb_output(&mb, "y");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);

    assert_int_equal(qs_interp_run(interp, in, &y, &diag), QS_OK);
    assert_non_null(y);
    assert_true(((float *)y->data)[0] == 0.0f);
    assert_true(((float *)y->data)[1] == 3.0f);

    qs_rt_unref(y);
    qs_rt_unref(in[0]);
    qs_rt_unref(in[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

/* Add reads Neg's output and Neg reads Add's: no order can run them. */
static void
test_cycle_rejected(void **state)
{
    struct model_builder mb;
    struct qs_model *model;
    struct qs_interp *interp = NULL;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    mb_init(&mb, 13);
    mb_input(&mb, "x");
    mb_node(&mb, "Relu", "relu", "x", "r");
    mb_node(&mb, "Add", "n", "r,b", "a");
    mb_node(&mb, "Neg", "m", "a", "b");
    mb_output(&mb, "a");
    assert_int_equal(mb_load(&mb, NULL, &diag, &model), QS_OK);

    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_INVALID);
    assert_null(interp);
    assert_true(diag_mentions(&diag, "graph 'test' has a cycle through node 'n' (Add)"));
    qs_model_free(model);
    mb_done(&mb);
    qs_diag_done(&diag);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_names_missing_op),
        cmocka_unit_test(test_observer_and_release),
        cmocka_unit_test(test_if_keeps_outer_value),
        cmocka_unit_test(test_weight_hook_substitutes),
        cmocka_unit_test(test_transform_replaces_view),
        cmocka_unit_test(test_bad_shape_names_node),
        cmocka_unit_test(test_memory_estimate_refuses),
        cmocka_unit_test(test_memory_estimate_counts_branches),
        cmocka_unit_test(test_softmax_axis_by_opset),
        cmocka_unit_test(test_lp_normalization),
        cmocka_unit_test(test_unsorted_graph_runs),
        cmocka_unit_test(test_unsorted_subgraph_runs),
        cmocka_unit_test(test_cycle_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
