/*
 * Activation calibration: the histogram's range doubling against a
 * one-pass histogram, the census figures, the .qstats round trip and its
 * validation.
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
#include <unistd.h>
#include <cmocka.h>

#include "calib.h"
#include "interp/interp.h"

/* A SHA-256 in hex for files built by hand. */
#define FAKE_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmp_dir[] = "/tmp/qscope-calib-test.XXXXXX";

static int
setup_dir(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int
remove_dir(void **state)
{
    char command[256];

    (void)state;
    snprintf(command, sizeof(command), "rm -rf '%s'", tmp_dir);
    return system(command) == 0 ? 0 : -1;
}

/* Path of "name" in the test's folder (static buffer). */
static const char *
tmp_path(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    return path;
}

static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* ---- histogram ----------------------------------------------------------- */

static void
test_census_figures(void **state)
{
    const float data[] = { 0.0f, -0.0f, -4.0f, 2.0f, NAN, INFINITY, 1.5f };
    struct qs_calib_tensor t = { .min = NAN, .max = NAN, .absmax = NAN };

    (void)state;
    qs_calib_tensor_add(&t, data, 7);
    assert_int_equal(t.observations, 1);
    assert_int_equal(t.count, 5);
    assert_int_equal(t.nonfinite, 2);
    assert_int_equal(t.zeros, 2);
    assert_true(t.min == -4.0);
    assert_true(t.max == 2.0);
    assert_true(t.absmax == 4.0);
    assert_true(t.hist_hi == 4.0);
    /* |x| * 2048 / 4: both zeros in bin 0, 1.5 in 768, 2 in 1024, 4 clamped into 2047. */
    assert_int_equal(t.hist[0], 2);
    assert_int_equal(t.hist[768], 1);
    assert_int_equal(t.hist[1024], 1);
    assert_int_equal(t.hist[2047], 1);
    assert_int_equal(t.top_clamped, 1);
    free(t.hist);
}

/* Feeding a growing range must give, bin for bin, the one-pass histogram of the final range. */
static void
test_doubling_equals_one_pass(void **state)
{
    float first[1000], second[1000];
    struct qs_calib_tensor t = { .min = NAN, .max = NAN, .absmax = NAN };
    uint64_t expected[QS_CALIB_BINS] = { 0 };
    double scale;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        first[i] = (float)sin(i * 0.37) * 0.7f;        /* absmax below 0.7 */
        second[i] = (float)cos(i * 0.11) * 2.7f;       /* absmax 2.7: two doublings */
    }
    first[0] = 0.7f;                                   /* the range top itself */
    qs_calib_tensor_add(&t, first, 1000);
    assert_true(t.hist_hi == 0.7f);
    qs_calib_tensor_add(&t, second, 1000);
    assert_true(t.hist_hi == 4.0 * (double)0.7f);
    assert_int_equal(t.count, 2000);

    scale = QS_CALIB_BINS / t.hist_hi;
    for (int i = 0; i < 1000; i++) {
        expected[(size_t)(fabs((double)first[i]) * scale)]++;
        expected[(size_t)(fabs((double)second[i]) * scale)]++;
    }
    /* 0.7 lands in bin 512 of the final range, not in the last bin of a merged 511. */
    assert_true(expected[512] >= 1);
    for (size_t b = 0; b < QS_CALIB_BINS; b++)
        assert_int_equal(t.hist[b], expected[b]);
    free(t.hist);
}

static void
test_all_zero_then_values(void **state)
{
    const float zeros[4] = { 0 }, values[2] = { 0.5f, -1.0f };
    struct qs_calib_tensor t = { .min = NAN, .max = NAN, .absmax = NAN };

    (void)state;
    qs_calib_tensor_add(&t, zeros, 4);
    assert_true(t.hist_hi == 0.0);
    assert_int_equal(t.hist[0], 4);
    qs_calib_tensor_add(&t, values, 2);
    assert_true(t.hist_hi == 1.0);
    assert_int_equal(t.hist[0], 4);
    assert_int_equal(t.hist[1024], 1);
    assert_int_equal(t.hist[2047], 1);
    free(t.hist);
}

/* ---- observation and round trip ------------------------------------------ */

/* Observe one float tensor "data" of shape [2, 3] as value "name" of the main graph. */
static void
observe(struct qs_calib *calib, const char *name, const float *data)
{
    struct qs_graph graph = { .scope = "" };
    struct qs_value value = { .name = name, .graph = &graph };
    const int64_t dims[2] = { 2, 3 };
    struct qs_rt_tensor *t;

    assert_int_equal(qs_rt_new(QS_DT_FLOAT, 2, dims, &t), QS_OK);
    memcpy(t->data, data, 6 * sizeof(float));
    assert_int_equal(qs_calib_observe(calib, &value, t), QS_OK);
    qs_rt_unref(t);
}

/* A calibration of two tensors and one layer input, as a collector would make it. */
static void
build(struct qs_calib *calib)
{
    const float a[6] = { 1, -2, 3, 0, 0.25f, -0.125f };
    const float b[6] = { 7, 7, 7, 7, 7, 7 };
    const float c[6] = { -9, 1, 2, 3, 4, 5 };
    struct qs_calib_channels *in;

    qs_calib_init(calib, NULL, NULL);
    calib->model_file = qs_strdup("m.onnx");
    memcpy(calib->sha256, FAKE_SHA, sizeof(calib->sha256));
    calib->model_bytes = 1234;
    calib->samples = 2;
    calib->source = qs_strdup("--data d");
    observe(calib, "a", a);
    observe(calib, "b", b);
    observe(calib, "a", c);

    calib->layer_inputs = qs_calloc(1, sizeof(*calib->layer_inputs));
    calib->n_layer_inputs = 1;
    in = &calib->layer_inputs[0];
    in->layer = qs_strdup("W");
    in->node = qs_strdup("mm");
    in->op = qs_strdup("MatMul");
    in->tensor = qs_strdup("a");
    in->input = 0;
    in->axis = -1;
    in->channels = 2;
    in->count = qs_calloc(2, sizeof(uint64_t));
    in->absmax = qs_calloc(2, sizeof(double));
    in->mean_abs = qs_calloc(2, sizeof(double));
    in->mean_sq = qs_calloc(2, sizeof(double));
    in->count[0] = 3;
    in->count[1] = 3;
    in->absmax[0] = 2.5;
    in->absmax[1] = 0.1;
    in->mean_abs[0] = 1.0 / 3.0;
    in->mean_abs[1] = 0.1;
    in->mean_sq[0] = 2.0;
    in->mean_sq[1] = 0.01;
}

static void
test_observe_figures(void **state)
{
    struct qs_calib calib;
    const struct qs_calib_tensor *a;

    (void)state;
    build(&calib);
    assert_int_equal(calib.n_tensors, 2);
    a = qs_calib_find(&calib, "a");
    assert_non_null(a);
    assert_string_equal(a->op, "input");
    assert_int_equal(a->observations, 2);
    assert_int_equal(a->count, 12);
    assert_int_equal(a->zeros, 1);
    assert_true(a->min == -9.0);
    assert_true(a->max == 5.0);
    assert_true(a->absmax == 9.0);
    /* 3 first, then 9 > 3 doubles twice: 12. */
    assert_true(a->hist_hi == 12.0);
    assert_null(qs_calib_find(&calib, "missing"));
    qs_calib_done(&calib);
}

static void
assert_same_tensor(const struct qs_calib_tensor *x, const struct qs_calib_tensor *y)
{
    assert_string_equal(x->name, y->name);
    assert_string_equal(x->op, y->op);
    assert_string_equal(x->node, y->node);
    assert_int_equal(x->observations, y->observations);
    assert_int_equal(x->count, y->count);
    assert_int_equal(x->nonfinite, y->nonfinite);
    assert_int_equal(x->zeros, y->zeros);
    assert_true(x->min == y->min);
    assert_true(x->max == y->max);
    assert_true(x->absmax == y->absmax);
    assert_true(x->hist_hi == y->hist_hi);
    assert_memory_equal(x->hist, y->hist, QS_CALIB_BINS * sizeof(uint64_t));
}

static void
test_round_trip(void **state)
{
    struct qs_calib out, in;
    struct qs_diag diag;
    const struct qs_calib_channels *x, *y;

    (void)state;
    qs_diag_init(&diag);
    build(&out);
    assert_int_equal(qs_calib_write(&out, tmp_path("round.qstats"), 0, &diag), QS_OK);
    assert_int_equal(qs_calib_read(tmp_path("round.qstats"), NULL, &in, &diag), QS_OK);
    assert_int_equal(diag.count, 0);

    assert_int_equal(in.version, QS_CALIB_VERSION);
    assert_string_equal(in.model_file, "m.onnx");
    assert_string_equal(in.sha256, FAKE_SHA);
    assert_int_equal(in.model_bytes, 1234);
    assert_int_equal(in.samples, 2);
    assert_string_equal(in.source, "--data d");
    assert_int_equal(in.n_tensors, out.n_tensors);
    for (size_t i = 0; i < out.n_tensors; i++)
        assert_same_tensor(&out.tensors[i], &in.tensors[i]);
    assert_non_null(qs_calib_find(&in, "b"));

    assert_int_equal(in.n_layer_inputs, 1);
    x = &out.layer_inputs[0];
    y = &in.layer_inputs[0];
    assert_string_equal(y->layer, "W");
    assert_string_equal(y->op, "MatMul");
    assert_string_equal(y->tensor, "a");
    assert_int_equal(y->axis, -1);
    assert_int_equal(y->channels, 2);
    assert_memory_equal(x->count, y->count, 2 * sizeof(uint64_t));
    assert_memory_equal(x->absmax, y->absmax, 2 * sizeof(double));
    assert_memory_equal(x->mean_abs, y->mean_abs, 2 * sizeof(double));
    assert_memory_equal(x->mean_sq, y->mean_sq, 2 * sizeof(double));

    qs_calib_done(&in);
    qs_calib_done(&out);
    qs_diag_done(&diag);
}

static void
test_existing_file_needs_force(void **state)
{
    struct qs_calib calib;
    struct qs_diag diag;

    (void)state;
    qs_diag_init(&diag);
    build(&calib);
    assert_int_equal(qs_calib_write(&calib, tmp_path("twice.qstats"), 0, &diag), QS_OK);
    assert_int_equal(qs_calib_write(&calib, tmp_path("twice.qstats"), 0, &diag), QS_OUTPUT);
    assert_int_equal(qs_calib_write(&calib, tmp_path("twice.qstats"), 1, &diag), QS_OK);
    qs_calib_done(&calib);
    qs_diag_done(&diag);
}

/* Read "text" as a .qstats file; returns the status and the first message in "line". */
static enum qs_status
read_text(const char *text, char *line, size_t size)
{
    struct qs_calib calib;
    struct qs_diag diag;
    enum qs_status status;

    qs_diag_init(&diag);
    write_text(tmp_path("bad.qstats"), text);
    status = qs_calib_read(tmp_path("bad.qstats"), NULL, &calib, &diag);
    snprintf(line, size, "%s", diag.count ? diag.lines[0] : "");
    qs_calib_done(&calib);
    qs_diag_done(&diag);
    return status;
}

/* The text of the round-trip file with "from" replaced by "to". */
static char *
edited(const char *from, const char *to)
{
    struct qs_calib calib;
    json_t *doc;
    char *text, *at, *result;

    build(&calib);
    doc = qs_calib_to_json(&calib);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    qs_calib_done(&calib);
    at = strstr(text, from);
    assert_non_null(at);
    result = qs_asprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return result;
}

static void
test_validation(void **state)
{
    static const struct {
        const char *from, *to;
        enum qs_status status;
        const char *message;
    } cases[] = {
        { "\"version\":1", "\"version\":2", QS_UNSUPPORTED, "newer than this qscope" },
        { "\"format\":\"qscope-qstats\"", "\"format\":\"x\"", QS_INVALID, "not a qscope" },
        { "\"count\":12", "\"count\":13", QS_INVALID, "adds up to 12" },
        { "\"min\":-9.0", "\"min\":-8.0", QS_INVALID, "inconsistent min" },
        { "\"hist_hi\":12.0", "\"hist_hi\":8.0", QS_INVALID, "does not cover absmax" },
        { "\"histogram_bins\":2048", "\"histogram_bins\":1024", QS_INVALID, "2048" },
        { "\"samples\":2", "\"samples\":-2", QS_INVALID, "'samples'" },
        { "\"mean_sq\":[2.0,", "\"mean_sq\":[7.0,", QS_INVALID, "exceeds" },
        { "\"source\"", "\"extra\":1,\"source\"", QS_INVALID, "unknown member 'extra'" },
    };
    char line[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = edited(cases[i].from, cases[i].to);

        assert_int_equal(read_text(text, line, sizeof(line)), cases[i].status);
        if (!strstr(line, cases[i].message)) {
            print_error("case %zu: message '%s' lacks '%s'\n", i, line, cases[i].message);
            fail();
        }
        free(text);
    }
    assert_int_equal(read_text("[1, 2", line, sizeof(line)), QS_INVALID);
    assert_int_equal(read_text("[]", line, sizeof(line)), QS_INVALID);
}

/* A file made for another model is rejected by name, when a sample model is at hand. */
static void
test_other_model_rejected(void **state)
{
    const char *srcdir = getenv("QSCOPE_SRCDIR");
    struct qs_model *model = NULL;
    struct qs_calib out, in;
    struct qs_diag diag;
    char *path;

    (void)state;
    if (!srcdir) {
        skip();
        return;
    }
    path = qs_asprintf("%s/samples/tiny_cnn.onnx", srcdir);
    qs_diag_init(&diag);
    if (qs_model_load(path, NULL, &diag, &model) != QS_OK) {
        free(path);
        qs_diag_done(&diag);
        skip();
        return;
    }
    build(&out);
    assert_int_equal(qs_calib_write(&out, tmp_path("other.qstats"), 1, &diag), QS_OK);
    assert_int_equal(qs_calib_read(tmp_path("other.qstats"), model, &in, &diag), QS_INVALID);
    assert_non_null(strstr(diag.lines[0], "made for another model"));
    qs_calib_done(&in);
    qs_calib_done(&out);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_census_figures),
        cmocka_unit_test(test_doubling_equals_one_pass),
        cmocka_unit_test(test_all_zero_then_values),
        cmocka_unit_test(test_observe_figures),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_existing_file_needs_force),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_other_model_rejected),
    };

    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
