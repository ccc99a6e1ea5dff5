/*
 * test_docfmt.c — unit tests of Quill delta ⇄ Markdown / HTML conversion
 * (docfmt.c; RG-DOC-a…h export, RG-DATA-a watermark).
 *
 * Claims checked: Markdown import maps headings, lists (nesting → indent),
 * quotes, fenced/indented code, emphasis, code spans, links, images,
 * thematic breaks; raw HTML dropped; javascript:/data:/relative links
 * dropped on import and on both exports; round trips md → delta → md keep
 * everything and are stable; Chinese text (also bold CJK punctuation,
 * which needs the tag fallback); Markdown escaping of * _ ` [ ] # > < & ~
 * and line-start markers, leading/trailing spaces; HTML escaping of text,
 * URLs and the title (XSS attempts); the watermark in both exports; empty
 * documents; size limits (input, ops, amplification, output bounded);
 * malformed deltas and invalid UTF-8 → BW_EINVAL with out-params untouched;
 * a randomised property test: export → import → export is stable and the
 * parse-back check never needs its last resort.
 */
#include "unit.h"
#include "docfmt.h"
#include "ot.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		fprintf(stderr, "  bad test JSON: %s: %s\n", s, e.text);
	return j;
}

/* Imports md; the result must be a document src/ot.c accepts. */
static json_t *import(const char *md)
{
	json_t *d = NULL;
	int rc = docfmt_from_markdown(md, strlen(md), &d);
	if (rc) {
		fprintf(stderr, "  import(\"%s\") = %d\n", md, rc);
		return NULL;
	}
	struct ot_delta *od = NULL;
	rc = ot_parse_document_json(d, &od);
	if (rc) {
		fprintf(stderr, "  import(\"%s\"): ot_parse_document_json = %d\n", md, rc);
		unit_failed_checks++;
	}
	ot_free(od);
	return d;
}

static char *to_md(const json_t *d, const char *wm)
{
	char *out = NULL;
	size_t n = 0;
	int rc = docfmt_to_markdown(d, wm, &out, &n);
	if (rc) {
		fprintf(stderr, "  to_markdown = %d\n", rc);
		return NULL;
	}
	if (strlen(out) != n)
		fprintf(stderr, "  to_markdown: length mismatch\n");
	return out;
}

static char *to_html(const json_t *d, const char *title, const char *wm)
{
	char *out = NULL;
	size_t n = 0;
	int rc = docfmt_to_html(d, title, wm, &out, &n);
	if (rc) {
		fprintf(stderr, "  to_html = %d\n", rc);
		return NULL;
	}
	if (strlen(out) != n)
		fprintf(stderr, "  to_html: length mismatch\n");
	return out;
}

/* json_equal with a diagnostic. */
static bool same(const json_t *a, const json_t *b)
{
	if (a && b && json_equal((json_t *)a, (json_t *)b))
		return true;
	char *x = a ? json_dumps(a, JSON_COMPACT) : NULL;
	char *y = b ? json_dumps(b, JSON_COMPACT) : NULL;
	fprintf(stderr, "  got      %s\n  expected %s\n", x ? x : "(null)", y ? y : "(null)");
	free(x);
	free(y);
	return false;
}

static bool import_is(const char *md, const char *want_json)
{
	json_t *d = import(md);
	json_t *w = J(want_json);
	bool ok = same(d, w);
	if (!ok)
		fprintf(stderr, "  for markdown: %s\n", md);
	json_decref(d);
	json_decref(w);
	return ok;
}

static bool md_is(const char *delta, const char *want_md)
{
	json_t *d = J(delta);
	char *md = d ? to_md(d, NULL) : NULL;
	bool ok = md && strcmp(md, want_md) == 0;
	if (!ok)
		fprintf(stderr, "  markdown:\n%s--- expected:\n%s---\n", md ? md : "(null)", want_md);
	free(md);
	json_decref(d);
	return ok;
}

/* delta → md → delta gives the same delta (and md → delta → md the same md). */
static bool roundtrip_delta(const char *delta)
{
	json_t *d = J(delta);
	char *md = d ? to_md(d, NULL) : NULL;
	json_t *d2 = md ? import(md) : NULL;
	bool ok = same(d2, d);
	char *md2 = d2 ? to_md(d2, NULL) : NULL;
	if (!md2 || !md || strcmp(md, md2) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "  via markdown:\n%s---\n", md ? md : "(null)");
	free(md);
	free(md2);
	json_decref(d);
	json_decref(d2);
	return ok;
}

static unsigned long fallbacks(int i)
{
	return __atomic_load_n(&docfmt_test_fallbacks[i], __ATOMIC_RELAXED);
}

/* ---- import ------------------------------------------------------------- */

TEST(import_blocks)
{
	CHECK(import_is("# One\n\n###### Six\n\nSetext\n===\n",
		"{\"ops\":[{\"insert\":\"One\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":1}},"
		"{\"insert\":\"Six\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":6}},"
		"{\"insert\":\"Setext\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":1}}]}"));
	CHECK(import_is("- a\n- b\n  - c\n    1. d\n\n1. x\n1. y\n",
		"{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"c\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\",\"indent\":1}},"
		"{\"insert\":\"d\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\",\"indent\":2}},"
		"{\"insert\":\"x\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}},"
		"{\"insert\":\"y\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}}]}"));
	CHECK(import_is("> q1\n>\n> q2\n\npara\n",
		"{\"ops\":[{\"insert\":\"q1\"},{\"insert\":\"\\n\",\"attributes\":{\"blockquote\":true}},"
		"{\"insert\":\"q2\"},{\"insert\":\"\\n\",\"attributes\":{\"blockquote\":true}},"
		"{\"insert\":\"para\\n\"}]}"));
	CHECK(import_is("```js extra\na\n\nb\n```\n\n    ind\n",
		"{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\\n\",\"attributes\":{\"code-block\":\"js\"}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":\"js\"}},"
		"{\"insert\":\"ind\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":true}}]}"));
	/* an unsafe info string is not a language */
	CHECK(import_is("```\"><x\nz\n```\n",
		"{\"ops\":[{\"insert\":\"z\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":true}}]}"));
	CHECK(import_is("a\n\n---\n\nb\n",
		"{\"ops\":[{\"insert\":\"a\\n\\u2014\\u2014\\u2014\\nb\\n\"}]}"));
	/* soft break → space, hard break → new line with the same attrs */
	CHECK(import_is("- a\\\n  b\n\nc\nd\n",
		"{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"c d\\n\"}]}"));
	/* task lists, only as written (not escaped) */
	CHECK(import_is("- [x] a\n- [ ] b\n- \\[x\\] c\n- [y] d\n1. [x] e\n",
		"{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"checked\"}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"unchecked\"}},"
		"{\"insert\":\"[x] c\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"[y] d\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"[x] e\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}}]}"));
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"[x] t\"},{\"insert\":\"\\n\",\"attributes\":"
		"{\"list\":\"checked\"}},{\"insert\":\"[ ] u\"},{\"insert\":\"\\n\",\"attributes\":"
		"{\"list\":\"bullet\"}},{\"insert\":\" v\"},{\"insert\":\"\\n\",\"attributes\":"
		"{\"list\":\"unchecked\",\"indent\":1}}]}"));
	/* 12-deep list nesting is capped at indent 8 */
	json_t *d = import("- a\n  - a\n    - a\n      - a\n        - a\n          - a\n"
	                   "            - a\n              - a\n                - a\n"
	                   "                  - a\n                    - z\n");
	CHECK(d != NULL);
	if (d) {
		json_t *ops = json_object_get(d, "ops");
		json_t *last = json_array_get(ops, json_array_size(ops) - 1);
		CHECK_EQ(json_integer_value(json_object_get(json_object_get(last, "attributes"),
		                                            "indent")), 8);
	}
	json_decref(d);
}

TEST(import_inline)
{
	CHECK(import_is("a **b** *c* ***d*** `e` [f](https://x/) <u>g</u> <del>h</del> <b>i</b>\n",
		"{\"ops\":[{\"insert\":\"a \"},{\"insert\":\"b\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"c\",\"attributes\":{\"italic\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"d\",\"attributes\":{\"bold\":true,\"italic\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"e\",\"attributes\":{\"code\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"f\",\"attributes\":{\"link\":\"https://x/\"}},"
		"{\"insert\":\" \"},{\"insert\":\"g\",\"attributes\":{\"underline\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"h\",\"attributes\":{\"strike\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"i\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\"\\n\"}]}"));
	/* images become linked alt text; an empty link shows its URL */
	CHECK(import_is("![pic](https://h/p.png) [](mailto:a@b.c) <https://auto/>\n",
		"{\"ops\":[{\"insert\":\"pic\",\"attributes\":{\"link\":\"https://h/p.png\"}},"
		"{\"insert\":\" \"},{\"insert\":\"mailto:a@b.c\",\"attributes\":{\"link\":\"mailto:a@b.c\"}},"
		"{\"insert\":\" \"},{\"insert\":\"https://auto/\",\"attributes\":{\"link\":\"https://auto/\"}},"
		"{\"insert\":\"\\n\"}]}"));
	/* raw HTML dropped (tags, HTML blocks); unknown tags' text kept as text */
	CHECK(import_is("x <span onclick=\"e()\">y</span> <img src=x onerror=alert(1)>\n\n"
	                "<div>\nblock <b>gone</b>\n</div>\n",
		"{\"ops\":[{\"insert\":\"x y \\n\"}]}"));
	/* entity controls become U+FFFD, CR/LF entities a space */
	CHECK(import_is("a&#1;b&#10;c&#13;d&#0;e\n",
		"{\"ops\":[{\"insert\":\"a\\ufffdb c d\\ufffde\\n\"}]}"));
	/* Chinese */
	CHECK(import_is("# 标题\n\n中文 **粗体** 和 *斜体*\n",
		"{\"ops\":[{\"insert\":\"标题\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":1}},"
		"{\"insert\":\"中文 \"},{\"insert\":\"粗体\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\" 和 \"},{\"insert\":\"斜体\",\"attributes\":{\"italic\":true}},"
		"{\"insert\":\"\\n\"}]}"));
}

TEST(import_links_filtered)
{
	static const char *bad[] = {
		"[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](java&#09;script:a)",
		"[x](vbscript:a)", "[x](data:text/html,<script>)", "[x](file:///etc/passwd)",
		"[x](/relative)", "[x](//evil.example/)", "[x]( javascript:a)",
		"<javascript:alert(1)>", "![x](javascript:alert(1))", "[x][r]\n\n[r]: javascript:a",
		"[x](<javascript:a>)", "[x](ftp://h/)",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		json_t *d = import(bad[i]);
		char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;
		CHECK(s != NULL);
		if (s && strstr(s, "\"link\"")) {
			fprintf(stderr, "  link kept for %s: %s\n", bad[i], s);
			CHECK(0);
		}
		free(s);
		json_decref(d);
	}
	static const char *good[] = {
		"[x](http://h/)", "[x](HTTPS://h/)", "[x](mailto:a@b.c)", "<http://h/>",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(good); i++) {
		json_t *d = import(good[i]);
		char *s = d ? json_dumps(d, JSON_COMPACT) : NULL;
		CHECK(s && strstr(s, "\"link\""));
		free(s);
		json_decref(d);
	}
}

TEST(import_errors)
{
	json_t *d = (json_t *)1;
	CHECK_EQ(docfmt_from_markdown("a\xff", 2, &d), BW_EINVAL);
	CHECK_EQ(docfmt_from_markdown("a\xc3", 2, &d), BW_EINVAL);
	CHECK_EQ(docfmt_from_markdown("\xed\xa0\x80", 3, &d), BW_EINVAL);   /* surrogate */
	CHECK_EQ(docfmt_from_markdown("a\0b", 3, &d), BW_EINVAL);
	CHECK_EQ(docfmt_from_markdown("a\x01", 2, &d), BW_EINVAL);
	CHECK_EQ(docfmt_from_markdown(NULL, 1, &d), BW_EINVAL);
	CHECK_EQ(docfmt_from_markdown("a", 1, NULL), BW_EINVAL);
	CHECK(d == (json_t *)1);

	size_t big = DOCFMT_MD_MAX + 1;
	char *m = malloc(big);
	CHECK(m != NULL);
	if (m) {
		memset(m, 'a', big);
		CHECK_EQ(docfmt_from_markdown(m, big, &d), BW_ETOOBIG);
		CHECK(d == (json_t *)1);
		/* the limit is accepted (the final "\n" counts for OT_DOC_MAX) */
		m[big - 2] = '\n';
		CHECK_EQ(docfmt_from_markdown(m, big - 1, &d), 0);
		if (d != (json_t *)1)
			json_decref(d);
		d = (json_t *)1;
		/* too many ops: 350k alternating bold runs */
		size_t n = 0;
		while (n + 6 <= 1024 * 1024) {
			memcpy(m + n, "**a**b", 6);
			n += 6;
		}
		CHECK_EQ(docfmt_from_markdown(m, n, &d), BW_ETOOBIG);
		CHECK(d == (json_t *)1);
		/* amplification: one long URL referenced many times (libcmark caps
		 * the expansion at about the input size; OT_DOC_MAX payload
		 * catches the rest) */
		n = (size_t)snprintf(m, big, "[r]: https://h/");
		memset(m + n, 'u', 8000);
		n += 8000;
		m[n++] = '\n';
		m[n++] = '\n';
		while (n + 8 <= big - 1) {
			memcpy(m + n, "[x][r] ", 7);
			n += 7;
		}
		CHECK_EQ(docfmt_from_markdown(m, n, &d), BW_ETOOBIG);
		CHECK(d == (json_t *)1);
		free(m);
	}

	/* empty input: the empty document */
	CHECK(import_is("", "{\"ops\":[{\"insert\":\"\\n\"}]}"));
	CHECK(import_is("<div>only html</div>\n", "{\"ops\":[{\"insert\":\"\\n\"}]}"));
}

TEST(import_deep_nesting)
{
	/* deep nesting is walked iteratively */
	size_t n = 200000;
	char *m = malloc(n + 2);
	CHECK(m != NULL);
	if (!m)
		return;
	memset(m, '>', n);
	m[n] = 'x';
	json_t *d = NULL;
	CHECK_EQ(docfmt_from_markdown(m, n + 1, &d), 0);
	json_decref(d);
	for (size_t i = 0; i < n; i++)
		m[i] = "[*"[i % 2];
	d = NULL;
	CHECK_EQ(docfmt_from_markdown(m, n, &d), 0);
	json_decref(d);
	free(m);
}

/* ---- Markdown export ---------------------------------------------------- */

TEST(export_markdown_blocks)
{
	CHECK(md_is("{\"ops\":[{\"insert\":\"T\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":2}},"
		"{\"insert\":\"p1\\n\\np2\\n\"},"
		"{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}},"
		"{\"insert\":\"c\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\",\"indent\":1}},"
		"{\"insert\":\"d\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"ordered\"}},"
		"{\"insert\":\"e\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"q\"},{\"insert\":\"\\n\",\"attributes\":{\"blockquote\":true}},"
		"{\"insert\":\"r\"},{\"insert\":\"\\n\",\"attributes\":{\"blockquote\":true}},"
		"{\"insert\":\"x = `1`\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":\"py\"}},"
		"{\"insert\":\"```\"},{\"insert\":\"\\n\",\"attributes\":{\"code-block\":\"py\"}},"
		"{\"insert\":\"t\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"checked\"}},"
		"{\"insert\":\"u\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"unchecked\"}}]}",
		"## T\n\np1\n\np2\n\n1. a\n2. b\n   - c\n3. d\n\n- e\n\n> q\n>\n> r\n\n"
		"````py\nx = `1`\n```\n````\n\n- [x] t\n- [ ] u\n"));
	/* priority code-block > header > list > blockquote; unknown values ignored */
	CHECK(md_is("{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":"
		"{\"header\":3,\"list\":\"bullet\",\"blockquote\":true}},"
		"{\"insert\":\"b\"},{\"insert\":\"\\n\",\"attributes\":{\"header\":9,\"list\":\"foo\","
		"\"align\":\"center\",\"color\":5,\"indent\":3}}]}",
		"### a\n\nb\n"));
	/* an indent deeper than the open list is clamped */
	CHECK(md_is("{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"\\n\",\"attributes\":"
		"{\"list\":\"bullet\",\"indent\":5}},{\"insert\":\"b\"},{\"insert\":\"\\n\","
		"\"attributes\":{\"list\":\"bullet\",\"indent\":7}}]}",
		"- a\n  - b\n"));
	/* a missing final newline is tolerated */
	CHECK(md_is("{\"ops\":[{\"insert\":\"no newline\"}]}", "no newline\n"));
	CHECK(md_is("[{\"insert\":\"bare array\\n\"}]", "bare array\n"));
}

TEST(export_markdown_inline)
{
	CHECK(md_is("{\"ops\":[{\"insert\":\"a \"},{\"insert\":\"b\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"c\",\"attributes\":{\"italic\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"d\",\"attributes\":{\"underline\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"e\",\"attributes\":{\"strike\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"f`g\",\"attributes\":{\"code\":true}},"
		"{\"insert\":\" \"},{\"insert\":\"h\",\"attributes\":{\"link\":\"https://x/?a=1&b=<2>\"}},"
		"{\"insert\":\"\\n\"}]}",
		"a **b** *c* <u>d</u> <s>e</s> ``f`g`` [h](<https://x/?a=1\\&b=\\<2\\>>)\n"));
	/* whitespace at the edges of bold moves out */
	CHECK(md_is("{\"ops\":[{\"insert\":\"a\"},{\"insert\":\" b \",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\"c\\n\"}]}", "a **b** c\n"));
	/* overlapping marks nest */
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"a\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\"b\",\"attributes\":{\"bold\":true,\"italic\":true}},"
		"{\"insert\":\"c\",\"attributes\":{\"italic\":true}},"
		"{\"insert\":\"d\",\"attributes\":{\"italic\":true,\"link\":\"https://l/\"}},"
		"{\"insert\":\"e\",\"attributes\":{\"bold\":true,\"link\":\"https://l/\"}},"
		"{\"insert\":\"f\",\"attributes\":{\"bold\":true,\"link\":\"https://m/\"}},"
		"{\"insert\":\"g\",\"attributes\":{\"code\":true,\"bold\":true,\"underline\":true}},"
		"{\"insert\":\"h\",\"attributes\":{\"strike\":true,\"underline\":true}},"
		"{\"insert\":\"\\n\"}]}"));
	/* embeds */
	CHECK(md_is("{\"ops\":[{\"insert\":{\"image\":\"https://h/i.png\"}},"
		"{\"insert\":{\"image\":\"data:image/png;base64,AAAA\"}},"
		"{\"insert\":{\"image\":\"javascript:alert(1)\"}},"
		"{\"insert\":{\"video\":\"https://v/\"}},{\"insert\":\"\\n\"}]}",
		"[image](<https://h/i.png>)\\[image\\]\\[image\\]\\[embed\\]\n"));
}

TEST(export_markdown_escaping)
{
	/* every special character survives as literal text */
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"*not bold* _x_ `c` [l](u) # h > q < & \\\" ' "
		"~~s~~ \\\\ ![i](u) <b>t</b> &amp; &#65; | ! 1. 2)\\n\"}]}"));
	CHECK(md_is("{\"ops\":[{\"insert\":\"*not bold*\\n\"}]}", "\\*not bold\\*\n"));
	/* line-start markers */
	static const char *starts[] = {
		"# h", "#", "> q", "- l", "+ l", "* l", "1. n", "1) n", "123456789. n", "---", "___",
		"***", "===", "```", "~~~", "    indented", "\tt", "  two", "<div>", "<!-- c -->",
		"[r]: https://x/", "trailing  ", "tab\t", "  both  ", "!", "a!", "\\", "-", "1.",
		"&", "&amp;", "a\rb", "\r", "[^1]", "<https://x/>", "http://bare.example/",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(starts); i++) {
		json_t *ins = json_string(starts[i]);
		json_t *d = json_pack("{s:[{s:o},{s:s}]}", "ops", "insert", ins, "insert", "\n");
		char *s = json_dumps(d, JSON_COMPACT);
		/* CR becomes a space: compare with that */
		char *w = strdup(starts[i]);
		for (char *p = w; p && *p; p++)
			if (*p == '\r')
				*p = ' ';
		json_t *want = json_pack("{s:[{s:s+}]}", "ops", "insert", w, "\n");
		char *md = to_md(d, NULL);
		json_t *back = md ? import(md) : NULL;
		if (!same(back, want)) {
			fprintf(stderr, "  line-start case %s: markdown %s\n", s, md ? md : "(null)");
			CHECK(0);
		}
		/* also inside a heading, a list item and a quote */
		static const char *blocks[] = {
			"{\"header\":2}", "{\"list\":\"bullet\"}", "{\"list\":\"ordered\",\"indent\":1}",
			"{\"blockquote\":true}", "{\"list\":\"checked\"}",
		};
		for (size_t b = 0; b < BW_ARRAY_LEN(blocks); b++) {
			json_t *d2 = json_pack("{s:[{s:s},{s:s,s:o}]}", "ops", "insert", "x\n", "insert",
			                       "\n", "attributes", J(blocks[b]));
			json_array_insert_new(json_object_get(d2, "ops"), 1,
			                      json_pack("{s:s}", "insert", w));
			json_t *w2 = json_deep_copy(d2);
			if (strstr(blocks[b], "indent")) {  /* nothing to nest under: clamped */
				json_object_del(json_object_get(json_array_get(json_object_get(w2, "ops"),
				                                               2), "attributes"), "indent");
			}
			char *md2 = to_md(d2, NULL);
			json_t *back2 = md2 ? import(md2) : NULL;
			/* normalise both through ot-like merging: compare markdown re-export */
			char *md3 = back2 ? to_md(back2, NULL) : NULL;
			json_t *back3 = md3 ? import(md3) : NULL;
			if (!md2 || !md3 || strcmp(md2, md3) != 0 || !same(back2, back3)) {
				fprintf(stderr, "  block %s case %s:\n%s---\n%s---\n", blocks[b], s,
				        md2 ? md2 : "(null)", md3 ? md3 : "(null)");
				CHECK(0);
			}
			/* the text itself survived */
			char *bs = back2 ? json_dumps(back2, JSON_COMPACT) : NULL;
			json_t *wj = json_string(w);
			char *ws = json_dumps(wj, JSON_ENCODE_ANY);
			if (ws && strlen(ws) > 2) {
				ws[strlen(ws) - 1] = '\0';      /* drop the closing quote */
				if (!bs || !strstr(bs, ws + 1)) {
					fprintf(stderr, "  block %s lost %s: %s\n", blocks[b], ws,
					        bs ? bs : "(null)");
					CHECK(0);
				}
			}
			free(ws);
			json_decref(wj);
			free(bs);
			free(md2);
			free(md3);
			json_decref(back2);
			json_decref(back3);
			json_decref(d2);
			json_decref(w2);
		}
		free(md);
		free(s);
		free(w);
		json_decref(back);
		json_decref(want);
		json_decref(d);
	}
	CHECK_EQ(fallbacks(2), 0);
}

TEST(export_markdown_cjk)
{
	unsigned long before = fallbacks(0);
	/* bold text starting with CJK punctuation inside CJK text cannot use
	 * "**" (CommonMark flanking rules): the line falls back to tags */
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"中文\"},"
		"{\"insert\":\"「引用」\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\"中文，\"},{\"insert\":\"斜体\",\"attributes\":{\"italic\":true}},"
		"{\"insert\":\"。\\n\"}]}"));
	CHECK(fallbacks(0) > before);
	/* plain CJK emphasis works with the Markdown markers */
	CHECK(md_is("{\"ops\":[{\"insert\":\"你好\"},{\"insert\":\"世界\",\"attributes\":{\"bold\":true}},"
		"{\"insert\":\"！\\n\"}]}", "你好**世界**！\n"));
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"标题 — 第一章\"},"
		"{\"insert\":\"\\n\",\"attributes\":{\"header\":1}},"
		"{\"insert\":\"项目\"},{\"insert\":\"\\n\",\"attributes\":{\"list\":\"bullet\"}},"
		"{\"insert\":\"全角　空格\",\"attributes\":{\"italic\":true}},{\"insert\":\"\\n\"},"
		"{\"insert\":\"\\ud83d\\ude00 emoji\",\"attributes\":{\"bold\":true}},{\"insert\":\"\\n\"}]}"));
	/* punctuation-edged bold between letters */
	CHECK(roundtrip_delta("{\"ops\":[{\"insert\":\"a\"},{\"insert\":\"(b)\",\"attributes\":"
		"{\"bold\":true}},{\"insert\":\"c\"},{\"insert\":\".d.\",\"attributes\":{\"italic\":true,"
		"\"underline\":true}},{\"insert\":\"e\\n\"}]}"));
	CHECK_EQ(fallbacks(2), 0);
}

TEST(roundtrip_markdown)
{
	static const char *md =
		"# Title *x*\n\n"
		"Some **bold** and *italic* and [link](<https://x.y/a?b=1\\&c=2>) and `code` "
		"and <u>under</u> and <s>gone</s>.\n\n"
		"中文 **粗体** 文字\n\n"
		"- a\n- b\n  - nested **b**\n    1. deep\n- c\n\n"
		"1. one\n2. two\n\n"
		"> quote line\n>\n> second **para**\n\n"
		"```c\nint x = 1;\n\nreturn;\n```\n\n"
		"## End\n";
	json_t *d = import(md);
	char *md2 = d ? to_md(d, NULL) : NULL;
	CHECK(md2 != NULL);
	if (md2 && strcmp(md, md2) != 0) {
		fprintf(stderr, "  markdown changed:\n%s---\n", md2);
		CHECK(0);
	}
	json_t *d2 = md2 ? import(md2) : NULL;
	CHECK(same(d2, d));
	free(md2);
	json_decref(d);
	json_decref(d2);

	/* a less tidy input becomes tidy and then stays put */
	d = import("Title\n=====\n\n* a\n* b\n\n+ c\n\n__strong__ _em_\nsoft\n\n***\n");
	md2 = d ? to_md(d, NULL) : NULL;
	CHECK(md2 && !strcmp(md2, "# Title\n\n- a\n- b\n- c\n\n**strong** *em* soft\n\n———\n"));
	json_t *d3 = md2 ? import(md2) : NULL;
	CHECK(same(d3, d));
	free(md2);
	json_decref(d);
	json_decref(d3);
}

TEST(export_links_filtered)
{
	static const char *bad[] = {
		"javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)",
		"java\\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
		"vbscript:x", "/relative", "//evil/", "http:\\u0001//x", "", "mailto",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		char js[512];
		snprintf(js, sizeof js, "{\"ops\":[{\"insert\":\"click\",\"attributes\":{\"link\":\"%s\"}},"
		         "{\"insert\":{\"image\":\"%s\"}},{\"insert\":\"\\n\"}]}", bad[i], bad[i]);
		json_t *d = J(js);
		char *md = d ? to_md(d, NULL) : NULL;
		char *h = d ? to_html(d, "t", NULL) : NULL;
		CHECK(md && !strstr(md, "]("));
		CHECK(md && strstr(md, "click"));
		CHECK(h && !strstr(h, "<a ") && !strstr(h, "<img"));
		CHECK(h && !strstr(h, "script:") && !strstr(h, "<script"));
		free(md);
		free(h);
		json_decref(d);
	}
	/* link value of the wrong type is malformed */
	json_t *d = J("{\"ops\":[{\"insert\":\"x\",\"attributes\":{\"link\":5}},{\"insert\":\"\\n\"}]}");
	char *o = (char *)1;
	size_t n = 0;
	CHECK_EQ(docfmt_to_markdown(d, NULL, &o, &n), BW_EINVAL);
	CHECK_EQ(docfmt_to_html(d, NULL, NULL, &o, &n), BW_EINVAL);
	CHECK(o == (char *)1);
	json_decref(d);
}

/* ---- HTML export -------------------------------------------------------- */

TEST(export_html)
{
	json_t *d = import("# H1\n\n###### H6\n\np **b** *i* <u>u</u> <s>s</s> `c` [l](https://x/)\n\n"
	                   "- a\n  1. b\n- c\n\n> q1\n> \n> q2\n\n```js\nx<y\n\nz\n```\n\n中文\n");
	char *h = d ? to_html(d, "Doc", NULL) : NULL;
	CHECK(h != NULL);
	if (h) {
		CHECK(!strncmp(h, "<!doctype html>\n", 16));
		CHECK(strstr(h, "<meta charset=\"utf-8\">"));
		CHECK(strstr(h, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
		                "'none'; style-src 'unsafe-inline'; img-src data:\">"));
		CHECK(strstr(h, "<title>Doc</title>"));
		CHECK(strstr(h, "<h1>H1</h1>"));
		CHECK(strstr(h, "<h6>H6</h6>"));
		CHECK(strstr(h, "<p>p <strong>b</strong> <em>i</em> <u>u</u> <s>s</s> <code>c</code> "
		                "<a href=\"https://x/\" rel=\"noopener noreferrer\">l</a></p>"));
		CHECK(strstr(h, "<ul>\n<li>a<ol>\n<li>b</li></ol>\n</li>\n<li>c</li></ul>\n"));
		CHECK(strstr(h, "<blockquote>\n<p>q1</p>\n<p>q2</p>\n</blockquote>\n"));
		CHECK(strstr(h, "<pre><code class=\"language-js\">x&lt;y\n\nz</code></pre>"));
		CHECK(strstr(h, "<p>中文</p>"));
		CHECK(!strstr(h, "<script"));
		CHECK(!strstr(h, "wm"));        /* no watermark asked */
		CHECK(strstr(h, "</html>\n"));
	}
	free(h);
	json_decref(d);

	/* embeds: data image as <img>, http image as a link, others a placeholder */
	d = J("{\"ops\":[{\"insert\":{\"image\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
	      "{\"insert\":{\"image\":\"data:image/svg+xml;base64,PHN2Zz4=\"}},"
	      "{\"insert\":{\"image\":\"https://h/p.png\"}},{\"insert\":{\"formula\":\"x\"}},"
	      "{\"insert\":\"\\n\\n\"}]}");
	h = d ? to_html(d, NULL, NULL) : NULL;
	CHECK(h && strstr(h, "<p><img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"image\">"
	                     "[image]<a href=\"https://h/p.png\" rel=\"noopener noreferrer\">image</a>"
	                     "[embed]</p>\n<p><br></p>"));
	CHECK(h && strstr(h, "<title></title>"));
	free(h);
	json_decref(d);
}

TEST(export_html_xss)
{
	json_t *d = J("{\"ops\":["
		"{\"insert\":\"<script>alert('x')</script> & \\\"q\\\" <img src=x onerror=alert(1)>\"},"
		"{\"insert\":\"link\",\"attributes\":{\"link\":\"https://x/\\\"><script>alert(1)</script>\"}},"
		"{\"insert\":\"c<b>\",\"attributes\":{\"code\":true}},"
		"{\"insert\":\"\\n\"},{\"insert\":\"</code></pre><script>\"},"
		"{\"insert\":\"\\n\",\"attributes\":{\"code-block\":\"\\\"><script>\"}},"
		"{\"insert\":\"\\n\",\"attributes\":{\"code-block\":\"js\\\" onload=\\\"x\"}}]}");
	char *h = d ? to_html(d, "</title><script>alert(1)</script>",
	                      "</div><script>alert(2)</script>'\"") : NULL;
	CHECK(h != NULL);
	if (h) {
		CHECK(!strstr(h, "<script"));
		CHECK(!strstr(h, "<img"));
		CHECK(!strstr(h, "onload=\""));
		CHECK(!strstr(h, "\"><script"));
		CHECK(strstr(h, "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
		CHECK(strstr(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
		CHECK(strstr(h, "href=\"https://x/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
		CHECK(strstr(h, "<code>c&lt;b&gt;</code>"));
		CHECK(strstr(h, "<pre><code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;"));
		CHECK(strstr(h, "&lt;/div&gt;&lt;script&gt;alert(2)&lt;/script&gt;&#39;&quot;"));
	}
	/* the Markdown export keeps it all literal */
	char *md = d ? to_md(d, "<script>") : NULL;
	CHECK(md != NULL);
	if (md) {
		json_t *back = import(md);
		char *h2 = back ? to_html(back, NULL, NULL) : NULL;
		CHECK(h2 && !strstr(h2, "<script") && !strstr(h2, "<img"));
		free(h2);
		json_decref(back);
	}
	free(md);
	free(h);
	json_decref(d);
}

TEST(watermark)
{
	json_t *d = J("{\"ops\":[{\"insert\":\"> body\"},{\"insert\":\"\\n\",\"attributes\":"
	              "{\"blockquote\":true}}]}");
	char *md = d ? to_md(d, "Alice <a@x> *secret*\n2026") : NULL;
	CHECK(md != NULL);
	if (md) {
		static const char wl[] = "> **Watermark:** Alice \\<a@x\\> \\*secret\\* 2026\n";
		CHECK(!strncmp(md, wl, strlen(wl)));
		size_t n = strlen(md);
		CHECK(n > strlen(wl) && !strcmp(md + n - strlen(wl), wl));
		/* the watermark quote and the document quote stay separate */
		CHECK(strstr(md, wl) && strstr(md, "\n\n> \\> body\n\n"));
		json_t *back = import(md);
		json_t *ops = back ? json_object_get(back, "ops") : NULL;
		CHECK(ops && json_array_size(ops) >= 4);
		json_decref(back);
	}
	free(md);

	char *h = d ? to_html(d, "t", "Alice <a@x> 机密") : NULL;
	CHECK(h != NULL);
	if (h) {
		CHECK(strstr(h, "<div class=\"wm\" aria-hidden=\"true\"><span>Alice &lt;a@x&gt; 机密</span>"));
		CHECK(strstr(h, ".wm{position:fixed;"));
		CHECK(strstr(h, "transform:rotate(-30deg);opacity:.13"));
		CHECK(strstr(h, "pointer-events:none"));
		const char *line = "<p class=\"wm-line\">Watermark: Alice &lt;a@x&gt; 机密</p>";
		const char *first = strstr(h, line);
		const char *main = strstr(h, "<main>");
		const char *end = strstr(h, "</main>");
		CHECK(first && main && first < main);
		CHECK(end && strstr(end, line));
		/* repeated */
		int count = 0;
		for (const char *p = h; (p = strstr(p, "<span>Alice")); p++)
			count++;
		CHECK(count >= 100);
		CHECK(!strstr(h, "<script"));
	}
	free(h);

	/* limits and encoding of the watermark and title */
	char big[DOCFMT_WATERMARK_MAX + 2];
	memset(big, 'w', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	char *o = (char *)1;
	size_t n = 0;
	CHECK_EQ(docfmt_to_markdown(d, big, &o, &n), BW_ETOOBIG);
	CHECK_EQ(docfmt_to_html(d, NULL, big, &o, &n), BW_ETOOBIG);
	big[DOCFMT_WATERMARK_MAX] = '\0';
	CHECK_EQ(docfmt_to_html(d, NULL, big, &o, &n), 0);
	if (o != (char *)1)
		free(o);
	o = (char *)1;
	CHECK_EQ(docfmt_to_markdown(d, "bad\xff", &o, &n), BW_EINVAL);
	CHECK_EQ(docfmt_to_html(d, "bad\xc3", NULL, &o, &n), BW_EINVAL);
	CHECK_EQ(docfmt_to_html(d, "nul\x01", NULL, &o, &n), BW_EINVAL);
	char title[DOCFMT_TITLE_MAX + 2];
	memset(title, 't', sizeof title - 1);
	title[sizeof title - 1] = '\0';
	CHECK_EQ(docfmt_to_html(d, title, NULL, &o, &n), BW_ETOOBIG);
	CHECK(o == (char *)1);
	json_decref(d);
}

TEST(empty_document)
{
	json_t *d = J("{\"ops\":[{\"insert\":\"\\n\"}]}");
	char *md = d ? to_md(d, NULL) : NULL;
	CHECK(md && md[0] == '\0');
	free(md);
	md = d ? to_md(d, "wm") : NULL;
	CHECK(md && !strcmp(md, "> **Watermark:** wm\n\n> **Watermark:** wm\n"));
	free(md);
	char *h = d ? to_html(d, "", NULL) : NULL;
	CHECK(h && strstr(h, "<main>\n<p><br></p>\n</main>"));
	free(h);
	json_decref(d);
	d = J("{\"ops\":[]}");
	md = d ? to_md(d, NULL) : NULL;
	CHECK(md && md[0] == '\0');
	free(md);
	h = d ? to_html(d, NULL, NULL) : NULL;
	CHECK(h && strstr(h, "<main>\n</main>"));
	free(h);
	json_decref(d);
	/* empty lines are omitted in Markdown, kept in HTML */
	d = J("{\"ops\":[{\"insert\":\"a\\n\\n\\nb\\n\"}]}");
	md = d ? to_md(d, NULL) : NULL;
	CHECK(md && !strcmp(md, "a\n\nb\n"));
	free(md);
	json_decref(d);
}

TEST(malformed_delta)
{
	static const char *bad[] = {
		"{}", "{\"ops\":{}}", "{\"ops\":\"x\"}", "\"x\"", "5",
		"{\"ops\":[5]}", "{\"ops\":[\"text\"]}", "{\"ops\":[null]}", "{\"ops\":[[]]}",
		"{\"ops\":[{}]}", "{\"ops\":[{\"insert\":5}]}", "{\"ops\":[{\"insert\":true}]}",
		"{\"ops\":[{\"insert\":[\"x\"]}]}", "{\"ops\":[{\"insert\":null}]}",
		"{\"ops\":[{\"retain\":5}]}", "{\"ops\":[{\"delete\":1}]}",
		"{\"ops\":[{\"insert\":\"x\",\"retain\":1}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":\"bold\"}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":[1]}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":{\"bold\":\"yes\"}}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":{\"italic\":1}}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":{\"link\":5}}]}",
		"{\"ops\":[{\"insert\":\"x\",\"attributes\":{\"link\":{}}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"header\":\"1\"}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"header\":1.5}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"list\":3}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"indent\":\"1\"}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"code-block\":2}}]}",
		"{\"ops\":[{\"insert\":\"\\n\",\"attributes\":{\"blockquote\":\"yes\"}}]}",
		"{\"ops\":[{\"insert\":{\"image\":5}}]}",
		"{\"ops\":[{\"insert\":{\"image\":null}}]}",
		"{\"ops\":[{\"insert\":\"a\\u0000b\\n\"}]}",
		"{\"ops\":[{\"insert\":\"a\\u0007b\\n\"}]}",
		"{\"ops\":[{\"insert\":\"ok\\n\"},{\"insert\":\"x\",\"attributes\":{\"code\":[]}}]}",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		json_t *d = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		CHECK(d != NULL);
		char *o = (char *)1;
		size_t n = 7;
		int a = docfmt_to_markdown(d, NULL, &o, &n);
		int b = docfmt_to_html(d, "t", NULL, &o, &n);
		if (a != BW_EINVAL || b != BW_EINVAL) {
			fprintf(stderr, "  case %s: md %d html %d\n", bad[i], a, b);
			CHECK(0);
		}
		CHECK(o == (char *)1 && n == 7);
		json_decref(d);
	}
	/* invalid UTF-8 in text (jansson would refuse it, so build it raw) */
	json_t *d = json_pack("{s:[{s:o}]}", "ops", "insert", json_stringn_nocheck("a\xff\n", 3));
	char *o = (char *)1;
	size_t n = 0;
	CHECK_EQ(docfmt_to_markdown(d, NULL, &o, &n), BW_EINVAL);
	CHECK_EQ(docfmt_to_html(d, NULL, NULL, &o, &n), BW_EINVAL);
	json_decref(d);
	d = json_pack("{s:[{s:o}]}", "ops", "insert", json_stringn_nocheck("\xed\xa0\x80\n", 4));
	CHECK_EQ(docfmt_to_markdown(d, NULL, &o, &n), BW_EINVAL);
	json_decref(d);
	CHECK_EQ(docfmt_to_markdown(NULL, NULL, &o, &n), BW_EINVAL);
	CHECK_EQ(docfmt_to_html(NULL, NULL, NULL, &o, &n), BW_EINVAL);
	CHECK(o == (char *)1);
	/* null attributes and null values are fine */
	CHECK(md_is("{\"ops\":[{\"insert\":\"a\",\"attributes\":null},{\"insert\":\"b\","
	            "\"attributes\":{\"bold\":null,\"link\":null,\"italic\":false}},"
	            "{\"insert\":\"\\n\",\"attributes\":{\"header\":null,\"list\":null}}]}",
	            "ab\n"));
}

TEST(long_documents)
{
	/* 100k lines of mixed content export in bounded time and size */
	json_t *ops = json_array();
	for (int i = 0; i < 25000; i++) {
		json_array_append_new(ops, json_pack("{s:s,s:{s:b}}", "insert", "bold & <x>",
		                                     "attributes", "bold", 1));
		json_array_append_new(ops, json_pack("{s:s,s:{s:s}}", "insert", "\n",
		                                     "attributes", "list", "ordered"));
		json_array_append_new(ops, json_pack("{s:s}", "insert", "plain *text*\n"));
		json_array_append_new(ops, json_pack("{s:s,s:{s:b}}", "insert", "code `x`\n",
		                                     "attributes", "code-block", 1));
	}
	json_t *d = json_pack("{s:o}", "ops", ops);
	char *md = to_md(d, "wm");
	CHECK(md != NULL);
	CHECK(md && strstr(md, "\n1. **bold \\& \\<x\\>**\n\nplain \\*text\\*\n\n```\ncode `x`\n```\n"));
	json_t *back = md ? import(md) : NULL;
	CHECK(back != NULL);
	char *h = to_html(d, "big", "wm");
	CHECK(h && strlen(h) < DOCFMT_OUT_MAX);
	free(h);
	free(md);
	json_decref(back);
	json_decref(d);

	/* too many ops */
	ops = json_array();
	for (int i = 0; i <= OT_DOC_OPS_MAX; i++)
		json_array_append_new(ops, json_pack("{s:s}", "insert", "x"));
	d = json_pack("{s:o}", "ops", ops);
	char *o = (char *)1;
	size_t n = 0;
	CHECK_EQ(docfmt_to_markdown(d, NULL, &o, &n), BW_ETOOBIG);
	CHECK_EQ(docfmt_to_html(d, NULL, NULL, &o, &n), BW_ETOOBIG);
	CHECK(o == (char *)1);
	json_decref(d);

	/* too much text */
	size_t big = OT_DOC_MAX + 1;
	char *t = malloc(big + 1);
	if (t) {
		memset(t, 'a', big);
		t[big] = '\0';
		d = json_pack("{s:[{s:s}]}", "ops", "insert", t);
		CHECK_EQ(docfmt_to_markdown(d, NULL, &o, &n), BW_ETOOBIG);
		json_decref(d);
		/* one 4 MiB line of special characters: bounded output */
		memset(t, '*', big - 1);
		t[big - 2] = '\n';
		t[big - 1] = '\0';
		d = json_pack("{s:[{s:s}]}", "ops", "insert", t);
		md = to_md(d, NULL);
		CHECK(md && strlen(md) == 2 * (big - 2) + 1);
		free(md);
		json_decref(d);
		free(t);
	}
}

/* ---- randomised property ------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static json_t *random_delta(void)
{
	static const char *pieces[] = {
		"a", "b c", " ", "  ", "*", "**", "_", "`", "``", "[", "]", "(", ")", "!", "#", ">",
		"<", "&", "~", "\\", "1.", "-", "+", "=", "中文", "「", "」", "，", "\xc2\xa0", "\t",
		"http://x/", "<b>", "&amp;", "x_y", "\xe3\x80\x80", "a\rb", ".", "'", "\"",
	};
	static const char *links[] = { "https://l/", "https://m/(x)", "mailto:a@b", "javascript:x" };
	json_t *ops = json_array();
	int n = 1 + (int)rnd(14);
	for (int i = 0; i < n; i++) {
		if (rnd(5) == 0) {
			static const char *blocks[] = {
				"{}", "{\"header\":1}", "{\"header\":4}", "{\"list\":\"bullet\"}",
				"{\"list\":\"ordered\"}", "{\"list\":\"bullet\",\"indent\":1}",
				"{\"list\":\"ordered\",\"indent\":2}", "{\"blockquote\":true}",
				"{\"list\":\"checked\"}", "{\"list\":\"unchecked\",\"indent\":1}",
				"{\"code-block\":true}", "{\"code-block\":\"c\"}",
			};
			json_array_append_new(ops, json_pack("{s:s,s:o}", "insert", "\n", "attributes",
			                                     J(blocks[rnd(BW_ARRAY_LEN(blocks))])));
			continue;
		}
		char text[64] = "";
		int k = 1 + (int)rnd(3);
		for (int j = 0; j < k; j++)
			strcat(text, pieces[rnd(BW_ARRAY_LEN(pieces))]);
		json_t *a = json_object();
		if (rnd(3) == 0)
			json_object_set_new(a, "bold", json_true());
		if (rnd(3) == 0)
			json_object_set_new(a, "italic", json_true());
		if (rnd(6) == 0)
			json_object_set_new(a, "underline", json_true());
		if (rnd(6) == 0)
			json_object_set_new(a, "strike", json_true());
		if (rnd(6) == 0)
			json_object_set_new(a, "code", json_true());
		if (rnd(5) == 0)
			json_object_set_new(a, "link", json_string(links[rnd(BW_ARRAY_LEN(links))]));
		json_array_append_new(ops, json_pack("{s:s,s:o}", "insert", text, "attributes", a));
	}
	json_array_append_new(ops, json_pack("{s:s}", "insert", "\n"));
	return json_pack("{s:o}", "ops", ops);
}

TEST(random_roundtrip)
{
	int bad = 0;
	for (int iter = 0; iter < 3000 && bad < 5; iter++) {
		json_t *d = random_delta();
		char *md1 = to_md(d, NULL);
		json_t *d2 = md1 ? import(md1) : NULL;
		char *md2 = d2 ? to_md(d2, NULL) : NULL;
		json_t *d3 = md2 ? import(md2) : NULL;
		char *h = to_html(d, "t", "w");
		bool ok = md1 && md2 && !strcmp(md1, md2) && d3 && json_equal(d2, d3) && h;
		if (!ok) {
			char *s = json_dumps(d, JSON_COMPACT);
			fprintf(stderr, "  unstable: %s\n--- md1\n%s--- md2\n%s---\n", s,
			        md1 ? md1 : "(null)", md2 ? md2 : "(null)");
			free(s);
			bad++;
		}
		CHECK(ok);
		free(h);
		free(md1);
		free(md2);
		json_decref(d);
		json_decref(d2);
		json_decref(d3);
	}
	CHECK_EQ(fallbacks(2), 0);
	printf("  (markdown fallbacks: tags %lu, plain %lu)\n", fallbacks(0), fallbacks(1));
}

int main(void)
{
	bw_log_level = BW_LOG_ERR - 1;
	RUN(import_blocks);
	RUN(import_inline);
	RUN(import_links_filtered);
	RUN(import_errors);
	RUN(import_deep_nesting);
	RUN(export_markdown_blocks);
	RUN(export_markdown_inline);
	RUN(export_markdown_escaping);
	RUN(export_markdown_cjk);
	RUN(roundtrip_markdown);
	RUN(export_links_filtered);
	RUN(export_html);
	RUN(export_html_xss);
	RUN(watermark);
	RUN(empty_document);
	RUN(malformed_delta);
	RUN(long_documents);
	RUN(random_roundtrip);
	return UNIT_DONE();
}
