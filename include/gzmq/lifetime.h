/* libgzmq lifetimes: scopes (structured concurrency), cancellation shields,
 * greenlet-local storage and periodic timers. Included by <gzmq.h>; do not
 * include directly. */
#ifndef GZMQ_LIFETIME_H
#define GZMQ_LIFETIME_H

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scopes: a function's helpers never outlive it ---- */

typedef struct gz_scope gz_scope;
/* Open a scope owned by the calling greenlet (the owner). When the owner is
 * killed, the scope's members are killed too; an owner that ends without
 * closing it has its members killed (with a warning). NULL: ENOMEM. */
gz_scope *gz_scope_open(void);
/* Spawn fn(arg) as a member of S, from any greenlet of S's thread. The
 * greenlet is borrowed: the scope holds it until gz_scope_close.
 * NULL: EINVAL (NULL s or fn), EXDEV, ECANCELED (S is being cancelled: a
 * member failed, the owner was killed or the grace ran out), ENOMEM. */
gz_greenlet *gz_scope_spawn(gz_scope *s, gz_fn fn, void *arg);
/* Wait until every member of S has ended, then free S. The first member to
 * fail (gz_fail) kills the others at once; after GRACE seconds (negative:
 * never) the remaining members are killed; a kill of the owner, or an
 * expired gz_timeout of it, kills them too; killed members are always
 * waited for. 0 when every member succeeded; else -1 with errno = the first
 * failure's code (its message: gz_scope_error), ETIMEDOUT (grace ran out, or
 * a gz_timeout), ECANCELED (the owner was killed). Only the owner may close:
 * -1 EPERM otherwise (S stays open), as inside a link callback; EINVAL (NULL,
 * NaN grace), EXDEV. EDEADLK: killed members can never end (a shielded member
 * blocked forever): S is freed when the last ends. */
int gz_scope_close(gz_scope *s, double grace);
/* The first failure of the scope whose gz_scope_close on this thread last
 * returned -1 because a member failed (code and message, valid until the
 * next gz_scope_close of this thread); NULL when there is none. */
const gz_error *gz_scope_error(void);

/* ---- Cancellation shields ---- */

/* Until the matching gz_shield_end, a kill of the calling greenlet is held
 * back: its blocking calls work (gz_timeouts still fire) and a kill that
 * arrives is deferred. A greenlet killed before gz_shield_begin is shielded
 * too: that is how a killed greenlet sends its last message. Shields nest.
 * -1: ENOMEM (no hub), EOVERFLOW (nested UINT_MAX deep). */
int gz_shield_begin(void);
/* End the innermost shield. The outermost end delivers a held kill: -1
 * ECANCELED when the caller was killed before or while shielded (from then
 * on its blocking calls fail with ECANCELED). -1 EINVAL: no shield open. */
int gz_shield_end(void);

/* ---- Greenlet-local storage ---- */

typedef unsigned gz_key;
/* Keys are shared by every thread of the process; at most GZ_KEYS_MAX live
 * at once. */
#define GZ_KEYS_MAX 128
/* gz_key_create_flags: a spawned greenlet starts with its parent's value of
 * the key. The value is shared, not copied: the child never runs the
 * destructor on it (the parent's end does), so the parent must keep it alive
 * while children use it (a gz_scope does). */
#define GZ_KEY_INHERIT 1
/* Create a key; DESTRUCTOR (may be NULL) runs on each non-NULL value a
 * greenlet stored under the key when that greenlet ends, killed or not
 * (main's at thread exit), in that greenlet. Thread-safe.
 * -1: EINVAL (NULL key), EAGAIN (GZ_KEYS_MAX keys live). */
int gz_key_create(gz_key *key, void (*destructor)(void *value));
/* As gz_key_create, with FLAGS: 0 or GZ_KEY_INHERIT. -1 EINVAL (NULL key,
 * unknown flag), EAGAIN. */
int gz_key_create_flags(gz_key *key, void (*destructor)(void *value), int flags);
/* Delete KEY: values stored under it are forgotten, their destructors never
 * run. -1 EINVAL: not a live key (never created, or deleted). Deleting a key
 * while other threads still use it is undefined, as for pthread keys. */
int gz_key_delete(gz_key key);
/* The calling greenlet's value of KEY; NULL if it set none. NULL with
 * errno = EINVAL for a key that is not live. Takes a few nanoseconds. */
void *gz_getspecific(gz_key key);
/* Set the calling greenlet's value of KEY (storage is allocated on the first
 * set: greenlets that set nothing cost nothing). -1: EINVAL (not a live
 * key), ENOMEM. */
int gz_setspecific(gz_key key, void *value);

/* ---- Periodic timers ---- */

/* Spawn a greenlet calling fn(arg) every INTERVAL seconds, the first time
 * INTERVAL from now. Ticks keep to the schedule (start + k * interval), not
 * to when fn returned, so they never drift; ticks that passed while fn ran
 * are skipped, not bunched, and counted (gz_every_missed). Stops when fn
 * returns non-NULL (the greenlet's value) or when the greenlet is killed.
 * Returns it (gz_release it, or gz_kill to stop). NULL: EINVAL (NULL fn,
 * INTERVAL not a positive finite number), ENOMEM. */
gz_greenlet *gz_every(double interval, gz_fn fn, void *arg);
/* The ticks G, a running gz_every greenlet, has skipped so far (fn may ask
 * for its own: gz_every_missed(gz_current())). -1: EINVAL (NULL, not a
 * gz_every greenlet), ESRCH (it has ended), EXDEV. */
long long gz_every_missed(const gz_greenlet *g);

#ifdef __cplusplus
}
#endif
#endif
