/*
 * Status codes, diagnostics and allocation wrappers shared by every module.
 *
 * Core code never prints: a function that can fail returns an enum
 * qs_status and, where the caller passed one, appends the detail to a
 * struct qs_diag.  Commands print the collected lines and turn the worst
 * status into the process exit status.
 */
#ifndef QS_STATUS_H
#define QS_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/*
 * Status codes.  The exit status of each is fixed by the project's
 * conventions and documented in qscope(1).
 */
#define QS_STATUS_INFO(_) \
    _(OK,          0, "success") \
    _(INVALID,     1, "invalid input") \
    _(USAGE,       2, "usage error") \
    _(OUTPUT,      3, "output not written") \
    _(CHECK,       4, "check failed") \
    _(UNSUPPORTED, 5, "unsupported") \
    _(NOMEM,       1, "out of memory")

enum qs_status {
#define QS_STATUS_ENUM(name, exit_code, text) QS_##name,
    QS_STATUS_INFO(QS_STATUS_ENUM)
#undef QS_STATUS_ENUM
};

/* Exit status for "status"; QS_OK gives 0. */
int qs_status_exit_code(enum qs_status status);

/* Short English description of "status" (static string). */
const char *qs_status_text(enum qs_status status);

/* The more severe of two statuses, for accumulating results. */
enum qs_status qs_status_worst(enum qs_status a, enum qs_status b);

/*
 * A list of problems found while doing one job, each one line of the form
 * "FILE: what is wrong (where)".  Only the first QS_DIAG_MAX lines are
 * kept; the rest are counted.
 */
#define QS_DIAG_MAX 20

struct qs_diag {
    char *lines[QS_DIAG_MAX];
    size_t count;            /* all problems reported, kept or not */
    enum qs_status worst;    /* most severe status reported */
    int warnings;            /* lines that were warnings, not errors */
};

void qs_diag_init(struct qs_diag *diag);
void qs_diag_done(struct qs_diag *diag);

/*
 * Add one problem about "file" with "status".  "diag" may be NULL, in
 * which case nothing is recorded.  Returns "status" so that a caller can
 * write `return qs_diag_add(diag, QS_INVALID, path, "...")`.
 */
enum qs_status qs_diag_add(struct qs_diag *diag, enum qs_status status,
                           const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum qs_status qs_diag_vadd(struct qs_diag *diag, enum qs_status status,
                            const char *file, const char *fmt, va_list ap);

/* Add a warning: printed like an error but does not change "worst". */
void qs_diag_warn(struct qs_diag *diag, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Print every kept line to stderr as "qscope: LINE", then
 * "qscope: FILE: and N more problems" when lines were dropped.
 */
void qs_diag_print(const struct qs_diag *diag, const char *file);

/*
 * Allocation wrappers.  They abort with a message (after the registered
 * fatal hook restores the terminal) when memory runs out, and treat a
 * multiplication overflow in the size as out of memory.  A zero size
 * returns a valid pointer that must still be freed.
 */
void *qs_malloc(size_t size);
void *qs_calloc(size_t count, size_t size);
void *qs_realloc(void *ptr, size_t size);
void *qs_reallocarray(void *ptr, size_t count, size_t size);
char *qs_strdup(const char *text);
char *qs_strndup(const char *text, size_t len);

/* Formatted string in a new allocation (caller frees). */
char *qs_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Hook run before a fatal exit, e.g. to restore the terminal. */
void qs_set_fatal_hook(void (*hook)(void));

/* Print "qscope: MESSAGE" and exit with status 1 after the fatal hook. */
void qs_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Checked arithmetic: return 0 and store the result, or 1 on overflow. */
static inline int qs_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

static inline int qs_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

#endif
