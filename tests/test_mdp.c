/* libgzmq/mdp.c: Majordomo (7/MDP) client, worker and broker.
 *
 * In one process: the message API, requests through a broker greenlet to
 * worker greenlets, malformed frames sent straight to the broker (dropped
 * and counted, never a crash), mmi.service, an unknown service, the bound
 * on requests waiting for workers, a silent worker's expiry, a worker
 * against a ROUTER playing the broker, one greenlet at a time and argument
 * errors.
 * As processes ($BUILD/bin/gzmq-md*, tests/mdp_peer.py written from the spec
 * in Python): every combination of Python and C client and worker through
 * our broker, 1000 checked requests each; the sha256 service; a worker
 * killed with SIGKILL mid-request (the client's retry is answered by
 * another); the broker killed and restarted (service resumes; the time
 * it took is printed, not asserted). Heartbeats are 100 ms (GZ_MDP_HEARTBEAT) so that all is quick. */
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include "gz_test.h"

#define HEARTBEAT 0.1
#define LIVENESS 3
#define STEP_LIMIT 60.0 /* seconds any one wait may take: a watchdog */
#define PYTHON "/usr/bin/python3"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static gz_mdp_msg *msg_of(const char *a, const char *b)
{
    gz_mdp_msg *m = gz_mdp_msg_new();
    assert_non_null(m);
    assert_int_equal(gz_mdp_msg_append(m, a, strlen(a)), 0);
    if (b)
        assert_int_equal(gz_mdp_msg_append(m, b, strlen(b)), 0);
    return m;
}

static bool frame_eq(const gz_mdp_msg *m, size_t i, const char *s)
{
    size_t n;
    const void *p = gz_mdp_msg_frame(m, i, &n);
    return p && n == strlen(s) && memcmp(p, s, n) == 0;
}

/* ---- in one process ---- */

static gz_mdp_broker *broker;
static gz_greenlet *broker_g;

static void start_broker(void)
{
    broker = gz_mdp_broker_new("tcp://127.0.0.1:*");
    assert_non_null(broker);
    assert_int_equal(gz_mdp_broker_set_heartbeat(broker, HEARTBEAT, LIVENESS), 0);
    broker_g = gz_mdp_broker_start(broker);
    assert_non_null(broker_g);
}

static void stop_broker(void)
{
    assert_int_equal(gz_kill(broker_g, 5), 0);
    gz_release(broker_g);
    gz_mdp_broker_destroy(broker);
    broker = NULL;
}

/* An echo worker greenlet serving until killed. */
static void *echo_worker(void *arg)
{
    gz_mdp_worker *w = gz_mdp_worker_new(gz_mdp_broker_endpoint(broker), arg);
    assert_non_null(w);
    assert_int_equal(gz_mdp_worker_set_heartbeat(w, HEARTBEAT, LIVENESS), 0);
    gz_mdp_msg *req;
    while ((req = gz_mdp_worker_recv(w, GZ_FOREVER))) {
        gz_mdp_worker_send(w, req);
        gz_mdp_msg_destroy(req);
    }
    gz_mdp_worker_destroy(w);
    return NULL;
}

static void msg_api(void **state)
{
    (void)state;
    gz_mdp_msg *m = gz_mdp_msg_new();
    assert_int_equal(gz_mdp_msg_frames(m), 0);
    assert_int_equal(gz_mdp_msg_append(m, "", 0), 0);
    assert_int_equal(gz_mdp_msg_append(m, NULL, 0), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gz_mdp_msg_append(m, "abc", 3), 0);
    assert_int_equal(gz_mdp_msg_frames(m), 102);
    size_t n = 9;
    assert_non_null(gz_mdp_msg_frame(m, 0, &n));
    assert_int_equal(n, 0);
    assert_true(frame_eq(m, 101, "abc"));
    errno = 0;
    assert_null(gz_mdp_msg_frame(m, 102, &n));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_mdp_msg_append(NULL, "a", 1), EINVAL);
    assert_fails(gz_mdp_msg_append(m, NULL, 1), EINVAL);
    assert_int_equal(gz_mdp_msg_frames(NULL), 0);
    gz_mdp_msg_destroy(m);
    gz_mdp_msg_destroy(NULL);
}

static void argument_errors(void **state)
{
    (void)state;
    errno = 0;
    assert_null(gz_mdp_client_new(NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_mdp_client_new("nonsense://x"));
    assert_int_not_equal(errno, 0);
    errno = 0;
    assert_null(gz_mdp_worker_new("tcp://127.0.0.1:1", ""));
    assert_int_equal(errno, EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    errno = 0;
    assert_null(gz_mdp_worker_new("tcp://127.0.0.1:1", longname));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_mdp_broker_new(NULL));
    assert_int_equal(errno, EINVAL);

    start_broker();
    errno = 0;
    assert_null(gz_mdp_broker_start(broker));
    assert_int_equal(errno, EBUSY);
    assert_fails(gz_mdp_broker_set_heartbeat(broker, 0, 3), EINVAL);
    assert_fails(gz_mdp_broker_set_heartbeat(broker, NAN, 3), EINVAL);
    assert_fails(gz_mdp_broker_set_heartbeat(broker, 1, 0), EINVAL);

    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    assert_non_null(c);
    gz_mdp_msg *m = msg_of("x", NULL);
    errno = 0;
    assert_null(gz_mdp_client_request(c, "", m, 1, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_mdp_client_request(c, "echo", m, NAN, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_mdp_client_request(c, "echo", m, 1, -1));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_mdp_client_request(c, "echo", NULL, 1, 0));
    assert_int_equal(errno, EINVAL);

    gz_mdp_worker *w = gz_mdp_worker_new(gz_mdp_broker_endpoint(broker), "echo");
    assert_non_null(w);
    assert_fails(gz_mdp_worker_send(w, m), EFSM); /* nothing received yet */
    assert_fails(gz_mdp_worker_set_heartbeat(w, -1, 3), EINVAL);
    errno = 0;
    assert_null(gz_mdp_worker_recv(w, 0.05));
    assert_int_equal(errno, ETIMEDOUT);
    gz_mdp_worker_destroy(w);
    gz_mdp_msg_destroy(m);
    gz_mdp_client_destroy(c);
    stop_broker();
}

static void requests_reach_worker_greenlets_and_come_back(void **state)
{
    (void)state;
    start_broker();
    gz_greenlet *ws[3];
    for (int i = 0; i < 3; i++)
        ws[i] = gz_spawn(echo_worker, "echo");
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    for (int i = 0; i < 200; i++) {
        char body[32];
        snprintf(body, sizeof body, "request %d", i);
        gz_mdp_msg *req = msg_of(body, i % 2 ? "second frame" : "");
        gz_mdp_msg *reply = gz_mdp_client_request(c, "echo", req, 5, 0);
        assert_non_null(reply);
        assert_int_equal(gz_mdp_msg_frames(reply), 2);
        assert_true(frame_eq(reply, 0, body));
        assert_true(frame_eq(reply, 1, i % 2 ? "second frame" : ""));
        gz_mdp_msg_destroy(reply);
        gz_mdp_msg_destroy(req);
    }
    assert_int_equal(gz_mdp_broker_dropped(broker), 0);
    gz_mdp_client_destroy(c);
    assert_int_equal(gz_killall(ws, 3, 5), 0);
    for (int i = 0; i < 3; i++)
        gz_release(ws[i]);
    stop_broker();
}

/* mmi.service's code for SERVICE. */
static char *mmi(gz_mdp_client *c, const char *query, const char *service)
{
    static char code[8];
    gz_mdp_msg *req = msg_of(service, NULL);
    gz_mdp_msg *reply = gz_mdp_client_request(c, query, req, 5, 0);
    assert_non_null(reply);
    size_t n;
    const char *p = gz_mdp_msg_frame(reply, 0, &n);
    assert_int_equal(n, 3);
    memcpy(code, p, 3);
    code[3] = 0;
    gz_mdp_msg_destroy(reply);
    gz_mdp_msg_destroy(req);
    return code;
}

static void mmi_service_answers_200_404_501(void **state)
{
    (void)state;
    start_broker();
    gz_greenlet *w = gz_spawn(echo_worker, "echo");
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    /* The worker's READY may still be on its way: ask until it is in. */
    double end = now() + STEP_LIMIT;
    while (strcmp(mmi(c, "mmi.service", "echo"), "200") != 0 && now() < end)
        gz_sleep(0.01);
    assert_string_equal(mmi(c, "mmi.service", "echo"), "200");
    assert_string_equal(mmi(c, "mmi.service", "nobody"), "404");
    assert_string_equal(mmi(c, "mmi.nonesuch", "echo"), "501");
    gz_mdp_client_destroy(c);
    gz_kill(w, 5);
    gz_release(w);
    stop_broker();
}

static void unknown_service_times_out_after_its_retries(void **state)
{
    (void)state;
    start_broker();
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    gz_mdp_msg *req = msg_of("hello", NULL);
    errno = 0;
    assert_null(gz_mdp_client_request(c, "nobody", req, 0.05, 2));
    assert_int_equal(errno, ETIMEDOUT);
    /* The client is usable afterwards (a fresh socket). */
    assert_string_equal(mmi(c, "mmi.service", "nobody"), "404");
    gz_mdp_msg_destroy(req);
    gz_mdp_client_destroy(c);
    stop_broker();
}

struct pending {
    gz_mdp_client *c;
    gz_mdp_worker *w;
};

static void *request_nobody(void *arg)
{
    struct pending *p = arg;
    gz_mdp_msg *req = msg_of("x", NULL);
    gz_mdp_msg *reply = gz_mdp_client_request(p->c, "nobody", req, 60, 0);
    gz_mdp_msg_destroy(req);
    return reply;
}

static void *recv_forever(void *arg)
{
    struct pending *p = arg;
    return gz_mdp_worker_recv(p->w, GZ_FOREVER);
}

static void one_greenlet_at_a_time_and_usable_after_a_kill(void **state)
{
    (void)state;
    start_broker();
    gz_greenlet *echo = gz_spawn(echo_worker, "echo");
    struct pending p = {gz_mdp_client_new(gz_mdp_broker_endpoint(broker)),
                        gz_mdp_worker_new(gz_mdp_broker_endpoint(broker), "other")};
    gz_greenlet *g1 = gz_spawn(request_nobody, &p), *g2 = gz_spawn(recv_forever, &p);
    gz_sleep(0.05);
    gz_mdp_msg *m = msg_of("y", NULL);
    errno = 0;
    assert_null(gz_mdp_client_request(p.c, "echo", m, 1, 0));
    assert_int_equal(errno, EBUSY);
    errno = 0;
    assert_null(gz_mdp_worker_recv(p.w, 0));
    assert_int_equal(errno, EBUSY);
    /* Killed in the middle of their waits, both can be used again: the
     * client's REQ socket is not left waiting for a reply (EFSM). */
    assert_int_equal(gz_kill(g1, 5), 0);
    assert_int_equal(gz_kill(g2, 5), 0);
    assert_null(gz_value(g1));
    assert_null(gz_value(g2));
    gz_mdp_msg *reply = gz_mdp_client_request(p.c, "echo", m, 5, 0);
    assert_non_null(reply);
    assert_true(frame_eq(reply, 0, "y"));
    errno = 0;
    assert_null(gz_mdp_worker_recv(p.w, 0.01));
    assert_int_equal(errno, ETIMEDOUT);
    gz_mdp_msg_destroy(reply);
    gz_mdp_msg_destroy(m);
    gz_release(g1);
    gz_release(g2);
    gz_mdp_client_destroy(p.c);
    gz_mdp_worker_destroy(p.w);
    gz_kill(echo, 5);
    gz_release(echo);
    stop_broker();
}

/* Send FRAMES (n of them, "\x01"-style bytes allowed) from a DEALER. */
static void send_raw(void *s, const char *const *frames, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(gz_zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

/* The command byte of the next message to DEALER D: [""] ["MDPW01"] [cmd]. */
static int recv_command(void *d)
{
    zmq_pollitem_t item = {d, 0, ZMQ_POLLIN, 0};
    assert_int_equal(gz_zmq_poll(&item, 1, (long)(STEP_LIMIT * 1000)), 1);
    char f[3][8];
    int len[3], more = 1, k = 0;
    size_t sz = sizeof more;
    while (more) {
        assert_true(k < 3);
        len[k] = gz_zmq_recv(d, f[k], sizeof f[k], 0);
        assert_true(len[k] >= 0);
        zmq_getsockopt(d, ZMQ_RCVMORE, &more, &sz);
        k++;
    }
    assert_int_equal(k, 3);
    assert_int_equal(len[0], 0);
    assert_int_equal(len[1], 6);
    assert_memory_equal(f[1], "MDPW01", 6);
    assert_int_equal(len[2], 1);
    return f[2][0];
}

static void malformed_frames_are_dropped_and_service_goes_on(void **state)
{
    (void)state;
    start_broker();
    gz_greenlet *w = gz_spawn(echo_worker, "echo");
    void *d = zmq_socket(gz_zmq_context(), ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(d, gz_mdp_broker_endpoint(broker)), 0);
    static const struct {
        size_t n;
        const char *f[5];
        size_t len[5];
    } bad[] = {
        {1, {"junk"}, {4}},                                     /* no envelope */
        {2, {"", "MDPC01"}, {0, 6}},                            /* no service */
        {3, {"x", "MDPC01", "echo"}, {1, 6, 4}},                /* not empty */
        {3, {"", "MDPX01", "echo"}, {0, 6, 4}},                 /* unknown header */
        {3, {"", "MDPC01", ""}, {0, 6, 0}},                     /* empty service */
        {3, {"", "MDPW01", "\x09"}, {0, 6, 1}},                 /* unknown command */
        {3, {"", "MDPW01", "\x01\x01"}, {0, 6, 2}},             /* long command */
        {3, {"", "MDPW01", "\x01"}, {0, 6, 1}},                 /* READY, no service */
        {5, {"", "MDPW01", "\x03", "c", ""}, {0, 6, 1, 1, 0}},  /* REPLY, not ready */
        {4, {"", "MDPW01", "\x01", "mmi.x"}, {0, 6, 1, 5}},     /* reserved name */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        send_raw(d, bad[i].f, bad[i].len, bad[i].n);
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    gz_mdp_msg *req = msg_of("still there?", NULL);
    gz_mdp_msg *reply = gz_mdp_client_request(c, "echo", req, 5, 0);
    assert_non_null(reply);
    assert_true(frame_eq(reply, 0, "still there?"));
    assert_int_equal(gz_mdp_broker_dropped(broker), sizeof bad / sizeof bad[0]);
    /* Out-of-protocol workers are told DISCONNECT: READY without a
     * service, REPLY before READY, READY for a reserved name. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(recv_command(d), 5);
    gz_mdp_msg_destroy(reply);
    gz_mdp_msg_destroy(req);
    gz_mdp_client_destroy(c);
    gz_zmq_close(d);
    gz_kill(w, 5);
    gz_release(w);
    stop_broker();
}

/* A whole message from ROUTER R into FRAMES (up to 8, 64 bytes each): the
 * number of frames. */
static int recv_frames(void *r, char frames[][64], int *lens)
{
    zmq_pollitem_t item = {r, 0, ZMQ_POLLIN, 0};
    assert_int_equal(gz_zmq_poll(&item, 1, (long)(STEP_LIMIT * 1000)), 1);
    int more = 1, k = 0;
    size_t sz = sizeof more;
    while (more) {
        assert_true(k < 8);
        lens[k] = gz_zmq_recv(r, frames[k], 64, 0);
        assert_true(lens[k] >= 0);
        zmq_getsockopt(r, ZMQ_RCVMORE, &more, &sz);
        k++;
    }
    return k;
}

/* The worker greenlet of the next test: waits for requests until killed. */
static void *worker_waiting(void *arg)
{
    gz_mdp_worker *w = arg;
    gz_mdp_msg *m = gz_mdp_worker_recv(w, GZ_FOREVER);
    gz_mdp_msg_destroy(m);
    return NULL;
}

/* The test plays the broker on a ROUTER: the worker heartbeats, says READY
 * again on a new connection when told DISCONNECT, and again when the
 * "broker" stays silent for LIVENESS heartbeats. */
static void worker_heartbeats_and_reconnects(void **state)
{
    (void)state;
    void *r = zmq_socket(gz_zmq_context(), ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(r, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
    gz_mdp_worker *w = gz_mdp_worker_new(ep, "svc");
    assert_non_null(w);
    /* Long heartbeats first: only DISCONNECT can make it reconnect. */
    assert_int_equal(gz_mdp_worker_set_heartbeat(w, 30, 3), 0);
    gz_greenlet *g = gz_spawn(worker_waiting, w);
    char f[8][64];
    int len[8];
    assert_int_equal(recv_frames(r, f, len), 5);
    assert_int_equal(len[1], 0);
    assert_memory_equal(f[2], "MDPW01", 6);
    assert_int_equal(f[3][0], 1); /* READY */
    assert_memory_equal(f[4], "svc", 3);
    char first_id[64];
    int first_len = len[0];
    memcpy(first_id, f[0], 64);
    const char disconnect[] = "\x05";
    assert_true(gz_zmq_send(r, first_id, (size_t)first_len, ZMQ_SNDMORE) >= 0);
    assert_true(gz_zmq_send(r, "", 0, ZMQ_SNDMORE) >= 0);
    assert_true(gz_zmq_send(r, "MDPW01", 6, ZMQ_SNDMORE) >= 0);
    assert_true(gz_zmq_send(r, disconnect, 1, 0) >= 0);
    assert_int_equal(recv_frames(r, f, len), 5);
    assert_int_equal(f[3][0], 1); /* READY again, */
    assert_false(len[0] == first_len && memcmp(f[0], first_id, (size_t)first_len) == 0);
    /* ... from a new socket. Now short heartbeats and a silent broker. */
    gz_kill(g, 5);
    gz_release(g);
    assert_int_equal(gz_mdp_worker_set_heartbeat(w, HEARTBEAT, LIVENESS), 0);
    g = gz_spawn(worker_waiting, w);
    int heartbeats = 0, k;
    while ((k = recv_frames(r, f, len)) == 4 && f[3][0] == 4)
        heartbeats++;
    assert_int_equal(k, 5);
    assert_int_equal(f[3][0], 1); /* READY after LIVENESS silent intervals */
    assert_int_equal(heartbeats, LIVENESS - 1);
    gz_kill(g, 5);
    gz_release(g);
    gz_mdp_worker_destroy(w);
    /* Destroy said DISCONNECT. */
    assert_int_equal(recv_frames(r, f, len), 4);
    assert_int_equal(f[3][0], 5);
    gz_zmq_close(r);
}

/* Requests for services nobody offers wait in the broker, but at most
 * 100000 of them: past that they are dropped and counted, and the broker
 * goes on serving. */
static void waiting_requests_are_bounded(void **state)
{
    (void)state;
    start_broker();
    gz_greenlet *w = gz_spawn(echo_worker, "echo");
    void *d = zmq_socket(gz_zmq_context(), ZMQ_DEALER);
    int zero = 0, hwm = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    assert_int_equal(zmq_connect(d, gz_mdp_broker_endpoint(broker)), 0);
    const long max = 100000, extra = 25;
    for (long i = 0; i < max + extra; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "nobody-%ld", i);
        const char *f[] = {"", "MDPC01", name, "body"};
        size_t lens[] = {0, 6, (size_t)n, 4};
        send_raw(d, f, lens, 4);
    }
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    gz_mdp_msg *req = msg_of("served all the same", NULL);
    /* The client's request comes after the flood on another connection: wait
     * until the broker has taken all of it. */
    double end = now() + STEP_LIMIT;
    while (gz_mdp_broker_dropped(broker) < (size_t)extra && now() < end)
        gz_sleep(0.01);
    assert_int_equal(gz_mdp_broker_dropped(broker), extra);
    gz_mdp_msg *reply = gz_mdp_client_request(c, "echo", req, 5, 0);
    assert_non_null(reply);
    assert_true(frame_eq(reply, 0, "served all the same"));
    assert_int_equal(gz_mdp_broker_dropped(broker), extra);
    gz_mdp_msg_destroy(reply);
    gz_mdp_msg_destroy(req);
    gz_mdp_client_destroy(c);
    gz_zmq_close(d);
    gz_kill(w, 5);
    gz_release(w);
    stop_broker(); /* frees the 100000 waiting requests (ASan: no leak) */
}

static void silent_worker_expires(void **state)
{
    (void)state;
    start_broker();
    void *d = zmq_socket(gz_zmq_context(), ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(d, gz_mdp_broker_endpoint(broker)), 0);
    const char *ready[] = {"", "MDPW01", "\x01", "silent"};
    size_t lens[] = {0, 6, 1, 6};
    send_raw(d, ready, lens, 4);
    gz_mdp_client *c = gz_mdp_client_new(gz_mdp_broker_endpoint(broker));
    double end = now() + STEP_LIMIT;
    while (strcmp(mmi(c, "mmi.service", "silent"), "200") != 0 && now() < end)
        gz_sleep(0.01);
    assert_string_equal(mmi(c, "mmi.service", "silent"), "200");
    /* It never heartbeats: after LIVENESS intervals the broker forgets it. */
    double t0 = now();
    while (strcmp(mmi(c, "mmi.service", "silent"), "404") != 0 && now() < t0 + STEP_LIMIT)
        gz_sleep(HEARTBEAT / 4);
    assert_string_equal(mmi(c, "mmi.service", "silent"), "404");
    print_message("silent worker forgotten after %.2f s\n", now() - t0);
    gz_mdp_client_destroy(c);
    gz_zmq_close(d);
    stop_broker();
}

/* ---- as processes ---- */

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

#define MAX_PROCS 8
static struct {
    char dir[64];
    pid_t pids[MAX_PROCS];
} P;

/* Run PATH ARGS... (NULL-terminated) with stdout and stderr in P.dir/NAME. */
static pid_t run(const char *name, const char *path, ...)
{
    char out[128];
    snprintf(out, sizeof out, "%s/%s", P.dir, name);
    const char *argv[16] = {path};
    size_t n = 1;
    va_list ap;
    va_start(ap, path);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    unlink(out); /* an earlier run's output must not be read as this one's */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(path, (char *const *)argv);
        perror(path);
        _exit(127);
    }
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (!P.pids[i]) {
            P.pids[i] = pid;
            break;
        }
    return pid;
}

static const char *bin(const char *prog)
{
    static char paths[4][128];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 128, "%s/bin/gzmq-%s", build_dir(), prog);
    return p;
}

/* The exit status of PID, or -1 if it did not exit within STEP_LIMIT. */
static int wait_exit(pid_t pid)
{
    double end = now() + STEP_LIMIT;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            for (size_t i = 0; i < MAX_PROCS; i++)
                if (P.pids[i] == pid)
                    P.pids[i] = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        if (r < 0 || now() > end)
            return -1;
        usleep(10000);
    }
}

static void stop(pid_t pid, int sig)
{
    kill(pid, sig);
    int st = wait_exit(pid);
    if (sig == SIGTERM)
        assert_int_equal(st, 0);
}

static char *slurp(const char *name)
{
    return gz_test_read_file(P.dir, name);
}

/* Wait until NAME's output has a line matching RE; false after the limit. */
static bool wait_line(const char *name, const char *re)
{
    double end = now() + STEP_LIMIT;
    while (now() < end) {
        char *s = slurp(name);
        bool ok = s && gz_test_has_line(s, re);
        free(s);
        if (ok)
            return true;
        usleep(10000);
    }
    return false;
}

/* Start gzmq-mdbroker on ENDPOINT; returns the endpoint it bound. */
static pid_t start_broker_process(const char *endpoint, char *bound, size_t size)
{
    pid_t pid = run("broker", bin("mdbroker"), "--bind", endpoint, NULL);
    assert_true(wait_line("broker", "bound to "));
    char *s = slurp("broker"), *p = strstr(s, "bound to ");
    assert_non_null(p);
    snprintf(bound, size, "%s", p + 9);
    bound[strcspn(bound, "\n")] = 0;
    free(s);
    return pid;
}

static int processes_setup(void **state)
{
    (void)state;
    snprintf(P.dir, sizeof P.dir, "/tmp/gz_test_mdp.XXXXXX");
    if (!mkdtemp(P.dir))
        return -1;
    char hb[32];
    snprintf(hb, sizeof hb, "%g", HEARTBEAT);
    setenv("GZ_MDP_HEARTBEAT", hb, 1);
    setenv("GZ_MDP_LIVENESS", "3", 1);
    return 0;
}

static int processes_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAX_PROCS; i++)
        if (P.pids[i] > 0) {
            kill(P.pids[i], SIGKILL);
            waitpid(P.pids[i], NULL, 0);
            P.pids[i] = 0;
        }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", P.dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool have_python_zmq(void)
{
    return system(PYTHON " -c 'import zmq' 2>/dev/null") == 0;
}

/* Our broker; the client and the worker each from Python or C. */
static void one_combination(bool py_client, bool py_worker)
{
    char ep[128];
    pid_t b = start_broker_process("tcp://127.0.0.1:*", ep, sizeof ep);
    pid_t w = py_worker ? run("worker", PYTHON, "tests/mdp_peer.py", "worker", ep, "echo", NULL)
                        : run("worker", bin("mdworker"), "--connect", ep, "--service", "echo",
                              "--concurrency", "4", NULL);
    pid_t c = py_client ? run("client", PYTHON, "tests/mdp_peer.py", "client", ep, "echo", "1000",
                              NULL)
                        : run("client", bin("mdclient"), "--connect", ep, "--service", "echo",
                              "--requests", "1000", "--concurrency", "4", "--retries", "0",
                              "--timeout-ms", "10000", NULL);
    int st = wait_exit(c);
    char *out = slurp("client");
    if (st != 0) {
        char *wout = slurp("worker"), *bout = slurp("broker");
        fprintf(stderr, "client (%s) against worker (%s):\n%s\nworker:\n%s\nbroker:\n%s",
                py_client ? "py" : "C", py_worker ? "py" : "C", out, wout, bout);
        free(wout);
        free(bout);
    }
    assert_int_equal(st, 0);
    assert_true(gz_test_has_line(out, py_client ? "^client: 1000 ok$"
                                                : "^1000 requests, 4 concurrent, .* req/s$"));
    free(out);
    stop(w, SIGTERM);
    out = slurp("worker");
    assert_true(gz_test_has_line(out, py_worker ? "^worker: 1000 served$"
                                                : "requests served$"));
    free(out);
    stop(b, SIGTERM);
    out = slurp("broker");
    assert_true(gz_test_has_line(out, ": 0 malformed messages dropped$"));
    free(out);
}

static void interop_every_combination_1000_requests(void **state)
{
    (void)state;
    if (!have_python_zmq()) {
        print_message("python3-zmq missing (make deps installs it): skipped\n");
        skip();
    }
    one_combination(true, true);
    one_combination(true, false);
    one_combination(false, true);
    one_combination(false, false);
}

/* The sha256 service: the hash computed in the worker's threads, checked by
 * gzmq-mdclient against its own. */
static void sha256_service_through_the_broker(void **state)
{
    (void)state;
    char ep[128];
    pid_t b = start_broker_process("tcp://127.0.0.1:*", ep, sizeof ep);
    pid_t w = run("worker", bin("mdworker"), "--connect", ep, "--service", "sha256",
                  "--concurrency", "8", NULL);
    pid_t c = run("client", bin("mdclient"), "--connect", ep, "--service", "sha256",
                  "--requests", "300", "--concurrency", "8", "--size", "5000", NULL);
    assert_int_equal(wait_exit(c), 0);
    char *out = slurp("client");
    assert_true(gz_test_has_line(out, "^300 requests, 8 concurrent, .* req/s$"));
    free(out);
    stop(w, SIGTERM);
    out = slurp("worker");
    assert_true(gz_test_has_line(out, "^gzmq-mdworker: 300 requests served$"));
    free(out);
    stop(b, SIGTERM);
}

static void worker_killed_mid_request_retry_goes_to_another(void **state)
{
    (void)state;
    char ep[128];
    pid_t b = start_broker_process("tcp://127.0.0.1:*", ep, sizeof ep);
    /* The only worker at first, too slow ever to answer. */
    pid_t slow = run("slow", bin("mdworker"), "--connect", ep, "--service", "echo",
                     "--delay-ms", "600000", "--verbose", NULL);
    gz_mdp_client *probe = gz_mdp_client_new(ep);
    double end = now() + STEP_LIMIT;
    while (strcmp(mmi(probe, "mmi.service", "echo"), "200") != 0 && now() < end)
        gz_sleep(0.01);
    pid_t c = run("client", bin("mdclient"), "--connect", ep, "--service", "echo",
                  "--requests", "1", "--concurrency", "1", "--timeout-ms", "500",
                  "--retries", "100", NULL);
    assert_true(wait_line("slow", "request received$"));
    kill(slow, SIGKILL);
    wait_exit(slow);
    pid_t fast = run("fast", bin("mdworker"), "--connect", ep, "--service", "echo", NULL);
    assert_int_equal(wait_exit(c), 0);
    char *out = slurp("client");
    assert_true(gz_test_has_line(out, "^1 requests, 1 concurrent, .* req/s$"));
    free(out);
    stop(fast, SIGTERM);
    out = slurp("fast");
    assert_true(gz_test_has_line(out, "^gzmq-mdworker: 1 requests served$"));
    free(out);
    gz_mdp_client_destroy(probe);
    stop(b, SIGTERM);
}

/* Seconds until a request to SERVICE is answered, trying every 100 ms. */
static double time_to_answer(const char *ep, const char *service)
{
    gz_mdp_client *c = gz_mdp_client_new(ep);
    gz_mdp_msg *req = msg_of("after the restart", NULL), *reply = NULL;
    double t0 = now();
    while (!reply && now() < t0 + STEP_LIMIT)
        reply = gz_mdp_client_request(c, service, req, HEARTBEAT, 0);
    assert_non_null(reply);
    assert_true(frame_eq(reply, 0, "after the restart"));
    gz_mdp_msg_destroy(reply);
    gz_mdp_msg_destroy(req);
    gz_mdp_client_destroy(c);
    return now() - t0;
}

static void broker_killed_and_restarted_service_resumes(void **state)
{
    (void)state;
    char ep[128], ep2[128];
    pid_t b = start_broker_process("tcp://127.0.0.1:*", ep, sizeof ep);
    pid_t w = run("worker", bin("mdworker"), "--connect", ep, "--service", "echo",
                  "--concurrency", "3", NULL);
    pid_t pw = have_python_zmq()
                   ? run("pyworker", PYTHON, "tests/mdp_peer.py", "worker", ep, "pyecho", NULL)
                   : 0;
    time_to_answer(ep, "echo");
    if (pw)
        time_to_answer(ep, "pyecho");
    kill(b, SIGKILL);
    wait_exit(b);
    double t0 = now();
    b = start_broker_process(ep, ep2, sizeof ep2);
    assert_string_equal(ep, ep2);
    double started = now() - t0;
    double c_worker = time_to_answer(ep, "echo") + started;
    double py_worker = pw ? time_to_answer(ep, "pyecho") + started : 0;
    print_message("after the broker's restart (heartbeat %.0f ms): C workers answer in "
                  "%.3f s, Python worker in %.3f s\n",
                  HEARTBEAT * 1000, c_worker, py_worker);
    stop(w, SIGTERM);
    if (pw)
        stop(pw, SIGTERM);
    stop(b, SIGTERM);
}

int main(void)
{
    gz_test_watchdog(300);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(msg_api),
        cmocka_unit_test(argument_errors),
        cmocka_unit_test(requests_reach_worker_greenlets_and_come_back),
        cmocka_unit_test(mmi_service_answers_200_404_501),
        cmocka_unit_test(unknown_service_times_out_after_its_retries),
        cmocka_unit_test(one_greenlet_at_a_time_and_usable_after_a_kill),
        cmocka_unit_test(malformed_frames_are_dropped_and_service_goes_on),
        cmocka_unit_test(waiting_requests_are_bounded),
        cmocka_unit_test(silent_worker_expires),
        cmocka_unit_test(worker_heartbeats_and_reconnects),
        cmocka_unit_test_setup_teardown(interop_every_combination_1000_requests,
                                        processes_setup, processes_teardown),
        cmocka_unit_test_setup_teardown(sha256_service_through_the_broker, processes_setup,
                                        processes_teardown),
        cmocka_unit_test_setup_teardown(worker_killed_mid_request_retry_goes_to_another,
                                        processes_setup, processes_teardown),
        cmocka_unit_test_setup_teardown(broker_killed_and_restarted_service_resumes,
                                        processes_setup, processes_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
