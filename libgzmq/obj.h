/* The header every object starts with, and the misuse checks it serves.
 *
 * Objects (greenlet, timeout, event, result, queue, sem, pool, imap, actor,
 * server) belong to the hub (the thread) that created them: each records it
 * in its gz_obj and refuses calls from another thread's hub with EXDEV
 * (gz__check_hub).
 *
 * Debug builds (make DEBUG=1, GZ_DEBUG) also give every object a magic
 * number, set at creation and overwritten when it is freed or released, and
 * every public function taking the object checks it first
 * (GZ_CHECK_LIVE): a freed or released object used again aborts with a
 * message naming the function and the object. In other builds the member
 * and the checks do not exist. */
#ifndef GZ_OBJ_H
#define GZ_OBJ_H

#include "base.h"

typedef struct gz_hub gz_hub;

/* What an object is, for a call that takes several kinds through one
 * void * (gz_select's GZ_GET takes a gz_queue or a gz_tqueue). */
enum {
    GZ_KIND_greenlet = 1, GZ_KIND_timeout, GZ_KIND_event, GZ_KIND_result,
    GZ_KIND_queue, GZ_KIND_sem, GZ_KIND_pool, GZ_KIND_imap, GZ_KIND_actor,
    GZ_KIND_server, GZ_KIND_tqueue, GZ_KIND_zauth, GZ_KIND_scope,
    GZ_KIND_mdp_client, GZ_KIND_mdp_worker, GZ_KIND_mdp_broker,
};

typedef struct gz_obj {
    gz_hub *hub; /* the hub that created it */
    unsigned char kind; /* GZ_KIND_<kind> */
#ifdef GZ_DEBUG
    uint32_t magic; /* GZ_MAGIC_<kind> while live, GZ_MAGIC_FREED after */
#endif
} gz_obj;

#ifdef GZ_DEBUG
enum {
    GZ_MAGIC_greenlet = 0x676c6e74, /* "glnt" */
    GZ_MAGIC_timeout = 0x746d6f74,
    GZ_MAGIC_event = 0x65766e74,
    GZ_MAGIC_result = 0x72736c74,
    GZ_MAGIC_queue = 0x71756575,
    GZ_MAGIC_sem = 0x73656d61,
    GZ_MAGIC_pool = 0x706f6f6c,
    GZ_MAGIC_imap = 0x696d6170,
    GZ_MAGIC_actor = 0x6163746f,
    GZ_MAGIC_server = 0x73727672,
    GZ_MAGIC_zauth = 0x7a617468,
    GZ_MAGIC_scope = 0x73636f70,
    GZ_MAGIC_tqueue = 0x74717565,
    GZ_MAGIC_mdp_client = 0x6d647063, /* "mdpc" */
    GZ_MAGIC_mdp_worker = 0x6d647077,
    GZ_MAGIC_mdp_broker = 0x6d647062,
    GZ_MAGIC_FREED = 0x66726565, /* what a freed or released object holds */
};
/* Print "libgzmq: FN: OBJ is not a live TYPE (freed or released?)", abort. */
_Noreturn void gz__not_live(const char *fn, const void *obj, const char *type);
/* Mark P, an object of KIND, created by hub H. */
#define GZ_OBJ_INIT(p, h, k) \
    ((p)->obj.hub = (h), (p)->obj.kind = GZ_KIND_##k, (p)->obj.magic = GZ_MAGIC_##k)
/* Volatile: the compiler would drop a plain store just before free(). */
#define GZ_MAGIC_KILL(p) (*(volatile uint32_t *)&(p)->obj.magic = GZ_MAGIC_FREED)
/* P (a gz_KIND pointer) is NULL or a live gz_KIND; else abort. */
#define GZ_CHECK_LIVE(p, kind) GZ_CHECK_LIVE_IN(p, kind, __func__)
/* The same for a helper of the public function FN, which the message names. */
#define GZ_CHECK_LIVE_IN(p, kind, fn)                         \
    do {                                                      \
        if ((p) && (p)->obj.magic != GZ_MAGIC_##kind)         \
            gz__not_live(fn, (const void *)(p), "gz_" #kind); \
    } while (0)
#else
#define GZ_OBJ_INIT(p, h, k) ((void)((p)->obj.hub = (h), (p)->obj.kind = GZ_KIND_##k))
#define GZ_MAGIC_KILL(p) ((void)0)
#define GZ_CHECK_LIVE(p, kind) ((void)0)
#define GZ_CHECK_LIVE_IN(p, kind, fn) ((void)0)
#endif

/* An object recorded OWNER, the hub that created it; the caller's hub is H
 * (gz__hub_peek() where the caller need not have one). -1 EXDEV when they
 * differ: the object belongs to another thread's hub. */
static inline int gz__check_hub(const gz_hub *owner, const gz_hub *h)
{
    if (GZ_LIKELY(owner == h))
        return 0;
    errno = EXDEV;
    return -1;
}

#endif
