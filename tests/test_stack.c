/* stack.c: guarded stacks, recycling, and the overflow report. */
#include "gz_test.h"

static int depth(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : depth(n - 1) + pad[0];
}

static void *recurse(void *arg)
{
    return GZ_PTR(depth(GZ_INT(arg)));
}

static void deep_recursion_within_the_stack_works(void **state)
{
    (void)state;
    gz_greenlet *g = gz_spawn(recurse, GZ_PTR(100)); /* ~50 KiB */
    void *v;
    assert_int_equal(gz_get(g, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 100 * 101 / 2);
    gz_release(g);
}

static const char *self_path;
static volatile uintptr_t local_address;

static void *address_of_local(void *arg)
{
    (void)arg;
    volatile int local = 0;
    local_address = (uintptr_t)&local;
    return (void *)local_address;
}

static void ended_greenlets_stacks_are_reused(void **state)
{
    (void)state;
    void *first = NULL;
    for (int i = 0; i < 3; i++) {
        gz_greenlet *g = gz_spawn(address_of_local, NULL);
        void *v;
        assert_int_equal(gz_get(g, &v, 1.0), 0);
        gz_release(g);
        if (i == 0)
            first = v;
        else
            assert_ptr_equal(v, first); /* same stack, same frame address */
    }
}

static void *overflow(void *arg)
{
    (void)arg;
    return GZ_PTR(depth(1 << 20));
}


/* Run in a fresh process (cmocka replaces SIGSEGV handlers during tests). */
static int overflow_child(void)
{
    gz_set_stack_size(64 * 1024);
    gz_greenlet *g = gz_greenlet_new(overflow, NULL);
    gz_set_name(g, "deep-thinker");
    gz_start(g);
    gz_join(g, 5.0);
    return 0; /* not reached: the overflow aborts */
}

static void *yield_then_sum(void *arg)
{
    gz_yield();
    return GZ_PTR(depth(GZ_INT(arg)));
}

/* Past the guard budget stacks come from slabs, with a single warning. */
static int unguarded_child(void)
{
    enum { N = 200 };
    gz_greenlet *g[N];
    for (int round = 0; round < 3; round++) { /* reuse evicted slab stacks */
        for (int i = 0; i < N; i++)
            if (!(g[i] = gz_spawn(yield_then_sum, GZ_PTR(20))))
                return 1;
        for (int i = 0; i < N; i++) {
            void *v;
            if (gz_get(g[i], &v, 5.0) != 0 || GZ_INT(v) != 210)
                return 2;
            gz_release(g[i]);
        }
    }
    return 0;
}

static void exec_unguarded(void *arg)
{
    (void)arg;
    setenv("GZ_GUARDED_STACKS", "5", 1);
    execl(self_path, self_path, "--unguarded", (char *)NULL);
    _exit(127);
}

static void stacks_past_the_map_budget_are_unguarded_and_said_so(void **state)
{
    (void)state;
    char buf[2048];
    int status = gz_test_child(exec_unguarded, NULL, buf, sizeof buf);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    const char *w = strstr(buf, "further stacks have no guard page");
    assert_non_null(w);
    assert_null(strstr(w + 1, "further stacks have no guard page"));
}

/* ---- stack clash: frames that step over a guard, and unguarded stacks ---- */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The lowest byte of the running greenlet's stack: the greenlet's first
 * frames sit in its top page, and stacks are whole pages of the size set. */
static __attribute__((noinline)) char *stack_lo(void)
{
    volatile char here = 0;
    uintptr_t top = ((uintptr_t)&here + 4095) & ~(uintptr_t)4095;
    return (char *)(top - gz_stack_size()) + here;
}

/* One 10 KB frame whose lowest byte is written first: called within 3 KiB
 * of the stack's end, that byte lies about 7 KiB below it, past a one-page
 * guard and inside the next stack down. */
/* The compiler must believe all of BUF is used, or it keeps one byte. */
#define ESCAPE(buf) __asm__ volatile("" : : "r"(buf) : "memory")

static __attribute__((noinline)) int ten_kb_frame(int n)
{
    volatile char buf[10 * 1024];
    ESCAPE(buf);
    buf[0] = (char)n;
    return buf[0];
}

/* Recurse on small frames to within NEAR bytes of LO, then call LAST. */
static int descend(char *lo, size_t near, int (*last)(int), int n)
{
    volatile char pad[128];
    pad[0] = (char)n;
    if ((size_t)((char *)pad - lo) > near)
        return descend(lo, near, last, n + 1) + pad[0];
    return last(n) + pad[0];
}

enum { PATTERN = 0x5a, NEIGHBOUR_BYTES = 4096 };
static volatile int neighbour_ready;

/* Keeps a page of locals at the top of its stack, checks it after the
 * neighbour above it has run: exits 3 if it changed under it. */
static void *neighbour(void *arg)
{
    (void)arg;
    volatile char mine[NEIGHBOUR_BYTES];
    for (size_t i = 0; i < sizeof mine; i++)
        mine[i] = PATTERN;
    neighbour_ready = 1;
    for (int i = 0; i < 3; i++)
        gz_yield();
    for (size_t i = 0; i < sizeof mine; i++)
        if (mine[i] != PATTERN)
            _exit(3);
    return NULL;
}

static void *clasher(void *arg)
{
    (void)arg;
    while (!neighbour_ready)
        gz_yield();
    return GZ_PTR(descend(stack_lo(), 3072, ten_kb_frame, 0));
}

/* A recursion whose 10 KB frame lands past the end of its stack: the stack
 * mapped just below (made next) belongs to a greenlet holding locals. */
static int clash_child(void)
{
    gz_set_stack_size(64 * 1024);
    gz_greenlet *a = gz_greenlet_new(clasher, NULL);
    gz_set_name(a, "clasher");
    gz_start(a); /* its stack is mapped first, above the neighbour's */
    gz_greenlet *b = gz_spawn(neighbour, NULL);
    if (!b || gz_join(a, 5.0) != 0 || gz_join(b, 5.0) != 0)
        return 2;
    return 0; /* the overflow went unnoticed */
}

static void *hoarder(void *arg)
{
    (void)arg;
    volatile char big[1 << 20];
    ESCAPE(big);
    big[0] = 1;
    return GZ_PTR(big[0]);
}

static int huge_child(void)
{
    gz_set_stack_size(256 * 1024);
    gz_greenlet *g = gz_greenlet_new(hoarder, NULL);
    gz_set_name(g, "hoarder");
    gz_start(g);
    gz_join(g, 5.0);
    return 0;
}

/* Writes 512 bytes across the end of its stack: about 300 bytes past it. */
static __attribute__((noinline)) int small_overrun(int n)
{
    volatile char buf[512];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(0xa5 ^ n);
    return buf[0];
}

static void *overrunner(void *arg)
{
    (void)arg;
    int v = descend(stack_lo(), 384, small_overrun, 0);
    gz_yield(); /* the switch out finds the overrun */
    return GZ_PTR(v);
}

static void *parked(void *arg)
{
    (void)arg;
    gz_sleep(1.0);
    return NULL;
}

/* Slab stacks only (GZ_GUARDED_STACKS=0): the first one made lies just
 * below the second, so the second's overrun lands in it without a fault. */
static int canary_child(void)
{
    gz_set_stack_size(64 * 1024);
    gz_greenlet *below = gz_spawn(parked, NULL);
    gz_greenlet *g = gz_greenlet_new(overrunner, NULL);
    gz_set_name(g, "overrunner");
    gz_start(g);
    if (!below || gz_join(g, 5.0) != 0)
        return 2;
    return 0; /* the overrun went unnoticed */
}

/* Spawns and joins one greenlet: the environment's settings were read. */
static int env_child(void)
{
    gz_greenlet *g = gz_spawn(recurse, GZ_PTR(10));
    void *v;
    return g && gz_get(g, &v, 5.0) == 0 && GZ_INT(v) == 55 ? 0 : 1;
}

struct exec_env {
    const char *name, *value, *mode;
};

static void exec_with_env(void *arg)
{
    const struct exec_env *e = arg;
    setenv(e->name, e->value, 1);
    execl(self_path, self_path, e->mode, (char *)NULL);
    _exit(127);
}

static int run_with_env(const char *name, const char *value, const char *mode,
                        char *buf, size_t len)
{
    struct exec_env e = {name, value, mode};
    return gz_test_child(exec_with_env, &e, buf, len);
}

static void a_10kb_frame_past_the_guard_is_named_not_corrupting(void **state)
{
    (void)state;
    char buf[1024];
    int status = gz_test_exec(self_path, "--clash", buf, sizeof buf);
    assert_false(WIFEXITED(status)); /* exit 3: the neighbour's locals changed */
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "greenlet clasher overflowed its 65536-byte stack"));
}

static void a_1mib_local_array_is_named(void **state)
{
    (void)state;
    char buf[1024];
    int status = gz_test_exec(self_path, "--huge", buf, sizeof buf);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "greenlet hoarder overflowed its 262144-byte stack"));
}

static void an_unguarded_stack_overrun_is_named_at_the_next_switch(void **state)
{
    (void)state;
    char buf[2048];
    int status = run_with_env("GZ_GUARDED_STACKS", "0", "--canary", buf, sizeof buf);
#ifdef UNDER_ASAN
    /* ASan sees the write land in the neighbour's poisoned frames first */
    if (strstr(buf, "AddressSanitizer: stack-buffer-overflow"))
        return;
#endif
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "greenlet overrunner overflowed its 65536-byte stack"));
}

static void bad_guard_settings_are_rejected_with_a_message(void **state)
{
    (void)state;
    static const char *const bad[] = {"abc", "-1", "12x", " 5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[2048], want[128];
        int status = run_with_env("GZ_GUARDED_STACKS", bad[i], "--env", buf, sizeof buf);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        snprintf(want, sizeof want, "ignoring GZ_GUARDED_STACKS=%s", bad[i]);
        assert_non_null(strstr(buf, want));
        /* the default budget stays: stacks keep their guard */
        assert_null(strstr(buf, "no guard page"));
    }
    static const char *const bad_guard[] = {"abc", "0", "-4096", "1e6", "2147483648000"};
    for (size_t i = 0; i < sizeof bad_guard / sizeof *bad_guard; i++) {
        char buf[2048], want[128];
        int status = run_with_env("GZ_STACK_GUARD", bad_guard[i], "--env", buf, sizeof buf);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        snprintf(want, sizeof want, "ignoring GZ_STACK_GUARD=%s", bad_guard[i]);
        assert_non_null(strstr(buf, want));
    }
    char buf[2048]; /* a good one is taken silently */
    int status = run_with_env("GZ_STACK_GUARD", "131072", "--env", buf, sizeof buf);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(buf, "");
}

static void overflow_is_named_before_abort(void **state)
{
    (void)state;
    char buf[1024];
    int status = gz_test_exec(self_path, "--overflow", buf, sizeof buf);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "greenlet deep-thinker overflowed its 65536-byte stack"));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--overflow") == 0)
        return overflow_child();
    if (argc > 1 && strcmp(argv[1], "--unguarded") == 0)
        return unguarded_child();
    if (argc > 1 && strcmp(argv[1], "--clash") == 0)
        return clash_child();
    if (argc > 1 && strcmp(argv[1], "--huge") == 0)
        return huge_child();
    if (argc > 1 && strcmp(argv[1], "--canary") == 0)
        return canary_child();
    if (argc > 1 && strcmp(argv[1], "--env") == 0)
        return env_child();
    self_path = argv[0];
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deep_recursion_within_the_stack_works),
        cmocka_unit_test(ended_greenlets_stacks_are_reused),
        cmocka_unit_test(overflow_is_named_before_abort),
        cmocka_unit_test(stacks_past_the_map_budget_are_unguarded_and_said_so),
        cmocka_unit_test(a_10kb_frame_past_the_guard_is_named_not_corrupting),
        cmocka_unit_test(a_1mib_local_array_is_named),
        cmocka_unit_test(an_unguarded_stack_overrun_is_named_at_the_next_switch),
        cmocka_unit_test(bad_guard_settings_are_rejected_with_a_message),
    };
    return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
