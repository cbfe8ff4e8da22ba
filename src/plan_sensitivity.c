/*
 * Sensitivity weights for automatic plans, read from the JSON of
 * `qscope sensitivity`.
 */
#include "config.h"
#include "plan_sensitivity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sensitivity.h"

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Output error per unit of weight error, or NaN when either is missing. */
static double
raw_factor(json_t *item)
{
    json_t *out = json_object_get(item, "output_sse");
    json_t *weight = json_object_get(item, "weight_sse");
    json_t *skipped = json_object_get(item, "skipped");

    if ((skipped && !json_is_null(skipped)) || !json_is_number(out) || !json_is_number(weight)
        || !(json_number_value(weight) > 0.0) || json_number_value(out) < 0.0)
        return NAN;
    return json_number_value(out) / json_number_value(weight);
}

/* Divide by the median of the finite factors and clamp; NaN becomes 1. */
static void
normalise(struct qs_plan_sensitivity *s)
{
    double *sorted = qs_calloc(s->count + 1, sizeof(double));
    size_t n = 0;
    double median;

    for (size_t i = 0; i < s->count; i++)
        if (isfinite(s->layers[i].factor))
            sorted[n++] = s->layers[i].factor;
    qsort(sorted, n, sizeof(double), compare_double);
    if (n == 0)
        median = 1.0;
    else if (n % 2)
        median = sorted[n / 2];
    else
        median = (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    free(sorted);
    if (!(median > 0.0))
        median = 1.0;

    for (size_t i = 0; i < s->count; i++) {
        double f = s->layers[i].factor / median;

        if (!isfinite(f))
            f = 1.0;
        s->layers[i].factor = fmin(fmax(f, QS_PLAN_SENSITIVITY_MIN_FACTOR),
                                   QS_PLAN_SENSITIVITY_MAX_FACTOR);
    }
}

static enum qs_status
read_doc(const char *path, json_t *doc, const struct qs_model *model,
         struct qs_plan_sensitivity *s, struct qs_diag *diag)
{
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_t *version = json_object_get(doc, "version");
    const char *sha = json_string_value(json_object_get(json_object_get(doc, "model"), "sha256"));
    const char *config = json_string_value(json_object_get(doc, "config"));
    json_t *layers = json_object_get(doc, "layers");
    char model_sha[QS_SHA256_HEX_LEN + 1];

    if (!format || strcmp(format, QS_SENSITIVITY_FORMAT) != 0)
        return qs_diag_add(diag, QS_INVALID, path, "not a sensitivity ranking: 'format' must be "
                           "\"%s\" (write one with qscope sensitivity --json -o FILE)",
                           QS_SENSITIVITY_FORMAT);
    if (!json_is_integer(version) || json_integer_value(version) < 1)
        return qs_diag_add(diag, QS_INVALID, path, "'version' must be a whole number of 1 or more");
    if (json_integer_value(version) > QS_SENSITIVITY_VERSION)
        return qs_diag_add(diag, QS_UNSUPPORTED, path, "'version' %lld is newer than this qscope "
                           "reads (%d)", (long long)json_integer_value(version),
                           QS_SENSITIVITY_VERSION);
    if (!sha || strlen(sha) != QS_SHA256_HEX_LEN || !config || !json_is_array(layers))
        return qs_diag_add(diag, QS_INVALID, path, "'model.sha256', 'config' and 'layers' are "
                           "required");
    if (model) {
        qs_sha256_hex(model->map, model->file_size, model_sha);
        if (strcmp(model_sha, sha) != 0)
            return qs_diag_add(diag, QS_INVALID, path, "made for another model (SHA-256 "
                               "%.12s..., %s has %.12s...)", sha, model->path, model_sha);
    }

    memcpy(s->sha256, sha, sizeof(s->sha256));
    s->config = qs_strdup(config);
    s->layers = qs_calloc(json_array_size(layers) + 1, sizeof(*s->layers));
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *item = json_array_get(layers, i);
        const char *key = json_string_value(json_object_get(item, "key"));

        if (!key)
            return qs_diag_add(diag, QS_INVALID, path, "'layers[%zu].key' must be a string", i);
        s->layers[s->count].key = qs_strdup(key);
        s->layers[s->count++].factor = raw_factor(item);
    }
    normalise(s);
    return QS_OK;
}

enum qs_status
qs_plan_sensitivity_read(const char *path, const struct qs_model *model,
                         struct qs_plan_sensitivity *s, struct qs_diag *diag)
{
    json_error_t error;
    json_t *doc;
    enum qs_status status;

    memset(s, 0, sizeof(*s));
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (!doc)
        return qs_diag_add(diag, QS_INVALID, path, "cannot read the sensitivity ranking: %s "
                           "(line %d)", error.text, error.line);
    status = json_is_object(doc) ? read_doc(path, doc, model, s, diag)
                                 : qs_diag_add(diag, QS_INVALID, path, "not a sensitivity "
                                               "ranking: the top level must be an object");
    json_decref(doc);
    return status;
}

double
qs_plan_sensitivity_factor(const struct qs_plan_sensitivity *s, const char *key)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->layers[i].key, key) == 0)
            return s->layers[i].factor;
    return 1.0;
}

void
qs_plan_sensitivity_weigh(const struct qs_plan_sensitivity *s, const char *key,
                          struct qs_plan_option *options, size_t n)
{
    double factor = qs_plan_sensitivity_factor(s, key);

    for (size_t i = 0; i < n; i++)
        options[i].sse *= factor;
}

void
qs_plan_sensitivity_done(struct qs_plan_sensitivity *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->layers[i].key);
    free(s->layers);
    free(s->config);
    memset(s, 0, sizeof(*s));
}
