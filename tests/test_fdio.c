/* fdio.c: gz_read and gz_write on sockets, pipes and closed fds.
 * Loopback addresses only. */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/epoll.h>

#include "gz_net_test.h"

/* ---- bad arguments ---- */

static void negative_fds_are_ebadf(void **state)
{
    (void)state;
    char c;
    assert_fails(gz_read(-1, &c, 1, 1.0), EBADF);
    assert_fails(gz_write(-1, &c, 1, 1.0), EBADF);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    assert_fails(gz_read(c, NULL, 1, 1.0), EINVAL);
    assert_fails(gz_write(c, NULL, 1, 1.0), EINVAL);
    assert_fails(gz_read(c, &(char){0}, 1, NAN), EINVAL);
    /* A zero-byte read or write returns 0 at once. */
    assert_int_equal(gz_read(c, NULL, 0, 1.0), 0);
    assert_int_equal(gz_write(c, NULL, 0, 1.0), 0);
    close(c);
    close(s);
}

static void closed_fd_is_ebadf(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    char c;
    assert_fails(gz_read(fds[0], &c, 1, 1.0), EBADF);
    assert_fails(gz_write(fds[1], "x", 1, 1.0), EBADF);
    /* A number no fd can have: refused by the kernel, nothing kept for it. */
    assert_fails(gz_read(1 << 29, &c, 1, 1.0), EBADF);
    assert_fails(gz_write(1 << 29, "x", 1, 1.0), EBADF);
}

/* ---- data transfer ---- */

/* ---- data transfer ---- */

typedef struct bulk {
    int fd;
    size_t n;
    unsigned char *buf;
    ssize_t rc;
    int err;
} bulk;

static void *bulk_read(void *arg)
{
    bulk *b = arg;
    size_t got = 0;
    while (got < b->n) {
        ssize_t r = gz_read(b->fd, b->buf + got, b->n - got, 10.0);
        if (r <= 0) {
            b->rc = r;
            b->err = errno;
            return NULL;
        }
        got += (size_t)r;
    }
    b->rc = (ssize_t)got;
    return NULL;
}

static void write_sends_every_byte_of_a_large_buffer(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    size_t n = 8u << 20; /* far more than the socket buffers hold */
    unsigned char *out = malloc(n);
    bulk b = {.fd = s, .n = n, .buf = malloc(n)};
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(i * 7 + i / 251);
    gz_greenlet *r = gz_spawn(bulk_read, &b);
    assert_int_equal(gz_write(c, out, n, 10.0), (ssize_t)n);
    assert_int_equal(gz_join(r, 10.0), 0);
    assert_int_equal(b.rc, (ssize_t)n);
    assert_memory_equal(out, b.buf, n);
    gz_release(r);
    free(out);
    free(b.buf);
    close(c);
    close(s);
}

static int pipe_fds[2];

static void *pipe_writer(void *arg)
{
    (void)arg;
    gz_sleep(0.01);
    gz_write(pipe_fds[1], "pipe", 4, 1.0);
    return NULL;
}

static void blocking_pipe_read_blocks_only_the_caller(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fds), 0); /* blocking mode, left unchanged */
    gz_greenlet *w = gz_spawn(pipe_writer, NULL);
    char buf[8] = {0};
    assert_int_equal(gz_read(pipe_fds[0], buf, sizeof buf, 5.0), 4);
    assert_string_equal(buf, "pipe");
    assert_true(gz_ready(w));
    assert_false(fcntl(pipe_fds[0], F_GETFL) & O_NONBLOCK);
    gz_release(w);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

static void blocking_pipe_takes_a_large_write(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fds), 0);
    size_t n = 1u << 20;
    unsigned char *out = malloc(n);
    memset(out, 'p', n);
    bulk b = {.fd = pipe_fds[0], .n = n, .buf = malloc(n)};
    gz_greenlet *r = gz_spawn(bulk_read, &b);
    assert_int_equal(gz_write(pipe_fds[1], out, n, 10.0), (ssize_t)n);
    assert_int_equal(gz_join(r, 10.0), 0);
    assert_int_equal(b.rc, (ssize_t)n);
    assert_memory_equal(out, b.buf, n);
    gz_release(r);
    free(out);
    free(b.buf);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* ---- timeouts and kills ---- */

static void idle_read_times_out(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    char buf[4];
    assert_fails(gz_read(s, buf, sizeof buf, 0), ETIMEDOUT);
    assert_fails(gz_read(s, buf, sizeof buf, 0.02), ETIMEDOUT);
    gz_timeout *t = gz_timeout_start(0.02);
    assert_fails(gz_read(s, buf, sizeof buf, GZ_FOREVER), ETIMEDOUT);
    gz_timeout_cancel(t);
    close(c);
    close(s);
}

static void write_to_a_peer_that_does_not_read_times_out(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    size_t n = 64u << 20;
    char *big = calloc(1, n);
    assert_fails(gz_write(c, big, n, 0.05), ETIMEDOUT);
    free(big);
    close(c);
    close(s);
}

static void *blocked_reader(void *arg)
{
    int fd = GZ_INT(arg);
    char buf[4];
    if (gz_read(fd, buf, sizeof buf, GZ_FOREVER) < 0)
        return GZ_PTR(errno);
    return NULL;
}

static void killed_reader_gets_ecanceled(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    gz_greenlet *r = parked_on(blocked_reader, s);
    assert_int_equal(gz_kill(r, 1.0), 0);
    assert_int_equal(outcome_of(r), ECANCELED);
    close(c);
    close(s);
}

/* ---- gz_close under a waiter ---- */

/* A call on fd ARG that parks; its errno, or 0 if it succeeded. The 2 s
 * timeouts only bound a test that fails: gz_close ends the waits at once. */
static void *read_2s(void *arg)
{
    char buf[4];
    return GZ_PTR(gz_read(GZ_INT(arg), buf, sizeof buf, 2.0) < 0 ? errno : 0);
}

static void *write_1mib_2s(void *arg)
{
    static char big[1 << 20];
    return GZ_PTR(gz_write(GZ_INT(arg), big, sizeof big, 2.0) < 0 ? errno : 0);
}

static void close_wakes_read_and_write_with_ebadf(void **state)
{
    (void)state;
    int c, s, p[2], sp[2];
    tcp_pair("127.0.0.1", &c, &s);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    int fd[] = {s, p[0], sp[0]};
    gz_greenlet *g[] = {gz_spawn(read_2s, GZ_PTR(s)), gz_spawn(read_2s, GZ_PTR(p[0])),
                        gz_spawn(write_1mib_2s, GZ_PTR(sp[0]))};
    assert_int_equal(gz_yield(), 0); /* all park, before the loop polls their fds */
    for (int i = 0; i < 3; i++) {
        assert_false(gz_ready(g[i]));
        assert_int_equal(gz_close(fd[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gz_join(g[i], 5.0), 0);
        assert_int_equal(GZ_INT(gz_value(g[i])), EBADF);
        gz_release(g[i]);
    }
    close(c);
    close(p[1]);
    close(sp[1]);
}

static void *set_flag(void *arg)
{
    *(bool *)arg = true;
    return NULL;
}

static void *write_byte(void *arg)
{
    return GZ_PTR(gz_write(GZ_INT(arg), "x", 1, 1.0));
}

/* A socket's read-after-write memory goes with gz_close: a new socket on
 * the same number reads data already there without waiting (so without
 * letting another greenlet run first). */
static void reused_fd_number_starts_with_no_read_after_write_memory(void **state)
{
    (void)state;
    int sp[2];
    char c;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    gz_greenlet *w = gz_spawn(write_byte, GZ_PTR(sp[1]));
    assert_int_equal(gz_read(sp[0], &c, 1, 1.0), 1);   /* had to wait */
    assert_int_equal(gz_write(sp[0], "x", 1, 1.0), 1); /* then wrote */
    assert_int_equal(gz_join(w, 1.0), 0);
    gz_release(w);
    int old = sp[0];
    assert_int_equal(gz_close(sp[0]), 0);
    close(sp[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(sp[0], old);
    assert_int_equal(write(sp[1], "y", 1), 1);
    bool ran = false;
    gz_greenlet *g = gz_spawn(set_flag, &ran);
    assert_int_equal(gz_read(sp[0], &c, 1, 1.0), 1);
    assert_false(ran);
    assert_int_equal(gz_join(g, 1.0), 0);
    gz_release(g);
    close(sp[0]);
    close(sp[1]);
}

/* ---- vanished peers ---- */

static void *vanishing_reader(void *arg)
{
    int fd = GZ_INT(arg);
    char buf[65536];
    gz_read(fd, buf, sizeof buf, 5.0); /* take a little, then vanish */
    close(fd);
    return NULL;
}

static void write_to_a_peer_that_vanishes_mid_transfer_fails(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    gz_greenlet *r = gz_spawn(vanishing_reader, GZ_PTR(s));
    size_t n = 64u << 20;
    char *big = calloc(1, n);
    errno = 0;
    assert_int_equal(gz_write(c, big, n, 10.0), -1);
    assert_true(errno == EPIPE || errno == ECONNRESET);
    /* Still alive (no SIGPIPE), and later writes fail the same way. */
    errno = 0;
    assert_int_equal(gz_write(c, "x", 1, 1.0), -1);
    assert_true(errno == EPIPE || errno == ECONNRESET);
    assert_int_equal(gz_join(r, 1.0), 0);
    gz_release(r);
    free(big);
    close(c);
}

static void read_from_a_reset_connection_is_econnreset(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close sends RST */
    assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    gz_greenlet *r = gz_spawn(blocked_reader, GZ_PTR(s));
    assert_int_equal(gz_yield(), 0);
    close(c);
    assert_int_equal(gz_join(r, 5.0), 0);
    assert_int_equal(GZ_INT(gz_value(r)), ECONNRESET);
    gz_release(r);
    close(s);
}

static void write_to_a_pipe_without_reader_is_epipe(void **state)
{
    (void)state;
    /* SIGPIPE keeps its default action (death): surviving is the test. */
    signal(SIGPIPE, SIG_DFL);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_fails(gz_write(fds[1], "lost", 4, 1.0), EPIPE);
    assert_fails(gz_write(fds[1], "lost", 4, 1.0), EPIPE);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    close(fds[1]);
}

/* ---- request-response costs one recv per message ---- */

/* recv(2) calls counted, not timed: libgzmq is linked into this binary, so
 * its calls come here, and go on to the real recv. */
static unsigned long recvs;

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static ssize_t (*real)(int, void *, size_t, int);
    if (!real)
        real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    __atomic_fetch_add(&recvs, 1, __ATOMIC_RELAXED);
    return real(fd, buf, n, flags);
}

typedef struct echo {
    int fd, rounds, err;
} echo;

static void *echo_server(void *arg)
{
    echo *e = arg;
    char buf[64];
    for (int i = 0; i < e->rounds; i++) {
        ssize_t n = gz_read(e->fd, buf, sizeof buf, 5.0);
        if (n <= 0 || gz_write(e->fd, buf, (size_t)n, 5.0) != n) {
            e->err = n == 0 ? EPIPE : errno;
            return NULL;
        }
    }
    return NULL;
}

/* Once a socket's reader has had to wait, a read after a write waits for
 * readiness before it reads: an exchange between two greenlets costs one
 * recv per message, not two (one failing with EAGAIN). */
/* epoll_ctl(2) calls, counted as recv's are (libev calls it through the
 * dynamic linker, so this definition sees them). */
static unsigned long epoll_ctls;
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    if (!real)
        real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
    __atomic_fetch_add(&epoll_ctls, 1, __ATOMIC_RELAXED);
    return real(epfd, op, fd, ev);
}

/* The accepted end keeps its watcher between its waits: no epoll_ctl per
 * exchange there. The connected end (not accepted: its number is never
 * trusted) still re-registers once per exchange. */
static void accepted_socket_waits_without_an_epoll_ctl_each_time(void **state)
{
    (void)state;
    enum { ROUNDS = 500 };
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    echo e = {.fd = s, .rounds = ROUNDS};
    gz_greenlet *g = gz_spawn(echo_server, &e);
    unsigned long before = epoll_ctls;
    for (int i = 0; i < ROUNDS; i++) {
        char out[32], in[32] = "";
        int n = snprintf(out, sizeof out, "request %d", i);
        assert_int_equal(gz_write(c, out, (size_t)n, 5.0), n);
        assert_int_equal(gz_read(c, in, sizeof in, 5.0), n);
        assert_memory_equal(in, out, (size_t)n);
    }
    unsigned long used = epoll_ctls - before;
    assert_int_equal(gz_join(g, 5.0), 0);
    gz_release(g);
    assert_int_equal(e.err, 0);
    print_message("epoll_ctl calls for %d exchanges: %lu\n", ROUNDS, used);
    assert_true(used <= ROUNDS + 16); /* before: one per wait on each end */
    gz_close(c);
    gz_close(s);
}

static void request_response_costs_one_recv_per_message(void **state)
{
    (void)state;
    enum { ROUNDS = 1000 };
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    echo e = {.fd = s, .rounds = ROUNDS};
    gz_greenlet *g = gz_spawn(echo_server, &e);
    unsigned long before = recvs;
    for (int i = 0; i < ROUNDS; i++) {
        char out[32], in[32] = "";
        int n = snprintf(out, sizeof out, "request %d", i);
        assert_int_equal(gz_write(c, out, (size_t)n, 5.0), n);
        assert_int_equal(gz_read(c, in, sizeof in, 5.0), n);
        assert_memory_equal(in, out, (size_t)n);
    }
    unsigned long used = recvs - before;
    assert_int_equal(gz_join(g, 5.0), 0);
    gz_release(g);
    assert_int_equal(e.err, 0);
    print_message("recv calls for %d exchanges: %lu\n", ROUNDS, used);
    assert_true(used <= 2 * ROUNDS + 16); /* trying first: about 4 per exchange */
    close(c);
    close(s);
}

/* The read that waits first still returns what is there, honours its
 * timeout (0: try once) and sees the peer's end. */
static void read_after_write_keeps_its_semantics(void **state)
{
    (void)state;
    int c, s;
    tcp_pair("127.0.0.1", &c, &s);
    char buf[16];
    assert_fails(gz_read(s, buf, sizeof buf, 0.01), ETIMEDOUT); /* waited */
    assert_int_equal(gz_write(c, "abc", 3, 1.0), 3);
    assert_int_equal(gz_write(s, "x", 1, 1.0), 1);
    assert_int_equal(gz_read(s, buf, sizeof buf, 1.0), 3); /* already there */
    assert_int_equal(gz_write(s, "x", 1, 1.0), 1);
    assert_fails(gz_read(s, buf, sizeof buf, 0), ETIMEDOUT); /* tried once */
    assert_int_equal(gz_write(s, "x", 1, 1.0), 1);
    assert_fails(gz_read(s, buf, sizeof buf, 0.01), ETIMEDOUT);
    assert_int_equal(gz_write(s, "x", 1, 1.0), 1);
    assert_int_equal(gz_write(c, "defg", 4, 1.0), 4);
    assert_int_equal(gz_read(s, buf, sizeof buf, 0), 4);
    assert_int_equal(gz_write(s, "x", 1, 1.0), 1);
    shutdown(c, SHUT_WR);
    assert_int_equal(gz_read(s, buf, sizeof buf, 1.0), 0); /* end of stream */
    close(c);
    close(s);
}


/* ---- the kept watcher (io.c) and fds closed behind the library's back ---- */

/* Writes one byte to the fd it is given once it runs: spawned before a
 * green read, it runs when the reader has parked. */
static void *write_one_later(void *arg)
{
    assert_int_equal(gz_write(GZ_INT(arg), "x", 1, 5.0), 1);
    return NULL;
}

/* A green read on FD that must park and then get the byte PEER sends. */
static void read_after_parking(int fd, int peer)
{
    gz_greenlet *w = gz_spawn(write_one_later, GZ_PTR(peer));
    char c = 0;
    assert_int_equal(gz_read(fd, &c, 1, 5.0), 1);
    assert_int_equal(c, 'x');
    assert_int_equal(gz_join(w, 5.0), 0);
    gz_release(w);
}

/* Close NUMBER with a plain close(2), every free number below it held
 * meanwhile (up to 16 of them), and run MAKE: the first fd it creates gets
 * NUMBER, the next ones higher numbers. */
#define REUSE(number, make)                                                \
    do {                                                                   \
        int held_[16], n_ = 0;                                             \
        for (int d_; n_ < 16 && (d_ = dup(2)) >= 0;) {                     \
            if (d_ > (number)) {                                           \
                close(d_);                                                 \
                break;                                                     \
            }                                                              \
            held_[n_++] = d_;                                              \
        }                                                                  \
        close(number);                                                     \
        make;                                                              \
        while (n_ > 0)                                                     \
            close(held_[--n_]);                                            \
    } while (0)

/* A TCP pair whose accepted end, sv[0], parked once in gz_read: its kept
 * watcher now trusts the number for the caller. */
static void pair_that_waited(int sv[2])
{
    tcp_pair("127.0.0.1", &sv[1], &sv[0]);
    read_after_parking(sv[0], sv[1]);
}

static void repeated_waits_on_one_socket_keep_working(void **state)
{
    (void)state;
    int sv[2];
    pair_that_waited(sv);
    for (int i = 0; i < 50; i++) {
        read_after_parking(sv[0], sv[1]);
        read_after_parking(sv[1], sv[0]);
    }
    gz_close(sv[0]);
    gz_close(sv[1]);
}

/* The number is plain-closed and, in the same greenlet with no wait in
 * between, becomes a pipe: a new file that libev must be told about. */
static void plain_closed_socket_reused_by_a_pipe_still_wakes(void **state)
{
    (void)state;
    int sv[2], p[2];
    pair_that_waited(sv);
    int number = sv[0];
    REUSE(number, assert_int_equal(pipe(p), 0));
    assert_int_equal(p[0], number);
    read_after_parking(p[0], p[1]);
    close(p[0]);
    close(p[1]);
    close(sv[1]);
}

/* The same, the number reused by a connection gz_accept returns. */
static void plain_closed_socket_reused_by_gz_accept_still_wakes(void **state)
{
    (void)state;
    int l = gz_tcp_listen("127.0.0.1", 0, 8);
    assert_true(l >= 0);
    int c = gz_tcp_connect("127.0.0.1", port_of(l), 5.0);
    assert_true(c >= 0);
    assert_int_equal(gz_wait_read(l, 5.0), 0); /* the connection is there */
    int sv[2];
    pair_that_waited(sv);
    int number = sv[0], s = -1;
    REUSE(number, s = gz_accept(l, NULL, NULL, 5.0));
    assert_int_equal(s, number);
    read_after_parking(s, c);
    gz_close(s);
    gz_close(c);
    gz_close(l);
    close(sv[1]);
}

static void *wait_on_the_first(void *arg)
{
    int *sv = arg;
    read_after_parking(sv[0], sv[1]);
    return NULL;
}

/* Another greenlet waited on the number last; this one closes it with
 * close(2) and a new socket of its own gets the number. */
static void socket_reused_by_another_greenlet_still_wakes(void **state)
{
    (void)state;
    int sv[2], nv[2];
    tcp_pair("127.0.0.1", &sv[1], &sv[0]);
    gz_greenlet *g = gz_spawn(wait_on_the_first, sv);
    assert_int_equal(gz_join(g, 5.0), 0);
    gz_release(g);
    REUSE(sv[0], assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0));
    assert_int_equal(nv[0], sv[0]);
    read_after_parking(nv[0], nv[1]);
    close(nv[0]);
    close(nv[1]);
    close(sv[1]);
}

/* The same greenlet, but a green wait (a loop turn) between the close and
 * the reuse by a socket made outside the library. */
static void socket_reused_after_a_wait_still_wakes(void **state)
{
    (void)state;
    int sv[2], nv[2];
    pair_that_waited(sv);
    REUSE(sv[0], assert_int_equal(gz_sleep(0.001), 0);
          assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, nv), 0));
    assert_int_equal(nv[0], sv[0]);
    read_after_parking(nv[0], nv[1]);
    close(nv[0]);
    close(nv[1]);
    close(sv[1]);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negative_fds_are_ebadf),
        cmocka_unit_test(null_arguments_are_einval),
        cmocka_unit_test(closed_fd_is_ebadf),
        cmocka_unit_test(write_sends_every_byte_of_a_large_buffer),
        cmocka_unit_test(blocking_pipe_read_blocks_only_the_caller),
        cmocka_unit_test(blocking_pipe_takes_a_large_write),
        cmocka_unit_test(idle_read_times_out),
        cmocka_unit_test(write_to_a_peer_that_does_not_read_times_out),
        cmocka_unit_test(killed_reader_gets_ecanceled),
        cmocka_unit_test(close_wakes_read_and_write_with_ebadf),
        cmocka_unit_test(reused_fd_number_starts_with_no_read_after_write_memory),
        cmocka_unit_test(write_to_a_peer_that_vanishes_mid_transfer_fails),
        cmocka_unit_test(read_from_a_reset_connection_is_econnreset),
        cmocka_unit_test(write_to_a_pipe_without_reader_is_epipe),
        cmocka_unit_test(request_response_costs_one_recv_per_message),
        cmocka_unit_test(accepted_socket_waits_without_an_epoll_ctl_each_time),
        cmocka_unit_test(read_after_write_keeps_its_semantics),
        cmocka_unit_test(repeated_waits_on_one_socket_keep_working),
        cmocka_unit_test(plain_closed_socket_reused_by_a_pipe_still_wakes),
        cmocka_unit_test(plain_closed_socket_reused_by_gz_accept_still_wakes),
        cmocka_unit_test(socket_reused_by_another_greenlet_still_wakes),
        cmocka_unit_test(socket_reused_after_a_wait_still_wakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
