/* gz_sem: counting and bounded semaphores (gevent.lock.Semaphore,
 * BoundedSemaphore). A release with waiters hands its unit to the first
 * one instead of raising the count, so the value stays 0 while anyone waits
 * and a greenlet that did not wait cannot take the unit first. */
#include <limits.h>
#include <stdlib.h>

#include "gz_handoff.h"
#include "gz_select.h"
#include "gzmq/sync.h"

struct gz_sem {
    gz_obj obj;
    gz_list waiters; /* gz_waiter */
    unsigned value;
    unsigned max;    /* bounded: the start value */
    bool bounded;
};

static gz_sem *sem_create(unsigned value, bool bounded)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_sem *s = malloc(sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(s, h, sem);
    gz__list_init(&s->waiters);
    s->value = value;
    s->max = value;
    s->bounded = bounded;
    return s;
}

gz_sem *gz_sem_new(unsigned value) { return sem_create(value, false); }
gz_sem *gz_bounded_sem_new(unsigned value) { return sem_create(value, true); }

void gz_sem_free(gz_sem *s)
{
    GZ_CHECK_LIVE(s, sem);
    if (!s || !gz__usable(s))
        return;
    gz__wake_all(&s->waiters, EPIPE);
    GZ_MAGIC_KILL(s);
    free(s);
}

int gz_sem_acquire(gz_sem *s, double timeout)
{
    GZ_CHECK_LIVE(s, sem);
    gz_hub *h = gz__begin(s, timeout);
    if (!h)
        return -1;
    if (s->value > 0) {
        s->value--;
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    return gz__wait_on(h, &s->waiters, &w, timeout, "gz_sem_acquire", s); /* 0: a unit was handed over */
}

int gz_sem_release(gz_sem *s)
{
    GZ_CHECK_LIVE(s, sem);
    if (!gz__usable(s))
        return -1;
    if ((s->bounded && s->value >= s->max) || s->value == UINT_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    gz_waiter *w = gz__first_parked(&s->waiters);
    if (w)
        gz__hand_off(w, NULL, 0);
    else
        s->value++;
    return 0;
}

unsigned gz_sem_value(const gz_sem *s)
{
    GZ_CHECK_LIVE(s, sem);
    return gz__usable(s) ? s->value : 0;
}

/* ---- gz_select (gz_select.h) ---- */

int gz__sem_select_check(gz_sem *s)
{
    GZ_CHECK_LIVE_IN(s, sem, "gz_select");
    return gz__usable(s) ? 0 : -1;
}

bool gz__sem_select_try(gz_sem *s, gz_case *c)
{
    (void)c;
    if (s->value == 0)
        return false;
    s->value--;
    return true;
}

bool gz__sem_select_link(gz_sem *s, gz_case *c, gz_waiter *w)
{
    (void)c;
    gz__list_push(&s->waiters, &w->node);
    return true;
}
