/* The reference for gzmq-xmlrpc-server's GET /: a hand-written libev
 * callback server, no greenlets, answering every request with the same
 * small body. Parsing uses libhttp-parser as the greenlet server does, so
 * the comparison measures the concurrency model, not the parser.
 *
 *   libev_http_server PORT      (listens on 127.0.0.1)
 *
 * Build: cc -O2 -o libev_http_server libev_http_server.c -lev -lhttp_parser */
#define _GNU_SOURCE
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <http_parser.h>
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

#define BODY "Hello from gzmq-xmlrpc-server\n"

typedef struct conn {
    ev_io io;
    http_parser parser;
    char *out;          /* answers not yet written */
    size_t out_len, out_off;
    bool close_after;
} conn;

static const char reply_keep[] = "HTTP/1.1 200 OK\r\nServer: libev\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 30\r\nConnection: keep-alive\r\n\r\n" BODY;
static const char reply_close[] = "HTTP/1.1 200 OK\r\nServer: libev\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 30\r\nConnection: close\r\n\r\n" BODY;

static void conn_free(struct ev_loop *loop, conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    free(c->out);
    free(c);
}

static int queue_out(conn *c, const char *s, size_t n)
{
    char *o = realloc(c->out, c->out_len + n);
    if (!o)
        return -1;
    memcpy(o + c->out_len, s, n);
    c->out = o;
    c->out_len += n;
    return 0;
}

static int on_complete(http_parser *p)
{
    conn *c = p->data;
    bool keep = http_should_keep_alive(p);
    if (!keep)
        c->close_after = true;
    return queue_out(c, keep ? reply_keep : reply_close,
                     keep ? sizeof reply_keep - 1 : sizeof reply_close - 1);
}

static const http_parser_settings settings = {.on_message_complete = on_complete};

/* Write what is queued; 1 when all is out, 0 when the socket is full, -1 on error. */
static int flush(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->io.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return 1;
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn *c = (conn *)w;
    if (revents & EV_READ) {
        char buf[16384];
        ssize_t n = recv(w->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_free(loop, c);
            return;
        }
        size_t used = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
        if (used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
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
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
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
