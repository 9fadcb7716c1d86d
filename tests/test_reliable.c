/* The pipeline's --reliable mode (gzmq-ventilator, gzmq-worker, gzmq-sink
 * in $BUILD/bin) as separate processes, with faults injected:
 *   - on loopback: three workers, 5000 tasks, one worker killed with
 *     SIGKILL mid-run;
 *   - across hosts: ventilator and sink in one network namespace, one
 *     worker in each of two others, joined by veth pairs (10.77.1.0/24 and
 *     10.77.2.0/24, which exist only inside the namespaces this test
 *     creates and removes); one worker's link is taken down mid-run. Needs
 *     root and `ip netns`; skipped otherwise.
 *   - on loopback: the sink killed with SIGKILL mid-run and restarted: the
 *     new sink must say that the ventilator finished while it had only
 *     part of the results (those acknowledged to the first are not kept)
 *     and exit 3, not report a stray errno;
 * and, first, the sink's half of the protocol (ACKs, dropped repeats,
 * FINISHED) spoken to by the test itself. After the kill, the surviving
 * workers must reconnect to a new ventilator and do a second run.
 * Either way every task id must reach the sink exactly once (the sink's exit
 * status and summary), the ventilator must report the lost worker and a
 * requeue of its tasks, and every program must exit 0. Nothing is timed but
 * the per-step limits and the watchdog; the detection time is printed. */
#include <fcntl.h>
#include <regex.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "gz_test.h"

#define STEP_LIMIT 60.0 /* seconds any one wait may take: a watchdog */

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- child processes, reaped by the teardown whatever happens ---- */

#define MAX_PROCS 8
static struct {
    char dir[64];                 /* output files */
    pid_t pids[MAX_PROCS];
    size_t nprocs;
    char ns[3][32];               /* namespaces created (netns test) */
    size_t nns;
} T;

/* Run $BUILD/bin/gzmq-PROG ARGS... (NULL-terminated) with stdout and stderr
 * in T.dir/NAME, inside network namespace NS unless it is NULL. */
static pid_t start(const char *ns, const char *name, const char *prog, ...)
{
    char path[256], out[128];
    snprintf(path, sizeof path, "%s/bin/gzmq-%s", build_dir(), prog);
    snprintf(out, sizeof out, "%s/%s", T.dir, name);
    const char *argv[16] = {path};
    size_t n = 1;
    va_list ap;
    va_start(ap, prog);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        if (ns) {
            char nspath[128];
            snprintf(nspath, sizeof nspath, "/run/netns/%s", ns);
            int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
            if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
                perror(nspath);
                _exit(126);
            }
        }
        execv(path, (char *const *)argv);
        perror(path);
        _exit(127);
    }
    T.pids[T.nprocs++] = pid;
    return pid;
}

/* The exit status of PID, or -1 if it did not exit normally within LIMIT s
 * (then it is still running). */
static int wait_exit(pid_t pid, double limit)
{
    double end = now() + limit;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            for (size_t i = 0; i < T.nprocs; i++)
                if (T.pids[i] == pid)
                    T.pids[i] = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        if (r < 0 || now() > end)
            return -1;
        usleep(20000);
    }
}

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", T.dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *buf = gz_test_read_all(f);
    fclose(f);
    return buf;
}

/* Find the first line of file NAME matching RE (extended); copy capture
 * group k (1..ncap) into caps[k-1]. True if found. */
static bool find_line(const char *name, const char *re, char caps[][128], size_t ncap)
{
    regex_t r;
    regmatch_t m[8];
    if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE) != 0)
        return false;
    char *text = slurp(name);
    bool ok = text && regexec(&r, text, 8, m, 0) == 0;
    for (size_t k = 0; ok && k < ncap; k++) {
        int len = (int)(m[k + 1].rm_eo - m[k + 1].rm_so);
        snprintf(caps[k], 128, "%.*s", len, text + m[k + 1].rm_so);
    }
    regfree(&r);
    free(text);
    return ok;
}

/* Wait up to STEP_LIMIT for such a line; fails the test otherwise. */
static void await_line(const char *name, const char *re, char caps[][128], size_t ncap)
{
    double end = now() + STEP_LIMIT;
    while (!find_line(name, re, caps, ncap)) {
        if (now() > end) {
            char *text = slurp(name);
            fail_msg("no line /%s/ in %s:\n%s", re, name, text ? text : "");
        }
        usleep(20000);
    }
}

static void dump(const char *name)
{
    char *text = slurp(name);
    printf("--- %s\n%s", name, text ? text : "");
    free(text);
}

static int setup(void **state)
{
    (void)state;
    memset(&T, 0, sizeof T);
    snprintf(T.dir, sizeof T.dir, "/tmp/gzmq-reliable-XXXXXX");
    return mkdtemp(T.dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < T.nprocs; i++)
        if (T.pids[i] > 0) {
            kill(T.pids[i], SIGKILL);
            waitpid(T.pids[i], NULL, 0);
        }
    for (size_t i = 0; i < T.nns; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", T.ns[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove network namespace %s\n", T.ns[i]);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", T.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* What the ventilator said about the worker whose session is SESSION: it
 * was declared lost after at least PIRATE_SILENCE (3 s) of silence, some of
 * its tasks were requeued. Returns the detection time (monotonic). */
static double check_lost(const char *session)
{
    char re[256], caps[3][128];
    snprintf(re, sizeof re,
             "^gzmq-ventilator: worker %s lost: silent for ([0-9.]+) s "
             "\\(detected at ([0-9.]+)\\); ([0-9]+) tasks requeued$", session);
    await_line("ventilator", re, caps, 3);
    assert_true(strtod(caps[0], NULL) >= 3.0);
    long requeued = strtol(caps[2], NULL, 10);
    printf("the ventilator requeued %ld tasks of worker %s\n", requeued, session);
    assert_true(requeued > 0);
    return strtod(caps[1], NULL);
}

/* The sink's and the ventilator's verdicts on a run of TASKS tasks, and
 * the workers (the ones still running) stopped with SIGTERM, exit 0. */
static void check_run(long tasks, pid_t sink, pid_t vent, const pid_t *workers, size_t n)
{
    int rc = wait_exit(sink, STEP_LIMIT);
    if (rc != 0)
        dump("sink"), dump("ventilator");
    assert_int_equal(rc, 0);
    char re[256], caps[1][128];
    snprintf(re, sizeof re, "^gzmq-sink: %ld tasks, each exactly once, [0-9.]+ s from first to last$",
             tasks);
    assert_true(find_line("sink", re, NULL, 0));
    assert_true(find_line("sink", "^gzmq-sink: ([0-9]+) repeated results dropped", caps, 1));
    printf("the sink dropped %s repeated results\n", caps[0]);
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    snprintf(re, sizeof re,
             "^gzmq-ventilator: %ld tasks done, confirmed by the sink, in [0-9.]+ s; "
             "[0-9]+ dispatches, 1 workers lost, [1-9][0-9]* tasks requeued", tasks);
    assert_true(find_line("ventilator", re, NULL, 0));
    for (size_t i = 0; i < n; i++)
        kill(workers[i], SIGTERM);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wait_exit(workers[i], STEP_LIMIT), 0);
}

/* Start a reliable ventilator of TASKS tasks for N workers, a sink named
 * SINK_NAME, and N workers named worker1...: their endpoints in VEP, SEP. */
static void start_pipeline(const char *tasks, int n, const char *sink_name,
                           char vep[1][128], char sep[1][128], pid_t *vent,
                           pid_t *sink, pid_t *w)
{
    char workers[16];
    snprintf(workers, sizeof workers, "%d", n);
    *vent = start(NULL, "ventilator", "ventilator", "--reliable", "--bind",
                  "tcp://127.0.0.1:*", "--tasks", tasks, "--ms", "10", "--workers",
                  workers, NULL);
    await_line("ventilator", "^gzmq-ventilator: bound to (.+)$", vep, 1);
    *sink = start(NULL, sink_name, "sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                  "--tasks", tasks, "--ventilator", vep[0], NULL);
    await_line(sink_name, "^gzmq-sink: bound to (.+)$", sep, 1);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker%d", i + 1);
        w[i] = start(NULL, name, "worker", "--reliable", "--pull", vep[0], "--push", sep[0],
                     "--concurrency", "5", NULL);
    }
}

static void kill_one_of_three_workers_nothing_lost(void **state)
{
    (void)state;
    char vep[1][128], sep[1][128], sess[1][128];
    pid_t vent, sink, w[3];
    start_pipeline("5000", 3, "sink", vep, sep, &vent, &sink, w);
    await_line("worker2", "^gzmq-worker: session ([^:]+): ready", sess, 1);
    await_line("sink", "^gzmq-sink: 1000 of 5000 tasks$", NULL, 0); /* mid-run */
    double killed = now();
    assert_int_equal(kill(w[1], SIGKILL), 0);
    assert_int_equal(wait_exit(w[1], STEP_LIMIT), -1); /* killed, not exited */
    double detected = check_lost(sess[0]);
    printf("worker %s killed with SIGKILL; the ventilator noticed %.2f s later\n", sess[0],
           detected - killed);
    assert_true(detected >= killed); /* not declared dead before it died */
    pid_t live[2] = {w[0], w[2]};
    check_run(5000, sink, vent, live, 0); /* the workers stay for round two */
    dump("ventilator");
    dump("sink");

    /* Round two: the ventilator is gone; the surviving workers notice (its
     * heartbeats stop, or the new one tells them to RESET) and come back
     * in a new session to a new ventilator and sink on the same endpoints. */
    vent = start(NULL, "ventilator", "ventilator", "--reliable", "--bind", vep[0],
                 "--tasks", "1000", "--ms", "10", "--workers", "2", NULL);
    await_line("ventilator", "^gzmq-ventilator: bound to ", NULL, 0);
    sink = start(NULL, "sink", "sink", "--reliable", "--bind", sep[0], "--tasks", "1000",
                 "--ventilator", vep[0], NULL);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), 0);
    assert_true(find_line("sink", "^gzmq-sink: 1000 tasks, each exactly once", NULL, 0));
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    assert_true(find_line("ventilator", "^gzmq-ventilator: 1000 tasks done, confirmed by the "
                                        "sink, in [0-9.]+ s; [0-9]+ dispatches, 0 workers lost",
                          NULL, 0));
    for (int i = 0; i < 3; i += 2) {
        char name[32];
        snprintf(name, sizeof name, "worker%d", i + 1);
        assert_true(find_line(name, "^gzmq-worker: session [^:]+-2: ready", NULL, 0));
        kill(w[i], SIGTERM);
        assert_int_equal(wait_exit(w[i], STEP_LIMIT), 0);
        dump(name);
    }
}

/* The sink's half of the protocol, spoken to by this test: every result is
 * acknowledged (repeats too), repeats are dropped and counted, and after the
 * last new id the sink waits for FINISHED. */
static void sink_acknowledges_each_result_and_drops_repeats(void **state)
{
    (void)state;
    void *ctx = gz_zmq_context();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char vep[128], sep[1][128];
    size_t len = sizeof vep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, vep, &len), 0);
    pid_t sink = start(NULL, "sink", "sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                       "--tasks", "10", "--ventilator", vep, NULL);
    await_line("sink", "^gzmq-sink: bound to (.+)$", sep, 1);
    assert_int_equal(zmq_connect(push, sep[0]), 0);
    static const char *const ids[] = {"0", "1", "2", "3", "2", "4", "5", "0", "6", "7",
                                      "8", "9", "9"};
    size_t n = sizeof ids / sizeof *ids;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gz_zmq_send(push, ids[i], strlen(ids[i]), 0), (int)strlen(ids[i]));
    unsigned char peer[256];
    int plen = 0;
    long acked[10] = {0};
    for (size_t i = 0; i < n; i++) {
        char text[32];
        plen = gz_zmq_recv(router, peer, sizeof peer, 0);
        assert_true(plen > 0);
        int k = gz_zmq_recv(router, text, sizeof text - 1, 0);
        assert_true(k > 0);
        text[k] = 0;
        long id;
        assert_int_equal(sscanf(text, "ACK %ld", &id), 1);
        assert_true(id >= 0 && id < 10);
        acked[id]++;
    }
    for (int id = 0; id < 10; id++)
        assert_int_equal(acked[id], id == 0 || id == 2 || id == 9 ? 2 : 1);
    assert_int_equal(wait_exit(sink, 0.2), -1); /* still waiting for FINISHED */
    assert_int_equal(gz_zmq_send(router, peer, (size_t)plen, ZMQ_SNDMORE), plen);
    assert_int_equal(gz_zmq_send(router, "FINISHED", 8, 0), 8);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), 0);
    assert_true(find_line("sink", "^gzmq-sink: 3 repeated results dropped", NULL, 0));
    assert_true(find_line("sink", "^gzmq-sink: 10 tasks, each exactly once", NULL, 0));
    assert_false(find_line("sink", "did not say FINISHED", NULL, 0));
    gz_zmq_close(router);
    gz_zmq_close(push);
}

/* The sink killed with SIGKILL mid-run, restarted on the same endpoint: the
 * ventilator finishes once the new sink has acknowledged what the first did
 * not, and the new sink says that it heard FINISHED with only part of the
 * results (the first one's are gone with it) and exits 3. */
static void sink_killed_and_restarted_says_what_it_lacks(void **state)
{
    (void)state;
    char vep[1][128], sep[1][128], caps[2][128];
    pid_t vent, sink, w[2];
    start_pipeline("3000", 2, "sink1", vep, sep, &vent, &sink, w);
    await_line("sink1", "^gzmq-sink: 900 of 3000 tasks$", NULL, 0); /* mid-run */
    assert_int_equal(kill(sink, SIGKILL), 0);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), -1); /* killed, not exited */
    sink = start(NULL, "sink2", "sink", "--reliable", "--bind", sep[0], "--tasks", "3000",
                 "--ventilator", vep[0], NULL);
    int rc = wait_exit(sink, STEP_LIMIT);
    dump("sink2");
    assert_int_equal(rc, 3);
    assert_true(find_line("sink2",
                          "^gzmq-sink: the ventilator reports FINISHED \\(every task "
                          "acknowledged\\); this sink received ([0-9]+) of ([0-9]+) results: "
                          "the results acknowledged to an earlier sink process are not kept",
                          caps, 2));
    long got = strtol(caps[0], NULL, 10);
    assert_int_equal(strtol(caps[1], NULL, 10), 3000);
    assert_true(got > 0 && got <= 3000 - 900);
    assert_false(find_line("sink2", "Resource temporarily unavailable", NULL, 0));
    assert_false(find_line("sink2", "interrupted", NULL, 0));
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    assert_true(find_line("ventilator", "^gzmq-ventilator: 3000 tasks done, confirmed by the "
                                        "sink", NULL, 0));
    for (int i = 0; i < 2; i++)
        kill(w[i], SIGTERM);
    for (int i = 0; i < 2; i++)
        assert_int_equal(wait_exit(w[i], STEP_LIMIT), 0);
}

/* Run "ip ARGS": true on success. */
static bool ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool ip(const char *fmt, ...)
{
    char cmd[256] = "ip ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + 3, sizeof cmd - 3, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "failed: %s\n", cmd);
    return rc == 0;
}

static void workers_on_other_hosts_one_link_cut_nothing_lost(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        printf("skipped: the namespace test needs root (ip netns)\n");
        skip();
    }
    if (system("ip netns list >/dev/null 2>&1") != 0) {
        printf("skipped: no working `ip netns` here\n");
        skip();
    }
    const char *role[3] = {"hub", "w1", "w2"};
    for (int i = 0; i < 3; i++) {
        snprintf(T.ns[i], sizeof T.ns[i], "gzr%d%s", (int)getpid(), role[i]);
        if (!ip("netns add %s", T.ns[i])) {
            if (i == 0) {
                printf("skipped: cannot create network namespaces here\n");
                skip();
            }
            fail_msg("cannot create namespace %s", T.ns[i]);
        }
        T.nns++;
        assert_true(ip("-n %s link set lo up", T.ns[i]));
    }
    /* hub: va1 10.77.1.1 <-> w1: vw 10.77.1.2, hub: va2 10.77.2.1 <-> w2: vw 10.77.2.2 */
    for (int k = 1; k <= 2; k++) {
        assert_true(ip("-n %s link add va%d type veth peer name vw netns %s", T.ns[0], k,
                       T.ns[k]));
        assert_true(ip("-n %s addr add 10.77.%d.1/24 dev va%d", T.ns[0], k, k));
        assert_true(ip("-n %s addr add 10.77.%d.2/24 dev vw", T.ns[k], k));
        assert_true(ip("-n %s link set va%d up", T.ns[0], k));
        assert_true(ip("-n %s link set vw up", T.ns[k]));
    }
    /* fresh namespaces: the ports are free */
    pid_t vent = start(T.ns[0], "ventilator", "ventilator", "--reliable", "--bind",
                       "tcp://*:5557", "--tasks", "3000", "--ms", "10", "--workers", "2",
                       NULL);
    await_line("ventilator", "^gzmq-ventilator: bound to ", NULL, 0);
    pid_t sink = start(T.ns[0], "sink", "sink", "--reliable", "--bind", "tcp://*:5558",
                       "--tasks", "3000", "--ventilator", "tcp://127.0.0.1:5557", NULL);
    await_line("sink", "^gzmq-sink: bound to ", NULL, 0);
    pid_t w[2];
    for (int k = 1; k <= 2; k++) {
        char name[32], pull[64], push[64];
        snprintf(name, sizeof name, "worker%d", k);
        snprintf(pull, sizeof pull, "tcp://10.77.%d.1:5557", k);
        snprintf(push, sizeof push, "tcp://10.77.%d.1:5558", k);
        w[k - 1] = start(T.ns[k], name, "worker", "--reliable", "--pull", pull, "--push", push,
                         "--concurrency", "5", NULL);
    }
    char sess[1][128];
    await_line("worker1", "^gzmq-worker: session ([^:]+): ready", sess, 1);
    await_line("sink", "^gzmq-sink: 600 of 3000 tasks$", NULL, 0); /* mid-run */
    double cut = now();
    assert_true(ip("-n %s link set vw down", T.ns[1]));
    double detected = check_lost(sess[0]);
    printf("worker %s cut off; the ventilator noticed %.2f s later\n", sess[0], detected - cut);
    /* and the worker noticed the ventilator's silence and tries again */
    await_line("worker1", "^gzmq-worker: session [^:]+: the ventilator is silent", NULL, 0);
    await_line("worker1", "^gzmq-worker: reconnecting in [0-9]+ s$", NULL, 0);
    check_run(3000, sink, vent, w, 2);
    dump("ventilator");
    dump("sink");
    dump("worker1");
}

/* SIGTERM to a worker in the middle of its tasks: shielded, it lets them
 * push their results before it leaves (and sends no DONE that would bring
 * more tasks), so the ventilator requeues nothing. */
static void stopped_worker_delivers_its_running_tasks(void **state)
{
    (void)state;
    char vep[1][128], sep[1][128];
    pid_t vent = start(NULL, "ventilator", "ventilator", "--reliable", "--bind",
                       "tcp://127.0.0.1:*", "--tasks", "10", "--ms", "1500", "--workers",
                       "2", NULL);
    await_line("ventilator", "^gzmq-ventilator: bound to (.+)$", vep, 1);
    pid_t sink = start(NULL, "sink", "sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                       "--tasks", "10", "--ventilator", vep[0], NULL);
    await_line("sink", "^gzmq-sink: bound to (.+)$", sep, 1);
    pid_t w1 = start(NULL, "worker1", "worker", "--reliable", "--pull", vep[0], "--push",
                     sep[0], "--concurrency", "5", NULL);
    await_line("worker1", "^gzmq-worker: session [^:]+: ready", NULL, 0);
    pid_t w2 = start(NULL, "worker2", "worker", "--reliable", "--pull", vep[0], "--push",
                     sep[0], "--concurrency", "5", NULL);
    await_line("ventilator", "\\(2 workers so far\\)$", NULL, 0);
    usleep(300000); /* the tasks (1.5 s) have started */
    assert_int_equal(kill(w1, SIGTERM), 0);
    assert_int_equal(wait_exit(w1, STEP_LIMIT), 0);
    if (!find_line("worker1", "^gzmq-worker: did 5 tasks$", NULL, 0))
        dump("worker1");
    assert_true(find_line("worker1", "^gzmq-worker: did 5 tasks$", NULL, 0));
    assert_int_equal(wait_exit(sink, STEP_LIMIT), 0);
    assert_true(find_line("sink", "^gzmq-sink: 10 tasks, each exactly once", NULL, 0));
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    if (!find_line("ventilator", ", 0 tasks requeued", NULL, 0))
        dump("ventilator");
    assert_true(find_line("ventilator",
                          "^gzmq-ventilator: 10 tasks done, confirmed by the sink, in "
                          "[0-9.]+ s; 10 dispatches, [0-9]+ workers lost, 0 tasks requeued",
                          NULL, 0));
    kill(w2, SIGTERM);
    assert_int_equal(wait_exit(w2, STEP_LIMIT), 0);
}

int main(void)
{
    gz_test_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sink_acknowledges_each_result_and_drops_repeats,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(kill_one_of_three_workers_nothing_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stopped_worker_delivers_its_running_tasks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sink_killed_and_restarted_says_what_it_lacks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(workers_on_other_hosts_one_link_cut_nothing_lost,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("reliable pipeline", tests, NULL, NULL);
}
