/* gz_zmq_monitor: a socket's monitor events, decoded, for greenlets.
 *
 * zmq_socket_monitor binds a PAIR in the socket's context and sends each
 * event on it as two frames (libzmq 4.3's v1 format): six bytes, a
 * uint16_t event and a uint32_t value in host order, then the endpoint.
 * Our PAIR connects before libzmq binds (inproc allows that), so that no
 * event falls in between and is dropped for want of a peer. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/zmq.h"

struct gz_zmq_monitor_t {
    void *pair;
};

gz_zmq_monitor_t *gz_zmq_monitor(void *context, void *socket, int events)
{
    if (!socket) {
        errno = ENOTSOCK;
        return NULL;
    }
    if (!context && !(context = gz_zmq_context()))
        return NULL;
    static atomic_uint serial;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://gz-monitor-%d-%u", (int)getpid(),
             atomic_fetch_add(&serial, 1));
    gz_zmq_monitor_t *m = calloc(1, sizeof *m);
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    int zero = 0;
    m->pair = zmq_socket(context, ZMQ_PAIR);
    if (!m->pair || zmq_setsockopt(m->pair, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(m->pair, ep) != 0 || zmq_socket_monitor(socket, ep, events) != 0)
        goto fail;
    return m;
fail:;
    int e = errno;
    if (m->pair)
        zmq_close(m->pair);
    free(m);
    errno = e;
    return NULL;
}

/* The two frames of one event into EV: 0, or -1 EPROTO. */
static int decode(zmq_msg_t *parts, size_t n, gz_zmq_event *ev)
{
    if (n != 2 || zmq_msg_size(&parts[0]) != 6) {
        errno = EPROTO;
        return -1;
    }
    const unsigned char *head = zmq_msg_data(&parts[0]);
    uint16_t event;
    uint32_t value;
    memcpy(&event, head, sizeof event);
    memcpy(&value, head + 2, sizeof value);
    ev->event = event;
    ev->value = (int)value;
    size_t len = zmq_msg_size(&parts[1]);
    if (len >= sizeof ev->endpoint)
        len = sizeof ev->endpoint - 1;
    memcpy(ev->endpoint, zmq_msg_data(&parts[1]), len);
    ev->endpoint[len] = '\0';
    return 0;
}

/* Not libzmq's format: a message of N frames that gz_zmq_recvv holds for
 * PAIR. Take it, so that the next event can come. */
static void drop_held(void *pair, size_t n)
{
    zmq_msg_t *all = calloc(n, sizeof *all);
    if (!all)
        return;
    for (size_t i = 0; i < n; i++)
        zmq_msg_init(&all[i]);
    gz_zmq_recvv(pair, all, &n, ZMQ_DONTWAIT);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&all[i]);
    free(all);
}

int gz_zmq_monitor_next(gz_zmq_monitor_t *m, gz_zmq_event *ev, double timeout)
{
    if (!m || !ev || isnan(timeout)) {
        errno = EINVAL;
        return -1;
    }
    double deadline = timeout < 0 ? -1 : gz_now() + timeout;
    for (;;) {
        zmq_msg_t parts[2];
        zmq_msg_init(&parts[0]);
        zmq_msg_init(&parts[1]);
        size_t n = 2;
        int rc = gz_zmq_recvv(m->pair, parts, &n, ZMQ_DONTWAIT);
        int e = errno;
        if (rc >= 0) {
            rc = decode(parts, n, ev);
            e = errno;
        } else if (e == EMSGSIZE) {
            drop_held(m->pair, n);
            e = EPROTO;
        }
        zmq_msg_close(&parts[0]);
        zmq_msg_close(&parts[1]);
        if (rc == 0)
            return 0;
        if (e != EAGAIN) {
            errno = e;
            return -1;
        }
        /* Another greenlet may take what poll saw: wait again for the rest
         * of the time. */
        long ms = -1;
        if (deadline >= 0) {
            double left = deadline - gz_now();
            ms = left > 0 ? (long)ceil(left * 1000) : 0;
        }
        zmq_pollitem_t it = {.socket = m->pair, .events = ZMQ_POLLIN};
        rc = gz_zmq_poll(&it, 1, ms);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

void *gz_zmq_monitor_socket(gz_zmq_monitor_t *m)
{
    if (!m) {
        errno = EINVAL;
        return NULL;
    }
    return m->pair;
}

void gz_zmq_monitor_close(gz_zmq_monitor_t *m)
{
    if (!m)
        return;
    int e = errno;
    gz_zmq_close(m->pair);
    free(m);
    errno = e;
}

const char *gz_zmq_event_name(int event)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED: return "CONNECTED";
    case ZMQ_EVENT_CONNECT_DELAYED: return "CONNECT_DELAYED";
    case ZMQ_EVENT_CONNECT_RETRIED: return "CONNECT_RETRIED";
    case ZMQ_EVENT_LISTENING: return "LISTENING";
    case ZMQ_EVENT_BIND_FAILED: return "BIND_FAILED";
    case ZMQ_EVENT_ACCEPTED: return "ACCEPTED";
    case ZMQ_EVENT_ACCEPT_FAILED: return "ACCEPT_FAILED";
    case ZMQ_EVENT_CLOSED: return "CLOSED";
    case ZMQ_EVENT_CLOSE_FAILED: return "CLOSE_FAILED";
    case ZMQ_EVENT_DISCONNECTED: return "DISCONNECTED";
    case ZMQ_EVENT_MONITOR_STOPPED: return "MONITOR_STOPPED";
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return "HANDSHAKE_FAILED_NO_DETAIL";
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return "HANDSHAKE_SUCCEEDED";
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return "HANDSHAKE_FAILED_PROTOCOL";
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return "HANDSHAKE_FAILED_AUTH";
    default: return "UNKNOWN";
    }
}
