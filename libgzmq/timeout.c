/* gz_timeout: a deadline armed for one greenlet. Once it expires, every
 * blocking call of that greenlet fails with ETIMEDOUT until it is
 * cancelled; nested timeouts are independent, so an inner one can never
 * extend an outer one. */
#include <stdlib.h>

#include "gz_internal.h"

struct gz_timeout {
    gz_obj obj;
    gz_timer timer;
    gz_list node;       /* in owner->timeouts */
    gz_greenlet *owner; /* NULL once the owner ended */
    bool fired;
};

static void expired(gz_timer *tm)
{
    gz_timeout *t = GZ_CONTAINER(tm, gz_timeout, timer);
    t->fired = true;
    if (t->owner) {
        t->owner->fired++;
        gz__wake(t->owner, ETIMEDOUT);
    }
}

gz_timeout *gz_timeout_start(double seconds)
{
    gz_hub *h = gz__hub();
    if (!h || gz__check_timeout(seconds))
        return NULL;
    gz_timeout *t = calloc(1, sizeof *t);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->owner = h->current;
    GZ_OBJ_INIT(t, h, timeout);
    t->timer.cb = expired;
    gz__list_push(&t->owner->timeouts, &t->node);
    if (seconds >= 0)
        gz__timer_start_at(&t->timer, gz__deadline(h, seconds));
    return t;
}

static void disarm(gz_timeout *t)
{
    if (gz__timer_active(&t->timer))
        gz__timer_stop(&t->timer);
    if (t->owner && t->fired)
        t->owner->fired--;
    gz__list_remove(&t->node);
    t->owner = NULL;
}

void gz_timeout_cancel(gz_timeout *t)
{
    GZ_CHECK_LIVE(t, timeout);
    if (!t || gz__check_hub(t->obj.hub, gz__hub_peek()))
        return;
    disarm(t);
    GZ_MAGIC_KILL(t);
    free(t);
}

bool gz_timeout_fired(const gz_timeout *t)
{
    GZ_CHECK_LIVE(t, timeout);
    if (!t) {
        errno = EINVAL;
        return false;
    }
    return gz__check_hub(t->obj.hub, gz__hub_peek()) == 0 && t->fired;
}

void gz__timeouts_disarm(gz_greenlet *g)
{
    gz_list *n;
    if (GZ_LIKELY(gz__list_empty(&g->timeouts)))
        return;
    while ((n = g->timeouts.next) != &g->timeouts)
        disarm(GZ_CONTAINER(n, gz_timeout, node));
}

int gz_with_timeout(double seconds, gz_fn fn, void *arg, void **value)
{
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    gz_timeout *t = gz_timeout_start(seconds);
    if (!t)
        return -1;
    void *v = fn(arg);
    bool fired = t->fired;
    gz_timeout_cancel(t);
    if (fired) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (value)
        *value = v;
    return 0;
}
