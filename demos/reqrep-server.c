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
 * server allocate: libzmq disconnects a peer that sends more. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"

#define PROG "gzmq-reqrep-server"
#define MAX_FRAMES 16

static void *router;
static long served;
static long dropped_full, dropped_gone; /* replies: peer at its HWM, peer gone */
static int failure;

/* Receive one whole message: the number of frames, 0 if it had too many
 * (dropped), -1 with errno when the socket fails. */
static int recv_message(zmq_msg_t *frames)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t *m = &frames[n < MAX_FRAMES ? n : MAX_FRAMES - 1];
        if (n >= MAX_FRAMES)
            zmq_msg_close(m);
        zmq_msg_init(m);
        if (gz_zmq_msg_recv(m, router, 0) < 0) {
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
static int send_reply(zmq_msg_t *frames, int n)
{
    int i = 0;
    for (; i < n; i++)
        if (gz_zmq_msg_send(&frames[i], router,
                            ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)) < 0)
            break;
    if (i == n)
        return 0;
    int e = errno;
    for (; i < n; i++)
        zmq_msg_close(&frames[i]);
    errno = e;
    return -1;
}

static void *echo(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(frames);
        if (n < 0)
            break;
        if (send_reply(frames, n) == 0)
            served++;
        else if (errno == EAGAIN) /* the client does not read its replies */
            dropped_full++;
        else if (errno == EHOSTUNREACH) /* the client went away */
            dropped_gone++;
        else
            break;
    }
    if (errno != ETERM) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *bind = NULL;
    long greenlets = 8;
    long max_msg_size = 1L << 20;
    long stats = 0;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where clients connect, e.g. tcp://*:5555 or tcp://127.0.0.1:*"},
        {"--greenlets", "G", CLI_NUMBER, &greenlets, false, 1, 100000,
         "greenlets serving the socket"},
        {"--max-msg-size", "BYTES", CLI_NUMBER, &max_msg_size, false, 1, 1L << 30,
         "largest request frame accepted; a peer sending more is disconnected"},
        {"--stats", "N", CLI_NUMBER, &stats, false, 0, 86400,
         "print a line of hub statistics on stderr every N seconds (0: never)"},
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
    gz_greenlet **gs = calloc((size_t)greenlets, sizeof *gs);
    if (!gs)
        return 1;
    for (long i = 0; i < greenlets; i++)
        gs[i] = gz_spawn(echo, NULL);
    gz_greenlet *stats_line = cli_stats_start(stats, PROG);
    gz_joinall(gs, (size_t)greenlets, GZ_FOREVER);
    cli_stats_stop(stats_line);
    for (long i = 0; i < greenlets; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    gz_zmq_close(router);
    cli_curve_done();
    zmq_ctx_term(ctx);
    printf(PROG ": dropped %ld replies: %ld to peers at their high-water mark, "
           "%ld to peers gone\n", dropped_full + dropped_gone, dropped_full, dropped_gone);
    printf(PROG ": served %ld requests\n", served);
    return failure;
}
