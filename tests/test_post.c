/* post.c: gz_hub_self, gz_hub_post from other threads (8 x 100k, each run
 * once and in order), a hub that ends while posts are in flight, holds. */
#include <pthread.h>
#include <stdatomic.h>

#include "gz_test.h"

static void *run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *ret = NULL;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    return ret;
}

static void *self_in_thread(void *unused)
{
    (void)unused;
    return gz_hub_self();
}

static void hub_self_is_the_same_handle_for_a_thread_and_differs_between_threads(void **state)
{
    (void)state;
    gz_hub *h = gz_hub_self();
    assert_non_null(h);
    assert_ptr_equal(gz_hub_self(), h);
    gz_hub *other = run_thread(self_in_thread, NULL);
    assert_non_null(other);
    assert_ptr_not_equal(other, h);
}

static void noop(void *arg) { (void)arg; }

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    assert_fails(gz_hub_post(NULL, noop, NULL), EINVAL);
    assert_fails(gz_hub_post(gz_hub_self(), NULL, NULL), EINVAL);
    assert_fails(gz_hub_unhold(), EINVAL);
    assert_int_equal(gz_hub_hold(), 0);
    assert_int_equal(gz_hub_unhold(), 0);
    assert_fails(gz_hub_unhold(), EINVAL);
}

/* ---- a post to the caller's own hub ---- */

static gz_greenlet *ran_in;
static gz_event *done;

static void note_greenlet(void *arg)
{
    (void)arg;
    ran_in = gz_current();
    gz_event_set(done);
}

static void post_runs_fn_in_a_new_greenlet_of_the_hub(void **state)
{
    (void)state;
    done = gz_event_new();
    ran_in = NULL;
    assert_int_equal(gz_hub_post(gz_hub_self(), note_greenlet, NULL), 0);
    assert_int_equal(gz_hub_hold(), 0);
    assert_int_equal(gz_event_wait(done, GZ_FOREVER), 0);
    assert_int_equal(gz_hub_unhold(), 0);
    assert_non_null(ran_in);
    assert_ptr_not_equal(ran_in, gz_current());
    gz_event_free(done);
}

/* Without a hold, nothing else can wake main: the wait is a deadlock. */
static void without_a_hold_a_wait_for_posts_is_edeadlk(void **state)
{
    (void)state;
    gz_event *e = gz_event_new();
    assert_fails(gz_event_wait(e, GZ_FOREVER), EDEADLK);
    gz_event_free(e);
}

/* A shutdown kills the greenlet that was to start the next post before it
 * ran: that post is not lost, it runs (in order) once the next one comes. */
static char ran_order[8];

static void note_and_maybe_shut_down(void *arg)
{
    strcat(ran_order, arg);
    if (strcmp(arg, "1") == 0)
        gz_shutdown(); /* kills the greenlet already made for post 2 */
    if (strcmp(arg, "3") == 0)
        gz_event_set(done);
}

static void post_whose_greenlet_was_killed_before_it_ran_runs_later_in_order(void **state)
{
    (void)state;
    done = gz_event_new();
    ran_order[0] = 0;
    gz_hub *self = gz_hub_self();
    assert_int_equal(gz_hub_hold(), 0);
    assert_int_equal(gz_hub_post(self, note_and_maybe_shut_down, "1"), 0);
    assert_int_equal(gz_hub_post(self, note_and_maybe_shut_down, "2"), 0);
    assert_fails(gz_event_wait(done, GZ_FOREVER), ECANCELED); /* the shutdown */
    assert_string_equal(ran_order, "1");
    assert_int_equal(gz_hub_post(self, note_and_maybe_shut_down, "3"), 0);
    assert_int_equal(gz_event_wait(done, GZ_FOREVER), 0);
    assert_int_equal(gz_hub_unhold(), 0);
    assert_string_equal(ran_order, "123");
    gz_event_free(done);
}

/* ---- 8 threads x 100k posts ---- */

/* ThreadSanitizer makes and destroys a fiber per greenlet, about a
 * millisecond each here: its build checks the same races on fewer posts. */
#if defined(__SANITIZE_THREAD__)
#define NPOSTS_EACH 2000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NPOSTS_EACH 2000
#endif
#endif
#ifndef NPOSTS_EACH
#define NPOSTS_EACH 100000
#endif
enum { NPOSTERS = 8, NPOSTS = NPOSTS_EACH };
static gz_hub *target;
static unsigned char seen[NPOSTERS * NPOSTS];
static int last_of[NPOSTERS];
static int out_of_order, total;

static void count_post(void *arg)
{
    int id = GZ_INT(arg), t = id / NPOSTS, i = id % NPOSTS;
    seen[id]++;
    if (i != last_of[t] + 1)
        out_of_order++;
    last_of[t] = i;
    if (++total == NPOSTERS * NPOSTS)
        gz_event_set(done);
}

static void *poster(void *arg)
{
    int t = GZ_INT(arg);
    for (int i = 0; i < NPOSTS; i++)
        if (gz_hub_post(target, count_post, GZ_PTR(t * NPOSTS + i)) != 0)
            return GZ_PTR(errno);
    return NULL;
}

static void posts_from_8_threads_each_run_exactly_once_in_order(void **state)
{
    (void)state;
    done = gz_event_new();
    target = gz_hub_self();
    memset(seen, 0, sizeof seen);
    for (int t = 0; t < NPOSTERS; t++)
        last_of[t] = -1;
    out_of_order = total = 0;
    assert_int_equal(gz_hub_hold(), 0);
    pthread_t th[NPOSTERS];
    for (int t = 0; t < NPOSTERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, poster, GZ_PTR(t)), 0);
    assert_int_equal(gz_event_wait(done, GZ_FOREVER), 0);
    assert_int_equal(gz_hub_unhold(), 0);
    for (int t = 0; t < NPOSTERS; t++) {
        void *ret;
        assert_int_equal(pthread_join(th[t], &ret), 0);
        assert_null(ret);
    }
    assert_int_equal(total, NPOSTERS * NPOSTS);
    assert_int_equal(out_of_order, 0);
    for (int i = 0; i < NPOSTERS * NPOSTS; i++)
        if (seen[i] != 1)
            fail_msg("post %d ran %d times", i, seen[i]);
    gz_event_free(done);
}

/* ---- a hub that ends while posts are in flight ---- */

static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pub_cond = PTHREAD_COND_INITIALIZER;
static gz_hub *doomed;
static atomic_int ran, accepted;

static void count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void *doomed_hub(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pub_lock);
    doomed = gz_hub_self();
    pthread_cond_broadcast(&pub_cond);
    pthread_mutex_unlock(&pub_lock);
    /* Serve posts until some have run, then refuse more, run what was
     * accepted and end the thread (the hub with it). */
    while (atomic_load(&ran) < 1000)
        gz_sleep(0.001);
    gz_hub_close_posts();
    gz_run();
    return NULL;
}

static void *late_poster(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pub_lock);
    while (!doomed)
        pthread_cond_wait(&pub_cond, &pub_lock);
    gz_hub *h = doomed;
    pthread_mutex_unlock(&pub_lock);
    while (gz_hub_post(h, count_run, NULL) == 0) {
        /* Pace: a post never blocks, so keep about a thousand in flight,
         * not millions (the hub's last gz_run runs them all). */
        if (atomic_fetch_add(&accepted, 1) + 1 - atomic_load(&ran) > 1000)
            usleep(100);
    }
    if (errno != ESHUTDOWN)
        return GZ_PTR(errno);
    for (int i = 0; i < 100; i++) /* gone for good */
        if (gz_hub_post(h, count_run, NULL) != -1 || errno != ESHUTDOWN)
            return GZ_PTR(-1);
    return NULL;
}

static void hub_closing_its_posts_runs_every_accepted_one_then_refuses_with_eshutdown(void **state)
{
    (void)state;
    doomed = NULL;
    atomic_store(&ran, 0);
    atomic_store(&accepted, 0);
    pthread_t hub, posters[4];
    assert_int_equal(pthread_create(&hub, NULL, doomed_hub, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&posters[i], NULL, late_poster, NULL), 0);
    assert_int_equal(pthread_join(hub, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(posters[i], &ret), 0);
        assert_null(ret);
    }
    /* Every run post was accepted; the rest were dropped (and freed: the
     * ASan build checks for leaks). */
    assert_true(atomic_load(&ran) >= 1000);
    assert_int_equal(atomic_load(&ran), atomic_load(&accepted));
    assert_fails(gz_hub_post(doomed, count_run, NULL), ESHUTDOWN);
}

/* A hub thread that ends with posts still in its inbox: never polled, so
 * none runs; all are dropped (and freed: ASan's leak check), later posts
 * fail with ESHUTDOWN. */
static bool enough_posted;

static void *ending_hub(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pub_lock);
    doomed = gz_hub_self();
    pthread_cond_broadcast(&pub_cond);
    while (!enough_posted)
        pthread_cond_wait(&pub_cond, &pub_lock);
    pthread_mutex_unlock(&pub_lock);
    return NULL;
}

static void *poster_until_shutdown(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pub_lock);
    while (!doomed)
        pthread_cond_wait(&pub_cond, &pub_lock);
    gz_hub *h = doomed;
    pthread_mutex_unlock(&pub_lock);
    while (gz_hub_post(h, count_run, NULL) == 0) {
        if (atomic_fetch_add(&accepted, 1) + 1 < 1000)
            continue;
        pthread_mutex_lock(&pub_lock);
        enough_posted = true;
        pthread_cond_broadcast(&pub_cond);
        pthread_mutex_unlock(&pub_lock);
        usleep(100); /* not millions in the inbox */
    }
    return GZ_PTR(errno == ESHUTDOWN ? 0 : errno);
}

static void hub_ended_with_posts_in_flight_drops_them_and_refuses_later_posts_with_eshutdown(void **state)
{
    (void)state;
    doomed = NULL;
    enough_posted = false;
    atomic_store(&ran, 0);
    atomic_store(&accepted, 0);
    pthread_t hub, posters[4];
    assert_int_equal(pthread_create(&hub, NULL, ending_hub, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&posters[i], NULL, poster_until_shutdown, NULL), 0);
    assert_int_equal(pthread_join(hub, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(posters[i], &ret), 0);
        assert_null(ret);
    }
    assert_true(atomic_load(&accepted) >= 1000);
    assert_int_equal(atomic_load(&ran), 0);
    assert_fails(gz_hub_post(doomed, count_run, NULL), ESHUTDOWN);
}

int main(void)
{
    gz_test_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hub_self_is_the_same_handle_for_a_thread_and_differs_between_threads),
        cmocka_unit_test(bad_arguments_are_einval),
        cmocka_unit_test(post_runs_fn_in_a_new_greenlet_of_the_hub),
        cmocka_unit_test(without_a_hold_a_wait_for_posts_is_edeadlk),
        cmocka_unit_test(post_whose_greenlet_was_killed_before_it_ran_runs_later_in_order),
        cmocka_unit_test(posts_from_8_threads_each_run_exactly_once_in_order),
        cmocka_unit_test(hub_closing_its_posts_runs_every_accepted_one_then_refuses_with_eshutdown),
        cmocka_unit_test(hub_ended_with_posts_in_flight_drops_them_and_refuses_later_posts_with_eshutdown),
    };
    return cmocka_run_group_tests_name("post", tests, NULL, NULL);
}
