/* The tutorial's Actor example: two actors, each a greenlet with an inbox,
 * bouncing messages. The tutorial's pair never stops; here the Pinger stops
 * after three exchanges and the Ponger after its third ping.
 *
 *   class Pinger(Actor):
 *       def receive(self, message): print message; pong.inbox.put('ping'); gevent.sleep(0)
 *   class Ponger(Actor):
 *       def receive(self, message): print message; ping.inbox.put('pong'); gevent.sleep(0)
 *   ping.start(); pong.start(); ping.inbox.put('start'); gevent.joinall([ping, pong])
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

enum { EXCHANGES = 3 };

static gz_actor *ping, *pong;

typedef struct counter {
    int n;
} counter;

/* receive returns 0 to go on, non-zero to stop the actor. */
static int pinger(gz_actor *self, void *message)
{
    counter *sent = gz_actor_state(self);
    printf("%s\n", (const char *)message);
    if (sent->n == EXCHANGES)
        return 1; /* the last pong is in */
    gz_actor_send(pong, "ping", GZ_FOREVER);
    sent->n++;
    gz_sleep(0);
    return 0;
}

static int ponger(gz_actor *self, void *message)
{
    counter *got = gz_actor_state(self);
    printf("%s\n", (const char *)message);
    gz_actor_send(ping, "pong", GZ_FOREVER);
    gz_sleep(0);
    return ++got->n == EXCHANGES;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nPinger and Ponger actors exchange %d messages each way.\n",
               argv[0], EXCHANGES);
        return 0;
    }
    counter sent = {0}, got = {0};
    ping = gz_actor_new(pinger, &sent, 0); /* 0: an unbounded inbox */
    pong = gz_actor_new(ponger, &got, 0);
    gz_actor_start(ping);
    gz_actor_start(pong);
    gz_actor_send(ping, "start", GZ_FOREVER);
    gz_greenlet *g[2] = {gz_actor_greenlet(ping), gz_actor_greenlet(pong)};
    gz_joinall(g, 2, GZ_FOREVER);
    gz_actor_free(ping);
    gz_actor_free(pong);
    return 0;
}
