/* gzmq-reqrep-client: load for gzmq-reqrep-server (or any echo server).
 *
 * C greenlets, each with its own REQ socket, send N requests in all; every
 * reply must equal its request. The last line of output is
 *   N requests, C concurrent, T s, R req/s
 * and the exit status is 0 only if every reply matched. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

#define PROG "gzmq-reqrep-client"

static const char *endpoint;
static long total, concurrency = 10, size = 16, timeout_s = 10;
static long next_request, matched, failed;
static void *ctx;

/* Request I's body: its number in hex, then a pattern depending on it. */
static void fill(char *buf, long i)
{
    char head[24];
    int n = snprintf(head, sizeof head, "%016lx", (unsigned long)i);
    for (long k = 0; k < size; k++)
        buf[k] = k < n ? head[k] : (char)('a' + (i + k) % 26);
}

static void *client(void *arg)
{
    (void)arg;
    void *req = cli_socket(ctx, ZMQ_REQ, 0);
    int ms = (int)(timeout_s * 1000);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &ms, sizeof ms);
    /* A server that refuses our CURVE key leaves the socket without a peer:
     * a send could then wait forever too. */
    zmq_setsockopt(req, ZMQ_SNDTIMEO, &ms, sizeof ms);
    cli_connect(req, endpoint, PROG);
    char *out = malloc((size_t)size + 1), *in = malloc((size_t)size + 1);
    while (out && in && next_request < total) {
        long i = next_request++;
        fill(out, i);
        if (gz_zmq_send(req, out, (size_t)size, 0) < 0 ||
            gz_zmq_recv(req, in, (size_t)size + 1, 0) != size ||
            memcmp(in, out, (size_t)size) != 0) {
            if (errno == EAGAIN)
                fprintf(stderr, PROG ": no reply within %ld s\n", timeout_s);
            else if (errno != ETERM)
                fprintf(stderr, PROG ": request %ld: %s\n", i,
                        errno ? zmq_strerror(errno) : "reply differs");
            failed++;
            break; /* a REQ socket without its reply cannot go on */
        }
        matched++;
        errno = 0;
    }
    free(out);
    free(in);
    gz_zmq_close(req);
    return NULL;
}

int main(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--connect", "ENDPOINT", CLI_STRING, &endpoint, true, 0, 0,
         "the server, e.g. tcp://127.0.0.1:5555"},
        {"--requests", "N", CLI_NUMBER, &total, true, 1, 1000000000L,
         "requests to send in all"},
        {"--concurrency", "C", CLI_NUMBER, &concurrency, false, 1, 10000,
         "greenlets, each with its own REQ socket"},
        {"--size", "BYTES", CLI_NUMBER, &size, false, 1, 64L << 20,
         "bytes per request"},
        {"--timeout", "SECONDS", CLI_NUMBER, &timeout_s, false, 1, 86400,
         "give up when a reply takes longer"},
        CLI_CURVE_OPTS,
    };
    cli_parse(argc, argv, PROG,
              "Send N requests from C concurrent REQ sockets and check every "
              "reply equals its request.", opts, sizeof opts / sizeof *opts);

    ctx = gz_zmq_context();
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_greenlet **gs = calloc((size_t)concurrency, sizeof *gs);
    if (!gs)
        return 1;
    double t0 = cli_now();
    for (long i = 0; i < concurrency; i++)
        gs[i] = gz_spawn(client, NULL);
    gz_joinall(gs, (size_t)concurrency, GZ_FOREVER);
    double t = cli_now() - t0;
    for (long i = 0; i < concurrency; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    cli_curve_done();
    zmq_ctx_term(ctx);
    if (cli_stopped())
        fprintf(stderr, PROG ": interrupted\n");
    if (matched != total)
        fprintf(stderr, PROG ": %ld of %ld replies matched\n", matched, total);
    printf("%ld requests, %ld concurrent, %.3f s, %.0f req/s\n", matched,
           concurrency, t, t > 0 ? (double)matched / t : 0.0);
    return matched == total && !failed ? 0 : 1;
}
