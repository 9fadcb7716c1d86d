/* gz_cert: CURVE key pairs and their ZPL text files (rfc 4/ZPL), the format
 * czmq's zcert and pyzmq's zmq.auth write, so that keys made by either load
 * here and ours load there.
 *
 * Only what a certificate uses of ZPL is read: top-level section names
 * ("metadata", "curve") and, indented below them, name = value lines whose
 * value may be quoted with " or ' or bare. Deeper levels are skipped. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "gz_internal.h"
#include "cert.h"
#include "gzmq/auth.h"

#define KEY_TXT 40 /* Z85 of a 32-byte key */

typedef struct meta {
    char *name, *value;
} meta;

struct gz_cert {
    char public_txt[KEY_TXT + 1];
    char secret_txt[KEY_TXT + 1]; /* "" when only the public key is known */
    meta *meta;
    size_t nmeta;
};

static bool key_valid(const char *txt)
{
    uint8_t bin[32];
    return txt && strlen(txt) == KEY_TXT && zmq_z85_decode(bin, txt) != NULL;
}

/* Does SECRET_TXT's public half equal PUBLIC_TXT? */
static bool pair_matches(const char *public_txt, const char *secret_txt)
{
    char derived[KEY_TXT + 1];
    if (zmq_curve_public(derived, secret_txt) != 0)
        return true; /* libzmq without CURVE cannot tell: trust the file */
    return strcmp(derived, public_txt) == 0;
}

static gz_cert *cert_alloc(void)
{
    gz_cert *c = calloc(1, sizeof *c);
    if (!c)
        errno = ENOMEM;
    return c;
}

gz_cert *gz_cert_new(void)
{
    gz_cert *c = cert_alloc();
    if (c && zmq_curve_keypair(c->public_txt, c->secret_txt) != 0) {
        int e = errno;
        gz_cert_destroy(c);
        errno = e; /* ENOTSUP: libzmq without CURVE */
        return NULL;
    }
    return c;
}

gz_cert *gz_cert_new_from_txt(const char *public_txt, const char *secret_txt)
{
    if (!key_valid(public_txt) || (secret_txt && !key_valid(secret_txt)) ||
        (secret_txt && !pair_matches(public_txt, secret_txt))) {
        errno = EINVAL;
        return NULL;
    }
    gz_cert *c = cert_alloc();
    if (!c)
        return NULL;
    memcpy(c->public_txt, public_txt, KEY_TXT + 1);
    if (secret_txt)
        memcpy(c->secret_txt, secret_txt, KEY_TXT + 1);
    return c;
}

void gz_cert_destroy(gz_cert *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nmeta; i++) {
        free(c->meta[i].name);
        free(c->meta[i].value);
    }
    free(c->meta);
    explicit_bzero(c->secret_txt, sizeof c->secret_txt);
    free(c);
}

const char *gz_cert_public_txt(const gz_cert *c)
{
    if (!c) {
        errno = EINVAL;
        return NULL;
    }
    return c->public_txt;
}

const char *gz_cert_secret_txt(const gz_cert *c)
{
    if (!c || !c->secret_txt[0]) {
        errno = c ? ENOENT : EINVAL;
        return NULL;
    }
    return c->secret_txt;
}

/* ---- metadata ---- */

static bool name_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
              ('0' <= *s && *s <= '9') || strchr("$-_@.&+/", *s)))
            return false;
    return true;
}

static bool value_valid(const char *s)
{
    return s && !strpbrk(s, "\r\n") && !(strchr(s, '"') && strchr(s, '\''));
}

int gz_cert_set_meta(gz_cert *c, const char *name, const char *value)
{
    if (!c || !name_valid(name) || !value_valid(value)) {
        errno = EINVAL;
        return -1;
    }
    char *v = strdup(value);
    if (!v) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].name, name) == 0) {
            free(c->meta[i].value);
            c->meta[i].value = v;
            return 0;
        }
    char *n = strdup(name);
    meta *m = n ? realloc(c->meta, (c->nmeta + 1) * sizeof *m) : NULL;
    if (!m) {
        free(n);
        free(v);
        errno = ENOMEM;
        return -1;
    }
    c->meta = m;
    m[c->nmeta++] = (meta){n, v};
    return 0;
}

const char *gz_cert_meta(const gz_cert *c, const char *name)
{
    if (!c || !name) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].name, name) == 0)
            return c->meta[i].value;
    errno = ENOENT;
    return NULL;
}

/* ---- reading ---- */

static bool has_meta(const gz_cert *c, const char *name)
{
    for (size_t i = 0; i < c->nmeta; i++)
        if (strcmp(c->meta[i].name, name) == 0)
            return true;
    return false;
}

/* Split a ZPL "name = value" line (leading blanks already skipped) in
 * place. False when it is not one. */
static bool zpl_pair(char *line, char **name, char **value)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return false;
    char *end = eq;
    while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = 0;
    char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '"' || *v == '\'') {
        char *close = strchr(v + 1, *v);
        if (!close)
            return false;
        *close = 0;
        v++;
    } else {
        v[strcspn(v, "#")] = 0;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = 0;
    }
    *name = line;
    *value = v;
    return **name != 0;
}

int gz__getline(FILE *f, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, f))
        return 0;
    size_t n = strcspn(buf, "\n");
    if (buf[n] == '\n' || feof(f)) {
        buf[n] = 0;
        if (n && buf[n - 1] == '\r')
            buf[n - 1] = 0;
        return 1;
    }
    int c;
    while ((c = getc(f)) != EOF && c != '\n')
        ;
    buf[0] = 0;
    return -1;
}

/* Read the certificate file PATH into C: the public key (required unless
 * SECRET_ONLY), the secret key when present, and the metadata. -1 with
 * errno: fopen's, EBADMSG, ENOMEM. */
static int read_file(gz_cert *c, const char *path, bool secret_only)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024], section[64] = "";
    char public_txt[KEY_TXT + 1] = "", secret_txt[KEY_TXT + 1] = "";
    bool bad = false;
    int rc = 0;
    int got;
    while (rc == 0 && (got = gz__getline(f, line, sizeof line)) != 0) {
        if (got < 0) { /* no certificate line is that long */
            bad = true;
            continue;
        }
        size_t indent = strspn(line, " \t");
        char *s = line + indent, *name, *value;
        if (!*s || *s == '#')
            continue;
        if (indent == 0) {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(s, " \t="), s);
            continue;
        }
        if (indent > 4 || !zpl_pair(s, &name, &value))
            continue;
        if (strcmp(section, "curve") == 0 && strcmp(name, "public-key") == 0) {
            bad |= !key_valid(value);
            snprintf(public_txt, sizeof public_txt, "%s", value);
        } else if (strcmp(section, "curve") == 0 && strcmp(name, "secret-key") == 0) {
            bad |= !key_valid(value);
            snprintf(secret_txt, sizeof secret_txt, "%s", value);
        } else if (strcmp(section, "metadata") == 0 && name_valid(name) &&
                   value_valid(value) && !(secret_only && has_meta(c, name))) {
            /* pyzmq writes metadata in the secret file only */
            rc = gz_cert_set_meta(c, name, value);
        }
    }
    fclose(f);
    explicit_bzero(line, sizeof line);
    if (rc != 0)
        return -1;
    if (bad || (!secret_only && !public_txt[0]) || (secret_only && !secret_txt[0])) {
        errno = EBADMSG;
        return -1;
    }
    if (!secret_only)
        memcpy(c->public_txt, public_txt, sizeof public_txt);
    if (secret_txt[0]) {
        if (!pair_matches(c->public_txt, secret_txt)) {
            explicit_bzero(secret_txt, sizeof secret_txt);
            errno = EBADMSG;
            return -1;
        }
        memcpy(c->secret_txt, secret_txt, sizeof secret_txt);
        explicit_bzero(secret_txt, sizeof secret_txt);
    }
    return 0;
}

gz_cert *gz__cert_load_public(const char *path)
{
    gz_cert *c = cert_alloc();
    if (c && read_file(c, path, false) != 0) {
        int e = errno;
        gz_cert_destroy(c);
        errno = e;
        return NULL;
    }
    return c;
}

gz_cert *gz_cert_load(const char *path)
{
    if (!path) {
        errno = EINVAL;
        return NULL;
    }
    gz_cert *c = gz__cert_load_public(path);
    if (!c || c->secret_txt[0])
        return c;
    char secret_path[PATH_MAX];
    if (snprintf(secret_path, sizeof secret_path, "%s_secret", path) >=
        (int)sizeof secret_path)
        return c;
    if (read_file(c, secret_path, true) != 0 && errno != ENOENT) {
        int e = errno;
        gz_cert_destroy(c);
        errno = e;
        return NULL;
    }
    return c;
}

/* ---- writing ---- */

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Write one certificate file at PATH with MODE: into a hidden temporary
 * file beside it, then renamed over PATH. */
static int save_file(const gz_cert *c, const char *path, bool with_secret, mode_t mode)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s.%s.XXXXXX", dirlen, path, path + dirlen) >=
        (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0)
        return -1;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    char head[512];
    int n = snprintf(head, sizeof head,
                     "#   ZeroMQ CURVE %s certificate, written by libgzmq on %s\n"
                     "#   %s\n\nmetadata\n",
                     with_secret ? "**secret**" : "public", stamp,
                     with_secret ? "Keep it private: it holds the secret key."
                                 : "Give it to the peers that must know this key.");
    int rc = write_all(fd, head, (size_t)n);
    for (size_t i = 0; rc == 0 && i < c->nmeta; i++) {
        char q = strchr(c->meta[i].value, '"') ? '\'' : '"';
        char *l;
        int len = asprintf(&l, "    %s = %c%s%c\n", c->meta[i].name, q, c->meta[i].value, q);
        rc = len < 0 ? (errno = ENOMEM, -1) : write_all(fd, l, (size_t)len);
        if (len >= 0)
            free(l);
    }
    char keys[160];
    n = snprintf(keys, sizeof keys, "curve\n    public-key = \"%s\"\n", c->public_txt);
    if (with_secret)
        n += snprintf(keys + n, sizeof keys - (size_t)n, "    secret-key = \"%s\"\n",
                      c->secret_txt);
    if (rc == 0)
        rc = write_all(fd, keys, (size_t)n);
    explicit_bzero(keys, sizeof keys);
    if (rc == 0)
        rc = fchmod(fd, mode);
    if (rc == 0)
        rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = e;
    }
    return rc;
}

int gz_cert_save(const gz_cert *c, const char *path)
{
    if (!c || !path || !*path) {
        errno = EINVAL;
        return -1;
    }
    char secret_path[PATH_MAX];
    if (snprintf(secret_path, sizeof secret_path, "%s_secret", path) >=
        (int)sizeof secret_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (save_file(c, path, false, 0644) != 0)
        return -1;
    return c->secret_txt[0] ? save_file(c, secret_path, true, 0600) : 0;
}

int gz_cert_apply(const gz_cert *c, void *socket)
{
    if (!c || !c->secret_txt[0]) {
        errno = EINVAL;
        return -1;
    }
    if (!zmq_has("curve")) {
        errno = ENOTSUP;
        return -1;
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, c->public_txt, KEY_TXT) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_txt, KEY_TXT) != 0)
        return -1;
    return 0;
}
