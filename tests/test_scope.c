/* scope.c: gz_scope_open / spawn / close, failures, the owner's kill, grace,
 * nesting, misuse. */
#include <pthread.h>

#include "gz_test.h"

static int ended;

static void *sleeper(void *arg)
{
    if (gz_sleep(*(double *)arg) != 0)
        return NULL; /* killed: ends quietly */
    ended++;
    return GZ_PTR(1);
}

static void *failer(void *arg)
{
    gz_sleep(*(double *)arg);
    gz_fail(EPROTO, "member broke after %g s", *(double *)arg);
}

static void close_waits_for_every_member(void **state)
{
    (void)state;
    ended = 0;
    double t[3] = {0.01, 0.02, 0.0};
    gz_scope *s = gz_scope_open();
    assert_non_null(s);
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++)
        assert_non_null(g[i] = gz_scope_spawn(s, sleeper, &t[i]));
    assert_int_equal(gz_scope_close(s, GZ_FOREVER), 0);
    assert_int_equal(ended, 3);
    assert_null(gz_scope_error());
}

static void first_failure_kills_the_rest_and_is_reported(void **state)
{
    (void)state;
    ended = 0;
    double slow = 10.0, quick = 0.01;
    gz_scope *s = gz_scope_open();
    gz_greenlet *a = gz_scope_spawn(s, sleeper, &slow);
    gz_greenlet *b = gz_scope_spawn(s, failer, &quick);
    assert_non_null(a);
    assert_non_null(b);
    double t0 = gz_now();
    assert_fails(gz_scope_close(s, GZ_FOREVER), EPROTO);
    assert_true(gz_now() - t0 < 5.0); /* not the sleeper's 10 s */
    assert_int_equal(ended, 0);
    const gz_error *e = gz_scope_error();
    assert_non_null(e);
    assert_int_equal(e->code, EPROTO);
    assert_string_equal(e->message, "member broke after 0.01 s");
    /* The next close forgets it. */
    s = gz_scope_open();
    assert_int_equal(gz_scope_close(s, 0), 0);
    assert_null(gz_scope_error());
}

static void grace_expiry_kills_the_rest(void **state)
{
    (void)state;
    ended = 0;
    double slow = 10.0, quick = 0.001;
    gz_scope *s = gz_scope_open();
    gz_scope_spawn(s, sleeper, &quick);
    gz_scope_spawn(s, sleeper, &slow);
    double t0 = gz_now();
    assert_fails(gz_scope_close(s, 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 < 5.0);
    assert_int_equal(ended, 1);
}

static gz_scope *shared_scope;

static void *member_spawning_more(void *arg)
{
    (void)arg;
    static double t = 0.005;
    /* Any greenlet of the thread may add members while the scope is open. */
    return gz_scope_spawn(shared_scope, sleeper, &t) ? GZ_PTR(1) : NULL;
}

static void members_may_spawn_members(void **state)
{
    (void)state;
    ended = 0;
    shared_scope = gz_scope_open();
    gz_scope_spawn(shared_scope, member_spawning_more, NULL);
    assert_int_equal(gz_scope_close(shared_scope, GZ_FOREVER), 0);
    assert_int_equal(ended, 1);
}

static int inner_members_ended_by_kill;

static void *inner_member(void *arg)
{
    (void)arg;
    if (gz_sleep(10) != 0 && errno == ECANCELED)
        inner_members_ended_by_kill++;
    return NULL;
}

/* An owner of a nested scope: opens it, fills it, closes it. */
static void *nested_owner(void *arg)
{
    int n = *(int *)arg;
    gz_scope *s = gz_scope_open();
    for (int i = 0; i < n; i++)
        gz_scope_spawn(s, inner_member, NULL);
    if (gz_scope_close(s, GZ_FOREVER) != 0)
        return errno == ECANCELED ? GZ_PTR(2) : NULL;
    return GZ_PTR(1);
}

static void killed_owner_kills_its_members(void **state)
{
    (void)state;
    inner_members_ended_by_kill = 0;
    int n = 3;
    gz_greenlet *owner = gz_spawn(nested_owner, &n);
    assert_int_equal(gz_sleep(0.01), 0); /* the owner waits in close */
    assert_int_equal(gz_kill(owner, GZ_FOREVER), 0);
    /* Its close waited for the killed members before it returned. */
    assert_int_equal(inner_members_ended_by_kill, 3);
    assert_ptr_equal(gz_value(owner), GZ_PTR(2));
    gz_release(owner);
}

static void nested_scopes_are_cancelled_from_the_outside(void **state)
{
    (void)state;
    inner_members_ended_by_kill = 0;
    int n = 2;
    double quick = 0.01;
    gz_scope *outer = gz_scope_open();
    gz_scope_spawn(outer, nested_owner, &n);
    gz_scope_spawn(outer, nested_owner, &n);
    gz_scope_spawn(outer, failer, &quick);
    assert_fails(gz_scope_close(outer, GZ_FOREVER), EPROTO);
    assert_int_equal(inner_members_ended_by_kill, 4);
}

static void *sleep_then_close(void *arg)
{
    gz_scope *s = gz_scope_open();
    double t = 10;
    gz_scope_spawn(s, sleeper, &t);
    gz_sleep(*(double *)arg); /* killed here, before it closes */
    return gz_scope_close(s, GZ_FOREVER) == -1 && errno == ECANCELED ? GZ_PTR(1) : NULL;
}

static void owner_killed_before_close_cancels_and_close_says_so(void **state)
{
    (void)state;
    ended = 0;
    double t = 10;
    gz_greenlet *owner = gz_spawn(sleep_then_close, &t);
    gz_sleep(0.005);
    assert_int_equal(gz_kill(owner, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(owner), GZ_PTR(1));
    assert_int_equal(ended, 0);
    gz_release(owner);
}

static void *close_others_scope(void *arg)
{
    return gz_scope_close(arg, 0) == -1 && errno == EPERM ? GZ_PTR(1) : NULL;
}

static void *leave_scope_open(void *arg)
{
    gz_scope *s = gz_scope_open();
    gz_scope_spawn(s, inner_member, NULL);
    (void)arg;
    gz_sleep(0.001); /* the member waits in its sleep */
    return NULL; /* ends without closing: its member is killed */
}

static void misuse_is_refused(void **state)
{
    (void)state;
    gz_scope *s = gz_scope_open();
    assert_non_null(s);
    errno = 0;
    assert_null(gz_scope_spawn(NULL, sleeper, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_scope_spawn(s, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_scope_close(NULL, 0), EINVAL);
    assert_fails(gz_scope_close(s, NAN), EINVAL);
    /* Only the owner closes. */
    gz_greenlet *g = gz_spawn(close_others_scope, s);
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(g), GZ_PTR(1));
    gz_release(g);
    /* A failed scope takes no new members. */
    double quick = 0;
    gz_scope_spawn(s, failer, &quick);
    assert_int_equal(gz_sleep(0.001), 0);
    errno = 0;
    assert_null(gz_scope_spawn(s, sleeper, &quick));
    assert_int_equal(errno, ECANCELED);
    assert_fails(gz_scope_close(s, 0), EPROTO);
}

static void *use_scope_from_other_thread(void *arg)
{
    if (gz_scope_spawn(arg, sleeper, NULL) || errno != EXDEV)
        return NULL;
    return gz_scope_close(arg, 0) == -1 && errno == EXDEV ? GZ_PTR(1) : NULL;
}

static void another_threads_scope_is_exdev(void **state)
{
    (void)state;
    gz_scope *s = gz_scope_open();
    pthread_t t;
    void *ok = NULL;
    assert_int_equal(pthread_create(&t, NULL, use_scope_from_other_thread, s), 0);
    pthread_join(t, &ok);
    assert_ptr_equal(ok, GZ_PTR(1));
    assert_int_equal(gz_scope_close(s, 0), 0);
}

static void end_with_open_scope(void *arg)
{
    (void)arg;
    inner_members_ended_by_kill = 0;
    gz_greenlet *g = gz_spawn(leave_scope_open, NULL);
    gz_set_name(g, "careless");
    if (gz_join(g, GZ_FOREVER) != 0 || gz_sleep(0.001) != 0)
        _exit(2);
    gz_release(g);
    _exit(inner_members_ended_by_kill == 1 ? 0 : 3);
}

static void owner_ending_with_an_open_scope_kills_its_members(void **state)
{
    (void)state;
    char buf[512];
    int st = gz_test_child(end_with_open_scope, NULL, buf, sizeof buf);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_true(gz_test_has_line(
        buf, "^libgzmq: greenlet careless ended without closing its scope: "
             "its members were killed$"));
}

static void use_after_close(void *arg)
{
    (void)arg;
    gz_scope *s = gz_scope_open();
    gz_scope_close(s, 0);
    gz_scope_close(s, 0);
}

static void use_after_close_aborts_in_debug_builds(void **state)
{
    (void)state;
#ifdef GZ_DEBUG
    char buf[512];
    int st = gz_test_child(use_after_close, NULL, buf, sizeof buf);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    assert_true(gz_test_has_line(buf, "gz_scope_close: .* is not a live gz_scope"));
#else
    (void)use_after_close;
    skip();
#endif
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_waits_for_every_member),
        cmocka_unit_test(first_failure_kills_the_rest_and_is_reported),
        cmocka_unit_test(grace_expiry_kills_the_rest),
        cmocka_unit_test(members_may_spawn_members),
        cmocka_unit_test(killed_owner_kills_its_members),
        cmocka_unit_test(nested_scopes_are_cancelled_from_the_outside),
        cmocka_unit_test(owner_killed_before_close_cancels_and_close_says_so),
        cmocka_unit_test(misuse_is_refused),
        cmocka_unit_test(another_threads_scope_is_exdev),
        cmocka_unit_test(owner_ending_with_an_open_scope_kills_its_members),
        cmocka_unit_test(use_after_close_aborts_in_debug_builds),
    };
    return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}
