/* Misuse of the core and toolkit objects fails cleanly, function by
 * function: NULL and invalid arguments give EINVAL (or the errno the header
 * documents); blocking calls inside a link callback give EPERM; objects used
 * from another thread's hub give EXDEV; and in DEBUG=1 builds a freed or
 * released object used again aborts with a message naming it. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "gz_test.h"

/* ---- the objects the tables use, made fresh for each test ---- */

static gz_greenlet *g_sleeping; /* started, asleep */
static gz_greenlet *g_new;      /* created, never started */
static gz_greenlet *g_spare;    /* created, never started: for gz_pool_add */
static gz_greenlet *g_main;     /* this thread's main greenlet */
static gz_timeout *t_never;     /* armed for main, never fires */
static gz_event *ev;
static gz_result *res;
static gz_queue *q;
static gz_queue *q_full;        /* maxsize 1, holding one item */
static gz_sem *sem;
static gz_sem *bsem;            /* bounded, at its start value */
static gz_pool *group;          /* unbounded */
static gz_pool *bpool;          /* bounded, slots free */
static gz_imap *it;
static gz_actor *actor;         /* never started */
static gz_actor *actor_run;     /* started, waiting for messages */
static gz_server *srv;          /* never started */
static int pipe_fds[2];
static void *in1[1] = {"in"};
static void close_fd(int fd, void *arg)
{
    (void)arg;
    close(fd);
}
static void *out1[1];
static gz_greenlet *null_array[1];
static gz_greenlet *sleeping_array[1];

static void *noop(void *arg) { return arg; }

static void *sleep_long(void *arg)
{
    gz_sleep(30);
    return arg;
}

static int receive_any(gz_actor *self, void *message)
{
    (void)self;
    (void)message;
    return 0;
}

static void on_end(gz_greenlet *g, void *arg)
{
    (void)g;
    (void)arg;
}

static void on_signal(int signum, void *arg)
{
    (void)signum;
    (void)arg;
}


static int objects_new(void **state)
{
    (void)state;
    g_main = gz_current();
    g_sleeping = gz_spawn(sleep_long, NULL);
    g_new = gz_greenlet_new(noop, NULL);
    g_spare = gz_greenlet_new(noop, NULL);
    t_never = gz_timeout_start(GZ_FOREVER);
    ev = gz_event_new();
    res = gz_result_new();
    q = gz_queue_new(0);
    q_full = gz_queue_new(1);
    sem = gz_sem_new(1);
    bsem = gz_bounded_sem_new(1);
    group = gz_pool_new(0);
    bpool = gz_pool_new(2);
    it = gz_pool_imap(group, noop, in1, 1);
    actor = gz_actor_new(receive_any, "state", 0);
    actor_run = gz_actor_new(receive_any, NULL, 0);
    if (!g_sleeping || !g_new || !g_spare || !t_never || !ev || !res || !q ||
        !q_full || !sem || !bsem || !group || !bpool || !it || !actor ||
        !actor_run || gz_actor_start(actor_run) != 0 ||
        gz_queue_put_nowait(q_full, "x") != 0 || pipe(pipe_fds) != 0 ||
        !(srv = gz_server_new(pipe_fds[0], close_fd, NULL, 0)))
        return -1;
    sleeping_array[0] = g_sleeping;
    gz_yield(); /* the sleeper, the actor and the imap's feeder get going */
    return 0;
}

static int objects_free(void **state)
{
    (void)state;
    gz_kill(g_sleeping, GZ_FOREVER);
    gz_release(g_sleeping);
    gz_release(g_new);
    gz_release(g_spare);
    gz_timeout_cancel(t_never);
    gz_event_free(ev);
    gz_result_free(res);
    gz_queue_free(q);
    gz_queue_free(q_full);
    gz_sem_free(sem);
    gz_sem_free(bsem);
    gz_imap_free(it);
    gz_pool_free(group);
    gz_pool_free(bpool);
    gz_actor_free(actor);
    gz_actor_stop(actor_run, GZ_FOREVER);
    gz_actor_free(actor_run);
    gz_server_free(srv);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return gz_run();
}

/* ---- tables ----
 *
 * Each case is an expression worth -1 when the call refused as the
 * convention of its return type says, so that one walker checks them all:
 * FAILS an int -1, NULLED a NULL pointer, VOIDED a void call (errno tells),
 * IS(v) a query answering the value it gives for no object. */
#define FAILS(call) ((call) == -1 ? -1 : 0)
#define NULLED(call) ((call) == NULL ? -1 : 0)
#define VOIDED(call) ((call), -1)
#define IS(call, v) ((call) == (v) ? -1 : 0)

typedef struct misuse {
    const char *call;
    int (*run)(void);
    int err;
} misuse;

typedef struct outcome {
    int rc;
    int err;
} outcome;

#define DEFINE_CASE(id, expr, e) \
    static int id(void) { return expr; }
#define TABLE_ROW(id, expr, e) {#expr, id, e},

/* NULL and invalid arguments, with the errno each header documents. */
#define BAD_ARGUMENT_CASES(X)                                                  \
    X(b_use_loop, FAILS(gz_use_loop(NULL)), EINVAL)                            \
    X(b_stack_small, FAILS(gz_set_stack_size(1024)), EINVAL)                   \
    X(b_stack_big, FAILS(gz_set_stack_size((size_t)2 << 30)), EINVAL)          \
    X(b_spawn, NULLED(gz_spawn(NULL, NULL)), EINVAL)                           \
    X(b_spawn_later_fn, NULLED(gz_spawn_later(1, NULL, NULL)), EINVAL)         \
    X(b_spawn_later_nan, NULLED(gz_spawn_later(NAN, noop, NULL)), EINVAL)      \
    X(b_greenlet_new, NULLED(gz_greenlet_new(NULL, NULL)), EINVAL)             \
    X(b_start, FAILS(gz_start(NULL)), EINVAL)                                  \
    X(b_start_main, FAILS(gz_start(g_main)), EINVAL)                           \
    X(b_start_later, FAILS(gz_start_later(NULL, 1)), EINVAL)                   \
    X(b_start_later_main, FAILS(gz_start_later(g_main, 1)), EINVAL)            \
    X(b_start_later_nan, FAILS(gz_start_later(g_new, NAN)), EINVAL)            \
    X(b_set_name, FAILS(gz_set_name(NULL, "x")), EINVAL)                       \
    X(b_set_name_null, FAILS(gz_set_name(g_new, NULL)), EINVAL)                \
    X(b_name, NULLED(gz_name(NULL)), EINVAL)                                   \
    X(b_sleep_nan, FAILS(gz_sleep(NAN)), EINVAL)                               \
    X(b_join, FAILS(gz_join(NULL, 0)), EINVAL)                                 \
    X(b_join_main, FAILS(gz_join(g_main, 0)), EINVAL)                          \
    X(b_join_nan, FAILS(gz_join(g_sleeping, NAN)), EINVAL)                     \
    X(b_get, FAILS(gz_get(NULL, NULL, 0)), EINVAL)                             \
    X(b_get_nan, FAILS(gz_get(g_sleeping, NULL, NAN)), EINVAL)                 \
    X(b_joinall, IS(gz_joinall(NULL, 1, 0), 0), EINVAL)                        \
    X(b_joinall_elem, IS(gz_joinall(null_array, 1, 0), 0), EINVAL)             \
    X(b_joinall_nan, IS(gz_joinall(sleeping_array, 1, NAN), 0), EINVAL)        \
    X(b_kill, FAILS(gz_kill(NULL, 0)), EINVAL)                                 \
    X(b_kill_main, FAILS(gz_kill(g_main, 0)), EINVAL)                          \
    X(b_kill_nan, FAILS(gz_kill(g_sleeping, NAN)), EINVAL)                     \
    X(b_killall, FAILS(gz_killall(NULL, 2, 0)), EINVAL)                        \
    X(b_killall_elem, FAILS(gz_killall(null_array, 1, 0)), EINVAL)             \
    X(b_killall_nan, FAILS(gz_killall(sleeping_array, 1, NAN)), EINVAL)        \
    X(b_link, FAILS(gz_link(NULL, on_end, NULL)), EINVAL)                      \
    X(b_link_cb, FAILS(gz_link(g_new, NULL, NULL)), EINVAL)                    \
    X(b_link_main, FAILS(gz_link(g_main, on_end, NULL)), EINVAL)               \
    X(b_started, IS(gz_started(NULL), false), EINVAL)                          \
    X(b_ready, IS(gz_ready(NULL), false), EINVAL)                              \
    X(b_successful, IS(gz_successful(NULL), false), EINVAL)                    \
    X(b_killed, IS(gz_killed(NULL), false), EINVAL)                            \
    X(b_value, NULLED(gz_value(NULL)), EINVAL)                                 \
    X(b_exception, NULLED(gz_exception(NULL)), EINVAL)                         \
    X(b_timeout_nan, NULLED(gz_timeout_start(NAN)), EINVAL)                    \
    X(b_timeout_fired, IS(gz_timeout_fired(NULL), false), EINVAL)              \
    X(b_with_timeout, FAILS(gz_with_timeout(1, NULL, NULL, NULL)), EINVAL)     \
    X(b_with_timeout_nan, FAILS(gz_with_timeout(NAN, noop, NULL, NULL)), EINVAL) \
    X(b_signal_zero, FAILS(gz_signal(0, on_signal, NULL)), EINVAL)             \
    X(b_signal_nsig, FAILS(gz_signal(NSIG, on_signal, NULL)), EINVAL)          \
    X(b_signal_kill, FAILS(gz_signal(SIGKILL, on_signal, NULL)), EINVAL)       \
    X(b_signal_stop, FAILS(gz_signal(SIGSTOP, on_signal, NULL)), EINVAL)       \
    X(b_signal_handler, FAILS(gz_signal(SIGUSR1, NULL, NULL)), EINVAL)         \
    X(b_signal_cancel, FAILS(gz_signal_cancel(-1)), EINVAL)                    \
    X(b_signal_cancel_none, FAILS(gz_signal_cancel(SIGUSR2)), ENOENT)          \
    X(b_wait_read, FAILS(gz_wait_read(-1, 0)), EBADF)                          \
    X(b_wait_write, FAILS(gz_wait_write(-1, 0)), EBADF)                        \
    X(b_wait_read_closed, FAILS(gz_wait_read(4000, 0)), EBADF)                 \
    X(b_wait_read_nan, FAILS(gz_wait_read(pipe_fds[0], NAN)), EINVAL)          \
    X(b_poll, FAILS(gz_poll(NULL, 1, 0)), EINVAL)                              \
    X(b_poll_nan, FAILS(gz_poll(NULL, 0, NAN)), EINVAL)                        \
    X(b_event_set, VOIDED(gz_event_set(NULL)), EINVAL)                         \
    X(b_event_clear, VOIDED(gz_event_clear(NULL)), EINVAL)                     \
    X(b_event_is_set, IS(gz_event_is_set(NULL), false), EINVAL)                \
    X(b_event_wait, FAILS(gz_event_wait(NULL, 0)), EINVAL)                     \
    X(b_event_wait_nan, FAILS(gz_event_wait(ev, NAN)), EINVAL)                 \
    X(b_result_set, VOIDED(gz_result_set(NULL, NULL)), EINVAL)                 \
    X(b_result_set_exc, VOIDED(gz_result_set_exception(NULL, EIO, "x")), EINVAL) \
    X(b_result_get, FAILS(gz_result_get(NULL, NULL, 0)), EINVAL)               \
    X(b_result_get_nan, FAILS(gz_result_get(res, NULL, NAN)), EINVAL)          \
    X(b_result_wait, FAILS(gz_result_wait(NULL, 0)), EINVAL)                   \
    X(b_result_wait_nan, FAILS(gz_result_wait(res, NAN)), EINVAL)              \
    X(b_result_ready, IS(gz_result_ready(NULL), false), EINVAL)                \
    X(b_result_successful, IS(gz_result_successful(NULL), false), EINVAL)      \
    X(b_result_exception, NULLED(gz_result_exception(NULL)), EINVAL)           \
    X(b_prioq, NULLED(gz_priorityqueue_new(0, NULL)), EINVAL)                  \
    X(b_put, FAILS(gz_queue_put(NULL, "x", 0)), EINVAL)                        \
    X(b_put_nan, FAILS(gz_queue_put(q, "x", NAN)), EINVAL)                     \
    X(b_get_q, FAILS(gz_queue_get(NULL, NULL, 0)), EINVAL)                     \
    X(b_get_q_nan, FAILS(gz_queue_get(q, NULL, NAN)), EINVAL)                  \
    X(b_put_nowait, FAILS(gz_queue_put_nowait(NULL, "x")), EINVAL)             \
    X(b_get_nowait, FAILS(gz_queue_get_nowait(NULL, NULL)), EINVAL)            \
    X(b_peek, FAILS(gz_queue_peek(NULL, NULL, 0)), EINVAL)                     \
    X(b_peek_nan, FAILS(gz_queue_peek(q, NULL, NAN)), EINVAL)                  \
    X(b_size, IS(gz_queue_size(NULL), 0), EINVAL)                              \
    X(b_empty, IS(gz_queue_empty(NULL), true), EINVAL)                         \
    X(b_full, IS(gz_queue_full(NULL), false), EINVAL)                          \
    X(b_close, VOIDED(gz_queue_close(NULL)), EINVAL)                           \
    X(b_task_done, VOIDED(gz_queue_task_done(NULL)), EINVAL)                   \
    X(b_task_done_extra, VOIDED(gz_queue_task_done(q)), EINVAL)                \
    X(b_join_q, FAILS(gz_queue_join(NULL, 0)), EINVAL)                         \
    X(b_join_q_nan, FAILS(gz_queue_join(q, NAN)), EINVAL)                      \
    X(b_acquire, FAILS(gz_sem_acquire(NULL, 0)), EINVAL)                       \
    X(b_acquire_nan, FAILS(gz_sem_acquire(sem, NAN)), EINVAL)                  \
    X(b_release, FAILS(gz_sem_release(NULL)), EINVAL)                          \
    X(b_release_bounded, FAILS(gz_sem_release(bsem)), EOVERFLOW)               \
    X(b_sem_value, IS(gz_sem_value(NULL), 0), EINVAL)                          \
    X(b_pool_spawn, NULLED(gz_pool_spawn(NULL, noop, NULL)), EINVAL)           \
    X(b_pool_spawn_fn, NULLED(gz_pool_spawn(group, NULL, NULL)), EINVAL)       \
    X(b_pool_add, FAILS(gz_pool_add(NULL, g_spare)), EINVAL)                   \
    X(b_pool_add_g, FAILS(gz_pool_add(group, NULL)), EINVAL)                   \
    X(b_pool_add_main, FAILS(gz_pool_add(group, g_main)), EINVAL)              \
    X(b_pool_join, FAILS(gz_pool_join(NULL, 0)), EINVAL)                       \
    X(b_pool_join_nan, FAILS(gz_pool_join(group, NAN)), EINVAL)                \
    X(b_pool_kill, FAILS(gz_pool_kill(NULL, 0)), EINVAL)                       \
    X(b_pool_kill_nan, FAILS(gz_pool_kill(group, NAN)), EINVAL)                \
    X(b_pool_len, IS(gz_pool_len(NULL), 0), EINVAL)                            \
    X(b_pool_free_count, IS(gz_pool_free_count(NULL), 0), EINVAL)              \
    X(b_wait_available, FAILS(gz_pool_wait_available(NULL, 0)), EINVAL)        \
    X(b_wait_available_nan, FAILS(gz_pool_wait_available(bpool, NAN)), EINVAL) \
    X(b_map, FAILS(gz_pool_map(NULL, noop, in1, out1, 1)), EINVAL)             \
    X(b_map_fn, FAILS(gz_pool_map(group, NULL, in1, out1, 1)), EINVAL)         \
    X(b_map_in, FAILS(gz_pool_map(group, noop, NULL, out1, 1)), EINVAL)        \
    X(b_map_out, FAILS(gz_pool_map(group, noop, in1, NULL, 1)), EINVAL)        \
    X(b_imap, NULLED(gz_pool_imap(NULL, noop, in1, 1)), EINVAL)                \
    X(b_imap_fn, NULLED(gz_pool_imap(group, NULL, in1, 1)), EINVAL)            \
    X(b_imap_in, NULLED(gz_pool_imap(group, noop, NULL, 1)), EINVAL)           \
    X(b_imapu, NULLED(gz_pool_imap_unordered(NULL, noop, in1, 1)), EINVAL)     \
    X(b_imapu_fn, NULLED(gz_pool_imap_unordered(group, NULL, in1, 1)), EINVAL) \
    X(b_imapu_in, NULLED(gz_pool_imap_unordered(group, noop, NULL, 1)), EINVAL) \
    X(b_imap_next, FAILS(gz_imap_next(NULL, NULL, 0)), EINVAL)                 \
    X(b_imap_next_nan, FAILS(gz_imap_next(it, NULL, NAN)), EINVAL)             \
    X(b_actor_new, NULLED(gz_actor_new(NULL, NULL, 0)), EINVAL)                \
    X(b_actor_start, FAILS(gz_actor_start(NULL)), EINVAL)                      \
    X(b_actor_send, FAILS(gz_actor_send(NULL, "x", 0)), EINVAL)                \
    X(b_actor_send_nan, FAILS(gz_actor_send(actor_run, "x", NAN)), EINVAL)     \
    X(b_actor_stop, FAILS(gz_actor_stop(NULL, 0)), EINVAL)                     \
    X(b_actor_stop_nan, FAILS(gz_actor_stop(actor_run, NAN)), EINVAL)          \
    X(b_actor_state, NULLED(gz_actor_state(NULL)), EINVAL)                     \
    X(b_actor_greenlet, NULLED(gz_actor_greenlet(NULL)), EINVAL)               \
    X(b_run_in_thread, FAILS(gz_run_in_thread(NULL, NULL, NULL, 1)), EINVAL)   \
    X(b_run_in_thread_nan, FAILS(gz_run_in_thread(noop, NULL, NULL, NAN)), EINVAL) \
    X(b_pool_size_zero, FAILS(gz_set_thread_pool_size(0)), EINVAL)             \
    X(b_pool_size_big, FAILS(gz_set_thread_pool_size(1025)), EINVAL)

BAD_ARGUMENT_CASES(DEFINE_CASE)
static const misuse bad_arguments[] = {BAD_ARGUMENT_CASES(TABLE_ROW)};

/* Every blocking call, made where blocking is forbidden: EPERM. */
#define BLOCKING_CASES(X)                                                      \
    X(p_sleep, FAILS(gz_sleep(0.001)), EPERM)                                  \
    X(p_yield, FAILS(gz_yield()), EPERM)                                       \
    X(p_run, FAILS(gz_run()), EPERM)                                           \
    X(p_join, FAILS(gz_join(g_sleeping, 0)), EPERM)                            \
    X(p_get, FAILS(gz_get(g_sleeping, NULL, 0)), EPERM)                        \
    X(p_joinall, IS(gz_joinall(sleeping_array, 1, 0), 0), EPERM)               \
    X(p_wait_read, FAILS(gz_wait_read(pipe_fds[0], 0)), EPERM)                 \
    X(p_poll, FAILS(gz_poll(NULL, 0, 0)), EPERM)                               \
    X(p_event_wait, FAILS(gz_event_wait(ev, 0)), EPERM)                        \
    X(p_result_get, FAILS(gz_result_get(res, NULL, 0)), EPERM)                 \
    X(p_result_wait, FAILS(gz_result_wait(res, 0)), EPERM)                     \
    X(p_queue_put, FAILS(gz_queue_put(q, "x", 0)), EPERM)                      \
    X(p_queue_get, FAILS(gz_queue_get(q_full, NULL, 0)), EPERM)                \
    X(p_queue_peek, FAILS(gz_queue_peek(q_full, NULL, 0)), EPERM)              \
    X(p_queue_join, FAILS(gz_queue_join(q_full, 0)), EPERM)                    \
    X(p_sem_acquire, FAILS(gz_sem_acquire(sem, 0)), EPERM)                     \
    X(p_pool_spawn, NULLED(gz_pool_spawn(bpool, noop, NULL)), EPERM)           \
    X(p_pool_add, FAILS(gz_pool_add(bpool, g_spare)), EPERM)                   \
    X(p_pool_join, FAILS(gz_pool_join(group, 0)), EPERM)                       \
    X(p_pool_kill, FAILS(gz_pool_kill(bpool, 1)), EPERM)                       \
    X(p_pool_wait_available, FAILS(gz_pool_wait_available(bpool, 0)), EPERM)   \
    X(p_pool_map, FAILS(gz_pool_map(bpool, noop, in1, out1, 1)), EPERM)        \
    X(p_imap_next, FAILS(gz_imap_next(it, NULL, 0)), EPERM)                    \
    X(p_actor_send, FAILS(gz_actor_send(actor_run, "x", 0)), EPERM)           \
    X(p_actor_stop, FAILS(gz_actor_stop(actor_run, 1)), EPERM)                 \
    X(p_run_in_thread, FAILS(gz_run_in_thread(noop, NULL, NULL, 1)), EPERM)

BLOCKING_CASES(DEFINE_CASE)
static const misuse blocking[] = {BLOCKING_CASES(TABLE_ROW)};

/* Every function taking an object, called from another thread: EXDEV. */
#define FOREIGN_CASES(X)                                                       \
    X(x_start, FAILS(gz_start(g_new)), EXDEV)                                  \
    X(x_start_later, FAILS(gz_start_later(g_new, 0)), EXDEV)                   \
    X(x_release, VOIDED(gz_release(g_new)), EXDEV)                             \
    X(x_set_name, FAILS(gz_set_name(g_new, "thief")), EXDEV)                   \
    X(x_name, NULLED(gz_name(g_new)), EXDEV)                                   \
    X(x_join, FAILS(gz_join(g_sleeping, 0)), EXDEV)                            \
    X(x_get, FAILS(gz_get(g_sleeping, NULL, 0)), EXDEV)                        \
    X(x_joinall, IS(gz_joinall(sleeping_array, 1, 0), 0), EXDEV)               \
    X(x_kill, FAILS(gz_kill(g_sleeping, 0)), EXDEV)                            \
    X(x_killall, FAILS(gz_killall(sleeping_array, 1, 0)), EXDEV)               \
    X(x_link, FAILS(gz_link(g_sleeping, on_end, NULL)), EXDEV)                 \
    X(x_started, IS(gz_started(g_sleeping), false), EXDEV)                     \
    X(x_ready, IS(gz_ready(g_sleeping), false), EXDEV)                         \
    X(x_successful, IS(gz_successful(g_sleeping), false), EXDEV)               \
    X(x_killed, IS(gz_killed(g_sleeping), false), EXDEV)                       \
    X(x_value, NULLED(gz_value(g_sleeping)), EXDEV)                            \
    X(x_exception, NULLED(gz_exception(g_sleeping)), EXDEV)                    \
    X(x_main, FAILS(gz_join(g_main, 0)), EINVAL)                               \
    X(x_timeout_cancel, VOIDED(gz_timeout_cancel(t_never)), EXDEV)             \
    X(x_timeout_fired, IS(gz_timeout_fired(t_never), false), EXDEV)            \
    X(x_event_free, VOIDED(gz_event_free(ev)), EXDEV)                          \
    X(x_event_set, VOIDED(gz_event_set(ev)), EXDEV)                            \
    X(x_event_clear, VOIDED(gz_event_clear(ev)), EXDEV)                        \
    X(x_event_is_set, IS(gz_event_is_set(ev), false), EXDEV)                   \
    X(x_event_wait, FAILS(gz_event_wait(ev, 0)), EXDEV)                        \
    X(x_result_free, VOIDED(gz_result_free(res)), EXDEV)                       \
    X(x_result_set, VOIDED(gz_result_set(res, "v")), EXDEV)                    \
    X(x_result_set_exc, VOIDED(gz_result_set_exception(res, EIO, "x")), EXDEV) \
    X(x_result_get, FAILS(gz_result_get(res, NULL, 0)), EXDEV)                 \
    X(x_result_wait, FAILS(gz_result_wait(res, 0)), EXDEV)                     \
    X(x_result_ready, IS(gz_result_ready(res), false), EXDEV)                  \
    X(x_result_successful, IS(gz_result_successful(res), false), EXDEV)        \
    X(x_result_exception, NULLED(gz_result_exception(res)), EXDEV)             \
    X(x_queue_free, VOIDED(gz_queue_free(q_full)), EXDEV)                      \
    X(x_queue_put, FAILS(gz_queue_put(q, "x", 0)), EXDEV)                      \
    X(x_queue_get, FAILS(gz_queue_get(q_full, NULL, 0)), EXDEV)                \
    X(x_queue_put_nowait, FAILS(gz_queue_put_nowait(q, "x")), EXDEV)           \
    X(x_queue_get_nowait, FAILS(gz_queue_get_nowait(q_full, NULL)), EXDEV)     \
    X(x_queue_peek, FAILS(gz_queue_peek(q_full, NULL, 0)), EXDEV)              \
    X(x_queue_size, IS(gz_queue_size(q_full), 0), EXDEV)                       \
    X(x_queue_empty, IS(gz_queue_empty(q_full), true), EXDEV)                  \
    X(x_queue_full, IS(gz_queue_full(q_full), false), EXDEV)                   \
    X(x_queue_close, VOIDED(gz_queue_close(q)), EXDEV)                         \
    X(x_queue_task_done, VOIDED(gz_queue_task_done(q_full)), EXDEV)            \
    X(x_queue_join, FAILS(gz_queue_join(q_full, 0)), EXDEV)                    \
    X(x_sem_free, VOIDED(gz_sem_free(sem)), EXDEV)                             \
    X(x_sem_acquire, FAILS(gz_sem_acquire(sem, 0)), EXDEV)                     \
    X(x_sem_release, FAILS(gz_sem_release(sem)), EXDEV)                        \
    X(x_sem_value, IS(gz_sem_value(sem), 0), EXDEV)                            \
    X(x_pool_free, VOIDED(gz_pool_free(group)), EXDEV)                         \
    X(x_pool_spawn, NULLED(gz_pool_spawn(group, noop, NULL)), EXDEV)           \
    X(x_pool_add, FAILS(gz_pool_add(group, g_spare)), EXDEV)                   \
    X(x_pool_join, FAILS(gz_pool_join(group, 0)), EXDEV)                       \
    X(x_pool_kill, FAILS(gz_pool_kill(group, 0)), EXDEV)                       \
    X(x_pool_len, IS(gz_pool_len(group), 0), EXDEV)                            \
    X(x_pool_free_count, IS(gz_pool_free_count(group), 0), EXDEV)              \
    X(x_pool_wait_available, FAILS(gz_pool_wait_available(bpool, 0)), EXDEV)   \
    X(x_pool_map, FAILS(gz_pool_map(group, noop, in1, out1, 1)), EXDEV)        \
    X(x_pool_imap, NULLED(gz_pool_imap(group, noop, in1, 1)), EXDEV)           \
    X(x_pool_imapu, NULLED(gz_pool_imap_unordered(group, noop, in1, 1)), EXDEV) \
    X(x_imap_next, FAILS(gz_imap_next(it, NULL, 0)), EXDEV)                    \
    X(x_imap_free, VOIDED(gz_imap_free(it)), EXDEV)                            \
    X(x_actor_start, FAILS(gz_actor_start(actor)), EXDEV)                      \
    X(x_actor_send, FAILS(gz_actor_send(actor, "x", 0)), EXDEV)                \
    X(x_actor_stop, FAILS(gz_actor_stop(actor_run, 0)), EXDEV)                 \
    X(x_actor_state, NULLED(gz_actor_state(actor)), EXDEV)                     \
    X(x_actor_greenlet, NULLED(gz_actor_greenlet(actor)), EXDEV)               \
    X(x_actor_free, VOIDED(gz_actor_free(actor)), EXDEV)                       \
    X(x_server_start, FAILS(gz_server_start(srv)), EXDEV)                      \
    X(x_server_stop, FAILS(gz_server_stop(srv, 0)), EXDEV)                     \
    X(x_server_connections, IS(gz_server_connections(srv), 0), EXDEV)          \
    X(x_server_free, VOIDED(gz_server_free(srv)), EXDEV)

FOREIGN_CASES(DEFINE_CASE)
static const misuse foreign[] = {FOREIGN_CASES(TABLE_ROW)};

#define NCASES(t) (sizeof t / sizeof t[0])

static void run_table(const misuse *t, size_t n, outcome *out)
{
    for (size_t i = 0; i < n; i++) {
        errno = 0;
        out[i].rc = t[i].run();
        out[i].err = errno;
    }
}

/* Compare outcomes with the table, naming every call that differs. */
static void check_table(const misuse *t, size_t n, const outcome *out)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i].rc == -1 && out[i].err == t[i].err)
            continue;
        print_error("%s: rc %d errno %d (%s), want -1 errno %d (%s)\n",
                    t[i].call, out[i].rc, out[i].err, strerror(out[i].err),
                    t[i].err, strerror(t[i].err));
        bad++;
    }
    assert_int_equal(bad, 0);
}

/* ---- NULL and invalid arguments ---- */

static void bad_arguments_fail_with_the_documented_errno(void **state)
{
    (void)state;
    outcome out[NCASES(bad_arguments)];
    run_table(bad_arguments, NCASES(bad_arguments), out);
    check_table(bad_arguments, NCASES(bad_arguments), out);
}

static void refused_calls_leave_the_objects_untouched(void **state)
{
    (void)state;
    outcome out[NCASES(bad_arguments)];
    size_t members = gz_pool_len(group);
    run_table(bad_arguments, NCASES(bad_arguments), out);
    assert_false(gz_started(g_new));                /* start_later(NaN) */
    assert_null(gz_exception(g_new));
    assert_false(gz_killed(g_sleeping));            /* kill(NaN), killall */
    assert_int_equal(gz_pool_len(group), members);  /* nothing spawned */
    assert_int_equal(gz_queue_size(q), 0);          /* put(NaN) */
    assert_int_equal(gz_sem_value(sem), 1);         /* acquire(NaN) */
    assert_int_equal(gz_sem_value(bsem), 1);
    assert_int_equal(gz_actor_send(actor_run, "x", 0), 0); /* stop(NaN) */
    assert_fails(gz_signal_cancel(SIGUSR1), ENOENT); /* NULL handler */
}

static void destructors_ignore_null_and_leave_errno(void **state)
{
    (void)state;
    errno = 0;
    gz_release(NULL);
    gz_timeout_cancel(NULL);
    gz_event_free(NULL);
    gz_result_free(NULL);
    gz_queue_free(NULL);
    gz_sem_free(NULL);
    gz_pool_free(NULL);
    gz_imap_free(NULL);
    gz_actor_free(NULL);
    assert_int_equal(errno, 0);
}

/* ---- EPERM inside link callbacks ---- */

static outcome in_callback[NCASES(blocking)];

static void walk_blocking_calls(gz_greenlet *g, void *arg)
{
    (void)g;
    (void)arg;
    run_table(blocking, NCASES(blocking), in_callback);
}

static void blocking_calls_in_a_link_callback_are_eperm(void **state)
{
    (void)state;
    /* The callback runs as the greenlet ends, on its stack. */
    gz_greenlet *g = gz_spawn(noop, NULL);
    assert_int_equal(gz_link(g, walk_blocking_calls, NULL), 0);
    assert_int_equal(gz_join(g, 1), 0);
    gz_release(g);
    check_table(blocking, NCASES(blocking), in_callback);
    /* Refused before anything happened: nothing was spawned, put or taken. */
    assert_int_equal(gz_pool_len(bpool), 0);
    assert_int_equal(gz_queue_size(q), 0);
    assert_int_equal(gz_queue_size(q_full), 1);
    assert_int_equal(gz_sem_value(sem), 1);
    assert_false(gz_started(g_spare));
}

static void blocking_calls_in_a_link_run_at_once_are_eperm(void **state)
{
    (void)state;
    /* Linked to a greenlet that has ended: the callback runs at once, on
     * the caller's (main's) stack. */
    gz_greenlet *g = gz_spawn(noop, NULL);
    assert_int_equal(gz_join(g, 1), 0);
    memset(in_callback, 0, sizeof in_callback);
    assert_int_equal(gz_link(g, walk_blocking_calls, NULL), 0);
    gz_release(g);
    check_table(blocking, NCASES(blocking), in_callback);
    /* Out of the callback, the same calls block again as they should. */
    assert_int_equal(gz_yield(), 0);
    assert_int_equal(gz_sem_acquire(sem, 0), 0);
}

/* ---- EXDEV from another thread ---- */

static outcome from_thread[NCASES(foreign)];

static void *walk_foreign_calls(void *arg)
{
    (void)arg;
    run_table(foreign, NCASES(foreign), from_thread);
    return NULL;
}

static void objects_of_another_thread_are_exdev(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, walk_foreign_calls, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    check_table(foreign, NCASES(foreign), from_thread);
    /* Nothing was done to them: they still work here. */
    assert_false(gz_started(g_new));
    assert_string_not_equal(gz_name(g_new), "thief");
    assert_false(gz_killed(g_sleeping));
    assert_false(gz_timeout_fired(t_never));
    assert_false(gz_event_is_set(ev));
    assert_false(gz_result_ready(res));
    assert_int_equal(gz_queue_size(q), 0);
    assert_int_equal(gz_queue_put(q, "x", 0), 0); /* close was refused */
    assert_int_equal(gz_queue_size(q_full), 1);
    assert_int_equal(gz_sem_value(sem), 1);
    assert_false(gz_started(gz_actor_greenlet(actor)));
    assert_string_equal(gz_actor_state(actor), "state");
    void *v;
    assert_int_equal(gz_imap_next(it, &v, 1), 0);
    assert_string_equal(v, "in");
}

/* A pool of this thread refuses a greenlet of another. */
static void *add_foreign_greenlet(void *arg)
{
    gz_pool *p = gz_pool_new(0);
    int rc = gz_pool_add(p, arg);
    int err = errno;
    gz_pool_free(p);
    return rc == -1 && err == EXDEV ? "refused" : NULL;
}

static void a_pool_refuses_another_threads_greenlet(void **state)
{
    (void)state;
    pthread_t t;
    void *v;
    assert_int_equal(pthread_create(&t, NULL, add_foreign_greenlet, g_new), 0);
    assert_int_equal(pthread_join(t, &v), 0);
    assert_string_equal(v, "refused");
}

/* ---- DEBUG=1: freed and released objects ---- */

static const char *self_path;

#ifdef GZ_DEBUG
/* Children: each misuses a dead object and must abort; they say which
 * pointer first, so that the parent can look for it in the message. */
static void say(const void *p) { fprintf(stderr, "object %p\n", p); }

static int child_released_greenlet(void)
{
    gz_greenlet *g = gz_greenlet_new(noop, NULL);
    gz_release(g); /* never started: freed now (to the free list) */
    say(g);
    gz_start(g);
    return 0;
}

static int child_ended_greenlet(void)
{
    gz_greenlet *g = gz_spawn(noop, NULL);
    gz_join(g, 1);
    gz_release(g);
    say(g);
    gz_join(g, 1);
    return 0;
}

static int child_freed_queue(void)
{
    gz_queue *fq = gz_queue_new(0);
    gz_queue_free(fq);
    say(fq);
    gz_queue_put(fq, "x", 0);
    return 0;
}

static int child_freed_event(void)
{
    gz_event *e = gz_event_new();
    gz_event_free(e);
    say(e);
    gz_event_free(e);
    return 0;
}

static int child_freed_event_in_select(void)
{
    gz_event *e = gz_event_new();
    gz_event_free(e);
    say(e);
    gz_case c = {.op = GZ_EVENT, .obj = e};
    gz_select(&c, 1, 0);
    return 0;
}

static int child_freed_imap(void)
{
    gz_pool *p = gz_pool_new(0);
    gz_imap *i = gz_pool_imap(p, noop, in1, 1);
    gz_imap_free(i);
    say(i);
    gz_imap_next(i, NULL, 0);
    return 0;
}

static int child_freed_server(void)
{
    gz_server *srv = gz_server_new(0, close_fd, NULL, 0);
    gz_server_free(srv);
    say(srv);
    gz_server_start(srv);
    return 0;
}

static const struct {
    const char *arg;
    int (*child)(void);
    const char *said; /* "<function>: %p is not a live <type>" */
} deaths[] = {
    {"--released-greenlet", child_released_greenlet,
     "libgzmq: gz_start: %p is not a live gz_greenlet (freed or released?)"},
    {"--ended-greenlet", child_ended_greenlet,
     "libgzmq: gz_join: %p is not a live gz_greenlet (freed or released?)"},
    {"--freed-queue", child_freed_queue,
     "libgzmq: gz_queue_put: %p is not a live gz_queue (freed or released?)"},
    {"--freed-event", child_freed_event,
     "libgzmq: gz_event_free: %p is not a live gz_event (freed or released?)"},
    {"--freed-event-in-select", child_freed_event_in_select,
     "libgzmq: gz_select: %p is not a live gz_event (freed or released?)"},
    {"--freed-imap", child_freed_imap,
     "libgzmq: gz_imap_next: %p is not a live gz_imap (freed or released?)"},
    {"--freed-server", child_freed_server,
     "libgzmq: gz_server_start: %p is not a live gz_server (freed or released?)"},
};

/* cmocka replaces signal handlers: the child is a fresh exec of this
 * program, whose abort is the real one. */
static void dead_objects_abort_with_their_name(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof deaths / sizeof deaths[0]; d++) {
        char buf[1024];
        int status = gz_test_exec(self_path, deaths[d].arg, buf, sizeof buf);
        void *obj = NULL;
        assert_int_equal(sscanf(buf, "object %p", &obj), 1);
        char want[256];
        snprintf(want, sizeof want, deaths[d].said, obj);
        if (!strstr(buf, want))
            print_error("%s: want \"%s\" in:\n%s", deaths[d].arg, want, buf);
        assert_non_null(strstr(buf, want));
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
    }
}

static void live_objects_pass_the_check(void **state)
{
    (void)state;
    /* A recycled greenlet struct is live again under its new handle. */
    gz_greenlet *a = gz_greenlet_new(noop, NULL);
    gz_release(a);
    gz_greenlet *b = gz_greenlet_new(noop, "b");
    assert_int_equal(gz_start(b), 0);
    void *v;
    assert_int_equal(gz_get(b, &v, 1), 0);
    assert_string_equal(v, "b");
    gz_release(b);
}
#else
static void dead_objects_abort_with_their_name(void **state)
{
    (void)state;
    skip(); /* the magic numbers exist in DEBUG=1 builds: make check-debug */
}

static void live_objects_pass_the_check(void **state)
{
    (void)state;
    skip();
}
#endif

int main(int argc, char **argv)
{
#ifdef GZ_DEBUG
    for (size_t d = 0; argc > 1 && d < sizeof deaths / sizeof deaths[0]; d++)
        if (strcmp(argv[1], deaths[d].arg) == 0)
            return deaths[d].child();
#endif
    (void)argc;
    self_path = argv[0];
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_arguments_fail_with_the_documented_errno,
                                        objects_new, objects_free),
        cmocka_unit_test_setup_teardown(refused_calls_leave_the_objects_untouched,
                                        objects_new, objects_free),
        cmocka_unit_test(destructors_ignore_null_and_leave_errno),
        cmocka_unit_test_setup_teardown(blocking_calls_in_a_link_callback_are_eperm,
                                        objects_new, objects_free),
        cmocka_unit_test_setup_teardown(blocking_calls_in_a_link_run_at_once_are_eperm,
                                        objects_new, objects_free),
        cmocka_unit_test_setup_teardown(objects_of_another_thread_are_exdev,
                                        objects_new, objects_free),
        cmocka_unit_test_setup_teardown(a_pool_refuses_another_threads_greenlet,
                                        objects_new, objects_free),
        cmocka_unit_test(dead_objects_abort_with_their_name),
        cmocka_unit_test(live_objects_pass_the_check),
    };
    return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}
