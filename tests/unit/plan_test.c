/*
 * Plans: budgets, the greedy search against the exact one on synthetic
 * layer sets, JSON round trips with the numbers measured on a model, and
 * the validation errors of plan files.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "layers.h"
#include "model_builder.h"
#include "plan.h"

/* ---- budgets ---- */

static void
budget_units_parsed(void **state)
{
    struct qs_plan_budget b;
    char message[256];

    (void)state;
    assert_int_equal(qs_plan_budget_parse("4.5bpw", &b, message, sizeof(message)), QS_OK);
    assert_int_equal(b.unit, QS_BUDGET_BPW);
    assert_true(b.value == 4.5);
    assert_int_equal(qs_plan_budget_parse("300MB", &b, message, sizeof(message)), QS_OK);
    assert_int_equal(b.unit, QS_BUDGET_BYTES);
    assert_true(b.value == 300e6);
    assert_int_equal(qs_plan_budget_parse("1.5MiB", &b, message, sizeof(message)), QS_OK);
    assert_true(b.value == 1.5 * 1048576.0);
    assert_int_equal(qs_plan_budget_parse("25%", &b, message, sizeof(message)), QS_OK);
    assert_int_equal(b.unit, QS_BUDGET_PERCENT);
    assert_true(b.value == 25.0);

    /* 1000 weights: float size 4000 bytes. */
    b.unit = QS_BUDGET_PERCENT;
    b.value = 25.0;
    assert_int_equal(qs_plan_budget_bytes(&b, 1000), 1000);
    b.unit = QS_BUDGET_BPW;
    b.value = 4.5;
    assert_int_equal(qs_plan_budget_bytes(&b, 1000), 562);
    b.unit = QS_BUDGET_BYTES;
    b.value = 300e6;
    assert_int_equal(qs_plan_budget_bytes(&b, 1000), 300000000);
}

static void
budget_errors_rejected(void **state)
{
    const char *bad[] = { "4.5", "abc", "-1bpw", "0%", "10XB", "bpw", "nan%", "1e400MB" };
    struct qs_plan_budget b;
    char message[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        message[0] = '\0';
        if (qs_plan_budget_parse(bad[i], &b, message, sizeof(message)) != QS_USAGE)
            fail_msg("budget '%s' was accepted", bad[i]);
        assert_non_null(strstr(message, bad[i]));
    }
}

/* ---- searches ---- */

/* Deterministic pseudo-random numbers in [0, 1). */
static double
next_random(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*seed >> 11) / 9007199254740992.0;
}

/*
 * A layer set shaped like the default candidates measured on real
 * models: fp16 at 16 bits per weight and about 74 dB SQNR, int8 per
 * channel at 8.25 and 40 dB, int4 g32 at 4.75 and 21.5 dB, nf4 at 4.5
 * and 20 dB, int4 g128 at 4.19 and 19 dB.  Layers hold 256 to 65536
 * weights (log-uniform) and each one's SQNR moves by up to 4 dB, as
 * layers differ in how well they quantize.
 */
static void
synthetic_layers(uint64_t seed, size_t n_layers, struct qs_plan_option *options,
                 struct qs_plan_item *items, uint64_t *float_bytes)
{
    static const double bits[5] = { 16.0, 8.25, 4.75, 4.5, 4.19 };
    static const double sqnr_db[5] = { 74.0, 40.0, 21.5, 20.0, 19.0 };

    *float_bytes = 0;
    for (size_t i = 0; i < n_layers; i++) {
        double n = floor(256.0 * pow(256.0, next_random(&seed)));
        double energy = n * 1e-4 * pow(1000.0, next_random(&seed));
        double shift = 8.0 * next_random(&seed) - 4.0;

        for (size_t j = 0; j < 5; j++) {
            struct qs_plan_option *o = &options[i * 5 + j];
            double db = sqnr_db[j] + shift + next_random(&seed) - 0.5;

            o->bytes = (uint64_t)ceil(n * bits[j] / 8.0);
            o->sse = energy * pow(10.0, -db / 10.0);
        }
        items[i].n_options = 5;
        items[i].options = &options[i * 5];
        *float_bytes += (uint64_t)n * 4;
    }
}

static void
totals_of(const struct qs_plan_item *items, size_t n, const size_t *choice, uint64_t *bytes,
          double *sse)
{
    *bytes = 0;
    *sse = 0.0;
    for (size_t i = 0; i < n; i++) {
        *bytes += items[i].options[choice[i]].bytes;
        *sse += items[i].options[choice[i]].sse;
    }
}

static void
greedy_within_three_percent_of_exact(void **state)
{
    /* 4.4, 5, 6, 8 and 10 bits per weight. */
    static const double fractions[] = { 4.4 / 32, 5.0 / 32, 6.0 / 32, 8.0 / 32, 10.0 / 32 };
    struct qs_plan_option options[32 * 5];
    struct qs_plan_item items[32];
    size_t greedy[32], exact[32];
    char message[256];
    double worst = 1.0;

    (void)state;
    /* More layers than the greedy search's exact core (12), so that its heuristics count. */
    for (uint64_t seed = 1; seed <= 12; seed++) {
        size_t n = 14 + (size_t)(seed % 7);
        uint64_t float_bytes;

        synthetic_layers(seed, n, options, items, &float_bytes);
        for (size_t f = 0; f < sizeof(fractions) / sizeof(fractions[0]); f++) {
            uint64_t budget = (uint64_t)(fractions[f] * (double)float_bytes);
            uint64_t gb, eb;
            double gs, es;

            assert_int_equal(qs_plan_exact(items, n, budget, 1u << 20, exact, message,
                                           sizeof(message)), QS_OK);
            assert_int_equal(qs_plan_greedy(items, n, budget, greedy, message, sizeof(message)),
                             QS_OK);
            totals_of(items, n, greedy, &gb, &gs);
            totals_of(items, n, exact, &eb, &es);
            assert_true(gb <= budget);
            assert_true(eb <= budget);
            assert_true(es <= gs * (1.0 + 1e-12));
            if (gs > es * 1.03)
                fail_msg("seed %llu, budget %llu: greedy %.6g is %.2f%% above exact %.6g",
                         (unsigned long long)seed, (unsigned long long)budget, gs,
                         100.0 * (gs / es - 1.0), es);
            if (gs / es > worst)
                worst = gs / es;
        }
    }
    print_message("greedy / exact squared error, worst case: %.4f\n", worst);
}

/* Three layers worked by hand: the exact result and the greedy one. */
static void
searches_hand_example(void **state)
{
    const struct qs_plan_option a[2] = { { 100, 0.0 }, { 50, 10.0 } };
    const struct qs_plan_option b[2] = { { 100, 0.0 }, { 50, 1.0 } };
    const struct qs_plan_option c[3] = { { 200, 0.0 }, { 100, 2.0 }, { 60, 30.0 } };
    const struct qs_plan_item items[3] = { { 2, a }, { 2, b }, { 3, c } };
    size_t choice[3];
    char message[256];

    (void)state;
    /* Budget 250: b -> 50 (1 per 50 bytes), c -> 100 (2 per 100): 50 + ... = 100 + 50 + 100. */
    assert_int_equal(qs_plan_greedy(items, 3, 250, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 1);
    assert_int_equal(choice[2], 1);
    assert_int_equal(qs_plan_exact(items, 3, 250, 1000, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 0);
    assert_int_equal(choice[1], 1);
    assert_int_equal(choice[2], 1);

    /* Budget 400 fits everything at full precision. */
    assert_int_equal(qs_plan_greedy(items, 3, 400, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0] + choice[1] + choice[2], 0);

    /* The smallest plan is 50 + 50 + 60 = 160 bytes. */
    assert_int_equal(qs_plan_greedy(items, 3, 159, choice, message, sizeof(message)), QS_USAGE);
    assert_non_null(strstr(message, "160 bytes"));
    assert_int_equal(qs_plan_exact(items, 3, 159, 1000, choice, message, sizeof(message)),
                     QS_USAGE);
    assert_int_equal(qs_plan_exact(items, 3, 250, 1, choice, message, sizeof(message)),
                     QS_UNSUPPORTED);
}

/* Greedy must spend leftover budget: after a big step, a cheap layer can go back up. */
static void
greedy_fills_slack(void **state)
{
    const struct qs_plan_option a[2] = { { 1000, 0.0 }, { 100, 50.0 } };
    const struct qs_plan_option b[2] = { { 40, 0.0 }, { 20, 1.0 } };
    const struct qs_plan_item items[2] = { { 2, a }, { 2, b } };
    size_t choice[2];
    char message[256];

    (void)state;
    /* Greedy takes b down first (slope 0.05), then a (slope 0.056); 100 + 20 leaves 30 for b. */
    assert_int_equal(qs_plan_greedy(items, 2, 150, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 0);
}

/*
 * An infinite squared error (a value that overflows its format, as fp16
 * of 1e5) must not stop the searches: before, its NaN slopes made the
 * greedy search report a budget it met as too small.  The finite options
 * win when they fit, the infinite one is taken when nothing else fits.
 */
static void
searches_survive_infinite_errors(void **state)
{
    const struct qs_plan_option a[2] = { { 32, INFINITY }, { 24, 4.0 } };
    const struct qs_plan_option b[2] = { { 16, 1e-6 }, { 8, 0.03 } };
    const struct qs_plan_option c[2] = { { 64, 0.0 }, { 48, NAN } };
    const struct qs_plan_item items[3] = { { 2, a }, { 2, b }, { 2, c } };
    const struct qs_plan_option only[1] = { { 10, INFINITY } };
    const struct qs_plan_item lone[1] = { { 1, only } };
    size_t choice[3];
    char message[256];

    (void)state;
    /* 24 + 16 + 64 = 104 bytes: the finite options of a and c, b at full precision. */
    assert_int_equal(qs_plan_greedy(items, 3, 112, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 0);
    assert_int_equal(choice[2], 0);
    assert_int_equal(qs_plan_exact(items, 3, 112, 1000, choice, message, sizeof(message)),
                     QS_OK);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 0);
    assert_int_equal(choice[2], 0);

    /* 96 bytes: b must step down rather than c take its NaN option. */
    assert_int_equal(qs_plan_greedy(items, 3, 96, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 1);
    assert_int_equal(choice[1], 1);
    assert_int_equal(choice[2], 0);

    assert_int_equal(qs_plan_greedy(lone, 1, 10, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(choice[0], 0);
    assert_int_equal(qs_plan_exact(lone, 1, 10, 1000, choice, message, sizeof(message)), QS_OK);
    assert_int_equal(qs_plan_greedy(lone, 1, 9, choice, message, sizeof(message)), QS_USAGE);
    assert_non_null(strstr(message, "10 bytes"));
}

/* ---- plans on a model ---- */

struct plan_model {
    struct model_builder mb;
    struct qs_model *model;
    struct qs_layers *layers;
    struct qs_diag diag;
    char dir[64];
};

/*
 * Layers: "conv.w" [8, 4, 3, 3] per-channel Conv, "fc.w" [64, 16] MatMul
 * B, "shared.w" [8, 8] read by MatMul and Gemm transB=1 (per-tensor
 * only), "bias" a Conv bias (not quantizable).
 */
static void
plan_model_open(struct plan_model *pm)
{
    static float conv[288], fc[1024], shared[64], bias[8];
    const int64_t cdims[4] = { 8, 4, 3, 3 }, fdims[2] = { 64, 16 }, sdims[2] = { 8, 8 };
    const int64_t bdims[1] = { 8 };
    uint64_t seed = 7;
    Onnx__NodeProto *gemm;

    for (size_t i = 0; i < 288; i++)
        conv[i] = (float)(next_random(&seed) - 0.5);
    for (size_t i = 0; i < 1024; i++)
        fc[i] = (float)((next_random(&seed) - 0.5) * (1.0 + (i % 16)));
    for (size_t i = 0; i < 64; i++)
        shared[i] = (float)(next_random(&seed) * 2.0 - 1.0);
    for (size_t i = 0; i < 8; i++)
        bias[i] = (float)i;
    mb_init(&pm->mb, 13);
    mb_init_f32(&pm->mb, "conv.w", 4, cdims, conv);
    mb_init_f32(&pm->mb, "fc.w", 2, fdims, fc);
    mb_init_f32(&pm->mb, "shared.w", 2, sdims, shared);
    mb_init_f32(&pm->mb, "bias", 1, bdims, bias);
    mb_node(&pm->mb, "Conv", "conv", "X,conv.w,bias", "C");
    mb_node(&pm->mb, "MatMul", "fc", "F,fc.w", "Y1");
    mb_node(&pm->mb, "MatMul", "s1", "S,shared.w", "Y2");
    gemm = mb_node(&pm->mb, "Gemm", "s2", "S,shared.w", "Y3");
    mb_attr_int(&pm->mb, gemm, "transB", 1);
    mb_input(&pm->mb, "X");
    mb_input(&pm->mb, "F");
    mb_input(&pm->mb, "S");
    mb_output(&pm->mb, "C");
    qs_diag_init(&pm->diag);
    assert_int_equal(mb_load(&pm->mb, NULL, &pm->diag, &pm->model), QS_OK);
    assert_int_equal(qs_layers_build(pm->model, 0, &pm->diag, &pm->layers), QS_OK);
    assert_int_equal(pm->layers->n_quantizable, 3);
    snprintf(pm->dir, sizeof(pm->dir), "/tmp/qscope-plan-test-XXXXXX");
    assert_non_null(mkdtemp(pm->dir));
}

static void
plan_model_close(struct plan_model *pm)
{
    static const char *const files[] = { "p.json", "bad.json" };
    char path[128];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", pm->dir, files[i]);
        unlink(path);
    }
    if (rmdir(pm->dir) != 0)
        print_message("could not remove %s\n", pm->dir);
    qs_layers_free(pm->layers);
    qs_model_free(pm->model);
    qs_diag_done(&pm->diag);
    mb_done(&pm->mb);
}

static void
plan_measure(struct plan_model *pm, struct qs_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        struct qs_plan_layer *entry = &plan->layers[i];
        const struct qs_layer *layer = qs_layers_find(pm->layers, entry->key);
        struct qs_layer_data data;

        assert_non_null(layer);
        assert_int_equal(qs_layer_data_get(pm->layers, layer, 0, &pm->diag, &data), QS_OK);
        assert_int_equal(qs_plan_measure_data(layer, &data, entry->is_float ? NULL
                                                                            : &entry->config,
                                              1, "test.onnx", &pm->diag, &entry->m), QS_OK);
        entry->measured = 1;
        qs_layer_data_done(&data);
    }
    qs_plan_totals_compute(plan);
}

static void
set_config(struct qs_plan *plan, const char *key, const char *text)
{
    struct qs_quant_config config;

    assert_int_equal(qs_quant_config_parse(text, &config, NULL, 0), QS_OK);
    qs_plan_layer_set(qs_plan_get(plan, key), &config);
}

static void
assert_same_measure(const struct qs_plan_measure *a, const struct qs_plan_measure *b)
{
    assert_int_equal(a->params, b->params);
    assert_int_equal(a->bytes, b->bytes);
    assert_true(a->sse == b->sse);
    assert_true(a->energy == b->energy);
    assert_true(a->mse == b->mse);
    assert_true(a->exact == b->exact);
    assert_true(a->sqnr_db == b->sqnr_db);
    assert_true(a->max_abs_err == b->max_abs_err);
    assert_true(a->cosine == b->cosine);
    assert_true(a->bits_per_weight == b->bits_per_weight);
}

static void
round_trip_same_numbers(void **state)
{
    struct plan_model pm;
    struct qs_plan plan, back;
    char path[128];
    struct qs_diag diag;

    (void)state;
    plan_model_open(&pm);
    qs_plan_init(&plan);
    qs_plan_set_model(&plan, "dir/test.onnx", pm.mb.packed, 100);
    set_config(&plan, "conv.w", "int8");
    set_config(&plan, "fc.w", "int4:g32");
    qs_plan_get(&plan, "shared.w")->pinned = 1;
    plan.method = qs_strdup("set");
    plan.sensitivity = qs_strdup("ranking.json");
    plan_measure(&pm, &plan);
    assert_true(plan.layers[2].is_float);
    assert_true(plan.layers[2].m.exact);
    assert_int_equal(plan.totals.params, 288 + 1024 + 64);
    assert_int_equal(plan.totals.float_bytes, 4 * (288 + 1024 + 64));
    assert_true(plan.totals.sqnr_db > 10.0 && isfinite(plan.totals.sqnr_db));

    snprintf(path, sizeof(path), "%s/p.json", pm.dir);
    qs_diag_init(&diag);
    assert_int_equal(qs_plan_write(&plan, path, 0, &diag), QS_OK);
    assert_int_equal(qs_plan_write(&plan, path, 0, &diag), QS_OUTPUT);
    assert_int_equal(qs_plan_write(&plan, path, 1, &diag), QS_OK);
    qs_diag_done(&diag);

    qs_diag_init(&diag);
    assert_int_equal(qs_plan_read(path, pm.layers, &back, &diag), QS_OK);
    assert_string_equal(back.model_file, "test.onnx");
    assert_string_equal(back.sha256, plan.sha256);
    assert_string_equal(back.method, "set");
    assert_string_equal(back.sensitivity, "ranking.json");
    assert_null(back.budget);
    assert_int_equal(back.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(back.layers[i].key, plan.layers[i].key);
        assert_string_equal(back.layers[i].config_text, plan.layers[i].config_text);
        assert_int_equal(back.layers[i].pinned, plan.layers[i].pinned);
        assert_true(back.layers[i].measured);
        assert_same_measure(&back.layers[i].m, &plan.layers[i].m);
    }
    assert_true(back.totals.sse == plan.totals.sse);
    assert_true(back.totals.sqnr_db == plan.totals.sqnr_db);
    assert_int_equal(back.totals.planned_bytes, plan.totals.planned_bytes);
    assert_int_equal(qs_plan_compare(&back, &plan, path, &diag), QS_OK);

    /* A measurement moved by 1% is a check failure naming the layer. */
    back.layers[1].m.sse *= 1.01;
    assert_int_equal(qs_plan_compare(&back, &plan, path, &diag), QS_CHECK);
    assert_int_equal(diag.worst, QS_CHECK);
    assert_non_null(strstr(diag.lines[0], "layer 'fc.w'"));
    qs_diag_done(&diag);

    qs_plan_done(&back);
    qs_plan_done(&plan);
    plan_model_close(&pm);
}

/* Write "text" to DIR/NAME and read it back as a plan; returns the status. */
static enum qs_status
read_text(struct plan_model *pm, const char *text, struct qs_diag *diag)
{
    char path[128];
    struct qs_plan plan;
    enum qs_status status;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/bad.json", pm->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    qs_diag_init(diag);
    status = qs_plan_read(path, pm->layers, &plan, diag);
    qs_plan_done(&plan);
    return status;
}

static int
diag_has(const struct qs_diag *diag, const char *a, const char *b)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++)
        if (strstr(diag->lines[i], a) && (!b || strstr(diag->lines[i], b)))
            return 1;
    return 0;
}

#define PLAN_HEAD \
    "{\"format\": \"qscope-plan\", \"version\": 1, \"model\": {\"file\": \"test.onnx\", " \
    "\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}, "

/*
 * A measurement with an infinite error (a value overflowed the format) is
 * written with nulls, as JSON has no infinities, and must read back the
 * same: before, the reader refused the plans qscope wrote.  Such numbers
 * match only themselves in a check.
 */
static void
infinite_error_round_trip(void **state)
{
    struct plan_model pm;
    struct qs_plan plan, back;
    struct qs_plan_measure *m;
    char path[128];
    struct qs_diag diag;

    (void)state;
    plan_model_open(&pm);
    qs_plan_init(&plan);
    qs_plan_set_model(&plan, "test.onnx", pm.mb.packed, 100);
    set_config(&plan, "fc.w", "fp16");
    plan_measure(&pm, &plan);
    m = &plan.layers[0].m;
    m->sse = INFINITY;
    m->mse = INFINITY;
    m->max_abs_err = INFINITY;
    m->sqnr_db = -INFINITY;
    m->cosine = NAN;
    m->exact = 0;
    qs_plan_totals_compute(&plan);
    assert_true(plan.totals.sqnr_db == -INFINITY);

    snprintf(path, sizeof(path), "%s/p.json", pm.dir);
    qs_diag_init(&diag);
    assert_int_equal(qs_plan_write(&plan, path, 1, &diag), QS_OK);
    assert_int_equal(qs_plan_read(path, pm.layers, &back, &diag), QS_OK);
    assert_int_equal(diag.count, 0);
    assert_true(back.layers[0].measured);
    assert_true(back.layers[0].m.sse == INFINITY);
    assert_true(back.layers[0].m.mse == INFINITY);
    assert_true(back.layers[0].m.max_abs_err == INFINITY);
    assert_true(back.layers[0].m.sqnr_db == -INFINITY);
    assert_true(isnan(back.layers[0].m.cosine));
    assert_false(back.layers[0].m.exact);
    assert_true(back.totals.sse == INFINITY);
    assert_true(back.totals.sqnr_db == -INFINITY);
    assert_int_equal(qs_plan_compare(&back, &plan, path, &diag), QS_OK);

    /* An infinite error in the plan and a finite one measured differ. */
    plan_measure(&pm, &plan);
    assert_int_equal(qs_plan_compare(&back, &plan, path, &diag), QS_CHECK);
    assert_true(diag_has(&diag, "layer 'fc.w' (fp16): squared error inf", NULL));
    qs_diag_done(&diag);

    qs_plan_done(&back);
    qs_plan_done(&plan);
    plan_model_close(&pm);
}

static void
validation_errors_named(void **state)
{
    struct plan_model pm;
    struct qs_plan plan;
    struct qs_diag diag;

    (void)state;
    plan_model_open(&pm);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {}, \"colour\": 1}", &diag),
                     QS_INVALID);
    assert_true(diag_has(&diag, "unknown key 'colour'", "the plan"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"fc.w\": {\"config\": \"int8\", "
                               "\"speed\": 2}}}", &diag), QS_INVALID);
    assert_true(diag_has(&diag, "unknown key 'speed'", "layer 'fc.w'"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"nope\": {\"config\": \"int8\"}}}",
                               &diag), QS_INVALID);
    assert_true(diag_has(&diag, "layer 'nope' is not in the model", NULL));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"bias\": {\"config\": \"int8\"}}}",
                               &diag), QS_INVALID);
    assert_true(diag_has(&diag, "layer 'bias' (Conv [8])", "not quantizable"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"fc.w\": {\"config\": \"int9\"}}}",
                               &diag), QS_INVALID);
    assert_true(diag_has(&diag, "layer 'fc.w'", "invalid configuration 'int9'"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"shared.w\": {\"config\": "
                               "\"int8:channel\"}}}", &diag), QS_INVALID);
    assert_true(diag_has(&diag, "layer 'shared.w' (MatMul,Gemm [8, 8])", "per-tensor"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"shared.w\": {\"config\": "
                               "\"int4:g32\"}}}", &diag), QS_INVALID);
    assert_true(diag_has(&diag, "layer 'shared.w'", "group axis"));
    qs_diag_done(&diag);

    /* A group longer than the group axis (16 rows of fc.w... here 64) forms one short group. */
    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"fc.w\": {\"config\": "
                               "\"int4:g128\"}, \"shared.w\": {\"config\": \"int8:tensor\"}}}",
                               &diag), QS_OK);
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, "{\"format\": \"qscope-plan\", \"version\": 2, "
                               "\"layers\": {}}", &diag), QS_UNSUPPORTED);
    assert_true(diag_has(&diag, "version 2 is newer", NULL));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, "{\"format\": \"qscope-plan\", ", &diag), QS_INVALID);
    assert_true(diag_has(&diag, "invalid JSON", "line 1"));
    qs_diag_done(&diag);

    assert_int_equal(read_text(&pm, PLAN_HEAD "\"layers\": {\"fc.w\": {\"config\": \"int8\", "
                               "\"params\": 1024, \"bytes\": \"many\"}}}", &diag), QS_INVALID);
    assert_true(diag_has(&diag, "'bytes' in layer 'fc.w'", NULL));
    qs_diag_done(&diag);

    /* A folder is named as one, not parsed as broken JSON. */
    qs_diag_init(&diag);
    assert_int_equal(qs_plan_read(pm.dir, pm.layers, &plan, &diag), QS_INVALID);
    assert_true(diag_has(&diag, "is a folder, not a plan file", NULL));
    qs_plan_done(&plan);
    qs_diag_done(&diag);

    plan_model_close(&pm);
}

static void
check_config_rules(void **state)
{
    struct plan_model pm;
    struct qs_quant_config config;
    char message[512];
    const struct qs_layer *conv, *shared, *bias;

    (void)state;
    plan_model_open(&pm);
    conv = qs_layers_find(pm.layers, "conv.w");
    shared = qs_layers_find(pm.layers, "shared.w");
    bias = qs_layers_find(pm.layers, "bias");
    assert_int_equal(qs_quant_config_parse("int4:g128", &config, NULL, 0), QS_OK);
    assert_int_equal(qs_plan_check_config(conv, &config, message, sizeof(message)), QS_OK);
    assert_int_equal(qs_plan_check_config(shared, &config, message, sizeof(message)), QS_USAGE);
    assert_int_equal(qs_quant_config_parse("fp16", &config, NULL, 0), QS_OK);
    assert_int_equal(qs_plan_check_config(shared, &config, message, sizeof(message)), QS_OK);
    assert_int_equal(qs_plan_check_config(bias, &config, message, sizeof(message)), QS_USAGE);
    assert_non_null(strstr(message, "bias of Conv 'conv'"));
    plan_model_close(&pm);
}

/*
 * An --auto candidate larger than float32 is dropped: nf4:b64 on a
 * depthwise 3x3 kernel (group axis of length 1) stores one fp32 scale per
 * weight, 9 * 4 bits + 9 * 32 bits = 41 bytes against 36 in float32.
 */
static void
candidate_above_float_dropped(void **state)
{
    struct qs_plan_measure m = { .params = 9, .bytes = 41 };

    (void)state;
    assert_false(qs_plan_candidate_fits(&m));
    m.bytes = 37;
    assert_false(qs_plan_candidate_fits(&m));
    m.bytes = 36;
    assert_true(qs_plan_candidate_fits(&m));
    m.params = 1000;
    m.bytes = 500;
    assert_true(qs_plan_candidate_fits(&m));
    m.params = 0;
    m.bytes = 0;
    assert_true(qs_plan_candidate_fits(&m));
    m.params = UINT64_MAX;
    m.bytes = UINT64_MAX;
    assert_true(qs_plan_candidate_fits(&m));
}

/*
 * 50,000 layers: building, writing, reading and looking up every key
 * must not be quadratic.  A CPU-time limit, not a timing, catches it: a
 * linear lookup spends about 20 s here, a hashed one well under 1 s.
 */
#define MANY_LAYERS 50000

static void
many_layers_not_quadratic(void **state)
{
    struct qs_plan plan, read;
    struct qs_diag diag;
    struct rlimit old, limit;
    struct rusage usage;
    char key[64], dir[] = "/tmp/qscope-plan-XXXXXX", path[128];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/many.json", dir);
    assert_int_equal(getrlimit(RLIMIT_CPU, &old), 0);
    assert_int_equal(getrusage(RUSAGE_SELF, &usage), 0);
    limit = old;
    limit.rlim_cur = (rlim_t)usage.ru_utime.tv_sec + (rlim_t)usage.ru_stime.tv_sec + 10;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < limit.rlim_cur)
        limit.rlim_cur = old.rlim_cur;
    assert_int_equal(setrlimit(RLIMIT_CPU, &limit), 0);

    qs_plan_init(&plan);
    qs_plan_set_model(&plan, "many.onnx", "onnx", 4);
    for (int i = 0; i < MANY_LAYERS; i++) {
        snprintf(key, sizeof(key), "block/%d/conv.weight", i);
        assert_string_equal(qs_plan_get(&plan, key)->key, key);
    }
    assert_int_equal(plan.count, MANY_LAYERS);
    assert_ptr_equal(qs_plan_get(&plan, "block/7/conv.weight"), &plan.layers[7]);
    qs_diag_init(&diag);
    assert_int_equal(qs_plan_write(&plan, path, 0, &diag), QS_OK);
    assert_int_equal(qs_plan_read(path, NULL, &read, &diag), QS_OK);
    assert_int_equal(read.count, MANY_LAYERS);
    for (int i = 0; i < MANY_LAYERS; i++) {
        snprintf(key, sizeof(key), "block/%d/conv.weight", i);
        assert_non_null(qs_plan_find(&read, key));
        assert_ptr_equal(qs_plan_find(&plan, key), &plan.layers[i]);
    }
    assert_null(qs_plan_find(&read, "block/50000/conv.weight"));

    assert_int_equal(setrlimit(RLIMIT_CPU, &old), 0);
    qs_plan_done(&read);
    qs_plan_done(&plan);
    qs_diag_done(&diag);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(budget_units_parsed),
        cmocka_unit_test(budget_errors_rejected),
        cmocka_unit_test(greedy_within_three_percent_of_exact),
        cmocka_unit_test(searches_hand_example),
        cmocka_unit_test(greedy_fills_slack),
        cmocka_unit_test(searches_survive_infinite_errors),
        cmocka_unit_test(round_trip_same_numbers),
        cmocka_unit_test(infinite_error_round_trip),
        cmocka_unit_test(validation_errors_named),
        cmocka_unit_test(check_config_rules),
        cmocka_unit_test(many_layers_not_quadratic),
        cmocka_unit_test(candidate_above_float_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
