/* timeout.c: gz_timeout_start / cancel / fired, nesting, gz_with_timeout. */
#include "gz_test.h"

static void expired_timeout_fails_blocking_calls_until_cancelled(void **state)
{
    (void)state;
    gz_timeout *t = gz_timeout_start(0.01);
    assert_non_null(t);
    assert_false(gz_timeout_fired(t));
    assert_fails(gz_sleep(1.0), ETIMEDOUT);
    assert_true(gz_timeout_fired(t));
    assert_fails(gz_sleep(0), ETIMEDOUT);  /* still expired */
    assert_fails(gz_yield(), ETIMEDOUT);
    gz_timeout_cancel(t);
    assert_int_equal(gz_sleep(0.001), 0);
}

static void cancelled_timeout_never_fires(void **state)
{
    (void)state;
    gz_timeout *t = gz_timeout_start(0.01);
    gz_timeout_cancel(t);
    assert_int_equal(gz_sleep(0.03), 0);
    gz_timeout_cancel(NULL);
    assert_false(gz_timeout_fired(NULL));
}

static void inner_timeout_cannot_extend_the_outer(void **state)
{
    (void)state;
    double t0 = gz_now();
    gz_timeout *outer = gz_timeout_start(0.02);
    gz_timeout *inner = gz_timeout_start(5.0);
    assert_fails(gz_sleep(10), ETIMEDOUT);
    assert_true(gz_timeout_fired(outer));
    assert_false(gz_timeout_fired(inner));
    assert_true(gz_now() - t0 < 4.0); /* the outer one ended it, not 5 s */
    gz_timeout_cancel(inner);
    gz_timeout_cancel(outer);
}

static void inner_shorter_timeout_fires_first(void **state)
{
    (void)state;
    gz_timeout *outer = gz_timeout_start(5.0);
    gz_timeout *inner = gz_timeout_start(0.01);
    assert_fails(gz_sleep(10), ETIMEDOUT);
    assert_true(gz_timeout_fired(inner));
    assert_false(gz_timeout_fired(outer));
    gz_timeout_cancel(inner);
    assert_int_equal(gz_sleep(0.001), 0); /* only the outer is left, unexpired */
    gz_timeout_cancel(outer);
}

static void *wait_long(void *arg)
{
    (void)arg;
    gz_sleep(0.5);
    return GZ_PTR(1);
}

static void timeout_bounds_a_join(void **state)
{
    (void)state;
    gz_timeout *t = gz_timeout_start(0.01);
    gz_greenlet *g = gz_spawn(wait_long, NULL);
    assert_fails(gz_join(g, GZ_FOREVER), ETIMEDOUT);
    gz_timeout_cancel(t);
    assert_int_equal(gz_kill(g, 1.0), 0);
    gz_release(g);
}

static void *sleep_arg(void *arg)
{
    int rc = gz_sleep(*(double *)arg);
    return GZ_PTR(rc == 0 ? 42 : -errno);
}

static void with_timeout_reports_expiry_or_the_value(void **state)
{
    (void)state;
    void *v = NULL;
    double longer = 1.0, shorter = 0.001;
    assert_fails(gz_with_timeout(0.01, sleep_arg, &longer, &v), ETIMEDOUT);
    assert_null(v);
    assert_int_equal(gz_with_timeout(1.0, sleep_arg, &shorter, &v), 0);
    assert_int_equal(GZ_INT(v), 42);
    assert_int_equal(gz_sleep(0.001), 0); /* no timeout left armed */
    assert_fails(gz_with_timeout(1.0, NULL, NULL, &v), EINVAL);
    assert_fails(gz_with_timeout(NAN, sleep_arg, &shorter, &v), EINVAL);
}

static void *arm_and_end(void *arg)
{
    gz_timeout **out = arg;
    *out = gz_timeout_start(0.01);
    return NULL;
}

static void timeout_of_an_ended_greenlet_is_disarmed(void **state)
{
    (void)state;
    gz_timeout *t = NULL;
    gz_greenlet *g = gz_spawn(arm_and_end, &t);
    assert_int_equal(gz_join(g, 1.0), 0);
    assert_non_null(t);
    assert_int_equal(gz_sleep(0.03), 0);
    assert_false(gz_timeout_fired(t));
    gz_timeout_cancel(t);
    gz_release(g);
}

static void negative_timeout_never_fires_and_nan_is_einval(void **state)
{
    (void)state;
    gz_timeout *t = gz_timeout_start(-1);
    assert_non_null(t);
    assert_int_equal(gz_sleep(0.01), 0);
    assert_false(gz_timeout_fired(t));
    gz_timeout_cancel(t);
    errno = 0;
    assert_null(gz_timeout_start(NAN));
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expired_timeout_fails_blocking_calls_until_cancelled),
        cmocka_unit_test(cancelled_timeout_never_fires),
        cmocka_unit_test(inner_timeout_cannot_extend_the_outer),
        cmocka_unit_test(inner_shorter_timeout_fires_first),
        cmocka_unit_test(timeout_bounds_a_join),
        cmocka_unit_test(with_timeout_reports_expiry_or_the_value),
        cmocka_unit_test(timeout_of_an_ended_greenlet_is_disarmed),
        cmocka_unit_test(negative_timeout_never_fires_and_nan_is_einval),
    };
    return cmocka_run_group_tests_name("timeout", tests, NULL, NULL);
}
