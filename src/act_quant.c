/*
 * Activation quantization: configuration strings, range selection from
 * calibration histograms, fake quantization and trials on real
 * activations.
 */
#include "config.h"
#include "act_quant.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* Grid of the MSE search: 100 ratios of absmax from 1.0 down to 0.2, as for weights. */
#define MSE_GRID_STEPS 100
#define MSE_GRID_LOW 0.2

/* Golden-section iterations: the bracket shrinks by 0.618 each, far below float precision. */
#define MSE_GOLDEN_ITERATIONS 60

/* Smoothing mass given to each empty bin before KL divergence, as TensorRT's method does. */
#define ENTROPY_EPS 1e-4

/* ---- configuration strings --------------------------------------------- */

static const char *const mode_names[] = { "tensor", "dynamic", "token" };

/* Write one line to "message" when the caller asked for it. */
static void set_message(char *message, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_message(char *message, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (!message || size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(message, size, fmt, ap);
    va_end(ap);
}

static int
parse_percentile(const char *text, uint32_t *centi)
{
    const char *dot;
    char *end;
    double value;

    if (strcmp(text, "p") == 0) {
        *centi = 9999;
        return 0;
    }
    if (text[0] != 'p' || text[1] < '0' || text[1] > '9')
        return -1;
    dot = strchr(text, '.');
    if (dot && strlen(dot + 1) > 2)
        return -1;
    errno = 0;
    value = strtod(text + 1, &end);
    if (errno || *end || !(value > 0.0) || value > 100.0)
        return -1;
    *centi = (uint32_t)lround(value * 100.0);
    return 0;
}

static int
parse_range_part(const char *part, struct qs_act_config *config)
{
    if (strcmp(part, "minmax") == 0)
        config->range = QS_ACT_RANGE_MINMAX;
    else if (strcmp(part, "mse") == 0)
        config->range = QS_ACT_RANGE_MSE;
    else if (strcmp(part, "entropy") == 0 || strcmp(part, "kl") == 0)
        config->range = QS_ACT_RANGE_ENTROPY;
    else if (parse_percentile(part, &config->percentile_centi) == 0)
        config->range = QS_ACT_RANGE_PERCENTILE;
    else
        return -1;
    return 0;
}

/*
 * Parse one optional part that may stand at position "stage" or later (1
 * mode, 2 scheme, 3 range).  Returns the position it took, or 0.
 */
static int
parse_part(const char *part, int stage, struct qs_act_config *config)
{
    for (int m = 0; stage <= 1 && m < 3; m++) {
        if (strcmp(part, mode_names[m]) == 0) {
            config->mode = (enum qs_act_mode)m;
            return 1;
        }
    }
    if (stage <= 2 && (strcmp(part, "sym") == 0 || strcmp(part, "asym") == 0)) {
        config->scheme = strcmp(part, "sym") == 0 ? QS_QUANT_SYM : QS_QUANT_ASYM;
        return 2;
    }
    if (stage <= 3 && parse_range_part(part, config) == 0)
        return 3;
    return 0;
}

enum qs_status
qs_act_config_parse(const char *text, struct qs_act_config *config, char *message, size_t size)
{
    char *copy = qs_strdup(text);
    char *save = NULL;
    char *part = strtok_r(copy, ":", &save);
    int stage = 0, range_given = 0;
    enum qs_status status = QS_OK;

    memset(config, 0, sizeof(*config));
    config->scheme = QS_QUANT_ASYM;
    if (!part || (strcmp(part, "int8") != 0 && strcmp(part, "int16") != 0)) {
        set_message(message, size, "invalid activation format '%s' (expected int8 or int16)",
                    part ? part : "");
        free(copy);
        return QS_USAGE;
    }
    config->bits = strcmp(part, "int8") == 0 ? 8 : 16;

    while (status == QS_OK && (part = strtok_r(NULL, ":", &save)) != NULL) {
        int used = parse_part(part, stage + 1, config);

        if (used == 0) {
            set_message(message, size, "invalid part '%s' in activation configuration '%s' "
                        "(expected [tensor|dynamic|token][:sym|asym][:minmax|pNN.NN|entropy|"
                        "mse], in this order)", part, text);
            status = QS_USAGE;
        }
        range_given |= used == 3;
        stage = used;
    }
    if (status == QS_OK && range_given && config->mode != QS_ACT_STATIC) {
        set_message(message, size, "activation configuration '%s': a range method applies to "
                    "static (tensor) scales only", text);
        status = QS_USAGE;
    }
    free(copy);
    return status;
}

int
qs_act_config_format(const struct qs_act_config *config, char *buf, size_t size)
{
    const char *scheme = config->scheme == QS_QUANT_SYM ? "sym" : "asym";
    char range[16];

    if (config->mode != QS_ACT_STATIC)
        return snprintf(buf, size, "int%d:%s:%s", config->bits, mode_names[config->mode],
                        scheme);
    switch (config->range) {
    case QS_ACT_RANGE_MINMAX:  snprintf(range, sizeof(range), "minmax"); break;
    case QS_ACT_RANGE_ENTROPY: snprintf(range, sizeof(range), "entropy"); break;
    case QS_ACT_RANGE_MSE:     snprintf(range, sizeof(range), "mse"); break;
    case QS_ACT_RANGE_PERCENTILE:
        snprintf(range, sizeof(range), "p%u.%02u", config->percentile_centi / 100,
                 config->percentile_centi % 100);
        break;
    }
    return snprintf(buf, size, "int%d:tensor:%s:%s", config->bits, scheme, range);
}

/* ---- scales ------------------------------------------------------------ */

void
qs_act_params_from_range(const struct qs_act_config *config, double lo, double hi,
                         struct qs_act_params *p)
{
    double scale;

    memset(p, 0, sizeof(*p));
    p->lo = fmin(lo, 0.0);
    p->hi = fmax(hi, 0.0);
    if (config->scheme == QS_QUANT_SYM) {
        p->qmax = (1 << (config->bits - 1)) - 1;
        p->qmin = -p->qmax;
        scale = fmax(-p->lo, p->hi) / p->qmax;
    } else {
        p->qmin = 0;
        p->qmax = (int32_t)((1u << config->bits) - 1);
        scale = (p->hi - p->lo) / p->qmax;
    }
    p->scale = (float)scale;
    if (!(p->scale >= FLT_MIN) || !isfinite(p->scale)) {
        p->scale = 1.0f;
        p->flagged = 1;
        return;
    }
    if (config->scheme == QS_QUANT_ASYM) {
        double zp = rint(-p->lo / (double)p->scale);

        p->zero_point = (int32_t)fmin(fmax(zp, p->qmin), p->qmax);
    }
}

void
qs_act_fake_quant(const struct qs_act_params *p, const float *x, float *out, uint64_t n,
                  struct qs_quant_metrics *m)
{
    double scale = p->scale;

    for (uint64_t i = 0; i < n; i++) {
        double v = x[i], q, err;
        float y;

        if (!isfinite(v)) {
            out[i] = x[i];
            continue;
        }
        if (p->flagged) {
            y = 0.0f;
        } else {
            q = rint(v / scale) + p->zero_point;
            q = fmin(fmax(q, p->qmin), p->qmax);
            /* The end code of a range near FLT_MAX can land past it: saturate, as weights do. */
            y = (float)fmin(fmax((q - p->zero_point) * scale, -FLT_MAX), FLT_MAX);
        }
        out[i] = y;
        err = v - y;
        m->count++;
        m->sum_sq_err += err * err;
        m->signal_energy += v * v;
        m->dot += v * y;
        m->deq_energy += (double)y * y;
        if (fabs(err) > m->max_abs_err)
            m->max_abs_err = fabs(err);
    }
}

/* Finite min and max of "n" values; both 0 when there is none. */
static void
finite_range(const float *x, uint64_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        *lo = fmin(*lo, x[i]);
        *hi = fmax(*hi, x[i]);
    }
    if (*lo > *hi)
        *lo = *hi = 0.0;
}

static void
quantize_dynamic(const struct qs_act_config *config, const float *x, float *out, uint64_t n,
                 struct qs_quant_metrics *metrics, uint64_t *flagged)
{
    struct qs_act_params p;
    double lo, hi;

    finite_range(x, n, &lo, &hi);
    qs_act_params_from_range(config, lo, hi, &p);
    if (flagged)
        *flagged += (uint64_t)p.flagged;
    qs_act_fake_quant(&p, x, out, n, metrics);
}

void
qs_act_quantize(const struct qs_act_config *config, const struct qs_act_params *params,
                const float *x, float *out, int rank, const int64_t *dims, uint64_t count,
                struct qs_quant_metrics *metrics, uint64_t *flagged)
{
    uint64_t row;

    switch (config->mode) {
    case QS_ACT_STATIC:
        if (flagged)
            *flagged += (uint64_t)params->flagged;
        qs_act_fake_quant(params, x, out, count, metrics);
        break;
    case QS_ACT_DYNAMIC:
        quantize_dynamic(config, x, out, count, metrics, flagged);
        break;
    case QS_ACT_TOKEN:
        row = rank > 0 ? (uint64_t)dims[rank - 1] : 1;
        for (uint64_t start = 0; row > 0 && start < count; start += row)
            quantize_dynamic(config, x + start, out + start, row, metrics, flagged);
        break;
    }
}

enum qs_status
qs_act_quantize_tensor(const struct qs_act_config *config, const struct qs_act_params *params,
                       struct qs_rt_tensor **tensor, struct qs_quant_metrics *metrics,
                       uint64_t *flagged)
{
    struct qs_rt_tensor *t = *tensor, *copy;
    enum qs_status status;

    if (!qs_rt_is_float(t->dtype))
        return QS_OK;
    if (qs_rt_unique(t)) {
        qs_act_quantize(config, params, t->data, t->data, t->rank, t->dims, t->count, metrics,
                        flagged);
        return QS_OK;
    }

    /* The data is shared (a view, or a tensor someone else holds): quantize into a copy. */
    status = qs_rt_new(t->dtype, t->rank, t->dims, &copy);
    if (status != QS_OK)
        return status;
    qs_act_quantize(config, params, t->data, copy->data, t->rank, t->dims, t->count, metrics,
                    flagged);
    qs_rt_unref(t);
    *tensor = copy;
    return QS_OK;
}

/* ---- range searches ---------------------------------------------------- */

double
qs_act_hist_percentile(const uint64_t *hist, size_t bins, double hi, double percent)
{
    double total = 0.0, target, cum = 0.0;

    for (size_t i = 0; i < bins; i++)
        total += (double)hist[i];
    if (total == 0.0)
        return 0.0;
    target = percent / 100.0 * total;
    for (size_t i = 0; i < bins; i++) {
        double c = (double)hist[i];

        if (c > 0.0 && cum + c >= target)
            return ((double)i + (target - cum) / c) * hi / (double)bins;
        cum += c;
    }
    return hi;
}

/*
 * Normalise "d" (n entries), then give each zero ENTROPY_EPS, taken
 * evenly from the nonzero entries.  Returns -1 when that would make an
 * entry negative or there is nothing to normalise.
 */
static int
smooth(double *d, size_t n)
{
    double sum = 0.0, take;
    size_t zeros = 0;

    for (size_t k = 0; k < n; k++) {
        sum += d[k];
        zeros += d[k] == 0.0;
    }
    if (sum <= 0.0 || zeros == n)
        return -1;
    take = ENTROPY_EPS * (double)zeros / (double)(n - zeros);
    for (size_t k = 0; k < n; k++) {
        d[k] /= sum;
        if (d[k] == 0.0)
            d[k] = ENTROPY_EPS;
        else if (d[k] <= take)
            return -1;
        else
            d[k] -= take;
    }
    return 0;
}

/* KL(P || Q) for the first "i" bins with "target" merged groups. */
static double
entropy_at(const uint64_t *hist, const double *above, size_t i, size_t target, double *p,
           double *q)
{
    size_t merged = i / target;
    double kl = 0.0;

    for (size_t k = 0; k < i; k++)
        p[k] = (double)hist[k];
    p[i - 1] += above[i];

    for (size_t j = 0; j < target; j++) {
        size_t start = j * merged, end = j + 1 == target ? i : start + merged;
        double sum = 0.0;
        size_t nonzero = 0;

        for (size_t k = start; k < end; k++) {
            sum += (double)hist[k];
            nonzero += p[k] > 0.0;
        }
        for (size_t k = start; k < end; k++)
            q[k] = p[k] > 0.0 ? sum / (double)nonzero : 0.0;
    }

    if (smooth(p, i) != 0 || smooth(q, i) != 0)
        return INFINITY;
    for (size_t k = 0; k < i; k++)
        kl += p[k] * log(p[k] / q[k]);
    return kl;
}

double
qs_act_hist_entropy(const uint64_t *hist, size_t bins, double hi, size_t target,
                    double *divergence)
{
    size_t stop = 0, best;
    double best_kl = INFINITY;
    double *above, *p, *q;

    for (size_t k = 0; divergence && target <= bins && k <= bins - target; k++)
        divergence[k] = NAN;
    for (size_t k = bins; k-- > 0;) {
        if (hist[k]) {
            stop = k + 1;
            break;
        }
    }
    if (target == 0 || stop <= target)
        return (double)stop * hi / (double)bins;

    /* above[i]: the counts of bins i and up, folded into bin i - 1 of P. */
    above = qs_calloc(bins + 1, sizeof(double));
    for (size_t k = bins; k-- > 0;)
        above[k] = above[k + 1] + (double)hist[k];
    p = qs_calloc(stop, sizeof(double));
    q = qs_calloc(stop, sizeof(double));

    best = stop;
    for (size_t i = target; i <= stop; i++) {
        double kl = entropy_at(hist, above, i, target, p, q);

        if (divergence)
            divergence[i - target] = kl;
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    free(above);
    free(p);
    free(q);
    return (double)best * hi / (double)bins;
}

/* One MSE search: the histogram, its grid and the largest |x|. */
struct mse_search {
    const uint64_t *hist;
    size_t bins;
    double hi;
    uint64_t zeros;
    const struct qs_act_grid *grid;
    double absmax;
};

/* Integral over [0, x] of (t - step * round(t / step))^2 dt, for x >= 0. */
static double
cell_integral(double x, double step)
{
    double m = floor(x / step + 0.5);    /* the cell whose centre x rounds to */
    double y = x - m * step;             /* in [-step / 2, step / 2) */
    double s3 = step * step * step;

    return m * s3 / 12.0 + (y * y * y + s3 / 8.0) / 3.0 - s3 / 24.0;
}

/* Squared error integrated over [a, b] with step "step" and clipping at "t". */
static double
segment_error(double a, double b, double step, double t)
{
    if (b <= t)
        return cell_integral(b, step) - cell_integral(a, step);
    if (a >= t)
        return (pow(b - t, 3) - pow(a - t, 3)) / 3.0;
    return cell_integral(t, step) - cell_integral(a, step) + pow(b - t, 3) / 3.0;
}

double
qs_act_grid_step(const struct qs_act_grid *grid, double threshold)
{
    double lo, hi;

    if (grid->scheme == QS_QUANT_SYM)
        return threshold / (double)((1 << (grid->bits - 1)) - 1);
    lo = fmin(fmax(grid->min, -threshold), 0.0);
    hi = fmax(fmin(grid->max, threshold), 0.0);
    return (hi - lo) / (double)((1u << grid->bits) - 1);
}

double
qs_act_hist_expected_sse(const uint64_t *hist, size_t bins, double hi, uint64_t zeros,
                         double step, double threshold)
{
    double width = hi / (double)bins;
    double sse = 0.0;

    if (!(threshold > 0.0) || !(width > 0.0) || !(step > 0.0))
        return 0.0;
    for (size_t i = 0; i < bins; i++) {
        double a = (double)i * width, b = a + width;
        double count = (double)hist[i];

        if (i == 0)
            count -= fmin((double)zeros, count);    /* exact zeros have no error */
        if (count > 0.0)
            sse += count * segment_error(a, b, step, threshold) / width;
    }
    return sse;
}

/* Expected squared error at threshold "ratio" * absmax on the grid "grid". */
static double
mse_at(const struct mse_search *m, double ratio)
{
    double threshold = ratio * m->absmax;

    return qs_act_hist_expected_sse(m->hist, m->bins, m->hi, m->zeros,
                                    qs_act_grid_step(m->grid, threshold), threshold);
}

/* Golden-section search for the least error on [a, b]; returns the best ratio seen. */
static double
mse_refine(const struct mse_search *m, double a, double b, double best_ratio, double best)
{
    const double golden = (sqrt(5.0) - 1.0) / 2.0;
    double c = b - golden * (b - a), d = a + golden * (b - a);
    double fc = mse_at(m, c), fd = mse_at(m, d);

    for (int it = 0; it < MSE_GOLDEN_ITERATIONS; it++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - golden * (b - a);
            fc = mse_at(m, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + golden * (b - a);
            fd = mse_at(m, d);
        }
    }
    if (fmin(fc, fd) < best)
        best_ratio = fc < fd ? c : d;
    return best_ratio;
}

double
qs_act_hist_mse(const uint64_t *hist, size_t bins, double hi, uint64_t zeros,
                const struct qs_act_grid *grid, double absmax)
{
    const double step = (1.0 - MSE_GRID_LOW) / (MSE_GRID_STEPS - 1);
    struct mse_search m = { hist, bins, hi, zeros, grid, absmax };
    double best_ratio = 1.0, best;

    if (!(absmax > 0.0))
        return 0.0;
    best = mse_at(&m, 1.0);
    for (int k = 1; k < MSE_GRID_STEPS; k++) {
        double ratio = 1.0 - step * k;
        double sse = mse_at(&m, ratio);

        if (sse < best) {
            best = sse;
            best_ratio = ratio;
        }
    }
    best_ratio = mse_refine(&m, fmax(MSE_GRID_LOW, best_ratio - step),
                            fmin(1.0, best_ratio + step), best_ratio, best);
    return best_ratio * absmax;
}

/*
 * Entropy threshold of "t" with bin 0 given the count of bin 1, as
 * NVIDIA's pytorch-quantization (TensorRT tools, calib/histogram.py)
 * does: the spike of exact zeros after a ReLU would otherwise dominate
 * the divergence and favour thresholds that keep bin 0 unmerged.
 */
static double
entropy_threshold(const struct qs_calib_tensor *t, size_t target)
{
    uint64_t *hist = qs_calloc(QS_CALIB_BINS, sizeof(*hist));
    double threshold;

    memcpy(hist, t->hist, QS_CALIB_BINS * sizeof(*hist));
    hist[0] = hist[1];
    threshold = qs_act_hist_entropy(hist, QS_CALIB_BINS, t->hist_hi, target, NULL);
    free(hist);
    return threshold;
}

void
qs_act_static_params(const struct qs_act_config *config, const struct qs_calib_tensor *t,
                     struct qs_act_params *params)
{
    double threshold = t->absmax;
    struct qs_act_grid grid;
    size_t target;

    if (t->count == 0) {
        qs_act_params_from_range(config, 0.0, 0.0, params);
        return;
    }
    switch (config->range) {
    case QS_ACT_RANGE_MINMAX:
        break;
    case QS_ACT_RANGE_PERCENTILE:
        threshold = qs_act_hist_percentile(t->hist, QS_CALIB_BINS, t->hist_hi,
                                           config->percentile_centi / 100.0);
        break;
    case QS_ACT_RANGE_ENTROPY:
        target = config->bits == 8 ? QS_ACT_ENTROPY_TARGET_BINS : (size_t)1 << (config->bits - 1);
        threshold = entropy_threshold(t, target);
        break;
    case QS_ACT_RANGE_MSE:
        grid.scheme = config->scheme;
        grid.bits = config->bits;
        grid.min = t->min;
        grid.max = t->max;
        threshold = qs_act_hist_mse(t->hist, QS_CALIB_BINS, t->hist_hi, t->zeros, &grid,
                                    t->absmax);
        break;
    }
    threshold = fmin(threshold, t->absmax);
    if (config->scheme == QS_QUANT_SYM)
        qs_act_params_from_range(config, -threshold, threshold, params);
    else
        qs_act_params_from_range(config, fmax(t->min, -threshold), fmin(t->max, threshold),
                                 params);
}

/* ---- trials on real activations ---------------------------------------- */

struct trial_ctx {
    const struct qs_act_config *config;
    const struct qs_calib *calib;
    struct qs_act_trial *trial;
    struct qs_strmap *index;     /* name -> result index + 1 */
    size_t cap;
    float *scratch;
    uint64_t scratch_len;
    const char *file;
    struct qs_diag *diag;
};

static size_t
trial_entry(struct trial_ctx *ctx, const struct qs_value *value, char *name)
{
    struct qs_act_trial *trial = ctx->trial;
    size_t found = (uintptr_t)qs_strmap_get(ctx->index, name);
    const struct qs_calib_tensor *t;
    struct qs_act_result *r;
    char op[128];

    if (found) {
        free(name);
        return found - 1;
    }
    if (trial->count == ctx->cap) {
        ctx->cap = ctx->cap ? 2 * ctx->cap : 64;
        trial->items = qs_reallocarray(trial->items, ctx->cap, sizeof(*r));
    }
    r = &trial->items[trial->count];
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->op = qs_strdup(value->producer ? qs_node_qualified_op(value->producer, op, sizeof(op))
                                      : "input");
    if (ctx->config->mode == QS_ACT_STATIC) {
        t = ctx->calib ? qs_calib_find(ctx->calib, name) : NULL;
        r->uncalibrated = t == NULL;
        if (t)
            qs_act_static_params(ctx->config, t, &r->params);
        else
            qs_diag_warn(ctx->diag, ctx->file, "activation '%s' has no calibration "
                         "statistics: left out of the trial", name);
    }
    qs_strmap_put(ctx->index, r->name, (void *)(uintptr_t)(trial->count + 1));
    return trial->count++;
}

static enum qs_status
trial_observe(void *opaque, const struct qs_value *value, const struct qs_rt_tensor *tensor)
{
    struct trial_ctx *ctx = opaque;
    size_t i;
    struct qs_act_result *r;

    if (!qs_rt_is_float(tensor->dtype))
        return QS_OK;
    i = trial_entry(ctx, value, qs_calib_scoped_name(value));
    r = &ctx->trial->items[i];
    if (r->uncalibrated)
        return QS_OK;
    if (tensor->count > ctx->scratch_len) {
        free(ctx->scratch);
        ctx->scratch = qs_calloc(tensor->count, sizeof(float));
        ctx->scratch_len = tensor->count;
    }
    qs_act_quantize(ctx->config, &r->params, tensor->data, ctx->scratch, tensor->rank,
                    tensor->dims, tensor->count, &r->metrics, &r->flagged);
    return QS_OK;
}

static enum qs_status
trial_sample(struct qs_interp *interp, const struct qs_input_set *inputs, size_t s,
             struct trial_ctx *ctx)
{
    size_t n_out = qs_interp_n_outputs(interp);
    struct qs_rt_tensor **outputs = qs_calloc(n_out + 1, sizeof(*outputs));
    enum qs_status status;

    for (size_t i = 0; i < inputs->n_inputs; i++)
        trial_observe(ctx, qs_interp_input(interp, i), qs_inputs_get(inputs, s, i));
    status = qs_interp_run(interp, inputs->tensors + s * inputs->n_inputs, outputs, ctx->diag);
    for (size_t i = 0; i < n_out; i++)
        qs_rt_unref(outputs[i]);
    free(outputs);
    return status;
}

enum qs_status
qs_act_trial_run(struct qs_interp *interp, const struct qs_input_set *inputs,
                 const struct qs_act_config *config, const struct qs_calib *calib,
                 const char *file, struct qs_diag *diag, struct qs_act_trial *trial)
{
    struct trial_ctx ctx = {
        .config = config, .calib = calib, .trial = trial, .index = qs_strmap_new(),
        .file = file, .diag = diag,
    };
    struct qs_interp_hooks hooks = { .observe = trial_observe, .ctx = &ctx };
    enum qs_status status = QS_OK;

    memset(trial, 0, sizeof(*trial));
    if (config->mode == QS_ACT_STATIC && !calib)
        return qs_diag_add(diag, QS_USAGE, file, "static activation scales need calibration "
                           "statistics (a .qstats file)");
    qs_interp_set_hooks(interp, &hooks);
    for (size_t s = 0; s < inputs->n_samples && status == QS_OK; s++)
        status = trial_sample(interp, inputs, s, &ctx);
    qs_interp_set_hooks(interp, NULL);

    for (size_t i = 0; i < trial->count; i++)
        qs_quant_metrics_finish(&trial->items[i].metrics);
    qs_strmap_free(ctx.index);
    free(ctx.scratch);
    return status;
}

void
qs_act_trial_done(struct qs_act_trial *trial)
{
    for (size_t i = 0; i < trial->count; i++) {
        free(trial->items[i].name);
        free(trial->items[i].op);
    }
    free(trial->items);
    memset(trial, 0, sizeof(*trial));
}
