/* libgzmq: entering a hub from any thread (gz_hub_post) and a queue that
 * any thread may put into and a hub's greenlets get from (gz_tqueue).
 * Included by <gzmq.h>; do not include directly. */
#ifndef GZMQ_POST_H
#define GZMQ_POST_H

#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A thread's hub, as other threads may name it. */
typedef struct gz_hub gz_hub;

/* The calling thread's hub, created on first use like every other call's;
 * the same pointer for the thread's whole life, and safe to pass to
 * gz_hub_post even after that thread has ended (it is never freed).
 * NULL: ENOMEM. */
gz_hub *gz_hub_self(void);
/* From any thread (with or without a hub of its own): run fn(arg) on hub H
 * in a new greenlet, soon (posts from one thread run in the order made).
 * Posts still waiting when H's thread ends are dropped: fn never runs.
 * Never blocks and has no bound: a gz_tqueue gives backpressure.
 * -1: EINVAL (NULL H or FN), ESHUTDOWN (H's thread has ended), ENOMEM. */
int gz_hub_post(gz_hub *h, void (*fn)(void *arg), void *arg);
/* From now on gz_hub_post to this hub fails with ESHUTDOWN, as once its
 * thread has ended; posts already accepted still run while the hub runs
 * (end the thread after gz_run so that none is dropped). -1: ENOMEM. */
int gz_hub_close_posts(void);
/* While held (counted), this hub waits for posts as for a timer: gz_run
 * keeps running and a blocked main does not fail with EDEADLK. -1: ENOMEM. */
int gz_hub_hold(void);
/* Undo one gz_hub_hold. -1 EINVAL when this hub holds nothing. */
int gz_hub_unhold(void);

/* A FIFO queue owned by the hub that created it: any thread puts, the
 * owner's greenlets get (and may wait in gz_select with GZ_GET / GZ_PUT). */
typedef struct gz_tqueue gz_tqueue;

/* A queue of at most MAXSIZE items (0: unbounded) for this thread's hub.
 * NULL: ENOMEM. */
gz_tqueue *gz_tqueue_new(size_t maxsize);
/* Free Q (NULL: nothing) on its hub's thread, or on any thread once that
 * thread has ended; its green waiters fail with EPIPE. No other thread may
 * use Q meanwhile (close it and let the putters finish first). Items still
 * in it are the caller's to have drained. */
void gz_tqueue_free(gz_tqueue *q);
/* Append ITEM, waiting up to TIMEOUT while Q is full: a greenlet of Q's hub
 * parks, any other thread blocks (its whole hub too). -1: EINVAL (NULL Q,
 * NaN), EPIPE (closed), ETIMEDOUT (still full), ESHUTDOWN (Q's hub has
 * ended), ENOMEM; on Q's hub also ECANCELED, EPERM. */
int gz_tqueue_put(gz_tqueue *q, void *item, double timeout);
/* gz_tqueue_put that never waits: -1 EAGAIN when full. */
int gz_tqueue_put_nowait(gz_tqueue *q, void *item);
/* Take the oldest item into *ITEM, parking up to TIMEOUT while Q is empty.
 * Q's hub only. -1: EINVAL (NULL Q or ITEM, NaN), EXDEV (another thread),
 * ETIMEDOUT, EPIPE (closed and drained), ECANCELED, EPERM. */
int gz_tqueue_get(gz_tqueue *q, void **item, double timeout);
/* gz_tqueue_get that never waits: -1 EAGAIN when empty. */
int gz_tqueue_get_nowait(gz_tqueue *q, void **item);
/* Items in Q now (any thread; 0 for NULL). */
size_t gz_tqueue_size(gz_tqueue *q);
/* Any thread: puts fail with EPIPE from now on (waiting ones too); gets
 * drain what is left, then fail with EPIPE. */
void gz_tqueue_close(gz_tqueue *q);

#ifdef __cplusplus
}
#endif
#endif
