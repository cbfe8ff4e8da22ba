/*
 * Bump allocator: blocks of at least QS_ARENA_BLOCK bytes, carved in
 * order; larger requests get a block of their own.
 */
#include "config.h"
#include "arena.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* Large enough that block headers cost nothing, small enough for tiny models. */
#define QS_ARENA_BLOCK ((size_t)64 * 1024)
#define QS_ARENA_ALIGN alignof(max_align_t)

struct qs_arena_block {
    struct qs_arena_block *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char data[];
};

void
qs_arena_init(struct qs_arena *arena)
{
    arena->head = NULL;
    arena->total = 0;
}

void
qs_arena_done(struct qs_arena *arena)
{
    struct qs_arena_block *block = arena->head;

    while (block) {
        struct qs_arena_block *next = block->next;

        free(block);
        block = next;
    }
    qs_arena_init(arena);
}

static struct qs_arena_block *
arena_new_block(struct qs_arena *arena, size_t need)
{
    struct qs_arena_block *block;
    size_t size = need > QS_ARENA_BLOCK ? need : QS_ARENA_BLOCK;
    size_t bytes;

    if (__builtin_add_overflow(size, sizeof(*block), &bytes))
        qs_die("out of memory (arena block of %zu bytes)", size);
    block = qs_malloc(bytes);
    block->used = 0;
    block->size = size;
    arena->total += bytes;

    /* An oversized block goes behind the current one so that the rest of
     * the current block is still used for small requests. */
    if (need > QS_ARENA_BLOCK && arena->head) {
        block->next = arena->head->next;
        arena->head->next = block;
    } else {
        block->next = arena->head;
        arena->head = block;
    }
    return block;
}

void *
qs_arena_alloc(struct qs_arena *arena, size_t size)
{
    struct qs_arena_block *block = arena->head;
    size_t need;

    if (size > SIZE_MAX - QS_ARENA_ALIGN)
        qs_die("out of memory (arena request of %zu bytes)", size);
    need = (size + QS_ARENA_ALIGN - 1) & ~(QS_ARENA_ALIGN - 1);
    if (need == 0)
        need = QS_ARENA_ALIGN;

    if (!block || block->size - block->used < need)
        block = arena_new_block(arena, need);
    block->used += need;
    return block->data + block->used - need;
}

void *
qs_arena_calloc(struct qs_arena *arena, size_t count, size_t size)
{
    size_t bytes;
    void *ptr;

    if (__builtin_mul_overflow(count, size, &bytes))
        qs_die("out of memory (array of %zu x %zu bytes overflows)", count, size);
    ptr = qs_arena_alloc(arena, bytes);
    memset(ptr, 0, bytes);
    return ptr;
}

char *
qs_arena_strndup(struct qs_arena *arena, const char *text, size_t len)
{
    char *copy;

    if (len == SIZE_MAX)
        qs_die("out of memory (string of %zu bytes)", len);
    copy = qs_arena_alloc(arena, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

char *
qs_arena_strdup(struct qs_arena *arena, const char *text)
{
    return qs_arena_strndup(arena, text, strlen(text));
}

char *
qs_arena_printf(struct qs_arena *arena, const char *fmt, ...)
{
    va_list ap;
    int len;
    char *text;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        qs_die("invalid format string '%s'", fmt);

    text = qs_arena_alloc(arena, (size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return text;
}

static void *
arena_protobuf_alloc(void *data, size_t size)
{
    return qs_arena_alloc(data, size);
}

static void
arena_protobuf_free(void *data, void *ptr)
{
    (void)data;
    (void)ptr;
}

ProtobufCAllocator
qs_arena_protobuf_allocator(struct qs_arena *arena)
{
    ProtobufCAllocator allocator = {
        .alloc = arena_protobuf_alloc,
        .free = arena_protobuf_free,
        .allocator_data = arena,
    };

    return allocator;
}
