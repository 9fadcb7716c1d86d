/* Spawn + join of a no-op greenlet with a warm stack cache, ns each.
 * usage: spawn [count] */
#include <gzmq.h>

#include "bench.h"

static void *noop(void *arg)
{
    return arg;
}

static void spawn_join(long n)
{
    for (long i = 0; i < n; i++) {
        gz_greenlet *g = gz_spawn(noop, NULL);
        BENCH_CHECK(g && gz_join(g, GZ_FOREVER) == 0);
        gz_release(g);
    }
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 2000000);
    spawn_join(10000); /* warm the stack cache and the recycled structs */
    double t0 = bench_now();
    spawn_join(n);
    double t = bench_now() - t0;
    bench_result("spawn_join", t * 1e9 / (double)n, "ns");
    return 0;
}
