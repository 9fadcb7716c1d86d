/* zmq_ctx.c: gz_zmq_ctx_term never blocks the hub (ETIMEDOUT on a context
 * that cannot end, the program goes on, waiters get ETERM), and the default
 * context is terminated at exit: what was sent last is delivered, and a
 * forgotten socket does not hang the exit.
 *
 * Each test runs under a gz_timeout (TEST_LIMIT) on main; greenlets record,
 * main asserts. */
#include <sys/wait.h>

#include <ev.h>

#include "gz_test.h"

#define TEST_LIMIT 20.0

static gz_timeout *limit;

static int setup(void **state)
{
    (void)state;
    limit = gz_timeout_start(TEST_LIMIT);
    return limit ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gz_timeout_cancel(limit);
    return 0;
}

/* A loopback TCP endpoint nobody listens on: an ephemeral port, freed.
 * zmq_close only starts closing the listener; the term waits until it is
 * gone. */
static void free_endpoint(char *ep, size_t len)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PULL);
    assert_non_null(s);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    assert_int_equal(zmq_close(s), 0);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

typedef struct ticker {
    bool stop;
    long ticks;
} ticker;

static void *tick(void *arg)
{
    ticker *t = arg;
    while (!t->stop && gz_sleep(0.001) == 0)
        t->ticks++;
    return NULL;
}

typedef struct reader {
    void *s;
    int rc, err;
} reader;

static void *read_then_close(void *arg)
{
    reader *r = arg;
    char buf[8];
    r->rc = gz_zmq_recv(r->s, buf, sizeof buf, 0);
    r->err = errno;
    gz_zmq_close(r->s);
    return NULL;
}

/* A closed PUSH with LINGER -1 holds a message for a peer that is not
 * there: zmq_ctx_term would block the thread for ever. */
static void ctx_term_times_out_while_the_hub_runs_then_completes(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    char ep[64];
    free_endpoint(ep, sizeof ep);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int forever = -1;
    assert_int_equal(zmq_setsockopt(push, ZMQ_LINGER, &forever, sizeof forever), 0);
    assert_int_equal(zmq_connect(push, ep), 0);
    assert_int_equal(gz_zmq_send(push, "late", 4, 0), 4);
    assert_int_equal(gz_zmq_close(push), 0);
    reader r = {.s = zmq_socket(ctx, ZMQ_PULL)};
    assert_int_equal(zmq_bind(r.s, "inproc://waiting"), 0);
    ticker t = {0};
    gz_greenlet *rg = gz_spawn(read_then_close, &r);
    gz_greenlet *tg = gz_spawn(tick, &t);
    assert_int_equal(gz_yield(), 0); /* the reader parks */
    assert_fails(gz_zmq_ctx_term(ctx, 0.2), ETIMEDOUT);
    assert_true(t.ticks > 0); /* the hub ran the others meanwhile */
    assert_int_equal(gz_join(rg, TEST_LIMIT), 0);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err, ETERM);
    gz_release(rg);
    /* the program goes on: the peer appears, the message leaves, and a
     * second call sees the termination through */
    void *other = zmq_ctx_new();
    void *pull = zmq_socket(other, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, ep), 0);
    assert_int_equal(gz_zmq_ctx_term(ctx, TEST_LIMIT), 0);
    char buf[8];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, 0), 4);
    assert_int_equal(gz_zmq_close(pull), 0);
    assert_int_equal(gz_zmq_ctx_term(other, TEST_LIMIT), 0);
    t.stop = true;
    assert_int_equal(gz_join(tg, TEST_LIMIT), 0);
    gz_release(tg);
}

typedef struct termer {
    void *ctx;
    int rc, err;
} termer;

static void *term_forever(void *arg)
{
    termer *t = arg;
    t->rc = gz_zmq_ctx_term(t->ctx, GZ_FOREVER);
    t->err = errno;
    return NULL;
}

/* A greenlet waiting for ever is killed: it leaves, the termination goes
 * on, and a later call sees it through. */
static void a_killed_ctx_term_leaves_and_the_termination_goes_on(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char ep[64];
    free_endpoint(ep, sizeof ep);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int forever = -1;
    assert_int_equal(zmq_setsockopt(push, ZMQ_LINGER, &forever, sizeof forever), 0);
    assert_int_equal(zmq_connect(push, ep), 0);
    assert_int_equal(gz_zmq_send(push, "late", 4, 0), 4);
    assert_int_equal(gz_zmq_close(push), 0);
    termer t = {.ctx = ctx};
    gz_greenlet *g = gz_spawn(term_forever, &t);
    assert_int_equal(gz_sleep(0.05), 0);
    assert_false(gz_ready(g)); /* still waiting */
    assert_int_equal(gz_kill(g, TEST_LIMIT), 0);
    assert_int_equal(t.rc, -1);
    assert_int_equal(t.err, ECANCELED);
    gz_release(g);
    void *other = zmq_ctx_new();
    void *pull = zmq_socket(other, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, ep), 0);
    assert_int_equal(gz_zmq_ctx_term(ctx, TEST_LIMIT), 0);
    assert_int_equal(gz_zmq_close(pull), 0);
    assert_int_equal(gz_zmq_ctx_term(other, TEST_LIMIT), 0);
}

static void ctx_term_of_a_clean_context_succeeds(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_bind(s, "inproc://clean"), 0);
    assert_int_equal(gz_zmq_close(s), 0);
    assert_int_equal(gz_zmq_ctx_term(ctx, 0.0 + TEST_LIMIT), 0);
    assert_fails(gz_zmq_ctx_term(NULL, 1.0), EFAULT);
    void *c2 = zmq_ctx_new();
    assert_fails(gz_zmq_ctx_term(c2, NAN), EINVAL);
    assert_int_equal(gz_zmq_ctx_term(c2, GZ_FOREVER), 0);
}

static void default_context_term_ends_and_clears_it(void **state)
{
    (void)state;
    void *a = gz_zmq_context();
    assert_non_null(a);
    assert_int_equal(gz_zmq_ctx_term(a, TEST_LIMIT), 0);
    void *b = gz_zmq_context(); /* a new one: the old is gone */
    assert_non_null(b);
    void *s = zmq_socket(b, ZMQ_PAIR);
    assert_non_null(s);
    assert_int_equal(gz_zmq_close(s), 0);
    /* ended too: the tests below start without a default context */
    assert_int_equal(gz_zmq_ctx_term(b, TEST_LIMIT), 0);
}

static int exiting_fd = -1;

/* Registered after the library's handler, so it runs before it. */
static void tell_parent(void)
{
    (void)!write(exiting_fd, "x", 1);
}

/* The child's part (this program run as "test_zmq_ctx child MODE EP FD"),
 * exec'd rather than forked alone: libzmq and the sanitizers want a fresh
 * process. MODE "close" / "forget": send "bye" to EP on the default context
 * from a PUSH with LINGER -1, then close the socket or forget it, and exit,
 * first writing a byte to FD (unless -1). MODE "plain-term": end the
 * default context with zmq_ctx_term, then exit. */
static int child_main(char **argv)
{
    if (strcmp(argv[2], "plain-term") == 0)
        exit(zmq_ctx_term(gz_zmq_context()) == 0 ? 0 : 2);
    void *s = zmq_socket(gz_zmq_context(), ZMQ_PUSH);
    int forever = -1;
    zmq_setsockopt(s, ZMQ_LINGER, &forever, sizeof forever);
    if (!s || zmq_connect(s, argv[3]) != 0 || zmq_send(s, "bye", 3, 0) != 3)
        return 2;
    if (strcmp(argv[2], "forget") != 0)
        zmq_close(s);
    exiting_fd = atoi(argv[4]);
    if (exiting_fd >= 0)
        atexit(tell_parent);
    exit(0); /* atexit: the default context ends */
}

static char self[4096];

/* Run child_main(MODE, EP, NOTIFY) with GZ_ZMQ_EXIT_TIMEOUT=EXIT_TIMEOUT:
 * its pid. */
static void watch_child(pid_t pid);

static pid_t child_start(const char *mode, const char *ep, const char *exit_timeout, int notify)
{
    char fd[16], env[64];
    snprintf(fd, sizeof fd, "%d", notify);
    snprintf(env, sizeof env, "GZ_ZMQ_EXIT_TIMEOUT=%s", exit_timeout);
    char *argv[] = {self, "child", (char *)mode, (char *)ep, fd, NULL};
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 2, sizeof *envp); /* ours first: it wins */
    assert_non_null(envp);
    envp[0] = env;
    memcpy(envp + 1, environ, n * sizeof *envp);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execve(self, argv, envp);
        _exit(127);
    }
    free(envp);
    watch_child(pid);
    return pid;
}

/* libev's default loop, the main hub's, reaps every child that ends while
 * it polls (its SIGCHLD watcher calls waitpid(-1)): a child that exits as
 * soon as it has sent may be gone by the time the test waits for it. An
 * ev_child watcher receives the status libev reaped; unref'd, so that it
 * keeps no loop alive. */
static ev_child reaped;
static bool reaped_seen;

static void on_reaped(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    reaped_seen = true;
    ev_ref(loop);
    ev_child_stop(loop, w);
}

static void watch_child(pid_t pid)
{
    struct ev_loop *loop = gz_loop();
    if (!ev_is_default_loop(loop))
        return;
    reaped_seen = false;
    ev_child_init(&reaped, on_reaped, pid, 0);
    ev_child_start(loop, &reaped);
    ev_unref(loop);
}

static int child_status(pid_t pid)
{
    int status = 0;
    pid_t got = waitpid(pid, &status, 0);
    if (got < 0 && errno == ECHILD && reaped_seen && reaped.rpid == pid) {
        status = reaped.rstatus; /* libev reaped it first */
    } else {
        assert_int_equal(got, pid);
        if (ev_is_active(&reaped)) {
            ev_ref(gz_loop());
            ev_child_stop(gz_loop(), &reaped);
        }
    }
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The peer appears only once the child is exiting: the message can only
 * leave during the exit. */
static void exit_delivers_what_was_sent_last(void **state)
{
    (void)state;
    char ep[64];
    free_endpoint(ep, sizeof ep);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = child_start("close", ep, "20", fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    close(fds[1]);
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, ep), 0);
    zmq_pollitem_t it = {.socket = pull, .events = ZMQ_POLLIN};
    assert_int_equal(gz_zmq_poll(&it, 1, (long)(TEST_LIMIT * 1000)), 1);
    char buf[8];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, 0), 3);
    assert_int_equal(child_status(pid), 0);
    assert_int_equal(gz_zmq_close(pull), 0);
    assert_int_equal(gz_zmq_ctx_term(ctx, TEST_LIMIT), 0);
}

/* Programs that end the default context with a plain zmq_ctx_term (as
 * they did before gz_zmq_ctx_term) get a fresh one from gz_zmq_context, and
 * the exit does not touch the old one (a crash, or a sanitizer report). */
static void plain_term_of_the_default_context_is_noticed(void **state)
{
    (void)state;
    void *a = gz_zmq_context();
    assert_non_null(a);
    assert_int_equal(zmq_ctx_term(a), 0);
    void *b = gz_zmq_context();
    assert_non_null(b);
    void *s = zmq_socket(b, ZMQ_PAIR);
    assert_non_null(s);
    assert_int_equal(gz_zmq_close(s), 0);
    assert_int_equal(gz_zmq_ctx_term(b, TEST_LIMIT), 0);
    assert_int_equal(child_status(child_start("plain-term", "-", "1", -1)), 0);
}

/* The watchdog (the suite's alarm) fails this test if the exit hangs. */
static void exit_does_not_hang_on_a_forgotten_socket(void **state)
{
    (void)state;
    char ep[64];
    free_endpoint(ep, sizeof ep);
    assert_int_equal(child_status(child_start("forget", ep, "0.1", -1)), 0);
    /* closed, lingering for ever */
    assert_int_equal(child_status(child_start("close", ep, "0.1", -1)), 0);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "child") == 0)
        return child_main(argv);
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return 1;
    self[len] = '\0';
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(ctx_term_times_out_while_the_hub_runs_then_completes),
        T(a_killed_ctx_term_leaves_and_the_termination_goes_on),
        T(ctx_term_of_a_clean_context_succeeds),
        T(default_context_term_ends_and_clears_it),
        T(exit_delivers_what_was_sent_last),
        T(exit_does_not_hang_on_a_forgotten_socket),
        T(plain_term_of_the_default_context_is_noticed),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
