/* gzmq-xmlrpc-server under abuse: many idle connections (closed by the idle
 * and request timeouts while --max-connections holds), oversized and
 * malformed requests, clients that vanish mid-response, clients that ask
 * for huge answers and never read them, and clients past the connection
 * limit. The server binary is driven over loopback; after each abuse it
 * must still answer a call.
 * XMLRPC_IDLE_CONNECTIONS (default 2000) sets the number of idle clients:
 * 10000 for the run by hand that issue 7 asks for. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "gz_test.h"

#define MAX_CONNECTIONS 500
#define REFUSALS 64 /* demos/xmlrpc-server.c: connections past the limit being answered 503 */
#define PARTIAL 100 /* of the idle clients, these send half a request header */
/* What the server may hold under the non-readers (the attack once took it to
 * 1.87 GB). A ThreadSanitizer build keeps shadow memory beside every byte
 * the server touches and a large runtime of its own: there, eight times. */
#if defined(__SANITIZE_THREAD__)
#define RSS_BOUND_KB (8 * 256 * 1024)
#else
#define RSS_BOUND_KB (256 * 1024)
#endif

static char server_bin[PATH_MAX];
static pid_t server_pid;
static int server_port;
static int server_fds; /* descriptors the server holds with no client */

static int fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int start_server(void **state)
{
    (void)state;
    char maxc[16];
    snprintf(maxc, sizeof maxc, "%d", MAX_CONNECTIONS);
    /* gen(16777216) allowed, with room for 8 of them, for the clients
     * that vanish mid-response. */
    char *argv[] = {(char *)server_bin, "--host", "127.0.0.1", "--port", "0",
                    "--max-connections", maxc, "--idle-timeout", "0.5",
                    "--request-timeout", "0.5", "--max-gen", "16777216",
                    "--max-response", "17000000", "--write-budget", "150000000", NULL};
    server_port = gz_test_start_announcing(argv, &server_pid);
    if (server_port <= 0)
        return -1;
    server_fds = fd_count(server_pid);
    return server_fds > 0 ? 0 : -1;
}

/* A server with its defaults but for the options in EXTRA (NULL-ended). */
static int start_server_with(char *const extra[])
{
    char *argv[32] = {(char *)server_bin, "--host", "127.0.0.1", "--port", "0"};
    int n = 5;
    for (int i = 0; extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    server_port = gz_test_start_announcing(argv, &server_pid);
    if (server_port <= 0)
        return -1;
    server_fds = fd_count(server_pid);
    return server_fds > 0 ? 0 : -1;
}

static int start_default_server(void **state)
{
    (void)state;
    char *none[] = {NULL};
    return start_server_with(none);
}

/* Room for three gen(16777216) answers waiting to be written. */
static int start_server_with_big_gen(void **state)
{
    (void)state;
    char *big[] = {"--max-gen", "16777216", "--max-response", "17000000",
                   "--write-budget", "60000000", NULL};
    return start_server_with(big);
}

static int start_server_for_two(void **state)
{
    (void)state;
    char *two[] = {"--max-connections", "2", NULL};
    return start_server_with(two);
}

/* The server's resident memory in KiB, from /proc. */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    assert_true(kb > 0);
    return kb;
}

static int stop_server(void **state)
{
    (void)state;
    gz_test_stop(&server_pid);
    return 0;
}

static int connect_server(bool blocking)
{
    int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    assert_true(rc == 0 || (!blocking && errno == EINPROGRESS));
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return; /* the server answered and closed early: read that */
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Read until the server closes (at most CAP - 1 bytes kept); the bytes. */
static size_t read_to_close(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0)
            break;
        size_t keep = got + (size_t)r < cap - 1 ? (size_t)r : cap - 1 - got;
        memcpy(buf + got, tmp, keep);
        got += keep;
    }
    buf[got] = 0;
    return got;
}

/* Send REQUEST on a fresh connection, then half-close; the whole answer. */
static size_t exchange(const char *request, size_t len, char *answer, size_t cap)
{
    int fd = connect_server(true);
    send_all(fd, request, len);
    shutdown(fd, SHUT_WR);
    size_t n = read_to_close(fd, answer, cap);
    close(fd);
    return n;
}

/* A keep-alive POST of BODY (NUL-terminated) into REQ; its length. */
static size_t post(const char *body, char *req, size_t cap)
{
    int n = snprintf(req, cap,
                     "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                     "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static size_t gen_request(long n, char *req, size_t cap)
{
    char body[256];
    snprintf(body, sizeof body, "<methodCall><methodName>gen</methodName><params><param>"
             "<value><int>%ld</int></value></param></params></methodCall>", n);
    return post(body, req, cap);
}

/* Give up on a read after S seconds: only bounds how a failing test ends. */
static void read_timeout(int fd, int s)
{
    struct timeval tv = {.tv_sec = s};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

/* Read one HTTP response on FD: its head and up to CAP - 1 bytes of its body
 * (the rest is left unread); the body's length as announced. */
static size_t read_response(int fd, char *head, size_t head_cap, char *body, size_t cap)
{
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        assert_true(got < head_cap - 1);
        ssize_t r = recv(fd, head + got, 1, 0); /* byte by byte: stop at the head's end */
        assert_true(r == 1);
        head[++got] = 0;
        end = got >= 4 && !memcmp(head + got - 4, "\r\n\r\n", 4) ? head + got : NULL;
    }
    const char *cl = strstr(head, "Content-Length: ");
    assert_non_null(cl);
    size_t len = strtoul(cl + 16, NULL, 10), want = len < cap - 1 ? len : cap - 1;
    for (got = 0; got < want;) {
        ssize_t r = recv(fd, body + got, want - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    body[got] = 0;
    return len;
}

/* add(A, 1) on the keep-alive connection FD: it must be answered, right. */
static void call_add(int fd, int a)
{
    char body[256], req[512], head[1024], res[1024], want[32];
    snprintf(body, sizeof body, "<methodCall><methodName>add</methodName><params>"
             "<param><value><int>%d</int></value></param>"
             "<param><value><int>1</int></value></param></params></methodCall>", a);
    size_t n = post(body, req, sizeof req);
    send_all(fd, req, n);
    read_response(fd, head, sizeof head, res, sizeof res);
    assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
    snprintf(want, sizeof want, "<int>%d</int>", a + 1);
    assert_non_null(strstr(res, want));
}

static void server_still_answers(void)
{
    static const char body[] = "<?xml version=\"1.0\"?><methodCall><methodName>add</methodName>"
                               "<params><param><value><int>40</int></value></param>"
                               "<param><value><int>2</int></value></param></params></methodCall>";
    char req[512], answer[4096];
    int n = snprintf(req, sizeof req,
                     "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof body - 1, body);
    exchange(req, (size_t)n, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(answer, "<int>42</int>"));
    assert_int_equal(waitpid(server_pid, NULL, WNOHANG), 0); /* alive */
}

/* Until the server holds no client descriptor; there is no other sign that
 * it has noticed a vanished client. The watchdog bounds the wait. */
static void wait_until_server_holds_no_client(void)
{
    while (fd_count(server_pid) > server_fds)
        usleep(10000);
}

static void idle_connections_time_out_within_the_connection_limit(void **state)
{
    (void)state;
    const char *env = getenv("XMLRPC_IDLE_CONNECTIONS");
    int n = env ? atoi(env) : 2000;
    assert_in_range(n, PARTIAL, 18000);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

    struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
    char *answered = calloc((size_t)n, 1);
    assert_non_null(pfd);
    assert_non_null(answered);
    /* The first PARTIAL send half a header: 408 after the request timeout;
     * the rest send nothing: closed after the idle timeout. */
    static const char partial[] = "POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le";
    for (int i = 0; i < n; i++) {
        pfd[i].fd = connect_server(i < PARTIAL);
        pfd[i].events = POLLIN;
        if (i < PARTIAL)
            send_all(pfd[i].fd, partial, sizeof partial - 1);
    }
    int open = n, eof = 0, refused = 0, got408 = 0, got503 = 0, most = 0;
    while (open > 0) {
        int fds = fd_count(server_pid) - server_fds;
        most = fds > most ? fds : most;
        assert_true(fds <= MAX_CONNECTIONS + REFUSALS); /* the limit, observed at every step */
        assert_true(poll(pfd, (nfds_t)n, 100) >= 0);
        for (int i = 0; i < n; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            char buf[512];
            ssize_t r = recv(pfd[i].fd, buf, sizeof buf - 1, 0);
            if (r > 0) {
                buf[r] = 0;
                answered[i] = !strncmp(buf, "HTTP/1.1 408 ", 13)   ? 1
                              : !strncmp(buf, "HTTP/1.1 503 ", 13) ? 3
                                                                   : 2;
                continue; /* the EOF follows */
            }
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r == 0)
                eof++;
            else
                refused++; /* a reset: counted, not expected below 4096 clients */
            got408 += answered[i] == 1;
            got503 += answered[i] == 3;
            /* Past the limit: 503 at once; else closed when idle. */
            assert_true(i < PARTIAL ? answered[i] == 1 : answered[i] == 0 || answered[i] == 3);
            close(pfd[i].fd);
            pfd[i].fd = -1;
            open--;
        }
    }
    printf("  %d idle clients (%d with half a header): %d closed by the server, %d reset, "
           "%d answered 408, %d answered 503; at most %d connections held (limit %d)\n",
           n, PARTIAL, eof, refused, got408, got503, most, MAX_CONNECTIONS);
    assert_int_equal(got408, PARTIAL);
    if (n <= 4096 - MAX_CONNECTIONS) /* all fit in the listen backlog */
        assert_int_equal(eof, n);
    assert_true(most > 0);
    free(pfd);
    free(answered);
    wait_until_server_holds_no_client();
    server_still_answers();
}

static void oversized_and_malformed_requests_are_refused(void **state)
{
    (void)state;
    char answer[4096];
    /* A declared body over 1 MiB: 413 before the body is read. */
    static const char big[] = "POST /RPC2 HTTP/1.1\r\nContent-Length: 2097152\r\n\r\n<methodCall>";
    exchange(big, sizeof big - 1, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 413 "));

    /* A chunked body that grows past 1 MiB, sent whole. */
    size_t cap = (3u << 20), len = 0;
    char *req = malloc(cap);
    assert_non_null(req);
    len += (size_t)sprintf(req, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (len < (1u << 20) + 100000) {
        len += (size_t)sprintf(req + len, "10000\r\n");
        memset(req + len, 'x', 0x10000);
        len += 0x10000;
        len += (size_t)sprintf(req + len, "\r\n");
    }
    exchange(req, len, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 413 "));

    /* 200 KB of headers: more than libhttp-parser takes, 400. */
    len = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");
    for (int i = 0; len < 200000; i++)
        len += (size_t)sprintf(req + len, "X-Filler-%d: %0100d\r\n", i, 0);
    len += (size_t)sprintf(req + len, "\r\n");
    exchange(req, len, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 400 "));

    /* Bytes that are not HTTP at all. */
    for (size_t i = 0; i < 4096; i++)
        req[i] = (char)(i * 37 + 11);
    exchange(req, 4096, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 400 "));

    /* Well-framed HTTP carrying broken XML: a fault, in a 200. */
    static const char badxml[] = "POST /RPC2 HTTP/1.1\r\nContent-Length: 23\r\nConnection: close\r\n"
                                 "\r\n<methodCall><methodName";
    exchange(badxml, sizeof badxml - 1, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(answer, "<int>-32700</int>"));

    /* A 64 KB URL, and an unknown method. */
    len = (size_t)sprintf(req, "GET /");
    memset(req + len, 'a', 65536);
    len += 65536;
    len += (size_t)sprintf(req + len, " HTTP/1.1\r\nConnection: close\r\n\r\n");
    exchange(req, len, answer, sizeof answer);
    assert_true(strncmp(answer, "HTTP/1.1 404 ", 13) == 0 || strncmp(answer, "HTTP/1.1 400 ", 13) == 0);
    static const char brew[] = "DELETE / HTTP/1.1\r\n\r\n";
    exchange(brew, sizeof brew - 1, answer, sizeof answer);
    assert_non_null(strstr(answer, "HTTP/1.1 405 "));
    free(req);
    wait_until_server_holds_no_client();
    server_still_answers();
}

static void clients_vanishing_mid_response_leave_it_serving(void **state)
{
    (void)state;
    /* gen(16777216): 16 MiB of answer, far more than the socket buffers. */
    static const char body[] = "<methodCall><methodName>gen</methodName><params><param>"
                               "<value><int>16777216</int></value></param></params></methodCall>";
    char req[512];
    int len = snprintf(req, sizeof req, "POST /RPC2 HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                       sizeof body - 1, body);
    for (int round = 0; round < 3; round++) {
        int fds[8];
        for (int i = 0; i < 8; i++) {
            fds[i] = connect_server(true);
            send_all(fds[i], req, (size_t)len);
        }
        for (int i = 0; i < 8; i++) {
            char some[4096];
            /* Round 0 leaves after the first bytes, round 1 before any, round 2
             * with a reset (SO_LINGER 0). */
            if (round == 0)
                assert_true(recv(fds[i], some, sizeof some, 0) > 0);
            if (round == 2) {
                struct linger l = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            close(fds[i]);
        }
        wait_until_server_holds_no_client();
        server_still_answers();
    }
}

/* The attack of issue 18: many clients ask gen(16777216) and never read,
 * while one more makes small calls. With the defaults each attacker gets a
 * small fault at once, the normal client every answer, and the memory stays
 * bounded (the old server built 16 MiB for each, past 1.8 GB). */
#define ATTACKERS 300
static void non_readers_asking_huge_gen_get_a_fault_and_others_are_served(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int normal = connect_server(true);
    read_timeout(normal, 20);
    char req[512];
    size_t len = gen_request(16777216, req, sizeof req);
    int fds[ATTACKERS];
    for (int i = 0; i < ATTACKERS; i++) {
        fds[i] = connect_server(true);
        send_all(fds[i], req, len);
        if (i % 30 == 29)
            call_add(normal, i); /* 10 calls among the attackers */
        assert_true(rss_kb(server_pid) < RSS_BOUND_KB);
    }
    char head[1024], body[1024];
    for (int i = 0; i < ATTACKERS; i += ATTACKERS - 1) { /* the first and the last */
        read_timeout(fds[i], 20);
        read_response(fds[i], head, sizeof head, body, sizeof body);
        assert_non_null(strstr(body, "<int>-32602</int>"));
        assert_non_null(strstr(body, "gen: n=16777216 exceeds the limit 1000000 (--max-gen)"));
    }
    call_add(normal, 1000);
    long kb = rss_kb(server_pid);
    printf("  %d clients asking gen(16777216) without reading: server RSS %ld KiB\n",
           ATTACKERS, kb);
    assert_true(kb < RSS_BOUND_KB);
    for (int i = 0; i < ATTACKERS; i++)
        close(fds[i]);
    close(normal);
    wait_until_server_holds_no_client();
    server_still_answers();
}

/* gen(16777216) allowed, but only three answers of that size may wait for
 * readers at once (--write-budget 60000000): the others get the busy fault
 * at once; small calls are never refused for it. */
#define BIG_ATTACKERS 40
static void the_write_budget_bounds_answers_waiting_for_slow_readers(void **state)
{
    (void)state;
    int normal = connect_server(true);
    read_timeout(normal, 20);
    char req[512];
    size_t len = gen_request(16777216, req, sizeof req);
    int fds[BIG_ATTACKERS];
    for (int i = 0; i < BIG_ATTACKERS; i++) {
        fds[i] = connect_server(true);
        send_all(fds[i], req, len);
        if (i % 4 == 3)
            call_add(normal, i); /* 10 calls among the attackers */
        assert_true(rss_kb(server_pid) < RSS_BOUND_KB);
    }
    int built = 0, busy = 0;
    for (int i = 0; i < BIG_ATTACKERS; i++) {
        char head[1024], body[1024];
        read_timeout(fds[i], 20);
        size_t n = read_response(fds[i], head, sizeof head, body, sizeof body);
        if (n > 16777216) {
            assert_non_null(strstr(body, "<string>0000"));
            built++;
        } else {
            assert_non_null(strstr(body, "<int>-32400</int>"));
            assert_non_null(strstr(body, "(--write-budget)"));
            busy++;
        }
    }
    printf("  %d clients asking gen(16777216) without reading: %d answers built, %d busy "
           "faults; server RSS %ld KiB\n", BIG_ATTACKERS, built, busy, rss_kb(server_pid));
    assert_int_equal(built, 3); /* 3 x 16 MiB fit in 60 MB, a fourth does not */
    assert_int_equal(busy, BIG_ATTACKERS - 3);
    assert_true(rss_kb(server_pid) < RSS_BOUND_KB);
    for (int i = 0; i < BIG_ATTACKERS; i++)
        close(fds[i]);
    close(normal);
    wait_until_server_holds_no_client();
    server_still_answers();
}

/* --max-connections 2: a third client is answered 503 at once and closed;
 * once one of the two leaves, a new client is served. */
static void a_client_past_the_connection_limit_is_answered_503(void **state)
{
    (void)state;
    int a = connect_server(true), b = connect_server(true);
    read_timeout(a, 20);
    read_timeout(b, 20);
    call_add(a, 1); /* both are being served */
    call_add(b, 2);
    int c = connect_server(true);
    read_timeout(c, 20); /* the old server kept it waiting in the backlog */
    char req[512], answer[4096];
    size_t n = gen_request(1, req, sizeof req);
    send_all(c, req, n);
    read_to_close(c, answer, sizeof answer);
    close(c);
    assert_true(strncmp(answer, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    assert_non_null(strstr(answer, "Connection: close\r\n"));
    call_add(a, 3); /* the two are still served */
    close(a);
    while (fd_count(server_pid) > server_fds + 1) /* until it has seen A go */
        usleep(10000);
    int d = connect_server(true);
    read_timeout(d, 20);
    call_add(d, 4);
    call_add(b, 5);
    close(b);
    close(d);
}

int main(int argc, char **argv)
{
    (void)argc;
    gz_test_watchdog(120);
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(server_bin, sizeof server_bin, "%s/../bin/gzmq-xmlrpc-server", dirname(self));
    if (access(server_bin, X_OK) != 0) {
        fprintf(stderr, "test_xmlrpc_robustness: %s is missing: build it first (make all)\n",
                server_bin);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_connections_time_out_within_the_connection_limit),
        cmocka_unit_test(oversized_and_malformed_requests_are_refused),
        cmocka_unit_test(clients_vanishing_mid_response_leave_it_serving),
    };
    const struct CMUnitTest limits[] = {
        cmocka_unit_test_setup_teardown(
            non_readers_asking_huge_gen_get_a_fault_and_others_are_served,
            start_default_server, stop_server),
        cmocka_unit_test_setup_teardown(the_write_budget_bounds_answers_waiting_for_slow_readers,
                                        start_server_with_big_gen, stop_server),
        cmocka_unit_test_setup_teardown(a_client_past_the_connection_limit_is_answered_503,
                                        start_server_for_two, stop_server),
    };
    int failed = cmocka_run_group_tests_name("xmlrpc_robustness", tests, start_server, stop_server);
    return failed + cmocka_run_group_tests_name("xmlrpc_limits", limits, NULL, NULL);
}
