/*
 * auditbench.c — audit trail throughput (design.md "Budgets": >= 100,000
 * appends/s, verify >= 1,000,000 records/s; PS-LOG-a/c, RG-AUDIT).  Not part
 * of the server: bench/run.sh links it with the release objects of every
 * src/ file except main.c.
 *
 * In a fresh data directory (app_init + app_open: real store, real key
 * process that signs a checkpoint every AUDIT_CHECKPOINT_EVERY records):
 *  1. group commit: --batch-records records with audit_log_txn inside
 *     IMMEDIATE transactions of --batch-size records each (what the store
 *     writer will do);
 *  2. one transaction per record: --single-records records with audit_log;
 *  3. audit_verify over the whole chain, --verify-runs times (median).
 * Prints one RESULT line per figure.  Exit 1 if anything fails or the chain
 * does not verify.
 *
 * usage: auditbench --dir NEW_DIR [--suite intl|gm] [--batch-records 200000]
 *                   [--batch-size 1000] [--single-records 20000] [--verify-runs 3]
 * Bounded: at most 2,000,000 records in all.
 */
#include "app.h"
#include "audit.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AB_RECORDS_MAX 2000000
#define AB_VERIFY_RUNS_MAX 9

static double ab_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A realistic sign-in record; the texts live in caller-owned buffers. */
static void ab_event(struct audit_event *e, long i, char *subject, size_t subject_max,
                     char *request_id, size_t rid_max)
{
	snprintf(subject, subject_max, "acme/member%04ld#%ld", i % 5000, 100 + i % 5000);
	snprintf(request_id, rid_max, "rq%014ld", i);
	memset(e, 0, sizeof *e);
	e->tenant_id = 1;
	e->event = "auth.login";
	e->subject = subject;
	e->object = subject;
	e->outcome = i % 10 ? "success" : "failure";
	e->source = "127.0.0.1";
	e->device = "dev-8c1f2a";
	e->request_id = request_id;
	e->detail = i % 10 ? "{\"method\":\"password\",\"new_device\":false}"
	                   : "{\"reason\":\"invalid_credentials\"}";
}

static int ab_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *suite_name = "intl";
	long batch_records = 200000, batch_size = 1000, single_records = 20000;
	int verify_runs = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
		else if (strcmp(argv[i], "--suite") == 0) suite_name = argv[i + 1];
		else if (strcmp(argv[i], "--batch-records") == 0) batch_records = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--batch-size") == 0) batch_size = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--single-records") == 0) single_records = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--verify-runs") == 0) verify_runs = atoi(argv[i + 1]);
		else dir = NULL, i = argc;
	}
	enum bwc_suite suite;
	if (!dir || bwc_suite_parse(suite_name, &suite) != 0 || batch_records < 0 ||
	    batch_size < 1 || single_records < 0 ||
	    batch_records + single_records > AB_RECORDS_MAX || verify_runs < 1 ||
	    verify_runs > AB_VERIFY_RUNS_MAX) {
		fputs("usage: auditbench --dir NEW_DIR [--suite intl|gm] [--batch-records N]"
		      " [--batch-size N] [--single-records N] [--verify-runs N]\n", stderr);
		return 2;
	}
	int rc = app_init(dir, suite);
	if (rc) {
		fprintf(stderr, "auditbench: init %s: %s\n", dir, bw_strerror(rc));
		return 1;
	}
	struct app a;
	if ((rc = app_open(dir, -1, -1, &a))) {
		fprintf(stderr, "auditbench: open %s: %s\n", dir, bw_strerror(rc));
		return 1;
	}
	struct store *s = a.s;
	char subject[96], rid[40];
	struct audit_event e;
	int status = 0;

	/* 1. group commit */
	double t0 = ab_now();
	for (long done = 0; done < batch_records && !rc;) {
		if ((rc = s->ops->begin(s, true)))
			break;
		for (long k = 0; k < batch_size && done < batch_records && !rc; k++, done++) {
			ab_event(&e, done, subject, sizeof subject, rid, sizeof rid);
			rc = audit_log_txn(a.au, &e);
		}
		if (rc) {
			s->ops->rollback(s);
			break;
		}
		rc = s->ops->commit(s);
	}
	double t_batch = ab_now() - t0;
	if (rc) {
		fprintf(stderr, "auditbench: group-commit append failed: %s\n", bw_strerror(rc));
		status = 1;
		goto out;
	}
	if (batch_records)
		printf("RESULT audit_append_group suite=%s records=%ld txn_size=%ld secs=%.3f per_s=%.0f\n",
		       suite_name, batch_records, batch_size, t_batch, (double)batch_records / t_batch);

	/* 2. one transaction each */
	t0 = ab_now();
	for (long i = 0; i < single_records && !rc; i++) {
		ab_event(&e, batch_records + i, subject, sizeof subject, rid, sizeof rid);
		rc = audit_log(a.au, &e);
	}
	double t_single = ab_now() - t0;
	if (rc) {
		fprintf(stderr, "auditbench: single append failed: %s\n", bw_strerror(rc));
		status = 1;
		goto out;
	}
	if (single_records)
		printf("RESULT audit_append_single suite=%s records=%ld txn_size=1 secs=%.3f per_s=%.0f\n",
		       suite_name, single_records, t_single, (double)single_records / t_single);
	if ((rc = audit_checkpoint(a.au))) {
		fprintf(stderr, "auditbench: checkpoint failed: %s\n", bw_strerror(rc));
		status = 1;
		goto out;
	}

	/* 3. verify the whole chain */
	double times[AB_VERIFY_RUNS_MAX];
	struct audit_verify_result vr;
	for (int k = 0; k < verify_runs; k++) {
		t0 = ab_now();
		rc = audit_verify(s, a.audit_pub, a.audit_pub_len, &vr);
		times[k] = ab_now() - t0;
		if (rc || !vr.ok) {
			fprintf(stderr, "auditbench: verify failed: rc=%s ok=%d first_bad=%lld %s\n",
			        bw_strerror(rc), vr.ok, (long long)vr.first_bad_seq, vr.reason);
			status = 1;
			goto out;
		}
	}
	qsort(times, (size_t)verify_runs, sizeof *times, ab_cmp);
	double med = times[verify_runs / 2];
	printf("RESULT audit_verify suite=%s records=%lld checkpoints=%lld runs=%d median_secs=%.3f "
	       "best_secs=%.3f per_s=%.0f\n",
	       suite_name, (long long)vr.records, (long long)vr.checkpoints, verify_runs, med,
	       times[0], (double)vr.records / med);
out:
	app_close(&a);
	return status;
}
