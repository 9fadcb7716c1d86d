/* zauth.c: the ZAP handler greenlet. Server and client sockets live in this
 * process on loopback TCP; each handshake's outcome is read from a raw
 * zmq_socket_monitor of the server socket (HANDSHAKE_SUCCEEDED, or
 * HANDSHAKE_FAILED_AUTH with the ZAP status code), received greenly so
 * that the handler greenlet runs meanwhile. Also raw ZAP requests on
 * inproc://zeromq.zap.01, the callback (blocking greenly) and stop.
 * Every wait is bounded by a gz_timeout on main. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "gz_test.h"

#define TEST_LIMIT 20.0

static void *ctx;
static gz_timeout *limit;
static gz_zauth *auth;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    ctx = zmq_ctx_new();
    limit = gz_timeout_start(TEST_LIMIT);
    snprintf(dir, sizeof dir, "/tmp/gzmq-zauth-XXXXXX");
    if (!ctx || !limit || !mkdtemp(dir))
        return -1;
    auth = gz_zauth_start(ctx);
    return auth ? 0 : -1;
}

static void *term(void *arg) { return GZ_PTR(zmq_ctx_term(arg)); }

static int teardown(void **state)
{
    (void)state;
    gz_zauth_stop(auth);
    auth = NULL;
    gz_timeout_cancel(limit);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return -1;
    /* A failed test may leave sockets open: terminate off the hub. */
    pthread_t th;
    if (pthread_create(&th, NULL, term, ctx) != 0)
        return -1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    if (pthread_timedjoin_np(th, NULL, &until) != 0) {
        fprintf(stderr, "zmq_ctx_term blocked: sockets left open\n");
        pthread_detach(th);
        return -1;
    }
    return 0;
}

static bool have_curve(void)
{
    if (zmq_has("curve"))
        return true;
    printf("SKIPPED: this libzmq has no CURVE (zmq_has(\"curve\") is false)\n");
    return false;
}

/* ---- a server socket, its monitor, clients ---- */

typedef struct server {
    void *s, *mon;
    char endpoint[64];
} server;

static int zero = 0;

static void server_open(server *sv, void (*configure)(void *s, void *arg), void *arg)
{
    static int n;
    char mon_ep[64];
    sv->s = zmq_socket(ctx, ZMQ_REP);
    assert_non_null(sv->s);
    zmq_setsockopt(sv->s, ZMQ_LINGER, &zero, sizeof zero);
    if (configure)
        configure(sv->s, arg);
    snprintf(mon_ep, sizeof mon_ep, "inproc://zauth-mon-%d", n++);
    assert_int_equal(zmq_socket_monitor(sv->s, mon_ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL), 0);
    sv->mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_setsockopt(sv->mon, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(sv->mon, mon_ep), 0);
    assert_int_equal(zmq_bind(sv->s, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof sv->endpoint;
    assert_int_equal(zmq_getsockopt(sv->s, ZMQ_LAST_ENDPOINT, sv->endpoint, &len), 0);
}

static void server_close(server *sv)
{
    zmq_socket_monitor(sv->s, NULL, 0);
    gz_zmq_close(sv->mon);
    gz_zmq_close(sv->s);
}

/* The next handshake event of SV: the event, and its value in *VALUE. */
static int next_event(server *sv, uint32_t *value)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    int rc = gz_zmq_msg_recv(&m, sv->mon, 0);
    if (rc < 0) {
        fprintf(stderr, "monitor: %s\n", zmq_strerror(errno));
        zmq_msg_close(&m);
        return -1;
    }
    uint16_t event;
    memcpy(&event, zmq_msg_data(&m), 2);
    memcpy(value, (char *)zmq_msg_data(&m) + 2, 4);
    bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) { /* the endpoint frame */
        char ep[256];
        gz_zmq_recv(sv->mon, ep, sizeof ep, 0);
    }
    return event;
}

static void *client_open(server *sv, void (*configure)(void *s, void *arg), void *arg)
{
    void *c = zmq_socket(ctx, ZMQ_REQ);
    assert_non_null(c);
    int ms = 10000;
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c, ZMQ_RCVTIMEO, &ms, sizeof ms);
    if (configure)
        configure(c, arg);
    assert_int_equal(zmq_connect(c, sv->endpoint), 0);
    return c;
}

/* A request and its echo through SV; the server side checks the message's
 * User-Id property against WANT_USER (NULL: not checked). */
static void echo(server *sv, void *c, const char *want_user)
{
    assert_int_equal(gz_zmq_send(c, "ping", 4, 0), 4);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_int_equal(gz_zmq_msg_recv(&m, sv->s, 0), 4);
    if (want_user) {
        const char *u = zmq_msg_gets(&m, "User-Id");
        assert_non_null(u);
        assert_string_equal(u, want_user);
    }
    assert_int_equal(gz_zmq_msg_send(&m, sv->s, 0), 4);
    char buf[8];
    assert_int_equal(gz_zmq_recv(c, buf, sizeof buf, 0), 4);
}

/* Connect a client configured by CONFIGURE to SV; the handshake's event
 * (and in *VALUE its value). The client is closed unless KEEP. */
static int attempt(server *sv, void (*configure)(void *s, void *arg), void *arg,
                   uint32_t *value, void **keep)
{
    void *c = client_open(sv, configure, arg);
    int ev = next_event(sv, value);
    if (keep)
        *keep = c;
    else
        gz_zmq_close(c);
    return ev;
}

/* ---- CURVE ---- */

static void curve_server(void *s, void *arg)
{
    int one = 1;
    assert_int_equal(gz_cert_apply(arg, s), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
}

typedef struct curve_client_arg {
    gz_cert *mine, *server;
} curve_client_arg;

static void curve_client(void *s, void *arg)
{
    curve_client_arg *a = arg;
    assert_int_equal(gz_cert_apply(a->mine, s), 0);
    const char *key = gz_cert_public_txt(a->server);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, key, 40), 0);
}

static void save_in_dir(gz_cert *c, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(gz_cert_save(c, path), 0);
}

static void curve_key_in_the_directory_passes_an_unknown_one_is_refused(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *srv = gz_cert_new(), *known = gz_cert_new(), *stranger = gz_cert_new();
    assert_non_null(srv);
    save_in_dir(known, "known.key");
    /* Not certificates: skipped, and a FIFO is not even opened (it would
     * block the thread). */
    char path[128];
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "curve\n    public-key = \"not a key\"\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(gz_zauth_curve_dir(auth, dir), 0);
    assert_int_equal(gz_zauth_curve_reload(auth), 1);
    server sv;
    server_open(&sv, curve_server, srv);
    uint32_t v = 0;
    void *c;
    curve_client_arg ok = {known, srv}, bad = {stranger, srv};
    assert_int_equal(attempt(&sv, curve_client, &ok, &v, &c), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    echo(&sv, c, gz_cert_public_txt(known)); /* the ZAP user id: the client's key */
    gz_zmq_close(c);
    assert_int_equal(attempt(&sv, curve_client, &bad, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(v, 400);
    server_close(&sv);
    gz_cert_destroy(srv);
    gz_cert_destroy(known);
    gz_cert_destroy(stranger);
}

static void curve_directory_is_reread_when_a_key_file_comes_or_goes(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *srv = gz_cert_new(), *late = gz_cert_new();
    assert_int_equal(gz_zauth_curve_dir(auth, dir), 0);
    server sv;
    server_open(&sv, curve_server, srv);
    uint32_t v = 0;
    curve_client_arg a = {late, srv};
    assert_int_equal(attempt(&sv, curve_client, &a, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    save_in_dir(late, "late.key"); /* renamed into place: the listing changes */
    assert_int_equal(attempt(&sv, curve_client, &a, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    char path[128];
    snprintf(path, sizeof path, "%s/late.key", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(attempt(&sv, curve_client, &a, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    /* On demand: the count of keys (the secret file is not one). */
    assert_int_equal(gz_zauth_curve_reload(auth), 0);
    server_close(&sv);
    gz_cert_destroy(srv);
    gz_cert_destroy(late);
}

static void curve_any_accepts_every_key_and_without_keys_none(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *srv = gz_cert_new(), *anyone = gz_cert_new();
    server sv;
    server_open(&sv, curve_server, srv);
    uint32_t v = 0;
    curve_client_arg a = {anyone, srv};
    assert_int_equal(attempt(&sv, curve_client, &a, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(gz_zauth_curve_any(auth), 0);
    assert_int_equal(attempt(&sv, curve_client, &a, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    server_close(&sv);
    gz_cert_destroy(srv);
    gz_cert_destroy(anyone);
}

/* ---- PLAIN ---- */

static void plain_server(void *s, void *arg)
{
    (void)arg;
    int one = 1;
    assert_int_equal(zmq_setsockopt(s, ZMQ_PLAIN_SERVER, &one, sizeof one), 0);
}

static void plain_client(void *s, void *arg)
{
    const char *const *up = arg;
    assert_int_equal(zmq_setsockopt(s, ZMQ_PLAIN_USERNAME, up[0], strlen(up[0])), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_PLAIN_PASSWORD, up[1], strlen(up[1])), 0);
}

static void plain_user_with_its_password_passes_others_are_refused(void **state)
{
    (void)state;
    server sv;
    server_open(&sv, plain_server, NULL);
    const char *alice[] = {"alice", "secret"}, *wrong[] = {"alice", "guess"},
               *bob[] = {"bob", "secret"};
    uint32_t v = 0;
    void *c;
    assert_int_equal(attempt(&sv, plain_client, alice, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(v, 400); /* no users yet */
    assert_int_equal(gz_zauth_plain_user(auth, "alice", "secret"), 0);
    assert_int_equal(attempt(&sv, plain_client, alice, &v, &c), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    echo(&sv, c, "alice");
    gz_zmq_close(c);
    assert_int_equal(attempt(&sv, plain_client, wrong, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(attempt(&sv, plain_client, bob, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    /* A password file adds users; one bad line and none is taken. */
    char path[128];
    snprintf(path, sizeof path, "%s/passwords", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# users\n\nbob=secret\ncarol\n");
    fclose(f);
    assert_fails(gz_zauth_plain_passwords(auth, path), EBADMSG);
    assert_int_equal(attempt(&sv, plain_client, bob, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    f = fopen(path, "w");
    fprintf(f, "# users\n\nbob=secret\n");
    fclose(f);
    assert_int_equal(gz_zauth_plain_passwords(auth, path), 0);
    assert_int_equal(attempt(&sv, plain_client, bob, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_fails(gz_zauth_plain_passwords(auth, "/nonexistent/passwords"), ENOENT);
    /* A line too long for a user and password is refused, not split (its
     * tail would read as a user of its own). */
    f = fopen(path, "w");
    fputc('#', f);
    for (int i = 0; i < 514; i++)
        fputc('x', f);
    fprintf(f, "mallory=pw\n");
    fclose(f);
    assert_fails(gz_zauth_plain_passwords(auth, path), EBADMSG);
    server_close(&sv);
}

/* ---- addresses ---- */

static void null_with_domain(void *s, void *arg)
{
    (void)arg;
    assert_int_equal(zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "global", 6), 0);
}

static void address_rules_deny_and_allow(void **state)
{
    (void)state;
    server sv;
    server_open(&sv, null_with_domain, NULL);
    uint32_t v = 0;
    assert_int_equal(attempt(&sv, NULL, NULL, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(gz_zauth_deny(auth, "127.0.0.1"), 0);
    assert_int_equal(attempt(&sv, NULL, NULL, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(v, 400);
    /* An allow list overrides the deny list... */
    assert_int_equal(gz_zauth_allow(auth, "127.0.0.1"), 0);
    assert_int_equal(attempt(&sv, NULL, NULL, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    server_close(&sv);
    /* ...and refuses every address not on it, whatever the mechanism. */
    gz_zauth_stop(auth);
    auth = gz_zauth_start(ctx);
    assert_non_null(auth);
    assert_int_equal(gz_zauth_allow(auth, "127.0.0.2"), 0);
    assert_int_equal(gz_zauth_plain_user(auth, "alice", "secret"), 0);
    server_open(&sv, plain_server, NULL);
    const char *alice[] = {"alice", "secret"};
    assert_int_equal(attempt(&sv, plain_client, alice, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    server_close(&sv);
}

/* ---- the callback ---- */

typedef struct cb_state {
    gz_event *entered, *go;
    int calls;
    char last_user[64];
    int thread_value;
} cb_state;

static void *in_thread(void *arg) { return GZ_PTR(GZ_INT(arg) * 2); }

/* Blocks greenly twice (a gz_event another greenlet sets, then a worker
 * thread), then denies "mallory" whatever the rules said and lets "guest"
 * in although no such user is known. */
static int blocking_callback(gz_zauth_request *req, void *arg)
{
    cb_state *st = arg;
    st->calls++;
    snprintf(st->last_user, sizeof st->last_user, "%s", req->username);
    gz_event_set(st->entered);
    if (gz_event_wait(st->go, GZ_FOREVER) != 0)
        return 500;
    gz_event_clear(st->go);
    void *v = NULL;
    if (gz_run_in_thread(in_thread, GZ_PTR(21), &v, GZ_FOREVER) != 0)
        return 500;
    st->thread_value = GZ_INT(v);
    if (strcmp(req->username, "mallory") == 0)
        return 400;
    if (strcmp(req->username, "guest") == 0) {
        snprintf(req->user_id, sizeof req->user_id, "visitor");
        return 200;
    }
    return req->verdict;
}

/* Another greenlet: waits until the callback blocks, then lets it go. */
static void *releaser(void *arg)
{
    cb_state *st = arg;
    int n = 0;
    while (gz_event_wait(st->entered, GZ_FOREVER) == 0) {
        gz_event_clear(st->entered);
        n++;
        gz_event_set(st->go);
    }
    return GZ_PTR(n);
}

static void callback_blocks_greenly_and_has_the_last_word(void **state)
{
    (void)state;
    cb_state st = {gz_event_new(), gz_event_new(), 0, "", 0};
    assert_int_equal(gz_zauth_plain_user(auth, "mallory", "pw"), 0);
    assert_int_equal(gz_zauth_plain_user(auth, "alice", "pw"), 0);
    assert_int_equal(gz_zauth_callback(auth, blocking_callback, &st), 0);
    gz_greenlet *r = gz_spawn(releaser, &st);
    server sv;
    server_open(&sv, plain_server, NULL);
    const char *mallory[] = {"mallory", "pw"}, *guest[] = {"guest", "x"},
               *alice[] = {"alice", "pw"};
    uint32_t v = 0;
    void *c;
    assert_int_equal(attempt(&sv, plain_client, mallory, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(v, 400);
    assert_int_equal(st.thread_value, 42);
    assert_int_equal(attempt(&sv, plain_client, guest, &v, &c), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    echo(&sv, c, "visitor");
    gz_zmq_close(c);
    assert_int_equal(attempt(&sv, plain_client, alice, &v, NULL), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_true(st.calls >= 3);
    assert_string_equal(st.last_user, "alice");
    /* Removed: the rules alone decide again. */
    assert_int_equal(gz_zauth_callback(auth, NULL, NULL), 0);
    assert_int_equal(attempt(&sv, plain_client, guest, &v, NULL), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    server_close(&sv);
    gz_kill(r, GZ_FOREVER);
    gz_release(r);
    gz_event_free(st.entered);
    gz_event_free(st.go);
}

/* ---- raw ZAP requests ---- */

static void *zap_client(void)
{
    void *z = zmq_socket(ctx, ZMQ_REQ);
    assert_non_null(z);
    zmq_setsockopt(z, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(z, "inproc://zeromq.zap.01"), 0);
    return z;
}

/* Send the N frames of FR; receive the reply into REPLY[6] (NUL-ended). */
static void zap_exchange(void *z, const char *const *fr, int n, char reply[6][64])
{
    for (int i = 0; i < n; i++)
        assert_true(gz_zmq_send(z, fr[i], strlen(fr[i]), i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    for (int i = 0; i < 6; i++) {
        int k = gz_zmq_recv(z, reply[i], 63, 0);
        assert_true(k >= 0);
        reply[i][k < 63 ? k : 63] = 0;
        int more = 0;
        size_t len = sizeof more;
        zmq_getsockopt(z, ZMQ_RCVMORE, &more, &len);
        assert_int_equal(more, i < 5);
    }
}

static void malformed_requests_get_500_and_the_handler_goes_on(void **state)
{
    (void)state;
    void *z = zap_client();
    char reply[6][64];
    const char *short_req[] = {"1.0", "id-1", "x"};
    zap_exchange(z, short_req, 3, reply);
    assert_string_equal(reply[0], "1.0");
    assert_string_equal(reply[1], "id-1");
    assert_string_equal(reply[2], "500");
    const char *v2[] = {"2.0", "id-2", "", "127.0.0.1", "", "NULL"};
    zap_exchange(z, v2, 6, reply);
    assert_string_equal(reply[2], "500");
    assert_string_equal(reply[3], "version not supported");
    const char *curve_short[] = {"1.0", "id-3", "", "127.0.0.1", "", "CURVE", "tooshort"};
    zap_exchange(z, curve_short, 7, reply);
    assert_string_equal(reply[2], "500");
    const char *many[] = {"1.0", "id-4", "", "1", "", "NULL", "a", "b", "c", "d", "e"};
    zap_exchange(z, many, 11, reply);
    assert_string_equal(reply[2], "500");
    const char *good[] = {"1.0", "id-5", "dom", "10.1.2.3", "", "NULL"};
    zap_exchange(z, good, 6, reply);
    assert_string_equal(reply[1], "id-5");
    assert_string_equal(reply[2], "200");
    assert_string_equal(reply[3], "OK");
    const char *gss[] = {"1.0", "id-6", "", "10.1.2.3", "", "GSSAPI"};
    zap_exchange(z, gss, 6, reply);
    assert_string_equal(reply[2], "400");
    gz_zmq_close(z);
}

static int odd_status(gz_zauth_request *req, void *arg)
{
    (void)req;
    return GZ_INT(arg);
}

static void *allow_from_thread(void *arg)
{
    errno = 0;
    int rc = gz_zauth_allow(arg, "10.0.0.1");
    return GZ_PTR(rc == -1 ? errno : 0);
}

/* A callback's status outside 200/300/400/500 is sent as 500; 300 as is.
 * Verbose: a line per request on stderr. Another thread's calls: EXDEV. */
static void callback_status_verbose_lines_and_other_threads(void **state)
{
    (void)state;
    void *z = zap_client();
    char reply[6][64];
    const char *good[] = {"1.0", "7", "", "10.1.2.3", "", "NULL"};
    assert_int_equal(gz_zauth_callback(auth, odd_status, GZ_PTR(999)), 0);
    zap_exchange(z, good, 6, reply);
    assert_string_equal(reply[2], "500");
    assert_string_equal(reply[3], "callback failed");
    assert_int_equal(gz_zauth_callback(auth, odd_status, GZ_PTR(300)), 0);
    zap_exchange(z, good, 6, reply);
    assert_string_equal(reply[2], "300");

    char path[128];
    snprintf(path, sizeof path, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    assert_int_equal(gz_zauth_verbose(auth, true), 0);
    assert_int_equal(gz_zauth_callback(auth, NULL, NULL), 0);
    zap_exchange(z, good, 6, reply);
    assert_int_equal(gz_zauth_verbose(auth, false), 0);
    zap_exchange(z, good, 6, reply);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = gz_test_read_all(f);
    fclose(f);
    assert_string_equal(text, "gz_zauth: NULL from 10.1.2.3: 200 OK\n");
    free(text);

    pthread_t th;
    void *err = NULL;
    assert_int_equal(pthread_create(&th, NULL, allow_from_thread, auth), 0);
    assert_int_equal(pthread_join(th, &err), 0);
    assert_int_equal(GZ_INT(err), EXDEV);
    gz_zmq_close(z);
}

/* ---- life cycle and bad arguments ---- */

static int stopper_result = -2, stopper_errno;

static int stop_from_callback(gz_zauth_request *req, void *arg)
{
    (void)req;
    stopper_result = gz_zauth_stop(arg);
    stopper_errno = errno;
    return 200;
}

static int waits_forever(gz_zauth_request *req, void *arg)
{
    (void)req;
    int *seen = arg;
    seen[0] = 1;
    seen[1] = gz_sleep(3600) == 0 ? 0 : errno;
    return 200;
}

static void *stop_soon(void *arg)
{
    int *seen = arg;
    while (!seen[0])
        gz_sleep(0.001);
    return GZ_PTR(gz_zauth_stop(auth));
}

static void stop_ends_a_blocked_callback_and_bad_arguments_fail(void **state)
{
    (void)state;
    assert_null(gz_zauth_start(NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_zauth_start(ctx)); /* one handler per context */
    assert_int_equal(errno, EADDRINUSE);
    assert_fails(gz_zauth_allow(NULL, "1.2.3.4"), EINVAL);
    assert_fails(gz_zauth_allow(auth, ""), EINVAL);
    assert_fails(gz_zauth_deny(auth, NULL), EINVAL);
    assert_fails(gz_zauth_plain_user(auth, "", "x"), EINVAL);
    assert_fails(gz_zauth_plain_user(auth, "u", NULL), EINVAL);
    assert_fails(gz_zauth_curve_dir(auth, "/nonexistent/keys"), ENOENT);
    assert_fails(gz_zauth_curve_reload(auth), EINVAL);
    assert_fails(gz_zauth_callback(NULL, NULL, NULL), EINVAL);
    assert_fails(gz_zauth_verbose(NULL, true), EINVAL);
    assert_int_equal(gz_zauth_stop(NULL), 0);

    /* The callback cannot stop its own handler. */
    assert_int_equal(gz_zauth_callback(auth, stop_from_callback, auth), 0);
    void *z = zap_client();
    char reply[6][64];
    const char *good[] = {"1.0", "1", "", "10.1.2.3", "", "NULL"};
    zap_exchange(z, good, 6, reply);
    assert_int_equal(stopper_result, -1);
    assert_int_equal(stopper_errno, EDEADLK);

    /* A callback blocked when the handler stops sees ECANCELED; stop
     * returns once the handler is gone, and its endpoint is free again. */
    int seen[2] = {0, -1};
    assert_int_equal(gz_zauth_callback(auth, waits_forever, seen), 0);
    gz_greenlet *g = gz_spawn(stop_soon, seen);
    for (int i = 0; i < 6; i++)
        assert_true(gz_zmq_send(z, good[i], strlen(good[i]), i < 5 ? ZMQ_SNDMORE : 0) >= 0);
    void *rc = NULL;
    assert_int_equal(gz_get(g, &rc, GZ_FOREVER), 0);
    gz_release(g);
    assert_int_equal(GZ_INT(rc), 0);
    assert_int_equal(seen[1], ECANCELED);
    auth = gz_zauth_start(ctx);
    assert_non_null(auth);
    gz_zmq_close(z);
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(curve_key_in_the_directory_passes_an_unknown_one_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(curve_directory_is_reread_when_a_key_file_comes_or_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(curve_any_accepts_every_key_and_without_keys_none, setup, teardown),
        cmocka_unit_test_setup_teardown(plain_user_with_its_password_passes_others_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(address_rules_deny_and_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_blocks_greenly_and_has_the_last_word, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_requests_get_500_and_the_handler_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_status_verbose_lines_and_other_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_ends_a_blocked_callback_and_bad_arguments_fail, setup, teardown),
    };
    return cmocka_run_group_tests_name("zauth", tests, NULL, NULL);
}
