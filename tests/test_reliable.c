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

#include "common/journal.h"
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

#define MAX_PROCS 16
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
    size_t slot = 0; /* a slot freed by wait_exit, or a new one */
    while (slot < T.nprocs && T.pids[slot] != 0)
        slot++;
    assert_true(slot < MAX_PROCS);
    T.pids[slot] = pid;
    if (slot == T.nprocs)
        T.nprocs++;
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
    return gz_test_read_file(T.dir, name);
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
static double check_lost_in(const char *vent, const char *session)
{
    char re[256], caps[3][128];
    snprintf(re, sizeof re,
             "^gzmq-ventilator: worker %s lost: silent for ([0-9.]+) s "
             "\\(detected at ([0-9.]+)\\); ([0-9]+) tasks requeued$", session);
    await_line(vent, re, caps, 3);
    assert_true(strtod(caps[0], NULL) >= 3.0);
    long requeued = strtol(caps[2], NULL, 10);
    printf("the ventilator requeued %ld tasks of worker %s\n", requeued, session);
    assert_true(requeued > 0);
    return strtod(caps[1], NULL);
}

static double check_lost(const char *session)
{
    return check_lost_in("ventilator", session);
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

/* Receive one "WORD [id]" from the ROUTER R: the id (or -1), the word in W. */
static long recv_word(void *r, unsigned char *peer, int *plen, char *w, size_t wlen)
{
    char text[32];
    *plen = gz_zmq_recv(r, peer, 256, 0);
    assert_true(*plen > 0);
    int k = gz_zmq_recv(r, text, sizeof text - 1, 0);
    assert_true(k > 0);
    text[k] = 0;
    long id = -1;
    snprintf(w, wlen, "%s", text);
    char *sp = strchr(w, ' ');
    if (sp) {
        *sp = 0;
        id = strtol(sp + 1, NULL, 10);
    }
    return id;
}

/* With --journal the sink says SYNC when it starts, acknowledges a result
 * only once it is in the journal (checked by killing it with SIGKILL right
 * after the ACKs and reading the journal), and a restarted sink counts the
 * journal's ids as done: their repeats are acknowledged, not counted. */
static void journaled_sink_acknowledges_only_what_is_on_disk(void **state)
{
    (void)state;
    void *ctx = gz_zmq_context();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char vep[128], sep[1][128], path[160], word[32];
    size_t len = sizeof vep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, vep, &len), 0);
    snprintf(path, sizeof path, "%s/sink.journal", T.dir);
    int limit = (int)(STEP_LIMIT * 1000); /* a dead sink fails the test, not the watchdog */
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &limit, sizeof limit);
    pid_t sink = start(NULL, "sink1", "sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                       "--tasks", "10", "--ventilator", vep, "--journal", path, NULL);
    await_line("sink1", "^gzmq-sink: bound to (.+)$", sep, 1);
    unsigned char peer[256];
    int plen;
    assert_int_equal(recv_word(router, peer, &plen, word, sizeof word), -1);
    assert_string_equal(word, "SYNC");
    assert_int_equal(zmq_connect(push, sep[0]), 0);
    static const char *const first[] = {"0", "1", "2", "3", "2", "4"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(gz_zmq_send(push, first[i], 1, 0), 1);
    for (size_t i = 0; i < 6; i++) {
        long id = recv_word(router, peer, &plen, word, sizeof word);
        assert_string_equal(word, "ACK");
        assert_true(id >= 0 && id <= 4);
    }
    assert_int_equal(kill(sink, SIGKILL), 0);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), -1);
    char why[128];
    taskset *t = taskset_open(path, 10, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), 5); /* every acknowledged id */
    assert_int_equal(taskset_repeats(t), 0);
    taskset_close(t);

    /* the new sink: SYNC, then 0..4 are repeats, 5..9 new */
    sink = start(NULL, "sink2", "sink", "--reliable", "--bind", sep[0], "--tasks", "10",
                 "--ventilator", vep, "--journal", path, NULL);
    assert_int_equal(recv_word(router, peer, &plen, word, sizeof word), -1);
    assert_string_equal(word, "SYNC");
    assert_true(find_line("sink2", "^gzmq-sink: journal [^ ]+ resumed with 5 of 10 tasks",
                          NULL, 0));
    for (int id = 0; id < 10; id++) {
        char text[8];
        int n = snprintf(text, sizeof text, "%d", id);
        assert_int_equal(gz_zmq_send(push, text, (size_t)n, 0), n);
    }
    long acked[10] = {0};
    for (int i = 0; i < 10; i++) {
        long id = recv_word(router, peer, &plen, word, sizeof word);
        assert_string_equal(word, "ACK");
        assert_true(id >= 0 && id < 10);
        acked[id]++;
    }
    for (int id = 0; id < 10; id++)
        assert_int_equal(acked[id], 1);
    /* a result repeated 256 times more is still a repeat */
    for (int i = 0; i < 256; i++)
        assert_int_equal(gz_zmq_send(push, "7", 1, 0), 1);
    for (int i = 0; i < 256; i++) {
        assert_int_equal(recv_word(router, peer, &plen, word, sizeof word), 7);
        assert_string_equal(word, "ACK");
    }
    assert_int_equal(gz_zmq_send(router, peer, (size_t)plen, ZMQ_SNDMORE), plen);
    assert_int_equal(gz_zmq_send(router, "FINISHED", 8, 0), 8);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), 0);
    assert_true(find_line("sink2", "^gzmq-sink: 261 repeated results dropped", NULL, 0));
    assert_true(find_line("sink2", "^gzmq-sink: 10 tasks, each exactly once", NULL, 0));
    t = taskset_open(path, 10, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), 10);
    taskset_close(t);

    /* a journal of another run is refused, naming the problem */
    sink = start(NULL, "sink3", "sink", "--reliable", "--bind", "tcp://127.0.0.1:*",
                 "--tasks", "7", "--ventilator", vep, "--journal", path, NULL);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), 1);
    assert_true(find_line("sink3", "^gzmq-sink: journal [^ ]+: it holds a run of 10 tasks, "
                                   "not 7$", NULL, 0));
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

/* ---- every process killed: the journals (--journal) ---- */

#define KILL_TASKS 5000
#define KILL_TASKS_S "5000"
/* 25 ms tasks, 3 workers of 5: ~600 tasks/s, so that after the worker is
 * killed (at 1800..2400 results) the run lasts longer than the 3 s the
 * ventilator takes to notice. */
#define KILL_MS "25"
/* A journal holds a snapshot (4 + N/8 bytes) and fewer than 1024 + one
 * batch of 13-byte id records; twice that is a generous bound. */
#define JOURNAL_BOUND (2 * (8 + 9 + 4 + KILL_TASKS / 8 + (1024 + 256) * 13))

/* The outputs of a run, removed before the next (else a line of the last
 * run could be read before a new process truncates its file). */
static const char *const kill_outputs[] = {"vent1", "vent2", "vent3", "sink1", "sink2",
                                           "worker1", "worker2", "worker3", "worker4"};

static struct {
    char vj[160], sj[160];  /* the two journals */
    uint64_t most[2];       /* the largest size each was seen at */
} J;

static void sample_journals(void)
{
    const char *paths[2] = {J.vj, J.sj};
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && (uint64_t)st.st_size > J.most[i])
            J.most[i] = (uint64_t)st.st_size;
    }
}

/* The highest count the sink whose output is NAME printed ("N of M tasks",
 * its resumed count included), or -1. */
static long sink_count(const char *name)
{
    char *text = slurp(name), *save = NULL;
    long best = -1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long n, m;
        if (sscanf(line, "gzmq-sink: %ld of %ld tasks", &n, &m) == 2 ||
            sscanf(line, "gzmq-sink: journal %*s resumed with %ld of %ld", &n, &m) == 2)
            best = n > best ? n : best;
    }
    free(text);
    return best;
}

/* Wait until the sink NAME has counted AT LEAST results; when it did. */
static double await_count(const char *name, long least)
{
    double end = now() + STEP_LIMIT;
    while (sink_count(name) < least) {
        sample_journals();
        if (now() > end) {
            for (size_t i = 0; i < sizeof kill_outputs / sizeof *kill_outputs; i++)
                dump(kill_outputs[i]);
            fail_msg("the sink %s never reached %ld results", name, least);
        }
        usleep(10000);
    }
    return now();
}

static long pick(unsigned *seed, long lo, long hi)
{
    return lo + (long)(rand_r(seed) % (unsigned)(hi - lo + 1));
}

static pid_t start_vent(const char *name, const char *bind)
{
    return start(NULL, name, "ventilator", "--reliable", "--bind", bind, "--tasks",
                 KILL_TASKS_S, "--ms", KILL_MS, "--workers", "3", "--journal", J.vj, NULL);
}

static pid_t start_sink(const char *name, const char *bind, const char *vep)
{
    return start(NULL, name, "sink", "--reliable", "--bind", bind, "--tasks", KILL_TASKS_S,
                 "--ventilator", vep, "--journal", J.sj, NULL);
}

static pid_t start_worker(const char *name, const char *vep, const char *sep)
{
    return start(NULL, name, "worker", "--reliable", "--pull", vep, "--push", sep,
                 "--concurrency", "5", NULL);
}

/* Seconds from each restart until the pipeline moved again. */
typedef struct recovery { double vent, sink, worker; } recovery;

/* One seeded run: KILL_TASKS tasks, three workers; the ventilator, then the
 * sink, then a worker killed with SIGKILL at seeded moments and restarted
 * within a second. */
static void run_with_kills(unsigned seed, recovery *r)
{
    unsigned rs = seed;
    snprintf(J.vj, sizeof J.vj, "%s/ventilator.journal", T.dir);
    snprintf(J.sj, sizeof J.sj, "%s/sink.journal", T.dir);
    unlink(J.vj);
    unlink(J.sj);
    for (size_t i = 0; i < sizeof kill_outputs / sizeof *kill_outputs; i++) {
        char out[128];
        snprintf(out, sizeof out, "%s/%s", T.dir, kill_outputs[i]);
        unlink(out);
    }
    J.most[0] = J.most[1] = 0;
    char vep[1][128], sep[1][128], caps[1][128];
    pid_t vent = start_vent("vent1", "tcp://127.0.0.1:*");
    await_line("vent1", "^gzmq-ventilator: bound to (.+)$", vep, 1);
    pid_t sink = start_sink("sink1", "tcp://127.0.0.1:*", vep[0]);
    await_line("sink1", "^gzmq-sink: bound to (.+)$", sep, 1);
    pid_t w[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker%d", i + 1);
        w[i] = start_worker(name, vep[0], sep[0]);
    }

    /* the ventilator: whatever the workers hold when it dies (at most 15)
     * still reaches the sink; more than that means it hands out tasks again */
    await_count("sink1", pick(&rs, 200, 700));
    usleep((useconds_t)pick(&rs, 0, 300) * 1000);
    long base = sink_count("sink1");
    assert_int_equal(kill(vent, SIGKILL), 0);
    assert_int_equal(wait_exit(vent, STEP_LIMIT), -1);
    double pause = (double)pick(&rs, 100, 900) / 1000;
    usleep((useconds_t)(pause * 1e6));
    vent = start_vent("vent2", vep[0]);
    double restarted = now();
    await_line("vent2", "^gzmq-ventilator: journal [^ ]+ resumed with ([0-9]+) of", caps, 1);
    r->vent = await_count("sink1", base + 100) - restarted;
    printf("seed %u: ventilator killed at %ld results, restarted after %.2f s with %s "
           "confirmed; moving again %.2f s after the restart\n",
           seed, base, pause, caps[0], r->vent);

    /* the sink */
    long at = pick(&rs, 900, 1500), least = sink_count("sink1") + 100;
    await_count("sink1", at > least ? at : least);
    usleep((useconds_t)pick(&rs, 0, 300) * 1000);
    base = sink_count("sink1");
    assert_int_equal(kill(sink, SIGKILL), 0);
    assert_int_equal(wait_exit(sink, STEP_LIMIT), -1);
    pause = (double)pick(&rs, 100, 900) / 1000;
    usleep((useconds_t)(pause * 1e6));
    sink = start_sink("sink2", sep[0], vep[0]);
    restarted = now();
    await_line("sink2", "^gzmq-sink: journal [^ ]+ resumed with ([0-9]+) of", caps, 1);
    long resumed = strtol(caps[0], NULL, 10);
    r->sink = await_count("sink2", resumed + 1) - restarted;
    printf("seed %u: sink killed at %ld results, restarted after %.2f s with %ld from its "
           "journal; moving again %.2f s after the restart\n",
           seed, base, pause, resumed, r->sink);

    /* a worker: the others go on; the ventilator requeues its tasks */
    int k = (int)pick(&rs, 0, 2);
    at = pick(&rs, 1800, 2400);
    least = sink_count("sink2") + 100;
    await_count("sink2", at > least ? at : least);
    usleep((useconds_t)pick(&rs, 0, 300) * 1000);
    base = sink_count("sink2");
    char session[64]; /* its sessions are HOST-PID-N */
    snprintf(session, sizeof session, "[^ ]+-%d-[0-9]+", (int)w[k]);
    assert_int_equal(kill(w[k], SIGKILL), 0);
    double killed = now();
    assert_int_equal(wait_exit(w[k], STEP_LIMIT), -1);
    pause = (double)pick(&rs, 100, 900) / 1000;
    usleep((useconds_t)(pause * 1e6));
    w[k] = start_worker("worker4", vep[0], sep[0]);
    r->worker = check_lost_in("vent2", session) - killed;
    printf("seed %u: worker%d killed at %ld results, restarted after %.2f s; its tasks "
           "requeued %.2f s after the kill\n", seed, k + 1, base, pause, r->worker);

    /* the end: every id once, in the sink's output and in its journal */
    int rc;
    double end = now() + STEP_LIMIT;
    while ((rc = wait_exit(sink, 0.05)) == -1 && now() < end)
        sample_journals();
    if (rc != 0)
        dump("sink2"), dump("vent2");
    assert_int_equal(rc, 0);
    assert_true(find_line("sink2", "^gzmq-sink: " KILL_TASKS_S " tasks, each exactly once",
                          NULL, 0));
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    assert_true(find_line("vent2", "^gzmq-ventilator: " KILL_TASKS_S " tasks done, confirmed "
                                   "by the sink", NULL, 0));
    char why[128];
    taskset *t = taskset_open(J.sj, KILL_TASKS, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), KILL_TASKS);
    assert_int_equal(taskset_repeats(t), 0);
    taskset_close(t);
    /* the ventilator's journal holds every confirmation, the last batch too:
     * started again, it has nothing left to do */
    t = taskset_open(J.vj, KILL_TASKS, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), KILL_TASKS);
    taskset_close(t);
    vent = start_vent("vent3", vep[0]);
    assert_int_equal(wait_exit(vent, STEP_LIMIT), 0);
    assert_true(find_line("vent3", "^gzmq-ventilator: journal [^ ]+ resumed with " KILL_TASKS_S
                                   " of " KILL_TASKS_S " tasks confirmed$", NULL, 0));
    sample_journals();
    printf("seed %u: journals at most %llu (ventilator) and %llu (sink) bytes, bound %d\n",
           seed, (unsigned long long)J.most[0], (unsigned long long)J.most[1], JOURNAL_BOUND);
    assert_true(J.most[0] > 0 && J.most[0] <= JOURNAL_BOUND);
    assert_true(J.most[1] > 0 && J.most[1] <= JOURNAL_BOUND);
    for (int i = 0; i < 3; i++)
        kill(w[i], SIGTERM);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wait_exit(w[i], STEP_LIMIT), 0);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* GZ_PIPELINE_RUNS seeded runs (1; make soak-pipeline: 10) from seed
 * GZ_PIPELINE_SEED (16). */
static void ventilator_sink_and_worker_killed_every_task_once(void **state)
{
    (void)state;
    long runs = env_long("GZ_PIPELINE_RUNS", 1), seed = env_long("GZ_PIPELINE_SEED", 16);
    recovery most = {0, 0, 0}, sum = {0, 0, 0};
    for (long i = 0; i < runs; i++) {
        recovery r;
        run_with_kills((unsigned)(seed + i), &r);
        sum.vent += r.vent, sum.sink += r.sink, sum.worker += r.worker;
        most.vent = r.vent > most.vent ? r.vent : most.vent;
        most.sink = r.sink > most.sink ? r.sink : most.sink;
        most.worker = r.worker > most.worker ? r.worker : most.worker;
    }
    printf("%ld runs: moving again after a restart: ventilator %.2f s mean, %.2f s most; "
           "sink %.2f s mean, %.2f s most; a killed worker's tasks requeued %.2f s mean, "
           "%.2f s most after the kill\n",
           runs, sum.vent / (double)runs, most.vent, sum.sink / (double)runs, most.sink,
           sum.worker / (double)runs, most.worker);
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
    if (getenv("GZ_TEST_FILTER")) /* make soak-pipeline runs one test */
        cmocka_set_test_filter(getenv("GZ_TEST_FILTER"));
    gz_test_watchdog(240 + 60 * (unsigned)env_long("GZ_PIPELINE_RUNS", 1));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sink_acknowledges_each_result_and_drops_repeats,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(kill_one_of_three_workers_nothing_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stopped_worker_delivers_its_running_tasks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sink_killed_and_restarted_says_what_it_lacks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(journaled_sink_acknowledges_only_what_is_on_disk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(ventilator_sink_and_worker_killed_every_task_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(workers_on_other_hosts_one_link_cut_nothing_lost,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("reliable pipeline", tests, NULL, NULL);
}
