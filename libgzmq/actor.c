/* gz_actor: a greenlet with an inbox queue, calling receive for each message
 * (the seed tutorial's Actor). The actor's end is caught by a link on its
 * greenlet, so the inbox is closed however it ends (receive said stop, a
 * gz_fail, a kill), and memory freed while it ran goes when it ends. */
#include <stdlib.h>

#include "gz_handoff.h"
#include "gzmq/actor.h"
#include "gzmq/sync.h"

struct gz_actor {
    gz_obj obj;
    int (*receive)(gz_actor *self, void *message);
    void *state;
    gz_queue *inbox;
    gz_greenlet *g;   /* the actor's own reference */
    bool freed;       /* gz_actor_free ran while g lived: its end frees us */
};

static void *run(void *arg)
{
    gz_actor *a = arg;
    void *msg;
    /* Ends when receive says so, or the inbox is closed and drained (stop),
     * or the greenlet is killed. */
    while (gz_queue_get(a->inbox, &msg, GZ_FOREVER) == 0)
        if (a->receive(a, msg) != 0)
            break;
    return NULL;
}

static void actor_dispose(gz_actor *a)
{
    gz_release(a->g);
    gz_queue_free(a->inbox);
    free(a);
}

static void ended(gz_greenlet *g, void *arg)
{
    gz_actor *a = arg;
    (void)g;
    gz_queue_close(a->inbox); /* later sends fail with EPIPE */
    if (a->freed)
        actor_dispose(a);
}

gz_actor *gz_actor_new(int (*receive)(gz_actor *self, void *message),
                       void *state, size_t inbox_max)
{
    if (!receive) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_actor *a = calloc(1, sizeof *a);
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(a, h, actor);
    a->receive = receive;
    a->state = state;
    a->inbox = gz_queue_new(inbox_max);
    a->g = a->inbox ? gz_greenlet_new(run, a) : NULL;
    if (!a->g) {
        int err = errno;
        gz_queue_free(a->inbox);
        free(a);
        errno = err;
        return NULL;
    }
    return a;
}

int gz_actor_start(gz_actor *a)
{
    GZ_CHECK_LIVE(a, actor);
    if (!gz__usable(a))
        return -1;
    if (gz_started(a->g))
        return 0;
    /* Linked only when started: a greenlet never started has no links to
     * leak when it is released. */
    if (gz__link(a->g, ended, a, false) != 0) /* bookkeeping, not observing */
        return -1;
    if (gz_start(a->g) != 0) {
        int err = errno;
        gz_kill(a->g, 0); /* ends it now: runs our link */
        errno = err;
        return -1;
    }
    return 0;
}

int gz_actor_send(gz_actor *a, void *message, double timeout)
{
    GZ_CHECK_LIVE(a, actor);
    if (!gz__usable(a))
        return -1;
    return gz_queue_put(a->inbox, message, timeout);
}

int gz_actor_stop(gz_actor *a, double timeout)
{
    GZ_CHECK_LIVE(a, actor);
    if (!gz__usable(a) || gz__check_timeout(timeout))
        return -1;
    gz_queue_close(a->inbox);
    if (!gz_started(a->g) || gz_ready(a->g) || a->g == gz_current())
        return 0;
    if (gz_join(a->g, timeout) == 0)
        return 0;
    gz_hub *h = gz__hub();
    if (errno != ETIMEDOUT || h->current->fired)
        return -1; /* the caller's own trouble: leave the actor be */
    gz_kill(a->g, GZ_FOREVER);
    errno = ETIMEDOUT;
    return -1;
}

void *gz_actor_state(const gz_actor *a)
{
    GZ_CHECK_LIVE(a, actor);
    return gz__usable(a) ? a->state : NULL;
}

gz_greenlet *gz_actor_greenlet(gz_actor *a)
{
    GZ_CHECK_LIVE(a, actor);
    return gz__usable(a) ? a->g : NULL;
}

void gz_actor_free(gz_actor *a)
{
    GZ_CHECK_LIVE(a, actor);
    if (!a || !gz__usable(a))
        return;
    GZ_MAGIC_KILL(a); /* the user's handle; the memory may outlive it */
    if (!gz_started(a->g) || gz_ready(a->g)) {
        actor_dispose(a);
        return;
    }
    a->freed = true;
    gz_kill(a->g, 0); /* its end (now, or when it next runs) frees A */
}
