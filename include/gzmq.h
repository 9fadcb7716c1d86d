/* libgzmq: gevent's way of writing concurrent programs, in C.
 *
 * Greenlets are cheap cooperative threads on one libev loop per OS thread;
 * a ZeroMQ recv, a socket read, a queue get or a sleep blocks only the
 * calling greenlet. The contract of every function is in the sub-headers
 * below; the conventions (errno values, timeouts) are at the top of
 * gzmq/core.h. */
#ifndef GZMQ_H
#define GZMQ_H

#define GZMQ_VERSION_MAJOR 0
#define GZMQ_VERSION_MINOR 1
#define GZMQ_VERSION_PATCH 0

#include <zmq.h>

#include "gzmq/core.h"
#include "gzmq/net.h"
#include "gzmq/sync.h"
#include "gzmq/pool.h"
#include "gzmq/actor.h"
#include "gzmq/thread.h"
#include "gzmq/zmq.h"

#endif
