/* actor.c: start, send, receive, stop, bounded inbox, free. */
#include "gz_test.h"

typedef struct log {
    char text[256];
    int stop_at; /* receive returns non-zero on this message number */
    int count;
} log_state;

static int record(gz_actor *self, void *message)
{
    log_state *st = gz_actor_state(self);
    strcat(st->text, (const char *)message);
    st->count++;
    gz_sleep(0); /* let the others run, as the seed's actors do */
    return st->count == st->stop_at;
}

static void actor_receives_messages_in_order(void **state)
{
    (void)state;
    log_state st = {.stop_at = -1};
    gz_actor *a = gz_actor_new(record, &st, 0);
    assert_non_null(a);
    assert_ptr_equal(gz_actor_state(a), &st);
    gz_greenlet *g = gz_actor_greenlet(a);
    assert_non_null(g);
    assert_false(gz_started(g));
    /* sent before the start: queued */
    assert_int_equal(gz_actor_send(a, "a", 0), 0);
    assert_int_equal(gz_actor_start(a), 0);
    assert_int_equal(gz_actor_start(a), 0); /* twice is harmless */
    assert_int_equal(gz_actor_send(a, "b", GZ_FOREVER), 0);
    assert_int_equal(gz_actor_send(a, "c", GZ_FOREVER), 0);
    assert_int_equal(gz_actor_stop(a, GZ_FOREVER), 0); /* drains, then ends */
    assert_string_equal(st.text, "abc");
    assert_true(gz_ready(g));
    assert_fails(gz_actor_send(a, "late", 0), EPIPE);
    gz_actor_free(a);
}

static void receive_returning_non_zero_stops_the_actor(void **state)
{
    (void)state;
    log_state st = {.stop_at = 2};
    gz_actor *a = gz_actor_new(record, &st, 0);
    gz_actor_start(a);
    gz_actor_send(a, "1", 0);
    gz_actor_send(a, "2", 0);
    gz_actor_send(a, "3", 0);
    assert_int_equal(gz_join(gz_actor_greenlet(a), GZ_FOREVER), 0);
    assert_string_equal(st.text, "12");
    assert_fails(gz_actor_send(a, "4", 0), EPIPE);
    assert_int_equal(gz_actor_stop(a, 0), 0); /* already ended */
    gz_actor_free(a);
}

static void bounded_inbox_makes_send_wait(void **state)
{
    (void)state;
    log_state st = {.stop_at = -1};
    gz_actor *a = gz_actor_new(record, &st, 1);
    assert_int_equal(gz_actor_send(a, "x", 0), 0);
    assert_fails(gz_actor_send(a, "y", 0), ETIMEDOUT);
    assert_fails(gz_actor_send(a, "y", 0.005), ETIMEDOUT);
    gz_actor_start(a);
    assert_int_equal(gz_actor_send(a, "y", GZ_FOREVER), 0); /* waits for x's get */
    assert_int_equal(gz_actor_stop(a, GZ_FOREVER), 0);
    assert_string_equal(st.text, "xy");
    gz_actor_free(a);
}

static int slow_receive(gz_actor *self, void *message)
{
    (void)self;
    (void)message;
    return gz_sleep(GZ_FOREVER) == 0 ? 0 : 1;
}

static void stop_kills_an_actor_that_does_not_end_in_time(void **state)
{
    (void)state;
    gz_actor *a = gz_actor_new(slow_receive, NULL, 0);
    gz_actor_start(a);
    gz_actor_send(a, "m", 0);
    gz_yield(); /* it is now inside receive, forever */
    double t0 = gz_now();
    assert_fails(gz_actor_stop(a, 0.01), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.009);
    assert_true(gz_ready(gz_actor_greenlet(a)));
    assert_true(gz_killed(gz_actor_greenlet(a)));
    gz_actor_free(a);
}

static int self_stop(gz_actor *self, void *message)
{
    log_state *st = gz_actor_state(self);
    strcat(st->text, (const char *)message);
    if (strcmp(message, "stop") == 0 && gz_actor_stop(self, GZ_FOREVER) != 0)
        strcat(st->text, "!");
    return 0;
}

static void actor_may_stop_itself_and_still_drains(void **state)
{
    (void)state;
    log_state st = {.stop_at = -1};
    gz_actor *a = gz_actor_new(self_stop, &st, 0);
    gz_actor_send(a, "stop", 0);
    gz_actor_send(a, "+after", 0);
    gz_actor_start(a);
    assert_int_equal(gz_join(gz_actor_greenlet(a), GZ_FOREVER), 0);
    assert_string_equal(st.text, "stop+after");
    gz_actor_free(a);
}

static void free_kills_a_running_actor_safely(void **state)
{
    (void)state;
    log_state st = {.stop_at = -1};
    gz_actor *a = gz_actor_new(record, &st, 0);
    gz_actor_start(a);
    gz_yield(); /* parked on its inbox */
    gz_actor_free(a); /* memory goes when its greenlet has unwound */
    gz_yield();
    /* never started, and started but never ran */
    gz_actor_free(gz_actor_new(record, &st, 0));
    gz_actor *b = gz_actor_new(record, &st, 0);
    gz_actor_start(b);
    gz_actor_free(b);
    assert_int_equal(gz_run(), 0); /* nothing left behind */
    assert_string_equal(st.text, "");
}

static int failing_receive(gz_actor *self, void *message)
{
    (void)self;
    gz_fail(EBADMSG, "cannot read %s", (const char *)message);
}

static void failure_in_receive_ends_the_actor_with_that_error(void **state)
{
    (void)state;
    gz_actor *a = gz_actor_new(failing_receive, NULL, 0);
    gz_actor_start(a);
    gz_actor_send(a, "junk", 0);
    assert_fails(gz_get(gz_actor_greenlet(a), NULL, GZ_FOREVER), EBADMSG);
    assert_string_equal(gz_exception(gz_actor_greenlet(a))->message,
                        "cannot read junk");
    assert_fails(gz_actor_send(a, "more", 0), EPIPE);
    gz_actor_free(a);
}

static void *send_forever(void *arg)
{
    return GZ_PTR(gz_actor_send(arg, "x", GZ_FOREVER) == 0 ? 0 : errno);
}

static void killed_sender_gets_ecanceled(void **state)
{
    (void)state;
    log_state st = {.stop_at = -1};
    gz_actor *a = gz_actor_new(record, &st, 1);
    gz_actor_send(a, "full", 0);
    gz_greenlet *s = gz_spawn(send_forever, a);
    gz_yield();
    assert_int_equal(gz_kill(s, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(s)), ECANCELED);
    gz_release(s);
    gz_actor_free(a);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    assert_null(gz_actor_new(NULL, NULL, 0));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_actor_start(NULL), EINVAL);
    assert_fails(gz_actor_send(NULL, "x", 0), EINVAL);
    assert_fails(gz_actor_stop(NULL, 0), EINVAL);
    assert_null(gz_actor_state(NULL));
    assert_null(gz_actor_greenlet(NULL));
    gz_actor_free(NULL);
    gz_actor *a = gz_actor_new(record, NULL, 0);
    assert_fails(gz_actor_send(a, "x", NAN), EINVAL);
    assert_int_equal(gz_actor_stop(a, GZ_FOREVER), 0); /* never started */
    gz_actor_free(a);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(actor_receives_messages_in_order),
        cmocka_unit_test(receive_returning_non_zero_stops_the_actor),
        cmocka_unit_test(bounded_inbox_makes_send_wait),
        cmocka_unit_test(stop_kills_an_actor_that_does_not_end_in_time),
        cmocka_unit_test(actor_may_stop_itself_and_still_drains),
        cmocka_unit_test(free_kills_a_running_actor_safely),
        cmocka_unit_test(failure_in_receive_ends_the_actor_with_that_error),
        cmocka_unit_test(killed_sender_gets_ecanceled),
        cmocka_unit_test(null_arguments_are_einval),
    };
    return cmocka_run_group_tests_name("actor", tests, NULL, NULL);
}
