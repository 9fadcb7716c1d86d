/* What gz_select (select.c) needs of each object it waits on, written by
 * the object's own module. Never installed.
 *
 * For each kind: _check refuses a case that cannot be used (0, or -1 with
 * EINVAL / EXDEV; in DEBUG builds a freed object aborts); _try takes the
 * case if it is ready now (true: done, c->item / c->err filled); _link
 * parks W (g and claim set; GZ_PUT: data = the item) on the list a plain
 * waiter of that op would wait on, so that hand-off order is shared with
 * plain waiters: false when the case can never become ready. What a woken
 * waiter carries is read by select.c as for the plain call (data: a GET's
 * item, a result's value; flags: a result's code). */
#ifndef GZ_SELECT_H
#define GZ_SELECT_H

#include "gz_internal.h"
#include "gzmq/select.h"
#include "gzmq/sync.h"
#include "gzmq/post.h"

int gz__queue_select_check(gz_queue *q);
bool gz__queue_select_try(gz_queue *q, gz_case *c);
bool gz__queue_select_link(gz_queue *q, gz_case *c, gz_waiter *w);

/* tqueue.c. A GZ_GET / GZ_PUT case's obj is a gz_tqueue when its gz_obj
 * says so (every object starts with one), else a gz_queue. */
static inline bool gz__is_tqueue(const void *obj)
{
    return obj && ((const gz_obj *)obj)->kind == GZ_KIND_tqueue;
}
int gz__tqueue_select_check(gz_tqueue *q);
bool gz__tqueue_select_try(gz_tqueue *q, gz_case *c);
bool gz__tqueue_select_link(gz_tqueue *q, gz_case *c, gz_waiter *w);

int gz__event_select_check(gz_event *e);
bool gz__event_select_try(gz_event *e, gz_case *c);
bool gz__event_select_link(gz_event *e, gz_case *c, gz_waiter *w);

int gz__result_select_check(gz_result *r);
bool gz__result_select_try(gz_result *r, gz_case *c);
bool gz__result_select_link(gz_result *r, gz_case *c, gz_waiter *w);

int gz__sem_select_check(gz_sem *s);
bool gz__sem_select_try(gz_sem *s, gz_case *c);
bool gz__sem_select_link(gz_sem *s, gz_case *c, gz_waiter *w);

int gz__greenlet_select_check(gz_greenlet *g);
bool gz__greenlet_select_try(gz_greenlet *g, gz_case *c);
bool gz__greenlet_select_link(gz_greenlet *g, gz_case *c, gz_waiter *w);

/* zmq.c. A socket case waits on the socket's pollers list, as gz_zmq_poll
 * does, so the zmq layer's waking (the edge rule) serves it. */
/* Can SOCK send (OUT) / receive now? 1, 0, or -1 with errno: the socket's
 * error, or ENOTSOCK when gz_zmq_close closed it under W (W may be NULL). */
int gz__zmq_select_ready(gz_hub *h, void *sock, bool out, gz_waiter *w);
/* Park W on SOCK's pollers: 0, or -1 with errno (ENOMEM, ENOTSUP, ...). */
/* Rule 2 of zmq.c (deferred recv) for a GZ_ZMQ_IN case at entry: SOCK
 * has sent since its last receive, which had to wait, so its answer comes
 * from a peer that has yet to run; reading ZMQ_EVENTS now would put
 * libzmq's pipe reader to sleep and cost the peer's send a wakeup. */
bool gz__zmq_select_deferred(gz_hub *h, void *sock);
int gz__zmq_select_link(gz_hub *h, void *sock, bool out, gz_waiter *w);
/* Take W off SOCK (stopping its watcher if W was the last waiter). */
void gz__zmq_select_unlink(gz_hub *h, void *sock, gz_waiter *w);

#endif
