/*
 * test_store.c — unit tests of the SQLite store (store_sqlite.c): schema and
 * migrations, tenant isolation (PS-IA-a, WC-STORE), ids never reused,
 * tickets (WC-TICKET), recovery codes, policy history (RG-OPS-b), the
 * append-only audit trail and its purge (PS-LOG-c/d), size limits, file mode
 * and secure deletion.  Each test works in its own mkdtemp directory; the
 * tamper tests open a second, raw sqlite3 connection on the same file.
 */
#include "unit.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

/* ---------------------------------------------------------------- helpers */

struct fixture {
	char dir[64];
	struct store *s;
	int64_t ta, tb;      /* two tenants */
	int64_t ua, ub;      /* a user in each */
};

static void fx_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void fx_dir(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/bw_store_XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

static void fill_user(struct store_user *u, int64_t tenant, const char *name, const char *role)
{
	memset(u, 0, sizeof *u);
	u->tenant_id = tenant;
	snprintf(u->username, sizeof u->username, "%s", name);
	snprintf(u->role, sizeof u->role, "%s", role);
	u->status = USER_ACTIVE;
	snprintf(u->pw_hash, sizeof u->pw_hash, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
	u->must_change_pw = true;
	u->created_at = 1000;
	u->pw_changed_at = 1000;
}

/* Opens a fresh store with tenants "alpha" and "beta", one user in each. */
static void fx_open(struct fixture *f)
{
	struct store_user u;
	fx_dir(f);
	int rc = store_sqlite_open(f->dir, true, &f->s);
	if (rc != 0) {
		fprintf(stderr, "store_sqlite_open: %s\n", bw_strerror(rc));
		exit(2);
	}
	CHECK_EQ(f->s->ops->tenant_create(f->s, "alpha", 100, &f->ta), 0);
	CHECK_EQ(f->s->ops->tenant_create(f->s, "beta", 100, &f->tb), 0);
	fill_user(&u, f->ta, "alice", "member");
	CHECK_EQ(f->s->ops->user_create(f->s, &u), 0);
	f->ua = u.id;
	fill_user(&u, f->tb, "bob", "member");
	CHECK_EQ(f->s->ops->user_create(f->s, &u), 0);
	f->ub = u.id;
}

static void fx_close(struct fixture *f)
{
	if (f->s != NULL)
		f->s->ops->close(f->s);
	f->s = NULL;
	fx_rmdir(f->dir);
}

static void fx_path(const struct fixture *f, const char *suffix, char *out, size_t n)
{
	snprintf(out, n, "%s/bulwark.db%s", f->dir, suffix);
}

/* A raw connection to the same file, without the store's settings. */
static sqlite3 *raw_open(const struct fixture *f)
{
	char p[PATH_MAX];
	sqlite3 *db = NULL;
	fx_path(f, "", p, sizeof p);
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "raw open: %s\n", sqlite3_errmsg(db));
		exit(2);
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int raw_exec(const struct fixture *f, const char *sql)
{
	sqlite3 *db = raw_open(f);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int64_t raw_i64(const struct fixture *f, const char *sql)
{
	sqlite3 *db = raw_open(f);
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		fprintf(stderr, "raw_i64(%s): %s\n", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void hash_of(uint8_t h[CRYPTO_HASH_LEN], int tag)
{
	for (int i = 0; i < CRYPTO_HASH_LEN; i++)
		h[i] = (uint8_t)(tag * 31 + i);
}

static void fill_ticket(struct store_ticket *t, int tag, int64_t tenant, int64_t user,
                        int64_t expires)
{
	memset(t, 0, sizeof *t);
	hash_of(t->hash, tag);
	t->tenant_id = tenant;
	t->user_id = user;
	t->scope = TICKET_FULL;
	t->created_at = 1000 + tag;
	t->last_seen = 1000 + tag;
	t->expires_at = expires;
	snprintf(t->ip, sizeof t->ip, "192.0.2.%d", tag);
}

static void fill_audit(struct store_audit *r, int64_t seq, int64_t tenant, const char *event,
                       const char *subject)
{
	memset(r, 0, sizeof *r);
	r->seq = seq;
	r->ts_ms = 1000000 + seq * 1000;
	r->tenant_id = tenant;
	snprintf(r->event, sizeof r->event, "%s", event);
	snprintf(r->subject, sizeof r->subject, "%s", subject);
	snprintf(r->object, sizeof r->object, "obj-%lld", (long long)seq);
	snprintf(r->outcome, sizeof r->outcome, "success");
	snprintf(r->source, sizeof r->source, "198.51.100.7");
	snprintf(r->device, sizeof r->device, "dev");
	snprintf(r->request_id, sizeof r->request_id, "req-%lld", (long long)seq);
	snprintf(r->detail, sizeof r->detail, "{\"n\":%lld}", (long long)seq);
	hash_of(r->prev_hash, (int)seq - 1);
	hash_of(r->hash, (int)seq);
}

/* Collects seqs from audit callbacks. */
struct seqs { int64_t v[2000]; int n; int stop_after; };

static int seqs_cb(void *arg, const struct store_audit *r)
{
	struct seqs *q = arg;
	if (q->n < (int)BW_ARRAY_LEN(q->v))
		q->v[q->n] = r->seq;
	q->n++;
	if (q->stop_after > 0 && q->n == q->stop_after)
		return 42;
	return 0;
}

static int count_ticket_cb(void *arg, const struct store_ticket *t)
{
	(void)t;
	(*(int *)arg)++;
	return 0;
}

static int count_device_cb(void *arg, const struct store_device *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

static int count_dept_cb(void *arg, const struct store_dept *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

static int count_user_cb(void *arg, const struct store_user *u)
{
	(void)u;
	(*(int *)arg)++;
	return 0;
}

static int count_tenant_cb(void *arg, const struct store_tenant *t)
{
	(void)t;
	(*(int *)arg)++;
	return 0;
}

static int count_ckpt_cb(void *arg, const struct store_checkpoint *c)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

/* ------------------------------------------------------------------ tests */

TEST(open_migrate_reopen)
{
	struct fixture f;
	struct store *s2 = NULL;
	char v[32];
	fx_dir(&f);
	/* Not there and not asked to create: BW_ENOENT, and no file made. */
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), BW_ENOENT);
	CHECK(f.s == NULL);
	char p[PATH_MAX];
	fx_path(&f, "", p, sizeof p);
	CHECK(access(p, F_OK) != 0);

	CHECK_EQ(store_sqlite_open(f.dir, true, &f.s), 0);
	CHECK_STR(f.s->ops->name, "sqlite");
	CHECK_EQ(f.s->ops->meta_get(f.s, "schema_version", v, sizeof v), 0);
	CHECK_STR(v, "4");   /* 1: core, 2: chat, 3: documents, 4: links and comments */
	CHECK_EQ(f.s->ops->meta_set(f.s, "schema_version", "7"), BW_EPERM);
	CHECK_EQ(f.s->ops->meta_set(f.s, "suite", "gm"), 0);
	CHECK_EQ(f.s->ops->meta_set(f.s, "suite", "intl"), 0);
	CHECK_EQ(f.s->ops->meta_get(f.s, "suite", v, sizeof v), 0);
	CHECK_STR(v, "intl");
	CHECK_EQ(f.s->ops->meta_get(f.s, "suite", v, 4), BW_ETOOBIG);
	CHECK_EQ(f.s->ops->meta_get(f.s, "nope", v, sizeof v), BW_ENOENT);
	f.s->ops->close(f.s);
	f.s = NULL;

	/* Reopen without create: same data, no second migration. */
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), 0);
	CHECK_EQ(f.s->ops->meta_get(f.s, "suite", v, sizeof v), 0);
	CHECK_STR(v, "intl");
	/* A second handle on the same file (one per thread) works alongside. */
	CHECK_EQ(store_sqlite_open(f.dir, false, &s2), 0);
	CHECK_EQ(s2->ops->meta_get(s2, "suite", v, sizeof v), 0);
	s2->ops->close(s2);
	f.s->ops->close(f.s);
	f.s = NULL;
	int64_t tables = raw_i64(&f, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'");
	CHECK(tables >= 12);

	/* WAL is persistent in the file; a raw connection sees it. */
	sqlite3 *db = raw_open(&f);
	sqlite3_stmt *st;
	CHECK_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* A database from a newer build (one version past ours) is refused
	 * and left as it was. */
	int64_t ours = raw_i64(&f, "SELECT value FROM meta WHERE key = 'schema_version'");
	CHECK(ours >= 2);
	char sql[96];
	snprintf(sql, sizeof sql, "UPDATE meta SET value = '%lld' WHERE key = 'schema_version'",
	         (long long)ours + 1);
	CHECK_EQ(raw_exec(&f, sql), SQLITE_OK);
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), BW_ESTORE);
	CHECK(f.s == NULL);
	CHECK_EQ(raw_i64(&f, "SELECT value FROM meta WHERE key = 'schema_version'"), ours + 1);
	CHECK_EQ(raw_i64(&f, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"),
	         tables);
	snprintf(sql, sizeof sql, "UPDATE meta SET value = '%lld' WHERE key = 'schema_version'",
	         (long long)ours);
	CHECK_EQ(raw_exec(&f, sql), SQLITE_OK);
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), 0);
	fx_close(&f);

	/* Another application's SQLite file is refused. */
	fx_dir(&f);
	fx_path(&f, "", p, sizeof p);
	CHECK_EQ(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db, "PRAGMA application_id = 1234; CREATE TABLE x(a)",
	                      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), BW_ESTORE);
	CHECK(f.s == NULL);
	fx_close(&f);
}

TEST(file_mode_0600)
{
	struct fixture f;
	struct stat sb;
	char p[PATH_MAX];
	mode_t old = umask(022);
	fx_open(&f);
	umask(old);
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < BW_ARRAY_LEN(suffixes); i++) {
		fx_path(&f, suffixes[i], p, sizeof p);
		CHECK_EQ(stat(p, &sb), 0);
		CHECK_EQ(sb.st_mode & 0777, 0600);
	}
	/* The process umask is restored. */
	mode_t now = umask(022);
	umask(now);
	CHECK_EQ(now, old);
	f.s->ops->close(f.s);
	/* A file someone loosened is tightened on the next open. */
	fx_path(&f, "", p, sizeof p);
	CHECK_EQ(chmod(p, 0644), 0);
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), 0);
	CHECK_EQ(stat(p, &sb), 0);
	CHECK_EQ(sb.st_mode & 0777, 0600);
	fx_close(&f);
}

TEST(tenants)
{
	struct fixture f;
	struct store_tenant t;
	int64_t id;
	fx_open(&f);
	struct store *s = f.s;
	CHECK(f.ta > 0 && f.tb > f.ta);
	CHECK_EQ(s->ops->tenant_get(s, f.ta, &t), 0);
	CHECK_STR(t.name, "alpha");
	CHECK_EQ(t.created_at, 100);
	CHECK_EQ(s->ops->tenant_get_by_name(s, "beta", &t), 0);
	CHECK_EQ(t.id, f.tb);
	/* Names are unique, case-insensitively (no "Alpha" next to "alpha"). */
	CHECK_EQ(s->ops->tenant_create(s, "alpha", 1, &id), BW_EEXIST);
	CHECK_EQ(s->ops->tenant_create(s, "ALPHA", 1, &id), BW_EEXIST);
	CHECK_EQ(s->ops->tenant_create(s, "", 1, &id), BW_EINVAL);
	char big[STORE_NAME_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(s->ops->tenant_create(s, big, 1, &id), BW_ETOOBIG);
	big[STORE_NAME_MAX] = '\0';      /* exactly the maximum fits */
	CHECK_EQ(s->ops->tenant_create(s, big, 1, &id), 0);
	CHECK_EQ(s->ops->tenant_get(s, id, &t), 0);
	CHECK_EQ(strlen(t.name), STORE_NAME_MAX);
	CHECK_EQ(s->ops->tenant_get(s, 9999, &t), BW_ENOENT);
	CHECK_EQ(s->ops->tenant_get_by_name(s, "gamma", &t), BW_ENOENT);
	int n = 0;
	CHECK_EQ(s->ops->tenant_list(s, count_tenant_cb, &n), 0);
	CHECK_EQ(n, 3);
	fx_close(&f);
}

TEST(tenant_keys)
{
	struct fixture f;
	struct store_tenant_key k, out[4];
	size_t n = 99;
	fx_open(&f);
	struct store *s = f.s;
	CHECK_EQ(s->ops->tenant_keys_get(s, f.ta, out, 4, &n), 0);
	CHECK_EQ(n, 0);
	memset(&k, 0, sizeof k);
	k.tenant_id = f.ta;
	k.key_class = 1;
	k.version = 1;
	memset(k.wrapped, 0xa5, 78);
	k.wrapped_len = 78;
	k.created_at = 5;
	CHECK_EQ(s->ops->tenant_key_put(s, &k), 0);
	CHECK_EQ(s->ops->tenant_key_put(s, &k), BW_EEXIST);
	k.version = 2;
	CHECK_EQ(s->ops->tenant_key_put(s, &k), 0);
	k.key_class = 2;
	k.version = 1;
	CHECK_EQ(s->ops->tenant_key_put(s, &k), 0);
	k.wrapped_len = STORE_WRAPPED_MAX + 1;
	CHECK_EQ(s->ops->tenant_key_put(s, &k), BW_ETOOBIG);
	k.wrapped_len = 10;
	k.tenant_id = 9999;                 /* no such tenant */
	CHECK_EQ(s->ops->tenant_key_put(s, &k), BW_ENOENT);
	CHECK_EQ(s->ops->tenant_keys_get(s, f.ta, out, 4, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0].key_class, 1);
	CHECK_EQ(out[0].version, 1);
	CHECK_EQ(out[1].version, 2);
	CHECK_EQ(out[2].key_class, 2);
	CHECK_EQ(out[0].wrapped_len, 78);
	CHECK_EQ(out[0].wrapped[77], 0xa5);
	CHECK_EQ(s->ops->tenant_keys_get(s, f.ta, out, 2, &n), BW_ETOOBIG);
	CHECK_EQ(s->ops->tenant_keys_get(s, f.tb, out, 4, &n), 0);
	CHECK_EQ(n, 0);                     /* the other tenant has none */
	fx_close(&f);
}

TEST(users_basic)
{
	struct fixture f;
	struct store_user u, g;
	fx_open(&f);
	struct store *s = f.s;
	CHECK(f.ua > 0 && f.ub > f.ua);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &g), 0);
	CHECK_STR(g.username, "alice");
	CHECK_STR(g.role, "member");
	CHECK_EQ(g.status, USER_ACTIVE);
	CHECK(g.must_change_pw);
	CHECK_EQ(g.dept_id, 0);
	CHECK_EQ(g.tenant_id, f.ta);
	CHECK_EQ(s->ops->user_get_by_name(s, f.ta, "alice", &g), 0);
	CHECK_EQ(g.id, f.ua);
	/* Usernames are unique per tenant, case-insensitively. */
	fill_user(&u, f.ta, "alice", "member");
	CHECK_EQ(s->ops->user_create(s, &u), BW_EEXIST);
	fill_user(&u, f.ta, "Alice", "member");
	CHECK_EQ(s->ops->user_create(s, &u), BW_EEXIST);
	CHECK_EQ(s->ops->user_get_by_name(s, f.ta, "ALICE", &g), 0);
	CHECK_EQ(g.id, f.ua);
	/* The same name in another tenant is another user. */
	fill_user(&u, f.tb, "alice", "member");
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	CHECK(u.id != f.ua);
	/* Unknown tenant, bad status, empty name, TOTP enabled without secret. */
	fill_user(&u, 9999, "zed", "member");
	CHECK_EQ(s->ops->user_create(s, &u), BW_ENOENT);
	fill_user(&u, f.ta, "zed", "member");
	u.status = 7;
	CHECK_EQ(s->ops->user_create(s, &u), BW_EINVAL);
	fill_user(&u, f.ta, "", "member");
	CHECK_EQ(s->ops->user_create(s, &u), BW_EINVAL);
	fill_user(&u, f.ta, "zed", "member");
	u.totp_enabled = true;
	CHECK_EQ(s->ops->user_create(s, &u), BW_EINVAL);
	CHECK_EQ(s->ops->user_get_by_name(s, f.ta, "zed", &g), BW_ENOENT);

	/* Update writes every mutable column. */
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &g), 0);
	g.failed_count = 3;
	g.locked_until = 5555;
	g.must_change_pw = false;
	g.totp_secret.len = 40;
	memset(g.totp_secret.data, 0x11, 40);
	g.totp_enabled = true;
	g.totp_last_step = 123456;
	snprintf(g.role, sizeof g.role, "sysadmin");
	g.last_login_at = 4242;
	CHECK_EQ(s->ops->user_update(s, &g), 0);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &u), 0);
	CHECK_EQ(u.failed_count, 3);
	CHECK_EQ(u.locked_until, 5555);
	CHECK(!u.must_change_pw);
	CHECK(u.totp_enabled);
	CHECK_EQ(u.totp_secret.len, 40);
	CHECK_EQ(u.totp_last_step, 123456);
	CHECK_STR(u.role, "sysadmin");
	CHECK_EQ(u.last_login_at, 4242);
	CHECK_STR(u.username, "alice");
	g.id = 9999;
	CHECK_EQ(s->ops->user_update(s, &g), BW_ENOENT);

	/* Listing pages by id; role counts. */
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof name, "m%d", i);
		fill_user(&u, f.ta, name, "member");
		if (i == 4)
			u.status = USER_DISABLED;
		CHECK_EQ(s->ops->user_create(s, &u), 0);
	}
	int n = 0;
	CHECK_EQ(s->ops->user_list(s, f.ta, 0, 100, count_user_cb, &n), 0);
	CHECK_EQ(n, 6);
	n = 0;
	CHECK_EQ(s->ops->user_list(s, f.ta, 0, 2, count_user_cb, &n), 0);
	CHECK_EQ(n, 2);
	n = 0;
	CHECK_EQ(s->ops->user_list(s, f.ta, f.ua, 0, count_user_cb, &n), 0);
	CHECK_EQ(n, 1);                     /* limit 0 is clamped to 1 */
	int64_t cnt = -1;
	CHECK_EQ(s->ops->user_count_role(s, f.ta, "member", false, &cnt), 0);
	CHECK_EQ(cnt, 5);
	CHECK_EQ(s->ops->user_count_role(s, f.ta, "member", true, &cnt), 0);
	CHECK_EQ(cnt, 4);
	CHECK_EQ(s->ops->user_count_role(s, f.ta, "sysadmin", true, &cnt), 0);
	CHECK_EQ(cnt, 1);
	CHECK_EQ(s->ops->user_count_role(s, f.tb, "sysadmin", true, &cnt), 0);
	CHECK_EQ(cnt, 0);
	fx_close(&f);
}

TEST(sizes_refused_not_truncated)
{
	struct fixture f;
	struct store_user u, g;
	fx_open(&f);
	struct store *s = f.s;
	/* A username array without its NUL (65 bytes) is refused. */
	fill_user(&u, f.ta, "x", "member");
	memset(u.username, 'u', sizeof u.username);
	CHECK_EQ(s->ops->user_create(s, &u), BW_ETOOBIG);
	/* Exactly STORE_NAME_MAX bytes is fine. */
	u.username[STORE_NAME_MAX] = '\0';
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	char big[STORE_NAME_MAX + 2];
	memset(big, 'u', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_EQ(s->ops->user_get_by_name(s, f.ta, big, &g), BW_ETOOBIG);
	/* Role too long. */
	fill_user(&u, f.ta, "y", "member");
	memset(u.role, 'r', sizeof u.role);
	CHECK_EQ(s->ops->user_create(s, &u), BW_ETOOBIG);
	/* A box longer than its maximum. */
	fill_user(&u, f.ta, "y", "member");
	u.email.len = STORE_BOX_MAX + 1;
	CHECK_EQ(s->ops->user_create(s, &u), BW_ETOOBIG);
	CHECK_EQ(s->ops->user_get_by_name(s, f.ta, "y", &g), BW_ENOENT);
	/* On read too: a row written behind the store's back with a 65-byte
	 * username or an oversized box is refused, not truncated. */
	memset(&g, 0x5a, sizeof g);
	CHECK_EQ(raw_exec(&f, "UPDATE users SET username = 'alice' || printf('%60s', '') "
	                     "WHERE username = 'alice'"), SQLITE_OK);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &g), BW_ETOOBIG);
	CHECK_EQ((unsigned char)g.username[0], 0x5a);    /* out untouched */
	CHECK_EQ(raw_exec(&f, "UPDATE users SET username = 'alice', "
	                     "email = zeroblob(400) WHERE id = 1"), SQLITE_OK);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &g), BW_ETOOBIG);
	/* Audit texts too long for their fields. */
	struct store_audit r;
	fill_audit(&r, 1, f.ta, "auth.login", "alice");
	memset(r.outcome, 'o', sizeof r.outcome);
	CHECK_EQ(s->ops->audit_insert(s, &r), BW_ETOOBIG);
	fx_close(&f);
}

TEST(boxes_null_vs_bytes)
{
	struct fixture f;
	struct store_user u, g;
	fx_open(&f);
	struct store *s = f.s;
	fill_user(&u, f.ta, "carol", "member");
	u.display_name.len = 3;
	memcpy(u.display_name.data, "\x00\x01\x02", 3);
	u.email.len = STORE_BOX_MAX;        /* the largest box */
	memset(u.email.data, 0xee, STORE_BOX_MAX);
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	memset(&g, 0x77, sizeof g);
	CHECK_EQ(s->ops->user_get(s, f.ta, u.id, &g), 0);
	CHECK_EQ(g.display_name.len, 3);
	CHECK_MEM(g.display_name.data, "\x00\x01\x02", 3);
	CHECK_EQ(g.email.len, STORE_BOX_MAX);
	CHECK_EQ(g.email.data[STORE_BOX_MAX - 1], 0xee);
	CHECK_EQ(g.phone.len, 0);
	CHECK_EQ(g.id_card.len, 0);
	CHECK_EQ(g.totp_secret.len, 0);
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT (phone IS NULL) + (id_card IS NULL) * 2 + "
	         "(display_name IS NOT NULL) * 4 FROM users WHERE id = %lld", (long long)u.id);
	CHECK_EQ(raw_i64(&f, sql), 7);
	/* Setting a box back to length 0 stores NULL again. */
	g.display_name.len = 0;
	CHECK_EQ(s->ops->user_update(s, &g), 0);
	snprintf(sql, sizeof sql, "SELECT display_name IS NULL FROM users WHERE id = %lld",
	         (long long)u.id);
	CHECK_EQ(raw_i64(&f, sql), 1);
	fx_close(&f);
}

TEST(ids_never_reused)
{
	struct fixture f;
	struct store_user u;
	struct store_dept d;
	fx_open(&f);
	int64_t max_user = 0, t3 = 0, max_dept = 0;
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "tmp%d", i);
		fill_user(&u, f.ta, name, "member");
		CHECK_EQ(f.s->ops->user_create(f.s, &u), 0);
		CHECK(u.id > max_user);
		max_user = u.id;
	}
	CHECK_EQ(f.s->ops->tenant_create(f.s, "gamma", 1, &t3), 0);
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	CHECK_EQ(f.s->ops->dept_create(f.s, &d), 0);
	max_dept = d.id;
	f.s->ops->close(f.s);
	/* Delete the newest rows behind the store's back, then reopen. */
	CHECK_EQ(raw_exec(&f, "DELETE FROM users WHERE username LIKE 'tmp%'; "
	                     "DELETE FROM tenants WHERE name = 'gamma'; "
	                     "DELETE FROM departments"), SQLITE_OK);
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), 0);
	fill_user(&u, f.ta, "tmp0", "member");
	CHECK_EQ(f.s->ops->user_create(f.s, &u), 0);
	CHECK(u.id > max_user);
	int64_t t4 = 0;
	CHECK_EQ(f.s->ops->tenant_create(f.s, "gamma", 1, &t4), 0);
	CHECK(t4 > t3);
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	CHECK_EQ(f.s->ops->dept_create(f.s, &d), 0);
	CHECK(d.id > max_dept);
	fx_close(&f);
}

TEST(departments)
{
	struct fixture f;
	struct store_dept d, top, g;
	struct store_user u;
	fx_open(&f);
	struct store *s = f.s;
	memset(&top, 0, sizeof top);
	top.tenant_id = f.ta;
	top.name.len = 5;
	memcpy(top.name.data, "boxed", 5);
	top.created_at = 9;
	CHECK_EQ(s->ops->dept_create(s, &top), 0);
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	d.parent_id = top.id;
	CHECK_EQ(s->ops->dept_create(s, &d), 0);
	int64_t child_id = d.id;
	CHECK_EQ(s->ops->dept_get(s, f.ta, d.id, &g), 0);
	CHECK_EQ(g.parent_id, top.id);
	CHECK_EQ(g.name.len, 0);
	CHECK_EQ(s->ops->dept_get(s, f.ta, top.id, &g), 0);
	CHECK_EQ(g.parent_id, 0);
	CHECK_MEM(g.name.data, "boxed", 5);
	/* A parent in another tenant, or a missing one, is refused. */
	memset(&d, 0, sizeof d);
	d.tenant_id = f.tb;
	d.parent_id = top.id;
	CHECK_EQ(s->ops->dept_create(s, &d), BW_ENOENT);
	d.tenant_id = f.ta;
	d.parent_id = 9999;
	CHECK_EQ(s->ops->dept_create(s, &d), BW_ENOENT);
	/* A department cannot be its own parent (the next id is guessable). */
	d.parent_id = top.id + 2;
	CHECK_EQ(s->ops->dept_create(s, &d), BW_EINVAL);
	/* Users may only sit in a department of their own tenant. */
	fill_user(&u, f.tb, "dave", "member");
	u.dept_id = top.id;
	CHECK_EQ(s->ops->user_create(s, &u), BW_ENOENT);
	fill_user(&u, f.ta, "dave", "member");
	u.dept_id = top.id;
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	struct store_user bob;
	CHECK_EQ(s->ops->user_get(s, f.tb, f.ub, &bob), 0);
	bob.dept_id = top.id;
	CHECK_EQ(s->ops->user_update(s, &bob), BW_ENOENT);
	int n = 0;
	CHECK_EQ(s->ops->dept_list(s, f.ta, count_dept_cb, &n), 0);
	CHECK_EQ(n, 2);

	/* dept_update writes name and parent, matched on tenant and id. */
	struct store_dept child;
	CHECK_EQ(s->ops->dept_get(s, f.ta, child_id, &child), 0);
	CHECK_EQ(child.parent_id, top.id);
	child.name.len = 4;
	memcpy(child.name.data, "new!", 4);
	child.parent_id = 0;
	CHECK_EQ(s->ops->dept_update(s, &child), 0);
	CHECK_EQ(s->ops->dept_get(s, f.ta, child.id, &g), 0);
	CHECK_EQ(g.parent_id, 0);
	CHECK_MEM(g.name.data, "new!", 4);
	child.parent_id = top.id;
	CHECK_EQ(s->ops->dept_update(s, &child), 0);
	/* No loops: not itself, not under its own descendant. */
	struct store_dept grand;
	memset(&grand, 0, sizeof grand);
	grand.tenant_id = f.ta;
	grand.parent_id = child.id;
	CHECK_EQ(s->ops->dept_create(s, &grand), 0);
	struct store_dept t2 = top;
	t2.parent_id = top.id;
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_EINVAL);
	t2.parent_id = grand.id;
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_EINVAL);
	t2.parent_id = child.id;
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_EINVAL);
	CHECK_EQ(s->ops->dept_get(s, f.ta, top.id, &g), 0);
	CHECK_EQ(g.parent_id, 0);
	/* Another tenant cannot rename it, nor hang it under its own tree. */
	struct store_dept other;
	memset(&other, 0, sizeof other);
	other.tenant_id = f.tb;
	CHECK_EQ(s->ops->dept_create(s, &other), 0);
	t2 = top;
	t2.tenant_id = f.tb;
	t2.name.len = 4;
	memcpy(t2.name.data, "pwnd", 4);
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_ENOENT);
	t2 = top;
	t2.parent_id = other.id;
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_ENOENT);
	CHECK_EQ(s->ops->dept_get(s, f.ta, top.id, &g), 0);
	CHECK_MEM(g.name.data, "boxed", 5);
	CHECK_EQ(g.parent_id, 0);
	t2 = top;
	t2.id = 9999;
	CHECK_EQ(s->ops->dept_update(s, &t2), BW_ENOENT);
	n = 0;
	CHECK_EQ(s->ops->dept_list(s, f.tb, count_dept_cb, &n), 0);
	CHECK_EQ(n, 1);                     /* only its own */
	fx_close(&f);
}

TEST(cross_tenant_isolation)
{
	struct fixture f;
	struct store_user g, before, after;
	struct store_ticket t, tg;
	struct store_dept d, dg;
	struct store_device dev;
	uint8_t codes[2][CRYPTO_HASH_LEN];
	int64_t n = -1;
	int cnt;
	fx_open(&f);
	struct store *s = f.s;

	/* users: B cannot read or change A's user */
	CHECK_EQ(s->ops->user_get(s, f.tb, f.ua, &g), BW_ENOENT);
	CHECK_EQ(s->ops->user_get_by_name(s, f.tb, "alice", &g), BW_ENOENT);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &before), 0);
	g = before;
	g.tenant_id = f.tb;
	snprintf(g.role, sizeof g.role, "secadmin");
	g.failed_count = 0;
	g.status = USER_DISABLED;
	CHECK_EQ(s->ops->user_update(s, &g), BW_ENOENT);
	CHECK_EQ(s->ops->user_get(s, f.ta, f.ua, &after), 0);
	CHECK_EQ(after.tenant_id, f.ta);
	CHECK_STR(after.role, before.role);
	CHECK_EQ(after.status, USER_ACTIVE);
	CHECK_EQ(after.failed_count, before.failed_count);
	CHECK_STR(after.pw_hash, before.pw_hash);

	/* departments */
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	CHECK_EQ(s->ops->dept_create(s, &d), 0);
	CHECK_EQ(s->ops->dept_get(s, f.tb, d.id, &dg), BW_ENOENT);

	/* recovery codes */
	hash_of(codes[0], 50);
	hash_of(codes[1], 51);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])codes, 2), 0);
	CHECK_EQ(s->ops->recovery_use(s, f.tb, f.ua, codes[0], 1), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_remaining(s, f.tb, f.ua, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(s->ops->recovery_set(s, f.tb, f.ua, NULL, 0), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 2);                     /* neither used nor wiped */

	/* devices */
	memset(&dev, 0, sizeof dev);
	dev.tenant_id = f.ta;
	dev.user_id = f.ua;
	hash_of(dev.device_hash, 60);
	snprintf(dev.last_ip, sizeof dev.last_ip, "203.0.113.1");
	dev.last_seen = 10;
	CHECK_EQ(s->ops->device_upsert(s, &dev, NULL), 0);
	int64_t dev_a = dev.id;
	cnt = 0;
	CHECK_EQ(s->ops->device_list(s, f.tb, f.ua, count_device_cb, &cnt), 0);
	CHECK_EQ(cnt, 0);
	memset(&dev, 0, sizeof dev);
	dev.tenant_id = f.tb;             /* B claims A's user */
	dev.user_id = f.ua;
	hash_of(dev.device_hash, 60);
	CHECK_EQ(s->ops->device_upsert(s, &dev, NULL), BW_ENOENT);

	/* tickets */
	fill_ticket(&t, 1, f.ta, f.ua, 99999);
	t.device_id = dev_a;
	CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	CHECK_EQ(s->ops->ticket_revoke(s, f.tb, t.hash, 2000, "evil"), BW_ENOENT);
	CHECK_EQ(s->ops->ticket_get(s, t.hash, &tg), 0);
	CHECK_EQ(tg.revoked_at, 0);
	int nr = -1;
	CHECK_EQ(s->ops->ticket_revoke_user(s, f.tb, f.ua, NULL, 2000, "evil", &nr), 0);
	CHECK_EQ(nr, 0);
	cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.tb, f.ua, 2000, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 0);
	cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.ta, f.ua, 2000, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 1);
	/* A ticket naming B's tenant with A's user, or A's device for B's
	 * user, is refused by the composite keys. */
	fill_ticket(&t, 2, f.tb, f.ua, 99999);
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_ENOENT);
	fill_ticket(&t, 3, f.tb, f.ub, 99999);
	t.device_id = dev_a;
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_ENOENT);

	/* policies */
	int64_t v;
	char json[64];
	CHECK_EQ(s->ops->policy_put(s, f.ta, "{\"mfa\":true}", f.ua, 1, &v), 0);
	CHECK_EQ(s->ops->policy_get(s, f.tb, json, sizeof json, &v), BW_ENOENT);
	fx_close(&f);
}

TEST(tickets)
{
	struct fixture f;
	struct store_ticket t, g;
	fx_open(&f);
	struct store *s = f.s;
	/* 1, 2, 3 live until 5000; 4 expired at 1500 */
	for (int i = 1; i <= 4; i++) {
		fill_ticket(&t, i, f.ta, f.ua, i == 4 ? 1500 : 5000);
		CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	}
	fill_ticket(&t, 1, f.ta, f.ua, 5000);
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_EEXIST);
	t.scope = 9;
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_EINVAL);
	fill_ticket(&t, 9, f.ta, f.ua, 5000);
	t.device_id = 424242;               /* no such device */
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_ENOENT);

	uint8_t h1[CRYPTO_HASH_LEN], h2[CRYPTO_HASH_LEN], h3[CRYPTO_HASH_LEN], hx[CRYPTO_HASH_LEN];
	hash_of(h1, 1);
	hash_of(h2, 2);
	hash_of(h3, 3);
	hash_of(hx, 77);
	CHECK_EQ(s->ops->ticket_get(s, h1, &g), 0);
	CHECK_EQ(g.user_id, f.ua);
	CHECK_EQ(g.tenant_id, f.ta);
	CHECK_EQ(g.device_id, 0);
	CHECK_EQ(g.scope, TICKET_FULL);
	CHECK_STR(g.ip, "192.0.2.1");
	CHECK_EQ(g.expires_at, 5000);
	CHECK_EQ(s->ops->ticket_get(s, hx, &g), BW_ENOENT);

	CHECK_EQ(s->ops->ticket_touch(s, h1, 2000), 0);
	CHECK_EQ(s->ops->ticket_touch(s, h1, 1900), 0);   /* never goes back */
	CHECK_EQ(s->ops->ticket_get(s, h1, &g), 0);
	CHECK_EQ(g.last_seen, 2000);
	CHECK_EQ(s->ops->ticket_touch(s, hx, 2000), BW_ENOENT);
	CHECK_EQ(s->ops->ticket_set_scope(s, h1, TICKET_PASSWORD_CHANGE), 0);
	CHECK_EQ(s->ops->ticket_get(s, h1, &g), 0);
	CHECK_EQ(g.scope, TICKET_PASSWORD_CHANGE);
	CHECK_EQ(s->ops->ticket_set_scope(s, h1, 0), BW_EINVAL);

	int cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.ta, f.ua, 2000, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 3);                   /* ticket 4 expired */

	CHECK_EQ(s->ops->ticket_revoke(s, f.ta, h2, 2100, "logout"), 0);
	CHECK_EQ(s->ops->ticket_revoke(s, f.ta, h2, 2200, "again"), 0);  /* idempotent */
	CHECK_EQ(s->ops->ticket_get(s, h2, &g), 0);
	CHECK_EQ(g.revoked_at, 2100);
	CHECK_STR(g.revoked_reason, "logout");
	CHECK_EQ(s->ops->ticket_touch(s, h2, 2300), BW_ENOENT);
	CHECK_EQ(s->ops->ticket_set_scope(s, h2, TICKET_FULL), BW_ENOENT);
	CHECK_EQ(s->ops->ticket_revoke(s, f.ta, hx, 2100, "x"), BW_ENOENT);
	char long_reason[64];
	memset(long_reason, 'r', sizeof long_reason - 1);
	long_reason[sizeof long_reason - 1] = '\0';
	CHECK_EQ(s->ops->ticket_revoke(s, f.ta, h3, 2100, long_reason), BW_ETOOBIG);
	cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.ta, f.ua, 2000, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 2);

	/* Revoke all but the current one (password change). */
	fill_ticket(&t, 5, f.ta, f.ua, 5000);
	CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	int nr = -1;
	CHECK_EQ(s->ops->ticket_revoke_user(s, f.ta, f.ua, h1, 2500, "pw change", &nr), 0);
	CHECK_EQ(nr, 2);                    /* 3 and 5 */
	CHECK_EQ(s->ops->ticket_get(s, h1, &g), 0);
	CHECK_EQ(g.revoked_at, 0);
	CHECK_EQ(s->ops->ticket_get(s, h3, &g), 0);
	CHECK_EQ(g.revoked_at, 2500);
	CHECK_STR(g.revoked_reason, "pw change");
	cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.ta, f.ua, 2500, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 1);
	CHECK_EQ(s->ops->ticket_revoke_user(s, f.ta, f.ua, NULL, 2600, "disable", &nr), 0);
	CHECK_EQ(nr, 1);
	cnt = 0;
	CHECK_EQ(s->ops->ticket_list_user(s, f.ta, f.ua, 2600, count_ticket_cb, &cnt), 0);
	CHECK_EQ(cnt, 0);

	/* gc removes revoked/expired before the cut, keeps the rest. */
	fill_ticket(&t, 6, f.ta, f.ua, 9000);
	CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	CHECK_EQ(s->ops->ticket_gc(s, 2550), 0);
	CHECK_EQ(s->ops->ticket_get(s, h2, &g), BW_ENOENT);   /* revoked 2100 */
	CHECK_EQ(s->ops->ticket_get(s, h3, &g), BW_ENOENT);   /* revoked 2500 */
	CHECK_EQ(s->ops->ticket_get(s, h1, &g), 0);           /* revoked 2600 */
	uint8_t h4[CRYPTO_HASH_LEN], h6[CRYPTO_HASH_LEN];
	hash_of(h4, 4);
	hash_of(h6, 6);
	CHECK_EQ(s->ops->ticket_get(s, h4, &g), BW_ENOENT);   /* expired 1500 */
	CHECK_EQ(s->ops->ticket_get(s, h6, &g), 0);
	fx_close(&f);
}

TEST(recovery_codes_single_use)
{
	struct fixture f;
	uint8_t codes[3][CRYPTO_HASH_LEN], other[CRYPTO_HASH_LEN];
	int64_t n = -1;
	fx_open(&f);
	struct store *s = f.s;
	for (int i = 0; i < 3; i++)
		hash_of(codes[i], 10 + i);
	hash_of(other, 99);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])codes, 3), 0);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(s->ops->recovery_use(s, f.ta, f.ua, codes[1], 10), 0);
	CHECK_EQ(s->ops->recovery_use(s, f.ta, f.ua, codes[1], 11), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_use(s, f.ta, f.ua, other, 11), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 2);
	/* Duplicates in one set are refused and leave the old set intact. */
	uint8_t dup[2][CRYPTO_HASH_LEN];
	hash_of(dup[0], 7);
	hash_of(dup[1], 7);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])dup, 2),
	         BW_EEXIST);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 2);
	/* A new set replaces the old one entirely (used codes too). */
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])codes, 1), 0);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(s->ops->recovery_use(s, f.ta, f.ua, codes[2], 12), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_use(s, f.ta, f.ua, codes[0], 12), 0);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, NULL, 0), 0);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, 9999, NULL, 0), BW_ENOENT);
	fx_close(&f);
}

TEST(devices)
{
	struct fixture f;
	struct store_device d;
	bool created = false;
	fx_open(&f);
	struct store *s = f.s;
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	d.user_id = f.ua;
	hash_of(d.device_hash, 1);
	snprintf(d.name, sizeof d.name, "laptop");
	snprintf(d.user_agent, sizeof d.user_agent, "UA/1");
	snprintf(d.last_ip, sizeof d.last_ip, "203.0.113.5");
	d.last_seen = 100;
	CHECK_EQ(s->ops->device_upsert(s, &d, &created), 0);
	CHECK(created);
	int64_t id = d.id;
	CHECK(id > 0);
	CHECK_STR(d.first_ip, "203.0.113.5");
	CHECK_EQ(d.first_seen, 100);
	/* Same device again: updated, not created; first_* kept. */
	memset(&d, 0, sizeof d);
	d.tenant_id = f.ta;
	d.user_id = f.ua;
	hash_of(d.device_hash, 1);
	snprintf(d.user_agent, sizeof d.user_agent, "UA/2");
	snprintf(d.last_ip, sizeof d.last_ip, "203.0.113.6");
	d.last_seen = 200;
	CHECK_EQ(s->ops->device_upsert(s, &d, &created), 0);
	CHECK(!created);
	CHECK_EQ(d.id, id);
	CHECK_STR(d.name, "laptop");
	CHECK_STR(d.user_agent, "UA/2");
	CHECK_STR(d.first_ip, "203.0.113.5");
	CHECK_STR(d.last_ip, "203.0.113.6");
	CHECK_EQ(d.first_seen, 100);
	CHECK_EQ(d.last_seen, 200);
	/* Another device; an over-long user agent is refused. */
	hash_of(d.device_hash, 2);
	CHECK_EQ(s->ops->device_upsert(s, &d, &created), 0);
	CHECK(created);
	CHECK(d.id > id);
	memset(d.user_agent, 'a', sizeof d.user_agent);
	CHECK_EQ(s->ops->device_upsert(s, &d, &created), BW_ETOOBIG);
	int cnt = 0;
	CHECK_EQ(s->ops->device_list(s, f.ta, f.ua, count_device_cb, &cnt), 0);
	CHECK_EQ(cnt, 2);
	/* A ticket bound to the device of another user of the same tenant. */
	struct store_user u;
	fill_user(&u, f.ta, "eve", "member");
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	struct store_ticket t;
	fill_ticket(&t, 1, f.ta, u.id, 5000);
	t.device_id = id;
	CHECK_EQ(s->ops->ticket_insert(s, &t), BW_ENOENT);
	t.user_id = f.ua;
	CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	fx_close(&f);
}

TEST(policy_versions)
{
	struct fixture f;
	char json[64];
	int64_t v = 0;
	fx_open(&f);
	struct store *s = f.s;
	CHECK_EQ(s->ops->policy_get(s, f.ta, json, sizeof json, &v), BW_ENOENT);
	CHECK_EQ(s->ops->policy_put(s, f.ta, "{\"a\":1}", f.ua, 10, &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(s->ops->policy_put(s, f.ta, "{\"a\":2}", f.ua, 20, &v), 0);
	CHECK_EQ(v, 2);
	CHECK_EQ(s->ops->policy_put(s, f.ta, "not json", f.ua, 30, &v), BW_EINVAL);
	CHECK_EQ(s->ops->policy_put(s, f.ta, "[1,2]", f.ua, 30, &v), BW_EINVAL);
	CHECK_EQ(s->ops->policy_put(s, 9999, "{}", f.ua, 30, &v), BW_ENOENT);
	CHECK_EQ(s->ops->policy_put(s, f.tb, "{\"b\":1}", f.ub, 10, &v), 0);
	CHECK_EQ(v, 1);                     /* versions are per tenant */
	v = 0;
	CHECK_EQ(s->ops->policy_get(s, f.ta, json, sizeof json, &v), 0);
	CHECK_EQ(v, 2);
	CHECK_STR(json, "{\"a\":2}");
	CHECK_EQ(s->ops->policy_get(s, f.ta, json, 5, &v), BW_ETOOBIG);
	/* History kept: both versions still stored. */
	CHECK_EQ(raw_i64(&f, "SELECT COUNT(*) FROM policies WHERE tenant_id = 1"), 2);
	CHECK_EQ(raw_i64(&f, "SELECT updated_at FROM policies WHERE tenant_id = 1 "
	                     "AND version = 1"), 10);
	fx_close(&f);
}

TEST(transactions)
{
	struct fixture f;
	struct store_tenant t;
	int64_t id, n;
	fx_open(&f);
	struct store *s = f.s;
	CHECK_EQ(s->ops->commit(s), BW_ECONFLICT);
	CHECK_EQ(s->ops->begin(s, true), 0);
	CHECK_EQ(s->ops->begin(s, false), BW_ECONFLICT);
	CHECK_EQ(s->ops->tenant_create(s, "delta", 1, &id), 0);
	uint8_t codes[1][CRYPTO_HASH_LEN];
	hash_of(codes[0], 3);
	CHECK_EQ(s->ops->recovery_set(s, f.ta, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])codes, 1), 0);
	s->ops->rollback(s);
	CHECK_EQ(s->ops->tenant_get_by_name(s, "delta", &t), BW_ENOENT);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, f.ua, &n), 0);
	CHECK_EQ(n, 0);
	/* A failed internal op inside the caller's transaction undoes only
	 * itself; the caller's earlier writes survive to commit. */
	CHECK_EQ(s->ops->begin(s, false), 0);
	CHECK_EQ(s->ops->tenant_create(s, "delta", 1, &id), 0);
	CHECK_EQ(s->ops->recovery_set(s, f.tb, f.ua, (const uint8_t (*)[CRYPTO_HASH_LEN])codes, 1),
	         BW_ENOENT);
	CHECK_EQ(s->ops->commit(s), 0);
	CHECK_EQ(s->ops->tenant_get_by_name(s, "delta", &t), 0);
	s->ops->rollback(s);                /* no transaction: harmless */
	fx_close(&f);
}

TEST(audit_insert_scan_query)
{
	struct fixture f;
	struct store_audit r;
	struct seqs q;
	int64_t last = -1, n = -1, first = -1;
	uint8_t h[CRYPTO_HASH_LEN], want[CRYPTO_HASH_LEN];
	fx_open(&f);
	struct store *s = f.s;
	CHECK_EQ(s->ops->audit_last(s, &last, h), BW_ENOENT);
	CHECK_EQ(last, -1);                 /* untouched on error */
	CHECK_EQ(s->ops->audit_count(s, &n, &first), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(first, 0);
	/* seq must start at 1 and follow on */
	fill_audit(&r, 2, f.ta, "auth.login", "alice");
	CHECK_EQ(s->ops->audit_insert(s, &r), BW_ECONFLICT);
	/* 1..20: odd seqs tenant A, even tenant B; every 5th is a logout;
	 * seq 20 is installation-wide. */
	for (int64_t i = 1; i <= 20; i++) {
		fill_audit(&r, i, i == 20 ? 0 : (i % 2 ? f.ta : f.tb),
		           i % 5 == 0 ? "auth.logout" : (i % 3 == 0 ? "doc.delete" : "auth.login"),
		           i % 2 ? "alice" : "bob");
		CHECK_EQ(s->ops->audit_insert(s, &r), 0);
	}
	fill_audit(&r, 20, f.ta, "auth.login", "alice");
	CHECK_EQ(s->ops->audit_insert(s, &r), BW_ECONFLICT);    /* duplicate */
	fill_audit(&r, 22, f.ta, "auth.login", "alice");
	CHECK_EQ(s->ops->audit_insert(s, &r), BW_ECONFLICT);    /* gap */
	CHECK_EQ(s->ops->audit_last(s, &last, h), 0);
	CHECK_EQ(last, 20);
	hash_of(want, 20);
	CHECK_MEM(h, want, CRYPTO_HASH_LEN);
	CHECK_EQ(s->ops->audit_count(s, &n, &first), 0);
	CHECK_EQ(n, 20);
	CHECK_EQ(first, 1);

	/* scan: ascending from a seq, every tenant, full records */
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_scan(s, 15, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 6);
	CHECK_EQ(q.v[0], 15);
	CHECK_EQ(q.v[5], 20);
	/* a callback's non-zero return stops and is returned */
	memset(&q, 0, sizeof q);
	q.stop_after = 3;
	CHECK_EQ(s->ops->audit_scan(s, 1, seqs_cb, &q), 42);
	CHECK_EQ(q.n, 3);

	/* query: tenant scoped, newest first */
	struct store_audit_filter flt;
	memset(&flt, 0, sizeof flt);
	flt.tenant_id = f.ta;
	flt.limit = 100;
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 10);                  /* 1,3,...,19 */
	CHECK_EQ(q.v[0], 19);
	CHECK_EQ(q.v[9], 1);
	for (int i = 0; i < q.n && i < 10; i++)
		CHECK(q.v[i] % 2 == 1);
	/* installation-wide records are tenant 0 */
	flt.tenant_id = 0;
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 1);
	CHECK_EQ(q.v[0], 20);
	/* event prefix: "auth." in A = all but doc.delete (3 and 9; 15 is a
	 * logout) */
	flt.tenant_id = f.ta;
	flt.event_prefix = "auth.";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 8);
	flt.event_prefix = "doc.";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 2);
	CHECK_EQ(q.v[0], 9);
	flt.event_prefix = "auth.logout";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 2);                   /* 5, 15 */
	CHECK_EQ(q.v[0], 15);
	/* prefix characters are not patterns */
	flt.event_prefix = "auth%";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 0);
	flt.event_prefix = "a_th";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 0);
	/* subject exact match: bob's records are all in B */
	flt.event_prefix = NULL;
	flt.subject = "bob";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 0);
	flt.subject = "alic";
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 0);
	flt.subject = "alice";
	/* time window and paging: ts_ms = 1000000 + seq*1000 */
	flt.since_ms = 1000000 + 5 * 1000;
	flt.until_ms = 1000000 + 13 * 1000;
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 5);                   /* 5,7,9,11,13 */
	CHECK_EQ(q.v[0], 13);
	CHECK_EQ(q.v[4], 5);
	flt.before_seq = 11;
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 3);                   /* 9,7,5 */
	CHECK_EQ(q.v[0], 9);
	flt.limit = 2;
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 2);
	flt.limit = 0;                      /* clamped to 1 */
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 1);
	char longp[80];
	memset(longp, 'e', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	flt.event_prefix = longp;
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), BW_ETOOBIG);
	fx_close(&f);
}

TEST(audit_query_limit_clamped)
{
	struct fixture f;
	struct store_audit r;
	struct seqs q;
	fx_open(&f);
	struct store *s = f.s;
	CHECK_EQ(s->ops->begin(s, true), 0);
	for (int64_t i = 1; i <= 10100; i++) {
		fill_audit(&r, i, f.ta, "x.y", "alice");
		CHECK_EQ(s->ops->audit_insert(s, &r), 0);
	}
	CHECK_EQ(s->ops->commit(s), 0);
	struct store_audit_filter flt;
	memset(&flt, 0, sizeof flt);
	flt.tenant_id = f.ta;
	flt.limit = 50000;        /* clamped to the 10,000 page ceiling */
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_query(s, &flt, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 10000);
	CHECK_EQ(q.v[0], 10100);
	fx_close(&f);
}

/* Append-only: UPDATE and DELETE from another connection are refused by
 * the triggers, and the rows are unchanged afterwards. */
TEST(audit_append_only_raw)
{
	struct fixture f;
	struct store_audit r;
	struct store_checkpoint k;
	fx_open(&f);
	struct store *s = f.s;
	for (int64_t i = 1; i <= 3; i++) {
		fill_audit(&r, i, f.ta, "auth.login", "alice");
		CHECK_EQ(s->ops->audit_insert(s, &r), 0);
	}
	memset(&k, 0, sizeof k);
	k.seq = 2;
	hash_of(k.hash, 2);
	k.ts_ms = 5;
	k.sig_len = 64;
	memset(k.sig, 0x33, 64);
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), 0);

	static const char *const attacks[] = {
		"UPDATE audit SET outcome = 'failure' WHERE seq = 2",
		"UPDATE audit SET seq = 99 WHERE seq = 3",
		"DELETE FROM audit WHERE seq = 3",
		"DELETE FROM audit",
		"INSERT OR REPLACE INTO audit SELECT * FROM audit WHERE seq = 1",
		"INSERT INTO audit(seq, ts_ms, tenant_id, event, subject, object, outcome, "
		"source, device, request_id, detail, prev_hash, hash) SELECT 10, ts_ms, "
		"tenant_id, event, subject, object, outcome, source, device, request_id, "
		"detail, prev_hash, hash FROM audit WHERE seq = 1",
		"UPDATE audit_checkpoints SET ts_ms = 0",
		"DELETE FROM audit_checkpoints",
	};
	sqlite3 *db = raw_open(&f);
	for (size_t i = 0; i < BW_ARRAY_LEN(attacks); i++) {
		int rc = sqlite3_exec(db, attacks[i], NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			fprintf(stderr, "  not refused: %s\n", attacks[i]);
		CHECK_EQ(rc, SQLITE_CONSTRAINT);
	}
	sqlite3_close(db);
	CHECK_EQ(raw_i64(&f, "SELECT COUNT(*) FROM audit"), 3);
	CHECK_EQ(raw_i64(&f, "SELECT COUNT(*) FROM audit WHERE outcome = 'success'"), 3);
	CHECK_EQ(raw_i64(&f, "SELECT MAX(seq) FROM audit"), 3);
	CHECK_EQ(raw_i64(&f, "SELECT ts_ms FROM audit_checkpoints WHERE seq = 2"), 5);
	fx_close(&f);
}

TEST(checkpoints_and_purge)
{
	struct fixture f;
	struct store_audit r;
	struct store_checkpoint k, g;
	struct seqs q;
	int64_t n, first, last;
	uint8_t h[CRYPTO_HASH_LEN], want[CRYPTO_HASH_LEN];
	fx_open(&f);
	struct store *s = f.s;
	for (int64_t i = 1; i <= 10; i++) {
		fill_audit(&r, i, f.ta, "auth.login", "alice");
		CHECK_EQ(s->ops->audit_insert(s, &r), 0);
	}
	CHECK_EQ(s->ops->checkpoint_last(s, &g), BW_ENOENT);
	memset(&k, 0, sizeof k);
	k.ts_ms = 77;
	k.sig_len = 64;
	memset(k.sig, 0x44, 64);
	/* A checkpoint must name an existing record with its hash. */
	k.seq = 11;
	hash_of(k.hash, 11);
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), BW_ENOENT);
	k.seq = 3;
	hash_of(k.hash, 4);
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), BW_ECONFLICT);
	k.sig_len = CRYPTO_SIG_MAX + 1;
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), BW_ETOOBIG);
	k.sig_len = 64;
	for (int64_t i = 3; i <= 9; i += 3) {     /* 3, 6, 9 */
		k.seq = i;
		hash_of(k.hash, (int)i);
		CHECK_EQ(s->ops->checkpoint_insert(s, &k), 0);
	}
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), BW_EEXIST);
	CHECK_EQ(s->ops->checkpoint_get(s, 6, &g), 0);
	CHECK_EQ(g.seq, 6);
	CHECK_EQ(g.sig_len, 64);
	CHECK_EQ(g.ts_ms, 77);
	hash_of(want, 6);
	CHECK_MEM(g.hash, want, CRYPTO_HASH_LEN);
	CHECK_EQ(s->ops->checkpoint_get(s, 5, &g), BW_ENOENT);
	CHECK_EQ(s->ops->checkpoint_last(s, &g), 0);
	CHECK_EQ(g.seq, 9);
	int cnt = 0;
	CHECK_EQ(s->ops->checkpoint_scan(s, 4, count_ckpt_cb, &cnt), 0);
	CHECK_EQ(cnt, 2);

	/* Purge needs a checkpoint at upto_seq. */
	CHECK_EQ(s->ops->audit_purge(s, 5), BW_ENOENT);
	CHECK_EQ(s->ops->audit_count(s, &n, &first), 0);
	CHECK_EQ(n, 10);
	CHECK_EQ(s->ops->audit_purge(s, 6), 0);
	CHECK_EQ(s->ops->audit_count(s, &n, &first), 0);
	CHECK_EQ(n, 4);
	CHECK_EQ(first, 7);
	cnt = 0;
	CHECK_EQ(s->ops->checkpoint_scan(s, 0, count_ckpt_cb, &cnt), 0);
	CHECK_EQ(cnt, 2);                   /* 6 (the anchor) and 9 */
	CHECK_EQ(s->ops->checkpoint_get(s, 3, &g), BW_ENOENT);
	memset(&q, 0, sizeof q);
	CHECK_EQ(s->ops->audit_scan(s, 0, seqs_cb, &q), 0);
	CHECK_EQ(q.n, 4);
	CHECK_EQ(q.v[0], 7);
	/* The gate is closed again: raw deletes are still refused. */
	CHECK_EQ(raw_i64(&f, "SELECT COUNT(*) FROM audit_purge_gate"), 0);
	CHECK_EQ(raw_exec(&f, "DELETE FROM audit WHERE seq = 7"), SQLITE_CONSTRAINT);

	/* Purge everything up to the last record: no record is left, and the
	 * chain continues from the anchoring checkpoint. */
	k.seq = 10;
	hash_of(k.hash, 10);
	CHECK_EQ(s->ops->checkpoint_insert(s, &k), 0);
	CHECK_EQ(s->ops->audit_purge(s, 10), 0);
	CHECK_EQ(s->ops->audit_count(s, &n, &first), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(first, 0);
	CHECK_EQ(s->ops->audit_last(s, &last, h), BW_ENOENT);
	CHECK_EQ(s->ops->checkpoint_last(s, &g), 0);
	CHECK_EQ(g.seq, 10);
	hash_of(want, 10);
	CHECK_MEM(g.hash, want, CRYPTO_HASH_LEN);
	fill_audit(&r, 1, f.ta, "auth.login", "alice");
	CHECK_EQ(s->ops->audit_insert(s, &r), BW_ECONFLICT);   /* no going back */
	fill_audit(&r, 11, f.ta, "auth.login", "alice");
	CHECK_EQ(s->ops->audit_insert(s, &r), 0);
	CHECK_EQ(s->ops->audit_purge(s, 0), BW_EINVAL);
	fx_close(&f);
}

/* secure_delete: a revoked, collected ticket's bytes do not stay in the
 * database file. */
static bool file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return false;
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(buf + i, needle, m) == 0)
			return true;
	return false;
}

TEST(secure_delete)
{
	struct fixture f;
	struct store_ticket t;
	char p[PATH_MAX];
	fx_open(&f);
	struct store *s = f.s;
	fill_ticket(&t, 1, f.ta, f.ua, 5000);
	snprintf(t.ip, sizeof t.ip, "MARKER-9f3c1d-IP");
	CHECK_EQ(s->ops->ticket_insert(s, &t), 0);
	s->ops->close(s);                   /* checkpoints the WAL into the file */
	fx_path(&f, "", p, sizeof p);
	CHECK(file_contains(p, "MARKER-9f3c1d-IP"));  /* the probe works */
	CHECK_EQ(store_sqlite_open(f.dir, false, &f.s), 0);
	s = f.s;
	CHECK_EQ(s->ops->ticket_revoke(s, f.ta, t.hash, 100, "test"), 0);
	CHECK_EQ(s->ops->ticket_gc(s, 200), 0);
	s->ops->close(s);
	f.s = NULL;
	CHECK(!file_contains(p, "MARKER-9f3c1d-IP"));
	fx_close(&f);
}

static int reenter_cb(void *arg, const struct store_tenant *t)
{
	struct store *s = arg;
	(void)t;
	/* The same listing from inside its own callback is refused. */
	return s->ops->tenant_list(s, count_tenant_cb, &(int){ 0 });
}

TEST(callback_reentry_refused)
{
	struct fixture f;
	fx_open(&f);
	CHECK_EQ(f.s->ops->tenant_list(f.s, reenter_cb, f.s), BW_EBUSY);
	int n = 0;
	CHECK_EQ(f.s->ops->tenant_list(f.s, count_tenant_cb, &n), 0);   /* still usable */
	CHECK_EQ(n, 2);
	fx_close(&f);
}

/* A listing callback may write through the same handle, including ops
 * that open their own transaction (bulk disable on a tenant's users). */
struct disable_ctx { struct store *s; int n; int rc; };

static int disable_cb(void *arg, const struct store_user *u)
{
	struct disable_ctx *c = arg;
	struct store_user w = *u;
	uint8_t code[1][CRYPTO_HASH_LEN];
	w.status = USER_DISABLED;
	hash_of(code[0], (int)u->id);
	if ((c->rc = c->s->ops->user_update(c->s, &w)) != 0 ||
	    (c->rc = c->s->ops->recovery_set(c->s, u->tenant_id, u->id,
	                                     (const uint8_t (*)[CRYPTO_HASH_LEN])code, 1)) != 0)
		return c->rc;
	c->n++;
	return 0;
}

TEST(callback_may_write)
{
	struct fixture f;
	struct store_user u;
	int64_t n = -1;
	fx_open(&f);
	struct store *s = f.s;
	fill_user(&u, f.ta, "second", "member");
	CHECK_EQ(s->ops->user_create(s, &u), 0);
	struct disable_ctx c = { s, 0, 0 };
	CHECK_EQ(s->ops->user_list(s, f.ta, 0, 100, disable_cb, &c), 0);
	CHECK_EQ(c.rc, 0);
	CHECK_EQ(c.n, 2);
	CHECK_EQ(s->ops->user_count_role(s, f.ta, "member", true, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(s->ops->recovery_remaining(s, f.ta, u.id, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(s->ops->user_count_role(s, f.tb, "member", true, &n), 0);
	CHECK_EQ(n, 1);                     /* the other tenant untouched */
	fx_close(&f);
}

int main(void)
{
	/* The tests provoke refusals; show the log only when asked. */
	bw_log_level = getenv("BW_TEST_VERBOSE") ? BW_LOG_DEBUG : BW_LOG_ERR - 1;
	RUN(open_migrate_reopen);
	RUN(file_mode_0600);
	RUN(tenants);
	RUN(tenant_keys);
	RUN(users_basic);
	RUN(sizes_refused_not_truncated);
	RUN(boxes_null_vs_bytes);
	RUN(ids_never_reused);
	RUN(departments);
	RUN(cross_tenant_isolation);
	RUN(tickets);
	RUN(recovery_codes_single_use);
	RUN(devices);
	RUN(policy_versions);
	RUN(transactions);
	RUN(audit_insert_scan_query);
	RUN(audit_query_limit_clamped);
	RUN(audit_append_only_raw);
	RUN(checkpoints_and_purge);
	RUN(secure_delete);
	RUN(callback_reentry_refused);
	RUN(callback_may_write);
	return UNIT_DONE();
}
