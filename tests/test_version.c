/* version.c: gz_version reports the header's numbers; NULL skips a number. */
#include "gz_test.h"

static void version_matches_the_header(void **state)
{
    (void)state;
    int major = -1, minor = -1, patch = -1;
    gz_version(&major, &minor, &patch);
    assert_int_equal(major, GZ_VERSION_MAJOR);
    assert_int_equal(minor, GZ_VERSION_MINOR);
    assert_int_equal(patch, GZ_VERSION_PATCH);
    assert_int_equal(GZ_VERSION, GZ_MAKE_VERSION(major, minor, patch));
    assert_int_equal(GZMQ_VERSION_MAJOR * 10000 + GZMQ_VERSION_MINOR * 100 + GZMQ_VERSION_PATCH,
                     GZ_VERSION);
}

static void version_skips_null_pointers(void **state)
{
    (void)state;
    int minor = -1;
    gz_version(NULL, &minor, NULL);
    assert_int_equal(minor, GZ_VERSION_MINOR);
    gz_version(NULL, NULL, NULL);
}

static void make_version_orders_releases(void **state)
{
    (void)state;
    assert_true(GZ_MAKE_VERSION(0, 1, 0) < GZ_MAKE_VERSION(0, 1, 1));
    assert_true(GZ_MAKE_VERSION(0, 1, 99) < GZ_MAKE_VERSION(0, 2, 0));
    assert_true(GZ_MAKE_VERSION(0, 99, 99) < GZ_MAKE_VERSION(1, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_matches_the_header),
        cmocka_unit_test(version_skips_null_pointers),
        cmocka_unit_test(make_version_orders_releases),
    };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}
