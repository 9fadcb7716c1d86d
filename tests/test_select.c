/* select.c: gz_select over every kind of case, alone and mixed; ready at
 * entry and later; timeouts, kills, gz_timeouts; objects closed while
 * waited on; the errors; hand-off fairness with plain waiters; a stress
 * run counting every item. */
#include <pthread.h>

#include "gz_test.h"

static void *ctx;

static void *zsock(int type)
{
    void *s = zmq_socket(ctx, type);
    assert_non_null(s);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    return s;
}

/* A connected PUSH -> PULL pair on inproc NAME. */
static void zpair(const char *name, void **push, void **pull)
{
    *pull = zsock(ZMQ_PULL);
    assert_int_equal(zmq_bind(*pull, name), 0);
    *push = zsock(ZMQ_PUSH);
    assert_int_equal(zmq_connect(*push, name), 0);
}

static gz_case mk(int op, void *obj)
{
    return (gz_case){.op = op, .obj = obj};
}

/* ---- ready at entry ---- */

static void lowest_ready_index_wins_and_only_it_is_taken(void **state)
{
    (void)state;
    gz_queue *a = gz_queue_new(0), *b = gz_queue_new(0);
    gz_sem *s = gz_sem_new(1);
    assert_int_equal(gz_queue_put(a, GZ_PTR(1), 0), 0);
    assert_int_equal(gz_queue_put(b, GZ_PTR(2), 0), 0);
    gz_case c[] = {mk(GZ_ACQUIRE, s), mk(GZ_GET, b), mk(GZ_GET, a)};
    c[0].err = 99;
    assert_int_equal(gz_select(c, 3, GZ_FOREVER), 0);
    assert_int_equal(c[0].err, 0);
    assert_int_equal(gz_sem_value(s), 0);
    assert_int_equal(gz_queue_size(a), 1);
    assert_int_equal(gz_queue_size(b), 1);
    assert_int_equal(gz_select(c, 3, 0), 1);
    assert_ptr_equal(c[1].item, GZ_PTR(2));
    assert_int_equal(gz_queue_size(a), 1);
    assert_int_equal(gz_select(c, 3, 0), 2);
    assert_ptr_equal(c[2].item, GZ_PTR(1));
    assert_fails(gz_select(c, 3, 0), ETIMEDOUT);
    gz_queue_free(a);
    gz_queue_free(b);
    gz_sem_free(s);
}

static void *ret_arg(void *arg) { return arg; }

static void every_op_ready_at_entry(void **state)
{
    (void)state;
    gz_queue *full = gz_queue_new(1), *room = gz_queue_new(1);
    gz_event *e = gz_event_new();
    gz_result *r = gz_result_new(), *rx = gz_result_new();
    gz_sem *s = gz_sem_new(1);
    gz_greenlet *g = gz_spawn(ret_arg, GZ_PTR(5));
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    assert_int_equal(gz_queue_put(full, GZ_PTR(7), 0), 0);
    gz_event_set(e);
    gz_result_set(r, GZ_PTR(8));
    gz_result_set_exception(rx, ERANGE, "out of range");
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    void *push, *pull;
    zpair("inproc://entry", &push, &pull);
    assert_int_equal(zmq_send(push, "m", 1, 0), 1);

    gz_case c = mk(GZ_GET, full);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    assert_ptr_equal(c.item, GZ_PTR(7));
    c = mk(GZ_PUT, room);
    c.item = GZ_PTR(9);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    void *it;
    assert_int_equal(gz_queue_get(room, &it, 0), 0);
    assert_ptr_equal(it, GZ_PTR(9));
    c = mk(GZ_EVENT, e);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    c = mk(GZ_RESULT, r);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    assert_ptr_equal(c.item, GZ_PTR(8));
    assert_int_equal(c.err, 0);
    c = mk(GZ_RESULT, rx);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    assert_int_equal(c.err, ERANGE);
    c = mk(GZ_JOIN, g);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    c = mk(GZ_ACQUIRE, s);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    assert_int_equal(gz_sem_value(s), 0);
    c = (gz_case){.op = GZ_FD_IN, .fd = p[0]};
    assert_int_equal(gz_select(&c, 1, 0), 0);
    c = (gz_case){.op = GZ_FD_OUT, .fd = p[1]};
    assert_int_equal(gz_select(&c, 1, 0), 0);
    c = mk(GZ_ZMQ_IN, pull);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    char buf[4];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT), 1);
    c = mk(GZ_ZMQ_OUT, push);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    /* Nothing left: each one alone now fails at once. */
    gz_case none[] = {mk(GZ_GET, full), mk(GZ_PUT, (void *)room), mk(GZ_ACQUIRE, s),
                      mk(GZ_ZMQ_IN, pull), {.op = GZ_FD_IN, .fd = p[0]}};
    assert_int_equal(gz_queue_put(room, NULL, 0), 0);
    /* the pipe still holds its byte: without the FD case, nothing is ready */
    assert_fails(gz_select(none, 4, 0), ETIMEDOUT);
    assert_int_equal(gz_select(none, 5, 0), 4);
    gz_queue_free(full);
    gz_queue_free(room);
    gz_event_free(e);
    gz_result_free(r);
    gz_result_free(rx);
    gz_sem_free(s);
    gz_release(g);
    close(p[0]);
    close(p[1]);
    gz_zmq_close(push);
    gz_zmq_close(pull);
}

/* ---- ready later ---- */

typedef struct later {
    gz_case *c;
    size_t n;
    double timeout;
    int rc, err;
} later;

static void *selector(void *arg)
{
    later *l = arg;
    l->rc = gz_select(l->c, l->n, l->timeout);
    l->err = errno;
    return NULL;
}

static gz_greenlet *spawn_select(later *l, gz_case *c, size_t n, double timeout)
{
    *l = (later){.c = c, .n = n, .timeout = timeout, .rc = -2};
    gz_greenlet *g = gz_spawn(selector, l);
    assert_non_null(g);
    assert_int_equal(gz_sleep(0), 0); /* it runs and parks */
    assert_int_equal(l->rc, -2);
    return g;
}

static void finish(gz_greenlet *g)
{
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    gz_release(g);
}

static void get_fires_later_and_leaves_the_other_cases_untouched(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    gz_event *e = gz_event_new();
    gz_sem *s = gz_sem_new(0);
    gz_case c[] = {mk(GZ_EVENT, e), mk(GZ_ACQUIRE, s), mk(GZ_GET, q)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 3, GZ_FOREVER);
    /* Two cases become ready before the selector runs: the first wins, the
     * unit released second is not taken. */
    assert_int_equal(gz_queue_put(q, GZ_PTR(3), 0), 0);
    assert_int_equal(gz_sem_release(s), 0);
    finish(g);
    assert_int_equal(l.rc, 2);
    assert_ptr_equal(c[2].item, GZ_PTR(3));
    assert_int_equal(gz_sem_value(s), 1);
    assert_int_equal(gz_queue_size(q), 0);
    /* Its waiters are gone from the event and the semaphore. */
    gz_event_set(e);
    assert_int_equal(gz_sem_release(s), 0);
    assert_int_equal(gz_sem_value(s), 2);
    gz_queue_free(q);
    gz_event_free(e);
    gz_sem_free(s);
}

static void *sleeper(void *arg)
{
    gz_sleep(*(double *)arg);
    return NULL;
}

static void every_op_fires_later(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(1);
    gz_event *e = gz_event_new();
    gz_result *r = gz_result_new();
    gz_sem *s = gz_sem_new(0);
    later l;
    gz_greenlet *g;

    assert_int_equal(gz_queue_put(q, GZ_PTR(1), 0), 0);
    gz_case c = mk(GZ_PUT, q);
    c.item = GZ_PTR(2);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    void *it;
    assert_int_equal(gz_queue_get(q, &it, 0), 0);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(gz_queue_get(q, &it, 0), 0);
    assert_ptr_equal(it, GZ_PTR(2));

    c = mk(GZ_EVENT, e);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    gz_event_set(e);
    gz_event_clear(e); /* a woken waiter returns all the same */
    finish(g);
    assert_int_equal(l.rc, 0);

    c = mk(GZ_RESULT, r);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    gz_result_set_exception(r, ENOENT, "none");
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(c.err, ENOENT);

    double nap = 0.01;
    gz_greenlet *z = gz_spawn(sleeper, &nap);
    c = mk(GZ_JOIN, z);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_true(gz_ready(z));
    gz_release(z);

    c = mk(GZ_ACQUIRE, s);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    assert_int_equal(gz_sem_release(s), 0);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(gz_sem_value(s), 0);

    int p[2];
    assert_int_equal(pipe(p), 0);
    c = (gz_case){.op = GZ_FD_IN, .fd = p[0]};
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    assert_int_equal(write(p[1], "x", 1), 1);
    finish(g);
    assert_int_equal(l.rc, 0);

    void *push, *pull;
    zpair("inproc://later", &push, &pull);
    c = mk(GZ_ZMQ_IN, pull);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    assert_int_equal(gz_zmq_send(push, "m", 1, 0), 1);
    finish(g);
    assert_int_equal(l.rc, 0);
    char buf[4];
    assert_int_equal(gz_zmq_recv(pull, buf, sizeof buf, ZMQ_DONTWAIT), 1);

    close(p[0]);
    close(p[1]);
    gz_zmq_close(push);
    gz_zmq_close(pull);
    gz_queue_free(q);
    gz_event_free(e);
    gz_result_free(r);
    gz_sem_free(s);
}

/* The edge rule: the selector parks on a socket, a greenlet that keeps
 * busy then sends (its send may eat the ZMQ_FD edge): still woken. */
static void *busy_sender(void *arg)
{
    struct timespec t = {0, 50 * 1000 * 1000};
    nanosleep(&t, NULL);
    return GZ_PTR(gz_zmq_send(arg, "edge", 4, 0));
}

static void zmq_case_never_misses_a_message_sent_after_it_parked(void **state)
{
    (void)state;
    void *a = zsock(ZMQ_DEALER), *b = zsock(ZMQ_DEALER);
    assert_int_equal(zmq_bind(a, "inproc://edge"), 0);
    assert_int_equal(zmq_connect(b, "inproc://edge"), 0);
    gz_queue *q = gz_queue_new(0);
    gz_case c[] = {mk(GZ_GET, q), mk(GZ_ZMQ_IN, a)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    gz_greenlet *s = gz_spawn(busy_sender, b);
    finish(g);
    assert_int_equal(l.rc, 1);
    assert_int_equal(c[1].err, 0);
    char buf[8];
    assert_int_equal(gz_zmq_recv(a, buf, sizeof buf, ZMQ_DONTWAIT), 4);
    finish(s);
    gz_queue_free(q);
    gz_zmq_close(a);
    gz_zmq_close(b);
}

/* ---- timeouts, kills, gz_timeouts ---- */

static void timeouts_zero_finite_and_forever(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    gz_case c = mk(GZ_GET, q);
    assert_fails(gz_select(&c, 1, 0), ETIMEDOUT);
    assert_fails(gz_select(&c, 1, 0.01), ETIMEDOUT);
    /* The timed-out selector left no waiter behind: the item stays. */
    assert_int_equal(gz_queue_put(q, GZ_PTR(4), 0), 0);
    assert_int_equal(gz_queue_size(q), 1);
    /* Nothing alive can fill it: main selecting forever would hang. */
    assert_int_equal(gz_queue_get(q, NULL, 0), 0);
    assert_fails(gz_select(&c, 1, GZ_FOREVER), EDEADLK);
    assert_fails(gz_select(NULL, 0, 0.01), ETIMEDOUT);
    assert_fails(gz_select(NULL, 0, GZ_FOREVER), EDEADLK);
    gz_queue_free(q);
}

static void *self_join_select(void *arg)
{
    (void)arg;
    gz_case c = mk(GZ_JOIN, gz_current());
    int rc = gz_select(&c, 1, GZ_FOREVER);
    return GZ_PTR(rc == -1 ? errno : 0);
}

static void a_greenlet_joining_itself_is_edeadlk(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(self_join_select, NULL);
    void *v;
    assert_int_equal(gz_get(g, &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), EDEADLK);
    gz_release(g);
}

static void killed_selector_gets_ecanceled_and_takes_nothing(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    gz_sem *s = gz_sem_new(0);
    gz_case c[] = {mk(GZ_GET, q), mk(GZ_ACQUIRE, s)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    assert_int_equal(gz_kill(g, 0), 0);
    assert_int_equal(gz_queue_put(q, GZ_PTR(1), 0), 0); /* not handed to it */
    assert_int_equal(gz_sem_release(s), 0);
    finish(g);
    assert_int_equal(l.rc, -1);
    assert_int_equal(l.err, ECANCELED);
    assert_int_equal(gz_queue_size(q), 1);
    assert_int_equal(gz_sem_value(s), 1);
    gz_queue_free(q);
    gz_sem_free(s);
}

static void *select_under_gz_timeout(void *arg)
{
    gz_timeout *t = gz_timeout_start(0.01);
    gz_case c = mk(GZ_GET, arg);
    int rc = gz_select(&c, 1, GZ_FOREVER);
    int e = errno;
    gz_timeout_cancel(t);
    return GZ_PTR(rc == -1 ? e : 0);
}

static void gz_timeout_ends_a_select_with_etimedout(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    gz_greenlet *g = gz_spawn(select_under_gz_timeout, q);
    void *v;
    assert_int_equal(gz_get(g, &v, GZ_FOREVER), 0);
    assert_int_equal(GZ_INT(v), ETIMEDOUT);
    gz_release(g);
    gz_queue_free(q);
}

/* ---- closed under it ---- */

static void closed_queue_fires_its_case_with_epipe(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0), *other = gz_queue_new(0);
    gz_case c[] = {mk(GZ_GET, other), mk(GZ_GET, q)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    gz_queue_close(q);
    finish(g);
    assert_int_equal(l.rc, 1);
    assert_int_equal(c[1].err, EPIPE);
    /* At entry too, and a PUT on a closed queue. */
    assert_int_equal(gz_select(c, 2, GZ_FOREVER), 1);
    assert_int_equal(c[1].err, EPIPE);
    gz_case p = mk(GZ_PUT, q);
    assert_int_equal(gz_select(&p, 1, 0), 0);
    assert_int_equal(p.err, EPIPE);
    gz_queue_free(q);
    gz_queue_free(other);
}

static void closed_socket_fires_its_case_with_enotsock(void **state)
{
    (void)state;
    void *pull = zsock(ZMQ_PULL);
    assert_int_equal(zmq_bind(pull, "inproc://closed"), 0);
    gz_queue *q = gz_queue_new(0);
    gz_case c[] = {mk(GZ_GET, q), mk(GZ_ZMQ_IN, pull)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    assert_int_equal(gz_zmq_close(pull), 0);
    finish(g);
    assert_int_equal(l.rc, 1);
    assert_int_equal(c[1].err, ENOTSOCK);
    gz_queue_free(q);
}

static void gz_close_fires_an_fd_case_with_ebadf(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    gz_case c = {.op = GZ_FD_IN, .fd = p[0]};
    later l;
    gz_greenlet *g = spawn_select(&l, &c, 1, GZ_FOREVER);
    assert_int_equal(gz_close(p[0]), 0);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(c.err, EBADF);
    close(p[1]);
}

static void freed_result_and_released_greenlet_fire_with_their_codes(void **state)
{
    (void)state;
    gz_result *r = gz_result_new();
    gz_case c = mk(GZ_RESULT, r);
    later l;
    gz_greenlet *g = spawn_select(&l, &c, 1, GZ_FOREVER);
    gz_result_free(r);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(c.err, EPIPE);
    /* Released before it ever ran: it will never end, joiners get ECANCELED. */
    gz_greenlet *never = gz_greenlet_new(ret_arg, NULL);
    c = mk(GZ_JOIN, never);
    g = spawn_select(&l, &c, 1, GZ_FOREVER);
    gz_release(never);
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_int_equal(c.err, ECANCELED);
}

static void *channel_getter(void *arg)
{
    void *it = NULL;
    return gz_queue_get(arg, &it, GZ_FOREVER) == 0 ? it : GZ_PTR(-1);
}

static void channel_put_case_hands_its_item_to_a_getter(void **state)
{
    (void)state;
    gz_queue *ch = gz_channel_new();
    gz_case c = mk(GZ_PUT, ch);
    c.item = GZ_PTR(6);
    assert_fails(gz_select(&c, 1, 0), ETIMEDOUT); /* nobody gets: not ready */
    later l;
    gz_greenlet *g = spawn_select(&l, &c, 1, GZ_FOREVER);
    gz_greenlet *p = gz_spawn(channel_getter, ch);
    void *v;
    assert_int_equal(gz_get(p, &v, GZ_FOREVER), 0);
    assert_ptr_equal(v, GZ_PTR(6));
    finish(g);
    assert_int_equal(l.rc, 0);
    gz_release(p);
    /* and the other way round: a getter waits, the PUT case is ready */
    p = gz_spawn(channel_getter, ch);
    assert_int_equal(gz_sleep(0), 0);
    c.item = GZ_PTR(7);
    assert_int_equal(gz_select(&c, 1, 0), 0);
    assert_int_equal(gz_get(p, &v, GZ_FOREVER), 0);
    assert_ptr_equal(v, GZ_PTR(7));
    gz_release(p);
    gz_queue_free(ch);
}

/* ---- errors ---- */

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    assert_int_equal(gz_queue_put(q, NULL, 0), 0);
    assert_fails(gz_select(NULL, 1, 0), EINVAL);
    gz_case c[] = {mk(GZ_GET, q), mk(0, q)};
    /* A bad case anywhere refuses the whole call: nothing is taken. */
    assert_fails(gz_select(c, 2, 0), EINVAL);
    c[1] = mk(GZ_ACQUIRE + 1, q);
    assert_fails(gz_select(c, 2, 0), EINVAL);
    c[1] = mk(GZ_EVENT, NULL);
    assert_fails(gz_select(c, 2, 0), EINVAL);
    c[1] = mk(GZ_ZMQ_IN, NULL);
    assert_fails(gz_select(c, 2, 0), EINVAL);
    c[1] = (gz_case){.op = GZ_FD_OUT, .fd = -1};
    assert_fails(gz_select(c, 2, 0), EINVAL);
    assert_fails(gz_select(c, 1, NAN), EINVAL);
    assert_int_equal(gz_queue_size(q), 1);
    gz_queue_free(q);
}

static pthread_mutex_t xlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xcond = PTHREAD_COND_INITIALIZER;
static gz_queue *xq;
static bool xdone;

static void *other_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&xlock);
    xq = gz_queue_new(0);
    gz_queue_put(xq, NULL, 0);
    pthread_cond_broadcast(&xcond);
    while (!xdone)
        pthread_cond_wait(&xcond, &xlock);
    gz_queue_free(xq);
    pthread_mutex_unlock(&xlock);
    return NULL;
}

static void another_threads_object_is_exdev(void **state)
{
    (void)state;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, other_thread, NULL), 0);
    pthread_mutex_lock(&xlock);
    while (!xq)
        pthread_cond_wait(&xcond, &xlock);
    gz_case c = mk(GZ_GET, xq);
    int rc = gz_select(&c, 1, 0);
    int e = errno;
    xdone = true;
    pthread_cond_broadcast(&xcond);
    pthread_mutex_unlock(&xlock);
    pthread_join(th, NULL);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EXDEV);
}

static int link_rc, link_err;

static void select_in_link(gz_greenlet *g, void *arg)
{
    (void)g;
    gz_case c = mk(GZ_GET, arg);
    link_rc = gz_select(&c, 1, GZ_FOREVER);
    link_err = errno;
}

static void select_in_a_link_callback_is_eperm(void **state)
{
    (void)state;
    gz_queue *q = gz_queue_new(0);
    assert_int_equal(gz_queue_put(q, NULL, 0), 0);
    gz_greenlet *g = gz_spawn(ret_arg, NULL);
    assert_int_equal(gz_link(g, select_in_link, q), 0);
    finish(g);
    assert_int_equal(link_rc, -1);
    assert_int_equal(link_err, EPERM);
    assert_int_equal(gz_queue_size(q), 1);
    gz_queue_free(q);
}

/* ---- fairness ---- */

static gz_queue *fq;

static void *plain_getter(void *arg)
{
    (void)arg;
    void *it = NULL;
    return gz_queue_get(fq, &it, GZ_FOREVER) == 0 ? it : GZ_PTR(-1);
}

static void items_go_to_selecting_and_plain_getters_in_arrival_order(void **state)
{
    (void)state;
    fq = gz_queue_new(0);
    gz_queue *idle = gz_queue_new(0);
    gz_case c[] = {mk(GZ_GET, idle), mk(GZ_GET, fq)};
    /* plain first, then the selector */
    gz_greenlet *p = gz_spawn(plain_getter, NULL);
    assert_int_equal(gz_sleep(0), 0);
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    assert_int_equal(gz_queue_put(fq, GZ_PTR(1), 0), 0);
    assert_int_equal(gz_queue_put(fq, GZ_PTR(2), 0), 0);
    void *v;
    assert_int_equal(gz_get(p, &v, GZ_FOREVER), 0);
    assert_ptr_equal(v, GZ_PTR(1));
    finish(g);
    assert_int_equal(l.rc, 1);
    assert_ptr_equal(c[1].item, GZ_PTR(2));
    gz_release(p);
    /* the selector first, then plain */
    g = spawn_select(&l, c, 2, GZ_FOREVER);
    p = gz_spawn(plain_getter, NULL);
    assert_int_equal(gz_sleep(0), 0);
    assert_int_equal(gz_queue_put(fq, GZ_PTR(3), 0), 0);
    assert_int_equal(gz_queue_put(fq, GZ_PTR(4), 0), 0);
    assert_int_equal(gz_get(p, &v, GZ_FOREVER), 0);
    assert_ptr_equal(v, GZ_PTR(4));
    finish(g);
    assert_ptr_equal(c[1].item, GZ_PTR(3));
    gz_release(p);
    assert_int_equal(gz_queue_size(fq), 0);
    gz_queue_free(fq);
    gz_queue_free(idle);
}

/* A selector woken by one case is skipped by the others' hand-offs: the
 * second queue's item goes to the plain getter behind it. */
static void a_fired_selector_is_skipped_by_other_hand_offs(void **state)
{
    (void)state;
    fq = gz_queue_new(0);
    gz_queue *a = gz_queue_new(0);
    gz_case c[] = {mk(GZ_GET, a), mk(GZ_GET, fq)};
    later l;
    gz_greenlet *g = spawn_select(&l, c, 2, GZ_FOREVER);
    gz_greenlet *p = gz_spawn(plain_getter, NULL);
    assert_int_equal(gz_sleep(0), 0);
    assert_int_equal(gz_queue_put(a, GZ_PTR(1), 0), 0);
    assert_int_equal(gz_queue_put(fq, GZ_PTR(2), 0), 0);
    void *v;
    assert_int_equal(gz_get(p, &v, GZ_FOREVER), 0);
    assert_ptr_equal(v, GZ_PTR(2));
    finish(g);
    assert_int_equal(l.rc, 0);
    assert_ptr_equal(c[0].item, GZ_PTR(1));
    gz_release(p);
    gz_queue_free(a);
    gz_queue_free(fq);
}

/* ---- stress ---- */

#define S_ITEMS 200000
#define S_SELECTORS 8
#define S_QUEUES 4

static struct {
    gz_queue *q[S_QUEUES];
    void *push[2], *pull[2];
    gz_event *stop;
    unsigned char seen[S_ITEMS];
    int taken, twice, bad_recv;
    uint32_t seed;
} st;

static uint32_t rnd(void)
{
    st.seed = st.seed * 1103515245u + 12345u;
    return st.seed >> 8;
}

/* A REP socket that has just replied, and whose last receive had to wait,
 * is looked at after a ready queue; the request on it is never missed. */
static void *two_requests(void *req)
{
    char buf[8];
    for (int i = 0; i < 2; i++)
        if (gz_zmq_send(req, "q", 1, 0) != 1 || gz_zmq_recv(req, buf, sizeof buf, 0) != 1)
            return (void *)1;
    return NULL;
}

static void a_socket_that_just_replied_is_looked_at_after_ready_cases(void **state)
{
    (void)state;
    void *rep = zsock(ZMQ_REP), *req = zsock(ZMQ_REQ);
    assert_int_equal(zmq_bind(rep, "inproc://select-defer"), 0);
    assert_int_equal(zmq_connect(req, "inproc://select-defer"), 0);
    gz_queue *q = gz_queue_new(0);
    assert_non_null(q);
    gz_greenlet *client = gz_spawn(two_requests, req);
    assert_non_null(client);
    gz_case c[2] = {{.op = GZ_ZMQ_IN, .obj = rep}, {.op = GZ_GET, .obj = q}};
    char buf[8];
    assert_int_equal(gz_select(c, 2, GZ_FOREVER), 0); /* waits for the client */
    assert_int_equal(gz_zmq_recv(rep, buf, sizeof buf, ZMQ_DONTWAIT), 1);
    assert_int_equal(gz_zmq_send(rep, "r", 1, 0), 1);
    gz_sleep(0.01); /* the client takes the reply and sends its second request */
    assert_int_equal(gz_queue_put_nowait(q, (void *)7), 0);
    assert_int_equal(gz_select(c, 2, 0), 1);
    assert_ptr_equal(c[1].item, (void *)7);
    assert_int_equal(gz_select(c, 2, GZ_FOREVER), 0); /* found, not missed */
    assert_int_equal(gz_zmq_recv(rep, buf, sizeof buf, ZMQ_DONTWAIT), 1);
    assert_int_equal(gz_zmq_send(rep, "r", 1, 0), 1);
    assert_int_equal(gz_join(client, GZ_FOREVER), 0);
    assert_null(gz_value(client));
    gz_release(client);
    gz_queue_free(q);
    gz_zmq_close(rep);
    gz_zmq_close(req);
}

static void count(intptr_t i)
{
    if (i < 0 || i >= S_ITEMS || st.seen[i]++)
        st.twice++;
    st.taken++;
}

static void *stress_selector(void *arg)
{
    (void)arg;
    gz_case c[S_QUEUES + 3];
    for (int i = 0; i < S_QUEUES; i++)
        c[i] = mk(GZ_GET, st.q[i]);
    c[S_QUEUES] = mk(GZ_ZMQ_IN, st.pull[0]);
    c[S_QUEUES + 1] = mk(GZ_ZMQ_IN, st.pull[1]);
    c[S_QUEUES + 2] = mk(GZ_EVENT, st.stop);
    for (;;) {
        uint32_t r = rnd() % 8;
        double t = r == 0 ? 0 : r == 1 ? 0.0005 : GZ_FOREVER;
        int i = gz_select(c, S_QUEUES + 3, t);
        if (i < 0) {
            if (errno == ETIMEDOUT)
                continue;
            return NULL; /* killed */
        }
        if (i < S_QUEUES) {
            count((intptr_t)c[i].item);
        } else if (i < S_QUEUES + 2) {
            int32_t v;
            if (gz_zmq_recv(c[i].obj, &v, sizeof v, ZMQ_DONTWAIT) != sizeof v)
                st.bad_recv++;
            else
                count(v);
        } else {
            return NULL;
        }
    }
}

static void *stress_producer(void *arg)
{
    int k = GZ_INT(arg);
    for (int32_t i = k; i < S_ITEMS; i += 4) {
        if (k < 2) {
            if (gz_queue_put(st.q[rnd() % S_QUEUES], GZ_PTR(i), GZ_FOREVER) != 0)
                return GZ_PTR(errno);
        } else if (gz_zmq_send(st.push[k - 2], &i, sizeof i, 0) != sizeof i) {
            return GZ_PTR(1000 + errno);
        }
        if (rnd() % 16 == 0)
            gz_sleep(0);
    }
    return NULL;
}

static void stress_every_item_is_taken_exactly_once(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    st.seed = 12345;
    for (int i = 0; i < S_QUEUES; i++)
        st.q[i] = gz_queue_new(64);
    zpair("inproc://stress0", &st.push[0], &st.pull[0]);
    zpair("inproc://stress1", &st.push[1], &st.pull[1]);
    st.stop = gz_event_new();
    gz_greenlet *sel[S_SELECTORS], *prod[4];
    for (int i = 0; i < S_SELECTORS; i++)
        sel[i] = gz_spawn(stress_selector, NULL);
    for (int i = 0; i < 4; i++)
        prod[i] = gz_spawn(stress_producer, GZ_PTR(i));
    int kills = 0;
    while (st.taken < S_ITEMS) {
        assert_int_equal(gz_sleep(0.0002), 0);
        if (rnd() % 4 == 0) { /* kill one selector, start another */
            int k = (int)(rnd() % S_SELECTORS);
            assert_int_equal(gz_kill(sel[k], GZ_FOREVER), 0);
            gz_release(sel[k]);
            sel[k] = gz_spawn(stress_selector, NULL);
            kills++;
        }
    }
    gz_event_set(st.stop);
    for (int i = 0; i < S_SELECTORS; i++)
        finish(sel[i]);
    for (int i = 0; i < 4; i++) {
        void *v;
        assert_int_equal(gz_get(prod[i], &v, GZ_FOREVER), 0);
        assert_int_equal(GZ_INT(v), 0);
        gz_release(prod[i]);
    }
    assert_int_equal(st.twice, 0);
    assert_int_equal(st.bad_recv, 0);
    assert_int_equal(st.taken, S_ITEMS);
    for (int i = 0; i < S_ITEMS; i++)
        assert_int_equal(st.seen[i], 1);
    assert_true(kills > 0);
    for (int i = 0; i < S_QUEUES; i++) {
        assert_int_equal(gz_queue_size(st.q[i]), 0);
        gz_queue_free(st.q[i]);
    }
    gz_event_free(st.stop);
    for (int i = 0; i < 2; i++) {
        gz_zmq_close(st.push[i]);
        gz_zmq_close(st.pull[i]);
    }
}

int main(void)
{
    gz_test_watchdog(120);
    ctx = zmq_ctx_new();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lowest_ready_index_wins_and_only_it_is_taken),
        cmocka_unit_test(every_op_ready_at_entry),
        cmocka_unit_test(get_fires_later_and_leaves_the_other_cases_untouched),
        cmocka_unit_test(every_op_fires_later),
        cmocka_unit_test(zmq_case_never_misses_a_message_sent_after_it_parked),
        cmocka_unit_test(timeouts_zero_finite_and_forever),
        cmocka_unit_test(a_greenlet_joining_itself_is_edeadlk),
        cmocka_unit_test(killed_selector_gets_ecanceled_and_takes_nothing),
        cmocka_unit_test(gz_timeout_ends_a_select_with_etimedout),
        cmocka_unit_test(closed_queue_fires_its_case_with_epipe),
        cmocka_unit_test(closed_socket_fires_its_case_with_enotsock),
        cmocka_unit_test(gz_close_fires_an_fd_case_with_ebadf),
        cmocka_unit_test(freed_result_and_released_greenlet_fire_with_their_codes),
        cmocka_unit_test(channel_put_case_hands_its_item_to_a_getter),
        cmocka_unit_test(bad_arguments_are_einval),
        cmocka_unit_test(another_threads_object_is_exdev),
        cmocka_unit_test(select_in_a_link_callback_is_eperm),
        cmocka_unit_test(items_go_to_selecting_and_plain_getters_in_arrival_order),
        cmocka_unit_test(a_fired_selector_is_skipped_by_other_hand_offs),
        cmocka_unit_test(a_socket_that_just_replied_is_looked_at_after_ready_cases),
        cmocka_unit_test(stress_every_item_is_taken_exactly_once),
    };
    int rc = cmocka_run_group_tests_name("select", tests, NULL, NULL);
    zmq_ctx_term(ctx);
    return rc;
}
