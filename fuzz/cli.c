/* libFuzzer target: the demo programs' command lines. The input is split at
 * NUL bytes into arguments (at most 16); the first byte chooses the parser:
 *   even  cli_parse (demos/common/cli.c) with the options of gzmq-reqrep-client
 *         and the like: required strings, bounded numbers, optional ones;
 *   odd   xr_options_parse (gzmq-xmlrpc-server, demos/xmlrpc/options.c).
 * cli_parse exits on --help (0) and on bad arguments (2): exit is wrapped
 * (-Wl,--wrap=exit) so that it returns here. A parse must end in exit
 * status 0 only when --help or -h was given, else 2, or succeed with every
 * required option set and every number within its range (the first bad
 * argument or --help ends the parse). Run with
 * -close_fd_mask=3: the usage texts go nowhere. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "xmlrpc/options.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

#define MAX_ARGS 16

static jmp_buf parsing;
static bool in_parse;

void __real_exit(int status) __attribute__((noreturn));
void __wrap_exit(int status) __attribute__((noreturn));
void __wrap_exit(int status)
{
    if (in_parse)
        longjmp(parsing, status + 1);
    __real_exit(status); /* libFuzzer's own exit */
}

/* getopt_long also takes "--he" for --help (not "--h": --host too), and
 * "-hX" (a cluster of short options). */
static bool asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (!strncmp(argv[i], "-h", 2) || (n >= 4 && !strncmp(argv[i], "--help", n)))
            return true;
    }
    return false;
}

static void fuzz_cli_parse(int argc, char **argv)
{
    const char *connect = NULL, *name = "default";
    long requests = 0, size = 64, timeout = 10;
    cli_opt opts[] = {
        {"--connect", "ENDPOINT", CLI_STRING, &connect, true, 0, 0, "where to connect"},
        {"--requests", "N", CLI_NUMBER, &requests, true, 1, 1000000000L, "requests"},
        {"--size", "BYTES", CLI_NUMBER, &size, false, 1, 64L << 20, "request size"},
        {"--timeout", "SECONDS", CLI_NUMBER, &timeout, false, -5, 86400, "give up after"},
        {"--name", "NAME", CLI_STRING, &name, false, 0, 0, "a name"},
    };
    volatile int status;
    in_parse = true;
    status = setjmp(parsing);
    if (status == 0)
        cli_parse(argc, argv, "fuzz-cli", "The fuzzed program.", opts,
                  sizeof opts / sizeof opts[0]);
    in_parse = false;
    if (status != 0) { /* the first bad argument ends the parse, as --help does */
        CHECK(status - 1 == 2 || (status - 1 == 0 && asks_help(argc, argv)));
        return;
    }
    CHECK(connect && *connect);
    CHECK(requests >= 1 && requests <= 1000000000L);
    CHECK(size >= 1 && size <= 64L << 20);
    CHECK(timeout >= -5 && timeout <= 86400);
    CHECK(name && *name);
}

static void fuzz_xr_options(int argc, char **argv)
{
    xr_options o;
    int status = xr_options_parse(argc, argv, &o);
    CHECK(status == -1 || status == 2 || (status == 0 && asks_help(argc, argv)));
    if (status != -1)
        return;
    CHECK(o.port >= 0 && o.port <= 65535);
    CHECK(o.max_connections <= 1000000000u);
    CHECK(o.idle_timeout >= 0.001 && o.idle_timeout <= 1e9);
    CHECK(o.request_timeout >= 0.001 && o.request_timeout <= 1e9);
    CHECK(o.max_gen <= XR_MAX_BYTES);
    CHECK(o.max_response >= 4096 && o.max_response <= XR_MAX_BYTES);
    CHECK(o.write_budget >= o.max_response && o.write_budget <= XR_MAX_BYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* A private, NUL-terminated copy: the arguments point into it. */
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *argv[MAX_ARGS + 2] = {data[0] & 1 ? "gzmq-xmlrpc-server" : "fuzz-cli"};
    int argc = 1;
    for (char *p = text; argc <= MAX_ARGS && p < text + size - 1; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    if (data[0] & 1)
        fuzz_xr_options(argc, argv);
    else
        fuzz_cli_parse(argc, argv);
    free(text);
    return 0;
}
