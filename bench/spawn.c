/* Spawn + join of a no-op greenlet with a warm stack cache, ns each
 * (spawn_join), and the same with the blocking watchdog on
 * (spawn_join_watchdog): best of two each, taken in turn.
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
    double off = 1e9, on = 1e9;
    for (int i = 0; i < 4; i++) {
        if (i % 2)
            BENCH_CHECK(gz_monitor_start(1.0, NULL, NULL) == 0);
        double t0 = bench_now();
        spawn_join(n);
        double t = (bench_now() - t0) * 1e9 / (double)n;
        if (i % 2) {
            BENCH_CHECK(gz_monitor_stop() == 0);
            on = t < on ? t : on;
        } else {
            off = t < off ? t : off;
        }
    }
    bench_result("spawn_join", off, "ns");
    bench_result("spawn_join_watchdog", on, "ns");
    return 0;
}
