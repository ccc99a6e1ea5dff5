/*
 * api_admin.c — administration: users, roles, departments, the security
 * policy and the audit trail (PS-AC-a…d, PS-IA-c/f, PS-LOG-c/d, RG-AC-b,
 * RG-OPS-b, RG-AUDIT, PS-PI-d, WC-AC, IN-INSIDER).
 *
 * Every handler here runs only after api_dispatch() authorised its route;
 * every target is loaded by (caller's tenant, id) so other tenants' objects
 * are "not found"; every change is audited inside the same transaction.
 */
#include "api.h"
#include "audit.h"
#include "keyd.h"
#include "keys.h"
#include "passwd.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void user_label(struct req *r, const struct store_user *u, char *out, size_t n)
{
	accounts_user_label(u, r->tenant.name, out, n);
}

/* ---- users ------------------------------------------------------------------- */

struct ulist { struct req *r; json_t *arr; int64_t last; int n; };

static int add_user(void *arg, const struct store_user *u)
{
	struct ulist *l = arg;
	json_array_append_new(l->arr, accounts_user_json(l->r->srv->app, u, false));
	l->last = u->id;
	l->n++;
	return 0;
}

void h_users_list(struct req *r)
{
	int64_t after, limit;
	if (!req_query_int(r, "after", 0, INT64_MAX, 0, &after) ||
	    !req_query_int(r, "limit", 1, 1000, 100, &limit))
		return;
	struct store *st = r->srv->app->s;
	struct ulist l = { .r = r, .arr = json_array() };
	int rc = st->ops->user_list(st, r->user.tenant_id, after, (int)limit, add_user, &l);
	if (rc) {
		json_decref(l.arr);
		api_store_error(r, rc);
		return;
	}
	json_t *o = json_pack("{so}", "users", l.arr);
	json_object_set_new(o, "next_after", l.n == limit ? json_integer(l.last) : json_null());
	req_json(r, 200, o);
}

/* A one-time password made on a worker; for user creation also the new
 * account, validated before the work started (its strings point into the
 * request's parsed body, which lives as long as the request). */
struct create_ctx {
	char password[64];
	char hash[CRYPTO_PWHASH_MAX];
	int rc;
	struct account_new in;
};

static void create_ctx_free(void *p)
{
	sodium_memzero(p, sizeof(struct create_ctx));
	free(p);
}

static void hash_work(struct req *r)
{
	struct create_ctx *c = r->async_ctx;
	c->rc = passwd_generate(c->password, sizeof c->password);
	if (c->rc == 0)
		c->rc = bwc_pwhash(c->password, strlen(c->password), c->hash);
}

static bool valid_pii(struct req *r, const char *field, const char *v, const char *allowed)
{
	if (!v)
		return true;
	for (const char *p = v; *p; p++) {
		if (!strchr(allowed, *p)) {
			req_error(r, 400, "invalid_request", "field %s has characters it cannot contain", field);
			return false;
		}
	}
	return true;
}

static void create_done(struct req *r)
{
	struct create_ctx *c = r->async_ctx;
	if (c->rc) {
		api_store_error(r, c->rc);
		return;
	}
	c->in.pw_hash = c->hash;
	struct store_user u;
	int rc = accounts_user_create(r->srv->app, &r->actor, r->user.tenant_id, &c->in, &u);
	if (rc == BW_EEXIST) {
		req_error(r, 409, "conflict", "a user with that username exists");
		return;
	}
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{so ss}", "user", accounts_user_json(r->srv->app, &u, false),
	                           "initial_password", c->password));
}

void h_users_create(struct req *r)
{
	static const char *const allowed[] = { "username", "display_name", "role", "email",
	                                        "phone", "id_card", "dept_id", NULL };
	const char *username, *display, *role_s, *email, *phone, *idc;
	int64_t dept = 0;
	if (!r->json) {
		req_error(r, 400, "invalid_request", "a JSON body is required");
		return;
	}
	if (!req_only(r, allowed) || !req_str(r, "username", true, STORE_NAME_MAX, &username) ||
	    !req_str(r, "display_name", false, 128, &display) ||
	    !req_str(r, "role", false, 16, &role_s) || !req_str(r, "email", false, 128, &email) ||
	    !req_str(r, "phone", false, 32, &phone) || !req_str(r, "id_card", false, 32, &idc) ||
	    !req_int(r, "dept_id", false, 0, INT64_MAX, &dept))
		return;
	if (!accounts_username_valid(username)) {
		req_error(r, 400, "invalid_request",
		          "username must be 3-64 characters of a-z, 0-9, '.', '_' or '-'");
		return;
	}
	int role = role_s ? policy_role_parse(role_s) : ROLE_MEMBER;
	if (role != ROLE_MEMBER && role != ROLE_GUEST) {
		/* administrator roles are granted by the security administrator */
		req_error(r, 400, "invalid_request", "role must be member or guest; administrator roles are assigned by the security administrator");
		return;
	}
	if (!valid_pii(r, "phone", phone, "0123456789+- ") ||
	    !valid_pii(r, "id_card", idc, "0123456789Xx") ||
	    (email && (!strchr(email, '@') || strchr(email, ' ')))) {
		if (!r->resp_ready)
			req_error(r, 400, "invalid_request", "field email is not an e-mail address");
		return;
	}
	/* everything that can be refused is refused before the Argon2id work */
	struct store *st = r->srv->app->s;
	struct store_user existing;
	struct store_dept d;
	if (dept && st->ops->dept_get(st, r->user.tenant_id, dept, &d) != 0) {
		req_error(r, 400, "invalid_request", "no such department");
		return;
	}
	if (st->ops->user_get_by_name(st, r->user.tenant_id, username, &existing) == 0) {
		req_error(r, 409, "conflict", "a user with that username exists");
		return;
	}
	struct create_ctx *c = req_ctx_new(r, sizeof *c);
	if (!c)
		return;
	c->in = (struct account_new){ .username = username, .display_name = display,
	                              .role = role, .email = email, .phone = phone,
	                              .id_card = idc, .dept_id = dept };
	req_async(r, hash_work, create_done, c, create_ctx_free);
}

void h_user_get(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	char buf[8];
	bool unmask = req_query(r, "unmask", buf, sizeof buf) && strcmp(buf, "1") == 0;
	if (unmask) {
		char obj[200];
		user_label(r, &u, obj, sizeof obj);
		if (policy_check(&r->subj, PERM_PII_READ, u.tenant_id) != 0) {
			req_audit(r, "user.pii_unmask", obj, "denied", NULL);
			req_error(r, 403, "forbidden", "your role may not see personal fields in full");
			return;
		}
		req_audit(r, "user.pii_unmask", obj, "success", "{\"fields\":[\"email\",\"phone\",\"id_card\"]}");
	}
	req_json(r, 200, json_pack("{so}", "user", accounts_user_json(r->srv->app, &u, unmask)));
}

/* Applies a change to the target in one transaction with its audit record. */
static void user_change(struct req *r, struct store_user *u, const char *event,
                        const char *detail, bool revoke_sessions)
{
	struct app *a = r->srv->app;
	struct store *st = a->s;
	char obj[200];
	user_label(r, u, obj, sizeof obj);
	int n = 0;
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->user_update(st, u);
	if (rc == 0 && revoke_sessions)
		rc = st->ops->ticket_revoke_user(st, u->tenant_id, u->id, NULL, bw_now(), event, &n);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, u->tenant_id, event, obj, "success", detail);
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	if (revoke_sessions)
		ws_session_ended(r->srv, NULL, u->id, "revoked");
	req_json(r, 200, json_pack("{so}", "user", accounts_user_json(a, u, false)));
}

void h_user_disable(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	if (u.id == r->user.id) {
		req_error(r, 400, "invalid_request", "you cannot disable your own account");
		return;
	}
	u.status = USER_DISABLED;
	user_change(r, &u, "user.disable", NULL, true);
}

void h_user_enable(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	u.status = USER_ACTIVE;
	user_change(r, &u, "user.enable", NULL, false);
}

void h_user_unlock(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	u.locked_until = 0;
	u.failed_count = 0;
	user_change(r, &u, "user.unlock", NULL, false);
}

static void reset_done(struct req *r)
{
	struct create_ctx *c = r->async_ctx;
	struct store_user u;
	if (c->rc) {
		api_store_error(r, c->rc);
		return;
	}
	if (!api_load_target(r, &u))
		return;
	struct app *a = r->srv->app;
	struct store *st = a->s;
	char obj[200];
	user_label(r, &u, obj, sizeof obj);
	int n = 0;
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = accounts_set_password(a, &u, c->hash, true);
	if (rc == 0)
		rc = st->ops->ticket_revoke_user(st, u.tenant_id, u.id, NULL, bw_now(),
		                                 "password_reset", &n);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, u.tenant_id, "user.password_reset", obj, "success",
		                   "{\"one_time\":true}");
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	ws_session_ended(r->srv, NULL, u.id, "revoked");
	req_json(r, 200, json_pack("{ss}", "initial_password", c->password));
}

void h_user_reset_password(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	if (u.id == r->user.id) {
		req_error(r, 400, "invalid_request", "change your own password in your security settings");
		return;
	}
	struct create_ctx *c = req_ctx_new(r, sizeof *c);
	if (!c)
		return;
	req_async(r, hash_work, reset_done, c, create_ctx_free);
}

void h_user_role(struct req *r)
{
	static const char *const allowed[] = { "role", NULL };
	const char *role_s;
	struct store_user u;
	if (!req_only(r, allowed) || !req_str(r, "role", true, 16, &role_s) ||
	    !api_load_target(r, &u))
		return;
	int role = policy_role_parse(role_s);
	char obj[200];
	user_label(r, &u, obj, sizeof obj);
	int rc = policy_role_change_allowed(&r->subj, u.id, u.tenant_id, role);
	if (rc == BW_EINVAL) {
		req_error(r, 400, "invalid_request", "unknown role");
		return;
	}
	if (rc) {
		req_audit(r, "user.role_change", obj, "denied", "{\"reason\":\"own_role\"}");
		req_error(r, 403, "forbidden", "nobody can change their own role");
		return;
	}
	int old = policy_role_parse(u.role);
	if (old == role) {
		req_json(r, 200, json_pack("{so}", "user", accounts_user_json(r->srv->app, &u, false)));
		return;
	}
	/* keep the three-administrator separation staffed */
	if (policy_role_is_admin(old)) {
		int64_t n = 0;
		struct store *st = r->srv->app->s;
		st->ops->user_count_role(st, u.tenant_id, u.role, true, &n);
		if (n <= 1) {
			req_error(r, 409, "conflict", "this is the last active %s; appoint another first",
			          u.role);
			return;
		}
	}
	char detail[96];
	snprintf(detail, sizeof detail, "{\"from\":\"%s\",\"to\":\"%s\"}", u.role,
	         policy_role_name(role));
	snprintf(u.role, sizeof u.role, "%s", policy_role_name(role));
	/* a new role means new rights: existing sessions end */
	user_change(r, &u, "user.role_change", detail, true);
}

void h_user_mfa_reset(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	u.totp_enabled = false;
	u.totp_secret.len = 0;
	u.totp_last_step = 0;
	struct store *st = r->srv->app->s;
	st->ops->recovery_set(st, u.tenant_id, u.id, NULL, 0);
	user_change(r, &u, "user.mfa_reset", NULL, true);
}

void h_user_sessions(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	req_json(r, 200, json_pack("{so}", "sessions", api_sessions_json(r, u.id, r->ticket.hash)));
}

void h_user_sessions_revoke(struct req *r)
{
	struct store_user u;
	if (!api_load_target(r, &u))
		return;
	int n = 0;
	const uint8_t *keep = u.id == r->user.id ? r->ticket.hash : NULL;
	int rc = api_revoke_user_sessions(r, u.id, keep, "revoked_by_admin", &n);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	char obj[200], detail[64];
	user_label(r, &u, obj, sizeof obj);
	snprintf(detail, sizeof detail, "{\"revoked\":%d,\"by\":\"secadmin\"}", n);
	req_audit(r, "auth.ticket_revoked", obj, "success", detail);
	req_json(r, 200, json_pack("{si}", "revoked", n));
}

/* ---- departments -------------------------------------------------------------- */

static int add_dept(void *arg, const struct store_dept *d)
{
	struct req *r = ((void **)arg)[0];
	json_t *arr = ((void **)arg)[1];
	char name[STORE_FIELD_MAX + 1];
	if (keys_open(r->srv->app->kr, d->tenant_id, KEY_CLASS_DATA, "departments", d->id, "name",
	              &d->name, name, sizeof name) != 0)
		snprintf(name, sizeof name, "%s", "");
	json_array_append_new(arr, json_pack("{sI ss so}", "id", (json_int_t)d->id, "name", name,
		"parent_id", d->parent_id ? json_integer(d->parent_id) : json_null()));
	return 0;
}

void h_depts_list(struct req *r)
{
	json_t *arr = json_array();
	void *ctx[2] = { r, arr };
	struct store *st = r->srv->app->s;
	int rc = st->ops->dept_list(st, r->user.tenant_id, add_dept, ctx);
	if (rc) {
		json_decref(arr);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{so}", "departments", arr));
}

void h_depts_create(struct req *r)
{
	static const char *const allowed[] = { "name", "parent_id", NULL };
	const char *name;
	int64_t parent = 0;
	if (!req_only(r, allowed) || !req_str(r, "name", true, STORE_FIELD_MAX, &name) ||
	    !req_int(r, "parent_id", false, 0, INT64_MAX, &parent))
		return;
	size_t cps = bw_utf8_count(name, strlen(name));
	if (cps == 0 || cps > 64) {
		req_error(r, 400, "invalid_request", "name must be 1 to 64 characters");
		return;
	}
	struct app *a = r->srv->app;
	struct store *st = a->s;
	struct store_dept d, p;
	memset(&d, 0, sizeof d);
	d.tenant_id = r->user.tenant_id;
	d.parent_id = parent;
	d.created_at = bw_now();
	if (parent && st->ops->dept_get(st, d.tenant_id, parent, &p) != 0) {
		req_error(r, 400, "invalid_request", "no such parent department");
		return;
	}
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->dept_create(st, &d);   /* sets d.id; name sealed with it below */
	if (rc == 0)
		rc = keys_seal(a->kr, d.tenant_id, KEY_CLASS_DATA, "departments", d.id, "name", name,
		               strlen(name), &d.name);
	if (rc == 0)
		rc = st->ops->dept_update(st, &d);
	char obj[64];
	snprintf(obj, sizeof obj, "department#%lld", (long long)d.id);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, d.tenant_id, "dept.create", obj, "success", NULL);
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{s{sI ss so}}", "department", "id", (json_int_t)d.id,
	                           "name", name, "parent_id", parent ? json_integer(parent) : json_null()));
}

/* ---- policy --------------------------------------------------------------------- */

static void policy_reply(struct req *r, const struct tenant_policy *p, int64_t version)
{
	char *txt = tenant_policy_to_json(p);
	json_error_t e;
	json_t *pj = txt ? json_loads(txt, 0, &e) : NULL;
	free(txt);
	req_json(r, 200, json_pack("{so sI}", "policy", pj ? pj : json_object(), "version",
	                           (json_int_t)version));
}

void h_policy_get(struct req *r)
{
	struct tenant_policy p;
	int64_t v = 0;
	int rc = accounts_policy_get(r->srv->app, r->user.tenant_id, &p, &v);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	policy_reply(r, &p, v);
}

void h_policy_put(struct req *r)
{
	if (!r->json) {
		req_error(r, 400, "invalid_request", "a JSON body is required");
		return;
	}
	struct app *a = r->srv->app;
	struct store *st = a->s;
	struct tenant_policy p, old;
	int64_t v = 0;
	accounts_policy_get(a, r->user.tenant_id, &old, &v);
	p = old;
	char *body = json_dumps(r->json, JSON_COMPACT);
	const char *bad = NULL;
	int rc = body ? tenant_policy_from_json(&p, body, strlen(body), &bad) : BW_ENOMEM;
	free(body);
	if (rc) {
		char safe[48];
		snprintf(safe, sizeof safe, "%.40s", bad ? bad : "policy");
		req_error(r, 400, "invalid_request", "invalid or out-of-range policy field: %s", safe);
		return;
	}
	char *oldj = tenant_policy_to_json(&old), *newj = tenant_policy_to_json(&p);
	if (!oldj || !newj) {
		free(oldj);
		free(newj);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	struct bw_buf detail;
	bw_buf_init(&detail, STORE_DETAIL_MAX);
	bw_buf_printf(&detail, "{\"from\":%s,\"to\":%s}", oldj, newj);
	rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->policy_put(st, r->user.tenant_id, newj, r->user.id, bw_now(), &v);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, r->user.tenant_id, "policy.change", r->tenant.name,
		                   "success", detail.len ? (const char *)detail.data : "{}");
	if (rc == 0)
		rc = st->ops->commit(st);
	accounts_policy_forget(a, r->user.tenant_id);   /* committed or not */
	free(oldj);
	free(newj);
	bw_buf_free(&detail, false);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	policy_reply(r, &p, v);
}

/* ---- audit ------------------------------------------------------------------------- */

static json_t *record_json(const struct store_audit *rec)
{
	json_error_t e;
	json_t *detail = json_loads(rec->detail, 0, &e);
	return json_pack("{sI sI ss ss ss ss ss ss ss so}", "seq", (json_int_t)rec->seq,
		"time_ms", (json_int_t)rec->ts_ms, "event", rec->event, "subject", rec->subject,
		"object", rec->object, "outcome", rec->outcome, "source", rec->source,
		"device", rec->device, "request_id", rec->request_id,
		"detail", detail ? detail : json_object());
}

struct alist { json_t *arr; int64_t last; int n; };

static int add_record(void *arg, const struct store_audit *rec)
{
	struct alist *l = arg;
	json_array_append_new(l->arr, record_json(rec));
	l->last = rec->seq;
	l->n++;
	return 0;
}

static bool audit_filter(struct req *r, struct store_audit_filter *f, char *event, char *subject,
                         int default_limit, int max_limit)
{
	int64_t before, limit, since, until;
	memset(f, 0, sizeof *f);
	f->tenant_id = r->user.tenant_id;
	f->with_installation = true;
	if (!req_query_int(r, "before", 0, INT64_MAX, 0, &before) ||
	    !req_query_int(r, "limit", 1, max_limit, default_limit, &limit) ||
	    !req_query_int(r, "since", 0, INT64_MAX / 1000, 0, &since) ||
	    !req_query_int(r, "until", 0, INT64_MAX / 1000, 0, &until))
		return false;
	f->before_seq = before;
	f->limit = (int)limit;
	f->since_ms = since * 1000;
	f->until_ms = until * 1000;
	if (req_query(r, "event", event, 64))
		f->event_prefix = event;
	if (req_query(r, "subject", subject, 200))
		f->subject = subject;
	return true;
}

void h_audit_list(struct req *r)
{
	struct store_audit_filter f;
	char event[64], subject[200];
	if (!audit_filter(r, &f, event, subject, 100, 1000))
		return;
	struct store *st = r->srv->app->s;
	struct alist l = { .arr = json_array() };
	int rc = st->ops->audit_query(st, &f, add_record, &l);
	if (rc) {
		json_decref(l.arr);
		api_store_error(r, rc);
		return;
	}
	json_t *o = json_pack("{so}", "records", l.arr);
	json_object_set_new(o, "next_before", l.n == f.limit ? json_integer(l.last) : json_null());
	req_json(r, 200, o);
}

void h_audit_verify(struct req *r)
{
	struct app *a = r->srv->app;
	struct audit_verify_result v;
	int rc = audit_verify(a->s, a->audit_pub, a->audit_pub_len, &v);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	char detail[200];
	snprintf(detail, sizeof detail, "{\"ok\":%s,\"records\":%lld}", v.ok ? "true" : "false",
	         (long long)v.records);
	req_audit(r, "audit.verify", "audit-trail", v.ok ? "success" : "failure", detail);
	json_t *o = json_pack("{sb sI sI sI}", "ok", v.ok, "records", (json_int_t)v.records,
	                      "checkpoints", (json_int_t)v.checkpoints,
	                      "unsigned_tail", (json_int_t)v.unsigned_tail);
	json_object_set_new(o, "last_checkpoint", v.last_checkpoint_seq
		? json_pack("{sI sI}", "seq", (json_int_t)v.last_checkpoint_seq, "time_ms",
		            (json_int_t)v.last_checkpoint_ms)
		: json_null());
	if (!v.ok) {
		json_object_set_new(o, "first_bad_seq", json_integer(v.first_bad_seq));
		json_object_set_new(o, "reason", json_string(v.reason));
	}
	req_json(r, 200, o);
}

/* Collects formatted records (the query runs newest first; exports are
 * written oldest first). */
struct export_ctx { char **lines; size_t n, cap; enum audit_format f; const char *host; int rc; };

static int export_one(void *arg, const struct store_audit *rec)
{
	struct export_ctx *c = arg;
	struct bw_buf b;
	bw_buf_init(&b, 64 * 1024);
	if ((c->rc = audit_format_record(rec, c->f, c->host, &b)) != 0) {
		bw_buf_free(&b, false);
		return c->rc;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		char **p = realloc(c->lines, cap * sizeof *p);
		if (!p) {
			bw_buf_free(&b, false);
			return c->rc = BW_ENOMEM;
		}
		c->lines = p;
		c->cap = cap;
	}
	c->lines[c->n++] = (char *)b.data;   /* NUL-terminated by bw_buf */
	return 0;
}

void h_audit_export(struct req *r)
{
	char fmt[16] = "", event[64], subject[200];
	req_query(r, "format", fmt, sizeof fmt);
	enum audit_format f = strcmp(fmt, "syslog") == 0 ? AUDIT_SYSLOG
	                    : strcmp(fmt, "json") == 0 ? AUDIT_JSON : 0;
	if (!f) {
		req_error(r, 400, "invalid_request", "format must be json or syslog");
		return;
	}
	struct store_audit_filter flt;
	if (!audit_filter(r, &flt, event, subject, 10000, 10000))
		return;
	struct export_ctx c = { .f = f, .host = r->srv->hostname };
	struct store *st = r->srv->app->s;
	int rc = st->ops->audit_query(st, &flt, export_one, &c);
	struct bw_buf b;
	bw_buf_init(&b, RESP_BODY_MAX);
	if (rc == 0 && f == AUDIT_JSON)
		rc = bw_buf_append(&b, "[", 1);
	for (size_t i = c.n; rc == 0 && i-- > 0; ) {
		if (f == AUDIT_JSON && i + 1 < c.n)
			rc = bw_buf_append(&b, ",", 1);
		if (rc == 0 && (f == AUDIT_JSON || i + 1 < c.n))
			rc = bw_buf_append(&b, "\n", 1);
		if (rc == 0)
			rc = bw_buf_append(&b, c.lines[i], strlen(c.lines[i]));
	}
	if (rc == 0)
		rc = f == AUDIT_JSON ? bw_buf_append(&b, "\n]\n", 3)
		   : c.n ? bw_buf_append(&b, "\n", 1) : 0;
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i]);
	free(c.lines);
	if (rc) {
		bw_buf_free(&b, false);
		api_store_error(r, rc);
		return;
	}
	char detail[96];
	snprintf(detail, sizeof detail, "{\"format\":\"%s\",\"records\":%zu}", fmt, c.n);
	req_audit(r, "audit.export", "audit-trail", "success", detail);
	char disp[96];
	snprintf(disp, sizeof disp, "attachment; filename=\"bulwark-audit.%s\"",
	         f == AUDIT_JSON ? "json" : "log");
	req_header(r, "content-disposition:", disp);
	req_raw(r, 200, f == AUDIT_JSON ? "application/json; charset=utf-8" : "text/plain; charset=utf-8", &b);
}
