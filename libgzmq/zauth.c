/* gz_zauth: a ZAP handler (rfc 27/ZAP) on a REP socket bound to
 * inproc://zeromq.zap.01, served by a greenlet of the thread that started
 * it through the green ZeroMQ calls, so a handshake's question never
 * blocks the hub and a callback may itself wait greenly.
 *
 * A request is: version "1.0", request id, domain, address, routing id,
 * mechanism, then the credentials (PLAIN: user and password; CURVE: the
 * client's 32-byte public key). The reply: version, the request id, a
 * status code, its text, a user id and (empty) metadata. A request that is
 * not one still gets a reply, 500, because a REP socket cannot take the
 * next request before it answered. */
#include <dirent.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gz_internal.h"
#include "cert.h"
#include "gzmq/auth.h"
#include "gzmq/zmq.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MAX_FRAMES 8 /* NULL 6, CURVE 7, PLAIN 8; more is malformed */
#define FIELD 256    /* ZMTP bounds these fields to 255 bytes */
#define KEY_TXT 40

typedef struct strlist {
    char **items;
    size_t n;
} strlist;

typedef struct user {
    char *name, *password;
} user;

enum {
    CURVE_ANY = 1,  /* any client key passes */
    VERBOSE = 2,    /* a line on stderr per request */
    STOPPED = 4,    /* gz_zauth_stop was called: the end frees it */
    ENDED = 8,      /* the greenlet has ended */
};

struct gz_zauth {
    gz_obj obj;
    void *rep;
    gz_greenlet *g;
    unsigned flags;
    strlist allow, deny;
    user *users;
    size_t nusers;
    char *curve_dir;
    struct timespec curve_mtime; /* of curve_dir when last read */
    unsigned keys_gen;           /* counts the times keys were replaced */
    strlist keys;                /* allowed client keys, Z85 */
    gz_zauth_fn fn;
    void *fn_arg;
};

/* ---- rules ---- */

static bool strlist_has(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* Append S; duplicates are harmless, and not looking for them keeps
 * reading a directory of many keys linear. */
static int strlist_push(strlist *l, const char *s)
{
    char *copy = strdup(s);
    char **items = copy ? realloc(l->items, (l->n + 1) * sizeof *items) : NULL;
    if (!items) {
        free(copy);
        errno = ENOMEM;
        return -1;
    }
    l->items = items;
    l->items[l->n++] = copy;
    return 0;
}

static int strlist_add(strlist *l, const char *s)
{
    return strlist_has(l, s) ? 0 : strlist_push(l, s);
}

static void strlist_clear(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    *l = (strlist){NULL, 0};
}

/* Common entry of the configuration calls. */
static int check(const gz_zauth *a)
{
    GZ_CHECK_LIVE_IN(a, zauth, "gz_zauth");
    if (!a) {
        errno = EINVAL;
        return -1;
    }
    return gz__check_hub(a->obj.hub, gz__hub_peek());
}

static int add_address(gz_zauth *a, strlist *l, const char *address)
{
    if (check(a))
        return -1;
    if (!address || !*address) {
        errno = EINVAL;
        return -1;
    }
    return strlist_add(l, address);
}

int gz_zauth_allow(gz_zauth *a, const char *address)
{
    return add_address(a, a ? &a->allow : NULL, address);
}

int gz_zauth_deny(gz_zauth *a, const char *address)
{
    return add_address(a, a ? &a->deny : NULL, address);
}

int gz_zauth_plain_user(gz_zauth *a, const char *username, const char *password)
{
    if (check(a))
        return -1;
    if (!username || !*username || !password || strlen(username) >= FIELD ||
        strlen(password) >= FIELD) {
        errno = EINVAL;
        return -1;
    }
    char *pw = strdup(password);
    if (!pw) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, username) == 0) {
            explicit_bzero(a->users[i].password, strlen(a->users[i].password));
            free(a->users[i].password);
            a->users[i].password = pw;
            return 0;
        }
    char *name = strdup(username);
    user *u = name ? realloc(a->users, (a->nusers + 1) * sizeof *u) : NULL;
    if (!u) {
        free(name);
        free(pw);
        errno = ENOMEM;
        return -1;
    }
    a->users = u;
    u[a->nusers++] = (user){name, pw};
    return 0;
}

int gz_zauth_plain_passwords(gz_zauth *a, const char *file)
{
    if (check(a))
        return -1;
    if (!file) {
        errno = EINVAL;
        return -1;
    }
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    /* Checked whole before any user is taken: a typo takes nothing. */
    char line[2 * FIELD + 4];
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        rewind(f);
        int got;
        while (rc == 0 && (got = gz__getline(f, line, sizeof line)) != 0) {
            char *s = line + strspn(line, " \t");
            if (got > 0 && (!*s || *s == '#'))
                continue;
            char *eq = strchr(s, '=');
            if (got < 0 || !eq || eq == s || eq - s >= FIELD || strlen(eq + 1) >= FIELD) {
                errno = EBADMSG;
                rc = -1;
            } else if (pass == 1) {
                *eq = 0;
                rc = gz_zauth_plain_user(a, s, eq + 1);
            }
        }
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    return rc;
}

static bool same_time(struct timespec x, struct timespec y)
{
    return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}

/* Read the keys of the certificates in DIR into *KEYS (appended), and DIR's
 * modification time into *MTIME. Touches nothing of a handler, so a worker
 * thread may run it. -1: opendir's errors, ENOMEM. */
static int read_keys(const char *dir, strlist *keys, struct timespec *mtime)
{
    struct stat st;
    DIR *d = opendir(dir);
    if (!d || fstat(dirfd(d), &st) != 0) {
        int e = errno;
        if (d)
            closedir(d);
        errno = e;
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len >= 7 && strcmp(e->d_name + len - 7, "_secret") == 0))
            continue;
        char path[PATH_MAX];
        struct stat fst;
        /* Regular files only: opening a FIFO would block the thread. */
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
            continue;
        gz_cert *c = gz__cert_load_public(path); /* not a certificate: skipped */
        if (c)
            rc = strlist_push(keys, gz_cert_public_txt(c));
        else if (errno == ENOMEM)
            rc = -1;
        gz_cert_destroy(c);
    }
    closedir(d);
    if (rc != 0) {
        errno = ENOMEM;
        return -1;
    }
    *mtime = st.st_mtim;
    return 0;
}

static void set_keys(gz_zauth *a, strlist *keys, struct timespec mtime)
{
    strlist_clear(&a->keys);
    a->keys = *keys;
    *keys = (strlist){NULL, 0};
    a->curve_mtime = mtime;
    a->keys_gen++;
}

/* Read a->curve_dir now, on this thread; on failure the old keys stay. */
static int load_keys(gz_zauth *a)
{
    strlist keys = {NULL, 0};
    struct timespec mtime;
    if (read_keys(a->curve_dir, &keys, &mtime) != 0) {
        int e = errno;
        strlist_clear(&keys);
        errno = e;
        return -1;
    }
    set_keys(a, &keys, mtime);
    return (int)a->keys.n;
}

/* A re-read on a worker thread, shared by the handler and the worker until
 * both have let go: the handler may be killed while the worker reads. */
typedef struct key_load {
    atomic_int refs;
    char *dir;
    strlist keys;
    struct timespec mtime;
    int err; /* read_keys's errno, or 0 */
} key_load;

static void key_load_unref(void *arg)
{
    key_load *l = arg;
    if (atomic_fetch_sub(&l->refs, 1) == 1) {
        free(l->dir);
        strlist_clear(&l->keys);
        free(l);
    }
}

static void *key_load_run(void *arg)
{
    key_load *l = arg;
    l->err = read_keys(l->dir, &l->keys, &l->mtime) == 0 ? 0 : errno;
    key_load_unref(l);
    return NULL;
}

/* Re-read a->curve_dir on a worker thread while the hub runs on; the keys
 * are taken unless the directory or keys were set meanwhile. */
static void reload_off_hub(gz_zauth *a)
{
    key_load *l = calloc(1, sizeof *l);
    if (!l || !(l->dir = strdup(a->curve_dir))) {
        free(l);
        gz__warn("gz_zauth: cannot re-read %s: %s\n", a->curve_dir, strerror(ENOMEM));
        return;
    }
    atomic_init(&l->refs, 2);
    unsigned gen = a->keys_gen;
    if (gz__run_in_thread(key_load_run, l, NULL, GZ_FOREVER, key_load_unref) == 0) {
        if (l->err)
            gz__warn("gz_zauth: cannot re-read %s: %s\n", l->dir, strerror(l->err));
        else if (gen == a->keys_gen)
            set_keys(a, &l->keys, l->mtime);
    }
    key_load_unref(l);
}

int gz_zauth_curve_dir(gz_zauth *a, const char *dir)
{
    if (check(a))
        return -1;
    if (!dir || !*dir) {
        errno = EINVAL;
        return -1;
    }
    char *copy = strdup(dir);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    char *old = a->curve_dir;
    a->curve_dir = copy;
    if (load_keys(a) < 0) {
        int e = errno;
        a->curve_dir = old;
        free(copy);
        errno = e;
        return -1;
    }
    free(old);
    a->flags &= ~(unsigned)CURVE_ANY;
    return 0;
}

int gz_zauth_curve_reload(gz_zauth *a)
{
    if (check(a))
        return -1;
    if (!a->curve_dir) {
        errno = EINVAL;
        return -1;
    }
    return load_keys(a);
}

int gz_zauth_curve_any(gz_zauth *a)
{
    if (check(a))
        return -1;
    free(a->curve_dir);
    a->curve_dir = NULL;
    strlist_clear(&a->keys);
    a->keys_gen++;
    a->flags |= CURVE_ANY;
    return 0;
}

int gz_zauth_callback(gz_zauth *a, gz_zauth_fn fn, void *arg)
{
    if (check(a))
        return -1;
    a->fn = fn;
    a->fn_arg = arg;
    return 0;
}

int gz_zauth_verbose(gz_zauth *a, bool on)
{
    if (check(a))
        return -1;
    a->flags = on ? a->flags | VERBOSE : a->flags & ~(unsigned)VERBOSE;
    return 0;
}

/* ---- deciding ---- */

static bool curve_known(gz_zauth *a, const char *key)
{
    struct stat st;
    /* A directory whose listing changed is read again first; one that
     * vanished keeps the keys last read. */
    if (stat(a->curve_dir, &st) == 0 && !same_time(st.st_mtim, a->curve_mtime))
        reload_off_hub(a);
    return strlist_has(&a->keys, key);
}

static bool plain_known(const gz_zauth *a, const char *name, const char *password)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, name) == 0)
            return strcmp(a->users[i].password, password) == 0;
    return false;
}

/* Rules 1 and 2 (auth.h): sets req->verdict, req->reason, req->user_id. */
static void apply_rules(gz_zauth *a, gz_zauth_request *req)
{
    req->verdict = 400;
    if (a->allow.n && !strlist_has(&a->allow, req->address)) {
        req->reason = "address not allowed";
        return;
    }
    if (!a->allow.n && strlist_has(&a->deny, req->address)) {
        req->reason = "address denied";
        return;
    }
    if (strcmp(req->mechanism, "NULL") == 0) {
        req->verdict = 200;
    } else if (strcmp(req->mechanism, "PLAIN") == 0) {
        snprintf(req->user_id, sizeof req->user_id, "%s", req->username);
        if (plain_known(a, req->username, req->password))
            req->verdict = 200;
        else
            req->reason = a->nusers ? "wrong user name or password" : "no PLAIN users";
    } else if (strcmp(req->mechanism, "CURVE") == 0) {
        snprintf(req->user_id, sizeof req->user_id, "%s", req->client_key);
        if (a->flags & CURVE_ANY || (a->curve_dir && curve_known(a, req->client_key)))
            req->verdict = 200;
        else
            req->reason = a->curve_dir ? "unknown key" : "no CURVE keys";
    } else {
        req->reason = "mechanism not supported";
    }
    if (req->verdict == 200)
        req->reason = "OK";
}

/* ---- serving ---- */

/* Copy frame M into a NUL-terminated FIELD buffer; false if it does not fit. */
static bool copy_field(char *dst, zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    if (n >= FIELD || memchr(zmq_msg_data(m), 0, n))
        return false;
    memcpy(dst, zmq_msg_data(m), n);
    dst[n] = 0;
    return true;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

/* Receive one whole request: its number of frames, of which the first
 * MAX_FRAMES are in F (past that, the last slot is reused: such a request is
 * malformed anyway, and its version and id stay readable). -1 when the
 * socket fails (ETERM, ECANCELED ...), with nothing left to close. */
static int recv_request(gz_zauth *a, zmq_msg_t *f)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t *m = &f[n < MAX_FRAMES ? n : MAX_FRAMES - 1];
        if (n >= MAX_FRAMES)
            zmq_msg_close(m);
        zmq_msg_init(m);
        if (gz_zmq_msg_recv(m, a->rep, 0) < 0) {
            int e = errno;
            for (int i = 0; i <= n && i < MAX_FRAMES; i++)
                zmq_msg_close(&f[i]);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(m);
        n++;
    }
    return n;
}

static int send_reply(gz_zauth *a, zmq_msg_t *request_id, int status,
                      const char *text, const char *user_id)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const void *id = request_id ? zmq_msg_data(request_id) : "";
    size_t idlen = request_id ? zmq_msg_size(request_id) : 0;
    if (gz_zmq_send(a->rep, "1.0", 3, ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(a->rep, id, idlen, ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(a->rep, code, strlen(code), ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(a->rep, text, strlen(text), ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(a->rep, user_id, strlen(user_id), ZMQ_SNDMORE) < 0 ||
        gz_zmq_send(a->rep, "", 0, 0) < 0)
        return -1;
    return 0;
}

/* Parse and decide one request of N frames F: the status and text to send
 * (req->user_id filled). */
static int decide(gz_zauth *a, zmq_msg_t *f, int n, gz_zauth_request *req,
                  char (*buf)[FIELD], const char **text)
{
    if (n < 6 || n > MAX_FRAMES || !frame_is(&f[0], "1.0")) {
        *text = n >= 1 && !frame_is(&f[0], "1.0") ? "version not supported"
                                                  : "malformed request";
        return 500;
    }
    /* buf: domain, address, mechanism, username, password, client key */
    if (!copy_field(buf[0], &f[2]) || !copy_field(buf[1], &f[3]) ||
        !copy_field(buf[2], &f[5])) {
        *text = "malformed request";
        return 500;
    }
    req->domain = buf[0];
    req->address = buf[1];
    req->mechanism = buf[2];
    req->routing_id = zmq_msg_data(&f[4]);
    req->routing_id_len = zmq_msg_size(&f[4]);
    req->username = req->password = req->client_key = "";
    buf[3][0] = buf[4][0] = buf[5][0] = 0;
    bool plain = strcmp(req->mechanism, "PLAIN") == 0;
    bool curve = strcmp(req->mechanism, "CURVE") == 0;
    int want = plain ? 8 : curve ? 7 : 6;
    if (n != want ||
        (plain && (!copy_field(buf[3], &f[6]) || !copy_field(buf[4], &f[7]))) ||
        (curve && (zmq_msg_size(&f[6]) != 32 ||
                   !zmq_z85_encode(buf[5], zmq_msg_data(&f[6]), 32)))) {
        *text = "malformed credentials";
        return 500;
    }
    if (plain) {
        req->username = buf[3];
        req->password = buf[4];
    } else if (curve) {
        req->client_key = buf[5];
    }
    apply_rules(a, req);
    *text = req->reason;
    if (!a->fn)
        return req->verdict;
    int status = a->fn(req, a->fn_arg);
    if (status != 200 && status != 300 && status != 400 && status != 500)
        status = 500;
    if (status != req->verdict)
        *text = status == 200 ? "OK" : status == 300 ? "try again later"
              : status == 400 ? "denied by callback" : "callback failed";
    return status;
}

static void *serve(void *arg)
{
    gz_zauth *a = arg;
    for (;;) {
        zmq_msg_t f[MAX_FRAMES];
        int n = recv_request(a, f);
        if (n < 0)
            break;
        gz_zauth_request req = {0};
        char buf[6][FIELD];
        const char *text;
        int status = decide(a, f, n, &req, buf, &text);
        req.user_id[sizeof req.user_id - 1] = 0;
        if (a->flags & VERBOSE)
            fprintf(stderr, "gz_zauth: %s from %s: %d %s\n",
                    req.mechanism ? req.mechanism : "?",
                    req.address ? req.address : "?", status, text);
        int rc = send_reply(a, n >= 2 ? &f[1] : NULL, status, text,
                            status == 200 ? req.user_id : "");
        explicit_bzero(buf, sizeof buf);
        for (int i = 0; i < n && i < MAX_FRAMES; i++)
            zmq_msg_close(&f[i]);
        if (rc != 0)
            break;
    }
    return NULL; /* ETERM, ECANCELED (gz_zauth_stop) or a closed socket */
}

/* Frees the handler once its greenlet has ended and stop was asked. */
static void dispose(gz_zauth *a)
{
    gz_release(a->g);
    /* zmq_close frees an inproc endpoint only when the reaper gets to it:
     * unbind first, so that a new handler can bind at once. */
    zmq_unbind(a->rep, ZAP_ENDPOINT);
    gz_zmq_close(a->rep);
    strlist_clear(&a->allow);
    strlist_clear(&a->deny);
    strlist_clear(&a->keys);
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        explicit_bzero(a->users[i].password, strlen(a->users[i].password));
        free(a->users[i].password);
    }
    free(a->users);
    free(a->curve_dir);
    GZ_MAGIC_KILL(a);
    free(a);
}

static void ended(gz_greenlet *g, void *arg)
{
    gz_zauth *a = arg;
    (void)g;
    a->flags |= ENDED;
    if (a->flags & STOPPED)
        dispose(a);
}

int gz_zauth_stop(gz_zauth *a)
{
    if (!a)
        return 0;
    if (check(a))
        return -1;
    if (gz_current() == a->g) {
        errno = EDEADLK;
        return -1;
    }
    if (a->flags & ENDED) {
        dispose(a);
        return 0;
    }
    /* The link frees it when the greenlet ends, which may be inside this
     * wait or, if the caller cannot wait (killed itself), later. */
    a->flags |= STOPPED;
    gz_kill(a->g, GZ_FOREVER);
    return 0;
}

gz_zauth *gz_zauth_start(void *context)
{
    if (!context) {
        errno = EINVAL;
        return NULL;
    }
    gz_hub *h = gz__hub();
    if (!h)
        return NULL;
    gz_zauth *a = calloc(1, sizeof *a);
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    GZ_OBJ_INIT(a, h, zauth);
    int zero = 0;
    a->rep = zmq_socket(context, ZMQ_REP);
    if (!a->rep || zmq_setsockopt(a->rep, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(a->rep, ZAP_ENDPOINT) != 0)
        goto fail;
    a->g = gz_greenlet_new(serve, a);
    if (!a->g)
        goto fail;
    gz_set_name(a->g, "gz_zauth");
    if (gz_link(a->g, ended, a) != 0 || gz_start(a->g) != 0) {
        int e = errno;
        gz_release(a->g);
        errno = e;
        goto fail;
    }
    return a;
fail:;
    int e = errno;
    if (a->rep)
        zmq_close(a->rep);
    GZ_MAGIC_KILL(a);
    free(a);
    errno = e;
    return NULL;
}
