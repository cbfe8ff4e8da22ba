/*
 * A fixed pool of worker threads for the interpreter's own kernels.
 * One job at a time: the caller splits [0, n) into contiguous chunks whose
 * bounds depend only on n and the caller's minimum chunk, never on the
 * thread count, and every thread (the caller too) takes the next chunk
 * index from a shared counter until none are left.  A thread that the
 * system deschedules thus holds up at most the chunk it is running, and
 * each output element is computed by the same chunk whatever the timing.
 * Threads poll briefly for work and then sleep on a condition variable:
 * on a busy machine a long spin only takes the core from the thread that
 * has the work.
 */
#include "config.h"
#include "interp/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Polls (with a pause each, some tens of nanoseconds) before sleeping. */
#define POOL_SPINS 128

/* Maximum chunks per job: enough to even out the load when a thread is descheduled. */
#define POOL_MAX_CHUNKS 32

/* Low bits of the claim counter that contain the chunk index; the generation is above them. */
#define POOL_CLAIM_BITS 16

struct interp_pool {
    int n_workers;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t job_ready;
    pthread_cond_t job_done;
    atomic_uint_fast64_t generation; /* bumped for every job (under the lock) */
    atomic_uint_fast64_t claim;      /* generation << POOL_CLAIM_BITS | next chunk */
    atomic_int done;                 /* chunks of the current job finished */
    atomic_int stop;

    /* The current job: written under the lock, read under it by workers. */
    void (*fn)(void *ctx, int64_t begin, int64_t end);
    void *ctx;
    int64_t n;
    int chunks;
};

/* A thread's copy of the current job, taken under the lock. */
struct pool_job {
    uint64_t generation;
    void (*fn)(void *ctx, int64_t begin, int64_t end);
    void *ctx;
    int64_t n;
    int chunks;
};

static void
chunk_bounds(int64_t n, int chunks, int index, int64_t *begin, int64_t *end)
{
    int64_t base = n / chunks, extra = n % chunks;

    *begin = base * index + (index < extra ? index : extra);
    *end = *begin + base + (index < extra ? 1 : 0);
}

static void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Next unclaimed chunk of job "job", or -1 when all are taken or the job is over. */
static int
claim_chunk(struct interp_pool *pool, const struct pool_job *job)
{
    uint64_t seen = atomic_load(&pool->claim);

    for (;;) {
        uint64_t index = seen & ((1u << POOL_CLAIM_BITS) - 1);

        if (seen >> POOL_CLAIM_BITS != job->generation || index >= (uint64_t)job->chunks)
            return -1;
        if (atomic_compare_exchange_weak(&pool->claim, &seen, seen + 1))
            return (int)index;
    }
}

/* Run chunks of "job" until none are left; returns how many this thread ran. */
static int
run_chunks(struct interp_pool *pool, const struct pool_job *job)
{
    int64_t begin, end;
    int index, ran = 0;

    while ((index = claim_chunk(pool, job)) >= 0) {
        chunk_bounds(job->n, job->chunks, index, &begin, &end);
        if (begin < end)
            job->fn(job->ctx, begin, end);
        ran++;
    }
    return ran;
}

/* Spin until a job after "seen" is posted, the pool stops, or the spins run out. */
static void
spin_for_job(struct interp_pool *pool, uint64_t seen)
{
    for (int i = 0; i < POOL_SPINS; i++) {
        if (atomic_load(&pool->generation) != seen || atomic_load(&pool->stop))
            return;
        cpu_relax();
    }
}

/* Wait for a job after "seen" and copy it to "job"; returns 0 when the pool stops. */
static int
wait_for_job(struct interp_pool *pool, uint64_t seen, struct pool_job *job)
{
    spin_for_job(pool, seen);
    pthread_mutex_lock(&pool->lock);
    while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == seen)
        pthread_cond_wait(&pool->job_ready, &pool->lock);
    if (atomic_load(&pool->stop)) {
        pthread_mutex_unlock(&pool->lock);
        return 0;
    }
    job->generation = atomic_load(&pool->generation);
    job->fn = pool->fn;
    job->ctx = pool->ctx;
    job->n = pool->n;
    job->chunks = pool->chunks;
    pthread_mutex_unlock(&pool->lock);
    return 1;
}

static void *
worker_main(void *arg)
{
    struct interp_pool *pool = arg;
    struct pool_job job = { 0 };
    int ran;

    while (wait_for_job(pool, job.generation, &job)) {
        ran = run_chunks(pool, &job);
        /* The signal is sent under the lock, so a caller about to sleep cannot miss it. */
        if (ran > 0 && atomic_fetch_add(&pool->done, ran) + ran == job.chunks) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->job_done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

struct interp_pool *
interp_pool_new(int threads)
{
    struct interp_pool *pool;

    if (threads <= 1)
        return NULL;
    pool = qs_calloc(1, sizeof(*pool));
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->claim, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->stop, 0);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->job_ready, NULL);
    pthread_cond_init(&pool->job_done, NULL);
    pool->workers = qs_calloc((size_t)threads - 1, sizeof(*pool->workers));

    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0)
            break;
        pool->n_workers++;
    }
    return pool;
}

void
interp_pool_free(struct interp_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->job_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n_workers; i++)
        pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->job_ready);
    pthread_cond_destroy(&pool->job_done);
    free(pool->workers);
    free(pool);
}

int
interp_threads(const struct interp_call *call)
{
    return call && call->ex->threads > 0 ? call->ex->threads : 1;
}

/* Chunks of [0, n) with at least "min_chunk" items each: a function of the problem only. */
static int
chunk_count(int64_t n, int64_t min_chunk)
{
    int64_t chunks = n / (min_chunk > 0 ? min_chunk : 1);

    if (chunks < 1)
        return 1;
    if (chunks > POOL_MAX_CHUNKS)
        return POOL_MAX_CHUNKS;
    return (int)chunks;
}

/* Post job "job" to the workers. */
static void
post_job(struct interp_pool *pool, struct pool_job *job)
{
    pthread_mutex_lock(&pool->lock);
    job->generation = atomic_load(&pool->generation) + 1;
    pool->fn = job->fn;
    pool->ctx = job->ctx;
    pool->n = job->n;
    pool->chunks = job->chunks;
    atomic_store(&pool->done, 0);
    atomic_store(&pool->claim, job->generation << POOL_CLAIM_BITS);
    atomic_store(&pool->generation, job->generation);
    pthread_cond_broadcast(&pool->job_ready);
    pthread_mutex_unlock(&pool->lock);
}

void
interp_parallel_for(struct interp_call *call, int64_t n, int64_t min_chunk,
                    void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx)
{
    struct interp_pool *pool = call ? call->ex->pool : NULL;
    struct pool_job job = { 0, fn, ctx, n, 0 };
    int ran;

    if (n <= 0)
        return;
    job.chunks = chunk_count(n, min_chunk);
    /* Elements do not depend on the chunk bounds, so one call over [0, n) gives the same bits. */
    if (!pool || pool->n_workers == 0 || job.chunks <= 1) {
        fn(ctx, 0, n);
        return;
    }

    post_job(pool, &job);
    ran = run_chunks(pool, &job);
    if (atomic_fetch_add(&pool->done, ran) + ran == job.chunks)
        return;
    for (int i = 0; i < POOL_SPINS && atomic_load(&pool->done) < job.chunks; i++)
        cpu_relax();
    pthread_mutex_lock(&pool->lock);
    while (atomic_load(&pool->done) < job.chunks)
        pthread_cond_wait(&pool->job_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
