/* Timeouts, third form: the timeout argument that greenlet calls take, and
 * gz_with_timeout.
 *
 *   timer = Timeout(1).start(); thread1.join(timeout=timer)
 *   thread2.get(timeout=...)
 *   gevent.with_timeout(1, wait)
 *
 * Times are a tenth of the tutorial's (1 s -> 0.1 s, 2 s -> 0.2 s).
 */
#include <errno.h>
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static void *wait_a_while(void *arg)
{
    (void)arg;
    gz_sleep(0.2);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nJoin under a timer, get with a timeout, gz_with_timeout.\n",
               argv[0]);
        return 0;
    }
    /* join(timeout=timer): a started timer bounds the join. */
    gz_timeout *timer = gz_timeout_start(0.1);
    gz_greenlet *thread1 = gz_spawn(wait_a_while, NULL);
    if (gz_join(thread1, GZ_FOREVER) != 0 && errno == ETIMEDOUT)
        printf("Thread 1 timed out\n");
    gz_timeout_cancel(timer);

    /* get(timeout=...): in C the timeout argument is in seconds. */
    gz_greenlet *thread2 = gz_spawn(wait_a_while, NULL);
    if (gz_get(thread2, NULL, 0.1) != 0 && errno == ETIMEDOUT)
        printf("Thread 2 timed out\n");

    /* with_timeout: run wait_a_while here, in main, under a timeout. */
    if (gz_with_timeout(0.1, wait_a_while, NULL, NULL) != 0 && errno == ETIMEDOUT)
        printf("Thread 3 timed out\n");

    /* The first two still sleep; end them so that everything is freed. */
    gz_greenlet *threads[2] = {thread1, thread2};
    gz_killall(threads, 2, GZ_FOREVER);
    gz_release(thread1);
    gz_release(thread2);
    return 0;
}
