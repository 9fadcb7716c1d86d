/* The blocking watchdog's view of a hub (monitor.c): a hub publishes its
 * loop polls, and one process-wide thread notices a hub that has stopped
 * polling. monitor.c alone writes gz_watch (gz_hub.watch). */
#ifndef GZ_MONITOR_H
#define GZ_MONITOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <ev.h>

#include "base.h"

typedef struct gz_watch {
    /* Loop polls, and whether the loop is inside one (waiting for events,
     * which is idle, not blocked). Written by the hub's thread alone (the
     * loop's release / acquire callbacks), read by the watchdog: relaxed
     * atomics. */
    _Atomic unsigned long polls;
    _Atomic bool in_poll;
    double polled_at;          /* ev_time() when the last poll ended */
    double max_gap;            /* longest time from a poll to the next, since
                                * gz_hub_stats last read it */
    pthread_t thread;
    pid_t tid;
    struct gz_watch *next;     /* the watchdog's list of every hub */
    /* The watchdog thread's own notes, under its lock. */
    unsigned long seen_polls;
    double seen_at;
    int episode;               /* 0, or a report is out (1) / held back (2) */
} gz_watch;

/* Start watching H's loop and list it for the watchdog; the first hub of
 * the process reads GZ_MAX_BLOCKING_TIME and GZ_RUN_INFO_SIGNAL. */
void gz__watch_init(gz_hub *h);
/* H is being destroyed: stop watching it. */
void gz__watch_fini(gz_hub *h);
/* The longest time H went from one loop poll to the next since the last
 * call (then restart the measure). */
double gz__watch_take_max_gap(gz_hub *h);
/* GZ_RUN_INFO_SIGNAL=NAME for the first hub (runinfo.c). */
void gz__run_info_env(const char *name);

#endif
