/* Raw libzmq references for bench/zmq_green.c, plain blocking calls:
 *   raw2t_reqrep_{inproc,tcp}    REQ/REP round trips/s, REP in a second thread
 *   raw1t_reqrep_{inproc,tcp}    one thread alternating both ends
 *                                (REQ send, REP recv, REP send, REQ recv)
 *   raw{2t,1t}_reqrep_poll_{inproc,tcp}  the same, the REP end a poll loop:
 *                                zmq_poll on its socket, then a ZMQ_DONTWAIT
 *                                recv (the peer of a gz_select service loop)
 *   raw_pushpull_{inproc,tcp}    PUSH/PULL messages/s, sender in a second thread
 *   raw_pubsub_{inproc,tcp}      PUB/SUB messages/s, publisher in a second
 *                                thread, no high-water mark
 *                                (streams: best of STREAM_TRIES, zmq_common.h)
 * 64-byte messages. usage: zmq_raw [round trips] [stream messages] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "zmq_common.h"

static void *ctx;
static long count;

static bool rep_polls; /* the REP end waits in zmq_poll, then recvs */

static void rep_recv(void *sock, char *buf)
{
    if (rep_polls) {
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        BENCH_CHECK(zmq_poll(&it, 1, -1) == 1);
        BENCH_CHECK(zmq_recv(sock, buf, MSG_SIZE, ZMQ_DONTWAIT) == MSG_SIZE);
    } else {
        BENCH_CHECK(zmq_recv(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    }
}

static void *rep_thread(void *sock)
{
    char buf[MSG_SIZE];
    for (long i = 0; i < count; i++) {
        rep_recv(sock, buf);
        BENCH_CHECK(zmq_send(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    }
    return NULL;
}

static double reqrep(const char *transport, long n, bool two_threads)
{
    zpair p = zpair_open(ctx, ZMQ_REP, ZMQ_REQ, transport, "reqrep", -1);
    char buf[MSG_SIZE] = {0};
    pthread_t th;
    count = n;
    if (two_threads)
        BENCH_CHECK(pthread_create(&th, NULL, rep_thread, p.a) == 0);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        BENCH_CHECK(zmq_send(p.b, buf, MSG_SIZE, 0) == MSG_SIZE);
        if (!two_threads) {
            rep_recv(p.a, buf);
            BENCH_CHECK(zmq_send(p.a, buf, MSG_SIZE, 0) == MSG_SIZE);
        }
        BENCH_CHECK(zmq_recv(p.b, buf, sizeof buf, 0) == MSG_SIZE);
    }
    double t = bench_now() - t0;
    if (two_threads)
        pthread_join(th, NULL);
    zmq_close(p.a);
    zmq_close(p.b);
    return (double)n / t;
}

static atomic_int sub_ready;

/* As in zmq_green.c: 1-byte hellos until the receiver saw one, then COUNT
 * 64-byte messages. */
static void *send_thread(void *sock)
{
    char buf[MSG_SIZE] = {0};
    struct timespec ms = {0, 1000000};
    while (!atomic_load(&sub_ready)) {
        BENCH_CHECK(zmq_send(sock, "h", 1, 0) == 1);
        nanosleep(&ms, NULL);
    }
    for (long i = 0; i < count; i++)
        BENCH_CHECK(zmq_send(sock, buf, MSG_SIZE, 0) == MSG_SIZE);
    return NULL;
}

static double stream(int ta, int tb, const char *transport, long n)
{
    zpair p = zpair_open(ctx, ta, tb, transport, "stream", ta == ZMQ_PUB ? 0 : -1);
    char buf[MSG_SIZE];
    pthread_t th;
    int r;
    count = n;
    atomic_store(&sub_ready, ta != ZMQ_PUB);
    BENCH_CHECK(pthread_create(&th, NULL, send_thread, p.a) == 0);
    while ((r = zmq_recv(p.b, buf, sizeof buf, 0)) == 1)
        atomic_store(&sub_ready, 1);
    BENCH_CHECK(r == MSG_SIZE);
    double t0 = bench_now();
    for (long i = 1; i < n; i++) {
        r = zmq_recv(p.b, buf, sizeof buf, 0);
        if (r == 1) { i--; continue; }
        BENCH_CHECK(r == MSG_SIZE);
    }
    double t = bench_now() - t0;
    pthread_join(th, NULL);
    zmq_close(p.a);
    zmq_close(p.b);
    return (double)(n - 1) / t;
}

int main(int argc, char **argv)
{
    long nrt = bench_arg(argc, argv, 1, 200000);
    long nmsg = bench_arg(argc, argv, 2, 1000000);
    const char *tr[] = {"inproc", "tcp"};
    char name[64];
    ctx = zmq_ctx_new();
    BENCH_CHECK(ctx);
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "raw2t_reqrep_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, true), "rt/s");
        snprintf(name, sizeof name, "raw1t_reqrep_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, false), "rt/s");
        rep_polls = true;
        snprintf(name, sizeof name, "raw2t_reqrep_poll_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, true), "rt/s");
        snprintf(name, sizeof name, "raw1t_reqrep_poll_%s", tr[i]);
        bench_result(name, reqrep(tr[i], nrt, false), "rt/s");
        rep_polls = false;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "raw_pushpull_%s", tr[i]);
        bench_result(name, best_stream(stream, ZMQ_PUSH, ZMQ_PULL, tr[i], nmsg), "msg/s");
        snprintf(name, sizeof name, "raw_pubsub_%s", tr[i]);
        bench_result(name, best_stream(stream, ZMQ_PUB, ZMQ_SUB, tr[i], nmsg), "msg/s");
    }
    zmq_ctx_term(ctx);
    return 0;
}
