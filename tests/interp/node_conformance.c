/*
 * The ONNX node conformance cases ($QSCOPE_TESTDATA/onnx-node-tests):
 * every case whose ops the interpreter implements runs on
 * test_data_set_0 and must match the expected outputs (rtol 1e-3,
 * atol 1e-4, integers exact).  Each case prints one TAP line.  A case is
 * skipped visibly when it uses an op the interpreter lacks or values it
 * cannot hold, or when tests/interp/excluded.txt lists it with a reason.
 * A summary line counts each kind.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct exclusion {
    char *name;
    char *reason;
};

/* Read "NAME  reason" lines; '#' starts a comment line. */
static size_t
read_exclusions(const char *path, struct exclusion **list)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    size_t n = 0;

    *list = NULL;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char *name = line, *reason;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        reason = name + strcspn(name, " \t");
        if (*reason)
            *reason++ = '\0';
        reason += strspn(reason, " \t");
        *list = qs_reallocarray(*list, n + 1, sizeof(**list));
        (*list)[n].name = qs_strdup(name);
        (*list)[n++].reason = qs_strdup(*reason ? reason : "no reason given");
    }
    fclose(f);
    return n;
}

static const char *
excluded(const struct exclusion *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) == 0)
            return list[i].reason;
    }
    return NULL;
}

struct counts {
    long pass, fail, missing, type, excluded;
};

static void
run_case(const char *root, const char *name, long number, struct counts *c)
{
    char model[8192], data[8192];
    struct harness_report r;

    snprintf(model, sizeof(model), "%s/%s/model.onnx", root, name);
    snprintf(data, sizeof(data), "%s/%s/test_data_set_0", root, name);
    harness_run(model, data, 0, &r);
    switch (r.result) {
    case HARNESS_PASS:
        c->pass++;
        printf("ok %ld - %s\n", number, name);
        break;
    case HARNESS_MISSING_OP:
        c->missing++;
        printf("ok %ld - %s # SKIP missing op %s\n", number, name, r.detail);
        break;
    case HARNESS_TYPE:
        c->type++;
        printf("ok %ld - %s # SKIP unsupported type (sequence/optional/string): %s\n", number,
               name, r.detail);
        break;
    default:
        c->fail++;
        printf("not ok %ld - %s\n# %s\n", number, name, r.detail);
        break;
    }
}

/* True when no filter is given or "name" contains one of the filter words. */
static int
selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strstr(name, argv[i]))
            return 1;
    }
    return 0;
}

/* Arguments, if any, select the cases whose names contain one of them. */
int
main(int argc, char **argv)
{
    const char *data = getenv("QSCOPE_TESTDATA"), *src = getenv("QSCOPE_SRCDIR");
    char root[4096], list_path[4096];
    struct exclusion *list;
    struct counts c = { 0 };
    char **names;
    size_t n_list;
    long n, kept = 0;

    if (!data || !*data) {
        printf("1..0 # SKIP QSCOPE_TESTDATA is not set\n");
        return 0;
    }
    snprintf(root, sizeof(root), "%s/onnx-node-tests", data);
    n = harness_list_dir(root, &names);
    if (n <= 0) {
        printf("1..0 # SKIP no cases under %s\n", root);
        return 0;
    }
    snprintf(list_path, sizeof(list_path), "%s/tests/interp/excluded.txt", src ? src : ".");
    n_list = read_exclusions(list_path, &list);
    for (long i = 0; i < n; i++) {
        if (selected(names[i], argc, argv))
            names[kept++] = names[i];
        else
            free(names[i]);
    }
    n = kept;

    printf("1..%ld\n", n);
    for (long i = 0; i < n; i++) {
        const char *reason = excluded(list, n_list, names[i]);

        if (reason) {
            c.excluded++;
            printf("ok %ld - %s # SKIP excluded: %s\n", i + 1, names[i], reason);
        } else {
            run_case(root, names[i], i + 1, &c);
        }
        fflush(stdout);
        free(names[i]);
    }
    printf("# conformance: %ld pass, %ld fail, %ld skipped (missing op), %ld skipped (type), "
           "%ld excluded, of %ld\n", c.pass, c.fail, c.missing, c.type, c.excluded, n);

    for (size_t i = 0; i < n_list; i++) {
        free(list[i].name);
        free(list[i].reason);
    }
    free(list);
    free(names);
    return c.fail ? 1 : 0;
}
