/*
 * Configuration strings, layouts, sizes and metrics of trial quantization.
 */
#include "config.h"

#include "quant.h"

#include <ctype.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quant_internal.h"

struct quant_format_traits {
    const char *name;
    enum qs_quant_kind kind;
    int bits;
};

static const struct quant_format_traits quant_formats[QS_QUANT_FORMAT_COUNT] = {
#define QS_QUANT_FORMAT_TRAITS(name, text, kind, bits) \
    [QS_QUANT_##name] = { text, QS_QUANT_KIND_##kind, bits },
    QS_QUANT_FORMAT_INFO(QS_QUANT_FORMAT_TRAITS)
#undef QS_QUANT_FORMAT_TRAITS
};

const char *
qs_quant_format_name(enum qs_quant_format format)
{
    if ((unsigned)format >= QS_QUANT_FORMAT_COUNT)
        return "?";
    return quant_formats[format].name;
}

enum qs_quant_kind
qs_quant_format_kind(enum qs_quant_format format)
{
    if ((unsigned)format >= QS_QUANT_FORMAT_COUNT)
        return QS_QUANT_KIND_INT;
    return quant_formats[format].kind;
}

int
qs_quant_format_bits(enum qs_quant_format format)
{
    if ((unsigned)format >= QS_QUANT_FORMAT_COUNT)
        return 0;
    return quant_formats[format].bits;
}

void
qs_quant_config_default(enum qs_quant_format format, struct qs_quant_config *config)
{
    memset(config, 0, sizeof(*config));
    config->format = format;
    config->scheme = QS_QUANT_SYM;
    config->range = QS_QUANT_RANGE_MINMAX;
    config->scale_type = QS_QUANT_SCALE_DEFAULT;

    switch (qs_quant_format_kind(format)) {
    case QS_QUANT_KIND_INT:
        if (qs_quant_format_bits(format) >= 8) {
            config->granularity = QS_QUANT_GRAN_CHANNEL;
        } else {
            config->granularity = QS_QUANT_GRAN_GROUP;
            config->group_size = 128;
            config->scheme = QS_QUANT_ASYM;
        }
        break;
    case QS_QUANT_KIND_CAST:
        config->granularity = QS_QUANT_GRAN_NONE;
        break;
    case QS_QUANT_KIND_FP8:
        config->granularity = QS_QUANT_GRAN_CHANNEL;
        break;
    case QS_QUANT_KIND_NF4:
        config->granularity = QS_QUANT_GRAN_BLOCK;
        config->group_size = 64;
        break;
    }
}

void
quant_spec_init(struct quant_spec *spec, const struct qs_quant_config *config)
{
    int bits = qs_quant_format_bits(config->format);

    memset(spec, 0, sizeof(*spec));
    spec->kind = qs_quant_format_kind(config->format);
    spec->bits = bits;
    spec->asym = config->scheme == QS_QUANT_ASYM;
    spec->e5m2 = config->format == QS_QUANT_FP8E5M2;
    spec->bf16 = config->format == QS_QUANT_BF16;
    spec->scale_fp16 = config->scale_type == QS_QUANT_SCALE_FP16
        || (config->scale_type == QS_QUANT_SCALE_DEFAULT
            && config->granularity == QS_QUANT_GRAN_GROUP);
    spec->divisor = 1.0f;

    switch (spec->kind) {
    case QS_QUANT_KIND_INT:
        if (spec->asym) {
            spec->qlo = 0.0f;
            spec->qhi = (float)((1L << bits) - 1);
            spec->divisor = spec->qhi;
        } else {
            spec->qhi = (float)((1L << (bits - 1)) - 1);
            spec->qlo = -spec->qhi;
            spec->divisor = spec->qhi;
        }
        break;
    case QS_QUANT_KIND_FP8:
        spec->divisor = spec->e5m2 ? QUANT_FP8E5M2_MAX : QUANT_FP8E4M3_MAX;
        break;
    default:
        break;
    }
}

/* ---- Parsing ---- */

/* Parser state: which parts have been seen, in order. */
enum quant_part {
    QUANT_PART_FORMAT,
    QUANT_PART_GRANULARITY,
    QUANT_PART_DQ,
    QUANT_PART_SCHEME,
    QUANT_PART_RANGE,
    QUANT_PART_SCALE
};

static const char *const quant_part_names[] = {
    "format", "granularity", "dq", "scheme", "range", "scale type",
};

static enum qs_status
quant_fail(char *message, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (message && size > 0) {
        va_start(ap, fmt);
        vsnprintf(message, size, fmt, ap);
        va_end(ap);
    }
    return QS_USAGE;
}

static int
quant_part_is(const char *part, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(part, word, len) == 0;
}

/* Parse the decimal digits of part[0..len) into *value (1 .. UINT32_MAX). */
static int
quant_parse_count(const char *digits, size_t len, uint32_t *value)
{
    uint64_t v = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)digits[i]))
            return -1;
        v = v * 10 + (uint64_t)(digits[i] - '0');
    }
    if (v == 0 || v > UINT32_MAX)
        return -1;
    *value = (uint32_t)v;
    return 0;
}

/* Parse "NN", "NN.N" or "NN.NN" into hundredths in (0, 10000]. */
static int
quant_parse_percentile(const char *text, size_t len, uint32_t *centi)
{
    uint32_t whole = 0, frac = 0;
    size_t i = 0, decimals = 0;

    if (len == 0)
        return -1;
    for (; i < len && isdigit((unsigned char)text[i]); i++) {
        if (i >= 3)
            return -1;
        whole = whole * 10 + (uint32_t)(text[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < len) {
        if (text[i] != '.' || i + 1 == len)
            return -1;
        for (i++; i < len; i++, decimals++) {
            if (decimals >= 2 || !isdigit((unsigned char)text[i]))
                return -1;
            frac = frac * 10 + (uint32_t)(text[i] - '0');
        }
        if (decimals == 1)
            frac *= 10;
    }
    *centi = whole * 100 + frac;
    if (*centi == 0 || *centi > 10000)
        return -1;
    return 0;
}

/* Recognise one part after the format; returns its kind or -1. */
static int
quant_parse_part(const char *part, size_t len, struct qs_quant_config *config,
                 const char *text, char *message, size_t size, enum qs_status *status)
{
    *status = QS_OK;
    if (quant_part_is(part, len, "tensor")) {
        config->granularity = QS_QUANT_GRAN_TENSOR;
        return QUANT_PART_GRANULARITY;
    }
    if (quant_part_is(part, len, "channel")) {
        config->granularity = QS_QUANT_GRAN_CHANNEL;
        return QUANT_PART_GRANULARITY;
    }
    if (len >= 1 && (part[0] == 'g' || part[0] == 'G' || part[0] == 'b' || part[0] == 'B')
        && len >= 2 && isdigit((unsigned char)part[1])) {
        config->granularity = (part[0] == 'g' || part[0] == 'G') ? QS_QUANT_GRAN_GROUP
                                                                   : QS_QUANT_GRAN_BLOCK;
        if (quant_parse_count(part + 1, len - 1, &config->group_size) != 0)
            *status = quant_fail(message, size,
                                 "invalid group size '%.*s' in '%s': write %cN with N from 1 to %u",
                                 (int)len, part, text, tolower((unsigned char)part[0]),
                                 (unsigned)UINT32_MAX);
        return QUANT_PART_GRANULARITY;
    }
    if (quant_part_is(part, len, "dq")) {
        config->double_quant = 1;
        return QUANT_PART_DQ;
    }
    if (quant_part_is(part, len, "sym") || quant_part_is(part, len, "asym")) {
        config->scheme = (len == 3) ? QS_QUANT_SYM : QS_QUANT_ASYM;
        return QUANT_PART_SCHEME;
    }
    if (quant_part_is(part, len, "minmax") || quant_part_is(part, len, "mse")) {
        config->range = (len == 3) ? QS_QUANT_RANGE_MSE : QS_QUANT_RANGE_MINMAX;
        return QUANT_PART_RANGE;
    }
    if (len >= 1 && (part[0] == 'p' || part[0] == 'P')
        && (len == 1 || isdigit((unsigned char)part[1]) || part[1] == '.')) {
        config->range = QS_QUANT_RANGE_PERCENTILE;
        config->percentile_centi = 9999;
        if (len > 1 && quant_parse_percentile(part + 1, len - 1, &config->percentile_centi) != 0)
            *status = quant_fail(message, size,
                                 "invalid percentile '%.*s' in '%s': write pNN.NN with a value "
                                 "above 0 and at most 100, at most two decimals",
                                 (int)len, part, text);
        return QUANT_PART_RANGE;
    }
    if (len > 6 && strncasecmp(part, "scale=", 6) == 0) {
        if (quant_part_is(part + 6, len - 6, "fp16"))
            config->scale_type = QS_QUANT_SCALE_FP16;
        else if (quant_part_is(part + 6, len - 6, "fp32"))
            config->scale_type = QS_QUANT_SCALE_FP32;
        else
            *status = quant_fail(message, size,
                                 "invalid scale type '%.*s' in '%s': use scale=fp16 or scale=fp32",
                                 (int)len, part, text);
        return QUANT_PART_SCALE;
    }
    *status = quant_fail(message, size,
                         "unknown part '%.*s' in '%s': expected a granularity (tensor, channel, "
                         "gN, bN, dq), a scheme (sym, asym), a range (minmax, mse, pNN.NN) "
                         "or scale=fp16|fp32", (int)len, part, text);
    return -1;
}

static enum qs_status
quant_parse_format(const char *part, size_t len, struct qs_quant_config *config,
                   const char *text, char *message, size_t size)
{
    for (int f = 0; f < QS_QUANT_FORMAT_COUNT; f++) {
        if (quant_part_is(part, len, quant_formats[f].name)) {
            qs_quant_config_default((enum qs_quant_format)f, config);
            return QS_OK;
        }
    }
    return quant_fail(message, size,
                      "unknown format '%.*s' in '%s': expected int2 .. int8, int16, fp16, bf16, "
                      "fp8e4m3, fp8e5m2 or nf4", (int)len, part, text);
}

enum qs_status
qs_quant_config_parse(const char *text, struct qs_quant_config *config,
                      char *message, size_t size)
{
    const char *part, *end;
    int last = QUANT_PART_FORMAT;
    enum qs_status status;

    if (message && size > 0)
        message[0] = '\0';
    if (!text || !*text)
        return quant_fail(message, size, "empty configuration: expected "
                          "FORMAT[:GRANULARITY][:SCHEME][:RANGE]");

    end = strchr(text, ':');
    if (!end)
        end = text + strlen(text);
    status = quant_parse_format(text, (size_t)(end - text), config, text, message, size);
    if (status != QS_OK)
        return status;

    while (*end == ':') {
        int kind;

        part = end + 1;
        end = strchr(part, ':');
        if (!end)
            end = part + strlen(part);
        if (end == part)
            return quant_fail(message, size, "empty part in '%s'", text);
        kind = quant_parse_part(part, (size_t)(end - part), config, text, message, size, &status);
        if (status != QS_OK)
            return status;
        if (kind <= last)
            return quant_fail(message, size,
                              "%s '%.*s' in '%s' is out of place: write "
                              "FORMAT[:GRANULARITY[:dq]][:SCHEME][:RANGE][:scale=TYPE], each once",
                              quant_part_names[kind], (int)(end - part), part, text);
        last = kind;
    }
    return qs_quant_config_check(config, message, size);
}

/* ---- Checking ---- */

static enum qs_status
quant_check_granularity(const struct qs_quant_config *c, const char *name,
                        char *message, size_t size)
{
    enum qs_quant_kind kind = qs_quant_format_kind(c->format);

    switch (c->granularity) {
    case QS_QUANT_GRAN_NONE:
        if (kind != QS_QUANT_KIND_CAST)
            return quant_fail(message, size, "%s needs a granularity", name);
        return QS_OK;
    case QS_QUANT_GRAN_TENSOR:
    case QS_QUANT_GRAN_CHANNEL:
        return QS_OK;
    case QS_QUANT_GRAN_GROUP:
        if (kind == QS_QUANT_KIND_NF4)
            return quant_fail(message, size, "granularity g%u does not apply to %s: "
                              "nf4 is a block format, write b%u", c->group_size, name,
                              c->group_size);
        break;
    case QS_QUANT_GRAN_BLOCK:
        if (kind != QS_QUANT_KIND_NF4)
            return quant_fail(message, size, "granularity b%u does not apply to %s: "
                              "bN is for block formats (nf4), write g%u", c->group_size, name,
                              c->group_size);
        break;
    default:
        return quant_fail(message, size, "invalid granularity for %s", name);
    }
    if (c->group_size == 0)
        return quant_fail(message, size, "group size 0 for %s: it must be 1 or more", name);
    return QS_OK;
}

enum qs_status
qs_quant_config_check(const struct qs_quant_config *c, char *message, size_t size)
{
    const char *name = qs_quant_format_name(c->format);
    enum qs_quant_kind kind = qs_quant_format_kind(c->format);
    enum qs_status status;

    if ((unsigned)c->format >= QS_QUANT_FORMAT_COUNT)
        return quant_fail(message, size, "invalid format number %d", (int)c->format);
    if (kind == QS_QUANT_KIND_CAST
        && (c->granularity != QS_QUANT_GRAN_NONE || c->double_quant || c->scheme != QS_QUANT_SYM
            || c->range != QS_QUANT_RANGE_MINMAX || c->scale_type != QS_QUANT_SCALE_DEFAULT))
        return quant_fail(message, size, "%s is a plain cast: it takes no granularity, scheme, "
                          "range or scale type", name);
    status = quant_check_granularity(c, name, message, size);
    if (status != QS_OK)
        return status;
    if (c->double_quant && c->granularity != QS_QUANT_GRAN_BLOCK)
        return quant_fail(message, size, "dq applies to nf4 block scales only: write nf4:bN:dq");
    if (c->double_quant && c->scale_type != QS_QUANT_SCALE_DEFAULT)
        return quant_fail(message, size, "dq stores its own 8-bit scales: drop the scale type");
    if (c->scheme == QS_QUANT_ASYM && kind != QS_QUANT_KIND_INT)
        return quant_fail(message, size, "scheme asym does not apply to %s: it scales by absmax, "
                          "write sym or leave the scheme out", name);
    if (c->scheme != QS_QUANT_SYM && c->scheme != QS_QUANT_ASYM)
        return quant_fail(message, size, "invalid scheme for %s", name);
    if (c->range == QS_QUANT_RANGE_PERCENTILE
        && (c->percentile_centi == 0 || c->percentile_centi > 10000))
        return quant_fail(message, size, "percentile %u.%02u out of range: it must be above 0 "
                          "and at most 100", c->percentile_centi / 100, c->percentile_centi % 100);
    if (c->range > QS_QUANT_RANGE_PERCENTILE || c->scale_type > QS_QUANT_SCALE_FP16)
        return quant_fail(message, size, "invalid range or scale type for %s", name);
    return QS_OK;
}

/* ---- Formatting ---- */

static enum qs_quant_scale_type
quant_default_scale_type(const struct qs_quant_config *c)
{
    return c->granularity == QS_QUANT_GRAN_GROUP ? QS_QUANT_SCALE_FP16 : QS_QUANT_SCALE_FP32;
}

/* Effective scale storage type of a checked configuration. */
static enum qs_quant_scale_type
quant_scale_type(const struct qs_quant_config *c)
{
    if (c->scale_type != QS_QUANT_SCALE_DEFAULT)
        return c->scale_type;
    return quant_default_scale_type(c);
}

int
qs_quant_config_format(const struct qs_quant_config *c, char *buf, size_t size)
{
    char gran[24] = "", range[16] = "", scale[16] = "";
    const char *name = qs_quant_format_name(c->format);

    if (qs_quant_format_kind(c->format) == QS_QUANT_KIND_CAST)
        return snprintf(buf, size, "%s", name);

    switch (c->granularity) {
    case QS_QUANT_GRAN_TENSOR:  snprintf(gran, sizeof(gran), "tensor"); break;
    case QS_QUANT_GRAN_CHANNEL: snprintf(gran, sizeof(gran), "channel"); break;
    case QS_QUANT_GRAN_GROUP:   snprintf(gran, sizeof(gran), "g%u", c->group_size); break;
    case QS_QUANT_GRAN_BLOCK:
        snprintf(gran, sizeof(gran), "b%u%s", c->group_size, c->double_quant ? ":dq" : "");
        break;
    default:                    snprintf(gran, sizeof(gran), "?"); break;
    }

    if (c->range == QS_QUANT_RANGE_MSE) {
        snprintf(range, sizeof(range), "mse");
    } else if (c->range == QS_QUANT_RANGE_PERCENTILE) {
        unsigned whole = c->percentile_centi / 100, frac = c->percentile_centi % 100;

        if (frac == 0)
            snprintf(range, sizeof(range), "p%u", whole);
        else if (frac % 10 == 0)
            snprintf(range, sizeof(range), "p%u.%u", whole, frac / 10);
        else
            snprintf(range, sizeof(range), "p%u.%02u", whole, frac);
    } else {
        snprintf(range, sizeof(range), "minmax");
    }

    if (c->scale_type != QS_QUANT_SCALE_DEFAULT && c->scale_type != quant_default_scale_type(c))
        snprintf(scale, sizeof(scale), ":scale=%s",
                 c->scale_type == QS_QUANT_SCALE_FP16 ? "fp16" : "fp32");

    return snprintf(buf, size, "%s:%s:%s:%s%s", name, gran,
                    c->scheme == QS_QUANT_ASYM ? "asym" : "sym", range, scale);
}

int
qs_quant_config_equal(const struct qs_quant_config *a, const struct qs_quant_config *b)
{
    int grouped = a->granularity == QS_QUANT_GRAN_GROUP || a->granularity == QS_QUANT_GRAN_BLOCK;
    int scaled = qs_quant_format_kind(a->format) != QS_QUANT_KIND_CAST;

    return a->format == b->format
        && a->granularity == b->granularity
        && (!grouped || a->group_size == b->group_size)
        && a->double_quant == b->double_quant
        && a->scheme == b->scheme
        && a->range == b->range
        && (a->range != QS_QUANT_RANGE_PERCENTILE || a->percentile_centi == b->percentile_centi)
        && (!scaled || quant_scale_type(a) == quant_scale_type(b));
}

/* ---- Layouts ---- */

enum qs_status
qs_quant_layout_init(struct qs_quant_layout *layout, const int64_t *dims, int rank,
                     int channel_axis, int group_axis, struct qs_diag *diag, const char *file)
{
    uint64_t count = 1;

    memset(layout, 0, sizeof(*layout));
    if (rank < 0 || channel_axis < -1 || channel_axis >= rank || group_axis < -1
        || group_axis >= rank || (channel_axis >= 0 && channel_axis == group_axis))
        return qs_diag_add(diag, QS_INVALID, file,
                           "invalid axes for quantization "
                           "(rank %d, channel axis %d, group axis %d)",
                           rank, channel_axis, group_axis);
    for (int d = rank - 1; d >= 0; d--) {
        if (dims[d] < 0)
            return qs_diag_add(diag, QS_INVALID, file, "negative dimension %lld (axis %d)",
                               (long long)dims[d], d);
        if (d == channel_axis) {
            layout->channels = (uint64_t)dims[d];
            layout->channel_inner = count;
        }
        if (d == group_axis) {
            layout->group_len = (uint64_t)dims[d];
            layout->group_inner = count;
        }
        if (qs_mul_overflow_u64(count, (uint64_t)dims[d], &count))
            return qs_diag_add(diag, QS_INVALID, file, "element count overflows 64 bits");
    }
    layout->count = count;
    return QS_OK;
}

void
qs_quant_layout_matmul_b(struct qs_quant_layout *layout, uint64_t k, uint64_t n)
{
    layout->count = k * n;
    layout->channels = n;
    layout->channel_inner = 1;
    layout->group_len = k;
    layout->group_inner = n;
}

/* ---- Sizes ---- */

/* Number of scale entries; fails when the layout lacks the axis. */
static enum qs_status
quant_scale_entries(const struct qs_quant_config *c, const struct qs_quant_layout *l,
                    uint64_t *entries, char *message, size_t size)
{
    uint64_t blocks;

    switch (c->granularity) {
    case QS_QUANT_GRAN_NONE:
        *entries = 0;
        return QS_OK;
    case QS_QUANT_GRAN_TENSOR:
        *entries = 1;
        return QS_OK;
    case QS_QUANT_GRAN_CHANNEL:
        if (l->channels == 0 && l->count > 0)
            return quant_fail(message, size, "per-channel quantization needs a channel axis, "
                              "and this weight has none");
        *entries = l->channels;
        return QS_OK;
    default:
        if (l->group_len == 0 && l->count > 0)
            return quant_fail(message, size, "per-group quantization needs a group axis, "
                              "and this weight has none");
        if (l->count == 0) {
            *entries = 0;
            return QS_OK;
        }
        blocks = l->group_len / c->group_size + (l->group_len % c->group_size != 0);
        if (qs_mul_overflow_u64(l->count / l->group_len, blocks, entries)) {
            quant_fail(message, size, "scale count overflows 64 bits");
            return QS_INVALID;
        }
        return QS_OK;
    }
}

enum qs_status
qs_quant_sizes_compute(const struct qs_quant_config *c, const struct qs_quant_layout *l,
                       struct qs_quant_sizes *s, char *message, size_t size)
{
    int bits = qs_quant_format_bits(c->format);
    uint64_t entries = 0, scale_bits, second;
    enum qs_status status;

    memset(s, 0, sizeof(*s));
    status = qs_quant_config_check(c, message, size);
    if (status != QS_OK)
        return status;
    status = quant_scale_entries(c, l, &entries, message, size);
    if (status != QS_OK)
        return status;
    /* With at most 2^56 elements (and so at most 2^56 scales) no bit count
     * below can overflow: each part is under 2^61. */
    if (l->count > QUANT_MAX_ELEMENTS) {
        quant_fail(message, size, "weight of %llu elements is too large (limit 2^56)",
                   (unsigned long long)l->count);
        return QS_INVALID;
    }

    s->count = l->count;
    s->scales = entries;
    if (c->double_quant) {
        /* 8-bit codes, one fp32 absmax per 256 of them, one fp32 mean. */
        second = entries / QUANT_DQ_BLOCK + (entries % QUANT_DQ_BLOCK != 0);
        scale_bits = entries * 8 + second * 32 + (entries ? 32 : 0);
    } else {
        scale_bits = entries * (quant_scale_type(c) == QS_QUANT_SCALE_FP16 ? 16 : 32);
    }
    s->payload_bits = l->count * (uint64_t)bits;
    s->scale_bits = scale_bits;
    s->zero_point_bits = c->scheme == QS_QUANT_ASYM ? entries * (uint64_t)bits : 0;
    s->total_bits = s->payload_bits + s->scale_bits + s->zero_point_bits;
    s->payload_bytes = (s->payload_bits + 7) / 8;
    s->scale_bytes = (s->scale_bits + 7) / 8;
    s->zero_point_bytes = (s->zero_point_bits + 7) / 8;
    s->bits_per_weight = l->count ? (double)s->total_bits / (double)l->count : 0.0;
    return QS_OK;
}

/* ---- Metrics ---- */

void
qs_quant_metrics_init(struct qs_quant_metrics *m)
{
    memset(m, 0, sizeof(*m));
    qs_quant_metrics_finish(m);
}

void
qs_quant_metrics_add(struct qs_quant_metrics *total, const struct qs_quant_metrics *part)
{
    total->count += part->count;
    total->sum_sq_err += part->sum_sq_err;
    total->signal_energy += part->signal_energy;
    total->dot += part->dot;
    total->deq_energy += part->deq_energy;
    if (part->max_abs_err > total->max_abs_err || isnan(part->max_abs_err))
        total->max_abs_err = part->max_abs_err;
}

void
qs_quant_metrics_finish(struct qs_quant_metrics *m)
{
    double norms = m->signal_energy * m->deq_energy;

    m->mse = m->count ? m->sum_sq_err / (double)m->count : 0.0;
    m->rmse = sqrt(m->mse);
    m->exact = m->sum_sq_err == 0.0;
    if (m->exact)
        m->sqnr_db = INFINITY;
    else
        m->sqnr_db = 10.0 * log10(m->signal_energy / m->sum_sq_err);
    if (m->signal_energy == 0.0 && m->deq_energy == 0.0)
        m->cosine = 1.0;
    else if (norms == 0.0)
        m->cosine = 0.0;
    else
        m->cosine = m->dot / sqrt(norms);
    /* Rounding in the sums may carry the quotient just past 1. */
    if (m->cosine > 1.0)
        m->cosine = 1.0;
    else if (m->cosine < -1.0)
        m->cosine = -1.0;
}
