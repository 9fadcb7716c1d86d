/* Greenlets: creation, start, the end of a run (value, failure, links,
 * joiners), kill, join and the state queries. */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gz_select.h"
#include "gzmq/lifetime.h"

/* Ended, unreleased greenlets that keep their stacks for reuse at most. */
#define GZ_DEAD_STACKS_MAX 256

typedef struct link_node {
    gz_list node;
    void (*cb)(gz_greenlet *g, void *arg);
    void *arg;
} link_node;

static void greenlet_timer_cb(gz_timer *t);
GZ_INLINE void recycle(gz_hub *h, gz_greenlet *g, bool dead);

void gz__greenlets_init(gz_hub *h)
{
    gz__list_init(&h->greenlets.all);
    gz__list_init(&h->greenlets.free);
    gz_greenlet *m = &h->main;
    m->flags = GZ_G_MAIN | GZ_G_BEGAN;
    m->id = GZ_PARENT_MAIN; /* what its children record as their parent */
    m->state = GZ_RUNNING;
    GZ_OBJ_INIT(m, h, greenlet);
    gz__list_init(&m->joiners);
    gz__list_init(&m->links);
    gz__list_init(&m->timeouts);
    m->timer.cb = greenlet_timer_cb;
#ifdef GZ_TSAN
    m->tsan_fiber = __tsan_get_current_fiber();
#endif
}

GZ_INLINE gz_greenlet *greenlet_create(gz_fn fn, void *arg)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    gz_list *n = gz__list_pop(&h->greenlets.free);
    gz_greenlet *g;
    if (n) { /* a recycled struct may bring its stack along */
        h->greenlets.free_len--;
        g = GZ_CONTAINER(n, gz_greenlet, node);
    } else if ((g = malloc(sizeof *g))) {
        /* What a struct holds again whenever it is freed: empty lists, no
         * timer armed, unlinked nodes (gz__greenlet_free's invariants). */
        g->stack.map = NULL;
        g->timer.idx = 0;
        g->timer.cb = greenlet_timer_cb;
        g->all.next = g->all.prev = NULL;
        g->locals = NULL; /* finish and free_extras leave them NULL */
        g->scopes = NULL;
        gz__list_init(&g->joiners);
        gz__list_init(&g->links);
        gz__list_init(&g->timeouts);
    } else {
        errno = ENOMEM;
        return NULL;
    }
    g->node.next = g->node.prev = NULL;
    /* Field by field: a recycled struct is warm, and this beats memset. */
    g->state = GZ_NEW;
    g->wake_code = 0;
    g->flags = GZ_G_USER_REF;
    g->fired = g->calls_without_wait = g->shield = 0;
    GZ_OBJ_INIT(g, h, greenlet);
    g->fn = fn;
    g->arg = arg;
    g->value = NULL;
    g->err.code = 0;
    g->err.message = NULL;
    g->name = NULL;
    g->defname[0] = 0;
    g->id = h->greenlets.next_id++;
    g->parent_id = h->current->id; /* main's is GZ_PARENT_MAIN */
    if (GZ_UNLIKELY(h->current->locals != NULL) &&
        gz__locals_inherit(h->current, g) != 0) {
        recycle(h, g, false);
        return NULL;
    }
#ifdef GZ_ASAN
    g->asan_fake = NULL;
    g->asan_lo = NULL;
    g->asan_size = 0;
#endif
    return g;
}

/* Recycled structs beyond this many go back to malloc. */
#define GZ_GREENLET_CACHE_MAX 1024

/* A failure's message when even strdup("") failed: never freed. */
static const char no_message[] = "";

/* What only some greenlets leave behind: links of one never started,
 * joiners of one never started (released under them: it will never end, so
 * they are let go as if it had been killed), a name, a failure message. */
static __attribute__((noinline)) void free_extras(gz_greenlet *g)
{
    gz_list *n;
    while ((n = gz__list_pop(&g->links)))
        free(GZ_CONTAINER(n, link_node, node));
    if (!gz__list_empty(&g->joiners))
        gz__wake_all(&g->joiners, ECANCELED);
    if (g->locals) /* inherited by one that never ran: nothing of its own */
        gz__locals_end(g);
    free(g->name);
    g->name = NULL;
    if (g->err.message != no_message)
        free((char *)g->err.message);
    g->err.message = NULL;
}

/* DEAD: its links have run, its joiners were woken and its locals freed
 * when it ended. */
GZ_INLINE void recycle(gz_hub *h, gz_greenlet *g, bool dead)
{
    if (GZ_UNLIKELY((!dead && (!gz__list_empty(&g->links) ||
                               !gz__list_empty(&g->joiners) || g->locals)) ||
                    g->name || g->err.message))
        free_extras(g);
    GZ_MAGIC_KILL(g); /* recycled or not, this handle is gone */
    if ((g->flags & GZ_G_KEEPS_STACK)) {
        g->flags &= ~GZ_G_KEEPS_STACK;
        h->greenlets.dead_stacks--;
    }
    if (GZ_LIKELY(h->greenlets.free_len < GZ_GREENLET_CACHE_MAX)) {
        gz__list_push_front(&h->greenlets.free, &g->node);
        h->greenlets.free_len++;
    } else {
        gz__stack_put(&g->stack);
        free(g);
    }
}

void gz__greenlet_free(gz_greenlet *g) { recycle(g->obj.hub, g, false); }

void gz__greenlets_fini(gz_hub *h)
{
    if (h->main.locals)
        gz__locals_end(&h->main);
    gz_list *n;
    while ((n = gz__list_pop(&h->greenlets.free))) {
        gz_greenlet *g = GZ_CONTAINER(n, gz_greenlet, node);
        gz__stack_put(&g->stack);
        free(g);
    }
    h->greenlets.free_len = 0;
}

/* The greenlet that switched here has ended: its stack stays with the
 * struct for the next spawn, or goes back to the cache. */
void gz__bury(gz_hub *h, gz_greenlet *z)
{
    h->greenlets.zombie = NULL;
#ifdef GZ_TSAN
    __tsan_destroy_fiber(z->tsan_fiber);
#endif
    /* Its stack stays with the struct for the next spawn: freed along
     * with it, or kept while the handle lives (a few hundred at most,
     * so that many ended, unreleased greenlets hold no stacks). */
    gz__stack_reset(&z->stack);
    if (!(z->flags & GZ_G_USER_REF)) {
        gz__greenlet_free(z);
    } else if (h->greenlets.dead_stacks < GZ_DEAD_STACKS_MAX) {
        z->flags |= GZ_G_KEEPS_STACK;
        h->greenlets.dead_stacks++;
    } else {
        gz__stack_put(&z->stack);
    }
}

/* Refuse NULL and main (EINVAL) and another thread's greenlets (EXDEV). */
static gz_hub *own(const gz_greenlet *g)
{
    if (!g || (g->flags & GZ_G_MAIN)) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub_peek();
    return gz__check_hub(g->obj.hub, h) ? NULL : h;
}

/* For the calls that accept main too: refuse NULL and other threads'. */
static bool usable(const gz_greenlet *g)
{
    if (!g) {
        errno = EINVAL;
        return false;
    }
    return gz__check_hub(g->obj.hub, gz__hub_peek()) == 0;
}

/* Give G a stack and make it live (counted in nlive until it ends). */
GZ_INLINE int prepare(gz_hub *h, gz_greenlet *g)
{
    if (g->stack.map && g->stack.size != h->stack_size)
        gz__stack_put(&g->stack); /* the stack size changed since */
    if (!g->stack.map && gz__stack_get(&g->stack, h->stack_size) != 0)
        return -1;
    gz__ctx_make(&g->ctx, g->stack.lo, g->stack.size, gz__greenlet_entry, g);
#ifdef GZ_TSAN
    g->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef GZ_ASAN
    g->asan_lo = g->stack.lo;
    g->asan_size = g->stack.size;
#endif
    g->flags |= GZ_G_HUB_REF;
    g->flags |= GZ_G_STARTED;
    h->greenlets.nlive++;
    gz__list_push(&h->greenlets.all, &g->all);
    return 0;
}

/* Started greenlets are counted as next_id - unstarted, so that gz_spawn
 * pays for no counter: only the calls that create without starting count. */
gz_greenlet *gz_greenlet_new(gz_fn fn, void *arg)
{
    gz_greenlet *g = greenlet_create(fn, arg);
    if (g)
        g->obj.hub->greenlets.unstarted++;
    return g;
}

int gz_start(gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    gz_hub *h = own(g);
    if (!h)
        return -1;
    if (g->state != GZ_NEW)
        return 0;
    if (prepare(h, g) != 0)
        return -1;
    h->greenlets.unstarted--;
    gz__make_ready(h, g);
    return 0;
}

int gz_start_later(gz_greenlet *g, double seconds)
{
    GZ_CHECK_LIVE(g, greenlet);
    gz_hub *h = own(g);
    if (!h || gz__check_timeout(seconds))
        return -1;
    if (g->state != GZ_NEW)
        return 0;
    if (prepare(h, g) != 0)
        return -1;
    h->greenlets.unstarted--;
    g->state = GZ_LATER;
    gz__timer_start_at(&g->timer, gz__deadline(h, seconds > 0 ? seconds : 0.0));
    return 0;
}

gz_greenlet *gz_spawn(gz_fn fn, void *arg)
{
    gz_greenlet *g = greenlet_create(fn, arg);
    if (!g)
        return NULL;
    if (prepare(g->obj.hub, g) != 0) {
        g->obj.hub->greenlets.unstarted++;
        gz__greenlet_free(g);
        return NULL;
    }
    gz__make_ready(g->obj.hub, g);
    return g;
}

gz_greenlet *gz_spawn_later(double seconds, gz_fn fn, void *arg)
{
    if (gz__check_timeout(seconds))
        return NULL;
    gz_greenlet *g = greenlet_create(fn, arg);
    if (g)
        g->obj.hub->greenlets.unstarted++; /* until gz_start_later */
    if (g && gz_start_later(g, seconds) != 0) {
        gz__greenlet_free(g);
        return NULL;
    }
    return g;
}

/* The greenlet's own timer: a start delay ran out, or a park timed out. */
static void greenlet_timer_cb(gz_timer *t)
{
    gz_greenlet *g = GZ_CONTAINER(t, gz_greenlet, timer);
    if (g->state == GZ_LATER)
        gz__make_ready(g->obj.hub, g);
    else
        gz__wake(g, ETIMEDOUT);
}

static __attribute__((noinline)) void report_failure(gz_greenlet *g)
{
    g->flags |= GZ_G_OBSERVED;
    gz__warn("greenlet %s failed with error %d (%s): %s\n",
            gz_name(g), g->err.code, strerror(g->err.code), g->err.message);
}

GZ_INLINE void report_unobserved(gz_greenlet *g)
{
    if (GZ_UNLIKELY((g->flags & GZ_G_FAILED) && !(g->flags & GZ_G_OBSERVED)))
        report_failure(g);
}

size_t gz__greenlets_spare_stack_bytes(const gz_hub *h)
{
    size_t n = 0;
    for (const gz_list *i = h->greenlets.free.next; i != &h->greenlets.free; i = i->next) {
        const gz_greenlet *g = GZ_CONTAINER(i, gz_greenlet, node);
        if (g->stack.map)
            n += g->stack.size;
    }
    return n;
}

void gz__callbacks_enter(gz_hub *h) { h->greenlets.in_callback++; }
void gz__callbacks_leave(gz_hub *h) { h->greenlets.in_callback--; }

/* G has ended (on its own stack, or killed before it ever ran): publish the
 * outcome, wake joiners, run links. Returns with G dead. */
static __attribute__((noinline)) void run_links(gz_hub *h, gz_greenlet *g)
{
    g->flags |= GZ_G_FINISHING; /* a callback may release it: free it after */
    h->greenlets.in_callback++;
    gz_list *n;
    while ((n = gz__list_pop(&g->links))) {
        link_node *l = GZ_CONTAINER(n, link_node, node);
        l->cb(g, l->arg);
        free(l);
    }
    h->greenlets.in_callback--;
    g->flags &= ~GZ_G_FINISHING;
}

GZ_INLINE void finish(gz_hub *h, gz_greenlet *g, void *value)
{
    if (GZ_UNLIKELY(((uintptr_t)g->scopes | (uintptr_t)g->locals) != 0)) {
        if (g->scopes)
            gz__scopes_owner_ended(g);
        if (g->locals)
            gz__locals_end(g); /* its destructors still see it running */
    }
    g->value = value;
    g->state = GZ_DEAD;
    if (gz__timer_held(&g->timer)) /* a start delay, or disarmed lazily */
        gz__timer_stop(&g->timer);
    if (GZ_UNLIKELY(!gz__list_empty(&g->timeouts)))
        gz__timeouts_disarm(g);
    if (!gz__list_empty(&g->joiners))
        gz__wake_all(&g->joiners, 0);
    if (GZ_UNLIKELY(!gz__list_empty(&g->links)))
        run_links(h, g);
    if ((g->flags & GZ_G_HUB_REF)) {
        g->flags &= ~GZ_G_HUB_REF;
        gz__list_remove(&g->all);
        h->greenlets.nlive--;
        if (h->greenlets.nlive == 0 && (h->shutdown || h->main_waits_live))
            gz__live_ended(h);
    }
    if (!(g->flags & GZ_G_USER_REF))
        report_unobserved(g);
}

/* End the current (non-main) greenlet: its stack and, if released, the
 * struct are freed by whoever runs next. */
static _Noreturn void end_current(gz_hub *h, void *value)
{
    gz_greenlet *g = h->current;
    if (GZ_UNLIKELY(gz__hot_running(h))) { /* it would leave the shared stack for good */
        gz__warn("greenlet %s called gz_exit or gz_fail inside gz_call_hot, "
                 "whose function must return\n", gz_name(g));
        abort();
    }
    finish(h, g, value);
    h->greenlets.zombie = g;
    gz__exit_switch(h);
}

void *gz__greenlet_entry(void *arg)
{
    gz_greenlet *g = arg;
    gz_hub *h = g->obj.hub;
    gz__switched_in(h);
    g->flags |= GZ_G_BEGAN;
    void *value = g->fn(g->arg);
#ifdef GZ_CTX_FAST_EXIT
    finish(h, g, value);
    h->greenlets.zombie = g;
    void *sp = gz__exit_fast(h);
    if (GZ_LIKELY(sp != NULL))
        return sp; /* gz__ctx_start resumes it */
    gz__exit_switch(h);
#else
    end_current(h, value);
#endif
}

_Noreturn void gz_exit(void *value)
{
    gz_hub *h = gz__hub();
    if (!h || (h->current->flags & GZ_G_MAIN))
        exit(EXIT_SUCCESS);
    end_current(h, value);
}

_Noreturn void gz_fail(int code, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (!fmt || vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (code == 0)
        code = EIO;
    gz_hub *h = gz__hub();
    if (!h || (h->current->flags & GZ_G_MAIN)) {
        gz__warn("main greenlet failed with error %d (%s): %s\n",
                code, strerror(code), msg ? msg : "");
        exit(EXIT_FAILURE);
    }
    gz_greenlet *g = h->current;
    g->flags |= GZ_G_FAILED;
    g->err.code = code;
    g->err.message = msg ? msg : strdup("");
    if (!g->err.message)
        g->err.message = no_message;
    end_current(h, NULL);
}

void gz_release(gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (!g || (g->flags & GZ_G_MAIN) || gz__check_hub(g->obj.hub, gz__hub_peek()) ||
        !(g->flags & GZ_G_USER_REF))
        return;
    g->flags &= ~GZ_G_USER_REF;
    gz_hub *h = g->obj.hub;
    if (g->state == GZ_NEW) {
        recycle(h, g, false); /* nobody can start it any more */
    } else if (g->state == GZ_DEAD) {
        report_unobserved(g);
        if ((g->flags & GZ_G_FINISHING) || h->greenlets.zombie == g)
            return; /* whoever ends it frees it */
        recycle(h, g, true); /* with its stack, if it kept one */
    }
}

gz_greenlet *gz_current(void)
{
    gz_hub *h = gz__hub();
    return h ? h->current : NULL;
}

int gz_set_name(gz_greenlet *g, const char *name)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (!usable(g))
        return -1;
    if (!name) {
        errno = EINVAL;
        return -1;
    }
    char *copy = strdup(name);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    free(g->name);
    g->name = copy;
    return 0;
}

const char *gz_name(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (!usable(g))
        return NULL;
    if (g->name)
        return g->name;
    if ((g->flags & GZ_G_MAIN))
        return "main";
    gz_greenlet *m = (gz_greenlet *)g; /* the default name is made lazily */
    if (!m->defname[0])
        snprintf(m->defname, sizeof m->defname, "Greenlet-%llu",
                 (unsigned long long)g->id);
    return g->defname;
}

/* ---- join, get, kill ---- */

GZ_FRAMED int gz_join(gz_greenlet *g, double timeout)
{
    GZ_KEEP_FRAME();
    GZ_CHECK_LIVE(g, greenlet);
    gz_hub *h = own(g);
    if (gz__check_entry(h, timeout))
        return -1;
    if (g->state == GZ_DEAD) {
        gz__no_wait(h);
        return 0;
    }
    if (g == h->current) {
        errno = EDEADLK;
        return -1;
    }
    if (timeout == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    gz_waiter w = {.g = h->current};
    gz__list_push(&g->joiners, &w.node);
    int rc = gz__park(h, timeout, "gz_join", g);
    gz__list_remove(&w.node);
    return rc;
}

int gz_get(gz_greenlet *g, void **value, double timeout)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (gz_join(g, timeout) != 0)
        return -1;
    if ((g->flags & GZ_G_FAILED)) {
        g->flags |= GZ_G_OBSERVED;
        errno = g->err.code;
        return -1;
    }
    if (value)
        *value = g->value;
    return 0;
}

/* Refuse a NULL array with N > 0 and, as own() does, each element. */
static int check_array(gz_greenlet *const *gs, size_t n)
{
    if (!gs && n) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!own(gs[i]))
            return -1;
    return 0;
}

/* Wait until every greenlet of GS has ended or the deadline passes;
 * returns how many have ended. */
static size_t wait_all(gz_hub *h, gz_greenlet *const *gs, size_t n,
                       double timeout)
{
    double end = gz__deadline(h, timeout);
    size_t done = 0;
    int err = 0;
    for (size_t i = 0; i < n; i++) {
        if (gs[i]->state == GZ_DEAD)
            continue;
        if (err)
            continue;
        if (gz_join(gs[i], gz__remaining(h, end)) != 0)
            err = errno;
    }
    for (size_t i = 0; i < n; i++)
        done += gs[i]->state == GZ_DEAD;
    if (done < n)
        errno = err ? err : ETIMEDOUT;
    return done;
}

size_t gz_joinall(gz_greenlet *const *gs, size_t n, double timeout)
{
    for (size_t i = 0; gs && i < n; i++)
        GZ_CHECK_LIVE(gs[i], greenlet);
    gz_hub *h = gz__hub();
    if (!h || check_array(gs, n) || gz__check_timeout(timeout))
        return 0;
    if (gz__enter(h)) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += gs[i]->state == GZ_DEAD;
        return done;
    }
    return wait_all(h, gs, n, timeout);
}

/* Deliver a kill to G without waiting. */
static void kill_one(gz_hub *h, gz_greenlet *g)
{
    if (g->state == GZ_DEAD)
        return;
    if (GZ_UNLIKELY(g->shield != 0)) { /* gz_shield_end delivers it */
        g->flags |= GZ_G_KILL_DEFERRED;
        return;
    }
    g->flags |= GZ_G_KILLED;
    if (GZ_UNLIKELY(g->scopes != NULL))
        gz__scopes_owner_killed(g);
    if (!(g->flags & GZ_G_BEGAN)) { /* never ran: it never will */
        if (g->state == GZ_READY)
            gz__list_remove(&g->node);
        finish(h, g, NULL); /* which stops a start delay's timer */
#ifdef GZ_TSAN
        if ((g->flags & GZ_G_STARTED))
            __tsan_destroy_fiber(g->tsan_fiber);
#endif
        if (!(g->flags & GZ_G_USER_REF))
            gz__greenlet_free(g); /* the stack goes along */
        else
            gz__stack_put(&g->stack);
        return;
    }
    if (g->state == GZ_PARKED)
        gz__wake(g, ECANCELED);
}

/* Shield the current greenlet G inside the library; a kill it had is held
 * back (as by gz_shield_begin). */
static void shield_push(gz_greenlet *g)
{
    if (g->shield++ == 0 && (g->flags & GZ_G_KILLED)) {
        g->flags &= ~GZ_G_KILLED;
        g->flags |= GZ_G_KILL_DEFERRED;
    }
}

/* Undo shield_push: true when the outermost shield ended on a held kill,
 * now delivered. */
static bool shield_pop(gz_hub *h, gz_greenlet *g)
{
    if (--g->shield != 0 || !(g->flags & GZ_G_KILL_DEFERRED))
        return false;
    g->flags &= ~GZ_G_KILL_DEFERRED;
    kill_one(h, g); /* also kills the members of the scopes it owns */
    return true;
}

/* Wait for killed greenlets with the caller's own kill held back: a killed
 * parent can still wait for its children before it closes what they use. */
static int wait_killed(gz_hub *h, gz_greenlet *const *gs, size_t n,
                       double timeout)
{
    gz_greenlet *me = h->current;
    shield_push(me);
    int rc = gz__enter(h) ? -1 : wait_all(h, gs, n, timeout) == n ? 0 : -1;
    int e = errno;
    shield_pop(h, me);
    errno = e;
    return rc;
}

int gz_shield_begin(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    gz_greenlet *g = h->current;
    if (g->shield == UINT_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    shield_push(g);
    return 0;
}

int gz_shield_end(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    gz_greenlet *g = h->current;
    if (g->shield == 0) {
        errno = EINVAL;
        return -1;
    }
    if (shield_pop(h, g)) {
        errno = ECANCELED;
        return -1;
    }
    return 0;
}

int gz_kill(gz_greenlet *g, double timeout)
{
    GZ_CHECK_LIVE(g, greenlet);
    gz_hub *h = own(g);
    if (!h || gz__check_timeout(timeout))
        return -1;
    if (g->state == GZ_DEAD)
        return 0;
    kill_one(h, g); /* may free G when it never ran and was released */
    if (timeout == 0 || g == h->current || !(g->flags & GZ_G_BEGAN))
        return 0;
    return wait_killed(h, &g, 1, timeout);
}

int gz_killall(gz_greenlet *const *gs, size_t n, double timeout)
{
    for (size_t i = 0; gs && i < n; i++)
        GZ_CHECK_LIVE(gs[i], greenlet);
    gz_hub *h = gz__hub();
    if (!h || check_array(gs, n) || gz__check_timeout(timeout))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (gs[i] != h->current)
            kill_one(h, gs[i]);
    if (timeout == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (gs[i] == h->current) { /* cannot wait for itself */
            errno = EDEADLK;
            return -1;
        }
    return wait_killed(h, gs, n, timeout);
}

void gz__greenlet_kill_all(gz_hub *h, gz_greenlet *except)
{
    /* A cursor node keeps the walk valid while kills unlink greenlets. */
    gz_list *cur = &h->greenlets.cursor;
    gz__list_push_front(&h->greenlets.all, cur);
    while (cur->next != &h->greenlets.all) {
        gz_list *n = cur->next;
        gz__list_remove(cur);
        cur->prev = n;
        cur->next = n->next;
        n->next->prev = cur;
        n->next = cur;
        gz_greenlet *g = GZ_CONTAINER(n, gz_greenlet, all);
        if (g != except && !(g->flags & (GZ_G_KILLED | GZ_G_KILL_DEFERRED)))
            kill_one(h, g);
    }
    gz__list_remove(cur);
}

int gz_link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg)
{
    GZ_CHECK_LIVE(g, greenlet);
    return gz__link(g, cb, arg, true);
}

int gz__link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg,
             bool observes)
{
    gz_hub *h = own(g);
    if (!h)
        return -1;
    if (!cb) {
        errno = EINVAL;
        return -1;
    }
    if (observes)
        g->flags |= GZ_G_OBSERVED;
    if (g->state == GZ_DEAD) {
        h->greenlets.in_callback++;
        cb(g, arg);
        h->greenlets.in_callback--;
        return 0;
    }
    link_node *l = malloc(sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return -1;
    }
    l->cb = cb;
    l->arg = arg;
    gz__list_push(&g->links, &l->node);
    return 0;
}

/* ---- state ---- */

bool gz_started(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    return usable(g) && ((g->flags & GZ_G_MAIN) || (g->flags & GZ_G_STARTED));
}

bool gz_ready(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    return usable(g) && g->state == GZ_DEAD;
}

bool gz_successful(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    return usable(g) && g->state == GZ_DEAD && !(g->flags & GZ_G_FAILED);
}

bool gz_killed(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    return usable(g) && (g->flags & (GZ_G_KILLED | GZ_G_KILL_DEFERRED));
}

void *gz_value(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    return usable(g) && g->state == GZ_DEAD ? g->value : NULL;
}

const gz_error *gz_exception(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (!usable(g) || !(g->flags & GZ_G_FAILED))
        return NULL;
    ((gz_greenlet *)g)->flags |= GZ_G_OBSERVED;
    return &g->err;
}

/* ---- gz_select (gz_select.h) ---- */

int gz__greenlet_select_check(gz_greenlet *g)
{
    GZ_CHECK_LIVE_IN(g, greenlet, "gz_select");
    return own(g) ? 0 : -1;
}

bool gz__greenlet_select_try(gz_greenlet *g, gz_case *c)
{
    (void)c;
    return g->state == GZ_DEAD;
}

bool gz__greenlet_select_link(gz_greenlet *g, gz_case *c, gz_waiter *w)
{
    (void)c;
    if (g == g->obj.hub->current)
        return false; /* joining itself: it never ends while it waits */
    gz__list_push(&g->joiners, &w->node);
    return true;
}
