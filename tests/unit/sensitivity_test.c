/*
 * Sensitivity weights for automatic plans: factors read from a ranking,
 * normalised by their median and clamped, and applied to candidate errors.
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

#include "plan_sensitivity.h"

#define HEADER "{\"format\": \"qscope-sensitivity\", \"version\": %d, " \
    "\"model\": {\"file\": \"m.onnx\", \"sha256\": " \
    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", \"bytes\": 1}, " \
    "\"config\": \"int4:channel:sym:minmax\", \"samples\": 1, \"layers\": [%s]}"

/* Write a ranking with "layers" (JSON objects) and read it back. */
static enum qs_status
read_ranking(int version, const char *layers, struct qs_plan_sensitivity *s)
{
    char path[] = "/tmp/qscope-sensitivity-test.XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    struct qs_diag diag;
    enum qs_status status;

    assert_non_null(fp);
    fprintf(fp, HEADER, version, layers);
    fclose(fp);
    qs_diag_init(&diag);
    status = qs_plan_sensitivity_read(path, NULL, s, &diag);
    qs_diag_done(&diag);
    unlink(path);
    return status;
}

static void
test_factors_against_median(void **state)
{
    /* Raw factors 2, 1 and 0.5 (median 1); D was left out, E has no weight error. */
    const char *layers =
        "{\"key\": \"A\", \"skipped\": null, \"weight_sse\": 1.0, \"output_sse\": 2.0},"
        "{\"key\": \"B\", \"skipped\": null, \"weight_sse\": 2.0, \"output_sse\": 2.0},"
        "{\"key\": \"C\", \"skipped\": null, \"weight_sse\": 4.0, \"output_sse\": 2.0},"
        "{\"key\": \"D\", \"skipped\": \"not read by these samples\", \"weight_sse\": null,"
        " \"output_sse\": null},"
        "{\"key\": \"E\", \"skipped\": null, \"weight_sse\": 0.0, \"output_sse\": 0.0}";
    struct qs_plan_sensitivity s;
    struct qs_plan_option options[2] = { { 100, 0.5 }, { 50, 3.0 } };

    (void)state;
    assert_int_equal(read_ranking(1, layers, &s), QS_OK);
    assert_string_equal(s.config, "int4:channel:sym:minmax");
    assert_true(qs_plan_sensitivity_factor(&s, "A") == 2.0);
    assert_true(qs_plan_sensitivity_factor(&s, "B") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "C") == 0.5);
    assert_true(qs_plan_sensitivity_factor(&s, "D") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "E") == 1.0);
    assert_true(qs_plan_sensitivity_factor(&s, "missing") == 1.0);

    qs_plan_sensitivity_weigh(&s, "A", options, 2);
    assert_true(options[0].sse == 1.0);
    assert_true(options[1].sse == 6.0);
    assert_int_equal(options[1].bytes, 50);
    qs_plan_sensitivity_done(&s);
}

static void
test_factors_clamped(void **state)
{
    /* Raw factors 1, 1 and 1e9: median 1, so the last one is clamped to 1000. */
    const char *layers =
        "{\"key\": \"A\", \"weight_sse\": 1.0, \"output_sse\": 1.0},"
        "{\"key\": \"B\", \"weight_sse\": 1.0, \"output_sse\": 1.0},"
        "{\"key\": \"C\", \"weight_sse\": 1.0, \"output_sse\": 1e9},"
        "{\"key\": \"Z\", \"weight_sse\": 1.0, \"output_sse\": 0.0}";
    struct qs_plan_sensitivity s;

    (void)state;
    assert_int_equal(read_ranking(1, layers, &s), QS_OK);
    assert_true(qs_plan_sensitivity_factor(&s, "C") == QS_PLAN_SENSITIVITY_MAX_FACTOR);
    assert_true(qs_plan_sensitivity_factor(&s, "Z") == QS_PLAN_SENSITIVITY_MIN_FACTOR);
    qs_plan_sensitivity_done(&s);
}

static void
test_ranking_rejected(void **state)
{
    struct qs_plan_sensitivity s;

    (void)state;
    assert_int_equal(read_ranking(2, "", &s), QS_UNSUPPORTED);
    qs_plan_sensitivity_done(&s);
    assert_int_equal(read_ranking(1, "{\"key\": 3}", &s), QS_INVALID);
    qs_plan_sensitivity_done(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factors_against_median),
        cmocka_unit_test(test_factors_clamped),
        cmocka_unit_test(test_ranking_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
