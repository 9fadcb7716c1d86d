/* Green ZeroMQ: both ends are greenlets of one thread.
 *   green_reqrep_{inproc,tcp}     REQ/REP round trips/s, 64-byte messages
 *   green_reqrep_select_{inproc,tcp}  the same, the REP greenlet a service
 *                                 loop: gz_select over its socket and an
 *                                 idle command queue, then a non-blocking recv
 *   green_pushpull_{inproc,tcp}   PUSH/PULL messages/s, best of STREAM_TRIES
 *   green_pubsub_{inproc,tcp}     PUB/SUB messages/s (no high-water mark),
 *                                 best of STREAM_TRIES
 *   green2h_pushpull_{inproc,tcp} PUSH/PULL messages/s with each end on a hub
 *                                 of its own (gz_run_threads(2)): two cores,
 *                                 like raw libzmq's two threads; best of
 *                                 STREAM_TRIES
 *   green_lat{50,99}_{inproc,tcp} REQ/REP round-trip latency percentiles, us,
 *                                 100 client greenlets (a REQ socket each)
 *                                 on one REP server greenlet
 * usage: zmq_green [round trips] [stream messages] [latency rounds/client] */
#include <gzmq.h>

#include "zmq_common.h"

static void *ctx;
static long count;

static void *rep_server(void *sock)
{
    char buf[MSG_SIZE];
    for (long i = 0; i < count; i++) {
        BENCH_CHECK(gz_zmq_recv(sock, buf, sizeof buf, 0) == MSG_SIZE);
        BENCH_CHECK(gz_zmq_send(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    }
    return NULL;
}

/* rep_server as a service loop waits for its socket or a command. */
static void *rep_select_server(void *sock)
{
    char buf[MSG_SIZE];
    gz_queue *commands = gz_queue_new(0);
    BENCH_CHECK(commands);
    for (long i = 0; i < count; i++) {
        gz_case c[2] = {{.op = GZ_ZMQ_IN, .obj = sock}, {.op = GZ_GET, .obj = commands}};
        BENCH_CHECK(gz_select(c, 2, GZ_FOREVER) == 0 && c[0].err == 0);
        BENCH_CHECK(gz_zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT) == MSG_SIZE);
        BENCH_CHECK(gz_zmq_send(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    }
    gz_queue_free(commands);
    return NULL;
}

static double reqrep(const char *transport, long n, gz_fn server)
{
    zpair p = zpair_open(ctx, ZMQ_REP, ZMQ_REQ, transport, "reqrep", -1);
    char buf[MSG_SIZE] = {0};
    count = n;
    gz_greenlet *srv = gz_spawn(server, p.a);
    BENCH_CHECK(srv);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(gz_zmq_send(p.b, buf, MSG_SIZE, 0) == MSG_SIZE);
        BENCH_CHECK(gz_zmq_recv(p.b, buf, sizeof buf, 0) == MSG_SIZE);
    }
    double t = bench_now() - t0;
    BENCH_CHECK(gz_join(srv, GZ_FOREVER) == 0);
    gz_release(srv);
    gz_zmq_close(p.a);
    gz_zmq_close(p.b);
    return (double)n / t;
}

static volatile int sub_ready;

/* Sends 1-byte hellos until the receiver has seen one (PUB/SUB slow joiner),
 * then COUNT 64-byte messages. */
static void *sender(void *sock)
{
    char buf[MSG_SIZE] = {0};
    while (!sub_ready) {
        BENCH_CHECK(gz_zmq_send(sock, "h", 1, 0) == 1);
        gz_sleep(0.001);
    }
    for (long i = 0; i < count; i++)
        BENCH_CHECK(gz_zmq_send(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    return NULL;
}

static double stream(int ta, int tb, const char *transport, long n)
{
    /* a = the receiver (PULL / SUB) binds: then a raw PUB can also bind... */
    zpair p = zpair_open(ctx, ta, tb, transport, "stream", ta == ZMQ_PUB ? 0 : -1);
    void *out = ta == ZMQ_PUSH || ta == ZMQ_PUB ? p.a : p.b;
    void *in = out == p.a ? p.b : p.a;
    char buf[MSG_SIZE];
    count = n;
    sub_ready = ta != ZMQ_PUB;
    gz_greenlet *snd = gz_spawn(sender, out);
    BENCH_CHECK(snd);
    int r;
    while ((r = gz_zmq_recv(in, buf, sizeof buf, 0)) == 1)
        sub_ready = 1;
    BENCH_CHECK(r == MSG_SIZE);
    double t0 = bench_now();
    for (long i = 1; i < n; i++) {
        r = gz_zmq_recv(in, buf, sizeof buf, 0);
        if (r == 1) { i--; continue; } /* a late hello */
        BENCH_CHECK(r == MSG_SIZE);
    }
    double t = bench_now() - t0;
    BENCH_CHECK(gz_join(snd, GZ_FOREVER) == 0);
    gz_release(snd);
    gz_zmq_close(p.a);
    gz_zmq_close(p.b);
    return (double)(n - 1) / t;
}

/* Each end on its own hub: index 0 sends, index 1 receives and times. The
 * sockets were made on the main thread and never used there: each moves
 * to the thread that uses it (thread creation is the barrier libzmq asks
 * for) and is closed there. */
static double two_hub_rate;

static void two_hub_end(size_t index, void *arg)
{
    zpair *p = arg;
    char buf[MSG_SIZE] = {0};
    if (index == 0) {
        for (long i = 0; i < count; i++)
            BENCH_CHECK(gz_zmq_send(p->b, buf, MSG_SIZE, 0) == MSG_SIZE);
        int forever = -1; /* what is still queued must reach the receiver */
        BENCH_CHECK(zmq_setsockopt(p->b, ZMQ_LINGER, &forever, sizeof forever) == 0);
        gz_zmq_close(p->b);
        return;
    }
    BENCH_CHECK(gz_zmq_recv(p->a, buf, sizeof buf, 0) == MSG_SIZE);
    double t0 = bench_now();
    for (long i = 1; i < count; i++)
        BENCH_CHECK(gz_zmq_recv(p->a, buf, sizeof buf, 0) == MSG_SIZE);
    two_hub_rate = (double)(count - 1) / (bench_now() - t0);
    gz_zmq_close(p->a);
}

static double stream_two_hubs(int ta, int tb, const char *transport, long n)
{
    zpair p = zpair_open(ctx, ta, tb, transport, "stream2h", -1);
    count = n;
    BENCH_CHECK(gz_run_threads(2, two_hub_end, &p) == 0);
    return two_hub_rate;
}

#define CLIENTS 100
static long lat_rounds;
static double *lat;
static const char *lat_ep;

static void *lat_client(void *arg)
{
    long id = (long)(intptr_t)arg;
    void *s = zsock(ctx, ZMQ_REQ);
    char buf[MSG_SIZE] = {0};
    BENCH_CHECK(zmq_connect(s, lat_ep) == 0);
    /* One untimed round trip first: the connection's set-up (over tcp a
     * handshake, then ZMTP's) is not a round trip. */
    BENCH_CHECK(gz_zmq_send(s, buf, MSG_SIZE, 0) == MSG_SIZE);
    BENCH_CHECK(gz_zmq_recv(s, buf, sizeof buf, 0) == MSG_SIZE);
    for (long i = 0; i < lat_rounds; i++) {
        double t0 = bench_now();
        BENCH_CHECK(gz_zmq_send(s, buf, MSG_SIZE, 0) == MSG_SIZE);
        BENCH_CHECK(gz_zmq_recv(s, buf, sizeof buf, 0) == MSG_SIZE);
        lat[id * lat_rounds + i] = (bench_now() - t0) * 1e6;
    }
    gz_zmq_close(s);
    return NULL;
}

static void latency(const char *transport, long rounds)
{
    void *rep = zsock(ctx, ZMQ_REP);
    char ep[256], name[64];
    size_t len = sizeof ep;
    BENCH_CHECK(zmq_bind(rep, strcmp(transport, "tcp") ? "inproc://lat" : "tcp://127.0.0.1:*") == 0);
    BENCH_CHECK(zmq_getsockopt(rep, ZMQ_LAST_ENDPOINT, ep, &len) == 0);
    lat_ep = ep;
    lat_rounds = rounds;
    count = CLIENTS * (rounds + 1); /* the server also answers the warm-ups */
    long samples = CLIENTS * rounds;
    lat = malloc((size_t)samples * sizeof *lat);
    BENCH_CHECK(lat);
    gz_greenlet *srv = gz_spawn(rep_server, rep), *cl[CLIENTS];
    for (long i = 0; i < CLIENTS; i++)
        BENCH_CHECK((cl[i] = gz_spawn(lat_client, (void *)(intptr_t)i)) != NULL);
    BENCH_CHECK(gz_joinall(cl, CLIENTS, GZ_FOREVER) == CLIENTS);
    BENCH_CHECK(gz_join(srv, GZ_FOREVER) == 0);
    qsort(lat, (size_t)samples, sizeof *lat, cmp_double);
    snprintf(name, sizeof name, "green_lat50_%s", transport);
    bench_result(name, lat[samples / 2], "us");
    snprintf(name, sizeof name, "green_lat99_%s", transport);
    bench_result(name, lat[samples * 99 / 100], "us");
    for (long i = 0; i < CLIENTS; i++)
        gz_release(cl[i]);
    gz_release(srv);
    gz_zmq_close(rep);
    free(lat);
}

int main(int argc, char **argv)
{
    long nrt = bench_arg(argc, argv, 1, 200000);
    long nmsg = bench_arg(argc, argv, 2, 1000000);
    long nlat = bench_arg(argc, argv, 3, 200);
    const char *tr[] = {"inproc", "tcp"};
    char name[64];
    ctx = zmq_ctx_new();
    BENCH_CHECK(ctx);
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "green_reqrep_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, rep_server), "rt/s");
        snprintf(name, sizeof name, "green_reqrep_select_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, rep_select_server), "rt/s");
    }
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "green_pushpull_%s", tr[i]);
        bench_result(name, best_stream(stream, ZMQ_PUSH, ZMQ_PULL, tr[i], nmsg), "msg/s");
        snprintf(name, sizeof name, "green_pubsub_%s", tr[i]);
        bench_result(name, best_stream(stream, ZMQ_PUB, ZMQ_SUB, tr[i], nmsg), "msg/s");
        snprintf(name, sizeof name, "green2h_pushpull_%s", tr[i]);
        bench_result(name, best_stream(stream_two_hubs, ZMQ_PULL, ZMQ_PUSH, tr[i], nmsg), "msg/s");
    }
    for (int i = 0; i < 2; i++)
        latency(tr[i], nlat);
    zmq_ctx_term(ctx);
    return 0;
}
