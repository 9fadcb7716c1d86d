/* io.c: gz_wait_read, gz_wait_write, gz_poll. */
#include <fcntl.h>
#include <poll.h>

#include "gz_test.h"

static int fds[2];

static void *write_later(void *arg)
{
    gz_sleep(*(double *)arg);
    (void)!write(fds[1], "x", 1);
    return NULL;
}

static void wait_read_blocks_only_the_caller(void **state)
{
    (void)state;
    assert_int_equal(pipe(fds), 0);
    double d = 0.01;
    gz_greenlet *w = gz_spawn(write_later, &d);
    assert_int_equal(gz_wait_read(fds[0], 2.0), 0);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_true(gz_ready(w));
    gz_release(w);
    assert_fails(gz_wait_read(fds[0], 0.01), ETIMEDOUT);
    assert_fails(gz_wait_read(fds[0], 0), ETIMEDOUT);
    assert_int_equal(gz_wait_write(fds[1], 1.0), 0);
    close(fds[0]);
    close(fds[1]);
}

static void wait_write_waits_for_room(void **state)
{
    (void)state;
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    char buf[4096] = {0};
    while (write(fds[1], buf, sizeof buf) > 0)
        ;
    assert_fails(gz_wait_write(fds[1], 0.01), ETIMEDOUT);
    assert_true(read(fds[0], buf, sizeof buf) > 0);
    assert_int_equal(gz_wait_write(fds[1], 1.0), 0);
    close(fds[0]);
    close(fds[1]);
}

static void bad_fds_are_ebadf(void **state)
{
    (void)state;
    assert_fails(gz_wait_read(-1, 1.0), EBADF);
    assert_fails(gz_wait_write(-5, 1.0), EBADF);
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    close(p[1]);
    assert_fails(gz_wait_read(p[0], 1.0), EBADF); /* closed fd */
}

static void *wait_forever(void *arg)
{
    int rc = gz_wait_read(*(int *)arg, GZ_FOREVER);
    return GZ_PTR(rc == 0 ? 0 : errno);
}

static void killed_waiter_gets_ecanceled(void **state)
{
    (void)state;
    assert_int_equal(pipe(fds), 0);
    gz_greenlet *g = gz_spawn(wait_forever, &fds[0]);
    gz_yield();
    assert_int_equal(gz_kill(g, 1.0), 0);
    assert_int_equal(GZ_INT(gz_value(g)), ECANCELED);
    gz_release(g);
    close(fds[0]);
    close(fds[1]);
}

static void poll_reports_ready_fds_and_times_out(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    struct pollfd p[2] = {{.fd = a[0], .events = POLLIN},
                          {.fd = b[0], .events = POLLIN}};
    assert_int_equal(gz_poll(p, 2, 0.01), 0); /* timeout: 0, as poll(2) */
    assert_int_equal(gz_poll(p, 2, 0), 0);
    fds[1] = b[1];
    double d = 0.01;
    gz_greenlet *w = gz_spawn(write_later, &d);
    assert_int_equal(gz_poll(p, 2, 2.0), 1);
    assert_int_equal(p[0].revents, 0);
    assert_true(p[1].revents & POLLIN);
    gz_release(w);
    /* Already ready: returns at once. */
    assert_int_equal(gz_poll(p, 2, GZ_FOREVER), 1);
    assert_fails(gz_poll(NULL, 1, 0), EINVAL);
    double t0 = gz_now();
    assert_int_equal(gz_poll(NULL, 0, 0.02), 0); /* a sleep */
    assert_true(gz_now() - t0 >= 0.019);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
}

static void poll_on_a_greenlet_timeout_is_etimedout(void **state)
{
    (void)state;
    assert_int_equal(pipe(fds), 0);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    gz_timeout *t = gz_timeout_start(0.01);
    assert_fails(gz_poll(&p, 1, GZ_FOREVER), ETIMEDOUT);
    gz_timeout_cancel(t);
    close(fds[0]);
    close(fds[1]);
}

static void poll_with_nothing_to_wake_it_is_edeadlk(void **state)
{
    (void)state;
    assert_fails(gz_poll(NULL, 0, GZ_FOREVER), EDEADLK);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_read_blocks_only_the_caller),
        cmocka_unit_test(wait_write_waits_for_room),
        cmocka_unit_test(bad_fds_are_ebadf),
        cmocka_unit_test(killed_waiter_gets_ecanceled),
        cmocka_unit_test(poll_reports_ready_fds_and_times_out),
        cmocka_unit_test(poll_on_a_greenlet_timeout_is_etimedout),
        cmocka_unit_test(poll_with_nothing_to_wake_it_is_edeadlk),
    };
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
