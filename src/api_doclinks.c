/*
 * api_doclinks.c — what a document's owner controls beyond grants: share
 * links, classification labels and their enforced rules, comments anchored
 * to text, client-reported copy/print attempts, and Markdown/HTML
 * import and export with watermarks.
 *
 * Requirement IDs: RG-DOC-e/f (a link never admits an anonymous person; it
 * resolves only for a signed-in user within its scope — named users or
 * departments, members of the tenant, or authenticated guests if policy
 * allows; role, expiry, password, no-download; revocable; every use audited
 * including refusals), RG-DOC-b/c (operation audit: export, copy, print),
 * RG-DOC-d, RG-APP-h, RG-DATA-a/b, WC-CLASS (labels with enforced rules and
 * watermarks).
 */
#include "api.h"
#include "chat.h"
#include "docfmt.h"
#include "docs.h"
#include "keyd.h"
#include "keys.h"
#include "ratelimit.h"
#include "util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINK_TOKEN_LEN 16            /* bytes of randomness: 128 bits */
#define LINK_IDS_MAX 200
#define COMMENT_MAX (4 * 1024)


static bool doc_role(struct req *r, int need, const char *event, int64_t *doc)
{
	if (!api_path_id(r, 0, doc))
		return false;
	int have = docs_role_of(r->srv, r->user.tenant_id, r->user.id, *doc, false);
	if (have < need) {
		api_audit_doc(r, event, *doc, "denied", have == DROLE_NONE ? "{\"reason\":\"no access\"}" : "{\"reason\":\"role\"}");
		if (have == DROLE_NONE)
			req_error(r, 404, "not_found", "no such document");
		else
			req_error(r, 403, "forbidden", "your role on this document does not allow this");
		return false;
	}
	return true;
}

/* The document's label (policy copy in *lbl) and classification name. */
static bool doc_label(struct req *r, int64_t doc, struct doc_label *lbl, struct tenant_policy *p)
{
	accounts_policy_get(r->srv->app, r->user.tenant_id, p, NULL);
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT classification FROM documents WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	char name[32] = "";
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	const struct doc_label *l = tenant_policy_label(p, name);
	if (l) {
		*lbl = *l;
	} else {
		/* a label removed from the policy: the strictest treatment */
		memset(lbl, 0, sizeof *lbl);
		snprintf(lbl->name, sizeof lbl->name, "%s", name);
		lbl->watermark = true;
	}
	if (p->doc_watermark_all)
		lbl->watermark = true;
	return true;
}

static json_t *label_json(const struct doc_label *l)
{
	return json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "name", l->name, "export", l->export_ok, "copy", l->copy_ok,
	                 "print", l->print_ok, "external_links", l->external_links, "watermark", l->watermark);
}

/* ---- classification ----------------------------------------------------------------- */

void h_doc_labels(struct req *r)
{
	struct tenant_policy p;
	accounts_policy_get(r->srv->app, r->user.tenant_id, &p, NULL);
	json_t *arr = json_array();
	for (int i = 0; i < p.doc_labels_n; i++)
		json_array_append_new(arr, label_json(&p.doc_labels[i]));
	req_json(r, 200, json_pack("{s:o,s:b}", "labels", arr, "watermark_all", p.doc_watermark_all));
}

void h_doc_policy(struct req *r)
{
	int64_t doc;
	if (!doc_role(r, DROLE_VIEWER, "doc.policy", &doc))
		return;
	struct doc_label l;
	struct tenant_policy p;
	doc_label(r, doc, &l, &p);
	bool dl = docs_download_allowed(r->srv, r->user.tenant_id, r->user.id, doc);
	json_t *o = label_json(&l);
	json_object_set_new(o, "download", json_boolean(dl && l.export_ok));
	req_json(r, 200, json_pack("{s:o}", "policy", o));
}

void h_doc_classify(struct req *r)
{
	static const char *const allowed[] = { "classification", NULL };
	int64_t doc;
	const char *name;
	if (!req_only(r, allowed) || !req_str(r, "classification", true, 31, &name) ||
	    !doc_role(r, DROLE_OWNER, "doc.classify", &doc))
		return;
	struct tenant_policy p;
	accounts_policy_get(r->srv->app, r->user.tenant_id, &p, NULL);
	if (!tenant_policy_label(&p, name)) {
		req_error(r, 400, "invalid_request", "no such classification label");
		return;
	}
	struct doc_label before;
	doc_label(r, doc, &before, &p);
	sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE documents SET classification = ?1 WHERE id = ?2 AND tenant_id = ?3");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, doc);
	sqlite3_bind_int64(st, 3, r->user.tenant_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	char detail[128];
	snprintf(detail, sizeof detail, "{\"before\":\"%s\",\"after\":\"%s\"}", before.name, name);
	api_audit_doc(r, "doc.classify", doc, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	docs_notify(r->srv, doc, json_pack("{s:s,s:I,s:s}", "type", "doc.policy", "doc", (json_int_t)doc,
	                                   "classification", name));
	req_json(r, 200, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, doc, r->user.id)));
}

/* ---- client-reported copy / print / download attempts (RG-DOC-c) ------------------------------- */

void h_doc_event(struct req *r)
{
	static const char *const allowed[] = { "kind", "blocked", NULL };
	int64_t doc;
	const char *kind;
	bool blocked = false;
	if (!req_only(r, allowed) || !req_str(r, "kind", true, 16, &kind) || !req_bool(r, "blocked", &blocked) ||
	    !doc_role(r, DROLE_VIEWER, "doc.event", &doc))
		return;
	if (strcmp(kind, "copy") != 0 && strcmp(kind, "print") != 0 && strcmp(kind, "download") != 0) {
		req_error(r, 400, "invalid_request", "kind must be copy, print or download");
		return;
	}
	char ev[32];
	snprintf(ev, sizeof ev, "doc.%s", kind);
	api_audit_doc(r, ev, doc, blocked ? "denied" : "success", "{\"reported_by\":\"client\"}");
	req_empty(r, 204);
}

/* ---- export and import ------------------------------------------------------------------------------ */

static void watermark_text(struct req *r, char *out, size_t max)
{
	char when[32];
	time_t t = (time_t)bw_now();
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(out, max, "%s · #%lld · %s", r->user.username, (long long)r->user.id, when);
}

void h_doc_export(struct req *r)
{
	int64_t doc;
	char fmt[8] = "md";
	req_query(r, "format", fmt, sizeof fmt);
	if (!doc_role(r, DROLE_VIEWER, "doc.export", &doc))
		return;
	if (strcmp(fmt, "md") != 0 && strcmp(fmt, "html") != 0) {
		req_error(r, 400, "invalid_request", "format must be md or html");
		return;
	}
	struct doc_label l;
	struct tenant_policy p;
	doc_label(r, doc, &l, &p);
	if (!l.export_ok || !docs_download_allowed(r->srv, r->user.tenant_id, r->user.id, doc)) {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"format\":\"%s\",\"reason\":\"%s\"}", fmt,
		         !l.export_ok ? l.name : "no-download link");
		api_audit_doc(r, "doc.export", doc, "denied", detail);
		req_error(r, 403, "export_forbidden", !l.export_ok
		          ? "this document's classification does not allow export"
		          : "your access to this document does not allow download");
		return;
	}
	json_t *content = NULL, *meta = docs_json(r->srv, r->user.tenant_id, doc, 0);
	int64_t rev;
	int rc = docs_content(r->srv, r->user.tenant_id, doc, &content, &rev);
	char wm[160];
	watermark_text(r, wm, sizeof wm);
	char *out = NULL;
	size_t n = 0;
	const char *title = meta ? json_string_value(json_object_get(meta, "title")) : "";
	if (rc == 0)
		rc = strcmp(fmt, "md") == 0 ? docfmt_to_markdown(content, l.watermark ? wm : NULL, &out, &n)
		                            : docfmt_to_html(content, title, l.watermark ? wm : NULL, &out, &n);
	json_decref(content);
	char detail[128];
	snprintf(detail, sizeof detail, "{\"format\":\"%s\",\"rev\":%lld,\"watermark\":%s}", fmt, (long long)rev,
	         l.watermark ? "true" : "false");
	api_audit_doc(r, "doc.export", doc, rc ? "failure" : "success", detail);
	if (rc) {
		json_decref(meta);
		api_store_error(r, rc);
		return;
	}
	struct bw_buf b;
	bw_buf_init(&b, RESP_BODY_MAX);
	if (bw_buf_append(&b, out, n) != 0) {
		free(out);
		json_decref(meta);
		req_error(r, 500, "internal", "out of memory");
		return;
	}
	sodium_memzero(out, n);
	free(out);
	char cd[200];
	snprintf(cd, sizeof cd, "attachment; filename=\"document-%lld.%s\"", (long long)doc, fmt);
	req_header(r, "content-disposition:", cd);
	req_header(r, "cache-control:", "private, no-store");
	json_decref(meta);
	req_raw(r, 200, strcmp(fmt, "md") == 0 ? "text/markdown; charset=utf-8" : "text/html; charset=utf-8", &b);
}

struct import_ctx { int64_t id; };

static void import_done(struct req *r, int rc, int64_t rev)
{
	struct import_ctx *x = r->async_ctx;
	api_audit_doc(r, "doc.import", x->id, rc ? "failure" : "success", "{\"format\":\"md\"}");
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, x->id, r->user.id)));
}

void h_doc_import(struct req *r)
{
	static const char *const allowed[] = { "title", "markdown", "folder_id", NULL };
	const char *title, *md;
	int64_t folder = 0;
	if (!req_only(r, allowed) || !req_str(r, "title", true, DOCS_TITLE_MAX, &title) ||
	    !req_text(r, "markdown", true, REQ_BODY_MAX, &md) || !req_int(r, "folder_id", false, 0, INT64_MAX, &folder))
		return;
	if (!*title) {
		req_error(r, 400, "invalid_request", "title must not be empty");
		return;
	}
	json_t *content = NULL;
	int rc = docfmt_from_markdown(md, strlen(md), &content);
	if (rc) {
		req_error(r, 400, "invalid_request", "the Markdown cannot be imported");
		return;
	}
	/* create through the documents endpoint's path, then set the content */
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO documents(tenant_id, folder_id, owner, created_at, updated_at)"
	                              " SELECT ?1, ?2, ?3, ?4, ?4 WHERE ?2 = 0 OR EXISTS (SELECT 1 FROM folders"
	                              " WHERE id = ?2 AND tenant_id = ?1)");
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, folder);
	sqlite3_bind_int64(st, 3, r->user.id);
	sqlite3_bind_int64(st, 4, bw_now());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	sqlite3 *db = store_sqlite_handle(r->srv->app->s);
	if (rc == 0 && sqlite3_changes(db) == 0) {
		json_decref(content);
		req_error(r, 400, "invalid_request", "no such folder");
		return;
	}
	int64_t id = sqlite3_last_insert_rowid(db);
	uint8_t *box = NULL;
	size_t bl = 0;
	if (rc == 0)
		rc = keys_seal_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "documents", id, "title",
		                     title, strlen(title), &box, &bl);
	if (rc == 0 && (st = chat_rstmt(r->srv, "UPDATE documents SET title = ?1 WHERE id = ?2"))) {
		sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	free(box);
	struct import_ctx *x = rc ? NULL : req_ctx_new(r, sizeof *x);
	if (x) {
		x->id = id;
		r->async_ctx = x;
		r->async_free = free;
		rc = docs_set_content(r->srv, r->user.tenant_id, id, r->user.id, content, r, import_done);
	}
	json_decref(content);
	if (rc && !r->resp_ready)
		api_store_error(r, rc);
}

/* ---- share links ---------------------------------------------------------------------------------- */

static const char *const scopes[] = { "users", "depts", "tenant", "guests", NULL };

static json_t *link_json(sqlite3_stmt *st)
{
	json_t *ids = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
	return json_pack("{s:I,s:s,s:s,s:o,s:I,s:b,s:b,s:I,s:I,s:I}",
	                 "id", (json_int_t)sqlite3_column_int64(st, 0),
	                 "role", (const char *)sqlite3_column_text(st, 1),
	                 "scope", (const char *)sqlite3_column_text(st, 2), "ids", ids ? ids : json_array(),
	                 "expires_at", (json_int_t)sqlite3_column_int64(st, 4),
	                 "password", sqlite3_column_bytes(st, 5) > 0, "no_download", sqlite3_column_int64(st, 6) != 0,
	                 "created_by", (json_int_t)sqlite3_column_int64(st, 7),
	                 "created_at", (json_int_t)sqlite3_column_int64(st, 8),
	                 "revoked_at", (json_int_t)sqlite3_column_int64(st, 9));
}

void h_doc_links_list(struct req *r)
{
	int64_t doc;
	if (!doc_role(r, DROLE_OWNER, "doc.link.list", &doc))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, role, scope, scope_ids, expires_at, pw_hash, no_download,"
	                              " created_by, created_at, revoked_at FROM doc_links WHERE doc_id = ?1"
	                              " AND tenant_id = ?2 ORDER BY id DESC LIMIT 500");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	json_t *arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, link_json(st));
	sqlite3_reset(st);
	req_json(r, 200, json_pack("{s:o}", "links", arr));
}

struct link_new {
	int64_t doc;
	char role[16], scope[16];
	char *ids;
	int64_t expires_at;
	bool no_download;
	char password[129];
	char pw_hash[CRYPTO_PWHASH_MAX];
	int rc;
};

static void link_new_free(void *p)
{
	struct link_new *x = p;
	free(x->ids);
	sodium_memzero(x, sizeof *x);
	free(x);
}

static void link_hash_work(struct req *r)
{
	struct link_new *x = r->async_ctx;
	x->rc = x->password[0] ? bwc_pwhash(x->password, strlen(x->password), x->pw_hash) : 0;
	sodium_memzero(x->password, sizeof x->password);
}

static void link_token_hash(const char *token, uint8_t out[CRYPTO_HASH_LEN])
{
	struct bwc_hash_ctx c;
	bwc_hash_init(&c);
	bwc_hash_update(&c, "bw-doclink-v1", 13);
	bwc_hash_update(&c, token, strlen(token));
	bwc_hash_final(&c, out);
}

static void link_create_done(struct req *r)
{
	struct link_new *x = r->async_ctx;
	if (x->rc) {
		api_store_error(r, x->rc);
		return;
	}
	uint8_t raw[LINK_TOKEN_LEN], h[CRYPTO_HASH_LEN];
	char token[64];
	bwc_random(raw, sizeof raw);
	bw_b64url_encode(raw, sizeof raw, token);
	sodium_memzero(raw, sizeof raw);
	link_token_hash(token, h);
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO doc_links(tenant_id, doc_id, token_hash, role, scope, scope_ids,"
	                              " expires_at, pw_hash, no_download, created_by, created_at)"
	                              " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)");
	int rc = BW_ESTORE;
	if (st) {
		sqlite3_bind_int64(st, 1, r->user.tenant_id);
		sqlite3_bind_int64(st, 2, x->doc);
		sqlite3_bind_blob(st, 3, h, sizeof h, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, x->role, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, x->scope, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, x->ids, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, x->expires_at);
		sqlite3_bind_text(st, 8, x->pw_hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 9, x->no_download);
		sqlite3_bind_int64(st, 10, r->user.id);
		sqlite3_bind_int64(st, 11, bw_now());
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	int64_t id = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	char detail[600];
	snprintf(detail, sizeof detail, "{\"link\":%lld,\"role\":\"%s\",\"scope\":\"%s\",\"ids\":%.400s,"
	         "\"expires_at\":%lld,\"password\":%s,\"no_download\":%s}", (long long)id, x->role, x->scope,
	         x->ids, (long long)x->expires_at, x->pw_hash[0] ? "true" : "false", x->no_download ? "true" : "false");
	api_audit_doc(r, "doc.link.create", x->doc, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	char url[128];
	snprintf(url, sizeof url, "/#/docs/link/%s", token);
	req_json(r, 201, json_pack("{s:{s:I,s:s,s:s,s:s,s:I}}", "link", "id", (json_int_t)id, "token", token,
	                           "url", url, "role", x->role, "expires_at", (json_int_t)x->expires_at));
	sodium_memzero(token, sizeof token);
}

void h_doc_links_create(struct req *r)
{
	static const char *const allowed[] = { "role", "scope", "ids", "expires_at", "password", "no_download", NULL };
	int64_t doc, expires = 0;
	const char *role, *scope, *pw;
	bool no_dl = false;
	if (!req_only(r, allowed) || !req_str(r, "role", true, 15, &role) || !req_str(r, "scope", true, 15, &scope) ||
	    !req_int(r, "expires_at", false, 0, INT64_MAX, &expires) || !req_str(r, "password", false, 128, &pw) ||
	    !req_bool(r, "no_download", &no_dl) || !doc_role(r, DROLE_OWNER, "doc.link.create", &doc))
		return;
	int rl = docs_role_parse(role);
	if (rl < DROLE_VIEWER || rl > DROLE_EDITOR) {
		req_error(r, 400, "invalid_request", "role must be viewer, commenter or editor");
		return;
	}
	bool scope_ok = false;
	for (int i = 0; scopes[i]; i++)
		scope_ok |= strcmp(scope, scopes[i]) == 0;
	if (!scope_ok) {
		req_error(r, 400, "invalid_request", "scope must be users, depts, tenant or guests");
		return;
	}
	if (expires && expires <= bw_now()) {
		req_error(r, 400, "invalid_request", "expires_at is in the past");
		return;
	}
	struct doc_label l;
	struct tenant_policy p;
	doc_label(r, doc, &l, &p);
	if (strcmp(scope, "guests") == 0 && (!p.doc_links_guests || !l.external_links)) {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", !p.doc_links_guests ? "policy" : l.name);
		api_audit_doc(r, "doc.link.create", doc, "denied", detail);
		req_error(r, 403, "label_forbids", !p.doc_links_guests
		          ? "the organisation's policy does not allow links for guests"
		          : "this document's classification keeps it inside the organisation");
		return;
	}
	/* the ids the scope names: users or departments of this tenant */
	json_t *ids = json_object_get(r->json, "ids");
	bool need_ids = strcmp(scope, "users") == 0 || strcmp(scope, "depts") == 0;
	if (need_ids != (json_is_array(ids) && json_array_size(ids) > 0) ||
	    (ids && !json_is_array(ids)) || (ids && json_array_size(ids) > LINK_IDS_MAX)) {
		req_error(r, 400, "invalid_request", "ids: 1 to %d user or department ids for scope users or depts, none otherwise",
		          LINK_IDS_MAX);
		return;
	}
	size_t i;
	json_t *v;
	struct store *store = r->srv->app->s;
	json_array_foreach(ids, i, v) {
		bool ok = json_is_integer(v) && json_integer_value(v) > 0;
		if (ok && scope[0] == 'u') {
			struct store_user u;
			ok = store->ops->user_get(store, r->user.tenant_id, json_integer_value(v), &u) == 0;
		} else if (ok) {
			struct store_dept d;
			ok = store->ops->dept_get(store, r->user.tenant_id, json_integer_value(v), &d) == 0;
		}
		if (!ok) {
			req_error(r, 400, "invalid_request", "ids[%zu] is not in your organisation", i);
			return;
		}
	}
	struct link_new *x = req_ctx_new(r, sizeof *x);
	if (!x)
		return;
	x->doc = doc;
	snprintf(x->role, sizeof x->role, "%s", role);
	snprintf(x->scope, sizeof x->scope, "%s", scope);
	x->ids = json_dumps(ids ? ids : json_array(), JSON_COMPACT);
	x->expires_at = expires;
	x->no_download = no_dl;
	if (pw)
		snprintf(x->password, sizeof x->password, "%s", pw);
	req_async(r, link_hash_work, link_create_done, x, link_new_free);
}

void h_doc_link_revoke(struct req *r)
{
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT doc_id FROM doc_links WHERE id = ?1 AND tenant_id = ?2");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	int64_t doc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (!doc || docs_role_of(r->srv, r->user.tenant_id, r->user.id, doc, false) < DROLE_OWNER) {
		req_error(r, 404, "not_found", "no such link");
		return;
	}
	st = chat_rstmt(r->srv, "UPDATE doc_links SET revoked_at = ?1 WHERE id = ?2 AND revoked_at = 0");
	sqlite3_bind_int64(st, 1, bw_now());
	sqlite3_bind_int64(st, 2, id);
	sqlite3_step(st);
	sqlite3_reset(st);
	char detail[48];
	snprintf(detail, sizeof detail, "{\"link\":%lld}", (long long)id);
	api_audit_doc(r, "doc.link.revoke", doc, "success", detail);
	docs_reset(r->srv, doc, "permissions");
	req_empty(r, 204);
}

/* Opening a link: every refusal is audited with its reason (RG-DOC-f). */
struct link_open {
	int64_t link_id, doc;
	char role[16];
	char pw_hash[CRYPTO_PWHASH_MAX];
	char password[129];
	int rc;
};

static void link_open_free(void *p)
{
	struct link_open *x = p;
	sodium_memzero(x, sizeof *x);
	free(x);
}

static void link_refuse(struct req *r, int64_t doc, int64_t link, int status, const char *code,
                        const char *why, const char *message)
{
	char detail[128];
	snprintf(detail, sizeof detail, "{\"link\":%lld,\"reason\":\"%s\"}", (long long)link, why);
	api_audit_doc(r, "doc.link.open", doc, "denied", detail);
	req_error(r, status, code, "%s", message);
}

static void link_grant(struct req *r, struct link_open *x)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT OR IGNORE INTO doc_link_access(link_id, user_id, tenant_id, granted_at)"
	                              " VALUES(?1,?2,?3,?4)");
	sqlite3_bind_int64(st, 1, x->link_id);
	sqlite3_bind_int64(st, 2, r->user.id);
	sqlite3_bind_int64(st, 3, r->user.tenant_id);
	sqlite3_bind_int64(st, 4, bw_now());
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	char detail[96];
	snprintf(detail, sizeof detail, "{\"link\":%lld,\"role\":\"%s\"}", (long long)x->link_id, x->role);
	api_audit_doc(r, "doc.link.open", x->doc, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	int role = docs_role_of(r->srv, r->user.tenant_id, r->user.id, x->doc, false);
	req_json(r, 200, json_pack("{s:I,s:s,s:o}", "document_id", (json_int_t)x->doc, "role", docs_role_name(role),
	                           "document", docs_json(r->srv, r->user.tenant_id, x->doc, r->user.id)));
}

static void link_pw_work(struct req *r)
{
	struct link_open *x = r->async_ctx;
	x->rc = bwc_pwhash_verify(x->pw_hash, x->password, strlen(x->password));
	sodium_memzero(x->password, sizeof x->password);
}

static void link_pw_done(struct req *r)
{
	struct link_open *x = r->async_ctx;
	if (x->rc) {
		link_refuse(r, x->doc, x->link_id, 403, "wrong_password", "password", "the link's password is wrong");
		return;
	}
	link_grant(r, x);
}

static bool doc_live(struct req *r, int64_t doc)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT 1 FROM documents WHERE id = ?1 AND tenant_id = ?2 AND deleted_at = 0");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return ok;
}

void h_doc_link_open(struct req *r)
{
	static const char *const allowed[] = { "password", NULL };
	const char *token = r->params[0], *pw;
	if (!token || !req_only(r, allowed) || !req_str(r, "password", false, 128, &pw))
		return;
	uint8_t h[CRYPTO_HASH_LEN];
	link_token_hash(token, h);
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, tenant_id, doc_id, role, scope, scope_ids, expires_at, pw_hash,"
	                              " revoked_at FROM doc_links WHERE token_hash = ?1");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_blob(st, 1, h, sizeof h, SQLITE_TRANSIENT);
	struct link_open *x = req_ctx_new(r, sizeof *x);
	if (!x) {
		sqlite3_reset(st);
		return;
	}
	int64_t tenant = 0, expires = 0, revoked = 0;
	char scope[16] = "", ids[4096] = "[]";
	bool found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		x->link_id = sqlite3_column_int64(st, 0);
		tenant = sqlite3_column_int64(st, 1);
		x->doc = sqlite3_column_int64(st, 2);
		snprintf(x->role, sizeof x->role, "%s", (const char *)sqlite3_column_text(st, 3));
		snprintf(scope, sizeof scope, "%s", (const char *)sqlite3_column_text(st, 4));
		snprintf(ids, sizeof ids, "%s", (const char *)sqlite3_column_text(st, 5));
		expires = sqlite3_column_int64(st, 6);
		snprintf(x->pw_hash, sizeof x->pw_hash, "%s", (const char *)sqlite3_column_text(st, 7));
		revoked = sqlite3_column_int64(st, 8);
	}
	sqlite3_reset(st);
	/* another tenant's link is simply unknown here */
	if (!found || tenant != r->user.tenant_id) {
		link_open_free(x);
		req_audit(r, "doc.link.open", "document", "denied", "{\"reason\":\"unknown link\"}");
		req_error(r, 404, "not_found", "no such link");
		return;
	}
	int retry;
	char key[48];
	snprintf(key, sizeof key, "link:%lld", (long long)x->link_id);
	if (!ratelimit_take(r->srv->rl_login, key, bw_mono_ms(), &retry)) {
		int64_t d = x->doc, l = x->link_id;
		link_open_free(x);
		char ra[16];
		snprintf(ra, sizeof ra, "%d", retry);
		req_header(r, "retry-after:", ra);
		link_refuse(r, d, l, 429, "rate_limited", "rate", "too many attempts; wait a moment");
		return;
	}
	const char *why = NULL;
	struct tenant_policy p;
	accounts_policy_get(r->srv->app, r->user.tenant_id, &p, NULL);
	bool guest = r->subj.role == ROLE_GUEST;
	if (revoked)
		why = "revoked";
	else if (expires && expires <= bw_now())
		why = "expired";
	else if (!doc_live(r, x->doc))
		why = "document gone";
	else if (strcmp(scope, "guests") == 0) {
		if (!p.doc_links_guests)
			why = "guests not allowed by policy";
	} else if (guest) {
		why = "out of scope";
	} else if (strcmp(scope, "users") == 0 || strcmp(scope, "depts") == 0) {
		int64_t want = scope[0] == 'u' ? r->user.id : r->user.dept_id;
		json_t *arr = json_loads(ids, 0, NULL);
		size_t i;
		json_t *v;
		bool in = false;
		json_array_foreach(arr, i, v)
			in |= want > 0 && json_integer_value(v) == want;
		json_decref(arr);
		if (!in)
			why = "out of scope";
	}
	if (why) {
		int64_t d = x->doc, l = x->link_id;
		link_open_free(x);
		bool gone = strcmp(why, "revoked") == 0 || strcmp(why, "expired") == 0;
		link_refuse(r, d, l, gone ? 410 : 403, gone ? "link_expired" : "forbidden", why,
		            gone ? "this link has expired or was revoked"
		                 : "this link is not for you; ask the owner for access");
		return;
	}
	if (x->pw_hash[0]) {
		if (!pw) {
			int64_t d = x->doc, l = x->link_id;
			link_open_free(x);
			link_refuse(r, d, l, 401, "password_required", "no password", "this link needs a password");
			return;
		}
		snprintf(x->password, sizeof x->password, "%s", pw);
		req_async(r, link_pw_work, link_pw_done, x, link_open_free);
		return;
	}
	r->async_ctx = x;
	r->async_free = link_open_free;
	link_grant(r, x);
}

/* ---- comments ------------------------------------------------------------------------------------ */

static json_t *comment_json(struct req *r, sqlite3_stmt *st, int64_t doc)
{
	int64_t id = sqlite3_column_int64(st, 0);
	char *body = NULL;
	size_t bl = 0;
	keys_open_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "doc_comments", id, "body",
	                sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3), &body, &bl);
	int64_t index = sqlite3_column_int64(st, 4), length = sqlite3_column_int64(st, 5), rev = sqlite3_column_int64(st, 6);
	int64_t old_rev = rev;
	bool ok = docs_anchor_now(r->srv, r->user.tenant_id, doc, &index, &length, &rev);
	if (ok && rev != old_rev) {
		/* keep the anchor current so the next read transforms less */
		sqlite3_stmt *u = chat_rstmt(r->srv, "UPDATE doc_comments SET anchor_index = ?1, anchor_length = ?2,"
		                             " anchor_rev = ?3 WHERE id = ?4");
		if (u) {
			sqlite3_bind_int64(u, 1, index);
			sqlite3_bind_int64(u, 2, length);
			sqlite3_bind_int64(u, 3, rev);
			sqlite3_bind_int64(u, 4, id);
			sqlite3_step(u);
			sqlite3_reset(u);
		}
	}
	json_t *o = json_pack("{s:I,s:I,s:I,s:s,s:{s:I,s:I,s:I},s:b,s:I}", "id", (json_int_t)id,
	                      "parent_id", (json_int_t)sqlite3_column_int64(st, 1),
	                      "author", (json_int_t)sqlite3_column_int64(st, 2), "body", body ? body : "",
	                      "anchor", "index", (json_int_t)index, "length", (json_int_t)length, "rev", (json_int_t)rev,
	                      "resolved", sqlite3_column_int64(st, 7) != 0,
	                      "created_at", (json_int_t)sqlite3_column_int64(st, 8));
	if (body) {
		sodium_memzero(body, bl);
		free(body);
	}
	return o;
}

#define COMMENT_COLS "id, parent_id, author, body, anchor_index, anchor_length, anchor_rev, resolved, created_at"

void h_doc_comments(struct req *r)
{
	int64_t doc;
	if (!doc_role(r, DROLE_VIEWER, "doc.comment.read", &doc))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT " COMMENT_COLS " FROM doc_comments WHERE doc_id = ?1"
	                              " AND tenant_id = ?2 ORDER BY id LIMIT 2000");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, doc);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	/* read the rows first: comment_json uses other statements */
	int64_t ids[2000];
	int n = 0;
	while (n < 2000 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *one = chat_rstmt(r->srv, "SELECT " COMMENT_COLS " FROM doc_comments WHERE id = ?1");
		sqlite3_bind_int64(one, 1, ids[i]);
		if (sqlite3_step(one) == SQLITE_ROW) {
			json_t *o = comment_json(r, one, doc);
			sqlite3_reset(one);
			if (o)
				json_array_append_new(arr, o);
		} else {
			sqlite3_reset(one);
		}
	}
	req_json(r, 200, json_pack("{s:o}", "comments", arr));
}

static void comment_reply(struct req *r, int status, int64_t doc, int64_t id, const char *event)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT " COMMENT_COLS " FROM doc_comments WHERE id = ?1");
	sqlite3_bind_int64(st, 1, id);
	json_t *o = sqlite3_step(st) == SQLITE_ROW ? comment_json(r, st, doc) : NULL;
	sqlite3_reset(st);
	if (!o) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	docs_notify(r->srv, doc, json_pack("{s:s,s:I,s:s,s:O}", "type", "doc.comment", "doc", (json_int_t)doc,
	                                   "change", event, "comment", o));
	req_json(r, status, json_pack("{s:o}", "comment", o));
}

void h_doc_comment_create(struct req *r)
{
	static const char *const allowed[] = { "body", "anchor", "parent_id", NULL };
	int64_t doc, parent = 0;
	const char *body;
	if (!req_only(r, allowed) || !req_text(r, "body", true, COMMENT_MAX, &body) ||
	    !req_int(r, "parent_id", false, 0, INT64_MAX, &parent) ||
	    !doc_role(r, DROLE_COMMENTER, "doc.comment.create", &doc))
		return;
	if (!*body) {
		req_error(r, 400, "invalid_request", "the comment is empty");
		return;
	}
	json_t *a = json_object_get(r->json, "anchor");
	json_t *ai = json_object_get(a, "index"), *al = json_object_get(a, "length"), *ar = json_object_get(a, "rev");
	if (!parent && (!json_is_integer(ai) || !json_is_integer(al) || !json_is_integer(ar) ||
	                json_integer_value(ai) < 0 || json_integer_value(al) < 0 || json_integer_value(ar) < 0)) {
		req_error(r, 400, "invalid_request", "anchor must be {index, length, rev}");
		return;
	}
	int64_t index = json_integer_value(ai), length = json_integer_value(al), rev = json_integer_value(ar);
	if (parent) {
		sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT anchor_index, anchor_length, anchor_rev FROM doc_comments"
		                              " WHERE id = ?1 AND doc_id = ?2 AND parent_id = 0");
		sqlite3_bind_int64(st, 1, parent);
		sqlite3_bind_int64(st, 2, doc);
		bool ok = sqlite3_step(st) == SQLITE_ROW;
		if (ok) {
			index = sqlite3_column_int64(st, 0);
			length = sqlite3_column_int64(st, 1);
			rev = sqlite3_column_int64(st, 2);
		}
		sqlite3_reset(st);
		if (!ok) {
			req_error(r, 400, "invalid_request", "parent_id is not a comment of this document");
			return;
		}
	}
	/* the anchor must lie in the document as of its revision */
	int64_t cur_i = index, cur_l = length, cur_r = rev;
	json_t *content = NULL;
	int64_t head;
	if (docs_content(r->srv, r->user.tenant_id, doc, &content, &head) != 0 || rev > head ||
	    !docs_anchor_now(r->srv, r->user.tenant_id, doc, &cur_i, &cur_l, &cur_r)) {
		json_decref(content);
		req_error(r, 400, "invalid_request", "the anchor's revision is unknown");
		return;
	}
	json_decref(content);
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO doc_comments(tenant_id, doc_id, parent_id, author, body,"
	                              " anchor_index, anchor_length, anchor_rev, created_at) VALUES(?1,?2,?3,?4,x'',?5,?6,?7,?8)");
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, doc);
	sqlite3_bind_int64(st, 3, parent);
	sqlite3_bind_int64(st, 4, r->user.id);
	sqlite3_bind_int64(st, 5, cur_i);
	sqlite3_bind_int64(st, 6, cur_l);
	sqlite3_bind_int64(st, 7, cur_r);
	sqlite3_bind_int64(st, 8, bw_now());
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	int64_t id = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	uint8_t *box = NULL;
	size_t bl = 0;
	if (rc == 0)
		rc = keys_seal_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "doc_comments", id, "body",
		                     body, strlen(body), &box, &bl);
	if (rc == 0 && (st = chat_rstmt(r->srv, "UPDATE doc_comments SET body = ?1 WHERE id = ?2"))) {
		sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	free(box);
	char detail[64];
	snprintf(detail, sizeof detail, "{\"comment\":%lld,\"reply\":%s}", (long long)id, parent ? "true" : "false");
	api_audit_doc(r, "doc.comment.create", doc, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	comment_reply(r, 201, doc, id, "created");
}

void h_doc_comment_patch(struct req *r)
{
	static const char *const allowed[] = { "resolved", NULL };
	int64_t doc, id;
	bool resolved;
	if (!req_only(r, allowed) || !api_path_id(r, 1, &id) ||
	    !doc_role(r, DROLE_COMMENTER, "doc.comment.resolve", &doc))
		return;
	json_t *v = json_object_get(r->json, "resolved");
	if (!json_is_boolean(v)) {
		req_error(r, 400, "invalid_request", "resolved must be true or false");
		return;
	}
	resolved = json_is_true(v);
	sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE doc_comments SET resolved = ?1 WHERE id = ?2 AND doc_id = ?3"
	                              " AND tenant_id = ?4 AND parent_id = 0");
	sqlite3_bind_int64(st, 1, resolved);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, doc);
	sqlite3_bind_int64(st, 4, r->user.tenant_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	int changed = sqlite3_changes(store_sqlite_handle(r->srv->app->s));
	sqlite3_reset(st);
	if (rc || !changed) {
		req_error(r, 404, "not_found", "no such comment");
		return;
	}
	char detail[64];
	snprintf(detail, sizeof detail, "{\"comment\":%lld,\"resolved\":%s}", (long long)id, resolved ? "true" : "false");
	api_audit_doc(r, resolved ? "doc.comment.resolve" : "doc.comment.reopen", doc, "success", detail);
	comment_reply(r, 200, doc, id, resolved ? "resolved" : "reopened");
}
