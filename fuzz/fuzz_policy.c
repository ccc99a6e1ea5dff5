/*
 * fuzz_policy.c — tenant_policy_from_json on arbitrary bytes (the policy a
 * security administrator uploads, RG-OPS-b, PS-IA-e/f, PS-LOG-d).
 *
 * Properties checked on every input:
 *  - no crash, leak or out-of-bounds access (sanitizers);
 *  - failure leaves the caller's policy untouched and names a field;
 *  - success yields values inside every documented bound;
 *  - to_json(p) parses back (into a different starting policy) to exactly p,
 *    and serialising that again gives the same text.
 * *err_field is only compared with NULL here: the unit test checks that it
 * stays readable (it currently points into the freed JSON tree).
 */
#include "policy.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	return 0;
}

static bool fuzz_policy_equal(const struct tenant_policy *a, const struct tenant_policy *b)
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

static bool fuzz_policy_in_bounds(const struct tenant_policy *p)
{
	return p->password_min_length >= 8 && p->password_min_length <= 128 &&
	       p->lockout_threshold >= 3 && p->lockout_threshold <= 20 &&
	       p->lockout_minutes >= 1 && p->lockout_minutes <= 1440 &&
	       p->idle_timeout_minutes >= 1 && p->idle_timeout_minutes <= 240 &&
	       p->absolute_timeout_hours >= 1 && p->absolute_timeout_hours <= 72 &&
	       p->audit_retention_days >= 180 && p->audit_retention_days <= 36500 &&
	       !p->mfa_required_role[ROLE_NONE];
}

/* A valid policy far from the defaults, so a key the serialiser forgot
 * would show up as a difference. */
static void fuzz_policy_other(struct tenant_policy *p)
{
	tenant_policy_defaults(p);
	p->password_min_length = 100;
	p->lockout_threshold = 19;
	p->lockout_minutes = 1000;
	p->idle_timeout_minutes = 200;
	p->absolute_timeout_hours = 70;
	p->audit_retention_days = 30000;
	p->mfa_required_all = true;
	p->single_session = true;
	for (int r = ROLE_NONE + 1; r < ROLE_COUNT_; r++)
		p->mfa_required_role[r] = !p->mfa_required_role[r];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan sees any read past size */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	struct tenant_policy p, before;
	tenant_policy_defaults(&p);
	before = p;
	const char *err = NULL;
	int rc = tenant_policy_from_json(&p, buf, size, &err);
	free(buf);
	if (rc != 0) {
		if (rc != BW_EINVAL || err == NULL || !fuzz_policy_equal(&p, &before))
			abort();
		return 0;
	}
	if (err != NULL || !fuzz_policy_in_bounds(&p))
		abort();
	char *j = tenant_policy_to_json(&p);
	if (!j)
		abort();
	struct tenant_policy q;
	fuzz_policy_other(&q);
	if (tenant_policy_from_json(&q, j, strlen(j), &err) != 0 || !fuzz_policy_equal(&p, &q))
		abort();
	char *j2 = tenant_policy_to_json(&q);
	if (!j2 || strcmp(j, j2) != 0)
		abort();
	free(j2);
	free(j);
	return 0;
}
