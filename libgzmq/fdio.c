/* I/O on any fd that blocks only the calling greenlet: gz_read and
 * gz_write try the syscall without blocking first and, on EAGAIN, wait for
 * readiness (io.c's gz__fdcall_wait handles the deadline, kills and
 * deadlock), then try again. A socket is read and written with
 * MSG_DONTWAIT; any other fd (pipe, tty, file) only once poll(2) says the
 * call will not block, leaving its blocking mode alone. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/net.h"

/* ---- what the last calls on a socket saw ---- */

/* Request-response on a socket (a server answering, a client awaiting the
 * answer): once the reader has had to wait, the read after a write almost
 * never finds data, and trying costs a recv(2) that fails with EAGAIN. So
 * such a read waits for readiness first (the classic event-loop order) and
 * reads once: one syscall fewer per exchange. Two bits per fd, in its
 * gz_fdslot; gz_close clears them. A stale pair (the fd closed by a plain
 * close(2) and reused) costs at most one readiness round trip, never a
 * missed byte. */
enum { FD_READ_WAITED = 1, FD_WROTE = 2 };

/* The bits of FD: 0 when nothing is remembered. */
static unsigned fd_peek(const gz_hub *h, int fd)
{
    const gz_fdslot *s = gz__fd_peek(h, fd);
    return s ? s->bits : 0;
}

/* FD's bits become (bits & KEEP) | ADD (with no memory for the table,
 * nothing is remembered). Only for an fd a syscall has just accepted. */
static void fd_note(gz_hub *h, int fd, unsigned keep, unsigned add)
{
    gz_fdslot *s = gz__fd_slot(h, fd);
    if (s)
        s->bits = (unsigned char)((s->bits & keep) | add);
}

void gz__fdio_forget(gz_hub *h, int fd, bool accepted)
{
    gz_fdslot *s = gz__fd_peek(h, fd);
    if (s)
        s->bits = 0;
    gz__fdwatch_forget(h, fd, accepted);
}

/* A socket call of C on FD has failed (errno): wait for EV_EVENTS before
 * trying again if it only would have blocked (or was interrupted); else -1. */
static int wait_to_retry(gz_hub *h, gz_fdcall *c, int fd, int ev_events)
{
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    return gz__fdcall_wait(h, c, fd, ev_events);
}

/* ---- read ---- */

/* A non-socket (pipe, tty, file) may be in blocking mode, which we must not
 * change (the flag is shared with other processes): read only once poll says
 * a read will not block. */
static ssize_t read_plain(gz_hub *h, int fd, void *buf, size_t n, gz_fdcall *c)
{
    c->reuse = false; /* not a socket: its number may have changed files */
    for (;;) {
        int r = gz__fd_ready_now(fd, POLLIN);
        if (r < 0)
            return -1;
        if (r > 0) {
            ssize_t got = read(fd, buf, n);
            if (got >= 0)
                return got;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
        }
        if (gz__fdcall_wait(h, c, fd, EV_READ))
            return -1;
    }
}

ssize_t gz_read(int fd, void *buf, size_t n, double timeout)
{
    gz_hub *h = gz__fd_begin(fd, timeout);
    if (!h)
        return -1;
    if (!buf && n) {
        errno = EINVAL;
        return -1;
    }
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    gz_fdcall c = gz__fdcall(timeout);
    c.reuse = true; /* a socket; read_plain turns it off */
    if (fd_peek(h, fd) == (FD_READ_WAITED | FD_WROTE) && timeout != 0 && n &&
        gz__fdcall_wait(h, &c, fd, EV_READ))
        return -1;
    bool sock = true;
    ssize_t got = 0;
    while (n) {
        got = recv(fd, buf, n, MSG_DONTWAIT);
        if (got >= 0)
            break;
        if (errno == ENOTSOCK) {
            got = read_plain(h, fd, buf, n, &c);
            if (got < 0)
                return -1;
            sock = false;
            break;
        }
        if (wait_to_retry(h, &c, fd, EV_READ))
            return -1;
    }
    if (sock && n) /* remembered for sockets only */
        fd_note(h, fd, 0, c.waited ? FD_READ_WAITED : 0);
    gz__fdcall_done(h, &c);
    return got;
}

/* ---- write ---- */

/* write(2) on a non-socket with SIGPIPE blocked for this thread; a SIGPIPE
 * the write raised is taken off the pending set before unblocking, so that
 * a vanished reader is EPIPE and never the death of the process. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t r = write(fd, buf, n);
    int saved = errno;
    if (r < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return r;
}

/* A blocking pipe that poll calls writable takes PIPE_BUF bytes without
 * blocking, not necessarily more; a regular file or a non-blocking fd takes
 * what it can. */
static ssize_t write_plain(gz_hub *h, int fd, const char *p, size_t n, gz_fdcall *c)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st) < 0)
        return -1;
    size_t chunk = (fl & O_NONBLOCK) || S_ISREG(st.st_mode) ? n : PIPE_BUF;
    c->reuse = false; /* not a socket: its number may have changed files */
    size_t left = n;
    while (left) {
        int r = gz__fd_ready_now(fd, POLLOUT);
        if (r < 0)
            return -1;
        if (r > 0) {
            ssize_t put = write_nosigpipe(fd, p, left < chunk ? left : chunk);
            if (put > 0) {
                p += put;
                left -= (size_t)put;
                continue;
            }
            if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
        }
        if (gz__fdcall_wait(h, c, fd, EV_WRITE))
            return -1;
    }
    return (ssize_t)n;
}

ssize_t gz_write(int fd, const void *buf, size_t n, double timeout)
{
    gz_hub *h = gz__fd_begin(fd, timeout);
    if (!h)
        return -1;
    if (!buf && n) {
        errno = EINVAL;
        return -1;
    }
    if (n > SSIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    gz_fdcall c = gz__fdcall(timeout);
    c.reuse = true; /* a socket; write_plain turns it off */
    const char *p = buf;
    size_t left = n;
    bool sock = true;
    while (left) {
        ssize_t put = send(fd, p, left, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (put >= 0) {
            p += put;
            left -= (size_t)put;
            continue;
        }
        if (errno == ENOTSOCK) {
            if (write_plain(h, fd, p, left, &c) < 0)
                return -1;
            sock = false;
            break;
        }
        if (wait_to_retry(h, &c, fd, EV_WRITE))
            return -1;
    }
    if (sock && n) /* remembered for sockets only */
        fd_note(h, fd, FD_READ_WAITED | FD_WROTE, FD_WROTE);
    gz__fdcall_done(h, &c);
    return (ssize_t)n;
}

