/*
 * Interpreter kernels against small cases computed by hand: convolution
 * with pads, strides, dilations and groups (im2col, 1x1 and depthwise
 * paths), 1-D convolution, transposed convolution with pads and
 * output_padding, and the Resize tap tables of each mode.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "interp/conv.h"
#include "interp/internal.h"
#include "interp/resize.h"

static void
check_floats(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (fabsf(got[i] - want[i]) > 1e-5f) {
            print_error("%s[%zu]: got %g, expected %g\n", what, i, (double)got[i], (double)want[i]);
            fail();
        }
    }
}

/* A 2-D convolution geometry with the same settings on both axes. */
static struct conv_params
conv2d(int64_t c, int64_t m, int64_t group, int64_t in, int64_t k, int64_t stride,
       int64_t dilation, int64_t pad)
{
    struct conv_params p;

    memset(&p, 0, sizeof(p));
    p.nd = 2;
    p.batch = 1;
    p.in_channels = c;
    p.out_channels = m;
    p.group = group;
    for (int i = 0; i < 2; i++) {
        p.in[i] = in;
        p.kernel[i] = k;
        p.stride[i] = stride;
        p.dilation[i] = dilation;
        p.pad_begin[i] = p.pad_end[i] = pad;
        p.out[i] = conv_out_len(in, k, stride, dilation, pad, pad);
    }
    return p;
}

static void
test_conv_pads_strides(void **state)
{
    struct conv_params p = conv2d(1, 1, 1, 4, 3, 2, 1, 1);
    float x[16], w[9], y[4];
    /* Sums of the 3x3 windows around (0,0), (0,2), (2,0), (2,2) of 0..15, zero outside. */
    const float want[4] = { 10, 24, 51, 90 };

    (void)state;
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    assert_int_equal(p.out[0], 2);
    assert_int_equal(p.out[1], 2);
    conv_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 4, "y");
}

static void
test_conv_dilation(void **state)
{
    struct conv_params p = conv2d(1, 1, 1, 5, 2, 1, 2, 0);
    float x[25], w[4] = { 1, 1, 1, 1 }, y[9];
    /* x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2] of 0..24: 24 + 4 per column, 20 per row. */
    const float want[9] = { 24, 28, 32, 44, 48, 52, 64, 68, 72 };

    (void)state;
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    assert_int_equal(p.out[0], 3);
    conv_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 9, "y");
}

static void
test_conv_groups_with_bias(void **state)
{
    struct conv_params p = conv2d(4, 2, 2, 1, 1, 1, 1, 0);
    /* Group 0 sees channels 1 and 2, group 1 sees 3 and 4. */
    float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 1, 1, -1 }, b[2] = { 0.5f, -0.5f }, y[2];
    const float want[2] = { 3.5f, -1.5f };

    (void)state;
    conv_forward(NULL, &p, x, w, b, y);
    check_floats(y, want, 2, "y");
}

static void
test_conv_depthwise_padded(void **state)
{
    struct conv_params p = conv2d(2, 2, 2, 3, 3, 1, 1, 1);
    float x[18], w[18], y[18];
    /* Channel 0 holds 0..8, channel 1 ones; 3x3 windows of ones with zero padding. */
    const float want[18] = {
        8, 15, 12, 21, 36, 27, 20, 33, 24,
        4, 6, 4, 6, 9, 6, 4, 6, 4,
    };

    (void)state;
    for (int i = 0; i < 9; i++) {
        x[i] = (float)i;
        x[9 + i] = 1;
    }
    for (int i = 0; i < 18; i++)
        w[i] = 1;
    conv_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 18, "y");
}

static void
test_conv_depthwise_multiplier_stride(void **state)
{
    struct conv_params p = conv2d(1, 2, 1, 4, 2, 2, 1, 0);
    float x[16], w[8] = { 1, 0, 0, 0, 0, 0, 0, 1 }, y[8];
    /* Output channel 0 picks the top-left of each 2x2 block, channel 1 the bottom-right. */
    const float want[8] = { 0, 2, 8, 10, 5, 7, 13, 15 };

    (void)state;
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    conv_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 8, "y");
}

static void
test_conv_1d(void **state)
{
    struct conv_params p;
    float x[5] = { 1, 2, 3, 4, 5 }, w[3] = { 1, 0, -1 }, y[5];
    /* y[i] = x[i-1] - x[i+1] with zeros outside. */
    const float want[5] = { -2, -2, -2, -2, 4 };

    (void)state;
    memset(&p, 0, sizeof(p));
    p.nd = 1;
    p.batch = p.in_channels = p.out_channels = p.group = 1;
    p.in[0] = 5;
    p.kernel[0] = 3;
    p.stride[0] = p.dilation[0] = 1;
    p.pad_begin[0] = p.pad_end[0] = 1;
    p.out[0] = conv_out_len(5, 3, 1, 1, 1, 1);
    assert_int_equal(p.out[0], 5);
    conv_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 5, "y");
}

static void
test_conv_transpose_output_padding(void **state)
{
    struct conv_params p = conv2d(1, 1, 1, 2, 2, 2, 1, 0);
    float x[4] = { 1, 2, 3, 4 }, w[4] = { 1, 1, 1, 1 }, b[1] = { 0.5f }, y[25];
    /*
     * Each input spreads over its 2x2 block; output_padding adds a last row and column of bias
     * only.
     */
    const float want[25] = {
        1.5f, 1.5f, 2.5f, 2.5f, 0.5f,
        1.5f, 1.5f, 2.5f, 2.5f, 0.5f,
        3.5f, 3.5f, 4.5f, 4.5f, 0.5f,
        3.5f, 3.5f, 4.5f, 4.5f, 0.5f,
        0.5f, 0.5f, 0.5f, 0.5f, 0.5f,
    };

    (void)state;
    p.out[0] = p.out[1] = 2 * (2 - 1) + 2 + 1;     /* stride * (in - 1) + kernel + output_padding */
    conv_transpose_forward(NULL, &p, x, w, b, y);
    check_floats(y, want, 25, "y");
}

static void
test_conv_transpose_pads(void **state)
{
    struct conv_params p = conv2d(1, 1, 1, 3, 3, 1, 1, 1);
    float x[9], w[9], y[9];
    /*
     * The full 5x5 overlap counts are r(i) * r(j) with r = 1 2 3 2 1; pads crop one on each
     * side.
     */
    const float want[9] = { 4, 6, 4, 6, 9, 6, 4, 6, 4 };

    (void)state;
    for (int i = 0; i < 9; i++)
        x[i] = w[i] = 1;
    p.out[0] = p.out[1] = 3;
    conv_transpose_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 9, "y");
}

static void
test_conv_transpose_groups(void **state)
{
    struct conv_params p = conv2d(2, 2, 2, 1, 1, 1, 1, 0);
    float x[2] = { 2, 3 }, w[2] = { 10, 100 }, y[2];
    const float want[2] = { 20, 300 };

    (void)state;
    conv_transpose_forward(NULL, &p, x, w, NULL, y);
    check_floats(y, want, 2, "y");
}

static void
test_conv_same_pads(void **state)
{
    int64_t b, e;

    (void)state;
    /* in 5, kernel 2, stride 2: out 3 needs one pad, at the end for SAME_UPPER. */
    conv_same_pads(5, 2, 2, 1, 1, &b, &e);
    assert_int_equal(b, 0);
    assert_int_equal(e, 1);
    conv_same_pads(5, 2, 2, 1, 0, &b, &e);
    assert_int_equal(b, 1);
    assert_int_equal(e, 0);
    conv_same_pads(4, 3, 1, 2, 1, &b, &e);
    assert_int_equal(b, 2);
    assert_int_equal(e, 2);
}

/* ---- Resize ---------------------------------------------------------------- */

static struct resize_axis_params
axis_params(enum resize_mode mode, enum resize_coord coord, enum resize_nearest nearest,
            int64_t in, int64_t out, float scale)
{
    struct resize_axis_params p;

    memset(&p, 0, sizeof(p));
    p.mode = mode;
    p.coord = coord;
    p.nearest = nearest;
    p.cubic_a = -0.75f;
    p.in_len = in;
    p.out_len = out;
    p.scale = scale;
    p.roi_end = 1;
    return p;
}

static void
check_taps(const struct resize_axis_params *p, int taps, const int64_t *index, const float *weight)
{
    struct resize_taps t;

    resize_taps_init(p, &t);
    assert_int_equal(t.taps, taps);
    for (int64_t i = 0; i < p->out_len * taps; i++) {
        assert_int_equal(t.index[i], index[i]);
        if (weight && t.index[i] >= 0 && fabsf(t.weight[i] - weight[i]) > 1e-6f) {
            print_error("weight[%lld]: got %g, expected %g\n", (long long)i, (double)t.weight[i],
                        (double)weight[i]);
            fail();
        }
    }
    resize_taps_done(&t);
}

static void
test_resize_nearest_asymmetric(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_NEAREST, COORD_ASYMMETRIC,
                                              NEAREST_ROUND_PREFER_FLOOR, 4, 8, 2.0f);
    /* x / 2 = 0, 0.5, 1, 1.5 ...: halves round down. */
    const int64_t index[8] = { 0, 0, 1, 1, 2, 2, 3, 3 };

    (void)state;
    check_taps(&p, 1, index, NULL);
}

static void
test_resize_nearest_half_pixel_ceil(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_NEAREST, COORD_HALF_PIXEL,
                                              NEAREST_ROUND_PREFER_CEIL, 2, 4, 2.0f);
    /* (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> 0 (clamped), 0, 1, 1. */
    const int64_t index[4] = { 0, 0, 1, 1 };

    (void)state;
    check_taps(&p, 1, index, NULL);
    assert_true(fabsf(resize_source_coord(&p, 0) + 0.25f) < 1e-6f);
}

static void
test_resize_nearest_floor_and_simple(void **state)
{
    struct resize_axis_params floor_mode = axis_params(RESIZE_NEAREST, COORD_HALF_PIXEL,
                                                       NEAREST_FLOOR, 4, 2, 0.5f);
    struct resize_axis_params simple = axis_params(RESIZE_NEAREST, COORD_ASYMMETRIC, NEAREST_SIMPLE,
                                                   5, 2, 0.5f);
    /*
     * half_pixel at scale 1/2: 0.5, 2.5 -> floor 0, 2.  Opset-10 downsampling takes ceil of
     * x / scale = 0, 2.
     */
    const int64_t floor_index[2] = { 0, 2 }, simple_index[2] = { 0, 2 };

    (void)state;
    check_taps(&floor_mode, 1, floor_index, NULL);
    check_taps(&simple, 1, simple_index, NULL);
}

static void
test_resize_linear_half_pixel(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_LINEAR, COORD_HALF_PIXEL,
                                              NEAREST_ROUND_PREFER_FLOOR, 2, 4, 2.0f);
    /* Coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1). */
    const int64_t index[8] = { 0, 1, 0, 1, 0, 1, 1, 1 };
    const float weight[8] = { 1, 0, 0.75f, 0.25f, 0.25f, 0.75f, 1, 0 };

    (void)state;
    check_taps(&p, 2, index, weight);
}

static void
test_resize_linear_align_corners(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_LINEAR, COORD_ALIGN_CORNERS,
                                              NEAREST_ROUND_PREFER_FLOOR, 3, 5, 5.0f / 3.0f);
    /* x * (3 - 1) / (5 - 1) = 0, 0.5, 1, 1.5, 2. */
    const int64_t index[10] = { 0, 1, 0, 1, 1, 2, 1, 2, 2, 2 };
    const float weight[10] = { 1, 0, 0.5f, 0.5f, 1, 0, 0.5f, 0.5f, 1, 0 };

    (void)state;
    check_taps(&p, 2, index, weight);
}

static void
test_resize_cubic_weights(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_CUBIC, COORD_ASYMMETRIC,
                                              NEAREST_ROUND_PREFER_FLOOR, 4, 8, 2.0f);
    struct resize_axis_params excl = p;
    /* Output 3 reads x = 1.5: taps 0..3 with the Keys weights of a = -0.75 at t = 0.5. */
    const int64_t index[32] = {
        0, 0, 1, 2,   0, 0, 1, 2,   0, 1, 2, 3,   0, 1, 2, 3,
        1, 2, 3, 3,   1, 2, 3, 3,   2, 3, 3, 3,   2, 3, 3, 3,
    };
    struct resize_taps t;

    (void)state;
    check_taps(&p, 4, index, NULL);
    resize_taps_init(&p, &t);
    assert_true(fabsf(t.weight[12] + 0.09375f) < 1e-6f);
    assert_true(fabsf(t.weight[13] - 0.59375f) < 1e-6f);
    assert_true(fabsf(t.weight[14] - 0.59375f) < 1e-6f);
    assert_true(fabsf(t.weight[15] + 0.09375f) < 1e-6f);
    resize_taps_done(&t);

    /* exclude_outside drops the tap at -1 of output 1 (x = 0.5) and renormalizes the rest. */
    excl.exclude_outside = 1;
    resize_taps_init(&excl, &t);
    assert_true(fabsf(t.weight[4]) < 1e-6f);
    assert_true(fabsf(t.weight[5] + t.weight[6] + t.weight[7] - 1.0f) < 1e-6f);
    assert_true(fabsf(t.weight[5] - 0.59375f / 1.09375f) < 1e-6f);
    resize_taps_done(&t);
}

static void
test_resize_crop_extrapolation(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_LINEAR, COORD_TF_CROP_AND_RESIZE,
                                              NEAREST_ROUND_PREFER_FLOOR, 3, 3, 1.0f);
    /* roi 0 .. 2 of a 3-long axis: coordinates 0, 2, 4; the last is outside. */
    const int64_t index[6] = { 0, 1, 2, 2, -1, 0 };

    (void)state;
    p.roi_start = 0;
    p.roi_end = 2;
    check_taps(&p, 2, index, NULL);
}

static void
test_resize_pytorch_single_output(void **state)
{
    struct resize_axis_params p = axis_params(RESIZE_LINEAR, COORD_PYTORCH_HALF_PIXEL,
                                              NEAREST_ROUND_PREFER_FLOOR, 4, 1, 0.25f);

    (void)state;
    assert_true(resize_source_coord(&p, 0) == 0.0f);
}

/* A buffer taken back from the cache is zeroed again when a zeroed tensor asks for it. */
static void
test_cache_reuse_zeroed(void **state)
{
    int64_t dims[2] = { 64, 1024 };
    struct qs_rt_tensor *t, *u;
    void *first;
    int zero = 1;

    (void)state;
    rt_cache_attach();
    assert_int_equal(rt_new(QS_DT_FLOAT, 2, dims, 0, &t), QS_OK);
    for (uint64_t i = 0; i < t->count; i++)
        rt_f(t)[i] = 7.0f;
    first = t->data;
    qs_rt_unref(t);
    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, dims, &u), QS_OK);
    assert_ptr_equal(u->data, first);
    for (uint64_t i = 0; i < u->count; i++)
        zero &= rt_f(u)[i] == 0.0f;
    assert_true(zero);
    qs_rt_unref(u);
    rt_cache_detach();
}

struct bcast_record {
    float *out;
    const float *a, *b;
};

static void
record_sum(void *ctx, uint64_t out, const int64_t *off, const int64_t *steps, int64_t len)
{
    struct bcast_record *r = ctx;

    for (int64_t i = 0; i < len; i++)
        r->out[out + (uint64_t)i] = r->a[off[0] + i * steps[0]] + r->b[off[1] + i * steps[1]];
}

/*
 * [3, 40000] + [3, 1] on two threads: 8 blocks in four chunks, so the
 * third chunk starts inside row 1 (element 65536); every element once.
 */
static void
test_bcast_blocks_cover_rows(void **state)
{
    int64_t da[2] = { 3, 40000 }, db[2] = { 3, 1 };
    struct qs_rt_tensor *a, *b;
    const struct qs_rt_tensor *ts[2];
    struct interp_bcast bc;
    struct bcast_record r;
    struct interp_exec ex = { .threads = 2 };
    struct interp_call call = { .ex = &ex };
    int ok = 1;

    (void)state;
    ex.pool = interp_pool_new(2);
    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, da, &a), QS_OK);
    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, db, &b), QS_OK);
    for (uint64_t i = 0; i < a->count; i++)
        rt_f(a)[i] = (float)i;
    for (int i = 0; i < 3; i++)
        rt_f(b)[i] = (float)(i + 1) * 1000000.0f;
    ts[0] = a;
    ts[1] = b;
    assert_int_equal(interp_bcast_init(NULL, &bc, 2, ts), QS_OK);
    r.out = test_malloc(a->count * sizeof(float));
    r.a = rt_f(a);
    r.b = rt_f(b);
    for (uint64_t i = 0; i < a->count; i++)
        r.out[i] = -1.0f;
    interp_bcast_for_par(&call, &bc, record_sum, &r);
    for (uint64_t i = 0; i < a->count; i++)
        ok &= r.out[i] == (float)i + (float)(i / 40000 + 1) * 1000000.0f;
    assert_true(ok);
    assert_int_equal(bc.crank, 2);
    interp_pool_free(ex.pool);
    test_free(r.out);
    qs_rt_unref(a);
    qs_rt_unref(b);
}

/* Per index: how many chunks covered it, and the end of a chunk starting there. */
struct chunk_record {
    int hits[1000];
    int64_t end_at[1000];
};

static void
record_chunk(void *ctx, int64_t begin, int64_t end)
{
    struct chunk_record *r = ctx;

    r->end_at[begin] = end;
    for (int64_t i = begin; i < end; i++)
        r->hits[i]++;
}

/*
 * [0, 1000) in chunks of at least 10: 32 chunks at most, so 1000 / 32 =
 * 31 rest 8, the first 8 chunks of 32 and the others of 31, whatever the
 * thread count; every index once.  Many tiny jobs in a row then check
 * that no job is lost or run twice across the pool's generations.
 */
static void
test_pool_fixed_chunks(void **state)
{
    static struct chunk_record r;
    struct interp_exec ex = { 0 };
    struct interp_call call = { .ex = &ex };
    int64_t start = 0;
    int ok = 1;

    (void)state;
    for (int threads = 2; threads <= 3; threads++) {
        memset(&r, 0, sizeof(r));
        ex.threads = threads;
        ex.pool = interp_pool_new(threads);
        interp_parallel_for(&call, 1000, 10, record_chunk, &r);
        start = 0;
        for (int c = 0; c < 32; c++) {
            assert_int_equal(r.end_at[start], start + (c < 8 ? 32 : 31));
            start = r.end_at[start];
        }
        assert_int_equal(start, 1000);
        for (int i = 0; i < 1000; i++)
            ok &= r.hits[i] == 1;
        assert_true(ok);

        memset(&r, 0, sizeof(r));
        for (int job = 0; job < 5000; job++)
            interp_parallel_for(&call, 4, 1, record_chunk, &r);
        for (int i = 0; i < 4; i++)
            assert_int_equal(r.hits[i], 5000);
        interp_pool_free(ex.pool);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_reuse_zeroed),
        cmocka_unit_test(test_bcast_blocks_cover_rows),
        cmocka_unit_test(test_pool_fixed_chunks),
        cmocka_unit_test(test_conv_pads_strides),
        cmocka_unit_test(test_conv_dilation),
        cmocka_unit_test(test_conv_groups_with_bias),
        cmocka_unit_test(test_conv_depthwise_padded),
        cmocka_unit_test(test_conv_depthwise_multiplier_stride),
        cmocka_unit_test(test_conv_1d),
        cmocka_unit_test(test_conv_transpose_output_padding),
        cmocka_unit_test(test_conv_transpose_pads),
        cmocka_unit_test(test_conv_transpose_groups),
        cmocka_unit_test(test_conv_same_pads),
        cmocka_unit_test(test_resize_nearest_asymmetric),
        cmocka_unit_test(test_resize_nearest_half_pixel_ceil),
        cmocka_unit_test(test_resize_nearest_floor_and_simple),
        cmocka_unit_test(test_resize_linear_half_pixel),
        cmocka_unit_test(test_resize_linear_align_corners),
        cmocka_unit_test(test_resize_cubic_weights),
        cmocka_unit_test(test_resize_crop_extrapolation),
        cmocka_unit_test(test_resize_pytorch_single_output),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
