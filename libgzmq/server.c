/* gz_server, gevent's StreamServer: an accept greenlet and one greenlet per
 * connection, a connection limit and a graceful stop.
 *
 * Life cycle: the server struct outlives every greenlet that points to it.
 * Each one (the acceptor and each handler) is counted in `live` and has a
 * link callback that uncounts it; gz_server_free on a busy server only
 * kills them and marks the struct, and the last link callback frees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/net.h"

typedef struct conn {
    gz_list node;       /* gz_server.conns */
    gz_server *s;
    gz_greenlet *g;
    int fd;
    bool began;         /* the handler was called: it owns fd */
} conn;

struct gz_server {
    gz_obj obj;
    int fd;
    void (*handle)(int fd, void *arg);
    void *arg;
    size_t max;
    gz_greenlet *acceptor;
    gz_list conns;      /* running handlers */
    size_t nconns;
    size_t live;        /* acceptor + handlers not yet ended */
    gz_list slot_waiters;  /* the acceptor, paused at the limit */
    gz_list end_waiters;   /* gz_server_stop, waiting for greenlets to end */
    bool running;
    bool freed;
};

static void server_release(gz_server *s)
{
    if (s->freed && s->live == 0)
        free(s);
}

static void conn_ended(gz_greenlet *g, void *arg)
{
    conn *c = arg;
    gz_server *s = c->s;
    const gz_error *e = gz_exception(g);
    if (e)
        gz__warn("gz_server handler %s failed with error %d (%s): %s\n",
                gz_name(g), e->code, strerror(e->code), e->message);
    if (!c->began)
        gz_close(c->fd); /* killed before it ran: nobody else will */
    gz__list_remove(&c->node);
    s->nconns--;
    s->live--;
    gz__wake_all(&s->slot_waiters, 0);
    gz__wake_all(&s->end_waiters, 0);
    gz_release(g);
    free(c);
    server_release(s);
}

static void *conn_run(void *arg)
{
    conn *c = arg;
    c->began = true;
    c->s->handle(c->fd, c->s->arg);
    return NULL;
}

/* Hand FD to a new handler greenlet; closes FD when that fails. */
static int spawn_handler(gz_server *s, int fd)
{
    conn *c = calloc(1, sizeof *c);
    gz_greenlet *g = c ? gz_greenlet_new(conn_run, c) : NULL;
    if (!g || gz_link(g, conn_ended, c) < 0) {
        gz_release(g);
        free(c);
        gz_close(fd);
        errno = ENOMEM;
        return -1;
    }
    c->s = s;
    c->g = g;
    c->fd = fd;
    gz__list_push(&s->conns, &c->node);
    s->nconns++;
    s->live++;
    gz_start(g);
    return 0;
}

/* Park the acceptor until a handler ends (or it is killed). */
static int wait_slot(gz_server *s)
{
    gz_hub *h = gz__hub();
    if (gz__enter(h))
        return -1;
    gz_waiter w = {.g = h->current};
    gz__list_push(&s->slot_waiters, &w.node);
    int rc = gz__park_until(h, GZ_NEVER, "gz_server_start", s);
    gz__list_remove(&w.node);
    return rc;
}

/* Out of file descriptors or memory: pause accepting and retry, backing off
 * from 10 ms to 1 s as gevent does, rather than spinning on the error. */
static int accept_backoff(gz_server *s, double *delay, int err)
{
    if (*delay == 0)
        gz__warn("gz_server on fd %d: accept: %s; pausing\n", s->fd,
                strerror(err));
    *delay = *delay == 0 ? 0.01 : fmin(*delay * 2, 1.0);
    return gz_sleep(*delay);
}

static void *accept_run(void *arg)
{
    gz_server *s = arg;
    double delay = 0;
    for (;;) {
        while (s->max && s->nconns >= s->max)
            if (wait_slot(s) < 0)
                return NULL;
        int fd = gz_accept(s->fd, NULL, NULL, GZ_FOREVER);
        if (fd < 0) {
            int e = errno;
            if (e == ECANCELED || e == EBADF) /* stopped, or LISTEN_FD gz_closed */
                return NULL;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                if (accept_backoff(s, &delay, e) < 0)
                    return NULL;
                continue;
            }
            gz__warn("gz_server on fd %d: accept: %s; not accepting any more\n",
                    s->fd, strerror(e));
            return NULL;
        }
        if (gz_killed(gz_current())) { /* stopped while accept yielded */
            gz_close(fd);
            return NULL;
        }
        delay = 0;
        if (spawn_handler(s, fd) < 0 && accept_backoff(s, &delay, ENOMEM) < 0)
            return NULL;
    }
}

static void acceptor_ended(gz_greenlet *g, void *arg)
{
    gz_server *s = arg;
    if (s->acceptor == g)
        s->acceptor = NULL;
    s->live--;
    gz__wake_all(&s->end_waiters, 0);
    gz_release(g);
    server_release(s);
}

gz_server *gz_server_new(int listen_fd, void (*handle)(int fd, void *arg), void *arg,
                         size_t max_connections)
{
    if (listen_fd < 0) {
        errno = EBADF;
        return NULL;
    }
    if (!handle) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_server *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(s, h, server);
    s->fd = listen_fd;
    s->handle = handle;
    s->arg = arg;
    s->max = max_connections;
    gz__list_init(&s->conns);
    gz__list_init(&s->slot_waiters);
    gz__list_init(&s->end_waiters);
    return s;
}

int gz_server_start(gz_server *s)
{
    GZ_CHECK_LIVE(s, server);
    if (!s || s->freed) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(s->obj.hub, gz__hub_peek()))
        return -1;
    if (s->running) {
        errno = EBUSY;
        return -1;
    }
    gz_greenlet *g = gz_greenlet_new(accept_run, s);
    if (!g)
        return -1;
    if (gz_link(g, acceptor_ended, s) < 0) {
        gz_release(g);
        return -1;
    }
    gz_set_name(g, "gz_server accept");
    s->acceptor = g;
    s->live++;
    s->running = true;
    gz_start(g);
    return 0;
}

/* Kill the acceptor and, when HANDLERS, every handler but the caller. */
static void kill_all(gz_server *s, bool handlers)
{
    gz_greenlet *self = gz_current();
    if (s->acceptor)
        gz_kill(s->acceptor, 0);
    if (!handlers)
        return;
    /* A kill may end a handler at once (one that never ran), unlinking and
     * freeing its record: walk a detached copy of the list. */
    gz_list todo;
    gz__list_init(&todo);
    if (!gz__list_empty(&s->conns)) {
        todo.next = s->conns.next;
        todo.prev = s->conns.prev;
        todo.next->prev = &todo;
        todo.prev->next = &todo;
        gz__list_init(&s->conns);
    }
    gz_list *n;
    while ((n = gz__list_pop(&todo))) {
        conn *c = GZ_CONTAINER(n, conn, node);
        gz__list_push(&s->conns, n);
        if (c->g != self)
            gz_kill(c->g, 0);
    }
}

/* Greenlets of S still to end, not counting the caller. */
static size_t others_live(gz_server *s)
{
    size_t n = s->live;
    gz_greenlet *self = gz_current();
    for (gz_list *i = s->conns.next; i != &s->conns; i = i->next)
        if (GZ_CONTAINER(i, conn, node)->g == self)
            n--;
    return n;
}

/* Wait until only the caller is left, or until DEADLINE. */
static int wait_ended(gz_server *s, gz_hub *h, double deadline)
{
    while (others_live(s) > 0) {
        if (gz__remaining(h, deadline) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        gz_waiter w = {.g = h->current};
        gz__list_push(&s->end_waiters, &w.node);
        int rc = gz__park_until(h, deadline, "gz_server_stop", s);
        gz__list_remove(&w.node);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int gz_server_stop(gz_server *s, double timeout)
{
    GZ_CHECK_LIVE(s, server);
    if (!s || s->freed || isnan(timeout)) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(s->obj.hub, gz__hub_peek()))
        return -1;
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    s->running = false;
    if (gz__enter(h)) {
        kill_all(s, true);
        return -1;
    }
    double deadline = gz__deadline(h, timeout);
    kill_all(s, false);
    if (wait_ended(s, h, deadline) == 0)
        return 0;
    if (errno != ETIMEDOUT || h->current->fired) {
        kill_all(s, true);
        return -1;
    }
    kill_all(s, true);
    return wait_ended(s, h, GZ_NEVER);
}

size_t gz_server_connections(const gz_server *s)
{
    GZ_CHECK_LIVE(s, server);
    if (!s || gz__check_hub(s->obj.hub, gz__hub_peek()))
        return 0;
    return s->nconns;
}

void gz_server_free(gz_server *s)
{
    GZ_CHECK_LIVE(s, server);
    if (!s || gz__check_hub(s->obj.hub, gz__hub_peek()))
        return;
    GZ_MAGIC_KILL(s); /* the handle is gone; the memory may outlive it */
    s->running = false;
    kill_all(s, true); /* before marking: its callbacks must not free S yet */
    s->freed = true;
    server_release(s);
}
