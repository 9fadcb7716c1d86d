/* zmq_table.c: the zmq layer's socket table (socket pointer -> state). */
#include "gz_test.h"

#include "zmq_table.h"

/* Keys that look like sockets: distinct, aligned, some sharing high bits;
 * each value starts with its key, as the table requires. */
static char arena[4096 * 16];
#define KEY(i) ((const void *)&arena[(size_t)(i) * 16])
static const void *entry[4096];
#define VAL(i) ((void *)&entry[(i)])

static int fill_entries(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4096; i++)
        entry[i] = KEY(i);
    return 0;
}

static void an_empty_table_finds_nothing(void **state)
{
    (void)state;
    gz_ztable t = {0};
    assert_null(gz__ztable_lookup(&t, KEY(1)));
    gz__ztable_free(&t);
    assert_int_equal(t.len, 0);
}

static void insert_then_lookup_then_erase(void **state)
{
    (void)state;
    gz_ztable t = {0};
    assert_int_equal(gz__ztable_insert(&t, VAL(1)), 0);
    assert_int_equal(gz__ztable_insert(&t, VAL(2)), 0);
    assert_ptr_equal(gz__ztable_lookup(&t, KEY(1)), VAL(1));
    assert_ptr_equal(gz__ztable_lookup(&t, KEY(2)), VAL(2));
    assert_null(gz__ztable_lookup(&t, KEY(3)));
    gz__ztable_erase(&t, KEY(1));
    assert_null(gz__ztable_lookup(&t, KEY(1)));
    assert_ptr_equal(gz__ztable_lookup(&t, KEY(2)), VAL(2));
    assert_int_equal(t.len, 1);
    gz__ztable_free(&t);
}

static void grows_and_stays_at_most_half_full(void **state)
{
    (void)state;
    gz_ztable t = {0};
    for (int i = 0; i < 100; i++) {
        assert_int_equal(gz__ztable_insert(&t, VAL(i)), 0);
        assert_true(t.len * 2 <= t.cap);
    }
    assert_int_equal(t.len, 100);
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(gz__ztable_lookup(&t, KEY(i)), VAL(i));
    gz__ztable_free(&t);
}

/* Erasing from the middle of probe runs must keep every other key
 * reachable (the backward shift), whatever the order. */
static void many_keys_survive_interleaved_erases(void **state)
{
    (void)state;
    enum { N = 4096 };
    gz_ztable t = {0};
    static bool in[N];
    memset(in, 0, sizeof in);
    unsigned x = 12345;
    for (int round = 0; round < 20000; round++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % N);
        if (in[i]) {
            gz__ztable_erase(&t, KEY(i));
            in[i] = false;
        } else {
            assert_int_equal(gz__ztable_insert(&t, VAL(i)), 0);
            in[i] = true;
        }
        if (round % 997 == 0) {
            size_t n = 0;
            for (int k = 0; k < N; k++) {
                void *v = gz__ztable_lookup(&t, KEY(k));
                assert_ptr_equal(v, in[k] ? VAL(k) : NULL);
                n += in[k];
            }
            assert_int_equal(t.len, n);
        }
    }
    for (int k = 0; k < N; k++)
        if (in[k])
            gz__ztable_erase(&t, KEY(k));
    assert_int_equal(t.len, 0);
    for (int k = 0; k < N; k++)
        assert_null(gz__ztable_lookup(&t, KEY(k)));
    gz__ztable_free(&t);
}

/* What the table is for: a green recv on many sockets at once, each found
 * again by its pointer when its message arrives. */
static void *recv_one(void *sock)
{
    char c = 0;
    return GZ_PTR(gz_zmq_recv(sock, &c, 1, 0) == 1 ? c : -1);
}

static void many_sockets_each_wake_their_own_reader(void **state)
{
    (void)state;
    enum { N = 40 };
    void *ctx = gz_zmq_context(), *in[N], *out[N];
    gz_greenlet *g[N];
    for (int i = 0; i < N; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://ztable-%d", i);
        in[i] = zmq_socket(ctx, ZMQ_PULL);
        out[i] = zmq_socket(ctx, ZMQ_PUSH);
        assert_int_equal(zmq_bind(in[i], ep), 0);
        assert_int_equal(zmq_connect(out[i], ep), 0);
        g[i] = gz_spawn(recv_one, in[i]);
    }
    assert_int_equal(gz_sleep(0), 0); /* every reader parks */
    for (int i = N - 1; i >= 0; i--) {
        char c = (char)('A' + i);
        assert_int_equal(gz_zmq_send(out[i], &c, 1, 0), 1);
    }
    for (int i = 0; i < N; i++) {
        void *v;
        assert_int_equal(gz_get(g[i], &v, 5.0), 0);
        assert_int_equal(GZ_INT(v), 'A' + i);
        gz_release(g[i]);
        assert_int_equal(gz_zmq_close(in[i]), 0);
        assert_int_equal(gz_zmq_close(out[i]), 0);
    }
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_table_finds_nothing),
        cmocka_unit_test(insert_then_lookup_then_erase),
        cmocka_unit_test(grows_and_stays_at_most_half_full),
        cmocka_unit_test(many_keys_survive_interleaved_erases),
        cmocka_unit_test(many_sockets_each_wake_their_own_reader),
    };
    return cmocka_run_group_tests(tests, fill_entries, NULL);
}
