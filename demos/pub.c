/* gzmq-pub: a publisher that shows pub/sub done right (zguide, chapter 5).
 *
 * Publishes --count numbered updates "TOPIC SEQ TIME VALUE" round-robin over
 * --topics at --rate per second (common/pubsub.h has the protocol); SEQ
 * counts per topic, so that a subscriber to a subset of the topics can still
 * tell a lost message from one it did not subscribe to.
 *
 * The traps it guards against:
 * - the slow joiner: PUB drops what it publishes before a subscription has
 *   arrived. With --sync EP --subscribers K it publishes nothing until K
 *   subscribers have said READY over REQ/REP. Saying READY is not enough
 *   (the subscription travels apart from it, and may arrive later), so
 *   meanwhile it sends a "TOPIC HELLO" probe on every topic every 50 ms, and
 *   a subscriber says READY only once a probe of each of its topics came.
 * - the late joiner without state: with --snapshot EP it keeps the last
 *   value of each topic and serves it, with the sequence number it
 *   reflects, to a subscriber asking over ROUTER (the Clone pattern); a
 *   greenlet of its own serves snapshots while the main one publishes.
 * - a subscriber left waiting at the end: after the last update it repeats
 *   "TOPIC END SEQ" every 100 ms for --linger seconds, so that a subscriber
 *   knows the stream is over and can check it missed nothing at its end.
 *
 * At the end (or on SIGINT / SIGTERM) it prints how many updates it
 * published and its state, "state TOPIC SEQ VALUE" by topic, and exits 0. */
#include <gzmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/pubsub.h"

#define PROG "gzmq-pub"
#define HELLO_EVERY 0.05 /* s between --sync probes */
#define END_EVERY 0.1    /* s between END messages while lingering */

static struct {
    ps_topic names[PS_TOPICS_MAX];
    long seq[PS_TOPICS_MAX];
    char value[PS_TOPICS_MAX][PS_VALUE_MAX + 1];
    size_t n;
    void *pub, *sync, *snap;
    long published, snapshots;
    uint64_t rng;
    int failure;
} P;

static uint64_t next_random(void)
{
    P.rng ^= P.rng << 13;
    P.rng ^= P.rng >> 7;
    P.rng ^= P.rng << 17;
    return P.rng;
}

/* Send TEXT on the PUB socket: never waits (PUB drops at the HWM). */
static int publish(const char *text)
{
    return gz_zmq_send(P.pub, text, strlen(text), 0) < 0 ? -1 : 0;
}

static int publish_all(const char *what)
{
    for (size_t i = 0; i < P.n; i++) {
        char msg[PS_MSG_MAX];
        snprintf(msg, sizeof msg, "%s %s", P.names[i], what);
        if (strcmp(what, "END") == 0)
            snprintf(msg, sizeof msg, "%s END %ld", P.names[i], P.seq[i]);
        if (publish(msg) < 0)
            return -1;
    }
    return 0;
}

/* ---- --snapshot: the state, served from a greenlet ---- */

/* The answer to one request on the ROUTER: its envelope (every frame but
 * the last) sent back, then the state. Requests other than SNAPSHOT get
 * "ERROR". Sent without waiting: ROUTER drops for a peer at its HWM. */
static int answer(zmq_msg_t *frames, int n)
{
    char body[32 + PS_TOPICS_MAX * (PS_TOPIC_MAX + PS_VALUE_MAX + 24)];
    size_t len = zmq_msg_size(&frames[n - 1]);
    if (len == 8 && memcmp(zmq_msg_data(&frames[n - 1]), "SNAPSHOT", 8) == 0) {
        size_t k = 0, at;
        for (size_t i = 0; i < P.n; i++)
            k += P.seq[i] > 0;
        at = (size_t)snprintf(body, sizeof body, "SNAPSHOT %zu\n", k);
        for (size_t i = 0; i < P.n; i++)
            if (P.seq[i] > 0)
                at += (size_t)snprintf(body + at, sizeof body - at, "%s %ld %s\n",
                                       P.names[i], P.seq[i], P.value[i]);
        len = at;
        P.snapshots++;
    } else {
        len = (size_t)snprintf(body, sizeof body, "ERROR");
    }
    int i = 0;
    for (; i < n - 1; i++)
        if (gz_zmq_msg_send(&frames[i], P.snap, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            break;
    int rc = i == n - 1 ? gz_zmq_send(P.snap, body, len, ZMQ_DONTWAIT) : -1;
    for (; i < n; i++)
        zmq_msg_close(&frames[i]);
    return rc < 0 && errno != EAGAIN && errno != EHOSTUNREACH ? -1 : 0;
}

static void *serve_snapshots(void *arg)
{
    (void)arg;
    for (;;) {
        zmq_msg_t frames[8];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t *m = &frames[n < 8 ? n : 7];
            if (n >= 8)
                zmq_msg_close(m); /* an envelope this deep is nobody's: keep the last */
            zmq_msg_init(m);
            if (gz_zmq_msg_recv(m, P.snap, 0) < 0) {
                for (int i = 0; i <= n && i < 8; i++)
                    zmq_msg_close(&frames[i]);
                return NULL; /* closed at the end (ENOTSOCK) or ETERM */
            }
            more = zmq_msg_more(m);
            n++;
        }
        if (answer(frames, n < 8 ? n : 8) < 0) {
            fprintf(stderr, PROG ": snapshot: %s\n", zmq_strerror(errno));
            P.failure = 1;
            return NULL;
        }
    }
}

/* ---- --sync: wait for K subscribers ---- */

static int wait_for_subscribers(long k)
{
    long ready = 0;
    double next_hello = 0;
    while (ready < k) {
        double now = cli_now();
        if (now >= next_hello) {
            if (publish_all("HELLO") < 0)
                return -1;
            next_hello = now + HELLO_EVERY;
        }
        zmq_pollitem_t it = {P.sync, 0, ZMQ_POLLIN, 0};
        int r = gz_zmq_poll(&it, 1, (long)((next_hello - now) * 1000) + 1);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        char req[16];
        int n = gz_zmq_recv(P.sync, req, sizeof req, ZMQ_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN)
                continue;
            return -1;
        }
        bool ok = n == 5 && memcmp(req, "READY", 5) == 0;
        if (gz_zmq_send(P.sync, ok ? "GO" : "ERROR", ok ? 2 : 5, 0) < 0)
            return -1;
        if (ok) {
            printf(PROG ": subscriber %ld of %ld ready\n", ++ready, k);
            fflush(stdout);
        }
    }
    return 0;
}

/* Once publishing, a subscriber past the K is told GO at once: it has
 * missed the start, and will say so. */
static void *answer_late_subscribers(void *arg)
{
    (void)arg;
    char req[16];
    while (gz_zmq_recv(P.sync, req, sizeof req, 0) >= 0)
        if (gz_zmq_send(P.sync, "GO", 2, 0) < 0)
            break;
    return NULL; /* closed at the end (ENOTSOCK) or ETERM */
}

/* ---- publishing ---- */

static int run(long count, long rate)
{
    double t0 = cli_now();
    for (long i = 0; count == 0 || i < count; i++) {
        if (rate > 0) {
            double due = t0 + (double)i / (double)rate, now = cli_now();
            if (due > now && gz_sleep(due - now) != 0)
                return -1;
        } else if (i % 64 == 63 && gz_yield() != 0) {
            return -1; /* unthrottled: let the snapshot greenlet in */
        }
        if (cli_stopped()) /* a sleep does not see the context shut down */
            return 0;
        size_t t = (size_t)i % P.n;
        long seq = P.seq[t] + 1;
        char value[PS_VALUE_MAX + 1], msg[PS_MSG_MAX];
        snprintf(value, sizeof value, "%08llx", (unsigned long long)(next_random() >> 32));
        snprintf(msg, sizeof msg, "%s %ld %.6f %s", P.names[t], seq, ps_wall(), value);
        if (publish(msg) < 0)
            return -1;
        /* the state changes with the update, in one step: a snapshot is
         * served between two updates, never inside one */
        P.seq[t] = seq;
        memcpy(P.value[t], value, sizeof value);
        P.published++;
    }
    return 0;
}

static int linger(long seconds)
{
    double end = cli_now() + (double)seconds;
    do {
        if (publish_all("END") < 0)
            return -1;
        if (gz_sleep(END_EVERY) != 0)
            return -1;
    } while (!cli_stopped() && cli_now() < end);
    return 0;
}

int main(int argc, char **argv)
{
    const char *bind = NULL, *topics = "a", *sync = NULL, *snapshot = NULL;
    long rate = 100, count = 0, subscribers = 0, lingering = 1, sndhwm = 1000, seed = 0;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &bind, true, 0, 0,
         "the PUB socket, e.g. tcp://*:5556"},
        {"--topics", "T1,T2,...", CLI_STRING, &topics, false, 0, 0,
         "topics to publish on, round-robin (default a)"},
        {"--rate", "N", CLI_NUMBER, &rate, false, 0, 10000000L,
         "updates per second, 0: as fast as possible"},
        {"--count", "N", CLI_NUMBER, &count, false, 0, 1000000000L,
         "updates to publish, 0: until SIGINT / SIGTERM"},
        {"--sync", "ENDPOINT", CLI_STRING, &sync, false, 0, 0,
         "REP socket where subscribers say READY; publish nothing before "
         "--subscribers of them did"},
        {"--subscribers", "K", CLI_NUMBER, &subscribers, false, 0, 100000,
         "with --sync: subscribers to wait for"},
        {"--snapshot", "ENDPOINT", CLI_STRING, &snapshot, false, 0, 0,
         "ROUTER socket serving the state (last value per topic) to late joiners"},
        {"--linger", "S", CLI_NUMBER, &lingering, false, 0, 86400,
         "after the last update, repeat END (and serve snapshots) for S seconds"},
        {"--sndhwm", "N", CLI_NUMBER, &sndhwm, false, 1, 100000000L,
         "updates queued per subscriber before PUB drops them for it"},
        {"--seed", "N", CLI_NUMBER, &seed, false, 0, 0x7fffffffL,
         "seed of the random values, 0: from the clock"},
    };
    cli_parse(argc, argv, PROG,
              "Publish numbered updates TOPIC SEQ TIME VALUE; optionally wait for K "
              "subscribers first and serve snapshots of the state.",
              opts, sizeof opts / sizeof *opts);
    if ((sync != NULL) != (subscribers > 0))
        cli_usage_error(PROG, "--sync and --subscribers (at least 1) go together");
    P.n = ps_topics(PROG, "--topics", topics, P.names);
    P.rng = seed ? (uint64_t)seed : (uint64_t)(cli_now() * 1e9) ^ (uint64_t)getpid() << 32;
    P.rng |= 1; /* xorshift never leaves 0 */

    void *ctx = gz_zmq_context();
    P.pub = cli_socket(ctx, ZMQ_PUB, 1000);
    int hwm = (int)sndhwm;
    zmq_setsockopt(P.pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    cli_bind(P.pub, bind, PROG);
    if (sync) {
        P.sync = cli_socket(ctx, ZMQ_REP, 0);
        cli_bind(P.sync, sync, PROG);
    }
    gz_greenlet *server = NULL;
    if (snapshot) {
        P.snap = cli_socket(ctx, ZMQ_ROUTER, 0);
        cli_bind(P.snap, snapshot, PROG);
        if (!(server = gz_spawn(serve_snapshots, NULL))) {
            perror(PROG ": spawn");
            return 1;
        }
    }
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    int rc = sync ? wait_for_subscribers(subscribers) : 0;
    gz_greenlet *late = NULL;
    if (rc == 0 && sync && !(late = gz_spawn(answer_late_subscribers, NULL))) {
        perror(PROG ": spawn");
        return 1;
    }
    if (rc == 0)
        rc = run(count, rate);
    if (rc == 0 && count > 0 && !cli_stopped())
        rc = linger(lingering);
    if (rc < 0 && errno != ETERM && !cli_stopped()) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        P.failure = 1;
    }
    cli_signals_done();
    if (P.snap) {
        gz_zmq_close(P.snap); /* the server's recv returns ENOTSOCK */
        gz_join(server, GZ_FOREVER);
        gz_release(server);
    }
    if (P.sync)
        gz_zmq_close(P.sync);
    if (late) {
        gz_join(late, GZ_FOREVER);
        gz_release(late);
    }
    gz_zmq_close(P.pub);
    zmq_ctx_term(ctx);
    printf(PROG ": published %ld updates on %zu topics, served %ld snapshots\n",
           P.published, P.n, P.snapshots);
    for (size_t i = 0; i < P.n; i++)
        if (P.seq[i] > 0)
            printf("state %s %ld %s\n", P.names[i], P.seq[i], P.value[i]);
    return P.failure;
}
