/*
 * app.c — assembling the core (store, keyd, keyring, audit) and the account
 * operations shared by server and CLI (PS-IA-a/c/d, PS-LOG-a/b, WC-STORE,
 * PS-PI-h, RG-PI).  See app.h.
 */
#include "app.h"
#include "audit.h"
#include "keyd.h"
#include "keys.h"
#include "passwd.h"
#include "tls.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int path_join(char *out, size_t n, const char *dir, const char *rel)
{
	return snprintf(out, n, "%s/%s", dir, rel) >= (int)n ? BW_ETOOBIG : 0;
}

int app_init(const char *data_dir, enum bwc_suite suite)
{
	char p[1200], k[1200];
	int rc;
	struct store *s = NULL;
	if ((rc = bw_mkdir_p(data_dir, 0700)))
		return rc;
	if ((rc = path_join(p, sizeof p, data_dir, "keys")) || (rc = bw_mkdir_p(p, 0700)))
		return rc;
	if ((rc = path_join(p, sizeof p, data_dir, "tls")) || (rc = bw_mkdir_p(p, 0700)))
		return rc;
	if ((rc = path_join(p, sizeof p, data_dir, "bulwark.db")))
		return rc;
	if (access(p, F_OK) == 0)
		return BW_EEXIST;
	if ((rc = bwc_init(suite)))
		return rc;
	if ((rc = store_sqlite_open(data_dir, true, &s)))
		return rc;
	uint8_t iid[16];
	char iid_hex[33], now[32];
	bwc_random(iid, sizeof iid);
	bw_hex_encode(iid, sizeof iid, iid_hex);
	snprintf(now, sizeof now, "%lld", (long long)bw_now());
	if ((rc = s->ops->meta_set(s, "bwc_suite", bwc_suite_name(suite))) ||
	    (rc = s->ops->meta_set(s, "installation_id", iid_hex)) ||
	    (rc = s->ops->meta_set(s, "created_at", now)))
		goto out;
	if ((rc = keyd_keyfile_create(data_dir)))
		goto out;
	/* publish the audit verification key */
	struct keyd *kd = NULL;
	if ((rc = keyd_start(data_dir, -1, -1, &kd)))
		goto out;
	uint8_t pub[CRYPTO_PUB_MAX];
	size_t pub_len = 0;
	rc = keyd_pubkey(kd, pub, sizeof pub, &pub_len);
	keyd_stop(kd);
	if (rc)
		goto out;
	char hex[2 * CRYPTO_PUB_MAX + 2];
	bw_hex_encode(pub, pub_len, hex);
	strcat(hex, "\n");
	if ((rc = path_join(p, sizeof p, data_dir, "keys/audit.pub")) ||
	    (rc = bw_file_write_atomic(p, hex, strlen(hex), 0644)))
		goto out;
	if ((rc = path_join(p, sizeof p, data_dir, "tls/cert.pem")) ||
	    (rc = path_join(k, sizeof k, data_dir, "tls/key.pem")))
		goto out;
	rc = tls_selfsigned_create(p, k, "localhost");
	if (rc == BW_EEXIST)
		rc = 0;
out:
	s->ops->close(s);
	return rc;
}

int app_open(const char *data_dir, long run_uid, long run_gid, struct app *a)
{
	memset(a, 0, sizeof *a);
	if (snprintf(a->data_dir, sizeof a->data_dir, "%s", data_dir) >= (int)sizeof a->data_dir)
		return BW_ETOOBIG;
	int rc = store_sqlite_open(data_dir, false, &a->s);
	if (rc)
		return rc;
	char suite_name[16];
	enum bwc_suite suite;
	if ((rc = a->s->ops->meta_get(a->s, "bwc_suite", suite_name, sizeof suite_name)) ||
	    (rc = bwc_suite_parse(suite_name, &suite)) || (rc = bwc_init(suite)))
		goto fail;
	if ((rc = keyd_start(data_dir, run_uid, run_gid, &a->kd)))
		goto fail;
	if ((rc = keyd_pubkey(a->kd, a->audit_pub, sizeof a->audit_pub, &a->audit_pub_len)))
		goto fail;
	if ((rc = keyring_open(a->s, a->kd, &a->kr)) || (rc = audit_open(a->s, a->kd, &a->au)))
		goto fail;
	a->policies = calloc(APP_POLICY_CACHE, sizeof *a->policies);
	if (!a->policies) {
		rc = BW_ENOMEM;
		goto fail;
	}
	return 0;
fail:
	app_close(a);
	return rc;
}

void app_close(struct app *a)
{
	if (a->au)
		audit_close(a->au);
	if (a->kr)
		keyring_close(a->kr);
	if (a->kd)
		keyd_stop(a->kd);
	if (a->s)
		a->s->ops->close(a->s);
	free(a->policies);
	memset(a, 0, sizeof *a);
}

void actor_system(struct actor *ac, const char *name)
{
	memset(ac, 0, sizeof *ac);
	snprintf(ac->name, sizeof ac->name, "%s", name);
	ac->source = "local";
}

void accounts_user_label(const struct store_user *u, const char *tenant_name,
                         char *out, size_t out_max)
{
	snprintf(out, out_max, "%s/%s#%lld", tenant_name ? tenant_name : "?", u->username,
	         (long long)u->id);
}

void actor_user(struct actor *ac, const struct store_tenant *t, const struct store_user *u)
{
	memset(ac, 0, sizeof *ac);
	ac->tenant_id = u->tenant_id;
	ac->user_id = u->id;
	accounts_user_label(u, t ? t->name : NULL, ac->name, sizeof ac->name);
}

static int audit_common(struct app *a, const struct actor *ac, int64_t tenant_id,
                        const char *event, const char *object, const char *outcome,
                        const char *detail, bool txn)
{
	struct audit_event e = {
		.tenant_id = tenant_id, .event = event, .subject = ac->name,
		.object = object ? object : "", .outcome = outcome,
		.source = ac->source, .device = ac->device, .request_id = ac->request_id,
		.detail = detail,
	};
	return txn ? audit_log_txn(a->au, &e) : audit_log(a->au, &e);
}

int app_audit(struct app *a, const struct actor *ac, int64_t tenant_id, const char *event,
              const char *object, const char *outcome, const char *detail)
{
	return audit_common(a, ac, tenant_id, event, object, outcome, detail, false);
}

int app_audit_txn(struct app *a, const struct actor *ac, int64_t tenant_id, const char *event,
                  const char *object, const char *outcome, const char *detail)
{
	return audit_common(a, ac, tenant_id, event, object, outcome, detail, true);
}

bool accounts_username_valid(const char *u)
{
	size_t n = strlen(u);
	if (n < 3 || n > ACCOUNTS_USERNAME_MAX)
		return false;
	if (!(islower((unsigned char)u[0]) || isdigit((unsigned char)u[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool accounts_tenant_name_valid(const char *n)
{
	return accounts_username_valid(n);
}

static int policy_load(struct app *a, int64_t tenant_id, struct tenant_policy *p,
                       int64_t *version)
{
	char json[4096];
	int64_t v = 0;
	tenant_policy_defaults(p);
	int rc = a->s->ops->policy_get(a->s, tenant_id, json, sizeof json, &v);
	if (rc == BW_ENOENT) {
		*version = 0;
		return 0;
	}
	if (rc)
		return rc;
	const char *bad = NULL;
	rc = tenant_policy_from_json(p, json, strlen(json), &bad);
	if (rc) {
		log_err("policy: stored policy of tenant %lld is invalid at %s; using defaults",
		        (long long)tenant_id, bad ? bad : "?");
		tenant_policy_defaults(p);
	}
	*version = v;
	return 0;
}

int accounts_policy_get(struct app *a, int64_t tenant_id, struct tenant_policy *p,
                        int64_t *version)
{
	int64_t v = 0, now = bw_mono_ms();
	struct app_policy_slot *slot = a->policies && tenant_id > 0
		? &a->policies[(uint64_t)tenant_id % APP_POLICY_CACHE] : NULL;
	if (slot && slot->tenant_id == tenant_id && now - slot->fetched_ms < APP_POLICY_TTL_MS) {
		*p = slot->p;
		if (version)
			*version = slot->version;
		return 0;
	}
	int rc = policy_load(a, tenant_id, p, &v);
	if (rc)
		return rc;
	if (slot) {
		slot->tenant_id = tenant_id;
		slot->version = v;
		slot->fetched_ms = now;
		slot->p = *p;
	}
	if (version)
		*version = v;
	return 0;
}

void accounts_policy_forget(struct app *a, int64_t tenant_id)
{
	if (a->policies && tenant_id > 0)
		a->policies[(uint64_t)tenant_id % APP_POLICY_CACHE].tenant_id = 0;
}

/* Seals the personal and organisational fields of u from in (u->id known). */
static int seal_fields(struct app *a, struct store_user *u, const struct account_new *in)
{
	struct { const char *v; int cls; const char *col; struct store_box *box; } f[] = {
		{ in->display_name, KEY_CLASS_DATA, "display_name", &u->display_name },
		{ in->email, KEY_CLASS_PII, "email", &u->email },
		{ in->phone, KEY_CLASS_PII, "phone", &u->phone },
		{ in->id_card, KEY_CLASS_PII, "id_card", &u->id_card },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(f); i++) {
		int rc = keys_seal(a->kr, u->tenant_id, f[i].cls, "users", u->id, f[i].col,
		                   f[i].v ? f[i].v : "", f[i].v ? strlen(f[i].v) : 0, f[i].box);
		if (rc)
			return rc;
	}
	return 0;
}

static int user_create_txn(struct app *a, const struct actor *ac, int64_t tenant_id,
                           const struct account_new *in, struct store_user *u)
{
	memset(u, 0, sizeof *u);
	if (!accounts_username_valid(in->username))
		return BW_EINVAL;
	if (in->role <= ROLE_NONE || in->role >= ROLE_COUNT_)
		return BW_EINVAL;
	u->tenant_id = tenant_id;
	snprintf(u->username, sizeof u->username, "%s", in->username);
	snprintf(u->role, sizeof u->role, "%s", policy_role_name(in->role));
	u->status = USER_ACTIVE;
	u->dept_id = in->dept_id;
	if (snprintf(u->pw_hash, sizeof u->pw_hash, "%s", in->pw_hash) >= (int)sizeof u->pw_hash)
		return BW_EINVAL;
	u->must_change_pw = true;
	u->created_at = bw_now();
	u->pw_changed_at = u->created_at;
	int rc = a->s->ops->user_create(a->s, u);
	if (rc)
		return rc;
	if ((rc = seal_fields(a, u, in)) || (rc = a->s->ops->user_update(a->s, u)))
		return rc;
	char obj[200], detail[128];
	struct store_tenant t;
	if ((rc = a->s->ops->tenant_get(a->s, tenant_id, &t)))
		return rc;
	accounts_user_label(u, t.name, obj, sizeof obj);
	snprintf(detail, sizeof detail, "{\"role\":\"%s\"}", u->role);
	return app_audit_txn(a, ac, tenant_id, "user.create", obj, "success", detail);
}

int accounts_user_create(struct app *a, const struct actor *ac, int64_t tenant_id,
                         const struct account_new *in, struct store_user *out)
{
	int rc = a->s->ops->begin(a->s, true);
	if (rc)
		return rc;
	rc = user_create_txn(a, ac, tenant_id, in, out);
	if (rc == 0)
		rc = a->s->ops->commit(a->s);
	if (rc)
		a->s->ops->rollback(a->s);
	return rc;
}

int accounts_tenant_create(struct app *a, const struct actor *ac, const char *name,
                           int64_t *tenant_id, struct onetime_pw pw[3])
{
	static const struct { const char *user, *display; int role; } admins[3] = {
		{ "admin", "System Administrator", ROLE_SYSADMIN },
		{ "secadmin", "Security Administrator", ROLE_SECADMIN },
		{ "auditor", "Audit Administrator", ROLE_AUDITADMIN },
	};
	if (!accounts_tenant_name_valid(name))
		return BW_EINVAL;
	char hashes[3][CRYPTO_PWHASH_MAX];
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++) {
		rc = passwd_generate(pw[i].password, sizeof pw[i].password);
		if (rc == 0)
			rc = bwc_pwhash(pw[i].password, strlen(pw[i].password), hashes[i]);
	}
	if (rc)
		goto wipe;
	if ((rc = a->s->ops->begin(a->s, true)))
		goto wipe;
	int64_t tid = 0;
	rc = a->s->ops->tenant_create(a->s, name, bw_now(), &tid);
	if (rc == 0)
		rc = keys_tenant_create(a->kr, tid);
	if (rc == 0) {
		struct tenant_policy p;
		tenant_policy_defaults(&p);
		char *json = tenant_policy_to_json(&p);
		int64_t ver;
		rc = json ? a->s->ops->policy_put(a->s, tid, json, 0, bw_now(), &ver) : BW_ENOMEM;
		free(json);
	}
	if (rc == 0)
		rc = app_audit_txn(a, ac, tid, "tenant.create", name, "success", NULL);
	if (rc == 0)
		rc = app_audit_txn(a, ac, tid, "key.create", name, "success",
		                   "{\"classes\":[\"data\",\"pii\"],\"version\":1}");
	for (int i = 0; i < 3 && rc == 0; i++) {
		struct store_user u;
		struct account_new in = { .username = admins[i].user, .display_name = admins[i].display,
		                          .role = admins[i].role, .pw_hash = hashes[i] };
		rc = user_create_txn(a, ac, tid, &in, &u);
	}
	if (rc == 0)
		rc = a->s->ops->commit(a->s);
	if (rc)
		a->s->ops->rollback(a->s);
	else if (tenant_id)
		*tenant_id = tid;
wipe:
	sodium_memzero(hashes, sizeof hashes);
	if (rc)
		sodium_memzero(pw, 3 * sizeof *pw);
	return rc;
}

json_t *accounts_user_json(struct app *a, const struct store_user *u, bool unmask)
{
	char name[STORE_FIELD_MAX + 1], email[STORE_FIELD_MAX + 1], phone[STORE_FIELD_MAX + 1],
	     idc[STORE_FIELD_MAX + 1];
	if (keys_open(a->kr, u->tenant_id, KEY_CLASS_DATA, "users", u->id, "display_name",
	              &u->display_name, name, sizeof name))
		snprintf(name, sizeof name, "%s", "");
	struct { const struct store_box *box; const char *col; char *out;
	         void (*mask)(const char *, char *, size_t); } pii[] = {
		{ &u->email, "email", email, keys_mask_email },
		{ &u->phone, "phone", phone, keys_mask_phone },
		{ &u->id_card, "id_card", idc, keys_mask_id_card },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(pii); i++) {
		char plain[STORE_FIELD_MAX + 1];
		if (keys_open(a->kr, u->tenant_id, KEY_CLASS_PII, "users", u->id, pii[i].col,
		              pii[i].box, plain, sizeof plain) != 0) {
			pii[i].out[0] = 0;
			continue;
		}
		if (unmask || !plain[0])
			memcpy(pii[i].out, plain, strlen(plain) + 1);
		else
			pii[i].mask(plain, pii[i].out, STORE_FIELD_MAX + 1);
		sodium_memzero(plain, sizeof plain);
	}
	int64_t now = bw_now();
	json_t *o = json_pack("{sI sI ss ss ss ss sb sI sb sb ss ss ss sI sI sI}",
		"id", (json_int_t)u->id, "tenant_id", (json_int_t)u->tenant_id,
		"username", u->username, "display_name", name, "role", u->role,
		"status", u->status == USER_ACTIVE ? "active" : "disabled",
		"locked", u->locked_until > now, "locked_until", (json_int_t)(u->locked_until > now ? u->locked_until : 0),
		"mfa_enabled", u->totp_enabled, "must_change_password", u->must_change_pw,
		"email", email, "phone", phone, "id_card", idc,
		"dept_id", (json_int_t)u->dept_id, "created_at", (json_int_t)u->created_at,
		"last_login_at", (json_int_t)u->last_login_at);
	sodium_memzero(email, sizeof email);
	sodium_memzero(phone, sizeof phone);
	sodium_memzero(idc, sizeof idc);
	return o;
}

int accounts_set_password(struct app *a, struct store_user *u, const char *pw_hash,
                          bool must_change)
{
	if (snprintf(u->pw_hash, sizeof u->pw_hash, "%s", pw_hash) >= (int)sizeof u->pw_hash)
		return BW_EINVAL;
	u->must_change_pw = must_change;
	u->pw_changed_at = bw_now();
	u->failed_count = 0;
	u->locked_until = 0;
	return a->s->ops->user_update(a->s, u);
}

struct retention_max { struct app *a; int days; };

static int retention_of(void *arg, const struct store_tenant *t)
{
	struct retention_max *m = arg;
	struct tenant_policy p;
	if (accounts_policy_get(m->a, t->id, &p, NULL) == 0 && p.audit_retention_days > m->days)
		m->days = p.audit_retention_days;
	return 0;
}

int app_audit_retention(struct app *a, int64_t *purged)
{
	struct retention_max m = { a, 180 };
	int rc = a->s->ops->tenant_list(a->s, retention_of, &m);
	if (rc)
		return rc;
	int64_t cutoff = bw_now_ms() - (int64_t)m.days * 86400 * 1000;
	return audit_retention_run(a->au, cutoff, purged);
}

#define CAPACITY_TRACK_MAX 4096

struct capacity_ctx { struct app *a; int64_t every_s; };

static int capacity_of(void *arg, const struct store_tenant *t)
{
	static struct { int64_t tenant, last; } warned[CAPACITY_TRACK_MAX];
	static size_t nwarned;
	struct capacity_ctx *c = arg;
	struct tenant_policy p;
	int64_t n = 0;
	if (accounts_policy_get(c->a, t->id, &p, NULL) != 0 || p.audit_capacity_records <= 0)
		return 0;
	if (c->a->s->ops->audit_count_tenant(c->a->s, t->id, &n) != 0)
		return 0;
	if (n * 10 < (int64_t)p.audit_capacity_records * 9)
		return 0;
	size_t i;
	for (i = 0; i < nwarned && warned[i].tenant != t->id; i++)
		;
	int64_t now = bw_now();
	if (i < nwarned && now - warned[i].last < c->every_s)
		return 0;
	if (i == nwarned) {
		if (nwarned == CAPACITY_TRACK_MAX)
			i = 0;   /* degrade to warning more often, never less */
		else
			nwarned++;
		warned[i].tenant = t->id;
	}
	warned[i].last = now;
	char detail[128];
	snprintf(detail, sizeof detail, "{\"records\":%lld,\"capacity\":%d,\"percent\":%lld}",
	         (long long)n, p.audit_capacity_records,
	         (long long)(n * 100 / p.audit_capacity_records));
	log_warn("audit trail of tenant %s holds %lld records, capacity %d", t->name, (long long)n,
	         p.audit_capacity_records);
	struct actor ac;
	actor_system(&ac, "system");
	app_audit(c->a, &ac, t->id, "audit.capacity", t->name, "success", detail);
	return 0;
}

int app_audit_capacity(struct app *a, int64_t every_s)
{
	struct capacity_ctx c = { a, every_s };
	return a->s->ops->tenant_list(a->s, capacity_of, &c);
}
