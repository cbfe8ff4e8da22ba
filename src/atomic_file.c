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

enum qs_status
qs_atomic_check(const char *path, int force, struct qs_diag *diag)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return QS_OK;
    if (S_ISDIR(st.st_mode))
        return qs_diag_add(diag, QS_OUTPUT, path, "is a folder, not a file");
    if (!force)
        return qs_diag_add(diag, QS_OUTPUT, path, "already exists (use --force to replace it)");
    return QS_OK;
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

enum qs_status
qs_atomic_open(struct qs_atomic_file *file, const char *path, int force, struct qs_diag *diag)
{
    const char *slash = strrchr(path, '/');
    char *folder = folder_of(path);
    enum qs_status status;
    int fd;

    memset(file, 0, sizeof(*file));
    status = qs_atomic_check(path, force, diag);
    if (status != QS_OK) {
        free(folder);
        return status;
    }

    file->tmp_path = qs_asprintf("%s/.%s.XXXXXX", folder, slash ? slash + 1 : path);
    free(folder);
    fd = mkstemp(file->tmp_path);
    if (fd < 0) {
        qs_diag_add(diag, QS_OUTPUT, path, "cannot create a temporary file next to it: %s",
                    strerror(errno));
        free(file->tmp_path);
        file->tmp_path = NULL;
        return QS_OUTPUT;
    }

    if (fchmod(fd, new_file_mode(path)) == 0)
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
    free(file->path);
    memset(file, 0, sizeof(*file));
}

/* Flush the temporary file to disk and close it; returns 0 or an errno value. */
static int
flush_and_close(struct qs_atomic_file *file)
{
    int error = 0;

    if (fflush(file->fp) != 0 || ferror(file->fp))
        error = errno ? errno : EIO;
    else if (fsync(fileno(file->fp)) != 0)
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

    if (file->force)
        error = rename(file->tmp_path, file->path) == 0 ? 0 : errno;
    else
        error = move_no_replace(file->tmp_path, file->path);
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

    sync_folder(file->path);
    free(file->tmp_path);
    free(file->path);
    memset(file, 0, sizeof(*file));
    return QS_OK;
}
