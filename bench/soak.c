/* make soak: long runs that must not leak. Each phase samples VmRSS ten
 * times; the phase fails when the last sample exceeds the one taken after
 * warm-up (the first tenth of the work) by more than the margin.
 *   greenlets   10M spawned and joined, 10k alive at a time (each yields once)
 *   pushpull    10M messages through a green PUSH/PULL pair (inproc)
 *   reqrep      1M round trips through a green REQ/REP pair (inproc)
 * SOAK_SCALE (environment, default 1) multiplies every count: 0.01 for a
 * quick run. Exits 1 when any phase grew or a call failed. */
#include <errno.h>

#include <gzmq.h>

#include "bench.h"

#define BATCH 10000
#define SAMPLES 10
#define MARGIN_KIB 2048L /* allocator noise; a leak of 1 byte per op is 10 MB */
#define MSG_SIZE 32

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "soak: %s:%d: %s failed (errno %d: %s)\n",     \
                    __FILE__, __LINE__, #cond, errno, strerror(errno));    \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

typedef void (*work_fn)(long from, long to);

/* Run WORK over [0, n) in SAMPLES slices, printing VmRSS after each; true
 * when the last sample is within the margin of the first (after warm-up). */
static bool phase(const char *name, long n, work_fn work)
{
    long rss[SAMPLES];
    double t0 = bench_now();
    printf("%-10s %ld ops, VmRSS KiB:", name, n);
    for (int s = 0; s < SAMPLES; s++) {
        work(n * s / SAMPLES, n * (s + 1) / SAMPLES);
        rss[s] = bench_rss_kib();
        printf(" %ld", rss[s]);
        fflush(stdout);
    }
    double t = bench_now() - t0;
    long growth = rss[SAMPLES - 1] - rss[0];
    bool flat = growth <= MARGIN_KIB;
    printf("\n%-10s %.1f s (%.0f ops/s), after warm-up %ld KiB, end %ld KiB, growth %+ld KiB: %s\n",
           name, t, (double)n / t, rss[0], rss[SAMPLES - 1], growth,
           flat ? "flat" : "GREW");
    return flat;
}

/* ---- greenlets ---- */

static long yields;

static void *yield_once(void *arg)
{
    (void)arg;
    CHECK(gz_yield() == 0);
    yields++;
    return arg;
}

static void greenlets(long from, long to)
{
    static gz_greenlet *gs[BATCH];
    for (long i = from; i < to; i += BATCH) {
        size_t n = (size_t)(to - i < BATCH ? to - i : BATCH);
        for (size_t k = 0; k < n; k++)
            CHECK((gs[k] = gz_spawn(yield_once, gs)) != NULL);
        CHECK(gz_joinall(gs, n, GZ_FOREVER) == n);
        for (size_t k = 0; k < n; k++) {
            CHECK(gz_value(gs[k]) == gs);
            gz_release(gs[k]);
        }
    }
}

/* ---- ZeroMQ: the far end is a greenlet, the near end this loop ---- */

static void *push, *pull, *req, *rep;
static long stream_from, stream_to;

static void *pusher(void *arg)
{
    (void)arg;
    char msg[MSG_SIZE] = {0};
    for (long i = stream_from; i < stream_to; i++) {
        memcpy(msg, &i, sizeof i);
        CHECK(gz_zmq_send(push, msg, sizeof msg, 0) == MSG_SIZE);
    }
    return NULL;
}

static void pushpull(long from, long to)
{
    stream_from = from;
    stream_to = to;
    gz_greenlet *g = gz_spawn(pusher, NULL);
    CHECK(g);
    char msg[MSG_SIZE];
    for (long i = from; i < to; i++) {
        long got;
        CHECK(gz_zmq_recv(pull, msg, sizeof msg, 0) == MSG_SIZE);
        memcpy(&got, msg, sizeof got);
        CHECK(got == i); /* PUSH/PULL over one pipe keeps the order */
    }
    CHECK(gz_join(g, GZ_FOREVER) == 0);
    gz_release(g);
}

static void *replier(void *arg)
{
    (void)arg;
    char msg[MSG_SIZE];
    for (long i = stream_from; i < stream_to; i++) {
        CHECK(gz_zmq_recv(rep, msg, sizeof msg, 0) == MSG_SIZE);
        msg[MSG_SIZE - 1] ^= 1;
        CHECK(gz_zmq_send(rep, msg, sizeof msg, 0) == MSG_SIZE);
    }
    return NULL;
}

static void reqrep(long from, long to)
{
    stream_from = from;
    stream_to = to;
    gz_greenlet *g = gz_spawn(replier, NULL);
    CHECK(g);
    char msg[MSG_SIZE] = {0}, back[MSG_SIZE];
    for (long i = from; i < to; i++) {
        memcpy(msg, &i, sizeof i);
        CHECK(gz_zmq_send(req, msg, sizeof msg, 0) == MSG_SIZE);
        CHECK(gz_zmq_recv(req, back, sizeof back, 0) == MSG_SIZE);
        back[MSG_SIZE - 1] ^= 1;
        CHECK(memcmp(msg, back, sizeof msg) == 0);
    }
    CHECK(gz_join(g, GZ_FOREVER) == 0);
    gz_release(g);
}

static void *pair(int bind_type, int connect_type, const char *endpoint, void **connected)
{
    void *ctx = gz_zmq_context();
    CHECK(ctx);
    void *a = zmq_socket(ctx, bind_type), *b = zmq_socket(ctx, connect_type);
    CHECK(a && b);
    int zero = 0;
    CHECK(zmq_setsockopt(a, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_bind(a, endpoint) == 0);
    CHECK(zmq_connect(b, endpoint) == 0);
    *connected = b;
    return a;
}

int main(void)
{
    const char *env = getenv("SOAK_SCALE");
    double scale = env && *env ? strtod(env, NULL) : 1.0;
    if (!(scale > 0 && scale <= 100)) {
        fprintf(stderr, "soak: SOAK_SCALE must be in (0, 100], not '%s'\n", env);
        return 2;
    }
    long ng = (long)(10e6 * scale), nm = (long)(10e6 * scale), nr = (long)(1e6 * scale);
    if (ng < SAMPLES || nr < SAMPLES) {
        fprintf(stderr, "soak: SOAK_SCALE too small\n");
        return 2;
    }
    printf("soak: SOAK_SCALE=%g, margin %ld KiB\n", scale, MARGIN_KIB);
    bool ok = phase("greenlets", ng, greenlets);
    CHECK(yields == ng);

    pull = pair(ZMQ_PULL, ZMQ_PUSH, "inproc://soak-pushpull", &push);
    ok &= phase("pushpull", nm, pushpull);
    rep = pair(ZMQ_REP, ZMQ_REQ, "inproc://soak-reqrep", &req);
    ok &= phase("reqrep", nr, reqrep);

    CHECK(gz_zmq_close(push) == 0 && gz_zmq_close(pull) == 0);
    CHECK(gz_zmq_close(req) == 0 && gz_zmq_close(rep) == 0);
    printf("soak: %s\n", ok ? "RSS flat in every phase" : "RSS GREW");
    return ok ? 0 : 1;
}
