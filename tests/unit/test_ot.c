/*
 * test_ot.c — unit tests of src/ot.c: the classic cases of quill-delta's
 * own suite (compose, transform, transformPosition), normalisation on
 * parse, surrogate pairs, ot_apply, and every validation rule and limit.
 * The exhaustive equivalence with quill-delta is tests/ot/differential.mjs.
 * Requirement IDs: RG-DOC (co-editing).
 */
#include "ot.h"
#include "util.h"
#include "unit.h"

#include <stdbool.h>

/* Parses a change or dies (test inputs are meant to be valid). */
static struct ot_delta *P(const char *json)
{
	struct ot_delta *d = NULL;
	int rc = ot_parse(json, strlen(json), &d);
	if (rc < 0) {
		fprintf(stderr, "  cannot parse %s: %d\n", json, rc);
		abort();
	}
	return d;
}

static struct ot_delta *D(const char *json)
{
	struct ot_delta *d = NULL;
	int rc = ot_parse_document(json, strlen(json), &d);
	if (rc < 0) {
		fprintf(stderr, "  cannot parse document %s: %d\n", json, rc);
		abort();
	}
	return d;
}

/* Result as a string: the dump, or "E<code>".  Stored in a static ring so
 * that CHECK_STR can compare two calls; tests never keep them. */
static const char *res(int rc, struct ot_delta *d)
{
	static char ring[8][4096];
	static int next;
	char *slot = ring[next++ % 8];
	if (rc < 0) {
		snprintf(slot, sizeof ring[0], "E%d", rc);
	} else {
		char *s = ot_dump(d);
		snprintf(slot, sizeof ring[0], "%s", s ? s : "(null)");
		free(s);
		ot_free(d);
	}
	return slot;
}

static const char *xf(const char *a, const char *b, bool priority)
{
	struct ot_delta *da = P(a), *db = P(b), *r = NULL;
	int rc = ot_transform(da, db, priority, &r);
	ot_free(da);
	ot_free(db);
	return res(rc, r);
}

static const char *co(const char *a, const char *b)
{
	struct ot_delta *da = P(a), *db = P(b), *r = NULL;
	int rc = ot_compose(da, db, &r);
	ot_free(da);
	ot_free(db);
	return res(rc, r);
}

static const char *ap(const char *doc, const char *change)
{
	struct ot_delta *dd = D(doc), *dc = P(change), *r = NULL;
	int rc = ot_apply(dd, dc, &r);
	ot_free(dd);
	ot_free(dc);
	return res(rc, r);
}

static int64_t tp(const char *a, int64_t index, bool priority)
{
	struct ot_delta *d = P(a);
	int64_t r = ot_transform_position(d, index, priority);
	ot_free(d);
	return r;
}

static int perr(const char *json)
{
	struct ot_delta *d = NULL;
	int rc = ot_parse(json, strlen(json), &d);
	ot_free(d);
	return rc;
}

static const char *norm(const char *json)
{
	struct ot_delta *d = NULL;
	int rc = ot_parse(json, strlen(json), &d);
	return res(rc, d);
}

/* ------------------------------------------------ quill-delta: transform */

TEST(transform_classic)
{
	const char *A = "[{\"insert\":\"A\"}]", *B = "[{\"insert\":\"B\"}]";
	/* insert + insert */
	CHECK_STR(xf(A, B, true), "{\"ops\":[{\"retain\":1},{\"insert\":\"B\"}]}");
	CHECK_STR(xf(A, B, false), "{\"ops\":[{\"insert\":\"B\"}]}");
	/* insert + retain */
	CHECK_STR(xf(A, "[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]", true),
	          "{\"ops\":[{\"retain\":1},{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]}");
	/* insert + delete */
	CHECK_STR(xf(A, "[{\"delete\":1}]", true), "{\"ops\":[{\"retain\":1},{\"delete\":1}]}");
	/* delete + insert, delete + retain, delete + delete */
	CHECK_STR(xf("[{\"delete\":1}]", B, true), "{\"ops\":[{\"insert\":\"B\"}]}");
	CHECK_STR(xf("[{\"delete\":1}]", "[{\"retain\":1,\"attributes\":{\"bold\":true}}]", true),
	          "{\"ops\":[]}");
	CHECK_STR(xf("[{\"delete\":1}]", "[{\"delete\":1}]", true), "{\"ops\":[]}");
	/* retain + insert */
	CHECK_STR(xf("[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]", B, true),
	          "{\"ops\":[{\"insert\":\"B\"}]}");
	/* retain + retain: priority keeps only keys a did not set */
	const char *ra = "[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]";
	const char *rb = "[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]";
	CHECK_STR(xf(ra, rb, true), "{\"ops\":[{\"retain\":1,\"attributes\":{\"bold\":true}}]}");
	CHECK_STR(xf(rb, ra, true), "{\"ops\":[]}");
	CHECK_STR(xf(ra, rb, false),
	          "{\"ops\":[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]}");
	CHECK_STR(xf(rb, ra, false), "{\"ops\":[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]}");
	/* retain + delete */
	CHECK_STR(xf(ra, "[{\"delete\":1}]", true), "{\"ops\":[{\"delete\":1}]}");
	/* null is a value for transform */
	CHECK_STR(xf("[{\"retain\":1,\"attributes\":{\"bold\":null}}]",
	             "[{\"retain\":1,\"attributes\":{\"bold\":true,\"italic\":null}}]", true),
	          "{\"ops\":[{\"retain\":1,\"attributes\":{\"italic\":null}}]}");
}

TEST(transform_sequences)
{
	/* alternating edits (b normalises to retain 1, insert "eow", delete 5, as
	 * quill's builder new Delta().retain(1).insert('e').delete(5).insert('ow')) */
	const char *a = "[{\"retain\":2},{\"insert\":\"si\"},{\"delete\":5}]";
	const char *b = "[{\"retain\":1},{\"insert\":\"e\"},{\"delete\":5},{\"insert\":\"ow\"}]";
	CHECK_STR(xf(a, b, false), "{\"ops\":[{\"retain\":1},{\"insert\":\"eow\"},{\"delete\":1}]}");
	CHECK_STR(xf(b, a, false), "{\"ops\":[{\"retain\":4},{\"insert\":\"si\"},{\"delete\":1}]}");
	/* conflicting appends */
	a = "[{\"retain\":3},{\"insert\":\"aa\"}]";
	b = "[{\"retain\":3},{\"insert\":\"bb\"}]";
	CHECK_STR(xf(a, b, true), "{\"ops\":[{\"retain\":5},{\"insert\":\"bb\"}]}");
	CHECK_STR(xf(b, a, false), "{\"ops\":[{\"retain\":3},{\"insert\":\"aa\"}]}");
	/* prepend + append */
	CHECK_STR(xf("[{\"insert\":\"aa\"}]", b, false), "{\"ops\":[{\"retain\":5},{\"insert\":\"bb\"}]}");
	/* trailing deletes of different lengths */
	a = "[{\"retain\":2},{\"delete\":1}]";
	b = "[{\"delete\":3}]";
	CHECK_STR(xf(a, b, false), "{\"ops\":[{\"delete\":2}]}");
	CHECK_STR(xf(b, a, false), "{\"ops\":[]}");
	/* embeds count 1 */
	CHECK_STR(xf("[{\"insert\":{\"image\":\"x\"}}]", "[{\"retain\":1},{\"insert\":\"b\"}]", true),
	          "{\"ops\":[{\"retain\":2},{\"insert\":\"b\"}]}");
	/* astral text counts 2 */
	CHECK_STR(xf("[{\"insert\":\"\\ud83d\\ude00\"}]", "[{\"delete\":1}]", true),
	          "{\"ops\":[{\"retain\":2},{\"delete\":1}]}");
}

TEST(transform_position)
{
	CHECK_EQ(tp("[{\"insert\":\"A\"}]", 2, false), 3);                        /* before */
	CHECK_EQ(tp("[{\"retain\":2},{\"insert\":\"A\"}]", 1, false), 1);         /* after */
	CHECK_EQ(tp("[{\"retain\":2},{\"insert\":\"A\"}]", 2, true), 2);          /* at, priority */
	CHECK_EQ(tp("[{\"retain\":2},{\"insert\":\"A\"}]", 2, false), 3);
	CHECK_EQ(tp("[{\"delete\":2}]", 4, false), 2);                            /* delete before */
	CHECK_EQ(tp("[{\"retain\":4},{\"delete\":2}]", 2, false), 2);             /* delete after */
	CHECK_EQ(tp("[{\"retain\":1},{\"delete\":4}]", 2, false), 1);             /* across */
	CHECK_EQ(tp("[{\"retain\":2},{\"insert\":\"A\"},{\"delete\":2}]", 4, false), 3);
	CHECK_EQ(tp("[{\"retain\":2},{\"insert\":\"ABC\"},{\"delete\":4}]", 4, false), 5);
	CHECK_EQ(tp("[{\"delete\":1},{\"retain\":1},{\"delete\":4}]", 4, false), 1);
	CHECK_EQ(tp("[{\"insert\":\"\\ud83d\\ude00\"}]", 0, false), 2);           /* UTF-16 */
	CHECK_EQ(tp("[{\"insert\":\"\\ud83d\\ude00\"}]", 0, true), 0);
	CHECK_EQ(tp("[{\"insert\":\"A\"}]", -5, false), -5);
	CHECK_EQ(tp("[{\"insert\":\"A\"}]", INT64_MAX, false), INT64_MAX);       /* saturates */
}

/* -------------------------------------------------- quill-delta: compose */

TEST(compose_classic)
{
	const char *A = "[{\"insert\":\"A\"}]";
	CHECK_STR(co(A, "[{\"insert\":\"B\"}]"), "{\"ops\":[{\"insert\":\"BA\"}]}");
	CHECK_STR(co(A, "[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\",\"font\":null}}]"),
	          "{\"ops\":[{\"insert\":\"A\",\"attributes\":{\"bold\":true,\"color\":\"red\"}}]}");
	CHECK_STR(co(A, "[{\"delete\":1}]"), "{\"ops\":[]}");
	CHECK_STR(co("[{\"delete\":1}]", "[{\"insert\":\"B\"}]"),
	          "{\"ops\":[{\"insert\":\"B\"},{\"delete\":1}]}");
	CHECK_STR(co("[{\"delete\":1}]", "[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]"),
	          "{\"ops\":[{\"delete\":1},{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\"}}]}");
	CHECK_STR(co("[{\"delete\":1}]", "[{\"delete\":1}]"), "{\"ops\":[{\"delete\":2}]}");
	CHECK_STR(co("[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]", "[{\"insert\":\"B\"}]"),
	          "{\"ops\":[{\"insert\":\"B\"},{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]}");
	/* retain onto retain keeps null */
	CHECK_STR(co("[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]",
	             "[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\",\"font\":null}}]"),
	          "{\"ops\":[{\"retain\":1,\"attributes\":{\"bold\":true,\"color\":\"red\",\"font\":null}}]}");
	CHECK_STR(co("[{\"retain\":1,\"attributes\":{\"color\":\"blue\"}}]", "[{\"delete\":1}]"),
	          "{\"ops\":[{\"delete\":1}]}");
	CHECK_STR(co("[{\"insert\":\"Hello\"}]", "[{\"retain\":3},{\"insert\":\"X\"}]"),
	          "{\"ops\":[{\"insert\":\"HelXlo\"}]}");
	CHECK_STR(co("[{\"retain\":4},{\"insert\":\"Hello\"}]", "[{\"delete\":9}]"),
	          "{\"ops\":[{\"delete\":4}]}");
	CHECK_STR(co("[{\"insert\":\"Hello\"}]", "[{\"retain\":10}]"), "{\"ops\":[{\"insert\":\"Hello\"}]}");
	CHECK_STR(co("[{\"insert\":\"A\",\"attributes\":{\"bold\":true}}]",
	             "[{\"retain\":1,\"attributes\":{\"bold\":null}}]"), "{\"ops\":[{\"insert\":\"A\"}]}");
	CHECK_STR(co("[{\"insert\":{\"image\":\"x\"},\"attributes\":{\"alt\":\"y\"}}]",
	             "[{\"retain\":1,\"attributes\":{\"alt\":null,\"width\":3}}]"),
	          "{\"ops\":[{\"insert\":{\"image\":\"x\"},\"attributes\":{\"width\":3}}]}");
}

TEST(compose_optimisations)
{
	/* retain start optimisation */
	const char *a = "[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	                "{\"insert\":\"C\",\"attributes\":{\"bold\":true}},{\"delete\":1}]";
	CHECK_STR(co(a, "[{\"retain\":3},{\"insert\":\"D\"}]"),
	          "{\"ops\":[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	          "{\"insert\":\"C\",\"attributes\":{\"bold\":true}},{\"insert\":\"D\"},{\"delete\":1}]}");
	/* ... with a split */
	a = "[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	    "{\"insert\":\"C\",\"attributes\":{\"bold\":true}},{\"retain\":5},{\"delete\":1}]";
	CHECK_STR(co(a, "[{\"retain\":4},{\"insert\":\"D\"}]"),
	          "{\"ops\":[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	          "{\"insert\":\"C\",\"attributes\":{\"bold\":true}},{\"retain\":1},{\"insert\":\"D\"},"
	          "{\"retain\":4},{\"delete\":1}]}");
	/* retain end optimisation */
	a = "[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	    "{\"insert\":\"C\",\"attributes\":{\"bold\":true}}]";
	CHECK_STR(co(a, "[{\"delete\":1}]"),
	          "{\"ops\":[{\"insert\":\"B\"},{\"insert\":\"C\",\"attributes\":{\"bold\":true}}]}");
	/* ... joining */
	a = "[{\"insert\":\"A\",\"attributes\":{\"bold\":true}},{\"insert\":\"B\"},"
	    "{\"insert\":\"C\",\"attributes\":{\"bold\":true}},{\"insert\":\"D\"},"
	    "{\"insert\":\"E\",\"attributes\":{\"bold\":true}},{\"insert\":\"F\"}]";
	CHECK_STR(co(a, "[{\"retain\":1},{\"delete\":1}]"),
	          "{\"ops\":[{\"insert\":\"AC\",\"attributes\":{\"bold\":true}},{\"insert\":\"D\"},"
	          "{\"insert\":\"E\",\"attributes\":{\"bold\":true}},{\"insert\":\"F\"}]}");
}

/* --------------------------------------------------- surrogates, UTF-16 */

TEST(surrogate_pairs)
{
	const char *emoji = "[{\"insert\":\"a\\ud83d\\ude00b\"}]";   /* a😀b: 4 units */
	/* a cut inside the pair is refused */
	CHECK_STR(co(emoji, "[{\"retain\":2},{\"insert\":\"x\"}]"), "E-2");
	CHECK_STR(co(emoji, "[{\"retain\":2},{\"delete\":1}]"), "E-2");
	CHECK_STR(co(emoji, "[{\"retain\":2,\"attributes\":{\"bold\":true}}]"), "E-2");
	CHECK_STR(ap("[{\"insert\":\"a\\ud83d\\ude00b\"}]", "[{\"retain\":2},{\"insert\":\"x\"}]"), "E-2");
	/* cuts on either side are fine */
	CHECK_STR(co(emoji, "[{\"retain\":3},{\"insert\":\"x\"}]"),
	          "{\"ops\":[{\"insert\":\"a\xf0\x9f\x98\x80xb\"}]}");
	CHECK_STR(co(emoji, "[{\"retain\":1},{\"delete\":2}]"), "{\"ops\":[{\"insert\":\"ab\"}]}");
	CHECK_STR(co(emoji, "[{\"retain\":1},{\"retain\":2,\"attributes\":{\"bold\":true}}]"),
	          "{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\xf0\x9f\x98\x80\",\"attributes\":{\"bold\":true}},"
	          "{\"insert\":\"b\"}]}");
	/* Chinese (BMP, 3 UTF-8 bytes) counts 1 */
	CHECK_STR(co("[{\"insert\":\"\xe4\xb8\xad\xe6\x96\x87\"}]", "[{\"retain\":1},{\"insert\":\"x\"}]"),
	          "{\"ops\":[{\"insert\":\"\xe4\xb8\xadx\xe6\x96\x87\"}]}");
	struct ot_delta *d = D("[{\"insert\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\"},{\"insert\":{\"image\":\"i\"}}]");
	CHECK_EQ(ot_target_len(d), 4);
	CHECK_EQ(ot_base_len(d), 0);
	size_t n = 0;
	char *t = ot_text(d, &n);
	CHECK_STR(t, "\xe4\xb8\xad\xf0\x9f\x98\x80\xef\xbf\xbc");
	CHECK_EQ(n, 10);
	free(t);
	ot_free(d);
}

/* ------------------------------------------------------- normalisation */

TEST(parse_normalises)
{
	CHECK_STR(norm("[{\"retain\":1},{\"retain\":2}]"), "{\"ops\":[{\"retain\":3}]}");
	CHECK_STR(norm("{\"ops\":[{\"delete\":1},{\"delete\":2}]}"), "{\"ops\":[{\"delete\":3}]}");
	CHECK_STR(norm("[{\"retain\":1},{\"delete\":1},{\"insert\":\"a\"}]"),
	          "{\"ops\":[{\"retain\":1},{\"insert\":\"a\"},{\"delete\":1}]}");
	CHECK_STR(norm("[{\"delete\":1},{\"insert\":\"a\"}]"), "{\"ops\":[{\"insert\":\"a\"},{\"delete\":1}]}");
	CHECK_STR(norm("[{\"insert\":\"a\",\"attributes\":{\"b\":1.0,\"a\":true}},"
	               "{\"attributes\":{\"a\":true,\"b\":1},\"insert\":\"b\"}]"),
	          "{\"ops\":[{\"insert\":\"ab\",\"attributes\":{\"a\":true,\"b\":1}}]}");
	CHECK_STR(norm("[{\"insert\":\"a\",\"attributes\":{}},{\"insert\":\"b\",\"attributes\":null}]"),
	          "{\"ops\":[{\"insert\":\"ab\"}]}");
	CHECK_STR(norm("[{\"retain\":5}]"), "{\"ops\":[{\"retain\":5}]}");      /* not chopped */
	CHECK_STR(norm("[]"), "{\"ops\":[]}");
	CHECK_STR(norm("{\"ops\":[]}"), "{\"ops\":[]}");
	CHECK_STR(norm("[{\"retain\":1,\"attributes\":{\"size\":1.5,\"x\":-0.0}}]"),
	          "{\"ops\":[{\"retain\":1,\"attributes\":{\"size\":1.5,\"x\":0}}]}");
	/* round trip is idempotent */
	const char *once = norm("[{\"delete\":2},{\"insert\":\"q\"},{\"retain\":1,\"attributes\":{\"bold\":null}}]");
	char copy[256];
	snprintf(copy, sizeof copy, "%s", once);
	CHECK_STR(norm(copy), copy);
}

/* ------------------------------------------------------- validation */

TEST(parse_rejects_malformed)
{
	static const char *bad[] = {
		"", "null", "3", "\"x\"", "{}", "{\"ops\":{}}", "{\"ops\":[],\"x\":1}", "[1]", "[[]]",
		"[{}]", "[{\"retain\":0}]", "[{\"retain\":-1}]", "[{\"delete\":0}]", "[{\"delete\":-3}]",
		"[{\"retain\":1.5}]", "[{\"retain\":1.0}]", "[{\"retain\":\"1\"}]", "[{\"retain\":true}]",
		"[{\"retain\":null}]", "[{\"retain\":{\"image\":\"x\"}}]", "[{\"insert\":\"\"}]",
		"[{\"insert\":5}]", "[{\"insert\":[]}]", "[{\"insert\":null}]", "[{\"insert\":{}}]",
		"[{\"insert\":{\"image\":\"x\",\"video\":\"y\"}}]", "[{\"insert\":{\"image\":{\"src\":1}}}]",
		"[{\"insert\":{\"image\":null}}]", "[{\"insert\":{\"9\":\"x\"}}]",
		"[{\"insert\":\"a\",\"retain\":1}]", "[{\"delete\":1,\"retain\":1}]",
		"[{\"insert\":\"a\",\"foo\":1}]", "[{\"delete\":1,\"attributes\":{\"bold\":true}}]",
		"[{\"insert\":\"a\",\"attributes\":\"bold\"}]", "[{\"insert\":\"a\",\"attributes\":[]}]",
		"[{\"insert\":\"a\",\"attributes\":{\"bold\":{\"x\":1}}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"bold\":[1]}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"__proto__\":1}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"\":1}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"1\":1}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"a b\":1}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"n\":9007199254740993}}]",
		"[{\"insert\":\"a\",\"attributes\":{\"n\":1e400}}]",
		"[{\"insert\":\"\\ud83d\"}]", "[{\"insert\":\"\\ude00x\"}]", "[{\"insert\":\"a\\u0000b\"}]",
		"[{\"insert\":\"a\"},]", "[{\"insert\":\"a\",\"insert\":\"b\"}]",
		"[{\"retain\":1,\"attributes\":{\"a\":1,\"a\":2}}]",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		int rc = perr(bad[i]);
		if (rc != BW_EINVAL)
			fprintf(stderr, "  input %zu %s: %d\n", i, bad[i], rc);
		CHECK_EQ(rc, BW_EINVAL);
	}
	/* invalid UTF-8 bytes (jansson and our own check) */
	CHECK_EQ(perr("[{\"insert\":\"\xc3\x28\"}]"), BW_EINVAL);
	CHECK_EQ(perr("[{\"insert\":\"\xed\xa0\x80\"}]"), BW_EINVAL);
	CHECK_EQ(perr("[{\"insert\":\"\xf8\x88\x80\x80\x80\"}]"), BW_EINVAL);
	/* a key 64 bytes long is fine, 65 is not */
	char key[128];
	memset(key, 'k', sizeof key);
	char js[256];
	snprintf(js, sizeof js, "[{\"retain\":1,\"attributes\":{\"%.*s\":1}}]", OT_KEY_MAX, key);
	CHECK_EQ(perr(js), 0);
	snprintf(js, sizeof js, "[{\"retain\":1,\"attributes\":{\"%.*s\":1}}]", OT_KEY_MAX + 1, key);
	CHECK_EQ(perr(js), BW_EINVAL);
	/* NULL and length-bounded input */
	struct ot_delta *d = NULL;
	CHECK_EQ(ot_parse(NULL, 0, &d), BW_EINVAL);
	CHECK_EQ(ot_parse_json(NULL, &d), BW_EINVAL);
	CHECK_EQ(ot_parse("[{\"insert\":\"a\"}]xyz", 16, &d), 0);           /* len honoured */
	CHECK_STR(res(0, d), "{\"ops\":[{\"insert\":\"a\"}]}");
	d = NULL;
	CHECK_EQ(ot_parse("[{\"insert\":\"a\"}]", 10, &d), BW_EINVAL);
	CHECK(d == NULL);
	/* documents are inserts only */
	CHECK_EQ(ot_parse_document("[{\"retain\":1}]", 14, &d), BW_EINVAL);
	CHECK_EQ(ot_parse_document("[{\"delete\":1}]", 14, &d), BW_EINVAL);
	CHECK(d == NULL);
}

/* Builds "[op,op,...]" with n copies of op into a malloc'd string. */
static char *repeat_ops(const char *op, size_t n)
{
	size_t ol = strlen(op), len = 2 + n * (ol + 1);
	char *s = malloc(len + 1), *p = s;
	*p++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, op, ol);
		p += ol;
	}
	*p++ = ']';
	*p = '\0';
	return s;
}

TEST(parse_limits)
{
	struct ot_delta *d = NULL;
	/* ops: alternating so that nothing merges */
	char *s = repeat_ops("{\"retain\":1},{\"delete\":1}", OT_OPS_MAX / 2);
	CHECK_EQ(ot_parse(s, strlen(s), &d), 0);
	CHECK_EQ(ot_op_count(d), OT_OPS_MAX);
	ot_free(d);
	d = NULL;
	free(s);
	s = repeat_ops("{\"retain\":1}", OT_OPS_MAX + 1);
	CHECK_EQ(ot_parse(s, strlen(s), &d), BW_ETOOBIG);
	free(s);
	/* attributes per op */
	CHECK_EQ(perr("[{\"retain\":1,\"attributes\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
	              "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1}}]"), 0);
	CHECK_EQ(perr("[{\"retain\":1,\"attributes\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
	              "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,"
	              "\"q\":1}}]"), BW_ETOOBIG);
	/* counts */
	char js[256];
	snprintf(js, sizeof js, "[{\"retain\":%d}]", OT_DOC_MAX);
	CHECK_EQ(perr(js), 0);
	snprintf(js, sizeof js, "[{\"retain\":%d}]", OT_DOC_MAX + 1);
	CHECK_EQ(perr(js), BW_ETOOBIG);
	CHECK_EQ(perr("[{\"delete\":9223372036854775807}]"), BW_ETOOBIG);
	CHECK_EQ(perr("[{\"delete\":99999999999999999999999}]"), BW_EINVAL);   /* not an integer */
	snprintf(js, sizeof js, "[{\"retain\":%d},{\"insert\":\"x\"},{\"delete\":%d}]",
	         OT_DOC_MAX / 2, OT_DOC_MAX / 2 + 1);
	CHECK_EQ(perr(js), BW_ETOOBIG);                                     /* base length */
	/* text payload: exactly the maximum is fine */
	size_t tl = OT_TEXT_MAX;
	char *big = malloc(tl + 64);
	memcpy(big, "[{\"insert\":\"", 12);
	memset(big + 12, 'x', tl);
	memcpy(big + 12 + tl, "\"}]", 4);
	CHECK_EQ(ot_parse(big, strlen(big), &d), 0);
	CHECK_EQ(ot_target_len(d), OT_TEXT_MAX);
	ot_free(d);
	d = NULL;
	memset(big + 12, 'x', tl);
	memcpy(big + 12 + tl, "y\"}]", 5);
	CHECK_EQ(ot_parse(big, strlen(big), &d), BW_ETOOBIG);
	/* spread over several ops and attributes */
	static const char tail[] = "\",\"attributes\":{\"link\":\"0123456789\"}}]";
	memcpy(big + 12 + tl - 10, tail, sizeof tail);   /* text 10 short, 14 of attribute */
	CHECK_EQ(ot_parse(big, strlen(big), &d), BW_ETOOBIG);
	free(big);
	/* an attribute value */
	char *v = malloc(OT_VALUE_MAX + 64);
	int n = snprintf(v, 64, "[{\"retain\":1,\"attributes\":{\"link\":\"");
	memset(v + n, 'u', OT_VALUE_MAX + 1);
	memcpy(v + n + OT_VALUE_MAX + 1, "\"}}]", 5);
	CHECK_EQ(ot_parse(v, strlen(v), &d), BW_ETOOBIG);
	memcpy(v + n + OT_VALUE_MAX, "\"}}]", 5);
	CHECK_EQ(ot_parse(v, strlen(v), &d), 0);
	ot_free(d);
	d = NULL;
	free(v);
	/* JSON text length */
	char *huge = calloc(OT_JSON_MAX + 1, 1);
	memset(huge, ' ', OT_JSON_MAX + 1);
	huge[0] = '[';
	huge[OT_JSON_MAX] = ']';
	CHECK_EQ(ot_parse(huge, OT_JSON_MAX + 1, &d), BW_ETOOBIG);
	CHECK_EQ(ot_parse(huge + 1, OT_JSON_MAX, &d), BW_EINVAL);           /* fits, but not JSON */
	free(huge);
	CHECK(d == NULL);
}

/* ------------------------------------------------------------ apply */

TEST(apply)
{
	const char *doc = "[{\"insert\":\"abc\"}]";
	CHECK_STR(ap(doc, "[{\"retain\":3},{\"insert\":\"d\"}]"), "{\"ops\":[{\"insert\":\"abcd\"}]}");
	CHECK_STR(ap(doc, "[{\"retain\":4}]"), "E-2");              /* retain past the end */
	CHECK_STR(ap(doc, "[{\"retain\":3},{\"retain\":1,\"attributes\":{\"bold\":true}}]"), "E-2");
	CHECK_STR(ap(doc, "[{\"delete\":4}]"), "E-2");
	CHECK_STR(ap(doc, "[{\"delete\":3}]"), "{\"ops\":[]}");
	CHECK_STR(ap(doc, "[]"), "{\"ops\":[{\"insert\":\"abc\"}]}");
	CHECK_STR(ap("[]", "[{\"insert\":\"x\"}]"), "{\"ops\":[{\"insert\":\"x\"}]}");
	CHECK_STR(ap(doc, "[{\"retain\":1},{\"retain\":1,\"attributes\":{\"bold\":true}},{\"delete\":1}]"),
	          "{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"b\",\"attributes\":{\"bold\":true}}]}");
	/* a change is not a document */
	struct ot_delta *c = P("[{\"retain\":1}]"), *e = P("[]"), *r = NULL;
	CHECK_EQ(ot_apply(c, e, &r), BW_EINVAL);
	CHECK(r == NULL);
	CHECK(ot_text(c, NULL) == NULL);
	CHECK(!ot_is_document(c));
	CHECK(ot_is_document(e));
	ot_free(c);
	ot_free(e);
	/* attributes accumulate past OT_ATTR_MAX */
	CHECK_STR(ap("[{\"insert\":\"a\",\"attributes\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
	             "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1}}]",
	             "[{\"retain\":1,\"attributes\":{\"q\":1}}]"), "E-11");
	/* document payload */
	size_t tl = OT_DOC_MAX;
	char *big = malloc(tl + 64);
	memcpy(big, "[{\"insert\":\"", 12);
	memset(big + 12, 'x', tl);
	memcpy(big + 12 + tl, "\"}]", 4);
	struct ot_delta *d = NULL;
	CHECK_EQ(ot_parse(big, strlen(big), &d), BW_ETOOBIG);    /* too big for a change */
	CHECK_EQ(ot_parse_document(big, strlen(big), &d), 0);
	struct ot_delta *ins = P("[{\"insert\":\"y\"}]"), *del = P("[{\"delete\":1},{\"insert\":\"y\"}]");
	CHECK_EQ(ot_apply(d, ins, &r), BW_ETOOBIG);
	CHECK_EQ(ot_apply(d, del, &r), 0);
	CHECK_EQ(ot_target_len(r), OT_DOC_MAX);
	ot_free(r);
	ot_free(ins);
	ot_free(del);
	ot_free(d);
	memcpy(big + 12 + tl, "y\"}]", 5);
	d = NULL;
	CHECK_EQ(ot_parse_document(big, strlen(big), &d), BW_ETOOBIG);
	free(big);
}

/* The TP1 property on a hand-made example with attributes and an embed. */
TEST(convergence)
{
	struct ot_delta *doc = D("[{\"insert\":\"Hello \"},{\"insert\":{\"image\":\"x\"}},"
	                         "{\"insert\":\"w\xc3\xb6rld\\n\",\"attributes\":{\"header\":1}}]");
	struct ot_delta *a = P("[{\"retain\":2,\"attributes\":{\"bold\":true}},{\"delete\":5},"
	                       "{\"insert\":\"\xe4\xb8\xad\",\"attributes\":{\"link\":\"https://x\"}}]");
	struct ot_delta *b = P("[{\"retain\":4},{\"insert\":\"\xf0\x9f\x98\x80\"},{\"delete\":3},"
	                       "{\"retain\":2,\"attributes\":{\"bold\":false,\"header\":null}}]");
	struct ot_delta *a2 = NULL, *b2 = NULL, *da = NULL, *db = NULL, *l = NULL, *r = NULL;
	CHECK_EQ(ot_transform(a, b, true, &b2), 0);
	CHECK_EQ(ot_transform(b, a, false, &a2), 0);
	CHECK_EQ(ot_apply(doc, a, &da), 0);
	CHECK_EQ(ot_apply(doc, b, &db), 0);
	CHECK_EQ(ot_apply(da, b2, &l), 0);
	CHECK_EQ(ot_apply(db, a2, &r), 0);
	char *ls = ot_dump(l), *rs = ot_dump(r);
	CHECK_STR(ls, rs);
	free(ls);
	free(rs);
	/* transformed cursor positions agree with the text */
	CHECK_EQ(ot_transform_position(a, 4, false), 3);
	CHECK_EQ(ot_transform_position(b, 4, true), 4);
	CHECK_EQ(ot_transform_position(b, 4, false), 6);
	ot_free(doc); ot_free(a); ot_free(b); ot_free(a2); ot_free(b2);
	ot_free(da); ot_free(db); ot_free(l); ot_free(r);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR - 1;
	RUN(transform_classic);
	RUN(transform_sequences);
	RUN(transform_position);
	RUN(compose_classic);
	RUN(compose_optimisations);
	RUN(surrogate_pairs);
	RUN(parse_normalises);
	RUN(parse_rejects_malformed);
	RUN(parse_limits);
	RUN(apply);
	RUN(convergence);
	return UNIT_DONE();
}
