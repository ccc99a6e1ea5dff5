/*
 * store.h — the storage interface (WC-STORE, PS-LOG-c, PS-IA-a).
 *
 * Every backend implements struct store_ops; the SQLite backend
 * (store_sqlite.c) is the default and the only one today; a PostgreSQL
 * backend implements the same table of operations (docs/adr/0003).
 *
 * Invariants every backend keeps:
 *  - Tenant isolation below the handlers: every operation on tenant-owned
 *    rows takes the tenant id and filters on it in the query itself, so no
 *    call can return or change another tenant's row (BW_ENOENT instead).
 *  - Ids (tenants, users, departments, devices) are never reused (SQLite
 *    AUTOINCREMENT) — PS-IA-a.
 *  - Parameterised SQL only; foreign keys on; WAL; versioned migrations.
 *  - The audit table is append-only: the backend refuses UPDATE, and DELETE
 *    except through store_audit_purge() (retention, PS-LOG-d).
 *  - Encrypted fields are opaque boxes here; the store never sees plaintext.
 *
 * Threads: a store handle is used by one thread at a time.  Open one handle
 * per thread (WAL allows concurrent readers with one writer).
 * Memory: structs are filled by value; nothing returned needs freeing unless
 * stated.
 */
#ifndef BW_STORE_H
#define BW_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "crypto.h"

#define STORE_NAME_MAX 64          /* usernames, tenant names (bytes) */
#define STORE_ROLE_MAX 16
#define STORE_FIELD_MAX 256        /* plaintext of an encrypted field */
#define STORE_BOX_MAX (STORE_FIELD_MAX + CRYPTO_BOX_OVERHEAD_MAX)
#define STORE_TEXT_MAX 512         /* user agent, audit texts */
#define STORE_DETAIL_MAX 2048      /* audit detail JSON */
#define STORE_WRAPPED_MAX 128      /* a wrapped data key */

struct store_box { uint8_t data[STORE_BOX_MAX]; size_t len; };  /* len 0: NULL */

struct store_tenant {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	int64_t created_at;
};

struct store_tenant_key {
	int64_t tenant_id;
	int key_class;           /* KEY_CLASS_* (keyd.h) */
	uint32_t version;
	uint8_t wrapped[STORE_WRAPPED_MAX];
	size_t wrapped_len;
	int64_t created_at;
};

enum store_user_status { USER_ACTIVE = 1, USER_DISABLED = 2 };

struct store_user {
	int64_t id;
	int64_t tenant_id;
	char username[STORE_NAME_MAX + 1];
	char role[STORE_ROLE_MAX + 1];       /* policy.h role names */
	int status;                           /* enum store_user_status */
	int64_t dept_id;                      /* 0: none */
	struct store_box display_name;        /* KEY_CLASS_DATA */
	struct store_box email, phone, id_card;  /* KEY_CLASS_PII */
	char pw_hash[CRYPTO_PWHASH_MAX];
	int64_t pw_changed_at;
	bool must_change_pw;
	int failed_count;
	int64_t locked_until;                 /* unix seconds; 0: not locked */
	struct store_box totp_secret;         /* KEY_CLASS_DATA; len 0: none */
	bool totp_enabled;
	int64_t totp_last_step;               /* replay guard */
	int64_t created_at;
	int64_t last_login_at;
};

struct store_dept {
	int64_t id, tenant_id, parent_id;    /* parent 0: top level */
	struct store_box name;               /* KEY_CLASS_DATA */
	int64_t created_at;
};

struct store_device {
	int64_t id, tenant_id, user_id;
	uint8_t device_hash[CRYPTO_HASH_LEN];
	char name[STORE_NAME_MAX + 1];
	char user_agent[STORE_TEXT_MAX + 1];
	char first_ip[64], last_ip[64];
	int64_t first_seen, last_seen;
};

enum ticket_scope {
	TICKET_FULL = 1,
	TICKET_PASSWORD_CHANGE = 2,   /* may only change the password (PS-IA-d) */
	TICKET_MFA_ENROL = 3,         /* may only enrol TOTP (MFA mandatory) */
};

struct store_ticket {
	uint8_t hash[CRYPTO_HASH_LEN];   /* hash of the bearer token, the key */
	int64_t tenant_id, user_id, device_id;
	int scope;                        /* enum ticket_scope */
	int64_t created_at, last_seen, expires_at;   /* absolute expiry */
	char ip[64];
	int64_t revoked_at;              /* 0: live */
	char revoked_reason[32];
};

struct store_audit {
	int64_t seq;                     /* 1, 2, 3 … assigned by the caller */
	int64_t ts_ms;
	int64_t tenant_id;               /* 0: installation-wide */
	char event[64];
	char subject[STORE_TEXT_MAX + 1];
	char object[STORE_TEXT_MAX + 1];
	char outcome[16];                /* "success" / "failure" / "denied" */
	char source[64];                 /* client address */
	char device[64];
	char request_id[40];
	char detail[STORE_DETAIL_MAX + 1];   /* JSON object text */
	uint8_t prev_hash[CRYPTO_HASH_LEN];
	uint8_t hash[CRYPTO_HASH_LEN];
};

struct store_checkpoint {
	int64_t seq;
	uint8_t hash[CRYPTO_HASH_LEN];
	int64_t ts_ms;
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len;
};

struct store_audit_filter {
	int64_t tenant_id;       /* required: audit readers see their tenant */
	int64_t before_seq;      /* 0: newest; else seq < before_seq */
	int64_t since_ms, until_ms;  /* 0: unbounded */
	const char *event_prefix;    /* NULL: any */
	const char *subject;         /* NULL: any; exact match */
	int limit;               /* 1..10000 */
	bool with_installation;  /* also installation-wide (tenant 0) records of
	                          * the server, audit trail and installation keys */
};

typedef int (*store_audit_cb)(void *arg, const struct store_audit *rec);
typedef int (*store_user_cb)(void *arg, const struct store_user *u);
typedef int (*store_ticket_cb)(void *arg, const struct store_ticket *t);
typedef int (*store_device_cb)(void *arg, const struct store_device *d);
typedef int (*store_tenant_cb)(void *arg, const struct store_tenant *t);
typedef int (*store_dept_cb)(void *arg, const struct store_dept *d);

struct store;

struct store_ops {
	const char *name;
	void (*close)(struct store *s);

	/* transactions; immediate = take the write lock now */
	int (*begin)(struct store *s, bool immediate);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);

	/* installation metadata (schema version, suite …) */
	int (*meta_get)(struct store *s, const char *key, char *out, size_t out_max);
	int (*meta_set)(struct store *s, const char *key, const char *value);

	/* tenants */
	int (*tenant_create)(struct store *s, const char *name, int64_t now, int64_t *id);
	int (*tenant_get)(struct store *s, int64_t id, struct store_tenant *out);
	int (*tenant_get_by_name)(struct store *s, const char *name, struct store_tenant *out);
	int (*tenant_list)(struct store *s, store_tenant_cb cb, void *arg);
	int (*tenant_key_put)(struct store *s, const struct store_tenant_key *k);
	/* all versions of all classes for the tenant */
	int (*tenant_keys_get)(struct store *s, int64_t tenant_id,
	                       struct store_tenant_key *out, size_t out_max, size_t *n);
	/* security policy, a JSON object text, versioned (RG-OPS-b) */
	int (*policy_get)(struct store *s, int64_t tenant_id, char *json, size_t json_max,
	                  int64_t *version);
	int (*policy_put)(struct store *s, int64_t tenant_id, const char *json,
	                  int64_t by_user, int64_t now, int64_t *version);

	/* users: all scoped by tenant */
	int (*user_create)(struct store *s, struct store_user *u);   /* sets u->id */
	int (*user_get)(struct store *s, int64_t tenant_id, int64_t id, struct store_user *out);
	int (*user_get_by_name)(struct store *s, int64_t tenant_id, const char *username,
	                        struct store_user *out);
	/* writes every mutable column of u (matched on tenant_id and id) */
	int (*user_update)(struct store *s, const struct store_user *u);
	int (*user_list)(struct store *s, int64_t tenant_id, int64_t after_id, int limit,
	                 store_user_cb cb, void *arg);
	int (*user_count_role)(struct store *s, int64_t tenant_id, const char *role,
	                       bool active_only, int64_t *n);

	int (*recovery_set)(struct store *s, int64_t tenant_id, int64_t user_id,
	                    const uint8_t (*hashes)[CRYPTO_HASH_LEN], size_t n);
	/* marks one unused code used; BW_ENOENT when none matches */
	int (*recovery_use)(struct store *s, int64_t tenant_id, int64_t user_id,
	                    const uint8_t hash[CRYPTO_HASH_LEN], int64_t now);
	int (*recovery_remaining)(struct store *s, int64_t tenant_id, int64_t user_id, int64_t *n);

	/* departments */
	int (*dept_create)(struct store *s, struct store_dept *d);
	/* writes name and parent_id (matched on tenant_id and id) */
	int (*dept_update)(struct store *s, const struct store_dept *d);
	int (*dept_list)(struct store *s, int64_t tenant_id, store_dept_cb cb, void *arg);
	int (*dept_get)(struct store *s, int64_t tenant_id, int64_t id, struct store_dept *out);

	/* devices: find by (tenant, user, hash) or create; *created tells which */
	int (*device_upsert)(struct store *s, struct store_device *d, bool *created);
	int (*device_list)(struct store *s, int64_t tenant_id, int64_t user_id,
	                   store_device_cb cb, void *arg);

	/* tickets */
	int (*ticket_insert)(struct store *s, const struct store_ticket *t);
	int (*ticket_get)(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN],
	                  struct store_ticket *out);
	int (*ticket_touch)(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN], int64_t now);
	int (*ticket_set_scope)(struct store *s, const uint8_t hash[CRYPTO_HASH_LEN], int scope);
	int (*ticket_revoke)(struct store *s, int64_t tenant_id,
	                     const uint8_t hash[CRYPTO_HASH_LEN], int64_t now, const char *why);
	/* revokes every live ticket of the user except `keep` (may be NULL) */
	int (*ticket_revoke_user)(struct store *s, int64_t tenant_id, int64_t user_id,
	                          const uint8_t *keep, int64_t now, const char *why, int *n);
	/* live (not revoked, not expired at now) tickets of a user */
	int (*ticket_list_user)(struct store *s, int64_t tenant_id, int64_t user_id,
	                        int64_t now, store_ticket_cb cb, void *arg);
	/* deletes rows revoked or expired before `before` */
	int (*ticket_gc)(struct store *s, int64_t before);

	/* audit trail */
	int (*audit_last)(struct store *s, int64_t *seq, uint8_t hash[CRYPTO_HASH_LEN]);
	int (*audit_insert)(struct store *s, const struct store_audit *rec);
	/* every record with seq >= from_seq, ascending (verification, export) */
	int (*audit_scan)(struct store *s, int64_t from_seq, store_audit_cb cb, void *arg);
	/* newest first, filtered (the viewer) */
	int (*audit_query)(struct store *s, const struct store_audit_filter *f,
	                   store_audit_cb cb, void *arg);
	int (*checkpoint_insert)(struct store *s, const struct store_checkpoint *c);
	int (*checkpoint_get)(struct store *s, int64_t seq, struct store_checkpoint *out);
	int (*checkpoint_last)(struct store *s, struct store_checkpoint *out);
	/* checkpoints with seq >= from_seq ascending */
	int (*checkpoint_scan)(struct store *s, int64_t from_seq,
	                       int (*cb)(void *arg, const struct store_checkpoint *c), void *arg);
	/* deletes records with seq <= upto_seq (retention); the chain then starts
	 * at the checkpoint upto_seq, which must exist */
	int (*audit_purge)(struct store *s, int64_t upto_seq);
	int (*audit_count)(struct store *s, int64_t *n, int64_t *first_seq);
	/* records of one tenant (capacity alerts) */
	int (*audit_count_tenant)(struct store *s, int64_t tenant_id, int64_t *n);
};

struct store {
	const struct store_ops *ops;
};

/* Opens (creating when `create`) the SQLite store DIR/bulwark.db and runs
 * pending migrations. */
int store_sqlite_open(const char *data_dir, bool create, struct store **out);

/* The SQLite connection of a store opened by store_sqlite_open(), for the
 * modules whose queries are SQLite-specific today (chat_store.c, writer.c;
 * docs/adr/0008).  Same thread rules as the store. */
struct sqlite3;
struct sqlite3 *store_sqlite_handle(struct store *s);

#endif
