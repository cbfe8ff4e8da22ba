/*
 * qscope plan: make a mixed-precision plan (automatic under a budget, set
 * by patterns, or taken from another plan), or check one against its
 * model by measuring it again.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "layers.h"
#include "output.h"
#include "plan.h"
#include "plan_sensitivity.h"
#include "quant.h"
#include "weight_cmd.h"

/* Most candidates --candidates may list. */
#define PLAN_MAX_CANDIDATES 16

/* Points the exact search may keep before it gives up. */
#define PLAN_EXACT_MAX_STATES ((size_t)1 << 20)

/* Candidates of --auto when --candidates is not given. */

enum plan_option {
    OPT_AUTO, OPT_SET, OPT_FROM, OPT_PIN, OPT_CANDIDATES, OPT_SEARCH, OPT_SENSITIVITY, OPT_CHECK
};

static const struct qs_cli_option plan_options[] = {
    [OPT_AUTO] = { "auto", 0, "BUDGET",
                   "choose configurations within BUDGET: 4.5bpw, 300MB or 25% of the float size" },
    [OPT_SET] = { "set", 0, "PATTERN=CONFIG",
                  "give the layers PATTERN selects CONFIG, or float (repeatable)" },
    [OPT_FROM] = { "from", 0, "PLAN", "start from the configurations and pins of PLAN" },
    [OPT_PIN] = { "pin", 0, "PATTERN",
                  "keep these layers as they are when --auto chooses (repeatable)" },
    [OPT_CANDIDATES] = { "candidates", 0, "LIST",
                         "configurations --auto chooses from, comma-separated (default "
                         QS_PLAN_DEFAULT_CANDIDATES ")" },
    [OPT_SEARCH] = { "search", 0, "greedy|exact",
                     "--auto search: greedy, or exact for small models (default greedy)" },
    [OPT_SENSITIVITY] = { "sensitivity", 0, "FILE",
                          "weigh each layer's error by its measured output error (JSON of "
                          "qscope sensitivity)" },
    [OPT_CHECK] = { "check", 0, "PLAN",
                    "validate PLAN against MODEL and measure it again (exit 4 on a difference)" },
};

static const struct qs_cli_spec plan_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = plan_options,
    .n_options = sizeof(plan_options) / sizeof(plan_options[0]),
    .min_args = 1,
    .max_args = 1,
};

enum plan_column {
    COL_KEY, COL_OPS, COL_PARAMS, COL_CONFIG, COL_PINNED, COL_BYTES, COL_BPW, COL_SQNR,
    COL_SSE, COL_PLAN_BYTES, COL_PLAN_SQNR, COL_STATUS, N_COLUMNS
};

/* The last three columns appear with --check only. */
#define N_COLUMNS_MAKE COL_PLAN_BYTES

static const struct qs_column plan_columns[N_COLUMNS] = {
    [COL_KEY] = { "key", NULL, QS_COL_STRING, NULL, NULL },
    [COL_OPS] = { "ops", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PARAMS] = { "params", NULL, QS_COL_INT, NULL, NULL },
    [COL_CONFIG] = { "config", NULL, QS_COL_STRING, NULL, NULL },
    [COL_PINNED] = { "pinned", NULL, QS_COL_INT, NULL, NULL },
    [COL_BYTES] = { "bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_BPW] = { "bits_per_weight", "bpw", QS_COL_FLOAT, "%.3f", NULL },
    [COL_SQNR] = { "sqnr_db", "sqnr_dB", QS_COL_FLOAT, "%.2f", "exact" },
    [COL_SSE] = { "sse", NULL, QS_COL_FLOAT, "%.4e", NULL },
    [COL_PLAN_BYTES] = { "plan_bytes", NULL, QS_COL_INT, NULL, NULL },
    [COL_PLAN_SQNR] = { "plan_sqnr_db", "plan_sqnr_dB", QS_COL_FLOAT, "%.2f", "plan_exact" },
    [COL_STATUS] = { "status", NULL, QS_COL_STRING, NULL, NULL },
};

struct plan_run {
    const struct qs_cli *cli;
    struct qs_diag *diag;
    struct weight_cmd_model wm;
    struct weight_cmd_multi multi[2];    /* --set, --pin */
    struct qs_plan plan;
    struct qs_quant_config candidates[PLAN_MAX_CANDIDATES];
    int candidate_float[PLAN_MAX_CANDIDATES];
    size_t n_candidates;
    struct qs_plan_budget budget;
    int exact_search;
};

#define SETS(run) (&(run)->multi[0])
#define PINS(run) (&(run)->multi[1])

/* ---- options ---- */

/* Parse "float" or a configuration string; returns 1 when "text" is one. */
static int
parse_config_or_float(const char *text, struct qs_quant_config *config, int *is_float,
                      char *message, size_t size)
{
    *is_float = strcmp(text, QS_PLAN_FLOAT) == 0;
    if (*is_float)
        return 1;
    return qs_quant_config_parse(text, config, message, size) == QS_OK;
}

static int
parse_candidates(struct plan_run *run)
{
    const char *text = run->cli->values[OPT_CANDIDATES] ? run->cli->values[OPT_CANDIDATES]
                                                        : QS_PLAN_DEFAULT_CANDIDATES;
    char *copy = qs_strdup(text);
    char *save = NULL;
    char message[256];
    int rc = 0;

    run->n_candidates = 0;
    for (char *part = strtok_r(copy, ",", &save); part && !rc;
         part = strtok_r(NULL, ",", &save)) {
        size_t i = run->n_candidates;

        if (i == PLAN_MAX_CANDIDATES)
            rc = qs_cli_usage_error(run->cli, "--candidates lists more than %d configurations",
                                    PLAN_MAX_CANDIDATES);
        else if (!parse_config_or_float(part, &run->candidates[i], &run->candidate_float[i],
                                        message, sizeof(message)))
            rc = qs_cli_usage_error(run->cli, "invalid candidate '%s': %s", part, message);
        else
            run->n_candidates++;
    }
    if (!rc && run->n_candidates == 0)
        rc = qs_cli_usage_error(run->cli, "--candidates lists no configuration");
    free(copy);
    return rc;
}

static int
parse_plan_options(struct plan_run *run)
{
    const struct qs_cli *cli = run->cli;
    const char *search = cli->values[OPT_SEARCH];
    char message[256];
    int making = cli->values[OPT_AUTO] || SETS(run)->count || cli->values[OPT_FROM];

    if (cli->values[OPT_CHECK] && (making || PINS(run)->count))
        return qs_cli_usage_error(cli, "--check takes no --auto, --set, --from or --pin");
    if (cli->values[OPT_SENSITIVITY] && !cli->values[OPT_AUTO])
        return qs_cli_usage_error(cli, "--sensitivity weighs the search of --auto: add --auto "
                                  "BUDGET");
    if (!cli->values[OPT_CHECK] && !making)
        return qs_cli_usage_error(cli, "give --auto BUDGET, --set PATTERN=CONFIG, --from PLAN "
                                  "or --check PLAN");
    if (search && strcmp(search, "greedy") != 0 && strcmp(search, "exact") != 0)
        return qs_cli_usage_error(cli, "invalid value '%s' for --search (expected greedy or "
                                  "exact)", search);
    run->exact_search = search && strcmp(search, "exact") == 0;
    if (cli->values[OPT_AUTO]
        && qs_plan_budget_parse(cli->values[OPT_AUTO], &run->budget, message,
                                sizeof(message)) != QS_OK)
        return qs_cli_usage_error(cli, "%s", message);
    return parse_candidates(run);
}

/* ---- measuring ---- */

/* Measure the entry's configuration on its layer. */
static enum qs_status
measure_entry(struct plan_run *run, struct qs_plan_layer *entry)
{
    const struct qs_layer *layer = qs_layers_find(run->wm.layers, entry->key);
    struct qs_layer_data data;
    enum qs_status status;

    if (!layer)
        return qs_diag_add(run->diag, QS_INVALID, run->wm.path, "layer '%s' is not in the model",
                           entry->key);
    status = qs_layer_data_get(run->wm.layers, layer, 0, run->diag, &data);
    if (status != QS_OK)
        return status;
    status = qs_plan_measure_data(layer, &data, entry->is_float ? NULL : &entry->config,
                                  run->cli->threads, run->wm.path, run->diag, &entry->m);
    entry->measured = status == QS_OK;
    qs_layer_data_done(&data);
    return status;
}

static enum qs_status
measure_all(struct plan_run *run, struct qs_plan *plan)
{
    struct weight_cmd_progress progress;
    enum qs_status worst = QS_OK;

    weight_cmd_progress_begin(&progress, "measure", plan->count);
    for (size_t i = 0; i < plan->count; i++) {
        if (!plan->layers[i].measured)
            worst = qs_status_worst(worst, measure_entry(run, &plan->layers[i]));
        weight_cmd_progress_step(&progress);
    }
    weight_cmd_progress_end(&progress);
    qs_plan_totals_compute(plan);
    return worst;
}

/* ---- making a plan ---- */

static int
apply_from(struct plan_run *run)
{
    struct qs_plan from;
    enum qs_status status = qs_plan_read(run->cli->values[OPT_FROM], run->wm.layers, &from,
                                         run->diag);

    if (status == QS_OK && strcmp(from.sha256, run->plan.sha256) != 0)
        qs_diag_warn(run->diag, run->cli->values[OPT_FROM], "the plan was made for '%s', whose "
                     "SHA-256 differs from '%s'", from.model_file ? from.model_file : "?",
                     run->wm.path);
    for (size_t i = 0; status == QS_OK && i < from.count; i++) {
        struct qs_plan_layer *entry = qs_plan_get(&run->plan, from.layers[i].key);

        qs_plan_layer_set(entry, from.layers[i].is_float ? NULL : &from.layers[i].config);
        entry->pinned = from.layers[i].pinned;
    }
    qs_plan_done(&from);
    return status == QS_OK ? 0 : -1;
}

/* Split "text" at the first '=' after which a configuration (or "float") follows. */
static int
split_set(const char *text, char **pattern, struct qs_quant_config *config, int *is_float,
          char *message, size_t size)
{
    snprintf(message, size, "expected PATTERN=CONFIG");
    for (const char *eq = strchr(text, '='); eq; eq = strchr(eq + 1, '=')) {
        if (eq > text && parse_config_or_float(eq + 1, config, is_float, message, size)) {
            *pattern = qs_strndup(text, (size_t)(eq - text));
            return 1;
        }
    }
    if (text[0] == '=' && !strchr(text + 1, '='))
        snprintf(message, size, "the pattern before '=' is empty");
    return 0;
}

/* Give one selected layer the --set configuration; returns 0 or an exit status. */
static int
set_layer(struct plan_run *run, const struct qs_layer *layer, const struct qs_quant_config *config,
          int is_float, int literal)
{
    struct qs_plan_layer *entry;
    char message[512], label[256];

    if (!is_float && qs_plan_check_config(layer, config, message, sizeof(message)) != QS_OK) {
        qs_plan_layer_label(layer, label, sizeof(label));
        if (literal)
            return qs_cli_usage_error(run->cli, "layer '%s' (%s): %s", layer->key, label,
                                      message);
        qs_diag_warn(run->diag, run->wm.path, "layer '%s' (%s) left as it was: %s",
                     layer->key, label, message);
        return 0;
    }
    entry = qs_plan_get(&run->plan, layer->key);
    qs_plan_layer_set(entry, is_float ? NULL : config);
    if (run->cli->values[OPT_AUTO])
        entry->pinned = 1;
    return 0;
}

static int
apply_sets(struct plan_run *run)
{
    unsigned char *selected = qs_calloc(run->wm.layers->count + 1, 1);
    int rc = 0;

    for (size_t s = 0; s < SETS(run)->count && !rc; s++) {
        struct weight_cmd_multi one = { .name = "set", .count = 1 };
        struct qs_quant_config config;
        char message[256];
        char *pattern = NULL;
        int is_float;

        if (!split_set(SETS(run)->values[s], &pattern, &config, &is_float, message,
                       sizeof(message))) {
            rc = qs_cli_usage_error(run->cli, "invalid --set '%s': %s", SETS(run)->values[s],
                                    message);
            break;
        }
        one.values[0] = pattern;
        rc = weight_cmd_select(run->cli, run->wm.layers, &one, 0, selected);
        for (size_t i = 0; !rc && i < run->wm.layers->count; i++)
            if (selected[i])
                rc = set_layer(run, &run->wm.layers->items[i], &config, is_float,
                               qs_layer_pattern_is_literal(pattern));
        free(pattern);
    }
    free(selected);
    return rc;
}

static int
apply_pins(struct plan_run *run)
{
    unsigned char *selected = qs_calloc(run->wm.layers->count + 1, 1);
    int rc = 0;

    for (size_t p = 0; p < PINS(run)->count && !rc; p++) {
        struct weight_cmd_multi one = { .name = "pin", .count = 1 };

        one.values[0] = PINS(run)->values[p];
        rc = weight_cmd_select(run->cli, run->wm.layers, &one, 0, selected);
        for (size_t i = 0; !rc && i < run->wm.layers->count; i++)
            if (selected[i])
                qs_plan_get(&run->plan, run->wm.layers->items[i].key)->pinned = 1;
    }
    free(selected);
    return rc;
}

/* Candidates measured on one layer during --auto. */
struct auto_layer {
    struct qs_plan_option options[PLAN_MAX_CANDIDATES + 1];
    struct qs_plan_measure measures[PLAN_MAX_CANDIDATES + 1];
    int candidate[PLAN_MAX_CANDIDATES + 1];     /* index in run->candidates, -1: the entry's own */
    size_t n;
};

static void
auto_add(struct auto_layer *al, const struct qs_plan_measure *m, int candidate)
{
    al->options[al->n].bytes = m->bytes;
    al->options[al->n].sse = m->sse;
    al->measures[al->n] = *m;
    al->candidate[al->n] = candidate;
    al->n++;
}

/* Measure the options of one entry for --auto: its own setting when pinned, else the candidates. */
static enum qs_status
auto_measure(struct plan_run *run, struct qs_plan_layer *entry, struct auto_layer *al)
{
    const struct qs_layer *layer = qs_layers_find(run->wm.layers, entry->key);
    struct qs_layer_data data;
    struct qs_plan_measure m;
    enum qs_status status = qs_layer_data_get(run->wm.layers, layer, 0, run->diag, &data);
    char message[512];

    al->n = 0;
    for (size_t c = 0; status == QS_OK && !entry->pinned && c < run->n_candidates; c++) {
        const struct qs_quant_config *config = run->candidate_float[c] ? NULL
                                                                       : &run->candidates[c];

        if (config && qs_plan_check_config(layer, config, message, sizeof(message)) != QS_OK)
            continue;
        status = qs_plan_measure_data(layer, &data, config, run->cli->threads, run->wm.path,
                                      run->diag, &m);
        if (status == QS_OK && qs_plan_candidate_fits(&m))
            auto_add(al, &m, (int)c);
    }
    if (status == QS_OK && al->n == 0) {
        if (!entry->pinned)
            qs_diag_warn(run->diag, run->wm.path, "layer '%s': no candidate fits it, so it "
                         "stays float", entry->key);
        status = qs_plan_measure_data(layer, &data, entry->is_float ? NULL : &entry->config,
                                      run->cli->threads, run->wm.path, run->diag, &m);
        if (status == QS_OK)
            auto_add(al, &m, -1);
    }
    if (data.values)
        qs_layer_data_done(&data);
    return status;
}

static void
auto_apply(struct plan_run *run, const struct auto_layer *al, const size_t *choice)
{
    for (size_t i = 0; i < run->plan.count; i++) {
        struct qs_plan_layer *entry = &run->plan.layers[i];
        int c = al[i].candidate[choice[i]];

        if (c >= 0)
            qs_plan_layer_set(entry, run->candidate_float[c] ? NULL : &run->candidates[c]);
        entry->m = al[i].measures[choice[i]];
        entry->measured = 1;
    }
}

/*
 * The usage error of a budget below the smallest plan: both sizes in
 * bytes and bits per weight, and what the pinned layers take of it.
 */
static int
budget_error(struct plan_run *run, const struct qs_plan_item *items, size_t n, uint64_t budget,
             uint64_t params)
{
    uint64_t smallest = 0, pinned_bytes = 0;
    size_t pinned = 0;
    char extra[128] = "";

    for (size_t i = 0; i < n; i++) {
        uint64_t least = UINT64_MAX;

        for (size_t j = 0; j < items[i].n_options; j++)
            if (items[i].options[j].bytes < least)
                least = items[i].options[j].bytes;
        smallest += items[i].n_options ? least : 0;
        if (run->plan.layers[i].pinned) {
            pinned++;
            pinned_bytes += items[i].n_options ? least : 0;
        }
    }
    if (pinned)
        snprintf(extra, sizeof(extra), "; %zu pinned %s %llu bytes of it", pinned,
                 pinned == 1 ? "layer takes" : "layers take", (unsigned long long)pinned_bytes);
    return qs_cli_usage_error(run->cli, "--auto %s: the budget of %llu bytes (%.3f bits per "
                              "weight) is below the smallest plan the candidates allow, %llu "
                              "bytes (%.3f bits per weight)%s", run->cli->values[OPT_AUTO],
                              (unsigned long long)budget,
                              params ? (double)budget * 8.0 / (double)params : 0.0,
                              (unsigned long long)smallest,
                              params ? (double)smallest * 8.0 / (double)params : 0.0, extra);
}

/*
 * Scale the errors the search compares by each layer's factor from the
 * --sensitivity ranking.  Only the options change: the measures that
 * go into the plan keep the raw weight errors.
 */
static enum qs_status
auto_weigh(struct plan_run *run, struct auto_layer *al, size_t n)
{
    struct qs_plan_sensitivity s;
    enum qs_status status = qs_plan_sensitivity_read(run->cli->values[OPT_SENSITIVITY],
                                                     run->wm.model, &s, run->diag);

    for (size_t i = 0; status == QS_OK && i < n; i++)
        qs_plan_sensitivity_weigh(&s, run->plan.layers[i].key, al[i].options, al[i].n);
    qs_plan_sensitivity_done(&s);
    return status;
}

/*
 * Returns 0; an exit status for a budget that cannot be met; or -1 when
 * the problem is in "diag".
 */
static int
auto_choose(struct plan_run *run)
{
    size_t n = run->plan.count;
    struct auto_layer *al = qs_calloc(n + 1, sizeof(*al));
    struct qs_plan_item *items = qs_calloc(n + 1, sizeof(*items));
    size_t *choice = qs_calloc(n + 1, sizeof(*choice));
    struct weight_cmd_progress progress;
    enum qs_status status = QS_OK;
    uint64_t params = 0, budget;
    char message[512];
    int rc = 0;

    weight_cmd_progress_begin(&progress, "measure", n);
    for (size_t i = 0; i < n && status == QS_OK; i++) {
        status = auto_measure(run, &run->plan.layers[i], &al[i]);
        items[i].n_options = al[i].n;
        items[i].options = al[i].options;
        params += al[i].n ? al[i].measures[0].params : 0;
        weight_cmd_progress_step(&progress);
    }
    weight_cmd_progress_end(&progress);
    if (status == QS_OK && run->cli->values[OPT_SENSITIVITY])
        status = auto_weigh(run, al, n);
    budget = qs_plan_budget_bytes(&run->budget, params);
    if (status != QS_OK) {
        rc = -1;
    } else {
        status = run->exact_search
                 ? qs_plan_exact(items, n, budget, PLAN_EXACT_MAX_STATES, choice, message,
                                 sizeof(message))
                 : qs_plan_greedy(items, n, budget, choice, message, sizeof(message));
        if (status == QS_OK) {
            auto_apply(run, al, choice);
        } else if (status == QS_UNSUPPORTED) {
            qs_diag_add(run->diag, status, run->wm.path, "--auto %s: %s; use --search greedy",
                        run->cli->values[OPT_AUTO], message);
            rc = -1;
        } else {
            rc = budget_error(run, items, n, budget, params);
        }
    }
    free(al);
    free(items);
    free(choice);
    return rc;
}

static void
describe_method(struct plan_run *run)
{
    const struct qs_cli *cli = run->cli;

    run->plan.method = qs_strdup(cli->values[OPT_AUTO] ? (run->exact_search ? "auto exact"
                                                                            : "auto greedy")
                                 : SETS(run)->count ? "set" : "from");
    if (cli->values[OPT_AUTO]) {
        run->plan.budget = qs_strdup(cli->values[OPT_AUTO]);
        run->plan.candidates = qs_strdup(cli->values[OPT_CANDIDATES]
                                         ? cli->values[OPT_CANDIDATES]
                                         : QS_PLAN_DEFAULT_CANDIDATES);
        if (cli->values[OPT_SENSITIVITY])
            run->plan.sensitivity = qs_strdup(cli->values[OPT_SENSITIVITY]);
    }
}

/* Build run->plan from the options; returns 0 or an exit status (-1: see diag). */
static int
make_plan(struct plan_run *run)
{
    struct weight_cmd_model *wm = &run->wm;
    int rc = 0;

    qs_plan_set_model(&run->plan, wm->path, wm->model->map, wm->model->file_size);
    for (size_t i = 0; i < wm->layers->count; i++)
        if (wm->layers->items[i].quantizable)
            qs_plan_get(&run->plan, wm->layers->items[i].key);
    if (run->cli->values[OPT_FROM])
        rc = apply_from(run);
    if (!rc)
        rc = apply_sets(run);
    if (!rc)
        rc = apply_pins(run);
    if (!rc && run->cli->values[OPT_AUTO])
        rc = auto_choose(run);
    if (!rc && measure_all(run, &run->plan) != QS_OK)
        rc = -1;
    if (!rc)
        describe_method(run);
    return rc;
}

/* ---- output ---- */

static void
add_row(struct qs_table *table, const struct qs_layers *layers, const struct qs_plan_layer *e)
{
    const struct qs_layer *layer = qs_layers_find(layers, e->key);

    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, e->key);
    qs_table_set_string(table, COL_OPS, layer ? layer->ops : NULL);
    qs_table_set_string(table, COL_CONFIG, e->config_text);
    qs_table_set_int(table, COL_PINNED, e->pinned);
    if (!e->measured)
        return;
    qs_table_set_int(table, COL_PARAMS, (int64_t)e->m.params);
    qs_table_set_int(table, COL_BYTES, (int64_t)e->m.bytes);
    qs_table_set_float(table, COL_BPW, e->m.bits_per_weight);
    weight_cmd_set_sqnr(table, COL_SQNR, e->m.sqnr_db);
    qs_table_set_float(table, COL_SSE, e->m.sse);
}

static void
add_total_row(struct qs_table *table, const struct qs_plan_totals *t)
{
    qs_table_add_row(table);
    qs_table_set_string(table, COL_KEY, "(total)");
    qs_table_set_int(table, COL_PARAMS, (int64_t)t->params);
    qs_table_set_int(table, COL_BYTES, (int64_t)t->planned_bytes);
    qs_table_set_float(table, COL_BPW, t->bits_per_weight);
    weight_cmd_set_sqnr(table, COL_SQNR, t->sqnr_db);
    qs_table_set_float(table, COL_SSE, t->sse);
}

static int
write_table(const struct plan_run *run, struct qs_table *table, FILE *fp)
{
    json_t *rows, *doc, *total;
    size_t n;
    int failed;

    if (run->cli->format != QS_FORMAT_JSON)
        return qs_table_write(table, fp, run->cli->format, 1);
    rows = qs_table_json(table);
    n = json_array_size(rows);
    doc = json_object();
    total = json_incref(json_array_get(rows, n - 1));
    json_array_remove(rows, n - 1);
    json_object_set_new(doc, "layers", rows);
    json_object_set_new(doc, "total", total);
    failed = qs_json_write(fp, doc);
    json_decref(doc);
    return failed;
}

static void
print_summary(struct plan_run *run)
{
    struct qs_table *table = qs_table_new(plan_columns, N_COLUMNS_MAKE);

    for (size_t i = 0; i < run->plan.count; i++)
        add_row(table, run->wm.layers, &run->plan.layers[i]);
    add_total_row(table, &run->plan.totals);
    if (write_table(run, table, stdout) != 0 || fflush(stdout) != 0)
        qs_diag_add(run->diag, QS_OUTPUT, "standard output", "write failed");
    qs_table_free(table);
}

static int
run_make(struct plan_run *run)
{
    int rc = make_plan(run);

    if (rc)
        return rc > 0 ? rc : 0;
    if (!run->cli->output || strcmp(run->cli->output, "-") == 0) {
        qs_plan_write(&run->plan, "-", 0, run->diag);
        return 0;
    }
    if (qs_plan_write(&run->plan, run->cli->output, run->cli->force, run->diag) == QS_OK)
        print_summary(run);
    return 0;
}

/* ---- checking a plan ---- */

static void
check_rows(const struct plan_run *run, const struct qs_plan *stored, const struct qs_plan *now,
           struct qs_table *table)
{
    struct qs_plan_measure a, b;

    for (size_t i = 0; i < now->count; i++) {
        const struct qs_plan_layer *m = &now->layers[i];
        const struct qs_plan_layer *s = qs_plan_find(stored, m->key);

        add_row(table, run->wm.layers, m);
        if (!s || !s->measured) {
            qs_table_set_string(table, COL_STATUS, "not measured in the plan");
            continue;
        }
        qs_table_set_int(table, COL_PLAN_BYTES, (int64_t)s->m.bytes);
        weight_cmd_set_sqnr(table, COL_PLAN_SQNR, s->m.sqnr_db);
        qs_table_set_string(table, COL_STATUS, qs_plan_measure_differs(stored, &s->m, &m->m)
                                               ? "differs" : "ok");
    }
    add_total_row(table, &now->totals);
    qs_table_set_int(table, COL_PLAN_BYTES, (int64_t)stored->totals.planned_bytes);
    weight_cmd_set_sqnr(table, COL_PLAN_SQNR, stored->totals.sqnr_db);
    qs_plan_totals_as_measure(&stored->totals, &a);
    qs_plan_totals_as_measure(&now->totals, &b);
    qs_table_set_string(table, COL_STATUS, qs_plan_measure_differs(stored, &a, &b)
                                           ? "differs" : "ok");
}

static int
run_check(struct plan_run *run)
{
    const char *path = run->cli->values[OPT_CHECK];
    struct qs_plan stored, now;
    struct qs_cli_sink sink;
    struct qs_table *table;
    char sha[QS_SHA256_HEX_LEN + 1];

    qs_plan_init(&now);
    if (qs_plan_read(path, run->wm.layers, &stored, run->diag) != QS_OK) {
        qs_plan_done(&stored);
        return 0;
    }
    qs_sha256_hex(run->wm.model->map, run->wm.model->file_size, sha);
    if (strcmp(sha, stored.sha256) != 0)
        qs_diag_add(run->diag, QS_CHECK, path, "the plan was made for a model with SHA-256 %s, "
                    "but '%s' has %s", stored.sha256, run->wm.path, sha);
    for (size_t i = 0; i < stored.count; i++) {
        struct qs_plan_layer *entry = qs_plan_get(&now, stored.layers[i].key);

        qs_plan_layer_set(entry, stored.layers[i].is_float ? NULL : &stored.layers[i].config);
        entry->pinned = stored.layers[i].pinned;
    }
    if (measure_all(run, &now) == QS_OK) {
        qs_plan_compare(&stored, &now, path, run->diag);
        table = qs_table_new(plan_columns, N_COLUMNS);
        check_rows(run, &stored, &now, table);
        if (qs_cli_output_begin(run->cli, &sink, run->diag) == QS_OK) {
            int failed = write_table(run, table, sink.fp) != 0;

            if (failed)
                qs_diag_add(run->diag, QS_OUTPUT, run->cli->output ? run->cli->output
                                                                   : "standard output",
                            "write failed");
            qs_cli_output_end(&sink, !failed, run->diag);
        }
        qs_table_free(table);
    }
    qs_plan_done(&stored);
    qs_plan_done(&now);
    return 0;
}

int
qs_cmd_plan(const struct qs_command *command, int argc, char **argv)
{
    struct plan_run *run = qs_calloc(1, sizeof(*run));
    struct qs_cli cli;
    struct qs_diag diag;
    const char *inputs[4];
    char **rest;
    int n_rest, rc;

    run->multi[0].name = "set";
    run->multi[1].name = "pin";
    rc = weight_cmd_take_repeated(command->name, argc, argv, run->multi, 2, &n_rest, &rest);
    if (rc) {
        free(run);
        return rc;
    }
    qs_diag_init(&diag);
    qs_plan_init(&run->plan);
    if (qs_cli_parse(&cli, command, &plan_spec, n_rest, rest) != QS_OK || cli.help_shown) {
        rc = cli.help_shown ? 0 : qs_status_exit_code(QS_USAGE);
        goto out;
    }
    run->cli = &cli;
    run->diag = &diag;
    rc = parse_plan_options(run);
    if (rc)
        goto out;
    inputs[0] = cli.args[0];
    inputs[1] = cli.values[OPT_FROM];
    inputs[2] = cli.values[OPT_CHECK];
    inputs[3] = cli.values[OPT_SENSITIVITY];
    if (weight_cmd_check_output(&cli, inputs, 4, &diag) != QS_OK) {
        rc = qs_cli_finish(&cli, &diag, cli.output);
        goto out;
    }
    if (weight_cmd_open(&cli, cli.args[0], &diag, &run->wm) == QS_OK)
        rc = cli.values[OPT_CHECK] ? run_check(run) : run_make(run);
    if (rc == 0)
        rc = qs_cli_finish(&cli, &diag, cli.args[0]);
    weight_cmd_close(&run->wm);

out:
    qs_plan_done(&run->plan);
    qs_cli_done(&cli);
    qs_diag_done(&diag);
    free(rest);
    free(run);
    return rc;
}
