/* Timeouts, second form: the with-statement. A timeout armed around a block
 * and cancelled after it; once it expires, the block's blocking calls fail
 * with ETIMEDOUT, the C counterpart of the exception it raises.
 *
 *   class TooLong(Exception): pass
 *   with Timeout(time_to_wait, TooLong):
 *       gevent.sleep(10)
 *
 * Times are a fiftieth of the tutorial's (5 s -> 0.1 s, 10 s -> 0.2 s).
 */
#include <errno.h>
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static const double time_to_wait = 0.1;

/* with Timeout(time_to_wait): gz_sleep(sleep); report how the block ended. */
static void block(double sleep)
{
    gz_timeout *t = gz_timeout_start(time_to_wait);
    int rc = gz_sleep(sleep);
    /* gz_timeout_fired tells this block's timeout from an outer one. */
    if (rc != 0 && errno == ETIMEDOUT && gz_timeout_fired(t))
        printf("TooLong: sleeping %.2f s took longer than %.2f s\n", sleep,
               time_to_wait);
    else if (rc == 0)
        printf("slept %.2f s within the %.2f s timeout\n", sleep, time_to_wait);
    gz_timeout_cancel(t); /* leaving the with-block */
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA timeout around a block: gz_timeout_start ... gz_timeout_cancel.\n",
               argv[0]);
        return 0;
    }
    block(0.2);  /* the tutorial's case: too long */
    block(0.05); /* and one that finishes in time */
    return 0;
}
