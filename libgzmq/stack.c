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

/* Warm stacks kept ready; beyond this many they go cold (retire). */
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

/* Each guarded stack costs two memory mappings, and the kernel allows
 * vm.max_map_count (65530 by default) per process. Past a budget that
 * leaves room for the rest of the process, stacks come unguarded from large
 * slabs, and the process is told so once on stderr. */
#define GZ_MAPS_RESERVED 8192
#define GZ_SLAB_STACKS 64

static long guarded_live;
static long guard_budget = -1;
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;

static void read_budget(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    const char *env = getenv("GZ_GUARDED_STACKS");
    guard_budget = env && *env ? atol(env)
                               : (max > 2 * GZ_MAPS_RESERVED
                                      ? (max - GZ_MAPS_RESERVED) / 2
                                      : max / 4);
}

/* Cold stacks keep their pages until this many have gathered: a program
 * that churns through thousands of live greenlets reuses them without page
 * faults, at the price of holding their touched pages (about 4 KiB each). */
#define GZ_DIRTY_BATCH 16384

static int by_address(const void *a, const void *b)
{
    const char *x = ((const gz_stack *)a)->map, *y = ((const gz_stack *)b)->map;
    return x < y ? -1 : x > y;
}

/* Give back the pages of the cold stacks not yet released, one madvise per
 * run of adjacent mappings (guard pages included: madvise spans them), since
 * each call costs a TLB shootdown. cold[0, cold_clean) are clean. */
static void release_dirty(gz_hub *h)
{
    gz_stack *d = h->cold + h->cold_clean;
    size_t n = h->cold_len - h->cold_clean;
    qsort(d, n, sizeof *d, by_address);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && d[j].map == d[j - 1].map + d[j - 1].maplen)
            j++;
        madvise(d[i].map, (size_t)(d[j - 1].map + d[j - 1].maplen - d[i].map),
                MADV_DONTNEED);
        i = j;
    }
    h->cold_clean = h->cold_len;
}

/* Really let go of a stack (its size is no longer wanted). A slab stack
 * cannot be unmapped alone without splitting the slab's mapping: its pages
 * go back and its addresses stay. */
static void destroy(gz_stack *s)
{
#ifdef GZ_VALGRIND
    VALGRIND_STACK_DEREGISTER(s->vg_id);
#endif
    if (s->guarded) {
        munmap(s->map, s->maplen);
        __atomic_sub_fetch(&guarded_live, 1, __ATOMIC_RELAXED);
    } else {
        madvise(s->lo, s->size, MADV_DONTNEED);
    }
}

/* A stack past the warm cache goes cold: kept for reuse, its pages given
 * back in batches. munmap would cost a TLB shootdown per stack. */
static void retire(gz_hub *h, gz_stack *s)
{
    if (!h) {
        destroy(s);
        return;
    }
    if (h->cold_len - h->cold_clean >= GZ_DIRTY_BATCH)
        release_dirty(h);
    if (h->cold_len == h->cold_cap) {
        size_t cap = h->cold_cap ? 2 * h->cold_cap : 256;
        gz_stack *n = realloc(h->cold, cap * sizeof *n);
        if (!n) {
            destroy(s);
            return;
        }
        h->cold = n;
        h->cold_cap = cap;
    }
    h->cold[h->cold_len++] = *s;
}

/* Take a cold stack of SIZE, the warmest (dirty) first. */
static bool take_cold(gz_hub *h, gz_stack *s, size_t size)
{
    while (h && h->cold_len > 0) {
        gz_stack *c = &h->cold[h->cold_len - 1];
        if (c->size != size) { /* the stack size changed: drop it */
            destroy(c);
            h->cold_len--;
            if (h->cold_clean > h->cold_len)
                h->cold_clean = h->cold_len;
            continue;
        }
        *s = *c;
        h->cold_len--;
        if (h->cold_clean > h->cold_len)
            h->cold_clean = h->cold_len;
        return true;
    }
    return false;
}

static int map_guarded(gz_stack *s, size_t size, size_t ps)
{
    size_t len = size + ps;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (map == MAP_FAILED)
        return -1;
    if (mprotect(map, ps, PROT_NONE) != 0) {
        munmap(map, len);
        return -1;
    }
    __atomic_add_fetch(&guarded_live, 1, __ATOMIC_RELAXED);
    *s = (gz_stack){.lo = map + ps, .size = size, .map = map, .maplen = len,
                    .guarded = true};
    return 0;
}

static int carve_unguarded(gz_hub *h, gz_stack *s, size_t size)
{
    static bool warned;
    if (h->slab_left == 0 || h->slab_size != size) {
        size_t len = size * GZ_SLAB_STACKS;
        char *slab = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                              MAP_STACK,
                          -1, 0);
        if (slab == MAP_FAILED)
            return -1;
        h->slab_next = slab;
        h->slab_left = GZ_SLAB_STACKS;
        h->slab_size = size;
    }
    if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
        fprintf(stderr,
                "libgzmq: %ld guarded greenlet stacks in use, the most "
                "vm.max_map_count allows; further stacks have no guard page "
                "(raise vm.max_map_count or set GZ_GUARDED_STACKS)\n",
                __atomic_load_n(&guarded_live, __ATOMIC_RELAXED));
    *s = (gz_stack){.lo = h->slab_next, .size = size, .map = h->slab_next,
                    .maplen = size, .guarded = false};
    h->slab_next += size;
    h->slab_left--;
    return 0;
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
        destroy(&found); /* the stack size changed */
    }
    if (take_cold(h, s, size))
        return 0;
    pthread_once(&budget_once, read_budget);
    int rc = (__atomic_load_n(&guarded_live, __ATOMIC_RELAXED) < guard_budget ||
              !h)
                 ? map_guarded(s, size, ps)
                 : carve_unguarded(h, s, size);
    if (rc != 0) {
        errno = ENOMEM;
        return -1;
    }
#ifdef GZ_VALGRIND
    s->vg_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + size);
#endif
    return 0;
}

#ifdef GZ_ASAN
void gz__stack_reset(gz_stack *s)
{
    /* A greenlet that ended through gz_exit/gz_fail left its frames
     * poisoned; the next one must start from a clean stack. */
    ASAN_UNPOISON_MEMORY_REGION(s->lo, s->size);
}
#endif

void gz__stack_put(gz_stack *s)
{
    gz_hub *h = gz__hub_peek();
    if (!s->map)
        return;
    gz__stack_reset(s);
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
        retire(h, s);
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
        destroy(&s);
    }
    if (h) {
        h->stack_cache_len = 0;
        for (size_t i = 0; i < h->cold_len; i++)
            destroy(&h->cold[i]);
        free(h->cold); /* slabs stay mapped: a leaked greenlet of this hub
                          may still run on a stack carved from one */
        h->cold = NULL;
        h->cold_len = h->cold_cap = h->cold_clean = 0;
    }
}

/* ---- guard page hits ---- */

static struct sigaction old_segv, old_bus;
static _Thread_local void *altstack;

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    gz_hub *h = gz__hub_peek();
    gz_greenlet *g = h ? h->current : NULL;
    char *addr = si->si_addr;
    if (g && g->stack.map && g->stack.guarded && addr >= g->stack.map - 65536 &&
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
