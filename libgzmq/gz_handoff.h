/* Hand-off helpers shared by the waiting primitives (event, result, queue,
 * sem, pool, actor). Never installed. */
#ifndef GZ_HANDOFF_H
#define GZ_HANDOFF_H

#include "gz_internal.h"

/* Unlink and return the first waiter of LIST still parked, to hand it
 * something (an item, a unit). A waiter already made ready by its timeout or
 * a kill is unlinked and skipped: its call fails anyway, and what was handed
 * to it would be lost. NULL when no waiter is left. */
static inline gz_waiter *gz__first_parked(gz_list *list)
{
    gz_list *n;
    while ((n = gz__list_pop(list))) {
        gz_waiter *w = GZ_CONTAINER(n, gz_waiter, node);
        if (w->g->state == GZ_PARKED)
            return w;
    }
    return NULL;
}

/* Give W its due (DATA, FLAGS) and wake it with success. */
static inline void gz__hand_off(gz_waiter *w, void *data, int flags)
{
    w->data = data;
    w->flags = flags;
    gz__wake_waiter(w, 0);
}

/* The gz_obj of P, an object pointer that may be NULL. */
#define GZ_OBJ_OF(p) ((p) ? &(p)->obj : NULL)

/* The common start of a blocking call on object P (with a gz_obj): the
 * caller's hub, or NULL with errno (EINVAL for a NULL object or NaN timeout,
 * EXDEV for another thread's object, then gz__check_entry's). */
#define gz__begin(p, timeout) gz__begin_obj(GZ_OBJ_OF(p), (timeout))
static inline gz_hub *gz__begin_obj(const gz_obj *o, double timeout)
{
    if (!o) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub_peek();
    if (gz__check_hub(o->hub, h) || gz__check_entry(h, timeout))
        return NULL;
    return h;
}

/* The start of a call on object P (as for gz__begin) that does not block:
 * false with errno EINVAL (NULL) or EXDEV (another thread's object). */
#define gz__usable(p) gz__usable_obj(GZ_OBJ_OF(p))
static inline bool gz__usable_obj(const gz_obj *o)
{
    if (!o) {
        errno = EINVAL;
        return false;
    }
    return gz__check_hub(o->hub, gz__hub_peek()) == 0;
}

/* Park the current greenlet on LIST with W (already filled) and unlink it
 * afterwards. Returns gz__park's result; -1 ETIMEDOUT at once for a zero
 * timeout (a call that would have to wait). KIND, OBJ: as gz__park_until. */
static inline int gz__wait_on(gz_hub *h, gz_list *list, gz_waiter *w,
                              double timeout, const char *kind, const void *obj)
{
    if (timeout == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    gz__list_push(list, &w->node);
    int rc = gz__park(h, timeout, kind, obj);
    gz__list_remove(&w->node);
    return rc;
}

#endif
