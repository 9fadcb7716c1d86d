/* Timers: one heap per hub, driven by one libev timer; deterministic for
 * equal deadlines (earlier start first). timer.c alone touches gz_timers. */
#ifndef GZ_TIMER_H
#define GZ_TIMER_H

#include <ev.h>

#include "base.h"

typedef struct gz_timer gz_timer;
struct gz_timer {
    double at;
    uint64_t seq;
    size_t idx; /* position in the heap + 1; 0 when not armed */
    void (*cb)(gz_timer *t);
};

typedef struct gz_timers {
    ev_timer watcher;   /* fires at the earliest gz_timer */
    gz_timer **heap;
    size_t len, cap;
    uint64_t seq;
    bool in_cb;         /* expired timers are running: rearm once after */
} gz_timers;

void gz__timers_init(gz_timers *ts);
void gz__timers_fini(gz_timers *ts, struct ev_loop *loop);

/* Arm T (re-arming it if armed) to call t->cb at AT, a time on the loop
 * clock (gz__deadline makes one), on this thread's hub. */
void gz__timer_start_at(gz_timer *t, double at);
void gz__timer_stop(gz_timer *t);
static inline bool gz__timer_active(const gz_timer *t) { return t->idx != 0; }

#endif
