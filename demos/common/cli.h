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

/* CURVE security, the same three options wherever a program lists
 * CLI_CURVE_OPTS in its table. With --curve-server-key, cli_bind makes the
 * socket a CURVE server (the file's secret key; clients checked against
 * --curve-keys DIR by a gz_zauth handler, or any client key without it) and
 * cli_connect a CURVE client of that server over tcp (its own key from
 * --curve-client-key, or a new key pair). cli_parse reads the files and
 * exits 2 naming the one it cannot use. */
typedef struct cli_curve_opts {
    const char *server_key, *keys, *client_key;
} cli_curve_opts;
extern cli_curve_opts cli_curve;
#define CLI_CURVE_OPTS                                                          \
    {"--curve-server-key", "FILE", CLI_STRING, &cli_curve.server_key, false, 0, 0, \
     "CURVE: the server's certificate (to bind: FILE or FILE_secret with its "  \
     "secret key; to connect: its public key)"},                                \
    {"--curve-keys", "DIR", CLI_STRING, &cli_curve.keys, false, 0, 0,           \
     "CURVE server: accept only clients whose certificate is in DIR"},          \
    {"--curve-client-key", "FILE", CLI_STRING, &cli_curve.client_key, false, 0, 0, \
     "CURVE client: this program's certificate (default: a new key pair)"}
/* Stop the CURVE handler, if any: before zmq_ctx_term, which waits for it. */
void cli_curve_done(void);
/* --stats N: a greenlet printing one line of gz_hub_stats on stderr every
 * SECONDS ("PROG: stats: live 3 ready 0 parked 3 ..."); NULL for 0. Stop it
 * with cli_stats_stop (NULL is fine) before the program waits for its
 * greenlets to end. */
gz_greenlet *cli_stats_start(long seconds, const char *prog);
void cli_stats_stop(gz_greenlet *g);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
