/* libgzmq: gevent's way of writing concurrent programs, in C.
 *
 * Greenlets are cheap cooperative threads on one libev loop per OS thread;
 * a ZeroMQ recv, a socket read, a queue get or a sleep blocks only the
 * calling greenlet. The contract of every function is in the sub-headers
 * below; the conventions (errno values, timeouts) are at the top of
 * gzmq/core.h. */
#ifndef GZMQ_H
#define GZMQ_H

/* The version of this header; gz_version() gives the library's. The
 * Makefile's VERSION is the one source: the build fails when these differ. */
#define GZ_VERSION_MAJOR 0
#define GZ_VERSION_MINOR 1
#define GZ_VERSION_PATCH 0
#define GZ_MAKE_VERSION(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define GZ_VERSION GZ_MAKE_VERSION(GZ_VERSION_MAJOR, GZ_VERSION_MINOR, GZ_VERSION_PATCH)
/* The names of 0.1.0, kept. */
#define GZMQ_VERSION_MAJOR GZ_VERSION_MAJOR
#define GZMQ_VERSION_MINOR GZ_VERSION_MINOR
#define GZMQ_VERSION_PATCH GZ_VERSION_PATCH

#include <zmq.h>

#include "gzmq/core.h"
#include "gzmq/net.h"
#include "gzmq/sync.h"
#include "gzmq/pool.h"
#include "gzmq/actor.h"
#include "gzmq/thread.h"
#include "gzmq/zmq.h"
#include "gzmq/select.h"
#include "gzmq/auth.h"
#include "gzmq/monitor.h"
#include "gzmq/lifetime.h"
#include "gzmq/post.h"
#include "gzmq/mdp.h"

#endif
