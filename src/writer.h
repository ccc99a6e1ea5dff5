/*
 * writer.h — the store-writer thread: one SQLite connection that owns the
 * writes of the realtime path (messages, events, memberships) and commits
 * them in batches ("group commit"), so the sender is acknowledged only once
 * its write is durable (RG-IM-a, WC-STORE, IN-SURGE; docs/adr/0008).
 *
 * Invariants:
 *  - Jobs run on the writer thread in submission order, each inside its own
 *    SAVEPOINT of the batch transaction: a job that fails is rolled back
 *    alone, the rest of the batch commits.
 *  - The batch commits with synchronous=FULL (durable against power loss,
 *    not only process death) before any job's completion runs.
 *  - Completions run on the event-loop thread, in submission order, from
 *    writer_drain(); so events (whose seq SQLite assigns in commit order)
 *    reach the loop in seq order.
 *  - The queue is bounded (WRITER_QUEUE_MAX); writer_submit() refuses with
 *    BW_EBUSY past it, which the callers turn into 429/503.
 * Memory: jobs are owned by the caller (embed struct writer_job); the writer
 * never frees them.  After done() returns the writer does not touch the job.
 */
#ifndef BW_WRITER_H
#define BW_WRITER_H

#include <sqlite3.h>
#include <stdint.h>

#define WRITER_BATCH_MAX 512
#define WRITER_QUEUE_MAX 20000

struct writer_job {
	struct writer_job *next;
	/* writer thread, inside the batch: 0 or BW_E*; a failure rolls back
	 * this job's savepoint only */
	int (*run)(struct writer_job *j, sqlite3 *db);
	/* loop thread, after the batch committed (rc = run's result), or with
	 * the commit's error for every job of a failed batch */
	void (*done)(struct writer_job *j, int rc);
	int rc;
};

struct writer;

/* Opens its own connection to DIR/bulwark.db and starts the thread.
 * notify(arg) is called from the writer thread when completions are ready
 * (the server passes lws_cancel_service). */
int writer_start(const char *data_dir, void (*notify)(void *), void *arg, struct writer **out);
/* Flushes what is queued, stops the thread, runs the last completions. */
void writer_stop(struct writer *w);
/* 0, or BW_EBUSY when the queue is full (the job is not taken). */
int writer_submit(struct writer *w, struct writer_job *j);
/* Loop thread: runs ready completions in order.  Returns how many ran. */
int writer_drain(struct writer *w);
/* Jobs queued or running (for overload decisions and metrics). */
int writer_backlog(struct writer *w);

/* Statement cache for run() callbacks: prepared once per SQL text on the
 * writer's connection.  Returns NULL (and logs) on a prepare error. */
sqlite3_stmt *writer_stmt(sqlite3 *db, const char *sql);
/* Steps a statement that returns no rows and resets it: 0, BW_ESTORE for a
 * NULL statement (writer_stmt failed), or the mapped error. */
int writer_step(sqlite3 *db, sqlite3_stmt *st);
/* Maps an SQLite result code to BW_E* (constraint → BW_EEXIST etc.). */
int writer_sqlite_err(sqlite3 *db, int rc);

#endif
