/*
 * Model-folder runner and output comparison for the interpreter's
 * conformance programs.
 */
#include "config.h"
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtype.h"

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

long
harness_list_dir(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long n = 0;

    *names = NULL;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        *names = qs_reallocarray(*names, (size_t)n + 1, sizeof(**names));
        (*names)[n++] = qs_strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, (size_t)n, sizeof(**names), compare_names);
    return n;
}

static double
element(const struct qs_rt_tensor *t, uint64_t i)
{
    return qs_rt_is_float(t->dtype) ? ((const float *)t->data)[i]
                                    : (double)((const int64_t *)t->data)[i];
}

int
harness_compare(const struct qs_rt_tensor *got, const struct qs_rt_tensor *want,
                double *max_abs, double *max_rel, char *why, size_t why_size)
{
    int exact = !qs_rt_is_float(want->dtype);

    if (got->rank != want->rank
        || memcmp(got->dims, want->dims, (size_t)want->rank * sizeof(int64_t)) != 0) {
        snprintf(why, why_size, "shape differs (rank %d vs %d)", got->rank, want->rank);
        return 0;
    }
    if (qs_rt_is_float(got->dtype) != qs_rt_is_float(want->dtype)) {
        snprintf(why, why_size, "type %s, expected %s", qs_dtype_name(got->dtype),
                 qs_dtype_name(want->dtype));
        return 0;
    }
    for (uint64_t i = 0; i < want->count; i++) {
        double a = element(got, i), b = element(want, i), diff = fabs(a - b);

        if (isnan(b) && isnan(a))
            continue;
        if (isinf(b) && a == b)
            continue;
        if (diff > *max_abs || isnan(diff))
            *max_abs = isnan(diff) ? INFINITY : diff;
        if (b != 0 && diff / fabs(b) > *max_rel)
            *max_rel = diff / fabs(b);
        if (exact ? a != b : !(diff <= HARNESS_ATOL + HARNESS_RTOL * fabs(b))) {
            snprintf(why, why_size, "element %llu is %.9g, expected %.9g",
                     (unsigned long long)i, a, b);
            return 0;
        }
    }
    return 1;
}

static void
classify_gaps(const struct qs_interp_gaps *gaps, struct harness_report *r)
{
    for (size_t i = 0; i < gaps->count; i++) {
        if (strcmp(gaps->items[i].op, "type") == 0) {
            r->result = HARNESS_TYPE;
            snprintf(r->detail, sizeof(r->detail), "%s", gaps->items[i].reason);
            return;
        }
    }
    r->result = HARNESS_MISSING_OP;
    snprintf(r->detail, sizeof(r->detail), "%s%s%s", gaps->items[0].op,
             strcmp(gaps->items[0].reason, "not implemented") ? ": " : "",
             strcmp(gaps->items[0].reason, "not implemented") ? gaps->items[0].reason : "");
}

static void
diag_detail(const struct qs_diag *diag, struct harness_report *r)
{
    snprintf(r->detail, sizeof(r->detail), "%s", diag->count ? diag->lines[0] : "failed");
}

static int
load_tensors(const char *dir, const char *prefix, size_t n, struct qs_rt_tensor **ts,
             struct qs_diag *diag)
{
    char path[4096];

    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s_%zu.pb", dir, prefix, i);
        if (qs_rt_read_pb(path, diag, &ts[i]) != QS_OK)
            return 0;
    }
    return 1;
}

/*
 * The ONNX 1.12 test generator stores bfloat16 data as UINT16 tensors of
 * the same bits.  Reinterpret such a tensor when "declared" is BFLOAT16.
 */
static void
fix_bfloat16(struct qs_rt_tensor **t, int declared)
{
    struct qs_rt_tensor *bf;

    if (declared != QS_DT_BFLOAT16 || (*t)->dtype != QS_DT_UINT16)
        return;
    if (qs_rt_new(QS_DT_BFLOAT16, (*t)->rank, (*t)->dims, &bf) != QS_OK)
        return;
    for (uint64_t i = 0; i < bf->count; i++)
        ((float *)bf->data)[i] = qs_bf16_to_float((uint16_t)((const int64_t *)(*t)->data)[i]);
    qs_rt_unref(*t);
    *t = bf;
}

/* Run again with "threads" and require every output to match "first" bit for bit. */
static void
compare_thread_counts(struct qs_interp *interp, int threads, struct qs_rt_tensor *const *in,
                      struct qs_rt_tensor *const *first, struct harness_report *r,
                      struct qs_diag *diag)
{
    size_t n_out = qs_interp_n_outputs(interp);
    struct qs_rt_tensor **again = qs_calloc(n_out + 1, sizeof(*again));

    qs_interp_set_threads(interp, threads);
    if (qs_interp_run(interp, in, again, diag) != QS_OK) {
        r->result = HARNESS_FAIL;
        diag_detail(diag, r);
    }
    for (size_t i = 0; i < n_out && r->result == HARNESS_PASS; i++) {
        size_t bytes = (size_t)first[i]->count * (qs_rt_is_float(first[i]->dtype) ? 4 : 8);

        if (again[i]->count != first[i]->count
            || memcmp(again[i]->data, first[i]->data, bytes) != 0) {
            r->result = HARNESS_FAIL;
            snprintf(r->detail, sizeof(r->detail), "output %zu differs with %d threads", i,
                     threads);
        }
    }
    for (size_t i = 0; i < n_out; i++)
        qs_rt_unref(again[i]);
    free(again);
    qs_interp_set_threads(interp, 1);
}

static void
run_and_compare(struct qs_interp *interp, const char *dir, int also_threads,
                struct harness_report *r, struct qs_diag *diag)
{
    size_t n_in = qs_interp_n_inputs(interp), n_out = qs_interp_n_outputs(interp);
    struct qs_rt_tensor **in = qs_calloc(n_in + 1, sizeof(*in));
    struct qs_rt_tensor **out = qs_calloc(n_out + 1, sizeof(*out));
    struct qs_rt_tensor **want = qs_calloc(n_out + 1, sizeof(*want));
    struct timespec t0, t1;

    if (!load_tensors(dir, "input", n_in, in, diag)
        || !load_tensors(dir, "output", n_out, want, diag)) {
        r->result = HARNESS_ERROR;
        diag_detail(diag, r);
        goto done;
    }
    for (size_t i = 0; i < n_in; i++)
        fix_bfloat16(&in[i], qs_interp_input(interp, i)->type.elem);
    for (size_t i = 0; i < n_out; i++)
        fix_bfloat16(&want[i], qs_interp_output(interp, i)->type.elem);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (qs_interp_run(interp, in, out, diag) != QS_OK) {
        r->result = HARNESS_FAIL;
        diag_detail(diag, r);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    r->result = HARNESS_PASS;
    for (size_t i = 0; i < n_out; i++) {
        char why[256];

        if (!harness_compare(out[i], want[i], &r->max_abs_error, &r->max_rel_error, why,
                             sizeof(why))
            && r->result == HARNESS_PASS) {
            r->result = HARNESS_FAIL;
            snprintf(r->detail, sizeof(r->detail), "output %zu (%s): %s", i,
                     qs_interp_output(interp, i)->name, why);
        }
    }
    if (r->result == HARNESS_PASS && also_threads > 1)
        compare_thread_counts(interp, also_threads, in, out, r, diag);
done:
    for (size_t i = 0; i < n_in; i++)
        qs_rt_unref(in[i]);
    for (size_t i = 0; i < n_out; i++) {
        qs_rt_unref(out[i]);
        qs_rt_unref(want[i]);
    }
    free(in);
    free(out);
    free(want);
}

void
harness_run(const char *model_path, const char *data_dir, int also_threads,
            struct harness_report *r)
{
    struct qs_interp_options opts = { .threads = 1 };
    struct qs_interp_gaps gaps = { 0 };
    struct qs_model *model = NULL;
    struct qs_interp *interp = NULL;
    struct qs_diag diag;

    memset(r, 0, sizeof(*r));
    qs_diag_init(&diag);
    if (qs_model_load(model_path, NULL, &diag, &model) != QS_OK) {
        r->result = HARNESS_ERROR;
        diag_detail(&diag, r);
        goto done;
    }
    if (qs_interp_check(model, &gaps, NULL) != QS_OK) {
        classify_gaps(&gaps, r);
        goto done;
    }
    if (qs_interp_new(model, &opts, &diag, &interp) != QS_OK) {
        r->result = HARNESS_ERROR;
        diag_detail(&diag, r);
        goto done;
    }
    run_and_compare(interp, data_dir, also_threads, r, &diag);
done:
    qs_interp_gaps_done(&gaps);
    qs_interp_free(interp);
    qs_model_free(model);
    qs_diag_done(&diag);
}
