/* runinfo.c: run info names what each greenlet waits on and shows its
 * stack and backtrace; gz_foreach_greenlet; the dump on a signal; hub
 * statistics. */
#include <pthread.h>
#include <time.h>

#include "gz_test.h"

static gz_queue *q;
static gz_sem *sem;
static void *zctx, *rep;
static gz_greenlet *sleeper;

/* Not static: backtraces name them through the dynamic symbol table. */
__attribute__((noinline)) void *runinfo_queue_getter(void *arg)
{
    (void)arg;
    void *item;
    gz_queue_get(q, &item, -1);
    return NULL;
}

static void *zmq_reader(void *arg)
{
    (void)arg;
    char buf[16];
    gz_zmq_recv(rep, buf, sizeof buf, 0);
    return NULL;
}

static void *sleeps(void *arg)
{
    (void)arg;
    gz_sleep(5);
    return NULL;
}

static void *joins(void *arg)
{
    (void)arg;
    gz_join(sleeper, -1);
    return NULL;
}

static void *acquires(void *arg)
{
    (void)arg;
    gz_sem_acquire(sem, -1);
    return NULL;
}

static char *run_info_text(void)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(gz_print_run_info(f), 0);
    rewind(f);
    char *text = gz_test_read_all(f);
    fclose(f);
    assert_non_null(text);
    return text;
}

static void run_info_names_each_wait(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    sem = gz_sem_new(0);
    zctx = zmq_ctx_new();
    rep = zmq_socket(zctx, ZMQ_REP);
    assert_int_equal(zmq_bind(rep, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    gz_greenlet *g[5];
    g[0] = gz_spawn(runinfo_queue_getter, NULL);
    g[1] = gz_spawn(zmq_reader, NULL);
    g[2] = sleeper = gz_spawn(sleeps, NULL);
    g[3] = gz_spawn(joins, NULL);
    g[4] = gz_spawn(acquires, NULL);
    gz_set_name(g[0], "getter");
    assert_int_equal(gz_sleep(0.01), 0);
    char *text = run_info_text();
    char re[512];
    assert_true(gz_test_has_line(text, "^libgzmq run info: thread [0-9]+, 5 greenlets live$"));
    assert_true(gz_test_has_line(text, "^main \\[current\\]: running"));
    assert_true(gz_test_has_line(text, "^getter \\(id [0-9]+\\): parked for [0-9.]+ s, parent main$"));
    assert_true(gz_test_has_line(text, "^  waits: gz_queue_get on queue 0x[0-9a-f]+$"));
    snprintf(re, sizeof re, "^  waits: gz_zmq_recv on ZMQ_REP socket 0x[0-9a-f]+ \\(%s\\)$", ep);
    assert_true(gz_test_has_line(text, re));
    assert_true(gz_test_has_line(text, "^  waits: gz_sleep, 4\\.[0-9]+ s left$"));
    snprintf(re, sizeof re, "^  waits: gz_join on %s$", gz_name(sleeper));
    assert_true(gz_test_has_line(text, re));
    assert_true(gz_test_has_line(text, "^  waits: gz_sem_acquire on semaphore 0x[0-9a-f]+$"));
    assert_true(gz_test_has_line(text, "^  stack: [0-9]+ bytes, high-water [1-9][0-9]* bytes$"));
#ifndef GZ_CTX_UCONTEXT /* no frame walk over a ucontext */
    /* The parked getter's own frames, walked from its saved context. */
    assert_true(gz_test_has_line(text, "^  #[0-9]+ .*runinfo_queue_getter"));
#endif
    free(text);
    assert_int_equal(gz_killall(g, 5, 1), 0);
    for (int i = 0; i < 5; i++)
        gz_release(g[i]);
    assert_int_equal(zmq_close(rep), 0);
    assert_int_equal(zmq_ctx_term(zctx), 0);
    gz_queue_free(q);
    gz_sem_free(sem);
}

static int visits;

static int count_until_second(gz_greenlet *g, const char *info, void *arg)
{
    (void)arg;
    assert_non_null(g);
    assert_non_null(strstr(info, gz_name(g)));
    assert_fails(gz_sleep(0.001), EPERM); /* no blocking in the visitor */
    return ++visits == 2 ? 42 : 0;
}

static int count_all(gz_greenlet *g, const char *info, void *arg)
{
    (void)g;
    (void)info;
    (*(int *)arg)++;
    return 0;
}

static void foreach_visits_main_and_each_greenlet_and_can_stop(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++)
        g[i] = gz_spawn(runinfo_queue_getter, NULL);
    assert_int_equal(gz_sleep(0.001), 0);
    int n = 0;
    assert_int_equal(gz_foreach_greenlet(count_all, &n), 0);
    assert_int_equal(n, 4);
    visits = 0;
    assert_int_equal(gz_foreach_greenlet(count_until_second, NULL), 42);
    assert_int_equal(visits, 2);
    assert_fails(gz_foreach_greenlet(NULL, NULL), EINVAL);
    assert_fails(gz_print_run_info(NULL), EINVAL);
    assert_int_equal(gz_sleep(0), 0); /* blocking works again afterwards */
    assert_int_equal(gz_killall(g, 3, 1), 0);
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
    gz_queue_free(q);
}

/* ---- the dump on a signal, in a fresh process (cmocka owns signals) ---- */

static char self[4096];

static void *send_usr2_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR2);
    return NULL;
}

static int signal_child(void)
{
    q = gz_queue_new(0);
    gz_greenlet *g = gz_spawn(runinfo_queue_getter, NULL);
    gz_set_name(g, "sig-getter");
    if (gz_run_info_on_signal(SIGUSR2) != 0)
        return 1;
    pthread_t t;
    pthread_create(&t, NULL, send_usr2_later, NULL);
    gz_sleep(0.3); /* the hub waits in the loop when the signal comes */
    pthread_join(t, NULL);
    return 0;
}

static void exec_child(void *arg)
{
    char *argv[] = {self, arg, NULL};
    execv(self, argv);
    _exit(127);
}

static void signal_dumps_run_info_while_the_hub_waits(void **state)
{
    (void)state;
    static char out[65536];
    int st = gz_test_child(exec_child, "--signal-child", out, sizeof out);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(gz_test_has_line(out, "^libgzmq run info: thread [0-9]+"));
    assert_true(gz_test_has_line(out, "^main: parked for [0-9.]+ s, the thread.s own stack$"));
    assert_true(gz_test_has_line(out, "^  waits: gz_sleep, 0\\.[0-9]+ s left$"));
    assert_true(gz_test_has_line(out, "^sig-getter \\(id [0-9]+\\): parked"));
    assert_true(gz_test_has_line(out, "^  waits: gz_queue_get on queue 0x"));
    assert_true(gz_test_has_line(out, "^signal-handler \\(id [0-9]+\\) \\[current\\]: running"));
}

static int env_signal_child(void)
{
    q = gz_queue_new(0); /* GZ_RUN_INFO_SIGNAL=USR1 set by the parent */
    gz_greenlet *g = gz_spawn(runinfo_queue_getter, NULL);
    gz_set_name(g, "env-getter");
    gz_sleep(0.01);
    raise(SIGUSR1);
    gz_sleep(0.05);
    return 0;
}

static void env_child(void *arg)
{
    setenv("GZ_RUN_INFO_SIGNAL", "USR1", 1);
    exec_child(arg);
}

static void environment_sets_up_the_signal(void **state)
{
    (void)state;
    static char out[65536];
    int st = gz_test_child(env_child, "--env-signal-child", out, sizeof out);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(gz_test_has_line(out, "^env-getter \\(id [0-9]+\\): parked"));
    assert_fails(gz_run_info_on_signal(0), EINVAL);
    assert_fails(gz_run_info_on_signal(SIGKILL), EINVAL);
}

/* ---- statistics ---- */

static void *noop(void *arg) { return arg; }

static void *pair_reader(void *arg)
{
    char buf[8];
    gz_zmq_recv(arg, buf, sizeof buf, 0);
    return NULL;
}

static void stats_count_what_happened(void **state)
{
    (void)state;
    gz_stats a, b;
    assert_fails(gz_hub_stats(NULL), EINVAL);
    assert_int_equal(gz_hub_stats(&a), 0);
    for (int i = 0; i < 10; i++) {
        gz_greenlet *g = gz_spawn(noop, NULL);
        assert_int_equal(gz_join(g, -1), 0);
        gz_release(g);
    }
    q = gz_queue_new(0);
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++)
        g[i] = gz_spawn(runinfo_queue_getter, NULL);
    void *c = zmq_ctx_new();
    void *r = zmq_socket(c, ZMQ_PAIR), *w = zmq_socket(c, ZMQ_PAIR);
    assert_int_equal(zmq_bind(r, "inproc://stats"), 0);
    assert_int_equal(zmq_connect(w, "inproc://stats"), 0);
    gz_greenlet *rd = gz_spawn(pair_reader, r);
    assert_int_equal(gz_sleep(0.01), 0);
    assert_int_equal(gz_hub_stats(&b), 0);
    assert_int_equal(b.spawned - a.spawned, 14);
    assert_int_equal(b.ended - a.ended, 10);
    assert_int_equal(b.live, 4);
    assert_int_equal(b.parked, 4);
    assert_int_equal(b.parked_queue, 3);
    assert_int_equal(b.parked_zmq, 1);
    assert_int_equal(b.ready, 0);
    assert_true(b.switches - a.switches >= 24);
    assert_true(b.loop_polls > a.loop_polls);
    assert_true(b.stack_bytes_live >= 4 * 16384);
    assert_int_equal(gz_zmq_send(w, "hi", 2, 0), 2);
    assert_int_equal(gz_join(rd, -1), 0);
    gz_release(rd);
    /* A stretch without polling shows as the longest gap. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t1);
    while ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec) < 60e6);
    gz_stats s;
    assert_int_equal(gz_hub_stats(&s), 0);
    assert_true(s.max_poll_gap >= 0.06);
    assert_int_equal(s.zmq_sends - b.zmq_sends, 1);
    assert_int_equal(s.zmq_sends_waited - b.zmq_sends_waited, 0);
    assert_int_equal(s.zmq_recvs - b.zmq_recvs, 1);
    assert_int_equal(s.zmq_recvs_waited - b.zmq_recvs_waited, 1);
    assert_int_equal(s.parked_zmq, 0);
    assert_int_equal(gz_killall(g, 3, 1), 0);
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
    assert_int_equal(gz_hub_stats(&s), 0);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.parked, 0);
    assert_true(s.stack_bytes_cached > 0);
    /* Created is not started: counted once it starts. */
    gz_greenlet *idle = gz_greenlet_new(noop, NULL);
    assert_int_equal(gz_hub_stats(&b), 0);
    assert_int_equal(b.spawned, s.spawned);
    assert_int_equal(gz_start(idle), 0);
    assert_int_equal(gz_join(idle, -1), 0);
    gz_release(idle);
    assert_int_equal(gz_hub_stats(&b), 0);
    assert_int_equal(b.spawned - s.spawned, 1);
    assert_int_equal(b.ended - s.ended, 1);
    zmq_close(r);
    zmq_close(w);
    zmq_ctx_term(c);
    gz_queue_free(q);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--signal-child"))
        return signal_child();
    if (argc > 1 && !strcmp(argv[1], "--env-signal-child"))
        return env_signal_child();
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0)
        self[n] = 0;
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_info_names_each_wait),
        cmocka_unit_test(foreach_visits_main_and_each_greenlet_and_can_stop),
        cmocka_unit_test(signal_dumps_run_info_while_the_hub_waits),
        cmocka_unit_test(environment_sets_up_the_signal),
        cmocka_unit_test(stats_count_what_happened),
    };
    return cmocka_run_group_tests_name("runinfo", tests, NULL, NULL);
}
