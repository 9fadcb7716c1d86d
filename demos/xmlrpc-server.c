/* gzmq-xmlrpc-server: the XML-RPC server of the seed article's benchmark,
 * one greenlet per connection on gz_server.
 *
 *   gzmq-xmlrpc-server --port P [--host H] [--max-connections N]
 *                      [--idle-timeout S] [--request-timeout S]
 *                      [--max-gen N] [--max-response BYTES] [--write-budget BYTES]
 *                      [--threads N]
 *
 * Methods: add(a, b) (ints or doubles), gen(n) (a string of n zeros) and
 * system.listMethods(). HTTP/1.1 with keep-alive, parsed by libhttp-parser;
 * XML parsed by expat. GET / answers a fixed small body, for wrk. Errors:
 * XML-RPC faults (-32700 malformed XML, -32600 not a method call, -32601
 * unknown method, -32602 wrong parameters), HTTP 400 for malformed HTTP, 413
 * for bodies over 1 MiB, 408 for a request not complete within the request
 * timeout, 503 for a client past the connection limit; idle keep-alive
 * connections are closed after the idle timeout. What one call may cost is
 * capped (gen's n, the size of one response, and the bytes of responses
 * waiting for slow readers, over all connections): past a cap the call gets
 * a fault at once, before anything big is built.
 * --threads N runs N hubs (gz_run_threads), each with its own listening
 * socket on the port (GZ_TCP_REUSEPORT): the kernel spreads connections
 * over them, and the hubs share nothing, so the state below is per thread.
 * SIGINT / SIGTERM stop it gracefully. The request handling, free of I/O,
 * is demos/xmlrpc/handler.c; the command line demos/xmlrpc/options.c. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>

#include <gzmq.h>

#include "common/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmlrpc/handler.h"
#include "xmlrpc/options.h"

static double idle_timeout;    /* between requests on a connection */
static double request_timeout; /* from a request's first byte to its end */
static double write_timeout = 30.0;
static xr_limits base_limits;  /* from the command line */
static _Thread_local xr_limits limits; /* this hub's: what one request may cost; the bytes queued */
static size_t max_connections; /* served at once per hub; 0: no limit */
static _Thread_local size_t served; /* connections this hub serves now */
/* Past max_connections, this many more are accepted only to be answered 503
 * at once; beyond those, new clients wait in the listen backlog. */
#define REFUSALS 64

/* One xr_feed, run by gz_call_hot: parsing and answering a request waits
 * for nothing, so it runs on the hub's shared stack, which stays in the
 * cache, rather than on this connection's, which went cold while the other
 * connections were served (a few percent per request with 1000 clients). */
typedef struct feed_call {
    xr_conn *c;
    const char *data;
    size_t len, used;
    xr_buf *out;
    enum xr_step step;
} feed_call;

static void feed(void *arg)
{
    feed_call *f = arg;
    f->step = xr_feed(f->c, f->data, f->len, &f->used, f->out);
}

/* The answers to the requests of one read are gathered and written
 * together, as a callback server does (one send for a client's pipelined
 * requests), but no more than this many bytes at a time. */
#define GATHER_MAX (64u << 10)

/* A connection keeps its answer buffer between reads, as a callback
 * server keeps its output buffer (a malloc, reallocs and a free per read
 * were 3% of a pipelined GET /), unless an answer made it bigger than this:
 * 10000 idle clients then hold 4 KiB each at most. */
#define KEEP_MAX 4096u

/* Write the gathered answers and empty OUT; -1 to close. */
static int flush_answers(int fd, xr_buf *out)
{
    /* Counted while they wait for the client to read them: a client that
     * never reads holds its answers until the write timeout. */
    limits.queued += out->len;
    int rc = gz_write(fd, out->data, out->len, write_timeout) < 0 ? -1 : 0;
    limits.queued -= out->len;
    out->len = 0;
    if (out->cap > KEEP_MAX)
        xr_buf_free(out);
    return rc;
}

/* Feed DATA to the connection's parser and send the answers, gathered in
 * OUT (empty on entry and on return); -1 to close. Bytes left after a full
 * GATHER_MAX of answers are copied aside before those are written, since
 * the read buffer is shared by every connection and the write may wait. */
static int serve(xr_conn *c, int fd, const char *data, size_t len, xr_buf *out)
{
    char *spare = NULL;
    int rc = 0;
    while (len > 0) {
        feed_call f = {.c = c, .data = data, .len = len, .out = out};
        if (gz_call_hot(feed, &f) < 0 || out->failed) {
            rc = -1; /* out of memory: close without sending */
            break;
        }
        if (f.step == XR_MORE)
            break;
        data += f.used;
        len -= f.used;
        if (f.step == XR_CLOSE) {
            rc = -1; /* after its answer */
            break;
        }
        if (out->len >= GATHER_MAX && len > 0) {
            if (!spare) {
                if (!(spare = malloc(len))) {
                    rc = -1;
                    break;
                }
                memcpy(spare, data, len);
                data = spare;
            }
            if (flush_answers(fd, out) < 0) {
                rc = -1;
                break;
            }
        }
    }
    if (out->len > 0 && !out->failed && flush_answers(fd, out) < 0)
        rc = -1;
    if (rc < 0 || out->failed)
        xr_buf_free(out);
    out->len = 0;
    free(spare);
    return rc;
}

/* After an error answer the client may still be sending (a 2 MiB body we
 * refused): closing with unread input would reset the connection and could
 * destroy the answer before the client reads it. Read and drop the input
 * for a while first, as web servers do. */
static void linger_close(int fd)
{
    static _Thread_local char sink[16384];
    shutdown(fd, SHUT_WR);
    double end = gz_now() + 2.0;
    size_t total = 0;
    while (total < (16u << 20)) {
        double left = end - gz_now();
        ssize_t n = left > 0 ? gz_read(fd, sink, sizeof sink, left) : -1;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

/* One read buffer for the whole thread: a greenlet fills it and parses it
 * without blocking in between, so no other greenlet touches it meanwhile.
 * Per-connection memory stays small with 10000 clients. */
static _Thread_local char rbuf[64 * 1024];

/* An error answer that ends the connection (408, 503). */
static void send_error(int fd, xr_conn *c, int status, const char *reason)
{
    xr_buf out = {0};
    xr_error(c, status, reason, &out);
    if (!out.failed)
        gz_write(fd, out.data, out.len, write_timeout);
    xr_buf_free(&out);
}

/* Read, answer and write requests on FD until it ends. */
static void converse(int fd, xr_conn *c)
{
    double started = 0;
    xr_buf out = {0};
    for (;;) {
        double t = idle_timeout;
        if (xr_in_request(c)) {
            t = started + request_timeout - gz_now();
            if (t < 0)
                t = 0;
        }
        ssize_t n = gz_read(fd, rbuf, sizeof rbuf, t);
        if (n < 0 && errno == ETIMEDOUT && xr_in_request(c)) {
            send_error(fd, c, 408, "Request Timeout"); /* a slow client */
            break;
        }
        if (n <= 0)
            break; /* EOF, an idle client, a reset, or a kill */
        if (!xr_in_request(c))
            started = gz_now();
        if (serve(c, fd, rbuf, (size_t)n, &out) < 0)
            break;
        if (!xr_in_request(c))
            started = 0;
    }
    xr_buf_free(&out);
}

static void handle(int fd, void *arg)
{
    (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    xr_conn *c = xr_conn_new(&limits);
    if (!c) {
        gz_close(fd);
        return;
    }
    /* Over the limit: a clear answer now, not a wait the client cannot tell
     * from a dead server. */
    if (max_connections && served >= max_connections) {
        send_error(fd, c, 503, "Service Unavailable");
    } else {
        served++;
        converse(fd, c);
        served--;
    }
    if (xr_linger(c))
        linger_close(fd);
    xr_conn_free(c);
    gz_close(fd);
}

/* ---- main ---- */

static gz_server *server;      /* one hub */
static int *listeners;         /* --threads: one per hub */
static gz_greenlet *stats_line;

static void on_signal(int signum, void *arg)
{
    (void)arg;
    fprintf(stderr, "gzmq-xmlrpc-server: signal %d, stopping\n", signum);
    gz_signal_cancel(SIGINT);
    gz_signal_cancel(SIGTERM);
    cli_stats_stop(stats_line);
    stats_line = NULL;
    if (server)
        gz_server_stop(server, 5.0);
    else
        gz_run_threads_stop();
}

/* One of --threads' hubs: serve until gz_run_threads_stop, whose kill ends
 * the wait below and the handlers at once. */
static void serve_hub(size_t index, void *arg)
{
    (void)arg;
    limits = base_limits;
    gz_server *s = gz_server_new(listeners[index], handle, NULL,
                                 max_connections ? max_connections + REFUSALS : 0);
    if (!s || gz_server_start(s) < 0)
        gz_fail(errno, "hub %zu: %s", index, strerror(errno));
    gz_event *stop = gz_event_new();
    if (stop)
        gz_event_wait(stop, GZ_FOREVER);
    gz_event_free(stop);
    gz_server_free(s);
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int main(int argc, char **argv)
{
    xr_options opt;
    int status = xr_options_parse(argc, argv, &opt);
    if (status >= 0)
        return status;
    const char *host = opt.host;
    idle_timeout = opt.idle_timeout;
    request_timeout = opt.request_timeout;
    base_limits = (xr_limits){.max_gen = opt.max_gen, .max_response = opt.max_response,
                              .write_budget = opt.write_budget};
    limits = base_limits;
    max_connections = opt.max_connections;
    /* One descriptor per client: take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t n = opt.threads;
    int flags = n > 1 ? GZ_TCP_REUSEPORT : 0;
    listeners = calloc(n, sizeof *listeners);
    if (!listeners)
        return 1;
    int port = opt.port;
    for (size_t i = 0; i < n; i++) {
        /* Port 0: the first socket picks it, the others join it. */
        listeners[i] = gz_tcp_listen_opts(host, i ? port : opt.port, 0, flags);
        if (listeners[i] < 0) {
            fprintf(stderr, "gzmq-xmlrpc-server: cannot listen on %s:%d: %s\n",
                    host ? host : "*", i ? port : opt.port, strerror(errno));
            return 1;
        }
        port = port_of(listeners[i]);
    }
    int rc;
    gz_signal(SIGINT, on_signal, NULL);
    gz_signal(SIGTERM, on_signal, NULL);
    stats_line = cli_stats_start((long)opt.stats, "gzmq-xmlrpc-server");
    if (n == 1) {
        server = gz_server_new(listeners[0], handle, NULL,
                               max_connections ? max_connections + REFUSALS : 0);
        if (!server || gz_server_start(server) < 0) {
            fprintf(stderr, "gzmq-xmlrpc-server: %s\n", strerror(errno));
            return 1;
        }
        printf("gzmq-xmlrpc-server: listening on %s port %d\n", host ? host : "*", port);
        fflush(stdout);
        rc = gz_run();
        gz_server_free(server);
    } else {
        printf("gzmq-xmlrpc-server: listening on %s port %d (%zu threads)\n",
               host ? host : "*", port, n);
        fflush(stdout);
        rc = gz_run_threads(n, serve_hub, NULL);
    }
    for (size_t i = 0; i < n; i++)
        gz_close(listeners[i]);
    free(listeners);
    return rc == 0 ? 0 : 1;
}
