/* net.c: gz_accept, gz_connect, gz_tcp_listen, gz_tcp_connect (and
 * gz_read / gz_write, fdio.c's, as the way to see a connection work).
 * Loopback addresses only. */
#include <fcntl.h>

#include "gz_net_test.h"

static bool have_ipv6(void)
{
    int l = gz_tcp_listen("::1", 0, 1);
    if (l < 0) {
        print_message("skipped: no IPv6 loopback (::1): %s\n", strerror(errno));
        return false;
    }
    close(l);
    return true;
}

/* ---- bad arguments ---- */

/* ---- bad arguments ---- */

static void negative_fds_are_ebadf(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_fails(gz_accept(-1, NULL, NULL, 1.0), EBADF);
    assert_fails(gz_connect(-1, (struct sockaddr *)&a, sizeof a, 1.0), EBADF);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    struct sockaddr_in a;
    assert_fails(gz_accept(s, (struct sockaddr *)&a, NULL, 1.0), EINVAL);
    int fresh = socket(AF_INET, SOCK_STREAM, 0);
    assert_fails(gz_connect(fresh, NULL, 0, 1.0), EINVAL);
    assert_fails(gz_tcp_connect(NULL, 80, 1.0), EINVAL);
    assert_fails(gz_tcp_connect("", 80, 1.0), EINVAL);
    assert_fails(gz_tcp_connect("127.0.0.1", 0, 1.0), EINVAL);
    assert_fails(gz_tcp_connect("127.0.0.1", 65536, 1.0), EINVAL);
    assert_fails(gz_tcp_connect("127.0.0.1", 80, NAN), EINVAL);
    assert_fails(gz_tcp_listen("127.0.0.1", -1, 1), EINVAL);
    assert_fails(gz_tcp_listen("127.0.0.1", 70000, 1), EINVAL);
    close(fresh);
    close(c);
    close(s);
}

/* ---- connections ---- */

static void roundtrip(const char *host)
{
    int c, s;
    tcp_pair(host, &c, &s);
    assert_int_equal(gz_write(c, "hello", 5, 1.0), 5);
    char buf[16] = {0};
    assert_int_equal(gz_read(s, buf, sizeof buf, 1.0), 5);
    assert_string_equal(buf, "hello");
    close(c);
    assert_int_equal(gz_read(s, buf, sizeof buf, 1.0), 0); /* EOF */
    close(s);
}

static void ipv4_loopback_roundtrip(void **state)
{
    (void)state;
    roundtrip("127.0.0.1");
}

static void ipv6_loopback_roundtrip(void **state)
{
    (void)state;
    if (have_ipv6())
        roundtrip("::1");
}

static void localhost_name_is_looked_up(void **state)
{
    (void)state;
    roundtrip("localhost");
}

static void listen_on_any_address_accepts_v4_and_v6(void **state)
{
    (void)state;
    int l = gz_tcp_listen(NULL, 0, 8);
    assert_true(l >= 0);
    int port = port_of(l);
    int c = gz_tcp_connect("127.0.0.1", port, 5.0);
    assert_true(c >= 0);
    int s = gz_accept(l, NULL, NULL, 5.0);
    assert_true(s >= 0);
    close(c);
    close(s);
    if (have_ipv6()) {
        c = gz_tcp_connect("::1", port, 5.0);
        assert_true(c >= 0);
        struct sockaddr_in6 peer;
        socklen_t len = sizeof peer;
        s = gz_accept(l, (struct sockaddr *)&peer, &len, 5.0);
        assert_true(s >= 0);
        assert_int_equal(peer.sin6_family, AF_INET6);
        close(c);
        close(s);
    }
    close(l);
}

static void second_listener_on_a_port_is_eaddrinuse(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 8);
    assert_true(l >= 0);
    assert_fails(gz_tcp_listen("127.0.0.1", port_of(l), 8), EADDRINUSE);
    close(l);
}

/* ---- timeouts and kills ---- */

static void reuseport_lets_several_sockets_listen_on_one_port(void **state)
{
    (void)state;
    int a = gz_tcp_listen_opts("127.0.0.1", 0, 8, GZ_TCP_REUSEPORT);
    assert_true(a >= 0);
    int port = port_of(a);
    int b = gz_tcp_listen_opts("127.0.0.1", port, 8, GZ_TCP_REUSEPORT);
    assert_true(b >= 0);
    assert_int_equal(port_of(b), port);
    /* Every socket on the port must ask for it. */
    assert_fails(gz_tcp_listen_opts("127.0.0.1", port, 8, 0), EADDRINUSE);
    /* Both take connections: the kernel hashes them over the two. */
    int c = gz_tcp_connect("127.0.0.1", port, 5.0);
    assert_true(c >= 0);
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    assert_int_equal(gz_poll(p, 2, 5.0), 1);
    int s = gz_accept(p[0].revents ? a : b, NULL, NULL, 1.0);
    assert_true(s >= 0);
    gz_close(s);
    gz_close(c);
    gz_close(a);
    gz_close(b);
}

static void unknown_listen_flags_are_einval(void **state)
{
    (void)state;
    assert_fails(gz_tcp_listen_opts("127.0.0.1", 0, 8, 2), EINVAL);
    assert_fails(gz_tcp_listen_opts("127.0.0.1", 0, 8, -1), EINVAL);
    assert_fails(gz_tcp_listen_opts(NULL, 70000, 8, GZ_TCP_REUSEPORT), EINVAL);
}

static void accept_times_out_without_clients(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 8);
    assert_fails(gz_accept(l, NULL, NULL, 0), ETIMEDOUT);
    assert_fails(gz_accept(l, NULL, NULL, 0.02), ETIMEDOUT);
    close(l);
}

static void connect_to_a_full_backlog_times_out(void **state)
{
    (void)state;
    /* The kernel drops SYNs once the accept queue is full, so a connect
     * stays in progress: one of these attempts must time out. */
    int l = gz_tcp_listen("127.0.0.1", 0, 1);
    int port = port_of(l);
    int fds[64], n = 0, timed_out = 0;
    while (n < 64) {
        fds[n] = gz_tcp_connect("127.0.0.1", port, 0.05);
        if (fds[n] < 0) {
            assert_int_equal(errno, ETIMEDOUT);
            timed_out = 1;
            break;
        }
        n++;
    }
    assert_true(timed_out);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(l);
}

static void *blocked_acceptor(void *arg)
{
    if (gz_accept(GZ_INT(arg), NULL, NULL, GZ_FOREVER) < 0)
        return GZ_PTR(errno);
    return NULL;
}

static void killed_acceptor_gets_ecanceled(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 8);
    gz_greenlet *a = parked_on(blocked_acceptor, l);
    assert_int_equal(gz_kill(a, 1.0), 0);
    assert_int_equal(outcome_of(a), ECANCELED);
    close(l);
}

/* ---- gz_close under a waiter ---- */

/* The 2 s timeouts only bound a test that fails: gz_close ends the waits
 * at once. */
static void *accept_2s(void *arg)
{
    return GZ_PTR(gz_accept(GZ_INT(arg), NULL, NULL, 2.0) < 0 ? errno : 0);
}

static void close_wakes_an_accept_with_ebadf(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 8);
    gz_greenlet *g = parked_on(accept_2s, l); /* before the loop polls the fd */
    assert_int_equal(gz_close(l), 0);
    assert_int_equal(outcome_of(g), EBADF);
}

typedef struct connecting {
    int fd;
    struct sockaddr_in to;
} connecting;

static void *connect_2s(void *arg)
{
    connecting *c = arg;
    int rc = gz_connect(c->fd, (const struct sockaddr *)&c->to, sizeof c->to, 2.0);
    return GZ_PTR(rc < 0 ? errno : 0);
}

static void close_wakes_a_connect_in_progress_with_ebadf(void **state)
{
    (void)state;
    /* A full accept queue makes the kernel drop SYNs: a connect stays in
     * progress (see connect_to_a_full_backlog_times_out). */
    int l = gz_tcp_listen("127.0.0.1", 0, 1);
    int fds[64], n = 0;
    while (n < 64 && (fds[n] = gz_tcp_connect("127.0.0.1", port_of(l), 0.05)) >= 0)
        n++;
    assert_true(n < 64);
    connecting c = {.fd = socket(AF_INET, SOCK_STREAM, 0),
                    .to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(l)),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
    gz_greenlet *g = gz_spawn(connect_2s, &c);
    assert_int_equal(gz_yield(), 0);
    assert_false(gz_ready(g)); /* in progress */
    assert_int_equal(gz_close(c.fd), 0);
    assert_int_equal(gz_join(g, 5.0), 0);
    assert_int_equal(GZ_INT(gz_value(g)), EBADF);
    gz_release(g);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(l);
}

/* ---- vanished peers ---- */

static void connect_to_a_closed_port_is_refused(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 1);
    int port = port_of(l);
    close(l);
    assert_fails(gz_tcp_connect("127.0.0.1", port, 5.0), ECONNREFUSED);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* blocking: made non-blocking */
    assert_fails(gz_connect(fd, (struct sockaddr *)&a, sizeof a, 5.0), ECONNREFUSED);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    close(fd);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negative_fds_are_ebadf),
        cmocka_unit_test(null_arguments_are_einval),
        cmocka_unit_test(ipv4_loopback_roundtrip),
        cmocka_unit_test(ipv6_loopback_roundtrip),
        cmocka_unit_test(localhost_name_is_looked_up),
        cmocka_unit_test(listen_on_any_address_accepts_v4_and_v6),
        cmocka_unit_test(second_listener_on_a_port_is_eaddrinuse),
        cmocka_unit_test(reuseport_lets_several_sockets_listen_on_one_port),
        cmocka_unit_test(unknown_listen_flags_are_einval),
        cmocka_unit_test(accept_times_out_without_clients),
        cmocka_unit_test(connect_to_a_full_backlog_times_out),
        cmocka_unit_test(killed_acceptor_gets_ecanceled),
        cmocka_unit_test(close_wakes_an_accept_with_ebadf),
        cmocka_unit_test(close_wakes_a_connect_in_progress_with_ebadf),
        cmocka_unit_test(connect_to_a_closed_port_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
