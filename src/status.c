/*
 * Status codes, the diagnostics list and allocation wrappers.
 */
#include "config.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*fatal_hook)(void);

int
qs_status_exit_code(enum qs_status status)
{
    switch (status) {
#define QS_STATUS_EXIT(name, exit_code, text) case QS_##name: return exit_code;
    QS_STATUS_INFO(QS_STATUS_EXIT)
#undef QS_STATUS_EXIT
    }
    return 1;
}

const char *
qs_status_text(enum qs_status status)
{
    switch (status) {
#define QS_STATUS_TEXT(name, exit_code, text) case QS_##name: return text;
    QS_STATUS_INFO(QS_STATUS_TEXT)
#undef QS_STATUS_TEXT
    }
    return "unknown status";
}

/* Severity order: unsupported and check failures outrank invalid input,
 * which outranks output and usage errors reported later. */
static int
status_rank(enum qs_status status)
{
    switch (status) {
    case QS_OK:          return 0;
    case QS_OUTPUT:      return 1;
    case QS_CHECK:       return 2;
    case QS_INVALID:     return 3;
    case QS_NOMEM:       return 4;
    case QS_UNSUPPORTED: return 5;
    case QS_USAGE:       return 6;
    }
    return 0;
}

enum qs_status
qs_status_worst(enum qs_status a, enum qs_status b)
{
    return status_rank(a) >= status_rank(b) ? a : b;
}

void
qs_diag_init(struct qs_diag *diag)
{
    memset(diag, 0, sizeof(*diag));
}

void
qs_diag_done(struct qs_diag *diag)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++)
        free(diag->lines[i]);
    memset(diag, 0, sizeof(*diag));
}

static void
diag_append(struct qs_diag *diag, const char *file, const char *fmt, va_list ap)
{
    char detail[1024];

    if (diag->count < QS_DIAG_MAX) {
        vsnprintf(detail, sizeof(detail), fmt, ap);
        diag->lines[diag->count] = file && *file
            ? qs_asprintf("%s: %s", file, detail)
            : qs_strdup(detail);
    }
    diag->count++;
}

enum qs_status
qs_diag_vadd(struct qs_diag *diag, enum qs_status status, const char *file,
             const char *fmt, va_list ap)
{
    if (!diag)
        return status;

    diag_append(diag, file, fmt, ap);
    diag->worst = qs_status_worst(diag->worst, status);
    return status;
}

enum qs_status
qs_diag_add(struct qs_diag *diag, enum qs_status status, const char *file,
            const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qs_diag_vadd(diag, status, file, fmt, ap);
    va_end(ap);
    return status;
}

void
qs_diag_warn(struct qs_diag *diag, const char *file, const char *fmt, ...)
{
    va_list ap;

    if (!diag)
        return;

    va_start(ap, fmt);
    diag_append(diag, file, fmt, ap);
    va_end(ap);
    diag->warnings++;
}

void
qs_diag_print(const struct qs_diag *diag, const char *file)
{
    size_t kept = diag->count < QS_DIAG_MAX ? diag->count : QS_DIAG_MAX;

    for (size_t i = 0; i < kept; i++)
        fprintf(stderr, "qscope: %s\n", diag->lines[i]);
    if (diag->count > kept)
        fprintf(stderr, "qscope: %s: and %zu more problems\n",
                file ? file : "", diag->count - kept);
}

void
qs_set_fatal_hook(void (*hook)(void))
{
    fatal_hook = hook;
}

void
qs_die(const char *fmt, ...)
{
    va_list ap;

    if (fatal_hook)
        fatal_hook();

    fputs("qscope: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *
check_alloc(void *ptr, size_t size)
{
    if (!ptr)
        qs_die("out of memory (requested %zu bytes)", size);
    return ptr;
}

void *
qs_malloc(size_t size)
{
    return check_alloc(malloc(size ? size : 1), size);
}

void *
qs_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        return check_alloc(calloc(1, 1), 0);
    return check_alloc(calloc(count, size), count * size);
}

void *
qs_realloc(void *ptr, size_t size)
{
    return check_alloc(realloc(ptr, size ? size : 1), size);
}

void *
qs_reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(count, size, &total))
        qs_die("out of memory (array of %zu x %zu bytes overflows)", count, size);
    return qs_realloc(ptr, total);
}

char *
qs_strdup(const char *text)
{
    return qs_strndup(text, strlen(text));
}

char *
qs_strndup(const char *text, size_t len)
{
    char *copy = qs_malloc(len + 1);

    memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

char *
qs_asprintf(const char *fmt, ...)
{
    va_list ap;
    int len;
    char *text;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        qs_die("invalid format string '%s'", fmt);

    text = qs_malloc((size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return text;
}
