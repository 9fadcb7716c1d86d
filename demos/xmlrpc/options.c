/* gzmq-xmlrpc-server's command line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "xmlrpc/options.h"

void xr_usage(FILE *f)
{
    fprintf(f,
            "usage: gzmq-xmlrpc-server --port P [--host H] [--max-connections N]\n"
            "                          [--idle-timeout S] [--request-timeout S]\n"
            "XML-RPC over HTTP/1.1: add(a, b), gen(n), system.listMethods; GET / for wrk.\n"
            "  --port P             TCP port (0: any free port, printed at start)\n"
            "  --host H             address to listen on (default: every address)\n"
            "  --max-connections N  connections served at once (default 0: no limit)\n"
            "  --idle-timeout S     close keep-alive connections idle S seconds (60)\n"
            "  --request-timeout S  a request must arrive whole within S seconds (30)\n");
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

int xr_options_parse(int argc, char **argv, xr_options *o)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"max-connections", required_argument, NULL, 'm'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"request-timeout", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (xr_options){.idle_timeout = 60.0, .request_timeout = 30.0};
    double port = -1, maxc = 0;
    int c;
    optind = 0; /* GNU getopt: start afresh, so that a second parse works */
    while ((c = getopt_long(argc, argv, "p:H:m:i:r:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p': ok = parse_num(optarg, 0, 65535, &port) && port == floor(port); break;
        case 'H': o->host = optarg; break;
        case 'm': ok = parse_num(optarg, 0, 1e9, &maxc) && maxc == floor(maxc); break;
        case 'i': ok = parse_num(optarg, 0.001, 1e9, &o->idle_timeout); break;
        case 'r': ok = parse_num(optarg, 0.001, 1e9, &o->request_timeout); break;
        case 'h': xr_usage(stdout); return 0;
        default: xr_usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "gzmq-xmlrpc-server: bad value for --%s: '%s'\n",
                    c == 'p' ? "port" : c == 'm' ? "max-connections" :
                    c == 'i' ? "idle-timeout" : "request-timeout", optarg);
            return 2;
        }
    }
    if (port < 0 || optind < argc) {
        xr_usage(stderr);
        return 2;
    }
    o->port = (int)port;
    o->max_connections = (size_t)maxc;
    return -1;
}
