/*
 * Scanning a folder of models for the ops view.
 */
#include "config.h"
#include "corpus.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strmap.h"
#include "ui.h"

struct folder_id {
    dev_t dev;
    ino_t ino;
};

struct corpus_job {
    struct qs_job base;
    const struct qs_cli *cli;
    struct qs_corpus *corpus;    /* filled by the job, handed over in "done" */
    struct qs_strmap *by_op;     /* op -> index + 1 in corpus->ops */
    char **files;
    size_t n_files;
    struct folder_id *folders;
    size_t n_folders;
};

static int
has_onnx_suffix(const char *name)
{
    size_t len = strlen(name);

    return len > 5 && strcmp(name + len - 5, ".onnx") == 0;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when folder "st" was walked before; otherwise remember it. */
static int
folder_seen(struct corpus_job *job, const struct stat *st)
{
    for (size_t i = 0; i < job->n_folders; i++)
        if (job->folders[i].dev == st->st_dev && job->folders[i].ino == st->st_ino)
            return 1;
    job->folders = qs_reallocarray(job->folders, job->n_folders + 1, sizeof(*job->folders));
    job->folders[job->n_folders++] = (struct folder_id){ st->st_dev, st->st_ino };
    return 0;
}

static void list_path(struct corpus_job *job, const char *path);

static void
list_folder(struct corpus_job *job, const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    char **names = NULL;
    size_t n = 0;

    if (!dir)
        return;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        names = qs_reallocarray(names, n + 1, sizeof(*names));
        names[n++] = qs_asprintf("%s/%s", path, entry->d_name);
    }
    closedir(dir);
    if (n > 1)
        qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++) {
        list_path(job, names[i]);
        free(names[i]);
    }
    free(names);
}

static void
list_path(struct corpus_job *job, const char *path)
{
    struct stat st;

    if (qs_job_cancelled(&job->base) || stat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        if (!folder_seen(job, &st))
            list_folder(job, path);
    } else if (S_ISREG(st.st_mode) && has_onnx_suffix(path)) {
        job->files = qs_reallocarray(job->files, job->n_files + 1, sizeof(*job->files));
        job->files[job->n_files++] = qs_strdup(path);
    }
}

static struct qs_corpus_op *
op_entry(struct corpus_job *job, const struct qs_node *node)
{
    struct qs_corpus *c = job->corpus;
    char buf[256];
    const char *op = qs_node_qualified_op(node, buf, sizeof(buf));
    size_t index = (size_t)(uintptr_t)qs_strmap_get(job->by_op, op);

    if (index)
        return &c->ops[index - 1];
    c->ops = qs_reallocarray(c->ops, c->n_ops + 1, sizeof(*c->ops));
    c->ops[c->n_ops] = (struct qs_corpus_op){ .op = qs_strdup(op) };
    /* The key is the op's own string, which stays put when the array moves. */
    qs_strmap_put(job->by_op, c->ops[c->n_ops].op, (void *)(uintptr_t)(c->n_ops + 1));
    return &c->ops[c->n_ops++];
}

static void
count_model(struct corpus_job *job, const struct qs_model *model, size_t number)
{
    for (size_t g = 0; g < model->n_graphs; g++)
        for (size_t i = 0; i < model->graphs[g]->n_nodes; i++) {
            struct qs_corpus_op *op = op_entry(job, &model->graphs[g]->nodes[i]);

            op->count++;
            job->corpus->total++;
            if (op->last_model != number) {
                op->last_model = number;
                op->models++;
            }
        }
}

static void
corpus_job_run(struct qs_job *base)
{
    struct corpus_job *job = (struct corpus_job *)base;
    struct qs_corpus *c = job->corpus;

    list_path(job, c->path);
    for (size_t i = 0; i < job->n_files && !qs_job_cancelled(base); i++) {
        struct qs_model *model = NULL;
        struct qs_diag diag;

        qs_diag_init(&diag);
        if (qs_cli_load_model(job->cli, job->files[i], &diag, &model) == QS_OK && model) {
            count_model(job, model, ++c->n_models);
        } else {
            c->n_failed++;
            if (!c->problem && diag.count)
                c->problem = qs_strdup(diag.lines[0]);
        }
        qs_model_free(model);
        qs_diag_done(&diag);
        atomic_store(&base->progress, (int)((i + 1) * 1000 / job->n_files));
    }
    c->done = 1;
}

static void
corpus_job_done(struct qs_job *base, void *ctx)
{
    struct corpus_job *job = (struct corpus_job *)base;
    struct qs_ui *ui = ctx;

    qs_corpus_free(ui->corpus);
    ui->corpus = job->corpus;
    job->corpus = NULL;
    ui->generation++;
    if (ui->corpus->problem)
        qs_ui_error(ui, "%zu files did not load: %s", ui->corpus->n_failed, ui->corpus->problem);
    else if (ui->corpus->n_models == 0)
        qs_ui_error(ui, "no .onnx files under %s", ui->corpus->path);
}

static void
corpus_job_free(struct qs_job *base)
{
    struct corpus_job *job = (struct corpus_job *)base;

    qs_corpus_free(job->corpus);
    qs_strmap_free(job->by_op);
    for (size_t i = 0; i < job->n_files; i++)
        free(job->files[i]);
    free(job->files);
    free(job->folders);
    free(job);
}

static const struct qs_job_ops corpus_job_ops = {
    .name = "reading models", .run = corpus_job_run, .done = corpus_job_done,
    .free = corpus_job_free,
};

void
qs_ui_set_folder(struct qs_ui *ui, const char *path)
{
    struct corpus_job *job = qs_calloc(1, sizeof(*job));

    job->base.ops = &corpus_job_ops;
    job->cli = ui->cli;
    job->by_op = qs_strmap_new();
    job->corpus = qs_calloc(1, sizeof(*job->corpus));
    job->corpus->path = qs_strdup(path);
    /* An empty corpus until the scan is back, so the header has a name. */
    ui->corpus = qs_calloc(1, sizeof(*ui->corpus));
    ui->corpus->path = qs_strdup(path);
    qs_ui_submit(ui, &job->base, QS_LANE_BACKGROUND, QS_SLOT_CORPUS);
    qs_ui_show(ui, QS_VIEW_OPS);
}

void
qs_corpus_header(const struct qs_corpus *corpus, struct qs_row *row)
{
    if (!corpus->done) {
        qs_row_add(row, QS_STYLE_HEADER, "  reading models");
        return;
    }
    qs_row_addf(row, QS_STYLE_HEADER, "  %zu models  %llu nodes  %zu op types", corpus->n_models,
                (unsigned long long)corpus->total, corpus->n_ops);
    if (corpus->n_failed)
        qs_row_addf(row, QS_STYLE_HEADER, "  %zu failed", corpus->n_failed);
}

void
qs_corpus_free(struct qs_corpus *corpus)
{
    if (!corpus)
        return;
    for (size_t i = 0; i < corpus->n_ops; i++)
        free(corpus->ops[i].op);
    free(corpus->ops);
    free(corpus->path);
    free(corpus->problem);
    free(corpus);
}
