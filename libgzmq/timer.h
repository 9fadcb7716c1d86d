/* Timers: one heap per hub, driven by one libev timer; deterministic for
 * equal deadlines (earlier start first). timer.c alone touches gz_timers.
 * A timer may be disarmed lazily (gz__timer_disarm): it stays in the heap
 * until its old deadline comes up, and arming it again for a later
 * deadline costs no heap operation. This is the common case of a wait's
 * timeout: armed for an idle timeout, disarmed when data comes at once. */
#ifndef GZ_TIMER_H
#define GZ_TIMER_H

#include <ev.h>
#include <math.h>

#include "base.h"

typedef struct gz_timer gz_timer;
struct gz_timer {
    double at;       /* the deadline; INFINITY while disarmed */
    uint64_t seq;    /* arming order, for equal deadlines */
    double key_at;   /* its place in the heap: at most `at`, earlier after */
    uint64_t key_seq; /*   arming again for a later deadline */
    size_t idx;      /* position in the heap + 1; 0 when not in it */
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
/* Take T out of the heap: it will not fire, and its memory may go. */
void gz__timer_stop(gz_timer *t);
/* T will not fire, but may stay in the heap until its deadline comes up (a
 * later gz__timer_start_at is then cheap): gz__timer_stop it before its
 * memory goes, and before its owner waits without a deadline (a timer in
 * the heap keeps the loop from ever finding a deadlock). */
static inline void gz__timer_disarm(gz_timer *t) { t->at = INFINITY; }
/* Will T fire? */
static inline bool gz__timer_active(const gz_timer *t) { return t->idx != 0 && t->at != INFINITY; }
/* Is T in the heap, armed or disarmed lazily? */
static inline bool gz__timer_held(const gz_timer *t) { return t->idx != 0; }

#endif
