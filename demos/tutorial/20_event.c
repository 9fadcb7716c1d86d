/* The tutorial's Event example: a waiter blocks until a setter, three
 * seconds later (0.3 s here), sets the event and wakes every waiter.
 *
 *   evt = Event()
 *   def setter(): gevent.sleep(3); evt.set()
 *   def waiter(): evt.wait(); print "I live"
 *   gevent.joinall([gevent.spawn(setter), gevent.spawn(waiter)])
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static gz_event *evt;

static void *setter(void *arg)
{
    (void)arg;
    gz_sleep(0.3);   /* after 0.3 s, wake every greenlet waiting on evt */
    gz_event_set(evt);
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    gz_event_wait(evt, GZ_FOREVER); /* blocks only this greenlet */
    printf("I live\n");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA greenlet waits on a gz_event that another sets 0.3 s later.\n",
               argv[0]);
        return 0;
    }
    evt = gz_event_new();
    gz_greenlet *g[2] = {gz_spawn(setter, NULL), gz_spawn(waiter, NULL)};
    gz_joinall(g, 2, GZ_FOREVER);
    gz_release(g[0]);
    gz_release(g[1]);
    gz_event_free(evt);
    return 0;
}
