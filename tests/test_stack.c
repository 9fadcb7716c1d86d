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
    self_path = argv[0];
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deep_recursion_within_the_stack_works),
        cmocka_unit_test(ended_greenlets_stacks_are_reused),
        cmocka_unit_test(overflow_is_named_before_abort),
        cmocka_unit_test(stacks_past_the_map_budget_are_unguarded_and_said_so),
    };
    return cmocka_run_group_tests_name("stack", tests, NULL, NULL);
}
