/* The ZeroMQ demo programs in $BUILD/bin: argument handling (--help, exit
 * status 2 with a message on bad arguments), gzmq-reqrep-server against a
 * hostile peer (a DEALER that floods requests and never reads its replies;
 * a message over --max-msg-size) spoken to by this test with raw libzmq,
 * and, through
 * demos/zmq_loopback.sh, REQ/REP server + client and the pipeline
 * (ventilator, two workers of 100 greenlets, sink; 2000 tasks of 5 ms) as
 * separate processes on loopback, checked by their summaries and exit codes.
 * Nothing here is timed but the watchdog. */
#include <regex.h>
#include <sys/wait.h>
#include <time.h>

#include "gz_test.h"

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

/* Run CMD through sh; *OUT gets stdout and stderr. Returns the exit status,
 * or -1 if it did not exit normally. */
static int run(const char *cmd, char **out)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char *buf = gz_test_read_all(p);
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const PROGRAMS[] = {"reqrep-server", "reqrep-client",
                                       "ventilator", "worker", "sink", "pub", "sub"};

static void every_program_has_help(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof PROGRAMS / sizeof *PROGRAMS; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 20 %s/bin/gzmq-%s --help",
                 build_dir(), PROGRAMS[i]);
        assert_int_equal(run(cmd, &out), 0);
        assert_non_null(out);
        assert_true(gz_test_has_line(out, "^usage: gzmq-"));
        free(out);
    }
}

static void bad_arguments_exit_2_with_a_message(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"reqrep-server", ""},                       /* missing --bind */
        {"reqrep-server", "--bind"},                 /* missing value */
        {"reqrep-server", "--bind tcp://127.0.0.1:* --frobnicate 1"},
        {"reqrep-server", "--bind nonsense"},        /* refused endpoint */
        {"reqrep-server", "--bind tcp://127.0.0.1:* --max-msg-size 0"},
        {"reqrep-server", "--bind tcp://127.0.0.1:* --max-msg-size -1"},
        {"reqrep-server", "--bind tcp://127.0.0.1:* --max-msg-size 1MB"},
        {"reqrep-server", "--bind tcp://127.0.0.1:* --max-msg-size 99999999999"},
        {"reqrep-client", "--connect tcp://127.0.0.1:1"}, /* no --requests */
        {"reqrep-client", "--connect tcp://127.0.0.1:1 --requests ten"},
        {"reqrep-client", "--connect tcp://127.0.0.1:1 --requests 5 --concurrency 0"},
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10"}, /* no --ms */
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10 --ms -1"},
        {"worker", "--pull tcp://127.0.0.1:1"},      /* no --push */
        {"worker", "--pull tcp://127.0.0.1:1 --push tcp://127.0.0.1:2 --concurrency x"},
        {"sink", "--tasks 5"},                       /* no --bind */
        {"sink", "--bind tcp://127.0.0.1:* --tasks 0"},
        {"sink", "--bind tcp://127.0.0.1:* --tasks 5 --reliable"}, /* no --ventilator */
        {"sink", "--bind tcp://127.0.0.1:* --tasks 5 --ventilator tcp://127.0.0.1:1"},
        {"worker", "--pull tcp://127.0.0.1:1 --push tcp://127.0.0.1:2 --reliable=yes"},
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10 --ms 1 --reliable 1"},
        {"pub", "--topics a"},                       /* no --bind */
        {"pub", "--bind nonsense"},
        {"pub", "--bind tcp://127.0.0.1:* --rate -1"},
        {"pub", "--bind tcp://127.0.0.1:* --count lots"},
        {"pub", "--bind tcp://127.0.0.1:* --topics a,,b"},
        {"pub", "--bind tcp://127.0.0.1:* --topics a,b,a"},
        {"pub", "--bind tcp://127.0.0.1:* --topics 'a b'"},
        {"pub", "--bind tcp://127.0.0.1:* --sync tcp://127.0.0.1:*"}, /* no --subscribers */
        {"pub", "--bind tcp://127.0.0.1:* --subscribers 3"},         /* no --sync */
        {"pub", "--bind tcp://127.0.0.1:* --sync tcp://127.0.0.1:* --subscribers 0"},
        {"sub", "--connect tcp://127.0.0.1:1"},      /* no --topic */
        {"sub", "--topic a"},                        /* no --connect */
        {"sub", "--connect nonsense --topic a"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a, --count 1"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a --concurrency 0"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a --max-lag -1"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a --rcvhwm 0"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a --delay-ms 1.5"},
        {"sub", "--connect tcp://127.0.0.1:1 --topic a --quiet=1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 20 %s/bin/gzmq-%s %s", build_dir(),
                 bad[i][0], bad[i][1]);
        int rc = run(cmd, &out);
        if (rc != 2)
            fprintf(stderr, "%s: exit %d\n%s", cmd, rc, out ? out : "");
        assert_int_equal(rc, 2);
        char want[64];
        snprintf(want, sizeof want, "^gzmq-%s: .+", bad[i][0]);
        assert_true(gz_test_has_line(out, want));
        assert_true(gz_test_has_line(out, "--help"));
        free(out);
    }
}

/* ---- gzmq-reqrep-server against hostile peers ----
 *
 * The server runs as a child with its output in a file; the peers are raw
 * libzmq sockets of this process. Every wait is bounded by REPLY_MS. */

#define REPLY_MS 20000 /* a watchdog per reply, not a timing assertion */

typedef struct server {
    pid_t pid;
    char out[64];        /* its stdout and stderr */
    char endpoint[128];  /* from its "bound to" line */
} server;

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *slurp(const char *path)
{
    return gz_test_read_file(NULL, path);
}

/* Start gzmq-reqrep-server --bind tcp://127.0.0.1:* EXTRA... (NULL-ended)
 * and wait for the endpoint it announces. */
static void start_server(server *s, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/bin/gzmq-reqrep-server", build_dir());
    const char *argv[12] = {path, "--bind", "tcp://127.0.0.1:*"};
    size_t n = 3;
    va_list ap;
    va_start(ap, s);
    while (n < 11 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    snprintf(s->out, sizeof s->out, "/tmp/gzmq-programs-XXXXXX");
    int fd = mkstemp(s->out);
    assert_true(fd >= 0);
    fflush(NULL);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fd);
    double end = seconds() + REPLY_MS / 1000.0;
    for (;;) {
        char *text = slurp(s->out);
        const char *p = strstr(text, "bound to ");
        const char *nl = p ? strchr(p, '\n') : NULL;
        if (nl) {
            snprintf(s->endpoint, sizeof s->endpoint, "%.*s", (int)(nl - p - 9), p + 9);
            free(text);
            return;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid || seconds() > end) {
            unlink(s->out);
            fail_msg("gzmq-reqrep-server did not announce its endpoint:\n%s", text);
        }
        free(text);
        usleep(20000);
    }
}

/* SIGTERM the server; its exit status (-1 if it did not exit within the
 * limit: then it is killed) and, in *OUT, what it printed. */
static int stop_server(server *s, char **out)
{
    kill(s->pid, SIGTERM);
    double end = seconds() + REPLY_MS / 1000.0;
    int st = 0;
    pid_t r;
    while ((r = waitpid(s->pid, &st, WNOHANG)) == 0 && seconds() < end)
        usleep(20000);
    if (r != s->pid) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    *out = slurp(s->out);
    unlink(s->out);
    return r == s->pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void *peer(void *ctx, int type, const char *endpoint)
{
    void *z = zmq_socket(ctx, type);
    assert_non_null(z);
    int zero = 0, ms = REPLY_MS;
    zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(z, ZMQ_RCVTIMEO, &ms, sizeof ms);
    zmq_setsockopt(z, ZMQ_SNDTIMEO, &ms, sizeof ms);
    assert_int_equal(zmq_connect(z, endpoint), 0);
    return z;
}

/* One request on each REQ socket, then every reply, checked. True if all
 * came back (false when a receive timed out). */
static bool round_trip(void **reqs, size_t n, int round)
{
    for (size_t i = 0; i < n; i++) {
        char msg[64];
        int len = snprintf(msg, sizeof msg, "client %zu request %d", i, round);
        assert_int_equal(zmq_send(reqs[i], msg, (size_t)len, 0), len);
    }
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        char want[64], got[64];
        int len = snprintf(want, sizeof want, "client %zu request %d", i, round);
        int k = zmq_recv(reqs[i], got, sizeof got, 0);
        if (k != len || memcmp(got, want, (size_t)len) != 0) {
            fprintf(stderr, "client %zu, request %d: %s\n", i, round,
                    k < 0 ? zmq_strerror(errno) : "wrong reply");
            all = false;
        }
    }
    return all;
}

/* Send up to N 1 KB requests on the never-reading DEALER F; stops early
 * only when the server has stopped reading for REPLY_MS. The count sent. */
static long flood(void *f, long n)
{
    static char kb[1024];
    long sent = 0;
    for (; sent < n; sent++)
        if (zmq_send(f, kb, sizeof kb, 0) < 0)
            break;
    return sent;
}

/* A DEALER sends 1 KB requests and never reads its replies. Five REQ
 * clients must get every reply meanwhile, and new clients once it left.
 * THREADS: NULL, or the value of --threads. */
static void serves_others_while_a_peer_never_reads(const char *threads)
{
    server s;
    if (threads)
        start_server(&s, "--threads", threads, NULL);
    else
        start_server(&s, NULL);
    void *ctx = zmq_ctx_new();
    void *f = peer(ctx, ZMQ_DEALER, s.endpoint);
    void *reqs[5];
    for (int i = 0; i < 5; i++)
        reqs[i] = peer(ctx, ZMQ_REQ, s.endpoint);
    bool served = true;
    long flooded = 0;
    for (int round = 0; round < 5 && served; round++) {
        flooded += flood(f, 10000);
        served = round_trip(reqs, 5, round);
    }
    printf("the flooder sent %ld requests; the 5 clients were %s\n", flooded,
           served ? "served" : "not served");
    zmq_close(f); /* the flooder is gone: new clients must be served */
    void *late[2] = {NULL, NULL}; /* zmq_close(NULL) fails harmlessly */
    for (int i = 0; i < 2 && served; i++)
        late[i] = peer(ctx, ZMQ_REQ, s.endpoint);
    for (int round = 0; round < 5 && served; round++)
        served = round_trip(late, 2, round);
    char *out = NULL;
    int rc = stop_server(&s, &out);
    printf("%s", out);
    assert_true(served);
    for (int i = 0; i < 5; i++)
        zmq_close(reqs[i]);
    for (int i = 0; i < 2; i++)
        zmq_close(late[i]);
    zmq_ctx_term(ctx);
    assert_int_equal(rc, 0);
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: dropped [1-9][0-9]* replies: "
                              "[0-9]+ to peers at their high-water mark, "
                              "[0-9]+ to peers gone$"));
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: served [0-9]+ requests$"));
    free(out);
}

/* A message over --max-msg-size costs the sender its connection (libzmq
 * refuses to buffer it); the server goes on serving. */
static void reqrep_server_serves_others_while_a_peer_never_reads(void **state)
{
    (void)state;
    serves_others_while_a_peer_never_reads(NULL);
}

/* The same with the echo on three hubs behind the ROUTER; SIGTERM ends
 * every hub and the counts are the front's. */
static void reqrep_server_on_three_hubs_serves_others_and_stops(void **state)
{
    (void)state;
    serves_others_while_a_peer_never_reads("3");
}

static void reqrep_server_disconnects_a_peer_over_max_msg_size(void **state)
{
    (void)state;
    server s;
    start_server(&s, "--max-msg-size", "1000", NULL);
    void *ctx = zmq_ctx_new();
    void *big = peer(ctx, ZMQ_DEALER, s.endpoint);
    assert_int_equal(zmq_socket_monitor(big, "inproc://big", ZMQ_EVENT_DISCONNECTED), 0);
    void *mon = peer(ctx, ZMQ_PAIR, "inproc://big");
    static char kb2[2000];
    assert_int_equal(zmq_send(big, kb2, sizeof kb2, 0), (int)sizeof kb2);
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    int k = zmq_msg_recv(&ev, mon, 0); /* the event frame */
    assert_true(k >= 6);
    uint16_t event;
    memcpy(&event, zmq_msg_data(&ev), sizeof event);
    assert_int_equal(event, ZMQ_EVENT_DISCONNECTED);
    zmq_msg_close(&ev);
    void *req = peer(ctx, ZMQ_REQ, s.endpoint);
    assert_true(round_trip(&req, 1, 0));
    char *out = NULL;
    int rc = stop_server(&s, &out);
    zmq_close(big);
    zmq_close(mon);
    zmq_close(req);
    zmq_ctx_term(ctx);
    assert_int_equal(rc, 0);
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: served 1 requests$"));
    free(out);
}

static void server_client_and_pipeline_run_on_loopback(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "BUILD=%s REQUESTS=2000 TASKS=2000 MS=5 LIMIT=60 sh demos/zmq_loopback.sh",
             build_dir());
    int rc = run(cmd, &out);
    assert_non_null(out);
    if (rc != 0)
        fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    assert_true(gz_test_has_line(out, "^2000 requests, 10 concurrent, [0-9]+\\.[0-9]+ s, [0-9]+ req/s$"));
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: served 2000 requests$"));
    assert_true(gz_test_has_line(out, "^gzmq-ventilator: sent 2000 tasks of 5 ms in [0-9.]+ s$"));
    assert_true(gz_test_has_line(out, "^gzmq-worker 1: did [0-9]+ tasks; gzmq-worker 2: did [0-9]+ tasks$"));
    assert_true(gz_test_has_line(out, "^gzmq-sink: 2000 tasks, each exactly once, [0-9.]+ s from first to last$"));
    printf("%s", out);
    free(out);
}

/* CURVE between the programs and pyzmq: tests/curve_check.py (keys made by
 * pyzmq; an allowed and an unknown client of gzmq-reqrep-server, from pyzmq
 * and from gzmq-reqrep-client; the pipeline under CURVE; bad options). */
static void curve_options_admit_known_keys_and_refuse_others(void **state)
{
    (void)state;
    if (!zmq_has("curve") ||
        system("/usr/bin/python3 -c 'import zmq.auth' 2>/dev/null") != 0) {
        printf("SKIPPED: needs libzmq with CURVE and python3-zmq (apt-get install python3-zmq)\n");
        skip();
    }
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "timeout 200 /usr/bin/python3 tests/curve_check.py %s",
             build_dir());
    int rc = run(cmd, &out);
    assert_non_null(out);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_true(gz_test_has_line(out, "^curve-check: [1-9][0-9]* passed, 0 failed$"));
    free(out);
}

static void servers_print_a_stats_line_every_n_seconds(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    /* SIGINT after 1.6 s: one line at 1 s, then the usual clean end. */
    snprintf(cmd, sizeof cmd,
             "timeout -s INT 1.6 %s/bin/gzmq-reqrep-server --bind 'tcp://127.0.0.1:*' "
             "--greenlets 2 --stats 1", build_dir());
    run(cmd, &out);
    assert_non_null(out);
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: stats: live 3 ready 0 parked 2 "
                                      "\\(queue 0 zmq 2 fd 0 sleep 0 join 0 sync 0 other 0\\) "
                                      "spawned 3 ended 0 .* max-poll-gap [0-9.]+ ms "
                                      "zmq sent 0 \\(0 waited\\) received 0 \\(0 waited\\) "));
    assert_true(gz_test_has_line(out, "^gzmq-reqrep-server: served 0 requests$"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s/bin/gzmq-worker --pull tcp://127.0.0.1:1 "
             "--push tcp://127.0.0.1:2 --stats -1", build_dir());
    assert_int_equal(run(cmd, &out), 2);
    free(out);
}

int main(void)
{
    gz_test_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_program_has_help),
        cmocka_unit_test(bad_arguments_exit_2_with_a_message),
        cmocka_unit_test(reqrep_server_serves_others_while_a_peer_never_reads),
        cmocka_unit_test(reqrep_server_on_three_hubs_serves_others_and_stops),
        cmocka_unit_test(reqrep_server_disconnects_a_peer_over_max_msg_size),
        cmocka_unit_test(server_client_and_pipeline_run_on_loopback),
        cmocka_unit_test(curve_options_admit_known_keys_and_refuse_others),
        cmocka_unit_test(servers_print_a_stats_line_every_n_seconds),
    };
    return cmocka_run_group_tests_name("programs", tests, NULL, NULL);
}
