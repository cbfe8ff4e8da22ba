/*
 * External data: a tensor's bytes in another file next to the model.
 *
 * The location is checked before any file is opened: absolute paths and
 * '..' components that climb above the model's folder are rejected, then
 * the resolved path (symlinks followed by realpath) must still lie inside
 * the folder.  Offsets and lengths are strict 64-bit decimals, and the
 * requested range is checked against the file's size.  Each file is
 * mapped read-only once, however many tensors use it.
 */
#include "config.h"
#include "model_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct extdata_keys {
    const char *location;
    const char *offset;
    const char *length;
};

static enum qs_status
extdata_keys(struct qs_model_build *b, struct qs_tensor *t, const Onnx__TensorProto *proto,
             struct extdata_keys *keys)
{
    char key[100];

    memset(keys, 0, sizeof(*keys));
    for (size_t i = 0; i < proto->n_external_data; i++) {
        const char *k = proto->external_data[i]->key ? proto->external_data[i]->key : "";
        const char *v = proto->external_data[i]->value ? proto->external_data[i]->value : "";
        const char **slot = NULL;

        if (strcmp(k, "location") == 0)
            slot = &keys->location;
        else if (strcmp(k, "offset") == 0)
            slot = &keys->offset;
        else if (strcmp(k, "length") == 0)
            slot = &keys->length;
        if (!slot)
            continue;  /* "checksum" and keys of later versions */
        if (*slot)
            return qs_tensor_fault(b, t, QS_INVALID, "external_data key '%s' appears twice",
                                   qs_quote(k, key, sizeof(key)));
        *slot = v;
    }
    if (!keys->location || !*keys->location)
        return qs_tensor_fault(b, t, QS_INVALID, "external data has no location");
    return QS_OK;
}

/* Strict decimal: digits only, no sign or space, no overflow.  0 or -1. */
static int
extdata_parse_u64(const char *text, uint64_t *value)
{
    uint64_t result = 0;

    if (!*text)
        return -1;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (qs_mul_overflow_u64(result, 10, &result)
            || qs_add_overflow_u64(result, (uint64_t)(*p - '0'), &result))
            return -1;
    }
    *value = result;
    return 0;
}

/* True when the location, read as a relative path, stays inside its folder. */
static int
extdata_location_inside(const char *location)
{
    int depth = 0;
    const char *p = location;

    if (*p == '/' || *p == '\\')
        return 0;
    while (*p) {
        size_t len = strcspn(p, "/\\");

        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            depth++;
        }
        p += len;
        if (*p)
            p++;
    }
    return 1;
}

static const char *
extdata_real_dir(struct qs_model_build *b)
{
    struct qs_model_private *priv = b->model->priv;
    char *real;

    if (!priv->real_dir && !priv->real_dir_failed) {
        real = realpath(b->model->dir, NULL);
        if (real) {
            priv->real_dir = qs_arena_strdup(b->arena, real);
            free(real);
        } else {
            priv->real_dir_failed = errno ? errno : ENOENT;
        }
    }
    return priv->real_dir;
}

/* Map the file at "real" (already checked to be inside the folder), once. */
static struct qs_ext_file *
extdata_map(struct qs_model_build *b, const char *real, int *error)
{
    struct qs_model_private *priv = b->model->priv;
    struct qs_ext_file *file = qs_strmap_get(priv->ext_by_path, real);
    struct stat st;
    int fd;

    if (file)
        return file;
    *error = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *error = errno;
        return NULL;
    }
    if (fstat(fd, &st) != 0)
        *error = errno;
    else if (!S_ISREG(st.st_mode))
        *error = EISDIR;  /* reported as "not a regular file" */
    if (*error) {
        close(fd);
        return NULL;
    }

    file = qs_calloc(1, sizeof(*file));
    file->real_path = qs_arena_strdup(b->arena, real);
    file->size = (uint64_t)st.st_size;
    if (st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

        if (map == MAP_FAILED) {
            *error = errno;
            close(fd);
            free(file);
            return NULL;
        }
        file->map = map;
    }
    close(fd);
    qs_ptrvec_push(&priv->ext_files, file);
    qs_strmap_put(priv->ext_by_path, file->real_path, file);
    return file;
}

/* Resolve and map the location; a fault in "t" when it escapes or cannot be opened. */
static struct qs_ext_file *
extdata_open(struct qs_model_build *b, struct qs_tensor *t, const char *location)
{
    char shown[200];
    const char *dir = extdata_real_dir(b);
    char *joined;
    char *real;
    struct qs_ext_file *file = NULL;
    int error = 0;
    size_t dir_len;

    qs_quote(location, shown, sizeof(shown));
    if (!dir) {
        qs_tensor_fault(b, t, QS_INVALID, "external data '%s' cannot be read: model folder "
                        "cannot be resolved: %s", shown, strerror(b->model->priv->real_dir_failed));
        return NULL;
    }

    joined = qs_asprintf("%s/%s", dir, location);
    real = realpath(joined, NULL);
    error = errno;
    free(joined);
    if (!real) {
        if (error == ENOENT)
            qs_tensor_fault(b, t, QS_INVALID, "external data file '%s' not found", shown);
        else
            qs_tensor_fault(b, t, QS_INVALID, "external data file '%s' cannot be opened: %s",
                            shown, strerror(error));
        return NULL;
    }

    dir_len = strlen(dir);
    if (strncmp(real, dir, dir_len) != 0
        || (dir_len > 1 && real[dir_len] != '/' && real[dir_len] != '\0')) {
        qs_tensor_fault(b, t, QS_INVALID, "external data location '%s' escapes model "
                        "directory (it resolves outside through a symbolic link)", shown);
    } else {
        file = extdata_map(b, real, &error);
        if (!file)
            qs_tensor_fault(b, t, QS_INVALID, "external data file '%s' cannot be read: %s",
                            shown, error == EISDIR ? "not a regular file" : strerror(error));
    }
    free(real);
    return file;
}

static enum qs_status
extdata_numbers(struct qs_model_build *b, struct qs_tensor *t, const struct extdata_keys *keys,
                uint64_t *offset, uint64_t *length, int *has_length)
{
    char shown[100];

    *offset = 0;
    *has_length = keys->length != NULL;
    if (keys->offset && extdata_parse_u64(keys->offset, offset) < 0)
        return qs_tensor_fault(b, t, QS_INVALID, "external data offset '%s' is not a "
                               "non-negative 64-bit decimal number",
                               qs_quote(keys->offset, shown, sizeof(shown)));
    if (keys->length && extdata_parse_u64(keys->length, length) < 0)
        return qs_tensor_fault(b, t, QS_INVALID, "external data length '%s' is not a "
                               "non-negative 64-bit decimal number",
                               qs_quote(keys->length, shown, sizeof(shown)));
    return QS_OK;
}

enum qs_status
qs_extdata_resolve(struct qs_model_build *b, struct qs_tensor *t, const Onnx__TensorProto *proto,
                   uint64_t expected)
{
    char shown[200];
    char dims[200];
    struct extdata_keys keys;
    struct qs_ext_file *file;
    uint64_t offset;
    uint64_t length = expected;
    uint64_t end;
    int has_length;

    if (extdata_keys(b, t, proto, &keys) != QS_OK)
        return QS_INVALID;
    t->is_external = 1;
    t->location = keys.location;
    qs_quote(keys.location, shown, sizeof(shown));
    if (!extdata_location_inside(keys.location))
        return qs_tensor_fault(b, t, QS_INVALID, "external data location '%s' escapes model "
                               "directory", shown);

    if (extdata_numbers(b, t, &keys, &offset, &length, &has_length) != QS_OK)
        return QS_INVALID;
    t->file_offset = offset;
    if (t->dtype == QS_DT_STRING)
        return qs_tensor_fault(b, t, QS_INVALID, "STRING tensors cannot use external data");
    if (has_length && length != expected)
        return qs_tensor_fault(b, t, QS_INVALID, "external data length %" PRIu64 " does not "
                               "match dims %s of %s (%" PRIu64 " bytes)", length,
                               qs_format_dims(t->dims, (size_t)t->rank, dims, sizeof(dims)),
                               qs_dtype_name(t->dtype), expected);
    if (!b->model->dir)
        return qs_tensor_fault(b, t, QS_INVALID, "external data '%s' cannot be read: the model "
                               "was loaded from memory without a folder", shown);

    file = extdata_open(b, t, keys.location);
    if (!file)
        return QS_INVALID;
    if (qs_add_overflow_u64(offset, length, &end))
        return qs_tensor_fault(b, t, QS_INVALID, "external data offset %" PRIu64 " plus length %"
                               PRIu64 " overflows", offset, length);
    if (end > file->size)
        return qs_tensor_fault(b, t, QS_INVALID, "external data bytes [%" PRIu64 ",%" PRIu64
                               ") requested, %s has %" PRIu64 " bytes", offset,
                               end, shown, file->size);
    if (t->count > 0) {
        t->storage = QS_STORE_PACKED;
        t->data = file->map + offset;
        t->nbytes = length;
    }
    return QS_OK;
}

void
qs_extdata_release(struct qs_model_private *priv)
{
    for (size_t i = 0; i < priv->ext_files.count; i++) {
        struct qs_ext_file *file = priv->ext_files.items[i];

        if (file->map)
            munmap((void *)file->map, (size_t)file->size);
        free(file);
    }
    qs_ptrvec_done(&priv->ext_files);
    qs_strmap_free(priv->ext_by_path);
    priv->ext_by_path = NULL;
}
