/* gzmq-xmlrpc-server: the XML-RPC server of the seed article's benchmark,
 * one greenlet per connection on gz_server.
 *
 *   gzmq-xmlrpc-server --port P [--host H] [--max-connections N]
 *                      [--idle-timeout S] [--request-timeout S]
 *
 * Methods: add(a, b) (ints or doubles), gen(n) (a string of n zeros) and
 * system.listMethods(). HTTP/1.1 with keep-alive, parsed by libhttp-parser;
 * XML parsed by expat. GET / answers a fixed small body, for wrk. Errors:
 * XML-RPC faults (-32700 malformed XML, -32600 not a method call, -32601
 * unknown method, -32602 wrong parameters), HTTP 400 for malformed HTTP, 413
 * for bodies over 1 MiB, 408 for a request not complete within the request
 * timeout; idle keep-alive connections are closed after the idle timeout.
 * SIGINT / SIGTERM stop it gracefully. */
#include <expat.h>
#include <getopt.h>
#include <http_parser.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>

#include <gzmq.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)       /* larger request bodies get 413 */
#define MAX_GEN (16u << 20)       /* gen(n) answers at most this many zeros */
#define MAX_PARAMS 8
#define GET_BODY "Hello from gzmq-xmlrpc-server\n"

static double idle_timeout = 60.0;    /* between requests on a connection */
static double request_timeout = 30.0; /* from a request's first byte to its end */
static double write_timeout = 30.0;

/* ---- a growable byte buffer ---- */

typedef struct buf {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: the content is incomplete */
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
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
    buf_add(b, tmp, (size_t)n);
}

static void buf_escaped(buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': buf_str(b, "&lt;"); break;
        case '>': buf_str(b, "&gt;"); break;
        case '&': buf_str(b, "&amp;"); break;
        default: buf_add(b, &s[i], 1);
        }
    }
}

static void buf_free(buf *b)
{
    free(b->data);
    *b = (buf){0};
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
    buf name;          /* methodName */
    buf text;          /* character data of the current scalar */
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
        buf_add(&c->name, s, (size_t)len); /* methodName's text */
    else if ((c->depth == 4 || c->depth == 5) && c->text.len < 64)
        buf_add(&c->text, s, (size_t)len);
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

static void response_start(buf *out)
{
    buf_str(out, "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value>");
}

static void response_end(buf *out)
{
    buf_str(out, "</value></param></params></methodResponse>\n");
}

static void fault(buf *out, int code, const char *msg)
{
    out->len = 0;
    buf_str(out, "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>"
                 "<member><name>faultCode</name><value>");
    buf_printf(out, "<int>%d</int>", code);
    buf_str(out, "</value></member><member><name>faultString</name><value><string>");
    buf_escaped(out, msg, strlen(msg));
    buf_str(out, "</string></value></member></struct></value></fault></methodResponse>\n");
}

static bool is_number(const param *p) { return !p->bad && (p->type == V_INT || p->type == V_DOUBLE); }

static void method_add(const call *c, buf *out)
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
            buf_printf(out, "<int>%" PRId64 "</int>", sum);
        else
            buf_printf(out, "<i8>%" PRId64 "</i8>", sum);
    } else {
        double x = a->type == V_INT ? (double)a->i : a->d;
        double y = b->type == V_INT ? (double)b->i : b->d;
        if (!isfinite(x + y)) {
            fault(out, -32602, "add: the sum is not a finite double");
            return;
        }
        buf_printf(out, "<double>%.17g</double>", x + y);
    }
    response_end(out);
}

static void method_gen(const call *c, buf *out)
{
    const param *n = &c->params[0];
    if (c->nparams != 1 || n->type != V_INT || n->bad || n->i < 0 || n->i > MAX_GEN) {
        fault(out, -32602, "gen(n) takes one int, 0 <= n <= 16777216");
        return;
    }
    response_start(out);
    buf_str(out, "<string>");
    static char zeros[4096];
    if (!zeros[0])
        memset(zeros, '0', sizeof zeros);
    for (int64_t left = n->i; left > 0; left -= (int64_t)sizeof zeros)
        buf_add(out, zeros, left < (int64_t)sizeof zeros ? (size_t)left : sizeof zeros);
    buf_str(out, "</string>");
    response_end(out);
}

static void method_list(const call *c, buf *out)
{
    if (c->nparams != 0) {
        fault(out, -32602, "system.listMethods takes no parameters");
        return;
    }
    response_start(out);
    buf_str(out, "<array><data><value><string>add</string></value>"
                 "<value><string>gen</string></value>"
                 "<value><string>system.listMethods</string></value></data></array>");
    response_end(out);
}

/* Parse BODY as a methodCall and write the methodResponse into OUT. */
static void xmlrpc(const char *body, size_t len, buf *out)
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
            method_gen(&c, out);
        } else if (n == 18 && !memcmp(name, "system.listMethods", 18)) {
            method_list(&c, out);
        } else {
            snprintf(why, sizeof why, "unknown method '%.*s'", (int)(n > 64 ? 64 : n), name);
            fault(out, -32601, why);
        }
    }
    XML_ParserFree(p);
    buf_free(&c.name);
    buf_free(&c.text);
}

/* ---- HTTP ---- */

typedef struct conn {
    int fd;
    http_parser parser;
    bool in_request;    /* some bytes of a request have arrived */
    bool complete;      /* on_message_complete ran: the parser is paused */
    bool too_large;
    bool url_root;      /* the path is "/" */
    bool linger;        /* an error answer: drain the input before closing */
    size_t url_len;
    char url[64];
    buf body;
} conn;

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
    buf_add(&c->body, at, n);
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

/* Send the whole response in one write: a header written apart from the
 * body meets the peer's delayed ACK (40 ms stalls under keep-alive). */
static int respond(conn *c, int status, const char *reason, const char *type,
                   const char *body, size_t len, bool keep_alive)
{
    buf r = {0};
    buf_printf(&r, "HTTP/1.1 %d %s\r\nServer: gzmq-xmlrpc-server\r\n", status, reason);
    buf_printf(&r, "Content-Type: %s\r\nContent-Length: %zu\r\n", type, len);
    buf_str(&r, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    buf_add(&r, body, len);
    int rc = r.failed ? -1 : 0;
    if (rc == 0 && gz_write(c->fd, r.data, r.len, write_timeout) < 0)
        rc = -1;
    buf_free(&r);
    return rc;
}

static int respond_error(conn *c, int status, const char *reason)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, reason);
    c->linger = true;
    return respond(c, status, reason, "text/plain", body, (size_t)n, false);
}

/* Answer the complete request in C; -1 when the connection must close. */
static int answer(conn *c)
{
    bool keep = http_should_keep_alive(&c->parser);
    int rc;
    if (c->parser.method == HTTP_GET && c->url_root) {
        rc = respond(c, 200, "OK", "text/plain", GET_BODY, sizeof GET_BODY - 1, keep);
    } else if (c->parser.method == HTTP_POST) {
        buf out = {0};
        if (c->body.failed)
            fault(&out, -32603, "out of memory");
        else
            xmlrpc(c->body.data, c->body.len, &out);
        rc = out.failed ? respond_error(c, 500, "Internal Server Error")
                        : respond(c, 200, "OK", "text/xml", out.data, out.len, keep);
        buf_free(&out);
    } else if (c->parser.method == HTTP_GET) {
        rc = respond(c, 404, "Not Found", "text/plain", "404 Not Found\n", 14, keep);
    } else {
        rc = respond_error(c, 405, "Method Not Allowed");
        keep = false;
    }
    if (c->body.cap > 65536) /* don't keep a large buffer on an idle connection */
        buf_free(&c->body);
    return rc == 0 && keep ? 0 : -1;
}

/* Feed DATA to the parser, answering each complete request; -1 to close.
 * Pipelined bytes left after a request are copied aside before the answer
 * is written, since the read buffer is shared by every connection. */
static int feed(conn *c, const char *data, size_t len)
{
    char *spare = NULL;
    int rc = 0;
    while (len > 0 || c->complete) {
        size_t used = http_parser_execute(&c->parser, &settings, data, len);
        data += used;
        len -= used;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (c->too_large) {
            respond_error(c, 413, "Payload Too Large");
            rc = -1;
            break;
        }
        if (e != HPE_OK && e != HPE_PAUSED) {
            respond_error(c, 400, "Bad Request");
            rc = -1;
            break;
        }
        if (!c->complete)
            break; /* all consumed, the request goes on */
        c->complete = false;
        c->in_request = false;
        http_parser_pause(&c->parser, 0);
        if (len > 0 && !spare) {
            spare = malloc(len);
            if (!spare) {
                rc = -1;
                break;
            }
            memcpy(spare, data, len);
            data = spare;
        }
        if (answer(c) < 0) {
            rc = -1;
            break;
        }
    }
    free(spare);
    return rc;
}

/* After an error answer the client may still be sending (a 2 MiB body we
 * refused): closing with unread input would reset the connection and could
 * destroy the answer before the client reads it. Read and drop the input
 * for a while first, as web servers do. */
static void linger_close(int fd)
{
    static char sink[16384];
    shutdown(fd, SHUT_WR);
    double end = gz_now() + 2.0;
    size_t total = 0;
    while (total < (16u << 20)) {
        double left = end - gz_now();
        ssize_t n = left > 0 ? gz_read(fd, sink, sizeof sink, left) : -1;
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

/* One read buffer for the whole thread: a greenlet fills it and parses it
 * without blocking in between, so no other greenlet touches it meanwhile.
 * Per-connection memory stays small with 10000 clients. */
static char rbuf[64 * 1024];

static void handle(int fd, void *arg)
{
    (void)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    double started = 0;
    for (;;) {
        double t = idle_timeout;
        if (c->in_request) {
            t = started + request_timeout - gz_now();
            if (t < 0)
                t = 0;
        }
        ssize_t n = gz_read(fd, rbuf, sizeof rbuf, t);
        if (n < 0 && errno == ETIMEDOUT && c->in_request) {
            respond_error(c, 408, "Request Timeout"); /* a slow client */
            break;
        }
        if (n <= 0)
            break; /* EOF, an idle client, a reset, or a kill */
        if (!c->in_request)
            started = gz_now();
        if (feed(c, rbuf, (size_t)n) < 0)
            break;
        if (!c->in_request)
            started = 0;
    }
    if (c->linger)
        linger_close(fd);
    buf_free(&c->body);
    free(c);
    close(fd);
}

/* ---- main ---- */

static gz_server *server;

static void on_signal(int signum, void *arg)
{
    (void)arg;
    fprintf(stderr, "gzmq-xmlrpc-server: signal %d, stopping\n", signum);
    gz_signal_cancel(SIGINT);
    gz_signal_cancel(SIGTERM);
    gz_server_stop(server, 5.0);
}

static void usage(FILE *f)
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

int main(int argc, char **argv)
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
    const char *host = NULL;
    double port = -1, maxc = 0;
    int o;
    while ((o = getopt_long(argc, argv, "p:H:m:i:r:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (o) {
        case 'p': ok = parse_num(optarg, 0, 65535, &port) && port == floor(port); break;
        case 'H': host = optarg; break;
        case 'm': ok = parse_num(optarg, 0, 1e9, &maxc) && maxc == floor(maxc); break;
        case 'i': ok = parse_num(optarg, 0.001, 1e9, &idle_timeout); break;
        case 'r': ok = parse_num(optarg, 0.001, 1e9, &request_timeout); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "gzmq-xmlrpc-server: bad value for --%s: '%s'\n",
                    o == 'p' ? "port" : o == 'm' ? "max-connections" :
                    o == 'i' ? "idle-timeout" : "request-timeout", optarg);
            return 2;
        }
    }
    if (port < 0 || optind < argc) {
        usage(stderr);
        return 2;
    }
    /* One descriptor per client: take the hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int lfd = gz_tcp_listen(host, (int)port, 0);
    if (lfd < 0) {
        fprintf(stderr, "gzmq-xmlrpc-server: cannot listen on %s:%d: %s\n",
                host ? host : "*", (int)port, strerror(errno));
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    int real_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    server = gz_server_new(lfd, handle, NULL, (size_t)maxc);
    if (!server || gz_server_start(server) < 0) {
        fprintf(stderr, "gzmq-xmlrpc-server: %s\n", strerror(errno));
        return 1;
    }
    gz_signal(SIGINT, on_signal, NULL);
    gz_signal(SIGTERM, on_signal, NULL);
    printf("gzmq-xmlrpc-server: listening on %s port %d\n", host ? host : "*", real_port);
    fflush(stdout);
    int rc = gz_run();
    gz_server_free(server);
    close(lfd);
    return rc == 0 ? 0 : 1;
}
