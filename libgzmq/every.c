/* Periodic timers: a greenlet that sleeps until each tick of a fixed
 * schedule. Ticks are counted from the start, never from when fn returned,
 * so that the time fn takes does not add up into drift. */

#include <math.h>
#include <stdlib.h>

#include "gz_internal.h"
#include "gzmq/lifetime.h"

typedef struct every {
    gz_fn fn;
    void *arg;
    double interval;
    double start;
    long long missed;
} every;

static void *every_main(void *arg)
{
    every *e = arg;
    gz_hub *h = gz__hub_peek();
    gz_greenlet *me = h->current;
    double k = 1; /* the tick waited for: at start + k * interval */
    for (;;) {
        if (gz__enter(h) != 0)
            return NULL; /* killed, or a gz_timeout fn left armed fired */
        if (gz__park_until(h, e->start + k * e->interval, "gz_every", e) != 0 &&
            !(errno == ETIMEDOUT && !me->fired))
            return NULL;
        void *r = e->fn(e->arg);
        if (r)
            return r;
        ev_now_update(h->loop);
        /* The first tick not yet passed; those fn overran are skipped. */
        double next = ceil((ev_now(h->loop) - e->start) / e->interval);
        if (next <= k)
            next = k + 1;
        e->missed += (long long)(next - k - 1);
        k = next;
    }
}

static void every_ended(gz_greenlet *g, void *arg)
{
    (void)g;
    free(arg);
}

gz_greenlet *gz_every(double interval, gz_fn fn, void *arg)
{
    if (!fn || !(interval > 0) || !isfinite(interval)) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    every *e = malloc(sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    ev_now_update(h->loop);
    *e = (every){.fn = fn, .arg = arg, .interval = interval,
                 .start = ev_now(h->loop)};
    gz_greenlet *g = gz_greenlet_new(every_main, e);
    if (!g || gz__link(g, every_ended, e, false) != 0 || gz_start(g) != 0) {
        int err = errno;
        if (g)
            gz_release(g); /* never started: a link it has goes with it */
        free(e); /* never run: its link never ran either */
        errno = err;
        return NULL;
    }
    return g;
}

long long gz_every_missed(const gz_greenlet *g)
{
    GZ_CHECK_LIVE(g, greenlet);
    if (!g || g->fn != every_main) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(g->obj.hub, gz__hub_peek()))
        return -1;
    if (g->state == GZ_DEAD) { /* its state went with it */
        errno = ESRCH;
        return -1;
    }
    return ((const every *)g->arg)->missed;
}
