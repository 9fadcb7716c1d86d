/* event.c: set, clear, wait, fairness, deadlock, kill and free. */
#include "gz_test.h"

static gz_event *ev;
static char order[64];

static void *waiter(void *arg)
{
    int rc = gz_event_wait(ev, GZ_FOREVER);
    if (rc == 0)
        strcat(order, (const char *)arg);
    return GZ_PTR(rc == 0 ? 0 : errno);
}

static void *setter(void *arg)
{
    gz_sleep(GZ_INT(arg) / 1000.0);
    gz_event_set(ev);
    return NULL;
}

static void new_event_is_clear_and_set_clear_toggle_it(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    assert_non_null(e);
    assert_false(gz_event_is_set(e));
    gz_event_set(e);
    assert_true(gz_event_is_set(e));
    gz_event_set(e); /* setting twice is harmless */
    assert_true(gz_event_is_set(e));
    gz_event_clear(e);
    assert_false(gz_event_is_set(e));
    gz_event_free(e);
}

static void wait_returns_at_once_when_set(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    gz_event_set(e);
    assert_int_equal(gz_event_wait(e, 0), 0);
    assert_int_equal(gz_event_wait(e, GZ_FOREVER), 0);
    gz_event_free(e);
}

static void set_wakes_every_waiter_in_fifo_order(void **state)
{
    (void)state;
    ev = gz_event_new();
    order[0] = 0;
    gz_greenlet *g[4] = {gz_spawn(waiter, "a"), gz_spawn(waiter, "b"),
                         gz_spawn(waiter, "c"), gz_spawn(setter, GZ_PTR(5))};
    assert_int_equal(gz_joinall(g, 4, GZ_FOREVER), 4);
    assert_string_equal(order, "abc");
    for (int i = 0; i < 4; i++) {
        assert_null(gz_value(g[i]));
        gz_release(g[i]);
    }
    gz_event_free(ev);
}

static void main_waits_until_a_greenlet_sets_it(void **state)
{
    (void)state;
    ev = gz_event_new();
    gz_greenlet *s = gz_spawn(setter, GZ_PTR(20));
    double t0 = gz_now();
    assert_int_equal(gz_event_wait(ev, GZ_FOREVER), 0);
    assert_true(gz_now() - t0 >= 0.019);
    gz_join(s, GZ_FOREVER);
    gz_release(s);
    gz_event_free(ev);
}

static void wait_times_out_with_etimedout(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    assert_fails(gz_event_wait(e, 0), ETIMEDOUT);
    double t0 = gz_now();
    assert_fails(gz_event_wait(e, 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.019);
    gz_event_free(e);
}

static void *set_then_clear(void *arg)
{
    (void)arg;
    gz_event_set(ev);
    gz_event_clear(ev);
    return NULL;
}

static void woken_waiter_returns_0_even_if_cleared_before_it_runs(void **state)
{
    (void)state;
    ev = gz_event_new();
    order[0] = 0;
    gz_greenlet *w = gz_spawn(waiter, "w");
    gz_yield(); /* w parks */
    gz_greenlet *s = gz_spawn(set_then_clear, NULL);
    gz_greenlet *g[2] = {w, s};
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_string_equal(order, "w");
    assert_false(gz_event_is_set(ev));
    gz_release(w);
    gz_release(s);
    gz_event_free(ev);
}

static void main_waiting_on_an_event_nobody_can_set_gets_edeadlk(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    assert_fails(gz_event_wait(e, GZ_FOREVER), EDEADLK);
    gz_event_free(e);
}

static void killed_waiter_gets_ecanceled(void **state)
{
    (void)state;
    ev = gz_event_new();
    gz_greenlet *w = gz_spawn(waiter, "k");
    gz_yield();
    assert_int_equal(gz_kill(w, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(w)), ECANCELED);
    gz_release(w);
    gz_event_free(ev);
}

static void free_with_waiters_wakes_them_with_epipe(void **state)
{
    (void)state;
    ev = gz_event_new();
    gz_greenlet *g[2] = {gz_spawn(waiter, "x"), gz_spawn(waiter, "y")};
    gz_yield();
    gz_event_free(ev);
    ev = NULL;
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(GZ_INT(gz_value(g[i])), EPIPE);
        gz_release(g[i]);
    }
}

static void wait_under_an_expired_gz_timeout_gets_etimedout(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    gz_timeout *t = gz_timeout_start(0.01);
    assert_fails(gz_event_wait(e, GZ_FOREVER), ETIMEDOUT);
    assert_true(gz_timeout_fired(t));
    gz_timeout_cancel(t);
    gz_event_free(e);
}

static void null_event_and_nan_timeout_are_einval(void **state)
{
    (void)state;
    assert_fails(gz_event_wait(NULL, 1.0), EINVAL);
    gz_event *e = gz_event_new();
    assert_fails(gz_event_wait(e, NAN), EINVAL);
    gz_event_free(e);
    gz_event_set(NULL);
    gz_event_clear(NULL);
    gz_event_free(NULL);
    assert_false(gz_event_is_set(NULL));
}

static void *count_waiter(void *arg)
{
    if (gz_event_wait(ev, GZ_FOREVER) == 0)
        ++*(int *)arg;
    return NULL;
}

static void thousand_waiters_all_wake(void **state)
{
    (void)state;
    ev = gz_event_new();
    int woke = 0;
    enum { N = 1000 };
    gz_greenlet **g = malloc(N * sizeof *g);
    for (int i = 0; i < N; i++)
        g[i] = gz_spawn(count_waiter, &woke);
    gz_yield();
    assert_int_equal(woke, 0);
    gz_event_set(ev);
    assert_int_equal(gz_joinall(g, N, GZ_FOREVER), N);
    assert_int_equal(woke, N);
    for (int i = 0; i < N; i++)
        gz_release(g[i]);
    free(g);
    gz_event_free(ev);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_event_is_clear_and_set_clear_toggle_it),
        cmocka_unit_test(wait_returns_at_once_when_set),
        cmocka_unit_test(set_wakes_every_waiter_in_fifo_order),
        cmocka_unit_test(main_waits_until_a_greenlet_sets_it),
        cmocka_unit_test(wait_times_out_with_etimedout),
        cmocka_unit_test(woken_waiter_returns_0_even_if_cleared_before_it_runs),
        cmocka_unit_test(main_waiting_on_an_event_nobody_can_set_gets_edeadlk),
        cmocka_unit_test(killed_waiter_gets_ecanceled),
        cmocka_unit_test(free_with_waiters_wakes_them_with_epipe),
        cmocka_unit_test(wait_under_an_expired_gz_timeout_gets_etimedout),
        cmocka_unit_test(null_event_and_nan_timeout_are_einval),
        cmocka_unit_test(thousand_waiters_all_wake),
    };
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
