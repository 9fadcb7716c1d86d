/* A lean HTTP/1.1 load generator for bench/seed_table.sh's comparison of
 * gzmq-xmlrpc-server with the libev callback server.
 *
 * wrk parses every response with its full parser and keeps latency
 * statistics: on two cores it spends about as much per GET / as the servers
 * do, so it saturates first and both servers look alike. This client keeps
 * DEPTH requests in flight on each of CONNS keep-alive connections, writes
 * the requests a read has made room for in one send, and finds each
 * response's end from its Content-Length, checking its status line: a
 * fraction of a server's cost per request, so the server saturates and the
 * rate measures it.
 *
 *   http_load [-c CONNS] [-d DEPTH] [-s SECONDS] [-t THREADS] PORT [PATH]
 *
 * GET PATH (default /) on 127.0.0.1:PORT; prints one line:
 *   requests N seconds S rate R errors E
 * where E counts non-200 answers, malformed ones and connections the
 * server closed or reset (each is opened again). Exit 1 when nothing was
 * answered or on a bad argument. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { READ_BUF = 65536, MAX_DEPTH = 256 };

typedef struct conn {
    int fd;
    unsigned in_flight;  /* requests sent or due, not yet answered (<= depth) */
    size_t unsent;       /* bytes of the request batch not yet written */
    size_t have;         /* bytes of a partial response kept in buf */
    size_t body_left;    /* body bytes of the current response still to come */
    bool want_out;       /* EPOLLOUT asked for: a write is waiting for room */
    char *buf;
} conn;

typedef struct worker {
    pthread_t thread;
    unsigned conns;
    unsigned long long answered, errors;
} worker;

static unsigned depth = 1;
static double seconds = 10;
static struct sockaddr_in addr;
static char *batch;      /* MAX(depth) requests back to back */
static size_t req_len;
static struct timespec start_at, stop_at;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int open_conn(int ep, conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        return -1;
    }
    c->in_flight = depth;
    c->unsent = depth * req_len;
    c->have = c->body_left = 0;
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void reopen(int ep, conn *c, worker *w)
{
    w->errors++;
    close(c->fd); /* leaves the epoll set with it */
    while (open_conn(ep, c) != 0)
        usleep(1000);
}

static void want_out(int ep, conn *c, bool on)
{
    if (c->want_out == on)
        return;
    c->want_out = on;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is left to send (the batch repeats one request, so its last
 * UNSENT bytes are always what is due); false when the connection failed. */
static bool send_batch(int ep, conn *c)
{
    while (c->unsent > 0) {
        const char *from = batch + depth * req_len - c->unsent;
        ssize_t n = send(c->fd, from, c->unsent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN)
                return false;
            want_out(ep, c, true);
            return true;
        }
        c->unsent -= (size_t)n;
    }
    want_out(ep, c, false);
    return true;
}

/* The length of the head at P (up to and with the blank line) and its
 * Content-Length, or 0 while the head is incomplete, -1 when malformed or
 * not a 200. */
static long parse_head(const char *p, size_t len, size_t *body)
{
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (!end)
        return len > 16384 ? -1 : 0;
    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || memcmp(p + 8, " 200", 4) != 0)
        return -1;
    *body = 0;
    for (const char *l = memchr(p, '\n', (size_t)(end - p)); l && l < end;
         l = memchr(l + 1, '\n', (size_t)(end - l))) {
        if (strncasecmp(l + 1, "content-length:", 15) == 0) {
            *body = strtoul(l + 16, NULL, 10);
            break;
        }
    }
    return end + 4 - p;
}

/* Count the responses in C->buf; false when the connection must be reset. */
static bool consume(conn *c, worker *w, bool counting)
{
    size_t off = 0, answered = 0;
    while (off < c->have) {
        if (c->body_left > 0) {
            size_t n = c->have - off < c->body_left ? c->have - off : c->body_left;
            off += n;
            c->body_left -= n;
            if (c->body_left == 0)
                answered++;
            continue;
        }
        size_t body;
        long head = parse_head(c->buf + off, c->have - off, &body);
        if (head < 0)
            return false;
        if (head == 0)
            break;
        off += (size_t)head;
        c->body_left = body;
        if (body == 0)
            answered++;
    }
    memmove(c->buf, c->buf + off, c->have - off);
    c->have -= off;
    if (answered > c->in_flight)
        return false;
    c->in_flight -= (unsigned)answered;
    if (counting)
        w->answered += answered;
    /* Refill: as many new requests as were answered, in one write. */
    c->unsent += answered * req_len;
    c->in_flight += (unsigned)answered;
    return true;
}

static void *run(void *arg)
{
    worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc(w->conns, sizeof *cs);
    if (ep < 0 || !cs)
        return NULL;
    for (unsigned i = 0; i < w->conns; i++) {
        cs[i].buf = malloc(READ_BUF);
        if (!cs[i].buf || open_conn(ep, &cs[i]) != 0) {
            perror("http_load: connect");
            exit(1);
        }
    }
    struct epoll_event evs[256];
    double t_start = (double)start_at.tv_sec + start_at.tv_nsec / 1e9;
    double t_stop = (double)stop_at.tv_sec + stop_at.tv_nsec / 1e9;
    for (;;) {
        double t = now();
        if (t >= t_stop)
            break;
        bool counting = t >= t_start;
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t r = recv(c->fd, c->buf + c->have, READ_BUF - c->have, 0);
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (r <= 0) {
                    reopen(ep, c, w);
                    continue;
                }
                c->have += (size_t)r;
                if (!consume(c, w, counting)) {
                    reopen(ep, c, w);
                    continue;
                }
            }
            if (c->unsent > 0 && !send_batch(ep, c))
                reopen(ep, c, w);
        }
    }
    for (unsigned i = 0; i < w->conns; i++) {
        close(cs[i].fd);
        free(cs[i].buf);
    }
    free(cs);
    close(ep);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: http_load [-c CONNS] [-d DEPTH] [-s SECONDS] [-t THREADS] PORT [PATH]\n"
                    "  DEPTH 1..%d requests in flight per connection\n", MAX_DEPTH);
    exit(1);
}

int main(int argc, char **argv)
{
    unsigned conns = 100, threads = 1;
    int opt;
    while ((opt = getopt(argc, argv, "c:d:s:t:")) != -1) {
        switch (opt) {
        case 'c': conns = (unsigned)atoi(optarg); break;
        case 'd': depth = (unsigned)atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 't': threads = (unsigned)atoi(optarg); break;
        default: usage();
        }
    }
    if (optind >= argc || conns == 0 || threads == 0 || conns < threads || depth == 0 ||
        depth > MAX_DEPTH || !(seconds > 0))
        usage();
    int port = atoi(argv[optind]);
    if (port <= 0 || port > 65535)
        usage();
    const char *path = optind + 1 < argc ? argv[optind + 1] : "/";
    char req[1024];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (len <= 0 || (size_t)len >= sizeof req)
        usage();
    req_len = (size_t)len;
    batch = malloc(depth * req_len);
    for (unsigned i = 0; i < depth; i++)
        memcpy(batch + i * req_len, req, req_len);
    addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double began = now();
    /* Count from one second in, when every connection is open and busy. */
    clock_gettime(CLOCK_MONOTONIC, &start_at);
    start_at.tv_sec += 1;
    stop_at = start_at;
    stop_at.tv_sec += (time_t)seconds;
    stop_at.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (stop_at.tv_nsec >= 1000000000L) {
        stop_at.tv_sec++;
        stop_at.tv_nsec -= 1000000000L;
    }
    worker *ws = calloc(threads, sizeof *ws);
    for (unsigned i = 0; i < threads; i++) {
        ws[i].conns = conns / threads + (i < conns % threads);
        if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) {
            perror("http_load: thread");
            return 1;
        }
    }
    unsigned long long answered = 0, errors = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(ws[i].thread, NULL);
        answered += ws[i].answered;
        errors += ws[i].errors;
    }
    /* Its own CPU use over the whole run, in % of one core: near 100 per
     * thread, it and not the server was the limit. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("requests %llu seconds %.3f rate %.0f errors %llu cpu %.0f\n", answered, seconds,
           (double)answered / seconds, errors, 100 * cpu / (now() - began));
    return answered > 0 ? 0 : 1;
}
