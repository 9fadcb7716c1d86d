/* result.c: AsyncResult's set, set_exception, get, wait and states. */
#include "gz_test.h"

static gz_result *res;

static void *getter(void *arg)
{
    (void)arg;
    void *v = NULL;
    if (gz_result_get(res, &v, GZ_FOREVER) != 0)
        return GZ_PTR(-errno);
    return v;
}

static void *set_later(void *arg)
{
    gz_sleep(0.01);
    gz_result_set(res, arg);
    return NULL;
}

static void *fail_later(void *arg)
{
    (void)arg;
    gz_sleep(0.01);
    gz_result_set_exception(res, EPROTO, "bad reply");
    return NULL;
}

static void new_result_is_not_ready(void **state)
{
    (void)state;
    gz_result *r = gz_result_new();
    assert_non_null(r);
    assert_false(gz_result_ready(r));
    assert_false(gz_result_successful(r));
    assert_null(gz_result_exception(r));
    gz_result_free(r);
}

static void get_waits_for_the_value(void **state)
{
    (void)state;
    res = gz_result_new();
    gz_greenlet *s = gz_spawn(set_later, "Hello!");
    void *v = NULL;
    double t0 = gz_now();
    assert_int_equal(gz_result_get(res, &v, GZ_FOREVER), 0);
    assert_true(gz_now() - t0 >= 0.009);
    assert_string_equal((const char *)v, "Hello!");
    assert_true(gz_result_ready(res));
    assert_true(gz_result_successful(res));
    /* Later gets return at once; VALUE may be NULL. */
    assert_int_equal(gz_result_get(res, &v, 0), 0);
    assert_int_equal(gz_result_get(res, NULL, 0), 0);
    assert_int_equal(gz_result_wait(res, 0), 0);
    gz_join(s, GZ_FOREVER);
    gz_release(s);
    gz_result_free(res);
}

static void set_wakes_every_waiter_with_the_value(void **state)
{
    (void)state;
    res = gz_result_new();
    gz_greenlet *g[3] = {gz_spawn(getter, NULL), gz_spawn(getter, NULL),
                         gz_spawn(set_later, GZ_PTR(42))};
    assert_int_equal(gz_joinall(g, 3, GZ_FOREVER), 3);
    assert_int_equal(GZ_INT(gz_value(g[0])), 42);
    assert_int_equal(GZ_INT(gz_value(g[1])), 42);
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
    gz_result_free(res);
}

static void exception_is_reraised_as_its_code(void **state)
{
    (void)state;
    res = gz_result_new();
    gz_greenlet *w = gz_spawn(getter, NULL);
    gz_greenlet *s = gz_spawn(fail_later, NULL);
    void *v = GZ_PTR(5);
    assert_fails(gz_result_get(res, &v, GZ_FOREVER), EPROTO);
    assert_int_equal(GZ_INT(v), 5);
    assert_true(gz_result_ready(res));
    assert_false(gz_result_successful(res));
    const gz_error *e = gz_result_exception(res);
    assert_non_null(e);
    assert_int_equal(e->code, EPROTO);
    assert_string_equal(e->message, "bad reply");
    /* wait does not raise it */
    assert_int_equal(gz_result_wait(res, 0), 0);
    gz_join(w, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(w)), -EPROTO);
    gz_join(s, GZ_FOREVER);
    gz_release(w);
    gz_release(s);
    gz_result_free(res);
}

static void exception_code_0_becomes_eio_and_null_message_empty(void **state)
{
    (void)state;
    gz_result *r = gz_result_new();
    gz_result_set_exception(r, 0, NULL);
    assert_fails(gz_result_get(r, NULL, 0), EIO);
    assert_string_equal(gz_result_exception(r)->message, "");
    /* A later set replaces the outcome. */
    gz_result_set(r, GZ_PTR(3));
    void *v;
    assert_int_equal(gz_result_get(r, &v, 0), 0);
    assert_int_equal(GZ_INT(v), 3);
    assert_null(gz_result_exception(r));
    gz_result_free(r);
}

static void get_and_wait_time_out_with_etimedout(void **state)
{
    (void)state;
    gz_result *r = gz_result_new();
    assert_fails(gz_result_get(r, NULL, 0), ETIMEDOUT);
    assert_fails(gz_result_wait(r, 0), ETIMEDOUT);
    double t0 = gz_now();
    assert_fails(gz_result_get(r, NULL, 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.019);
    assert_fails(gz_result_wait(r, 0.01), ETIMEDOUT);
    gz_result_free(r);
}

static void main_getting_a_result_nobody_sets_gets_edeadlk(void **state)
{
    (void)state;
    gz_result *r = gz_result_new();
    assert_fails(gz_result_get(r, NULL, GZ_FOREVER), EDEADLK);
    assert_fails(gz_result_wait(r, GZ_FOREVER), EDEADLK);
    gz_result_free(r);
}

static void *set_and_free(void *arg)
{
    gz_result_set(res, arg);
    gz_result_free(res); /* the woken getter must not need it any more */
    res = NULL;
    return NULL;
}

static void value_is_handed_to_waiters_so_free_after_set_is_safe(void **state)
{
    (void)state;
    res = gz_result_new();
    gz_greenlet *w = gz_spawn(getter, NULL);
    gz_yield();
    gz_greenlet *s = gz_spawn(set_and_free, GZ_PTR(9));
    gz_join(w, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(w)), 9);
    gz_join(s, GZ_FOREVER);
    gz_release(w);
    gz_release(s);
}

static void killed_getter_gets_ecanceled_and_free_wakes_with_epipe(void **state)
{
    (void)state;
    res = gz_result_new();
    gz_greenlet *k = gz_spawn(getter, NULL);
    gz_greenlet *f = gz_spawn(getter, NULL);
    gz_yield();
    assert_int_equal(gz_kill(k, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(k)), -ECANCELED);
    gz_result_free(res);
    res = NULL;
    gz_join(f, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(f)), -EPIPE);
    gz_release(k);
    gz_release(f);
}

static void null_result_is_einval(void **state)
{
    (void)state;
    assert_fails(gz_result_get(NULL, NULL, 1.0), EINVAL);
    assert_fails(gz_result_wait(NULL, 1.0), EINVAL);
    gz_result *r = gz_result_new();
    assert_fails(gz_result_get(r, NULL, NAN), EINVAL);
    gz_result_free(r);
    gz_result_set(NULL, NULL);
    gz_result_set_exception(NULL, EIO, "x");
    gz_result_free(NULL);
    assert_false(gz_result_ready(NULL));
    assert_false(gz_result_successful(NULL));
    assert_null(gz_result_exception(NULL));
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_result_is_not_ready),
        cmocka_unit_test(get_waits_for_the_value),
        cmocka_unit_test(set_wakes_every_waiter_with_the_value),
        cmocka_unit_test(exception_is_reraised_as_its_code),
        cmocka_unit_test(exception_code_0_becomes_eio_and_null_message_empty),
        cmocka_unit_test(get_and_wait_time_out_with_etimedout),
        cmocka_unit_test(main_getting_a_result_nobody_sets_gets_edeadlk),
        cmocka_unit_test(value_is_handed_to_waiters_so_free_after_set_is_safe),
        cmocka_unit_test(killed_getter_gets_ecanceled_and_free_wakes_with_epipe),
        cmocka_unit_test(null_result_is_einval),
    };
    return cmocka_run_group_tests_name("result", tests, NULL, NULL);
}
