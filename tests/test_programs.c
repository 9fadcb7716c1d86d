/* The ZeroMQ demo programs in $BUILD/bin: argument handling (--help, exit
 * status 2 with a message on bad arguments) and, through
 * demos/zmq_loopback.sh, REQ/REP server + client and the pipeline
 * (ventilator, two workers of 100 greenlets, sink; 2000 tasks of 5 ms) as
 * separate processes on loopback, checked by their summaries and exit codes.
 * Nothing here is timed but the watchdog. */
#include <regex.h>
#include <sys/wait.h>

#include "gz_test.h"

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

/* Run CMD through sh; *OUT gets stdout and stderr. Returns the exit status,
 * or -1 if it did not exit normally. */
static int run(const char *cmd, char **out)
{
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    char *buf = gz_test_read_all(p);
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Does some whole line of TEXT match the extended regex RE? */
static bool has_line(const char *text, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) != 0)
        return false;
    bool ok = regexec(&r, text, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static const char *const PROGRAMS[] = {"reqrep-server", "reqrep-client",
                                       "ventilator", "worker", "sink"};

static void every_program_has_help(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof PROGRAMS / sizeof *PROGRAMS; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 20 %s/bin/gzmq-%s --help",
                 build_dir(), PROGRAMS[i]);
        assert_int_equal(run(cmd, &out), 0);
        assert_non_null(out);
        assert_true(has_line(out, "^usage: gzmq-"));
        free(out);
    }
}

static void bad_arguments_exit_2_with_a_message(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"reqrep-server", ""},                       /* missing --bind */
        {"reqrep-server", "--bind"},                 /* missing value */
        {"reqrep-server", "--bind tcp://127.0.0.1:* --frobnicate 1"},
        {"reqrep-server", "--bind nonsense"},        /* refused endpoint */
        {"reqrep-client", "--connect tcp://127.0.0.1:1"}, /* no --requests */
        {"reqrep-client", "--connect tcp://127.0.0.1:1 --requests ten"},
        {"reqrep-client", "--connect tcp://127.0.0.1:1 --requests 5 --concurrency 0"},
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10"}, /* no --ms */
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10 --ms -1"},
        {"worker", "--pull tcp://127.0.0.1:1"},      /* no --push */
        {"worker", "--pull tcp://127.0.0.1:1 --push tcp://127.0.0.1:2 --concurrency x"},
        {"sink", "--tasks 5"},                       /* no --bind */
        {"sink", "--bind tcp://127.0.0.1:* --tasks 0"},
        {"sink", "--bind tcp://127.0.0.1:* --tasks 5 --reliable"}, /* no --ventilator */
        {"sink", "--bind tcp://127.0.0.1:* --tasks 5 --ventilator tcp://127.0.0.1:1"},
        {"worker", "--pull tcp://127.0.0.1:1 --push tcp://127.0.0.1:2 --reliable=yes"},
        {"ventilator", "--bind tcp://127.0.0.1:* --tasks 10 --ms 1 --reliable 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "timeout 20 %s/bin/gzmq-%s %s", build_dir(),
                 bad[i][0], bad[i][1]);
        int rc = run(cmd, &out);
        if (rc != 2)
            fprintf(stderr, "%s: exit %d\n%s", cmd, rc, out ? out : "");
        assert_int_equal(rc, 2);
        char want[64];
        snprintf(want, sizeof want, "^gzmq-%s: .+", bad[i][0]);
        assert_true(has_line(out, want));
        assert_true(has_line(out, "--help"));
        free(out);
    }
}

static void server_client_and_pipeline_run_on_loopback(void **state)
{
    (void)state;
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "BUILD=%s REQUESTS=2000 TASKS=2000 MS=5 LIMIT=60 sh demos/zmq_loopback.sh",
             build_dir());
    int rc = run(cmd, &out);
    assert_non_null(out);
    if (rc != 0)
        fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    assert_true(has_line(out, "^2000 requests, 10 concurrent, [0-9]+\\.[0-9]+ s, [0-9]+ req/s$"));
    assert_true(has_line(out, "^gzmq-reqrep-server: served 2000 requests$"));
    assert_true(has_line(out, "^gzmq-ventilator: sent 2000 tasks of 5 ms in [0-9.]+ s$"));
    assert_true(has_line(out, "^gzmq-worker 1: did [0-9]+ tasks; gzmq-worker 2: did [0-9]+ tasks$"));
    assert_true(has_line(out, "^gzmq-sink: 2000 tasks, each exactly once, [0-9.]+ s from first to last$"));
    printf("%s", out);
    free(out);
}

int main(void)
{
    gz_test_watchdog(240);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_program_has_help),
        cmocka_unit_test(bad_arguments_exit_2_with_a_message),
        cmocka_unit_test(server_client_and_pipeline_run_on_loopback),
    };
    return cmocka_run_group_tests_name("programs", tests, NULL, NULL);
}
