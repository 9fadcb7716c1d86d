/* demos/common/journal.c, the reliable pipeline's journal: records survive
 * a reopen in order, only synced ones do, a torn or damaged last record is
 * cut (and appends go on after the cut), a failed sync leaves the journal
 * refusing more, a foreign file is refused,
 * compaction leaves one snapshot and keeps what was appended meanwhile, and
 * the task-id set on top stays bounded and refuses a journal of another
 * run. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/journal.h"
#include "gz_test.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gzmq-journal-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/j", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Replay into a text "type:payload;..." */
typedef struct seen { char text[4096]; size_t n; } seen;

static int collect(void *arg, unsigned type, const void *data, size_t len)
{
    seen *s = arg;
    size_t o = strlen(s->text);
    snprintf(s->text + o, sizeof s->text - o, "%c:%.*s;", (char)type, (int)len,
             (const char *)data);
    s->n++;
    return 0;
}

static off_t file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static journal *reopen(seen *s)
{
    memset(s, 0, sizeof *s);
    journal *j = journal_open(path, collect, s);
    assert_non_null(j);
    return j;
}

static void add(journal *j, unsigned type, const char *text)
{
    assert_int_equal(journal_append(j, type, text, strlen(text)), 0);
}

static void synced_records_survive_a_reopen_in_order(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    assert_int_equal(s.n, 0);
    assert_int_equal(journal_bytes(j), 8);
    add(j, 'a', "one");
    add(j, 'b', "");
    assert_int_equal(journal_sync(j), 0);
    add(j, 'c', "three");
    assert_int_equal(journal_records(j), 3);
    assert_int_equal(journal_sync(j), 0);
    assert_int_equal(journal_sync(j), 0); /* nothing buffered: nothing to do */
    add(j, 'd', "never synced");
    assert_int_equal(journal_bytes(j), 8 + 3 * 9 + 3 + 0 + 5);
    journal_close(j);
    j = reopen(&s);
    assert_string_equal(s.text, "a:one;b:;c:three;");
    assert_int_equal(journal_records(j), 3);
    assert_int_equal(journal_torn(j), 0);
    journal_close(j);
}

static void a_torn_last_record_is_cut_and_appends_go_on_after_it(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    add(j, 'a', "first");
    add(j, 'b', "second");
    add(j, 'c', "third record");
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    off_t full = file_size(path);
    /* a crash mid-write: the last record lacks its last 5 bytes */
    assert_int_equal(truncate(path, full - 5), 0);
    j = reopen(&s);
    assert_string_equal(s.text, "a:first;b:second;");
    assert_int_equal(journal_torn(j), 9 + 12 - 5);
    assert_int_equal(file_size(path), full - 9 - 12); /* cut on disk too */
    add(j, 'd', "after");
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    j = reopen(&s);
    assert_string_equal(s.text, "a:first;b:second;d:after;");
    journal_close(j);

    /* only a header's worth written: cut as well */
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x05\x00", 2), 2);
    close(fd);
    j = reopen(&s);
    assert_int_equal(s.n, 3);
    assert_int_equal(journal_torn(j), 2);
    journal_close(j);
}

static void a_damaged_last_record_fails_its_crc_and_is_cut(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    add(j, 'a', "kept");
    add(j, 'b', "damaged");
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    off_t full = file_size(path);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, full - 2), 1); /* "damagXd" */
    close(fd);
    j = reopen(&s);
    assert_string_equal(s.text, "a:kept;");
    assert_int_equal(journal_torn(j), 9 + 7);
    journal_close(j);

    /* a length no record can have (a torn header) is not believed */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "\xff\xff\xff\x7f\0\0\0\0a", 9), 9);
    close(fd);
    j = reopen(&s);
    assert_string_equal(s.text, "a:kept;");
    assert_int_equal(journal_torn(j), 9);
    journal_close(j);
}

static void a_file_that_is_not_a_journal_is_refused_untouched(void **state)
{
    (void)state;
    FILE *f = fopen(path, "w");
    fputs("some other file\n", f);
    fclose(f);
    seen s = {0};
    errno = 0;
    assert_null(journal_open(path, collect, &s));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(file_size(path), 16);
    f = fopen(path, "w"); /* shorter than the magic, but not a part of it */
    fputs("hi\n", f);
    fclose(f);
    assert_null(journal_open(path, collect, &s));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(file_size(path), 3);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/j", dir);
    assert_null(journal_open(missing, collect, &s));
    assert_int_equal(errno, ENOENT);

    /* a file torn while its magic was written held nothing: it starts anew */
    f = fopen(path, "w");
    fputs("gzj", f);
    fclose(f);
    journal *j = reopen(&s);
    assert_int_equal(s.n, 0);
    assert_int_equal(journal_torn(j), 3);
    assert_int_equal(file_size(path), 8);
    assert_fails(journal_append(j, 256, "x", 1), EINVAL);
    assert_fails(journal_append(j, 'a', NULL, 1), EINVAL);
    journal_close(j);
    journal_close(NULL);
}

static int fail_on_b(void *arg, unsigned type, const void *data, size_t len)
{
    (void)arg, (void)data, (void)len;
    if (type == 'b') {
        errno = ERANGE;
        return -1;
    }
    return 0;
}

static void a_replay_callback_can_refuse_the_journal(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    add(j, 'a', "x");
    add(j, 'b', "y");
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    assert_null(journal_open(path, fail_on_b, NULL));
    assert_int_equal(errno, ERANGE);
}

/* A write that fails midway (the file size limit, EFBIG) leaves a torn
 * record: the sync fails, later ones fail with EIO, and a reopen cuts the
 * torn bytes and keeps what was synced before. */
static void a_failed_sync_leaves_a_torn_tail_and_refuses_more(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    add(j, 'a', "kept");
    assert_int_equal(journal_sync(j), 0);
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = (rlim_t)file_size(path) + 20;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    char big[100];
    memset(big, 'x', sizeof big);
    assert_int_equal(journal_append(j, 'b', big, sizeof big), 0);
    int rc = journal_sync(j), e = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);
    add(j, 'c', "after");
    assert_fails(journal_sync(j), EIO);
    assert_fails(journal_compact(j, 'S', "s", 1), EIO);
    journal_close(j);
    j = reopen(&s);
    assert_string_equal(s.text, "a:kept;");
    assert_int_equal(journal_torn(j), 20);
    journal_close(j);
}

static journal *appender_journal;

static void *append_meanwhile(void *arg)
{
    add(appender_journal, 'm', arg);
    return NULL;
}

static void *sync_meanwhile(void *arg)
{
    (void)arg;
    add(appender_journal, 'x', "y");
    return GZ_PTR(journal_sync(appender_journal) == -1 && errno == EBUSY);
}

static void compaction_leaves_one_snapshot_and_keeps_later_appends(void **state)
{
    (void)state;
    seen s;
    journal *j = reopen(&s);
    for (int i = 0; i < 100; i++)
        add(j, 'r', "record");
    assert_int_equal(journal_sync(j), 0);
    add(j, 'r', "buffered, in the snapshot");
    /* appended while the snapshot is written (the compaction waits on a
     * worker thread, the hub runs this greenlet): not in the snapshot */
    appender_journal = j;
    gz_greenlet *g = gz_spawn(append_meanwhile, "meanwhile");
    assert_int_equal(journal_compact(j, 'S', "state", 5), 0);
    assert_int_equal(gz_join(g, GZ_FOREVER), 0);
    gz_release(g);
    assert_int_equal(journal_bytes(j), 8 + 9 + 5);
    assert_int_equal(journal_records(j), 2);
    assert_int_equal(file_size(path), 8 + 9 + 5);
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    j = reopen(&s);
    assert_string_equal(s.text, "S:state;m:meanwhile;");

    /* one sync at a time */
    appender_journal = j;
    g = gz_spawn(sync_meanwhile, NULL);
    add(j, 'z', "z");
    assert_int_equal(journal_sync(j), 0);
    void *busy;
    assert_int_equal(gz_get(g, &busy, GZ_FOREVER), 0);
    gz_release(g);
    assert_true(GZ_INT(busy));
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    j = reopen(&s);
    assert_string_equal(s.text, "S:state;m:meanwhile;z:z;x:y;");
    journal_close(j);
}

static void taskset_resumes_stays_bounded_and_refuses_another_run(void **state)
{
    (void)state;
    char why[128];
    taskset *t = taskset_open(path, 5000, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), 0);
    uint64_t most = 0;
    for (long id = 4999; id >= 0; id--) {
        assert_int_equal(taskset_add(t, id), 0);
        if (id % 7 == 0) {
            assert_int_equal(taskset_sync(t), 0);
            uint64_t b = journal_bytes(taskset_journal(t));
            most = b > most ? b : most;
        }
    }
    assert_int_equal(taskset_sync(t), 0);
    /* a snapshot (4 + 625 bytes) and at most 1024 + 7 id records of 13 */
    printf("largest journal of 5000 ids: %llu bytes\n", (unsigned long long)most);
    assert_true(most <= 8 + 9 + 4 + 625 + (1024 + 7) * 13);
    assert_true(most > 8 * 1024); /* it did grow between compactions */
    assert_fails(taskset_add(t, 17), EEXIST);
    assert_fails(taskset_add(t, 5000), EINVAL);
    assert_fails(taskset_add(t, -1), EINVAL);
    taskset_close(t);

    t = taskset_open(path, 5000, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), 5000);
    assert_int_equal(taskset_repeats(t), 0);
    assert_true(taskset_has(t, 0) && taskset_has(t, 4999) && !taskset_has(t, 5000));
    taskset_close(t);

    errno = 0;
    assert_null(taskset_open(path, 3000, why, sizeof why));
    assert_int_equal(errno, EINVAL);
    assert_string_equal(why, "it holds a run of 5000 tasks, not 3000");
    FILE *f = fopen(path, "w");
    fputs("some other file\n", f);
    fclose(f);
    assert_null(taskset_open(path, 5000, why, sizeof why));
    assert_int_equal(errno, EINVAL);
    assert_string_equal(why, "not a journal (it does not begin with \"gzjrnl1\")");
    assert_null(taskset_open(path, 0, why, sizeof why));
    assert_int_equal(errno, EINVAL);
}

static void taskset_replay_counts_a_repeated_id(void **state)
{
    (void)state;
    char why[128];
    taskset *t = taskset_open(path, 10, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_add(t, 3), 0);
    assert_int_equal(taskset_sync(t), 0);
    taskset_close(t);
    /* a second record of id 3, as a faulty writer would leave it */
    seen s;
    journal *j = reopen(&s);
    assert_int_equal(journal_append(j, 'T', "\x03\0\0\0", 4), 0);
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    t = taskset_open(path, 10, why, sizeof why);
    assert_non_null(t);
    assert_int_equal(taskset_count(t), 1);
    assert_int_equal(taskset_repeats(t), 1);
    taskset_close(t);
    j = reopen(&s);
    assert_int_equal(journal_append(j, 'T', "\x0a\0\0\0", 4), 0); /* id 10 of 10 */
    assert_int_equal(journal_sync(j), 0);
    journal_close(j);
    assert_null(taskset_open(path, 10, why, sizeof why));
    assert_int_equal(errno, EINVAL);
    assert_string_equal(why, "an unknown record (type 84, 4 bytes)");
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(synced_records_survive_a_reopen_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_torn_last_record_is_cut_and_appends_go_on_after_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_damaged_last_record_fails_its_crc_and_is_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_file_that_is_not_a_journal_is_refused_untouched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_replay_callback_can_refuse_the_journal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_sync_leaves_a_torn_tail_and_refuses_more,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(compaction_leaves_one_snapshot_and_keeps_later_appends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(taskset_resumes_stays_bounded_and_refuses_another_run,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(taskset_replay_counts_a_repeated_id, setup, teardown),
    };
    return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
