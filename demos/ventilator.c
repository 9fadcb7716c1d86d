/* gzmq-ventilator: the zguide's "divide and conquer" pipeline, part 1 of 3.
 *
 * Binds a PUSH socket, waits until K workers are connected, then sends N
 * tasks "ID MS" (work for MS milliseconds) and exits once they are handed
 * over. Waiting for the workers solves the slow-joiner problem: PUSH deals
 * messages round-robin to the peers it has *now*, so a worker that connects
 * a moment late would get nothing. A socket monitor reports each completed
 * handshake; after the K-th, reading ZMQ_EVENTS makes the socket attach
 * every pipe that is ready, and the tasks spread evenly.
 *
 * With --reliable it is a ROUTER instead, the broker of a Paranoid Pirate
 * pipeline: it hands tasks to workers that ask for them, watches their
 * heartbeats, requeues a dead worker's tasks, and exits once the sink has
 * acknowledged every task (see run_reliable below and the README). With
 * --journal FILE the tasks the sink confirmed are kept in FILE, and a
 * ventilator killed and restarted hands out only the others. */
#include <gzmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/journal.h"
#include "common/pirate.h"

#define PROG "gzmq-ventilator"

/* Read monitor events until WANT peers are connected: 0, or -1 with errno. */
static int wait_for_workers(gz_zmq_monitor_t *monitor, long want)
{
    long peers = 0;
    while (peers < want) {
        gz_zmq_event ev;
        if (gz_zmq_monitor_next(monitor, &ev, GZ_FOREVER) < 0)
            return -1;
        if (ev.event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            peers++;
        else if (ev.event == ZMQ_EVENT_DISCONNECTED && peers > 0)
            peers--;
        printf(PROG ": %ld of %ld workers connected\n", peers, want);
        fflush(stdout);
    }
    return 0;
}

/* ---- --reliable: Paranoid Pirate (see the README, "Reliable pipeline") ----
 *
 * A ROUTER hands tasks to workers (DEALERs) against the credit each asked
 * for (READY k, then one more per DONE), keeps every task it handed out on
 * an in-flight list with its owner and a deadline, and forgets a task only
 * when the sink acknowledges its result (ACK id). A worker silent for
 * PIRATE_SILENCE seconds is dead: its unacknowledged tasks go back to the
 * retry queue, ahead of the tasks never sent. One greenlet serves: a
 * gz_select waits for a message or for the clock's next deadline
 * (heartbeats, silences, task deadlines), whichever comes first. */

enum { QUEUED, FLIGHT, DONE }; /* a task's state; QUEUED: never sent, or on the retry list */

typedef struct task {
    int32_t next, prev; /* on the retry list or the in-flight list */
    int32_t owner;      /* worker slot while FLIGHT */
    uint8_t state;
    double deadline;    /* FLIGHT: dispatched again after this */
} task;

typedef struct worker {
    unsigned char id[256]; /* its ROUTER routing id */
    size_t len;
    bool live;
    long credit;           /* tasks it still asked for */
    double heard;          /* when it last sent anything */
} worker;

typedef struct list { int32_t head, tail; } list;

static struct {
    void *router;
    long ms, want;          /* task length, workers to wait for */
    task *tasks;
    long ntasks, fresh, done; /* fresh: next task never sent */
    list retry, flight;
    worker *workers;
    size_t nworkers, next_worker; /* next_worker: round-robin start */
    long registered, lost, requeued, dispatched, expired;
    unsigned char sink[256];
    size_t sink_len;
    double t0;
    int error;              /* errno that stopped a greenlet, or 0 */
    taskset *store;         /* --journal: the tasks the sink confirmed */
    gz_event *dirty;        /* set when the store has confirmations to sync */
    bool stopping;          /* the flusher's last round */
    long syncs;             /* SYNCs from a (re)started sink */
} V;

static void list_push(list *l, int32_t i)
{
    V.tasks[i].next = -1;
    V.tasks[i].prev = l->tail;
    if (l->tail >= 0)
        V.tasks[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

static void list_remove(list *l, int32_t i)
{
    task *t = &V.tasks[i];
    if (t->prev >= 0)
        V.tasks[t->prev].next = t->next;
    else
        l->head = t->next;
    if (t->next >= 0)
        V.tasks[t->next].prev = t->prev;
    else
        l->tail = t->prev;
}

/* Send [routing id][text] on the ROUTER; a peer that is gone or whose
 * queue is full just loses it (ROUTER never blocks). */
static int send_to(const void *id, size_t len, const char *text)
{
    if (gz_zmq_send(V.router, id, len, ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(V.router, text, strlen(text), 0) < 0)
        return -1;
    return 0;
}

static void print_id(char *out, size_t cap, const unsigned char *id, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, id[i] >= 0x21 && id[i] < 0x7f ? "%c" : "\\x%02x",
                              id[i]);
    out[o] = 0;
}

static worker *find_worker(const unsigned char *id, size_t len)
{
    for (size_t i = 0; i < V.nworkers; i++)
        if (V.workers[i].live && V.workers[i].len == len &&
            memcmp(V.workers[i].id, id, len) == 0)
            return &V.workers[i];
    return NULL;
}

/* Hand out tasks while some worker has credit and some task waits. */
static int dispatch(void)
{
    if (V.registered < V.want)
        return 0;
    while (V.retry.head >= 0 || V.fresh < V.ntasks) {
        worker *w = NULL;
        for (size_t k = 0; k < V.nworkers && !w; k++) {
            worker *c = &V.workers[(V.next_worker + k) % V.nworkers];
            if (c->live && c->credit > 0)
                w = c;
        }
        if (!w)
            break;
        V.next_worker = (size_t)(w - V.workers + 1) % V.nworkers;
        int32_t i;
        if (V.retry.head >= 0) {
            i = V.retry.head;
            list_remove(&V.retry, i);
        } else {
            while (V.fresh < V.ntasks && V.tasks[V.fresh].state == DONE)
                V.fresh++; /* confirmed before a restart, or by a late ACK */
            if (V.fresh == V.ntasks)
                break;
            i = (int32_t)V.fresh++;
        }
        char text[48];
        snprintf(text, sizeof text, "TASK %ld %ld", (long)i, V.ms);
        if (send_to(w->id, w->len, text) < 0)
            return -1;
        if (V.dispatched++ == 0)
            V.t0 = cli_now();
        w->credit--;
        task *t = &V.tasks[i];
        t->state = FLIGHT;
        t->owner = (int32_t)(w - V.workers);
        t->deadline = cli_now() + (double)V.ms / 1000.0 + PIRATE_TASK_GRACE;
        list_push(&V.flight, i);
    }
    return 0;
}

/* W went silent: requeue every task it holds that the sink has not acknowledged. */
static void bury(worker *w, double now)
{
    long n = 0;
    int32_t slot = (int32_t)(w - V.workers);
    for (int32_t i = V.flight.head, next; i >= 0; i = next) {
        next = V.tasks[i].next;
        if (V.tasks[i].owner == slot) {
            list_remove(&V.flight, i);
            V.tasks[i].state = QUEUED;
            list_push(&V.retry, i);
            n++;
        }
    }
    w->live = false;
    V.lost++;
    V.requeued += n;
    char name[128];
    print_id(name, sizeof name, w->id, w->len);
    printf(PROG ": worker %s lost: silent for %.2f s (detected at %.3f); %ld tasks requeued\n",
           name, now - w->heard, now, n);
    fflush(stdout);
}

static void on_ready(const unsigned char *id, size_t len, long k, double now)
{
    worker *w = find_worker(id, len);
    if (!w) {
        size_t i = 0;
        while (i < V.nworkers && V.workers[i].live)
            i++;
        if (i == V.nworkers) {
            worker *nw = realloc(V.workers, (V.nworkers + 1) * sizeof *nw);
            if (!nw)
                return; /* it will be told to RESET at its next heartbeat */
            V.workers = nw;
            V.nworkers++;
        }
        w = &V.workers[i];
        memset(w, 0, sizeof *w);
        memcpy(w->id, id, len);
        w->len = len;
        w->live = true;
        V.registered++;
        char name[128];
        print_id(name, sizeof name, id, len);
        printf(PROG ": worker %s ready for %ld tasks (%ld workers so far)\n", name, k,
               V.registered);
        fflush(stdout);
    }
    w->credit += k;
    w->heard = now;
}

static void on_ack(const unsigned char *id, size_t len, long t)
{
    memcpy(V.sink, id, len);
    V.sink_len = len;
    if (t < 0 || t >= V.ntasks || V.tasks[t].state == DONE)
        return;
    if (V.tasks[t].state == FLIGHT)
        list_remove(&V.flight, (int32_t)t);
    else if (t < V.fresh) /* requeued, then its first result came after all */
        list_remove(&V.retry, (int32_t)t);
    else if (!V.store)
        return; /* never sent: not ours to believe */
    /* else sent by this ventilator before a restart: the sink's journal
     * is the authority on what is done */
    V.tasks[t].state = DONE;
    V.done++;
    if (V.store) {
        if (taskset_add(V.store, t) != 0) {
            fprintf(stderr, PROG ": journal: %s\n", strerror(errno));
            exit(1); /* a confirmation we cannot keep: stop before it matters */
        }
        gz_event_set(V.dirty);
    }
}

/* A (re)started sink: the results of the tasks in flight may have died
 * with its predecessor, so they go out again at once rather than after
 * their deadline (repeats are dropped by the sink). */
static void on_sync(const unsigned char *id, size_t len)
{
    memcpy(V.sink, id, len);
    V.sink_len = len;
    long n = 0;
    while (V.flight.head >= 0) {
        int32_t i = V.flight.head;
        list_remove(&V.flight, i);
        V.tasks[i].state = QUEUED;
        list_push(&V.retry, i);
        n++;
    }
    V.syncs++;
    printf(PROG ": the sink (re)started: %ld tasks in flight requeued\n", n);
    fflush(stdout);
}

/* --journal: the greenlet that makes confirmations durable, a batch per
 * fsync on a worker thread (journal.h), so that the serving loop never
 * waits for the disk. Losing the last batch in a crash only
 * means that the sink repeats those confirmations when the tasks come
 * again. */
static void *flusher(void *arg)
{
    (void)arg;
    for (;;) {
        if (gz_event_wait(V.dirty, GZ_FOREVER) != 0)
            return NULL;
        gz_event_clear(V.dirty);
        /* read before the sync: what was added before the stop is in it;
         * a stop during the sync sets the event for one more round */
        bool last = V.stopping;
        if (taskset_sync(V.store) != 0) {
            fprintf(stderr, PROG ": journal: %s\n", strerror(errno));
            exit(1);
        }
        if (last)
            return NULL;
    }
}

/* The heartbeat, every PIRATE_HEARTBEAT seconds on the schedule (gz_every):
 * to every live worker. A failed send stops it, and the serving loop. */
static void *beat(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < V.nworkers; i++)
        if (V.workers[i].live && send_to(V.workers[i].id, V.workers[i].len, "HEARTBEAT") < 0) {
            V.error = errno;
            return V.workers; /* non-NULL: stop */
        }
    return NULL;
}

/* Burial of the silent workers, a second chance for tasks past their
 * deadline: 0, or -1 with errno. *WAKE: when next to look (the earliest of
 * those deadlines, a heartbeat period at most). */
static int keep_time(double now, double *wake)
{
    for (size_t i = 0; i < V.nworkers; i++)
        if (V.workers[i].live && now - V.workers[i].heard >= PIRATE_SILENCE)
            bury(&V.workers[i], now);
    while (V.flight.head >= 0 && V.tasks[V.flight.head].deadline <= now) {
        int32_t i = V.flight.head;
        list_remove(&V.flight, i);
        V.tasks[i].state = QUEUED;
        list_push(&V.retry, i);
        V.expired++;
    }
    if (dispatch() < 0)
        return -1;
    /* Later arrivals only push these later (a worker heard again, a task
     * sent with a deadline behind the others), so WAKE stays a safe bound. */
    *wake = now + PIRATE_HEARTBEAT;
    for (size_t i = 0; i < V.nworkers; i++)
        if (V.workers[i].live && V.workers[i].heard + PIRATE_SILENCE < *wake)
            *wake = V.workers[i].heard + PIRATE_SILENCE;
    if (V.flight.head >= 0 && V.tasks[V.flight.head].deadline < *wake)
        *wake = V.tasks[V.flight.head].deadline;
    return 0;
}

/* One message from a worker or the sink: [id, text]. 0, or -1 with errno. */
static int receive(void)
{
    unsigned char id[256];
    char text[64];
    int len = gz_zmq_recv(V.router, id, sizeof id, ZMQ_DONTWAIT);
    if (len < 0)
        return errno == EAGAIN ? 0 : -1;
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(V.router, ZMQ_RCVMORE, &more, &ml);
    if (!more || len > (int)sizeof id)
        return 0; /* no payload, or an id we cannot keep */
    int n = gz_zmq_recv(V.router, text, sizeof text - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return -1;
    text[n < (int)sizeof text - 1 ? n : (int)sizeof text - 1] = 0;
    double now = cli_now();
    long v;
    worker *w = find_worker(id, (size_t)len);
    if (sscanf(text, "READY %ld", &v) == 1 && v >= 0)
        on_ready(id, (size_t)len, v, now);
    else if (sscanf(text, "ACK %ld", &v) == 1)
        on_ack(id, (size_t)len, v);
    else if (strcmp(text, "SYNC") == 0)
        on_sync(id, (size_t)len);
    else if (!w && (strcmp(text, "HEARTBEAT") == 0 || strncmp(text, "DONE ", 5) == 0)) {
        /* a worker we buried (or never met): it must start afresh */
        if (send_to(id, (size_t)len, "RESET") < 0)
            return -1;
    } else if (w && strcmp(text, "HEARTBEAT") == 0) {
        w->heard = now;
    } else if (w && sscanf(text, "DONE %ld", &v) == 1) {
        w->heard = now;
        w->credit++; /* completion itself is the sink's to confirm */
    } else {
        fprintf(stderr, PROG ": ignoring malformed message '%s'\n", text);
    }
    return dispatch();
}

/* The serving greenlet, until the sink has acknowledged every task (or
 * ETERM): one wait for a message, the clock's next deadline or the end of
 * the heartbeat (a failed send). */
static void *serve(void *arg)
{
    (void)arg;
    gz_greenlet *hb = gz_every(PIRATE_HEARTBEAT, beat, NULL);
    if (!hb || beat(NULL)) /* the first round now, the rest on the schedule */
        goto fail;
    double wake = cli_now();
    gz_case c[2] = {{.op = GZ_ZMQ_IN, .obj = V.router}, {.op = GZ_JOIN, .obj = hb}};
    while (V.done < V.ntasks) {
        double now = cli_now();
        if (now >= wake && keep_time(now, &wake) < 0)
            goto fail;
        int i = gz_select(c, 2, wake > now ? wake - now : 0);
        if (i < 0 && errno == ETIMEDOUT)
            continue;
        if (i < 0 || c[i].err || i == 1) { /* killed, ETERM, the heartbeat's send */
            if (i == 0)
                errno = c[0].err;
            else if (i == 1)
                errno = V.error;
            goto fail;
        }
        if (receive() < 0)
            goto fail;
    }
    gz_kill(hb, GZ_FOREVER);
    gz_release(hb);
    if (V.sink_len)
        send_to(V.sink, V.sink_len, "FINISHED");
    return NULL;
fail:
    V.error = errno;
    if (hb) {
        gz_kill(hb, GZ_FOREVER);
        gz_release(hb);
    }
    return NULL;
}

/* Mark the tasks confirmed in the journal at PATH as done. */
static int resume(const char *path)
{
    char why[256];
    if (!(V.store = taskset_open(path, V.ntasks, why, sizeof why)) ||
        !(V.dirty = gz_event_new())) {
        fprintf(stderr, PROG ": journal %s: %s\n", path, V.store ? strerror(errno) : why);
        return -1;
    }
    for (long i = 0; i < V.ntasks; i++)
        if (taskset_has(V.store, i)) {
            V.tasks[i].state = DONE;
            V.done++;
        }
    printf(PROG ": journal %s: resumed with %ld of %ld tasks confirmed\n", path, V.done,
           V.ntasks);
    fflush(stdout);
    return 0;
}

static int run_reliable(const char *bind, long tasks, long ms, long workers,
                        const char *path)
{
    V.ntasks = tasks;
    V.ms = ms;
    V.want = workers;
    V.retry.head = V.retry.tail = V.flight.head = V.flight.tail = -1;
    V.tasks = calloc((size_t)tasks, sizeof *V.tasks);
    if (!V.tasks) {
        fprintf(stderr, PROG ": out of memory for %ld tasks\n", tasks);
        return 1;
    }
    if (path && resume(path) != 0)
        return 1;
    void *ctx = gz_zmq_context();
    V.router = cli_socket(ctx, ZMQ_ROUTER, 1000); /* time for FINISHED to go out */
    int one = 1; /* a worker reconnecting under its id replaces its old pipe */
    zmq_setsockopt(V.router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    cli_bind(V.router, bind, PROG);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    printf(PROG ": reliable: %ld tasks of %ld ms, waiting for %ld workers\n", tasks, ms,
           workers);
    fflush(stdout);
    gz_greenlet *server = gz_spawn(serve, NULL);
    gz_greenlet *flush = V.store ? gz_spawn(flusher, NULL) : NULL;
    if (!server || (V.store && !flush)) {
        perror(PROG ": spawn");
        return 1;
    }
    gz_join(server, GZ_FOREVER);
    gz_release(server);
    if (flush) { /* a last round, never killed mid-fsync */
        V.stopping = true;
        gz_event_set(V.dirty);
        gz_join(flush, GZ_FOREVER);
        gz_release(flush);
    }
    double t = V.dispatched ? cli_now() - V.t0 : 0;
    int status = 0;
    if (V.done < V.ntasks) {
        if (V.error != ETERM)
            fprintf(stderr, PROG ": %s\n", zmq_strerror(V.error));
        fprintf(stderr, PROG ": stopped with %ld of %ld tasks done\n", V.done, V.ntasks);
        status = 1;
        int zero = 0;
        zmq_setsockopt(V.router, ZMQ_LINGER, &zero, sizeof zero);
    }
    cli_signals_done();
    gz_zmq_close(V.router);
    cli_curve_done();
    zmq_ctx_term(ctx);
    if (cli_stopped())
        fprintf(stderr, PROG ": interrupted\n");
    if (status == 0)
        printf(PROG ": %ld tasks done, confirmed by the sink, in %.3f s; %ld dispatches, "
               "%ld workers lost, %ld tasks requeued, %ld past their deadline\n",
               V.done, t, V.dispatched, V.lost, V.requeued, V.expired);
    if (V.store) {
        const journal *j = taskset_journal(V.store);
        printf(PROG ": journal %s: %ld tasks confirmed, %llu bytes, %zu records; %ld sink "
                    "SYNCs\n", path, taskset_count(V.store),
               (unsigned long long)journal_bytes(j), journal_records(j), V.syncs);
        taskset_close(V.store);
        gz_event_free(V.dirty);
    }
    free(V.tasks);
    free(V.workers);
    return status;
}

int main(int argc, char **argv)
{
    const char *bind = NULL, *path = NULL;
    long tasks = 0, ms = 0, workers = 1;
    bool reliable = false;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "where workers connect their PULL socket, e.g. tcp://*:5557"},
        {"--tasks", "N", CLI_NUMBER, &tasks, true, 1, 100000000L, "tasks to send"},
        {"--ms", "M", CLI_NUMBER, &ms, true, 0, 3600000L,
         "milliseconds of work per task"},
        {"--workers", "K", CLI_NUMBER, &workers, false, 0, 10000,
         "workers to wait for before sending (0: don't wait)"},
        {"--reliable", "", CLI_FLAG, &reliable, false, 0, 0,
         "hand tasks out as a ROUTER to heartbeating workers, requeue a dead "
         "worker's tasks, end when the sink has acknowledged all (see README)"},
        {"--journal", "FILE", CLI_STRING, &path, false, 0, 0,
         "with --reliable: keep the tasks the sink confirmed in FILE and resume "
         "from it after a crash"},
        CLI_CURVE_OPTS,
    };
    cli_parse(argc, argv, PROG,
              "Wait for K workers, then push N tasks of M ms to them.", opts, sizeof opts / sizeof *opts);
    if (path && !reliable)
        cli_usage_error(PROG, "--journal needs --reliable");
    if (reliable)
        return run_reliable(bind, tasks, ms, workers, path);

    void *ctx = gz_zmq_context();
    void *push = cli_socket(ctx, ZMQ_PUSH, 10000); /* time to deliver the rest */
    gz_zmq_monitor_t *monitor = gz_zmq_monitor(ctx, push, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                             ZMQ_EVENT_DISCONNECTED);
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
    gz_zmq_monitor_close(monitor);
    gz_zmq_close(push);
    cli_curve_done();
    zmq_ctx_term(ctx); /* waits (up to the linger) until the tasks are out */
    if (cli_stopped())
        fprintf(stderr, PROG ": interrupted\n");
    if (status == 0)
        printf(PROG ": sent %ld tasks of %ld ms in %.3f s\n", sent, ms,
               cli_now() - t0);
    return status;
}
