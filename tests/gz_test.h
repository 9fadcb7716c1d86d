/* Shared test helpers: cmocka plus a watchdog, so that a lost wakeup fails
 * the suite instead of hanging it. */
#ifndef GZ_TEST_H
#define GZ_TEST_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gzmq.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GZ_TEST_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define GZ_TEST_UNDER_VALGRIND() 0
#endif

/* Skip, visibly, a test whose subject memcheck changes: signal delivery
 * timing (the watchdog's backtrace), thread stacks it allocates itself. */
#define GZ_TEST_SKIP_UNDER_VALGRIND(why)                          \
    do {                                                          \
        if (GZ_TEST_UNDER_VALGRIND()) {                           \
            printf("SKIPPED under valgrind: %s\n", (why));        \
            skip();                                               \
        }                                                         \
    } while (0)

/* Fail a call expected to return -1 with errno E. */
#define assert_fails(call, e)                  \
    do {                                       \
        errno = 0;                             \
        assert_int_equal((call), -1);          \
        assert_int_equal(errno, (e));          \
    } while (0)

/* Does some whole line of TEXT match the extended regex RE? */
static inline bool gz_test_has_line(const char *text, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE) != 0)
        return false;
    bool ok = regexec(&r, text, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

/* Everything left in F, NUL-terminated, in malloc'd memory; NULL when
 * memory runs out. */
static inline char *gz_test_read_all(FILE *f)
{
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
    }
    if (buf)
        buf[len] = 0;
    return buf;
}

/* The whole of file DIR/NAME (DIR may be NULL: NAME is the path), or ""
 * when it does not exist (yet); malloc'd. */
static inline char *gz_test_read_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *text = gz_test_read_all(f);
    fclose(f);
    return text;
}

/* When the watchdog is due, on CLOCK_MONOTONIC. */
static struct timespec gz_test_watchdog_due;

static void gz_test_watchdog_fired(int sig)
{
    (void)sig;
    /* A SIGALRM before the deadline is a stray of a test's own interval
     * timer (ThreadSanitizer delivers signals late, after the test has put
     * this handler back): the alarm itself is still armed. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < gz_test_watchdog_due.tv_sec)
        return;
    static const char msg[] = "watchdog: test suite took too long (lost wakeup?)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(124);
}

/* Kill the suite after SECONDS; call first thing in main. */
static inline void gz_test_watchdog(unsigned seconds)
{
    clock_gettime(CLOCK_MONOTONIC, &gz_test_watchdog_due);
    gz_test_watchdog_due.tv_sec += seconds;
    signal(SIGALRM, gz_test_watchdog_fired);
    alarm(seconds);
}

/* Run body(arg) in a forked child whose stderr goes to BUF (up to LEN - 1
 * bytes, NUL-terminated; the rest is read and dropped); the child exits 0
 * if BODY returns. Returns the child's wait status, -1 if it could not run. */
static inline int gz_test_child(void (*body)(void *), void *arg, char *buf,
                                size_t len)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        body(arg);
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    char scratch[512];
    while ((n = got < len - 1 ? read(p[0], buf + got, len - 1 - got)
                              : read(p[0], scratch, sizeof scratch)) > 0)
        if (got < len - 1)
            got += (size_t)n;
    buf[got] = 0;
    close(p[0]);
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static inline void gz_test_exec_argv(void *argv)
{
    char **a = argv;
    execv(a[0], a);
    _exit(127);
}

/* gz_test_child for a fresh exec of PROGRAM ARG: a test that needs the real
 * signal dispositions (cmocka replaces them during tests) runs in one. */
static inline int gz_test_exec(const char *program, const char *arg, char *buf,
                               size_t len)
{
    char *argv[] = {(char *)program, (char *)arg, NULL};
    return gz_test_child(gz_test_exec_argv, argv, buf, len);
}

/* Start ARGV[0] with ARGV, its stdout to a pipe, and return the port of the
 * first line it prints of the form "... port N" (what the programs that
 * bind port 0 announce); -1 if none. *PID gets the child to stop. */
static inline int gz_test_start_announcing(char *const argv[], pid_t *pid)
{
    int out[2];
    if (pipe(out) < 0)
        return -1;
    fflush(NULL);
    *pid = fork();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    char line[256] = {0};
    size_t got = 0;
    while (got < sizeof line - 1 && !strchr(line, '\n')) {
        ssize_t r = read(out[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(out[0]);
    const char *p = strstr(line, " port ");
    if (!p) {
        fprintf(stderr, "no port announced by %s: '%s'\n", argv[0], line);
        return -1;
    }
    return atoi(p + 6);
}

/* Stop a child started with gz_test_start_announcing (SIGKILL, reaped). */
static inline void gz_test_stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

#define GZ_INT(p) ((int)(intptr_t)(p))
#define GZ_PTR(i) ((void *)(intptr_t)(i))

#endif
