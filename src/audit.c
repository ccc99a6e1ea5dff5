/*
 * audit.c — hash-chained, checkpoint-signed audit trail (PS-LOG-a/b/c/d,
 * RG-AUDIT, RG-DOC-b/c, IN-INSIDER).  See audit.h for the chain rule.
 *
 * Canonical encoding hashed per record (big-endian integers):
 *   "bw-audit-v1" ‖ seq(8) ‖ ts_ms(8) ‖ tenant(8) ‖ for each of event,
 *   subject, object, outcome, source, device, request_id, detail:
 *   len(4) ‖ bytes ‖ prev_hash(32)
 * Length prefixes make the encoding injective, so two different records can
 * never hash alike by moving bytes between fields.
 */
#include "audit.h"
#include "keyd.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct audit {
	struct store *s;
	struct keyd *k;
	int64_t signed_seq;     /* newest checkpointed seq we know of */
};

int audit_open(struct store *s, struct keyd *k, struct audit **out)
{
	struct audit *a = calloc(1, sizeof *a);
	if (!a)
		return BW_ENOMEM;
	a->s = s;
	a->k = k;
	struct store_checkpoint c;
	if (s->ops->checkpoint_last(s, &c) == 0)
		a->signed_seq = c.seq;
	*out = a;
	return 0;
}

void audit_close(struct audit *a)
{
	free(a);
}

static size_t enc64(uint8_t *b, size_t o, int64_t v)
{
	for (int i = 0; i < 8; i++)
		b[o++] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	return o;
}

static size_t encstr(uint8_t *b, size_t o, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	b[o++] = (uint8_t)(n >> 24);
	b[o++] = (uint8_t)(n >> 16);
	b[o++] = (uint8_t)(n >> 8);
	b[o++] = (uint8_t)n;
	memcpy(b + o, s, n);
	return o + n;
}

/* The canonical bytes are built in one buffer and hashed in one call (one
 * call instead of twenty: verification speed, see BENCHMARKS.md). */
void audit_record_hash(const struct store_audit *r, uint8_t out[CRYPTO_HASH_LEN])
{
	uint8_t b[11 + 3 * 8 + 8 * 4 + sizeof r->event + sizeof r->subject + sizeof r->object +
	          sizeof r->outcome + sizeof r->source + sizeof r->device + sizeof r->request_id +
	          sizeof r->detail + CRYPTO_HASH_LEN];
	size_t o = 11;
	memcpy(b, "bw-audit-v1", 11);
	o = enc64(b, o, r->seq);
	o = enc64(b, o, r->ts_ms);
	o = enc64(b, o, r->tenant_id);
	o = encstr(b, o, r->event, sizeof r->event);
	o = encstr(b, o, r->subject, sizeof r->subject);
	o = encstr(b, o, r->object, sizeof r->object);
	o = encstr(b, o, r->outcome, sizeof r->outcome);
	o = encstr(b, o, r->source, sizeof r->source);
	o = encstr(b, o, r->device, sizeof r->device);
	o = encstr(b, o, r->request_id, sizeof r->request_id);
	o = encstr(b, o, r->detail, sizeof r->detail);
	memcpy(b + o, r->prev_hash, CRYPTO_HASH_LEN);
	o += CRYPTO_HASH_LEN;
	bwc_hash(b, o, out);
}

size_t audit_checkpoint_message(int64_t seq, const uint8_t hash[CRYPTO_HASH_LEN],
                                int64_t ts_ms, uint8_t *out, size_t out_max)
{
	static const char tag[] = "bw-audit-checkpoint-v1";
	size_t n = sizeof tag - 1 + 8 + CRYPTO_HASH_LEN + 8;
	if (out_max < n)
		return 0;
	size_t o = 0;
	memcpy(out, tag, sizeof tag - 1);
	o += sizeof tag - 1;
	for (int i = 0; i < 8; i++)
		out[o++] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
	memcpy(out + o, hash, CRYPTO_HASH_LEN);
	o += CRYPTO_HASH_LEN;
	for (int i = 0; i < 8; i++)
		out[o++] = (uint8_t)((uint64_t)ts_ms >> (56 - 8 * i));
	return o;
}

/* Copies src into a fixed field; BW_ETOOBIG if it does not fit. */
static int field(char *dst, size_t dst_max, const char *src)
{
	if (!src)
		src = "";
	size_t n = strlen(src);
	if (n >= dst_max)
		return BW_ETOOBIG;
	memcpy(dst, src, n + 1);
	return 0;
}

static int sign_head(struct audit *a, int64_t seq, const uint8_t hash[CRYPTO_HASH_LEN])
{
	struct store_checkpoint c;
	memset(&c, 0, sizeof c);
	c.seq = seq;
	memcpy(c.hash, hash, CRYPTO_HASH_LEN);
	c.ts_ms = bw_now_ms();
	uint8_t msg[128];
	size_t n = audit_checkpoint_message(seq, hash, c.ts_ms, msg, sizeof msg);
	int rc = keyd_sign(a->k, msg, n, c.sig, sizeof c.sig, &c.sig_len);
	if (rc)
		return rc;
	rc = a->s->ops->checkpoint_insert(a->s, &c);
	if (rc == 0)
		a->signed_seq = seq;
	return rc;
}

int audit_log_txn(struct audit *a, const struct audit_event *e)
{
	struct store_audit *r = calloc(1, sizeof *r);
	if (!r)
		return BW_ENOMEM;
	int rc;
	if ((rc = field(r->event, sizeof r->event, e->event)) ||
	    (rc = field(r->subject, sizeof r->subject, e->subject)) ||
	    (rc = field(r->object, sizeof r->object, e->object)) ||
	    (rc = field(r->outcome, sizeof r->outcome, e->outcome)) ||
	    (rc = field(r->source, sizeof r->source, e->source)) ||
	    (rc = field(r->device, sizeof r->device, e->device)) ||
	    (rc = field(r->request_id, sizeof r->request_id, e->request_id)) ||
	    (rc = field(r->detail, sizeof r->detail, e->detail ? e->detail : "{}")))
		goto out;
	r->tenant_id = e->tenant_id;
	r->ts_ms = bw_now_ms();
	int64_t last = 0;
	rc = a->s->ops->audit_last(a->s, &last, r->prev_hash);
	if (rc == BW_ENOENT) {
		last = 0;
		memset(r->prev_hash, 0, CRYPTO_HASH_LEN);
		struct store_checkpoint c;
		/* after a retention purge the chain continues from its anchor */
		if (a->s->ops->checkpoint_last(a->s, &c) == 0) {
			last = c.seq;
			memcpy(r->prev_hash, c.hash, CRYPTO_HASH_LEN);
		}
		rc = 0;
	}
	if (rc)
		goto out;
	r->seq = last + 1;
	audit_record_hash(r, r->hash);
	rc = a->s->ops->audit_insert(a->s, r);
	if (rc)
		goto out;
	if (a->k && r->seq - a->signed_seq >= AUDIT_CHECKPOINT_EVERY) {
		struct store_checkpoint c;
		if (a->s->ops->checkpoint_last(a->s, &c) == 0)
			a->signed_seq = c.seq;   /* another process may have signed */
		if (r->seq - a->signed_seq >= AUDIT_CHECKPOINT_EVERY)
			rc = sign_head(a, r->seq, r->hash);
	}
out:
	free(r);
	return rc;
}

int audit_log(struct audit *a, const struct audit_event *e)
{
	int rc = a->s->ops->begin(a->s, true);
	if (rc)
		return rc;
	rc = audit_log_txn(a, e);
	if (rc == 0)
		rc = a->s->ops->commit(a->s);
	if (rc) {
		a->s->ops->rollback(a->s);
		log_err("audit: append of %s failed: %s", e->event, bw_strerror(rc));
	}
	return rc;
}

int audit_checkpoint(struct audit *a)
{
	if (!a->k)
		return BW_EINVAL;
	int rc = a->s->ops->begin(a->s, true);
	if (rc)
		return rc;
	int64_t seq = 0;
	uint8_t hash[CRYPTO_HASH_LEN];
	struct store_checkpoint c;
	rc = a->s->ops->audit_last(a->s, &seq, hash);
	if (rc == 0) {
		if (a->s->ops->checkpoint_last(a->s, &c) == 0 && c.seq >= seq)
			a->signed_seq = c.seq;   /* already signed */
		else
			rc = sign_head(a, seq, hash);
	} else if (rc == BW_ENOENT) {
		rc = 0;
	}
	if (rc == 0)
		rc = a->s->ops->commit(a->s);
	if (rc)
		a->s->ops->rollback(a->s);
	return rc;
}

struct cp_pick { int64_t cutoff_ms, seq; };

static int pick_cp(void *arg, const struct store_checkpoint *c)
{
	struct cp_pick *p = arg;
	if (c->ts_ms < p->cutoff_ms && c->seq > p->seq)
		p->seq = c->seq;
	return 0;
}

int audit_retention_run(struct audit *a, int64_t cutoff_ms, int64_t *purged)
{
	struct store *s = a->s;
	struct cp_pick p = { cutoff_ms, 0 };
	int64_t count = 0, first = 0;
	*purged = 0;
	int rc = s->ops->checkpoint_scan(s, 0, pick_cp, &p);
	if (rc == 0)
		rc = s->ops->audit_count(s, &count, &first);
	if (rc || count == 0 || p.seq < first)
		return rc;
	if ((rc = s->ops->begin(s, true)))
		return rc;
	rc = s->ops->audit_purge(s, p.seq);
	char detail[128];
	snprintf(detail, sizeof detail, "{\"purged_through_seq\":%lld,\"records\":%lld}",
	         (long long)p.seq, (long long)(p.seq - first + 1));
	struct audit_event e = { .tenant_id = 0, .event = "audit.purge", .subject = "system",
	                         .object = "audit-trail", .outcome = "success",
	                         .source = "local", .detail = detail };
	if (rc == 0)
		rc = audit_log_txn(a, &e);
	if (rc == 0)
		rc = s->ops->commit(s);
	if (rc)
		s->ops->rollback(s);
	else
		*purged = p.seq - first + 1;
	return rc;
}

/* --- verification ------------------------------------------------------ */

/* The shortest retention any tenant may choose (PS-LOG-d): a prefix of the
 * trail can legitimately be missing only behind an anchor at least this old. */
#define AUDIT_RETENTION_FLOOR_MS (180LL * 86400 * 1000)

struct verify_state {
	struct store *s;
	const uint8_t *pub;
	size_t pub_len;
	struct audit_verify_result *r;
	uint8_t prev[CRYPTO_HASH_LEN];
	int64_t expect_seq;
	struct store_checkpoint *cps;   /* all checkpoints, ascending */
	size_t ncps, cp_next;
};

static int verify_fail(struct verify_state *v, int64_t seq, const char *why)
{
	v->r->ok = false;
	v->r->first_bad_seq = seq;
	snprintf(v->r->reason, sizeof v->r->reason, "%s", why);
	return 1;  /* stop the scan */
}

static int verify_one(void *arg, const struct store_audit *rec)
{
	struct verify_state *v = arg;
	if (rec->seq != v->expect_seq)
		return verify_fail(v, v->expect_seq,
		                   rec->seq > v->expect_seq ? "record missing (deleted)"
		                                            : "records out of order");
	/* chain hashes are public: plain comparisons */
	if (memcmp(rec->prev_hash, v->prev, CRYPTO_HASH_LEN) != 0)
		return verify_fail(v, rec->seq, "previous-hash link broken (inserted, deleted or reordered record)");
	uint8_t h[CRYPTO_HASH_LEN];
	audit_record_hash(rec, h);
	if (memcmp(h, rec->hash, CRYPTO_HASH_LEN) != 0)
		return verify_fail(v, rec->seq, "record content does not match its hash (changed)");
	while (v->cp_next < v->ncps && v->cps[v->cp_next].seq < rec->seq)
		v->cp_next++;   /* checkpoints inside a purged prefix were checked as anchor */
	if (v->cp_next < v->ncps && v->cps[v->cp_next].seq == rec->seq) {
		const struct store_checkpoint *c = &v->cps[v->cp_next++];
		if (!bw_ct_eq(c->hash, rec->hash, CRYPTO_HASH_LEN))
			return verify_fail(v, rec->seq, "checkpoint does not match the chain");
		/* writers sign at least every AUDIT_CHECKPOINT_EVERY records: a
		 * longer unsigned stretch means checkpoints were removed */
		if (c->seq - v->r->last_checkpoint_seq > AUDIT_CHECKPOINT_EVERY)
			return verify_fail(v, v->r->last_checkpoint_seq + 1,
			                   "signed checkpoints are missing before this record");
		v->r->last_checkpoint_seq = c->seq;
		v->r->last_checkpoint_ms = c->ts_ms;
		v->r->checkpoints++;
	}
	if (v->r->records == 0)
		v->r->first_seq = rec->seq;
	v->r->records++;
	v->r->last_seq = rec->seq;
	memcpy(v->prev, rec->hash, CRYPTO_HASH_LEN);
	v->expect_seq = rec->seq + 1;
	return 0;
}

struct cp_list { struct store_checkpoint *v; size_t n, cap; };

static int collect_cp(void *arg, const struct store_checkpoint *c)
{
	struct cp_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct store_checkpoint *p = realloc(l->v, cap * sizeof *p);
		if (!p)
			return BW_ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = *c;
	return 0;
}

int audit_verify(struct store *s, const uint8_t *pub, size_t pub_len,
                 struct audit_verify_result *r)
{
	memset(r, 0, sizeof *r);
	r->ok = true;
	struct cp_list cl = { 0 };
	int rc = s->ops->checkpoint_scan(s, 0, collect_cp, &cl);
	if (rc)
		goto out;
	struct verify_state v = { .s = s, .pub = pub, .pub_len = pub_len, .r = r,
	                          .cps = cl.v, .ncps = cl.n };
	/* every checkpoint signature first: a forged checkpoint is an error */
	for (size_t i = 0; i < cl.n; i++) {
		uint8_t msg[128];
		size_t n = audit_checkpoint_message(cl.v[i].seq, cl.v[i].hash, cl.v[i].ts_ms,
		                                    msg, sizeof msg);
		if (keyd_checkpoint_verify(pub, pub_len, msg, n, cl.v[i].sig, cl.v[i].sig_len) != 0) {
			verify_fail(&v, cl.v[i].seq, "checkpoint signature invalid");
			goto out;
		}
	}
	int64_t count = 0, first = 0;
	rc = s->ops->audit_count(s, &count, &first);
	if (rc)
		goto out;
	if (count == 0 && cl.n == 0)
		goto out;   /* nothing written yet (or everything, signatures included,
		             * removed: only an outside copy can tell — export to a SIEM) */
	v.expect_seq = 1;
	memset(v.prev, 0, sizeof v.prev);
	if (first > 1 || (count == 0 && cl.n > 0)) {
		/* purged prefix: the chain must start right after a signed anchor */
		int64_t anchor_seq = count ? first - 1 : cl.v[cl.n - 1].seq;
		size_t i;
		for (i = 0; i < cl.n && cl.v[i].seq != anchor_seq; i++)
			;
		if (i == cl.n) {
			verify_fail(&v, first, "records before this one are missing and no signed anchor covers them");
			goto out;
		}
		if (cl.v[i].ts_ms > bw_now_ms() - AUDIT_RETENTION_FLOOR_MS) {
			verify_fail(&v, first > 1 ? first - 1 : 1,
			            "records were removed that are younger than the 180-day retention floor");
			goto out;
		}
		memcpy(v.prev, cl.v[i].hash, CRYPTO_HASH_LEN);
		v.expect_seq = anchor_seq + 1;
		r->last_checkpoint_seq = cl.v[i].seq;
		r->last_checkpoint_ms = cl.v[i].ts_ms;
		r->checkpoints++;
		v.cp_next = i + 1;
	}
	rc = s->ops->audit_scan(s, v.expect_seq, verify_one, &v);
	if (rc == 1)
		rc = 0;
	if (rc || !r->ok)
		goto out;
	/* a checkpoint beyond the last record means the tail was cut off */
	for (size_t i = 0; i < cl.n; i++) {
		if (cl.v[i].seq > r->last_seq && count > 0) {
			verify_fail(&v, r->last_seq + 1, "records after this point were deleted (a signed checkpoint covers them)");
			goto out;
		}
	}
	r->unsigned_tail = r->last_seq - r->last_checkpoint_seq;
	if (r->unsigned_tail < 0)
		r->unsigned_tail = 0;
	if (r->unsigned_tail >= AUDIT_CHECKPOINT_EVERY)
		verify_fail(&v, r->last_checkpoint_seq + 1,
		            "signed checkpoints are missing after this record");
out:
	free(cl.v);
	return rc;
}

/* --- export -------------------------------------------------------------- */

static void iso_time(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%03dZ", base, (int)(ms % 1000));
}

/* RFC 5424 SD-PARAM-VALUE escaping: '"', '\' and ']' get a backslash;
 * control characters become "\xNN" so that a record stays one line. */
static int sd_escape(struct bw_buf *b, const char *s)
{
	for (; *s; s++) {
		int rc = 0;
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			if ((rc = bw_buf_printf(b, "\\x%02x", (unsigned char)*s)))
				return rc;
			continue;
		}
		if (*s == '"' || *s == '\\' || *s == ']')
			rc = bw_buf_append(b, "\\", 1);
		if (!rc)
			rc = bw_buf_append(b, s, 1);
		if (rc)
			return rc;
	}
	return 0;
}

int audit_format_record(const struct store_audit *r, enum audit_format f,
                        const char *hostname, struct bw_buf *b)
{
	char ts[40], hash[2 * CRYPTO_HASH_LEN + 1];
	iso_time(r->ts_ms, ts, sizeof ts);
	bw_hex_encode(r->hash, CRYPTO_HASH_LEN, hash);
	if (f == AUDIT_JSON) {
		json_error_t jerr;
		json_t *detail = json_loads(r->detail, JSON_REJECT_DUPLICATES, &jerr);
		if (!detail)
			detail = json_object();
		json_t *o = json_pack("{sI ss sI sI ss ss ss ss ss ss ss so ss}",
		                      "seq", (json_int_t)r->seq, "time", ts,
		                      "time_ms", (json_int_t)r->ts_ms,
		                      "tenant_id", (json_int_t)r->tenant_id,
		                      "event", r->event, "subject", r->subject,
		                      "object", r->object, "outcome", r->outcome,
		                      "source", r->source, "device", r->device,
		                      "request_id", r->request_id, "detail", detail,
		                      "hash", hash);
		if (!o)
			return BW_ENOMEM;
		char *txt = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!txt)
			return BW_ENOMEM;
		int rc = bw_buf_append(b, txt, strlen(txt));
		free(txt);
		return rc;
	}
	/* RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG
	 * facility 13 (log audit), severity 5 (notice) or 4 (warning) */
	int pri = 13 * 8 + (strcmp(r->outcome, "success") == 0 ? 5 : 4);
	int rc = bw_buf_printf(b, "<%d>1 %s %s bulwark - %s [audit@32473 seq=\"%lld\" tenant=\"%lld\" outcome=\"",
	                       pri, ts, hostname && *hostname ? hostname : "-",
	                       r->event[0] ? r->event : "-", (long long)r->seq,
	                       (long long)r->tenant_id);
	const char *names[] = { "subject", "object", "source", "device", "request_id", "hash" };
	const char *vals[] = { r->subject, r->object, r->source, r->device, r->request_id, hash };
	if (!rc)
		rc = sd_escape(b, r->outcome);
	for (size_t i = 0; !rc && i < BW_ARRAY_LEN(names); i++) {
		rc = bw_buf_printf(b, "\" %s=\"", names[i]);
		if (!rc)
			rc = sd_escape(b, vals[i]);
	}
	if (!rc)
		rc = bw_buf_printf(b, "\"] ");
	for (const char *d = r->detail; !rc && *d; d++)
		rc = (unsigned char)*d < 0x20 ? bw_buf_printf(b, "\\x%02x", (unsigned char)*d)
		                              : bw_buf_append(b, d, 1);
	return rc;
}
