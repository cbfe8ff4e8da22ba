/*
 * Protobuf wire walk: pass 1 checks the bytes and measures the compact
 * size of every sub-message (stored in walk order), pass 2 writes the
 * compact copy using those sizes for the re-encoded length prefixes.
 */
#include "config.h"
#include "wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const uint8_t wire_token_magic[4] = { 'Q', 'S', 'R', 'D' };

enum wire_type {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LENGTH = 2,
    WIRE_GROUP_START = 3,
    WIRE_GROUP_END = 4,
    WIRE_FIXED32 = 5
};

/* One field as found in the bytes. */
struct wire_field {
    size_t start;                 /* offset of the tag */
    size_t tag_end;               /* first byte after the tag */
    size_t value;                 /* first byte of the value (after any length prefix) */
    size_t end;                   /* one past the field */
    uint32_t number;
    int wire_type;
    const ProtobufCFieldDescriptor *desc;  /* NULL for unknown fields */
};

/* Path of enclosing fields, for messages. */
struct wire_frame {
    const ProtobufCMessageDescriptor *message;
    const char *field;
};

struct wire_walk {
    const uint8_t *src;
    size_t size;
    const ProtobufCMessageDescriptor *token_message;
    uint32_t token_field;

    uint64_t *sizes;              /* compact body size per sub-message, in walk order */
    size_t n_sizes;
    size_t cap_sizes;
    struct qs_wire_span *spans;
    size_t n_spans;
    size_t cap_spans;

    uint8_t *out;                 /* pass 2 */
    size_t pos;
    size_t next_size;
    size_t next_span;

    struct wire_frame path[QS_MAX_MESSAGE_DEPTH + 2];
    int depth;
    char *error;
    size_t error_size;
    int failed;
};

/* Message name without the package: "TensorProto", "TypeProto.Tensor". */
static const char *
wire_message_name(const ProtobufCMessageDescriptor *desc)
{
    const char *dot = strchr(desc->name, '.');

    return dot && strcmp(desc->package_name, "") != 0 ? dot + 1 : desc->name;
}

static const char *
wire_type_name(int wire_type)
{
    static const char *const names[] = {
        "varint", "fixed64", "length-delimited", "group start", "group end",
        "fixed32", "invalid type 6", "invalid type 7"
    };

    return names[wire_type & 7];
}

/* "ModelProto.graph > GraphProto.node > ...": the first frame and the last four. */
static void
wire_format_path(const struct wire_walk *w, char *buf, size_t size)
{
    const int tail = 4;
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < w->depth && used < size; i++) {
        const char *sep = i > 0 ? " > " : "";

        if (i > 0 && i < w->depth - tail) {
            if (i == 1)
                used += (size_t)snprintf(buf + used, size - used, " > ...");
            continue;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%s.%s", sep,
                                 wire_message_name(w->path[i].message), w->path[i].field);
    }
}

/* Record the first fault, followed by "(DETAIL; in PATH)" when inside a field. */
static int __attribute__((format(printf, 3, 4)))
wire_fail(struct wire_walk *w, const char *detail, const char *fmt, ...)
{
    char path[400];
    size_t used;
    va_list ap;

    if (w->failed)
        return -1;
    w->failed = 1;

    va_start(ap, fmt);
    vsnprintf(w->error, w->error_size, fmt, ap);
    va_end(ap);

    wire_format_path(w, path, sizeof(path));
    used = strlen(w->error);
    if (*path || *detail)
        snprintf(w->error + used, w->error_size - used, " (%s%s%s%s)", detail,
                 *detail && *path ? "; " : "", *path ? "in " : "", path);
    return -1;
}

/* Read a varint at "pos" below "limit": 0, or -1 past the limit, -2 over 10 bytes. */
static int
wire_varint(const uint8_t *src, size_t pos, size_t limit, uint64_t *value, size_t *next)
{
    uint64_t result = 0;

    for (int i = 0; i < 10; i++) {
        if (pos + (size_t)i >= limit)
            return -1;
        result |= (uint64_t)(src[pos + i] & 0x7f) << (7 * i);
        if (!(src[pos + i] & 0x80)) {
            *value = result;
            *next = pos + (size_t)i + 1;
            return 0;
        }
    }
    return -2;
}

static size_t
wire_varint_size(uint64_t value)
{
    size_t n = 1;

    while (value >= 0x80) {
        value >>= 7;
        n++;
    }
    return n;
}

static size_t
wire_put_varint(uint8_t *out, uint64_t value)
{
    size_t n = 0;

    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

/* Wire type a field's values have when not packed. */
static int
wire_natural_type(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return WIRE_FIXED32;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return WIRE_FIXED64;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return WIRE_LENGTH;
    default:
        return WIRE_VARINT;
    }
}

/* "TensorProto.raw_data", or "TensorProto field 99 (unknown)"; formatted only for messages. */
static const char *
wire_field_name(const ProtobufCMessageDescriptor *message, const struct wire_field *f,
                char *buf, size_t size)
{
    if (f->desc)
        snprintf(buf, size, "%s.%s", wire_message_name(message), f->desc->name);
    else
        snprintf(buf, size, "%s field %u (unknown)", wire_message_name(message), f->number);
    return buf;
}

/* Check the value bytes of a field whose fixed or length-prefixed size overruns "end". */
static int
wire_overrun(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
             const struct wire_field *f, uint64_t length, size_t end)
{
    char detail[64];
    char name[160];
    size_t remain = end - f->value;

    wire_field_name(message, f, name, sizeof(name));
    snprintf(detail, sizeof(detail), "file has %zu bytes", w->size);
    if (length > w->size - f->value)
        return wire_fail(w, detail,
                         "truncated at byte %zu: field %s declares %llu bytes, %zu remain",
                         f->start, name, (unsigned long long)length, remain);
    return wire_fail(w, "", "invalid length at byte %zu: field %s declares %llu bytes, "
                     "only %zu remain in the enclosing message", f->start, name,
                     (unsigned long long)length, remain);
}

static int
wire_read_tag(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
              size_t pos, size_t end, struct wire_field *f)
{
    uint64_t tag;
    int rc = wire_varint(w->src, pos, end, &tag, &f->tag_end);

    f->start = pos;
    if (rc == -1)
        return wire_fail(w, "", "truncated at byte %zu: field tag runs past the end of %s",
                         pos, wire_message_name(message));
    if (rc < 0 || tag > UINT32_MAX || f->tag_end - pos > 5)
        return wire_fail(w, "", "invalid field tag at byte %zu in %s", pos,
                         wire_message_name(message));

    f->number = (uint32_t)(tag >> 3);
    f->wire_type = (int)(tag & 7);
    if (f->number == 0)
        return wire_fail(w, "", "invalid field number 0 at byte %zu in %s", pos,
                         wire_message_name(message));
    f->desc = protobuf_c_message_descriptor_get_field(message, f->number);
    return 0;
}

/* Check the wire type of a known field against the schema. */
static int
wire_check_type(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                const struct wire_field *f)
{
    char name[160];
    int natural;

    if (!f->desc)
        return 0;
    natural = wire_natural_type(f->desc->type);
    if (f->wire_type == natural)
        return 0;
    if (f->wire_type == WIRE_LENGTH && f->desc->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;  /* packed repeated scalars */
    return wire_fail(w, "", "invalid wire type at byte %zu: field %s has %s, the schema says %s",
                     f->start, wire_field_name(message, f, name, sizeof(name)),
                     wire_type_name(f->wire_type), wire_type_name(natural));
}

/* Parse one field at "pos" inside a message ending at "end". */
static int
wire_read_field(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                size_t pos, size_t end, struct wire_field *f)
{
    char name[160];
    uint64_t value;
    int rc;

    if (wire_read_tag(w, message, pos, end, f) < 0)
        return -1;
    f->value = f->tag_end;

    switch (f->wire_type) {
    case WIRE_VARINT:
        rc = wire_varint(w->src, f->tag_end, end, &value, &f->end);
        if (rc == -1)
            return wire_fail(w, "", "truncated at byte %zu: varint of field %s runs past the end",
                             pos, wire_field_name(message, f, name, sizeof(name)));
        if (rc < 0)
            return wire_fail(w, "", "invalid varint at byte %zu: field %s", pos,
                             wire_field_name(message, f, name, sizeof(name)));
        break;
    case WIRE_FIXED64:
    case WIRE_FIXED32:
        value = f->wire_type == WIRE_FIXED64 ? 8 : 4;
        if (value > end - f->tag_end)
            return wire_overrun(w, message, f, value, end);
        f->end = f->tag_end + value;
        break;
    case WIRE_LENGTH:
        rc = wire_varint(w->src, f->tag_end, end, &value, &f->value);
        if (rc == -1)
            return wire_fail(w, "", "truncated at byte %zu: length of field %s runs past the end",
                             pos, wire_field_name(message, f, name, sizeof(name)));
        if (rc < 0)
            return wire_fail(w, "", "invalid length at byte %zu: field %s", pos,
                             wire_field_name(message, f, name, sizeof(name)));
        if (value > end - f->value)
            return wire_overrun(w, message, f, value, end);
        f->end = f->value + value;
        break;
    case WIRE_GROUP_START:
    case WIRE_GROUP_END:
        return wire_fail(w, "", "unsupported group wire type at byte %zu: field %s", pos,
                         wire_field_name(message, f, name, sizeof(name)));
    default:
        return wire_fail(w, "", "invalid wire type %d at byte %zu: field %s", f->wire_type, pos,
                         wire_field_name(message, f, name, sizeof(name)));
    }
    return wire_check_type(w, message, f);
}

/* Check that a packed repeated field contains whole values. */
static int
wire_check_packed(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                  const struct wire_field *f)
{
    char name[160];
    int natural = wire_natural_type(f->desc->type);
    size_t length = f->end - f->value;
    size_t pos = f->value;
    uint64_t value;

    if (f->wire_type != WIRE_LENGTH || natural == WIRE_LENGTH)
        return 0;

    if (natural == WIRE_FIXED32 || natural == WIRE_FIXED64) {
        size_t unit = natural == WIRE_FIXED32 ? 4 : 8;

        if (length % unit != 0)
            return wire_fail(w, "", "invalid packed field at byte %zu: %s has %zu bytes, "
                             "not a multiple of %zu", f->start,
                             wire_field_name(message, f, name, sizeof(name)), length, unit);
        return 0;
    }
    while (pos < f->end) {
        if (wire_varint(w->src, pos, f->end, &value, &pos) < 0)
            return wire_fail(w, "", "invalid packed field at byte %zu: %s has a bad varint "
                             "at byte %zu", f->start,
                             wire_field_name(message, f, name, sizeof(name)), pos);
    }
    return 0;
}

/*
 * protobuf-c hands strings over NUL-terminated, so a NUL inside one would
 * cut it silently, and the location "w.bin\0../x" would be read as
 * "w.bin".  Names, keys and locations must not change meaning that way.
 * Doc strings are only shown, so a NUL there is accepted.
 */
static int
wire_check_string(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                  const struct wire_field *f)
{
    char name[160];
    const uint8_t *nul;

    if (f->desc->type != PROTOBUF_C_TYPE_STRING || strcmp(f->desc->name, "doc_string") == 0)
        return 0;
    nul = memchr(w->src + f->value, 0, f->end - f->value);
    if (!nul)
        return 0;
    return wire_fail(w, "", "invalid string at byte %zu: field %s contains a NUL byte "
                     "at byte %zu", f->start, wire_field_name(message, f, name, sizeof(name)),
                     (size_t)(nul - w->src));
}

static int
wire_push(struct wire_walk *w, const ProtobufCMessageDescriptor *message, const char *field)
{
    if (w->depth >= QS_MAX_MESSAGE_DEPTH)
        return wire_fail(w, "", "messages nested deeper than %d levels at %s.%s",
                         QS_MAX_MESSAGE_DEPTH, wire_message_name(message), field);
    w->path[w->depth].message = message;
    w->path[w->depth].field = field;
    w->depth++;
    return 0;
}

static size_t
wire_reserve_size(struct wire_walk *w)
{
    if (w->n_sizes == w->cap_sizes) {
        w->cap_sizes = w->cap_sizes ? w->cap_sizes * 2 : 256;
        w->sizes = qs_reallocarray(w->sizes, w->cap_sizes, sizeof(*w->sizes));
    }
    w->sizes[w->n_sizes] = 0;
    return w->n_sizes++;
}

static void
wire_add_span(struct wire_walk *w, const struct wire_field *f)
{
    if (w->n_spans == w->cap_spans) {
        w->cap_spans = w->cap_spans ? w->cap_spans * 2 : 64;
        w->spans = qs_reallocarray(w->spans, w->cap_spans, sizeof(*w->spans));
    }
    w->spans[w->n_spans].offset = f->value;
    w->spans[w->n_spans].length = f->end - f->value;
    w->n_spans++;
}

static int
wire_is_token_field(const struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                    const struct wire_field *f)
{
    return message == w->token_message && f->desc && f->number == w->token_field
        && f->wire_type == WIRE_LENGTH;
}

static int
wire_is_message_field(const struct wire_field *f)
{
    return f->desc && f->desc->type == PROTOBUF_C_TYPE_MESSAGE;
}

static int wire_measure(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                        size_t pos, size_t end, uint64_t *out_size);

/*
 * A message field runs past the end of the file: walk what is there to
 * name the innermost truncated field, else keep the outer fault.
 */
static int
wire_diagnose_truncated(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                        size_t pos, size_t end)
{
    struct wire_field f;
    uint64_t tag;
    size_t next;
    uint64_t ignored;

    if (wire_varint(w->src, pos, end, &tag, &next) < 0)
        return -1;
    f.desc = protobuf_c_message_descriptor_get_field(message, (uint32_t)(tag >> 3));
    if (!wire_is_message_field(&f) || (tag & 7) != WIRE_LENGTH)
        return -1;
    if (wire_varint(w->src, next, end, &tag, &next) < 0 || tag <= w->size - next)
        return -1;

    if (wire_push(w, message, f.desc->name) < 0)
        return -1;
    wire_measure(w, f.desc->descriptor, next, w->size, &ignored);
    w->depth--;
    return w->failed ? -1 : 0;
}

static int
wire_measure_field(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
                   const struct wire_field *f, uint64_t *size)
{
    size_t tag_len = f->tag_end - f->start;
    uint64_t child = 0;
    size_t slot;

    if (wire_is_token_field(w, message, f)) {
        wire_add_span(w, f);
        *size = tag_len + 1 + QS_WIRE_TOKEN_SIZE;
        return 0;
    }
    if (!wire_is_message_field(f)) {
        *size = f->end - f->start;
        if (!f->desc)
            return 0;
        return wire_check_string(w, message, f) < 0 ? -1 : wire_check_packed(w, message, f);
    }

    slot = wire_reserve_size(w);
    if (wire_push(w, message, f->desc->name) < 0)
        return -1;
    if (wire_measure(w, f->desc->descriptor, f->value, f->end, &child) < 0)
        return -1;
    w->depth--;
    w->sizes[slot] = child;
    *size = tag_len + wire_varint_size(child) + child;
    return 0;
}

static int
wire_measure(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
             size_t pos, size_t end, uint64_t *out_size)
{
    uint64_t total = 0;

    while (pos < end) {
        struct wire_field f;
        uint64_t size;

        if (wire_read_field(w, message, pos, end, &f) < 0) {
            /* Look inside a message cut by the end of the file for the
             * innermost field that is cut, which names the fault best. */
            char saved[sizeof(((struct qs_wire_compact *)0)->error)];

            snprintf(saved, sizeof(saved), "%s", w->error);
            w->failed = 0;
            if (wire_diagnose_truncated(w, message, pos, end) == 0 || !w->failed)
                snprintf(w->error, w->error_size, "%s", saved);
            w->failed = 1;
            return -1;
        }
        if (wire_measure_field(w, message, &f, &size) < 0)
            return -1;
        total += size;
        pos = f.end;
    }
    *out_size = total;
    return 0;
}

static void
wire_write(struct wire_walk *w, const ProtobufCMessageDescriptor *message,
           size_t pos, size_t end)
{
    while (pos < end) {
        struct wire_field f;

        if (wire_read_field(w, message, pos, end, &f) < 0)
            return;  /* pass 1 accepted these bytes with the same parser */

        if (wire_is_token_field(w, message, &f)) {
            uint32_t index = (uint32_t)w->next_span++;

            memcpy(w->out + w->pos, w->src + f.start, f.tag_end - f.start);
            w->pos += f.tag_end - f.start;
            w->out[w->pos++] = QS_WIRE_TOKEN_SIZE;
            memcpy(w->out + w->pos, wire_token_magic, 4);
            for (int i = 0; i < 4; i++)
                w->out[w->pos + 4 + (size_t)i] = (uint8_t)(index >> (8 * i));
            w->pos += QS_WIRE_TOKEN_SIZE;
        } else if (wire_is_message_field(&f)) {
            memcpy(w->out + w->pos, w->src + f.start, f.tag_end - f.start);
            w->pos += f.tag_end - f.start;
            w->pos += wire_put_varint(w->out + w->pos, w->sizes[w->next_size++]);
            wire_write(w, f.desc->descriptor, f.value, f.end);
        } else {
            memcpy(w->out + w->pos, w->src + f.start, f.end - f.start);
            w->pos += f.end - f.start;
        }
        pos = f.end;
    }
}

enum qs_status
qs_wire_compact(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *root,
                const ProtobufCMessageDescriptor *token_message, uint32_t token_field,
                struct qs_wire_compact *out)
{
    struct wire_walk w = {
        .src = data, .size = size,
        .token_message = token_message, .token_field = token_field,
        .error = out->error, .error_size = sizeof(out->error),
    };
    uint64_t total = 0;

    memset(out, 0, sizeof(*out));
    if (wire_measure(&w, root, 0, size, &total) < 0 || total > SIZE_MAX
        || w.n_spans > UINT32_MAX) {
        if (!w.failed)
            snprintf(out->error, sizeof(out->error), "too many fields: the compact copy "
                     "would have %llu bytes and %zu raw_data fields",
                     (unsigned long long)total, w.n_spans);
        free(w.sizes);
        free(w.spans);
        return QS_INVALID;
    }

    w.out = qs_malloc((size_t)total);
    wire_write(&w, root, 0, size);
    free(w.sizes);
    if (w.pos != total)
        qs_die("internal error: compact copy has %zu bytes, measured %llu",
               w.pos, (unsigned long long)total);

    out->data = w.out;
    out->size = w.pos;
    out->spans = w.spans;
    out->n_spans = w.n_spans;
    return QS_OK;
}

void
qs_wire_compact_done(struct qs_wire_compact *compact)
{
    free(compact->data);
    free(compact->spans);
    compact->data = NULL;
    compact->spans = NULL;
    compact->size = 0;
    compact->n_spans = 0;
}

int64_t
qs_wire_token_index(const uint8_t *bytes, size_t len, size_t n_spans)
{
    uint32_t index = 0;

    if (len != QS_WIRE_TOKEN_SIZE || memcmp(bytes, wire_token_magic, 4) != 0)
        return -1;
    for (int i = 0; i < 4; i++)
        index |= (uint32_t)bytes[4 + i] << (8 * i);
    return index < n_spans ? (int64_t)index : -1;
}
