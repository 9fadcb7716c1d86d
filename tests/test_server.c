/* server.c: gz_server, gevent's StreamServer. Loopback addresses only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gz_test.h"

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* What the handlers saw, across a test. */
static struct {
    int running, most, ended, canceled;
} seen;

static void enter_handler(void)
{
    if (++seen.running > seen.most)
        seen.most = seen.running;
}

static void leave_handler(int fd, int err)
{
    seen.running--;
    seen.ended++;
    if (err == ECANCELED)
        seen.canceled++;
    close(fd);
}

/* Echo until EOF; a "stop" line stops the server from inside. */
static gz_server *current_server;

static void echo(int fd, void *arg)
{
    (void)arg;
    enter_handler();
    char buf[512];
    ssize_t n;
    int err = 0;
    while ((n = gz_read(fd, buf, sizeof buf, GZ_FOREVER)) > 0) {
        if (n == 4 && memcmp(buf, "stop", 4) == 0) {
            if (gz_server_stop(current_server, 0.05) == 0)
                gz_write(fd, "stopped", 7, 1.0);
            continue;
        }
        if (gz_write(fd, buf, (size_t)n, GZ_FOREVER) < 0)
            break;
    }
    if (n < 0)
        err = errno;
    leave_handler(fd, err);
}

static int listener(void)
{
    int l = gz_tcp_listen("127.0.0.1", 0, 0);
    assert_true(l >= 0);
    return l;
}

static void reset(void) { memset(&seen, 0, sizeof seen); }

static void bad_arguments_are_rejected(void **state)
{
    (void)state;
    assert_null(gz_server_new(-1, echo, NULL, 0));
    assert_int_equal(errno, EBADF);
    assert_null(gz_server_new(3, NULL, NULL, 0));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_server_start(NULL), EINVAL);
    assert_fails(gz_server_stop(NULL, 1.0), EINVAL);
    assert_int_equal(gz_server_connections(NULL), 0);
    gz_server_free(NULL);
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    assert_non_null(s);
    assert_int_equal(gz_server_stop(s, 1.0), 0); /* not running: at once */
    assert_int_equal(gz_server_start(s), 0);
    assert_fails(gz_server_start(s), EBUSY);
    assert_fails(gz_server_stop(s, NAN), EINVAL);
    assert_int_equal(gz_server_stop(s, 1.0), 0);
    gz_server_free(s);
    close(l);
}

typedef struct client {
    int port, rounds, ok;
} client;

static void *echo_client(void *arg)
{
    client *c = arg;
    int fd = gz_tcp_connect("127.0.0.1", c->port, 10.0);
    if (fd < 0)
        return NULL;
    char out[32], in[32];
    for (int i = 0; i < c->rounds; i++) {
        int n = snprintf(out, sizeof out, "msg %p %d", (void *)c, i);
        if (gz_write(fd, out, (size_t)n, 10.0) != n)
            break;
        ssize_t got = 0;
        while (got < n) {
            ssize_t r = gz_read(fd, in + got, (size_t)(n - got), 10.0);
            if (r <= 0)
                break;
            got += r;
        }
        if (got != n || memcmp(in, out, (size_t)n) != 0)
            break;
        c->ok++;
    }
    close(fd);
    return NULL;
}

static void many_concurrent_clients_are_served(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    assert_int_equal(gz_server_start(s), 0);
    enum { N = 300, ROUNDS = 5 };
    static client cs[N];
    gz_greenlet *gs[N];
    for (int i = 0; i < N; i++) {
        cs[i] = (client){.port = port_of(l), .rounds = ROUNDS};
        gs[i] = gz_spawn(echo_client, &cs[i]);
    }
    assert_int_equal(gz_joinall(gs, N, 30.0), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(cs[i].ok, ROUNDS);
        gz_release(gs[i]);
    }
    assert_true(seen.most > 1); /* handlers ran side by side */
    assert_int_equal(gz_server_stop(s, 10.0), 0);
    assert_int_equal(seen.ended, N);
    assert_int_equal(gz_server_connections(s), 0);
    gz_server_free(s);
    close(l);
}

static int connect_to(int l)
{
    int fd = gz_tcp_connect("127.0.0.1", port_of(l), 5.0);
    assert_true(fd >= 0);
    return fd;
}

static void ask(int fd, const char *msg, const char *want)
{
    assert_int_equal(gz_write(fd, msg, strlen(msg), 5.0), (ssize_t)strlen(msg));
    char buf[64] = {0};
    size_t got = 0;
    while (got < strlen(want)) {
        ssize_t r = gz_read(fd, buf + got, strlen(want) - got, 5.0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_string_equal(buf, want);
}

static void accepting_pauses_at_the_connection_limit(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 2);
    assert_int_equal(gz_server_start(s), 0);
    int a = connect_to(l), b = connect_to(l), c = connect_to(l);
    ask(a, "a", "a");
    ask(b, "b", "b");
    assert_int_equal(gz_server_connections(s), 2);
    /* The third connection waits in the backlog: nobody answers it. */
    assert_int_equal(gz_write(c, "c", 1, 5.0), 1);
    char buf[4];
    assert_fails(gz_read(c, buf, sizeof buf, 0.1), ETIMEDOUT);
    assert_int_equal(gz_server_connections(s), 2);
    /* A handler ends: the third is accepted and answered. */
    close(a);
    assert_int_equal(gz_read(c, buf, sizeof buf, 5.0), 1);
    assert_int_equal(buf[0], 'c');
    assert_int_equal(seen.most, 2);
    close(b);
    close(c);
    assert_int_equal(gz_server_stop(s, 5.0), 0);
    assert_int_equal(seen.ended, 3);
    assert_int_equal(seen.canceled, 0);
    gz_server_free(s);
    close(l);
}

/* Sleeps a little, says goodbye, closes. */
static void polite(int fd, void *arg)
{
    (void)arg;
    enter_handler();
    int rc = gz_sleep(0.05);
    int err = rc < 0 ? errno : 0;
    if (rc == 0)
        gz_write(fd, "bye", 3, 1.0);
    leave_handler(fd, err);
}

static void graceful_stop_waits_for_handlers(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, polite, NULL, 0);
    assert_int_equal(gz_server_start(s), 0);
    int c = connect_to(l);
    while (seen.running == 0) /* the handler has started */
        assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_server_stop(s, 10.0), 0);
    assert_int_equal(seen.ended, 1);
    assert_int_equal(seen.canceled, 0);
    char buf[4] = {0};
    assert_int_equal(gz_read(c, buf, 3, 5.0), 3);
    assert_string_equal(buf, "bye");
    close(c);
    /* Stopped and the listener closed: new connections are refused. */
    int port = port_of(l);
    close(l);
    assert_fails(gz_tcp_connect("127.0.0.1", port, 5.0), ECONNREFUSED);
    gz_server_free(s);
}

static void stop_kills_handlers_that_outlive_the_timeout(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    assert_int_equal(gz_server_start(s), 0);
    int a = connect_to(l), b = connect_to(l);
    ask(a, "x", "x");
    ask(b, "y", "y");
    assert_int_equal(gz_server_stop(s, 0.05), 0);
    assert_int_equal(seen.ended, 2);
    assert_int_equal(seen.canceled, 2);
    assert_int_equal(gz_server_connections(s), 0);
    char buf[4];
    assert_int_equal(gz_read(a, buf, sizeof buf, 5.0), 0); /* closed by the handler */
    assert_int_equal(gz_read(b, buf, sizeof buf, 5.0), 0);
    close(a);
    close(b);
    /* A stopped server starts again. */
    assert_int_equal(gz_server_start(s), 0);
    int c = connect_to(l);
    ask(c, "again", "again");
    close(c);
    assert_int_equal(gz_server_stop(s, 5.0), 0);
    gz_server_free(s);
    close(l);
}

static void a_handler_can_stop_its_own_server(void **state)
{
    (void)state;
    reset();
    int l = listener();
    current_server = gz_server_new(l, echo, NULL, 0);
    assert_int_equal(gz_server_start(current_server), 0);
    int a = connect_to(l), b = connect_to(l);
    ask(a, "a", "a");
    ask(b, "b", "b");
    /* b's handler stops the server: a's handler is waited for, then killed;
     * b's own handler goes on and answers. */
    ask(b, "stop", "stopped");
    assert_int_equal(seen.canceled, 1);
    ask(b, "still", "still");
    close(b);
    close(a);
    while (seen.ended < 2)
        assert_int_equal(gz_sleep(0.001), 0);
    assert_int_equal(gz_server_connections(current_server), 0);
    gz_server_free(current_server);
    current_server = NULL;
    close(l);
}

static void freeing_a_running_server_ends_its_greenlets(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    assert_int_equal(gz_server_start(s), 0);
    int a = connect_to(l);
    ask(a, "a", "a");
    gz_server_free(s);
    /* The handler unwinds with ECANCELED and closes its connection. */
    char buf[4];
    assert_int_equal(gz_read(a, buf, sizeof buf, 5.0), 0);
    assert_int_equal(seen.canceled, 1);
    close(a);
    assert_int_equal(gz_run(), 0); /* nothing left running */
    close(l);
}

static void *stopper(void *arg)
{
    gz_server_stop(arg, 0);
    return NULL;
}

static void handlers_killed_before_they_ran_have_their_fd_closed(void **state)
{
    (void)state;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    int c = connect_to(l); /* queued before the server accepts */
    assert_int_equal(gz_server_start(s), 0);
    /* The acceptor runs first, spawns the handler and parks; the stopper,
     * queued before that handler, kills it before it can run. */
    gz_greenlet *st = gz_spawn(stopper, s);
    assert_int_equal(gz_join(st, 5.0), 0);
    gz_release(st);
    char buf[4];
    assert_int_equal(gz_read(c, buf, sizeof buf, 5.0), 0); /* EOF: closed */
    assert_int_equal(seen.ended, 0); /* the handler never ran */
    assert_int_equal(gz_server_connections(s), 0);
    close(c);
    gz_server_free(s);
    close(l);
}

/* In a child, so that its stderr can be read: 0 when the server went on
 * serving its connection after gz_close took its listening socket, and
 * stopped at once; else the step that failed. */
static void close_listener_under_the_server(void *arg)
{
    (void)arg;
    reset();
    int l = listener();
    gz_server *s = gz_server_new(l, echo, NULL, 0);
    if (gz_server_start(s) != 0)
        _exit(2);
    int c = gz_tcp_connect("127.0.0.1", port_of(l), 5.0);
    char buf[8];
    if (c < 0 || gz_write(c, "one", 3, 5.0) != 3 || gz_read(c, buf, sizeof buf, 5.0) != 3)
        _exit(3);
    if (gz_close(l) != 0)
        _exit(4);
    if (gz_write(c, "two", 3, 5.0) != 3 || gz_read(c, buf, sizeof buf, 5.0) != 3)
        _exit(5); /* the handler is not disturbed */
    if (gz_server_connections(s) != 1)
        _exit(6);
    close(c);
    if (gz_server_stop(s, 5.0) != 0 || seen.ended != 1)
        _exit(7);
    gz_server_free(s);
    _exit(0);
}

/* gz_close on the listening socket is a way to stop accepting, not an
 * error worth a message. */
static void closing_the_listening_socket_ends_accepting_quietly(void **state)
{
    (void)state;
    char err[512];
    int status = gz_test_child(close_listener_under_the_server, NULL, err, sizeof err);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(err, "");
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_arguments_are_rejected),
        cmocka_unit_test(many_concurrent_clients_are_served),
        cmocka_unit_test(accepting_pauses_at_the_connection_limit),
        cmocka_unit_test(graceful_stop_waits_for_handlers),
        cmocka_unit_test(stop_kills_handlers_that_outlive_the_timeout),
        cmocka_unit_test(a_handler_can_stop_its_own_server),
        cmocka_unit_test(freeing_a_running_server_ends_its_greenlets),
        cmocka_unit_test(handlers_killed_before_they_ran_have_their_fd_closed),
        cmocka_unit_test(closing_the_listening_socket_ends_accepting_quietly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
