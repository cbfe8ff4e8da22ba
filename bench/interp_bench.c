/*
 * Interpreter benchmark: time qs_interp_run on one model and one set of
 * inputs, and compare the first output with a reference file.
 *
 * Usage: interp_bench [OPTIONS] MODEL INPUT...
 *   --threads N      interpreter threads (default 1)
 *   --warmup N       untimed runs before the timed ones (default 3)
 *   --runs N         timed runs (default 10)
 *   --reference F    compare output 0 with the tensor in F (.npy or TensorProto)
 *   --rtol R         relative tolerance of the comparison (default 1e-3)
 *   --atol A         absolute tolerance of the comparison (default 1e-4)
 *   --profile        after the timed runs, time each node over --runs more
 *                    runs and print the time per op kind and the slowest nodes
 *
 * Each INPUT (.npy or TensorProto) feeds one run input, in graph order.
 * The results go to stdout as "KEY VALUE" lines, which
 * bench/interp_bench.sh reads:
 *   threads, runs the settings used
 *   first_ms      the first run, which also decodes the constants
 *   median_ms     median wall time of the timed runs
 *   min_ms        fastest timed run
 *   cpu_ms        median CPU time of the process per run, closer to the
 *                 idle wall time than median_ms on a busy machine
 *   max_abs_diff, mismatches, elements   with --reference: mismatches
 *                 counts the elements where |out - ref| > atol + rtol * |ref|
 *                 or where only one of the two is NaN
 * and with --profile the "op" and "node" lines of print_profile.
 * Exit status: 0; 1 for an invalid model or file; 2 for a usage error;
 * 4 when the output disagrees with the reference; 5 when the interpreter
 * cannot run the model.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interp/interp.h"
#include "model.h"
#include "status.h"

#define BENCH_MAX_INPUTS 16
/* Nodes listed by --profile after the op kinds. */
#define BENCH_TOP_NODES 15

struct bench_args {
    int threads;
    long warmup;
    long runs;
    const char *reference;
    double rtol;
    double atol;
    int profile;
    const char *model;
    int n_inputs;
    const char *inputs[BENCH_MAX_INPUTS];
};

struct bench_compare {
    double max_abs_diff;
    uint64_t mismatches;
    uint64_t count;
};

static void
usage(void)
{
    fputs("usage: interp_bench [--threads N] [--warmup N] [--runs N] [--reference FILE]\n"
          "                    [--rtol R] [--atol A] [--profile] MODEL INPUT...\n", stderr);
}

static int
parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_double(const char *text, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= 0.0) || isinf(v))
        return -1;
    *out = v;
    return 0;
}

/* Parse the option at argv[*i] and its value.  Returns 0, or -1 for an invalid option or value. */
static int
parse_option(int argc, char **argv, int *i, struct bench_args *args)
{
    const char *name = argv[*i];
    const char *value;
    long n;

    if (strcmp(name, "--profile") == 0) {
        args->profile = 1;
        return 0;
    }
    if (*i + 1 >= argc)
        return -1;
    value = argv[++*i];

    if (strcmp(name, "--reference") == 0) {
        args->reference = value;
        return 0;
    }
    if (strcmp(name, "--rtol") == 0)
        return parse_double(value, &args->rtol);
    if (strcmp(name, "--atol") == 0)
        return parse_double(value, &args->atol);

    if (strcmp(name, "--threads") == 0 && parse_long(value, 1, 1024, &n) == 0)
        args->threads = (int)n;
    else if (strcmp(name, "--warmup") == 0 && parse_long(value, 0, 1000000, &n) == 0)
        args->warmup = n;
    else if (strcmp(name, "--runs") == 0 && parse_long(value, 1, 1000000, &n) == 0)
        args->runs = n;
    else
        return -1;
    return 0;
}

static int
parse_args(int argc, char **argv, struct bench_args *args)
{
    int i;

    *args = (struct bench_args){ .threads = 1, .warmup = 3, .runs = 10,
                                 .rtol = 1e-3, .atol = 1e-4 };
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *name = argv[i];

        if (parse_option(argc, argv, &i, args) != 0) {
            fprintf(stderr, "interp_bench: invalid option, or a missing or invalid value: %s%s%s\n",
                    name, name == argv[i] ? "" : " ", name == argv[i] ? "" : argv[i]);
            usage();
            return -1;
        }
    }
    if (argc - i < 2 || argc - i - 1 > BENCH_MAX_INPUTS) {
        usage();
        return -1;
    }

    args->model = argv[i++];
    for (; i < argc; i++)
        args->inputs[args->n_inputs++] = argv[i];
    return 0;
}

static double
clock_ms(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double
now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Return the median of the "n" values in "v", which it sorts. */
static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* Run once and drop the outputs. */
static enum qs_status
run_once(struct qs_interp *interp, struct qs_rt_tensor *const *inputs,
         struct qs_rt_tensor **outputs, struct qs_diag *diag)
{
    size_t n_out = qs_interp_n_outputs(interp);
    enum qs_status st;

    st = qs_interp_run(interp, inputs, outputs, diag);
    for (size_t k = 0; k < n_out; k++) {
        qs_rt_unref(outputs[k]);
        outputs[k] = NULL;
    }
    return st;
}

/* Check that "out" and "ref" are float tensors of the same shape. */
static enum qs_status
check_same_shape(const struct qs_rt_tensor *out, const struct qs_rt_tensor *ref,
                 const char *path, struct qs_diag *diag)
{
    int same = out->rank == ref->rank && out->count == ref->count;

    for (int d = 0; same && d < out->rank; d++)
        same = out->dims[d] == ref->dims[d];
    if (!same)
        return qs_diag_add(diag, QS_INVALID, path,
                           "shape differs from output 0 (rank %d, %llu elements against "
                           "rank %d, %llu elements)", ref->rank,
                           (unsigned long long)ref->count, out->rank,
                           (unsigned long long)out->count);
    if (!qs_rt_is_float(out->dtype) || !qs_rt_is_float(ref->dtype))
        return qs_diag_add(diag, QS_UNSUPPORTED, path,
                           "only floating-point outputs are compared");
    return QS_OK;
}

static void
compare_tensors(const struct qs_rt_tensor *out, const struct qs_rt_tensor *ref,
                double rtol, double atol, struct bench_compare *cmp)
{
    const float *a = out->data;
    const float *b = ref->data;

    *cmp = (struct bench_compare){ .count = out->count };
    for (uint64_t k = 0; k < out->count; k++) {
        double diff = fabs((double)a[k] - (double)b[k]);

        if (isnan(a[k]) != isnan(b[k])) {
            cmp->mismatches++;
            continue;
        }
        if (isnan(a[k]) || (isinf(a[k]) && a[k] == b[k]))
            continue;
        if (diff > cmp->max_abs_diff)
            cmp->max_abs_diff = diff;
        if (!(diff <= atol + rtol * fabs((double)b[k])))
            cmp->mismatches++;
    }
}

/* Run once more, keep output 0 and compare it with the reference file. */
static enum qs_status
compare_reference(struct qs_interp *interp, struct qs_rt_tensor *const *inputs,
                  const struct bench_args *args, struct qs_diag *diag)
{
    size_t n_out = qs_interp_n_outputs(interp);
    struct qs_rt_tensor **outputs = qs_calloc(n_out, sizeof(*outputs));
    struct qs_rt_tensor *ref = NULL;
    struct bench_compare cmp;
    enum qs_status st;

    st = qs_rt_read_file(args->reference, diag, &ref);
    if (st == QS_OK)
        st = qs_interp_run(interp, inputs, outputs, diag);
    if (st == QS_OK)
        st = check_same_shape(outputs[0], ref, args->reference, diag);

    if (st == QS_OK) {
        compare_tensors(outputs[0], ref, args->rtol, args->atol, &cmp);
        printf("max_abs_diff %.6g\n", cmp.max_abs_diff);
        printf("mismatches %llu\n", (unsigned long long)cmp.mismatches);
        printf("elements %llu\n", (unsigned long long)cmp.count);
        if (cmp.mismatches > 0)
            st = qs_diag_add(diag, QS_CHECK, args->reference,
                             "%llu of %llu elements differ beyond rtol %g, atol %g",
                             (unsigned long long)cmp.mismatches,
                             (unsigned long long)cmp.count, args->rtol, args->atol);
    }

    for (size_t k = 0; k < n_out; k++)
        qs_rt_unref(outputs[k]);
    free(outputs);
    qs_rt_unref(ref);
    return st;
}

/* Run the warm-up and timed runs, and print first_ms, median_ms, min_ms and cpu_ms. */
static enum qs_status
time_runs(struct qs_interp *interp, struct qs_rt_tensor *const *inputs,
          const struct bench_args *args, struct qs_diag *diag)
{
    struct qs_rt_tensor **outputs = qs_calloc(qs_interp_n_outputs(interp), sizeof(*outputs));
    double *times = qs_calloc((size_t)args->runs, sizeof(*times));
    double *cpu = qs_calloc((size_t)args->runs, sizeof(*cpu));
    enum qs_status st = QS_OK;
    double start, cpu_start, first = 0.0, best;

    for (long r = 0; st == QS_OK && r < args->warmup + args->runs; r++) {
        start = now_ms();
        cpu_start = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
        st = run_once(interp, inputs, outputs, diag);
        if (r == 0)
            first = now_ms() - start;
        if (r >= args->warmup) {
            times[r - args->warmup] = now_ms() - start;
            cpu[r - args->warmup] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
        }
    }

    if (st == QS_OK) {
        best = times[0];
        for (long r = 1; r < args->runs; r++)
            best = times[r] < best ? times[r] : best;
        printf("threads %d\n", args->threads);
        printf("runs %ld\n", args->runs);
        printf("first_ms %.3f\n", first);
        printf("median_ms %.3f\n", median(times, (size_t)args->runs));
        printf("min_ms %.3f\n", best);
        printf("cpu_ms %.3f\n", median(cpu, (size_t)args->runs));
    }
    free(cpu);
    free(times);
    free(outputs);
    return st;
}

/* ---- --profile ---------------------------------------------------------- */

/* Time of one node of the main graph over the profiled runs. */
struct profile_node {
    double ms;
    char kind[48];               /* op type, with the kernel for convolutions: "Conv:dw3x3" */
    char shape[64];              /* dims of output 0, "1x64x160x160" */
};

struct bench_profile {
    const struct qs_graph *graph;    /* the main graph */
    struct profile_node *nodes;      /* graph->n_nodes entries */
    double last;                     /* when the previous node ended (or the run began) */
};

/* One op kind in the summary. */
struct profile_kind {
    const char *kind;
    double ms;
    int nodes;
};

static void
conv_kind(const struct qs_node *node, char *buf, size_t size)
{
    const struct qs_tensor *w = node->n_inputs > 1 && node->inputs[1] ? node->inputs[1]->tensor
                                                                          : NULL;
    int64_t group = qs_node_attr_int(node, "group", 1);
    const char *prefix = group == 1 ? "" : "group";

    if (!w || w->rank != 4) {
        snprintf(buf, size, "%s", node->op_type);
        return;
    }
    if (group > 1 && w->dims[1] == 1)
        prefix = "dw";
    snprintf(buf, size, "%s:%s%lldx%lld", node->op_type, prefix, (long long)w->dims[2],
             (long long)w->dims[3]);
}

static void
profile_init(struct bench_profile *p, const struct qs_model *model)
{
    const struct qs_graph *g = model->graph;

    p->graph = g;
    p->nodes = qs_calloc(g->n_nodes, sizeof(*p->nodes));
    for (size_t k = 0; k < g->n_nodes; k++) {
        const struct qs_node *node = &g->nodes[k];
        struct profile_node *pn = &p->nodes[k];

        if (strcmp(node->op_type, "Conv") == 0 || strcmp(node->op_type, "ConvTranspose") == 0)
            conv_kind(node, pn->kind, sizeof(pn->kind));
        else
            snprintf(pn->kind, sizeof(pn->kind), "%s%s%s", node->domain,
                     node->domain[0] ? "." : "", node->op_type);
        snprintf(pn->shape, sizeof(pn->shape), "-");
    }
}

static void
format_shape(const struct qs_rt_tensor *t, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int d = 0; d < t->rank && used < size; d++) {
        int n = snprintf(buf + used, size - used, "%s%lld", d ? "x" : "", (long long)t->dims[d]);

        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (t->rank == 0)
        snprintf(buf, size, "scalar");
}

/*
 * Observe hook: the time since the previous float output goes to the
 * node that produced this one (to its main-graph owner inside a
 * subgraph).  Nodes with integer outputs only are not observed, so their
 * time goes to the next node.
 */
static enum qs_status
profile_observe(void *ctx, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct bench_profile *p = ctx;
    const struct qs_node *node = value->producer;
    double now = now_ms();
    struct profile_node *pn;

    while (node && node->graph != p->graph && node->graph->parent_node)
        node = node->graph->parent_node;
    if (node && node->graph == p->graph && node->index < p->graph->n_nodes) {
        pn = &p->nodes[node->index];
        pn->ms += now - p->last;
        if (node == value->producer && value->producer_output == 0)
            format_shape(tensor, pn->shape, sizeof(pn->shape));
    }
    p->last = now;
    return QS_OK;
}

static int
compare_kinds(const void *a, const void *b)
{
    double x = ((const struct profile_kind *)a)->ms;
    double y = ((const struct profile_kind *)b)->ms;

    return (x < y) - (x > y);
}

static const struct profile_node *sort_base;

static int
compare_nodes(const void *a, const void *b)
{
    double x = sort_base[*(const size_t *)a].ms;
    double y = sort_base[*(const size_t *)b].ms;

    return (x < y) - (x > y);
}

/* Sum the node times by kind into "kinds" (n_nodes entries) and return the number of kinds. */
static size_t
profile_kinds(const struct bench_profile *p, struct profile_kind *kinds)
{
    size_t n = 0, j;

    for (size_t k = 0; k < p->graph->n_nodes; k++) {
        const struct profile_node *pn = &p->nodes[k];

        for (j = 0; j < n && strcmp(kinds[j].kind, pn->kind) != 0; j++)
            ;
        if (j == n)
            kinds[n++] = (struct profile_kind){ .kind = pn->kind };
        kinds[j].ms += pn->ms;
        kinds[j].nodes++;
    }
    qsort(kinds, n, sizeof(*kinds), compare_kinds);
    return n;
}

/*
 * Print "profile_ms MS" (wall time per profiled run), then one line
 * "op KIND MS PERCENT NODES" per op kind and "node MS PERCENT KIND SHAPE
 * LABEL" for the slowest nodes, in ms per run and percent of profile_ms.
 */
static void
print_profile(const struct bench_profile *p, double run_ms, long runs)
{
    size_t n_nodes = p->graph->n_nodes, n_kinds;
    struct profile_kind *kinds = qs_calloc(n_nodes, sizeof(*kinds));
    size_t *order = qs_calloc(n_nodes, sizeof(*order));

    printf("profile_ms %.3f\n", run_ms);
    n_kinds = profile_kinds(p, kinds);
    for (size_t j = 0; j < n_kinds; j++)
        printf("op %-20s %9.3f %5.1f%% %4d\n", kinds[j].kind, kinds[j].ms / runs,
               100.0 * kinds[j].ms / runs / run_ms, kinds[j].nodes);

    for (size_t k = 0; k < n_nodes; k++)
        order[k] = k;
    sort_base = p->nodes;
    qsort(order, n_nodes, sizeof(*order), compare_nodes);
    for (size_t k = 0; k < n_nodes && k < BENCH_TOP_NODES; k++) {
        const struct profile_node *pn = &p->nodes[order[k]];

        printf("node %9.3f %5.1f%% %-16s %-16s %s\n", pn->ms / runs,
               100.0 * pn->ms / runs / run_ms, pn->kind, pn->shape,
               p->graph->nodes[order[k]].label);
    }
    free(order);
    free(kinds);
}

/* Time every node over args->runs runs, after one run that decodes the constants again. */
static enum qs_status
profile_runs(struct qs_interp *interp, const struct qs_model *model,
             struct qs_rt_tensor *const *inputs, const struct bench_args *args,
             struct qs_diag *diag)
{
    struct qs_rt_tensor **outputs = qs_calloc(qs_interp_n_outputs(interp), sizeof(*outputs));
    struct bench_profile p;
    struct qs_interp_hooks hooks = { .observe = profile_observe, .ctx = &p };
    enum qs_status st;
    double total = 0.0, start;

    profile_init(&p, model);
    qs_interp_set_hooks(interp, &hooks);
    p.last = now_ms();
    st = run_once(interp, inputs, outputs, diag);
    for (size_t k = 0; k < p.graph->n_nodes; k++)
        p.nodes[k].ms = 0.0;

    for (long r = 0; st == QS_OK && r < args->runs; r++) {
        start = now_ms();
        p.last = start;
        st = run_once(interp, inputs, outputs, diag);
        total += now_ms() - start;
    }
    if (st == QS_OK)
        print_profile(&p, total / args->runs, args->runs);

    qs_interp_set_hooks(interp, NULL);
    free(p.nodes);
    free(outputs);
    return st;
}

static enum qs_status
read_inputs(const struct qs_interp *interp, const struct bench_args *args,
            struct qs_rt_tensor **inputs, struct qs_diag *diag)
{
    size_t n_in = qs_interp_n_inputs(interp);
    enum qs_status st = QS_OK;

    if (n_in != (size_t)args->n_inputs)
        return qs_diag_add(diag, QS_INVALID, args->model,
                           "the model has %zu run inputs, %d input files given",
                           n_in, args->n_inputs);
    for (size_t k = 0; st == QS_OK && k < n_in; k++)
        st = qs_rt_read_file(args->inputs[k], diag, &inputs[k]);
    return st;
}

static enum qs_status
bench(const struct bench_args *args, struct qs_diag *diag)
{
    struct qs_interp_options opts = { .threads = args->threads };
    struct qs_rt_tensor *inputs[BENCH_MAX_INPUTS] = { NULL };
    struct qs_model *model = NULL;
    struct qs_interp *interp = NULL;
    enum qs_status st;

    st = qs_model_load(args->model, NULL, diag, &model);
    if (st == QS_OK)
        st = qs_interp_new(model, &opts, diag, &interp);
    if (st == QS_OK)
        st = read_inputs(interp, args, inputs, diag);

    if (st == QS_OK)
        st = time_runs(interp, inputs, args, diag);
    if (st == QS_OK && args->reference)
        st = compare_reference(interp, inputs, args, diag);
    if (st == QS_OK && args->profile)
        st = profile_runs(interp, model, inputs, args, diag);

    for (int k = 0; k < BENCH_MAX_INPUTS; k++)
        qs_rt_unref(inputs[k]);
    qs_interp_free(interp);
    qs_model_free(model);
    return st;
}

int
main(int argc, char **argv)
{
    struct bench_args args;
    struct qs_diag diag;
    enum qs_status st;

    if (parse_args(argc, argv, &args) != 0)
        return qs_status_exit_code(QS_USAGE);

    qs_diag_init(&diag);
    st = bench(&args, &diag);
    fflush(stdout);
    qs_diag_print(&diag, args.model);
    qs_diag_done(&diag);
    return qs_status_exit_code(st);
}
