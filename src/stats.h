/*
 * Weight statistics over a float32 array: moments, NaN and Inf census,
 * outliers, per-channel ranges and histograms.  Pure numerics, no model
 * knowledge.
 *
 * Layout: the caller collapses the dimensions around the channel axis into
 * [outer, channels, inner], so flat index i belongs to channel
 * (i / inner) % channels.  A tensor without a channel axis is [1, 1, n].
 *
 * Population: NaN and Inf values are counted (with the flat indices of
 * the first few) and left out of every other figure, so one bad value
 * never turns a mean or a histogram into NaN.
 *
 * Two passes, because outliers and histograms need the mean, standard
 * deviation and range first:
 *
 *   qs_stats_begin                  once
 *   qs_stats_add(chunk, start)      chunks in order, any sizes
 *   qs_stats_end                    -> every pass-1 figure
 *   qs_stats_pass2_begin            optional second scan of the same data
 *   qs_stats_pass2_add(chunk)       chunks in any order
 *   qs_stats_pass2_end              -> outliers, hist, abs_hist
 *   qs_stats_done                   frees the arrays
 *
 * qs_stats_compute does all of it for an array in memory.
 *
 * Determinism: sums use double accumulators in a fixed order.  Moments are
 * reduced over blocks of 4096 flat indices, combined in index order, and
 * per-channel sums run in index order inside each channel.  So the results
 * are bit-identical for any thread count and any chunking.
 */
#ifndef QS_STATS_H
#define QS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Flat indices kept of the first NaN and of the first Inf values. */
#define QS_STATS_FIRST_MAX 8

/* Default outlier threshold in standard deviations from the mean. */
#define QS_STATS_DEFAULT_OUTLIER_K 6.0

/* Default number of histogram bins. */
#define QS_STATS_DEFAULT_BINS 64

/* Largest worker count; larger requests are clamped to it. */
#define QS_STATS_MAX_THREADS 64

/* The data seen as [outer, channels, inner], row-major. */
struct qs_stats_layout {
    uint64_t outer;
    uint64_t channels;
    uint64_t inner;
};

struct qs_stats_options {
    double outlier_k;    /* outliers lie more than k standard deviations from the mean */
    size_t bins;         /* histogram bins in pass 2; 0 computes outliers only */
    int threads;         /* worker threads; below 1 means 1 */
};

/* Per-channel flags. */
enum qs_channel_flag {
    QS_CHANNEL_EMPTY = 1,        /* no finite value at all (every value NaN or Inf) */
    QS_CHANNEL_DEAD = 2,         /* finite values, every one of them zero */
    QS_CHANNEL_SUBNORMAL = 4     /* nonzero values, every one below FLT_MIN in magnitude */
};

enum qs_hist_kind {
    QS_HIST_VALUE,               /* bins x */
    QS_HIST_ABS                  /* bins |x| */
};

/*
 * A histogram with "bins" equal bins over [lo, hi].  Bin i covers
 * [edge(i), edge(i+1)), except that the last bin also takes hi, so a value
 * equal to the maximum lands in the last bin.  When lo == hi every value
 * equal to them lands in the last bin.
 */
struct qs_hist {
    enum qs_hist_kind kind;
    double lo;
    double hi;
    size_t bins;
    uint64_t *counts;            /* "bins" entries */
    uint64_t total;              /* values counted in a bin */
    uint64_t below;              /* finite values below lo */
    uint64_t above;              /* finite values above hi */
    uint64_t skipped;            /* NaN and Inf values, not binned */
};

struct qs_stats_state;

/*
 * All figures.  min, max, absmax, mean, std and kurtosis are NaN when
 * "finite" is 0.  Per-channel arrays have layout.channels entries.
 */
struct qs_stats {
    struct qs_stats_layout layout;
    struct qs_stats_options options;

    /* Pass 1: census */
    uint64_t count;              /* elements scanned, NaN and Inf included */
    uint64_t finite;             /* finite elements, the population of every figure below */
    uint64_t nan_count;
    uint64_t inf_count;          /* +Inf and -Inf */
    uint64_t nan_first[QS_STATS_FIRST_MAX];    /* ascending; min(nan_count, MAX) are set */
    uint64_t inf_first[QS_STATS_FIRST_MAX];    /* ascending; min(inf_count, MAX) are set */
    uint64_t zeros;              /* values equal to 0 or -0 */
    uint64_t subnormals;         /* nonzero values below FLT_MIN in magnitude */

    /* Pass 1: moments */
    double min;
    double max;
    double absmax;
    double mean;
    /* Central moments m_k = sum (x - mean)^k / n over the finite values: */
    double std;                  /* population standard deviation sqrt(m2) */
    double kurtosis;             /* excess kurtosis m4 / m2^2 - 3, 0 for a normal
                                  * distribution; NaN when m2 is 0 */

    /* Pass 1: channels */
    double *channel_min;         /* NaN for an empty channel */
    double *channel_max;
    double *channel_absmax;
    double *channel_mean;
    uint64_t *channel_finite;    /* finite values per channel */
    unsigned char *channel_flags;    /* enum qs_channel_flag bits */
    uint64_t empty_channels;
    uint64_t dead_channels;
    uint64_t subnormal_channels;
    /*
     * Largest channel absmax / median channel absmax, over the channels
     * that are not empty (dead ones included).  The median of an even
     * count is the mean of the two middle values.  +Inf when the median is
     * 0 but some channel is not; NaN when every channel is dead or empty.
     */
    double spread;

    /* Pass 2 */
    int pass2_done;
    uint64_t outliers;           /* |x - mean| > outlier_k * std; none when std is 0 */
    double outlier_share;        /* outliers / finite; 0 when finite is 0 */
    struct qs_hist hist;         /* x over [min, max] */
    struct qs_hist abs_hist;     /* |x| over [0, absmax] */

    struct qs_stats_state *state;    /* streaming accumulators, private */
};

/* Fill "options" with the defaults: k = 6, 64 bins, 1 thread. */
void qs_stats_options_init(struct qs_stats_options *options);

/*
 * Start pass 1 of a scan over layout.outer * layout.channels * layout.inner
 * elements.  "options" may be NULL for the defaults; a k that is not
 * positive and finite is replaced by the default.  Returns QS_INVALID when
 * the element count overflows.  Whatever it returns, "stats" must later be
 * released with qs_stats_done.
 */
enum qs_status qs_stats_begin(struct qs_stats *stats, const struct qs_stats_layout *layout,
                              const struct qs_stats_options *options);

/*
 * Add "count" values whose first has flat index "start".  Chunks must come
 * in order without gaps: "start" is the number of elements added so far.
 * Returns QS_INVALID when it is not, when the chunk runs past the layout's
 * element count, or after qs_stats_end.
 */
enum qs_status qs_stats_add(struct qs_stats *stats, const float *data, size_t count,
                            uint64_t start);

/*
 * Finish pass 1 and fill every pass-1 figure.  Returns QS_INVALID when
 * fewer elements were added than the layout holds.
 */
enum qs_status qs_stats_end(struct qs_stats *stats);

/*
 * Start pass 2 over the same data: outliers and the two histograms with
 * options.bins bins.  Returns QS_INVALID before qs_stats_end.
 */
enum qs_status qs_stats_pass2_begin(struct qs_stats *stats);

/* Add "count" values of pass 2; chunks may come in any order. */
enum qs_status qs_stats_pass2_add(struct qs_stats *stats, const float *data, size_t count);

/*
 * Finish pass 2 and set pass2_done.  Returns QS_INVALID when the values
 * added differ in number from pass 1.
 */
enum qs_status qs_stats_pass2_end(struct qs_stats *stats);

/* Both passes over "data", which contains every element of "layout". */
enum qs_status qs_stats_compute(struct qs_stats *stats, const float *data,
                                const struct qs_stats_layout *layout,
                                const struct qs_stats_options *options);

/* Free the arrays, histograms and private state.  Safe on a zeroed struct. */
void qs_stats_done(struct qs_stats *stats);

/*
 * Start a histogram of "bins" bins over [lo, hi] ("kind" QS_HIST_ABS bins
 * |x|).  Returns QS_INVALID when bins is 0, lo or hi is not finite, or
 * lo > hi.  Release with qs_hist_done whatever it returns.
 */
enum qs_status qs_hist_init(struct qs_hist *hist, enum qs_hist_kind kind, double lo,
                            double hi, size_t bins);

/* Count "count" values into "hist" (single-threaded). */
void qs_hist_add(struct qs_hist *hist, const float *data, size_t count);

/* Lower edge of bin "i" for i < bins; edge(bins) is hi exactly. */
double qs_hist_edge(const struct qs_hist *hist, size_t i);

/*
 * Bin of "value" (already |x| for QS_HIST_ABS), consistent with
 * qs_hist_edge; "value" must be finite and inside [lo, hi].
 */
size_t qs_hist_bin(const struct qs_hist *hist, double value);

/* Largest bin count. */
uint64_t qs_hist_max_count(const struct qs_hist *hist);

/*
 * Bar height of bin "i" on a log scale: log(1 + count) / log(1 + largest
 * count), in [0, 1]; 0 for an empty histogram.
 */
double qs_hist_log_height(const struct qs_hist *hist, size_t i);

void qs_hist_done(struct qs_hist *hist);

#endif
