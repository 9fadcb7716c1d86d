/* pool.c: pools and groups, slots, join, kill, add, wait_available, map,
 * imap, imap_unordered, determinism, free. */
#include "gz_test.h"

static gz_pool *pool;
static char order[256];

static void note(const char *s) { strcat(order, s); }

/* Sleeps arg milliseconds, returns arg. */
static void *sleeper(void *arg)
{
    gz_sleep(GZ_INT(arg) / 1000.0);
    return arg;
}

static void *forever(void *arg)
{
    (void)arg;
    gz_sleep(GZ_FOREVER);
    return NULL;
}

static void *tagger(void *arg)
{
    note((const char *)arg);
    gz_sleep(0.002);
    return arg;
}

static void *fails_on_odd(void *arg)
{
    int i = GZ_INT(arg);
    gz_sleep(0.001 * (10 - i));
    if (i % 2)
        gz_fail(EDOM + i, "item %d is odd", i);
    return GZ_PTR(i * 10);
}

static void *spawner(void *arg)
{
    gz_greenlet *g = gz_pool_spawn(pool, tagger, arg);
    if (!g)
        return GZ_PTR(-errno);
    gz_release(g);
    return NULL;
}

static void spawn_waits_for_a_free_slot(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(2);
    assert_int_equal(gz_pool_free_count(p), 2);
    gz_greenlet *a = gz_pool_spawn(p, sleeper, GZ_PTR(20));
    gz_greenlet *b = gz_pool_spawn(p, sleeper, GZ_PTR(20));
    assert_int_equal(gz_pool_len(p), 2);
    assert_int_equal(gz_pool_free_count(p), 0);
    double t0 = gz_now();
    gz_greenlet *c = gz_pool_spawn(p, sleeper, GZ_PTR(1)); /* waits */
    assert_non_null(c);
    assert_true(gz_now() - t0 >= 0.019);
    assert_true(gz_ready(a) || gz_ready(b));
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    assert_int_equal(gz_pool_len(p), 0);
    assert_int_equal(gz_pool_free_count(p), 2);
    void *v;
    assert_int_equal(gz_get(c, &v, 0), 0);
    assert_int_equal(GZ_INT(v), 1);
    gz_release(a);
    gz_release(b);
    gz_release(c);
    gz_pool_free(p);
}

static void group_of_size_0_never_waits(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(0);
    assert_int_equal(gz_pool_free_count(p), SIZE_MAX);
    gz_greenlet *g[50];
    for (int i = 0; i < 50; i++)
        g[i] = gz_pool_spawn(p, sleeper, GZ_PTR(1));
    assert_int_equal(gz_pool_len(p), 50);
    assert_int_equal(gz_pool_wait_available(p, 0), 0);
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    for (int i = 0; i < 50; i++) {
        assert_true(gz_ready(g[i]));
        gz_release(g[i]);
    }
    gz_pool_free(p);
}

static void slot_waiters_are_served_in_fifo_order(void **state)
{
    (void)state;
    pool = gz_pool_new(1);
    order[0] = 0;
    gz_greenlet *first = gz_pool_spawn(pool, tagger, "0");
    gz_greenlet *s[3] = {gz_spawn(spawner, "a"), gz_spawn(spawner, "b"),
                         gz_spawn(spawner, "c")};
    assert_int_equal(gz_joinall(s, 3, GZ_FOREVER), 3);
    assert_int_equal(gz_pool_join(pool, GZ_FOREVER), 0);
    assert_string_equal(order, "0abc");
    for (int i = 0; i < 3; i++) {
        assert_null(gz_value(s[i]));
        gz_release(s[i]);
    }
    gz_release(first);
    gz_pool_free(pool);
}

static void join_times_out_with_etimedout(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(3);
    assert_int_equal(gz_pool_join(p, 0), 0); /* empty */
    gz_greenlet *g = gz_pool_spawn(p, sleeper, GZ_PTR(30));
    assert_fails(gz_pool_join(p, 0), ETIMEDOUT);
    double t0 = gz_now();
    assert_fails(gz_pool_join(p, 0.01), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.009);
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    gz_release(g);
    gz_pool_free(p);
}

static void kill_ends_every_member(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(0);
    gz_greenlet *g[3] = {gz_pool_spawn(p, forever, NULL),
                         gz_pool_spawn(p, forever, NULL),
                         gz_pool_spawn(p, forever, NULL)};
    gz_yield(); /* they run and park */
    gz_greenlet *late = gz_pool_spawn(p, forever, NULL); /* never ran */
    assert_int_equal(gz_pool_kill(p, GZ_FOREVER), 0);
    assert_int_equal(gz_pool_len(p), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(gz_killed(g[i]));
        assert_true(gz_ready(g[i]));
        gz_release(g[i]);
    }
    assert_true(gz_ready(late));
    gz_release(late);
    /* kill with timeout 0 does not wait */
    gz_greenlet *h = gz_pool_spawn(p, forever, NULL);
    gz_yield();
    assert_int_equal(gz_pool_kill(p, 0), 0);
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    gz_release(h);
    gz_pool_free(p);
}

static void *kill_own_pool(void *arg)
{
    (void)arg;
    int rc = gz_pool_kill(pool, GZ_FOREVER);
    return GZ_PTR(rc == -1 ? errno : 0);
}

static void kill_from_a_member_kills_the_others_and_is_edeadlk(void **state)
{
    (void)state;
    pool = gz_pool_new(0);
    gz_greenlet *other = gz_pool_spawn(pool, forever, NULL);
    gz_greenlet *self = gz_pool_spawn(pool, kill_own_pool, NULL);
    assert_int_equal(gz_join(self, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(self)), EDEADLK);
    assert_int_equal(gz_join(other, GZ_FOREVER), 0);
    assert_true(gz_killed(other));
    assert_false(gz_killed(self));
    gz_release(other);
    gz_release(self);
    gz_pool_free(pool);
}

static void add_tracks_a_greenlet_and_waits_for_a_slot(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(1);
    gz_greenlet *a = gz_spawn(sleeper, GZ_PTR(10));
    assert_int_equal(gz_pool_add(p, a), 0);
    assert_int_equal(gz_pool_add(p, a), 0); /* already in: no-op */
    assert_int_equal(gz_pool_len(p), 1);
    gz_greenlet *b = gz_greenlet_new(sleeper, GZ_PTR(1));
    double t0 = gz_now();
    assert_int_equal(gz_pool_add(p, b), 0); /* waits for a to end */
    assert_true(gz_now() - t0 >= 0.009);
    assert_true(gz_ready(a));
    assert_false(gz_started(b)); /* add does not start it */
    gz_start(b);
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    assert_true(gz_ready(b));
    /* an ended greenlet is not added */
    assert_int_equal(gz_pool_add(p, a), 0);
    assert_int_equal(gz_pool_len(p), 0);
    assert_fails(gz_pool_add(p, NULL), EINVAL);
    assert_fails(gz_pool_add(p, gz_current()), EINVAL);
    assert_fails(gz_pool_add(NULL, a), EINVAL);
    gz_release(a);
    gz_release(b);
    gz_pool_free(p);
}

static void wait_available_waits_until_a_member_ends(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(1);
    assert_int_equal(gz_pool_wait_available(p, 0), 0);
    gz_greenlet *g = gz_pool_spawn(p, sleeper, GZ_PTR(10));
    assert_fails(gz_pool_wait_available(p, 0), ETIMEDOUT);
    assert_fails(gz_pool_wait_available(p, 0.001), ETIMEDOUT);
    assert_int_equal(gz_pool_wait_available(p, GZ_FOREVER), 0);
    assert_true(gz_ready(g));
    assert_int_equal(gz_pool_free_count(p), 1); /* not taken */
    gz_release(g);
    gz_pool_free(p);
}

static void map_returns_results_in_input_order(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(3);
    void *in[6] = {GZ_PTR(6), GZ_PTR(1), GZ_PTR(5), GZ_PTR(2), GZ_PTR(4), GZ_PTR(3)};
    void *out[6];
    assert_int_equal(gz_pool_map(p, sleeper, in, out, 6), 0);
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(out[i], in[i]);
    assert_int_equal(gz_pool_map(p, sleeper, NULL, NULL, 0), 0);
    assert_int_equal(gz_pool_len(p), 0);
    gz_pool_free(p);
}

static void map_reports_the_first_failure_and_keeps_the_others(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(0);
    void *in[5], *out[5];
    for (int i = 0; i < 5; i++)
        in[i] = GZ_PTR(i);
    /* item 3 fails first in time, item 1 first in input order */
    assert_fails(gz_pool_map(p, fails_on_odd, in, out, 5), EDOM + 1);
    assert_int_equal(GZ_INT(out[0]), 0);
    assert_null(out[1]);
    assert_int_equal(GZ_INT(out[2]), 20);
    assert_null(out[3]);
    assert_int_equal(GZ_INT(out[4]), 40);
    gz_pool_free(p);
}

static void imap_returns_results_in_input_order(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(2);
    void *in[5] = {GZ_PTR(9), GZ_PTR(1), GZ_PTR(7), GZ_PTR(3), GZ_PTR(5)};
    gz_imap *it = gz_pool_imap(p, sleeper, in, 5);
    assert_non_null(it);
    in[0] = GZ_PTR(100); /* the array was copied */
    int want[] = {9, 1, 7, 3, 5};
    for (int i = 0; i < 5; i++) {
        void *v;
        assert_int_equal(gz_imap_next(it, &v, GZ_FOREVER), 0);
        assert_int_equal(GZ_INT(v), want[i]);
    }
    assert_fails(gz_imap_next(it, NULL, GZ_FOREVER), EPIPE);
    assert_fails(gz_imap_next(it, NULL, 0), EPIPE);
    gz_imap_free(it);
    gz_pool_free(p);
}

static void imap_unordered_returns_results_in_completion_order(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(0);
    void *in[5] = {GZ_PTR(9), GZ_PTR(1), GZ_PTR(7), GZ_PTR(3), GZ_PTR(5)};
    gz_imap *it = gz_pool_imap_unordered(p, sleeper, in, 5);
    int want[] = {1, 3, 5, 7, 9};
    for (int i = 0; i < 5; i++) {
        void *v;
        assert_int_equal(gz_imap_next(it, &v, GZ_FOREVER), 0);
        assert_int_equal(GZ_INT(v), want[i]);
    }
    assert_fails(gz_imap_next(it, NULL, GZ_FOREVER), EPIPE);
    gz_imap_free(it);
    gz_pool_free(p);
}

static void imap_failed_item_fails_at_its_place_and_iteration_goes_on(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(2);
    void *in[4] = {GZ_PTR(0), GZ_PTR(1), GZ_PTR(2), GZ_PTR(3)};
    gz_imap *it = gz_pool_imap(p, fails_on_odd, in, 4);
    void *v = NULL;
    assert_int_equal(gz_imap_next(it, &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 0);
    assert_fails(gz_imap_next(it, &v, GZ_FOREVER), EDOM + 1);
    assert_int_equal(gz_imap_next(it, &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 20);
    assert_fails(gz_imap_next(it, &v, GZ_FOREVER), EDOM + 3);
    assert_fails(gz_imap_next(it, &v, GZ_FOREVER), EPIPE);
    gz_imap_free(it);
    gz_pool_free(p);
}

static void *echo(void *arg)
{
    gz_sleep(0.001);
    return arg;
}

static void four_runs_of_imap_unordered_compare_equal(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(10);
    void *in[10];
    for (int i = 0; i < 10; i++)
        in[i] = GZ_PTR(i);
    int runs[4][10];
    for (int r = 0; r < 4; r++) {
        gz_imap *it = gz_pool_imap_unordered(p, echo, in, 10);
        for (int i = 0; i < 10; i++) {
            void *v;
            assert_int_equal(gz_imap_next(it, &v, GZ_FOREVER), 0);
            runs[r][i] = GZ_INT(v);
        }
        gz_imap_free(it);
    }
    for (int r = 1; r < 4; r++)
        assert_memory_equal(runs[0], runs[r], sizeof runs[0]);
    gz_pool_free(p);
}

static void imap_next_times_out_and_free_kills_running_items(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(2);
    void *in[4] = {NULL, NULL, NULL, NULL};
    gz_imap *it = gz_pool_imap(p, forever, in, 4);
    assert_fails(gz_imap_next(it, NULL, 0), ETIMEDOUT);
    assert_fails(gz_imap_next(it, NULL, 0.005), ETIMEDOUT);
    assert_int_equal(gz_pool_len(p), 2);
    gz_imap_free(it); /* the two running are killed, the rest never start */
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    assert_int_equal(gz_pool_len(p), 0);
    /* an empty input ends at once */
    it = gz_pool_imap(p, forever, NULL, 0);
    assert_non_null(it);
    assert_fails(gz_imap_next(it, NULL, GZ_FOREVER), EPIPE);
    gz_imap_free(it);
    gz_pool_free(p);
}

static gz_imap *shared_it;
static void *consumer(void *arg)
{
    (void)arg;
    void *v;
    if (gz_imap_next(shared_it, &v, GZ_FOREVER) != 0)
        return GZ_PTR(-errno);
    return v;
}

static void imap_consumers_are_served_in_fifo_order_and_free_wakes_with_epipe(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(0);
    void *in[2] = {GZ_PTR(2), GZ_PTR(1)};
    shared_it = gz_pool_imap(p, sleeper, in, 2);
    gz_greenlet *c[3] = {gz_spawn(consumer, NULL), gz_spawn(consumer, NULL),
                         gz_spawn(consumer, NULL)};
    assert_int_equal(gz_joinall(c, 3, GZ_FOREVER), 3);
    assert_int_equal(GZ_INT(gz_value(c[0])), 2);
    assert_int_equal(GZ_INT(gz_value(c[1])), 1);
    assert_int_equal(GZ_INT(gz_value(c[2])), -EPIPE);
    for (int i = 0; i < 3; i++)
        gz_release(c[i]);
    gz_imap_free(shared_it);
    /* a consumer waiting when the iterator is freed gets EPIPE */
    void *slow[1] = {GZ_PTR(1000)};
    shared_it = gz_pool_imap(p, sleeper, slow, 1);
    gz_greenlet *w = gz_spawn(consumer, NULL);
    gz_yield();
    gz_imap_free(shared_it);
    gz_join(w, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(w)), -EPIPE);
    gz_release(w);
    assert_int_equal(gz_pool_join(p, GZ_FOREVER), 0);
    gz_pool_free(p);
}

static void *joiner(void *arg)
{
    (void)arg;
    return GZ_PTR(gz_pool_join(pool, GZ_FOREVER) == 0 ? 0 : -errno);
}

static void free_kills_members_and_wakes_waiters_with_epipe(void **state)
{
    (void)state;
    pool = gz_pool_new(1);
    order[0] = 0;
    gz_greenlet *m = gz_pool_spawn(pool, forever, NULL);
    gz_greenlet *s = gz_spawn(spawner, "s");
    gz_greenlet *j = gz_spawn(joiner, NULL);
    void *in[3] = {NULL, NULL, NULL};
    gz_imap *it = gz_pool_imap(pool, forever, in, 3); /* its feeder waits */
    gz_yield();
    gz_pool_free(pool);
    pool = NULL;
    gz_greenlet *all[3] = {m, s, j};
    assert_int_equal(gz_joinall(all, 3, GZ_FOREVER), 3);
    assert_true(gz_killed(m));
    assert_int_equal(GZ_INT(gz_value(s)), -EPIPE);
    assert_int_equal(GZ_INT(gz_value(j)), -EPIPE);
    assert_string_equal(order, "");
    for (int i = 0; i < 3; i++)
        assert_fails(gz_imap_next(it, NULL, GZ_FOREVER), EPIPE);
    assert_fails(gz_imap_next(it, NULL, GZ_FOREVER), EPIPE);
    gz_imap_free(it);
    for (int i = 0; i < 3; i++)
        gz_release(all[i]);
}

static void free_revokes_a_slot_handed_to_a_spawner_not_yet_running(void **state)
{
    (void)state;
    pool = gz_pool_new(1);
    order[0] = 0;
    gz_greenlet *m = gz_pool_spawn(pool, tagger, "m"); /* ends after 2 ms */
    gz_greenlet *s = gz_spawn(spawner, "s");
    gz_yield(); /* s waits for the slot */
    /* m's end wakes its joiner (main) first, then hands the slot to s: main
     * runs before s and frees the pool under it. */
    gz_join(m, GZ_FOREVER);
    gz_pool_free(pool);
    pool = NULL;
    gz_join(s, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(s)), -EPIPE);
    assert_string_equal(order, "m");
    gz_release(m);
    gz_release(s);
}

static void main_joining_a_pool_stuck_forever_gets_edeadlk(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(1);
    gz_greenlet *stuck = gz_pool_spawn(p, forever, NULL);
    gz_yield();
    /* forever sleeps without a timer: nothing can end it */
    assert_fails(gz_pool_join(p, GZ_FOREVER), EDEADLK);
    errno = 0;
    assert_null(gz_pool_spawn(p, forever, NULL)); /* no slot will free up */
    assert_int_equal(errno, EDEADLK);
    assert_fails(gz_pool_wait_available(p, GZ_FOREVER), EDEADLK);
    gz_kill(stuck, GZ_FOREVER);
    gz_release(stuck);
    gz_pool_free(p);
}

static void killed_spawner_waiting_for_a_slot_gets_ecanceled(void **state)
{
    (void)state;
    pool = gz_pool_new(1);
    order[0] = 0;
    gz_greenlet *m = gz_pool_spawn(pool, forever, NULL);
    gz_greenlet *s = gz_spawn(spawner, "s");
    gz_yield();
    assert_int_equal(gz_kill(s, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(s)), -ECANCELED);
    assert_int_equal(gz_pool_len(pool), 1);
    assert_int_equal(gz_pool_free_count(pool), 0);
    assert_int_equal(gz_pool_kill(pool, GZ_FOREVER), 0);
    assert_int_equal(gz_pool_free_count(pool), 1);
    gz_release(m);
    gz_release(s);
    gz_pool_free(pool);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    gz_pool *p = gz_pool_new(1);
    void *out[1];
    assert_null(gz_pool_spawn(NULL, sleeper, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_pool_spawn(p, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_pool_join(NULL, 0), EINVAL);
    assert_fails(gz_pool_join(p, NAN), EINVAL);
    assert_fails(gz_pool_kill(NULL, 0), EINVAL);
    assert_fails(gz_pool_wait_available(NULL, 0), EINVAL);
    assert_fails(gz_pool_map(NULL, sleeper, NULL, NULL, 0), EINVAL);
    assert_fails(gz_pool_map(p, NULL, NULL, NULL, 0), EINVAL);
    assert_fails(gz_pool_map(p, sleeper, NULL, out, 1), EINVAL);
    assert_fails(gz_pool_map(p, sleeper, out, NULL, 1), EINVAL);
    assert_null(gz_pool_imap(NULL, sleeper, NULL, 0));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_pool_imap_unordered(p, sleeper, NULL, 3));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_imap_next(NULL, NULL, 0), EINVAL);
    assert_int_equal(gz_pool_len(NULL), 0);
    assert_int_equal(gz_pool_free_count(NULL), 0);
    gz_imap_free(NULL);
    gz_pool_free(NULL);
    gz_pool_free(p);
}

static void *fails_loudly(void *arg)
{
    (void)arg;
    gz_fail(EIO, "nobody looked");
}

/* The pool's own bookkeeping link does not count as observing a failure:
 * a released, unobserved member failure is still reported on stderr. */
static void release_a_failing_member(void *arg)
{
    (void)arg;
    gz_pool *pool = gz_pool_new(2);
    gz_greenlet *g = gz_pool_spawn(pool, fails_loudly, NULL);
    gz_release(g);
    gz_pool_join(pool, 1.0);
    gz_pool_free(pool);
}

static void unobserved_member_failure_is_still_reported(void **state)
{
    (void)state;
    char buf[1024];
    int status = gz_test_child(release_a_failing_member, NULL, buf, sizeof buf);
    assert_true(WIFEXITED(status));
    assert_non_null(strstr(buf, "failed with error 5"));
    assert_non_null(strstr(buf, "nobody looked"));
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawn_waits_for_a_free_slot),
        cmocka_unit_test(group_of_size_0_never_waits),
        cmocka_unit_test(slot_waiters_are_served_in_fifo_order),
        cmocka_unit_test(join_times_out_with_etimedout),
        cmocka_unit_test(kill_ends_every_member),
        cmocka_unit_test(kill_from_a_member_kills_the_others_and_is_edeadlk),
        cmocka_unit_test(add_tracks_a_greenlet_and_waits_for_a_slot),
        cmocka_unit_test(wait_available_waits_until_a_member_ends),
        cmocka_unit_test(map_returns_results_in_input_order),
        cmocka_unit_test(map_reports_the_first_failure_and_keeps_the_others),
        cmocka_unit_test(unobserved_member_failure_is_still_reported),
        cmocka_unit_test(imap_returns_results_in_input_order),
        cmocka_unit_test(imap_unordered_returns_results_in_completion_order),
        cmocka_unit_test(imap_failed_item_fails_at_its_place_and_iteration_goes_on),
        cmocka_unit_test(four_runs_of_imap_unordered_compare_equal),
        cmocka_unit_test(imap_next_times_out_and_free_kills_running_items),
        cmocka_unit_test(imap_consumers_are_served_in_fifo_order_and_free_wakes_with_epipe),
        cmocka_unit_test(free_kills_members_and_wakes_waiters_with_epipe),
        cmocka_unit_test(free_revokes_a_slot_handed_to_a_spawner_not_yet_running),
        cmocka_unit_test(main_joining_a_pool_stuck_forever_gets_edeadlk),
        cmocka_unit_test(killed_spawner_waiting_for_a_slot_gets_ecanceled),
        cmocka_unit_test(null_arguments_are_einval),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
