/* libgzmq-czmq: czmq's blocking I/O, green. Each call has czmq's own
 * signature and meaning, and blocks only the calling greenlet; porting czmq
 * code is adding gz_ (and gz_zpoller_t for zpoller_t). A source or dest is
 * what czmq takes: a zsock_t, a zactor_t or a libzmq socket. Timeouts are
 * the socket's own (ZMQ_RCVTIMEO / ZMQ_SNDTIMEO), as in czmq. Where czmq
 * returns NULL or -1 "if interrupted", these also set errno: EAGAIN (the
 * socket's timeout), ECANCELED (the greenlet was killed), ETIMEDOUT (a
 * gz_timeout), ETERM, ENOTSOCK (not a socket), EINVAL, ENOMEM.
 * Link with `pkg-config --libs libgzmq-czmq`. */
#ifndef GZMQ_CZMQ_H
#define GZMQ_CZMQ_H

#include <czmq.h>
#include <gzmq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* zsock_destroy, after libgzmq has let go of the socket (gz_zmq_forget):
 * its waiters get ENOTSOCK, and a socket created later at the same address
 * starts fresh. Destroy with this every zsock_t a green call has used. */
void gz_zsock_destroy(zsock_t **self_p);

/* zmsg_recv: every frame of the next message, or NULL with errno. */
zmsg_t *gz_zmsg_recv(void *source);
/* zmsg_send: all frames, then destroys *self_p and nulls it; -1 with errno
 * keeps the message (EINVAL: NULL message). An empty message sends nothing. */
int gz_zmsg_send(zmsg_t **self_p, void *dest);
/* zstr_recv: the next frame as a string (free with zstr_free), or NULL. */
char *gz_zstr_recv(void *source);
/* zstr_send: STRING (NULL sends "") as one frame; 0 or -1 with errno. */
int gz_zstr_send(void *dest, const char *string);
/* zstr_sendf: a formatted string as one frame; 0 or -1 with errno. */
int gz_zstr_sendf(void *dest, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* zframe_recv: the next frame (zframe_more tells whether more follow). */
zframe_t *gz_zframe_recv(void *source);
/* zframe_send: FLAGS ZFRAME_MORE, ZFRAME_REUSE (keep the frame),
 * ZFRAME_DONTWAIT; destroys *self_p on success unless ZFRAME_REUSE. */
int gz_zframe_send(zframe_t **self_p, void *dest, int flags);
/* zsock_send / zsock_recv: a message by picture ("is4b"...), encoded and
 * decoded by czmq itself; 0 or -1 with errno (EPROTO: the message does not
 * match the picture). */
int gz_zsock_send(void *self, const char *picture, ...);
int gz_zsock_recv(void *self, const char *picture, ...);
int gz_zsock_vsend(void *self, const char *picture, va_list argptr);
int gz_zsock_vrecv(void *self, const char *picture, va_list argptr);

/* zpoller, green: readers are zsock_t, zactor_t, libzmq sockets or a
 * pointer to a file descriptor (int *), as in czmq. */
typedef struct gz_zpoller_t gz_zpoller_t;
/* zpoller_new: readers up to a NULL; NULL with errno (ENOTSOCK, ENOMEM). */
gz_zpoller_t *gz_zpoller_new(void *reader, ...);
void gz_zpoller_destroy(gz_zpoller_t **self_p);
/* zpoller_add / zpoller_remove: 0, or -1 with errno (EINVAL: not there). */
int gz_zpoller_add(gz_zpoller_t *self, void *reader);
int gz_zpoller_remove(gz_zpoller_t *self, void *reader);
/* Kept for czmq's signature: a green wait ends on a kill, not on SIGINT. */
void gz_zpoller_set_nonstop(gz_zpoller_t *self, bool nonstop);
/* zpoller_wait: the first reader (in the order added) that has input;
 * NULL when TIMEOUT (ms; -1: none) expired (gz_zpoller_expired) or the wait
 * was ended (gz_zpoller_terminated: killed, a gz_timeout, ETERM; errno). */
void *gz_zpoller_wait(gz_zpoller_t *self, int timeout);
bool gz_zpoller_expired(gz_zpoller_t *self);
bool gz_zpoller_terminated(gz_zpoller_t *self);

#ifdef __cplusplus
}
#endif

#endif
