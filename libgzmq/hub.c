/* The per-thread hub: the libev loop, the run queue, parking and waking,
 * deadlock detection, the higher layers' per-hub state, gz_run and
 * gz_shutdown.
 *
 * Switching is direct: a greenlet that blocks pops the next ready greenlet
 * and switches to it. Only when nothing is ready does the blocking greenlet
 * poll the loop itself (ev_run EVRUN_ONCE, on its own stack); libev callbacks
 * only mark greenlets ready and never switch. When the application drives
 * the loop with its own ev_run, an ev_idle watcher runs ready greenlets from
 * main's stack ("driving"), and a greenlet that blocks with nothing ready
 * switches back to main. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_internal.h"

/* Poll the loop (without blocking) after this many dispatches, so that a
 * set of greenlets that keep yielding cannot starve I/O and timers. */
#define GZ_POLL_EVERY 1024
/* Green calls in a row that complete without waiting before a forced yield. */
#define GZ_NO_WAIT_MAX 1024
#define GZ_DEFAULT_STACK (256 * 1024)

_Thread_local gz_hub *gz__tl_hub __attribute__((tls_model("initial-exec")));
static pthread_key_t hub_key;
static pthread_once_t hub_key_once = PTHREAD_ONCE_INIT;

static void hub_destroy(void *p);
static void hub_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);
static void wake_main(gz_hub *h, int code);

static void make_key(void) { pthread_key_create(&hub_key, hub_destroy); }

static size_t page_round(size_t n)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    return (n + ps - 1) / ps * ps;
}

static size_t default_stack_size(void)
{
    const char *env = getenv("GZ_STACK_SIZE");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 0);
        if (*end == '\0' && v >= 16 * 1024 && v <= (1ull << 30))
            return page_round((size_t)v);
        gz__warn("ignoring GZ_STACK_SIZE=%s (want bytes "
                        "between 16384 and 1073741824)\n", env);
    }
#ifdef GZ_ASAN
    return 4 * GZ_DEFAULT_STACK; /* sanitizer frames are much larger */
#else
    return GZ_DEFAULT_STACK;
#endif
}

static gz_hub *hub_create(struct ev_loop *loop)
{
    pthread_once(&hub_key_once, make_key);
    gz_hub *h = calloc(1, sizeof *h);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    if (!loop)
        loop = getpid() == gettid() ? ev_default_loop(0)
                                    : ev_loop_new(EVFLAG_AUTO);
    if (!loop) {
        free(h);
        errno = ENOMEM;
        return NULL;
    }
    h->loop = loop;
    gz__list_init(&h->runq);
    gz__greenlets_init(h);
    gz__stacks_init(&h->stacks, &h->main.stack);
    h->current = &h->main;
    h->stack_size = default_stack_size();
    ev_idle_init(&h->idle, hub_idle_cb);
    gz__timers_init(&h->timers);
    gz__tl_hub = h;
    pthread_setspecific(hub_key, h);
    gz__stack_guard_init();
    gz__watch_init(h);
    return h;
}

static void hub_destroy(void *p)
{
    gz_hub *h = p;
    if (!h)
        return;
    while (h->nlayers > 0) { /* the last registered may use the others */
        h->nlayers--;
        h->layers[h->nlayers].type->destroy(h->layers[h->nlayers].state);
    }
    ev_idle_stop(h->loop, &h->idle);
    gz__watch_fini(h);
    gz__timers_fini(&h->timers, h->loop);
    gz__greenlets_fini(h);
    gz__stack_cache_drain();
    if (!ev_is_default_loop(h->loop) && h->own_loop)
        ev_loop_destroy(h->loop);
    gz__stack_guard_fini();
    gz__tl_hub = NULL;
    free(h);
}

gz_hub *gz__hub_create(void)
{
    gz_hub *h = hub_create(NULL);
    if (h)
        h->own_loop = true;
    return h;
}

struct ev_loop *gz_loop(void)
{
    gz_hub *h = gz__hub();
    return h ? h->loop : NULL;
}

int gz_use_loop(struct ev_loop *loop)
{
    if (!loop) {
        errno = EINVAL;
        return -1;
    }
    if (gz__tl_hub) {
        errno = EBUSY;
        return -1;
    }
    return hub_create(loop) ? 0 : -1;
}

double gz_now(void)
{
    gz_hub *h = gz__hub();
    return h ? ev_now(h->loop) : 0.0;
}

int gz_set_stack_size(size_t bytes)
{
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    if (bytes < 16 * 1024 || bytes > ((size_t)1 << 30)) {
        errno = EINVAL;
        return -1;
    }
    h->stack_size = page_round(bytes);
    return 0;
}

size_t gz_stack_size(void)
{
    gz_hub *h = gz__hub();
    return h ? h->stack_size : 0;
}

/* ---- switching ---- */

GZ_INLINE void gz__switch(gz_hub *h, gz_greenlet *next)
{
    gz_greenlet *prev = h->current;
    next->state = GZ_RUNNING;
    if (next == prev)
        return;
    gz__stack_check(prev, &prev->stack);
    h->switches++;
    h->current = next;
    h->from = prev;
#ifdef GZ_ASAN
    __sanitizer_start_switch_fiber(prev->state == GZ_DEAD ? NULL
                                                          : &prev->asan_fake,
                                   next->asan_lo, next->asan_size);
#endif
#ifdef GZ_TSAN
    __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
#ifdef GZ_CTX_FAST_EXIT
    if (GZ_UNLIKELY(!(next->flags & GZ_G_BEGAN)))
        gz__ctx_begin(&prev->ctx, &next->ctx);
    else
#endif
        gz__ctx_switch(&prev->ctx, &next->ctx);
    gz__switched_in(h);
}

int gz__layer_add(gz_hub *h, const gz_layer *type, void *state)
{
    if (h->nlayers == GZ_LAYERS_MAX) {
        errno = ENOMEM;
        return -1;
    }
    h->layers[h->nlayers].type = type;
    h->layers[h->nlayers].state = state;
    h->nlayers++;
    return 0;
}

void *gz__layer_state_new(gz_hub *h, const gz_layer *type, size_t size, bool *made)
{
    void *state = calloc(1, size);
    if (!state) {
        errno = ENOMEM;
        return NULL;
    }
    if (gz__layer_add(h, type, state) != 0) {
        free(state);
        return NULL;
    }
    if (made)
        *made = true;
    return state;
}

/* Each layer's hook before polling: true if one made a greenlet ready. */
static bool before_poll(gz_hub *h)
{
    for (unsigned i = 0; i < h->nlayers; i++) {
        const gz_layer *l = h->layers[i].type;
        if (l->before_poll && l->before_poll(h, h->layers[i].state) &&
            !gz__list_empty(&h->runq))
            return true;
    }
    return false;
}

static int poll_loop(gz_hub *h, int flags)
{
    h->polling++;
    int active = ev_run(h->loop, flags);
    h->polling--;
    return active;
}

/* The next ready greenlet, off the run queue, or NULL; the loop is polled
 * without blocking every GZ_POLL_EVERY calls. */
GZ_INLINE gz_greenlet *pop_ready(gz_hub *h)
{
    if (GZ_UNLIKELY(++h->dispatches >= GZ_POLL_EVERY)) {
        h->dispatches = 0;
        poll_loop(h, EVRUN_NOWAIT);
    }
    gz_list *n = gz__list_pop(&h->runq);
    return n ? GZ_CONTAINER(n, gz_greenlet, node) : NULL;
}

/* The current greenlet has stopped running (parked, yielded or ended): run
 * the next ready one, polling the loop while nothing is ready. */
GZ_INLINE void dispatch(gz_hub *h)
{
    for (;;) {
        gz_greenlet *next = pop_ready(h);
        if (next) {
            gz__switch(h, next);
            return;
        }
        if (h->driving && h->current != &h->main) {
            gz__switch(h, &h->main);
            return;
        }
        /* A higher layer may find ready greenlets without the loop: then
         * no poll syscall is needed. */
        if (h->nlayers && before_poll(h))
            continue;
        int active = poll_loop(h, EVRUN_ONCE);
        h->dispatches = 0;
        if (!active && gz__list_empty(&h->runq)) {
            /* Nothing ready and no watcher left that could wake anyone:
             * main's blocking call fails with EDEADLK. */
            if (h->main.state == GZ_PARKED) {
                wake_main(h, h->shutdown ? ECANCELED : EDEADLK);
                h->shutdown = false;
            } else {
                gz__warn("scheduler lost the main greenlet\n");
                abort();
            }
        }
    }
}

#ifdef GZ_CTX_FAST_EXIT
/* The current greenlet has ended: the saved stack pointer of the next
 * ready greenlet, made current, for gz__ctx_start to resume; NULL when none
 * is ready (gz__exit_switch then does the rest). */
void *gz__exit_fast(gz_hub *h)
{
    gz_greenlet *next = pop_ready(h);
    if (!next)
        return NULL;
    gz__stack_check(h->current, &h->current->stack);
    h->switches++;
    next->state = GZ_RUNNING;
    h->from = h->current;
    h->current = next;
    return next->ctx.sp;
}
#endif

_Noreturn void gz__exit_switch(gz_hub *h)
{
    dispatch(h);
    abort(); /* an ended greenlet is never resumed */
}

/* ---- ready queue, parking and waking ---- */

void gz__idle_start(gz_hub *h)
{
    h->idle_on = true;
    ev_idle_start(h->loop, &h->idle);
}

static void hub_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)revents;
    gz_hub *h = GZ_CONTAINER(w, gz_hub, idle);
    if (!h->polling && !h->driving && h->current == &h->main &&
        h->main.state == GZ_RUNNING) {
        h->driving = true;
        gz_list *n;
        while ((n = gz__list_pop(&h->runq)))
            gz__switch(h, GZ_CONTAINER(n, gz_greenlet, node));
        h->main.state = GZ_RUNNING;
        h->driving = false;
    }
    if (gz__list_empty(&h->runq) || h->polling) {
        h->idle_on = false;
        ev_idle_stop(h->loop, &h->idle);
    }
}

/* Wake parked main with CODE even where gz__wake would not (during a
 * shutdown that a greenlet started). */
static void wake_main(gz_hub *h, int code)
{
    h->main.wake_code = code;
    gz__make_ready(h, &h->main);
}

int gz__enter_slow(gz_hub *h)
{
    gz_greenlet *g = h->current;
    errno = h->greenlets.in_callback ? EPERM : (g->flags & GZ_G_KILLED) ? ECANCELED : ETIMEDOUT;
    return -1;
}

GZ_FRAMED int gz__park_until(gz_hub *h, double deadline, const char *kind,
                             const void *obj)
{
    GZ_KEEP_FRAME();
    gz_greenlet *g = h->current;
    g->wait_kind = kind;
    g->wait_obj = obj;
    g->since = ev_now(h->loop);
    g->calls_without_wait = 0;
    g->wake_code = 0;
    g->state = GZ_PARKED;
    if (deadline != GZ_NEVER)
        gz__timer_start_at(&g->timer, deadline);
    else if (GZ_UNLIKELY(gz__timer_held(&g->timer)))
        gz__timer_stop(&g->timer); /* or the loop would never find a deadlock */
    dispatch(h);
    /* Woken before the deadline, it will most likely wait again soon, with
     * a deadline no earlier: the timer keeps its place (timer.h). */
    gz__timer_disarm(&g->timer);
    if (g->wake_code) {
        errno = g->wake_code;
        return -1;
    }
    return 0;
}

void gz__no_wait(gz_hub *h)
{
    gz_greenlet *g = h->current;
    if (GZ_UNLIKELY(++g->calls_without_wait >= GZ_NO_WAIT_MAX)) {
        g->calls_without_wait = 0;
        g->state = GZ_READY;
        gz__list_push(&h->runq, &g->node);
        dispatch(h);
    }
}

void gz__hold(gz_hub *h) { ev_ref(h->loop); }
void gz__unhold(gz_hub *h) { ev_unref(h->loop); }

/* ---- sleep and yield ---- */

int gz_yield(void)
{
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, GZ_FOREVER))
        return -1;
    gz_greenlet *g = h->current;
    g->calls_without_wait = 0;
    g->state = GZ_READY;
    gz__list_push(&h->runq, &g->node);
    dispatch(h);
    return gz__enter(h); /* killed while it waited its turn */
}

GZ_FRAMED int gz_sleep(double seconds)
{
    GZ_KEEP_FRAME();
    if (seconds == 0)
        return gz_yield();
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, seconds))
        return -1;
    gz_greenlet *g = h->current;
    if (gz__park(h, seconds, "gz_sleep", NULL) == 0)
        return 0; /* nothing wakes a sleeper with success but... nothing */
    if (errno == ETIMEDOUT && !g->fired)
        return 0; /* its own timer: the sleep is over */
    return -1;
}


/* ---- gz_run and gz_shutdown ---- */

GZ_FRAMED int gz_run(void)
{
    GZ_KEEP_FRAME();
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, GZ_FOREVER))
        return -1;
    if (h->current != &h->main) {
        errno = EPERM;
        return -1;
    }
    for (;;) {
        if (h->greenlets.nlive > 0 || !gz__list_empty(&h->runq)) {
            h->main_waits_live = true;
            int rc = gz__park_until(h, GZ_NEVER, "gz_run", NULL);
            h->main_waits_live = false;
            if (rc != 0)
                return errno == ECANCELED ? 0 : -1; /* ECANCELED: shutdown */
            continue;
        }
        /* No greenlet left: serve the remaining watchers, which may start
         * new greenlets, until none is left. */
        if (!poll_loop(h, EVRUN_ONCE) && h->greenlets.nlive == 0 &&
            gz__list_empty(&h->runq))
            return 0;
    }
}

/* Called whenever a started greenlet ends: main may be waiting for the
 * last one (gz_run, gz_shutdown), or owed ECANCELED by a shutdown that a
 * greenlet started. */
void gz__live_ended(gz_hub *h)
{
    if (h->greenlets.nlive != 0)
        return;
    bool parked = h->main.state == GZ_PARKED;
    if (h->shutdown && !h->shutdown_by_main) {
        h->shutdown = false;
        if (parked)
            wake_main(h, ECANCELED);
    } else if (h->main_waits_live && parked) {
        gz__wake(&h->main, 0);
    }
}

GZ_FRAMED void gz_shutdown(void)
{
    GZ_KEEP_FRAME();
    gz_hub *h = gz__hub();
    if (!h)
        return;
    gz_greenlet *self = h->current;
    h->shutdown = true;
    h->shutdown_by_main = self == &h->main;
    gz__greenlet_kill_all(h, self);
    if (self != &h->main) {
        gz__live_ended(h); /* nothing else may be left to end */
        return;            /* else main hears of it when the last one ends */
    }
    /* From main: let them end. */
    while (h->greenlets.nlive > 0) {
        h->main_waits_live = true;
        int rc = gz__park_until(h, GZ_NEVER, "gz_shutdown", NULL);
        h->main_waits_live = false;
        if (rc != 0 && errno != ECANCELED)
            break;
    }
    h->shutdown = false;
    h->shutdown_by_main = false;
}
