/* libgzmq green ZeroMQ: libzmq's blocking calls, blocking only the calling
 * greenlet. Same signatures, return values and errno as libzmq, so porting
 * blocking ZeroMQ code is adding the gz_ prefix. Included by <gzmq.h>; do not
 * include directly.
 *
 * Beyond libzmq's own errors, a call that has to wait fails with ETIMEDOUT (a
 * gz_timeout of the caller expired), ECANCELED (the caller was killed),
 * EPERM (inside a link callback), ENOTSOCK (gz_zmq_close closed the socket
 * under it), ETERM (the context was shut down or terminated) and ENOTSUP
 * (a thread-safe socket type, CLIENT, SERVER, RADIO, DISH ...: those have no
 * ZMQ_FD to wait on). ZMQ_SNDTIMEO / ZMQ_RCVTIMEO expire with EAGAIN, as in
 * libzmq. A socket belongs to the thread that uses it; any number of its
 * greenlets may send and receive on it at once, served in FIFO order. */
#ifndef GZMQ_ZMQ_H
#define GZMQ_ZMQ_H

#include <stddef.h>

#include <zmq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The process-wide default context, created on first use (thread-safe).
 * NULL with errno if libzmq cannot create it. */
void *gz_zmq_context(void);

/* zmq_send: the number of bytes queued. -1: EAGAIN (ZMQ_DONTWAIT, or
 * ZMQ_SNDTIMEO expired), libzmq's errors (ENOTSOCK, EFSM, EHOSTUNREACH ...)
 * and the waiting errors above. Frames sent with ZMQ_SNDMORE never yield. */
int gz_zmq_send(void *socket, const void *buf, size_t len, int flags);
/* zmq_recv: the message's size (it is truncated to LEN bytes in BUF). -1:
 * EAGAIN (ZMQ_DONTWAIT, or ZMQ_RCVTIMEO expired), EFAULT (NULL buf with
 * len > 0), libzmq's errors and the waiting errors above. The remaining
 * frames of a multipart message are received without yielding. */
int gz_zmq_recv(void *socket, void *buf, size_t len, int flags);
/* zmq_msg_send: the size sent; on success the message is consumed, on
 * failure it is left to the caller. -1 as gz_zmq_send. */
int gz_zmq_msg_send(zmq_msg_t *msg, void *socket, int flags);
/* zmq_msg_recv: the size received into MSG. -1 as gz_zmq_recv. */
int gz_zmq_msg_recv(zmq_msg_t *msg, void *socket, int flags);

/* zmq_poll over ZeroMQ sockets and plain fds, blocking only the caller:
 * the number of items with revents set, 0 when TIMEOUT_MS expired (-1 waits
 * forever, 0 never waits). -1: EINVAL (nitems < 0), EFAULT (NULL items),
 * ENOMEM, libzmq's errors for a socket (ENOTSOCK, ETERM) and the waiting
 * errors above (ETIMEDOUT only from a gz_timeout). */
int gz_zmq_poll(zmq_pollitem_t *items, int nitems, long timeout_ms);

/* Close SOCKET: greenlets waiting on it get ENOTSOCK, the library's state for
 * it is freed, then zmq_close. Returns zmq_close's result (-1 ENOTSOCK for a
 * NULL or closed socket). Sockets that ever waited must be closed with this,
 * not zmq_close, while greenlets may still be waiting on them. */
int gz_zmq_close(void *socket);
/* gz_zmq_close without the zmq_close: for a socket that another library
 * closes (czmq's zsock_destroy: see gz_zsock_destroy in gzmq/czmq.h), or
 * whose pointer libzmq may hand out again. 0; -1 ENOTSOCK for NULL. */
int gz_zmq_forget(void *socket);

#ifdef __cplusplus
}
#endif
#endif
