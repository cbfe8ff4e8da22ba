/*
 * Trial driver: cut a weight into chunks fixed by its layout, choose the
 * ranges, run the kernels over the chunks on worker threads, and combine
 * the per-chunk sums in chunk order.
 *
 * Plans, by granularity and layout (see struct qs_quant_layout):
 *   cast           runs of QUANT_CHUNK_ELEMS, no scales
 *   tensor         runs of QUANT_CHUNK_ELEMS, one scale
 *   channel cols   channel_inner == 1: rows of "channels" columns, a scale per column
 *   channel runs   channel_inner > 1: runs of channel_inner elements, scale (run % channels)
 *   group cols     group_inner > 1: blocks of N rows by tiles of columns
 *   group runs     group_inner == 1: each group is a contiguous run
 * Per-group min/max ranges are computed inside the chunk that quantizes
 * them, while the data is in cache; every other range is found by a pass
 * before quantization.
 */
#include "config.h"

#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant_internal.h"

enum trial_plan {
    PLAN_CAST,
    PLAN_TENSOR,
    PLAN_CHANNEL_COLS,
    PLAN_CHANNEL_RUNS,
    PLAN_GROUP_COLS,
    PLAN_GROUP_RUNS
};

struct trial {
    const struct qs_quant_config *config;
    const struct qs_quant_layout *layout;
    const float *x;
    struct qs_quant_output out;
    const struct quant_ops *ops;
    struct quant_spec spec;
    enum trial_plan plan;
    int fused;                  /* group ranges computed inside pass 2 */
    int workers;

    uint64_t n, nseg;
    uint64_t axis, inner;       /* channels or group_len, and the dims after it */
    uint64_t group, nblocks;    /* group plans: N and ceil(axis / N) */
    uint64_t per_chunk;         /* elements, rows, runs or groups per chunk, or the tile width */
    uint64_t tiles;             /* group cols: column tiles per block */
    uint64_t nchunks;

    struct quant_params p;      /* nseg entries each */
    struct quant_sums *partial; /* nchunks */
    uint64_t *flagged_partial;  /* nchunks */
    float *worker_lo, *worker_hi;   /* workers * nseg, for merged ranges */

    float *gathered;            /* range search: finite values, segment by segment */
    uint64_t *seg_start;        /* nseg + 1 offsets into gathered */
};

typedef void (*trial_task_fn)(struct trial *t, uint64_t task, int worker);

/* ---- Worker threads ---- */

struct trial_pool {
    struct trial *t;
    trial_task_fn fn;
    uint64_t ntasks;
    atomic_uint_fast64_t next;
};

struct trial_worker {
    struct trial_pool *pool;
    int id;
};

static void *
trial_worker_main(void *arg)
{
    struct trial_worker *w = arg;
    struct trial_pool *pool = w->pool;
    uint64_t task;

    while ((task = atomic_fetch_add(&pool->next, 1)) < pool->ntasks)
        pool->fn(pool->t, task, w->id);
    return NULL;
}

/*
 * Run fn(t, task, worker) for every task on up to t->workers threads.
 * Tasks go to whichever worker is free; callers write results indexed by
 * task, so the outcome does not depend on that assignment.
 */
static void
trial_run_tasks(struct trial *t, uint64_t ntasks, trial_task_fn fn)
{
    struct trial_pool pool = { t, fn, ntasks, 0 };
    int count = t->workers;
    pthread_t *threads;
    struct trial_worker *workers;
    int started = 0;

    if ((uint64_t)count > ntasks)
        count = ntasks > 0 ? (int)ntasks : 1;
    threads = qs_calloc((size_t)count, sizeof(*threads));
    workers = qs_calloc((size_t)count, sizeof(*workers));
    for (int i = 0; i < count; i++)
        workers[i] = (struct trial_worker){ &pool, i };
    /* If a thread cannot start, the others (and the caller) take its tasks. */
    for (int i = 1; i < count; i++, started++)
        if (pthread_create(&threads[i], NULL, trial_worker_main, &workers[i]) != 0)
            break;
    trial_worker_main(&workers[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(workers);
}

/* ---- Geometry ---- */

static uint64_t
trial_div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Choose the plan and the chunking; both depend on the layout only. */
static void
trial_plan(struct trial *t)
{
    const struct qs_quant_layout *l = t->layout;
    uint64_t chunk = QUANT_CHUNK_ELEMS;

    switch (t->config->granularity) {
    case QS_QUANT_GRAN_NONE:
    case QS_QUANT_GRAN_TENSOR:
        t->plan = t->config->granularity == QS_QUANT_GRAN_NONE ? PLAN_CAST : PLAN_TENSOR;
        t->nseg = t->plan == PLAN_CAST ? 0 : 1;
        t->per_chunk = chunk;
        t->nchunks = trial_div_up(t->n, chunk);
        return;
    case QS_QUANT_GRAN_CHANNEL:
        t->axis = l->channels;
        t->inner = l->channel_inner;
        t->nseg = t->axis;
        t->plan = t->inner == 1 ? PLAN_CHANNEL_COLS : PLAN_CHANNEL_RUNS;
        t->per_chunk = t->inner == 1 ? chunk / t->axis : chunk / t->inner;
        if (t->per_chunk == 0)
            t->per_chunk = 1;
        /* Rows of "axis" columns, or runs of "inner" elements. */
        t->nchunks = trial_div_up(t->n / (t->inner == 1 ? t->axis : t->inner), t->per_chunk);
        return;
    default:
        t->axis = l->group_len;
        t->inner = l->group_inner;
        t->group = t->config->group_size;
        t->nblocks = trial_div_up(t->axis, t->group);
        t->nseg = t->n / t->axis * t->nblocks;
        if (t->inner == 1) {
            t->plan = PLAN_GROUP_RUNS;
            t->per_chunk = chunk / t->group ? chunk / t->group : 1;
            t->nchunks = trial_div_up(t->nseg, t->per_chunk);
        } else {
            t->plan = PLAN_GROUP_COLS;
            t->per_chunk = (chunk / t->group + 15) / 16 * 16;
            if (t->per_chunk == 0)
                t->per_chunk = 16;
            if (t->per_chunk > t->inner)
                t->per_chunk = t->inner;
            t->tiles = trial_div_up(t->inner, t->per_chunk);
            t->nchunks = t->n / (t->axis * t->inner) * t->nblocks * t->tiles;
        }
        return;
    }
}

/* Geometry of one group-cols chunk: first element, rows, width, first segment. */
struct trial_tile {
    uint64_t base, rows, width, seg;
};

static struct trial_tile
trial_tile(const struct trial *t, uint64_t c)
{
    uint64_t tile = c % t->tiles, block = c / t->tiles;
    uint64_t outer = block / t->nblocks, b = block % t->nblocks;
    struct trial_tile tt;

    tt.rows = t->axis - b * t->group < t->group ? t->axis - b * t->group : t->group;
    tt.width = t->inner - tile * t->per_chunk < t->per_chunk ? t->inner - tile * t->per_chunk
                                                             : t->per_chunk;
    tt.base = (outer * t->axis + b * t->group) * t->inner + tile * t->per_chunk;
    tt.seg = block * t->inner + tile * t->per_chunk;
    return tt;
}

/* First element and length of group "g" of a group-runs plan. */
static void
trial_group_run(const struct trial *t, uint64_t g, uint64_t *start, uint64_t *len)
{
    uint64_t outer = g / t->nblocks, b = g % t->nblocks;

    *start = outer * t->axis + b * t->group;
    *len = t->axis - b * t->group < t->group ? t->axis - b * t->group : t->group;
}

/* ---- Range passes ---- */

/* Min/max ranges of one chunk of a tensor or channel plan, into the worker's arrays. */
static void
trial_range_merged(struct trial *t, uint64_t c, int worker)
{
    float *lo = t->worker_lo + (size_t)worker * t->nseg;
    float *hi = t->worker_hi + (size_t)worker * t->nseg;
    uint64_t first = c * t->per_chunk, count;

    switch (t->plan) {
    case PLAN_TENSOR:
        count = t->n - first < t->per_chunk ? t->n - first : t->per_chunk;
        t->ops->range_run(t->x + first, count, t->spec.asym, lo, hi);
        break;
    case PLAN_CHANNEL_COLS:
        count = t->n / t->axis - first;
        if (count > t->per_chunk)
            count = t->per_chunk;
        t->ops->range_cols(t->x + first * t->axis, count, t->axis, t->axis, t->spec.asym, lo, hi);
        break;
    default:
        count = t->n / t->inner - first;
        if (count > t->per_chunk)
            count = t->per_chunk;
        for (uint64_t r = first; r < first + count; r++) {
            uint64_t s = r % t->axis;

            t->ops->range_run(t->x + r * t->inner, t->inner, t->spec.asym, &lo[s], &hi[s]);
        }
        break;
    }
}

/* Min/max ranges of the segments of one chunk of a group plan. */
static void
trial_range_groups(struct trial *t, uint64_t c, int worker)
{
    (void)worker;
    if (t->plan == PLAN_GROUP_COLS) {
        struct trial_tile tt = trial_tile(t, c);

        t->ops->range_cols(t->x + tt.base, tt.rows, tt.width, t->inner, t->spec.asym,
                           t->p.lo + tt.seg, t->p.hi + tt.seg);
        return;
    }
    for (uint64_t g = c * t->per_chunk; g < (c + 1) * t->per_chunk && g < t->nseg; g++) {
        uint64_t start, len;

        trial_group_run(t, g, &start, &len);
        t->ops->range_run(t->x + start, len, t->spec.asym, &t->p.lo[g], &t->p.hi[g]);
    }
}

/* Segments per range-search task. */
#define TRIAL_SEARCH_SEGS 16

static void
trial_search_task(struct trial *t, uint64_t task, int worker)
{
    (void)worker;
    uint64_t end = (task + 1) * TRIAL_SEARCH_SEGS < t->nseg ? (task + 1) * TRIAL_SEARCH_SEGS
                                                             : t->nseg;

    for (uint64_t s = task * TRIAL_SEARCH_SEGS; s < end; s++)
        quant_search_range(&t->spec, t->config, t->gathered + t->seg_start[s],
                           t->seg_start[s + 1] - t->seg_start[s], &t->p.lo[s], &t->p.hi[s]);
}

/*
 * Visit every finite element in memory order with its segment: count
 * them per segment (fill NULL), or append them to their segment's slice
 * of t->gathered.  The weight is walked as [outer, axis, inner]: per
 * channel a row of "inner" shares one segment, per group consecutive
 * elements of a row belong to consecutive segments.
 */
static void
trial_gather(struct trial *t, uint64_t *fill)
{
    int channel = t->plan == PLAN_CHANNEL_COLS || t->plan == PLAN_CHANNEL_RUNS;
    uint64_t axis = t->plan == PLAN_TENSOR ? 1 : t->axis;
    uint64_t inner = t->plan == PLAN_TENSOR ? t->n : t->inner;
    const float *x = t->x;

    for (uint64_t outer = 0; outer < t->n / (axis * inner); outer++) {
        for (uint64_t a = 0; a < axis; a++, x += inner) {
            uint64_t block = t->group ? a / t->group : 0;
            uint64_t seg = channel ? a : (outer * t->nblocks + block) * inner;

            for (uint64_t i = 0; i < inner; i++) {
                uint64_t s = channel || t->plan == PLAN_TENSOR ? seg : seg + i;

                if (!isfinite(x[i]))
                    continue;
                if (fill)
                    t->gathered[fill[s]++] = x[i];
                else
                    t->seg_start[s + 1]++;
            }
        }
    }
}

/* Gather each segment's finite values in memory order, then search its range. */
static void
trial_range_search(struct trial *t)
{
    uint64_t *fill;

    t->seg_start = qs_calloc(t->nseg + 1, sizeof(*t->seg_start));
    trial_gather(t, NULL);
    for (uint64_t s = 0; s < t->nseg; s++)
        t->seg_start[s + 1] += t->seg_start[s];
    t->gathered = qs_malloc(t->seg_start[t->nseg] * sizeof(float) + 1);
    fill = qs_malloc(t->nseg * sizeof(*fill) + 1);
    memcpy(fill, t->seg_start, t->nseg * sizeof(*fill));
    trial_gather(t, fill);
    free(fill);

    trial_run_tasks(t, trial_div_up(t->nseg, TRIAL_SEARCH_SEGS), trial_search_task);
    free(t->gathered);
    free(t->seg_start);
    t->gathered = NULL;
    t->seg_start = NULL;
}

/* Min/max ranges of a tensor or channel plan: per-worker partial ranges, merged. */
static void
trial_range_minmax(struct trial *t)
{
    /* trial_run_tasks starts at most one worker per chunk. */
    uint64_t workers = (uint64_t)t->workers < t->nchunks ? (uint64_t)t->workers : t->nchunks;
    size_t cells = (size_t)workers * t->nseg;

    t->worker_lo = qs_calloc(cells, sizeof(float));
    t->worker_hi = qs_calloc(cells, sizeof(float));
    trial_run_tasks(t, t->nchunks, trial_range_merged);
    for (uint64_t w = 0; w < workers; w++) {
        for (uint64_t s = 0; s < t->nseg; s++) {
            t->p.lo[s] = fminf(t->p.lo[s], t->worker_lo[(size_t)w * t->nseg + s]);
            t->p.hi[s] = fmaxf(t->p.hi[s], t->worker_hi[(size_t)w * t->nseg + s]);
        }
    }
    free(t->worker_lo);
    free(t->worker_hi);
    t->worker_lo = t->worker_hi = NULL;
}

/* nf4 dq: replace the block scales by their double-quantized values. */
static void
trial_double_quantize(struct trial *t)
{
    float *absmax = qs_malloc(t->nseg * sizeof(float) + 1);
    float *dq = qs_malloc(t->nseg * sizeof(float) + 1);

    /* A flagged block quantizes to 0 whatever its scale; it enters the
     * statistics as absmax 0. */
    for (uint64_t s = 0; s < t->nseg; s++)
        absmax[s] = t->p.inv[s] == 0.0f ? 0.0f : t->p.scale[s];
    quant_double_quantize(absmax, t->nseg, dq);
    for (uint64_t s = 0; s < t->nseg; s++)
        if (t->p.inv[s] != 0.0f)
            t->p.scale[s] = dq[s];
    free(absmax);
    free(dq);
}

/* Ranges and parameters of every segment before pass 2, unless fused. */
static void
trial_prepare(struct trial *t, uint64_t *flagged)
{
    if (t->nseg == 0)
        return;
    t->fused = 0;
    if (t->config->range != QS_QUANT_RANGE_MINMAX) {
        trial_range_search(t);
    } else if (t->plan == PLAN_GROUP_COLS || t->plan == PLAN_GROUP_RUNS) {
        if (!t->config->double_quant) {
            t->fused = 1;
            return;
        }
        trial_run_tasks(t, t->nchunks, trial_range_groups);
    } else {
        trial_range_minmax(t);
    }
    t->ops->params(&t->spec, t->nseg, t->p.lo, t->p.hi, t->p.scale, t->p.inv, t->p.zero, flagged);
    if (t->config->double_quant)
        trial_double_quantize(t);
}

/* ---- Pass 2 ---- */

static float *
trial_deq(const struct trial *t, uint64_t at)
{
    return t->out.dequant ? t->out.dequant + at : NULL;
}

static int32_t *
trial_codes(const struct trial *t, uint64_t at)
{
    return t->out.codes ? t->out.codes + at : NULL;
}

/* Ranges, parameters and codes of one tile when the kernels have no fused form. */
static void
trial_compose_cols(struct trial *t, const struct trial_tile *tt, uint64_t *flagged,
                   struct quant_sums *sums)
{
    float *lo = t->p.lo + tt->seg, *hi = t->p.hi + tt->seg;

    memset(lo, 0, tt->width * sizeof(float));
    memset(hi, 0, tt->width * sizeof(float));
    t->ops->range_cols(t->x + tt->base, tt->rows, tt->width, t->inner, t->spec.asym, lo, hi);
    t->ops->params(&t->spec, tt->width, lo, hi, t->p.scale + tt->seg, t->p.inv + tt->seg,
                   t->p.zero + tt->seg, flagged);
    t->ops->quant_cols(&t->spec, t->x + tt->base, tt->rows, tt->width, t->inner,
                       t->p.scale + tt->seg, t->p.inv + tt->seg, t->p.zero + tt->seg,
                       trial_deq(t, tt->base), trial_codes(t, tt->base), sums);
}

static void
trial_chunk_group_cols(struct trial *t, uint64_t c, struct quant_sums *sums)
{
    struct trial_tile tt = trial_tile(t, c);
    uint64_t s = tt.seg;

    if (t->fused && t->ops->fused_cols) {
        t->ops->fused_cols(&t->spec, t->x + tt.base, tt.rows, tt.width, t->inner,
                           t->p.scale + s, t->p.inv + s, t->p.zero + s,
                           &t->flagged_partial[c], trial_deq(t, tt.base),
                           trial_codes(t, tt.base), sums);
    } else if (t->fused) {
        trial_compose_cols(t, &tt, &t->flagged_partial[c], sums);
    } else {
        t->ops->quant_cols(&t->spec, t->x + tt.base, tt.rows, tt.width, t->inner,
                           t->p.scale + s, t->p.inv + s, t->p.zero + s,
                           trial_deq(t, tt.base), trial_codes(t, tt.base), sums);
    }
}

static void
trial_chunk_group_runs(struct trial *t, uint64_t c, struct quant_sums *sums)
{
    for (uint64_t g = c * t->per_chunk; g < (c + 1) * t->per_chunk && g < t->nseg; g++) {
        uint64_t start, len;

        trial_group_run(t, g, &start, &len);
        if (t->fused) {
            t->p.lo[g] = t->p.hi[g] = 0.0f;
            t->ops->range_run(t->x + start, len, t->spec.asym, &t->p.lo[g], &t->p.hi[g]);
            t->ops->params(&t->spec, 1, &t->p.lo[g], &t->p.hi[g], &t->p.scale[g], &t->p.inv[g],
                           &t->p.zero[g], &t->flagged_partial[c]);
        }
        t->ops->quant_run(&t->spec, t->x + start, len, t->p.scale[g], t->p.inv[g], t->p.zero[g],
                          trial_deq(t, start), trial_codes(t, start), sums);
    }
}

static void
trial_chunk(struct trial *t, uint64_t c, int worker)
{
    struct quant_sums *sums = &t->partial[c];
    uint64_t first = c * t->per_chunk, count;

    (void)worker;
    switch (t->plan) {
    case PLAN_CAST:
    case PLAN_TENSOR:
        count = t->n - first < t->per_chunk ? t->n - first : t->per_chunk;
        if (t->plan == PLAN_CAST)
            t->ops->cast_run(&t->spec, t->x + first, count, trial_deq(t, first),
                             trial_codes(t, first), sums);
        else
            t->ops->quant_run(&t->spec, t->x + first, count, t->p.scale[0], t->p.inv[0],
                              t->p.zero[0], trial_deq(t, first), trial_codes(t, first), sums);
        break;
    case PLAN_CHANNEL_COLS:
        count = t->n / t->axis - first < t->per_chunk ? t->n / t->axis - first : t->per_chunk;
        t->ops->quant_cols(&t->spec, t->x + first * t->axis, count, t->axis, t->axis,
                           t->p.scale, t->p.inv, t->p.zero, trial_deq(t, first * t->axis),
                           trial_codes(t, first * t->axis), sums);
        break;
    case PLAN_CHANNEL_RUNS:
        count = t->n / t->inner - first < t->per_chunk ? t->n / t->inner - first : t->per_chunk;
        for (uint64_t r = first; r < first + count; r++) {
            uint64_t s = r % t->axis, at = r * t->inner;

            t->ops->quant_run(&t->spec, t->x + at, t->inner, t->p.scale[s], t->p.inv[s],
                              t->p.zero[s], trial_deq(t, at), trial_codes(t, at), sums);
        }
        break;
    case PLAN_GROUP_COLS:
        trial_chunk_group_cols(t, c, sums);
        break;
    case PLAN_GROUP_RUNS:
        trial_chunk_group_runs(t, c, sums);
        break;
    }
}

/* ---- The trial ---- */

/* Check that the layout is consistent with its count for the granularity. */
static enum qs_status
trial_check_layout(const struct qs_quant_config *config, const struct qs_quant_layout *l,
                   char *message, size_t size)
{
    uint64_t span = 0, axis = 0, inner = 0;

    if (l->count == 0)
        return QS_OK;
    if (config->granularity == QS_QUANT_GRAN_CHANNEL) {
        axis = l->channels;
        inner = l->channel_inner;
    } else if (config->granularity == QS_QUANT_GRAN_GROUP
               || config->granularity == QS_QUANT_GRAN_BLOCK) {
        axis = l->group_len;
        inner = l->group_inner;
    } else {
        return QS_OK;
    }
    if (axis == 0 || inner == 0 || qs_mul_overflow_u64(axis, inner, &span) || l->count % span) {
        snprintf(message, size, "inconsistent layout: %llu elements cannot be viewed as "
                 "[outer, %llu, %llu]", (unsigned long long)l->count,
                 (unsigned long long)axis, (unsigned long long)inner);
        return QS_INVALID;
    }
    return QS_OK;
}

static void
trial_free(struct trial *t)
{
    free(t->p.scale);
    free(t->p.inv);
    free(t->p.zero);
    free(t->p.lo);
    free(t->p.hi);
    free(t->partial);
    free(t->flagged_partial);
    memset(&t->p, 0, sizeof(t->p));
    t->partial = NULL;
    t->flagged_partial = NULL;
}

/* One complete run with kernel family "ops"; the total sums go to "sums". */
static void
trial_execute(struct trial *t, const struct quant_ops *ops, struct quant_sums *sums,
              uint64_t *flagged)
{
    size_t segs = t->nseg ? (size_t)t->nseg : 1;

    t->ops = ops;
    *flagged = 0;
    memset(sums, 0, sizeof(*sums));
    t->p.scale = qs_calloc(segs, sizeof(float));
    t->p.inv = qs_calloc(segs, sizeof(float));
    t->p.zero = qs_calloc(segs, sizeof(float));
    t->p.lo = qs_calloc(segs, sizeof(float));
    t->p.hi = qs_calloc(segs, sizeof(float));
    t->partial = qs_calloc(t->nchunks ? t->nchunks : 1, sizeof(*t->partial));
    t->flagged_partial = qs_calloc(t->nchunks ? t->nchunks : 1, sizeof(uint64_t));

    trial_prepare(t, flagged);
    trial_run_tasks(t, t->nchunks, trial_chunk);
    for (uint64_t c = 0; c < t->nchunks; c++) {
        quant_sums_add(sums, &t->partial[c]);
        *flagged += t->flagged_partial[c];
    }
}

/*
 * Whether the vector kernels' sums can be trusted.  They are not finite
 * when an input is NaN or infinite, which only the reference kernels
 * skip.  Every product they add is exact in double, so nothing else
 * overflows or underflows.
 */
static int
trial_sums_trusted(const struct quant_sums *s)
{
    return isfinite(s->sse) && isfinite(s->energy) && isfinite(s->dot)
        && isfinite(s->deq_energy) && isfinite(s->max_err);
}

static void
trial_store_params(const struct trial *t)
{
    for (uint64_t s = 0; s < t->nseg; s++) {
        if (t->out.scales)
            t->out.scales[s] = t->p.scale[s];
        if (t->out.zero_points)
            t->out.zero_points[s] = t->spec.asym ? (int32_t)t->p.zero[s] : 0;
    }
}

static enum qs_status
trial_fail(const struct qs_quant_request *req, struct qs_diag *diag, enum qs_status status,
           const char *message)
{
    if (req->layer)
        return qs_diag_add(diag, status, req->file ? req->file : "-", "%s (layer %s)",
                           message, req->layer);
    return qs_diag_add(diag, status, req->file ? req->file : "-", "%s", message);
}

static void
trial_fill_result(struct qs_quant_result *result, const struct quant_sums *sums,
                  uint64_t flagged, uint64_t count)
{
    result->flagged = flagged;
    result->nonfinite = sums->nonfinite;
    result->metrics.count = count - sums->nonfinite;
    result->metrics.sum_sq_err = sums->sse;
    result->metrics.signal_energy = sums->energy;
    result->metrics.dot = sums->dot;
    result->metrics.deq_energy = sums->deq_energy;
    result->metrics.max_abs_err = sums->max_err;
    qs_quant_metrics_finish(&result->metrics);
}

static enum qs_status
trial_main(const struct qs_quant_request *req, struct qs_quant_result *result,
           struct qs_diag *diag, int reference)
{
    struct trial t;
    struct quant_sums sums;
    uint64_t flagged;
    char message[256] = "";
    enum qs_status status;
    const struct quant_ops *ops = reference ? &quant_ops_ref : quant_ops_select();

    memset(result, 0, sizeof(*result));
    qs_quant_metrics_init(&result->metrics);
    if (!req->config || !req->layout || (!req->weights && req->layout->count > 0))
        return trial_fail(req, diag, QS_USAGE, "trial request without configuration, "
                          "layout or weights");
    status = qs_quant_sizes_compute(req->config, req->layout, &result->sizes, message,
                                    sizeof(message));
    if (status == QS_OK)
        status = trial_check_layout(req->config, req->layout, message, sizeof(message));
    if (status != QS_OK)
        return trial_fail(req, diag, status, message);

    memset(&t, 0, sizeof(t));
    t.config = req->config;
    t.layout = req->layout;
    t.x = req->weights;
    t.out = req->output;
    t.n = req->layout->count;
    t.workers = req->threads > 0 ? req->threads : 1;
    quant_spec_init(&t.spec, req->config);
    result->isa = reference ? "ref" : qs_quant_isa();
    if (t.n == 0)
        return QS_OK;
    trial_plan(&t);

    trial_execute(&t, ops, &sums, &flagged);
    if (!trial_sums_trusted(&sums) && ops != &quant_ops_ref) {
        /* Redo with the reference kernels, which skip non-finite inputs
         * and sum in double. */
        trial_free(&t);
        trial_execute(&t, &quant_ops_ref, &sums, &flagged);
        result->isa = "ref";
    }
    trial_store_params(&t);
    trial_free(&t);
    trial_fill_result(result, &sums, flagged, t.n);
    return QS_OK;
}

enum qs_status
qs_quant_trial(const struct qs_quant_request *request, struct qs_quant_result *result,
               struct qs_diag *diag)
{
    return trial_main(request, result, diag, 0);
}

enum qs_status
qs_quant_trial_ref(const struct qs_quant_request *request, struct qs_quant_result *result,
                   struct qs_diag *diag)
{
    return trial_main(request, result, diag, 1);
}
