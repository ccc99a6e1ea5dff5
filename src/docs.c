/*
 * docs.c — collaborative documents: permissions, editing sessions with
 * authoritative OT, encrypted ops/snapshots/versions through the store
 * writer, realtime frames, trash expiry (see docs.h, docs/collab.md).
 *
 * Requirement IDs: RG-DOC-a (encryption), RG-DOC-b/c (open and edits are
 * attributed; administrative acts audited in api_docs.c), RG-DOC-g
 * (versions, trash), RG-DOC-h (every operation checked), WC-STORE.
 */
#include "docs.h"
#include "api.h"
#include "chat.h"
#include "keyd.h"
#include "keys.h"
#include "ot.h"
#include "rtproto.h"
#include "util.h"
#include "writer.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SESS_BUCKETS 1024

struct doc_sub {
	uint64_t serial;
	int64_t user_id;
	int role;
	int64_t index, length;
	char name[STORE_NAME_MAX + 1];
};

struct doc_sess {
	int64_t id, tenant_id, rev;
	struct ot_delta *content;
	struct ot_delta *ring[DOCS_RING];    /* op of revision r at (r - 1) % DOCS_RING */
	int64_t ring_user[DOCS_RING];        /* who sent it, and its oid: a resent op */
	char ring_oid[DOCS_RING][RTPROTO_OID_MAX + 1];   /* is acknowledged, not applied twice */
	int ring_n;                          /* ops kept: revisions rev-ring_n+1 .. rev */
	int64_t committed;                   /* highest revision known to be stored */
	struct doc_sub *subs;
	int nsubs, cap;
	int pending;                         /* ops queued, not yet committed */
	struct doc_sess *next;
};

struct docs {
	struct srv *srv;
	struct doc_sess *buckets[SESS_BUCKETS];
	int64_t last_trash_ms;
};

static struct docs *D(struct srv *s) { return s->docs; }

static const char *const role_names[] = { "none", "viewer", "commenter", "editor", "owner" };

const char *docs_role_name(int r)
{
	return r >= DROLE_NONE && r <= DROLE_OWNER ? role_names[r] : "none";
}

int docs_role_parse(const char *s)
{
	for (int r = DROLE_VIEWER; s && r <= DROLE_OWNER; r++)
		if (strcmp(s, role_names[r]) == 0)
			return r;
	return DROLE_NONE;
}

/* ---- permissions ---------------------------------------------------------- */

int docs_role_of(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t doc_id, bool with_trash)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT owner, deleted_at FROM documents WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return DROLE_NONE;
	sqlite3_bind_int64(st, 1, doc_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	int64_t owner = -1, deleted = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		owner = sqlite3_column_int64(st, 0);
		deleted = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (owner < 0 || (deleted && !with_trash))
		return DROLE_NONE;
	if (owner == user_id)
		return DROLE_OWNER;
	if (deleted)
		return DROLE_NONE;           /* only the owner sees the trash */
	struct store_user u;
	struct store *store = s->app->s;
	if (store->ops->user_get(store, tenant_id, user_id, &u) != 0 || u.status != USER_ACTIVE)
		return DROLE_NONE;
	st = chat_rstmt(s, "SELECT role FROM doc_grants WHERE doc_id = ?1 AND tenant_id = ?2 AND"
	                " ((kind = 'user' AND subject = ?3) OR (kind = 'dept' AND subject = ?4 AND ?4 != 0)"
	                " OR kind = 'tenant')");
	if (!st)
		return DROLE_NONE;
	sqlite3_bind_int64(st, 1, doc_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	sqlite3_bind_int64(st, 3, user_id);
	sqlite3_bind_int64(st, 4, u.dept_id);
	int best = DROLE_NONE;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int r = docs_role_parse((const char *)sqlite3_column_text(st, 0));
		if (r > best)
			best = r;
	}
	sqlite3_reset(st);
	/* share links this user opened (live ones only: revoked or expired
	 * links stop granting at once) */
	st = chat_rstmt(s, "SELECT l.role FROM doc_links l JOIN doc_link_access a ON a.link_id = l.id"
	                " WHERE l.doc_id = ?1 AND l.tenant_id = ?2 AND a.user_id = ?3 AND l.revoked_at = 0"
	                " AND (l.expires_at = 0 OR l.expires_at > ?4)");
	if (st) {
		sqlite3_bind_int64(st, 1, doc_id);
		sqlite3_bind_int64(st, 2, tenant_id);
		sqlite3_bind_int64(st, 3, user_id);
		sqlite3_bind_int64(st, 4, bw_now());
		while (sqlite3_step(st) == SQLITE_ROW) {
			int r = docs_role_parse((const char *)sqlite3_column_text(st, 0));
			if (r > best)
				best = r;
		}
		sqlite3_reset(st);
	}
	return best;
}

bool docs_download_allowed(struct srv *s, int64_t tenant_id, int64_t user_id, int64_t doc_id)
{
	/* a user whose only access is a "no download" link may not export */
	sqlite3_stmt *st = chat_rstmt(s, "SELECT owner FROM documents WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, doc_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	bool owner = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == user_id;
	sqlite3_reset(st);
	if (owner)
		return true;
	struct store_user u;
	struct store *store = s->app->s;
	if (store->ops->user_get(store, tenant_id, user_id, &u) != 0)
		return false;
	st = chat_rstmt(s, "SELECT 1 FROM doc_grants WHERE doc_id = ?1 AND tenant_id = ?2 AND"
	                " ((kind = 'user' AND subject = ?3) OR (kind = 'dept' AND subject = ?4 AND ?4 != 0)"
	                " OR kind = 'tenant') UNION ALL SELECT 1 FROM doc_links l JOIN doc_link_access a"
	                " ON a.link_id = l.id WHERE l.doc_id = ?1 AND a.user_id = ?3 AND l.revoked_at = 0"
	                " AND l.no_download = 0 AND (l.expires_at = 0 OR l.expires_at > ?5)");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, doc_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	sqlite3_bind_int64(st, 3, user_id);
	sqlite3_bind_int64(st, 4, u.dept_id);
	sqlite3_bind_int64(st, 5, bw_now());
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return ok;
}

/* ---- documents as JSON -------------------------------------------------------- */

static char *open_box(struct srv *s, int64_t tenant, const char *table, int64_t row, const char *col,
                      sqlite3_stmt *st, int i, size_t *len)
{
	char *pt = NULL;
	if (sqlite3_column_type(st, i) != SQLITE_BLOB || sqlite3_column_bytes(st, i) == 0)
		return NULL;
	if (keys_open_alloc(s->app->kr, tenant, KEY_CLASS_DATA, table, row, col,
	                    sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i), &pt, len) != 0)
		return NULL;
	return pt;
}

json_t *docs_json(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t user_id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT title, folder_id, owner, classification, rev, created_at,"
	                              " updated_at, deleted_at FROM documents WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, doc_id);
	sqlite3_bind_int64(st, 2, tenant_id);
	json_t *o = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		size_t tl = 0;
		char *title = open_box(s, tenant_id, "documents", doc_id, "title", st, 0, &tl);
		struct tenant_policy p;
		accounts_policy_get(s->app, tenant_id, &p, NULL);
		int64_t deleted = sqlite3_column_int64(st, 7);
		o = json_pack("{s:I,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)doc_id,
		              "title", title ? title : "", "folder_id", (json_int_t)sqlite3_column_int64(st, 1),
		              "owner", (json_int_t)sqlite3_column_int64(st, 2),
		              "classification", (const char *)sqlite3_column_text(st, 3),
		              "rev", (json_int_t)sqlite3_column_int64(st, 4),
		              "created_at", (json_int_t)sqlite3_column_int64(st, 5),
		              "updated_at", (json_int_t)sqlite3_column_int64(st, 6),
		              "deleted_at", (json_int_t)deleted,
		              "purge_after", (json_int_t)(deleted ? deleted + (int64_t)p.doc_trash_days * 86400 : 0));
		free(title);
	}
	sqlite3_reset(st);
	if (o && user_id) {
		/* an open session may be ahead of the stored row by uncommitted ops */
		json_object_set_new(o, "my_role", json_string(docs_role_name(docs_role_of(s, tenant_id, user_id, doc_id, true))));
	}
	return o;
}

/* ---- sessions ------------------------------------------------------------------ */

static struct doc_sess **sess_slot(struct docs *d, int64_t id)
{
	struct doc_sess **pp = &d->buckets[(uint64_t)id % SESS_BUCKETS];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static void sess_free(struct doc_sess *ss)
{
	ot_free(ss->content);
	for (int i = 0; i < DOCS_RING; i++)
		ot_free(ss->ring[i]);
	free(ss->subs);
	free(ss);
}

static void ring_push(struct doc_sess *ss, int64_t rev, struct ot_delta *op)
{
	struct ot_delta **slot = &ss->ring[(rev - 1) % DOCS_RING];
	ot_free(*slot);
	*slot = op;
	ss->ring_user[(rev - 1) % DOCS_RING] = 0;
	ss->ring_oid[(rev - 1) % DOCS_RING][0] = 0;
	if (ss->ring_n < DOCS_RING)
		ss->ring_n++;
}

/* The revision a (user, oid) op already got, or 0. */
static int64_t ring_find_oid(const struct doc_sess *ss, int64_t user_id, const char *oid)
{
	for (int64_t rv = ss->rev; oid && *oid && rv > ss->rev - ss->ring_n; rv--) {
		size_t k = (size_t)((rv - 1) % DOCS_RING);
		if (ss->ring_user[k] == user_id && strcmp(ss->ring_oid[k], oid) == 0)
			return rv;
	}
	return 0;
}

static int col_name(char *out, size_t max, const char *prefix, int64_t rev)
{
	int n = snprintf(out, max, "%s.%lld", prefix, (long long)rev);
	return n > 0 && (size_t)n < max ? 0 : BW_ETOOBIG;
}

static struct ot_delta *empty_doc(void)
{
	struct ot_delta *d = NULL;
	static const char empty[] = "{\"ops\":[{\"insert\":\"\\n\"}]}";
	ot_parse_document(empty, sizeof empty - 1, &d);
	return d;
}

/* Loads a session from the store: snapshot + later ops. */
static struct doc_sess *sess_load(struct srv *s, int64_t tenant_id, int64_t id)
{
	sqlite3_stmt *st = chat_rstmt(s, "SELECT rev, snapshot, snapshot_rev FROM documents"
	                              " WHERE id = ?1 AND tenant_id = ?2 AND deleted_at = 0");
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	struct doc_sess *ss = calloc(1, sizeof *ss);
	if (!ss) {
		sqlite3_reset(st);
		return NULL;
	}
	ss->id = id;
	ss->tenant_id = tenant_id;
	int64_t rev = sqlite3_column_int64(st, 0), snap_rev = sqlite3_column_int64(st, 2);
	char col[48];
	size_t n = 0;
	col_name(col, sizeof col, "snapshot", snap_rev);
	char *snap = open_box(s, tenant_id, "documents", id, col, st, 1, &n);
	bool had_snapshot = sqlite3_column_type(st, 1) == SQLITE_BLOB;
	sqlite3_reset(st);
	if (had_snapshot && !snap) {
		log_err("docs: snapshot of document %lld does not decrypt", (long long)id);
		sess_free(ss);
		return NULL;
	}
	if (snap) {
		int rc = ot_parse_document(snap, n, &ss->content);
		sodium_memzero(snap, n);
		free(snap);
		if (rc) {
			sess_free(ss);
			return NULL;
		}
	} else {
		ss->content = empty_doc();
	}
	ss->rev = snap_rev;
	st = chat_rstmt(s, "SELECT rev, op FROM doc_ops WHERE doc_id = ?1 AND tenant_id = ?2 AND rev > ?3"
	                " ORDER BY rev");
	if (!st || !ss->content) {
		sess_free(ss);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, tenant_id);
	sqlite3_bind_int64(st, 3, snap_rev);
	bool ok = true;
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		int64_t r = sqlite3_column_int64(st, 0);
		col_name(col, sizeof col, "op", r);
		char *txt = open_box(s, tenant_id, "doc_ops", id, col, st, 1, &n);
		struct ot_delta *op = NULL, *next = NULL;
		ok = txt && r == ss->rev + 1 && ot_parse(txt, n, &op) == 0 && ot_apply(ss->content, op, &next) == 0;
		if (txt) {
			sodium_memzero(txt, n);
			free(txt);
		}
		if (!ok) {
			ot_free(op);
			break;
		}
		ot_free(ss->content);
		ss->content = next;
		ss->rev = r;
		ring_push(ss, r, op);
	}
	sqlite3_reset(st);
	ss->committed = ss->rev;
	if (!ok || ss->rev != rev) {
		log_err("docs: document %lld does not replay (at %lld of %lld)", (long long)id,
		        (long long)ss->rev, (long long)rev);
		sess_free(ss);
		return NULL;
	}
	struct docs *d = D(s);
	struct doc_sess **pp = sess_slot(d, id);
	*pp = ss;
	return ss;
}

static struct doc_sess *sess_get(struct srv *s, int64_t tenant_id, int64_t id)
{
	struct doc_sess *ss = *sess_slot(D(s), id);
	if (ss)
		return ss->tenant_id == tenant_id ? ss : NULL;
	return sess_load(s, tenant_id, id);
}

static void sess_drop(struct srv *s, int64_t id)
{
	struct doc_sess **pp = sess_slot(D(s), id);
	if (*pp) {
		struct doc_sess *ss = *pp;
		*pp = ss->next;
		sess_free(ss);
	}
}

/* Sends o to every subscriber except `except` (serial).  Steals o. */
static void sess_broadcast(struct doc_sess *ss, uint64_t except, json_t *o)
{
	struct rt_frame *f = rt_frame_json(o);
	for (int i = 0; f && i < ss->nsubs; i++) {
		if (ss->subs[i].serial == except)
			continue;
		struct ws_conn *c = ws_by_serial(ss->subs[i].user_id, ss->subs[i].serial);
		if (c)
			ws_send(c, f);
	}
	rt_frame_unref(f);
}

void docs_reset(struct srv *s, int64_t doc_id, const char *reason)
{
	struct doc_sess *ss = *sess_slot(D(s), doc_id);
	if (!ss)
		return;
	sess_broadcast(ss, 0, json_pack("{s:s,s:I,s:s}", "type", "doc.reset", "doc", (json_int_t)doc_id,
	                                 "reason", reason));
	sess_drop(s, doc_id);
}

int docs_content(struct srv *s, int64_t tenant_id, int64_t doc_id, json_t **content, int64_t *rev)
{
	struct doc_sess *ss = sess_get(s, tenant_id, doc_id);
	if (!ss)
		return BW_ENOENT;
	*content = ot_to_json(ss->content);
	*rev = ss->rev;
	return *content ? 0 : BW_ENOMEM;
}

/* ---- committing ops ------------------------------------------------------------- */

struct op_job {
	struct writer_job job;
	struct srv *srv;
	struct keyring *kr;
	int64_t tenant_id, doc_id, rev, user_id;
	uint64_t serial;                 /* author's socket (0: REST) */
	char oid[RTPROTO_OID_MAX + 1];
	uint8_t *box;                    /* sealed op */
	size_t box_len;
	char *op_json;                   /* the transformed op, for the broadcast */
	char *snapshot;                  /* content JSON when a version is due (wiped) */
	struct req *req;
	void (*req_done)(struct req *r, int rc, int64_t rev);
};

static void op_job_free(struct op_job *j)
{
	free(j->box);
	free(j->op_json);
	if (j->snapshot) {
		sodium_memzero(j->snapshot, strlen(j->snapshot));
		free(j->snapshot);
	}
	if (j->req)
		req_release(j->req);
	free(j);
}

static int op_run(struct writer_job *wj, sqlite3 *db)
{
	struct op_job *j = (struct op_job *)wj;
	sqlite3_stmt *st = writer_stmt(db, "INSERT INTO doc_ops(doc_id, rev, tenant_id, user_id, op, created_at)"
	                               " VALUES(?1,?2,?3,?4,?5,?6)");
	if (!st)
		return BW_ESTORE;
	int64_t now = bw_now();
	sqlite3_bind_int64(st, 1, j->doc_id);
	sqlite3_bind_int64(st, 2, j->rev);
	sqlite3_bind_int64(st, 3, j->tenant_id);
	sqlite3_bind_int64(st, 4, j->user_id);
	sqlite3_bind_blob(st, 5, j->box, (int)j->box_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	int rc = writer_step(db, st);
	if (rc)
		return rc;
	st = writer_stmt(db, "UPDATE documents SET rev = ?1, updated_at = ?2 WHERE id = ?3 AND tenant_id = ?4"
	                 " AND rev = ?1 - 1");
	if (st) {
		sqlite3_bind_int64(st, 1, j->rev);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, j->doc_id);
		sqlite3_bind_int64(st, 4, j->tenant_id);
	}
	if ((rc = writer_step(db, st)))
		return rc;
	if (sqlite3_changes(db) != 1)
		return BW_ECONFLICT;
	if (!j->snapshot)
		return 0;
	/* every DOCS_SNAPSHOT_EVERY revisions: a snapshot and an automatic version */
	char col[48];
	uint8_t *box = NULL;
	size_t bl = 0;
	col_name(col, sizeof col, "snapshot", j->rev);
	size_t sl = strlen(j->snapshot);
	if ((rc = keys_seal_alloc(j->kr, j->tenant_id, KEY_CLASS_DATA, "documents", j->doc_id, col,
	                          j->snapshot, sl, &box, &bl)))
		return rc;
	st = writer_stmt(db, "UPDATE documents SET snapshot = ?1, snapshot_rev = ?2 WHERE id = ?3");
	if (st) {
		sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, j->rev);
		sqlite3_bind_int64(st, 3, j->doc_id);
	}
	rc = writer_step(db, st);
	free(box);
	if (rc)
		return rc;
	st = writer_stmt(db, "INSERT INTO doc_versions(doc_id, tenant_id, rev, content, created_by, created_at)"
	                 " VALUES(?1,?2,?3,x'',?4,?5)");
	if (st) {
		sqlite3_bind_int64(st, 1, j->doc_id);
		sqlite3_bind_int64(st, 2, j->tenant_id);
		sqlite3_bind_int64(st, 3, j->rev);
		sqlite3_bind_int64(st, 4, j->user_id);
		sqlite3_bind_int64(st, 5, now);
	}
	if ((rc = writer_step(db, st)))
		return rc;
	int64_t vid = sqlite3_last_insert_rowid(db);
	if ((rc = keys_seal_alloc(j->kr, j->tenant_id, KEY_CLASS_DATA, "doc_versions", vid, "content",
	                          j->snapshot, sl, &box, &bl)))
		return rc;
	st = writer_stmt(db, "UPDATE doc_versions SET content = ?1 WHERE id = ?2");
	if (st) {
		sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, vid);
	}
	rc = writer_step(db, st);
	free(box);
	return rc;
}

static void op_done(struct writer_job *wj, int rc)
{
	struct op_job *j = (struct op_job *)wj;
	struct srv *s = j->srv;
	struct doc_sess *ss = *sess_slot(D(s), j->doc_id);
	if (ss) {
		ss->pending--;
		if (rc == 0 && j->rev > ss->committed)
			ss->committed = j->rev;
	}
	if (rc) {
		log_err("docs: revision %lld of document %lld not stored: %s", (long long)j->rev,
		        (long long)j->doc_id, bw_strerror(rc));
		struct ws_conn *c = j->serial ? ws_by_serial(j->user_id, j->serial) : NULL;
		if (c)
			ws_send_json(c, json_pack("{s:s,s:I,s:s,s:s,s:s}", "type", "doc.nack", "doc", (json_int_t)j->doc_id,
			                       "oid", j->oid, "code", "unavailable", "message", "not stored; reloading"));
		docs_reset(s, j->doc_id, "storage");
	} else {
		struct ws_conn *c = j->serial ? ws_by_serial(j->user_id, j->serial) : NULL;
		if (c)
			ws_send_json(c, json_pack("{s:s,s:I,s:s,s:I}", "type", "doc.ack", "doc", (json_int_t)j->doc_id,
			                       "oid", j->oid, "rev", (json_int_t)j->rev));
		if (ss) {
			json_t *op = json_loads(j->op_json, 0, NULL);
			sess_broadcast(ss, j->serial, json_pack("{s:s,s:I,s:I,s:o,s:I}", "type", "doc.op",
			               "doc", (json_int_t)j->doc_id, "rev", (json_int_t)j->rev, "op", op ? op : json_null(),
			               "user", (json_int_t)j->user_id));
		}
	}
	if (j->req && j->req_done)
		j->req_done(j->req, rc, j->rev);
	op_job_free(j);
}

/* Transforms a client op based on `base` to the session's head, applies it
 * and queues its commit.  code and msg describe a refusal. */
static int sess_submit(struct srv *s, struct doc_sess *ss, int64_t user_id, uint64_t serial,
                       const char *oid, int64_t base, struct ot_delta *op, struct req *r,
                       void (*req_done)(struct req *, int, int64_t), const char **code, const char **msg)
{
	if (base > ss->rev || base < ss->rev - ss->ring_n) {
		*code = "unknown_revision";
		*msg = "the revision is unknown or too old; reload the document";
		return BW_ECONFLICT;
	}
	struct ot_delta *cur = op, *next = NULL;
	for (int64_t rv = base + 1; rv <= ss->rev; rv++) {
		if (ot_transform(ss->ring[(rv - 1) % DOCS_RING], cur, true, &next) != 0) {
			if (cur != op)
				ot_free(cur);
			*code = "invalid_op";
			*msg = "the operation cannot be transformed";
			return BW_EINVAL;
		}
		if (cur != op)
			ot_free(cur);
		cur = next;
	}
	struct ot_delta *applied = NULL;
	int rc = ot_apply(ss->content, cur, &applied);
	if (rc) {
		if (cur != op)
			ot_free(cur);
		*code = rc == BW_ETOOBIG ? "too_large" : "invalid_op";
		*msg = rc == BW_ETOOBIG ? "the document would exceed its size limit"
		                        : "the operation does not fit the document";
		return rc;
	}
	struct op_job *j = calloc(1, sizeof *j);
	char *txt = ot_dump(cur);
	char col[48];
	int64_t rev = ss->rev + 1;
	col_name(col, sizeof col, "op", rev);
	if (!j || !txt ||
	    keys_seal_alloc(s->app->kr, ss->tenant_id, KEY_CLASS_DATA, "doc_ops", ss->id, col, txt, strlen(txt),
	                    &j->box, &j->box_len) != 0) {
		free(txt);
		if (j)
			op_job_free(j);
		ot_free(applied);
		if (cur != op)
			ot_free(cur);
		*code = "unavailable";
		*msg = "cannot store the operation";
		return BW_ENOMEM;
	}
	j->job.run = op_run;
	j->job.done = op_done;
	j->srv = s;
	j->kr = s->app->kr;
	j->tenant_id = ss->tenant_id;
	j->doc_id = ss->id;
	j->rev = rev;
	j->user_id = user_id;
	j->serial = serial;
	snprintf(j->oid, sizeof j->oid, "%s", oid ? oid : "");
	j->op_json = txt;
	if (rev % DOCS_SNAPSHOT_EVERY == 0)
		j->snapshot = ot_dump(applied);
	if (r) {
		j->req = r;
		req_hold(r);
		j->req_done = req_done;
	}
	if (writer_submit(s->writer, &j->job) != 0) {
		op_job_free(j);
		ot_free(applied);
		if (cur != op)
			ot_free(cur);
		*code = "unavailable";
		*msg = "the server is busy; try again";
		return BW_EBUSY;
	}
	/* accepted: the session moves ahead; cursors follow the change */
	ot_free(ss->content);
	ss->content = applied;
	ss->rev = rev;
	ss->pending++;
	ring_push(ss, rev, cur == op ? NULL : cur);
	if (cur == op) {
		/* the ring owns its ops: keep a copy of the caller's */
		struct ot_delta *copy = NULL;
		if (ot_parse(txt, strlen(txt), &copy) == 0)
			ss->ring[(rev - 1) % DOCS_RING] = copy;
	}
	ss->ring_user[(rev - 1) % DOCS_RING] = user_id;
	snprintf(ss->ring_oid[(rev - 1) % DOCS_RING], RTPROTO_OID_MAX + 1, "%s", oid ? oid : "");
	for (int i = 0; i < ss->nsubs; i++) {
		struct doc_sub *sb = &ss->subs[i];
		const struct ot_delta *ch = ss->ring[(rev - 1) % DOCS_RING];
		if (!ch)
			continue;
		int64_t end = ot_transform_position(ch, sb->index + sb->length, sb->user_id != user_id);
		sb->index = ot_transform_position(ch, sb->index, sb->user_id != user_id);
		sb->length = end > sb->index ? end - sb->index : 0;
	}
	return 0;
}

/* ---- replacing the content (version restore) -------------------------------------- */

int docs_set_content(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t user_id,
                     json_t *content, struct req *r, void (*done)(struct req *r, int rc, int64_t rev))
{
	struct doc_sess *ss = sess_get(s, tenant_id, doc_id);
	if (!ss)
		return BW_ENOENT;
	struct ot_delta *want = NULL, *del = NULL, *change = NULL;
	int rc = ot_parse_document_json(json_is_object(content) ? json_object_get(content, "ops") : content, &want);
	if (rc)
		return rc;
	/* the change: delete everything, insert the wanted content */
	json_t *dj = json_pack("{s:[{s:I}]}", "ops", "delete", (json_int_t)ot_target_len(ss->content));
	rc = dj ? ot_parse_json(json_object_get(dj, "ops"), &del) : BW_ENOMEM;
	json_decref(dj);
	if (rc == 0)
		rc = ot_compose(del, want, &change);
	ot_free(del);
	ot_free(want);
	if (rc)
		return rc;
	const char *code, *msg;
	rc = sess_submit(s, ss, user_id, 0, "restore", ss->rev, change, r, done, &code, &msg);
	ot_free(change);
	return rc;
}

/* ---- realtime frames ------------------------------------------------------------- */

static void ws_doc_error(struct ws_conn *c, int64_t doc, const char *type, const char *oid,
                         const char *code, const char *msg)
{
	json_t *o = json_pack("{s:s,s:I,s:s,s:s}", "type", type, "doc", (json_int_t)doc, "code", code,
	                      "message", msg);
	if (o && oid)
		json_object_set_new(o, "oid", json_string(oid));
	ws_send_json(c, o);
}

static struct doc_sub *sub_find(struct doc_sess *ss, uint64_t serial)
{
	for (int i = 0; i < ss->nsubs; i++)
		if (ss->subs[i].serial == serial)
			return &ss->subs[i];
	return NULL;
}

static void sub_remove(struct srv *s, struct doc_sess *ss, uint64_t serial)
{
	for (int i = 0; i < ss->nsubs; i++) {
		if (ss->subs[i].serial != serial)
			continue;
		int64_t user = ss->subs[i].user_id;
		ss->subs[i] = ss->subs[--ss->nsubs];
		sess_broadcast(ss, 0, json_pack("{s:s,s:I,s:I}", "type", "doc.left", "doc", (json_int_t)ss->id,
		                                "user", (json_int_t)user));
		break;
	}
	if (ss->nsubs == 0 && ss->pending == 0)
		sess_drop(s, ss->id);
}

static void doc_open(struct srv *s, struct ws_conn *c, int64_t doc)
{
	int role = docs_role_of(s, c->tenant_id, c->user_id, doc, false);
	if (role == DROLE_NONE) {
		ws_doc_error(c, doc, "doc.error", NULL, "not_found", "no such document");
		return;
	}
	struct doc_sess *ss = sess_get(s, c->tenant_id, doc);
	if (!ss) {
		ws_doc_error(c, doc, "doc.error", NULL, "unavailable", "the document cannot be loaded");
		return;
	}
	struct doc_sub *sb = sub_find(ss, c->serial);
	if (!sb) {
		if (ss->nsubs == ss->cap) {
			int cap = ss->cap ? ss->cap * 2 : 4;
			if (cap > 4096) {
				ws_doc_error(c, doc, "doc.error", NULL, "too_many_editors", "too many people have this document open");
				return;
			}
			struct doc_sub *n = realloc(ss->subs, (size_t)cap * sizeof *n);
			if (!n)
				return;
			ss->subs = n;
			ss->cap = cap;
		}
		sb = &ss->subs[ss->nsubs++];
		memset(sb, 0, sizeof *sb);
		sb->serial = c->serial;
		sb->user_id = c->user_id;
		struct store_user u;
		struct store *st = s->app->s;
		if (st->ops->user_get(st, c->tenant_id, c->user_id, &u) == 0)
			snprintf(sb->name, sizeof sb->name, "%s", u.username);
	}
	sb->role = role;
	json_t *peers = json_array();
	for (int i = 0; i < ss->nsubs; i++)
		if (ss->subs[i].serial != c->serial)
			json_array_append_new(peers, json_pack("{s:I,s:s,s:I,s:I}", "user", (json_int_t)ss->subs[i].user_id,
			                      "name", ss->subs[i].name, "index", (json_int_t)ss->subs[i].index,
			                      "length", (json_int_t)ss->subs[i].length));
	ws_send_json(c, json_pack("{s:s,s:I,s:I,s:o,s:s,s:o}", "type", "doc.state", "doc", (json_int_t)doc,
	                       "rev", (json_int_t)ss->rev, "content", ot_to_json(ss->content),
	                       "role", docs_role_name(role), "peers", peers));
	char object[32];
	snprintf(object, sizeof object, "document:%lld", (long long)doc);
	struct store_user u;
	struct store_tenant t;
	struct actor ac;
	struct store *st = s->app->s;
	if (st->ops->user_get(st, c->tenant_id, c->user_id, &u) == 0 &&
	    st->ops->tenant_get(st, c->tenant_id, &t) == 0) {
		actor_user(&ac, &t, &u);
		ac.source = "websocket";
		app_audit(s->app, &ac, c->tenant_id, "doc.open", object, "success", "{\"via\":\"editor\"}");
	}
}

void docs_ws_frame(struct srv *s, struct ws_conn *c, const struct rt_in *in)
{
	if (!s->docs)
		return;
	struct doc_sess *ss = *sess_slot(D(s), in->doc);
	if (ss && ss->tenant_id != c->tenant_id)
		ss = NULL;
	switch (in->type) {
	case RT_DOC_OPEN:
		doc_open(s, c, in->doc);
		return;
	case RT_DOC_CLOSE:
		if (ss)
			sub_remove(s, ss, c->serial);
		return;
	case RT_DOC_CURSOR: {
		struct doc_sub *sb = ss ? sub_find(ss, c->serial) : NULL;
		if (!sb) {
			ws_doc_error(c, in->doc, "doc.error", NULL, "not_open", "open the document first");
			return;
		}
		int64_t len = ot_target_len(ss->content);
		sb->index = in->index < len ? in->index : len;
		sb->length = in->length < len - sb->index ? in->length : len - sb->index;
		sess_broadcast(ss, c->serial, json_pack("{s:s,s:I,s:I,s:s,s:I,s:I}", "type", "doc.cursor",
		               "doc", (json_int_t)in->doc, "user", (json_int_t)c->user_id, "name", sb->name,
		               "index", (json_int_t)sb->index, "length", (json_int_t)sb->length));
		return;
	}
	case RT_DOC_OP: {
		struct doc_sub *sb = ss ? sub_find(ss, c->serial) : NULL;
		if (!sb) {
			ws_doc_error(c, in->doc, "doc.nack", in->oid, "not_open", "open the document first");
			return;
		}
		/* the role is re-read: a permission change applies to the next op */
		sb->role = docs_role_of(s, c->tenant_id, c->user_id, in->doc, false);
		if (sb->role < DROLE_EDITOR) {
			ws_doc_error(c, in->doc, "doc.nack", in->oid, "forbidden", "you may not edit this document");
			return;
		}
		/* an op resent after a reconnect: acknowledge, never apply twice */
		int64_t done = ring_find_oid(ss, c->user_id, in->oid);
		if (done) {
			if (done <= ss->committed)
				ws_send_json(c, json_pack("{s:s,s:I,s:s,s:I}", "type", "doc.ack", "doc", (json_int_t)in->doc,
				                       "oid", in->oid, "rev", (json_int_t)done));
			else
				ws_doc_error(c, in->doc, "doc.nack", in->oid, "unavailable", "still being stored; send it again");
			return;
		}
		struct ot_delta *op = NULL;
		json_t *ops = json_is_object(in->op) ? json_object_get(in->op, "ops") : in->op;
		int rc = ot_parse_json(ops, &op);
		if (rc) {
			ws_doc_error(c, in->doc, "doc.nack", in->oid, rc == BW_ETOOBIG ? "too_large" : "invalid_op",
			             rc == BW_ETOOBIG ? "the operation is too large" : "the operation is not a valid delta");
			return;
		}
		const char *code = NULL, *msg = NULL;
		rc = sess_submit(s, ss, c->user_id, c->serial, in->oid, in->rev, op, NULL, NULL, &code, &msg);
		ot_free(op);
		if (rc)
			ws_doc_error(c, in->doc, "doc.nack", in->oid, code, msg);
		return;
	}
	default:
		return;
	}
}

void docs_ws_closed(struct srv *s, struct ws_conn *c)
{
	struct docs *d = s ? D(s) : NULL;
	if (!d)
		return;
	for (int b = 0; b < SESS_BUCKETS; b++) {
		struct doc_sess *ss = d->buckets[b];
		while (ss) {
			struct doc_sess *next = ss->next;
			if (sub_find(ss, c->serial))
				sub_remove(s, ss, c->serial);
			ss = next;
		}
	}
}

/* ---- trash expiry ------------------------------------------------------------------ */

int docs_destroy(struct srv *s, int64_t tenant_id, int64_t doc_id);

struct trash_walk { struct srv *s; };

static int trash_tenant(void *arg, const struct store_tenant *t)
{
	struct trash_walk *w = arg;
	struct tenant_policy p;
	accounts_policy_get(w->s->app, t->id, &p, NULL);
	sqlite3_stmt *st = chat_rstmt(w->s, "SELECT id FROM documents WHERE tenant_id = ?1 AND deleted_at != 0"
	                              " AND deleted_at < ?2 LIMIT 100");
	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, t->id);
	sqlite3_bind_int64(st, 2, bw_now() - (int64_t)p.doc_trash_days * 86400);
	int64_t ids[100];
	int n = 0;
	while (n < 100 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	struct actor ac;
	actor_system(&ac, "system:trash");
	ac.source = "local";
	for (int i = 0; i < n; i++) {
		int rc = docs_destroy(w->s, t->id, ids[i]);
		char object[32];
		snprintf(object, sizeof object, "document:%lld", (long long)ids[i]);
		app_audit(w->s->app, &ac, t->id, "doc.purge", object, rc ? "failure" : "success",
		          "{\"reason\":\"trash period ended\"}");
	}
	return 0;
}

void docs_tick(struct srv *s)
{
	struct docs *d = D(s);
	if (!d)
		return;
#ifdef BW_TESTING
	const int64_t every = 2000;
#else
	const int64_t every = 60000;
#endif
	int64_t mono = bw_mono_ms();
	if (mono - d->last_trash_ms < every)
		return;
	d->last_trash_ms = mono;
	struct trash_walk w = { s };
	s->app->s->ops->tenant_list(s->app->s, trash_tenant, &w);
}

/* Destroys a document and everything of it, now (loop thread, one
 * transaction on the loop's connection: nothing is member-visible). */
int docs_destroy(struct srv *s, int64_t tenant_id, int64_t doc_id)
{
	docs_reset(s, doc_id, "deleted");
	static const char *const del[] = {
		"DELETE FROM doc_ops WHERE doc_id = ?1 AND tenant_id = ?2",
		"DELETE FROM doc_comments WHERE doc_id = ?1 AND tenant_id = ?2",
		"DELETE FROM doc_link_access WHERE link_id IN (SELECT id FROM doc_links WHERE doc_id = ?1 AND tenant_id = ?2)",
		"DELETE FROM doc_links WHERE doc_id = ?1 AND tenant_id = ?2",
		"DELETE FROM doc_versions WHERE doc_id = ?1 AND tenant_id = ?2",
		"DELETE FROM doc_grants WHERE doc_id = ?1 AND tenant_id = ?2",
		"DELETE FROM documents WHERE id = ?1 AND tenant_id = ?2",
	};
	struct store *st = s->app->s;
	int rc = st->ops->begin(st, true);
	for (size_t i = 0; rc == 0 && i < BW_ARRAY_LEN(del); i++) {
		sqlite3_stmt *q = chat_rstmt(s, del[i]);
		if (!q) {
			rc = BW_ESTORE;
			break;
		}
		sqlite3_bind_int64(q, 1, doc_id);
		sqlite3_bind_int64(q, 2, tenant_id);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = BW_ESTORE;
		sqlite3_reset(q);
	}
	if (rc) {
		st->ops->rollback(st);
		return rc;
	}
	return st->ops->commit(st);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int docs_open(struct srv *s, struct docs **out)
{
	struct docs *d = calloc(1, sizeof *d);
	if (!d)
		return BW_ENOMEM;
	d->srv = s;
	*out = d;
	return 0;
}

void docs_close(struct docs *d)
{
	if (!d)
		return;
	for (int b = 0; b < SESS_BUCKETS; b++)
		while (d->buckets[b]) {
			struct doc_sess *ss = d->buckets[b];
			d->buckets[b] = ss->next;
			sess_free(ss);
		}
	d->srv->docs = NULL;
	free(d);
}

/* ---- comment anchors and notifications ---------------------------------------------- */

static void anchor_step(const struct ot_delta *op, int64_t *index, int64_t *length)
{
	int64_t end = ot_transform_position(op, *index + *length, true);
	*index = ot_transform_position(op, *index, false);
	*length = end > *index ? end - *index : 0;
}

bool docs_anchor_now(struct srv *s, int64_t tenant_id, int64_t doc_id, int64_t *index, int64_t *length,
                     int64_t *rev)
{
	struct doc_sess *ss = sess_get(s, tenant_id, doc_id);
	if (!ss)
		return false;
	if (*rev >= ss->rev)
		return true;
	int64_t r = *rev;
	if (r < ss->rev - ss->ring_n) {
		/* older than the ring: replay the stored ops (bounded) */
		if (ss->rev - r > 20000)
			return false;
		sqlite3_stmt *st = chat_rstmt(s, "SELECT rev, op FROM doc_ops WHERE doc_id = ?1 AND tenant_id = ?2"
		                              " AND rev > ?3 AND rev <= ?4 ORDER BY rev");
		if (!st)
			return false;
		sqlite3_bind_int64(st, 1, doc_id);
		sqlite3_bind_int64(st, 2, tenant_id);
		sqlite3_bind_int64(st, 3, r);
		sqlite3_bind_int64(st, 4, ss->rev - ss->ring_n);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int64_t rv = sqlite3_column_int64(st, 0);
			char col[48];
			size_t n = 0;
			col_name(col, sizeof col, "op", rv);
			char *txt = open_box(s, tenant_id, "doc_ops", doc_id, col, st, 1, &n);
			struct ot_delta *op = NULL;
			if (!txt || rv != r + 1 || ot_parse(txt, n, &op) != 0) {
				free(txt);
				sqlite3_reset(st);
				return false;
			}
			anchor_step(op, index, length);
			ot_free(op);
			free(txt);
			r = rv;
		}
		sqlite3_reset(st);
		if (r != ss->rev - ss->ring_n)
			return false;
	}
	for (int64_t rv = r + 1; rv <= ss->rev; rv++) {
		const struct ot_delta *op = ss->ring[(rv - 1) % DOCS_RING];
		if (!op)
			return false;
		anchor_step(op, index, length);
	}
	*rev = ss->rev;
	return true;
}

void docs_notify(struct srv *s, int64_t doc_id, json_t *o)
{
	struct doc_sess *ss = s->docs ? *sess_slot(D(s), doc_id) : NULL;
	if (!ss) {
		json_decref(o);
		return;
	}
	sess_broadcast(ss, 0, o);
}
