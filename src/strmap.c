/*
 * Open-addressing string map.  The table doubles when it would be more
 * than half full, so probes stay short.
 */
#include "config.h"
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/*
 * 64-bit FNV-1a, then the MurmurHash3 finaliser: FNV alone leaves the low
 * bits of names like "v1" ... "v99999" clustered, and the table index
 * uses the low bits.
 */
static size_t
strmap_hash(const char *key)
{
    uint64_t hash = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        hash ^= *p;
        hash *= 1099511628211ULL;
    }
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return (size_t)hash;
}

struct qs_strmap *
qs_strmap_new(void)
{
    return qs_calloc(1, sizeof(struct qs_strmap));
}

void
qs_strmap_free(struct qs_strmap *map)
{
    if (!map)
        return;
    free(map->slots);
    free(map);
}

static struct qs_strmap_slot *
strmap_find(const struct qs_strmap *map, const char *key, size_t hash)
{
    size_t mask = map->capacity - 1;
    size_t i = hash & mask;

    for (;;) {
        struct qs_strmap_slot *slot = &map->slots[i];

        if (!slot->key)
            return slot;
        if (slot->hash == hash && strcmp(slot->key, key) == 0)
            return slot;
        i = (i + 1) & mask;
    }
}

static void
strmap_grow(struct qs_strmap *map)
{
    struct qs_strmap_slot *old = map->slots;
    size_t old_capacity = map->capacity;
    size_t capacity = old_capacity ? old_capacity * 2 : 16;

    if (capacity < old_capacity)
        qs_die("out of memory (hash map of %zu slots)", old_capacity);
    map->slots = qs_calloc(capacity, sizeof(*map->slots));
    map->capacity = capacity;

    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].key)
            *strmap_find(map, old[i].key, old[i].hash) = old[i];
    }
    free(old);
}

void *
qs_strmap_get(const struct qs_strmap *map, const char *key)
{
    const struct qs_strmap_slot *slot;

    if (!map || map->count == 0)
        return NULL;
    slot = strmap_find(map, key, strmap_hash(key));
    return slot->key ? slot->value : NULL;
}

void *
qs_strmap_put(struct qs_strmap *map, const char *key, void *value)
{
    size_t hash = strmap_hash(key);
    struct qs_strmap_slot *slot;

    if ((map->count + 1) * 2 > map->capacity)
        strmap_grow(map);

    slot = strmap_find(map, key, hash);
    if (slot->key)
        return slot->value;
    slot->key = key;
    slot->value = value;
    slot->hash = hash;
    map->count++;
    return NULL;
}
