/* gzmq-worker: the zguide's "divide and conquer" pipeline, part 2 of 3.
 *
 * Pulls tasks "ID MS" from the ventilator, works on up to C of them at once
 * (each in its own greenlet; the work is a cooperative sleep standing in for
 * I/O-bound work), and pushes each finished task's ID to the sink. All C
 * greenlets share one PULL and one PUSH socket. Runs until SIGINT or
 * SIGTERM, then prints how many tasks it did and exits 0.
 *
 * With --reliable it asks a --reliable ventilator for tasks through a
 * DEALER, heartbeats, and reconnects with backoff when the ventilator falls
 * silent (see run_reliable below and the README). */
#include <gzmq.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/pirate.h"

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

/* ---- --reliable: Paranoid Pirate (see the README, "Reliable pipeline") ----
 *
 * A DEALER to the ventilator, under a routing id of its own per session:
 * READY k asks for k tasks (the free slots), each task arrives as
 * "TASK id ms" and runs in its own greenlet, which pushes the result to the
 * sink and then sends "DONE id" (one more slot). A gz_every greenlet sends
 * a HEARTBEAT every second; when nothing has come from the ventilator for
 * PIRATE_SILENCE seconds, or it says RESET, the session is over: close the
 * socket, wait (backoff, doubling), start a new session.
 *
 * SIGINT / SIGTERM kill the control greenlet, which then, shielded, lets the
 * running tasks push their results before it closes the session (without
 * DONEs, which would only bring more tasks): the ventilator requeues none of
 * them. A second signal shuts the context down at once. */

static struct {
    void *dealer;       /* the current session's socket, or NULL between sessions */
    long concurrency, running, sessions;
    bool quitting;
    gz_event *idle;     /* set when quitting and the last task has ended */
    gz_greenlet *control;
    bool stopping;      /* a signal came: the control greenlet was killed */
    int beat_err;       /* why the heartbeat stopped */
} W;

typedef struct job { long id, ms; } job;

static void *run_task(void *arg)
{
    job j = *(job *)arg;
    free(arg);
    if (gz_sleep((double)j.ms / 1000.0) == 0) {
        char text[48];
        int n = snprintf(text, sizeof text, "%ld", j.id);
        if (gz_zmq_send(push, text, (size_t)n, 0) == n) {
            done++;
            n = snprintf(text, sizeof text, "DONE %ld", j.id);
            /* Without a session the next one's READY counts this slot;
             * when stopping, a DONE would only bring more tasks. */
            if (W.dealer && !W.quitting)
                gz_zmq_send(W.dealer, text, (size_t)n, 0);
        } else if (errno != ETERM) {
            fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
            failure = 1;
        }
    }
    if (--W.running == 0 && W.quitting)
        gz_event_set(W.idle);
    return NULL;
}

static int start_task(const char *text)
{
    long id, ms;
    if (sscanf(text, "TASK %ld %ld", &id, &ms) != 2 || id < 0 || ms < 0) {
        fprintf(stderr, PROG ": ignoring malformed message '%s'\n", text);
        return 0;
    }
    job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    *j = (job){id, ms};
    gz_greenlet *g = gz_spawn(run_task, j);
    if (!g) {
        free(j);
        return -1;
    }
    gz_release(g);
    W.running++;
    return 0;
}

static void *beat(void *dealer)
{
    if (gz_zmq_send(dealer, "HEARTBEAT", 9, 0) == 9)
        return NULL;
    W.beat_err = errno;
    return dealer; /* stops the heartbeat; the session notices */
}

/* Killed by a signal during a session: shielded, wait until the running
 * tasks have pushed their results, the session's socket still open. */
static void finish_tasks(void)
{
    gz_shield_begin();
    W.quitting = true;
    if (W.running > 0)
        gz_event_wait(W.idle, GZ_FOREVER); /* each ends within its M ms */
    gz_shield_end(); /* -1 ECANCELED: the kill, as expected */
    errno = ECANCELED;
}

/* One session: 0 when it is over (the ventilator fell silent or said
 * RESET), -1 with errno on ETERM and other failures. */
static int session(const char *endpoint)
{
    char id[128], host[64] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(id, sizeof id, "%s-%d-%ld", host, (int)getpid(), ++W.sessions);
    void *d = cli_socket(gz_zmq_context(), ZMQ_DEALER, 0);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, id, strlen(id));
    cli_connect(d, endpoint, PROG);
    W.dealer = d;
    printf(PROG ": session %s: ready for %ld tasks\n", id, W.concurrency - W.running);
    fflush(stdout);
    char text[64];
    int n = snprintf(text, sizeof text, "READY %ld", W.concurrency - W.running);
    int rc = gz_zmq_send(d, text, (size_t)n, 0) < 0 ? -1 : 0;
    gz_greenlet *hb = rc == 0 ? gz_every(PIRATE_HEARTBEAT, beat, d) : NULL;
    if (!hb)
        rc = -1;
    /* One wait: a message from the ventilator, or the heartbeat greenlet
     * ending (its send failed), or the silence deadline. */
    gz_case c[2] = {{.op = GZ_ZMQ_IN, .obj = d}, {.op = GZ_JOIN, .obj = hb}};
    double heard = cli_now();
    while (rc == 0) {
        double left = heard + PIRATE_SILENCE - cli_now();
        int i = left > 0 ? gz_select(c, 2, left) : -1;
        if (left <= 0 || (i < 0 && errno == ETIMEDOUT)) {
            printf(PROG ": session %s: the ventilator is silent for %.2f s\n", id,
                   cli_now() - heard);
            break;
        }
        if (i < 0 || c[i].err) { /* killed, ETERM ... */
            if (i >= 0)
                errno = c[i].err;
            rc = -1;
            break;
        }
        if (i == 1) { /* the heartbeat's send failed */
            errno = W.beat_err;
            rc = -1;
            break;
        }
        n = gz_zmq_recv(d, text, sizeof text - 1, ZMQ_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN)
                rc = -1;
            continue;
        }
        text[n < (int)sizeof text - 1 ? n : (int)sizeof text - 1] = 0;
        heard = cli_now();
        if (strcmp(text, "RESET") == 0) {
            printf(PROG ": session %s: reset by the ventilator\n", id);
            break;
        }
        if (strncmp(text, "TASK ", 5) == 0 && start_task(text) < 0)
            rc = -1;
        /* HEARTBEAT: hearing it was the point */
    }
    if (rc < 0 && errno == ECANCELED)
        finish_tasks();
    int e = errno;
    if (hb) {
        gz_kill(hb, GZ_FOREVER);
        gz_release(hb);
    }
    fflush(stdout);
    W.dealer = NULL;
    gz_zmq_close(d);
    errno = e;
    return rc;
}

static void *control(void *arg)
{
    const char *endpoint = arg;
    double backoff = PIRATE_BACKOFF_MIN;
    for (;;) {
        long before = done;
        if (session(endpoint) < 0)
            break;
        if (done > before)
            backoff = PIRATE_BACKOFF_MIN; /* the session did work: start over */
        printf(PROG ": reconnecting in %.0f s\n", backoff);
        fflush(stdout);
        if (gz_sleep(backoff) != 0)
            break;
        /* the sleep does not see the context shut down: ask the signal */
        if (cli_stopped()) {
            errno = ETERM;
            break;
        }
        backoff = backoff * 2 < PIRATE_BACKOFF_MAX ? backoff * 2 : PIRATE_BACKOFF_MAX;
    }
    if (errno != ETERM && errno != ECANCELED) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        failure = 1;
    }
    return NULL;
}

static void on_stop(int signum, void *ctx)
{
    (void)signum;
    if (W.stopping) {
        zmq_ctx_shutdown(ctx); /* asked twice: blocked calls return ETERM */
        return;
    }
    W.stopping = true;
    gz_kill(W.control, 0);
}

static int run_reliable(const char *from, const char *to, long concurrency)
{
    void *ctx = gz_zmq_context();
    push = cli_socket(ctx, ZMQ_PUSH, 1000);
    cli_connect(push, to, PROG);
    W.concurrency = concurrency;
    W.idle = gz_event_new();
    gz_greenlet *g = W.control = gz_spawn(control, (void *)from);
    if (!g || !W.idle) {
        perror(PROG ": spawn");
        return 1;
    }
    if (gz_signal(SIGINT, on_stop, ctx) != 0 || gz_signal(SIGTERM, on_stop, ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_join(g, GZ_FOREVER);
    gz_release(g);
    W.quitting = true;
    if (W.running > 0)
        gz_event_wait(W.idle, GZ_FOREVER); /* each ends within its M ms */
    gz_event_free(W.idle);
    if (!W.stopping) { /* once stopped, a repeated signal must not kill it */
        gz_signal_cancel(SIGINT);
        gz_signal_cancel(SIGTERM);
    }
    gz_zmq_close(push);
    cli_curve_done();
    zmq_ctx_term(ctx);
    printf(PROG ": did %ld tasks\n", done);
    return failure;
}

int main(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    long concurrency = 100;
    bool reliable = false;
    long stats = 0;
    cli_opt opts[] = {
        {"--pull", "ENDPOINT", CLI_STRING, &from, true, 0, 0,
         "the ventilator, e.g. tcp://host:5557"},
        {"--push", "ENDPOINT", CLI_STRING, &to, true, 0, 0,
         "the sink, e.g. tcp://host:5558"},
        {"--concurrency", "C", CLI_NUMBER, &concurrency, false, 1, 100000,
         "tasks worked on at once, one greenlet each"},
        {"--reliable", "", CLI_FLAG, &reliable, false, 0, 0,
         "ask a --reliable ventilator for tasks, heartbeat, reconnect with "
         "backoff when it falls silent (see README)"},
        {"--stats", "N", CLI_NUMBER, &stats, false, 0, 86400,
         "print a line of hub statistics on stderr every N seconds (0: never)"},
        CLI_CURVE_OPTS,
    };
    cli_parse(argc, argv, PROG,
              "Do tasks from the ventilator, C at a time, and report each to "
              "the sink; stop on SIGINT or SIGTERM.", opts, sizeof opts / sizeof *opts);
    gz_greenlet *stats_line = cli_stats_start(stats, PROG);
    if (reliable) {
        int rc = run_reliable(from, to, concurrency);
        cli_stats_stop(stats_line);
        return rc;
    }

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
    cli_stats_stop(stats_line);
    for (long i = 0; i < concurrency; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    gz_zmq_close(pull);
    gz_zmq_close(push);
    cli_curve_done();
    zmq_ctx_term(ctx);
    printf(PROG ": did %ld tasks\n", done);
    return failure;
}
