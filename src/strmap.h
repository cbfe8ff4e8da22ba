/*
 * String-keyed hash map with open addressing and linear probing.
 *
 * Keys are borrowed: the caller keeps each key string alive and unchanged
 * while it is in the map (the loader's keys live in the model's arena).
 * Values are opaque pointers and must not be NULL.  There is no removal,
 * which the loader never needs.
 *
 * NOTE: glib's GHashTable would do the same job, but one table does not
 * justify a large dependency in the core library.
 */
#ifndef QS_STRMAP_H
#define QS_STRMAP_H

#include <stddef.h>

struct qs_strmap_slot {
    const char *key;          /* NULL for an empty slot */
    void *value;
    size_t hash;
};

struct qs_strmap {
    struct qs_strmap_slot *slots;
    size_t capacity;          /* a power of two, or 0 before the first insert */
    size_t count;
};

/* New empty map (caller frees with qs_strmap_free). */
struct qs_strmap *qs_strmap_new(void);

/* Free the map and its table, not the keys or values.  NULL is allowed. */
void qs_strmap_free(struct qs_strmap *map);

/* The value stored under "key", or NULL.  "map" may be NULL. */
void *qs_strmap_get(const struct qs_strmap *map, const char *key);

/*
 * Store "value" under "key" unless the key is present.  Returns NULL when
 * inserted, else the value already stored (which is kept).
 */
void *qs_strmap_put(struct qs_strmap *map, const char *key, void *value);

#endif
