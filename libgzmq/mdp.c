/* Majordomo (rfc 7/MDP, with 8/MMI's mmi.service): client, worker, broker.
 *
 * Built on the green ZeroMQ calls only, so everything here blocks just the
 * calling greenlet. The wire format, as the broker's ROUTER sees it:
 *   client:  [id] [""] ["MDPC01"] [service] [body...]
 *   worker:  [id] [""] ["MDPW01"] [cmd] ...   READY 1 [service]
 *            REQUEST 2 [client] [""] [body...]  REPLY 3 [client] [""] [body...]
 *            HEARTBEAT 4   DISCONNECT 5
 * Clients use REQ sockets (the empty frame is REQ's envelope), workers DEALER
 * sockets that send the empty frame themselves. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gzmq/mdp.h"
#include "gzmq/zmq.h"

#define MDPC "MDPC01"
#define MDPW "MDPW01"
enum { CMD_READY = 1, CMD_REQUEST, CMD_REPLY, CMD_HEARTBEAT, CMD_DISCONNECT };

#define DEFAULT_HEARTBEAT 2.5
#define DEFAULT_LIVENESS 3
#define SERVICE_MAX 255 /* a service name is one short string on the wire */
/* Requests waiting in a broker for a worker, across services: beyond it a
 * new one is dropped (its client retries), so that clients asking for
 * services nobody offers cannot make the broker grow without bound. */
#define QUEUED_MAX 100000

/* ---- messages ---- */

struct gz_mdp_msg {
    size_t n, cap;
    zmq_msg_t *f;
    gz_list link; /* the broker's queue of requests for a service */
};

gz_mdp_msg *gz_mdp_msg_new(void)
{
    gz_mdp_msg *m = calloc(1, sizeof *m);
    if (!m)
        errno = ENOMEM;
    return m;
}

void gz_mdp_msg_destroy(gz_mdp_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->f[i]);
    free(m->f);
    free(m);
}

/* Room for one more frame. */
static int msg_grow(gz_mdp_msg *m)
{
    if (m->n < m->cap)
        return 0;
    size_t cap = m->cap ? m->cap * 2 : 8;
    zmq_msg_t *f = realloc(m->f, cap * sizeof *f);
    if (!f) {
        errno = ENOMEM;
        return -1;
    }
    m->f = f;
    m->cap = cap;
    return 0;
}

int gz_mdp_msg_append(gz_mdp_msg *m, const void *data, size_t size)
{
    if (!m || (!data && size)) {
        errno = EINVAL;
        return -1;
    }
    if (msg_grow(m) || zmq_msg_init_size(&m->f[m->n], size)) {
        errno = ENOMEM;
        return -1;
    }
    if (size)
        memcpy(zmq_msg_data(&m->f[m->n]), data, size);
    m->n++;
    return 0;
}

size_t gz_mdp_msg_frames(const gz_mdp_msg *m) { return m ? m->n : 0; }

const void *gz_mdp_msg_frame(const gz_mdp_msg *m, size_t i, size_t *size)
{
    if (!m || i >= m->n) {
        errno = EINVAL;
        return NULL;
    }
    zmq_msg_t *f = (zmq_msg_t *)&m->f[i];
    if (size)
        *size = zmq_msg_size(f);
    return zmq_msg_data(f);
}

static bool frame_is(const gz_mdp_msg *m, size_t i, const void *s, size_t len)
{
    zmq_msg_t *f = (zmq_msg_t *)&m->f[i];
    return zmq_msg_size(f) == len && (len == 0 || memcmp(zmq_msg_data(f), s, len) == 0);
}

static size_t frame_size(const gz_mdp_msg *m, size_t i)
{
    return zmq_msg_size((zmq_msg_t *)&m->f[i]);
}

/* Drop the first K frames. */
static void msg_shift(gz_mdp_msg *m, size_t k)
{
    for (size_t i = 0; i < k; i++)
        zmq_msg_close(&m->f[i]);
    memmove(m->f, m->f + k, (m->n - k) * sizeof *m->f);
    m->n -= k;
}

/* One whole multipart message from S (waiting per FLAGS). */
static gz_mdp_msg *recv_msg(void *s, int flags)
{
    gz_mdp_msg *m = gz_mdp_msg_new();
    if (!m)
        return NULL;
    for (;;) {
        if (msg_grow(m))
            goto fail;
        zmq_msg_init(&m->f[m->n]);
        if (gz_zmq_msg_recv(&m->f[m->n], s, flags) < 0) {
            zmq_msg_close(&m->f[m->n]);
            goto fail;
        }
        bool more = zmq_msg_more(&m->f[m->n]);
        m->n++;
        if (!more)
            return m;
        flags &= ~ZMQ_DONTWAIT; /* the rest has arrived with the first */
    }
fail:;
    int err = errno;
    gz_mdp_msg_destroy(m);
    errno = err;
    return NULL;
}

/* A frame to send, given by its bytes. */
typedef struct part {
    const void *data;
    size_t size;
} part;

/* Send the NP PARTS then frames FROM.. of BODY (BODY may be NULL), as one
 * message. Body frames are copied (libzmq shares large ones), so BODY stays. */
static int send_msg(void *s, const part *parts, size_t np, const gz_mdp_msg *body,
                    size_t from)
{
    size_t nb = body && body->n > from ? body->n - from : 0, total = np + nb;
    for (size_t i = 0; i < total; i++) {
        zmq_msg_t f;
        if (i < np) {
            if (zmq_msg_init_size(&f, parts[i].size))
                return -1;
            if (parts[i].size)
                memcpy(zmq_msg_data(&f), parts[i].data, parts[i].size);
        } else {
            zmq_msg_init(&f);
            if (zmq_msg_copy(&f, (zmq_msg_t *)&body->f[from + i - np])) {
                zmq_msg_close(&f);
                return -1;
            }
        }
        if (gz_zmq_msg_send(&f, s, i + 1 < total ? ZMQ_SNDMORE : 0) < 0) {
            int err = errno;
            zmq_msg_close(&f);
            errno = err;
            return -1;
        }
    }
    return 0;
}

#define PART_STR(s) {(s), sizeof(s) - 1}

static bool service_ok(const char *service)
{
    size_t len = service ? strlen(service) : 0;
    return len > 0 && len <= SERVICE_MAX;
}

/* Heartbeat settings from the environment, when set and sensible. */
static void heartbeat_defaults(double *interval, int *liveness)
{
    *interval = DEFAULT_HEARTBEAT;
    *liveness = DEFAULT_LIVENESS;
    const char *e = getenv("GZ_MDP_HEARTBEAT");
    char *end;
    if (e && *e) {
        double v = strtod(e, &end);
        if (*end == '\0' && v > 0 && v < 86400)
            *interval = v;
    }
    e = getenv("GZ_MDP_LIVENESS");
    if (e && *e) {
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 1000)
            *liveness = (int)v;
    }
}

static bool heartbeat_ok(double interval, int liveness)
{
    return interval > 0 && interval < 86400 && liveness >= 1;
}

/* Milliseconds for a wait of SECONDS (>= 0) as zmq wants them. */
static long to_ms(double seconds)
{
    if (seconds <= 0)
        return 0;
    double ms = ceil(seconds * 1000.0);
    return ms > 86400000.0 ? 86400000L : (long)ms;
}

static void *new_socket(int type, const char *endpoint)
{
    void *ctx = gz_zmq_context();
    void *s = ctx ? zmq_socket(ctx, type) : NULL;
    if (!s)
        return NULL;
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) != 0) {
        int err = errno;
        zmq_close(s);
        errno = err;
        return NULL;
    }
    return s;
}

static void close_socket(void **s)
{
    if (*s)
        gz_zmq_close(*s);
    *s = NULL;
}

/* ---- client ---- */

struct gz_mdp_client {
    gz_obj obj;
    char *broker;
    void *sock; /* NULL after a timeout: the next try opens a fresh one */
    bool busy;
};

gz_mdp_client *gz_mdp_client_new(const char *broker)
{
    if (!broker) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_mdp_client *c = calloc(1, sizeof *c);
    if (!c || !(c->broker = strdup(broker))) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(c, h, mdp_client);
    if (!(c->sock = new_socket(ZMQ_REQ, broker))) {
        int err = errno;
        free(c->broker);
        free(c);
        errno = err;
        return NULL;
    }
    return c;
}

void gz_mdp_client_destroy(gz_mdp_client *c)
{
    GZ_CHECK_LIVE(c, mdp_client);
    if (!c || gz__check_hub(c->obj.hub, gz__hub_peek()))
        return;
    close_socket(&c->sock);
    free(c->broker);
    GZ_MAGIC_KILL(c);
    free(c);
}

/* One try: send, wait up to TIMEOUT for the reply. NULL with EAGAIN when
 * none came (the socket is then closed). */
static gz_mdp_msg *client_try(gz_mdp_client *c, const char *service,
                              const gz_mdp_msg *request, double timeout)
{
    if (!c->sock && !(c->sock = new_socket(ZMQ_REQ, c->broker)))
        return NULL;
    part head[] = {PART_STR(MDPC), {service, strlen(service)}};
    zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
    gz_mdp_msg *reply = NULL;
    int rc = send_msg(c->sock, head, 2, request, 0) ? -1 : gz_zmq_poll(&item, 1, to_ms(timeout));
    if (rc > 0)
        reply = recv_msg(c->sock, ZMQ_DONTWAIT);
    if (!reply) {
        /* A REQ socket cannot send again before its reply (the wait may also
         * have been killed): start afresh; a late reply to the old socket
         * is dropped by the broker's ROUTER. */
        int err = rc == 0 ? EAGAIN : errno;
        close_socket(&c->sock);
        errno = err;
        return NULL;
    }
    if (reply->n < 2 || !frame_is(reply, 0, MDPC, 6) ||
        !frame_is(reply, 1, service, strlen(service))) {
        gz_mdp_msg_destroy(reply);
        errno = EPROTO;
        return NULL;
    }
    msg_shift(reply, 2);
    return reply;
}

gz_mdp_msg *gz_mdp_client_request(gz_mdp_client *c, const char *service,
                                  const gz_mdp_msg *request, double timeout,
                                  int retries)
{
    GZ_CHECK_LIVE(c, mdp_client);
    if (!c || !request || !service_ok(service) || retries < 0 || isnan(timeout) ||
        timeout < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (gz__check_hub(c->obj.hub, gz__hub_peek()))
        return NULL;
    if (c->busy) {
        errno = EBUSY;
        return NULL;
    }
    c->busy = true;
    gz_mdp_msg *reply = NULL;
    for (int attempt = 0; attempt <= retries; attempt++) {
        reply = client_try(c, service, request, timeout);
        if (reply || errno != EAGAIN)
            break;
        errno = ETIMEDOUT;
    }
    c->busy = false;
    return reply;
}

/* ---- worker ---- */


struct gz_mdp_worker {
    gz_obj obj;
    char *broker, *service;
    void *sock;          /* NULL: connect (and say READY) before waiting */
    double interval;
    int liveness;
    int left;            /* heartbeats still allowed without word from the broker */
    double heartbeat_at; /* when we next send HEARTBEAT */
    bool reply_due;
    zmq_msg_t client;    /* the address a REPLY goes back to, when reply_due */
    bool busy;
};

static int worker_send_cmd(gz_mdp_worker *w, char cmd, const part *extra, size_t nextra,
                           const gz_mdp_msg *body)
{
    part parts[5] = {{"", 0}, PART_STR(MDPW), {&cmd, 1}};
    size_t np = 3;
    for (size_t i = 0; i < nextra && np < 5; i++)
        parts[np++] = extra[i];
    return send_msg(w->sock, parts, np, body, 0);
}

/* DISCONNECT, also from a killed greenlet (whose green calls fail): a plain
 * non-blocking send, and a short linger so that closing does not drop it. */
static void worker_say_disconnect(void *s)
{
    char cmd = CMD_DISCONNECT;
    int linger = 200;
    if (zmq_send(s, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0 &&
        zmq_send(s, MDPW, 6, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 6)
        zmq_send(s, &cmd, 1, ZMQ_DONTWAIT);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
}

static int worker_connect(gz_mdp_worker *w)
{
    if (!(w->sock = new_socket(ZMQ_DEALER, w->broker)))
        return -1;
    part svc = {w->service, strlen(w->service)};
    if (worker_send_cmd(w, CMD_READY, &svc, 1, NULL)) {
        int err = errno;
        close_socket(&w->sock);
        errno = err;
        return -1;
    }
    w->left = w->liveness;
    w->heartbeat_at = gz_now() + w->interval;
    return 0;
}

static void worker_reset(gz_mdp_worker *w)
{
    close_socket(&w->sock);
    if (w->reply_due)
        zmq_msg_close(&w->client);
    w->reply_due = false;
}

gz_mdp_worker *gz_mdp_worker_new(const char *broker, const char *service)
{
    if (!broker || !service_ok(service)) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_mdp_worker *w = calloc(1, sizeof *w);
    if (!w || !(w->broker = strdup(broker)) || !(w->service = strdup(service))) {
        if (w)
            free(w->broker);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(w, h, mdp_worker);
    heartbeat_defaults(&w->interval, &w->liveness);
    if (worker_connect(w)) {
        int err = errno;
        free(w->broker);
        free(w->service);
        free(w);
        errno = err;
        return NULL;
    }
    return w;
}

void gz_mdp_worker_destroy(gz_mdp_worker *w)
{
    GZ_CHECK_LIVE(w, mdp_worker);
    if (!w || gz__check_hub(w->obj.hub, gz__hub_peek()))
        return;
    if (w->sock)
        worker_say_disconnect(w->sock);
    worker_reset(w);
    free(w->broker);
    free(w->service);
    GZ_MAGIC_KILL(w);
    free(w);
}

int gz_mdp_worker_set_heartbeat(gz_mdp_worker *w, double interval, int liveness)
{
    GZ_CHECK_LIVE(w, mdp_worker);
    if (!w || !heartbeat_ok(interval, liveness)) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(w->obj.hub, gz__hub_peek()))
        return -1;
    w->interval = interval;
    w->liveness = w->left = liveness;
    w->heartbeat_at = gz_now() + interval;
    return 0;
}

/* Act on one message from the broker; returns the request's body when it
 * is a REQUEST, else NULL (a heartbeat, or something ignored). */
static gz_mdp_msg *worker_handle(gz_mdp_worker *w, gz_mdp_msg *m)
{
    w->left = w->liveness;
    if (m->n < 3 || frame_size(m, 0) != 0 || !frame_is(m, 1, MDPW, 6) ||
        frame_size(m, 2) != 1)
        goto drop;
    char cmd = *(const char *)gz_mdp_msg_frame(m, 2, NULL);
    if (cmd == CMD_REQUEST && m->n >= 5 && frame_size(m, 4) == 0) {
        zmq_msg_init(&w->client);
        zmq_msg_move(&w->client, &m->f[3]);
        w->reply_due = true;
        msg_shift(m, 5);
        return m;
    }
    if (cmd == CMD_DISCONNECT)
        worker_reset(w); /* the next turn of the loop says READY again */
drop:
    gz_mdp_msg_destroy(m);
    return NULL;
}

gz_mdp_msg *gz_mdp_worker_recv(gz_mdp_worker *w, double timeout)
{
    GZ_CHECK_LIVE(w, mdp_worker);
    if (!w || isnan(timeout)) {
        errno = EINVAL;
        return NULL;
    }
    if (gz__check_hub(w->obj.hub, gz__hub_peek()))
        return NULL;
    if (w->busy) {
        errno = EBUSY;
        return NULL;
    }
    w->busy = true;
    if (w->reply_due)
        zmq_msg_close(&w->client);
    w->reply_due = false;
    double deadline = timeout < 0 ? INFINITY : gz_now() + timeout;
    gz_mdp_msg *req = NULL;
    for (;;) {
        if (!w->sock && worker_connect(w))
            break;
        double now = gz_now();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            break;
        }
        double until = w->heartbeat_at < deadline ? w->heartbeat_at : deadline;
        zmq_pollitem_t item = {w->sock, 0, ZMQ_POLLIN, 0};
        int rc = gz_zmq_poll(&item, 1, to_ms(until - now));
        if (rc < 0)
            break;
        if (rc > 0) {
            gz_mdp_msg *m = recv_msg(w->sock, ZMQ_DONTWAIT);
            if (!m) {
                if (errno == EAGAIN)
                    continue;
                break;
            }
            if ((req = worker_handle(w, m)))
                break;
            continue;
        }
        if (gz_now() >= w->heartbeat_at) {
            if (--w->left <= 0) {
                /* The broker is gone (or restarted without us): a fresh
                 * socket announces us anew wherever it comes back. */
                worker_reset(w);
                continue;
            }
            if (worker_send_cmd(w, CMD_HEARTBEAT, NULL, 0, NULL))
                break;
            w->heartbeat_at = gz_now() + w->interval;
        }
    }
    w->busy = false;
    return req;
}

int gz_mdp_worker_send(gz_mdp_worker *w, const gz_mdp_msg *reply)
{
    GZ_CHECK_LIVE(w, mdp_worker);
    if (!w || !reply) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(w->obj.hub, gz__hub_peek()))
        return -1;
    if (!w->reply_due) {
        errno = EFSM;
        return -1;
    }
    part client[] = {{zmq_msg_data(&w->client), zmq_msg_size(&w->client)}, {"", 0}};
    /* Should the broker have restarted since the request came, it answers
     * this REPLY with DISCONNECT and the next recv reconnects. */
    int rc = worker_send_cmd(w, CMD_REPLY, client, 2, reply);
    zmq_msg_close(&w->client);
    w->reply_due = false;
    return rc;
}

/* ---- broker ---- */

/* What the broker looks up by bytes (a worker's routing id, a service's
 * name) starts with this, in a chained hash table. */
typedef struct entry {
    struct entry *hnext;
    char *key;
    size_t len;
} entry;

typedef struct table {
    entry **buckets; /* a power of two of them */
    size_t nbuckets, count;
} table;

typedef struct service {
    entry e;          /* the name, NUL-terminated */
    gz_list requests; /* gz_mdp_msg.link: [client] [""] [MDPC01] [service] [body...] */
    gz_list waiting;  /* workers ready for a request, the longest idle first */
    size_t workers;
    gz_list link;     /* in the broker's list of services */
} service;

typedef struct worker {
    entry e;            /* the ROUTER's routing id */
    service *svc;
    double expiry;      /* forgotten when silent until then */
    gz_list wait_link;  /* in svc->waiting while idle */
    gz_list all_link;   /* in the broker's list of every worker */
} worker;

struct gz_mdp_broker {
    gz_obj obj;
    void *sock;
    char endpoint[256];
    double interval;
    int liveness;
    bool running;
    size_t dropped;
    size_t queued; /* requests in the services' queues */
    gz_list services, workers;
    table service_names, worker_ids;
};

static size_t key_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return (size_t)h;
}

static int table_init(table *t)
{
    t->count = 0;
    t->nbuckets = 64;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -1;
}

/* Where KEY is, or would go. */
static entry **table_slot(table *t, const void *key, size_t len)
{
    entry **p = &t->buckets[key_hash(key, len) & (t->nbuckets - 1)];
    while (*p && !((*p)->len == len && memcmp((*p)->key, key, len) == 0))
        p = &(*p)->hnext;
    return p;
}

static entry *table_find(table *t, const void *key, size_t len)
{
    return *table_slot(t, key, len);
}

/* Add E (its key not yet in T), doubling the buckets past one per entry. */
static void table_add(table *t, entry *e)
{
    entry **p = table_slot(t, e->key, e->len);
    e->hnext = NULL;
    *p = e;
    if (++t->count < t->nbuckets)
        return;
    size_t n = t->nbuckets * 2;
    entry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++)
        for (entry *x = t->buckets[i], *next; x; x = next) {
            next = x->hnext;
            entry **q = &nb[key_hash(x->key, x->len) & (n - 1)];
            x->hnext = *q;
            *q = x;
        }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

static void table_remove(table *t, entry *e)
{
    entry **p = table_slot(t, e->key, e->len);
    *p = e->hnext;
    t->count--;
}

/* E's key: a copy of LEN bytes at KEY, NUL-terminated. -1 without memory. */
static int entry_init(entry *e, const void *key, size_t len)
{
    if (!(e->key = malloc(len + 1)))
        return -1;
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->len = len;
    return 0;
}

static service *service_find(gz_mdp_broker *b, const void *name, size_t len, bool create)
{
    entry *e = table_find(&b->service_names, name, len);
    if (e || !create)
        return e ? GZ_CONTAINER(e, service, e) : NULL;
    service *s = calloc(1, sizeof *s);
    if (!s || entry_init(&s->e, name, len)) {
        free(s);
        return NULL;
    }
    gz__list_init(&s->requests);
    gz__list_init(&s->waiting);
    gz__list_push(&b->services, &s->link);
    table_add(&b->service_names, &s->e);
    return s;
}

static void service_free(gz_mdp_broker *b, service *s)
{
    for (gz_list *n; (n = gz__list_pop(&s->requests));) {
        gz_mdp_msg_destroy(GZ_CONTAINER(n, gz_mdp_msg, link));
        b->queued--;
    }
    table_remove(&b->service_names, &s->e);
    gz__list_remove(&s->link);
    free(s->e.key);
    free(s);
}

/* Forget S once nothing refers to it: names clients made up do not pile up. */
static void service_drop_if_unused(gz_mdp_broker *b, service *s)
{
    if (!s->workers && gz__list_empty(&s->requests))
        service_free(b, s);
}

static void send_to_worker(gz_mdp_broker *b, const void *id, size_t len, char cmd)
{
    part parts[] = {{id, len}, {"", 0}, PART_STR(MDPW), {&cmd, 1}};
    send_msg(b->sock, parts, 4, NULL, 0);
}

static void worker_delete(gz_mdp_broker *b, worker *w, bool disconnect)
{
    if (disconnect)
        send_to_worker(b, w->e.key, w->e.len, CMD_DISCONNECT);
    table_remove(&b->worker_ids, &w->e);
    gz__list_remove(&w->wait_link);
    gz__list_remove(&w->all_link);
    if (w->svc) {
        w->svc->workers--;
        service_drop_if_unused(b, w->svc);
    }
    free(w->e.key);
    free(w);
}

/* Hand queued requests of S to its idle workers. */
static void dispatch(gz_mdp_broker *b, service *s)
{
    while (!gz__list_empty(&s->waiting) && !gz__list_empty(&s->requests)) {
        worker *w = GZ_CONTAINER(gz__list_pop(&s->waiting), worker, wait_link);
        gz_mdp_msg *m = GZ_CONTAINER(gz__list_pop(&s->requests), gz_mdp_msg, link);
        char cmd = CMD_REQUEST;
        part parts[] = {{w->e.key, w->e.len}, {"", 0}, PART_STR(MDPW), {&cmd, 1},
                        {zmq_msg_data(&m->f[0]), zmq_msg_size(&m->f[0])}, {"", 0}};
        send_msg(b->sock, parts, 6, m, 4);
        gz_mdp_msg_destroy(m);
        b->queued--;
    }
}

/* mmi.service: is there a worker for the service named in the body? */
static void mmi(gz_mdp_broker *b, gz_mdp_msg *m)
{
    const char *code = "501";
    if (frame_is(m, 3, "mmi.service", 11)) {
        service *s = m->n > 4 ? service_find(b, zmq_msg_data(&m->f[4]), frame_size(m, 4), false)
                              : NULL;
        code = s && s->workers ? "200" : "404";
    }
    part parts[] = {{zmq_msg_data(&m->f[0]), zmq_msg_size(&m->f[0])}, {"", 0}, PART_STR(MDPC),
                    {zmq_msg_data(&m->f[3]), zmq_msg_size(&m->f[3])}, {code, 3}};
    send_msg(b->sock, parts, 5, NULL, 0);
}

/* [client] [""] [MDPC01] [service] [body...]; keeps M (queued) or frees it. */
static bool broker_client(gz_mdp_broker *b, gz_mdp_msg *m)
{
    size_t len = m->n >= 4 ? frame_size(m, 3) : 0;
    if (len == 0 || len > SERVICE_MAX)
        return false;
    const char *name = zmq_msg_data(&m->f[3]);
    if (len >= 4 && memcmp(name, "mmi.", 4) == 0) {
        mmi(b, m);
        gz_mdp_msg_destroy(m);
        return true;
    }
    service *s = service_find(b, name, len, false);
    if (!s && b->queued < QUEUED_MAX)
        s = service_find(b, name, len, true);
    if (!s || (b->queued >= QUEUED_MAX && gz__list_empty(&s->waiting)))
        return false;
    gz__list_push(&s->requests, &m->link);
    b->queued++;
    dispatch(b, s);
    return true;
}

static void worker_waits(gz_mdp_broker *b, worker *w)
{
    gz__list_push(&w->svc->waiting, &w->wait_link);
    dispatch(b, w->svc);
}

/* [worker] [""] [MDPW01] [cmd] ...; frees M. False: out of protocol. */
static bool broker_worker(gz_mdp_broker *b, gz_mdp_msg *m)
{
    if (m->n < 4 || frame_size(m, 3) != 1)
        return false;
    char cmd = *(const char *)zmq_msg_data(&m->f[3]);
    const void *id = zmq_msg_data(&m->f[0]);
    size_t id_len = zmq_msg_size(&m->f[0]);
    entry *e = table_find(&b->worker_ids, id, id_len);
    worker *w = e ? GZ_CONTAINER(e, worker, e) : NULL;
    if (w)
        w->expiry = gz_now() + b->interval * b->liveness;
    switch (cmd) {
    case CMD_READY: {
        size_t len = m->n == 5 ? frame_size(m, 4) : 0;
        const char *name = len ? zmq_msg_data(&m->f[4]) : NULL;
        if (w || len == 0 || len > SERVICE_MAX || (len >= 4 && memcmp(name, "mmi.", 4) == 0)) {
            if (w)
                worker_delete(b, w, true);
            else
                send_to_worker(b, id, id_len, CMD_DISCONNECT);
            return false;
        }
        service *s = service_find(b, name, len, true);
        if (!s || !(w = calloc(1, sizeof *w)) || entry_init(&w->e, id, id_len)) {
            free(w);
            if (s)
                service_drop_if_unused(b, s);
            return true; /* out of memory: the worker will try again */
        }
        w->svc = s;
        s->workers++;
        w->expiry = gz_now() + b->interval * b->liveness;
        gz__list_push(&b->workers, &w->all_link);
        table_add(&b->worker_ids, &w->e);
        worker_waits(b, w);
        return true;
    }
    case CMD_REPLY:
        if (!w || gz__list_linked(&w->wait_link) || m->n < 6 || frame_size(m, 5) != 0) {
            if (w)
                worker_delete(b, w, true);
            else
                send_to_worker(b, id, id_len, CMD_DISCONNECT);
            return false;
        }
        {
            part parts[] = {{zmq_msg_data(&m->f[4]), zmq_msg_size(&m->f[4])}, {"", 0},
                            PART_STR(MDPC), {w->svc->e.key, w->svc->e.len}};
            send_msg(b->sock, parts, 4, m, 6);
        }
        worker_waits(b, w);
        return true;
    case CMD_HEARTBEAT:
        if (!w) /* a broker restarted under it: let it say READY anew */
            send_to_worker(b, id, id_len, CMD_DISCONNECT);
        return m->n == 4;
    case CMD_DISCONNECT:
        if (w)
            worker_delete(b, w, false);
        return m->n == 4;
    default:
        return false;
    }
}

static void broker_handle(gz_mdp_broker *b, gz_mdp_msg *m)
{
    bool ok = false;
    if (m->n >= 3 && frame_size(m, 1) == 0) {
        if (frame_is(m, 2, MDPC, 6)) {
            if ((ok = broker_client(b, m)))
                return; /* queued or answered */
        } else if (frame_is(m, 2, MDPW, 6)) {
            ok = broker_worker(b, m);
        }
    }
    if (!ok)
        b->dropped++;
    gz_mdp_msg_destroy(m);
}

static void broker_heartbeat(gz_mdp_broker *b)
{
    double now = gz_now();
    for (gz_list *n = b->workers.next, *next; n != &b->workers; n = next) {
        next = n->next;
        worker *w = GZ_CONTAINER(n, worker, all_link);
        if (w->expiry <= now)
            worker_delete(b, w, false);
        else
            send_to_worker(b, w->e.key, w->e.len, CMD_HEARTBEAT);
    }
}

static void *broker_run(void *arg)
{
    gz_mdp_broker *b = arg;
    double heartbeat_at = gz_now() + b->interval;
    for (;;) {
        zmq_pollitem_t item = {b->sock, 0, ZMQ_POLLIN, 0};
        int rc = gz_zmq_poll(&item, 1, to_ms(heartbeat_at - gz_now()));
        if (rc < 0)
            break; /* killed (ECANCELED), or the context ended (ETERM) */
        /* Take what has arrived, but let others run now and then. */
        bool stop = false;
        for (int i = 0; rc > 0 && i < 1000; i++) {
            gz_mdp_msg *m = recv_msg(b->sock, ZMQ_DONTWAIT);
            if (!m) {
                stop = errno != EAGAIN && errno != ENOMEM;
                break;
            }
            broker_handle(b, m);
        }
        if (stop)
            break;
        if (gz_now() >= heartbeat_at) {
            broker_heartbeat(b);
            heartbeat_at = gz_now() + b->interval;
        }
    }
    b->running = false;
    return NULL;
}

gz_mdp_broker *gz_mdp_broker_new(const char *endpoint)
{
    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_mdp_broker *b = calloc(1, sizeof *b);
    if (!b || table_init(&b->service_names) || table_init(&b->worker_ids)) {
        if (b)
            free(b->service_names.buckets);
        free(b);
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(b, h, mdp_broker);
    heartbeat_defaults(&b->interval, &b->liveness);
    gz__list_init(&b->workers);
    gz__list_init(&b->services);
    void *ctx = gz_zmq_context();
    int zero = 0;
    size_t len = sizeof b->endpoint;
    if (!ctx || !(b->sock = zmq_socket(ctx, ZMQ_ROUTER)))
        goto fail;
    zmq_setsockopt(b->sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(b->sock, endpoint) != 0 ||
        zmq_getsockopt(b->sock, ZMQ_LAST_ENDPOINT, b->endpoint, &len) != 0)
        goto fail;
    return b;
fail:;
    int err = errno;
    if (b->sock)
        zmq_close(b->sock);
    free(b->service_names.buckets);
    free(b->worker_ids.buckets);
    free(b);
    errno = err;
    return NULL;
}

void gz_mdp_broker_destroy(gz_mdp_broker *b)
{
    GZ_CHECK_LIVE(b, mdp_broker);
    if (!b || gz__check_hub(b->obj.hub, gz__hub_peek()))
        return;
    if (b->running) {
        errno = EBUSY; /* its greenlet still uses it */
        return;
    }
    while (!gz__list_empty(&b->workers))
        worker_delete(b, GZ_CONTAINER(b->workers.next, worker, all_link), false);
    while (!gz__list_empty(&b->services))
        service_free(b, GZ_CONTAINER(b->services.next, service, link));
    gz_zmq_close(b->sock);
    free(b->service_names.buckets);
    free(b->worker_ids.buckets);
    GZ_MAGIC_KILL(b);
    free(b);
}

const char *gz_mdp_broker_endpoint(const gz_mdp_broker *b)
{
    GZ_CHECK_LIVE(b, mdp_broker);
    if (!b) {
        errno = EINVAL;
        return NULL;
    }
    return b->endpoint;
}

int gz_mdp_broker_set_heartbeat(gz_mdp_broker *b, double interval, int liveness)
{
    GZ_CHECK_LIVE(b, mdp_broker);
    if (!b || !heartbeat_ok(interval, liveness)) {
        errno = EINVAL;
        return -1;
    }
    if (gz__check_hub(b->obj.hub, gz__hub_peek()))
        return -1;
    b->interval = interval;
    b->liveness = liveness;
    return 0;
}

gz_greenlet *gz_mdp_broker_start(gz_mdp_broker *b)
{
    GZ_CHECK_LIVE(b, mdp_broker);
    if (!b) {
        errno = EINVAL;
        return NULL;
    }
    if (gz__check_hub(b->obj.hub, gz__hub_peek()))
        return NULL;
    if (b->running) {
        errno = EBUSY;
        return NULL;
    }
    gz_greenlet *g = gz_spawn(broker_run, b);
    if (g)
        b->running = true;
    return g;
}

size_t gz_mdp_broker_dropped(const gz_mdp_broker *b)
{
    GZ_CHECK_LIVE(b, mdp_broker);
    if (!b) {
        errno = EINVAL;
        return 0;
    }
    return b->dropped;
}
