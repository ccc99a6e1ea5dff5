/*
 * main.c — the `bulwark` command: init, serve, audit, tenant, user
 * (PS-IA-c: preset accounts and their one-time passwords are disclosed at
 * init; PS-LOG-c/d: audit verify/export; PS-DEL-b: every interface is
 * listed by --help and docs/bulwark.1).
 */
#include "app.h"
#include "audit.h"
#include "keyd.h"
#include "passwd.h"
#include "sandbox.h"
#include "server.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION "0.1.0"

static void passwd_load_common_default(void);

static const char *usage_main =
	"usage: bulwark <command> [options]\n"
	"\n"
	"commands:\n"
	"  init     create a data directory, keys, certificate and the first tenant\n"
	"  serve    run the server\n"
	"  audit    verify or export the audit trail\n"
	"  tenant   add or list tenants\n"
	"  user     add, list, disable, enable, unlock or reset users\n"
	"  loadtest-seed  accounts and tickets for a load test (non-production)\n"
	"  version  print the version\n"
	"\n"
	"Run `bulwark <command> --help` for a command's options; see bulwark(1).\n";

static const char *usage_init =
	"usage: bulwark init --data DIR [--tenant NAME] [--crypto intl|gm] [--json]\n"
	"\n"
	"Creates DIR (store, master key, audit signing key, TLS certificate) and the\n"
	"first tenant (default name \"default\") with its three administrators:\n"
	"admin (system), secadmin (security) and auditor (audit).  Their one-time\n"
	"passwords are printed once; each must be changed at first sign-in.\n"
	"  --crypto intl   XChaCha20-Poly1305, SHA-256, Ed25519 (default)\n"
	"  --crypto gm     SM4-GCM, SM3, SM2 (GB/T 32907, 32905, 32918)\n"
	"  --json          print {\"tenant\",\"username\",\"password\",\"accounts\":[...]}\n";

static const char *usage_serve =
	"usage: bulwark serve --data DIR [--listen HOST:PORT] [--web DIR] [--workers N]\n"
	"                     [--user NAME] [--clamd SOCKET]\n"
	"\n"
	"Serves HTTPS and WebSocket on HOST:PORT (default 127.0.0.1:8443) and the\n"
	"web client from --web (default ./web/dist).  Started as root it drops to\n"
	"--user (default \"bulwark\", else \"nobody\").  The network process runs\n"
	"under a seccomp allow-list; BULWARK_SECCOMP=log only logs violations.\n"
	"Chat attachments are scanned by clamd at --clamd (default DIR/clamd/clamd.sock;\n"
	"production: the system clamd, e.g. /run/clamav/clamd.ctl); without it uploads\n"
	"are refused unless the tenant's policy opts out.\n";

static const char *usage_audit =
	"usage: bulwark audit verify --data DIR\n"
	"       bulwark audit export --data DIR [--format json|syslog] [--tenant NAME]\n"
	"\n"
	"verify: exit 0 when the hash chain and every signed checkpoint verify,\n"
	"        1 and the first bad record otherwise (PS-LOG-c).\n"
	"export: write the trail to standard output (RFC 5424 lines or JSON).\n";

static const char *usage_tenant =
	"usage: bulwark tenant add NAME --data DIR [--json]\n"
	"       bulwark tenant list --data DIR\n";

static const char *usage_user =
	"usage: bulwark user add --data DIR --tenant T --username U [--role member|guest]\n"
	"                        [--display-name NAME] [--json]\n"
	"       bulwark user list --data DIR --tenant T\n"
	"       bulwark user disable|enable|unlock|reset-password --data DIR --tenant T\n"
	"                        --username U [--json]\n";

struct opts {
	const char *data, *tenant, *crypto, *listen, *web, *user_name, *username, *role,
	           *display, *format, *clamd;
	int workers;
	bool json, help;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "data", required_argument, 0, 'd' }, { "tenant", required_argument, 0, 't' },
		{ "crypto", required_argument, 0, 'c' }, { "listen", required_argument, 0, 'l' },
		{ "web", required_argument, 0, 'w' }, { "workers", required_argument, 0, 'n' },
		{ "clamd", required_argument, 0, 'C' },
		{ "user", required_argument, 0, 'u' }, { "username", required_argument, 0, 'U' },
		{ "role", required_argument, 0, 'r' }, { "display-name", required_argument, 0, 'D' },
		{ "format", required_argument, 0, 'f' }, { "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "hd:t:", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 't': o->tenant = optarg; break;
		case 'c': o->crypto = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'w': o->web = optarg; break;
		case 'C': o->clamd = optarg; break;
		case 'n': o->workers = atoi(optarg); break;
		case 'u': o->user_name = optarg; break;
		case 'U': o->username = optarg; break;
		case 'r': o->role = optarg; break;
		case 'D': o->display = optarg; break;
		case 'f': o->format = optarg; break;
		case 'j': o->json = true; break;
		case 'h': o->help = true; break;
		default: return -1;
		}
	}
	return 0;
}

static int need_data(const struct opts *o, const char *usage)
{
	if (!o->data) {
		fprintf(stderr, "bulwark: --data DIR is required\n%s", usage);
		return 2;
	}
	return 0;
}

static void print_accounts(const char *tenant, struct onetime_pw pw[3], bool json)
{
	static const char *users[3] = { "admin", "secadmin", "auditor" };
	static const char *roles[3] = { "sysadmin", "secadmin", "auditadmin" };
	static const char *titles[3] = { "system administrator", "security administrator",
	                                 "audit administrator" };
	if (json) {
		json_t *acc = json_array();
		for (int i = 0; i < 3; i++)
			json_array_append_new(acc, json_pack("{ss ss ss}", "username", users[i],
			                      "role", roles[i], "password", pw[i].password));
		json_t *o = json_pack("{ss ss ss so}", "tenant", tenant, "username", users[0],
		                      "password", pw[0].password, "accounts", acc);
		char *s = json_dumps(o, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(o);
		return;
	}
	printf("Tenant \"%s\" has three administrators (three-administrator separation).\n"
	       "One-time passwords, shown only now; each must be changed at first sign-in:\n\n",
	       tenant);
	for (int i = 0; i < 3; i++)
		printf("  %-9s %-24s %s\n", users[i], titles[i], pw[i].password);
	printf("\n");
}

static int cmd_init(int argc, char **argv)
{
	struct opts o = { 0 };
	if (parse(argc, argv, &o) || o.help) {
		fputs(usage_init, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	int rc = need_data(&o, usage_init);
	if (rc)
		return rc;
	enum bwc_suite suite = CRYPTO_SUITE_INTL;
	if (o.crypto && bwc_suite_parse(o.crypto, &suite) != 0) {
		fprintf(stderr, "bulwark: --crypto must be intl or gm\n");
		return 2;
	}
	const char *tenant = o.tenant ? o.tenant : "default";
	if (!accounts_tenant_name_valid(tenant)) {
		fprintf(stderr, "bulwark: tenant names are 3-64 characters of a-z, 0-9, '.', '_', '-'\n");
		return 2;
	}
	rc = app_init(o.data, suite);
	if (rc == BW_EEXIST) {
		fprintf(stderr, "bulwark: %s is already initialised\n", o.data);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "bulwark: init failed: %s\n", bw_strerror(rc));
		return 1;
	}
	struct app a;
	if ((rc = app_open(o.data, -1, -1, &a))) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
		return 1;
	}
	struct actor ac;
	actor_system(&ac, "cli:init");
	app_audit(&a, &ac, 0, "key.create", "installation", "success",
	          suite == CRYPTO_SUITE_GM ? "{\"suite\":\"gm\",\"keys\":[\"master\",\"audit-signing\"]}"
	                                   : "{\"suite\":\"intl\",\"keys\":[\"master\",\"audit-signing\"]}");
	struct onetime_pw pw[3];
	int64_t tid;
	rc = accounts_tenant_create(&a, &ac, tenant, &tid, pw);
	if (rc == 0)
		audit_checkpoint(a.au);
	app_close(&a);
	if (rc) {
		fprintf(stderr, "bulwark: creating tenant failed: %s\n", bw_strerror(rc));
		return 1;
	}
	if (!o.json)
		printf("Initialised %s (crypto suite %s).\n\n", o.data, bwc_suite_name(suite));
	print_accounts(tenant, pw, o.json);
	sodium_memzero(pw, sizeof pw);
	return 0;
}

/* Gives the data directory to the unprivileged user, except the keys. */
static uid_t chown_uid;
static gid_t chown_gid;
static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	size_t n = strlen(path);
	if ((n >= 5 && strcmp(path + n - 5, "/keys") == 0) || strstr(path, "/keys/"))
		return 0;    /* the key directory stays root's: only keyd reads it */
	if (lchown(path, chown_uid, chown_gid) != 0)
		log_warn("cannot chown %s: %s", path, strerror(errno));
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct opts o = { 0 };
	if (parse(argc, argv, &o) || o.help) {
		fputs(usage_serve, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	int rc = need_data(&o, usage_serve);
	if (rc)
		return rc;
	struct server_config cfg;
	memset(&cfg, 0, sizeof cfg);
	const char *listen = o.listen ? o.listen : "127.0.0.1:8443";
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof cfg.listen_host) {
		fprintf(stderr, "bulwark: --listen must be HOST:PORT\n");
		return 2;
	}
	const char *host = listen;
	size_t hl = (size_t)(colon - listen);
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host++;
		hl -= 2;
	}
	memcpy(cfg.listen_host, host, hl);
	cfg.port = atoi(colon + 1);
	if (cfg.port <= 0 || cfg.port > 65535) {
		fprintf(stderr, "bulwark: bad port in --listen\n");
		return 2;
	}
	snprintf(cfg.web_dir, sizeof cfg.web_dir, "%s", o.web ? o.web : "web/dist");
	if (o.clamd)
		snprintf(cfg.clamd_socket, sizeof cfg.clamd_socket, "%s", o.clamd);
	else
		snprintf(cfg.clamd_socket, sizeof cfg.clamd_socket, "%s/clamd/clamd.sock", o.data);
	cfg.workers = o.workers > 0 ? o.workers : 2;
	cfg.seccomp = true;
	cfg.run_uid = cfg.run_gid = -1;
	if (geteuid() == 0) {
		const char *name = o.user_name ? o.user_name : "bulwark";
		if (sandbox_resolve_user(name, &cfg.run_uid, &cfg.run_gid) != 0 &&
		    (o.user_name || sandbox_resolve_user("nobody", &cfg.run_uid, &cfg.run_gid) != 0)) {
			fprintf(stderr, "bulwark: no such user %s to run as\n", name);
			return 1;
		}
		chown_uid = (uid_t)cfg.run_uid;
		chown_gid = (gid_t)cfg.run_gid;
		nftw(o.data, chown_one, 16, FTW_PHYS);
	}
	passwd_load_common_default();
	struct app a;
	if ((rc = app_open(o.data, cfg.run_uid, cfg.run_gid, &a))) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
		return 1;
	}
	rc = server_run(&a, &cfg);
	app_close(&a);
	passwd_free_common();
	return rc ? 1 : 0;
}

struct audit_print { enum audit_format f; const char *host; int *n; };

static int audit_export_print(void *arg, const struct store_audit *r)
{
	struct audit_print *ap = arg;
	struct bw_buf b;
	bw_buf_init(&b, 64 * 1024);
	int rc = audit_format_record(r, ap->f, ap->host, &b);
	if (rc == 0) {
		if (ap->f == AUDIT_JSON && *ap->n)
			fputs(",\n", stdout);
		fwrite(b.data, 1, b.len, stdout);
		if (ap->f == AUDIT_SYSLOG)
			fputc('\n', stdout);
		(*ap->n)++;
	}
	bw_buf_free(&b, false);
	return rc;
}

/* The shipped list of common passwords (PS-IA-e). */
static void passwd_load_common_default(void)
{
	const char *env = getenv("BULWARK_COMMON_PASSWORDS");
	const char *paths[] = { env, "data/common-passwords.txt",
	                        "/usr/share/bulwark/common-passwords.txt" };
	for (size_t i = 0; i < BW_ARRAY_LEN(paths); i++)
		if (paths[i] && passwd_load_common(paths[i]) == 0)
			return;
	log_warn("common-password list not found: passwords are checked without it");
}

static int cmd_audit(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_audit, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	struct opts o = { 0 };
	if (parse(argc - 1, argv + 1, &o) || o.help) {
		fputs(usage_audit, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	int rc = need_data(&o, usage_audit);
	if (rc)
		return rc;
	if (strcmp(sub, "verify") == 0) {
		/* offline: needs only the store and the public key */
		struct store *s;
		if ((rc = store_sqlite_open(o.data, false, &s))) {
			fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
			return 2;
		}
		char suite_name[16];
		enum bwc_suite suite;
		uint8_t pub[CRYPTO_PUB_MAX];
		size_t pub_len;
		if ((rc = s->ops->meta_get(s, "bwc_suite", suite_name, sizeof suite_name)) ||
		    (rc = bwc_suite_parse(suite_name, &suite)) || (rc = bwc_init(suite)) ||
		    (rc = keyd_read_pubkey_file(o.data, pub, sizeof pub, &pub_len))) {
			fprintf(stderr, "bulwark: cannot read the installation's keys: %s\n", bw_strerror(rc));
			s->ops->close(s);
			return 2;
		}
		struct audit_verify_result v;
		rc = audit_verify(s, pub, pub_len, &v);
		s->ops->close(s);
		if (rc) {
			fprintf(stderr, "bulwark: verification could not run: %s\n", bw_strerror(rc));
			return 2;
		}
		if (!v.ok) {
			printf("FAILED at record %lld: %s\n", (long long)v.first_bad_seq, v.reason);
			return 1;
		}
		printf("OK: %lld records (%lld..%lld), %lld signed checkpoints, last at record %lld; "
		       "%lld newer records not yet signed\n",
		       (long long)v.records, (long long)v.first_seq, (long long)v.last_seq,
		       (long long)v.checkpoints, (long long)v.last_checkpoint_seq,
		       (long long)v.unsigned_tail);
		return 0;
	}
	if (strcmp(sub, "export") == 0) {
		enum audit_format f = !o.format || strcmp(o.format, "json") == 0 ? AUDIT_JSON
		                    : strcmp(o.format, "syslog") == 0 ? AUDIT_SYSLOG : 0;
		if (!f) {
			fprintf(stderr, "bulwark: --format must be json or syslog\n");
			return 2;
		}
		struct app a;
		if ((rc = app_open(o.data, -1, -1, &a))) {
			fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
			return 1;
		}
		char host[128] = "-";
		gethostname(host, sizeof host - 1);
		int n = 0;
		struct audit_print ap = { f, host, &n };
		if (f == AUDIT_JSON)
			fputs("[\n", stdout);
		/* streamed record by record: memory stays bounded */
		rc = a.s->ops->audit_scan(a.s, 1, audit_export_print, &ap);
		if (f == AUDIT_JSON)
			fputs(n ? "\n]\n" : "]\n", stdout);
		struct actor ac;
		actor_system(&ac, "cli:audit-export");
		char detail[96];
		snprintf(detail, sizeof detail, "{\"format\":\"%s\",\"records\":%d}",
		         f == AUDIT_JSON ? "json" : "syslog", n);
		app_audit(&a, &ac, 0, "audit.export", "audit-trail", rc ? "failure" : "success", detail);
		audit_checkpoint(a.au);
		app_close(&a);
		return rc ? 1 : 0;
	}
	fputs(usage_audit, stderr);
	return 2;
}

static int open_tenant(struct app *a, const struct opts *o, struct store_tenant *t)
{
	if (!o->tenant) {
		fprintf(stderr, "bulwark: --tenant is required\n");
		return 2;
	}
	if (a->s->ops->tenant_get_by_name(a->s, o->tenant, t) != 0) {
		fprintf(stderr, "bulwark: no tenant %s\n", o->tenant);
		return 1;
	}
	return 0;
}

static int print_tenant(void *arg, const struct store_tenant *t)
{
	printf("%lld\t%s\n", (long long)t->id, t->name);
	return 0;
}

static int cmd_tenant(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_tenant, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	struct opts o = { 0 };
	if (parse(argc - 1, argv + 1, &o) || o.help) {
		fputs(usage_tenant, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	int rc = need_data(&o, usage_tenant);
	if (rc)
		return rc;
	struct app a;
	if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0) {
		fputs(usage_tenant, stderr);
		return 2;
	}
	const char *name = optind < argc - 1 ? argv[optind + 1] : NULL;
	if (strcmp(sub, "add") == 0 && (!name || !accounts_tenant_name_valid(name))) {
		fprintf(stderr, "bulwark: tenant add needs a NAME of 3-64 characters of a-z, 0-9, '.', '_', '-'\n");
		return 2;
	}
	if ((rc = app_open(o.data, -1, -1, &a))) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
		return 1;
	}
	if (strcmp(sub, "list") == 0) {
		rc = a.s->ops->tenant_list(a.s, print_tenant, NULL);
	} else {
		struct actor ac;
		actor_system(&ac, "cli:tenant-add");
		struct onetime_pw pw[3];
		int64_t tid;
		rc = accounts_tenant_create(&a, &ac, name, &tid, pw);
		if (rc == BW_EEXIST)
			fprintf(stderr, "bulwark: tenant %s exists\n", name);
		else if (rc == 0)
			print_accounts(name, pw, o.json);
		sodium_memzero(pw, sizeof pw);
		audit_checkpoint(a.au);
	}
	app_close(&a);
	if (rc && rc != BW_EEXIST)
		fprintf(stderr, "bulwark: %s\n", bw_strerror(rc));
	return rc ? 1 : 0;
}

static int print_user(void *arg, const struct store_user *u)
{
	*(int64_t *)arg = u->id;
	printf("%lld\t%s\t%s\t%s%s%s\n", (long long)u->id, u->username, u->role,
	       u->status == USER_ACTIVE ? "active" : "disabled",
	       u->locked_until > bw_now() ? ",locked" : "", u->totp_enabled ? ",mfa" : "");
	return 0;
}

static int cmd_user(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_user, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	struct opts o = { 0 };
	if (parse(argc - 1, argv + 1, &o) || o.help) {
		fputs(usage_user, o.help ? stdout : stderr);
		return o.help ? 0 : 2;
	}
	int rc = need_data(&o, usage_user);
	if (rc)
		return rc;
	static const char *subs[] = { "add", "list", "disable", "enable", "unlock", "reset-password" };
	size_t k;
	for (k = 0; k < BW_ARRAY_LEN(subs) && strcmp(sub, subs[k]) != 0; k++)
		;
	if (k == BW_ARRAY_LEN(subs)) {
		fputs(usage_user, stderr);
		return 2;
	}
	if (k != 1 && !o.username) {
		fprintf(stderr, "bulwark: --username is required\n");
		return 2;
	}
	struct app a;
	if ((rc = app_open(o.data, -1, -1, &a))) {
		fprintf(stderr, "bulwark: cannot open %s: %s\n", o.data, bw_strerror(rc));
		return 1;
	}
	struct store_tenant t;
	if ((rc = open_tenant(&a, &o, &t))) {
		app_close(&a);
		return rc;
	}
	struct actor ac;
	char who[64];
	struct passwd *pw = getpwuid(getuid());
	snprintf(who, sizeof who, "cli:%s", pw ? pw->pw_name : "?");
	actor_system(&ac, who);
	struct store_user u;
	char password[64] = "", hash[CRYPTO_PWHASH_MAX];
	int exit_code = 0;
	if (k == 1) {
		int64_t after = 0, last = -1;
		while (rc == 0 && last != after) {   /* page through */
			last = after;
			rc = a.s->ops->user_list(a.s, t.id, after, 1000, print_user, &after);
		}
	} else if (k == 0) {
		int role = o.role ? policy_role_parse(o.role) : ROLE_MEMBER;
		if (role != ROLE_MEMBER && role != ROLE_GUEST) {
			fprintf(stderr, "bulwark: --role must be member or guest (administrator roles are assigned by the security administrator)\n");
			exit_code = 2;
			goto out;
		}
		if ((rc = passwd_generate(password, sizeof password)) ||
		    (rc = bwc_pwhash(password, strlen(password), hash)))
			goto out;
		struct account_new in = { .username = o.username, .display_name = o.display,
		                          .role = role, .pw_hash = hash };
		rc = accounts_user_create(&a, &ac, t.id, &in, &u);
		if (rc == BW_EINVAL)
			fprintf(stderr, "bulwark: usernames are 3-64 characters of a-z, 0-9, '.', '_', '-'\n");
	} else {
		if ((rc = a.s->ops->user_get_by_name(a.s, t.id, o.username, &u))) {
			fprintf(stderr, "bulwark: no user %s in %s\n", o.username, t.name);
			exit_code = 1;
			goto out;
		}
		const char *event = NULL;
		bool revoke = false;
		if (k == 2) { u.status = USER_DISABLED; event = "user.disable"; revoke = true; }
		if (k == 3) { u.status = USER_ACTIVE; event = "user.enable"; }
		if (k == 4) { u.locked_until = 0; u.failed_count = 0; event = "user.unlock"; }
		if (k == 5) {
			if ((rc = passwd_generate(password, sizeof password)) ||
			    (rc = bwc_pwhash(password, strlen(password), hash)))
				goto out;
			snprintf(u.pw_hash, sizeof u.pw_hash, "%s", hash);
			u.must_change_pw = true;
			u.pw_changed_at = bw_now();
			u.failed_count = 0;
			u.locked_until = 0;
			event = "user.password_reset";
			revoke = true;
		}
		char obj[200];
		accounts_user_label(&u, t.name, obj, sizeof obj);
		int n = 0;
		rc = a.s->ops->begin(a.s, true);
		if (rc == 0)
			rc = a.s->ops->user_update(a.s, &u);
		if (rc == 0 && revoke)
			rc = a.s->ops->ticket_revoke_user(a.s, t.id, u.id, NULL, bw_now(), event, &n);
		if (rc == 0)
			rc = app_audit_txn(&a, &ac, t.id, event, obj, "success", NULL);
		if (rc == 0)
			rc = a.s->ops->commit(a.s);
		else
			a.s->ops->rollback(a.s);
	}
	if (rc == 0 && password[0]) {
		if (o.json)
			printf("{\"tenant\":\"%s\",\"username\":\"%s\",\"password\":\"%s\"}\n", t.name,
			       u.username, password);
		else
			printf("One-time password for %s/%s (must be changed at first sign-in): %s\n",
			       t.name, u.username, password);
	} else if (rc == 0 && k != 1) {
		printf("%s/%s: done\n", t.name, u.username);
	}
out:
	sodium_memzero(password, sizeof password);
	sodium_memzero(hash, sizeof hash);
	if (rc == BW_EEXIST) {
		fprintf(stderr, "bulwark: user %s exists\n", o.username);
		exit_code = 1;
	} else if (rc && !exit_code) {
		fprintf(stderr, "bulwark: %s\n", bw_strerror(rc));
		exit_code = 1;
	}
	audit_checkpoint(a.au);
	app_close(&a);
	return exit_code;
}

int cli_loadtest_seed(int argc, char **argv);   /* cli_seed.c */

int main(int argc, char **argv)
{
	if (getenv("BULWARK_LOG_DEBUG"))
		bw_log_level = BW_LOG_DEBUG;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	umask(077);
	const char *cmd = argv[1];
	/* the server logs at info; one-shot commands only warn (their output is
	 * for the operator) */
	if (strcmp(cmd, "serve") != 0 && !getenv("BULWARK_LOG_DEBUG"))
		bw_log_level = BW_LOG_WARN;
	if (strcmp(cmd, "init") == 0 || strcmp(cmd, "tenant") == 0 || strcmp(cmd, "user") == 0)
		passwd_load_common_default();   /* generated passwords are checked too */
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("bulwark %s\n", VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(cmd, "tenant") == 0)
		return cmd_tenant(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "loadtest-seed") == 0)
		return cli_loadtest_seed(argc - 1, argv + 1);
	fprintf(stderr, "bulwark: unknown command %s\n%s", cmd, usage_main);
	return 2;
}
