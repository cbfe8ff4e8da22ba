/*
 * qscope graph: every node in graph order with its inputs and outputs,
 * and the nodes of each subgraph right after the node that contains it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "model.h"
#include "model_print.h"
#include "output.h"

static const struct qs_cli_spec graph_spec = {
    .accepts = QS_CLI_FORMAT | QS_CLI_OUTPUT,
    .min_args = 1,
    .max_args = 1,
};

/* Blanks per subgraph level in text. */
#define GRAPH_INDENT 4

/* Maximum width the op and name columns are padded to in text; longer names push the rest right. */
#define GRAPH_MAX_PAD 28

/* Append "piece" to "*text" ("*len" bytes in "*cap"), growing it geometrically. */
static void
text_append(char **text, size_t *len, size_t *cap, const char *piece)
{
    size_t n = strlen(piece);

    if (*len + n + 1 > *cap) {
        *cap = 2 * (*len + n + 1);
        *text = qs_realloc(*text, *cap);
    }
    memcpy(*text + *len, piece, n + 1);
    *len += n;
}

/*
 * A node's values as text, separated by ", "; omitted optional ones as "-".
 * Built in one growing buffer: a Sum or Concat may have 100000 inputs.
 */
static char *
values_text(struct qs_value *const *values, size_t n)
{
    size_t len = 0;
    size_t cap = 0;
    char *text = NULL;

    text_append(&text, &len, &cap, "");
    for (size_t i = 0; i < n; i++) {
        char *value = values[i] ? qs_value_text(values[i]) : qs_strdup("-");

        text_append(&text, &len, &cap, i ? ", " : "");
        text_append(&text, &len, &cap, value);
        free(value);
    }
    return text;
}

static char *
qualified_op(const struct qs_node *node)
{
    return *node->domain ? qs_asprintf("%s.%s", node->domain, node->op_type)
                         : qs_strdup(node->op_type);
}

/* ---- text ------------------------------------------------------------- */

struct text_widths {
    int index;
    int op;
    int name;
};

static int
clamp_width(size_t width)
{
    return width > GRAPH_MAX_PAD ? GRAPH_MAX_PAD : (int)width;
}

static void
graph_widths(const struct qs_graph *graph, struct text_widths *widths)
{
    char digits[24];

    snprintf(digits, sizeof(digits), "%zu", graph->n_nodes ? graph->n_nodes - 1 : 0);
    widths->index = (int)strlen(digits);
    widths->op = 0;
    widths->name = 0;
    for (size_t i = 0; i < graph->n_nodes; i++) {
        char *qualified = qualified_op(&graph->nodes[i]);
        char *op = qs_text_sanitize(qualified);
        char *name = qs_text_sanitize(graph->nodes[i].label);

        /* Measured as printed, where an invalid byte takes four columns (\xff). */
        if (clamp_width(qs_text_width(op)) > widths->op)
            widths->op = clamp_width(qs_text_width(op));
        if (clamp_width(qs_text_width(name)) > widths->name)
            widths->name = clamp_width(qs_text_width(name));
        free(qualified);
        free(op);
        free(name);
    }
}

/* Print "text" padded with blanks to "width" terminal columns. */
static void
print_padded(FILE *fp, const char *text, int width)
{
    int used = (int)qs_text_width(text);

    fputs(text, fp);
    if (used < width)
        fprintf(fp, "%*s", width - used, "");
}

static void text_graph(FILE *fp, const struct qs_graph *graph);

static void
text_node(FILE *fp, const struct qs_node *node, const struct text_widths *widths)
{
    char *qualified = qualified_op(node);
    char *op_text = qs_text_sanitize(qualified);
    char *name = qs_text_sanitize(node->label);
    char *inputs = values_text(node->inputs, node->n_inputs);
    char *outputs = values_text(node->outputs, node->n_outputs);
    char *in_text = qs_text_sanitize(inputs);
    char *out_text = qs_text_sanitize(outputs);

    fprintf(fp, "%*s%*zu  ", GRAPH_INDENT * node->graph->depth, "", widths->index, node->index);
    print_padded(fp, op_text, widths->op);
    fputs("  ", fp);
    print_padded(fp, name, widths->name);
    fprintf(fp, "  (%s) -> (%s)\n", in_text, out_text);

    free(qualified);
    free(op_text);
    free(name);
    free(inputs);
    free(outputs);
    free(in_text);
    free(out_text);

    for (size_t s = 0; s < node->n_subgraphs; s++)
        text_graph(fp, node->subgraphs[s]);
}

static void
text_graph(FILE *fp, const struct qs_graph *graph)
{
    struct text_widths widths;

    if (graph->depth > 0) {
        char *scope = qs_text_sanitize(graph->scope);

        fprintf(fp, "%*s%s  (%zu node%s)\n", GRAPH_INDENT * graph->depth - 2, "", scope,
                graph->n_nodes, graph->n_nodes == 1 ? "" : "s");
        free(scope);
    }
    graph_widths(graph, &widths);
    for (size_t i = 0; i < graph->n_nodes; i++)
        text_node(fp, &graph->nodes[i], &widths);
}

/* ---- JSON and CSV ----------------------------------------------------- */

static json_t *
values_json(struct qs_value *const *values, size_t n)
{
    json_t *array = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(array, qs_value_json(values[i]));
    return array;
}

static json_t *
node_json(const struct qs_node *node)
{
    json_t *object = json_object();
    json_t *subgraphs = json_array();
    char *op = qualified_op(node);

    qs_json_set_string(object, "scope", node->graph->scope);
    qs_json_set_int(object, "depth", node->graph->depth);
    qs_json_set_int(object, "index", (int64_t)node->index);
    qs_json_set_string(object, "op", op);
    qs_json_set_string(object, "domain", node->domain);
    qs_json_set_string(object, "name", node->label);
    json_object_set_new(object, "inputs", values_json(node->inputs, node->n_inputs));
    json_object_set_new(object, "outputs", values_json(node->outputs, node->n_outputs));
    for (size_t s = 0; s < node->n_subgraphs; s++)
        json_array_append_new(subgraphs, qs_json_string(node->subgraphs[s]->scope));
    json_object_set_new(object, "subgraphs", subgraphs);
    free(op);
    return object;
}

/* Append the nodes of "graph" and, after each node, those of its subgraphs. */
static void
nodes_json(json_t *array, const struct qs_graph *graph)
{
    for (size_t i = 0; i < graph->n_nodes; i++) {
        const struct qs_node *node = &graph->nodes[i];

        json_array_append_new(array, node_json(node));
        for (size_t s = 0; s < node->n_subgraphs; s++)
            nodes_json(array, node->subgraphs[s]);
    }
}

static const struct qs_column node_columns[] = {
    { .key = "scope", .type = QS_COL_STRING },
    { .key = "index", .type = QS_COL_INT },
    { .key = "op", .type = QS_COL_STRING },
    { .key = "name", .type = QS_COL_STRING },
    { .key = "inputs", .type = QS_COL_STRING },
    { .key = "outputs", .type = QS_COL_STRING },
};

/* CSV rows: inputs and outputs joined by ", " as in text. */
static void
nodes_table(struct qs_table *table, const struct qs_graph *graph)
{
    for (size_t i = 0; i < graph->n_nodes; i++) {
        const struct qs_node *node = &graph->nodes[i];
        char *op = qualified_op(node);
        char *inputs = values_text(node->inputs, node->n_inputs);
        char *outputs = values_text(node->outputs, node->n_outputs);

        qs_table_add_row(table);
        qs_table_set_string(table, 0, graph->scope);
        qs_table_set_int(table, 1, (int64_t)node->index);
        qs_table_set_string(table, 2, op);
        qs_table_set_string(table, 3, node->label);
        qs_table_set_string(table, 4, inputs);
        qs_table_set_string(table, 5, outputs);
        free(op);
        free(inputs);
        free(outputs);

        for (size_t s = 0; s < node->n_subgraphs; s++)
            nodes_table(table, node->subgraphs[s]);
    }
}

/* ---- command ---------------------------------------------------------- */

static void
graph_print(FILE *fp, enum qs_format format, const struct qs_model *model)
{
    struct qs_table *table;
    json_t *doc;
    json_t *nodes;

    switch (format) {
    case QS_FORMAT_TEXT:
        text_graph(fp, model->graph);
        break;
    case QS_FORMAT_CSV:
        table = qs_table_new(node_columns, 6);
        nodes_table(table, model->graph);
        qs_table_write(table, fp, QS_FORMAT_CSV, 1);
        qs_table_free(table);
        break;
    case QS_FORMAT_JSON:
        doc = json_object();
        nodes = json_array();
        qs_json_set_string(doc, "path", model->path);
        nodes_json(nodes, model->graph);
        json_object_set_new(doc, "nodes", nodes);
        qs_json_write(fp, doc);
        json_decref(doc);
        break;
    }
}

static int
graph_run(const struct qs_cli *cli)
{
    const char *path = cli->args[0];
    struct qs_model *model = NULL;
    struct qs_cli_sink sink;
    struct qs_diag diag;
    int exit_code;

    qs_diag_init(&diag);
    if (qs_cli_output_begin(cli, &sink, &diag) == QS_OK) {
        qs_cli_load_model(cli, path, &diag, &model);
        if (model)
            graph_print(sink.fp, cli->format, model);
        qs_cli_output_end(&sink, model != NULL, &diag);
    }

    exit_code = qs_cli_finish(cli, &diag, path);
    qs_model_free(model);
    qs_diag_done(&diag);
    return exit_code;
}

int
qs_cmd_graph(const struct qs_command *command, int argc, char **argv)
{
    return qs_cli_run(command, &graph_spec, argc, argv, graph_run);
}
