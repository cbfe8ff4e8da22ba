/*
 * Recurrent layers: LSTM (gates i, o, f, c; peepholes; input_forget),
 * GRU (gates z, r, h; linear_before_reset) and RNN, in every direction,
 * with sequence_lens, clip, custom activations and both layouts.
 * The input projection of all time steps is one matrix product; each step
 * adds H(t-1) * R^T with another.
 */
#include "config.h"
#include "interp/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"

enum rnn_act {
    ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHOLDEDRELU,
    ACT_SCALEDTANH, ACT_HARDSIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS
};

struct activation {
    enum rnn_act kind;
    float alpha, beta;
};

static const struct {
    const char *name;
    enum rnn_act kind;
    float alpha, beta;           /* defaults of the matching ONNX operator */
    int n_params;
} activation_table[] = {
    { "Sigmoid", ACT_SIGMOID, 0, 0, 0 },
    { "Tanh", ACT_TANH, 0, 0, 0 },
    { "Relu", ACT_RELU, 0, 0, 0 },
    { "Affine", ACT_AFFINE, 1.0f, 0.0f, 2 },
    { "LeakyRelu", ACT_LEAKYRELU, 0.01f, 0, 1 },
    { "ThresholdedRelu", ACT_THRESHOLDEDRELU, 1.0f, 0, 1 },
    { "ScaledTanh", ACT_SCALEDTANH, 1.0f, 1.0f, 2 },
    { "HardSigmoid", ACT_HARDSIGMOID, 0.2f, 0.5f, 2 },
    { "Elu", ACT_ELU, 1.0f, 0, 1 },
    { "Softsign", ACT_SOFTSIGN, 0, 0, 0 },
    { "Softplus", ACT_SOFTPLUS, 0, 0, 0 },
};

#define N_ACTIVATIONS (sizeof(activation_table) / sizeof(activation_table[0]))

static float
activate(const struct activation *a, float x)
{
    switch (a->kind) {
    case ACT_SIGMOID:         return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case ACT_TANH:            return tanhf(x);
    case ACT_RELU:            return x > 0 ? x : 0;
    case ACT_AFFINE:          return a->alpha * x + a->beta;
    case ACT_LEAKYRELU:       return x < 0 ? a->alpha * x : x;
    case ACT_THRESHOLDEDRELU: return x > a->alpha ? x : 0;
    case ACT_SCALEDTANH:      return a->alpha * tanhf(a->beta * x);
    case ACT_HARDSIGMOID:     return fmaxf(0.0f, fminf(1.0f, a->alpha * x + a->beta));
    case ACT_ELU:             return x < 0 ? a->alpha * (expf(x) - 1) : x;
    case ACT_SOFTSIGN:        return x / (1 + fabsf(x));
    case ACT_SOFTPLUS:        return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    }
    return x;
}

/* Per-kind constants: gates and activations per direction. */
static int
gate_count(int kind)
{
    return kind == RNN_LSTM ? 4 : kind == RNN_GRU ? 3 : 1;
}

static int
activation_count(int kind)
{
    return kind == RNN_LSTM ? 3 : kind == RNN_GRU ? 2 : 1;
}

const char *
check_rnn(const struct qs_node *node, int64_t opset, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = qs_node_attr(node, "activations");

    (void)opset;
    (void)buf;
    (void)size;
    for (size_t i = 0; a && i < a->n_strings; i++) {
        size_t k;

        for (k = 0; k < N_ACTIVATIONS; k++) {
            if (a->strings[i].len == strlen(activation_table[k].name)
                && memcmp(a->strings[i].data, activation_table[k].name, a->strings[i].len) == 0)
                break;
        }
        if (k == N_ACTIVATIONS)
            return "an activation function is not supported";
    }
    return NULL;
}

struct rnn {
    struct interp_call *call;            /* for the matrix products */
    int kind, gates, dirs, layout;
    int64_t seq, batch, input, hidden;
    float clip;
    int input_forget, linear_before_reset;
    struct activation act[2][3];         /* per direction: f, g, h */
    const int64_t *lens;                 /* per batch row, or NULL: all "seq" */
};

static void
rnn_activations(const struct qs_node *node, struct rnn *r)
{
    static const enum rnn_act defaults[3][3] = {
        { ACT_SIGMOID, ACT_TANH, ACT_TANH }, { ACT_SIGMOID, ACT_TANH }, { ACT_TANH }
    };
    const Onnx__AttributeProto *names = qs_node_attr(node, "activations");
    const float *alphas, *betas;
    ptrdiff_t n_alpha = qs_node_attr_floats(node, "activation_alpha", &alphas);
    ptrdiff_t n_beta = qs_node_attr_floats(node, "activation_beta", &betas);
    int per_dir = activation_count(r->kind), used_alpha = 0, used_beta = 0;

    for (int d = 0; d < r->dirs; d++) {
        for (int k = 0; k < per_dir; k++) {
            size_t i = (size_t)(d * per_dir + k), t = 0;
            struct activation *a = &r->act[d][k];

            a->kind = defaults[r->kind][k];
            for (t = 0; names && i < names->n_strings && t < N_ACTIVATIONS; t++) {
                if (names->strings[i].len == strlen(activation_table[t].name)
                    && memcmp(names->strings[i].data, activation_table[t].name,
                              names->strings[i].len) == 0) {
                    a->kind = activation_table[t].kind;
                    break;
                }
            }
            for (t = 0; t < N_ACTIVATIONS && activation_table[t].kind != a->kind; t++)
                ;
            a->alpha = activation_table[t].alpha;
            a->beta = activation_table[t].beta;
            if (activation_table[t].n_params >= 1 && used_alpha < n_alpha)
                a->alpha = alphas[used_alpha++];
            if (activation_table[t].n_params >= 2 && used_beta < n_beta)
                a->beta = betas[used_beta++];
        }
    }
}

static enum qs_status
rnn_setup(struct interp_call *call, struct rnn *r)
{
    const struct qs_rt_tensor *x, *w;
    size_t len;
    const char *dir = qs_node_attr_string(call->node, "direction", "forward", &len);
    enum qs_status st = interp_need_inputs(call, 3);

    memset(r, 0, sizeof(*r));
    r->call = call;
    r->kind = call->op->arg;
    r->gates = gate_count(r->kind);
    r->layout = (int)qs_node_attr_int(call->node, "layout", 0);
    r->dirs = len == 13 && memcmp(dir, "bidirectional", 13) == 0 ? 2 : 1;
    r->clip = qs_node_attr_float(call->node, "clip", 0.0f);
    r->input_forget = (int)qs_node_attr_int(call->node, "input_forget", 0);
    r->linear_before_reset = (int)qs_node_attr_int(call->node, "linear_before_reset", 0);
    for (size_t i = 0; st == QS_OK && i < 3; i++)
        st = interp_need_float(call, i);
    if (st == QS_OK)
        st = interp_need_rank(call, 0, 3, 3);
    if (st != QS_OK)
        return st;

    x = call->in[0];
    w = call->in[1];
    r->seq = x->dims[r->layout ? 1 : 0];
    r->batch = x->dims[r->layout ? 0 : 1];
    r->input = x->dims[2];
    r->hidden = w->rank == 3 ? w->dims[1] / r->gates : 0;
    if (w->rank != 3 || w->dims[0] != r->dirs || w->dims[2] != r->input || r->hidden <= 0
        || w->dims[1] != r->gates * r->hidden
        || call->in[2]->count != (uint64_t)(r->dirs * r->gates * r->hidden * r->hidden))
        return interp_fail(call, QS_INVALID, "W or R do not match the input and direction");
    if (r->hidden > INT32_MAX / 4 || r->seq * r->batch > INT32_MAX)
        return interp_fail(call, QS_INVALID, "hidden size or sequence is too large");
    rnn_activations(call->node, r);
    return QS_OK;
}

static enum qs_status
rnn_check_optional(struct interp_call *call, const struct rnn *r)
{
    const struct qs_rt_tensor *t;
    uint64_t bh = (uint64_t)(r->batch * r->hidden);

    t = call->n_in > 3 ? call->in[3] : NULL;
    if (t && t->count != (uint64_t)(r->dirs * 2 * r->gates * r->hidden))
        return interp_fail(call, QS_INVALID, "B has %llu elements", (unsigned long long)t->count);
    t = call->n_in > 4 ? call->in[4] : NULL;
    if (t && (qs_rt_is_float(t->dtype) || t->count != (uint64_t)r->batch))
        return interp_fail(call, QS_INVALID, "sequence_lens must be %lld integers",
                           (long long)r->batch);
    for (size_t i = 5; i <= 6; i++) {
        t = call->n_in > i ? call->in[i] : NULL;
        if (t && t->count != (uint64_t)r->dirs * bh)
            return interp_fail(call, QS_INVALID, "input %zu has %llu elements", i,
                               (unsigned long long)t->count);
    }
    t = call->n_in > 7 ? call->in[7] : NULL;
    if (t && t->count != (uint64_t)(r->dirs * 3 * r->hidden))
        return interp_fail(call, QS_INVALID, "P has %llu elements", (unsigned long long)t->count);
    return QS_OK;
}

/* State of one direction during the time loop. */
struct rnn_dir {
    int d, reverse;
    const float *w, *rw, *wb, *rb, *p;   /* W, R, Wb, Rb, P of this direction (B, P may be NULL) */
    float *xw;                           /* [seq, batch, gates*H]: X W^T + Wb, plus Rb
                                            where it adds */
    float *h, *c;                        /* [batch, H] */
    float *hr;                           /* [batch, gates*H]: H R^T */
    float *tmp;                          /* [batch, H] */
};

static float
clipped(const struct rnn *r, float v)
{
    if (r->clip > 0)
        return v < -r->clip ? -r->clip : v > r->clip ? r->clip : v;
    return v;
}

static void
lstm_row(const struct rnn *r, struct rnn_dir *s, const float *xw, int64_t b)
{
    int64_t H = r->hidden;
    const float *hr = s->hr + b * 4 * H;
    float *h = s->h + b * H, *c = s->c + b * H;
    const struct activation *a = r->act[s->d];

    for (int64_t j = 0; j < H; j++) {
        float pi = s->p ? s->p[j] : 0, po = s->p ? s->p[H + j] : 0, pf = s->p ? s->p[2 * H + j] : 0;
        float gi = activate(&a[0], clipped(r, xw[j] + hr[j] + pi * c[j]));
        float gf = r->input_forget ? 1 - gi
                   : activate(&a[0], clipped(r, xw[2 * H + j] + hr[2 * H + j] + pf * c[j]));
        float gc = activate(&a[1], clipped(r, xw[3 * H + j] + hr[3 * H + j]));
        float cn = gf * c[j] + gi * gc;
        float go = activate(&a[0], clipped(r, xw[H + j] + hr[H + j] + po * cn));

        c[j] = cn;
        h[j] = go * activate(&a[2], cn);
    }
}

static void
gru_row(const struct rnn *r, struct rnn_dir *s, const float *xw, int64_t b)
{
    int64_t H = r->hidden;
    const float *hr = s->hr + b * 3 * H;
    float *h = s->h + b * H;
    const struct activation *a = r->act[s->d];

    for (int64_t j = 0; j < H; j++) {
        float z = activate(&a[0], clipped(r, xw[j] + hr[j]));
        float hh = activate(&a[1], clipped(r, xw[2 * H + j] + s->tmp[b * H + j]));

        h[j] = (1 - z) * hh + z * h[j];
    }
}

/* GRU candidate input: r * (H R_h^T + Rb_h), or (r * H) R_h^T + Rb_h; stored in tmp. */
static void
gru_candidate(const struct rnn *r, struct rnn_dir *s, const float *xw_step)
{
    int64_t H = r->hidden;
    float *rh = qs_malloc((size_t)(r->batch * H) * sizeof(*rh) + 1);

    for (int64_t b = 0; b < r->batch; b++) {
        for (int64_t j = 0; j < H; j++) {
            float gate = activate(&r->act[s->d][0],
                                  clipped(r, xw_step[b * 3 * H + H + j]
                                             + s->hr[b * 3 * H + H + j]));
            float rbh = s->rb ? s->rb[2 * H + j] : 0;

            if (r->linear_before_reset)
                s->tmp[b * H + j] = gate * (s->hr[b * 3 * H + 2 * H + j] + rbh);
            else
                rh[b * H + j] = gate * s->h[b * H + j];
        }
    }
    if (!r->linear_before_reset) {
        interp_sgemm(r->call, 0, 1, r->batch, H, H, 1.0f, rh, H, s->rw + 2 * H * H, H, 0.0f,
                     s->tmp, H);
        for (int64_t b = 0; b < r->batch; b++)
            for (int64_t j = 0; j < H; j++)
                s->tmp[b * H + j] += s->rb ? s->rb[2 * H + j] : 0;
    }
    free(rh);
}

static void
rnn_row(const struct rnn *r, struct rnn_dir *s, const float *xw, int64_t b)
{
    int64_t H = r->hidden;

    for (int64_t j = 0; j < H; j++)
        s->h[b * H + j] = activate(&r->act[s->d][0], clipped(r, xw[j] + s->hr[b * H + j]));
}

/* X W^T for every step, plus the biases that add directly. */
static void
rnn_project(const struct rnn *r, const float *x, struct rnn_dir *s)
{
    int64_t gh = r->gates * r->hidden, rows = r->seq * r->batch;

    interp_sgemm(r->call, 0, 1, rows, gh, r->input, 1.0f, x, r->input, s->w, r->input, 0.0f,
                 s->xw, gh);
    for (int64_t i = 0; s->wb && i < rows; i++) {
        for (int64_t j = 0; j < gh; j++) {
            /* GRU's candidate gate takes Rb_h inside the reset product instead. */
            int rb_inside = r->kind == RNN_GRU && j >= 2 * r->hidden;

            s->xw[i * gh + j] += s->wb[j] + (rb_inside ? 0 : s->rb[j]);
        }
    }
}

static void
rnn_direction(const struct rnn *r, struct rnn_dir *s, float *y)
{
    int64_t H = r->hidden, gh = r->gates * H;

    for (int64_t step = 0; step < r->seq; step++) {
        interp_sgemm(r->call, 0, 1, r->batch, gh, H, 1.0f, s->h, H, s->rw, H, 0.0f, s->hr, gh);
        if (r->kind == RNN_GRU) {
            /* Rows past their sequence length keep their state: compute all, restore below. */
            float *xw_step = qs_malloc((size_t)(r->batch * gh) * sizeof(float) + 1);

            for (int64_t b = 0; b < r->batch; b++) {
                int64_t len = r->lens ? r->lens[b] : r->seq;
                int64_t t = s->reverse ? len - 1 - step : step;

                int64_t from = ((t >= 0 && t < r->seq ? t : 0) * r->batch + b) * gh;

                memcpy(xw_step + b * gh, s->xw + from, (size_t)gh * sizeof(float));
            }
            gru_candidate(r, s, xw_step);
            free(xw_step);
        }
        for (int64_t b = 0; b < r->batch; b++) {
            int64_t len = r->lens ? r->lens[b] : r->seq;
            int64_t t = s->reverse ? len - 1 - step : step;
            const float *xw = s->xw + (t * r->batch + b) * gh;

            if (step >= len)
                continue;
            if (r->kind == RNN_LSTM)
                lstm_row(r, s, xw, b);
            else if (r->kind == RNN_GRU)
                gru_row(r, s, xw, b);
            else
                rnn_row(r, s, xw, b);
            if (y)
                memcpy(y + ((t * r->dirs + s->d) * r->batch + b) * H, s->h + b * H,
                       (size_t)H * sizeof(float));
        }
    }
}

/* X as [seq, batch, input] (a copy for layout 1, else borrowed). */
static float *
rnn_input(const struct rnn *r, const struct qs_rt_tensor *x, int *owned)
{
    float *out;

    *owned = r->layout == 1;
    if (!*owned)
        return rt_f(x);
    out = qs_malloc((size_t)x->count * sizeof(*out) + 1);
    for (int64_t b = 0; b < r->batch; b++)
        for (int64_t t = 0; t < r->seq; t++)
            memcpy(out + (t * r->batch + b) * r->input, rt_f(x) + (b * r->seq + t) * r->input,
                   (size_t)r->input * sizeof(*out));
    return out;
}

static enum qs_status
rnn_outputs(struct interp_call *call, const struct rnn *r, struct qs_rt_tensor **y,
            struct qs_rt_tensor **yh, struct qs_rt_tensor **yc)
{
    int64_t ydims[4] = { r->seq, r->dirs, r->batch, r->hidden };
    int64_t sdims[3] = { r->dirs, r->batch, r->hidden };
    enum qs_status st;

    st = interp_new(call, QS_DT_FLOAT, 4, ydims, y);
    if (st == QS_OK)
        st = interp_new(call, QS_DT_FLOAT, 3, sdims, yh);
    if (st == QS_OK)
        st = interp_new(call, QS_DT_FLOAT, 3, sdims, yc);
    return st;
}

/* Initial state of direction "d" from input "index" (NULL: zeros) in the node's layout. */
static void
rnn_initial(const struct rnn *r, const struct qs_rt_tensor *t, int d, float *state)
{
    int64_t H = r->hidden;

    if (!t) {
        memset(state, 0, (size_t)(r->batch * H) * sizeof(*state));
        return;
    }
    for (int64_t b = 0; b < r->batch; b++) {
        int64_t at = r->layout ? (b * r->dirs + d) * H : (d * r->batch + b) * H;

        memcpy(state + b * H, rt_f(t) + at, (size_t)H * sizeof(*state));
    }
}

static void
rnn_run(struct interp_call *call, const struct rnn *r, const float *x, struct qs_rt_tensor *y,
        struct qs_rt_tensor *yh, struct qs_rt_tensor *yc)
{
    int64_t H = r->hidden, gh = r->gates * H;
    const struct qs_rt_tensor *bias = call->n_in > 3 ? call->in[3] : NULL;
    const struct qs_rt_tensor *peep = call->n_in > 7 ? call->in[7] : NULL;
    size_t len;
    const char *dir = qs_node_attr_string(call->node, "direction", "forward", &len);
    int all_reverse = len == 7 && memcmp(dir, "reverse", 7) == 0;

    for (int d = 0; d < r->dirs; d++) {
        struct rnn_dir s = { .d = d, .reverse = all_reverse || d == 1 };

        s.w = rt_f(call->in[1]) + d * gh * r->input;
        s.rw = rt_f(call->in[2]) + d * gh * H;
        s.wb = bias ? rt_f(bias) + d * 2 * gh : NULL;
        s.rb = bias ? s.wb + gh : NULL;
        s.p = peep ? rt_f(peep) + d * 3 * H : NULL;
        s.xw = qs_malloc((size_t)(r->seq * r->batch * gh) * sizeof(float) + 1);
        s.h = qs_malloc((size_t)(r->batch * H) * sizeof(float) + 1);
        s.c = qs_malloc((size_t)(r->batch * H) * sizeof(float) + 1);
        s.hr = qs_malloc((size_t)(r->batch * gh) * sizeof(float) + 1);
        s.tmp = qs_malloc((size_t)(r->batch * H) * sizeof(float) + 1);
        rnn_initial(r, call->n_in > 5 ? call->in[5] : NULL, d, s.h);
        rnn_initial(r, call->n_in > 6 ? call->in[6] : NULL, d, s.c);

        rnn_project(r, x, &s);
        rnn_direction(r, &s, rt_f(y));
        memcpy(rt_f(yh) + d * r->batch * H, s.h, (size_t)(r->batch * H) * sizeof(float));
        memcpy(rt_f(yc) + d * r->batch * H, s.c, (size_t)(r->batch * H) * sizeof(float));
        free(s.xw);
        free(s.h);
        free(s.c);
        free(s.hr);
        free(s.tmp);
    }
}

/* Layout 1 puts batch first: Y [batch, seq, dirs, H], states [batch, dirs, H]. */
static enum qs_status
rnn_relayout(struct interp_call *call, struct qs_rt_tensor **t, int is_y)
{
    const struct qs_rt_tensor *src = *t;
    int64_t dims[4], strides[4], perm_y[4] = { 2, 0, 1, 3 }, perm_s[3] = { 1, 0, 2 };
    int64_t src_strides[4];
    const int64_t *perm = is_y ? perm_y : perm_s;
    struct qs_rt_tensor *out;
    enum qs_status st;

    rt_strides(src->rank, src->dims, strides);
    for (int i = 0; i < src->rank; i++) {
        dims[i] = src->dims[perm[i]];
        src_strides[i] = strides[perm[i]];
    }
    st = interp_new(call, QS_DT_FLOAT, src->rank, dims, &out);
    if (st != QS_OK)
        return st;
    rt_copy_strided(out->data, src->data, 4, src->rank, dims, src_strides, 0);
    qs_rt_unref(*t);
    *t = out;
    return QS_OK;
}

enum qs_status
op_rnn(struct interp_call *call)
{
    struct rnn r;
    struct qs_rt_tensor *y = NULL, *yh = NULL, *yc = NULL, **outs[3] = { &y, &yh, &yc };
    float *x;
    int owned;
    enum qs_status st = rnn_setup(call, &r);

    if (st == QS_OK)
        st = rnn_check_optional(call, &r);
    if (st == QS_OK)
        st = rnn_outputs(call, &r, &y, &yh, &yc);
    if (st != QS_OK) {
        qs_rt_unref(y);
        qs_rt_unref(yh);
        return st;
    }
    r.lens = call->n_in > 4 && call->in[4] ? rt_i(call->in[4]) : NULL;
    for (int64_t b = 0; r.lens && b < r.batch; b++) {
        if (r.lens[b] < 0 || r.lens[b] > r.seq)
            st = interp_fail(call, QS_INVALID, "sequence length %lld is out of range",
                             (long long)r.lens[b]);
    }

    x = rnn_input(&r, call->in[0], &owned);
    if (st == QS_OK)
        rnn_run(call, &r, x, y, yh, yc);
    if (owned)
        free(x);
    for (int k = 0; k < 3 && st == QS_OK && r.layout; k++)
        st = rnn_relayout(call, outs[k], k == 0);
    for (size_t k = 0; k < 3; k++) {
        if (st == QS_OK && k < call->n_out)
            call->out[k] = *outs[k];
        else
            qs_rt_unref(*outs[k]);
    }
    return st;
}
