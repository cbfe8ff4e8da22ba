/*
 * Screen rows: text with style spans, built without curses.
 */
#include "config.h"
#include "row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

struct qs_glyphs qs_glyphs;

void
qs_glyphs_init(int utf8)
{
    static const char *const utf8_parts[8] = {
        "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"
    };
    static const char *const ascii_parts[8] = { "", "", "", "", "", "", "", "" };

    qs_glyphs.utf8 = utf8;
    qs_glyphs.ellipsis = utf8 ? "\u2026" : "~";
    qs_glyphs.bar_full = utf8 ? "\u2588" : "#";
    for (int i = 0; i < 8; i++)
        qs_glyphs.bar_part[i] = utf8 ? utf8_parts[i] : ascii_parts[i];
    qs_glyphs.arrow_right = utf8 ? "\u2192" : "->";
    qs_glyphs.arrow_left = utf8 ? "\u2190" : "<-";
    qs_glyphs.fold_open = utf8 ? "\u25be" : "-";
    qs_glyphs.fold_closed = utf8 ? "\u25b8" : "+";
    qs_glyphs.vline = utf8 ? "\u2502" : "|";
    qs_glyphs.mark = utf8 ? "\u25cf" : "*";
    qs_glyphs.times = utf8 ? "\u00d7" : "x";
}

void
qs_row_init(struct qs_row *row)
{
    memset(row, 0, sizeof(*row));
}

void
qs_row_done(struct qs_row *row)
{
    free(row->text);
    free(row->spans);
    memset(row, 0, sizeof(*row));
}

void
qs_row_clear(struct qs_row *row)
{
    row->len = 0;
    row->width = 0;
    row->n_spans = 0;
    row->fill = QS_STYLE_NORMAL;
    if (row->text)
        row->text[0] = 0;
}

/* Make room for "extra" more bytes of text and the NUL. */
static void
row_reserve(struct qs_row *row, size_t extra)
{
    size_t need = row->len + extra + 1;

    if (need <= row->cap)
        return;
    row->cap = need < 64 ? 64 : need * 2;
    row->text = qs_realloc(row->text, row->cap);
}

/* Give bytes [start, end) "style", merging with the previous span when it continues it. */
static void
row_span(struct qs_row *row, int style, size_t start, size_t end)
{
    struct qs_span *last;

    if (style == QS_STYLE_NORMAL || end <= start)
        return;
    last = row->n_spans ? &row->spans[row->n_spans - 1] : NULL;
    if (last && last->style == style && last->start + last->len == start) {
        last->len += (uint32_t)(end - start);
        return;
    }
    if (row->n_spans == row->cap_spans) {
        row->cap_spans = row->cap_spans ? row->cap_spans * 2 : 8;
        row->spans = qs_reallocarray(row->spans, row->cap_spans, sizeof(*row->spans));
    }
    row->spans[row->n_spans++] = (struct qs_span){ (uint32_t)start, (uint32_t)(end - start),
                                                   (uint16_t)style };
}

/* Length of the UTF-8 sequence starting at "s" (1 .. 4), or 0 when it is not valid. */
static size_t
utf8_len(const unsigned char *s)
{
    size_t need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        need = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        need = 4;
    else
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

size_t
qs_row_addn(struct qs_row *row, int style, const char *text, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t start = row->len;
    size_t cols = 0;

    while (*s && cols < max) {
        size_t n = utf8_len(s);

        row_reserve(row, 4);
        if (n == 1 && *s >= 0x20 && *s != 0x7f)
            row->text[row->len++] = (char)*s;
        else if (n > 1 && qs_glyphs.utf8) {
            memcpy(row->text + row->len, s, n);
            row->len += n;
        } else
            row->text[row->len++] = '?';
        s += n ? n : 1;
        cols++;
    }
    if (row->text)
        row->text[row->len] = 0;
    row->width += cols;
    row_span(row, style, start, row->len);
    return cols;
}

void
qs_row_add(struct qs_row *row, int style, const char *text)
{
    qs_row_addn(row, style, text, SIZE_MAX);
}

void
qs_row_addf(struct qs_row *row, int style, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    qs_row_add(row, style, buf);
}

void
qs_row_pad(struct qs_row *row, size_t col)
{
    if (row->width >= col)
        return;
    row_reserve(row, col - row->width);
    memset(row->text + row->len, ' ', col - row->width);
    row->len += col - row->width;
    row->text[row->len] = 0;
    row->width = col;
}

size_t
qs_text_columns(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t cols = 0;

    while (*s) {
        size_t n = utf8_len(s);

        s += n ? n : 1;
        cols++;
    }
    return cols;
}

/* Byte offset of column "col" in "text" (its length when shorter). */
static size_t
column_offset(const char *text, size_t col)
{
    const unsigned char *s = (const unsigned char *)text;

    while (*s && col > 0) {
        size_t n = utf8_len(s);

        s += n ? n : 1;
        col--;
    }
    return (size_t)((const char *)s - text);
}

const char *
qs_shorten_middle(const char *text, size_t width, char *buf, size_t size)
{
    size_t cols = qs_text_columns(text);
    size_t head, tail, head_bytes, tail_start;

    if (cols <= width || width < 3) {
        snprintf(buf, size, "%.*s", (int)column_offset(text, width), text);
        return buf;
    }
    /* Keep more of the end: it is the distinctive part of most names (".weight", "_17"). */
    head = (width - 1) / 2;
    tail = width - 1 - head;
    head_bytes = column_offset(text, head);
    tail_start = column_offset(text, cols - tail);
    snprintf(buf, size, "%.*s%s%s", (int)head_bytes, text, qs_glyphs.ellipsis, text + tail_start);
    return buf;
}

void
qs_row_cell(struct qs_row *row, int style, const char *text, size_t width, int right)
{
    char buf[1024];
    const char *shown = qs_shorten_middle(text, width, buf, sizeof(buf));
    size_t cols = qs_text_columns(shown);

    if (right)
        qs_row_pad(row, row->width + (width - cols));
    qs_row_add(row, style, shown);
    if (!right)
        qs_row_pad(row, row->width + (width - cols));
}

/* Whether "text" contains only spaces. */
static int
all_blank(const char *text)
{
    while (*text == ' ')
        text++;
    return *text == 0;
}

/* Cut the text at byte "cut", which is column "cols", dropping the spans after it. */
static void
row_cut(struct qs_row *row, size_t cut, size_t cols)
{
    row->len = cut;
    row->text[cut] = 0;
    row->width = cols;
    for (size_t i = 0; i < row->n_spans; i++) {
        struct qs_span *span = &row->spans[i];

        if (span->start >= cut) {
            row->n_spans = i;
            break;
        }
        if (span->start + span->len > cut)
            span->len = (uint32_t)(cut - span->start);
    }
}

void
qs_row_truncate(struct qs_row *row, size_t cols)
{
    size_t cut;
    int style;

    if (row->width <= cols)
        return;
    /* Blank padding past the edge hides nothing; a cut between words leaves no word cut. */
    cut = column_offset(row->text, cols);
    if (cols == 0 || all_blank(row->text + cut) || row->text[cut] == ' ') {
        row_cut(row, cut, cols);
        return;
    }
    /* The last column shows that text was cut, so that "381" never reads as "38". */
    cut = column_offset(row->text, cols - 1);
    style = qs_row_style_at(row, cut);
    row_cut(row, cut, cols - 1);
    qs_row_add(row, style, qs_glyphs.ellipsis ? qs_glyphs.ellipsis : "~");
}

void
qs_row_restyle(struct qs_row *row, int style)
{
    row->n_spans = 0;
    row_span(row, style, 0, row->len);
    row->fill = (uint16_t)style;
}

int
qs_row_style_at(const struct qs_row *row, size_t offset)
{
    for (size_t i = 0; i < row->n_spans; i++)
        if (offset >= row->spans[i].start && offset < row->spans[i].start + row->spans[i].len)
            return row->spans[i].style;
    return QS_STYLE_NORMAL;
}

void
qs_row_bar(struct qs_row *row, int style, double fraction, size_t width)
{
    size_t end = row->width + width;
    double eighths;
    size_t full, part;

    if (!(fraction > 0))
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    eighths = fraction * (double)width * 8.0 + 0.5;
    full = (size_t)eighths / 8;
    part = (size_t)eighths % 8;
    if (!qs_glyphs.utf8 && part >= 4)
        full++, part = 0;
    if (full > width)
        full = width;
    for (size_t i = 0; i < full; i++)
        qs_row_add(row, style, qs_glyphs.bar_full);
    if (full < width && part)
        qs_row_add(row, style, qs_glyphs.bar_part[part]);
    qs_row_pad(row, end);
}

void
qs_frame_reset(struct qs_frame *frame, int lines, int cols)
{
    if (lines != frame->lines) {
        for (int i = lines; i < frame->lines; i++)
            qs_row_done(&frame->rows[i]);
        frame->rows = qs_reallocarray(frame->rows, lines > 0 ? (size_t)lines : 1,
                                      sizeof(*frame->rows));
        for (int i = frame->lines; i < lines; i++)
            qs_row_init(&frame->rows[i]);
        frame->lines = lines;
    }
    frame->cols = cols;
    for (int i = 0; i < lines; i++)
        qs_row_clear(&frame->rows[i]);
    frame->cursor_y = -1;
    frame->cursor_x = 0;
}

void
qs_frame_done(struct qs_frame *frame)
{
    for (int i = 0; i < frame->lines; i++)
        qs_row_done(&frame->rows[i]);
    free(frame->rows);
    memset(frame, 0, sizeof(*frame));
}

int
qs_frame_write(const struct qs_frame *frame, FILE *fp)
{
    for (int i = 0; i < frame->lines; i++) {
        const struct qs_row *row = &frame->rows[i];
        size_t len = row->len;

        while (len > 0 && row->text[len - 1] == ' ')
            len--;
        fprintf(fp, "%.*s\n", (int)len, row->len ? row->text : "");
    }
    return ferror(fp) ? -1 : 0;
}
