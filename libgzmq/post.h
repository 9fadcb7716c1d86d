/* post.c: entering a hub from any thread. A hub's gz_hubref outlives the
 * hub; work sent to it (a gz_remote) runs on the hub's thread from its loop,
 * one ev_async per batch. Never installed. */
#ifndef GZ_POST_H
#define GZ_POST_H

#include "gz_internal.h"

typedef struct gz_hubref gz_hubref;

/* A piece of work for a hub, sent from any thread, owned by its sender. */
typedef struct gz_remote {
    gz_list node; /* in the hubref's inbox while pending (under its lock) */
    /* On the hub's thread, from a libev callback: must not block. */
    void (*run)(struct gz_remote *r);
    /* The hub ended with R still pending (R never runs): NULL, or frees R. */
    void (*drop)(struct gz_remote *r);
} gz_remote;

/* H's hubref, made on first use (NULL with ENOMEM). It stays allocated
 * after the hub is gone, so that any thread can still ask it. gz_hub_self
 * hands it out as the public gz_hub pointer (post.c). */
gz_hubref *gz__hubref(gz_hub *h);
/* Queue R for HR's hub and wake the hub unless a wakeup is outstanding.
 * Any thread. R may be sent again only once it has run: the sender keeps
 * that state under its own lock (gz_tqueue's TQ_RINGING). -1 ESHUTDOWN once
 * the hub is gone. */
int gz__remote_send(gz_hubref *hr, gz_remote *r);
/* Take R back if still pending, on the hub's thread (outside a run). */
void gz__remote_cancel(gz_hubref *hr, gz_remote *r);

#endif
