/*
 * The JSON form of a plan (documented in qscope-plan(5)): writing it
 * atomically, reading it back with validation, and comparing the numbers
 * of two plans within the stored tolerances.
 */
#include "config.h"
#include "plan.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "output.h"

/* Value of the "format" member, which distinguishes plans from other JSON files. */
#define PLAN_FORMAT_NAME "qscope-plan"

/* Note of a layer measured without a finite weight, the words `qscope quant` uses. */
#define PLAN_NOTE_NO_FINITE "no finite values to measure"

static json_t *
measure_json(const struct qs_plan_layer *entry)
{
    json_t *obj = json_object();

    json_object_set_new(obj, "config", json_string(entry->config_text));
    json_object_set_new(obj, "pinned", json_boolean(entry->pinned));
    if (!entry->measured)
        return obj;
    qs_json_set_int(obj, "params", (int64_t)entry->m.params);
    qs_json_set_int(obj, "bytes", (int64_t)entry->m.bytes);
    qs_json_set_number(obj, "bits_per_weight", entry->m.bits_per_weight, NULL);
    qs_json_set_number(obj, "sse", entry->m.no_finite ? NAN : entry->m.sse, NULL);
    qs_json_set_number(obj, "energy", entry->m.energy, NULL);
    qs_json_set_number(obj, "mse", entry->m.mse, NULL);
    qs_json_set_number(obj, "sqnr_db", entry->m.sqnr_db, NULL);
    json_object_set_new(obj, "exact", json_boolean(entry->m.exact));
    qs_json_set_number(obj, "max_abs_err", entry->m.max_abs_err, NULL);
    qs_json_set_number(obj, "cosine", entry->m.cosine, NULL);
    if (entry->m.no_finite) {
        json_object_set_new(obj, "no_finite_values", json_true());
        json_object_set_new(obj, "note", json_string(PLAN_NOTE_NO_FINITE));
    }
    return obj;
}

static json_t *
totals_json(const struct qs_plan_totals *t)
{
    json_t *obj = json_object();

    qs_json_set_int(obj, "params", (int64_t)t->params);
    qs_json_set_int(obj, "float_bytes", (int64_t)t->float_bytes);
    qs_json_set_int(obj, "planned_bytes", (int64_t)t->planned_bytes);
    qs_json_set_number(obj, "bits_per_weight", t->bits_per_weight, NULL);
    qs_json_set_number(obj, "sse", t->sse, NULL);
    qs_json_set_number(obj, "energy", t->energy, NULL);
    qs_json_set_number(obj, "sqnr_db", t->sqnr_db, NULL);
    json_object_set_new(obj, "exact", json_boolean(t->exact));
    return obj;
}

json_t *
qs_plan_to_json(const struct qs_plan *plan)
{
    json_t *doc = json_object();
    json_t *model = json_object();
    json_t *tolerance = json_object();
    json_t *method = json_object();
    json_t *layers = json_object();

    json_object_set_new(doc, "format", json_string(PLAN_FORMAT_NAME));
    qs_json_set_int(doc, "version", plan->version);

    qs_json_set_string(model, "file", plan->model_file);
    json_object_set_new(model, "sha256", json_string(plan->sha256));
    qs_json_set_int(model, "bytes", (int64_t)plan->model_bytes);
    json_object_set_new(doc, "model", model);

    qs_json_set_number(tolerance, "relative", plan->tolerance_relative, NULL);
    qs_json_set_number(tolerance, "sqnr_db", plan->tolerance_sqnr_db, NULL);
    json_object_set_new(doc, "tolerance", tolerance);

    qs_json_set_string(method, "kind", plan->method);
    if (plan->budget)
        qs_json_set_string(method, "budget", plan->budget);
    if (plan->candidates)
        qs_json_set_string(method, "candidates", plan->candidates);
    if (plan->sensitivity)
        qs_json_set_string(method, "sensitivity", plan->sensitivity);
    json_object_set_new(doc, "method", method);

    for (size_t i = 0; i < plan->count; i++)
        json_object_set_new(layers, plan->layers[i].key, measure_json(&plan->layers[i]));
    json_object_set_new(doc, "layers", layers);
    json_object_set_new(doc, "totals", totals_json(&plan->totals));
    return doc;
}

/* JSON object keys must be valid UTF-8; a layer key that is not cannot be written. */
static enum qs_status
check_keys(const struct qs_plan *plan, const char *path, struct qs_diag *diag)
{
    enum qs_status status = QS_OK;

    for (size_t i = 0; i < plan->count; i++) {
        json_t *probe = json_string(plan->layers[i].key);

        if (!probe)
            status = qs_diag_add(diag, QS_UNSUPPORTED, path, "layer key '%s' is not valid "
                                 "UTF-8, so a plan cannot name it", plan->layers[i].key);
        json_decref(probe);
    }
    return status;
}

enum qs_status
qs_plan_write(const struct qs_plan *plan, const char *path, int force, struct qs_diag *diag)
{
    struct qs_atomic_file file;
    json_t *doc;
    enum qs_status status = check_keys(plan, path, diag);

    if (status != QS_OK)
        return status;
    doc = qs_plan_to_json(plan);

    if (strcmp(path, "-") == 0) {
        int failed = qs_json_write(stdout, doc) != 0 || fflush(stdout) != 0;

        json_decref(doc);
        return failed ? qs_diag_add(diag, QS_OUTPUT, "standard output", "write failed")
                      : QS_OK;
    }
    status = qs_atomic_open(&file, path, force, diag);
    if (status != QS_OK) {
        json_decref(doc);
        return status;
    }
    if (qs_json_write(file.fp, doc) != 0) {
        qs_atomic_abort(&file);
        json_decref(doc);
        return qs_diag_add(diag, QS_OUTPUT, path, "write failed");
    }
    json_decref(doc);
    return qs_atomic_commit(&file, diag);
}

/* ---- reading ---- */

/* One read in progress: where messages go. */
struct plan_reader {
    const char *path;
    const struct qs_layers *layers;
    struct qs_diag *diag;
    enum qs_status worst;
};

static void
reader_error(struct plan_reader *r, enum qs_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reader_error(struct plan_reader *r, enum qs_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qs_diag_vadd(r->diag, status, r->path, fmt, ap);
    va_end(ap);
    r->worst = qs_status_worst(r->worst, status);
}

/* Reject members of "obj" not in the NULL-terminated "allowed"; "where" names the object. */
static void
check_members(struct plan_reader *r, json_t *obj, const char *const *allowed, const char *where)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value) {
        int known = 0;

        (void)value;
        for (size_t i = 0; allowed[i]; i++)
            known |= strcmp(key, allowed[i]) == 0;
        if (!known)
            reader_error(r, QS_INVALID, "unknown key '%s' in %s", key, where);
    }
}

/*
 * What null stands for in a number member: plans write numbers that are
 * not finite as null, such as an infinite squared error after a value
 * overflowed its format, or the SQNR of an exact result.
 */
enum null_means {
    NULL_INVALID,            /* null is not allowed */
    NULL_INFINITY,           /* +inf (an SQNR becomes -inf when "exact" is false) */
    NULL_NAN                 /* an undefined value, such as a cosine of infinities */
};

/* A number member (integer or real, or null as "if_null" says); returns 1 when valid. */
static int
read_number(struct plan_reader *r, json_t *obj, const char *name, const char *where,
            enum null_means if_null, double *out)
{
    json_t *value = json_object_get(obj, name);

    if (!value) {
        reader_error(r, QS_INVALID, "missing '%s' in %s", name, where);
        return 0;
    }
    if (if_null != NULL_INVALID && json_is_null(value)) {
        *out = if_null == NULL_INFINITY ? INFINITY : NAN;
        return 1;
    }
    if (!json_is_number(value)) {
        reader_error(r, QS_INVALID, "'%s' in %s is not a number", name, where);
        return 0;
    }
    *out = json_number_value(value);
    return 1;
}

static int
read_count(struct plan_reader *r, json_t *obj, const char *name, const char *where,
           uint64_t *out)
{
    json_t *value = json_object_get(obj, name);

    if (!json_is_integer(value) || json_integer_value(value) < 0) {
        reader_error(r, QS_INVALID, "'%s' in %s must be a whole number of 0 or more",
                     name, where);
        return 0;
    }
    *out = (uint64_t)json_integer_value(value);
    return 1;
}

static int
read_bool(struct plan_reader *r, json_t *obj, const char *name, const char *where, int *out)
{
    json_t *value = json_object_get(obj, name);

    if (!value) {
        *out = 0;
        return 1;
    }
    if (!json_is_boolean(value)) {
        reader_error(r, QS_INVALID, "'%s' in %s must be true or false", name, where);
        return 0;
    }
    *out = json_is_true(value);
    return 1;
}

/*
 * A layer measured without a finite weight: the errors are null and the
 * squared error counts as 0 in the totals.  Returns 1 when consistent.
 */
static int
read_no_finite(struct plan_reader *r, json_t *obj, const char *where,
               struct qs_plan_measure *m)
{
    json_t *note = json_object_get(obj, "note");

    if (m->exact) {
        reader_error(r, QS_INVALID, "%s has no finite values, so it cannot be exact", where);
        return 0;
    }
    if (note && !json_is_string(note)) {
        reader_error(r, QS_INVALID, "'note' in %s must be a string", where);
        return 0;
    }
    m->sse = 0.0;
    m->mse = NAN;
    m->sqnr_db = NAN;
    m->max_abs_err = NAN;
    m->cosine = NAN;
    return 1;
}

/* Measured numbers of one layer; present only when "params" is. */
static void
read_measure(struct plan_reader *r, json_t *obj, const char *where, struct qs_plan_layer *entry)
{
    struct qs_plan_measure *m = &entry->m;
    int ok;

    if (!json_object_get(obj, "params"))
        return;
    ok = read_count(r, obj, "params", where, &m->params)
         & read_count(r, obj, "bytes", where, &m->bytes)
         & read_number(r, obj, "bits_per_weight", where, NULL_INVALID, &m->bits_per_weight)
         & read_number(r, obj, "sse", where, NULL_INFINITY, &m->sse)
         & read_number(r, obj, "energy", where, NULL_INFINITY, &m->energy)
         & read_number(r, obj, "mse", where, NULL_INFINITY, &m->mse)
         & read_number(r, obj, "sqnr_db", where, NULL_INFINITY, &m->sqnr_db)
         & read_bool(r, obj, "exact", where, &m->exact)
         & read_number(r, obj, "max_abs_err", where, NULL_INFINITY, &m->max_abs_err)
         & read_number(r, obj, "cosine", where, NULL_NAN, &m->cosine)
         & read_bool(r, obj, "no_finite_values", where, &m->no_finite);
    if (ok && m->sqnr_db == INFINITY && !m->exact)
        m->sqnr_db = -INFINITY;
    if (ok && m->no_finite)
        ok = read_no_finite(r, obj, where, m);
    if (ok && (m->sse < 0.0 || m->energy < 0.0)) {
        reader_error(r, QS_INVALID, "negative 'sse' or 'energy' in %s", where);
        ok = 0;
    }
    entry->measured = ok;
}

/* Check the configuration against the model's layer, naming both. */
static void
check_layer(struct plan_reader *r, const char *key, struct qs_plan_layer *entry)
{
    const struct qs_layer *layer;
    char message[512], label[256];

    if (!r->layers)
        return;
    layer = qs_layers_find(r->layers, key);
    if (!layer || strcmp(layer->key, key) != 0) {
        reader_error(r, QS_INVALID, "layer '%s' is not in the model", key);
        return;
    }
    qs_plan_layer_label(layer, label, sizeof(label));
    if (entry->is_float) {
        if (!layer->quantizable)
            reader_error(r, QS_INVALID, "layer '%s' (%s) is not quantizable: %s", key, label,
                         layer->not_quantizable ? layer->not_quantizable : "no weight use");
        return;
    }
    if (qs_plan_check_config(layer, &entry->config, message, sizeof(message)) != QS_OK)
        reader_error(r, QS_INVALID, "layer '%s' (%s): configuration '%s' is impossible: %s",
                     key, label, entry->config_text, message);
}

static void
read_layer(struct plan_reader *r, struct qs_plan *plan, const char *key, json_t *obj)
{
    static const char *const allowed[] = {
        "config", "pinned", "params", "bytes", "bits_per_weight", "sse", "energy", "mse",
        "sqnr_db", "exact", "max_abs_err", "cosine", "no_finite_values", "note", NULL
    };
    struct qs_plan_layer *entry;
    struct qs_quant_config config;
    char where[512], message[256];
    json_t *text;

    snprintf(where, sizeof(where), "layer '%s'", key);
    if (!json_is_object(obj)) {
        reader_error(r, QS_INVALID, "%s must be an object", where);
        return;
    }
    check_members(r, obj, allowed, where);
    text = json_object_get(obj, "config");
    if (!json_is_string(text)) {
        reader_error(r, QS_INVALID, "%s has no 'config' string", where);
        return;
    }
    entry = qs_plan_get(plan, key);
    if (strcmp(json_string_value(text), QS_PLAN_FLOAT) == 0) {
        qs_plan_layer_set(entry, NULL);
    } else if (qs_quant_config_parse(json_string_value(text), &config, message,
                                     sizeof(message)) != QS_OK) {
        reader_error(r, QS_INVALID, "%s: invalid configuration '%s': %s", where,
                     json_string_value(text), message);
        return;
    } else {
        qs_plan_layer_set(entry, &config);
    }
    read_bool(r, obj, "pinned", where, &entry->pinned);
    read_measure(r, obj, where, entry);
    check_layer(r, key, entry);
}

static void
read_model(struct plan_reader *r, struct qs_plan *plan, json_t *model)
{
    static const char *const allowed[] = { "file", "sha256", "bytes", NULL };
    json_t *file = json_object_get(model, "file");
    json_t *sha = json_object_get(model, "sha256");

    if (!json_is_object(model)) {
        reader_error(r, QS_INVALID, "'model' must be an object with 'file' and 'sha256'");
        return;
    }
    check_members(r, model, allowed, "'model'");
    if (!json_is_string(file) || !json_is_string(sha)
        || strlen(json_string_value(sha)) != QS_SHA256_HEX_LEN
        || strspn(json_string_value(sha), "0123456789abcdef") != QS_SHA256_HEX_LEN) {
        reader_error(r, QS_INVALID, "'model' needs a 'file' string and a 'sha256' of 64 "
                     "lower-case hex digits");
        return;
    }
    plan->model_file = qs_strdup(json_string_value(file));
    memcpy(plan->sha256, json_string_value(sha), QS_SHA256_HEX_LEN + 1);
    if (json_object_get(model, "bytes"))
        read_count(r, model, "bytes", "'model'", &plan->model_bytes);
}

static void
read_tolerance(struct plan_reader *r, struct qs_plan *plan, json_t *tolerance)
{
    static const char *const allowed[] = { "relative", "sqnr_db", NULL };

    if (!tolerance)
        return;
    if (!json_is_object(tolerance)) {
        reader_error(r, QS_INVALID, "'tolerance' must be an object");
        return;
    }
    check_members(r, tolerance, allowed, "'tolerance'");
    if (read_number(r, tolerance, "relative", "'tolerance'", NULL_INVALID,
                    &plan->tolerance_relative)
        && read_number(r, tolerance, "sqnr_db", "'tolerance'", NULL_INVALID,
                       &plan->tolerance_sqnr_db)
        && (plan->tolerance_relative < 0.0 || plan->tolerance_sqnr_db < 0.0))
        reader_error(r, QS_INVALID, "'tolerance' values must not be negative");
}

static char *
optional_string(struct plan_reader *r, json_t *obj, const char *name, const char *where)
{
    json_t *value = json_object_get(obj, name);

    if (!value || json_is_null(value))
        return NULL;
    if (!json_is_string(value)) {
        reader_error(r, QS_INVALID, "'%s' in %s must be a string", name, where);
        return NULL;
    }
    return qs_strdup(json_string_value(value));
}

static void
read_method(struct plan_reader *r, struct qs_plan *plan, json_t *method)
{
    static const char *const allowed[] = { "kind", "budget", "candidates", "sensitivity", NULL };

    if (!method)
        return;
    if (!json_is_object(method)) {
        reader_error(r, QS_INVALID, "'method' must be an object");
        return;
    }
    check_members(r, method, allowed, "'method'");
    plan->method = optional_string(r, method, "kind", "'method'");
    plan->budget = optional_string(r, method, "budget", "'method'");
    plan->candidates = optional_string(r, method, "candidates", "'method'");
    plan->sensitivity = optional_string(r, method, "sensitivity", "'method'");
}

/* The totals as written replace the sums of the layers, so that `plan --check` tests them too. */
static void
read_totals(struct plan_reader *r, struct qs_plan *plan, json_t *totals)
{
    static const char *const allowed[] = {
        "params", "float_bytes", "planned_bytes", "bits_per_weight", "sse", "energy",
        "sqnr_db", "exact", NULL
    };
    struct qs_plan_totals t = { 0 };
    int ok;

    if (!totals)
        return;
    if (!json_is_object(totals)) {
        reader_error(r, QS_INVALID, "'totals' must be an object");
        return;
    }
    check_members(r, totals, allowed, "'totals'");
    ok = read_count(r, totals, "params", "'totals'", &t.params)
         & read_count(r, totals, "float_bytes", "'totals'", &t.float_bytes)
         & read_count(r, totals, "planned_bytes", "'totals'", &t.planned_bytes)
         & read_number(r, totals, "bits_per_weight", "'totals'", NULL_INVALID,
                       &t.bits_per_weight)
         & read_number(r, totals, "sse", "'totals'", NULL_INFINITY, &t.sse)
         & read_number(r, totals, "energy", "'totals'", NULL_INFINITY, &t.energy)
         & read_number(r, totals, "sqnr_db", "'totals'", NULL_INFINITY, &t.sqnr_db)
         & read_bool(r, totals, "exact", "'totals'", &t.exact);
    if (ok && t.sqnr_db == INFINITY && !t.exact)
        t.sqnr_db = -INFINITY;
    if (ok)
        plan->totals = t;
}

static void
read_document(struct plan_reader *r, struct qs_plan *plan, json_t *doc)
{
    static const char *const allowed[] = {
        "format", "version", "model", "tolerance", "method", "layers", "totals", NULL
    };
    json_t *format = json_object_get(doc, "format");
    json_t *version = json_object_get(doc, "version");
    json_t *layers = json_object_get(doc, "layers");
    const char *key;
    json_t *value;

    if (!json_is_string(format) || strcmp(json_string_value(format), PLAN_FORMAT_NAME) != 0) {
        reader_error(r, QS_INVALID, "not a qscope plan ('format' must be \"%s\")",
                     PLAN_FORMAT_NAME);
        return;
    }
    if (!json_is_integer(version) || json_integer_value(version) < 1) {
        reader_error(r, QS_INVALID, "'version' must be a whole number from 1");
        return;
    }
    if (json_integer_value(version) > QS_PLAN_VERSION) {
        reader_error(r, QS_UNSUPPORTED, "plan version %lld is newer than this qscope reads (%d)",
                     (long long)json_integer_value(version), QS_PLAN_VERSION);
        return;
    }
    check_members(r, doc, allowed, "the plan");
    read_model(r, plan, json_object_get(doc, "model"));
    read_tolerance(r, plan, json_object_get(doc, "tolerance"));
    read_method(r, plan, json_object_get(doc, "method"));
    if (!json_is_object(layers)) {
        reader_error(r, QS_INVALID, "'layers' must be an object keyed by layer");
        return;
    }
    json_object_foreach(layers, key, value)
        read_layer(r, plan, key, value);
    qs_plan_totals_compute(plan);
    read_totals(r, plan, json_object_get(doc, "totals"));
}

enum qs_status
qs_plan_read(const char *path, const struct qs_layers *layers, struct qs_plan *plan,
             struct qs_diag *diag)
{
    struct plan_reader reader = { path, layers, diag, QS_OK };
    json_error_t error;
    struct stat st;
    json_t *doc;
    FILE *fp;

    qs_plan_init(plan);
    fp = fopen(path, "rb");
    if (!fp)
        return qs_diag_add(diag, QS_INVALID, path, "cannot open the plan: %s", strerror(errno));
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        return qs_diag_add(diag, QS_INVALID, path, "is a folder, not a plan file");
    }
    doc = json_loadf(fp, JSON_REJECT_DUPLICATES, &error);
    fclose(fp);
    if (!doc) {
        if (error.line < 0)
            return qs_diag_add(diag, QS_INVALID, path, "%s", error.text);
        return qs_diag_add(diag, QS_INVALID, path, "invalid JSON: %s (line %d, column %d)",
                           error.text, error.line, error.column);
    }
    if (!json_is_object(doc))
        reader_error(&reader, QS_INVALID, "not a qscope plan (the top level is not an object)");
    else
        read_document(&reader, plan, doc);
    json_decref(doc);
    return reader.worst;
}

/* ---- comparing ---- */

static int
differs(double stored, double measured, double relative)
{
    double scale = fmax(fabs(stored), fabs(measured));

    /* Infinities (an overflowed error) match only themselves. */
    if (!isfinite(stored) || !isfinite(measured))
        return !(stored == measured || (isnan(stored) && isnan(measured)));
    return fabs(stored - measured) > relative * scale;
}

/* Bit flags of what differs between two measurements. */
enum measure_difference {
    DIFF_SIZE = 1,
    DIFF_ERROR = 2,
    DIFF_SQNR = 4
};

static unsigned
measure_differences(const struct qs_plan *stored, const struct qs_plan_measure *a,
                    const struct qs_plan_measure *b)
{
    double rel = stored->tolerance_relative;
    unsigned found = 0;

    if (a->params != b->params || a->bytes != b->bytes)
        found |= DIFF_SIZE;
    if (a->no_finite != b->no_finite)
        found |= DIFF_ERROR;
    if (differs(a->sse, b->sse, rel) || differs(a->energy, b->energy, rel))
        found |= DIFF_ERROR;
    if (a->exact != b->exact
        || (!a->exact && fabs(a->sqnr_db - b->sqnr_db) > stored->tolerance_sqnr_db))
        found |= DIFF_SQNR;
    return found;
}

int
qs_plan_measure_differs(const struct qs_plan *stored, const struct qs_plan_measure *a,
                        const struct qs_plan_measure *b)
{
    return measure_differences(stored, a, b) != 0;
}

/* Add a QS_CHECK line for each kind of number of "b" that differs from "a"; returns 1 if any. */
static int
compare_measure(const struct qs_plan *stored, const char *what, const struct qs_plan_measure *a,
                const struct qs_plan_measure *b, const char *file, struct qs_diag *diag)
{
    unsigned found = measure_differences(stored, a, b);

    if (found & DIFF_SIZE)
        qs_diag_add(diag, QS_CHECK, file, "%s: %llu weights in %llu bytes in the plan, %llu in "
                    "%llu bytes measured", what, (unsigned long long)a->params,
                    (unsigned long long)a->bytes, (unsigned long long)b->params,
                    (unsigned long long)b->bytes);
    if (found & DIFF_ERROR)
        qs_diag_add(diag, QS_CHECK, file, "%s: squared error %.9g and energy %.9g in the plan, "
                    "%.9g and %.9g measured (tolerance %g relative)", what, a->sse, a->energy,
                    b->sse, b->energy, stored->tolerance_relative);
    if (found & DIFF_SQNR)
        qs_diag_add(diag, QS_CHECK, file, "%s: SQNR %.6f dB in the plan, %.6f dB measured "
                    "(tolerance %g dB)", what, a->sqnr_db, b->sqnr_db,
                    stored->tolerance_sqnr_db);
    return found != 0;
}

void
qs_plan_totals_as_measure(const struct qs_plan_totals *t, struct qs_plan_measure *m)
{
    memset(m, 0, sizeof(*m));
    m->params = t->params;
    m->bytes = t->planned_bytes;
    m->sse = t->sse;
    m->energy = t->energy;
    m->sqnr_db = t->sqnr_db;
    m->exact = t->exact;
}

enum qs_status
qs_plan_compare(const struct qs_plan *stored, const struct qs_plan *measured, const char *file,
                struct qs_diag *diag)
{
    struct qs_plan_measure a, b;
    int found = 0;

    for (size_t i = 0; i < stored->count; i++) {
        const struct qs_plan_layer *s = &stored->layers[i];
        const struct qs_plan_layer *m = qs_plan_find(measured, s->key);
        char what[512];

        if (!s->measured || !m || !m->measured)
            continue;
        snprintf(what, sizeof(what), "layer '%s' (%s)", s->key, s->config_text);
        found += compare_measure(stored, what, &s->m, &m->m, file, diag);
    }
    qs_plan_totals_as_measure(&stored->totals, &a);
    qs_plan_totals_as_measure(&measured->totals, &b);
    found += compare_measure(stored, "model total", &a, &b, file, diag);
    return found ? QS_CHECK : QS_OK;
}
