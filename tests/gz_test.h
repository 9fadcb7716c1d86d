/* Shared test helpers: cmocka plus a watchdog, so that a lost wakeup fails
 * the suite instead of hanging it. */
#ifndef GZ_TEST_H
#define GZ_TEST_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <gzmq.h>

/* Fail a call expected to return -1 with errno E. */
#define assert_fails(call, e)                  \
    do {                                       \
        errno = 0;                             \
        assert_int_equal((call), -1);          \
        assert_int_equal(errno, (e));          \
    } while (0)

static void gz_test_watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "watchdog: test suite took too long (lost wakeup?)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(124);
}

/* Kill the suite after SECONDS; call first thing in main. */
static inline void gz_test_watchdog(unsigned seconds)
{
    signal(SIGALRM, gz_test_watchdog_fired);
    alarm(seconds);
}

#define GZ_INT(p) ((int)(intptr_t)(p))
#define GZ_PTR(i) ((void *)(intptr_t)(i))

#endif
