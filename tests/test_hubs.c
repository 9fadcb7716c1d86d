/* hubs.c: gz_run_threads and gz_run_threads_stop. */
#include <pthread.h>
#include <stdatomic.h>

#include "gz_net_test.h"

#define N 4

static pthread_t threads[N];
static gz_greenlet *greenlets[N];
static atomic_int calls[N];
static atomic_int waiting, canceled;
static pthread_t caller;

static void reset(void)
{
    for (int i = 0; i < N; i++) {
        atomic_store(&calls[i], 0);
        greenlets[i] = NULL;
    }
    atomic_store(&waiting, 0);
    atomic_store(&canceled, 0);
    caller = pthread_self();
}

static void note(size_t index, void *arg)
{
    assert_ptr_equal(arg, &threads);
    threads[index] = pthread_self();
    greenlets[index] = gz_current();
    atomic_fetch_add(&calls[index], 1);
    assert_int_equal(gz_sleep(0.001), 0); /* a hub of its own to sleep on */
}

static void each_index_runs_once_on_a_thread_and_hub_of_its_own(void **state)
{
    (void)state;
    reset();
    assert_int_equal(gz_run_threads(N, note, &threads), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&calls[i]), 1);
        assert_false(pthread_equal(threads[i], caller));
        for (int j = 0; j < i; j++)
            assert_false(pthread_equal(threads[i], threads[j]));
        assert_non_null(greenlets[i]); /* a greenlet, not the thread's main */
    }
}

static void fail_index_two(size_t index, void *arg)
{
    (void)arg;
    if (index == 2)
        gz_fail(ENOENT, "index %zu could not find its file", index);
}

static void run_failing(void *arg)
{
    (void)arg;
    errno = 0;
    int rc = gz_run_threads(N, fail_index_two, NULL);
    fprintf(stderr, "rc=%d errno=%d\n", rc, errno);
}

static void failure_of_one_fn_is_reported_with_its_index(void **state)
{
    (void)state;
    char out[2048];
    assert_int_equal(gz_test_child(run_failing, NULL, out, sizeof out), 0);
    assert_true(gz_test_has_line(out, "gz_run_threads: thread 2 failed: index 2 could not find its file"));
    char want[64];
    snprintf(want, sizeof want, "^rc=-1 errno=%d$", ENOENT);
    assert_true(gz_test_has_line(out, want));
    assert_false(gz_test_has_line(out, "thread [013] "));
}

static void run_unstartable(void *arg)
{
    (void)arg;
    /* No thread can get a stack this size. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)1 << 46);
    pthread_setattr_default_np(&attr);
    errno = 0;
    int rc = gz_run_threads(N, note, &threads);
    fprintf(stderr, "rc=%d errno=%d calls=%d\n", rc, errno, atomic_load(&calls[0]));
}

static void a_thread_that_cannot_start_is_reported(void **state)
{
    (void)state;
    GZ_TEST_SKIP_UNDER_VALGRIND("valgrind gives threads stacks of its own, so the oversized one starts");
    reset();
    char out[2048];
    assert_int_equal(gz_test_child(run_unstartable, NULL, out, sizeof out), 0);
    assert_true(gz_test_has_line(out, "gz_run_threads: thread 0 could not start: pthread_create"));
    char want[64];
    snprintf(want, sizeof want, "^rc=-1 errno=%d calls=0$", EAGAIN);
    assert_true(gz_test_has_line(out, want));
}

/* Waits for a stop that only another thread can bring. */
static void wait_to_be_stopped(size_t index, void *arg)
{
    (void)index;
    (void)arg;
    gz_event *e = gz_event_new();
    atomic_fetch_add(&waiting, 1);
    if (gz_event_wait(e, GZ_FOREVER) != 0 && errno == ECANCELED)
        atomic_fetch_add(&canceled, 1);
    gz_event_free(e);
}

static void *stop_when_all_wait(void *arg)
{
    (void)arg;
    while (atomic_load(&waiting) < N)
        gz_sleep(0.001);
    assert_int_equal(gz_run_threads_stop(), 0);
    return NULL;
}

static void stop_ends_every_hub_and_counts_as_success(void **state)
{
    (void)state;
    reset();
    gz_greenlet *g = gz_spawn(stop_when_all_wait, NULL);
    assert_int_equal(gz_run_threads(N, wait_to_be_stopped, NULL), 0);
    assert_int_equal(atomic_load(&canceled), N);
    assert_int_equal(gz_join(g, 1.0), 0);
    gz_release(g);
}

static void on_signal(int signum, void *arg)
{
    (void)arg;
    assert_int_equal(signum, SIGUSR1);
    gz_run_threads_stop();
}

/* Index 0 raises the signal once every fn waits; the threads block it, so
 * it reaches the caller's hub, which stops them all. */
static void wait_then_signal(size_t index, void *arg)
{
    if (index == 0) {
        while (atomic_load(&waiting) < N - 1)
            gz_sleep(0.001);
        kill(getpid(), SIGUSR1);
    }
    wait_to_be_stopped(index, arg);
}

static void signal_on_the_caller_hub_stops_every_hub(void **state)
{
    (void)state;
    reset();
    assert_int_equal(gz_signal(SIGUSR1, on_signal, NULL), 0);
    assert_int_equal(gz_run_threads(N, wait_then_signal, NULL), 0);
    assert_int_equal(atomic_load(&canceled), N);
    assert_int_equal(gz_signal_cancel(SIGUSR1), 0);
}

static atomic_int ticks;
static void *tick_until_done(void *arg)
{
    atomic_int *done = arg;
    while (!atomic_load(done)) {
        atomic_fetch_add(&ticks, 1);
        gz_sleep(0.001);
    }
    return NULL;
}

static atomic_int done;
static void wait_for_ticks(size_t index, void *arg)
{
    (void)index;
    (void)arg;
    while (atomic_load(&ticks) < 3)
        gz_sleep(0.001);
    atomic_store(&done, 1);
}

static void caller_hub_runs_its_greenlets_meanwhile(void **state)
{
    (void)state;
    atomic_store(&ticks, 0);
    atomic_store(&done, 0);
    gz_greenlet *t = gz_spawn(tick_until_done, &done);
    assert_int_equal(gz_run_threads(1, wait_for_ticks, NULL), 0);
    assert_true(atomic_load(&ticks) >= 3);
    assert_int_equal(gz_join(t, 1.0), 0);
    gz_release(t);
}

static void *block_forever(void *arg)
{
    gz_event_wait(arg, GZ_FOREVER);
    return NULL;
}

/* fn returns, leaving a greenlet that nothing can ever wake. */
static void leave_a_stuck_greenlet(size_t index, void *arg)
{
    (void)arg;
    if (index == 1)
        gz_release(gz_spawn(block_forever, gz_event_new()));
}

static void run_stuck(void *arg)
{
    (void)arg;
    errno = 0;
    int rc = gz_run_threads(2, leave_a_stuck_greenlet, NULL);
    fprintf(stderr, "rc=%d errno=%d\n", rc, errno);
}

static void greenlets_left_blocked_forever_are_edeadlk(void **state)
{
    (void)state;
    char out[2048];
    assert_int_equal(gz_test_child(run_stuck, NULL, out, sizeof out), 0);
    assert_true(gz_test_has_line(out, "gz_run_threads: thread 1 failed: left greenlets blocked forever"));
    char want[64];
    snprintf(want, sizeof want, "^rc=-1 errno=%d$", EDEADLK);
    assert_true(gz_test_has_line(out, want));
}

/* ---- a server on every hub, one port (GZ_TCP_REUSEPORT) ---- */

static int listeners[N];
static atomic_int served_by[N];

static void answer_with_index(int fd, void *arg)
{
    unsigned char index = (unsigned char)GZ_INT(arg);
    atomic_fetch_add(&served_by[index], 1);
    gz_write(fd, &index, 1, 5.0);
    gz_close(fd);
}

static void serve_on_this_hub(size_t index, void *arg)
{
    (void)arg;
    gz_server *srv = gz_server_new(listeners[index], answer_with_index, GZ_PTR(index), 0);
    assert_non_null(srv);
    assert_int_equal(gz_server_start(srv), 0);
    gz_event *never = gz_event_new();
    atomic_fetch_add(&waiting, 1);
    if (gz_event_wait(never, GZ_FOREVER) != 0 && errno == ECANCELED)
        atomic_fetch_add(&canceled, 1);
    gz_event_free(never);
    gz_server_free(srv);
}

static int hubs_used;

/* Connects until two hubs have answered (64 tries at most), then raises
 * the signal that stops them all. */
static void *client(void *arg)
{
    int port = GZ_INT(arg);
    bool seen[N] = {false};
    for (int i = 0; i < 64 && hubs_used < 2; i++) {
        int c = gz_tcp_connect("127.0.0.1", port, 5.0);
        assert_true(c >= 0);
        unsigned char index = 0xff;
        assert_int_equal(gz_read(c, &index, 1, 5.0), 1);
        assert_true(index < N);
        if (!seen[index]) {
            seen[index] = true;
            hubs_used++;
        }
        gz_close(c);
    }
    while (atomic_load(&waiting) < N)
        gz_sleep(0.001);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void reuseport_servers_on_every_hub_share_connections(void **state)
{
    (void)state;
    reset();
    hubs_used = 0;
    for (int i = 0; i < N; i++) {
        atomic_store(&served_by[i], 0);
        listeners[i] = gz_tcp_listen_opts("127.0.0.1", i ? port_of(listeners[0]) : 0, 64,
                                          GZ_TCP_REUSEPORT);
        assert_true(listeners[i] >= 0);
    }
    assert_int_equal(gz_signal(SIGUSR1, on_signal, NULL), 0);
    gz_greenlet *c = gz_spawn(client, GZ_PTR(port_of(listeners[0])));
    assert_int_equal(gz_run_threads(N, serve_on_this_hub, NULL), 0);
    assert_int_equal(gz_join(c, 5.0), 0);
    gz_release(c);
    assert_int_equal(gz_signal_cancel(SIGUSR1), 0);
    assert_int_equal(hubs_used, 2); /* connections landed on more than one thread */
    int total = 0, hubs = 0;
    for (int i = 0; i < N; i++) {
        total += atomic_load(&served_by[i]);
        hubs += atomic_load(&served_by[i]) > 0;
    }
    assert_true(hubs >= 2);
    assert_true(total >= 2);
    assert_int_equal(atomic_load(&canceled), N); /* the signal stopped every hub */
    for (int i = 0; i < N; i++)
        gz_close(listeners[i]);
}

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    assert_fails(gz_run_threads(0, note, NULL), EINVAL);
    assert_fails(gz_run_threads(N, NULL, NULL), EINVAL);
    assert_fails(gz_run_threads(100000, note, NULL), EINVAL);
    assert_int_equal(gz_run_threads_stop(), 0); /* nothing running: nothing to do */
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_index_runs_once_on_a_thread_and_hub_of_its_own),
        cmocka_unit_test(failure_of_one_fn_is_reported_with_its_index),
        cmocka_unit_test(a_thread_that_cannot_start_is_reported),
        cmocka_unit_test(stop_ends_every_hub_and_counts_as_success),
        cmocka_unit_test(signal_on_the_caller_hub_stops_every_hub),
        cmocka_unit_test(caller_hub_runs_its_greenlets_meanwhile),
        cmocka_unit_test(greenlets_left_blocked_forever_are_edeadlk),
        cmocka_unit_test(reuseport_servers_on_every_hub_share_connections),
        cmocka_unit_test(bad_arguments_are_einval),
    };
    return cmocka_run_group_tests_name("hubs", tests, NULL, NULL);
}
