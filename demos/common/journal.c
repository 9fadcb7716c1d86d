/* The pipeline's journal: see journal.h for the format and the policy. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gzmq.h>

#include "common/journal.h"

#define MAGIC "gzjrnl1\n"
#define MAGIC_LEN 8
#define HEAD_LEN 9             /* u32 length, u32 crc, u8 type */
#define MAX_RECORD (64u << 20) /* a longer "length" is a torn or foreign header */

struct journal {
    char *path;
    int fd;
    bool broken;           /* a sync or compaction failed: what is on disk is unknown */
    bool abandoned;        /* ... and its thread may still use the fd and path */
    bool busy;             /* a sync or compaction is running */
    unsigned char *buf;    /* records appended, not yet written */
    size_t len, cap;
    size_t file_records, buf_records;
    uint64_t bytes, torn;
};

static uint32_t crc_table[256];

static uint32_t crc32_of(unsigned type, const void *data, size_t len)
{
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    unsigned char t = (unsigned char)type;
    c = crc_table[(c ^ t) & 0xFF] ^ (c >> 8);
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ ((const unsigned char *)data)[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Encode one record at OUT (HEAD_LEN + len bytes). */
static void encode(unsigned char *out, unsigned type, const void *data, size_t len)
{
    put32(out, (uint32_t)len);
    put32(out + 4, crc32_of(type, data, len));
    out[8] = (unsigned char)type;
    if (len)
        memcpy(out + HEAD_LEN, data, len);
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, unsigned char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    unsigned char *p = malloc((size_t)st.st_size + 1);
    if (!p)
        return -1;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                break; /* shrank under us: replay what there is */
            free(p);
            return -1;
        }
        got += (size_t)n;
    }
    *out = p;
    *len = got;
    return 0;
}

/* fsync the directory holding PATH, so that a create or rename in it is
 * durable too. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

journal *journal_open(const char *path, journal_replay_fn *fn, void *arg)
{
    journal *j = calloc(1, sizeof *j);
    unsigned char *data = NULL;
    if (!j)
        goto fail;
    j->fd = -1;
    if (!(j->path = strdup(path)))
        goto fail;
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0)
        goto fail;
    size_t len;
    if (read_all(j->fd, &data, &len) != 0)
        goto fail;
    size_t good = MAGIC_LEN;
    if (len < MAGIC_LEN && memcmp(data, MAGIC, len) == 0) {
        /* new, or torn while its magic was written: nothing was recorded */
        if (ftruncate(j->fd, 0) != 0 || write_all(j->fd, (const unsigned char *)MAGIC,
                                                  MAGIC_LEN) != 0 ||
            fsync(j->fd) != 0 || sync_dir(path) != 0)
            goto fail;
        j->torn = len;
    } else if (len < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0) {
        errno = EINVAL;
        goto fail;
    } else {
        while (len - good >= HEAD_LEN) {
            const unsigned char *h = data + good;
            uint32_t n = get32(h);
            if (n > MAX_RECORD || n > len - good - HEAD_LEN ||
                get32(h + 4) != crc32_of(h[8], h + HEAD_LEN, n))
                break; /* torn (or damaged): nothing after it can be trusted */
            if (fn && fn(arg, h[8], h + HEAD_LEN, n) != 0)
                goto fail;
            j->file_records++;
            good += HEAD_LEN + n;
        }
        j->torn = len - good;
        if (j->torn && (ftruncate(j->fd, (off_t)good) != 0 || fsync(j->fd) != 0))
            goto fail;
    }
    j->bytes = good;
    free(data);
    return j;
fail:;
    int e = errno;
    free(data);
    if (j && j->fd >= 0)
        close(j->fd);
    if (j)
        free(j->path);
    free(j);
    errno = e;
    return NULL;
}

int journal_append(journal *j, unsigned type, const void *data, size_t len)
{
    if (type > 255 || len > MAX_RECORD || (len && !data)) {
        errno = EINVAL;
        return -1;
    }
    if (j->len + HEAD_LEN + len > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap < j->len + HEAD_LEN + len)
            cap *= 2;
        unsigned char *p = realloc(j->buf, cap);
        if (!p)
            return -1;
        j->buf = p;
        j->cap = cap;
    }
    encode(j->buf + j->len, type, data, len);
    j->len += HEAD_LEN + len;
    j->buf_records++;
    return 0;
}

/* What a worker thread does for journal_sync and journal_compact. The job
 * owns its bytes: if the waiting greenlet is killed, the thread finishes
 * with them unobserved and the job is abandoned to it (never freed). */
typedef struct job {
    int fd;                /* sync: append here; compact: the new fd, out */
    const char *path;      /* compact: the journal's path; NULL for a sync */
    unsigned char *bytes;
    size_t len;
    int err;
} job;

static void *run_job(void *arg)
{
    job *b = arg;
    if (!b->path) {
        if (write_all(b->fd, b->bytes, b->len) != 0 || fdatasync(b->fd) != 0)
            b->err = errno;
        return NULL;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", b->path) >= (int)sizeof tmp) {
        b->err = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, b->bytes, b->len) != 0 || fsync(fd) != 0 ||
        rename(tmp, b->path) != 0) {
        b->err = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return NULL;
    }
    close(fd);
    b->fd = open(b->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (b->fd < 0 || sync_dir(b->path) != 0)
        b->err = errno;
    return NULL;
}

/* Run B on a worker thread: 0, or -1 with errno (the job's or the pool's). */
static int off_hub(journal *j, job *b)
{
    j->busy = true;
    int rc = gz_run_in_thread(run_job, b, NULL, GZ_FOREVER);
    j->busy = false;
    if (rc != 0 || b->err) {
        j->broken = true;
        if (rc != 0 && errno != EINVAL && errno != ENOMEM && errno != EAGAIN)
            j->abandoned = true; /* it may still run: leave it its job */
        else if (rc == 0)
            errno = b->err;
        return -1;
    }
    return 0;
}

/* 0 if J may start a sync or compaction, else -1 with errno. */
static int ready(const journal *j)
{
    if (j->broken) {
        errno = EIO;
        return -1;
    }
    if (j->busy) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

int journal_sync(journal *j)
{
    if (ready(j) != 0)
        return -1;
    if (j->len == 0)
        return 0;
    job *b = malloc(sizeof *b);
    if (!b)
        return -1;
    /* the job takes the buffer: appends during the sync start a new one */
    *b = (job){.fd = j->fd, .bytes = j->buf, .len = j->len};
    size_t records = j->buf_records;
    j->buf = NULL;
    j->len = j->cap = j->buf_records = 0;
    if (off_hub(j, b) != 0) {
        int e = errno;
        if (!j->abandoned) {
            free(b->bytes);
            free(b);
        }
        errno = e;
        return -1;
    }
    j->bytes += b->len;
    j->file_records += records;
    free(b->bytes);
    free(b);
    return 0;
}

int journal_compact(journal *j, unsigned type, const void *snap, size_t len)
{
    if (type > 255 || len > MAX_RECORD || (len && !snap)) {
        errno = EINVAL;
        return -1;
    }
    if (ready(j) != 0)
        return -1;
    job *b = malloc(sizeof *b);
    unsigned char *bytes = malloc(MAGIC_LEN + HEAD_LEN + len);
    if (!b || !bytes) {
        free(b);
        free(bytes);
        return -1;
    }
    memcpy(bytes, MAGIC, MAGIC_LEN);
    encode(bytes + MAGIC_LEN, type, snap, len);
    *b = (job){.fd = -1, .path = j->path, .bytes = bytes, .len = MAGIC_LEN + HEAD_LEN + len};
    /* records appended while it is written are not in SNAP: they stay */
    size_t covered = j->len, covered_records = j->buf_records;
    if (off_hub(j, b) != 0) {
        int e = errno;
        if (!j->abandoned) {
            if (b->fd >= 0)
                close(b->fd);
            free(bytes);
            free(b);
        }
        errno = e;
        return -1;
    }
    close(j->fd);
    j->fd = b->fd;
    j->bytes = b->len;
    if (j->len > covered)
        memmove(j->buf, j->buf + covered, j->len - covered);
    j->len -= covered;
    j->buf_records -= covered_records;
    j->file_records = 1;
    free(bytes);
    free(b);
    return 0;
}

size_t journal_records(const journal *j)
{
    return j->file_records + j->buf_records;
}

uint64_t journal_bytes(const journal *j)
{
    return j->bytes;
}

uint64_t journal_torn(const journal *j)
{
    return j->torn;
}

void journal_close(journal *j)
{
    if (!j)
        return;
    if (!j->abandoned) {
        close(j->fd);
        free(j->path); /* an abandoned job may still read the path */
    }
    free(j->buf);
    free(j);
}

/* ---- taskset ---- */

enum { REC_SNAPSHOT = 'S', REC_ID = 'T' };

struct taskset {
    journal *j;
    long n, count, repeats;
    unsigned char *bits;
    size_t limit;          /* records after which a sync compacts */
    char *why;
    size_t whylen;
};

static int refuse(taskset *t, const char *fmt, long a, long b)
{
    if (t->whylen)
        snprintf(t->why, t->whylen, fmt, a, b);
    errno = EINVAL;
    return -1;
}

static void set_bit(taskset *t, long id)
{
    if (t->bits[id / 8] & (1u << (id % 8))) {
        t->repeats++;
        return;
    }
    t->bits[id / 8] |= (unsigned char)(1u << (id % 8));
    t->count++;
}

static int replay(void *arg, unsigned type, const void *data, size_t len)
{
    taskset *t = arg;
    const unsigned char *p = data;
    size_t nbytes = (size_t)(t->n + 7) / 8;
    if (type == REC_SNAPSHOT) {
        long n = len >= 4 ? (long)get32(p) : -1;
        if (n != t->n)
            return refuse(t, "it holds a run of %ld tasks, not %ld", n, t->n);
        if (len != 4 + nbytes)
            return refuse(t, "a snapshot of %ld bytes for %ld tasks", (long)len, t->n);
        memset(t->bits, 0, nbytes);
        t->count = 0;
        for (long id = 0; id < t->n; id++)
            if (p[4 + id / 8] & (1u << (id % 8)))
                set_bit(t, id);
        return 0;
    }
    if (type == REC_ID && len == 4 && (long)get32(p) < t->n) {
        set_bit(t, (long)get32(p));
        return 0;
    }
    return refuse(t, "an unknown record (type %ld, %ld bytes)", (long)type, (long)len);
}

/* Write the whole set as one snapshot record. */
static int compact(taskset *t)
{
    size_t nbytes = (size_t)(t->n + 7) / 8;
    unsigned char *snap = malloc(4 + nbytes);
    if (!snap)
        return -1;
    put32(snap, (uint32_t)t->n);
    memcpy(snap + 4, t->bits, nbytes); /* a copy: adds go on while it is written */
    int rc = journal_compact(t->j, REC_SNAPSHOT, snap, 4 + nbytes);
    int e = errno;
    free(snap);
    errno = e;
    return rc;
}

taskset *taskset_open(const char *path, long n, char *why, size_t whylen)
{
    if (whylen)
        why[0] = 0;
    if (n <= 0 || n > (long)UINT32_MAX) {
        if (whylen)
            snprintf(why, whylen, "%ld tasks: out of range", n);
        errno = EINVAL;
        return NULL;
    }
    taskset *t = calloc(1, sizeof *t);
    if (!t || !(t->bits = calloc((size_t)(n + 7) / 8, 1)))
        goto fail;
    t->n = n;
    t->why = why;
    t->whylen = whylen;
    t->limit = (size_t)n / 64 > 1024 ? (size_t)n / 64 : 1024;
    t->j = journal_open(path, replay, t);
    if (!t->j) {
        if (errno == EINVAL && whylen && !why[0])
            snprintf(why, whylen, "not a journal (it does not begin with \"gzjrnl1\")");
        goto fail;
    }
    if (journal_records(t->j) == 0 && compact(t) != 0) /* new: record N */
        goto fail;
    return t;
fail:;
    int e = errno;
    if (whylen && !why[0])
        snprintf(why, whylen, "%s", strerror(e));
    if (t) {
        journal_close(t->j);
        free(t->bits);
    }
    free(t);
    errno = e;
    return NULL;
}

bool taskset_has(const taskset *t, long id)
{
    return id >= 0 && id < t->n && (t->bits[id / 8] & (1u << (id % 8)));
}

long taskset_count(const taskset *t)
{
    return t->count;
}

long taskset_repeats(const taskset *t)
{
    return t->repeats;
}

int taskset_add(taskset *t, long id)
{
    if (id < 0 || id >= t->n) {
        errno = EINVAL;
        return -1;
    }
    if (taskset_has(t, id)) {
        errno = EEXIST;
        return -1;
    }
    unsigned char rec[4];
    put32(rec, (uint32_t)id);
    if (journal_append(t->j, REC_ID, rec, sizeof rec) != 0)
        return -1;
    set_bit(t, id);
    return 0;
}

int taskset_sync(taskset *t)
{
    if (journal_records(t->j) > t->limit)
        return compact(t);
    return journal_sync(t->j);
}

const journal *taskset_journal(const taskset *t)
{
    return t->j;
}

void taskset_close(taskset *t)
{
    if (!t)
        return;
    journal_close(t->j);
    free(t->bits);
    free(t);
}
