/* COUNT greenlets blocked on one gz_event:
 *   rss_per_greenlet_SUFFIX  VmRSS growth per blocked greenlet, KiB, read
 *                            before spawning and once every one has parked
 *   event_wake_SUFFIX        ms from gz_event_set until every waiter has run
 *                            (each then parks on a second event, so the
 *                            figure is the wake-up, not 100k greenlet ends;
 *                            the process then exits without tearing down)
 * usage: memory count suffix   (e.g. memory 100000 100k)
 * Past the guarded-stack budget (vm.max_map_count) the library says once on
 * stderr that further stacks come unguarded from slabs: expected. */
#include <gzmq.h>

#include <unistd.h>

#include "bench.h"

static gz_event *ev, *done;
static long woke;

static void *waiter(void *arg)
{
    (void)arg;
    if (gz_event_wait(ev, GZ_FOREVER) == 0)
        woke++;
    gz_event_wait(done, GZ_FOREVER);
    return NULL;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 100000);
    const char *suffix = argc > 2 ? argv[2] : "100k";
    char name[64];
    ev = gz_event_new();
    done = gz_event_new();
    /* the handle array is allocated up front: not counted in the RSS */
    gz_greenlet **g = calloc((size_t)n, sizeof *g);
    BENCH_CHECK(ev && done && g);
    for (long i = 0; i < n; i++)
        g[i] = NULL;
    long before = bench_rss_kib();
    for (long i = 0; i < n; i++)
        BENCH_CHECK((g[i] = gz_spawn(waiter, NULL)) != NULL);
    gz_yield(); /* every one runs once and parks on the event */
    long after = bench_rss_kib();
    snprintf(name, sizeof name, "rss_per_greenlet_%s", suffix);
    bench_result(name, (double)(after - before) / (double)n, "KiB");

    double t0 = bench_now();
    gz_event_set(ev);
    while (woke < n)
        gz_yield();
    double t = bench_now() - t0;
    snprintf(name, sizeof name, "event_wake_%s", suffix);
    bench_result(name, t * 1e3, "ms");

    /* Tearing down COUNT greenlets (unmapping their stacks) is not what is
     * measured here and takes seconds at 100k: exit leaves it to the kernel. */
    fflush(stdout);
    _exit(0);
}
