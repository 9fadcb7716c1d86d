/* locals.c: gz_key_create / delete, gz_getspecific / gz_setspecific,
 * destructors, GZ_KEY_INHERIT, limits and misuse. */
#include <pthread.h>

#include "gz_test.h"

static int destroyed;
static void count_free(void *v)
{
    destroyed++;
    free(v);
}

static gz_key key;

static void *set_own_value(void *arg)
{
    int *v = malloc(sizeof *v);
    *v = (int)(intptr_t)arg;
    if (gz_setspecific(key, v) != 0)
        return NULL;
    gz_sleep(0); /* others run and set theirs meanwhile */
    int *back = gz_getspecific(key);
    return back == v && *back == (int)(intptr_t)arg ? GZ_PTR(1) : NULL;
}

static void each_greenlet_sees_its_own_value(void **state)
{
    (void)state;
    destroyed = 0;
    assert_int_equal(gz_key_create(&key, count_free), 0);
    gz_greenlet *g[4];
    for (int i = 0; i < 4; i++)
        g[i] = gz_spawn(set_own_value, GZ_PTR(i + 10));
    assert_int_equal(gz_joinall(g, 4, GZ_FOREVER), 4);
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(gz_value(g[i]), GZ_PTR(1));
        gz_release(g[i]);
    }
    assert_int_equal(destroyed, 4); /* each ended greenlet freed its value */
    assert_null(gz_getspecific(key)); /* main set nothing */
    assert_int_equal(gz_key_delete(key), 0);
}

static void *set_and_sleep(void *arg)
{
    gz_setspecific(key, arg);
    gz_sleep(10);
    return NULL;
}

static void destructor_runs_when_killed(void **state)
{
    (void)state;
    destroyed = 0;
    assert_int_equal(gz_key_create(&key, count_free), 0);
    gz_greenlet *g = gz_spawn(set_and_sleep, malloc(8));
    gz_sleep(0);
    assert_int_equal(gz_kill(g, GZ_FOREVER), 0);
    assert_int_equal(destroyed, 1);
    gz_release(g);
    /* NULL values and a NULL destructor are fine. */
    gz_key k2;
    assert_int_equal(gz_key_create(&k2, NULL), 0);
    g = gz_spawn(set_and_sleep, NULL);
    gz_sleep(0);
    gz_kill(g, GZ_FOREVER);
    gz_release(g);
    assert_int_equal(destroyed, 1);
    assert_int_equal(gz_key_delete(k2), 0);
    assert_int_equal(gz_key_delete(key), 0);
}

static gz_key ikey, plain;

static void *child_reads(void *arg)
{
    (void)arg;
    /* An inheritable key's value is the parent's; a plain key's is not. */
    if (gz_getspecific(plain) != NULL)
        return NULL;
    return gz_getspecific(ikey);
}

static void *parent_spawns(void *arg)
{
    gz_setspecific(ikey, arg);
    gz_setspecific(plain, arg);
    gz_greenlet *c = gz_spawn(child_reads, NULL);
    void *v = NULL;
    gz_get(c, &v, GZ_FOREVER);
    gz_release(c);
    return v;
}

static void inherit_shares_the_parents_value(void **state)
{
    (void)state;
    destroyed = 0;
    assert_int_equal(gz_key_create_flags(&ikey, count_free, GZ_KEY_INHERIT), 0);
    assert_int_equal(gz_key_create(&plain, NULL), 0);
    void *v = malloc(16);
    gz_greenlet *p = gz_spawn(parent_spawns, v);
    assert_int_equal(gz_join(p, GZ_FOREVER), 0);
    assert_ptr_equal(gz_value(p), v);
    /* Destroyed once, by the parent: the child only borrowed it. */
    assert_int_equal(destroyed, 1);
    gz_release(p);
    assert_int_equal(gz_key_delete(ikey), 0);
    assert_int_equal(gz_key_delete(plain), 0);
}

static void *many_child(void *arg)
{
    (void)arg;
    int *mine = malloc(sizeof *mine);
    gz_setspecific(plain, mine);
    return gz_getspecific(ikey);
}

/* 100k greenlets with destructors and inheritance: every value freed once
 * (valgrind: make check-valgrind finds no leak). */
static void many_greenlets_with_destructors_and_inheritance(void **state)
{
    (void)state;
    destroyed = 0;
    assert_int_equal(gz_key_create_flags(&ikey, count_free, GZ_KEY_INHERIT), 0);
    assert_int_equal(gz_key_create(&plain, count_free), 0);
    void *shared = malloc(8);
    assert_int_equal(gz_setspecific(ikey, shared), 0); /* main's value */
    enum { N = 100000, BATCH = 1000 };
    for (int b = 0; b < N / BATCH; b++) {
        gz_greenlet *g[BATCH];
        for (int i = 0; i < BATCH; i++)
            assert_non_null(g[i] = gz_spawn(many_child, NULL));
        assert_int_equal(gz_joinall(g, BATCH, GZ_FOREVER), BATCH);
        for (int i = 0; i < BATCH; i++) {
            assert_ptr_equal(gz_value(g[i]), shared);
            gz_release(g[i]);
        }
    }
    assert_int_equal(destroyed, N);
    /* A greenlet made and released without ever running drops what it
     * inherited without destroying it. */
    gz_greenlet *never = gz_greenlet_new(many_child, NULL);
    assert_non_null(never);
    gz_release(never);
    assert_int_equal(destroyed, N);
    assert_int_equal(gz_setspecific(ikey, NULL), 0);
    free(shared);
    assert_int_equal(gz_key_delete(ikey), 0);
    assert_int_equal(gz_key_delete(plain), 0);
}

static void *resetting_value(void *arg)
{
    (void)arg;
    gz_setspecific(key, malloc(4));
    return NULL;
}

static int rounds;
static void resetting_destructor(void *v)
{
    rounds++;
    if (v != GZ_PTR(1))
        free(v);
    gz_setspecific(key, GZ_PTR(1)); /* a destructor that never gives up */
}

static void destructor_that_sets_again_is_bounded(void **state)
{
    (void)state;
    rounds = 0;
    assert_int_equal(gz_key_create(&key, resetting_destructor), 0);
    gz_greenlet *g = gz_spawn(resetting_value, NULL);
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    gz_release(g);
    /* A few rounds, then the value left is dropped. */
    assert_true(rounds >= 2 && rounds <= 8);
    assert_int_equal(gz_key_delete(key), 0);
}

static void errors_and_limits(void **state)
{
    (void)state;
    assert_fails(gz_key_create(NULL, NULL), EINVAL);
    gz_key k;
    assert_fails(gz_key_create_flags(&k, NULL, 0x100), EINVAL);
    assert_int_equal(gz_key_create(&k, NULL), 0);
    assert_int_equal(gz_setspecific(k, GZ_PTR(5)), 0);
    assert_ptr_equal(gz_getspecific(k), GZ_PTR(5));
    assert_int_equal(gz_key_delete(k), 0);
    assert_fails(gz_key_delete(k), EINVAL); /* twice */
    assert_fails(gz_setspecific(k, NULL), EINVAL);
    errno = 0;
    assert_null(gz_getspecific(k));
    assert_int_equal(errno, EINVAL);
    assert_fails(gz_key_delete(0), EINVAL); /* never created */
    assert_fails(gz_setspecific(12345678, NULL), EINVAL);
    /* A new key in the deleted one's slot does not see the old value. */
    gz_key k2;
    assert_int_equal(gz_key_create(&k2, NULL), 0);
    assert_int_not_equal(k2, k);
    assert_null(gz_getspecific(k2));
    assert_int_equal(gz_key_delete(k2), 0);
    /* GZ_KEYS_MAX at once, then EAGAIN. */
    static gz_key all[GZ_KEYS_MAX];
    for (int i = 0; i < GZ_KEYS_MAX; i++)
        assert_int_equal(gz_key_create(&all[i], NULL), 0);
    assert_fails(gz_key_create(&k, NULL), EAGAIN);
    for (int i = 0; i < GZ_KEYS_MAX; i++)
        assert_int_equal(gz_key_delete(all[i]), 0);
}

static void *create_delete_keys(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        gz_key k;
        if (gz_key_create(&k, NULL) != 0 || gz_setspecific(k, GZ_PTR(i + 1)) != 0 ||
            gz_getspecific(k) != GZ_PTR(i + 1) || gz_key_delete(k) != 0)
            return NULL;
    }
    return GZ_PTR(1);
}

static void keys_are_thread_safe(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, create_delete_keys, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ok = NULL;
        pthread_join(t[i], &ok);
        assert_ptr_equal(ok, GZ_PTR(1));
    }
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_greenlet_sees_its_own_value),
        cmocka_unit_test(destructor_runs_when_killed),
        cmocka_unit_test(inherit_shares_the_parents_value),
        cmocka_unit_test(many_greenlets_with_destructors_and_inheritance),
        cmocka_unit_test(destructor_that_sets_again_is_bounded),
        cmocka_unit_test(errors_and_limits),
        cmocka_unit_test(keys_are_thread_safe),
    };
    return cmocka_run_group_tests_name("locals", tests, NULL, NULL);
}
