/*
 * The terminal through curses.
 */
#include "config.h"
#include "display.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "status.h"
#include "trace.h"

/* Colour pairs: 1 .. QS_STYLE_COUNT for the styles, then the plot palette. */
#define PAIR_PALETTE 32

static struct {
    SCREEN *screen;
    FILE *out;               /* /dev/null without a display */
    FILE *in;
    int no_display;
    int colors;              /* 0, 8 or 256 */
    int palette_pairs;       /* plot colours get pairs of their own */
    int signal_pipe[2];
    volatile sig_atomic_t stop_signal;
    int saved_stderr;        /* the real stderr while curses runs, else -1 */
    FILE *stderr_capture;
    struct termios saved_termios;
    int have_termios;
} display = { .signal_pipe = { -1, -1 }, .saved_stderr = -1 };

static attr_t style_attrs[QS_STYLE_COUNT];

/* ---- teardown on every path ---- */

/* Put standard error back and replay what was written to it meanwhile. */
static void
stderr_restore(void)
{
    char buf[4096];
    size_t got;

    if (display.saved_stderr < 0)
        return;
    fflush(stderr);
    dup2(display.saved_stderr, STDERR_FILENO);
    close(display.saved_stderr);
    display.saved_stderr = -1;
    if (display.stderr_capture) {
        rewind(display.stderr_capture);
        while ((got = fread(buf, 1, sizeof(buf), display.stderr_capture)) > 0)
            if (write(STDERR_FILENO, buf, got) < 0)
                break;
        fclose(display.stderr_capture);
        display.stderr_capture = NULL;
    }
}

void
qs_display_close(void)
{
    if (display.screen) {
        endwin();
        delscreen(display.screen);
        display.screen = NULL;
        if (display.no_display) {
            fclose(display.out);
            fclose(display.in);
        }
        if (display.have_termios)
            tcsetattr(STDIN_FILENO, TCSANOW, &display.saved_termios);
    }
    stderr_restore();
}

static void
fatal_hook(void)
{
    qs_display_close();
}

/* SIGSEGV and friends: restore the terminal, then die of the same signal. */
static void
crash_handler(int signo)
{
    if (display.screen && !display.no_display) {
        endwin();
        if (display.have_termios)
            tcsetattr(STDIN_FILENO, TCSANOW, &display.saved_termios);
    }
    if (display.saved_stderr >= 0)
        dup2(display.saved_stderr, STDERR_FILENO);
    signal(signo, SIG_DFL);
    raise(signo);
}

static void
stop_handler(int signo)
{
    int saved = errno;
    char byte = (char)signo;

    display.stop_signal = signo;
    if (display.signal_pipe[1] >= 0 && write(display.signal_pipe[1], &byte, 1) < 0)
        errno = saved;
    errno = saved;
}

static void
install_handlers(void)
{
    /* SIGQUIT (Ctrl-\) ends the program with a core dump, so it must restore the terminal too. */
    static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT };
    static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = crash_handler;
    sa.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], &sa, NULL);
    sa.sa_handler = stop_handler;
    sa.sa_flags = 0;
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
        sigaction(stop_signals[i], &sa, NULL);
    /* gnuplot may die while we write to it: that is an error to report, not a reason to exit. */
    signal(SIGPIPE, SIG_IGN);
}

/* Send standard error to a temporary file while curses owns the screen. */
static void
stderr_capture(void)
{
    fflush(stderr);
    display.stderr_capture = tmpfile();
    if (!display.stderr_capture)
        return;
    display.saved_stderr = dup(STDERR_FILENO);
    if (display.saved_stderr < 0 ||
        dup2(fileno(display.stderr_capture), STDERR_FILENO) < 0) {
        fclose(display.stderr_capture);
        display.stderr_capture = NULL;
        if (display.saved_stderr >= 0)
            close(display.saved_stderr);
        display.saved_stderr = -1;
    }
}

/* ---- set-up ---- */

static void
init_colors(int no_color)
{
    static const struct { int style; short fg; short bg; attr_t attr; } table[] = {
        { QS_STYLE_HEADER,     COLOR_WHITE,  COLOR_BLUE,  A_BOLD },
        { QS_STYLE_TAB,        -1,           -1,          0 },
        { QS_STYLE_TAB_ACTIVE, COLOR_BLACK,  COLOR_CYAN,  A_BOLD },
        { QS_STYLE_TITLE,      COLOR_YELLOW, -1,          A_BOLD },
        { QS_STYLE_SELECTED,   COLOR_BLACK,  COLOR_CYAN,  0 },
        { QS_STYLE_DIM,        COLOR_BLUE,   -1,          0 },
        { QS_STYLE_OP,         COLOR_GREEN,  -1,          0 },
        { QS_STYLE_BAR,        COLOR_CYAN,   -1,          0 },
        { QS_STYLE_GOOD,       COLOR_GREEN,  -1,          0 },
        { QS_STYLE_WARN,       COLOR_YELLOW, -1,          0 },
        { QS_STYLE_BAD,        COLOR_RED,    -1,          A_BOLD },
        { QS_STYLE_MATCH,      COLOR_BLACK,  COLOR_YELLOW, 0 },
        { QS_STYLE_KEY,        COLOR_CYAN,   -1,          A_BOLD },
        { QS_STYLE_STATUS,     -1,           -1,          0 },
        { QS_STYLE_MESSAGE,    COLOR_GREEN,  -1,          0 },
        { QS_STYLE_ERROR,      COLOR_RED,    -1,          A_BOLD },
    };
    int use = !no_color && has_colors();

    /* Without colour, attributes alone tell the styles apart. */
    style_attrs[QS_STYLE_HEADER] = A_REVERSE | A_BOLD;
    style_attrs[QS_STYLE_TAB_ACTIVE] = A_REVERSE | A_BOLD;
    style_attrs[QS_STYLE_TITLE] = A_BOLD;
    style_attrs[QS_STYLE_SELECTED] = A_REVERSE;
    style_attrs[QS_STYLE_BAD] = A_BOLD;
    style_attrs[QS_STYLE_MATCH] = A_UNDERLINE;
    style_attrs[QS_STYLE_KEY] = A_BOLD;
    style_attrs[QS_STYLE_ERROR] = A_BOLD;
    if (!use)
        return;
    start_color();
    use_default_colors();
    display.colors = COLORS >= 256 ? 256 : 8;
    display.palette_pairs = COLORS >= 256 && COLOR_PAIRS >= PAIR_PALETTE + 256;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        init_pair((short)table[i].style, table[i].fg, table[i].bg);
        style_attrs[table[i].style] = COLOR_PAIR(table[i].style) | table[i].attr;
    }
    for (short c = 0; c < 8; c++)
        init_pair((short)(PAIR_PALETTE - 8 + c), c, -1);
}

/* Open the terminal, or /dev/null for QSCOPE_NO_DISPLAY. */
static SCREEN *
open_screen(int no_display)
{
    const char *term = getenv("TERM");

    if (!no_display)
        return newterm(NULL, stdout, stdin);
    display.out = fopen("/dev/null", "w");
    display.in = fopen("/dev/null", "r");
    if (!display.out || !display.in)
        return NULL;
    return newterm(term && *term && strcmp(term, "dumb") != 0 ? term : "xterm",
                   display.out, display.in);
}

static int
make_signal_pipe(void)
{
    if (display.signal_pipe[0] >= 0)
        return 0;
    if (pipe(display.signal_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(display.signal_pipe[i], F_SETFL, fcntl(display.signal_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(display.signal_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

int
qs_display_open(const struct qs_display_options *options)
{
    display.no_display = options->no_display;
    if (make_signal_pipe() != 0)
        return -1;
    if (!display.no_display && tcgetattr(STDIN_FILENO, &display.saved_termios) == 0)
        display.have_termios = 1;
    /* Esc alone should act at once, not after a second. */
    set_escdelay(25);
    display.screen = open_screen(display.no_display);
    if (!display.screen) {
        fprintf(stderr, "qscope: cannot set up the terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return -1;
    }
    qs_set_fatal_hook(fatal_hook);
    install_handlers();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    leaveok(stdscr, FALSE);
    curs_set(0);
    init_colors(options->no_color);
    if (!display.no_display) {
        mouseinterval(0);
        mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        stderr_capture();
    }
    QS_TRACE("display %dx%d, %d colours, no_display %d", COLS, LINES, display.colors,
             display.no_display);
    return 0;
}

/* ---- size, painting ---- */

void
qs_display_size(int *lines, int *cols)
{
    *lines = LINES;
    *cols = COLS;
}

void
qs_display_resized(void)
{
    struct winsize ws;

    if (display.no_display || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
        return;
    if (ws.ws_row > 0 && ws.ws_col > 0 && (ws.ws_row != LINES || ws.ws_col != COLS))
        resizeterm(ws.ws_row, ws.ws_col);
}

void
qs_display_clear(void)
{
    if (display.screen)
        clearok(curscr, TRUE);
}

/* The nearest basic colour of palette entry "c" (gnuplot's ansi256 output). */
static short
basic_color(int c)
{
    static const short cube_map[8] = {
        COLOR_BLACK, COLOR_RED, COLOR_GREEN, COLOR_YELLOW,
        COLOR_BLUE, COLOR_MAGENTA, COLOR_CYAN, COLOR_WHITE
    };
    int r, g, b;

    if (c < 16)
        return cube_map[c & 7];
    if (c >= 232)
        return c >= 244 ? COLOR_WHITE : COLOR_BLACK;
    c -= 16;
    r = c / 36 >= 3;
    g = (c / 6) % 6 >= 3;
    b = c % 6 >= 3;
    return cube_map[r | (g << 1) | (b << 2)];
}

static attr_t
attr_of(int style)
{
    int c;

    if (style < QS_STYLE_COLOR)
        return style < QS_STYLE_COUNT ? style_attrs[style] : 0;
    if (!display.colors)
        return 0;
    c = (style - QS_STYLE_COLOR) & 0xff;
    if (display.palette_pairs) {
        init_pair((short)(PAIR_PALETTE + c), (short)c, -1);
        return COLOR_PAIR(PAIR_PALETTE + c);
    }
    return COLOR_PAIR(PAIR_PALETTE - 8 + basic_color(c));
}

static void
paint_row(int y, const struct qs_row *row, int cols)
{
    size_t pos = 0;

    move(y, 0);
    for (size_t i = 0; i <= row->n_spans && pos < row->len; i++) {
        size_t start = i < row->n_spans ? row->spans[i].start : row->len;

        if (start > pos) {
            attrset(0);
            addnstr(row->text + pos, (int)(start - pos));
        }
        if (i < row->n_spans) {
            attrset(attr_of(row->spans[i].style));
            addnstr(row->text + start, (int)row->spans[i].len);
            pos = start + row->spans[i].len;
        } else
            pos = row->len;
    }
    attrset(attr_of(row->fill));
    for (int x = (int)row->width; x < cols; x++)
        addch(' ');
    attrset(0);
}

void
qs_display_paint(const struct qs_frame *frame)
{
    if (!display.screen)
        return;
    for (int y = 0; y < frame->lines && y < LINES; y++)
        paint_row(y, &frame->rows[y], COLS);
    if (frame->cursor_y >= 0) {
        curs_set(1);
        move(frame->cursor_y, frame->cursor_x);
    } else
        curs_set(0);
    refresh();
}

/* ---- input ---- */

static int
translate_mouse(struct qs_mouse *mouse)
{
    MEVENT event;

    if (getmouse(&event) != OK || !mouse)
        return -1;
    mouse->y = event.y;
    mouse->x = event.x;
    if (event.bstate & BUTTON4_PRESSED)
        mouse->kind = QS_MOUSE_WHEEL_UP;
    else if (event.bstate & BUTTON5_PRESSED)
        mouse->kind = QS_MOUSE_WHEEL_DOWN;
    else if (event.bstate & BUTTON1_PRESSED)
        mouse->kind = QS_MOUSE_CLICK;
    else
        return -1;
    return QS_KEY_MOUSE;
}

static int
translate_function_key(int code, struct qs_mouse *mouse)
{
    switch (code) {
    case KEY_UP: return QS_KEY_UP;
    case KEY_DOWN: return QS_KEY_DOWN;
    case KEY_LEFT: return QS_KEY_LEFT;
    case KEY_RIGHT: return QS_KEY_RIGHT;
    case KEY_PPAGE: return QS_KEY_PGUP;
    case KEY_NPAGE: return QS_KEY_PGDN;
    case KEY_HOME: return QS_KEY_HOME;
    case KEY_END: return QS_KEY_END;
    case KEY_ENTER: return QS_KEY_ENTER;
    case KEY_BACKSPACE: return QS_KEY_BACKSPACE;
    case KEY_DC: return QS_KEY_DELETE;
    case KEY_BTAB: return QS_KEY_BTAB;
    case KEY_RESIZE: return QS_KEY_RESIZE;
    case KEY_MOUSE: return translate_mouse(mouse);
    default: return -1;
    }
}

int
qs_display_read_key(struct qs_mouse *mouse)
{
    wint_t ch;
    int kind;

    if (!display.screen || display.no_display)
        return -1;
    kind = get_wch(&ch);
    if (kind == ERR)
        return -1;
    if (kind == KEY_CODE_YES)
        return translate_function_key((int)ch, mouse);
    switch (ch) {
    case '\r':
    case '\n': return QS_KEY_ENTER;
    case 27: return QS_KEY_ESC;
    case '\t': return QS_KEY_TAB;
    case 8:
    case 127: return QS_KEY_BACKSPACE;
    default: return (int)ch;
    }
}

int
qs_display_input_fd(void)
{
    return display.no_display ? -1 : STDIN_FILENO;
}

int
qs_display_signal_fd(void)
{
    return display.signal_pipe[0];
}

int
qs_display_stop_requested(int *signo)
{
    if (signo)
        *signo = display.stop_signal;
    return display.stop_signal != 0;
}

int
qs_display_colors(void)
{
    return display.colors;
}

/* ---- screen dump ---- */

int
qs_display_save(const char *path)
{
    wchar_t line[1024];
    char mb[MB_LEN_MAX];
    FILE *fp;

    if (!display.screen)
        return -1;
    fp = fopen(path, "w");
    if (!fp)
        return -1;
    for (int y = 0; y < LINES; y++) {
        int n = mvinnwstr(y, 0, line, COLS < 1023 ? COLS : 1023);
        mbstate_t state;

        if (n < 0)
            n = 0;
        while (n > 0 && line[n - 1] == L' ')
            n--;
        memset(&state, 0, sizeof(state));
        for (int i = 0; i < n; i++) {
            size_t len = wcrtomb(mb, line[i], &state);

            fwrite(mb, 1, len == (size_t)-1 ? 0 : len, fp);
        }
        fputc('\n', fp);
    }
    return fclose(fp) == 0 ? 0 : -1;
}

/* ---- sixel ---- */

/* True when the DA1 answer "reply" ("\033[?62;4;22c") lists attribute 4. */
static int
da1_has_sixel(const char *reply)
{
    const char *p = strstr(reply, "[?");

    if (!p)
        return 0;
    for (p += 2; *p && *p != 'c'; ) {
        long value = strtol(p, (char **)&p, 10);

        if (value == 4)
            return 1;
        if (*p == ';')
            p++;
        else if (*p != 'c')
            break;
    }
    return 0;
}

int
qs_display_query_sixel(int timeout_ms)
{
    struct termios saved, raw;
    char reply[128];
    size_t got = 0;
    struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0)
        return 0;
    raw = saved;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    if (write(STDOUT_FILENO, "\033[c", 3) == 3) {
        while (got < sizeof(reply) - 1 && poll(&pfd, 1, timeout_ms) > 0) {
            ssize_t n = read(STDIN_FILENO, reply + got, 1);

            if (n <= 0)
                break;
            if (reply[got++] == 'c')
                break;
        }
    }
    reply[got] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    QS_TRACE("DA1 reply of %zu bytes, sixel %d", got, da1_has_sixel(reply));
    return da1_has_sixel(reply);
}

void
qs_display_cell_pixels(int *width, int *height)
{
    struct winsize ws;

    *width = *height = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row &&
        ws.ws_xpixel && ws.ws_ypixel) {
        *width = ws.ws_xpixel / ws.ws_col;
        *height = ws.ws_ypixel / ws.ws_row;
    }
}

void
qs_display_sixel(int y, int x, const char *data, size_t len)
{
    char move_to[32];
    int n;

    if (!display.screen || display.no_display)
        return;
    n = snprintf(move_to, sizeof(move_to), "\033[%d;%dH", y + 1, x + 1);
    fflush(stdout);
    if (write(STDOUT_FILENO, move_to, (size_t)n) < 0)
        return;
    while (len > 0) {
        ssize_t done = write(STDOUT_FILENO, data, len);

        if (done <= 0)
            break;
        data += done;
        len -= (size_t)done;
    }
}
