/* Run info and hub statistics: every greenlet of the calling hub, what it
 * waits on in words (from gz_greenlet.wait_kind / wait_obj, which
 * gz__park_until records), its stack and, when parked, its backtrace walked
 * from the saved context along the frame pointers (the library is built
 * with them). The top layer: it asks zmq.c to describe a socket. */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_internal.h"
#include "gzmq/monitor.h"
#include "zmq_info.h"

#define BT_FRAMES 32
/* Where a parked greenlet's saved frame pointer can be found (ctx_<arch>.S). */
#if !defined(GZ_CTX_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))
#define WALKS_FRAMES 1
#endif

static const char *state_name(enum gz_state s)
{
    static const char *const names[] = {"new", "started later", "ready",
                                        "running", "parked", "dead"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

/* What a kind of wait is on, by the call's prefix. */
static const struct {
    const char *prefix, *noun;
} nouns[] = {
    {"gz_queue_", "queue"},   {"gz_sem_", "semaphore"}, {"gz_event_", "event"},
    {"gz_result_", "result"}, {"gz_pool_", "pool"},     {"gz_imap_", "imap"},
    {"gz_server_", "server"}, {"gz_select", "cases"},   {"gz_poll", "pollfds"},
};

static void describe_wait(FILE *f, gz_hub *h, const gz_greenlet *g)
{
    const char *k = g->wait_kind ? g->wait_kind : "an unknown call";
    const void *o = g->wait_obj;
    fprintf(f, "%s", k);
    if (!strcmp(k, "gz_zmq_send") || !strcmp(k, "gz_zmq_recv")) {
        char sock[400];
        gz__zmq_describe((void *)o, sock, sizeof sock);
        fprintf(f, " on %s", sock);
    } else if (!strcmp(k, "gz_join")) {
        const gz_greenlet *t = o;
        if (t->name)
            fprintf(f, " on %s (id %llu)", t->name, (unsigned long long)t->id);
        else
            fprintf(f, " on Greenlet-%llu", (unsigned long long)t->id);
    } else if (!strcmp(k, "gz_wait_read") || !strcmp(k, "gz_wait_write")) {
        fprintf(f, " on fd %d", (int)(intptr_t)o);
    } else if (o) {
        const char *noun = "object";
        for (size_t i = 0; i < sizeof nouns / sizeof *nouns; i++)
            if (!strncmp(k, nouns[i].prefix, strlen(nouns[i].prefix)))
                noun = nouns[i].noun;
        fprintf(f, " on %s %p", noun, o);
    }
    if (gz__timer_active(&g->timer)) {
        double left = g->timer.at - ev_now(h->loop);
        fprintf(f, ", %.3f s left", left > 0 ? left : 0.0);
    }
}

#ifdef WALKS_FRAMES
/* The stack a parked G's saved context lives on: [*lo, *hi). */
static bool stack_bounds(const gz_greenlet *g, uintptr_t *lo, uintptr_t *hi)
{
    if (!(g->flags & GZ_G_MAIN)) {
        *lo = (uintptr_t)g->stack.lo;
        *hi = *lo + g->stack.size;
        return g->stack.lo != NULL;
    }
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return false;
    int rc = pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    *lo = (uintptr_t)addr;
    *hi = *lo + size;
    return rc == 0;
}

/* The return addresses of parked G, along the frame records from the
 * frame pointer its context switch saved (gz__park_until's record, see
 * ctx_<arch>.S for the layout) while they stay on its stack and go up.
 * Code built without frame pointers ends the walk early; it never reads
 * outside the stack. */
__attribute__((no_sanitize_address)) static int
walk_frames(const gz_greenlet *g, void **pcs, int max)
{
    uintptr_t lo, hi;
    if (!stack_bounds(g, &lo, &hi))
        return 0;
    const uintptr_t *sp = g->ctx.sp;
    if ((uintptr_t)sp < lo || (uintptr_t)sp + 12 * sizeof *sp > hi)
        return 0;
#if defined(__x86_64__)
    uintptr_t fp = sp[6]; /* rbp, pushed first after the return address */
#else
    uintptr_t fp = sp[10]; /* x29, stored at [sp, #80] */
#endif
    int n = 0;
    while (n < max && fp >= lo && fp + 2 * sizeof(uintptr_t) <= hi &&
           !(fp & (sizeof(uintptr_t) - 1))) {
        const uintptr_t *rec = (const uintptr_t *)fp;
        if (!rec[1])
            break;
        pcs[n++] = (void *)rec[1];
        if (rec[0] <= fp)
            break;
        fp = rec[0];
    }
    return n;
}
#else
static int walk_frames(const gz_greenlet *g, void **pcs, int max)
{
    (void)g, (void)pcs, (void)max;
    return 0; /* a ucontext keeps its registers elsewhere */
}
#endif

/* G's block of run info, malloc'd; NULL with ENOMEM. */
static char *greenlet_info(gz_hub *h, gz_greenlet *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    bool is_main = (g->flags & GZ_G_MAIN) != 0;
    const char *name = gz_name(g);
    if (is_main)
        fprintf(f, "main%s: %s", g == h->current ? " [current]" : "",
                state_name(g->state));
    else
        fprintf(f, "%s (id %llu)%s: %s", name, (unsigned long long)g->id,
                g == h->current ? " [current]" : "", state_name(g->state));
    if (g->state == GZ_PARKED)
        fprintf(f, " for %.3f s", ev_now(h->loop) - g->since);
    if (is_main)
        fprintf(f, ", the thread's own stack\n");
    else if (g->parent_id == GZ_PARENT_MAIN)
        fprintf(f, ", parent main\n");

    else
        fprintf(f, ", parent id %llu\n", (unsigned long long)g->parent_id);
    if (g->state == GZ_PARKED) {
        fprintf(f, "  waits: ");
        describe_wait(f, h, g);
        fputc('\n', f);
    }
    if (!is_main && g->stack.map)
        fprintf(f, "  stack: %zu bytes, high-water %zu bytes\n", g->stack.size,
                gz__stack_high_water(&g->stack));
    if (g->state == GZ_PARKED) {
        void *pcs[BT_FRAMES];
        int n = walk_frames(g, pcs, BT_FRAMES);
        char **syms = n ? backtrace_symbols(pcs, n) : NULL;
        for (int i = 0; i < n; i++)
            fprintf(f, "  #%d %s\n", i, syms ? syms[i] : "?");
        free(syms);
    }
    if (fclose(f) != 0 || !text) {
        free(text);
        errno = ENOMEM;
        return NULL;
    }
    return text;
}

int gz_foreach_greenlet(int (*cb)(gz_greenlet *g, const char *info, void *arg),
                        void *arg)
{
    if (!cb) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    /* No blocking in CB: then no greenlet ends and the list holds still. */
    gz__callbacks_enter(h);
    int rc = 0;
    gz_list *n = NULL;
    for (gz_greenlet *g = &h->main; g;) {
        char *info = greenlet_info(h, g);
        if (!info) {
            rc = -1;
            break;
        }
        rc = cb(g, info, arg);
        free(info);
        if (rc)
            break;
        n = n ? n->next : h->greenlets.all.next;
        g = n != &h->greenlets.all ? GZ_CONTAINER(n, gz_greenlet, all) : NULL;
    }
    int e = errno;
    gz__callbacks_leave(h);
    errno = e;
    return rc;
}

static int print_one(gz_greenlet *g, const char *info, void *arg)
{
    (void)g;
    return fputs(info, arg) < 0 ? EIO : 0;
}

int gz_print_run_info(FILE *f)
{
    if (!f) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    fprintf(f, "libgzmq run info: thread %d, %zu greenlets live\n", (int)gettid(),
            h->greenlets.nlive);
    int rc = gz_foreach_greenlet(print_one, f);
    if (rc == EIO || fflush(f) != 0) {
        errno = EIO;
        return -1;
    }
    return rc;
}

static void dump_on_signal(int signo, void *arg)
{
    (void)signo;
    (void)arg;
    gz_print_run_info(stderr);
}

int gz_run_info_on_signal(int signo)
{
    return gz_signal(signo, dump_on_signal, NULL);
}

void gz__run_info_env(const char *name)
{
    const char *n = strncmp(name, "SIG", 3) ? name : name + 3;
    int signo = 0;
    static const struct {
        const char *name;
        int signo;
    } known[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                 {"QUIT", SIGQUIT}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(n, known[i].name))
            signo = known[i].signo;
    if (!signo) {
        char *end;
        long v = strtol(name, &end, 10);
        signo = *end || v <= 0 || v >= NSIG ? 0 : (int)v;
    }
    if (!signo || gz_run_info_on_signal(signo) != 0)
        gz__warn("ignoring GZ_RUN_INFO_SIGNAL=%s (want USR1, USR2, HUP, QUIT, "
                 "WINCH, PWR or a signal number)\n", name);
}

/* ---- statistics ---- */

static size_t *parked_slot(gz_stats *s, const char *k)
{
    if (!k)
        return &s->parked_other;
    if (!strncmp(k, "gz_queue_", 9))
        return &s->parked_queue;
    if (!strncmp(k, "gz_zmq_", 7))
        return &s->parked_zmq;
    if (!strcmp(k, "gz_wait_read") || !strcmp(k, "gz_wait_write") ||
        !strcmp(k, "gz_poll"))
        return &s->parked_fd;
    if (!strcmp(k, "gz_sleep"))
        return &s->parked_sleep;
    if (!strcmp(k, "gz_join") || !strcmp(k, "gz_pool_join"))
        return &s->parked_join;
    if (!strncmp(k, "gz_sem_", 7) || !strncmp(k, "gz_event_", 9) ||
        !strncmp(k, "gz_result_", 10))
        return &s->parked_sync;
    return &s->parked_other;
}

int gz_hub_stats(gz_stats *out)
{
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return -1;
    gz_stats s = {0};
    for (gz_list *n = h->greenlets.all.next; n != &h->greenlets.all; n = n->next) {
        const gz_greenlet *g = GZ_CONTAINER(n, gz_greenlet, all);
        s.live++;
        if (g->state == GZ_READY)
            s.ready++;
        if (g->state == GZ_PARKED) {
            s.parked++;
            (*parked_slot(&s, g->wait_kind))++;
        }
        s.stack_bytes_live += g->stack.size;
    }
    s.spawned = h->greenlets.next_id - h->greenlets.unstarted;
    s.ended = s.spawned - h->greenlets.nlive;
    s.switches = h->switches;
    s.loop_polls = atomic_load_explicit(&h->watch.polls, memory_order_relaxed);
    s.max_poll_gap = gz__watch_take_max_gap(h);
    gz_zmq_counts z;
    gz__zmq_counts(h, &z);
    s.zmq_sends = z.sends;
    s.zmq_sends_waited = z.sends_waited;
    s.zmq_recvs = z.recvs;
    s.zmq_recvs_waited = z.recvs_waited;
    s.stack_bytes_cached = gz__stacks_cached_bytes(&h->stacks) +
                           gz__greenlets_spare_stack_bytes(h);
    *out = s;
    return 0;
}
