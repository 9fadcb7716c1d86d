/* A service loop with gz_select: one wait over a ZeroMQ socket (work from
 * the network), a command queue (control from other greenlets) and a
 * shutdown event, with a heartbeat deadline. In gevent this needs a
 * greenlet per source feeding one queue; in Go it is a select statement.
 *
 *   for {
 *       select {
 *       case frame := <-socket:    handle(frame)
 *       case cmd := <-commands:   run(cmd)
 *       case <-shutdown:          return
 *       case <-time.After(hb):    heartbeat()
 *       }
 *   }
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static void *pull, *push;
static gz_queue *commands, *acks;
static gz_event *shutdown_ev;

static void *service(void *arg)
{
    (void)arg;
    int frames = 0, ncommands = 0;
    gz_case cases[] = {
        {.op = GZ_ZMQ_IN, .obj = pull},
        {.op = GZ_GET, .obj = commands},
        {.op = GZ_EVENT, .obj = shutdown_ev},
    };
    for (;;) {
        int i = gz_select(cases, 3, 10.0); /* 10 s without news: a heartbeat */
        if (i < 0) {
            printf("heartbeat (%s)\n", strerror(errno));
            continue;
        }
        if (i == 0) { /* readable: a non-blocking recv now succeeds */
            char buf[64];
            int n = gz_zmq_recv(pull, buf, sizeof buf - 1, ZMQ_DONTWAIT);
            buf[n < 0 ? 0 : n] = 0;
            printf("frame: %s\n", buf);
            frames++;
        } else if (i == 1) { /* the item was taken: it is in cases[1].item */
            printf("command: %s (%d frames so far)\n", (char *)cases[1].item, frames);
            ncommands++;
        } else {
            printf("shutdown: %d frames, %d commands\n", frames, ncommands);
            return NULL;
        }
        gz_queue_put(acks, NULL, GZ_FOREVER);
    }
}

/* Send or queue one thing, then wait for the service to have handled it,
 * so the printed order is always the same. */
static void send_frame(const char *s)
{
    gz_zmq_send(push, s, strlen(s), 0);
    gz_queue_get(acks, NULL, GZ_FOREVER);
}

static void send_command(const char *s)
{
    gz_queue_put(commands, (void *)s, GZ_FOREVER);
    gz_queue_get(acks, NULL, GZ_FOREVER);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA service greenlet selects over a ZeroMQ socket, a "
               "command queue and a shutdown event.\n", argv[0]);
        return 0;
    }
    void *ctx = zmq_ctx_new();
    pull = zmq_socket(ctx, ZMQ_PULL);
    push = zmq_socket(ctx, ZMQ_PUSH);
    zmq_bind(pull, "inproc://service");
    zmq_connect(push, "inproc://service");
    commands = gz_queue_new(0);
    acks = gz_queue_new(0);
    shutdown_ev = gz_event_new();

    gz_greenlet *svc = gz_spawn(service, NULL);
    send_frame("job 1");
    send_command("status");
    send_frame("job 2");
    send_frame("job 3");
    send_command("status");
    gz_event_set(shutdown_ev);
    gz_join(svc, GZ_FOREVER);
    gz_release(svc);

    gz_event_free(shutdown_ev);
    gz_queue_free(commands);
    gz_queue_free(acks);
    gz_zmq_close(push);
    gz_zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
