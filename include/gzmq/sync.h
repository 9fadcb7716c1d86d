/* libgzmq: events, async results, queues and semaphores (gevent.event,
 * gevent.queue, gevent.lock). Included by <gzmq.h>; do not include directly.
 *
 * Every blocking call below also fails with the errors common to blocking
 * calls (see gzmq/core.h): ECANCELED, ETIMEDOUT (a gz_timeout), EDEADLK,
 * EPERM, and EINVAL for a NULL object or a NaN timeout.
 *
 * Every function taking an object refuses one of another thread: EXDEV: the
 * object belongs to another thread's hub. Functions returning nothing then
 * do nothing and leave errno = EXDEV (EINVAL for NULL; the _free functions
 * ignore NULL); queries give their answer for NULL. Waiters are served
 * in FIFO order, and what a waiter is woken for (an item, a unit, a value)
 * is handed to it: a greenlet that runs first cannot take it away. Freeing
 * an object that greenlets wait on wakes them with EPIPE. */
#ifndef GZMQ_SYNC_H
#define GZMQ_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Events ---- */

typedef struct gz_event gz_event;
/* A new event, not set, of this thread. NULL: ENOMEM. */
gz_event *gz_event_new(void);
/* Free E (NULL is ignored); its waiters are woken with EPIPE. */
void gz_event_free(gz_event *e);
/* Set E and wake every waiter; waits return at once until it is cleared.
 * NULL: nothing done, errno = EINVAL. */
void gz_event_set(gz_event *e);
/* Reset E; waiters already woken still return 0. NULL: errno = EINVAL. */
void gz_event_clear(gz_event *e);
/* True while E is set (false for NULL). */
bool gz_event_is_set(const gz_event *e);
/* Wait until E is set. 0 when set (at once if it is); -1: ETIMEDOUT, EPIPE
 * (freed while waiting), and the common blocking errors. */
int gz_event_wait(gz_event *e, double timeout);

/* ---- Async results (gevent's AsyncResult) ---- */

typedef struct gz_result gz_result;
/* A new result, not ready. NULL: ENOMEM. */
gz_result *gz_result_new(void);
/* Free R (NULL is ignored); its waiters are woken with EPIPE. */
void gz_result_free(gz_result *r);
/* Make R ready with VALUE and wake every waiter. Setting again replaces the
 * outcome for later calls. NULL: nothing done, errno = EINVAL. */
void gz_result_set(gz_result *r, void *value);
/* Make R ready with an exception: CODE (0 becomes EIO) and MESSAGE (copied;
 * NULL is ""). Wakes every waiter. NULL R: nothing done, errno = EINVAL. */
void gz_result_set_exception(gz_result *r, int code, const char *message);
/* Wait until R is ready; then 0 and *value (VALUE may be NULL), or -1 with
 * errno = the exception's code. -1 also: ETIMEDOUT, EPIPE (freed while
 * waiting), the common blocking errors. */
int gz_result_get(gz_result *r, void **value, double timeout);
/* Wait until R is ready, whatever its outcome: 0, or -1 as gz_result_get
 * minus the exception. */
int gz_result_wait(gz_result *r, double timeout);
/* True once set (with a value or an exception). */
bool gz_result_ready(const gz_result *r);
/* True once set with a value. */
bool gz_result_successful(const gz_result *r);
/* R's exception if it was set with one, else NULL. */
const gz_error *gz_result_exception(const gz_result *r);

/* ---- Queues ---- */

typedef struct gz_queue gz_queue;
/* A FIFO queue holding at most MAXSIZE items (0: unbounded). NULL: ENOMEM. */
gz_queue *gz_queue_new(size_t maxsize);
/* A LIFO queue (get returns the newest item). NULL: ENOMEM. */
gz_queue *gz_lifoqueue_new(size_t maxsize);
/* A priority queue: get returns the lowest item by CMP, which receives the
 * items themselves (not pointers to them); equal items come out in put
 * order. NULL: EINVAL (NULL cmp), ENOMEM. */
gz_queue *gz_priorityqueue_new(size_t maxsize,
                               int (*cmp)(const void *a, const void *b));
/* A channel (rendezvous): a put waits until a get takes its item. Its size is
 * always 0. NULL: ENOMEM. */
gz_queue *gz_channel_new(void);
/* Free Q (NULL is ignored); greenlets waiting in put, get, peek or join are
 * woken with EPIPE. Items still queued are dropped (they are the caller's). */
void gz_queue_free(gz_queue *q);
/* Put ITEM, waiting while Q is full (a channel: until a get takes it).
 * -1: ETIMEDOUT (still full: gevent's Full), EPIPE (closed, also while
 * waiting), ENOMEM, the common blocking errors. */
int gz_queue_put(gz_queue *q, void *item, double timeout);
/* Take the next item into *item (ITEM may be NULL), waiting while Q is
 * empty. -1: ETIMEDOUT (still empty: gevent's Empty), EPIPE (closed and
 * drained), the common blocking errors. */
int gz_queue_get(gz_queue *q, void **item, double timeout);
/* Put without waiting. -1: EAGAIN (full), EPIPE, ENOMEM, EINVAL. */
int gz_queue_put_nowait(gz_queue *q, void *item);
/* Get without waiting. -1: EAGAIN (empty), EPIPE (closed and drained),
 * EINVAL. */
int gz_queue_get_nowait(gz_queue *q, void **item);
/* The item the next get would return, left in Q; waits while Q is empty.
 * -1 as gz_queue_get. */
int gz_queue_peek(gz_queue *q, void **item, double timeout);
/* Items in Q (0 for NULL and for a channel). */
size_t gz_queue_size(const gz_queue *q);
/* True when a get would have to wait (true for NULL). */
bool gz_queue_empty(const gz_queue *q);
/* True when a put would have to wait (false for NULL). */
bool gz_queue_full(const gz_queue *q);
/* Close Q: puts (waiting ones too) fail with EPIPE; gets take what is left,
 * then fail with EPIPE. NULL: nothing done, errno = EINVAL. */
void gz_queue_close(gz_queue *q);
/* JoinableQueue: mark one item got earlier as processed. Calls beyond the
 * items put are ignored (errno = EINVAL). */
void gz_queue_task_done(gz_queue *q);
/* Wait until every item put has been marked with gz_queue_task_done.
 * -1: ETIMEDOUT, EPIPE (freed while waiting), the common blocking errors. */
int gz_queue_join(gz_queue *q, double timeout);

/* ---- Semaphores ---- */

typedef struct gz_sem gz_sem;
/* A semaphore holding VALUE units. NULL: ENOMEM. */
gz_sem *gz_sem_new(unsigned value);
/* A bounded semaphore: releasing past VALUE is an error. NULL: ENOMEM. */
gz_sem *gz_bounded_sem_new(unsigned value);
/* Free S (NULL is ignored); its waiters are woken with EPIPE. */
void gz_sem_free(gz_sem *s);
/* Take a unit, waiting until one is released. -1: ETIMEDOUT, EPIPE (freed
 * while waiting), the common blocking errors. */
int gz_sem_acquire(gz_sem *s, double timeout);
/* Give a unit back; it goes to the first waiter, if any. -1: EINVAL (NULL),
 * EXDEV, EOVERFLOW (a bounded semaphore back at its start value, or UINT_MAX). */
int gz_sem_release(gz_sem *s);
/* Units available now (0 for NULL). */
unsigned gz_sem_value(const gz_sem *s);

#ifdef __cplusplus
}
#endif
#endif
