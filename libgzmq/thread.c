/* gz_run_in_thread: blocking C code on a process-wide pool of worker
 * threads. The caller parks; the worker hands the finished job to the
 * caller's hub through that hub's ev_async, whose callback wakes the caller.
 *
 * Ownership: a job is freed by whoever sees it last. A caller that leaves
 * early (timeout, kill) drops a job no worker has taken yet, and marks a
 * running one abandoned so that the worker frees it when fn returns. Every
 * state change of a job, the queue and the per-hub done lists are under one
 * mutex. The per-hub state is reference-counted by its jobs, so a hub (a
 * thread) that ends while a worker still runs one of its jobs is safe. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "gz_internal.h"
#include "gzmq/thread.h"

#define GZ_THREAD_POOL_DEFAULT 10
#define GZ_THREAD_POOL_MAX 1024

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_DELIVERED };

typedef struct thread_hub thread_hub;

typedef struct job {
    gz_list node; /* the pool queue while pending; its hub's done list when done */
    gz_fn fn;
    void *arg;
    void *value;
    enum job_state state;
    bool abandoned; /* the caller has left: the worker frees it */
    thread_hub *ts;
    gz_greenlet *g; /* the waiting caller (touched on the hub's thread only) */
} job;

/* Per-hub state, registered as the hub's thread_layer. */
struct thread_hub {
    ev_async async;
    struct ev_loop *loop;
    gz_list done; /* finished jobs for the async callback */
    size_t refs;  /* 1 for the hub while it lives, 1 per unfinished job */
    bool dead;    /* the hub is gone */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    gz_list queue;
    size_t pending; /* jobs in queue */
    size_t max, threads, idle;
} pool = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
    {&pool.queue, &pool.queue}, 0, GZ_THREAD_POOL_DEFAULT, 0, 0,
};

/* Under pool.lock. */
static void ts_unref(thread_hub *ts)
{
    if (--ts->refs == 0)
        free(ts);
}

/* Under pool.lock: the job leaves the system. */
static void job_free(job *j)
{
    if (j->ts)
        ts_unref(j->ts);
    free(j);
}

static void *worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.pending == 0 && pool.threads <= pool.max) {
            pool.idle++;
            pthread_cond_wait(&pool.cond, &pool.lock);
            pool.idle--;
        }
        if (pool.threads > pool.max)
            break; /* the pool shrank */
        job *j = GZ_CONTAINER(gz__list_pop(&pool.queue), job, node);
        pool.pending--;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&pool.lock);
        void *value = j->fn(j->arg);
        pthread_mutex_lock(&pool.lock);
        j->value = value;
        if (j->abandoned || j->ts->dead) {
            job_free(j);
        } else {
            j->state = JOB_DONE;
            gz__list_push(&j->ts->done, &j->node);
            /* Under the lock: the hub cannot destroy its loop meanwhile. */
            ev_async_send(j->ts->loop, &j->ts->async);
        }
    }
    pool.threads--;
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* A forked child has none of the parent's workers: start from scratch
 * (the parent's jobs belong to the parent's greenlets). */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.cond, NULL);
    gz__list_init(&pool.queue);
    pool.pending = pool.threads = pool.idle = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_in_child); }

/* Under pool.lock: make sure a worker will take the job just queued. */
static int ensure_worker(void)
{
    pthread_once(&atfork_once, register_atfork);
    if (pool.idle >= pool.pending || pool.threads >= pool.max)
        return 0;
    /* Workers block every signal: signals belong to the hubs' threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, worker, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        pool.threads++;
        return 0;
    }
    if (pool.threads > 0)
        return 0; /* an existing worker will get to it */
    errno = EAGAIN;
    return -1;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    thread_hub *ts = GZ_CONTAINER(w, thread_hub, async);
    gz_list got;
    gz__list_init(&got);
    pthread_mutex_lock(&pool.lock);
    gz_list *n;
    while ((n = gz__list_pop(&ts->done))) {
        GZ_CONTAINER(n, job, node)->state = JOB_DELIVERED;
        gz__list_push(&got, n);
    }
    pthread_mutex_unlock(&pool.lock);
    /* The callers free their jobs; a caller already woken by a timeout or
     * kill finds its job delivered and frees it too. */
    while ((n = gz__list_pop(&got)))
        gz__wake(GZ_CONTAINER(n, job, node)->g, 0);
}

static void hub_state_free(void *p)
{
    thread_hub *ts = p;
    pthread_mutex_lock(&pool.lock);
    ts->dead = true;
    /* Drop the hub's queued jobs: their callers are gone with the thread. */
    for (gz_list *n = pool.queue.next; n != &pool.queue;) {
        job *j = GZ_CONTAINER(n, job, node);
        n = n->next;
        if (j->ts == ts) {
            gz__list_remove(&j->node);
            pool.pending--;
            job_free(j);
        }
    }
    gz_list *n;
    while ((n = gz__list_pop(&ts->done)))
        job_free(GZ_CONTAINER(n, job, node));
    ev_ref(ts->loop);
    ev_async_stop(ts->loop, &ts->async);
    ts_unref(ts);
    pthread_mutex_unlock(&pool.lock);
}

static const gz_layer thread_layer = {hub_state_free, NULL};

static thread_hub *hub_state(gz_hub *h)
{
    thread_hub *ts = gz__layer_state(h, &thread_layer);
    if (ts)
        return ts;
    ts = calloc(1, sizeof *ts);
    if (!ts) {
        errno = ENOMEM;
        return NULL;
    }
    ts->loop = h->loop;
    ts->refs = 1;
    gz__list_init(&ts->done);
    ev_async_init(&ts->async, async_cb);
    ev_async_start(h->loop, &ts->async);
    ev_unref(h->loop); /* an idle pool must not keep gz_run going */
    if (gz__layer_add(h, &thread_layer, ts) != 0) {
        hub_state_free(ts);
        return NULL;
    }
    return ts;
}

int gz_run_in_thread(gz_fn fn, void *arg, void **value, double timeout)
{
    return gz__run_in_thread(fn, arg, value, timeout, NULL);
}

/* DROP(arg), when given, runs whenever fn(arg) will never run: the call
 * failed before queuing it, or gave up on it before a worker took it. */
int gz__run_in_thread(gz_fn fn, void *arg, void **value, double timeout,
                      void (*drop)(void *arg))
{
    job *j = NULL;
    thread_hub *ts;
    if (!fn) {
        errno = EINVAL;
        goto dropped;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, timeout))
        goto dropped;
    if (timeout == 0) { /* 0 never blocks, and a thread always takes time */
        errno = ETIMEDOUT;
        goto dropped;
    }
    if (!(ts = hub_state(h)))
        goto dropped;
    if (!(j = calloc(1, sizeof *j))) {
        errno = ENOMEM;
        goto dropped;
    }
    j->fn = fn;
    j->arg = arg;
    j->g = h->current;
    j->state = JOB_PENDING;

    pthread_mutex_lock(&pool.lock);
    gz__list_push(&pool.queue, &j->node);
    pool.pending++;
    if (ensure_worker() != 0) {
        gz__list_remove(&j->node);
        pool.pending--;
        pthread_mutex_unlock(&pool.lock);
        free(j);
        goto dropped;
    }
    j->ts = ts;
    ts->refs++;
    pthread_cond_signal(&pool.cond);
    pthread_mutex_unlock(&pool.lock);

    /* The job is an event libev cannot see: keep the loop from counting as
     * idle (which would make a blocked main fail with EDEADLK). */
    gz__hold(h);
    int rc = gz__park(h, timeout, "gz_run_in_thread", NULL);
    int err = errno;
    gz__unhold(h);

    pthread_mutex_lock(&pool.lock);
    switch (j->state) {
    case JOB_PENDING: /* no worker took it: it never runs */
        gz__list_remove(&j->node);
        pool.pending--;
        job_free(j);
        if (drop)
            drop(arg);
        break;
    case JOB_RUNNING:
        j->abandoned = true;
        break;
    case JOB_DONE: /* finished, its wakeup not yet delivered */
        gz__list_remove(&j->node);
        job_free(j);
        break;
    case JOB_DELIVERED:
        if (rc == 0 && value)
            *value = j->value;
        job_free(j);
        break;
    }
    pthread_mutex_unlock(&pool.lock);
    if (rc != 0)
        errno = err;
    return rc;

dropped:
    if (drop) {
        int e = errno;
        drop(arg);
        errno = e;
    }
    return -1;
}

int gz_set_thread_pool_size(size_t n)
{
    if (n == 0 || n > GZ_THREAD_POOL_MAX) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&pool.lock);
    pool.max = n;
    pthread_cond_broadcast(&pool.cond); /* extra idle workers end */
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

size_t gz_thread_pool_size(void)
{
    pthread_mutex_lock(&pool.lock);
    size_t n = pool.max;
    pthread_mutex_unlock(&pool.lock);
    return n;
}
