/* Greenlet-local storage: ns per gz_getspecific and per gz_setspecific in a
 * greenlet, and spawn + join of a no-op greenlet whose parent holds a
 * GZ_KEY_INHERIT value (the cost of inheritance; compare with spawn_join).
 * usage: locals [count] */
#include <gzmq.h>

#include "bench.h"

static gz_key key, inherited;
static long n;

static void *noop(void *arg) { return arg; }

static void *getset(void *arg)
{
    (void)arg;
    BENCH_CHECK(gz_setspecific(key, &n) == 0);
    volatile long sink = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        sink += gz_getspecific(key) != NULL;
    double t1 = bench_now();
    for (long i = 0; i < n; i++)
        gz_setspecific(key, (void *)(long)(i | 1));
    double t2 = bench_now();
    BENCH_CHECK(sink == n);
    bench_result("local_get", (t1 - t0) * 1e9 / (double)n, "ns");
    bench_result("local_set", (t2 - t1) * 1e9 / (double)n, "ns");
    return NULL;
}

static void *spawn_inheriting(void *arg)
{
    long count = (long)arg;
    BENCH_CHECK(gz_setspecific(inherited, &n) == 0);
    for (long i = 0; i < count; i++) {
        gz_greenlet *g = gz_spawn(noop, NULL);
        BENCH_CHECK(g && gz_join(g, GZ_FOREVER) == 0);
        gz_release(g);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n = bench_arg(argc, argv, 1, 20000000);
    BENCH_CHECK(gz_key_create(&key, NULL) == 0);
    BENCH_CHECK(gz_key_create_flags(&inherited, NULL, GZ_KEY_INHERIT) == 0);
    gz_greenlet *g = gz_spawn(getset, NULL);
    BENCH_CHECK(g && gz_join(g, GZ_FOREVER) == 0);
    gz_release(g);
    long spawns = n / 10;
    g = gz_spawn(spawn_inheriting, (void *)10000L); /* warm the caches */
    BENCH_CHECK(g && gz_join(g, GZ_FOREVER) == 0);
    gz_release(g);
    g = gz_spawn(spawn_inheriting, (void *)spawns);
    double t0 = bench_now();
    BENCH_CHECK(g && gz_join(g, GZ_FOREVER) == 0);
    double t = bench_now() - t0;
    gz_release(g);
    bench_result("spawn_join_inheriting", t * 1e9 / (double)spawns, "ns");
    return 0;
}
