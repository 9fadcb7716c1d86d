/* io.c: gz_wait_read, gz_wait_write, gz_poll, gz_close. */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

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

/* ---- gz_close ---- */

/* The timeouts below only bound a test that fails: a wait that gz_close
 * ends returns at once. */
typedef struct waiter {
    int fd;
    bool write;
    int rc, err;
} waiter;

static void *wait_fd(void *arg)
{
    waiter *w = arg;
    w->rc = w->write ? gz_wait_write(w->fd, 2.0) : gz_wait_read(w->fd, 2.0);
    w->err = errno;
    return NULL;
}

static void close_wakes_wait_read_and_wait_write_with_ebadf(void **state)
{
    (void)state;
    int p[2], sp[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    char buf[4096] = {0};
    while (write(sp[0], buf, sizeof buf) > 0) /* no room left */
        ;
    waiter r = {.fd = p[0]}, w = {.fd = sp[0], .write = true};
    gz_greenlet *gr = gz_spawn(wait_fd, &r), *gw = gz_spawn(wait_fd, &w);
    assert_int_equal(gz_sleep(0.01), 0); /* both park; the loop polls their fds */
    assert_false(gz_ready(gr));
    assert_false(gz_ready(gw));
    assert_int_equal(gz_close(p[0]), 0);
    assert_int_equal(gz_close(sp[0]), 0);
    assert_int_equal(gz_join(gr, 5.0), 0);
    assert_int_equal(gz_join(gw, 5.0), 0);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err, EBADF);
    assert_int_equal(w.rc, -1);
    assert_int_equal(w.err, EBADF);
    assert_fails(fcntl(p[0], F_GETFD), EBADF); /* and closed */
    assert_fails(fcntl(sp[0], F_GETFD), EBADF);
    gz_release(gr);
    gz_release(gw);
    close(p[1]);
    close(sp[1]);
}

typedef struct poller {
    struct pollfd p[2];
    int rc;
} poller;

static void *poll_two(void *arg)
{
    poller *pl = arg;
    pl->rc = gz_poll(pl->p, 2, 2.0);
    return NULL;
}

static void close_ends_a_poll_with_pollnval_in_its_entry(void **state)
{
    (void)state;
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    poller pl = {.p = {{.fd = a[0], .events = POLLIN}, {.fd = b[0], .events = POLLIN}}};
    gz_greenlet *g = gz_spawn(poll_two, &pl);
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g));
    assert_int_equal(gz_close(a[0]), 0);
    int c[2]; /* the number is reused before the poller runs: still POLLNVAL */
    assert_int_equal(pipe(c), 0);
    assert_int_equal(c[0], a[0]);
    assert_int_equal(write(c[1], "x", 1), 1);
    assert_int_equal(gz_join(g, 5.0), 0);
    assert_int_equal(pl.rc, 1); /* as poll(2) reports a closed fd */
    assert_int_equal(pl.p[0].revents, POLLNVAL);
    assert_int_equal(pl.p[1].revents, 0);
    gz_release(g);
    for (int i = 0; i < 2; i++) {
        close(b[i]);
        close(c[i]);
    }
    close(a[1]);
}

/* The file that next gets a closed fd's number is a stranger to the old
 * waiter, and waits on it see its own readiness. */
static void reused_fd_number_neither_wakes_an_old_waiter_nor_misses_a_new_one(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    waiter old = {.fd = p[0]};
    gz_greenlet *g = gz_spawn(wait_fd, &old);
    assert_int_equal(gz_yield(), 0);
    assert_int_equal(gz_close(p[0]), 0);
    close(p[1]);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fds[0], p[0]); /* the lowest free number */
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(gz_join(g, 5.0), 0);
    gz_release(g);
    assert_int_equal(old.rc, -1); /* not 0: the new pipe's byte is not its */
    assert_int_equal(old.err, EBADF);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    double d = 0.01;
    gz_greenlet *w = gz_spawn(write_later, &d);
    assert_int_equal(gz_wait_read(fds[0], 2.0), 0); /* libev watches the new file */
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_true(gz_ready(w));
    gz_release(w);
    close(fds[0]);
    close(fds[1]);
}

static void close_without_waiters_just_closes(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(gz_close(p[0]), 0);
    assert_fails(fcntl(p[0], F_GETFD), EBADF);
    assert_fails(gz_close(p[0]), EBADF); /* not open any more */
    assert_fails(gz_close(-1), EBADF);
    assert_int_equal(gz_close(p[1]), 0);
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
        cmocka_unit_test(close_wakes_wait_read_and_wait_write_with_ebadf),
        cmocka_unit_test(close_ends_a_poll_with_pollnval_in_its_entry),
        cmocka_unit_test(reused_fd_number_neither_wakes_an_old_waiter_nor_misses_a_new_one),
        cmocka_unit_test(close_without_waiters_just_closes),
    };
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
