/*
 * The browser's logic without a terminal: key names and the action
 * table, row building, gnuplot text parsing, and whole screens of the
 * views driven by keys on the sample models (what a row says, where the
 * selection goes, what a key changes).  display.c is replaced by the
 * stubs below, so nothing here needs curses.
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

#include "actions.h"
#include "activations.h"
#include "display.h"
#include "plot.h"
#include "sensitivity.h"
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

/* A browser on the model at "path" with a 24 x 80 screen and no gnuplot. */
static struct fixture *
open_model(const char *path)
{
    struct fixture *f = qs_calloc(1, sizeof(*f));
    struct qs_model *model = NULL;
    struct qs_diag diag;

    setenv("QSCOPE_GNUPLOT", "/nonexistent/gnuplot", 1);
    qs_glyphs_init(0);
    snprintf(f->path, sizeof(f->path), "%s", path);
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

/* A browser on sample "name". */
static struct fixture *
open_sample(const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/samples/%s", srcdir(), name);
    return open_model(path);
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

/* Let the jobs a command started, and the ones its drawing starts, finish. */
static void
settle(struct fixture *f)
{
    for (int i = 0; i < 3; i++) {
        qs_worker_wait_idle(f->ui.worker);
        qs_ui_draw(&f->ui);
    }
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
    assert_string_equal(row.text, "   ~");
    assert_int_equal(row.width, 4);
    qs_row_clear(&row);
    /* A cut number must not read as a smaller one: "kurtosis 381" is never "kurtosis 38". */
    qs_row_add(&row, QS_STYLE_NORMAL, "kurtosis ");
    qs_row_add(&row, QS_STYLE_WARN, "381");
    qs_row_truncate(&row, 11);
    assert_string_equal(row.text, "kurtosis 3~");
    assert_int_equal(qs_row_style_at(&row, 10), QS_STYLE_WARN);
    /* A word cut off whole is marked too; a cut just after a word, or in padding, is not. */
    qs_row_truncate(&row, 9);
    assert_string_equal(row.text, "kurtosis~");
    qs_row_clear(&row);
    qs_row_add(&row, QS_STYLE_NORMAL, "max 4.18 outliers");
    qs_row_truncate(&row, 8);
    assert_string_equal(row.text, "max 4.18");
    qs_row_clear(&row);
    qs_row_cell(&row, QS_STYLE_NORMAL, "abc", 8, 0);
    qs_row_truncate(&row, 5);
    assert_string_equal(row.text, "abc  ");
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

/* ---- activations: statistics, sensitivity, evaluation ---- */

/* The browser on "name" with 2 generated samples (seed 0), as `--random 2` gives. */
static struct fixture *
open_with_inputs(const char *name)
{
    struct fixture *f = open_sample(name);
    struct qs_ui_options options = { 0 };

    options.inputs.random = 2;
    qs_ui_act_start(&f->ui, &options);
    qs_worker_wait_idle(f->ui.worker);
    return f;
}

/* The samples of open_with_inputs, read by the core for the expected numbers. */
static void
core_inputs(struct fixture *f, struct qs_interp **interp, struct qs_input_set *inputs)
{
    struct qs_interp_options options = { .threads = 2 };
    struct qs_input_spec spec = { .random = 2 };
    struct qs_diag diag;

    qs_diag_init(&diag);
    assert_int_equal(qs_interp_new(f->ui.model, &options, &diag, interp), QS_OK);
    assert_int_equal(qs_inputs_load(*interp, &spec, f->path, &diag, inputs), QS_OK);
    qs_diag_done(&diag);
}

/* The screen line of the layers view row "key", or NULL. */
static const char *
layers_row(struct fixture *f, const char *key)
{
    char start[128];

    snprintf(start, sizeof(start), "%s ", key);
    qs_ui_draw(&f->ui);
    for (int y = 3; y < f->ui.frame.lines - 1; y++)
        if (f->ui.frame.rows[y].text && strncmp(f->ui.frame.rows[y].text, start,
                                                strlen(start)) == 0)
            return f->ui.frame.rows[y].text;
    return NULL;
}

/* The first screen line from "from" on that ends with "text", or -1. */
static int
find_line_ending(struct fixture *f, const char *text, int from)
{
    qs_ui_draw(&f->ui);
    for (int y = from; y < f->ui.frame.lines; y++) {
        const char *row = f->ui.frame.rows[y].text;

        if (row && strlen(row) >= strlen(text) &&
            strcmp(row + strlen(row) - strlen(text), text) == 0)
            return y;
    }
    return -1;
}

/* The first screen line holding both "a" and "b", or -1. */
static int
find_line2(struct fixture *f, const char *a, const char *b)
{
    qs_ui_draw(&f->ui);
    for (int y = 0; y < f->ui.frame.lines; y++)
        if (f->ui.frame.rows[y].text && strstr(f->ui.frame.rows[y].text, a) &&
            strstr(f->ui.frame.rows[y].text, b))
            return y;
    return -1;
}

/* The status line of a run: its bar, its count and the key that cancels it. */
static void
test_run_progress_line(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");
    struct qs_ui_run run;

    (void)state;
    memset(&run, 0, sizeof(run));
    run.kind = QS_RUN_CALIBRATE;
    run.unit = "samples";
    atomic_init(&run.done_steps, 1);
    atomic_init(&run.total_steps, 4);
    f->ui.act->run = &run;
    assert_string_equal(line(f, 23), "calibrating |#####               | 1/4 samples  X cancel");
    atomic_store(&run.total_steps, 0);
    assert_string_equal(line(f, 23), "calibrating reading the inputs~ X cancel");
    f->ui.act->run = NULL;
    assert_null(strstr(line(f, 23), "cancel"));
    press(f, "X");
    assert_non_null(strstr(line(f, 23), "nothing to cancel"));
    close_sample(f);
}

/* Runs need inputs: without them the status line names the options that give them. */
static void
test_run_without_inputs(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    qs_ui_act_start(&f->ui, NULL);
    press(f, "C");
    assert_non_null(strstr(line(f, 23), "calibration needs inputs: start qscope with --data"));
    assert_null(f->ui.act->calib);
    close_sample(f);
}

/* C calibrates: the layers view gains the input activation's absmax and outlier channels. */
static void
test_calibrate_columns(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");
    const struct qs_ui_act_layer *x;
    const struct qs_calib_tensor *pool1;
    const char *row;
    char expect[64];
    double absmax, median;
    uint64_t outliers, count = 0;

    (void)state;
    press(f, "3");
    assert_null(strstr(line(f, 2), "x absmax"));
    press(f, "C");
    assert_non_null(strstr(line(f, 23), "14 activations from 2 samples. Write them to: "));
    press_key(f, QS_KEY_ESC);
    assert_non_null(f->ui.act->calib);
    assert_null(f->ui.act->calib_file);

    /* conv2 reads pool1.out; its channel absmax agrees with the tensor's own collector. */
    x = qs_ui_act_layer(&f->ui, qs_ui_layer_find(&f->ui, "conv2.weight"));
    assert_non_null(x);
    assert_string_equal(x->input->tensor, "pool1.out");
    assert_int_equal(x->input->channels, 16);
    pool1 = qs_calib_find(f->ui.act->calib, "pool1.out");
    assert_non_null(pool1);
    assert_true(x->absmax == pool1->absmax);
    /* Outlier channels: absmax above 8 times the median, counted here by hand. */
    qs_ui_act_channels(x->input, &absmax, &median, &outliers, NULL);
    for (uint64_t c = 0; c < x->input->channels; c++)
        count += x->input->absmax[c] > 8.0 * median;
    assert_int_equal(x->outliers, count);
    assert_null(qs_ui_act_layer(&f->ui, qs_ui_layer_find(&f->ui, "conv2.bias")));

    f->ui.cols = 120;
    assert_non_null(strstr(line(f, 2), "x absmax x outl"));
    row = layers_row(f, "conv2.weight");
    assert_non_null(row);
    snprintf(expect, sizeof(expect), " %.3g %6llu ", pool1->absmax, (unsigned long long)count);
    assert_non_null(strstr(row, expect));
    /* Sorting reaches the new columns: largest input absmax first. */
    press(f, "SSSSS");
    assert_non_null(strstr(line(f, 2), "vx absmax"));
    assert_memory_equal(line(f, 3), "conv2.weight ", 13);
    close_sample(f);
}

/* x plots the input activation; without gnuplot, its |x| histogram as text with the clip row. */
static void
test_activation_plots(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");

    (void)state;
    qs_ui_command(&f->ui, "layer conv2.weight");
    press(f, "x");
    assert_true(find_line(f, "no activation statistics to plot") > 0);
    press(f, "C");
    press_key(f, QS_KEY_ESC);
    f->ui.cols = 160;
    assert_int_equal(find_line(f, "x pool1.out 0.."), 3);
    assert_int_equal(find_line(f, "int8:tensor:asym:minmax clips 0.."), 3);
    assert_int_equal(find_line(f, "  16 ch  zeros "), 3);
    assert_int_equal(find_line(f, "no plots: gnuplot not found"), 4);
    assert_true(find_line_ending(f, " clip", 5) > 4);
    press(f, "c");
    assert_int_equal(find_line(f, "int8:tensor:asym:p99.99 clips 0.."), 3);
    assert_non_null(strstr(line(f, 23), "activations: int8:tensor:asym:p99.99, so pool1.out "
                                        "clips at 0.."));
    press(f, "ccc");
    assert_int_equal(find_line(f, "int8:tensor:asym:minmax clips 0.."), 3);
    assert_int_equal(qs_ui_command(&f->ui, "act int8:dynamic:sym"), 0);
    assert_int_equal(find_line(f, "int8:dynamic:sym (scales at run time)"), 3);
    /* The stats line tells when a layer's input has no channel statistics. */
    qs_ui_command(&f->ui, "layer conv2.bias");
    assert_int_equal(find_line(f, "input x: none in the statistics"), 3);
    press(f, "x");
    assert_int_equal(find_line(f, " std "), 3);
    close_sample(f);
}

/* R measures each layer alone; the out dB column shows what qs_sensitivity_run gives. */
static void
test_sensitivity_column(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");
    struct qs_quant_config config;
    struct qs_sens_options options = { .config = &config, .threads = 2 };
    struct qs_sens_result result;
    struct qs_interp *interp;
    struct qs_input_set inputs;
    struct qs_diag diag;
    char expect[64];

    (void)state;
    press(f, "3R");
    assert_non_null(strstr(line(f, 23), "sensitivity at int8:channel:sym:minmax: 4 layers"));
    assert_non_null(strstr(line(f, 2), "out dB"));

    qs_diag_init(&diag);
    core_inputs(f, &interp, &inputs);
    qs_quant_config_default(QS_QUANT_INT8, &config);
    assert_int_equal(qs_sensitivity_run(f->ui.model, f->ui.layers, &inputs, &options, &diag,
                                        &result), QS_OK);
    assert_int_equal(result.count, 4);
    for (size_t i = 0; i < result.count; i++) {
        const char *row = layers_row(f, result.items[i].layer->key);

        assert_non_null(row);
        snprintf(expect, sizeof(expect), " %.2f ", result.items[i].output.sqnr_db);
        assert_non_null(strstr(row, expect));
    }
    assert_false(qs_ui_sens_layer(&f->ui, qs_ui_layer_find(&f->ui, "conv1.bias"))->measured);

    /* Sorted worst first: the lowest output SQNR (dwconv.weight, 58.99 dB) on top. */
    qs_sensitivity_rank(&result);
    press(f, "SS");
    assert_non_null(strstr(line(f, 2), "vout dB"));
    snprintf(expect, sizeof(expect), "%s ", result.items[0].layer->key);
    assert_memory_equal(line(f, 3), expect, strlen(expect));
    qs_sensitivity_done(&result);
    qs_inputs_done(&inputs);
    qs_interp_free(interp);
    qs_diag_done(&diag);
    close_sample(f);
}

/* A ranking read from `qscope sensitivity --json` fills the same column. */
static void
test_sensitivity_file(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");
    struct qs_quant_config config;
    struct qs_sens_options options = { .config = &config, .threads = 2 };
    struct qs_sens_result result;
    struct qs_interp *interp;
    struct qs_input_set inputs;
    char path[] = "/tmp/qscope-view-sens-XXXXXX";
    char command[128], expect[64];
    json_t *doc;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    core_inputs(f, &interp, &inputs);
    assert_int_equal(qs_quant_config_parse("int4:channel", &config, NULL, 0), QS_OK);
    assert_int_equal(qs_sensitivity_run(f->ui.model, f->ui.layers, &inputs, &options, NULL,
                                        &result), QS_OK);
    doc = qs_sensitivity_to_json(&result, f->ui.model);
    assert_int_equal(json_dumpfd(doc, fd, 0), 0);
    close(fd);
    json_decref(doc);

    snprintf(command, sizeof(command), "sensitivity %s", path);
    press(f, "3");
    assert_int_equal(qs_ui_command(&f->ui, command), 0);
    qs_worker_wait_idle(f->ui.worker);
    assert_non_null(strstr(line(f, 23), "4 layers at int4:channel:asym"));
    for (size_t i = 0; i < result.count; i++) {
        snprintf(expect, sizeof(expect), " %.2f ", result.items[i].output.sqnr_db);
        assert_non_null(strstr(layers_row(f, result.items[i].layer->key), expect));
    }
    unlink(path);
    qs_sensitivity_done(&result);
    qs_inputs_done(&inputs);
    qs_interp_free(interp);
    close_sample(f);
}

/* t evaluates the plan: the eval view's rows are qs_eval_run's trace. */
static void
test_eval_view(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");
    struct qs_eval_options options = { .plan = &f->ui.plan, .trace = 1, .threads = 2 };
    struct qs_eval_result result;
    struct qs_interp *interp;
    struct qs_input_set inputs;
    struct qs_diag diag;
    char expect[128];

    (void)state;
    qs_ui_command(&f->ui, "layer conv2.weight");
    press(f, "bbbbga5t");
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_EVAL);
    assert_non_null(strstr(line(f, 2), "plan: 1 layer quantized (1 read), weight SQNR 21.65 dB"));
    assert_non_null(strstr(line(f, 3), "output probs  SQNR "));
    assert_non_null(strstr(line(f, 3), "top-1 100.00%"));

    qs_diag_init(&diag);
    core_inputs(f, &interp, &inputs);
    assert_int_equal(qs_eval_run(f->ui.model, f->ui.layers, &inputs, &options, &diag, &result),
                     QS_OK);
    assert_int_equal(f->ui.views[QS_VIEW_EVAL].rows, result.n_trace);
    for (size_t i = 0; i < result.n_trace; i++) {
        char sqnr[32];
        const struct qs_quant_metrics *m = &result.trace[i].metrics;

        qs_ui_sqnr_text(m->sqnr_db, m->exact, sqnr, sizeof(sqnr));
        snprintf(expect, sizeof(expect), "%9s   %.6f", sqnr, m->cosine);
        qs_view_select(&f->ui.views[QS_VIEW_EVAL], i);
        assert_true(find_line2(f, result.trace[i].name, expect) > 3);
    }
    /* The tensors before conv2 are exact; conv2.out is not. */
    assert_true(find_line(f, "no plot: gnuplot not found") > 0);
    qs_view_select(&f->ui.views[QS_VIEW_EVAL], 4);
    assert_non_null(strstr(line(f, find_line(f, "conv2.out")), "Conv"));
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_NODE);
    assert_string_equal(line(f, 2), "Conv conv2");
    qs_eval_result_done(&result);
    qs_inputs_done(&inputs);
    qs_interp_free(interp);
    qs_diag_done(&diag);
    close_sample(f);
}

/* MODEL.qstats made for another model is not loaded, and one message says why. */
static void
test_qstats_mismatch(void **state)
{
    struct fixture *f = open_with_inputs("tiny_cnn.onnx");
    char dir[] = "/tmp/qscope-view-qstats-XXXXXX";
    char model[256], qstats[256], copy[512];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(qstats, sizeof(qstats), "%s/tiny_if.qstats", dir);
    snprintf(model, sizeof(model), "%s/tiny_if.onnx", dir);
    press(f, "C");
    press_key(f, QS_KEY_ESC);
    assert_int_equal(qs_ui_calib_write(&f->ui, qstats, 0), 0);
    assert_non_null(strstr(line(f, 23), "wrote "));
    assert_int_equal(qs_ui_calib_write(&f->ui, qstats, 0), -1);
    assert_non_null(strstr(line(f, 23), "tiny_if.qstats exists: :write-qstats!"));
    close_sample(f);

    snprintf(copy, sizeof(copy), "cp '%s/samples/tiny_if.onnx' '%s'", srcdir(), model);
    assert_int_equal(system(copy), 0);
    f = open_sample("tiny_if.onnx");
    snprintf(f->path, sizeof(f->path), "%s", model);
    f->ui.path = f->path;
    qs_ui_act_start(&f->ui, NULL);
    qs_worker_wait_idle(f->ui.worker);
    assert_null(f->ui.act->calib);
    f->ui.cols = 200;
    assert_memory_equal(line(f, 23), "statistics not loaded: ", 23);
    assert_non_null(strstr(line(f, 23), "tiny_if.qstats: made for another model"));
    unlink(qstats);
    unlink(model);
    rmdir(dir);
    close_sample(f);
}

/* ---- regressions found by trying the browser as a user would ---- */

/* A float32 initializer "name" of "rows" x "cols" "values". */
static Onnx__TensorProto *
weight_proto(Onnx__TensorProto *t, int64_t *dims, const char *name, const float *values,
             size_t rows, size_t cols)
{
    onnx__tensor_proto__init(t);
    dims[0] = (int64_t)rows;
    dims[1] = (int64_t)cols;
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = 1;
    t->n_dims = 2;
    t->dims = dims;
    t->has_raw_data = 1;
    t->raw_data.len = rows * cols * sizeof(float);
    t->raw_data.data = (uint8_t *)values;
    return t;
}

static Onnx__ValueInfoProto *
float_value(Onnx__ValueInfoProto *info, Onnx__TypeProto *type, Onnx__TypeProto__Tensor *tensor,
            const char *name)
{
    onnx__value_info_proto__init(info);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1;
    tensor->elem_type = 1;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    info->name = (char *)name;
    info->type = type;
    return info;
}

/* The key of the first weight of the model write_hostile_model writes. */
#define HOSTILE_KEY "encoder.layers.0.self_attention.query_key_value.weight"

/*
 * Write to "path" a model made by producer "spox" without a version:
 * x[1,4] -> MatMul HOSTILE_KEY[4,4] (one NaN, one Inf) -> MatMul
 * head.weight[4,4] (every value NaN) -> y.
 */
static void
write_hostile_model(const char *path)
{
    float w1[16], w2[16];
    int64_t dims1[2], dims2[2];
    Onnx__TensorProto t1, t2, *inits[2] = { &t1, &t2 };
    char *mm1_in[2] = { "x", HOSTILE_KEY }, *mm1_out[1] = { "h" };
    char *mm2_in[2] = { "h", "head.weight" }, *mm2_out[1] = { "y" };
    Onnx__NodeProto mm1 = ONNX__NODE_PROTO__INIT, mm2 = ONNX__NODE_PROTO__INIT;
    Onnx__NodeProto *nodes[2] = { &mm1, &mm2 };
    Onnx__ValueInfoProto vx, vy, *inputs[1] = { &vx }, *outputs[1] = { &vy };
    Onnx__TypeProto tx, ty;
    Onnx__TypeProto__Tensor ttx, tty;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = { &opset };
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    uint8_t *packed;
    size_t size;
    FILE *fp;

    for (int i = 0; i < 16; i++) {
        w1[i] = (float)(i - 7) / 8.0f;
        w2[i] = NAN;
    }
    w1[5] = NAN;
    w1[9] = INFINITY;
    mm1.op_type = mm2.op_type = "MatMul";
    mm1.name = "mm1";
    mm2.name = "mm2";
    mm1.n_input = mm2.n_input = 2;
    mm1.input = mm1_in;
    mm2.input = mm2_in;
    mm1.n_output = mm2.n_output = 1;
    mm1.output = mm1_out;
    mm2.output = mm2_out;
    graph.name = "hostile";
    graph.n_node = 2;
    graph.node = nodes;
    graph.n_initializer = 2;
    graph.initializer = inits;
    weight_proto(&t1, dims1, HOSTILE_KEY, w1, 4, 4);
    weight_proto(&t2, dims2, "head.weight", w2, 4, 4);
    graph.n_input = graph.n_output = 1;
    graph.input = inputs;
    graph.output = outputs;
    float_value(&vx, &tx, &ttx, "x");
    float_value(&vy, &ty, &tty, "y");
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 17;
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.producer_name = "spox";
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &graph;

    size = onnx__model_proto__get_packed_size(&model);
    packed = qs_malloc(size + 1);
    onnx__model_proto__pack(&model, packed);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(packed, 1, size, fp), size);
    assert_int_equal(fclose(fp), 0);
    free(packed);
}

/* A browser on a fresh hostile model; "path" gets its file name (unlink it after). */
static struct fixture *
open_hostile(char *path, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(path, size, "%s/qscope-view-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_hostile_model(path);
    return open_model(path);
}

/* The header skips a missing producer version: one gap before the opset, not three spaces. */
static void
test_header_without_producer_version(void **state)
{
    char path[1024];
    struct fixture *f = open_hostile(path, sizeof(path));

    (void)state;
    assert_non_null(strstr(line(f, 0), "spox  opset 17"));
    close_sample(f);
    unlink(path);
}

/* NaN and Inf weights are said where they matter; a weight of NaN only is never "exact". */
static void
test_nonfinite_weights(void **state)
{
    char path[1024];
    struct fixture *f = open_hostile(path, sizeof(path));

    (void)state;
    press(f, "3");
    assert_non_null(strstr(line(f, 3), "  1!  "));
    assert_non_null(strstr(line(f, 4), "NaN"));
    assert_int_equal(qs_ui_command(&f->ui, "layer " HOSTILE_KEY), 0);
    settle(f);
    assert_memory_equal(line(f, 3), "1 NaN 1 Inf left out  min -0.875 max 1 ", 39);
    assert_true(find_line(f, "trial int8:channel:sym:minmax   plan float  2 NaN/Inf left out") > 0);

    press(f, "j");
    assert_memory_equal(line(f, 2), "head.weight  MatMul", 19);
    assert_non_null(strstr(line(f, 3), "16 NaN 0 Inf left out  no finite values"));
    assert_true(find_line(f, "no finite values to measure") > 0);
    assert_true(find_line(f, "plan float  4 channels zeroed") > 0);
    assert_int_equal(find_line(f, "exact"), -1);
    press(f, "1");
    press_key(f, QS_KEY_ENTER);
    assert_true(find_line(f, "weight 1 NaN 1 Inf left out  min -0.875") > 0);
    close_sample(f);
    unlink(path);
}

/* A key longer than the screen is shortened so that the op and shape after it still show. */
static void
test_long_key_title(void **state)
{
    char path[1024];
    struct fixture *f = open_hostile(path, sizeof(path));

    (void)state;
    assert_int_equal(qs_ui_command(&f->ui, "layer " HOSTILE_KEY), 0);
    settle(f);
    assert_non_null(strstr(line(f, 2), "MatMul [4, 4] fp32  axes c1 g0"));
    assert_memory_equal(line(f, 2), "encoder.layers.0.", 17);
    close_sample(f);
    unlink(path);
}

/* Stepping over biases and BatchNormalization parameters keeps the chosen configuration. */
static void
test_trial_config_kept(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    assert_int_equal(qs_ui_command(&f->ui, "layer conv1.weight"), 0);
    assert_int_equal(qs_ui_command(&f->ui, "config int4:g64:asym"), 0);
    settle(f);
    press(f, "]]]]]]");
    assert_memory_equal(line(f, 2), "conv2.weight  Conv", 18);
    assert_true(find_line(f, "trial int4:g64:asym:minmax") > 0);
    close_sample(f);
}

/* Every trial setting shows in full at 80 columns: p99.99 never reads as "p99.9". */
static void
test_settings_fit(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    assert_int_equal(qs_ui_command(&f->ui, "layer conv2.weight"), 0);
    assert_int_equal(qs_ui_command(&f->ui, "config int8:channel:asym:p99.99"), 0);
    settle(f);
    assert_true(find_line(f, " r p99.99") > 0);
    close_sample(f);
}

/* At 80 columns the plan view's last column shows whole numbers. */
static void
test_plan_columns_fit(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    assert_int_equal(qs_ui_command(&f->ui, "layer conv1.weight"), 0);
    assert_int_equal(qs_ui_command(&f->ui, "config int4:g16:asym"), 0);
    settle(f);
    press(f, "a5");
    assert_non_null(strstr(line(f, 2), " bpw"));
    assert_non_null(strstr(line(f, 3), " 576  10.667"));
    close_sample(f);
}

/* Writing the plan over a folder is refused at once, not after asking to replace it. */
static void
test_plan_write_folder(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "5");
    assert_int_equal(qs_ui_plan_write(&f->ui, "/", 0), -1);
    assert_int_equal(f->ui.prompt.kind, QS_PROMPT_NONE);
    assert_non_null(strstr(line(f, 23), "/: is a folder"));
    close_sample(f);
}

/* 4 in the layers view shows the layer under the cursor, as its help says. */
static void
test_view_layer_key_opens_selected(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "3/dwconv.w");
    press_key(f, QS_KEY_ENTER);
    press(f, "4");
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_LAYER);
    assert_memory_equal(line(f, 2), "dwconv.weight  Conv", 19);
    close_sample(f);
}

/* Before any layer was shown, the layers view starts on the first weight, so 3 then 4 shows it. */
static void
test_layers_start_on_first_weight(void **state)
{
    struct fixture *f = open_sample("tiny_transformer.onnx");

    (void)state;
    press(f, "3");
    assert_int_equal(f->ui.views[QS_VIEW_LAYERS].sel, 2);
    assert_memory_equal(line(f, 5), "attn.q.weight ", 14);
    press(f, "4");
    assert_memory_equal(line(f, 2), "attn.q.weight  MatMul", 21);
    close_sample(f);
}

/* The sort mark sits next to the title it marks, not after the column before it. */
static void
test_sort_mark_next_to_title(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "3sssss");
    assert_non_null(strstr(line(f, 2), " vabsmax"));
    close_sample(f);
}

/* Choosing an op, moving, then x: the node stays selected in the whole graph. */
static void
test_filter_keeps_selection(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "2/relu");
    press_key(f, QS_KEY_ENTER);
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(qs_ui_view(&f->ui)->id, QS_VIEW_GRAPH);
    press(f, "j");
    press(f, "x");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 6);
    close_sample(f);
}

/* A search finds nodes in folded subgraphs and unfolds them. */
static void
test_search_unfolds(void **state)
{
    struct fixture *f = open_sample("tiny_if.onnx");

    (void)state;
    press(f, "-");
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 3);
    press(f, "/else_matmul");
    press_key(f, QS_KEY_ENTER);
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].rows, 9);
    assert_int_equal(f->ui.views[QS_VIEW_GRAPH].sel, 8);
    close_sample(f);
}

static void
confirm_ignored(struct qs_ui *ui, int yes, void *arg)
{
    (void)ui, (void)yes, (void)arg;
}

/* A question wider than the screen keeps its end, "(y/n)", in sight. */
static void
test_long_question_keeps_end(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");
    const char *status;

    (void)state;
    qs_ui_confirm(&f->ui, "./tiny_cnn.conv1.weight.range.png or ./tiny_cnn.conv1.weight.range.svg "
                  "exists. Replace them?", confirm_ignored, NULL);
    status = line(f, 23);
    assert_memory_equal(status, "./tiny_cnn.conv1.weight.ra", 26);
    assert_non_null(strstr(status, "~.range.svg exists. Replace them? (y/n) "));
    assert_true(qs_text_columns(status) < 80);
    press(f, "n");
    close_sample(f);
}

/* The node view counts in English: "1 input, 1 output". */
static void
test_node_counts_wording(void **state)
{
    struct fixture *f = open_sample("tiny_cnn.onnx");

    (void)state;
    press(f, "/relu1");
    press_key(f, QS_KEY_ENTER);
    press_key(f, QS_KEY_ENTER);
    assert_non_null(strstr(line(f, 3), "node 2 of the main graph, 1 input, 1 output"));
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
        cmocka_unit_test(test_run_progress_line),
        cmocka_unit_test(test_run_without_inputs),
        cmocka_unit_test(test_calibrate_columns),
        cmocka_unit_test(test_activation_plots),
        cmocka_unit_test(test_sensitivity_column),
        cmocka_unit_test(test_sensitivity_file),
        cmocka_unit_test(test_eval_view),
        cmocka_unit_test(test_qstats_mismatch),
        cmocka_unit_test(test_header_without_producer_version),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_long_key_title),
        cmocka_unit_test(test_trial_config_kept),
        cmocka_unit_test(test_settings_fit),
        cmocka_unit_test(test_plan_columns_fit),
        cmocka_unit_test(test_plan_write_folder),
        cmocka_unit_test(test_view_layer_key_opens_selected),
        cmocka_unit_test(test_layers_start_on_first_weight),
        cmocka_unit_test(test_sort_mark_next_to_title),
        cmocka_unit_test(test_filter_keeps_selection),
        cmocka_unit_test(test_search_unfolds),
        cmocka_unit_test(test_node_counts_wording),
        cmocka_unit_test(test_long_question_keeps_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
