/*
 * Background lanes: one thread and one queue per lane, a list of finished
 * jobs, and a pipe that wakes the main loop when a job finishes.
 */
#include "config.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "status.h"
#include "trace.h"

struct lane {
    struct qs_worker *worker;
    enum qs_lane id;
    pthread_t thread;
    int started;
    pthread_cond_t wake;         /* a job was queued, or the worker stops */
    struct qs_job *head;         /* queued jobs, FIFO */
    struct qs_job *tail;
    struct qs_job *running;
};

struct qs_worker {
    void *ctx;
    pthread_mutex_t lock;
    pthread_cond_t finished_cond;    /* a job finished (for qs_worker_wait_idle) */
    struct lane lanes[QS_LANE_COUNT];
    struct qs_job *finished;     /* LIFO; reversed when collected */
    int stopping;
    int pipe_fd[2];
};

static const char *const lane_names[QS_LANE_COUNT] = { "trial", "background", "plot", "run" };

/* Tell the main loop that something finished. */
static void
wake_main(struct qs_worker *worker)
{
    char byte = 1;

    /* A full pipe already wakes the loop; nothing else can go wrong here. */
    if (write(worker->pipe_fd[1], &byte, 1) < 0 && errno != EAGAIN)
        QS_TRACE("wake pipe: errno %d", errno);
}

static struct qs_job *
lane_pop(struct lane *lane)
{
    struct qs_job *job = lane->head;

    if (job) {
        lane->head = job->next;
        if (!lane->head)
            lane->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static void *
lane_main(void *arg)
{
    struct lane *lane = arg;
    struct qs_worker *worker = lane->worker;
    struct qs_job *job;

    pthread_mutex_lock(&worker->lock);
    for (;;) {
        while (!worker->stopping && !lane->head)
            pthread_cond_wait(&lane->wake, &worker->lock);
        if (worker->stopping)
            break;
        job = lane_pop(lane);
        lane->running = job;
        pthread_mutex_unlock(&worker->lock);

        if (!qs_job_cancelled(job))
            job->ops->run(job);
        job->finished = qs_trace_now();

        pthread_mutex_lock(&worker->lock);
        lane->running = NULL;
        job->next = worker->finished;
        worker->finished = job;
        pthread_cond_broadcast(&worker->finished_cond);
        wake_main(worker);
    }
    pthread_mutex_unlock(&worker->lock);
    return NULL;
}

static int
make_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

/*
 * Start the lane threads with every signal blocked, so that SIGINT,
 * SIGTERM and SIGWINCH reach the main thread and interrupt its poll.
 */
static int
start_lanes(struct qs_worker *worker)
{
    sigset_t all, saved;
    int rc = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    for (int i = 0; i < QS_LANE_COUNT && rc == 0; i++) {
        struct lane *lane = &worker->lanes[i];

        lane->worker = worker;
        lane->id = (enum qs_lane)i;
        pthread_cond_init(&lane->wake, NULL);
        rc = pthread_create(&lane->thread, NULL, lane_main, lane);
        lane->started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

struct qs_worker *
qs_worker_new(void *ctx)
{
    struct qs_worker *worker = qs_calloc(1, sizeof(*worker));

    worker->ctx = ctx;
    pthread_mutex_init(&worker->lock, NULL);
    pthread_cond_init(&worker->finished_cond, NULL);
    if (make_pipe(worker->pipe_fd) != 0) {
        free(worker);
        return NULL;
    }
    if (start_lanes(worker) != 0) {
        qs_worker_free(worker);
        return NULL;
    }
    return worker;
}

static void
job_release(struct qs_job *job)
{
    job->ops->free(job);
}

void
qs_worker_free(struct qs_worker *worker)
{
    struct qs_job *job;

    if (!worker)
        return;
    pthread_mutex_lock(&worker->lock);
    worker->stopping = 1;
    for (int i = 0; i < QS_LANE_COUNT; i++) {
        if (worker->lanes[i].running)
            atomic_store(&worker->lanes[i].running->cancelled, 1);
        pthread_cond_signal(&worker->lanes[i].wake);
    }
    pthread_mutex_unlock(&worker->lock);

    for (int i = 0; i < QS_LANE_COUNT; i++) {
        struct lane *lane = &worker->lanes[i];

        if (lane->started)
            pthread_join(lane->thread, NULL);
        while ((job = lane_pop(lane)))
            job_release(job);
        pthread_cond_destroy(&lane->wake);
    }
    while ((job = worker->finished)) {
        worker->finished = job->next;
        job_release(job);
    }
    close(worker->pipe_fd[0]);
    close(worker->pipe_fd[1]);
    pthread_cond_destroy(&worker->finished_cond);
    pthread_mutex_destroy(&worker->lock);
    free(worker);
}

/* Cancel the jobs of "slot"; the queued ones are moved to "dropped". Lock held. */
static void
cancel_slot_locked(struct qs_worker *worker, int slot, struct qs_job **dropped)
{
    for (int i = 0; i < QS_LANE_COUNT; i++) {
        struct lane *lane = &worker->lanes[i];
        struct qs_job **link = &lane->head;

        if (lane->running && lane->running->slot == slot)
            atomic_store(&lane->running->cancelled, 1);
        lane->tail = NULL;
        while (*link) {
            struct qs_job *job = *link;

            if (job->slot == slot) {
                *link = job->next;
                job->next = *dropped;
                *dropped = job;
            } else {
                lane->tail = job;
                link = &job->next;
            }
        }
    }
}

static void
release_list(struct qs_job *job)
{
    while (job) {
        struct qs_job *next = job->next;

        job_release(job);
        job = next;
    }
}

void
qs_worker_cancel_slot(struct qs_worker *worker, int slot)
{
    struct qs_job *dropped = NULL;

    if (slot < 0)
        return;
    pthread_mutex_lock(&worker->lock);
    cancel_slot_locked(worker, slot, &dropped);
    pthread_mutex_unlock(&worker->lock);
    release_list(dropped);
}

void
qs_worker_submit(struct qs_worker *worker, struct qs_job *job, enum qs_lane lane_id, int slot)
{
    struct qs_job *dropped = NULL;
    struct lane *lane = &worker->lanes[lane_id];

    job->lane = lane_id;
    job->slot = slot;
    job->next = NULL;
    job->submitted = qs_trace_now();
    atomic_store(&job->cancelled, 0);
    atomic_store(&job->progress, 0);

    pthread_mutex_lock(&worker->lock);
    if (slot >= 0)
        cancel_slot_locked(worker, slot, &dropped);
    if (lane->tail)
        lane->tail->next = job;
    else
        lane->head = job;
    lane->tail = job;
    pthread_cond_signal(&lane->wake);
    pthread_mutex_unlock(&worker->lock);

    release_list(dropped);
    QS_TRACE("%s job %s queued (slot %d)", lane_names[lane_id], job->ops->name, slot);
}

int
qs_worker_fd(const struct qs_worker *worker)
{
    return worker->pipe_fd[0];
}

int
qs_worker_collect(struct qs_worker *worker)
{
    struct qs_job *list, *reversed = NULL;
    char drain[64];
    int count = 0;

    while (read(worker->pipe_fd[0], drain, sizeof(drain)) > 0)
        continue;
    pthread_mutex_lock(&worker->lock);
    list = worker->finished;
    worker->finished = NULL;
    pthread_mutex_unlock(&worker->lock);

    /* Oldest first, so that results arrive in the order they were computed. */
    while (list) {
        struct qs_job *next = list->next;

        list->next = reversed;
        reversed = list;
        list = next;
    }
    while (reversed) {
        struct qs_job *job = reversed;

        reversed = job->next;
        QS_TRACE("%s job %s %s after %.1f ms", lane_names[job->lane], job->ops->name,
                 qs_job_cancelled(job) ? "cancelled" : "finished",
                 (job->finished - job->submitted) * 1e3);
        if (!qs_job_cancelled(job) && job->ops->done)
            job->ops->done(job, worker->ctx);
        job_release(job);
        count++;
    }
    return count;
}

int
qs_worker_busy(struct qs_worker *worker, const char **label, int *permille)
{
    int busy;

    pthread_mutex_lock(&worker->lock);
    busy = worker->finished != NULL;
    if (label)
        *label = NULL;
    for (int i = 0; i < QS_LANE_COUNT; i++) {
        struct lane *lane = &worker->lanes[i];

        if (lane->head || lane->running)
            busy = 1;
        /*
         * The background lane's long jobs are the ones worth a progress line;
         * runs of the model draw their own bar in the status line.
         */
        if (label && lane->running && i != QS_LANE_RUN && (!*label || i == QS_LANE_BACKGROUND)) {
            *label = lane->running->ops->name;
            if (permille)
                *permille = atomic_load(&lane->running->progress);
        }
    }
    pthread_mutex_unlock(&worker->lock);
    return busy;
}

void
qs_worker_wait_idle(struct qs_worker *worker)
{
    for (;;) {
        int queued = 0;

        qs_worker_collect(worker);
        pthread_mutex_lock(&worker->lock);
        for (int i = 0; i < QS_LANE_COUNT; i++)
            if (worker->lanes[i].head || worker->lanes[i].running)
                queued = 1;
        if (!queued && !worker->finished) {
            pthread_mutex_unlock(&worker->lock);
            return;
        }
        if (!worker->finished)
            pthread_cond_wait(&worker->finished_cond, &worker->lock);
        pthread_mutex_unlock(&worker->lock);
    }
}
