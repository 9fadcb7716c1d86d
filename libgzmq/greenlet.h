/* Greenlets (greenlet.c): the struct the hub schedules, the waiter node that
 * blocking primitives park it with, and the hub's greenlet bookkeeping
 * (gz_greenlets), which greenlet.c alone writes. Needs gz_stack (stack.c). */
#ifndef GZ_GREENLET_H
#define GZ_GREENLET_H


#include "ctx.h"
#include "list.h"
#include "obj.h"
#include "timer.h"

enum gz_state {
    GZ_NEW,     /* created, not started */
    GZ_LATER,   /* started with a delay, timer pending */
    GZ_READY,   /* in the run queue */
    GZ_RUNNING, /* the current greenlet */
    GZ_PARKED,  /* blocked in gz__park */
    GZ_DEAD
};

/* gz_greenlet.flags: independent facts about a greenlet, one bit each. */
enum {
    GZ_G_MAIN = 1u << 0,        /* the hub's main greenlet (the thread) */
    GZ_G_BEGAN = 1u << 1,       /* fn has been entered */
    GZ_G_STARTED = 1u << 2,     /* gz_start / gz_start_later has run */
    GZ_G_FINISHING = 1u << 3,   /* its links are running */
    GZ_G_KEEPS_STACK = 1u << 4, /* ended, unreleased, its stack kept for reuse */
    GZ_G_KILLED = 1u << 5,
    GZ_G_FAILED = 1u << 6,
    GZ_G_OBSERVED = 1u << 7,    /* failure seen by get / exception / link */
    GZ_G_USER_REF = 1u << 8,    /* the caller's reference is still held */
    GZ_G_HUB_REF = 1u << 9,     /* started and not ended */
    GZ_G_KILL_DEFERRED = 1u << 10, /* killed while shielded: lands at gz_shield_end */
};

struct gz_greenlet {
    gz_obj obj;
    gz_list node;          /* run queue; the hub's free list */
    gz_ctx ctx;
    gz_list all;           /* the hub's started, live greenlets */
    enum gz_state state;
    int wake_code;         /* why gz__park returned: 0 or an errno */
    unsigned flags;        /* GZ_G_* */
    unsigned fired;        /* expired gz_timeouts still armed */
    unsigned calls_without_wait; /* green calls in a row that did not park */
    unsigned shield;       /* gz_shield_begin depth: kills wait while > 0 */
    struct gz_locals *locals; /* locals.c: NULL until a key is set or inherited */
    struct gz_scope *scopes;  /* scope.c: the open scopes it owns, newest first */
    gz_fn fn;
    void *arg;
    void *value;
    gz_error err;
    char *name;
    uint64_t id;
    gz_stack stack;
    gz_timer timer;        /* wait timeout, or start delay */
    gz_list joiners;       /* gz_waiter */
    gz_list links;         /* struct gz_link */
    gz_list timeouts;      /* armed gz_timeout */
    char defname[32];
    /* Run info (runinfo.c) and the gdb helper (tools/gdb) read these from
     * memory; each costs a store where it changes.
     * wait_kind: while PARKED, a static string naming the call that parked
     *   it ("gz_queue_get", "gz_zmq_recv", "gz_sleep", "gz_join", ...).
     * wait_obj: what that call waits on: the gz_queue / gz_sem / gz_event /
     *   gz_result / gz_pool / gz_greenlet (gz_join) / ZeroMQ socket, the fd
     *   cast to a pointer for "gz_wait_read" / "gz_wait_write", else NULL.
     * A parked greenlet's backtrace starts at the frame pointer its context
     *   switch saved (ctx.sp[6] on x86_64, ctx.sp[10] on aarch64): the frame
     *   record of gz__park_until, which always keeps one; from there frame
     *   records link up to gz__greenlet_entry (or main's first frame).
     * since: ev_now() of the hub's loop when it last parked (the loop
     *   clock: seconds, the time gz_now returns).
     * parent_id: the id of the current greenlet when it was created:
     *   GZ_PARENT_MAIN (main's id) for main; for one a loop callback created
     *   (a gz_signal handler, a server's connection), the greenlet whose
     *   call was polling the loop. */
    const char *wait_kind;
    const void *wait_obj;
    double since;
    uint64_t parent_id;
#ifdef GZ_TSAN
    void *tsan_fiber;
#endif
#ifdef GZ_ASAN
    void *asan_fake;
    const void *asan_lo;
    size_t asan_size;
#endif
};

#define GZ_PARENT_MAIN UINT64_MAX

/* A greenlet parked on an object: the object keeps a list of these. DATA
 * carries what a hand-off delivers (a queue item, ...). CLAIM is NULL but
 * for gz_select, whose greenlet waits with one waiter per case, all sharing
 * one gz_claim: the waker that wakes the greenlet records there which of
 * them it woke (gz__wake_waiter). */
typedef struct gz_waiter {
    gz_list node;
    gz_greenlet *g;
    void *data;
    int flags;
    struct gz_claim *claim;
} gz_waiter;

typedef struct gz_claim {
    gz_waiter *by; /* the waiter whose wake woke the greenlet, or NULL */
    int code;      /* the code it was woken with */
} gz_claim;

/* The hub's greenlets (gz_hub.greenlets). */
typedef struct gz_greenlets {
    gz_list all;           /* started, live greenlets (not main) */
    gz_list cursor;        /* walks `all` in gz__greenlet_kill_all */
    size_t nlive;          /* started, not ended, not main */
    int in_callback;       /* link callbacks running: blocking is EPERM */
    uint64_t next_id;
    gz_greenlet *zombie;   /* ended greenlet whose stack is freed after the switch */
    gz_list free;          /* recycled greenlet structs, maybe with stacks */
    size_t free_len;
    size_t dead_stacks;    /* ended, unreleased greenlets keeping a stack */
    uint64_t unstarted;    /* created, never started: next_id - unstarted
                            * have started, nlive of them still live */
} gz_greenlets;

/* Set up H's greenlet bookkeeping and its main greenlet (running). */
void gz__greenlets_init(gz_hub *h);
/* Free the recycled structs and their stacks. */
void gz__greenlets_fini(gz_hub *h);
/* The greenlet that switched here has ended: free it, or keep its stack. */
void gz__bury(gz_hub *h, gz_greenlet *z);
void *gz__greenlet_entry(void *arg);
void gz__greenlet_free(gz_greenlet *g);
/* gz_link for the library's own bookkeeping: OBSERVES false leaves an
 * unobserved failure to be reported as if the link were not there. */
int gz__link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg,
             bool observes);
void gz__greenlet_kill_all(gz_hub *h, gz_greenlet *except);
/* Bytes of the stacks that recycled greenlet structs keep for reuse. */
size_t gz__greenlets_spare_stack_bytes(const gz_hub *h);
/* Library callbacks into user code are running (link callbacks, run info's
 * visitor): blocking calls fail with EPERM meanwhile. */
/* gz_call_hot's function is running on the hub's shared stack (hot.c). */
bool gz__hot_running(gz_hub *h);
void gz__callbacks_enter(gz_hub *h);
void gz__callbacks_leave(gz_hub *h);

/* scope.c: G, the owner of open scopes, was killed (its members are
 * killed too) or has ended without closing them (they are orphaned). */
void gz__scopes_owner_killed(gz_greenlet *g);
void gz__scopes_owner_ended(gz_greenlet *g);
/* locals.c: give CHILD the values of PARENT's GZ_KEY_INHERIT keys (0, or -1
 * ENOMEM); run G's destructors and free its storage as it ends. */
int gz__locals_inherit(const gz_greenlet *parent, gz_greenlet *child);
void gz__locals_end(gz_greenlet *g);

/* timeout.c: disarm G's gz_timeouts as it ends. */
void gz__timeouts_disarm(gz_greenlet *g);

#endif
