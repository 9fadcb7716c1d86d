/* The private headers, one per module, in layer order. Never installed.
 * Internal non-static names carry the gz__ prefix; the README.md beside them draws
 * the modules and who may call whom. */
#ifndef GZ_INTERNAL_H
#define GZ_INTERNAL_H

#include "base.h"
#include "list.h"
#include "obj.h"
#include "ctx.h"

/* ---- stacks (stack.c) ---- */

typedef struct gz_stack {
    char *lo;      /* lowest usable byte (just above the guard page) */
    size_t size;   /* usable bytes */
    char *map;     /* the mapping, guard included */
    size_t maplen;
    unsigned vg_id; /* valgrind's stack id */
    bool guarded;   /* own mapping with a guard page; else carved from a slab */
} gz_stack;

int gz__stack_get(gz_stack *s, size_t size);
void gz__stack_put(gz_stack *s);
void gz__stack_cache_drain(void);
/* Make a stack whose greenlet ended ready for another one (ASan). */
#ifdef GZ_ASAN
void gz__stack_reset(gz_stack *s);
#else
static inline void gz__stack_reset(gz_stack *s) { (void)s; }
#endif
/* Install the guard-page SIGSEGV handler and this thread's alternate
 * signal stack (idempotent per thread). */
void gz__stack_guard_init(void);
void gz__stack_guard_fini(void);

#include "timer.h"
#include "greenlet.h"
#include "hub.h"

#include "fd.h"

/* thread.c: gz_run_in_thread, with DROP(arg) run whenever fn(arg) will
 * never run (the call failed first, or gave up before a worker took it). */
int gz__run_in_thread(gz_fn fn, void *arg, void **value, double timeout,
                      void (*drop)(void *arg));

#endif
