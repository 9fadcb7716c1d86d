/* The waiting primitives under load:
 *   queue_pairs      put/get pairs per second between a producer and a
 *                    consumer greenlet through a gz_queue of maxsize 1
 *   queue_select1    the same, the consumer taking with gz_select over
 *                    that one queue; select1_ratio = queue_select1 / queue_pairs
 *   queue_select4    gz_select over 4 queues, only one of them busy;
 *                    select4_ratio = queue_select4 / queue_pairs
 *   pool_imap        items per second through gz_pool_imap_unordered
 *                    (pool of 10, a no-op function)
 * (waking 100k waiters of one event: bench/memory.c)
 * usage: sync [queue items] [pool items] */
#include <gzmq.h>

#include "bench.h"

static long items;
static gz_queue *q, *idle[3];
static int select_cases; /* 0: the consumer calls gz_queue_get */

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < items; i++)
        BENCH_CHECK(gz_queue_put(q, (void *)(i + 1), GZ_FOREVER) == 0);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    void *item;
    if (select_cases) {
        gz_case c[4] = {{.op = GZ_GET, .obj = q}};
        for (int k = 1; k < 4; k++)
            c[k] = (gz_case){.op = GZ_GET, .obj = idle[k - 1]};
        for (long i = 0; i < items; i++)
            BENCH_CHECK(gz_select(c, (size_t)select_cases, GZ_FOREVER) == 0);
        return NULL;
    }
    for (long i = 0; i < items; i++)
        BENCH_CHECK(gz_queue_get(q, &item, GZ_FOREVER) == 0);
    return NULL;
}

static double bench_queue(long n, int cases)
{
    items = n;
    select_cases = cases;
    q = gz_queue_new(1);
    BENCH_CHECK(q);
    double t0 = bench_now();
    gz_greenlet *p = gz_spawn(producer, NULL), *c = gz_spawn(consumer, NULL);
    BENCH_CHECK(p && c && gz_join(p, GZ_FOREVER) == 0 && gz_join(c, GZ_FOREVER) == 0);
    double t = bench_now() - t0;
    gz_release(p);
    gz_release(c);
    gz_queue_free(q);
    return (double)n / t;
}

static void *identity(void *arg)
{
    return arg;
}

static double bench_pool(long n)
{
    void **in = malloc((size_t)n * sizeof *in);
    BENCH_CHECK(in);
    for (long i = 0; i < n; i++)
        in[i] = (void *)(i + 1);
    gz_pool *p = gz_pool_new(10);
    BENCH_CHECK(p);
    double t0 = bench_now();
    gz_imap *it = gz_pool_imap_unordered(p, identity, in, (size_t)n);
    BENCH_CHECK(it);
    void *out;
    long got = 0;
    while (gz_imap_next(it, &out, GZ_FOREVER) == 0)
        got++;
    double t = bench_now() - t0;
    BENCH_CHECK(got == n);
    gz_imap_free(it);
    gz_pool_free(p);
    free(in);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    long nq = bench_arg(argc, argv, 1, 2000000);
    long np = bench_arg(argc, argv, 2, 1000000);
    for (int k = 0; k < 3; k++)
        BENCH_CHECK(idle[k] = gz_queue_new(0));
    double plain = bench_queue(nq, 0), s1 = bench_queue(nq, 1), s4 = bench_queue(nq, 4);
    bench_result("queue_pairs", plain, "pairs/s");
    bench_result("queue_select1", s1, "pairs/s");
    bench_result("select1_ratio", s1 / plain, "x");
    bench_result("queue_select4", s4, "pairs/s");
    bench_result("select4_ratio", s4 / plain, "x");
    for (int k = 0; k < 3; k++)
        gz_queue_free(idle[k]);
    bench_result("pool_imap", bench_pool(np), "items/s");
    return 0;
}
