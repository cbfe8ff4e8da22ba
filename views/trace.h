/*
 * The browser's log: a file named by QSCOPE_TRACE receives timestamped
 * lines (keys, job timings, every command sent to gnuplot).  Nothing is
 * ever logged to the screen.  Without QSCOPE_TRACE the macro costs one
 * test and never evaluates its arguments.
 *
 * Line format: "SECONDS.MICROS FUNCTION: MESSAGE", with seconds counted
 * from qs_trace_open on the monotonic clock; bench/ui_latency.sh reads
 * these.  Safe to call from any thread.
 */
#ifndef QS_TRACE_H
#define QS_TRACE_H

#include <stdio.h>

extern FILE *qs_trace_fp;

#define QS_TRACE(...) \
    do { \
        if (qs_trace_fp) \
            qs_trace_write(__func__, __VA_ARGS__); \
    } while (0)

/* Open the file named by QSCOPE_TRACE (appending), if set.  Returns 0, or -1 when it cannot. */
int qs_trace_open(void);

/* Close the trace file.  Safe when none is open. */
void qs_trace_close(void);

/* Write one line from function "func".  Use QS_TRACE instead. */
void qs_trace_write(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seconds on the monotonic clock since qs_trace_open (or since first use). */
double qs_trace_now(void);

#endif
