/*
 * Internal interface of the trial quantizer: the per-trial constants the
 * kernels read, the scalar definitions every kernel must reproduce bit
 * for bit, and the table of vector kernels chosen at run time.
 *
 * The arithmetic that defines a code (float32 and round half to even
 * unless stated):
 *
 *   segment range   sym: a = max |w|;  asym: lo = min(min w, 0), hi = max(max w, 0)
 *   scale s         int sym: a / qmax
 *                   int asym: float((double(hi) - double(lo)) / (2^b - 1)), in
 *                             double because hi - lo can pass FLT_MAX
 *                   fp8: a / largest        nf4: a
 *                   then s = min(s, FLT_MAX)
 *                   fp16 storage: s = the smallest fp16 >= min(s, 65504), rounded
 *                   up so that a / s never exceeds the largest code
 *   flagged         s < FLT_MIN before storage rounding:
 *                   s = 1, inv = 0 (so every code is 0), zero point 0
 *   inverse         inv = 1 / s                     (one division per segment)
 *   zero point      z = clamp(rint(-lo / s), 0, 2^b - 1)           (asym only)
 *   int code        q = clamp(rint(w * inv) + z, qlo, qhi);  w' = sat((q - z) * s)
 *   fp8 code        c = fp8_rne_saturating(w * inv);           w' = sat(fp8(c) * s)
 *   nf4 code        k = #{ midpoints m : w * inv > m };        w' = level[k] * s
 *
 * sat() clamps to [-FLT_MAX, FLT_MAX]: the product rounds past FLT_MAX
 * when a is within a few ulps of it (127 * fl(FLT_MAX / 127) is +inf in
 * float32), and the nearest finite value is the better answer.
 *
 * Note that rint(w * inv) can differ from rint(w / s) when w / s lies
 * within an ulp of a half-integer.  qscope defines the code by w * inv.
 */
#ifndef QS_QUANT_INTERNAL_H
#define QS_QUANT_INTERNAL_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

/* Elements per work chunk: small enough to balance two to a few dozen
 * threads and keep a chunk in L2, large enough that per-chunk overhead
 * vanishes.  Changing it changes the summation order of the metrics. */
#define QUANT_CHUNK_ELEMS 32768

/* Largest weight a trial accepts: 2^56 elements keeps every bit count of
 * its sizes below 2^61. */
#define QUANT_MAX_ELEMENTS (UINT64_C(1) << 56)

/* Block of 256 block scales in nf4 double quantization (bitsandbytes). */
#define QUANT_DQ_BLOCK 256

/* Largest finite values of the fp8 formats (OCP FP8 specification). */
#define QUANT_FP8E4M3_MAX 448.0f
#define QUANT_FP8E5M2_MAX 57344.0f

/* Constants of one trial that every kernel reads. */
struct quant_spec {
    enum qs_quant_kind kind;
    int bits;
    int asym;
    int e5m2;                /* fp8: E5M2 rather than E4M3FN */
    int bf16;                /* casts: bf16 rather than fp16 */
    int scale_fp16;          /* scales stored (and rounded) as fp16 */
    float qlo, qhi;          /* int: code range */
    float divisor;           /* int sym: qmax; int asym: 2^b - 1; fp8: largest value; nf4: 1 */
};

/* Partial sums of one chunk; combined in chunk order. */
struct quant_sums {
    double sse;              /* sum (w - w')^2 */
    double energy;           /* sum w^2 */
    double dot;              /* sum w w' */
    double deq_energy;       /* sum w'^2 */
    double max_err;          /* max |w - w'| */
    uint64_t nonfinite;      /* NaN or infinite inputs skipped (reference kernels only) */
};

/* Per-segment quantization parameters, struct of arrays indexed by segment. */
struct quant_params {
    float *scale;            /* dequantization scale */
    float *inv;              /* multiplier applied before rounding */
    float *zero;             /* zero point (asym), else 0 */
    float *lo, *hi;          /* range scratch: asym min and max; sym absmax in hi */
};

/*
 * One family of kernels.  "rows" x "width" rectangles have rows "stride"
 * elements apart and one parameter set per column; runs are contiguous
 * and share one parameter set.  Outputs may be NULL.  Kernels add to
 * "sums" and never allocate.
 */
struct quant_ops {
    const char *name;

    /* Column ranges: lo[j] = min(lo[j], x), hi[j] = max(hi[j], x) (asym),
     * or hi[j] = max(hi[j], |x|) (sym).  NaN inputs are ignored. */
    void (*range_cols)(const float *restrict x, size_t rows, size_t width, size_t stride,
                       int asym, float *restrict lo, float *restrict hi);

    /* Range of a run, merged into *lo and *hi as above. */
    void (*range_run)(const float *restrict x, size_t n, int asym, float *lo, float *hi);

    /* Scale, inverse and zero point of "n" segments from their ranges. */
    void (*params)(const struct quant_spec *spec, size_t n, const float *restrict lo,
                   const float *restrict hi, float *restrict scale, float *restrict inv,
                   float *restrict zero, uint64_t *flagged);

    void (*quant_cols)(const struct quant_spec *spec, const float *restrict x, size_t rows,
                       size_t width, size_t stride, const float *restrict scale,
                       const float *restrict inv, const float *restrict zero,
                       float *restrict deq, int32_t *restrict codes, struct quant_sums *sums);

    void (*quant_run)(const struct quant_spec *spec, const float *restrict x, size_t n,
                      float scale, float inv, float zero, float *restrict deq,
                      int32_t *restrict codes, struct quant_sums *sums);

    /* Ranges, parameters and codes of a rectangle whose columns are the
     * segments, in one pass over cached data (NULL: the driver composes
     * range_cols, params and quant_cols).  Writes "width" scale, inv and
     * zero entries; adds the flagged segments to *flagged. */
    void (*fused_cols)(const struct quant_spec *spec, const float *restrict x, size_t rows,
                       size_t width, size_t stride, float *restrict scale,
                       float *restrict inv, float *restrict zero, uint64_t *flagged,
                       float *restrict deq, int32_t *restrict codes, struct quant_sums *sums);

    /* fp16 or bf16 cast of a run. */
    void (*cast_run)(const struct quant_spec *spec, const float *restrict x, size_t n,
                     float *restrict deq, int32_t *restrict codes, struct quant_sums *sums);
};

/* Vector kernel families (quant_fast.c); call them only where the CPU has
 * the instructions (see quant_ops_select).  The baseline family
 * (quant_generic.c) runs anywhere. */
extern const struct quant_ops quant_ops_avx512;
extern const struct quant_ops quant_ops_avx2;
extern const struct quant_ops quant_ops_generic;

/* The family qs_quant_trial uses on this CPU, after qs_quant_set_isa. */
const struct quant_ops *quant_ops_select(void);

/* Fill "spec" from a checked configuration (quant_config.c). */
void quant_spec_init(struct quant_spec *spec, const struct qs_quant_config *config);

/* ---- Scalar definitions (quant_ref.c, compiled with -ffp-contract=off) ---- */

/* Parameters of one segment from its range; returns 1 when flagged. */
int quant_param_ref(const struct quant_spec *spec, float lo, float hi,
                    float *scale, float *inv, float *zero);

/* Code and dequantized value of one element (finite "w"). */
float quant_element_ref(const struct quant_spec *spec, float w, float scale, float inv,
                        float zero, int32_t *code);

/* Cast of one element: 16-bit pattern in *code, value returned. */
float quant_cast_ref(const struct quant_spec *spec, float w, int32_t *code);

/* fp16 value nearest to v >= 0 (round half to even), for v <= 65504. */
float quant_round_half_ref(float v);

/* Smallest fp16 value >= v, for 0 <= v <= 65504: how fp16 scales are stored. */
float quant_round_half_up_ref(float v);

/* Kernel table built from the scalar definitions (baseline reference). */
extern const struct quant_ops quant_ops_ref;

/* fp8: nearest value of the grid (ties to even), saturating; code in *code. */
float quant_fp8_ref(int e5m2, float y, int32_t *code);

/* NF4: level index of y (count of midpoints below y). */
int quant_nf4_index_ref(float y);

/* Midpoints between consecutive NF4 levels, in float32. */
extern const float quant_nf4_mid[15];

/* ---- Sums ---- */

static inline void
quant_sums_add(struct quant_sums *total, const struct quant_sums *part)
{
    total->sse += part->sse;
    total->energy += part->energy;
    total->dot += part->dot;
    total->deq_energy += part->deq_energy;
    if (part->max_err > total->max_err || isnan(part->max_err))
        total->max_err = part->max_err;
    total->nonfinite += part->nonfinite;
}

/* ---- Double quantization of nf4 block scales (quant_search.c) ---- */

/*
 * Quantize the "n" block scales "absmax" as bitsandbytes does with
 * compress_statistics: subtract their mean, quantize blocks of 256 with
 * the signed dynamic 8-bit map and an fp32 absmax each, and store the
 * dequantized scales (value + mean) in "out".
 */
void quant_double_quantize(const float *absmax, size_t n, float *out);

/* ---- Range search (quant_search.c) ---- */

/*
 * Squared error of v[0..n) quantized with the range [lo, hi], summed in a
 * fixed order whatever the CPU.  "variant" picks the code path: 0
 * baseline, 1 AVX2, 2 AVX-512, -1 the best this CPU has.  All give the
 * same bits, which the tests check.
 */
double quant_range_sse(const struct quant_spec *spec, const float *v, size_t n, float lo,
                       float hi, int variant);

/*
 * Choose the range of the "n" finite values "v" for "config" and store it
 * in *lo and *hi: the clipped min and max for asym, the clipped absmax in
 * *hi for sym.  The percentile search reorders "v".
 */
void quant_search_range(const struct quant_spec *spec, const struct qs_quant_config *config,
                        float *v, size_t n, float *lo, float *hi);

#endif
