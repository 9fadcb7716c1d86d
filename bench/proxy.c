/* A ROUTER/DEALER broker: gz_zmq_proxy (a greenlet on the broker thread's
 * hub) against zmq_proxy (libzmq's loop on that thread). The clients and
 * workers are the same plain libzmq threads in both: one client DEALER that
 * keeps WINDOW requests in flight, one worker DEALER that echoes every
 * message (routing id and body). Each figure is the best of STREAM_TRIES
 * runs, the two brokers taking turns.
 *   proxy_green_{inproc,tcp}   round trips/s through gz_zmq_proxy
 *   proxy_raw_{inproc,tcp}     round trips/s through zmq_proxy
 *   proxy_ratio_{inproc,tcp}   green / raw
 * usage: proxy [round trips] */
#include <gzmq.h>
#include <pthread.h>

#include "zmq_common.h"

#define WINDOW 200

typedef struct broker {
    void *ctx, *front, *back;
    bool green;
} broker;

static void *run_broker(void *arg)
{
    broker *b = arg;
    if (b->green) {
        gz_greenlet *g = gz_zmq_proxy(b->front, b->back, NULL, NULL);
        BENCH_CHECK(g);
        BENCH_CHECK(gz_join(g, GZ_FOREVER) == 0);
        const gz_error *e = gz_exception(g); /* observed: no report */
        BENCH_CHECK(e && e->code == ETERM);
        gz_release(g);
    } else {
        zmq_proxy(b->front, b->back, NULL); /* returns with ETERM */
    }
    return NULL;
}

/* Echo every message until the context ends. */
static void *run_worker(void *sock)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, sock, 0) < 0)
            break;
        int more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, sock, more ? ZMQ_SNDMORE : 0) < 0)
            break;
    }
    zmq_msg_close(&m);
    zmq_close(sock);
    return NULL;
}

static const char *endpoint(void *s, const char *transport, const char *name, char *ep, size_t len)
{
    static int serial;
    if (strcmp(transport, "inproc") == 0)
        snprintf(ep, len, "inproc://%s-%d", name, ++serial);
    else
        snprintf(ep, len, "tcp://127.0.0.1:*");
    BENCH_CHECK(zmq_bind(s, ep) == 0);
    BENCH_CHECK(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) == 0);
    return ep;
}

/* N round trips through a fresh broker: round trips per second. */
static double one_run(bool green, const char *transport, long n)
{
    broker b = {.ctx = zmq_ctx_new(), .green = green};
    BENCH_CHECK(b.ctx);
    b.front = zsock(b.ctx, ZMQ_ROUTER);
    b.back = zsock(b.ctx, ZMQ_DEALER);
    char fep[256], bep[256];
    endpoint(b.front, transport, "front", fep, sizeof fep);
    endpoint(b.back, transport, "back", bep, sizeof bep);
    void *client = zsock(b.ctx, ZMQ_DEALER);
    void *worker = zsock(b.ctx, ZMQ_DEALER);
    BENCH_CHECK(zmq_connect(client, fep) == 0);
    BENCH_CHECK(zmq_connect(worker, bep) == 0);
    pthread_t bt, wt;
    BENCH_CHECK(pthread_create(&bt, NULL, run_broker, &b) == 0);
    BENCH_CHECK(pthread_create(&wt, NULL, run_worker, worker) == 0);
    char buf[MSG_SIZE] = {0};
    /* one round trip first: every connection is up before the clock starts */
    BENCH_CHECK(zmq_send(client, buf, MSG_SIZE, 0) == MSG_SIZE);
    BENCH_CHECK(zmq_recv(client, buf, sizeof buf, 0) == MSG_SIZE);
    double t0 = bench_now();
    long sent = 0, got = 0;
    for (; sent < WINDOW && sent < n; sent++)
        BENCH_CHECK(zmq_send(client, buf, MSG_SIZE, 0) == MSG_SIZE);
    while (got < n) {
        BENCH_CHECK(zmq_recv(client, buf, sizeof buf, 0) == MSG_SIZE);
        got++;
        if (sent < n) {
            BENCH_CHECK(zmq_send(client, buf, MSG_SIZE, 0) == MSG_SIZE);
            sent++;
        }
    }
    double t = bench_now() - t0;
    zmq_ctx_shutdown(b.ctx);
    BENCH_CHECK(pthread_join(bt, NULL) == 0);
    BENCH_CHECK(pthread_join(wt, NULL) == 0);
    zmq_close(client);
    zmq_close(b.front);
    zmq_close(b.back);
    zmq_ctx_term(b.ctx);
    return (double)n / t;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 200000);
    const char *transports[] = {"inproc", "tcp"};
    for (int t = 0; t < 2; t++) {
        double green = 0, raw = 0;
        for (int i = 0; i < STREAM_TRIES; i++) {
            double r = one_run(false, transports[t], n);
            double g = one_run(true, transports[t], n);
            raw = r > raw ? r : raw;
            green = g > green ? g : green;
        }
        char name[64];
        snprintf(name, sizeof name, "proxy_green_%s", transports[t]);
        bench_result(name, green, "rt/s");
        snprintf(name, sizeof name, "proxy_raw_%s", transports[t]);
        bench_result(name, raw, "rt/s");
        snprintf(name, sizeof name, "proxy_ratio_%s", transports[t]);
        bench_result(name, green / raw, "ratio");
    }
    return 0;
}
