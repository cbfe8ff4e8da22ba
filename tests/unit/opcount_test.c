/*
 * Every shared model (models/real, models/zoo-light) and every ONNX node
 * conformance model loads, and its op counts equal models/op-counts.json,
 * at the top level and with subgraphs.  Skipped visibly without
 * QSCOPE_TESTDATA.
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

#include "loader_util.h"

/* Add the ops of "graph" (and, with "deep", of every graph below it) to "counts". */
static void
count_ops(const struct qs_graph *graph, int deep, json_t *counts)
{
    char op[256];

    for (size_t i = 0; i < graph->n_nodes; i++) {
        const struct qs_node *node = &graph->nodes[i];
        const char *qualified = qs_node_qualified_op(node, op, sizeof(op));
        json_int_t n = json_integer_value(json_object_get(counts, qualified));

        json_object_set_new(counts, op, json_integer(n + 1));
        for (size_t k = 0; deep && k < node->n_subgraphs; k++)
            count_ops(node->subgraphs[k], 1, counts);
    }
}

/* Compare two {op: count} objects; print the differences. */
static int
counts_equal(const char *key, const char *which, const json_t *expected, const json_t *actual)
{
    const char *op;
    const json_t *value;
    int equal = 1;

    json_object_foreach((json_t *)expected, op, value) {
        if (json_integer_value(json_object_get(actual, op)) != json_integer_value(value)) {
            print_message("%s %s: %s expected %lld, got %lld\n", key, which, op,
                          (long long)json_integer_value(value),
                          (long long)json_integer_value(json_object_get(actual, op)));
            equal = 0;
        }
    }
    json_object_foreach((json_t *)actual, op, value) {
        if (!json_object_get(expected, op)) {
            print_message("%s %s: unexpected op %s\n", key, which, op);
            equal = 0;
        }
    }
    return equal;
}

/* Load one model; 1 when it loads and its counts match. */
static int
check_model(const char *key, const json_t *expected)
{
    char *path = lt_testdata_path(key);
    struct qs_diag diag;
    struct qs_model *model;
    json_t *top = json_object();
    json_t *deep = json_object();
    int ok;

    qs_diag_init(&diag);
    if (qs_model_load(path, NULL, &diag, &model) != QS_OK) {
        print_message("%s does not load\n", key);
        lt_diag_show(&diag);
        ok = 0;
    } else {
        count_ops(model->graph, 0, top);
        count_ops(model->graph, 1, deep);
        ok = counts_equal(key, "top level", json_object_get(expected, "top_level"), top)
            & counts_equal(key, "with subgraphs",
                           json_object_get(expected, "with_subgraphs"), deep);
        qs_model_free(model);
    }
    json_decref(top);
    json_decref(deep);
    qs_diag_done(&diag);
    free(path);
    return ok;
}

/* Check every entry of op-counts.json whose key starts with "prefix"; returns how many. */
static size_t
check_all(const char *prefix)
{
    char *path = lt_testdata_path("models/op-counts.json");
    json_error_t error;
    json_t *doc = json_load_file(path, 0, &error);
    const char *key;
    json_t *expected;
    size_t checked = 0;
    size_t failed = 0;

    if (!doc)
        fail_msg("%s: %s", path, error.text);
    json_object_foreach(doc, key, expected) {
        if (strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        checked++;
        failed += !check_model(key, expected);
    }
    json_decref(doc);
    free(path);
    if (failed)
        fail_msg("%zu of %zu models failed", failed, checked);
    return checked;
}

static void
real_models_match_counts(void **state)
{
    (void)state;
    assert_int_equal(check_all("models/real/"), 4);
}

static void
zoo_light_models_match_counts(void **state)
{
    (void)state;
    assert_int_equal(check_all("models/zoo-light/"), 9);
}

static void
node_tests_match_counts(void **state)
{
    (void)state;
    assert_int_equal(check_all("onnx-node-tests/"), 922);
}

/* silero_vad keeps its weights in Constant nodes inside If branches. */
static void
silero_subgraph_scopes(void **state)
{
    char *path;
    struct qs_diag diag;
    struct qs_model *model;
    size_t nested = 0;

    (void)state;
    path = lt_testdata_path("models/real/silero_vad.onnx");
    qs_diag_init(&diag);
    assert_int_equal(qs_model_load(path, NULL, &diag, &model), QS_OK);
    assert_int_equal(diag.count, 0);
    assert_true(model->n_graphs > 1);
    for (size_t i = 1; i < model->n_graphs; i++) {
        const struct qs_graph *g = model->graphs[i];
        size_t prefix = strlen(g->parent->scope);

        assert_non_null(g->parent_node);
        assert_int_equal(g->depth, g->parent->depth + 1);
        assert_memory_equal(g->scope, g->parent->scope, prefix);
        assert_true(strncmp(g->scope + prefix, g->parent_node->label,
                            strlen(g->parent_node->label)) == 0);
        assert_int_equal(g->scope[strlen(g->scope) - 1], '/');
    }
    for (size_t i = 0; i < model->n_tensors; i++) {
        if (model->tensors[i]->graph->depth > 0 && model->tensors[i]->count > 1)
            nested++;
    }
    assert_true(nested > 10);
    qs_model_free(model);
    qs_diag_done(&diag);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_models_match_counts),
        cmocka_unit_test(zoo_light_models_match_counts),
        cmocka_unit_test(node_tests_match_counts),
        cmocka_unit_test(silero_subgraph_scopes),
    };

    if (lt_skip_without_testdata())
        return 0;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
