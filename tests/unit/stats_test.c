/*
 * Weight statistics: hand-computed moments, NaN and Inf exclusion,
 * per-channel flags and spread, histogram bins, and bit-identical results
 * across chunkings and thread counts.
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

#define TOLERANCE 1e-12

static void
assert_close(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance * fmax(1.0, fabs(expected)))) {
        print_error("got %.17g, expected %.17g\n", actual, expected);
        fail();
    }
}

/* One-call statistics of "data" laid out as [outer, channels, inner]. */
static void
compute(struct qs_stats *stats, const float *data, uint64_t outer, uint64_t channels,
        uint64_t inner, size_t bins, int threads)
{
    struct qs_stats_layout layout = { outer, channels, inner };
    struct qs_stats_options options;

    qs_stats_options_init(&options);
    options.bins = bins;
    options.threads = threads;
    assert_int_equal(qs_stats_compute(stats, data, &layout, &options), QS_OK);
}

/* ---- moments ------------------------------------------------------------ */

static void
test_moments_hand_computed(void **state)
{
    /* mean 4, deviations -3 -2 -1 0 6: m2 = 50/5 = 10, m4 = 1394/5 = 278.8,
     * excess kurtosis = 278.8 / 10^2 - 3 = -0.212 */
    static const float data[] = { 1, 2, 3, 4, 10 };
    struct qs_stats stats;

    (void)state;
    compute(&stats, data, 1, 1, 5, 4, 1);
    assert_int_equal(stats.count, 5);
    assert_int_equal(stats.finite, 5);
    assert_true(stats.min == 1.0);
    assert_true(stats.max == 10.0);
    assert_true(stats.absmax == 10.0);
    assert_true(stats.mean == 4.0);
    assert_close(stats.std, sqrt(10.0), TOLERANCE);
    assert_close(stats.kurtosis, -0.212, TOLERANCE);
    assert_int_equal(stats.zeros, 0);
    assert_int_equal(stats.nan_count, 0);
    qs_stats_done(&stats);
}

static void
test_moments_symmetric(void **state)
{
    /* mean 0, m2 = 10/5 = 2, m4 = 34/5 = 6.8, kurtosis 6.8 / 4 - 3 = -1.3 */
    static const float data[] = { -2, -1, 0, 1, 2 };
    struct qs_stats stats;

    (void)state;
    compute(&stats, data, 1, 1, 5, 4, 1);
    assert_true(stats.mean == 0.0);
    assert_close(stats.std, sqrt(2.0), TOLERANCE);
    assert_close(stats.kurtosis, -1.3, TOLERANCE);
    assert_true(stats.absmax == 2.0);
    assert_int_equal(stats.zeros, 1);
    assert_true(stats.channel_mean[0] == 0.0);
    assert_true(stats.spread == 1.0);
    qs_stats_done(&stats);
}

static void
test_constant_data_kurtosis_nan(void **state)
{
    static const float data[] = { 0.1f, 0.1f, 0.1f };
    struct qs_stats stats;

    (void)state;
    compute(&stats, data, 1, 1, 3, 4, 1);
    assert_true(stats.mean == (double)0.1f);
    assert_true(stats.std == 0.0);
    assert_true(isnan(stats.kurtosis));
    assert_int_equal(stats.outliers, 0);
    /* min == max: every value lands in the last bin */
    assert_int_equal(stats.hist.counts[3], 3);
    assert_int_equal(stats.abs_hist.counts[3], 3);
    qs_stats_done(&stats);
}

/* ---- NaN and Inf -------------------------------------------------------- */

static void
test_nan_inf_excluded(void **state)
{
    /* Finite values 1, 3, 5: mean 3, m2 = 8/3, m4 = 32/3, kurtosis
     * (32/3) / (64/9) - 3 = -1.5 */
    const float data[] = { 1, NAN, 3, INFINITY, -INFINITY, 5, NAN };
    struct qs_stats stats;

    (void)state;
    compute(&stats, data, 1, 1, 7, 4, 1);
    assert_int_equal(stats.count, 7);
    assert_int_equal(stats.finite, 3);
    assert_int_equal(stats.nan_count, 2);
    assert_int_equal(stats.nan_first[0], 1);
    assert_int_equal(stats.nan_first[1], 6);
    assert_int_equal(stats.inf_count, 2);
    assert_int_equal(stats.inf_first[0], 3);
    assert_int_equal(stats.inf_first[1], 4);
    assert_true(stats.min == 1.0);
    assert_true(stats.max == 5.0);
    assert_true(stats.mean == 3.0);
    assert_close(stats.std, sqrt(8.0 / 3.0), TOLERANCE);
    assert_close(stats.kurtosis, -1.5, TOLERANCE);
    assert_true(stats.channel_mean[0] == 3.0);
    assert_int_equal(stats.channel_finite[0], 3);

    /* [1, 5] in 4 bins: 1 -> 0, 3 -> 2, 5 -> 3 (the maximum, last bin) */
    assert_int_equal(stats.hist.counts[0], 1);
    assert_int_equal(stats.hist.counts[1], 0);
    assert_int_equal(stats.hist.counts[2], 1);
    assert_int_equal(stats.hist.counts[3], 1);
    assert_int_equal(stats.hist.total, 3);
    assert_int_equal(stats.hist.skipped, 4);
    qs_stats_done(&stats);
}

static void
test_first_indices_capped(void **state)
{
    float data[40];
    struct qs_stats stats;

    (void)state;
    for (size_t i = 0; i < 40; i++)
        data[i] = i % 3 == 1 ? NAN : (float)i;
    compute(&stats, data, 1, 1, 40, 0, 1);
    assert_int_equal(stats.nan_count, 13);
    for (size_t i = 0; i < QS_STATS_FIRST_MAX; i++)
        assert_int_equal(stats.nan_first[i], 3 * i + 1);
    assert_int_equal(stats.finite, 27);
    qs_stats_done(&stats);
}

static void
test_all_nan(void **state)
{
    const float data[] = { NAN, NAN };
    struct qs_stats stats;

    (void)state;
    compute(&stats, data, 1, 1, 2, 4, 1);
    assert_int_equal(stats.finite, 0);
    assert_true(isnan(stats.mean));
    assert_true(isnan(stats.min));
    assert_true(isnan(stats.std));
    assert_true(isnan(stats.spread));
    assert_int_equal(stats.channel_flags[0], QS_CHANNEL_EMPTY);
    assert_int_equal(stats.empty_channels, 1);
    assert_true(stats.outlier_share == 0.0);
    assert_int_equal(stats.hist.total, 0);
    qs_stats_done(&stats);
}

/* ---- channels ----------------------------------------------------------- */

/*
 * [outer 2, channels 4, inner 3], flat index (o * 4 + c) * 3 + i:
 *   channel 0: 1 2 3 | 4 5 6         min 1, max 6, mean 3.5
 *   channel 1: zeros                  dead
 *   channel 2: 1e-40 0 -2e-40 | 0s   subnormal only
 *   channel 3: -8 NaN 2 | Inf 0 0     min -8, max 2, mean -1.5
 */
static void
fill_four_channels(float *data)
{
    static const float rows[2][4][3] = {
        { { 1, 2, 3 }, { 0, 0, 0 }, { 1e-40f, 0, -2e-40f }, { -8, 0, 2 } },
        { { 4, 5, 6 }, { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 } },
    };

    memcpy(data, rows, sizeof rows);
    data[10] = NAN;
    data[21] = INFINITY;
}

static void
test_channel_figures(void **state)
{
    float data[24];
    struct qs_stats stats;

    (void)state;
    fill_four_channels(data);
    compute(&stats, data, 2, 4, 3, 8, 1);
    assert_true(stats.channel_min[0] == 1.0);
    assert_true(stats.channel_max[0] == 6.0);
    assert_true(stats.channel_absmax[0] == 6.0);
    assert_true(stats.channel_mean[0] == 3.5);
    assert_true(stats.channel_min[3] == -8.0);
    assert_true(stats.channel_max[3] == 2.0);
    assert_true(stats.channel_absmax[3] == 8.0);
    assert_true(stats.channel_mean[3] == -1.5);
    assert_int_equal(stats.channel_finite[3], 4);
    assert_true(stats.channel_absmax[2] == (double)2e-40f);
    assert_int_equal(stats.nan_count, 1);
    assert_int_equal(stats.nan_first[0], 10);
    assert_int_equal(stats.inf_first[0], 21);
    assert_int_equal(stats.zeros, 12);
    assert_int_equal(stats.subnormals, 2);
    qs_stats_done(&stats);
}

static void
test_dead_and_subnormal_channels(void **state)
{
    float data[24];
    struct qs_stats stats;

    (void)state;
    fill_four_channels(data);
    compute(&stats, data, 2, 4, 3, 8, 1);
    assert_int_equal(stats.channel_flags[0], 0);
    assert_int_equal(stats.channel_flags[1], QS_CHANNEL_DEAD);
    assert_int_equal(stats.channel_flags[2], QS_CHANNEL_SUBNORMAL);
    assert_int_equal(stats.channel_flags[3], 0);
    assert_int_equal(stats.dead_channels, 1);
    assert_int_equal(stats.subnormal_channels, 1);
    assert_int_equal(stats.empty_channels, 0);
    /* absmax sorted 0, 2e-40, 6, 8: median (2e-40 + 6) / 2 == 3 in double */
    assert_true(stats.spread == 8.0 / 3.0);
    qs_stats_done(&stats);
}

static void
test_spread_odd_even_zero(void **state)
{
    static const float odd[] = { 1, -2, 4 };         /* median 2 */
    static const float even[] = { -1, 2, 4, -8 };    /* median (2 + 4) / 2 */
    static const float zero_median[] = { 0, 0, 5 };
    const float empty_and_dead[] = { NAN, INFINITY, 0, 0, 0, -0.0f };
    struct qs_stats stats;

    (void)state;
    compute(&stats, odd, 1, 3, 1, 0, 1);
    assert_true(stats.spread == 2.0);
    qs_stats_done(&stats);

    compute(&stats, even, 1, 4, 1, 0, 1);
    assert_true(stats.spread == 8.0 / 3.0);
    qs_stats_done(&stats);

    compute(&stats, zero_median, 1, 3, 1, 0, 1);
    assert_true(isinf(stats.spread) && stats.spread > 0);
    assert_int_equal(stats.dead_channels, 2);
    qs_stats_done(&stats);

    /* [1, 3, 2]: one channel of NaN and Inf, two dead ones */
    compute(&stats, empty_and_dead, 1, 3, 2, 0, 1);
    assert_int_equal(stats.empty_channels, 1);
    assert_int_equal(stats.dead_channels, 2);
    assert_true(isnan(stats.channel_mean[0]));
    assert_true(isnan(stats.spread));
    qs_stats_done(&stats);
}

/* ---- outliers ----------------------------------------------------------- */

static void
test_outliers(void **state)
{
    /* 98 zeros, +1 and -1: mean 0, std sqrt(2/100), so |1| / std = 7.07;
     * m4 = 2/100, kurtosis 0.02 / 0.0004 - 3 = 47 */
    float data[100] = { 0 };
    struct qs_stats_layout layout = { 1, 1, 100 };
    struct qs_stats_options options;
    struct qs_stats stats;

    (void)state;
    data[17] = 1;
    data[60] = -1;
    compute(&stats, data, 1, 1, 100, 16, 1);
    assert_close(stats.std, sqrt(0.02), TOLERANCE);
    assert_close(stats.kurtosis, 47.0, 1e-9);
    assert_int_equal(stats.outliers, 2);
    assert_true(stats.outlier_share == 0.02);
    qs_stats_done(&stats);

    qs_stats_options_init(&options);
    options.outlier_k = 8;
    assert_int_equal(qs_stats_compute(&stats, data, &layout, &options), QS_OK);
    assert_int_equal(stats.outliers, 0);
    qs_stats_done(&stats);

    options.outlier_k = 7;
    assert_int_equal(qs_stats_compute(&stats, data, &layout, &options), QS_OK);
    assert_int_equal(stats.outliers, 2);
    qs_stats_done(&stats);
}

/* ---- histograms --------------------------------------------------------- */

static void
test_hist_bin_edges(void **state)
{
    static const float values[] = { 0, 0.25f, 0.5f, 0.75f, 1, 0.2499f, -0.1f, 1.1f, NAN };
    struct qs_hist hist;

    (void)state;
    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 0, 1, 4), QS_OK);
    assert_true(qs_hist_edge(&hist, 0) == 0.0);
    assert_true(qs_hist_edge(&hist, 1) == 0.25);
    assert_true(qs_hist_edge(&hist, 4) == 1.0);
    qs_hist_add(&hist, values, 9);
    assert_int_equal(hist.counts[0], 2);     /* 0, 0.2499 */
    assert_int_equal(hist.counts[1], 1);     /* 0.25 */
    assert_int_equal(hist.counts[2], 1);     /* 0.5 */
    assert_int_equal(hist.counts[3], 2);     /* 0.75, and 1 == hi */
    assert_int_equal(hist.below, 1);
    assert_int_equal(hist.above, 1);
    assert_int_equal(hist.skipped, 1);
    assert_int_equal(hist.total, 6);
    qs_hist_done(&hist);
}

/* Each edge as qs_hist_edge computes it opens its bin; the double just below
 * it belongs to the bin before, on ranges whose edges are not exact. */
static void
test_hist_bins_match_edges(void **state)
{
    static const double ranges[][2] = { { 0, 0.3 }, { -0.7, 1.3 }, { -1e-3, 7.1 }, { 1, 1.1 } };
    static const size_t bin_counts[] = { 3, 7, 10, 13, 255 };
    struct qs_hist hist;

    (void)state;
    for (size_t r = 0; r < 4; r++) {
        for (size_t b = 0; b < 5; b++) {
            assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, ranges[r][0], ranges[r][1],
                                          bin_counts[b]), QS_OK);
            for (size_t i = 1; i < hist.bins; i++) {
                double edge = qs_hist_edge(&hist, i);

                assert_int_equal(qs_hist_bin(&hist, edge), i);
                assert_int_equal(qs_hist_bin(&hist, nextafter(edge, -INFINITY)), i - 1);
            }
            assert_int_equal(qs_hist_bin(&hist, ranges[r][1]), hist.bins - 1);
            assert_int_equal(qs_hist_bin(&hist, ranges[r][0]), 0);
            qs_hist_done(&hist);
        }
    }
}

/* qs_hist_add bins floats on and next to every edge as qs_hist_bin does. */
static void
test_hist_add_matches_bin(void **state)
{
    static const double ranges[][2] = { { 0, 0.3 }, { -0.7, 1.3 }, { 1, 1.0001 }, { -5e-8, 3e-8 } };
    static const size_t bin_counts[] = { 3, 10, 77, 1000 };
    float values[3];
    struct qs_hist hist;

    (void)state;
    for (size_t r = 0; r < 4; r++) {
        for (size_t b = 0; b < 4; b++) {
            assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, ranges[r][0], ranges[r][1],
                                          bin_counts[b]), QS_OK);
            for (size_t i = 0; i <= hist.bins; i++) {
                float edge = (float)qs_hist_edge(&hist, i);

                values[0] = nextafterf(edge, -INFINITY);
                values[1] = edge;
                values[2] = nextafterf(edge, INFINITY);
                for (size_t v = 0; v < 3; v++) {
                    uint64_t before;

                    if (values[v] < hist.lo || values[v] > hist.hi)
                        continue;
                    before = hist.counts[qs_hist_bin(&hist, values[v])];
                    qs_hist_add(&hist, &values[v], 1);
                    assert_int_equal(hist.counts[qs_hist_bin(&hist, values[v])], before + 1);
                }
            }
            qs_hist_done(&hist);
        }
    }
}

static void
test_hist_abs_and_degenerate(void **state)
{
    static const float values[] = { -3, 1, -0.5f, 2.9f };
    struct qs_hist hist;

    (void)state;
    assert_int_equal(qs_hist_init(&hist, QS_HIST_ABS, 0, 3, 3), QS_OK);
    qs_hist_add(&hist, values, 4);
    assert_int_equal(hist.counts[0], 1);     /* 0.5 */
    assert_int_equal(hist.counts[1], 1);     /* 1 */
    assert_int_equal(hist.counts[2], 2);     /* 2.9, 3 */
    qs_hist_done(&hist);

    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 2, 2, 5), QS_OK);
    assert_int_equal(qs_hist_bin(&hist, 2), 4);
    qs_hist_done(&hist);

    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 0, 1, 0), QS_INVALID);
    qs_hist_done(&hist);
    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 1, 0, 4), QS_INVALID);
    qs_hist_done(&hist);
    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 0, INFINITY, 4), QS_INVALID);
    qs_hist_done(&hist);
}

static void
test_hist_log_height(void **state)
{
    static const float values[] = { 0.1f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f };
    struct qs_hist hist;

    (void)state;
    assert_int_equal(qs_hist_init(&hist, QS_HIST_VALUE, 0, 1, 4), QS_OK);
    assert_true(qs_hist_log_height(&hist, 0) == 0.0);
    qs_hist_add(&hist, values, 10);
    assert_int_equal(qs_hist_max_count(&hist), 9);
    assert_true(qs_hist_log_height(&hist, 2) == 1.0);
    assert_close(qs_hist_log_height(&hist, 0), log(2.0) / log(10.0), TOLERANCE);
    assert_true(qs_hist_log_height(&hist, 1) == 0.0);
    qs_hist_done(&hist);
}

/* ---- streaming and threads ---------------------------------------------- */

/* Deterministic pseudo-random data with zeros, NaN, Inf and a wide range. */
static float *
make_data(size_t count)
{
    float *data = qs_reallocarray(NULL, count, sizeof *data);
    uint64_t seed = 0x9e3779b97f4a7c15u;

    for (size_t i = 0; i < count; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        data[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5) * 3.0f;
        if (i % 10007 == 5)
            data[i] = NAN;
        if (i % 65537 == 100)
            data[i] = -INFINITY;
        if (i % 97 == 3)
            data[i] = 0;
        if (i % 50021 == 7)
            data[i] = 250.0f;
    }
    return data;
}

static void
assert_same_bits(const void *a, const void *b, size_t size, const char *what)
{
    if (memcmp(a, b, size) != 0) {
        print_error("%s differs\n", what);
        fail();
    }
}

static void
assert_stats_identical(const struct qs_stats *a, const struct qs_stats *b)
{
    size_t channels = (size_t)a->layout.channels;

    /* Every figure from count up to the channel arrays, compared as bits. */
    assert_same_bits(&a->count, &b->count,
                     offsetof(struct qs_stats, channel_min) - offsetof(struct qs_stats, count),
                     "pass-1 figures");
    assert_same_bits(a->channel_min, b->channel_min, channels * sizeof(double), "channel_min");
    assert_same_bits(a->channel_max, b->channel_max, channels * sizeof(double), "channel_max");
    assert_same_bits(a->channel_mean, b->channel_mean, channels * sizeof(double), "channel_mean");
    assert_same_bits(a->channel_flags, b->channel_flags, channels, "channel_flags");
    assert_same_bits(&a->spread, &b->spread, sizeof a->spread, "spread");
    assert_int_equal(a->outliers, b->outliers);
    assert_int_equal(a->hist.bins, b->hist.bins);
    assert_same_bits(a->hist.counts, b->hist.counts, a->hist.bins * sizeof(uint64_t), "hist");
    assert_same_bits(a->abs_hist.counts, b->abs_hist.counts, a->abs_hist.bins * sizeof(uint64_t),
                     "abs_hist");
}

/* Both passes, fed in the uneven chunk sizes of "cuts" (0-terminated). */
static void
compute_chunked(struct qs_stats *stats, const float *data, const struct qs_stats_layout *layout,
                int threads, const size_t *cuts)
{
    struct qs_stats_options options;
    uint64_t total = layout->outer * layout->channels * layout->inner;
    uint64_t pos = 0;

    qs_stats_options_init(&options);
    options.threads = threads;
    assert_int_equal(qs_stats_begin(stats, layout, &options), QS_OK);
    for (size_t i = 0; pos < total; i++) {
        size_t n = cuts[i] == 0 || cuts[i] > total - pos ? (size_t)(total - pos) : cuts[i];

        assert_int_equal(qs_stats_add(stats, data + pos, n, pos), QS_OK);
        pos += n;
    }
    assert_int_equal(qs_stats_end(stats), QS_OK);

    /* Pass 2 back to front: its chunks may come in any order. */
    assert_int_equal(qs_stats_pass2_begin(stats), QS_OK);
    assert_int_equal(qs_stats_pass2_add(stats, data + total / 3, (size_t)(total - total / 3)),
                     QS_OK);
    assert_int_equal(qs_stats_pass2_add(stats, data, (size_t)(total / 3)), QS_OK);
    assert_int_equal(qs_stats_pass2_end(stats), QS_OK);
}

static void
test_chunked_equals_one_call(void **state)
{
    static const size_t cuts[] = { 1, 4095, 4097, 12345, 100000, 3, 70000, 0 };
    struct qs_stats_layout layout = { 7, 97, 443 };
    size_t total = 7 * 97 * 443;
    float *data = make_data(total);
    struct qs_stats one, chunked;

    (void)state;
    compute(&one, data, 7, 97, 443, QS_STATS_DEFAULT_BINS, 1);
    compute_chunked(&chunked, data, &layout, 1, cuts);
    assert_stats_identical(&one, &chunked);
    assert_true(one.nan_count > 0);
    assert_true(one.inf_count > 0);
    qs_stats_done(&chunked);

    compute_chunked(&chunked, data, &layout, 3, cuts);
    assert_stats_identical(&one, &chunked);
    qs_stats_done(&chunked);
    qs_stats_done(&one);
    free(data);
}

static void
test_threads_bit_identical(void **state)
{
    /* Channel-major [7, 97, 443] and channel-minor [600, 500, 1] layouts. */
    static const uint64_t shapes[2][3] = { { 7, 97, 443 }, { 600, 500, 1 } };
    float *data = make_data(7 * 97 * 443);
    struct qs_stats one, two;

    (void)state;
    for (size_t s = 0; s < 2; s++) {
        compute(&one, data, shapes[s][0], shapes[s][1], shapes[s][2], 32, 1);
        compute(&two, data, shapes[s][0], shapes[s][1], shapes[s][2], 32, 2);
        assert_stats_identical(&one, &two);
        qs_stats_done(&two);
        compute(&two, data, shapes[s][0], shapes[s][1], shapes[s][2], 32, 5);
        assert_stats_identical(&one, &two);
        qs_stats_done(&two);
        qs_stats_done(&one);
    }
    free(data);
}

/* The block merges agree with a plain two-pass computation in long double. */
static void
test_matches_two_pass_reference(void **state)
{
    size_t total = 600 * 500;
    float *data = make_data(total);
    long double sum = 0, m2 = 0, m4 = 0, mean;
    uint64_t n = 0, outliers = 0;
    struct qs_stats stats;

    (void)state;
    for (size_t i = 0; i < total; i++) {
        if (isfinite(data[i])) {
            sum += data[i];
            n++;
        }
    }
    mean = sum / n;
    for (size_t i = 0; i < total; i++) {
        long double d = isfinite(data[i]) ? data[i] - mean : 0;

        m2 += d * d;
        m4 += d * d * d * d;
    }
    for (size_t i = 0; i < total; i++) {
        if (isfinite(data[i]) && fabsl(data[i] - mean) > 6 * sqrtl(m2 / n))
            outliers++;
    }

    compute(&stats, data, 600, 500, 1, 16, 2);
    assert_int_equal(stats.finite, n);
    assert_close(stats.mean, (double)mean, 1e-12);
    assert_close(stats.std, (double)sqrtl(m2 / n), 1e-12);
    assert_close(stats.kurtosis, (double)((m4 / n) / ((m2 / n) * (m2 / n)) - 3), 1e-10);
    assert_int_equal(stats.outliers, outliers);
    assert_true(outliers > 0);
    qs_stats_done(&stats);
    free(data);
}

/* ---- API contract ------------------------------------------------------- */

static void
test_misuse_rejected(void **state)
{
    static const float data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct qs_stats_layout layout = { 2, 2, 2 };
    struct qs_stats_layout huge = { UINT64_MAX / 2, 3, 1 };
    struct qs_stats stats;

    (void)state;
    assert_int_equal(qs_stats_begin(&stats, &huge, NULL), QS_INVALID);
    qs_stats_done(&stats);

    assert_int_equal(qs_stats_begin(&stats, &layout, NULL), QS_OK);
    assert_int_equal(qs_stats_add(&stats, data, 3, 1), QS_INVALID);      /* gap */
    assert_int_equal(qs_stats_add(&stats, data, 9, 0), QS_INVALID);      /* too long */
    assert_int_equal(qs_stats_add(&stats, data, 3, 0), QS_OK);
    assert_int_equal(qs_stats_add(&stats, data + 3, 2, 2), QS_INVALID);  /* overlap */
    assert_int_equal(qs_stats_end(&stats), QS_INVALID);                  /* incomplete */
    assert_int_equal(qs_stats_pass2_begin(&stats), QS_INVALID);
    assert_int_equal(qs_stats_add(&stats, data + 3, 5, 3), QS_OK);
    assert_int_equal(qs_stats_end(&stats), QS_OK);
    assert_int_equal(qs_stats_add(&stats, data, 1, 8), QS_INVALID);      /* after end */
    assert_int_equal(qs_stats_pass2_begin(&stats), QS_OK);
    assert_int_equal(qs_stats_pass2_add(&stats, data, 5), QS_OK);
    assert_int_equal(qs_stats_pass2_end(&stats), QS_INVALID);            /* 5 of 8 */
    assert_int_equal(qs_stats_pass2_add(&stats, data, 4), QS_INVALID);   /* 9 of 8 */
    assert_int_equal(qs_stats_pass2_add(&stats, data, 3), QS_OK);
    assert_int_equal(qs_stats_pass2_end(&stats), QS_OK);
    assert_true(stats.mean == 4.5);
    assert_true(stats.channel_mean[1] == 5.5);   /* 3 4 7 8 */
    qs_stats_done(&stats);
}

static void
test_empty_tensor(void **state)
{
    struct qs_stats_layout layout = { 0, 3, 4 };
    struct qs_stats stats;

    (void)state;
    assert_int_equal(qs_stats_compute(&stats, NULL, &layout, NULL), QS_OK);
    assert_int_equal(stats.count, 0);
    assert_true(isnan(stats.mean));
    assert_int_equal(stats.empty_channels, 3);
    assert_true(isnan(stats.spread));
    assert_true(stats.pass2_done);
    assert_int_equal(stats.hist.total, 0);
    qs_stats_done(&stats);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moments_hand_computed),
        cmocka_unit_test(test_moments_symmetric),
        cmocka_unit_test(test_constant_data_kurtosis_nan),
        cmocka_unit_test(test_nan_inf_excluded),
        cmocka_unit_test(test_first_indices_capped),
        cmocka_unit_test(test_all_nan),
        cmocka_unit_test(test_channel_figures),
        cmocka_unit_test(test_dead_and_subnormal_channels),
        cmocka_unit_test(test_spread_odd_even_zero),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_hist_bin_edges),
        cmocka_unit_test(test_hist_bins_match_edges),
        cmocka_unit_test(test_hist_add_matches_bin),
        cmocka_unit_test(test_hist_abs_and_degenerate),
        cmocka_unit_test(test_hist_log_height),
        cmocka_unit_test(test_chunked_equals_one_call),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_matches_two_pass_reference),
        cmocka_unit_test(test_misuse_rejected),
        cmocka_unit_test(test_empty_tensor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
