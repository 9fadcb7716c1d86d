/* libgzmq: gz_select, one wait over ZeroMQ sockets, fds, queues, events,
 * results, greenlets and semaphores (Go's select; gevent's wait/iwait, but
 * over everything). Included by <gzmq.h>; do not include directly. Needs no
 * zmq.h: a ZeroMQ socket is a void *. */
#ifndef GZMQ_SELECT_H
#define GZMQ_SELECT_H

#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a case waits for, and what its obj is:
 *  GZ_ZMQ_IN / GZ_ZMQ_OUT  a ZeroMQ socket can receive / send
 *  GZ_FD_IN / GZ_FD_OUT    fd (obj unused) is readable / writable
 *  GZ_GET                  take an item from a gz_queue or gz_tqueue into item
 *  GZ_PUT                  put item into a gz_queue or gz_tqueue
 *  GZ_EVENT                a gz_event is set
 *  GZ_RESULT               a gz_result is ready: item = its value, err = its
 *                          exception's code (0: a value)
 *  GZ_JOIN                 a gz_greenlet has ended
 *  GZ_ACQUIRE              take a unit of a gz_sem */
enum { GZ_ZMQ_IN = 1, GZ_ZMQ_OUT, GZ_FD_IN, GZ_FD_OUT, GZ_GET, GZ_PUT,
       GZ_EVENT, GZ_RESULT, GZ_JOIN, GZ_ACQUIRE };

typedef struct gz_case {
    int   op;    /* one of the above */
    void *obj;   /* zmq socket, gz_queue, gz_event, gz_result, gz_greenlet, gz_sem */
    int   fd;    /* GZ_FD_IN / GZ_FD_OUT */
    void *item;  /* GZ_PUT: in; GZ_GET, GZ_RESULT: out */
    int   err;   /* out: 0 or that case's own error (EPIPE, ENOTSOCK, a result's code) */
} gz_case;       /* more members may follow; callers zero-initialise */

/* Wait until one of the N CASES is ready and take it: returns its index i,
 * with cases[i].err = 0 or that case's own error (EPIPE: the queue was
 * closed and is empty, or the object freed; ENOTSOCK: gz_zmq_close closed
 * the socket; EBADF: gz_close closed the fd; ECANCELED: the greenlet was
 * released unstarted; a result's exception code; a ZeroMQ socket's errno).
 * Exactly one consuming case (GET, PUT, ACQUIRE) takes effect; the ZMQ and
 * FD cases report readiness: a ZMQ_DONTWAIT (non-blocking) send or recv made
 * before the caller next yields succeeds. When several cases are ready, the
 * lowest index wins: rotate the array between calls for fairness. One
 * exception keeps a request-reply loop at libzmq's speed: a GZ_ZMQ_IN socket
 * that has sent since its last receive, when that receive had to wait, is
 * looked at after the other cases (its answer comes from a peer yet to
 * run); it is never missed, only not preferred at entry. Waiters
 * are served in FIFO order with plain waiters (gz_queue_get ...).
 * -1: ETIMEDOUT (TIMEOUT passed, or a gz_timeout), ECANCELED, EPERM, EINVAL
 * (NULL CASES with N > 0, an unknown op, a NULL object, a negative fd, a
 * NaN timeout), EXDEV (another thread's object), EDEADLK (no case can ever
 * become ready: a greenlet joining itself, N == 0, with no timeout), ENOMEM. */
int gz_select(gz_case *cases, size_t n, double timeout);

#ifdef __cplusplus
}
#endif

#endif
