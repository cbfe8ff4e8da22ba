/*
 * Tensor files: .npy headers of each format version and element type,
 * the files the reader must reject, and TensorProto messages with typed
 * fields, raw data and 16-bit floats.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dtype.h"
#include "interp/interp.h"
#include "onnx.pb-c.h"

/* A .npy file of format "major" with "header" (padded with spaces) followed by "data". */
static size_t
make_npy(uint8_t *buf, int major, const char *header, const void *data, size_t data_len)
{
    size_t start = major == 1 ? 10 : 12, hlen = strlen(header) + 1;

    hlen += (64 - (start + hlen) % 64) % 64;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    for (size_t i = 0; i < (major == 1 ? 2u : 4u); i++)
        buf[8 + i] = (uint8_t)(hlen >> (8 * i));
    memset(buf + start, ' ', hlen);
    memcpy(buf + start, header, strlen(header));
    buf[start + hlen - 1] = '\n';
    memcpy(buf + start + hlen, data, data_len);
    return start + hlen + data_len;
}

static void
test_npy_float32_v1(void **state)
{
    uint8_t buf[256];
    const float v[6] = { 1, 2, 3, 4, 5, 6 };
    size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                        v, sizeof(v));
    struct qs_rt_tensor *t;

    (void)state;
    assert_int_equal(qs_rt_parse_npy(buf, n, "a.npy", NULL, &t), QS_OK);
    assert_int_equal(t->dtype, QS_DT_FLOAT);
    assert_int_equal(t->rank, 2);
    assert_int_equal(t->dims[0], 2);
    assert_int_equal(t->dims[1], 3);
    assert_true(((float *)t->data)[5] == 6.0f);
    qs_rt_unref(t);
}

static void
test_npy_int64_v2_and_scalar_bool_v3(void **state)
{
    uint8_t buf[256];
    const int64_t v[3] = { -5, 0, 1LL << 40 };
    const uint8_t b = 1;
    size_t n = make_npy(buf, 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                        v, sizeof(v));
    struct qs_rt_tensor *t;

    (void)state;
    assert_int_equal(qs_rt_parse_npy(buf, n, "b.npy", NULL, &t), QS_OK);
    assert_int_equal(t->dtype, QS_DT_INT64);
    assert_int_equal(t->rank, 1);
    assert_true(((int64_t *)t->data)[0] == -5);
    assert_true(((int64_t *)t->data)[2] == 1LL << 40);
    qs_rt_unref(t);

    n = make_npy(buf, 3, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", &b, 1);
    assert_int_equal(qs_rt_parse_npy(buf, n, "c.npy", NULL, &t), QS_OK);
    assert_int_equal(t->dtype, QS_DT_BOOL);
    assert_int_equal(t->rank, 0);
    assert_true(((int64_t *)t->data)[0] == 1);
    qs_rt_unref(t);
}

static void
test_npy_half_and_uint8(void **state)
{
    uint8_t buf[256];
    const uint16_t h[2] = { 0x3c00, 0xc000 };        /* 1.0 and -2.0 */
    const uint8_t u[2] = { 7, 255 };
    size_t n = make_npy(buf, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                        h, sizeof(h));
    struct qs_rt_tensor *t;

    (void)state;
    assert_int_equal(qs_rt_parse_npy(buf, n, "d.npy", NULL, &t), QS_OK);
    assert_int_equal(t->dtype, QS_DT_FLOAT16);
    assert_true(((float *)t->data)[1] == -2.0f);
    qs_rt_unref(t);

    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", u, sizeof(u));
    assert_int_equal(qs_rt_parse_npy(buf, n, "e.npy", NULL, &t), QS_OK);
    assert_true(((int64_t *)t->data)[1] == 255);
    qs_rt_unref(t);
}

static void
test_npy_rejects(void **state)
{
    uint8_t buf[256];
    const float v[2] = { 1, 2 };
    struct qs_rt_tensor *t;
    size_t n;

    (void)state;
    n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", v, sizeof(v));
    assert_int_equal(qs_rt_parse_npy(buf, n, "be.npy", NULL, &t), QS_UNSUPPORTED);
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", v, sizeof(v));
    assert_int_equal(qs_rt_parse_npy(buf, n, "f.npy", NULL, &t), QS_UNSUPPORTED);
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, sizeof(v));
    assert_int_equal(qs_rt_parse_npy(buf, n, "short.npy", NULL, &t), QS_INVALID);
    n = make_npy(buf, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", v, sizeof(v));
    assert_int_equal(qs_rt_parse_npy(buf, n, "complex.npy", NULL, &t), QS_UNSUPPORTED);
    assert_int_equal(qs_rt_parse_npy("not npy", 7, "x.npy", NULL, &t), QS_INVALID);
    assert_null(t);
}

/* Serialize "tp" and parse it back. */
static enum qs_status
round_trip(const Onnx__TensorProto *tp, struct qs_rt_tensor **out)
{
    size_t size = onnx__tensor_proto__get_packed_size(tp);
    uint8_t *buf = qs_malloc(size + 1);
    enum qs_status st;

    onnx__tensor_proto__pack(tp, buf);
    st = qs_rt_parse_pb(buf, size, "t.pb", NULL, out);
    free(buf);
    return st;
}

static void
test_pb_float_data_and_raw(void **state)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[2] = { 1, 2 };
    float values[2] = { 0.5f, -4.0f };
    struct qs_rt_tensor *t;

    (void)state;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = QS_DT_FLOAT;
    tp.n_float_data = 2;
    tp.float_data = values;
    assert_int_equal(round_trip(&tp, &t), QS_OK);
    assert_int_equal(t->rank, 2);
    assert_true(((float *)t->data)[1] == -4.0f);
    qs_rt_unref(t);

    tp.n_float_data = 0;
    tp.has_raw_data = 1;
    tp.raw_data.len = sizeof(values);
    tp.raw_data.data = (uint8_t *)values;
    assert_int_equal(round_trip(&tp, &t), QS_OK);
    assert_true(((float *)t->data)[0] == 0.5f);
    qs_rt_unref(t);

    /* Raw data one element short is rejected. */
    tp.raw_data.len = sizeof(float);
    assert_int_equal(round_trip(&tp, &t), QS_INVALID);
}

static void
test_pb_half_in_int32_data(void **state)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[1] = { 2 };
    int32_t bits[2] = { 0x3800, 0x7c00 };            /* 0.5 and +inf */
    struct qs_rt_tensor *t;

    (void)state;
    tp.n_dims = 1;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = QS_DT_FLOAT16;
    tp.n_int32_data = 2;
    tp.int32_data = bits;
    assert_int_equal(round_trip(&tp, &t), QS_OK);
    assert_int_equal(t->dtype, QS_DT_FLOAT16);
    assert_true(((float *)t->data)[0] == 0.5f);
    assert_true(isinf(((float *)t->data)[1]));
    qs_rt_unref(t);
}

static void
test_pb_rejects_strings_and_garbage(void **state)
{
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    struct qs_rt_tensor *t;

    (void)state;
    tp.has_data_type = 1;
    tp.data_type = QS_DT_STRING;
    assert_int_equal(round_trip(&tp, &t), QS_UNSUPPORTED);
    assert_int_equal(qs_rt_parse_pb("\xff\xff\xff", 3, "bad.pb", NULL, &t), QS_INVALID);
    assert_null(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_float32_v1),
        cmocka_unit_test(test_npy_int64_v2_and_scalar_bool_v3),
        cmocka_unit_test(test_npy_half_and_uint8),
        cmocka_unit_test(test_npy_rejects),
        cmocka_unit_test(test_pb_float_data_and_raw),
        cmocka_unit_test(test_pb_half_in_int32_data),
        cmocka_unit_test(test_pb_rejects_strings_and_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
