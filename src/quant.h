/*
 * Trial quantization: parse a configuration string, quantize a float32
 * weight with it, and measure the error and the storage it would take.
 *
 * A configuration string is FORMAT[:GRANULARITY][:SCHEME][:RANGE], e.g.
 * "int4:g128:asym:minmax" (see qs_quant_config_parse).  A trial runs one
 * configuration over one weight and returns metrics (MSE, RMSE, max
 * absolute error, SQNR, cosine similarity, and the raw sums that let
 * callers total layers and models) and sizes (payload, scale and
 * zero-point bits).  It can also write the dequantized weights (fake
 * quantization), the codes and the scales.
 *
 * Results do not depend on the thread count: work is cut into chunks
 * fixed by the layout alone, and per-chunk partial sums are combined in
 * chunk order.  Codes and scales are bit-identical between the scalar
 * reference kernels and the vector kernels chosen at run time (AVX2,
 * AVX-512).  The metrics may differ in the last bits, because the vector
 * kernels sum in another order.
 *
 * Known limitations:
 * - Weights are float32 in memory; callers decode other types first.
 * - Group and block scales follow ONNX DequantizeLinear blocked
 *   quantization: one block of N consecutive indices along the group axis
 *   for every position of the other axes; the last block may be shorter.
 */
#ifndef QS_QUANT_H
#define QS_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Maximum size of a canonical configuration string, with its terminating NUL. */
#define QS_QUANT_CONFIG_MAX 64

/*
 * Formats: enum name, configuration name, kind, bits per code.
 * The traits table in quant_config.c is generated from this list.
 */
#define QS_QUANT_FORMAT_INFO(_) \
    _(INT2,    "int2",    INT,   2) \
    _(INT3,    "int3",    INT,   3) \
    _(INT4,    "int4",    INT,   4) \
    _(INT5,    "int5",    INT,   5) \
    _(INT6,    "int6",    INT,   6) \
    _(INT7,    "int7",    INT,   7) \
    _(INT8,    "int8",    INT,   8) \
    _(INT16,   "int16",   INT,   16) \
    _(FP16,    "fp16",    CAST,  16) \
    _(BF16,    "bf16",    CAST,  16) \
    _(FP8E4M3, "fp8e4m3", FP8,   8) \
    _(FP8E5M2, "fp8e5m2", FP8,   8) \
    _(NF4,     "nf4",     NF4,   4)

enum qs_quant_format {
#define QS_QUANT_FORMAT_ENUM(name, text, kind, bits) QS_QUANT_##name,
    QS_QUANT_FORMAT_INFO(QS_QUANT_FORMAT_ENUM)
#undef QS_QUANT_FORMAT_ENUM
    QS_QUANT_FORMAT_COUNT
};

/*
 * Arithmetic by which a format turns a value into a code.  All of it is
 * float32 with rounding half to even, and codes saturate:
 *   int    q = clamp(rint(w * (1 / scale)) + zero, qmin, qmax), w' = (q - zero) * scale
 *   fp8    nearest E4M3FN (largest 448) or E5M2 (largest 57344) value of
 *          w * (1 / scale), saturating, never NaN; w' = value * scale
 *   nf4    the level nearest w * (1 / absmax), the lower one on a tie
 *          (as bitsandbytes); w' = level * absmax
 *   casts  fp16 (overflow gives infinity) or bf16, no scale
 * The asym scale (max - min) / (2^b - 1) is computed in double, because
 * max - min can exceed FLT_MAX, and then rounded to float32.  A
 * dequantized int or fp8 value that rounds past FLT_MAX (127 times
 * FLT_MAX / 127 does) saturates at +-FLT_MAX.
 * A scale below FLT_MIN (all-zero or subnormal-only data) is flagged: it
 * becomes 1.0 and every code of its elements 0.
 */
enum qs_quant_kind {
    QS_QUANT_KIND_INT,    /* uniform integer grid with a scale (and a zero point for asym) */
    QS_QUANT_KIND_CAST,   /* plain IEEE-style cast, no scale (fp16, bf16) */
    QS_QUANT_KIND_FP8,    /* fp8 grid times a scale = absmax / largest fp8 value */
    QS_QUANT_KIND_NF4     /* 16 NormalFloat levels times an absmax scale */
};

/* Set of elements that share one scale. */
enum qs_quant_granularity {
    QS_QUANT_GRAN_NONE,     /* casts: no scale at all */
    QS_QUANT_GRAN_TENSOR,   /* one scale for the whole weight */
    QS_QUANT_GRAN_CHANNEL,  /* one scale per index of the channel axis */
    QS_QUANT_GRAN_GROUP,    /* "gN": blocks of N along the group axis (integer and fp8 formats) */
    QS_QUANT_GRAN_BLOCK     /* "bN": the same cut, for block formats (nf4) */
};

enum qs_quant_scheme {
    QS_QUANT_SYM,           /* scale from absmax, zero maps to code 0 */
    QS_QUANT_ASYM           /* scale from [min, max] widened to include 0, with a zero point */
};

/*
 * Rule that chooses each scale's range.
 *   minmax      the observed absmax (sym), or min and max (asym)
 *   mse         that range times the clip ratio with the smallest squared
 *               error: 100 ratios from 1.0 down to 0.2, then 20
 *               golden-section steps between the neighbours of the best.
 *               NOTE: about 140 quantization passes over each segment,
 *               two orders of magnitude slower than minmax.
 *   percentile  the percentile of |w| (sym), or of each tail of w (asym),
 *               interpolated linearly as numpy.percentile does
 */
enum qs_quant_range {
    QS_QUANT_RANGE_MINMAX,
    QS_QUANT_RANGE_MSE,
    QS_QUANT_RANGE_PERCENTILE
};

/*
 * Storage type of the scales, for sizes and for rounding the scale itself.
 * An fp16 scale is rounded up (toward +inf) to the next fp16 value, so
 * that absmax / scale never exceeds the largest code.  Rounding to nearest
 * could round it down and clip the absmax value, which cost int16 g128
 * about 5 dB of SQNR on normal random data.  Rounded up, no scale of at
 * least FLT_MIN becomes 0.  Scales above 65504 (the largest fp16) are stored as
 * 65504, and then the largest values do clip.
 */
enum qs_quant_scale_type {
    QS_QUANT_SCALE_DEFAULT,  /* fp32 for tensor, channel and bN blocks; fp16 for gN groups */
    QS_QUANT_SCALE_FP32,
    QS_QUANT_SCALE_FP16
};

/*
 * One trial configuration.  Fill it with qs_quant_config_parse or
 * qs_quant_config_default; qs_quant_config_check validates one built by
 * hand.
 *
 * Double quantization follows bitsandbytes' compress_statistics: the fp32
 * block absmax values minus their mean are quantized in blocks of 256
 * with the signed dynamic 8-bit map of create_dynamic_map() and one fp32
 * absmax per block, plus the fp32 mean.  Codes are chosen with the fp32
 * block scales and dequantized with the 8-bit ones, as bitsandbytes does.
 */
struct qs_quant_config {
    enum qs_quant_format format;
    enum qs_quant_granularity granularity;
    uint32_t group_size;            /* N of gN or bN; 0 otherwise */
    int double_quant;               /* "dq": nf4 block scales quantized again (see below) */
    enum qs_quant_scheme scheme;
    enum qs_quant_range range;
    uint32_t percentile_centi;      /* percentile times 100 (9999 for p99.99); percentile only */
    enum qs_quant_scale_type scale_type;
};

/* Configuration name of "format" ("int4"), or "?" when out of range. */
const char *qs_quant_format_name(enum qs_quant_format format);

/* Kind of "format". */
enum qs_quant_kind qs_quant_format_kind(enum qs_quant_format format);

/* Bits per stored code of "format" (2 .. 16). */
int qs_quant_format_bits(enum qs_quant_format format);

/*
 * Fill "config" with the defaults of "format": int8 and int16
 * channel:sym, int2-int7 g128:asym, fp8 channel:sym, nf4 b64:sym, fp16
 * and bf16 plain casts; range minmax.
 */
void qs_quant_config_default(enum qs_quant_format format, struct qs_quant_config *config);

/*
 * Parse "text" = FORMAT[:GRANULARITY][:SCHEME][:RANGE][:scale=fp16|fp32]
 * into "config".  Parts after FORMAT are optional and recognised by their
 * form, but must come in this order; "dq" may follow a bN granularity.
 * RANGE is "minmax", "mse", "p" (p99.99) or "pNN.NN" (0 < NN.NN <= 100,
 * at most two decimals).  The "scale=" part is a qscope extension that
 * overrides the scale storage type.  On failure returns QS_USAGE and
 * writes one line naming the bad part to "message" (NUL-terminated,
 * truncated to "size"; may be NULL); "config" is then unspecified.
 */
enum qs_status qs_quant_config_parse(const char *text, struct qs_quant_config *config,
                                     char *message, size_t size);

/*
 * Check a configuration built by hand with the same rules as the parser.
 * Returns QS_OK, or QS_USAGE with a message as qs_quant_config_parse.
 */
enum qs_status qs_quant_config_check(const struct qs_quant_config *config,
                                     char *message, size_t size);

/*
 * Write the canonical string of "config" to "buf" (at most "size" bytes
 * with the NUL; QS_QUANT_CONFIG_MAX always suffices).  The canonical
 * string names every part, e.g. "int4:g128:asym:minmax",
 * "nf4:b64:dq:sym:minmax", "fp16"; "scale=" appears only when it differs
 * from the default.  Parsing it gives back the same configuration.
 * Returns the length snprintf would return.
 */
int qs_quant_config_format(const struct qs_quant_config *config, char *buf, size_t size);

/* True when two configurations describe the same setting. */
int qs_quant_config_equal(const struct qs_quant_config *a, const struct qs_quant_config *b);

/*
 * The layout of a weight: its element count and, for each of the two
 * axes a trial may cut along, the view of the weight as three collapsed
 * dimensions [outer, axis, inner] in row-major order.
 *
 *   tensor dims:      d0  d1 ... dc ... dg ... dr-1      (either order)
 *   channel view:   [ d0*..*dc-1 ][ dc = channels ][ dc+1*..*dr-1 = channel_inner ]
 *   group view:     [ d0*..*dg-1 ][ dg = group_len ][ dg+1*..*dr-1 = group_inner ]
 *
 * Per-channel scales: one per index of the channel axis, shared by every
 * position of the other axes (ONNX per-axis quantization).  Element i has
 * channel (i / channel_inner) % channels.
 *
 * Per-group scales (gN, bN): the group axis is cut into blocks of N
 * consecutive indices, separately for every position of the other axes
 * (ONNX blocked quantization).  The last block is shorter when group_len
 * is not a multiple of N.  Scales are stored in row-major order
 * [outer, ceil(group_len / N), group_inner].  Examples:
 *
 *   MatMul B [K, N], g128:  rows 0..127 of column j form one group.
 *        j ->                 group_len = K, group_inner = N
 *     k  +--+--+--+--+
 *     |  |g0|g0|g0|g0|  <- one group per column per 128 rows;
 *     v  |g0|g0|g0|g0|     scale index = (k / 128) * N + j
 *        +--+--+--+--+
 *        |g1|g1|g1|g1|
 *
 *   Conv [M, C, kh, kw], g32 along C: for each (m, y, x) the input
 *   channels c = 32b .. 32b+31 form group b (group_len = C,
 *   group_inner = kh*kw, scale index = (m * ceil(C/32) + b) * kh*kw + y*kw + x).
 *
 * A granularity whose axis is missing (channels or group_len 0) is
 * rejected by the trial.
 */
struct qs_quant_layout {
    uint64_t count;            /* elements in the weight */
    uint64_t channels;         /* size of the channel axis, 0 when there is none */
    uint64_t channel_inner;    /* product of the dims after the channel axis */
    uint64_t group_len;        /* size of the group axis, 0 when there is none */
    uint64_t group_inner;      /* product of the dims after the group axis */
};

/*
 * Fill "layout" for a tensor of "rank" dims "dims" whose channel axis is
 * "channel_axis" and group axis "group_axis".  Either axis may be -1 for
 * none; otherwise the two must differ.  Returns QS_OK, or QS_INVALID with
 * a message in "diag" under "file" when an axis is out of range, a dim
 * is negative, or the element count overflows.
 */
enum qs_status qs_quant_layout_init(struct qs_quant_layout *layout, const int64_t *dims,
                                    int rank, int channel_axis, int group_axis,
                                    struct qs_diag *diag, const char *file);

/* Layout of a 2-D MatMul B weight [k, n]: channel axis 1, group axis 0. */
void qs_quant_layout_matmul_b(struct qs_quant_layout *layout, uint64_t k, uint64_t n);

/*
 * Storage of a quantized weight.  Bits are exact; bytes round each part up
 * to whole bytes.  For nf4 with dq the scale part holds the 8-bit block
 * scales, one fp32 scale per 256 of them and the fp32 mean.
 */
struct qs_quant_sizes {
    uint64_t count;            /* elements */
    uint64_t scales;           /* scale entries (segments); 0 for casts */
    uint64_t payload_bits;     /* count * bits */
    uint64_t scale_bits;
    uint64_t zero_point_bits;  /* asym only: one b-bit zero point per scale */
    uint64_t total_bits;
    uint64_t payload_bytes;
    uint64_t scale_bytes;
    uint64_t zero_point_bytes;
    double bits_per_weight;    /* total_bits / count; 0 for an empty weight */
};

/*
 * Compute "sizes" of "config" applied to "layout" (no data needed).
 * Returns QS_OK, or QS_USAGE with one line in "message" when the
 * granularity needs an axis the layout lacks, and QS_INVALID on overflow.
 */
enum qs_status qs_quant_sizes_compute(const struct qs_quant_config *config,
                                      const struct qs_quant_layout *layout,
                                      struct qs_quant_sizes *sizes,
                                      char *message, size_t size);

/*
 * Error of a quantized weight against the original.  The sums are what
 * callers add to total layers (qs_quant_metrics_add); the derived fields
 * are filled by qs_quant_metrics_finish.  Non-finite inputs are left out
 * (see struct qs_quant_result).
 */
struct qs_quant_metrics {
    uint64_t count;            /* elements measured */
    double sum_sq_err;         /* sum (x - x')^2 */
    double signal_energy;      /* sum x^2 */
    double dot;                /* sum x * x' */
    double deq_energy;         /* sum x'^2 */
    double max_abs_err;        /* max |x - x'| */

    double mse;                /* sum_sq_err / count (0 when count is 0) */
    double rmse;
    double sqnr_db;            /* 10 log10(signal_energy / sum_sq_err); +inf when exact */
    double cosine;             /* dot / sqrt(signal_energy * deq_energy); 1 for two zero vectors */
    int exact;                 /* sum_sq_err is 0, so sqnr_db is +inf */
};

/* Zero every field of "metrics". */
void qs_quant_metrics_init(struct qs_quant_metrics *metrics);

/* Add the sums of "part" to "total" (max for max_abs_err); call finish after. */
void qs_quant_metrics_add(struct qs_quant_metrics *total, const struct qs_quant_metrics *part);

/*
 * Derive mse, rmse, sqnr_db, cosine and exact from the sums.  For a model
 * total this gives the parameter-weighted SQNR (total squared error over
 * total signal energy), never an average of dB values.
 */
void qs_quant_metrics_finish(struct qs_quant_metrics *metrics);

/*
 * Optional outputs of a trial, each caller-owned and NULL when not wanted.
 * Codes are stored one per int32 whatever the format:
 *   int sym:   q in [-(2^(b-1)-1), 2^(b-1)-1]; int asym: q in [0, 2^b-1]
 *   fp8:       the fp8 byte (0 .. 255);  fp16/bf16: the 16-bit pattern
 *   nf4:       the level index 0 .. 15 (level 7 is 0.0)
 * Scales hold the scale each segment dequantizes with (after rounding to
 * its storage type, and after double quantization for nf4:dq), in the
 * order described at struct qs_quant_layout.
 */
struct qs_quant_output {
    float *dequant;            /* layout.count values x' */
    int32_t *codes;            /* layout.count codes */
    float *scales;             /* sizes.scales entries */
    int32_t *zero_points;      /* sizes.scales entries; asym only */
};

/* One trial request. */
struct qs_quant_request {
    const struct qs_quant_config *config;
    const struct qs_quant_layout *layout;
    const float *weights;      /* layout->count values, row-major */
    int threads;               /* worker threads; below 1 counts as 1 */
    struct qs_quant_output output;  /* all NULL: metrics only (the fast path) */
    const char *file;          /* for messages: the model file */
    const char *layer;         /* for messages: the layer key, may be NULL */
};

struct qs_quant_result {
    struct qs_quant_metrics metrics;
    struct qs_quant_sizes sizes;
    uint64_t flagged;          /* segments with a scale below FLT_MIN: placeholder 1.0, codes 0 */
    uint64_t nonfinite;        /* NaN or infinite inputs: left out of ranges and metrics,
                                  code 0 (the zero point for asym), dequantized to themselves */
    const char *isa;           /* kernels used: "avx512", "avx2", "x86-64" or "ref" (static) */
};

/*
 * Quantize "request->weights" with "request->config" and measure the
 * error into "result".  Allocates scratch for the call only.  Returns
 * QS_OK; QS_USAGE when the configuration is invalid or needs an axis the
 * layout lacks; QS_INVALID when the layout does not match its count or a
 * size overflows.  Problems are added to "diag" (may be NULL) under
 * request->file, naming request->layer.  NaN and infinite weights are
 * not errors: they are counted in result->nonfinite.
 */
enum qs_status qs_quant_trial(const struct qs_quant_request *request,
                              struct qs_quant_result *result, struct qs_diag *diag);

/*
 * The same with the scalar reference kernels only (sums in double): the
 * definition the vector kernels are tested against.
 */
enum qs_status qs_quant_trial_ref(const struct qs_quant_request *request,
                                  struct qs_quant_result *result, struct qs_diag *diag);

/*
 * Kernel family that qs_quant_trial uses on this CPU: "avx512", "avx2" or
 * "x86-64" (static string).
 */
const char *qs_quant_isa(void);

/*
 * Cap the kernel family at "name" ("avx512", "avx2" or "x86-64"; NULL
 * restores the automatic choice), for tests and benchmarks.  A family the
 * CPU lacks falls back to the next lower one.  Returns QS_USAGE for an
 * unknown name.  Not thread-safe: call it before starting trials.
 */
enum qs_status qs_quant_set_isa(const char *name);

/*
 * The 16 NF4 levels in ascending order (level 7 is 0.0), as published
 * with QLoRA.
 */
extern const float qs_quant_nf4_levels[16];

#endif
