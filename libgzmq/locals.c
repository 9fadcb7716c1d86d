/* Greenlet-local storage: keys shared by every thread of the process, and
 * per greenlet a lazily allocated array of values indexed by the key's slot.
 *
 * A key is (generation << SLOT_BITS) | slot. Deleting a key bumps its slot's
 * generation, so a stale key is refused (EINVAL) and values a greenlet stored
 * under it are never mistaken for those of the slot's next key. */

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "gz_internal.h"
#include "gzmq/lifetime.h"

#define SLOT_BITS 7
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define GEN_MAX (UINT_MAX >> SLOT_BITS)
/* A destructor may set values again: as POSIX, give up after a few rounds. */
#define DESTRUCTOR_ROUNDS 4

_Static_assert(GZ_KEYS_MAX == 1u << SLOT_BITS, "GZ_KEYS_MAX is the slot count");

typedef struct key_slot {
    _Atomic unsigned gen; /* of the live key, 0 while the slot is free */
    unsigned last_gen;    /* under keys_lock: the generation last handed out */
    void (*destructor)(void *value);
    int flags;
} key_slot;

static key_slot slots[GZ_KEYS_MAX];
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct gz_local {
    void *value;
    gz_key key; /* the key it was stored under; 0: empty */
    bool own;   /* set by this greenlet (not inherited): its destructor runs */
} gz_local;

struct gz_locals {
    unsigned cap;
    gz_local e[];
};

/* The slot of a live KEY, or NULL with EINVAL. */
GZ_INLINE key_slot *live_slot(gz_key key)
{
    key_slot *k = &slots[key & SLOT_MASK];
    unsigned gen = key >> SLOT_BITS;
    if (GZ_UNLIKELY(gen == 0 ||
                    atomic_load_explicit(&k->gen, memory_order_acquire) != gen)) {
        errno = EINVAL;
        return NULL;
    }
    return k;
}

int gz_key_create_flags(gz_key *key, void (*destructor)(void *value), int flags)
{
    if (!key || (flags & ~GZ_KEY_INHERIT)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&keys_lock);
    for (unsigned i = 0; i < GZ_KEYS_MAX; i++) {
        key_slot *k = &slots[i];
        if (atomic_load_explicit(&k->gen, memory_order_relaxed) != 0)
            continue;
        unsigned gen = k->last_gen == GEN_MAX ? 1 : k->last_gen + 1;
        k->last_gen = gen;
        k->destructor = destructor;
        k->flags = flags;
        /* Published last: a reader that sees the generation sees the rest. */
        atomic_store_explicit(&k->gen, gen, memory_order_release);
        pthread_mutex_unlock(&keys_lock);
        *key = gen << SLOT_BITS | i;
        return 0;
    }
    pthread_mutex_unlock(&keys_lock);
    errno = EAGAIN;
    return -1;
}

int gz_key_create(gz_key *key, void (*destructor)(void *value))
{
    return gz_key_create_flags(key, destructor, 0);
}

int gz_key_delete(gz_key key)
{
    pthread_mutex_lock(&keys_lock);
    key_slot *k = live_slot(key);
    if (k)
        atomic_store_explicit(&k->gen, 0, memory_order_release);
    pthread_mutex_unlock(&keys_lock);
    return k ? 0 : -1;
}

void *gz_getspecific(gz_key key)
{
    if (GZ_UNLIKELY(!live_slot(key)))
        return NULL;
    gz_hub *h = gz__hub_peek();
    if (GZ_UNLIKELY(!h))
        return NULL;
    const struct gz_locals *l = h->current->locals;
    unsigned i = key & SLOT_MASK;
    if (l && i < l->cap && l->e[i].key == key)
        return l->e[i].value;
    return NULL;
}

/* Make room for slot I in G's storage. */
static __attribute__((noinline)) struct gz_locals *grow(gz_greenlet *g, unsigned i)
{
    struct gz_locals *l = g->locals;
    unsigned old = l ? l->cap : 0;
    unsigned cap = (i | 7) + 1; /* whole cache lines of four entries */
    struct gz_locals *n = realloc(l, sizeof *n + cap * sizeof n->e[0]);
    if (!n) {
        errno = ENOMEM;
        return NULL;
    }
    for (unsigned j = old; j < cap; j++)
        n->e[j] = (gz_local){NULL, 0, false};
    n->cap = cap;
    g->locals = n;
    return n;
}

int gz_setspecific(gz_key key, void *value)
{
    if (GZ_UNLIKELY(!live_slot(key)))
        return -1;
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    gz_greenlet *g = h->current;
    struct gz_locals *l = g->locals;
    unsigned i = key & SLOT_MASK;
    if (GZ_UNLIKELY(!l || i >= l->cap) && !(l = grow(g, i)))
        return -1;
    l->e[i] = (gz_local){value, key, true};
    return 0;
}

int gz__locals_inherit(const gz_greenlet *parent, gz_greenlet *child)
{
    const struct gz_locals *p = parent->locals;
    for (unsigned i = 0; i < p->cap; i++) {
        const gz_local *e = &p->e[i];
        if (!e->key || !e->value)
            continue;
        key_slot *k = &slots[i];
        if (atomic_load_explicit(&k->gen, memory_order_acquire) != e->key >> SLOT_BITS ||
            !(k->flags & GZ_KEY_INHERIT))
            continue;
        if ((!child->locals || i >= child->locals->cap) && !grow(child, i)) {
            free(child->locals);
            child->locals = NULL;
            return -1;
        }
        /* Shared, not copied: the child never runs the destructor. */
        child->locals->e[i] = (gz_local){e->value, e->key, false};
    }
    return 0;
}

void gz__locals_end(gz_greenlet *g)
{
    for (int round = 0; round < DESTRUCTOR_ROUNDS; round++) {
        bool ran = false;
        /* A destructor may store values (and move the array): look again. */
        for (unsigned i = 0; g->locals && i < g->locals->cap; i++) {
            gz_local *e = &g->locals->e[i];
            if (!e->key || !e->value || !e->own)
                continue;
            void *value = e->value;
            e->value = NULL;
            key_slot *k = &slots[i];
            if (atomic_load_explicit(&k->gen, memory_order_acquire) != e->key >> SLOT_BITS ||
                !k->destructor)
                continue; /* deleted keys' values are the application's */
            k->destructor(value);
            ran = true;
        }
        if (!ran)
            break;
    }
    free(g->locals);
    g->locals = NULL;
}
