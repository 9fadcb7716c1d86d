/* Context switch cost, ns per switch, three ways side by side:
 *   switch_gz_yield   two greenlets ping-ponging with gz_yield (the scheduler)
 *   switch_bare       the library's register swap (gz__ctx_switch) alone
 *   switch_ucontext   glibc swapcontext ping-pong
 *   switch_gz_yield_watchdog  the gz_yield ping-pong with the blocking
 *                     watchdog on (gz_monitor_start); both ping-pongs are
 *                     best of two, taken in turn
 * usage: switch [round trips [yield]]   (each round trip is two switches;
 *        "yield": the gz_yield ping-pong alone, for switch_instructions.sh) */
#include <gzmq.h>
#include <ucontext.h>

#include "bench.h"

/* Internal to libgzmq (hidden in the .so, present in libgzmq.a); declared
 * here with the layout of libgzmq/ctx.h's assembly gz_ctx. */
typedef struct bare_ctx { void *sp; } bare_ctx;
void gz__ctx_switch(bare_ctx *from, bare_ctx *to);
void gz__ctx_make(bare_ctx *ctx, void *lo, size_t size, void *(*entry)(void *), void *arg);

static long rounds;

static void *yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++)
        gz_yield();
    return NULL;
}

static double bench_gz_yield(void)
{
    gz_greenlet *a = gz_spawn(yielder, NULL), *b = gz_spawn(yielder, NULL);
    BENCH_CHECK(a && b);
    double t0 = bench_now();
    BENCH_CHECK(gz_join(a, GZ_FOREVER) == 0 && gz_join(b, GZ_FOREVER) == 0);
    double t = bench_now() - t0;
    gz_release(a);
    gz_release(b);
    return t * 1e9 / (2.0 * (double)rounds);
}

static bare_ctx bare_main, bare_co;

static void *bare_entry(void *arg)
{
    (void)arg;
    for (;;)
        gz__ctx_switch(&bare_co, &bare_main);
    return NULL; /* never reached */
}

static double bench_bare(void)
{
    size_t size = 64 * 1024;
    void *stack = malloc(size);
    BENCH_CHECK(stack);
    gz__ctx_make(&bare_co, stack, size, bare_entry, NULL);
    gz__ctx_switch(&bare_main, &bare_co); /* warm up */
    double t0 = bench_now();
    for (long i = 0; i < rounds; i++)
        gz__ctx_switch(&bare_main, &bare_co);
    double t = bench_now() - t0;
    free(stack);
    return t * 1e9 / (2.0 * (double)rounds);
}

static ucontext_t uc_main, uc_co;

static void uc_entry(void)
{
    for (;;)
        swapcontext(&uc_co, &uc_main);
}

static double bench_ucontext(long n)
{
    size_t size = 64 * 1024;
    void *stack = malloc(size);
    BENCH_CHECK(stack);
    BENCH_CHECK(getcontext(&uc_co) == 0);
    uc_co.uc_stack.ss_sp = stack;
    uc_co.uc_stack.ss_size = size;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_entry, 0);
    swapcontext(&uc_main, &uc_co);
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        swapcontext(&uc_main, &uc_co);
    double t = bench_now() - t0;
    free(stack);
    return t * 1e9 / (2.0 * (double)n);
}

int main(int argc, char **argv)
{
    rounds = bench_arg(argc, argv, 1, 5000000);
    if (argc > 2 && strcmp(argv[2], "yield") == 0) {
        bench_result("switch_gz_yield", bench_gz_yield(), "ns");
        return 0;
    }
    double off = 1e9, on = 1e9;
    for (int i = 0; i < 2; i++) {
        double t = bench_gz_yield();
        off = t < off ? t : off;
        BENCH_CHECK(gz_monitor_start(1.0, NULL, NULL) == 0);
        t = bench_gz_yield();
        on = t < on ? t : on;
        BENCH_CHECK(gz_monitor_stop() == 0);
    }
    bench_result("switch_gz_yield", off, "ns");
    bench_result("switch_gz_yield_watchdog", on, "ns");
    bench_result("switch_bare", bench_bare(), "ns");
    /* swapcontext makes a sigprocmask syscall per switch: fewer rounds */
    bench_result("switch_ucontext", bench_ucontext(rounds / 20 + 1), "ns");
    return 0;
}
