/* tqueue.c: puts from other threads into the owner's greenlets, order and
 * count, full queues (plain threads time out, green putters park), close
 * from any thread, EXDEV, an orphaned queue, gz_select over a tqueue and a
 * gz_queue. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "gz_test.h"

static gz_tqueue *tq;

static void *in_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *ret = NULL;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    return ret;
}

static void *get_elsewhere(void *unused)
{
    (void)unused;
    void *item;
    if (gz_tqueue_get(tq, &item, 0) == 0 || errno != EXDEV)
        return GZ_PTR(-1);
    if (gz_tqueue_get_nowait(tq, &item) == 0 || errno != EXDEV)
        return GZ_PTR(-2);
    return NULL;
}

static void errors_of_every_call(void **state)
{
    (void)state;
    void *item;
    double nan_ = nan("");
    tq = gz_tqueue_new(1);
    assert_non_null(tq);
    assert_fails(gz_tqueue_put(NULL, NULL, 0), EINVAL);
    assert_fails(gz_tqueue_put_nowait(NULL, NULL), EINVAL);
    assert_fails(gz_tqueue_put(tq, NULL, nan_), EINVAL);
    assert_fails(gz_tqueue_get(NULL, &item, 0), EINVAL);
    assert_fails(gz_tqueue_get_nowait(NULL, &item), EINVAL);
    assert_fails(gz_tqueue_get(tq, NULL, 0), EINVAL);
    assert_fails(gz_tqueue_get(tq, &item, nan_), EINVAL);
    assert_fails(gz_tqueue_get_nowait(tq, &item), EAGAIN);
    assert_fails(gz_tqueue_get(tq, &item, 0), ETIMEDOUT);
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(7), 0), 0);
    assert_fails(gz_tqueue_put_nowait(tq, GZ_PTR(8)), EAGAIN);
    assert_fails(gz_tqueue_put(tq, GZ_PTR(8), 0), ETIMEDOUT);
    assert_int_equal(gz_tqueue_size(tq), 1);
    assert_null(in_thread(get_elsewhere, NULL));
    gz_tqueue_close(tq);
    assert_fails(gz_tqueue_put(tq, GZ_PTR(9), 0), EPIPE);
    assert_fails(gz_tqueue_put_nowait(tq, GZ_PTR(9)), EPIPE);
    assert_int_equal(gz_tqueue_get(tq, &item, 0), 0); /* drains */
    assert_int_equal(GZ_INT(item), 7);
    assert_fails(gz_tqueue_get(tq, &item, GZ_FOREVER), EPIPE);
    assert_fails(gz_tqueue_get_nowait(tq, &item), EPIPE);
    assert_int_equal(gz_tqueue_size(NULL), 0);
    gz_tqueue_close(NULL);
    gz_tqueue_free(NULL);
    gz_tqueue_free(tq);
}

static void owner_put_and_get_keep_fifo_order_as_the_ring_grows(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++)
            assert_int_equal(gz_tqueue_put_nowait(tq, GZ_PTR(i)), 0);
        for (int i = 0; i < 100; i++) {
            void *item;
            assert_int_equal(gz_tqueue_get(tq, &item, GZ_FOREVER), 0);
            assert_int_equal(GZ_INT(item), i);
        }
    }
    gz_tqueue_free(tq);
}

/* ---- plain threads into the hub's greenlet ---- */

enum { NTHREADS = 4, NITEMS = 50000 };

static void *producer(void *arg)
{
    int t = GZ_INT(arg);
    for (int i = 0; i < NITEMS; i++)
        if (gz_tqueue_put(tq, GZ_PTR(t * NITEMS + i + 1), GZ_FOREVER) != 0)
            return GZ_PTR(errno);
    return NULL;
}

static void items_from_several_threads_reach_the_greenlet_once_and_in_order(void **state)
{
    (void)state;
    tq = gz_tqueue_new(64); /* small: producers block on a full queue */
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, producer, GZ_PTR(t)), 0);
    int last[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        last[t] = -1;
    /* main blocks in get with nothing else to run: other threads' puts
     * must wake it (no EDEADLK). */
    for (int n = 0; n < NTHREADS * NITEMS; n++) {
        void *item;
        assert_int_equal(gz_tqueue_get(tq, &item, GZ_FOREVER), 0);
        int v = GZ_INT(item) - 1, t = v / NITEMS, i = v % NITEMS;
        assert_int_equal(i, last[t] + 1);
        last[t] = i;
    }
    for (int t = 0; t < NTHREADS; t++) {
        void *ret;
        assert_int_equal(pthread_join(th[t], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(gz_tqueue_size(tq), 0);
    gz_tqueue_free(tq);
}

/* ---- full queue ---- */

static void *put_briefly(void *unused)
{
    (void)unused;
    if (gz_tqueue_put_nowait(tq, GZ_PTR(2)) == 0 || errno != EAGAIN)
        return GZ_PTR(-1);
    return GZ_PTR(gz_tqueue_put(tq, GZ_PTR(2), 0.05) == 0 ? 0 : errno);
}

static void *put_forever(void *arg)
{
    return GZ_PTR(gz_tqueue_put(tq, arg, GZ_FOREVER) == 0 ? 0 : errno);
}

static void blocking_puts_from_threads_time_out_on_a_full_queue(void **state)
{
    (void)state;
    tq = gz_tqueue_new(1);
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(1), 0), 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, put_briefly, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_int_equal(GZ_INT(ret), ETIMEDOUT);
    }
    /* A thread blocked without a limit gets in once a get makes room. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, put_forever, GZ_PTR(3)), 0);
    void *item;
    assert_int_equal(gz_tqueue_get(tq, &item, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(item), 1);
    assert_int_equal(gz_tqueue_get(tq, &item, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(item), 3);
    void *ret;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    gz_tqueue_free(tq);
}

static void *green_put(void *arg)
{
    return GZ_PTR(gz_tqueue_put(tq, arg, GZ_FOREVER) == 0 ? 0 : -errno);
}

static void green_putter_parks_until_a_get_and_times_out_with_etimedout(void **state)
{
    (void)state;
    tq = gz_tqueue_new(1);
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(1), 0), 0);
    assert_fails(gz_tqueue_put(tq, GZ_PTR(2), 0.01), ETIMEDOUT);
    gz_greenlet *g = gz_spawn(green_put, GZ_PTR(2));
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g)); /* parked: the queue is full */
    void *item;
    assert_int_equal(gz_tqueue_get(tq, &item, 0), 0);
    assert_int_equal(GZ_INT(item), 1);
    assert_int_equal(gz_tqueue_size(tq), 1); /* handed in at once */
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_null(gz_value(g));
    gz_release(g);
    assert_int_equal(gz_tqueue_get(tq, &item, 0), 0);
    assert_int_equal(GZ_INT(item), 2);
    gz_tqueue_free(tq);
}

/* ---- close, kill, free, orphan ---- */

static void *close_it(void *unused)
{
    (void)unused;
    gz_tqueue_close(tq);
    return NULL;
}

static void *green_get(void *unused)
{
    (void)unused;
    void *item;
    return GZ_PTR(gz_tqueue_get(tq, &item, GZ_FOREVER) == 0 ? GZ_INT(item) : -errno);
}

static void close_from_another_thread_wakes_a_parked_getter_with_epipe(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    gz_greenlet *g = gz_spawn(green_get, NULL);
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g));
    assert_null(in_thread(close_it, NULL));
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(g)), -EPIPE);
    gz_release(g);
    gz_tqueue_free(tq);
}

/* Closes TQ once the hub has parked: it says so just before it waits. */
static atomic_bool about_to_wait;

static void *close_once_the_hub_waits(void *unused)
{
    (void)unused;
    while (!atomic_load(&about_to_wait))
        sched_yield();
    usleep(20000); /* the hub parks meanwhile */
    gz_tqueue_close(tq);
    return NULL;
}

/* A green putter parked on a full queue waits for a get of its own hub or
 * for a close from any thread: while it waits, the hub must not count as
 * idle (which fails main's wait with EDEADLK and leaves the putter parked
 * when the close comes), for a plain put as for a gz_select put case. */
static void close_from_another_thread_wakes_a_parked_putter_with_epipe(void **state)
{
    (void)state;
    pthread_t t;
    tq = gz_tqueue_new(1);
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(1), 0), 0);
    gz_greenlet *g = gz_spawn(green_put, GZ_PTR(2));
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g)); /* parked: the queue is full */
    atomic_store(&about_to_wait, true);
    assert_int_equal(pthread_create(&t, NULL, close_once_the_hub_waits, NULL), 0);
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(g)), -EPIPE);
    assert_int_equal(pthread_join(t, NULL), 0);
    gz_release(g);
    gz_tqueue_free(tq);

    tq = gz_tqueue_new(1);
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(1), 0), 0);
    gz_case p = {.op = GZ_PUT, .obj = tq, .item = GZ_PTR(2)};
    atomic_store(&about_to_wait, false);
    assert_int_equal(pthread_create(&t, NULL, close_once_the_hub_waits, NULL), 0);
    atomic_store(&about_to_wait, true);
    assert_int_equal(gz_select(&p, 1, GZ_FOREVER), 0);
    assert_int_equal(p.err, EPIPE);
    assert_int_equal(pthread_join(t, NULL), 0);
    gz_tqueue_free(tq);
}

static void killed_getter_gets_ecanceled_and_free_wakes_getters_with_epipe(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    gz_greenlet *a = gz_spawn(green_get, NULL), *b = gz_spawn(green_get, NULL);
    assert_int_equal(gz_yield(), 0);
    assert_int_equal(gz_kill(a, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(a)), -ECANCELED);
    gz_tqueue_free(tq);
    assert_int_equal(gz_join(b, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(gz_value(b)), -EPIPE);
    gz_release(a);
    gz_release(b);
}

static void *make_and_end(void *unused)
{
    (void)unused;
    return gz_tqueue_new(1); /* the thread, and its hub, end now */
}

static void queue_of_an_ended_hub_refuses_puts_with_eshutdown(void **state)
{
    (void)state;
    gz_tqueue *orphan = in_thread(make_and_end, NULL);
    assert_non_null(orphan);
    assert_fails(gz_tqueue_put(orphan, GZ_PTR(1), GZ_FOREVER), ESHUTDOWN);
    assert_fails(gz_tqueue_put_nowait(orphan, GZ_PTR(1)), ESHUTDOWN);
    void *item;
    assert_fails(gz_tqueue_get(orphan, &item, 0), EXDEV);
    gz_tqueue_free(orphan); /* any thread, now that its hub is gone */
}

/* ---- gz_select ---- */

static void *put_one(void *arg)
{
    return GZ_PTR(gz_tqueue_put(tq, arg, GZ_FOREVER));
}

static void select_over_a_tqueue_and_a_queue_takes_exactly_one(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    gz_queue *q = gz_queue_new(0);
    gz_case c[2] = {{.op = GZ_GET, .obj = tq}, {.op = GZ_GET, .obj = q}};
    /* Ready at entry: the gz_queue. */
    assert_int_equal(gz_queue_put_nowait(q, GZ_PTR(5)), 0);
    assert_int_equal(gz_select(c, 2, 0), 1);
    assert_int_equal(GZ_INT(c[1].item), 5);
    assert_int_equal(c[1].err, 0);
    /* Parked on both: another thread's put fires the tqueue case. */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, put_one, GZ_PTR(6)), 0);
    assert_int_equal(gz_select(c, 2, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(c[0].item), 6);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* Both ready: the lowest index only; the other item stays. */
    assert_int_equal(gz_tqueue_put(tq, GZ_PTR(7), 0), 0);
    assert_int_equal(gz_queue_put_nowait(q, GZ_PTR(8)), 0);
    assert_int_equal(gz_select(c, 2, 0), 0);
    assert_int_equal(GZ_INT(c[0].item), 7);
    assert_int_equal(gz_queue_size(q), 1);
    assert_int_equal(gz_select(c, 2, 0), 1);
    assert_int_equal(GZ_INT(c[1].item), 8);
    /* Nothing ready: ETIMEDOUT; a closed, drained tqueue: its err EPIPE. */
    assert_fails(gz_select(c, 2, 0.01), ETIMEDOUT);
    gz_tqueue_close(tq);
    assert_int_equal(gz_select(c, 2, GZ_FOREVER), 0);
    assert_int_equal(c[0].err, EPIPE);
    /* A put case into a full tqueue waits for a get by this hub. */
    gz_tqueue *full = gz_tqueue_new(1);
    assert_int_equal(gz_tqueue_put(full, GZ_PTR(1), 0), 0);
    gz_case p = {.op = GZ_PUT, .obj = full, .item = GZ_PTR(2)};
    assert_fails(gz_select(&p, 1, 0), ETIMEDOUT);
    void *item;
    assert_int_equal(gz_tqueue_get(full, &item, 0), 0);
    assert_int_equal(gz_select(&p, 1, 0), 0);
    assert_int_equal(gz_tqueue_size(full), 1);
    gz_tqueue_free(full);
    gz_tqueue_free(tq);
    gz_queue_free(q);
}

/* Puts item i once the hub is about to select for it, after a short,
 * varying pause: some land between the select's look at the queue and its
 * parking on it, where a put that does not wake the hub would be lost. */
static int race_items;
static atomic_int race_turn;

static void *put_each_as_the_select_starts(void *unused)
{
    (void)unused;
    unsigned seed = 12345;
    for (int i = 1; i <= race_items; i++) {
        while (atomic_load(&race_turn) != i)
            if (GZ_TEST_UNDER_VALGRIND())
                sched_yield(); /* its threads take turns on one core */
        seed = seed * 1103515245u + 12345u;
        for (volatile unsigned spin = (seed >> 16) % 300; spin > 0; spin--)
            ;
        if (gz_tqueue_put(tq, GZ_PTR(i), GZ_FOREVER) != 0)
            return GZ_PTR(-1);
    }
    return NULL;
}

static void a_put_racing_with_select_is_never_lost(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    gz_queue *q = gz_queue_new(0);
    gz_case c[2] = {{.op = GZ_GET, .obj = tq}, {.op = GZ_GET, .obj = q}};
    pthread_t t;
    race_items = GZ_TEST_UNDER_VALGRIND() ? 300 : 20000;
    atomic_store(&race_turn, 0);
    assert_int_equal(pthread_create(&t, NULL, put_each_as_the_select_starts, NULL), 0);
    for (int want = 1; want <= race_items; want++) {
        atomic_store(&race_turn, want);
        /* A lost wakeup would park for good: 30 s names it instead. */
        assert_int_equal(gz_select(c, 2, 30), 0);
        assert_int_equal(GZ_INT(c[0].item), want);
    }
    void *ret;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    gz_tqueue_free(tq);
    gz_queue_free(q);
}

static void *select_elsewhere(void *unused)
{
    (void)unused;
    gz_case c = {.op = GZ_GET, .obj = tq};
    return GZ_PTR(gz_select(&c, 1, 0) == -1 ? errno : 0);
}

static void select_on_another_threads_tqueue_is_exdev(void **state)
{
    (void)state;
    tq = gz_tqueue_new(0);
    assert_int_equal(GZ_INT(in_thread(select_elsewhere, NULL)), EXDEV);
    gz_tqueue_free(tq);
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_of_every_call),
        cmocka_unit_test(owner_put_and_get_keep_fifo_order_as_the_ring_grows),
        cmocka_unit_test(items_from_several_threads_reach_the_greenlet_once_and_in_order),
        cmocka_unit_test(blocking_puts_from_threads_time_out_on_a_full_queue),
        cmocka_unit_test(green_putter_parks_until_a_get_and_times_out_with_etimedout),
        cmocka_unit_test(close_from_another_thread_wakes_a_parked_getter_with_epipe),
        cmocka_unit_test(close_from_another_thread_wakes_a_parked_putter_with_epipe),
        cmocka_unit_test(killed_getter_gets_ecanceled_and_free_wakes_getters_with_epipe),
        cmocka_unit_test(queue_of_an_ended_hub_refuses_puts_with_eshutdown),
        cmocka_unit_test(select_over_a_tqueue_and_a_queue_takes_exactly_one),
        cmocka_unit_test(a_put_racing_with_select_is_never_lost),
        cmocka_unit_test(select_on_another_threads_tqueue_is_exdev),
    };
    return cmocka_run_group_tests_name("tqueue", tests, NULL, NULL);
}
