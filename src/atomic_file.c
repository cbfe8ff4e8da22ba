/*
 * Atomic file output through a temporary file and rename (or link).
 */
#include "config.h"
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What "path" names, following symbolic links. */
enum target_kind {
    TARGET_NEW,                  /* nothing (or a dangling link) */
    TARGET_FILE,
    TARGET_FOLDER,
    TARGET_SPECIAL               /* a device, FIFO or socket */
};

static enum target_kind
target_kind_of(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return TARGET_NEW;
    if (S_ISDIR(st.st_mode))
        return TARGET_FOLDER;
    return S_ISREG(st.st_mode) ? TARGET_FILE : TARGET_SPECIAL;
}

enum qs_status
qs_atomic_check(const char *path, int force, struct qs_diag *diag)
{
    switch (target_kind_of(path)) {
    case TARGET_FOLDER:
        return qs_diag_add(diag, QS_OUTPUT, path, "is a folder, not a file");
    case TARGET_FILE:
        if (!force)
            return qs_diag_add(diag, QS_OUTPUT, path,
                               "already exists (use --force to replace it)");
        return QS_OK;
    default:
        return QS_OK;
    }
}

/* The folder part of "path" ("." when there is none), in a new string. */
static char *
folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return qs_strdup(".");
    if (slash == path)
        return qs_strdup("/");
    return qs_strndup(path, (size_t)(slash - path));
}

/* Mode for the new file: the replaced file's, else 0666 less the umask. */
static mode_t
new_file_mode(const char *path)
{
    struct stat st;
    mode_t mask;

    if (stat(path, &st) == 0)
        return st.st_mode & 07777;

    /* NOTE: umask(2) can only be read by setting it; another thread
     * creating a file in this instant would see a zero mask. */
    mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* A device or FIFO is opened and written in place. */
static enum qs_status
open_direct(struct qs_atomic_file *file, const char *path, struct qs_diag *diag)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    if (fd >= 0)
        file->fp = fdopen(fd, "w");
    if (!file->fp) {
        qs_diag_add(diag, QS_OUTPUT, path, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return QS_OUTPUT;
    }
    file->path = qs_strdup(path);
    file->direct = 1;
    return QS_OK;
}

/* The file to replace: where "path" leads when it is a link to a file, else "path". */
static char *
replaced_file(const char *path)
{
    struct stat st;
    char *real;
    char *copy;

    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) || target_kind_of(path) != TARGET_FILE)
        return qs_strdup(path);
    real = realpath(path, NULL);
    if (!real)
        return qs_strdup(path);
    copy = qs_strdup(real);
    free(real);
    return copy;
}

enum qs_status
qs_atomic_open(struct qs_atomic_file *file, const char *path, int force, struct qs_diag *diag)
{
    enum qs_status status;
    const char *slash;
    char *folder;
    int fd;

    memset(file, 0, sizeof(*file));
    status = qs_atomic_check(path, force, diag);
    if (status != QS_OK)
        return status;
    if (target_kind_of(path) == TARGET_SPECIAL)
        return open_direct(file, path, diag);

    file->target = replaced_file(path);
    slash = strrchr(file->target, '/');
    folder = folder_of(file->target);
    file->tmp_path = qs_asprintf("%s/.%s.XXXXXX", folder, slash ? slash + 1 : file->target);
    free(folder);
    fd = mkstemp(file->tmp_path);
    if (fd < 0) {
        qs_diag_add(diag, QS_OUTPUT, path, "cannot create a temporary file next to it: %s",
                    strerror(errno));
        free(file->tmp_path);
        file->tmp_path = NULL;  /* nothing was created: nothing to remove */
        qs_atomic_abort(file);
        return QS_OUTPUT;
    }

    if (fchmod(fd, new_file_mode(file->target)) == 0)
        file->fp = fdopen(fd, "w");
    if (!file->fp) {
        qs_diag_add(diag, QS_OUTPUT, path, "cannot open the temporary file: %s", strerror(errno));
        close(fd);
        qs_atomic_abort(file);
        return QS_OUTPUT;
    }
    file->path = qs_strdup(path);
    file->force = force;
    return QS_OK;
}

void
qs_atomic_abort(struct qs_atomic_file *file)
{
    if (file->fp)
        fclose(file->fp);
    if (file->tmp_path)
        unlink(file->tmp_path);
    free(file->tmp_path);
    free(file->target);
    free(file->path);
    memset(file, 0, sizeof(*file));
}

/* Flush the temporary file to disk and close it; returns 0 or an errno value. */
static int
flush_and_close(struct qs_atomic_file *file)
{
    int error = 0;

    errno = 0;
    if (fflush(file->fp) != 0 || ferror(file->fp))
        error = errno ? errno : EIO;
    else if (!file->direct && fsync(fileno(file->fp)) != 0)
        error = errno;
    if (fclose(file->fp) != 0 && !error)
        error = errno;
    file->fp = NULL;
    return error;
}

/*
 * Move the temporary file to the target without replacing an existing
 * one.  link(2) is atomic; file systems without hard links fall back to a
 * check then rename, which a concurrent writer could race.
 */
static int
move_no_replace(const char *tmp_path, const char *path)
{
    struct stat st;

    if (link(tmp_path, path) == 0) {
        unlink(tmp_path);
        return 0;
    }
    if (errno != EPERM && errno != ENOTSUP && errno != ENOSYS && errno != EMLINK)
        return errno;

    if (lstat(path, &st) == 0)
        return EEXIST;
    return rename(tmp_path, path) == 0 ? 0 : errno;
}

/* Make the rename durable; failures are ignored because the data is already in place. */
static void
sync_folder(const char *path)
{
    char *folder = folder_of(path);
    int fd = open(folder, O_RDONLY | O_DIRECTORY);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(folder);
}

enum qs_status
qs_atomic_commit(struct qs_atomic_file *file, struct qs_diag *diag)
{
    int error = flush_and_close(file);

    if (error) {
        qs_diag_add(diag, QS_OUTPUT, file->path, "write failed: %s", strerror(error));
        qs_atomic_abort(file);
        return QS_OUTPUT;
    }
    if (file->direct) {
        qs_atomic_abort(file);  /* nothing to move: frees the strings */
        return QS_OK;
    }

    if (file->force)
        error = rename(file->tmp_path, file->target) == 0 ? 0 : errno;
    else
        error = move_no_replace(file->tmp_path, file->target);
    if (error == EEXIST) {
        qs_diag_add(diag, QS_OUTPUT, file->path, "already exists (use --force to replace it)");
    } else if (error) {
        qs_diag_add(diag, QS_OUTPUT, file->path, "cannot move the temporary file into place: %s",
                    strerror(error));
    }
    if (error) {
        qs_atomic_abort(file);
        return QS_OUTPUT;
    }

    sync_folder(file->target);
    free(file->tmp_path);
    free(file->target);
    free(file->path);
    memset(file, 0, sizeof(*file));
    return QS_OK;
}
