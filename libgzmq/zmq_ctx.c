/* The default context and context termination that never blocks the hub.
 *
 * zmq_ctx_term blocks until every socket of the context is closed and has
 * flushed what LINGER keeps, possibly forever (a forgotten socket, LINGER
 * -1 and an absent peer). So it runs on a thread of its own, one per
 * context however many callers wait for it, and callers wait for it with a
 * deadline: the thread may outlive them, and a caller that gives up can
 * simply go on (pyzmq #809: a term that hangs must not take the program
 * with it). Waiting itself is a condition variable waited on by a worker of
 * the thread pool (gz_run_in_thread), so the hub keeps running. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "gz_internal.h"
#include "gzmq/thread.h"
#include "gzmq/zmq.h"

/* A termination in progress; freed when the thread and every waiter are
 * done with it. */
typedef struct term_job {
    void *ctx;
    int rc, err;  /* zmq_ctx_term's result, once DONE */
    bool done;
    unsigned refs;
    struct term_job *next;
} term_job;

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t term_done = PTHREAD_COND_INITIALIZER;
static term_job *terms;  /* under term_lock */

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static void *default_ctx;

/* Under term_lock. */
static void job_unref(term_job *j)
{
    if (--j->refs)
        return;
    for (term_job **p = &terms; *p; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            break;
        }
    }
    free(j);
}

static void *term_thread(void *arg)
{
    term_job *j = arg;
    int rc;
    while ((rc = zmq_ctx_term(j->ctx)) != 0 && errno == EINTR)
        ;
    int e = errno;
    pthread_mutex_lock(&term_lock);
    j->rc = rc;
    j->err = e;
    j->done = true;
    pthread_cond_broadcast(&term_done);
    job_unref(j);
    pthread_mutex_unlock(&term_lock);
    return NULL;
}

/* The running termination of CTX, started if none is: a reference, or NULL
 * with errno. */
static term_job *job_get(void *ctx)
{
    pthread_mutex_lock(&term_lock);
    term_job *j = terms;
    while (j && (j->done || j->ctx != ctx))
        j = j->next;
    if (!j) {
        j = calloc(1, sizeof *j);
        pthread_attr_t attr;
        pthread_t th;
        int e = ENOMEM;
        if (j && pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            *j = (term_job){.ctx = ctx, .refs = 2, .next = terms};
            e = pthread_create(&th, &attr, term_thread, j);
            pthread_attr_destroy(&attr);
        }
        if (e) {
            free(j);
            pthread_mutex_unlock(&term_lock);
            errno = e == ENOMEM ? ENOMEM : EAGAIN;
            return NULL;
        }
        terms = j;
    } else {
        j->refs++;
    }
    pthread_mutex_unlock(&term_lock);
    return j;
}

/* Wait for J up to TIMEOUT seconds (negative: forever) and drop the
 * reference: 0, or the errno (ETIMEDOUT, or zmq_ctx_term's). */
static int job_wait(term_job *j, double timeout)
{
    struct timespec until;
    if (timeout >= 0) {
        clock_gettime(CLOCK_REALTIME, &until);
        double end = (double)until.tv_sec + until.tv_nsec / 1e9 + timeout;
        until.tv_sec = (time_t)end;
        until.tv_nsec = (long)((end - floor(end)) * 1e9);
    }
    pthread_mutex_lock(&term_lock);
    int rc = 0;
    while (!j->done && rc == 0)
        rc = timeout < 0 ? pthread_cond_wait(&term_done, &term_lock)
                         : pthread_cond_timedwait(&term_done, &term_lock, &until);
    int result = !j->done ? ETIMEDOUT : j->rc == 0 ? 0 : j->err;
    job_unref(j);
    pthread_mutex_unlock(&term_lock);
    return result;
}

typedef struct term_wait {
    term_job *job;
    double timeout;
} term_wait;

static void *wait_in_worker(void *arg)
{
    term_wait *w = arg;
    int e = job_wait(w->job, w->timeout);
    free(w);
    return (void *)(intptr_t)e;
}

int gz_zmq_ctx_term(void *context, double timeout)
{
    if (!context) {
        errno = EFAULT;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (gz__check_entry(h, timeout))
        return -1;
    /* Now, not in the thread: the green waiters wake with ETERM from the
     * next loop turn on, whatever happens to the rest. */
    if (zmq_ctx_shutdown(context) != 0)
        return -1; /* EFAULT: not a context (or terminated already) */
    term_job *j = job_get(context);
    if (!j)
        return -1;
    /* The worker owns W: the caller may leave (kill, gz_timeout) first. */
    term_wait *w = malloc(sizeof *w);
    if (!w) {
        pthread_mutex_lock(&term_lock);
        job_unref(j);
        pthread_mutex_unlock(&term_lock);
        errno = ENOMEM;
        return -1;
    }
    *w = (term_wait){.job = j, .timeout = timeout < 0 ? -1.0 : timeout};
    void *value = NULL;
    if (gz_run_in_thread(wait_in_worker, w, &value, GZ_FOREVER) != 0) {
        if (errno == EINVAL || errno == ENOMEM || errno == EAGAIN) {
            free(w); /* never started */
            pthread_mutex_lock(&term_lock);
            job_unref(j);
            pthread_mutex_unlock(&term_lock);
        }
        return -1;
    }
    int e = (int)(intptr_t)value;
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

/* At exit the default context is terminated so that what the program sent
 * last is delivered (LINGER), but a socket it forgot to close, or an
 * infinite LINGER, must not hang the exit: wait GZ_ZMQ_EXIT_TIMEOUT seconds
 * (default 1) at most. */
static void term_default_at_exit(void)
{
    pthread_mutex_lock(&ctx_lock);
    void *ctx = default_ctx;
    pthread_mutex_unlock(&ctx_lock);
    if (!ctx)
        return; /* terminated already, or never made */
    double timeout = 1.0;
    const char *env = getenv("GZ_ZMQ_EXIT_TIMEOUT");
    if (env && *env) {
        char *end;
        double t = strtod(env, &end);
        if (*end == '\0' && t >= 0 && !isnan(t))
            timeout = t;
    }
    term_job *j = job_get(ctx);
    if (j)
        job_wait(j, timeout);
}

/* The default context may also end by a plain zmq_ctx_term (programs did
 * that before gz_zmq_ctx_term existed), and the exit handler must not touch
 * it then. A watcher thread blocks in a recv on a socket of its own in the
 * context: any termination wakes it with ETERM, it forgets the context and
 * closes its socket, which lets that termination complete. */
static void *watch_default(void *probe)
{
    char c;
    while (zmq_recv(probe, &c, sizeof c, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&ctx_lock);
    default_ctx = NULL; /* the next gz_zmq_context() makes a new one */
    pthread_mutex_unlock(&ctx_lock);
    zmq_close(probe);
    return NULL;
}

/* Under ctx_lock: CTX is the new default context; start its watcher. 0, or
 * -1 and CTX is terminated. */
static int adopt_default(void *ctx)
{
    static bool registered;
    void *probe = zmq_socket(ctx, ZMQ_PAIR);
    int zero = 0;
    pthread_attr_t attr;
    pthread_t th;
    int e = probe ? zmq_setsockopt(probe, ZMQ_LINGER, &zero, sizeof zero) : -1;
    if (e == 0 && (e = pthread_attr_init(&attr)) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        e = pthread_create(&th, &attr, watch_default, probe);
        pthread_attr_destroy(&attr);
    }
    if (e != 0) {
        if (probe)
            zmq_close(probe);
        zmq_ctx_term(ctx);
        errno = e > 0 ? EAGAIN : errno;
        return -1;
    }
    if (!registered)
        registered = atexit(term_default_at_exit) == 0;
    default_ctx = ctx;
    return 0;
}

void *gz_zmq_context(void)
{
    pthread_mutex_lock(&ctx_lock);
    if (!default_ctx) {
        void *ctx = zmq_ctx_new();
        if (ctx)
            adopt_default(ctx);
    }
    void *ctx = default_ctx;
    int e = errno;
    pthread_mutex_unlock(&ctx_lock);
    errno = e;
    return ctx;
}
