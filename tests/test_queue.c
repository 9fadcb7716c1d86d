/* queue.c: FIFO, LIFO, priority, channel; blocking, nowait, peek, close,
 * task_done / join, FIFO fairness, hand-off, deadlock, kill, free. */
#include "gz_test.h"

static gz_queue *q;
static char order[128];

static void note(const char *s) { strcat(order, s); }

static void *getter(void *arg)
{
    void *item;
    if (gz_queue_get(q, &item, GZ_FOREVER) != 0)
        return GZ_PTR(-errno);
    if (arg)
        note((const char *)arg);
    return item;
}

static void *putter(void *arg)
{
    if (gz_queue_put(q, arg, GZ_FOREVER) != 0)
        return GZ_PTR(-errno);
    note((const char *)arg);
    return NULL;
}

static void *peeker(void *arg)
{
    (void)arg;
    void *item;
    if (gz_queue_peek(q, &item, GZ_FOREVER) != 0)
        return GZ_PTR(-errno);
    return item;
}

static void *joiner(void *arg)
{
    (void)arg;
    return GZ_PTR(gz_queue_join(q, GZ_FOREVER) == 0 ? 0 : -errno);
}

static void release_all(gz_greenlet **g, int n)
{
    for (int i = 0; i < n; i++)
        gz_release(g[i]);
}

static void fifo_get_returns_items_in_put_order(void **state)
{
    (void)state;
    gz_queue *f = gz_queue_new(0);
    assert_non_null(f);
    assert_true(gz_queue_empty(f));
    assert_false(gz_queue_full(f));
    /* Enough items to grow the ring several times while it wraps. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++)
            assert_int_equal(gz_queue_put_nowait(f, GZ_PTR(i)), 0);
        for (int i = 0; i < 50; i++) {
            void *v;
            assert_int_equal(gz_queue_get_nowait(f, &v), 0);
            assert_int_equal(GZ_INT(v), i);
        }
        for (int i = 100; i < 150; i++)
            assert_int_equal(gz_queue_put(f, GZ_PTR(i), GZ_FOREVER), 0);
        assert_int_equal(gz_queue_size(f), 100);
        for (int i = 50; i < 150; i++) {
            void *v;
            assert_int_equal(gz_queue_get(f, &v, 0), 0);
            assert_int_equal(GZ_INT(v), i);
        }
    }
    assert_true(gz_queue_empty(f));
    assert_fails(gz_queue_get(f, NULL, 0), ETIMEDOUT);
    gz_queue_free(f);
}

static void lifo_get_returns_the_newest_first(void **state)
{
    (void)state;
    gz_queue *l = gz_lifoqueue_new(3);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(gz_queue_put_nowait(l, GZ_PTR(i)), 0);
    assert_true(gz_queue_full(l));
    assert_fails(gz_queue_put_nowait(l, GZ_PTR(4)), EAGAIN);
    void *v;
    assert_int_equal(gz_queue_peek(l, &v, 0), 0);
    assert_int_equal(GZ_INT(v), 3);
    for (int i = 3; i >= 1; i--) {
        assert_int_equal(gz_queue_get_nowait(l, &v), 0);
        assert_int_equal(GZ_INT(v), i);
    }
    gz_queue_free(l);
}

/* Items are small integers; the comparator gets the items themselves. */
static int by_value(const void *a, const void *b)
{
    intptr_t x = (intptr_t)a / 10, y = (intptr_t)b / 10; /* tens only */
    return (x > y) - (x < y);
}

static void priority_get_returns_lowest_first_and_ties_in_put_order(void **state)
{
    (void)state;
    gz_queue *p = gz_priorityqueue_new(0, by_value);
    int in[] = {50, 10, 41, 30, 11, 42, 12, 0, 99, 40};
    int want[] = {0, 10, 11, 12, 30, 41, 42, 40, 50, 99};
    for (int i = 0; i < 10; i++)
        assert_int_equal(gz_queue_put_nowait(p, GZ_PTR(in[i])), 0);
    assert_int_equal(gz_queue_size(p), 10);
    void *v;
    assert_int_equal(gz_queue_peek(p, &v, 0), 0);
    assert_int_equal(GZ_INT(v), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(gz_queue_get_nowait(p, &v), 0);
        assert_int_equal(GZ_INT(v), want[i]);
    }
    gz_queue_free(p);
    assert_null(gz_priorityqueue_new(0, NULL));
    assert_int_equal(errno, EINVAL);
}

static void nowait_calls_fail_with_eagain(void **state)
{
    (void)state;
    gz_queue *b = gz_queue_new(1);
    assert_fails(gz_queue_get_nowait(b, NULL), EAGAIN);
    assert_int_equal(gz_queue_put_nowait(b, "x"), 0);
    assert_fails(gz_queue_put_nowait(b, "y"), EAGAIN);
    assert_fails(gz_queue_put(b, "y", 0), ETIMEDOUT);
    assert_int_equal(gz_queue_get_nowait(b, NULL), 0);
    gz_queue_free(b);
}

static void put_blocks_when_full_until_a_get(void **state)
{
    (void)state;
    q = gz_queue_new(2);
    order[0] = 0;
    gz_queue_put_nowait(q, "a");
    gz_queue_put_nowait(q, "b");
    gz_greenlet *p = gz_spawn(putter, "c");
    gz_yield();
    assert_string_equal(order, ""); /* still waiting */
    assert_int_equal(gz_queue_size(q), 2);
    void *v;
    assert_int_equal(gz_queue_get(q, &v, GZ_FOREVER), 0);
    assert_string_equal((char *)v, "a");
    /* the putter's item entered at once: hand-off */
    assert_int_equal(gz_queue_size(q), 2);
    gz_join(p, GZ_FOREVER);
    assert_string_equal(order, "c");
    assert_int_equal(gz_queue_get(q, &v, 0), 0);
    assert_string_equal((char *)v, "b");
    assert_int_equal(gz_queue_get(q, &v, 0), 0);
    assert_string_equal((char *)v, "c");
    gz_release(p);
    gz_queue_free(q);
}

static void *put_later(void *arg)
{
    gz_sleep(0.02);
    gz_queue_put(q, arg, GZ_FOREVER);
    return NULL;
}

static void get_blocks_until_a_put_and_times_out_with_etimedout(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    double t0 = gz_now();
    assert_fails(gz_queue_get(q, NULL, 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.019);
    gz_greenlet *p = gz_spawn(put_later, "late");
    void *v = NULL;
    t0 = gz_now();
    assert_int_equal(gz_queue_get(q, &v, GZ_FOREVER), 0);
    assert_true(gz_now() - t0 >= 0.019);
    assert_string_equal((char *)v, "late");
    gz_join(p, GZ_FOREVER);
    gz_release(p);
    gz_queue_free(q);
    /* a put to a full queue times out too */
    q = gz_queue_new(1);
    gz_queue_put(q, "x", 0);
    t0 = gz_now();
    assert_fails(gz_queue_put(q, "y", 0.02), ETIMEDOUT);
    assert_true(gz_now() - t0 >= 0.019);
    assert_int_equal(gz_queue_size(q), 1);
    gz_queue_free(q);
}

static void waiting_getters_are_served_in_fifo_order(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    order[0] = 0;
    gz_greenlet *g[3] = {gz_spawn(getter, "a"), gz_spawn(getter, "b"),
                         gz_spawn(getter, "c")};
    gz_yield();
    for (int i = 1; i <= 3; i++)
        gz_queue_put(q, GZ_PTR(i), 0);
    assert_int_equal(gz_joinall(g, 3, GZ_FOREVER), 3);
    assert_string_equal(order, "abc");
    for (int i = 0; i < 3; i++)
        assert_int_equal(GZ_INT(gz_value(g[i])), i + 1);
    release_all(g, 3);
    gz_queue_free(q);
}

static void waiting_putters_are_served_in_fifo_order(void **state)
{
    (void)state;
    q = gz_queue_new(1);
    order[0] = 0;
    gz_queue_put_nowait(q, "0");
    gz_greenlet *g[3] = {gz_spawn(putter, "1"), gz_spawn(putter, "2"),
                         gz_spawn(putter, "3")};
    gz_yield();
    char got[8] = "";
    for (int i = 0; i < 4; i++) {
        void *v;
        assert_int_equal(gz_queue_get(q, &v, GZ_FOREVER), 0);
        strcat(got, (char *)v);
    }
    assert_string_equal(got, "0123");
    assert_int_equal(gz_joinall(g, 3, GZ_FOREVER), 3);
    assert_string_equal(order, "123");
    release_all(g, 3);
    gz_queue_free(q);
}

static void *barger(void *arg)
{
    (void)arg;
    void *v;
    note(gz_queue_get_nowait(q, &v) == 0 ? "barged" : "x");
    return NULL;
}

static void item_is_handed_to_the_waiting_getter_so_no_one_barges_in(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    order[0] = 0;
    gz_greenlet *w = gz_spawn(getter, "w");
    gz_yield();
    gz_greenlet *b = gz_spawn(barger, NULL); /* runs before w wakes */
    gz_queue_put_nowait(q, "item");
    gz_greenlet *g[2] = {w, b};
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_string_equal(order, "xw");
    assert_string_equal((char *)gz_value(w), "item");
    release_all(g, 2);
    gz_queue_free(q);
}

static void killed_getter_is_skipped_and_the_item_goes_to_the_next(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    order[0] = 0;
    gz_greenlet *g[2] = {gz_spawn(getter, "a"), gz_spawn(getter, "b")};
    gz_yield();
    gz_kill(g[0], 0); /* ready with ECANCELED, still first in line */
    gz_queue_put_nowait(q, "item");
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_int_equal(GZ_INT(gz_value(g[0])), -ECANCELED);
    assert_string_equal((char *)gz_value(g[1]), "item");
    assert_string_equal(order, "b");
    release_all(g, 2);
    gz_queue_free(q);
}

static void channel_put_waits_for_a_get(void **state)
{
    (void)state;
    q = gz_channel_new();
    order[0] = 0;
    assert_int_equal(gz_queue_size(q), 0);
    assert_true(gz_queue_full(q));
    assert_true(gz_queue_empty(q));
    assert_fails(gz_queue_put_nowait(q, "x"), EAGAIN);
    assert_fails(gz_queue_get_nowait(q, NULL), EAGAIN);
    gz_greenlet *p = gz_spawn(putter, "p");
    gz_yield();
    assert_string_equal(order, ""); /* no getter yet: the put waits */
    assert_false(gz_queue_empty(q));
    void *v;
    assert_int_equal(gz_queue_peek(q, &v, 0), 0);
    assert_string_equal((char *)v, "p");
    assert_int_equal(gz_queue_get(q, &v, GZ_FOREVER), 0);
    assert_string_equal((char *)v, "p");
    gz_join(p, GZ_FOREVER);
    assert_string_equal(order, "p");
    gz_release(p);
    /* a getter waiting first: put_nowait hands it over at once */
    gz_greenlet *g = gz_spawn(getter, NULL);
    gz_yield();
    assert_false(gz_queue_full(q));
    assert_int_equal(gz_queue_put_nowait(q, "now"), 0);
    gz_join(g, GZ_FOREVER);
    assert_string_equal((char *)gz_value(g), "now");
    gz_release(g);
    gz_queue_free(q);
}

static void peek_leaves_the_item_and_waits_for_a_put(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    assert_fails(gz_queue_peek(q, NULL, 0), ETIMEDOUT);
    assert_fails(gz_queue_peek(q, NULL, 0.01), ETIMEDOUT);
    gz_greenlet *pk[2] = {gz_spawn(peeker, NULL), gz_spawn(peeker, NULL)};
    gz_yield();
    gz_queue_put_nowait(q, "first");
    gz_queue_put_nowait(q, "second");
    assert_int_equal(gz_joinall(pk, 2, GZ_FOREVER), 2);
    assert_string_equal((char *)gz_value(pk[0]), "first");
    assert_string_equal((char *)gz_value(pk[1]), "first");
    assert_int_equal(gz_queue_size(q), 2);
    release_all(pk, 2);
    gz_queue_free(q);
    /* a channel peeker sees the first putter's item */
    q = gz_channel_new();
    gz_greenlet *w = gz_spawn(peeker, NULL);
    gz_greenlet *p = gz_spawn(putter, "chan");
    gz_join(w, GZ_FOREVER);
    assert_string_equal((char *)gz_value(w), "chan");
    assert_int_equal(gz_queue_get(q, NULL, GZ_FOREVER), 0);
    gz_join(p, GZ_FOREVER);
    gz_release(w);
    gz_release(p);
    gz_queue_free(q);
}

static void close_fails_puts_and_drains_gets_then_epipe(void **state)
{
    (void)state;
    q = gz_queue_new(1);
    order[0] = 0;
    gz_queue_put_nowait(q, "left");
    gz_greenlet *p = gz_spawn(putter, "waiting");
    gz_yield();
    gz_queue_close(q);
    gz_queue_close(q); /* twice is harmless */
    assert_fails(gz_queue_put(q, "late", GZ_FOREVER), EPIPE);
    assert_fails(gz_queue_put_nowait(q, "late"), EPIPE);
    gz_join(p, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(p)), -EPIPE); /* a waiting put fails */
    void *v;
    assert_int_equal(gz_queue_peek(q, &v, GZ_FOREVER), 0);
    assert_int_equal(gz_queue_get(q, &v, GZ_FOREVER), 0);
    assert_string_equal((char *)v, "left");
    assert_fails(gz_queue_get(q, &v, GZ_FOREVER), EPIPE);
    assert_fails(gz_queue_get_nowait(q, &v), EPIPE);
    assert_fails(gz_queue_peek(q, &v, GZ_FOREVER), EPIPE);
    gz_release(p);
    gz_queue_free(q);
    /* waiting getters and peekers of an empty queue are woken with EPIPE */
    q = gz_queue_new(0);
    gz_greenlet *g[2] = {gz_spawn(getter, NULL), gz_spawn(peeker, NULL)};
    gz_yield();
    gz_queue_close(q);
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_int_equal(GZ_INT(gz_value(g[0])), -EPIPE);
    assert_int_equal(GZ_INT(gz_value(g[1])), -EPIPE);
    release_all(g, 2);
    gz_queue_free(q);
}

static void *worker_marks_done(void *arg)
{
    (void)arg;
    void *v;
    while (gz_queue_get(q, &v, 0.05) == 0) {
        gz_sleep(0.001);
        note((char *)v);
        gz_queue_task_done(q);
    }
    return NULL;
}

static void join_waits_until_every_item_is_task_done(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    order[0] = 0;
    assert_int_equal(gz_queue_join(q, 0), 0); /* nothing put */
    gz_queue_put_nowait(q, "a");
    gz_queue_put_nowait(q, "b");
    gz_queue_put_nowait(q, "c");
    assert_fails(gz_queue_join(q, 0), ETIMEDOUT);
    assert_fails(gz_queue_join(q, 0.01), ETIMEDOUT);
    gz_greenlet *j = gz_spawn(joiner, NULL);
    gz_greenlet *w = gz_spawn(worker_marks_done, NULL);
    assert_int_equal(gz_queue_join(q, GZ_FOREVER), 0);
    assert_string_equal(order, "abc");
    gz_join(j, GZ_FOREVER);
    assert_int_equal(GZ_INT(gz_value(j)), 0);
    errno = 0;
    gz_queue_task_done(q); /* one too many: ignored */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(gz_queue_join(q, 0), 0);
    gz_join(w, GZ_FOREVER);
    gz_release(j);
    gz_release(w);
    gz_queue_free(q);
}

static void main_getting_from_a_queue_nobody_fills_gets_edeadlk(void **state)
{
    (void)state;
    gz_queue *e = gz_queue_new(0);
    assert_fails(gz_queue_get(e, NULL, GZ_FOREVER), EDEADLK);
    gz_queue *c = gz_channel_new();
    assert_fails(gz_queue_put(c, "x", GZ_FOREVER), EDEADLK);
    gz_queue_free(e);
    gz_queue_free(c);
}

static void killed_getter_gets_ecanceled(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    gz_greenlet *g = gz_spawn(getter, NULL);
    gz_yield();
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(g)), -ECANCELED);
    /* its waiter is gone: a put is queued, not handed to it */
    gz_queue_put_nowait(q, "x");
    assert_int_equal(gz_queue_size(q), 1);
    gz_release(g);
    gz_queue_free(q);
}

static void free_of_a_queue_with_waiters_wakes_them_with_epipe(void **state)
{
    (void)state;
    q = gz_queue_new(0);
    gz_greenlet *g[2] = {gz_spawn(getter, NULL), gz_spawn(peeker, NULL)};
    gz_yield();
    gz_queue_free(q);
    q = gz_queue_new(1);
    gz_queue_put_nowait(q, "full");
    gz_greenlet *h[2] = {gz_spawn(putter, "p"), gz_spawn(joiner, NULL)};
    gz_yield();
    gz_queue_free(q);
    q = NULL;
    assert_int_equal(gz_joinall(g, 2, GZ_FOREVER), 2);
    assert_int_equal(gz_joinall(h, 2, GZ_FOREVER), 2);
    assert_int_equal(GZ_INT(gz_value(g[0])), -EPIPE);
    assert_int_equal(GZ_INT(gz_value(g[1])), -EPIPE);
    assert_int_equal(GZ_INT(gz_value(h[0])), -EPIPE);
    assert_int_equal(GZ_INT(gz_value(h[1])), -EPIPE);
    release_all(g, 2);
    release_all(h, 2);
}

static void null_queue_is_einval(void **state)
{
    (void)state;
    assert_fails(gz_queue_put(NULL, "x", 0), EINVAL);
    assert_fails(gz_queue_get(NULL, NULL, 0), EINVAL);
    assert_fails(gz_queue_put_nowait(NULL, "x"), EINVAL);
    assert_fails(gz_queue_get_nowait(NULL, NULL), EINVAL);
    assert_fails(gz_queue_peek(NULL, NULL, 0), EINVAL);
    assert_fails(gz_queue_join(NULL, 0), EINVAL);
    gz_queue *f = gz_queue_new(0);
    assert_fails(gz_queue_get(f, NULL, NAN), EINVAL);
    assert_fails(gz_queue_put(f, NULL, NAN), EINVAL);
    gz_queue_free(f);
    assert_int_equal(gz_queue_size(NULL), 0);
    assert_true(gz_queue_empty(NULL));
    assert_false(gz_queue_full(NULL));
    gz_queue_close(NULL);
    gz_queue_task_done(NULL);
    gz_queue_free(NULL);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_get_returns_items_in_put_order),
        cmocka_unit_test(lifo_get_returns_the_newest_first),
        cmocka_unit_test(priority_get_returns_lowest_first_and_ties_in_put_order),
        cmocka_unit_test(nowait_calls_fail_with_eagain),
        cmocka_unit_test(put_blocks_when_full_until_a_get),
        cmocka_unit_test(get_blocks_until_a_put_and_times_out_with_etimedout),
        cmocka_unit_test(waiting_getters_are_served_in_fifo_order),
        cmocka_unit_test(waiting_putters_are_served_in_fifo_order),
        cmocka_unit_test(item_is_handed_to_the_waiting_getter_so_no_one_barges_in),
        cmocka_unit_test(killed_getter_is_skipped_and_the_item_goes_to_the_next),
        cmocka_unit_test(channel_put_waits_for_a_get),
        cmocka_unit_test(peek_leaves_the_item_and_waits_for_a_put),
        cmocka_unit_test(close_fails_puts_and_drains_gets_then_epipe),
        cmocka_unit_test(join_waits_until_every_item_is_task_done),
        cmocka_unit_test(main_getting_from_a_queue_nobody_fills_gets_edeadlk),
        cmocka_unit_test(killed_getter_gets_ecanceled),
        cmocka_unit_test(free_of_a_queue_with_waiters_wakes_them_with_epipe),
        cmocka_unit_test(null_queue_is_einval),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
