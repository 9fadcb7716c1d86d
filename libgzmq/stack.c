/* Greenlet stacks: mmap with a PROT_NONE guard page below, recycled through
 * a per-hub cache so that a warm spawn makes no syscall. A hit on a guard
 * page is caught on an alternate signal stack and named before abort. */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gz_internal.h"

#ifdef GZ_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GZ_VALGRIND 1
#endif
#endif

/* Cached stacks beyond this many are unmapped. */
#define GZ_STACK_CACHE_MAX 1024

/* A free stack in the cache keeps its list node in its own top bytes. */
typedef struct gz_cached_stack {
    gz_list node;
    gz_stack s;
} gz_cached_stack;

static size_t page_size(void)
{
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

static void unmap(gz_stack *s)
{
#ifdef GZ_VALGRIND
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    munmap(s->map, s->maplen);
}

int gz__stack_get(gz_stack *s, size_t size)
{
    gz_hub *h = gz__hub_peek();
    size_t ps = page_size();
    size = (size + ps - 1) & ~(ps - 1);
    while (h && !gz__list_empty(&h->stack_cache)) {
        gz_cached_stack *c =
            GZ_CONTAINER(gz__list_pop(&h->stack_cache), gz_cached_stack, node);
        h->stack_cache_len--;
        gz_stack found = c->s;
        if (found.size == size) {
            *s = found;
            return 0;
        }
        unmap(&found); /* the stack size changed */
    }
    size_t len = size + ps;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (map == MAP_FAILED) {
        errno = ENOMEM;
        return -1;
    }
    if (mprotect(map, ps, PROT_NONE) != 0) {
        munmap(map, len);
        errno = ENOMEM;
        return -1;
    }
    s->map = map;
    s->maplen = len;
    s->lo = map + ps;
    s->size = size;
#ifdef GZ_VALGRIND
    s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + size);
#endif
    return 0;
}

void gz__stack_put(gz_stack *s)
{
    gz_hub *h = gz__hub_peek();
    if (!s->map)
        return;
#ifdef GZ_ASAN
    /* A greenlet that ended through gz_exit/gz_fail left its frames
     * poisoned; the next one must start from a clean stack. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
#endif
    if (h && h->stack_cache_len < GZ_STACK_CACHE_MAX) {
        /* The node sits at the top, where the next greenlet's first frames
         * go: the low pages stay untouched. */
        gz_cached_stack *c =
            (gz_cached_stack *)(void *)(s->lo + s->size - 64 -
                                        sizeof(gz_cached_stack));
        c->s = *s;
        gz__list_push_front(&h->stack_cache, &c->node); /* warmest first */
        h->stack_cache_len++;
    } else {
        unmap(s);
    }
    s->map = NULL;
}

void gz__stack_cache_drain(void)
{
    gz_hub *h = gz__hub_peek();
    gz_list *n;
    while (h && (n = gz__list_pop(&h->stack_cache))) {
        gz_cached_stack *c = GZ_CONTAINER(n, gz_cached_stack, node);
        gz_stack s = c->s;
        unmap(&s);
    }
    if (h)
        h->stack_cache_len = 0;
}

/* ---- guard page hits ---- */

static struct sigaction old_segv, old_bus;
static _Thread_local void *altstack;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    gz_hub *h = gz__hub_peek();
    gz_greenlet *g = h ? h->current : NULL;
    char *addr = si->si_addr;
    if (g && g->stack.map && addr >= g->stack.map - 65536 &&
        addr < g->stack.lo) {
        char msg[256];
        int n = snprintf(msg, sizeof msg,
                         "libgzmq: greenlet %s overflowed its %zu-byte stack "
                         "(set a larger one with gz_set_stack_size or "
                         "GZ_STACK_SIZE)\n",
                         gz_name(g), g->stack.size);
        if (n > 0)
            (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n
                                                        : sizeof msg - 1);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* Not ours: hand it to whoever was there before. */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    sigaction(sig, old, NULL); /* re-fault into the default action */
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

void gz__stack_guard_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_handler);
    if (altstack)
        return;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* someone (a sanitizer) already gave this thread one */
    size_t len = 64 * 1024;
    altstack = malloc(len);
    if (!altstack)
        return;
    stack_t ss = {.ss_sp = altstack, .ss_size = len, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        free(altstack);
        altstack = NULL;
    }
}

void gz__stack_guard_fini(void)
{
    if (!altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(altstack);
    altstack = NULL;
}
