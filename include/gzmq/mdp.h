/* libgzmq Majordomo: the 7/MDP protocol (clients MDPC01, workers MDPW01) and
 * the mmi.service lookup of 8/MMI, green. A broker routes requests by service
 * name to its workers, any number per service; workers and broker heartbeat
 * each other and a silent peer is forgotten after LIVENESS missed heartbeats.
 * Any 7/MDP implementation talks to these. Included by <gzmq.h>; do not
 * include directly.
 *
 * Every object belongs to the thread that created it (EXDEV otherwise); a
 * client or worker serves one greenlet at a time (EBUSY for a second one).
 * Heartbeat interval and liveness default to 2.5 s and 3, or the environment
 * variables GZ_MDP_HEARTBEAT (seconds) and GZ_MDP_LIVENESS read by _new. */
#ifndef GZMQ_MDP_H
#define GZMQ_MDP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gz_greenlet gz_greenlet;

/* ---- Messages: a list of frames ---- */

typedef struct gz_mdp_msg gz_mdp_msg;
/* An empty message. NULL: ENOMEM. */
gz_mdp_msg *gz_mdp_msg_new(void);
/* Free M and its frames; NULL is ignored. */
void gz_mdp_msg_destroy(gz_mdp_msg *m);
/* Append a copy of SIZE bytes at DATA as a new last frame. -1: EINVAL (NULL
 * m, or NULL data with size > 0), ENOMEM. */
int gz_mdp_msg_append(gz_mdp_msg *m, const void *data, size_t size);
/* The number of frames; 0 for NULL. */
size_t gz_mdp_msg_frames(const gz_mdp_msg *m);
/* Frame I's bytes (valid while M lives), its size in *SIZE (SIZE may be NULL).
 * NULL with EINVAL when M is NULL or I is past the last frame. */
const void *gz_mdp_msg_frame(const gz_mdp_msg *m, size_t i, size_t *size);

/* ---- Client ---- */

typedef struct gz_mdp_client gz_mdp_client;
/* A client of the broker at BROKER (a ZeroMQ endpoint). NULL: EINVAL (NULL
 * broker), ENOMEM, libzmq's errors (EINVAL, EPROTONOSUPPORT: bad endpoint). */
gz_mdp_client *gz_mdp_client_new(const char *broker);
/* Close the client's socket and free it; NULL is ignored. */
void gz_mdp_client_destroy(gz_mdp_client *c);
/* Send REQUEST (its frames, left to the caller) to SERVICE and wait up to
 * TIMEOUT seconds for the reply; on no reply, retry up to RETRIES more times,
 * each on a fresh socket (Lazy Pirate). Returns the reply's body frames, to
 * gz_mdp_msg_destroy. NULL: EINVAL (NULL argument, empty or over-255-byte
 * service, negative retries, NaN or negative timeout), EBUSY (another
 * greenlet's request is under way), ETIMEDOUT (no reply after all tries),
 * EPROTO (the broker's reply was not 7/MDP, or for another service), ENOMEM,
 * libzmq's and the waiting errors. */
gz_mdp_msg *gz_mdp_client_request(gz_mdp_client *c, const char *service,
                                  const gz_mdp_msg *request, double timeout,
                                  int retries);

/* ---- Worker ---- */

typedef struct gz_mdp_worker gz_mdp_worker;
/* A worker offering SERVICE to the broker at BROKER; connects and says READY
 * at once. NULL: EINVAL (NULL argument, empty or over-255-byte service),
 * ENOMEM, libzmq's errors. */
gz_mdp_worker *gz_mdp_worker_new(const char *broker, const char *service);
/* Tell the broker DISCONNECT, close and free; NULL is ignored. */
void gz_mdp_worker_destroy(gz_mdp_worker *w);
/* Heartbeat every INTERVAL seconds; reconnect after LIVENESS heartbeats
 * without a word from the broker. -1: EINVAL (NULL, interval not > 0 or NaN,
 * liveness < 1). */
int gz_mdp_worker_set_heartbeat(gz_mdp_worker *w, double interval, int liveness);
/* Wait up to TIMEOUT seconds for a request (heartbeating and reconnecting
 * meanwhile); returns its body frames, to gz_mdp_msg_destroy. NULL:
 * EINVAL (NULL, NaN), EBUSY, ETIMEDOUT (TIMEOUT passed), ENOMEM, libzmq's
 * and the waiting errors. A request left unanswered is dropped by the next
 * recv; the handler must answer within INTERVAL x LIVENESS seconds. */
gz_mdp_msg *gz_mdp_worker_recv(gz_mdp_worker *w, double timeout);
/* Send REPLY (its frames, left to the caller) for the last request received.
 * -1: EINVAL (NULL), EFSM (no request is waiting for a reply: none came, or
 * it was answered), libzmq's and the waiting errors. */
int gz_mdp_worker_send(gz_mdp_worker *w, const gz_mdp_msg *reply);

/* ---- Broker ---- */

typedef struct gz_mdp_broker gz_mdp_broker;
/* A broker bound to ENDPOINT ("tcp://127.0.0.1:*" picks a port). NULL:
 * EINVAL (NULL), ENOMEM, libzmq's bind errors (EADDRINUSE ...). */
gz_mdp_broker *gz_mdp_broker_new(const char *endpoint);
/* Free a broker whose greenlet has ended (or never started); NULL ignored.
 * Pending requests are dropped. */
void gz_mdp_broker_destroy(gz_mdp_broker *b);
/* The endpoint it is bound to, with the port chosen (borrowed). NULL: EINVAL. */
const char *gz_mdp_broker_endpoint(const gz_mdp_broker *b);
/* As gz_mdp_worker_set_heartbeat, for the broker's side: heartbeats to idle
 * workers every INTERVAL s, a worker silent for INTERVAL x LIVENESS is
 * forgotten. -1: EINVAL. */
int gz_mdp_broker_set_heartbeat(gz_mdp_broker *b, double interval, int liveness);
/* Run the broker in a new greenlet; stop it with gz_kill. Returns the
 * greenlet (to gz_release). NULL: EINVAL (NULL), EBUSY (already started),
 * ENOMEM. */
gz_greenlet *gz_mdp_broker_start(gz_mdp_broker *b);
/* Messages dropped since it was created: malformed, out of protocol, or a
 * request beyond the 100000 that may wait for workers. 0 for NULL (EINVAL). */
size_t gz_mdp_broker_dropped(const gz_mdp_broker *b);

#ifdef __cplusplus
}
#endif
#endif
