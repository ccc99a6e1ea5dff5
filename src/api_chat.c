/*
 * api_chat.c — the chat REST endpoints: conversations, members and group
 * security settings, history, messages (edit, recall, reactions, forward),
 * read pointers, search, legal holds and the link blocklist.
 *
 * Requirement IDs: RG-IM-a (encrypted at rest, via chat.c), RG-IM-b (group
 * settings: invite, guests, approval, history, forward/copy, watermark,
 * limit, mute, remove, transfer, dissolve — every change audited), RG-IM-c
 * (recall: sender within the tenant's window, owners/admins any; content
 * destroyed), RG-WEB-b / IN-PHISH / MI-3 (blocklist managed by security
 * administrators), RG-DATA-b.
 *
 * Every handler is reached through api.c's route table (ticket, CSRF,
 * PERM_CHAT or PERM_CHAT_ADMIN, tenant); here each checks membership of the
 * conversation it names, and a conversation of another tenant or one the
 * caller may not see is "not found".  Changes go through the store writer
 * (chat_op) so their events keep seq order; the response follows commit.
 */
#include "api.h"
#include "chat.h"
#include "keyd.h"
#include "keys.h"
#include "linkcheck.h"
#include "search.h"
#include "util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBERS_ADD_MAX 1000          /* ids in one request */

enum conv_action {
	CA_CREATE = 1, CA_UPDATE, CA_DISSOLVE, CA_ADD, CA_JOIN, CA_MEMBER, CA_REMOVE,
	CA_TRANSFER, CA_HOLD,
};

struct conv_ctx {
	int action;
	struct keyring *kr;
	int64_t conv_id;
	int kind;
	char *settings;                   /* JSON (create / update) */
	char *name, *topic;               /* plaintext, sealed by the writer; wiped */
	bool set_name, set_topic;
	char direct_key[48];
	int64_t *users;
	int nusers;
	bool pending;                     /* added as pending (join approval) */
	int64_t target;
	int new_role;                     /* 0: unchanged */
	bool set_mute, set_poster, poster, approve, hold;
	int64_t muted_until;
	int64_t existing;                 /* direct chat that already existed */
	char audit_event[48];
	char audit_detail[600];
};

static void conv_ctx_free(void *p)
{
	struct conv_ctx *x = p;
	if (x->name) {
		sodium_memzero(x->name, strlen(x->name));
		free(x->name);
	}
	if (x->topic) {
		sodium_memzero(x->topic, strlen(x->topic));
		free(x->topic);
	}
	free(x->settings);
	free(x->users);
	free(x);
}

/* ---- writer side ---------------------------------------------------------- */

static int seal_col(struct chat_op *op, sqlite3 *db, struct conv_ctx *x, const char *col,
                    const char *pt)
{
	uint8_t *box = NULL;
	size_t bl = 0;
	if (pt && *pt) {
		int rc = keys_seal_alloc(x->kr, op->tenant_id, KEY_CLASS_DATA, "conversations", x->conv_id,
		                         col, pt, strlen(pt), &box, &bl);
		if (rc)
			return rc;
	}
	sqlite3_stmt *st = writer_stmt(db, strcmp(col, "name") == 0
		? "UPDATE conversations SET name = ?1 WHERE id = ?2 AND tenant_id = ?3"
		: "UPDATE conversations SET topic = ?1 WHERE id = ?2 AND tenant_id = ?3");
	if (st) {
		if (box)
			sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, x->conv_id);
		sqlite3_bind_int64(st, 3, op->tenant_id);
	}
	int rc = writer_step(db, st);
	free(box);
	return rc;
}

static int member_insert(struct chat_op *op, sqlite3 *db, struct conv_ctx *x, int64_t user,
                         const char *role, bool pending)
{
	sqlite3_stmt *st = writer_stmt(db, "INSERT INTO conv_members(conv_id, user_id, tenant_id, role,"
	    " status, joined_at, joined_seq, joined_msg) SELECT ?1, ?2, ?3, ?4, ?5, ?6, -1,"
	    " last_msg_id FROM conversations WHERE id = ?1 AND tenant_id = ?3"
	    " ON CONFLICT(conv_id, user_id) DO UPDATE SET status = excluded.status"
	    " WHERE status = 'pending' AND excluded.status = 'active'");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->conv_id);
	sqlite3_bind_int64(st, 2, user);
	sqlite3_bind_int64(st, 3, op->tenant_id);
	sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, pending ? "pending" : "active", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, bw_now());
	return writer_step(db, st);
}

/* Members inserted with joined_seq -1 see events from this one on. */
static int joined_fix(struct chat_op *op, sqlite3 *db, struct conv_ctx *x, int64_t seq)
{
	sqlite3_stmt *st = writer_stmt(db, "UPDATE conv_members SET joined_seq = ?1"
	                               " WHERE conv_id = ?2 AND joined_seq = -1");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, seq - 1);
	sqlite3_bind_int64(st, 2, x->conv_id);
	return writer_step(db, st);
}

static int conv_run(struct chat_op *op, sqlite3 *db)
{
	struct conv_ctx *x = op->ctx;
	sqlite3_stmt *st;
	int rc = 0;
	char detail[160];
	switch (x->action) {
	case CA_CREATE:
		if (x->direct_key[0]) {
			st = writer_stmt(db, "SELECT id FROM conversations WHERE tenant_id = ?1 AND direct_key = ?2");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, op->tenant_id);
			sqlite3_bind_text(st, 2, x->direct_key, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				x->existing = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
			if (x->existing) {
				x->conv_id = x->existing;
				return 0;
			}
		}
		st = writer_stmt(db, "INSERT INTO conversations(tenant_id, kind, direct_key, settings,"
		                 " created_by, created_at, last_activity) VALUES(?1,?2,?3,?4,?5,?6,?6)");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, op->tenant_id);
		sqlite3_bind_text(st, 2, chat_kind_name(x->kind), -1, SQLITE_STATIC);
		if (x->direct_key[0])
			sqlite3_bind_text(st, 3, x->direct_key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, x->settings, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, op->user_id);
		sqlite3_bind_int64(st, 6, bw_now());
		if ((rc = writer_step(db, st)))
			return rc;
		x->conv_id = sqlite3_last_insert_rowid(db);
		if ((x->name && (rc = seal_col(op, db, x, "name", x->name))) ||
		    (x->topic && (rc = seal_col(op, db, x, "topic", x->topic))))
			return rc;
		if ((rc = member_insert(op, db, x, op->user_id,
		                        x->kind == CHAT_DIRECT ? "member" : "owner", false)))
			return rc;
		for (int i = 0; i < x->nusers; i++)
			if (x->users[i] != op->user_id &&
			    (rc = member_insert(op, db, x, x->users[i], "member", false)))
				return rc;
		if ((rc = chat_op_event(op, db, x->conv_id, 0, "conv.new", 0, NULL)))
			return rc;
		return joined_fix(op, db, x, op->ev[op->nev - 1].seq);
	case CA_UPDATE:
		if (x->settings) {
			st = writer_stmt(db, "UPDATE conversations SET settings = ?1 WHERE id = ?2 AND tenant_id = ?3");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_text(st, 1, x->settings, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, x->conv_id);
			sqlite3_bind_int64(st, 3, op->tenant_id);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		if ((x->set_name && (rc = seal_col(op, db, x, "name", x->name))) ||
		    (x->set_topic && (rc = seal_col(op, db, x, "topic", x->topic))))
			return rc;
		return chat_op_event(op, db, x->conv_id, 0, "conv.update", 0, NULL);
	case CA_HOLD:
		st = writer_stmt(db, "UPDATE conversations SET legal_hold = ?1 WHERE id = ?2 AND tenant_id = ?3");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, x->hold);
		sqlite3_bind_int64(st, 2, x->conv_id);
		sqlite3_bind_int64(st, 3, op->tenant_id);
		if ((rc = writer_step(db, st)))
			return rc;
		return chat_op_event(op, db, x->conv_id, 0, "conv.update", 0, NULL);
	case CA_DISSOLVE:
		st = writer_stmt(db, "UPDATE conversations SET dissolved_at = ?1 WHERE id = ?2 AND tenant_id = ?3"
		                 " AND dissolved_at = 0");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, bw_now());
		sqlite3_bind_int64(st, 2, x->conv_id);
		sqlite3_bind_int64(st, 3, op->tenant_id);
		if ((rc = writer_step(db, st)))
			return rc;
		return chat_op_event(op, db, x->conv_id, 0, "conv.dissolve", 0, NULL);
	case CA_ADD:
	case CA_JOIN:
		for (int i = 0; i < x->nusers; i++)
			if ((rc = member_insert(op, db, x, x->users[i], "member", x->pending)))
				return rc;
		snprintf(detail, sizeof detail, "{\"change\":\"%s\",\"count\":%d,\"user_id\":%lld}",
		         x->pending ? "pending" : "joined", x->nusers,
		         (long long)(x->nusers ? x->users[0] : 0));
		if ((rc = chat_op_event(op, db, x->conv_id, 0, "conv.member", 0, detail)))
			return rc;
		return joined_fix(op, db, x, op->ev[op->nev - 1].seq);
	case CA_MEMBER:
		if (x->approve) {
			st = writer_stmt(db, "UPDATE conv_members SET status = 'active', joined_seq = -1,"
			                 " joined_msg = (SELECT last_msg_id FROM conversations WHERE id = ?1)"
			                 " WHERE conv_id = ?1 AND user_id = ?2 AND status = 'pending'");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, x->conv_id);
			sqlite3_bind_int64(st, 2, x->target);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		if (x->new_role) {
			st = writer_stmt(db, "UPDATE conv_members SET role = ?1 WHERE conv_id = ?2 AND user_id = ?3");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_text(st, 1, chat_role_name(x->new_role), -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, x->conv_id);
			sqlite3_bind_int64(st, 3, x->target);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		if (x->set_mute) {
			st = writer_stmt(db, "UPDATE conv_members SET muted_until = ?1 WHERE conv_id = ?2 AND user_id = ?3");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, x->muted_until);
			sqlite3_bind_int64(st, 2, x->conv_id);
			sqlite3_bind_int64(st, 3, x->target);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		if (x->set_poster) {
			st = writer_stmt(db, "UPDATE conv_members SET poster = ?1 WHERE conv_id = ?2 AND user_id = ?3");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, x->poster);
			sqlite3_bind_int64(st, 2, x->conv_id);
			sqlite3_bind_int64(st, 3, x->target);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		snprintf(detail, sizeof detail, "{\"change\":\"%s\",\"user_id\":%lld}",
		         x->approve ? "joined" : "updated", (long long)x->target);
		if ((rc = chat_op_event(op, db, x->conv_id, 0, "conv.member", 0, detail)))
			return rc;
		return x->approve ? joined_fix(op, db, x, op->ev[op->nev - 1].seq) : 0;
	case CA_REMOVE:
		st = writer_stmt(db, "DELETE FROM conv_members WHERE conv_id = ?1 AND user_id = ?2 AND tenant_id = ?3");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, x->conv_id);
		sqlite3_bind_int64(st, 2, x->target);
		sqlite3_bind_int64(st, 3, op->tenant_id);
		if ((rc = writer_step(db, st)))
			return rc;
		snprintf(detail, sizeof detail, "{\"change\":\"%s\",\"user_id\":%lld}",
		         x->target == op->user_id ? "left" : "removed", (long long)x->target);
		if ((rc = chat_op_event(op, db, x->conv_id, 0, "conv.member", 0, detail)))
			return rc;
		return chat_op_event(op, db, x->conv_id, x->target, "conv.leave", 0, NULL);
	case CA_TRANSFER:
		st = writer_stmt(db, "UPDATE conv_members SET role = CASE user_id WHEN ?2 THEN 'owner'"
		                 " ELSE 'admin' END WHERE conv_id = ?1 AND user_id IN (?2, ?3)");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, x->conv_id);
		sqlite3_bind_int64(st, 2, x->target);
		sqlite3_bind_int64(st, 3, op->user_id);
		if ((rc = writer_step(db, st)))
			return rc;
		return chat_op_event(op, db, x->conv_id, 0, "conv.update", 0, NULL);
	}
	return BW_EINVAL;
}

static void conv_finish(struct chat_op *op, int rc)
{
	struct conv_ctx *x = op->ctx;
	struct req *r = op->req;
	if (!r)
		return;
	char object[32];
	snprintf(object, sizeof object, "conversation:%lld", (long long)x->conv_id);
	if (x->audit_event[0])
		req_audit(r, x->audit_event, object, rc ? "failure" : "success",
		          x->audit_detail[0] ? x->audit_detail : NULL);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	struct chat_conv *cv;
	switch (x->action) {
	case CA_CREATE:
	case CA_UPDATE:
	case CA_TRANSFER:
	case CA_HOLD:
		cv = chat_conv_get(r->srv, op->tenant_id, x->conv_id);
		if (!cv) {
			api_store_error(r, BW_ENOENT);
			return;
		}
		req_json(r, x->action == CA_CREATE && !x->existing ? 201 : 200,
		         json_pack("{s:o}", "conversation", chat_conv_json(r->srv, cv, op->user_id)));
		return;
	case CA_ADD: {
		json_t *ids = json_array();
		for (int i = 0; i < x->nusers; i++)
			json_array_append_new(ids, json_integer(x->users[i]));
		req_json(r, 200, x->pending ? json_pack("{s:[],s:o}", "added", "pending", ids)
		                            : json_pack("{s:o,s:[]}", "added", ids, "pending"));
		return;
	}
	case CA_JOIN:
		req_json(r, 200, json_pack("{s:s}", "status", x->pending ? "pending" : "active"));
		return;
	case CA_MEMBER:
		req_json(r, 200, json_pack("{s:I}", "user_id", (json_int_t)x->target));
		return;
	default:
		req_empty(r, 204);
	}
}

static struct conv_ctx *conv_ctx_new(struct req *r, int action, int64_t conv_id)
{
	struct conv_ctx *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return NULL;
	x->action = action;
	x->kr = r->srv->app->kr;
	x->conv_id = conv_id;
	return x;
}

/* Submits the op; answers 503 itself when the writer is full. */
static void conv_submit(struct req *r, struct conv_ctx *x)
{
	struct chat_op *op = chat_op_new(r->srv, r, r->user.tenant_id, r->user.id, conv_run, conv_finish);
	if (!op) {
		conv_ctx_free(x);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	op->ctx = x;
	op->free_ctx = conv_ctx_free;
	if (x->conv_id)
		op->forget[op->nforget++] = x->conv_id;
	chat_op_submit(op);
}

/* ---- loading and checks ------------------------------------------------------ */


/* The conversation named in the path, if the caller is an active member
 * (or, with any_member, also pending / a channel they may see). */
static struct chat_conv *load_conv(struct req *r, bool need_active, struct chat_member **me)
{
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return NULL;
	struct chat_conv *cv = chat_conv_get(r->srv, r->user.tenant_id, id);
	struct chat_member *m = cv ? chat_member_find(cv, r->user.id) : NULL;
	bool visible = cv && !cv->dissolved_at &&
	               ((m && (m->status == CSTAT_ACTIVE || !need_active)) ||
	                (!need_active && cv->kind == CHAT_CHANNEL));
	if (!visible) {
		req_error(r, 404, "not_found", "no such conversation");
		return NULL;
	}
	if (me)
		*me = m && m->status == CSTAT_ACTIVE ? m : NULL;
	return cv;
}

static bool is_admin(const struct chat_member *m)
{
	return m && m->role >= CROLE_ADMIN;
}

static void audit_refusal(struct req *r, const char *event, struct chat_conv *cv, const char *why)
{
	char object[32], detail[128];
	snprintf(object, sizeof object, "conversation:%lld", (long long)(cv ? cv->id : 0));
	snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", why);
	req_audit(r, event, object, "denied", detail);
}

/* Active users of the caller's tenant; guests only when allowed. */
static int check_users(struct req *r, const int64_t *ids, int n, bool guests_ok, const char **why)
{
	struct store *st = r->srv->app->s;
	for (int i = 0; i < n; i++) {
		struct store_user u;
		if (st->ops->user_get(st, r->user.tenant_id, ids[i], &u) != 0 || u.status != USER_ACTIVE) {
			*why = "no such user in your organisation";
			return BW_ENOENT;
		}
		int role = policy_role_parse(u.role);
		if (role == ROLE_AUDITADMIN) {
			*why = "audit administrators do not take part in chat";
			return BW_EPERM;
		}
		if (role == ROLE_GUEST && !guests_ok) {
			*why = "this conversation does not admit guests";
			return BW_EPERM;
		}
	}
	return 0;
}

static int read_ids(struct req *r, const char *key, int64_t **out, int *n, int max)
{
	json_t *a = r->json ? json_object_get(r->json, key) : NULL;
	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > (size_t)max) {
		req_error(r, 400, "invalid_request", "%s must be an array of at most %d user ids", key, max);
		return BW_EINVAL;
	}
	int64_t *ids = calloc(json_array_size(a) + 1, sizeof *ids);
	if (!ids) {
		req_error(r, 500, "internal", "out of memory");
		return BW_ENOMEM;
	}
	size_t i;
	json_t *v;
	int k = 0;
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			free(ids);
			req_error(r, 400, "invalid_request", "%s must hold user ids", key);
			return BW_EINVAL;
		}
		int64_t id = json_integer_value(v);
		bool dup = false;
		for (int j = 0; j < k && !dup; j++)
			dup = ids[j] == id;
		if (!dup)
			ids[k++] = id;
	}
	*out = ids;
	*n = k;
	return 0;
}

static bool name_ok(struct req *r, const char *key, size_t max, const char **out)
{
	if (!req_str(r, key, false, max, out))
		return false;
	if (*out && !bw_utf8_valid(*out, strlen(*out), false)) {
		req_error(r, 400, "invalid_request", "%s contains invalid characters", key);
		return false;
	}
	return true;
}

/* ---- handlers: conversations --------------------------------------------------- */

void h_directory(struct req *r)
{
	char q[65] = "";
	int64_t limit;
	req_query(r, "q", q, sizeof q);
	if (!req_query_int(r, "limit", 1, 200, 50, &limit))
		return;
	for (char *p = q; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id FROM users WHERE tenant_id = ?1 AND status = 1"
	    " AND role != 'auditadmin' AND (?2 = '' OR instr(username, ?2) > 0) ORDER BY username LIMIT ?3");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_text(st, 2, q, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, limit);
	int64_t ids[200];
	int n = 0;
	while (n < 200 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	json_t *arr = json_array();
	struct store *s = r->srv->app->s;
	for (int i = 0; i < n; i++) {
		struct store_user u;
		if (s->ops->user_get(s, r->user.tenant_id, ids[i], &u) != 0)
			continue;
		char name[STORE_FIELD_MAX + 1] = "";
		keys_open(r->srv->app->kr, u.tenant_id, KEY_CLASS_DATA, "users", u.id, "display_name",
		          &u.display_name, name, sizeof name);
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:b,s:b}", "id", (json_int_t)u.id,
		                      "username", u.username, "display_name", name[0] ? name : u.username,
		                      "guest", strcmp(u.role, "guest") == 0,
		                      "online", chat_user_online(u.id)));
	}
	req_json(r, 200, json_pack("{s:o}", "users", arr));
}

void h_convs_list(struct req *r)
{
	char disc[4] = "";
	req_query(r, "discover", disc, sizeof disc);
	bool discover = strcmp(disc, "1") == 0;
	sqlite3_stmt *st = discover
		? chat_rstmt(r->srv, "SELECT c.id FROM conversations c WHERE c.tenant_id = ?1"
		             " AND c.kind = 'channel' AND c.dissolved_at = 0 AND NOT EXISTS (SELECT 1"
		             " FROM conv_members m WHERE m.conv_id = c.id AND m.user_id = ?2)"
		             " ORDER BY c.last_activity DESC LIMIT 500")
		: chat_rstmt(r->srv, "SELECT c.id FROM conv_members m JOIN conversations c ON c.id = m.conv_id"
		             " WHERE m.user_id = ?2 AND m.tenant_id = ?1 AND c.dissolved_at = 0"
		             " ORDER BY c.last_activity DESC LIMIT 500");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, r->user.id);
	int64_t *ids = calloc(500, sizeof *ids);
	int n = 0;
	while (ids && n < 500 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (!ids) {
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		struct chat_conv *cv = chat_conv_get(r->srv, r->user.tenant_id, ids[i]);
		json_t *o = cv ? chat_conv_json(r->srv, cv, r->user.id) : NULL;
		if (o)
			json_array_append_new(arr, o);
	}
	free(ids);
	req_json(r, 200, json_pack("{s:o}", "conversations", arr));
}

void h_convs_create(struct req *r)
{
	static const char *const allowed[] = { "kind", "name", "topic", "members", "settings", NULL };
	const char *kind_s, *name, *topic;
	if (!req_only(r, allowed) || !req_str(r, "kind", true, 16, &kind_s) ||
	    !name_ok(r, "name", CHAT_NAME_MAX, &name) || !name_ok(r, "topic", CHAT_TOPIC_MAX, &topic))
		return;
	int kind = chat_kind_parse(kind_s);
	if (!kind) {
		req_error(r, 400, "invalid_request", "kind must be direct, group, channel or announce");
		return;
	}
	bool guest = r->subj.role == ROLE_GUEST;
	if (guest && kind != CHAT_DIRECT) {
		req_audit(r, "chat.conversation.create", "conversation", "denied", "{\"reason\":\"guest\"}");
		req_error(r, 403, "forbidden", "guests cannot create groups or channels");
		return;
	}
	int64_t *ids;
	int n;
	if (read_ids(r, "members", &ids, &n, MEMBERS_ADD_MAX))
		return;
	struct chat_settings set;
	chat_settings_default(&set, kind);
	json_t *sj = json_object_get(r->json, "settings");
	const char *bad = NULL;
	if (sj && !json_is_null(sj) && (kind == CHAT_DIRECT || chat_settings_apply(&set, sj, &bad))) {
		free(ids);
		req_error(r, 400, "invalid_request", "invalid setting: %s", bad ? bad : "settings");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_CREATE, 0);
	if (!x) {
		free(ids);
		return;
	}
	x->kind = kind;
	x->users = ids;
	x->nusers = n;
	const char *why = "invalid members";
	if (kind == CHAT_DIRECT) {
		if (n != 1 || ids[0] == r->user.id) {
			conv_ctx_free(x);
			req_error(r, 400, "invalid_request", "a direct chat needs exactly one other member");
			return;
		}
		int64_t a = r->user.id < ids[0] ? r->user.id : ids[0], b = r->user.id < ids[0] ? ids[0] : r->user.id;
		snprintf(x->direct_key, sizeof x->direct_key, "%lld:%lld", (long long)a, (long long)b);
	} else if (!name || !*name) {
		conv_ctx_free(x);
		req_error(r, 400, "invalid_request", "a group needs a name");
		return;
	}
	if (n + 1 > set.member_limit) {
		conv_ctx_free(x);
		req_error(r, 400, "member_limit", "more members than the limit of %d", set.member_limit);
		return;
	}
	int rc = check_users(r, ids, n, kind == CHAT_DIRECT || set.guests, &why);
	if (rc) {
		conv_ctx_free(x);
		req_error(r, rc == BW_ENOENT ? 400 : 403, rc == BW_ENOENT ? "invalid_request" : "forbidden", "%s", why);
		return;
	}
	x->settings = chat_settings_dump(&set);
	x->name = name && *name ? strdup(name) : NULL;
	x->topic = topic && *topic ? strdup(topic) : NULL;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.conversation.create");
	char *sd = x->settings;
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"kind\":\"%s\",\"members\":%d,\"settings\":%s}",
	         chat_kind_name(kind), n + 1, sd ? sd : "{}");
	if (!x->settings) {
		conv_ctx_free(x);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	conv_submit(r, x);
}

void h_conv_get(struct req *r)
{
	struct chat_conv *cv = load_conv(r, false, NULL);
	if (!cv)
		return;
	req_json(r, 200, json_pack("{s:o}", "conversation", chat_conv_json(r->srv, cv, r->user.id)));
}

void h_conv_patch(struct req *r)
{
	static const char *const allowed[] = { "name", "topic", "settings", NULL };
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	const char *name, *topic;
	if (!cv || !req_only(r, allowed) || !name_ok(r, "name", CHAT_NAME_MAX, &name) ||
	    !name_ok(r, "topic", CHAT_TOPIC_MAX, &topic))
		return;
	if (cv->kind == CHAT_DIRECT || !is_admin(me)) {
		audit_refusal(r, "chat.conversation.update", cv, "not an owner or admin");
		req_error(r, 403, "forbidden", "only the owner and admins change this conversation");
		return;
	}
	struct chat_settings set = cv->set;
	json_t *sj = json_object_get(r->json, "settings");
	const char *bad = NULL;
	if (sj && chat_settings_apply(&set, sj, &bad)) {
		req_error(r, 400, "invalid_request", "invalid setting: %s", bad ? bad : "settings");
		return;
	}
	int active = 0;
	for (int i = 0; i < cv->n; i++)
		active += cv->m[i].status == CSTAT_ACTIVE;
	if (set.member_limit < active) {
		req_error(r, 400, "member_limit", "the group already has %d members", active);
		return;
	}
	if (name && !*name) {
		req_error(r, 400, "invalid_request", "a group needs a name");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_UPDATE, cv->id);
	if (!x)
		return;
	char *before = chat_settings_dump(&cv->set);
	x->settings = sj ? chat_settings_dump(&set) : NULL;
	x->set_name = name != NULL;
	x->set_topic = topic != NULL;
	x->name = name ? strdup(name) : NULL;
	x->topic = topic ? strdup(topic) : NULL;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.conversation.update");
	snprintf(x->audit_detail, sizeof x->audit_detail,
	         "{\"before\":%s,\"after\":%s,\"name_changed\":%s,\"topic_changed\":%s}",
	         before ? before : "{}", x->settings ? x->settings : (before ? before : "{}"),
	         name ? "true" : "false", topic ? "true" : "false");
	free(before);
	conv_submit(r, x);
}

void h_conv_delete(struct req *r)
{
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	if (!cv)
		return;
	if (cv->kind == CHAT_DIRECT || !me || me->role != CROLE_OWNER) {
		audit_refusal(r, "chat.conversation.dissolve", cv, "not the owner");
		req_error(r, 403, "forbidden", "only the owner dissolves a conversation");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_DISSOLVE, cv->id);
	if (!x)
		return;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.conversation.dissolve");
	conv_submit(r, x);
}

void h_conv_hold(struct req *r)
{
	static const char *const allowed[] = { "legal_hold", NULL };
	bool hold;
	int64_t id;
	if (!api_path_id(r, 0, &id) || !req_only(r, allowed))
		return;
	json_t *v = json_object_get(r->json, "legal_hold");
	if (!json_is_boolean(v)) {
		req_error(r, 400, "invalid_request", "legal_hold must be true or false");
		return;
	}
	hold = json_is_true(v);
	struct chat_conv *cv = chat_conv_get(r->srv, r->user.tenant_id, id);
	if (!cv) {
		req_error(r, 404, "not_found", "no such conversation");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_HOLD, cv->id);
	if (!x)
		return;
	x->hold = hold;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.conversation.legal_hold");
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"before\":%s,\"after\":%s}",
	         cv->legal_hold ? "true" : "false", hold ? "true" : "false");
	conv_submit(r, x);
}

/* ---- handlers: members ---------------------------------------------------------- */

void h_conv_members(struct req *r)
{
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	if (!cv)
		return;
	json_t *arr = json_array();
	struct store *s = r->srv->app->s;
	for (int i = 0; i < cv->n && i < CHAT_MEMBERS_MAX; i++) {
		const struct chat_member *m = &cv->m[i];
		if (m->status == CSTAT_PENDING && !is_admin(me))
			continue;
		struct store_user u;
		char name[STORE_FIELD_MAX + 1] = "";
		if (s->ops->user_get(s, cv->tenant_id, m->user_id, &u) != 0)
			continue;
		keys_open(r->srv->app->kr, u.tenant_id, KEY_CLASS_DATA, "users", u.id, "display_name",
		          &u.display_name, name, sizeof name);
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:b,s:b}",
		                      "user_id", (json_int_t)m->user_id, "username", u.username,
		                      "display_name", name[0] ? name : u.username,
		                      "role", chat_role_name(m->role),
		                      "status", m->status == CSTAT_ACTIVE ? "active" : "pending",
		                      "muted_until", (json_int_t)m->muted_until, "poster", m->poster,
		                      "online", chat_user_online(m->user_id)));
	}
	req_json(r, 200, json_pack("{s:o}", "members", arr));
}

void h_conv_members_add(struct req *r)
{
	static const char *const allowed[] = { "user_ids", NULL };
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	if (!cv || !req_only(r, allowed))
		return;
	if (cv->kind == CHAT_DIRECT || (!cv->set.invite_members && !is_admin(me))) {
		audit_refusal(r, "chat.member.add", cv, "may not invite");
		req_error(r, 403, "forbidden", "you may not invite to this conversation");
		return;
	}
	int64_t *ids;
	int n;
	if (read_ids(r, "user_ids", &ids, &n, MEMBERS_ADD_MAX))
		return;
	/* only new people */
	int k = 0;
	for (int i = 0; i < n; i++) {
		struct chat_member *m = chat_member_find(cv, ids[i]);
		if (!m || (m->status == CSTAT_PENDING && is_admin(me)))
			ids[k++] = ids[i];
	}
	n = k;
	if (n == 0) {
		free(ids);
		req_error(r, 400, "invalid_request", "user_ids names nobody new");
		return;
	}
	const char *why;
	int rc = check_users(r, ids, n, cv->set.guests, &why);
	if (rc) {
		free(ids);
		audit_refusal(r, "chat.member.add", cv, why);
		req_error(r, rc == BW_ENOENT ? 400 : 403, rc == BW_ENOENT ? "invalid_request" : "forbidden", "%s", why);
		return;
	}
	int active = 0;
	for (int i = 0; i < cv->n; i++)
		active += cv->m[i].status == CSTAT_ACTIVE;
	if (active + n > cv->set.member_limit) {
		free(ids);
		req_error(r, 409, "member_limit", "the group would exceed its limit of %d members",
		          cv->set.member_limit);
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_ADD, cv->id);
	if (!x) {
		free(ids);
		return;
	}
	x->users = ids;
	x->nusers = n;
	x->pending = cv->set.join_approval && !is_admin(me);
	snprintf(x->audit_event, sizeof x->audit_event, "chat.member.add");
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"count\":%d,\"first\":%lld,\"pending\":%s}",
	         n, (long long)ids[0], x->pending ? "true" : "false");
	conv_submit(r, x);
}

void h_conv_join(struct req *r)
{
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, false, &me);
	if (!cv)
		return;
	if (chat_member_find(cv, r->user.id)) {
		req_error(r, 409, "conflict", "you are already a member or waiting for approval");
		return;
	}
	if (cv->kind != CHAT_CHANNEL) {
		req_error(r, 404, "not_found", "no such conversation");
		return;
	}
	if (r->subj.role == ROLE_GUEST && !cv->set.guests) {
		audit_refusal(r, "chat.member.join", cv, "guests not admitted");
		req_error(r, 403, "forbidden", "this channel does not admit guests");
		return;
	}
	int active = 0;
	for (int i = 0; i < cv->n; i++)
		active += cv->m[i].status == CSTAT_ACTIVE;
	if (active + 1 > cv->set.member_limit) {
		req_error(r, 409, "member_limit", "the channel is full");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_JOIN, cv->id);
	if (!x)
		return;
	x->users = malloc(sizeof *x->users);
	if (!x->users) {
		conv_ctx_free(x);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	x->users[0] = r->user.id;
	x->nusers = 1;
	x->pending = cv->set.join_approval;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.member.join");
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"pending\":%s}", x->pending ? "true" : "false");
	conv_submit(r, x);
}

void h_conv_member_patch(struct req *r)
{
	static const char *const allowed[] = { "role", "muted_until", "approve", "poster", NULL };
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	int64_t target;
	if (!cv || !api_path_id(r, 1, &target) || !req_only(r, allowed))
		return;
	struct chat_member *m = chat_member_find(cv, target);
	if (!m) {
		req_error(r, 404, "not_found", "not a member");
		return;
	}
	if (!is_admin(me) || target == r->user.id || m->role == CROLE_OWNER ||
	    (m->role == CROLE_ADMIN && me->role != CROLE_OWNER)) {
		audit_refusal(r, "chat.member.update", cv, "not allowed");
		req_error(r, 403, "forbidden", "you may not change this member");
		return;
	}
	const char *role_s;
	int64_t muted = -1;
	bool approve = false, poster = false;
	json_t *pv = json_object_get(r->json, "poster");
	if (!req_str(r, "role", false, 16, &role_s) ||
	    !req_int(r, "muted_until", false, 0, INT64_C(1) << 40, &muted) || !req_bool(r, "approve", &approve))
		return;
	if (pv && !json_is_boolean(pv)) {
		req_error(r, 400, "invalid_request", "poster must be true or false");
		return;
	}
	poster = json_is_true(pv);
	int role = 0;
	if (role_s) {
		role = strcmp(role_s, "admin") == 0 ? CROLE_ADMIN : strcmp(role_s, "member") == 0 ? CROLE_MEMBER : 0;
		if (!role || (role == CROLE_ADMIN && me->role != CROLE_OWNER)) {
			req_error(r, 400, "invalid_request", "role must be admin (owner only) or member");
			return;
		}
	}
	if (approve && m->status != CSTAT_PENDING) {
		req_error(r, 409, "conflict", "this member is not waiting for approval");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_MEMBER, cv->id);
	if (!x)
		return;
	x->target = target;
	x->new_role = role;
	x->approve = approve;
	x->set_mute = muted >= 0;
	x->muted_until = muted;
	x->set_poster = pv != NULL;
	x->poster = poster;
	snprintf(x->audit_event, sizeof x->audit_event, "%s",
	         approve ? "chat.member.approve" : muted >= 0 ? "chat.member.mute" : "chat.member.update");
	snprintf(x->audit_detail, sizeof x->audit_detail,
	         "{\"user_id\":%lld,\"role\":\"%s\",\"muted_until\":%lld,\"poster\":%s}",
	         (long long)target, role ? chat_role_name(role) : chat_role_name(m->role),
	         (long long)(muted >= 0 ? muted : m->muted_until),
	         pv ? (poster ? "true" : "false") : (m->poster ? "true" : "false"));
	conv_submit(r, x);
}

void h_conv_member_delete(struct req *r)
{
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, false, &me);
	int64_t target;
	if (!cv || !api_path_id(r, 1, &target))
		return;
	struct chat_member *m = chat_member_find(cv, target);
	struct chat_member *self = chat_member_find(cv, r->user.id);
	if (!m || !self) {
		req_error(r, 404, "not_found", "not a member");
		return;
	}
	bool leaving = target == r->user.id;
	if (leaving ? (m->role == CROLE_OWNER && cv->kind != CHAT_DIRECT)
	            : (!is_admin(me) || m->role == CROLE_OWNER ||
	               (m->role == CROLE_ADMIN && me->role != CROLE_OWNER))) {
		audit_refusal(r, leaving ? "chat.member.leave" : "chat.member.remove", cv,
		              leaving ? "owner must transfer first" : "not allowed");
		req_error(r, leaving ? 409 : 403, leaving ? "owner_must_transfer" : "forbidden",
		          leaving ? "transfer ownership before leaving" : "you may not remove this member");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_REMOVE, cv->id);
	if (!x)
		return;
	x->target = target;
	snprintf(x->audit_event, sizeof x->audit_event, leaving ? "chat.member.leave" : "chat.member.remove");
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"user_id\":%lld}", (long long)target);
	conv_submit(r, x);
}

void h_conv_transfer(struct req *r)
{
	static const char *const allowed[] = { "user_id", NULL };
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	int64_t target;
	if (!cv || !req_only(r, allowed) || !req_int(r, "user_id", true, 1, INT64_MAX, &target))
		return;
	if (!me || me->role != CROLE_OWNER || cv->kind == CHAT_DIRECT) {
		audit_refusal(r, "chat.conversation.transfer", cv, "not the owner");
		req_error(r, 403, "forbidden", "only the owner transfers ownership");
		return;
	}
	if (!chat_member_active(cv, target) || target == r->user.id) {
		req_error(r, 400, "invalid_request", "the new owner must be another active member");
		return;
	}
	struct conv_ctx *x = conv_ctx_new(r, CA_TRANSFER, cv->id);
	if (!x)
		return;
	x->target = target;
	snprintf(x->audit_event, sizeof x->audit_event, "chat.conversation.transfer");
	snprintf(x->audit_detail, sizeof x->audit_detail, "{\"from\":%lld,\"to\":%lld}",
	         (long long)r->user.id, (long long)target);
	conv_submit(r, x);
}

/* ---- handlers: messages ------------------------------------------------------------ */

static int64_t history_floor(struct chat_conv *cv, struct chat_member *me)
{
	return cv->set.history_visible ? 0 : me->joined_msg;
}

void h_conv_messages(struct req *r)
{
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	int64_t before, limit, thread;
	if (!cv || !req_query_int(r, "before", 0, INT64_MAX, 0, &before) ||
	    !req_query_int(r, "limit", 1, 100, 50, &limit) ||
	    !req_query_int(r, "thread", 0, INT64_MAX, 0, &thread))
		return;
	if (!me) {
		req_error(r, 404, "not_found", "no such conversation");
		return;
	}
	bool more;
	json_t *arr = chat_history(r->srv, cv->tenant_id, cv->id, before, history_floor(cv, me),
	                           thread, (int)limit, &more);
	req_json(r, 200, json_pack("{s:o,s:b}", "messages", arr, "has_more", more));
}

static void send_reply(struct req *r, int rc, int status, const char *code, const char *msg)
{
	if (rc == 0)
		return;   /* answered on commit */
	if (status == 403 || status == 422)
		req_audit(r, "chat.message.send", "message", "denied", NULL);
	req_error(r, status, code, "%s", msg);
}

void h_conv_messages_post(struct req *r)
{
	static const char *const allowed[] = { "body", "cid", "reply_to", "thread_root", NULL };
	int64_t id;
	const char *body, *cid;
	int64_t reply = 0, thread = 0;
	if (!api_path_id(r, 0, &id) || !req_only(r, allowed) ||
	    !req_text(r, "body", true, CHAT_BODY_MAX * 4, &body) || !req_str(r, "cid", false, 80, &cid) ||
	    !req_int(r, "reply_to", false, 0, INT64_MAX, &reply) ||
	    !req_int(r, "thread_root", false, 0, INT64_MAX, &thread))
		return;
	struct chat_send_in in = {
		.conv_id = id, .reply_to = reply, .thread_root = thread, .body = body,
		.body_len = json_string_length(json_object_get(r->json, "body")), .cid = cid,
	};
	int status = 0;
	const char *code = NULL, *msg = NULL;
	int rc = chat_send(r->srv, r->user.tenant_id, &r->user, r->subj.role, &in, r, 0, &status, &code, &msg);
	send_reply(r, rc, status, code, msg);
}

void h_conv_read(struct req *r)
{
	static const char *const allowed[] = { "msg", NULL };
	int64_t msg;
	struct chat_member *me;
	struct chat_conv *cv = load_conv(r, true, &me);
	if (!cv || !req_only(r, allowed) || !req_int(r, "msg", true, 1, INT64_MAX, &msg))
		return;
	if (!me) {
		req_error(r, 404, "not_found", "no such conversation");
		return;
	}
	if (chat_mark_read(r->srv, cv->tenant_id, r->user.id, cv->id, msg) != 0) {
		req_header(r, "retry-after:", "1");
		req_error(r, 503, "unavailable", "the server is busy; try again shortly");
		return;
	}
	req_empty(r, 204);
}

/* A message the caller may act on: in a conversation where they are an
 * active member and (history rules) may see it. */
struct msg_row {
	int64_t id, conv_id, sender, file_id, created_at, recalled_at;
	bool text;
};

static bool load_msg(struct req *r, struct msg_row *m, struct chat_conv **cvp, struct chat_member **mep)
{
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return false;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT conv_id, sender_id, file_id, created_at, recalled_at, kind"
	                              " FROM messages WHERE id = ?1 AND tenant_id = ?2");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return false;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		m->id = id;
		m->conv_id = sqlite3_column_int64(st, 0);
		m->sender = sqlite3_column_int64(st, 1);
		m->file_id = sqlite3_column_int64(st, 2);
		m->created_at = sqlite3_column_int64(st, 3);
		m->recalled_at = sqlite3_column_int64(st, 4);
		m->text = strcmp((const char *)sqlite3_column_text(st, 5), "text") == 0;
	}
	sqlite3_reset(st);
	struct chat_conv *cv = found ? chat_conv_get(r->srv, r->user.tenant_id, m->conv_id) : NULL;
	struct chat_member *me = chat_member_active(cv, r->user.id);
	if (!me || (!cv->set.history_visible && id <= me->joined_msg)) {
		req_error(r, 404, "not_found", "no such message");
		return false;
	}
	*cvp = cv;
	*mep = me;
	return true;
}

struct msg_ctx {
	int action;                       /* 1 edit, 2 recall, 3 react */
	int64_t msg_id, conv_id, file_id;
	uint8_t *box;
	size_t box_len;
	struct search_terms terms;
	char emoji[16];
	bool on;
	char data_dir[1024];
};

static void msg_ctx_free(void *p)
{
	struct msg_ctx *x = p;
	free(x->box);
	sodium_memzero(&x->terms, sizeof x->terms);
	free(x);
}

static int msg_run(struct chat_op *op, sqlite3 *db)
{
	struct msg_ctx *x = op->ctx;
	sqlite3_stmt *st;
	int rc;
	if (x->action == 1 || x->action == 2) {
		st = x->action == 1
			? writer_stmt(db, "UPDATE messages SET body = ?1, edited_at = ?2 WHERE id = ?3"
			              " AND tenant_id = ?4 AND recalled_at = 0")
			: writer_stmt(db, "UPDATE messages SET body = NULL, recalled_at = ?2, recalled_by = ?5"
			              " WHERE id = ?3 AND tenant_id = ?4 AND recalled_at = 0 AND ?1 IS NULL");
		if (!st)
			return BW_ESTORE;
		if (x->action == 1)
			sqlite3_bind_blob(st, 1, x->box, (int)x->box_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, bw_now());
		sqlite3_bind_int64(st, 3, x->msg_id);
		sqlite3_bind_int64(st, 4, op->tenant_id);
		if (x->action == 2)
			sqlite3_bind_int64(st, 5, op->user_id);
		if ((rc = writer_step(db, st)))
			return rc;
		if (sqlite3_changes(db) == 0)
			return BW_ECONFLICT;          /* recalled meanwhile */
		st = writer_stmt(db, "DELETE FROM search_terms WHERE msg_id = ?1");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, x->msg_id);
		if ((rc = writer_step(db, st)))
			return rc;
		if (x->action == 1) {
			if ((rc = chat_terms_insert(db, op->tenant_id, x->msg_id, x->conv_id, &x->terms)))
				return rc;
			return chat_op_event(op, db, x->conv_id, 0, "message.edit", x->msg_id, NULL);
		}
		st = writer_stmt(db, "DELETE FROM reactions WHERE msg_id = ?1");
		if (!st)
			return BW_ESTORE;
		sqlite3_bind_int64(st, 1, x->msg_id);
		if ((rc = writer_step(db, st)))
			return rc;
		if (x->file_id) {
			st = writer_stmt(db, "UPDATE files SET status = 'purged', name = x'' WHERE id = ?1 AND tenant_id = ?2");
			if (!st)
				return BW_ESTORE;
			sqlite3_bind_int64(st, 1, x->file_id);
			sqlite3_bind_int64(st, 2, op->tenant_id);
			if ((rc = writer_step(db, st)))
				return rc;
		}
		return chat_op_event(op, db, x->conv_id, 0, "message.recall", x->msg_id, NULL);
	}
	st = x->on
		? writer_stmt(db, "INSERT OR IGNORE INTO reactions(msg_id, user_id, emoji, tenant_id) VALUES(?1,?2,?3,?4)")
		: writer_stmt(db, "DELETE FROM reactions WHERE msg_id = ?1 AND user_id = ?2 AND emoji = ?3 AND tenant_id = ?4");
	if (!st)
		return BW_ESTORE;
	sqlite3_bind_int64(st, 1, x->msg_id);
	sqlite3_bind_int64(st, 2, op->user_id);
	sqlite3_bind_text(st, 3, x->emoji, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, op->tenant_id);
	if ((rc = writer_step(db, st)))
		return rc;
	return chat_op_event(op, db, x->conv_id, 0, "reaction", x->msg_id, NULL);
}

/* Removes an attachment's encrypted blob (recall, retention). */
void chat_file_unlink(const char *data_dir, int64_t tenant_id, int64_t file_id)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/blobs/%lld/%lld", data_dir, (long long)tenant_id, (long long)file_id);
	unlink(path);
}

static void msg_finish(struct chat_op *op, int rc)
{
	struct msg_ctx *x = op->ctx;
	struct req *r = op->req;
	char object[32];
	snprintf(object, sizeof object, "message:%lld", (long long)x->msg_id);
	if (x->action == 2) {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"conversation\":%lld,\"file\":%lld}",
		         (long long)x->conv_id, (long long)x->file_id);
		req_audit(r, "chat.message.recall", object, rc ? "failure" : "success", detail);
		if (rc == 0 && x->file_id)
			chat_file_unlink(x->data_dir, op->tenant_id, x->file_id);
	} else if (x->action == 1) {
		req_audit(r, "chat.message.edit", object, rc ? "failure" : "success", NULL);
	}
	if (rc == BW_ECONFLICT) {
		req_error(r, 409, "recalled", "the message has been recalled");
		return;
	}
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	if (x->action == 3) {
		json_t *m = chat_message_json(r->srv, op->tenant_id, x->msg_id);
		json_t *re = m ? json_incref(json_object_get(m, "reactions")) : json_object();
		json_decref(m);
		req_json(r, 200, json_pack("{s:o}", "reactions", re ? re : json_object()));
		return;
	}
	json_t *m = chat_message_json(r->srv, op->tenant_id, x->msg_id);
	req_json(r, 200, json_pack("{s:o}", "message", m ? m : json_null()));
}

static void msg_submit(struct req *r, struct msg_ctx *x)
{
	struct chat_op *op = chat_op_new(r->srv, r, r->user.tenant_id, r->user.id, msg_run, msg_finish);
	if (!op) {
		msg_ctx_free(x);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	op->ctx = x;
	op->free_ctx = msg_ctx_free;
	chat_op_submit(op);
}

void h_msg_patch(struct req *r)
{
	static const char *const allowed[] = { "body", NULL };
	struct msg_row m;
	struct chat_conv *cv;
	struct chat_member *me;
	const char *body;
	if (!req_only(r, allowed) || !req_text(r, "body", true, CHAT_BODY_MAX, &body) ||
	    !load_msg(r, &m, &cv, &me))
		return;
	size_t bl = json_string_length(json_object_get(r->json, "body"));
	if (m.sender != r->user.id || !m.text) {
		req_error(r, 403, "forbidden", "only the sender edits a text message");
		return;
	}
	if (m.recalled_at) {
		req_error(r, 409, "recalled", "the message has been recalled");
		return;
	}
	if (bl == 0 || !bw_utf8_valid(body, bl, true)) {
		req_error(r, 400, "invalid_request", "the message is empty or not valid text");
		return;
	}
	struct msg_ctx *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return;
	x->action = 1;
	x->msg_id = m.id;
	x->conv_id = m.conv_id;
	int rc = chat_body_seal(r->srv, r->user.tenant_id, m.id, body, bl, &x->box, &x->box_len, &x->terms);
	if (rc) {
		msg_ctx_free(x);
		api_store_error(r, rc);
		return;
	}
	msg_submit(r, x);
}

void h_msg_recall(struct req *r)
{
	struct msg_row m;
	struct chat_conv *cv;
	struct chat_member *me;
	if (!load_msg(r, &m, &cv, &me))
		return;
	if (m.recalled_at) {
		req_error(r, 409, "recalled", "the message has already been recalled");
		return;
	}
	struct tenant_policy p;
	accounts_policy_get(r->srv->app, r->user.tenant_id, &p, NULL);
	bool own = m.sender == r->user.id;
	bool in_window = bw_now() - m.created_at <= p.recall_window_s;
	if (!(is_admin(me) && cv->kind != CHAT_DIRECT) && !(own && in_window)) {
		char object[32];
		snprintf(object, sizeof object, "message:%lld", (long long)m.id);
		req_audit(r, "chat.message.recall", object, "denied",
		          own ? "{\"reason\":\"window passed\"}" : "{\"reason\":\"not sender or admin\"}");
		if (own)
			req_error(r, 403, "recall_window_passed",
			          "messages can be recalled within %d seconds of sending", p.recall_window_s);
		else
			req_error(r, 403, "forbidden", "only the sender or the group's owner and admins recall");
		return;
	}
	struct msg_ctx *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return;
	x->action = 2;
	x->msg_id = m.id;
	x->conv_id = m.conv_id;
	x->file_id = m.file_id;
	snprintf(x->data_dir, sizeof x->data_dir, "%s", r->srv->app->data_dir);
	msg_submit(r, x);
}

static const char *const emoji_allowed[] = {
	"\xf0\x9f\x91\x8d", "\xf0\x9f\x91\x8e", "\xe2\x9d\xa4\xef\xb8\x8f", "\xf0\x9f\x98\x82",
	"\xf0\x9f\x8e\x89", "\xf0\x9f\x98\xae", "\xf0\x9f\x98\xa2", "\xe2\x9c\x85", "\xf0\x9f\x91\x80",
	"\xf0\x9f\x99\x8f", NULL,
};

void h_msg_reactions(struct req *r)
{
	static const char *const allowed[] = { "emoji", "on", NULL };
	struct msg_row m;
	struct chat_conv *cv;
	struct chat_member *me;
	const char *emoji;
	bool on = true;
	if (!req_only(r, allowed) || !req_str(r, "emoji", true, 15, &emoji) || !req_bool(r, "on", &on) ||
	    !load_msg(r, &m, &cv, &me))
		return;
	bool ok = false;
	for (int i = 0; emoji_allowed[i] && !ok; i++)
		ok = strcmp(emoji, emoji_allowed[i]) == 0;
	if (!ok) {
		req_error(r, 400, "invalid_request", "emoji must be one of the offered reactions");
		return;
	}
	if (m.recalled_at) {
		req_error(r, 409, "recalled", "the message has been recalled");
		return;
	}
	struct msg_ctx *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return;
	x->action = 3;
	x->msg_id = m.id;
	x->conv_id = m.conv_id;
	x->on = on;
	snprintf(x->emoji, sizeof x->emoji, "%s", emoji);
	msg_submit(r, x);
}

void h_msg_forward(struct req *r)
{
	static const char *const allowed[] = { "conv", NULL };
	struct msg_row m;
	struct chat_conv *cv;
	struct chat_member *me;
	int64_t to;
	if (!req_only(r, allowed) || !req_int(r, "conv", true, 1, INT64_MAX, &to) || !load_msg(r, &m, &cv, &me))
		return;
	if (!cv->set.forward) {
		char object[32];
		snprintf(object, sizeof object, "message:%lld", (long long)m.id);
		req_audit(r, "chat.message.forward", object, "denied", "{\"reason\":\"forward disabled\"}");
		req_error(r, 403, "forward_disabled", "this conversation does not allow forwarding");
		return;
	}
	if (m.recalled_at || !m.text) {
		req_error(r, 400, "invalid_request", "only text messages that were not recalled can be forwarded");
		return;
	}
	json_t *src = chat_message_json(r->srv, r->user.tenant_id, m.id);
	const char *body = src ? json_string_value(json_object_get(src, "body")) : NULL;
	if (!body) {
		json_decref(src);
		api_store_error(r, BW_ESTORE);
		return;
	}
	struct chat_send_in in = { .conv_id = to, .body = body, .body_len = strlen(body), .forwarded = true };
	int status = 0;
	const char *code = NULL, *msg = NULL;
	int rc = chat_send(r->srv, r->user.tenant_id, &r->user, r->subj.role, &in, r, 0, &status, &code, &msg);
	json_decref(src);
	if (rc == 0) {
		char object[32], detail[64];
		snprintf(object, sizeof object, "message:%lld", (long long)m.id);
		snprintf(detail, sizeof detail, "{\"to\":%lld}", (long long)to);
		req_audit(r, "chat.message.forward", object, "success", detail);
	}
	send_reply(r, rc, status, code, msg);
}

/* ---- search ------------------------------------------------------------------------------ */

void h_search(struct req *r)
{
	char q[SEARCH_QUERY_MAX + 1];
	int64_t conv, limit;
	if (!req_query(r, "q", q, sizeof q)) {
		req_error(r, 400, "invalid_request", "q is required (at most %d bytes)", SEARCH_QUERY_MAX);
		return;
	}
	if (!req_query_int(r, "conv", 0, INT64_MAX, 0, &conv) || !req_query_int(r, "limit", 1, 50, 20, &limit))
		return;
	uint8_t key[CRYPTO_KEY_LEN];
	struct search_terms *t = calloc(1, sizeof *t);
	if (!t) {
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	int rc = chat_search_key(r->srv, r->user.tenant_id, key);
	if (rc == 0)
		rc = search_query_terms(key, q, strlen(q), t);
	sodium_memzero(key, sizeof key);
	if (rc) {
		free(t);
		req_error(r, 400, "invalid_request", rc == BW_ETOOBIG ? "the query has too many words"
		          : "search for at least two letters or one Chinese character");
		return;
	}
	/* candidate messages: every term present, in conversations the caller
	 * is an active member of */
	char sql[1400];
	int off = snprintf(sql, sizeof sql, "SELECT s.msg_id FROM search_terms s JOIN conv_members m"
	    " ON m.conv_id = s.conv_id AND m.user_id = ?1 AND m.status = 'active'"
	    " WHERE s.tenant_id = ?2 AND (?3 = 0 OR s.conv_id = ?3) AND s.term IN (");
	for (int i = 0; i < t->n; i++)
		off += snprintf(sql + off, sizeof sql - (size_t)off, "%s?%d", i ? "," : "", i + 5);
	snprintf(sql + off, sizeof sql - (size_t)off,
	         ") GROUP BY s.msg_id HAVING COUNT(*) = %d ORDER BY s.msg_id DESC LIMIT ?4", t->n);
	sqlite3 *db = store_sqlite_handle(r->srv->app->s);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(t);
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	sqlite3_bind_int64(st, 3, conv);
	sqlite3_bind_int64(st, 4, limit * 2);
	for (int i = 0; i < t->n; i++)
		sqlite3_bind_blob(st, i + 5, t->term[i], SEARCH_TERM_LEN, SQLITE_STATIC);
	int64_t ids[100];
	int n = 0;
	while (n < 100 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sodium_memzero(t, sizeof *t);
	free(t);
	json_t *arr = json_array();
	for (int i = 0; i < n && (int64_t)json_array_size(arr) < limit; i++) {
		json_t *m = chat_message_json(r->srv, r->user.tenant_id, ids[i]);
		if (!m)
			continue;
		int64_t cid = json_integer_value(json_object_get(m, "conv"));
		struct chat_conv *cv = chat_conv_get(r->srv, r->user.tenant_id, cid);
		struct chat_member *me = chat_member_active(cv, r->user.id);
		if (!me || json_is_true(json_object_get(m, "recalled")) ||
		    (!cv->set.history_visible && ids[i] <= me->joined_msg)) {
			json_decref(m);
			continue;
		}
		json_array_append_new(arr, m);
	}
	char detail[64];
	snprintf(detail, sizeof detail, "{\"results\":%zu}", json_array_size(arr));
	req_audit(r, "chat.search", "messages", "success", detail);
	req_json(r, 200, json_pack("{s:o}", "results", arr));
}

/* ---- link blocklist (security administrators) ---------------------------------------- */

void h_blocklist_list(struct req *r)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, entry, created_by, created_at FROM link_blocklist"
	                              " WHERE tenant_id = ?1 ORDER BY id LIMIT 10000");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	json_t *arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:I,s:s,s:I,s:I}",
		                      "id", (json_int_t)sqlite3_column_int64(st, 0),
		                      "entry", (const char *)sqlite3_column_text(st, 1),
		                      "created_by", (json_int_t)sqlite3_column_int64(st, 2),
		                      "created_at", (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_reset(st);
	req_json(r, 200, json_pack("{s:o}", "entries", arr));
}

/* Adds normalised entries; returns how many were new. */
static int blocklist_insert(struct req *r, char **entries, int n, int *added)
{
	struct store *s = r->srv->app->s;
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT OR IGNORE INTO link_blocklist(tenant_id, entry,"
	                              " created_by, created_at) VALUES(?1,?2,?3,?4)");
	if (!st)
		return BW_ESTORE;
	int rc = s->ops->begin(s, true);
	if (rc)
		return rc;
	*added = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		sqlite3_bind_int64(st, 1, r->user.tenant_id);
		sqlite3_bind_text(st, 2, entries[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, r->user.id);
		sqlite3_bind_int64(st, 4, bw_now());
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE)
			rc = BW_ESTORE;
		else
			*added += sqlite3_changes(store_sqlite_handle(s));
	}
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	return s->ops->commit(s);
}

/* "host" or "https://host/path" → canonical text, or NULL (invalid). */
static char *entry_normalise(const char *in)
{
	struct linkcheck_list *probe = NULL;
	if (linkcheck_list_new(&probe) != 0)
		return NULL;
	int rc = linkcheck_list_add(probe, in);
	linkcheck_list_free(probe);
	if (rc)
		return NULL;
	char *out = strdup(in);
	if (out)
		for (char *p = out; *p && *p != '/'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	/* scheme://host: lower-case the host part too */
	char *h = out ? strstr(out, "://") : NULL;
	for (char *p = h ? h + 3 : NULL; p && *p && *p != '/'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

void h_blocklist_add(struct req *r)
{
	static const char *const allowed[] = { "entry", NULL };
	const char *entry;
	if (!req_only(r, allowed) || !req_str(r, "entry", true, 2048, &entry))
		return;
	char *e = entry_normalise(entry);
	if (!e) {
		req_error(r, 400, "invalid_request", "entry must be a domain or an http(s) URL");
		return;
	}
	int added = 0;
	int rc = blocklist_insert(r, &e, 1, &added);
	char detail[2200];
	json_t *dj = json_pack("{s:s,s:i}", "entry", e, "added", added);
	char *dt = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
	snprintf(detail, sizeof detail, "%s", dt ? dt : "{}");
	free(dt);
	json_decref(dj);
	req_audit(r, "chat.blocklist.add", "link_blocklist", rc ? "failure" : "success", detail);
	free(e);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	chat_blocklist_forget(r->srv, r->user.tenant_id);
	req_json(r, added ? 201 : 200, json_pack("{s:i}", "added", added));
}

void h_blocklist_import(struct req *r)
{
	static const char *const allowed[] = { "text", NULL };
	const char *text;
	json_t *tv = r->json ? json_object_get(r->json, "text") : NULL;
	if (!req_only(r, allowed))
		return;
	text = json_string_value(tv);
	if (!text || !bw_utf8_valid(text, json_string_length(tv), true)) {
		req_error(r, 400, "invalid_request", "text must be the list as UTF-8 text");
		return;
	}
	/* each line: an entry; '#' comments; the whole import or nothing */
	char **entries = calloc(4096, sizeof *entries);
	char *copy = strdup(text);
	int n = 0, line = 0, bad = 0;
	if (!entries || !copy) {
		free(entries);
		free(copy);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l && n < 4096 && !bad;
	     l = strtok_r(NULL, "\n", &save)) {
		line++;
		size_t len = strlen(l);
		while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t'))
			l[--len] = 0;
		while (*l == ' ' || *l == '\t')
			l++;
		if (!*l || *l == '#')
			continue;
		if (!(entries[n] = entry_normalise(l)))
			bad = line;
		else
			n++;
	}
	int added = 0, rc = 0;
	if (!bad && n)
		rc = blocklist_insert(r, entries, n, &added);
	for (int i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
	free(copy);
	if (bad) {
		req_error_ex(r, 400, "invalid_request", "a line is not a domain or URL",
		             json_pack("{s:i}", "line", bad), NULL);
		return;
	}
	char detail[96];
	snprintf(detail, sizeof detail, "{\"lines\":%d,\"added\":%d}", n, added);
	req_audit(r, "chat.blocklist.import", "link_blocklist", rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	chat_blocklist_forget(r->srv, r->user.tenant_id);
	req_json(r, 200, json_pack("{s:i,s:i}", "entries", n, "added", added));
}

void h_blocklist_delete(struct req *r)
{
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "DELETE FROM link_blocklist WHERE id = ?1 AND tenant_id = ?2");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	int changed = sqlite3_changes(store_sqlite_handle(r->srv->app->s));
	char object[32];
	snprintf(object, sizeof object, "link_blocklist:%lld", (long long)id);
	req_audit(r, "chat.blocklist.delete", object, rc == SQLITE_DONE && changed ? "success" : "failure", NULL);
	if (rc != SQLITE_DONE || !changed) {
		req_error(r, 404, "not_found", "no such entry");
		return;
	}
	chat_blocklist_forget(r->srv, r->user.tenant_id);
	req_empty(r, 204);
}
