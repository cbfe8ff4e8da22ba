/*
 * A fixed pool of worker threads for the interpreter's own kernels.
 * One job at a time: the caller splits [0, n) into one contiguous chunk
 * per thread, takes chunk 0 itself and waits for the others.
 * Workers and the caller spin for a short while before they sleep on a
 * condition variable: jobs come in quick succession during a run, and
 * waking a sleeping thread costs about as much as a small job.
 */
#include "config.h"
#include "interp/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Polls of a flag before sleeping: some microseconds. */
#define POOL_SPINS 2000

struct interp_pool {
    int n_workers;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t job_ready;
    pthread_cond_t job_done;
    atomic_uint_fast64_t generation; /* bumped for every job (under the lock) */
    atomic_int pending;              /* workers still busy with the job */
    atomic_int stop;

    void (*fn)(void *ctx, int64_t begin, int64_t end);
    void *ctx;
    int64_t n;
    int chunks;
};

struct worker_arg {
    struct interp_pool *pool;
    int index;                       /* chunk index: 1 .. n_workers */
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

static void *
worker_main(void *arg_ptr)
{
    struct worker_arg *arg = arg_ptr;
    struct interp_pool *pool = arg->pool;
    uint64_t seen = 0;
    int64_t begin = 0, end = 0;
    int mine;

    for (;;) {
        spin_for_job(pool, seen);
        pthread_mutex_lock(&pool->lock);
        while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == seen)
            pthread_cond_wait(&pool->job_ready, &pool->lock);
        if (atomic_load(&pool->stop)) {
            pthread_mutex_unlock(&pool->lock);
            break;
        }
        seen = atomic_load(&pool->generation);
        mine = arg->index < pool->chunks;
        if (mine)
            chunk_bounds(pool->n, pool->chunks, arg->index, &begin, &end);
        pthread_mutex_unlock(&pool->lock);
        if (mine && begin < end)
            pool->fn(pool->ctx, begin, end);
        /* The signal is sent under the lock, so a caller about to sleep cannot miss it. */
        if (atomic_fetch_sub(&pool->pending, 1) == 1) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->job_done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    free(arg);
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
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->stop, 0);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->job_ready, NULL);
    pthread_cond_init(&pool->job_done, NULL);
    pool->workers = qs_calloc((size_t)threads - 1, sizeof(*pool->workers));

    for (int i = 0; i < threads - 1; i++) {
        struct worker_arg *arg = qs_malloc(sizeof(*arg));

        arg->pool = pool;
        arg->index = i + 1;
        if (pthread_create(&pool->workers[i], NULL, worker_main, arg) != 0) {
            free(arg);
            break;
        }
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

void
interp_parallel_for(struct interp_call *call, int64_t n, int64_t min_chunk,
                    void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx)
{
    struct interp_pool *pool = call ? call->ex->pool : NULL;
    int64_t chunks, begin, end;

    if (n <= 0)
        return;
    chunks = pool ? pool->n_workers + 1 : 1;
    if (min_chunk > 0 && n / min_chunk < chunks)
        chunks = n / min_chunk > 0 ? n / min_chunk : 1;
    if (chunks <= 1) {
        fn(ctx, 0, n);
        return;
    }

    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->chunks = (int)chunks;
    atomic_store(&pool->pending, pool->n_workers);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->job_ready);
    pthread_mutex_unlock(&pool->lock);

    chunk_bounds(n, (int)chunks, 0, &begin, &end);
    fn(ctx, begin, end);

    for (int i = 0; i < POOL_SPINS && atomic_load(&pool->pending) > 0; i++)
        cpu_relax();
    pthread_mutex_lock(&pool->lock);
    while (atomic_load(&pool->pending) > 0)
        pthread_cond_wait(&pool->job_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
