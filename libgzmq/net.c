/* Sockets that block only the calling greenlet: gz_accept and gz_connect
 * try the syscall without blocking first and, on EAGAIN, wait for
 * readiness (io.c's gz__fdcall_wait handles the deadline, kills and
 * deadlock). Name lookup on a worker thread, and the TCP listen / connect
 * helpers. Reading and writing are fdio.c's. */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/net.h"

#include "gzmq/thread.h"

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
    gz_hub *h = gz__fd_begin(fd, timeout);
    if (!h)
        return -1;
    if (addr && !len) {
        errno = EINVAL;
        return -1;
    }
    if (make_nonblocking(fd))
        return -1;
    gz_fdcall call = gz__fdcall(timeout);
    for (;;) {
        int c = accept4(fd, addr, addr ? len : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            gz__fdio_forget(h, c, true); /* a new connection on a reused number */
            gz__fdcall_done(h, &call);
            return c;
        }
        if (!transient_accept_error(errno))
            return -1;
        if (gz__fdcall_wait(h, &call, fd, EV_READ))
            return -1;
    }
}

int gz_connect(int fd, const struct sockaddr *addr, socklen_t len, double timeout)
{
    gz_hub *h = gz__fd_begin(fd, timeout);
    if (!h)
        return -1;
    if (!addr) {
        errno = EINVAL;
        return -1;
    }
    if (make_nonblocking(fd))
        return -1;
    gz__fdio_forget(h, fd, false); /* a socket being connected is a new file to us */
    gz_fdcall call = gz__fdcall(timeout);
    if (connect(fd, addr, len) == 0) {
        gz__fdcall_done(h, &call);
        return 0;
    }
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    for (;;) {
        if (gz__fdcall_wait(h, &call, fd, EV_WRITE))
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

static int listen_on(const struct sockaddr *sa, socklen_t len, int backlog, bool dual,
                     int flags)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail;
    if ((flags & GZ_TCP_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
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
    return gz_tcp_listen_opts(host, port, backlog, 0);
}

int gz_tcp_listen_opts(const char *host, int port, int backlog, int flags)
{
    if (port < 0 || port > 65535 || (flags & ~GZ_TCP_REUSEPORT)) {
        errno = EINVAL;
        return -1;
    }
    if (backlog <= 0)
        backlog = SOMAXCONN;
    if (!host || !*host) {
        /* Every address: one dual-stack IPv6 socket, or IPv4 without IPv6. */
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                  .sin6_addr = IN6ADDR_ANY_INIT};
        int fd = listen_on((struct sockaddr *)&a6, sizeof a6, backlog, true, flags);
        if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
            return fd;
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_ANY)};
        return listen_on((struct sockaddr *)&a4, sizeof a4, backlog, false, flags);
    }
    struct addrinfo *res = resolve(host, port, AI_PASSIVE, GZ_FOREVER);
    if (!res)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
        fd = listen_on(a->ai_addr, a->ai_addrlen, backlog, false, flags);
    int saved = errno;
    freeaddrinfo(res);
    errno = saved;
    return fd;
}

int gz_tcp_connect(const char *host, int port, double timeout)
{
    if (!host || !*host || port <= 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, timeout))
        return -1;
    double deadline = gz__deadline(h, timeout);
    struct addrinfo *res = resolve(host, port, 0, timeout);
    if (!res)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd >= 0 && gz_connect(fd, a->ai_addr, a->ai_addrlen,
                                  gz__remaining(h, deadline)) == 0)
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
