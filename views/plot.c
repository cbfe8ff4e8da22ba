/*
 * The gnuplot process and the text, sixel and file output of plots.
 */
#include "config.h"
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "trace.h"

extern char **environ;

/* Time limit of one gnuplot request in milliseconds (the first includes its start). */
#define PLOT_TIMEOUT_MS 5000

struct qs_plot {
    int colors;
    int sixel;
    pid_t pid;
    int to_fd;               /* gnuplot's standard input */
    int from_fd;             /* its standard output */
    int err_fd;              /* its standard error */
    int started;
    atomic_int broken;       /* set once with "error"; never cleared */
    char error[512];
    unsigned serial;         /* numbers the end markers */
};

struct qs_plot *
qs_plot_new(void)
{
    struct qs_plot *plot = qs_calloc(1, sizeof(*plot));

    plot->to_fd = plot->from_fd = plot->err_fd = -1;
    return plot;
}

void
qs_plot_configure(struct qs_plot *plot, int colors, int sixel)
{
    plot->colors = colors;
    plot->sixel = sixel;
}

int
qs_plot_sixel_supported(const struct qs_plot *plot)
{
    return plot->sixel;
}

const char *
qs_plot_error(const struct qs_plot *plot)
{
    return atomic_load(&plot->broken) ? plot->error : NULL;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Stop gnuplot (politely, then for sure) and close the pipes. */
static void
stop_gnuplot(struct qs_plot *plot)
{
    close_fd(&plot->to_fd);
    close_fd(&plot->from_fd);
    close_fd(&plot->err_fd);
    if (plot->pid > 0) {
        /* Closing its input ends it; a gnuplot that ignores that is killed. */
        for (int i = 0; i < 50 && waitpid(plot->pid, NULL, WNOHANG) == 0; i++) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };

            nanosleep(&ts, NULL);
            if (i == 49) {
                kill(plot->pid, SIGKILL);
                waitpid(plot->pid, NULL, 0);
            }
        }
    }
    plot->pid = 0;
    plot->started = 0;
}

void
qs_plot_free(struct qs_plot *plot)
{
    if (!plot)
        return;
    stop_gnuplot(plot);
    free(plot);
}

/* Give up on gnuplot for the session, saying why. */
static enum qs_status
fail(struct qs_plot *plot, const char *fmt, const char *detail)
{
    snprintf(plot->error, sizeof(plot->error), fmt, detail);
    QS_TRACE("%s", plot->error);
    stop_gnuplot(plot);
    atomic_store(&plot->broken, 1);
    return QS_UNSUPPORTED;
}

/* The gnuplot program: QSCOPE_GNUPLOT, else "gnuplot" found on PATH.  Caller frees. */
static char *
find_program(void)
{
    const char *name = getenv("QSCOPE_GNUPLOT");
    const char *path = getenv("PATH");

    if (!name || !*name)
        name = "gnuplot";
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? qs_strdup(name) : NULL;
    while (path && *path) {
        size_t len = strcspn(path, ":");
        char *candidate = qs_asprintf("%.*s/%s", (int)len, len ? path : ".", name);

        if (access(candidate, X_OK) == 0)
            return candidate;
        free(candidate);
        path += len + (path[len] == ':');
    }
    return NULL;
}

/* Start "program" on the pipes, with default signal handling and no signal blocked. */
static int
spawn(struct qs_plot *plot, const char *program, int in[2], int out[2], int err[2])
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *argv[] = { (char *)program, NULL };
    int rc;

    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    /* The plot lane blocks every signal, and the browser ignores SIGPIPE: gnuplot gets neither. */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&plot->pid, program, &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

static enum qs_status send_text(struct qs_plot *plot, const char *text);

static enum qs_status
start_gnuplot(struct qs_plot *plot)
{
    char *program = find_program();
    int in[2], out[2], err[2];

    if (!program)
        return fail(plot, "gnuplot not found%s: set QSCOPE_GNUPLOT or install gnuplot",
                    getenv("QSCOPE_GNUPLOT") ? " at QSCOPE_GNUPLOT" : " on PATH");
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        free(program);
        return fail(plot, "cannot make pipes for gnuplot: %s", strerror(errno));
    }
    if (spawn(plot, program, in, out, err) != 0) {
        plot->pid = 0;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        free(program);
        return fail(plot, "cannot start gnuplot: %s", strerror(errno));
    }
    QS_TRACE("started %s as process %d", program, (int)plot->pid);
    free(program);
    close(in[0]), close(out[1]), close(err[1]);
    plot->to_fd = in[1];
    plot->from_fd = out[0];
    plot->err_fd = err[0];
    fcntl(plot->to_fd, F_SETFL, O_NONBLOCK);
    fcntl(plot->from_fd, F_SETFL, O_NONBLOCK);
    fcntl(plot->err_fd, F_SETFL, O_NONBLOCK);
    plot->started = 1;
    return send_text(plot, "set print '-'\n");
}

static int
ms_left(const struct timespec *deadline)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int)ms : 0;
}

static void
deadline_in(struct timespec *deadline, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (long)(ms % 1000) * 1000000;
    if (deadline->tv_nsec >= 1000000000) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000;
    }
}

/* Log the lines of "text" to the trace. */
static void
trace_lines(const char *prefix, const char *text, size_t len)
{
    while (qs_trace_fp && len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t line = nl ? (size_t)(nl - text) : len;

        QS_TRACE("%s%.*s", prefix, (int)line, text);
        text += line + (nl != NULL);
        len -= line + (nl != NULL);
    }
}

static enum qs_status
send_text(struct qs_plot *plot, const char *text)
{
    size_t len = strlen(text);
    struct timespec deadline;

    trace_lines("gnuplot< ", text, len);
    deadline_in(&deadline, PLOT_TIMEOUT_MS);
    while (len > 0) {
        struct pollfd pfd = { .fd = plot->to_fd, .events = POLLOUT };
        ssize_t done;

        if (poll(&pfd, 1, ms_left(&deadline)) <= 0)
            return fail(plot, "gnuplot stopped reading its input%s", "");
        done = write(plot->to_fd, text, len);
        if (done < 0 && errno != EAGAIN && errno != EINTR)
            return fail(plot, "gnuplot died: %s", strerror(errno));
        if (done > 0) {
            text += done;
            len -= (size_t)done;
        }
    }
    return QS_OK;
}

/* A growing byte buffer. */
struct buffer {
    char *data;
    size_t len;
    size_t cap;
};

static void
buffer_add(struct buffer *b, const char *bytes, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->data = qs_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, bytes, len);
    b->len += len;
    b->data[b->len] = 0;
}

/* Read whatever "fd" has into "b"; returns -1 at end of file or on error. */
static int
drain(int fd, struct buffer *b)
{
    char chunk[8192];

    for (;;) {
        ssize_t got = read(fd, chunk, sizeof(chunk));

        if (got > 0)
            buffer_add(b, chunk, (size_t)got);
        else if (got == 0)
            return -1;
        else
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
}

/*
 * Read gnuplot's output up to the line "marker" into "out" (without the
 * marker); its error output goes to the trace.
 */
static enum qs_status
read_until(struct qs_plot *plot, const char *marker, struct buffer *out)
{
    struct buffer err = { 0 };
    struct timespec deadline;
    char *found = NULL;

    deadline_in(&deadline, PLOT_TIMEOUT_MS);
    while (!found) {
        struct pollfd pfd[2] = { { .fd = plot->from_fd, .events = POLLIN },
                                 { .fd = plot->err_fd, .events = POLLIN } };

        if (poll(pfd, 2, ms_left(&deadline)) <= 0) {
            free(err.data);
            return fail(plot, "gnuplot timed out after %s seconds", "5");
        }
        if ((pfd[1].revents & (POLLIN | POLLHUP)))
            drain(plot->err_fd, &err);
        if ((pfd[0].revents & (POLLIN | POLLHUP)) && drain(plot->from_fd, out) < 0) {
            free(err.data);
            return fail(plot, "gnuplot died%s", "");
        }
        found = out->data ? strstr(out->data, marker) : NULL;
    }
    out->len = (size_t)(found - out->data);
    out->data[out->len] = 0;
    if (err.len)
        trace_lines("gnuplot! ", err.data, err.len);
    free(err.data);
    return QS_OK;
}

/* Send "setup", then "script", then the end marker, and collect the output before it. */
static enum qs_status
request(struct qs_plot *plot, const char *setup, const char *script, struct buffer *out)
{
    char marker[64], tail[128];
    enum qs_status status;

    if (atomic_load(&plot->broken))
        return QS_UNSUPPORTED;
    if (!plot->started) {
        status = start_gnuplot(plot);
        if (status != QS_OK)
            return status;
    }
    snprintf(marker, sizeof(marker), "QSCOPE-END-%u", ++plot->serial);
    snprintf(tail, sizeof(tail), "\nset output\nprint \"\\n%s\"\n", marker);
    status = send_text(plot, "reset\n");
    if (status == QS_OK)
        status = send_text(plot, setup);
    if (status == QS_OK)
        status = send_text(plot, script);
    if (status == QS_OK)
        status = send_text(plot, tail);
    return status == QS_OK ? read_until(plot, marker, out) : status;
}

/* ---- text output ---- */

/* Apply one SGR escape's parameters "params" to the colour "style". */
static int
sgr_style(const char *params, int style)
{
    const char *p = params;

    while (*p) {
        long value = strtol(p, (char **)&p, 10);

        if (value == 38 && strncmp(p, ";5;", 3) == 0) {
            long color = strtol(p + 3, (char **)&p, 10);

            style = QS_STYLE_COLOR + (int)(color & 0xff);
        } else if (value == 0 || value == 39)
            style = QS_STYLE_NORMAL;
        if (*p == ';')
            p++;
        else
            break;
    }
    return style;
}

void
qs_plot_parse_text(const char *text, size_t len, int cols, int lines, struct qs_plot_image *out)
{
    int style = QS_STYLE_NORMAL;
    struct qs_row *row;
    char ch[2] = { 0, 0 };

    out->cols = cols;
    out->lines = 0;
    out->rows = qs_calloc((size_t)(lines > 0 ? lines : 1), sizeof(*out->rows));
    row = &out->rows[0];
    for (size_t i = 0; i < len && out->lines < lines; i++) {
        if (text[i] == '\033' && i + 1 < len && text[i + 1] == '[') {
            size_t end = i + 2;
            char params[64];

            while (end < len && text[end] != 'm' && end - i < sizeof(params))
                end++;
            snprintf(params, sizeof(params), "%.*s", (int)(end - i - 2), text + i + 2);
            style = sgr_style(params, style);
            i = end;
        } else if (text[i] == '\n') {
            out->lines++;
            if (out->lines < lines)
                row = &out->rows[out->lines];
        } else if (text[i] >= 0x20 && text[i] < 0x7f && row->width < (size_t)cols) {
            ch[0] = text[i];
            qs_row_add(row, style, ch);
        }
    }
    if (out->lines < lines && row->len > 0)
        out->lines++;
}

enum qs_status
qs_plot_text(struct qs_plot *plot, const char *script, int cols, int lines,
             struct qs_plot_image *out)
{
    struct buffer text = { 0 };
    char setup[128];
    enum qs_status status;

    memset(out, 0, sizeof(*out));
    snprintf(setup, sizeof(setup), "set terminal dumb size %d,%d nofeed %s\n", cols, lines,
             plot->colors >= 256 ? "ansi256" : plot->colors ? "ansi" : "mono");
    status = request(plot, setup, script, &text);
    if (status == QS_OK) {
        /* The dumb terminal starts a page with a form feed. */
        const char *start = text.data ? text.data : "";

        while (*start == '\f' || *start == '\n')
            start++;
        qs_plot_parse_text(start, strlen(start), cols, lines, out);
    }
    free(text.data);
    return status;
}

enum qs_status
qs_plot_sixel(struct qs_plot *plot, const char *script, int width, int height,
              struct qs_plot_image *out)
{
    struct buffer image = { 0 };
    char setup[128];
    enum qs_status status;

    memset(out, 0, sizeof(*out));
    snprintf(setup, sizeof(setup), "set terminal sixelgd size %d,%d truecolor\n", width, height);
    status = request(plot, setup, script, &image);
    if (status == QS_OK) {
        out->sixel = image.data;
        out->sixel_len = image.len;
        return QS_OK;
    }
    free(image.data);
    return status;
}

/* ---- files ---- */

const char *
qs_plot_quote(const char *text, char *buf, size_t size)
{
    size_t used = 0;

    if (size < 3)
        return "''";
    buf[used++] = '\'';
    for (const char *p = text; *p && used + 3 < size; p++) {
        if (*p == '\'')
            buf[used++] = '\'';
        buf[used++] = (unsigned char)*p < 0x20 ? '?' : *p;
    }
    buf[used++] = '\'';
    buf[used] = 0;
    return buf;
}

/* Write one file with "terminal" through a temporary file. */
static enum qs_status
export_one(struct qs_plot *plot, const char *terminal, const char *script, const char *path,
           int force, struct qs_diag *diag)
{
    struct qs_atomic_file file;
    struct buffer ignored = { 0 };
    char setup[4400], quoted[4096];
    enum qs_status status = qs_atomic_open(&file, path, force, diag);

    if (status != QS_OK)
        return status;
    snprintf(setup, sizeof(setup), "set terminal %s\nset output %s\n", terminal,
             qs_plot_quote(file.tmp_path, quoted, sizeof(quoted)));
    status = request(plot, setup, script, &ignored);
    free(ignored.data);
    if (status != QS_OK) {
        qs_atomic_abort(&file);
        return qs_diag_add(diag, status, path, "%s", qs_plot_error(plot));
    }
    return qs_atomic_commit(&file, diag);
}

enum qs_status
qs_plot_export(struct qs_plot *plot, const char *script, const char *png_path,
               const char *svg_path, int force, struct qs_diag *diag)
{
    enum qs_status status;

    status = qs_atomic_check(png_path, force, diag);
    if (status == QS_OK)
        status = qs_atomic_check(svg_path, force, diag);
    if (status != QS_OK)
        return status;
    status = export_one(plot, "pngcairo size 1200,720", script, png_path, force, diag);
    if (status == QS_OK)
        status = export_one(plot, "svg size 1200,720", script, svg_path, force, diag);
    return status;
}

void
qs_plot_image_done(struct qs_plot_image *image)
{
    for (int i = 0; image->rows && i < image->lines; i++)
        qs_row_done(&image->rows[i]);
    free(image->rows);
    free(image->sixel);
    memset(image, 0, sizeof(*image));
}
