/* The blocking watchdog: every hub counts its loop polls (gz_watch), and
 * one process-wide thread looks at the counts every fraction of the limit.
 * A hub whose count has not moved for longer than the limit, and that is
 * not inside a poll (waiting for events is idle, not blocked), is blocked:
 * its thread is signalled once and records where it is with backtrace(),
 * and the watchdog reports that; when the count moves again, it says for
 * how long the episode lasted. */
#include <execinfo.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/monitor.h"

/* The signal that asks a blocked hub's thread where it is: ignored by
 * default, so one that arrives after gz_monitor_stop harms nothing. */
#define CAPTURE_SIGNAL SIGURG
#define CAPTURE_FRAMES 64
#define NAME_MAX_LEN 64

/* ---- the hub's side: count the polls ---- */

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}


/* libev calls these around every backend poll (blocking or not), on the
 * thread running the loop. No watcher: nothing to stop when the hub goes,
 * whether or not the loop (the application's, with gz_use_loop) is still
 * there, and a loop run by another hub's thread later is not ours. */
static gz_watch *my_watch(struct ev_loop *loop)
{
    gz_hub *h = gz__tl_hub;
    return h && h->loop == loop ? &h->watch : NULL;
}

static void poll_release(struct ev_loop *loop)
{
    gz_watch *w = my_watch(loop);
    if (!w)
        return;
    double gap = ev_time() - w->polled_at;
    if (gap > w->max_gap)
        w->max_gap = gap;
    atomic_store_explicit(&w->in_poll, true, memory_order_relaxed);
}

static void poll_acquire(struct ev_loop *loop)
{
    gz_watch *w = my_watch(loop);
    if (!w)
        return;
    w->polled_at = ev_time();
    atomic_store_explicit(&w->in_poll, false, memory_order_relaxed);
    unsigned long n = atomic_load_explicit(&w->polls, memory_order_relaxed);
    atomic_store_explicit(&w->polls, n + 1, memory_order_relaxed);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static gz_watch *hubs;            /* every hub of the process, under lock */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

/* The first hub of the process turns on what the environment asks for. */
static void read_env(void)
{
    const char *v = getenv("GZ_MAX_BLOCKING_TIME");
    if (v && *v) {
        char *end;
        double t = strtod(v, &end);
        if (*end || !(t > 0) || !isfinite(t))
            gz__warn("ignoring GZ_MAX_BLOCKING_TIME=%s (want seconds > 0)\n", v);
        else if (gz_monitor_start(t, NULL, NULL) != 0)
            gz__warn("GZ_MAX_BLOCKING_TIME: cannot start the watchdog: %s\n",
                     strerror(errno));
    }
    const char *sig = getenv("GZ_RUN_INFO_SIGNAL");
    if (sig && *sig)
        gz__run_info_env(sig); /* on the first hub's thread: its hub */
}

void gz__watch_init(gz_hub *h)
{
    gz_watch *w = &h->watch;
    ev_set_loop_release_cb(h->loop, poll_release, poll_acquire);
    w->polled_at = ev_time();
    w->thread = pthread_self();
    w->tid = gettid();
    pthread_mutex_lock(&lock);
    w->seen_at = mono_now(); /* a running watchdog counts from now */
    w->next = hubs;
    hubs = w;
    pthread_mutex_unlock(&lock);
    pthread_once(&env_once, read_env);
}

void gz__watch_fini(gz_hub *h)
{
    gz_watch *w = &h->watch;
    pthread_mutex_lock(&lock);
    for (gz_watch **p = &hubs; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

double gz__watch_take_max_gap(gz_hub *h)
{
    gz_watch *w = &h->watch;
    double gap = ev_time() - w->polled_at; /* the gap now running counts too */
    double max = w->max_gap > gap ? w->max_gap : gap;
    w->max_gap = 0;
    return max;
}

/* ---- capturing where a blocked thread is ---- */

enum { CAP_IDLE, CAP_ASKED, CAP_BUSY, CAP_DONE };

/* One capture at a time, asked by the watchdog thread, filled by the
 * signal handler on the blocked thread. */
static struct {
    _Atomic int state;
    pthread_t thread;
    void *frames[CAPTURE_FRAMES];
    int nframes;
    uint64_t id;
    bool main, named, idle;
    char name[NAME_MAX_LEN];
} cap;

static struct sigaction old_action;

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (old_action.sa_flags & SA_SIGINFO) {
        if (old_action.sa_sigaction)
            old_action.sa_sigaction(sig, si, uc);
    } else if (old_action.sa_handler != SIG_DFL &&
               old_action.sa_handler != SIG_IGN) {
        old_action.sa_handler(sig);
    }
}

/* Runs on the blocked thread: only reads its own hub and calls backtrace(),
 * whose first call (which may allocate, loading libgcc) gz_monitor_start
 * has already made. */
static void capture_handler(int sig, siginfo_t *si, void *uc)
{
    int expect = CAP_ASKED;
    if (si->si_code != SI_TKILL || si->si_pid != getpid() ||
        !atomic_compare_exchange_strong(&cap.state, &expect, CAP_BUSY)) {
        chain(sig, si, uc);
        return;
    }
    if (!pthread_equal(pthread_self(), cap.thread)) {
        atomic_store(&cap.state, CAP_ASKED);
        chain(sig, si, uc);
        return;
    }
    int saved = errno;
    cap.nframes = backtrace(cap.frames, CAPTURE_FRAMES);
    gz_hub *h = gz__tl_hub;
    cap.named = false;
    cap.idle = true;
    if (h) {
        const gz_greenlet *g = h->current;
        cap.id = g->id;
        cap.main = (g->flags & GZ_G_MAIN) != 0;
        const char *name = g->name;
        if (name) {
            size_t i = 0;
            for (; i < NAME_MAX_LEN - 1 && name[i]; i++)
                cap.name[i] = name[i];
            cap.name[i] = 0;
            cap.named = true;
        }
        /* Main outside any green call with nothing else to run starves
         * nobody: the program is simply not using its hub. */
        cap.idle = !cap.main || h->greenlets.nlive > 0 ||
                           !gz__list_empty(&h->runq)
                       ? false
                       : true;
    }
    errno = saved;
    atomic_store(&cap.state, CAP_DONE);
}

static void nap(double seconds)
{
    struct timespec ts = {0, (long)(seconds * 1e9)};
    nanosleep(&ts, NULL);
}

/* Ask W's thread where it is: true when the capture is filled in. */
static bool capture(gz_watch *w)
{
    cap.thread = w->thread;
    atomic_store(&cap.state, CAP_ASKED);
    if (pthread_kill(w->thread, CAPTURE_SIGNAL) != 0) {
        atomic_store(&cap.state, CAP_IDLE);
        return false;
    }
    /* A thread blocked with the signal masked never answers. */
    for (int i = 0; i < 500; i++) {
        if (atomic_load(&cap.state) == CAP_DONE)
            return true;
        nap(0.001);
    }
    int expect = CAP_ASKED;
    if (atomic_compare_exchange_strong(&cap.state, &expect, CAP_IDLE))
        return false;
    while (atomic_load(&cap.state) != CAP_DONE) /* the handler is running */
        nap(0.0001);
    return true;
}

/* ---- the watchdog thread ---- */

typedef struct report_line {
    struct report_line *next;
    char *text;
} report_line;

static struct {
    bool running, stopping;
    pthread_t thread;
    pthread_cond_t cond;
    double max_blocking;
    void (*report)(const char *text, void *arg);
    void *arg;
} mon = {.cond = PTHREAD_COND_INITIALIZER};

static char *describe_block(const gz_watch *w, double blocked)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    char tname[32] = "";
    pthread_getname_np(w->thread, tname, sizeof tname);
    fprintf(f, "libgzmq: hub of thread %d (%s) blocked for %.3f s", (int)w->tid,
            tname, blocked);
    if (cap.main)
        fprintf(f, " in main");
    else if (cap.named)
        fprintf(f, " in greenlet %s (id %llu)", cap.name,
                (unsigned long long)cap.id);
    else
        fprintf(f, " in greenlet Greenlet-%llu (id %llu)",
                (unsigned long long)cap.id, (unsigned long long)cap.id);
    fprintf(f, "; where it is:\n");
    /* Frame 0 is the handler, frame 1 the kernel's signal return. */
    int skip = cap.nframes > 2 ? 2 : 0;
    char **syms = backtrace_symbols(cap.frames + skip, cap.nframes - skip);
    for (int i = 0; i < cap.nframes - skip; i++) {
        if (syms)
            fprintf(f, "  #%d %s\n", i, syms[i]);
        else
            fprintf(f, "  #%d %p\n", i, cap.frames[skip + i]);
    }
    free(syms);
    fclose(f);
    return text;
}

/* Look at every hub once; the texts to report are added to *OUT. */
static void scan(double now, report_line **out)
{
    for (gz_watch *w = hubs; w; w = w->next) {
        unsigned long polls = atomic_load_explicit(&w->polls, memory_order_relaxed);
        bool in_poll = atomic_load_explicit(&w->in_poll, memory_order_relaxed);
        char *text = NULL;
        if (polls != w->seen_polls || in_poll) {
            if (w->episode == 1 &&
                asprintf(&text, "libgzmq: hub of thread %d moved again after %.3f s\n",
                         (int)w->tid, now - w->seen_at) < 0)
                text = NULL;
            w->episode = 0;
            w->seen_polls = polls;
            w->seen_at = now;
        } else if (!w->episode && now - w->seen_at > mon.max_blocking) {
            bool got = capture(w);
            if (got && cap.idle) {
                w->episode = 2;
            } else {
                w->episode = 1;
                if (got)
                    text = describe_block(w, now - w->seen_at);
                else if (asprintf(&text, "libgzmq: hub of thread %d blocked for "
                                         "%.3f s (no backtrace: signal %d blocked)\n",
                                  (int)w->tid, now - w->seen_at, CAPTURE_SIGNAL) < 0)
                    text = NULL;
            }
            atomic_store(&cap.state, CAP_IDLE);
        }
        if (text) {
            report_line *r = malloc(sizeof *r);
            if (r) {
                r->text = text;
                r->next = *out;
                *out = r;
            } else {
                free(text);
            }
        }
    }
}

static void default_report(const char *text, void *arg)
{
    (void)arg;
    fputs(text, stderr);
    fflush(stderr);
}

static void *watchdog(void *arg)
{
    (void)arg;
    double period = mon.max_blocking / 4;
    period = period < 0.001 ? 0.001 : period > 0.25 ? 0.25 : period;
    pthread_mutex_lock(&lock);
    for (gz_watch *w = hubs; w; w = w->next) {
        w->episode = 0;
        w->seen_polls = atomic_load_explicit(&w->polls, memory_order_relaxed);
        w->seen_at = mono_now();
    }
    while (!mon.stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = ts.tv_nsec / 1e9 + period;
        ts.tv_sec += (time_t)t;
        ts.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        pthread_cond_timedwait(&mon.cond, &lock, &ts);
        if (mon.stopping)
            break;
        report_line *lines = NULL;
        scan(mono_now(), &lines);
        if (!lines)
            continue;
        /* Reports run unlocked: the callback may take its time. */
        pthread_mutex_unlock(&lock);
        report_line *rev = NULL;
        while (lines) { /* in the order found */
            report_line *n = lines->next;
            lines->next = rev;
            rev = lines;
            lines = n;
        }
        while (rev) {
            report_line *n = rev->next;
            mon.report(rev->text, mon.arg);
            free(rev->text);
            free(rev);
            rev = n;
        }
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* A forked child has no watchdog thread: it may start its own. */
static void forget_after_fork(void)
{
    pthread_mutex_init(&lock, NULL);
    mon.running = mon.stopping = false;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, forget_after_fork); }

int gz_monitor_start(double max_blocking, void (*report)(const char *text, void *arg),
                     void *arg)
{
    pthread_once(&atfork_once, register_atfork);
    if (!(max_blocking > 0) || !isfinite(max_blocking)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&lock);
    if (mon.running) {
        pthread_mutex_unlock(&lock);
        errno = EBUSY;
        return -1;
    }
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc now, not in the signal handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = capture_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(CAPTURE_SIGNAL, &sa, &old_action) != 0) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    mon.max_blocking = max_blocking;
    mon.report = report ? report : default_report;
    mon.arg = arg;
    mon.stopping = false;
    /* The watchdog takes none of the process's signals. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&mon.thread, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        sigaction(CAPTURE_SIGNAL, &old_action, NULL);
        pthread_mutex_unlock(&lock);
        errno = rc;
        return -1;
    }
    pthread_setname_np(mon.thread, "gz-watchdog");
    mon.running = true;
    pthread_mutex_unlock(&lock);
    return 0;
}

int gz_monitor_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!mon.running || mon.stopping) { /* not running, or being stopped */
        pthread_mutex_unlock(&lock);
        return 0;
    }
    if (pthread_equal(pthread_self(), mon.thread)) {
        pthread_mutex_unlock(&lock);
        errno = EDEADLK;
        return -1;
    }
    mon.stopping = true;
    pthread_cond_signal(&mon.cond);
    pthread_t t = mon.thread;
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    pthread_mutex_lock(&lock);
    sigaction(CAPTURE_SIGNAL, &old_action, NULL);
    mon.running = false;
    pthread_mutex_unlock(&lock);
    return 0;
}
