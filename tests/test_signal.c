/* signal.c: handlers run in new greenlets; cancel; bad signals. */
#include <signal.h>

#include "gz_test.h"

static int got, got_signum;
static gz_greenlet *handler_greenlet;

static void on_signal(int signum, void *arg)
{
    got += GZ_INT(arg);
    got_signum = signum;
    handler_greenlet = gz_current();
    gz_sleep(0.001); /* a handler greenlet may block */
}

static void handler_runs_in_a_new_greenlet(void **state)
{
    (void)state;
    got = 0;
    assert_int_equal(gz_signal(SIGUSR1, on_signal, GZ_PTR(1)), 0);
    raise(SIGUSR1);
    for (int i = 0; i < 100 && !got; i++)
        gz_sleep(0.001);
    assert_int_equal(got, 1);
    assert_int_equal(got_signum, SIGUSR1);
    assert_ptr_not_equal(handler_greenlet, gz_current());
    assert_int_equal(gz_signal_cancel(SIGUSR1), 0);
}

static void replacing_a_handler_keeps_one_watcher(void **state)
{
    (void)state;
    got = 0;
    assert_int_equal(gz_signal(SIGUSR2, on_signal, GZ_PTR(1)), 0);
    assert_int_equal(gz_signal(SIGUSR2, on_signal, GZ_PTR(10)), 0);
    raise(SIGUSR2);
    for (int i = 0; i < 100 && !got; i++)
        gz_sleep(0.001);
    gz_sleep(0.005);
    assert_int_equal(got, 10);
    assert_int_equal(gz_signal_cancel(SIGUSR2), 0);
}

static void cancel_restores_the_default_and_bad_signals_fail(void **state)
{
    (void)state;
    assert_fails(gz_signal_cancel(SIGUSR1), ENOENT);
    assert_fails(gz_signal(0, on_signal, NULL), EINVAL);
    assert_fails(gz_signal(SIGKILL, on_signal, NULL), EINVAL);
    assert_fails(gz_signal(SIGSTOP, on_signal, NULL), EINVAL);
    assert_fails(gz_signal(NSIG + 5, on_signal, NULL), EINVAL);
    assert_fails(gz_signal(SIGUSR1, NULL, NULL), EINVAL);
    assert_fails(gz_signal_cancel(-3), EINVAL);
    struct sigaction sa;
    assert_int_equal(gz_signal(SIGUSR1, on_signal, NULL), 0);
    assert_int_equal(gz_signal_cancel(SIGUSR1), 0);
    sigaction(SIGUSR1, NULL, &sa);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
}

static void *blocked(void *arg)
{
    (void)arg;
    gz_sleep(1000);
    return NULL;
}

static void shutdown_handler(int signum, void *arg)
{
    (void)signum;
    (void)arg;
    gz_shutdown();
}

static void signal_handler_can_shut_the_program_down(void **state)
{
    (void)state;
    assert_int_equal(gz_signal(SIGQUIT, shutdown_handler, NULL), 0);
    gz_greenlet *g = gz_spawn(blocked, NULL);
    gz_yield();
    raise(SIGQUIT);
    assert_fails(gz_join(g, 5.0), ECANCELED);
    assert_true(gz_ready(g));
    assert_true(gz_killed(g));
    gz_release(g);
    assert_int_equal(gz_signal_cancel(SIGQUIT), 0);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handler_runs_in_a_new_greenlet),
        cmocka_unit_test(replacing_a_handler_keeps_one_watcher),
        cmocka_unit_test(cancel_restores_the_default_and_bad_signals_fail),
        cmocka_unit_test(signal_handler_can_shut_the_program_down),
    };
    return cmocka_run_group_tests_name("signal", tests, NULL, NULL);
}
