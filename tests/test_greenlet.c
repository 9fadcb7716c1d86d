/* greenlet.c: spawn, start, join, get, kill, links, state, failures. */
#include "gz_test.h"

static char trace[256];
static void note(const char *s) { strcat(trace, s); }

static void *add_one(void *arg) { return GZ_PTR(GZ_INT(arg) + 1); }

static void *noter(void *arg)
{
    note((const char *)arg);
    gz_yield();
    note((const char *)arg);
    return NULL;
}

static void spawned_greenlets_run_in_fifo_order(void **state)
{
    (void)state;
    trace[0] = 0;
    gz_greenlet *g[3] = {gz_spawn(noter, "a"), gz_spawn(noter, "b"),
                         gz_spawn(noter, "c")};
    assert_int_equal(gz_joinall(g, 3, GZ_FOREVER), 3);
    assert_string_equal(trace, "abcabc");
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
}

static void get_returns_the_value(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(add_one, GZ_PTR(41));
    assert_true(gz_started(g));
    assert_false(gz_ready(g));
    void *v = NULL;
    assert_int_equal(gz_get(g, &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), 42);
    assert_true(gz_ready(g));
    assert_true(gz_successful(g));
    assert_false(gz_killed(g));
    assert_int_equal(GZ_INT(gz_value(g)), 42);
    assert_null(gz_exception(g));
    gz_release(g);
}

static void *failing(void *arg)
{
    (void)arg;
    gz_fail(EPROTO, "You fail at %s.", "failing");
}

static void failure_is_reported_through_get_and_exception(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(failing, NULL);
    void *v = (void *)1;
    assert_fails(gz_get(g, &v, GZ_FOREVER), EPROTO);
    assert_ptr_equal(v, (void *)1);
    assert_true(gz_ready(g));
    assert_false(gz_successful(g));
    assert_null(gz_value(g));
    const gz_error *e = gz_exception(g);
    assert_non_null(e);
    assert_int_equal(e->code, EPROTO);
    assert_string_equal(e->message, "You fail at failing.");
    gz_release(g);
}

static void *exiter(void *arg)
{
    gz_exit(arg);
}

static void exit_ends_with_a_value(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(exiter, GZ_PTR(7));
    void *v;
    assert_int_equal(gz_get(g, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 7);
    gz_release(g);
}

static void *sleeper(void *arg)
{
    double s = *(double *)arg;
    int rc = gz_sleep(s);
    return GZ_PTR(rc == 0 ? 0 : errno);
}

static void kill_wakes_a_sleeper_with_ecanceled(void **state)
{
    (void)state;
    double s = 10;
    gz_greenlet *g = gz_spawn(sleeper, &s);
    gz_yield();
    assert_int_equal(gz_kill(g, 1.0), 0);
    assert_true(gz_ready(g));
    assert_true(gz_killed(g));
    assert_true(gz_successful(g));
    assert_int_equal(GZ_INT(gz_value(g)), ECANCELED);
    gz_release(g);
}

static int ran;
static void *mark_ran(void *arg)
{
    (void)arg;
    ran++;
    return NULL;
}

static int link_calls;
static void on_end(gz_greenlet *g, void *arg)
{
    (void)g;
    link_calls += GZ_INT(arg);
}

static void killed_before_start_never_runs_but_links_run(void **state)
{
    (void)state;
    ran = 0;
    link_calls = 0;
    gz_greenlet *g = gz_spawn(mark_ran, NULL);
    assert_int_equal(gz_link(g, on_end, GZ_PTR(1)), 0);
    assert_int_equal(gz_kill(g, 0), 0);
    assert_true(gz_ready(g));
    assert_true(gz_killed(g));
    gz_greenlet *n = gz_greenlet_new(mark_ran, NULL);
    assert_false(gz_started(n));
    assert_int_equal(gz_link(n, on_end, GZ_PTR(10)), 0);
    assert_int_equal(gz_kill(n, 0), 0);
    assert_int_equal(gz_start(n), 0); /* ended: a no-op */
    gz_sleep(0.01);
    assert_int_equal(ran, 0);
    assert_int_equal(link_calls, 11);
    gz_release(g);
    gz_release(n);
}

static void *kill_then_yield(void *arg)
{
    (void)arg;
    gz_kill(gz_current(), 0);
    int r1 = gz_yield();
    int e1 = errno;
    int r2 = gz_sleep(0);
    int e2 = errno;
    return GZ_PTR(r1 == -1 && e1 == ECANCELED && r2 == -1 && e2 == ECANCELED);
}

static void killed_greenlet_calls_keep_failing_until_it_ends(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(kill_then_yield, NULL);
    void *v;
    assert_int_equal(gz_get(g, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 1);
    gz_release(g);
}

static void join_times_out(void **state)
{
    (void)state;
    double s = 1.0;
    gz_greenlet *g = gz_spawn(sleeper, &s);
    assert_fails(gz_join(g, 0.01), ETIMEDOUT);
    assert_fails(gz_join(g, 0), ETIMEDOUT);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    gz_release(g);
}

static void greenlet_new_waits_for_start(void **state)
{
    (void)state;
    ran = 0;
    gz_greenlet *g = gz_greenlet_new(mark_ran, NULL);
    gz_sleep(0.001);
    assert_int_equal(ran, 0);
    assert_int_equal(gz_start(g), 0);
    assert_true(gz_started(g));
    assert_int_equal(gz_join(g, 1.0), 0);
    assert_int_equal(ran, 1);
    gz_release(g);
}

static void spawn_later_and_start_later_wait(void **state)
{
    (void)state;
    ran = 0;
    double t0 = gz_now();
    gz_greenlet *g = gz_spawn_later(0.02, mark_ran, NULL);
    gz_greenlet *h = gz_greenlet_new(mark_ran, NULL);
    assert_int_equal(gz_start_later(h, 0.02), 0);
    gz_yield();
    assert_int_equal(ran, 0);
    gz_greenlet *both[2] = {g, h};
    assert_int_equal(gz_joinall(both, 2, 1.0), 2);
    assert_int_equal(ran, 2);
    assert_true(gz_now() - t0 >= 0.019);
    gz_release(g);
    gz_release(h);
}

static void names_default_and_set(void **state)
{
    (void)state;
    assert_string_equal(gz_name(gz_current()), "main");
    gz_greenlet *g = gz_greenlet_new(mark_ran, NULL);
    assert_memory_equal(gz_name(g), "Greenlet-", 9);
    assert_int_equal(gz_set_name(g, "worker"), 0);
    assert_string_equal(gz_name(g), "worker");
    gz_release(g);
}

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    assert_null(gz_spawn(NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_greenlet_new(NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_spawn_later(NAN, mark_ran, NULL));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_start(NULL), EINVAL);
    assert_fails(gz_start_later(NULL, 1), EINVAL);
    assert_fails(gz_join(NULL, 1), EINVAL);
    assert_fails(gz_get(NULL, NULL, 1), EINVAL);
    assert_fails(gz_kill(NULL, 1), EINVAL);
    assert_fails(gz_kill(gz_current(), 0), EINVAL); /* main */
    assert_fails(gz_join(gz_current(), 0), EINVAL);
    assert_fails(gz_link(NULL, on_end, NULL), EINVAL);
    assert_fails(gz_set_name(NULL, "x"), EINVAL);
    assert_fails(gz_killall(NULL, 2, 0), EINVAL);
    errno = 0;
    assert_int_equal(gz_joinall(NULL, 1, 0), 0);
    assert_int_equal(errno, EINVAL);
    assert_false(gz_started(NULL));
    assert_false(gz_ready(NULL));
    assert_null(gz_value(NULL));
    assert_null(gz_exception(NULL));
    assert_null(gz_name(NULL));
    gz_release(NULL);
}

static int link_rc, link_errno;
static void blocking_link(gz_greenlet *g, void *arg)
{
    (void)g;
    (void)arg;
    link_rc = gz_sleep(0.01);
    link_errno = errno;
}

static void blocking_inside_a_link_callback_is_eperm(void **state)
{
    (void)state;
    link_rc = 0;
    gz_greenlet *g = gz_spawn(add_one, GZ_PTR(1));
    assert_int_equal(gz_link(g, blocking_link, NULL), 0);
    assert_int_equal(gz_join(g, 1.0), 0);
    assert_int_equal(link_rc, -1);
    assert_int_equal(link_errno, EPERM);
    /* Linking an ended greenlet runs the callback at once. */
    link_rc = 0;
    assert_int_equal(gz_link(g, blocking_link, NULL), 0);
    assert_int_equal(link_errno, EPERM);
    gz_release(g);
}

static void release_in_link(gz_greenlet *g, void *arg)
{
    (*(int *)arg)++;
    gz_release(g);
}

static void a_link_may_release_the_greenlet(void **state)
{
    (void)state;
    int calls = 0;
    gz_greenlet *g = gz_spawn(add_one, GZ_PTR(1));
    assert_int_equal(gz_link(g, release_in_link, &calls), 0);
    gz_sleep(0.001);
    assert_int_equal(calls, 1);
}

static void fail_unobserved(void *arg)
{
    (void)arg;
    gz_greenlet *g = gz_spawn(failing, NULL);
    gz_set_name(g, "loser");
    gz_join(g, 1.0);
    gz_release(g); /* nobody looked: reported here */
    gz_greenlet *h = gz_spawn(failing, NULL);
    gz_release(h); /* released first: reported when it fails */
    gz_sleep(0.01);
}

static void fail_observed(void *arg)
{
    (void)arg;
    gz_greenlet *g = gz_spawn(failing, NULL);
    gz_get(g, NULL, 1.0);
    gz_release(g);
}

static void unobserved_failures_are_reported_once(void **state)
{
    (void)state;
    char buf[2048];
    gz_test_child(fail_unobserved, NULL, buf, sizeof buf);
    const char *first = strstr(buf, "greenlet loser failed with error 71");
    assert_non_null(first);
    assert_non_null(strstr(first, "You fail at failing."));
    assert_null(strstr(first + 1, "greenlet loser failed")); /* once */
    assert_non_null(strstr(buf, "greenlet Greenlet-"));
    gz_test_child(fail_observed, NULL, buf, sizeof buf);
    assert_string_equal(buf, "");
}

static void releasing_a_never_started_greenlet_drops_its_links(void **state)
{
    (void)state;
    link_calls = 0;
    gz_greenlet *g = gz_greenlet_new(mark_ran, NULL);
    assert_int_equal(gz_link(g, on_end, GZ_PTR(1)), 0);
    gz_release(g); /* nothing can start it: freed with its link (ASan: no leak) */
    gz_sleep(0.001);
    assert_int_equal(link_calls, 0);
}

static void *join_forever(void *arg)
{
    int rc = gz_join((gz_greenlet *)arg, GZ_FOREVER);
    return GZ_PTR(rc == 0 ? 0 : errno);
}

static void joiners_of_a_released_never_started_greenlet_are_let_go(void **state)
{
    (void)state;
    gz_greenlet *never = gz_greenlet_new(mark_ran, NULL);
    gz_greenlet *j = gz_spawn(join_forever, never);
    gz_yield(); /* j waits on NEVER */
    gz_release(never);
    void *v;
    assert_int_equal(gz_get(j, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), ECANCELED);
    gz_release(j);
}

static void *kill_target(void *arg)
{
    return GZ_PTR(gz_kill((gz_greenlet *)arg, GZ_FOREVER));
}

static void killall_ends_every_greenlet(void **state)
{
    (void)state;
    double s = 10;
    gz_greenlet *g[3] = {gz_spawn(sleeper, &s), gz_spawn(sleeper, &s),
                         gz_spawn(mark_ran, NULL)};
    gz_yield();
    assert_int_equal(gz_killall(g, 3, 1.0), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(gz_ready(g[i]));
        gz_release(g[i]);
    }
    /* A greenlet may kill another and wait for it. */
    gz_greenlet *victim = gz_spawn(sleeper, &s);
    gz_greenlet *killer = gz_spawn(kill_target, victim);
    void *v;
    assert_int_equal(gz_get(killer, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 0);
    assert_true(gz_killed(victim));
    gz_release(victim);
    gz_release(killer);
}

static void *join_self(void *arg)
{
    (void)arg;
    int rc = gz_join(gz_current(), 1.0);
    return GZ_PTR(rc == -1 && errno == EDEADLK);
}

static void joining_oneself_is_edeadlk(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(join_self, NULL);
    void *v;
    assert_int_equal(gz_get(g, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 1);
    gz_release(g);
}

static void joinall_counts_what_ended_on_timeout(void **state)
{
    (void)state;
    double s = 10;
    gz_greenlet *g[2] = {gz_spawn(mark_ran, NULL), gz_spawn(sleeper, &s)};
    errno = 0;
    assert_int_equal(gz_joinall(g, 2, 0.01), 1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(gz_kill(g[1], 1.0), 0);
    gz_release(g[0]);
    gz_release(g[1]);
}

/* ---- shields, and calls of a killed greenlet ---- */

typedef struct shielded {
    int sleep_rc, sleep_err, end_rc, end_err, after_err;
} shielded;

static void *shielded_sleep(void *arg)
{
    shielded *r = arg;
    if (gz_shield_begin() != 0)
        return NULL;
    errno = 0;
    r->sleep_rc = gz_sleep(0.02); /* the kill arrives meanwhile */
    r->sleep_err = errno;
    errno = 0;
    r->end_rc = gz_shield_end();
    r->end_err = errno;
    gz_sleep(1.0);
    r->after_err = errno;
    return GZ_PTR(1);
}

static void shield_defers_a_kill_to_its_end(void **state)
{
    (void)state;
    shielded r = {0};
    gz_greenlet *g = gz_spawn(shielded_sleep, &r);
    assert_int_equal(gz_sleep(0.001), 0);
    double t0 = gz_now();
    assert_int_equal(gz_kill(g, 0), 0);
    assert_true(gz_killed(g));  /* the kill reached it, held back */
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_true(gz_now() - t0 < 0.9); /* the sleep after the shield was cut */
    assert_int_equal(r.sleep_rc, 0);
    assert_int_equal(r.end_rc, -1);
    assert_int_equal(r.end_err, ECANCELED);
    assert_int_equal(r.after_err, ECANCELED);
    gz_release(g);
}

static void *killed_then_shielded(void *arg)
{
    shielded *r = arg;
    if (gz_sleep(10) == 0 || errno != ECANCELED)
        return NULL;
    /* Killed: a shield lets it block again for its clean-up. */
    gz_shield_begin();
    errno = 0;
    r->sleep_rc = gz_sleep(0.001);
    r->sleep_err = errno;
    r->end_rc = gz_shield_end();
    r->end_err = errno;
    return GZ_PTR(1);
}

static void greenlet_killed_before_its_shield_may_block_inside(void **state)
{
    (void)state;
    shielded r = {0};
    gz_greenlet *g = gz_spawn(killed_then_shielded, &r);
    assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(g), GZ_PTR(1));
    assert_int_equal(r.sleep_rc, 0);
    assert_int_equal(r.end_rc, -1);
    assert_int_equal(r.end_err, ECANCELED);
    gz_release(g);
}

static void *nested_shields(void *arg)
{
    shielded *r = arg;
    gz_shield_begin();
    gz_shield_begin();
    gz_sleep(0.01); /* killed meanwhile */
    r->end_rc = gz_shield_end(); /* inner: still shielded */
    r->sleep_rc = gz_sleep(0.001);
    if (gz_shield_end() == -1)
        r->end_err = errno;
    /* A gz_timeout still fires inside a shield. */
    gz_shield_begin();
    gz_timeout *t = gz_timeout_start(0.005);
    errno = 0;
    gz_sleep(10);
    r->sleep_err = errno;
    gz_timeout_cancel(t);
    gz_shield_end();
    return GZ_PTR(1);
}

static void shields_nest_and_timeouts_fire_inside(void **state)
{
    (void)state;
    shielded r = {.end_rc = 99, .sleep_rc = 99};
    gz_greenlet *g = gz_spawn(nested_shields, &r);
    assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_int_equal(r.end_rc, 0);
    assert_int_equal(r.sleep_rc, 0);
    assert_int_equal(r.end_err, ECANCELED);
    assert_int_equal(r.sleep_err, ETIMEDOUT);
    gz_release(g);
    /* From main, and unbalanced. */
    assert_fails(gz_shield_end(), EINVAL);
    assert_int_equal(gz_shield_begin(), 0);
    assert_int_equal(gz_shield_end(), 0);
    assert_fails(gz_shield_end(), EINVAL);
}

typedef struct nowait {
    gz_queue *q;
    int get0_rc, get0_err, empty_err, block_err;
} nowait;

static void *killed_calls_that_cannot_block(void *arg)
{
    nowait *r = arg;
    gz_sleep(10); /* killed here */
    void *item = NULL;
    errno = 0;
    r->get0_rc = gz_queue_get(r->q, &item, 0); /* an item waits: it works */
    r->get0_err = errno;
    errno = 0;
    gz_queue_get(r->q, &item, 0); /* empty: a zero timeout's answer */
    r->empty_err = errno;
    errno = 0;
    gz_queue_get(r->q, &item, 1.0); /* could block: the kill */
    r->block_err = errno;
    return GZ_PTR(1);
}

static void killed_greenlet_may_still_call_what_cannot_block(void **state)
{
    (void)state;
    nowait r = {.q = gz_queue_new(0)};
    assert_int_equal(gz_queue_put(r.q, GZ_PTR(5), 0), 0);
    gz_greenlet *g = gz_spawn(killed_calls_that_cannot_block, &r);
    assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_int_equal(r.get0_rc, 0);
    assert_int_equal(r.empty_err, ETIMEDOUT);
    assert_int_equal(r.block_err, ECANCELED);
    gz_release(g);
    gz_queue_free(r.q);
}

static int children_done;

static void *child_cleans_up(void *arg)
{
    (void)arg;
    gz_sleep(10); /* killed */
    gz_shield_begin();
    gz_sleep(0.01); /* its own clean-up takes time */
    children_done++;
    gz_shield_end();
    return NULL;
}

static void *parent_of_two(void *arg)
{
    (void)arg;
    gz_greenlet *c[2] = {gz_spawn(child_cleans_up, NULL),
                         gz_spawn(child_cleans_up, NULL)};
    gz_sleep(10); /* killed here, shield-less */
    /* The caller's own kill does not cut the wait for its children. */
    int rc = gz_killall(c, 2, GZ_FOREVER);
    int ended = gz_ready(c[0]) + gz_ready(c[1]);
    gz_greenlet *third = gz_spawn(child_cleans_up, NULL); /* never runs */
    int rc1 = gz_kill(third, GZ_FOREVER);
    ended += gz_ready(third);
    gz_release(c[0]);
    gz_release(c[1]);
    gz_release(third);
    return rc == 0 && rc1 == 0 && ended == 3 ? GZ_PTR(1) : NULL;
}

static void killed_parent_waits_for_the_children_it_kills(void **state)
{
    (void)state;
    children_done = 0;
    gz_greenlet *p = gz_spawn(parent_of_two, NULL);
    assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_kill(p, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(p), GZ_PTR(1));
    assert_int_equal(children_done, 2); /* the third never ran */
    gz_release(p);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawned_greenlets_run_in_fifo_order),
        cmocka_unit_test(get_returns_the_value),
        cmocka_unit_test(failure_is_reported_through_get_and_exception),
        cmocka_unit_test(exit_ends_with_a_value),
        cmocka_unit_test(kill_wakes_a_sleeper_with_ecanceled),
        cmocka_unit_test(killed_before_start_never_runs_but_links_run),
        cmocka_unit_test(killed_greenlet_calls_keep_failing_until_it_ends),
        cmocka_unit_test(join_times_out),
        cmocka_unit_test(greenlet_new_waits_for_start),
        cmocka_unit_test(spawn_later_and_start_later_wait),
        cmocka_unit_test(names_default_and_set),
        cmocka_unit_test(bad_arguments_are_einval),
        cmocka_unit_test(blocking_inside_a_link_callback_is_eperm),
        cmocka_unit_test(a_link_may_release_the_greenlet),
        cmocka_unit_test(unobserved_failures_are_reported_once),
        cmocka_unit_test(killall_ends_every_greenlet),
        cmocka_unit_test(releasing_a_never_started_greenlet_drops_its_links),
        cmocka_unit_test(joiners_of_a_released_never_started_greenlet_are_let_go),
        cmocka_unit_test(joining_oneself_is_edeadlk),
        cmocka_unit_test(joinall_counts_what_ended_on_timeout),
        cmocka_unit_test(shield_defers_a_kill_to_its_end),
        cmocka_unit_test(greenlet_killed_before_its_shield_may_block_inside),
        cmocka_unit_test(shields_nest_and_timeouts_fire_inside),
        cmocka_unit_test(killed_greenlet_may_still_call_what_cannot_block),
        cmocka_unit_test(killed_parent_waits_for_the_children_it_kills),
    };
    return cmocka_run_group_tests_name("greenlet", tests, NULL, NULL);
}
