/*
 * Input sets: tensor files, ONNX test-data folders and generated samples.
 */
#include "config.h"
#include "inputs.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dtype.h"

/* Largest dim accepted in --shape: far beyond any real input, and products stay in range. */
#define INPUTS_MAX_DIM ((int64_t)1 << 40)

/* Most test_data_set_* folders, and input_N.pb files per folder, read from --data. */
#define INPUTS_MAX_SETS 100000

static const char *
input_name(const struct qs_interp *interp, size_t i)
{
    return qs_interp_input(interp, i)->name;
}

static void
set_alloc(struct qs_input_set *set, size_t n_inputs, size_t n_samples)
{
    set->n_inputs = n_inputs;
    set->n_samples = n_samples;
    set->tensors = qs_calloc(n_inputs * n_samples + 1, sizeof(*set->tensors));
    set->labels = qs_calloc(n_samples + 1, sizeof(*set->labels));
}

struct qs_rt_tensor *
qs_inputs_get(const struct qs_input_set *set, size_t sample, size_t input)
{
    return set->tensors[sample * set->n_inputs + input];
}

void
qs_inputs_done(struct qs_input_set *set)
{
    if (set->tensors)
        for (size_t i = 0; i < set->n_inputs * set->n_samples; i++)
            qs_rt_unref(set->tensors[i]);
    if (set->labels)
        for (size_t i = 0; i < set->n_samples; i++)
            free(set->labels[i]);
    free(set->tensors);
    free(set->labels);
    memset(set, 0, sizeof(*set));
}

int
qs_inputs_parse_shape(const char *text, int64_t *dims, int *rank)
{
    const char *p = text;

    *rank = 0;
    if (*p == '\0')
        return 0;
    for (;;) {
        char *end;
        long long value;

        if (*rank == QS_RT_MAX_RANK || *p < '0' || *p > '9')
            return -1;
        errno = 0;
        value = strtoll(p, &end, 10);
        if (errno || value > INPUTS_MAX_DIM)
            return -1;
        dims[(*rank)++] = value;
        if (*end == '\0')
            return 0;
        if (*end != 'x')
            return -1;
        p = end + 1;
    }
}

/*
 * Index of the run input whose name followed by '=' starts "arg", so that
 * names and paths may both contain '='; the longest name wins.  -1 if none.
 */
static long
match_input(const struct qs_interp *interp, const char *arg)
{
    long best = -1;
    size_t best_len = 0;

    for (size_t i = 0; i < qs_interp_n_inputs(interp); i++) {
        const char *name = input_name(interp, i);
        size_t len = strlen(name);

        if (strncmp(arg, name, len) == 0 && arg[len] == '=' && (best < 0 || len > best_len)) {
            best = (long)i;
            best_len = len;
        }
    }
    return best;
}

static enum qs_status
unknown_input(const struct qs_interp *interp, const char *option, const char *arg,
              const char *model_path, struct qs_diag *diag)
{
    char list[512] = "";
    size_t used = 0;

    for (size_t i = 0; i < qs_interp_n_inputs(interp) && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s'%s'", i ? ", " : "",
                                 input_name(interp, i));
    if (!strchr(arg, '='))
        return qs_diag_add(diag, QS_USAGE, model_path,
                           "invalid value '%s' for --%s (expected NAME=VALUE)", arg, option);
    return qs_diag_add(diag, QS_USAGE, model_path,
                       "--%s '%s' names no run input of the model (its run inputs: %s)",
                       option, arg, qs_interp_n_inputs(interp) ? list : "none");
}

/* ---- --input NAME=FILE ------------------------------------------------- */

static enum qs_status
load_files(const struct qs_interp *interp, const struct qs_input_spec *spec,
           const char *model_path, struct qs_diag *diag, struct qs_input_set *set)
{
    size_t n_inputs = qs_interp_n_inputs(interp);
    size_t *seen = qs_calloc(n_inputs + 1, sizeof(size_t));
    long *which = qs_calloc(spec->n_files + 1, sizeof(long));
    enum qs_status status = QS_OK;

    for (size_t f = 0; f < spec->n_files; f++) {
        which[f] = match_input(interp, spec->files[f]);
        if (which[f] < 0)
            status = unknown_input(interp, "input", spec->files[f], model_path, diag);
        else
            seen[which[f]]++;
    }
    for (size_t i = 0; i < n_inputs && status == QS_OK; i++)
        if (seen[i] != seen[0])
            status = qs_diag_add(diag, QS_USAGE, model_path,
                                 "input '%s' is given %zu times but '%s' %zu times: give each "
                                 "run input once per sample", input_name(interp, i), seen[i],
                                 input_name(interp, 0), seen[0]);
    if (status == QS_OK && n_inputs > 0 && seen[0] == 0)
        status = qs_diag_add(diag, QS_USAGE, model_path, "no file for input '%s'",
                             input_name(interp, 0));

    if (status == QS_OK) {
        set_alloc(set, n_inputs, seen[0]);
        memset(seen, 0, (n_inputs + 1) * sizeof(size_t));
        for (size_t f = 0; f < spec->n_files; f++) {
            size_t sample = seen[which[f]]++;
            const char *path = spec->files[f] + strlen(input_name(interp, (size_t)which[f])) + 1;
            enum qs_status st = qs_rt_read_file(path, diag,
                                                &set->tensors[sample * n_inputs + which[f]]);

            status = qs_status_worst(status, st);
            if (!set->labels[sample])
                set->labels[sample] = qs_strdup(path);
        }
    }
    free(seen);
    free(which);
    return status;
}

/* ---- --data DIR -------------------------------------------------------- */

/* "PREFIX<digits>SUFFIX" with no leading zeros beyond "0": stores the number. */
static int
numbered_name(const char *name, const char *prefix, const char *suffix, unsigned long *number)
{
    size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(name);
    const char *digits = name + plen;
    char *end;

    if (len <= plen + slen || strncmp(name, prefix, plen) != 0
        || strcmp(name + len - slen, suffix) != 0 || *digits < '0' || *digits > '9')
        return 0;
    errno = 0;
    *number = strtoul(digits, &end, 10);
    if (errno || end != name + len - slen || (digits[0] == '0' && end - digits > 1))
        return 0;
    return *number < INPUTS_MAX_SETS;
}

static int
compare_ulong(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

    return x < y ? -1 : x > y;
}

/* Numbers of the entries of "dir" named PREFIX<N>SUFFIX, sorted; -1 if unreadable. */
static long
list_numbered(const char *dir, const char *prefix, const char *suffix, unsigned long **out)
{
    DIR *d = opendir(dir);
    struct dirent *entry;
    size_t n = 0, cap = 16;
    unsigned long number;

    *out = NULL;
    if (!d)
        return -1;
    *out = qs_calloc(cap, sizeof(**out));
    while ((entry = readdir(d)) != NULL) {
        if (!numbered_name(entry->d_name, prefix, suffix, &number))
            continue;
        if (n == cap) {
            cap *= 2;
            *out = qs_reallocarray(*out, cap, sizeof(**out));
        }
        (*out)[n++] = number;
    }
    closedir(d);
    qsort(*out, n, sizeof(**out), compare_ulong);
    return (long)n;
}

/* Read input_N.pb of one test-data folder into sample "sample". */
static enum qs_status
load_data_sample(const struct qs_interp *interp, const char *folder, size_t sample,
                 struct qs_diag *diag, struct qs_input_set *set)
{
    size_t n_inputs = qs_interp_n_inputs(interp);
    unsigned long *numbers;
    long n = list_numbered(folder, "input_", ".pb", &numbers);
    enum qs_status status = QS_OK;

    if (n < 0)
        status = qs_diag_add(diag, QS_INVALID, folder, "cannot read the folder: %s",
                             strerror(errno));
    for (long i = 0; i < n && status == QS_OK; i++) {
        if (numbers[i] >= n_inputs)
            status = qs_diag_add(diag, QS_INVALID, folder,
                                 "input_%lu.pb has no run input to feed: the model has %zu",
                                 numbers[i], n_inputs);
    }
    for (size_t i = 0; i < n_inputs && status == QS_OK; i++) {
        char *path = qs_asprintf("%s/input_%zu.pb", folder, i);

        if (n < 0 || (size_t)n <= i || numbers[i] != i)
            status = qs_diag_add(diag, QS_INVALID, folder,
                                 "input_%zu.pb for input '%s' is missing", i,
                                 input_name(interp, i));
        else
            status = qs_rt_read_pb(path, diag, &set->tensors[sample * n_inputs + i]);
        free(path);
    }
    free(numbers);
    set->labels[sample] = qs_strdup(folder);
    return status;
}

static enum qs_status
load_data_dir(const struct qs_interp *interp, const char *dir, struct qs_diag *diag,
              struct qs_input_set *set)
{
    unsigned long *sets, *files;
    long n_sets = list_numbered(dir, "test_data_set_", "", &sets);
    long n_files = list_numbered(dir, "input_", ".pb", &files);
    enum qs_status status = QS_OK;

    free(files);
    if (n_sets < 0) {
        free(sets);
        return qs_diag_add(diag, QS_INVALID, dir, "cannot read the folder: %s", strerror(errno));
    }
    if (n_sets == 0 && n_files > 0) {
        set_alloc(set, qs_interp_n_inputs(interp), 1);
        free(sets);
        return load_data_sample(interp, dir, 0, diag, set);
    }
    if (n_sets == 0) {
        free(sets);
        return qs_diag_add(diag, QS_INVALID, dir,
                           "no test_data_set_N folders and no input_N.pb files in the folder");
    }

    set_alloc(set, qs_interp_n_inputs(interp), (size_t)n_sets);
    for (long s = 0; s < n_sets; s++) {
        char *folder = qs_asprintf("%s/test_data_set_%lu", dir, sets[s]);

        status = qs_status_worst(status, load_data_sample(interp, folder, (size_t)s, diag, set));
        free(folder);
    }
    free(sets);
    return status;
}

/* ---- --random N -------------------------------------------------------- */

/* splitmix64 (Steele, Lea and Flood, 2014): small, fast and reproducible everywhere. */
static uint64_t
rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double
rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* Standard normal by the Box-Muller transform (the cosine half only). */
static double
rng_normal(uint64_t *state)
{
    double u1 = 1.0 - rng_unit(state);    /* (0, 1], so the log is finite */
    double u2 = rng_unit(state);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Uniform integer in [lo, hi] without modulo bias. */
static int64_t
rng_int(uint64_t *state, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;    /* 0 means the whole 2^64 range */
    uint64_t limit, r;

    if (span == 0)
        return (int64_t)rng_next(state);
    limit = UINT64_MAX - UINT64_MAX % span;
    do
        r = rng_next(state);
    while (r >= limit);
    return (int64_t)((uint64_t)lo + r % span);
}

/* What to generate for one input. */
struct gen_input {
    int rank;
    int64_t dims[QS_RT_MAX_RANK];
    int has_range;
    double lo_f, hi_f;
    int64_t lo_i, hi_i;
};

/* Range of values "dtype" holds, for checking --range. */
static void
int_type_range(int dtype, int64_t *lo, int64_t *hi)
{
    switch (dtype) {
    case QS_DT_BOOL:   *lo = 0; *hi = 1; break;
    case QS_DT_UINT4:  *lo = 0; *hi = 15; break;
    case QS_DT_INT4:   *lo = -8; *hi = 7; break;
    case QS_DT_UINT8:  *lo = 0; *hi = UINT8_MAX; break;
    case QS_DT_INT8:   *lo = INT8_MIN; *hi = INT8_MAX; break;
    case QS_DT_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case QS_DT_INT16:  *lo = INT16_MIN; *hi = INT16_MAX; break;
    case QS_DT_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case QS_DT_INT32:  *lo = INT32_MIN; *hi = INT32_MAX; break;
    default:           *lo = INT64_MIN; *hi = INT64_MAX; break;
    }
}

/* Split "LO:HI" into two doubles; returns 0, or -1 when malformed. */
static int
split_reals(const char *text, double *lo, double *hi)
{
    const char *colon = strchr(text, ':');
    char *end;

    if (!colon)
        return -1;
    *lo = strtod(text, &end);
    if (end != colon || end == text)
        return -1;
    *hi = strtod(colon + 1, &end);
    return end == colon + 1 || *end ? -1 : 0;
}

/* Split "LO:HI" into two whole numbers; returns 0, or -1 when malformed. */
static int
split_ints(const char *text, long long *lo, long long *hi)
{
    const char *colon = strchr(text, ':');
    char *end;

    if (!colon)
        return -1;
    errno = 0;
    *lo = strtoll(text, &end, 10);
    if (errno || end != colon || end == text)
        return -1;
    *hi = strtoll(colon + 1, &end, 10);
    return errno || end == colon + 1 || *end ? -1 : 0;
}

static enum qs_status
parse_range(const struct qs_value *input, const char *text, const char *model_path,
            struct qs_diag *diag, struct gen_input *gen)
{
    int dtype = input->type.elem ? input->type.elem : QS_DT_FLOAT;
    int64_t type_lo, type_hi;
    long long lo, hi;

    if (qs_rt_is_float(dtype)) {
        if (split_reals(text, &gen->lo_f, &gen->hi_f) != 0 || !isfinite(gen->lo_f)
            || !isfinite(gen->hi_f) || !(gen->lo_f < gen->hi_f))
            return qs_diag_add(diag, QS_USAGE, model_path, "invalid --range '%s=%s' (expected "
                               "LO:HI with finite LO < HI)", input->name, text);
        gen->has_range = 1;
        return QS_OK;
    }

    int_type_range(dtype, &type_lo, &type_hi);
    if (split_ints(text, &lo, &hi) != 0 || lo > hi || lo < type_lo || hi > type_hi)
        return qs_diag_add(diag, QS_USAGE, model_path, "invalid --range '%s=%s' (expected whole "
                           "numbers LO:HI with LO <= HI, inside the %s range %" PRId64 " to %"
                           PRId64 ")", input->name, text, qs_dtype_name(dtype), type_lo, type_hi);
    gen->lo_i = lo;
    gen->hi_i = hi;
    gen->has_range = 1;
    return QS_OK;
}

/* Symbolic dims bound by --shape, for inputs that share a dim name. */
struct dim_names {
    size_t count;
    const char *name[64];
    int64_t value[64];
};

static int64_t
dim_lookup(const struct dim_names *names, const char *param)
{
    for (size_t i = 0; param && i < names->count; i++)
        if (strcmp(names->name[i], param) == 0)
            return names->value[i];
    return -1;
}

/* Take the dims a --shape gives one input, checked against its declaration. */
static enum qs_status
apply_shape(const struct qs_value *input, const char *text, const char *model_path,
            struct qs_diag *diag, struct gen_input *gen, struct dim_names *names)
{
    const struct qs_type *type = &input->type;

    if (qs_inputs_parse_shape(text, gen->dims, &gen->rank) != 0)
        return qs_diag_add(diag, QS_USAGE, model_path, "invalid --shape '%s=%s' (expected dims "
                           "joined by 'x', such as 1x3x224x224)", input->name, text);
    if (type->rank >= 0 && type->rank != gen->rank)
        return qs_diag_add(diag, QS_INVALID, model_path, "--shape gives input '%s' rank %d, the "
                           "model declares rank %d", input->name, gen->rank, type->rank);
    for (int d = 0; type->rank >= 0 && d < gen->rank; d++) {
        if (type->dims[d].value >= 0 && type->dims[d].value != gen->dims[d])
            return qs_diag_add(diag, QS_INVALID, model_path, "--shape gives input '%s' %" PRId64
                               " in dim %d, the model declares %" PRId64, input->name,
                               gen->dims[d], d, type->dims[d].value);
        if (type->dims[d].param && names->count < 64
            && dim_lookup(names, type->dims[d].param) < 0) {
            names->name[names->count] = type->dims[d].param;
            names->value[names->count++] = gen->dims[d];
        }
    }
    gen->rank = gen->rank < 0 ? 0 : gen->rank;
    return QS_OK;
}

/* Dims of an input without --shape: declared, or bound by another input's --shape. */
static enum qs_status
declared_shape(const struct qs_value *input, const char *model_path, struct qs_diag *diag,
               const struct dim_names *names, struct gen_input *gen)
{
    const struct qs_type *type = &input->type;

    if (type->rank < 0)
        return qs_diag_add(diag, QS_USAGE, model_path, "input '%s' has no declared shape: give "
                           "--shape %s=D0xD1x...", input->name, input->name);
    gen->rank = type->rank;
    for (int d = 0; d < type->rank; d++) {
        gen->dims[d] = type->dims[d].value >= 0 ? type->dims[d].value
                                                : dim_lookup(names, type->dims[d].param);
        if (gen->dims[d] < 0)
            return qs_diag_add(diag, QS_USAGE, model_path, "input '%s' has the dynamic dim %d "
                               "(%s): give its shape with --shape %s=D0xD1x...", input->name, d,
                               type->dims[d].param ? type->dims[d].param : "unknown",
                               input->name);
    }
    return QS_OK;
}

/* Collect the --shape and --range values per input. */
static enum qs_status
plan_generation(const struct qs_interp *interp, const struct qs_input_spec *spec,
                const char *model_path, struct qs_diag *diag, struct gen_input *gens)
{
    size_t n_inputs = qs_interp_n_inputs(interp);
    unsigned char *shaped = qs_calloc(n_inputs + 1, 1);
    struct dim_names names = { 0 };
    enum qs_status status = QS_OK;

    for (size_t k = 0; k < spec->n_shapes && status == QS_OK; k++) {
        long i = match_input(interp, spec->shapes[k]);

        if (i < 0)
            status = unknown_input(interp, "shape", spec->shapes[k], model_path, diag);
        else
            status = apply_shape(qs_interp_input(interp, (size_t)i),
                                 spec->shapes[k] + strlen(input_name(interp, (size_t)i)) + 1,
                                 model_path, diag, &gens[i], &names);
        if (i >= 0)
            shaped[i] = 1;
    }
    for (size_t k = 0; k < spec->n_ranges && status == QS_OK; k++) {
        long i = match_input(interp, spec->ranges[k]);

        if (i < 0)
            status = unknown_input(interp, "range", spec->ranges[k], model_path, diag);
        else
            status = parse_range(qs_interp_input(interp, (size_t)i),
                                 spec->ranges[k] + strlen(input_name(interp, (size_t)i)) + 1,
                                 model_path, diag, &gens[i]);
    }
    for (size_t i = 0; i < n_inputs && status == QS_OK; i++)
        if (!shaped[i])
            status = declared_shape(qs_interp_input(interp, i), model_path, diag, &names,
                                    &gens[i]);
    free(shaped);
    return status;
}

/* Fill one generated tensor. */
static void
generate_values(struct qs_rt_tensor *t, const struct gen_input *gen, enum qs_input_dist dist,
                uint64_t *state)
{
    if (qs_rt_is_float(t->dtype)) {
        float *data = t->data;

        for (uint64_t k = 0; k < t->count; k++) {
            double v;

            if (gen->has_range)
                v = gen->lo_f + (gen->hi_f - gen->lo_f) * rng_unit(state);
            else if (dist == QS_INPUT_NORMAL)
                v = rng_normal(state);
            else
                v = 2.0 * rng_unit(state) - 1.0;
            data[k] = (float)v;
        }
        return;
    }

    int64_t *data = t->data;

    for (uint64_t k = 0; k < t->count; k++)
        data[k] = rng_int(state, gen->lo_i, gen->hi_i);
}

static enum qs_status
generate(const struct qs_interp *interp, const struct qs_input_spec *spec,
         const char *model_path, struct qs_diag *diag, struct qs_input_set *set)
{
    size_t n_inputs = qs_interp_n_inputs(interp);
    struct gen_input *gens = qs_calloc(n_inputs + 1, sizeof(*gens));
    uint64_t state = spec->seed;
    enum qs_status status = plan_generation(interp, spec, model_path, diag, gens);

    for (size_t i = 0; i < n_inputs && status == QS_OK; i++) {
        const struct qs_value *input = qs_interp_input(interp, i);
        int dtype = input->type.elem ? input->type.elem : QS_DT_FLOAT;

        if (dtype == QS_DT_BOOL && !gens[i].has_range) {
            gens[i].hi_i = 1;
            gens[i].has_range = 1;
        }
        if (!qs_rt_is_float(dtype) && !qs_rt_is_int(dtype))
            status = qs_diag_add(diag, QS_UNSUPPORTED, model_path, "input '%s' has element type "
                                 "%s, which qscope cannot generate", input->name,
                                 qs_dtype_name(dtype));
        else if (qs_rt_is_int(dtype) && !gens[i].has_range)
            status = qs_diag_add(diag, QS_USAGE, model_path, "integer input '%s' needs a value "
                                 "range: give --range %s=LO:HI", input->name, input->name);
    }

    if (status == QS_OK)
        set_alloc(set, n_inputs, (size_t)spec->random);
    for (size_t s = 0; status == QS_OK && s < set->n_samples; s++) {
        for (size_t i = 0; i < n_inputs && status == QS_OK; i++) {
            const struct qs_value *input = qs_interp_input(interp, i);
            struct qs_rt_tensor **slot = &set->tensors[s * n_inputs + i];

            status = qs_rt_new(input->type.elem ? input->type.elem : QS_DT_FLOAT, gens[i].rank,
                               gens[i].dims, slot);
            if (status != QS_OK)
                qs_diag_add(diag, status, model_path, "input '%s' cannot be generated with the "
                            "given shape (too large or unsupported type)", input->name);
            else
                generate_values(*slot, &gens[i], spec->dist, &state);
        }
        set->labels[s] = qs_asprintf("random #%zu (seed %" PRIu64 ")", s, spec->seed);
    }
    free(gens);
    return status;
}

/* ---- checks ------------------------------------------------------------ */

static enum qs_status
check_one(const struct qs_value *v, const struct qs_rt_tensor *t, const char *where,
          const char *file, struct qs_diag *diag, struct dim_names *bound)
{
    const struct qs_type *type = &v->type;
    int64_t expected;

    if (!t)
        return qs_diag_add(diag, QS_INVALID, file, "input '%s' is missing (%s)", v->name, where);
    if (type->elem != 0 && type->elem != t->dtype)
        return qs_diag_add(diag, QS_INVALID, file, "input '%s' has element type %s, the model "
                           "expects %s (%s)", v->name, qs_dtype_name(t->dtype),
                           qs_dtype_name(type->elem), where);
    if (type->rank < 0)
        return QS_OK;
    if (type->rank != t->rank)
        return qs_diag_add(diag, QS_INVALID, file, "input '%s' has rank %d, the model expects "
                           "%d (%s)", v->name, t->rank, type->rank, where);
    for (int d = 0; d < t->rank; d++) {
        const struct qs_dim *dim = &type->dims[d];

        if (dim->value >= 0 && dim->value != t->dims[d])
            return qs_diag_add(diag, QS_INVALID, file, "input '%s' has %" PRId64 " in dim %d, "
                               "the model expects %" PRId64 " (%s)", v->name, t->dims[d], d,
                               dim->value, where);
        if (!dim->param)
            continue;
        expected = dim_lookup(bound, dim->param);
        if (expected >= 0 && expected != t->dims[d])
            return qs_diag_add(diag, QS_INVALID, file, "input '%s' has %" PRId64 " in dim %d "
                               "(%s), but another input of the sample gave %s = %" PRId64
                               " (%s)", v->name, t->dims[d], d, dim->param, dim->param,
                               expected, where);
        if (expected < 0 && bound->count < 64) {
            bound->name[bound->count] = dim->param;
            bound->value[bound->count++] = t->dims[d];
        }
    }
    return QS_OK;
}

enum qs_status
qs_inputs_check(const struct qs_interp *interp, const struct qs_input_set *set,
                const char *file, struct qs_diag *diag)
{
    enum qs_status status = QS_OK;

    for (size_t s = 0; s < set->n_samples; s++) {
        struct dim_names bound = { 0 };

        for (size_t i = 0; i < set->n_inputs; i++) {
            const char *where = set->labels[s] ? set->labels[s] : "sample";

            status = qs_status_worst(status, check_one(qs_interp_input(interp, i),
                                                       qs_inputs_get(set, s, i), where, file,
                                                       diag, &bound));
        }
    }
    return status;
}

/* ---- entry ------------------------------------------------------------- */

static int
count_sources(const struct qs_input_spec *spec)
{
    return (spec->n_files > 0) + (spec->data_dir != NULL) + (spec->random > 0);
}

enum qs_status
qs_inputs_load(const struct qs_interp *interp, const struct qs_input_spec *spec,
               const char *model_path, struct qs_diag *diag, struct qs_input_set *set)
{
    enum qs_status status;

    memset(set, 0, sizeof(*set));
    if (count_sources(spec) > 1)
        return qs_diag_add(diag, QS_USAGE, model_path,
                           "give inputs one way only: --input, --data or --random");
    if ((spec->n_shapes || spec->n_ranges) && spec->random <= 0)
        return qs_diag_add(diag, QS_USAGE, model_path,
                           "--shape and --range apply to generated inputs: add --random N");

    if (spec->n_files)
        status = load_files(interp, spec, model_path, diag, set);
    else if (spec->data_dir)
        status = load_data_dir(interp, spec->data_dir, diag, set);
    else if (spec->random > 0)
        status = generate(interp, spec, model_path, diag, set);
    else if (qs_interp_n_inputs(interp) == 0) {
        set_alloc(set, 0, 1);
        set->labels[0] = qs_strdup("no inputs");
        status = QS_OK;
    } else
        return qs_diag_add(diag, QS_USAGE, model_path, "the model has %zu run input%s: give "
                           "them with --input NAME=FILE, --data DIR or --random N",
                           qs_interp_n_inputs(interp), qs_interp_n_inputs(interp) == 1 ? "" : "s");

    if (status != QS_OK)
        return status;
    return qs_inputs_check(interp, set, model_path, diag);
}
