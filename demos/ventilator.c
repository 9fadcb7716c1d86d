/* gzmq-ventilator: the zguide's "divide and conquer" pipeline, part 1 of 3.
 *
 * Binds a PUSH socket, waits until K workers are connected, then sends N
 * tasks "ID MS" (work for MS milliseconds) and exits once they are handed
 * over. Waiting for the workers solves the slow-joiner problem: PUSH deals
 * messages round-robin to the peers it has *now*, so a worker that connects
 * a moment late would get nothing. A socket monitor reports each completed
 * handshake; after the K-th, reading ZMQ_EVENTS makes the socket attach
 * every pipe that is ready, and the tasks spread evenly. */
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"

#define PROG "gzmq-ventilator"

/* Read monitor events until WANT peers are connected: 0, or -1 with errno. */
static int wait_for_workers(void *monitor, long want)
{
    long peers = 0;
    while (peers < want) {
        uint8_t head[6];
        char addr[256];
        if (gz_zmq_recv(monitor, head, sizeof head, 0) < 0 ||
            gz_zmq_recv(monitor, addr, sizeof addr, 0) < 0)
            return -1;
        uint16_t event;
        memcpy(&event, head, sizeof event);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            peers++;
        else if (event == ZMQ_EVENT_DISCONNECTED && peers > 0)
            peers--;
        printf(PROG ": %ld of %ld workers connected\n", peers, want);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *bind = NULL;
    long tasks = 0, ms = 0, workers = 1;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where workers connect their PULL socket, e.g. tcp://*:5557"},
        {"--tasks", "N", CLI_NUMBER, &tasks, true, 1, 100000000L, "tasks to send"},
        {"--ms", "M", CLI_NUMBER, &ms, true, 0, 3600000L,
         "milliseconds of work per task"},
        {"--workers", "K", CLI_NUMBER, &workers, false, 0, 10000,
         "workers to wait for before sending (0: don't wait)"},
    };
    cli_parse(argc, argv, PROG,
              "Wait for K workers, then push N tasks of M ms to them.", opts, 4);

    void *ctx = gz_zmq_context();
    void *push = cli_socket(ctx, ZMQ_PUSH, 10000); /* time to deliver the rest */
    char name[64];
    snprintf(name, sizeof name, "inproc://gzmq-ventilator-monitor-%d", (int)getpid());
    void *monitor = NULL;
    if (zmq_socket_monitor(push, name, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                           ZMQ_EVENT_DISCONNECTED) == 0) {
        monitor = cli_socket(ctx, ZMQ_PAIR, 0);
        cli_connect(monitor, name, PROG);
    }
    if (!monitor) {
        fprintf(stderr, PROG ": cannot monitor the socket: %s\n", zmq_strerror(errno));
        return 1;
    }
    cli_bind(push, bind, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    int status = 0;
    double t0 = 0;
    long sent = 0;
    if (wait_for_workers(monitor, workers) == 0) {
        int events;
        size_t len = sizeof events;
        zmq_getsockopt(push, ZMQ_EVENTS, &events, &len); /* attach every pipe */
        printf(PROG ": sending %ld tasks of %ld ms\n", tasks, ms);
        fflush(stdout);
        t0 = cli_now();
        for (; sent < tasks; sent++) {
            char task[48];
            int n = snprintf(task, sizeof task, "%ld %ld", sent, ms);
            if (gz_zmq_send(push, task, (size_t)n, 0) < 0)
                break;
        }
    }
    if (sent < tasks) {
        if (errno != ETERM)
            fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        status = 1;
        int zero = 0; /* interrupted: drop what is queued */
        zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    }
    zmq_socket_monitor(push, NULL, 0);
    cli_signals_done();
    gz_zmq_close(monitor);
    gz_zmq_close(push);
    zmq_ctx_term(ctx); /* waits (up to the linger) until the tasks are out */
    if (cli_stopped())
        fprintf(stderr, PROG ": interrupted\n");
    if (status == 0)
        printf(PROG ": sent %ld tasks of %ld ms in %.3f s\n", sent, ms,
               cli_now() - t0);
    return status;
}
