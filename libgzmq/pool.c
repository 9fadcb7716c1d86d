/* gz_pool: a bounded pool or an unbounded group of greenlets, and
 * imap / imap_unordered / map over it (gevent.pool).
 *
 * A member is tracked through a link on its greenlet; the link's record
 * outlives a freed pool (its pool pointer is cleared), so a greenlet that
 * ends after gz_pool_free touches nothing freed. A slot freed while spawners
 * wait is handed to the first of them: the spawner is moved to the pool's
 * `handed` list until it runs, so that freeing the pool meanwhile can revoke
 * the slot (flags = EPIPE) instead of leaving it a dangling pool.
 *
 * An imap starts its items from a feeder greenlet (it waits for slots like
 * any spawner) and collects each outcome from a link on the item. Its memory
 * is counted by references (the user's, the feeder's, one per running item),
 * so gz_imap_free may kill what still runs and let the last one free it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gz_handoff.h"
#include "gzmq/pool.h"

struct gz_pool {
    gz_obj obj;
    size_t size;          /* 0: unbounded */
    size_t used;          /* members + slots handed to waiters */
    size_t len;           /* members */
    gz_list members;      /* member */
    gz_list slot_waiters; /* gz_waiter: spawners and adders */
    gz_list handed;       /* gz_waiter: woken with a slot, not yet running */
    gz_list avail_waiters;
    gz_list joiners;
    gz_list imaps;        /* gz_imap.pool_node: told when the pool goes */
};

gz_pool *gz_pool_new(size_t size)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_pool *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(p, h, pool);
    p->size = size;
    gz__list_init(&p->members);
    gz__list_init(&p->slot_waiters);
    gz__list_init(&p->handed);
    gz__list_init(&p->avail_waiters);
    gz__list_init(&p->joiners);
    gz__list_init(&p->imaps);
    return p;
}

/* ---- slots ---- */

/* Take a slot, waiting for one in a bounded pool. */
static int take_slot(gz_pool *p, double timeout)
{
    gz_hub *h = p->size ? gz__begin(p, timeout) : gz__hub();
    if (!h)
        return -1;
    if (p->size == 0 || p->used < p->size) {
        p->used++;
        return 0;
    }
    gz_waiter w = {.g = h->current};
    if (gz__wait_on(h, &p->slot_waiters, &w, timeout, "gz_pool_spawn", p) != 0)
        return -1;
    if (w.flags) { /* the pool was freed before we ran */
        errno = w.flags;
        return -1;
    }
    return 0; /* the slot was counted for us */
}

static void give_slot(gz_pool *p)
{
    gz_waiter *w = gz__first_parked(&p->slot_waiters);
    if (w) {
        gz__hand_off(w, NULL, 0);
        gz__list_push(&p->handed, &w->node);
        return;
    }
    p->used--;
    gz__wake_all(&p->avail_waiters, 0);
}

/* ---- members ---- */

typedef struct member {
    gz_list node;   /* in pool->members */
    gz_pool *pool;  /* NULL once the pool is freed */
    gz_greenlet *g; /* valid while the record lives: freed as g ends */
    bool keep;      /* the pool reports its outcome (imap): observed */
} member;

static void member_ended(gz_greenlet *g, void *arg)
{
    member *m = arg;
    (void)g;
    gz_pool *p = m->pool;
    if (p) {
        gz__list_remove(&m->node);
        p->len--;
        give_slot(p);
        if (p->len == 0)
            gz__wake_all(&p->joiners, 0);
    }
    free(m);
}

/* Make G (not ended) a member; it holds a slot already. */
static int add_member(gz_pool *p, gz_greenlet *g, bool keep)
{
    member *m = malloc(sizeof *m);
    if (!m) {
        errno = ENOMEM;
        return -1;
    }
    m->pool = p;
    m->g = g;
    m->keep = keep;
    /* The pool's link is bookkeeping: it observes a failure only when the
     * pool reports the outcome itself (map, imap). */
    if (gz__link(g, member_ended, m, keep) != 0) {
        free(m);
        return -1;
    }
    gz__list_push(&p->members, &m->node);
    p->len++;
    return 0;
}

static gz_greenlet *spawn_in(gz_pool *p, gz_fn fn, void *arg, bool keep)
{
    if (!gz__usable(p))
        return NULL;
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    if (take_slot(p, GZ_FOREVER) != 0)
        return NULL;
    /* Scheduled, not yet run: it cannot end before it is a member. */
    gz_greenlet *g = gz_spawn(fn, arg);
    if (!g) {
        give_slot(p);
        return NULL;
    }
    if (add_member(p, g, keep) != 0) {
        gz_kill(g, 0); /* never ran: it never will */
        gz_release(g);
        give_slot(p);
        errno = ENOMEM;
        return NULL;
    }
    return g;
}

gz_greenlet *gz_pool_spawn(gz_pool *p, gz_fn fn, void *arg)
{
    GZ_CHECK_LIVE(p, pool);
    return spawn_in(p, fn, arg, false);
}

static bool is_member(gz_pool *p, gz_greenlet *g)
{
    for (gz_list *n = p->members.next; n != &p->members; n = n->next)
        if (GZ_CONTAINER(n, member, node)->g == g)
            return true;
    return false;
}

int gz_pool_add(gz_pool *p, gz_greenlet *g)
{
    GZ_CHECK_LIVE(p, pool);
    GZ_CHECK_LIVE(g, greenlet);
    if (!gz__usable(p))
        return -1;
    if (!g || (g->flags & GZ_G_MAIN)) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(g->obj.hub, p->obj.hub))
        return -1;
    if (g->state == GZ_DEAD || is_member(p, g))
        return 0;
    if (take_slot(p, GZ_FOREVER) != 0)
        return -1;
    if (g->state == GZ_DEAD || is_member(p, g)) { /* while we waited */
        give_slot(p);
        return 0;
    }
    if (add_member(p, g, false) != 0) {
        give_slot(p);
        return -1;
    }
    return 0;
}

int gz_pool_join(gz_pool *p, double timeout)
{
    GZ_CHECK_LIVE(p, pool);
    gz_hub *h = gz__begin(p, timeout);
    if (!h)
        return -1;
    if (p->len == 0) {
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    return gz__wait_on(h, &p->joiners, &w, timeout, "gz_pool_join", p);
}

int gz_pool_kill(gz_pool *p, double timeout)
{
    GZ_CHECK_LIVE(p, pool);
    if (!gz__usable(p) || gz__check_timeout(timeout))
        return -1;
    gz_hub *h = p->obj.hub;
    bool self = false;
    for (gz_list *n = p->members.next; n != &p->members;) {
        member *m = GZ_CONTAINER(n, member, node);
        n = n->next; /* a kill may end m (and free it) right away */
        if (m->g == h->current)
            self = true;
        else
            gz_kill(m->g, 0);
    }
    if (self) {
        errno = EDEADLK;
        return -1;
    }
    if (timeout == 0)
        return 0;
    return gz_pool_join(p, timeout);
}

size_t gz_pool_len(const gz_pool *p)
{
    GZ_CHECK_LIVE(p, pool);
    return gz__usable(p) ? p->len : 0;
}

size_t gz_pool_free_count(const gz_pool *p)
{
    GZ_CHECK_LIVE(p, pool);
    if (!gz__usable(p))
        return 0;
    return p->size ? p->size - p->used : SIZE_MAX;
}

int gz_pool_wait_available(gz_pool *p, double timeout)
{
    GZ_CHECK_LIVE(p, pool);
    gz_hub *h = gz__begin(p, timeout);
    if (!h)
        return -1;
    if (p->size == 0 || p->used < p->size) {
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    return gz__wait_on(h, &p->avail_waiters, &w, timeout,
                       "gz_pool_wait_available", p);
}

/* ---- imap ---- */

typedef struct imap_item {
    gz_imap *it;
    size_t idx;
    gz_greenlet *g; /* running (borrowed: its link clears this) */
} imap_item;

typedef struct outcome {
    void *value;
    int code; /* 0, the failure's code, or ECANCELED when killed */
    bool done;
} outcome;

struct gz_imap {
    gz_obj obj;
    gz_pool *pool;      /* NULL once the pool is freed */
    gz_list pool_node;  /* in pool->imaps */
    gz_fn fn;
    void **in;          /* a copy of the input array */
    size_t n;
    bool ordered;
    bool freed;         /* gz_imap_free ran */
    outcome *out;
    size_t *finished;   /* item indexes in completion order */
    size_t nfinished;
    size_t next;        /* results handed out */
    gz_list waiters;    /* gz_waiter: data = value, flags = code */
    gz_greenlet *feeder;
    imap_item *items;
    size_t refs;        /* the user, the feeder, each running item */
};

static void imap_unref(gz_imap *it)
{
    if (--it->refs)
        return;
    free(it->in);
    free(it->out);
    free(it->finished);
    free(it->items);
    free(it);
}

/* The index of the next result to hand out, or SIZE_MAX if not there yet. */
static size_t ready_index(const gz_imap *it)
{
    if (it->ordered)
        return it->out[it->next].done ? it->next : SIZE_MAX;
    return it->next < it->nfinished ? it->finished[it->next] : SIZE_MAX;
}

/* Hand finished results to waiting consumers; at the end, EPIPE. */
static void pump(gz_imap *it)
{
    while (!gz__list_empty(&it->waiters)) {
        if (it->next >= it->n) {
            gz__wake_all(&it->waiters, EPIPE);
            return;
        }
        size_t i = ready_index(it);
        if (i == SIZE_MAX)
            return;
        gz_waiter *w = gz__first_parked(&it->waiters);
        if (!w)
            return;
        it->next++;
        gz__hand_off(w, it->out[i].value, it->out[i].code);
    }
}

static void finish_item(gz_imap *it, size_t i, void *value, int code)
{
    it->out[i] = (outcome){value, code, true};
    it->finished[it->nfinished++] = i;
    pump(it);
}

static void item_ended(gz_greenlet *g, void *arg)
{
    imap_item *x = arg;
    gz_imap *it = x->it;
    x->g = NULL;
    bool killed = g->flags & (GZ_G_KILLED | GZ_G_KILL_DEFERRED);
    int code = (g->flags & GZ_G_FAILED) ? g->err.code : killed ? ECANCELED : 0;
    finish_item(it, x->idx, code ? NULL : g->value, code);
    imap_unref(it);
}

/* Start the items in input order, each as a slot frees up. */
static void *feed(void *arg)
{
    gz_imap *it = arg;
    for (size_t i = 0; i < it->n; i++) {
        gz_greenlet *g = NULL;
        int err = EPIPE;
        if (it->pool && !it->freed) {
            g = spawn_in(it->pool, it->fn, it->in[i], true);
            err = errno;
        }
        imap_item *x = &it->items[i];
        if (g && gz_link(g, item_ended, x) == 0) {
            x->g = g;
            it->refs++;
            gz_release(g);
            continue;
        }
        if (g) { /* no memory for the link: the item cannot report */
            err = ENOMEM;
            gz_kill(g, 0);
            gz_release(g);
        }
        /* This item and the rest fail with the reason. */
        for (size_t j = i; j < it->n; j++)
            finish_item(it, j, NULL, err);
        break;
    }
    return NULL;
}

static void feeder_ended(gz_greenlet *g, void *arg)
{
    gz_imap *it = arg;
    /* Items it never reached (it was killed, maybe before it ran) fail. */
    for (size_t i = 0; i < it->n; i++)
        if (!it->out[i].done && !it->items[i].g)
            finish_item(it, i, NULL, ECANCELED);
    it->feeder = NULL;
    gz_release(g);
    imap_unref(it);
}

static gz_imap *imap_new(gz_pool *p, gz_fn fn, void *const *in, size_t n,
                         bool ordered)
{
    if (!gz__usable(p))
        return NULL;
    if (!fn || (!in && n)) {
        errno = EINVAL;
        return NULL;
    }
    gz_imap *it = calloc(1, sizeof *it);
    if (!it)
        goto nomem;
    GZ_OBJ_INIT(it, p->obj.hub, imap);
    it->pool = p;
    it->fn = fn;
    it->n = n;
    it->ordered = ordered;
    it->refs = 1;
    gz__list_init(&it->waiters);
    gz__list_init(&it->pool_node);
    if (n) {
        it->in = malloc(n * sizeof *it->in);
        it->out = calloc(n, sizeof *it->out);
        it->finished = malloc(n * sizeof *it->finished);
        it->items = calloc(n, sizeof *it->items);
        if (!it->in || !it->out || !it->finished || !it->items)
            goto nomem;
        memcpy(it->in, in, n * sizeof *it->in);
        for (size_t i = 0; i < n; i++)
            it->items[i] = (imap_item){it, i, NULL};
        it->feeder = gz_spawn(feed, it);
        if (!it->feeder)
            goto fail;
        if (gz_link(it->feeder, feeder_ended, it) != 0) {
            gz_kill(it->feeder, 0);
            gz_release(it->feeder);
            goto nomem;
        }
        it->refs++;
    }
    gz__list_push(&p->imaps, &it->pool_node);
    return it;
nomem:
    errno = ENOMEM;
fail:
    if (it) {
        int err = errno;
        it->refs = 1;
        imap_unref(it);
        errno = err;
    }
    return NULL;
}

gz_imap *gz_pool_imap(gz_pool *p, gz_fn fn, void *const *in, size_t n)
{
    GZ_CHECK_LIVE(p, pool);
    return imap_new(p, fn, in, n, true);
}

gz_imap *gz_pool_imap_unordered(gz_pool *p, gz_fn fn, void *const *in, size_t n)
{
    GZ_CHECK_LIVE(p, pool);
    return imap_new(p, fn, in, n, false);
}

/* The next outcome: 0 with *value and *code (0 or the item's failure), or
 * -1 when the caller's wait fails or the iteration is over (EPIPE). */
static int next_outcome(gz_imap *it, void **value, int *code, double timeout)
{
    gz_hub *h = gz__begin(it, timeout);
    if (!h)
        return -1;
    if (it->next >= it->n) {
        errno = EPIPE;
        return -1;
    }
    size_t i = ready_index(it);
    if (i != SIZE_MAX) { /* pump gave parked waiters theirs already */
        it->next++;
        *value = it->out[i].value;
        *code = it->out[i].code;
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    if (gz__wait_on(h, &it->waiters, &w, timeout, "gz_imap_next", it) != 0)
        return -1;
    *value = w.data;
    *code = w.flags;
    return 0;
}

int gz_imap_next(gz_imap *it, void **out, double timeout)
{
    GZ_CHECK_LIVE(it, imap);
    void *value;
    int code;
    if (next_outcome(it, &value, &code, timeout) != 0)
        return -1;
    if (code) {
        errno = code;
        return -1;
    }
    if (out)
        *out = value;
    return 0;
}

void gz_imap_free(gz_imap *it)
{
    GZ_CHECK_LIVE(it, imap);
    if (!it || !gz__usable(it) || it->freed)
        return;
    it->freed = true;
    GZ_MAGIC_KILL(it); /* the user's handle; the memory goes with the refs */
    it->refs++; /* kills below may run links that drop references */
    gz__wake_all(&it->waiters, EPIPE);
    gz__list_remove(&it->pool_node);
    it->pool = NULL;
    if (it->feeder)
        gz_kill(it->feeder, 0);
    for (size_t i = 0; i < it->n; i++)
        if (it->items[i].g)
            gz_kill(it->items[i].g, 0);
    it->next = it->n; /* nobody may wait on it any more */
    it->refs--;     /* the user's: ours is still held */
    imap_unref(it); /* ours */
}

int gz_pool_map(gz_pool *p, gz_fn fn, void *const *in, void **out, size_t n)
{
    GZ_CHECK_LIVE(p, pool);
    /* Blocking: refused before anything is spawned. */
    if (!gz__begin(p, GZ_FOREVER))
        return -1;
    if (!fn || (n && (!in || !out))) {
        errno = EINVAL;
        return -1;
    }
    gz_imap *it = gz_pool_imap(p, fn, in, n);
    if (!it)
        return -1;
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int code;
        if (next_outcome(it, &out[i], &code, GZ_FOREVER) != 0) {
            int err = errno;
            gz_imap_free(it);
            errno = err;
            return -1;
        }
        if (code) {
            out[i] = NULL;
            if (!first)
                first = code;
        }
    }
    gz_imap_free(it);
    if (first) {
        errno = first;
        return -1;
    }
    return 0;
}

/* ---- free ---- */

void gz_pool_free(gz_pool *p)
{
    GZ_CHECK_LIVE(p, pool);
    if (!p || !gz__usable(p))
        return;
    gz_list *n;
    while ((n = gz__list_pop(&p->imaps)))
        GZ_CONTAINER(n, gz_imap, pool_node)->pool = NULL;
    /* Detach every member first: a kill may end one (and run its link)
     * at once. */
    gz_list members;
    gz__list_init(&members);
    while ((n = gz__list_pop(&p->members))) {
        GZ_CONTAINER(n, member, node)->pool = NULL;
        gz__list_push(&members, n);
    }
    while ((n = gz__list_pop(&members)))
        gz_kill(GZ_CONTAINER(n, member, node)->g, 0); /* may free the record */
    while ((n = gz__list_pop(&p->handed)))
        GZ_CONTAINER(n, gz_waiter, node)->flags = EPIPE;
    gz__wake_all(&p->slot_waiters, EPIPE);
    gz__wake_all(&p->avail_waiters, EPIPE);
    gz__wake_all(&p->joiners, EPIPE);
    GZ_MAGIC_KILL(p);
    free(p);
}
