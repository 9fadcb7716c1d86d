/* gzmq-sink: the zguide's "divide and conquer" pipeline, part 3 of 3.
 *
 * Binds a PULL socket, collects the IDs of N finished tasks from the
 * workers, checks that every ID in 0..N-1 arrives exactly once, prints the
 * time from the first result to the last and exits 0 (1 if an ID was
 * missing, repeated or unknown, or it was interrupted). */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"

#define PROG "gzmq-sink"

int main(int argc, char **argv)
{
    const char *bind = NULL;
    long tasks = 0;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where workers push results, e.g. tcp://*:5558"},
        {"--tasks", "N", CLI_NUMBER, &tasks, true, 1, 100000000L,
         "results to wait for"},
    };
    cli_parse(argc, argv, PROG,
              "Collect N task results and check each task id arrives exactly once.",
              opts, 2);

    unsigned char *seen = calloc((size_t)tasks, 1);
    if (!seen)
        return 1;
    void *ctx = gz_zmq_context();
    void *pull = cli_socket(ctx, ZMQ_PULL, 0);
    cli_bind(pull, bind, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    long got = 0, dups = 0, unknown = 0;
    double t0 = 0;
    while (got < tasks) {
        char buf[32];
        int n = gz_zmq_recv(pull, buf, sizeof buf - 1, 0);
        if (n < 0)
            break;
        if (got == 0)
            t0 = cli_now();
        buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = 0;
        char *end;
        long id = strtol(buf, &end, 10);
        if (end == buf || *end || id < 0 || id >= tasks)
            unknown++;
        else if (seen[id]++)
            dups++;
        else
            got++;
    }
    double t = got ? cli_now() - t0 : 0;
    int status = 0;
    if (got < tasks) {
        if (!cli_stopped())
            fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        fprintf(stderr, PROG ": interrupted with %ld of %ld tasks\n", got, tasks);
        status = 1;
    }
    if (dups || unknown) {
        fprintf(stderr, PROG ": %ld repeated and %ld unknown task ids\n", dups, unknown);
        status = 1;
    }
    cli_signals_done();
    gz_zmq_close(pull);
    zmq_ctx_term(ctx);
    free(seen);
    if (status == 0)
        printf(PROG ": %ld tasks, each exactly once, %.3f s from first to last\n",
               got, t);
    return status;
}
