/* gz_tqueue: a FIFO queue that any thread puts into and the greenlets of
 * the hub that made it get from.
 *
 * Everything shared is under the queue's mutex. Green waiters (getters,
 * and putters of the owning hub while it is full) park on lists touched only
 * on the owner's thread and are served by hand-off as in gz_queue. Another
 * thread that puts while a green waiter may be parked (sleepers) rings the
 * hub once through the queue's gz_remote (post.c); until the hub has run it
 * (ringing), further puts add items without another wakeup, so a burst costs
 * one ev_async. Other threads that find the queue full wait on a condition
 * variable, signalled by the get that makes room.
 *
 * The owner's hub may end before the queue is freed: its tqueue_layer then
 * marks each of its queues orphaned, waking blocked putters (ESHUTDOWN). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "gz_handoff.h"
#include "gz_select.h"
#include "gzmq/post.h"

struct gz_tqueue {
    gz_obj obj;
    gz_hubref *owner;
    gz_remote remote;
    pthread_mutex_t lock;
    pthread_cond_t room;   /* other threads wait here while it is full */
    size_t maxsize;        /* 0: unbounded */
    void **buf;            /* ring, under lock */
    size_t cap, head, len;
    unsigned blocked;      /* other threads waiting on room, under lock */
    unsigned flags;        /* TQ_*, under lock */
    gz_list getters;       /* gz_waiter: data = the item handed over (owner's thread) */
    gz_list putters;       /* gz_waiter: data = the item to put (owner's thread) */
    gz_list hub_node;      /* in the owner's tqueue_layer list (owner's thread) */
};

enum {
    TQ_CLOSED = 1 << 0,
    TQ_SLEEPERS = 1 << 1, /* a green waiter may be parked: ring on news */
    TQ_RINGING = 1 << 2,  /* the remote is sent and has not run yet */
    TQ_ORPHAN = 1 << 3,   /* the owner's hub has ended */
};

/* ---- per-hub list of queues, to orphan them when the hub ends ---- */

typedef struct tq_hub {
    gz_list all;
} tq_hub;

static void tq_hub_destroy(void *p)
{
    tq_hub *th = p;
    gz_list *n;
    while ((n = gz__list_pop(&th->all))) {
        gz_tqueue *q = GZ_CONTAINER(n, gz_tqueue, hub_node);
        pthread_mutex_lock(&q->lock);
        q->flags |= TQ_ORPHAN;
        pthread_cond_broadcast(&q->room);
        pthread_mutex_unlock(&q->lock);
    }
    free(th);
}

static const gz_layer tqueue_layer = {tq_hub_destroy, NULL};

static tq_hub *tq_hub_of(gz_hub *h)
{
    bool made;
    tq_hub *th = gz__layer_state_make(h, &tqueue_layer, sizeof *th, &made);
    if (made)
        gz__list_init(&th->all);
    return th;
}

/* ---- storage, under lock ---- */

static bool has_room(const gz_tqueue *q) { return !q->maxsize || q->len < q->maxsize; }

static int store(gz_tqueue *q, void *item)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        if (q->maxsize && cap > q->maxsize)
            cap = q->maxsize;
        void **nb = malloc(cap * sizeof *nb);
        if (!nb) {
            errno = ENOMEM;
            return -1;
        }
        for (size_t i = 0; i < q->len; i++)
            nb[i] = q->buf[(q->head + i) % q->cap];
        free(q->buf);
        q->buf = nb;
        q->cap = cap;
        q->head = 0;
    }
    q->buf[(q->head + q->len) % q->cap] = item;
    q->len++;
    return 0;
}

static void *take(gz_tqueue *q)
{
    void *item = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return item;
}

/* A get made room: move the first parked green putter's item in, or let
 * one blocked thread try. Owner's thread. */
static void refill(gz_tqueue *q)
{
    gz_waiter *w = gz__first_parked(&q->putters);
    if (w) {
        if (store(q, w->data) == 0)
            gz__hand_off(w, NULL, 0);
        else
            gz__wake_waiter(w, ENOMEM);
    } else if (q->blocked) {
        pthread_cond_signal(&q->room);
    }
}

/* Hand items to parked getters, and EPIPE to every waiter once closed
 * (getters only when drained). Owner's thread. */
static void serve(gz_tqueue *q)
{
    gz_waiter *w;
    while (q->len > 0 && (w = gz__first_parked(&q->getters))) {
        gz__hand_off(w, take(q), 0);
        refill(q);
    }
    if (q->flags & TQ_CLOSED) {
        if (q->len == 0)
            gz__wake_all(&q->getters, EPIPE);
        gz__wake_all(&q->putters, EPIPE);
    }
    if (gz__list_empty(&q->getters) && gz__list_empty(&q->putters))
        q->flags &= ~(unsigned)TQ_SLEEPERS;
}

/* The ring from another thread, run on the owner's thread. */
static void tq_remote_run(gz_remote *r)
{
    gz_tqueue *q = GZ_CONTAINER(r, gz_tqueue, remote);
    pthread_mutex_lock(&q->lock);
    q->flags &= ~(unsigned)TQ_RINGING;
    serve(q);
    pthread_mutex_unlock(&q->lock);
}

/* Under lock, on another thread: whether news must ring the owner. */
static bool must_ring(gz_tqueue *q)
{
    if ((q->flags & (TQ_SLEEPERS | TQ_RINGING)) != TQ_SLEEPERS)
        return false;
    q->flags |= TQ_RINGING;
    return true;
}

/* ---- life cycle ---- */

gz_tqueue *gz_tqueue_new(size_t maxsize)
{
    gz_hub *h = gz__hub();
    gz_hubref *hr = h ? gz__hubref(h) : NULL;
    tq_hub *th = hr ? tq_hub_of(h) : NULL;
    if (!th)
        return NULL;
    gz_tqueue *q = calloc(1, sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->room, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->lock, NULL);
    GZ_OBJ_INIT(q, h, tqueue);
    q->owner = hr;
    q->remote.run = tq_remote_run;
    q->maxsize = maxsize;
    gz__list_init(&q->getters);
    gz__list_init(&q->putters);
    gz__list_push(&th->all, &q->hub_node);
    return q;
}

void gz_tqueue_free(gz_tqueue *q)
{
    GZ_CHECK_LIVE(q, tqueue);
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    bool orphan = q->flags & TQ_ORPHAN;
    pthread_mutex_unlock(&q->lock);
    if (!orphan) {
        if (gz__hub_peek() != q->obj.hub) {
            gz__warn("gz_tqueue_free: %p belongs to a hub that still runs on "
                     "another thread: not freed\n", (void *)q);
            return;
        }
        gz__list_remove(&q->hub_node);
        gz__remote_cancel(q->owner, &q->remote);
        gz__wake_all(&q->getters, EPIPE);
        gz__wake_all(&q->putters, EPIPE);
    }
    pthread_cond_destroy(&q->room);
    pthread_mutex_destroy(&q->lock);
    free(q->buf);
    GZ_MAGIC_KILL(q);
    free(q);
}

void gz_tqueue_close(gz_tqueue *q)
{
    GZ_CHECK_LIVE(q, tqueue);
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    bool ring = false;
    q->flags |= TQ_CLOSED;
    pthread_cond_broadcast(&q->room);
    if (!(q->flags & TQ_ORPHAN)) {
        if (gz__hub_peek() == q->obj.hub)
            serve(q);
        else
            ring = must_ring(q);
    }
    pthread_mutex_unlock(&q->lock);
    if (ring)
        (void)gz__remote_send(q->owner, &q->remote); /* ESHUTDOWN: nobody waits */
}

size_t gz_tqueue_size(gz_tqueue *q)
{
    GZ_CHECK_LIVE(q, tqueue);
    if (!q)
        return 0;
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* ---- put ---- */

/* A greenlet of the owner's hub H puts (lock held on entry, released). */
static int put_green(gz_hub *h, gz_tqueue *q, void *item, double timeout,
                     bool nowait)
{
    int rc = -1;
    if (q->flags & TQ_CLOSED) {
        errno = EPIPE;
    } else if (has_room(q)) {
        if ((rc = store(q, item)) == 0)
            serve(q);
    } else if (nowait) {
        errno = EAGAIN;
    } else if (timeout == 0) {
        errno = ETIMEDOUT;
    } else {
        gz_waiter w = {.g = h->current, .data = item};
        gz__list_push(&q->putters, &w.node);
        q->flags |= TQ_SLEEPERS;
        pthread_mutex_unlock(&q->lock);
        /* Only this hub's gets make room, but a close from another thread
         * ends the wait too: the loop must not count as idle meanwhile, or
         * main fails with EDEADLK and the close finds no loop to ring. */
        gz__hold(h);
        rc = gz__park(h, timeout, "gz_tqueue_put", q);
        gz__unhold(h);
        gz__list_remove(&w.node);
        return rc;
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == 0)
        gz__no_wait(h);
    return rc;
}

/* Another thread puts (lock held on entry, released). */
static int put_blocking(gz_tqueue *q, void *item, double timeout, bool nowait)
{
    struct timespec until;
    if (timeout > 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        double s = (double)until.tv_sec + until.tv_nsec / 1e9 + timeout;
        until.tv_sec = (time_t)s;
        until.tv_nsec = (long)((s - (double)until.tv_sec) * 1e9);
    }
    int rc = 0;
    for (;;) {
        if (q->flags & TQ_ORPHAN) {
            errno = ESHUTDOWN;
            rc = -1;
        } else if (q->flags & TQ_CLOSED) {
            errno = EPIPE;
            rc = -1;
        } else if (has_room(q)) {
            rc = store(q, item);
        } else if (nowait || timeout == 0) {
            errno = nowait ? EAGAIN : ETIMEDOUT;
            rc = -1;
        } else {
            q->blocked++;
            int e = timeout < 0 ? pthread_cond_wait(&q->room, &q->lock)
                                : pthread_cond_timedwait(&q->room, &q->lock, &until);
            q->blocked--;
            if (e == ETIMEDOUT && !has_room(q) &&
                !(q->flags & (TQ_CLOSED | TQ_ORPHAN))) {
                errno = ETIMEDOUT;
                rc = -1;
                break;
            }
            continue;
        }
        break;
    }
    bool ring = rc == 0 && must_ring(q);
    pthread_mutex_unlock(&q->lock);
    if (ring)
        (void)gz__remote_send(q->owner, &q->remote); /* ESHUTDOWN: nobody waits */
    return rc;
}

static int put(gz_tqueue *q, void *item, double timeout, bool nowait)
{
    GZ_CHECK_LIVE_IN(q, tqueue, nowait ? "gz_tqueue_put_nowait" : "gz_tqueue_put");
    if (!q || gz__check_timeout(timeout)) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub_peek();
    if (h == q->obj.hub && !nowait && gz__enter(h) != 0)
        return -1;
    pthread_mutex_lock(&q->lock);
    /* An orphan's hub address may have been reused by a new hub. */
    if (h == q->obj.hub && !(q->flags & TQ_ORPHAN))
        return put_green(h, q, item, timeout, nowait);
    return put_blocking(q, item, timeout, nowait);
}

int gz_tqueue_put(gz_tqueue *q, void *item, double timeout)
{
    return put(q, item, timeout, false);
}

int gz_tqueue_put_nowait(gz_tqueue *q, void *item)
{
    return put(q, item, 0, true);
}

/* ---- get ---- */

static int get(gz_tqueue *q, void **item, double timeout, bool nowait)
{
    GZ_CHECK_LIVE_IN(q, tqueue, nowait ? "gz_tqueue_get_nowait" : "gz_tqueue_get");
    gz_hub *h;
    if (nowait) {
        if (!gz__usable(q))
            return -1;
        h = q->obj.hub;
    } else if (!(h = gz__begin(q, timeout))) {
        return -1;
    }
    if (!item) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    int rc = -1;
    if (q->flags & TQ_ORPHAN) {
        errno = EXDEV; /* the hub at its address is not its owner */
    } else if (q->len > 0) {
        *item = take(q);
        refill(q);
        rc = 0;
    } else if (q->flags & TQ_CLOSED) {
        errno = EPIPE;
    } else if (nowait || timeout == 0) {
        errno = nowait ? EAGAIN : ETIMEDOUT;
    } else {
        gz_waiter w = {.g = h->current};
        gz__list_push(&q->getters, &w.node);
        q->flags |= TQ_SLEEPERS;
        pthread_mutex_unlock(&q->lock);
        /* Other threads may put: the loop must not count as idle. */
        gz__hold(h);
        rc = gz__park(h, timeout, "gz_tqueue_get", q);
        gz__unhold(h);
        gz__list_remove(&w.node);
        if (rc == 0)
            *item = w.data;
        return rc;
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == 0 && !nowait)
        gz__no_wait(h);
    return rc;
}

int gz_tqueue_get(gz_tqueue *q, void **item, double timeout)
{
    return get(q, item, timeout, false);
}

int gz_tqueue_get_nowait(gz_tqueue *q, void **item)
{
    return get(q, item, 0, true);
}

/* ---- gz_select (gz_select.h) ---- */

int gz__tqueue_select_check(gz_tqueue *q)
{
    GZ_CHECK_LIVE_IN(q, tqueue, "gz_select");
    return gz__usable(q) ? 0 : -1;
}

bool gz__tqueue_select_try(gz_tqueue *q, gz_case *c)
{
    bool done = true;
    pthread_mutex_lock(&q->lock);
    if (c->op == GZ_GET) {
        if (q->len > 0) {
            c->item = take(q);
            refill(q);
        } else if (q->flags & TQ_CLOSED) {
            c->err = EPIPE;
        } else {
            done = false;
        }
    } else if (q->flags & TQ_CLOSED) {
        c->err = EPIPE;
    } else if (has_room(q)) {
        if (store(q, c->item) == 0)
            serve(q);
        else
            c->err = errno;
    } else {
        done = false;
    }
    pthread_mutex_unlock(&q->lock);
    return done;
}

bool gz__tqueue_select_link(gz_tqueue *q, gz_case *c, gz_waiter *w)
{
    pthread_mutex_lock(&q->lock);
    bool news;
    if (c->op == GZ_GET) {
        gz__list_push(&q->getters, &w->node);
        news = q->len > 0 || (q->flags & TQ_CLOSED);
    } else {
        w->data = c->item;
        gz__list_push(&q->putters, &w->node);
        news = has_room(q) || (q->flags & TQ_CLOSED);
    }
    q->flags |= TQ_SLEEPERS;
    /* Unlike a plain get, the select looked at the queue under another
     * hold of the lock: a put or close from another thread in between saw
     * no sleeper and rang nobody. Ring ourselves, so that the item is
     * served once this greenlet has parked. */
    bool ring = news && must_ring(q);
    pthread_mutex_unlock(&q->lock);
    if (ring)
        (void)gz__remote_send(q->owner, &q->remote); /* our own hub lives */
    return true;
}
