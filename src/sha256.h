/*
 * SHA-256 digests (through nettle) that identify the model a plan or a
 * calibration file was made for.
 */
#ifndef QS_SHA256_H
#define QS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Hex digits of a digest, without the terminating NUL. */
#define QS_SHA256_HEX_LEN 64

/* Write the lower-case hex SHA-256 of "size" bytes at "data" to "hex" (65 bytes with the NUL). */
void qs_sha256_hex(const void *data, uint64_t size, char hex[QS_SHA256_HEX_LEN + 1]);

/*
 * Hash the file at "path" into "hex" and store its size in "*size" (may
 * be NULL).  Returns QS_OK, or QS_INVALID with a line in "diag" when the
 * file cannot be read.
 */
enum qs_status qs_sha256_file(const char *path, char hex[QS_SHA256_HEX_LEN + 1],
                              uint64_t *size, struct qs_diag *diag);

#endif
