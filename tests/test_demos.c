/* Runs every tutorial demo and compares its output with
 * tests/expected/<demo>.txt. Each expected line matches its output line
 * exactly, except a line starting with "re:" whose rest is an extended
 * regular expression the whole output line must match (for times and other
 * machine-dependent figures). A demo without an expected file fails. */
#include <dirent.h>
#include <regex.h>
#include <sys/wait.h>

#include "gz_test.h"

static const char *build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static bool line_matches(const char *want, const char *got)
{
    if (strncmp(want, "re:", 3) != 0)
        return strcmp(want, got) == 0;
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "^(%s)$", want + 3);
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, got, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Compare OUT with the expected text; print the first difference. */
static bool compare(const char *name, char *want, char *out)
{
    char *ws = NULL, *os = NULL;
    char *w = strtok_r(want, "\n", &ws);
    char *o = strtok_r(out, "\n", &os);
    int line = 1;
    for (; w && o; line++) {
        if (!line_matches(w, o)) {
            fprintf(stderr, "%s line %d:\n  expected: %s\n  got:      %s\n",
                    name, line, w, o);
            return false;
        }
        w = strtok_r(NULL, "\n", &ws);
        o = strtok_r(NULL, "\n", &os);
    }
    if (w || o) {
        fprintf(stderr, "%s line %d: %s\n", name, line,
                w ? "output ended early" : "extra output");
        fprintf(stderr, "  %s\n", w ? w : o);
        return false;
    }
    return true;
}

static int run_demo(const char *name)
{
    char path[512], cmd[600], exp[512];
    snprintf(path, sizeof path, "%s/demos/tutorial/%s", build_dir(), name);
    snprintf(exp, sizeof exp, "tests/expected/%s.txt", name);
    FILE *ef = fopen(exp, "r");
    if (!ef) {
        fprintf(stderr, "%s: no expected output %s\n", name, exp);
        return -1;
    }
    char *want = gz_test_read_all(ef);
    fclose(ef);
    snprintf(cmd, sizeof cmd, "timeout 60 %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char *out = p ? gz_test_read_all(p) : NULL;
    int status = p ? pclose(p) : -1;
    int rc = 0;
    if (!want || !out) {
        rc = -1;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: exit status %d\n%s", name, status, out);
        rc = -1;
    } else if (!compare(name, want, out)) {
        rc = -1;
    }
    free(want);
    free(out);
    return rc;
}

static void every_tutorial_demo_prints_its_expected_output(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/demos/tutorial", build_dir());
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int ran = 0, failed = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        ran++;
        if (run_demo(e->d_name) != 0) {
            failed++;
            fprintf(stderr, "demo %s: FAILED\n", e->d_name);
        } else {
            printf("demo %s: ok\n", e->d_name);
        }
    }
    closedir(d);
    assert_true(ran > 0);
    assert_int_equal(failed, 0);
}

int main(void)
{
    gz_test_watchdog(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_tutorial_demo_prints_its_expected_output),
    };
    return cmocka_run_group_tests_name("demos", tests, NULL, NULL);
}
