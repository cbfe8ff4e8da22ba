/*
 * Bump allocator for data that lives as long as one loaded model.
 *
 * Allocations are carved from large blocks and freed all at once by
 * qs_arena_done; there is no per-allocation free.  The loader puts the
 * unpacked protobuf-c messages, the graph index and densified sparse
 * tensors here, so that qs_model_free is one walk over the blocks.
 * Running out of memory aborts through qs_malloc, like every allocation
 * in qscope.
 */
#ifndef QS_ARENA_H
#define QS_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct qs_arena_block;

struct qs_arena {
    struct qs_arena_block *head;  /* block being carved, newest first */
    size_t total;                 /* bytes requested from the system */
};

/* Start an empty arena; no memory is taken until the first allocation. */
void qs_arena_init(struct qs_arena *arena);

/* Free every block.  The arena can be used again afterwards. */
void qs_arena_done(struct qs_arena *arena);

/*
 * Return "size" bytes aligned for any type, owned by the arena.  A zero
 * size returns a valid, distinct pointer.
 */
void *qs_arena_alloc(struct qs_arena *arena, size_t size);

/* The same, zero-filled. */
void *qs_arena_calloc(struct qs_arena *arena, size_t count, size_t size);

/* Copy a string, or the first "len" bytes of one, adding a NUL. */
char *qs_arena_strdup(struct qs_arena *arena, const char *text);
char *qs_arena_strndup(struct qs_arena *arena, const char *text, size_t len);

/* Formatted string owned by the arena. */
char *qs_arena_printf(struct qs_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A protobuf-c allocator that takes memory from "arena" and never frees. */
ProtobufCAllocator qs_arena_protobuf_allocator(struct qs_arena *arena);

#endif
