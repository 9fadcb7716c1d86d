/* The reference for gzmq-xmlrpc-server: a hand-written libev callback
 * server, no greenlets, answering with the very request handling of
 * gzmq-xmlrpc-server (demos/xmlrpc/handler.c: libhttp-parser, expat, add,
 * gen, GET /), so that the comparison measures the concurrency model and
 * nothing else. A connection's watcher stays armed for reading from accept
 * to close; writing is watched only while a reply waits for room.
 *
 *   libev_http_server PORT      (listens on 127.0.0.1)
 *
 * Build: cc -O2 -Idemos -o libev_http_server libev_http_server.c \
 *            demos/xmlrpc/handler.c -lev -lhttp_parser -lexpat */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xmlrpc/handler.h"

static xr_limits limits = XR_LIMITS_DEFAULT;

typedef struct conn {
    ev_io io;
    xr_conn *x;
    xr_buf out;         /* answers not yet written */
    size_t out_off;
    bool close_after;
} conn;

static void conn_free(struct ev_loop *loop, conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    xr_conn_free(c->x);
    xr_buf_free(&c->out);
    free(c);
}

/* Answer every complete request in DATA; -1 to close at once. */
static int feed(conn *c, const char *data, size_t len)
{
    while (len > 0 && !c->close_after) {
        size_t used;
        enum xr_step step = xr_feed(c->x, data, len, &used, &c->out);
        if (c->out.failed)
            return -1;
        if (step == XR_MORE)
            break;
        data += used;
        len -= used;
        if (step == XR_CLOSE)
            c->close_after = true;
    }
    return 0;
}

/* Write what is queued; 1 when all is out, 0 when the socket is full, -1 on error. */
static int flush(conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out.len = 0;
    return 1;
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn *c = (conn *)w;
    if (revents & EV_READ) {
        char buf[65536];
        ssize_t n = recv(w->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || feed(c, buf, (size_t)n) < 0) {
            conn_free(loop, c);
            return;
        }
    }
    int r = flush(c);
    if (r < 0 || (r == 1 && c->close_after)) {
        conn_free(loop, c);
        return;
    }
    int want = r == 0 ? EV_READ | EV_WRITE : EV_READ;
    if ((w->events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, w);
        ev_io_set(w, w->fd, want);
        ev_io_start(loop, w);
    }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        if (!(c->x = xr_conn_new(&limits))) {
            free(c);
            close(fd);
            continue;
        }
        ev_io_init(&c->io, conn_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: libev_http_server PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, SOMAXCONN) < 0) {
        perror("libev_http_server: listen");
        return 1;
    }
    struct ev_loop *loop = EV_DEFAULT;
    ev_io acc;
    ev_io_init(&acc, accept_cb, lfd, EV_READ);
    ev_io_start(loop, &acc);
    ev_run(loop, 0);
    return 0;
}
