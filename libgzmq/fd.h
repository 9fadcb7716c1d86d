#ifndef GZ_FD_H
#define GZ_FD_H

#include <stdbool.h>

#include <ev.h>

#include "hub.h"

/* Plain fds (io.c). Per hub and fd number, in the fd layer's table: the
 * greenlets waiting on the fd, so that gz_close can wake them and stop
 * their watchers before the number is reused, and a byte that net.c keeps
 * about the last calls. gz_close clears both: a reused number starts
 * fresh. */

/* One greenlet's watcher on one fd. */
typedef struct gz_fdwait {
    ev_io io;                       /* data: the waiting greenlet */
    struct gz_fdwait *next, *prev;  /* its fd's waiters, oldest first */
    bool linked;
    bool closed;                    /* gz_close took the fd away */
} gz_fdwait;

typedef struct gz_fdslot {
    gz_fdwait *first, *last;        /* by pointer, not a list head: the table moves */
    unsigned char bits;             /* net.c's */
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
/* Start W watching FD for EV_EVENTS (EV_READ / EV_WRITE) on behalf of the
 * current greenlet, which a readiness or gz_close wakes; -1 ENOMEM. */
int gz__fdwait_start(gz_hub *h, gz_fdwait *w, int fd, int ev_events);
/* Stop W (also after gz_close stopped it): true if gz_close took its fd. */
bool gz__fdwait_stop(gz_hub *h, gz_fdwait *w);

/* Park the current greenlet until FD has EV_EVENTS, without first asking
 * poll(2): for a caller that has just seen EAGAIN. As gz__park otherwise,
 * and -1 EBADF when gz_close closed FD meanwhile; the caller has done
 * gz__enter. */
int gz__park_fd(gz_hub *h, int fd, int ev_events, double timeout);

#endif
