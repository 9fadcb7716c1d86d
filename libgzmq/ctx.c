/* Laying out a fresh context for the assembly switches (ctx_<arch>.S). */
#ifndef GZ_CTX_UCONTEXT
#include <stdint.h>
#include <string.h>

#include "gz_internal.h"

void gz__ctx_start(void);

void gz__ctx_make(gz_ctx *ctx, void *lo, size_t size, void *(*entry)(void *),
                  void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* After the switch pops the 8-byte control slot, six registers and the
     * return address, rsp is X = top - 16, 16-byte aligned as the ABI wants
     * before gz__ctx_start's call. */
    uint64_t *sp = (uint64_t *)(top - 16 - 64);
    /* A new greenlet starts with the floating-point modes the thread had
     * when it first made one (fnstcw is slow enough to matter here). */
    static _Thread_local uint64_t csr __attribute__((tls_model("initial-exec")));
    if (!csr) {
        uint32_t mxcsr;
        uint16_t fcw;
        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
        __asm__ volatile("fnstcw %0" : "=m"(fcw));
        csr = (uint64_t)mxcsr | ((uint64_t)fcw << 32);
    }
    /* The other saved registers start with whatever is there: nothing
     * reads them before gz__ctx_start's callee sets them. rbp is cleared so
     * that frame-pointer walks end here. */
    sp[0] = csr;
    sp[3] = (uint64_t)(uintptr_t)entry; /* r13 */
    sp[4] = (uint64_t)(uintptr_t)arg;   /* r12 */
    sp[6] = 0;                          /* rbp */
    sp[7] = (uint64_t)(uintptr_t)gz__ctx_start;
    sp[8] = 0;                          /* a null return address above */
    ctx->sp = sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 176);
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)arg;          /* x19 */
    sp[1] = (uint64_t)(uintptr_t)entry;        /* x20 */
    sp[11] = (uint64_t)(uintptr_t)gz__ctx_start; /* x30 */
    sp[20] = fpcr;
    ctx->sp = sp;
#else
#error "no assembly context switch for this architecture: build with CTX=ucontext"
#endif
}
#endif
