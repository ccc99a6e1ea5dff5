/*
 * driver.c — the C side of the quill-delta differential test
 * (tests/ot/differential.mjs, run by tests/ot/run.sh).
 *
 * Reads cases, one JSON object a line, from the file named by argv[1]:
 *   {"id":N, "doc":[ops], "a":[ops], "b":[ops], "pos":[i, ...]}
 * and writes one JSON line a case to stdout with what src/ot.c computes:
 *   doc, a, b          the parsed (normalised) deltas
 *   lens               [base(a), target(a), base(b), target(b)]
 *   ta_b_t, ta_b_f     a.transform(b, true / false)
 *   tb_a_t, tb_a_f     b.transform(a, true / false)
 *   c_ab               a.compose(b)
 *   apply_a, apply_b   doc.compose(a), doc.compose(b) via ot_apply
 *   left, right        apply(apply(doc, a), a.transform(b, true)) and
 *                      apply(apply(doc, b), b.transform(a, false))
 *   text               ot_text(left)
 *   pos                per index i: [a.tP(i,true), a.tP(i,false),
 *                                    b.tP(i,true), b.tP(i,false)]
 * A delta is printed as its ops array; a failure as {"err": code}.
 * Requirement IDs: RG-DOC (co-editing), test only.
 */
#include "ot.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steals nothing; returns a new value for the result (delta or error). */
static json_t *driver_result(int rc, const struct ot_delta *d)
{
	if (rc < 0 || !d)
		return json_pack("{s:i}", "err", rc < 0 ? rc : BW_EINVAL);
	json_t *j = ot_to_json(d);
	if (!j)
		abort();
	json_t *ops = json_incref(json_object_get(j, "ops"));
	json_decref(j);
	return ops;
}

static void driver_set(json_t *out, const char *key, int rc, const struct ot_delta *d)
{
	if (json_object_set_new(out, key, driver_result(rc, d)) < 0)
		abort();
}

static void driver_case(json_t *c)
{
	struct ot_delta *doc = NULL, *a = NULL, *b = NULL, *t[4] = { 0 }, *cab = NULL;
	struct ot_delta *apa = NULL, *apb = NULL, *left = NULL, *right = NULL;
	json_t *out = json_object();
	int rdoc, ra, rb, rt[4] = { BW_EINVAL, BW_EINVAL, BW_EINVAL, BW_EINVAL };
	int rc_ab = BW_EINVAL, rapa = BW_EINVAL, rapb = BW_EINVAL, rl = BW_EINVAL, rr = BW_EINVAL;
	if (!out)
		abort();
	json_object_set(out, "id", json_object_get(c, "id"));
	rdoc = ot_parse_document_json(json_object_get(c, "doc"), &doc);
	ra = ot_parse_json(json_object_get(c, "a"), &a);
	rb = ot_parse_json(json_object_get(c, "b"), &b);
	driver_set(out, "doc", rdoc, doc);
	driver_set(out, "a", ra, a);
	driver_set(out, "b", rb, b);
	if (a && b) {
		json_object_set_new(out, "lens", json_pack("[IIII]", (json_int_t)ot_base_len(a),
		                    (json_int_t)ot_target_len(a), (json_int_t)ot_base_len(b),
		                    (json_int_t)ot_target_len(b)));
		rt[0] = ot_transform(a, b, true, &t[0]);
		rt[1] = ot_transform(a, b, false, &t[1]);
		rt[2] = ot_transform(b, a, true, &t[2]);
		rt[3] = ot_transform(b, a, false, &t[3]);
		rc_ab = ot_compose(a, b, &cab);
		json_t *pos = json_array();
		json_t *idx = json_object_get(c, "pos");
		for (size_t i = 0; i < json_array_size(idx); i++) {
			int64_t x = json_integer_value(json_array_get(idx, i));
			json_array_append_new(pos, json_pack("[IIII]",
			    (json_int_t)ot_transform_position(a, x, true),
			    (json_int_t)ot_transform_position(a, x, false),
			    (json_int_t)ot_transform_position(b, x, true),
			    (json_int_t)ot_transform_position(b, x, false)));
		}
		json_object_set_new(out, "pos", pos);
	}
	driver_set(out, "ta_b_t", rt[0], t[0]);
	driver_set(out, "ta_b_f", rt[1], t[1]);
	driver_set(out, "tb_a_t", rt[2], t[2]);
	driver_set(out, "tb_a_f", rt[3], t[3]);
	driver_set(out, "c_ab", rc_ab, cab);
	if (doc && a)
		rapa = ot_apply(doc, a, &apa);
	if (doc && b)
		rapb = ot_apply(doc, b, &apb);
	if (apa && t[0])
		rl = ot_apply(apa, t[0], &left);
	if (apb && t[3])
		rr = ot_apply(apb, t[3], &right);
	driver_set(out, "apply_a", rapa, apa);
	driver_set(out, "apply_b", rapb, apb);
	driver_set(out, "left", rl, left);
	driver_set(out, "right", rr, right);
	if (left) {
		size_t n = 0;
		char *s = ot_text(left, &n);
		if (!s)
			abort();
		json_object_set_new(out, "text", json_stringn(s, n));
		free(s);
	}
	char *line = json_dumps(out, JSON_COMPACT);
	if (!line)
		abort();
	puts(line);
	free(line);
	json_decref(out);
	ot_free(doc);
	ot_free(a);
	ot_free(b);
	for (int i = 0; i < 4; i++)
		ot_free(t[i]);
	ot_free(cab);
	ot_free(apa);
	ot_free(apb);
	ot_free(left);
	ot_free(right);
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long cases = 0;
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t err;
		json_t *c = json_loadb(line, (size_t)n, 0, &err);
		if (!c) {
			fprintf(stderr, "driver: bad case line %ld: %s\n", cases + 1, err.text);
			return 2;
		}
		driver_case(c);
		json_decref(c);
		cases++;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	fprintf(stderr, "driver: %ld cases\n", cases);
	return 0;
}
