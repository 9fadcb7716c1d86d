/* zmq_proxy.c: gz_zmq_proxy moves messages both ways, copies every frame to
 * the capture socket, obeys PAUSE / RESUME / TERMINATE / STATISTICS, runs
 * beside other greenlets of its hub, and stops when killed.
 *
 * Each test runs under a gz_timeout (TEST_LIMIT) on main; greenlets record,
 * main asserts. */
#include <pthread.h>
#include <time.h>

#include "gz_test.h"

#define TEST_LIMIT 20.0

static void *ctx;
static gz_timeout *limit;

static int setup(void **state)
{
    (void)state;
    ctx = zmq_ctx_new();
    limit = gz_timeout_start(TEST_LIMIT);
    return ctx && limit ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gz_timeout_cancel(limit);
    int rc = gz_zmq_ctx_term(ctx, 5.0);
    if (rc != 0)
        fprintf(stderr, "context not terminated: sockets left open\n");
    ctx = NULL;
    return rc;
}

static void *sock(int type)
{
    void *s = zmq_socket(ctx, type);
    assert_non_null(s);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

static void *bound(int type, const char *where)
{
    void *s = sock(type);
    assert_int_equal(zmq_bind(s, where), 0);
    return s;
}

static void *connected(int type, const char *where)
{
    void *s = sock(type);
    assert_int_equal(zmq_connect(s, where), 0);
    return s;
}

/* A command to the proxy through a REQ: its empty reply, or the first
 * frame of the STATISTICS reply. */
static void command(void *req, const char *cmd)
{
    assert_int_equal(gz_zmq_send(req, cmd, strlen(cmd), 0), (int)strlen(cmd));
    char buf[8];
    assert_int_equal(gz_zmq_recv(req, buf, sizeof buf, 0), 0);
}

static void stats(void *req, uint64_t v[8])
{
    assert_int_equal(gz_zmq_send(req, "STATISTICS", 10, 0), 10);
    for (int i = 0; i < 8; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_int_equal(gz_zmq_msg_recv(&m, req, 0), 8);
        assert_int_equal(zmq_msg_more(&m), i < 7);
        memcpy(&v[i], zmq_msg_data(&m), 8);
        zmq_msg_close(&m);
    }
}

typedef struct worker {
    void *rep;
    int served;
} worker;

/* A REP service: "ping" -> "pong!" until its socket is closed. */
static void *serve(void *arg)
{
    worker *w = arg;
    char buf[16];
    while (gz_zmq_recv(w->rep, buf, sizeof buf, 0) >= 0) {
        if (gz_zmq_send(w->rep, "pong!", 5, 0) != 5)
            break;
        w->served++;
    }
    return NULL;
}

typedef struct ticker {
    bool stop;
    long ticks;
} ticker;

static void *tick(void *arg)
{
    ticker *t = arg;
    while (!t->stop && gz_sleep(0) == 0)
        t->ticks++;
    return NULL;
}

#define ROUND_TRIPS 50

/* A ROUTER/DEALER broker: requests one way, replies the other, every frame
 * in the capture, libzmq's eight counters in libzmq's order. */
static void broker_moves_both_ways_counts_and_captures(void **state)
{
    (void)state;
    void *front = bound(ZMQ_ROUTER, "inproc://front");
    void *back = bound(ZMQ_DEALER, "inproc://back");
    void *cap = bound(ZMQ_PUSH, "inproc://capture");
    void *cap_in = connected(ZMQ_PULL, "inproc://capture");
    void *ctl = bound(ZMQ_REP, "inproc://control");
    void *ctl_req = connected(ZMQ_REQ, "inproc://control");
    worker w = {.rep = connected(ZMQ_REP, "inproc://back")};
    void *client = sock(ZMQ_REQ);
    assert_int_equal(zmq_setsockopt(client, ZMQ_ROUTING_ID, "c1", 2), 0);
    assert_int_equal(zmq_connect(client, "inproc://front"), 0);
    ticker t = {0};
    gz_greenlet *tg = gz_spawn(tick, &t);
    gz_greenlet *wg = gz_spawn(serve, &w);
    gz_greenlet *p = gz_zmq_proxy(front, back, cap, ctl);
    assert_non_null(p);
    for (int i = 0; i < ROUND_TRIPS; i++) {
        char buf[16];
        assert_int_equal(gz_zmq_send(client, "ping", 4, 0), 4);
        assert_int_equal(gz_zmq_recv(client, buf, sizeof buf, 0), 5);
        assert_memory_equal(buf, "pong!", 5);
    }
    assert_int_equal(w.served, ROUND_TRIPS);
    uint64_t v[8];
    stats(ctl_req, v);
    /* frontend: in = requests (id "c1", delimiter, "ping"), out = replies */
    uint64_t want[8] = {ROUND_TRIPS, ROUND_TRIPS * 6, ROUND_TRIPS, ROUND_TRIPS * 7,
                        ROUND_TRIPS, ROUND_TRIPS * 7, ROUND_TRIPS, ROUND_TRIPS * 6};
    for (int i = 0; i < 8; i++)
        assert_int_equal(v[i], want[i]);
    /* the capture: every frame of each request, then of its reply, with
     * its ZMQ_SNDMORE flag */
    static const char *const want_frames[6] = {"c1", "", "ping", "c1", "", "pong!"};
    int frames = 0;
    zmq_msg_t f;
    zmq_msg_init(&f);
    while (gz_zmq_msg_recv(&f, cap_in, ZMQ_DONTWAIT) >= 0) {
        const char *w = want_frames[frames % 6];
        assert_int_equal(zmq_msg_size(&f), strlen(w));
        assert_memory_equal(zmq_msg_data(&f), w, strlen(w));
        assert_int_equal(zmq_msg_more(&f), frames % 3 != 2);
        frames++;
    }
    zmq_msg_close(&f);
    assert_int_equal(frames, ROUND_TRIPS * 2 * 3);
    command(ctl_req, "TERMINATE");
    assert_int_equal(gz_join(p, TEST_LIMIT), 0);
    assert_true(gz_successful(p));
    gz_release(p);
    t.stop = true;
    assert_int_equal(gz_join(tg, TEST_LIMIT), 0);
    assert_true(t.ticks > 0); /* the hub ran others meanwhile */
    gz_release(tg);
    void *all[] = {front, back, cap, cap_in, ctl, ctl_req, w.rep, client};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        assert_int_equal(gz_zmq_close(all[i]), 0);
    assert_int_equal(gz_join(wg, TEST_LIMIT), 0);
    gz_release(wg);
}

/* A message the proxy could move */
static bool arrives(void *pull, double seconds)
{
    zmq_pollitem_t it = {.socket = pull, .events = ZMQ_POLLIN};
    return gz_zmq_poll(&it, 1, (long)(seconds * 1000)) == 1;
}

static void pause_stops_traffic_and_resume_restarts_it(void **state)
{
    (void)state;
    void *front = bound(ZMQ_PULL, "inproc://in");
    void *back = bound(ZMQ_PUSH, "inproc://out");
    void *src = connected(ZMQ_PUSH, "inproc://in");
    void *dst = connected(ZMQ_PULL, "inproc://out");
    void *ctl = bound(ZMQ_PAIR, "inproc://ctl"); /* no replies from a PAIR */
    void *ctl_peer = connected(ZMQ_PAIR, "inproc://ctl");
    gz_greenlet *p = gz_zmq_proxy(front, back, NULL, ctl);
    assert_non_null(p);
    assert_int_equal(gz_zmq_send(src, "one", 3, 0), 3);
    assert_true(arrives(dst, TEST_LIMIT));
    char buf[8];
    assert_int_equal(gz_zmq_recv(dst, buf, sizeof buf, 0), 3);
    assert_int_equal(gz_zmq_send(ctl_peer, "PAUSE", 5, 0), 5);
    assert_int_equal(gz_yield(), 0); /* the proxy takes the command */
    assert_int_equal(gz_zmq_send(src, "two", 3, 0), 3);
    assert_false(arrives(dst, 0.2));
    assert_int_equal(gz_zmq_send(ctl_peer, "RESUME", 6, 0), 6);
    assert_true(arrives(dst, TEST_LIMIT));
    assert_int_equal(gz_zmq_recv(dst, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "two", 3);
    /* an unknown command changes nothing */
    assert_int_equal(gz_zmq_send(ctl_peer, "BOGUS", 5, 0), 5);
    assert_int_equal(gz_zmq_send(src, "six", 3, 0), 3);
    assert_true(arrives(dst, TEST_LIMIT));
    assert_int_equal(gz_kill(p, TEST_LIMIT), 0); /* killing stops it */
    assert_true(gz_killed(p));
    gz_release(p);
    void *all[] = {front, back, src, dst, ctl, ctl_peer};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        assert_int_equal(gz_zmq_close(all[i]), 0);
}

static void bad_arguments_fail_with_errno(void **state)
{
    (void)state;
    void *a = bound(ZMQ_PULL, "inproc://bad");
    errno = 0;
    assert_null(gz_zmq_proxy(NULL, a, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_zmq_proxy(a, NULL, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_zmq_proxy(a, ctx, NULL, NULL)); /* a context, not a socket */
    assert_int_equal(errno, ENOTSOCK);
    assert_null(gz_zmq_proxy(a, a, ctx, NULL));
    assert_int_equal(errno, ENOTSOCK);
    assert_null(gz_zmq_proxy(a, a, NULL, ctx));
    assert_int_equal(errno, ENOTSOCK);
    assert_int_equal(gz_zmq_close(a), 0);
}

/* The context shut down under it: the proxy fails with ETERM. */
static void proxy_fails_with_eterm_when_the_context_ends(void **state)
{
    (void)state;
    void *front = bound(ZMQ_PULL, "inproc://t-in");
    void *back = bound(ZMQ_PUSH, "inproc://t-out");
    gz_greenlet *p = gz_zmq_proxy(front, back, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(gz_yield(), 0);
    assert_int_equal(zmq_ctx_shutdown(ctx), 0);
    assert_int_equal(gz_join(p, TEST_LIMIT), 0);
    const gz_error *e = gz_exception(p);
    assert_non_null(e);
    assert_int_equal(e->code, ETERM);
    gz_release(p);
    assert_int_equal(gz_zmq_close(front), 0);
    assert_int_equal(gz_zmq_close(back), 0);
}

/* A backlog the proxy cannot move in one round: it still lets the hub's
 * other greenlets run between its rounds (a STATISTICS asked at once is
 * answered with the backlog partly moved), and a kill ends it mid-backlog. */
#define BACKLOG 400000 /* more than GZ_POLL_EVERY (1024) rounds of 256 */

static void a_busy_proxy_serves_others_between_rounds_and_dies_when_killed(void **state)
{
    (void)state;
    int unlimited = 0;
    void *front = sock(ZMQ_PULL), *back = sock(ZMQ_PUSH), *src = sock(ZMQ_PUSH);
    void *sink = sock(ZMQ_PULL);
    assert_int_equal(zmq_setsockopt(front, ZMQ_RCVHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_setsockopt(src, ZMQ_SNDHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_setsockopt(back, ZMQ_SNDHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_setsockopt(sink, ZMQ_RCVHWM, &unlimited, sizeof unlimited), 0);
    assert_int_equal(zmq_bind(front, "inproc://b-in"), 0);
    assert_int_equal(zmq_bind(back, "inproc://b-out"), 0);
    assert_int_equal(zmq_connect(src, "inproc://b-in"), 0);
    assert_int_equal(zmq_connect(sink, "inproc://b-out"), 0);
    void *ctl = bound(ZMQ_REP, "inproc://b-ctl"), *req = connected(ZMQ_REQ, "inproc://b-ctl");
    for (int i = 0; i < BACKLOG; i++)
        assert_int_equal(zmq_send(src, "x", 1, 0), 1);
    gz_greenlet *p = gz_zmq_proxy(front, back, NULL, ctl);
    assert_non_null(p);
    assert_int_equal(gz_yield(), 0); /* the proxy's first round */
    uint64_t v[8];
    stats(req, v); /* answered between two rounds, not once the backlog is gone */
    assert_true(v[0] > 0 && v[0] < BACKLOG);
    assert_int_equal(gz_kill(p, TEST_LIMIT), 0);
    assert_true(gz_killed(p));
    gz_release(p);
    char buf[4];
    int moved = 0;
    while (zmq_recv(sink, buf, sizeof buf, ZMQ_DONTWAIT) == 1)
        moved++;
    assert_true(moved < BACKLOG); /* it stopped mid-backlog */
    gz_zmq_close(front);
    gz_zmq_close(back);
    gz_zmq_close(src);
    gz_zmq_close(sink);
    gz_zmq_close(ctl);
    gz_zmq_close(req);
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(broker_moves_both_ways_counts_and_captures),
        T(pause_stops_traffic_and_resume_restarts_it),
        T(bad_arguments_fail_with_errno),
        T(proxy_fails_with_eterm_when_the_context_ends),
        T(a_busy_proxy_serves_others_between_rounds_and_dies_when_killed),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
