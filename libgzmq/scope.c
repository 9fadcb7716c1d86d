/* Scopes: a set of member greenlets that the owner waits for in
 * gz_scope_close. Members are watched through a link; the owner's kill
 * reaches them through the list of scopes its greenlet owns (g->scopes). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gz_internal.h"
#include "gz_handoff.h"
#include "gzmq/lifetime.h"

struct gz_scope {
    gz_obj obj;
    gz_greenlet *owner;     /* NULL once orphaned (the owner ended) */
    gz_scope *next;         /* the owner's other open scopes */
    gz_greenlet **members;  /* held references, in spawn order */
    size_t n, cap;
    size_t nlive;           /* members not ended */
    gz_greenlet *closer;    /* the owner while parked in gz_scope_close */
    bool cancelled;         /* its members were killed */
    bool closed;            /* freed by the last member's end */
    int busy;               /* inside cancel: members' ends must not free it */
    gz_error err;           /* the first failure; code 0: none */
};

/* Per hub: the failure behind the last gz_scope_close that reported one. */
typedef struct scope_hub {
    gz_error last;
} scope_hub;

static void scope_hub_destroy(void *state)
{
    scope_hub *sh = state;
    free((char *)sh->last.message);
    free(sh);
}

static const gz_layer scope_layer = {.destroy = scope_hub_destroy};

static void cancel(gz_scope *s)
{
    if (s->cancelled)
        return;
    s->cancelled = true;
    s->busy++; /* a member that never ran ends inside gz_kill */
    for (size_t i = 0; i < s->n; i++)
        gz_kill(s->members[i], 0);
    s->busy--;
}

static void scope_free(gz_scope *s)
{
    for (size_t i = 0; i < s->n; i++)
        gz_release(s->members[i]);
    free(s->members);
    free((char *)s->err.message);
    GZ_MAGIC_KILL(s);
    free(s);
}

static void unlink_from_owner(gz_scope *s)
{
    if (!s->owner)
        return;
    for (gz_scope **p = &s->owner->scopes; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    s->owner = NULL;
}

/* Link callback: member G of S has ended. */
static void member_ended(gz_greenlet *g, void *arg)
{
    gz_scope *s = arg;
    s->nlive--;
    if ((g->flags & GZ_G_FAILED)) {
        /* Failures from being cancelled are the cancellation's echo; a
         * later real failure stays unobserved and is reported on release. */
        bool echo = s->cancelled && g->err.code == ECANCELED;
        if (!s->err.code) {
            s->err.code = g->err.code;
            s->err.message = strdup(g->err.message);
            g->flags |= GZ_G_OBSERVED;
            cancel(s);
        } else if (echo) {
            g->flags |= GZ_G_OBSERVED;
        }
    }
    if (s->nlive == 0 && !s->busy) {
        if (s->closed)
            scope_free(s);
        else if (s->closer)
            gz__wake(s->closer, 0);
    }
}

gz_scope *gz_scope_open(void)
{
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_scope *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(s, h, scope);
    s->owner = h->current;
    s->next = s->owner->scopes;
    s->owner->scopes = s;
    return s;
}

gz_greenlet *gz_scope_spawn(gz_scope *s, gz_fn fn, void *arg)
{
    GZ_CHECK_LIVE(s, scope);
    if (!gz__usable(s))
        return NULL;
    if (!fn || s->closed) {
        errno = EINVAL;
        return NULL;
    }
    if (s->cancelled) {
        errno = ECANCELED;
        return NULL;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        gz_greenlet **m = realloc(s->members, cap * sizeof *m);
        if (!m) {
            errno = ENOMEM;
            return NULL;
        }
        s->members = m;
        s->cap = cap;
    }
    gz_greenlet *g = gz_greenlet_new(fn, arg);
    if (!g)
        return NULL;
    if (gz__link(g, member_ended, s, false) != 0 || gz_start(g) != 0) {
        int e = errno;
        gz_release(g); /* never started: its link goes with it */
        errno = e;
        return NULL;
    }
    s->members[s->n++] = g;
    s->nlive++;
    return g;
}

/* Keep S's first failure for gz_scope_error. */
static void remember_failure(gz_hub *h, const gz_scope *s)
{
    scope_hub *sh = gz__layer_state_make(h, &scope_layer, sizeof *sh, NULL);
    if (!sh)
        return;
    free((char *)sh->last.message);
    sh->last.code = s->err.code;
    sh->last.message = s->err.message ? strdup(s->err.message) : NULL;
}

static void forget_failure(gz_hub *h)
{
    scope_hub *sh = gz__layer_state(h, &scope_layer);
    if (sh && sh->last.code) {
        free((char *)sh->last.message);
        sh->last.message = NULL;
        sh->last.code = 0;
    }
}

const gz_error *gz_scope_error(void)
{
    gz_hub *h = gz__hub_peek();
    scope_hub *sh = h ? gz__layer_state(h, &scope_layer) : NULL;
    return sh && sh->last.code && sh->last.message ? &sh->last : NULL;
}

int gz_scope_close(gz_scope *s, double grace)
{
    GZ_CHECK_LIVE(s, scope);
    if (!gz__usable(s) || gz__check_timeout(grace))
        return -1;
    gz_hub *h = s->obj.hub;
    gz_greenlet *me = h->current;
    if (me != s->owner || h->greenlets.in_callback) {
        errno = EPERM;
        return -1;
    }
    forget_failure(h);
    double deadline = gz__deadline(h, grace);
    int why = 0; /* why the members were cut short */
    while (s->nlive > 0) {
        if (!s->cancelled && ((me->flags & GZ_G_KILLED) || me->fired)) {
            why = (me->flags & GZ_G_KILLED) ? ECANCELED : ETIMEDOUT;
            cancel(s);
        }
        s->closer = me;
        int rc = gz__park_until(h, s->cancelled ? GZ_NEVER : deadline, "gz_scope_close", s);
        s->closer = NULL;
        if (rc == 0 || s->nlive == 0)
            continue;
        if (errno == EDEADLK && s->cancelled)
            break; /* killed members that can never end */
        if (!why)
            why = errno == ETIMEDOUT && !me->fired ? ETIMEDOUT : errno;
        cancel(s);
    }
    unlink_from_owner(s);
    if (!why && (me->flags & GZ_G_KILLED))
        why = ECANCELED; /* killed before the close: its members were too */
    int code = s->err.code ? s->err.code : why;
    if (s->err.code)
        remember_failure(h, s);
    if (s->nlive > 0) {
        s->closed = true; /* the last member's end frees it */
        code = EDEADLK;
    } else {
        scope_free(s);
    }
    if (code) {
        errno = code;
        return -1;
    }
    return 0;
}

void gz__scopes_owner_killed(gz_greenlet *g)
{
    for (gz_scope *s = g->scopes; s; s = s->next)
        cancel(s);
}

void gz__scopes_owner_ended(gz_greenlet *g)
{
    gz_scope *s;
    while ((s = g->scopes)) {
        g->scopes = s->next;
        s->owner = NULL;
        gz__warn("greenlet %s ended without closing its scope: its members "
                 "were killed\n", gz_name(g));
        cancel(s);
        if (s->nlive == 0 && !s->busy)
            scope_free(s);
        else
            s->closed = true;
    }
}
