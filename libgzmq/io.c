/* Readiness of plain file descriptors: gz_wait_read, gz_wait_write and
 * gz_poll, each parking only the calling greenlet on ev_io watchers, and
 * gz_close, which ends those waits before the fd goes. Every green wait on
 * an fd is made here (fd.h): the per-fd table, the watcher callback, the
 * park and the deadline of a call that may wait several times. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_internal.h"

/* ---- the per-fd table ---- */

static void fdtab_free(void *p)
{
    gz_fdtab *t = p;
    if (t) {
        for (size_t i = 0; i < t->cap; i++)
            free(t->slots[i].watch); /* stopped: no waiter is left */
        free(t->slots);
    }
    free(t);
}

const gz_layer gz__fd_layer = {fdtab_free, NULL};

gz_fdslot *gz__fd_grow(gz_hub *h, int fd)
{
    gz_fdtab *t = gz__layer_state_make(h, &gz__fd_layer, sizeof *t, NULL);
    if (!t)
        return NULL;
    if ((size_t)fd < t->cap)
        return &t->slots[fd];
    size_t cap = t->cap ? t->cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    gz_fdslot *s = realloc(t->slots, cap * sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    memset(s + t->cap, 0, (cap - t->cap) * sizeof *s);
    t->slots = s;
    t->cap = cap;
    return &s[fd];
}

void gz__fd_ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    gz__wake(w->data, 0);
}

/* The fd's kept watcher, set up for the current greenlet: NULL when it is
 * in use (or no memory: then W's own does). */
static gz_fdwatch *fdwatch(gz_fdslot *s)
{
    if (!s->watch && (s->watch = calloc(1, sizeof *s->watch)))
        ev_init(&s->watch->io, gz__fd_ready_cb);
    return s->watch;
}

static ev_io *kept_watcher(gz_hub *h, gz_fdslot *s, gz_fdwait *w, int fd, int ev_events)
{
    gz_fdwatch *k = fdwatch(s);
    if (!k || k->busy)
        return NULL;
    uint64_t me = h->current->id;
    if (k->accepted && k->known && k->last == me)
        ev_io_modify(&k->io, ev_events); /* the same file: no epoll_ctl */
    else
        ev_io_set(&k->io, fd, ev_events);
    k->last = me;
    k->known = true;
    k->busy = true;
    w->watch = k;
    return &k->io;
}

void gz__fdwatch_forget(gz_hub *h, int fd, bool accepted)
{
    gz_fdslot *s = accepted ? gz__fd_slot(h, fd) : gz__fd_peek(h, fd);
    gz_fdwatch *k = s ? (accepted ? fdwatch(s) : s->watch) : NULL;
    if (k) {
        k->known = false;
        k->accepted = accepted;
    }
}

int gz__fdwait_start_opt(gz_hub *h, gz_fdwait *w, int fd, int ev_events, bool reuse)
{
    gz_fdslot *s = gz__fd_slot(h, fd);
    if (!s)
        return -1;
    w->watch = NULL;
    w->io = reuse ? kept_watcher(h, s, w, fd, ev_events) : NULL;
    if (!w->io) {
        w->io = &w->own;
        ev_io_init(w->io, gz__fd_ready_cb, fd, ev_events);
    }
    w->io->data = h->current;
    w->next = NULL;
    w->prev = s->last;
    *(s->last ? &s->last->next : &s->first) = w;
    s->last = w;
    w->linked = true;
    w->closed = false;
    ev_io_start(h->loop, w->io);
    return 0;
}

static void fdwait_unlink(gz_fdslot *s, gz_fdwait *w)
{
    *(w->prev ? &w->prev->next : &s->first) = w->next;
    *(w->next ? &w->next->prev : &s->last) = w->prev;
    w->linked = false;
}

bool gz__fdwait_stop(gz_hub *h, gz_fdwait *w)
{
    ev_io_stop(h->loop, w->io);
    if (w->watch)
        w->watch->busy = false;
    if (w->linked)
        fdwait_unlink(gz__fd_peek(h, w->io->fd), w);
    return w->closed;
}

/* ---- waiting ---- */

int gz__fd_ready_now(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, 0);
    if (r > 0 && (p.revents & POLLNVAL)) {
        errno = EBADF;
        return -1;
    }
    return r;
}

static int wait_fd(int fd, short events, double timeout)
{
    gz_hub *h = gz__fd_begin(fd, timeout);
    if (!h)
        return -1;
    int r = gz__fd_ready_now(fd, events);
    if (r != 0) {
        if (r > 0)
            gz__no_wait(h);
        return r > 0 ? 0 : -1;
    }
    if (timeout == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return gz__park_fd_until(h, fd, gz__ev_events(events), gz__deadline(h, timeout));
}

int gz__park_fd_until(gz_hub *h, int fd, int ev_events, double deadline)
{
    return gz__park_fd_until_opt(h, fd, ev_events, deadline, false);
}

int gz__park_fd_until_opt(gz_hub *h, int fd, int ev_events, double deadline, bool reuse)
{
    gz_fdwait w;
    if (gz__fdwait_start_opt(h, &w, fd, ev_events, reuse))
        return -1;
    /* The fd rides in the pointer: run info prints it as a number. */
    int rc = gz__park_until(h, deadline,
                            ev_events & EV_READ ? "gz_wait_read" : "gz_wait_write",
                            (const void *)(intptr_t)fd);
    int e = errno;
    /* Woken by readiness just before gz_close ran: the fd is gone all the
     * same, and its number may already name another file. A kill wins. */
    if (gz__fdwait_stop(h, &w) && (rc == 0 || e != ECANCELED)) {
        errno = EBADF;
        return -1;
    }
    errno = e;
    return rc;
}

int gz__fdcall_wait(gz_hub *h, gz_fdcall *c, int fd, int ev_events)
{
    if (isnan(c->deadline))
        c->deadline = gz__deadline(h, c->timeout);
    if (gz__remaining(h, c->deadline) == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    c->waited = true;
    /* The caller has just seen EAGAIN: no need to ask poll(2) again. */
    if (gz__enter(h))
        return -1;
    return gz__park_fd_until_opt(h, fd, ev_events, c->deadline, c->reuse);
}

int gz_wait_read(int fd, double timeout)
{
    return wait_fd(fd, POLLIN, timeout);
}

int gz_wait_write(int fd, double timeout)
{
    return wait_fd(fd, POLLOUT, timeout);
}

/* poll(2) once; an fd that gz_close took away is POLLNVAL, as poll(2)
 * reports a closed fd, whatever file its number names by now. */
static int poll_now(struct pollfd *fds, const gz_fdwait *ws, nfds_t n)
{
    int r = poll(fds, n, 0);
    if (r < 0)
        return -1;
    for (nfds_t i = 0; i < n; i++) {
        if (ws[i].closed) {
            r += fds[i].revents == 0;
            fds[i].revents = POLLNVAL;
        }
    }
    return r;
}

int gz_poll(struct pollfd *fds, nfds_t n, double timeout)
{
    if (!fds && n) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, timeout))
        return -1;
    if (n == 0) /* poll(NULL, 0, t): a sleep */
        return gz_sleep(timeout < 0 ? GZ_FOREVER : timeout) ? -1 : 0;
    int r = poll(fds, n, 0);
    if (r != 0 || timeout == 0)
        return r;

    gz_fdwait local[8];
    gz_fdwait *ws = n <= 8 ? local : malloc(n * sizeof *ws);
    if (!ws) {
        errno = ENOMEM;
        return -1;
    }
    nfds_t started = 0;
    for (; started < n; started++) {
        const struct pollfd *p = &fds[started];
        gz_fdwait *w = &ws[started];
        if (p->fd < 0) { /* ignored, as by poll(2) */
            w->io = &w->own;
            w->watch = NULL;
            ev_io_init(w->io, gz__fd_ready_cb, p->fd, EV_READ);
            w->linked = w->closed = false;
        } else if (gz__fdwait_start(h, w, p->fd, gz__ev_events(p->events))) {
            r = -1;
            goto out;
        }
    }
    double deadline = gz__deadline(h, timeout);
    for (;;) {
        if (gz__remaining(h, deadline) == 0) {
            r = 0;
            break;
        }
        /* EBADF: gz_close took one of the fds, which poll_now reports. */
        if (gz__park_until(h, deadline, "gz_poll", fds) != 0 &&
            errno != EBADF) {
            bool own_timeout = errno == ETIMEDOUT && !h->current->fired;
            r = own_timeout ? poll_now(fds, ws, n) : -1;
            break;
        }
        r = poll_now(fds, ws, n); /* the truth; a wakeup may be stale */
        if (r != 0)
            break;
    }
out:;
    int saved = errno;
    for (nfds_t i = 0; i < started; i++)
        gz__fdwait_stop(h, &ws[i]);
    if (ws != local)
        free(ws);
    errno = saved;
    return r;
}

int gz_close(int fd)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    gz_hub *h = gz__hub_peek();
    gz_fdslot *s = h ? gz__fd_peek(h, fd) : NULL;
    if (s) {
        /* Stopped here, before close(2), not when the waiters run: a
         * watcher left on the number would be woken by whatever file next
         * gets it, and libev would not re-register the number for it. */
        for (gz_fdwait *w; (w = s->first);) {
            fdwait_unlink(s, w);
            ev_io_stop(h->loop, w->io);
            if (w->watch)
                w->watch->busy = false;
            w->closed = true;
            gz__wake(w->io->data, EBADF);
        }
        if (s->watch)
            s->watch->known = s->watch->accepted = false;
        s->bits = 0;
    }
    return close(fd);
}
