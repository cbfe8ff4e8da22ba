/*
 * Tests of the table writer, the JSON and CSV helpers and atomic file output.
 */
#include "config.h"

#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "atomic_file.h"
#include "output.h"
#include "status.h"

/* Everything "table" prints in "format", as a new string. */
static char *
table_output(const struct qs_table *table, enum qs_format format, int header)
{
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);

    assert_non_null(fp);
    assert_int_equal(qs_table_write(table, fp, format, header), 0);
    fclose(fp);
    return text;
}

static char *
json_output(const json_t *doc)
{
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);

    assert_non_null(fp);
    assert_int_equal(qs_json_write(fp, doc), 0);
    fclose(fp);
    return text;
}

static const struct qs_column mixed_columns[] = {
    { .key = "name", .type = QS_COL_STRING },
    { .key = "count", .title = "COUNT", .type = QS_COL_INT },
    { .key = "ratio", .type = QS_COL_FLOAT, .format = "%.2f" },
};

static void
text_aligns_columns(void **state)
{
    struct qs_table *table = qs_table_new(mixed_columns, 3);
    char *text;

    (void)state;
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "Conv");
    qs_table_set_int(table, 1, 62);
    qs_table_set_float(table, 2, 0.5);
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "BatchNormalization");
    qs_table_set_int(table, 1, 3);
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "\xc3\xa9t\xc3\xa9");   /* "été": 3 columns, 5 bytes */
    qs_table_set_int(table, 1, -1234);
    qs_table_set_float(table, 2, 12.375);

    text = table_output(table, QS_FORMAT_TEXT, 1);
    assert_string_equal(text,
        "name                COUNT  ratio\n"
        "Conv                   62   0.50\n"
        "BatchNormalization      3      -\n"
        "\xc3\xa9t\xc3\xa9                 -1234  12.38\n");
    free(text);

    text = table_output(table, QS_FORMAT_TEXT, 0);
    assert_string_equal(text,
        "Conv                   62   0.50\n"
        "BatchNormalization      3      -\n"
        "\xc3\xa9t\xc3\xa9                 -1234  12.38\n");
    free(text);
    qs_table_free(table);
}

static void
text_replaces_control_characters(void **state)
{
    static const struct qs_column columns[] = {
        { .key = "a", .type = QS_COL_STRING },
        { .key = "b", .type = QS_COL_STRING },
    };
    struct qs_table *table = qs_table_new(columns, 2);
    char *text;

    (void)state;
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "x\ty\x1b[31m");
    qs_table_set_string(table, 1, "bad\xff");

    text = table_output(table, QS_FORMAT_TEXT, 0);
    assert_string_equal(text, "x?y?[31m  bad\\xff\n");
    free(text);
    qs_table_free(table);
}

static const struct qs_column metric_columns[] = {
    { .key = "layer", .type = QS_COL_STRING },
    { .key = "sqnr_db", .type = QS_COL_FLOAT, .format = "%.1f", .flag = "exact" },
};

/* One row per value: finite, +inf, NaN, -inf, and a null cell. */
static struct qs_table *
metric_table(void)
{
    struct qs_table *table = qs_table_new(metric_columns, 2);
    const double values[] = { 41.25, INFINITY, NAN, -INFINITY };
    const char *names[] = { "a", "b", "c", "d", "e" };

    for (size_t i = 0; i < 5; i++) {
        qs_table_add_row(table);
        qs_table_set_string(table, 0, names[i]);
        if (i < 4)
            qs_table_set_float(table, 1, values[i]);
    }
    return table;
}

static void
json_writes_null_and_flag_for_nonfinite(void **state)
{
    struct qs_table *table = metric_table();
    char *text;

    (void)state;
    text = table_output(table, QS_FORMAT_JSON, 1);
    assert_string_equal(text,
        "[\n"
        "  {\"layer\": \"a\", \"sqnr_db\": 41.25, \"exact\": false},\n"
        "  {\"layer\": \"b\", \"sqnr_db\": null, \"exact\": true},\n"
        "  {\"layer\": \"c\", \"sqnr_db\": null, \"exact\": true},\n"
        "  {\"layer\": \"d\", \"sqnr_db\": null, \"exact\": true},\n"
        "  {\"layer\": \"e\", \"sqnr_db\": null, \"exact\": false}\n"
        "]\n");
    free(text);

    text = table_output(table, QS_FORMAT_TEXT, 1);
    assert_string_equal(text,
        "layer  sqnr_db\n"
        "a         41.2\n"
        "b          inf\n"
        "c          nan\n"
        "d         -inf\n"
        "e            -\n");
    free(text);
    qs_table_free(table);
}

static void
json_set_number_flags_nonfinite(void **state)
{
    json_t *object = json_object();
    char *text;

    (void)state;
    qs_json_set_number(object, "sqnr", INFINITY, "exact");
    qs_json_set_number(object, "mse", 0.25, NULL);
    text = json_output(object);
    assert_string_equal(text, "{\"sqnr\": null, \"exact\": true, \"mse\": 0.25}\n");
    free(text);
    json_decref(object);
}

static void
json_escapes_invalid_utf8(void **state)
{
    /* Valid two-byte é; lone 0xff; overlong NUL c0 80; surrogate ed a0 80;
     * truncated three-byte e2 82 at the end. */
    const char bytes[] = "a\xc3\xa9\xff" "b\xc0\x80" "c\xed\xa0\x80" "d\xe2\x82";
    json_t *string = qs_json_stringn(bytes, sizeof(bytes) - 1);

    (void)state;
    assert_non_null(string);
    assert_string_equal(json_string_value(string),
                        "a\xc3\xa9\\xffb\\xc0\\x80c\\xed\\xa0\\x80d\\xe2\\x82");
    json_decref(string);
}

static void
json_escapes_control_characters(void **state)
{
    json_t *array = json_array();
    char *text;

    (void)state;
    json_array_append_new(array, qs_json_string("tab\there\x01\"q\"\\"));
    text = json_output(array);
    assert_string_equal(text, "[\"tab\\there\\u0001\\\"q\\\"\\\\\"]\n");
    free(text);
    json_decref(array);
}

static void
json_nests_and_keeps_scalar_containers_flat(void **state)
{
    json_t *doc = json_pack("{s:i, s:[i,i,s,n], s:{s:[]}, s:f, s:[{s:[i]}]}", "models", 2,
                            "shape", 1, 3, "batch", "inner", "empty", "real", 1.0,
                            "rows", "dims", 4);
    char *text;

    (void)state;
    assert_non_null(doc);
    text = json_output(doc);
    assert_string_equal(text,
        "{\n"
        "  \"models\": 2,\n"
        "  \"shape\": [1, 3, \"batch\", null],\n"
        "  \"inner\": {\"empty\": []},\n"
        "  \"real\": 1.0,\n"
        "  \"rows\": [\n"
        "    {\"dims\": [4]}\n"
        "  ]\n"
        "}\n");
    free(text);
    json_decref(doc);
}

static void
exact_format_is_shortest_round_trip(void **state)
{
    char buf[40];

    (void)state;
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), 0.1), "0.1");
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), 1.0 / 3.0),
                        "0.3333333333333333");
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), 1e300), "1e+300");
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), (double)0.1f),
                        "0.10000000149011612");
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), -2.5), "-2.5");
}

/*
 * Numbers keep '.' under a locale whose decimal point is a comma.  Where
 * no such locale is installed the checks run in the C locale, and a TAP
 * comment says so (cmocka 1.1 reports skip() as a failure under TAP).
 */
static void
numbers_ignore_numeric_locale(void **state)
{
    const char *locales[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8" };
    const char *found = NULL;
    char buf[40];

    (void)state;
    for (size_t i = 0; i < 4 && !found; i++)
        found = setlocale(LC_NUMERIC, locales[i]);
    if (found)
        assert_string_equal(localeconv()->decimal_point, ",");
    else
        printf("# no locale with a decimal comma installed: checked in the C locale only\n");

    assert_string_equal(qs_format_double(buf, sizeof(buf), "%.3f", 2.5), "2.500");
    assert_string_equal(qs_format_double_exact(buf, sizeof(buf), 0.75), "0.75");
    setlocale(LC_NUMERIC, "C");
}

static void
csv_quotes_as_rfc4180(void **state)
{
    static const struct qs_column columns[] = {
        { .key = "op", .type = QS_COL_STRING },
        { .key = "note,with comma", .type = QS_COL_STRING },
        { .key = "value", .type = QS_COL_FLOAT, .format = "%.1f" },
    };
    struct qs_table *table = qs_table_new(columns, 3);
    char *text;

    (void)state;
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "plain");
    qs_table_set_string(table, 1, "say \"hi\", twice");
    qs_table_set_float(table, 2, 0.125);
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "two\nlines");
    qs_table_set_float(table, 2, NAN);
    qs_table_add_row(table);
    qs_table_set_string(table, 0, "bad\xfe");
    qs_table_set_string(table, 1, "");
    qs_table_set_int(table, 2, 7);

    text = table_output(table, QS_FORMAT_CSV, 1);
    assert_string_equal(text,
        "op,\"note,with comma\",value\n"
        "plain,\"say \"\"hi\"\", twice\",0.125\n"
        "\"two\nlines\",,nan\n"
        "bad\\xfe,,7\n");
    free(text);
    qs_table_free(table);
}

/* ---- atomic files ----------------------------------------------------- */

struct atomic_fixture {
    char dir[64];
    char target[128];
};

static int
atomic_setup(void **state)
{
    struct atomic_fixture *fx = qs_calloc(1, sizeof(*fx));

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/qscope-output-test.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->target, sizeof(fx->target), "%s/out.json", fx->dir);
    *state = fx;
    return 0;
}

static int
atomic_teardown(void **state)
{
    struct atomic_fixture *fx = *state;

    unlink(fx->target);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Number of entries in "dir" besides "." and "..". */
static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *entry;
    int n = 0;

    assert_non_null(d);
    while ((entry = readdir(d)))
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void
read_file_into(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, size - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

static enum qs_status
write_atomically(const char *path, const char *text, int force, struct qs_diag *diag)
{
    struct qs_atomic_file file;
    enum qs_status status = qs_atomic_open(&file, path, force, diag);

    if (status != QS_OK)
        return status;
    fputs(text, file.fp);
    return qs_atomic_commit(&file, diag);
}

static void
atomic_creates_then_refuses_without_force(void **state)
{
    struct atomic_fixture *fx = *state;
    struct qs_diag diag;
    char buf[64];

    qs_diag_init(&diag);
    assert_int_equal(write_atomically(fx->target, "first\n", 0, &diag), QS_OK);
    read_file_into(fx->target, buf, sizeof(buf));
    assert_string_equal(buf, "first\n");

    assert_int_equal(write_atomically(fx->target, "second\n", 0, &diag), QS_OUTPUT);
    assert_int_equal(qs_status_exit_code(diag.worst), 3);
    assert_int_equal(diag.count, 1);
    assert_non_null(strstr(diag.lines[0], "out.json: already exists (use --force"));
    read_file_into(fx->target, buf, sizeof(buf));
    assert_string_equal(buf, "first\n");
    assert_int_equal(count_entries(fx->dir), 1);
    qs_diag_done(&diag);
}

static void
atomic_replaces_with_force(void **state)
{
    struct atomic_fixture *fx = *state;
    struct qs_diag diag;
    char buf[64];

    qs_diag_init(&diag);
    assert_int_equal(write_atomically(fx->target, "old\n", 0, &diag), QS_OK);
    chmod(fx->target, 0640);
    assert_int_equal(write_atomically(fx->target, "new\n", 1, &diag), QS_OK);
    read_file_into(fx->target, buf, sizeof(buf));
    assert_string_equal(buf, "new\n");
    assert_int_equal(diag.count, 0);
    assert_int_equal(count_entries(fx->dir), 1);
    qs_diag_done(&diag);
}

static void
atomic_keeps_file_created_during_write(void **state)
{
    struct atomic_fixture *fx = *state;
    struct qs_atomic_file file;
    struct qs_diag diag;
    FILE *other;
    char buf[64];

    qs_diag_init(&diag);
    assert_int_equal(qs_atomic_open(&file, fx->target, 0, &diag), QS_OK);
    fputs("ours\n", file.fp);
    assert_int_equal(count_entries(fx->dir), 1);   /* the temporary file */

    other = fopen(fx->target, "w");
    assert_non_null(other);
    fputs("theirs\n", other);
    fclose(other);

    assert_int_equal(qs_atomic_commit(&file, &diag), QS_OUTPUT);
    read_file_into(fx->target, buf, sizeof(buf));
    assert_string_equal(buf, "theirs\n");
    assert_int_equal(count_entries(fx->dir), 1);
    assert_null(file.tmp_path);
    qs_diag_done(&diag);
}

static void
atomic_abort_removes_temporary(void **state)
{
    struct atomic_fixture *fx = *state;
    struct qs_atomic_file file;
    struct qs_diag diag;
    struct stat st;

    qs_diag_init(&diag);
    assert_int_equal(qs_atomic_open(&file, fx->target, 0, &diag), QS_OK);
    fputs("partial", file.fp);
    qs_atomic_abort(&file);
    qs_atomic_abort(&file);
    assert_int_equal(count_entries(fx->dir), 0);
    assert_int_not_equal(stat(fx->target, &st), 0);
    qs_diag_done(&diag);
}

static void
atomic_rejects_folder_target(void **state)
{
    struct atomic_fixture *fx = *state;
    struct qs_diag diag;

    qs_diag_init(&diag);
    assert_int_equal(write_atomically(fx->dir, "x", 1, &diag), QS_OUTPUT);
    assert_non_null(strstr(diag.lines[0], "is a folder"));
    assert_int_equal(count_entries(fx->dir), 0);
    qs_diag_done(&diag);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_aligns_columns),
        cmocka_unit_test(text_replaces_control_characters),
        cmocka_unit_test(json_writes_null_and_flag_for_nonfinite),
        cmocka_unit_test(json_set_number_flags_nonfinite),
        cmocka_unit_test(json_escapes_invalid_utf8),
        cmocka_unit_test(json_escapes_control_characters),
        cmocka_unit_test(json_nests_and_keeps_scalar_containers_flat),
        cmocka_unit_test(exact_format_is_shortest_round_trip),
        cmocka_unit_test(numbers_ignore_numeric_locale),
        cmocka_unit_test(csv_quotes_as_rfc4180),
        cmocka_unit_test_setup_teardown(atomic_creates_then_refuses_without_force,
                                        atomic_setup, atomic_teardown),
        cmocka_unit_test_setup_teardown(atomic_replaces_with_force,
                                        atomic_setup, atomic_teardown),
        cmocka_unit_test_setup_teardown(atomic_keeps_file_created_during_write,
                                        atomic_setup, atomic_teardown),
        cmocka_unit_test_setup_teardown(atomic_abort_removes_temporary,
                                        atomic_setup, atomic_teardown),
        cmocka_unit_test_setup_teardown(atomic_rejects_folder_target,
                                        atomic_setup, atomic_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
