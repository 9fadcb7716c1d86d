/* The select example: two greenlets wait in gz_poll while a third works.
 *
 *   select.select([], [], [], 2)   ->   gz_poll(NULL, 0, 0.2)
 *
 * gz_poll blocks only the calling greenlet, so both waits overlap and the
 * whole program takes one wait, not two. Times are a tenth of the
 * tutorial's (2 s -> 0.2 s, 1 s -> 0.1 s).
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double start;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The tutorial's tic(): seconds since the program started. */
static double tic(void) { return now() - start; }

static void *gr1(void *arg)
{
    (void)arg;
    printf("Started Polling: at %.1f seconds\n", tic());
    gz_poll(NULL, 0, 0.2); /* no fds: just wait, letting the others run */
    printf("Ended Polling: at %.1f seconds\n", tic());
    return NULL;
}

static void *gr2(void *arg)
{
    (void)arg;
    printf("Started Polling: at %.1f seconds\n", tic());
    gz_poll(NULL, 0, 0.2);
    printf("Ended Polling: at %.1f seconds\n", tic());
    return NULL;
}

static void *gr3(void *arg)
{
    (void)arg;
    printf("Hey lets do some stuff while the greenlets poll, at %.1f seconds\n",
           tic());
    gz_sleep(0.1);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nTwo greenlets wait in gz_poll (select) while a third works.\n",
               argv[0]);
        return 0;
    }
    start = now();
    gz_greenlet *g[3] = {gz_spawn(gr1, NULL), gz_spawn(gr2, NULL),
                         gz_spawn(gr3, NULL)};
    gz_joinall(g, 3, GZ_FOREVER);
    for (int i = 0; i < 3; i++)
        gz_release(g[i]);
    return 0;
}
