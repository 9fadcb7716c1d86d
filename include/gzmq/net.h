/* libgzmq network I/O: reads, writes, accept and connect that block only the
 * calling greenlet, TCP helpers and gz_server (gevent's StreamServer).
 * Included by <gzmq.h>; do not include directly. */
#ifndef GZMQ_NET_H
#define GZMQ_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every call below that takes a timeout also fails with the blocking errors
 * of gzmq/core.h: ETIMEDOUT, ECANCELED, EDEADLK, EPERM, EINVAL (NaN). A
 * TIMEOUT covers the whole call, however many waits it takes. */

/* Read up to N bytes from FD (a socket, pipe, tty or file; blocking or not)
 * once some are available: the count, 0 at end of file (or N == 0).
 * -1: EBADF (negative or closed fd), EINVAL (NULL buf with n > 0),
 * ECONNRESET and the other errors of read(2). */
ssize_t gz_read(int fd, void *buf, size_t n, double timeout);
/* Write all N bytes of BUF to FD: N, or -1 (some prefix may have been sent).
 * Never raises SIGPIPE: a vanished peer is -1 EPIPE or ECONNRESET. -1: EBADF,
 * EINVAL (NULL buf with n > 0), and the errors of write(2). */
ssize_t gz_write(int fd, const void *buf, size_t n, double timeout);
/* Accept a connection on listening socket FD: the new socket, non-blocking
 * and close-on-exec; ADDR / LEN as accept(2) (both may be NULL). FD is made
 * non-blocking if it was not. -1: EBADF, EINVAL (addr without len, or FD not
 * listening), EMFILE / ENFILE, ENOTSOCK. Close the connection with gz_close:
 * it keeps its libev watcher between the waits of the greenlet serving it,
 * and a plain close(2) by that greenlet followed, before it waits on
 * anything else, by a green wait on a socket made outside the library with
 * the same number is never woken. */
int gz_accept(int fd, struct sockaddr *addr, socklen_t *len, double timeout);
/* Connect socket FD to ADDR (made non-blocking if it was not). After
 * ETIMEDOUT or ECANCELED the attempt may still be in progress: close FD.
 * -1: EBADF, EINVAL (NULL addr), ECONNREFUSED, ENETUNREACH, EISCONN and the
 * other errors of connect(2). */
int gz_connect(int fd, const struct sockaddr *addr, socklen_t len, double timeout);
/* A non-blocking, close-on-exec TCP socket listening on HOST:PORT with
 * SO_REUSEADDR; HOST NULL or "" listens on every address (IPv6 and IPv4
 * when the system has IPv6), PORT 0 picks a free port (see getsockname),
 * BACKLOG <= 0 means SOMAXCONN. The first address of HOST that works is
 * used. -1: EINVAL (port outside 0..65535), EADDRNOTAVAIL (HOST unknown),
 * EADDRINUSE, EACCES, EMFILE. */
int gz_tcp_listen(const char *host, int port, int backlog);
/* gz_tcp_listen's flags. GZ_TCP_REUSEPORT: SO_REUSEPORT, so that several
 * sockets (one per hub: see gz_run_threads) listen on the same port and the
 * kernel spreads new connections over them; each must set it. */
enum { GZ_TCP_REUSEPORT = 1 };
/* gz_tcp_listen with FLAGS (0 or GZ_TCP_REUSEPORT). -1: as gz_tcp_listen,
 * and EINVAL for an unknown flag. */
int gz_tcp_listen_opts(const char *host, int port, int backlog, int flags);
/* A non-blocking TCP socket connected to HOST:PORT (a name, an IPv4 or an
 * IPv6 address), trying every address of HOST in order; a name is looked up
 * off the hub. -1: EINVAL (NULL or empty host, port outside 1..65535),
 * EADDRNOTAVAIL (HOST unknown), or the last address's connect error
 * (ECONNREFUSED ...). */
int gz_tcp_connect(const char *host, int port, double timeout);

/* ---- Servers: gevent's StreamServer ---- */

typedef struct gz_server gz_server;
/* A server accepting on LISTEN_FD (a listening socket, left open by the
 * server: the caller closes it; gz_close while it runs stops accepting) and
 * running handle(fd, arg) in a new greenlet for each connection. HANDLE
 * owns fd: it closes it with gz_close (or hands it on); a handler killed
 * before it ran has its fd closed for it.
 * MAX_CONNECTIONS > 0: accepting pauses while that many handlers run
 * (0: no limit). NULL: EBADF (negative fd), EINVAL (NULL handle), ENOMEM. */
gz_server *gz_server_new(int listen_fd, void (*handle)(int fd, void *arg),
                         void *arg, size_t max_connections);
/* Start accepting in a greenlet of the calling thread; returns at once.
 * -1: EINVAL (NULL), EBUSY (running), ENOMEM, EXDEV (S belongs to another
 * thread's hub). */
int gz_server_start(gz_server *s);
/* Stop accepting, wait up to TIMEOUT for the handlers to end, then kill the
 * rest and wait for them to unwind. 0 once the accept greenlet and every
 * handler (but the caller, when a handler stops its own server) have ended;
 * a server not running gives 0 at once. -1: EINVAL (NULL, NaN), EXDEV
 * (another thread's); ECANCELED or EPERM (the caller's wait failed: the
 * handlers were killed, not awaited). */
int gz_server_stop(gz_server *s, double timeout);
/* Number of handlers running now. 0 for NULL or another thread's server
 * (errno EXDEV). */
size_t gz_server_connections(const gz_server *s);
/* Free S; NULL is ignored, another thread's server refused (errno EXDEV).
 * A running server is stopped without waiting: its greenlets are killed and
 * the memory goes when the last of them ends. */
void gz_server_free(gz_server *s);

#ifdef __cplusplus
}
#endif
#endif
