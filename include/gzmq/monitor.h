/* libgzmq: seeing inside a running program: the blocking watchdog, run
 * info (every greenlet of a hub and what it waits on) and hub statistics.
 * Included by <gzmq.h>; do not include directly. */
#ifndef GZMQ_MONITOR_H
#define GZMQ_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start the blocking watchdog: a background thread that reports, once per
 * episode, every hub of the process that has not polled its loop for more
 * than MAX_BLOCKING seconds (a greenlet computing, or stuck in a call that
 * is not green), with the running greenlet and the thread's backtrace,
 * then a second line when the hub moves again. REPORT gets each text on
 * the watchdog thread (it must not call libgzmq); NULL: stderr. Also
 * started by GZ_MAX_BLOCKING_TIME=seconds in the environment, read when
 * the first hub is created. Uses SIGURG to ask the blocked thread where it
 * is. -1: EINVAL (MAX_BLOCKING not > 0 or not finite), EBUSY (running). */
int gz_monitor_start(double max_blocking,
                     void (*report)(const char *text, void *arg), void *arg);
/* Stop the watchdog (0 if it was not running). -1: EDEADLK (called from
 * its report callback). */
int gz_monitor_stop(void);

/* Print run info of the calling thread's hub on F: every greenlet (main
 * first) with id, name, state, parent, time in that state, what it waits on
 * ("gz_queue_get on queue 0x..."), its stack size and high-water mark and,
 * when parked, its backtrace. -1: EINVAL (F NULL), ENOMEM, EIO (write). */
int gz_print_run_info(FILE *f);
/* Call CB for every greenlet of the calling thread's hub with G and the
 * block of text gz_print_run_info prints for it; a non-zero return from CB
 * stops the walk and is returned. CB must not block (its blocking calls
 * fail with EPERM). -1: EINVAL (CB NULL), ENOMEM. */
int gz_foreach_greenlet(int (*cb)(gz_greenlet *g, const char *info, void *arg),
                        void *arg);
/* Print run info on stderr, from a greenlet of the calling thread's hub,
 * whenever SIGNO arrives (through gz_signal). Also set up for the first hub
 * of the process by GZ_RUN_INFO_SIGNAL=USR1 (a name, with or without SIG,
 * or a number) in the environment. -1: as gz_signal (EINVAL, EBUSY). */
int gz_run_info_on_signal(int signo);

/* What gz_hub_stats fills in, for the calling thread's hub. Counts of
 * greenlets leave main out. */
typedef struct gz_stats {
    size_t live;            /* greenlets started and not ended */
    size_t ready;           /* in the run queue */
    size_t parked;          /* blocked, all kinds of wait; by kind: */
    size_t parked_queue;    /* gz_queue_* */
    size_t parked_zmq;      /* gz_zmq_send / recv / poll */
    size_t parked_fd;       /* gz_wait_read / write, gz_poll, gz_read... */
    size_t parked_sleep;    /* gz_sleep */
    size_t parked_join;     /* gz_join, gz_pool_join */
    size_t parked_sync;     /* gz_sem_acquire, gz_event_wait, gz_result_get */
    size_t parked_other;    /* gz_select, gz_run_in_thread, servers... */
    uint64_t spawned;       /* greenlets started, in total */
    uint64_t ended;         /* of which have ended */
    uint64_t switches;      /* context switches, in total */
    uint64_t loop_polls;    /* loop iterations, in total */
    double max_poll_gap;    /* longest time (s) from one loop poll to the next
                             * since the previous call (the first: since the
                             * hub was created) */
    uint64_t zmq_sends;     /* successful gz_zmq_*send calls (frames) */
    uint64_t zmq_sends_waited; /* of which had to wait */
    uint64_t zmq_recvs;     /* successful gz_zmq_*recv calls (frames) */
    uint64_t zmq_recvs_waited;
    size_t stack_bytes_live;   /* stacks of live greenlets (mapped size) */
    size_t stack_bytes_cached; /* free stacks kept for reuse (the stack
                                * cache, recycled greenlets) */
} gz_stats;

/* Fill OUT with the calling thread's hub's statistics. -1: EINVAL (NULL),
 * ENOMEM (no hub could be made). */
int gz_hub_stats(gz_stats *out);

#ifdef __cplusplus
}
#endif

#endif
