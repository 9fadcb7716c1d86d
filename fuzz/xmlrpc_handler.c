/* libFuzzer target: gzmq-xmlrpc-server's request handling
 * (demos/xmlrpc/handler.c), no sockets. The first byte chooses:
 *   odd   the rest is an XML-RPC body given to xr_call;
 *   even  the rest is a connection's byte stream, fed to xr_feed in pieces
 *         of (byte / 2 + 1) bytes, as reads of that size would bring it.
 * Beyond the sanitizers, every answer must be well formed: a methodResponse
 * document, or one HTTP/1.1 response whose Content-Length is the size of
 * its body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmlrpc/handler.h"

#define CHECK(cond) \
    do {            \
        if (!(cond)) \
            __builtin_trap(); \
    } while (0)

/* The server's defaults; for odd lengths the budget is nearly spent, so
 * that the busy fault is reached too. */
static xr_limits limits = XR_LIMITS_DEFAULT;

static void check_call(const char *body, size_t len)
{
    xr_buf out = {0};
    limits.queued = len % 2 ? limits.write_budget - 65536 : 0;
    xr_call(body, len, &limits, &out);
    CHECK(!out.failed && out.data);
    static const char start[] = "<?xml version=\"1.0\"?>\n<methodResponse>";
    static const char end[] = "</methodResponse>\n";
    CHECK(out.len >= sizeof start + sizeof end - 2);
    CHECK(memcmp(out.data, start, sizeof start - 1) == 0);
    CHECK(memcmp(out.data + out.len - (sizeof end - 1), end, sizeof end - 1) == 0);
    CHECK(strlen(out.data) == out.len); /* no NUL slipped into the XML */
    xr_buf_free(&out);
}

/* OUT holds exactly one response. */
static void check_response(const xr_buf *out, enum xr_step step)
{
    CHECK(out->len > 0 || step == XR_CLOSE);
    if (out->len == 0)
        return;
    CHECK(strncmp(out->data, "HTTP/1.1 ", 9) == 0);
    const char *head_end = strstr(out->data, "\r\n\r\n");
    CHECK(head_end);
    const char *cl = strstr(out->data, "\r\nContent-Length: ");
    CHECK(cl && cl < head_end);
    size_t body = (size_t)(out->data + out->len - (head_end + 4));
    CHECK(strtoull(cl + 18, NULL, 10) == body);
    bool close = strstr(out->data, "\r\nConnection: close\r\n") != NULL;
    CHECK(close == (step == XR_CLOSE));
}

static void check_stream(const char *data, size_t len, size_t piece)
{
    limits.queued = 0;
    xr_conn *c = xr_conn_new(&limits);
    CHECK(c);
    xr_buf out = {0};
    bool closed = false;
    for (size_t at = 0; at < len && !closed;) {
        size_t n = len - at < piece ? len - at : piece;
        while (n > 0) { /* one read's bytes: answer each request they end */
            size_t used;
            out.len = 0;
            enum xr_step step = xr_feed(c, data + at, n, &used, &out);
            CHECK(used <= n);
            if (step == XR_MORE) {
                CHECK(out.len == 0);
                CHECK(xr_in_request(c) || used == n);
                at += n;
                break;
            }
            CHECK(!out.failed);
            check_response(&out, step);
            at += used;
            n -= used;
            if (step == XR_CLOSE) {
                closed = true;
                break;
            }
        }
    }
    xr_buf_free(&out);
    xr_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *rest = (const char *)data + 1;
    if (data[0] & 1)
        check_call(rest, size - 1);
    else
        check_stream(rest, size - 1, (size_t)(data[0] >> 1) + 1);
    return 0;
}
