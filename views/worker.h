/*
 * Background computation for the browser, so that the screen never waits
 * for numbers.
 *
 * Jobs run on lanes, one thread each, in submission order per lane:
 *   QS_LANE_TRIAL       trial quantizations of the layer on screen and its
 *                       data; short jobs, answered while keys are pressed
 *   QS_LANE_BACKGROUND  statistics of every layer, plan measurements,
 *                       automatic plans, folder scans; long
 *   QS_LANE_PLOT        gnuplot, which only this thread talks to
 *   QS_LANE_RUN         runs of the model (calibration, sensitivity,
 *                       evaluation), minutes long, one at a time; and
 *                       the reading of their files
 *
 * A job is a struct that starts with struct qs_job.  Its "run" hook runs on
 * the lane's thread and may only read what the job owns or what is
 * read-only while jobs run (the model and its layers); "done" and "free"
 * run on the main thread in qs_worker_collect, so they may touch the
 * browser's state.  A job submitted with a slot (>= 0) cancels the jobs of
 * that slot still queued (freed without running) and marks the running
 * one cancelled: its "run" may stop early, and its "done" is not called.
 * So a new keypress makes stale computations disappear.
 *
 * The main loop waits on qs_worker_fd together with the keyboard and
 * calls qs_worker_collect when it is readable.
 */
#ifndef QS_WORKER_H
#define QS_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

enum qs_lane {
    QS_LANE_TRIAL,
    QS_LANE_BACKGROUND,
    QS_LANE_PLOT,
    QS_LANE_RUN,
    QS_LANE_COUNT
};

struct qs_job;

struct qs_job_ops {
    const char *name;                          /* for the trace and the progress line */
    void (*run)(struct qs_job *job);           /* lane thread */
    void (*done)(struct qs_job *job, void *ctx);  /* main thread, when not cancelled */
    void (*free)(struct qs_job *job);          /* main thread, always, last */
};

struct qs_job {
    const struct qs_job_ops *ops;
    enum qs_lane lane;
    int slot;                    /* -1: never cancelled by another job */
    atomic_int cancelled;
    atomic_int progress;         /* per mille of the work done, for long jobs */
    double submitted;            /* qs_trace_now() when submitted */
    double finished;             /* qs_trace_now() when "run" returned */
    struct qs_job *next;         /* queue link, private */
};

struct qs_worker;

/*
 * Start the lanes.  "ctx" is passed to every "done" hook.  Returns NULL
 * when the pipe or a thread cannot be made.
 */
struct qs_worker *qs_worker_new(void *ctx);

/* Cancel every job, stop the lanes and free the jobs and the worker.  NULL is allowed. */
void qs_worker_free(struct qs_worker *worker);

/*
 * Queue "job" (owned by the worker from now on) on job->lane after
 * setting its slot to "slot" (-1 for none) and cancelling the jobs of
 * that slot.
 */
void qs_worker_submit(struct qs_worker *worker, struct qs_job *job, enum qs_lane lane, int slot);

/* Mark every job of "slot" cancelled and drop the queued ones. */
void qs_worker_cancel_slot(struct qs_worker *worker, int slot);

/* A file descriptor that is readable while finished jobs wait for qs_worker_collect. */
int qs_worker_fd(const struct qs_worker *worker);

/* Run "done" (unless cancelled) and "free" of every finished job.  Returns how many. */
int qs_worker_collect(struct qs_worker *worker);

/*
 * Whether any job is queued, running or waiting to be collected.  When
 * "label" is not NULL it gets the name of a running job (static) and
 * "permille" its progress, or NULL when none runs.
 */
int qs_worker_busy(struct qs_worker *worker, const char **label, int *permille);

/*
 * Run the worker to rest: wait for jobs and collect them until nothing is
 * queued or running (done hooks may queue more).  Used by key scripts so
 * that screens saved after a key show its results.
 */
void qs_worker_wait_idle(struct qs_worker *worker);

/* True when "job" was cancelled: long "run" hooks check it between steps. */
static inline int
qs_job_cancelled(struct qs_job *job)
{
    return atomic_load_explicit(&job->cancelled, memory_order_relaxed);
}

#endif
