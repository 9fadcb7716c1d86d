/* Readiness of plain file descriptors: gz_wait_read, gz_wait_write and
 * gz_poll, each parking only the calling greenlet on ev_io watchers. */
#include <poll.h>
#include <stdlib.h>

#include "gz_internal.h"

static void fd_ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    gz__wake(w->data, 0);
}

/* Is FD ready for EVENTS right now? 1 yes, 0 no, -1 error (errno). */
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

static int wait_fd(int fd, int ev_events, short poll_events, double timeout)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h || gz__check_timeout(timeout) || gz__enter(h))
        return -1;
    int r = ready_now(fd, poll_events);
    if (r != 0) {
        if (r > 0)
            gz__no_wait(h);
        return r > 0 ? 0 : -1;
    }
    if (timeout == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return gz__park_fd(h, fd, ev_events, timeout);
}

int gz__park_fd(gz_hub *h, int fd, int ev_events, double timeout)
{
    ev_io w;
    ev_io_init(&w, fd_ready_cb, fd, ev_events);
    w.data = h->current;
    ev_io_start(h->loop, &w);
    int rc = gz__park(h, timeout);
    ev_io_stop(h->loop, &w);
    return rc;
}

int gz_wait_read(int fd, double timeout)
{
    return wait_fd(fd, EV_READ, POLLIN, timeout);
}

int gz_wait_write(int fd, double timeout)
{
    return wait_fd(fd, EV_WRITE, POLLOUT, timeout);
}

int gz_poll(struct pollfd *fds, nfds_t n, double timeout)
{
    if (!fds && n) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h || gz__check_timeout(timeout) || gz__enter(h))
        return -1;
    if (n == 0) /* poll(NULL, 0, t): a sleep */
        return gz_sleep(timeout < 0 ? GZ_FOREVER : timeout) ? -1 : 0;
    int r = poll(fds, n, 0);
    if (r != 0 || timeout == 0)
        return r;

    ev_io local[8];
    ev_io *ws = n <= 8 ? local : malloc(n * sizeof *ws);
    if (!ws) {
        errno = ENOMEM;
        return -1;
    }
    for (nfds_t i = 0; i < n; i++) {
        int ev = (fds[i].events & (POLLIN | POLLPRI) ? EV_READ : 0) |
                 (fds[i].events & POLLOUT ? EV_WRITE : 0);
        ev_io_init(&ws[i], fd_ready_cb, fds[i].fd, ev ? ev : EV_READ);
        ws[i].data = h->current;
        if (fds[i].fd >= 0)
            ev_io_start(h->loop, &ws[i]);
    }
    ev_now_update(h->loop);
    double end = timeout < 0 ? -1.0 : ev_now(h->loop) + timeout;
    for (;;) {
        double left = end < 0 ? -1.0 : end - ev_now(h->loop);
        if (end >= 0 && left <= 0) {
            r = 0;
            break;
        }
        if (gz__park(h, left) != 0) {
            bool own_timeout = errno == ETIMEDOUT && !h->current->fired;
            r = own_timeout ? 0 : -1;
            break;
        }
        r = poll(fds, n, 0); /* the truth; a wakeup may be stale */
        if (r != 0)
            break;
    }
    int saved = errno;
    for (nfds_t i = 0; i < n; i++)
        ev_io_stop(h->loop, &ws[i]);
    if (ws != local)
        free(ws);
    errno = saved;
    return r;
}
