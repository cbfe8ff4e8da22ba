/*
 * Signal ops of opset 17: DFT, STFT, the Hann, Hamming and Blackman
 * windows, and MelWeightMatrix.  Transforms are direct O(n^2) sums in
 * double precision with a table of twiddle factors.  Complex values are a
 * trailing axis of 2 (real, imaginary), real inputs a trailing axis of 1.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

/* One transform of "n" points: out[k] = scale * sum_j in[j] * exp(sign * 2 pi i j k / n). */
struct dft_plan {
    int64_t n;
    double *cos_table, *sin_table;       /* of 2 pi m / n, m < n */
    double sign, scale;
};

static void
dft_plan_init(struct dft_plan *p, int64_t n, int inverse)
{
    p->n = n;
    p->cos_table = qs_calloc((size_t)n + 1, sizeof(double));
    p->sin_table = qs_calloc((size_t)n + 1, sizeof(double));
    for (int64_t m = 0; m < n; m++) {
        p->cos_table[m] = cos(2 * M_PI * (double)m / (double)n);
        p->sin_table[m] = sin(2 * M_PI * (double)m / (double)n);
    }
    p->sign = inverse ? 1 : -1;
    p->scale = inverse ? 1.0 / (double)n : 1.0;
}

static void
dft_plan_done(struct dft_plan *p)
{
    free(p->cos_table);
    free(p->sin_table);
}

/* Transform "len" input points (fewer than n are zero-padded) into "bins" outputs. */
static void
dft_line(const struct dft_plan *p, const double *re, const double *im, int64_t len, int64_t bins,
         double *out_re, double *out_im)
{
    for (int64_t k = 0; k < bins; k++) {
        double sr = 0, si = 0;

        for (int64_t j = 0; j < len && j < p->n; j++) {
            int64_t m = (int64_t)(((uint64_t)j * (uint64_t)k) % (uint64_t)p->n);
            double c = p->cos_table[m], s = p->sign * p->sin_table[m];

            sr += re[j] * c - im[j] * s;
            si += re[j] * s + im[j] * c;
        }
        out_re[k] = sr * p->scale;
        out_im[k] = si * p->scale;
    }
}

enum qs_status
op_dft(struct interp_call *call)
{
    const struct qs_rt_tensor *x;
    int64_t dims[QS_RT_MAX_RANK], n, bins, len;
    int axis, inverse = (int)qs_node_attr_int(call->node, "inverse", 0);
    int onesided = (int)qs_node_attr_int(call->node, "onesided", 0), complex_in;
    uint64_t outer, inner;
    struct dft_plan plan;
    double *re, *im, *ore, *oim;
    enum qs_status st = interp_need_float(call, 0);

    if (st == QS_OK)
        st = interp_need_rank(call, 0, 2, QS_RT_MAX_RANK);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    complex_in = x->dims[x->rank - 1] == 2;
    if (x->dims[x->rank - 1] != 1 && !complex_in)
        return interp_fail(call, QS_INVALID, "the last axis must be 1 (real) or 2 (complex)");
    st = interp_axis(call, qs_node_attr_int(call->node, "axis", 1), x->rank - 1, &axis);
    if (st != QS_OK)
        return st;
    len = x->dims[axis];
    st = interp_scalar_int(call, 1, len, &n);
    if (st == QS_OK && (n < 1 || n > (1 << 24)))
        st = interp_fail(call, QS_INVALID, "dft_length %lld is out of range", (long long)n);
    if (st != QS_OK)
        return st;
    bins = onesided ? n / 2 + 1 : n;
    memcpy(dims, x->dims, sizeof(dims));
    dims[axis] = bins;
    dims[x->rank - 1] = 2;
    st = interp_new(call, x->dtype, x->rank, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    outer = rt_span(x->dims, 0, axis);
    inner = rt_span(x->dims, axis + 1, x->rank - 1);
    dft_plan_init(&plan, n, inverse);
    re = qs_calloc((size_t)len + 1, sizeof(*re));
    im = qs_calloc((size_t)len + 1, sizeof(*im));
    ore = qs_calloc((size_t)bins + 1, sizeof(*ore));
    oim = qs_calloc((size_t)bins + 1, sizeof(*oim));
    for (uint64_t o = 0; o < outer; o++) {
        for (uint64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < len; j++) {
                uint64_t at = (o * (uint64_t)len + (uint64_t)j) * inner + i;
                const float *e = rt_f(x) + at * (complex_in ? 2 : 1);

                re[j] = e[0];
                im[j] = complex_in ? e[1] : 0;
            }
            dft_line(&plan, re, im, len, bins, ore, oim);
            for (int64_t k = 0; k < bins; k++) {
                uint64_t at = (o * (uint64_t)bins + (uint64_t)k) * inner + i;
                float *e = rt_f(call->out[0]) + at * 2;

                e[0] = (float)ore[k];
                e[1] = (float)oim[k];
            }
        }
    }
    dft_plan_done(&plan);
    free(re);
    free(im);
    free(ore);
    free(oim);
    return QS_OK;
}

enum qs_status
op_stft(struct interp_call *call)
{
    const struct qs_rt_tensor *x, *window;
    int64_t step, flen, frames, bins, dims[4], slen;
    int onesided = (int)qs_node_attr_int(call->node, "onesided", 1), complex_in;
    struct dft_plan plan;
    double *re, *im, *ore, *oim;
    enum qs_status st = interp_need_rank(call, 0, 3, 3);

    if (st == QS_OK)
        st = interp_need_float(call, 0);
    if (st == QS_OK)
        st = interp_scalar_int(call, 1, 0, &step);
    if (st != QS_OK)
        return st;
    x = call->in[0];
    window = call->n_in > 2 ? call->in[2] : NULL;
    st = interp_scalar_int(call, 3, window ? (int64_t)window->count : 0, &flen);
    if (st != QS_OK)
        return st;
    complex_in = x->dims[2] == 2;
    slen = x->dims[1];
    if (step < 1 || flen < 1 || flen > slen || flen > (1 << 24)
        || (window && window->count != (uint64_t)flen) || (x->dims[2] != 1 && !complex_in))
        return interp_fail(call, QS_INVALID,
                           "frame_step, frame_length or window do not fit the signal");
    frames = (slen - flen) / step + 1;
    bins = onesided ? flen / 2 + 1 : flen;
    dims[0] = x->dims[0];
    dims[1] = frames;
    dims[2] = bins;
    dims[3] = 2;
    st = interp_new(call, x->dtype, 4, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    dft_plan_init(&plan, flen, 0);
    re = qs_calloc((size_t)flen, sizeof(*re));
    im = qs_calloc((size_t)flen, sizeof(*im));
    ore = qs_calloc((size_t)bins, sizeof(*ore));
    oim = qs_calloc((size_t)bins, sizeof(*oim));
    for (int64_t b = 0; b < x->dims[0]; b++) {
        for (int64_t f = 0; f < frames; f++) {
            for (int64_t j = 0; j < flen; j++) {
                const float *e = rt_f(x) + ((b * slen) + f * step + j) * x->dims[2];
                double w = window ? rt_f(window)[j] : 1.0;

                re[j] = e[0] * w;
                im[j] = complex_in ? e[1] * w : 0;
            }
            dft_line(&plan, re, im, flen, bins, ore, oim);
            for (int64_t k = 0; k < bins; k++) {
                float *e = rt_f(call->out[0]) + ((b * frames + f) * bins + k) * 2;

                e[0] = (float)ore[k];
                e[1] = (float)oim[k];
            }
        }
    }
    dft_plan_done(&plan);
    free(re);
    free(im);
    free(ore);
    free(oim);
    return QS_OK;
}

enum qs_status
op_window(struct interp_call *call)
{
    int64_t n, dtype = qs_node_attr_int(call->node, "output_datatype", QS_DT_FLOAT);
    int periodic = (int)qs_node_attr_int(call->node, "periodic", 1);
    double d;
    enum qs_status st = interp_need_inputs(call, 1);

    if (st == QS_OK)
        st = interp_scalar_int(call, 0, 0, &n);
    if (st == QS_OK && (n < 0 || n > (1 << 28)))
        st = interp_fail(call, QS_INVALID, "size %lld is out of range", (long long)n);
    if (st == QS_OK)
        st = interp_new(call, (int)dtype, 1, &n, &call->out[0]);
    if (st != QS_OK)
        return st;
    d = periodic ? (double)n : (double)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        double x = d > 0 ? 2 * M_PI * (double)i / d : 0, v;

        if (call->op->arg == WINDOW_HANN)
            v = 0.5 - 0.5 * cos(x);
        else if (call->op->arg == WINDOW_HAMMING)
            v = 25.0 / 46.0 - 21.0 / 46.0 * cos(x);     /* alpha = 25/46 in the ONNX definition */
        else
            v = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x);
        if (qs_rt_is_float((int)dtype))
            rt_f(call->out[0])[i] = (float)v;
        else
            rt_i(call->out[0])[i] = (int64_t)v;
    }
    return QS_OK;
}

/* Triangular filters on the mel scale, bin edges as the ONNX definition computes them. */
enum qs_status
op_mel_weight_matrix(struct interp_call *call)
{
    int64_t mels, dft, rate, dims[2], *edges, spec_bins;
    float lo, hi;
    double lo_mel, hi_mel, step;
    int64_t dtype = qs_node_attr_int(call->node, "output_datatype", QS_DT_FLOAT);
    enum qs_status st = interp_need_inputs(call, 5);

    if (st == QS_OK)
        st = interp_scalar_int(call, 0, 0, &mels);
    if (st == QS_OK)
        st = interp_scalar_int(call, 1, 0, &dft);
    if (st == QS_OK)
        st = interp_scalar_int(call, 2, 0, &rate);
    if (st == QS_OK)
        st = interp_scalar_float(call, 3, 0, &lo);
    if (st == QS_OK)
        st = interp_scalar_float(call, 4, 0, &hi);
    if (st == QS_OK && (mels < 1 || mels > 65536 || dft < 1 || dft > (1 << 24) || rate < 1))
        st = interp_fail(call, QS_INVALID,
                         "num_mel_bins, dft_length or sample_rate is out of range");
    if (st != QS_OK)
        return st;
    spec_bins = dft / 2 + 1;
    dims[0] = spec_bins;
    dims[1] = mels;
    st = interp_new(call, (int)dtype, 2, dims, &call->out[0]);
    if (st != QS_OK)
        return st;

    lo_mel = 2595 * log10(1 + lo / 700.0);
    hi_mel = 2595 * log10(1 + hi / 700.0);
    step = (hi_mel - lo_mel) / (double)(mels + 2);
    edges = qs_calloc((size_t)mels + 2, sizeof(*edges));
    for (int64_t i = 0; i < mels + 2; i++) {
        double hz = 700 * (pow(10, ((double)i * step + lo_mel) / 2595) - 1);

        double bin = floor((double)(dft + 1) * hz / (double)rate);

        /* Bins outside the spectrum write nothing, so clamping them changes no output. */
        edges[i] = !(bin > -1) ? -1 : bin > (double)spec_bins ? spec_bins : (int64_t)bin;
    }
    for (int64_t m = 0; m < mels; m++) {
        int64_t left = edges[m], center = edges[m + 1], right = edges[m + 2];

        for (int64_t j = left; j <= right; j++) {
            double v;

            if (j == center)
                v = 1.0;
            else if (j < center)
                v = (double)(j - left) / (double)(center - left);
            else
                v = (double)(right - j) / (double)(right - center);

            if (j < 0 || j >= spec_bins || (j == right && right != center))
                continue;
            if (qs_rt_is_float((int)dtype))
                rt_f(call->out[0])[j * mels + m] = (float)v;
            else
                rt_i(call->out[0])[j * mels + m] = (int64_t)v;
        }
    }
    free(edges);
    return QS_OK;
}
