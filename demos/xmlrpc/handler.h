/* The request handling of gzmq-xmlrpc-server without any I/O: bytes from a
 * connection go in, HTTP responses come out. HTTP/1.1 is parsed by
 * libhttp-parser, the XML-RPC call by expat. The server (demos/xmlrpc-server.c)
 * does the reading, writing and timeouts; the fuzz target
 * (fuzz/xmlrpc_handler.c) drives this directly. */
#ifndef GZMQ_DEMO_XMLRPC_HANDLER_H
#define GZMQ_DEMO_XMLRPC_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#define XR_MAX_BODY (1u << 20) /* larger request bodies get 413 */

/* What one request may cost. Past a limit the call gets a fault at once,
 * before anything big is built. */
typedef struct xr_limits {
    size_t max_gen;       /* gen(n): n at most this */
    size_t max_response;  /* bytes of one methodResponse */
    /* Bytes of HTTP responses built and not yet written, over every
     * connection: the server adds a response's size before writing it and
     * takes it off after. A response bigger than XR_SMALL_RESPONSE is built
     * only if it fits in write_budget - queued; a smaller one always is (one
     * per connection, so the connection limit bounds those). */
    size_t write_budget;
    size_t queued;
} xr_limits;

#define XR_SMALL_RESPONSE (16u << 10)
#define XR_LIMITS_DEFAULT \
    {.max_gen = 1000000, .max_response = 16u << 20, .write_budget = 64u << 20, .queued = 0}

/* A growable byte buffer, NUL-terminated. */
typedef struct xr_buf {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: the content is incomplete */
} xr_buf;

/* Append N bytes of S (on failure, set b->failed and append nothing more). */
void xr_buf_add(xr_buf *b, const char *s, size_t n);
/* Free the data and empty B. */
void xr_buf_free(xr_buf *b);

/* Parse BODY as an XML-RPC methodCall, run it (add, gen, system.listMethods)
 * within LIM and write the methodResponse, or a fault, into OUT. */
void xr_call(const char *body, size_t len, const xr_limits *lim, xr_buf *out);

/* The HTTP state of one connection. */
typedef struct xr_conn xr_conn;

/* A connection's parser, answering within LIM (shared by every connection,
 * kept by the caller while C lives); NULL with ENOMEM. */
xr_conn *xr_conn_new(const xr_limits *lim);
/* Free C; NULL is ignored. */
void xr_conn_free(xr_conn *c);

enum xr_step {
    XR_MORE,   /* all the bytes were taken; the request is not complete */
    XR_ANSWER, /* OUT holds the answer to a request: send it, then feed the rest */
    XR_CLOSE,  /* OUT holds a last answer (maybe none): send it, then close */
};

/* Feed LEN bytes of DATA (LEN > 0) to C's parser, up to the end of one
 * complete request, which is answered: the HTTP response is appended to OUT.
 * *USED: the bytes taken. OUT->failed (out of memory): close without
 * sending. Pipelined requests are answered one per call. */
enum xr_step xr_feed(xr_conn *c, const char *data, size_t len, size_t *used,
                     xr_buf *out);
/* Some bytes of a request have arrived and its end has not. */
bool xr_in_request(const xr_conn *c);
/* An error answer went out: the server should drain the client's input for
 * a while before closing, so that a reset does not destroy the answer. */
bool xr_linger(const xr_conn *c);
/* Append an error answer (status STATUS, "Connection: close") to OUT; the
 * server sends it for a request that timed out (408). */
void xr_error(xr_conn *c, int status, const char *reason, xr_buf *out);

#endif
