/* Portable context switch on ucontext (CTX=ucontext): a syscall per switch
 * for the signal mask, so only a fallback for unknown architectures. */
#ifdef GZ_CTX_UCONTEXT
#include <stdint.h>
#include <stdlib.h>

#include "gz_internal.h"

/* makecontext passes int arguments only: split the pointers in halves. */
static void trampoline(unsigned e_hi, unsigned e_lo, unsigned a_hi,
                       unsigned a_lo)
{
    void *(*entry)(void *) =
        (void *(*)(void *))(((uintptr_t)e_hi << 32) | (uintptr_t)e_lo);
    void *arg = (void *)(((uintptr_t)a_hi << 32) | (uintptr_t)a_lo);
    entry(arg);
    abort();
}

void gz__ctx_make(gz_ctx *ctx, void *lo, size_t size, void *(*entry)(void *),
                  void *arg)
{
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))trampoline, 4,
                (unsigned)(e >> 32), (unsigned)e, (unsigned)(a >> 32),
                (unsigned)a);
}

void gz__ctx_switch(gz_ctx *from, gz_ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}
#endif
