/* Timers: a binary heap per hub (heap.h) under one libev timer set to the
 * earliest deadline. One ev_timer for every sleep, timeout and start delay
 * keeps libev's own heap small, and the sequence number orders equal
 * deadlines by arming order, which libev does not promise.
 *
 * A timer sits in the heap by its key (key_at, key_seq), which is its
 * deadline (at, seq) or earlier: a timer disarmed lazily and armed again
 * for a later deadline keeps its old place, and when that place comes up
 * it moves to its deadline instead of firing. A server's read timeout is
 * armed and disarmed once per request and almost never fires; this way it
 * costs a heap operation per timeout period, not two per request (with
 * thousands of connections, each a walk of cold cache lines). The price is
 * one extra loop wake-up per such move. */
#include <stdio.h>
#include <stdlib.h>

#include "gz_internal.h"
#include "heap.h"

static bool earlier(const void *ctx, size_t i, size_t j)
{
    gz_timer *const *heap = ((const gz_timers *)ctx)->heap;
    const gz_timer *a = heap[i], *b = heap[j];
    return a->key_at < b->key_at || (a->key_at == b->key_at && a->key_seq < b->key_seq);
}

static void swap(void *ctx, size_t i, size_t j)
{
    gz_timer **heap = ((gz_timers *)ctx)->heap;
    gz_timer *t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
    heap[i]->idx = i + 1;
    t->idx = j + 1;
}

static void timers_cb(struct ev_loop *loop, ev_timer *w, int revents);

void gz__timers_init(gz_timers *ts) { ev_init(&ts->watcher, timers_cb); }

void gz__timers_fini(gz_timers *ts, struct ev_loop *loop)
{
    ev_timer_stop(loop, &ts->watcher);
    for (size_t i = 0; i < ts->len; i++)
        ts->heap[i]->idx = 0; /* disarmed lazily (main's): out of a heap that goes */
    free(ts->heap);
    ts->heap = NULL;
    ts->len = ts->cap = 0;
}

static void rearm(gz_timers *ts, struct ev_loop *loop)
{
    if (ts->in_cb)
        return; /* timers_cb rearms once at its end */
    if (ts->len == 0) {
        ev_timer_stop(loop, &ts->watcher);
        return;
    }
    double after = ts->heap[0]->key_at - ev_now(loop);
    ev_timer_stop(loop, &ts->watcher);
    ev_timer_set(&ts->watcher, after > 0 ? after : 0.0, 0.0);
    ev_timer_start(loop, &ts->watcher);
}

void gz__timer_start_at(gz_timer *t, double at)
{
    gz_hub *h = gz__tl_hub;
    gz_timers *ts = &h->timers;
    t->at = at;
    t->seq = ++ts->seq;
    if (t->idx) {
        /* In the heap already: at its place or earlier, timers_cb moves it
         * to its deadline when the place comes up; later, it moves now. */
        if (at < t->key_at) {
            t->key_at = at;
            t->key_seq = t->seq;
            if (gz__heap_up(ts, t->idx - 1, earlier, swap) == 0)
                rearm(ts, h->loop);
        }
        return;
    }
    if (ts->len == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 64;
        gz_timer **nh = realloc(ts->heap, cap * sizeof *nh);
        if (!nh) {
            gz__warn("out of memory for a timer\n");
            abort();
        }
        ts->heap = nh;
        ts->cap = cap;
    }
    t->key_at = at;
    t->key_seq = t->seq;
    size_t i = ts->len++;
    ts->heap[i] = t;
    t->idx = i + 1;
    if (gz__heap_up(ts, i, earlier, swap) == 0)
        rearm(ts, h->loop);
}

void gz__timer_stop(gz_timer *t)
{
    if (!t->idx)
        return;
    gz_hub *h = gz__tl_hub;
    gz_timers *ts = &h->timers;
    size_t i = t->idx - 1;
    t->idx = 0;
    gz_timer *last = ts->heap[--ts->len];
    if (last != t) {
        ts->heap[i] = last;
        last->idx = i + 1;
        gz__heap_up(ts, gz__heap_down(ts, i, ts->len, earlier, swap), earlier,
                    swap);
    }
    if (i == 0)
        rearm(ts, h->loop);
}

static void timers_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    gz_timers *ts = GZ_CONTAINER(w, gz_timers, watcher);
    double now = ev_now(loop);
    ts->in_cb = true;
    while (ts->len > 0 && ts->heap[0]->key_at <= now + 1e-6) {
        gz_timer *t = ts->heap[0];
        if (t->at != INFINITY && (t->key_at != t->at || t->key_seq != t->seq)) {
            t->key_at = t->at; /* armed again since: to its deadline */
            t->key_seq = t->seq;
            gz__heap_down(ts, 0, ts->len, earlier, swap);
            continue;
        }
        gz__timer_stop(t);
        if (t->at != INFINITY) /* else disarmed lazily: only leaves */
            t->cb(t);
    }
    ts->in_cb = false;
    rearm(ts, loop);
}
