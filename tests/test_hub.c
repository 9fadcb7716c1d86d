/* hub.c: scheduling order, sleep/yield, gz_run, deadlock, shutdown,
 * gz_use_loop, one hub per thread, stack size. */
#include <pthread.h>
#include <ev.h>

#include "gz_test.h"

static char trace[512];
static void note(const char *s) { strcat(trace, s); }

static void *sleep_note(void *arg)
{
    const char *s = arg;
    gz_sleep((s[0] - '0') * 0.01);
    note(s);
    return NULL;
}

static void timers_fire_in_deadline_order(void **state)
{
    (void)state;
    trace[0] = 0;
    gz_greenlet *g[4] = {gz_spawn(sleep_note, "3"), gz_spawn(sleep_note, "1"),
                         gz_spawn(sleep_note, "2"), gz_spawn(sleep_note, "1")};
    assert_int_equal(gz_joinall(g, 4, 2.0), 4);
    assert_string_equal(trace, "1123");
    for (int i = 0; i < 4; i++)
        gz_release(g[i]);
}

static void *zero_sleeper(void *arg)
{
    (void)arg;
    gz_sleep(0.0);
    note("z");
    return NULL;
}

static void equal_deadlines_fire_in_arm_order(void **state)
{
    (void)state;
    trace[0] = 0;
    enum { N = 20 };
    gz_greenlet *g[N];
    for (int i = 0; i < N; i++)
        g[i] = gz_spawn_later(0.0, zero_sleeper, NULL);
    for (int i = 0; i < N; i++)
        gz_set_name(g[i], "later");
    assert_int_equal(gz_joinall(g, N, 2.0), N);
    assert_int_equal(strlen(trace), N);
    for (int i = 0; i < N; i++)
        gz_release(g[i]);
}

static int order[16], norder;
static void *record(void *arg)
{
    order[norder++] = GZ_INT(arg);
    return NULL;
}

static void spawn_later_with_equal_delay_runs_in_spawn_order(void **state)
{
    (void)state;
    norder = 0;
    gz_greenlet *g[8];
    for (int i = 0; i < 8; i++)
        g[i] = gz_spawn_later(0.005, record, GZ_PTR(i));
    assert_int_equal(gz_joinall(g, 8, 2.0), 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(order[i], i);
        gz_release(g[i]);
    }
}

static void sleep_waits_at_least_its_time(void **state)
{
    (void)state;
    double t0 = gz_now();
    assert_int_equal(gz_sleep(0.03), 0);
    assert_true(gz_now() - t0 >= 0.029);
    assert_fails(gz_sleep(NAN), EINVAL);
}

static void yield_alone_returns_at_once(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(gz_yield(), 0);
}

static void forever_sleep_with_nothing_else_is_edeadlk(void **state)
{
    (void)state;
    assert_fails(gz_sleep(GZ_FOREVER), EDEADLK);
}

static void *block_forever(void *arg)
{
    (void)arg;
    gz_sleep(GZ_FOREVER);
    return GZ_PTR(errno);
}

static void join_on_a_stuck_greenlet_is_edeadlk(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(block_forever, NULL);
    assert_fails(gz_join(g, GZ_FOREVER), EDEADLK);
    /* The stuck greenlet stays blocked until killed. */
    assert_false(gz_ready(g));
    assert_fails(gz_run(), EDEADLK);
    assert_int_equal(gz_kill(g, 1.0), 0);
    assert_int_equal(GZ_INT(gz_value(g)), ECANCELED);
    gz_release(g);
}

/* ---- timeouts kept in the heap after an early wake (timer.h) ---- */

static gz_queue *tq;
static gz_event *tev;

/* Woken at once from a wait with a short timeout, then wait longer: the
 * timer kept from the first wait must not end the second early. */
static void *wait_again_longer(void *arg)
{
    (void)arg;
    void *item;
    if (gz_queue_get(tq, &item, 0.02) != 0)
        return NULL;
    if (gz_queue_get(tq, &item, 0.2) == -1 && errno == ETIMEDOUT)
        note("A");
    return NULL;
}

/* Woken at once from a wait with a long timeout, then wait shorter: the
 * second wait must end at its own deadline, not the kept one. */
static void *wait_again_shorter(void *arg)
{
    (void)arg;
    void *item;
    if (gz_queue_get(tq, &item, 0.3) != 0)
        return NULL;
    if (gz_queue_get(tq, &item, 0.02) == -1 && errno == ETIMEDOUT)
        note("A");
    return NULL;
}

static void *sleep_then_note_b(void *arg)
{
    gz_sleep(*(double *)arg);
    note("B");
    return NULL;
}

static void a_timeout_armed_again_ends_at_its_own_deadline(void **state)
{
    (void)state;
    void *(*fns[2])(void *) = {wait_again_longer, wait_again_shorter};
    const char *want[2] = {"BA", "AB"};
    for (int i = 0; i < 2; i++) {
        trace[0] = 0;
        tq = gz_queue_new(0);
        gz_greenlet *a = gz_spawn(fns[i], NULL);
        assert_int_equal(gz_yield(), 0); /* a waits */
        assert_int_equal(gz_queue_put(tq, NULL, 0), 0);
        double b_sleeps = 0.1;
        gz_greenlet *b = gz_spawn(sleep_then_note_b, &b_sleeps);
        assert_int_equal(gz_join(a, 2.0), 0);
        assert_int_equal(gz_join(b, 2.0), 0);
        assert_string_equal(trace, want[i]);
        gz_release(a);
        gz_release(b);
        gz_queue_free(tq);
    }
}

/* Both sleep for the same time from the same loop turn, b first: equal
 * deadlines, so b wakes first, though a's timer sits earlier in the heap
 * from its first wait. */
static void *wait_then_sleep_a(void *arg)
{
    void *item;
    if (gz_queue_get(tq, &item, 0.01) != 0)
        return NULL;
    gz_sleep(*(double *)arg);
    note("A");
    return NULL;
}

static void *wait_then_sleep_b(void *arg)
{
    if (gz_event_wait(tev, 1.0) != 0)
        return NULL;
    gz_sleep(*(double *)arg);
    note("B");
    return NULL;
}

static void a_timer_kept_in_the_heap_keeps_arm_order(void **state)
{
    (void)state;
    trace[0] = 0;
    tq = gz_queue_new(0);
    tev = gz_event_new();
    double t = 0.05;
    gz_greenlet *a = gz_spawn(wait_then_sleep_a, &t);
    gz_greenlet *b = gz_spawn(wait_then_sleep_b, &t);
    assert_int_equal(gz_yield(), 0); /* both wait */
    gz_event_set(tev);                /* b runs first, then a */
    assert_int_equal(gz_queue_put(tq, NULL, 0), 0);
    assert_int_equal(gz_join(a, 2.0), 0);
    assert_int_equal(gz_join(b, 2.0), 0);
    assert_string_equal(trace, "BA");
    gz_release(a);
    gz_release(b);
    gz_queue_free(tq);
    gz_event_free(tev);
}

static void *put_one(void *arg)
{
    return GZ_PTR(gz_queue_put(arg, NULL, 0));
}

static void *wait_then_block(void *arg)
{
    void *item;
    if (gz_queue_get(arg, &item, 30.0) != 0)
        return NULL;
    gz_sleep(GZ_FOREVER);
    return NULL;
}

/* A greenlet's timer stays in the heap after its wait ends early; a wait
 * without a deadline must still let the deadlock be found at once, not
 * when the old timeout would have run out. */
static void a_timeout_that_ended_early_does_not_delay_deadlock(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    double t0 = gz_now();
    gz_greenlet *g = gz_spawn(wait_then_block, q);
    gz_greenlet *p = gz_spawn(put_one, q);
    assert_fails(gz_join(g, GZ_FOREVER), EDEADLK);
    assert_true(gz_now() - t0 < 15.0); /* not the 30 s */
    assert_int_equal(gz_join(p, 1.0), 0);
    assert_int_equal(gz_kill(g, 1.0), 0);
    gz_release(g);
    gz_release(p);
    gz_queue_free(q);
}

static int counter;
static void *count_after(void *arg)
{
    gz_sleep(*(double *)arg);
    counter++;
    return NULL;
}

static void run_returns_when_all_greenlets_end(void **state)
{
    (void)state;
    counter = 0;
    double d1 = 0.01, d2 = 0.02;
    gz_greenlet *a = gz_spawn(count_after, &d1);
    gz_greenlet *b = gz_spawn(count_after, &d2);
    gz_release(a);
    gz_release(b);
    assert_int_equal(gz_run(), 0);
    assert_int_equal(counter, 2);
    assert_int_equal(gz_run(), 0); /* nothing left: returns at once */
}

static void *shutdown_after(void *arg)
{
    (void)arg;
    gz_sleep(0.01);
    gz_shutdown();
    return NULL;
}

static void shutdown_from_a_greenlet_cancels_mains_wait(void **state)
{
    (void)state;
    gz_greenlet *sleeper = gz_spawn(block_forever, NULL);
    gz_greenlet *s = gz_spawn(shutdown_after, NULL);
    assert_fails(gz_join(sleeper, GZ_FOREVER), ECANCELED);
    assert_true(gz_ready(sleeper));
    assert_true(gz_killed(sleeper));
    assert_int_equal(gz_join(s, 1.0), 0);
    /* main is not left killed */
    assert_int_equal(gz_sleep(0.001), 0);
    gz_release(sleeper);
    gz_release(s);
}

static void shutdown_ends_gz_run(void **state)
{
    (void)state;
    gz_greenlet *a = gz_spawn(block_forever, NULL);
    gz_greenlet *s = gz_spawn(shutdown_after, NULL);
    assert_int_equal(gz_run(), 0);
    assert_true(gz_ready(a) && gz_ready(s));
    gz_release(a);
    gz_release(s);
}

static void shutdown_from_main_waits_for_the_others(void **state)
{
    (void)state;
    gz_greenlet *a = gz_spawn(block_forever, NULL);
    gz_greenlet *b = gz_spawn(block_forever, NULL);
    gz_yield();
    gz_shutdown();
    assert_true(gz_ready(a) && gz_ready(b));
    assert_true(gz_killed(a) && gz_killed(b));
    assert_int_equal(gz_sleep(0), 0);
    gz_release(a);
    gz_release(b);
}

/* ---- gz_use_loop and per-thread hubs (each in its own thread, since a
 * thread's hub is made once) ---- */

static void app_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    (*(int *)w->data)++;
}

static void *use_loop_thread(void *arg)
{
    (void)arg;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    long ok = gz_use_loop(loop) == 0 && gz_loop() == loop;
    errno = 0;
    ok &= gz_use_loop(loop) == -1 && errno == EBUSY;
    int fired = 0;
    ev_timer t;
    ev_timer_init(&t, app_timer_cb, 0.01, 0.);
    t.data = &fired;
    ev_timer_start(loop, &t);
    counter = 0;
    double d = 0.02;
    gz_greenlet *g = gz_spawn(count_after, &d);
    /* The application drives its own loop: greenlets run from it. */
    ev_run(loop, 0);
    ok &= fired == 1 && counter == 1 && gz_ready(g);
    gz_release(g);
    /* And gz_run serves the application's watchers too. */
    ev_timer_set(&t, 0.01, 0.);
    ev_timer_start(loop, &t);
    ok &= gz_run() == 0 && fired == 2;
    ev_loop_destroy(loop);
    return (void *)ok;
}

static void use_loop_runs_on_the_applications_loop(void **state)
{
    (void)state;
    assert_fails(gz_use_loop(NULL), EINVAL);
    pthread_t t;
    void *ok;
    assert_int_equal(pthread_create(&t, NULL, use_loop_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &ok), 0);
    assert_int_equal((long)ok, 1);
    assert_fails(gz_use_loop(gz_loop()), EBUSY); /* main's hub exists */
}

static void *ping(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 1000; i++) {
        (*n)++;
        gz_yield();
    }
    return NULL;
}

static void *thread_body(void *arg)
{
    int n = 0;
    gz_greenlet *g[4];
    for (int i = 0; i < 4; i++)
        g[i] = gz_spawn(ping, &n);
    size_t done = gz_joinall(g, 4, 5.0);
    for (int i = 0; i < 4; i++)
        gz_release(g[i]);
    *(int *)arg = done == 4 ? n : -1;
    return NULL;
}

static void each_thread_has_its_own_hub(void **state)
{
    (void)state;
    pthread_t t[2];
    int n[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_body, &n[i]), 0);
    int mine = 0;
    thread_body(&mine); /* main's hub runs at the same time */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(n[i], 4000);
    }
    assert_int_equal(mine, 4000);
}

/* ---- fairness: busy yielders do not starve I/O ---- */

static volatile int stop_spinning;
static void *spinner(void *arg)
{
    (void)arg;
    while (!stop_spinning)
        gz_yield();
    return NULL;
}

static void *reader(void *arg)
{
    int fd = *(int *)arg;
    int rc = gz_wait_read(fd, 5.0);
    stop_spinning = 1;
    return GZ_PTR(rc);
}

static void io_is_served_while_greenlets_keep_yielding(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    stop_spinning = 0;
    gz_greenlet *r = gz_spawn(reader, &p[0]);
    gz_greenlet *s1 = gz_spawn(spinner, NULL);
    gz_greenlet *s2 = gz_spawn(spinner, NULL);
    gz_yield();
    assert_int_equal(write(p[1], "x", 1), 1);
    void *v;
    assert_int_equal(gz_get(r, &v, 5.0), 0);
    assert_int_equal(GZ_INT(v), 0);
    gz_greenlet *all[2] = {s1, s2};
    assert_int_equal(gz_joinall(all, 2, 5.0), 2);
    gz_release(r);
    gz_release(s1);
    gz_release(s2);
    close(p[0]);
    close(p[1]);
}

static void stack_size_is_settable(void **state)
{
    (void)state;
    size_t old = gz_stack_size();
    assert_true(old >= 16 * 1024);
    assert_fails(gz_set_stack_size(1024), EINVAL);
    assert_fails(gz_set_stack_size((size_t)4 << 30), EINVAL);
    assert_int_equal(gz_set_stack_size(64 * 1024), 0);
    assert_int_equal(gz_stack_size(), 64 * 1024);
    gz_greenlet *g = gz_spawn(record, GZ_PTR(0));
    assert_int_equal(gz_join(g, 1.0), 0);
    gz_release(g);
    assert_int_equal(gz_set_stack_size(old), 0);
}

static void now_follows_the_loop_clock(void **state)
{
    (void)state;
    double a = gz_now();
    gz_sleep(0.01);
    assert_true(gz_now() > a);
    assert_true(gz_loop() != NULL);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(equal_deadlines_fire_in_arm_order),
        cmocka_unit_test(spawn_later_with_equal_delay_runs_in_spawn_order),
        cmocka_unit_test(sleep_waits_at_least_its_time),
        cmocka_unit_test(yield_alone_returns_at_once),
        cmocka_unit_test(forever_sleep_with_nothing_else_is_edeadlk),
        cmocka_unit_test(join_on_a_stuck_greenlet_is_edeadlk),
        cmocka_unit_test(a_timeout_armed_again_ends_at_its_own_deadline),
        cmocka_unit_test(a_timer_kept_in_the_heap_keeps_arm_order),
        cmocka_unit_test(a_timeout_that_ended_early_does_not_delay_deadlock),
        cmocka_unit_test(run_returns_when_all_greenlets_end),
        cmocka_unit_test(shutdown_from_a_greenlet_cancels_mains_wait),
        cmocka_unit_test(shutdown_ends_gz_run),
        cmocka_unit_test(shutdown_from_main_waits_for_the_others),
        cmocka_unit_test(use_loop_runs_on_the_applications_loop),
        cmocka_unit_test(each_thread_has_its_own_hub),
        cmocka_unit_test(io_is_served_while_greenlets_keep_yielding),
        cmocka_unit_test(stack_size_is_settable),
        cmocka_unit_test(now_follows_the_loop_clock),
    };
    return cmocka_run_group_tests_name("hub", tests, NULL, NULL);
}
