/* zmq_monitor.c: connect, accept, disconnect and failed handshakes come out
 * of gz_zmq_monitor_next decoded; the monitor's socket works in gz_select;
 * timeouts and bad arguments fail with errno.
 *
 * Each test runs under a gz_timeout (TEST_LIMIT) on main. */
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

static void *bound_tcp(int type, char *ep, size_t len)
{
    void *s = sock(type);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    return s;
}

/* Events of M until one is WANT: that one, by value. Fails the test if
 * none comes. */
static gz_zmq_event await(gz_zmq_monitor_t *m, int want)
{
    gz_zmq_event ev;
    do
        assert_int_equal(gz_zmq_monitor_next(m, &ev, TEST_LIMIT), 0);
    while (ev.event != want);
    return ev;
}

static void connect_accept_and_disconnect_are_events(void **state)
{
    (void)state;
    char ep[64];
    void *server = bound_tcp(ZMQ_ROUTER, ep, sizeof ep);
    void *client = sock(ZMQ_DEALER);
    gz_zmq_monitor_t *ms = gz_zmq_monitor(ctx, server, ZMQ_EVENT_ALL);
    gz_zmq_monitor_t *mc = gz_zmq_monitor(ctx, client, ZMQ_EVENT_CONNECTED |
                                                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                     ZMQ_EVENT_DISCONNECTED);
    assert_non_null(ms);
    assert_non_null(mc);
    assert_int_equal(zmq_connect(client, ep), 0);
    gz_zmq_event ev = await(mc, ZMQ_EVENT_CONNECTED);
    assert_string_equal(ev.endpoint, ep);
    assert_true(ev.value >= 0); /* the fd */
    ev = await(mc, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_string_equal(gz_zmq_event_name(ev.event), "HANDSHAKE_SUCCEEDED");
    ev = await(ms, ZMQ_EVENT_ACCEPTED);
    assert_string_equal(ev.endpoint, ep);
    /* the server goes away: the client sees it */
    assert_int_equal(gz_zmq_close(server), 0);
    ev = await(mc, ZMQ_EVENT_DISCONNECTED);
    assert_string_equal(ev.endpoint, ep);
    ev = await(ms, ZMQ_EVENT_MONITOR_STOPPED); /* the socket closed */
    gz_zmq_monitor_close(ms);
    gz_zmq_monitor_close(mc);
    assert_int_equal(gz_zmq_close(client), 0);
}

static void curve_server(void *s, char *public_key)
{
    char secret[41];
    assert_int_equal(zmq_curve_keypair(public_key, secret), 0);
    int one = 1;
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret, 40), 0);
}

/* A CURVE client that has the wrong server key: the server cannot open its
 * HELLO, and says so (no ZAP handler is needed for that). */
static void a_curve_client_with_the_wrong_key_fails_the_handshake(void **state)
{
    (void)state;
    if (!zmq_has("curve")) {
        skip();
        return;
    }
    char ep[64], server_pub[41], wrong_pub[41], pub[41], secret[41];
    void *server = sock(ZMQ_ROUTER);
    curve_server(server, server_pub);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    gz_zmq_monitor_t *m = gz_zmq_monitor(ctx, server, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    assert_non_null(m);
    void *client = sock(ZMQ_DEALER);
    assert_int_equal(zmq_curve_keypair(wrong_pub, secret), 0); /* not the server's */
    assert_int_equal(zmq_curve_keypair(pub, secret), 0);
    assert_int_equal(zmq_setsockopt(client, ZMQ_CURVE_SERVERKEY, wrong_pub, 40), 0);
    assert_int_equal(zmq_setsockopt(client, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    assert_int_equal(zmq_setsockopt(client, ZMQ_CURVE_SECRETKEY, secret, 40), 0);
    assert_int_equal(zmq_connect(client, ep), 0);
    gz_zmq_event ev;
    assert_int_equal(gz_zmq_monitor_next(m, &ev, TEST_LIMIT), 0);
    assert_int_equal(ev.event, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_int_equal(ev.value, ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC);
    assert_string_equal(gz_zmq_event_name(ev.event), "HANDSHAKE_FAILED_PROTOCOL");
    gz_zmq_monitor_close(m);
    assert_int_equal(gz_zmq_close(client), 0);
    assert_int_equal(gz_zmq_close(server), 0);
}

/* A PLAIN client against a CURVE server: a mechanism mismatch. */
static void a_mechanism_mismatch_fails_the_handshake(void **state)
{
    (void)state;
    if (!zmq_has("curve")) {
        skip();
        return;
    }
    char ep[64], server_pub[41];
    void *server = sock(ZMQ_ROUTER);
    curve_server(server, server_pub);
    assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof ep;
    assert_int_equal(zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    gz_zmq_monitor_t *m = gz_zmq_monitor(ctx, server, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_non_null(m);
    void *client = sock(ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(client, ZMQ_PLAIN_USERNAME, "user", 4), 0);
    assert_int_equal(zmq_setsockopt(client, ZMQ_PLAIN_PASSWORD, "pass", 4), 0);
    assert_int_equal(zmq_connect(client, ep), 0);
    gz_zmq_event ev = await(m, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_int_equal(ev.value, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
    gz_zmq_monitor_close(m);
    assert_int_equal(gz_zmq_close(client), 0);
    assert_int_equal(gz_zmq_close(server), 0);
}

static void the_monitor_socket_works_in_gz_select(void **state)
{
    (void)state;
    char ep[64];
    void *server = bound_tcp(ZMQ_PULL, ep, sizeof ep);
    gz_zmq_monitor_t *m = gz_zmq_monitor(ctx, server, ZMQ_EVENT_ACCEPTED);
    assert_non_null(m);
    gz_queue *q = gz_queue_new(1);
    gz_case c[2] = {{.op = GZ_GET, .obj = q},
                    {.op = GZ_ZMQ_IN, .obj = gz_zmq_monitor_socket(m)}};
    assert_int_equal(gz_select(c, 2, 0.05), -1); /* nothing yet */
    void *client = sock(ZMQ_PUSH);
    assert_int_equal(zmq_connect(client, ep), 0);
    assert_int_equal(gz_select(c, 2, TEST_LIMIT), 1);
    gz_zmq_event ev;
    assert_int_equal(gz_zmq_monitor_next(m, &ev, 0), 0);
    assert_int_equal(ev.event, ZMQ_EVENT_ACCEPTED);
    gz_queue_free(q);
    gz_zmq_monitor_close(m);
    assert_int_equal(gz_zmq_close(client), 0);
    assert_int_equal(gz_zmq_close(server), 0);
}

static void timeouts_and_bad_arguments_fail_with_errno(void **state)
{
    (void)state;
    void *s = sock(ZMQ_PAIR);
    gz_zmq_monitor_t *m = gz_zmq_monitor(ctx, s, ZMQ_EVENT_ALL);
    assert_non_null(m);
    gz_zmq_event ev;
    assert_fails(gz_zmq_monitor_next(m, &ev, 0), ETIMEDOUT);
    assert_fails(gz_zmq_monitor_next(m, &ev, 0.02), ETIMEDOUT);
    assert_fails(gz_zmq_monitor_next(NULL, &ev, 0), EINVAL);
    assert_fails(gz_zmq_monitor_next(m, NULL, 0), EINVAL);
    assert_fails(gz_zmq_monitor_next(m, &ev, NAN), EINVAL);
    errno = 0;
    assert_null(gz_zmq_monitor_socket(NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(gz_zmq_monitor(ctx, NULL, ZMQ_EVENT_ALL));
    assert_int_equal(errno, ENOTSOCK);
    assert_null(gz_zmq_monitor(ctx, ctx, ZMQ_EVENT_ALL)); /* not a socket */
    assert_int_equal(errno, ENOTSOCK);
    gz_zmq_monitor_close(NULL);
    gz_zmq_monitor_close(m);
    assert_string_equal(gz_zmq_event_name(ZMQ_EVENT_CONNECTED), "CONNECTED");
    assert_string_equal(gz_zmq_event_name(ZMQ_EVENT_DISCONNECTED), "DISCONNECTED");
    assert_string_equal(gz_zmq_event_name(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
                        "HANDSHAKE_FAILED_AUTH");
    assert_string_equal(gz_zmq_event_name(0x12345), "UNKNOWN");
    assert_int_equal(gz_zmq_close(s), 0);
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(connect_accept_and_disconnect_are_events),
        T(a_curve_client_with_the_wrong_key_fails_the_handshake),
        T(a_mechanism_mismatch_fails_the_handshake),
        T(the_monitor_socket_works_in_gz_select),
        T(timeouts_and_bad_arguments_fail_with_errno),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
