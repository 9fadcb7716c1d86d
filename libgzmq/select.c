/* gz_select: one wait over ZeroMQ sockets, fds, queues, events, results,
 * greenlets and semaphores.
 *
 * The selecting greenlet parks one waiter per case on the list a plain
 * waiter of that case would use (the queue's getters, the socket's
 * pollers...), all sharing one gz_claim. The first waker to find the
 * greenlet parked records its waiter in the claim and wakes it; from then
 * on the greenlet is no longer parked, so every other hand-off skips its
 * other waiters exactly as it skips a waiter that timed out or was killed:
 * a consuming case (GET, PUT, ACQUIRE) takes effect once, and FIFO order
 * with plain waiters holds. ZeroMQ and fd cases are woken for readiness,
 * not handed anything: after such a wake every case is looked at again. */
#include <stdlib.h>

#include "gz_select.h"

/* One case's waiter: on a list (queue, event, result, greenlet, sem, a
 * socket's pollers) or an fd watcher. */
typedef struct sel_node {
    gz_waiter w;
    gz_fdwait fw;
    bool on; /* parked: linked or watching */
} sel_node;

/* Refuse what no wait can use: 0, or -1 with EINVAL / EXDEV. */
static int check_case(const gz_case *c)
{
    switch (c->op) {
    case GZ_ZMQ_IN:
    case GZ_ZMQ_OUT:
        if (c->obj)
            return 0;
        break;
    case GZ_FD_IN:
    case GZ_FD_OUT:
        if (c->fd >= 0)
            return 0;
        break;
    case GZ_GET:
    case GZ_PUT:
        if (gz__is_tqueue(c->obj))
            return gz__tqueue_select_check(c->obj);
        return gz__queue_select_check(c->obj);
    case GZ_EVENT:
        return gz__event_select_check(c->obj);
    case GZ_RESULT:
        return gz__result_select_check(c->obj);
    case GZ_JOIN:
        return gz__greenlet_select_check(c->obj);
    case GZ_ACQUIRE:
        return gz__sem_select_check(c->obj);
    default:
        break;
    }
    errno = EINVAL;
    return -1;
}

/* Take C if it is ready now; a case in error (C->err) counts as ready. */
GZ_INLINE bool try_case(gz_hub *h, gz_case *c, sel_node *nd)
{
    int r;
    switch (c->op) {
    case GZ_ZMQ_IN:
        if (!nd && gz__zmq_select_deferred(h, c->obj))
            return false; /* looked at once the others have run */
        /* fall through */
    case GZ_ZMQ_OUT:
        r = gz__zmq_select_ready(h, c->obj, c->op == GZ_ZMQ_OUT, nd ? &nd->w : NULL);
        break;
    case GZ_FD_IN:
    case GZ_FD_OUT:
        if (nd && nd->on && nd->fw.closed) {
            errno = EBADF;
            r = -1;
        } else {
            r = gz__fd_ready_now(c->fd, c->op == GZ_FD_IN ? POLLIN : POLLOUT);
        }
        break;
    case GZ_GET:
    case GZ_PUT:
        if (gz__is_tqueue(c->obj))
            return gz__tqueue_select_try(c->obj, c);
        return gz__queue_select_try(c->obj, c);
    case GZ_EVENT:
        return gz__event_select_try(c->obj, c);
    case GZ_RESULT:
        return gz__result_select_try(c->obj, c);
    case GZ_JOIN:
        return gz__greenlet_select_try(c->obj, c);
    default:
        return gz__sem_select_try(c->obj, c);
    }
    if (r < 0)
        c->err = errno;
    return r != 0;
}

/* The lowest index of a case ready now (taken), or -1. */
GZ_INLINE int scan(gz_hub *h, gz_case *cases, size_t n, sel_node *nd)
{
    for (size_t i = 0; i < n; i++)
        if (try_case(h, &cases[i], nd ? &nd[i] : NULL))
            return (int)i;
    return -1;
}

/* Park ND's waiter for C unless it is parked already: 1 parked, 0 the case
 * can never be ready, -1 with errno (C->err set: the case failed). */
static int park_case(gz_hub *h, gz_case *c, sel_node *nd)
{
    bool ok = true;
    switch (c->op) {
    case GZ_ZMQ_IN:
    case GZ_ZMQ_OUT:
        if (nd->on)
            return 1;
        if (gz__zmq_select_link(h, c->obj, c->op == GZ_ZMQ_OUT, &nd->w) != 0) {
            c->err = errno;
            return -1;
        }
        break;
    case GZ_FD_IN:
    case GZ_FD_OUT:
        if (nd->on)
            return 1;
        if (gz__fdwait_start(h, &nd->fw, c->fd, c->op == GZ_FD_IN ? EV_READ : EV_WRITE) != 0)
            return -1;
        break;
    default:
        /* A hand-off that skipped this greenlet (woken by another case)
         * has unlinked the waiter: park it again, at the back. */
        if (nd->on && gz__list_linked(&nd->w.node))
            return 1;
        if ((c->op == GZ_GET || c->op == GZ_PUT) && gz__is_tqueue(c->obj))
            ok = gz__tqueue_select_link(c->obj, c, &nd->w);
        else if (c->op == GZ_GET || c->op == GZ_PUT)
            ok = gz__queue_select_link(c->obj, c, &nd->w);
        else if (c->op == GZ_EVENT)
            ok = gz__event_select_link(c->obj, c, &nd->w);
        else if (c->op == GZ_RESULT)
            ok = gz__result_select_link(c->obj, c, &nd->w);
        else if (c->op == GZ_JOIN)
            ok = gz__greenlet_select_link(c->obj, c, &nd->w);
        else
            ok = gz__sem_select_link(c->obj, c, &nd->w);
        break;
    }
    nd->on = ok;
    return ok;
}

static void unpark_case(gz_hub *h, const gz_case *c, sel_node *nd)
{
    if (!nd->on)
        return;
    nd->on = false;
    if (c->op == GZ_ZMQ_IN || c->op == GZ_ZMQ_OUT)
        gz__zmq_select_unlink(h, c->obj, &nd->w);
    else if (c->op == GZ_FD_IN || c->op == GZ_FD_OUT)
        gz__fdwait_stop(h, &nd->fw);
    else
        gz__list_remove(&nd->w.node);
}

/* Case I was handed what it waited for (or its error) by the waiter W. */
static int fired(gz_case *c, const gz_waiter *w, int code, int i)
{
    if (c->op == GZ_GET || c->op == GZ_RESULT)
        c->item = w->data;
    c->err = code ? code : c->op == GZ_RESULT ? w->flags : 0;
    return i;
}

/* Nothing was ready at entry: park on every case until one fires. Kept
 * out of gz_select, whose path through a ready case stays short. */
static __attribute__((noinline)) int select_wait(gz_hub *h, gz_case *cases,
                                                 size_t n, double deadline)
{
    sel_node local[4];
    sel_node *nd = n <= 4 ? local : malloc(n * sizeof *nd);
    if (!nd) {
        errno = ENOMEM;
        return -1;
    }
    gz_claim claim = {0};
    int rc = -1, e = 0;
    size_t parked = 0;
    bool held = false;
    for (size_t i = 0; i < n; i++) { /* the fd watcher is set up when used */
        /* Another thread may put into a gz_tqueue (news for a get) or
         * close it (news for a put too): the loop is not idle. */
        if (!held && (cases[i].op == GZ_GET || cases[i].op == GZ_PUT) &&
            gz__is_tqueue(cases[i].obj)) {
            held = true;
            gz__hold(h);
        }
        nd[i].w.node.next = NULL;
        nd[i].w.g = h->current;
        nd[i].w.data = NULL;
        nd[i].w.flags = 0;
        nd[i].w.claim = &claim;
        nd[i].on = false;
    }
    for (;;) {
        parked = 0;
        for (size_t i = 0; i < n; i++) {
            int p = park_case(h, &cases[i], &nd[i]);
            if (p < 0) {
                rc = cases[i].err ? (int)i : -1;
                e = errno;
                goto out;
            }
            parked += (size_t)p;
        }
        if (parked == 0 && deadline == GZ_NEVER) {
            e = EDEADLK; /* only joins of itself: nothing can ever fire */
            goto out;
        }
        claim.by = NULL;
        int prc = gz__park_until(h, deadline, "gz_select", cases);
        e = errno;
        if (claim.by) {
            sel_node *f = GZ_CONTAINER(claim.by, sel_node, w);
            size_t i = (size_t)(f - nd);
            int op = cases[i].op;
            /* A socket's closing is its news; its readiness is looked at
             * again below, as it may be gone by now. */
            if (claim.code || (op != GZ_ZMQ_IN && op != GZ_ZMQ_OUT)) {
                rc = fired(&cases[i], claim.by, claim.code, (int)i);
                goto out;
            }
        }
        if (prc != 0 && e != EBADF)
            goto out; /* ETIMEDOUT, ECANCELED, EDEADLK */
        if (prc == 0 && gz__enter(h) != 0) {
            e = errno;
            goto out;
        }
        if ((rc = scan(h, cases, n, nd)) >= 0)
            goto out;
    }
out:
    for (size_t i = 0; i < n; i++)
        unpark_case(h, &cases[i], &nd[i]);
    if (held)
        gz__unhold(h);
    if (nd != local)
        free(nd);
    errno = e;
    return rc;
}

int gz_select(gz_case *cases, size_t n, double timeout)
{
    if (!cases && n) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, timeout))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (check_case(&cases[i]) != 0)
            return -1;
        cases[i].err = 0;
    }
    int rc = scan(h, cases, n, NULL);
    if (rc >= 0) {
        /* The fairness yield would break a readiness report's promise (the
         * caller's next send / recv succeeds); that call counts instead. */
        if (cases[rc].op > GZ_FD_OUT)
            gz__no_wait(h);
        return rc;
    }
    if (timeout == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return select_wait(h, cases, n, gz__deadline(h, timeout));
}
