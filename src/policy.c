/*
 * policy.c — role presets, the central authorisation decision, and the
 * tenant security policy (PS-AC-a/b/c/d, RG-AC-b, WC-AC, PS-IA-d/e/f,
 * PS-LOG-d, RG-OPS-b).
 *
 * The preset below is the least-privilege default (PS-AC-a): each
 * administrator role gets only its own duties, members and guests only act
 * on themselves.  There is no bypass: every handler calls policy_check().
 */
#include "policy.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <string.h>

static const char *const role_names[ROLE_COUNT_] = {
	[ROLE_NONE] = "none", [ROLE_SYSADMIN] = "sysadmin", [ROLE_SECADMIN] = "secadmin",
	[ROLE_AUDITADMIN] = "auditadmin", [ROLE_MEMBER] = "member", [ROLE_GUEST] = "guest",
};

static const char *const perm_names[PERM_COUNT_] = {
	[PERM_SESSION_SELF] = "session.self", [PERM_PASSWORD_CHANGE] = "password.change",
	[PERM_MFA_ENROL] = "mfa.enrol", [PERM_SELF] = "self",
	[PERM_USER_READ] = "user.read", [PERM_USER_CREATE] = "user.create",
	[PERM_USER_DISABLE] = "user.disable", [PERM_USER_UNLOCK] = "user.unlock",
	[PERM_USER_RESET_PASSWORD] = "user.reset_password", [PERM_USER_ROLE] = "user.role",
	[PERM_USER_MFA_RESET] = "user.mfa_reset", [PERM_PII_READ] = "pii.read",
	[PERM_SESSION_ADMIN] = "session.admin", [PERM_DEPT_READ] = "dept.read",
	[PERM_DEPT_WRITE] = "dept.write", [PERM_POLICY_READ] = "policy.read",
	[PERM_POLICY_WRITE] = "policy.write", [PERM_AUDIT_READ] = "audit.read",
	[PERM_AUDIT_EXPORT] = "audit.export", [PERM_CHAT] = "chat",
	[PERM_CHAT_ADMIN] = "chat.admin", [PERM_DOCS] = "docs", [PERM_DOCS_ADMIN] = "docs.admin",
};

#define P(x) (UINT64_C(1) << (x))
#define SELF_ALL (P(PERM_SESSION_SELF) | P(PERM_PASSWORD_CHANGE) | P(PERM_MFA_ENROL) | P(PERM_SELF))

/* Least-privilege preset (PS-AC-a, PS-AC-d). */
static const uint64_t role_grants[ROLE_COUNT_] = {
	[ROLE_NONE] = 0,
	[ROLE_SYSADMIN] = SELF_ALL | P(PERM_USER_READ) | P(PERM_USER_CREATE) |
		P(PERM_USER_DISABLE) | P(PERM_USER_UNLOCK) | P(PERM_USER_RESET_PASSWORD) |
		P(PERM_PII_READ) | P(PERM_DEPT_READ) | P(PERM_DEPT_WRITE) | P(PERM_POLICY_READ) |
		P(PERM_CHAT) | P(PERM_DOCS),
	[ROLE_SECADMIN] = SELF_ALL | P(PERM_USER_READ) | P(PERM_USER_UNLOCK) |
		P(PERM_USER_ROLE) | P(PERM_USER_MFA_RESET) | P(PERM_SESSION_ADMIN) |
		P(PERM_DEPT_READ) | P(PERM_POLICY_READ) | P(PERM_POLICY_WRITE) | P(PERM_CHAT) |
		P(PERM_CHAT_ADMIN) | P(PERM_DOCS) | P(PERM_DOCS_ADMIN),
	[ROLE_AUDITADMIN] = SELF_ALL | P(PERM_AUDIT_READ) | P(PERM_AUDIT_EXPORT),
	[ROLE_MEMBER] = SELF_ALL | P(PERM_CHAT) | P(PERM_DOCS),
	[ROLE_GUEST] = SELF_ALL | P(PERM_CHAT) | P(PERM_DOCS),
};

/* What a restricted ticket may still do (PS-IA-d). */
static const uint64_t scope_grants[] = {
	[0] = 0,
	[TICKET_FULL] = ~UINT64_C(0),
	[TICKET_PASSWORD_CHANGE] = P(PERM_SESSION_SELF) | P(PERM_PASSWORD_CHANGE),
	[TICKET_MFA_ENROL] = P(PERM_SESSION_SELF) | P(PERM_MFA_ENROL),
};

const char *policy_role_name(int role)
{
	return role > ROLE_NONE && role < ROLE_COUNT_ ? role_names[role] : "none";
}

int policy_role_parse(const char *name)
{
	if (!name)
		return ROLE_NONE;
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
		if (strcmp(name, role_names[r]) == 0)
			return r;
	return ROLE_NONE;
}

bool policy_role_is_admin(int role)
{
	return role == ROLE_SYSADMIN || role == ROLE_SECADMIN || role == ROLE_AUDITADMIN;
}

const char *policy_perm_name(int perm)
{
	return perm >= 0 && perm < PERM_COUNT_ ? perm_names[perm] : "unknown";
}

int policy_check(const struct policy_subject *s, int perm, int64_t object_tenant)
{
	if (!s || perm < 0 || perm >= PERM_COUNT_)
		return BW_EPERM;
	if (s->tenant_id <= 0 || s->tenant_id != object_tenant)
		return BW_EPERM;                       /* tenant boundary */
	if (s->role <= ROLE_NONE || s->role >= ROLE_COUNT_)
		return BW_EPERM;
	if (s->scope < TICKET_FULL || s->scope > TICKET_MFA_ENROL)
		return BW_EPERM;
	uint64_t granted = role_grants[s->role] & scope_grants[s->scope];
	return (granted & P(perm)) ? 0 : BW_EPERM;
}

int policy_role_change_allowed(const struct policy_subject *actor, int64_t target_user,
                               int64_t target_tenant, int new_role)
{
	if (policy_check(actor, PERM_USER_ROLE, target_tenant) != 0)
		return BW_EPERM;
	if (actor->user_id == target_user)
		return BW_EPERM;   /* nobody grants themselves a role */
	if (new_role <= ROLE_NONE || new_role >= ROLE_COUNT_)
		return BW_EINVAL;
	return 0;
}

void tenant_policy_defaults(struct tenant_policy *p)
{
	memset(p, 0, sizeof *p);
	p->password_min_length = 12;
	p->lockout_threshold = 5;
	p->lockout_minutes = 15;
	p->idle_timeout_minutes = 15;
	p->absolute_timeout_hours = 12;
	p->mfa_required_role[ROLE_SYSADMIN] = true;
	p->mfa_required_role[ROLE_SECADMIN] = true;
	p->mfa_required_role[ROLE_AUDITADMIN] = true;
	p->mfa_required_all = false;
	p->single_session = false;
	p->audit_retention_days = 180;
	p->recall_window_s = 120;
	p->chat_rate_per_min = 600;
	p->doc_trash_days = 30;
	static const struct doc_label defaults[] = {
		{ "public", true, true, true, true, false },
		{ "internal", true, true, true, false, false },
		{ "confidential", false, false, false, false, true },
		{ "secret", false, false, false, false, true },
	};
	memcpy(p->doc_labels, defaults, sizeof defaults);
	p->doc_labels_n = (int)BW_ARRAY_LEN(defaults);
}

const struct doc_label *tenant_policy_label(const struct tenant_policy *p, const char *name)
{
	for (int i = 0; name && i < p->doc_labels_n; i++)
		if (strcmp(p->doc_labels[i].name, name) == 0)
			return &p->doc_labels[i];
	return NULL;
}

bool tenant_policy_mfa_required(const struct tenant_policy *p, int role)
{
	if (p->mfa_required_all)
		return true;
	return role > ROLE_NONE && role < ROLE_COUNT_ && p->mfa_required_role[role];
}

static const struct {
	const char *key;
	size_t off;
	int min, max;
} int_fields[] = {
	{ "password_min_length", offsetof(struct tenant_policy, password_min_length), 8, 128 },
	{ "lockout_threshold", offsetof(struct tenant_policy, lockout_threshold), 3, 20 },
	{ "lockout_minutes", offsetof(struct tenant_policy, lockout_minutes), 1, 1440 },
	{ "idle_timeout_minutes", offsetof(struct tenant_policy, idle_timeout_minutes), 1, 240 },
	{ "absolute_timeout_hours", offsetof(struct tenant_policy, absolute_timeout_hours), 1, 72 },
	{ "audit_retention_days", offsetof(struct tenant_policy, audit_retention_days), 180, 36500 },
	{ "audit_capacity_records", offsetof(struct tenant_policy, audit_capacity_records), 0, 2000000000 },
	{ "recall_window_s", offsetof(struct tenant_policy, recall_window_s), 0, 86400 },
	{ "chat_retention_days", offsetof(struct tenant_policy, chat_retention_days), 0, 36500 },
	{ "chat_rate_per_min", offsetof(struct tenant_policy, chat_rate_per_min), 1, 6000 },
	{ "doc_trash_days", offsetof(struct tenant_policy, doc_trash_days), 1, 3650 },
};

int tenant_policy_from_json(struct tenant_policy *out, const char *json, size_t n,
                            const char **err_field)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
	struct tenant_policy p = *out;
	const char *key;
	json_t *v;
	int rc = BW_EINVAL;
	*err_field = NULL;
	if (!root || !json_is_object(root)) {
		*err_field = "policy";
		goto out;
	}
	json_object_foreach(root, key, v) {
		/* *err_field must outlive root: copy unknown names to a per-thread
		 * buffer (valid until this thread's next call) */
		static _Thread_local char unknown[48];
		snprintf(unknown, sizeof unknown, "%s", key);
		*err_field = unknown;
		size_t i;
		for (i = 0; i < BW_ARRAY_LEN(int_fields); i++)
			if (strcmp(key, int_fields[i].key) == 0)
				break;
		if (i < BW_ARRAY_LEN(int_fields)) {
			*err_field = int_fields[i].key;
			if (!json_is_integer(v))
				goto out;
			json_int_t x = json_integer_value(v);
			if (x < int_fields[i].min || x > int_fields[i].max)
				goto out;
			*(int *)((char *)&p + int_fields[i].off) = (int)x;
		} else if (strcmp(key, "mfa_required_all") == 0) {
			*err_field = "mfa_required_all";
			if (!json_is_boolean(v))
				goto out;
			p.mfa_required_all = json_is_true(v);
		} else if (strcmp(key, "single_session") == 0) {
			*err_field = "single_session";
			if (!json_is_boolean(v))
				goto out;
			p.single_session = json_is_true(v);
		} else if (strcmp(key, "doc_links_guests") == 0 || strcmp(key, "doc_watermark_all") == 0) {
			*err_field = strcmp(key, "doc_links_guests") == 0 ? "doc_links_guests" : "doc_watermark_all";
			if (!json_is_boolean(v))
				goto out;
			if (key[4] == 'l')
				p.doc_links_guests = json_is_true(v);
			else
				p.doc_watermark_all = json_is_true(v);
		} else if (strcmp(key, "doc_labels") == 0) {
			*err_field = "doc_labels";
			if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > TENANT_LABELS_MAX)
				goto out;
			size_t idx;
			json_t *e;
			struct doc_label labels[TENANT_LABELS_MAX];
			memset(labels, 0, sizeof labels);
			json_array_foreach(v, idx, e) {
				const char *nm = json_string_value(json_object_get(e, "name"));
				size_t nl = nm ? strlen(nm) : 0;
				if (!json_is_object(e) || nl < 1 || nl > 31 ||
				    strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789_-") != nl)
					goto out;
				for (size_t k = 0; k < idx; k++)
					if (strcmp(labels[k].name, nm) == 0)
						goto out;
				memcpy(labels[idx].name, nm, nl + 1);
				static const char *const flags[] = { "export", "copy", "print", "external_links", "watermark" };
				bool *dst[] = { &labels[idx].export_ok, &labels[idx].copy_ok, &labels[idx].print_ok,
				                &labels[idx].external_links, &labels[idx].watermark };
				if (json_object_size(e) != 1 + BW_ARRAY_LEN(flags))
					goto out;
				for (size_t k = 0; k < BW_ARRAY_LEN(flags); k++) {
					json_t *b = json_object_get(e, flags[k]);
					if (!json_is_boolean(b))
						goto out;
					*dst[k] = json_is_true(b);
				}
			}
			memcpy(p.doc_labels, labels, sizeof labels);
			p.doc_labels_n = (int)json_array_size(v);
		} else if (strcmp(key, "clamav_optout") == 0) {
			*err_field = "clamav_optout";
			if (!json_is_boolean(v))
				goto out;
			p.clamav_optout = json_is_true(v);
		} else if (strcmp(key, "link_policy") == 0) {
			*err_field = "link_policy";
			const char *lp = json_string_value(v);
			if (!lp || (strcmp(lp, "flag") != 0 && strcmp(lp, "block") != 0))
				goto out;
			p.link_block = strcmp(lp, "block") == 0;
		} else if (strcmp(key, "trusted_domains") == 0) {
			*err_field = "trusted_domains";
			if (!json_is_array(v) || json_array_size(v) > TENANT_TRUSTED_MAX)
				goto out;
			size_t idx;
			json_t *e;
			p.trusted_domains_n = 0;
			json_array_foreach(v, idx, e) {
				const char *d = json_string_value(e);
				size_t dl = d ? strlen(d) : 0;
				if (dl < 3 || dl > 253 || strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789.-") != dl ||
				    d[0] == '.' || d[0] == '-' || d[dl - 1] == '.' || !strchr(d, '.'))
					goto out;
				memcpy(p.trusted_domains[p.trusted_domains_n++], d, dl + 1);
			}
		} else if (strcmp(key, "mfa_required_roles") == 0) {
			*err_field = "mfa_required_roles";
			if (!json_is_array(v) || json_array_size(v) > ROLE_COUNT_)
				goto out;
			bool req[ROLE_COUNT_] = { false };
			size_t idx;
			json_t *e;
			json_array_foreach(v, idx, e) {
				int r = json_is_string(e) ? policy_role_parse(json_string_value(e)) : ROLE_NONE;
				if (r == ROLE_NONE)
					goto out;
				req[r] = true;
			}
			memcpy(p.mfa_required_role, req, sizeof req);
		} else {
			goto out;   /* unknown key */
		}
	}
	*err_field = NULL;
	*out = p;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *tenant_policy_to_json(const struct tenant_policy *p)
{
	json_t *o = json_object();
	json_t *roles = json_array();
	if (!o || !roles) {
		json_decref(o);
		json_decref(roles);
		return NULL;
	}
	for (size_t i = 0; i < BW_ARRAY_LEN(int_fields); i++)
		json_object_set_new(o, int_fields[i].key,
		                    json_integer(*(const int *)((const char *)p + int_fields[i].off)));
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
		if (p->mfa_required_role[r])
			json_array_append_new(roles, json_string(role_names[r]));
	json_object_set_new(o, "mfa_required_roles", roles);
	json_object_set_new(o, "mfa_required_all", json_boolean(p->mfa_required_all));
	json_object_set_new(o, "single_session", json_boolean(p->single_session));
	json_object_set_new(o, "clamav_optout", json_boolean(p->clamav_optout));
	json_object_set_new(o, "link_policy", json_string(p->link_block ? "block" : "flag"));
	json_t *td = json_array();
	for (int i = 0; i < p->trusted_domains_n; i++)
		json_array_append_new(td, json_string(p->trusted_domains[i]));
	json_object_set_new(o, "trusted_domains", td);
	json_object_set_new(o, "doc_links_guests", json_boolean(p->doc_links_guests));
	json_object_set_new(o, "doc_watermark_all", json_boolean(p->doc_watermark_all));
	json_t *labels = json_array();
	for (int i = 0; i < p->doc_labels_n; i++) {
		const struct doc_label *l = &p->doc_labels[i];
		json_array_append_new(labels, json_pack("{s:s,s:b,s:b,s:b,s:b,s:b}", "name", l->name,
		                      "export", l->export_ok, "copy", l->copy_ok, "print", l->print_ok,
		                      "external_links", l->external_links, "watermark", l->watermark));
	}
	json_object_set_new(o, "doc_labels", labels);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}
