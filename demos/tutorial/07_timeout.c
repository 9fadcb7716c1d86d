/* Timeouts, first form: a timeout armed for the current greenlet bounds
 * everything it blocks on until it is cancelled.
 *
 *   timeout = Timeout(seconds); timeout.start()
 *   try: gevent.spawn(wait).join()
 *   except Timeout: print('Could not complete')
 *
 * Times are a fiftieth of the tutorial's (10 s -> 0.2 s).
 */
#include <errno.h>
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static const double seconds = 0.2;

static void *wait_a_while(void *arg)
{
    (void)arg;
    gz_sleep(0.2);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA timeout armed with gz_timeout_start cuts a join short.\n",
               argv[0]);
        return 0;
    }
    /* The timeout belongs to main: it bounds main's join, not the sleep of
     * the greenlet. Armed first, it expires first although both last
     * 0.2 s: timers fire in the order of their deadlines. */
    gz_timeout *timeout = gz_timeout_start(seconds);
    gz_greenlet *g = gz_spawn(wait_a_while, NULL);
    if (gz_join(g, GZ_FOREVER) != 0 && errno == ETIMEDOUT)
        printf("Could not complete\n");
    else
        printf("Completed\n");
    gz_timeout_cancel(timeout); /* a fired timeout must still be cancelled */

    /* gevent would leave the greenlet behind at exit; here it is killed so
     * that everything is freed. */
    gz_kill(g, GZ_FOREVER);
    gz_release(g);
    return 0;
}
