/* The default context and context termination that never blocks the hub.
 *
 * zmq_ctx_term blocks until every socket of the context is closed and has
 * flushed what LINGER keeps, possibly forever (a forgotten socket, LINGER
 * -1 and an absent peer). So it runs on a thread of its own, one per
 * context however many callers wait for it, and callers wait for it with a
 * deadline: the thread may outlive them, and a caller that gives up simply
 * goes on (pyzmq #809: a term that hangs must not take the program with
 * it). The thread signals the end on an eventfd, which stays readable: a
 * greenlet waits for it as for any fd (gz_wait_read), the exit handler with
 * poll(2), and neither holds anything the thread needs. */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/zmq.h"

/* A termination in progress; freed when the thread and every waiter are
 * done with it. */
typedef struct term_job {
    void *ctx;
    int done_fd;  /* eventfd, readable once DONE */
    int rc, err;  /* zmq_ctx_term's result, once DONE */
    bool done;
    unsigned refs;
    struct term_job *next;
} term_job;

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;
static term_job *terms;  /* under term_lock */

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static void *default_ctx;

static void job_unref(term_job *j)
{
    pthread_mutex_lock(&term_lock);
    bool last = --j->refs == 0;
    if (last) {
        for (term_job **p = &terms; *p; p = &(*p)->next) {
            if (*p == j) {
                *p = j->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&term_lock);
    if (last) {
        close(j->done_fd);
        free(j);
    }
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
    pthread_mutex_unlock(&term_lock);
    uint64_t one = 1;
    (void)!write(j->done_fd, &one, sizeof one);
    job_unref(j);
    return NULL;
}

/* The running termination of CTX, started if none is and START: a
 * reference, or NULL with errno (ESRCH: none runs). */
static term_job *job_get(void *ctx, bool start)
{
    pthread_mutex_lock(&term_lock);
    term_job *j = terms;
    while (j && (j->done || j->ctx != ctx))
        j = j->next;
    if (j || !start) {
        if (j)
            j->refs++;
        else
            errno = ESRCH;
        pthread_mutex_unlock(&term_lock);
        return j;
    }
    int e = ENOMEM;
    j = calloc(1, sizeof *j);
    pthread_attr_t attr;
    pthread_t th;
    if (j && (j->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        e = errno;
        free(j);
        j = NULL;
    }
    if (j && (e = pthread_attr_init(&attr)) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        j->ctx = ctx;
        j->refs = 2;
        j->next = terms;
        e = pthread_create(&th, &attr, term_thread, j);
        pthread_attr_destroy(&attr);
        if (e == 0)
            terms = j;
    }
    pthread_mutex_unlock(&term_lock);
    if (e != 0) {
        if (j) {
            close(j->done_fd);
            free(j);
        }
        errno = e == ENOMEM ? ENOMEM : EAGAIN; /* no thread, or no fd */
        return NULL;
    }
    return j;
}

/* J's outcome: 0, ETIMEDOUT while it runs, or zmq_ctx_term's errno. */
static int job_result(term_job *j)
{
    pthread_mutex_lock(&term_lock);
    int e = !j->done ? ETIMEDOUT : j->rc == 0 ? 0 : j->err;
    pthread_mutex_unlock(&term_lock);
    return e;
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
    /* A termination already running (a call that timed out) is waited for
     * again: CONTEXT may be freed the moment it ends, so it is not touched.
     * Otherwise shut down now, not in the thread: the green waiters wake
     * with ETERM from the next loop turn on, whatever happens to the rest. */
    term_job *j = job_get(context, false);
    if (!j) {
        if (zmq_ctx_shutdown(context) != 0)
            return -1; /* EFAULT: not a context (or terminated already) */
        if (!(j = job_get(context, true)))
            return -1;
    }
    /* The wait is on a duplicate that this thread closes itself (gz_close):
     * the termination thread may close done_fd the moment it ends, and the
     * loop must never watch an fd another thread closes under it. */
    int e = 0, fd = dup(j->done_fd);
    if (fd < 0)
        e = errno;
    else if (gz_wait_read(fd, timeout < 0 ? GZ_FOREVER : timeout) != 0)
        e = errno;
    if (fd >= 0)
        gz_close(fd);
    if (e == 0 || e == ETIMEDOUT)
        e = job_result(j); /* it may have ended just as the wait did */
    job_unref(j);
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
    term_job *j = job_get(ctx, true);
    if (!j)
        return;
    struct pollfd p = {.fd = j->done_fd, .events = POLLIN};
    double ms = ceil(timeout * 1000);
    while (poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int)ms) < 0 && errno == EINTR)
        ;
    job_unref(j);
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
