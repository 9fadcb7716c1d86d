/* Option parsing, signals and sockets for the demo programs. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>

#include <gzmq.h>

#include "common/cli.h"

static void usage(FILE *f, const char *prog, const char *summary,
                  const cli_opt *opts, size_t n)
{
    fprintf(f, "usage: %s", prog);
    for (size_t i = 0; i < n; i++) {
        if (opts[i].kind == CLI_FLAG)
            fprintf(f, " [%s]", opts[i].name);
        else
            fprintf(f, opts[i].required ? " %s %s" : " [%s %s]", opts[i].name,
                    opts[i].metavar);
    }
    fprintf(f, "\n%s\n\noptions:\n", summary);
    int width = 22; /* the names' column: as wide as the widest */
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(opts[i].name) +
                (opts[i].kind == CLI_FLAG ? 0 : 1 + (int)strlen(opts[i].metavar));
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i < n; i++) {
        char left[64];
        if (opts[i].kind == CLI_FLAG)
            snprintf(left, sizeof left, "%s", opts[i].name);
        else
            snprintf(left, sizeof left, "%s %s", opts[i].name, opts[i].metavar);
        fprintf(f, "  %-*s %s", width, left, opts[i].help);
        if (!opts[i].required && opts[i].kind == CLI_NUMBER)
            fprintf(f, " (default %ld)", *(long *)opts[i].value);
        fprintf(f, "\n");
    }
    fprintf(f, "  %-*s %s\n", width, "--help", "show this help and exit");
}

_Noreturn void cli_usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    va_end(ap);
    exit(2);
}

static void set_value(const char *prog, cli_opt *o, const char *arg)
{
    if (o->kind == CLI_STRING) {
        if (!*arg)
            cli_usage_error(prog, "%s needs a non-empty %s", o->name, o->metavar);
        *(const char **)o->value = arg;
        return;
    }
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end)
        cli_usage_error(prog, "%s wants a whole number, not '%s'", o->name, arg);
    if (v < o->min || v > o->max)
        cli_usage_error(prog, "%s must be between %ld and %ld, not %ld", o->name,
                        o->min, o->max, v);
    *(long *)o->value = v;
}

/* ---- CURVE ---- */

cli_curve_opts cli_curve;
static gz_cert *server_cert, *client_cert;
static gz_zauth *auth;
static _Thread_local void *last_ctx; /* what this thread's cli_socket used: the handler serves it */

static gz_cert *load_cert(const char *prog, const char *opt, const char *file)
{
    gz_cert *c = gz_cert_load(file);
    if (!c)
        cli_usage_error(prog, "cannot use %s '%s': %s", opt, file,
                        errno == EBADMSG ? "no valid CURVE certificate in it"
                                         : strerror(errno));
    return c;
}

/* Check the CURVE options and read their files: exit 2 on a problem. */
static void curve_prepare(const char *prog)
{
    if (!cli_curve.server_key) {
        if (cli_curve.keys || cli_curve.client_key)
            cli_usage_error(prog, "%s needs --curve-server-key",
                            cli_curve.keys ? "--curve-keys" : "--curve-client-key");
        return;
    }
    if (!zmq_has("curve"))
        cli_usage_error(prog, "this libzmq has no CURVE security");
    server_cert = load_cert(prog, "--curve-server-key", cli_curve.server_key);
    if (cli_curve.client_key) {
        client_cert = load_cert(prog, "--curve-client-key", cli_curve.client_key);
        if (!gz_cert_secret_txt(client_cert))
            cli_usage_error(prog, "--curve-client-key '%s' has no secret key "
                            "(give the file whose _secret twin exists)",
                            cli_curve.client_key);
    }
    if (cli_curve.keys) {
        DIR *d = opendir(cli_curve.keys);
        if (!d)
            cli_usage_error(prog, "cannot use --curve-keys '%s': %s", cli_curve.keys,
                            strerror(errno));
        closedir(d);
    }
}

/* Make S a CURVE server before it binds; start the handler on first use. */
static void curve_server(void *s, const char *prog)
{
    if (!gz_cert_secret_txt(server_cert))
        cli_usage_error(prog, "--curve-server-key '%s' has no secret key: a "
                        "program that binds needs the server's FILE_secret",
                        cli_curve.server_key);
    if (!auth) {
        auth = gz_zauth_start(last_ctx);
        if (!auth || (cli_curve.keys ? gz_zauth_curve_dir(auth, cli_curve.keys)
                                     : gz_zauth_curve_any(auth)) != 0) {
            fprintf(stderr, "%s: cannot start CURVE authentication: %s\n", prog,
                    strerror(errno));
            exit(1);
        }
    }
    int one = 1;
    if (gz_cert_apply(server_cert, s) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) != 0) {
        fprintf(stderr, "%s: CURVE: %s\n", prog, zmq_strerror(errno));
        exit(1);
    }
}

/* Make S a CURVE client of the server before it connects. */
static void curve_client(void *s, const char *prog)
{
    if (!client_cert && !(client_cert = gz_cert_new())) {
        fprintf(stderr, "%s: CURVE key pair: %s\n", prog, strerror(errno));
        exit(1);
    }
    if (gz_cert_apply(client_cert, s) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, gz_cert_public_txt(server_cert), 40) != 0) {
        fprintf(stderr, "%s: CURVE: %s\n", prog, zmq_strerror(errno));
        exit(1);
    }
}

void cli_curve_done(void)
{
    gz_zauth_stop(auth);
    auth = NULL;
}

void cli_parse(int argc, char **argv, const char *prog, const char *summary,
               cli_opt *opts, size_t nopts)
{
    bool seen[32] = {false};
    if (nopts > 32)
        abort();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, prog, summary, opts, nopts);
            exit(0);
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        size_t k = 0;
        while (k < nopts && !(strlen(opts[k].name) == len &&
                              strncmp(opts[k].name, a, len) == 0))
            k++;
        if (k == nopts)
            cli_usage_error(prog, "unknown argument '%s'", a);
        if (opts[k].kind == CLI_FLAG) {
            if (eq)
                cli_usage_error(prog, "%s takes no value", opts[k].name);
            *(bool *)opts[k].value = true;
            seen[k] = true;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc)
                cli_usage_error(prog, "%s needs a value (%s)", opts[k].name,
                                opts[k].metavar);
            val = argv[++i];
        }
        set_value(prog, &opts[k], val);
        seen[k] = true;
    }
    for (size_t k = 0; k < nopts; k++)
        if (opts[k].required && !seen[k])
            cli_usage_error(prog, "missing %s %s", opts[k].name, opts[k].metavar);
    curve_prepare(prog);
}

/* ---- signals ---- */

static int stopped_by;

static void on_signal(int signum, void *ctx)
{
    if (!stopped_by) {
        stopped_by = signum;
        zmq_ctx_shutdown(ctx); /* blocked calls return ETERM */
    }
}

int cli_stop_on_signals(void *ctx)
{
    if (gz_signal(SIGINT, on_signal, ctx) != 0 ||
        gz_signal(SIGTERM, on_signal, ctx) != 0)
        return -1;
    return 0;
}

int cli_stopped(void) { return stopped_by; }

/* Once stopped, the handlers stay: a repeated signal (`timeout` sends its
 * signal to the child and to the child's process group, a user presses ^C
 * twice) must not kill the program while it closes its sockets. */
void cli_signals_done(void)
{
    if (stopped_by)
        return;
    gz_signal_cancel(SIGINT);
    gz_signal_cancel(SIGTERM);
}

/* ---- sockets ---- */

void *cli_socket(void *ctx, int type, int linger_ms)
{
    void *s = ctx ? zmq_socket(ctx, type) : NULL;
    last_ctx = ctx;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof linger_ms) != 0) {
        fprintf(stderr, "cannot create a ZeroMQ socket: %s\n", zmq_strerror(errno));
        exit(1);
    }
    return s;
}

void cli_bind(void *s, const char *endpoint, const char *prog)
{
    if (server_cert && strncmp(endpoint, "inproc:", 7) != 0)
        curve_server(s, prog);
    if (zmq_bind(s, endpoint) != 0)
        cli_usage_error(prog, "cannot bind to '%s': %s", endpoint,
                        zmq_strerror(errno));
    char actual[256];
    size_t len = sizeof actual;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, actual, &len) != 0)
        snprintf(actual, sizeof actual, "%s", endpoint);
    printf("%s: bound to %s\n", prog, actual);
    fflush(stdout);
}

void cli_connect(void *s, const char *endpoint, const char *prog)
{
    if (server_cert && strncmp(endpoint, "inproc:", 7) != 0)
        curve_client(s, prog);
    if (zmq_connect(s, endpoint) != 0)
        cli_usage_error(prog, "cannot connect to '%s': %s", endpoint,
                        zmq_strerror(errno));
}

typedef struct stats_job {
    double every;
    const char *prog;
} stats_job;

static void *print_stats(void *arg)
{
    stats_job job = *(stats_job *)arg;
    free(arg);
    gz_stats s;
    while (gz_sleep(job.every) == 0 && gz_hub_stats(&s) == 0)
        fprintf(stderr,
                "%s: stats: live %zu ready %zu parked %zu (queue %zu zmq %zu "
                "fd %zu sleep %zu join %zu sync %zu other %zu) spawned %llu "
                "ended %llu switches %llu polls %llu max-poll-gap %.1f ms "
                "zmq sent %llu (%llu waited) received %llu (%llu waited) "
                "stacks %zu KiB live %zu KiB cached\n",
                job.prog, s.live, s.ready, s.parked, s.parked_queue,
                s.parked_zmq, s.parked_fd, s.parked_sleep, s.parked_join,
                s.parked_sync, s.parked_other, (unsigned long long)s.spawned,
                (unsigned long long)s.ended, (unsigned long long)s.switches,
                (unsigned long long)s.loop_polls, s.max_poll_gap * 1e3,
                (unsigned long long)s.zmq_sends,
                (unsigned long long)s.zmq_sends_waited,
                (unsigned long long)s.zmq_recvs,
                (unsigned long long)s.zmq_recvs_waited,
                s.stack_bytes_live / 1024, s.stack_bytes_cached / 1024);
    return NULL;
}

gz_greenlet *cli_stats_start(long seconds, const char *prog)
{
    if (seconds <= 0)
        return NULL;
    stats_job *job = malloc(sizeof *job);
    if (!job)
        return NULL;
    *job = (stats_job){(double)seconds, prog};
    gz_greenlet *g = gz_spawn(print_stats, job);
    if (!g) {
        free(job);
        return NULL;
    }
    gz_set_name(g, "stats");
    return g;
}

void cli_stats_stop(gz_greenlet *g)
{
    if (!g)
        return;
    gz_kill(g, 1.0);
    gz_release(g);
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
