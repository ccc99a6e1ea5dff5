/*
 * test_policy.c — unit tests of the authorisation decision and the tenant
 * security policy (policy.c): the whole role x permission matrix as a table
 * (PS-AC-a least-privilege preset, PS-AC-d, three-administrator
 * separation), the tenant boundary (WC-AC), restricted ticket scopes
 * (PS-IA-d), invalid inputs denied (PS-AC-c: no bypass), the role-change
 * rule (RG-AUDIT: permission changes only by the security administrator),
 * and tenant_policy_from_json / _to_json bounds (PS-IA-e/f, PS-LOG-d
 * retention >= 180 days, RG-OPS-b).
 */
#include "unit.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#define PB(x) (UINT64_C(1) << (x))
#define POLICY_SELF_ALL (PB(PERM_SESSION_SELF) | PB(PERM_PASSWORD_CHANGE) | \
                         PB(PERM_MFA_ENROL) | PB(PERM_SELF))

/* The expected preset, written out independently of policy.c. */
static const struct {
	int role;
	const char *name;
	uint64_t grants;
} policy_expect[] = {
	{ ROLE_SYSADMIN, "sysadmin", POLICY_SELF_ALL | PB(PERM_USER_READ) | PB(PERM_USER_CREATE) |
		PB(PERM_USER_DISABLE) | PB(PERM_USER_UNLOCK) | PB(PERM_USER_RESET_PASSWORD) |
		PB(PERM_PII_READ) | PB(PERM_DEPT_READ) | PB(PERM_DEPT_WRITE) | PB(PERM_POLICY_READ) |
		PB(PERM_CHAT) | PB(PERM_DOCS) },
	{ ROLE_SECADMIN, "secadmin", POLICY_SELF_ALL | PB(PERM_USER_READ) | PB(PERM_USER_UNLOCK) |
		PB(PERM_USER_ROLE) | PB(PERM_USER_MFA_RESET) | PB(PERM_SESSION_ADMIN) |
		PB(PERM_DEPT_READ) | PB(PERM_POLICY_READ) | PB(PERM_POLICY_WRITE) | PB(PERM_CHAT) |
		PB(PERM_CHAT_ADMIN) | PB(PERM_DOCS) | PB(PERM_DOCS_ADMIN) },
	{ ROLE_AUDITADMIN, "auditadmin", POLICY_SELF_ALL | PB(PERM_AUDIT_READ) | PB(PERM_AUDIT_EXPORT) },
	/* the audit administrator reads the trail and nothing else: no chat */
	{ ROLE_MEMBER, "member", POLICY_SELF_ALL | PB(PERM_CHAT) | PB(PERM_DOCS) },
	{ ROLE_GUEST, "guest", POLICY_SELF_ALL | PB(PERM_CHAT) | PB(PERM_DOCS) },
};

static const char *const policy_perm_expect[PERM_COUNT_] = {
	"session.self", "password.change", "mfa.enrol", "self", "user.read", "user.create",
	"user.disable", "user.unlock", "user.reset_password", "user.role", "user.mfa_reset",
	"pii.read", "session.admin", "dept.read", "dept.write", "policy.read", "policy.write",
	"audit.read", "audit.export", "chat", "chat.admin", "docs", "docs.admin",
};

static struct policy_subject policy_subj(int64_t tenant, int64_t user, int role, int scope)
{
	struct policy_subject s = { .tenant_id = tenant, .user_id = user, .role = role, .scope = scope };
	return s;
}

static bool policy_in_child(void (*fn)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ------------------------------------------------------------ the matrix */

TEST(names)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(policy_expect); i++) {
		CHECK_STR(policy_role_name(policy_expect[i].role), policy_expect[i].name);
		CHECK_EQ(policy_role_parse(policy_expect[i].name), policy_expect[i].role);
	}
	CHECK_STR(policy_role_name(ROLE_NONE), "none");
	CHECK_STR(policy_role_name(ROLE_COUNT_), "none");
	CHECK_STR(policy_role_name(-1), "none");
	CHECK_EQ(policy_role_parse("none"), ROLE_NONE);
	CHECK_EQ(policy_role_parse("SYSADMIN"), ROLE_NONE);
	CHECK_EQ(policy_role_parse("sysadmin "), ROLE_NONE);
	CHECK_EQ(policy_role_parse(""), ROLE_NONE);
	CHECK_EQ(policy_role_parse(NULL), ROLE_NONE);
	for (int p = 0; p < PERM_COUNT_; p++)
		CHECK_STR(policy_perm_name(p), policy_perm_expect[p]);
	CHECK_STR(policy_perm_name(PERM_COUNT_), "unknown");
	CHECK_STR(policy_perm_name(-1), "unknown");
	CHECK(policy_role_is_admin(ROLE_SYSADMIN));
	CHECK(policy_role_is_admin(ROLE_SECADMIN));
	CHECK(policy_role_is_admin(ROLE_AUDITADMIN));
	CHECK(!policy_role_is_admin(ROLE_MEMBER));
	CHECK(!policy_role_is_admin(ROLE_GUEST));
	CHECK(!policy_role_is_admin(ROLE_NONE));
	CHECK(!policy_role_is_admin(ROLE_COUNT_));
}

TEST(role_perm_matrix_full_scope)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(policy_expect); i++) {
		for (int p = 0; p < PERM_COUNT_; p++) {
			struct policy_subject s = policy_subj(7, 70, policy_expect[i].role, TICKET_FULL);
			bool want = (policy_expect[i].grants & PB(p)) != 0;
			int rc = policy_check(&s, p, 7);
			if (rc != (want ? 0 : BW_EPERM)) {
				fprintf(stderr, "  %s x %s: got %d, expected %s\n", policy_expect[i].name,
				        policy_perm_name(p), rc, want ? "grant" : "deny");
				unit_failed_checks++;
			}
		}
	}
}

/* Separation of duties: no permission of one administrator's core duty is
 * held by another administrator. */
TEST(admin_duties_disjoint)
{
	static const int duties[][3] = {
		{ PERM_USER_CREATE, ROLE_SYSADMIN, 0 },
		{ PERM_DEPT_WRITE, ROLE_SYSADMIN, 0 },
		{ PERM_PII_READ, ROLE_SYSADMIN, 0 },
		{ PERM_USER_ROLE, ROLE_SECADMIN, 0 },
		{ PERM_POLICY_WRITE, ROLE_SECADMIN, 0 },
		{ PERM_SESSION_ADMIN, ROLE_SECADMIN, 0 },
		{ PERM_AUDIT_READ, ROLE_AUDITADMIN, 0 },
		{ PERM_AUDIT_EXPORT, ROLE_AUDITADMIN, 0 },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(duties); i++)
		for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++) {
			struct policy_subject s = policy_subj(1, 1, r, TICKET_FULL);
			int rc = policy_check(&s, duties[i][0], 1);
			CHECK_EQ(rc, r == duties[i][1] ? 0 : BW_EPERM);
		}
}

TEST(tenant_mismatch_always_denied)
{
	static const int64_t pairs[][2] = {
		{ 1, 2 }, { 2, 1 }, { 1, 0 }, { 1, -1 }, { 0, 0 }, { -1, -1 }, { 0, 1 },
		{ INT64_MAX, INT64_MIN }, { 1, INT64_MAX }, { 3, 3 + ((int64_t)1 << 32) },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(pairs); i++)
		for (int r = ROLE_NONE; r <= ROLE_COUNT_; r++)
			for (int sc = 0; sc <= 4; sc++)
				for (int p = 0; p < PERM_COUNT_; p++) {
					struct policy_subject s = policy_subj(pairs[i][0], 5, r, sc);
					if (policy_check(&s, p, pairs[i][1]) != BW_EPERM) {
						fprintf(stderr, "  tenant %lld acted on tenant %lld (%s)\n",
						        (long long)pairs[i][0], (long long)pairs[i][1],
						        policy_perm_name(p));
						unit_failed_checks++;
					}
				}
}

TEST(restricted_scopes)
{
	static const struct { int scope; uint64_t allowed; } sc[] = {
		{ TICKET_PASSWORD_CHANGE, PB(PERM_SESSION_SELF) | PB(PERM_PASSWORD_CHANGE) },
		{ TICKET_MFA_ENROL, PB(PERM_SESSION_SELF) | PB(PERM_MFA_ENROL) },
	};
	for (size_t k = 0; k < BW_ARRAY_LEN(sc); k++)
		for (size_t i = 0; i < BW_ARRAY_LEN(policy_expect); i++)
			for (int p = 0; p < PERM_COUNT_; p++) {
				struct policy_subject s = policy_subj(9, 90, policy_expect[i].role, sc[k].scope);
				bool want = (sc[k].allowed & policy_expect[i].grants & PB(p)) != 0;
				int rc = policy_check(&s, p, 9);
				if (rc != (want ? 0 : BW_EPERM)) {
					fprintf(stderr, "  scope %d, %s x %s: got %d\n", sc[k].scope,
					        policy_expect[i].name, policy_perm_name(p), rc);
					unit_failed_checks++;
				}
			}
	/* every role can still do the restricted action the scope exists for */
	for (size_t i = 0; i < BW_ARRAY_LEN(policy_expect); i++) {
		struct policy_subject s = policy_subj(9, 90, policy_expect[i].role, TICKET_PASSWORD_CHANGE);
		CHECK_EQ(policy_check(&s, PERM_PASSWORD_CHANGE, 9), 0);
		CHECK_EQ(policy_check(&s, PERM_MFA_ENROL, 9), BW_EPERM);
		CHECK_EQ(policy_check(&s, PERM_SELF, 9), BW_EPERM);
		s.scope = TICKET_MFA_ENROL;
		CHECK_EQ(policy_check(&s, PERM_MFA_ENROL, 9), 0);
		CHECK_EQ(policy_check(&s, PERM_PASSWORD_CHANGE, 9), BW_EPERM);
		CHECK_EQ(policy_check(&s, PERM_SELF, 9), BW_EPERM);
	}
}

TEST(invalid_inputs_denied)
{
	static const int bad_roles[] = { ROLE_NONE, ROLE_COUNT_, ROLE_COUNT_ + 1, -1, INT_MIN, INT_MAX };
	static const int bad_scopes[] = { 0, 4, 5, -1, INT_MIN, INT_MAX };
	static const int bad_perms[] = { -1, PERM_COUNT_, PERM_COUNT_ + 1, 63, 64, 65, INT_MIN, INT_MAX };
	for (size_t i = 0; i < BW_ARRAY_LEN(bad_roles); i++)
		for (int p = 0; p < PERM_COUNT_; p++) {
			struct policy_subject s = policy_subj(1, 1, bad_roles[i], TICKET_FULL);
			CHECK_EQ(policy_check(&s, p, 1), BW_EPERM);
		}
	for (size_t i = 0; i < BW_ARRAY_LEN(bad_scopes); i++)
		for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
			for (int p = 0; p < PERM_COUNT_; p++) {
				struct policy_subject s = policy_subj(1, 1, r, bad_scopes[i]);
				CHECK_EQ(policy_check(&s, p, 1), BW_EPERM);
			}
	for (size_t i = 0; i < BW_ARRAY_LEN(bad_perms); i++)
		for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++) {
			struct policy_subject s = policy_subj(1, 1, r, TICKET_FULL);
			CHECK_EQ(policy_check(&s, bad_perms[i], 1), BW_EPERM);
		}
	CHECK_EQ(policy_check(NULL, PERM_SELF, 1), BW_EPERM);
}

TEST(role_change_rule)
{
	struct policy_subject sec = policy_subj(4, 40, ROLE_SECADMIN, TICKET_FULL);
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
		CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, r), 0);
	/* own role: never, whatever the new role */
	for (int r = ROLE_NONE; r <= ROLE_COUNT_; r++)
		CHECK_EQ(policy_role_change_allowed(&sec, 40, 4, r), BW_EPERM);
	/* invalid new role */
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, ROLE_NONE), BW_EINVAL);
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, ROLE_COUNT_), BW_EINVAL);
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, -3), BW_EINVAL);
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, INT_MAX), BW_EINVAL);
	/* another tenant's user */
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 5, ROLE_MEMBER), BW_EPERM);
	/* a restricted ticket of the security administrator */
	sec.scope = TICKET_PASSWORD_CHANGE;
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, ROLE_MEMBER), BW_EPERM);
	sec.scope = TICKET_MFA_ENROL;
	CHECK_EQ(policy_role_change_allowed(&sec, 41, 4, ROLE_MEMBER), BW_EPERM);
	/* every other role is refused */
	for (int r = ROLE_NONE; r <= ROLE_COUNT_; r++) {
		if (r == ROLE_SECADMIN)
			continue;
		struct policy_subject s = policy_subj(4, 40, r, TICKET_FULL);
		for (int nr = ROLE_NONE + 1; nr < ROLE_COUNT_; nr++)
			CHECK_EQ(policy_role_change_allowed(&s, 41, 4, nr), BW_EPERM);
	}
}

/* ----------------------------------------------------- the tenant policy */

TEST(policy_defaults)
{
	struct tenant_policy p;
	memset(&p, 0x5a, sizeof p);
	tenant_policy_defaults(&p);
	CHECK_EQ(p.password_min_length, 12);
	CHECK_EQ(p.lockout_threshold, 5);
	CHECK_EQ(p.lockout_minutes, 15);
	CHECK_EQ(p.idle_timeout_minutes, 15);
	CHECK_EQ(p.absolute_timeout_hours, 12);
	CHECK_EQ(p.audit_retention_days, 180);
	CHECK(!p.mfa_required_all);
	CHECK(!p.single_session);
	for (int r = ROLE_NONE; r < ROLE_COUNT_; r++)
		CHECK_EQ(p.mfa_required_role[r], policy_role_is_admin(r));
	for (int r = ROLE_NONE; r <= ROLE_COUNT_; r++)
		CHECK_EQ(tenant_policy_mfa_required(&p, r), policy_role_is_admin(r));
	p.mfa_required_all = true;
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
		CHECK(tenant_policy_mfa_required(&p, r));
}

static bool policy_equal(const struct tenant_policy *a, const struct tenant_policy *b)
{
	if (a->password_min_length != b->password_min_length ||
	    a->lockout_threshold != b->lockout_threshold ||
	    a->lockout_minutes != b->lockout_minutes ||
	    a->idle_timeout_minutes != b->idle_timeout_minutes ||
	    a->absolute_timeout_hours != b->absolute_timeout_hours ||
	    a->audit_retention_days != b->audit_retention_days ||
	    a->mfa_required_all != b->mfa_required_all || a->single_session != b->single_session)
		return false;
	for (int r = 0; r < ROLE_COUNT_; r++)
		if (a->mfa_required_role[r] != b->mfa_required_role[r])
			return false;
	return true;
}

static int policy_parse(struct tenant_policy *p, const char *json, const char **err)
{
	tenant_policy_defaults(p);
	return tenant_policy_from_json(p, json, strlen(json), err);
}

static const struct {
	const char *key;
	int min, max;
	size_t off;
} policy_ints[] = {
	{ "password_min_length", 8, 128, offsetof(struct tenant_policy, password_min_length) },
	{ "lockout_threshold", 3, 20, offsetof(struct tenant_policy, lockout_threshold) },
	{ "lockout_minutes", 1, 1440, offsetof(struct tenant_policy, lockout_minutes) },
	{ "idle_timeout_minutes", 1, 240, offsetof(struct tenant_policy, idle_timeout_minutes) },
	{ "absolute_timeout_hours", 1, 72, offsetof(struct tenant_policy, absolute_timeout_hours) },
	{ "audit_retention_days", 180, 36500, offsetof(struct tenant_policy, audit_retention_days) },
};

static int policy_int_of(const struct tenant_policy *p, size_t off)
{
	return *(const int *)((const char *)p + off);
}

TEST(int_field_bounds)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(policy_ints); i++) {
		const long long vals[] = { policy_ints[i].min - 1, policy_ints[i].min,
		                           policy_ints[i].max, policy_ints[i].max + 1 };
		const bool ok[] = { false, true, true, false };
		for (size_t k = 0; k < 4; k++) {
			char json[128];
			snprintf(json, sizeof json, "{\"%s\":%lld}", policy_ints[i].key, vals[k]);
			struct tenant_policy p, before;
			const char *err = "unset";
			int rc = policy_parse(&p, json, &err);
			tenant_policy_defaults(&before);
			if (ok[k]) {
				CHECK_EQ(rc, 0);
				CHECK(err == NULL);
				CHECK_EQ(policy_int_of(&p, policy_ints[i].off), vals[k]);
			} else {
				CHECK_EQ(rc, BW_EINVAL);
				CHECK(policy_equal(&p, &before));    /* unchanged on failure */
				if (rc == 0)
					fprintf(stderr, "  accepted %s\n", json);
			}
		}
		/* far out of range, including values that wrap an int */
		static const char *const far[] = { "0", "-1", "2147483648", "4294967308",
		                                   "-2147483648", "9223372036854775807",
		                                   "-9223372036854775808", "99999999999999999999" };
		for (size_t k = 0; k < BW_ARRAY_LEN(far); k++) {
			char json[128];
			snprintf(json, sizeof json, "{\"%s\":%s}", policy_ints[i].key, far[k]);
			struct tenant_policy p;
			const char *err;
			CHECK_EQ(policy_parse(&p, json, &err), BW_EINVAL);
		}
	}
}

TEST(retention_below_six_months_rejected)
{
	struct tenant_policy p;
	const char *err;
	CHECK_EQ(policy_parse(&p, "{\"audit_retention_days\":179}", &err), BW_EINVAL);
	CHECK_EQ(policy_parse(&p, "{\"audit_retention_days\":30}", &err), BW_EINVAL);
	CHECK_EQ(policy_parse(&p, "{\"audit_retention_days\":0}", &err), BW_EINVAL);
	CHECK_EQ(policy_parse(&p, "{\"audit_retention_days\":180}", &err), 0);
	CHECK_EQ(p.audit_retention_days, 180);
	CHECK_EQ(policy_parse(&p, "{\"audit_retention_days\":365}", &err), 0);
	CHECK_EQ(p.audit_retention_days, 365);
}

TEST(wrong_types_rejected)
{
	static const char *const bad[] = {
		"{\"password_min_length\":\"12\"}",
		"{\"password_min_length\":12.0}",
		"{\"password_min_length\":12.5}",
		"{\"password_min_length\":1e1}",
		"{\"password_min_length\":true}",
		"{\"password_min_length\":null}",
		"{\"password_min_length\":[12]}",
		"{\"password_min_length\":{}}",
		"{\"lockout_threshold\":false}",
		"{\"mfa_required_all\":1}",
		"{\"mfa_required_all\":\"true\"}",
		"{\"mfa_required_all\":null}",
		"{\"single_session\":0}",
		"{\"single_session\":[]}",
		"{\"mfa_required_roles\":\"sysadmin\"}",
		"{\"mfa_required_roles\":{}}",
		"{\"mfa_required_roles\":[1]}",
		"{\"mfa_required_roles\":[null]}",
		"{\"mfa_required_roles\":[\"root\"]}",
		"{\"mfa_required_roles\":[\"none\"]}",
		"{\"mfa_required_roles\":[\"SYSADMIN\"]}",
		"{\"mfa_required_roles\":[[\"sysadmin\"]]}",
		"{\"mfa_required_roles\":[\"sysadmin\",\"secadmin\",\"auditadmin\",\"member\",\"guest\",\"guest\",\"guest\"]}",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		struct tenant_policy p;
		const char *err;
		if (policy_parse(&p, bad[i], &err) != BW_EINVAL) {
			fprintf(stderr, "  accepted %s\n", bad[i]);
			unit_failed_checks++;
		}
	}
}

TEST(structure_rejected)
{
	static const char *const bad[] = {
		"", "   ", "null", "[]", "[{}]", "12", "\"{}\"", "true",
		"{", "{\"lockout_minutes\":5", "{\"lockout_minutes\":5,}",
		"{\"unknown\":1}",
		"{\"Lockout_minutes\":5}",
		"{\"lockout_minutes \":5}",
		"{\"password_min_length\":12,\"extra\":true}",
		"{\"lockout_minutes\":5,\"lockout_minutes\":6}",            /* duplicate */
		"{\"mfa_required_all\":true,\"mfa_required_all\":false}",
		"{} {}",
		"{}x",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		struct tenant_policy p;
		const char *err;
		if (policy_parse(&p, bad[i], &err) != BW_EINVAL) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			unit_failed_checks++;
		}
	}
	/* the length given is respected: a NUL inside it is not the end */
	struct tenant_policy p;
	const char *err;
	static const char withnul[] = "{\"lockout_minutes\":5}\0 junk";
	tenant_policy_defaults(&p);
	CHECK_EQ(tenant_policy_from_json(&p, withnul, sizeof withnul - 1, &err), BW_EINVAL);
	tenant_policy_defaults(&p);
	CHECK_EQ(tenant_policy_from_json(&p, withnul, strlen(withnul), &err), 0);
	CHECK_EQ(p.lockout_minutes, 5);
	/* a zero length is empty input, whatever the pointer shows */
	tenant_policy_defaults(&p);
	CHECK_EQ(tenant_policy_from_json(&p, "{}", 0, &err), BW_EINVAL);
}

TEST(partial_keeps_other_fields)
{
	struct tenant_policy p;
	const char *err;
	tenant_policy_defaults(&p);
	p.lockout_minutes = 33;
	p.single_session = true;
	CHECK_EQ(tenant_policy_from_json(&p, "{\"lockout_threshold\":7}", 23, &err), 0);
	CHECK_EQ(p.lockout_threshold, 7);
	CHECK_EQ(p.lockout_minutes, 33);
	CHECK(p.single_session);
	CHECK_EQ(tenant_policy_from_json(&p, "{}", 2, &err), 0);
	CHECK_EQ(p.lockout_threshold, 7);
	/* a failure in a later key leaves everything as it was */
	struct tenant_policy before = p;
	const char *j = "{\"lockout_threshold\":9,\"idle_timeout_minutes\":0}";
	CHECK_EQ(tenant_policy_from_json(&p, j, strlen(j), &err), BW_EINVAL);
	CHECK(policy_equal(&p, &before));
	/* mfa_required_roles replaces the set */
	j = "{\"mfa_required_roles\":[\"member\"]}";
	CHECK_EQ(tenant_policy_from_json(&p, j, strlen(j), &err), 0);
	for (int r = 0; r < ROLE_COUNT_; r++)
		CHECK_EQ(p.mfa_required_role[r], r == ROLE_MEMBER);
	j = "{\"mfa_required_roles\":[]}";
	CHECK_EQ(tenant_policy_from_json(&p, j, strlen(j), &err), 0);
	for (int r = 0; r < ROLE_COUNT_; r++)
		CHECK(!p.mfa_required_role[r]);
	j = "{\"mfa_required_all\":true,\"single_session\":false}";
	CHECK_EQ(tenant_policy_from_json(&p, j, strlen(j), &err), 0);
	CHECK(p.mfa_required_all);
	CHECK(!p.single_session);
}

/* *err_field names the offending field and stays readable after the call
 * returns (callers log it, e.g. accounts_policy_get).  Run in a child: a
 * pointer into the freed JSON tree is a use-after-free. */
static void policy_child_err_field(void)
{
	static const struct { const char *json, *field; } c[] = {
		{ "{\"lockout_minutes\":0}", "lockout_minutes" },
		{ "{\"password_min_length\":12,\"single_session\":3}", "single_session" },
		{ "{\"no_such_field\":1}", "no_such_field" },
		{ "{\"mfa_required_roles\":[\"x\"]}", "mfa_required_roles" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(c); i++) {
		struct tenant_policy p;
		const char *err = NULL;
		if (policy_parse(&p, c[i].json, &err) != BW_EINVAL || !err)
			_exit(3);
		char copy[64];
		snprintf(copy, sizeof copy, "%s", err);     /* read after return */
		if (strcmp(copy, c[i].field) != 0)
			_exit(4);
	}
	struct tenant_policy p;
	const char *err = NULL;
	if (policy_parse(&p, "[]", &err) != BW_EINVAL || !err || strcmp(err, "policy") != 0)
		_exit(5);
}

TEST(err_field_names_the_field)
{
	CHECK(policy_in_child(policy_child_err_field));
}

TEST(round_trip)
{
	struct tenant_policy p, q;
	const char *err;
	tenant_policy_defaults(&p);
	char *j = tenant_policy_to_json(&p);
	CHECK(j != NULL);
	if (!j)
		return;
	/* the text itself: every key, sorted, compact */
	json_error_t jerr;
	json_t *o = json_loads(j, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(o && json_is_object(o));
	CHECK_EQ(json_object_size(o), 20);
	CHECK_EQ(json_array_size(json_object_get(o, "doc_labels")), 4);
	CHECK_EQ(json_integer_value(json_object_get(o, "recall_window_s")), 120);
	CHECK_STR(json_string_value(json_object_get(o, "link_policy")), "flag");
	CHECK(json_is_false(json_object_get(o, "clamav_optout")));
	CHECK_EQ(json_integer_value(json_object_get(o, "audit_capacity_records")), 0);
	CHECK_EQ(json_integer_value(json_object_get(o, "password_min_length")), 12);
	CHECK_EQ(json_integer_value(json_object_get(o, "audit_retention_days")), 180);
	CHECK(json_is_false(json_object_get(o, "mfa_required_all")));
	json_t *roles = json_object_get(o, "mfa_required_roles");
	CHECK(json_is_array(roles) && json_array_size(roles) == 3);
	json_decref(o);
	tenant_policy_defaults(&q);
	q.lockout_minutes = 999;
	CHECK_EQ(tenant_policy_from_json(&q, j, strlen(j), &err), 0);
	CHECK(policy_equal(&p, &q));
	free(j);

	/* every field at non-default values, each boundary */
	for (int variant = 0; variant < 2; variant++) {
		tenant_policy_defaults(&p);
		for (size_t i = 0; i < BW_ARRAY_LEN(policy_ints); i++)
			*(int *)((char *)&p + policy_ints[i].off) =
				variant ? policy_ints[i].max : policy_ints[i].min;
		p.mfa_required_all = variant;
		p.single_session = !variant;
		for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
			p.mfa_required_role[r] = ((r + variant) % 2) == 0;
		j = tenant_policy_to_json(&p);
		CHECK(j != NULL);
		if (!j)
			return;
		tenant_policy_defaults(&q);
		CHECK_EQ(tenant_policy_from_json(&q, j, strlen(j), &err), 0);
		CHECK(policy_equal(&p, &q));
		/* serialising again gives the same text */
		char *j2 = tenant_policy_to_json(&q);
		CHECK(j2 && strcmp(j, j2) == 0);
		free(j2);
		free(j);
	}
}

int main(void)
{
	bw_log_level = BW_LOG_ERR;
	RUN(names);
	RUN(role_perm_matrix_full_scope);
	RUN(admin_duties_disjoint);
	RUN(tenant_mismatch_always_denied);
	RUN(restricted_scopes);
	RUN(invalid_inputs_denied);
	RUN(role_change_rule);
	RUN(policy_defaults);
	RUN(int_field_bounds);
	RUN(retention_below_six_months_rejected);
	RUN(wrong_types_rejected);
	RUN(structure_rejected);
	RUN(partial_keeps_other_fields);
	RUN(err_field_names_the_field);
	RUN(round_trip);
	return UNIT_DONE();
}
