/*
 * The browser's logic without a terminal: key names and the action
 * table, row building, gnuplot text parsing, and whole screens of the
 * views driven by keys on the sample models (what a row says, where the
 * selection goes, what a key changes).  display.c is replaced by the
 * stubs below, so nothing here needs curses.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actions.h"
#include "display.h"
#include "plot.h"
#include "ui.h"

/* ---- display.c and the commands, stubbed ---- */

int qs_display_open(const struct qs_display_options *options) { (void)options; return 0; }
void qs_display_close(void) {}
void qs_display_size(int *lines, int *cols) { *lines = 24; *cols = 80; }
void qs_display_resized(void) {}
void qs_display_paint(const struct qs_frame *frame) { (void)frame; }
void qs_display_clear(void) {}
int qs_display_read_key(struct qs_mouse *mouse) { (void)mouse; return -1; }
int qs_display_input_fd(void) { return -1; }
int qs_display_signal_fd(void) { return -1; }
int qs_display_stop_requested(int *signo) { if (signo) *signo = 0; return 0; }
int qs_display_colors(void) { return 0; }
int qs_display_save(const char *path) { (void)path; return -1; }
int qs_display_query_sixel(int timeout_ms) { (void)timeout_ms; return 0; }
void qs_display_cell_pixels(int *width, int *height) { *width = *height = 0; }
void
qs_display_sixel(int y, int x, const char *data, size_t len)
{
    (void)y, (void)x, (void)data, (void)len;
}
int qs_info_run(const struct qs_cli *cli) { (void)cli; return 0; }
int qs_ops_run(const struct qs_cli *cli) { (void)cli; return 0; }

/* ---- helpers ---- */

struct fixture {
    struct qs_cli cli;
    char *args[1];
    char path[1024];
    struct qs_ui ui;
};

static const char *
srcdir(void)
{
    const char *dir = getenv("QSCOPE_SRCDIR");

    return dir && *dir ? dir : ".";
}

/* A browser on sample "name" with a 24 x 80 screen and no gnuplot. */
static struct fixture *
open_sample(const char *name)
{
    struct fixture *f = qs_calloc(1, sizeof(*f));
    struct qs_model *model = NULL;
    struct qs_diag diag;

    setenv("QSCOPE_GNUPLOT", "/nonexistent/gnuplot", 1);
    qs_glyphs_init(0);
    snprintf(f->path, sizeof(f->path), "%s/samples/%s", srcdir(), name);
    qs_cli_init(&f->cli, "test");
    f->cli.threads = 2;
    f->args[0] = f->path;
    f->cli.args = f->args;
    f->cli.n_args = 1;
    qs_diag_init(&diag);
    assert_int_equal(qs_model_load(f->path, NULL, &diag, &model), QS_OK);
    qs_diag_done(&diag);
    qs_ui_init(&f->ui, &f->cli, 24, 80);
    qs_ui_set_model(&f->ui, model);
    qs_worker_wait_idle(f->ui.worker);
    return f;
}

static void
close_sample(struct fixture *f)
{
    qs_ui_done(&f->ui);
    free(f);
}

/* Press "keys" (one character each), letting background jobs finish after each. */
static void
press(struct fixture *f, const char *keys)
{
    for (const char *k = keys; *k; k++) {
        qs_ui_key(&f->ui, (unsigned char)*k, NULL);
        qs_worker_wait_idle(f->ui.worker);
        qs_ui_draw(&f->ui);
        qs_worker_wait_idle(f->ui.worker);
    }
}

static void
press_key(struct fixture *f, int key)
{
    qs_ui_key(&f->ui, key, NULL);
    qs_worker_wait_idle(f->ui.worker);
    qs_ui_draw(&f->ui);
    qs_worker_wait_idle(f->ui.worker);
}

/* Screen line "y" as text. */
static const char *
line(struct fixture *f, int y)
{
    qs_ui_draw(&f->ui);
    return f->ui.frame.rows[y].text ? f->ui.frame.rows[y].text : "";
}

/* The first screen line holding "text", or -1. */
static int
find_line(struct fixture *f, const char *text)
{
    qs_ui_draw(&f->ui);
    for (int y = 0; y < f->ui.frame.lines; y++)
        if (f->ui.frame.rows[y].text && strstr(f->ui.frame.rows[y].text, text))
            return y;
    return -1;
}

/* ---- keys and the action table ---- */

static void
test_key_names(void **state)
{
    char buf[16];

    (void)state;
    assert_string_equal(qs_key_name('j', buf, sizeof(buf)), "j");
    assert_string_equal(qs_key_name(QS_KEY_CTRL('d'), buf, sizeof(buf)), "C-d");
    assert_string_equal(qs_key_name(QS_KEY_ENTER, buf, sizeof(buf)), "Enter");
    assert_string_equal(qs_key_name(' ', buf, sizeof(buf)), "Space");
    assert_int_equal(qs_key_parse("<Enter>"), QS_KEY_ENTER);
    assert_int_equal(qs_key_parse("C-u"), QS_KEY_CTRL('u'));
    assert_int_equal(qs_key_parse("PgDn"), QS_KEY_PGDN);
    assert_int_equal(qs_key_parse("<nonsense>"), -1);
    /* Every key of the table reads back from its own name. */
    for (int a = 1; a < QS_ACTION_COUNT; a++)
        for (int k = 0; k < QS_ACTION_MAX_KEYS && qs_actions[a].keys[k]; k++)
            assert_int_equal(qs_key_parse(qs_key_name(qs_actions[a].keys[k], buf, sizeof(buf))),
                             qs_actions[a].keys[k]);
}

/* No key is bound twice in one group, and no view group hides a global key. */
static void
test_action_table(void **state)
{
    (void)state;
    for (int a = 1; a < QS_ACTION_COUNT; a++)
        for (int k = 0; k < QS_ACTION_MAX_KEYS && qs_actions[a].keys[k]; k++) {
            int key = qs_actions[a].keys[k];

            assert_non_null(qs_actions[a].help);
            for (int b = 1; b < QS_ACTION_COUNT; b++) {
                if (b == a)
                    continue;
                for (int j = 0; j < QS_ACTION_MAX_KEYS && qs_actions[b].keys[j]; j++) {
                    if (qs_actions[b].keys[j] != key)
                        continue;
                    assert_int_not_equal(qs_actions[a].group, qs_actions[b].group);
                    assert_false(qs_actions[b].group == QS_GROUP_GLOBAL &&
                                 qs_actions[a].group != QS_GROUP_LIST);
                }
            }
        }
}

static void
test_action_lookup(void **state)
{
    (void)state;
    assert_int_equal(qs_action_lookup('j', QS_GROUP_GRAPH, 1), QS_ACTION_MOVE_DOWN);
    assert_int_equal(qs_action_lookup('j', QS_GROUP_LAYER, 0), QS_ACTION_LAYER_NEXT);
    assert_int_equal(qs_action_lookup('s', QS_GROUP_OPS, 1), QS_ACTION_SORT_TOGGLE);
    assert_int_equal(qs_action_lookup('s', QS_GROUP_LAYERS, 1), QS_ACTION_SORT_NEXT);
    assert_int_equal(qs_action_lookup('s', QS_GROUP_LAYER, 0), QS_ACTION_SCHEME);
    assert_int_equal(qs_action_lookup('g', QS_GROUP_LAYER, 0), QS_ACTION_GRANULARITY);
    assert_int_equal(qs_action_lookup('g', QS_GROUP_GRAPH, 1), QS_ACTION_MOVE_TOP);
    assert_int_equal(qs_action_lookup('q', QS_GROUP_PLAN, 1), QS_ACTION_QUIT);
    assert_int_equal(qs_action_lookup(QS_KEY_CTRL('d'), QS_GROUP_NODE, 1), QS_ACTION_HALF_DOWN);
    /* List keys do nothing outside lists. */
    assert_int_equal(qs_action_lookup('G', QS_GROUP_LAYER, 0), QS_ACTION_NONE);
    assert_int_equal(qs_action_find("plan-write"), QS_ACTION_PLAN_WRITE);
}

static void
test_roff(void **state)
{
    char *text = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&text, &size);

    (void)state;
    assert_int_equal(qs_action_write_roff(fp), 0);
    fclose(fp);
    assert_non_null(strstr(text, ".SS Layer view\n"));
    assert_non_null(strstr(text,
                           ".TP\n.B f\nNext format: int, fp8e4m3, fp8e5m2, nf4, fp16, bf16\n"));
    assert_non_null(strstr(text, ".B Down, j\n"));
    /* Hyphens are escaped so that man keeps them as hyphens. */
    assert_non_null(strstr(text, ".B C\\-d\n"));
    free(text);
}

/* ---- rows ---- */

static void
test_rows(void **state)
{
    char buf[64];
    struct qs_row row;

    (void)state;
    qs_glyphs_init(0);
    assert_string_equal(qs_shorten_middle("conv_block_3.weight", 10, buf, sizeof(buf)),
                        "conv~eight");
    assert_string_equal(qs_shorten_middle("short", 10, buf, sizeof(buf)), "short");
    qs_row_init(&row);
    qs_row_bar(&row, QS_STYLE_BAR, 0.5, 10);
    assert_string_equal(row.text, "#####     ");
    qs_row_clear(&row);
    qs_row_cell(&row, QS_STYLE_NORMAL, "abc", 6, 1);
    qs_row_add(&row, QS_STYLE_OP, "x\ty");
    assert_string_equal(row.text, "   abcx?y");
    assert_int_equal(qs_row_style_at(&row, 7), QS_STYLE_OP);
    assert_int_equal(qs_row_style_at(&row, 0), QS_STYLE_NORMAL);
    qs_row_truncate(&row, 4);
    assert_string_equal(row.text, "   a");
    qs_row_done(&row);

    qs_glyphs_init(1);
    assert_string_equal(qs_shorten_middle("conv_block_3.weight", 10, buf, sizeof(buf)),
                        "conv\u2026eight");
    assert_int_equal(qs_text_columns("conv\u2026eight"), 10);
    qs_glyphs_init(0);
}

static void
test_plot_parse(void **state)
{
    static const char text[] = "\033[0;39m 1 +--\033[38;5;196m**\033[0;39m|\n\033[0;39m 0 ab";
    struct qs_plot_image image;

    (void)state;
    memset(&image, 0, sizeof(image));
    qs_plot_parse_text(text, sizeof(text) - 1, 20, 5, &image);
    assert_int_equal(image.lines, 2);
    assert_string_equal(image.rows[0].text, " 1 +--**|");
    assert_int_equal(qs_row_style_at(&image.rows[0], 6), QS_STYLE_COLOR + 196);
    assert_int_equal(qs_row_style_at(&image.rows[0], 8), QS_STYLE_NORMAL);
    assert_string_equal(image.rows[1].text, " 0 ab");
    qs_plot_image_done(&image);
}

static void
test_formats(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(qs_ui_bytes_text(812, buf, sizeof(buf)), "812 B");
    assert_string_equal(qs_ui_bytes_text(22600, buf, sizeof(buf)), "22.6 KB");
    assert_string_equal(qs_ui_bytes_text(10678688, buf, sizeof(buf)), "10.7 MB");
    assert_string_equal(qs_ui_count_text(5930, buf, sizeof(buf)), "5.93k");
    assert_string_equal(qs_ui_count_text(216, buf, sizeof(buf)), "216");
    assert_string_equal(qs_ui_count_text(2669672, buf, sizeof(buf)), "2.67M");
}

/* ---- screens ---- */

static void
test_graph_view(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    assert_non_null(strstr(line(f, 0), "tiny_cnn.onnx"));
    assert_non_null(strstr(line(f, 0), "5.93k params"));
    assert_non_null(strstr(line(f, 1), "1 graph"));
    assert_non_null(strstr(line(f, 3), "Conv"));
    assert_non_null(strstr(line(f, 3), "conv1"));
    assert_non_null(strstr(line(f, 3), "fp32[1,3,32,32]"));
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 0);
    press(f, "j");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 1);
    press(f, "G");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 12);
    press(f, "g");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 0);
    press(f, "/relu2");
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 6);
    press(f, "N");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 6);
    assert_non_null(strstr(line(f, 23), "7/13"));
    close_sample(f);
}

/* Enter opens a node; p follows an input to its producer; Back returns along the path. */
static void
test_node_edges(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "/relu2");
    press_key(f, QS_KEY_ENTER);
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_NODE);
    assert_string_equal(line(f, 2), "Relu relu2");
    assert_true(find_line(f, "bn2.out") > 0);
    press(f, "p");
    assert_string_equal(line(f, 2), "BatchNormalization bn2");
    press(f, "p");
    assert_string_equal(line(f, 2), "Conv conv2");
    assert_true(find_line(f, "weight (BN folded) min") > 0);
    press(f, "c");
    assert_string_equal(line(f, 2), "BatchNormalization bn2");
    press_key(f, QS_KEY_ESC);
    assert_string_equal(line(f, 2), "Conv conv2");
    press_key(f, QS_KEY_ESC);
    press_key(f, QS_KEY_ESC);
    assert_string_equal(line(f, 2), "Relu relu2");
    press_key(f, QS_KEY_ESC);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_GRAPH);
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 6);
    close_sample(f);
}

static void
test_ops_view(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "2");
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_OPS);
    /* Conv and Relu both occur 3 times of 13: ties are sorted by name. */
    assert_memory_equal(line(f, 3), "Conv ", 5);
    assert_non_null(strstr(line(f, 3), "  3  23.1%"));
    assert_memory_equal(line(f, 4), "Relu ", 5);
    press(f, "s");
    assert_memory_equal(line(f, 3), "BatchNormalization ", 19);
    assert_non_null(strstr(line(f, 2), "sorted by name"));
    /* The selection stays on Conv; choosing it narrows the graph view to its nodes. */
    assert_int_equal(f->ui.views[QS_VIEW_OPS].sel, 1);
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_GRAPH);
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 3);
    assert_non_null(strstr(line(f, 23), "Conv only: 3 nodes"));
    press(f, "x");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 13);
    close_sample(f);
}

/* The layers view sorts by any column, worst first, and narrows to one op type. */
static void
test_layers_view(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "3");
    assert_int_equal(f->ui.views[QS_VIEW_LAYERS].rows, 16);
    assert_memory_equal(line(f, 3), "conv1.weight ", 13);
    press(f, "o");
    assert_non_null(strstr(line(f, 23), "BatchNormalization only: 8 layers"));
    press(f, "o");
    assert_non_null(strstr(line(f, 23), "Conv only: 6 layers"));
    press(f, "x");
    assert_int_equal(f->ui.views[QS_VIEW_LAYERS].rows, 16);
    /* Model order, then key, op, params: the largest weight comes first. */
    press(f, "s");
    assert_memory_equal(line(f, 3), "bn1.bias ", 9);
    press(f, "ss");
    assert_memory_equal(line(f, 3), "conv2.weight ", 13);
    assert_non_null(strstr(line(f, 2), "vparams"));
    press(f, "r");
    assert_non_null(strstr(line(f, 2), "^params"));
    /* The selection stays on the layer selected at first, conv1.weight (second largest). */
    assert_int_equal(f->ui.views[QS_VIEW_LAYERS].sel, 14);
    press(f, "g");
    assert_memory_equal(line(f, 3), "fc.bias ", 8);
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_LAYER);
    assert_memory_equal(line(f, 2), "fc.bias  Gemm", 13);
    close_sample(f);
}

/* The layer view shows the numbers of qs_quant_trial for its configuration. */
static void
test_layer_trial(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");
    const struct qs_layer *layer = qs_layers_find(f->ui.layers, "conv2.weight");
    struct qs_layer_data data;
    struct qs_quant_layout layout;
    struct qs_quant_config config;
    struct qs_quant_request request = { 0 };
    struct qs_quant_result result;
    char expect[128];

    (void)state;
    assert_int_equal(qs_ui_command(&f->ui, "layer conv2.weight"), 0);
    qs_worker_wait_idle(f->ui.worker);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_LAYER);
    assert_true(find_line(f, "trial int8:channel:sym:minmax") > 0);
    press(f, "bbbb");
    press(f, "g");
    assert_true(find_line(f, "trial int4:g128:sym:minmax") > 0);

    assert_int_equal(qs_quant_config_parse("int4:g128:sym", &config, NULL, 0), QS_OK);
    assert_int_equal(qs_layer_data_get(f->ui.layers, layer, 0, NULL, &data), QS_OK);
    assert_int_equal(qs_plan_layout(layer, &layout, NULL, NULL), QS_OK);
    request.config = &config;
    request.layout = &layout;
    request.weights = data.values;
    request.threads = 2;
    assert_int_equal(qs_quant_trial(&request, &result, NULL), QS_OK);
    snprintf(expect, sizeof(expect), "MSE %.3e  SQNR %.2f dB  max err %.3e  bytes %llu",
             result.metrics.mse, result.metrics.sqnr_db, result.metrics.max_abs_err,
             (unsigned long long)(result.sizes.payload_bytes + result.sizes.scale_bytes +
                                  result.sizes.zero_point_bytes));
    assert_true(find_line(f, expect) > 0);
    qs_layer_data_done(&data);

    /* Without gnuplot: one line says so, and a text histogram stands in. */
    assert_true(find_line(f, "no plots: gnuplot not found") > 0);
    assert_true(find_line(f, "#") > 0);
    close_sample(f);
}

/* Putting a configuration into the plan, and quitting with unsaved changes. */
static void
test_plan_and_quit(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");
    const struct qs_plan_layer *entry;

    (void)state;
    qs_ui_command(&f->ui, "layer fc.weight");
    qs_worker_wait_idle(f->ui.worker);
    press(f, "bbbba");
    entry = qs_plan_find(&f->ui.plan, "fc.weight");
    assert_non_null(entry);
    assert_string_equal(entry->config_text, "int4:channel:sym:minmax");
    assert_true(entry->measured);
    assert_true(f->ui.plan_dirty);
    assert_non_null(strstr(line(f, 0), "*"));
    press(f, "5");
    assert_true(find_line(f, "int4:channel:sym ") > 0);
    assert_true(find_line(f, "Totals over 4 quantizable layers (not saved)") > 0);
    press(f, "q");
    assert_non_null(strstr(line(f, 23), "unsaved changes"));
    press(f, "n");
    assert_false(f->ui.quit);
    press(f, "q");
    press(f, "y");
    assert_true(f->ui.quit);
    close_sample(f);
}

/* In the C locale every byte on screen is ASCII. */
static void
test_ascii_screens(void **state)
{
    struct fixture *f = open_sample("tiny_if.onnx");
    static const char *const views = "123452";

    (void)state;
    for (const char *v = views; *v; v++) {
        char key[2] = { *v, 0 };

        press(f, key);
        qs_ui_draw(&f->ui);
        for (int y = 0; y < f->ui.frame.lines; y++)
            for (const char *p = f->ui.frame.rows[y].text; p && *p; p++)
                assert_true((unsigned char)*p < 0x80);
    }
    /* The If node's subgraphs fold and unfold. */
    press(f, "1");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 9);
    press(f, "jj ");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 3);
    assert_non_null(strstr(line(f, 5), "+If"));
    press(f, " ");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 9);
    close_sample(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_action_table),
        cmocka_unit_test(test_action_lookup),
        cmocka_unit_test(test_roff),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_plot_parse),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_graph_view),
        cmocka_unit_test(test_node_edges),
        cmocka_unit_test(test_ops_view),
        cmocka_unit_test(test_layers_view),
        cmocka_unit_test(test_layer_trial),
        cmocka_unit_test(test_plan_and_quit),
        cmocka_unit_test(test_ascii_screens),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
