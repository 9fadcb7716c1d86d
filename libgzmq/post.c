/* Entering a hub from any thread: gz_hub_self, gz_hub_post, and the
 * cross-thread wakeup (gz_remote) that gz_tqueue also uses.
 *
 * Lifetime. A hub is freed when its thread ends, while other threads may
 * still hold the gz_hub * that gz_hub_self gave them. That pointer is
 * therefore not the hub but its gz_hubref (the public struct gz_hub is
 * opaque, so the pointer is converted back here and nowhere else). The
 * hubref is the hub's post_layer state; when the hub is destroyed it is
 * marked dead under its lock, its pending work is dropped, and it moves to
 * a process-wide list of dead hubrefs where it stays for good: a late
 * gz_hub_post finds it dead (ESHUTDOWN) instead of touching freed memory,
 * and no later hub ever reuses its address. A dead hubref costs about
 * 150 bytes per ended thread that made one.
 *
 * Batching. Senders append to the inbox under the hubref's lock; only the
 * first send after the hub emptied the inbox calls ev_async_send, so a burst
 * of posts costs the hub one wakeup.
 *
 * Posts wait on the hub's todo list and each gets its greenlet only when the
 * previous post's greenlet starts (the chain): a burst of 100k posts never
 * holds 100k stacks, and a post whose fn blocks does not hold up the next. */
#include <pthread.h>
#include <stdlib.h>

#include "gz_internal.h"
#include "gzmq/post.h"

struct gz_hubref {
    pthread_mutex_t lock;
    gz_list inbox;    /* gz_remote, under lock */
    bool rung;        /* an ev_async_send is outstanding, under lock */
    bool dead;        /* under lock */
    bool closed;      /* gz_hub_close_posts: posts refused, under lock */
    unsigned holds;   /* gz_hub_hold count (hub thread only) */
    gz_list todo;     /* posts received, not yet started (hub thread only) */
    gz_greenlet *chain; /* the greenlet that will start the first of todo */
    struct ev_loop *loop;
    ev_async async;
    gz_list graveyard; /* in dead_refs once dead */
};

static struct {
    pthread_mutex_t lock;
    gz_list refs;
} dead_refs = {PTHREAD_MUTEX_INITIALIZER, {&dead_refs.refs, &dead_refs.refs}};

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    gz_hubref *hr = GZ_CONTAINER(w, gz_hubref, async);
    gz_list batch, *n;
    gz__list_init(&batch);
    pthread_mutex_lock(&hr->lock);
    while ((n = gz__list_pop(&hr->inbox)))
        gz__list_push(&batch, n);
    hr->rung = false;
    pthread_mutex_unlock(&hr->lock);
    /* The nodes are off the inbox but linked in BATCH: a sender may send a
     * gz_remote again only once it has run (see post.h). */
    while ((n = gz__list_pop(&batch)))
        GZ_CONTAINER(n, gz_remote, node)->run(GZ_CONTAINER(n, gz_remote, node));
}

static void hubref_destroy(void *p)
{
    gz_hubref *hr = p;
    gz_list dropped, *n;
    gz__list_init(&dropped);
    pthread_mutex_lock(&hr->lock);
    hr->dead = true;
    while ((n = gz__list_pop(&hr->inbox)))
        gz__list_push(&dropped, n);
    if (hr->holds == 0)
        ev_ref(hr->loop); /* balance the unref of hubref_create */
    ev_async_stop(hr->loop, &hr->async);
    pthread_mutex_unlock(&hr->lock);
    while ((n = gz__list_pop(&hr->todo)))
        gz__list_push(&dropped, n);
    if (hr->chain)
        gz_release(hr->chain);
    while ((n = gz__list_pop(&dropped))) {
        gz_remote *r = GZ_CONTAINER(n, gz_remote, node);
        if (r->drop)
            r->drop(r);
    }
    pthread_mutex_lock(&dead_refs.lock);
    gz__list_push(&dead_refs.refs, &hr->graveyard);
    pthread_mutex_unlock(&dead_refs.lock);
}

static const gz_layer post_layer = {hubref_destroy, NULL};

gz_hubref *gz__hubref(gz_hub *h)
{
    bool made;
    gz_hubref *hr = gz__layer_state_make(h, &post_layer, sizeof *hr, &made);
    if (!made)
        return hr;
    pthread_mutex_init(&hr->lock, NULL);
    gz__list_init(&hr->inbox);
    gz__list_init(&hr->todo);
    hr->loop = h->loop;
    ev_async_init(&hr->async, async_cb);
    ev_async_start(h->loop, &hr->async);
    /* Being reachable from other threads must not keep gz_run going or hide
     * a deadlock: only gz_hub_hold (or a green wait on a gz_tqueue) does. */
    ev_unref(h->loop);
    return hr;
}

static int send_to(gz_hubref *hr, gz_remote *r, bool is_post)
{
    pthread_mutex_lock(&hr->lock);
    if (hr->dead || (is_post && hr->closed)) {
        pthread_mutex_unlock(&hr->lock);
        errno = ESHUTDOWN;
        return -1;
    }
    gz__list_push(&hr->inbox, &r->node);
    if (!hr->rung) {
        hr->rung = true;
        /* Under the lock: the hub cannot stop the watcher meanwhile. */
        ev_async_send(hr->loop, &hr->async);
    }
    pthread_mutex_unlock(&hr->lock);
    return 0;
}

int gz__remote_send(gz_hubref *hr, gz_remote *r) { return send_to(hr, r, false); }

void gz__remote_cancel(gz_hubref *hr, gz_remote *r)
{
    pthread_mutex_lock(&hr->lock);
    if (gz__list_linked(&r->node))
        gz__list_remove(&r->node);
    pthread_mutex_unlock(&hr->lock);
}

/* ---- gz_hub_self, gz_hub_post, gz_hub_hold ---- */

gz_hub *gz_hub_self(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    return (gz_hub *)gz__hubref(h);
}

/* The hubref behind a public gz_hub pointer (see the top of the file). */
static gz_hubref *ref_of(gz_hub *pub) { return (gz_hubref *)(void *)pub; }

typedef struct post {
    gz_remote r;
    gz_hubref *hr;
    void (*fn)(void *arg);
    void *arg;
} post;

static void *post_main(void *arg);

/* Give the first post of todo its greenlet. */
static void chain_on(gz_hubref *hr)
{
    gz_greenlet *g = gz_spawn(post_main, hr);
    hr->chain = g;
    if (!g)
        gz__warn("gz_hub_post: no greenlet for a post (%s): it waits for "
                 "the next post\n", strerror(errno));
}

static void *post_main(void *arg)
{
    gz_hubref *hr = arg;
    post *ps = GZ_CONTAINER(gz__list_pop(&hr->todo), post, r.node);
    gz_release(hr->chain);
    hr->chain = NULL;
    if (!gz__list_empty(&hr->todo))
        chain_on(hr);
    void (*fn)(void *) = ps->fn;
    arg = ps->arg;
    free(ps);
    fn(arg);
    return NULL;
}

/* From the hub's async callback. */
static void post_run(gz_remote *r)
{
    gz_hubref *hr = GZ_CONTAINER(r, post, r)->hr;
    gz__list_push(&hr->todo, &r->node);
    /* A chain greenlet killed before it ran (gz_shutdown) started nothing:
     * the chain starts again from the oldest post. */
    if (hr->chain && gz_ready(hr->chain)) {
        gz_release(hr->chain);
        hr->chain = NULL;
    }
    if (!hr->chain)
        chain_on(hr);
}

static void post_drop(gz_remote *r) { free(r); }

int gz_hub_post(gz_hub *h, void (*fn)(void *arg), void *arg)
{
    if (!h || !fn) {
        errno = EINVAL;
        return -1;
    }
    post *ps = malloc(sizeof *ps);
    if (!ps) {
        errno = ENOMEM;
        return -1;
    }
    ps->r.node.next = ps->r.node.prev = NULL;
    ps->r.run = post_run;
    ps->r.drop = post_drop;
    ps->hr = ref_of(h);
    ps->fn = fn;
    ps->arg = arg;
    if (send_to(ps->hr, &ps->r, true) != 0) {
        free(ps);
        return -1;
    }
    return 0;
}

int gz_hub_hold(void)
{
    gz_hub *h = gz__hub();
    gz_hubref *hr = h ? gz__hubref(h) : NULL;
    if (!hr)
        return -1;
    if (hr->holds++ == 0)
        ev_ref(h->loop);
    return 0;
}

int gz_hub_unhold(void)
{
    gz_hub *h = gz__hub_peek();
    gz_hubref *hr = h ? gz__layer_state(h, &post_layer) : NULL;
    if (!hr || hr->holds == 0) {
        errno = EINVAL;
        return -1;
    }
    if (--hr->holds == 0)
        ev_unref(h->loop);
    return 0;
}

int gz_hub_close_posts(void)
{
    gz_hub *h = gz__hub();
    gz_hubref *hr = h ? gz__hubref(h) : NULL;
    if (!hr)
        return -1;
    pthread_mutex_lock(&hr->lock);
    hr->closed = true;
    pthread_mutex_unlock(&hr->lock);
    return 0;
}
