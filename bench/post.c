/* Items per second from one plain thread into a hub's greenlet: through a
 * gz_tqueue and through gz_hub_post, beside a mutex + condition variable
 * queue between two plain threads (the same bound, 1024 items).
 *
 *   post [N]     N items each (default 2000000)
 *
 * Prints tqueue_thread_items, post_thread_items, condvar_thread_items
 * (items/s). */
#include <pthread.h>

#include <gzmq.h>

#include "bench.h"

#define BOUND 1024

static long n_items;

/* ---- gz_tqueue ---- */

static gz_tqueue *tq;

static void *tq_producer(void *unused)
{
    (void)unused;
    for (long i = 1; i <= n_items; i++)
        BENCH_CHECK(gz_tqueue_put(tq, (void *)i, GZ_FOREVER) == 0);
    return NULL;
}

static double bench_tqueue(void)
{
    tq = gz_tqueue_new(BOUND);
    BENCH_CHECK(tq);
    pthread_t t;
    double t0 = bench_now();
    BENCH_CHECK(pthread_create(&t, NULL, tq_producer, NULL) == 0);
    for (long i = 1; i <= n_items; i++) {
        void *item;
        BENCH_CHECK(gz_tqueue_get(tq, &item, GZ_FOREVER) == 0);
        BENCH_CHECK((long)item == i);
    }
    double dt = bench_now() - t0;
    pthread_join(t, NULL);
    gz_tqueue_free(tq);
    return (double)n_items / dt;
}

/* ---- gz_hub_post ---- */

static gz_hub *hub;
static long posted_seen;
static gz_event *all_seen;

static void on_post(void *arg)
{
    (void)arg;
    if (++posted_seen == n_items)
        gz_event_set(all_seen);
}

static void *post_producer(void *unused)
{
    (void)unused;
    for (long i = 1; i <= n_items; i++)
        BENCH_CHECK(gz_hub_post(hub, on_post, (void *)i) == 0);
    return NULL;
}

static double bench_post(void)
{
    hub = gz_hub_self();
    all_seen = gz_event_new();
    BENCH_CHECK(hub && all_seen && gz_hub_hold() == 0);
    pthread_t t;
    double t0 = bench_now();
    BENCH_CHECK(pthread_create(&t, NULL, post_producer, NULL) == 0);
    BENCH_CHECK(gz_event_wait(all_seen, GZ_FOREVER) == 0);
    double dt = bench_now() - t0;
    pthread_join(t, NULL);
    gz_hub_unhold();
    gz_event_free(all_seen);
    return (double)n_items / dt;
}

/* ---- a mutex + condition variable ring between two threads ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void *buf[BOUND];
    size_t head, len;
} cq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};

static void *cq_producer(void *unused)
{
    (void)unused;
    for (long i = 1; i <= n_items; i++) {
        pthread_mutex_lock(&cq.lock);
        while (cq.len == BOUND)
            pthread_cond_wait(&cq.not_full, &cq.lock);
        cq.buf[(cq.head + cq.len++) % BOUND] = (void *)i;
        pthread_cond_signal(&cq.not_empty);
        pthread_mutex_unlock(&cq.lock);
    }
    return NULL;
}

static double bench_condvar(void)
{
    pthread_t t;
    double t0 = bench_now();
    BENCH_CHECK(pthread_create(&t, NULL, cq_producer, NULL) == 0);
    for (long i = 1; i <= n_items; i++) {
        pthread_mutex_lock(&cq.lock);
        while (cq.len == 0)
            pthread_cond_wait(&cq.not_empty, &cq.lock);
        void *item = cq.buf[cq.head];
        cq.head = (cq.head + 1) % BOUND;
        cq.len--;
        pthread_cond_signal(&cq.not_full);
        pthread_mutex_unlock(&cq.lock);
        BENCH_CHECK((long)item == i);
    }
    double dt = bench_now() - t0;
    pthread_join(t, NULL);
    return (double)n_items / dt;
}

int main(int argc, char **argv)
{
    n_items = bench_arg(argc, argv, 1, 2000000);
    BENCH_CHECK(n_items > 0);
    bench_result("tqueue_thread_items", bench_tqueue(), "items/s");
    bench_result("post_thread_items", bench_post(), "items/s");
    bench_result("condvar_thread_items", bench_condvar(), "items/s");
    return 0;
}
