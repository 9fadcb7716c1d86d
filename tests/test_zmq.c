/* zmq.c: green send / recv / poll / close, their errno, many greenlets on one
 * socket, the edge-triggered ZMQ_FD case, and shutdown under waiters.
 *
 * Each test runs under a gz_timeout (TEST_LIMIT) on main, and every join
 * has a time limit, so a lost wakeup fails the test instead of hanging. No
 * assertion depends on how fast anything runs. Greenlets never assert (cmocka
 * must not longjmp across stacks): they record, main asserts. */
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "gz_test.h"

#define TEST_LIMIT 20.0
#ifndef ZMQ_SERVER
#define ZMQ_SERVER 12 /* a draft, thread-safe type that libzmq still builds */
#endif

static void *ctx;
static gz_timeout *limit;

static int setup(void **state)
{
    (void)state;
    ctx = zmq_ctx_new();
    limit = gz_timeout_start(TEST_LIMIT);
    return ctx && limit ? 0 : -1;
}

static void *term(void *arg) { return GZ_PTR(zmq_ctx_term(arg)); }

/* A failed test may leave sockets open, and zmq_ctx_term would then block
 * the suite: terminate off the hub, and give up on it after a while. */
static int teardown(void **state)
{
    (void)state;
    gz_timeout_cancel(limit);
    pthread_t th;
    if (pthread_create(&th, NULL, term, ctx) != 0)
        return -1;
    ctx = NULL;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    void *rc = NULL;
    if (pthread_timedjoin_np(th, &rc, &until) != 0) {
        fprintf(stderr, "zmq_ctx_term blocked: sockets left open\n");
        pthread_detach(th);
        return -1;
    }
    return GZ_INT(rc);
}

static void *sock(int type)
{
    void *s = zmq_socket(ctx, type);
    assert_non_null(s);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

/* Bind to a free loopback port or an inproc name; ENDPOINT receives what a
 * peer connects to. */
static void *bound(int type, const char *where, char *endpoint, size_t len)
{
    void *s = sock(type);
    assert_int_equal(zmq_bind(s, where), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
    return s;
}

static void *connected(int type, const char *endpoint)
{
    void *s = sock(type);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void set_int(void *s, int opt, int v)
{
    assert_int_equal(zmq_setsockopt(s, opt, &v, sizeof v), 0);
}

/* Join G within the test's limit; a greenlet left blocked is killed so the
 * suite goes on, and the join's failure fails the test. */
static int finish(gz_greenlet *g)
{
    int rc = gz_join(g, TEST_LIMIT);
    if (rc != 0) {
        fprintf(stderr, "greenlet %s did not end: lost wakeup?\n", gz_name(g));
        gz_kill(g, 0); /* it ends when it next runs */
    }
    gz_release(g);
    return rc;
}

/* A greenlet blocked in one call records its result and errno. */
typedef struct call {
    void *s;
    int rc, err;
    long poll_ms;
    bool started;
} call;

static void *recv_once(void *arg)
{
    call *c = arg;
    char buf[16];
    c->started = true;
    errno = 0;
    c->rc = gz_zmq_recv(c->s, buf, sizeof buf, 0);
    c->err = errno;
    return NULL;
}

static void *poll_once(void *arg)
{
    call *c = arg;
    zmq_pollitem_t it = {.socket = c->s, .events = ZMQ_POLLIN};
    c->started = true;
    errno = 0;
    c->rc = gz_zmq_poll(&it, 1, c->poll_ms);
    c->err = errno;
    return NULL;
}

static void *count_up(void *arg)
{
    int *n = arg;
    for (;;) {
        (*n)++;
        if (gz_sleep(0.001) != 0)
            return NULL;
    }
}

/* ---- errno ---- */

static void dontwait_gives_eagain_at_once(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *pull = bound(ZMQ_PULL, "inproc://dontwait", ep, sizeof ep);
    void *push = sock(ZMQ_PUSH); /* no peer: a send cannot proceed */
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT), EAGAIN);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_fails(gz_zmq_msg_recv(&m, pull, ZMQ_DONTWAIT), EAGAIN);
    assert_fails(gz_zmq_send(push, "x", 1, ZMQ_DONTWAIT), EAGAIN);
    zmq_msg_init_size(&m, 1);
    assert_fails(gz_zmq_msg_send(&m, push, ZMQ_DONTWAIT), EAGAIN);
    zmq_msg_close(&m); /* a failed send leaves the message to the caller */
    assert_int_equal(gz_zmq_close(push), 0);
    assert_int_equal(gz_zmq_close(pull), 0);
}

static void rcvtimeo_and_sndtimeo_expire_with_eagain(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *pull = bound(ZMQ_PULL, "inproc://timeo", ep, sizeof ep);
    void *push = sock(ZMQ_PUSH);
    int ticks = 0;
    gz_greenlet *counter = gz_spawn(count_up, &ticks);
    set_int(pull, ZMQ_RCVTIMEO, 30);
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, 0), EAGAIN);
    assert_true(ticks > 0); /* only the caller was blocked */
    set_int(push, ZMQ_SNDTIMEO, 30);
    int before = ticks;
    assert_fails(gz_zmq_send(push, "x", 1, 0), EAGAIN);
    assert_true(ticks > before);
    set_int(pull, ZMQ_RCVTIMEO, 0);
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, 0), EAGAIN);
    gz_kill(counter, GZ_FOREVER);
    gz_release(counter);
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

static void gz_timeout_gives_etimedout(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *pull = bound(ZMQ_PULL, "inproc://gztimeout", ep, sizeof ep);
    gz_timeout *t = gz_timeout_start(0.03);
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, 0), ETIMEDOUT);
    zmq_pollitem_t it = {.socket = pull, .events = ZMQ_POLLIN};
    assert_fails(gz_zmq_poll(&it, 1, -1), ETIMEDOUT);
    gz_timeout_cancel(t);
    /* With RCVTIMEO longer than the greenlet's timeout, the latter wins. */
    set_int(pull, ZMQ_RCVTIMEO, 10000);
    t = gz_timeout_start(0.02);
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, 0), ETIMEDOUT);
    gz_timeout_cancel(t);
    gz_zmq_close(pull);
}

static void kill_gives_ecanceled(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://kill", ep, sizeof ep);
    call c = {.s = pull};
    call p = {.s = pull, .poll_ms = -1};
    gz_greenlet *g = gz_spawn(recv_once, &c);
    gz_greenlet *q = gz_spawn(poll_once, &p);
    gz_yield();
    assert_true(c.started && p.started);
    assert_int_equal(gz_kill(g, TEST_LIMIT), 0);
    assert_int_equal(gz_kill(q, TEST_LIMIT), 0);
    assert_int_equal(c.rc, -1);
    assert_int_equal(c.err, ECANCELED);
    assert_int_equal(p.rc, -1);
    assert_int_equal(p.err, ECANCELED);
    gz_release(g);
    gz_release(q);
    gz_zmq_close(pull);
}

static void bad_arguments_fail_with_errno(void **state)
{
    (void)state;
    char buf[8];
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://bad", ep, sizeof ep);
    assert_fails(gz_zmq_recv(NULL, buf, sizeof buf, 0), ENOTSOCK);
    assert_fails(gz_zmq_send(NULL, "x", 1, 0), ENOTSOCK);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_fails(gz_zmq_msg_recv(&m, NULL, 0), ENOTSOCK);
    assert_fails(gz_zmq_msg_send(&m, NULL, 0), ENOTSOCK);
    zmq_msg_close(&m);
    assert_fails(gz_zmq_recv(pull, NULL, 4, 0), EFAULT);
    assert_fails(gz_zmq_send(pull, NULL, 4, 0), EFAULT);
    assert_fails(gz_zmq_msg_recv(NULL, pull, 0), EFAULT);
    assert_fails(gz_zmq_poll(NULL, 1, 0), EFAULT);
    zmq_pollitem_t it = {.socket = pull, .events = ZMQ_POLLIN};
    assert_fails(gz_zmq_poll(&it, -1, 0), EINVAL);
    it.socket = NULL;
    it.fd = -1;
    assert_int_equal(gz_zmq_poll(&it, 1, 0), 0); /* a negative fd is ignored */
    assert_fails(gz_zmq_close(NULL), ENOTSOCK);
    /* PULL cannot send: libzmq's ENOTSUP passes through. */
    assert_fails(gz_zmq_send(pull, "x", 1, 0), ENOTSUP);
    gz_zmq_close(pull);
}

static void req_state_errors_are_efsm(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *rep = bound(ZMQ_REP, "inproc://efsm", ep, sizeof ep);
    void *req = connected(ZMQ_REQ, ep);
    assert_fails(gz_zmq_recv(req, buf, sizeof buf, 0), EFSM);
    assert_fails(gz_zmq_send(rep, "x", 1, 0), EFSM);
    assert_int_equal(gz_zmq_send(req, "ping", 4, 0), 4);
    assert_fails(gz_zmq_send(req, "ping", 4, 0), EFSM);
    assert_int_equal(gz_zmq_recv(rep, buf, sizeof buf, 0), 4);
    assert_fails(gz_zmq_recv(rep, buf, sizeof buf, 0), EFSM);
    assert_int_equal(gz_zmq_send(rep, "pong", 4, 0), 4);
    assert_int_equal(gz_zmq_recv(req, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "pong", 4);
    gz_zmq_close(req);
    gz_zmq_close(rep);
}

typedef struct cb_result {
    void *s;
    int blocking_err, dontwait_err, poll0_rc, poll_err;
} cb_result;

static void in_link(gz_greenlet *g, void *arg)
{
    (void)g;
    cb_result *r = arg;
    char buf[8];
    errno = 0;
    gz_zmq_recv(r->s, buf, sizeof buf, 0);
    r->blocking_err = errno;
    errno = 0;
    gz_zmq_recv(r->s, buf, sizeof buf, ZMQ_DONTWAIT);
    r->dontwait_err = errno;
    zmq_pollitem_t it = {.socket = r->s, .events = ZMQ_POLLIN};
    r->poll0_rc = gz_zmq_poll(&it, 1, 0);
    errno = 0;
    gz_zmq_poll(&it, 1, 10);
    r->poll_err = errno;
}

static void *nothing(void *arg) { return arg; }

static void link_callbacks_may_not_block(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://eperm", ep, sizeof ep);
    cb_result r = {.s = pull};
    gz_greenlet *g = gz_spawn(nothing, NULL);
    assert_int_equal(gz_link(g, in_link, &r), 0);
    assert_int_equal(finish(g), 0);
    assert_int_equal(r.blocking_err, EPERM);
    assert_int_equal(r.dontwait_err, EAGAIN); /* not blocking: allowed */
    assert_int_equal(r.poll0_rc, 0);           /* a poll that cannot wait too */
    assert_int_equal(r.poll_err, EPERM);
    gz_zmq_close(pull);
}

static void thread_safe_sockets_are_refused(void **state)
{
    (void)state;
    void *server = zmq_socket(ctx, ZMQ_SERVER);
    assert_non_null(server);
    assert_int_equal(zmq_bind(server, "inproc://server"), 0);
    char buf[8];
    assert_fails(gz_zmq_recv(server, buf, sizeof buf, 0), ENOTSUP);
    zmq_pollitem_t it = {.socket = server, .events = ZMQ_POLLIN};
    assert_fails(gz_zmq_poll(&it, 1, 10), ENOTSUP);
    assert_fails(gz_zmq_recv(server, buf, sizeof buf, ZMQ_DONTWAIT), EAGAIN);
    assert_int_equal(gz_zmq_close(server), 0);
}

static void close_wakes_every_waiter_with_enotsock(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://close", ep, sizeof ep);
    call c[3] = {{.s = pull}, {.s = pull}, {.s = pull, .poll_ms = -1}};
    gz_greenlet *g[3] = {gz_spawn(recv_once, &c[0]), gz_spawn(recv_once, &c[1]),
                         gz_spawn(poll_once, &c[2])};
    gz_yield();
    for (int i = 0; i < 3; i++)
        assert_true(c[i].started && !gz_ready(g[i]));
    assert_int_equal(gz_zmq_close(pull), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(c[i].rc, -1);
        assert_int_equal(c[i].err, ENOTSOCK);
    }
}

static void context_shutdown_wakes_waiters_with_eterm(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "tcp://127.0.0.1:*", ep, sizeof ep);
    void *rep = bound(ZMQ_REP, "inproc://eterm", ep, sizeof ep);
    call c[3] = {{.s = pull}, {.s = rep}, {.s = rep, .poll_ms = -1}};
    gz_greenlet *g[3] = {gz_spawn(recv_once, &c[0]), gz_spawn(recv_once, &c[1]),
                         gz_spawn(poll_once, &c[2])};
    gz_yield();
    assert_int_equal(zmq_ctx_shutdown(ctx), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(c[i].rc, -1);
        assert_int_equal(c[i].err, ETERM);
    }
    char buf[4];
    assert_fails(gz_zmq_recv(pull, buf, sizeof buf, 0), ETERM);
    assert_int_equal(gz_zmq_close(pull), 0);
    assert_int_equal(gz_zmq_close(rep), 0);
}

static void default_context_is_created_once(void **state)
{
    (void)state;
    void *a = gz_zmq_context();
    assert_non_null(a);
    assert_ptr_equal(gz_zmq_context(), a);
    void *s = zmq_socket(a, ZMQ_PAIR);
    assert_non_null(s);
    assert_int_equal(gz_zmq_close(s), 0);
}

/* ---- whole messages: sendv / recvv ---- */

static void msgs_init(zmq_msg_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_init(&m[i]);
}

static void msgs_close(zmq_msg_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&m[i]);
}

/* N frames "TAG:i" (TAG a letter). */
static void msgs_fill(zmq_msg_t *m, size_t n, char tag)
{
    for (size_t i = 0; i < n; i++) {
        char b[16];
        int len = snprintf(b, sizeof b, "%c:%zu", tag, i);
        assert_int_equal(zmq_msg_init_size(&m[i], (size_t)len), 0);
        memcpy(zmq_msg_data(&m[i]), b, (size_t)len);
    }
}

static bool frame_is(zmq_msg_t *m, char tag, size_t i)
{
    char b[16];
    int len = snprintf(b, sizeof b, "%c:%zu", tag, i);
    return zmq_msg_size(m) == (size_t)len && memcmp(zmq_msg_data(m), b, (size_t)len) == 0;
}

static void sendv_and_recvv_move_whole_messages(void **state)
{
    (void)state;
    char ep[64];
    void *a = bound(ZMQ_PAIR, "inproc://sendv", ep, sizeof ep);
    void *b = connected(ZMQ_PAIR, ep);
    zmq_msg_t out[3], in[4];
    msgs_fill(out, 3, 'x');
    assert_int_equal(gz_zmq_sendv(a, out, 3, 0), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(zmq_msg_size(&out[i]), 0); /* consumed */
    msgs_init(in, 4);
    size_t n = 4;
    assert_int_equal(gz_zmq_recvv(b, in, &n, 0), 3);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(frame_is(&in[i], 'x', i));
    /* a single frame, and ZMQ_SNDMORE continuing the message in a later call */
    msgs_fill(out, 1, 'y');
    assert_int_equal(gz_zmq_sendv(a, out, 1, ZMQ_SNDMORE), 1);
    assert_int_equal(gz_zmq_send(a, "end", 3, 0), 3);
    n = 4;
    assert_int_equal(gz_zmq_recvv(b, in, &n, 0), 2);
    assert_true(frame_is(&in[0], 'y', 0));
    assert_int_equal(zmq_msg_size(&in[1]), 3);
    msgs_close(out, 3);
    msgs_close(in, 4);
    assert_int_equal(gz_zmq_close(a), 0);
    assert_int_equal(gz_zmq_close(b), 0);
}

static void recvv_too_small_keeps_the_whole_message(void **state)
{
    (void)state;
    char ep[64];
    void *a = bound(ZMQ_PAIR, "inproc://recvv-small", ep, sizeof ep);
    void *b = connected(ZMQ_PAIR, ep);
    zmq_msg_t out[7], in[7];
    msgs_fill(out, 7, 'p');
    assert_int_equal(gz_zmq_sendv(a, out, 7, 0), 7);
    msgs_fill(out, 2, 'q');
    assert_int_equal(gz_zmq_sendv(a, out, 2, 0), 2);
    msgs_init(in, 7);
    size_t n = 2;
    assert_fails(gz_zmq_recvv(b, in, &n, 0), EMSGSIZE);
    assert_int_equal(n, 7); /* what it needs */
    assert_int_equal(zmq_msg_size(&in[0]), 0); /* nothing handed over */
    n = 3;
    assert_fails(gz_zmq_recvv(b, in, &n, ZMQ_DONTWAIT), EMSGSIZE);
    assert_int_equal(n, 7);
    n = 7;
    assert_int_equal(gz_zmq_recvv(b, in, &n, 0), 7);
    for (size_t i = 0; i < 7; i++)
        assert_true(frame_is(&in[i], 'p', i));
    n = 7; /* then the next message, in order */
    assert_int_equal(gz_zmq_recvv(b, in, &n, 0), 2);
    assert_true(frame_is(&in[0], 'q', 0) && frame_is(&in[1], 'q', 1));
    msgs_close(out, 7);
    msgs_close(in, 7);
    assert_int_equal(gz_zmq_close(a), 0);
    assert_int_equal(gz_zmq_close(b), 0); /* frees a held message too */
}

static void sendv_and_recvv_refuse_bad_arguments(void **state)
{
    (void)state;
    char ep[64];
    void *a = bound(ZMQ_PAIR, "inproc://sendv-bad", ep, sizeof ep);
    zmq_msg_t m[2], in[2];
    msgs_fill(m, 2, 'z');
    msgs_init(in, 2);
    size_t n = 0;
    assert_fails(gz_zmq_sendv(a, m, 0, 0), EINVAL);
    assert_fails(gz_zmq_sendv(a, NULL, 2, 0), EFAULT);
    assert_fails(gz_zmq_recvv(a, in, &n, 0), EINVAL);
    assert_fails(gz_zmq_recvv(a, NULL, &n, 0), EFAULT);
    assert_fails(gz_zmq_recvv(a, in, NULL, 0), EFAULT);
    n = 2;
    assert_fails(gz_zmq_recvv(a, in, &n, ZMQ_DONTWAIT), EAGAIN);
    msgs_close(in, 2);
    /* no peer: the first frame cannot go, and nothing was consumed */
    assert_fails(gz_zmq_sendv(a, m, 2, ZMQ_DONTWAIT), EAGAIN);
    assert_true(frame_is(&m[0], 'z', 0) && frame_is(&m[1], 'z', 1));
    msgs_close(m, 2);
    assert_int_equal(gz_zmq_close(a), 0);
}

#define SENDV_ROUNDS 300
#define SENDV_FRAMES 4

typedef struct vsender {
    void *s;
    char tag;
    int sent;
} vsender;

static void *sendv_loop(void *arg)
{
    vsender *v = arg;
    for (int r = 0; r < SENDV_ROUNDS; r++) {
        zmq_msg_t m[SENDV_FRAMES];
        for (size_t i = 0; i < SENDV_FRAMES; i++) {
            char b[16];
            int len = snprintf(b, sizeof b, "%c:%zu", v->tag, i);
            zmq_msg_init_size(&m[i], (size_t)len);
            memcpy(zmq_msg_data(&m[i]), b, (size_t)len);
        }
        int rc = gz_zmq_sendv(v->s, m, SENDV_FRAMES, 0);
        for (size_t i = 0; i < SENDV_FRAMES; i++)
            zmq_msg_close(&m[i]);
        if (rc != SENDV_FRAMES)
            break;
        v->sent++;
        if (r % 7 == 0)
            gz_yield();
    }
    return NULL;
}

typedef struct vreader {
    void *s;
    int whole, broken;
} vreader;

static void *recvv_loop(void *arg)
{
    vreader *v = arg;
    for (;;) {
        zmq_msg_t m[SENDV_FRAMES];
        msgs_init(m, SENDV_FRAMES);
        size_t n = SENDV_FRAMES;
        int rc = gz_zmq_recvv(v->s, m, &n, 0);
        if (rc < 0) {
            msgs_close(m, SENDV_FRAMES);
            break;
        }
        char tag = zmq_msg_size(&m[0]) ? *(char *)zmq_msg_data(&m[0]) : '?';
        bool ok = n == SENDV_FRAMES;
        for (size_t i = 0; ok && i < n; i++)
            ok = frame_is(&m[i], tag, i);
        v->whole += ok;
        v->broken += !ok;
        msgs_close(m, SENDV_FRAMES);
    }
    return NULL;
}

/* Three senders share a PUSH with a tiny HWM, so that their first frames
 * wait and they take turns; two readers share the PULL. Every message
 * arrives whole, from one sender. */
static void sendv_never_interleaves_frames_of_two_greenlets(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "tcp://127.0.0.1:*", ep, sizeof ep);
    void *push = sock(ZMQ_PUSH);
    int one = 1;
    assert_int_equal(zmq_setsockopt(push, ZMQ_SNDHWM, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(pull, ZMQ_RCVHWM, &one, sizeof one), 0);
    assert_int_equal(zmq_connect(push, ep), 0);
    vsender vs[3] = {{push, 'a', 0}, {push, 'b', 0}, {push, 'c', 0}};
    vreader vr[2] = {{.s = pull}, {.s = pull}};
    gz_greenlet *r[2] = {gz_spawn(recvv_loop, &vr[0]), gz_spawn(recvv_loop, &vr[1])};
    gz_greenlet *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = gz_spawn(sendv_loop, &vs[i]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(w[i]), 0);
        assert_int_equal(vs[i].sent, SENDV_ROUNDS);
    }
    while (vr[0].whole + vr[0].broken + vr[1].whole + vr[1].broken < 3 * SENDV_ROUNDS)
        assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_zmq_close(pull), 0); /* readers end with ENOTSOCK */
    for (int i = 0; i < 2; i++)
        assert_int_equal(finish(r[i]), 0);
    assert_int_equal(vr[0].broken + vr[1].broken, 0);
    assert_int_equal(vr[0].whole + vr[1].whole, 3 * SENDV_ROUNDS);
    assert_int_equal(gz_zmq_close(push), 0);
}

/* ---- many greenlets, one socket ---- */

#define SHARED_MSGS 200000
#define READERS 8

typedef struct shared {
    void *s;
    unsigned char *seen;
    int dup, bad, got[READERS], err;
    int done; /* set by main once the readers ended (thread sender) */
    const char *endpoint;
} shared;

typedef struct reader {
    shared *sh;
    int id;
} reader;

static void *pull_reader(void *arg)
{
    reader *r = arg;
    shared *sh = r->sh;
    for (;;) {
        uint32_t v;
        int n = gz_zmq_recv(sh->s, &v, sizeof v, 0);
        if (n != sizeof v) {
            sh->err = n < 0 ? errno : EMSGSIZE;
            return NULL;
        }
        if (v == UINT32_MAX)
            return NULL; /* one stop marker per reader, after all data */
        if (v >= SHARED_MSGS)
            sh->bad++;
        else if (sh->seen[v]++)
            sh->dup++;
        sh->got[r->id]++;
    }
}

static void send_all(void *push, int *err)
{
    for (uint32_t i = 0; i < SHARED_MSGS + READERS; i++) {
        uint32_t v = i < SHARED_MSGS ? i : UINT32_MAX;
        if (gz_zmq_send(push, &v, sizeof v, 0) != sizeof v) {
            *err = errno;
            return;
        }
    }
}

static void *green_sender(void *arg)
{
    shared *sh = arg;
    send_all(sh->s, &sh->err);
    return NULL;
}

/* A plain thread with a blocking libzmq socket: the edges then come from
 * another thread, as in a real deployment. */
static void *thread_sender(void *arg)
{
    shared *sh = arg;
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(push, sh->endpoint) == 0) {
        for (uint32_t i = 0; i < SHARED_MSGS + READERS; i++) {
            uint32_t v = i < SHARED_MSGS ? i : UINT32_MAX;
            if (zmq_send(push, &v, sizeof v, 0) != sizeof v)
                break;
        }
    }
    /* Linger 0 could drop what is queued: wait for the readers instead. */
    while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    zmq_close(push);
    return NULL;
}

static void shared_pull(const char *where, bool sender_thread)
{
    char ep[64];
    shared sh = {.seen = calloc(SHARED_MSGS, 1)};
    assert_non_null(sh.seen);
    sh.s = bound(ZMQ_PULL, where, ep, sizeof ep);
    sh.endpoint = ep;
    reader r[READERS];
    gz_greenlet *g[READERS];
    for (int i = 0; i < READERS; i++) {
        r[i] = (reader){&sh, i};
        g[i] = gz_spawn(pull_reader, &r[i]);
    }
    pthread_t th;
    void *push = NULL;
    gz_greenlet *sender = NULL;
    shared out = {0};
    if (sender_thread) {
        assert_int_equal(pthread_create(&th, NULL, thread_sender, &sh), 0);
    } else {
        push = connected(ZMQ_PUSH, ep);
        out.s = push;
        sender = gz_spawn(green_sender, &out);
    }
    int ended = 0;
    for (int i = 0; i < READERS; i++)
        ended += finish(g[i]) == 0;
    if (sender_thread) {
        __atomic_store_n(&sh.done, 1, __ATOMIC_RELEASE);
        pthread_join(th, NULL);
    } else {
        assert_int_equal(finish(sender), 0);
        gz_zmq_close(push);
    }
    gz_zmq_close(sh.s);
    assert_int_equal(ended, READERS);
    assert_int_equal(sh.err, 0);
    assert_int_equal(out.err, 0);
    assert_int_equal(sh.dup, 0);
    assert_int_equal(sh.bad, 0);
    long total = 0, missing = 0;
    for (int i = 0; i < READERS; i++)
        total += sh.got[i];
    for (long i = 0; i < SHARED_MSGS; i++)
        missing += sh.seen[i] != 1;
    assert_int_equal(total, SHARED_MSGS);
    assert_int_equal(missing, 0);
    free(sh.seen);
}

static void eight_greenlets_share_a_pull_socket_inproc(void **state)
{
    (void)state;
    shared_pull("inproc://shared", false);
}

static void eight_greenlets_share_a_pull_socket_tcp(void **state)
{
    (void)state;
    shared_pull("tcp://127.0.0.1:*", true);
}

/* ---- one DEALER, a sending greenlet and a receiving greenlet ---- */

#define ECHOES 20000

typedef struct echo {
    void *dealer, *router;
    unsigned char *seen;
    int got, dup, err;
} echo;

static void *router_echo(void *arg)
{
    echo *e = arg;
    for (int i = 0; i < ECHOES; i++) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (gz_zmq_msg_recv(&id, e->router, 0) < 0 ||
            gz_zmq_msg_recv(&body, e->router, 0) < 0 ||
            gz_zmq_msg_send(&id, e->router, ZMQ_SNDMORE) < 0 ||
            gz_zmq_msg_send(&body, e->router, 0) < 0) {
            e->err = errno;
            zmq_msg_close(&id);
            zmq_msg_close(&body);
            return NULL;
        }
    }
    return NULL;
}

static void *dealer_sender(void *arg)
{
    echo *e = arg;
    for (uint32_t i = 0; i < ECHOES; i++)
        if (gz_zmq_send(e->dealer, &i, sizeof i, 0) != sizeof i) {
            e->err = errno;
            return NULL;
        }
    return NULL;
}

static void *dealer_receiver(void *arg)
{
    echo *e = arg;
    while (e->got < ECHOES) {
        uint32_t v;
        if (gz_zmq_recv(e->dealer, &v, sizeof v, 0) != sizeof v || v >= ECHOES) {
            e->err = errno ? errno : EPROTO;
            return NULL;
        }
        e->dup += e->seen[v]++ != 0;
        e->got++;
    }
    return NULL;
}

static void dealer_sends_and_receives_in_two_greenlets(void **state)
{
    (void)state;
    char ep[64];
    echo e = {.seen = calloc(ECHOES, 1)};
    e.router = bound(ZMQ_ROUTER, "inproc://echo", ep, sizeof ep);
    set_int(e.router, ZMQ_ROUTER_MANDATORY, 1);
    e.dealer = sock(ZMQ_DEALER);
    set_int(e.dealer, ZMQ_SNDHWM, 100); /* make every side block often */
    set_int(e.dealer, ZMQ_RCVHWM, 100);
    assert_int_equal(zmq_connect(e.dealer, ep), 0);
    gz_greenlet *g[3] = {gz_spawn(dealer_receiver, &e), gz_spawn(router_echo, &e),
                         gz_spawn(dealer_sender, &e)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(finish(g[i]), 0);
    assert_int_equal(e.err, 0);
    assert_int_equal(e.got, ECHOES);
    assert_int_equal(e.dup, 0);
    free(e.seen);
    gz_zmq_close(e.dealer);
    gz_zmq_close(e.router);
}

/* ---- the edge eaten by another greenlet's send (DESIGN.md) ---- */

static void *router_thread(void *arg)
{
    void *router = arg;
    for (;;) {
        char id[256], body[16];
        int n = zmq_recv(router, id, sizeof id, 0);
        int m = n < 0 ? -1 : zmq_recv(router, body, sizeof body, 0);
        if (m < 0 || (m == 4 && memcmp(body, "quit", 4) == 0))
            return NULL;
        zmq_send(router, id, (size_t)n, ZMQ_SNDMORE);
        zmq_send(router, body, (size_t)m, 0);
    }
}

typedef struct edge {
    void *dealer;
    bool reader_sends; /* "one" is the reader's own, as a client's request */
    char first[8], second[8];
    int err;
} edge;

static void *edge_reader(void *arg)
{
    edge *e = arg;
    if (e->reader_sends && gz_zmq_send(e->dealer, "one", 3, 0) != 3)
        e->err = errno;
    if (gz_zmq_recv(e->dealer, e->first, sizeof e->first - 1, 0) < 0 ||
        gz_zmq_recv(e->dealer, e->second, sizeof e->second - 1, 0) < 0)
        e->err = errno;
    return NULL;
}

static void spin_ms(int ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void *edge_writer(void *arg)
{
    edge *e = arg;
    if (!e->reader_sends && gz_zmq_send(e->dealer, "one", 3, 0) != 3)
        e->err = errno;
    spin_ms(100); /* "one" comes back meanwhile: its edge is pending */
    if (gz_zmq_send(e->dealer, "two", 3, 0) != 3) /* this send eats it */
        e->err = errno;
    return NULL;
}

/* Twice on one DEALER. The second time the reader sends "one" itself and,
 * its last recv having had to wait, parks before it tries: the eaten edge
 * must not matter either. */
static void reader_wakes_when_a_writer_eats_its_edge(void **state)
{
    (void)state;
    char ep[64];
    void *router = bound(ZMQ_ROUTER, "tcp://127.0.0.1:*", ep, sizeof ep);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, router_thread, router), 0);
    void *dealer = connected(ZMQ_DEALER, ep);
    edge e[2] = {{.dealer = dealer}, {.dealer = dealer, .reader_sends = true}};
    int rr[2], wr[2];
    for (int i = 0; i < 2; i++) {
        gz_greenlet *r = gz_spawn(edge_reader, &e[i]);
        gz_yield(); /* the reader parks first */
        gz_greenlet *w = gz_spawn(edge_writer, &e[i]);
        rr[i] = finish(r);
        wr[i] = finish(w);
    }
    zmq_send(dealer, "quit", 4, 0); /* plain: our time limit may have fired */
    pthread_join(th, NULL);
    zmq_close(router);
    gz_zmq_close(dealer);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rr[i], 0);
        assert_int_equal(wr[i], 0);
        assert_int_equal(e[i].err, 0);
        assert_string_equal(e[i].first, "one");
        assert_string_equal(e[i].second, "two");
    }
}

/* ---- multipart ---- */

typedef struct multi {
    void *s;
    int id, err;
} multi;

static void *multi_sender(void *arg)
{
    multi *m = arg;
    for (int i = 0; i < 500; i++) {
        char a = (char)('a' + m->id);
        int part = 0;
        if (gz_zmq_send(m->s, &a, 1, ZMQ_SNDMORE) != 1 ||
            gz_zmq_send(m->s, &i, sizeof i, ZMQ_SNDMORE) != sizeof i ||
            gz_zmq_send(m->s, &part, sizeof part, 0) != sizeof part) {
            m->err = errno;
            return NULL;
        }
    }
    return NULL;
}

static void multipart_messages_are_never_interleaved(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://multi", ep, sizeof ep);
    void *push = sock(ZMQ_PUSH);
    set_int(push, ZMQ_SNDHWM, 5);
    set_int(pull, ZMQ_RCVHWM, 5);
    assert_int_equal(zmq_connect(push, ep), 0);
    multi m[3] = {{push, 0, 0}, {push, 1, 0}, {push, 2, 0}};
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++)
        g[i] = gz_spawn(multi_sender, &m[i]);
    int next[3] = {0, 0, 0}, bad = 0;
    for (int n = 0; n < 1500; n++) {
        char a = 0;
        int i = -1, part = -1, more = 0;
        size_t len = sizeof more;
        assert_int_equal(gz_zmq_recv(pull, &a, 1, 0), 1);
        assert_int_equal(gz_zmq_recv(pull, &i, sizeof i, 0), sizeof i);
        assert_int_equal(gz_zmq_recv(pull, &part, sizeof part, 0), sizeof part);
        zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len);
        if (a < 'a' || a > 'c' || i != next[a - 'a']++ || part != 0 || more)
            bad++;
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(m[i].err, 0);
        assert_int_equal(next[i], 500);
    }
    assert_int_equal(bad, 0);
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

/* ---- REQ/REP and PUB/SUB ---- */

static void *rep_server(void *arg)
{
    void *rep = arg;
    char buf[32];
    for (;;) {
        int n = gz_zmq_recv(rep, buf, sizeof buf, 0);
        if (n < 0)
            return GZ_PTR(errno);
        if (gz_zmq_send(rep, buf, (size_t)n, 0) != n)
            return GZ_PTR(errno);
    }
}

static void req_rep_round_trips_between_greenlets(void **state)
{
    (void)state;
    char ep[64];
    void *rep = bound(ZMQ_REP, "inproc://reqrep", ep, sizeof ep);
    gz_greenlet *srv = gz_spawn(rep_server, rep);
    void *req = connected(ZMQ_REQ, ep);
    for (int i = 0; i < 2000; i++) {
        char out[32], in[32] = "";
        int n = snprintf(out, sizeof out, "req %d", i);
        assert_int_equal(gz_zmq_send(req, out, (size_t)n, 0), n);
        assert_int_equal(gz_zmq_recv(req, in, sizeof in, 0), n);
        assert_memory_equal(in, out, (size_t)n);
    }
    gz_zmq_close(rep); /* the server's recv ends with ENOTSOCK */
    void *v = NULL;
    assert_int_equal(gz_get(srv, &v, TEST_LIMIT), 0);
    assert_int_equal(GZ_INT(v), ENOTSOCK);
    gz_release(srv);
    gz_zmq_close(req);
}

static void *recv_errno(void *sock)
{
    char buf[8];
    return gz_zmq_recv(sock, buf, sizeof buf, 0) < 0 ? GZ_PTR(errno) : NULL;
}

/* gz_zmq_forget lets go of a socket another library closes: its waiter
 * gets ENOTSOCK, the socket itself stays open and usable. */
static void forget_wakes_waiters_and_leaves_the_socket_open(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://forget", ep, sizeof ep);
    void *push = connected(ZMQ_PUSH, ep);
    gz_greenlet *g = gz_spawn(recv_errno, pull);
    gz_sleep(0.01); /* it waits */
    assert_int_equal(gz_zmq_forget(pull), 0);
    void *v = NULL;
    assert_int_equal(gz_get(g, &v, TEST_LIMIT), 0);
    assert_int_equal(GZ_INT(v), ENOTSOCK);
    gz_release(g);
    assert_int_equal(gz_zmq_send(push, "x", 1, 0), 1);
    char buf[8];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, 0), 1); /* still open */
    assert_int_equal(gz_zmq_forget(pull), 0); /* nothing to forget: fine */
    assert_fails(gz_zmq_forget(NULL), ENOTSOCK);
    assert_int_equal(zmq_close(pull), 0);
    gz_zmq_close(push);
}

static void *recv_one_frame(void *sock)
{
    char buf[8];
    int n = gz_zmq_recv(sock, buf, sizeof buf, 0);
    return n < 0 ? GZ_PTR(-errno) : GZ_PTR(n > 0 ? buf[0] : 0);
}

/* The frames of a message that has begun arriving go to the greenlet that
 * took the first, even on a socket whose receives are deferred (it sent
 * since its last receive, which had to wait): another greenlet's recv,
 * ready to run, cannot come between them. */
static void a_message_s_frames_are_never_split_between_greenlets(void **state)
{
    (void)state;
    char ep[64];
    void *s = bound(ZMQ_DEALER, "inproc://frames", ep, sizeof ep);
    void *peer = connected(ZMQ_DEALER, ep);
    int ms = 10;
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms), 0);
    char buf[8];
    assert_fails(gz_zmq_recv(s, buf, sizeof buf, 0), EAGAIN); /* it had to wait */
    ms = -1;
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms), 0);
    assert_int_equal(gz_zmq_send(peer, "1", 1, ZMQ_SNDMORE), 1);
    assert_int_equal(gz_zmq_send(peer, "2", 1, 0), 1);
    gz_sleep(0.01); /* delivered */
    assert_int_equal(gz_zmq_recv(s, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], '1');
    assert_int_equal(gz_zmq_send(s, "x", 1, 0), 1); /* sent since the recv */
    gz_greenlet *other = gz_spawn(recv_one_frame, s); /* ready to run */
    assert_int_equal(gz_zmq_recv(s, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], '2');
    assert_int_equal(gz_zmq_send(peer, "3", 1, 0), 1);
    void *v = NULL;
    assert_int_equal(gz_get(other, &v, TEST_LIMIT), 0);
    assert_int_equal(GZ_INT(v), '3'); /* the next message, whole */
    gz_release(other);
    gz_zmq_close(s);
    gz_zmq_close(peer);
}

#define TOPIC_MSGS 300

typedef struct sub {
    void *s;
    const char *topics[3];
    int ntopics, ends, synced;
    int count[3]; /* news, sport, weather */
    int err;
} sub;

static const char *const TOPICS[3] = {"news.", "sport.", "weather."};

static void *subscriber(void *arg)
{
    sub *s = arg;
    char buf[64];
    while (s->ends < s->ntopics) {
        int n = gz_zmq_recv(s->s, buf, sizeof buf - 1, 0);
        if (n < 0) {
            s->err = errno;
            return NULL;
        }
        buf[n] = 0;
        if (strncmp(buf, "sync", 4) == 0) {
            s->synced = 1;
            continue;
        }
        for (int t = 0; t < 3; t++) {
            size_t tl = strlen(TOPICS[t]);
            if (strncmp(buf, TOPICS[t], tl) == 0) {
                if (strcmp(buf + tl, "end") == 0)
                    s->ends++;
                else
                    s->count[t]++;
            }
        }
    }
    return NULL;
}

static void pub_sub_delivers_by_topic_to_several_subscribers(void **state)
{
    (void)state;
    char ep[64];
    void *pub = bound(ZMQ_PUB, "inproc://pubsub", ep, sizeof ep);
    sub s[3] = {{.topics = {"news."}, .ntopics = 1},
                {.topics = {"sport.", "weather."}, .ntopics = 2},
                {.topics = {""}, .ntopics = 3}};
    gz_greenlet *g[3];
    for (int i = 0; i < 3; i++) {
        s[i].s = connected(ZMQ_SUB, ep);
        for (int t = 0; t < 3 && s[i].topics[t]; t++)
            assert_int_equal(zmq_setsockopt(s[i].s, ZMQ_SUBSCRIBE, s[i].topics[t],
                                            strlen(s[i].topics[t])), 0);
        assert_int_equal(zmq_setsockopt(s[i].s, ZMQ_SUBSCRIBE, "sync", 4), 0);
        g[i] = gz_spawn(subscriber, &s[i]);
    }
    /* The slow joiner: publish "sync" until every subscriber heard one. */
    while (!(s[0].synced && s[1].synced && s[2].synced)) {
        assert_int_equal(gz_zmq_send(pub, "sync", 4, 0), 4);
        assert_int_equal(gz_sleep(0.005), 0);
    }
    for (int i = 0; i < 3 * TOPIC_MSGS; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "%s%d", TOPICS[i % 3], i);
        assert_int_equal(gz_zmq_send(pub, msg, (size_t)n, 0), n);
        if (i % 50 == 0)
            gz_yield();
    }
    for (int t = 0; t < 3; t++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "%send", TOPICS[t]);
        assert_int_equal(gz_zmq_send(pub, msg, (size_t)n, 0), n);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(s[i].err, 0);
        gz_zmq_close(s[i].s);
    }
    int want[3][3] = {{TOPIC_MSGS, 0, 0}, {0, TOPIC_MSGS, TOPIC_MSGS},
                      {TOPIC_MSGS, TOPIC_MSGS, TOPIC_MSGS}};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 3; t++)
            assert_int_equal(s[i].count[t], want[i][t]);
    gz_zmq_close(pub);
}

/* ---- poll ---- */

static void *write_pipe_later(void *arg)
{
    int fd = GZ_INT(arg);
    gz_sleep(0.01);
    (void)!write(fd, "!", 1);
    return NULL;
}

static void *send_later(void *arg)
{
    gz_sleep(0.01);
    gz_zmq_send(arg, "hi", 2, 0);
    return NULL;
}

static void poll_waits_on_sockets_and_a_pipe(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *pull = bound(ZMQ_PULL, "inproc://poll", ep, sizeof ep);
    void *push = connected(ZMQ_PUSH, ep);
    int p[2];
    assert_int_equal(pipe(p), 0);
    zmq_pollitem_t items[3] = {{.socket = pull, .events = ZMQ_POLLIN},
                               {.fd = p[0], .events = ZMQ_POLLIN},
                               {.socket = push, .events = 0}};
    /* Nothing ready: timeout 0 returns at once, a timeout expires with 0
     * while other greenlets run. */
    assert_int_equal(gz_zmq_poll(items, 3, 0), 0);
    int ticks = 0;
    gz_greenlet *counter = gz_spawn(count_up, &ticks);
    assert_int_equal(gz_zmq_poll(items, 3, 30), 0);
    assert_true(ticks > 0);
    gz_kill(counter, GZ_FOREVER);
    gz_release(counter);
    /* The pipe becomes readable. */
    gz_greenlet *w = gz_spawn(write_pipe_later, GZ_PTR(p[1]));
    assert_int_equal(gz_zmq_poll(items, 3, -1), 1);
    assert_int_equal(items[0].revents, 0);
    assert_int_equal(items[1].revents, ZMQ_POLLIN);
    assert_int_equal(finish(w), 0);
    assert_int_equal(read(p[0], buf, 1), 1);
    /* The socket becomes readable, within a finite timeout. */
    w = gz_spawn(send_later, push);
    assert_int_equal(gz_zmq_poll(items, 3, 10000), 1);
    assert_int_equal(items[0].revents, ZMQ_POLLIN);
    assert_int_equal(items[1].revents, 0);
    assert_int_equal(finish(w), 0);
    /* Both at once, plus POLLOUT on the connected PUSH. */
    assert_int_equal(write(p[1], "!", 1), 1);
    items[2].events = ZMQ_POLLOUT;
    assert_int_equal(gz_zmq_poll(items, 3, -1), 3);
    assert_int_equal(items[2].revents, ZMQ_POLLOUT);
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, 0), 2);
    /* No items: a sleep. */
    assert_int_equal(gz_zmq_poll(NULL, 0, 5), 0);
    close(p[0]);
    close(p[1]);
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

typedef struct fdpoll {
    void *s;
    int fd, rc, err;
    short sock_revents, fd_revents;
    bool started;
} fdpoll;

static void *poll_socket_and_fd(void *arg)
{
    fdpoll *c = arg;
    zmq_pollitem_t items[2] = {{.socket = c->s, .events = ZMQ_POLLIN},
                               {.fd = c->fd, .events = ZMQ_POLLIN}};
    c->started = true;
    errno = 0;
    c->rc = gz_zmq_poll(items, 2, 5000); /* only bounds a lost wakeup */
    c->err = errno;
    c->sock_revents = items[0].revents;
    c->fd_revents = items[1].revents;
    return NULL;
}

/* gz_close on a plain fd that a gz_zmq_poll waits on wakes the poll at
 * once, which reports the fd as zmq_poll reports a closed one (ZMQ_POLLERR),
 * even when the number already names a new, readable file. */
static void gz_close_wakes_a_poll_on_that_fd_with_pollerr(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://pollclose", ep, sizeof ep);
    int p[2], q[2];
    assert_int_equal(pipe(p), 0);
    fdpoll c = {.s = pull, .fd = p[0], .rc = -2};
    gz_greenlet *g = gz_spawn(poll_socket_and_fd, &c);
    while (!c.started)
        assert_int_equal(gz_sleep(0), 0);
    assert_int_equal(gz_sleep(0), 0); /* it has parked in gz_zmq_poll */
    assert_int_equal(c.rc, -2);
    assert_int_equal(gz_close(p[0]), 0);
    assert_int_equal(pipe(q), 0); /* likely p[0]'s number again */
    assert_int_equal(write(q[1], "!", 1), 1);
    assert_int_equal(finish(g), 0);
    assert_int_equal(c.rc, 1);
    assert_int_equal(c.fd_revents, ZMQ_POLLERR);
    assert_int_equal(c.sock_revents, 0);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    gz_zmq_close(pull);
}

static void many_pollers_and_readers_on_one_socket(void **state)
{
    (void)state;
    char ep[64];
    void *pull = bound(ZMQ_PULL, "inproc://manypoll", ep, sizeof ep);
    void *push = connected(ZMQ_PUSH, ep);
    call c[6];
    gz_greenlet *g[6];
    /* Three pollers: one message makes every one of them ready. */
    for (int i = 0; i < 3; i++) {
        c[i] = (call){.s = pull, .poll_ms = -1};
        g[i] = gz_spawn(poll_once, &c[i]);
    }
    gz_yield();
    assert_int_equal(gz_zmq_send(push, "m", 1, 0), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(c[i].rc, 1);
    }
    /* Three readers: that message and two more, one each. */
    for (int i = 3; i < 6; i++) {
        c[i] = (call){.s = pull};
        g[i] = gz_spawn(recv_once, &c[i]);
    }
    gz_yield();
    for (int i = 0; i < 2; i++)
        assert_int_equal(gz_zmq_send(push, "m", 1, 0), 1);
    for (int i = 3; i < 6; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(c[i].rc, 1);
    }
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

/* ---- every socket type over every transport ---- */

typedef struct pairing {
    int bound, connected; /* socket types: the first binds */
    const char *name;
} pairing;

static const pairing pairings[] = {
    {ZMQ_REP, ZMQ_REQ, "REQ/REP"},       {ZMQ_ROUTER, ZMQ_DEALER, "DEALER/ROUTER"},
    {ZMQ_PUB, ZMQ_SUB, "PUB/SUB"},       {ZMQ_XPUB, ZMQ_XSUB, "XPUB/XSUB"},
    {ZMQ_PUSH, ZMQ_PULL, "PUSH/PULL"},   {ZMQ_PAIR, ZMQ_PAIR, "PAIR"},
};

typedef struct exchange {
    void *a, *b;   /* a bound, b connected */
    int type;      /* the pairing's bound type */
    int got;       /* what the waiting side received: 1 = the right bytes */
    volatile bool done;
} exchange;

/* The side that waits first: parked in a green recv before anything is
 * sent, then answers where the pattern has an answer. */
static void *first_waiter(void *arg)
{
    exchange *x = arg;
    char buf[16] = {0}, id[256];
    int n = -1;
    switch (x->type) {
    case ZMQ_REP:
    case ZMQ_PAIR:
        n = gz_zmq_recv(x->a, buf, sizeof buf, 0);
        if (n == 4 && memcmp(buf, "ping", 4) == 0)
            n = gz_zmq_send(x->a, "pong", 4, 0);
        break;
    case ZMQ_ROUTER: {
        int idn = gz_zmq_recv(x->a, id, sizeof id, 0);
        n = gz_zmq_recv(x->a, buf, sizeof buf, 0);
        if (idn > 0 && n == 4 && memcmp(buf, "ping", 4) == 0 &&
            gz_zmq_send(x->a, id, (size_t)idn, ZMQ_SNDMORE) == idn)
            n = gz_zmq_send(x->a, "pong", 4, 0);
        break;
    }
    case ZMQ_XPUB: /* the subscription arrives as a message */
        n = gz_zmq_recv(x->a, buf, sizeof buf, 0);
        n = n == 1 && buf[0] == 1 ? 4 : -1;
        break;
    default: /* PUB, PUSH: the connected side receives */
        n = gz_zmq_recv(x->b, buf, sizeof buf, 0);
        n = n == 4 && memcmp(buf, "ping", 4) == 0 ? 4 : -1;
        break;
    }
    x->got = n == 4;
    x->done = true;
    return NULL;
}

static int exchange_once(const pairing *p, const char *transport, int i)
{
    char ep[256];
    if (strcmp(transport, "tcp") == 0)
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
    else if (strcmp(transport, "ipc") == 0)
        snprintf(ep, sizeof ep, "ipc:///tmp/gzmq-test-%d-%d", (int)getpid(), i);
    else
        snprintf(ep, sizeof ep, "inproc://pairing-%d", i);
    exchange x = {.a = sock(p->bound), .b = sock(p->connected), .type = p->bound};
    if (p->connected == ZMQ_SUB)
        zmq_setsockopt(x.b, ZMQ_SUBSCRIBE, "", 0);
    size_t len = sizeof ep;
    if (zmq_bind(x.a, ep) != 0 || zmq_getsockopt(x.a, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
        zmq_connect(x.b, ep) != 0)
        return -1;
    gz_greenlet *g = gz_spawn(first_waiter, &x);
    gz_yield(); /* it is parked in its recv now */
    int ok = 0;
    char buf[16];
    switch (p->bound) {
    case ZMQ_REP:
    case ZMQ_ROUTER:
    case ZMQ_PAIR:
        ok = gz_zmq_send(x.b, "ping", 4, 0) == 4 &&
             gz_zmq_recv(x.b, buf, sizeof buf, 0) == 4 && memcmp(buf, "pong", 4) == 0;
        break;
    case ZMQ_XPUB: {
        char sub = 1;
        ok = gz_zmq_send(x.b, &sub, 1, 0) == 1;
        break;
    }
    default: /* PUB drops until the subscription arrives: repeat */
        ok = 1;
        for (int k = 0; k < 5000 && !x.done; k++) {
            gz_zmq_send(x.a, "ping", 4, 0);
            gz_sleep(0.001);
        }
        break;
    }
    ok = ok && gz_join(g, 5.0) == 0 && x.got;
    gz_release(g);
    gz_zmq_close(x.a);
    gz_zmq_close(x.b);
    if (strncmp(ep, "ipc://", 6) == 0)
        unlink(ep + 6); /* libzmq leaves the socket file behind */
    return ok ? 0 : -1;
}

static void every_socket_type_works_over_inproc_ipc_and_tcp(void **state)
{
    (void)state;
    static const char *transports[] = {"inproc", "ipc", "tcp"};
    int i = 0, failed = 0;
    for (size_t t = 0; t < 3; t++) {
        for (size_t p = 0; p < sizeof pairings / sizeof pairings[0]; p++, i++) {
            if (exchange_once(&pairings[p], transports[t], i) != 0) {
                fprintf(stderr, "%s over %s failed\n", pairings[p].name, transports[t]);
                failed++;
            }
        }
    }
    assert_int_equal(failed, 0);
}

/* ---- a recv whose last wait was needed parks before it tries ---- */

static void *send_after_ms(void *arg)
{
    void *s = arg;
    struct timespec ms30 = {0, 30 * 1000000};
    nanosleep(&ms30, NULL);
    return GZ_PTR(zmq_send(s, "late", 4, 0));
}

/* A replies on A before each recv, as a server would: after A's first recv
 * had to wait, every recv on A parks before it tries. */
static void reply(void *a) { assert_int_equal(gz_zmq_send(a, "r", 1, 0), 1); }

static void deferred_recv_keeps_every_rule_of_recv(void **state)
{
    (void)state;
    char ep[64], buf[8];
    void *a = bound(ZMQ_PAIR, "inproc://defer", ep, sizeof ep);
    void *b = connected(ZMQ_PAIR, ep);
    call c = {.s = a};
    gz_greenlet *g = gz_spawn(recv_once, &c);
    gz_yield();
    assert_true(c.started);
    assert_int_equal(gz_zmq_send(b, "first", 5, 0), 5);
    assert_int_equal(finish(g), 0);
    assert_int_equal(c.rc, 5);
    /* Messages already queued still come, in order. */
    assert_int_equal(gz_zmq_send(b, "b", 1, 0), 1);
    assert_int_equal(gz_zmq_send(b, "c", 1, 0), 1);
    reply(a);
    assert_int_equal(gz_zmq_recv(a, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'b');
    reply(a);
    assert_int_equal(gz_zmq_recv(a, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 'c');
    /* A message sent by another thread wakes a reader that never tried. */
    pthread_t th;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&th, NULL, send_after_ms, b), 0);
        reply(a);
        assert_int_equal(gz_zmq_recv(a, buf, sizeof buf, 0), 4);
        assert_memory_equal(buf, "late", 4);
        void *rc;
        pthread_join(th, &rc);
        assert_int_equal(GZ_INT(rc), 4);
    }
    /* RCVTIMEO 0 still means: try once, EAGAIN if nothing is there. */
    set_int(a, ZMQ_RCVTIMEO, 0);
    reply(a);
    assert_fails(gz_zmq_recv(a, buf, sizeof buf, 0), EAGAIN);
    assert_int_equal(gz_zmq_send(b, "d", 1, 0), 1);
    reply(a);
    assert_int_equal(gz_zmq_recv(a, buf, sizeof buf, 0), 1);
    /* A time limit, a timeout, a kill and a close end it as before. */
    set_int(a, ZMQ_RCVTIMEO, 20);
    reply(a);
    assert_fails(gz_zmq_recv(a, buf, sizeof buf, 0), EAGAIN);
    set_int(a, ZMQ_RCVTIMEO, -1);
    gz_timeout *t = gz_timeout_start(0.02);
    reply(a);
    assert_fails(gz_zmq_recv(a, buf, sizeof buf, 0), ETIMEDOUT);
    gz_timeout_cancel(t);
    reply(a);
    c = (call){.s = a};
    g = gz_spawn(recv_once, &c);
    gz_yield();
    assert_int_equal(gz_kill(g, TEST_LIMIT), 0);
    gz_release(g);
    assert_int_equal(c.err, ECANCELED);
    reply(a);
    c = (call){.s = a};
    g = gz_spawn(recv_once, &c);
    gz_yield();
    gz_zmq_close(a);
    assert_int_equal(finish(g), 0);
    assert_int_equal(c.rc, -1);
    assert_int_equal(c.err, ENOTSOCK);
    gz_zmq_close(b);
}

/* libzmq's poll(2) calls counted, not timed: the test binary interposes
 * poll for libzmq (and libgzmq) and forwards to the real one. */
static unsigned long polls;

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    static int (*real)(struct pollfd *, nfds_t, int);
    if (!real)
        real = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
    __atomic_fetch_add(&polls, 1, __ATOMIC_RELAXED);
    return real(fds, n, timeout);
}

/* A ping-pong between two greenlets reads no ZMQ_EVENTS it can do without:
 * it costs the poll calls of one raw thread alternating both ends with
 * plain blocking calls (two per round trip), not the seven of a recv that
 * always tries first (its reader falls asleep, so every message needs an
 * activation command, then a ZMQ_EVENTS read drains it). */
static void ping_pong_costs_the_syscalls_of_raw_libzmq(void **state)
{
    (void)state;
    enum { ROUNDS = 2000 };
    char ep[64], buf[8];
    void *rep = bound(ZMQ_REP, "inproc://cost-raw", ep, sizeof ep);
    void *req = connected(ZMQ_REQ, ep);
    unsigned long before = polls;
    for (int i = 0; i < ROUNDS; i++) {
        assert_int_equal(zmq_send(req, "ping", 4, 0), 4);
        assert_int_equal(zmq_recv(rep, buf, sizeof buf, 0), 4);
        assert_int_equal(zmq_send(rep, "pong", 4, 0), 4);
        assert_int_equal(zmq_recv(req, buf, sizeof buf, 0), 4);
    }
    unsigned long raw = polls - before;
    zmq_close(req);
    zmq_close(rep);

    rep = bound(ZMQ_REP, "inproc://cost-green", ep, sizeof ep);
    req = connected(ZMQ_REQ, ep);
    gz_greenlet *srv = gz_spawn(rep_server, rep);
    before = polls;
    for (int i = 0; i < ROUNDS; i++) {
        assert_int_equal(gz_zmq_send(req, "ping", 4, 0), 4);
        assert_int_equal(gz_zmq_recv(req, buf, sizeof buf, 0), 4);
    }
    unsigned long green = polls - before;
    gz_zmq_close(rep);
    void *v = NULL;
    assert_int_equal(gz_get(srv, &v, TEST_LIMIT), 0);
    assert_int_equal(GZ_INT(v), ENOTSOCK);
    gz_release(srv);
    gz_zmq_close(req);
    print_message("poll calls for %d round trips: raw %lu, green %lu\n",
                  ROUNDS, raw, green);
    assert_true(raw >= ROUNDS); /* the interposition saw libzmq's calls */
    assert_true(green <= raw + raw / 4 + 64);
}

/* ---- sends that POLLOUT cannot promise ---- */

/* CPU seconds this thread (the hub and every greenlet) has used. */
static double thread_cpu(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A generous bound: a waiting send uses next to nothing, a retrying one
 * all of the second. */
#define IDLE_CPU 0.1

/* Send to S with ZMQ_DONTWAIT until its pipes are full: the frames sent. */
static int fill(void *s, const char *peer)
{
    int n = 0;
    for (; n < 10000; n++) {
        if (peer && gz_zmq_send(s, peer, strlen(peer), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            break;
        if (gz_zmq_send(s, "m", 1, ZMQ_DONTWAIT) < 0)
            break;
    }
    assert_int_equal(errno, EAGAIN);
    return n;
}

static void *send_m(void *arg)
{
    call *c = arg;
    c->started = true;
    errno = 0;
    c->rc = gz_zmq_send(c->s, "m", 1, 0);
    c->err = errno;
    return NULL;
}

/* An XPUB with ZMQ_XPUB_NODROP claims POLLOUT even when its subscriber's
 * pipe is full: the claim must not keep a waiting send retrying. */
static void xpub_nodrop_send_waits_without_spinning(void **state)
{
    (void)state;
    char buf[8];
    void *pub = sock(ZMQ_XPUB);
    set_int(pub, ZMQ_XPUB_NODROP, 1);
    set_int(pub, ZMQ_SNDHWM, 2);
    assert_int_equal(zmq_bind(pub, "inproc://nodrop"), 0);
    void *sub = sock(ZMQ_SUB);
    set_int(sub, ZMQ_RCVHWM, 2);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(sub, "inproc://nodrop"), 0);
    assert_int_equal(gz_zmq_recv(pub, buf, sizeof buf, 0), 1); /* subscription */
    int sent = fill(pub, NULL);
    assert_true(sent > 0);
    zmq_pollitem_t it = {.socket = pub, .events = ZMQ_POLLOUT};
    assert_int_equal(zmq_poll(&it, 1, 0), 1); /* the claim, as raw libzmq makes it */

    set_int(pub, ZMQ_SNDTIMEO, 1000);
    double cpu = thread_cpu();
    assert_fails(gz_zmq_send(pub, "m", 1, 0), EAGAIN);
    double used = thread_cpu() - cpu;
    print_message("CPU over a 1 s blocked XPUB send: %.3f s\n", used);
    assert_true(used < IDLE_CPU);

    set_int(pub, ZMQ_SNDTIMEO, -1);
    gz_timeout *t = gz_timeout_start(0.5);
    cpu = thread_cpu();
    assert_fails(gz_zmq_send(pub, "m", 1, 0), ETIMEDOUT);
    used = thread_cpu() - cpu;
    gz_timeout_cancel(t);
    assert_true(used < IDLE_CPU / 2);

    /* Two waiting senders, then the subscriber reads: both go through. */
    call c[2] = {{.s = pub, .rc = 99}, {.s = pub, .rc = 99}};
    gz_greenlet *g[2] = {gz_spawn(send_m, &c[0]), gz_spawn(send_m, &c[1])};
    assert_int_equal(gz_sleep(0.05), 0);
    assert_true(c[0].started && c[1].started);
    assert_int_equal(c[0].rc + c[1].rc, 198);
    for (int i = 0; i < sent + 2; i++)
        assert_int_equal(gz_zmq_recv(sub, buf, sizeof buf, 0), 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(finish(g[i]), 0);
        assert_int_equal(c[i].rc, 1);
    }
    gz_zmq_close(sub);
    gz_zmq_close(pub);
}

static void *send_to_slow(void *arg)
{
    call *c = arg;
    c->started = true;
    errno = 0;
    c->rc = gz_zmq_send(c->s, "slow", 4, ZMQ_SNDMORE);
    if (c->rc == 4)
        c->rc = gz_zmq_send(c->s, "m", 1, 0);
    c->err = errno;
    return NULL;
}

/* A ROUTER with ZMQ_ROUTER_MANDATORY claims POLLOUT when any peer has room:
 * a send to the full one waits without spinning, beside a reader as in a
 * server, while the other peer is served; when the full peer goes, the
 * send fails with EHOSTUNREACH. */
static void router_mandatory_send_to_a_full_peer_waits_then_fails(void **state)
{
    (void)state;
    char buf[16];
    void *router = sock(ZMQ_ROUTER);
    set_int(router, ZMQ_ROUTER_MANDATORY, 1);
    set_int(router, ZMQ_SNDHWM, 1);
    assert_int_equal(zmq_bind(router, "inproc://mandatory"), 0);
    void *slow = sock(ZMQ_DEALER), *fast = sock(ZMQ_DEALER);
    set_int(slow, ZMQ_RCVHWM, 1);
    assert_int_equal(zmq_setsockopt(slow, ZMQ_ROUTING_ID, "slow", 4), 0);
    assert_int_equal(zmq_setsockopt(fast, ZMQ_ROUTING_ID, "fast", 4), 0);
    assert_int_equal(zmq_connect(slow, "inproc://mandatory"), 0);
    assert_int_equal(zmq_connect(fast, "inproc://mandatory"), 0);
    assert_int_equal(gz_zmq_send(slow, "hi", 2, 0), 2);
    assert_int_equal(gz_zmq_send(fast, "hi", 2, 0), 2);
    for (int i = 0; i < 4; i++)
        assert_true(gz_zmq_recv(router, buf, sizeof buf, 0) > 0);
    assert_true(fill(router, "slow") > 0);

    call rd = {.s = router, .rc = 99}, wr = {.s = router, .rc = 99};
    gz_greenlet *reader = gz_spawn(recv_once, &rd);
    gz_greenlet *writer = gz_spawn(send_to_slow, &wr);
    double cpu = thread_cpu();
    assert_int_equal(gz_sleep(1.0), 0);
    double used = thread_cpu() - cpu;
    print_message("CPU over a 1 s blocked ROUTER send: %.3f s\n", used);
    assert_true(wr.started && rd.started);
    assert_int_equal(wr.rc, 99);
    assert_true(used < IDLE_CPU);

    /* The peer with room is served meanwhile. */
    assert_int_equal(gz_zmq_send(router, "fast", 4, ZMQ_SNDMORE), 4);
    assert_int_equal(gz_zmq_send(router, "to-fast", 7, 0), 7);
    assert_int_equal(gz_zmq_recv(fast, buf, sizeof buf, 0), 7);
    assert_int_equal(wr.rc, 99);

    assert_int_equal(zmq_close(slow), 0);
    assert_int_equal(finish(writer), 0);
    assert_int_equal(wr.rc, -1);
    assert_int_equal(wr.err, EHOSTUNREACH);

    assert_int_equal(gz_zmq_send(fast, "bye", 3, 0), 3);
    assert_int_equal(finish(reader), 0);
    assert_int_equal(rd.rc, 4); /* the routing id frame of "bye" */
    gz_zmq_close(fast);
    gz_zmq_close(router);
}

/* A ZMQ_ROUTER_MANDATORY router bound to WHERE, with a DEALER "slow" whose
 * pipe holds two messages (the router's SNDHWM 1 + its RCVHWM 1) and a
 * DEALER "fast" with room, both known to the router: POLLOUT's claim holds
 * while "slow" is full. */
typedef struct mandatory {
    void *router, *slow, *fast;
} mandatory;

static mandatory mandatory_router(const char *where)
{
    char buf[16];
    mandatory m = {sock(ZMQ_ROUTER), sock(ZMQ_DEALER), sock(ZMQ_DEALER)};
    set_int(m.router, ZMQ_ROUTER_MANDATORY, 1);
    set_int(m.router, ZMQ_SNDHWM, 1);
    assert_int_equal(zmq_bind(m.router, where), 0);
    set_int(m.slow, ZMQ_RCVHWM, 1);
    assert_int_equal(zmq_setsockopt(m.slow, ZMQ_ROUTING_ID, "slow", 4), 0);
    assert_int_equal(zmq_setsockopt(m.fast, ZMQ_ROUTING_ID, "fast", 4), 0);
    assert_int_equal(zmq_connect(m.slow, where), 0);
    assert_int_equal(zmq_connect(m.fast, where), 0);
    assert_int_equal(gz_zmq_send(m.slow, "hi", 2, 0), 2);
    assert_int_equal(gz_zmq_send(m.fast, "hi", 2, 0), 2);
    for (int i = 0; i < 4; i++)
        assert_true(gz_zmq_recv(m.router, buf, sizeof buf, 0) > 0);
    return m;
}

static void mandatory_close(mandatory *m)
{
    gz_zmq_close(m->slow);
    gz_zmq_close(m->fast);
    gz_zmq_close(m->router);
}

/* gz_zmq_recvv takes the frames it has no room for with plain libzmq
 * calls, and a recv may drain the socket's command mailbox (when a pipe has
 * to be woken, or on every 100th recv): a waiting send marked as having
 * tried in vain (POLLOUT lies for a ROUTER_MANDATORY) must still hear that
 * its peer has made room. */
static void recvv_holding_a_message_keeps_a_waiting_writer_s_news(void **state)
{
    (void)state;
    char buf[16];
    mandatory m = mandatory_router("inproc://held-news");
    int sent = fill(m.router, "slow");
    assert_true(sent > 0);
    call wr = {.s = m.router, .rc = 99};
    gz_greenlet *writer = gz_spawn(send_to_slow, &wr);
    /* It waits; "fast" has room, so POLLOUT's claim makes it try in vain. */
    assert_int_equal(gz_sleep(0.01), 0);
    assert_true(wr.started);
    assert_int_equal(wr.rc, 99);
    /* "slow" reads: libzmq tells the router with a command (ZMQ_FD turns
     * readable), and nothing runs the hub before the receives below. */
    for (int i = 0; i < sent; i++)
        assert_int_equal(zmq_recv(m.slow, buf, sizeof buf, ZMQ_DONTWAIT), 1);
    /* Each message from "fast" ([routing id, body] at the router) is taken
     * by a recvv with room for one frame, then handed over whole. */
    enum { MESSAGES = 60 }; /* 120 recvs: libzmq reads its mailbox meanwhile */
    for (int i = 0; i < MESSAGES; i++)
        assert_int_equal(zmq_send(m.fast, "x", 1, 0), 1);
    for (int i = 0; i < MESSAGES; i++) {
        zmq_msg_t parts[2];
        msgs_init(parts, 2);
        size_t n = 1;
        assert_fails(gz_zmq_recvv(m.router, parts, &n, 0), EMSGSIZE);
        assert_int_equal(n, 2);
        assert_int_equal(gz_zmq_recvv(m.router, parts, &n, 0), 2);
        msgs_close(parts, 2);
    }
    /* The writer must go through now ("slow" has room). */
    assert_int_equal(finish(writer), 0);
    assert_int_equal(wr.rc, 1);
    mandatory_close(&m);
}

/* A thread reads one message of "slow" per turn, after a short, varying
 * pause, while the hub looks at the router again and again: some reads
 * land between a look's test of ZMQ_FD and its read of ZMQ_EVENTS, which
 * drains the command that says "slow" has room. */
static int news_rounds;
static atomic_int news_turn, news_read;

static void *read_slow_each_turn(void *slow)
{
    char buf[16];
    unsigned seed = 4242;
    for (int i = 1; i <= news_rounds; i++) {
        int turn;
        while ((turn = atomic_load(&news_turn)) != i) {
            if (turn < 0)
                return GZ_PTR(-1); /* the test has failed */
            if (GZ_TEST_UNDER_VALGRIND())
                sched_yield(); /* its threads take turns on one core */
        }
        seed = seed * 1103515245u + 12345u;
        for (volatile unsigned spin = (seed >> 16) % 2000; spin > 0; spin--)
            ;
        if (zmq_recv(slow, buf, sizeof buf, ZMQ_DONTWAIT) != 1)
            return GZ_PTR(-1);
        atomic_store(&news_read, i);
    }
    return NULL;
}

typedef struct sends {
    void *s;
    gz_sem *each; /* released once per message sent */
    int want, err;
} sends;

static void *send_each_to_slow(void *arg)
{
    sends *c = arg;
    for (int i = 0; i < c->want; i++) {
        if (gz_zmq_send(c->s, "slow", 4, ZMQ_SNDMORE) != 4 ||
            gz_zmq_send(c->s, "m", 1, 0) != 1) {
            c->err = errno;
            return NULL;
        }
        gz_sem_release(c->each);
    }
    return NULL;
}

/* A send to "slow" waits, marked as having tried in vain (POLLOUT lies);
 * "slow" is read on another thread while the hub, busy, reads ZMQ_EVENTS
 * of the router (a zero-timeout gz_zmq_poll, with a reader parked on it):
 * each time "slow" makes room, the send must go through. */
static void room_made_by_another_thread_always_reaches_a_waiting_send(void **state)
{
    (void)state;
    mandatory m = mandatory_router("inproc://news-window");
    call rd = {.s = m.router, .rc = 99};
    gz_greenlet *reader = gz_spawn(recv_once, &rd);
    news_rounds = GZ_TEST_UNDER_VALGRIND() ? 20 : 100;
    sends wr = {.s = m.router, .each = gz_sem_new(0), .want = news_rounds + 2};
    assert_non_null(wr.each);
    gz_greenlet *writer = gz_spawn(send_each_to_slow, &wr);
    /* Its pipe to "slow" holds two messages; the third waits. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(gz_sem_acquire(wr.each, 10), 0);
    atomic_store(&news_turn, 0);
    atomic_store(&news_read, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_slow_each_turn, m.slow), 0);
    zmq_pollitem_t it = {.socket = m.router, .events = ZMQ_POLLIN};
    for (int i = 1; i <= news_rounds; i++) {
        /* A pass of the hub: the waiting send is woken by POLLOUT's
         * claim, tries in vain and is marked. */
        assert_int_equal(gz_sleep(1e-6), 0);
        atomic_store(&news_turn, i);
        while (atomic_load(&news_read) != i)
            assert_int_equal(gz_zmq_poll(&it, 1, 0), 0);
        /* A lost wakeup would leave the send waiting: 10 s names it. */
        if (gz_sem_acquire(wr.each, 10) != 0) {
            atomic_store(&news_turn, -1);
            pthread_join(t, NULL);
            fail_msg("round %d: the send never heard that \"slow\" had room", i);
        }
    }
    void *ret;
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
    assert_int_equal(finish(writer), 0);
    assert_int_equal(wr.err, 0);
    gz_sem_free(wr.each);
    assert_int_equal(zmq_send(m.fast, "bye", 3, 0), 3);
    assert_int_equal(finish(reader), 0);
    assert_int_equal(rd.rc, 4); /* the routing id frame of "bye" */
    mandatory_close(&m);
}

/* A signal with a plain handler (no SA_RESTART) that lands while libzmq
 * looks at its mailbox makes a ZMQ_DONTWAIT call fail with EINTR; a green
 * call retries it, as it never ends a parked wait either. SIGALRM every
 * 20 us; the suite's watchdog alarm() is put back afterwards. */
static void on_tick(int sig) { (void)sig; }

static void *pull_all(void *sock)
{
    char b[8];
    for (int i = 0; i < 100000; i++)
        if (gz_zmq_recv(sock, b, sizeof b, 0) != 1)
            return GZ_PTR(errno);
    return NULL;
}

static void a_signal_never_interrupts_a_green_call(void **state)
{
    (void)state;
    GZ_TEST_SKIP_UNDER_VALGRIND("valgrind delivers signals only between its translated blocks");
    void *push = zmq_socket(ctx, ZMQ_PUSH), *pull = zmq_socket(ctx, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, "inproc://eintr"), 0);
    assert_int_equal(zmq_connect(push, "inproc://eintr"), 0);
    unsigned watchdog = alarm(0);
    struct sigaction sa = {.sa_handler = on_tick}, old;
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval every = {{0, 20}, {0, 20}}, off = {{0, 0}, {0, 0}};
    assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
    gz_greenlet *reader = gz_spawn(pull_all, pull);
    int err = 0;
    for (int i = 0; i < 100000 && !err; i++)
        if (gz_zmq_send(push, "m", 1, 0) != 1)
            err = errno;
    void *v = NULL;
    int rc = gz_get(reader, &v, 30);
    setitimer(ITIMER_REAL, &off, NULL);
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    struct timespec none = {0, 0};
    while (sigtimedwait(&alrm, NULL, &none) == SIGALRM) /* one may be pending */
        ;
    sigaction(SIGALRM, &old, NULL);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    alarm(watchdog);
    assert_int_equal(err, 0);
    assert_int_equal(rc, 0);
    assert_null(v);
    gz_release(reader);
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

/* ---- a killed greenlet's last messages ---- */

static void *worker_on_parent_socket(void *push)
{
    while (gz_zmq_send(push, "tick", 4, 0) == 4 && gz_sleep(0.001) == 0)
        ;
    /* Killed: a send that cannot block still goes out. */
    return gz_zmq_send(push, "done", 4, ZMQ_DONTWAIT) == 4 ? GZ_PTR(1) : NULL;
}

typedef struct parent_report {
    int dontwait_rc, blocking_err, killall_rc, ended, bye_rc, end_err;
} parent_report;

static parent_report report;

static void *parent_with_socket(void *endpoint)
{
    void *push = connected(ZMQ_PUSH, endpoint);
    gz_greenlet *c[2] = {gz_spawn(worker_on_parent_socket, push),
                         gz_spawn(worker_on_parent_socket, push)};
    gz_sleep(10); /* killed here */
    report.dontwait_rc = gz_zmq_send(push, "x", 1, ZMQ_DONTWAIT);
    errno = 0;
    gz_zmq_send(push, "y", 1, 0);
    report.blocking_err = errno;
    /* The clean shutdown: shielded, kill the children, wait for them, say
     * goodbye with a send that may block, then close the socket. */
    gz_shield_begin();
    report.killall_rc = gz_killall(c, 2, GZ_FOREVER);
    report.ended = gz_ready(c[0]) + gz_ready(c[1]);
    report.bye_rc = gz_zmq_send(push, "BYE", 3, 0);
    zmq_close(push);
    errno = 0;
    gz_shield_end();
    report.end_err = errno;
    gz_release(c[0]);
    gz_release(c[1]);
    return NULL;
}

static void killed_parent_shuts_down_cleanly_and_says_bye(void **state)
{
    (void)state;
    char ep[256];
    void *pull = bound(ZMQ_PULL, "tcp://127.0.0.1:0", ep, sizeof ep);
    memset(&report, 0, sizeof report);
    gz_greenlet *p = gz_spawn(parent_with_socket, ep);
    char buf[16];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, 0), 4); /* running */
    assert_int_equal(gz_kill(p, GZ_FOREVER), 0);
    gz_release(p);
    assert_int_equal(report.dontwait_rc, 1);
    assert_int_equal(report.blocking_err, ECANCELED);
    assert_int_equal(report.killall_rc, 0);
    assert_int_equal(report.ended, 2);
    assert_int_equal(report.bye_rc, 3);
    assert_int_equal(report.end_err, ECANCELED);
    /* Everything arrives, the children's "done" before the parent's BYE. */
    int done = 0, x = 0;
    for (;;) {
        int n = gz_zmq_recv(pull, buf, sizeof buf, 0);
        assert_true(n > 0);
        if (n == 3 && memcmp(buf, "BYE", 3) == 0)
            break;
        done += n == 4 && memcmp(buf, "done", 4) == 0;
        x += n == 1 && buf[0] == 'x';
    }
    assert_int_equal(done, 2);
    assert_int_equal(x, 1);
    zmq_close(pull);
}


int main(void)
{
    gz_test_watchdog(240);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(dontwait_gives_eagain_at_once),
        T(rcvtimeo_and_sndtimeo_expire_with_eagain),
        T(gz_timeout_gives_etimedout),
        T(kill_gives_ecanceled),
        T(bad_arguments_fail_with_errno),
        T(req_state_errors_are_efsm),
        T(link_callbacks_may_not_block),
        T(thread_safe_sockets_are_refused),
        T(close_wakes_every_waiter_with_enotsock),
        T(context_shutdown_wakes_waiters_with_eterm),
        T(default_context_is_created_once),
        T(sendv_and_recvv_move_whole_messages),
        T(recvv_too_small_keeps_the_whole_message),
        T(sendv_and_recvv_refuse_bad_arguments),
        T(sendv_never_interleaves_frames_of_two_greenlets),
        T(eight_greenlets_share_a_pull_socket_inproc),
        T(eight_greenlets_share_a_pull_socket_tcp),
        T(dealer_sends_and_receives_in_two_greenlets),
        T(reader_wakes_when_a_writer_eats_its_edge),
        T(multipart_messages_are_never_interleaved),
        T(req_rep_round_trips_between_greenlets),
        T(forget_wakes_waiters_and_leaves_the_socket_open),
        T(a_message_s_frames_are_never_split_between_greenlets),
        T(pub_sub_delivers_by_topic_to_several_subscribers),
        T(poll_waits_on_sockets_and_a_pipe),
        T(gz_close_wakes_a_poll_on_that_fd_with_pollerr),
        T(many_pollers_and_readers_on_one_socket),
        T(every_socket_type_works_over_inproc_ipc_and_tcp),
        T(deferred_recv_keeps_every_rule_of_recv),
        T(ping_pong_costs_the_syscalls_of_raw_libzmq),
        T(xpub_nodrop_send_waits_without_spinning),
        T(router_mandatory_send_to_a_full_peer_waits_then_fails),
        T(recvv_holding_a_message_keeps_a_waiting_writer_s_news),
        T(room_made_by_another_thread_always_reaches_a_waiting_send),
        T(a_signal_never_interrupts_a_green_call),
        T(killed_parent_shuts_down_cleanly_and_says_bye),
#undef T
    };
    return cmocka_run_group_tests_name("zmq", tests, NULL, NULL);
}
