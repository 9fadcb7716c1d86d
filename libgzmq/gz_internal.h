/* The private headers, one per module, in layer order. Never installed.
 * Internal non-static names carry the gz__ prefix; the README.md beside them draws
 * the modules and who may call whom. */
#ifndef GZ_INTERNAL_H
#define GZ_INTERNAL_H

#include "base.h"
#include "list.h"
#include "obj.h"
#include "ctx.h"

#include "stack.h"
#include "timer.h"
#include "greenlet.h"
#include "hub.h"

#include "fd.h"
#include "post.h"

/* thread.c: gz_run_in_thread, with DROP(arg) run whenever fn(arg) will
 * never run (the call failed first, or gave up before a worker took it). */
int gz__run_in_thread(gz_fn fn, void *arg, void **value, double timeout,
                      void (*drop)(void *arg));

#endif
