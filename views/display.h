/*
 * The terminal: curses set-up and teardown, painting frames, reading
 * keys, colours, and putting the terminal back on every way out.
 *
 * This is the only file of qscope that includes curses.  The terminal is
 * restored on a normal quit, on qs_die and allocation failures (through
 * qs_set_fatal_hook), on SIGINT, SIGTERM and SIGHUP (which ask the main
 * loop to stop: qs_display_stop_requested) and on SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE and SIGABRT (restored in the handler, then the signal is raised
 * again so the process dies as it would have).  While curses runs,
 * standard error goes to a temporary file whose content is written back
 * to the real standard error at teardown.
 *
 * Colours: none where NO_COLOR is set or the terminal has none; the
 * 256-colour palette of gnuplot plots where the terminal has 256 colours,
 * else its nearest of the 8 basic colours.
 */
#ifndef QS_DISPLAY_H
#define QS_DISPLAY_H

#include <stddef.h>

#include "keys.h"
#include "row.h"

struct qs_display_options {
    int no_display;          /* QSCOPE_NO_DISPLAY: draw into /dev/null, read no keys */
    int no_color;            /* NO_COLOR is set */
};

/*
 * Start curses on the terminal (or /dev/null).  Returns 0, or -1 when the
 * terminal cannot be set up (a message is printed to stderr).
 */
int qs_display_open(const struct qs_display_options *options);

/* End curses and restore the terminal.  Safe to call twice and when never opened. */
void qs_display_close(void);

/* Current size of the screen. */
void qs_display_size(int *lines, int *cols);

/* Make curses pick up a new terminal size (after QS_KEY_RESIZE). */
void qs_display_resized(void);

/* Paint "frame" and put the cursor where it says. */
void qs_display_paint(const struct qs_frame *frame);

/* Forget what is on the screen and paint everything at the next qs_display_paint. */
void qs_display_clear(void);

/*
 * Read one key without waiting: a key code of keys.h (mouse events fill
 * "mouse"), or -1 when none is waiting.
 */
int qs_display_read_key(struct qs_mouse *mouse);

/* File descriptor that is readable when a key may be waiting, or -1 without a terminal. */
int qs_display_input_fd(void);

/* File descriptor that is readable when a stop signal (SIGINT, SIGTERM, SIGHUP) arrived. */
int qs_display_signal_fd(void);

/* True once SIGINT, SIGTERM or SIGHUP arrived; "*signo" gets which. */
int qs_display_stop_requested(int *signo);

/* Colours available to plots: 0 (none), 8 or 256. */
int qs_display_colors(void);

/*
 * Write the screen's text as curses holds it to "path", one line per
 * screen line without trailing blanks.  Returns 0, or -1 on error.
 */
int qs_display_save(const char *path);

/*
 * Ask the terminal whether it draws sixel images (a DA1 query answered
 * within "timeout_ms").  Call before qs_display_open.  Returns 1 when it
 * says so, 0 when it does not answer or says not.
 */
int qs_display_query_sixel(int timeout_ms);

/* Size of a character cell in pixels, from the terminal, or 0 when unknown. */
void qs_display_cell_pixels(int *width, int *height);

/*
 * Write "len" bytes of a sixel image to the terminal with its top left
 * corner at screen cell ("y", "x"), after the last paint.
 */
void qs_display_sixel(int y, int x, const char *data, size_t len);

#endif
