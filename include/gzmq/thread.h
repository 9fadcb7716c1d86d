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

#ifdef __cplusplus
}
#endif
#endif
