/*
 * Protobuf wire-format check and compact copy.
 *
 * The loader never hands a file to protobuf-c directly.  qs_wire_compact
 * walks the bytes with the schema from protobuf-c's generated descriptors.
 * It checks every length against the bytes that remain and every known
 * field's wire type against the schema.  Nesting is bounded, group wire
 * types are rejected, strings other than doc strings must not contain NUL
 * bytes, and unknown fields are skipped and kept as they are.
 * While walking it builds a compact copy of the message in which every
 * payload of one chosen bytes field (TensorProto.raw_data) is replaced by
 * a token, and re-encodes the length of each enclosing message.
 *
 * A token is the payload of the replaced field:
 *
 *   byte  0       4                  8
 *         +-------+------------------+
 *         | QSRD  | span index (LE)  |
 *         +-------+------------------+
 *
 * and the span table gives the payload's offset and length in the source,
 * so that tensors can point into the mapped file.  Weight bytes are never
 * read: the walk only touches tags and length prefixes.
 */
#ifndef QS_WIRE_H
#define QS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "status.h"

#define QS_WIRE_TOKEN_SIZE 8

/* A replaced payload: bytes [offset, offset + length) of the source. */
struct qs_wire_span {
    uint64_t offset;
    uint64_t length;
};

struct qs_wire_compact {
    uint8_t *data;                 /* the compact copy, for protobuf-c */
    size_t size;
    struct qs_wire_span *spans;    /* indexed by the number in each token */
    size_t n_spans;
    char error[512];               /* why the walk failed, when it did */
};

/*
 * Check "size" bytes at "data" as a message of type "root" and build the
 * compact copy in "out", replacing each payload of field number
 * "token_field" of messages of type "token_message".  Returns QS_OK, or
 * QS_INVALID with the fault in out->error (no FILE prefix), e.g.
 * "truncated at byte 4890: field TensorProto.raw_data declares 4096 bytes,
 * 92 remain (file has 4982 bytes; in ModelProto.graph > GraphProto.initializer)".
 * Messages nested deeper than QS_MAX_MESSAGE_DEPTH (counting the root as
 * 0) are rejected.  Free "out" with qs_wire_compact_done in either case.
 */
enum qs_status qs_wire_compact(const uint8_t *data, size_t size,
                               const ProtobufCMessageDescriptor *root,
                               const ProtobufCMessageDescriptor *token_message,
                               uint32_t token_field, struct qs_wire_compact *out);

/* Free what qs_wire_compact allocated.  Safe on a zeroed struct. */
void qs_wire_compact_done(struct qs_wire_compact *compact);

/*
 * Span index stored in the token "bytes" ("len" bytes long), or -1 when
 * they are not a token of a table with "n_spans" entries.
 */
int64_t qs_wire_token_index(const uint8_t *bytes, size_t len, size_t n_spans);

#endif
