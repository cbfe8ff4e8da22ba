/*
 * Layers view: one row per layer with its weight statistics, its plan
 * configuration and what that configuration costs (SQNR, bytes).  Sorted
 * by any column, worst first; narrowed to one op type; Enter opens the
 * layer view.  Statistics arrive in the background and fill the rows as
 * they come.  Columns that do not fit are left out, least useful first.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "ui.h"

enum layers_column {
    COL_KEY, COL_OP, COL_PARAMS, COL_RANGE, COL_ABSMAX, COL_KURTOSIS, COL_OUTLIERS,
    COL_SPREAD, COL_DEAD, COL_ACT_ABSMAX, COL_ACT_OUTLIERS, COL_CONFIG, COL_SQNR, COL_OUT_DB,
    COL_BYTES, N_COLUMNS,
    SORT_MODEL = N_COLUMNS   /* the sort order of the model: layers as discovered */
};

struct column_info {
    const char *title;
    int width;
    int right;               /* right-aligned */
    int priority;            /* lower is kept longer when the screen is narrow */
    int descending;          /* worst first means largest first */
};

static const struct column_info columns[N_COLUMNS] = {
    [COL_KEY] =      { "layer",    0, 0, 0, 0 },
    [COL_OP] =       { "op",       10, 0, 10, 0 },
    [COL_PARAMS] =   { "params",   6, 1, 1, 1 },
    [COL_RANGE] =    { "range",    17, 1, 11, 1 },
    [COL_ABSMAX] =   { "absmax",   7, 1, 5, 1 },
    [COL_KURTOSIS] = { "kurt",     6, 1, 7, 1 },
    [COL_OUTLIERS] = { "outl%",    5, 1, 6, 1 },
    [COL_SPREAD] =   { "spread",   6, 1, 8, 1 },
    [COL_DEAD] =     { "dead",     4, 1, 9, 1 },
    /* The input activation's absmax and outlier channels, with statistics only. */
    [COL_ACT_ABSMAX] = { "x absmax", 8, 1, 5, 1 },
    [COL_ACT_OUTLIERS] = { "x outl", 6, 1, 6, 1 },
    [COL_CONFIG] =   { "config",   16, 0, 2, 0 },
    [COL_SQNR] =     { "SQNR",     6, 1, 3, 0 },
    /* Output SQNR with the layer alone quantized, with a sensitivity ranking only. */
    [COL_OUT_DB] =   { "out dB",   6, 1, 3, 0 },
    [COL_BYTES] =    { "bytes",    8, 1, 4, 1 },
};

/* Narrowest the key column gets before other columns are dropped. */
#define LAYERS_KEY_MIN 14

struct layers_view {
    size_t *rows;            /* layer indices in display order */
    size_t n_rows;
    enum layers_column sort;
    int reverse;
    char **ops;              /* distinct consumer op types, sorted */
    size_t n_ops;
    int op_index;            /* the op shown alone, or -1 for all */
    const char *op_filter;   /* ops[op_index], or NULL */
    unsigned generation;     /* ui->generation the rows were built at */
    int dirty;               /* sort or filter changed */
    int shown[N_COLUMNS];    /* columns that fit at the last drawing */
    size_t key_width;
};

/* Whether column "col" has anything to show: activation columns need statistics. */
static int
column_available(const struct qs_ui *ui, enum layers_column col)
{
    if (col == COL_ACT_ABSMAX || col == COL_ACT_OUTLIERS)
        return ui->act && ui->act->calib;
    if (col == COL_OUT_DB)
        return ui->act && ui->act->sens;
    return 1;
}

/* ---- sorting ---- */

/* The sort value of an activation or sensitivity column; NaN when unknown. */
static double
activation_value(const struct qs_ui *ui, size_t index, enum layers_column col)
{
    const struct qs_ui_act_layer *x = qs_ui_act_layer(ui, index);
    const struct qs_ui_sens_layer *sens = qs_ui_sens_layer(ui, index);

    if (col == COL_ACT_ABSMAX)
        return x ? x->absmax : NAN;
    if (col == COL_ACT_OUTLIERS)
        return x ? (double)x->outliers : NAN;
    if (col == COL_OUT_DB)
        return sens && sens->measured && !sens->exact ? sens->sqnr_db : NAN;
    return NAN;
}

/* The sort value of a numeric column; NaN when unknown (sorted last). */
static double
sort_value(struct qs_ui *ui, size_t index, enum layers_column col)
{
    const struct qs_layer *l = &ui->layers->items[index];
    const struct qs_ui_layer *info = &ui->info[index];
    const struct qs_stats *s = info->state == QS_STATS_DONE ? &info->stats : NULL;
    const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, index);

    switch (col) {
    case COL_PARAMS: return (double)l->count;
    case COL_RANGE: return s ? s->max - s->min : NAN;
    case COL_ABSMAX: return s ? s->absmax : NAN;
    case COL_KURTOSIS: return s ? s->kurtosis : NAN;
    case COL_OUTLIERS: return s ? s->outlier_share : NAN;
    case COL_SPREAD: return s ? s->spread : NAN;
    case COL_DEAD: return s ? (double)s->dead_channels : NAN;
    case COL_SQNR:
        return entry && !entry->is_float && entry->measured && !entry->m.exact ? entry->m.sqnr_db
                                                                               : NAN;
    case COL_BYTES: return l->quantizable ? (double)qs_ui_layer_bytes(ui, index) : NAN;
    default: return activation_value(ui, index, col);
    }
}

static const char *
sort_text(struct qs_ui *ui, size_t index, enum layers_column col)
{
    const struct qs_layer *l = &ui->layers->items[index];
    const struct qs_plan_layer *entry;

    if (col == COL_KEY)
        return l->key;
    if (col == COL_OP)
        return l->ops;
    entry = qs_ui_plan_entry(ui, index);
    return entry ? entry->config_text : "~";
}

/* The one sort context qsort needs (the browser sorts on the main thread only). */
static struct {
    struct qs_ui *ui;
    enum layers_column col;
    int reverse;
} sorting;

static int
compare_rows(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int result;

    if (sorting.col == SORT_MODEL)
        return sorting.reverse ? (a > b ? -1 : a < b) : (a < b ? -1 : a > b);
    if (sorting.col == COL_KEY || sorting.col == COL_OP || sorting.col == COL_CONFIG)
        result = strcmp(sort_text(sorting.ui, a, sorting.col),
                        sort_text(sorting.ui, b, sorting.col));
    else {
        double x = sort_value(sorting.ui, a, sorting.col);
        double y = sort_value(sorting.ui, b, sorting.col);

        /* Unknown values go last whatever the direction. */
        if (isnan(x) || isnan(y)) {
            if (!isnan(x) != !isnan(y))
                return isnan(x) ? 1 : -1;
            return a < b ? -1 : a > b;
        }
        result = x < y ? -1 : x > y;
        if (columns[sorting.col].descending)
            result = -result;
    }
    if (sorting.reverse)
        result = -result;
    return result ? result : (a < b ? -1 : a > b);
}

static void
rebuild(struct qs_view *view)
{
    struct layers_view *lv = view->priv;
    struct qs_ui *ui = view->ui;
    size_t keep = view->sel < lv->n_rows ? lv->rows[view->sel] : SIZE_MAX;
    char pattern[256];

    lv->n_rows = 0;
    snprintf(pattern, sizeof(pattern), "op:%s", lv->op_filter ? lv->op_filter : "");
    for (size_t i = 0; ui->layers && i < ui->layers->count; i++)
        if (!lv->op_filter || qs_layer_matches(&ui->layers->items[i], pattern))
            lv->rows[lv->n_rows++] = i;
    sorting.ui = ui;
    sorting.col = lv->sort;
    sorting.reverse = lv->reverse;
    if (lv->n_rows > 1)
        qsort(lv->rows, lv->n_rows, sizeof(*lv->rows), compare_rows);
    free(ui->layer_order);
    ui->layer_order = qs_calloc(lv->n_rows + 1, sizeof(*ui->layer_order));
    memcpy(ui->layer_order, lv->rows, lv->n_rows * sizeof(*lv->rows));
    ui->n_layer_order = lv->n_rows;
    lv->generation = ui->generation;
    lv->dirty = 0;
    for (size_t i = 0; i < lv->n_rows; i++)
        if (lv->rows[i] == keep)
            view->sel = i;
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct consumer op types of the layers, sorted, for the op filter. */
static void
collect_ops(struct layers_view *lv, const struct qs_layers *layers)
{
    for (size_t i = 0; i < layers->count; i++) {
        const char *ops = layers->items[i].ops;

        while (*ops) {
            size_t len = strcspn(ops, ",");
            char *op = qs_strndup(ops, len);
            size_t k = 0;

            while (k < lv->n_ops && strcmp(lv->ops[k], op) != 0)
                k++;
            if (len && k == lv->n_ops) {
                lv->ops = qs_reallocarray(lv->ops, lv->n_ops + 1, sizeof(*lv->ops));
                lv->ops[lv->n_ops++] = op;
            } else
                free(op);
            ops += len + (ops[len] == ',');
        }
    }
    if (lv->n_ops > 1)
        qsort(lv->ops, lv->n_ops, sizeof(*lv->ops), compare_strings);
}

static int
layers_open(struct qs_view *view)
{
    struct layers_view *lv = view->priv;
    struct qs_ui *ui = view->ui;

    if (!ui->layers) {
        qs_ui_error(ui, "the layers of this model could not be found");
        return -1;
    }
    lv->rows = qs_calloc(ui->layers->count + 1, sizeof(*lv->rows));
    lv->sort = SORT_MODEL;
    lv->op_index = -1;
    lv->dirty = 1;
    collect_ops(lv, ui->layers);
    return 0;
}

static void
layers_close(struct qs_view *view)
{
    struct layers_view *lv = view->priv;

    free(lv->rows);
    for (size_t i = 0; i < lv->n_ops; i++)
        free(lv->ops[i]);
    free(lv->ops);
}

static size_t
layers_count(struct qs_view *view)
{
    struct layers_view *lv = view->priv;

    if (lv->dirty || lv->generation != view->ui->generation)
        rebuild(view);
    return lv->n_rows;
}

/* ---- drawing ---- */

/* Decide which columns fit "cols" and how wide the key column is. */
static void
layout(struct layers_view *lv, const struct qs_ui *ui, size_t cols)
{
    size_t key_min = cols / 5 > LAYERS_KEY_MIN ? cols / 5 : LAYERS_KEY_MIN;
    size_t used = key_min;

    for (int c = 0; c < N_COLUMNS; c++)
        lv->shown[c] = c == COL_KEY;
    for (int priority = 1; priority <= 11; priority++)
        for (int c = 1; c < N_COLUMNS; c++)
            if (columns[c].priority == priority && column_available(ui, c) &&
                used + (size_t)columns[c].width + 1 <= cols) {
                lv->shown[c] = 1;
                used += (size_t)columns[c].width + 1;
            }
    lv->key_width = key_min + (cols > used ? cols - used : 0);
    if (lv->key_width > 48)
        lv->key_width = 48;
}

static void
layers_draw_header(struct qs_view *view, struct qs_row *row)
{
    struct layers_view *lv = view->priv;
    const char *mark = lv->reverse ? "^" : "v";
    char title[32];

    layout(lv, view->ui, (size_t)view->ui->cols);
    /* The sorted column is marked by v (worst first) or ^ just before its title. */
    snprintf(title, sizeof(title), "layer%s", lv->sort == COL_KEY ? mark : "");
    qs_row_cell(row, QS_STYLE_TITLE, title, lv->key_width, 0);
    for (int c = 1; c < N_COLUMNS; c++) {
        if (!lv->shown[c])
            continue;
        /* Right-aligned titles get the mark next to them, not after the column before. */
        snprintf(title, sizeof(title), "%s%s", c == (int)lv->sort ? mark : " ", columns[c].title);
        if (columns[c].right)
            qs_row_cell(row, QS_STYLE_TITLE, c == (int)lv->sort ? title : columns[c].title,
                        (size_t)columns[c].width + 1, 1);
        else
            qs_row_cell(row, QS_STYLE_TITLE, title, (size_t)columns[c].width + 1, 0);
    }
}

/* "value" in at most "width" characters: 3 significant digits, fewer when that is too wide. */
static void
number(double value, size_t width, char *buf, size_t size)
{
    if (isnan(value)) {
        snprintf(buf, size, "-");
        return;
    }
    for (int digits = 3; digits >= 1; digits--) {
        snprintf(buf, size, "%.*g", digits, value);
        if (strlen(buf) <= width)
            return;
    }
}

/* Text and style of one statistics cell. */
static int
stats_cell(const struct qs_stats *s, enum layers_column col, char *buf, size_t size)
{
    char lo[16], hi[16];
    size_t width = (size_t)columns[col].width;

    switch (col) {
    case COL_RANGE:
        number(s->min, 7, lo, sizeof(lo));
        number(s->max, 7, hi, sizeof(hi));
        snprintf(buf, size, "%s..%s", lo, hi);
        return QS_STYLE_NORMAL;
    case COL_ABSMAX:
        if (!s->nan_count && !s->inf_count) {
            number(s->absmax, width, buf, size);
            return QS_STYLE_NORMAL;
        }
        /* NaN and Inf are left out of every figure: the cell says they are there. */
        if (!s->finite) {
            snprintf(buf, size, "NaN");
            return QS_STYLE_BAD;
        }
        number(s->absmax, width - 1, buf, size);
        snprintf(buf + strlen(buf), size - strlen(buf), "!");
        return QS_STYLE_BAD;
    case COL_KURTOSIS:
        number(s->kurtosis, width, buf, size);
        return s->kurtosis > 10 ? QS_STYLE_WARN : QS_STYLE_NORMAL;
    case COL_OUTLIERS:
        snprintf(buf, size, "%.2f", 100.0 * s->outlier_share);
        return s->outliers ? QS_STYLE_WARN : QS_STYLE_NORMAL;
    case COL_SPREAD:
        number(s->spread, width, buf, size);
        return s->spread > 10 ? QS_STYLE_WARN : QS_STYLE_NORMAL;
    case COL_DEAD:
        snprintf(buf, size, "%llu", (unsigned long long)s->dead_channels);
        return s->dead_channels ? QS_STYLE_WARN : QS_STYLE_NORMAL;
    default: buf[0] = 0; return QS_STYLE_NORMAL;
    }
}

/* Text and style of the plan cells: configuration, SQNR, bytes. */
static int
plan_cell(struct qs_ui *ui, size_t index, enum layers_column col, char *buf, size_t size)
{
    const struct qs_layer *l = &ui->layers->items[index];
    const struct qs_plan_layer *entry = qs_ui_plan_entry(ui, index);

    if (!l->quantizable) {
        snprintf(buf, size, "-");
        return QS_STYLE_DIM;
    }
    if (col == COL_CONFIG) {
        /* The default range goes unsaid, to keep the column narrow. */
        qs_ui_config_short(entry ? entry->config_text : QS_PLAN_FLOAT, buf, size);
        return entry && !entry->is_float ? QS_STYLE_NORMAL : QS_STYLE_DIM;
    }
    if (col == COL_BYTES) {
        qs_ui_bytes_text(qs_ui_layer_bytes(ui, index), buf, size);
        return QS_STYLE_NORMAL;
    }
    if (!entry || entry->is_float) {
        snprintf(buf, size, "-");
        return QS_STYLE_DIM;
    }
    if (!entry->measured) {
        snprintf(buf, size, "%s", qs_glyphs.ellipsis);
        return QS_STYLE_DIM;
    }
    qs_ui_sqnr_text(entry->m.sqnr_db, entry->m.exact, buf, size);
    return entry->m.exact || entry->m.sqnr_db >= 30 ? QS_STYLE_GOOD
           : entry->m.sqnr_db < 15 ? QS_STYLE_BAD : QS_STYLE_WARN;
}

/* Text and style of the activation cells and the output SQNR of the sensitivity. */
static int
activation_cell(struct qs_ui *ui, size_t index, enum layers_column col, char *buf, size_t size)
{
    const struct qs_ui_act_layer *x = qs_ui_act_layer(ui, index);
    const struct qs_ui_sens_layer *sens = qs_ui_sens_layer(ui, index);

    snprintf(buf, size, "-");
    if (col == COL_ACT_ABSMAX && x) {
        number(x->absmax, (size_t)columns[col].width, buf, size);
        return QS_STYLE_NORMAL;
    }
    if (col == COL_ACT_OUTLIERS && x) {
        snprintf(buf, size, "%llu", (unsigned long long)x->outliers);
        return x->outliers ? QS_STYLE_WARN : QS_STYLE_NORMAL;
    }
    if (col != COL_OUT_DB || !sens || !sens->measured)
        return QS_STYLE_DIM;
    qs_ui_sqnr_text(sens->sqnr_db, sens->exact, buf, size);
    return sens->exact || sens->sqnr_db >= 30 ? QS_STYLE_GOOD
           : sens->sqnr_db < 15 ? QS_STYLE_BAD : QS_STYLE_WARN;
}

static void
draw_cell(struct qs_ui *ui, size_t index, enum layers_column col, char *buf, size_t size,
          int *style)
{
    const struct qs_layer *l = &ui->layers->items[index];
    const struct qs_ui_layer *info = &ui->info[index];

    *style = QS_STYLE_NORMAL;
    if (col == COL_OP) {
        snprintf(buf, size, "%s", l->ops[0] ? l->ops : "-");
        *style = QS_STYLE_OP;
    } else if (col == COL_PARAMS)
        qs_ui_count_text(l->count, buf, size);
    else if (col == COL_CONFIG || col == COL_SQNR || col == COL_BYTES)
        *style = plan_cell(ui, index, col, buf, size);
    else if (col == COL_ACT_ABSMAX || col == COL_ACT_OUTLIERS || col == COL_OUT_DB)
        *style = activation_cell(ui, index, col, buf, size);
    else if (info->state == QS_STATS_DONE)
        *style = stats_cell(&info->stats, col, buf, size);
    else {
        snprintf(buf, size, "%s", info->state == QS_STATS_FAILED ? "!" : qs_glyphs.ellipsis);
        *style = info->state == QS_STATS_FAILED ? QS_STYLE_BAD : QS_STYLE_DIM;
    }
}

static void
layers_draw_line(struct qs_view *view, size_t line, struct qs_row *row, size_t cols)
{
    struct layers_view *lv = view->priv;
    size_t index = lv->rows[line];
    char buf[64];
    int style;

    (void)cols;
    qs_row_cell(row, view->ui->layers->items[index].quantizable ? QS_STYLE_NORMAL : QS_STYLE_DIM,
                view->ui->layers->items[index].key, lv->key_width, 0);
    for (int c = 1; c < N_COLUMNS; c++) {
        if (!lv->shown[c])
            continue;
        draw_cell(view->ui, index, (enum layers_column)c, buf, sizeof(buf), &style);
        qs_row_add(row, QS_STYLE_NORMAL, " ");
        qs_row_cell(row, style, buf, (size_t)columns[c].width, columns[c].right);
    }
}

static const char *
layers_search_text(struct qs_view *view, size_t line)
{
    struct layers_view *lv = view->priv;
    static char text[512];
    const struct qs_layer *l = &view->ui->layers->items[lv->rows[line]];

    snprintf(text, sizeof(text), "%s %s", l->key, l->ops);
    for (char *p = text; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return text;
}

/* ---- keys ---- */

static void
open_selected(struct qs_view *view)
{
    struct layers_view *lv = view->priv;

    if (view->sel < lv->n_rows)
        qs_ui_open_layer(view->ui, lv->rows[view->sel]);
}

static int
layers_key(struct qs_view *view, enum qs_action action, int key)
{
    struct layers_view *lv = view->priv;

    (void)key;
    switch (action) {
    case QS_ACTION_ENTER:
    case QS_ACTION_VIEW_LAYER:      /* "the selected layer" is the one under the cursor here */
        open_selected(view);
        return 1;
    case QS_ACTION_SORT_NEXT:
    case QS_ACTION_SORT_PREV:
        /* Columns without data (activations before any statistics) are passed over. */
        do
            lv->sort = (enum layers_column)((lv->sort + (action == QS_ACTION_SORT_NEXT ? 1
                                                         : N_COLUMNS)) % (N_COLUMNS + 1));
        while (lv->sort != SORT_MODEL && !column_available(view->ui, lv->sort));
        break;
    case QS_ACTION_SORT_REVERSE:
        lv->reverse = !lv->reverse;
        break;
    case QS_ACTION_FILTER_OP:
        /* All ops, then each op in turn, then all again. */
        lv->op_index = lv->op_index + 1 < (int)lv->n_ops ? lv->op_index + 1 : -1;
        lv->op_filter = lv->op_index >= 0 ? lv->ops[lv->op_index] : NULL;
        break;
    case QS_ACTION_FILTER_CLEAR:
        lv->op_index = -1;
        lv->op_filter = NULL;
        break;
    default:
        return 0;
    }
    lv->dirty = 1;
    if (action != QS_ACTION_FILTER_OP && action != QS_ACTION_FILTER_CLEAR)
        qs_ui_message(view->ui, "sorted by %s%s",
                      lv->sort == SORT_MODEL ? "model order" : columns[lv->sort].title,
                      lv->sort == SORT_MODEL ? "" : lv->reverse ? ", best first" : ", worst first");
    return 1;
}

static void
layers_status(struct qs_view *view, char *buf, size_t size)
{
    struct layers_view *lv = view->priv;

    if (lv->op_filter)
        snprintf(buf, size, "%s only: %zu layers", lv->op_filter, lv->n_rows);
    else
        snprintf(buf, size, "%zu/%zu", lv->n_rows ? view->sel + 1 : 0, lv->n_rows);
}

/* Keep the selection on the layer the layer view shows. */
static void
layers_shown(struct qs_view *view)
{
    struct layers_view *lv = view->priv;
    const struct qs_layers *layers = view->ui->layers;
    size_t want = view->ui->layer;

    /* Before any layer was shown, the first weight: the one 4 shows from here. */
    for (size_t i = 0; want == SIZE_MAX && layers && i < layers->count; i++)
        if (layers->items[i].quantizable)
            want = i;
    layers_count(view);
    for (size_t i = 0; i < lv->n_rows; i++)
        if (lv->rows[i] == want)
            qs_view_select(view, i);
}

const struct qs_view_ops qs_layers_view = {
    .name = "layers",
    .group = QS_GROUP_LAYERS,
    .flags = QS_VIEW_LIST | QS_VIEW_MODEL | QS_VIEW_TAB,
    .private_size = sizeof(struct layers_view),
    .open = layers_open,
    .close = layers_close,
    .count = layers_count,
    .draw_header = layers_draw_header,
    .draw_line = layers_draw_line,
    .search_text = layers_search_text,
    .key = layers_key,
    .shown = layers_shown,
    .status = layers_status,
};
