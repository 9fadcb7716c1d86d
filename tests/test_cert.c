/* cert.c: CURVE certificates, their files (mode, atomic save, metadata),
 * malformed files, and the round trip with pyzmq's zmq.auth
 * (create_certificates / load_certificate, run by /usr/bin/python3 when
 * python3-zmq is installed; the test says SKIPPED otherwise). */
#include <sys/stat.h>

#include "gz_test.h"

#define PY "/usr/bin/python3"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gzmq-cert-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool have_curve(void)
{
    if (zmq_has("curve"))
        return true;
    printf("SKIPPED: this libzmq has no CURVE (zmq_has(\"curve\") is false)\n");
    return false;
}

static bool have_pyzmq(void)
{
    if (system(PY " -c 'import zmq.auth' 2>/dev/null") == 0)
        return true;
    printf("SKIPPED: no python3-zmq (" PY " -c 'import zmq.auth' failed)\n");
    return false;
}

static char *path_in_dir(const char *name)
{
    static char p[4][128];
    static int i;
    char *s = p[i++ % 4];
    snprintf(s, 128, "%s/%s", dir, name);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *t = gz_test_read_all(f);
    fclose(f);
    return t;
}

static void saved_certificate_loads_with_its_keys_metadata_and_modes(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *c = gz_cert_new();
    assert_non_null(c);
    assert_int_equal(strlen(gz_cert_public_txt(c)), 40);
    assert_int_equal(strlen(gz_cert_secret_txt(c)), 40);
    assert_int_equal(gz_cert_set_meta(c, "name", "alice's laptop"), 0);
    assert_int_equal(gz_cert_set_meta(c, "email", "a@example.org"), 0);
    assert_int_equal(gz_cert_set_meta(c, "email", "alice@example.org"), 0);
    char *path = path_in_dir("alice.key");
    assert_int_equal(gz_cert_save(c, path), 0);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(stat(path_in_dir("alice.key_secret"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *pub = read_text(path);
    assert_null(strstr(pub, gz_cert_secret_txt(c))); /* the public file holds no secret */
    assert_null(strstr(pub, "secret-key"));
    assert_true(gz_test_has_line(pub, "^curve$"));
    free(pub);

    gz_cert *l = gz_cert_load(path);
    assert_non_null(l);
    assert_string_equal(gz_cert_public_txt(l), gz_cert_public_txt(c));
    assert_string_equal(gz_cert_secret_txt(l), gz_cert_secret_txt(c));
    assert_string_equal(gz_cert_meta(l, "name"), "alice's laptop");
    assert_string_equal(gz_cert_meta(l, "email"), "alice@example.org");
    assert_null(gz_cert_meta(l, "phone"));
    assert_int_equal(errno, ENOENT);
    gz_cert_destroy(l);
    /* The secret file alone is a whole certificate too. */
    l = gz_cert_load(path_in_dir("alice.key_secret"));
    assert_non_null(l);
    assert_string_equal(gz_cert_secret_txt(l), gz_cert_secret_txt(c));
    gz_cert_destroy(l);
    /* Without the secret file: the public key alone. */
    assert_int_equal(unlink(path_in_dir("alice.key_secret")), 0);
    l = gz_cert_load(path);
    assert_non_null(l);
    assert_null(gz_cert_secret_txt(l));
    assert_int_equal(errno, ENOENT);
    assert_fails(gz_cert_apply(l, NULL), EINVAL);
    /* Saving a public-only certificate writes no secret file. */
    assert_int_equal(gz_cert_save(l, path_in_dir("copy.key")), 0);
    assert_fails(stat(path_in_dir("copy.key_secret"), &st), ENOENT);
    gz_cert_destroy(l);
    gz_cert_destroy(c);
    gz_cert_destroy(NULL);
}

static void apply_sets_the_socket_keys(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *c = gz_cert_new();
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    assert_int_equal(gz_cert_apply(c, s), 0);
    char key[41];
    size_t len = sizeof key;
    assert_int_equal(zmq_getsockopt(s, ZMQ_CURVE_PUBLICKEY, key, &len), 0);
    assert_string_equal(key, gz_cert_public_txt(c));
    len = sizeof key;
    assert_int_equal(zmq_getsockopt(s, ZMQ_CURVE_SECRETKEY, key, &len), 0);
    assert_string_equal(key, gz_cert_secret_txt(c));
    zmq_close(s);
    zmq_ctx_term(ctx);
    assert_fails(gz_cert_apply(NULL, s), EINVAL);
    gz_cert_destroy(c);
}

static void from_txt_checks_the_keys(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    gz_cert *a = gz_cert_new(), *b = gz_cert_new();
    gz_cert *c = gz_cert_new_from_txt(gz_cert_public_txt(a), gz_cert_secret_txt(a));
    assert_non_null(c);
    assert_string_equal(gz_cert_secret_txt(c), gz_cert_secret_txt(a));
    gz_cert_destroy(c);
    c = gz_cert_new_from_txt(gz_cert_public_txt(a), NULL);
    assert_non_null(c);
    assert_null(gz_cert_secret_txt(c));
    gz_cert_destroy(c);
    assert_null(gz_cert_new_from_txt(gz_cert_public_txt(a), gz_cert_secret_txt(b)));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_cert_new_from_txt("short", NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_cert_new_from_txt(NULL, NULL));
    assert_int_equal(errno, EINVAL);
    /* 40 characters, but not Z85 ('~' is outside its alphabet). */
    assert_null(gz_cert_new_from_txt("~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", NULL));
    assert_int_equal(errno, EINVAL);
    gz_cert_destroy(a);
    gz_cert_destroy(b);
}

static void malformed_files_and_bad_arguments_are_refused(void **state)
{
    (void)state;
    if (!have_curve())
        skip();
    assert_null(gz_cert_load(path_in_dir("missing")));
    assert_int_equal(errno, ENOENT);
    assert_null(gz_cert_load(NULL));
    assert_int_equal(errno, EINVAL);
    write_text(path_in_dir("empty"), "# nothing here\n");
    assert_null(gz_cert_load(path_in_dir("empty")));
    assert_int_equal(errno, EBADMSG);
    write_text(path_in_dir("badkey"), "curve\n    public-key = \"tooshort\"\n");
    assert_null(gz_cert_load(path_in_dir("badkey")));
    assert_int_equal(errno, EBADMSG);
    /* A line over 1023 bytes is malformed, not read as two lines. */
    gz_cert *k = gz_cert_new();
    char longtext[2048];
    /* The comment fills exactly one 1023-byte read: its tail is a key line. */
    int n = snprintf(longtext, sizeof longtext, "curve\n    #");
    while (n < 6 + 1023)
        longtext[n++] = 'x';
    snprintf(longtext + n, sizeof longtext - (size_t)n, "    public-key = \"%s\"\n",
             gz_cert_public_txt(k));
    write_text(path_in_dir("long"), longtext);
    assert_null(gz_cert_load(path_in_dir("long")));
    assert_int_equal(errno, EBADMSG);
    gz_cert_destroy(k);
    /* A secret file whose key is another certificate's. */
    gz_cert *a = gz_cert_new(), *b = gz_cert_new();
    char text[256];
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n", gz_cert_public_txt(a));
    write_text(path_in_dir("mixed"), text);
    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             gz_cert_public_txt(a), gz_cert_secret_txt(b));
    write_text(path_in_dir("mixed_secret"), text);
    assert_null(gz_cert_load(path_in_dir("mixed")));
    assert_int_equal(errno, EBADMSG);
    /* Keys under another section than "curve" are not keys. */
    snprintf(text, sizeof text, "metadata\n    public-key = \"%s\"\n", gz_cert_public_txt(a));
    write_text(path_in_dir("elsewhere"), text);
    assert_null(gz_cert_load(path_in_dir("elsewhere")));
    assert_int_equal(errno, EBADMSG);
    /* Single quotes and bare values are ZPL too. */
    snprintf(text, sizeof text, "metadata\n    who = bare value # comment\ncurve\n    public-key = '%s'\n",
             gz_cert_public_txt(a));
    write_text(path_in_dir("quotes"), text);
    gz_cert *q = gz_cert_load(path_in_dir("quotes"));
    assert_non_null(q);
    assert_string_equal(gz_cert_public_txt(q), gz_cert_public_txt(a));
    assert_string_equal(gz_cert_meta(q, "who"), "bare value");
    gz_cert_destroy(q);

    assert_fails(gz_cert_set_meta(a, "bad name", "v"), EINVAL);
    assert_fails(gz_cert_set_meta(a, "", "v"), EINVAL);
    assert_fails(gz_cert_set_meta(a, "n", "two\nlines"), EINVAL);
    assert_fails(gz_cert_set_meta(a, "n", "both ' and \""), EINVAL);
    assert_fails(gz_cert_set_meta(NULL, "n", "v"), EINVAL);
    assert_fails(gz_cert_save(NULL, "x"), EINVAL);
    assert_fails(gz_cert_save(a, ""), EINVAL);
    assert_fails(gz_cert_save(a, "/nonexistent/dir/x"), ENOENT);
    assert_null(gz_cert_public_txt(NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(gz_cert_secret_txt(NULL));
    assert_int_equal(errno, EINVAL);
    gz_cert_destroy(a);
    gz_cert_destroy(b);
}

/* Run a python snippet; its stdout (malloc'd) or NULL if it failed. */
static char *python(const char *code)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, PY " -c '%s'", code);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = gz_test_read_all(p);
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void pyzmq_certificates_load_and_ours_load_in_pyzmq(void **state)
{
    (void)state;
    if (!have_curve() || !have_pyzmq())
        skip();
    char code[1024];
    snprintf(code, sizeof code,
             "import zmq.auth\n"
             "p, s = zmq.auth.create_certificates(\"%s\", \"client\", metadata={\"name\": \"py\"})\n"
             "pub, sec = zmq.auth.load_certificate(s)\n"
             "print(pub.decode(), sec.decode())\n", dir);
    char *out = python(code);
    assert_non_null(out);
    char pub[41], sec[41];
    assert_int_equal(sscanf(out, "%40s %40s", pub, sec), 2);
    free(out);
    gz_cert *c = gz_cert_load(path_in_dir("client.key"));
    assert_non_null(c);
    assert_string_equal(gz_cert_public_txt(c), pub);
    assert_string_equal(gz_cert_secret_txt(c), sec);
    assert_string_equal(gz_cert_meta(c, "name"), "py");
    gz_cert_destroy(c);

    gz_cert *ours = gz_cert_new();
    assert_int_equal(gz_cert_set_meta(ours, "name", "from C"), 0);
    assert_int_equal(gz_cert_save(ours, path_in_dir("ours.key")), 0);
    snprintf(code, sizeof code,
             "import zmq.auth\n"
             "pub, sec = zmq.auth.load_certificate(\"%s/ours.key\")\n"
             "pub2, sec2 = zmq.auth.load_certificate(\"%s/ours.key_secret\")\n"
             "assert sec is None and pub == pub2\n"
             "print(pub.decode(), sec2.decode())\n"
             "print(sorted(k.decode() for k in zmq.auth.load_certificates(\"%s\")))\n",
             dir, dir, dir);
    out = python(code);
    assert_non_null(out);
    assert_int_equal(sscanf(out, "%40s %40s", pub, sec), 2);
    assert_string_equal(pub, gz_cert_public_txt(ours));
    assert_string_equal(sec, gz_cert_secret_txt(ours));
    /* pyzmq's directory loader (*.key) finds both keys. */
    assert_non_null(strstr(out, gz_cert_public_txt(ours)));
    free(out);
    gz_cert_destroy(ours);
}

int main(void)
{
    gz_test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(saved_certificate_loads_with_its_keys_metadata_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(apply_sets_the_socket_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(from_txt_checks_the_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_files_and_bad_arguments_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(pyzmq_certificates_load_and_ours_load_in_pyzmq, setup, teardown),
    };
    return cmocka_run_group_tests_name("cert", tests, NULL, NULL);
}
