/* hot.c: gz_call_hot runs its function on one shared stack per hub, where
 * green calls fail with EPERM; a nested call, an overflow and gz_exit. */
#include "gz_test.h"

/* Where the function really changes stacks (not under the sanitizers or
 * the ucontext build, which run it in place). */
#if defined(GZ_CTX_UCONTEXT) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SHARED_STACK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SHARED_STACK 0
#endif
#endif
#ifndef SHARED_STACK
#define SHARED_STACK 1
#endif

static const char *self_path;

typedef struct probe {
    int in;
    int out;
    uintptr_t local; /* the address of a local of the function */
} probe;

static void note_local(void *arg)
{
    probe *p = arg;
    volatile int local = p->in;
    p->local = (uintptr_t)&local;
    p->out = local * 2;
}

static void runs_the_function_with_its_argument(void **state)
{
    (void)state;
    probe p = {.in = 21};
    assert_int_equal(gz_call_hot(note_local, &p), 0);
    assert_int_equal(p.out, 42);
    assert_fails(gz_call_hot(NULL, &p), EINVAL);
}

static void *call_from_greenlet(void *arg)
{
    probe *p = arg;
    volatile int own = 0;
    (void)own;
    return GZ_PTR(gz_call_hot(note_local, p));
}

static void every_greenlet_runs_it_on_the_same_stack(void **state)
{
    (void)state;
    probe a = {.in = 1}, b = {.in = 2};
    gz_greenlet *ga = gz_spawn(call_from_greenlet, &a);
    gz_greenlet *gb = gz_spawn(call_from_greenlet, &b);
    /* Both are alive at once: their own stacks differ. */
    void *va, *vb;
    assert_int_equal(gz_get(ga, &va, 1.0), 0);
    assert_int_equal(gz_get(gb, &vb, 1.0), 0);
    assert_int_equal(GZ_INT(va), 0);
    assert_int_equal(GZ_INT(vb), 0);
    assert_int_equal(a.out + b.out, 6);
    if (SHARED_STACK)
        assert_true(a.local == b.local); /* the same frame on the same stack */
    gz_release(ga);
    gz_release(gb);
}

typedef struct tries {
    int sleep_rc, sleep_errno;
    int yield_rc, yield_errno;
    int get_rc, get_errno;
    gz_greenlet *self;
} tries;

static void try_to_wait(void *arg)
{
    tries *t = arg;
    gz_queue *q = gz_queue_new(0);
    void *item;
    t->sleep_rc = gz_sleep(0.001);
    t->sleep_errno = errno;
    t->yield_rc = gz_yield();
    t->yield_errno = errno;
    t->get_rc = gz_queue_get(q, &item, 0);
    t->get_errno = errno;
    t->self = gz_current();
    gz_queue_free(q);
}

static void *wait_inside(void *arg)
{
    assert_int_equal(gz_call_hot(try_to_wait, arg), 0);
    return GZ_PTR(gz_sleep(0.001)); /* waiting works again after */
}

static void green_calls_inside_fail_with_eperm(void **state)
{
    (void)state;
    tries t = {0};
    gz_greenlet *g = gz_spawn(wait_inside, &t);
    void *v;
    assert_int_equal(gz_get(g, &v, 1.0), 0);
    assert_int_equal(GZ_INT(v), 0);
    assert_int_equal(t.sleep_rc, -1);
    assert_int_equal(t.sleep_errno, EPERM);
    assert_int_equal(t.yield_rc, -1);
    assert_int_equal(t.yield_errno, EPERM);
    assert_int_equal(t.get_rc, -1);
    assert_int_equal(t.get_errno, EPERM);
    assert_ptr_equal(t.self, g); /* still the caller's greenlet */
    gz_release(g);
}

typedef struct nest {
    probe inner;
    uintptr_t outer_local;
    int rc;
} nest;

static void call_again(void *arg)
{
    nest *n = arg;
    volatile int local = 0;
    n->outer_local = (uintptr_t)&local;
    n->rc = gz_call_hot(note_local, &n->inner);
}

static void a_nested_call_runs_in_place(void **state)
{
    (void)state;
    nest n = {.inner = {.in = 5}, .rc = -1};
    assert_int_equal(gz_call_hot(call_again, &n), 0);
    assert_int_equal(n.rc, 0);
    assert_int_equal(n.inner.out, 10);
    /* The inner frame sits just below the outer one. */
    uintptr_t gap = n.outer_local > n.inner.local ? n.outer_local - n.inner.local
                                                  : n.inner.local - n.outer_local;
    assert_true(gap < 4096);
}

static int depth(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : depth(n - 1) + pad[0];
}

static void recurse(void *arg)
{
    int *n = arg;
    *n = depth(*n);
}

static void deep_recursion_within_the_stack_works(void **state)
{
    (void)state;
    int n = 100; /* ~50 KiB */
    assert_int_equal(gz_call_hot(recurse, &n), 0);
    assert_int_equal(n, 100 * 101 / 2);
}

/* ---- misuse, in a fresh process (cmocka replaces the signal handlers) ---- */

static void *overflow_in_hot(void *arg)
{
    (void)arg;
    int n = 1 << 20;
    gz_call_hot(recurse, &n);
    return NULL;
}

static int overflow_child(void)
{
    gz_set_stack_size(64 * 1024);
    gz_greenlet *g = gz_greenlet_new(overflow_in_hot, NULL);
    gz_set_name(g, "deep-parser");
    gz_start(g);
    gz_join(g, 5.0);
    return 0; /* not reached: the overflow aborts */
}

static void exit_inside(void *arg)
{
    (void)arg;
    gz_exit(NULL);
}

static void *call_exit_inside(void *arg)
{
    (void)arg;
    gz_call_hot(exit_inside, NULL);
    return NULL;
}

static int exit_child(void)
{
    gz_greenlet *g = gz_greenlet_new(call_exit_inside, NULL);
    gz_set_name(g, "quitter");
    gz_start(g);
    gz_join(g, 5.0);
    return 0; /* not reached */
}

/* Run this program with MODE in a fresh process: it must abort saying WANT. */
static void aborts_saying(const char *mode, const char *want)
{
    char buf[1024];
    int status = gz_test_exec(self_path, mode, buf, sizeof buf);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, want));
}

static void an_overflow_of_the_shared_stack_is_named(void **state)
{
    (void)state;
    if (!SHARED_STACK)
        skip(); /* in place, it is the greenlet's own (test_stack) */
    aborts_saying("--overflow", "greenlet deep-parser overflowed the hub's shared "
                                "65536-byte stack in gz_call_hot");
}

static void gz_exit_inside_is_named_before_abort(void **state)
{
    (void)state;
    aborts_saying("--exit", "greenlet quitter called gz_exit or gz_fail inside gz_call_hot");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--overflow") == 0)
        return overflow_child();
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return exit_child();
    self_path = argv[0];
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_the_function_with_its_argument),
        cmocka_unit_test(every_greenlet_runs_it_on_the_same_stack),
        cmocka_unit_test(green_calls_inside_fail_with_eperm),
        cmocka_unit_test(a_nested_call_runs_in_place),
        cmocka_unit_test(deep_recursion_within_the_stack_works),
        cmocka_unit_test(an_overflow_of_the_shared_stack_is_named),
        cmocka_unit_test(gz_exit_inside_is_named_before_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
