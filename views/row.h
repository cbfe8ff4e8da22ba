/*
 * Screen rows as text plus style spans, built by the views without
 * curses and painted by display.c.  The same rows give the golden-screen
 * text of tests and the view-logic unit tests.
 *
 * A row holds UTF-8 text (already sanitized: no control characters) and
 * a list of spans that give byte ranges a style.  Text outside every
 * span has QS_STYLE_NORMAL.  Widths count one column per code point.
 *
 * Glyphs: qs_glyphs holds the few non-ASCII characters the browser
 * draws (bars, ellipsis, arrows), or ASCII stand-ins outside a UTF-8
 * locale; qs_glyphs_init picks the set once at start.
 */
#ifndef QS_ROW_H
#define QS_ROW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Styles of text; display.c maps them to curses attributes and colours. */
enum qs_style {
    QS_STYLE_NORMAL,
    QS_STYLE_HEADER,       /* the top line */
    QS_STYLE_TAB,          /* a view's key in the tab line */
    QS_STYLE_TAB_ACTIVE,   /* the current view's tab */
    QS_STYLE_TITLE,        /* column titles and section names */
    QS_STYLE_SELECTED,     /* the selected row */
    QS_STYLE_DIM,          /* secondary text: shapes, indices */
    QS_STYLE_OP,           /* op types */
    QS_STYLE_BAR,          /* histogram bars */
    QS_STYLE_GOOD,         /* good numbers: high SQNR */
    QS_STYLE_WARN,         /* worrying numbers: outliers, dead channels */
    QS_STYLE_BAD,          /* bad numbers, errors */
    QS_STYLE_MATCH,        /* search matches */
    QS_STYLE_KEY,          /* key names in the status line and help */
    QS_STYLE_STATUS,       /* the status line */
    QS_STYLE_MESSAGE,      /* a message in the status line */
    QS_STYLE_ERROR,        /* an error in the status line */
    QS_STYLE_COUNT,
    /* QS_STYLE_COLOR + n: colour n of the 256-colour palette (gnuplot plots). */
    QS_STYLE_COLOR = 256
};

struct qs_span {
    uint32_t start;        /* byte offset in the text */
    uint32_t len;          /* bytes */
    uint16_t style;
};

struct qs_row {
    char *text;            /* NUL-terminated, owned */
    size_t len;
    size_t cap;
    size_t width;          /* columns taken */
    struct qs_span *spans;
    size_t n_spans;
    size_t cap_spans;
    uint16_t fill;         /* style of the rest of the line after the text (selection bars) */
};

/* Zero a row for use; qs_row_done frees it. */
void qs_row_init(struct qs_row *row);
void qs_row_done(struct qs_row *row);

/* Empty the row, keeping its memory. */
void qs_row_clear(struct qs_row *row);

/*
 * Append "text" in "style", at most "max" columns of it (SIZE_MAX for
 * all).  Control characters become '?'.  Returns the columns appended.
 */
size_t qs_row_addn(struct qs_row *row, int style, const char *text, size_t max);

/* Append "text" in "style". */
void qs_row_add(struct qs_row *row, int style, const char *text);

/* Append formatted text in "style" (numbers in the C locale: callers never change LC_NUMERIC). */
void qs_row_addf(struct qs_row *row, int style, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append spaces until the row is "col" columns wide (nothing when it already is). */
void qs_row_pad(struct qs_row *row, size_t col);

/*
 * Append "text" in a cell "width" columns wide: shortened in the middle
 * with the ellipsis glyph when longer, padded with spaces after it (left
 * aligned) or before it ("right" set).
 */
void qs_row_cell(struct qs_row *row, int style, const char *text, size_t width, int right);

/*
 * Cut the row to "cols" columns.  When the cut splits a word (a number),
 * the last column shows the ellipsis glyph instead, in the style of the
 * text it replaces, so that "381" never reads as "38".
 */
void qs_row_truncate(struct qs_row *row, size_t cols);

/* Set the style of the whole row (text and the rest of the line), keeping no other span. */
void qs_row_restyle(struct qs_row *row, int style);

/* Style of the byte at "offset" (QS_STYLE_NORMAL outside every span). */
int qs_row_style_at(const struct qs_row *row, size_t offset);

/*
 * Shorten "text" to at most "width" columns by cutting out its middle and
 * putting the ellipsis glyph there ("conv_block_3.weight" to
 * "conv_b~.weight").  Writes to "buf" of "size" bytes; returns "buf".
 */
const char *qs_shorten_middle(const char *text, size_t width, char *buf, size_t size);

/* Number of columns "text" takes: one per code point. */
size_t qs_text_columns(const char *text);

/* The glyphs of the current locale. */
struct qs_glyphs {
    int utf8;
    const char *ellipsis;      /* "…" or "~" */
    const char *bar_full;      /* "█" or "#" */
    const char *bar_part[8];   /* eighths of a bar: "", "▏" .. "▉", or "" and ASCII */
    const char *arrow_right;   /* "→" or "->" */
    const char *arrow_left;    /* "←" or "<-" */
    const char *fold_open;     /* "▾" or "-" */
    const char *fold_closed;   /* "▸" or "+" */
    const char *vline;         /* "│" or "|" */
    const char *mark;          /* "●" or "*" */
    const char *times;         /* "×" or "x" */
};

extern struct qs_glyphs qs_glyphs;

/* Choose the glyph set: UTF-8 when "utf8" is set, else ASCII. */
void qs_glyphs_init(int utf8);

/*
 * Append a horizontal bar of "fraction" (0 .. 1) of "width" columns in
 * "style", using eighth blocks in UTF-8; the rest of the cell is padded
 * with spaces.
 */
void qs_row_bar(struct qs_row *row, int style, double fraction, size_t width);

/* A screen: "lines" rows of "cols" columns, plus where the cursor goes. */
struct qs_frame {
    int lines;
    int cols;
    struct qs_row *rows;       /* "lines" rows */
    int cursor_y;              /* -1: hidden */
    int cursor_x;
};

/* Resize "frame" to "lines" x "cols" and clear every row. */
void qs_frame_reset(struct qs_frame *frame, int lines, int cols);
void qs_frame_done(struct qs_frame *frame);

/*
 * Write the frame's text to "fp", one line per row with trailing blanks
 * removed.  Returns 0, or -1 when writing failed.
 */
int qs_frame_write(const struct qs_frame *frame, FILE *fp);

#endif
