/* Structures and functions shared between the library's files. Never
 * installed. Internal non-static names carry the gz__ prefix. */
#ifndef GZ_INTERNAL_H
#define GZ_INTERNAL_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "gzmq/core.h"

#if defined(__SANITIZE_ADDRESS__)
#define GZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GZ_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GZ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GZ_TSAN 1
#endif
#endif
#ifdef GZ_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef GZ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define GZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define GZ_INLINE static inline __attribute__((always_inline))
#define GZ_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- misuse checks ----
 *
 * Objects belong to the hub (the thread) that created them: each records it
 * and refuses calls from another thread's hub with EXDEV (gz__check_hub).
 *
 * Debug builds (make DEBUG=1, GZ_DEBUG) also give every object a magic
 * number, set at creation and overwritten when it is freed or released, and
 * every public function taking the object checks it first
 * (GZ_CHECK_LIVE): a freed or released object used again aborts with a
 * message naming the function and the object. In other builds the member
 * and the checks do not exist. */
#ifdef GZ_DEBUG
enum {
    GZ_MAGIC_greenlet = 0x676c6e74, /* "glnt" */
    GZ_MAGIC_timeout = 0x746d6f74,
    GZ_MAGIC_event = 0x65766e74,
    GZ_MAGIC_result = 0x72736c74,
    GZ_MAGIC_queue = 0x71756575,
    GZ_MAGIC_sem = 0x73656d61,
    GZ_MAGIC_pool = 0x706f6f6c,
    GZ_MAGIC_imap = 0x696d6170,
    GZ_MAGIC_actor = 0x6163746f,
    GZ_MAGIC_server = 0x73727672,
    GZ_MAGIC_FREED = 0x66726565, /* what a freed or released object holds */
};
/* Print "libgzmq: FN: OBJ is not a live TYPE (freed or released?)", abort. */
_Noreturn void gz__not_live(const char *fn, const void *obj, const char *type);
#define GZ_MAGIC_MEMBER uint32_t magic;
#define GZ_MAGIC_SET(obj, kind) ((obj)->magic = GZ_MAGIC_##kind)
/* Volatile: the compiler would drop a plain store just before free(). */
#define GZ_MAGIC_KILL(obj) (*(volatile uint32_t *)&(obj)->magic = GZ_MAGIC_FREED)
/* OBJ (a gz_KIND pointer) is NULL or a live gz_KIND; else abort. */
#define GZ_CHECK_LIVE(obj, kind)                                  \
    do {                                                          \
        if ((obj) && (obj)->magic != GZ_MAGIC_##kind)             \
            gz__not_live(__func__, (const void *)(obj), "gz_" #kind); \
    } while (0)
#else
#define GZ_MAGIC_MEMBER
#define GZ_MAGIC_SET(obj, kind) ((void)0)
#define GZ_MAGIC_KILL(obj) ((void)0)
#define GZ_CHECK_LIVE(obj, kind) ((void)0)
#endif

/* ---- intrusive doubly linked list (circular, with a head node) ---- */

typedef struct gz_list {
    struct gz_list *next, *prev;
} gz_list;

#define GZ_CONTAINER(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void gz__list_init(gz_list *h) { h->next = h->prev = h; }
static inline bool gz__list_empty(const gz_list *h) { return h->next == h; }
static inline bool gz__list_linked(const gz_list *n) { return n->next != NULL; }
static inline void gz__list_push(gz_list *h, gz_list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void gz__list_push_front(gz_list *h, gz_list *n)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
/* Unlink N and mark it unlinked (next == NULL); harmless if not linked. */
static inline void gz__list_remove(gz_list *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}
static inline gz_list *gz__list_pop(gz_list *h)
{
    gz_list *n = h->next;
    if (n == h)
        return NULL;
    gz__list_remove(n);
    return n;
}

/* ---- context switch (ctx_<arch>.S or ctx_ucontext.c) ---- */

#ifdef GZ_CTX_UCONTEXT
#include <ucontext.h>
typedef struct gz_ctx {
    ucontext_t uc;
} gz_ctx;
#else
typedef struct gz_ctx {
    void *sp; /* saved stack pointer; registers live on the stack */
} gz_ctx;
#endif

/* Prepare CTX to call entry(arg) on the stack [lo, lo + size) when first
 * switched to. Entry returns only where GZ_CTX_FAST_EXIT is defined, with
 * the saved stack pointer (gz_ctx.sp) of the context to resume. */
void gz__ctx_make(gz_ctx *ctx, void *lo, size_t size, void *(*entry)(void *),
                  void *arg);
/* Save the callee-saved state in FROM and resume TO. */
void gz__ctx_switch(gz_ctx *from, gz_ctx *to);
#if defined(__x86_64__) && !defined(GZ_CTX_UCONTEXT) && !defined(GZ_ASAN) && \
    !defined(GZ_TSAN)
/* The same for a TO that has never run, keeping the CPU's return-address
 * predictor in step (ctx_x86_64.S); an ended greenlet's entry function
 * returns the next context instead of switching to it. */
#define GZ_CTX_FAST_EXIT 1
void gz__ctx_begin(gz_ctx *from, gz_ctx *to);
#endif

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

/* ---- timers: one heap per hub, deterministic for equal deadlines ---- */

typedef struct gz_timer gz_timer;
struct gz_timer {
    double at;
    uint64_t seq;
    size_t idx; /* position in the heap + 1; 0 when not armed */
    void (*cb)(gz_timer *t);
};

void gz__timer_start(gz_timer *t, double after);
void gz__timer_stop(gz_timer *t);
static inline bool gz__timer_active(const gz_timer *t) { return t->idx != 0; }

/* ---- greenlets ---- */

enum gz_state {
    GZ_NEW,     /* created, not started */
    GZ_LATER,   /* started with a delay, timer pending */
    GZ_READY,   /* in the run queue */
    GZ_RUNNING, /* the current greenlet */
    GZ_PARKED,  /* blocked in gz__park */
    GZ_DEAD
};

typedef struct gz_hub gz_hub;

struct gz_greenlet {
    gz_list node;          /* run queue; the hub's free list */
    gz_ctx ctx;
    gz_list all;           /* the hub's started, live greenlets */
    enum gz_state state;
    int wake_code;         /* why gz__park returned: 0 or an errno */
    bool is_main;
    bool began;            /* fn has been entered */
    bool started;          /* gz_start / gz_start_later has run */
    bool finishing;        /* its links are running */
    bool keeps_stack;      /* ended, unreleased, its stack kept for reuse */
    bool killed;
    bool failed;
    bool observed;         /* failure seen by get / exception / link */
    bool user_ref;         /* the caller's reference is still held */
    bool hub_ref;          /* started and not ended */
    unsigned fired;        /* expired gz_timeouts still armed */
    unsigned waits;        /* green calls in a row that did not wait */
    gz_hub *hub;
    gz_fn fn;
    void *arg;
    void *value;
    gz_error err;
    char *name;
    uint64_t id;
    gz_stack stack;
    gz_timer timer;        /* wait timeout, or start delay */
    gz_list joiners;       /* gz_waiter */
    gz_list links;         /* struct gz_link */
    gz_list timeouts;      /* armed gz_timeout */
    char defname[32];
    GZ_MAGIC_MEMBER
#ifdef GZ_TSAN
    void *tsan_fiber;
#endif
#ifdef GZ_ASAN
    void *asan_fake;
    const void *asan_lo;
    size_t asan_size;
#endif
};

/* A greenlet parked on an object: the object keeps a list of these. DATA
 * carries what a hand-off delivers (a queue item, ...). */
typedef struct gz_waiter {
    gz_list node;
    gz_greenlet *g;
    void *data;
    int flags;
} gz_waiter;

struct gz_hub {
    struct ev_loop *loop;
    gz_greenlet *current;
    gz_greenlet *from;     /* the greenlet that switched to the current one */
    gz_greenlet main;
    gz_list all;           /* started, live greenlets (not main) */
    gz_list cursor;        /* walks `all` in gz__greenlet_kill_all */
    bool own_loop;
    bool in_timer_cb;
    bool main_waits_live;  /* main waits for nlive == 0 (gz_run, gz_shutdown) */
    bool shutdown_by_main;
    gz_list runq;
    unsigned dispatches;   /* run-queue pops since the last loop poll */
    int polling;           /* inside our own ev_run */
    bool driving;          /* main runs greenlets from the idle watcher */
    bool idle_on;
    int in_callback;       /* link callbacks running: blocking is EPERM */
    bool shutdown;         /* gz_shutdown in progress */
    size_t nlive;          /* started, not ended, not main */
    uint64_t next_id;
    size_t stack_size;
    gz_greenlet *zombie;   /* ended greenlet whose stack is freed after the switch */
    ev_idle idle;
    ev_timer timer;        /* fires the earliest gz_timer */
    gz_timer **heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
    gz_list stack_cache;   /* struct gz_cached_stack */
    gz_list free_greenlets; /* recycled greenlet structs, maybe with stacks */
    size_t dead_stacks;    /* ended, unreleased greenlets keeping a stack */
    size_t free_greenlets_len;
    size_t stack_cache_len;
    gz_stack *cold;        /* evicted slab stacks, pages given back */
    size_t cold_len, cold_cap, cold_clean;
    char *slab_next;       /* unguarded stacks left in the current slab */
    size_t slab_left, slab_size;
    struct gz_signal_slot *signals;
    void *ext[4];          /* per-hub state of higher layers (thread pool, zmq) */
    void (*ext_free[4])(void *); /* run when the hub is destroyed */
    /* Called when nothing is ready, before polling the loop: true if it may
     * have made greenlets ready (the zmq layer's ZMQ_EVENTS re-check). */
    bool (*prepoll)(gz_hub *h);
};

extern _Thread_local gz_hub *gz__tl_hub __attribute__((tls_model("initial-exec")));
gz_hub *gz__hub_create(void);
/* This thread's hub, created on first use; NULL with ENOMEM. */
static inline gz_hub *gz__hub(void)
{
    gz_hub *h = gz__tl_hub;
    return GZ_LIKELY(h != NULL) ? h : gz__hub_create();
}
/* The hub if it exists, without creating it. */
static inline gz_hub *gz__hub_peek(void) { return gz__tl_hub; }
/* An object recorded OWNER, the hub that created it; the caller's hub is H
 * (gz__hub_peek() where the caller need not have one). -1 EXDEV when they
 * differ: the object belongs to another thread's hub. */
static inline int gz__check_hub(const gz_hub *owner, const gz_hub *h)
{
    if (GZ_LIKELY(owner == h))
        return 0;
    errno = EXDEV;
    return -1;
}

/* The common entry check of every blocking call: -1 with ECANCELED (killed),
 * EPERM (inside a link callback) or ETIMEDOUT (a gz_timeout expired). */
int gz__enter_slow(gz_hub *h);
static inline int gz__enter(gz_hub *h)
{
    gz_greenlet *g = h->current;
    if (GZ_LIKELY(!(g->killed | (g->fired != 0) | (h->in_callback != 0))))
        return 0;
    return gz__enter_slow(h);
}
/* Validate a timeout argument: -1 EINVAL for NaN. */
static inline int gz__check_timeout(double t)
{
    if (isnan(t)) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}
/* Park the current greenlet until gz__wake, TIMEOUT (negative: none), a kill
 * or a gz_timeout. Returns 0 when woken with code 0, else -1 with errno =
 * the code (ETIMEDOUT, ECANCELED, EDEADLK, or what the waker passed). The
 * caller unlinks its waiter node afterwards if it is still linked. */
int gz__park(gz_hub *h, double timeout);

/* Count a green call that completed without waiting; after about a thousand
 * in a row, yield once so a busy greenlet cannot starve the others. */
void gz__no_wait(gz_hub *h);
void gz__idle_start(gz_hub *h);
/* Append G to the run queue (state READY). Never switches. */
static inline void gz__make_ready(gz_hub *h, gz_greenlet *g)
{
    g->state = GZ_READY;
    gz__list_push(&h->runq, &g->node);
    /* The application may be running the loop itself with main outside any
     * green call: then only an idle watcher can get the greenlet going. */
    if (GZ_UNLIKELY(!h->idle_on) && h->current == &h->main &&
        h->main.state == GZ_RUNNING && !h->polling && !h->driving)
        gz__idle_start(h);
}
/* Make a parked G ready with CODE (0 = success); no-op unless parked.
 * Never switches. */
static inline void gz__wake(gz_greenlet *g, int code)
{
    if (g->state != GZ_PARKED)
        return;
    /* While a shutdown started by a greenlet runs, main's wait ends only
     * with the ECANCELED that gz__live_ended delivers. */
    if (GZ_UNLIKELY(g->hub->shutdown) && g->is_main &&
        !g->hub->shutdown_by_main)
        return;
    g->wake_code = code;
    gz__make_ready(g->hub, g);
}
/* Wake the first waiter of LIST (unlinking it) with CODE; false if empty. */
static inline bool gz__wake_one(gz_list *list, int code)
{
    gz_list *n = gz__list_pop(list);
    if (!n)
        return false;
    gz__wake(GZ_CONTAINER(n, gz_waiter, node)->g, code);
    return true;
}
/* Wake and unlink every waiter of LIST with CODE. */
static inline void gz__wake_all(gz_list *list, int code)
{
    while (gz__wake_one(list, code))
        ;
}
/* Keep the loop from counting as idle while a pending event exists that a
 * watcher outside libev will deliver (thread pool jobs): ev_ref / ev_unref. */
void gz__hold(gz_hub *h);
void gz__unhold(gz_hub *h);

/* Index of gz_hub.ext for each higher layer. */
enum { GZ_EXT_THREAD, GZ_EXT_ZMQ, GZ_EXT_IO, GZ_EXT_SPARE };

/* Just switched in: finish the sanitizer's switch, bury the greenlet that
 * ended by switching here (gz__bury frees or keeps its stack). */
void gz__bury(gz_hub *h, gz_greenlet *z);
GZ_INLINE void gz__switched_in(gz_hub *h)
{
#ifdef GZ_ASAN
    gz_greenlet *me = h->current, *from = h->from;
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(me->asan_fake, &lo, &size);
    if (from && from->is_main) { /* learn main's stack on first leaving it */
        from->asan_lo = lo;
        from->asan_size = size;
    }
#endif
    if (GZ_UNLIKELY(h->zombie != NULL))
        gz__bury(h, h->zombie);
}
void gz__live_ended(gz_hub *h);

/* greenlet.c, used by the hub */
void gz__greenlet_timer_cb(gz_timer *t);
void *gz__greenlet_entry(void *arg);
void gz__greenlet_free(gz_greenlet *g);
void gz__greenlet_cache_drain(gz_hub *h);
/* gz_link for the library's own bookkeeping: OBSERVES false leaves an
 * unobserved failure to be reported as if the link were not there. */
int gz__link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg,
             bool observes);
void gz__greenlet_kill_all(gz_hub *h, gz_greenlet *except);
void gz__greenlet_shutdown_check(gz_hub *h);

/* ---- plain fds (io.c) ----
 *
 * Per hub and fd number, in gz_hub.ext[GZ_EXT_IO]: the greenlets waiting on
 * the fd, so that gz_close can wake them and stop their watchers before the
 * number is reused, and a byte that net.c keeps about the last calls.
 * gz_close clears both: a reused number starts fresh. */

/* One greenlet's watcher on one fd. */
typedef struct gz_fdwait {
    ev_io io;                       /* data: the waiting greenlet */
    struct gz_fdwait *next, *prev;  /* its fd's waiters, oldest first */
    bool linked;
    bool closed;                    /* gz_close took the fd away */
} gz_fdwait;

typedef struct gz_fdslot {
    gz_fdwait *first, *last;        /* by pointer, not a list head: the table moves */
    unsigned char bits;             /* net.c's */
} gz_fdslot;

typedef struct gz_fdtab {
    gz_fdslot *slots;
    size_t cap;
} gz_fdtab;

/* FD's slot, the table grown to hold it; NULL (ENOMEM). Only for an fd a
 * syscall has just accepted, so that a bogus number cannot make the table
 * huge (a valid fd is below the open-file limit). */
gz_fdslot *gz__fd_grow(gz_hub *h, int fd);
GZ_INLINE gz_fdslot *gz__fd_slot(gz_hub *h, int fd)
{
    gz_fdtab *t = h->ext[GZ_EXT_IO];
    if (GZ_LIKELY(t && (size_t)fd < t->cap))
        return &t->slots[fd];
    return gz__fd_grow(h, fd);
}
/* FD's slot if the table holds it; else NULL: nothing is known of FD. */
GZ_INLINE gz_fdslot *gz__fd_peek(const gz_hub *h, int fd)
{
    const gz_fdtab *t = h->ext[GZ_EXT_IO];
    return t && (size_t)fd < t->cap ? &t->slots[fd] : NULL;
}
/* Start W watching FD for EV_EVENTS (EV_READ / EV_WRITE) on behalf of the
 * current greenlet, which a readiness or gz_close wakes; -1 ENOMEM. */
int gz__fdwait_start(gz_hub *h, gz_fdwait *w, int fd, int ev_events);
/* Stop W (also after gz_close stopped it): true if gz_close took its fd. */
bool gz__fdwait_stop(gz_hub *h, gz_fdwait *w);

/* Park the current greenlet until FD has EV_EVENTS, without first asking
 * poll(2): for a caller that has just seen EAGAIN. As gz__park otherwise,
 * and -1 EBADF when gz_close closed FD meanwhile; the caller has done
 * gz__enter. */
int gz__park_fd(gz_hub *h, int fd, int ev_events, double timeout);

/* thread.c: gz_run_in_thread, with DROP(arg) run whenever fn(arg) will
 * never run (the call failed first, or gave up before a worker took it). */
int gz__run_in_thread(gz_fn fn, void *arg, void **value, double timeout,
                      void (*drop)(void *arg));

/* timeout.c */
void gz__timeouts_disarm(gz_greenlet *g);

/* signal.c */
void gz__signals_free(gz_hub *h);

/* Switch from the current greenlet to NEXT (no-op if the same). */
/* Park forever: used by a greenlet that has ended. */
_Noreturn void gz__exit_switch(gz_hub *h);
#ifdef GZ_CTX_FAST_EXIT
void *gz__exit_fast(gz_hub *h);
#endif

#endif
