/* gzmq-rpc-bench: the load generator of the seed article's benchmark. C
 * greenlets are the clients, each with its own connection; together they
 * send N XML-RPC requests and the program prints requests/s, latency
 * percentiles and errors.
 *
 *   gzmq-rpc-bench --host H --port P --concurrency C --requests N
 *                  [--method add|gen|get] [--gen-size BYTES]
 *                  [--keepalive|--no-keepalive] [--timeout S] [--threads T]
 *
 * --method get sends plain `GET /` (as wrk does). Responses are parsed with
 * libhttp-parser; an answer that is not 200 or lacks the expected result
 * counts as an error. A server that closes after each answer (HTTP/1.0, as
 * Python's SimpleXMLRPCServer) gets a new connection per request.
 * --threads T spreads the clients over T hubs (gz_run_threads), so that one
 * core is not what limits the load: the counters below are shared atomics,
 * the read buffer is per thread. */
#include <getopt.h>
#include <http_parser.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <gzmq.h>

static const char *host = "127.0.0.1";
static int port = -1;
static long concurrency = 0, requests = 0, gen_size = 2048;
static const char *method = "add";
static bool keepalive = true;
static double timeout = 30.0;
static long threads = 1;

static char *request;        /* the request, identical for every call */
static size_t request_len;
static char expect[64];      /* text the answer body must contain */
static atomic_long next_request; /* requests handed out so far */
static atomic_long ok, errors, connect_errors;
static double *latency;      /* seconds, one per successful request */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the answer ---- */

typedef struct answer {
    bool done, keep;
    int status;
    size_t body_len, zeros, matched; /* matched: prefix of `expect` seen */
    bool found;
} answer;

static int on_body(http_parser *p, const char *at, size_t n)
{
    answer *a = p->data;
    a->body_len += n;
    size_t elen = strlen(expect);
    for (size_t i = 0; i < n; i++) { /* streaming search, answers may be split */
        if (at[i] == '0')
            a->zeros++;
        if (a->found)
            continue;
        if (at[i] == expect[a->matched]) {
            if (++a->matched == elen)
                a->found = true;
        } else {
            a->matched = at[i] == expect[0];
        }
    }
    return 0;
}

static int on_complete(http_parser *p)
{
    answer *a = p->data;
    a->done = true;
    a->status = (int)p->status_code;
    a->keep = http_should_keep_alive(p);
    return 0;
}

static const http_parser_settings settings = {.on_body = on_body,
                                              .on_message_complete = on_complete};

/* Shared by the clients of a thread: each parses what it read before
 * blocking again. */
static _Thread_local char rbuf[64 * 1024];

/* One request on FD: 0 and *keep when answered correctly, -1 otherwise. */
static int call(int fd, bool *keep)
{
    if (gz_write(fd, request, request_len, timeout) < 0)
        return -1;
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    answer a = {0};
    p.data = &a;
    while (!a.done) {
        ssize_t n = gz_read(fd, rbuf, sizeof rbuf, timeout);
        if (n < 0)
            return -1;
        size_t used = http_parser_execute(&p, &settings, rbuf, (size_t)n);
        if (n == 0 && !a.done)
            return -1; /* closed before the end of the answer */
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != (size_t)n)
            return -1;
    }
    *keep = a.keep && keepalive;
    if (a.status != 200 || (expect[0] && !a.found))
        return -1;
    if (strcmp(method, "gen") == 0 && a.zeros < (size_t)gen_size)
        return -1;
    return 0;
}

static void *client(void *arg)
{
    (void)arg;
    int fd = -1;
    while (atomic_fetch_add(&next_request, 1) < requests) {
        double t0 = now();
        if (fd < 0) {
            fd = gz_tcp_connect(host, port, timeout);
            if (fd < 0) {
                connect_errors++;
                errors++;
                if (errno == ECANCELED)
                    return NULL;
                continue;
            }
        }
        bool keep = false;
        if (call(fd, &keep) == 0) {
            latency[atomic_fetch_add(&ok, 1)] = now() - t0;
        } else {
            errors++;
            keep = false;
        }
        if (!keep) {
            gz_close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        gz_close(fd);
    return NULL;
}

/* Thread INDEX's share of the clients (all of them with one thread), each
 * in a greenlet of this hub, until they are done. */
static void run_clients(size_t index, void *arg)
{
    (void)arg;
    long n = concurrency / threads + ((long)index < concurrency % threads);
    gz_greenlet **gs = calloc((size_t)n ? (size_t)n : 1, sizeof *gs);
    if (!gs)
        gz_fail(ENOMEM, "no memory for %ld clients", n);
    for (long i = 0; i < n; i++) {
        if (!(gs[i] = gz_spawn(client, NULL))) {
            fprintf(stderr, "gzmq-rpc-bench: cannot spawn client %ld: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    gz_joinall(gs, (size_t)n, GZ_FOREVER);
    for (long i = 0; i < n; i++)
        gz_release(gs[i]);
    free(gs);
}

/* ---- setup and report ---- */

static int build_request(void)
{
    char body[512];
    if (strcmp(method, "add") == 0) {
        snprintf(body, sizeof body,
                 "<?xml version=\"1.0\"?>\n<methodCall><methodName>add</methodName><params>"
                 "<param><value><int>3</int></value></param>"
                 "<param><value><int>5</int></value></param></params></methodCall>\n");
        snprintf(expect, sizeof expect, "<int>8</int>");
    } else if (strcmp(method, "gen") == 0) {
        snprintf(body, sizeof body,
                 "<?xml version=\"1.0\"?>\n<methodCall><methodName>gen</methodName><params>"
                 "<param><value><int>%ld</int></value></param></params></methodCall>\n",
                 gen_size);
        snprintf(expect, sizeof expect, "<string>");
    } else if (strcmp(method, "get") == 0) {
        body[0] = 0;
        snprintf(expect, sizeof expect, "%s", "");
    } else {
        return -1;
    }
    const char *conn = keepalive ? "" : "Connection: close\r\n";
    int n;
    if (strcmp(method, "get") == 0)
        n = asprintf(&request, "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n", host, conn);
    else
        n = asprintf(&request,
                     "POST /RPC2 HTTP/1.1\r\nHost: %s\r\nUser-Agent: gzmq-rpc-bench\r\n"
                     "Content-Type: text/xml\r\nContent-Length: %zu\r\n%s\r\n%s",
                     host, strlen(body), conn, body);
    if (n < 0)
        return -1;
    request_len = (size_t)n;
    return 0;
}

/* Each client holds a descriptor: raise the soft limit to the hard one. */
static int raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)concurrency + 32;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        fprintf(stderr,
                "gzmq-rpc-bench: the open-file limit is %llu (hard limit %llu): too low for "
                "%ld connections (%llu needed). Lower --concurrency, or raise the hard "
                "limit (ulimit -Hn, /etc/security/limits.conf) as root.\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                concurrency, (unsigned long long)need);
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double p)
{
    if (ok == 0)
        return NAN;
    long i = (long)ceil(p / 100.0 * (double)ok) - 1;
    return latency[i < 0 ? 0 : i];
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gzmq-rpc-bench --host H --port P --concurrency C --requests N\n"
            "                      [--method add|gen|get] [--gen-size BYTES]\n"
            "                      [--keepalive|--no-keepalive] [--timeout S]\n"
            "C greenlet clients, one connection each, send N XML-RPC requests in all:\n"
            "add(3, 5), gen(BYTES) (default 2048) or a plain GET /. Prints requests/s,\n"
            "p50 / p99 latency and errors. --timeout bounds each connect, write and read\n"
            "(default 30 s). --threads T spreads the clients over T threads, each with\n"
            "its own hub (default 1), so that the client is not the bottleneck.\n");
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"concurrency", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'n'},
        {"method", required_argument, NULL, 'm'},
        {"gen-size", required_argument, NULL, 'g'},
        {"keepalive", no_argument, NULL, 'k'},
        {"no-keepalive", no_argument, NULL, 'K'},
        {"timeout", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    long lport = -1;
    while ((o = getopt_long(argc, argv, "H:p:c:n:m:g:kKt:T:h", opts, NULL)) != -1) {
        bool good = true;
        char *end;
        switch (o) {
        case 'H': host = optarg; break;
        case 'p': good = parse_long(optarg, 1, 65535, &lport); break;
        case 'c': good = parse_long(optarg, 1, 1000000, &concurrency); break;
        case 'n': good = parse_long(optarg, 1, 100000000, &requests); break;
        case 'm': method = optarg; break;
        case 'g': good = parse_long(optarg, 0, 16 << 20, &gen_size); break;
        case 'k': keepalive = true; break;
        case 'K': keepalive = false; break;
        case 't':
            timeout = strtod(optarg, &end);
            good = *optarg && !*end && timeout > 0;
            break;
        case 'T': good = parse_long(optarg, 1, 1024, &threads); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!good) {
            fprintf(stderr, "gzmq-rpc-bench: bad value '%s'\n", optarg);
            return 2;
        }
    }
    port = (int)lport;
    if (port < 0 || concurrency == 0 || requests == 0 || optind < argc) {
        fprintf(stderr, "gzmq-rpc-bench: --port, --concurrency and --requests are required\n");
        usage(stderr);
        return 2;
    }
    if (build_request() < 0) {
        fprintf(stderr, "gzmq-rpc-bench: unknown --method '%s' (add, gen or get)\n", method);
        return 2;
    }
    if (raise_fd_limit() < 0)
        return 1;
    if (concurrency > requests)
        concurrency = requests;
    latency = malloc((size_t)requests * sizeof *latency);
    if (!latency) {
        fprintf(stderr, "gzmq-rpc-bench: out of memory\n");
        return 1;
    }
    if (threads > concurrency)
        threads = concurrency;
    double t0 = now();
    if (threads == 1)
        run_clients(0, NULL);
    else if (gz_run_threads((size_t)threads, run_clients, NULL) != 0)
        return 1; /* gz_run_threads named the thread that failed */
    double elapsed = now() - t0;
    qsort(latency, (size_t)ok, sizeof *latency, cmp_double);
    double rps = (double)ok / elapsed;
    printf("gzmq-rpc-bench: %s:%d method=%s concurrency=%ld requests=%ld keepalive=%s "
           "threads=%ld\n",
           host, port, method, concurrency, requests, keepalive ? "yes" : "no", threads);
    printf("  %ld ok, %ld errors (%ld failed connects) in %.2f s\n", ok, errors,
           connect_errors, elapsed);
    printf("  requests/s: %.0f\n", rps);
    printf("  latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", percentile(50) * 1e3,
           percentile(99) * 1e3, ok ? latency[ok - 1] * 1e3 : NAN);
    printf("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f ok=%ld errors=%ld seconds=%.3f\n", rps,
           percentile(50) * 1e3, percentile(99) * 1e3, ok, errors, elapsed);
    free(latency);
    free(request);
    return errors && !ok ? 1 : 0;
}
