/* The tutorial's gevent-zeromq example: a REQ "server" and a REP "client",
 * both greenlets of one process. Each send or recv that has to wait blocks
 * only its own greenlet, so the two ends take turns:
 *
 *   publisher = gevent.spawn(server)
 *   client    = gevent.spawn(client)
 *   gevent.joinall([publisher, client])
 *
 * The original used tcp://127.0.0.1:5000; inproc needs no free port and
 * behaves the same (any endpoint works: only the calls change). */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

#define ENDPOINT "inproc://tutorial-reqrep"

static void *server(void *arg)
{
    (void)arg;
    void *sock = zmq_socket(gz_zmq_context(), ZMQ_REQ);
    zmq_bind(sock, ENDPOINT);
    for (int request = 1; request < 10; request++) {
        gz_zmq_send(sock, "Hello", 5, 0);
        printf("Switched to Server for %d\n", request);
        char reply[16];
        gz_zmq_recv(sock, reply, sizeof reply, 0); /* implicit context switch */
    }
    gz_zmq_close(sock);
    return NULL;
}

static void *client(void *arg)
{
    (void)arg;
    void *sock = zmq_socket(gz_zmq_context(), ZMQ_REP);
    zmq_connect(sock, ENDPOINT);
    for (int request = 1; request < 10; request++) {
        char msg[16];
        gz_zmq_recv(sock, msg, sizeof msg, 0);
        printf("Switched to Client for %d\n", request);
        gz_zmq_send(sock, "World", 5, 0); /* implicit context switch */
    }
    gz_zmq_close(sock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nThe gevent-zeromq REQ/REP example: both ends are "
               "greenlets of one process.\n", argv[0]);
        return 0;
    }
    gz_greenlet *g[2] = {gz_spawn(server, NULL), gz_spawn(client, NULL)};
    gz_joinall(g, 2, GZ_FOREVER);
    gz_release(g[0]);
    gz_release(g[1]);
    zmq_ctx_term(gz_zmq_context()); /* every socket is closed */
    return 0;
}
