/* What the demo programs share: option parsing with --help and exit status 2
 * on bad arguments, a clean stop on SIGINT / SIGTERM, and sockets with a
 * bounded linger. */
#ifndef GZMQ_DEMO_CLI_H
#define GZMQ_DEMO_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <gzmq.h>

/* CLI_FLAG takes no value: "--name" sets the bool it points to. */
enum cli_kind { CLI_STRING, CLI_NUMBER, CLI_FLAG };

typedef struct cli_opt {
    const char *name;    /* "--bind" */
    const char *metavar; /* "ENDPOINT", shown in the usage */
    enum cli_kind kind;
    void *value;         /* const char **, long * or bool *; holds the default */
    bool required;
    long min, max;       /* accepted range of a CLI_NUMBER */
    const char *help;
} cli_opt;

/* Parse ARGV ("--name value" or "--name=value") into OPTS. --help prints the
 * usage and exits 0; an unknown option, a missing value or required option,
 * or a number that is malformed or out of range prints why and exits 2. */
void cli_parse(int argc, char **argv, const char *prog, const char *summary,
               cli_opt *opts, size_t nopts);
/* Print "PROG: message" and a hint to stderr and exit 2. */
_Noreturn void cli_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* From now on SIGINT and SIGTERM shut CTX down (zmq_ctx_shutdown): every
 * blocked green ZeroMQ call returns ETERM and the program winds down. */
int cli_stop_on_signals(void *ctx);
/* The signal that stopped the program, or 0. */
int cli_stopped(void);
/* Remove the handlers installed by cli_stop_on_signals, unless a signal
 * came: then later ones are ignored while the program winds down. */
void cli_signals_done(void);

/* A socket of CTX whose linger is LINGER_MS (never unbounded). Exits 1 with
 * a message if libzmq refuses. */
void *cli_socket(void *ctx, int type, int linger_ms);
/* Bind S to ENDPOINT ("tcp://127.0.0.1:*" picks a free port) and print
 * "PROG: bound to <the actual endpoint>" on stdout, flushed, so that scripts
 * can read it. Exits 2 when the endpoint is refused. */
void cli_bind(void *s, const char *endpoint, const char *prog);
/* Connect S to ENDPOINT; exits 2 when the endpoint is malformed. */
void cli_connect(void *s, const char *endpoint, const char *prog);

/* --stats N: a greenlet printing one line of gz_hub_stats on stderr every
 * SECONDS ("PROG: stats: live 3 ready 0 parked 3 ..."); NULL for 0. Stop it
 * with cli_stats_stop (NULL is fine) before the program waits for its
 * greenlets to end. */
gz_greenlet *cli_stats_start(long seconds, const char *prog);
void cli_stats_stop(gz_greenlet *g);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
