/*
 * api_auth.c — sign-in, tickets, password change, TOTP, own sessions and
 * devices (PS-IA-a…f, RG-APP-d/g, WC-TICKET, WC-AC, RG-AC-b, PS-COM-c,
 * PS-LOG-a).
 *
 * Tickets: 256 random bits, given to the client once, stored only as a
 * hash; bound to a device record; idle and absolute timeouts from the tenant
 * policy.  Restricted scopes (password change, MFA enrolment) can do nothing
 * else (PS-IA-d).  Every credential check — password, TOTP, recovery code —
 * runs Argon2id on the worker pool, counts toward the account lockout and
 * the per-address throttle, and is audited.
 */
#include "api.h"
#include "audit.h"
#include "keyd.h"
#include "keys.h"
#include "passwd.h"
#include "qr.h"
#include "ratelimit.h"
#include "totp.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define RESTRICTED_TICKET_SECS (15 * 60)
#define TOUCH_EVERY_SECS 15

/* A hash to verify unknown users against, so that timing does not tell
 * which usernames exist.  Made once, on a worker, on first use. */
static char dummy_hash[CRYPTO_PWHASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_hash_make(void)
{
	uint8_t junk[24];
	char pw[40];
	bwc_random(junk, sizeof junk);
	bw_b64url_encode(junk, sizeof junk, pw);
	bwc_pwhash(pw, strlen(pw), dummy_hash);
	sodium_memzero(pw, sizeof pw);
}

/* ---- tickets ----------------------------------------------------------------- */

void ticket_hash_token(const char *token, uint8_t out[CRYPTO_HASH_LEN])
{
	struct bwc_hash_ctx c;
	bwc_hash_init(&c);
	bwc_hash_update(&c, "bw-ticket-v1", 12);
	bwc_hash_update(&c, token, strlen(token));
	bwc_hash_final(&c, out);
}

void ticket_csrf(const char *token, char out[64])
{
	uint8_t h[CRYPTO_HASH_LEN];
	struct bwc_hash_ctx c;
	bwc_hash_init(&c);
	bwc_hash_update(&c, "bw-csrf-v1", 10);
	bwc_hash_update(&c, token, strlen(token));
	bwc_hash_final(&c, h);
	bw_b64url_encode(h, sizeof h, out);
}

static const char *scope_name(int scope)
{
	return scope == TICKET_FULL ? "full"
	     : scope == TICKET_PASSWORD_CHANGE ? "password_change" : "mfa_enrol";
}

static bool token_well_formed(const char *t)
{
	if (strlen(t) != TICKET_TOKEN_B64)
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static void session_id_hex(const uint8_t hash[CRYPTO_HASH_LEN], char out[2 * CRYPTO_HASH_LEN + 1])
{
	bw_hex_encode(hash, CRYPTO_HASH_LEN, out);
}

bool ticket_expired_at(const struct store_ticket *t, const struct tenant_policy *p, int64_t now)
{
	return now >= t->expires_at || now >= t->last_seen + (int64_t)p->idle_timeout_minutes * 60;
}

void ticket_expire(struct srv *s, const struct store_ticket *t, const struct store_tenant *tenant,
                   const struct store_user *u, const char *source)
{
	struct store *st = s->app->s;
	int64_t now = bw_now();
	/* first sight of the expiry: revoke so it is recorded once (PS-IA-f) */
	st->ops->ticket_revoke(st, t->tenant_id, t->hash, now, "expired");
	struct actor ac;
	actor_user(&ac, tenant, u);
	ac.source = source;
	char hex[17], detail[96];
	bw_hex_encode(t->hash, 8, hex);
	snprintf(detail, sizeof detail, "{\"session\":\"%s\",\"reason\":\"%s\"}", hex,
	         now >= t->expires_at ? "absolute" : "idle");
	app_audit(s->app, &ac, t->tenant_id, "auth.ticket_expired", ac.name, "success", detail);
	ws_session_ended(s, t->hash, 0, "expired");
}

int ticket_authenticate(struct srv *s, const char *token, const char *ip, struct req *r)
{
	struct store *st = s->app->s;
	if (!token || !token_well_formed(token))
		return BW_EAUTH;
	struct store_ticket t;
	uint8_t h[CRYPTO_HASH_LEN];
	ticket_hash_token(token, h);
	if (st->ops->ticket_get(st, h, &t) != 0 || t.revoked_at)
		return BW_EAUTH;
	if (st->ops->user_get(st, t.tenant_id, t.user_id, &r->user) != 0 ||
	    st->ops->tenant_get(st, t.tenant_id, &r->tenant) != 0)
		return BW_EAUTH;
	accounts_policy_get(s->app, t.tenant_id, &r->policy, NULL);
	int64_t now = bw_now();
	if (ticket_expired_at(&t, &r->policy, now)) {
		ticket_expire(s, &t, &r->tenant, &r->user, ip);
		return BW_EEXPIRED;
	}
	if (r->user.status != USER_ACTIVE)
		return BW_EAUTH;
	if (now - t.last_seen >= TOUCH_EVERY_SECS) {
		st->ops->ticket_touch(st, h, now);
		t.last_seen = now;
	}
	r->ticket = t;
	r->authed = true;
	r->subj.tenant_id = t.tenant_id;
	r->subj.user_id = t.user_id;
	r->subj.role = policy_role_parse(r->user.role);
	r->subj.scope = t.scope;
	actor_user(&r->actor, &r->tenant, &r->user);
	r->actor.source = r->ip;
	r->actor.request_id = r->request_id;
	snprintf(r->device_label, sizeof r->device_label, "device#%lld", (long long)t.device_id);
	r->actor.device = r->device_label;
	return 0;
}

/* Creates a ticket; writes the token (TICKET_TOKEN_B64+1) and the row. */
static int ticket_issue(struct req *r, const struct store_user *u, int64_t device_id,
                        int scope, char token[TICKET_TOKEN_B64 + 1], struct store_ticket *t)
{
	uint8_t raw[TICKET_TOKEN_LEN];
	bwc_random(raw, sizeof raw);
	bw_b64url_encode(raw, sizeof raw, token);
	sodium_memzero(raw, sizeof raw);
	memset(t, 0, sizeof *t);
	ticket_hash_token(token, t->hash);
	t->tenant_id = u->tenant_id;
	t->user_id = u->id;
	t->device_id = device_id;
	t->scope = scope;
	t->created_at = t->last_seen = bw_now();
	t->expires_at = t->created_at + (scope == TICKET_FULL
		? (int64_t)r->policy.absolute_timeout_hours * 3600 : RESTRICTED_TICKET_SECS);
	snprintf(t->ip, sizeof t->ip, "%s", r->ip);
	struct store *st = r->srv->app->s;
	return st->ops->ticket_insert(st, t);
}

void api_credential_failed(struct req *r)
{
	int retry;
	ratelimit_take(r->srv->rl_login, r->ip, bw_mono_ms(), &retry);
}

static bool address_throttled(struct req *r)
{
	/* peek: only failures take tokens, so check that one is left */
	int retry = 0;
	if (ratelimit_take(r->srv->rl_login, r->ip, bw_mono_ms(), &retry)) {
		/* give it back: successes do not count */
		ratelimit_refund(r->srv->rl_login, r->ip);
		return false;
	}
	char ra[16];
	snprintf(ra, sizeof ra, "%d", retry);
	req_header(r, "retry-after:", ra);
	return true;
}

int api_revoke_user_sessions(struct req *r, int64_t user_id, const uint8_t *keep,
                             const char *why, int *n)
{
	struct store *st = r->srv->app->s;
	int count = 0;
	int rc = st->ops->ticket_revoke_user(st, r->user.tenant_id, user_id, keep, bw_now(), why,
	                                     &count);
	if (rc == 0) {
		ws_sessions_revoked(r->srv, user_id, keep);
		if (n)
			*n = count;
	}
	return rc;
}

/* ---- responses ---------------------------------------------------------- */

static json_t *session_body(struct req *r, const struct store_user *u, const char *token,
                            const struct store_ticket *t, bool bearer, bool new_device)
{
	char csrf[64];
	ticket_csrf(token, csrf);
	const char *scope = scope_name(t->scope);
	json_t *o = json_pack("{sI sI ss ss sb so}", "expires_at", (json_int_t)t->expires_at,
	                      "idle_timeout", (json_int_t)r->policy.idle_timeout_minutes * 60,
	                      "csrf_token", csrf, "scope", scope, "new_device", new_device,
	                      "user", accounts_user_json(r->srv->app, u, true));
	if (o && bearer)
		json_object_set_new(o, "ticket", json_string(token));
	return o;
}

static void set_ticket_cookie(struct req *r, const char *token)
{
	char c[160];
	snprintf(c, sizeof c, "bw_ticket=%s; Path=/; HttpOnly; Secure; SameSite=Strict", token);
	req_header(r, "set-cookie:", c);
}

/* ---- health ----------------------------------------------------------------- */

void h_health(struct req *r)
{
	req_json(r, 200, json_pack("{ss}", "status", "ok"));
}

/* ---- login ------------------------------------------------------------------ */

struct login_ctx {
	char tenant[STORE_NAME_MAX + 1];
	char username[STORE_NAME_MAX + 1];
	char password[PASSWD_MAX_BYTES + 1];
	char totp[RECOVERY_CODE_INPUT_MAX + 1];
	char device_name[STORE_NAME_MAX + 1];
	char device_id[65];
	bool cookie;
	bool found;
	char pw_hash[CRYPTO_PWHASH_MAX];
	int verify_rc;
};

static void login_ctx_free(void *p)
{
	sodium_memzero(p, sizeof(struct login_ctx));
	free(p);
}

static void login_work(struct req *r)
{
	struct login_ctx *c = r->async_ctx;
	if (!c->found)
		pthread_once(&dummy_once, dummy_hash_make);
	c->verify_rc = bwc_pwhash_verify(c->found ? c->pw_hash : dummy_hash, c->password,
	                                    strlen(c->password));
}

/* One failed credential check against a known account (PS-IA-f): takes a
 * token from the address throttle, counts toward the account lockout and
 * audits the failure and any lockout — counter and records in one
 * transaction, on the account as stored now (the check itself ran on a
 * worker, meanwhile other attempts may have counted).  Returns true when
 * this failure locked the account. */
static bool credential_failed(struct req *r, int64_t tenant_id, int64_t user_id,
                              const struct actor *ac, const char *event, const char *label,
                              const char *reason)
{
	struct app *a = r->srv->app;
	struct store *st = a->s;
	struct store_user u;
	bool lock = false;
	char detail[96], d2[64];
	api_credential_failed(r);
	snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", reason);
	snprintf(d2, sizeof d2, "{\"minutes\":%d}", r->policy.lockout_minutes);
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->user_get(st, tenant_id, user_id, &u);
	if (rc == 0) {
		u.failed_count++;
		lock = u.failed_count >= r->policy.lockout_threshold;
		if (lock) {
			u.locked_until = bw_now() + (int64_t)r->policy.lockout_minutes * 60;
			u.failed_count = 0;
		}
		rc = st->ops->user_update(st, &u);
	}
	if (rc == 0)
		rc = app_audit_txn(a, ac, tenant_id, event, label, "failure", detail);
	if (rc == 0 && lock)
		rc = app_audit_txn(a, ac, tenant_id, "auth.lockout", label, "success", d2);
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		log_err("recording a failed %s for user %lld failed: %s", event, (long long)user_id,
		        bw_strerror(rc));
		return false;
	}
	return lock;
}

static void login_fail(struct req *r, struct store_user *u, const char *label,
                       const char *why, bool count)
{
	struct actor ac;
	actor_system(&ac, label);
	ac.source = r->ip;
	ac.request_id = r->request_id;
	if (u && count) {
		credential_failed(r, u->tenant_id, u->id, &ac, "auth.login", label, why);
	} else {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", why);
		api_credential_failed(r);
		app_audit(r->srv->app, &ac, u ? u->tenant_id : 0, "auth.login", label, "failure", detail);
	}
	req_error(r, 401, "invalid_credentials", "wrong tenant, username or password");
}

/* What the store keeps of a recovery code: H("bw-recovery-v1/tenant/user/code")
 * of the normalised code, bound to its account. */
static void recovery_hash(const struct store_user *u, const char *norm,
                          uint8_t out[CRYPTO_HASH_LEN])
{
	char buf[128];
	snprintf(buf, sizeof buf, "bw-recovery-v1/%lld/%lld/%s", (long long)u->tenant_id,
	         (long long)u->id, norm);
	bwc_hash(buf, strlen(buf), out);
	sodium_memzero(buf, sizeof buf);
}

static int check_second_factor(struct req *r, struct store_user *u, const char *code,
                               bool *used_recovery)
{
	struct app *a = r->srv->app;
	*used_recovery = false;
	size_t n = strlen(code);
	if (n == TOTP_DIGITS) {
		char b32[TOTP_SECRET_MAX * 2];
		uint8_t secret[TOTP_SECRET_MAX];
		int rc = keys_open(a->kr, u->tenant_id, KEY_CLASS_DATA, "users", u->id, "totp_secret",
		                   &u->totp_secret, b32, sizeof b32);
		if (rc)
			return rc;
		/* stored as raw bytes hex-encoded inside the box */
		int len = bw_hex_decode(b32, strlen(b32), secret, sizeof secret);
		sodium_memzero(b32, sizeof b32);
		if (len <= 0)
			return BW_ECRYPTO;
		int64_t step = 0;
		rc = totp_verify(secret, (size_t)len, code, bw_now(), 1, u->totp_last_step, &step);
		sodium_memzero(secret, sizeof secret);
		if (rc == 0)
			u->totp_last_step = step;
		return rc;
	}
	char norm[RECOVERY_CODE_NORM_LEN + 1];
	if (recovery_code_normalise(code, norm, sizeof norm) != 0)
		return BW_EAUTH;
	uint8_t h[CRYPTO_HASH_LEN];
	recovery_hash(u, norm, h);
	sodium_memzero(norm, sizeof norm);
	int rc = a->s->ops->recovery_use(a->s, u->tenant_id, u->id, h, bw_now());
	if (rc == 0)
		*used_recovery = true;
	return rc == 0 ? 0 : BW_EAUTH;
}

/* Finds or creates the device record of this sign-in (RG-APP-d: sign-in
 * from a new device is recorded and shown).  A browser is recognised by our
 * long-lived HttpOnly device cookie (issued here when missing); a program by
 * the device_id it sends, or else by its user agent and device name. */
static int device_register(struct req *r, const struct store_user *u, bool browser,
                           const char *device_id, const char *device_name,
                           struct store_device *d, bool *created)
{
	struct store *st = r->srv->app->s;
	memset(d, 0, sizeof *d);
	d->tenant_id = u->tenant_id;
	d->user_id = u->id;
	struct bwc_hash_ctx h;
	bool set_cookie = false;
	bwc_hash_init(&h);
	if (r->device_cookie[0] && strlen(r->device_cookie) == TICKET_TOKEN_B64) {
		bwc_hash_update(&h, "cookie:", 7);
		bwc_hash_update(&h, r->device_cookie, strlen(r->device_cookie));
	} else if (device_id && *device_id) {
		bwc_hash_update(&h, "client:", 7);
		bwc_hash_update(&h, device_id, strlen(device_id));
	} else if (browser) {
		uint8_t raw[TICKET_TOKEN_LEN];
		bwc_random(raw, sizeof raw);
		bw_b64url_encode(raw, sizeof raw, r->device_cookie);
		sodium_memzero(raw, sizeof raw);
		bwc_hash_update(&h, "cookie:", 7);
		bwc_hash_update(&h, r->device_cookie, strlen(r->device_cookie));
		set_cookie = true;
	} else {
		bwc_hash_update(&h, "agent:", 6);
		bwc_hash_update(&h, r->ua, strlen(r->ua));
		bwc_hash_update(&h, "\n", 1);
		bwc_hash_update(&h, device_name ? device_name : "", device_name ? strlen(device_name) : 0);
	}
	bwc_hash_final(&h, d->device_hash);
	snprintf(d->name, sizeof d->name, "%s", device_name && *device_name ? device_name : "");
	snprintf(d->user_agent, sizeof d->user_agent, "%s", r->ua);
	snprintf(d->first_ip, sizeof d->first_ip, "%s", r->ip);
	snprintf(d->last_ip, sizeof d->last_ip, "%s", r->ip);
	d->first_seen = d->last_seen = bw_now();
	int rc = st->ops->device_upsert(st, d, created);
	if (rc == 0 && set_cookie) {
		char c[200];
		snprintf(c, sizeof c, "bw_device=%s; Path=/; Max-Age=63072000; HttpOnly; Secure; SameSite=Strict",
		         r->device_cookie);
		req_header(r, "set-cookie:", c);
	}
	return rc;
}

static void login_done(struct req *r)
{
	struct login_ctx *c = r->async_ctx;
	struct app *a = r->srv->app;
	struct store *st = a->s;
	struct store_user u;
	char label[200];
	snprintf(label, sizeof label, "%s/%s", c->tenant, c->username);
	if (!c->found || st->ops->user_get_by_name(st, r->tenant.id, c->username, &u) != 0) {
		login_fail(r, NULL, label, "unknown_user", false);
		return;
	}
	accounts_user_label(&u, r->tenant.name, label, sizeof label);
	int64_t now = bw_now();
	if (u.locked_until > now) {   /* locked while we were hashing */
		req_error_ex(r, 423, "account_locked", "too many failed attempts; try later",
		             json_pack("{sI}", "locked_until", (json_int_t)u.locked_until), NULL);
		return;
	}
	if (c->verify_rc != 0) {
		login_fail(r, &u, label, "wrong_password", true);
		return;
	}
	if (u.status != USER_ACTIVE) {
		login_fail(r, &u, label, "disabled", false);
		return;
	}
	int role = policy_role_parse(u.role);
	bool used_recovery = false;
	if (u.totp_enabled) {
		if (!c->totp[0]) {
			struct actor ac;
			actor_system(&ac, label);
			ac.source = r->ip;
			app_audit(a, &ac, u.tenant_id, "auth.login", label, "failure",
			          "{\"reason\":\"mfa_required\"}");
			req_error(r, 401, "mfa_required", "enter the code from your authenticator app");
			return;
		}
		if (check_second_factor(r, &u, c->totp, &used_recovery) != 0) {
			login_fail(r, &u, label, "wrong_second_factor", true);
			return;
		}
	}
	/* success */
	u.failed_count = 0;
	u.locked_until = 0;
	u.last_login_at = now;
	int scope = TICKET_FULL;
	if (u.must_change_pw)
		scope = TICKET_PASSWORD_CHANGE;
	else if (!u.totp_enabled && tenant_policy_mfa_required(&r->policy, role))
		scope = TICKET_MFA_ENROL;
	struct store_device d;
	bool new_device = false;
	char token[TICKET_TOKEN_B64 + 1];
	struct store_ticket t;
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->user_update(st, &u);
	if (rc == 0)
		rc = device_register(r, &u, c->cookie, c->device_id, c->device_name, &d, &new_device);
	if (rc == 0 && scope == TICKET_FULL && r->policy.single_session) {
		int n = 0;
		rc = st->ops->ticket_revoke_user(st, u.tenant_id, u.id, NULL, now, "single_session", &n);
	}
	if (rc == 0)
		rc = ticket_issue(r, &u, d.id, scope, token, &t);
	struct actor ac;
	actor_user(&ac, &r->tenant, &u);
	ac.source = r->ip;
	ac.request_id = r->request_id;
	char devlabel[64];
	snprintf(devlabel, sizeof devlabel, "device#%lld", (long long)d.id);
	ac.device = devlabel;
	char detail[200];
	snprintf(detail, sizeof detail, "{\"scope\":\"%s\",\"mfa\":%s,\"recovery_code\":%s}",
	         scope_name(scope),
	         u.totp_enabled ? "true" : "false", used_recovery ? "true" : "false");
	if (rc == 0)
		rc = app_audit_txn(a, &ac, u.tenant_id, "auth.login", label, "success", detail);
	if (rc == 0 && new_device) {
		char d2[300];
		json_t *dj = json_pack("{ss ss ss}", "name", d.name, "user_agent", d.user_agent, "ip", r->ip);
		char *dt = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
		json_decref(dj);
		snprintf(d2, sizeof d2, "%s", dt ? dt : "{}");
		free(dt);
		rc = app_audit_txn(a, &ac, u.tenant_id, "auth.new_device", devlabel, "success", d2);
	}
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		sodium_memzero(token, sizeof token);
		api_store_error(r, rc);
		return;
	}
	if (new_device) {
		json_t *ev = json_pack("{ss ss s{ss ss} sI}", "type", "security", "event", "new_device",
		                       "device", "name", d.name[0] ? d.name : d.user_agent, "ip", r->ip,
		                       "time", (json_int_t)now);
		char *txt = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
		json_decref(ev);
		if (txt)
			ws_notify_user(r->srv, u.tenant_id, u.id, t.hash, txt);
		free(txt);
	}
	bool bearer = !c->cookie;
	if (c->cookie)
		set_ticket_cookie(r, token);
	json_t *body = session_body(r, &u, token, &t, bearer, new_device);
	sodium_memzero(token, sizeof token);
	if (scope == TICKET_FULL)
		req_json(r, 200, body);
	else if (scope == TICKET_PASSWORD_CHANGE)
		req_error_ex(r, 403, "password_change_required",
		             "this password is one-time: choose a new one to continue", NULL, body);
	else
		req_error_ex(r, 403, "mfa_enrolment_required",
		             "your role requires two-factor authentication: enrol an authenticator app to continue",
		             NULL, body);
}

void h_login(struct req *r)
{
	static const char *const allowed[] = { "tenant", "username", "password", "totp",
	                                        "device_name", "device_id", "session", NULL };
	const char *tenant, *username, *password, *totp, *device_name, *device_id, *session;
	if (!r->json) {
		req_error(r, 400, "invalid_request", "a JSON body is required");
		return;
	}
	if (!req_only(r, allowed) ||
	    !req_str(r, "tenant", true, STORE_NAME_MAX, &tenant) ||
	    !req_str(r, "username", true, STORE_NAME_MAX, &username) ||
	    !req_str(r, "password", true, PASSWD_MAX_BYTES, &password) ||
	    !req_str(r, "totp", false, RECOVERY_CODE_INPUT_MAX, &totp) ||
	    !req_str(r, "device_name", false, STORE_NAME_MAX, &device_name) ||
	    !req_str(r, "device_id", false, 64, &device_id) ||
	    !req_str(r, "session", false, 16, &session))
		return;
	if (session && strcmp(session, "cookie") != 0 && strcmp(session, "bearer") != 0) {
		req_error(r, 400, "invalid_request", "session must be \"cookie\" or \"bearer\"");
		return;
	}
	if (address_throttled(r)) {
		req_audit(r, "auth.login", "-", "denied", "{\"reason\":\"rate_limited\"}");
		req_error(r, 429, "rate_limited", "too many failed sign-ins from your address; wait and retry");
		return;
	}
	struct login_ctx *c = req_ctx_new(r, sizeof *c);
	if (!c)
		return;
	snprintf(c->tenant, sizeof c->tenant, "%s", accounts_tenant_name_valid(tenant) ? tenant : "<invalid>");
	snprintf(c->username, sizeof c->username, "%s", accounts_username_valid(username) ? username : "<invalid>");
	snprintf(c->password, sizeof c->password, "%s", password);
	snprintf(c->totp, sizeof c->totp, "%s", totp ? totp : "");
	snprintf(c->device_name, sizeof c->device_name, "%s", device_name ? device_name : "");
	snprintf(c->device_id, sizeof c->device_id, "%s", device_id ? device_id : "");
	c->cookie = session && strcmp(session, "cookie") == 0;
	/* wipe the password from the parsed body now that we have a copy */
	json_object_del(r->json, "password");

	struct store *st = r->srv->app->s;
	struct store_user u;
	if (st->ops->tenant_get_by_name(st, c->tenant, &r->tenant) == 0 &&
	    st->ops->user_get_by_name(st, r->tenant.id, c->username, &u) == 0) {
		c->found = true;
		memcpy(c->pw_hash, u.pw_hash, sizeof c->pw_hash);
		accounts_policy_get(r->srv->app, r->tenant.id, &r->policy, NULL);
		if (u.locked_until > bw_now()) {
			char label[200];
			accounts_user_label(&u, r->tenant.name, label, sizeof label);
			struct actor ac;
			actor_system(&ac, label);
			ac.source = r->ip;
			ac.request_id = r->request_id;
			app_audit(r->srv->app, &ac, u.tenant_id, "auth.login", label, "failure",
			          "{\"reason\":\"locked\"}");
			login_ctx_free(c);
			req_error_ex(r, 423, "account_locked", "too many failed attempts; try again later",
			             json_pack("{sI}", "locked_until", (json_int_t)u.locked_until), NULL);
			return;
		}
	} else {
		tenant_policy_defaults(&r->policy);
	}
	req_async(r, login_work, login_done, c, login_ctx_free);
}

void h_logout(struct req *r)
{
	struct store *st = r->srv->app->s;
	st->ops->ticket_revoke(st, r->user.tenant_id, r->ticket.hash, bw_now(), "signed_out");
	req_audit(r, "auth.logout", r->actor.name, "success", NULL);
	ws_session_ended(r->srv, r->ticket.hash, 0, "signed_out");
	req_header(r, "set-cookie:", "bw_ticket=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
	req_empty(r, 204);
}

static int find_device(void *arg, const struct store_device *d)
{
	struct store_device *want = arg;
	if (d->id == want->id) {
		*want = *d;
		return 1;
	}
	return 0;
}

void h_session(struct req *r)
{
	char csrf[64];
	ticket_csrf(r->token, csrf);
	struct store *st = r->srv->app->s;
	struct store_device d;
	memset(&d, 0, sizeof d);
	d.id = r->ticket.device_id;
	st->ops->device_list(st, r->user.tenant_id, r->user.id, find_device, &d);
	const char *scope = scope_name(r->ticket.scope);
	int role = policy_role_parse(r->user.role);
	json_t *o = json_pack("{so ss sI sI ss s{sI ss ss} s{sI ss} s{sb si}}",
		"user", accounts_user_json(r->srv->app, &r->user, true), "scope", scope,
		"expires_at", (json_int_t)r->ticket.expires_at,
		"idle_expires_at", (json_int_t)(r->ticket.last_seen + (int64_t)r->policy.idle_timeout_minutes * 60),
		"csrf_token", csrf,
		"device", "id", (json_int_t)r->ticket.device_id, "name", d.name, "user_agent", d.user_agent,
		"tenant", "id", (json_int_t)r->tenant.id, "name", r->tenant.name,
		"policy", "mfa_required", tenant_policy_mfa_required(&r->policy, role),
		"password_min_length", r->policy.password_min_length);
	req_json(r, 200, o);
}

/* ---- password change --------------------------------------------------------- */

struct pw_ctx {
	char current[PASSWD_MAX_BYTES + 1];
	char next[PASSWD_MAX_BYTES + 1];
	char cur_hash[CRYPTO_PWHASH_MAX];
	char new_hash[CRYPTO_PWHASH_MAX];
	char code[RECOVERY_CODE_INPUT_MAX + 1];
	int verify_rc, hash_rc;
};

static void pw_ctx_free(void *p)
{
	sodium_memzero(p, sizeof(struct pw_ctx));
	free(p);
}

static void pw_work(struct req *r)
{
	struct pw_ctx *c = r->async_ctx;
	c->verify_rc = bwc_pwhash_verify(c->cur_hash, c->current, strlen(c->current));
	c->hash_rc = c->verify_rc == 0 && c->next[0]
	           ? bwc_pwhash(c->next, strlen(c->next), c->new_hash) : 0;
}

static void wrong_current(struct req *r, const char *event)
{
	if (credential_failed(r, r->user.tenant_id, r->user.id, &r->actor, event, r->actor.name,
	                      "wrong_password"))
		api_revoke_user_sessions(r, r->user.id, NULL, "locked", NULL);
	req_error(r, 401, "invalid_credentials", "the current password is wrong");
}

static void pw_done(struct req *r)
{
	struct pw_ctx *c = r->async_ctx;
	struct app *a = r->srv->app;
	struct store *st = a->s;
	if (c->verify_rc != 0) {
		wrong_current(r, "auth.password_change");
		return;
	}
	if (c->hash_rc != 0) {
		api_store_error(r, c->hash_rc);
		return;
	}
	struct store_user u;
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->user_get(st, r->user.tenant_id, r->user.id, &u);
	if (rc == 0)
		rc = accounts_set_password(a, &u, c->new_hash, false);
	int scope = TICKET_FULL;
	if (!u.totp_enabled && tenant_policy_mfa_required(&r->policy, policy_role_parse(u.role)))
		scope = TICKET_MFA_ENROL;
	int n = 0;
	if (rc == 0)
		rc = st->ops->ticket_revoke_user(st, u.tenant_id, u.id, r->ticket.hash, bw_now(),
		                                 "password_changed", &n);
	if (rc == 0)
		rc = st->ops->ticket_set_scope(st, r->ticket.hash, scope);
	char detail[96];
	snprintf(detail, sizeof detail, "{\"was_one_time\":%s,\"other_sessions_revoked\":%d}",
	         r->user.must_change_pw ? "true" : "false", n);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, u.tenant_id, "auth.password_change", r->actor.name,
		                   "success", detail);
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	ws_sessions_revoked(r->srv, u.id, r->ticket.hash);
	req_json(r, 200, json_pack("{ss}", "scope", scope == TICKET_FULL ? "full" : "mfa_enrol"));
}

void h_password(struct req *r)
{
	static const char *const allowed[] = { "current_password", "new_password", NULL };
	const char *cur, *next;
	if (!req_only(r, allowed) ||
	    !req_str(r, "current_password", true, PASSWD_MAX_BYTES, &cur) ||
	    !req_str(r, "new_password", true, PASSWD_MAX_BYTES, &next))
		return;
	if (address_throttled(r)) {
		req_error(r, 429, "rate_limited", "too many failed attempts from your address");
		return;
	}
	if (strcmp(cur, next) == 0) {
		req_error(r, 400, "invalid_request", "the new password must differ from the current one");
		return;
	}
	struct passwd_policy pp = { .min_length = r->policy.password_min_length, .min_classes = 3 };
	const char *reason = NULL;
	if (passwd_check(&pp, next, strlen(next), r->user.username, &reason) != 0) {
		char detail[96];
		snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}", reason ? reason : "invalid");
		req_audit(r, "auth.password_change", r->actor.name, "failure", detail);
		req_error_ex(r, 422, "password_policy", "the new password does not meet the policy",
		             json_pack("{ss sI}", "reason", reason ? reason : "invalid",
		                       "min_length", (json_int_t)pp.min_length), NULL);
		return;
	}
	struct pw_ctx *c = req_ctx_new(r, sizeof *c);
	if (!c)
		return;
	snprintf(c->current, sizeof c->current, "%s", cur);
	snprintf(c->next, sizeof c->next, "%s", next);
	memcpy(c->cur_hash, r->user.pw_hash, sizeof c->cur_hash);
	json_object_del(r->json, "current_password");
	json_object_del(r->json, "new_password");
	req_async(r, pw_work, pw_done, c, pw_ctx_free);
}

/* ---- TOTP -------------------------------------------------------------------- */

void h_totp_enrol(struct req *r)
{
	struct app *a = r->srv->app;
	struct store *st = a->s;
	if (r->user.totp_enabled) {
		req_error(r, 409, "conflict", "two-factor authentication is already enabled");
		return;
	}
	uint8_t secret[TOTP_SECRET_LEN];
	char hex[2 * TOTP_SECRET_LEN + 1], b32[64], uri[TOTP_URI_MAX], account[160];
	totp_secret_generate(secret);
	bw_hex_encode(secret, sizeof secret, hex);
	int rc = totp_secret_base32(secret, sizeof secret, b32, sizeof b32);
	sodium_memzero(secret, sizeof secret);
	struct store_user u = r->user;
	if (rc == 0)
		rc = keys_seal(a->kr, u.tenant_id, KEY_CLASS_DATA, "users", u.id, "totp_secret", hex,
		               strlen(hex), &u.totp_secret);
	sodium_memzero(hex, sizeof hex);
	u.totp_enabled = false;
	if (rc == 0)
		rc = st->ops->user_update(st, &u);
	snprintf(account, sizeof account, "%s@%s", u.username, r->tenant.name);
	if (rc == 0)
		rc = totp_uri("Bulwark", account, b32, uri, sizeof uri);
	char *svg = NULL;
	size_t svg_len = 0;
	if (rc == 0)
		rc = qr_svg(uri, &svg, &svg_len);
	if (rc) {
		sodium_memzero(b32, sizeof b32);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{ss ss ss}", "secret", b32, "otpauth_uri", uri, "qr_svg", svg));
	sodium_memzero(b32, sizeof b32);
	sodium_memzero(uri, sizeof uri);
	free(svg);
}

static int store_recovery_codes(struct req *r, const struct store_user *u,
                                char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1])
{
	uint8_t hashes[RECOVERY_CODE_COUNT][CRYPTO_HASH_LEN];
	int rc = recovery_codes_generate(codes);
	for (int i = 0; rc == 0 && i < RECOVERY_CODE_COUNT; i++) {
		char norm[RECOVERY_CODE_NORM_LEN + 1];
		rc = recovery_code_normalise(codes[i], norm, sizeof norm);
		if (rc == 0)
			recovery_hash(u, norm, hashes[i]);
		sodium_memzero(norm, sizeof norm);
	}
	struct store *st = r->srv->app->s;
	if (rc == 0)
		rc = st->ops->recovery_set(st, u->tenant_id, u->id,
		                           (const uint8_t (*)[CRYPTO_HASH_LEN])hashes, RECOVERY_CODE_COUNT);
	return rc;
}

static json_t *codes_json(char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1])
{
	json_t *arr = json_array();
	for (int i = 0; arr && i < RECOVERY_CODE_COUNT; i++)
		json_array_append_new(arr, json_string(codes[i]));
	return arr;
}

void h_totp_confirm(struct req *r)
{
	static const char *const allowed[] = { "code", NULL };
	const char *code;
	struct app *a = r->srv->app;
	struct store *st = a->s;
	if (!req_only(r, allowed) || !req_str(r, "code", true, 16, &code))
		return;
	if (address_throttled(r)) {
		req_error(r, 429, "rate_limited", "too many failed attempts from your address");
		return;
	}
	struct store_user u = r->user;
	if (u.totp_enabled) {
		req_error(r, 409, "conflict", "two-factor authentication is already enabled");
		return;
	}
	if (u.totp_secret.len == 0) {
		req_error(r, 409, "conflict", "start the enrolment first");
		return;
	}
	bool rec;
	if (strlen(code) != TOTP_DIGITS || check_second_factor(r, &u, code, &rec) != 0) {
		api_credential_failed(r);
		req_audit(r, "auth.mfa_enrol", r->actor.name, "failure", "{\"reason\":\"wrong_code\"}");
		req_error(r, 401, "invalid_code", "that code is not right; check your device's clock and try again");
		return;
	}
	u.totp_enabled = true;
	char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1];
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = st->ops->user_update(st, &u);
	if (rc == 0)
		rc = store_recovery_codes(r, &u, codes);
	if (rc == 0 && r->ticket.scope == TICKET_MFA_ENROL)
		rc = st->ops->ticket_set_scope(st, r->ticket.hash, TICKET_FULL);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, u.tenant_id, "auth.mfa_enrol", r->actor.name,
		                   "success", "{\"method\":\"totp\",\"recovery_codes\":10}");
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		sodium_memzero(codes, sizeof codes);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{so ss}", "recovery_codes", codes_json(codes), "scope", "full"));
	sodium_memzero(codes, sizeof codes);
}

/* Password-confirmed actions on oneself: disable TOTP, new recovery codes. */
enum self_action { SELF_TOTP_DISABLE = 1, SELF_RECOVERY = 2 };

static void self_done(struct req *r)
{
	struct pw_ctx *c = r->async_ctx;
	struct app *a = r->srv->app;
	struct store *st = a->s;
	bool disable = c->code[0] != 0;
	const char *event = disable ? "auth.mfa_disable" : "auth.recovery_codes";
	if (c->verify_rc != 0) {
		wrong_current(r, event);
		return;
	}
	struct store_user u = r->user;
	if (disable) {
		bool rec;
		if (check_second_factor(r, &u, c->code, &rec) != 0) {
			api_credential_failed(r);
			req_audit(r, event, r->actor.name, "failure", "{\"reason\":\"wrong_code\"}");
			req_error(r, 401, "invalid_code", "that code is not right");
			return;
		}
		u.totp_enabled = false;
		u.totp_secret.len = 0;
		u.totp_last_step = 0;
		int rc = st->ops->begin(st, true);
		if (rc == 0)
			rc = st->ops->user_update(st, &u);
		if (rc == 0)
			rc = st->ops->recovery_set(st, u.tenant_id, u.id, NULL, 0);
		if (rc == 0)
			rc = app_audit_txn(a, &r->actor, u.tenant_id, event, r->actor.name, "success", NULL);
		if (rc == 0)
			rc = st->ops->commit(st);
		if (rc) {
			st->ops->rollback(st);
			api_store_error(r, rc);
			return;
		}
		req_empty(r, 204);
		return;
	}
	char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1];
	int rc = st->ops->begin(st, true);
	if (rc == 0)
		rc = store_recovery_codes(r, &u, codes);
	if (rc == 0)
		rc = app_audit_txn(a, &r->actor, u.tenant_id, event, r->actor.name, "success", NULL);
	if (rc == 0)
		rc = st->ops->commit(st);
	if (rc) {
		st->ops->rollback(st);
		api_store_error(r, rc);
		return;
	}
	req_json(r, 200, json_pack("{so}", "recovery_codes", codes_json(codes)));
	sodium_memzero(codes, sizeof codes);
}

static void self_confirmed(struct req *r, const char *password, const char *code)
{
	if (address_throttled(r)) {
		req_error(r, 429, "rate_limited", "too many failed attempts from your address");
		return;
	}
	struct pw_ctx *c = req_ctx_new(r, sizeof *c);
	if (!c)
		return;
	snprintf(c->current, sizeof c->current, "%s", password);
	snprintf(c->code, sizeof c->code, "%s", code ? code : "");
	memcpy(c->cur_hash, r->user.pw_hash, sizeof c->cur_hash);
	json_object_del(r->json, "password");
	req_async(r, pw_work, self_done, c, pw_ctx_free);
}

void h_totp_disable(struct req *r)
{
	static const char *const allowed[] = { "password", "code", NULL };
	const char *pw, *code;
	if (!req_only(r, allowed) || !req_str(r, "password", true, PASSWD_MAX_BYTES, &pw) ||
	    !req_str(r, "code", true, RECOVERY_CODE_INPUT_MAX, &code))
		return;
	if (!r->user.totp_enabled) {
		req_error(r, 409, "conflict", "two-factor authentication is not enabled");
		return;
	}
	if (tenant_policy_mfa_required(&r->policy, r->subj.role)) {
		req_audit(r, "auth.mfa_disable", r->actor.name, "denied", "{\"reason\":\"required_by_policy\"}");
		req_error(r, 403, "forbidden", "the security policy requires two-factor authentication for your role");
		return;
	}
	self_confirmed(r, pw, code);
}

void h_recovery_regen(struct req *r)
{
	static const char *const allowed[] = { "password", NULL };
	const char *pw;
	if (!req_only(r, allowed) || !req_str(r, "password", true, PASSWD_MAX_BYTES, &pw))
		return;
	if (!r->user.totp_enabled) {
		req_error(r, 409, "conflict", "enable two-factor authentication first");
		return;
	}
	self_confirmed(r, pw, NULL);
}

/* ---- own sessions and devices ------------------------------------------------ */

struct list_ctx {
	struct req *r;
	json_t *arr;
	const uint8_t *current;
	struct store_device *devs;
	size_t ndevs, cap;
};

static int collect_dev(void *arg, const struct store_device *d)
{
	struct list_ctx *l = arg;
	if (l->ndevs == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		if (cap > 4096)
			return 0;
		struct store_device *p = realloc(l->devs, cap * sizeof *p);
		if (!p)
			return BW_ENOMEM;
		l->devs = p;
		l->cap = cap;
	}
	l->devs[l->ndevs++] = *d;
	return 0;
}

static int add_session(void *arg, const struct store_ticket *t)
{
	struct list_ctx *l = arg;
	char id[2 * CRYPTO_HASH_LEN + 1];
	session_id_hex(t->hash, id);
	const struct store_device *d = NULL;
	for (size_t i = 0; i < l->ndevs; i++)
		if (l->devs[i].id == t->device_id)
			d = &l->devs[i];
	const char *scope = scope_name(t->scope);
	json_t *o = json_pack("{ss sI sI sI ss ss sb s{sI ss ss}}", "id", id,
		"created_at", (json_int_t)t->created_at, "last_seen", (json_int_t)t->last_seen,
		"expires_at", (json_int_t)t->expires_at, "ip", t->ip, "scope", scope,
		"current", l->current && bw_ct_eq(l->current, t->hash, CRYPTO_HASH_LEN),
		"device", "id", (json_int_t)t->device_id, "name", d ? d->name : "",
		"user_agent", d ? d->user_agent : "");
	json_array_append_new(l->arr, o);
	return 0;
}

json_t *api_sessions_json(struct req *r, int64_t user_id, const uint8_t *current)
{
	struct store *st = r->srv->app->s;
	struct list_ctx l = { .r = r, .arr = json_array(), .current = current };
	st->ops->device_list(st, r->user.tenant_id, user_id, collect_dev, &l);
	st->ops->ticket_list_user(st, r->user.tenant_id, user_id, bw_now(), add_session, &l);
	free(l.devs);
	return l.arr;
}

void h_me_sessions(struct req *r)
{
	req_json(r, 200, json_pack("{so}", "sessions",
	                           api_sessions_json(r, r->user.id, r->ticket.hash)));
}

struct find_ctx { const uint8_t *want; bool found; };

static int find_ticket(void *arg, const struct store_ticket *t)
{
	struct find_ctx *f = arg;
	if (bw_ct_eq(f->want, t->hash, CRYPTO_HASH_LEN))
		f->found = true;
	return 0;
}

void h_me_session_delete(struct req *r)
{
	uint8_t h[CRYPTO_HASH_LEN];
	if (!r->params[0] || strlen(r->params[0]) != 2 * CRYPTO_HASH_LEN ||
	    bw_hex_decode(r->params[0], 2 * CRYPTO_HASH_LEN, h, sizeof h) != CRYPTO_HASH_LEN) {
		req_error(r, 404, "not_found", "no such session");
		return;
	}
	struct store *st = r->srv->app->s;
	/* only the caller's own live sessions */
	struct find_ctx f = { .want = h };
	st->ops->ticket_list_user(st, r->user.tenant_id, r->user.id, bw_now(), find_ticket, &f);
	if (!f.found) {
		req_error(r, 404, "not_found", "no such session");
		return;
	}
	int rc = st->ops->ticket_revoke(st, r->user.tenant_id, h, bw_now(), "revoked_by_user");
	if (rc) {
		api_store_error(r, rc);
		return;
	}
	char obj[64];
	snprintf(obj, sizeof obj, "session:%.16s", r->params[0]);
	req_audit(r, "auth.ticket_revoked", obj, "success", "{\"by\":\"owner\"}");
	ws_session_ended(r->srv, h, 0, "revoked");
	req_empty(r, 204);
}

struct dev_ctx { json_t *arr; int64_t current; };

static int add_device(void *arg, const struct store_device *d)
{
	struct dev_ctx *c = arg;
	json_array_append_new(c->arr, json_pack("{sI ss ss sI sI ss ss sb}",
		"id", (json_int_t)d->id, "name", d->name, "user_agent", d->user_agent,
		"first_seen", (json_int_t)d->first_seen, "last_seen", (json_int_t)d->last_seen,
		"first_ip", d->first_ip, "last_ip", d->last_ip, "current", d->id == c->current));
	return 0;
}

void h_me_devices(struct req *r)
{
	struct store *st = r->srv->app->s;
	struct dev_ctx c = { json_array(), r->ticket.device_id };
	st->ops->device_list(st, r->user.tenant_id, r->user.id, add_device, &c);
	req_json(r, 200, json_pack("{so}", "devices", c.arr));
}

/* ---- housekeeping -------------------------------------------------------------- */

void api_auth_tick(struct srv *s)
{
	static int64_t last_gc, last_cp;
	int64_t now = bw_now();
	if (now - last_gc >= 3600) {
		last_gc = now;
		s->app->s->ops->ticket_gc(s->app->s, now - 7 * 24 * 3600);
		int64_t purged = 0;
		int rc = app_audit_retention(s->app, &purged);
		if (rc)
			log_err("audit retention failed: %s", bw_strerror(rc));
		else if (purged)
			log_info("audit retention purged %lld records", (long long)purged);
		app_audit_capacity(s->app, 24 * 3600);
	}
	if (now - last_cp >= 10) {
		last_cp = now;
		audit_checkpoint(s->app->au);
	}
}
