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

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The process-wide default context, created on first use (thread-safe).
 * NULL with errno if libzmq cannot create it. */
void *gz_zmq_context(void);

/* Terminate CONTEXT without blocking the hub: zmq_ctx_shutdown at once (every
 * greenlet waiting on one of its sockets gets ETERM; close those sockets),
 * then zmq_ctx_term on a thread of its own, waited for greenly up to
 * TIMEOUT seconds (GZ_FOREVER: no limit). 0: terminated. -1: EFAULT (NULL or
 * not a context, or terminated already), EINVAL (NaN), EAGAIN (no thread or fd),
 * ENOMEM, ETIMEDOUT (sockets still open or lingering: the termination goes
 * on in its thread and the program may simply continue; call again to wait
 * more), ECANCELED, EPERM. The default context is also terminated at exit,
 * waiting GZ_ZMQ_EXIT_TIMEOUT seconds (default 1) at most. */
int gz_zmq_ctx_term(void *context, double timeout);

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

/* Send the N messages of PARTS as the frames of one message (ZMQ_SNDMORE in
 * FLAGS: more frames follow from a later call), all or none: the frames
 * after the first never wait, so no other greenlet's frames interleave.
 * Returns N; every part is then consumed (as zmq_msg_send). -1: EINVAL
 * (N == 0), EFAULT (NULL PARTS), the errors of gz_zmq_msg_send for the first
 * frame, and then nothing was sent and every part is the caller's. A later
 * frame fails only when the socket or context dies under it (ENOTSOCK,
 * ETERM): the parts before it were sent. */
int gz_zmq_sendv(void *socket, zmq_msg_t *parts, size_t n, int flags);
/* Receive one whole message into PARTS, *N initialised zmq_msg_t (capacity
 * in, frame count out). Returns the frame count; no other greenlet's recv
 * interleaves. -1: EINVAL (*N == 0), EFAULT (NULL PARTS or N), the errors of
 * gz_zmq_msg_recv, and EMSGSIZE: the message has more than *N frames; *N is
 * set to its count, nothing is consumed from PARTS' point of view: the
 * library holds the whole message and the next gz_zmq_recvv on SOCKET with
 * room for it returns it, before any newer message (gz_zmq_recv and
 * gz_zmq_msg_recv do not see a held message; gz_zmq_close frees it, so
 * close such a socket with gz_zmq_close, not zmq_close). */
int gz_zmq_recvv(void *socket, zmq_msg_t *parts, size_t *n, int flags);

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

/* zmq_proxy_steerable as a greenlet of the calling hub: messages FRONTEND
 * <-> BACKEND (one socket for both is allowed), a copy of every frame to
 * CAPTURE if not NULL, and commands on CONTROL if not NULL: "PAUSE",
 * "RESUME", "TERMINATE" (the greenlet ends with value NULL), "STATISTICS"
 * (a reply of eight uint64_t frames in host order: frontend messages in,
 * bytes in, messages out, bytes out, then the same for the backend; a
 * multipart message counts once). A REP control socket gets an empty reply
 * to the other commands (and to unknown ones, which are ignored). The
 * sockets are the proxy's own: they must stay open until it ends, and no
 * other greenlet may wait on them meanwhile; gz_kill stops it. Returns a
 * reference (gz_release / gz_join); the greenlet fails with the errno of a
 * socket error (ETERM, EHOSTUNREACH ...). NULL: EINVAL (NULL frontend or
 * backend), ENOTSOCK (an argument is not a socket), ENOMEM. */
gz_greenlet *gz_zmq_proxy(void *frontend, void *backend, void *capture, void *control);

/* ---- Socket monitor: decoded events ---- */

typedef struct gz_zmq_monitor_t gz_zmq_monitor_t;
typedef struct gz_zmq_event {
    int event;           /* ZMQ_EVENT_CONNECTED ...: see gz_zmq_event_name */
    int value;           /* the event's value: an fd, an errno, a ZMQ_PROTOCOL_ERROR_* ... */
    char endpoint[256];  /* NUL-terminated (truncated if longer) */
} gz_zmq_event;

/* Monitor SOCKET (zmq_socket_monitor) for EVENTS (ZMQ_EVENT_* bits, or
 * ZMQ_EVENT_ALL). CONTEXT must be SOCKET's (NULL: gz_zmq_context()'s):
 * events travel over inproc. A new monitor of the socket replaces the old,
 * as in libzmq. NULL: ENOTSOCK (NULL or not a socket), EINVAL, ENOMEM, ETERM,
 * libzmq's errors. */
gz_zmq_monitor_t *gz_zmq_monitor(void *context, void *socket, int events);
/* The next event into EV, waiting up to TIMEOUT seconds (GZ_FOREVER: no
 * limit; 0: never waits). -1: ETIMEDOUT (nothing came), EINVAL (NULL M or
 * EV, NaN), EPROTO (not libzmq's v1 format), ETERM, and the waiting errors
 * above. Any number of greenlets may wait; each event goes to one. */
int gz_zmq_monitor_next(gz_zmq_monitor_t *m, gz_zmq_event *ev, double timeout);
/* The socket the events arrive on, for a GZ_ZMQ_IN case of gz_select or a
 * gz_zmq_poll item (then gz_zmq_monitor_next(m, ev, 0) reads the event);
 * owned by M. NULL: EINVAL. */
void *gz_zmq_monitor_socket(gz_zmq_monitor_t *m);
/* Close M (NULL is ignored); its waiters get ENOTSOCK. The monitored socket
 * is not touched (it may be closed already): to stop libzmq's side on a
 * socket still open, zmq_socket_monitor(socket, NULL, 0). */
void gz_zmq_monitor_close(gz_zmq_monitor_t *m);
/* "CONNECTED", "HANDSHAKE_FAILED_PROTOCOL" ...: ZMQ_EVENT_X without the
 * prefix; "UNKNOWN" for anything else. Never NULL. */
const char *gz_zmq_event_name(int event);

#ifdef __cplusplus
}
#endif
#endif
