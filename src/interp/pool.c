/*
 * A fixed pool of worker threads for the interpreter's own kernels.
 * One job at a time: the caller splits [0, n) into one contiguous chunk
 * per thread, takes chunk 0 itself and waits for the others.
 */
#include "config.h"
#include "interp/internal.h"

#include <pthread.h>
#include <stdlib.h>

struct interp_pool {
    int n_workers;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t job_ready;
    pthread_cond_t job_done;
    uint64_t generation;             /* bumped for every job */
    int pending;                     /* workers still busy with the job */
    int stop;

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

static void *
worker_main(void *arg_ptr)
{
    struct worker_arg *arg = arg_ptr;
    struct interp_pool *pool = arg->pool;
    uint64_t seen = 0;
    int64_t begin, end;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stop && pool->generation == seen)
            pthread_cond_wait(&pool->job_ready, &pool->lock);
        if (pool->stop)
            break;
        seen = pool->generation;
        if (arg->index < pool->chunks) {
            chunk_bounds(pool->n, pool->chunks, arg->index, &begin, &end);
            pthread_mutex_unlock(&pool->lock);
            if (begin < end)
                pool->fn(pool->ctx, begin, end);
            pthread_mutex_lock(&pool->lock);
        }
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->job_done);
    }
    pthread_mutex_unlock(&pool->lock);
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
    pool->stop = 1;
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
    pool->pending = pool->n_workers;
    pool->generation++;
    pthread_cond_broadcast(&pool->job_ready);
    pthread_mutex_unlock(&pool->lock);

    chunk_bounds(n, (int)chunks, 0, &begin, &end);
    fn(ctx, begin, end);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->job_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
