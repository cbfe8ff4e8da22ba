/*
 * Output for the non-interactive commands: a table writer with typed
 * columns that prints aligned text, JSON or CSV, and helpers for JSON
 * documents of other shapes.
 *
 * Every number is formatted in the C locale, whatever LC_NUMERIC is.
 * Strings may hold any bytes: bytes that are not valid UTF-8 are written
 * as the four characters \xHH in every format; control characters (C0,
 * DEL and C1) are escaped in JSON, shown as '?' in text and kept (quoted)
 * in CSV.
 *
 * JSON is printed with two-space indentation; an array or object whose
 * members are all scalars or arrays of scalars stays on one line.  Reals are written with the
 * fewest digits that read back to the same double.
 */
#ifndef QS_OUTPUT_H
#define QS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

enum qs_format {
    QS_FORMAT_TEXT,
    QS_FORMAT_JSON,
    QS_FORMAT_CSV
};

enum qs_column_type {
    QS_COL_STRING,
    QS_COL_INT,
    QS_COL_FLOAT
};

/* One column of a table.  Strings are left-aligned in text, numbers right-aligned. */
struct qs_column {
    const char *key;             /* JSON key and CSV header */
    const char *title;           /* text header; NULL uses "key" */
    enum qs_column_type type;
    const char *format;          /* QS_COL_FLOAT: printf format in text ("%.3f"); NULL: "%g" */
    const char *flag;            /* QS_COL_FLOAT: JSON key written beside the value, true when the
                                  * value is not finite (and written as null); NULL for none */
};

struct qs_table;

/*
 * New empty table with "n_columns" columns described by "columns" (the
 * array and its strings are borrowed and must outlive the table).
 */
struct qs_table *qs_table_new(const struct qs_column *columns, size_t n_columns);

/* Free "table" and its cells.  NULL is allowed. */
void qs_table_free(struct qs_table *table);

/* Append a row whose cells are all null; the setters below fill the last row. */
void qs_table_add_row(struct qs_table *table);

/* Indent every text line of "table" by "spaces" blanks (JSON and CSV ignore it). */
void qs_table_set_indent(struct qs_table *table, int spaces);

/* Number of rows added so far. */
size_t qs_table_rows(const struct qs_table *table);

/*
 * Set cell "column" of the last row.  "value" of a string is copied; a
 * NULL string makes the cell null.  The setter must match the column type
 * (an int may also go into a float column); a mismatch aborts, as it is a
 * programming error.
 */
void qs_table_set_string(struct qs_table *table, size_t column, const char *value);
void qs_table_set_int(struct qs_table *table, size_t column, int64_t value);
void qs_table_set_float(struct qs_table *table, size_t column, double value);

/*
 * Print "table" to "fp".  Text: a header line of titles when "header" is
 * set, then one line per row, columns separated by two spaces, no trailing
 * blanks, null cells as "-", floats in the column's format.  CSV: a
 * header line of keys when "header" is set, fields quoted as RFC 4180
 * describes, LF line ends, null cells empty, floats in their exact
 * shortest form.  JSON: an array of row objects, as qs_table_json.
 * Returns 0, or -1 when writing failed.
 */
int qs_table_write(const struct qs_table *table, FILE *fp, enum qs_format format, int header);

/* The rows as a JSON array of objects with the column keys (new reference). */
json_t *qs_table_json(const struct qs_table *table);

/*
 * JSON string of "len" bytes at "bytes" (or up to the NUL for
 * qs_json_string): valid UTF-8 is kept, every other byte becomes the text
 * \xHH.  Never NULL (new reference).
 */
json_t *qs_json_stringn(const char *bytes, size_t len);
json_t *qs_json_string(const char *text);

/* json_real of "value", or json_null when it is not finite (new reference). */
json_t *qs_json_number(double value);

/*
 * Set "key" of "object" to "value", or to null when it is not finite.
 * When "flag" is not NULL, also set "flag" to true if the value was not
 * finite and to false otherwise.
 */
void qs_json_set_number(json_t *object, const char *key, double value, const char *flag);

/* Set "key" of "object" to a string made by qs_json_string ("text" NULL gives null). */
void qs_json_set_string(json_t *object, const char *key, const char *text);

/* Set "key" of "object" to an integer. */
void qs_json_set_int(json_t *object, const char *key, int64_t value);

/* Print "doc" and a newline to "fp" in the layout described at the top.  Returns 0 or -1. */
int qs_json_write(FILE *fp, const json_t *doc);

/*
 * Print "doc" as CSV with the header "key,value" and one row per scalar
 * leaf: the key is the path of object keys and array indices joined by
 * '.' ("inputs.0.shape.1"), the value is the scalar as JSON would write
 * it, strings without their quotes and null as an empty field.  Empty
 * arrays and objects give no row.  Returns 0 or -1.
 */
int qs_json_write_flat_csv(FILE *fp, const json_t *doc);

/*
 * Copy of "text" fit for a terminal: control characters (C0, DEL, C1)
 * become '?' and bytes that are not valid UTF-8 become \xHH.  The caller
 * frees it.
 */
char *qs_text_sanitize(const char *text);

/* Number of terminal columns "text" (already sanitized) takes, counting one per code point. */
size_t qs_text_width(const char *text);

/* Write "text" as one CSV field, quoted when it contains a comma, quote, CR or LF. */
void qs_csv_write_field(FILE *fp, const char *text);

/*
 * Format one number with printf format "format" (one double conversion)
 * in the C locale into "buf".  Non-finite values give "inf", "-inf" or
 * "nan" whatever the format.  Returns "buf".
 */
char *qs_format_double(char *buf, size_t size, const char *format, double value);

/* Shortest decimal form of "value" that reads back as the same double, in the C locale. */
char *qs_format_double_exact(char *buf, size_t size, double value);

#endif
