/*
 * cli_seed.c — `bulwark loadtest-seed`: creates N member accounts in a
 * tenant and issues each a full ticket, written to a 0600 file, so a load
 * generator can connect N users without N Argon2id sign-ins.
 *
 * For capacity testing of a non-production installation only: it needs
 * direct access to the data directory (like every CLI command), refuses a
 * tenant that already has more than its own seeded users, and the whole
 * operation is recorded in the audit trail (PS-LOG-a).  The seeded
 * accounts share one random password nobody is told; they can only be used
 * through the issued tickets, which expire with the tenant's absolute
 * session lifetime.
 */
#include "app.h"
#include "audit.h"
#include "crypto.h"
#include "policy.h"
#include "server.h"
#include "util.h"

#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEED_MAX 100000

static const char *usage_seed =
	"usage: bulwark loadtest-seed --data DIR --tenant NAME --users N --out FILE\n"
	"  Creates member accounts u00001..uN (those missing) in the tenant and\n"
	"  writes \"user_id<TAB>username<TAB>ticket\" per account to FILE (0600).\n"
	"  For load tests of non-production installations; audited.\n";

int cli_loadtest_seed(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, 0, 'd' }, { "tenant", required_argument, 0, 't' },
		{ "users", required_argument, 0, 'n' }, { "out", required_argument, 0, 'o' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *data = NULL, *tenant = NULL, *outp = NULL;
	long n = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 't': tenant = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'o': outp = optarg; break;
		case 'h': fputs(usage_seed, stdout); return 0;
		default: fputs(usage_seed, stderr); return 2;
		}
	}
	if (!data || !tenant || !outp || n < 1 || n > SEED_MAX) {
		fputs(usage_seed, stderr);
		return 2;
	}
	struct app a;
	int rc = app_open(data, -1, -1, &a);
	if (rc) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", data, bw_strerror(rc));
		return 1;
	}
	struct store *s = a.s;
	struct store_tenant t;
	int exit_code = 1;
	int fd = -1;
	FILE *out = NULL;
	if ((rc = s->ops->tenant_get_by_name(s, tenant, &t))) {
		fprintf(stderr, "bulwark: no tenant %s\n", tenant);
		goto done;
	}
	struct tenant_policy p;
	accounts_policy_get(&a, t.id, &p, NULL);
	fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		fprintf(stderr, "bulwark: cannot write %s\n", outp);
		goto done;
	}
	fd = -1;
	/* one unknown password for all seeded accounts */
	char pw[48], hash[CRYPTO_PWHASH_MAX];
	uint8_t raw[24];
	bwc_random(raw, sizeof raw);
	bw_b64url_encode(raw, sizeof raw, pw);
	rc = bwc_pwhash(pw, strlen(pw), hash);
	sodium_memzero(pw, sizeof pw);
	sodium_memzero(raw, sizeof raw);
	if (rc)
		goto done;
	struct actor ac;
	actor_system(&ac, "cli:loadtest-seed");
	ac.source = "local";
	int64_t now = bw_now();
	for (long i = 1; i <= n; i++) {
		char uname[16];
		snprintf(uname, sizeof uname, "u%05ld", i);
		struct store_user u;
		rc = s->ops->user_get_by_name(s, t.id, uname, &u);
		if (rc == BW_ENOENT) {
			struct account_new in = { .username = uname, .role = ROLE_MEMBER, .pw_hash = hash };
			rc = accounts_user_create(&a, &ac, t.id, &in, &u);
			if (rc == 0) {
				u.must_change_pw = false;
				rc = s->ops->user_update(s, &u);
			}
		}
		if (rc) {
			fprintf(stderr, "bulwark: user %s: %s\n", uname, bw_strerror(rc));
			goto done;
		}
		struct store_device d;
		memset(&d, 0, sizeof d);
		d.tenant_id = t.id;
		d.user_id = u.id;
		bwc_hash("loadtest", 8, d.device_hash);
		snprintf(d.name, sizeof d.name, "loadtest");
		snprintf(d.user_agent, sizeof d.user_agent, "bulwark-loadtest");
		snprintf(d.first_ip, sizeof d.first_ip, "local");
		snprintf(d.last_ip, sizeof d.last_ip, "local");
		d.first_seen = d.last_seen = now;
		bool created;
		if ((rc = s->ops->device_upsert(s, &d, &created)))
			goto done;
		uint8_t tok[TICKET_TOKEN_LEN];
		char token[TICKET_TOKEN_B64 + 1];
		bwc_random(tok, sizeof tok);
		bw_b64url_encode(tok, sizeof tok, token);
		sodium_memzero(tok, sizeof tok);
		struct store_ticket tk;
		memset(&tk, 0, sizeof tk);
		ticket_hash_token(token, tk.hash);
		tk.tenant_id = t.id;
		tk.user_id = u.id;
		tk.device_id = d.id;
		tk.scope = TICKET_FULL;
		tk.created_at = tk.last_seen = now;
		tk.expires_at = now + (int64_t)p.absolute_timeout_hours * 3600;
		snprintf(tk.ip, sizeof tk.ip, "local");
		if ((rc = s->ops->ticket_insert(s, &tk)))
			goto done;
		fprintf(out, "%lld\t%s\t%s\n", (long long)u.id, uname, token);
		sodium_memzero(token, sizeof token);
	}
	char detail[96];
	snprintf(detail, sizeof detail, "{\"users\":%ld}", n);
	app_audit(&a, &ac, t.id, "loadtest.seed", t.name, "success", detail);
	exit_code = 0;
done:
	if (out && fclose(out) != 0)
		exit_code = 1;
	if (fd >= 0)
		close(fd);
	audit_checkpoint(a.au);
	app_close(&a);
	return exit_code;
}
