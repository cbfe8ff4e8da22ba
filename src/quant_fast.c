/*
 * Vector kernels of trial quantization, chosen at run time: AVX-512
 * (F, BW, DQ, VL) and AVX2 with FMA and F16C.  Each computes the same
 * codes and scales as the scalar definitions in quant_ref.c.  The metrics
 * differ only in summation order: each lane sums its elements in double,
 * as the reference does, and the lanes are added at the end of the call.
 * Products of two floats are exact in double, so no term is rounded
 * before it is added.
 *
 * The vector kernels assume finite inputs.  A NaN or infinite input makes
 * the sums non-finite, and the trial then reruns with the reference
 * kernels, which handle such values.
 */
#include "config.h"

#include "quant_internal.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Sign bit and the other 31 bits of a float32. */
#define QUANT_SIGN_BIT 0x80000000u

/* Constants of the fp8 grid arithmetic for one format. */
struct quant_fp8_consts {
    float largest;           /* largest finite value */
    float min_normal;        /* smallest normal value */
    float sub_scale;         /* 2^(mantissa bits + bias - 1): subnormal codes are integers */
    float sub_inv;
    int shift;               /* float32 mantissa bits dropped: 23 - mantissa bits */
    int mbits;
    int bias;
};

static const struct quant_fp8_consts quant_fp8_e4m3 = {
    QUANT_FP8E4M3_MAX, 0x1p-6f, 0x1p9f, 0x1p-9f, 20, 3, 7,
};
static const struct quant_fp8_consts quant_fp8_e5m2 = {
    QUANT_FP8E5M2_MAX, 0x1p-14f, 0x1p16f, 0x1p-16f, 21, 2, 15,
};

/* NF4 midpoints padded to 16 entries; the binary search never reads the last. */
static const float quant_nf4_mid16[16] = {
    (-1.0f + -0.6961928009986877f) / 2,
    (-0.6961928009986877f + -0.5250730514526367f) / 2,
    (-0.5250730514526367f + -0.39491748809814453f) / 2,
    (-0.39491748809814453f + -0.28444138169288635f) / 2,
    (-0.28444138169288635f + -0.18477343022823334f) / 2,
    (-0.18477343022823334f + -0.09105003625154495f) / 2,
    (-0.09105003625154495f + 0.0f) / 2,
    (0.0f + 0.07958029955625534f) / 2,
    (0.07958029955625534f + 0.16093020141124725f) / 2,
    (0.16093020141124725f + 0.24611230194568634f) / 2,
    (0.24611230194568634f + 0.33791524171829224f) / 2,
    (0.33791524171829224f + 0.44070982933044434f) / 2,
    (0.44070982933044434f + 0.5626170039176941f) / 2,
    (0.5626170039176941f + 0.7229568362236023f) / 2,
    (0.7229568362236023f + 1.0f) / 2,
    1.0f,
};

/* ======================================================================
 * AVX-512
 * ====================================================================== */

#define QS_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))
#define QS_AVX512_INLINE static inline __attribute__((always_inline)) QS_AVX512

#define QS_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define QS_UP (_MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)

/* VRANGEPS/PD controls: bits 1:0 pick the min or max (2: smaller
 * magnitude, 3: larger magnitude), bits 3:2 the sign (0: the first
 * operand's, 2: cleared).  One instruction for a clamp or a max of |x|. */
#define QS_MIN_ABS_KEEP_SIGN 0x02
#define QS_MAX_ABS 0x0b

/* Per-call metric accumulators in double for lanes 0-7 and 8-15 of the
 * float vectors.  Named fields, not arrays, so that they stay in registers. */
struct acc16_half {
    __m512d sse, energy, dot, deq, max;
};

struct acc16 {
    struct acc16_half low, high;
};

/* Per-trial constants broadcast once per kernel call. */
struct consts16 {
    __m512 qlo, qhi;
    __m512 fp8_largest, fp8_min_normal, fp8_sub_scale, fp8_sub_inv;
    __m512i fp8_bias, fp8_keep;
    int fp8_shift, fp8_mbits, fp8_exp_offset;
    __m512 nf4_mid, nf4_levels;
    __m512 flt_max;
};

QS_AVX512_INLINE void
a16_init(struct acc16 *a)
{
    a->low.sse = a->low.energy = a->low.dot = a->low.deq = a->low.max = _mm512_setzero_pd();
    a->high = a->low;
}

/* Add 8 elements: w - w' and every product in double, as quant_ref.c. */
QS_AVX512_INLINE void
a16_add_half(struct acc16_half *h, __m256 x8, __m256 d8)
{
    __m512d x = _mm512_cvtps_pd(x8), d = _mm512_cvtps_pd(d8);
    __m512d e = _mm512_sub_pd(x, d);

    h->sse = _mm512_fmadd_pd(e, e, h->sse);
    h->energy = _mm512_fmadd_pd(x, x, h->energy);
    h->dot = _mm512_fmadd_pd(x, d, h->dot);
    h->deq = _mm512_fmadd_pd(d, d, h->deq);
    h->max = _mm512_range_pd(h->max, e, QS_MAX_ABS);
}

QS_AVX512_INLINE void
a16_add(struct acc16 *a, __m512 x, __m512 d)
{
    a16_add_half(&a->low, _mm512_castps512_ps256(x), _mm512_castps512_ps256(d));
    a16_add_half(&a->high, _mm512_extractf32x8_ps(x, 1), _mm512_extractf32x8_ps(d, 1));
}

QS_AVX512_INLINE void
a16_done(struct acc16 *a, struct quant_sums *s)
{
    double m;

    s->sse += _mm512_reduce_add_pd(_mm512_add_pd(a->low.sse, a->high.sse));
    s->energy += _mm512_reduce_add_pd(_mm512_add_pd(a->low.energy, a->high.energy));
    s->dot += _mm512_reduce_add_pd(_mm512_add_pd(a->low.dot, a->high.dot));
    s->deq_energy += _mm512_reduce_add_pd(_mm512_add_pd(a->low.deq, a->high.deq));
    m = _mm512_reduce_max_pd(_mm512_max_pd(a->low.max, a->high.max));
    if (m > s->max_err || m != m)
        s->max_err = m;
}

QS_AVX512_INLINE void
c16_init(struct consts16 *c, const struct quant_spec *spec)
{
    const struct quant_fp8_consts *f = spec->e5m2 ? &quant_fp8_e5m2 : &quant_fp8_e4m3;

    c->qlo = _mm512_set1_ps(spec->qlo);
    c->qhi = _mm512_set1_ps(spec->qhi);
    c->fp8_largest = _mm512_set1_ps(f->largest);
    c->fp8_min_normal = _mm512_set1_ps(f->min_normal);
    c->fp8_sub_scale = _mm512_set1_ps(f->sub_scale);
    c->fp8_sub_inv = _mm512_set1_ps(f->sub_inv);
    c->fp8_bias = _mm512_set1_epi32((1 << (f->shift - 1)) - 1);
    c->fp8_keep = _mm512_set1_epi32(-(1 << f->shift));
    c->fp8_shift = f->shift;
    c->fp8_mbits = f->mbits;
    c->fp8_exp_offset = 127 - f->bias;
    c->nf4_mid = _mm512_loadu_ps(quant_nf4_mid16);
    c->nf4_levels = _mm512_loadu_ps(qs_quant_nf4_levels);
    c->flt_max = _mm512_set1_ps(FLT_MAX);
}

QS_AVX512_INLINE __mmask16
m16_tail(size_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* fp8 grid value of y (round half to even, saturating) and its code. */
QS_AVX512_INLINE __m512
fp8_16(const struct consts16 *c, __m512 y, __m512i *code, int want_code)
{
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32((int)QUANT_SIGN_BIT));
    __m512 a = _mm512_min_ps(_mm512_abs_ps(y), c->fp8_largest);
    __m512i u = _mm512_castps_si512(a);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, (unsigned)c->fp8_shift),
                                   _mm512_set1_epi32(1));
    __m512 sub = _mm512_roundscale_ps(_mm512_mul_ps(a, c->fp8_sub_scale), QS_RNE);
    __mmask16 small = _mm512_cmp_ps_mask(a, c->fp8_min_normal, _CMP_LT_OQ);
    __m512 v;

    u = _mm512_and_si512(_mm512_add_epi32(u, _mm512_add_epi32(c->fp8_bias, lsb)), c->fp8_keep);
    v = _mm512_mask_blend_ps(small, _mm512_castsi512_ps(u), _mm512_mul_ps(sub, c->fp8_sub_inv));
    if (want_code) {
        __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(u, 23),
                                     _mm512_set1_epi32(c->fp8_exp_offset));
        __m512i m = _mm512_and_si512(_mm512_srli_epi32(u, (unsigned)c->fp8_shift),
                                     _mm512_set1_epi32((1 << c->fp8_mbits) - 1));
        __m512i normal = _mm512_or_si512(_mm512_slli_epi32(e, (unsigned)c->fp8_mbits), m);

        *code = _mm512_or_si512(_mm512_mask_blend_epi32(small, normal, _mm512_cvtps_epi32(sub)),
                                _mm512_srli_epi32(sign, 24));
    }
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign));
}

/* NF4 level index of y: count of midpoints below y, by binary search. */
QS_AVX512_INLINE __m512i
nf4_16(const struct consts16 *c, __m512 y)
{
    __m512i idx = _mm512_setzero_si512();

    for (int step = 8; step >= 1; step /= 2) {
        __m512i at = _mm512_add_epi32(idx, _mm512_set1_epi32(step - 1));
        __m512 t = _mm512_permutexvar_ps(at, c->nf4_mid);
        __mmask16 gt = _mm512_cmp_ps_mask(y, t, _CMP_GT_OQ);

        idx = _mm512_mask_add_epi32(idx, gt, idx, _mm512_set1_epi32(step));
    }
    return idx;
}

/* v clamped to [-FLT_MAX, FLT_MAX], as quant_saturate_ref. */
QS_AVX512_INLINE __m512
sat16(const struct consts16 *c, __m512 v)
{
    return _mm512_range_ps(v, c->flt_max, QS_MIN_ABS_KEEP_SIGN);
}

/* Dequantized value of x with one parameter set per lane; code in *code. */
QS_AVX512_INLINE __m512
op16(enum qs_quant_kind kind, const struct consts16 *c, __m512 x, __m512 s, __m512 iv,
     __m512 z, __m512i *code, int want_code)
{
    __m512 y = _mm512_mul_ps(x, iv), q;
    __m512i k;

    switch (kind) {
    case QS_QUANT_KIND_INT:
        q = _mm512_add_ps(_mm512_roundscale_ps(y, QS_RNE), z);
        q = _mm512_min_ps(_mm512_max_ps(q, c->qlo), c->qhi);
        if (want_code)
            *code = _mm512_cvtps_epi32(q);
        return sat16(c, _mm512_mul_ps(_mm512_sub_ps(q, z), s));
    case QS_QUANT_KIND_FP8:
        return sat16(c, _mm512_mul_ps(fp8_16(c, y, code, want_code), s));
    default:
        k = nf4_16(c, y);
        *code = k;
        return _mm512_mul_ps(_mm512_permutexvar_ps(k, c->nf4_levels), s);
    }
}

QS_AVX512_INLINE void
store16(float *deq, int32_t *codes, size_t at, __mmask16 m, __m512 d, __m512i code)
{
    if (deq)
        _mm512_mask_storeu_ps(deq + at, m, d);
    if (codes)
        _mm512_mask_storeu_epi32(codes + at, m, code);
}

QS_AVX512_INLINE void
quant_cols16(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
             size_t rows, size_t width, size_t stride, const float *restrict scale,
             const float *restrict inv, const float *restrict zero, float *restrict deq,
             int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts16 c;
    struct acc16 a;
    __m512i code = _mm512_setzero_si512();

    c16_init(&c, spec);
    a16_init(&a);
    for (size_t r = 0; r < rows; r += 4) {
        size_t rr = rows - r < 4 ? rows - r : 4;

        for (size_t j = 0; j < width; j += 16) {
            __mmask16 m = m16_tail(width - j);
            __m512 s = _mm512_maskz_loadu_ps(m, scale + j);
            __m512 iv = _mm512_maskz_loadu_ps(m, inv + j);
            __m512 z = _mm512_maskz_loadu_ps(m, zero + j);

            for (size_t k = 0; k < rr; k++) {
                size_t at = (r + k) * stride + j;
                __m512 xv = _mm512_maskz_loadu_ps(m, x + at);
                __m512 d = op16(kind, &c, xv, s, iv, z, &code, codes != NULL);

                a16_add(&a, xv, d);
                store16(deq, codes, at, m, d, code);
            }
        }
    }
    a16_done(&a, sums);
}

QS_AVX512_INLINE void
quant_run16(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
            size_t n, float scale, float inv, float zero, float *restrict deq,
            int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts16 c;
    struct acc16 a;
    __m512 s = _mm512_set1_ps(scale), iv = _mm512_set1_ps(inv), z = _mm512_set1_ps(zero);
    __m512i code = _mm512_setzero_si512();

    c16_init(&c, spec);
    a16_init(&a);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = m16_tail(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        /* Masked-off lanes hold 0, which quantizes to 0 and adds nothing. */
        __m512 d = op16(kind, &c, xv, s, iv, z, &code, codes != NULL);

        a16_add(&a, xv, d);
        store16(deq, codes, i, m, d, code);
    }
    a16_done(&a, sums);
}

/* float((double(hi) - double(lo)) / divisor) of 16 segments, as quant_param_ref. */
QS_AVX512_INLINE __m512
asym_scale16(__m512 lo, __m512 hi, float divisor)
{
    __m512d div = _mm512_set1_pd((double)divisor);
    __m512d low = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(hi)),
                                _mm512_cvtps_pd(_mm512_castps512_ps256(lo)));
    __m512d high = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(hi, 1)),
                                 _mm512_cvtps_pd(_mm512_extractf32x8_ps(lo, 1)));

    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_div_pd(low, div))),
                              _mm512_cvtpd_ps(_mm512_div_pd(high, div)), 1);
}

/* Scale, inverse and zero point of 16 segments (see quant_param_ref). */
QS_AVX512_INLINE unsigned
params16(const struct quant_spec *spec, __m512 lo, __m512 hi, __m512 *scale, __m512 *inv,
         __m512 *zero)
{
    __m512 zeros = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    __m512 div = _mm512_set1_ps(spec->divisor), s;
    __mmask16 flag;

    if (spec->asym) {
        lo = _mm512_min_ps(lo, zeros);
        hi = _mm512_max_ps(hi, zeros);
        s = asym_scale16(lo, hi, spec->divisor);
    } else {
        s = _mm512_div_ps(hi, div);
    }
    s = _mm512_min_ps(s, _mm512_set1_ps(FLT_MAX));
    flag = _mm512_cmp_ps_mask(s, _mm512_set1_ps(FLT_MIN), _CMP_NGE_UQ);
    if (spec->scale_fp16)
        s = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_min_ps(s, _mm512_set1_ps(65504.0f)), QS_UP));
    s = _mm512_mask_blend_ps(flag, s, one);
    *scale = s;
    *inv = _mm512_mask_blend_ps(flag, _mm512_div_ps(one, s), zeros);
    *zero = zeros;
    if (spec->asym) {
        __m512 z = _mm512_roundscale_ps(_mm512_div_ps(_mm512_sub_ps(zeros, lo), s), QS_RNE);

        z = _mm512_add_ps(_mm512_min_ps(_mm512_max_ps(z, zeros), div), zeros);
        *zero = _mm512_mask_blend_ps(flag, z, zeros);
    }
    return (unsigned)__builtin_popcount(flag);
}

/* ---- AVX-512 entry points ---- */

QS_AVX512 static void
avx512_range_cols(const float *restrict x, size_t rows, size_t width, size_t stride,
                  int asym, float *restrict lo, float *restrict hi)
{
    for (size_t r = 0; r < rows; r += 4) {
        size_t rr = rows - r < 4 ? rows - r : 4;

        for (size_t j = 0; j < width; j += 16) {
            __mmask16 m = m16_tail(width - j);
            __m512 h = _mm512_maskz_loadu_ps(m, hi + j);
            __m512 l = asym ? _mm512_maskz_loadu_ps(m, lo + j) : _mm512_setzero_ps();

            for (size_t k = 0; k < rr; k++) {
                __m512 xv = _mm512_maskz_loadu_ps(m, x + (r + k) * stride + j);

                /* MAXPS returns its second operand when either is NaN: NaN is skipped. */
                if (asym) {
                    l = _mm512_min_ps(xv, l);
                    h = _mm512_max_ps(xv, h);
                } else {
                    h = _mm512_max_ps(_mm512_abs_ps(xv), h);
                }
            }
            _mm512_mask_storeu_ps(hi + j, m, h);
            if (asym)
                _mm512_mask_storeu_ps(lo + j, m, l);
        }
    }
}

QS_AVX512 static void
avx512_range_run(const float *restrict x, size_t n, int asym, float *lo, float *hi)
{
    __m512 l = _mm512_set1_ps(*lo), h = _mm512_set1_ps(*hi);

    for (size_t i = 0; i < n; i += 16) {
        __m512 xv = _mm512_maskz_loadu_ps(m16_tail(n - i), x + i);

        if (asym) {
            l = _mm512_min_ps(xv, l);
            h = _mm512_max_ps(xv, h);
        } else {
            h = _mm512_max_ps(_mm512_abs_ps(xv), h);
        }
    }
    *hi = _mm512_reduce_max_ps(h);
    if (asym)
        *lo = _mm512_reduce_min_ps(l);
}

QS_AVX512 static void
avx512_params(const struct quant_spec *spec, size_t n, const float *restrict lo,
              const float *restrict hi, float *restrict scale, float *restrict inv,
              float *restrict zero, uint64_t *flagged)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = m16_tail(n - i);
        __m512 s, iv, z;

        *flagged += params16(spec, _mm512_maskz_loadu_ps(m, lo + i),
                             _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, hi + i), &s, &iv, &z);
        _mm512_mask_storeu_ps(scale + i, m, s);
        _mm512_mask_storeu_ps(inv + i, m, iv);
        _mm512_mask_storeu_ps(zero + i, m, z);
    }
}

QS_AVX512 static void
avx512_quant_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
                  size_t width, size_t stride, const float *restrict scale,
                  const float *restrict inv, const float *restrict zero,
                  float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        quant_cols16(QS_QUANT_KIND_INT, spec, x, rows, width, stride, scale, inv, zero, deq,
                     codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        quant_cols16(QS_QUANT_KIND_FP8, spec, x, rows, width, stride, scale, inv, zero, deq,
                     codes, sums);
        break;
    default:
        quant_cols16(QS_QUANT_KIND_NF4, spec, x, rows, width, stride, scale, inv, zero, deq,
                     codes, sums);
        break;
    }
}

QS_AVX512 static void
avx512_quant_run(const struct quant_spec *spec, const float *restrict x, size_t n,
                 float scale, float inv, float zero, float *restrict deq,
                 int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        quant_run16(QS_QUANT_KIND_INT, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        quant_run16(QS_QUANT_KIND_FP8, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    default:
        quant_run16(QS_QUANT_KIND_NF4, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    }
}

/* One strip of 16 columns: range over all rows, parameters, then codes
 * while the strip is still in L1. */
QS_AVX512_INLINE void
fused_cols16(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
             size_t rows, size_t width, size_t stride, float *restrict scale,
             float *restrict inv, float *restrict zero, uint64_t *flagged,
             float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts16 c;
    struct acc16 a;
    __m512i code = _mm512_setzero_si512();

    c16_init(&c, spec);
    a16_init(&a);
    for (size_t j = 0; j < width; j += 16) {
        __mmask16 m = m16_tail(width - j);
        __m512 l = _mm512_setzero_ps(), h = _mm512_setzero_ps(), s, iv, z;

        for (size_t r = 0; r < rows; r++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + r * stride + j);

            if (spec->asym) {
                l = _mm512_min_ps(xv, l);
                h = _mm512_max_ps(xv, h);
            } else {
                h = _mm512_max_ps(_mm512_abs_ps(xv), h);
            }
        }
        *flagged += params16(spec, l, _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), m, h), &s, &iv, &z);
        _mm512_mask_storeu_ps(scale + j, m, s);
        _mm512_mask_storeu_ps(inv + j, m, iv);
        _mm512_mask_storeu_ps(zero + j, m, z);

        for (size_t r = 0; r < rows; r++) {
            size_t at = r * stride + j;
            __m512 xv = _mm512_maskz_loadu_ps(m, x + at);
            __m512 d = op16(kind, &c, xv, s, iv, z, &code, codes != NULL);

            a16_add(&a, xv, d);
            store16(deq, codes, at, m, d, code);
        }
    }
    a16_done(&a, sums);
}

QS_AVX512 static void
avx512_fused_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
                  size_t width, size_t stride, float *restrict scale, float *restrict inv,
                  float *restrict zero, uint64_t *flagged, float *restrict deq,
                  int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        fused_cols16(QS_QUANT_KIND_INT, spec, x, rows, width, stride, scale, inv, zero, flagged,
                     deq, codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        fused_cols16(QS_QUANT_KIND_FP8, spec, x, rows, width, stride, scale, inv, zero, flagged,
                     deq, codes, sums);
        break;
    default:
        fused_cols16(QS_QUANT_KIND_NF4, spec, x, rows, width, stride, scale, inv, zero, flagged,
                     deq, codes, sums);
        break;
    }
}

QS_AVX512 static void
avx512_cast_run(const struct quant_spec *spec, const float *restrict x, size_t n,
                float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct acc16 a;

    a16_init(&a);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = m16_tail(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(m, x + i), d;
        __m512i code;

        if (spec->bf16) {
            __m512i u = _mm512_castps_si512(xv);
            __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));

            u = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
            u = _mm512_and_si512(u, _mm512_set1_epi32((int)0xffff0000u));
            d = _mm512_castsi512_ps(u);
            code = _mm512_srli_epi32(u, 16);
        } else {
            __m256i h = _mm512_cvtps_ph(xv, QS_RNE);

            d = _mm512_cvtph_ps(h);
            code = _mm512_cvtepu16_epi32(h);
        }
        a16_add(&a, xv, d);
        store16(deq, codes, i, m, d, code);
    }
    a16_done(&a, sums);
}

const struct quant_ops quant_ops_avx512 = {
    .name = "avx512",
    .range_cols = avx512_range_cols,
    .range_run = avx512_range_run,
    .params = avx512_params,
    .quant_cols = avx512_quant_cols,
    .quant_run = avx512_quant_run,
    .fused_cols = avx512_fused_cols,
    .cast_run = avx512_cast_run,
};

/* ======================================================================
 * AVX2 with FMA and F16C
 * ====================================================================== */

#define QS_AVX2 __attribute__((target("avx2,fma,f16c")))
#define QS_AVX2_INLINE static inline __attribute__((always_inline)) QS_AVX2

/* Lane masks for tails: 8 - n entries from here give the first n lanes. */
static const int32_t quant_mask8[16] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

/* Per-call metric accumulators in double for lanes 0-3 and 4-7 of the
 * float vectors, as struct acc16. */
struct acc8_half {
    __m256d sse, energy, dot, deq, max;
};

struct acc8 {
    struct acc8_half low, high;
};

struct consts8 {
    __m256 qlo, qhi;
    __m256 fp8_largest, fp8_min_normal, fp8_sub_scale, fp8_sub_inv;
    __m256i fp8_bias, fp8_keep;
    int fp8_shift, fp8_mbits, fp8_exp_offset;
    /* NF4 binary search tables: step s reads mid[(idx / 2s) * 2s + s - 1]. */
    __m256 nf4_t8, nf4_t4, nf4_t2, nf4_t1;
    __m256 nf4_lo, nf4_hi;   /* levels 0..7 and 8..15 */
    __m256 flt_max, neg_flt_max;
};

QS_AVX2_INLINE __m256
abs8(__m256 v)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

QS_AVX2_INLINE __m256i
m8_tail(size_t left)
{
    return _mm256_loadu_si256((const __m256i *)(quant_mask8 + 8 - (left >= 8 ? 8 : left)));
}

QS_AVX2_INLINE void
a8_init(struct acc8 *a)
{
    a->low.sse = a->low.energy = a->low.dot = a->low.deq = a->low.max = _mm256_setzero_pd();
    a->high = a->low;
}

/* Add 4 elements: w - w' and every product in double, as quant_ref.c. */
QS_AVX2_INLINE void
a8_add_half(struct acc8_half *h, __m128 x4, __m128 d4)
{
    __m256d x = _mm256_cvtps_pd(x4), d = _mm256_cvtps_pd(d4);
    __m256d e = _mm256_sub_pd(x, d);

    h->sse = _mm256_fmadd_pd(e, e, h->sse);
    h->energy = _mm256_fmadd_pd(x, x, h->energy);
    h->dot = _mm256_fmadd_pd(x, d, h->dot);
    h->deq = _mm256_fmadd_pd(d, d, h->deq);
    h->max = _mm256_max_pd(h->max, _mm256_andnot_pd(_mm256_set1_pd(-0.0), e));
}

QS_AVX2_INLINE void
a8_add(struct acc8 *a, __m256 x, __m256 d)
{
    a8_add_half(&a->low, _mm256_castps256_ps128(x), _mm256_castps256_ps128(d));
    a8_add_half(&a->high, _mm256_extractf128_ps(x, 1), _mm256_extractf128_ps(d, 1));
}

QS_AVX2_INLINE double
hsum4d(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));

    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

QS_AVX2_INLINE double
hmax4d(__m256d v)
{
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));

    return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
}

QS_AVX2_INLINE float
hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

QS_AVX2_INLINE float
hmin8(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

QS_AVX2_INLINE void
a8_done(struct acc8 *a, struct quant_sums *s)
{
    __m256d max = _mm256_max_pd(a->low.max, a->high.max);
    __m256d nan = _mm256_cmp_pd(max, max, _CMP_UNORD_Q);
    double m;

    s->sse += hsum4d(_mm256_add_pd(a->low.sse, a->high.sse));
    s->energy += hsum4d(_mm256_add_pd(a->low.energy, a->high.energy));
    s->dot += hsum4d(_mm256_add_pd(a->low.dot, a->high.dot));
    s->deq_energy += hsum4d(_mm256_add_pd(a->low.deq, a->high.deq));
    m = _mm256_movemask_pd(nan) ? (double)NAN : hmax4d(max);
    if (m > s->max_err || m != m)
        s->max_err = m;
}

QS_AVX2_INLINE void
c8_init(struct consts8 *c, const struct quant_spec *spec)
{
    const struct quant_fp8_consts *f = spec->e5m2 ? &quant_fp8_e5m2 : &quant_fp8_e4m3;
    const float *mid = quant_nf4_mid16;

    c->qlo = _mm256_set1_ps(spec->qlo);
    c->qhi = _mm256_set1_ps(spec->qhi);
    c->fp8_largest = _mm256_set1_ps(f->largest);
    c->fp8_min_normal = _mm256_set1_ps(f->min_normal);
    c->fp8_sub_scale = _mm256_set1_ps(f->sub_scale);
    c->fp8_sub_inv = _mm256_set1_ps(f->sub_inv);
    c->fp8_bias = _mm256_set1_epi32((1 << (f->shift - 1)) - 1);
    c->fp8_keep = _mm256_set1_epi32(-(1 << f->shift));
    c->fp8_shift = f->shift;
    c->fp8_mbits = f->mbits;
    c->fp8_exp_offset = 127 - f->bias;
    c->nf4_t8 = _mm256_set1_ps(mid[7]);
    c->nf4_t4 = _mm256_setr_ps(mid[3], mid[11], 0, 0, 0, 0, 0, 0);
    c->nf4_t2 = _mm256_setr_ps(mid[1], mid[5], mid[9], mid[13], 0, 0, 0, 0);
    c->nf4_t1 = _mm256_setr_ps(mid[0], mid[2], mid[4], mid[6], mid[8], mid[10], mid[12], mid[14]);
    c->nf4_lo = _mm256_loadu_ps(qs_quant_nf4_levels);
    c->nf4_hi = _mm256_loadu_ps(qs_quant_nf4_levels + 8);
    c->flt_max = _mm256_set1_ps(FLT_MAX);
    c->neg_flt_max = _mm256_set1_ps(-FLT_MAX);
}

/* v clamped to [-FLT_MAX, FLT_MAX], as quant_saturate_ref. */
QS_AVX2_INLINE __m256
sat8(const struct consts8 *c, __m256 v)
{
    return _mm256_min_ps(_mm256_max_ps(v, c->neg_flt_max), c->flt_max);
}

QS_AVX2_INLINE __m256
fp8_8(const struct consts8 *c, __m256 y, __m256i *code, int want_code)
{
    __m256i sign = _mm256_and_si256(_mm256_castps_si256(y), _mm256_set1_epi32((int)QUANT_SIGN_BIT));
    __m256 a = _mm256_min_ps(abs8(y), c->fp8_largest);
    __m256i u = _mm256_castps_si256(a);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, c->fp8_shift), _mm256_set1_epi32(1));
    __m256 sub = _mm256_round_ps(_mm256_mul_ps(a, c->fp8_sub_scale), QS_RNE);
    __m256 small = _mm256_cmp_ps(a, c->fp8_min_normal, _CMP_LT_OQ);
    __m256 v;

    u = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(c->fp8_bias, lsb)), c->fp8_keep);
    v = _mm256_blendv_ps(_mm256_castsi256_ps(u), _mm256_mul_ps(sub, c->fp8_sub_inv), small);
    if (want_code) {
        __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(u, 23),
                                     _mm256_set1_epi32(c->fp8_exp_offset));
        __m256i m = _mm256_and_si256(_mm256_srli_epi32(u, c->fp8_shift),
                                     _mm256_set1_epi32((1 << c->fp8_mbits) - 1));
        __m256i normal = _mm256_or_si256(_mm256_slli_epi32(e, c->fp8_mbits), m);
        __m256i picked = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(normal),
                                             _mm256_castsi256_ps(_mm256_cvtps_epi32(sub)), small));

        *code = _mm256_or_si256(picked, _mm256_srli_epi32(sign, 24));
    }
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(v), sign));
}

QS_AVX2_INLINE __m256i
nf4_8(const struct consts8 *c, __m256 y)
{
    __m256i idx;
    __m256 gt, t;

    /* Step s compares with table entry idx / 2s, which is mid[idx + s - 1]. */
    gt = _mm256_cmp_ps(y, c->nf4_t8, _CMP_GT_OQ);
    idx = _mm256_and_si256(_mm256_castps_si256(gt), _mm256_set1_epi32(8));
    t = _mm256_permutevar8x32_ps(c->nf4_t4, _mm256_srli_epi32(idx, 3));
    gt = _mm256_cmp_ps(y, t, _CMP_GT_OQ);
    idx = _mm256_add_epi32(idx, _mm256_and_si256(_mm256_castps_si256(gt), _mm256_set1_epi32(4)));
    t = _mm256_permutevar8x32_ps(c->nf4_t2, _mm256_srli_epi32(idx, 2));
    gt = _mm256_cmp_ps(y, t, _CMP_GT_OQ);
    idx = _mm256_add_epi32(idx, _mm256_and_si256(_mm256_castps_si256(gt), _mm256_set1_epi32(2)));
    t = _mm256_permutevar8x32_ps(c->nf4_t1, _mm256_srli_epi32(idx, 1));
    gt = _mm256_cmp_ps(y, t, _CMP_GT_OQ);
    return _mm256_add_epi32(idx, _mm256_and_si256(_mm256_castps_si256(gt), _mm256_set1_epi32(1)));
}

QS_AVX2_INLINE __m256
op8(enum qs_quant_kind kind, const struct consts8 *c, __m256 x, __m256 s, __m256 iv,
    __m256 z, __m256i *code, int want_code)
{
    __m256 y = _mm256_mul_ps(x, iv), q, level;
    __m256i k;

    switch (kind) {
    case QS_QUANT_KIND_INT:
        q = _mm256_add_ps(_mm256_round_ps(y, QS_RNE), z);
        q = _mm256_min_ps(_mm256_max_ps(q, c->qlo), c->qhi);
        if (want_code)
            *code = _mm256_cvtps_epi32(q);
        return sat8(c, _mm256_mul_ps(_mm256_sub_ps(q, z), s));
    case QS_QUANT_KIND_FP8:
        return sat8(c, _mm256_mul_ps(fp8_8(c, y, code, want_code), s));
    default:
        k = nf4_8(c, y);
        *code = k;
        level = _mm256_blendv_ps(_mm256_permutevar8x32_ps(c->nf4_lo, k),
                                 _mm256_permutevar8x32_ps(c->nf4_hi, k),
                                 _mm256_castsi256_ps(_mm256_slli_epi32(k, 28)));
        return _mm256_mul_ps(level, s);
    }
}

QS_AVX2_INLINE void
store8(float *deq, int32_t *codes, size_t at, __m256i m, __m256 d, __m256i code)
{
    if (deq)
        _mm256_maskstore_ps(deq + at, m, d);
    if (codes)
        _mm256_maskstore_epi32((int *)(codes + at), m, code);
}

QS_AVX2_INLINE __m256
load8(const float *p, __m256i m)
{
    return _mm256_maskload_ps(p, m);
}

QS_AVX2_INLINE void
quant_cols8(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
            size_t rows, size_t width, size_t stride, const float *restrict scale,
            const float *restrict inv, const float *restrict zero, float *restrict deq,
            int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts8 c;
    struct acc8 a;
    __m256i code = _mm256_setzero_si256();

    c8_init(&c, spec);
    a8_init(&a);
    for (size_t r = 0; r < rows; r += 4) {
        size_t rr = rows - r < 4 ? rows - r : 4;

        for (size_t j = 0; j < width; j += 8) {
            __m256i m = m8_tail(width - j);
            __m256 s = load8(scale + j, m), iv = load8(inv + j, m), z = load8(zero + j, m);

            for (size_t k = 0; k < rr; k++) {
                size_t at = (r + k) * stride + j;
                __m256 xv = load8(x + at, m);
                __m256 d = op8(kind, &c, xv, s, iv, z, &code, codes != NULL);

                a8_add(&a, xv, d);
                store8(deq, codes, at, m, d, code);
            }
        }
    }
    a8_done(&a, sums);
}

QS_AVX2_INLINE void
quant_run8(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
           size_t n, float scale, float inv, float zero, float *restrict deq,
           int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts8 c;
    struct acc8 a;
    __m256 s = _mm256_set1_ps(scale), iv = _mm256_set1_ps(inv), z = _mm256_set1_ps(zero);
    __m256i code = _mm256_setzero_si256();

    c8_init(&c, spec);
    a8_init(&a);
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = m8_tail(n - i);
        __m256 xv = load8(x + i, m);
        __m256 d = op8(kind, &c, xv, s, iv, z, &code, codes != NULL);

        a8_add(&a, xv, d);
        store8(deq, codes, i, m, d, code);
    }
    a8_done(&a, sums);
}

/* float((double(hi) - double(lo)) / divisor) of 8 segments, as quant_param_ref. */
QS_AVX2_INLINE __m256
asym_scale8(__m256 lo, __m256 hi, float divisor)
{
    __m256d div = _mm256_set1_pd((double)divisor);
    __m256d low = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(hi)),
                                _mm256_cvtps_pd(_mm256_castps256_ps128(lo)));
    __m256d high = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)),
                                 _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)));

    return _mm256_set_m128(_mm256_cvtpd_ps(_mm256_div_pd(high, div)),
                           _mm256_cvtpd_ps(_mm256_div_pd(low, div)));
}

QS_AVX2_INLINE unsigned
params8(const struct quant_spec *spec, __m256 lo, __m256 hi, __m256 *scale, __m256 *inv,
        __m256 *zero)
{
    __m256 zeros = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    __m256 div = _mm256_set1_ps(spec->divisor), s, flag;

    if (spec->asym) {
        lo = _mm256_min_ps(lo, zeros);
        hi = _mm256_max_ps(hi, zeros);
        s = asym_scale8(lo, hi, spec->divisor);
    } else {
        s = _mm256_div_ps(hi, div);
    }
    s = _mm256_min_ps(s, _mm256_set1_ps(FLT_MAX));
    flag = _mm256_cmp_ps(s, _mm256_set1_ps(FLT_MIN), _CMP_NGE_UQ);
    if (spec->scale_fp16)
        s = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_min_ps(s, _mm256_set1_ps(65504.0f)), QS_UP));
    s = _mm256_blendv_ps(s, one, flag);
    *scale = s;
    *inv = _mm256_blendv_ps(_mm256_div_ps(one, s), zeros, flag);
    *zero = zeros;
    if (spec->asym) {
        __m256 z = _mm256_round_ps(_mm256_div_ps(_mm256_sub_ps(zeros, lo), s), QS_RNE);

        z = _mm256_add_ps(_mm256_min_ps(_mm256_max_ps(z, zeros), div), zeros);
        *zero = _mm256_blendv_ps(z, zeros, flag);
    }
    return (unsigned)__builtin_popcount((unsigned)_mm256_movemask_ps(flag));
}

QS_AVX2 static void
avx2_range_cols(const float *restrict x, size_t rows, size_t width, size_t stride,
                int asym, float *restrict lo, float *restrict hi)
{
    for (size_t r = 0; r < rows; r += 4) {
        size_t rr = rows - r < 4 ? rows - r : 4;

        for (size_t j = 0; j < width; j += 8) {
            __m256i m = m8_tail(width - j);
            __m256 h = load8(hi + j, m);
            __m256 l = asym ? load8(lo + j, m) : _mm256_setzero_ps();

            for (size_t k = 0; k < rr; k++) {
                __m256 xv = load8(x + (r + k) * stride + j, m);

                if (asym) {
                    l = _mm256_min_ps(xv, l);
                    h = _mm256_max_ps(xv, h);
                } else {
                    h = _mm256_max_ps(abs8(xv), h);
                }
            }
            _mm256_maskstore_ps(hi + j, m, h);
            if (asym)
                _mm256_maskstore_ps(lo + j, m, l);
        }
    }
}

QS_AVX2 static void
avx2_range_run(const float *restrict x, size_t n, int asym, float *lo, float *hi)
{
    __m256 l = _mm256_set1_ps(*lo), h = _mm256_set1_ps(*hi);

    for (size_t i = 0; i < n; i += 8) {
        __m256 xv = load8(x + i, m8_tail(n - i));

        if (asym) {
            l = _mm256_min_ps(xv, l);
            h = _mm256_max_ps(xv, h);
        } else {
            h = _mm256_max_ps(abs8(xv), h);
        }
    }
    *hi = hmax8(h);
    if (asym)
        *lo = hmin8(l);
}

QS_AVX2 static void
avx2_params(const struct quant_spec *spec, size_t n, const float *restrict lo,
            const float *restrict hi, float *restrict scale, float *restrict inv,
            float *restrict zero, uint64_t *flagged)
{
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = m8_tail(n - i);
        __m256 s, iv, z;
        __m256 h = _mm256_blendv_ps(_mm256_set1_ps(1.0f), load8(hi + i, m), _mm256_castsi256_ps(m));

        *flagged += params8(spec, load8(lo + i, m), h, &s, &iv, &z);
        _mm256_maskstore_ps(scale + i, m, s);
        _mm256_maskstore_ps(inv + i, m, iv);
        _mm256_maskstore_ps(zero + i, m, z);
    }
}

QS_AVX2 static void
avx2_quant_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
                size_t width, size_t stride, const float *restrict scale,
                const float *restrict inv, const float *restrict zero,
                float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        quant_cols8(QS_QUANT_KIND_INT, spec, x, rows, width, stride, scale, inv, zero, deq,
                    codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        quant_cols8(QS_QUANT_KIND_FP8, spec, x, rows, width, stride, scale, inv, zero, deq,
                    codes, sums);
        break;
    default:
        quant_cols8(QS_QUANT_KIND_NF4, spec, x, rows, width, stride, scale, inv, zero, deq,
                    codes, sums);
        break;
    }
}

QS_AVX2 static void
avx2_quant_run(const struct quant_spec *spec, const float *restrict x, size_t n,
               float scale, float inv, float zero, float *restrict deq,
               int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        quant_run8(QS_QUANT_KIND_INT, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        quant_run8(QS_QUANT_KIND_FP8, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    default:
        quant_run8(QS_QUANT_KIND_NF4, spec, x, n, scale, inv, zero, deq, codes, sums);
        break;
    }
}

QS_AVX2_INLINE void
fused_cols8(enum qs_quant_kind kind, const struct quant_spec *spec, const float *restrict x,
            size_t rows, size_t width, size_t stride, float *restrict scale,
            float *restrict inv, float *restrict zero, uint64_t *flagged,
            float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct consts8 c;
    struct acc8 a;
    __m256i code = _mm256_setzero_si256();

    c8_init(&c, spec);
    a8_init(&a);
    for (size_t j = 0; j < width; j += 8) {
        __m256i m = m8_tail(width - j);
        __m256 l = _mm256_setzero_ps(), h = _mm256_setzero_ps(), s, iv, z;

        for (size_t r = 0; r < rows; r++) {
            __m256 xv = load8(x + r * stride + j, m);

            if (spec->asym) {
                l = _mm256_min_ps(xv, l);
                h = _mm256_max_ps(xv, h);
            } else {
                h = _mm256_max_ps(abs8(xv), h);
            }
        }
        h = _mm256_blendv_ps(_mm256_set1_ps(1.0f), h, _mm256_castsi256_ps(m));
        *flagged += params8(spec, l, h, &s, &iv, &z);
        _mm256_maskstore_ps(scale + j, m, s);
        _mm256_maskstore_ps(inv + j, m, iv);
        _mm256_maskstore_ps(zero + j, m, z);

        for (size_t r = 0; r < rows; r++) {
            size_t at = r * stride + j;
            __m256 xv = load8(x + at, m);
            __m256 d = op8(kind, &c, xv, s, iv, z, &code, codes != NULL);

            a8_add(&a, xv, d);
            store8(deq, codes, at, m, d, code);
        }
    }
    a8_done(&a, sums);
}

QS_AVX2 static void
avx2_fused_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
                size_t width, size_t stride, float *restrict scale, float *restrict inv,
                float *restrict zero, uint64_t *flagged, float *restrict deq,
                int32_t *restrict codes, struct quant_sums *sums)
{
    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        fused_cols8(QS_QUANT_KIND_INT, spec, x, rows, width, stride, scale, inv, zero, flagged,
                    deq, codes, sums);
        break;
    case QS_QUANT_KIND_FP8:
        fused_cols8(QS_QUANT_KIND_FP8, spec, x, rows, width, stride, scale, inv, zero, flagged,
                    deq, codes, sums);
        break;
    default:
        fused_cols8(QS_QUANT_KIND_NF4, spec, x, rows, width, stride, scale, inv, zero, flagged,
                    deq, codes, sums);
        break;
    }
}

QS_AVX2 static void
avx2_cast_run(const struct quant_spec *spec, const float *restrict x, size_t n,
              float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    struct acc8 a;

    a8_init(&a);
    for (size_t i = 0; i < n; i += 8) {
        __m256i m = m8_tail(n - i);
        __m256 xv = load8(x + i, m), d;
        __m256i code;

        if (spec->bf16) {
            __m256i u = _mm256_castps_si256(xv);
            __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));

            u = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
            u = _mm256_and_si256(u, _mm256_set1_epi32((int)0xffff0000u));
            d = _mm256_castsi256_ps(u);
            code = _mm256_srli_epi32(u, 16);
        } else {
            __m128i h = _mm256_cvtps_ph(xv, QS_RNE);

            d = _mm256_cvtph_ps(h);
            code = _mm256_cvtepu16_epi32(h);
        }
        a8_add(&a, xv, d);
        store8(deq, codes, i, m, d, code);
    }
    a8_done(&a, sums);
}

const struct quant_ops quant_ops_avx2 = {
    .name = "avx2",
    .range_cols = avx2_range_cols,
    .range_run = avx2_range_run,
    .params = avx2_params,
    .quant_cols = avx2_quant_cols,
    .quant_run = avx2_quant_run,
    .fused_cols = avx2_fused_cols,
    .cast_run = avx2_cast_run,
};

/* ======================================================================
 * Baseline x86-64 and run-time selection
 * ====================================================================== */

enum quant_isa_level {
    QUANT_ISA_GENERIC,
    QUANT_ISA_AVX2,
    QUANT_ISA_AVX512
};

static enum quant_isa_level quant_isa_cap = QUANT_ISA_AVX512;
static enum quant_isa_level quant_isa_cpu = QUANT_ISA_GENERIC;
static pthread_once_t quant_isa_once = PTHREAD_ONCE_INIT;

static void
quant_isa_detect(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        quant_isa_cpu = QUANT_ISA_AVX2;
    if (quant_isa_cpu == QUANT_ISA_AVX2 && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl"))
        quant_isa_cpu = QUANT_ISA_AVX512;
}

/* F16C has no __builtin_cpu_supports name in gcc 12; read CPUID leaf 1 ECX bit 29. */
static int
quant_has_f16c(void)
{
    unsigned int eax, ebx, ecx, edx;

    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
    return (ecx >> 29) & 1u;
}

const struct quant_ops *
quant_ops_select(void)
{
    enum quant_isa_level level;

    pthread_once(&quant_isa_once, quant_isa_detect);
    level = quant_isa_cpu < quant_isa_cap ? quant_isa_cpu : quant_isa_cap;
    if (level >= QUANT_ISA_AVX2 && !quant_has_f16c())
        level = QUANT_ISA_GENERIC;
    switch (level) {
    case QUANT_ISA_AVX512:
        return &quant_ops_avx512;
    case QUANT_ISA_AVX2:
        return &quant_ops_avx2;
    default:
        return &quant_ops_generic;
    }
}

const char *
qs_quant_isa(void)
{
    return quant_ops_select()->name;
}

enum qs_status
qs_quant_set_isa(const char *name)
{
    if (!name)
        quant_isa_cap = QUANT_ISA_AVX512;
    else if (strcmp(name, "avx512") == 0)
        quant_isa_cap = QUANT_ISA_AVX512;
    else if (strcmp(name, "avx2") == 0)
        quant_isa_cap = QUANT_ISA_AVX2;
    else if (strcmp(name, "x86-64") == 0)
        quant_isa_cap = QUANT_ISA_GENERIC;
    else
        return QS_USAGE;
    return QS_OK;
}
