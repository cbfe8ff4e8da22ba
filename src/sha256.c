/*
 * SHA-256 through nettle, fed in pieces so that a memory map of any size
 * goes through nettle's size_t interface.
 */
#include "config.h"
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

/* Bytes hashed per nettle call. */
#define SHA256_PIECE ((uint64_t)1 << 24)

static void
digest_to_hex(struct sha256_ctx *ctx, char hex[QS_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t digest[SHA256_DIGEST_SIZE];

    sha256_digest(ctx, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[QS_SHA256_HEX_LEN] = '\0';
}

void
qs_sha256_hex(const void *data, uint64_t size, char hex[QS_SHA256_HEX_LEN + 1])
{
    struct sha256_ctx ctx;
    const uint8_t *bytes = data;

    sha256_init(&ctx);
    for (uint64_t done = 0; done < size; done += SHA256_PIECE) {
        uint64_t n = size - done < SHA256_PIECE ? size - done : SHA256_PIECE;

        sha256_update(&ctx, (size_t)n, bytes + done);
    }
    digest_to_hex(&ctx, hex);
}

enum qs_status
qs_sha256_file(const char *path, char hex[QS_SHA256_HEX_LEN + 1], uint64_t *size,
               struct qs_diag *diag)
{
    struct sha256_ctx ctx;
    uint8_t buf[65536];
    uint64_t total = 0;
    FILE *fp = fopen(path, "rb");
    size_t n;

    if (!fp)
        return qs_diag_add(diag, QS_INVALID, path, "cannot open: %s", strerror(errno));
    sha256_init(&ctx);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        sha256_update(&ctx, n, buf);
        total += n;
    }
    if (ferror(fp)) {
        fclose(fp);
        return qs_diag_add(diag, QS_INVALID, path, "read failed");
    }
    fclose(fp);
    digest_to_hex(&ctx, hex);
    if (size)
        *size = total;
    return QS_OK;
}
