/*
 * Helpers shared by the interpreter's conformance programs: run a model
 * folder in the ONNX test layout (model.onnx or NAME.onnx plus
 * test_data_set_0/input_N.pb and output_N.pb) and compare its outputs.
 */
#ifndef QS_TESTS_INTERP_HARNESS_H
#define QS_TESTS_INTERP_HARNESS_H

#include <stddef.h>

#include "interp/interp.h"
#include "model.h"
#include "status.h"

/* Tolerances of every comparison: |a - b| <= ATOL + RTOL * |b|; integers exact. */
#define HARNESS_RTOL 1e-3
#define HARNESS_ATOL 1e-4

enum harness_result {
    HARNESS_PASS,
    HARNESS_FAIL,
    HARNESS_MISSING_OP,          /* qs_interp_check found an op it cannot run */
    HARNESS_TYPE,                /* sequence, optional or string values */
    HARNESS_ERROR                /* the model or data could not be loaded */
};

struct harness_report {
    enum harness_result result;
    char detail[512];            /* failure, or the missing op */
    double max_abs_error;        /* over every float output */
    double max_rel_error;        /* |a - b| / |b| where b != 0 */
    double seconds;              /* time of qs_interp_run */
};

/*
 * Load the model at "model_path", run it on "data_dir"/input_N.pb with
 * one thread and compare with "data_dir"/output_N.pb.  When
 * "also_threads" is above 1, run again with that many threads and
 * require outputs identical to the first run's.
 */
void harness_run(const char *model_path, const char *data_dir, int also_threads,
                 struct harness_report *report);

/* Compare "got" with "want"; on a mismatch write the reason to "why" and return 0. */
int harness_compare(const struct qs_rt_tensor *got, const struct qs_rt_tensor *want,
                    double *max_abs, double *max_rel, char *why, size_t why_size);

/* Sorted names of the entries of "dir" (caller frees each and the array); -1 when unreadable. */
long harness_list_dir(const char *dir, char ***names);

#endif
