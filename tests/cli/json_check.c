/*
 * JSON checks for the command-line tests, which must not need Python.
 *
 *   json_check opcounts OPS_JSON REFERENCE_JSON MODE PREFIX
 *       Compare the output of `qscope ops --json` with the op counts of
 *       every model in REFERENCE_JSON whose key starts with PREFIX, in
 *       MODE "top_level" or "with_subgraphs": the number of models, the
 *       total, and each op's count and number of models; also check that
 *       the ops are sorted by count, most first, then by name.
 *   json_check get FILE PATH
 *       Print the value at PATH (object keys and array indices joined by
 *       '.'): strings bare, other values as compact JSON.
 *
 * Differences are printed as "# ..." lines for TAP.  Exit status 0 when
 * everything matches, 1 on a difference, 2 on bad input.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static json_t *
load(const char *path)
{
    json_error_t error;
    json_t *doc = json_load_file(path, 0, &error);

    if (!doc) {
        fprintf(stderr, "json_check: %s: line %d: %s\n", path, error.line, error.text);
        exit(2);
    }
    return doc;
}

/* Sum the reference counts of the matching models into "expected" {op: [count, models]}. */
static json_int_t
reference_counts(json_t *reference, const char *mode, const char *prefix, json_t *expected)
{
    const char *key;
    json_t *model;
    json_int_t n_models = 0;

    json_object_foreach(reference, key, model) {
        const char *op;
        json_t *count;

        if (strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        n_models++;
        json_object_foreach(json_object_get(model, mode), op, count) {
            json_t *entry = json_object_get(expected, op);

            if (!entry) {
                entry = json_pack("[I,I]", (json_int_t)0, (json_int_t)0);
                json_object_set_new(expected, op, entry);
            }
            json_array_set_new(entry, 0, json_integer(json_integer_value(json_array_get(entry, 0))
                                                      + json_integer_value(count)));
            json_array_set_new(entry, 1, json_integer(json_integer_value(json_array_get(entry, 1))
                                                      + 1));
        }
    }
    return n_models;
}

static int
check_int(const char *what, json_t *got, json_int_t expected)
{
    if (json_is_integer(got) && json_integer_value(got) == expected)
        return 0;
    printf("# %s: got %" JSON_INTEGER_FORMAT ", expected %" JSON_INTEGER_FORMAT "\n", what,
           json_is_integer(got) ? json_integer_value(got) : -1, expected);
    return 1;
}

/* Compare the "ops" rows with "expected", removing each matched op from it. */
static int
check_ops(json_t *ops, json_t *expected)
{
    json_t *row, *previous = NULL;
    size_t index;
    int failures = 0;

    json_array_foreach(ops, index, row) {
        const char *op = json_string_value(json_object_get(row, "op"));
        json_t *entry = op ? json_object_get(expected, op) : NULL;
        char what[300];

        if (!entry) {
            printf("# op %s: not in the reference\n", op ? op : "(no name)");
            failures++;
            continue;
        }
        snprintf(what, sizeof(what), "op %s count", op);
        failures += check_int(what, json_object_get(row, "count"),
                              json_integer_value(json_array_get(entry, 0)));
        snprintf(what, sizeof(what), "op %s models", op);
        failures += check_int(what, json_object_get(row, "models"),
                              json_integer_value(json_array_get(entry, 1)));
        json_object_del(expected, op);

        if (previous) {
            json_int_t a = json_integer_value(json_object_get(previous, "count"));
            json_int_t b = json_integer_value(json_object_get(row, "count"));
            const char *pa = json_string_value(json_object_get(previous, "op"));

            if (a < b || (a == b && strcmp(pa, op) > 0)) {
                printf("# op %s comes after %s: not sorted by count, then name\n", op, pa);
                failures++;
            }
        }
        previous = row;
    }
    return failures;
}

static int
opcounts(const char *ops_path, const char *reference_path, const char *mode, const char *prefix)
{
    json_t *got = load(ops_path);
    json_t *reference = load(reference_path);
    json_t *expected = json_object();
    json_int_t n_models = reference_counts(reference, mode, prefix, expected);
    json_int_t total = 0;
    const char *op;
    json_t *entry;
    int failures = 0;

    if (n_models == 0) {
        fprintf(stderr, "json_check: no reference models start with '%s'\n", prefix);
        exit(2);
    }
    json_object_foreach(expected, op, entry)
        total += json_integer_value(json_array_get(entry, 0));

    failures += check_int("models", json_object_get(got, "models"), n_models);
    failures += check_int("total", json_object_get(got, "total"), total);
    failures += check_ops(json_object_get(got, "ops"), expected);
    json_object_foreach(expected, op, entry) {
        printf("# op %s: missing (expected count %" JSON_INTEGER_FORMAT ")\n", op,
               json_integer_value(json_array_get(entry, 0)));
        failures++;
    }

    json_decref(got);
    json_decref(reference);
    json_decref(expected);
    return failures ? 1 : 0;
}

static int
get(const char *path, const char *query)
{
    json_t *doc = load(path);
    json_t *value = doc;
    char *copy = strdup(query);   /* checkstyle: allow test helper outside the core */
    char *part, *save = NULL;
    char *text;

    for (part = strtok_r(copy, ".", &save); part && value; part = strtok_r(NULL, ".", &save)) {
        char *end;
        unsigned long index;

        if (json_is_array(value)) {
            errno = 0;
            index = strtoul(part, &end, 10);
            value = (*end || errno) ? NULL : json_array_get(value, index);
        } else {
            value = json_object_get(value, part);
        }
    }
    free(copy);
    if (!value) {
        fprintf(stderr, "json_check: %s: no value at '%s'\n", path, query);
        json_decref(doc);
        return 1;
    }

    if (json_is_string(value)) {
        printf("%s\n", json_string_value(value));
    } else {
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\n", text);
        free(text);
    }
    json_decref(doc);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "opcounts") == 0)
        return opcounts(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "get") == 0)
        return get(argv[2], argv[3]);

    fprintf(stderr, "usage: json_check opcounts OPS_JSON REFERENCE_JSON MODE PREFIX\n"
                    "       json_check get FILE PATH\n");
    return 2;
}
