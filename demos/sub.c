/* gzmq-sub: a subscriber that never loses a message silently (zguide,
 * chapter 5). Pairs with gzmq-pub; common/pubsub.h has the protocol.
 *
 * Prints every update it receives and, at the end, "N messages, G gaps",
 * checked from the per-topic sequence numbers; each gap is reported with
 * its missing range. Runs --concurrency C subscribers, each a greenlet with
 * its own SUB socket. A subscriber ends after --count updates, or when every
 * topic it follows has said END.
 *
 * - --sync EP: say READY to the publisher over REQ/REP, but only once a
 *   message of each topic has arrived (a HELLO probe, usually): then the
 *   subscription is known to have reached the publisher, and no update
 *   published after GO can be missed.
 * - --snapshot EP (the Clone pattern, reduced): subscribe, wait for a
 *   message of each topic (the subscription is live), then ask for the
 *   publisher's state; what arrived before the snapshot is in it, and
 *   from then on only updates newer than it are applied. At the end it
 *   prints its state, "state TOPIC SEQ VALUE", as gzmq-pub does.
 * - a slow subscriber (the Suicidal Snail): an update that skips sequence
 *   numbers (PUB dropped them at the high-water mark) or is older than
 *   --max-lag seconds means this process cannot keep up; it says so and
 *   exits 3 at once rather than go on with holes in its data.
 *
 * Exit status: 0 when every subscriber got everything, 1 on gaps that are
 * not slowness (updates published before it joined, without --sync or
 * --snapshot; the last updates lost) or an error, 3 when too slow. */
#include <gzmq.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/pubsub.h"

#define PROG "gzmq-sub"
#define EXIT_TOO_SLOW 3

typedef struct topic_track {
    long last;   /* last sequence number applied, 0: none yet */
    long ended;  /* END's sequence number + 1, 0: no END yet */
    bool heard;  /* some message of the topic arrived: subscribed */
    char value[PS_VALUE_MAX + 1];
} topic_track;

typedef struct subscriber {
    int index;
    long messages, gaps;
    int status;
    topic_track t[PS_TOPICS_MAX];
} subscriber;

static struct {
    ps_topic names[PS_TOPICS_MAX];
    size_t n;
    const char *connect, *sync, *snapshot;
    long count, rcvhwm, delay_ms, max_lag, timeout;
    bool quiet;
    bool slow; /* a subscriber was too slow: all stop */
} S;

/* "gzmq-sub: ..." (or "gzmq-sub #I: ..." past the first subscriber) on
 * stderr. */
static void say(const subscriber *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const subscriber *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->index > 0)
        fprintf(stderr, PROG " #%d: ", s->index);
    else
        fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Stop every subscriber of the process: this one cannot keep up, and the
 * others share its thread. */
static void too_slow(subscriber *s)
{
    s->status = EXIT_TOO_SLOW;
    if (!S.slow) {
        S.slow = true;
        zmq_ctx_shutdown(gz_zmq_context()); /* the others' recv: ETERM */
    }
}

/* Handle one message; -1 when this subscriber must stop. */
static int handle(subscriber *s, const char *msg, int len)
{
    char text[PS_MSG_MAX + 1];
    if (len > PS_MSG_MAX)
        len = PS_MSG_MAX;
    memcpy(text, msg, (size_t)len);
    text[len] = 0;
    size_t tl = strcspn(text, " ");
    int k = ps_find((const ps_topic *)S.names, S.n, text, tl);
    if (k < 0 || !text[tl]) {
        fprintf(stderr, PROG ": ignoring malformed message '%s'\n", text);
        return 0;
    }
    topic_track *t = &s->t[k];
    const char *rest = text + tl + 1, *name = S.names[k];
    t->heard = true;
    long seq, end;
    double when;
    char value[PS_VALUE_MAX + 1];
    if (strcmp(rest, "HELLO") == 0)
        return 0;
    if (sscanf(rest, "END %ld", &end) == 1) {
        if (!t->ended) {
            t->ended = end + 1;
            if (t->last < end) {
                say(s, "gap on %s: missing %ld-%ld (the last updates were lost)",
                    name, t->last + 1, end);
                s->gaps++;
                s->status = s->status ? s->status : 1;
            }
        }
        return 0;
    }
    if (sscanf(rest, "%ld %lf %16s", &seq, &when, value) != 3 || seq < 1) {
        fprintf(stderr, PROG ": ignoring malformed message '%s'\n", text);
        return 0;
    }
    if (seq <= t->last)
        return 0; /* already in the snapshot */
    if (seq > t->last + 1) {
        s->gaps++;
        if (t->last == 0) {
            /* the late joiner: PUB does not keep what it sent before */
            say(s, "gap on %s: missing %ld-%ld (published before this "
                           "subscriber joined: use --sync or --snapshot)",
                name, 1L, seq - 1);
            s->status = s->status ? s->status : 1;
        } else {
            say(s, "too slow: gap on %s: missing %ld-%ld (the publisher "
                           "dropped them: this subscriber fell behind)",
                name, t->last + 1, seq - 1);
            too_slow(s);
            return -1;
        }
    }
    t->last = seq;
    memcpy(t->value, value, sizeof value);
    s->messages++;
    if (!S.quiet) {
        if (s->index > 0)
            printf("#%d ", s->index);
        printf("%s\n", text);
    }
    double lag = ps_wall() - when;
    if (S.max_lag > 0 && lag > (double)S.max_lag) {
        char what[PS_TOPIC_MAX + 32];
        snprintf(what, sizeof what, "%s %ld", name, seq);
        say(s, "too slow: update %s is %.1f s old, over --max-lag %ld s", what, lag,
            S.max_lag);
        too_slow(s);
        return -1;
    }
    if (S.delay_ms > 0 && gz_sleep((double)S.delay_ms / 1000.0) != 0)
        return -1;
    return 0;
}

static bool finished(const subscriber *s)
{
    if (S.count > 0 && s->messages >= S.count)
        return true;
    for (size_t i = 0; i < S.n; i++)
        if (!s->t[i].ended)
            return false;
    return true;
}

static bool all_heard(const subscriber *s)
{
    for (size_t i = 0; i < S.n; i++)
        if (!s->t[i].heard)
            return false;
    return true;
}

/* Wait up to --timeout for a message on SOCK: 1, 0 on timeout, -1. */
static int wait_in(void *sock)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    return gz_zmq_poll(&it, 1, S.timeout > 0 ? S.timeout * 1000 : -1);
}

/* Receive and handle one message within --timeout: 0, -1 to stop. */
static int step(subscriber *s, void *sub, bool apply)
{
    int r = wait_in(sub);
    if (r == 0) {
        say(s, "nothing from the publisher for %ld s", S.timeout);
        s->status = s->status ? s->status : 1;
        return -1;
    }
    char buf[PS_MSG_MAX];
    int n = r < 0 ? -1 : gz_zmq_recv(sub, buf, sizeof buf, ZMQ_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN ? 0 : -1;
    if (!apply) { /* before the snapshot: it holds what this says */
        size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf;
        const char *space = memchr(buf, ' ', len);
        int k = space ? ps_find((const ps_topic *)S.names, S.n, buf, (size_t)(space - buf)) : -1;
        if (k >= 0)
            s->t[k].heard = true;
        return 0;
    }
    return handle(s, buf, n);
}

/* One request on a fresh socket of TYPE at ENDPOINT, its answer into BUF
 * (NUL-terminated): its length, -1 on error or timeout (reported). */
static int ask(subscriber *s, int type, const char *endpoint, const char *req,
               char *buf, size_t len)
{
    void *z = cli_socket(gz_zmq_context(), type, 0);
    cli_connect(z, endpoint, PROG);
    int n = gz_zmq_send(z, req, strlen(req), 0);
    if (n >= 0) {
        n = wait_in(z);
        if (n == 0) {
            say(s, "no answer to %s from %s within %ld s", req, endpoint, S.timeout);
            s->status = s->status ? s->status : 1;
            n = -1;
            errno = ETIMEDOUT;
        } else if (n > 0) {
            n = gz_zmq_recv(z, buf, len - 1, ZMQ_DONTWAIT);
        }
    }
    int e = errno;
    gz_zmq_close(z);
    errno = e;
    if (n >= 0)
        buf[(size_t)n < len - 1 ? (size_t)n : len - 1] = 0;
    return n;
}

static int apply_snapshot(subscriber *s, char *text)
{
    size_t k;
    char *line = strchr(text, '\n');
    if (sscanf(text, "SNAPSHOT %zu", &k) != 1 || !line) {
        fprintf(stderr, PROG ": bad snapshot '%.40s'\n", text);
        return -1;
    }
    while (k-- > 0 && line) {
        char *next = strchr(++line, '\n');
        if (next)
            *next = 0;
        size_t tl = strcspn(line, " ");
        int i = ps_find((const ps_topic *)S.names, S.n, line, tl);
        long seq;
        char value[PS_VALUE_MAX + 1];
        if (i >= 0 && sscanf(line + tl, " %ld %16s", &seq, value) == 2 && seq > 0) {
            s->t[i].last = seq;
            memcpy(s->t[i].value, value, sizeof value);
        }
        line = next;
    }
    return 0;
}

static void *run_subscriber(void *arg)
{
    subscriber *s = arg;
    void *sub = cli_socket(gz_zmq_context(), ZMQ_SUB, 0);
    int hwm = (int)S.rcvhwm;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    for (size_t i = 0; i < S.n; i++) {
        char prefix[PS_TOPIC_MAX + 2];
        int len = snprintf(prefix, sizeof prefix, "%s ", S.names[i]);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, (size_t)len);
    }
    cli_connect(sub, S.connect, PROG);
    int rc = 0;
    /* with --snapshot, what comes before the snapshot is in it; with --sync
     * alone, it is HELLO (or, if the publisher had already started, data) */
    if (S.sync || S.snapshot)
        while (rc == 0 && !all_heard(s))
            rc = step(s, sub, !S.snapshot);
    char answer[32 + PS_TOPICS_MAX * (PS_TOPIC_MAX + PS_VALUE_MAX + 24)];
    if (rc == 0 && S.sync) {
        rc = ask(s, ZMQ_REQ, S.sync, "READY", answer, sizeof answer);
        if (rc >= 0 && strcmp(answer, "GO") != 0) {
            fprintf(stderr, PROG ": the publisher answered '%s' to READY\n", answer);
            rc = -1;
        }
    }
    if (rc >= 0 && S.snapshot) {
        rc = ask(s, ZMQ_DEALER, S.snapshot, "SNAPSHOT", answer, sizeof answer);
        if (rc >= 0)
            rc = apply_snapshot(s, answer);
    }
    if (rc >= 0)
        rc = 0;
    while (rc == 0 && !finished(s))
        rc = step(s, sub, true);
    if (rc < 0 && s->status == 0 && !(errno == ETERM && (cli_stopped() || S.slow))) {
        fprintf(stderr, PROG ": %s\n", zmq_strerror(errno));
        s->status = 1;
    }
    if (S.count > 0 && s->messages < S.count && s->status == 0 && !S.slow) {
        say(s, "stopped after %ld of %ld updates", s->messages, S.count);
        s->status = cli_stopped() ? 0 : 1;
    }
    gz_zmq_close(sub);
    return NULL;
}

static bool same_state(const subscriber *a, const subscriber *b)
{
    for (size_t i = 0; i < S.n; i++)
        if (a->t[i].last != b->t[i].last || strcmp(a->t[i].value, b->t[i].value) != 0)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    const char *topics = NULL;
    long concurrency = 1;
    S.rcvhwm = 1000;
    S.timeout = 60;
    cli_opt opts[] = {
        {"--connect", "ENDPOINT", CLI_STRING, &S.connect, true, 0, 0,
         "the publisher, e.g. tcp://host:5556"},
        {"--topic", "T1,T2,...", CLI_STRING, &topics, true, 0, 0,
         "the topics to receive"},
        {"--count", "N", CLI_NUMBER, &S.count, false, 0, 1000000000L,
         "stop after N updates, 0: when every topic said END"},
        {"--sync", "ENDPOINT", CLI_STRING, &S.sync, false, 0, 0,
         "say READY to the publisher's --sync socket once subscribed"},
        {"--snapshot", "ENDPOINT", CLI_STRING, &S.snapshot, false, 0, 0,
         "start from the publisher's state (its --snapshot socket)"},
        {"--concurrency", "C", CLI_NUMBER, &concurrency, false, 1, 10000,
         "subscribers in this process, one greenlet and SUB socket each"},
        {"--max-lag", "S", CLI_NUMBER, &S.max_lag, false, 0, 86400,
         "too slow when an update is older than S s (clocks in sync), 0: off"},
        {"--rcvhwm", "N", CLI_NUMBER, &S.rcvhwm, false, 1, 100000000L,
         "updates queued here before the publisher drops them for us"},
        {"--delay-ms", "MS", CLI_NUMBER, &S.delay_ms, false, 0, 60000,
         "work of MS ms on each update (to see a slow subscriber)"},
        {"--timeout", "S", CLI_NUMBER, &S.timeout, false, 0, 86400,
         "longest wait for the publisher, 0: no limit"},
        {"--quiet", "", CLI_FLAG, &S.quiet, false, 0, 0,
         "print only the summary, not every update"},
    };
    cli_parse(argc, argv, PROG,
              "Receive numbered updates from gzmq-pub, check none is missing and "
              "report each gap; exit 3 when too slow to keep up.",
              opts, sizeof opts / sizeof *opts);
    S.n = ps_topics(PROG, "--topic", topics, S.names);

    void *ctx = gz_zmq_context();
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    subscriber *subs = calloc((size_t)concurrency, sizeof *subs);
    gz_greenlet **gs = calloc((size_t)concurrency, sizeof *gs);
    if (!subs || !gs)
        return 1;
    for (long i = 0; i < concurrency; i++) {
        subs[i].index = (int)i;
        if (!(gs[i] = gz_spawn(run_subscriber, &subs[i]))) {
            perror(PROG ": spawn");
            return 1;
        }
    }
    gz_joinall(gs, (size_t)concurrency, GZ_FOREVER);
    for (long i = 0; i < concurrency; i++)
        gz_release(gs[i]);
    free(gs);
    cli_signals_done();
    zmq_ctx_term(ctx);

    long messages = 0, gaps = 0;
    int status = 0;
    for (long i = 0; i < concurrency; i++) {
        subscriber *s = &subs[i];
        if (concurrency > 1)
            printf(PROG " #%ld: %ld messages, %ld gaps\n", i, s->messages, s->gaps);
        messages += s->messages;
        gaps += s->gaps;
        if (s->status > status)
            status = s->status;
    }
    printf(PROG ": %ld messages, %ld gaps\n", messages, gaps);
    if (S.snapshot && status == 0) {
        for (long i = 1; i < concurrency; i++)
            if (!same_state(&subs[0], &subs[i])) {
                fprintf(stderr, PROG ": subscribers #0 and #%ld end in different states\n", i);
                status = 1;
            }
        for (size_t i = 0; i < S.n; i++)
            if (subs[0].t[i].last > 0)
                printf("state %s %ld %s\n", S.names[i], subs[0].t[i].last, subs[0].t[i].value);
    }
    free(subs);
    return status;
}
