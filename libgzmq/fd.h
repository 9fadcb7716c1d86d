#ifndef GZ_FD_H
#define GZ_FD_H

#include <math.h>
#include <poll.h>
#include <stdbool.h>

#include <ev.h>

#include "hub.h"

/* Plain fds: waiting for readiness (io.c) and I/O (fdio.c). Per hub and fd
 * number, in the fd layer's table: the greenlets waiting on the fd, so that
 * gz_close can wake them and stop their watchers before the number is
 * reused, and a byte that fdio.c keeps about the last calls. gz_close
 * clears both: a reused number starts fresh. */

/* The watcher an fd keeps between the waits of gz_read and gz_write on a
 * socket (io.c). ev_io_set tells libev the fd may name a new file, which
 * costs an epoll_ctl at the next loop turn (one per request in a server);
 * ev_io_modify does not, and is safe only while the number names the same
 * file. The library cannot see a plain close(2), so it trusts the number
 * only where it made the file itself and where a plain close is the
 * documented misuse: a connection gz_accept returned (gz_server's), waited
 * on again by the greenlet that waited on it last. gz_close, gz_accept and
 * gz_connect forget the trust; another greenlet, or a loop turn between
 * the two waits (libev then re-registers anyway), never relies on it. */
typedef struct gz_fdwatch {
    ev_io io;                       /* data: the waiting greenlet */
    uint64_t last;                  /* id of the greenlet that waited last */
    bool known;                     /* `last` holds for the file the number names */
    bool accepted;                  /* the file came from gz_accept */
    bool busy;                      /* a waiter uses it now */
} gz_fdwatch;

/* One greenlet's wait on one fd. */
typedef struct gz_fdwait {
    ev_io own;                      /* the watcher, unless the fd's own is used */
    ev_io *io;                      /* &own or &watch->io; data: the waiting greenlet */
    gz_fdwatch *watch;              /* the fd's watcher when io is it */
    struct gz_fdwait *next, *prev;  /* its fd's waiters, oldest first */
    bool linked;
    bool closed;                    /* gz_close took the fd away */
} gz_fdwait;

typedef struct gz_fdslot {
    gz_fdwait *first, *last;        /* by pointer, not a list head: the table moves */
    gz_fdwatch *watch;              /* allocated on first use: libev holds its address */
    unsigned char bits;             /* fdio.c's */
} gz_fdslot;

typedef struct gz_fdtab {
    gz_fdslot *slots;
    size_t cap;
} gz_fdtab;

/* The table's registration with the hub (io.c). */
extern const gz_layer gz__fd_layer;

/* FD's slot, the table grown to hold it; NULL (ENOMEM). Only for an fd a
 * syscall has just accepted, so that a bogus number cannot make the table
 * huge (a valid fd is below the open-file limit). */
gz_fdslot *gz__fd_grow(gz_hub *h, int fd);
GZ_INLINE gz_fdslot *gz__fd_slot(gz_hub *h, int fd)
{
    gz_fdtab *t = gz__layer_state(h, &gz__fd_layer);
    if (GZ_LIKELY(t && (size_t)fd < t->cap))
        return &t->slots[fd];
    return gz__fd_grow(h, fd);
}
/* FD's slot if the table holds it; else NULL: nothing is known of FD. */
GZ_INLINE gz_fdslot *gz__fd_peek(const gz_hub *h, int fd)
{
    const gz_fdtab *t = gz__layer_state(h, &gz__fd_layer);
    return t && (size_t)fd < t->cap ? &t->slots[fd] : NULL;
}
/* The callback of every watcher a greenlet parks on for an fd: wakes the
 * greenlet in w->data with success. */
void gz__fd_ready_cb(struct ev_loop *loop, ev_io *w, int revents);
/* The libev events (EV_READ | EV_WRITE) to watch for poll(2) EVENTS;
 * EV_READ when they ask for neither, as poll(2) reports errors and hangups
 * all the same. */
static inline int gz__ev_events(short events)
{
    int ev = (events & (POLLIN | POLLPRI) ? EV_READ : 0) | (events & POLLOUT ? EV_WRITE : 0);
    return ev ? ev : EV_READ;
}
/* Is FD ready for poll(2) EVENTS right now? 1 yes, 0 no, -1 with errno
 * (EBADF for a closed fd). */
int gz__fd_ready_now(int fd, short events);

/* Start W watching FD for EV_EVENTS (EV_READ / EV_WRITE) on behalf of the
 * current greenlet, which a readiness or gz_close wakes; -1 ENOMEM. With
 * REUSE, the fd's kept watcher (gz_fdwatch) when it is free. */
int gz__fdwait_start_opt(gz_hub *h, gz_fdwait *w, int fd, int ev_events, bool reuse);
static inline int gz__fdwait_start(gz_hub *h, gz_fdwait *w, int fd, int ev_events)
{
    return gz__fdwait_start_opt(h, w, fd, ev_events, false);
}
/* FD's number may name a new file now: its kept watcher is set afresh;
 * ACCEPTED: gz_accept has just made it (only then may it be trusted). */
void gz__fdwatch_forget(gz_hub *h, int fd, bool accepted);
/* Stop W (also after gz_close stopped it): true if gz_close took its fd. */
bool gz__fdwait_stop(gz_hub *h, gz_fdwait *w);

/* Park the current greenlet until FD has EV_EVENTS, without first asking
 * poll(2): for a caller that has just seen EAGAIN. As gz__park_until
 * otherwise, and -1 EBADF when gz_close closed FD meanwhile; the caller has
 * done gz__enter. */
int gz__park_fd_until(gz_hub *h, int fd, int ev_events, double deadline);
int gz__park_fd_until_opt(gz_hub *h, int fd, int ev_events, double deadline, bool reuse);

/* The start of a green call on FD: the caller's hub, or NULL with EBADF
 * (negative FD) or gz__check_entry's errno. */
static inline gz_hub *gz__fd_begin(int fd, double timeout)
{
    if (fd < 0) {
        errno = EBADF;
        return NULL;
    }
    gz_hub *h = gz__hub();
    return gz__check_entry(h, timeout) ? NULL : h;
}

/* A call on an fd that may wait several times (gz_read, gz_accept...): its
 * deadline is fixed at its first wait, so that a call that never waits
 * never reads the clock. */
typedef struct gz_fdcall {
    double timeout;
    double deadline; /* NAN until the first wait */
    bool waited;
    bool reuse;      /* wait on the fd's kept watcher (gz_read, gz_write on a socket) */
} gz_fdcall;

static inline gz_fdcall gz__fdcall(double timeout)
{
    return (gz_fdcall){.timeout = timeout, .deadline = NAN};
}
/* After an EAGAIN, wait until FD has EV_EVENTS within call C's deadline:
 * -1 ETIMEDOUT once it has passed, else as gz__park_fd_until. */
int gz__fdcall_wait(gz_hub *h, gz_fdcall *c, int fd, int ev_events);
/* Call C has completed: if it never waited, it counts towards the fairness
 * yield (gz__no_wait). */
static inline void gz__fdcall_done(gz_hub *h, const gz_fdcall *c)
{
    if (!c->waited)
        gz__no_wait(h);
}

/* FD is a new file (accept(2) has just returned it, ACCEPTED, or it is
 * being connected): forget what fdio.c and io.c knew of its number. */
void gz__fdio_forget(gz_hub *h, int fd, bool accepted);

#endif
