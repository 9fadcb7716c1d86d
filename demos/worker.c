/* gzmq-worker: the zguide's "divide and conquer" pipeline, part 2 of 3.
 *
 * Pulls tasks "ID MS" from the ventilator, works on up to C of them at once
 * (each in its own greenlet; the work is a cooperative sleep standing in for
 * I/O-bound work), and pushes each finished task's ID to the sink. All C
 * greenlets share one PULL and one PUSH socket. Runs until SIGINT or
 * SIGTERM, then prints how many tasks it did and exits 0. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

#define PROG "gzmq-worker"

static void *pull, *push;
static long done;
static int failure;

static void *work(void *arg)
{
    (void)arg;
    for (;;) {
        char task[64];
        int n = gz_zmq_recv(pull, task, sizeof task - 1, 0);
        if (n < 0)
            break;
        task[n < (int)sizeof task - 1 ? n : (int)sizeof task - 1] = 0;
        long id, ms;
        if (sscanf(task, "%ld %ld", &id, &ms) != 2 || id < 0 || ms < 0) {
            fprintf(stderr, PROG ": ignoring malformed task '%s'\n", task);
            continue;
        }
        if (gz_sleep((double)ms / 1000.0) != 0)
            break;
        char result[32];
        n = snprintf(result, sizeof result, "%ld", id);
        if (gz_zmq_send(push, result, (size_t)n, 0) < 0)
            break;
        done++;
    }
    if (errno != ETERM && errno != ECANCELED) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    long concurrency = 100;
    cli_opt opts[] = {
        {"--pull", "ENDPOINT", CLI_STRING, &from, true, 0, 0,
         "the ventilator, e.g. tcp://host:5557"},
        {"--push", "ENDPOINT", CLI_STRING, &to, true, 0, 0,
         "the sink, e.g. tcp://host:5558"},
        {"--concurrency", "C", CLI_NUMBER, &concurrency, false, 1, 100000,
         "tasks worked on at once, one greenlet each"},
    };
    cli_parse(argc, argv, PROG,
              "Do tasks from the ventilator, C at a time, and report each to "
              "the sink; stop on SIGINT or SIGTERM.", opts, 3);

    void *ctx = gz_zmq_context();
    pull = cli_socket(ctx, ZMQ_PULL, 0);
    push = cli_socket(ctx, ZMQ_PUSH, 1000);
    cli_connect(pull, from, PROG);
    cli_connect(push, to, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_greenlet **gs = calloc((size_t)concurrency, sizeof *gs);
    if (!gs)
        return 1;
    for (long i = 0; i < concurrency; i++)
        gs[i] = gz_spawn(work, NULL);
    gz_joinall(gs, (size_t)concurrency, GZ_FOREVER);
    for (long i = 0; i < concurrency; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    gz_zmq_close(pull);
    gz_zmq_close(push);
    zmq_ctx_term(ctx);
    printf(PROG ": did %ld tasks\n", done);
    return failure;
}
