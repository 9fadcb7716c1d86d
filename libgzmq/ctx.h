/* The context switch: ctx_<arch>.S, or ctx_ucontext.c (GZ_CTX_UCONTEXT). */
#ifndef GZ_CTX_H
#define GZ_CTX_H

#include "base.h"

#ifdef GZ_CTX_UCONTEXT
#include <ucontext.h>
typedef struct gz_ctx {
    ucontext_t uc;
} gz_ctx;
#else
typedef struct gz_ctx {
    void *sp; /* saved stack pointer; registers live on the stack */
} gz_ctx;
#endif

/* Prepare CTX to call entry(arg) on the stack [lo, lo + size) when first
 * switched to. Entry returns only where GZ_CTX_FAST_EXIT is defined, with
 * the saved stack pointer (gz_ctx.sp) of the context to resume. */
void gz__ctx_make(gz_ctx *ctx, void *lo, size_t size, void *(*entry)(void *),
                  void *arg);
/* Save the callee-saved state in FROM and resume TO. */
void gz__ctx_switch(gz_ctx *from, gz_ctx *to);
#if defined(__x86_64__) && !defined(GZ_CTX_UCONTEXT) && !defined(GZ_ASAN) && \
    !defined(GZ_TSAN)
/* The same for a TO that has never run, keeping the CPU's return-address
 * predictor in step (ctx_x86_64.S); an ended greenlet's entry function
 * returns the next context instead of switching to it. */
#define GZ_CTX_FAST_EXIT 1
void gz__ctx_begin(gz_ctx *from, gz_ctx *to);
#endif
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(GZ_CTX_UCONTEXT) && \
    !defined(GZ_ASAN) && !defined(GZ_TSAN)
/* Call fn(arg) with the stack pointer at TOP (16-byte aligned), and return
 * on the caller's stack: no context is saved, as fn returns (gz_call_hot).
 * Elsewhere (the sanitizers track one stack per context) fn runs in place. */
#define GZ_CTX_CALL_ON 1
void gz__ctx_call_on(void *top, void (*fn)(void *), void *arg);
#endif

#endif
