/*
 * Range selection beyond min/max (percentile and MSE search) and the
 * double quantization of nf4 block scales.
 *
 * Both the reference and the fast trial call these same functions, so the
 * chosen ranges do not depend on the kernel family or the thread count.
 * Built with -ffp-contract=off, like the reference kernels: the search
 * must compute the same sums whichever instruction set it runs on.
 */
#include "config.h"

#include "quant_internal.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Clip ratios tried by the MSE search: a grid from 1.0 down to 0.2, then
 * golden-section steps around the best grid point. */
#define QUANT_MSE_GRID 100
#define QUANT_MSE_LOW 0.2
#define QUANT_MSE_GOLDEN_STEPS 20

/* ---- Percentile ---- */

static void
quant_swap(float *a, float *b)
{
    float t = *a;

    *a = *b;
    *b = t;
}

/*
 * Reorder v[0..n) so that v[k] is the k-th smallest value, with no larger
 * value before it and no smaller one after it (Hoare partition around a
 * median of three, which stays fast on runs of equal values).
 */
static void
quant_select(float *v, size_t n, size_t k)
{
    size_t left = 0, right = n - 1;

    while (right > left) {
        size_t mid = left + (right - left) / 2, i = left, j = right;
        float pivot;

        if (v[mid] < v[left])
            quant_swap(&v[mid], &v[left]);
        if (v[right] < v[left])
            quant_swap(&v[right], &v[left]);
        if (v[right] < v[mid])
            quant_swap(&v[right], &v[mid]);
        pivot = v[mid];
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                quant_swap(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            right = j;
        else if (k >= i)
            left = i;
        else
            return;
    }
}

/*
 * The "centi"/100 percentile of v[0..n), interpolated linearly between
 * order statistics as numpy.percentile does by default.  Reorders v.
 */
static float
quant_percentile(float *v, size_t n, uint32_t centi)
{
    double pos = (double)centi / 10000.0 * (double)(n - 1);
    size_t k = (size_t)pos;
    double frac = pos - (double)k, lo, hi;

    if (k >= n - 1)
        k = n - 1, frac = 0.0;
    quant_select(v, n, k);
    lo = v[k];
    hi = lo;
    if (frac > 0.0) {
        hi = v[k + 1];
        for (size_t i = k + 2; i < n; i++)
            if (v[i] < hi)
                hi = v[i];
    }
    return (float)(lo + frac * (hi - lo));
}

/* ---- MSE search ---- */

/*
 * Squared error of quantizing v[0..n) with the range [lo, hi], the
 * criterion of the MSE search.  The sum runs in 16 lanes, element i in
 * lane i % 16.  Each lane adds 16 float squares at a time and then moves
 * them to double, and the lanes are added in order at the end.  Every
 * CPU follows this order, and the fixed lanes let the compiler vectorize
 * without reordering anything, so the search picks the same ratio on
 * every machine and for both the vector and the reference trial.
 */
#define SEARCH_LANES 16
#define SEARCH_FLUSH 16

/* Element arithmetic of one search.  It is fixed per loop, so the
 * compiler can fold its constants. */
enum search_form {
    SEARCH_INT,
    SEARCH_E4M3,
    SEARCH_E5M2,
    SEARCH_NF4
};

/* Constants of one candidate range. */
struct search_consts {
    enum search_form form;
    float scale, inv;
    float ylo, yhi;            /* int: clamp of w * inv, (code range) - zero point */
    float largest;             /* fp8: largest finite value */
};

/* rint(v) for |v| < 2^22 in the default rounding mode, without a libm call. */
static inline __attribute__((always_inline)) float
search_rint(float v)
{
    const float magic = 12582912.0f;    /* 1.5 * 2^23 */

    return (v + magic) - magic;
}

/* fp8 grid value of y, as quant_fp8_ref, by bit arithmetic. */
static inline __attribute__((always_inline)) float
search_fp8(float y, float largest, int e5m2)
{
    const int shift = e5m2 ? 21 : 20;                       /* 23 - mantissa bits */
    const float min_normal = e5m2 ? 0x1p-14f : 0x1p-6f;
    const float sub_scale = e5m2 ? 0x1p16f : 0x1p9f;        /* subnormal step 2^-16, 2^-9 */
    const float sub_step = e5m2 ? 0x1p-16f : 0x1p-9f;
    float a = fabsf(y), v, sub;
    uint32_t u, sign;

    memcpy(&u, &y, sizeof(u));
    sign = u & 0x80000000u;
    a = a > largest ? largest : a;
    memcpy(&u, &a, sizeof(u));
    u = (u + ((1u << (shift - 1)) - 1u) + ((u >> shift) & 1u)) & ~((1u << shift) - 1u);
    memcpy(&v, &u, sizeof(v));
    sub = search_rint(a * sub_scale) * sub_step;
    v = a < min_normal ? sub : v;
    memcpy(&u, &v, sizeof(u));
    u |= sign;
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* v clamped to [-FLT_MAX, FLT_MAX], as quant_element_ref does. */
static inline __attribute__((always_inline)) float
search_saturate(float v)
{
    v = v < -FLT_MAX ? -FLT_MAX : v;
    return v > FLT_MAX ? FLT_MAX : v;
}

/* Dequantized value of w; the same arithmetic as quant_element_ref. */
static inline __attribute__((always_inline)) float
search_deq(const struct search_consts *c, enum search_form form, float w)
{
    float y = w * c->inv;
    int k = 0;

    switch (form) {
    case SEARCH_INT:
        /* Clamping before rounding equals clamping the code after it, as
         * the bounds are integers; it also keeps search_rint exact. */
        y = y < c->ylo ? c->ylo : y;
        y = y > c->yhi ? c->yhi : y;
        return search_saturate(search_rint(y) * c->scale);
    case SEARCH_E4M3:
    case SEARCH_E5M2:
        return search_saturate(search_fp8(y, c->largest, form == SEARCH_E5M2) * c->scale);
    default:
        for (int i = 0; i < 15; i++)
            k += y > quant_nf4_mid[i];
        return qs_quant_nf4_levels[k] * c->scale;
    }
}

/* Add the lanes in order: the last step of every variant. */
static double
search_total(const double total[SEARCH_LANES], const float lane[SEARCH_LANES])
{
    double sum = 0.0;

    for (int j = 0; j < SEARCH_LANES; j++)
        sum += total[j] + lane[j];
    return sum;
}

static inline __attribute__((always_inline)) double
search_sse_body(const struct search_consts *c, enum search_form form, const float *v, size_t n)
{
    float lane[SEARCH_LANES] = { 0 };
    double total[SEARCH_LANES] = { 0 };
    size_t i = 0;
    int pending = 0;

    for (; i + SEARCH_LANES <= n; i += SEARCH_LANES) {
        for (int j = 0; j < SEARCH_LANES; j++) {
            float e = v[i + j] - search_deq(c, form, v[i + j]);

            lane[j] += e * e;
        }
        if (++pending == SEARCH_FLUSH) {
            for (int j = 0; j < SEARCH_LANES; j++) {
                total[j] += lane[j];
                lane[j] = 0.0f;
            }
            pending = 0;
        }
    }
    for (int j = 0; i + (size_t)j < n; j++) {
        float e = v[i + j] - search_deq(c, form, v[i + j]);

        lane[j] += e * e;
    }
    return search_total(total, lane);
}

/* One loop per form, compiled for the instruction set of the caller. */
#define SEARCH_DISPATCH(c, v, n)                                            \
    switch ((c)->form) {                                                    \
    case SEARCH_INT:                                                        \
        return search_sse_body((c), SEARCH_INT, (v), (n));                 \
    case SEARCH_E4M3:                                                       \
        return search_sse_body((c), SEARCH_E4M3, (v), (n));                \
    case SEARCH_E5M2:                                                       \
        return search_sse_body((c), SEARCH_E5M2, (v), (n));                \
    default:                                                                \
        return search_sse_body((c), SEARCH_NF4, (v), (n));                 \
    }

#define QS_SEARCH_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/*
 * NF4 with AVX-512.  The compiler would look levels up with gathers, and
 * a binary search over the midpoints with in-register permutes is faster
 * and gives the same index.  One vector holds the 16 lanes of the scalar
 * order, and each square is multiplied then added, unfused, as there.
 */
QS_SEARCH_AVX512 static double
search_nf4_avx512(const struct search_consts *c, const float *v, size_t n)
{
    float mid16[16], lane[SEARCH_LANES];
    double total[SEARCH_LANES];
    __m512 mid, levels = _mm512_loadu_ps(qs_quant_nf4_levels);
    __m512 inv = _mm512_set1_ps(c->inv), scale = _mm512_set1_ps(c->scale);
    __m512 acc = _mm512_setzero_ps();
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    int pending = 0;

    memcpy(mid16, quant_nf4_mid, sizeof(quant_nf4_mid));
    mid16[15] = 1.0f;                   /* never read by the search */
    mid = _mm512_loadu_ps(mid16);
    for (size_t i = 0; i < n; i += SEARCH_LANES) {
        __mmask16 m = n - i >= SEARCH_LANES ? 0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 x = _mm512_maskz_loadu_ps(m, v + i), y = _mm512_mul_ps(x, inv), e;
        __m512i idx = _mm512_setzero_si512();

        for (int step = 8; step >= 1; step /= 2) {
            __m512i at = _mm512_add_epi32(idx, _mm512_set1_epi32(step - 1));
            __m512 t = _mm512_permutexvar_ps(at, mid);

            idx = _mm512_mask_add_epi32(idx, _mm512_cmp_ps_mask(y, t, _CMP_GT_OQ), idx,
                                        _mm512_set1_epi32(step));
        }
        e = _mm512_sub_ps(x, _mm512_mul_ps(_mm512_permutexvar_ps(idx, levels), scale));
        /* Masked-off lanes add nothing, as in the scalar tail. */
        acc = _mm512_mask_add_ps(acc, m, acc, _mm512_mul_ps(e, e));
        if (m == 0xffff && ++pending == SEARCH_FLUSH) {
            lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(acc)));
            hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm256_castpd_ps(
                     _mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1))));
            acc = _mm512_setzero_ps();
            pending = 0;
        }
    }
    _mm512_storeu_pd(total, lo);
    _mm512_storeu_pd(total + 8, hi);
    _mm512_storeu_ps(lane, acc);
    return search_total(total, lane);
}

QS_SEARCH_AVX512 static double
search_sse_avx512(const struct search_consts *c, const float *v, size_t n)
{
    if (c->form == SEARCH_NF4)
        return search_nf4_avx512(c, v, n);
    SEARCH_DISPATCH(c, v, n);
}

__attribute__((target("avx2,fma")))
static double
search_sse_avx2(const struct search_consts *c, const float *v, size_t n)
{
    SEARCH_DISPATCH(c, v, n);
}

static double
search_sse_generic(const struct search_consts *c, const float *v, size_t n)
{
    SEARCH_DISPATCH(c, v, n);
}

static int search_variant;
static pthread_once_t search_variant_once = PTHREAD_ONCE_INIT;

static void
search_detect_variant(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        search_variant = 2;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        search_variant = 1;
}

static int
search_best_variant(void)
{
    pthread_once(&search_variant_once, search_detect_variant);
    return search_variant;
}

double
quant_range_sse(const struct quant_spec *spec, const float *v, size_t n, float lo, float hi,
                int variant)
{
    struct search_consts c;
    float zero;

    memset(&c, 0, sizeof(c));
    quant_param_ref(spec, lo, hi, &c.scale, &c.inv, &zero);
    c.ylo = spec->qlo - zero;
    c.yhi = spec->qhi - zero;
    c.largest = spec->divisor;
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        c.form = SEARCH_INT;
        break;
    case QS_QUANT_KIND_FP8:
        c.form = spec->e5m2 ? SEARCH_E5M2 : SEARCH_E4M3;
        break;
    default:
        c.form = SEARCH_NF4;
        break;
    }
    if (variant < 0)
        variant = search_best_variant();
    if (variant == 2)
        return search_sse_avx512(&c, v, n);
    if (variant == 1)
        return search_sse_avx2(&c, v, n);
    return search_sse_generic(&c, v, n);
}

struct quant_mse_best {
    double ratio;
    double sse;
};

static void
quant_mse_try(const struct quant_spec *spec, const float *v, size_t n, float lo, float hi,
              double ratio, struct quant_mse_best *best)
{
    double sse = quant_range_sse(spec, v, n, (float)(ratio * lo), (float)(ratio * hi), -1);

    if (sse < best->sse) {
        best->sse = sse;
        best->ratio = ratio;
    }
}

/* Clip ratio of [lo, hi] with the smallest squared error on v[0..n). */
static double
quant_mse_ratio(const struct quant_spec *spec, const float *v, size_t n, float lo, float hi)
{
    const double golden = 0.6180339887498949;    /* (sqrt(5) - 1) / 2 */
    const double step = (1.0 - QUANT_MSE_LOW) / (QUANT_MSE_GRID - 1);
    struct quant_mse_best best = { 1.0, INFINITY };
    double a, b, c, d;
    int at = 0;

    for (int i = 0; i < QUANT_MSE_GRID; i++) {
        double before = best.sse;

        quant_mse_try(spec, v, n, lo, hi, 1.0 - step * i, &best);
        if (best.sse < before)
            at = i;
    }

    /* Golden-section search between the grid neighbours of the best point. */
    a = 1.0 - step * (at + 1 < QUANT_MSE_GRID ? at + 1 : at);
    b = 1.0 - step * (at > 0 ? at - 1 : at);
    for (int i = 0; i < QUANT_MSE_GOLDEN_STEPS && b - a > 1e-9; i++) {
        struct quant_mse_best left = { 0, INFINITY }, right = { 0, INFINITY };

        c = b - golden * (b - a);
        d = a + golden * (b - a);
        quant_mse_try(spec, v, n, lo, hi, c, &left);
        quant_mse_try(spec, v, n, lo, hi, d, &right);
        if (left.sse < best.sse || (left.sse == best.sse && left.ratio > best.ratio))
            best = left;
        if (right.sse < best.sse || (right.sse == best.sse && right.ratio > best.ratio))
            best = right;
        if (left.sse <= right.sse)
            b = d;
        else
            a = c;
    }
    return best.ratio;
}

void
quant_search_range(const struct quant_spec *spec, const struct qs_quant_config *config,
                   float *v, size_t n, float *lo, float *hi)
{
    float mn = 0.0f, mx = 0.0f;
    double ratio;

    *lo = 0.0f;
    *hi = 0.0f;
    if (n == 0)
        return;
    if (config->range == QS_QUANT_RANGE_PERCENTILE) {
        if (spec->asym) {
            *lo = quant_percentile(v, n, 10000 - config->percentile_centi);
            *hi = quant_percentile(v, n, config->percentile_centi);
        } else {
            for (size_t i = 0; i < n; i++)
                v[i] = fabsf(v[i]);
            *hi = quant_percentile(v, n, config->percentile_centi);
        }
        return;
    }

    for (size_t i = 0; i < n; i++) {
        float a = spec->asym ? v[i] : fabsf(v[i]);

        mn = v[i] < mn ? v[i] : mn;
        mx = a > mx ? a : mx;
    }
    if (!spec->asym)
        mn = 0.0f;
    if (config->range == QS_QUANT_RANGE_MINMAX) {
        *lo = mn;
        *hi = mx;
        return;
    }
    ratio = quant_mse_ratio(spec, v, n, mn, mx);
    *lo = (float)(ratio * mn);
    *hi = (float)(ratio * mx);
}

/* ---- Double quantization (bitsandbytes compress_statistics) ---- */

static int
quant_float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return (x > y) - (x < y);
}

/*
 * The signed dynamic 8-bit map of bitsandbytes' create_dynamic_map()
 * (signed, 7 exponent bits, 8 bits; "8-Bit Approximations for
 * Parallelism in Deep Learning", Dettmers 2016): for i = 0 .. 6, the
 * 2^i midpoints of linspace(0.1, 1, 2^i + 1) times +-10^(i-6), plus 0
 * and 1, sorted.  Computed in float32 with torch.linspace's formula
 * (start + step * k for the first half, end - step * (steps - 1 - k) for
 * the rest).
 * NOTE: torch may round some entries differently in the last bit.
 */
static void
quant_dynamic_map(float map[256])
{
    static const float powers[7] = { 1e-6f, 1e-5f, 1e-4f, 1e-3f, 1e-2f, 1e-1f, 1.0f };
    size_t count = 0;

    for (int i = 0; i < 7; i++) {
        int steps = (1 << i) + 1, half = steps / 2;
        float start = 0.1f, end = 1.0f, step = (end - start) / (float)(steps - 1);
        float bound[65];

        for (int k = 0; k < steps; k++)
            bound[k] = k < half ? start + step * (float)k : end - step * (float)(steps - 1 - k);
        for (int k = 0; k + 1 < steps; k++) {
            float mean = (bound[k] + bound[k + 1]) / 2.0f;

            map[count++] = powers[i] * mean;
            map[count++] = -powers[i] * mean;
        }
    }
    map[count++] = 0.0f;
    map[count++] = 1.0f;
    qsort(map, count, sizeof(map[0]), quant_float_cmp);
}

/* Code of the map entry nearest to y: the number of bucket bounds below y. */
static int
quant_dynamic_code(const float bounds[255], float y)
{
    int lo = 0, hi = 255;

    /* Count of bounds strictly below y, by binary search on the sorted bounds. */
    while (lo < hi) {
        int mid = (lo + hi) / 2;

        if (bounds[mid] < y)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
quant_double_quantize(const float *absmax, size_t n, float *out)
{
    float map[256], bounds[255];
    double total = 0.0;
    float mean;

    if (n == 0)
        return;
    quant_dynamic_map(map);
    for (int k = 0; k < 255; k++)
        bounds[k] = (map[k] + map[k + 1]) / 2.0f;

    /* NOTE: bitsandbytes takes torch's float32 mean; this double mean
     * rounded once can differ from it in the last bit. */
    for (size_t i = 0; i < n; i++)
        total += absmax[i];
    mean = (float)(total / (double)n);

    for (size_t start = 0; start < n; start += QUANT_DQ_BLOCK) {
        size_t end = start + QUANT_DQ_BLOCK < n ? start + QUANT_DQ_BLOCK : n;
        float amax = 0.0f, inv;

        for (size_t i = start; i < end; i++)
            amax = fmaxf(amax, fabsf(absmax[i] - mean));
        /* bitsandbytes clamps the block absmax to at least 1e-38. */
        inv = 1.0f / fmaxf(amax, 1e-38f);
        for (size_t i = start; i < end; i++) {
            float y = fminf(fmaxf((absmax[i] - mean) * inv, -1.0f), 1.0f);

            out[i] = map[quant_dynamic_code(bounds, y)] * amax + mean;
        }
    }
}
