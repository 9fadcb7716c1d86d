/* What zmq.c tells run info and gz_hub_stats (runinfo.c) about its sockets
 * and its per-hub counters; the counters stay zmq.c's. */
#ifndef GZ_ZMQ_INFO_H
#define GZ_ZMQ_INFO_H

#include <stddef.h>
#include <stdint.h>

typedef struct gz_hub gz_hub;

typedef struct gz_zmq_counts {
    uint64_t sends, recvs;               /* successful calls (frames) */
    uint64_t sends_waited, recvs_waited; /* of which had to wait */
} gz_zmq_counts;

/* H's counters (zero before its first ZeroMQ call). */
void gz__zmq_counts(gz_hub *h, gz_zmq_counts *out);
/* "ZMQ_REQ socket 0x... (tcp://127.0.0.1:5555)" for SOCK, on the hub's own
 * thread, into BUF of N bytes. */
void gz__zmq_describe(void *sock, char *buf, size_t n);

#endif
