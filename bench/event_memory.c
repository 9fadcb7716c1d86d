/* RSS per greenlet blocked on one gz_event. Not a test: run it by hand.
 *
 *   make lib && cc -O2 -Iinclude bench/event_memory.c build/libgzmq.a \
 *       -lzmq -lev -lpthread -lm -o /tmp/event_memory && /tmp/event_memory 100000
 *
 * Reads VmRSS from /proc/self/status before spawning and once every greenlet
 * has run and parked in gz_event_wait; then sets the event and checks that
 * every one of them woke. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gz_event *ev;
static long woke;

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static void *waiter(void *arg)
{
    (void)arg;
    if (gz_event_wait(ev, GZ_FOREVER) == 0)
        woke++;
    return NULL;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [greenlets]\n", argv[0]);
        return 2;
    }
    ev = gz_event_new();
    gz_greenlet **g = malloc((size_t)n * sizeof *g);
    long before = rss_kib();
    for (long i = 0; i < n; i++) {
        g[i] = gz_spawn(waiter, NULL);
        if (!g[i]) {
            perror("gz_spawn");
            return 1;
        }
    }
    gz_yield(); /* every one runs and parks on the event */
    long after = rss_kib();
    printf("%ld greenlets blocked on one gz_event: RSS %ld -> %ld KiB, "
           "%.2f KiB each (stack size %zu)\n", n, before, after,
           (double)(after - before) / (double)n, gz_stack_size());
    gz_event_set(ev);
    size_t done = gz_joinall(g, (size_t)n, GZ_FOREVER);
    printf("woken: %ld, ended: %zu\n", woke, done);
    for (long i = 0; i < n; i++)
        gz_release(g[i]);
    free(g);
    gz_event_free(ev);
    return woke == n && done == (size_t)n ? 0 : 1;
}
