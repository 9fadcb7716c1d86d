/* libgzmq core: the hub, greenlets, timeouts, signals and fd readiness.
 * Included by <gzmq.h>; do not include directly. */
#ifndef GZMQ_CORE_H
#define GZMQ_CORE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

/* gz_exit and gz_fail never return, said in the includer's language: the
 * header compiles as C11 and later and as C++11 and later. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define GZ_NORETURN [[noreturn]]
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define GZ_NORETURN _Noreturn
#elif defined(__GNUC__)
#define GZ_NORETURN __attribute__((noreturn))
#else
#define GZ_NORETURN
#endif

/* Conventions: functions returning int give 0 (or a count) on success and -1
 * with errno on failure; pointer returns give NULL with errno. Timeouts are
 * relative seconds; GZ_FOREVER (any negative value) waits without limit, 0
 * never blocks. NaN is EINVAL. Every blocking call also fails with
 * ECANCELED (caller killed), ETIMEDOUT (a gz_timeout of the caller expired),
 * EDEADLK (nothing can ever wake the caller) and EPERM (called inside a link
 * callback).
 *
 * Objects (greenlets, timeouts, and those of sync.h and pool.h) belong to the
 * thread whose hub created them. EXDEV: the object belongs to another
 * thread's hub; a function given one refuses it: -1 or NULL with EXDEV, and
 * functions returning nothing do nothing and leave errno = EXDEV. Queries
 * (bool, count) answer then as for NULL; given NULL they set errno = EINVAL.
 * Destructors (free, release, cancel) ignore NULL. Built with DEBUG=1, a
 * freed or released object passed to any function aborts the process with
 * "libgzmq: <function>: <pointer> is not a live <type> (freed or released?)". */
#define GZ_FOREVER (-1.0)

/* ---- Version ---- */

/* The version of the library linked in (GZ_VERSION_* in <gzmq.h> are those
 * of the header compiled against). Any pointer may be NULL: that number is
 * not stored. Never fails. */
void gz_version(int *major, int *minor, int *patch);

/* ---- Hub: one per OS thread, created on first use ---- */

/* This thread's libev loop (the default loop on the main thread). */
struct ev_loop *gz_loop(void);
/* Make this thread's hub run on LOOP; call before any other gz_ function on
 * this thread. -1: EINVAL (NULL), EBUSY (the hub already exists). */
int gz_use_loop(struct ev_loop *loop);
/* Run until no greenlet, timer, I/O or signal watcher is left. 0 when done
 * (also after gz_shutdown); -1 EDEADLK when greenlets remain blocked forever,
 * ECANCELED if the caller is killed, EPERM inside a link callback. */
int gz_run(void);
/* Kill every greenlet of this thread but the caller and main and let them end.
 * From main it waits for them; from a greenlet, main's blocked call then
 * returns -1 ECANCELED (main is not left killed). */
void gz_shutdown(void);
/* The loop's clock in seconds (ev_now). */
double gz_now(void);
/* Stack size for greenlets created from now on by this thread; rounded up to
 * whole pages. Default 256 KiB (64 KiB of it rarely touched), or the
 * environment variable GZ_STACK_SIZE (bytes) read when the hub is created.
 * -1 EINVAL when below 16 KiB or above 1 GiB. */
int gz_set_stack_size(size_t bytes);
/* The stack size new greenlets of this thread get. */
size_t gz_stack_size(void);
/* Run fn(arg) now on this thread's shared stack, which stays in the CPU's
 * cache, not the caller's own: for work that does not wait (parsing,
 * formatting) among many greenlets. Inside, green calls fail with EPERM and
 * fn must return. 0; -1: EINVAL (fn NULL), ENOMEM. */
int gz_call_hot(void (*fn)(void *arg), void *arg);

/* ---- Greenlets ---- */

typedef struct gz_greenlet gz_greenlet;
typedef void *(*gz_fn)(void *arg);
typedef struct gz_error {
    int code;            /* an errno-style code, never 0 */
    const char *message; /* formatted by gz_fail; never NULL */
} gz_error;

/* Create a greenlet running fn(arg) and schedule it. Returns a reference to
 * gz_release; NULL with EINVAL (fn NULL) or ENOMEM. */
gz_greenlet *gz_spawn(gz_fn fn, void *arg);
/* As gz_spawn, started after SECONDS. NULL: EINVAL (fn NULL, NaN), ENOMEM. */
gz_greenlet *gz_spawn_later(double seconds, gz_fn fn, void *arg);
/* Create a greenlet without starting it. NULL: EINVAL, ENOMEM. */
gz_greenlet *gz_greenlet_new(gz_fn fn, void *arg);
/* Schedule a created greenlet; a no-op (0) if already started or ended.
 * -1: EINVAL (NULL or the main greenlet), EXDEV (another thread's). */
int gz_start(gz_greenlet *g);
/* Schedule it to start after SECONDS. -1: EINVAL (NULL, main, NaN), EXDEV. */
int gz_start_later(gz_greenlet *g, double seconds);
/* Drop the caller's reference; a running greenlet goes on and is freed when
 * it ends; one never started is freed now. NULL and main are ignored;
 * another thread's greenlet is refused (errno = EXDEV). */
void gz_release(gz_greenlet *g);
/* The running greenlet (main on a thread's own stack). Borrowed. */
gz_greenlet *gz_current(void);
/* Name a greenlet (copied). -1: EINVAL (NULL), EXDEV, ENOMEM. */
int gz_set_name(gz_greenlet *g, const char *name);
/* Its name: set, or "main", or "Greenlet-N". NULL: EINVAL (NULL), EXDEV. */
const char *gz_name(const gz_greenlet *g);

/* Sleep SECONDS, blocking only the caller; gz_sleep(0) yields to every other
 * ready greenlet once. -1: ECANCELED, ETIMEDOUT (gz_timeout), EDEADLK, EPERM,
 * EINVAL (NaN). */
int gz_sleep(double seconds);
/* Same as gz_sleep(0). */
int gz_yield(void);

/* Wait until G has ended, whatever its outcome. -1: ETIMEDOUT, EINVAL (NULL
 * or main), EXDEV, EDEADLK (G is the caller, or nothing can end it),
 * ECANCELED. */
int gz_join(gz_greenlet *g, double timeout);
/* Join, then *value = G's value. -1 with errno = G's error code if it
 * failed, or the errno of gz_join. VALUE may be NULL. */
int gz_get(gz_greenlet *g, void **value, double timeout);
/* Join every greenlet of GS (n of them) within one timeout; returns how many
 * have ended; errno is set (ETIMEDOUT, EINVAL, EXDEV...) when that is below
 * n. */
size_t gz_joinall(gz_greenlet *const *gs, size_t n, double timeout);
/* Kill G: its blocking calls return ECANCELED until it ends; one not yet
 * running never runs. Waits up to TIMEOUT for it to end (0: don't wait).
 * -1: EINVAL (NULL, main, NaN), EXDEV, ETIMEDOUT, or the caller's wait
 * errors (the kill is delivered even when the wait then fails). */
int gz_kill(gz_greenlet *g, double timeout);
/* Kill all of GS, then wait up to TIMEOUT for all to end. As gz_kill;
 * nothing is killed when an element is refused (EINVAL, EXDEV). */
int gz_killall(gz_greenlet *const *gs, size_t n, double timeout);
/* Run cb(g, arg) once G ends (at once if it has); cb must not block (its
 * blocking calls give EPERM). Counts as observing a failure.
 * -1: EINVAL (NULL g or cb, main), EXDEV, ENOMEM. */
int gz_link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg);

/* End the current greenlet successfully with VALUE (exit(0) from main). */
GZ_NORETURN void gz_exit(void *value);
/* End the current greenlet with error CODE (an errno value, 0 becomes EIO)
 * and a printf-style message: the C "exception". From main: prints it and
 * exits the process with status 1. */
GZ_NORETURN void gz_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* State queries: false (or NULL) for NULL (EINVAL) and for another thread's
 * greenlet (EXDEV). True once started (gz_spawn starts). */
bool gz_started(const gz_greenlet *g);
/* True once it has ended. */
bool gz_ready(const gz_greenlet *g);
/* Ended without gz_fail (a kill counts as success). */
bool gz_successful(const gz_greenlet *g);
/* A kill reached it before it ended. */
bool gz_killed(const gz_greenlet *g);
/* What fn returned or gz_exit passed; NULL until it ends. */
void *gz_value(const gz_greenlet *g);
/* Its error if it failed, else NULL. Counts as observing the failure. */
const gz_error *gz_exception(const gz_greenlet *g);

/* ---- Timeouts ---- */

typedef struct gz_timeout gz_timeout;
/* Arm a timeout of SECONDS for the current greenlet: once expired, its
 * blocking calls return -1 ETIMEDOUT until it is cancelled. Negative never
 * fires. NULL: EINVAL (NaN), ENOMEM. */
gz_timeout *gz_timeout_start(double seconds);
/* Disarm and free T (also after it fired). NULL is ignored; another
 * thread's timeout is refused (errno = EXDEV). */
void gz_timeout_cancel(gz_timeout *t);
/* True once T has expired; false for NULL (EINVAL) or EXDEV. */
bool gz_timeout_fired(const gz_timeout *t);
/* Run fn(arg) in the current greenlet under a timeout. -1 ETIMEDOUT if it
 * expired before fn returned (whatever fn returned); else 0 and *value (VALUE
 * may be NULL). -1 EINVAL for NULL fn or NaN. */
int gz_with_timeout(double seconds, gz_fn fn, void *arg, void **value);

/* ---- Signals ---- */

/* On signal SIGNUM run handler(signum, arg) in a new greenlet of this thread;
 * replaces an earlier handler. -1: EINVAL (bad signal, SIGKILL, SIGSTOP, NULL
 * handler), EBUSY (another thread's hub handles it). */
int gz_signal(int signum, void (*handler)(int signum, void *arg), void *arg);
/* Remove the handler of SIGNUM; default disposition returns. -1: EINVAL,
 * ENOENT (none installed by this thread). */
int gz_signal_cancel(int signum);

/* ---- File descriptor readiness ---- */

/* Wait until FD is readable (or writable). -1: EBADF (negative fd),
 * ETIMEDOUT, ECANCELED, EDEADLK, EPERM. */
int gz_wait_read(int fd, double timeout);
int gz_wait_write(int fd, double timeout);
/* poll(2) blocking only the caller: the number of ready fds, 0 on timeout.
 * (NULL, 0, t) sleeps t. -1: EINVAL (NULL with n > 0), ENOMEM, and the
 * blocking errors (ETIMEDOUT only from a gz_timeout). */
int gz_poll(struct pollfd *fds, nfds_t n, double timeout);
/* close(2) FD, first waking every greenlet of this thread waiting on it
 * (gz_wait_*, gz_read, gz_write, gz_accept, gz_connect: -1 EBADF; gz_poll:
 * POLLNVAL in its entry). A plain close(2) under a waiter leaves it hanging.
 * Returns close(2)'s result. -1: EBADF (negative or not open), EINTR, EIO. */
int gz_close(int fd);

#ifdef __cplusplus
}
#endif
#endif
