/*
 * quant_bench: throughput of qscope's trial quantization on one thread,
 * next to an equivalent vectorised numpy implementation (quant_bench.py)
 * run on the same data, with a check that both measure the same error.
 *
 * Usage: quant_bench [--runs N] [--small] [--python PROGRAM] [--script PATH]
 *
 * Weights are MatMul B [K, N] float32 (channel axis 1, group axis 0) of
 * normal random values with a fixed seed, 4096 x 4096 and 11008 x 4096
 * (--small: 512 x 512 and 1024 x 256, for a quick check).  They are
 * written to a .npy file in a temporary folder so that numpy reads the
 * same numbers.  GB/s is the float32 input size over the median time of
 * the runs, metrics included: wall-clock time, and CPU time of the
 * process, which stays meaningful when other jobs share the cores.  The
 * numpy side runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which
 * can slow it down.
 *
 * Exit status: 0 when every MSE agrees within a relative 1e-6, 4 when one
 * does not, 1 when the benchmark could not run.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quant.h"

/* Largest relative difference of MSE between qscope and numpy. */
#define MSE_AGREEMENT 1e-6

static const char *const bench_configs[] = {
    "int8:tensor:sym", "int8:channel:sym", "int4:g128:asym", "nf4:b64",
};
#define BENCH_CONFIGS (sizeof(bench_configs) / sizeof(bench_configs[0]))

struct bench_result {
    double gbps;               /* by wall-clock time */
    double cpu_gbps;           /* by CPU time */
    double mse;
    double sqnr;
    double max_err;
};

struct bench_options {
    int runs;
    int small;
    const char *python;
    const char *script;
};

static double
bench_clock(clockid_t clock)
{
    struct timespec t;

    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Normal random values from a fixed seed (xorshift64* and Box-Muller). */
static void
bench_fill(float *w, size_t n, uint64_t seed)
{
    uint64_t s = seed;

    for (size_t i = 0; i < n; i += 2) {
        double u[2], r;

        for (int k = 0; k < 2; k++) {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            u[k] = ((double)((s * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
        }
        r = sqrt(-2.0 * log(u[0]));
        w[i] = (float)(0.02 * r * cos(6.283185307179586 * u[1]));
        if (i + 1 < n)
            w[i + 1] = (float)(0.02 * r * sin(6.283185307179586 * u[1]));
    }
}

/* Write a float32 [k, n] array in the .npy format (version 1.0). */
static int
bench_write_npy(const char *path, const float *w, size_t k, size_t n)
{
    char header[128];
    int len = snprintf(header, sizeof(header),
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", k, n);
    size_t total = 10 + (size_t)len + 1, pad = (64 - total % 64) % 64;
    unsigned char prefix[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0 };
    FILE *f = fopen(path, "wb");
    int ok;

    if (!f)
        return -1;
    prefix[8] = (unsigned char)((len + pad + 1) & 0xff);
    prefix[9] = (unsigned char)((len + pad + 1) >> 8);
    ok = fwrite(prefix, 1, sizeof(prefix), f) == sizeof(prefix)
        && fwrite(header, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(w, sizeof(float), k * n, f) == k * n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int
bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* One thread, metrics only: the path the TUI and commands take. */
static int
bench_qscope(const char *text, const float *w, size_t k, size_t n, int runs,
             struct bench_result *out)
{
    struct qs_quant_config config;
    struct qs_quant_layout layout;
    struct qs_quant_request req = { 0 };
    struct qs_quant_result result;
    double *times = qs_calloc((size_t)runs, sizeof(double));
    double *cpu = qs_calloc((size_t)runs, sizeof(double));
    double bytes = (double)(k * n * sizeof(float));
    char message[256];

    if (qs_quant_config_parse(text, &config, message, sizeof(message)) != QS_OK) {
        fprintf(stderr, "quant_bench: %s\n", message);
        free(times);
        free(cpu);
        return -1;
    }
    qs_quant_layout_matmul_b(&layout, k, n);
    req.config = &config;
    req.layout = &layout;
    req.weights = w;
    req.threads = 1;
    for (int r = 0; r < runs; r++) {
        double start = bench_clock(CLOCK_MONOTONIC);
        double start_cpu = bench_clock(CLOCK_PROCESS_CPUTIME_ID);

        if (qs_quant_trial(&req, &result, NULL) != QS_OK) {
            free(times);
            free(cpu);
            return -1;
        }
        times[r] = bench_clock(CLOCK_MONOTONIC) - start;
        cpu[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - start_cpu;
    }
    qsort(times, (size_t)runs, sizeof(double), bench_cmp_double);
    qsort(cpu, (size_t)runs, sizeof(double), bench_cmp_double);
    out->gbps = bytes / times[runs / 2] / 1e9;
    out->cpu_gbps = bytes / cpu[runs / 2] / 1e9;
    out->mse = result.metrics.mse;
    out->sqnr = result.metrics.sqnr_db;
    out->max_err = result.metrics.max_abs_err;
    free(times);
    free(cpu);
    return 0;
}

/* Run the numpy side; its output lines go to "out" in configuration order. */
static int
bench_numpy(const struct bench_options *opt, const char *npy, struct bench_result out[])
{
    char runs[16], line[512];
    const char *argv[4 + BENCH_CONFIGS + 1];
    int fds[2], status;
    size_t got = 0;
    pid_t pid;
    FILE *f;

    snprintf(runs, sizeof(runs), "%d", opt->runs);
    argv[0] = opt->python;
    argv[1] = opt->script;
    argv[2] = npy;
    argv[3] = runs;
    for (size_t c = 0; c < BENCH_CONFIGS; c++)
        argv[4 + c] = bench_configs[c];
    argv[4 + BENCH_CONFIGS] = NULL;

    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv("OPENBLAS_L2_SIZE");
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv(opt->python, (char *const *)argv);
        fprintf(stderr, "quant_bench: cannot run %s: %s\n", opt->python, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    while (f && fgets(line, sizeof(line), f) && got < BENCH_CONFIGS) {
        struct bench_result *r = &out[got];
        char name[64];

        if (sscanf(line, "%63s %lf %lf %lf %lf %lf", name, &r->gbps, &r->cpu_gbps, &r->mse,
                   &r->sqnr, &r->max_err) == 6 && strcmp(name, bench_configs[got]) == 0)
            got++;
    }
    if (f)
        fclose(f);
    waitpid(pid, &status, 0);
    return (got == BENCH_CONFIGS && WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

/* Benchmark one shape; returns 0, 4 on a disagreement, -1 on failure. */
static int
bench_shape(const struct bench_options *opt, const char *dir, size_t k, size_t n)
{
    struct bench_result ours[BENCH_CONFIGS], theirs[BENCH_CONFIGS];
    float *w = qs_malloc(k * n * sizeof(float));
    char *npy = qs_asprintf("%s/weights_%zux%zu.npy", dir, k, n);
    int status = 0;

    bench_fill(w, k * n, 0x5eed0000u + k);
    if (bench_write_npy(npy, w, k, n) != 0) {
        fprintf(stderr, "quant_bench: cannot write %s: %s\n", npy, strerror(errno));
        status = -1;
    }
    for (size_t c = 0; status == 0 && c < BENCH_CONFIGS; c++)
        if (bench_qscope(bench_configs[c], w, k, n, opt->runs, &ours[c]) != 0)
            status = -1;
    if (status == 0 && bench_numpy(opt, npy, theirs) != 0) {
        fprintf(stderr, "quant_bench: the numpy side failed (%s %s)\n", opt->python, opt->script);
        status = -1;
    }
    for (size_t c = 0; status >= 0 && c < BENCH_CONFIGS; c++) {
        double mse_rel = fabs(ours[c].mse - theirs[c].mse) / theirs[c].mse;
        int agree = mse_rel < MSE_AGREEMENT;

        printf("%5zux%-5zu %-16s %7.2f %7.3f %7.2f %7.3f %6.1fx  %.9e %.1e %9.5f %9.5f %s\n",
               k, n, bench_configs[c], ours[c].gbps, theirs[c].gbps, ours[c].cpu_gbps,
               theirs[c].cpu_gbps, ours[c].cpu_gbps / theirs[c].cpu_gbps, ours[c].mse, mse_rel,
               ours[c].sqnr, theirs[c].sqnr, agree ? "ok" : "DIFFERENT");
        if (!agree)
            status = 4;
    }
    fflush(stdout);
    unlink(npy);
    free(npy);
    free(w);
    return status;
}

static int
bench_parse(int argc, char **argv, struct bench_options *opt)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--small") == 0) {
            opt->small = 1;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);

            if (*end || v < 1 || v > 1000)
                return -1;
            opt->runs = (int)v;
        } else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) {
            opt->python = argv[++i];
        } else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc) {
            opt->script = argv[++i];
        } else {
            return -1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const size_t shapes[2][2][2] = { { { 4096, 4096 }, { 11008, 4096 } },
                                            { { 512, 512 }, { 1024, 256 } } };
    struct bench_options opt = { 5, 0, "/usr/bin/python3", "bench/quant_bench.py" };
    char dir[] = "/tmp/qscope-bench-XXXXXX";
    int worst = 0;

    if (getenv("QSCOPE_BENCH_PY"))
        opt.script = getenv("QSCOPE_BENCH_PY");
    if (bench_parse(argc, argv, &opt) != 0) {
        fprintf(stderr, "usage: quant_bench [--runs N] [--small] [--python PROGRAM] "
                "[--script PATH]\n");
        return 2;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "quant_bench: cannot create a folder in /tmp: %s\n", strerror(errno));
        return 1;
    }
    printf("qscope trial quantization, 1 thread, kernels %s, median of %d runs\n",
           qs_quant_isa(), opt.runs);
    printf("GB/s: float32 input bytes / median time, by wall clock and by CPU time; "
           "ratio by CPU time\n");
    printf("%-11s %-16s %7s %7s %7s %7s %7s  %-15s %-7s %-9s %-9s\n", "shape", "config",
           "qs wall", "np wall", "qs cpu", "np cpu", "ratio", "mse", "mse rel", "sqnr qs",
           "sqnr np");
    for (int s = 0; s < 2; s++) {
        int status = bench_shape(&opt, dir, shapes[opt.small][s][0], shapes[opt.small][s][1]);

        if (status < 0) {
            worst = 1;
            break;
        }
        if (status > worst)
            worst = status;
    }
    rmdir(dir);
    return worst;
}
