/* The zmq layer's socket table (zmq_table.c): a socket pointer -> the
 * layer's state for it. Open addressing with linear probing, at most half
 * full. A successful send or recv asks it once, so the lookup is inline, and
 * its slots hold only the values, each of which starts with its key (a
 * void *): measured with callgrind, keys stored beside the values cost ~5
 * instructions more per send or recv. */
#ifndef GZ_ZMQ_TABLE_H
#define GZ_ZMQ_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* The key of VALUE: its first member. */
static inline const void *gz__ztable_key(const void *value)
{
    return *(const void *const *)value;
}

typedef struct gz_ztable {
    void **slots;    /* values; NULL: empty */
    size_t cap;      /* 0 or a power of two */
    size_t len;
} gz_ztable;

/* KEY's first slot: Fibonacci hashing, as sockets are aligned pointers
 * whose low bits say nothing. */
static inline size_t gz__ztable_home(const gz_ztable *t, const void *key)
{
    uint64_t x = (uint64_t)(uintptr_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(x >> 32) & (t->cap - 1);
}

/* The value stored for KEY, or NULL. */
static inline void *gz__ztable_lookup(const gz_ztable *t, const void *key)
{
    if (t->len == 0)
        return NULL;
    for (size_t i = gz__ztable_home(t, key);; i = (i + 1) & (t->cap - 1)) {
        void *v = t->slots[i];
        if (!v || gz__ztable_key(v) == key)
            return v;
    }
}

/* Store VALUE, whose key (not NULL) is not in T yet: 0, or -1 ENOMEM. */
int gz__ztable_insert(gz_ztable *t, void *value);
/* Remove KEY, which T holds. */
void gz__ztable_erase(gz_ztable *t, const void *key);
/* Free T's memory (not the values): T is empty afterwards. */
void gz__ztable_free(gz_ztable *t);

#endif
