/* gzmq-xmlrpc-server's command line, parsed without exiting so that the
 * fuzz target (fuzz/cli.c) can run it again and again. */
#ifndef GZMQ_DEMO_XMLRPC_OPTIONS_H
#define GZMQ_DEMO_XMLRPC_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef struct xr_options {
    const char *host;        /* NULL: every address */
    int port;                /* 0: any free port */
    size_t max_connections;  /* served at once, more get 503; 0: no limit */
    double idle_timeout;     /* seconds between requests on a connection */
    double request_timeout;  /* seconds from a request's first byte to its end */
    size_t max_gen;          /* gen(n): n at most this */
    size_t max_response;     /* bytes of one methodResponse */
    size_t write_budget;     /* bytes of responses waiting to be written, in all */
    size_t stats;            /* seconds between lines of hub statistics; 0: none */
    size_t threads;          /* hubs, each with its own SO_REUSEPORT listener */
} xr_options;

#define XR_MAX_BYTES ((size_t)1 << 40) /* the largest size an option takes */
#define XR_DEFAULT_MAX_CONNECTIONS 1000

/* Fill O from ARGV (defaults first). -1: go on; else the exit status, after
 * printing the usage (0 for --help, on stdout) or why (2, on stderr). */
int xr_options_parse(int argc, char **argv, xr_options *o);
/* The usage text. */
void xr_usage(FILE *f);

#endif
