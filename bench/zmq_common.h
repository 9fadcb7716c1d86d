/* Socket set-up shared by bench/zmq_green.c and bench/zmq_raw.c: both ends
 * of a pair on inproc or tcp loopback (port picked by the kernel), 64-byte
 * messages, PUB/SUB without a high-water mark so that nothing is dropped. */
#ifndef GZ_BENCH_ZMQ_COMMON_H
#define GZ_BENCH_ZMQ_COMMON_H

#include <zmq.h>

#include "bench.h"

#define MSG_SIZE 64

typedef struct zpair {
    void *a, *b;   /* a binds, b connects */
} zpair;

static inline void *zsock(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    int zero = 0;
    BENCH_CHECK(s);
    BENCH_CHECK(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) == 0);
    return s;
}

/* A bound to TRANSPORT ("inproc" or "tcp"), B connected to it. */
static inline zpair zpair_open(void *ctx, int ta, int tb, const char *transport,
                               const char *name, int hwm)
{
    zpair p = {zsock(ctx, ta), zsock(ctx, tb)};
    char ep[256];
    size_t len = sizeof ep;
    if (hwm >= 0) {
        BENCH_CHECK(zmq_setsockopt(p.a, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
        BENCH_CHECK(zmq_setsockopt(p.a, ZMQ_RCVHWM, &hwm, sizeof hwm) == 0);
        BENCH_CHECK(zmq_setsockopt(p.b, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
        BENCH_CHECK(zmq_setsockopt(p.b, ZMQ_RCVHWM, &hwm, sizeof hwm) == 0);
    }
    static int serial; /* inproc names are released asynchronously */
    if (strcmp(transport, "inproc") == 0)
        snprintf(ep, sizeof ep, "inproc://%s-%d", name, ++serial);
    else
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
    BENCH_CHECK(zmq_bind(p.a, ep) == 0);
    BENCH_CHECK(zmq_getsockopt(p.a, ZMQ_LAST_ENDPOINT, ep, &len) == 0);
    BENCH_CHECK(zmq_connect(p.b, ep) == 0);
    if (tb == ZMQ_SUB)
        BENCH_CHECK(zmq_setsockopt(p.b, ZMQ_SUBSCRIBE, "", 0) == 0);
    return p;
}

/* A stream figure is the one a busy neighbour on a shared machine disturbs
 * most (runs of the same program land at 1.5M or at 3M msg/s): each run
 * reports the best of STREAM_TRIES back-to-back streams, in zmq_green.c,
 * zmq_raw.c and zmq_green_peer.py alike. */
#define STREAM_TRIES 3

typedef double (*stream_fn)(int ta, int tb, const char *transport, long n);

static inline double best_stream(stream_fn f, int ta, int tb,
                                 const char *transport, long n)
{
    double best = 0.0;
    for (int i = 0; i < STREAM_TRIES; i++) {
        double v = f(ta, tb, transport, n);
        if (v > best)
            best = v;
    }
    return best;
}

static inline int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

#endif
