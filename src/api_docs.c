/*
 * api_docs.c — the documents REST endpoints: folders, documents (create,
 * open, rename, move, duplicate, trash, restore, purge), permissions and
 * versions (docs/collab.md).
 *
 * Requirement IDs: RG-DOC-a (titles, folder names, content sealed under the
 * tenant key), RG-DOC-b/c (every operation audited with account, document,
 * operation, outcome, time and source address — refusals too), RG-DOC-g
 * (versions, trash for the policy period, early purge only by a security
 * administrator), RG-DOC-h (roles owner/editor/commenter/viewer granted to
 * users, departments or the tenant, checked on every operation).
 */
#include "api.h"
#include "chat.h"
#include "docs.h"
#include "keyd.h"
#include "keys.h"
#include "ot.h"
#include "util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define GRANTS_MAX 200
#define LIST_MAX 1000


/* The document of the path with at least `need`; answers 404/403 itself
 * (and audits the refusal). */
static bool need_role(struct req *r, int need, const char *event, int64_t *doc, int *role, bool trash)
{
	if (!api_path_id(r, 0, doc))
		return false;
	int have = docs_role_of(r->srv, r->user.tenant_id, r->user.id, *doc, trash);
	if (have == DROLE_NONE) {
		api_audit_doc(r, event, *doc, "denied", "{\"reason\":\"no access\"}");
		req_error(r, 404, "not_found", "no such document");
		return false;
	}
	if (have < need) {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"reason\":\"role\",\"have\":\"%s\",\"need\":\"%s\"}",
		         docs_role_name(have), docs_role_name(need));
		api_audit_doc(r, event, *doc, "denied", detail);
		req_error(r, 403, "forbidden", "your role on this document does not allow this");
		return false;
	}
	if (role)
		*role = have;
	return true;
}

static int seal_into(struct req *r, const char *sql, const char *table, int64_t id, const char *col,
                     const char *pt)
{
	uint8_t *box = NULL;
	size_t bl = 0;
	int rc = keys_seal_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, table, id, col,
	                         pt, strlen(pt), &box, &bl);
	if (rc)
		return rc;
	sqlite3_stmt *st = chat_rstmt(r->srv, sql);
	if (!st) {
		free(box);
		return BW_ESTORE;
	}
	sqlite3_bind_blob(st, 1, box, (int)bl, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_int64(st, 3, r->user.tenant_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	free(box);
	return rc;
}

static bool title_ok(struct req *r, const char *key, bool required, const char **out)
{
	if (!req_str(r, key, required, DOCS_TITLE_MAX, out))
		return false;
	if (*out && !**out) {
		req_error(r, 400, "invalid_request", "%s must not be empty", key);
		return false;
	}
	return true;
}

/* ---- folders ------------------------------------------------------------------ */

static json_t *folder_json(struct req *r, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, 0);
	char *name = NULL;
	size_t nl = 0;
	if (sqlite3_column_bytes(st, 2) > 0)
		keys_open_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "folders", id, "name",
		                sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), &name, &nl);
	json_t *o = json_pack("{s:I,s:I,s:s,s:I,s:I}", "id", (json_int_t)id,
	                      "parent_id", (json_int_t)sqlite3_column_int64(st, 1), "name", name ? name : "",
	                      "created_by", (json_int_t)sqlite3_column_int64(st, 3),
	                      "created_at", (json_int_t)sqlite3_column_int64(st, 4));
	free(name);
	return o;
}

void h_folders_list(struct req *r)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, parent_id, name, created_by, created_at FROM folders"
	                              " WHERE tenant_id = ?1 ORDER BY id LIMIT 1000");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	json_t *arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, folder_json(r, st));
	sqlite3_reset(st);
	req_json(r, 200, json_pack("{s:o}", "folders", arr));
}

static bool folder_exists(struct req *r, int64_t id)
{
	if (id == 0)
		return true;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT 1 FROM folders WHERE id = ?1 AND tenant_id = ?2");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return ok;
}

static void folder_reply(struct req *r, int status, int64_t id)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, parent_id, name, created_by, created_at FROM folders"
	                              " WHERE id = ?1 AND tenant_id = ?2");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	json_t *o = sqlite3_step(st) == SQLITE_ROW ? folder_json(r, st) : NULL;
	sqlite3_reset(st);
	if (!o) {
		req_error(r, 404, "not_found", "no such folder");
		return;
	}
	req_json(r, status, json_pack("{s:o}", "folder", o));
}

void h_folders_create(struct req *r)
{
	static const char *const allowed[] = { "name", "parent_id", NULL };
	const char *name;
	int64_t parent = 0;
	if (!req_only(r, allowed) || !title_ok(r, "name", true, &name) ||
	    !req_int(r, "parent_id", false, 0, INT64_MAX, &parent))
		return;
	if (!folder_exists(r, parent)) {
		req_error(r, 400, "invalid_request", "no such parent folder");
		return;
	}
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO folders(tenant_id, parent_id, name, created_by, created_at)"
	                              " VALUES(?1,?2,x'',?3,?4)");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, parent);
	sqlite3_bind_int64(st, 3, r->user.id);
	sqlite3_bind_int64(st, 4, bw_now());
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	int64_t id = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	if (rc == 0)
		rc = seal_into(r, "UPDATE folders SET name = ?1 WHERE id = ?2 AND tenant_id = ?3", "folders", id, "name", name);
	char object[32];
	snprintf(object, sizeof object, "folder:%lld", (long long)id);
	req_audit(r, "doc.folder.create", object, rc ? "failure" : "success", NULL);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	folder_reply(r, 201, id);
}

void h_folder_patch(struct req *r)
{
	static const char *const allowed[] = { "name", "parent_id", NULL };
	int64_t id, parent = -1;
	const char *name;
	if (!api_path_id(r, 0, &id) || !req_only(r, allowed) || !title_ok(r, "name", false, &name) ||
	    !req_int(r, "parent_id", false, 0, INT64_MAX, &parent))
		return;
	if (!folder_exists(r, id)) {
		req_error(r, 404, "not_found", "no such folder");
		return;
	}
	if (parent >= 0) {
		/* no cycles: the new parent must not be the folder or below it */
		int64_t p = parent;
		for (int depth = 0; p != 0 && depth < 64; depth++) {
			if (p == id || !folder_exists(r, p)) {
				req_error(r, 400, "invalid_request", "that parent would make a cycle or does not exist");
				return;
			}
			sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT parent_id FROM folders WHERE id = ?1 AND tenant_id = ?2");
			sqlite3_bind_int64(st, 1, p);
			sqlite3_bind_int64(st, 2, r->user.tenant_id);
			p = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
			sqlite3_reset(st);
		}
		sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE folders SET parent_id = ?1 WHERE id = ?2 AND tenant_id = ?3");
		sqlite3_bind_int64(st, 1, parent);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, r->user.tenant_id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	int rc = name ? seal_into(r, "UPDATE folders SET name = ?1 WHERE id = ?2 AND tenant_id = ?3", "folders", id,
	                          "name", name) : 0;
	char object[32];
	snprintf(object, sizeof object, "folder:%lld", (long long)id);
	req_audit(r, "doc.folder.update", object, rc ? "failure" : "success", NULL);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	folder_reply(r, 200, id);
}

void h_folder_delete(struct req *r)
{
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return;
	if (!folder_exists(r, id)) {
		req_error(r, 404, "not_found", "no such folder");
		return;
	}
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT (SELECT COUNT(*) FROM documents WHERE folder_id = ?1 AND tenant_id = ?2)"
	                              " + (SELECT COUNT(*) FROM folders WHERE parent_id = ?1 AND tenant_id = ?2)");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
	sqlite3_reset(st);
	if (n) {
		req_error(r, 409, "not_empty", "the folder is not empty");
		return;
	}
	st = chat_rstmt(r->srv, "DELETE FROM folders WHERE id = ?1 AND tenant_id = ?2");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	sqlite3_step(st);
	sqlite3_reset(st);
	char object[32];
	snprintf(object, sizeof object, "folder:%lld", (long long)id);
	req_audit(r, "doc.folder.delete", object, "success", NULL);
	req_empty(r, 204);
}

/* ---- documents ------------------------------------------------------------------- */

void h_docs_list(struct req *r)
{
	char trash[4] = "";
	int64_t folder;
	req_query(r, "trash", trash, sizeof trash);
	if (!req_query_int(r, "folder", 0, INT64_MAX, -1, &folder))
		return;
	bool in_trash = strcmp(trash, "1") == 0;
	sqlite3_stmt *st = in_trash
		? chat_rstmt(r->srv, "SELECT id FROM documents WHERE tenant_id = ?1 AND owner = ?2 AND deleted_at != 0"
		             " ORDER BY deleted_at DESC LIMIT 1000")
		: chat_rstmt(r->srv, "SELECT id FROM documents WHERE tenant_id = ?1 AND deleted_at = 0"
		             " AND (?3 < 0 OR folder_id = ?3) ORDER BY updated_at DESC LIMIT 5000");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, r->user.id);
	if (!in_trash)
		sqlite3_bind_int64(st, 3, folder);
	int64_t *ids = calloc(5000, sizeof *ids);
	int n = 0;
	while (ids && n < 5000 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	json_t *arr = json_array();
	for (int i = 0; ids && i < n && json_array_size(arr) < LIST_MAX; i++) {
		if (!in_trash && docs_role_of(r->srv, r->user.tenant_id, r->user.id, ids[i], false) == DROLE_NONE)
			continue;
		json_t *o = docs_json(r->srv, r->user.tenant_id, ids[i], r->user.id);
		if (o)
			json_array_append_new(arr, o);
	}
	free(ids);
	req_json(r, 200, json_pack("{s:o}", "documents", arr));
}

static int64_t doc_insert(struct req *r, const char *title, int64_t folder, int *rc)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO documents(tenant_id, folder_id, owner, created_at, updated_at)"
	                              " VALUES(?1,?2,?3,?4,?4)");
	if (!st) {
		*rc = BW_ESTORE;
		return 0;
	}
	sqlite3_bind_int64(st, 1, r->user.tenant_id);
	sqlite3_bind_int64(st, 2, folder);
	sqlite3_bind_int64(st, 3, r->user.id);
	sqlite3_bind_int64(st, 4, bw_now());
	*rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	int64_t id = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	if (*rc == 0)
		*rc = seal_into(r, "UPDATE documents SET title = ?1 WHERE id = ?2 AND tenant_id = ?3", "documents",
		                id, "title", title);
	return id;
}

void h_docs_create(struct req *r)
{
	static const char *const allowed[] = { "title", "folder_id", NULL };
	const char *title;
	int64_t folder = 0;
	if (!req_only(r, allowed) || !title_ok(r, "title", true, &title) ||
	    !req_int(r, "folder_id", false, 0, INT64_MAX, &folder))
		return;
	if (!folder_exists(r, folder)) {
		req_error(r, 400, "invalid_request", "no such folder");
		return;
	}
	int rc;
	int64_t id = doc_insert(r, title, folder, &rc);
	api_audit_doc(r, "doc.create", id, rc ? "failure" : "success", NULL);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, id, r->user.id)));
}

void h_doc_get(struct req *r)
{
	int64_t id;
	if (!need_role(r, DROLE_VIEWER, "doc.open", &id, NULL, false))
		return;
	json_t *content = NULL;
	int64_t rev = 0;
	int rc = docs_content(r->srv, r->user.tenant_id, id, &content, &rev);
	api_audit_doc(r, "doc.open", id, rc ? "failure" : "success", "{\"via\":\"api\"}");
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{s:o,s:o,s:I}", "document", docs_json(r->srv, r->user.tenant_id, id, r->user.id),
	                           "content", content, "rev", (json_int_t)rev));
}

void h_doc_patch(struct req *r)
{
	static const char *const allowed[] = { "title", "folder_id", NULL };
	int64_t id, folder = -1;
	const char *title;
	if (!req_only(r, allowed) || !title_ok(r, "title", false, &title) ||
	    !req_int(r, "folder_id", false, 0, INT64_MAX, &folder) ||
	    !need_role(r, DROLE_EDITOR, title ? "doc.rename" : "doc.move", &id, NULL, false))
		return;
	if (folder >= 0 && !folder_exists(r, folder)) {
		req_error(r, 400, "invalid_request", "no such folder");
		return;
	}
	int rc = 0;
	if (title) {
		rc = seal_into(r, "UPDATE documents SET title = ?1 WHERE id = ?2 AND tenant_id = ?3", "documents", id,
		               "title", title);
		api_audit_doc(r, "doc.rename", id, rc ? "failure" : "success", NULL);
	}
	if (rc == 0 && folder >= 0) {
		sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE documents SET folder_id = ?1 WHERE id = ?2 AND tenant_id = ?3");
		sqlite3_bind_int64(st, 1, folder);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, r->user.tenant_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
		char detail[64];
		snprintf(detail, sizeof detail, "{\"folder\":%lld}", (long long)folder);
		api_audit_doc(r, "doc.move", id, rc ? "failure" : "success", detail);
	}
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, id, r->user.id)));
}

struct dup_ctx { int64_t id; };

static void dup_done(struct req *r, int rc, int64_t rev)
{
	struct dup_ctx *x = r->async_ctx;
	api_audit_doc(r, "doc.duplicate", x->id, rc ? "failure" : "success", NULL);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, x->id, r->user.id)));
}

void h_doc_duplicate(struct req *r)
{
	static const char *const allowed[] = { "title", NULL };
	int64_t id;
	const char *title;
	if (!req_only(r, allowed) || !title_ok(r, "title", false, &title) ||
	    !need_role(r, DROLE_VIEWER, "doc.duplicate", &id, NULL, false))
		return;
	json_t *content = NULL;
	int64_t rev;
	json_t *src = docs_json(r->srv, r->user.tenant_id, id, 0);
	int rc = docs_content(r->srv, r->user.tenant_id, id, &content, &rev);
	char tbuf[DOCS_TITLE_MAX + 16];
	snprintf(tbuf, sizeof tbuf, "%s", title ? title : json_string_value(json_object_get(src, "title")));
	json_decref(src);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	int64_t nid = doc_insert(r, tbuf, 0, &rc);
	struct dup_ctx *x = rc ? NULL : req_ctx_new(r, sizeof *x);
	if (x) {
		x->id = nid;
		r->async_ctx = x;
		r->async_free = free;
		rc = docs_set_content(r->srv, r->user.tenant_id, nid, r->user.id, content, r, dup_done);
	}
	json_decref(content);
	if (rc && !r->resp_ready)
		api_store_error(r, rc);
}

void h_doc_delete(struct req *r)
{
	int64_t id;
	if (!need_role(r, DROLE_OWNER, "doc.delete", &id, NULL, false))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE documents SET deleted_at = ?1, deleted_by = ?2 WHERE id = ?3"
	                              " AND tenant_id = ?4 AND deleted_at = 0");
	sqlite3_bind_int64(st, 1, bw_now());
	sqlite3_bind_int64(st, 2, r->user.id);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, r->user.tenant_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	docs_reset(r->srv, id, "deleted");
	api_audit_doc(r, "doc.delete", id, rc ? "failure" : "success", "{\"to\":\"trash\"}");
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_empty(r, 204);
}

void h_doc_restore(struct req *r)
{
	int64_t id;
	if (!need_role(r, DROLE_OWNER, "doc.restore", &id, NULL, true))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "UPDATE documents SET deleted_at = 0, deleted_by = 0 WHERE id = ?1"
	                              " AND tenant_id = ?2 AND deleted_at != 0");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	int changed = sqlite3_changes(store_sqlite_handle(r->srv->app->s));
	sqlite3_reset(st);
	api_audit_doc(r, "doc.restore", id, rc || !changed ? "failure" : "success", NULL);
	if (rc || !changed) {
		req_error(r, 409, "not_in_trash", "the document is not in the trash");
		return;
	}
	req_json(r, 200, json_pack("{s:o}", "document", docs_json(r->srv, r->user.tenant_id, id, r->user.id)));
}

int docs_destroy(struct srv *s, int64_t tenant_id, int64_t doc_id);

void h_doc_purge(struct req *r)
{
	/* route permission PERM_DOCS_ADMIN: security administrators only */
	int64_t id;
	if (!api_path_id(r, 0, &id))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT 1 FROM documents WHERE id = ?1 AND tenant_id = ?2");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	bool exists = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	if (!exists) {
		req_error(r, 404, "not_found", "no such document");
		return;
	}
	int rc = docs_destroy(r->srv, r->user.tenant_id, id);
	api_audit_doc(r, "doc.purge", id, rc ? "failure" : "success", "{\"reason\":\"security administrator\"}");
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_empty(r, 204);
}

/* ---- permissions ------------------------------------------------------------------ */

static json_t *grants_json(struct req *r, int64_t id)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT kind, subject, role FROM doc_grants WHERE doc_id = ?1"
	                              " AND tenant_id = ?2 ORDER BY kind, subject");
	json_t *arr = json_array();
	if (!st)
		return arr;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "kind", (const char *)sqlite3_column_text(st, 0),
		                      "id", (json_int_t)sqlite3_column_int64(st, 1),
		                      "role", (const char *)sqlite3_column_text(st, 2)));
	sqlite3_reset(st);
	return arr;
}

void h_doc_perms_get(struct req *r)
{
	int64_t id;
	if (!need_role(r, DROLE_VIEWER, "doc.permission.read", &id, NULL, false))
		return;
	req_json(r, 200, json_pack("{s:o}", "grants", grants_json(r, id)));
}

void h_doc_perms_put(struct req *r)
{
	static const char *const allowed[] = { "grants", NULL };
	int64_t id;
	if (!req_only(r, allowed) || !need_role(r, DROLE_OWNER, "doc.permission", &id, NULL, false))
		return;
	json_t *g = json_object_get(r->json, "grants");
	if (!json_is_array(g) || json_array_size(g) > GRANTS_MAX) {
		req_error(r, 400, "invalid_request", "grants must be an array of at most %d entries", GRANTS_MAX);
		return;
	}
	size_t i;
	json_t *e;
	struct store *store = r->srv->app->s;
	json_array_foreach(g, i, e) {
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *role = json_string_value(json_object_get(e, "role"));
		json_t *idv = json_object_get(e, "id");
		int rl = docs_role_parse(role);
		if (!json_is_object(e) || json_object_size(e) != 3 || !kind || !json_is_integer(idv) ||
		    json_integer_value(idv) < 0 || rl == DROLE_NONE || rl == DROLE_OWNER) {
			req_error(r, 400, "invalid_request", "each grant is {kind, id, role} with role viewer, commenter or editor");
			return;
		}
		int64_t sid = json_integer_value(idv);
		bool ok = false;
		if (strcmp(kind, "user") == 0) {
			struct store_user u;
			ok = store->ops->user_get(store, r->user.tenant_id, sid, &u) == 0 &&
			     strcmp(u.role, "auditadmin") != 0;
		} else if (strcmp(kind, "dept") == 0) {
			struct store_dept d;
			ok = store->ops->dept_get(store, r->user.tenant_id, sid, &d) == 0;
		} else if (strcmp(kind, "tenant") == 0) {
			ok = sid == 0;
		}
		if (!ok) {
			req_error(r, 400, "invalid_request", "grant %zu names nobody in your organisation", i);
			return;
		}
	}
	json_t *before = grants_json(r, id);
	int rc = store->ops->begin(store, true);
	sqlite3_stmt *st = rc ? NULL : chat_rstmt(r->srv, "DELETE FROM doc_grants WHERE doc_id = ?1 AND tenant_id = ?2");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->user.tenant_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	json_array_foreach(g, i, e) {
		if (rc)
			break;
		st = chat_rstmt(r->srv, "INSERT OR REPLACE INTO doc_grants(doc_id, tenant_id, kind, subject, role)"
		                " VALUES(?1,?2,?3,?4,?5)");
		if (!st) {
			rc = BW_ESTORE;
			break;
		}
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, r->user.tenant_id);
		sqlite3_bind_text(st, 3, json_string_value(json_object_get(e, "kind")), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(e, "id")));
		sqlite3_bind_text(st, 5, json_string_value(json_object_get(e, "role")), -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
		sqlite3_reset(st);
	}
	if (rc == 0)
		rc = store->ops->commit(store);
	else
		store->ops->rollback(store);
	json_t *after = grants_json(r, id);
	json_t *dj = json_pack("{s:o,s:o}", "before", before, "after", json_incref(after));
	char *dt = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
	if (dt && strlen(dt) >= STORE_DETAIL_MAX - 1) {
		free(dt);
		dt = strdup("{\"note\":\"grants too long for the record\"}");
	}
	api_audit_doc(r, "doc.permission", id, rc ? "failure" : "success", dt);
	free(dt);
	json_decref(dj);
	if (rc) {
		json_decref(after);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{s:o}", "grants", after));
}

/* ---- versions ------------------------------------------------------------------------ */

static json_t *version_json(struct req *r, sqlite3_stmt *st, int label_col)
{
	int64_t vid = sqlite3_column_int64(st, 0);
	char *label = NULL;
	size_t ll = 0;
	if (sqlite3_column_type(st, label_col) == SQLITE_BLOB && sqlite3_column_bytes(st, label_col) > 0)
		keys_open_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "doc_versions", vid, "label",
		                sqlite3_column_blob(st, label_col), (size_t)sqlite3_column_bytes(st, label_col), &label, &ll);
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s}", "id", (json_int_t)vid, "rev", (json_int_t)sqlite3_column_int64(st, 1),
	                      "created_at", (json_int_t)sqlite3_column_int64(st, 2),
	                      "created_by", (json_int_t)sqlite3_column_int64(st, 3), "label", label ? label : "");
	free(label);
	return o;
}

void h_doc_versions(struct req *r)
{
	int64_t id;
	if (!need_role(r, DROLE_VIEWER, "doc.versions", &id, NULL, false))
		return;
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, rev, created_at, created_by, label FROM doc_versions"
	                              " WHERE doc_id = ?1 AND tenant_id = ?2 ORDER BY id DESC LIMIT 500");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	json_t *arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, version_json(r, st, 4));
	sqlite3_reset(st);
	req_json(r, 200, json_pack("{s:o}", "versions", arr));
}

/* The content of a version (new reference) or NULL after answering. */
static json_t *version_content(struct req *r, int64_t doc, int64_t vid, json_t **meta)
{
	sqlite3_stmt *st = chat_rstmt(r->srv, "SELECT id, rev, created_at, created_by, label, content FROM doc_versions"
	                              " WHERE id = ?1 AND doc_id = ?2 AND tenant_id = ?3");
	if (!st) {
		api_store_error(r, BW_ESTORE);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, vid);
	sqlite3_bind_int64(st, 2, doc);
	sqlite3_bind_int64(st, 3, r->user.tenant_id);
	json_t *content = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*meta = version_json(r, st, 4);
		char *txt = NULL;
		size_t n = 0;
		if (keys_open_alloc(r->srv->app->kr, r->user.tenant_id, KEY_CLASS_DATA, "doc_versions", vid, "content",
		                    sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5), &txt, &n) == 0) {
			content = json_loadb(txt, n, 0, NULL);
			sodium_memzero(txt, n);
			free(txt);
		}
	}
	sqlite3_reset(st);
	if (!content) {
		json_decref(*meta);
		*meta = NULL;
		req_error(r, 404, "not_found", "no such version");
	}
	return content;
}

void h_doc_version_get(struct req *r)
{
	int64_t id, vid;
	json_t *meta = NULL;
	if (!need_role(r, DROLE_VIEWER, "doc.versions", &id, NULL, false) || !api_path_id(r, 1, &vid))
		return;
	json_t *content = version_content(r, id, vid, &meta);
	if (content)
		req_json(r, 200, json_pack("{s:o,s:o}", "version", meta, "content", content));
}

struct restore_ctx { int64_t doc, vid; };

static void restore_done(struct req *r, int rc, int64_t rev)
{
	struct restore_ctx *x = r->async_ctx;
	char detail[96];
	snprintf(detail, sizeof detail, "{\"version\":%lld,\"rev\":%lld}", (long long)x->vid, (long long)rev);
	api_audit_doc(r, "doc.version.restore", x->doc, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	docs_reset(r->srv, x->doc, "restored");
	req_json(r, 200, json_pack("{s:I}", "rev", (json_int_t)rev));
}

void h_doc_version_restore(struct req *r)
{
	int64_t id, vid;
	json_t *meta = NULL;
	if (!need_role(r, DROLE_EDITOR, "doc.version.restore", &id, NULL, false) || !api_path_id(r, 1, &vid))
		return;
	json_t *content = version_content(r, id, vid, &meta);
	json_decref(meta);
	if (!content)
		return;
	struct restore_ctx *x = req_ctx_new(r, sizeof *x);
	int rc = BW_ENOMEM;
	if (x) {
		x->doc = id;
		x->vid = vid;
		r->async_ctx = x;
		r->async_free = free;
		rc = docs_set_content(r->srv, r->user.tenant_id, id, r->user.id, content, r, restore_done);
	}
	json_decref(content);
	if (rc && !r->resp_ready)
		api_store_error(r, rc);
}

void h_doc_version_create(struct req *r)
{
	static const char *const allowed[] = { "label", NULL };
	int64_t id;
	const char *label;
	if (!req_only(r, allowed) || !req_str(r, "label", false, 200, &label) ||
	    !need_role(r, DROLE_EDITOR, "doc.version.create", &id, NULL, false))
		return;
	json_t *content = NULL;
	int64_t rev;
	int rc = docs_content(r->srv, r->user.tenant_id, id, &content, &rev);
	char *txt = rc ? NULL : json_dumps(content, JSON_COMPACT);
	json_decref(content);
	if (!txt) {
		api_store_error(r, rc ? rc : BW_ENOMEM);
		return;
	}
	sqlite3_stmt *st = chat_rstmt(r->srv, "INSERT INTO doc_versions(doc_id, tenant_id, rev, content, created_by, created_at)"
	                              " VALUES(?1,?2,?3,x'',?4,?5)");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->user.tenant_id);
	sqlite3_bind_int64(st, 3, rev);
	sqlite3_bind_int64(st, 4, r->user.id);
	sqlite3_bind_int64(st, 5, bw_now());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : BW_ESTORE;
	sqlite3_reset(st);
	int64_t vid = sqlite3_last_insert_rowid(store_sqlite_handle(r->srv->app->s));
	if (rc == 0)
		rc = seal_into(r, "UPDATE doc_versions SET content = ?1 WHERE id = ?2 AND tenant_id = ?3", "doc_versions",
		               vid, "content", txt);
	if (rc == 0 && label && *label)
		rc = seal_into(r, "UPDATE doc_versions SET label = ?1 WHERE id = ?2 AND tenant_id = ?3", "doc_versions",
		               vid, "label", label);
	sodium_memzero(txt, strlen(txt));
	free(txt);
	char detail[64];
	snprintf(detail, sizeof detail, "{\"version\":%lld,\"rev\":%lld}", (long long)vid, (long long)rev);
	api_audit_doc(r, "doc.version.create", id, rc ? "failure" : "success", detail);
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	req_json(r, 201, json_pack("{s:{s:I,s:I,s:s}}", "version", "id", (json_int_t)vid, "rev", (json_int_t)rev,
	                           "label", label ? label : ""));
}
