/* Green ZeroMQ: send, recv and poll that block only the calling greenlet.
 *
 * ZMQ_FD is edge-triggered: it turns readable when the socket's state may
 * have changed and stays quiet afterwards, and any send, recv or
 * getsockopt(ZMQ_EVENTS) on the socket may consume that edge. The only truth
 * is ZMQ_EVENTS. So:
 *  - an operation is always tried with ZMQ_DONTWAIT first; on EAGAIN the
 *    greenlet parks on the socket's FIFO list for its direction;
 *  - a waker reads ZMQ_EVENTS and wakes the first reader if POLLIN holds,
 *    the first writer if POLLOUT holds, and every poller whose events hold;
 *  - wakers are: the ev_io on ZMQ_FD (an edge arrived), a completed
 *    operation on a socket others wait on (it may have eaten their edge, or
 *    left more to do), a waiter that leaves without finishing (it passes its
 *    wakeup on), and an ev_prepare that re-reads ZMQ_EVENTS of every socket
 *    with waiters before each loop turn, so that an edge eaten anywhere -
 *    even by code outside this file - is seen before the loop sleeps (the
 *    hub's before-poll hook does the same before it polls at all, which spares
 *    the poll syscall when a waiter can already proceed).
 * Nothing here reads ZMQ_EVENTS while nobody waits: a successful operation
 * with no other waiter costs one socket-table test at most (zmq_table.h).
 * Who is woken, and when, beyond that rule: "the waking rules" below. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gz_select.h"
#include "gzmq/zmq.h"
#include "zmq_info.h"
#include "zmq_table.h"

/* gz_waiter.flags bits. */
enum {
    W_WOKEN = 1,  /* woken to retry and has not run yet */
    W_CLOSED = 2, /* gz_zmq_close freed the socket's state under it */
    W_FRESH = 4,  /* a deferred reader nothing has looked at yet */
    W_TRIED = 8,  /* a writer that failed since the socket last changed */
    W_SEEN = 16,  /* a poller woken by a check that found its events */
};

/* A W_TRIED writer also retries on its own after TRIED_RETRY_FIRST
 * seconds, then twice as long each time up to TRIED_RETRY_MAX (rule 4). */
#define TRIED_RETRY_FIRST 0.001
#define TRIED_RETRY_MAX 0.1

typedef struct zsock {
    void *sock;       /* first: the socket table's key */
    ev_io io;         /* on ZMQ_FD; started while anyone waits */
    gz_list readers;  /* gz_waiter, FIFO */
    gz_list writers;
    gz_list pollers;  /* gz_waiter whose data holds ZMQ_POLLIN|ZMQ_POLLOUT */
    gz_list active;   /* in zstate.active while anyone waits */
    unsigned rwoken;  /* readers / writers marked W_WOKEN */
    unsigned wwoken;
    unsigned nwriters;
    unsigned wtried;  /* writers marked W_TRIED */
    bool rdefer;      /* its last recv had to wait: see defer_recv */
    bool sent;        /* a whole message was sent since the last recv */
    bool rmid;        /* a message is being received: more frames follow */
    gz_list fresh;    /* in zstate.fresh while its only reader is W_FRESH */
    zmq_msg_t *held;  /* a whole message gz_zmq_recvv had no room for */
    size_t nheld;
} zsock;

/* Per-hub state, registered as the hub's zmq_layer. */
typedef struct zstate {
    gz_hub *h;
    gz_ztable socks;  /* socket -> zsock, for every socket waited on */
    gz_list active;   /* zsock with waiters */
    size_t nactive;
    gz_list fresh;    /* zsock whose deferred reader has yet to try, FIFO */
    ev_prepare prepare;
    ev_idle idle;     /* keeps the loop from blocking after prepare woke someone */
    unsigned wtried;  /* W_TRIED writers on every socket */
    uint64_t ops[2];    /* successful recvs [0] and sends [1] (frames), gz_hub_stats */
    uint64_t waited[2]; /* of which had to wait, in the same order */
    bool checked;     /* before_poll just checked every socket: prepare may skip */
} zstate;

/* The socket S of SOCK on Z, or NULL: nobody has waited on SOCK. */
static inline zsock *lookup(const zstate *z, const void *sock)
{
    return gz__ztable_lookup(&z->socks, sock);
}

/* ---- the waking rules ----
 *
 * Everything that decides whom to wake and when lives in this section;
 * the rest of the file parks and unparks waiters and calls it.
 *
 * 1. The edge rule (check): ZMQ_EVENTS is read only while someone waits,
 *    and wakes one reader, one writer and every poller whose events hold.
 *    The woken one passes the turn on when it completes or leaves (settle).
 *
 * 2. Deferred recv (defer_recv, first_look): a recv on a socket that has
 *    sent since its last recv, whose last recv had to wait, parks before it
 *    tries: in a request-reply exchange between greenlets of one hub the
 *    reply comes from a greenlet that has yet to run, and trying first costs
 *    libzmq five extra syscalls. Deferring ends when the message turns out
 *    to have been there all along.
 *
 * 3. Fresh sockets first (before_poll, try_fresh): when nothing is ready,
 *    a deferred reader nothing has looked at yet tries its recv before any
 *    ZMQ_EVENTS is read, oldest first; then the other sockets are checked
 *    in turn, the parking greenlet's own last, so that a wakeup costs no
 *    poll syscall when a waiter can already proceed. Before the loop
 *    sleeps, prepare_cb checks every socket.
 *
 * 4. POLLOUT can lie (W_TRIED): an XPUB with ZMQ_XPUB_NODROP always claims
 *    it, a ROUTER with ZMQ_ROUTER_MANDATORY claims it when any peer has
 *    room, not the one this send goes to. A writer whose retry failed after
 *    the claim is marked W_TRIED and the claim no longer wakes it, or it
 *    would retry in a loop; what can let it through is a command from
 *    libzmq (ZMQ_FD turns readable) or another operation on the socket, and
 *    those clear the mark (untry). ZMQ_EVENTS drains the command mailbox:
 *    before anything reads it while a writer is marked, a zero-timeout poll
 *    on ZMQ_FD tells whether commands are pending, and so whether the read
 *    may carry news for that writer (untry_if_signalled). A command from
 *    another thread that lands between that poll and the read is drained
 *    unseen, and nothing can tell afterwards; so a marked writer also
 *    retries on its own, after 1 ms, then doubling up to 0.1 s (wait_op):
 *    a long wait costs a few failed sends, such a command a short delay. */

static bool has_waiters(const zsock *s)
{
    return !gz__list_empty(&s->readers) || !gz__list_empty(&s->writers) ||
           !gz__list_empty(&s->pollers);
}

/* Would reading ZMQ_EVENTS now wake anyone not already on the way? */
static bool worth_checking(const zsock *s)
{
    return (!gz__list_empty(&s->readers) && s->rwoken == 0) ||
           (s->nwriters > s->wtried && s->wwoken == 0) ||
           !gz__list_empty(&s->pollers);
}

/* S may have changed: every writer may try again. */
static void untry(zstate *z, zsock *s)
{
    if (s->wtried == 0)
        return;
    for (gz_list *n = s->writers.next; n != &s->writers; n = n->next)
        GZ_CONTAINER(n, gz_waiter, node)->flags &= ~W_TRIED;
    z->wtried -= s->wtried;
    s->wtried = 0;
}

static void mark_tried(zstate *z, zsock *s, gz_waiter *w)
{
    if (w->flags & W_TRIED)
        return;
    w->flags |= W_TRIED;
    s->wtried++;
    z->wtried++;
}

/* Has libzmq posted a command to S since its mailbox was last drained? Its
 * ZMQ_FD is readable exactly then. */
static bool signalled(const zsock *s)
{
    struct pollfd p = {.fd = s->io.fd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

static void mark_woken(gz_waiter *w, unsigned *woken)
{
    if (w->flags & W_WOKEN)
        return;
    w->flags |= W_WOKEN;
    (*woken)++;
    gz__wake(w->g, 0);
}

static void wake_all(gz_list *list, unsigned *woken)
{
    for (gz_list *n = list->next; n != list; n = n->next)
        mark_woken(GZ_CONTAINER(n, gz_waiter, node), woken);
}

/* The first writer that has not failed since S last changed. */
static void wake_untried_writer(zsock *s)
{
    for (gz_list *n = s->writers.next; n != &s->writers; n = n->next) {
        gz_waiter *w = GZ_CONTAINER(n, gz_waiter, node);
        if (!(w->flags & W_TRIED)) {
            mark_woken(w, &s->wwoken);
            return;
        }
    }
}

/* W, S's deferred reader, is looked at: off zstate.fresh. */
static void unfresh(zsock *s, gz_waiter *w)
{
    w->flags &= ~W_FRESH;
    gz__list_remove(&s->fresh);
}

/* The first check after a deferred reader parked: if the message was
 * already there and nothing else ran since it parked (the check runs on its
 * own stack), deferring gained nothing, so its next recv tries first. */
static void first_look(zsock *s, gz_waiter *w, int ev)
{
    if (!(w->flags & W_FRESH))
        return;
    unfresh(s, w);
    if ((ev & ZMQ_POLLIN) && w->g->obj.hub->current == w->g)
        s->rdefer = false;
}

/* Should this recv park before it tries? A recv that finds the socket empty
 * leaves libzmq's pipe reader asleep: the peer's next send must then post an
 * activation command (an eventfd write) that our next ZMQ_EVENTS read
 * drains (poll, read, poll). A request-reply exchange between greenlets of
 * one hub meets that on every message, since the reply to what was just
 * sent comes from a greenlet that has yet to run. So when a message was
 * sent on the socket since its last recv, and that recv had to wait, the
 * recv parks at once and before_poll() lets it try after the others have run:
 * a round trip then costs the syscalls of raw libzmq's own loop (two polls,
 * not seven). Streams (no send in between) always try first. Parking first
 * is safe under the edge rule: a parked reader is looked at before the loop
 * sleeps. Deferring stops when the message was there all along
 * (first_look). Never in the middle of a message (rmid): its next frames
 * are there, and a recv that parked would let another greenlet's recv on
 * the socket take them. */
static bool defer_recv(const zstate *z, void *sock, int flags)
{
    if (!z || z->socks.len == 0 || (flags & ZMQ_DONTWAIT))
        return false;
    const zsock *s = lookup(z, sock);
    return s && s->rdefer && s->sent && !s->rmid && gz__list_empty(&s->readers);
}

/* Before ZMQ_EVENTS of S is read, or a try on S drains its mailbox: true
 * if commands are pending that marked writers have not seen (rule 4). */
static bool tried_have_news(const zsock *s)
{
    return s->wtried && signalled(s);
}

static void untry_if_signalled(zstate *z, zsock *s)
{
    if (tried_have_news(s))
        untry(z, s);
}

/* An operation on S completed or failed: what checks told its pollers
 * (W_SEEN) may no longer hold, so they read ZMQ_EVENTS again. */
static void pollers_stale(zsock *s)
{
    for (gz_list *n = s->pollers.next; n != &s->pollers; n = n->next)
        GZ_CONTAINER(n, gz_waiter, node)->flags &= ~W_SEEN;
}

/* W's retry on S failed with EAGAIN. NEWS: tried_have_news() just before
 * the try, which drained what the marked writers never saw. */
static void retry_failed(zstate *z, zsock *s, gz_waiter *w, bool out, bool news)
{
    if (news)
        untry(z, s);
    if (out)
        mark_tried(z, s, w);
}

/* Read ZMQ_EVENTS and wake whoever can proceed. One retrying reader (or
 * writer) at a time is enough: when it completes it checks again and wakes
 * the next one. A socket in error (ETERM ...) wakes everyone: each retry
 * meets the error itself. */
static void check(zstate *z, zsock *s)
{
    if (s->wtried) {
        if (signalled(s))
            untry(z, s);
        else if (!worth_checking(s))
            return; /* nothing changed since each waiter last looked */
    }
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &ev, &len) != 0) {
        wake_all(&s->readers, &s->rwoken);
        wake_all(&s->writers, &s->wwoken);
        ev = ZMQ_POLLIN | ZMQ_POLLOUT;
    } else {
        if (!gz__list_empty(&s->readers))
            first_look(s, GZ_CONTAINER(s->readers.next, gz_waiter, node), ev);
        if ((ev & ZMQ_POLLIN) && s->rwoken == 0 && !gz__list_empty(&s->readers))
            mark_woken(GZ_CONTAINER(s->readers.next, gz_waiter, node), &s->rwoken);
        if ((ev & ZMQ_POLLOUT) && s->wwoken == 0)
            wake_untried_writer(s);
    }
    for (gz_list *n = s->pollers.next; n != &s->pollers; n = n->next) {
        gz_waiter *w = GZ_CONTAINER(n, gz_waiter, node);
        if (w->flags & W_FRESH) { /* first_look, for a selecting greenlet */
            w->flags &= ~W_FRESH;
            if ((ev & ZMQ_POLLIN) && w->g == w->g->obj.hub->current)
                s->rdefer = false;
        }
        if (ev & (int)(intptr_t)w->data) {
            w->flags |= W_SEEN;
            gz__wake(w->g, 0);
        }
    }
}

/* ev_io.data is the zstate: a command arrived, so every writer may retry. */
static void zsock_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    zsock *s = GZ_CONTAINER(w, zsock, io);
    untry(w->data, s);
    check(w->data, s);
}

static void check_active(zstate *z)
{
    for (gz_list *n = z->active.next; n != &z->active; n = n->next)
        check(z, GZ_CONTAINER(n, zsock, active));
}

/* Wake the deferred reader of S (in zstate.fresh) to try its recv. */
static void try_fresh(zsock *s)
{
    gz_waiter *w = GZ_CONTAINER(s->readers.next, gz_waiter, node);
    unfresh(s, w);
    mark_woken(w, &s->rwoken);
}

/* The hub calls this when nothing is ready, just before it polls the loop:
 * if a waiter can proceed, it runs without a poll syscall.
 *  1. A deferred reader of another greenlet tries its recv, the oldest
 *     first (in a ping-pong, the one whose peer has just sent): no ZMQ_EVENTS
 *     read, so no syscall if its message is there, and if not, the failed
 *     recv costs the one poll a check would have.
 *  2. Other sockets are checked; the first that wakes someone moves to the
 *     back, so the sockets take turns and the rest cost no ZMQ_EVENTS read
 *     (a syscall or three each) until the woken greenlet blocks again.
 *  3. Nobody else can run: the socket the parking greenlet itself waits on
 *     is checked last (first_look() ends its deferring if the message was
 *     there all along).
 * Before the loop actually sleeps, prepare_cb checks every socket. */
static bool before_poll(gz_hub *h, void *state)
{
    zstate *z = state;
    if (z->nactive == 0)
        return false;
    zsock *own = NULL;
    for (gz_list *n = z->fresh.next; n != &z->fresh; n = n->next) {
        zsock *s = GZ_CONTAINER(n, zsock, fresh);
        if (GZ_CONTAINER(s->readers.next, gz_waiter, node)->g != h->current) {
            try_fresh(s);
            return true;
        }
        own = s;
    }
    for (gz_list *n = z->active.next; n != &z->active; n = n->next) {
        zsock *s = GZ_CONTAINER(n, zsock, active);
        if (s == own)
            continue;
        check(z, s);
        if (!gz__list_empty(&h->runq)) {
            gz__list_remove(n);
            gz__list_push(&z->active, n);
            return true;
        }
    }
    if (own) {
        check(z, own);
        if (!gz__list_empty(&h->runq))
            return true;
    }
    z->checked = true;
    return false;
}

/* Before every loop iteration, also those the hub does not start itself
 * (an application running the loop, the hub's periodic non-blocking poll). */
static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    zstate *z = GZ_CONTAINER(w, zstate, prepare);
    if (z->checked) /* nothing ran since before_poll found nobody ready */
        z->checked = false;
    else
        check_active(z);
    if (!gz__list_empty(&z->h->runq) && !ev_is_active(&z->idle))
        ev_idle_start(loop, &z->idle);
}

static void zmq_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)revents;
    ev_idle_stop(loop, w);
}

/* ---- per-hub and per-socket state ---- */

static void drop_held(zsock *s)
{
    for (size_t i = 0; i < s->nheld; i++)
        zmq_msg_close(&s->held[i]);
    free(s->held);
    s->held = NULL;
    s->nheld = 0;
}

static void zstate_free(void *p)
{
    zstate *z = p;
    if (!z)
        return;
    gz_hub *h = z->h;
    struct ev_loop *loop = h->loop;
    for (size_t i = 0; i < z->socks.cap; i++) {
        zsock *s = z->socks.slots[i];
        if (s) {
            ev_io_stop(loop, &s->io);
            drop_held(s);
            free(s);
        }
    }
    if (ev_is_active(&z->prepare)) {
        ev_ref(loop);
        ev_prepare_stop(loop, &z->prepare);
    }
    ev_idle_stop(loop, &z->idle);
    gz__ztable_free(&z->socks);
    free(z);
}

static const gz_layer zmq_layer = {zstate_free, before_poll};

static zstate *zstate_get(gz_hub *h)
{
    bool made;
    zstate *z = gz__layer_state_make(h, &zmq_layer, sizeof *z, &made);
    if (made) {
        z->h = h;
        gz__list_init(&z->active);
        gz__list_init(&z->fresh);
        ev_prepare_init(&z->prepare, prepare_cb);
        ev_idle_init(&z->idle, zmq_idle_cb);
    }
    return z;
}

/* The state of SOCK, created on its first wait. */
static zsock *sock_state(gz_hub *h, void *sock)
{
    zstate *z = zstate_get(h);
    if (!z)
        return NULL;
    zsock *s = lookup(z, sock);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->sock = sock;
    ev_io_init(&s->io, zsock_io_cb, -1, EV_READ);
    s->io.data = z;
    gz__list_init(&s->readers);
    gz__list_init(&s->writers);
    gz__list_init(&s->pollers);
    if (gz__ztable_insert(&z->socks, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* Start watching S (its first waiter just arrived). ZMQ_FD is read afresh
 * each time: a socket closed with plain zmq_close may leave stale state
 * that a new socket at the same address inherits. -1 ENOTSUP for the
 * thread-safe socket types, which have no ZMQ_FD. */
static int activate(zstate *z, zsock *s)
{
    if (gz__list_linked(&s->active))
        return 0;
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt(s->sock, ZMQ_FD, &fd, &len) != 0) {
        int e = errno, ts = 0;
        len = sizeof ts;
        if (e == EINVAL && zmq_getsockopt(s->sock, ZMQ_THREAD_SAFE, &ts, &len) == 0 && ts)
            e = ENOTSUP;
        errno = e;
        return -1;
    }
    if (fd != s->io.fd)
        ev_io_set(&s->io, fd, EV_READ);
    ev_io_start(z->h->loop, &s->io);
    gz__list_push(&z->active, &s->active);
    if (z->nactive++ == 0) {
        ev_prepare_start(z->h->loop, &z->prepare);
        ev_unref(z->h->loop); /* the prepare alone keeps nothing alive */
    }
    return 0;
}

static void deactivate(zstate *z, zsock *s)
{
    if (!gz__list_linked(&s->active))
        return;
    ev_io_stop(z->h->loop, &s->io);
    gz__list_remove(&s->active);
    if (--z->nactive == 0) {
        ev_ref(z->h->loop);
        ev_prepare_stop(z->h->loop, &z->prepare);
    }
}

/* A waiter has left S: pass on what it may have changed, or stop watching
 * S if it was the last. */
static void settle(zstate *z, zsock *s)
{
    if (!has_waiters(s))
        deactivate(z, s);
    else if (worth_checking(s))
        check(z, s);
}

/* Forget S when its first wait failed before anything waited on it. */
static void forget(zstate *z, zsock *s)
{
    if (has_waiters(s) || gz__list_linked(&s->active))
        return;
    gz__ztable_erase(&z->socks, s->sock);
    free(s);
}

/* ---- parking ---- */

/* Park the current greenlet, whose waiters are on sockets (and for
 * gz_zmq_poll on plain fds), until a wakeup or DEADLINE: 0 when woken and
 * free to go on (gz__enter), 1 once DEADLINE has passed (the call's own
 * timeout, not a gz_timeout), else -1 with errno. gz_close on a watched fd
 * (EBADF) is a wakeup: the rescan reports the fd. Whatever it returns, the
 * caller first looks for W_CLOSED on its waiters. */
static int park_until(gz_hub *h, double deadline, const char *kind,
                      const void *obj)
{
    if (gz__remaining(h, deadline) == 0)
        return 1;
    if (gz__park_until(h, deadline, kind, obj) != 0 && errno != EBADF)
        return errno == ETIMEDOUT && !h->current->fired ? 1 : -1;
    return gz__enter(h) ? -1 : 0;
}

/* ---- send and recv ---- */

enum { OP_SEND, OP_MSG_SEND, OP_RECV };

typedef struct zop {
    int kind;
    void *sock;
    const void *buf; /* OP_SEND */
    size_t len;
    zmq_msg_t *msg;  /* OP_MSG_SEND, OP_RECV */
    int flags;
} zop;

static int try_op_once(const zop *op)
{
    int flags = op->flags | ZMQ_DONTWAIT;
    switch (op->kind) {
    case OP_SEND:
        return zmq_send(op->sock, op->buf, op->len, flags);
    case OP_MSG_SEND:
        return zmq_msg_send(op->msg, op->sock, flags);
    default:
        return zmq_msg_recv(op->msg, op->sock, flags);
    }
}

/* A signal can interrupt libzmq's look at its command mailbox even in a
 * ZMQ_DONTWAIT call (EINTR). A green caller meets signals on the hub
 * (gz_signal), and one that arrives while it is parked never ends its call,
 * so EINTR here means only "try again", not "stop". */
static int try_op(const zop *op)
{
    int rc;
    while ((rc = try_op_once(op)) < 0 && GZ_UNLIKELY(errno == EINTR))
        ;
    return rc;
}

/* The operation completed without waiting. Frames followed by more frames
 * of the same message change nothing: no check, and above all no yield, so
 * no other greenlet can interleave its frames. */
static void completed_now(gz_hub *h, void *sock, bool more, bool out)
{
    zstate *z = gz__layer_state(h, &zmq_layer);
    if (GZ_UNLIKELY(!z))
        z = zstate_get(h); /* NULL without memory: the call is not counted */
    if (z)
        z->ops[out]++;
    if (more) {
        zsock *s = !out && z && z->socks.len ? lookup(z, sock) : NULL;
        if (s)
            s->rmid = true; /* the next frame's recv must not defer */
        return;
    }
    if (z && z->socks.len) {
        zsock *s = lookup(z, sock);
        if (s) {
            if (!out)
                s->rmid = false;
            s->sent = out;
            untry(z, s);
            pollers_stale(s);
            if (z->nactive && worth_checking(s))
                check(z, s);
        }
    }
    if (!h->greenlets.in_callback)
        gz__no_wait(h);
}

/* Try OP once without waiting; on success, pass on what it changed. */
static int try_now(gz_hub *h, const zop *op, bool out)
{
    int rc = try_op(op);
    if (rc >= 0) {
        bool more = out ? (op->flags & ZMQ_SNDMORE) != 0
                        : zmq_msg_more(op->msg) != 0;
        completed_now(h, op->sock, more, out);
    }
    return rc;
}

/* A try that failed may have drained commands that the marked writers of
 * its socket never saw: let them try again. */
static void failed_now(gz_hub *h, void *sock)
{
    zstate *z = gz__layer_state(h, &zmq_layer);
    if (z && z->nactive) {
        zsock *s = lookup(z, sock);
        if (s) {
            untry(z, s);
            pollers_stale(s);
        }
    }
    errno = EAGAIN;
}

/* Wait until OP completes. DEFERRED: it has not been tried yet. */
static int wait_op(gz_hub *h, const zop *op, bool out, bool deferred)
{
    int tmo = -1;
    size_t len = sizeof tmo;
    if (zmq_getsockopt(op->sock, out ? ZMQ_SNDTIMEO : ZMQ_RCVTIMEO, &tmo, &len))
        return -1;
    if (tmo == 0) {
        if (deferred)
            return try_now(h, op, out);
        errno = EAGAIN;
        return -1;
    }
    zsock *s = sock_state(h, op->sock);
    if (!s)
        return -1;
    zstate *z = gz__layer_state(h, &zmq_layer);
    gz_list *list = out ? &s->writers : &s->readers;
    unsigned *woken = out ? &s->wwoken : &s->rwoken;
    gz_waiter w = {.g = h->current, .flags = deferred ? W_FRESH : 0};
    if (activate(z, s) != 0) {
        int e = errno;
        forget(z, s);
        errno = e;
        return -1;
    }
    if (!out)
        s->rdefer = true;
    else
        s->nwriters++;
    gz__list_push(list, &w.node);
    if (deferred)
        gz__list_push(&z->fresh, &s->fresh);
    double deadline = gz__deadline(h, tmo / 1000.0);
    double retry_after = TRIED_RETRY_FIRST;
    int rc;
    for (;;) {
        /* A marked writer also retries on its own (rule 4): the command
         * it waits for may have been drained unseen. */
        double until = deadline;
        if (w.flags & W_TRIED) {
            double retry = ev_now(h->loop) + retry_after;
            if (deadline == GZ_NEVER || retry < deadline)
                until = retry;
        }
        int prc = park_until(h, until, out ? "gz_zmq_send" : "gz_zmq_recv",
                             op->sock);
        if (w.flags & W_CLOSED) { /* S is gone; W was unlinked */
            errno = ENOTSOCK;
            return -1;
        }
        if (w.flags & W_WOKEN) {
            w.flags &= ~W_WOKEN;
            (*woken)--;
        }
        if (prc > 0 && until != deadline) { /* its own retry, not the timeout */
            retry_after = retry_after * 2 < TRIED_RETRY_MAX ? retry_after * 2
                                                            : TRIED_RETRY_MAX;
            prc = gz__enter(h) ? -1 : 0;
        }
        if (prc != 0) {
            if (prc > 0)
                errno = EAGAIN; /* ZMQ_SNDTIMEO / ZMQ_RCVTIMEO, as libzmq */
            rc = -1;
            break;
        }
        bool news = tried_have_news(s);
        rc = try_op(op);
        pollers_stale(s);
        if (rc >= 0 || errno != EAGAIN)
            break;
        retry_failed(z, s, &w, out, news);
    }
    int e = errno;
    if (rc >= 0) {
        if (!out)
            s->rmid = zmq_msg_more(op->msg) != 0;
        s->sent = out;
        untry(z, s);
        z->ops[out]++;
        z->waited[out]++;
    }
    if (w.flags & W_FRESH)
        unfresh(s, &w);
    if (w.flags & W_TRIED) {
        s->wtried--;
        z->wtried--;
    }
    if (out)
        s->nwriters--;
    gz__list_remove(&w.node);
    settle(z, s);
    errno = e;
    return rc;
}

/* The common path of the four calls: OUT is the direction waited for. */
static int green_op(const zop *op, bool out)
{
    gz_hub *h = gz__hub();
    /* DONTWAIT cannot block: it works for a killed greenlet (gz__check_entry). */
    if (GZ_UNLIKELY(gz__check_entry(h, (op->flags & ZMQ_DONTWAIT) ? 0 : GZ_FOREVER)) &&
        !(h && errno == EPERM && (op->flags & ZMQ_DONTWAIT)))
        return -1;
    if (!out && defer_recv(gz__layer_state(h, &zmq_layer), op->sock, op->flags))
        return wait_op(h, op, false, true);
    int rc = try_now(h, op, out);
    if (rc >= 0 || errno != EAGAIN)
        return rc;
    failed_now(h, op->sock);
    if (op->flags & ZMQ_DONTWAIT)
        return rc;
    return wait_op(h, op, out, false);
}

int gz_zmq_send(void *socket, const void *buf, size_t len, int flags)
{
    if (!buf && len) {
        errno = EFAULT;
        return -1;
    }
    zop op = {.kind = OP_SEND, .sock = socket, .buf = buf, .len = len,
              .flags = flags};
    return green_op(&op, true);
}

int gz_zmq_msg_send(zmq_msg_t *msg, void *socket, int flags)
{
    zop op = {.kind = OP_MSG_SEND, .sock = socket, .msg = msg, .flags = flags};
    return green_op(&op, true);
}

int gz_zmq_msg_recv(zmq_msg_t *msg, void *socket, int flags)
{
    if (!msg) {
        errno = EFAULT;
        return -1;
    }
    zop op = {.kind = OP_RECV, .sock = socket, .msg = msg, .flags = flags};
    return green_op(&op, false);
}

/* zmq_recv is zmq_msg_recv plus a copy in libzmq too; receiving into a
 * message tells whether more frames follow at no extra cost. */
int gz_zmq_recv(void *socket, void *buf, size_t len, int flags)
{
    if (!buf && len) {
        errno = EFAULT;
        return -1;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zop op = {.kind = OP_RECV, .sock = socket, .msg = &msg, .flags = flags};
    int rc = green_op(&op, false);
    if (rc >= 0) {
        size_t n = (size_t)rc < len ? (size_t)rc : len;
        if (n)
            memcpy(buf, zmq_msg_data(&msg), n);
    }
    int e = errno;
    zmq_msg_close(&msg);
    errno = e;
    return rc;
}

/* ---- whole messages ---- */

/* Once the first frame of a message is queued, libzmq takes its other
 * frames without HWM checks (a pipe counts whole messages), and once the
 * first frame is received the others are there (atomic delivery). So the
 * frames after the first go with ZMQ_DONTWAIT and never yield: no other
 * greenlet of the hub runs in between, so none can interleave its frames,
 * and the per-socket FIFO of waiters orders whole messages. */
int gz_zmq_sendv(void *socket, zmq_msg_t *parts, size_t n, int flags)
{
    if (n == 0 || n > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (!parts) {
        errno = EFAULT;
        return -1;
    }
    int more = flags & ZMQ_SNDMORE;
    flags &= ~ZMQ_SNDMORE;
    for (size_t i = 0; i < n; i++) {
        int f = (i + 1 < n ? ZMQ_SNDMORE : more) | (i ? flags | ZMQ_DONTWAIT : flags);
        zop op = {.kind = OP_MSG_SEND, .sock = socket, .msg = &parts[i], .flags = f};
        if (green_op(&op, true) < 0)
            return -1; /* i > 0 only when the socket or context died under it */
    }
    return (int)n;
}

/* Hand S's held message to PARTS if it fits: the frame count, or -1
 * EMSGSIZE with *N = the count needed. */
static int give_held(zsock *s, zmq_msg_t *parts, size_t *n)
{
    size_t k = s->nheld;
    if (*n < k) {
        *n = k;
        errno = EMSGSIZE;
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        zmq_msg_close(&parts[i]);
        parts[i] = s->held[i]; /* a zmq_msg_t moves by value; the copy owns it */
    }
    free(s->held);
    s->held = NULL;
    s->nheld = 0;
    *n = k;
    return (int)k;
}

/* PARTS[0..cap) hold the first frames of a message whose next frame is
 * still in SOCK: take the rest and keep the whole for the next recvv. */
static int hold_rest(gz_hub *h, void *sock, zmq_msg_t *parts, size_t cap, size_t *n)
{
    zsock *s = sock_state(h, sock);
    size_t k = cap, room = cap * 2 + 4;
    zmq_msg_t *held = s ? malloc(room * sizeof *held) : NULL;
    if (!held) {
        *n = cap; /* PARTS hold the first frames; the rest stays in SOCK */
        errno = ENOMEM;
        return -1;
    }
    memcpy(held, parts, cap * sizeof *held);
    for (size_t i = 0; i < cap; i++)
        zmq_msg_init(&parts[i]);
    bool more = true;
    while (more) {
        if (k == room) {
            zmq_msg_t *bigger = realloc(held, room * 2 * sizeof *held);
            if (!bigger)
                break; /* keep what we have: a truncated message, not a lost one */
            held = bigger;
            room *= 2;
        }
        zmq_msg_init(&held[k]);
        if (zmq_msg_recv(&held[k], sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&held[k]);
            break;
        }
        more = zmq_msg_more(&held[k++]) != 0;
    }
    s->held = held;
    s->nheld = k;
    /* These plain recvs, like the recvs of the first frames (completed_now
     * waits for a message's last frame), may have read the socket's command
     * mailbox: libzmq does when a pipe must be woken and on every 100th
     * recv. As after any operation (rule 4), the marked writers try again:
     * the command may have been the news they wait for, and it is gone. */
    untry(gz__layer_state(h, &zmq_layer), s);
    *n = k;
    errno = more ? ENOMEM : EMSGSIZE;
    return -1;
}

int gz_zmq_recvv(void *socket, zmq_msg_t *parts, size_t *n, int flags)
{
    if (!parts || !n) {
        errno = EFAULT;
        return -1;
    }
    size_t cap = *n;
    if (cap == 0 || cap > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub_peek();
    zstate *z = h ? gz__layer_state(h, &zmq_layer) : NULL;
    zsock *s = z && socket ? lookup(z, socket) : NULL;
    if (s && s->nheld)
        return give_held(s, parts, n);
    size_t k = 0;
    for (;;) {
        zop op = {.kind = OP_RECV, .sock = socket, .msg = &parts[k],
                  .flags = k ? flags | ZMQ_DONTWAIT : flags};
        if (green_op(&op, false) < 0) {
            if (k == 0)
                return -1;
            *n = k; /* the socket or context died mid-message */
            return -1;
        }
        bool more = zmq_msg_more(&parts[k++]) != 0;
        if (!more)
            break;
        if (k == cap)
            return hold_rest(gz__hub(), socket, parts, cap, n);
    }
    *n = k;
    return (int)k;
}

/* ---- close ---- */

static void close_waiters(gz_list *list)
{
    gz_list *n;
    while ((n = gz__list_pop(list))) {
        gz_waiter *w = GZ_CONTAINER(n, gz_waiter, node);
        w->flags |= W_CLOSED;
        gz__wake_waiter(w, ENOTSOCK);
    }
}

int gz_zmq_forget(void *socket)
{
    if (!socket) {
        errno = ENOTSOCK;
        return -1;
    }
    gz_hub *h = gz__hub_peek();
    zstate *z = h ? gz__layer_state(h, &zmq_layer) : NULL;
    zsock *s = z && socket ? lookup(z, socket) : NULL;
    if (s) {
        close_waiters(&s->readers);
        close_waiters(&s->writers);
        close_waiters(&s->pollers);
        gz__list_remove(&s->fresh);
        z->wtried -= s->wtried;
        deactivate(z, s);
        gz__ztable_erase(&z->socks, s->sock);
        drop_held(s);
        free(s);
    }
    return 0;
}

int gz_zmq_close(void *socket)
{
    gz_zmq_forget(socket);
    return zmq_close(socket);
}

/* ---- poll ---- */

typedef struct pslot {
    gz_waiter w;  /* on the socket's pollers */
    zsock *s;     /* NULL for a plain fd, or nothing to wait for */
    gz_fdwait fw; /* a plain fd's wait, in the fd table: gz_close ends it */
    bool fd_on;
} pslot;

static short to_poll(short ev)
{
    return (short)((ev & ZMQ_POLLIN ? POLLIN : 0) |
                   (ev & ZMQ_POLLOUT ? POLLOUT : 0) |
                   (ev & ZMQ_POLLPRI ? POLLPRI : 0));
}

static short from_poll(short re)
{
    return (short)((re & POLLIN ? ZMQ_POLLIN : 0) |
                   (re & POLLOUT ? ZMQ_POLLOUT : 0) |
                   (re & POLLPRI ? ZMQ_POLLPRI : 0) |
                   (re & ~(POLLIN | POLLOUT | POLLPRI) ? ZMQ_POLLERR : 0));
}

/* Set every item's revents from ZMQ_EVENTS and poll(2): the number of items
 * ready, or -1 with a socket's error. A plain fd that gz_close took away
 * while we waited is ZMQ_POLLERR, as zmq_poll reports a closed fd (poll(2)'s
 * POLLNVAL), whatever file its number names by now. */
static int scan(zstate *z, zmq_pollitem_t *items, int n, struct pollfd *pfd,
                const pslot *sl)
{
    int ready = 0, nfd = 0;
    for (int i = 0; i < n; i++) {
        zmq_pollitem_t *it = &items[i];
        it->revents = 0;
        if (it->socket) {
            zsock *s = z && z->wtried ? lookup(z, it->socket) : NULL;
            if (s)
                untry_if_signalled(z, s); /* before the read drains it */
            int ev = 0;
            size_t len = sizeof ev;
            if (zmq_getsockopt(it->socket, ZMQ_EVENTS, &ev, &len) != 0)
                return -1;
            it->revents = (short)(ev & it->events & (ZMQ_POLLIN | ZMQ_POLLOUT));
        } else {
            pfd[nfd++] = (struct pollfd){.fd = it->fd, .events = to_poll(it->events)};
        }
    }
    if (nfd > 0 && poll(pfd, (nfds_t)nfd, 0) < 0)
        return -1;
    nfd = 0;
    for (int i = 0; i < n; i++) {
        zmq_pollitem_t *it = &items[i];
        if (!it->socket) {
            short re = pfd[nfd++].revents;
            it->revents = sl[i].fd_on && sl[i].fw.closed ? ZMQ_POLLERR : from_poll(re);
        }
        ready += it->revents != 0;
    }
    return ready;
}

/* Park on every item; rescan after each wakeup. */
static int poll_wait(gz_hub *h, zmq_pollitem_t *items, int n, long timeout_ms,
                     pslot *sl, struct pollfd *pfd)
{
    zstate *z = zstate_get(h);
    if (!z)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        zmq_pollitem_t *it = &items[i];
        sl[i].w = (gz_waiter){.g = h->current};
        if (it->socket && (it->events & (ZMQ_POLLIN | ZMQ_POLLOUT))) {
            zsock *s = sock_state(h, it->socket);
            if (!s || activate(z, s) != 0) {
                int e = errno;
                if (s)
                    forget(z, s);
                errno = e;
                rc = -1;
                break;
            }
            sl[i].s = s;
            sl[i].w.data = (void *)(intptr_t)(it->events & (ZMQ_POLLIN | ZMQ_POLLOUT));
            gz__list_push(&s->pollers, &sl[i].w.node);
        } else if (!it->socket && it->fd >= 0 && it->events) {
            if (gz__fdwait_start(h, &sl[i].fw, it->fd, gz__ev_events(to_poll(it->events)))) {
                rc = -1;
                break;
            }
            sl[i].fd_on = true;
        }
    }
    double deadline = gz__deadline(h, (double)timeout_ms / 1000.0);
    while (rc == 0) {
        int prc = park_until(h, deadline, "gz_zmq_poll", items);
        for (int i = 0; i < n; i++) {
            if (sl[i].w.flags & W_CLOSED) {
                errno = ENOTSOCK;
                prc = -1;
            }
        }
        if (prc != 0) {
            rc = prc > 0 ? 0 : -1; /* timed out: 0 */
            break;
        }
        rc = scan(z, items, n, pfd, sl);
    }
    int e = errno;
    for (int i = 0; i < n; i++) {
        if (sl[i].s && !(sl[i].w.flags & W_CLOSED)) {
            gz__list_remove(&sl[i].w.node);
            if (!has_waiters(sl[i].s))
                deactivate(z, sl[i].s);
        }
        if (sl[i].fd_on)
            gz__fdwait_stop(h, &sl[i].fw);
    }
    errno = e;
    return rc;
}

int gz_zmq_poll(zmq_pollitem_t *items, int nitems, long timeout_ms)
{
    if (nitems < 0) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, (double)timeout_ms) &&
        !(h && errno == EPERM && timeout_ms == 0)) /* 0: no wait */
        return -1;
    if (nitems == 0) {
        if (timeout_ms == 0)
            return 0;
        return gz_sleep(timeout_ms < 0 ? GZ_FOREVER : (double)timeout_ms / 1000.0) ? -1 : 0;
    }
    if (!items) {
        errno = EFAULT;
        return -1;
    }
    struct pollfd pfd_local[8];
    pslot sl_local[8];
    struct pollfd *pfd = pfd_local;
    pslot *sl = sl_local;
    if (nitems > 8) {
        pfd = malloc((size_t)nitems * sizeof *pfd);
        sl = calloc((size_t)nitems, sizeof *sl);
        if (!pfd || !sl) {
            free(pfd);
            free(sl);
            errno = ENOMEM;
            return -1;
        }
    } else {
        memset(sl_local, 0, sizeof sl_local);
    }
    int rc = scan(gz__layer_state(h, &zmq_layer), items, nitems, pfd, sl);
    if (rc == 0 && timeout_ms != 0)
        rc = poll_wait(h, items, nitems, timeout_ms, sl, pfd);
    else if (rc >= 0 && !h->greenlets.in_callback)
        gz__no_wait(h);
    if (nitems > 8) {
        int e = errno;
        free(pfd);
        free(sl);
        errno = e;
    }
    return rc;
}

/* ---- gz_select (gz_select.h) ---- */

int gz__zmq_select_ready(gz_hub *h, void *sock, bool out, gz_waiter *w)
{
    if (w && (w->flags & W_CLOSED)) {
        errno = ENOTSOCK;
        return -1;
    }
    /* The check that woke W read ZMQ_EVENTS, and no operation on the
     * socket has completed or failed since: reading it again would cost
     * libzmq a poll syscall for the same answer. */
    if (w && (w->flags & W_SEEN)) {
        w->flags &= ~W_SEEN;
        return 1;
    }
    zstate *z = gz__layer_state(h, &zmq_layer);
    zsock *s = z && z->wtried ? lookup(z, sock) : NULL;
    if (s && s->wtried && signalled(s))
        untry(z, s); /* as scan(): the read below drains what they wait for */
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) != 0)
        return -1;
    return (ev & (out ? ZMQ_POLLOUT : ZMQ_POLLIN)) != 0;
}

int gz__zmq_select_link(gz_hub *h, void *sock, bool out, gz_waiter *w)
{
    zstate *z = zstate_get(h);
    zsock *s = z ? sock_state(h, sock) : NULL;
    if (!s)
        return -1;
    if (activate(z, s) != 0) {
        int e = errno;
        forget(z, s);
        errno = e;
        return -1;
    }
    w->data = (void *)(intptr_t)(out ? ZMQ_POLLOUT : ZMQ_POLLIN);
    if (!out) { /* it had to wait to receive: rule 2 applies to it too */
        s->rdefer = true;
        w->flags |= W_FRESH;
    }
    gz__list_push(&s->pollers, &w->node);
    return 0;
}

bool gz__zmq_select_deferred(gz_hub *h, void *sock)
{
    return defer_recv(gz__layer_state(h, &zmq_layer), sock, 0);
}

void gz__zmq_select_unlink(gz_hub *h, void *sock, gz_waiter *w)
{
    if (w->flags & W_CLOSED) /* gz_zmq_close freed the state and unlinked W */
        return;
    gz__list_remove(&w->node);
    zstate *z = gz__layer_state(h, &zmq_layer);
    zsock *s = z ? lookup(z, sock) : NULL;
    if (s && !has_waiters(s))
        deactivate(z, s);
}

/* ---- what run info and gz_hub_stats see ---- */

void gz__zmq_counts(gz_hub *h, gz_zmq_counts *out)
{
    const zstate *z = gz__layer_state(h, &zmq_layer);
    *out = (gz_zmq_counts){0};
    if (z) {
        out->recvs = z->ops[0];
        out->sends = z->ops[1];
        out->recvs_waited = z->waited[0];
        out->sends_waited = z->waited[1];
    }
}

static const char *const type_names[] = {
    "ZMQ_PAIR", "ZMQ_PUB", "ZMQ_SUB", "ZMQ_REQ", "ZMQ_REP", "ZMQ_DEALER",
    "ZMQ_ROUTER", "ZMQ_PULL", "ZMQ_PUSH", "ZMQ_XPUB", "ZMQ_XSUB", "ZMQ_STREAM",
};

/* Neither option reads the socket's mailbox, so no edge is consumed. */
void gz__zmq_describe(void *sock, char *buf, size_t n)
{
    int type = -1;
    size_t len = sizeof type;
    char ep[256] = "";
    size_t eplen = sizeof ep;
    if (zmq_getsockopt(sock, ZMQ_TYPE, &type, &len) != 0) {
        snprintf(buf, n, "closed socket %p", sock);
        return;
    }
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0)
        ep[0] = 0;
    const char *tn = type >= 0 && (size_t)type < sizeof type_names / sizeof *type_names
                         ? type_names[type] : "ZeroMQ";
    if (ep[0])
        snprintf(buf, n, "%s socket %p (%s)", tn, sock, ep);
    else
        snprintf(buf, n, "%s socket %p", tn, sock);
}
