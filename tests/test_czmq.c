/* czmq/gz_czmq.c (libgzmq-czmq): czmq programs made green by adding gz_.
 * A ROUTER broker and 10 DEALER clients exchanging zmsg multipart messages,
 * all greenlets of one thread; a Lazy Pirate client in czmq's style against
 * a server that drops requests; frames, strings and pictures; the poller;
 * timeouts, kills and bad arguments. */
#include "gz_test.h"

#include <gzmq/czmq.h>

/* ---- a broker and ten clients, zmsg multipart ---- */

enum { CLIENTS = 10, REQUESTS = 200 };

static long ticks; /* a greenlet that only counts: the hub keeps serving */

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        ticks++;
        if (gz_sleep(0.001) != 0)
            return NULL;
    }
}

/* Echo each [identity, body...] back with "world" appended. */
static void *broker(void *router)
{
    for (;;) {
        zmsg_t *msg = gz_zmsg_recv(router);
        if (!msg)
            return (void *)(intptr_t)errno;
        zmsg_addstr(msg, "world");
        if (gz_zmsg_send(&msg, router) != 0)
            return (void *)(intptr_t)errno;
    }
}

static void *client(void *arg)
{
    zsock_t *dealer = zsock_new_dealer(">inproc://czmq-broker");
    if (!dealer)
        return (void *)1;
    intptr_t me = (intptr_t)arg, bad = 0;
    for (int i = 0; i < REQUESTS && !bad; i++) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstrf(msg, "%d", (int)me);
        zmsg_addstrf(msg, "%d", i);
        if (gz_zmsg_send(&msg, dealer) != 0 || msg) {
            bad = 2;
            break;
        }
        zmsg_t *reply = gz_zmsg_recv(dealer);
        char *who = reply ? zmsg_popstr(reply) : NULL;
        char *seq = reply ? zmsg_popstr(reply) : NULL;
        char *tail = reply ? zmsg_popstr(reply) : NULL;
        if (!reply || zmsg_size(reply) != 0 || !who || atoi(who) != me || !seq ||
            atoi(seq) != i || !tail || strcmp(tail, "world") != 0)
            bad = 3;
        zstr_free(&who);
        zstr_free(&seq);
        zstr_free(&tail);
        zmsg_destroy(&reply);
    }
    gz_zsock_destroy(&dealer);
    return (void *)bad;
}

static void a_router_broker_serves_ten_dealer_clients_in_one_thread(void **state)
{
    (void)state;
    zsock_t *router = zsock_new_router("@inproc://czmq-broker");
    assert_non_null(router);
    ticks = 0;
    gz_greenlet *t = gz_spawn(ticker, NULL), *b = gz_spawn(broker, router);
    gz_greenlet *c[CLIENTS];
    for (intptr_t i = 0; i < CLIENTS; i++)
        assert_non_null(c[i] = gz_spawn(client, (void *)i));
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(gz_join(c[i], GZ_FOREVER), 0);
        assert_null(gz_value(c[i])); /* every reply matched its request */
        gz_release(c[i]);
    }
    assert_int_equal(gz_kill(b, GZ_FOREVER), 0);
    assert_int_equal(gz_kill(t, GZ_FOREVER), 0);
    gz_release(b);
    gz_release(t);
    gz_zsock_destroy(&router);
}

/* The broker waits in gz_zmsg_recv while the ticker runs. */
static void a_waiting_receive_blocks_only_its_greenlet(void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull("@inproc://czmq-idle");
    assert_non_null(pull);
    ticks = 0;
    gz_greenlet *t = gz_spawn(ticker, NULL);
    zsock_set_rcvtimeo(pull, 50);
    errno = 0;
    assert_null(gz_zmsg_recv(pull)); /* the socket's own timeout, as czmq */
    assert_int_equal(errno, EAGAIN);
    assert_true(ticks > 0);
    gz_kill(t, GZ_FOREVER);
    gz_release(t);
    gz_zsock_destroy(&pull);
}

/* ---- Lazy Pirate, czmq style, green ---- */

/* Answers every request but each third, which it drops (as if it had
 * crashed): the client's retries must carry on. A ROUTER, so that a
 * dropped request needs no new socket. */
static void *unreliable_server(void *router)
{
    for (int n = 1;; n++) {
        zmsg_t *request = gz_zmsg_recv(router);
        if (!request)
            return NULL;
        if (n % 3 == 0) {
            zmsg_destroy(&request);
            continue;
        }
        if (gz_zmsg_send(&request, router) != 0)
            return (void *)2;
    }
}

static void a_lazy_pirate_client_ported_by_adding_gz(void **state)
{
    (void)state;
    zsock_t *server_sock = zsock_new_router("@inproc://czmq-lazy");
    assert_non_null(server_sock);
    gz_greenlet *server = gz_spawn(unreliable_server, server_sock);
    zsock_t *client = zsock_new_req(">inproc://czmq-lazy");
    assert_non_null(client);
    int answered = 0, retries = 0;
    for (int seq = 1; seq <= 12; seq++) {
        char request[16];
        snprintf(request, sizeof request, "%d", seq);
        gz_zstr_send(client, request);
        for (;;) {
            gz_zpoller_t *poller = gz_zpoller_new(client, NULL);
            assert_non_null(poller);
            void *which = gz_zpoller_wait(poller, 100);
            bool expired = gz_zpoller_expired(poller);
            gz_zpoller_destroy(&poller);
            if (which == client) {
                char *reply = gz_zstr_recv(client);
                assert_non_null(reply);
                assert_string_equal(reply, request);
                zstr_free(&reply);
                answered++;
                break;
            }
            assert_true(expired);
            retries++; /* the zguide's recipe: close, reopen, resend */
            gz_zsock_destroy(&client);
            client = zsock_new_req(">inproc://czmq-lazy");
            assert_non_null(client);
            gz_zstr_send(client, request);
        }
    }
    assert_int_equal(answered, 12);
    assert_true(retries >= 4); /* requests 3, 6, 9, 12 of the server were dropped */
    gz_zsock_destroy(&client);
    gz_kill(server, GZ_FOREVER);
    gz_release(server);
    gz_zsock_destroy(&server_sock);
}

/* ---- frames, strings, pictures ---- */

static void frames_strings_and_pictures_round_trip(void **state)
{
    (void)state;
    zsock_t *a = zsock_new_pair("@inproc://czmq-pair"), *b = zsock_new_pair(">inproc://czmq-pair");
    assert_non_null(a);
    assert_non_null(b);

    zframe_t *f = zframe_new("head", 4);
    assert_int_equal(gz_zframe_send(&f, a, ZFRAME_MORE | ZFRAME_REUSE), 0);
    assert_non_null(f); /* kept: ZFRAME_REUSE */
    assert_int_equal(gz_zframe_send(&f, a, 0), 0);
    assert_null(f);
    zframe_t *g = gz_zframe_recv(b);
    assert_non_null(g);
    assert_true(zframe_streq(g, "head"));
    assert_true(zframe_more(g));
    zframe_destroy(&g);
    g = gz_zframe_recv(b);
    assert_false(zframe_more(g));
    zframe_destroy(&g);

    assert_int_equal(gz_zstr_sendf(a, "%s-%d", "n", 42), 0);
    char *s = gz_zstr_recv(b);
    assert_string_equal(s, "n-42");
    zstr_free(&s);
    assert_int_equal(gz_zstr_send(a, NULL), 0); /* NULL sends "" */
    s = gz_zstr_recv(b);
    assert_string_equal(s, "");
    zstr_free(&s);

    byte blob[3] = {1, 2, 3};
    assert_int_equal(gz_zsock_send(a, "i48sbz", -7, 4000000000u, (uint64_t)1 << 40, "text",
                                   blob, sizeof blob),
                     0);
    int i = 0;
    uint32_t u4 = 0;
    uint64_t u8 = 0;
    char *text = NULL;
    byte *data = NULL;
    size_t size = 0;
    assert_int_equal(gz_zsock_recv(b, "i48sbz", &i, &u4, &u8, &text, &data, &size), 0);
    assert_int_equal(i, -7);
    assert_int_equal(u4, 4000000000u);
    assert_true(u8 == (uint64_t)1 << 40);
    assert_string_equal(text, "text");
    assert_int_equal(size, 3);
    assert_memory_equal(data, blob, 3);
    free(text);
    free(data);
    /* a short message: as czmq, the missing elements are NULL, and nothing
     * of the message is left over */
    char *second = (char *)"unset";
    assert_int_equal(gz_zstr_send(a, "only-one"), 0);
    assert_int_equal(gz_zsock_recv(b, "ss", &text, &second), 0);
    assert_string_equal(text, "only-one");
    assert_null(second);
    free(text);
    assert_int_equal(gz_zstr_send(a, "next"), 0);
    s = gz_zstr_recv(b);
    assert_string_equal(s, "next");
    zstr_free(&s);

    zmsg_t *empty = zmsg_new();
    assert_int_equal(gz_zmsg_send(&empty, a), 0); /* sends nothing, destroys it */
    assert_null(empty);
    gz_zsock_destroy(&a);
    gz_zsock_destroy(&b);
}

/* ---- the poller ---- */

static void the_poller_returns_the_first_ready_reader_and_says_why_not(void **state)
{
    (void)state;
    zsock_t *x = zsock_new_pair("@inproc://czmq-px"), *xs = zsock_new_pair(">inproc://czmq-px");
    zsock_t *y = zsock_new_pair("@inproc://czmq-py"), *ys = zsock_new_pair(">inproc://czmq-py");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    gz_zpoller_t *p = gz_zpoller_new(x, y, NULL);
    assert_non_null(p);
    assert_null(gz_zpoller_wait(p, 10));
    assert_true(gz_zpoller_expired(p));
    assert_false(gz_zpoller_terminated(p));
    gz_zstr_send(ys, "y");
    gz_zstr_send(xs, "x");
    assert_ptr_equal(gz_zpoller_wait(p, -1), x); /* both ready: the first added */
    char *s = gz_zstr_recv(x);
    zstr_free(&s);
    assert_ptr_equal(gz_zpoller_wait(p, 0), y);
    s = gz_zstr_recv(y);
    zstr_free(&s);
    assert_int_equal(gz_zpoller_remove(p, x), 0);
    assert_fails(gz_zpoller_remove(p, x), EINVAL);
    assert_int_equal(gz_zpoller_add(p, &fds[0]), 0); /* a file handle, as czmq takes it */
    assert_int_equal(write(fds[1], "!", 1), 1);
    assert_ptr_equal(gz_zpoller_wait(p, -1), &fds[0]);
    assert_fails(gz_zpoller_add(p, NULL), EINVAL);
    gz_zpoller_destroy(&p);
    assert_null(p);
    gz_zpoller_destroy(&p); /* twice: harmless, as czmq */
    close(fds[0]);
    close(fds[1]);
    gz_zsock_destroy(&x);
    gz_zsock_destroy(&xs);
    gz_zsock_destroy(&y);
    gz_zsock_destroy(&ys);
}

static void *waits_in_the_poller(void *sock)
{
    gz_zpoller_t *p = gz_zpoller_new(sock, NULL);
    void *r = gz_zpoller_wait(p, -1);
    int e = errno;
    bool terminated = gz_zpoller_terminated(p);
    gz_zpoller_destroy(&p);
    return (void *)(intptr_t)(r == NULL && terminated && e == ECANCELED);
}

static void *waits_in_a_receive(void *sock)
{
    char *s = gz_zstr_recv(sock);
    return (void *)(intptr_t)(s == NULL && errno == ECANCELED);
}

static void kills_end_the_waits_with_ecanceled(void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull("@inproc://czmq-kill");
    gz_greenlet *a = gz_spawn(waits_in_the_poller, pull), *b = gz_spawn(waits_in_a_receive, pull);
    gz_sleep(0.01);
    assert_int_equal(gz_kill(a, GZ_FOREVER), 0);
    assert_int_equal(gz_kill(b, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(a), (void *)1);
    assert_ptr_equal(gz_value(b), (void *)1);
    gz_release(a);
    gz_release(b);
    gz_zsock_destroy(&pull);
}

static void bad_arguments_are_reported(void **state)
{
    (void)state;
    errno = 0;
    assert_null(gz_zstr_recv(NULL));
    assert_int_equal(errno, EINVAL);
    int not_a_socket = 0;
    errno = 0;
    assert_null(gz_zmsg_recv(&not_a_socket));
    assert_int_equal(errno, ENOTSOCK);
    assert_fails(gz_zstr_send(NULL, "x"), EINVAL);
    assert_fails(gz_zmsg_send(NULL, NULL), EINVAL);
    zmsg_t *none = NULL;
    assert_fails(gz_zmsg_send(&none, NULL), EINVAL);
    zsock_t *a = zsock_new_pair("@inproc://czmq-bad");
    zframe_t *f = zframe_new("x", 1);
    assert_fails(gz_zframe_send(&f, a, 64), EINVAL); /* an unknown flag */
    assert_non_null(f);
    zframe_destroy(&f);
    assert_fails(gz_zsock_send(a, NULL), EINVAL);
    assert_fails(gz_zstr_sendf(a, NULL), EINVAL);
    assert_null(gz_zpoller_wait(NULL, 0));
    assert_fails(gz_zpoller_add(NULL, a), EINVAL);
    gz_zsock_destroy(&a);
}

int main(void)
{
    gz_test_watchdog(120);
    zsys_init();
    zsys_set_linger(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_router_broker_serves_ten_dealer_clients_in_one_thread),
        cmocka_unit_test(a_waiting_receive_blocks_only_its_greenlet),
        cmocka_unit_test(a_lazy_pirate_client_ported_by_adding_gz),
        cmocka_unit_test(frames_strings_and_pictures_round_trip),
        cmocka_unit_test(the_poller_returns_the_first_ready_reader_and_says_why_not),
        cmocka_unit_test(kills_end_the_waits_with_ecanceled),
        cmocka_unit_test(bad_arguments_are_reported),
    };
    return cmocka_run_group_tests_name("czmq", tests, NULL, NULL);
}
