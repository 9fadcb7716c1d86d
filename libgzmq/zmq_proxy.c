/* gz_zmq_proxy: zmq_proxy_steerable as a greenlet of the calling hub.
 *
 * It moves every message it can with ZMQ_DONTWAIT before it waits, as
 * libzmq's proxy does in its own thread: waiting costs a gz_zmq_poll (a
 * ZMQ_EVENTS read per socket), a batch costs one failed recv per side.
 * Within a batch it calls libzmq directly (see move_one); sends wait greenly
 * at the HWM, so a slow side holds up the proxy, not the hub, and it waits
 * through gz_zmq_poll: the waking rules stay in zmq.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gzmq/zmq.h"

/* A message moved per side before the other side and the control socket get
 * their turn, so that a flood one way cannot starve the other. */
#define PROXY_BATCH 256

enum { FRONT, BACK };
enum { MSGS_IN, BYTES_IN, MSGS_OUT, BYTES_OUT }; /* libzmq's STATISTICS order */

typedef struct proxy {
    void *sock[2];
    bool reads[2];    /* false for the send-only types (PUSH, PUB) */
    void *capture;
    void *control;
    bool control_rep; /* a REP control socket answers every command */
    bool paused;
    uint64_t stats[2][4];
} proxy;

/* One frame to the capture socket, a copy: the original goes on. */
static int capture_frame(proxy *p, zmq_msg_t *msg, bool more)
{
    if (!p->capture)
        return 0;
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    if (zmq_msg_copy(&copy, msg) != 0 ||
        gz_zmq_msg_send(&copy, p->capture, more ? ZMQ_SNDMORE : 0) < 0) {
        int e = errno;
        zmq_msg_close(&copy);
        errno = e;
        return -1;
    }
    return 0;
}

/* libzmq's call OP, again while a signal interrupts it. */
#define RETRY_EINTR(rc, op)                      \
    do {                                         \
        (rc) = (op);                             \
    } while ((rc) < 0 && errno == EINTR)

/* Move one whole message FROM -> TO if one is there: 1 moved, 0 none
 * (EAGAIN), -1 error. Inside a batch the proxy uses libzmq's own calls
 * with ZMQ_DONTWAIT, as zmq_proxy does: its sockets are its own (nobody else
 * waits on them), a failed receive ends the batch, and the wait after it
 * (gz_zmq_poll) reads ZMQ_EVENTS before it parks, so no edge is missed. Its
 * frames after the first are there already (atomic delivery); only a send
 * that meets the HWM waits, greenly. (gz_hub_stats does not count these
 * frames.) */
static int move_one(proxy *p, int from, zmq_msg_t *msg)
{
    int to = 1 - from;
    size_t bytes = 0;
    for (bool first = true;; first = false) {
        int n;
        RETRY_EINTR(n, zmq_msg_recv(msg, p->sock[from], ZMQ_DONTWAIT));
        if (n < 0 && (errno != EAGAIN || first))
            return errno == EAGAIN ? 0 : -1;
        if (n < 0 && (n = gz_zmq_msg_recv(msg, p->sock[from], 0)) < 0)
            return -1;
        bytes += (size_t)n;
        bool more = zmq_msg_more(msg) != 0;
        int flags = more ? ZMQ_SNDMORE : 0, rc;
        if (capture_frame(p, msg, more) != 0)
            return -1;
        RETRY_EINTR(rc, zmq_msg_send(msg, p->sock[to], flags | ZMQ_DONTWAIT));
        if (rc < 0 && (errno != EAGAIN || gz_zmq_msg_send(msg, p->sock[to], flags) < 0))
            return -1;
        if (!more)
            break;
    }
    p->stats[from][MSGS_IN]++;
    p->stats[from][BYTES_IN] += bytes;
    p->stats[to][MSGS_OUT]++;
    p->stats[to][BYTES_OUT] += bytes;
    return 1;
}

/* Up to PROXY_BATCH messages FROM -> TO: how many, or -1. */
static int move_batch(proxy *p, int from, zmq_msg_t *msg)
{
    int moved = 0;
    while (p->reads[from] && moved < PROXY_BATCH) {
        int rc = move_one(p, from, msg);
        if (rc <= 0)
            return rc < 0 ? -1 : moved;
        moved++;
    }
    return moved;
}

static int send_stats(proxy *p)
{
    const uint64_t *v = &p->stats[0][0];
    for (int i = 0; i < 8; i++)
        if (gz_zmq_send(p->control, &v[i], sizeof v[i], i < 7 ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* Serve every command waiting on the control socket: 1 TERMINATE, 0 go
 * on, -1 error. An unknown command is ignored (libzmq prints it). */
static int serve_control(proxy *p)
{
    for (;;) {
        char cmd[16];
        int n = gz_zmq_recv(p->control, cmd, sizeof cmd, ZMQ_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        size_t len = (size_t)n < sizeof cmd ? (size_t)n : sizeof cmd;
#define IS(word) (len == sizeof word - 1 && memcmp(cmd, word, len) == 0)
        bool stop = IS("TERMINATE");
        if (IS("STATISTICS")) {
            if (send_stats(p) != 0)
                return -1;
            continue;
        }
        if (IS("PAUSE"))
            p->paused = true;
        else if (IS("RESUME"))
            p->paused = false;
#undef IS
        if (p->control_rep && gz_zmq_send(p->control, "", 0, 0) < 0)
            return -1;
        if (stop)
            return 1;
    }
}

/* Wait until a side (unless paused) or the control socket has input. */
static int wait_input(proxy *p)
{
    zmq_pollitem_t items[3];
    int n = 0;
    if (p->control)
        items[n++] = (zmq_pollitem_t){.socket = p->control, .events = ZMQ_POLLIN};
    if (!p->paused) {
        if (p->reads[FRONT])
            items[n++] = (zmq_pollitem_t){.socket = p->sock[FRONT], .events = ZMQ_POLLIN};
        if (p->reads[BACK] && p->sock[BACK] != p->sock[FRONT])
            items[n++] = (zmq_pollitem_t){.socket = p->sock[BACK], .events = ZMQ_POLLIN};
    }
    return gz_zmq_poll(items, n, -1) < 0 ? -1 : 0;
}

static int run(proxy *p)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = 0;
    for (;;) {
        if (p->control && (rc = serve_control(p)) != 0)
            break;
        int moved = 0;
        if (!p->paused) {
            int a = move_batch(p, FRONT, &msg);
            int b = a < 0 || p->sock[BACK] == p->sock[FRONT] ? 0 : move_batch(p, BACK, &msg);
            if (a < 0 || b < 0) {
                rc = -1;
                break;
            }
            moved = a + b;
        }
        /* libzmq's calls do not yield: let the hub's other greenlets, and
         * a kill, in between two rounds */
        if (moved > 0 && gz_yield() != 0) {
            rc = -1;
            break;
        }
        if (moved == 0 && wait_input(p) != 0) {
            rc = -1;
            break;
        }
    }
    int e = errno;
    zmq_msg_close(&msg);
    errno = e;
    return rc < 0 ? -1 : 0;
}

static void *proxy_main(void *arg)
{
    proxy p = *(proxy *)arg;
    free(arg);
    if (run(&p) != 0 && !(errno == ECANCELED && gz_killed(gz_current())))
        gz_fail(errno, "gz_zmq_proxy: %s", zmq_strerror(errno));
    return NULL;
}

/* The socket's type, or -1 ENOTSOCK. */
static int sock_type(void *s)
{
    int type = -1;
    size_t len = sizeof type;
    if (!s || zmq_getsockopt(s, ZMQ_TYPE, &type, &len) != 0) {
        errno = ENOTSOCK;
        return -1;
    }
    return type;
}

gz_greenlet *gz_zmq_proxy(void *frontend, void *backend, void *capture, void *control)
{
    if (!frontend || !backend) {
        errno = EINVAL;
        return NULL;
    }
    int ctype = 0, ftype, btype;
    if ((ftype = sock_type(frontend)) < 0 || (btype = sock_type(backend)) < 0 ||
        (capture && sock_type(capture) < 0) ||
        (control && (ctype = sock_type(control)) < 0))
        return NULL;
    proxy *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    *p = (proxy){.sock = {frontend, backend},
                 .reads = {ftype != ZMQ_PUSH && ftype != ZMQ_PUB,
                           btype != ZMQ_PUSH && btype != ZMQ_PUB},
                 .capture = capture,
                 .control = control, .control_rep = control && ctype == ZMQ_REP};
    gz_greenlet *g = gz_spawn(proxy_main, p);
    if (!g)
        free(p);
    else
        gz_set_name(g, "gz_zmq_proxy");
    return g;
}
