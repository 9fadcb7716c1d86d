/* gz_queue: FIFO, LIFO and priority queues and the channel (gevent.queue),
 * with JoinableQueue's task_done / join and close.
 *
 * Hand-off keeps waiters in FIFO order: getters wait only while nothing can
 * be got, so a put gives its item straight to the first getter; putters wait
 * only while the queue is full (a channel: always), so a get moves the first
 * putter's item in (or, for a channel, takes it) and wakes that putter. A
 * waiter woken with success has what it waited for and never touches the
 * queue again, which is what makes freeing a queue with waiters safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gz_handoff.h"
#include "gz_select.h"
#include "heap.h"
#include "gzmq/sync.h"

enum kind { Q_FIFO, Q_LIFO, Q_PRIO, Q_CHANNEL };

typedef struct entry {
    void *item;
    uint64_t seq; /* put order: ties of the priority queue */
} entry;

struct gz_queue {
    gz_obj obj;
    enum kind kind;
    size_t maxsize;      /* 0: unbounded */
    entry *buf;          /* ring (FIFO, LIFO) or heap (priority) */
    size_t cap, head, len;
    uint64_t seq;
    int (*cmp)(const void *a, const void *b);
    gz_list getters;     /* gz_waiter: data = the item handed over */
    gz_list putters;     /* gz_waiter: data = the item to put */
    gz_list peekers;     /* gz_waiter: data = the item seen */
    gz_list joiners;
    size_t unfinished;   /* items put and not yet task_done */
    bool closed;
};

static gz_queue *queue_create(enum kind kind, size_t maxsize,
                        int (*cmp)(const void *, const void *))
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_queue *q = calloc(1, sizeof *q);
    if (!q) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(q, h, queue);
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    gz__list_init(&q->getters);
    gz__list_init(&q->putters);
    gz__list_init(&q->peekers);
    gz__list_init(&q->joiners);
    return q;
}

gz_queue *gz_queue_new(size_t maxsize) { return queue_create(Q_FIFO, maxsize, NULL); }
gz_queue *gz_lifoqueue_new(size_t maxsize) { return queue_create(Q_LIFO, maxsize, NULL); }
gz_queue *gz_channel_new(void) { return queue_create(Q_CHANNEL, 0, NULL); }

gz_queue *gz_priorityqueue_new(size_t maxsize,
                               int (*cmp)(const void *a, const void *b))
{
    if (!cmp) {
        errno = EINVAL;
        return NULL;
    }
    return queue_create(Q_PRIO, maxsize, cmp);
}

void gz_queue_free(gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    if (!q || !gz__usable(q))
        return;
    gz__wake_all(&q->getters, EPIPE);
    gz__wake_all(&q->putters, EPIPE);
    gz__wake_all(&q->peekers, EPIPE);
    gz__wake_all(&q->joiners, EPIPE);
    free(q->buf);
    GZ_MAGIC_KILL(q);
    free(q);
}

/* ---- storage ---- */

static entry *at(gz_queue *q, size_t i) { return &q->buf[(q->head + i) % q->cap]; }

/* The priority order of slots I and J of the heap (heap.h): the caller's
 * compare, ties in put order. */
static bool prio_less(const void *ctx, size_t i, size_t j)
{
    const gz_queue *q = ctx;
    const entry *a = &q->buf[i], *b = &q->buf[j];
    int c = q->cmp(a->item, b->item);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void prio_swap(void *ctx, size_t i, size_t j)
{
    gz_queue *q = ctx;
    entry e = q->buf[i];
    q->buf[i] = q->buf[j];
    q->buf[j] = e;
}

/* Room for one more entry; the ring is straightened when it grows. */
static int reserve(gz_queue *q)
{
    if (q->len < q->cap)
        return 0;
    size_t cap = q->cap ? 2 * q->cap : 16;
    if (q->maxsize && cap > q->maxsize)
        cap = q->maxsize;
    entry *nb = malloc(cap * sizeof *nb);
    if (!nb) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < q->len; i++)
        nb[i] = *at(q, i);
    free(q->buf);
    q->buf = nb;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Store ITEM; the caller has made room with reserve(). */
static void store(gz_queue *q, void *item)
{
    entry e = {item, q->seq++};
    if (q->kind == Q_PRIO) {
        q->buf[q->len++] = e;
        gz__heap_up(q, q->len - 1, prio_less, prio_swap);
    } else {
        q->len++;
        *at(q, q->len - 1) = e;
    }
}

/* The entry the next get returns. */
static entry *front(gz_queue *q)
{
    if (q->kind == Q_FIFO)
        return at(q, 0);
    if (q->kind == Q_LIFO)
        return at(q, q->len - 1);
    return &q->buf[0];
}

static void *take(gz_queue *q)
{
    void *item = front(q)->item;
    if (q->kind == Q_FIFO) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
    } else if (q->kind == Q_LIFO) {
        q->len--;
    } else {
        q->buf[0] = q->buf[--q->len];
        if (q->len)
            gz__heap_down(q, 0, q->len, prio_less, prio_swap);
    }
    return item;
}

static bool has_room(const gz_queue *q)
{
    return q->kind != Q_CHANNEL && (q->maxsize == 0 || q->len < q->maxsize);
}

/* ITEM became visible while peekers wait: show it to all of them. */
static void show_peekers(gz_queue *q, void *item)
{
    gz_waiter *w;
    while ((w = gz__first_parked(&q->peekers)))
        gz__hand_off(w, item, 0);
}

/* The putter a channel's next get would take from, left in the list. */
static gz_waiter *first_putter(gz_queue *q)
{
    for (gz_list *n = q->putters.next; n != &q->putters; n = n->next) {
        gz_waiter *w = GZ_CONTAINER(n, gz_waiter, node);
        if (w->g->state == GZ_PARKED)
            return w;
    }
    return NULL;
}

/* ---- put and get ---- */

static int put(gz_queue *q, void *item, double timeout, int would_block)
{
    gz_hub *h = gz__begin(q, timeout);
    if (!h)
        return -1;
    if (q->closed) {
        errno = EPIPE;
        return -1;
    }
    gz_waiter *g = gz__first_parked(&q->getters);
    if (g) { /* only while nothing could be got: straight to the getter */
        q->unfinished++;
        gz__hand_off(g, item, 0);
        gz__no_wait(h);
        return 0;
    }
    if (has_room(q)) {
        if (reserve(q) != 0)
            return -1;
        store(q, item);
        q->unfinished++;
        if (q->len == 1)
            show_peekers(q, item);
        gz__no_wait(h);
        return 0;
    }
    if (timeout == 0) {
        errno = would_block;
        return -1;
    }
    gz_waiter w = {.g = h->current, .data = item};
    if (q->kind == Q_CHANNEL)
        show_peekers(q, item); /* peekers wait only while no putter does */
    /* 0: a get took the item (or moved it in) and counted it unfinished */
    return gz__wait_on(h, &q->putters, &w, timeout, "gz_queue_put", q);
}

/* The first waiting putter's item enters the queue (there is room now), or
 * for a channel goes to the getter: the putter is done. */
static bool pull_putter(gz_queue *q, void **item)
{
    gz_waiter *p = gz__first_parked(&q->putters);
    if (!p)
        return false;
    q->unfinished++;
    if (q->kind == Q_CHANNEL)
        *item = p->data;
    else
        store(q, p->data); /* the get just freed a slot: no allocation */
    gz__hand_off(p, NULL, 0);
    return true;
}

static int get(gz_queue *q, void **item, double timeout, int would_block)
{
    gz_hub *h = gz__begin(q, timeout);
    if (!h)
        return -1;
    void *got = NULL;
    if (q->len > 0) {
        got = take(q);
        pull_putter(q, &got);
    } else if (!pull_putter(q, &got)) {
        if (q->closed) {
            errno = EPIPE;
            return -1;
        }
        if (timeout == 0) {
            errno = would_block;
            return -1;
        }
        gz_waiter w = {.g = h->current};
        if (gz__wait_on(h, &q->getters, &w, timeout, "gz_queue_get", q) != 0)
            return -1;
        if (item)
            *item = w.data;
        return 0;
    }
    gz__no_wait(h);
    if (item)
        *item = got;
    return 0;
}

int gz_queue_put(gz_queue *q, void *item, double timeout)
{
    GZ_CHECK_LIVE(q, queue);
    return put(q, item, timeout, ETIMEDOUT);
}

int gz_queue_put_nowait(gz_queue *q, void *item)
{
    GZ_CHECK_LIVE(q, queue);
    return put(q, item, 0, EAGAIN);
}

int gz_queue_get(gz_queue *q, void **item, double timeout)
{
    GZ_CHECK_LIVE(q, queue);
    return get(q, item, timeout, ETIMEDOUT);
}

int gz_queue_get_nowait(gz_queue *q, void **item)
{
    GZ_CHECK_LIVE(q, queue);
    return get(q, item, 0, EAGAIN);
}

int gz_queue_peek(gz_queue *q, void **item, double timeout)
{
    GZ_CHECK_LIVE(q, queue);
    gz_hub *h = gz__begin(q, timeout);
    if (!h)
        return -1;
    void *seen;
    if (q->len > 0) {
        seen = front(q)->item;
    } else if (q->kind == Q_CHANNEL && first_putter(q)) {
        seen = first_putter(q)->data;
    } else {
        if (q->closed) {
            errno = EPIPE;
            return -1;
        }
        gz_waiter w = {.g = h->current};
        if (gz__wait_on(h, &q->peekers, &w, timeout, "gz_queue_peek", q) != 0)
            return -1;
        if (item)
            *item = w.data;
        return 0;
    }
    gz__no_wait(h);
    if (item)
        *item = seen;
    return 0;
}

size_t gz_queue_size(const gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    return gz__usable(q) ? q->len : 0;
}

bool gz_queue_empty(const gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    return !gz__usable(q) || (q->len == 0 && gz__list_empty(&q->putters));
}

bool gz_queue_full(const gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    if (!gz__usable(q))
        return false;
    if (q->kind == Q_CHANNEL)
        return gz__list_empty(&q->getters);
    return q->maxsize && q->len >= q->maxsize;
}

void gz_queue_close(gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    if (!gz__usable(q) || q->closed)
        return;
    q->closed = true;
    gz__wake_all(&q->putters, EPIPE);
    if (q->len == 0) { /* nothing left to drain */
        gz__wake_all(&q->getters, EPIPE);
        gz__wake_all(&q->peekers, EPIPE);
    }
}

void gz_queue_task_done(gz_queue *q)
{
    GZ_CHECK_LIVE(q, queue);
    if (!gz__usable(q))
        return;
    if (q->unfinished == 0) {
        errno = EINVAL;
        return;
    }
    if (--q->unfinished == 0)
        gz__wake_all(&q->joiners, 0);
}

int gz_queue_join(gz_queue *q, double timeout)
{
    GZ_CHECK_LIVE(q, queue);
    gz_hub *h = gz__begin(q, timeout);
    if (!h)
        return -1;
    if (q->unfinished == 0) {
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    return gz__wait_on(h, &q->joiners, &w, timeout, "gz_queue_join", q);
}

/* ---- gz_select (gz_select.h) ---- */

int gz__queue_select_check(gz_queue *q)
{
    GZ_CHECK_LIVE_IN(q, queue, "gz_select");
    return gz__usable(q) ? 0 : -1;
}

bool gz__queue_select_try(gz_queue *q, gz_case *c)
{
    if (c->op == GZ_GET) {
        void *got = NULL;
        if (q->len > 0) {
            got = take(q);
            pull_putter(q, &got);
        } else if (!pull_putter(q, &got)) {
            if (!q->closed)
                return false;
            c->err = EPIPE;
            return true;
        }
        c->item = got;
        return true;
    }
    if (q->closed) {
        c->err = EPIPE;
        return true;
    }
    gz_waiter *g = gz__first_parked(&q->getters);
    if (g) {
        q->unfinished++;
        gz__hand_off(g, c->item, 0);
        return true;
    }
    if (!has_room(q))
        return false;
    if (reserve(q) != 0) {
        c->err = errno;
        return true;
    }
    store(q, c->item);
    q->unfinished++;
    if (q->len == 1)
        show_peekers(q, c->item);
    return true;
}

bool gz__queue_select_link(gz_queue *q, gz_case *c, gz_waiter *w)
{
    if (c->op == GZ_GET) {
        gz__list_push(&q->getters, &w->node);
        return true;
    }
    w->data = c->item;
    if (q->kind == Q_CHANNEL) /* as put(): peekers see a waiting putter's item */
        show_peekers(q, c->item);
    gz__list_push(&q->putters, &w->node);
    return true;
}
