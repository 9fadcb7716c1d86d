/* gzmq-pub and gzmq-sub ($BUILD/bin) as child processes, over tcp (port 0,
 * the endpoints read from their "bound to" lines) and ipc (paths in a
 * mkdtemp directory): topic filtering, --sync with subscribers started in a
 * random (seeded) order, a slow subscriber detected while the others keep
 * up, a late joiner's gap reported with its range, and --snapshot
 * subscribers, one started mid-stream and one after the end, ending in the
 * publisher's state. Every wait is bounded; nothing is timed. */
#include <regex.h>
#include <sys/stat.h>
#include <time.h>

#include "gz_test.h"

#define LIMIT 60.0 /* s any one wait may take: a watchdog, not a timing */

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct proc {
    pid_t pid;
    int status; /* exit status once reaped, -1 if killed or not exited */
    bool reaped;
    char out[64]; /* stdout and stderr */
} proc;

/* Start gzmq-NAME with the NULL-ended arguments. */
static void start(proc *p, const char *name, const char *const *args)
{
    char path[256];
    snprintf(path, sizeof path, "%s/bin/gzmq-%s", build_dir(), name);
    const char *argv[40] = {path};
    size_t n = 1;
    while (args[n - 1] && n < 39) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    snprintf(p->out, sizeof p->out, "/tmp/gzmq-pubsub-XXXXXX");
    int fd = mkstemp(p->out);
    assert_true(fd >= 0);
    p->reaped = false;
    p->status = -1;
    fflush(NULL);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fd);
}

static char *output(const proc *p)
{
    return gz_test_read_file(NULL, p->out);
}

static bool poll_exit(proc *p)
{
    int st;
    if (!p->reaped && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->reaped = true;
        p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    return p->reaped;
}

/* Wait until P's output has a line matching RE; false if it exited or
 * LIMIT passed first. */
static bool wait_line(proc *p, const char *re)
{
    double end = seconds() + LIMIT;
    for (;;) {
        char *text = output(p);
        bool ok = gz_test_has_line(text, re);
        free(text);
        if (ok)
            return true;
        if (poll_exit(p) || seconds() > end) {
            text = output(p);
            fprintf(stderr, "no line /%s/ from %s:\n%s", re, p->out, text);
            free(text);
            return false;
        }
        usleep(10000);
    }
}

/* The endpoint in P's Nth (from 1) "bound to" line. */
static void endpoint(proc *p, int nth, char *ep, size_t len)
{
    char re[64] = "bound to ";
    for (int i = 1; i < nth; i++)
        strcat(re, "(.|\n)*bound to ");
    assert_true(wait_line(p, re));
    char *text = output(p), *at = text;
    for (int i = 0; i < nth; i++)
        at = strstr(at, "bound to ") + 9;
    snprintf(ep, len, "%.*s", (int)strcspn(at, "\n"), at);
    free(text);
}

/* Wait for P to exit (SIGKILL after LIMIT); its exit status, -1 if it was
 * killed. *OUT, if given, gets its output. */
static int finish(proc *p, char **out)
{
    double end = seconds() + LIMIT;
    while (!poll_exit(p) && seconds() < end)
        usleep(10000);
    if (!p->reaped) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->reaped = true;
        fprintf(stderr, "%s killed after %.0f s\n", p->out, LIMIT);
    }
    char *text = output(p);
    unlink(p->out);
    if (out)
        *out = text;
    else
        free(text);
    return p->status;
}

static int stop(proc *p, char **out)
{
    if (!poll_exit(p))
        kill(p->pid, SIGTERM);
    return finish(p, out);
}

/* ---- endpoints per transport ---- */

typedef struct transport {
    bool ipc;
    char dir[64];
} transport;

static void transport_open(transport *t, bool ipc)
{
    t->ipc = ipc;
    snprintf(t->dir, sizeof t->dir, "/tmp/gzmq-pubsub-ipc-XXXXXX");
    if (ipc)
        assert_non_null(mkdtemp(t->dir));
}

static void transport_close(transport *t)
{
    if (!t->ipc)
        return;
    static const char *const names[] = {"pub", "sync", "snap"};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", t->dir, names[i]);
        unlink(path);
    }
    rmdir(t->dir);
}

/* Where to bind NAME: a fresh ipc path, or any tcp port. */
static void bind_ep(const transport *t, const char *name, char *ep, size_t len)
{
    if (t->ipc)
        snprintf(ep, len, "ipc://%s/%s", t->dir, name);
    else
        snprintf(ep, len, "tcp://127.0.0.1:*");
}

typedef struct publisher {
    proc p;
    char pub[128], sync[128], snap[128];
} publisher;

/* gzmq-pub on T with EXTRA arguments (NULL-ended); binds --sync and
 * --snapshot too when WITH_SYNC / WITH_SNAP. */
static void start_pub(publisher *pb, const transport *t, bool with_sync, bool with_snap,
                      const char *const *extra)
{
    char b1[128], b2[128], b3[128];
    const char *args[40];
    size_t n = 0;
    bind_ep(t, "pub", b1, sizeof b1);
    args[n++] = "--bind";
    args[n++] = b1;
    if (with_sync) {
        bind_ep(t, "sync", b2, sizeof b2);
        args[n++] = "--sync";
        args[n++] = b2;
    }
    if (with_snap) {
        bind_ep(t, "snap", b3, sizeof b3);
        args[n++] = "--snapshot";
        args[n++] = b3;
    }
    while (*extra && n < 38)
        args[n++] = *extra++;
    args[n] = NULL;
    start(&pb->p, "pub", args);
    int k = 1;
    endpoint(&pb->p, k++, pb->pub, sizeof pb->pub);
    if (with_sync)
        endpoint(&pb->p, k++, pb->sync, sizeof pb->sync);
    if (with_snap)
        endpoint(&pb->p, k++, pb->snap, sizeof pb->snap);
}

/* The "state ..." lines of TEXT, in order, in malloc'd memory. */
static char *state_of(const char *text)
{
    char *s = calloc(1, strlen(text) + 1);
    assert_non_null(s);
    for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
        if (strncmp(l, "state ", 6) == 0)
            strncat(s, l, strcspn(l, "\n") + 1);
    return s;
}

/* ---- the tests, each over tcp and ipc ---- */

/* Each subscriber gets its topics and no other; a process of 3 greenlets
 * counts as 3 subscribers. */
static void topic_filtering(bool ipc)
{
    transport t;
    transport_open(&t, ipc);
    publisher pb;
    start_pub(&pb, &t, true, false,
              (const char *[]){"--topics", "a,ab,b", "--subscribers", "4", "--rate", "1000",
                               "--count", "300", "--linger", "60", NULL});
    proc one, three;
    start(&one, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a", "--sync",
                                        pb.sync, "--timeout", "60", NULL});
    start(&three, "sub", (const char *[]){"--connect", pb.pub, "--topic", "ab,b", "--sync",
                                          pb.sync, "--concurrency", "3", "--timeout", "60",
                                          NULL});
    char *o1, *o3, *op;
    int r1 = finish(&one, &o1), r3 = finish(&three, &o3);
    int rp = stop(&pb.p, &op);
    assert_int_equal(r1, 0);
    assert_int_equal(r3, 0);
    assert_int_equal(rp, 0);
    assert_true(gz_test_has_line(o1, "^gzmq-sub: 100 messages, 0 gaps$"));
    assert_true(gz_test_has_line(o1, "^a 1 "));
    assert_false(gz_test_has_line(o1, "^(ab|b) [0-9]"));
    for (int i = 0; i < 3; i++) {
        char re[64];
        snprintf(re, sizeof re, "^gzmq-sub #%d: 200 messages, 0 gaps$", i);
        assert_true(gz_test_has_line(o3, re));
    }
    assert_true(gz_test_has_line(o3, "^gzmq-sub: 600 messages, 0 gaps$"));
    assert_true(gz_test_has_line(o3, "^#2 ab 1 "));
    assert_false(gz_test_has_line(o3, "^(#[0-9] )?a [0-9]"));
    assert_true(gz_test_has_line(op, "^gzmq-pub: published 300 updates on 3 topics"));
    free(o1);
    free(o3);
    free(op);
    transport_close(&t);
}

/* Five subscribers started in a random order, some while others already
 * said READY: every one gets update 1 of each of its topics, and all. */
static void sync_five_in_random_order(bool ipc)
{
    transport t;
    transport_open(&t, ipc);
    publisher pb;
    start_pub(&pb, &t, true, false,
              (const char *[]){"--topics", "x,y", "--subscribers", "5", "--rate", "0",
                               "--count", "200", "--linger", "60", NULL});
    static const char *const topics[5] = {"x", "y", "x,y", "x", "y"};
    int order[5] = {0, 1, 2, 3, 4};
    srand(ipc ? 20 : 2020);
    for (int i = 4; i > 0; i--) {
        int j = rand() % (i + 1), k = order[i];
        order[i] = order[j];
        order[j] = k;
    }
    proc subs[5];
    for (int i = 0; i < 5; i++) {
        int k = order[i];
        start(&subs[k], "sub", (const char *[]){"--connect", pb.pub, "--topic", topics[k],
                                                "--sync", pb.sync, "--timeout", "60", NULL});
        usleep((useconds_t)(rand() % 50) * 1000); /* some READY before the next starts */
    }
    char *out[5], *op;
    int rc[5];
    for (int k = 0; k < 5; k++)
        rc[k] = finish(&subs[k], &out[k]);
    int rp = stop(&pb.p, &op);
    assert_int_equal(rp, 0);
    assert_true(gz_test_has_line(op, "^gzmq-pub: subscriber 5 of 5 ready$"));
    for (int k = 0; k < 5; k++) {
        if (rc[k] != 0)
            fprintf(stderr, "subscriber %d:\n%s", k, out[k]);
        assert_int_equal(rc[k], 0);
        if (strchr(topics[k], 'x'))
            assert_true(gz_test_has_line(out[k], "^x 1 "));
        if (strchr(topics[k], 'y'))
            assert_true(gz_test_has_line(out[k], "^y 1 "));
        assert_true(gz_test_has_line(out[k], strlen(topics[k]) > 1
                                         ? "^gzmq-sub: 200 messages, 0 gaps$"
                                         : "^gzmq-sub: 100 messages, 0 gaps$"));
        free(out[k]);
    }
    free(op);
    transport_close(&t);
}

/* One subscriber works 20 ms on each update while the publisher sends 200
 * a second: it falls further behind with every update (its lag grows
 * 15 ms per update), says so and exits 3, while the other two get all. */
static void slow_subscriber_is_detected(bool ipc)
{
    transport t;
    transport_open(&t, ipc);
    publisher pb;
    start_pub(&pb, &t, true, false,
              (const char *[]){"--topics", "a,b,c", "--subscribers", "3", "--rate", "200",
                               "--count", "600", "--linger", "60", NULL});
    proc fast[2], slow;
    for (int i = 0; i < 2; i++)
        start(&fast[i], "sub", (const char *[]){"--connect", pb.pub, "--topic", "a,b,c",
                                                "--sync", pb.sync, "--quiet", "--timeout",
                                                "60", NULL});
    start(&slow, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a,b,c", "--sync",
                                         pb.sync, "--quiet", "--delay-ms", "20",
                                         "--max-lag", "1", "--rcvhwm", "10", "--timeout",
                                         "60", NULL});
    char *os, *of[2], *op;
    int rs = finish(&slow, &os);
    int rf0 = finish(&fast[0], &of[0]), rf1 = finish(&fast[1], &of[1]);
    int rp = stop(&pb.p, &op);
    printf("%s", os);
    assert_int_equal(rs, 3);
    assert_true(gz_test_has_line(os, "^gzmq-sub: too slow: "));
    assert_int_equal(rf0, 0);
    assert_int_equal(rf1, 0);
    for (int i = 0; i < 2; i++) {
        assert_true(gz_test_has_line(of[i], "^gzmq-sub: 600 messages, 0 gaps$"));
        free(of[i]);
    }
    assert_int_equal(rp, 0);
    free(os);
    free(op);
    transport_close(&t);
}

/* Without --sync or --snapshot, a subscriber that joins after update 5
 * reports what it missed as a gap with its range, and exits 1. */
static void late_joiner_reports_its_gap(bool ipc)
{
    transport t;
    transport_open(&t, ipc);
    publisher pb;
    start_pub(&pb, &t, false, false,
              (const char *[]){"--topics", "a", "--rate", "100", "--count", "300", "--linger",
                               "60", NULL});
    proc early, late;
    start(&early, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a", "--timeout",
                                          "60", NULL});
    assert_true(wait_line(&early, "^a ([5-9]|[1-9][0-9]+) "));
    start(&late, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a", "--quiet",
                                         "--timeout", "60", NULL});
    char *ol;
    int rl = finish(&late, &ol);
    finish(&early, NULL); /* it may have missed update 1 as well */
    stop(&pb.p, NULL);
    printf("%s", ol);
    assert_int_equal(rl, 1);
    assert_true(gz_test_has_line(ol, "^gzmq-sub: gap on a: missing 1-([5-9]|[1-9][0-9]+) "
                             "\\(published before this subscriber joined"));
    assert_true(gz_test_has_line(ol, "^gzmq-sub: [0-9]+ messages, 1 gaps$"));
    free(ol);
    transport_close(&t);
}

/* A --snapshot subscriber started mid-stream, and one started after the
 * last update, end in the publisher's state. */
static void snapshot_subscriber_ends_in_the_publishers_state(bool ipc)
{
    transport t;
    transport_open(&t, ipc);
    publisher pb;
    start_pub(&pb, &t, false, true,
              (const char *[]){"--topics", "a,b,c", "--rate", "200", "--count", "600",
                               "--linger", "60", NULL});
    /* a plain subscriber's 10th update of a: the stream is under way */
    proc probe, mid, after;
    start(&probe, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a", "--count",
                                          "10", "--timeout", "60", NULL});
    finish(&probe, NULL);
    start(&mid, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a,b,c",
                                        "--snapshot", pb.snap, "--quiet", "--timeout", "60",
                                        NULL});
    char *om, *oa, *op;
    int rm = finish(&mid, &om);
    start(&after, "sub", (const char *[]){"--connect", pb.pub, "--topic", "a,b,c",
                                          "--snapshot", pb.snap, "--quiet", "--timeout",
                                          "60", NULL});
    int ra = finish(&after, &oa);
    int rp = stop(&pb.p, &op);
    printf("%s%s", om, op);
    assert_int_equal(rm, 0);
    assert_int_equal(ra, 0);
    assert_int_equal(rp, 0);
    /* mid-stream: the updates before it came in the snapshot */
    assert_true(gz_test_has_line(om, "^gzmq-sub: ([0-9]|[1-9][0-9]|[1-5][0-9][0-9]) messages, 0 gaps$"));
    assert_true(gz_test_has_line(oa, "^gzmq-sub: 0 messages, 0 gaps$"));
    char *sp = state_of(op), *sm = state_of(om), *sa = state_of(oa);
    for (const char *re = "a", *const *k = (const char *[]){"a", "b", "c", NULL}; *k; re = *++k) {
        char line[64];
        snprintf(line, sizeof line, "^state %s 200 [0-9a-f]{8}$", re);
        assert_true(gz_test_has_line(sp, line));
    }
    assert_string_equal(sm, sp);
    assert_string_equal(sa, sp);
    free(sp);
    free(sm);
    free(sa);
    free(om);
    free(oa);
    free(op);
    transport_close(&t);
}

#define BOTH(fn)                                              \
    static void fn##_tcp(void **state) { (void)state; fn(false); } \
    static void fn##_ipc(void **state) { (void)state; fn(true); }
BOTH(topic_filtering)
BOTH(sync_five_in_random_order)
BOTH(slow_subscriber_is_detected)
BOTH(late_joiner_reports_its_gap)
BOTH(snapshot_subscriber_ends_in_the_publishers_state)

int main(void)
{
    gz_test_watchdog(600);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topic_filtering_tcp),
        cmocka_unit_test(topic_filtering_ipc),
        cmocka_unit_test(sync_five_in_random_order_tcp),
        cmocka_unit_test(sync_five_in_random_order_ipc),
        cmocka_unit_test(slow_subscriber_is_detected_tcp),
        cmocka_unit_test(slow_subscriber_is_detected_ipc),
        cmocka_unit_test(late_joiner_reports_its_gap_tcp),
        cmocka_unit_test(late_joiner_reports_its_gap_ipc),
        cmocka_unit_test(snapshot_subscriber_ends_in_the_publishers_state_tcp),
        cmocka_unit_test(snapshot_subscriber_ends_in_the_publishers_state_ipc),
    };
    return cmocka_run_group_tests_name("pubsub", tests, NULL, NULL);
}
