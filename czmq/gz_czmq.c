/* libgzmq-czmq: czmq's blocking I/O, green.
 *
 * Frames go through libgzmq's green calls (gz_zmq_msg_recv, gz_zmq_send),
 * never through czmq's blocking ones: a greenlet that waits parks, and the
 * zmq layer's waking rules (the edge rule, passing the turn to the next
 * waiter of a socket) see every operation. czmq still builds and reads the
 * objects (zmsg_t, zframe_t), and for pictures (zsock_send / zsock_recv) it
 * encodes and decodes the message itself, across a private inproc PAIR of
 * the calling thread, so every picture czmq knows means what it means there.
 * The frames after the first of a message are already there when the first
 * is: they are taken with ZMQ_DONTWAIT, so no other greenlet's receive on
 * the socket can come between them. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gzmq/czmq.h"

/* The libzmq socket behind a zsock_t, a zactor_t or a libzmq socket. */
static void *handle(void *self)
{
    void *s = self ? zsock_resolve(self) : NULL;
    if (!s)
        errno = self ? ENOTSOCK : EINVAL;
    return s;
}

void gz_zsock_destroy(zsock_t **self_p)
{
    if (self_p && *self_p)
        gz_zmq_forget(zsock_resolve(*self_p));
    zsock_destroy(self_p);
}

/* Receive one frame into M (initialised): the first of a message waits,
 * the others are there already. */
static int recv_frame(void *sock, zmq_msg_t *m, bool first)
{
    return gz_zmq_msg_recv(m, sock, first ? 0 : ZMQ_DONTWAIT);
}

zframe_t *gz_zframe_recv(void *source)
{
    void *s = handle(source);
    if (!s)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (recv_frame(s, &m, true) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        errno = e;
        return NULL;
    }
    zframe_t *f = zframe_new(zmq_msg_data(&m), zmq_msg_size(&m));
    if (f)
        zframe_set_more(f, zmq_msg_more(&m));
    zmq_msg_close(&m);
    if (!f)
        errno = ENOMEM;
    return f;
}

zmsg_t *gz_zmsg_recv(void *source)
{
    void *s = handle(source);
    if (!s)
        return NULL;
    zmsg_t *msg = zmsg_new();
    if (!msg) {
        errno = ENOMEM;
        return NULL;
    }
    int more = 1, e = 0;
    for (bool first = true; more; first = false) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (recv_frame(s, &m, first) < 0) {
            e = errno;
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (zmsg_addmem(msg, zmq_msg_data(&m), zmq_msg_size(&m)) != 0 && !e)
            e = ENOMEM; /* read the rest: never leave half a message */
        zmq_msg_close(&m);
    }
    if (e) {
        zmsg_destroy(&msg);
        errno = e;
    }
    return msg;
}

char *gz_zstr_recv(void *source)
{
    zframe_t *f = gz_zframe_recv(source);
    if (!f)
        return NULL;
    char *str = zframe_strdup(f);
    zframe_destroy(&f);
    if (!str)
        errno = ENOMEM;
    return str;
}

int gz_zmsg_send(zmsg_t **self_p, void *dest)
{
    if (!self_p || !*self_p) {
        errno = EINVAL;
        return -1;
    }
    void *s = handle(dest);
    if (!s)
        return -1;
    zmsg_t *msg = *self_p;
    zframe_t *f = zmsg_first(msg);
    while (f) {
        zframe_t *next = zmsg_next(msg);
        /* libzmq admits a message whole once it admits its first frame */
        if (gz_zmq_send(s, zframe_data(f), zframe_size(f), next ? ZMQ_SNDMORE : 0) < 0)
            return -1;
        f = next;
    }
    zmsg_destroy(self_p);
    return 0;
}

int gz_zframe_send(zframe_t **self_p, void *dest, int flags)
{
    if (!self_p || !*self_p ||
        (flags & ~(ZFRAME_MORE | ZFRAME_REUSE | ZFRAME_DONTWAIT))) {
        errno = EINVAL;
        return -1;
    }
    void *s = handle(dest);
    if (!s)
        return -1;
    int zflags = (flags & ZFRAME_MORE ? ZMQ_SNDMORE : 0) |
                 (flags & ZFRAME_DONTWAIT ? ZMQ_DONTWAIT : 0);
    if (gz_zmq_send(s, zframe_data(*self_p), zframe_size(*self_p), zflags) < 0)
        return -1;
    if (!(flags & ZFRAME_REUSE))
        zframe_destroy(self_p);
    return 0;
}

int gz_zstr_send(void *dest, const char *string)
{
    void *s = handle(dest);
    if (!s)
        return -1;
    if (!string)
        string = "";
    return gz_zmq_send(s, string, strlen(string), 0) < 0 ? -1 : 0;
}

int gz_zstr_sendf(void *dest, const char *format, ...)
{
    if (!format) {
        errno = EINVAL;
        return -1;
    }
    va_list ap;
    va_start(ap, format);
    char *str = zsys_vprintf(format, ap);
    va_end(ap);
    if (!str) {
        errno = ENOMEM;
        return -1;
    }
    int rc = gz_zstr_send(dest, str);
    int e = errno;
    free(str);
    errno = e;
    return rc;
}

/* ---- pictures: czmq encodes and decodes across a private PAIR ---- */

typedef struct pictures {
    void *coder;  /* czmq writes an encoded picture here, and decodes here */
    void *wire;   /* the other end: the message as frames */
} pictures;

static pthread_once_t pictures_once = PTHREAD_ONCE_INIT;
static pthread_key_t pictures_key;
static void *pictures_ctx; /* never terminated: it holds only inproc pairs */

static void pictures_free(void *p)
{
    pictures *pic = p;
    zmq_close(pic->coder);
    zmq_close(pic->wire);
    free(pic);
}

static void pictures_init(void)
{
    pictures_ctx = zmq_ctx_new();
    if (pictures_ctx)
        zmq_ctx_set(pictures_ctx, ZMQ_IO_THREADS, 0); /* inproc needs none */
    if (pthread_key_create(&pictures_key, pictures_free) != 0) {
        if (pictures_ctx)
            zmq_ctx_term(pictures_ctx);
        pictures_ctx = NULL;
    }
}

/* The calling thread's pair, made on first use. */
static pictures *pictures_get(void)
{
    pthread_once(&pictures_once, pictures_init);
    if (!pictures_ctx) {
        errno = ENOMEM;
        return NULL;
    }
    pictures *pic = pthread_getspecific(pictures_key);
    if (pic)
        return pic;
    pic = calloc(1, sizeof *pic);
    if (!pic) {
        errno = ENOMEM;
        return NULL;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://gzmq-czmq-picture-%p", (void *)pic);
    pic->coder = zmq_socket(pictures_ctx, ZMQ_PAIR);
    pic->wire = zmq_socket(pictures_ctx, ZMQ_PAIR);
    if (!pic->coder || !pic->wire || zmq_bind(pic->coder, ep) != 0 ||
        zmq_connect(pic->wire, ep) != 0 || pthread_setspecific(pictures_key, pic) != 0) {
        int e = errno;
        if (pic->coder)
            zmq_close(pic->coder);
        if (pic->wire)
            zmq_close(pic->wire);
        free(pic);
        errno = e ? e : ENOMEM;
        return NULL;
    }
    return pic;
}

/* The calling thread's pair for a picture call on SELF, or NULL with errno
 * (EINVAL: no picture; ENOTSOCK; ENOMEM). */
static pictures *pictures_for(void *self, const char *picture)
{
    if (!picture) {
        errno = EINVAL;
        return NULL;
    }
    return handle(self) ? pictures_get() : NULL;
}

int gz_zsock_vsend(void *self, const char *picture, va_list argptr)
{
    pictures *pic = pictures_for(self, picture);
    if (!pic)
        return -1;
    /* czmq's encoder onto the pair; the pair is drained at once, so its
     * send never waits */
    if (zsock_vsend(pic->coder, picture, argptr) != 0)
        return -1;
    zmsg_t *msg = zmsg_recv(pic->wire);
    if (!msg) {
        errno = ENOMEM;
        return -1;
    }
    if (gz_zmsg_send(&msg, self) != 0) {
        int e = errno;
        zmsg_destroy(&msg);
        errno = e;
        return -1;
    }
    return 0;
}

int gz_zsock_vrecv(void *self, const char *picture, va_list argptr)
{
    pictures *pic = pictures_for(self, picture);
    if (!pic)
        return -1;
    zmsg_t *msg = gz_zmsg_recv(self);
    if (!msg)
        return -1;
    if (zmsg_size(msg) == 0) { /* czmq cannot pass on an empty message */
        zmsg_destroy(&msg);
        errno = EPROTO;
        return -1;
    }
    if (zmsg_send(&msg, pic->wire) != 0) {
        int e = errno;
        zmsg_destroy(&msg);
        errno = e;
        return -1;
    }
    if (zsock_vrecv(pic->coder, picture, argptr) != 0) {
        errno = EPROTO; /* the message does not match the picture */
        return -1;
    }
    return 0;
}

int gz_zsock_send(void *self, const char *picture, ...)
{
    va_list ap;
    va_start(ap, picture);
    int rc = gz_zsock_vsend(self, picture, ap);
    va_end(ap);
    return rc;
}

int gz_zsock_recv(void *self, const char *picture, ...)
{
    va_list ap;
    va_start(ap, picture);
    int rc = gz_zsock_vrecv(self, picture, ap);
    va_end(ap);
    return rc;
}

/* ---- the poller: one gz_select over its readers ---- */

struct gz_zpoller_t {
    void **readers;  /* as given */
    gz_case *cases;  /* GZ_ZMQ_IN on the socket, or GZ_FD_IN */
    size_t n, cap;
    bool expired;
    bool terminated;
};

/* Fill C for READER: 0, or -1 with errno. A reader that is no socket is a
 * pointer to a file descriptor, as czmq takes it. */
static int reader_case(void *reader, gz_case *c)
{
    if (!reader) {
        errno = EINVAL;
        return -1;
    }
    void *s = zsock_resolve(reader);
    if (s)
        *c = (gz_case){.op = GZ_ZMQ_IN, .obj = s};
    else if (*(int *)reader >= 0)
        *c = (gz_case){.op = GZ_FD_IN, .fd = *(int *)reader};
    else {
        errno = ENOTSOCK;
        return -1;
    }
    return 0;
}

int gz_zpoller_add(gz_zpoller_t *self, void *reader)
{
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    gz_case c;
    if (reader_case(reader, &c) != 0)
        return -1;
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 4;
        void **r = realloc(self->readers, cap * sizeof *r);
        if (!r) {
            errno = ENOMEM;
            return -1;
        }
        self->readers = r;
        gz_case *cs = realloc(self->cases, cap * sizeof *cs);
        if (!cs) {
            errno = ENOMEM;
            return -1;
        }
        self->cases = cs;
        self->cap = cap;
    }
    self->readers[self->n] = reader;
    self->cases[self->n] = c;
    self->n++;
    return 0;
}

int gz_zpoller_remove(gz_zpoller_t *self, void *reader)
{
    for (size_t i = 0; self && i < self->n; i++) {
        if (self->readers[i] == reader) {
            memmove(&self->readers[i], &self->readers[i + 1], (self->n - i - 1) * sizeof *self->readers);
            memmove(&self->cases[i], &self->cases[i + 1], (self->n - i - 1) * sizeof *self->cases);
            self->n--;
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

gz_zpoller_t *gz_zpoller_new(void *reader, ...)
{
    gz_zpoller_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    va_list ap;
    va_start(ap, reader);
    for (void *r = reader; r; r = va_arg(ap, void *)) {
        if (gz_zpoller_add(self, r) != 0) {
            int e = errno;
            va_end(ap);
            gz_zpoller_destroy(&self);
            errno = e;
            return NULL;
        }
    }
    va_end(ap);
    return self;
}

void gz_zpoller_destroy(gz_zpoller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->readers);
    free((*self_p)->cases);
    free(*self_p);
    *self_p = NULL;
}

void gz_zpoller_set_nonstop(gz_zpoller_t *self, bool nonstop)
{
    (void)self;
    (void)nonstop;
}

void *gz_zpoller_wait(gz_zpoller_t *self, int timeout)
{
    if (!self) {
        errno = EINVAL;
        return NULL;
    }
    self->expired = self->terminated = false;
    int i = gz_select(self->cases, self->n, timeout < 0 ? GZ_FOREVER : timeout / 1000.0);
    if (i < 0) {
        if (errno == ETIMEDOUT && timeout >= 0) /* or a gz_timeout as it ran out */
            self->expired = true;
        else
            self->terminated = true;
        return NULL;
    }
    if (self->cases[i].err) { /* a closed socket, a terminated context */
        self->terminated = true;
        errno = self->cases[i].err;
        return NULL;
    }
    return self->readers[i];
}

bool gz_zpoller_expired(gz_zpoller_t *self)
{
    return self && self->expired;
}

bool gz_zpoller_terminated(gz_zpoller_t *self)
{
    return self && self->terminated;
}
