/*
 * writer.c — the store-writer thread with group commit (see writer.h).
 *
 * The thread sleeps on a condition variable until jobs arrive, takes up to
 * WRITER_BATCH_MAX of them, runs each in a SAVEPOINT of one IMMEDIATE
 * transaction, commits once (one fsync for the batch), moves the batch to
 * the completion list and wakes the loop.  Requirement IDs: RG-IM-a,
 * WC-STORE, IN-SURGE.
 */
#include "writer.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_STMT_SLOTS 128

struct writer_stmt_slot { const char *sql; sqlite3_stmt *st; };

struct writer {
	struct store *store;           /* the writer's own connection */
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct writer_job *q_head, *q_tail;     /* submitted */
	struct writer_job *c_head, *c_tail;     /* completed, for the loop */
	int queued, running;
	bool stopping;
	void (*notify)(void *);
	void *notify_arg;
	struct writer_stmt_slot stmts[WRITER_STMT_SLOTS];
};

static __thread struct writer *tl_writer;

sqlite3_stmt *writer_stmt(sqlite3 *db, const char *sql)
{
	struct writer *w = tl_writer;
	if (!w)
		return NULL;
	size_t h = ((uintptr_t)sql >> 3) % WRITER_STMT_SLOTS;
	for (size_t i = 0; i < WRITER_STMT_SLOTS; i++) {
		struct writer_stmt_slot *s = &w->stmts[(h + i) % WRITER_STMT_SLOTS];
		if (s->sql == sql) {
			sqlite3_reset(s->st);
			sqlite3_clear_bindings(s->st);
			return s->st;
		}
		if (!s->sql) {
			if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
				log_err("writer: prepare failed: %s", sqlite3_errmsg(db));
				return NULL;
			}
			s->sql = sql;
			return s->st;
		}
	}
	log_err("writer: statement cache full");
	return NULL;
}

int writer_sqlite_err(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
	case SQLITE_CONSTRAINT: return BW_EEXIST;
	case SQLITE_BUSY: case SQLITE_LOCKED: return BW_EBUSY;
	case SQLITE_FULL: case SQLITE_IOERR: return BW_EIO;
	default:
		log_err("writer: sqlite error %d: %s", rc, sqlite3_errmsg(db));
		return BW_ESTORE;
	}
}

int writer_step(sqlite3 *db, sqlite3_stmt *st)
{
	if (!st)
		return BW_ESTORE;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : writer_sqlite_err(db, rc);
}

static int exec(sqlite3 *db, const char *sql)
{
	return writer_step(db, writer_stmt(db, sql));
}

/* Runs one batch; every job's rc is set. */
static void run_batch(struct writer *w, struct writer_job *batch)
{
	int rc = 0;
	for (int attempt = 0; attempt < 50; attempt++) {
		rc = exec(w->db, "BEGIN IMMEDIATE");
		if (rc != BW_EBUSY)
			break;
	}
	if (rc) {
		for (struct writer_job *j = batch; j; j = j->next)
			j->rc = rc;
		return;
	}
	for (struct writer_job *j = batch; j; j = j->next) {
		if ((rc = exec(w->db, "SAVEPOINT job")) != 0) {
			j->rc = rc;
			continue;
		}
		j->rc = j->run(j, w->db);
		if (j->rc)
			exec(w->db, "ROLLBACK TO job");
		exec(w->db, "RELEASE job");
	}
	rc = exec(w->db, "COMMIT");
	if (rc) {
		exec(w->db, "ROLLBACK");
		log_err("writer: batch commit failed: %s", bw_strerror(rc));
		for (struct writer_job *j = batch; j; j = j->next)
			j->rc = rc;
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	tl_writer = w;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->q_head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->q_head && w->stopping)
			break;
		/* take up to a batch */
		struct writer_job *batch = w->q_head, *last = batch;
		int n = 1;
		while (last->next && n < WRITER_BATCH_MAX) {
			last = last->next;
			n++;
		}
		w->q_head = last->next;
		if (!w->q_head)
			w->q_tail = NULL;
		last->next = NULL;
		w->queued -= n;
		w->running = n;
		pthread_mutex_unlock(&w->mu);

		run_batch(w, batch);

		pthread_mutex_lock(&w->mu);
		if (w->c_tail)
			w->c_tail->next = batch;
		else
			w->c_head = batch;
		w->c_tail = last;
		w->running = 0;
		pthread_mutex_unlock(&w->mu);
		if (w->notify)
			w->notify(w->notify_arg);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < WRITER_STMT_SLOTS; i++)
		if (w->stmts[i].st)
			sqlite3_finalize(w->stmts[i].st);
	memset(w->stmts, 0, sizeof w->stmts);
	tl_writer = NULL;
	return NULL;
}



int writer_start(const char *data_dir, void (*notify)(void *), void *arg, struct writer **out)
{
	struct writer *w = calloc(1, sizeof *w);
	if (!w)
		return BW_ENOMEM;
	int rc = store_sqlite_open(data_dir, false, &w->store);
	if (rc) {
		free(w);
		return rc;
	}
	w->db = store_sqlite_handle(w->store);
	/* durable before acknowledgement: power loss too, not only a crash */
	if (sqlite3_exec(w->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		w->store->ops->close(w->store);
		free(w);
		return BW_ESTORE;
	}
	w->notify = notify;
	w->notify_arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		w->store->ops->close(w->store);
		free(w);
		return BW_ENOMEM;
	}
	*out = w;
	return 0;
}

int writer_submit(struct writer *w, struct writer_job *j)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->queued >= WRITER_QUEUE_MAX) {
		pthread_mutex_unlock(&w->mu);
		return BW_EBUSY;
	}
	j->next = NULL;
	j->rc = 0;
	if (w->q_tail)
		w->q_tail->next = j;
	else
		w->q_head = j;
	w->q_tail = j;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int writer_drain(struct writer *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	struct writer_job *j = w->c_head;
	w->c_head = w->c_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	int n = 0;
	while (j) {
		struct writer_job *next = j->next;
		j->done(j, j->rc);     /* may free j */
		j = next;
		n++;
	}
	return n;
}

int writer_backlog(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	int n = w->queued + w->running;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void writer_stop(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	writer_drain(w);
	w->store->ops->close(w->store);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
