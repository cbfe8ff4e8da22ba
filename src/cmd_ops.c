/*
 * qscope ops: how often each op type occurs in one model or in every
 * .onnx file under the given folders, and in how many models.
 *
 * Folders are walked recursively in sorted order.  Symbolic links are
 * followed.  A folder or file reached a second time (through a link, a
 * link loop, a hard link or two arguments) is skipped, so every file is
 * counted once.  Device and inode number identify a file.
 *
 * NOTE: models are loaded one after another; --threads does not apply.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "model.h"
#include "output.h"
#include "strmap.h"

static const struct qs_cli_option ops_options[] = {
    { "sort", 0, "count|name", "order ops by count, most frequent first (default), or by name" },
    { "subgraphs", 0, NULL, "also count the nodes inside If, Loop and Scan bodies" },
};

enum { OPT_SORT, OPT_SUBGRAPHS };

static const struct qs_cli_spec ops_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .options = ops_options,
    .n_options = 2,
    .min_args = 1,
    .max_args = -1,
};

struct op_entry {
    char *op;                    /* "Conv", "com.microsoft.MatMulNBits" */
    uint64_t count;
    uint64_t models;
    size_t last_model;           /* 1-based number of the last model that used it */
};

struct file_id {
    dev_t dev;
    ino_t ino;
    int used;                    /* slot taken */
};

/* Files and folders seen so far: open addressing, linear probing, at most half full. */
struct file_set {
    struct file_id *slots;
    size_t cap;                  /* a power of two, or 0 */
    size_t count;
};

struct op_survey {
    const struct qs_cli *cli;
    int subgraphs;
    int sort_by_name;
    struct qs_strmap *by_op;     /* op -> struct op_entry */
    struct op_entry **entries;
    size_t n_entries;
    size_t n_models;             /* models counted */
    uint64_t total;
    json_t *failed;              /* paths of models that failed to load */
    struct file_set seen;        /* folders walked and models counted */
    struct qs_diag *diag;
};

/* ---- counting --------------------------------------------------------- */

static struct op_entry *
survey_entry(struct op_survey *survey, const struct qs_node *node)
{
    char *op = *node->domain ? qs_asprintf("%s.%s", node->domain, node->op_type)
                             : qs_strdup(node->op_type);
    struct op_entry *entry = qs_strmap_get(survey->by_op, op);

    if (entry) {
        free(op);
        return entry;
    }

    entry = qs_calloc(1, sizeof(*entry));
    entry->op = op;
    qs_strmap_put(survey->by_op, entry->op, entry);
    survey->entries = qs_reallocarray(survey->entries, survey->n_entries + 1,
                                      sizeof(*survey->entries));
    survey->entries[survey->n_entries++] = entry;
    return entry;
}

static void
survey_count_model(struct op_survey *survey, const struct qs_model *model)
{
    size_t n_graphs = survey->subgraphs ? model->n_graphs : 1;
    size_t model_number = ++survey->n_models;

    for (size_t g = 0; g < n_graphs; g++) {
        const struct qs_graph *graph = model->graphs[g];

        for (size_t i = 0; i < graph->n_nodes; i++) {
            struct op_entry *entry = survey_entry(survey, &graph->nodes[i]);

            entry->count++;
            survey->total++;
            if (entry->last_model != model_number) {
                entry->last_model = model_number;
                entry->models++;
            }
        }
    }
}

/*
 * Move the problems of one model into the survey's list: its first error
 * line when it failed (one line per failed file), else its first warning.
 */
static void
survey_take_problems(struct op_survey *survey, const struct qs_diag *model_diag, int failed)
{
    const char *first = model_diag->count ? model_diag->lines[0] : NULL;
    char more[64] = "";

    if (!first)
        return;
    if (model_diag->count > 1)
        snprintf(more, sizeof(more), " (and %zu more problems)", model_diag->count - 1);
    if (failed)
        qs_diag_add(survey->diag, model_diag->worst, NULL, "%s%s", first, more);
    else
        qs_diag_warn(survey->diag, NULL, "%s%s", first, more);
}

static void
survey_model(struct op_survey *survey, const char *path)
{
    struct qs_model *model = NULL;
    struct qs_diag model_diag;

    qs_diag_init(&model_diag);
    qs_cli_load_model(survey->cli, path, &model_diag, &model);
    if (!model && model_diag.count == 0)
        qs_diag_add(&model_diag, QS_INVALID, path, "cannot be loaded");
    survey_take_problems(survey, &model_diag, model == NULL);
    if (model)
        survey_count_model(survey, model);
    else
        json_array_append_new(survey->failed, qs_json_string(path));
    qs_model_free(model);
    qs_diag_done(&model_diag);
}

/* ---- walking folders -------------------------------------------------- */

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

/* Mix device and inode number into a slot index (splitmix64's finalizer). */
static size_t
file_id_hash(dev_t dev, ino_t ino)
{
    uint64_t h = (uint64_t)dev * 0x9e3779b97f4a7c15u ^ (uint64_t)ino;

    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    return (size_t)h;
}

/* The slot of (dev, ino) in "set": its own, or the free one where it belongs. */
static struct file_id *
file_set_slot(const struct file_set *set, dev_t dev, ino_t ino)
{
    size_t mask = set->cap - 1;
    size_t i = file_id_hash(dev, ino) & mask;

    while (set->slots[i].used && (set->slots[i].dev != dev || set->slots[i].ino != ino))
        i = (i + 1) & mask;
    return &set->slots[i];
}

static void
file_set_grow(struct file_set *set)
{
    struct file_set bigger = { .cap = set->cap ? set->cap * 2 : 64 };

    bigger.slots = qs_calloc(bigger.cap, sizeof(*bigger.slots));
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i].used)
            *file_set_slot(&bigger, set->slots[i].dev, set->slots[i].ino) = set->slots[i];
    bigger.count = set->count;
    free(set->slots);
    *set = bigger;
}

/* True when the file or folder "st" was seen before, else add it to the set. */
static int
file_seen(struct op_survey *survey, const struct stat *st)
{
    struct file_set *set = &survey->seen;
    struct file_id *slot;

    if (set->count + 1 > set->cap / 2)
        file_set_grow(set);
    slot = file_set_slot(set, st->st_dev, st->st_ino);
    if (slot->used)
        return 1;
    *slot = (struct file_id){ st->st_dev, st->st_ino, 1 };
    set->count++;
    return 0;
}

/* The names in folder "path" without "." and "..", sorted; NULL when it cannot be read. */
static char **
folder_names(struct op_survey *survey, const char *path, size_t *count)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    char **names = NULL;
    size_t n = 0;

    if (!dir) {
        qs_diag_add(survey->diag, QS_INVALID, path, "cannot read folder: %s", strerror(errno));
        return NULL;
    }
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        names = qs_reallocarray(names, n + 1, sizeof(*names));
        names[n++] = qs_strdup(entry->d_name);
    }
    closedir(dir);

    if (n > 1)
        qsort(names, n, sizeof(*names), compare_names);
    *count = n;
    return names;
}

static void survey_path(struct op_survey *survey, const char *path, int named);

static void
survey_folder(struct op_survey *survey, const char *path)
{
    size_t n = 0;
    char **names = folder_names(survey, path, &n);
    size_t len = strlen(path);
    int has_slash = len > 0 && path[len - 1] == '/';

    for (size_t i = 0; i < n; i++) {
        char *child = qs_asprintf("%s%s%s", path, has_slash ? "" : "/", names[i]);

        survey_path(survey, child, 0);
        free(child);
        free(names[i]);
    }
    free(names);
}

/*
 * Count the model or folder at "path".  A "named" path (a command-line
 * argument) is loaded whatever its name; inside folders only files ending
 * in ".onnx" are.
 */
static void
survey_path(struct op_survey *survey, const char *path, int named)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (named || has_onnx_suffix(path))
            qs_diag_add(survey->diag, QS_INVALID, path, "cannot open: %s", strerror(errno));
        return;
    }

    if (S_ISDIR(st.st_mode)) {
        if (!file_seen(survey, &st))
            survey_folder(survey, path);
    } else if (named || (S_ISREG(st.st_mode) && has_onnx_suffix(path))) {
        if (!file_seen(survey, &st))
            survey_model(survey, path);
    }
}

/* ---- printing --------------------------------------------------------- */

static int
compare_by_count(const void *a, const void *b)
{
    const struct op_entry *x = *(struct op_entry *const *)a;
    const struct op_entry *y = *(struct op_entry *const *)b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->op, y->op);
}

static int
compare_by_name(const void *a, const void *b)
{
    const struct op_entry *x = *(struct op_entry *const *)a;
    const struct op_entry *y = *(struct op_entry *const *)b;

    return strcmp(x->op, y->op);
}

/* Columns of the JSON rows and CSV; text leaves out "models" for a single model. */
static const struct qs_column op_columns[] = {
    { .key = "op", .type = QS_COL_STRING },
    { .key = "count", .type = QS_COL_INT },
    { .key = "models", .type = QS_COL_INT },
};

static const struct qs_column text_columns[] = {
    { .key = "count", .type = QS_COL_INT },
    { .key = "models", .type = QS_COL_INT },
    { .key = "op", .type = QS_COL_STRING },
};

static struct qs_table *
ops_table(const struct op_survey *survey)
{
    struct qs_table *table = qs_table_new(op_columns, 3);

    for (size_t i = 0; i < survey->n_entries; i++) {
        qs_table_add_row(table);
        qs_table_set_string(table, 0, survey->entries[i]->op);
        qs_table_set_int(table, 1, (int64_t)survey->entries[i]->count);
        qs_table_set_int(table, 2, (int64_t)survey->entries[i]->models);
    }
    return table;
}

/* Text: "COUNT OP" lines and a total; with several models a models column and a header. */
static void
ops_text(FILE *fp, const struct op_survey *survey)
{
    int several = survey->n_models > 1;
    struct qs_table *table;
    struct qs_column columns[2];

    columns[0] = text_columns[0];
    columns[1] = text_columns[2];
    table = several ? qs_table_new(text_columns, 3) : qs_table_new(columns, 2);
    for (size_t i = 0; i <= survey->n_entries; i++) {
        int is_total = i == survey->n_entries;

        qs_table_add_row(table);
        qs_table_set_int(table, 0, (int64_t)(is_total ? survey->total : survey->entries[i]->count));
        if (several)
            qs_table_set_int(table, 1, (int64_t)(is_total ? survey->n_models
                                                          : survey->entries[i]->models));
        qs_table_set_string(table, several ? 2 : 1, is_total ? "total" : survey->entries[i]->op);
    }
    qs_table_write(table, fp, QS_FORMAT_TEXT, several);
    qs_table_free(table);
}

static void
ops_print(FILE *fp, enum qs_format format, const struct op_survey *survey)
{
    struct qs_table *table;
    json_t *doc;

    if (format == QS_FORMAT_TEXT) {
        ops_text(fp, survey);
        return;
    }

    table = ops_table(survey);
    if (format == QS_FORMAT_CSV) {
        qs_table_write(table, fp, QS_FORMAT_CSV, 1);
    } else {
        doc = json_object();
        qs_json_set_int(doc, "models", (int64_t)survey->n_models);
        qs_json_set_int(doc, "total", (int64_t)survey->total);
        json_object_set_new(doc, "ops", qs_table_json(table));
        json_object_set_new(doc, "failed", json_incref(survey->failed));
        qs_json_write(fp, doc);
        json_decref(doc);
    }
    qs_table_free(table);
}

/* ---- command ---------------------------------------------------------- */

static void
survey_done(struct op_survey *survey)
{
    for (size_t i = 0; i < survey->n_entries; i++) {
        free(survey->entries[i]->op);
        free(survey->entries[i]);
    }
    free(survey->entries);
    free(survey->seen.slots);
    qs_strmap_free(survey->by_op);
    json_decref(survey->failed);
}

static void
survey_run(struct op_survey *survey)
{
    size_t failed_before = json_array_size(survey->failed);

    for (int i = 0; i < survey->cli->n_args; i++)
        survey_path(survey, survey->cli->args[i], 1);
    if (survey->n_models == 0 && json_array_size(survey->failed) == failed_before
        && survey->diag->count == 0)
        qs_diag_add(survey->diag, QS_INVALID, survey->cli->args[0], "no .onnx files found");

    if (survey->n_entries > 1)
        qsort(survey->entries, survey->n_entries, sizeof(*survey->entries),
              survey->sort_by_name ? compare_by_name : compare_by_count);
}

int
qs_ops_run(const struct qs_cli *cli)
{
    const char *sort = cli->values[OPT_SORT];
    struct op_survey survey = {
        .cli = cli,
        .subgraphs = cli->values[OPT_SUBGRAPHS] != NULL,
        .sort_by_name = sort && strcmp(sort, "name") == 0,
        .by_op = qs_strmap_new(),
        .failed = json_array(),
    };
    struct qs_cli_sink sink;
    struct qs_diag diag;
    int exit_code;
    int keep;

    qs_diag_init(&diag);
    survey.diag = &diag;
    if (qs_cli_output_begin(cli, &sink, &diag) == QS_OK) {
        /* Print nothing when every model failed, because the error lines are the result. */
        survey_run(&survey);
        keep = survey.n_models > 0 || diag.count == 0;
        if (keep)
            ops_print(sink.fp, cli->format, &survey);
        qs_cli_output_end(&sink, keep, &diag);
    }

    exit_code = qs_cli_finish(cli, &diag, cli->n_args == 1 ? cli->args[0] : "ops");
    survey_done(&survey);
    qs_diag_done(&diag);
    return exit_code;
}

static int
ops_check_and_run(const struct qs_cli *cli)
{
    const char *sort = cli->values[OPT_SORT];

    if (sort && strcmp(sort, "count") != 0 && strcmp(sort, "name") != 0)
        return qs_cli_usage_error(cli, "invalid value '%s' for --sort (expected count or name)",
                                  sort);
    return qs_ops_run(cli);
}

int
qs_cmd_ops(const struct qs_command *command, int argc, char **argv)
{
    return qs_cli_run(command, &ops_spec, argc, argv, ops_check_and_run);
}
