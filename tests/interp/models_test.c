/*
 * The interpreter on every shared model (models/real and
 * models/zoo-light): each runs on test_data_set_0's inputs and must
 * match the onnxruntime outputs within rtol 1e-3, atol 1e-4, and a
 * second run with two threads must give the same bits.  One TAP test
 * per model, with the largest errors as a diagnostic line.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const model_dirs[] = { "models/real", "models/zoo-light" };

/* Model files (NAME.onnx with a NAME/test_data_set_0 folder) under one folder. */
static long
list_models(const char *dir, char ***models)
{
    char **names;
    long n = harness_list_dir(dir, &names), kept = 0;

    *models = NULL;
    for (long i = 0; i < n; i++) {
        size_t len = strlen(names[i]);

        if (len > 5 && strcmp(names[i] + len - 5, ".onnx") == 0) {
            *models = qs_reallocarray(*models, (size_t)kept + 1, sizeof(**models));
            (*models)[kept++] = qs_strndup(names[i], len - 5);
        }
        free(names[i]);
    }
    free(names);
    return n < 0 ? -1 : kept;
}

static int
run_model(const char *root, const char *dir, const char *name, int number)
{
    char model[4096], data[4096];
    struct harness_report r;

    snprintf(model, sizeof(model), "%s/%s/%s.onnx", root, dir, name);
    snprintf(data, sizeof(data), "%s/%s/%s/test_data_set_0", root, dir, name);
    harness_run(model, data, 2, &r);
    if (r.result == HARNESS_PASS) {
        printf("ok %d - %s\n", number, name);
        printf("# %s: max abs error %.3g, max rel error %.3g\n", name, r.max_abs_error,
               r.max_rel_error);
        return 1;
    }
    printf("not ok %d - %s\n", number, name);
    printf("# %s: %s\n", name, r.detail);
    return 0;
}

int
main(void)
{
    const char *root = getenv("QSCOPE_TESTDATA");
    char **models[2] = { NULL, NULL };
    long counts[2] = { 0, 0 }, total = 0;
    int number = 0, failed = 0;
    char dir[4096];

    if (!root || !*root) {
        printf("1..0 # SKIP QSCOPE_TESTDATA is not set\n");
        return 0;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof(dir), "%s/%s", root, model_dirs[k]);
        counts[k] = list_models(dir, &models[k]);
        total += counts[k] > 0 ? counts[k] : 0;
    }
    if (total == 0) {
        printf("1..0 # SKIP no models under %s/models\n", root);
        return 0;
    }

    printf("1..%ld\n", total);
    for (int k = 0; k < 2; k++) {
        for (long i = 0; i < counts[k]; i++) {
            failed += !run_model(root, model_dirs[k], models[k][i], ++number);
            free(models[k][i]);
        }
        free(models[k]);
    }
    return failed ? 1 : 0;
}
