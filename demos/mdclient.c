/* gzmq-mdclient: load for a Majordomo (rfc 7/MDP) service.
 *
 * C greenlets, each its own client, send N requests in all to a service
 * through a gzmq-mdbroker, each retried on a fresh socket when no reply
 * comes in time. For the services of gzmq-mdworker every reply is checked:
 * echo must give the request back, sha256 its hex digest. The last line of
 * output is
 *   N requests, C concurrent, T s, R req/s
 * and the exit status is 0 only if every reply was right. */
#include <gzmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

#define PROG "gzmq-mdclient"

static const char *endpoint, *service;
static long total, concurrency = 10, size = 16, timeout_ms = 2500, retries = 3;
static long next_request, matched, failed;

/* Request I's body: its number in hex, then a pattern depending on it. */
static void fill(char *buf, long i)
{
    char head[24];
    int n = snprintf(head, sizeof head, "%016lx", (unsigned long)i);
    for (long k = 0; k < size; k++)
        buf[k] = k < n ? head[k] : (char)('a' + (i + k) % 26);
}

static bool reply_right(const gz_mdp_msg *reply, const char *body)
{
    size_t n;
    const char *p = gz_mdp_msg_frames(reply) == 1 ? gz_mdp_msg_frame(reply, 0, &n) : NULL;
    if (strcmp(service, "echo") == 0)
        return p && n == (size_t)size && memcmp(p, body, n) == 0;
    if (strcmp(service, "sha256") == 0) {
        unsigned char d[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof d + 1];
        crypto_hash_sha256(d, (const unsigned char *)body, (unsigned long long)size);
        sodium_bin2hex(hex, sizeof hex, d, sizeof d);
        return p && n == 2 * sizeof d && memcmp(p, hex, n) == 0;
    }
    return gz_mdp_msg_frames(reply) > 0; /* another service: any answer */
}

static void *client(void *arg)
{
    (void)arg;
    gz_mdp_client *c = gz_mdp_client_new(endpoint);
    char *body = malloc((size_t)size);
    gz_mdp_msg *req = NULL;
    if (!c || !body) {
        fprintf(stderr, PROG ": %s: %s\n", endpoint, zmq_strerror(errno));
        failed++;
    }
    while (c && body && next_request < total) {
        long i = next_request++;
        fill(body, i);
        req = gz_mdp_msg_new();
        gz_mdp_msg *reply = NULL;
        if (req && gz_mdp_msg_append(req, body, (size_t)size) == 0)
            reply = gz_mdp_client_request(c, service, req, (double)timeout_ms / 1000.0,
                                          (int)retries);
        if (!reply || !reply_right(reply, body)) {
            if (errno != ETERM)
                fprintf(stderr, PROG ": request %ld: %s\n", i,
                        reply ? "wrong reply" : zmq_strerror(errno));
            failed++;
            gz_mdp_msg_destroy(reply);
            break;
        }
        gz_mdp_msg_destroy(reply);
        gz_mdp_msg_destroy(req);
        req = NULL;
        matched++;
    }
    gz_mdp_msg_destroy(req);
    free(body);
    gz_mdp_client_destroy(c);
    return NULL;
}

int main(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--connect", "ENDPOINT", CLI_STRING, &endpoint, true, 0, 0,
         "the broker, e.g. tcp://127.0.0.1:5555"},
        {"--service", "NAME", CLI_STRING, &service, true, 0, 0,
         "the service (echo and sha256 replies are checked)"},
        {"--requests", "N", CLI_NUMBER, &total, true, 1, 1000000000L,
         "requests to send in all"},
        {"--concurrency", "C", CLI_NUMBER, &concurrency, false, 1, 10000,
         "greenlets, each its own client"},
        {"--size", "BYTES", CLI_NUMBER, &size, false, 1, 64L << 20,
         "bytes per request"},
        {"--timeout-ms", "MS", CLI_NUMBER, &timeout_ms, false, 1, 86400000,
         "wait this long for a reply before retrying"},
        {"--retries", "N", CLI_NUMBER, &retries, false, 0, 1000,
         "retries of a request, each on a fresh socket"},
    };
    cli_parse(argc, argv, PROG,
              "Send N requests to a Majordomo service from C concurrent clients.",
              opts, 7);
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot start\n");
        return 1;
    }
    void *ctx = gz_zmq_context();
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
    zmq_ctx_term(ctx);
    if (cli_stopped())
        fprintf(stderr, PROG ": interrupted\n");
    if (matched != total)
        fprintf(stderr, PROG ": %ld of %ld replies right\n", matched, total);
    printf("%ld requests, %ld concurrent, %.3f s, %.0f req/s\n", matched, concurrency, t,
           t > 0 ? (double)matched / t : 0.0);
    return matched == total && !failed ? 0 : 1;
}
