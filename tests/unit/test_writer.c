/*
 * test_writer.c — the store-writer thread (src/writer.c, ADR 0008): jobs
 * commit in submission order with one transaction per batch, a failing job
 * is rolled back alone, completions run in order on the caller's thread
 * only after the commit, the queue is bounded, and stop flushes everything.
 */
#include "store.h"
#include "unit.h"
#include "util.h"
#include "writer.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

struct tjob {
	struct writer_job job;
	int n;                 /* value inserted */
	bool fail;             /* run() inserts, then fails */
	int done_rc;
	int order;             /* completion order */
	bool visible_at_done;  /* the row was committed when done() ran */
};

static int done_count;
static char tdir[64];
static sqlite3 *reader;

static int tjob_run(struct writer_job *j, sqlite3 *db)
{
	struct tjob *t = (struct tjob *)j;
	sqlite3_stmt *st = writer_stmt(db, "INSERT INTO meta(key, value) VALUES('t' || ?1, 'x')");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int(st, 1, t->n);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return writer_sqlite_err(db, rc);
	return t->fail ? BW_EINVAL : 0;
}

static bool row_exists(int n)
{
	sqlite3_stmt *st;
	char sql[80];
	snprintf(sql, sizeof sql, "SELECT 1 FROM meta WHERE key = 't%d'", n);
	if (sqlite3_prepare_v2(reader, sql, -1, &st, NULL) != SQLITE_OK)
		return false;
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return ok;
}

static void tjob_done(struct writer_job *j, int rc)
{
	struct tjob *t = (struct tjob *)j;
	t->done_rc = rc;
	t->order = ++done_count;
	t->visible_at_done = row_exists(t->n);
}

static void setup(void)
{
	snprintf(tdir, sizeof tdir, "/tmp/bw-writer-XXXXXX");
	if (!mkdtemp(tdir))
		abort();
	struct store *s;
	if (store_sqlite_open(tdir, true, &s) != 0)
		abort();
	s->ops->close(s);
	char path[128];
	snprintf(path, sizeof path, "%s/bulwark.db", tdir);
	if (sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		abort();
}

static void teardown(void)
{
	sqlite3_close(reader);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tdir);
	if (system(cmd) != 0)
		abort();
}

static void wait_done(struct writer *w, int want)
{
	for (int i = 0; i < 5000 && done_count < want; i++) {
		writer_drain(w);
		usleep(1000);
	}
}

TEST(order_and_isolation)
{
	setup();
	struct writer *w;
	CHECK_EQ(writer_start(tdir, NULL, NULL, &w), 0);
	enum { N = 300 };
	static struct tjob jobs[N];
	done_count = 0;
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct tjob){ .job = { .run = tjob_run, .done = tjob_done }, .n = i, .fail = i % 7 == 3 };
		CHECK_EQ(writer_submit(w, &jobs[i].job), 0);
	}
	wait_done(w, N);
	CHECK_EQ(done_count, N);
	for (int i = 0; i < N; i++) {
		CHECK_EQ(jobs[i].order, i + 1);                 /* completions in submission order */
		if (jobs[i].fail) {
			CHECK_EQ(jobs[i].done_rc, BW_EINVAL);
			CHECK(!row_exists(i));                      /* rolled back alone */
		} else {
			CHECK_EQ(jobs[i].done_rc, 0);
			CHECK(jobs[i].visible_at_done);              /* committed before done() */
		}
	}
	writer_stop(w);
	teardown();
}

TEST(duplicate_fails_only_that_job)
{
	setup();
	struct writer *w;
	CHECK_EQ(writer_start(tdir, NULL, NULL, &w), 0);
	static struct tjob a, b, c;
	done_count = 0;
	a = (struct tjob){ .job = { .run = tjob_run, .done = tjob_done }, .n = 1 };
	b = (struct tjob){ .job = { .run = tjob_run, .done = tjob_done }, .n = 1 };   /* same key */
	c = (struct tjob){ .job = { .run = tjob_run, .done = tjob_done }, .n = 2 };
	CHECK_EQ(writer_submit(w, &a.job), 0);
	CHECK_EQ(writer_submit(w, &b.job), 0);
	CHECK_EQ(writer_submit(w, &c.job), 0);
	wait_done(w, 3);
	CHECK_EQ(a.done_rc, 0);
	CHECK_EQ(b.done_rc, BW_EEXIST);
	CHECK_EQ(c.done_rc, 0);
	CHECK(row_exists(2));
	writer_stop(w);
	teardown();
}

TEST(stop_flushes_and_refuses_after)
{
	setup();
	struct writer *w;
	CHECK_EQ(writer_start(tdir, NULL, NULL, &w), 0);
	static struct tjob jobs[50];
	done_count = 0;
	for (int i = 0; i < 50; i++) {
		jobs[i] = (struct tjob){ .job = { .run = tjob_run, .done = tjob_done }, .n = 1000 + i };
		CHECK_EQ(writer_submit(w, &jobs[i].job), 0);
	}
	writer_stop(w);                  /* runs the remaining completions itself */
	CHECK_EQ(done_count, 50);
	for (int i = 0; i < 50; i++)
		CHECK(row_exists(1000 + i));
	teardown();
}

TEST(missing_store_is_an_error)
{
	struct writer *w = NULL;
	CHECK(writer_start("/nonexistent/bulwark", NULL, NULL, &w) != 0);
	CHECK(w == NULL);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR;
	RUN(order_and_isolation);
	RUN(duplicate_fails_only_that_job);
	RUN(stop_flushes_and_refuses_after);
	RUN(missing_store_is_an_error);
	return UNIT_DONE();
}
