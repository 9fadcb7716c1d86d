/* libgzmq: blocking C code on worker threads, off the hub.
 * Included by <gzmq.h>; do not include directly. */
#ifndef GZMQ_THREAD_H
#define GZMQ_THREAD_H

#include <stddef.h>

#include "gzmq/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Run fn(arg) on a worker thread of the process-wide pool while the calling
 * greenlet waits and the hub runs the others; *value = what fn returned
 * (VALUE may be NULL). fn must not touch this thread's greenlets or objects.
 * On timeout or kill the caller returns at once and fn finishes unobserved
 * (a job no worker has started yet is dropped). -1: EINVAL (NULL fn, NaN),
 * ENOMEM, EAGAIN (no worker thread could be created), and the blocking
 * errors ETIMEDOUT, ECANCELED, EPERM. */
int gz_run_in_thread(gz_fn fn, void *arg, void **value, double timeout);
/* Most worker threads the pool runs at once (default 10, as gevent's
 * threadpool); workers start on demand and extra ones end when idle.
 * -1 EINVAL for 0 or above 1024. */
int gz_set_thread_pool_size(size_t n);
/* The current maximum number of worker threads. */
size_t gz_thread_pool_size(void);

/* ---- One service on every core: a hub per thread ---- */

/* Start N threads, each with its own hub running fn(index, arg) (index
 * 0..n-1) in a greenlet and then the hub until nothing is left in it; wait
 * for all of them, the caller parked (its hub runs on: a gz_signal handler
 * there can call gz_run_threads_stop), and join them. Threads block every
 * signal. 0 when every fn ended without gz_fail. -1: EINVAL (N 0 or above
 * 1024, NULL fn), ENOMEM; a thread that could not start (EAGAIN: the others
 * are stopped) or whose fn failed (errno: the first failed index's code) or
 * left greenlets blocked forever (EDEADLK), each named on stderr as
 * "libgzmq: gz_run_threads: thread INDEX ..."; ECANCELED when the caller
 * was killed (the group is stopped and awaited first). */
int gz_run_threads(size_t n, void (*fn)(size_t index, void *arg), void *arg);
/* Stop every gz_run_threads group of the process: each of their hubs runs
 * gz_shutdown (every greenlet killed: blocking calls give ECANCELED), and
 * fns that end so count as successful. Any thread, any greenlet; not from
 * an async signal handler (use gz_signal). Returns 0. */
int gz_run_threads_stop(void);

#ifdef __cplusplus
}
#endif
#endif
