/* gzmq-xmlrpc-server's command line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "xmlrpc/handler.h"
#include "xmlrpc/options.h"

void xr_usage(FILE *f)
{
    xr_limits d = XR_LIMITS_DEFAULT;
    fprintf(f,
            "usage: gzmq-xmlrpc-server --port P [--host H] [--max-connections N]\n"
            "                          [--idle-timeout S] [--request-timeout S]\n"
            "                          [--max-gen N] [--max-response BYTES] [--write-budget BYTES]\n"
            "                          [--stats N]\n"
            "                          [--threads N]\n"
            "XML-RPC over HTTP/1.1: add(a, b), gen(n), system.listMethods; GET / for wrk.\n"
            "  --port P              TCP port (0: any free port, printed at start)\n"
            "  --host H              address to listen on (default: every address)\n"
            "  --max-connections N   clients served at once (default %d; 0: no limit); one\n"
            "                        past it is answered 503 Service Unavailable and closed\n"
            "  --idle-timeout S      close keep-alive connections idle S seconds (60)\n"
            "  --request-timeout S   a request must arrive whole within S seconds (30)\n"
            "  --stats N             a line of hub statistics on stderr every N seconds\n"
            "  --threads N           N hubs (threads), each accepting on its own\n"
            "                        SO_REUSEPORT socket (default 1); the limits below\n"
            "                        and --max-connections hold per hub\n"
            "What one call may cost; past a limit the call gets a fault at once, before\n"
            "anything big is built:\n"
            "  --max-gen N           gen(n) takes n <= N (default %zu; fault -32602)\n"
            "  --max-response BYTES  bytes of one methodResponse, at least 4096\n"
            "                        (default %zu; fault -32602)\n"
            "  --write-budget BYTES  bytes of responses waiting for clients to read them,\n"
            "                        over all connections, at least --max-response\n"
            "                        (default %zu); a response over %u bytes\n"
            "                        that would pass it is not built: fault -32400, busy\n",
            XR_DEFAULT_MAX_CONNECTIONS, d.max_gen, d.max_response, d.write_budget,
            XR_SMALL_RESPONSE);
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

/* A whole number in [LO, HI]. */
static bool parse_count(const char *s, double lo, double hi, size_t *out)
{
    double v;
    if (!parse_num(s, lo, hi, &v) || v != floor(v))
        return false;
    *out = (size_t)v;
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
        {"max-gen", required_argument, NULL, 'g'},
        {"max-response", required_argument, NULL, 'R'},
        {"write-budget", required_argument, NULL, 'w'},
        {"stats", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    xr_limits d = XR_LIMITS_DEFAULT;
    *o = (xr_options){.max_connections = XR_DEFAULT_MAX_CONNECTIONS,
                      .idle_timeout = 60.0, .request_timeout = 30.0,
                      .max_gen = d.max_gen, .max_response = d.max_response,
                      .write_budget = d.write_budget, .threads = 1};
    const double most = (double)XR_MAX_BYTES;
    size_t port = 0;
    bool has_port = false;
    int c;
    optind = 0; /* GNU getopt: start afresh, so that a second parse works */
    while ((c = getopt_long(argc, argv, "p:H:m:i:r:g:R:w:s:t:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p': ok = has_port = parse_count(optarg, 0, 65535, &port); break;
        case 'H': o->host = optarg; break;
        case 'm': ok = parse_count(optarg, 0, 1e9, &o->max_connections); break;
        case 'i': ok = parse_num(optarg, 0.001, 1e9, &o->idle_timeout); break;
        case 'r': ok = parse_num(optarg, 0.001, 1e9, &o->request_timeout); break;
        case 'g': ok = parse_count(optarg, 0, most, &o->max_gen); break;
        case 'R': ok = parse_count(optarg, 4096, most, &o->max_response); break;
        case 'w': ok = parse_count(optarg, 4096, most, &o->write_budget); break;
        case 's': ok = parse_count(optarg, 0, 86400, &o->stats); break;
        case 't': ok = parse_count(optarg, 1, 1024, &o->threads); break;
        case 'h': xr_usage(stdout); return 0;
        default: xr_usage(stderr); return 2;
        }
        if (!ok) {
            const char *name = "?";
            for (const struct option *op = opts; op->name; op++)
                if (op->val == c)
                    name = op->name;
            fprintf(stderr, "gzmq-xmlrpc-server: bad value for --%s: '%s'\n", name, optarg);
            return 2;
        }
    }
    if (!has_port || optind < argc) {
        xr_usage(stderr);
        return 2;
    }
    if (o->write_budget < o->max_response) {
        fprintf(stderr, "gzmq-xmlrpc-server: --write-budget %zu is less than --max-response "
                        "%zu: no response of that size could ever be sent\n",
                o->write_budget, o->max_response);
        return 2;
    }
    o->port = (int)port;
    return -1;
}
