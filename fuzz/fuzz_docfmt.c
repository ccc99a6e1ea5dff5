/*
 * fuzz_docfmt.c — document import/export conversion (docfmt.c) on
 * arbitrary bytes.  An input starting with '{' or '[' is read as a delta
 * (JSON) and exported; one starting with byte 0x01 is a compact encoding of
 * a delta (below) so that mutations reach attribute combinations; anything
 * else is Markdown to import (and the result exported again).
 *
 * Compact delta: after 0x01, records of [flags, kind, len, len bytes]:
 * kind bit 7 → a "\n" op with line attributes (kind & 15 picks one of
 * fz_lines, bits 4-6 the indent); kind bit 6 → an image embed; else a text
 * op (text bytes that are not valid UTF-8 are skipped) with flags bits 0-4
 * bold/italic/underline/strike/code and bits 5-6 a link from fz_links.
 *
 * Properties checked:
 *  - import: success gives {"ops":[...]} that src/ot.c accepts as a
 *    document (ot_parse_document_json: the server stores it), ending with
 *    "\n"; failure is only BW_EINVAL (input not valid UTF-8 / controls) or
 *    BW_ETOOBIG;
 *  - export (Markdown and HTML, with a hostile watermark and title): the
 *    output is *out_len bytes, NUL-terminated, valid UTF-8; failure is only
 *    BW_EINVAL or BW_ETOOBIG, and both exports agree on BW_EINVAL;
 *  - HTML: no "<script" (any case);  every href is http://, https:// or
 *    mailto: and every img src a data:image/; no '<' inside an href;
 *    every tag is one docfmt writes;
 *  - Markdown: parsing the export (without watermark) back succeeds, and
 *    exporting that again gives the same text (export is stable); the
 *    parse-back check never needs its last resort
 *    (docfmt_test_fallbacks[2] stays 0).
 */
#include "docfmt.h"
#include "ot.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fz_wm[] = "wm <script>&\"'*_`[x](javascript:y)";
static const char fz_title[] = "</title><script>alert(1)</script>";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	return 0;
}

static void fz_check_out(const char *out, size_t n)
{
	if (!out || strlen(out) != n || !bw_utf8_valid(out, n, true))
		abort();
}

static bool fz_prefix(const char *p, const char *lit)
{
	return strncasecmp(p, lit, strlen(lit)) == 0;
}

static void fz_check_html(const char *h)
{
	static const char *const tags[] = {
		"!doctype", "html", "head", "meta", "title", "style", "body", "main", "div", "span",
		"p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "u", "s", "code", "pre", "a",
		"ul", "ol", "li", "blockquote", "br", "img",
	};
	for (const char *p = h; *p; p++) {
		if (strncasecmp(p, "<script", 7) == 0)
			abort();
		if (*p != '<')
			continue;
		const char *q = p + 1;
		if (*q == '/')
			q++;
		size_t l = strspn(q, "!abcdefghijklmnopqrstuvwxyz0123456789");
		bool known = false;
		for (size_t i = 0; i < BW_ARRAY_LEN(tags); i++)
			known |= strlen(tags[i]) == l && strncmp(tags[i], q, l) == 0;
		if (!known || (q[l] != '>' && q[l] != ' '))
			abort();
	}
	for (const char *p = h; (p = strstr(p, "href=\"")); p++) {
		const char *u = p + 6;
		if (!fz_prefix(u, "http://") && !fz_prefix(u, "https://") && !fz_prefix(u, "mailto:"))
			abort();
		const char *e = strchr(u, '"');
		if (!e || memchr(u, '<', (size_t)(e - u)))
			abort();
	}
	for (const char *p = h; (p = strstr(p, "src=\"")); p++)
		if (!fz_prefix(p + 5, "data:image/"))
			abort();
}

static void fz_export(const json_t *doc)
{
	char *md = NULL, *h = NULL;
	size_t ml = 0, hl = 0;
	unsigned long bugs = __atomic_load_n(&docfmt_test_fallbacks[2], __ATOMIC_RELAXED);
	int a = docfmt_to_markdown(doc, fz_wm, &md, &ml);
	int b = docfmt_to_html(doc, fz_title, fz_wm, &h, &hl);
	if ((a == BW_EINVAL) != (b == BW_EINVAL))
		abort();
	if (a && a != BW_EINVAL && a != BW_ETOOBIG)
		abort();
	if (b && b != BW_EINVAL && b != BW_ETOOBIG)
		abort();
	if (!b) {
		fz_check_out(h, hl);
		fz_check_html(h);
		free(h);
	}
	if (a)
		return;
	fz_check_out(md, ml);
	free(md);

	/* stable: without a watermark, import(md) exports to the same text */
	if (docfmt_to_markdown(doc, NULL, &md, &ml) != 0)
		abort();
	if (__atomic_load_n(&docfmt_test_fallbacks[2], __ATOMIC_RELAXED) != bugs)
		abort();
	json_t *d2 = NULL;
	if (docfmt_from_markdown(md, ml, &d2) != 0)
		abort();
	char *md2 = NULL;
	size_t ml2 = 0;
	if (docfmt_to_markdown(d2, NULL, &md2, &ml2) != 0)
		abort();
	if (ml2 != ml || memcmp(md, md2, ml) != 0)
		abort();
	free(md2);
	json_decref(d2);
	free(md);
}

static json_t *fz_compact(const uint8_t *d, size_t n)
{
	static const char *const fz_lines[] = {
		NULL, "header", "list:bullet", "list:ordered", "list:checked", "list:unchecked",
		"blockquote", "code-block", "code-block:c", "header:2", "code-block:\"",
	};
	static const char *const fz_links[] = {
		NULL, "https://l/", "https://m/(x)<y>&z", "javascript:x",
	};
	static const char *const fz_imgs[] = {
		"https://i/p.png", "data:image/png;base64,AAAA", "data:text/html,x", "javascript:y",
	};
	json_t *ops = json_array();
	for (size_t i = 0; i + 3 <= n && json_array_size(ops) < 4096;) {
		uint8_t f = d[i], k = d[i + 1];
		size_t len = d[i + 2] % 32;
		i += 3;
		if (len > n - i)
			len = n - i;
		json_t *a = json_object();
		json_t *op;
		if (k & 0x80) {
			const char *l = fz_lines[(k & 15) % BW_ARRAY_LEN(fz_lines)];
			if (l) {
				const char *c = strchr(l, ':');
				json_t *v = c ? json_string(c + 1) : !strcmp(l, "header") ? json_integer(1)
				                                                          : json_true();
				char key[16];
				snprintf(key, sizeof key, "%.*s", c ? (int)(c - l) : (int)strlen(l), l);
				json_object_set_new(a, key, v);
			}
			if ((k >> 4) & 7)
				json_object_set_new(a, "indent", json_integer((k >> 4) & 7));
			op = json_pack("{s:s,s:o}", "insert", "\n", "attributes", a);
		} else {
			static const char *const names[] = { "bold", "italic", "underline", "strike", "code" };
			for (int b = 0; b < 5; b++)
				if (f & (1u << b))
					json_object_set_new(a, names[b], json_true());
			const char *link = fz_links[(f >> 5) & 3];
			if (link)
				json_object_set_new(a, "link", json_string(link));
			json_t *ins = (k & 0x40) ? json_pack("{s:s}", "image", fz_imgs[k & 3])
			                         : json_stringn((const char *)d + i, len);
			op = ins ? json_pack("{s:o,s:o}", "insert", ins, "attributes", a) : NULL;
			if (!ins)
				json_decref(a);
			if (!(k & 0x40))
				i += len;
		}
		if (op)
			json_array_append_new(ops, op);
	}
	return json_pack("{s:o}", "ops", ops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	if (size > 0 && data[0] == 0x01) {
		json_t *doc = fz_compact(data + 1, size - 1);
		if (doc) {
			fz_export(doc);
			json_decref(doc);
		}
		return 0;
	}
	if (size > 0 && (data[0] == '{' || data[0] == '[')) {
		json_t *doc = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
		if (doc) {
			fz_export(doc);
			json_decref(doc);
		}
		return 0;
	}
	json_t *doc = NULL;
	int rc = docfmt_from_markdown((const char *)data, size, &doc);
	if (rc) {
		if (rc != BW_EINVAL && rc != BW_ETOOBIG)
			abort();
		return 0;
	}
	json_t *ops = json_object_get(doc, "ops");
	size_t n = json_array_size(ops);
	const char *last = n ? json_string_value(json_object_get(json_array_get(ops, n - 1),
	                                                         "insert")) : NULL;
	if (!last || !*last || last[strlen(last) - 1] != '\n')
		abort();
	struct ot_delta *od = NULL;
	rc = ot_parse_document_json(doc, &od);
	if (rc && rc != BW_ETOOBIG)
		abort();
	ot_free(od);
	fz_export(doc);
	json_decref(doc);
	return 0;
}
