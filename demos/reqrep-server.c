/* gzmq-reqrep-server: an echo server for REQ (or DEALER) clients.
 *
 * One ROUTER socket shared by a few greenlets: each receives a whole request
 * (the frames of one message never interleave: a green recv of the next frame
 * does not yield) and sends it back. ROUTER_MANDATORY turns a reply to a
 * client that went away into EHOSTUNREACH instead of a silent drop. On
 * SIGINT or SIGTERM it prints how many requests it served and exits 0. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"

#define PROG "gzmq-reqrep-server"
#define MAX_FRAMES 16

static void *router;
static long served;
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

static void *echo(void *arg)
{
    (void)arg;
    zmq_msg_t frames[MAX_FRAMES];
    for (;;) {
        int n = recv_message(frames);
        if (n < 0)
            break;
        int i = 0;
        for (; i < n; i++)
            if (gz_zmq_msg_send(&frames[i], router, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
                break;
        if (i == n) {
            served++;
            continue;
        }
        int e = errno;
        for (; i < n; i++)
            zmq_msg_close(&frames[i]);
        if (e != EHOSTUNREACH) { /* a vanished client is not our failure */
            errno = e;
            break;
        }
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
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where clients connect, e.g. tcp://*:5555 or tcp://127.0.0.1:*"},
        {"--greenlets", "G", CLI_NUMBER, &greenlets, false, 1, 100000,
         "greenlets serving the socket"},
    };
    cli_parse(argc, argv, PROG,
              "Echo every request back; on SIGINT or SIGTERM print how many "
              "were served and exit.", opts, 2);

    void *ctx = gz_zmq_context();
    router = cli_socket(ctx, ZMQ_ROUTER, 1000);
    int one = 1;
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
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
    gz_joinall(gs, (size_t)greenlets, GZ_FOREVER);
    for (long i = 0; i < greenlets; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    gz_zmq_close(router);
    zmq_ctx_term(ctx);
    printf(PROG ": served %ld requests\n", served);
    return failure;
}
