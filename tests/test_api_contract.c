/* The public API contract (shared/API.md): its declarations, copied here
 * verbatim, must stay compatible with include/gzmq.h (a mismatch fails to
 * compile), and every listed function must link. */
#include "gz_test.h"

/* ---- from API.md ---- */
#define GZ_FOREVER (-1.0)
struct ev_loop *gz_loop(void);            /* this thread's libev loop */
int    gz_use_loop(struct ev_loop *loop); /* before first use: run on an existing libev loop (EBUSY after) */
int    gz_run(void);                      /* run until no greenlet, timer, I/O or signal watcher is left */
void   gz_shutdown(void);                 /* kill every other greenlet of this thread and let them end; then a blocked
                                             main's call returns ECANCELED (main is not left killed) and gz_run returns */
double gz_now(void);                      /* the loop's clock, seconds */

typedef struct gz_greenlet gz_greenlet;
typedef void *(*gz_fn)(void *arg);


gz_greenlet *gz_spawn(gz_fn fn, void *arg);                      /* create + schedule */
gz_greenlet *gz_spawn_later(double seconds, gz_fn fn, void *arg);
gz_greenlet *gz_greenlet_new(gz_fn fn, void *arg);               /* created, not started */
int          gz_start(gz_greenlet *g);
int          gz_start_later(gz_greenlet *g, double seconds);
void         gz_release(gz_greenlet *g); /* drop the caller's handle; a running greenlet goes on and is freed when it ends */
gz_greenlet *gz_current(void);           /* the running greenlet (the main greenlet on a thread's own stack); borrowed, not to release */
int          gz_set_name(gz_greenlet *g, const char *name);
const char  *gz_name(const gz_greenlet *g);

int    gz_sleep(double seconds);   /* gz_sleep(0) yields to every other ready greenlet once */
int    gz_yield(void);             /* same as gz_sleep(0) */

int    gz_join(gz_greenlet *g, double timeout);                  /* 0 once g has ended, whatever its outcome */
int    gz_get(gz_greenlet *g, void **value, double timeout);     /* join; on failure -1 with errno = g's error code */
size_t gz_joinall(gz_greenlet *const *gs, size_t n, double timeout); /* number that ended */
int    gz_kill(gz_greenlet *g, double timeout);   /* raise GreenletExit in g; wait up to timeout for it to end (0: don't wait) */
int    gz_killall(gz_greenlet *const *gs, size_t n, double timeout); /* 0 once all have ended */
int    gz_link(gz_greenlet *g, void (*cb)(gz_greenlet *g, void *arg), void *arg); /* cb runs once g ends; must not block */

_Noreturn void gz_exit(void *value);                        /* end the current greenlet successfully */
_Noreturn void gz_fail(int code, const char *fmt, ...);     /* end it with an error: the C "exception" */

bool            gz_started(const gz_greenlet *g);     /* true once started (gz_spawn starts), as in gevent */
bool            gz_ready(const gz_greenlet *g);       /* it has ended */
bool            gz_successful(const gz_greenlet *g);  /* ended without gz_fail (a kill counts as success, as in gevent) */
bool            gz_killed(const gz_greenlet *g);      /* a kill reached it before it ended */
void           *gz_value(const gz_greenlet *g);       /* what fn returned or gz_exit passed */
const gz_error *gz_exception(const gz_greenlet *g);   /* NULL unless it failed */

typedef struct gz_timeout gz_timeout;
gz_timeout *gz_timeout_start(double seconds);  /* arm for the current greenlet */
void        gz_timeout_cancel(gz_timeout *t);  /* disarm and free (also after it fired) */
bool        gz_timeout_fired(const gz_timeout *t);
int         gz_with_timeout(double seconds, gz_fn fn, void *arg, void **value);
            /* runs fn(arg) in the current greenlet under a timeout: -1 ETIMEDOUT if it
               expired before fn returned, whatever fn returned; else 0 and *value */

typedef struct gz_event gz_event;
gz_event *gz_event_new(void);
void      gz_event_free(gz_event *e);
void      gz_event_set(gz_event *e);        /* wakes every waiter */
void      gz_event_clear(gz_event *e);
bool      gz_event_is_set(const gz_event *e);
int       gz_event_wait(gz_event *e, double timeout);

typedef struct gz_result gz_result;          /* gevent's AsyncResult */
gz_result *gz_result_new(void);
void       gz_result_free(gz_result *r);
void       gz_result_set(gz_result *r, void *value);
void       gz_result_set_exception(gz_result *r, int code, const char *message);
int        gz_result_get(gz_result *r, void **value, double timeout); /* -1: ETIMEDOUT, or errno = the exception's code */
int        gz_result_wait(gz_result *r, double timeout);
bool       gz_result_ready(const gz_result *r);
bool       gz_result_successful(const gz_result *r);

typedef struct gz_queue gz_queue;
gz_queue *gz_queue_new(size_t maxsize);                 /* FIFO; 0 = unbounded */
gz_queue *gz_lifoqueue_new(size_t maxsize);
gz_queue *gz_priorityqueue_new(size_t maxsize, int (*cmp)(const void *a, const void *b));
          /* cmp receives the two items themselves (not pointers to them); get returns the lowest first */
gz_queue *gz_channel_new(void);                          /* rendezvous: put waits for a get */
void      gz_queue_free(gz_queue *q);
int       gz_queue_put(gz_queue *q, void *item, double timeout);   /* -1 ETIMEDOUT (Full), EPIPE (closed) */
int       gz_queue_get(gz_queue *q, void **item, double timeout);  /* -1 ETIMEDOUT (Empty), EPIPE (closed, drained) */
int       gz_queue_put_nowait(gz_queue *q, void *item);            /* -1 EAGAIN when full */
int       gz_queue_get_nowait(gz_queue *q, void **item);           /* -1 EAGAIN when empty */
int       gz_queue_peek(gz_queue *q, void **item, double timeout);
size_t    gz_queue_size(const gz_queue *q);
bool      gz_queue_empty(const gz_queue *q);
bool      gz_queue_full(const gz_queue *q);
void      gz_queue_close(gz_queue *q);       /* puts fail with EPIPE; gets drain, then EPIPE */
void      gz_queue_task_done(gz_queue *q);   /* JoinableQueue */
int       gz_queue_join(gz_queue *q, double timeout);

typedef struct gz_sem gz_sem;
gz_sem *gz_sem_new(unsigned value);
gz_sem *gz_bounded_sem_new(unsigned value);    /* release past the start value: -1 EOVERFLOW */
void    gz_sem_free(gz_sem *s);
int     gz_sem_acquire(gz_sem *s, double timeout);
int     gz_sem_release(gz_sem *s);
unsigned gz_sem_value(const gz_sem *s);

typedef struct gz_pool gz_pool;
gz_pool     *gz_pool_new(size_t size);              /* 0 = unbounded (gevent's Group) */
void         gz_pool_free(gz_pool *p);              /* kills what still runs */
gz_greenlet *gz_pool_spawn(gz_pool *p, gz_fn fn, void *arg); /* waits for a free slot */
int          gz_pool_add(gz_pool *p, gz_greenlet *g);
int          gz_pool_join(gz_pool *p, double timeout);
int          gz_pool_kill(gz_pool *p, double timeout);
size_t       gz_pool_len(const gz_pool *p);
size_t       gz_pool_free_count(const gz_pool *p);
int          gz_pool_wait_available(gz_pool *p, double timeout);
int          gz_pool_map(gz_pool *p, gz_fn fn, void *const *in, void **out, size_t n); /* input order; 0, or -1 with the first failure's code */

typedef struct gz_imap gz_imap;
gz_imap *gz_pool_imap(gz_pool *p, gz_fn fn, void *const *in, size_t n);           /* input order */
gz_imap *gz_pool_imap_unordered(gz_pool *p, gz_fn fn, void *const *in, size_t n); /* completion order */
int      gz_imap_next(gz_imap *it, void **out, double timeout); /* -1 EPIPE at the end */
void     gz_imap_free(gz_imap *it);

typedef struct gz_actor gz_actor;
gz_actor *gz_actor_new(int (*receive)(gz_actor *self, void *message), void *state, size_t inbox_max);
          /* receive returns 0 to go on, non-zero to stop the actor; inbox_max 0 = unbounded */
int       gz_actor_start(gz_actor *a);
int       gz_actor_send(gz_actor *a, void *message, double timeout);
int       gz_actor_stop(gz_actor *a, double timeout);
void     *gz_actor_state(const gz_actor *a);
gz_greenlet *gz_actor_greenlet(gz_actor *a);
void      gz_actor_free(gz_actor *a);

int gz_signal(int signum, void (*handler)(int signum, void *arg), void *arg); /* handler runs in a new greenlet */
int gz_signal_cancel(int signum);

int     gz_wait_read(int fd, double timeout);
int     gz_wait_write(int fd, double timeout);
int     gz_poll(struct pollfd *fds, nfds_t n, double timeout);   /* poll(2), blocking only the caller; (NULL, 0, t) sleeps t */
ssize_t gz_read(int fd, void *buf, size_t n, double timeout);
ssize_t gz_write(int fd, const void *buf, size_t n, double timeout); /* writes all n bytes or fails */
int     gz_accept(int fd, struct sockaddr *addr, socklen_t *len, double timeout);
int     gz_connect(int fd, const struct sockaddr *addr, socklen_t len, double timeout);
int     gz_tcp_listen(const char *host, int port, int backlog);   /* non-blocking listening socket */
int     gz_tcp_connect(const char *host, int port, double timeout); /* tries every address getaddrinfo gives, in order */
int     gz_run_in_thread(gz_fn fn, void *arg, void **value, double timeout); /* blocking C code off the hub */

typedef struct gz_server gz_server;          /* gevent's StreamServer */
gz_server *gz_server_new(int listen_fd, void (*handle)(int fd, void *arg), void *arg, size_t max_connections);
                                             /* handle owns fd: it closes it (or hands it on) */
int        gz_server_start(gz_server *s);    /* accept in its own greenlet; one greenlet per connection (0 = no limit) */
int        gz_server_stop(gz_server *s, double timeout); /* stop accepting; wait for handlers, then kill them */
void       gz_server_free(gz_server *s);

void *gz_zmq_context(void);   /* process-wide default context, created on first use */
int   gz_zmq_send(void *socket, const void *buf, size_t len, int flags);
int   gz_zmq_recv(void *socket, void *buf, size_t len, int flags);
int   gz_zmq_msg_send(zmq_msg_t *msg, void *socket, int flags);
int   gz_zmq_msg_recv(zmq_msg_t *msg, void *socket, int flags);
int   gz_zmq_poll(zmq_pollitem_t *items, int nitems, long timeout_ms);  /* ZeroMQ sockets and plain fds */
int   gz_zmq_close(void *socket);   /* wakes its waiters (ENOTSOCK), then closes */

/* ---- end of API.md ---- */

/* ---- from API.md, "Second map" ---- */
int gz_close(int fd);   /* wakes the greenlets waiting on fd with EBADF, then close(2) */
/* The gz_select block defines an enum and a struct that <gzmq.h> defines
 * too: the copy is compiled under other names, then checked against the
 * header's, value by value and member by member. */
#define GZ_ZMQ_IN API_GZ_ZMQ_IN
#define GZ_ZMQ_OUT API_GZ_ZMQ_OUT
#define GZ_FD_IN API_GZ_FD_IN
#define GZ_FD_OUT API_GZ_FD_OUT
#define GZ_GET API_GZ_GET
#define GZ_PUT API_GZ_PUT
#define GZ_EVENT API_GZ_EVENT
#define GZ_RESULT API_GZ_RESULT
#define GZ_JOIN API_GZ_JOIN
#define GZ_ACQUIRE API_GZ_ACQUIRE
#define gz_case api_gz_case
#define gz_select api_gz_select
/* One wait over everything (gz_select) */
enum { GZ_ZMQ_IN = 1, GZ_ZMQ_OUT, GZ_FD_IN, GZ_FD_OUT, GZ_GET, GZ_PUT,
       GZ_EVENT, GZ_RESULT, GZ_JOIN, GZ_ACQUIRE };
typedef struct gz_case {
    int   op;    /* one of the above */
    void *obj;   /* zmq socket, gz_queue, gz_event, gz_result, gz_greenlet, gz_sem */
    int   fd;    /* GZ_FD_IN / GZ_FD_OUT */
    void *item;  /* GZ_PUT: in; GZ_GET, GZ_RESULT: out */
    int   err;   /* out: 0 or that case's own error (EPIPE, ENOTSOCK, a result's code) */
} gz_case;       /* more members may follow; callers zero-initialise */
int gz_select(gz_case *cases, size_t n, double timeout);   /* index of the case taken */
#undef GZ_ZMQ_IN
#undef GZ_ZMQ_OUT
#undef GZ_FD_IN
#undef GZ_FD_OUT
#undef GZ_GET
#undef GZ_PUT
#undef GZ_EVENT
#undef GZ_RESULT
#undef GZ_JOIN
#undef GZ_ACQUIRE
#undef gz_case
#undef gz_select
_Static_assert((int)API_GZ_ZMQ_IN == (int)GZ_ZMQ_IN, "GZ_ZMQ_IN");
_Static_assert((int)API_GZ_ZMQ_OUT == (int)GZ_ZMQ_OUT, "GZ_ZMQ_OUT");
_Static_assert((int)API_GZ_FD_IN == (int)GZ_FD_IN, "GZ_FD_IN");
_Static_assert((int)API_GZ_FD_OUT == (int)GZ_FD_OUT, "GZ_FD_OUT");
_Static_assert((int)API_GZ_GET == (int)GZ_GET, "GZ_GET");
_Static_assert((int)API_GZ_PUT == (int)GZ_PUT, "GZ_PUT");
_Static_assert((int)API_GZ_EVENT == (int)GZ_EVENT, "GZ_EVENT");
_Static_assert((int)API_GZ_RESULT == (int)GZ_RESULT, "GZ_RESULT");
_Static_assert((int)API_GZ_JOIN == (int)GZ_JOIN, "GZ_JOIN");
_Static_assert((int)API_GZ_ACQUIRE == (int)GZ_ACQUIRE, "GZ_ACQUIRE");
#define SAME_MEMBER(m)                                                       \
    _Static_assert(offsetof(api_gz_case, m) == offsetof(gz_case, m) &&       \
                   sizeof ((api_gz_case *)0)->m == sizeof ((gz_case *)0)->m, \
                   "gz_case." #m)
SAME_MEMBER(op);
SAME_MEMBER(obj);
SAME_MEMBER(fd);
SAME_MEMBER(item);
SAME_MEMBER(err);
_Static_assert(sizeof(api_gz_case) == sizeof(gz_case), "gz_case");
static int (*const select_has_the_contract_type)(gz_case *, size_t, double) = gz_select;
/* ZeroMQ infrastructure */
gz_greenlet *gz_zmq_proxy(void *frontend, void *backend, void *capture, void *control);
int gz_zmq_sendv(void *socket, zmq_msg_t *parts, size_t n, int flags);   /* all frames or none */
int gz_zmq_recvv(void *socket, zmq_msg_t *parts, size_t *n, int flags);  /* *n: in capacity, out frames */
int gz_zmq_ctx_term(void *context, double timeout);                      /* never blocks the hub */
/* Seeing inside */
int  gz_monitor_start(double max_blocking, void (*report)(const char *text, void *arg), void *arg);
                                  /* NULL report: stderr; also GZ_MAX_BLOCKING_TIME=seconds in the environment */
int  gz_monitor_stop(void);
int  gz_print_run_info(FILE *f);  /* this hub's greenlets, one block each */
int  gz_foreach_greenlet(int (*cb)(gz_greenlet *g, const char *info, void *arg), void *arg);
typedef struct gz_stats gz_stats; /* members as documented in the header */
int  gz_hub_stats(gz_stats *out);
/* Lifetimes and threads */
typedef struct gz_scope gz_scope;
gz_scope    *gz_scope_open(void);
gz_greenlet *gz_scope_spawn(gz_scope *s, gz_fn fn, void *arg);  /* borrowed: the scope owns it */
int          gz_scope_close(gz_scope *s, double grace);         /* waits; first failure kills the rest */
int          gz_shield_begin(void);
int          gz_shield_end(void);        /* -1 ECANCELED when the caller was killed, before or while shielded */
typedef unsigned gz_key;
int          gz_key_create(gz_key *key, void (*destructor)(void *value));
int          gz_key_delete(gz_key key);
void        *gz_getspecific(gz_key key);
int          gz_setspecific(gz_key key, void *value);
gz_greenlet *gz_every(double interval, gz_fn fn, void *arg);    /* fn returning non-NULL stops it */
typedef struct gz_hub gz_hub;
gz_hub      *gz_hub_self(void);
int          gz_hub_post(gz_hub *h, void (*fn)(void *arg), void *arg); /* any thread */
/* ---- end of the Second map ---- */

static void every_contract_function_links(void **state)
{
    (void)state;
    void (*const fns[])(void) = {
        (void (*)(void))gz_accept,
        (void (*)(void))gz_actor_free,
        (void (*)(void))gz_actor_greenlet,
        (void (*)(void))gz_actor_new,
        (void (*)(void))gz_actor_send,
        (void (*)(void))gz_actor_start,
        (void (*)(void))gz_actor_state,
        (void (*)(void))gz_actor_stop,
        (void (*)(void))gz_bounded_sem_new,
        (void (*)(void))gz_channel_new,
        (void (*)(void))gz_close,
        (void (*)(void))gz_select,
        (void (*)(void))gz_zmq_proxy,
        (void (*)(void))gz_zmq_sendv,
        (void (*)(void))gz_zmq_recvv,
        (void (*)(void))gz_zmq_ctx_term,
        (void (*)(void))gz_monitor_start,
        (void (*)(void))gz_monitor_stop,
        (void (*)(void))gz_print_run_info,
        (void (*)(void))gz_foreach_greenlet,
        (void (*)(void))gz_hub_stats,
        (void (*)(void))gz_scope_open,
        (void (*)(void))gz_scope_spawn,
        (void (*)(void))gz_scope_close,
        (void (*)(void))gz_shield_begin,
        (void (*)(void))gz_shield_end,
        (void (*)(void))gz_key_create,
        (void (*)(void))gz_key_delete,
        (void (*)(void))gz_getspecific,
        (void (*)(void))gz_setspecific,
        (void (*)(void))gz_every,
        (void (*)(void))gz_hub_self,
        (void (*)(void))gz_hub_post,
        (void (*)(void))gz_connect,
        (void (*)(void))gz_current,
        (void (*)(void))gz_event_clear,
        (void (*)(void))gz_event_free,
        (void (*)(void))gz_event_is_set,
        (void (*)(void))gz_event_new,
        (void (*)(void))gz_event_set,
        (void (*)(void))gz_event_wait,
        (void (*)(void))gz_exception,
        (void (*)(void))gz_exit,
        (void (*)(void))gz_fail,
        (void (*)(void))gz_get,
        (void (*)(void))gz_greenlet_new,
        (void (*)(void))gz_imap_free,
        (void (*)(void))gz_imap_next,
        (void (*)(void))gz_join,
        (void (*)(void))gz_joinall,
        (void (*)(void))gz_kill,
        (void (*)(void))gz_killall,
        (void (*)(void))gz_killed,
        (void (*)(void))gz_lifoqueue_new,
        (void (*)(void))gz_link,
        (void (*)(void))gz_loop,
        (void (*)(void))gz_name,
        (void (*)(void))gz_now,
        (void (*)(void))gz_poll,
        (void (*)(void))gz_pool_add,
        (void (*)(void))gz_pool_free,
        (void (*)(void))gz_pool_free_count,
        (void (*)(void))gz_pool_imap,
        (void (*)(void))gz_pool_imap_unordered,
        (void (*)(void))gz_pool_join,
        (void (*)(void))gz_pool_kill,
        (void (*)(void))gz_pool_len,
        (void (*)(void))gz_pool_map,
        (void (*)(void))gz_pool_new,
        (void (*)(void))gz_pool_spawn,
        (void (*)(void))gz_pool_wait_available,
        (void (*)(void))gz_priorityqueue_new,
        (void (*)(void))gz_queue_close,
        (void (*)(void))gz_queue_empty,
        (void (*)(void))gz_queue_free,
        (void (*)(void))gz_queue_full,
        (void (*)(void))gz_queue_get,
        (void (*)(void))gz_queue_get_nowait,
        (void (*)(void))gz_queue_join,
        (void (*)(void))gz_queue_new,
        (void (*)(void))gz_queue_peek,
        (void (*)(void))gz_queue_put,
        (void (*)(void))gz_queue_put_nowait,
        (void (*)(void))gz_queue_size,
        (void (*)(void))gz_queue_task_done,
        (void (*)(void))gz_read,
        (void (*)(void))gz_ready,
        (void (*)(void))gz_release,
        (void (*)(void))gz_result_free,
        (void (*)(void))gz_result_get,
        (void (*)(void))gz_result_new,
        (void (*)(void))gz_result_ready,
        (void (*)(void))gz_result_set,
        (void (*)(void))gz_result_set_exception,
        (void (*)(void))gz_result_successful,
        (void (*)(void))gz_result_wait,
        (void (*)(void))gz_run,
        (void (*)(void))gz_run_in_thread,
        (void (*)(void))gz_sem_acquire,
        (void (*)(void))gz_sem_free,
        (void (*)(void))gz_sem_new,
        (void (*)(void))gz_sem_release,
        (void (*)(void))gz_sem_value,
        (void (*)(void))gz_server_free,
        (void (*)(void))gz_server_new,
        (void (*)(void))gz_server_start,
        (void (*)(void))gz_server_stop,
        (void (*)(void))gz_set_name,
        (void (*)(void))gz_shutdown,
        (void (*)(void))gz_signal,
        (void (*)(void))gz_signal_cancel,
        (void (*)(void))gz_sleep,
        (void (*)(void))gz_spawn,
        (void (*)(void))gz_spawn_later,
        (void (*)(void))gz_start,
        (void (*)(void))gz_start_later,
        (void (*)(void))gz_started,
        (void (*)(void))gz_successful,
        (void (*)(void))gz_tcp_connect,
        (void (*)(void))gz_tcp_listen,
        (void (*)(void))gz_timeout_cancel,
        (void (*)(void))gz_timeout_fired,
        (void (*)(void))gz_timeout_start,
        (void (*)(void))gz_use_loop,
        (void (*)(void))gz_value,
        (void (*)(void))gz_wait_read,
        (void (*)(void))gz_wait_write,
        (void (*)(void))gz_with_timeout,
        (void (*)(void))gz_write,
        (void (*)(void))gz_yield,
        (void (*)(void))gz_zmq_close,
        (void (*)(void))gz_zmq_context,
        (void (*)(void))gz_zmq_msg_recv,
        (void (*)(void))gz_zmq_msg_send,
        (void (*)(void))gz_zmq_poll,
        (void (*)(void))gz_zmq_recv,
        (void (*)(void))gz_zmq_send,
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        assert_non_null(fns[i]);
    assert_int_equal(sizeof fns / sizeof fns[0], 137);
    assert_true(GZ_FOREVER < 0);
    assert_non_null(select_has_the_contract_type);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_contract_function_links),
    };
    return cmocka_run_group_tests_name("api_contract", tests, NULL, NULL);
}
