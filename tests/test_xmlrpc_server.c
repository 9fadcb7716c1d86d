/* demos/xmlrpc-server.c (gzmq-xmlrpc-server), checked by Python's own
 * xmlrpc.client in tests/xmlrpc_check.py, plus its command line and its
 * graceful stop on SIGTERM. Loopback only. */
#include <libgen.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "gz_test.h"

static char server_bin[PATH_MAX];
static char bin_dir[PATH_MAX / 2];   /* build/tests */
static pid_t server_pid;
static int server_port;

/* Run ARGV to its end; its exit status, or -1 if it did not exit. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int start_server(void **state)
{
    (void)state;
    char *argv[] = {(char *)server_bin, "--host", "127.0.0.1", "--port", "0",
                    "--idle-timeout", "1", "--request-timeout", "0.5", NULL};
    server_port = gz_test_start_announcing(argv, &server_pid);
    return server_port > 0 ? 0 : -1;
}

/* The same server on three hubs (--threads 3, SO_REUSEPORT listeners). */
static int start_threaded_server(void **state)
{
    (void)state;
    char *argv[] = {(char *)server_bin, "--host", "127.0.0.1", "--port", "0",
                    "--idle-timeout", "1", "--request-timeout", "0.5",
                    "--threads", "3", NULL};
    server_port = gz_test_start_announcing(argv, &server_pid);
    return server_port > 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    gz_test_stop(&server_pid);
    return 0;
}

static void python_xmlrpc_client_checks_pass(void **state)
{
    (void)state;
    char port[16];
    snprintf(port, sizeof port, "%d", server_port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("python3", "python3", "tests/xmlrpc_check.py", port, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* The load generator on two hubs (gzmq-rpc-bench --threads 2): every
 * request answered, counted once. */
static void rpc_bench_on_two_threads_gets_every_answer(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 200];
    snprintf(cmd, sizeof cmd,
             "%s/../bin/gzmq-rpc-bench --host 127.0.0.1 --port %d --concurrency 9 "
             "--requests 500 --method add --threads 2 --timeout 10",
             bin_dir, server_port);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *out = gz_test_read_all(f);
    assert_int_equal(pclose(f), 0);
    assert_non_null(out);
    if (!gz_test_has_line(out, "threads=2$") ||
        !gz_test_has_line(out, "^RESULT .* ok=500 errors=0 "))
        fail_msg("unexpected gzmq-rpc-bench output:\n%s", out);
    free(out);
}

static void sigterm_stops_the_server_gracefully(void **state)
{
    (void)state;
    assert_int_equal(kill(server_pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(server_pid, &st, 0), server_pid);
    server_pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void bad_command_lines_are_refused(void **state)
{
    (void)state;
    char *no_port[] = {server_bin, NULL};
    char *bad_port[] = {server_bin, "--port", "http", NULL};
    char *big_port[] = {server_bin, "--port", "65536", NULL};
    char *bad_max[] = {server_bin, "--port", "0", "--max-connections", "-3", NULL};
    char *extra[] = {server_bin, "--port", "0", "surplus", NULL};
    char *no_threads[] = {server_bin, "--port", "0", "--threads", "0", NULL};
    char *many_threads[] = {server_bin, "--port", "0", "--threads", "1025", NULL};
    char *help[] = {server_bin, "--help", NULL};
    assert_int_equal(run(no_port), 2);
    assert_int_equal(run(bad_port), 2);
    assert_int_equal(run(big_port), 2);
    assert_int_equal(run(bad_max), 2);
    assert_int_equal(run(extra), 2);
    assert_int_equal(run(no_threads), 2);
    assert_int_equal(run(many_threads), 2);
    assert_int_equal(run(help), 0);
}

/* Exit status 2 and a message on stderr that contains WANT. */
static void refused_with(char *const argv[], const char *want)
{
    char err[2048];
    int st = gz_test_child(gz_test_exec_argv, (void *)argv, err, sizeof err);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 2);
    if (!strstr(err, want))
        fail_msg("expected '%s' in: %s", want, err);
}

static void bad_limits_are_refused_with_a_message(void **state)
{
    (void)state;
    char *gen_neg[] = {server_bin, "--port", "0", "--max-gen", "-1", NULL};
    char *gen_frac[] = {server_bin, "--port", "0", "--max-gen", "1.5", NULL};
    char *gen_word[] = {server_bin, "--port", "0", "--max-gen", "lots", NULL};
    char *resp_small[] = {server_bin, "--port", "0", "--max-response", "100", NULL};
    char *resp_huge[] = {server_bin, "--port", "0", "--max-response", "1e300", NULL};
    char *budget_empty[] = {server_bin, "--port", "0", "--write-budget", "", NULL};
    char *budget_small[] = {server_bin, "--port", "0", "--max-response", "100000",
                            "--write-budget", "50000", NULL};
    char *conn_frac[] = {server_bin, "--port", "0", "--max-connections", "2.5", NULL};
    refused_with(gen_neg, "bad value for --max-gen: '-1'");
    refused_with(gen_frac, "bad value for --max-gen: '1.5'");
    refused_with(gen_word, "bad value for --max-gen: 'lots'");
    refused_with(resp_small, "bad value for --max-response: '100'");
    refused_with(resp_huge, "bad value for --max-response: '1e300'");
    refused_with(budget_empty, "bad value for --write-budget: ''");
    refused_with(budget_small, "--write-budget 50000 is less than --max-response 100000");
    refused_with(conn_frac, "bad value for --max-connections: '2.5'");
}

int main(int argc, char **argv)
{
    (void)argc;
    gz_test_watchdog(60);
    /* build/tests/test_xmlrpc_server -> build/bin/gzmq-xmlrpc-server */
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(bin_dir, sizeof bin_dir, "%s", dirname(self));
    snprintf(server_bin, sizeof server_bin, "%s/../bin/gzmq-xmlrpc-server", bin_dir);
    if (access(server_bin, X_OK) != 0) {
        fprintf(stderr, "test_xmlrpc_server: %s is missing: build it first (make all)\n",
                server_bin);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(python_xmlrpc_client_checks_pass),
        cmocka_unit_test(rpc_bench_on_two_threads_gets_every_answer),
        cmocka_unit_test(sigterm_stops_the_server_gracefully),
    };
    const struct CMUnitTest cli[] = {
        cmocka_unit_test(bad_command_lines_are_refused),
        cmocka_unit_test(bad_limits_are_refused_with_a_message),
    };
    int failed = cmocka_run_group_tests_name("xmlrpc_server", tests, start_server, stop_server);
    failed += cmocka_run_group_tests_name("xmlrpc_server_threads", tests, start_threaded_server,
                                          stop_server);
    return failed + cmocka_run_group_tests_name("xmlrpc_server_cli", cli, NULL, NULL);
}
