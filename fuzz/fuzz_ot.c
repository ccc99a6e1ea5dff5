/*
 * fuzz_ot.c — the Quill Delta parser and the OT algebra (src/ot.c).
 *
 * Input: byte 0 chooses where the rest is cut in two; each part is parsed
 * as a change (ot_parse) and as a document (ot_parse_document).
 * Properties checked:
 *  - a parsed delta dumps to JSON that parses again to the same dump
 *    (normalisation is idempotent), with the same lengths;
 *  - compose / transform / transformPosition of the two parts never crash,
 *    fail only with BW_EINVAL (split surrogate pair), and results dump and
 *    re-parse to themselves;
 *  - on a document D (ASCII text, attributes and embeds) of length
 *    max(base(a), base(b)) when both apply: convergence
 *    D∘a∘a.transform(b,true) == D∘b∘b.transform(a,false) (unless the
 *    attribute limit is hit), and associativity D∘(a∘b) == (D∘a)∘b.
 * Requirement IDs: RG-DOC (co-editing: every client operation is parsed
 * and transformed by the server).
 */
#include "ot.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DOC_MAX 4096       /* longest document built for the algebra */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	return 0;
}

/* dump -> parse -> dump is stable; returns the dump (malloc'd). */
static char *fuzz_ot_roundtrip(const struct ot_delta *d, bool document)
{
	char *s = ot_dump(d);
	if (!s)
		abort();
	struct ot_delta *e = NULL;
	int rc = document ? ot_parse_document(s, strlen(s), &e) : ot_parse(s, strlen(s), &e);
	if (rc == BW_ETOOBIG) {             /* results may exceed change limits */
		return s;
	}
	if (rc < 0)
		abort();
	char *t = ot_dump(e);
	if (!t || strcmp(s, t) != 0 || ot_base_len(d) != ot_base_len(e) ||
	    ot_target_len(d) != ot_target_len(e) || ot_op_count(d) != ot_op_count(e))
		abort();
	free(t);
	ot_free(e);
	return s;
}

static void fuzz_ot_check(int rc, struct ot_delta *r)
{
	if (rc == 0) {
		free(fuzz_ot_roundtrip(r, false));
		ot_free(r);
	} else if (rc != BW_EINVAL) {
		abort();
	}
}

/* A document of exactly len units: runs of "abc" (every other one bold)
 * and an image embed every fourth run. */
static struct ot_delta *fuzz_ot_doc(int64_t len)
{
	struct bw_buf b;
	struct ot_delta *d = NULL;
	bw_buf_init(&b, 64 * (size_t)len + 64);
	bw_buf_append(&b, "[", 1);
	for (int64_t pos = 0, run = 0; pos < len; run++) {
		if (run)
			bw_buf_append(&b, ",", 1);
		if (run % 4 == 3) {
			bw_buf_printf(&b, "{\"insert\":{\"image\":\"i%lld\"}}", (long long)run);
			pos++;
			continue;
		}
		int64_t k = len - pos < 3 ? len - pos : 3;
		bw_buf_printf(&b, "{\"insert\":\"%.*s\"%s}", (int)k, "abc",
		              run % 2 ? ",\"attributes\":{\"bold\":true}" : "");
		pos += k;
	}
	bw_buf_append(&b, "]", 1);
	if (ot_parse_document((const char *)b.data, b.len, &d) < 0)
		abort();
	bw_buf_free(&b, false);
	return d;
}

static bool fuzz_ot_same(const struct ot_delta *x, const struct ot_delta *y)
{
	char *s = ot_dump(x), *t = ot_dump(y);
	bool eq = s && t && strcmp(s, t) == 0;
	free(s);
	free(t);
	return eq;
}

static void fuzz_ot_algebra(const struct ot_delta *a, const struct ot_delta *b)
{
	struct ot_delta *r = NULL;
	fuzz_ot_check(ot_compose(a, b, &r), r);
	r = NULL;
	fuzz_ot_check(ot_transform(a, b, true, &r), r);
	r = NULL;
	fuzz_ot_check(ot_transform(a, b, false, &r), r);
	for (int64_t i = -1; i < 8; i++)
		(void)ot_transform_position(a, i * 3, i & 1);

	int64_t len = ot_base_len(a) > ot_base_len(b) ? ot_base_len(a) : ot_base_len(b);
	if (len > FUZZ_DOC_MAX)
		return;
	struct ot_delta *doc = fuzz_ot_doc(len);
	struct ot_delta *da = NULL, *db = NULL, *a2 = NULL, *b2 = NULL, *l = NULL, *rr = NULL;
	struct ot_delta *ab = NULL, *dab = NULL, *dab2 = NULL;
	int ra = ot_apply(doc, a, &da), rb = ot_apply(doc, b, &db);
	if (ra < 0 || rb < 0)
		goto out;
	free(fuzz_ot_roundtrip(da, true));
	if (ot_transform(a, b, true, &b2) < 0 || ot_transform(b, a, false, &a2) < 0)
		abort();    /* transform never splits text */
	int rl = ot_apply(da, b2, &l), rr_ = ot_apply(db, a2, &rr);
	if (rl == 0 && rr_ == 0) {
		if (!fuzz_ot_same(l, rr))
			abort();
	} else if ((rl < 0 && rl != BW_ETOOBIG) || (rr_ < 0 && rr_ != BW_ETOOBIG)) {
		abort();
	}
	/* associativity, when every step is defined */
	if (ot_compose(a, b, &ab) == 0 && ot_apply(doc, ab, &dab) == 0 &&
	    ot_apply(da, b, &dab2) == 0 && !fuzz_ot_same(dab, dab2))
		abort();
out:
	ot_free(doc);
	ot_free(da);
	ot_free(db);
	ot_free(a2);
	ot_free(b2);
	ot_free(l);
	ot_free(rr);
	ot_free(ab);
	ot_free(dab);
	ot_free(dab2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	size_t cut = 1 + (size - 1) * data[0] / 255;
	const char *pa = (const char *)data + 1, *pb = (const char *)data + cut;
	size_t la = cut - 1, lb = size - cut;
	struct ot_delta *a = NULL, *b = NULL, *d = NULL;
	int rc_a = ot_parse(pa, la, &a), rc_b = ot_parse(pb, lb, &b);
	if (rc_a == 0)
		free(fuzz_ot_roundtrip(a, false));
	if (rc_b == 0)
		free(fuzz_ot_roundtrip(b, false));
	if (ot_parse_document(pa, la, &d) == 0) {
		size_t n = 0;
		char *t = ot_text(d, &n);
		if (!t || strlen(t) != n)
			abort();
		free(t);
		free(fuzz_ot_roundtrip(d, true));
		ot_free(d);
	}
	if (rc_a == 0 && rc_b == 0)
		fuzz_ot_algebra(a, b);
	ot_free(a);
	ot_free(b);
	return 0;
}
