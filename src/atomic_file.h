/*
 * Atomic file output: write to a temporary file in the target's folder,
 * flush it to disk, then rename it over the target, so that readers see
 * the old file or the complete new one and never a partial write.
 *
 * An existing target is replaced only when "force" is set; otherwise the
 * write fails with QS_OUTPUT (exit status 3).  Without "force" the final
 * step is link(2), which fails when the target appeared in the meantime,
 * so a file created by someone else during the write is not lost.  The
 * temporary file is removed on every failure path.
 *
 * A target that is a symbolic link to a file is replaced where the link
 * points, so the link stays.  A target that is a device or a FIFO
 * ("/dev/stdout", a named pipe) is written in place and needs no "force",
 * because nothing is replaced.  Renaming over it would replace the device
 * node itself.
 *
 * NOTE: a process killed between open and commit leaves its temporary
 * file (named ".NAME.XXXXXX" next to the target) behind.
 */
#ifndef QS_ATOMIC_FILE_H
#define QS_ATOMIC_FILE_H

#include <stdio.h>

#include "status.h"

struct qs_atomic_file {
    FILE *fp;                    /* write the contents here */
    char *path;                  /* the target as given, for messages */
    char *target;                /* the file replaced: "path", or where its link points */
    char *tmp_path;              /* the temporary file, NULL once committed or aborted */
    int force;
    int direct;                  /* a device or FIFO written in place: no temporary file */
};

/*
 * Fail with QS_OUTPUT when "path" is an existing file and "force" is not
 * set, or when it is a folder.  Commands call it before their work so that
 * a refused output costs nothing; qs_atomic_commit checks again.
 */
enum qs_status qs_atomic_check(const char *path, int force, struct qs_diag *diag);

/*
 * Create the temporary file for "path" and open "file->fp" on it.  The
 * new file gets the mode of the file it replaces, else 0666 less the
 * umask.  Returns QS_OK, or QS_OUTPUT with a line in "diag" (the struct is
 * then cleared and needs no abort).
 */
enum qs_status qs_atomic_open(struct qs_atomic_file *file, const char *path, int force,
                              struct qs_diag *diag);

/*
 * Flush, fsync and close the temporary file, then move it to the target
 * and fsync the folder.  On any failure the temporary file is removed and
 * QS_OUTPUT is returned with a line in "diag".  Frees the struct's
 * strings either way.
 */
enum qs_status qs_atomic_commit(struct qs_atomic_file *file, struct qs_diag *diag);

/* Close and remove the temporary file without touching the target.  Safe to call twice. */
void qs_atomic_abort(struct qs_atomic_file *file);

#endif
