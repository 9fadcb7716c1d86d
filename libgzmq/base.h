/* What every private header needs: branch hints, forced inlining and the
 * sanitizers' presence (GZ_ASAN, GZ_TSAN) with their interfaces. */
#ifndef GZ_BASE_H
#define GZ_BASE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The public types and contracts the private headers build on. */
#include "gzmq/core.h"

#if defined(__SANITIZE_ADDRESS__)
#define GZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GZ_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GZ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GZ_TSAN 1
#endif
#endif
#ifdef GZ_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef GZ_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define GZ_LIKELY(x) __builtin_expect(!!(x), 1)
#define GZ_INLINE static inline __attribute__((always_inline))
#define GZ_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Give a function a frame record even in a file built without frame
 * pointers, so that a blocking call's caller stays in a parked greenlet's
 * backtrace (runinfo.c walks the records): GZ_FRAMED on the definition and
 * GZ_KEEP_FRAME() first in its body (GCC needs the one, clang the other). */
#if defined(__clang__)
#define GZ_FRAMED
#define GZ_KEEP_FRAME() __asm__ volatile("" ::"r"(__builtin_frame_address(0)))
#else
#define GZ_FRAMED __attribute__((optimize("no-omit-frame-pointer")))
#define GZ_KEEP_FRAME() ((void)0)
#endif

/* Print a message to the user on stderr, prefixed with the library's name
 * (warn.c). */
void gz__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
