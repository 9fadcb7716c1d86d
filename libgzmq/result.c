/* gz_result: a value or an exception delivered once to any number of
 * waiters (gevent.event.AsyncResult). The outcome is handed to each waiter
 * when it is set, so a waiter never reads the result after it wakes: the
 * result may be set again, or freed, before the waiter runs. */
#include <stdlib.h>
#include <string.h>

#include "gz_handoff.h"
#include "gz_select.h"
#include "gzmq/sync.h"

struct gz_result {
    gz_obj obj;
    gz_list waiters; /* gz_waiter: data = value, flags = error code or 0 */
    bool ready;
    bool failed;
    void *value;
    gz_error err;
};

gz_result *gz_result_new(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_result *r = calloc(1, sizeof *r);
    if (!r) {
        errno = ENOMEM;
        return NULL;
    }
    gz__list_init(&r->waiters);
    GZ_OBJ_INIT(r, h, result);
    return r;
}

static void clear_error(gz_result *r)
{
    if (r->failed && r->err.message[0])
        free((char *)r->err.message);
    r->failed = false;
    r->err.code = 0;
    r->err.message = NULL;
}

void gz_result_free(gz_result *r)
{
    GZ_CHECK_LIVE(r, result);
    if (!r || !gz__usable(r))
        return;
    gz__wake_all(&r->waiters, EPIPE);
    clear_error(r);
    GZ_MAGIC_KILL(r);
    free(r);
}

/* Hand the outcome to every parked waiter. */
static void deliver(gz_result *r)
{
    r->ready = true;
    gz_waiter *w;
    while ((w = gz__first_parked(&r->waiters)))
        gz__hand_off(w, r->value, r->failed ? r->err.code : 0);
}

void gz_result_set(gz_result *r, void *value)
{
    GZ_CHECK_LIVE(r, result);
    if (!gz__usable(r))
        return;
    clear_error(r);
    r->value = value;
    deliver(r);
}

void gz_result_set_exception(gz_result *r, int code, const char *message)
{
    GZ_CHECK_LIVE(r, result);
    if (!gz__usable(r))
        return;
    clear_error(r);
    char *copy = message && message[0] ? strdup(message) : NULL;
    r->failed = true;
    r->err.code = code ? code : EIO;
    r->err.message = copy ? copy : ""; /* out of memory: no message */
    r->value = NULL;
    deliver(r);
}

/* Wait for the outcome: 0 with *value and *code (0 or the exception's). */
static int wait_outcome(gz_result *r, void **value, int *code, double timeout)
{
    gz_hub *h = gz__begin(r, timeout);
    if (!h)
        return -1;
    if (r->ready) {
        gz__no_wait(h);
        *value = r->value;
        *code = r->failed ? r->err.code : 0;
        return 0;
    }
    gz_waiter w = {.g = h->current};
    if (gz__wait_on(h, &r->waiters, &w, timeout, "gz_result_get", r) != 0)
        return -1;
    *value = w.data;
    *code = w.flags;
    return 0;
}

int gz_result_get(gz_result *r, void **value, double timeout)
{
    GZ_CHECK_LIVE(r, result);
    void *v;
    int code;
    if (wait_outcome(r, &v, &code, timeout) != 0)
        return -1;
    if (code) {
        errno = code;
        return -1;
    }
    if (value)
        *value = v;
    return 0;
}

int gz_result_wait(gz_result *r, double timeout)
{
    GZ_CHECK_LIVE(r, result);
    void *v;
    int code;
    return wait_outcome(r, &v, &code, timeout);
}

bool gz_result_ready(const gz_result *r)
{
    GZ_CHECK_LIVE(r, result);
    return gz__usable(r) && r->ready;
}

bool gz_result_successful(const gz_result *r)
{
    GZ_CHECK_LIVE(r, result);
    return gz__usable(r) && r->ready && !r->failed;
}

const gz_error *gz_result_exception(const gz_result *r)
{
    GZ_CHECK_LIVE(r, result);
    return gz__usable(r) && r->failed ? &r->err : NULL;
}

/* ---- gz_select (gz_select.h) ---- */

int gz__result_select_check(gz_result *r)
{
    GZ_CHECK_LIVE_IN(r, result, "gz_select");
    return gz__usable(r) ? 0 : -1;
}

bool gz__result_select_try(gz_result *r, gz_case *c)
{
    if (!r->ready)
        return false;
    c->item = r->value;
    c->err = r->failed ? r->err.code : 0;
    return true;
}

bool gz__result_select_link(gz_result *r, gz_case *c, gz_waiter *w)
{
    (void)c;
    gz__list_push(&r->waiters, &w->node);
    return true;
}
