/* gzmq-sink: the zguide's "divide and conquer" pipeline, part 3 of 3.
 *
 * Binds a PULL socket, collects the IDs of N finished tasks from the
 * workers, checks that every ID in 0..N-1 arrives exactly once, prints the
 * time from the first result to the last and exits 0 (1 if an ID was
 * missing, repeated or unknown, or it was interrupted).
 *
 * With --reliable --ventilator ENDPOINT, repeated ids are expected (tasks
 * done again after a requeue): they are dropped and counted, and every
 * result is acknowledged to the ventilator (see run_reliable below). Exit
 * status 3 there: the ventilator said FINISHED before this sink had every
 * result, which happens to a sink restarted mid-run without --journal (the
 * results an earlier sink process acknowledged are not kept anywhere).
 * With --journal FILE they are: see below. */
#include <gzmq.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/journal.h"
#include "common/pirate.h"

#define PROG "gzmq-sink"

/* ---- --reliable (see the README, "Reliable pipeline") ----
 *
 * As above, but a task may be done twice (the ventilator requeued it after
 * its worker fell silent): a repeated id is dropped and counted, not an
 * error. Each result is acknowledged to the ventilator ("ACK id", repeats
 * too, in case the first ACK was lost) through a DEALER, which is how the
 * ventilator learns a task is finished. After the last result the sink
 * waits (up to PIRATE_TASK_GRACE s) for the ventilator's FINISHED, still
 * acknowledging, so that no lost ACK leaves the ventilator waiting.
 *
 * Without --journal, what the sink acknowledged lives only in this process:
 * a sink killed and restarted never sees the results its predecessor
 * acknowledged (the ventilator counts those tasks done and does not send
 * them again), so the new one hears FINISHED short of N and says so (exit 3).
 *
 * With --journal FILE each round of results (up to SINK_BATCH) is added to
 * a durable task set (common/journal.h) and fsynced, off the hub, before
 * any of them is acknowledged: an ACK always means "on disk". A restarted
 * sink reads the set back (ids in it are repeats from then on) and first
 * says SYNC, so that the ventilator hands out again the tasks in flight,
 * whose results may have died in its predecessor's socket buffers. */

/* The exit status of a reliable sink that heard FINISHED short of N. */
#define EXIT_FINISHED_SHORT 3
/* Results taken in one round: acknowledged after one fsync. */
#define SINK_BATCH 256

/* Progress every 10% (every 1% with a journal, to time a restart). */
static void progress(long got, long tasks, bool fine)
{
    long step = fine && tasks >= 100 ? tasks / 100 : tasks / 10;
    if (step > 0 && got % step == 0) {
        printf(PROG ": %ld of %ld tasks\n", got, tasks);
        fflush(stdout);
    }
}

/* Send "ACK id" for each of the N ids in IDS: 0, or -1 with errno. */
static int acknowledge(void *acks, const long *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ack[48];
        int len = snprintf(ack, sizeof ack, "ACK %ld", ids[i]);
        if (gz_zmq_send(acks, ack, (size_t)len, 0) < 0)
            return -1;
    }
    return 0;
}

static int run_reliable(const char *bind, const char *ventilator, long tasks,
                        const char *path)
{
    unsigned char *seen = calloc((size_t)tasks, 1);
    if (!seen)
        return 1;
    taskset *store = NULL;
    long got = 0, resumed = 0;
    if (path) {
        char why[256];
        if (!(store = taskset_open(path, tasks, why, sizeof why))) {
            fprintf(stderr, PROG ": journal %s: %s\n", path, why);
            free(seen);
            return 1;
        }
        for (long id = 0; id < tasks; id++)
            seen[id] = taskset_has(store, id);
        got = resumed = taskset_count(store);
        printf(PROG ": journal %s: resumed with %ld of %ld tasks (%llu bytes of a torn "
                    "record dropped)\n", path, got, tasks,
               (unsigned long long)journal_torn(taskset_journal(store)));
        fflush(stdout);
    }
    void *ctx = gz_zmq_context();
    void *pull = cli_socket(ctx, ZMQ_PULL, 0);
    void *acks = cli_socket(ctx, ZMQ_DEALER, 2000); /* time for the last ACKs */
    cli_bind(pull, bind, PROG);
    cli_connect(acks, ventilator, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    long dups = 0, unknown = 0;
    double t0 = 0, t = 0, deadline = got == tasks ? cli_now() + PIRATE_TASK_GRACE : 0;
    bool finished = false;
    int rc = 0, err = 0; /* err: what stopped the loop early, if anything */
    long batch[SINK_BATCH]; /* ids received, to acknowledge once durable */
    size_t nbatch = 0;
    /* A new sink may have lost results in flight to its predecessor:
     * SYNC asks the ventilator to hand out again what is in flight. */
    if (store && gz_zmq_send(acks, "SYNC", 4, 0) < 0) {
        err = errno;
        rc = -1;
    }
    while (rc == 0 && !finished && (got < tasks || cli_now() < deadline)) {
        zmq_pollitem_t items[] = {{pull, 0, ZMQ_POLLIN, 0}, {acks, 0, ZMQ_POLLIN, 0}};
        long wait = got < tasks ? -1 : (long)((deadline - cli_now()) * 1000) + 1;
        if ((rc = gz_zmq_poll(items, 2, wait)) < 0) {
            err = errno;
            break;
        }
        char buf[32];
        int n;
        while ((n = gz_zmq_recv(acks, buf, sizeof buf - 1, ZMQ_DONTWAIT)) >= 0)
            if (n == 8 && memcmp(buf, "FINISHED", 8) == 0)
                finished = true;
        nbatch = 0;
        while (nbatch < SINK_BATCH &&
               (n = gz_zmq_recv(pull, buf, sizeof buf - 1, ZMQ_DONTWAIT)) >= 0) {
            buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = 0;
            char *end;
            long id = strtol(buf, &end, 10);
            if (end == buf || *end || id < 0 || id >= tasks) {
                unknown++;
                continue;
            }
            batch[nbatch++] = id;
            if (seen[id]) { /* a flag: a counter would wrap after 255 repeats */
                dups++;
                continue;
            }
            seen[id] = 1;
            if (store && (rc = taskset_add(store, id)) < 0)
                break;
            if (got++ == resumed)
                t0 = cli_now();
            progress(got, tasks, store != NULL);
            if (got == tasks) {
                t = cli_now() - t0;
                deadline = cli_now() + PIRATE_TASK_GRACE;
            }
        }
        /* the loop ends on a failed recv (EAGAIN is the normal end), a
         * full batch or a failed add */
        if (rc < 0 || (nbatch < SINK_BATCH && errno != EAGAIN)) {
            err = errno;
            break;
        }
        /* durable first (one fsync for the batch, off the hub), then ACK */
        if ((store && (rc = taskset_sync(store)) < 0) ||
            (rc = acknowledge(acks, batch, nbatch)) < 0) {
            err = errno;
            break;
        }
    }
    int status = 0;
    if (got < tasks && finished && store) {
        fprintf(stderr,
                PROG ": the ventilator reports FINISHED (every task acknowledged) but the "
                     "journal %s holds %ld of %ld results: was it replaced?\n",
                path, got, tasks);
        status = EXIT_FINISHED_SHORT;
    } else if (got < tasks && finished) {
        fprintf(stderr,
                PROG ": the ventilator reports FINISHED (every task acknowledged); this "
                     "sink received %ld of %ld results: the results acknowledged to an "
                     "earlier sink process are not kept (see README, \"Reliable pipeline\")\n",
                got, tasks);
        status = EXIT_FINISHED_SHORT;
    } else if (got < tasks) {
        if (cli_stopped())
            fprintf(stderr, PROG ": interrupted with %ld of %ld tasks\n", got, tasks);
        else
            fprintf(stderr, PROG ": %s; stopped with %ld of %ld tasks\n", zmq_strerror(err),
                    got, tasks);
        status = 1;
    } else if (!finished) {
        fprintf(stderr, PROG ": the ventilator did not say FINISHED\n");
    }
    if (unknown) {
        fprintf(stderr, PROG ": %ld unknown task ids\n", unknown);
        status = 1;
    }
    cli_signals_done();
    gz_zmq_close(pull);
    gz_zmq_close(acks);
    cli_curve_done();
    zmq_ctx_term(ctx);
    free(seen);
    if (store) {
        const journal *j = taskset_journal(store);
        printf(PROG ": journal %s: %ld ids, %llu bytes, %zu records\n", path,
               taskset_count(store), (unsigned long long)journal_bytes(j),
               journal_records(j));
        taskset_close(store);
    }
    if (status == 0) {
        printf(PROG ": %ld repeated results dropped (tasks done again after a requeue)\n", dups);
        printf(PROG ": %ld tasks, each exactly once, %.3f s from first to last\n", got, t);
    }
    return status;
}

int main(int argc, char **argv)
{
    const char *bind = NULL, *ventilator = NULL, *path = NULL;
    long tasks = 0;
    bool reliable = false;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where workers push results, e.g. tcp://*:5558"},
        {"--tasks", "N", CLI_NUMBER, &tasks, true, 1, 100000000L,
         "results to wait for"},
        {"--reliable", "", CLI_FLAG, &reliable, false, 0, 0,
         "drop repeated results, acknowledge each to the ventilator; exit 3 if the "
         "ventilator finishes before every result came here (see README)"},
        {"--ventilator", "ENDPOINT", CLI_STRING, &ventilator, false, 0, 0,
         "with --reliable: the ventilator's endpoint, e.g. tcp://host:5557"},
        {"--journal", "FILE", CLI_STRING, &path, false, 0, 0,
         "with --reliable: keep the results seen in FILE and resume from it after "
         "a crash; acknowledge a result only once it is on disk"},
        CLI_CURVE_OPTS,
    };
    cli_parse(argc, argv, PROG,
              "Collect N task results and check each task id arrives exactly once.",
              opts, sizeof opts / sizeof *opts);
    if (reliable != (ventilator != NULL))
        cli_usage_error(PROG, "--reliable and --ventilator go together");
    if (path && !reliable)
        cli_usage_error(PROG, "--journal needs --reliable");
    if (reliable)
        return run_reliable(bind, ventilator, tasks, path);

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
    cli_curve_done();
    zmq_ctx_term(ctx);
    free(seen);
    if (status == 0)
        printf(PROG ": %ld tasks, each exactly once, %.3f s from first to last\n",
               got, t);
    return status;
}
