/*
 * audit.h — the tamper-evident audit trail (PS-LOG-a/b/c/d, RG-AUDIT,
 * RG-DOC-b/c, IN-INSIDER).
 *
 * Records are append-only and hash-chained: hash(n) = H("bw-audit-v1" ‖
 * canonical(record n) ‖ hash(n-1)).  Every AUDIT_CHECKPOINT_EVERY records, on
 * a timer and at server stop, the key process signs the head (seq, hash,
 * time).  audit_verify() recomputes the chain offline and checks every
 * checkpoint signature against the installation's public key, so a changed,
 * deleted, inserted or reordered record is found and named.
 *
 * Appends read the chain head inside the caller's write transaction, so
 * several processes (server, CLI) can append to one store without forking
 * the chain.
 */
#ifndef BW_AUDIT_H
#define BW_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "store.h"
#include "util.h"

#define AUDIT_CHECKPOINT_EVERY 1000

struct keyd;

struct audit_event {
	int64_t tenant_id;      /* 0: installation-wide */
	const char *event;      /* e.g. "auth.login" */
	const char *subject;    /* who acted: "tenant/username#id" or "system" */
	const char *object;     /* what was acted on */
	const char *outcome;    /* "success" / "failure" / "denied" */
	const char *source;     /* client address, may be NULL */
	const char *device;     /* device id or name, may be NULL */
	const char *request_id; /* may be NULL */
	const char *detail;     /* a JSON object text, may be NULL */
};

struct audit;

/* The handle keeps the store and key process it signs with (both borrowed). */
int audit_open(struct store *s, struct keyd *k, struct audit **out);
void audit_close(struct audit *a);

/* Appends in its own IMMEDIATE transaction. */
int audit_log(struct audit *a, const struct audit_event *e);
/* Appends inside a write transaction the caller holds (so the action and its
 * record commit together). */
int audit_log_txn(struct audit *a, const struct audit_event *e);
/* Signs the current head if it is not signed yet. */
int audit_checkpoint(struct audit *a);

/* Retention (PS-LOG-d): deletes the records older than cutoff_ms, up to the
 * newest checkpoint signed before it, which then anchors the chain; records
 * the purge itself.  *purged gets the number of records deleted. */
int audit_retention_run(struct audit *a, int64_t cutoff_ms, int64_t *purged);

/* Computes the hash of a record (its prev_hash field included). */
void audit_record_hash(const struct store_audit *r, uint8_t out[CRYPTO_HASH_LEN]);
/* The message a checkpoint signature covers. */
size_t audit_checkpoint_message(int64_t seq, const uint8_t hash[CRYPTO_HASH_LEN],
                                int64_t ts_ms, uint8_t *out, size_t out_max);

struct audit_verify_result {
	bool ok;
	int64_t records;
	int64_t checkpoints;
	int64_t first_seq, last_seq;
	int64_t last_checkpoint_seq, last_checkpoint_ms;
	int64_t unsigned_tail;      /* records after the last checkpoint */
	int64_t first_bad_seq;      /* 0 when ok */
	char reason[160];
};

/* Verifies the whole stored chain against the signing public key. */
int audit_verify(struct store *s, const uint8_t *pub, size_t pub_len,
                 struct audit_verify_result *r);

/* Export formats. */
enum audit_format { AUDIT_JSON = 1, AUDIT_SYSLOG = 2 };
/* Formats one record (RFC 5424 line without newline, or a JSON object text)
 * into b.  hostname is used in syslog lines. */
int audit_format_record(const struct store_audit *r, enum audit_format f,
                        const char *hostname, struct bw_buf *b);

#endif
