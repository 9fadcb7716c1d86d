/* libgzmq: ZeroMQ security. CURVE certificates in the text format of czmq's
 * zcert and pyzmq's zmq.auth, and a ZAP handler (rfc 27) that runs as a
 * greenlet of the calling thread. Included by <gzmq.h>; do not include
 * directly.
 *
 * CURVE needs a libzmq built with it (zmq_has("curve")): without it
 * gz_cert_new and gz_cert_apply fail with ENOTSUP. */
#ifndef GZMQ_AUTH_H
#define GZMQ_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- certificates ----
 *
 * A certificate is a CURVE key pair (or a public key alone) and metadata.
 * On disk it is two ZPL text files: PATH with the public key, readable by
 * anyone, and PATH_secret with both keys, mode 0600; the keys are Z85 text
 * (40 characters) under "curve" as public-key = "..." and secret-key =
 * "...". pyzmq's zmq.auth.create_certificates writes NAME.key and
 * NAME.key_secret: load NAME.key. A certificate is plain data: any thread
 * may use one, one thread at a time. */
typedef struct gz_cert gz_cert;

/* A new key pair (zmq_curve_keypair), no metadata. NULL: ENOTSUP (libzmq
 * without CURVE), ENOMEM. */
gz_cert *gz_cert_new(void);
/* A certificate from Z85 keys: PUBLIC_TXT (40 characters) and SECRET_TXT,
 * or NULL for a public key alone. NULL: EINVAL (NULL or malformed public
 * key, malformed secret key, or a secret key that is not PUBLIC_TXT's),
 * ENOMEM. */
gz_cert *gz_cert_new_from_txt(const char *public_txt, const char *secret_txt);
/* Read the certificate at PATH: its public key and metadata, and its secret
 * key from PATH itself or, when PATH has none, from PATH_secret if that
 * file exists. NULL: EINVAL (NULL path), fopen's errors for PATH (ENOENT,
 * EACCES ...), EBADMSG (no valid public-key in PATH, a malformed secret-key,
 * a secret key that does not belong to the public one, or a line over 1023
 * bytes), ENOMEM. */
gz_cert *gz_cert_load(const char *path);
/* Write PATH (the public key and metadata) and, when the secret key is
 * known, PATH_secret (both keys and metadata, mode 0600). Each file is
 * written beside its final name and renamed into place, so a reader never
 * sees half a file. -1: EINVAL (NULL), ENAMETOOLONG, and the errors of
 * open(2), write(2) and rename(2). */
int gz_cert_save(const gz_cert *cert, const char *path);
/* The public key as Z85 text, 40 characters. NULL with EINVAL for NULL. */
const char *gz_cert_public_txt(const gz_cert *cert);
/* The secret key as Z85 text; NULL when the certificate has only its public
 * key (errno ENOENT) or CERT is NULL (EINVAL). */
const char *gz_cert_secret_txt(const gz_cert *cert);
/* Set metadata NAME (letters, digits and $-_@.&+/) to VALUE (one line,
 * not holding both ' and "), replacing an earlier value. -1: EINVAL,
 * ENOMEM. */
int gz_cert_set_meta(gz_cert *cert, const char *name, const char *value);
/* Metadata NAME's value; NULL with ENOENT when unset (EINVAL for NULL). */
const char *gz_cert_meta(const gz_cert *cert, const char *name);
/* Set ZMQ_CURVE_PUBLICKEY and ZMQ_CURVE_SECRETKEY of SOCKET to this key
 * pair (a server then also sets ZMQ_CURVE_SERVER; a client
 * ZMQ_CURVE_SERVERKEY). -1: EINVAL (NULL, or no secret key), libzmq's
 * errors (ENOTSOCK, ENOTSUP without CURVE). */
int gz_cert_apply(const gz_cert *cert, void *socket);
/* Free CERT, wiping its secret key; NULL is ignored. */
void gz_cert_destroy(gz_cert *cert);

/* ---- ZAP handler ----
 *
 * One handler serves every socket of a context: the sockets that use PLAIN
 * or CURVE as servers, or that set ZMQ_ZAP_DOMAIN, ask it about each peer
 * during the handshake. The rules, in order:
 *  1. the address: with an allow list, a peer whose IP address is not on it
 *     is denied; else a peer on the deny list is denied;
 *  2. the mechanism: NULL passes; PLAIN passes with a known user and its
 *     password; CURVE passes with any key after gz_zauth_curve_any, else
 *     with a key found in the gz_zauth_curve_dir directory; anything else
 *     is denied;
 *  3. a callback, when set, sees the verdict and has the last word.
 * Rules may change while the handler runs; the next request sees them.
 * Requests are answered one at a time, in the order they come. */
typedef struct gz_zauth gz_zauth;

/* One ZAP request, as the callback sees it. Strings are NUL-terminated and
 * valid during the call only. */
typedef struct gz_zauth_request {
    const char *domain;     /* ZMQ_ZAP_DOMAIN of the server socket, or "" */
    const char *address;    /* the peer's IP address ("" for ipc, inproc) */
    const char *mechanism;  /* "NULL", "PLAIN" or "CURVE" */
    const char *username;   /* PLAIN: the user name, else "" */
    const char *password;   /* PLAIN: the password, else "" */
    const char *client_key; /* CURVE: the client's public key, Z85, else "" */
    const void *routing_id; /* the server socket's ZMQ_ROUTING_ID ... */
    size_t routing_id_len;  /* ... and its length (often 0) */
    int verdict;            /* rules 1-2: 200 allowed, 400 denied */
    const char *reason;     /* why, as the reply's status text */
    char user_id[256];      /* the reply's user id: the PLAIN user name or the
                               CURVE key; the callback may overwrite it */
} gz_zauth_request;

/* The callback: returns the status to reply, 200 (allowed), 300 (temporary
 * failure), 400 (denied) or 500 (internal error); any other value is sent
 * as 500. It runs on the handler's greenlet and may block greenly
 * (gz_sleep, gz_run_in_thread, green ZeroMQ) while the rest of the thread
 * runs; handshakes wait for it meanwhile. */
typedef int (*gz_zauth_fn)(gz_zauth_request *req, void *arg);

/* Bind a ZAP handler to inproc://zeromq.zap.01 of CONTEXT and start its
 * greenlet on this thread: the thread must run its hub (gz_run, or a
 * blocking green call) for handshakes to complete. It denies nothing and
 * knows no users or keys until told. NULL: EINVAL (NULL context),
 * EADDRINUSE (a handler already serves CONTEXT), ENOMEM, libzmq's errors
 * (ETERM ...). */
gz_zauth *gz_zauth_start(void *context);
/* Stop the handler: its greenlet is killed (a callback under way sees
 * ECANCELED), its socket closed and the handler freed; NULL is ignored.
 * Call it before zmq_ctx_term, which otherwise waits for the socket.
 * 0, or -1: EDEADLK (called by the handler's own callback), EXDEV
 * (another thread's handler). */
int gz_zauth_stop(gz_zauth *a);
/* Add the IP address ADDRESS (as the peer's address reads: "127.0.0.1",
 * "::1") to the allow list, or the deny list. With an allow list, the deny
 * list is not consulted. -1: EINVAL (NULL or empty), ENOMEM, EXDEV. */
int gz_zauth_allow(gz_zauth *a, const char *address);
int gz_zauth_deny(gz_zauth *a, const char *address);
/* Accept PLAIN user USERNAME with PASSWORD (a later call for the same user
 * replaces the password). -1: EINVAL, ENOMEM, EXDEV. */
int gz_zauth_plain_user(gz_zauth *a, const char *username, const char *password);
/* Read PLAIN users from FILE: "user=password" lines, '#' comments and blank
 * lines ignored; they are added to the known users (call again to re-read
 * an edited file). -1: EINVAL, fopen's errors, EBADMSG (a line without
 * '=', with an empty user, or a user or password of 256 bytes or more:
 * none of the file is taken), ENOMEM, EXDEV. */
int gz_zauth_plain_passwords(gz_zauth *a, const char *file);
/* Accept CURVE clients whose public key is in a certificate file of DIR
 * (every regular file not starting with '.' nor ending in "_secret"; files
 * without a valid public-key are skipped). DIR is read now, by the caller;
 * again before a CURVE request whenever its modification time changed (a
 * key file added, removed or renamed into it, as gz_cert_save and pyzmq
 * do), then on a worker thread (gz_run_in_thread's pool) while the hub runs
 * on; and on gz_zauth_curve_reload. Replaces gz_zauth_curve_any. -1: EINVAL,
 * opendir's errors (ENOENT, ENOTDIR, EACCES ...), ENOMEM, EXDEV. */
int gz_zauth_curve_dir(gz_zauth *a, const char *dir);
/* Re-read the gz_zauth_curve_dir directory now (a key file edited in
 * place). The number of keys, or -1: EINVAL (no directory set),
 * opendir's errors, ENOMEM, EXDEV. */
int gz_zauth_curve_reload(gz_zauth *a);
/* Accept any CURVE client key (traffic is still encrypted); forgets the
 * directory. -1: EINVAL, EXDEV. */
int gz_zauth_curve_any(gz_zauth *a);
/* Consult FN (see gz_zauth_fn) after the rules; NULL FN removes it.
 * -1: EINVAL (NULL handler), EXDEV. */
int gz_zauth_callback(gz_zauth *a, gz_zauth_fn fn, void *arg);
/* ON: print one line on stderr per request answered ("gz_zauth: CURVE
 * from 127.0.0.1: 400 unknown key"). -1: EINVAL, EXDEV. */
int gz_zauth_verbose(gz_zauth *a, bool on);

#ifdef __cplusplus
}
#endif
#endif
