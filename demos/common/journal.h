/* A small append-only journal for the reliable pipeline's --journal option
 * (gzmq-ventilator, gzmq-sink): what a process must not forget when it is
 * killed with -9 and restarted. Demo-level code, not part of libgzmq.
 *
 * File: an 8-byte magic, then records [u32 length][u32 crc32][u8 type]
 * [length bytes], little-endian, the CRC over type and payload. A crash
 * mid-write leaves a torn last record: opening the journal replays every
 * record up to the first one that is short or fails its CRC and cuts the
 * file there.
 *
 * Durability policy: journal_append only buffers (in memory, on the hub);
 * journal_sync writes the buffer and fsyncs it on a worker thread
 * (gz_run_in_thread) while the calling greenlet waits and the others run.
 * Whatever was appended while a sync ran goes in the next one, so the
 * batch grows with the load (group commit): one fsync per batch, never one
 * per record. journal_compact replaces the file with one snapshot record
 * (temporary file, fsync, rename, fsync of the directory), so the file
 * stays bounded. One greenlet at a time may sync or compact a journal. */
#ifndef GZMQ_DEMO_JOURNAL_H
#define GZMQ_DEMO_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct journal journal;

/* Called by journal_open for each intact record in file order: 0 to go on,
 * -1 with errno set to fail the open. */
typedef int journal_replay_fn(void *arg, unsigned type, const void *data, size_t len);

/* Open (creating it if absent) the journal at PATH, replay its records
 * through FN, cut a torn tail. NULL + errno: the open(2) errors, EINVAL
 * (the file is not a journal), ENOMEM, or FN's. */
journal *journal_open(const char *path, journal_replay_fn *fn, void *arg);
/* Buffer a record of TYPE (0..255) and LEN bytes; durable after the next
 * journal_sync. -1: EINVAL (TYPE or LEN out of range), ENOMEM. */
int journal_append(journal *j, unsigned type, const void *data, size_t len);
/* Write and fsync every buffered record, off the hub. -1: the write(2) and
 * fsync(2) errors, EBUSY (another greenlet is syncing), the errors of
 * gz_run_in_thread. After a failure the batch may be torn on disk and every
 * later sync fails with EIO: close the journal and open it again. */
int journal_sync(journal *j);
/* Replace the journal with the single record (TYPE, SNAP, LEN), which must
 * hold the effect of every record appended so far (buffered ones too:
 * they are dropped). Durable on return. -1 as journal_sync (EINVAL for a
 * TYPE or LEN out of range), and the open(2) and rename(2) errors; the file
 * then holds either the old journal or the snapshot. */
int journal_compact(journal *j, unsigned type, const void *snap, size_t len);
/* Records in the file plus those buffered, since the last compaction. */
size_t journal_records(const journal *j);
/* Bytes in the file (synced records only). */
uint64_t journal_bytes(const journal *j);
/* Bytes cut from a torn tail when the journal was opened. */
uint64_t journal_torn(const journal *j);
/* Close, dropping buffered records that were never synced. NULL is fine. */
void journal_close(journal *j);

/* ---- a durable set of task ids 0..N-1 on top of a journal ----
 * The sink's "results seen" and the ventilator's "tasks confirmed": a
 * snapshot record (N and a bitmap) then one record per id added; compacted
 * into a new snapshot when the records pass max(1024, N/64). */
typedef struct taskset taskset;

/* Open the set at PATH for N tasks (a new file holds an empty set). NULL
 * + errno, with the reason in WHY (WHYLEN bytes): EINVAL for a journal
 * kept for another N or a record that makes no sense. */
taskset *taskset_open(const char *path, long n, char *why, size_t whylen);
/* Whether ID is in the set (added, durable or not yet). */
bool taskset_has(const taskset *t, long id);
/* Ids in the set. */
long taskset_count(const taskset *t);
/* Ids that replay found twice (never, unless something is wrong). */
long taskset_repeats(const taskset *t);
/* Add ID (0 <= ID < N, not in the set yet): -1 EINVAL, EEXIST, ENOMEM. */
int taskset_add(taskset *t, long id);
/* Make every added id durable (journal_sync, or a compaction when due). */
int taskset_sync(taskset *t);
/* The journal underneath, for its sizes. */
const journal *taskset_journal(const taskset *t);
void taskset_close(taskset *t);

#endif
