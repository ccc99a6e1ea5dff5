/*
 * app.h — the assembled core shared by the server and the CLI: data
 * directory layout, store, key process, tenant keyring and audit trail, plus
 * the account operations both use (PS-IA-a/c, WC-STORE, PS-LOG-a).
 *
 * Data directory layout:
 *   DIR/bulwark.db (+ -wal, -shm)   the store (0600)
 *   DIR/keys/master.key             master + signing key, read only by keyd
 *   DIR/keys/audit.pub              the audit signing public key
 *   DIR/tls/cert.pem, DIR/tls/key.pem
 */
#ifndef BW_APP_H
#define BW_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "crypto.h"
#include "policy.h"
#include "store.h"

struct keyd;
struct keyring;
struct audit;

/* Parsed tenant policies, so that authenticating a request does not read
 * and parse the policy from the store every time (direct-mapped by tenant). */
#define APP_POLICY_CACHE 256
#define APP_POLICY_TTL_MS 5000     /* changes made by another process */

struct app_policy_slot {
	int64_t tenant_id;             /* 0: empty */
	int64_t version;
	int64_t fetched_ms;            /* monotonic */
	struct tenant_policy p;
};

struct app {
	char data_dir[1024];
	struct store *s;
	struct keyd *kd;
	struct keyring *kr;
	struct audit *au;
	uint8_t audit_pub[CRYPTO_PUB_MAX];
	size_t audit_pub_len;
	struct app_policy_slot *policies;   /* APP_POLICY_CACHE slots */
};

/* Who is acting, for the audit trail (PS-LOG-b). */
struct actor {
	int64_t tenant_id;
	int64_t user_id;          /* 0: the operator (CLI) or the system */
	char name[160];           /* "tenant/username#id", "cli:<login>", "system" */
	const char *source;       /* client address or "local" */
	const char *device;
	const char *request_id;
};

/* Opens an initialised data directory: reads the suite, starts keyd (as
 * run_uid/gid when >= 0), opens store, keyring and audit. */
int app_open(const char *data_dir, long run_uid, long run_gid, struct app *a);
void app_close(struct app *a);

/* `bulwark init`: creates DIR, store, keys, TLS certificate (when absent).
 * Does not create a tenant (see accounts_tenant_create). */
int app_init(const char *data_dir, enum bwc_suite suite);

void actor_system(struct actor *ac, const char *name);
void actor_user(struct actor *ac, const struct store_tenant *t, const struct store_user *u);

/* Audits through app->au with the actor's fields; detail may be NULL. */
int app_audit(struct app *a, const struct actor *ac, int64_t tenant_id, const char *event,
              const char *object, const char *outcome, const char *detail);
int app_audit_txn(struct app *a, const struct actor *ac, int64_t tenant_id, const char *event,
                  const char *object, const char *outcome, const char *detail);

/* A one-time password (PS-IA-c/d): generated, hashed, must be changed. */
struct onetime_pw { char password[64]; };

struct account_new {
	const char *username;
	const char *display_name;   /* may be NULL */
	int role;
	const char *email, *phone, *id_card;   /* may be NULL */
	int64_t dept_id;
	const char *pw_hash;        /* Argon2id of the one-time password */
};

#define ACCOUNTS_USERNAME_MAX 64
/* 3..64 of [a-z0-9._-], starting with a letter or digit. */
bool accounts_username_valid(const char *u);
bool accounts_tenant_name_valid(const char *n);

/* Creates a tenant, its data keys, the default policy and the three
 * administrators (sysadmin, secadmin, auditadmin), each with a one-time
 * password returned in pw[0..2] (order: sysadmin, secadmin, auditadmin).
 * Usernames: "admin", "secadmin", "auditor".  Everything in one
 * transaction, audited. */
int accounts_tenant_create(struct app *a, const struct actor *ac, const char *name,
                           int64_t *tenant_id, struct onetime_pw pw[3]);

/* Creates a user in tenant (inside its own transaction, audited). */
int accounts_user_create(struct app *a, const struct actor *ac, int64_t tenant_id,
                         const struct account_new *in, struct store_user *out);

/* The tenant's security policy (defaults when none stored).  Served from a
 * per-process cache: at most APP_POLICY_TTL_MS old when another process
 * changed it, current after accounts_policy_forget() in this one.  Not
 * thread-safe: the server calls it from the event loop only. */
int accounts_policy_get(struct app *a, int64_t tenant_id, struct tenant_policy *p,
                        int64_t *version);
/* Drops the cached policy of a tenant (after this process changed it). */
void accounts_policy_forget(struct app *a, int64_t tenant_id);

/* JSON view of a user: PII masked unless unmask (caller checked the right
 * and audits it).  Caller owns the returned reference. */
json_t *accounts_user_json(struct app *a, const struct store_user *u, bool unmask);

/* "tenant/username#id" */
void accounts_user_label(const struct store_user *u, const char *tenant_name,
                         char *out, size_t out_max);

/* Runs audit retention with the longest retention any tenant's policy asks
 * for (the trail is one chain for the installation). */
int app_audit_retention(struct app *a, int64_t *purged);

/* Capacity alerts (PS-LOG-d): for each tenant whose policy sets
 * audit_capacity_records, records "audit.capacity" in its trail when its
 * records have reached 90 % of it, at most once per `every_s` seconds. */
int app_audit_capacity(struct app *a, int64_t every_s);

/* Sets a new password hash; clears lockout; must_change as given. */
int accounts_set_password(struct app *a, struct store_user *u, const char *pw_hash,
                          bool must_change);

#endif
