/* gzmq-reqrep-server: an echo server for REQ (or DEALER) clients.
 *
 * One ROUTER socket shared by a few greenlets: each receives a whole request
 * (the frames of one message never interleave: a green recv of the next frame
 * does not yield) and sends it back. On SIGINT or SIGTERM it prints how many
 * requests it served and how many replies it dropped, and exits 0.
 *
 * A server shared by many clients must not let one of them hold it. A reply
 * is therefore sent with ZMQ_DONTWAIT and ROUTER_MANDATORY: a peer that does
 * not read its replies (its queue at the high-water mark: EAGAIN) or that
 * went away (EHOSTUNREACH) costs a dropped, counted reply, never a greenlet
 * blocked on it. A blocking send there would park every greenlet in turn on
 * the one peer that never reads, and nobody else would be answered.
 * ZMQ_MAXMSGSIZE (--max-msg-size) bounds what one request may make the
 * server allocate: libzmq disconnects a peer that sends more.
 *
 * --threads N: the ROUTER stays one socket on this thread (ZeroMQ cannot
 * bind two sockets to one endpoint), and N hubs (gz_run_threads) echo
 * behind it: two greenlets here move whole messages between the ROUTER and
 * a DEALER bound over inproc, and each hub's greenlets echo on a DEALER of
 * their own connected to it (libzmq deals requests round-robin over them).
 * Replies are sent to clients, and counted, here. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"

#define PROG "gzmq-reqrep-server"
#define MAX_FRAMES 16

static void *router;
static _Thread_local void *sock; /* what this thread's echo greenlets serve */
static long served;
static long dropped_full, dropped_gone; /* replies: peer at its HWM, peer gone */
static _Atomic int failure;

/* Receive one whole message: the number of frames, 0 if it had too many
 * (dropped), -1 with errno when the socket fails. */
static int recv_message(void *from, zmq_msg_t *frames)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t *m = &frames[n < MAX_FRAMES ? n : MAX_FRAMES - 1];
        if (n >= MAX_FRAMES)
            zmq_msg_close(m);
        zmq_msg_init(m);
        if (gz_zmq_msg_recv(m, from, 0) < 0) {
            int e = errno;
            for (int i = 0; i <= n && i < MAX_FRAMES; i++)
                zmq_msg_close(&frames[i]);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(m);
        n++;
    }
    if (n > MAX_FRAMES) {
        for (int i = 0; i < MAX_FRAMES; i++)
            zmq_msg_close(&frames[i]);
        return 0;
    }
    return n;
}

/* Send the N frames of a reply without waiting; on failure close the
 * frames not sent. Only the first frame (the peer's routing id) can fail:
 * once ROUTER accepted it, the rest of the message goes to the same pipe. */
static int send_reply(void *to, zmq_msg_t *frames, int n, int flags)
{
    int i = 0;
    for (; i < n; i++)
        if (gz_zmq_msg_send(&frames[i], to, flags | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0)
            break;
    if (i == n)
        return 0;
    int e = errno;
    for (; i < n; i++)
        zmq_msg_close(&frames[i]);
    errno = e;
    return -1;
}

/* Send a reply to a client: counted, never waited for. 0 or -1 (errno)
 * when the socket itself failed. */
static int reply_to_client(zmq_msg_t *frames, int n)
{
    if (send_reply(router, frames, n, ZMQ_DONTWAIT) == 0)
        served++;
    else if (errno == EAGAIN) /* the client does not read its replies */
        dropped_full++;
    else if (errno == EHOSTUNREACH) /* the client went away */
        dropped_gone++;
    else
        return -1;
    return 0;
}

static void report_end(void)
{
    if (errno != ETERM) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
}

static void *echo(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(router, frames);
        if (n < 0)
            break;
        if (reply_to_client(frames, n) < 0)
            break;
    }
    report_end();
    return NULL;
}

/* ---- --threads ---- */

#define WORKERS "inproc://gzmq-reqrep-server-workers"
static void *dealer;      /* bound at WORKERS, on this thread */
static long per_hub;      /* echo greenlets per hub */

/* Requests: ROUTER -> DEALER (blocking: a busy hub slows the intake). */
static void *to_workers(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(router, frames);
        if (n < 0 || (n > 0 && send_reply(dealer, frames, n, 0) < 0))
            break;
    }
    report_end();
    return NULL;
}

/* Replies: DEALER -> ROUTER, each counted as in one thread. */
static void *to_clients(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(dealer, frames);
        if (n < 0 || (n > 0 && reply_to_client(frames, n) < 0))
            break;
    }
    report_end();
    return NULL;
}

/* A worker hub's greenlet: echo on the hub's DEALER until ETERM. */
static void *echo_behind(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(sock, frames);
        if (n < 0 || (n > 0 && send_reply(sock, frames, n, 0) < 0))
            break;
    }
    if (errno != ETERM && errno != ECANCELED) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
    return NULL;
}

static void worker_hub(size_t index, void *arg)
{
    (void)index;
    sock = cli_socket(arg, ZMQ_DEALER, 1000);
    cli_connect(sock, WORKERS, PROG);
    gz_greenlet **gs = calloc((size_t)per_hub, sizeof *gs);
    if (!gs)
        gz_fail(ENOMEM, "no memory for %ld greenlets", per_hub);
    for (long i = 0; i < per_hub; i++)
        gs[i] = gz_spawn(echo_behind, NULL);
    gz_joinall(gs, (size_t)per_hub, GZ_FOREVER);
    for (long i = 0; i < per_hub; i++)
        gz_release(gs[i]);
    free(gs);
    gz_zmq_close(sock);
}

/* The context's shutdown (a signal) ends every socket of every hub. */
static void serve_threads(void *ctx, long threads)
{
    dealer = cli_socket(ctx, ZMQ_DEALER, 1000);
    if (zmq_bind(dealer, WORKERS) != 0) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        exit(1);
    }
    gz_greenlet *in = gz_spawn(to_workers, NULL), *out = gz_spawn(to_clients, NULL);
    if (gz_run_threads((size_t)threads, worker_hub, ctx) != 0)
        failure = 1;
    gz_greenlet *both[] = {in, out};
    gz_joinall(both, 2, GZ_FOREVER);
    gz_release(in);
    gz_release(out);
    gz_zmq_close(dealer);
}

int main(int argc, char **argv)
{
    const char *bind = NULL;
    long greenlets = 8;
    long max_msg_size = 1L << 20;
    long stats = 0;
    long threads = 1;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where clients connect, e.g. tcp://*:5555 or tcp://127.0.0.1:*"},
        {"--greenlets", "G", CLI_NUMBER, &greenlets, false, 1, 100000,
         "greenlets serving the socket"},
        {"--max-msg-size", "BYTES", CLI_NUMBER, &max_msg_size, false, 1, 1L << 30,
         "largest request frame accepted; a peer sending more is disconnected"},
        {"--stats", "N", CLI_NUMBER, &stats, false, 0, 86400,
         "print a line of hub statistics on stderr every N seconds (0: never)"},
        {"--threads", "N", CLI_NUMBER, &threads, false, 1, 1024,
         "hubs (threads) of G greenlets echoing behind the one ROUTER, over inproc"},
        CLI_CURVE_OPTS,
    };
    cli_parse(argc, argv, PROG,
              "Echo every request back; a reply to a client that does not read "
              "its replies (or left) is dropped, never waited for. On SIGINT or "
              "SIGTERM print how many were served and dropped, and exit.", opts, sizeof opts / sizeof *opts);

    void *ctx = gz_zmq_context();
    router = cli_socket(ctx, ZMQ_ROUTER, 1000);
    int one = 1;
    int64_t max = max_msg_size;
    if (zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0 ||
        zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        return 1;
    }
    cli_bind(router, bind, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_greenlet *stats_line = cli_stats_start(stats, PROG);
    if (threads > 1) {
        per_hub = greenlets;
        serve_threads(ctx, threads);
    } else {
        gz_greenlet **gs = calloc((size_t)greenlets, sizeof *gs);
        if (!gs)
            return 1;
        for (long i = 0; i < greenlets; i++)
            gs[i] = gz_spawn(echo, NULL);
        gz_joinall(gs, (size_t)greenlets, GZ_FOREVER);
        for (long i = 0; i < greenlets; i++)
            gz_release(gs[i]);
        free(gs);
    }
    cli_stats_stop(stats_line);
    cli_signals_done();
    gz_zmq_close(router);
    cli_curve_done();
    zmq_ctx_term(ctx);
    printf(PROG ": dropped %ld replies: %ld to peers at their high-water mark, "
           "%ld to peers gone\n", dropped_full + dropped_gone, dropped_full, dropped_gone);
    printf(PROG ": served %ld requests\n", served);
    return failure;
}
