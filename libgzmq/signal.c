/* gz_signal: a signal starts a new greenlet running the handler. libev lets
 * one loop at a time own a signal, so a process-wide table remembers which
 * hub has each one. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "gz_internal.h"

struct gz_signal_slot {
    struct gz_signal_slot *next;
    ev_signal w;
    gz_hub *hub;
    void (*handler)(int signum, void *arg);
    void *arg;
};

static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static gz_hub *owners[NSIG];

typedef struct delivery {
    void (*handler)(int signum, void *arg);
    void *arg;
    int signum;
} delivery;

static void *run_handler(void *p)
{
    delivery d = *(delivery *)p;
    free(p);
    d.handler(d.signum, d.arg);
    return NULL;
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct gz_signal_slot *s = GZ_CONTAINER(w, struct gz_signal_slot, w);
    delivery *d = malloc(sizeof *d);
    if (!d)
        return; /* out of memory: the signal is dropped, as a full pipe would */
    *d = (delivery){s->handler, s->arg, w->signum};
    gz_greenlet *g = gz_spawn(run_handler, d);
    if (!g) {
        free(d);
        return;
    }
    gz_set_name(g, "signal-handler");
    gz_release(g);
}

static bool catchable(int signum)
{
    return signum > 0 && signum < NSIG && signum != SIGKILL &&
           signum != SIGSTOP;
}

/* The hub's watched signals, registered as its signal_layer. */
typedef struct signal_hub {
    gz_hub *h;
    struct gz_signal_slot *slots;
} signal_hub;

static void drop(gz_hub *h, struct gz_signal_slot **p);

static void signal_hub_free(void *p)
{
    signal_hub *sh = p;
    while (sh->slots)
        drop(sh->h, &sh->slots);
    free(sh);
}

static const gz_layer signal_layer = {signal_hub_free, NULL};

static signal_hub *signal_hub_get(gz_hub *h)
{
    bool made;
    signal_hub *sh = gz__layer_state_make(h, &signal_layer, sizeof *sh, &made);
    if (made)
        sh->h = h;
    return sh;
}

static struct gz_signal_slot **find(signal_hub *sh, int signum)
{
    struct gz_signal_slot **p = &sh->slots;
    while (*p && (*p)->w.signum != signum)
        p = &(*p)->next;
    return p;
}

int gz_signal(int signum, void (*handler)(int signum, void *arg), void *arg)
{
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    if (!catchable(signum) || !handler) {
        errno = EINVAL;
        return -1;
    }
    signal_hub *sh = signal_hub_get(h);
    if (!sh)
        return -1;
    pthread_mutex_lock(&owners_lock);
    bool taken = owners[signum] && owners[signum] != h;
    if (!taken)
        owners[signum] = h;
    pthread_mutex_unlock(&owners_lock);
    if (taken) {
        errno = EBUSY;
        return -1;
    }
    struct gz_signal_slot **p = find(sh, signum);
    if (*p) { /* replace the handler, keep the watcher */
        (*p)->handler = handler;
        (*p)->arg = arg;
        return 0;
    }
    struct gz_signal_slot *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    s->hub = h;
    s->handler = handler;
    s->arg = arg;
    ev_signal_init(&s->w, signal_cb, signum);
    ev_signal_start(h->loop, &s->w);
    s->next = sh->slots;
    sh->slots = s;
    return 0;
}

static void drop(gz_hub *h, struct gz_signal_slot **p)
{
    struct gz_signal_slot *s = *p;
    int signum = s->w.signum;
    ev_signal_stop(h->loop, &s->w);
    *p = s->next;
    free(s);
    pthread_mutex_lock(&owners_lock);
    if (owners[signum] == h)
        owners[signum] = NULL;
    pthread_mutex_unlock(&owners_lock);
}

int gz_signal_cancel(int signum)
{
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    if (!catchable(signum)) {
        errno = EINVAL;
        return -1;
    }
    signal_hub *sh = gz__layer_state(h, &signal_layer);
    struct gz_signal_slot **p = sh ? find(sh, signum) : NULL;
    if (!p || !*p) {
        errno = ENOENT;
        return -1;
    }
    drop(h, p);
    return 0;
}
