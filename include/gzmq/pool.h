/* libgzmq: pools and groups of greenlets, parallel map (gevent.pool).
 * Included by <gzmq.h>; do not include directly.
 *
 * Blocking calls below also fail with the errors common to blocking calls
 * (see gzmq/core.h): ECANCELED, ETIMEDOUT (a gz_timeout), EDEADLK, EPERM,
 * and EINVAL for a NULL object or a NaN timeout.
 *
 * Every function taking a pool or imap refuses one of another thread:
 * EXDEV: the object belongs to another thread's hub. Functions returning
 * nothing then do nothing and leave errno = EXDEV (the _free functions
 * ignore NULL); queries give their answer for NULL (with errno EINVAL for
 * NULL). */
#ifndef GZMQ_POOL_H
#define GZMQ_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Pools and groups ---- */

typedef struct gz_pool gz_pool;
/* A pool running at most SIZE greenlets at once; 0 = unbounded (gevent's
 * Group). NULL: ENOMEM. */
gz_pool *gz_pool_new(size_t size);
/* Free P (NULL is ignored): kill its greenlets (without waiting for them);
 * greenlets waiting in its calls are woken with EPIPE. */
void gz_pool_free(gz_pool *p);
/* Spawn fn(arg) in P, first waiting for a free slot (FIFO among waiters).
 * Returns a reference to gz_release. NULL: EINVAL (NULL p or fn), ENOMEM,
 * EPIPE (P freed while waiting), the common blocking errors (a bounded pool
 * only: spawning in a group never blocks). */
gz_greenlet *gz_pool_spawn(gz_pool *p, gz_fn fn, void *arg);
/* Track G (of this thread) in P until it ends, first waiting for a slot as
 * gz_pool_spawn does; it is not started. 0 at once if G is already in P or
 * has ended. -1: EINVAL (NULL, main), EXDEV (P or G of another thread),
 * ENOMEM, EPIPE, the blocking errors. */
int gz_pool_add(gz_pool *p, gz_greenlet *g);
/* Wait until P has no greenlet left. -1: ETIMEDOUT, EPIPE (freed while
 * waiting), the common blocking errors. */
int gz_pool_join(gz_pool *p, double timeout);
/* Kill every greenlet of P, then wait up to TIMEOUT for them to end (0:
 * don't wait). -1: ETIMEDOUT, EDEADLK (the caller is one of them: the others
 * are killed, the caller is not), the common blocking errors (the kills are
 * delivered even when the wait then fails). */
int gz_pool_kill(gz_pool *p, double timeout);
/* Greenlets in P (0 for NULL). */
size_t gz_pool_len(const gz_pool *p);
/* Slots free now: SIZE_MAX for a group, 0 for NULL. */
size_t gz_pool_free_count(const gz_pool *p);
/* Wait until P has a free slot (it is not taken). -1: ETIMEDOUT, EPIPE, the
 * common blocking errors. */
int gz_pool_wait_available(gz_pool *p, double timeout);
/* out[i] = fn(in[i]) for i < n, run in P; waits for all of them. 0, or -1
 * with errno = the first failed item's code (its out[i] is NULL; a killed
 * item counts as ECANCELED); -1 also: EINVAL (NULL p, fn, or NULL in / out
 * with n > 0), ENOMEM, and the caller's blocking errors (checked first:
 * then nothing is spawned; later, the items still running are killed). */
int gz_pool_map(gz_pool *p, gz_fn fn, void *const *in, void **out, size_t n);

typedef struct gz_imap gz_imap;
/* Run fn(in[i]) for i < n in P (the array is copied), items started in input
 * order as slots free up; gz_imap_next returns the results in input order.
 * NULL: EINVAL (NULL p or fn, NULL in with n > 0), ENOMEM. */
gz_imap *gz_pool_imap(gz_pool *p, gz_fn fn, void *const *in, size_t n);
/* As gz_pool_imap, results in completion order. */
gz_imap *gz_pool_imap_unordered(gz_pool *p, gz_fn fn, void *const *in, size_t n);
/* The next result into *out (OUT may be NULL), waiting for it. A failed item
 * gives -1 with errno = its code (ECANCELED if it was killed) and the
 * iteration goes on with the next one. -1 also: EPIPE (no item left, or IT
 * freed while waiting), ETIMEDOUT, the common blocking errors. */
int gz_imap_next(gz_imap *it, void **out, double timeout);
/* Stop and free IT (NULL is ignored): items not started never start, running
 * ones are killed, waiters get EPIPE. */
void gz_imap_free(gz_imap *it);

#ifdef __cplusplus
}
#endif
#endif
