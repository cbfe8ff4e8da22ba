/*
 * The interpreter on the shared cases about DequantizeLinear: the opset
 * default axis (a per-axis scale that does not fit axis 1 is an error
 * naming the node, axis, dim and scale length) and blocked quantization
 * of opset 21 (contiguous blocks, a partial last block).  Skipped when
 * QSCOPE_TESTDATA is not set.
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

static struct qs_model *
load_case(const char *name)
{
    const char *root = getenv("QSCOPE_TESTDATA");
    char path[4096];
    struct qs_model *model = NULL;

    if (!root || !*root)
        return NULL;
    snprintf(path, sizeof(path), "%s/cases/%s/model.onnx", root, name);
    assert_int_equal(qs_model_load(path, NULL, NULL, &model), QS_OK);
    return model;
}

/* Zero-filled run inputs of the declared shapes (unknown dims become 1). */
static void
make_inputs(const struct qs_interp *interp, struct qs_rt_tensor **in)
{
    for (size_t i = 0; i < qs_interp_n_inputs(interp); i++) {
        const struct qs_value *v = qs_interp_input(interp, i);
        int64_t dims[QS_RT_MAX_RANK];

        for (int d = 0; d < v->type.rank; d++)
            dims[d] = v->type.dims[d].value > 0 ? v->type.dims[d].value : 1;
        assert_int_equal(qs_rt_new(v->type.elem, v->type.rank, dims, &in[i]), QS_OK);
    }
}

static void
check_values(const struct qs_rt_tensor *t, const float *want, size_t n, const char *what)
{
    assert_int_equal(t->count, n);
    for (size_t i = 0; i < n; i++) {
        float got = ((const float *)t->data)[i];

        if (fabsf(got - want[i]) > 1e-5f * (1 + fabsf(want[i]))) {
            print_error("%s[%zu]: got %.9g, expected %.9g\n", what, i, (double)got,
                        (double)want[i]);
            fail();
        }
    }
}

static void
test_default_axis_mismatch_rejected(void **state)
{
    struct qs_model *model = load_case("21-dequantize-default-axis");
    struct qs_interp *interp;
    struct qs_rt_tensor *in[2] = { NULL, NULL }, *out[2] = { NULL, NULL };
    struct qs_diag diag;

    (void)state;
    if (!model)
        skip();
    qs_diag_init(&diag);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    make_inputs(interp, in);

    assert_int_equal(qs_interp_run(interp, in, out, &diag), QS_INVALID);
    assert_null(out[0]);
    assert_true(diag.count >= 1);
    assert_non_null(strstr(diag.lines[0], "node dq_conv_no_axis (DequantizeLinear)"));
    assert_non_null(strstr(diag.lines[0], "scale has 3 elements but axis 1 has size 2"));

    qs_rt_unref(in[0]);
    qs_rt_unref(in[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    qs_diag_done(&diag);
}

/* Keeps a reference to the folded weight "Bw". */
static enum qs_status
keep_bw(void *ctx, const struct qs_value *value, struct qs_rt_tensor *tensor)
{
    struct qs_rt_tensor **bw = ctx;

    if (strcmp(value->name, "Bw") == 0)
        *bw = qs_rt_ref(tensor);
    return QS_OK;
}

static void
test_blocked_dequantize(void **state)
{
    /* From the case's reference numbers. */
    static const float a_want[12] = {
        -0.300000004f, -6.8000001f, -8.10000012f, 17.8000003f, -15.8000002f, 21.4000003f,
        -37.2000015f, 22.8000009f, -36.3000014f, -12.8000002f, -11.2000002f, 14.4000002f,
    };
    static const float bw_want[10] = {
        -54.5f, 0.550000008f, -29.5f, 2.00000003f, -3.5f, 2.95000004f,
        -16.0f, 2.25000003f, -12.125f, 1.50000002f,
    };
    struct qs_model *model = load_case("22-dequantize-block-size-opset21");
    struct qs_rt_tensor *bw = NULL;
    struct qs_interp_hooks hooks = { .weight = keep_bw, .ctx = &bw };
    struct qs_interp *interp;
    struct qs_rt_tensor *in[1] = { NULL }, *out[2] = { NULL, NULL };
    struct qs_diag diag;

    (void)state;
    if (!model)
        skip();
    qs_diag_init(&diag);
    assert_int_equal(qs_interp_new(model, NULL, &diag, &interp), QS_OK);
    qs_interp_set_hooks(interp, &hooks);
    make_inputs(interp, in);

    assert_int_equal(qs_interp_run(interp, in, out, &diag), QS_OK);
    check_values(out[0], a_want, 12, "A");
    assert_non_null(bw);
    assert_int_equal(bw->rank, 2);
    assert_int_equal(bw->dims[0], 5);
    check_values(bw, bw_want, 10, "Bw");

    qs_rt_unref(bw);
    qs_rt_unref(in[0]);
    qs_rt_unref(out[0]);
    qs_rt_unref(out[1]);
    qs_interp_free(interp);
    qs_model_free(model);
    qs_diag_done(&diag);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_axis_mismatch_rejected),
        cmocka_unit_test(test_blocked_dequantize),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
