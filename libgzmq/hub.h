/* The per-thread hub (hub.c): the libev loop, the run queue, parking and
 * waking. It holds each core module's state as a member, written only by
 * that module's file, and the per-hub state that higher layers register. */
#ifndef GZ_HUB_H
#define GZ_HUB_H

#include <math.h>

#include <ev.h>

#include "greenlet.h"
#include "timer.h"
#include "monitor.h"

/* A higher layer (the thread pool, ZeroMQ, the fd table...) keeps per-hub
 * state by registering it on first use with a static gz_layer describing
 * how to drop it and, optionally, what to do before the loop is polled. */
typedef struct gz_layer {
    /* The hub is being destroyed (the thread exits). */
    void (*destroy)(void *state);
    /* Nothing is ready and the hub is about to poll the loop: true if it
     * may have made greenlets ready without the loop. NULL: no such hook. */
    bool (*before_poll)(gz_hub *h, void *state);
} gz_layer;

#define GZ_LAYERS_MAX 8

struct gz_hub {
    struct ev_loop *loop;
    gz_greenlet *current;
    gz_greenlet *from;     /* the greenlet that switched to the current one */
    gz_greenlet main;
    bool own_loop;
    bool main_waits_live;  /* main waits for nlive == 0 (gz_run, gz_shutdown) */
    bool shutdown_by_main;
    gz_list runq;
    unsigned dispatches;   /* run-queue pops since the last loop poll */
    int polling;           /* inside our own ev_run */
    bool driving;          /* main runs greenlets from the idle watcher */
    bool idle_on;
    bool shutdown;         /* gz_shutdown in progress */
    size_t stack_size;
    ev_idle idle;
    gz_greenlets greenlets; /* greenlet.c */
    gz_timers timers;       /* timer.c */
    gz_stacks stacks;       /* stack.c */
    gz_watch watch;         /* monitor.c */
    uint64_t switches;      /* context switches, in total */
    unsigned nlayers;
    struct {
        const gz_layer *type;
        void *state;
    } layers[GZ_LAYERS_MAX];
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

/* The state registered on H for TYPE, or NULL. */
static inline void *gz__layer_state(const gz_hub *h, const gz_layer *type)
{
    for (unsigned i = 0; i < h->nlayers; i++)
        if (h->layers[i].type == type)
            return h->layers[i].state;
    return NULL;
}
/* Register STATE for TYPE on H (once per type): -1 ENOMEM when full. */
int gz__layer_add(gz_hub *h, const gz_layer *type, void *state);
/* A zeroed state of SIZE bytes registered on H for TYPE (*MADE true, if
 * MADE is not NULL), or NULL with ENOMEM. */
void *gz__layer_state_new(gz_hub *h, const gz_layer *type, size_t size, bool *made);
/* The state registered on H for TYPE, or a new one that the caller sets up
 * (*MADE true; MADE may be NULL); NULL with ENOMEM. The look-up stays
 * inline, as callers reach it on every wait. */
static inline void *gz__layer_state_make(gz_hub *h, const gz_layer *type, size_t size,
                                         bool *made)
{
    void *state = gz__layer_state(h, type);
    if (made)
        *made = false;
    return GZ_LIKELY(state != NULL) ? state : gz__layer_state_new(h, type, size, made);
}

/* The common entry check of every blocking call: -1 with ECANCELED (killed),
 * EPERM (inside a link callback) or ETIMEDOUT (a gz_timeout expired). */
int gz__enter_slow(gz_hub *h);
static inline int gz__enter(gz_hub *h)
{
    gz_greenlet *g = h->current;
    if (GZ_LIKELY(!((g->flags & GZ_G_KILLED) | g->fired |
                    (unsigned)h->greenlets.in_callback)))
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
/* The entry check of every blocking call, on the caller's hub H (NULL when
 * gz__hub failed: errno is set) with its TIMEOUT argument: 0, or -1 with
 * EINVAL (NaN timeout) or gz__enter's errno (but for a zero TIMEOUT, a kill
 * is no error). */
static inline int gz__check_entry(gz_hub *h, double timeout)
{
    if (GZ_UNLIKELY(!h) || gz__check_timeout(timeout))
        return -1;
    gz_greenlet *g = h->current;
    if (GZ_LIKELY(!((g->flags & GZ_G_KILLED) | g->fired |
                    (unsigned)h->greenlets.in_callback)))
        return 0;
    /* A kill interrupts waits, not calls: one that cannot block (a zero
     * timeout, ZMQ_DONTWAIT) works as usual for a killed greenlet, so that
     * it can still flush what it has without a shield. */
    if (timeout == 0 && !g->fired && !h->greenlets.in_callback)
        return 0;
    return gz__enter_slow(h);
}

/* Deadlines: an absolute time on the loop clock (ev_now), or GZ_NEVER. A
 * call that may wait several times converts its timeout once, so that its
 * waits together keep to it. */
#define GZ_NEVER (-1.0)
/* The deadline TIMEOUT seconds from now; GZ_NEVER for a negative one. */
static inline double gz__deadline(gz_hub *h, double timeout)
{
    if (timeout < 0)
        return GZ_NEVER;
    if (timeout > 0)
        ev_now_update(h->loop); /* greenlets may have run long since a poll */
    return ev_now(h->loop) + timeout;
}
/* The time left until DEADLINE as a timeout argument: GZ_FOREVER for
 * GZ_NEVER, 0 once it has passed. */
static inline double gz__remaining(const gz_hub *h, double deadline)
{
    if (deadline == GZ_NEVER)
        return GZ_FOREVER;
    double left = deadline - ev_now(h->loop);
    return left > 0 ? left : 0.0;
}

/* Park the current greenlet until gz__wake, DEADLINE (GZ_NEVER: none), a
 * kill or a gz_timeout. Returns 0 when woken with code 0, else -1 with errno
 * = the code (ETIMEDOUT, ECANCELED, EDEADLK, or what the waker passed). The
 * caller unlinks its waiter node afterwards if it is still linked. KIND (a
 * static string: the public call, "gz_queue_get") and OBJ (what it waits
 * on) say what it waits for, in run info (see gz_greenlet.wait_kind). */
int gz__park_until(gz_hub *h, double deadline, const char *kind,
                   const void *obj);
/* gz__park_until for TIMEOUT seconds from now (negative: no limit). */
static inline int gz__park(gz_hub *h, double timeout, const char *kind,
                           const void *obj)
{
    return gz__park_until(h, gz__deadline(h, timeout), kind, obj);
}

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
    if (GZ_UNLIKELY(g->obj.hub->shutdown) && (g->flags & GZ_G_MAIN) &&
        !g->obj.hub->shutdown_by_main)
        return;
    g->wake_code = code;
    gz__make_ready(g->obj.hub, g);
}
/* Wake W's greenlet with CODE; when it is parked in gz_select, W is the
 * case that fires (the greenlet's other waiters are skipped from now on,
 * as it is no longer parked). */
static inline void gz__wake_waiter(gz_waiter *w, int code)
{
    if (GZ_UNLIKELY(w->claim != NULL) && w->g->state == GZ_PARKED &&
        !w->claim->by) {
        w->claim->by = w;
        w->claim->code = code;
    }
    gz__wake(w->g, code);
}
/* Wake the first waiter of LIST (unlinking it) with CODE; false if empty. */
static inline bool gz__wake_one(gz_list *list, int code)
{
    gz_list *n = gz__list_pop(list);
    if (!n)
        return false;
    gz__wake_waiter(GZ_CONTAINER(n, gz_waiter, node), code);
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

/* Just switched in: finish the sanitizer's switch, bury the greenlet that
 * ended by switching here (gz__bury frees or keeps its stack). */
GZ_INLINE void gz__switched_in(gz_hub *h)
{
#ifdef GZ_ASAN
    gz_greenlet *me = h->current, *from = h->from;
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(me->asan_fake, &lo, &size);
    if (from && (from->flags & GZ_G_MAIN)) { /* learn main's stack on first leaving it */
        from->asan_lo = lo;
        from->asan_size = size;
    }
#endif
    if (GZ_UNLIKELY(h->greenlets.zombie != NULL))
        gz__bury(h, h->greenlets.zombie);
}
/* The last live greenlet has ended: main may be waiting for it. */
void gz__live_ended(gz_hub *h);

/* Park forever: used by a greenlet that has ended. */
_Noreturn void gz__exit_switch(gz_hub *h);
#ifdef GZ_CTX_FAST_EXIT
void *gz__exit_fast(gz_hub *h);
#endif

#endif
