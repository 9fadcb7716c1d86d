/* sem.c: counting and bounded semaphores, FIFO hand-off, errors. */
#include "gz_test.h"

static gz_sem *sem;
static char order[64];

static void *acquirer(void *arg)
{
    if (gz_sem_acquire(sem, GZ_FOREVER) != 0)
        return GZ_PTR(errno);
    strcat(order, (const char *)arg);
    return NULL;
}

static void acquire_takes_units_until_none_is_left(void **state)
{
    (void)state;
    gz_sem *s = gz_sem_new(2);
    assert_non_null(s);
    assert_int_equal(gz_sem_value(s), 2);
    assert_int_equal(gz_sem_acquire(s, 0), 0);
    assert_int_equal(gz_sem_acquire(s, GZ_FOREVER), 0);
    assert_int_equal(gz_sem_value(s), 0);
    assert_fails(gz_sem_acquire(s, 0), ETIMEDOUT);
    double t0 = gz_now();
    assert_fails(gz_sem_acquire(s, 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.019);
    assert_int_equal(gz_sem_release(s), 0);
    assert_int_equal(gz_sem_value(s), 1);
    gz_sem_free(s);
}

static void release_wakes_waiters_in_fifo_order(void **state)
{
    (void)state;
    sem = gz_sem_new(0);
    order[0] = 0;
    gz_greenlet *g[3] = {gz_spawn(acquirer, "a"), gz_spawn(acquirer, "b"),
                         gz_spawn(acquirer, "c")};
    gz_yield();
    for (int i = 0; i < 3; i++)
        assert_int_equal(gz_sem_release(sem), 0);
    assert_int_equal(gz_sem_value(sem), 0); /* handed over, not counted */
    assert_int_equal(gz_joinall(g, 3, GZ_FOREVER), 3);
    assert_string_equal(order, "abc");
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
    gz_sem_free(sem);
}

static void *barger(void *arg)
{
    (void)arg;
    /* Runs after the release and before the woken waiter: without the
     * hand-off it would take the unit. */
    if (gz_sem_acquire(sem, 0) == 0)
        strcat(order, "barged");
    else
        strcat(order, "x");
    return NULL;
}

static void released_unit_is_handed_off_so_no_one_barges_in(void **state)
{
    (void)state;
    sem = gz_sem_new(0);
    order[0] = 0;
    gz_greenlet *w = gz_spawn(acquirer, "w");
    gz_yield();
    gz_greenlet *b = gz_spawn(barger, NULL); /* ready before w is woken */
    gz_sem_release(sem);
    gz_greenlet *g[2] = {w, b};
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_string_equal(order, "xw");
    gz_release(w);
    gz_release(b);
    gz_sem_free(sem);
}

static void waiter_woken_by_a_kill_is_skipped_by_the_hand_off(void **state)
{
    (void)state;
    sem = gz_sem_new(0);
    order[0] = 0;
    gz_greenlet *a = gz_spawn(acquirer, "a");
    gz_greenlet *b = gz_spawn(acquirer, "b");
    gz_yield();
    /* a is made ready by the kill but is still first in line when the unit
     * is released: the unit must go to b, not be lost with a. */
    assert_int_equal(gz_kill(a, 0), 0);
    assert_int_equal(gz_sem_release(sem), 0);
    gz_greenlet *g[2] = {a, b};
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_int_equal(GZ_INT(gz_value(a)), ECANCELED);
    assert_string_equal(order, "b");
    assert_int_equal(gz_sem_value(sem), 0);
    gz_release(a);
    gz_release(b);
    gz_sem_free(sem);
}

static void bounded_release_past_start_value_is_eoverflow(void **state)
{
    (void)state;
    gz_sem *s = gz_bounded_sem_new(1);
    assert_fails(gz_sem_release(s), EOVERFLOW);
    assert_int_equal(gz_sem_acquire(s, 0), 0);
    assert_int_equal(gz_sem_release(s), 0);
    assert_fails(gz_sem_release(s), EOVERFLOW);
    assert_int_equal(gz_sem_value(s), 1);
    gz_sem_free(s);
    /* An unbounded one goes past its start value. */
    s = gz_sem_new(1);
    assert_int_equal(gz_sem_release(s), 0);
    assert_int_equal(gz_sem_value(s), 2);
    gz_sem_free(s);
    s = gz_sem_new(0xffffffffu);
    assert_fails(gz_sem_release(s), EOVERFLOW);
    gz_sem_free(s);
}

static void main_acquiring_what_nobody_releases_gets_edeadlk(void **state)
{
    (void)state;
    gz_sem *s = gz_sem_new(0);
    assert_fails(gz_sem_acquire(s, GZ_FOREVER), EDEADLK);
    gz_sem_free(s);
}

static void killed_waiter_gets_ecanceled_and_free_wakes_with_epipe(void **state)
{
    (void)state;
    sem = gz_sem_new(0);
    gz_greenlet *k = gz_spawn(acquirer, "k");
    gz_greenlet *f = gz_spawn(acquirer, "f");
    gz_yield();
    assert_int_equal(gz_kill(k, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(k)), ECANCELED);
    gz_sem_free(sem);
    sem = NULL;
    gz_join(f, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(f)), EPIPE);
    gz_release(k);
    gz_release(f);
}

static void null_semaphore_is_einval(void **state)
{
    (void)state;
    assert_fails(gz_sem_acquire(NULL, 0), EINVAL);
    assert_fails(gz_sem_release(NULL), EINVAL);
    gz_sem *s = gz_sem_new(1);
    assert_fails(gz_sem_acquire(s, NAN), EINVAL);
    gz_sem_free(s);
    assert_int_equal(gz_sem_value(NULL), 0);
    gz_sem_free(NULL);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acquire_takes_units_until_none_is_left),
        cmocka_unit_test(release_wakes_waiters_in_fifo_order),
        cmocka_unit_test(released_unit_is_handed_off_so_no_one_barges_in),
        cmocka_unit_test(waiter_woken_by_a_kill_is_skipped_by_the_hand_off),
        cmocka_unit_test(bounded_release_past_start_value_is_eoverflow),
        cmocka_unit_test(main_acquiring_what_nobody_releases_gets_edeadlk),
        cmocka_unit_test(killed_waiter_gets_ecanceled_and_free_wakes_with_epipe),
        cmocka_unit_test(null_semaphore_is_einval),
    };
    return cmocka_run_group_tests_name("sem", tests, NULL, NULL);
}
