/*
 * qscope info: a model's format versions, producer, inputs and outputs,
 * node counts, constant tensors, weights and metadata.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "layers.h"
#include "model.h"
#include "model_print.h"
#include "output.h"
#include "strmap.h"

/* Slots of the per-element-type counts: one per known type, the last for unknown types. */
#define N_TYPE_SLOTS (QS_DT_COUNT + 1)

struct info_summary {
    size_t n_nodes_all;          /* nodes of every graph */
    size_t n_initializer_inputs; /* graph inputs that have an initializer as default */
    uint64_t constants;
    uint64_t constant_bytes;
    uint64_t faulty;
    uint64_t type_tensors[N_TYPE_SLOTS];
    uint64_t type_bytes[N_TYPE_SLOTS];
    uint64_t weights;            /* layers whose data is usable */
    uint64_t parameters;
    uint64_t quantizable;
    uint64_t quantizable_parameters;
    uint64_t faulty_weights;     /* layers kept with a fault (--keep-going) */
    uint64_t external;           /* tensors whose data is in an external file */
    json_t *external_files;      /* their distinct locations, in first-use order */
};

static const struct qs_cli_spec info_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .min_args = 1,
    .max_args = 1,
};

static uint64_t
add_saturated(uint64_t a, uint64_t b)
{
    uint64_t sum;

    return qs_add_overflow_u64(a, b, &sum) ? UINT64_MAX : sum;
}

static int
type_slot(int dtype)
{
    return qs_dtype_known(dtype) ? dtype : QS_DT_COUNT;
}

/* Count an external tensor and remember its file the first time it is seen. */
static void
add_external(struct info_summary *sum, struct qs_strmap *seen, const struct qs_tensor *tensor)
{
    const char *location = tensor->location ? tensor->location : "";

    sum->external++;
    if (!qs_strmap_get(seen, location)) {
        qs_strmap_put(seen, location, (void *)location);
        json_array_append_new(sum->external_files, qs_json_string(location));
    }
}

static void
summarize(const struct qs_model *model, struct info_summary *sum)
{
    struct qs_strmap *seen = qs_strmap_new();

    memset(sum, 0, sizeof(*sum));
    sum->external_files = json_array();
    for (size_t g = 0; g < model->n_graphs; g++)
        sum->n_nodes_all += model->graphs[g]->n_nodes;
    for (size_t i = 0; i < model->graph->n_inputs; i++)
        if (model->graph->inputs[i]->tensor)
            sum->n_initializer_inputs++;

    for (size_t i = 0; i < model->n_tensors; i++) {
        const struct qs_tensor *tensor = model->tensors[i];
        uint64_t bytes = qs_tensor_packed_bytes(tensor);
        int slot = type_slot(tensor->dtype);

        sum->constants++;
        sum->constant_bytes = add_saturated(sum->constant_bytes, bytes);
        sum->type_tensors[slot]++;
        sum->type_bytes[slot] = add_saturated(sum->type_bytes[slot], bytes);
        if (tensor->fault)
            sum->faulty++;
        if (tensor->is_external)
            add_external(sum, seen, tensor);
    }
    qs_strmap_free(seen);
}

/*
 * Count the weights as the layers module finds them: floating-point
 * constants, also through fold chains such as Cast or DequantizeLinear.
 * A layer with a fault (--keep-going) is counted apart.
 */
static enum qs_status
summarize_weights(const struct qs_cli *cli, struct qs_model *model, struct info_summary *sum,
                  struct qs_diag *diag)
{
    struct qs_layers *layers = NULL;
    enum qs_status status = qs_layers_build(model, cli->keep_going, diag, &layers);

    if (status != QS_OK)
        return status;

    for (size_t i = 0; i < layers->count; i++) {
        const struct qs_layer *layer = &layers->items[i];

        if (layer->fault) {
            sum->faulty_weights++;
            continue;
        }
        sum->weights++;
        sum->parameters = add_saturated(sum->parameters, layer->count);
        if (layer->quantizable) {
            sum->quantizable++;
            sum->quantizable_parameters = add_saturated(sum->quantizable_parameters,
                                                        layer->count);
        }
    }
    qs_layers_free(layers);
    return QS_OK;
}

/* A JSON integer of a count that could exceed int64 in theory. */
static json_t *
json_count(uint64_t value)
{
    return json_integer(value > INT64_MAX ? INT64_MAX : (json_int_t)value);
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *
opsets_json(const struct qs_model *model)
{
    json_t *opsets = json_array();

    for (size_t i = 0; i < model->n_opsets; i++) {
        json_t *opset = json_object();

        qs_json_set_string(opset, "domain", model->opsets[i].domain);
        qs_json_set_int(opset, "version", model->opsets[i].version);
        json_array_append_new(opsets, opset);
    }
    return opsets;
}

/* The graph's inputs without an initializer (those are weights, not inputs), or its outputs. */
static json_t *
values_json(struct qs_value *const *values, size_t n, int skip_initialized)
{
    json_t *array = json_array();

    for (size_t i = 0; i < n; i++)
        if (!(skip_initialized && values[i]->tensor))
            json_array_append_new(array, qs_value_json(values[i]));
    return array;
}

static json_t *
constants_json(const struct info_summary *sum)
{
    json_t *constants = json_object();
    json_t *by_type = json_array();

    json_object_set_new(constants, "tensors", json_count(sum->constants));
    json_object_set_new(constants, "bytes", json_count(sum->constant_bytes));
    json_object_set_new(constants, "faulty", json_count(sum->faulty));
    json_object_set_new(constants, "external", json_count(sum->external));
    json_object_set_new(constants, "external_files", json_incref(sum->external_files));
    for (int slot = 0; slot < N_TYPE_SLOTS; slot++) {
        json_t *row;

        if (sum->type_tensors[slot] == 0)
            continue;
        row = json_object();
        qs_json_set_string(row, "elem_type", qs_dtype_name(slot));
        json_object_set_new(row, "tensors", json_count(sum->type_tensors[slot]));
        json_object_set_new(row, "bytes", json_count(sum->type_bytes[slot]));
        json_array_append_new(by_type, row);
    }
    json_object_set_new(constants, "by_type", by_type);
    return constants;
}

static json_t *
metadata_json(const struct qs_model *model)
{
    json_t *metadata = json_array();

    for (size_t i = 0; i < model->n_metadata; i++) {
        json_t *entry = json_object();

        qs_json_set_string(entry, "key", model->metadata[i].key);
        qs_json_set_string(entry, "value", model->metadata[i].value);
        json_array_append_new(metadata, entry);
    }
    return metadata;
}

static json_t *
info_json(const struct qs_model *model, const struct info_summary *sum)
{
    json_t *doc = json_object();
    json_t *weights = json_object();

    qs_json_set_string(doc, "path", model->path);
    qs_json_set_int(doc, "ir_version", model->ir_version);
    json_object_set_new(doc, "opsets", opsets_json(model));
    qs_json_set_string(doc, "producer_name", model->producer_name);
    qs_json_set_string(doc, "producer_version", model->producer_version);
    qs_json_set_string(doc, "domain", model->domain);
    qs_json_set_int(doc, "model_version", model->model_version);
    qs_json_set_string(doc, "doc_string", model->doc_string);
    json_object_set_new(doc, "inputs",
                        values_json(model->graph->inputs, model->graph->n_inputs, 1));
    json_object_set_new(doc, "initializer_inputs", json_count(sum->n_initializer_inputs));
    json_object_set_new(doc, "outputs",
                        values_json(model->graph->outputs, model->graph->n_outputs, 0));
    json_object_set_new(doc, "nodes", json_count(model->graph->n_nodes));
    json_object_set_new(doc, "nodes_with_subgraphs", json_count(sum->n_nodes_all));
    json_object_set_new(doc, "subgraphs", json_count(model->n_graphs - 1));
    json_object_set_new(doc, "functions", json_count(model->n_functions));
    json_object_set_new(doc, "constants", constants_json(sum));
    json_object_set_new(weights, "tensors", json_count(sum->weights));
    json_object_set_new(weights, "parameters", json_count(sum->parameters));
    json_object_set_new(weights, "quantizable", json_count(sum->quantizable));
    json_object_set_new(weights, "quantizable_parameters",
                        json_count(sum->quantizable_parameters));
    json_object_set_new(weights, "faulty", json_count(sum->faulty_weights));
    json_object_set_new(doc, "weights", weights);
    json_object_set_new(doc, "metadata", metadata_json(model));
    return doc;
}

/* ---- text ------------------------------------------------------------- */

static const struct qs_column pair_columns[] = {
    { .key = "key", .type = QS_COL_STRING },
    { .key = "value", .type = QS_COL_STRING },
};

/* Add a row of two strings to a two-column table; "value" is borrowed. */
static void
add_pair(struct qs_table *table, const char *key, const char *value)
{
    qs_table_add_row(table);
    qs_table_set_string(table, 0, key);
    qs_table_set_string(table, 1, value);
}

/* Add a row whose value is formatted by qs_asprintf rules. */
static void
add_pairf(struct qs_table *table, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_pairf(struct qs_table *table, const char *key, const char *fmt, ...)
{
    va_list ap;
    char buf[512];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    add_pair(table, key, buf);
}

/* "ai.onnx 17, com.microsoft 1", built in one growing buffer (a model may import many). */
static char *
opsets_text(const struct qs_model *model)
{
    size_t len = 0;
    size_t cap = 1;
    char *text = qs_calloc(1, cap);

    for (size_t i = 0; i < model->n_opsets; i++) {
        char *entry = qs_asprintf("%s%s %" PRId64, i ? ", " : "",
                                  qs_domain_text(model->opsets[i].domain),
                                  model->opsets[i].version);
        size_t n = strlen(entry);

        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            text = qs_realloc(text, cap);
        }
        memcpy(text + len, entry, n + 1);
        len += n;
        free(entry);
    }
    return text;
}

static void
text_header(FILE *fp, const struct qs_model *model, const struct info_summary *sum)
{
    struct qs_table *table = qs_table_new(pair_columns, 2);
    char *opsets = opsets_text(model);

    add_pair(table, "model", model->path);
    add_pairf(table, "IR version", "%" PRId64, model->ir_version);
    add_pair(table, "opsets", *opsets ? opsets : "none");
    if (*model->producer_name || *model->producer_version)
        add_pairf(table, "producer", "%s%s%s", model->producer_name,
                  *model->producer_version ? " " : "", model->producer_version);
    else
        add_pair(table, "producer", "(not set)");
    if (*model->domain || model->model_version)
        add_pairf(table, "domain", "%s, model version %" PRId64,
                  *model->domain ? model->domain : "(none)", model->model_version);
    if (model->n_graphs > 1)
        add_pairf(table, "nodes", "%zu in the main graph, %zu with subgraphs",
                  model->graph->n_nodes, sum->n_nodes_all);
    else
        add_pairf(table, "nodes", "%zu", model->graph->n_nodes);
    add_pairf(table, "subgraphs", "%zu", model->n_graphs - 1);
    if (model->n_functions)
        add_pairf(table, "functions", "%zu", model->n_functions);
    qs_table_write(table, fp, QS_FORMAT_TEXT, 0);
    qs_table_free(table);
    free(opsets);
}

static void
text_values(FILE *fp, const char *title, struct qs_value *const *values, size_t n,
            int skip_initialized)
{
    struct qs_table *table = qs_table_new(pair_columns, 2);

    for (size_t i = 0; i < n; i++) {
        char *type;

        if (skip_initialized && values[i]->tensor)
            continue;
        type = qs_type_text(&values[i]->type);
        add_pair(table, values[i]->name, type);
        free(type);
    }
    fprintf(fp, "\n%s:%s\n", title, qs_table_rows(table) ? "" : " none");
    qs_table_set_indent(table, 2);
    qs_table_write(table, fp, QS_FORMAT_TEXT, 0);
    qs_table_free(table);
}

static const struct qs_column type_columns[] = {
    { .key = "elem_type", .title = "type", .type = QS_COL_STRING },
    { .key = "tensors", .type = QS_COL_INT },
    { .key = "bytes", .type = QS_COL_INT },
};

/* Most external files named in text; the rest are counted. */
#define TEXT_MAX_FILES 5

static void
text_external(FILE *fp, const struct info_summary *sum)
{
    size_t n_files = json_array_size(sum->external_files);

    fprintf(fp, "  external data: %" PRIu64 " tensors in %zu file%s: ", sum->external, n_files,
            n_files == 1 ? "" : "s");
    for (size_t i = 0; i < n_files && i < TEXT_MAX_FILES; i++) {
        char *name = qs_text_sanitize(json_string_value(json_array_get(sum->external_files, i)));

        fprintf(fp, "%s%s", i ? ", " : "", name);
        free(name);
    }
    if (n_files > TEXT_MAX_FILES)
        fprintf(fp, " and %zu more", n_files - TEXT_MAX_FILES);
    fputc('\n', fp);
}

/* " (2.1 MiB)" for sizes of a KiB and more, else "". */
static const char *
size_text(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    double value = (double)bytes;
    char number[24];
    int unit = -1;

    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        unit++;
    }
    if (unit < 0) {
        buf[0] = '\0';
        return buf;
    }
    qs_format_double(number, sizeof(number), "%.1f", value);
    snprintf(buf, size, " (%s %s)", number, units[unit]);
    return buf;
}

static void
text_constants(FILE *fp, const struct info_summary *sum)
{
    struct qs_table *table = qs_table_new(type_columns, 3);
    char size[32];

    fprintf(fp, "\nconstants: %" PRIu64 " tensors, %" PRIu64 " bytes%s", sum->constants,
            sum->constant_bytes, size_text(size, sizeof(size), sum->constant_bytes));
    if (sum->faulty)
        fprintf(fp, ", %" PRIu64 " with unusable data", sum->faulty);
    fputc('\n', fp);
    for (int slot = 0; slot < N_TYPE_SLOTS; slot++) {
        if (sum->type_tensors[slot] == 0)
            continue;
        qs_table_add_row(table);
        qs_table_set_string(table, 0, qs_dtype_short_name(slot));
        qs_table_set_int(table, 1, (int64_t)sum->type_tensors[slot]);
        qs_table_set_int(table, 2, (int64_t)(sum->type_bytes[slot] > INT64_MAX
                                             ? INT64_MAX : sum->type_bytes[slot]));
    }
    qs_table_set_indent(table, 2);
    if (qs_table_rows(table))
        qs_table_write(table, fp, QS_FORMAT_TEXT, 1);
    qs_table_free(table);
    if (sum->external)
        text_external(fp, sum);

    /* Two lines, so that large counts still fit 80 columns. */
    fprintf(fp, "\nweights: %" PRIu64 " tensors, %" PRIu64 " parameters", sum->weights,
            sum->parameters);
    if (sum->faulty_weights)
        fprintf(fp, ", and %" PRIu64 " with unusable data", sum->faulty_weights);
    fprintf(fp, "\n  quantizable: %" PRIu64 " tensors, %" PRIu64 " parameters\n",
            sum->quantizable, sum->quantizable_parameters);
}

static void
text_metadata(FILE *fp, const struct qs_model *model)
{
    struct qs_table *table = qs_table_new(pair_columns, 2);

    for (size_t i = 0; i < model->n_metadata; i++)
        add_pair(table, model->metadata[i].key, model->metadata[i].value);
    fprintf(fp, "\nmetadata:%s\n", model->n_metadata ? "" : " none");
    qs_table_set_indent(table, 2);
    qs_table_write(table, fp, QS_FORMAT_TEXT, 0);
    qs_table_free(table);
}

static void
info_text(FILE *fp, const struct qs_model *model, const struct info_summary *sum)
{
    text_header(fp, model, sum);
    text_values(fp, "inputs", model->graph->inputs, model->graph->n_inputs, 1);
    if (sum->n_initializer_inputs)
        fprintf(fp, "  (and %zu inputs with an initializer, counted as constants)\n",
                sum->n_initializer_inputs);
    text_values(fp, "outputs", model->graph->outputs, model->graph->n_outputs, 0);
    text_constants(fp, sum);
    text_metadata(fp, model);
}

/* ---- command ---------------------------------------------------------- */

static void
info_print(FILE *fp, enum qs_format format, const struct qs_model *model,
           const struct info_summary *sum)
{
    json_t *doc;

    if (format == QS_FORMAT_TEXT) {
        info_text(fp, model, sum);
        return;
    }

    doc = info_json(model, sum);
    if (format == QS_FORMAT_JSON)
        qs_json_write(fp, doc);
    else
        qs_json_write_flat_csv(fp, doc);
    json_decref(doc);
}

/* Load the model and print its summary; problems go to "diag".  Returns whether it printed. */
static int
info_model(const struct qs_cli *cli, FILE *fp, struct qs_diag *diag)
{
    struct qs_model *model = NULL;
    struct info_summary sum;

    qs_cli_load_model(cli, cli->args[0], diag, &model);
    if (!model)
        return 0;

    summarize(model, &sum);
    summarize_weights(cli, model, &sum, diag);
    info_print(fp, cli->format, model, &sum);
    json_decref(sum.external_files);
    qs_model_free(model);
    return 1;
}

int
qs_info_run(const struct qs_cli *cli)
{
    struct qs_cli_sink sink;
    struct qs_diag diag;
    int exit_code;

    qs_diag_init(&diag);
    if (qs_cli_output_begin(cli, &sink, &diag) == QS_OK)
        qs_cli_output_end(&sink, info_model(cli, sink.fp, &diag), &diag);

    exit_code = qs_cli_finish(cli, &diag, cli->args[0]);
    qs_diag_done(&diag);
    return exit_code;
}

int
qs_cmd_info(const struct qs_command *command, int argc, char **argv)
{
    return qs_cli_run(command, &info_spec, argc, argv, qs_info_run);
}
