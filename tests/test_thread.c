/* thread.c: gz_run_in_thread and the worker pool size. */
#include <pthread.h>
#include <sys/wait.h>
#include <stdatomic.h>

#include "gz_test.h"

static void *times_two(void *arg) { return GZ_PTR(GZ_INT(arg) * 2); }

static void *which_thread(void *arg)
{
    (void)arg;
    return (void *)pthread_self();
}

static void run_in_thread_returns_fn_value_from_another_thread(void **state)
{
    (void)state;
    void *v = NULL;
    assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(21), &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 42);
    assert_int_equal(gz_run_in_thread(which_thread, NULL, &v, 5.0), 0);
    assert_false(pthread_equal((pthread_t)v, pthread_self()));
    /* VALUE may be NULL. */
    assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(1), NULL, GZ_FOREVER), 0);
}

/* Blocks the worker thread (not the hub) until released. */
static atomic_int gate;
static void *wait_gate(void *arg)
{
    while (!atomic_load(&gate))
        usleep(1000);
    return arg;
}

static int ticks;
static void *ticker(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate)) {
        ticks++;
        if (ticks == 5)
            atomic_store(&gate, 1);
        gz_sleep(0.002);
    }
    return NULL;
}

static void hub_runs_other_greenlets_while_the_thread_works(void **state)
{
    (void)state;
    atomic_store(&gate, 0);
    ticks = 0;
    gz_greenlet *t = gz_spawn(ticker, NULL);
    void *v = NULL;
    assert_int_equal(gz_run_in_thread(wait_gate, GZ_PTR(7), &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 7);
    assert_true(ticks >= 5); /* the ticker opened the gate from the hub */
    assert_int_equal(gz_join(t, GZ_FOREVER), 0);
    gz_release(t);
}

static atomic_int slow_done;
static void *slow(void *arg)
{
    usleep(50 * 1000);
    atomic_fetch_add(&slow_done, 1);
    return arg;
}

static void timeout_returns_etimedout_and_the_worker_finishes_safely(void **state)
{
    (void)state;
    atomic_store(&slow_done, 0);
    void *v = GZ_PTR(99);
    assert_fails(gz_run_in_thread(slow, GZ_PTR(1), &v, 0.005), ETIMEDOUT);
    assert_int_equal(GZ_INT(v), 99);
    /* The abandoned job ends on its own; the worker frees it (ASan checks). */
    while (atomic_load(&slow_done) == 0)
        gz_sleep(0.005);
    /* The pool is still usable. */
    assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(4), &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 8);
}

static void zero_timeout_fails_without_running(void **state)
{
    (void)state;
    atomic_store(&slow_done, 0);
    assert_fails(gz_run_in_thread(slow, NULL, NULL, 0), ETIMEDOUT);
    usleep(80 * 1000);
    assert_int_equal(atomic_load(&slow_done), 0);
}

static int caller_errno;
static void *call_slow(void *arg)
{
    (void)arg;
    errno = 0;
    gz_run_in_thread(slow, NULL, NULL, GZ_FOREVER);
    caller_errno = errno;
    return NULL;
}

static void killed_caller_gets_ecanceled(void **state)
{
    (void)state;
    atomic_store(&slow_done, 0);
    caller_errno = 0;
    gz_greenlet *g = gz_spawn(call_slow, NULL);
    gz_sleep(0.005); /* let it submit its job */
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_int_equal(caller_errno, ECANCELED);
    gz_release(g);
    while (atomic_load(&slow_done) == 0)
        gz_sleep(0.005);
}

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    assert_fails(gz_run_in_thread(NULL, NULL, NULL, 1.0), EINVAL);
    assert_fails(gz_run_in_thread(times_two, NULL, NULL, NAN), EINVAL);
    assert_fails(gz_set_thread_pool_size(0), EINVAL);
    assert_fails(gz_set_thread_pool_size(100000), EINVAL);
}

/* With N workers, N jobs that wait for each other all run at once. */
static atomic_int arrived;
static void *barrier_job(void *arg)
{
    int n = GZ_INT(arg);
    atomic_fetch_add(&arrived, 1);
    while (atomic_load(&arrived) < n)
        usleep(500);
    return NULL;
}

static void *call_barrier(void *arg)
{
    return GZ_PTR(gz_run_in_thread(barrier_job, arg, NULL, GZ_FOREVER));
}

static void pool_size_is_settable_and_runs_that_many_jobs_at_once(void **state)
{
    (void)state;
    size_t old = gz_thread_pool_size();
    assert_int_equal(old, 10);
    assert_int_equal(gz_set_thread_pool_size(3), 0);
    assert_int_equal(gz_thread_pool_size(), 3);
    atomic_store(&arrived, 0);
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++)
        g[i] = gz_spawn(call_barrier, GZ_PTR(3));
    for (int i = 0; i < 3; i++) {
        void *rc;
        assert_int_equal(gz_get(g[i], &rc, GZ_FOREVER), 0);
        assert_int_equal(GZ_INT(rc), 0);
        gz_release(g[i]);
    }
    assert_int_equal(gz_set_thread_pool_size(1), 0);
    /* One worker still serves several callers, one job after the other. */
    void *v[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(i), &v[i], GZ_FOREVER), 0);
        assert_int_equal(GZ_INT(v[i]), 2 * i);
    }
    assert_int_equal(gz_set_thread_pool_size(old), 0);
}

static void idle_pool_does_not_keep_gz_run_alive(void **state)
{
    (void)state;
    assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(1), NULL, GZ_FOREVER), 0);
    /* Nothing left to do: gz_run returns at once instead of waiting. */
    assert_int_equal(gz_run(), 0);
}

static void *spawn_caller(void *arg)
{
    void *v = NULL;
    if (gz_run_in_thread(times_two, arg, &v, GZ_FOREVER) != 0)
        return GZ_PTR(-1);
    return v;
}

static void gz_run_waits_for_a_greenlet_in_a_thread_call(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(spawn_caller, GZ_PTR(5));
    assert_int_equal(gz_run(), 0); /* no EDEADLK: the job holds the loop */
    assert_true(gz_ready(g));
    assert_int_equal(GZ_INT(gz_value(g)), 10);
    gz_release(g);
}

/* A hub on another OS thread uses the pool too, and may end while a worker
 * still runs one of its abandoned jobs. */
static void *other_thread(void *arg)
{
    (void)arg;
    void *v = NULL;
    int rc = gz_run_in_thread(times_two, GZ_PTR(3), &v, GZ_FOREVER);
    if (rc != 0 || GZ_INT(v) != 6)
        return GZ_PTR(1);
    errno = 0;
    rc = gz_run_in_thread(slow, NULL, NULL, 0.001);
    return GZ_PTR(rc == -1 && errno == ETIMEDOUT ? 0 : 2);
}

static void hubs_of_other_threads_use_the_pool(void **state)
{
    (void)state;
    atomic_store(&slow_done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    void *rc;
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_int_equal(GZ_INT(rc), 0);
    while (atomic_load(&slow_done) == 0)
        usleep(1000);
    usleep(5000);
}

static void forked_child_gets_a_fresh_worker_pool(void **state)
{
    (void)state;
    /* The parent has workers by now; the child must start its own. */
    assert_int_equal(gz_run_in_thread(times_two, GZ_PTR(1), NULL, GZ_FOREVER), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        void *v = NULL;
        int rc = gz_run_in_thread(times_two, GZ_PTR(8), &v, 5.0);
        _exit(rc == 0 && GZ_INT(v) == 16 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_in_thread_returns_fn_value_from_another_thread),
        cmocka_unit_test(hub_runs_other_greenlets_while_the_thread_works),
        cmocka_unit_test(timeout_returns_etimedout_and_the_worker_finishes_safely),
        cmocka_unit_test(zero_timeout_fails_without_running),
        cmocka_unit_test(killed_caller_gets_ecanceled),
        cmocka_unit_test(bad_arguments_are_einval),
        cmocka_unit_test(pool_size_is_settable_and_runs_that_many_jobs_at_once),
        cmocka_unit_test(idle_pool_does_not_keep_gz_run_alive),
        cmocka_unit_test(gz_run_waits_for_a_greenlet_in_a_thread_call),
        cmocka_unit_test(hubs_of_other_threads_use_the_pool),
        cmocka_unit_test(forked_child_gets_a_fresh_worker_pool),
    };
    return cmocka_run_group_tests_name("thread", tests, NULL, NULL);
}
