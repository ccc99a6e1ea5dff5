/*
 * api.c — the /api/v1 route table and the one dispatcher every request goes
 * through (PS-AC-b/c, WC-TICKET, PS-IA-d, RG-AC-b).
 *
 * For each route the dispatcher: authenticates the ticket (bearer header or
 * cookie), enforces CSRF for cookie-authenticated unsafe methods, calls
 * policy_check() with the route's permission against the caller's tenant,
 * audits refusals, and only then runs the handler.  There is no route
 * without an entry here and no handler reachable around the check.
 */
#include "api.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum { AUTH_NONE = 0, AUTH_TICKET = 1 };

struct route {
	int method;
	const char *pattern;      /* '*' matches one path segment */
	api_handler fn;
	int auth;
	int perm;
};

static const struct route routes[] = {
	{ M_GET, "/api/v1/health", h_health, AUTH_NONE, 0 },
	{ M_POST, "/api/v1/auth/login", h_login, AUTH_NONE, 0 },
	{ M_POST, "/api/v1/auth/logout", h_logout, AUTH_TICKET, PERM_SESSION_SELF },
	{ M_GET, "/api/v1/auth/session", h_session, AUTH_TICKET, PERM_SESSION_SELF },
	{ M_POST, "/api/v1/auth/password", h_password, AUTH_TICKET, PERM_PASSWORD_CHANGE },
	{ M_POST, "/api/v1/auth/totp/enrol", h_totp_enrol, AUTH_TICKET, PERM_MFA_ENROL },
	{ M_POST, "/api/v1/auth/totp/confirm", h_totp_confirm, AUTH_TICKET, PERM_MFA_ENROL },
	{ M_DELETE, "/api/v1/auth/totp", h_totp_disable, AUTH_TICKET, PERM_SELF },
	{ M_POST, "/api/v1/auth/recovery-codes", h_recovery_regen, AUTH_TICKET, PERM_SELF },
	{ M_GET, "/api/v1/me/sessions", h_me_sessions, AUTH_TICKET, PERM_SELF },
	{ M_DELETE, "/api/v1/me/sessions/*", h_me_session_delete, AUTH_TICKET, PERM_SELF },
	{ M_GET, "/api/v1/me/devices", h_me_devices, AUTH_TICKET, PERM_SELF },
	{ M_GET, "/api/v1/users", h_users_list, AUTH_TICKET, PERM_USER_READ },
	{ M_POST, "/api/v1/users", h_users_create, AUTH_TICKET, PERM_USER_CREATE },
	{ M_GET, "/api/v1/users/*", h_user_get, AUTH_TICKET, PERM_USER_READ },
	{ M_POST, "/api/v1/users/*/disable", h_user_disable, AUTH_TICKET, PERM_USER_DISABLE },
	{ M_POST, "/api/v1/users/*/enable", h_user_enable, AUTH_TICKET, PERM_USER_DISABLE },
	{ M_POST, "/api/v1/users/*/unlock", h_user_unlock, AUTH_TICKET, PERM_USER_UNLOCK },
	{ M_POST, "/api/v1/users/*/reset-password", h_user_reset_password, AUTH_TICKET, PERM_USER_RESET_PASSWORD },
	{ M_PUT, "/api/v1/users/*/role", h_user_role, AUTH_TICKET, PERM_USER_ROLE },
	{ M_POST, "/api/v1/users/*/mfa-reset", h_user_mfa_reset, AUTH_TICKET, PERM_USER_MFA_RESET },
	{ M_GET, "/api/v1/users/*/sessions", h_user_sessions, AUTH_TICKET, PERM_SESSION_ADMIN },
	{ M_POST, "/api/v1/users/*/sessions/revoke", h_user_sessions_revoke, AUTH_TICKET, PERM_SESSION_ADMIN },
	{ M_GET, "/api/v1/departments", h_depts_list, AUTH_TICKET, PERM_DEPT_READ },
	{ M_POST, "/api/v1/departments", h_depts_create, AUTH_TICKET, PERM_DEPT_WRITE },
	{ M_GET, "/api/v1/policy", h_policy_get, AUTH_TICKET, PERM_POLICY_READ },
	{ M_PUT, "/api/v1/policy", h_policy_put, AUTH_TICKET, PERM_POLICY_WRITE },
	{ M_GET, "/api/v1/audit", h_audit_list, AUTH_TICKET, PERM_AUDIT_READ },
	{ M_GET, "/api/v1/audit/verify", h_audit_verify, AUTH_TICKET, PERM_AUDIT_READ },
	{ M_GET, "/api/v1/audit/export", h_audit_export, AUTH_TICKET, PERM_AUDIT_EXPORT },
	/* chat (api_chat.c, api_files.c) */
	{ M_GET, "/api/v1/directory", h_directory, AUTH_TICKET, PERM_CHAT },
	{ M_GET, "/api/v1/conversations", h_convs_list, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations", h_convs_create, AUTH_TICKET, PERM_CHAT },
	{ M_GET, "/api/v1/conversations/*", h_conv_get, AUTH_TICKET, PERM_CHAT },
	{ M_PATCH, "/api/v1/conversations/*", h_conv_patch, AUTH_TICKET, PERM_CHAT },
	{ M_DELETE, "/api/v1/conversations/*", h_conv_delete, AUTH_TICKET, PERM_CHAT },
	{ M_PUT, "/api/v1/conversations/*/hold", h_conv_hold, AUTH_TICKET, PERM_CHAT_ADMIN },
	{ M_GET, "/api/v1/conversations/*/members", h_conv_members, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/members", h_conv_members_add, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/join", h_conv_join, AUTH_TICKET, PERM_CHAT },
	{ M_PATCH, "/api/v1/conversations/*/members/*", h_conv_member_patch, AUTH_TICKET, PERM_CHAT },
	{ M_DELETE, "/api/v1/conversations/*/members/*", h_conv_member_delete, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/transfer", h_conv_transfer, AUTH_TICKET, PERM_CHAT },
	{ M_GET, "/api/v1/conversations/*/messages", h_conv_messages, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/messages", h_conv_messages_post, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/read", h_conv_read, AUTH_TICKET, PERM_CHAT },
	{ M_PATCH, "/api/v1/messages/*", h_msg_patch, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/messages/*/recall", h_msg_recall, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/messages/*/reactions", h_msg_reactions, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/messages/*/forward", h_msg_forward, AUTH_TICKET, PERM_CHAT },
	{ M_GET, "/api/v1/search", h_search, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/conversations/*/uploads", h_upload_start, AUTH_TICKET, PERM_CHAT },
	{ M_PUT, "/api/v1/uploads/*", h_upload_chunk, AUTH_TICKET, PERM_CHAT },
	{ M_POST, "/api/v1/uploads/*/finish", h_upload_finish, AUTH_TICKET, PERM_CHAT },
	{ M_GET, "/api/v1/files/*", h_file_get, AUTH_TICKET, PERM_CHAT },
	/* documents (api_docs.c; realtime editing in docs.c) */
	{ M_GET, "/api/v1/folders", h_folders_list, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/folders", h_folders_create, AUTH_TICKET, PERM_DOCS },
	{ M_PATCH, "/api/v1/folders/*", h_folder_patch, AUTH_TICKET, PERM_DOCS },
	{ M_DELETE, "/api/v1/folders/*", h_folder_delete, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents", h_docs_list, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents", h_docs_create, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*", h_doc_get, AUTH_TICKET, PERM_DOCS },
	{ M_PATCH, "/api/v1/documents/*", h_doc_patch, AUTH_TICKET, PERM_DOCS },
	{ M_DELETE, "/api/v1/documents/*", h_doc_delete, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/duplicate", h_doc_duplicate, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/restore", h_doc_restore, AUTH_TICKET, PERM_DOCS },
	{ M_DELETE, "/api/v1/documents/*/purge", h_doc_purge, AUTH_TICKET, PERM_DOCS_ADMIN },
	{ M_GET, "/api/v1/documents/*/permissions", h_doc_perms_get, AUTH_TICKET, PERM_DOCS },
	{ M_PUT, "/api/v1/documents/*/permissions", h_doc_perms_put, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/versions", h_doc_versions, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/versions", h_doc_version_create, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/versions/*", h_doc_version_get, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/versions/*/restore", h_doc_version_restore, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/doc-labels", h_doc_labels, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/import", h_doc_import, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/policy", h_doc_policy, AUTH_TICKET, PERM_DOCS },
	{ M_PUT, "/api/v1/documents/*/classification", h_doc_classify, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/events", h_doc_event, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/export", h_doc_export, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/links", h_doc_links_list, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/links", h_doc_links_create, AUTH_TICKET, PERM_DOCS },
	{ M_DELETE, "/api/v1/doc-links/*", h_doc_link_revoke, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/doc-links/*/open", h_doc_link_open, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/documents/*/comments", h_doc_comments, AUTH_TICKET, PERM_DOCS },
	{ M_POST, "/api/v1/documents/*/comments", h_doc_comment_create, AUTH_TICKET, PERM_DOCS },
	{ M_PATCH, "/api/v1/documents/*/comments/*", h_doc_comment_patch, AUTH_TICKET, PERM_DOCS },
	{ M_GET, "/api/v1/link-blocklist", h_blocklist_list, AUTH_TICKET, PERM_CHAT_ADMIN },
	{ M_POST, "/api/v1/link-blocklist", h_blocklist_add, AUTH_TICKET, PERM_CHAT_ADMIN },
	{ M_POST, "/api/v1/link-blocklist/import", h_blocklist_import, AUTH_TICKET, PERM_CHAT_ADMIN },
	{ M_DELETE, "/api/v1/link-blocklist/*", h_blocklist_delete, AUTH_TICKET, PERM_CHAT_ADMIN },
};

bool api_path_match(const char *pattern, const char *path, char params[2][API_PARAM_MAX], int *nparams)
{
	int np = 0;
	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= API_PARAM_MAX || np == 2)
				return false;
			memcpy(params[np], path, n);
			params[np][n] = 0;
			np++;
			path += n;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	if (*pattern || *path)
		return false;
	*nparams = np;
	return true;
}

static bool match(const char *pattern, const char *path, struct req *r)
{
	int np = 0;
	if (!api_path_match(pattern, path, r->param_buf, &np))
		return false;
	r->params[0] = np > 0 ? r->param_buf[0] : NULL;
	r->params[1] = np > 1 ? r->param_buf[1] : NULL;
	return true;
}

static void deny(struct req *r, const struct route *rt)
{
	char detail[160];
	snprintf(detail, sizeof detail, "{\"permission\":\"%s\",\"path\":\"%.60s\"}",
	         policy_perm_name(rt->perm), rt->pattern);
	req_audit(r, "access.denied", rt->pattern, "denied", detail);
	if (r->ticket.scope == TICKET_PASSWORD_CHANGE)
		req_error(r, 403, "password_change_required",
		          "change your one-time password before doing anything else");
	else if (r->ticket.scope == TICKET_MFA_ENROL)
		req_error(r, 403, "mfa_enrolment_required",
		          "enrol two-factor authentication before doing anything else");
	else
		req_error(r, 403, "forbidden", "your role does not allow this");
}

void api_dispatch(struct req *r)
{
	const struct route *rt = NULL;
	bool path_known = false;
	/* strip the query string lws may leave out of r->path already */
	for (size_t i = 0; i < BW_ARRAY_LEN(routes); i++) {
		if (!match(routes[i].pattern, r->path, r))
			continue;
		path_known = true;
		if (routes[i].method == r->method) {
			rt = &routes[i];
			break;
		}
	}
	if (!rt) {
		if (path_known)
			req_error(r, 405, "method_not_allowed", "method not allowed on this path");
		else
			req_error(r, 404, "not_found", "no such endpoint");
		return;
	}
	if (rt->auth == AUTH_TICKET) {
		int rc = ticket_authenticate(r->srv, r->token, r->ip, r);
		if (rc) {
			if (r->token_from_cookie)
				req_header(r, "set-cookie:", "bw_ticket=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
			req_error(r, 401, "unauthenticated", rc == BW_EEXPIRED
			          ? "your session has expired; sign in again" : "sign in first");
			return;
		}
		if (r->token_from_cookie && r->method != M_GET) {
			char expect[64];
			ticket_csrf(r->token, expect);
			size_t n = strlen(expect);
			if (strlen(r->csrf) != n || !bw_ct_eq(r->csrf, expect, n)) {
				req_audit(r, "access.denied", rt->pattern, "denied", "{\"reason\":\"csrf\"}");
				req_error(r, 403, "csrf_failed", "missing or wrong X-CSRF-Token header");
				return;
			}
		}
		if (policy_check(&r->subj, rt->perm, r->user.tenant_id) != 0) {
			deny(r, rt);
			return;
		}
	}
	rt->fn(r);
}

void req_audit(struct req *r, const char *event, const char *object, const char *outcome,
               const char *detail)
{
	struct actor ac = r->actor;
	if (!r->authed)
		actor_system(&ac, "anonymous");
	ac.source = r->ip;
	ac.request_id = r->request_id;
	if (r->authed)
		ac.device = r->device_label;
	app_audit(r->srv->app, &ac, r->authed ? r->user.tenant_id : 0, event, object, outcome,
	          detail);
}

void api_store_error(struct req *r, int rc)
{
	switch (rc) {
	case BW_ENOENT: req_error(r, 404, "not_found", "not found"); break;
	case BW_EEXIST: req_error(r, 409, "conflict", "already exists"); break;
	case BW_ETOOBIG: req_error(r, 400, "invalid_request", "a value is too long"); break;
	case BW_EINVAL: req_error(r, 400, "invalid_request", "invalid value"); break;
	case BW_EPERM: req_error(r, 403, "forbidden", "not allowed"); break;
	case BW_EBUSY: req_error(r, 503, "unavailable", "storage busy; try again"); break;
	default:
		log_err("request %s failed: %s", r->request_id, bw_strerror(rc));
		req_error(r, 500, "internal", "internal error (request %s)", r->request_id);
	}
}

bool api_path_id(struct req *r, int i, int64_t *out)
{
	char *end = NULL;
	long long v = r->params[i] ? strtoll(r->params[i], &end, 10) : 0;
	if (!r->params[i] || !end || *end || v <= 0) {
		req_error(r, 404, "not_found", "not found");
		return false;
	}
	*out = v;
	return true;
}

void api_audit_doc(struct req *r, const char *event, int64_t doc, const char *outcome, const char *detail)
{
	char object[32];
	snprintf(object, sizeof object, "document:%lld", (long long)doc);
	req_audit(r, event, object, outcome, detail);
}

bool api_load_target(struct req *r, struct store_user *u)
{
	char *end = NULL;
	long long id = r->params[0] ? strtoll(r->params[0], &end, 10) : 0;
	if (!r->params[0] || !end || *end || id <= 0) {
		req_error(r, 404, "not_found", "no such user");
		return false;
	}
	struct store *s = r->srv->app->s;
	/* tenant-scoped lookup: another tenant's id is simply not found */
	int rc = s->ops->user_get(s, r->user.tenant_id, id, u);
	if (rc) {
		if (rc == BW_ENOENT)
			req_error(r, 404, "not_found", "no such user");
		else
			api_store_error(r, rc);
		return false;
	}
	return true;
}
