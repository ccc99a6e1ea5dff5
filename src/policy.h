/*
 * policy.h — roles, permissions, the one central authorisation check, and
 * the tenant security policy (PS-AC-a…d, RG-AC-b, WC-AC, PS-IA-e/f, RG-OPS-b).
 *
 * Deny by default: policy_check() grants only what the role's preset lists,
 * and a restricted ticket scope (password change pending, MFA enrolment
 * pending) narrows that to the few actions the scope exists for (PS-IA-d).
 * Three-administrator separation: a user holds exactly one role, so no
 * account can hold two administrator roles; role changes go through
 * policy_role_change_allowed().
 */
#ifndef BW_POLICY_H
#define BW_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum bw_role {
	ROLE_NONE = 0,
	ROLE_SYSADMIN,     /* system administrator: accounts, departments, settings */
	ROLE_SECADMIN,     /* security administrator: roles, security policy, sessions */
	ROLE_AUDITADMIN,   /* audit administrator: reads and exports the audit trail */
	ROLE_MEMBER,
	ROLE_GUEST,
	ROLE_COUNT_
};

enum bw_perm {
	PERM_SESSION_SELF = 0,  /* read own session, sign out */
	PERM_PASSWORD_CHANGE,   /* change own password */
	PERM_MFA_ENROL,         /* enrol own TOTP */
	PERM_SELF,              /* everything else about oneself */
	PERM_USER_READ,
	PERM_USER_CREATE,
	PERM_USER_DISABLE,
	PERM_USER_UNLOCK,
	PERM_USER_RESET_PASSWORD,
	PERM_USER_ROLE,
	PERM_USER_MFA_RESET,
	PERM_PII_READ,          /* see personal fields unmasked (audited) */
	PERM_SESSION_ADMIN,     /* list and revoke anyone's sessions */
	PERM_DEPT_READ,
	PERM_DEPT_WRITE,
	PERM_POLICY_READ,
	PERM_POLICY_WRITE,
	PERM_AUDIT_READ,
	PERM_AUDIT_EXPORT,
	PERM_CHAT,              /* conversations and messages (RG-IM-*) */
	PERM_CHAT_ADMIN,        /* legal holds, link blocklist (RG-WEB-b, IN-PHISH) */
	PERM_DOCS,              /* documents and folders (RG-DOC-*) */
	PERM_DOCS_ADMIN,        /* destroy a document before its trash period ends */
	PERM_COUNT_
};

struct policy_subject {
	int64_t tenant_id;
	int64_t user_id;
	int role;     /* enum bw_role */
	int scope;    /* enum ticket_scope (store.h) */
};

const char *policy_role_name(int role);
int policy_role_parse(const char *name);          /* ROLE_NONE if unknown */
bool policy_role_is_admin(int role);
const char *policy_perm_name(int perm);

/* The central check: 0 when subject may do perm on an object of
 * object_tenant, BW_EPERM otherwise (wrong tenant, role, or scope). */
int policy_check(const struct policy_subject *s, int perm, int64_t object_tenant);

/* Role change rule: actor must hold PERM_USER_ROLE, may not change their own
 * role, and the new role must be valid.  Returns 0 or BW_EPERM/BW_EINVAL. */
int policy_role_change_allowed(const struct policy_subject *actor, int64_t target_user,
                               int64_t target_tenant, int new_role);

/* The tenant security policy (stored as JSON, versioned). */
#define TENANT_TRUSTED_MAX 16
#define TENANT_LABELS_MAX 8

/* A document classification label and what it allows (WC-CLASS, RG-DOC-d,
 * RG-APP-h, RG-DATA-a). */
struct doc_label {
	char name[32];             /* [a-z0-9_-], e.g. "confidential" */
	bool export_ok;            /* Markdown/HTML export and download */
	bool copy_ok, print_ok;    /* enforced by the client, attempts audited */
	bool external_links;       /* share links may reach guests */
	bool watermark;            /* watermark over the editor and in exports */
};

struct tenant_policy {
	int password_min_length;      /* 8..128, default 12 */
	int lockout_threshold;        /* 3..20, default 5 */
	int lockout_minutes;          /* 1..1440, default 15 */
	int idle_timeout_minutes;     /* 1..240, default 15 */
	int absolute_timeout_hours;   /* 1..72, default 12 */
	bool mfa_required_role[ROLE_COUNT_];  /* default: the three admins */
	bool mfa_required_all;
	bool single_session;          /* RG-AC-b: one live session per account */
	int audit_retention_days;     /* >= 180 (PS-LOG-d) */
	int audit_capacity_records;   /* 0: none; else alert when the tenant's
	                               * records reach it (records are never dropped
	                               * before their retention ends) */
	/* chat (RG-IM-c, RG-WEB-b, IN-SURGE, IN-PHISH) */
	int recall_window_s;          /* 0..86400, default 120 */
	int chat_retention_days;      /* 0: keep; else messages older are purged */
	int chat_rate_per_min;        /* sends per user per minute, default 600 */
	bool link_block;              /* true: refuse messages with listed links */
	bool clamav_optout;           /* true: uploads skip scanning (audited) */
	int doc_trash_days;           /* 1..3650, default 30 (RG-DOC-g) */
	bool doc_links_guests;        /* share links may admit authenticated guests */
	bool doc_watermark_all;       /* every document carries a watermark */
	int doc_labels_n;
	struct doc_label doc_labels[TENANT_LABELS_MAX];
	int trusted_domains_n;
	char trusted_domains[TENANT_TRUSTED_MAX][254];
};

void tenant_policy_defaults(struct tenant_policy *p);
/* Parses and validates a JSON object; unknown keys and out-of-range values
 * are errors (*err_field names the field: a static string, or for an unknown
 * key a per-thread copy valid until this thread's next call).  Missing keys keep *p's values. */
int tenant_policy_from_json(struct tenant_policy *p, const char *json, size_t n,
                            const char **err_field);
/* Serialises to a malloc'd JSON text; caller frees. */
char *tenant_policy_to_json(const struct tenant_policy *p);
bool tenant_policy_mfa_required(const struct tenant_policy *p, int role);
/* The label of that name, or NULL. */
const struct doc_label *tenant_policy_label(const struct tenant_policy *p, const char *name);

#endif
