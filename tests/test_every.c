/* every.c: gz_every keeps to its schedule, skips and counts missed ticks,
 * stops on a non-NULL return or a kill. */
#include "gz_test.h"

#define INTERVAL 0.001
#define TICKS 1000

typedef struct drift {
    double start;
    int calls;
    long long k;       /* the tick this call is for: calls + missed */
    double lag_min;    /* over the last 100 calls: (elapsed - k) in ticks */
    double lag_min_early; /* the same over the first 100 */
    double early;      /* the most a call came before its tick, in ticks */
} drift;

static void *tick(void *arg)
{
    drift *d = arg;
    d->calls++;
    long long missed = gz_every_missed(gz_current());
    if (missed < 0)
        return GZ_PTR(2);
    d->k = d->calls + missed;
    double lag = (gz_now() - d->start) / INTERVAL - (double)d->k;
    if (-lag > d->early)
        d->early = -lag;
    if (d->k > TICKS - 100 && lag < d->lag_min)
        d->lag_min = lag;
    if (d->k <= 100 && lag < d->lag_min_early)
        d->lag_min_early = lag;
    if (d->calls % 97 == 0)
        gz_sleep(3.5 * INTERVAL); /* overrun: the ticks it spans are skipped */
    return d->k >= TICKS ? GZ_PTR(1) : NULL;
}

/* No drift over 1000 ticks: the tick number (calls + missed) matches the
 * elapsed time within one tick. A schedule counted from when fn returned
 * would fall behind by fn's time and the wake-up latency at every tick.
 * The lag of a call is its wake-up latency; on a machine so loaded (or
 * under valgrind) that no wake-up comes within a tick, the lag at the end
 * must still be within one tick of the lag at the start: it did not grow. */
static void ticks_keep_to_the_schedule(void **state)
{
    (void)state;
    drift d = {.lag_min = 1e9, .lag_min_early = 1e9};
    gz_sleep(1e-6); /* a poll: gz_now is fresh */
    d.start = gz_now();
    gz_greenlet *g = gz_every(INTERVAL, tick, &d);
    assert_non_null(g);
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(g), GZ_PTR(1));
    assert_true(d.k >= TICKS);
    assert_true(d.calls < d.k); /* overruns were skipped, not bunched */
    assert_true(d.early < 0.5);  /* no call before its tick */
    assert_true(d.lag_min < 1.0 || d.lag_min < d.lag_min_early + 1.0);
    gz_release(g);
}

static int counted;

static void *count_forever(void *arg)
{
    (void)arg;
    counted++;
    return NULL;
}

static void kill_stops_it(void **state)
{
    (void)state;
    counted = 0;
    gz_greenlet *g = gz_every(0.002, count_forever, NULL);
    assert_int_equal(gz_sleep(0.02), 0);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    int seen = counted;
    assert_true(seen >= 1);
    assert_int_equal(gz_sleep(0.01), 0);
    assert_int_equal(counted, seen);
    assert_null(gz_value(g));
    errno = 0;
    assert_int_equal(gz_every_missed(g), -1); /* ended */
    assert_int_equal(errno, ESRCH);
    gz_release(g);
}

static void *stop_at_third(void *arg)
{
    int *n = arg;
    return ++*n == 3 ? GZ_PTR(7) : NULL;
}

static void first_tick_after_one_interval_and_stop_on_value(void **state)
{
    (void)state;
    int n = 0;
    gz_greenlet *g = gz_every(0.005, stop_at_third, &n);
    assert_int_equal(gz_every_missed(g), 0);
    assert_int_equal(gz_sleep(0), 0);
    assert_int_equal(n, 0); /* not at once */
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_int_equal(n, 3);
    assert_ptr_equal(gz_value(g), GZ_PTR(7));
    gz_release(g);
}

static void bad_arguments(void **state)
{
    (void)state;
    errno = 0;
    assert_null(gz_every(0.1, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    double bad[] = {0, -1, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(gz_every(bad[i], count_forever, NULL));
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_int_equal(gz_every_missed(NULL), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(gz_every_missed(gz_current()), -1); /* main: not one */
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ticks_keep_to_the_schedule),
        cmocka_unit_test(kill_stops_it),
        cmocka_unit_test(first_tick_after_one_interval_and_stop_on_value),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests_name("every", tests, NULL, NULL);
}
