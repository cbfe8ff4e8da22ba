/*
 * The .qstats file: a calibration as JSON, written atomically and read
 * back with validation.  The format is described in qscope-qstats(5).
 */
#include "config.h"
#include "calib.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "calib_internal.h"
#include "output.h"
#include "strmap.h"

/* ---- writing ----------------------------------------------------------- */

static json_t *
counts_json(const uint64_t *values, size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, json_integer((json_int_t)values[i]));
    return array;
}

static json_t *
reals_json(const double *values, size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, qs_json_number(values[i]));
    return array;
}

static json_t *
tensor_json(const struct qs_calib_tensor *t)
{
    json_t *obj = json_object();

    qs_json_set_string(obj, "name", t->name);
    qs_json_set_string(obj, "op", t->op);
    qs_json_set_string(obj, "node", t->node);
    qs_json_set_int(obj, "observations", (int64_t)t->observations);
    qs_json_set_int(obj, "count", (int64_t)t->count);
    qs_json_set_int(obj, "nonfinite", (int64_t)t->nonfinite);
    qs_json_set_int(obj, "zeros", (int64_t)t->zeros);
    qs_json_set_number(obj, "min", t->min, NULL);
    qs_json_set_number(obj, "max", t->max, NULL);
    qs_json_set_number(obj, "absmax", t->absmax, NULL);
    qs_json_set_number(obj, "hist_hi", t->hist_hi, NULL);
    json_object_set_new(obj, "hist", counts_json(t->hist, QS_CALIB_BINS));
    return obj;
}

static json_t *
channels_json(const struct qs_calib_channels *e)
{
    json_t *obj = json_object();

    qs_json_set_string(obj, "layer", e->layer);
    qs_json_set_string(obj, "node", e->node);
    qs_json_set_string(obj, "op", e->op);
    qs_json_set_string(obj, "tensor", e->tensor);
    qs_json_set_int(obj, "input", e->input);
    qs_json_set_int(obj, "axis", e->axis);
    qs_json_set_int(obj, "channels", (int64_t)e->channels);
    qs_json_set_int(obj, "skipped", (int64_t)e->mismatches);
    json_object_set_new(obj, "count", counts_json(e->count, e->channels));
    json_object_set_new(obj, "absmax", reals_json(e->absmax, e->channels));
    json_object_set_new(obj, "mean_abs", reals_json(e->mean_abs, e->channels));
    json_object_set_new(obj, "mean_sq", reals_json(e->mean_sq, e->channels));
    return obj;
}

json_t *
qs_calib_to_json(const struct qs_calib *calib)
{
    json_t *doc = json_object();
    json_t *model = json_object();
    json_t *tensors = json_array();
    json_t *inputs = json_array();

    qs_json_set_string(doc, "format", QS_CALIB_FORMAT);
    qs_json_set_int(doc, "version", QS_CALIB_VERSION);
    qs_json_set_string(model, "file", calib->model_file);
    qs_json_set_string(model, "sha256", calib->sha256);
    qs_json_set_int(model, "bytes", (int64_t)calib->model_bytes);
    json_object_set_new(doc, "model", model);
    qs_json_set_int(doc, "samples", (int64_t)calib->samples);
    qs_json_set_string(doc, "source", calib->source);
    qs_json_set_int(doc, "histogram_bins", QS_CALIB_BINS);
    for (size_t i = 0; i < calib->n_tensors; i++)
        json_array_append_new(tensors, tensor_json(&calib->tensors[i]));
    json_object_set_new(doc, "tensors", tensors);
    for (size_t i = 0; i < calib->n_layer_inputs; i++)
        json_array_append_new(inputs, channels_json(&calib->layer_inputs[i]));
    json_object_set_new(doc, "layer_inputs", inputs);
    return doc;
}

enum qs_status
qs_calib_write(const struct qs_calib *calib, const char *path, int force, struct qs_diag *diag)
{
    struct qs_atomic_file file;
    json_t *doc;
    enum qs_status status = qs_atomic_open(&file, path, force, diag);

    if (status != QS_OK)
        return status;
    doc = qs_calib_to_json(calib);
    if (qs_json_write(file.fp, doc) != 0) {
        json_decref(doc);
        qs_atomic_abort(&file);
        return qs_diag_add(diag, QS_OUTPUT, path, "writing the statistics failed");
    }
    json_decref(doc);
    return qs_atomic_commit(&file, diag);
}

/* ---- reading ----------------------------------------------------------- */

struct reader {
    const char *path;
    struct qs_diag *diag;
    enum qs_status status;
};

/* Record one fault; returns -1 so that callers can `return fail(...)`. */
static int
fail(struct reader *r, enum qs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct reader *r, enum qs_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qs_diag_vadd(r->diag, status, r->path, fmt, ap);
    va_end(ap);
    r->status = qs_status_worst(r->status, status);
    return -1;
}

static json_t *
member(struct reader *r, json_t *obj, const char *key, const char *where)
{
    json_t *value = json_object_get(obj, key);

    if (!value)
        fail(r, QS_INVALID, "'%s%s' is missing", where, key);
    return value;
}

static const char *
get_string(struct reader *r, json_t *obj, const char *key, const char *where)
{
    json_t *value = member(r, obj, key, where);

    if (value && !json_is_string(value)) {
        fail(r, QS_INVALID, "'%s%s' must be a string", where, key);
        return NULL;
    }
    return value ? json_string_value(value) : NULL;
}

static int
get_u64(struct reader *r, json_t *obj, const char *key, const char *where, uint64_t *out)
{
    json_t *value = member(r, obj, key, where);

    *out = 0;
    if (!value)
        return -1;
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return fail(r, QS_INVALID, "'%s%s' must be a whole number of 0 or more", where, key);
    *out = (uint64_t)json_integer_value(value);
    return 0;
}

static int
get_int(struct reader *r, json_t *obj, const char *key, const char *where, int *out)
{
    json_t *value = member(r, obj, key, where);

    *out = 0;
    if (!value)
        return -1;
    if (!json_is_integer(value) || json_integer_value(value) < -1000000
        || json_integer_value(value) > 1000000)
        return fail(r, QS_INVALID, "'%s%s' must be a small whole number", where, key);
    *out = (int)json_integer_value(value);
    return 0;
}

/* A finite number, or null (NaN) where "nullable" is set. */
static int
get_real(struct reader *r, json_t *obj, const char *key, const char *where, int nullable,
         double *out)
{
    json_t *value = member(r, obj, key, where);

    *out = NAN;
    if (!value)
        return -1;
    if (json_is_null(value) && nullable)
        return 0;
    if (!json_is_number(value))
        return fail(r, QS_INVALID, "'%s%s' must be a number%s", where, key,
                    nullable ? " or null" : "");
    *out = json_number_value(value);
    return 0;
}

/* An array of exactly "n" entries, or NULL. */
static json_t *
get_array(struct reader *r, json_t *obj, const char *key, const char *where, size_t n)
{
    json_t *value = member(r, obj, key, where);

    if (!value)
        return NULL;
    if (!json_is_array(value) || json_array_size(value) != n) {
        fail(r, QS_INVALID, "'%s%s' must be an array of %zu entries", where, key, n);
        return NULL;
    }
    return value;
}

static int
get_counts(struct reader *r, json_t *obj, const char *key, const char *where, size_t n,
           uint64_t *out)
{
    json_t *array = get_array(r, obj, key, where, n);

    if (!array)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(array, i);

        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fail(r, QS_INVALID, "'%s%s[%zu]' must be a whole number of 0 or more",
                        where, key, i);
        out[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static int
get_reals(struct reader *r, json_t *obj, const char *key, const char *where, size_t n,
          double *out)
{
    json_t *array = get_array(r, obj, key, where, n);

    if (!array)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(array, i);

        if (!json_is_number(v) || json_number_value(v) < 0)
            return fail(r, QS_INVALID, "'%s%s[%zu]' must be a number of 0 or more", where, key,
                        i);
        out[i] = json_number_value(v);
    }
    return 0;
}

/* Reject members other than "keys" (NULL-terminated). */
static void
check_keys(struct reader *r, json_t *obj, const char *const *keys, const char *where)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value) {
        size_t k = 0;

        while (keys[k] && strcmp(keys[k], key) != 0)
            k++;
        if (!keys[k])
            fail(r, QS_INVALID, "unknown member '%s%s'", where, key);
    }
}

/* min, max, absmax and the histogram must agree with the counts. */
static void
check_tensor(struct reader *r, const struct qs_calib_tensor *t, const char *where)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < QS_CALIB_BINS; i++)
        sum += t->hist[i];
    if (sum != t->count)
        fail(r, QS_INVALID, "'%shist' adds up to %" PRIu64 ", but 'count' is %" PRIu64, where,
             sum, t->count);
    if (t->zeros > t->count)
        fail(r, QS_INVALID, "'%szeros' is larger than 'count'", where);
    if (t->count == 0) {
        if (!isnan(t->min) || !isnan(t->max) || !isnan(t->absmax) || t->hist_hi != 0.0)
            fail(r, QS_INVALID, "'%s' has no values, so min, max and absmax must be null and "
                 "hist_hi 0", where);
        return;
    }
    if (isnan(t->min) || isnan(t->max) || t->min > t->max
        || t->absmax != fmax(fabs(t->min), fabs(t->max)))
        fail(r, QS_INVALID, "'%s' has inconsistent min %g, max %g and absmax %g", where, t->min,
             t->max, t->absmax);
    else if (!(t->hist_hi >= t->absmax) || !isfinite(t->hist_hi)
             || (t->hist_hi == 0.0) != (t->absmax == 0.0))
        fail(r, QS_INVALID, "'%shist_hi' %g does not cover absmax %g", where, t->hist_hi,
             t->absmax);
}

static void
read_tensor(struct reader *r, struct qs_calib *calib, json_t *obj, size_t index)
{
    static const char *const keys[] = {
        "name", "op", "node", "observations", "count", "nonfinite", "zeros", "min", "max",
        "absmax", "hist_hi", "hist", NULL
    };
    char where[64];
    const char *name, *op, *node;
    struct qs_calib_tensor *t;

    snprintf(where, sizeof(where), "tensors[%zu].", index);
    if (!json_is_object(obj)) {
        fail(r, QS_INVALID, "'tensors[%zu]' must be an object", index);
        return;
    }
    check_keys(r, obj, keys, where);
    name = get_string(r, obj, "name", where);
    op = get_string(r, obj, "op", where);
    node = get_string(r, obj, "node", where);
    if (!name || !op || !node)
        return;
    if (qs_calib_find(calib, name)) {
        fail(r, QS_INVALID, "'%sname' '%s' appears twice", where, name);
        return;
    }

    t = calib_tensor_append(calib, qs_strdup(name));
    t->op = qs_strdup(op);
    t->node = qs_strdup(node);
    if (get_u64(r, obj, "observations", where, &t->observations)
        | get_u64(r, obj, "count", where, &t->count)
        | get_u64(r, obj, "nonfinite", where, &t->nonfinite)
        | get_u64(r, obj, "zeros", where, &t->zeros)
        | get_real(r, obj, "min", where, 1, &t->min)
        | get_real(r, obj, "max", where, 1, &t->max)
        | get_real(r, obj, "absmax", where, 1, &t->absmax)
        | get_real(r, obj, "hist_hi", where, 0, &t->hist_hi)
        | get_counts(r, obj, "hist", where, QS_CALIB_BINS, t->hist))
        return;
    check_tensor(r, t, where);
}

static void
read_layer_input(struct reader *r, struct qs_calib *calib, json_t *obj, size_t index)
{
    static const char *const keys[] = {
        "layer", "node", "op", "tensor", "input", "axis", "channels", "skipped", "count",
        "absmax", "mean_abs", "mean_sq", NULL
    };
    struct qs_calib_channels *e = &calib->layer_inputs[calib->n_layer_inputs];
    const char *layer, *node, *op, *tensor;
    uint64_t channels;
    char where[64];

    snprintf(where, sizeof(where), "layer_inputs[%zu].", index);
    if (!json_is_object(obj)) {
        fail(r, QS_INVALID, "'layer_inputs[%zu]' must be an object", index);
        return;
    }
    check_keys(r, obj, keys, where);
    layer = get_string(r, obj, "layer", where);
    node = get_string(r, obj, "node", where);
    op = get_string(r, obj, "op", where);
    tensor = get_string(r, obj, "tensor", where);
    if (!layer || !node || !op || !tensor || get_u64(r, obj, "channels", where, &channels))
        return;
    if (channels > json_array_size(json_object_get(obj, "count"))) {
        fail(r, QS_INVALID, "'%scount' must have 'channels' (%" PRIu64 ") entries", where,
             channels);
        return;
    }

    memset(e, 0, sizeof(*e));
    calib->n_layer_inputs++;
    e->layer = qs_strdup(layer);
    e->node = qs_strdup(node);
    e->op = qs_strdup(op);
    e->tensor = qs_strdup(tensor);
    e->channels = channels;
    e->count = qs_calloc(channels + 1, sizeof(*e->count));
    e->absmax = qs_calloc(channels + 1, sizeof(double));
    e->mean_abs = qs_calloc(channels + 1, sizeof(double));
    e->mean_sq = qs_calloc(channels + 1, sizeof(double));
    if (get_int(r, obj, "input", where, &e->input) | get_int(r, obj, "axis", where, &e->axis)
        | get_u64(r, obj, "skipped", where, &e->mismatches)
        | get_counts(r, obj, "count", where, channels, e->count)
        | get_reals(r, obj, "absmax", where, channels, e->absmax)
        | get_reals(r, obj, "mean_abs", where, channels, e->mean_abs)
        | get_reals(r, obj, "mean_sq", where, channels, e->mean_sq))
        return;
    for (uint64_t c = 0; c < channels; c++) {
        /* A mean never exceeds the maximum; allow for the rounding of the sums. */
        double slack = 1.0 + 1e-9;

        if (e->mean_abs[c] > e->absmax[c] * slack
            || e->mean_sq[c] > e->absmax[c] * e->absmax[c] * slack) {
            fail(r, QS_INVALID, "'%smean_abs[%" PRIu64 "]' or 'mean_sq' exceeds what 'absmax' "
                 "allows", where, c);
            return;
        }
    }
}

static void
read_model(struct reader *r, struct qs_calib *calib, json_t *doc)
{
    static const char *const keys[] = { "file", "sha256", "bytes", NULL };
    json_t *model = member(r, doc, "model", "");
    const char *file, *sha;

    if (!model)
        return;
    if (!json_is_object(model)) {
        fail(r, QS_INVALID, "'model' must be an object");
        return;
    }
    check_keys(r, model, keys, "model.");
    file = get_string(r, model, "file", "model.");
    sha = get_string(r, model, "sha256", "model.");
    get_u64(r, model, "bytes", "model.", &calib->model_bytes);
    if (file)
        calib->model_file = qs_strdup(file);
    if (sha && (strlen(sha) != QS_SHA256_HEX_LEN
                || strspn(sha, "0123456789abcdef") != QS_SHA256_HEX_LEN))
        fail(r, QS_INVALID, "'model.sha256' must be 64 lower-case hex digits");
    else if (sha)
        memcpy(calib->sha256, sha, QS_SHA256_HEX_LEN + 1);
}

static int
read_header(struct reader *r, struct qs_calib *calib, json_t *doc)
{
    static const char *const keys[] = {
        "format", "version", "model", "samples", "source", "histogram_bins", "tensors",
        "layer_inputs", NULL
    };
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_t *source = json_object_get(doc, "source");
    uint64_t bins;

    if (!format || strcmp(format, QS_CALIB_FORMAT) != 0)
        return fail(r, QS_INVALID, "not a qscope statistics file: 'format' must be \"%s\"",
                    QS_CALIB_FORMAT);
    if (get_int(r, doc, "version", "", &calib->version))
        return -1;
    if (calib->version < 1)
        return fail(r, QS_INVALID, "'version' %d is invalid", calib->version);
    if (calib->version > QS_CALIB_VERSION)
        return fail(r, QS_UNSUPPORTED, "'version' %d is newer than this qscope reads (%d): "
                    "update qscope", calib->version, QS_CALIB_VERSION);
    check_keys(r, doc, keys, "");
    read_model(r, calib, doc);
    get_u64(r, doc, "samples", "", &calib->samples);
    if (source && json_is_string(source))
        calib->source = qs_strdup(json_string_value(source));
    else if (source && !json_is_null(source))
        fail(r, QS_INVALID, "'source' must be a string or null");
    if (get_u64(r, doc, "histogram_bins", "", &bins) == 0 && bins != QS_CALIB_BINS)
        fail(r, QS_INVALID, "'histogram_bins' is %" PRIu64 ", this qscope uses %d", bins,
             QS_CALIB_BINS);
    return r->status == QS_OK ? 0 : -1;
}

/* Scoped names of every value of "model", for checking tensor names. */
static struct qs_strmap *
model_names(const struct qs_model *model, char ***owned, size_t *n_owned)
{
    struct qs_strmap *map = qs_strmap_new();
    size_t n = 0;

    for (size_t g = 0; g < model->n_graphs; g++)
        n += model->graphs[g]->n_values;
    *owned = qs_calloc(n + 1, sizeof(char *));
    *n_owned = 0;
    for (size_t g = 0; g < model->n_graphs; g++) {
        for (size_t v = 0; v < model->graphs[g]->n_values; v++) {
            char *name = qs_calib_scoped_name(model->graphs[g]->values[v]);

            (*owned)[(*n_owned)++] = name;
            qs_strmap_put(map, name, name);
        }
    }
    return map;
}

static void
check_against_model(struct reader *r, const struct qs_calib *calib, const struct qs_model *model)
{
    char sha[QS_SHA256_HEX_LEN + 1];
    struct qs_strmap *names;
    char **owned;
    size_t n_owned;

    qs_sha256_hex(model->map, model->file_size, sha);
    if (strcmp(sha, calib->sha256) != 0) {
        fail(r, QS_INVALID, "made for another model (SHA-256 %.12s..., %s has %.12s...): "
             "run qscope calibrate on this model", calib->sha256, model->path, sha);
        return;
    }
    names = model_names(model, &owned, &n_owned);
    for (size_t i = 0; i < calib->n_tensors; i++)
        if (!qs_strmap_get(names, calib->tensors[i].name))
            fail(r, QS_INVALID, "tensor '%s' is not in the model", calib->tensors[i].name);
    for (size_t i = 0; i < calib->n_layer_inputs; i++)
        if (!qs_strmap_get(names, calib->layer_inputs[i].tensor))
            fail(r, QS_INVALID, "layer input '%s' is not in the model",
                 calib->layer_inputs[i].tensor);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    qs_strmap_free(names);
}

static void
read_lists(struct reader *r, struct qs_calib *calib, json_t *doc)
{
    json_t *tensors = member(r, doc, "tensors", "");
    json_t *inputs = member(r, doc, "layer_inputs", "");

    if (tensors && !json_is_array(tensors))
        fail(r, QS_INVALID, "'tensors' must be an array");
    else
        for (size_t i = 0; tensors && i < json_array_size(tensors); i++)
            read_tensor(r, calib, json_array_get(tensors, i), i);

    if (inputs && !json_is_array(inputs)) {
        fail(r, QS_INVALID, "'layer_inputs' must be an array");
        return;
    }
    calib->layer_inputs = qs_calloc(json_array_size(inputs) + 1, sizeof(*calib->layer_inputs));
    for (size_t i = 0; inputs && i < json_array_size(inputs); i++)
        read_layer_input(r, calib, json_array_get(inputs, i), i);
}

enum qs_status
qs_calib_read(const char *path, const struct qs_model *model, struct qs_calib *calib,
              struct qs_diag *diag)
{
    struct reader r = { path, diag, QS_OK };
    json_error_t error;
    json_t *doc;

    qs_calib_init(calib, NULL, NULL);
    doc = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (!doc)
        return qs_diag_add(diag, QS_INVALID, path, "cannot read the statistics: %s (line %d)",
                           error.text, error.line);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return qs_diag_add(diag, QS_INVALID, path, "not a qscope statistics file: the top "
                           "level must be an object");
    }

    if (read_header(&r, calib, doc) == 0) {
        read_lists(&r, calib, doc);
        if (model && r.status == QS_OK)
            check_against_model(&r, calib, model);
    }
    json_decref(doc);
    return r.status;
}
