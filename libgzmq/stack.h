/* Greenlet stacks (stack.c): the allocator, its per-hub state, the guard
 * region below each stack and the canary checked at every switch. */
#ifndef GZ_STACK_H
#define GZ_STACK_H

#include "base.h"

typedef struct gz_stack {
    char *lo;      /* lowest usable byte (just above the guard region) */
    size_t size;   /* usable bytes */
    char *map;     /* the mapping, guard included */
    size_t maplen;
    /* Zero as long as the owner has not run past lo: the stack's lowest
     * word (main's: a constant zero). See gz__stack_check. */
    const uint64_t *canary;
    unsigned vg_id; /* valgrind's stack id */
    bool guarded;   /* own mapping with a guard region; else carved from a slab */
} gz_stack;

/* The allocator's per-hub state, read and written by stack.c alone. */
typedef struct gz_stacks {
    struct gz_cached_stack *cache; /* warm free stacks, warmest first */
    size_t cache_len;
    gz_stack *cold;                /* evicted stacks, pages given back in batches */
    size_t cold_len, cold_cap, cold_clean;
    char *slab_next;               /* unguarded stacks left in the current slab */
    size_t slab_left, slab_size;
} gz_stacks;

/* Empty ST, and give MAIN (the thread's own stack) a canary that holds. */
void gz__stacks_init(gz_stacks *st, gz_stack *main);
/* A stack of SIZE (rounded up to pages) for the calling thread's hub:
 * -1 ENOMEM. gz__stack_put gives it back (to the cache, or cold). */
int gz__stack_get(gz_stack *s, size_t size);
void gz__stack_put(gz_stack *s);
/* Let go of every free stack of the calling thread's hub. */
void gz__stack_cache_drain(void);
/* Bytes of the free stacks ST keeps (warm and cold). */
size_t gz__stacks_cached_bytes(const gz_stacks *st);
/* How deep S has been used, in bytes from its top: an upper bound when the
 * stack served earlier greenlets (its pages are not cleared for reuse). */
size_t gz__stack_high_water(const gz_stack *s);
/* Make a stack whose greenlet ended ready for another one (ASan). */
#ifdef GZ_ASAN
void gz__stack_reset(gz_stack *s);
#else
static inline void gz__stack_reset(gz_stack *s) { (void)s; }
#endif
/* Install the SIGSEGV handler that names an overflowing greenlet and this
 * thread's alternate signal stack (idempotent per thread). */
void gz__stack_guard_init(void);
void gz__stack_guard_fini(void);

/* "greenlet NAME overflowed its N-byte stack" on stderr, then abort. */
_Noreturn void gz__stack_overflowed(const gz_greenlet *g, const gz_stack *s);
/* The thread runs on S (gz_call_hot's shared stack) rather than on its
 * greenlet's own, or again on its own (NULL): the overflow report checks S
 * and names it. */
void gz__stack_borrow(const gz_stack *s);

/* G, owner of S, is switching out: an overflow of a stack without a guard
 * (a slab stack) shows here at the latest. Nothing legitimately writes a
 * stack's lowest word, and an untouched page reads zero, so the canary
 * costs no memory and no store: one load and one compare per switch. */
static inline void gz__stack_check(const gz_greenlet *g, const gz_stack *s)
{
    if (GZ_UNLIKELY(*s->canary != 0))
        gz__stack_overflowed(g, s);
}

#endif
