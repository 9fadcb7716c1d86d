/* monitor.c: the blocking watchdog reports a hub that stops polling its
 * loop, once per episode, with the greenlet and a backtrace; a program that
 * never blocks gets no report; GZ_MAX_BLOCKING_TIME turns it on. */
#include <pthread.h>
#include <time.h>

#include "gz_test.h"

static pthread_mutex_t reports_lock = PTHREAD_MUTEX_INITIALIZER;
static char reports[16][8192];
static int nreports;
static int stop_rc, stop_errno;

static void collect(const char *text, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reports_lock);
    if (nreports < 16)
        snprintf(reports[nreports++], sizeof reports[0], "%s", text);
    pthread_mutex_unlock(&reports_lock);
    errno = 0;
    stop_rc = gz_monitor_stop(); /* from the report: refused */
    stop_errno = errno;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Not static: the backtrace names it through the dynamic symbol table. */
__attribute__((noinline)) void monitor_test_spin(double seconds)
{
    double end = mono() + seconds;
    while (mono() < end)
        __asm__ volatile("" ::: "memory");
}

static void *busy(void *arg)
{
    (void)arg;
    monitor_test_spin(0.3);
    return NULL;
}

static int count_matching(const char *re)
{
    int n = 0;
    pthread_mutex_lock(&reports_lock);
    for (int i = 0; i < nreports; i++)
        n += gz_test_has_line(reports[i], re);
    pthread_mutex_unlock(&reports_lock);
    return n;
}

static void busy_greenlet_is_reported_once_with_a_backtrace(void **state)
{
    (void)state;
    GZ_TEST_SKIP_UNDER_VALGRIND("the signal-driven backtrace arrives on the schedule of valgrind");
    nreports = 0;
    assert_int_equal(gz_monitor_start(0.05, collect, NULL), 0);
    gz_greenlet *g = gz_spawn(busy, NULL);
    assert_non_null(g);
    gz_set_name(g, "cruncher");
    assert_int_equal(gz_join(g, -1), 0);
    gz_release(g);
    /* Polling again ends the episode; the watchdog sees it within a tick. */
    for (int i = 0; i < 100 && count_matching("moved again") == 0; i++)
        gz_sleep(0.01);
    assert_int_equal(gz_monitor_stop(), 0);
    assert_int_equal(count_matching("blocked for"), 1);
    assert_int_equal(count_matching("in greenlet cruncher \\(id [0-9]+\\)"), 1);
    assert_int_equal(count_matching("#[0-9]+ .*monitor_test_spin"), 1);
    assert_int_equal(count_matching("moved again after [0-9]+\\.[0-9]+ s"), 1);
    pthread_mutex_lock(&reports_lock);
    for (int i = 0; i < nreports; i++) {
        const char *m = strstr(reports[i], "moved again after ");
        if (m) /* the episode lasted at least the busy loop */
            assert_true(strtod(m + strlen("moved again after "), NULL) >= 0.25);
    }
    pthread_mutex_unlock(&reports_lock);
    assert_int_equal(nreports, 2);
    assert_int_equal(stop_rc, -1);
    assert_int_equal(stop_errno, EDEADLK);
}

static void *napper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++)
        gz_sleep(0.005);
    return NULL;
}

static void *waits_for_event(void *arg)
{
    gz_event_wait(arg, -1);
    return NULL;
}

static void program_that_never_blocks_is_not_reported(void **state)
{
    (void)state;
    nreports = 0;
    /* A generous limit: a loaded machine may hold the thread off the CPU. */
    assert_int_equal(gz_monitor_start(1.0, collect, NULL), 0);
    gz_greenlet *g[4];
    for (int i = 0; i < 4; i++)
        assert_non_null(g[i] = gz_spawn(napper, NULL));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gz_join(g[i], -1), 0);
        gz_release(g[i]);
    }
    /* Idle in the loop longer than the limit, with a greenlet waiting: not
     * blocked. */
    gz_event *ev = gz_event_new();
    gz_greenlet *w = gz_spawn(waits_for_event, ev);
    gz_sleep(1.2);
    gz_event_set(ev);
    assert_int_equal(gz_join(w, -1), 0);
    gz_release(w);
    gz_event_free(ev);
    assert_int_equal(gz_monitor_stop(), 0);
    assert_int_equal(nreports, 0);
}

static void *sleeps_a_while(void *arg)
{
    (void)arg;
    gz_sleep(0.05);
    return NULL;
}

static void main_blocking_its_greenlets_is_reported_and_idle_main_is_not(void **state)
{
    (void)state;
    GZ_TEST_SKIP_UNDER_VALGRIND("the signal-driven backtrace arrives on the schedule of valgrind");
    nreports = 0;
    assert_int_equal(gz_monitor_start(0.05, collect, NULL), 0);
    /* Main outside any green call with nothing to run starves nobody. */
    monitor_test_spin(0.3);
    gz_sleep(0.05);
    assert_int_equal(nreports, 0);
    /* With a greenlet waiting for its timer, it does. */
    gz_greenlet *g = gz_spawn(sleeps_a_while, NULL);
    gz_yield();
    monitor_test_spin(0.3);
    assert_int_equal(gz_join(g, -1), 0);
    gz_release(g);
    for (int i = 0; i < 100 && count_matching("moved again") == 0; i++)
        gz_sleep(0.01);
    assert_int_equal(gz_monitor_stop(), 0);
    assert_int_equal(count_matching("blocked for [0-9.]+ s in main; where it is:"), 1);
    assert_int_equal(count_matching("#[0-9]+ .*monitor_test_spin"), 1);
    assert_int_equal(nreports, 2);
}

static void bad_arguments_and_a_second_start_fail(void **state)
{
    (void)state;
    assert_fails(gz_monitor_start(0, NULL, NULL), EINVAL);
    assert_fails(gz_monitor_start(-1, NULL, NULL), EINVAL);
    assert_fails(gz_monitor_start(NAN, NULL, NULL), EINVAL);
    assert_fails(gz_monitor_start(INFINITY, NULL, NULL), EINVAL);
    assert_int_equal(gz_monitor_stop(), 0); /* not running: nothing to do */
    assert_int_equal(gz_monitor_start(1, NULL, NULL), 0);
    assert_fails(gz_monitor_start(1, NULL, NULL), EBUSY);
    assert_int_equal(gz_monitor_stop(), 0);
    assert_int_equal(gz_monitor_stop(), 0);
}

/* ---- GZ_MAX_BLOCKING_TIME, in a fresh process ---- */

static char self[4096];

static void env_child(void *arg)
{
    (void)arg;
    setenv("GZ_MAX_BLOCKING_TIME", "0.05", 1);
    char *argv[] = {self, "--busy-child", NULL};
    execv(self, argv);
    _exit(127);
}

static int busy_child(void)
{
    gz_greenlet *g = gz_spawn(busy, NULL);
    gz_set_name(g, "env-cruncher");
    gz_join(g, -1);
    for (int i = 0; i < 50; i++)
        gz_sleep(0.01);
    return 0;
}

static void environment_turns_it_on_with_a_report_on_stderr(void **state)
{
    (void)state;
    static char out[65536];
    int st = gz_test_child(env_child, NULL, out, sizeof out);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(gz_test_has_line(out, "^libgzmq: hub of thread [0-9]+ .*blocked "
                                      "for .* in greenlet env-cruncher"));
    assert_true(gz_test_has_line(out, "monitor_test_spin"));
    assert_true(gz_test_has_line(out, "moved again after"));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--busy-child"))
        return busy_child();
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0)
        self[n] = 0;
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(busy_greenlet_is_reported_once_with_a_backtrace),
        cmocka_unit_test(program_that_never_blocks_is_not_reported),
        cmocka_unit_test(main_blocking_its_greenlets_is_reported_and_idle_main_is_not),
        cmocka_unit_test(bad_arguments_and_a_second_start_fail),
        cmocka_unit_test(environment_turns_it_on_with_a_report_on_stderr),
    };
    return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
