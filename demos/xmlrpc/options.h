/* gzmq-xmlrpc-server's command line, parsed without exiting so that the
 * fuzz target (fuzz/cli.c) can run it again and again. */
#ifndef GZMQ_DEMO_XMLRPC_OPTIONS_H
#define GZMQ_DEMO_XMLRPC_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

typedef struct xr_options {
    const char *host;        /* NULL: every address */
    int port;                /* 0: any free port */
    size_t max_connections;  /* 0: no limit */
    double idle_timeout;     /* seconds between requests on a connection */
    double request_timeout;  /* seconds from a request's first byte to its end */
} xr_options;

/* Fill O from ARGV (defaults first). -1: go on; else the exit status, after
 * printing the usage (0 for --help, on stdout) or why (2, on stderr). */
int xr_options_parse(int argc, char **argv, xr_options *o);
/* The usage text. */
void xr_usage(FILE *f);

#endif
