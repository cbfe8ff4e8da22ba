/*
 * Loading a model: map the file, check and compact its wire format
 * (wire.c), unpack the compact copy with protobuf-c into the model's
 * arena, then build the graph index (model_graph.c).  Weight bytes stay
 * in the mapped file and are not read.
 */
#include "config.h"
#include "model_build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char lfs_prefix[] = "version https://git-lfs";

/* The start of a Git LFS pointer, which a clone without git-lfs leaves in place of the file. */
static int
load_is_lfs_pointer(const uint8_t *data, size_t size)
{
    return size >= sizeof(lfs_prefix) - 1 && memcmp(data, lfs_prefix, sizeof(lfs_prefix) - 1) == 0;
}

/* The size the LFS pointer announces for the real file, or 0. */
static uint64_t
load_lfs_size(const uint8_t *data, size_t size)
{
    static const char key[] = "\nsize ";
    uint64_t value = 0;

    for (size_t i = 0; i + sizeof(key) - 1 < size && i < 1024; i++) {
        if (memcmp(data + i, key, sizeof(key) - 1) != 0)
            continue;
        for (size_t k = i + sizeof(key) - 1; k < size && data[k] >= '0' && data[k] <= '9'; k++) {
            if (qs_mul_overflow_u64(value, 10, &value)
                || qs_add_overflow_u64(value, (uint64_t)(data[k] - '0'), &value))
                return 0;
        }
        return value;
    }
    return 0;
}

/*
 * True when the first 16 to 64 bytes are printable text.  A model starts
 * with a field tag, and the usual first one (ir_version, 0x08) is not
 * printable; fewer than 16 bytes prove nothing.
 */
static int
load_looks_like_text(const uint8_t *data, size_t size)
{
    size_t n = size < 64 ? size : 64;

    if (n < 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((data[i] < 0x20 && data[i] != '\t' && data[i] != '\n' && data[i] != '\r')
            || data[i] >= 0x7f)
            return 0;
    }
    return 1;
}

static enum qs_status
load_check_header(const uint8_t *data, size_t size, const char *file, struct qs_diag *diag)
{
    uint64_t real_size;

    if (size == 0)
        return qs_diag_add(diag, QS_INVALID, file, "file is empty (0 bytes), not an ONNX model");
    if (!load_is_lfs_pointer(data, size))
        return QS_OK;
    real_size = load_lfs_size(data, size);
    if (real_size > 0)
        return qs_diag_add(diag, QS_INVALID, file, "file is a Git LFS pointer, not the model: "
                           "the real file (%" PRIu64 " bytes) was never downloaded; run "
                           "'git lfs pull' in its repository", real_size);
    return qs_diag_add(diag, QS_INVALID, file, "file is a Git LFS pointer, not the model: the "
                       "real file was never downloaded; run 'git lfs pull' in its repository");
}

static enum qs_status
load_wire_fault(const uint8_t *data, size_t size, const char *file, struct qs_diag *diag,
                const char *error)
{
    char head[48];
    size_t n = 0;

    if (!load_looks_like_text(data, size))
        return qs_diag_add(diag, QS_INVALID, file, "%s", error);
    for (size_t i = 0; i < size && n + 1 < sizeof(head) && data[i] != '\n' && data[i] != '\r'; i++)
        head[n++] = data[i] == '\t' ? ' ' : (char)data[i];
    head[n] = '\0';
    return qs_diag_add(diag, QS_INVALID, file, "not an ONNX model: the file is text, starting "
                       "\"%s\"", head);
}

static void
load_metadata(struct qs_model_build *b, const Onnx__ModelProto *proto)
{
    struct qs_model *m = b->model;

    m->ir_version = proto->ir_version;
    m->producer_name = proto->producer_name ? proto->producer_name : "";
    m->producer_version = proto->producer_version ? proto->producer_version : "";
    m->domain = proto->domain ? proto->domain : "";
    m->model_version = proto->model_version;
    m->doc_string = proto->doc_string ? proto->doc_string : "";
    m->n_functions = proto->n_functions;

    m->n_opsets = proto->n_opset_import;
    m->opsets = qs_arena_calloc(b->arena, proto->n_opset_import, sizeof(*m->opsets));
    for (size_t i = 0; i < proto->n_opset_import; i++) {
        const char *domain = proto->opset_import[i]->domain;

        if (!domain || strcmp(domain, "ai.onnx") == 0)
            domain = "";
        m->opsets[i].domain = domain;
        m->opsets[i].version = proto->opset_import[i]->version;
    }

    m->n_metadata = proto->n_metadata_props;
    m->metadata = qs_arena_calloc(b->arena, proto->n_metadata_props, sizeof(*m->metadata));
    for (size_t i = 0; i < proto->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *entry = proto->metadata_props[i];

        m->metadata[i].key = entry->key ? entry->key : "";
        m->metadata[i].value = entry->value ? entry->value : "";
    }
}

static struct qs_model *
load_new_model(const void *data, size_t size, const char *name, const char *dir)
{
    struct qs_model_private *priv = qs_calloc(1, sizeof(*priv));
    struct qs_model *m;

    qs_arena_init(&priv->arena);
    priv->ext_by_path = qs_strmap_new();
    m = qs_arena_calloc(&priv->arena, 1, sizeof(*m));
    m->priv = priv;
    m->path = qs_arena_strdup(&priv->arena, name ? name : "");
    m->dir = dir ? qs_arena_strdup(&priv->arena, dir) : NULL;
    m->map = data;
    m->file_size = size;
    return m;
}

/* Unpack the compact copy with protobuf-c into the model's arena. */
static enum qs_status
load_unpack(struct qs_model *m, const struct qs_wire_compact *compact, const char *file,
            struct qs_diag *diag)
{
    ProtobufCAllocator allocator = qs_arena_protobuf_allocator(&m->priv->arena);
    ProtobufCMessage *msg = protobuf_c_message_unpack(&onnx__model_proto__descriptor, &allocator,
                                                      compact->size, compact->data);

    if (!msg)
        return qs_diag_add(diag, QS_INVALID, file, "protobuf-c could not unpack the model "
                           "although its wire format is valid");
    m->proto = (Onnx__ModelProto *)msg;
    if (!m->proto->graph)
        return qs_diag_add(diag, QS_INVALID, file, "model has no graph (ModelProto.graph is "
                           "missing)");
    return QS_OK;
}

/* Build the model's index; per-tensor faults decide the status when nothing worse happened. */
static enum qs_status
load_build(struct qs_model *m, const struct qs_wire_compact *compact, const char *file,
           const struct qs_load_options *opts, struct qs_diag *diag)
{
    struct qs_model_build b = {
        .model = m, .arena = &m->priv->arena, .file = file, .diag = diag,
        .keep_going = opts && opts->keep_going,
        .spans = compact->spans, .n_spans = compact->n_spans,
    };
    enum qs_status status;

    load_metadata(&b, m->proto);
    status = qs_build_graphs(&b, m->proto->graph);
    if (status == QS_OK) {
        qs_build_consumers(&b);
        status = b.tensor_status;
    }

    m->n_graphs = b.graphs.count;
    m->graphs = (struct qs_graph **)qs_ptrvec_to_arena(&b.graphs, b.arena);
    m->n_tensors = b.tensors.count;
    m->tensors = (struct qs_tensor **)qs_ptrvec_to_arena(&b.tensors, b.arena);
    for (size_t i = 0; i < m->n_tensors; i++)
        m->n_faulty_tensors += m->tensors[i]->fault != NULL;

    qs_ptrvec_done(&b.graphs);
    qs_ptrvec_done(&b.tensors);
    free(b.uses);
    return status;
}

static enum qs_status
load_buffer(const uint8_t *data, size_t size, const char *name, const char *dir,
            const struct qs_load_options *opts, struct qs_diag *diag, struct qs_model **out)
{
    struct qs_wire_compact compact;
    struct qs_model *m;
    enum qs_status status;

    *out = NULL;
    status = load_check_header(data, size, name, diag);
    if (status != QS_OK)
        return status;
    if (qs_wire_compact(data, size, &onnx__model_proto__descriptor,
                        &onnx__tensor_proto__descriptor, 9, &compact) != QS_OK) {
        status = load_wire_fault(data, size, name, diag, compact.error);
        qs_wire_compact_done(&compact);
        return status;
    }

    m = load_new_model(data, size, name, dir);
    status = load_unpack(m, &compact, name, diag);
    if (status == QS_OK)
        status = load_build(m, &compact, name, opts, diag);
    qs_wire_compact_done(&compact);
    if (status != QS_OK) {
        qs_model_free(m);
        return status;
    }
    *out = m;
    return QS_OK;
}

enum qs_status
qs_model_load_memory(const void *data, size_t size, const char *name, const char *dir,
                     const struct qs_load_options *opts, struct qs_diag *diag,
                     struct qs_model **out)
{
    return load_buffer(data, size, name ? name : "", dir, opts, diag, out);
}

/* Folder of "path" ("." for a bare file name); caller frees. */
static char *
load_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return qs_strdup(".");
    if (slash == path)
        return qs_strdup("/");
    return qs_strndup(path, (size_t)(slash - path));
}

static enum qs_status
load_map_file(const char *path, struct qs_diag *diag, const uint8_t **map, size_t *size)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    void *addr;

    *map = NULL;
    *size = 0;
    if (fd < 0)
        return qs_diag_add(diag, QS_INVALID, path, "cannot open the model: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        int error = errno;

        close(fd);
        return qs_diag_add(diag, QS_INVALID, path, "cannot read the model: %s",
                           strerror(error));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            return qs_diag_add(diag, QS_INVALID, path, "is a folder, not an ONNX model file");
        return qs_diag_add(diag, QS_INVALID, path, "cannot read the model: not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return QS_OK;
    }

    addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (addr == MAP_FAILED)
        return qs_diag_add(diag, QS_INVALID, path, "cannot map the model: %s", strerror(errno));
    *map = addr;
    *size = (size_t)st.st_size;
    return QS_OK;
}

enum qs_status
qs_model_load(const char *path, const struct qs_load_options *opts, struct qs_diag *diag,
              struct qs_model **out)
{
    const uint8_t *map;
    size_t size;
    char *dir;
    enum qs_status status;

    *out = NULL;
    status = load_map_file(path, diag, &map, &size);
    if (status != QS_OK)
        return status;

    dir = load_dir_of(path);
    /* The walk reads only the bytes around each tensor's payload: no readahead,
     * so that a file not yet in the page cache is not read from disk around them. */
    if (map)
        madvise((void *)map, size, MADV_RANDOM);
    status = load_buffer(map ? map : (const uint8_t *)"", size, path, dir, opts, diag, out);
    if (map)
        madvise((void *)map, size, MADV_NORMAL);
    free(dir);
    if (status != QS_OK) {
        if (map)
            munmap((void *)map, size);
        return status;
    }
    (*out)->priv->owned_map = map;
    (*out)->priv->owned_size = size;
    return QS_OK;
}

void
qs_model_free(struct qs_model *model)
{
    struct qs_model_private *priv;

    if (!model)
        return;
    priv = model->priv;
    for (size_t i = 0; i < model->n_graphs; i++)
        qs_strmap_free(model->graphs[i]->value_map);
    qs_extdata_release(priv);
    for (size_t i = 0; i < priv->buffers.count; i++)
        free(priv->buffers.items[i]);
    qs_ptrvec_done(&priv->buffers);
    if (priv->owned_map)
        munmap((void *)priv->owned_map, (size_t)priv->owned_size);
    qs_arena_done(&priv->arena);
    free(priv);
}
