/* Network I/O that blocks only the calling greenlet: every call tries the
 * syscall without blocking first and, on EAGAIN, waits for readiness with
 * gz_wait_read / gz_wait_write (which handle timeout, kill and deadlock),
 * then tries again. Also the TCP listen / connect helpers. */
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/net.h"

#include "gzmq/thread.h"

/* The deadline of a call that may wait several times: set on the first wait
 * (the fast path never reads the clock), NAN until then. */
typedef struct deadline {
    double timeout;
    double end;
    bool waited;
} deadline;

static deadline deadline_of(double timeout)
{
    return (deadline){.timeout = timeout, .end = NAN};
}

/* Wait until FD is readable (or writable) within D. */
static int wait_ready(gz_hub *h, int fd, bool for_write, deadline *d)
{
    double left = GZ_FOREVER;
    if (d->timeout >= 0) {
        if (isnan(d->end)) {
            ev_now_update(h->loop);
            d->end = ev_now(h->loop) + d->timeout;
        }
        left = d->end - ev_now(h->loop);
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    d->waited = true;
    /* The caller has just seen EAGAIN: no need to ask poll(2) again. */
    if (gz__enter(h))
        return -1;
    return gz__park_fd(h, fd, for_write ? EV_WRITE : EV_READ, left);
}

/* The common start of every call here: a valid fd and a runnable caller. */
static gz_hub *fd_call_begin(int fd, double timeout)
{
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h || gz__check_timeout(timeout) || gz__enter(h))
        return NULL;
    return h;
}

/* A call that completed without waiting counts towards the fairness yield. */
static void count_if_not_waited(gz_hub *h, const deadline *d)
{
    if (!d->waited)
        gz__no_wait(h);
}

/* Is FD ready now? 1 yes, 0 no, -1 error. */
static int ready_now(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, 0);
    if (r > 0 && (p.revents & POLLNVAL)) {
        errno = EBADF;
        return -1;
    }
    return r;
}

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

/* ---- read ---- */

/* A non-socket (pipe, tty, file) may be in blocking mode, which we must not
 * change (the flag is shared with other processes): read only once poll says
 * a read will not block. */
static ssize_t read_plain(gz_hub *h, int fd, void *buf, size_t n, deadline *d)
{
    for (;;) {
        int r = ready_now(fd, POLLIN);
        if (r < 0)
            return -1;
        if (r > 0) {
            ssize_t got = read(fd, buf, n);
            if (got >= 0)
                return got;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
        }
        if (wait_ready(h, fd, false, d))
            return -1;
    }
}

ssize_t gz_read(int fd, void *buf, size_t n, double timeout)
{
    gz_hub *h = fd_call_begin(fd, timeout);
    if (!h)
        return -1;
    if (!buf && n) {
        errno = EINVAL;
        return -1;
    }
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    deadline d = deadline_of(timeout);
    if (fd_peek(h, fd) == (FD_READ_WAITED | FD_WROTE) && timeout != 0 && n &&
        wait_ready(h, fd, false, &d))
        return -1;
    bool sock = true;
    ssize_t got = 0;
    while (n) {
        got = recv(fd, buf, n, MSG_DONTWAIT);
        if (got >= 0)
            break;
        if (errno == ENOTSOCK) {
            got = read_plain(h, fd, buf, n, &d);
            if (got < 0)
                return -1;
            sock = false;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_ready(h, fd, false, &d))
            return -1;
    }
    if (sock && n) /* remembered for sockets only */
        fd_note(h, fd, 0, d.waited ? FD_READ_WAITED : 0);
    count_if_not_waited(h, &d);
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
static ssize_t write_plain(gz_hub *h, int fd, const char *p, size_t n, deadline *d)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st) < 0)
        return -1;
    size_t chunk = (fl & O_NONBLOCK) || S_ISREG(st.st_mode) ? n : PIPE_BUF;
    size_t left = n;
    while (left) {
        int r = ready_now(fd, POLLOUT);
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
        if (wait_ready(h, fd, true, d))
            return -1;
    }
    return (ssize_t)n;
}

ssize_t gz_write(int fd, const void *buf, size_t n, double timeout)
{
    gz_hub *h = fd_call_begin(fd, timeout);
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
    deadline d = deadline_of(timeout);
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
            if (write_plain(h, fd, p, left, &d) < 0)
                return -1;
            sock = false;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_ready(h, fd, true, &d))
            return -1;
    }
    if (sock && n) /* remembered for sockets only */
        fd_note(h, fd, FD_READ_WAITED | FD_WROTE, FD_WROTE);
    count_if_not_waited(h, &d);
    return (ssize_t)n;
}

/* ---- accept, connect ---- */

static int make_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* accept(2) errors that belong to one pending connection, not to the
 * listening socket: drop it and take the next (see accept(2), Linux notes). */
static bool transient_accept_error(int e)
{
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

int gz_accept(int fd, struct sockaddr *addr, socklen_t *len, double timeout)
{
    gz_hub *h = fd_call_begin(fd, timeout);
    if (!h)
        return -1;
    if (addr && !len) {
        errno = EINVAL;
        return -1;
    }
    if (make_nonblocking(fd))
        return -1;
    deadline d = deadline_of(timeout);
    for (;;) {
        int c = accept4(fd, addr, addr ? len : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            fd_note(h, c, 0, 0); /* a new connection on a reused number */
            count_if_not_waited(h, &d);
            return c;
        }
        if (!transient_accept_error(errno))
            return -1;
        if (wait_ready(h, fd, false, &d))
            return -1;
    }
}

int gz_connect(int fd, const struct sockaddr *addr, socklen_t len, double timeout)
{
    gz_hub *h = fd_call_begin(fd, timeout);
    if (!h)
        return -1;
    if (!addr) {
        errno = EINVAL;
        return -1;
    }
    if (make_nonblocking(fd))
        return -1;
    deadline d = deadline_of(timeout);
    if (connect(fd, addr, len) == 0) {
        count_if_not_waited(h, &d);
        return 0;
    }
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    for (;;) {
        if (wait_ready(h, fd, true, &d))
            return -1;
        int err = 0;
        socklen_t elen = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            return -1;
        if (err == 0)
            return 0;
        if (err != EINPROGRESS && err != EALREADY) {
            errno = err;
            return -1;
        }
    }
}

/* ---- name lookup ---- */

typedef struct lookup {
    atomic_int refs;     /* the caller and the job */
    char *host;
    char serv[8];
    struct addrinfo hints;
    struct addrinfo *res;
    int rc;
} lookup;

static void lookup_unref(lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    free(l->host);
    free(l);
}

static void lookup_run(lookup *l)
{
    l->rc = getaddrinfo(l->host, l->serv, &l->hints, &l->res);
}

/* On a worker thread. A caller that timed out or was killed has left
 * already: whichever of the two ends last frees the lookup; a job the pool
 * drops before it ran gives its reference back through lookup_drop. */
static void *lookup_job(void *arg)
{
    lookup *l = arg;
    lookup_run(l);
    lookup_unref(l);
    return NULL;
}

static void lookup_drop(void *arg) { lookup_unref(arg); }

static int gai_errno(int rc)
{
    switch (rc) {
    case EAI_MEMORY:
        return ENOMEM;
    case EAI_FAMILY:
        return EAFNOSUPPORT;
    case EAI_SYSTEM:
        return errno ? errno : EIO;
    default: /* EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_NODATA ... */
        return EADDRNOTAVAIL;
    }
}

/* The addresses of HOST:PORT in getaddrinfo's order (free with
 * freeaddrinfo). A numeric host is converted here; a name is looked up on a
 * worker thread (gz_run_in_thread) so that DNS never blocks the hub. */
static struct addrinfo *resolve(const char *host, int port, int flags, double timeout)
{
    lookup *l = calloc(1, sizeof *l);
    if (!l || (host && !(l->host = strdup(host)))) {
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&l->refs, 1);
    snprintf(l->serv, sizeof l->serv, "%d", port);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->hints.ai_protocol = IPPROTO_TCP;
    l->hints.ai_flags = flags | AI_NUMERICSERV | AI_NUMERICHOST;
    lookup_run(l);
    if (l->rc == EAI_NONAME && host) {
        l->hints.ai_flags &= ~AI_NUMERICHOST;
        atomic_store(&l->refs, 2);
        if (gz__run_in_thread(lookup_job, l, NULL, timeout, lookup_drop) < 0) {
            int saved = errno;
            lookup_unref(l);
            errno = saved;
            return NULL;
        }
    }
    struct addrinfo *res = l->res;
    int rc = l->rc;
    l->res = NULL;
    lookup_unref(l);
    if (rc != 0) {
        errno = gai_errno(rc);
        return NULL;
    }
    return res;
}

/* ---- TCP helpers ---- */

static int listen_on(const struct sockaddr *sa, socklen_t len, int backlog, bool dual)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail;
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int gz_tcp_listen(const char *host, int port, int backlog)
{
    if (port < 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    if (backlog <= 0)
        backlog = SOMAXCONN;
    if (!host || !*host) {
        /* Every address: one dual-stack IPv6 socket, or IPv4 without IPv6. */
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                  .sin6_addr = IN6ADDR_ANY_INIT};
        int fd = listen_on((struct sockaddr *)&a6, sizeof a6, backlog, true);
        if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
            return fd;
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_ANY)};
        return listen_on((struct sockaddr *)&a4, sizeof a4, backlog, false);
    }
    struct addrinfo *res = resolve(host, port, AI_PASSIVE, GZ_FOREVER);
    if (!res)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
        fd = listen_on(a->ai_addr, a->ai_addrlen, backlog, false);
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return fd;
}

int gz_tcp_connect(const char *host, int port, double timeout)
{
    if (!host || !*host || port <= 0 || port > 65535 || isnan(timeout)) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h || gz__enter(h))
        return -1;
    ev_now_update(h->loop);
    double end = timeout < 0 ? -1.0 : ev_now(h->loop) + timeout;
    struct addrinfo *res = resolve(host, port, 0, timeout);
    if (!res)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        double left = GZ_FOREVER;
        if (end >= 0) {
            left = end - ev_now(h->loop);
            if (left < 0)
                left = 0;
        }
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd >= 0 && gz_connect(fd, a->ai_addr, a->ai_addrlen, left) == 0)
            break;
        int saved = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
        errno = saved;
        /* The caller's own limits end the whole call, not one address. */
        if (saved == ETIMEDOUT || saved == ECANCELED || saved == EDEADLK ||
            saved == EPERM || saved == ENOMEM)
            break;
    }
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return fd;
}
