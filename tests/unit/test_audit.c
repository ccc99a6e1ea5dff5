/*
 * test_audit.c — unit tests of the tamper-evident audit trail (audit.c;
 * PS-LOG-a/b/c/d, RG-AUDIT, IN-INSIDER) against a real installation: a
 * mkdtemp data directory per suite (app_init + app_open, which forks a real
 * keyd that signs the checkpoints).
 *
 * The tamper tests play an insider with write access to the database file
 * but not to the key: each case works on a fresh copy of a pristine chain
 * (SQLite backup API), opens a raw sqlite3 connection on the copy, drops the
 * append-only triggers (they stop application bugs, not file access),
 * changes the rows, then verifies through a freshly opened store.  Every
 * change, deletion, insertion, reordering, recomputed chain, forged or
 * moved checkpoint and cut tail must be found and named.
 *
 * Also: audit_record_hash covers every field (and is the documented
 * canonical encoding, checked against an independent SHA-256 of it);
 * over-long fields are refused; appends from two store handles interleave
 * into one chain; export formats (RFC 5424 syslog line with SD escaping,
 * JSON object).
 */
#include "unit.h"
#include "app.h"
#include "audit.h"
#include "keyd.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- fixture */

/* The pristine chain: AT_RECORDS records, checkpoints at AT_CP1 and AT_CP2,
 * the rest an unsigned tail. */
#define AT_RECORDS 12
#define AT_CP1 5
#define AT_CP2 10

struct at_fx {
	char dir[64];
	struct app a;
	bool up;
};

static void at_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			at_rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static bool at_mkdtemp(char *dir, size_t n, const char *tag)
{
	snprintf(dir, n, "/tmp/bw_audit_%s_XXXXXX", tag);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return false;
	}
	return true;
}

/* Appends record number i (1-based) with every field set and distinct. */
static int at_append(struct app *a, int i)
{
	struct actor ac;
	actor_system(&ac, "");
	snprintf(ac.name, sizeof ac.name, "acme/user%d#%d", i, 100 + i);
	char src[32], dev[32], rid[32], obj[32], ev[32], detail[64];
	snprintf(src, sizeof src, "192.0.2.%d", i);
	snprintf(dev, sizeof dev, "device#%d", i);
	snprintf(rid, sizeof rid, "req-%04d", i);
	snprintf(obj, sizeof obj, "acme/target%d", i);
	snprintf(ev, sizeof ev, "test.event%d", i % 4);
	snprintf(detail, sizeof detail, "{\"n\":%d,\"note\":\"x\"}", i);
	ac.tenant_id = 1 + i % 2;
	ac.source = src;
	ac.device = dev;
	ac.request_id = rid;
	return app_audit(a, &ac, ac.tenant_id, ev, obj, i % 3 ? "success" : "failure", detail);
}

static bool at_fx_up(struct at_fx *f, enum bwc_suite suite)
{
	memset(f, 0, sizeof *f);
	if (!at_mkdtemp(f->dir, sizeof f->dir, bwc_suite_name(suite)))
		return false;
	int rc = app_init(f->dir, suite);
	if (rc == 0)
		rc = app_open(f->dir, -1, -1, &f->a);
	if (rc) {
		fprintf(stderr, "  fixture (%s): %s\n", bwc_suite_name(suite), bw_strerror(rc));
		at_rm_tree(f->dir);
		return false;
	}
	f->up = true;
	return true;
}

static void at_fx_down(struct at_fx *f)
{
	if (f->up)
		app_close(&f->a);
	f->up = false;
	at_rm_tree(f->dir);
}

/* Builds the pristine chain in f. */
static bool at_fx_chain(struct at_fx *f)
{
	for (int i = 1; i <= AT_RECORDS; i++) {
		if (at_append(&f->a, i) != 0)
			return false;
		if ((i == AT_CP1 || i == AT_CP2) && audit_checkpoint(f->a.au) != 0)
			return false;
	}
	return true;
}

static int at_verify_store(struct store *s, const struct app *a, struct audit_verify_result *r)
{
	return audit_verify(s, a->audit_pub, a->audit_pub_len, r);
}

/* Verifies the store in dir through a freshly opened handle. */
static int at_verify_dir(const char *dir, const struct app *a, struct audit_verify_result *r)
{
	struct store *s = NULL;
	int rc = store_sqlite_open(dir, false, &s);
	if (rc)
		return rc;
	rc = at_verify_store(s, a, r);
	s->ops->close(s);
	return rc;
}

/* ------------------------------------------------ raw database access */

static sqlite3 *at_db_open(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/bulwark.db", dir);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "  raw open %s: %s\n", p, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static bool at_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "  sql '%s': %s\n", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return false;
	}
	return true;
}

/* Drops every trigger (the append-only guards) in the raw connection. */
static bool at_drop_triggers(sqlite3 *db)
{
	char names[32][128];
	int n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'", -1,
	                       &st, NULL) != SQLITE_OK)
		return false;
	while (sqlite3_step(st) == SQLITE_ROW && n < 32)
		snprintf(names[n++], sizeof names[0], "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		char sql[200];
		snprintf(sql, sizeof sql, "DROP TRIGGER \"%s\"", names[i]);
		if (!at_exec(db, sql))
			return false;
	}
	return n > 0;
}

#define AT_COLS "seq, ts_ms, tenant_id, event, subject, object, outcome, source, device, " \
	"request_id, detail, prev_hash, hash"

static void at_text(sqlite3_stmt *st, int col, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static void at_blob(sqlite3_stmt *st, int col, uint8_t out[CRYPTO_HASH_LEN])
{
	memset(out, 0, CRYPTO_HASH_LEN);
	if (sqlite3_column_bytes(st, col) == CRYPTO_HASH_LEN)
		memcpy(out, sqlite3_column_blob(st, col), CRYPTO_HASH_LEN);
}

static bool at_read(sqlite3 *db, int64_t seq, struct store_audit *r)
{
	sqlite3_stmt *st;
	memset(r, 0, sizeof *r);
	if (sqlite3_prepare_v2(db, "SELECT " AT_COLS " FROM audit WHERE seq = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_int64(st, 1, seq);
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	if (ok) {
		r->seq = sqlite3_column_int64(st, 0);
		r->ts_ms = sqlite3_column_int64(st, 1);
		r->tenant_id = sqlite3_column_int64(st, 2);
		at_text(st, 3, r->event, sizeof r->event);
		at_text(st, 4, r->subject, sizeof r->subject);
		at_text(st, 5, r->object, sizeof r->object);
		at_text(st, 6, r->outcome, sizeof r->outcome);
		at_text(st, 7, r->source, sizeof r->source);
		at_text(st, 8, r->device, sizeof r->device);
		at_text(st, 9, r->request_id, sizeof r->request_id);
		at_text(st, 10, r->detail, sizeof r->detail);
		at_blob(st, 11, r->prev_hash);
		at_blob(st, 12, r->hash);
	}
	sqlite3_finalize(st);
	return ok;
}

/* Writes r: UPDATE of the row with r->seq (update) or INSERT. */
static bool at_write(sqlite3 *db, const struct store_audit *r, bool update)
{
	const char *sql = update
		? "UPDATE audit SET ts_ms = ?2, tenant_id = ?3, event = ?4, subject = ?5, "
		  "object = ?6, outcome = ?7, source = ?8, device = ?9, request_id = ?10, "
		  "detail = ?11, prev_hash = ?12, hash = ?13 WHERE seq = ?1"
		: "INSERT INTO audit(" AT_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		  "?10, ?11, ?12, ?13)";
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "  prepare: %s\n", sqlite3_errmsg(db));
		return false;
	}
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_int64(st, 2, r->ts_ms);
	sqlite3_bind_int64(st, 3, r->tenant_id);
	const char *t[] = { r->event, r->subject, r->object, r->outcome, r->source, r->device,
	                    r->request_id, r->detail };
	for (int i = 0; i < 8; i++)
		sqlite3_bind_text(st, 4 + i, t[i], -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 12, r->prev_hash, CRYPTO_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 13, r->hash, CRYPTO_HASH_LEN, SQLITE_TRANSIENT);
	bool ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
	if (!ok)
		fprintf(stderr, "  write seq %lld: %s\n", (long long)r->seq, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok;
}

static int64_t at_max_seq(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) FROM audit", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* What an attacker without the key can do: recompute prev_hash links and
 * hashes of records from..max so the chain itself is consistent again. */
static bool at_rehash_from(sqlite3 *db, int64_t from)
{
	uint8_t prev[CRYPTO_HASH_LEN] = { 0 };
	struct store_audit r;
	if (from > 1) {
		if (!at_read(db, from - 1, &r))
			return false;
		memcpy(prev, r.hash, CRYPTO_HASH_LEN);
	}
	int64_t max = at_max_seq(db);
	for (int64_t s = from; s <= max; s++) {
		if (!at_read(db, s, &r))
			continue;
		memcpy(r.prev_hash, prev, CRYPTO_HASH_LEN);
		audit_record_hash(&r, r.hash);
		if (!at_write(db, &r, true))
			return false;
		memcpy(prev, r.hash, CRYPTO_HASH_LEN);
	}
	return true;
}

/* A fresh copy of the pristine database in a new directory (backup API, so
 * the WAL content is included).  The caller removes case_dir. */
static sqlite3 *at_case(const struct at_fx *f, char *case_dir, size_t n)
{
	if (!at_mkdtemp(case_dir, n, "case"))
		return NULL;
	char src[PATH_MAX], dst[PATH_MAX];
	snprintf(src, sizeof src, "%s/bulwark.db", f->dir);
	snprintf(dst, sizeof dst, "%s/bulwark.db", case_dir);
	sqlite3 *from = NULL, *to = NULL;
	bool ok = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	          sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_busy_timeout(from, 5000);
		sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
		ok = b && sqlite3_backup_step(b, -1) == SQLITE_DONE;
		ok = sqlite3_backup_finish(b) == SQLITE_OK && ok;
	}
	sqlite3_close(from);
	sqlite3_close(to);
	chmod(dst, 0600);
	if (!ok) {
		fprintf(stderr, "  backup of %s failed\n", src);
		return NULL;
	}
	sqlite3 *db = at_db_open(case_dir);
	if (db && !at_drop_triggers(db)) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* Closes the raw connection, verifies the copy, removes it. */
static struct audit_verify_result at_case_verify(const struct at_fx *f, sqlite3 *db,
                                                 const char *case_dir)
{
	struct audit_verify_result r;
	memset(&r, 0, sizeof r);
	sqlite3_close(db);
	int rc = at_verify_dir(case_dir, &f->a, &r);
	if (rc) {
		fprintf(stderr, "  verify could not run: %s\n", bw_strerror(rc));
		r.ok = true;            /* make the caller's "must fail" check fire */
		r.first_bad_seq = -1;
	}
	at_rm_tree(case_dir);
	return r;
}

#define AT_EXPECT_FAIL(res, seq, what) do { \
	if ((res).ok || (res).first_bad_seq != (seq)) { \
		fprintf(stderr, "  %s:%d: %s: ok=%d first_bad_seq=%lld (expected %lld) \"%s\"\n", \
		        __FILE__, __LINE__, (what), (int)(res).ok, (long long)(res).first_bad_seq, \
		        (long long)(seq), (res).reason); \
		unit_failed_checks++; } } while (0)

/* ---------------------------------------------------------- the cases */

enum at_field {
	AF_TS, AF_TENANT, AF_EVENT, AF_SUBJECT, AF_OBJECT, AF_OUTCOME, AF_SOURCE, AF_DEVICE,
	AF_REQUEST_ID, AF_DETAIL, AF_PREV_HASH, AF_HASH, AF_COUNT_
};
static const char *const at_field_names[AF_COUNT_] = {
	"ts_ms", "tenant_id", "event", "subject", "object", "outcome", "source", "device",
	"request_id", "detail", "prev_hash", "hash",
};

/* Changes one byte (or the low bit of one integer) of field f of r; the
 * byte index picks which byte of a text. */
static void at_mutate(struct store_audit *r, int f, size_t byte)
{
	char *txt[] = { [AF_EVENT] = r->event, [AF_SUBJECT] = r->subject, [AF_OBJECT] = r->object,
	                [AF_OUTCOME] = r->outcome, [AF_SOURCE] = r->source, [AF_DEVICE] = r->device,
	                [AF_REQUEST_ID] = r->request_id, [AF_DETAIL] = r->detail,
	                [AF_PREV_HASH] = NULL };
	switch (f) {
	case AF_TS: r->ts_ms ^= 1; break;
	case AF_TENANT: r->tenant_id ^= 1; break;
	case AF_PREV_HASH: r->prev_hash[byte % CRYPTO_HASH_LEN] ^= 0x80; break;
	case AF_HASH: r->hash[byte % CRYPTO_HASH_LEN] ^= 0x01; break;
	default: {
		char *t = txt[f];
		size_t n = strlen(t);
		if (n == 0) {
			t[0] = 'x';
			t[1] = 0;
		} else {
			t[byte % n] ^= 0x01;
		}
	}
	}
}

/* (h) the untampered chain verifies, with its unsigned tail counted. */
static void at_case_untampered(const struct at_fx *f)
{
	struct audit_verify_result r;
	CHECK_EQ(at_verify_store(f->a.s, &f->a, &r), 0);
	CHECK(r.ok);
	CHECK_EQ(r.records, AT_RECORDS);
	CHECK_EQ(r.first_seq, 1);
	CHECK_EQ(r.last_seq, AT_RECORDS);
	CHECK_EQ(r.checkpoints, 2);
	CHECK_EQ(r.last_checkpoint_seq, AT_CP2);
	CHECK(r.last_checkpoint_ms > 0);
	CHECK_EQ(r.unsigned_tail, AT_RECORDS - AT_CP2);
	CHECK_EQ(r.first_bad_seq, 0);
	/* the same through a copy and a fresh handle (the harness itself) */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	CHECK(db != NULL);
	if (!db)
		return;
	r = at_case_verify(f, db, cd);
	CHECK(r.ok);
	CHECK_EQ(r.records, AT_RECORDS);
	CHECK_EQ(r.unsigned_tail, AT_RECORDS - AT_CP2);
}

/* (a) one byte of one field of record k. */
static void at_case_field_change(const struct at_fx *f)
{
	static const int64_t ks[] = { 1, 4, AT_CP1, AT_CP2, AT_CP2 + 1, AT_RECORDS };
	for (size_t i = 0; i < BW_ARRAY_LEN(ks); i++)
		for (int fld = 0; fld < AF_COUNT_; fld++)
			for (size_t byte = 0; byte < 3; byte += 2) {
				char cd[64], what[96];
				sqlite3 *db = at_case(f, cd, sizeof cd);
				if (!db) {
					CHECK(db != NULL);
					return;
				}
				struct store_audit r;
				CHECK(at_read(db, ks[i], &r));
				at_mutate(&r, fld, byte);
				CHECK(at_write(db, &r, true));
				struct audit_verify_result res = at_case_verify(f, db, cd);
				snprintf(what, sizeof what, "record %lld field %s byte %zu",
				         (long long)ks[i], at_field_names[fld], byte);
				AT_EXPECT_FAIL(res, ks[i], what);
			}
}

/* (b) a deleted record. */
static void at_case_delete(const struct at_fx *f)
{
	static const int64_t ks[] = { 2, 4, AT_CP1, AT_CP1 + 1, AT_CP2, AT_CP2 + 1 };
	for (size_t i = 0; i < BW_ARRAY_LEN(ks); i++) {
		char cd[64], sql[96], what[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", (long long)ks[i]);
		CHECK(at_exec(db, sql));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		snprintf(what, sizeof what, "delete record %lld", (long long)ks[i]);
		AT_EXPECT_FAIL(res, ks[i], what);
	}
	/* a range */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	CHECK(at_exec(db, "DELETE FROM audit WHERE seq BETWEEN 3 AND 7"));
	struct audit_verify_result res = at_case_verify(f, db, cd);
	AT_EXPECT_FAIL(res, 3, "delete records 3..7");
	/* the very first record (no signed anchor covers it) */
	db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	CHECK(at_exec(db, "DELETE FROM audit WHERE seq = 1"));
	res = at_case_verify(f, db, cd);
	CHECK(!res.ok);
	/* named as 1 (the missing one) or 2 (the first one left without a link) */
	CHECK(res.first_bad_seq == 1 || res.first_bad_seq == 2);
}

/* (c) a forged record in place of record k, its own hash recomputed and its
 * link to k-1 correct: the link of k+1 (or the checkpoint at k) breaks. */
static void at_case_forged_insert(const struct at_fx *f)
{
	static const struct { int64_t k, bad; } ks[] = {
		{ 3, 4 }, { AT_CP1 + 2, AT_CP1 + 3 }, { AT_CP1, AT_CP1 }, { AT_CP2, AT_CP2 },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(ks); i++) {
		char cd[64], sql[96], what[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		struct store_audit r, prev;
		CHECK(at_read(db, ks[i].k, &r));
		CHECK(at_read(db, ks[i].k - 1, &prev));
		snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", (long long)ks[i].k);
		CHECK(at_exec(db, sql));
		snprintf(r.event, sizeof r.event, "auth.login");
		snprintf(r.subject, sizeof r.subject, "acme/someone-else#999");
		snprintf(r.outcome, sizeof r.outcome, "success");
		memcpy(r.prev_hash, prev.hash, CRYPTO_HASH_LEN);
		audit_record_hash(&r, r.hash);
		CHECK(at_write(db, &r, false));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		snprintf(what, sizeof what, "forged record %lld", (long long)ks[i].k);
		AT_EXPECT_FAIL(res, ks[i].bad, what);
	}
	/* an extra record squeezed in after 3: everything after renumbered and
	 * re-linked; the first checkpoint at or after the insertion breaks */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	for (int64_t s = AT_RECORDS; s >= 4; s--) {
		struct store_audit r;
		CHECK(at_read(db, s, &r));
		char sql[96];
		snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq = %lld", (long long)s);
		CHECK(at_exec(db, sql));
		r.seq = s + 1;
		CHECK(at_write(db, &r, false));
	}
	struct store_audit x;
	CHECK(at_read(db, 3, &x));
	x.seq = 4;
	snprintf(x.event, sizeof x.event, "user.create");
	CHECK(at_write(db, &x, false));
	CHECK(at_rehash_from(db, 4));
	struct audit_verify_result res = at_case_verify(f, db, cd);
	AT_EXPECT_FAIL(res, AT_CP1, "inserted record with renumbering");
}

/* (d) two records' contents swapped (reordered). */
static void at_case_reorder(const struct at_fx *f)
{
	static const int64_t pairs[][2] = { { 3, 7 }, { 2, 3 }, { AT_CP2 + 1, AT_CP2 + 2 }, { 1, AT_RECORDS } };
	for (size_t i = 0; i < BW_ARRAY_LEN(pairs); i++) {
		char cd[64], what[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		struct store_audit a, b;
		CHECK(at_read(db, pairs[i][0], &a));
		CHECK(at_read(db, pairs[i][1], &b));
		int64_t sa = a.seq;
		a.seq = b.seq;
		b.seq = sa;
		CHECK(at_write(db, &a, true));
		CHECK(at_write(db, &b, true));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		snprintf(what, sizeof what, "swap %lld and %lld", (long long)pairs[i][0],
		         (long long)pairs[i][1]);
		AT_EXPECT_FAIL(res, pairs[i][0], what);
	}
	/* whole rows renumbered: 3 becomes 7 and 7 becomes 3 */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	CHECK(at_exec(db, "UPDATE audit SET seq = 1000003 WHERE seq = 3"));
	CHECK(at_exec(db, "UPDATE audit SET seq = 3 WHERE seq = 7"));
	CHECK(at_exec(db, "UPDATE audit SET seq = 7 WHERE seq = 1000003"));
	struct audit_verify_result res = at_case_verify(f, db, cd);
	AT_EXPECT_FAIL(res, 3, "rows renumbered");
}

/* (e) a change followed by a recomputed chain: only the signed checkpoints
 * can tell, and they must. */
static void at_case_recomputed(const struct at_fx *f)
{
	static const struct { int64_t k, bad; } ks[] = {
		{ 1, AT_CP1 }, { 3, AT_CP1 }, { AT_CP1, AT_CP1 }, { AT_CP1 + 1, AT_CP2 }, { AT_CP2, AT_CP2 },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(ks); i++) {
		char cd[64], what[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		struct store_audit r;
		CHECK(at_read(db, ks[i].k, &r));
		snprintf(r.outcome, sizeof r.outcome, "%s", strcmp(r.outcome, "success") ? "success" : "failure");
		CHECK(at_write(db, &r, true));
		CHECK(at_rehash_from(db, ks[i].k));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		snprintf(what, sizeof what, "record %lld changed, chain recomputed", (long long)ks[i].k);
		AT_EXPECT_FAIL(res, ks[i].bad, what);
		if (strstr(res.reason, "checkpoint") == NULL) {
			fprintf(stderr, "  reason should name the checkpoint: \"%s\"\n", res.reason);
			unit_failed_checks++;
		}
	}
	/* ... and the checkpoints' hashes rewritten to match: signatures fail */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	struct store_audit r;
	CHECK(at_read(db, 2, &r));
	r.detail[0] = '[';
	CHECK(at_write(db, &r, true));
	CHECK(at_rehash_from(db, 2));
	CHECK(at_exec(db, "UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit "
	                  "WHERE audit.seq = audit_checkpoints.seq)"));
	struct audit_verify_result res = at_case_verify(f, db, cd);
	AT_EXPECT_FAIL(res, AT_CP1, "checkpoint hashes rewritten");
	CHECK(strstr(res.reason, "signature") != NULL);
}

/* (f) forged or moved checkpoints. */
static void at_case_checkpoint_forged(const struct at_fx *f)
{
	static const char *const sqls[][2] = {
		{ "UPDATE audit_checkpoints SET sig = randomblob(length(sig)) WHERE seq = 5", "5" },
		{ "UPDATE audit_checkpoints SET ts_ms = ts_ms + 1 WHERE seq = 10", "10" },
		{ "UPDATE audit_checkpoints SET sig = substr(sig, 1, length(sig) - 1) WHERE seq = 5", "5" },
		{ "UPDATE audit_checkpoints SET sig = (SELECT sig FROM audit_checkpoints WHERE seq = 5) "
		  "WHERE seq = 10", "10" },
		{ "INSERT INTO audit_checkpoints(seq, hash, ts_ms, sig) SELECT 12, "
		  "(SELECT hash FROM audit WHERE seq = 12), ts_ms, sig FROM audit_checkpoints "
		  "WHERE seq = 10", "12" },
		{ "UPDATE audit_checkpoints SET seq = 6, hash = (SELECT hash FROM audit WHERE seq = 6) "
		  "WHERE seq = 5", "6" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(sqls); i++) {
		char cd[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		CHECK(at_exec(db, sqls[i][0]));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		AT_EXPECT_FAIL(res, atoll(sqls[i][1]), sqls[i][0]);
		CHECK_STR(res.reason, "checkpoint signature invalid");
	}
	/* a signature byte flipped in C (exactly one bit) */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	sqlite3_stmt *st;
	uint8_t sig[CRYPTO_SIG_MAX];
	int n = 0;
	if (sqlite3_prepare_v2(db, "SELECT sig FROM audit_checkpoints WHERE seq = 10", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_bytes(st, 0);
		if (n > 0 && n <= CRYPTO_SIG_MAX)
			memcpy(sig, sqlite3_column_blob(st, 0), (size_t)n);
	}
	sqlite3_finalize(st);
	CHECK(n > 0);
	for (int byte = 0; byte < n; byte += 7) {
		sig[byte] ^= 0x04;
		if (sqlite3_prepare_v2(db, "UPDATE audit_checkpoints SET sig = ? WHERE seq = 10", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(st, 1, sig, n, SQLITE_TRANSIENT);
			CHECK_EQ(sqlite3_step(st), SQLITE_DONE);
		}
		sqlite3_finalize(st);
		sig[byte] ^= 0x04;
		struct audit_verify_result res;
		CHECK_EQ(at_verify_dir(cd, &f->a, &res), 0);
		AT_EXPECT_FAIL(res, AT_CP2, "signature bit flipped");
		CHECK_STR(res.reason, "checkpoint signature invalid");
	}
	sqlite3_close(db);
	at_rm_tree(cd);
}

/* (g) the tail cut after (or across) a signed checkpoint. */
static void at_case_tail_cut(const struct at_fx *f)
{
	static const int64_t from[] = { AT_CP2 - 1, AT_CP2, AT_CP1 + 1, 2 };
	for (size_t i = 0; i < BW_ARRAY_LEN(from); i++) {
		char cd[64], sql[96], what[64];
		sqlite3 *db = at_case(f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			return;
		}
		snprintf(sql, sizeof sql, "DELETE FROM audit WHERE seq >= %lld", (long long)from[i]);
		CHECK(at_exec(db, sql));
		struct audit_verify_result res = at_case_verify(f, db, cd);
		snprintf(what, sizeof what, "tail cut from %lld", (long long)from[i]);
		AT_EXPECT_FAIL(res, from[i], what);
	}
	/* the tail cut and the newest checkpoint deleted too: the older one
	 * still covers records the attacker removed */
	char cd[64];
	sqlite3 *db = at_case(f, cd, sizeof cd);
	if (!db)
		return;
	CHECK(at_exec(db, "DELETE FROM audit WHERE seq >= 4"));
	CHECK(at_exec(db, "DELETE FROM audit_checkpoints WHERE seq = 10"));
	struct audit_verify_result res = at_case_verify(f, db, cd);
	AT_EXPECT_FAIL(res, 4, "tail cut, newest checkpoint deleted");
}

/* A verifier holding another installation's public key rejects every
 * checkpoint; an empty trail is fine. */
static void at_case_wrong_key(const struct at_fx *f)
{
	uint8_t pub[CRYPTO_PUB_MAX], sec[CRYPTO_SEC_MAX];
	size_t pub_len = 0, sec_len = 0;
	CHECK_EQ(bwc_sign_keygen(pub, &pub_len, sec, &sec_len), 0);
	sodium_memzero(sec, sizeof sec);
	struct audit_verify_result r;
	CHECK_EQ(audit_verify(f->a.s, pub, pub_len, &r), 0);
	AT_EXPECT_FAIL(r, AT_CP1, "wrong public key");
	CHECK_EQ(audit_verify(f->a.s, pub, 0, &r), 0);
	CHECK(!r.ok);
}

/* The installation's published audit.pub is the key that verifies. */
static void at_case_pubkey_file(const struct at_fx *f)
{
	uint8_t pub[CRYPTO_PUB_MAX];
	size_t n = 0;
	CHECK_EQ(keyd_read_pubkey_file(f->dir, pub, sizeof pub, &n), 0);
	CHECK_EQ(n, f->a.audit_pub_len);
	CHECK(n == f->a.audit_pub_len && memcmp(pub, f->a.audit_pub, n) == 0);
	struct audit_verify_result r;
	CHECK_EQ(audit_verify(f->a.s, pub, n, &r), 0);
	CHECK(r.ok);
}

static void at_suite_core(enum bwc_suite suite)
{
	struct at_fx f;
	if (!at_fx_up(&f, suite)) {
		CHECK(!"fixture");
		return;
	}
	/* an empty trail verifies */
	struct audit_verify_result r;
	CHECK_EQ(at_verify_store(f.a.s, &f.a, &r), 0);
	CHECK(r.ok);
	CHECK_EQ(r.records, 0);
	CHECK_EQ(audit_checkpoint(f.a.au), 0);     /* nothing to sign: fine */
	if (!at_fx_chain(&f)) {
		CHECK(!"chain");
		at_fx_down(&f);
		return;
	}
	/* signing an already signed head adds nothing */
	struct store_checkpoint c;
	CHECK_EQ(f.a.s->ops->checkpoint_last(f.a.s, &c), 0);
	CHECK_EQ(c.seq, AT_CP2);
	at_case_untampered(&f);
	at_case_pubkey_file(&f);
	at_case_field_change(&f);
	at_case_recomputed(&f);
	at_case_checkpoint_forged(&f);
	at_case_delete(&f);
	at_case_forged_insert(&f);
	at_case_reorder(&f);
	at_case_tail_cut(&f);
	at_case_wrong_key(&f);
	/* the original is still intact after all those copies */
	CHECK_EQ(at_verify_store(f.a.s, &f.a, &r), 0);
	CHECK(r.ok);
	at_fx_down(&f);
}

TEST(tamper_intl)
{
	at_suite_core(CRYPTO_SUITE_INTL);
}

TEST(tamper_gm)
{
	at_suite_core(CRYPTO_SUITE_GM);
}

/* The append-only triggers are there (the tamper cases must drop them). */
TEST(triggers_guard_the_table)
{
	struct at_fx f;
	if (!at_fx_up(&f, CRYPTO_SUITE_INTL)) {
		CHECK(!"fixture");
		return;
	}
	CHECK_EQ(at_append(&f.a, 1), 0);
	CHECK_EQ(at_append(&f.a, 2), 0);
	sqlite3 *db = at_db_open(f.dir);
	CHECK(db != NULL);
	if (db) {
		CHECK(sqlite3_exec(db, "UPDATE audit SET outcome = 'x' WHERE seq = 1", NULL, NULL, NULL) != SQLITE_OK);
		CHECK(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 2", NULL, NULL, NULL) != SQLITE_OK);
		sqlite3_close(db);
	}
	struct audit_verify_result r;
	CHECK_EQ(at_verify_store(f.a.s, &f.a, &r), 0);
	CHECK(r.ok);
	CHECK_EQ(r.records, 2);
	CHECK_EQ(r.unsigned_tail, 2);
	at_fx_down(&f);
}

/* Honest writers sign at least every AUDIT_CHECKPOINT_EVERY records (the
 * append that reaches the interval signs inside its own transaction), so a
 * trail longer than that without any checkpoint can only mean the
 * checkpoints were deleted; with them gone, an insider can rewrite the
 * whole chain.  Verification must not report such a trail as intact. */
TEST(deleted_checkpoints_detected)
{
	struct at_fx f;
	if (!at_fx_up(&f, CRYPTO_SUITE_INTL)) {
		CHECK(!"fixture");
		return;
	}
	struct store *s = f.a.s;
	int n = AUDIT_CHECKPOINT_EVERY + 5;
	CHECK_EQ(s->ops->begin(s, true), 0);
	for (int i = 1; i <= n; i++) {
		struct audit_event e = { .tenant_id = 1, .event = "bulk.test", .subject = "system",
		                         .object = "x", .outcome = "success" };
		if (audit_log_txn(f.a.au, &e) != 0) {
			CHECK(!"append");
			break;
		}
	}
	CHECK_EQ(s->ops->commit(s), 0);
	struct store_checkpoint c;
	CHECK_EQ(s->ops->checkpoint_last(s, &c), 0);
	CHECK_EQ(c.seq, AUDIT_CHECKPOINT_EVERY);     /* the writer signed by itself */
	struct audit_verify_result r;
	CHECK_EQ(at_verify_store(s, &f.a, &r), 0);
	CHECK(r.ok);
	CHECK_EQ(r.unsigned_tail, 5);
	char cd[64];
	sqlite3 *db = at_case(&f, cd, sizeof cd);
	if (db) {
		struct store_audit rec;
		CHECK(at_read(db, 5, &rec));
		snprintf(rec.outcome, sizeof rec.outcome, "failure");
		CHECK(at_write(db, &rec, true));
		CHECK(at_rehash_from(db, 5));
		CHECK(at_exec(db, "DELETE FROM audit_checkpoints"));
		r = at_case_verify(&f, db, cd);
		if (r.ok) {
			fprintf(stderr, "  %d records, no checkpoint, record 5 rewritten: verify says ok "
			        "(unsigned_tail %lld)\n", n, (long long)r.unsigned_tail);
			unit_failed_checks++;
		}
	}
	at_fx_down(&f);
}

/* A retention purge removes only records older than the minimum retention
 * (PS-LOG-d: at least 180 days; audit_retention_run picks an anchor
 * checkpoint older than the cutoff).  A prefix cut at a checkpoint signed
 * moments ago, or the whole table emptied, is an insider deleting records
 * and must not verify as intact. */
TEST(recent_prefix_deletion_detected)
{
	struct at_fx f;
	if (!at_fx_up(&f, CRYPTO_SUITE_INTL)) {
		CHECK(!"fixture");
		return;
	}
	if (!at_fx_chain(&f)) {
		CHECK(!"chain");
		at_fx_down(&f);
		return;
	}
	static const char *const sqls[] = {
		"DELETE FROM audit WHERE seq <= 5",
		"DELETE FROM audit WHERE seq <= 10",
		"DELETE FROM audit",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(sqls); i++) {
		char cd[64];
		sqlite3 *db = at_case(&f, cd, sizeof cd);
		if (!db) {
			CHECK(db != NULL);
			break;
		}
		CHECK(at_exec(db, sqls[i]));
		struct audit_verify_result r = at_case_verify(&f, db, cd);
		if (r.ok) {
			fprintf(stderr, "  '%s' on a fresh trail: verify says ok (%lld records)\n",
			        sqls[i], (long long)r.records);
			unit_failed_checks++;
		}
	}
	at_fx_down(&f);
}

/* Two store handles (two processes' view) appending in turn extend one
 * chain; the second handle sees the first's checkpoint. */
TEST(two_writers_one_chain)
{
	struct at_fx f;
	if (!at_fx_up(&f, CRYPTO_SUITE_INTL)) {
		CHECK(!"fixture");
		return;
	}
	struct store *s2 = NULL;
	struct audit *au2 = NULL;
	CHECK_EQ(store_sqlite_open(f.dir, false, &s2), 0);
	if (s2)
		CHECK_EQ(audit_open(s2, f.a.kd, &au2), 0);
	if (!au2) {
		if (s2)
			s2->ops->close(s2);
		at_fx_down(&f);
		return;
	}
	for (int i = 0; i < 20; i++) {
		struct audit_event e = { .tenant_id = i, .event = i % 2 ? "w2.event" : "w1.event",
		                         .subject = "system", .object = "o", .outcome = "success" };
		CHECK_EQ(audit_log(i % 2 ? au2 : f.a.au, &e), 0);
		if (i == 9)
			CHECK_EQ(audit_checkpoint(f.a.au), 0);
	}
	CHECK_EQ(audit_checkpoint(au2), 0);
	struct audit_verify_result r;
	CHECK_EQ(audit_verify(s2, f.a.audit_pub, f.a.audit_pub_len, &r), 0);
	CHECK(r.ok);
	CHECK_EQ(r.records, 20);
	CHECK_EQ(r.checkpoints, 2);
	CHECK_EQ(r.unsigned_tail, 0);
	audit_close(au2);
	s2->ops->close(s2);
	at_fx_down(&f);
}

/* Over-long fields are refused and append nothing; NULL optional fields are
 * stored as "" and the detail as "{}". */
TEST(field_limits)
{
	struct at_fx f;
	if (!at_fx_up(&f, CRYPTO_SUITE_INTL)) {
		CHECK(!"fixture");
		return;
	}
	char big[STORE_DETAIL_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	struct audit_event base = { .tenant_id = 3, .event = "e.v", .subject = "s", .object = "o",
	                            .outcome = "success" };
	struct { size_t off; size_t max; } lim[] = {
		{ offsetof(struct audit_event, event), sizeof ((struct store_audit *)0)->event - 1 },
		{ offsetof(struct audit_event, subject), STORE_TEXT_MAX },
		{ offsetof(struct audit_event, object), STORE_TEXT_MAX },
		{ offsetof(struct audit_event, outcome), sizeof ((struct store_audit *)0)->outcome - 1 },
		{ offsetof(struct audit_event, source), sizeof ((struct store_audit *)0)->source - 1 },
		{ offsetof(struct audit_event, device), sizeof ((struct store_audit *)0)->device - 1 },
		{ offsetof(struct audit_event, request_id), sizeof ((struct store_audit *)0)->request_id - 1 },
		{ offsetof(struct audit_event, detail), STORE_DETAIL_MAX },
	};
	int64_t expect = 0;
	for (size_t i = 0; i < BW_ARRAY_LEN(lim); i++) {
		struct audit_event e = base;
		char *at_max = strdup(big), *over = strdup(big);
		at_max[lim[i].max] = 0;
		over[lim[i].max + 1] = 0;
		*(const char **)((char *)&e + lim[i].off) = over;
		CHECK_EQ(audit_log(f.a.au, &e), BW_ETOOBIG);
		*(const char **)((char *)&e + lim[i].off) = at_max;
		CHECK_EQ(audit_log(f.a.au, &e), 0);
		expect++;
		free(at_max);
		free(over);
	}
	struct audit_event e = { .tenant_id = 0, .event = "e.null", .subject = "s", .object = "o",
	                         .outcome = "success" };
	CHECK_EQ(audit_log(f.a.au, &e), 0);
	expect++;
	int64_t cnt = 0, first = 0, last = 0;
	uint8_t h[CRYPTO_HASH_LEN];
	CHECK_EQ(f.a.s->ops->audit_count(f.a.s, &cnt, &first), 0);
	CHECK_EQ(cnt, expect);
	CHECK_EQ(f.a.s->ops->audit_last(f.a.s, &last, h), 0);
	CHECK_EQ(last, expect);
	sqlite3 *db = at_db_open(f.dir);
	if (db) {
		struct store_audit r;
		CHECK(at_read(db, last, &r));
		CHECK_STR(r.detail, "{}");
		CHECK_STR(r.source, "");
		CHECK_STR(r.device, "");
		CHECK_STR(r.request_id, "");
		uint8_t hh[CRYPTO_HASH_LEN];
		audit_record_hash(&r, hh);
		CHECK_MEM(hh, r.hash, CRYPTO_HASH_LEN);
		sqlite3_close(db);
	}
	struct audit_verify_result vr;
	CHECK_EQ(at_verify_store(f.a.s, &f.a, &vr), 0);
	CHECK(vr.ok);
	CHECK_EQ(vr.records, expect);
	at_fx_down(&f);
}

/* ------------------------------------------------- hashing, formatting */

static void at_sample(struct store_audit *r)
{
	memset(r, 0, sizeof *r);
	r->seq = 42;
	r->ts_ms = 1700000000123;
	r->tenant_id = 7;
	snprintf(r->event, sizeof r->event, "auth.login");
	snprintf(r->subject, sizeof r->subject, "acme/alice#3");
	snprintf(r->object, sizeof r->object, "acme/alice#3");
	snprintf(r->outcome, sizeof r->outcome, "success");
	snprintf(r->source, sizeof r->source, "198.51.100.7");
	snprintf(r->device, sizeof r->device, "device#9");
	snprintf(r->request_id, sizeof r->request_id, "req-abc");
	snprintf(r->detail, sizeof r->detail, "{\"scope\":\"full\"}");
	for (int i = 0; i < CRYPTO_HASH_LEN; i++)
		r->prev_hash[i] = (uint8_t)(i * 9 + 1);
}

/* Every field, one at a time, changes the hash; the hash field itself is
 * not hashed. */
TEST(record_hash_covers_every_field)
{
	if (bwc_init(CRYPTO_SUITE_INTL) != 0) {
		CHECK(!"bwc_init");
		return;
	}
	struct store_audit r;
	at_sample(&r);
	uint8_t h0[CRYPTO_HASH_LEN], h1[CRYPTO_HASH_LEN];
	audit_record_hash(&r, h0);
	audit_record_hash(&r, h1);
	CHECK_MEM(h0, h1, CRYPTO_HASH_LEN);
	memset(r.hash, 0xee, sizeof r.hash);
	audit_record_hash(&r, h1);
	CHECK_MEM(h0, h1, CRYPTO_HASH_LEN);
	for (int f = 0; f < AF_COUNT_; f++) {
		if (f == AF_HASH)
			continue;
		for (size_t byte = 0; byte < 4; byte++) {
			struct store_audit m;
			at_sample(&m);
			at_mutate(&m, f, byte);
			audit_record_hash(&m, h1);
			if (memcmp(h0, h1, CRYPTO_HASH_LEN) == 0) {
				fprintf(stderr, "  field %s byte %zu not covered\n", at_field_names[f], byte);
				unit_failed_checks++;
			}
		}
	}
	/* seq, and the last byte of prev_hash */
	struct store_audit m;
	at_sample(&m);
	m.seq++;
	audit_record_hash(&m, h1);
	CHECK(memcmp(h0, h1, CRYPTO_HASH_LEN) != 0);
	at_sample(&m);
	m.prev_hash[CRYPTO_HASH_LEN - 1] ^= 1;
	audit_record_hash(&m, h1);
	CHECK(memcmp(h0, h1, CRYPTO_HASH_LEN) != 0);
	/* high bits of the integers */
	at_sample(&m);
	m.ts_ms ^= INT64_C(1) << 62;
	audit_record_hash(&m, h1);
	CHECK(memcmp(h0, h1, CRYPTO_HASH_LEN) != 0);
	/* bytes moved between adjacent fields: the length prefixes separate them */
	static const char *const pairs[][4] = {
		{ "ab", "c", "a", "bc" }, { "", "x", "x", "" }, { "success", "", "succes", "s" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(pairs); i++) {
		struct store_audit a, b;
		at_sample(&a);
		at_sample(&b);
		snprintf(a.source, sizeof a.source, "%s", pairs[i][0]);
		snprintf(a.device, sizeof a.device, "%s", pairs[i][1]);
		snprintf(b.source, sizeof b.source, "%s", pairs[i][2]);
		snprintf(b.device, sizeof b.device, "%s", pairs[i][3]);
		uint8_t ha[CRYPTO_HASH_LEN], hb[CRYPTO_HASH_LEN];
		audit_record_hash(&a, ha);
		audit_record_hash(&b, hb);
		CHECK(memcmp(ha, hb, CRYPTO_HASH_LEN) != 0);
	}
}

static void at_put64(uint8_t *p, size_t *o, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[(*o)++] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

static void at_putstr(uint8_t *p, size_t *o, const char *s)
{
	size_t n = strlen(s);
	p[(*o)++] = (uint8_t)(n >> 24);
	p[(*o)++] = (uint8_t)(n >> 16);
	p[(*o)++] = (uint8_t)(n >> 8);
	p[(*o)++] = (uint8_t)n;
	memcpy(p + *o, s, n);
	*o += n;
}

/* The documented canonical encoding (audit.c header), hashed with SHA-256
 * by libsodium directly, gives the same hash under the intl suite: an
 * independent verifier can be written from the documentation. */
TEST(record_hash_is_documented_encoding)
{
	if (bwc_init(CRYPTO_SUITE_INTL) != 0) {
		CHECK(!"bwc_init");
		return;
	}
	struct store_audit r;
	at_sample(&r);
	static uint8_t buf[8192];
	size_t o = 0;
	memcpy(buf, "bw-audit-v1", 11);
	o = 11;
	at_put64(buf, &o, r.seq);
	at_put64(buf, &o, r.ts_ms);
	at_put64(buf, &o, r.tenant_id);
	const char *t[] = { r.event, r.subject, r.object, r.outcome, r.source, r.device,
	                    r.request_id, r.detail };
	for (int i = 0; i < 8; i++)
		at_putstr(buf, &o, t[i]);
	memcpy(buf + o, r.prev_hash, CRYPTO_HASH_LEN);
	o += CRYPTO_HASH_LEN;
	uint8_t want[crypto_hash_sha256_BYTES], got[CRYPTO_HASH_LEN];
	crypto_hash_sha256(want, buf, o);
	audit_record_hash(&r, got);
	CHECK_MEM(got, want, CRYPTO_HASH_LEN);
	/* the checkpoint message: tag, seq, hash, time */
	uint8_t msg[128];
	size_t n = audit_checkpoint_message(r.seq, r.prev_hash, r.ts_ms, msg, sizeof msg);
	CHECK_EQ(n, 22 + 8 + 32 + 8);
	CHECK(memcmp(msg, "bw-audit-checkpoint-v1", 22) == 0);
	CHECK_EQ(msg[22 + 7], 42);
	CHECK_MEM(msg + 30, r.prev_hash, CRYPTO_HASH_LEN);
	CHECK_EQ(audit_checkpoint_message(r.seq, r.prev_hash, r.ts_ms, msg, n - 1), 0);
}

/* RFC 5424: <PRI>1 SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 * SP STRUCTURED-DATA SP MSG. */
TEST(format_syslog)
{
	struct store_audit r;
	at_sample(&r);
	snprintf(r.subject, sizeof r.subject, "acme/a\"b\\c]d#3");
	snprintf(r.object, sizeof r.object, "obj with spaces and 中文");
	struct bw_buf b;
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_SYSLOG, "host1", &b), 0);
	const char *line = b.data ? (const char *)b.data : "";
	regex_t re;
	CHECK_EQ(regcomp(&re,
		"^<([0-9]{1,3})>1 "
		"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z) "
		"([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) "
		"(\\[audit@32473( [a-z_]+=\"([^\"\\\\]|\\\\[\"\\\\]|\\\\\\])*\")+\\]) (.*)$",
		REG_EXTENDED), 0);
	regmatch_t m[12];
	int rc = regexec(&re, line, 12, m, 0);
	if (rc != 0)
		fprintf(stderr, "  not RFC 5424 shaped: %s\n", line);
	CHECK_EQ(rc, 0);
	regfree(&re);
	const char *pfx = "<109>1 2023-11-14T22:13:20.123Z host1 bulwark - auth.login [audit@32473 ";
	CHECK(strncmp(line, pfx, strlen(pfx)) == 0);
	CHECK(strstr(line, " seq=\"42\"") != NULL);
	CHECK(strstr(line, " tenant=\"7\"") != NULL);
	CHECK(strstr(line, " outcome=\"success\"") != NULL);
	CHECK(strstr(line, " subject=\"acme/a\\\"b\\\\c\\]d#3\"") != NULL);
	CHECK(strstr(line, " source=\"198.51.100.7\"") != NULL);
	CHECK(strstr(line, " request_id=\"req-abc\"") != NULL);
	char hex[2 * CRYPTO_HASH_LEN + 1];
	bw_hex_encode(r.hash, CRYPTO_HASH_LEN, hex);
	char want_hash[100];
	snprintf(want_hash, sizeof want_hash, " hash=\"%s\"]", hex);
	CHECK(strstr(line, want_hash) != NULL);
	size_t n = strlen(line);
	CHECK(n > strlen(r.detail) && strcmp(line + n - strlen(r.detail), r.detail) == 0);
	CHECK(strchr(line, '\n') == NULL);
	CHECK(bw_utf8_valid(line, n, false));
	bw_buf_free(&b, false);

	/* failure outcome -> warning severity; no hostname -> "-" */
	at_sample(&r);
	snprintf(r.outcome, sizeof r.outcome, "denied");
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_SYSLOG, NULL, &b), 0);
	pfx = "<108>1 2023-11-14T22:13:20.123Z - bulwark - auth.login ";
	CHECK(b.data && strncmp((char *)b.data, pfx, strlen(pfx)) == 0);
	bw_buf_free(&b, false);
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_SYSLOG, "", &b), 0);
	CHECK(b.data && strstr((char *)b.data, "Z - bulwark") != NULL);
	bw_buf_free(&b, false);

	/* every escaped character, in every escaped field */
	at_sample(&r);
	snprintf(r.object, sizeof r.object, "]]\"\"\\\\");
	snprintf(r.device, sizeof r.device, "\\");
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_SYSLOG, "h", &b), 0);
	CHECK(b.data && strstr((char *)b.data, " object=\"\\]\\]\\\"\\\"\\\\\\\\\"") != NULL);
	CHECK(b.data && strstr((char *)b.data, " device=\"\\\\\"") != NULL);
	bw_buf_free(&b, false);

	/* the buffer limit is honoured */
	bw_buf_init(&b, 40);
	CHECK_EQ(audit_format_record(&r, AUDIT_SYSLOG, "h", &b), BW_ETOOBIG);
	CHECK(b.len <= 40);
	bw_buf_free(&b, false);
}

TEST(format_json)
{
	struct store_audit r;
	at_sample(&r);
	snprintf(r.subject, sizeof r.subject, "acme/\"quoted\"\\ 中文");
	struct bw_buf b;
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_JSON, "host1", &b), 0);
	json_error_t jerr;
	json_t *o = b.data ? json_loads((char *)b.data, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	CHECK(o != NULL && json_is_object(o));
	if (o) {
		CHECK_EQ(json_integer_value(json_object_get(o, "seq")), 42);
		CHECK_EQ(json_integer_value(json_object_get(o, "time_ms")), 1700000000123);
		CHECK_EQ(json_integer_value(json_object_get(o, "tenant_id")), 7);
		CHECK_STR(json_string_value(json_object_get(o, "time")), "2023-11-14T22:13:20.123Z");
		CHECK_STR(json_string_value(json_object_get(o, "event")), "auth.login");
		CHECK_STR(json_string_value(json_object_get(o, "subject")), r.subject);
		CHECK_STR(json_string_value(json_object_get(o, "outcome")), "success");
		CHECK_STR(json_string_value(json_object_get(o, "source")), "198.51.100.7");
		CHECK_STR(json_string_value(json_object_get(o, "device")), "device#9");
		CHECK_STR(json_string_value(json_object_get(o, "request_id")), "req-abc");
		json_t *d = json_object_get(o, "detail");
		CHECK(json_is_object(d));
		CHECK_STR(json_string_value(json_object_get(d, "scope")), "full");
		const char *h = json_string_value(json_object_get(o, "hash"));
		CHECK(h && strlen(h) == 2 * CRYPTO_HASH_LEN);
		json_decref(o);
	}
	CHECK(b.data && strchr((char *)b.data, '\n') == NULL);
	bw_buf_free(&b, false);
	/* a detail that is not JSON still gives a valid object */
	snprintf(r.detail, sizeof r.detail, "not json");
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_JSON, NULL, &b), 0);
	o = b.data ? json_loads((char *)b.data, 0, &jerr) : NULL;
	CHECK(o && json_is_object(json_object_get(o, "detail")));
	json_decref(o);
	bw_buf_free(&b, false);
	/* time 0 */
	r.ts_ms = 0;
	bw_buf_init(&b, 65536);
	CHECK_EQ(audit_format_record(&r, AUDIT_JSON, NULL, &b), 0);
	o = b.data ? json_loads((char *)b.data, 0, &jerr) : NULL;
	CHECK(o && strcmp(json_string_value(json_object_get(o, "time")), "1970-01-01T00:00:00.000Z") == 0);
	json_decref(o);
	bw_buf_free(&b, false);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR - 1;   /* the tamper cases make the store complain */
	RUN(record_hash_covers_every_field);
	RUN(record_hash_is_documented_encoding);
	RUN(format_syslog);
	RUN(format_json);
	RUN(triggers_guard_the_table);
	RUN(field_limits);
	RUN(two_writers_one_chain);
	RUN(tamper_intl);
	RUN(tamper_gm);
	RUN(deleted_checkpoints_detected);
	RUN(recent_prefix_deletion_detected);
	return UNIT_DONE();
}
