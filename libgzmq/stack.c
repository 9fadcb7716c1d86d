/* Greenlet stacks: mmap with a PROT_NONE guard region below, recycled
 * through a per-hub cache so that a warm spawn makes no syscall. A fault in
 * the guard, or below a stack its own stack pointer has left, is caught on
 * an alternate signal stack and named before abort. Past the map-count
 * budget stacks come from slabs without a guard; their lowest word serves
 * as a canary, checked at every switch (gz__stack_check). */

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
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
    struct gz_cached_stack *next;
    gz_stack s;
} gz_cached_stack;

/* The canary of main (on the thread's own stack, which has the kernel's
 * guard) and of guarded stacks: nothing writes it. */
static const uint64_t no_overflow;

void gz__stacks_init(gz_stacks *st, gz_stack *main)
{
    *st = (gz_stacks){0};
    main->canary = &no_overflow;
}

/* The calling thread's hub's stacks, NULL if it has no hub. */
static gz_stacks *my_stacks(void)
{
    gz_hub *h = gz__hub_peek();
    return h ? &h->stacks : NULL;
}

/* Atomic: the hubs of several threads may ask first at once. */
static size_t page_size(void)
{
    static _Atomic size_t ps;
    size_t p = atomic_load_explicit(&ps, memory_order_relaxed);
    if (!p) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&ps, p, memory_order_relaxed);
    }
    return p;
}

/* Each guarded stack costs two memory mappings, and the kernel allows
 * vm.max_map_count (65530 by default) per process. Past a budget that
 * leaves room for the rest of the process, stacks come unguarded from large
 * slabs, and the process is told so once on stderr. */
#define GZ_MAPS_RESERVED 8192
#define GZ_SLAB_STACKS 64

/* The guard region below each guarded stack: PROT_NONE address space, no
 * memory. A frame up to this size that runs off its stack faults in it
 * whatever it writes first; code built with -fstack-clash-protection
 * probes every page of a bigger frame, so it faults there too. */
#define GZ_DEFAULT_GUARD (64 * 1024)
#define GZ_MAX_GUARD ((size_t)256 << 20)

static long guarded_live;
static long guard_budget = -1;
static size_t guard_len = GZ_DEFAULT_GUARD;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

/* The number in environment variable NAME, if set and between MIN and MAX;
 * else false, with a message naming it when it is set but bad. */
static bool env_number(const char *name, unsigned long long min,
                       unsigned long long max, const char *want,
                       unsigned long long *out)
{
    const char *env = getenv(name);
    if (!env || !*env)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(env, &end, 0);
    /* strtoull takes leading blanks and a minus sign: a count has neither */
    if (isdigit((unsigned char)env[0]) && *end == '\0' && errno == 0 &&
        v >= min && v <= max) {
        *out = v;
        return true;
    }
    gz__warn("ignoring %s=%s (want %s)\n", name, env, want);
    return false;
}

static void read_settings(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    unsigned long long v;
    guard_budget = env_number("GZ_GUARDED_STACKS", 0, LONG_MAX,
                              "a count of stacks, 0 for none", &v)
                       ? (long)v
                       : (max > 2 * GZ_MAPS_RESERVED
                              ? (max - GZ_MAPS_RESERVED) / 2
                              : max / 4);
    if (env_number("GZ_STACK_GUARD", 1, GZ_MAX_GUARD,
                   "bytes between 1 and 268435456", &v))
        guard_len = ((size_t)v + page_size() - 1) & ~(page_size() - 1);
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
 * run of adjacent mappings (guard regions included: madvise spans them), since
 * each call costs a TLB shootdown. cold[0, cold_clean) are clean. */
static void release_dirty(gz_stacks *st)
{
    gz_stack *d = st->cold + st->cold_clean;
    size_t n = st->cold_len - st->cold_clean;
    qsort(d, n, sizeof *d, by_address);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && d[j].map == d[j - 1].map + d[j - 1].maplen)
            j++;
        madvise(d[i].map, (size_t)(d[j - 1].map + d[j - 1].maplen - d[i].map),
                MADV_DONTNEED);
        i = j;
    }
    st->cold_clean = st->cold_len;
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
static void retire(gz_stacks *st, gz_stack *s)
{
    if (!st) {
        destroy(s);
        return;
    }
    if (st->cold_len - st->cold_clean >= GZ_DIRTY_BATCH)
        release_dirty(st);
    if (st->cold_len == st->cold_cap) {
        size_t cap = st->cold_cap ? 2 * st->cold_cap : 256;
        gz_stack *n = realloc(st->cold, cap * sizeof *n);
        if (!n) {
            destroy(s);
            return;
        }
        st->cold = n;
        st->cold_cap = cap;
    }
    st->cold[st->cold_len++] = *s;
}

/* Take a cold stack of SIZE, the warmest (dirty) first. */
static bool take_cold(gz_stacks *st, gz_stack *s, size_t size)
{
    while (st && st->cold_len > 0) {
        gz_stack *c = &st->cold[st->cold_len - 1];
        if (c->size != size) { /* the stack size changed: drop it */
            destroy(c);
            st->cold_len--;
            if (st->cold_clean > st->cold_len)
                st->cold_clean = st->cold_len;
            continue;
        }
        *s = *c;
        st->cold_len--;
        if (st->cold_clean > st->cold_len)
            st->cold_clean = st->cold_len;
        return true;
    }
    return false;
}

static int map_guarded(gz_stack *s, size_t size)
{
    size_t len = size + guard_len;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (map == MAP_FAILED)
        return -1;
    if (mprotect(map, guard_len, PROT_NONE) != 0) {
        munmap(map, len);
        return -1;
    }
    __atomic_add_fetch(&guarded_live, 1, __ATOMIC_RELAXED);
    *s = (gz_stack){.lo = map + guard_len, .size = size, .map = map,
                    .maplen = len, .guarded = true};
    return 0;
}

static int carve_unguarded(gz_stacks *st, gz_stack *s, size_t size)
{
    static bool warned;
    if (st->slab_left == 0 || st->slab_size != size) {
        size_t len = size * GZ_SLAB_STACKS;
        char *slab = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                              MAP_STACK,
                          -1, 0);
        if (slab == MAP_FAILED)
            return -1;
        st->slab_next = slab;
        st->slab_left = GZ_SLAB_STACKS;
        st->slab_size = size;
    }
    if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
        gz__warn("%ld guarded greenlet stacks in use, the most "
                 "vm.max_map_count allows; further stacks have no guard page "
                 "(an overflow is found at the next switch, after it may "
                 "have corrupted a neighbour; raise vm.max_map_count or set "
                 "GZ_GUARDED_STACKS)\n",
                 __atomic_load_n(&guarded_live, __ATOMIC_RELAXED));
    *s = (gz_stack){.lo = st->slab_next, .size = size, .map = st->slab_next,
                    .maplen = size, .guarded = false};
    st->slab_next += size;
    st->slab_left--;
    return 0;
}

int gz__stack_get(gz_stack *s, size_t size)
{
    gz_stacks *st = my_stacks();
    size_t ps = page_size();
    size = (size + ps - 1) & ~(ps - 1);
    while (st && st->cache) {
        gz_cached_stack *c = st->cache;
        st->cache = c->next;
        st->cache_len--;
        gz_stack found = c->s;
        if (found.size == size) {
            *s = found;
            return 0;
        }
        destroy(&found); /* the stack size changed */
    }
    if (take_cold(st, s, size))
        return 0;
    pthread_once(&settings_once, read_settings);
    int rc = (__atomic_load_n(&guarded_live, __ATOMIC_RELAXED) < guard_budget ||
              !st)
                 ? map_guarded(s, size)
                 : carve_unguarded(st, s, size);
    if (rc != 0) {
        errno = ENOMEM;
        return -1;
    }
    /* A slab stack's canary is its lowest word: read, never written, so the
     * lowest page is not given memory for it. A guarded stack's overflow
     * faults in its guard instead, and its canary is the static zero: the
     * check then reads a hot line, not a page of its own (reading each
     * stack's lowest page cost 8-9 ns per spawn + join in TLB misses). */
    s->canary = s->guarded ? &no_overflow : (const uint64_t *)(void *)s->lo;
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
    gz_stacks *st = my_stacks();
    if (!s->map)
        return;
    gz__stack_reset(s);
    if (st && st->cache_len < GZ_STACK_CACHE_MAX) {
        /* The node sits at the top, where the next greenlet's first frames
         * go: the low pages stay untouched. */
        gz_cached_stack *c =
            (gz_cached_stack *)(void *)(s->lo + s->size - 64 -
                                        sizeof(gz_cached_stack));
        c->s = *s;
        c->next = st->cache; /* warmest first */
        st->cache = c;
        st->cache_len++;
    } else {
        retire(st, s);
    }
    s->map = NULL;
}

void gz__stack_cache_drain(void)
{
    gz_stacks *st = my_stacks();
    if (!st)
        return;
    while (st->cache) {
        gz_cached_stack *c = st->cache;
        st->cache = c->next;
        gz_stack s = c->s;
        destroy(&s);
    }
    st->cache_len = 0;
    for (size_t i = 0; i < st->cold_len; i++)
        destroy(&st->cold[i]);
    free(st->cold); /* slabs stay mapped: a leaked greenlet of this hub
                       may still run on a stack carved from one */
    st->cold = NULL;
    st->cold_len = st->cold_cap = st->cold_clean = 0;
}

/* ---- overflows ---- */

static struct sigaction old_segv, old_bus;
static _Thread_local void *altstack;

/* The stack the thread runs on in gz_call_hot, instead of its greenlet's. */
static _Thread_local const gz_stack *borrowed;

void gz__stack_borrow(const gz_stack *s) { borrowed = s; }

static void say_overflow(const gz_greenlet *g, const gz_stack *s,
                         const char *how)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "libgzmq: greenlet %s overflowed %s %zu-byte stack%s "
                     "(set a larger one with gz_set_stack_size or "
                     "GZ_STACK_SIZE)\n",
                     gz_name(g), s == borrowed ? "the hub's shared" : "its",
                     s->size, how);
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n
                                                    : sizeof msg - 1);
}

_Noreturn void gz__stack_overflowed(const gz_greenlet *g, const gz_stack *s)
{
    say_overflow(g, s,
                 s == borrowed
                     ? " in gz_call_hot, found when it returned: the stack has "
                       "no guard, and the memory below it may be corrupted"
                     : ", found when it switched out: the stack has no guard, "
                       "and the memory below it may be corrupted");
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* The interrupted stack pointer, or 0 where we cannot read it. */
static uintptr_t fault_sp(void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.sp;
#else
    (void)uc;
    return 0;
#endif
}

/* Whether a fault at ADDR, with the stack pointer at SP, is the overflow
 * of stack S. Below lo, within the guard region: what any frame up to the
 * guard's size, or a probed bigger one, hits first. Below lo, however far,
 * while the stack pointer too is below lo: an unprobed frame bigger than
 * the guard, which went off the stack (unless the code was running on the
 * alternate signal stack, a handler's, which can lie anywhere). */
static bool is_overflow(const gz_stack *s, uintptr_t addr, uintptr_t sp)
{
    uintptr_t lo = (uintptr_t)s->lo;
    if (addr >= lo)
        return false;
    if (lo - addr <= guard_len)
        return true;
    if (sp == 0 || sp >= lo)
        return false;
    stack_t alt;
    if (sigaltstack(NULL, &alt) == 0 && !(alt.ss_flags & SS_DISABLE) &&
        sp >= (uintptr_t)alt.ss_sp && sp - (uintptr_t)alt.ss_sp < alt.ss_size)
        return false;
    return true;
}

static void guard_handler(int sig, siginfo_t *si, void *uc)
{
    gz_greenlet *g = gz__hub_peek() ? gz_current() : NULL;
    const gz_stack *s = borrowed ? borrowed : g ? &g->stack : NULL;
    if (s && s->map && is_overflow(s, (uintptr_t)si->si_addr, fault_sp(uc))) {
        say_overflow(g, s, s == borrowed ? " in gz_call_hot" : "");
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

size_t gz__stacks_cached_bytes(const gz_stacks *st)
{
    size_t n = 0;
    for (const gz_cached_stack *c = st->cache; c; c = c->next)
        n += c->s.size;
    for (size_t i = 0; i < st->cold_len; i++)
        n += st->cold[i].size;
    return n;
}

__attribute__((no_sanitize_address)) size_t gz__stack_high_water(const gz_stack *s)
{
    /* Untouched pages of an anonymous mapping read zero: the lowest
     * non-zero word is as deep as any greenlet on this stack has gone. */
    const uint64_t *p = (const uint64_t *)(void *)s->lo;
    const uint64_t *end = (const uint64_t *)(void *)(s->lo + s->size);
    while (p < end && *p == 0)
        p++;
    return (size_t)((const char *)end - (const char *)p);
}
