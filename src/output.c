/*
 * Table writer and JSON helpers for the commands' text, JSON and CSV output.
 */
#include "config.h"
#include "output.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

struct qs_cell {
    int is_null;
    char *text;                  /* QS_COL_STRING */
    int64_t integer;             /* QS_COL_INT */
    double real;                 /* QS_COL_FLOAT */
};

struct qs_table {
    const struct qs_column *columns;
    int indent;                  /* blanks before each text line */
    size_t n_columns;
    size_t n_rows;
    size_t cap_rows;
    struct qs_cell *cells;       /* n_rows * n_columns, row-major */
};

/* ---- C locale --------------------------------------------------------- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void
c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switch this thread to the C locale; returns the locale to restore (0 when none could be made). */
static locale_t
c_locale_enter(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void
c_locale_leave(locale_t previous)
{
    if (previous)
        uselocale(previous);
}

static const char *
nonfinite_text(double value)
{
    if (isnan(value))
        return "nan";
    return value > 0 ? "inf" : "-inf";
}

char *
qs_format_double(char *buf, size_t size, const char *format, double value)
{
    locale_t previous;

    if (!isfinite(value)) {
        snprintf(buf, size, "%s", nonfinite_text(value));
        return buf;
    }

    previous = c_locale_enter();
    snprintf(buf, size, format ? format : "%g", value);
    c_locale_leave(previous);
    return buf;
}

char *
qs_format_double_exact(char *buf, size_t size, double value)
{
    locale_t previous;

    if (!isfinite(value)) {
        snprintf(buf, size, "%s", nonfinite_text(value));
        return buf;
    }

    /* 17 significant digits always read back exactly; fewer often do. */
    previous = c_locale_enter();
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    c_locale_leave(previous);
    return buf;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/*
 * Length of the valid UTF-8 sequence at "s" (at most "n" bytes), or 0
 * when the first byte does not start one.  Overlong forms, surrogates and
 * code points above U+10FFFF are invalid.
 */
static size_t
utf8_sequence_length(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;

    /* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* True for the C1 control characters U+0080 to U+009F, encoded as 0xC2 0x80-0x9F. */
static int
utf8_is_c1(const unsigned char *s, size_t n)
{
    return n == 2 && s[0] == 0xC2 && s[1] <= 0x9F;
}

/*
 * Copy "len" bytes of "text" into a new string with invalid UTF-8 bytes
 * written as \xHH and, when "control" is not 0, control characters
 * replaced by it.  These are C0, DEL and C1, because a terminal may act on
 * U+009B as on ESC [.  Stores the result length in "*out_len" when not NULL.
 */
static char *
escape_bytes(const char *text, size_t len, char control, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    char *out = qs_reallocarray(NULL, len + 1, 4);
    size_t o = 0;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length(s + i, len - i);

        if (n == 0) {
            snprintf(out + o, 5, "\\x%02x", s[i]);
            o += 4;
            i++;
        } else if (control && ((n == 1 && (s[i] < 0x20 || s[i] == 0x7F))
                               || utf8_is_c1(s + i, n))) {
            out[o++] = control;
            i += n;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

char *
qs_text_sanitize(const char *text)
{
    return escape_bytes(text, strlen(text), '?', NULL);
}

size_t
qs_text_width(const char *text)
{
    size_t width = 0;

    /* NOTE: wide (CJK) and combining characters count as one column. */
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        if ((*s & 0xC0) != 0x80)
            width++;
    return width;
}

/* ---- JSON helpers ----------------------------------------------------- */

json_t *
qs_json_stringn(const char *bytes, size_t len)
{
    size_t out_len;
    char *valid = escape_bytes(bytes, len, 0, &out_len);
    json_t *string = json_stringn_nocheck(valid, out_len);

    free(valid);
    if (!string)
        qs_die("out of memory (JSON string of %zu bytes)", out_len);
    return string;
}

json_t *
qs_json_string(const char *text)
{
    return qs_json_stringn(text, strlen(text));
}

static json_t *
json_checked(json_t *value)
{
    if (!value)
        qs_die("out of memory (JSON value)");
    return value;
}

json_t *
qs_json_number(double value)
{
    return json_checked(isfinite(value) ? json_real(value) : json_null());
}

void
qs_json_set_number(json_t *object, const char *key, double value, const char *flag)
{
    json_object_set_new(object, key, qs_json_number(value));
    if (flag)
        json_object_set_new(object, flag, json_boolean(!isfinite(value)));
}

void
qs_json_set_string(json_t *object, const char *key, const char *text)
{
    json_object_set_new(object, key, text ? qs_json_string(text) : json_null());
}

void
qs_json_set_int(json_t *object, const char *key, int64_t value)
{
    json_object_set_new(object, key, json_checked(json_integer((json_int_t)value)));
}

/* ---- JSON writer ------------------------------------------------------ */

static void
json_write_string(FILE *fp, const char *s, size_t len)
{
    fputc('"', fp);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '"':  fputs("\\\"", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '\t': fputs("\\t", fp); break;
        case '\b': fputs("\\b", fp); break;
        case '\f': fputs("\\f", fp); break;
        default:
            if (c < 0x20 || c == 0x7F) {
                fprintf(fp, "\\u%04x", c);
            } else if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9F
                       && (unsigned char)s[i + 1] >= 0x80) {
                fprintf(fp, "\\u%04x", (unsigned char)s[++i]);  /* a C1 control */
            } else {
                fputc(c, fp);
            }
        }
    }
    fputc('"', fp);
}

static void
json_write_real(FILE *fp, double value)
{
    char buf[40];

    if (!isfinite(value)) {
        fputs("null", fp);
        return;
    }
    qs_format_double_exact(buf, sizeof(buf), value);
    fputs(buf, fp);
    /* Keep reals recognisable as reals: "1.0", not "1". */
    if (!strpbrk(buf, ".eEn"))
        fputs(".0", fp);
}

static int
json_is_container(const json_t *value)
{
    return json_is_object(value) || json_is_array(value);
}

/* True for an array whose members are all scalars (an empty one included). */
static int
json_is_scalar_array(const json_t *value)
{
    json_t *member;
    size_t index;

    if (!json_is_array(value))
        return 0;
    json_array_foreach(value, index, member)
        if (json_is_container(member))
            return 0;
    return 1;
}

/*
 * True when the container "value" is written on one line: each member is
 * a scalar or an array of scalars ({"name": "x", "shape": [1, 8]}).
 */
static int
json_is_flat(const json_t *value)
{
    const char *key;
    json_t *member;
    size_t index;

    if (json_is_array(value)) {
        json_array_foreach(value, index, member)
            if (json_is_container(member) && !json_is_scalar_array(member))
                return 0;
    } else {
        json_object_foreach((json_t *)value, key, member)
            if (json_is_container(member) && !json_is_scalar_array(member))
                return 0;
    }
    return 1;
}

static void json_write_value(FILE *fp, const json_t *value, int indent);

/* Start member "index": a separator, then a newline and indentation unless flat. */
static void
json_member_start(FILE *fp, size_t index, int flat, int indent)
{
    if (index > 0)
        fputs(flat ? ", " : ",", fp);
    if (!flat)
        fprintf(fp, "\n%*s", 2 * (indent + 1), "");
}

static void
json_write_container(FILE *fp, const json_t *value, int indent)
{
    int is_array = json_is_array(value);
    size_t size = is_array ? json_array_size(value) : json_object_size(value);
    int flat = json_is_flat(value);
    const char *key;
    json_t *member;
    size_t index = 0;

    fputc(is_array ? '[' : '{', fp);
    if (is_array) {
        json_array_foreach(value, index, member) {
            json_member_start(fp, index, flat, indent);
            json_write_value(fp, member, indent + 1);
        }
    } else {
        json_object_foreach((json_t *)value, key, member) {
            json_member_start(fp, index++, flat, indent);
            json_write_string(fp, key, strlen(key));
            fputs(": ", fp);
            json_write_value(fp, member, indent + 1);
        }
    }
    if (!flat && size > 0)
        fprintf(fp, "\n%*s", 2 * indent, "");
    fputc(is_array ? ']' : '}', fp);
}

static void
json_write_value(FILE *fp, const json_t *value, int indent)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        json_write_container(fp, value, indent);
        break;
    case JSON_STRING:
        json_write_string(fp, json_string_value(value), json_string_length(value));
        break;
    case JSON_INTEGER:
        fprintf(fp, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        break;
    case JSON_REAL:
        json_write_real(fp, json_real_value(value));
        break;
    case JSON_TRUE:
        fputs("true", fp);
        break;
    case JSON_FALSE:
        fputs("false", fp);
        break;
    case JSON_NULL:
        fputs("null", fp);
        break;
    }
}

int
qs_json_write(FILE *fp, const json_t *doc)
{
    json_write_value(fp, doc, 0);
    fputc('\n', fp);
    return ferror(fp) ? -1 : 0;
}

/* ---- CSV -------------------------------------------------------------- */

/* True when a CSV field must be quoted: a separator, quote or any control character. */
static int
csv_needs_quotes(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p == ',' || *p == '"' || *p < 0x20 || *p == 0x7F)
            return 1;
    return 0;
}

void
qs_csv_write_field(FILE *fp, const char *text)
{
    char *valid = escape_bytes(text, strlen(text), 0, NULL);

    if (!csv_needs_quotes(valid)) {
        fputs(valid, fp);
    } else {
        fputc('"', fp);
        for (const char *p = valid; *p; p++) {
            if (*p == '"')
                fputc('"', fp);
            fputc(*p, fp);
        }
        fputc('"', fp);
    }
    free(valid);
}

/* Write the CSV rows of "value" found under the path "prefix" ("" at the top). */
static void
flat_csv_rows(FILE *fp, const char *prefix, const json_t *value)
{
    char buf[40];
    const char *key;
    json_t *member;
    size_t index;
    char *path;

    switch (json_typeof(value)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)value, key, member) {
            path = *prefix ? qs_asprintf("%s.%s", prefix, key) : qs_strdup(key);
            flat_csv_rows(fp, path, member);
            free(path);
        }
        return;
    case JSON_ARRAY:
        json_array_foreach(value, index, member) {
            path = *prefix ? qs_asprintf("%s.%zu", prefix, index) : qs_asprintf("%zu", index);
            flat_csv_rows(fp, path, member);
            free(path);
        }
        return;
    default:
        break;
    }

    qs_csv_write_field(fp, prefix);
    fputc(',', fp);
    if (json_is_string(value)) {
        qs_csv_write_field(fp, json_string_value(value));
    } else if (json_is_integer(value)) {
        fprintf(fp, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    } else if (json_is_real(value)) {
        fputs(qs_format_double_exact(buf, sizeof(buf), json_real_value(value)), fp);
    } else if (json_is_boolean(value)) {
        fputs(json_is_true(value) ? "true" : "false", fp);
    }
    fputc('\n', fp);
}

int
qs_json_write_flat_csv(FILE *fp, const json_t *doc)
{
    fputs("key,value\n", fp);
    flat_csv_rows(fp, "", doc);
    return ferror(fp) ? -1 : 0;
}

/* ---- Tables ----------------------------------------------------------- */

struct qs_table *
qs_table_new(const struct qs_column *columns, size_t n_columns)
{
    struct qs_table *table = qs_calloc(1, sizeof(*table));

    table->columns = columns;
    table->n_columns = n_columns;
    return table;
}

void
qs_table_free(struct qs_table *table)
{
    if (!table)
        return;

    for (size_t i = 0; i < table->n_rows * table->n_columns; i++)
        free(table->cells[i].text);
    free(table->cells);
    free(table);
}

void
qs_table_add_row(struct qs_table *table)
{
    struct qs_cell *row;

    if (table->n_rows == table->cap_rows) {
        table->cap_rows = table->cap_rows ? 2 * table->cap_rows : 16;
        table->cells = qs_reallocarray(table->cells, table->cap_rows,
                                       table->n_columns * sizeof(*table->cells));
    }
    row = table->cells + table->n_rows * table->n_columns;
    for (size_t c = 0; c < table->n_columns; c++)
        row[c] = (struct qs_cell){ .is_null = 1 };
    table->n_rows++;
}

void
qs_table_set_indent(struct qs_table *table, int spaces)
{
    table->indent = spaces > 0 ? spaces : 0;
}

size_t
qs_table_rows(const struct qs_table *table)
{
    return table->n_rows;
}

/* The cell "column" of the last row, checked against the expected type. */
static struct qs_cell *
last_cell(struct qs_table *table, size_t column, enum qs_column_type type)
{
    if (table->n_rows == 0 || column >= table->n_columns)
        qs_die("table: no cell %zu in row %zu (program error)", column, table->n_rows);
    if (table->columns[column].type != type)
        qs_die("table: column '%s' set with the wrong type (program error)",
               table->columns[column].key);
    return &table->cells[(table->n_rows - 1) * table->n_columns + column];
}

void
qs_table_set_string(struct qs_table *table, size_t column, const char *value)
{
    struct qs_cell *cell = last_cell(table, column, QS_COL_STRING);

    free(cell->text);
    cell->text = value ? qs_strdup(value) : NULL;
    cell->is_null = !value;
}

void
qs_table_set_int(struct qs_table *table, size_t column, int64_t value)
{
    struct qs_cell *cell;

    if (column < table->n_columns && table->columns[column].type == QS_COL_FLOAT) {
        qs_table_set_float(table, column, (double)value);
        return;
    }
    cell = last_cell(table, column, QS_COL_INT);
    cell->integer = value;
    cell->is_null = 0;
}

void
qs_table_set_float(struct qs_table *table, size_t column, double value)
{
    struct qs_cell *cell = last_cell(table, column, QS_COL_FLOAT);

    cell->real = value;
    cell->is_null = 0;
}

static const struct qs_cell *
cell_at(const struct qs_table *table, size_t row, size_t column)
{
    return &table->cells[row * table->n_columns + column];
}

/* Text of one cell for text ("exact" 0) or CSV ("exact" 1) output; the caller frees it. */
static char *
cell_text(const struct qs_column *column, const struct qs_cell *cell, int exact)
{
    char buf[64];

    if (cell->is_null)
        return qs_strdup(exact ? "" : "-");

    switch (column->type) {
    case QS_COL_STRING:
        return exact ? qs_strdup(cell->text) : qs_text_sanitize(cell->text);
    case QS_COL_INT:
        return qs_asprintf("%" PRId64, cell->integer);
    case QS_COL_FLOAT:
        if (exact)
            return qs_strdup(qs_format_double_exact(buf, sizeof(buf), cell->real));
        return qs_strdup(qs_format_double(buf, sizeof(buf), column->format, cell->real));
    }
    return qs_strdup("");
}

static const char *
column_title(const struct qs_column *column)
{
    return column->title ? column->title : column->key;
}

/* Print one text line of "n" cells padded to "widths"; numbers are right-aligned. */
static void
text_write_line(FILE *fp, const struct qs_table *table, char **texts, const size_t *widths)
{
    fprintf(fp, "%*s", table->indent, "");
    for (size_t c = 0; c < table->n_columns; c++) {
        size_t pad = widths[c] - qs_text_width(texts[c]);
        int last = c + 1 == table->n_columns;

        if (c > 0)
            fputs("  ", fp);
        if (table->columns[c].type != QS_COL_STRING)
            fprintf(fp, "%*s%s", (int)pad, "", texts[c]);
        else if (last)
            fputs(texts[c], fp);
        else
            fprintf(fp, "%s%*s", texts[c], (int)pad, "");
    }
    fputc('\n', fp);
}

static void
text_write(const struct qs_table *table, FILE *fp, int header)
{
    size_t n_cols = table->n_columns;
    size_t n_lines = table->n_rows + (header ? 1 : 0);
    char **texts = qs_reallocarray(NULL, n_lines ? n_lines : 1, n_cols * sizeof(char *));
    size_t *widths = qs_calloc(n_cols ? n_cols : 1, sizeof(size_t));

    /* Format every cell first: the widths depend on all of them. */
    for (size_t line = 0; line < n_lines; line++) {
        for (size_t c = 0; c < n_cols; c++) {
            char **slot = &texts[line * n_cols + c];
            size_t row = line - (header ? 1 : 0);

            if (header && line == 0)
                *slot = qs_text_sanitize(column_title(&table->columns[c]));
            else
                *slot = cell_text(&table->columns[c], cell_at(table, row, c), 0);
            if (qs_text_width(*slot) > widths[c])
                widths[c] = qs_text_width(*slot);
        }
    }

    for (size_t line = 0; line < n_lines; line++)
        text_write_line(fp, table, texts + line * n_cols, widths);

    for (size_t i = 0; i < n_lines * n_cols; i++)
        free(texts[i]);
    free(texts);
    free(widths);
}

static void
csv_write(const struct qs_table *table, FILE *fp, int header)
{
    if (header) {
        for (size_t c = 0; c < table->n_columns; c++) {
            if (c > 0)
                fputc(',', fp);
            qs_csv_write_field(fp, table->columns[c].key);
        }
        fputc('\n', fp);
    }

    for (size_t r = 0; r < table->n_rows; r++) {
        for (size_t c = 0; c < table->n_columns; c++) {
            char *text = cell_text(&table->columns[c], cell_at(table, r, c), 1);

            if (c > 0)
                fputc(',', fp);
            qs_csv_write_field(fp, text);
            free(text);
        }
        fputc('\n', fp);
    }
}

static json_t *
cell_json(const struct qs_column *column, const struct qs_cell *cell)
{
    if (cell->is_null)
        return json_null();

    switch (column->type) {
    case QS_COL_STRING:
        return qs_json_string(cell->text);
    case QS_COL_INT:
        return json_checked(json_integer((json_int_t)cell->integer));
    case QS_COL_FLOAT:
        return qs_json_number(cell->real);
    }
    return json_null();
}

json_t *
qs_table_json(const struct qs_table *table)
{
    json_t *rows = json_checked(json_array());

    for (size_t r = 0; r < table->n_rows; r++) {
        json_t *object = json_checked(json_object());

        for (size_t c = 0; c < table->n_columns; c++) {
            const struct qs_column *column = &table->columns[c];
            const struct qs_cell *cell = cell_at(table, r, c);

            json_object_set_new(object, column->key, cell_json(column, cell));
            if (column->type == QS_COL_FLOAT && column->flag)
                json_object_set_new(object, column->flag,
                                    json_boolean(!cell->is_null && !isfinite(cell->real)));
        }
        json_array_append_new(rows, object);
    }
    return rows;
}

int
qs_table_write(const struct qs_table *table, FILE *fp, enum qs_format format, int header)
{
    json_t *rows;

    switch (format) {
    case QS_FORMAT_TEXT:
        text_write(table, fp, header);
        break;
    case QS_FORMAT_CSV:
        csv_write(table, fp, header);
        break;
    case QS_FORMAT_JSON:
        rows = qs_table_json(table);
        qs_json_write(fp, rows);
        json_decref(rows);
        break;
    }
    return ferror(fp) ? -1 : 0;
}
