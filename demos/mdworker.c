/* gzmq-mdworker: Majordomo (rfc 7/MDP) workers for a gzmq-mdbroker.
 *
 * C greenlets, each its own worker (and DEALER socket), offer one service:
 *   echo    the reply is the request's frames, unchanged;
 *   sha256  the reply is the lowercase hex SHA-256 of the request's frames
 *           put end to end, hashed in a worker thread (gz_run_in_thread) so
 *           that a big request does not stall the other greenlets.
 * --delay-ms adds a cooperative sleep before each reply, standing in for
 * I/O. Heartbeats and reconnecting to a restarted broker happen inside the
 * library. Runs until SIGINT or SIGTERM, says DISCONNECT, then prints how many requests it
 * served and exits 0. */
#include <gzmq.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

#define PROG "gzmq-mdworker"

static const char *endpoint, *service;
static long concurrency = 1, delay_ms, heartbeat_ms, liveness;
static bool verbose;
static long served;
static int failure;
static gz_greenlet **workers;

/* Stop by killing the workers rather than shutting the context down, so
 * that each can still tell the broker DISCONNECT (else the broker would
 * send them requests until it finds them silent). */
static void on_signal(int signum, void *arg)
{
    (void)signum;
    (void)arg;
    if (workers) /* else they are gone and we are exiting */
        gz_killall(workers, (size_t)concurrency, 0);
}

/* Runs in a worker thread: REQUEST -> a malloc'd 65-byte hex digest. */
static void *sha256_hex(void *arg)
{
    const gz_mdp_msg *req = arg;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < gz_mdp_msg_frames(req); i++) {
        size_t n;
        const void *p = gz_mdp_msg_frame(req, i, &n);
        crypto_hash_sha256_update(&st, p, n);
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    char *hex = malloc(2 * sizeof digest + 1);
    if (hex)
        sodium_bin2hex(hex, 2 * sizeof digest + 1, digest, sizeof digest);
    return hex;
}

/* The reply to REQ, or NULL with errno. */
static gz_mdp_msg *answer(gz_mdp_msg *req)
{
    if (delay_ms && gz_sleep((double)delay_ms / 1000.0) != 0)
        return NULL;
    if (strcmp(service, "echo") == 0)
        return req;
    void *hex;
    if (gz_run_in_thread(sha256_hex, req, &hex, GZ_FOREVER) != 0)
        return NULL;
    gz_mdp_msg_destroy(req);
    gz_mdp_msg *reply = hex ? gz_mdp_msg_new() : NULL;
    if (reply && gz_mdp_msg_append(reply, hex, strlen(hex)) != 0) {
        gz_mdp_msg_destroy(reply);
        reply = NULL;
    }
    free(hex);
    if (!reply)
        errno = ENOMEM;
    return reply;
}

static void *serve(void *arg)
{
    (void)arg;
    gz_mdp_worker *w = gz_mdp_worker_new(endpoint, service);
    if (!w) {
        fprintf(stderr, PROG ": %s: %s\n", endpoint, zmq_strerror(errno));
        failure = 1;
        return NULL;
    }
    if (heartbeat_ms || liveness)
        gz_mdp_worker_set_heartbeat(w, heartbeat_ms ? (double)heartbeat_ms / 1000.0 : 2.5,
                                    liveness ? (int)liveness : 3);
    for (;;) {
        gz_mdp_msg *req = gz_mdp_worker_recv(w, GZ_FOREVER);
        if (req && verbose) {
            printf(PROG ": request received\n");
            fflush(stdout);
        }
        gz_mdp_msg *reply = req ? answer(req) : NULL;
        if (!reply) {
            if (req)
                gz_mdp_msg_destroy(req);
            break;
        }
        int rc = gz_mdp_worker_send(w, reply);
        gz_mdp_msg_destroy(reply);
        if (rc != 0)
            break;
        served++;
    }
    if (errno != ETERM && errno != ECANCELED) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
    gz_mdp_worker_destroy(w);
    return NULL;
}

int main(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--connect", "ENDPOINT", CLI_STRING, &endpoint, true, 0, 0,
         "the broker, e.g. tcp://127.0.0.1:5555"},
        {"--service", "NAME", CLI_STRING, &service, true, 0, 0, "echo or sha256"},
        {"--concurrency", "N", CLI_NUMBER, &concurrency, false, 1, 100000,
         "workers (greenlets), each with its own socket"},
        {"--delay-ms", "MS", CLI_NUMBER, &delay_ms, false, 0, 3600000,
         "sleep this long before each reply"},
        {"--heartbeat-ms", "MS", CLI_NUMBER, &heartbeat_ms, false, 1, 3600000,
         "heartbeat interval (default: $GZ_MDP_HEARTBEAT or 2500)"},
        {"--liveness", "N", CLI_NUMBER, &liveness, false, 1, 1000,
         "heartbeats the broker may miss before we reconnect (default 3)"},
        {"--verbose", "", CLI_FLAG, &verbose, false, 0, 0,
         "print a line for each request received"},
    };
    cli_parse(argc, argv, PROG, "Majordomo (7/MDP) workers: echo or sha256.", opts, 7);
    if (strcmp(service, "echo") != 0 && strcmp(service, "sha256") != 0)
        cli_usage_error(PROG, "--service must be echo or sha256, not '%s'", service);
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot start\n");
        return 1;
    }
    void *ctx = gz_zmq_context();
    gz_greenlet **gs = workers = calloc((size_t)concurrency, sizeof *gs);
    if (!gs)
        return 1;
    for (long i = 0; i < concurrency; i++)
        if (!(gs[i] = gz_spawn(serve, NULL))) {
            perror(PROG);
            return 1;
        }
    if (gz_signal(SIGINT, on_signal, NULL) != 0 || gz_signal(SIGTERM, on_signal, NULL) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_joinall(gs, (size_t)concurrency, GZ_FOREVER);
    workers = NULL;
    for (long i = 0; i < concurrency; i++)
        gz_release(gs[i]);
    free(gs);
    zmq_ctx_term(ctx);
    printf(PROG ": %ld requests served\n", served);
    return failure;
}
