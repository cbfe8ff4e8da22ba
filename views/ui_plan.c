/*
 * The plan as a whole: naming the model, writing and reading plan files,
 * and the automatic plan for a size budget.
 */
#include "config.h"
#include "ui.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "trace.h"

/*
 * The automatic plan below measures candidates the same way as
 * `qscope plan --auto` (src/cmd_plan.c).
 * TODO: move that candidate loop into plan_auto.c so both call one function.
 */

/* Most candidates the automatic plan tries per layer. */
#define UI_AUTO_MAX 8

/* ---- the model's identity ---- */

struct identity_job {
    struct qs_job base;
    const struct qs_model *model;
    char sha256[QS_SHA256_HEX_LEN + 1];
};

static void
identity_job_run(struct qs_job *base)
{
    struct identity_job *job = (struct identity_job *)base;

    qs_sha256_hex(job->model->map, job->model->file_size, job->sha256);
}

static void
identity_job_done(struct qs_job *base, void *ctx)
{
    struct identity_job *job = (struct identity_job *)base;
    struct qs_ui *ui = ctx;
    const char *slash = strrchr(ui->model->path, '/');

    free(ui->plan.model_file);
    ui->plan.model_file = qs_strdup(slash ? slash + 1 : ui->model->path);
    memcpy(ui->plan.sha256, job->sha256, sizeof(ui->plan.sha256));
    ui->plan.model_bytes = ui->model->file_size;
    ui->identity_done = 1;
    qs_ui_plan_written_check(ui);
}

static void
identity_job_free(struct qs_job *base)
{
    free(base);
}

static const struct qs_job_ops identity_job_ops = {
    .name = "model checksum", .run = identity_job_run, .done = identity_job_done,
    .free = identity_job_free,
};

void
qs_ui_plan_identity(struct qs_ui *ui)
{
    struct identity_job *job = qs_calloc(1, sizeof(*job));

    job->base.ops = &identity_job_ops;
    job->model = ui->model;
    qs_ui_submit(ui, &job->base, QS_LANE_BACKGROUND, -1);
}

/* ---- writing ---- */

/* Whether a measurement of layer "index"'s entry is queued or running. */
static int
in_flight(const struct qs_ui *ui, size_t index)
{
    const struct qs_ui_layer *info = &ui->info[index];

    return info->measuring > 0 || info->state == QS_STATS_PENDING;
}

/* Queue the measurements of entries without numbers; returns how many lack them. */
static size_t
measure_missing(struct qs_ui *ui)
{
    size_t count = 0;

    for (size_t i = 0; ui->layers && i < ui->layers->count; i++) {
        const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, i);

        if (!entry || entry->measured)
            continue;
        count++;
        if (!in_flight(ui, i))
            qs_ui_plan_measure(ui, i);
    }
    return count;
}

/* Whether any plan measurement is still queued or running. */
static int
measuring(const struct qs_ui *ui)
{
    for (size_t i = 0; ui->layers && i < ui->layers->count; i++)
        if (qs_ui_plan_entry(ui, i) && !qs_ui_plan_entry(ui, i)->measured && in_flight(ui, i))
            return 1;
    return 0;
}

static void
write_now(struct qs_ui *ui, const char *path, int force)
{
    struct qs_diag diag;

    qs_diag_init(&diag);
    qs_plan_totals_compute(&ui->plan);
    if (qs_plan_write(&ui->plan, path, force, &diag) == QS_OK) {
        ui->plan_dirty = 0;
        free(ui->plan_path);
        ui->plan_path = qs_strdup(path);
        qs_ui_message(ui, "wrote the plan (%zu layers) to %s", ui->plan.count, path);
    } else
        qs_ui_error_diag(ui, &diag);
    qs_diag_done(&diag);
}

void
qs_ui_plan_written_check(struct qs_ui *ui)
{
    char *path = ui->pending_write;

    /* Entries whose measurement failed are written without numbers. */
    if (!path || !ui->identity_done || measuring(ui))
        return;
    ui->pending_write = NULL;
    write_now(ui, path, ui->pending_force);
    free(path);
}

static void
replace_answer(struct qs_ui *ui, int yes, void *arg)
{
    char *path = arg;

    if (yes)
        qs_ui_plan_write(ui, path, 1);
    else
        qs_ui_message(ui, "the plan was not written");
    free(path);
}

int
qs_ui_plan_write(struct qs_ui *ui, const char *path, int force)
{
    struct stat st;
    char question[1200];
    size_t left;

    if (!ui->layers) {
        qs_ui_error(ui, "no layers, so no plan to write");
        return -1;
    }
    /* No question whose yes can only fail. */
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        qs_ui_error(ui, "%s: is a folder, not a file", path);
        return -1;
    }
    if (!force && stat(path, &st) == 0) {
        snprintf(question, sizeof(question), "%s exists. Replace it?", path);
        qs_ui_confirm(ui, question, replace_answer, qs_strdup(path));
        return 0;
    }
    free(ui->pending_write);
    ui->pending_write = qs_strdup(path);
    ui->pending_force = force;
    left = measure_missing(ui);
    qs_ui_plan_written_check(ui);
    if (ui->pending_write)
        qs_ui_message(ui, "measuring %zu layers, then writing %s", left, path);
    return 0;
}

/* Where a new plan goes: "MODEL.plan.json" in the output folder. */
static char *
default_plan_path(const struct qs_ui *ui)
{
    const char *slash = strrchr(ui->path, '/');
    const char *base = slash ? slash + 1 : ui->path;
    size_t stem = strlen(base);
    char *dir = qs_ui_output_dir(ui);
    char *path;

    if (stem > 5 && strcmp(base + stem - 5, ".onnx") == 0)
        stem -= 5;
    path = qs_asprintf("%s/%.*s.plan.json", dir, (int)stem, base);
    free(dir);
    return path;
}

static void
write_path_entered(struct qs_ui *ui, const char *text, void *arg)
{
    (void)arg;
    if (*text)
        qs_ui_plan_write(ui, text, 0);
}

void
qs_ui_plan_write_ask(struct qs_ui *ui)
{
    char *initial = ui->plan_path ? qs_strdup(ui->plan_path) : default_plan_path(ui);

    qs_ui_prompt(ui, "Write the plan to: ", initial, write_path_entered, NULL);
    free(initial);
}

/* ---- reading ---- */

/* Give "entry" the setting of "from" (NULL: float), keeping its numbers when it does not change. */
static void
entry_take(struct qs_plan_layer *entry, const struct qs_plan_layer *from)
{
    int is_float = !from || from->is_float;

    entry->pinned = from ? from->pinned : 0;
    if (entry->is_float == is_float &&
        (is_float || qs_quant_config_equal(&entry->config, &from->config)))
        return;
    qs_plan_layer_set(entry, is_float ? NULL : &from->config);
}

int
qs_ui_plan_read(struct qs_ui *ui, const char *path)
{
    struct qs_plan read;
    struct qs_diag diag;
    enum qs_status status;

    if (!ui->layers) {
        qs_ui_error(ui, "no layers, so no plan to read");
        return -1;
    }
    qs_diag_init(&diag);
    status = qs_plan_read(path, ui->layers, &read, &diag);
    if (status != QS_OK) {
        qs_ui_error_diag(ui, &diag);
        qs_plan_done(&read);
        qs_diag_done(&diag);
        return -1;
    }
    for (size_t i = 0; i < ui->plan.count; i++) {
        struct qs_plan_layer *entry = &ui->plan.layers[i];

        entry_take(entry, qs_plan_find(&read, entry->key));
    }
    for (size_t i = 0; i < ui->layers->count; i++)
        qs_ui_plan_measure(ui, i);
    qs_plan_totals_compute(&ui->plan);
    ui->plan_dirty = 0;
    free(ui->plan_path);
    ui->plan_path = qs_strdup(path);
    ui->generation++;
    qs_ui_message(ui, "read %s: %zu layers", path, read.count);
    qs_plan_done(&read);
    qs_diag_done(&diag);
    return 0;
}

/* ---- the automatic plan ---- */

struct auto_entry {
    size_t layer;
    int pinned;
    int is_float;
    struct qs_quant_config config;
    size_t n;                                  /* options measured */
    struct qs_plan_option options[UI_AUTO_MAX + 1];
    struct qs_plan_measure measures[UI_AUTO_MAX + 1];
    int candidate[UI_AUTO_MAX + 1];            /* -1: the entry's own setting */
};

struct auto_job {
    struct qs_job base;
    const struct qs_layers *layers;
    const char *path;
    int threads;
    struct qs_plan_budget budget;
    char *budget_text;
    size_t n_candidates;
    struct qs_quant_config candidates[UI_AUTO_MAX];
    int candidate_float[UI_AUTO_MAX];
    size_t n;
    struct auto_entry *entries;
    size_t *choice;
    enum qs_status status;
    char message[512];
    struct qs_diag diag;
};

static void
auto_add(struct auto_entry *e, const struct qs_plan_measure *m, int candidate)
{
    e->options[e->n] = (struct qs_plan_option){ m->bytes, m->sse };
    e->measures[e->n] = *m;
    e->candidate[e->n] = candidate;
    e->n++;
}

/* Measure every candidate that fits one layer (or its own setting when pinned). */
static enum qs_status
auto_measure(struct auto_job *job, struct auto_entry *e)
{
    const struct qs_layer *layer = &job->layers->items[e->layer];
    struct qs_layer_data data;
    struct qs_plan_measure m;
    char message[256];
    enum qs_status status = qs_layer_data_get(job->layers, layer, 0, &job->diag, &data);

    for (size_t c = 0; status == QS_OK && !e->pinned && c < job->n_candidates; c++) {
        const struct qs_quant_config *config = job->candidate_float[c] ? NULL
                                                                       : &job->candidates[c];

        if (config && qs_plan_check_config(layer, config, message, sizeof(message)) != QS_OK)
            continue;
        status = qs_plan_measure_data(layer, &data, config, job->threads, job->path,
                                      &job->diag, &m);
        if (status == QS_OK && qs_plan_candidate_fits(&m))
            auto_add(e, &m, (int)c);
    }
    if (status == QS_OK && e->n == 0) {
        status = qs_plan_measure_data(layer, &data, e->is_float ? NULL : &e->config,
                                      job->threads, job->path, &job->diag, &m);
        if (status == QS_OK)
            auto_add(e, &m, -1);
    }
    if (data.values)
        qs_layer_data_done(&data);
    return status;
}

static void
auto_job_run(struct qs_job *base)
{
    struct auto_job *job = (struct auto_job *)base;
    struct qs_plan_item *items = qs_calloc(job->n + 1, sizeof(*items));
    uint64_t params = 0;

    job->status = QS_OK;
    for (size_t i = 0; i < job->n && job->status == QS_OK; i++) {
        if (qs_job_cancelled(base))
            break;
        job->status = auto_measure(job, &job->entries[i]);
        items[i] = (struct qs_plan_item){ job->entries[i].n, job->entries[i].options };
        params += job->entries[i].n ? job->entries[i].measures[0].params : 0;
        atomic_store(&base->progress, (int)((i + 1) * 1000 / job->n));
    }
    if (job->status == QS_OK && !qs_job_cancelled(base))
        job->status = qs_plan_greedy(items, job->n, qs_plan_budget_bytes(&job->budget, params),
                                     job->choice, job->message, sizeof(job->message));
    free(items);
}

static void
auto_apply(struct qs_ui *ui, struct auto_job *job)
{
    for (size_t i = 0; i < job->n; i++) {
        const struct auto_entry *e = &job->entries[i];
        struct qs_plan_layer *entry = qs_plan_get(&ui->plan, job->layers->items[e->layer].key);
        int c = e->candidate[job->choice[i]];

        if (c >= 0)
            qs_plan_layer_set(entry, job->candidate_float[c] ? NULL : &job->candidates[c]);
        entry->m = e->measures[job->choice[i]];
        entry->measured = 1;
    }
    free(ui->plan.method);
    free(ui->plan.budget);
    free(ui->plan.candidates);
    ui->plan.method = qs_strdup("auto");
    ui->plan.budget = qs_strdup(job->budget_text);
    ui->plan.candidates = qs_strdup(QS_PLAN_DEFAULT_CANDIDATES);
    qs_plan_totals_compute(&ui->plan);
    ui->plan_dirty = 1;
    ui->generation++;
}

static void
auto_job_done(struct qs_job *base, void *ctx)
{
    struct auto_job *job = (struct auto_job *)base;
    struct qs_ui *ui = ctx;
    char sqnr[32];

    if (job->status == QS_USAGE) {
        qs_ui_error(ui, "budget %s: %s", job->budget_text, job->message);
        return;
    }
    if (job->status != QS_OK) {
        qs_ui_error_diag(ui, &job->diag);
        return;
    }
    auto_apply(ui, job);
    qs_ui_message(ui, "automatic plan for %s: %.3f bits per weight, SQNR %s dB", job->budget_text,
                  ui->plan.totals.bits_per_weight,
                  qs_ui_sqnr_text(ui->plan.totals.sqnr_db, ui->plan.totals.exact, sqnr,
                                  sizeof(sqnr)));
}

static void
auto_job_free(struct qs_job *base)
{
    struct auto_job *job = (struct auto_job *)base;

    free(job->entries);
    free(job->choice);
    free(job->budget_text);
    qs_diag_done(&job->diag);
    free(job);
}

static const struct qs_job_ops auto_job_ops = {
    .name = "automatic plan", .run = auto_job_run, .done = auto_job_done, .free = auto_job_free,
};

/* Parse the candidate list into "job".  Returns 0, or -1 with an error shown. */
static int
auto_candidates(struct qs_ui *ui, struct auto_job *job)
{
    char list[] = QS_PLAN_DEFAULT_CANDIDATES;
    char message[256];

    for (char *part = strtok(list, ","); part && job->n_candidates < UI_AUTO_MAX;
         part = strtok(NULL, ",")) {
        size_t c = job->n_candidates++;

        job->candidate_float[c] = strcmp(part, QS_PLAN_FLOAT) == 0;
        if (!job->candidate_float[c] &&
            qs_quant_config_parse(part, &job->candidates[c], message, sizeof(message)) != QS_OK) {
            qs_ui_error(ui, "candidate %s: %s", part, message);
            return -1;
        }
    }
    return 0;
}

static void
auto_snapshot(struct qs_ui *ui, struct auto_job *job)
{
    job->entries = qs_calloc(ui->layers->count + 1, sizeof(*job->entries));
    job->choice = qs_calloc(ui->layers->count + 1, sizeof(*job->choice));
    for (size_t i = 0; i < ui->layers->count; i++) {
        const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, i);
        struct auto_entry *e;

        if (!entry || !ui->layers->items[i].quantizable)
            continue;
        e = &job->entries[job->n++];
        e->layer = i;
        e->pinned = entry->pinned;
        e->is_float = entry->is_float;
        e->config = entry->config;
    }
}

int
qs_ui_plan_auto(struct qs_ui *ui, const char *budget)
{
    struct auto_job *job;
    char message[256];

    if (!ui->layers || ui->layers->n_quantizable == 0) {
        qs_ui_error(ui, "no quantizable layers to plan");
        return -1;
    }
    job = qs_calloc(1, sizeof(*job));
    job->base.ops = &auto_job_ops;
    qs_diag_init(&job->diag);
    if (qs_plan_budget_parse(budget, &job->budget, message, sizeof(message)) != QS_OK) {
        qs_ui_error(ui, "budget '%s': %s", budget, message);
        auto_job_free(&job->base);
        return -1;
    }
    if (auto_candidates(ui, job) != 0) {
        auto_job_free(&job->base);
        return -1;
    }
    job->layers = ui->layers;
    job->path = ui->path;
    job->threads = ui->threads;
    job->budget_text = qs_strdup(budget);
    auto_snapshot(ui, job);
    qs_ui_submit(ui, &job->base, QS_LANE_BACKGROUND, QS_SLOT_AUTO);
    qs_ui_message(ui, "making a plan for %s over %zu layers", budget, job->n);
    return 0;
}
