/*
 * Baseline x86-64 kernels of trial quantization, for CPUs without AVX2:
 * scalar C without libm calls in the loops (rounding by a magic number
 * after clamping).  Codes and scales equal the scalar definitions in
 * quant_ref.c.  Sums are formed as in the vector kernels: 16 lanes, each
 * summing its elements' exact products in double.
 *
 * Like the vector kernels these assume finite inputs.  The trial reruns
 * with the reference kernels when the sums come out non-finite.
 */
#include "config.h"

#include "quant_internal.h"

#include <float.h>
#include <string.h>

#define BASE_LANES 16

/* Rounding by adding and subtracting 1.5 * 2^23: rint() for |v| < 2^22. */
#define BASE_MAGIC 12582912.0f

/* Per-call metric accumulators, as struct acc16 of the AVX-512 kernels. */
struct base_acc {
    double sse[BASE_LANES], energy[BASE_LANES], dot[BASE_LANES], deq[BASE_LANES];
    double max[BASE_LANES];
};

/* Add up to BASE_LANES elements, lane j taking element j; w - w' and the
 * products in double, as quant_ref.c. */
static inline __attribute__((always_inline)) void
base_add(struct base_acc *a, const float *x, const float *d, int count)
{
    for (int j = 0; j < count; j++) {
        double xj = x[j], dj = d[j], e = xj - dj, abs_e = e < 0 ? -e : e;

        a->sse[j] += e * e;
        a->energy[j] += xj * xj;
        a->dot[j] += xj * dj;
        a->deq[j] += dj * dj;
        a->max[j] = abs_e > a->max[j] ? abs_e : a->max[j];
    }
}

static void
base_done(struct base_acc *a, struct quant_sums *s)
{
    double total[4] = { 0.0, 0.0, 0.0, 0.0 };

    for (int j = 0; j < BASE_LANES; j++) {
        total[0] += a->sse[j];
        total[1] += a->energy[j];
        total[2] += a->dot[j];
        total[3] += a->deq[j];
    }
    s->sse += total[0];
    s->energy += total[1];
    s->dot += total[2];
    s->deq_energy += total[3];
    /* A NaN error fails every comparison; the sums then show it. */
    for (int j = 0; j < BASE_LANES; j++)
        if (a->max[j] > s->max_err)
            s->max_err = a->max[j];
}

/* fp8 grid value of y (round half to even, saturating) and its code. */
static inline __attribute__((always_inline)) float
base_fp8(const struct quant_spec *spec, float y, int32_t *code)
{
    int e5m2 = spec->e5m2, shift = e5m2 ? 21 : 20, mbits = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    float min_normal = e5m2 ? 0x1p-14f : 0x1p-6f, sub_scale = e5m2 ? 0x1p16f : 0x1p9f;
    float sub_step = e5m2 ? 0x1p-16f : 0x1p-9f;
    float a = y < 0 ? -y : y, normal, sub;
    uint32_t u, sign, normal_code;
    int small;

    memcpy(&u, &y, sizeof(u));
    sign = u & 0x80000000u;
    a = a > spec->divisor ? spec->divisor : a;
    memcpy(&u, &a, sizeof(u));
    u = (u + ((1u << (shift - 1)) - 1u) + ((u >> shift) & 1u)) & ~((1u << shift) - 1u);
    memcpy(&normal, &u, sizeof(normal));
    normal_code = (((u >> 23) - (uint32_t)(127 - bias)) << mbits)
        | ((u >> shift) & ((1u << mbits) - 1u));
    /* Below the smallest normal value the grid step is fixed: codes are integers. */
    sub = (a * sub_scale + BASE_MAGIC) - BASE_MAGIC;
    small = a < min_normal;
    *code = (int32_t)((small ? (uint32_t)sub : normal_code) | (sign >> 24));
    return (sign ? -1.0f : 1.0f) * (small ? sub * sub_step : normal);
}

/* v clamped to [-FLT_MAX, FLT_MAX], as quant_saturate_ref. */
static inline __attribute__((always_inline)) float
base_saturate(float v)
{
    v = v < -FLT_MAX ? -FLT_MAX : v;
    return v > FLT_MAX ? FLT_MAX : v;
}

/* Dequantized value and code of one element, as quant_element_ref.
 * "kind" is a constant after inlining. */
static inline __attribute__((always_inline)) float
base_element(const struct quant_spec *spec, enum qs_quant_kind kind, float x, float s,
             float inv, float z, int32_t *code)
{
    float y = x * inv, lo, hi, r;
    int k = 0;

    switch (kind) {
    case QS_QUANT_KIND_INT:
        /* Clamping y to integer bounds before rounding equals clamping
         * the code after it, and keeps the magic-number rounding exact. */
        lo = spec->qlo - z;
        hi = spec->qhi - z;
        y = y < lo ? lo : y;
        y = y > hi ? hi : y;
        r = (y + BASE_MAGIC) - BASE_MAGIC;
        *code = (int32_t)(r + z);
        return base_saturate(r * s);
    case QS_QUANT_KIND_FP8:
        return base_saturate(base_fp8(spec, y, code) * s);
    default:
        for (int i = 0; i < 15; i++)
            k += y > quant_nf4_mid[i];
        *code = k;
        return qs_quant_nf4_levels[k] * s;
    }
}

static void
base_range_one(float x, int asym, float *lo, float *hi)
{
    float a = asym ? x : (x < 0 ? -x : x);

    /* Comparisons with NaN are false: NaN inputs are skipped. */
    if (asym && x < *lo)
        *lo = x;
    if (a > *hi)
        *hi = a;
}

static void
base_range_cols(const float *restrict x, size_t rows, size_t width, size_t stride,
                int asym, float *restrict lo, float *restrict hi)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < width; j++)
            base_range_one(x[r * stride + j], asym, &lo[j], &hi[j]);
}

static void
base_range_run(const float *restrict x, size_t n, int asym, float *lo, float *hi)
{
    for (size_t i = 0; i < n; i++)
        base_range_one(x[i], asym, lo, hi);
}

/*
 * Quantize x[0..n) in blocks of BASE_LANES.  Parameters advance by "step"
 * per element: 1 for one set per column, 0 for one set for the run.
 */
static inline __attribute__((always_inline)) void
base_loop(const struct quant_spec *spec, enum qs_quant_kind kind, const float *restrict x,
          size_t n, const float *scale, const float *inv, const float *zero, size_t step,
          float *restrict deq, int32_t *restrict codes, struct base_acc *a)
{
    for (size_t i = 0; i < n; i += BASE_LANES) {
        int count = n - i < BASE_LANES ? (int)(n - i) : BASE_LANES;
        float d[BASE_LANES];
        int32_t code[BASE_LANES];

        for (int j = 0; j < count; j++) {
            size_t p = (i + (size_t)j) * step;

            d[j] = base_element(spec, kind, x[i + j], scale[p], inv[p], zero[p], &code[j]);
        }
        base_add(a, x + i, d, count);
        if (deq)
            memcpy(deq + i, d, (size_t)count * sizeof(float));
        if (codes)
            memcpy(codes + i, code, (size_t)count * sizeof(int32_t));
    }
}

static void
base_rows(const struct quant_spec *spec, const float *restrict x, size_t rows, size_t width,
          size_t stride, const float *scale, const float *inv, const float *zero, size_t step,
          float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct base_acc a;

    memset(&a, 0, sizeof(a));
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * stride;
        float *d = deq ? deq + r * stride : NULL;
        int32_t *c = codes ? codes + r * stride : NULL;

        switch (spec->kind) {
        case QS_QUANT_KIND_INT:
            base_loop(spec, QS_QUANT_KIND_INT, row, width, scale, inv, zero, step, d, c, &a);
            break;
        case QS_QUANT_KIND_FP8:
            base_loop(spec, QS_QUANT_KIND_FP8, row, width, scale, inv, zero, step, d, c, &a);
            break;
        default:
            base_loop(spec, QS_QUANT_KIND_NF4, row, width, scale, inv, zero, step, d, c, &a);
            break;
        }
    }
    base_done(&a, sums);
}

static void
base_quant_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
                size_t width, size_t stride, const float *restrict scale,
                const float *restrict inv, const float *restrict zero,
                float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    base_rows(spec, x, rows, width, stride, scale, inv, zero, 1, deq, codes, sums);
}

static void
base_quant_run(const struct quant_spec *spec, const float *restrict x, size_t n,
               float scale, float inv, float zero, float *restrict deq,
               int32_t *restrict codes, struct quant_sums *sums)
{
    base_rows(spec, x, 1, n, n, &scale, &inv, &zero, 0, deq, codes, sums);
}

static void
base_params(const struct quant_spec *spec, size_t n, const float *restrict lo,
            const float *restrict hi, float *restrict scale, float *restrict inv,
            float *restrict zero, uint64_t *flagged)
{
    for (size_t i = 0; i < n; i++)
        *flagged += (uint64_t)quant_param_ref(spec, lo[i], hi[i], &scale[i], &inv[i], &zero[i]);
}

static void
base_cast_run(const struct quant_spec *spec, const float *restrict x, size_t n,
              float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct base_acc a;

    memset(&a, 0, sizeof(a));
    for (size_t i = 0; i < n; i += BASE_LANES) {
        int count = n - i < BASE_LANES ? (int)(n - i) : BASE_LANES;
        float d[BASE_LANES];
        int32_t code[BASE_LANES];

        for (int j = 0; j < count; j++)
            d[j] = quant_cast_ref(spec, x[i + j], &code[j]);
        base_add(&a, x + i, d, count);
        if (deq)
            memcpy(deq + i, d, (size_t)count * sizeof(float));
        if (codes)
            memcpy(codes + i, code, (size_t)count * sizeof(int32_t));
    }
    base_done(&a, sums);
}

const struct quant_ops quant_ops_generic = {
    .name = "x86-64",
    .range_cols = base_range_cols,
    .range_run = base_range_run,
    .params = base_params,
    .quant_cols = base_quant_cols,
    .quant_run = base_quant_run,
    .fused_cols = NULL,
    .cast_run = base_cast_run,
};
