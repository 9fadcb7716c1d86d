/* A check of the context switch alone, without libev, so that it can be
 * cross-built and run under qemu-user (make check-aarch64): ping-pong with
 * a coroutine while callee-saved integer and floating-point registers and
 * the FP control register carry live values, and a call on another stack
 * (gz__ctx_call_on). Prints "N passed, N failed". */
#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "gz_internal.h"

static gz_ctx main_ctx, co_ctx;
static volatile long shared;

static void *co_entry(void *arg)
{
    long n = (long)arg;
    double acc = 0.25;
    for (long i = 0; i < n; i++) {
        shared += i;
        acc += 1.0;
        gz__ctx_switch(&co_ctx, &main_ctx);
    }
    shared = (long)acc;
    fesetround(FE_UPWARD); /* must not leak into main */
    gz__ctx_switch(&co_ctx, &main_ctx);
    abort();
}

static volatile char *on_stack_local;

static void on_stack(void *arg)
{
    volatile char local = 0;
    on_stack_local = &local;
    *(long *)arg *= 7;
}

int main(void)
{
    int pass = 0, fail = 0;
    size_t size = 256 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    gz__ctx_make(&co_ctx, stack, size, co_entry, (void *)1000L);
    long a = 1, b = 2, c = 3, d = 4;
    double x = 1.5, y = 2.5, z = 3.5;
    for (int i = 0; i < 1000; i++) {
        gz__ctx_switch(&main_ctx, &co_ctx);
        a += 1; b *= 3; c ^= i; d -= 2;
        x += 0.5; y *= 1.0; z -= 0.25;
    }
    long want_a = 1, want_b = 2, want_c = 3, want_d = 4;
    double wx = 1.5, wy = 2.5, wz = 3.5;
    for (int i = 0; i < 1000; i++) {
        want_a += 1; want_b *= 3; want_c ^= i; want_d -= 2;
        wx += 0.5; wy *= 1.0; wz -= 0.25;
    }
    (a == want_a && b == want_b && c == want_c && d == want_d) ? pass++ : fail++;
    (x == wx && y == wy && z == wz) ? pass++ : fail++;
    shared == 999L * 1000 / 2 ? pass++ : fail++;
    gz__ctx_switch(&main_ctx, &co_ctx); /* the coroutine's last turn */
    shared == 1000 ? pass++ : fail++;   /* 0.25 + 1000, truncated */
    fegetround() == FE_TONEAREST ? pass++ : fail++;
    long v = 6;
    long keep = 41; /* live across the call, in a callee-saved register or the frame */
    char *other = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    gz__ctx_call_on(other + size, on_stack, &v);
    (v == 42 && keep + 1 == 42) ? pass++ : fail++;
    ((char *)on_stack_local >= other && (char *)on_stack_local < other + size) ? pass++ : fail++;
    printf("ctx-cross: %d passed, %d failed\n", pass, fail);
    return fail != 0;
}
