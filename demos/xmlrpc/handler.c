/* Request handling of gzmq-xmlrpc-server: the XML-RPC call (expat), the
 * methods, and HTTP/1.1 framing (libhttp-parser), with no I/O. */
#include <errno.h>
#include <expat.h>
#include <http_parser.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmlrpc/handler.h"

#define MAX_BODY XR_MAX_BODY
#define MAX_PARAMS 8
#define GET_BODY "Hello from gzmq-xmlrpc-server\n"
#define HTTP_HEAD_MAX 256 /* respond()'s status line and headers fit in this */

/* ---- a growable byte buffer ---- */

/* Room for N more bytes at least, exactly that much when EXACT: a response
 * whose size is known up front is allocated once, not doubled past it. */
static bool xr_buf_grow(xr_buf *b, size_t n, bool exact)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = exact ? b->len + n + 1 : b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void xr_buf_add(xr_buf *b, const char *s, size_t n)
{
    if (!xr_buf_grow(b, n, false))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void xr_buf_str(xr_buf *b, const char *s) { xr_buf_add(b, s, strlen(s)); }

static void xr_buf_printf(xr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xr_buf_printf(xr_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) { /* our formats stay short */
        b->failed = true;
        return;
    }
    xr_buf_add(b, tmp, (size_t)n);
}

static void xr_buf_escaped(xr_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': xr_buf_str(b, "&lt;"); break;
        case '>': xr_buf_str(b, "&gt;"); break;
        case '&': xr_buf_str(b, "&amp;"); break;
        default: xr_buf_add(b, &s[i], 1);
        }
    }
}

void xr_buf_free(xr_buf *b)
{
    free(b->data);
    *b = (xr_buf){0};
}

/* ---- the XML-RPC call, read by expat ---- */

enum vtype { V_NONE, V_INT, V_DOUBLE, V_STRING, V_BOOL, V_OTHER };

typedef struct param {
    enum vtype type;
    bool bad;          /* a scalar whose text is not of its type */
    int64_t i;
    double d;
} param;

typedef struct call {
    int depth;
    bool ok_root;      /* <methodCall> at the top */
    xr_buf name;          /* methodName */
    xr_buf text;          /* character data of the current scalar */
    int nparams;
    param params[MAX_PARAMS];
    enum vtype cur;    /* type element of the current top-level value */
    int fault;         /* set by a handler: stop with this fault */
    const char *why;
} call;

static void call_fault(call *c, XML_Parser p, int code, const char *why)
{
    if (!c->fault) {
        c->fault = code;
        c->why = why;
    }
    XML_StopParser(p, XML_FALSE);
}

/* Depths: 1 methodCall, 2 methodName | params, 3 param, 4 value, 5 the type
 * element (int, double, string, array ...), deeper: inside arrays/structs. */
static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    XML_Parser p = ud;
    call *c = XML_GetUserData(p);
    c->depth++;
    if (c->depth == 1) {
        if (strcmp(name, "methodCall") != 0)
            call_fault(c, p, -32600, "the document is not a methodCall");
        c->ok_root = true;
    } else if (c->depth == 4 && strcmp(name, "value") == 0) {
        c->nparams++;
        c->cur = V_NONE;
        c->text.len = 0;
    } else if (c->depth == 5 && c->nparams <= MAX_PARAMS) {
        c->text.len = 0;
        if (!strcmp(name, "int") || !strcmp(name, "i4") || !strcmp(name, "i8"))
            c->cur = V_INT;
        else if (!strcmp(name, "double"))
            c->cur = V_DOUBLE;
        else if (!strcmp(name, "string"))
            c->cur = V_STRING;
        else if (!strcmp(name, "boolean"))
            c->cur = V_BOOL;
        else
            c->cur = V_OTHER;
    }
}

static void trim(const char *s, size_t n, const char **out, size_t *outn)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    *out = s;
    *outn = n;
}

static void finish_param(call *c, const char *elem)
{
    param *pm = &c->params[c->nparams - 1];
    const char *t;
    size_t n;
    trim(c->text.data ? c->text.data : "", c->text.len, &t, &n);
    char tmp[64];
    bool fits = n > 0 && n < sizeof tmp;
    if (fits) {
        memcpy(tmp, t, n);
        tmp[n] = 0;
    }
    char *end = NULL;
    pm->type = c->cur;
    errno = 0;
    switch (c->cur) {
    case V_INT: {
        long long v = fits ? strtoll(tmp, &end, 10) : 0;
        bool i32 = strcmp(elem, "i8") != 0;
        pm->bad = !fits || *end || errno || (i32 && (v < INT32_MIN || v > INT32_MAX));
        pm->i = v;
        break;
    }
    case V_DOUBLE:
        pm->d = fits ? strtod(tmp, &end) : 0;
        pm->bad = !fits || *end || !isfinite(pm->d);
        break;
    case V_BOOL:
        pm->bad = !(n == 1 && (*t == '0' || *t == '1'));
        pm->i = n == 1 && *t == '1';
        break;
    default:
        break;
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    XML_Parser p = ud;
    call *c = XML_GetUserData(p);
    bool top = c->nparams >= 1 && c->nparams <= MAX_PARAMS;
    if (c->depth == 5 && top && c->cur != V_OTHER)
        finish_param(c, name);
    else if (c->depth == 5 && top)
        c->params[c->nparams - 1].type = V_OTHER;
    else if (c->depth == 4 && top && strcmp(name, "value") == 0 && c->cur == V_NONE)
        c->params[c->nparams - 1].type = V_STRING; /* bare text is a string */
    c->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
    XML_Parser p = ud;
    call *c = XML_GetUserData(p);
    if (c->depth == 2 && c->nparams == 0 && c->name.len < 256)
        xr_buf_add(&c->name, s, (size_t)len); /* methodName's text */
    else if ((c->depth == 4 || c->depth == 5) && c->text.len < 64)
        xr_buf_add(&c->text, s, (size_t)len);
}

/* No DTDs: entity tricks have no place in a method call. */
static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    XML_Parser p = ud;
    call_fault(XML_GetUserData(p), p, -32700, "DTDs are not accepted");
}

/* ---- the methods ---- */

#define RESPONSE_START "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value>"
#define RESPONSE_END "</value></param></params></methodResponse>\n"

static void response_start(xr_buf *out) { xr_buf_str(out, RESPONSE_START); }

static void response_end(xr_buf *out) { xr_buf_str(out, RESPONSE_END); }

static void fault(xr_buf *out, int code, const char *msg)
{
    out->len = 0;
    xr_buf_str(out, "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>"
                 "<member><name>faultCode</name><value>");
    xr_buf_printf(out, "<int>%d</int>", code);
    xr_buf_str(out, "</value></member><member><name>faultString</name><value><string>");
    xr_buf_escaped(out, msg, strlen(msg));
    xr_buf_str(out, "</string></value></member></struct></value></fault></methodResponse>\n");
}

static bool is_number(const param *p) { return !p->bad && (p->type == V_INT || p->type == V_DOUBLE); }

static void method_add(const call *c, xr_buf *out)
{
    const param *a = &c->params[0], *b = &c->params[1];
    if (c->nparams != 2 || !is_number(a) || !is_number(b)) {
        fault(out, -32602, "add(a, b) takes two numbers (int or double)");
        return;
    }
    response_start(out);
    if (a->type == V_INT && b->type == V_INT) {
        int64_t sum;
        if (__builtin_add_overflow(a->i, b->i, &sum)) {
            fault(out, -32602, "add: integer overflow");
            return;
        }
        if (sum >= INT32_MIN && sum <= INT32_MAX)
            xr_buf_printf(out, "<int>%" PRId64 "</int>", sum);
        else
            xr_buf_printf(out, "<i8>%" PRId64 "</i8>", sum);
    } else {
        double x = a->type == V_INT ? (double)a->i : a->d;
        double y = b->type == V_INT ? (double)b->i : b->d;
        if (!isfinite(x + y)) {
            fault(out, -32602, "add: the sum is not a finite double");
            return;
        }
        xr_buf_printf(out, "<double>%.17g</double>", x + y);
    }
    response_end(out);
}

/* Whether a methodResponse of SIZE bytes may be built now; if not, OUT holds
 * a fault naming the limit. Checked before building, so that a refused
 * request costs nothing. */
static bool may_build(const xr_limits *lim, size_t size, xr_buf *out)
{
    char why[256];
    if (size > lim->max_response) {
        snprintf(why, sizeof why,
                 "the response would take %zu bytes, over the limit %zu (--max-response)",
                 size, lim->max_response);
        fault(out, -32602, why);
        return false;
    }
    size_t http = size + HTTP_HEAD_MAX;
    if (http > XR_SMALL_RESPONSE &&
        (lim->queued > lim->write_budget || http > lim->write_budget - lim->queued)) {
        snprintf(why, sizeof why,
                 "server busy: %zu bytes of responses wait for slow readers, and %zu more "
                 "would pass the limit %zu (--write-budget); try again later",
                 lim->queued, http, lim->write_budget);
        fault(out, -32400, why);
        return false;
    }
    return true;
}

static void method_gen(const call *c, const xr_limits *lim, xr_buf *out)
{
    const param *n = &c->params[0];
    if (c->nparams != 1 || n->type != V_INT || n->bad || n->i < 0) {
        fault(out, -32602, "gen(n) takes one int n >= 0");
        return;
    }
    if ((uint64_t)n->i > lim->max_gen) {
        char why[128];
        snprintf(why, sizeof why, "gen: n=%" PRId64 " exceeds the limit %zu (--max-gen)",
                 n->i, lim->max_gen);
        fault(out, -32602, why);
        return;
    }
    static const char tag[] = "<string>", end_tag[] = "</string>";
    size_t size = sizeof RESPONSE_START - 1 + sizeof tag - 1 + (size_t)n->i +
                  sizeof end_tag - 1 + sizeof RESPONSE_END - 1;
    if (!may_build(lim, size, out) || !xr_buf_grow(out, size, true))
        return;
    response_start(out);
    xr_buf_str(out, tag);
    static char zeros[4096];
    if (!zeros[0])
        memset(zeros, '0', sizeof zeros);
    for (int64_t left = n->i; left > 0; left -= (int64_t)sizeof zeros)
        xr_buf_add(out, zeros, left < (int64_t)sizeof zeros ? (size_t)left : sizeof zeros);
    xr_buf_str(out, end_tag);
    response_end(out);
}

static void method_list(const call *c, xr_buf *out)
{
    if (c->nparams != 0) {
        fault(out, -32602, "system.listMethods takes no parameters");
        return;
    }
    response_start(out);
    xr_buf_str(out, "<array><data><value><string>add</string></value>"
                 "<value><string>gen</string></value>"
                 "<value><string>system.listMethods</string></value></data></array>");
    response_end(out);
}

void xr_call(const char *body, size_t len, const xr_limits *lim, xr_buf *out)
{
    call c = {0};
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (!p) {
        fault(out, -32603, "out of memory");
        return;
    }
    XML_SetUserData(p, &c);
    XML_UseParserAsHandlerArg(p);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    enum XML_Status st = XML_Parse(p, body ? body : "", (int)len, XML_TRUE);
    char why[160];
    if (c.fault) {
        fault(out, c.fault, c.why);
    } else if (st != XML_STATUS_OK) {
        snprintf(why, sizeof why, "malformed XML: %s at line %lu",
                 XML_ErrorString(XML_GetErrorCode(p)),
                 (unsigned long)XML_GetCurrentLineNumber(p));
        fault(out, -32700, why);
    } else if (!c.ok_root || !c.name.data) {
        fault(out, -32600, "not a method call: methodCall with a methodName expected");
    } else {
        const char *name;
        size_t n;
        trim(c.name.data, c.name.len, &name, &n);
        if (n == 3 && !memcmp(name, "add", 3)) {
            method_add(&c, out);
        } else if (n == 3 && !memcmp(name, "gen", 3)) {
            method_gen(&c, lim, out);
        } else if (n == 18 && !memcmp(name, "system.listMethods", 18)) {
            method_list(&c, out);
        } else {
            snprintf(why, sizeof why, "unknown method '%.*s'", (int)(n > 64 ? 64 : n), name);
            fault(out, -32601, why);
        }
    }
    XML_ParserFree(p);
    xr_buf_free(&c.name);
    xr_buf_free(&c.text);
}

/* ---- HTTP ---- */

struct xr_conn {
    http_parser parser;
    const xr_limits *lim;
    bool in_request;    /* some bytes of a request have arrived */
    bool complete;      /* on_message_complete ran: the parser is paused */
    bool too_large;
    bool url_root;      /* the path is "/" */
    bool linger;        /* an error answer: drain the input before closing */
    size_t url_len;
    char url[64];
    xr_buf body;
};

typedef struct xr_conn conn;

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    c->in_request = true;
    c->url_len = 0;
    c->too_large = false;
    c->body.len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    size_t room = sizeof c->url - 1 - c->url_len;
    memcpy(c->url + c->url_len, at, n < room ? n : room);
    c->url_len += n < room ? n : room;
    c->url[c->url_len] = 0;
    if (n > room)
        c->url_len = sizeof c->url - 1; /* too long to be "/" anyway */
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    c->url_root = strcmp(c->url, "/") == 0 || strncmp(c->url, "/?", 2) == 0;
    if (p->content_length != ULLONG_MAX && p->content_length > MAX_BODY) {
        c->too_large = true;
        return -1; /* an error: the body is never read */
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->body.len + n > MAX_BODY) { /* chunked bodies grow here */
        c->too_large = true;
        return -1;
    }
    xr_buf_add(&c->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    c->complete = true;
    http_parser_pause(p, 1); /* answer before parsing a pipelined request */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The whole response in one buffer, sent in one write: a header written
 * apart from the body meets the peer's delayed ACK (40 ms stalls under
 * keep-alive). */
static void respond(xr_buf *out, int status, const char *reason, const char *type,
                    const char *body, size_t len, bool keep_alive)
{
    xr_buf_grow(out, HTTP_HEAD_MAX + len, true);
    xr_buf_printf(out, "HTTP/1.1 %d %s\r\nServer: gzmq-xmlrpc-server\r\n", status, reason);
    xr_buf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n", type, len);
    xr_buf_str(out, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    xr_buf_add(out, body, len);
}

void xr_error(conn *c, int status, const char *reason, xr_buf *out)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    c->linger = true;
    respond(out, status, reason, "text/plain", body, (size_t)n, false);
}

/* Answer the complete request into OUT. */
static enum xr_step answer(conn *c, xr_buf *out)
{
    bool keep = http_should_keep_alive(&c->parser);
    if (c->parser.method == HTTP_GET && c->url_root) {
        respond(out, 200, "OK", "text/plain", GET_BODY, sizeof GET_BODY - 1, keep);
    } else if (c->parser.method == HTTP_POST) {
        xr_buf res = {0};
        if (c->body.failed)
            fault(&res, -32603, "out of memory");
        else
            xr_call(c->body.data, c->body.len, c->lim, &res);
        if (res.failed) {
            xr_error(c, 500, "Internal Server Error", out);
            keep = false;
        } else {
            respond(out, 200, "OK", "text/xml", res.data, res.len, keep);
        }
        xr_buf_free(&res);
    } else if (c->parser.method == HTTP_GET) {
        respond(out, 404, "Not Found", "text/plain", "404 Not Found\n", 14, keep);
    } else {
        xr_error(c, 405, "Method Not Allowed", out);
        keep = false;
    }
    if (c->body.cap > 65536) /* don't keep a large buffer on an idle connection */
        xr_buf_free(&c->body);
    return keep ? XR_ANSWER : XR_CLOSE;
}

enum xr_step xr_feed(conn *c, const char *data, size_t len, size_t *used, xr_buf *out)
{
    *used = 0;
    if (len == 0) /* to http_parser, no bytes means end of input */
        return XR_MORE;
    *used = http_parser_execute(&c->parser, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->too_large) {
        xr_error(c, 413, "Payload Too Large", out);
        return XR_CLOSE;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        xr_error(c, 400, "Bad Request", out);
        return XR_CLOSE;
    }
    if (!c->complete)
        return XR_MORE; /* all taken, the request goes on */
    c->complete = false;
    c->in_request = false;
    http_parser_pause(&c->parser, 0);
    return answer(c, out);
}

xr_conn *xr_conn_new(const xr_limits *lim)
{
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->lim = lim;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    return c;
}

void xr_conn_free(conn *c)
{
    if (!c)
        return;
    xr_buf_free(&c->body);
    free(c);
}

bool xr_in_request(const conn *c) { return c->in_request; }

bool xr_linger(const conn *c) { return c->linger; }
