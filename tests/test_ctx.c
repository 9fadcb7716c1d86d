/* ctx_<arch>.S / ctx_ucontext.c: state preserved across switches. */
#include <fenv.h>

#include "gz_test.h"

static void *round_up_then_yield(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    gz_yield();
    return GZ_PTR(fegetround() == FE_UPWARD);
}

static void *check_default_rounding(void *arg)
{
    (void)arg;
    int before = fegetround();
    gz_yield();
    return GZ_PTR(before == FE_TONEAREST && fegetround() == FE_TONEAREST);
}

static void floating_point_modes_are_per_greenlet(void **state)
{
    (void)state;
    gz_greenlet *a = gz_spawn(round_up_then_yield, NULL);
    gz_greenlet *b = gz_spawn(check_default_rounding, NULL);
    void *va, *vb;
    assert_int_equal(gz_get(a, &va, 1.0), 0);
    assert_int_equal(gz_get(b, &vb, 1.0), 0);
    assert_int_equal(GZ_INT(va), 1);
    assert_int_equal(GZ_INT(vb), 1);
    assert_int_equal(fegetround(), FE_TONEAREST);
    gz_release(a);
    gz_release(b);
}

/* Values live in callee-saved registers across the yields in a tight loop;
 * a switch that lost one would corrupt the sums. */
static void *sum_with_yields(void *arg)
{
    long n = (long)arg, s1 = 0, s2 = 1, s3 = 2, s4 = 3;
    double d = 0.5;
    for (long i = 0; i < n; i++) {
        s1 += i;
        s2 ^= i * 7;
        s3 += s1 & 0xff;
        s4 -= i;
        d += 1.0;
        gz_yield();
    }
    return GZ_PTR(s1 + s2 + s3 + s4 + (long)d);
}

static long expected_sum(long n)
{
    long s1 = 0, s2 = 1, s3 = 2, s4 = 3;
    double d = 0.5;
    for (long i = 0; i < n; i++) {
        s1 += i;
        s2 ^= i * 7;
        s3 += s1 & 0xff;
        s4 -= i;
        d += 1.0;
    }
    return s1 + s2 + s3 + s4 + (long)d;
}

static void registers_survive_many_switches(void **state)
{
    (void)state;
    enum { N = 8 };
    gz_greenlet *g[N];
    for (int i = 0; i < N; i++)
        g[i] = gz_spawn(sum_with_yields, (void *)(long)(1000 + i));
    for (int i = 0; i < N; i++) {
        void *v;
        assert_int_equal(gz_get(g[i], &v, 5.0), 0);
        assert_int_equal((long)v, expected_sum(1000 + i));
        gz_release(g[i]);
    }
}

/* A greenlet that ends hands the CPU to the next ready one by returning
 * from its entry function into gz__ctx_start (x86_64), not through the
 * switch: that path restores registers and FP modes too, whether the next
 * one has never run, is parked mid-call, or is main. */
static gz_event *parked_on;

static void *round_up_set_and_end(void *arg)
{
    (void)arg;
    fesetround(FE_UPWARD);
    gz_event_set(parked_on); /* wakes C, queued after B */
    return GZ_PTR(7);        /* ends with B, C, then main ready */
}

static void *default_rounding_at_start(void *arg)
{
    (void)arg;
    return GZ_PTR(fegetround() == FE_TONEAREST);
}

static void *default_rounding_after_wait(void *arg)
{
    (void)arg;
    long a = 11, b = 13;
    double x = 0.25;
    if (gz_event_wait(parked_on, 5.0) != 0)
        return GZ_PTR(0);
    return GZ_PTR(fegetround() == FE_TONEAREST && a * b == 143 && x * 4 == 1.0);
}

static void ending_greenlets_hand_over_with_state_intact(void **state)
{
    (void)state;
    parked_on = gz_event_new();
    gz_greenlet *c = gz_spawn(default_rounding_after_wait, NULL);
    gz_yield(); /* C parks on the event */
    long s1 = 3, s2 = 5, s3 = 7, s4 = 11;
    double d = 1.5;
    gz_greenlet *a = gz_spawn(round_up_set_and_end, NULL);
    gz_greenlet *b = gz_spawn(default_rounding_at_start, NULL);
    assert_int_equal(gz_join(a, 5.0), 0); /* main resumes after A, B, C end */
    assert_true(gz_ready(b) && gz_ready(c));
    s1 *= 2; s2 *= 3; s3 *= 5; s4 *= 7; d *= 2;
    assert_int_equal(s1 + s2 + s3 + s4, 6 + 15 + 35 + 77);
    assert_true(d == 3.0);
    assert_int_equal(fegetround(), FE_TONEAREST);
    assert_int_equal(GZ_INT(gz_value(a)), 7);
    assert_int_equal(GZ_INT(gz_value(b)), 1);
    assert_int_equal(GZ_INT(gz_value(c)), 1);
    gz_release(a);
    gz_release(b);
    gz_release(c);
    gz_event_free(parked_on);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(floating_point_modes_are_per_greenlet),
        cmocka_unit_test(registers_survive_many_switches),
        cmocka_unit_test(ending_greenlets_hand_over_with_state_intact),
    };
    return cmocka_run_group_tests_name("ctx", tests, NULL, NULL);
}
