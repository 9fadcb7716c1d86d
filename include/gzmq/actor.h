/* libgzmq: actors, a greenlet receiving from an inbox of messages.
 * Included by <gzmq.h>; do not include directly.
 *
 * Blocking calls below also fail with the errors common to blocking calls
 * (see gzmq/core.h): ECANCELED, ETIMEDOUT (a gz_timeout), EDEADLK, EPERM,
 * and EINVAL for a NULL object or a NaN timeout.
 *
 * Every function taking an actor refuses one of another thread: EXDEV: the
 * object belongs to another thread's hub. Functions returning nothing then
 * do nothing and leave errno = EXDEV (gz_actor_free ignores NULL); queries
 * give their answer for NULL (with errno EINVAL for NULL). */
#ifndef GZMQ_ACTOR_H
#define GZMQ_ACTOR_H

#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gz_actor gz_actor;
/* An actor: a greenlet (created, not started) taking messages from an inbox
 * of at most INBOX_MAX messages (0 = unbounded) and calling receive(self,
 * message) for each; receive returns 0 to go on, non-zero to stop. Messages
 * are the caller's pointers. NULL: EINVAL (NULL receive), ENOMEM. */
gz_actor *gz_actor_new(int (*receive)(gz_actor *self, void *message),
                       void *state, size_t inbox_max);
/* Start the actor's greenlet; 0 if already started. -1: EINVAL (NULL). */
int gz_actor_start(gz_actor *a);
/* Put MESSAGE in the inbox, waiting while it is full (it may be sent before
 * the start). -1: EINVAL, EPIPE (stopped or ended), ETIMEDOUT, the common
 * blocking errors. */
int gz_actor_send(gz_actor *a, void *message, double timeout);
/* Close the inbox: messages already sent are still received, then the actor
 * ends. Waits up to TIMEOUT for that; past it the actor is killed and -1
 * ETIMEDOUT is returned (it has then ended). 0 at once when called by the
 * actor itself or when it never started. -1 also: EINVAL (NULL, NaN: the
 * inbox stays open), the caller's blocking errors (the inbox is closed
 * before the wait: it stays closed). */
int gz_actor_stop(gz_actor *a, double timeout);
/* The STATE given to gz_actor_new (NULL for NULL). */
void *gz_actor_state(const gz_actor *a);
/* The actor's greenlet, borrowed: valid until gz_actor_free, not to release
 * (join it, get it, read its exception). NULL for NULL. */
gz_greenlet *gz_actor_greenlet(gz_actor *a);
/* Free A (NULL is ignored); a running actor is killed first and the memory
 * goes when its greenlet has ended. Unreceived messages are dropped. */
void gz_actor_free(gz_actor *a);

#ifdef __cplusplus
}
#endif
#endif
