/*
 * Scalar reference kernels of trial quantization: the definitions that
 * the vector kernels in quant_fast.c reproduce (codes and scales bit for
 * bit, metrics within rounding).  Plain C, one element at a time, sums in
 * double.  Built with -ffp-contract=off so that no multiply-add is fused.
 *
 * Unlike the vector kernels, these handle non-finite inputs: NaN and
 * infinities are left out of ranges and metrics, get code 0 (the zero
 * point for asym) and dequantize to themselves.
 */
#include "config.h"

#include "quant_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/*
 * The 16 NormalFloat levels of QLoRA (Dettmers et al. 2023, "QLoRA:
 * Efficient Finetuning of Quantized LLMs"), as bitsandbytes lists them in
 * get_4bit_type("nf4") (bitsandbytes/functional.py).  Defined here so
 * that this file needs nothing from libqscope.a.
 */
const float qs_quant_nf4_levels[16] = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

/* Midpoints of consecutive NF4 levels, (l[k] + l[k+1]) / 2 in float32,
 * as bitsandbytes computes its bucket bounds. */
const float quant_nf4_mid[15] = {
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
};

float
quant_round_half_ref(float v)
{
    uint32_t u;

    /* Below 2^-14 fp16 is subnormal: a grid of 2^-24, scaled exactly. */
    if (v < 0x1p-14f)
        return nearbyintf(v * 0x1p24f) * 0x1p-24f;
    memcpy(&u, &v, sizeof(u));
    u += 0xfffu + ((u >> 13) & 1u);     /* keep 10 of 23 mantissa bits, ties to even */
    u &= ~0x1fffu;
    memcpy(&v, &u, sizeof(v));
    return v;
}

float
quant_round_half_up_ref(float v)
{
    uint32_t u;

    if (v < 0x1p-14f)
        return ceilf(v * 0x1p24f) * 0x1p-24f;
    memcpy(&u, &v, sizeof(u));
    u = (u + 0x1fffu) & ~0x1fffu;       /* a carry out of the mantissa bumps the exponent */
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* A dequantized value clamped to [-FLT_MAX, FLT_MAX].  The product
 * (q - zero) * scale rounds past FLT_MAX when absmax is within a few ulps
 * of it: 127 * fl(FLT_MAX / 127) is +inf in float32. */
static float
quant_saturate_ref(float v)
{
    return fminf(fmaxf(v, -FLT_MAX), FLT_MAX);
}

int
quant_param_ref(const struct quant_spec *spec, float lo, float hi,
                float *scale, float *inv, float *zero)
{
    float s;

    if (spec->asym) {
        lo = lo < 0.0f ? lo : 0.0f;
        hi = hi > 0.0f ? hi : 0.0f;
        /* hi - lo overflows float32 for ranges wider than FLT_MAX. */
        s = (float)(((double)hi - (double)lo) / (double)spec->divisor);
    } else {
        s = hi / spec->divisor;
    }
    if (s > FLT_MAX)
        s = FLT_MAX;
    if (!(s >= FLT_MIN))
        goto flagged;
    if (spec->scale_fp16)
        s = quant_round_half_up_ref(fminf(s, 65504.0f));
    *scale = s;
    *inv = 1.0f / s;
    *zero = 0.0f;
    /* Adding +0 turns a zero point of -0 into +0, so that codes and
     * dequantized zeros never carry a negative sign from it. */
    if (spec->asym)
        *zero = fminf(fmaxf(nearbyintf(-lo / s), 0.0f), spec->divisor) + 0.0f;
    return 0;

flagged:
    *scale = 1.0f;
    *inv = 0.0f;
    *zero = 0.0f;
    return 1;
}

/* 2^e for -126 <= e <= 127, built from its bits (exact, no libm call). */
static float
quant_pow2(int e)
{
    uint32_t u = (uint32_t)(e + 127) << 23;
    float v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

/* Value of a positive fp8 code (sign bit clear). */
static float
quant_fp8_value(int e5m2, int code)
{
    int mbits = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    int exp = code >> mbits, mant = code & ((1 << mbits) - 1);

    if (exp == 0)
        return (float)mant * quant_pow2(1 - bias - mbits);
    return (float)((1 << mbits) + mant) * quant_pow2(exp - bias - mbits);
}

float
quant_fp8_ref(int e5m2, float y, int32_t *code)
{
    /* Largest finite codes: E4M3FN 0x7e (0x7f is NaN), E5M2 0x7b (0x7c is inf). */
    int top = e5m2 ? 0x7b : 0x7e;
    int sign = signbit(y) ? 0x80 : 0;
    float a = fabsf(y), v;
    int lo = 0, hi = top, c;

    if (a >= quant_fp8_value(e5m2, top)) {
        c = top;
    } else {
        /* Binary search for lo, hi adjacent with value(lo) <= a < value(hi). */
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;

            if (quant_fp8_value(e5m2, mid) <= a)
                lo = mid;
            else
                hi = mid;
        }
        float dlo = a - quant_fp8_value(e5m2, lo), dhi = quant_fp8_value(e5m2, hi) - a;

        if (dlo < dhi)
            c = lo;
        else if (dhi < dlo)
            c = hi;
        else
            c = (lo & 1) ? hi : lo;
    }
    v = quant_fp8_value(e5m2, c);
    *code = c | sign;
    return sign ? -v : v;
}

int
quant_nf4_index_ref(float y)
{
    int k = 0;

    for (int i = 0; i < 15; i++)
        if (y > quant_nf4_mid[i])
            k++;
    return k;
}

float
quant_element_ref(const struct quant_spec *spec, float w, float scale, float inv,
                  float zero, int32_t *code)
{
    float y = w * inv, q;
    int k;

    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        q = nearbyintf(y) + zero;
        q = fminf(fmaxf(q, spec->qlo), spec->qhi);
        *code = (int32_t)q;
        return quant_saturate_ref((q - zero) * scale);
    case QS_QUANT_KIND_FP8:
        return quant_saturate_ref(quant_fp8_ref(spec->e5m2, y, code) * scale);
    case QS_QUANT_KIND_NF4:
        k = quant_nf4_index_ref(y);
        *code = k;
        return qs_quant_nf4_levels[k] * scale;
    default:
        return quant_cast_ref(spec, w, code);
    }
}

/* IEEE binary16 bits of "w", round half to even, overflow to infinity. */
static uint16_t
quant_half_bits_ref(float w)
{
    uint32_t sign = signbit(w) ? 0x8000u : 0;
    float a = fabsf(w);
    uint32_t u;

    if (isnan(w))
        return (uint16_t)(sign | 0x7e00u);
    if (a >= 65520.0f)                  /* halfway past 65504 rounds to even: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x1p-14f)
        return (uint16_t)(sign | (uint32_t)nearbyintf(a * 0x1p24f));
    a = quant_round_half_ref(a);
    memcpy(&u, &a, sizeof(u));
    return (uint16_t)(sign | ((((u >> 23) - 112u) << 10) | ((u >> 13) & 0x3ffu)));
}

static float
quant_half_value(uint16_t h)
{
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    float v;

    if (exp == 0)
        v = ldexpf((float)mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    return (h & 0x8000u) ? -v : v;
}

float
quant_cast_ref(const struct quant_spec *spec, float w, int32_t *code)
{
    uint32_t u;
    uint16_t h;
    float v;

    if (!spec->bf16) {
        h = quant_half_bits_ref(w);
        *code = h;
        return quant_half_value(h);
    }
    memcpy(&u, &w, sizeof(u));
    if (isnan(w))
        u = (u | 0x00400000u) & 0xffff0000u;   /* quiet NaN keeps its sign */
    else
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    *code = (int32_t)(u >> 16);
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* ---- The reference kernel table ---- */

static void
ref_range_one(float w, int asym, float *lo, float *hi)
{
    if (!isfinite(w))
        return;
    if (asym) {
        *lo = fminf(*lo, w);
        *hi = fmaxf(*hi, w);
    } else {
        *hi = fmaxf(*hi, fabsf(w));
    }
}

static void
ref_range_cols(const float *restrict x, size_t rows, size_t width, size_t stride,
               int asym, float *restrict lo, float *restrict hi)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < width; j++)
            ref_range_one(x[r * stride + j], asym, &lo[j], &hi[j]);
}

static void
ref_range_run(const float *restrict x, size_t n, int asym, float *lo, float *hi)
{
    for (size_t i = 0; i < n; i++)
        ref_range_one(x[i], asym, lo, hi);
}

static void
ref_params(const struct quant_spec *spec, size_t n, const float *restrict lo,
           const float *restrict hi, float *restrict scale, float *restrict inv,
           float *restrict zero, uint64_t *flagged)
{
    for (size_t i = 0; i < n; i++)
        *flagged += (uint64_t)quant_param_ref(spec, lo[i], hi[i], &scale[i], &inv[i], &zero[i]);
}

/* Quantize one element and add it to the sums; non-finite inputs pass through. */
static void
ref_one(const struct quant_spec *spec, float w, float scale, float inv, float zero,
        float *deq, int32_t *code, struct quant_sums *sums)
{
    int32_t c = 0;
    float d;
    double e;

    if (!isfinite(w)) {
        if (spec->kind == QS_QUANT_KIND_CAST)
            (void)quant_cast_ref(spec, w, &c);
        else
            c = (int32_t)zero;
        if (deq)
            *deq = w;
        if (code)
            *code = c;
        sums->nonfinite++;
        return;
    }
    d = quant_element_ref(spec, w, scale, inv, zero, &c);
    if (deq)
        *deq = d;
    if (code)
        *code = c;
    e = (double)w - (double)d;
    sums->sse += e * e;
    sums->energy += (double)w * w;
    sums->dot += (double)w * d;
    sums->deq_energy += (double)d * d;
    if (fabs(e) > sums->max_err || isnan(e))
        sums->max_err = fabs(e);
}

static void
ref_quant_cols(const struct quant_spec *spec, const float *restrict x, size_t rows,
               size_t width, size_t stride, const float *restrict scale,
               const float *restrict inv, const float *restrict zero,
               float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < width; j++) {
            size_t i = r * stride + j;

            ref_one(spec, x[i], scale[j], inv[j], zero[j], deq ? &deq[i] : NULL,
                    codes ? &codes[i] : NULL, sums);
        }
    }
}

static void
ref_quant_run(const struct quant_spec *spec, const float *restrict x, size_t n,
              float scale, float inv, float zero, float *restrict deq,
              int32_t *restrict codes, struct quant_sums *sums)
{
    for (size_t i = 0; i < n; i++)
        ref_one(spec, x[i], scale, inv, zero, deq ? &deq[i] : NULL,
                codes ? &codes[i] : NULL, sums);
}

static void
ref_cast_run(const struct quant_spec *spec, const float *restrict x, size_t n,
             float *restrict deq, int32_t *restrict codes, struct quant_sums *sums)
{
    ref_quant_run(spec, x, n, 1.0f, 1.0f, 0.0f, deq, codes, sums);
}

const struct quant_ops quant_ops_ref = {
    .name = "ref",
    .range_cols = ref_range_cols,
    .range_run = ref_range_run,
    .params = ref_params,
    .quant_cols = ref_quant_cols,
    .quant_run = ref_quant_run,
    .cast_run = ref_cast_run,
};
