/* gz_event: a flag that greenlets wait on (gevent.event.Event). Setting it
 * wakes every waiter at once; a woken waiter returns 0 even if the event is
 * cleared before it runs, as in gevent. */
#include <stdlib.h>

#include "gz_handoff.h"
#include "gz_select.h"
#include "gzmq/sync.h"

struct gz_event {
    gz_obj obj;
    gz_list waiters; /* gz_waiter */
    bool set;
};

gz_event *gz_event_new(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_event *e = malloc(sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    gz__list_init(&e->waiters);
    e->set = false;
    GZ_OBJ_INIT(e, h, event);
    return e;
}

void gz_event_free(gz_event *e)
{
    GZ_CHECK_LIVE(e, event);
    if (!e || !gz__usable(e))
        return;
    gz__wake_all(&e->waiters, EPIPE);
    GZ_MAGIC_KILL(e);
    free(e);
}

void gz_event_set(gz_event *e)
{
    GZ_CHECK_LIVE(e, event);
    if (!gz__usable(e))
        return;
    e->set = true;
    gz__wake_all(&e->waiters, 0);
}

void gz_event_clear(gz_event *e)
{
    GZ_CHECK_LIVE(e, event);
    if (gz__usable(e))
        e->set = false;
}

bool gz_event_is_set(const gz_event *e)
{
    GZ_CHECK_LIVE(e, event);
    return gz__usable(e) && e->set;
}

int gz_event_wait(gz_event *e, double timeout)
{
    GZ_CHECK_LIVE(e, event);
    gz_hub *h = gz__begin(e, timeout);
    if (!h)
        return -1;
    if (e->set) {
        gz__no_wait(h);
        return 0;
    }
    gz_waiter w = {.g = h->current};
    return gz__wait_on(h, &e->waiters, &w, timeout, "gz_event_wait", e);
}

/* ---- gz_select (gz_select.h) ---- */

int gz__event_select_check(gz_event *e)
{
    GZ_CHECK_LIVE_IN(e, event, "gz_select");
    return gz__usable(e) ? 0 : -1;
}

bool gz__event_select_try(gz_event *e, gz_case *c)
{
    (void)c;
    return e->set;
}

bool gz__event_select_link(gz_event *e, gz_case *c, gz_waiter *w)
{
    (void)c;
    gz__list_push(&e->waiters, &w->node);
    return true;
}
