/* gz_run_threads: one service over every core, one hub per thread. Each
 * thread runs fn(index, arg) in a greenlet of its own hub, then the hub
 * until nothing is left in it; the caller parks (its hub goes on serving,
 * signals included) until the last thread ends, then joins them all.
 *
 * Stopping crosses threads through libev's ev_async, the one wakeup libev
 * allows from another thread: every running group is on a process-wide
 * list, and gz_run_threads_stop sends each of its hubs an ev_async whose
 * callback starts a gz_shutdown there. One mutex guards the list and every
 * group's counters, and is held while sending, so that a hub cannot stop
 * its watcher and go while another thread sends to it. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gzmq/thread.h"

#define GZ_RUN_THREADS_MAX 1024

typedef struct group group;

/* One thread of a group. */
typedef struct member {
    group *grp;
    size_t index;
    pthread_t thread;
    struct ev_loop *loop; /* its hub's, while `stop` may be sent to */
    ev_async stop;        /* gz_run_threads_stop -> this hub */
    bool held;            /* `stop` keeps the hub going: fn still runs */
    int code;             /* 0, or how fn's greenlet failed */
    char message[200];
} member;

struct group {
    gz_list node;         /* the running groups */
    void (*fn)(size_t index, void *arg);
    void *arg;
    member *members;
    size_t started, ended; /* threads */
    bool stopping;
    struct ev_loop *caller_loop;
    gz_greenlet *caller;
    ev_async ended_async;  /* a thread has ended -> the caller's hub */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static gz_list groups = {&groups, &groups};

/* Under lock. */
static void group_stop(group *g)
{
    g->stopping = true;
    for (size_t i = 0; i < g->started; i++)
        if (g->members[i].loop)
            ev_async_send(g->members[i].loop, &g->members[i].stop);
}

int gz_run_threads_stop(void)
{
    pthread_mutex_lock(&lock);
    for (gz_list *n = groups.next; n != &groups; n = n->next)
        group_stop(GZ_CONTAINER(n, group, node));
    pthread_mutex_unlock(&lock);
    return 0;
}

/* ---- one thread ---- */

static void *shutdown_hub(void *unused)
{
    (void)unused;
    gz_shutdown();
    return NULL;
}

/* On the member's own hub: a callback may not block, so the shutdown runs
 * in a greenlet of its own. */
static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    (void)w;
    gz_greenlet *s = gz_spawn(shutdown_hub, NULL);
    if (s)
        gz_release(s);
    else
        gz__warn("gz_run_threads_stop: a hub could not start its shutdown (ENOMEM)\n");
}

static void *run_fn(void *p)
{
    member *m = p;
    m->grp->fn(m->index, m->grp->arg);
    return NULL;
}

static void note_failure(member *m, int code, const char *what)
{
    m->code = code ? code : EIO;
    snprintf(m->message, sizeof m->message, "%s", what);
}

/* While fn runs, a stop may come: the watcher counts, so that an fn that
 * only waits to be stopped is not taken for a deadlock. Once fn has ended,
 * what it left running must keep the hub going by itself. */
static void unhold(member *m)
{
    if (m->held) {
        m->held = false;
        ev_unref(m->loop);
    }
}

static void fn_ended(gz_greenlet *g, void *p)
{
    (void)g;
    unhold(p);
}

/* Run fn in a greenlet and the hub until it is empty or stopped. */
static void member_run(member *m)
{
    gz_greenlet *g = gz_spawn(run_fn, m);
    if (!g) {
        note_failure(m, errno, "could not spawn its greenlet");
        return;
    }
    if (gz_link(g, fn_ended, m) != 0)
        unhold(m);
    int rc = gz_run();
    int e = errno;
    const gz_error *x = gz_ready(g) ? gz_exception(g) : NULL;
    if (x)
        note_failure(m, x->code, x->message);
    else if (rc != 0)
        note_failure(m, e, "left greenlets blocked forever");
    gz_release(g);
}

static void *member_main(void *p)
{
    member *m = p;
    group *grp = m->grp;
    gz_hub *h = gz__hub();
    if (!h) {
        note_failure(m, ENOMEM, "could not create its hub");
    } else {
        ev_async_init(&m->stop, stop_cb);
        ev_async_start(h->loop, &m->stop);
        m->held = true;
        pthread_mutex_lock(&lock);
        bool stopping = grp->stopping;
        m->loop = h->loop;
        pthread_mutex_unlock(&lock);
        if (!stopping)
            member_run(m);
        pthread_mutex_lock(&lock);
        m->loop = NULL;
        pthread_mutex_unlock(&lock);
        if (!m->held)
            ev_ref(h->loop);
        ev_async_stop(h->loop, &m->stop);
    }
    pthread_mutex_lock(&lock);
    grp->ended++;
    ev_async_send(grp->caller_loop, &grp->ended_async);
    pthread_mutex_unlock(&lock);
    return NULL; /* the hub goes with the thread */
}

/* ---- the caller ---- */

static void ended_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    group *g = GZ_CONTAINER(w, group, ended_async);
    pthread_mutex_lock(&lock);
    bool all = g->ended == g->started;
    pthread_mutex_unlock(&lock);
    if (all)
        gz__wake(g->caller, 0);
}

/* Start N threads; false (errno) if one could not start. */
static bool group_start(group *g, size_t n)
{
    /* The threads block every signal: signals stay with the caller's hub,
     * whose gz_signal handler may stop the group. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        member *m = &g->members[i];
        m->grp = g;
        m->index = i;
        pthread_mutex_lock(&lock);
        rc = pthread_create(&m->thread, NULL, member_main, m);
        if (rc == 0)
            g->started++;
        pthread_mutex_unlock(&lock);
        if (rc != 0) {
            note_failure(m, rc, "pthread_create");
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0;
}

/* Wait, parked, for every started thread to end; a kill of the caller stops
 * the group and then waits without parking (the threads use G). */
static int group_wait(gz_hub *h, group *g)
{
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        bool all = g->ended == g->started;
        pthread_mutex_unlock(&lock);
        if (all)
            break;
        if (gz__park_until(h, GZ_NEVER, "gz_run_threads", g) != 0) {
            rc = errno;
            pthread_mutex_lock(&lock);
            group_stop(g);
            pthread_mutex_unlock(&lock);
            break;
        }
    }
    for (size_t i = 0; i < g->started; i++)
        pthread_join(g->members[i].thread, NULL);
    return rc;
}

int gz_run_threads(size_t n, void (*fn)(size_t index, void *arg), void *arg)
{
    if (n == 0 || n > GZ_RUN_THREADS_MAX || !fn) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, GZ_FOREVER))
        return -1;
    group g = {.fn = fn, .arg = arg, .caller_loop = h->loop, .caller = h->current};
    if (!(g.members = calloc(n, sizeof *g.members))) {
        errno = ENOMEM;
        return -1;
    }
    ev_async_init(&g.ended_async, ended_cb);
    ev_async_start(h->loop, &g.ended_async); /* counted: the threads will send */
    pthread_mutex_lock(&lock);
    gz__list_push(&groups, &g.node);
    pthread_mutex_unlock(&lock);

    bool all_started = group_start(&g, n);
    if (!all_started) {
        pthread_mutex_lock(&lock);
        group_stop(&g);
        pthread_mutex_unlock(&lock);
    }
    int wait_error = group_wait(h, &g);

    pthread_mutex_lock(&lock);
    gz__list_remove(&g.node);
    pthread_mutex_unlock(&lock);
    ev_async_stop(h->loop, &g.ended_async);

    int code = wait_error;
    size_t last = all_started ? n : g.started + 1;
    for (size_t i = 0; i < last; i++) {
        member *m = &g.members[i];
        if (!m->code)
            continue;
        gz__warn("gz_run_threads: thread %zu %s: %s (%s)\n", i,
                 i == g.started ? "could not start" : "failed", m->message,
                 strerror(m->code));
        if (!code)
            code = m->code;
    }
    free(g.members);
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}
