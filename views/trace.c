/*
 * The trace file named by QSCOPE_TRACE.
 */
#include "config.h"
#include "trace.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

FILE *qs_trace_fp;

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec trace_start;
static int trace_started;

static double
seconds(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

double
qs_trace_now(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!trace_started) {
        trace_start = now;
        trace_started = 1;
    }
    return seconds(&now) - seconds(&trace_start);
}

int
qs_trace_open(void)
{
    const char *path = getenv("QSCOPE_TRACE");

    qs_trace_now();
    if (!path || !*path)
        return 0;
    qs_trace_fp = fopen(path, "a");
    if (!qs_trace_fp)
        return -1;
    setvbuf(qs_trace_fp, NULL, _IOLBF, 0);
    return 0;
}

void
qs_trace_close(void)
{
    pthread_mutex_lock(&trace_lock);
    if (qs_trace_fp)
        fclose(qs_trace_fp);
    qs_trace_fp = NULL;
    pthread_mutex_unlock(&trace_lock);
}

void
qs_trace_write(const char *func, const char *fmt, ...)
{
    double now = qs_trace_now();
    va_list ap;

    pthread_mutex_lock(&trace_lock);
    if (qs_trace_fp) {
        fprintf(qs_trace_fp, "%.6f %s: ", now, func);
        va_start(ap, fmt);
        vfprintf(qs_trace_fp, fmt, ap);
        va_end(ap);
        fputc('\n', qs_trace_fp);
    }
    pthread_mutex_unlock(&trace_lock);
}
