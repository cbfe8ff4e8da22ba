/*
 * Weight statistics: a block-wise moment reduction, per-channel ranges,
 * and the second pass for outliers and histograms.
 *
 * Pass 1 splits the flat index range into blocks of BLOCK_SIZE elements
 * aligned on multiples of BLOCK_SIZE.  Each block's moments are computed
 * with a two-pass mean and central sums, and blocks are merged in index
 * order with the exact pairwise update of the central sums (moments_merge).
 * A block cut by a chunk boundary waits in a carry buffer until it is
 * complete, so chunk sizes do not change the result.  Per-channel sums run
 * in flat index order, and each channel belongs to exactly one worker, so
 * the thread count does not change them either.
 */
#include "config.h"
#include "stats.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE 4096          /* elements per reduction block */
#define REGION_BLOCKS 1024       /* blocks handed to the workers at once */
#define PARALLEL_MIN_BLOCKS 16   /* smaller regions run on the calling thread */

/* Count, mean and central sums m2, m3, m4 (m_k = sum (x - mean)^k) of a set of values. */
struct moments {
    double n;
    double mean;
    double m2;
    double m3;
    double m4;
};

/* Everything pass 1 keeps about one block, or about all blocks so far. */
struct block_part {
    struct moments moments;
    float min;
    float max;
    uint64_t zeros;
    uint64_t subnormals;
    uint64_t nan_count;
    uint64_t inf_count;
    uint64_t nan_first[QS_STATS_FIRST_MAX];
    uint64_t inf_first[QS_STATS_FIRST_MAX];
};

struct qs_stats_state {
    uint64_t total;                  /* elements in the layout */
    uint64_t next;                   /* flat index the next chunk must start at */
    int ended;
    struct block_part sum;           /* every complete block merged so far */
    float carry[BLOCK_SIZE];         /* the current block, while incomplete */
    size_t carry_len;
    uint64_t carry_start;
    struct block_part parts[REGION_BLOCKS];

    int pass2_started;
    uint64_t pass2_count;
    double outlier_limit;            /* k * std; +inf when std is 0 or NaN, so nothing qualifies */
    int workers;                     /* pass-2 workers, each with its own counters */
    struct qs_hist *worker_hists;    /* 2 per worker: value, then |x| */
    uint64_t *worker_outliers;
};

typedef void worker_fn(void *task, int worker, int workers);

/* ---- workers ------------------------------------------------------------ */

struct worker_start {
    worker_fn *fn;
    void *task;
    int worker;
    int workers;
};

static void *
worker_main(void *arg)
{
    struct worker_start *start = arg;

    start->fn(start->task, start->worker, start->workers);
    return NULL;
}

/* Run fn(task, w, workers) for every w; a worker whose thread cannot be
 * started runs on the calling thread, which gives the same result.
 * NOTE: threads are started per region of up to 4M values; a shared pool
 * would save that start-up cost, estimated at tens of microseconds. */
static void
run_workers(int workers, worker_fn *fn, void *task)
{
    pthread_t threads[QS_STATS_MAX_THREADS];
    struct worker_start starts[QS_STATS_MAX_THREADS];
    int started[QS_STATS_MAX_THREADS];

    for (int w = 1; w < workers; w++) {
        starts[w] = (struct worker_start){ fn, task, w, workers };
        started[w] = pthread_create(&threads[w], NULL, worker_main, &starts[w]) == 0;
    }

    fn(task, 0, workers);

    for (int w = 1; w < workers; w++) {
        if (started[w])
            pthread_join(threads[w], NULL);
        else
            fn(task, w, workers);
    }
}

/* First element of part "w" of "total" items split into "workers" parts. */
static uint64_t
split_point(uint64_t total, int w, int workers)
{
    uint64_t size = total / (uint64_t)workers;
    uint64_t extra = total % (uint64_t)workers;

    return size * (uint64_t)w + ((uint64_t)w < extra ? (uint64_t)w : extra);
}

/* ---- moments and blocks ------------------------------------------------- */

/*
 * Combine two sets, "from" after "into".  With d = mean_b - mean_a and
 * n = na + nb, the exact identities are
 *   m2 = m2a + m2b + d^2 na nb / n
 *   m3 = m3a + m3b + d^3 na nb (na - nb) / n^2 + 3 d (na m2b - nb m2a) / n
 *   m4 = m4a + m4b + d^4 na nb (na^2 - na nb + nb^2) / n^3
 *        + 6 d^2 (na^2 m2b + nb^2 m2a) / n^2 + 4 d (na m3b - nb m3a) / n
 */
static void
moments_merge(struct moments *into, const struct moments *from)
{
    double na = into->n;
    double nb = from->n;
    double n = na + nb;
    double delta, delta_n, delta_n2, term;

    if (nb == 0)
        return;
    if (na == 0) {
        *into = *from;
        return;
    }

    delta = from->mean - into->mean;
    delta_n = delta / n;
    delta_n2 = delta_n * delta_n;
    term = delta * delta_n * na * nb;

    into->m4 += from->m4 + term * delta_n2 * (na * na - na * nb + nb * nb)
                + 6.0 * delta_n2 * (na * na * from->m2 + nb * nb * into->m2)
                + 4.0 * delta_n * (na * from->m3 - nb * into->m3);
    into->m3 += from->m3 + term * delta_n * (na - nb)
                + 3.0 * delta_n * (na * from->m2 - nb * into->m2);
    into->m2 += from->m2 + term;
    into->mean += delta_n * nb;
    into->n = n;
}

static void
part_init(struct block_part *part)
{
    memset(part, 0, sizeof *part);
    part->min = INFINITY;
    part->max = -INFINITY;
}

static void
note_index(uint64_t *first, uint64_t *count, uint64_t index)
{
    if (*count < QS_STATS_FIRST_MAX)
        first[*count] = index;
    (*count)++;
}

/* Census, min, max and sum of one block; returns the sum. */
static double
block_census(const float *x, size_t n, uint64_t start, struct block_part *part)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        float v = x[i];

        if (isnan(v)) {
            note_index(part->nan_first, &part->nan_count, start + i);
            continue;
        }
        if (isinf(v)) {
            note_index(part->inf_first, &part->inf_count, start + i);
            continue;
        }
        part->moments.n++;
        sum += v;
        part->min = v < part->min ? v : part->min;
        part->max = v > part->max ? v : part->max;
        if (v == 0)
            part->zeros++;
        else if (fabsf(v) < FLT_MIN)
            part->subnormals++;
    }
    return sum;
}

static void
block_scan(const float *x, size_t n, uint64_t start, struct block_part *part)
{
    double sum, mean, m2 = 0, m3 = 0, m4 = 0;

    part_init(part);
    sum = block_census(x, n, start, part);
    if (part->moments.n == 0)
        return;

    mean = sum / part->moments.n;
    for (size_t i = 0; i < n; i++) {
        double d, d2;

        if (!isfinite(x[i]))
            continue;
        d = (double)x[i] - mean;
        d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    part->moments.mean = mean;
    part->moments.m2 = m2;
    part->moments.m3 = m3;
    part->moments.m4 = m4;
}

static void
merge_first(uint64_t *first, uint64_t *count, const uint64_t *from_first, uint64_t from_count)
{
    for (uint64_t i = 0; i < from_count && *count + i < QS_STATS_FIRST_MAX; i++)
        first[*count + i] = from_first[i];
    *count += from_count;
}

/* Merge "from", which follows everything in "into" in index order. */
static void
part_merge(struct block_part *into, const struct block_part *from)
{
    moments_merge(&into->moments, &from->moments);
    into->min = from->min < into->min ? from->min : into->min;
    into->max = from->max > into->max ? from->max : into->max;
    into->zeros += from->zeros;
    into->subnormals += from->subnormals;
    merge_first(into->nan_first, &into->nan_count, from->nan_first, from->nan_count);
    merge_first(into->inf_first, &into->inf_count, from->inf_first, from->inf_count);
}

/* ---- channels ----------------------------------------------------------- */

/* Accumulate one run of values of channel "c".  channel_mean contains the
 * sum until qs_stats_end divides it. */
static void
channel_run(struct qs_stats *stats, uint64_t c, const float *x, uint64_t n)
{
    double sum = stats->channel_mean[c];
    double min = stats->channel_min[c];
    double max = stats->channel_max[c];
    uint64_t finite = 0;

    for (uint64_t i = 0; i < n; i++) {
        float v = x[i];

        if (!isfinite(v))
            continue;
        finite++;
        sum += v;
        min = v < min ? v : min;
        max = v > max ? v : max;
    }
    stats->channel_mean[c] = sum;
    stats->channel_min[c] = min;
    stats->channel_max[c] = max;
    stats->channel_finite[c] += finite;
}

/* Accumulate "n" values of consecutive channels from "c", one value each. */
static void
channels_each(struct qs_stats *stats, uint64_t c, const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        float v = x[i];

        if (!isfinite(v))
            continue;
        stats->channel_mean[c + i] += v;
        stats->channel_min[c + i] = v < stats->channel_min[c + i] ? v : stats->channel_min[c + i];
        stats->channel_max[c + i] = v > stats->channel_max[c + i] ? v : stats->channel_max[c + i];
        stats->channel_finite[c + i]++;
    }
}

/*
 * Accumulate the values of channels [c0, c1) among the "n" values at flat
 * index "start".  Within a slab [o, :, :] those channels are one
 * contiguous range, walked run by run.
 */
static void
channels_update(struct qs_stats *stats, const float *data, uint64_t n, uint64_t start,
                uint64_t c0, uint64_t c1)
{
    uint64_t inner = stats->layout.inner;
    uint64_t slab = stats->layout.channels * inner;
    uint64_t end = start + n;

    if (n == 0 || c0 >= c1 || stats->layout.channels == 1)
        return;

    for (uint64_t o = start / slab; o <= (end - 1) / slab; o++) {
        uint64_t lo = o * slab + c0 * inner;
        uint64_t hi = o * slab + c1 * inner;

        lo = lo > start ? lo : start;
        hi = hi < end ? hi : end;
        if (inner == 1 && lo < hi) {
            channels_each(stats, lo - o * slab, data + (lo - start), hi - lo);
            continue;
        }
        while (lo < hi) {
            uint64_t run_end = (lo / inner + 1) * inner;

            run_end = run_end < hi ? run_end : hi;
            channel_run(stats, (lo / inner) % stats->layout.channels, data + (lo - start),
                        run_end - lo);
            lo = run_end;
        }
    }
}

/* ---- pass 1 ------------------------------------------------------------- */

struct region_task {
    struct qs_stats *stats;
    const float *data;
    size_t blocks;
    uint64_t start;
};

static void
region_worker(void *arg, int worker, int workers)
{
    struct region_task *task = arg;
    struct qs_stats_state *state = task->stats->state;
    uint64_t b0 = split_point(task->blocks, worker, workers);
    uint64_t b1 = split_point(task->blocks, worker + 1, workers);
    uint64_t channels = task->stats->layout.channels;

    for (uint64_t b = b0; b < b1; b++)
        block_scan(task->data + b * BLOCK_SIZE, BLOCK_SIZE, task->start + b * BLOCK_SIZE,
                   &state->parts[b]);
    channels_update(task->stats, task->data, (uint64_t)task->blocks * BLOCK_SIZE, task->start,
                    split_point(channels, worker, workers),
                    split_point(channels, worker + 1, workers));
}

/* Scan whole blocks starting at a block boundary, then merge them in order. */
static void
region_scan(struct qs_stats *stats, const float *data, size_t blocks, uint64_t start)
{
    struct region_task task = { stats, data, blocks, start };
    struct qs_stats_state *state = stats->state;
    int workers = stats->options.threads;

    if (blocks < PARALLEL_MIN_BLOCKS)
        workers = 1;
    run_workers(workers, region_worker, &task);

    for (size_t b = 0; b < blocks; b++)
        part_merge(&state->sum, &state->parts[b]);
}

static void
carry_flush(struct qs_stats *stats)
{
    struct qs_stats_state *state = stats->state;
    struct block_part part;

    block_scan(state->carry, state->carry_len, state->carry_start, &part);
    part_merge(&state->sum, &part);
    state->carry_len = 0;
}

/* Copy up to a block's worth into the carry buffer; returns values used. */
static size_t
carry_append(struct qs_stats *stats, const float *data, size_t count, uint64_t start)
{
    struct qs_stats_state *state = stats->state;
    size_t take = BLOCK_SIZE - state->carry_len;

    take = take < count ? take : count;
    if (state->carry_len == 0)
        state->carry_start = start;
    memcpy(state->carry + state->carry_len, data, take * sizeof *data);
    state->carry_len += take;
    channels_update(stats, data, take, start, 0, stats->layout.channels);
    if (state->carry_len == BLOCK_SIZE)
        carry_flush(stats);
    return take;
}

void
qs_stats_options_init(struct qs_stats_options *options)
{
    options->outlier_k = QS_STATS_DEFAULT_OUTLIER_K;
    options->bins = QS_STATS_DEFAULT_BINS;
    options->threads = 1;
}

static void
options_normalize(struct qs_stats_options *options)
{
    if (!(options->outlier_k > 0) || !isfinite(options->outlier_k))
        options->outlier_k = QS_STATS_DEFAULT_OUTLIER_K;
    if (options->threads < 1)
        options->threads = 1;
    if (options->threads > QS_STATS_MAX_THREADS)
        options->threads = QS_STATS_MAX_THREADS;
}

static void
channels_alloc(struct qs_stats *stats)
{
    size_t channels = (size_t)stats->layout.channels;

    stats->channel_min = qs_reallocarray(NULL, channels, sizeof(double));
    stats->channel_max = qs_reallocarray(NULL, channels, sizeof(double));
    stats->channel_absmax = qs_reallocarray(NULL, channels, sizeof(double));
    stats->channel_mean = qs_calloc(channels, sizeof(double));
    stats->channel_finite = qs_calloc(channels, sizeof(uint64_t));
    stats->channel_flags = qs_calloc(channels, 1);
    for (size_t c = 0; c < channels; c++) {
        stats->channel_min[c] = INFINITY;
        stats->channel_max[c] = -INFINITY;
    }
}

enum qs_status
qs_stats_begin(struct qs_stats *stats, const struct qs_stats_layout *layout,
               const struct qs_stats_options *options)
{
    uint64_t slab, total;

    memset(stats, 0, sizeof *stats);
    if (qs_mul_overflow_u64(layout->channels, layout->inner, &slab)
        || qs_mul_overflow_u64(layout->outer, slab, &total)
        || layout->channels > SIZE_MAX / sizeof(double))
        return QS_INVALID;

    stats->layout = *layout;
    if (options != NULL)
        stats->options = *options;
    else
        qs_stats_options_init(&stats->options);
    options_normalize(&stats->options);

    stats->state = qs_calloc(1, sizeof *stats->state);
    stats->state->total = total;
    part_init(&stats->state->sum);
    channels_alloc(stats);
    return QS_OK;
}

enum qs_status
qs_stats_add(struct qs_stats *stats, const float *data, size_t count, uint64_t start)
{
    struct qs_stats_state *state = stats->state;
    size_t pos = 0;

    if (state == NULL || state->ended || start != state->next
        || count > state->total - state->next)
        return QS_INVALID;
    if (count == 0)
        return QS_OK;

    if (state->carry_len > 0)
        pos = carry_append(stats, data, count, start);
    while (count - pos >= BLOCK_SIZE) {
        size_t blocks = (count - pos) / BLOCK_SIZE;

        blocks = blocks < REGION_BLOCKS ? blocks : REGION_BLOCKS;
        region_scan(stats, data + pos, blocks, start + pos);
        pos += blocks * BLOCK_SIZE;
    }
    if (pos < count)
        carry_append(stats, data + pos, count - pos, start + pos);

    state->next += count;
    return QS_OK;
}

static void
finish_census(struct qs_stats *stats)
{
    const struct block_part *sum = &stats->state->sum;

    stats->count = stats->state->total;
    stats->finite = (uint64_t)sum->moments.n;
    stats->nan_count = sum->nan_count;
    stats->inf_count = sum->inf_count;
    memcpy(stats->nan_first, sum->nan_first, sizeof stats->nan_first);
    memcpy(stats->inf_first, sum->inf_first, sizeof stats->inf_first);
    stats->zeros = sum->zeros;
    stats->subnormals = sum->subnormals;
}

static void
finish_moments(struct qs_stats *stats)
{
    const struct moments *m = &stats->state->sum.moments;
    double variance, fourth;

    if (m->n == 0) {
        stats->min = stats->max = stats->absmax = NAN;
        stats->mean = stats->std = stats->kurtosis = NAN;
        return;
    }
    stats->min = stats->state->sum.min;
    stats->max = stats->state->sum.max;
    stats->absmax = fmax(fabs(stats->min), fabs(stats->max));
    stats->mean = m->mean;

    variance = m->m2 / m->n;
    fourth = m->m4 / m->n;
    stats->std = sqrt(variance);
    stats->kurtosis = variance > 0 ? fourth / (variance * variance) - 3.0 : NAN;
}

/* Flags and counts of one channel whose accumulators are final. */
static void
finish_channel(struct qs_stats *stats, size_t c)
{
    double absmax;

    if (stats->channel_finite[c] == 0) {
        stats->channel_min[c] = stats->channel_max[c] = NAN;
        stats->channel_absmax[c] = stats->channel_mean[c] = NAN;
        stats->channel_flags[c] = QS_CHANNEL_EMPTY;
        stats->empty_channels++;
        return;
    }
    absmax = fmax(fabs(stats->channel_min[c]), fabs(stats->channel_max[c]));
    stats->channel_absmax[c] = absmax;
    stats->channel_mean[c] /= (double)stats->channel_finite[c];
    if (absmax == 0) {
        stats->channel_flags[c] = QS_CHANNEL_DEAD;
        stats->dead_channels++;
    } else if (absmax < FLT_MIN) {
        stats->channel_flags[c] = QS_CHANNEL_SUBNORMAL;
        stats->subnormal_channels++;
    }
}

static void
finish_channels(struct qs_stats *stats)
{
    size_t channels = (size_t)stats->layout.channels;

    /* A single channel was not accumulated apart: it is the whole tensor. */
    if (channels == 1) {
        stats->channel_min[0] = stats->min;
        stats->channel_max[0] = stats->max;
        stats->channel_finite[0] = stats->finite;
    }
    for (size_t c = 0; c < channels; c++)
        finish_channel(stats, c);
    if (channels == 1 && stats->finite > 0)
        stats->channel_mean[0] = stats->mean;
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
finish_spread(struct qs_stats *stats)
{
    size_t channels = (size_t)stats->layout.channels;
    double *values = qs_reallocarray(NULL, channels, sizeof(double));
    size_t n = 0;
    double median, largest;

    for (size_t c = 0; c < channels; c++) {
        if (!(stats->channel_flags[c] & QS_CHANNEL_EMPTY))
            values[n++] = stats->channel_absmax[c];
    }
    if (n == 0) {
        stats->spread = NAN;
        free(values);
        return;
    }

    qsort(values, n, sizeof *values, compare_doubles);
    median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    largest = values[n - 1];
    free(values);

    if (largest == 0)
        stats->spread = NAN;
    else if (median == 0)
        stats->spread = INFINITY;
    else
        stats->spread = largest / median;
}

enum qs_status
qs_stats_end(struct qs_stats *stats)
{
    struct qs_stats_state *state = stats->state;

    if (state == NULL || state->ended || state->next != state->total)
        return QS_INVALID;

    if (state->carry_len > 0)
        carry_flush(stats);
    state->ended = 1;

    finish_census(stats);
    finish_moments(stats);
    finish_channels(stats);
    finish_spread(stats);
    return QS_OK;
}

/* ---- pass 2 ------------------------------------------------------------- */

/*
 * Precomputed multiplier for binning without a division.  "margin" is a
 * bound, in bins, on the rounding error of the position and of the edges:
 * a few ulps each, scaled by the range's magnitude over its width, times
 * 16 to spare.  A position closer than that to a bin boundary is settled
 * by qs_hist_bin.
 */
struct bin_lookup {
    double scale;
    double margin;
};

static struct bin_lookup
bin_lookup_of(const struct qs_hist *hist)
{
    double width = hist->hi - hist->lo;
    double magnitude = fmax(fabs(hist->lo), fabs(hist->hi));
    struct bin_lookup lookup = { 0, 1 };

    if (width > 0) {
        lookup.scale = (double)hist->bins / width;
        lookup.margin = 64 * DBL_EPSILON * (magnitude / width + 1) * (double)hist->bins;
    }
    return lookup;
}

static size_t
hist_bin_fast(const struct qs_hist *hist, const struct bin_lookup *lookup, double value)
{
    double position = (value - hist->lo) * lookup->scale;

    if (position > 0 && position < (double)hist->bins && value < hist->hi) {
        size_t bin = (size_t)position;
        double fraction = position - (double)bin;

        if (fraction > lookup->margin && fraction < 1 - lookup->margin)
            return bin;
    }
    return qs_hist_bin(hist, value);
}

static void
hist_count(struct qs_hist *hist, const struct bin_lookup *lookup, float v)
{
    double x;

    if (!isfinite(v)) {
        hist->skipped++;
        return;
    }
    x = hist->kind == QS_HIST_ABS ? fabs((double)v) : (double)v;
    if (x < hist->lo)
        hist->below++;
    else if (x > hist->hi)
        hist->above++;
    else {
        hist->counts[hist_bin_fast(hist, lookup, x)]++;
        hist->total++;
    }
}

static void
hist_merge(struct qs_hist *into, const struct qs_hist *from)
{
    for (size_t i = 0; i < into->bins; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    into->below += from->below;
    into->above += from->above;
    into->skipped += from->skipped;
}

struct pass2_task {
    struct qs_stats *stats;
    const float *data;
    size_t count;
};

static void
pass2_worker(void *arg, int worker, int workers)
{
    struct pass2_task *task = arg;
    struct qs_stats_state *state = task->stats->state;
    struct qs_hist *hists = &state->worker_hists[2 * worker];
    uint64_t i0 = split_point(task->count, worker, workers);
    uint64_t i1 = split_point(task->count, worker + 1, workers);
    double mean = task->stats->mean;
    struct bin_lookup lookup = bin_lookup_of(&hists[0]);
    struct bin_lookup abs_lookup = bin_lookup_of(&hists[1]);
    uint64_t outliers = 0;

    for (uint64_t i = i0; i < i1; i++) {
        float v = task->data[i];

        if (isfinite(v) && fabs((double)v - mean) > state->outlier_limit)
            outliers++;
        if (hists[0].bins > 0) {
            hist_count(&hists[0], &lookup, v);
            hist_count(&hists[1], &abs_lookup, v);
        }
    }
    state->worker_outliers[worker] += outliers;
}

enum qs_status
qs_stats_pass2_begin(struct qs_stats *stats)
{
    struct qs_stats_state *state = stats->state;
    size_t bins = stats->options.bins;
    int finite = stats->finite > 0;

    if (state == NULL || !state->ended || state->pass2_started)
        return QS_INVALID;
    state->pass2_started = 1;
    state->workers = stats->options.threads;
    state->outlier_limit = stats->std > 0 ? stats->options.outlier_k * stats->std : INFINITY;
    state->worker_outliers = qs_calloc((size_t)state->workers, sizeof(uint64_t));
    state->worker_hists = qs_calloc(2 * (size_t)state->workers, sizeof(struct qs_hist));
    if (bins == 0)
        return QS_OK;

    qs_hist_init(&stats->hist, QS_HIST_VALUE, finite ? stats->min : 0,
                 finite ? stats->max : 0, bins);
    qs_hist_init(&stats->abs_hist, QS_HIST_ABS, 0, finite ? stats->absmax : 0, bins);
    for (int w = 0; w < state->workers; w++) {
        struct qs_hist *hists = &state->worker_hists[2 * w];

        qs_hist_init(&hists[0], QS_HIST_VALUE, stats->hist.lo, stats->hist.hi, bins);
        qs_hist_init(&hists[1], QS_HIST_ABS, 0, stats->abs_hist.hi, bins);
    }
    return QS_OK;
}

enum qs_status
qs_stats_pass2_add(struct qs_stats *stats, const float *data, size_t count)
{
    struct qs_stats_state *state = stats->state;
    size_t pos = 0;

    if (state == NULL || !state->pass2_started || stats->pass2_done
        || count > state->total - state->pass2_count)
        return QS_INVALID;

    while (pos < count) {
        size_t run = count - pos;
        struct pass2_task task;
        int workers = state->workers;

        run = run < (size_t)REGION_BLOCKS * BLOCK_SIZE ? run : (size_t)REGION_BLOCKS * BLOCK_SIZE;
        task = (struct pass2_task){ stats, data + pos, run };
        if (run < (size_t)PARALLEL_MIN_BLOCKS * BLOCK_SIZE)
            workers = 1;
        run_workers(workers, pass2_worker, &task);
        pos += run;
    }
    state->pass2_count += count;
    return QS_OK;
}

enum qs_status
qs_stats_pass2_end(struct qs_stats *stats)
{
    struct qs_stats_state *state = stats->state;

    if (state == NULL || !state->pass2_started || stats->pass2_done
        || state->pass2_count != state->total)
        return QS_INVALID;

    stats->outliers = 0;
    for (int w = 0; w < state->workers; w++) {
        stats->outliers += state->worker_outliers[w];
        if (stats->hist.bins > 0) {
            hist_merge(&stats->hist, &state->worker_hists[2 * w]);
            hist_merge(&stats->abs_hist, &state->worker_hists[2 * w + 1]);
        }
    }
    stats->outlier_share = stats->finite > 0 ? (double)stats->outliers / (double)stats->finite : 0;
    stats->pass2_done = 1;
    return QS_OK;
}

enum qs_status
qs_stats_compute(struct qs_stats *stats, const float *data,
                 const struct qs_stats_layout *layout,
                 const struct qs_stats_options *options)
{
    enum qs_status status = qs_stats_begin(stats, layout, options);
    size_t count;

    if (status != QS_OK)
        return status;
    if (stats->state->total > SIZE_MAX)
        return QS_INVALID;
    count = (size_t)stats->state->total;

    status = qs_stats_add(stats, data, count, 0);
    if (status == QS_OK)
        status = qs_stats_end(stats);
    if (status == QS_OK)
        status = qs_stats_pass2_begin(stats);
    if (status == QS_OK)
        status = qs_stats_pass2_add(stats, data, count);
    if (status == QS_OK)
        status = qs_stats_pass2_end(stats);
    return status;
}

static void
state_free(struct qs_stats_state *state)
{
    if (state == NULL)
        return;
    if (state->worker_hists != NULL) {
        for (int w = 0; w < 2 * state->workers; w++)
            qs_hist_done(&state->worker_hists[w]);
    }
    free(state->worker_hists);
    free(state->worker_outliers);
    free(state);
}

void
qs_stats_done(struct qs_stats *stats)
{
    free(stats->channel_min);
    free(stats->channel_max);
    free(stats->channel_absmax);
    free(stats->channel_mean);
    free(stats->channel_finite);
    free(stats->channel_flags);
    qs_hist_done(&stats->hist);
    qs_hist_done(&stats->abs_hist);
    state_free(stats->state);
    memset(stats, 0, sizeof *stats);
}

/* ---- histograms --------------------------------------------------------- */

enum qs_status
qs_hist_init(struct qs_hist *hist, enum qs_hist_kind kind, double lo, double hi, size_t bins)
{
    memset(hist, 0, sizeof *hist);
    if (bins == 0 || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return QS_INVALID;
    hist->kind = kind;
    hist->lo = lo;
    hist->hi = hi;
    hist->bins = bins;
    hist->counts = qs_calloc(bins, sizeof(uint64_t));
    return QS_OK;
}

void
qs_hist_add(struct qs_hist *hist, const float *data, size_t count)
{
    struct bin_lookup lookup = bin_lookup_of(hist);

    if (hist->bins == 0)
        return;
    for (size_t i = 0; i < count; i++)
        hist_count(hist, &lookup, data[i]);
}

double
qs_hist_edge(const struct qs_hist *hist, size_t i)
{
    if (i >= hist->bins)
        return hist->hi;
    return hist->lo + (hist->hi - hist->lo) * (double)i / (double)hist->bins;
}

size_t
qs_hist_bin(const struct qs_hist *hist, double value)
{
    double width = hist->hi - hist->lo;
    double position;
    size_t bin;

    if (value >= hist->hi || !(width > 0))
        return hist->bins - 1;

    /* The division may land one bin off next to an edge: settle on the bin
     * whose edges, as qs_hist_edge computes them, enclose the value. */
    position = (value - hist->lo) / width * (double)hist->bins;
    if (position <= 0)
        bin = 0;
    else if (position >= (double)hist->bins)
        bin = hist->bins - 1;
    else
        bin = (size_t)position;
    while (bin > 0 && value < qs_hist_edge(hist, bin))
        bin--;
    while (bin + 1 < hist->bins && value >= qs_hist_edge(hist, bin + 1))
        bin++;
    return bin;
}

uint64_t
qs_hist_max_count(const struct qs_hist *hist)
{
    uint64_t largest = 0;

    for (size_t i = 0; i < hist->bins; i++)
        largest = hist->counts[i] > largest ? hist->counts[i] : largest;
    return largest;
}

double
qs_hist_log_height(const struct qs_hist *hist, size_t i)
{
    uint64_t largest = qs_hist_max_count(hist);

    if (largest == 0 || i >= hist->bins)
        return 0;
    return log1p((double)hist->counts[i]) / log1p((double)largest);
}

void
qs_hist_done(struct qs_hist *hist)
{
    free(hist->counts);
    memset(hist, 0, sizeof *hist);
}
