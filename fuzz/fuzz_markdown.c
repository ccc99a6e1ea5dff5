/*
 * fuzz_markdown.c — chat Markdown rendering (markdown.c) on arbitrary bytes.
 *
 * Properties checked on every input that renders:
 *  - the output is *out_len bytes, NUL-terminated, valid UTF-8;
 *  - no "<script" anywhere (case-insensitive).  "javascript:" is checked
 *    where it matters, in markup: no attribute but title (a tooltip) and
 *    href may contain it, and an href's scheme (parsed as a browser does)
 *    is none or one of the allowed ones below.  Plain text may read
 *    "javascript:" (the autolink <javascript:x> is shown as text), and so
 *    may a harmless URL such as http://x/javascript:y;
 *  - every tag is one markdown.c produces (p strong em code pre a span ul
 *    ol li blockquote hr br) with only its attributes (href title rel
 *    target class data-user start), each double-quoted, without < > or
 *    controls (a title may hold tab, CR, LF), and with only the entities
 *    we write;
 *  - every <a> has rel="noopener noreferrer nofollow" target="_blank"; an
 *    href's scheme is none (relative) or http, https, mailto, tel,
 *    data:image/(png|gif|jpeg|webp), and it holds no space, tab, quote or
 *    backslash;
 *  - markdown_mentions agrees with the render: the distinct data-user
 *    values in order equal the names it returns, and it reports @all
 *    exactly when a mention-all span is present.
 * Inputs that do not render must be refused with BW_EINVAL (invalid UTF-8
 * or controls) or BW_ETOOBIG, consistently by both functions.
 */
#include "markdown.h"
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	return 0;
}

static bool fz_ci_in(const char *p, const char *end, const char *needle)
{
	size_t nl = strlen(needle);
	for (; p + nl <= end; p++)
		if (strncasecmp(p, needle, nl) == 0)
			return true;
	return false;
}

static bool fz_word_in(const char *w, size_t l, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == l && strncmp(list[i], w, l) == 0)
			return true;
	return false;
}

#define FZ_NAMES 256

struct fz_seen {
	char names[FZ_NAMES][MARKDOWN_NAME_MAX + 1];
	int n;
	bool overflow;
	bool all;
};

static void fz_note_user(struct fz_seen *s, const char *v, size_t l)
{
	if (l == 0 || l > MARKDOWN_NAME_MAX)
		abort();
	for (int i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == l && memcmp(s->names[i], v, l) == 0)
			return;
	if (s->n >= FZ_NAMES) {
		s->overflow = true;
		return;
	}
	memcpy(s->names[s->n], v, l);
	s->names[s->n][l] = '\0';
	s->n++;
}

/* The scheme of an href value as a browser parses it (we never emit
 * whitespace or controls there, and '&' only as "&amp;"): none, or one of
 * http https mailto tel, or data:image/(png|gif|jpeg|webp). */
static void fz_check_scheme(const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && (isalnum((unsigned char)v[i]) || v[i] == '+' || v[i] == '-' || v[i] == '.'))
		i++;
	if (i == n || v[i] != ':' || i == 0 || !isalpha((unsigned char)v[0]))
		return;         /* relative URL: no scheme */
	static const char *const ok[] = { "http", "https", "mailto", "tel" };
	for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
		if (strlen(ok[k]) == i && strncasecmp(v, ok[k], i) == 0)
			return;
	static const char *const img[] = {
		"data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp",
	};
	for (size_t k = 0; k < sizeof img / sizeof img[0]; k++) {
		size_t l = strlen(img[k]);
		if (n > l && strncasecmp(v, img[k], l) == 0 && (v[l] == ';' || v[l] == ','))
			return;
	}
	abort();
}

/* Checks the markup of html (see the header comment); records mentions. */
static void fz_check_html(const char *html, struct fz_seen *seen)
{
	static const char *const tags[] = {
		"p", "strong", "em", "code", "pre", "a", "span", "ul", "ol", "li",
		"blockquote", "hr", "br",
	};
	static const char *const attrs[] = {
		"href", "title", "rel", "target", "class", "data-user", "start",
	};
	if (fz_ci_in(html, html + strlen(html), "<script"))
		abort();
	for (const char *p = strchr(html, '<'); p; p = strchr(p, '<')) {
		const char *q = p + 1;
		bool closing = *q == '/';
		if (closing)
			q++;
		size_t l = 0;
		while (isalpha((unsigned char)q[l]))
			l++;
		if (!fz_word_in(q, l, tags, sizeof tags / sizeof tags[0]))
			abort();
		bool is_a = !closing && l == 1 && *q == 'a';
		bool is_span = !closing && l == 4 && strncmp(q, "span", 4) == 0;
		bool isolated = false;
		q += l;
		for (;;) {
			if (*q == '>' || (q[0] == ' ' && q[1] == '/' && q[2] == '>'))
				break;
			if (*q != ' ' || closing)
				abort();
			q++;
			size_t nl = 0;
			while (islower((unsigned char)q[nl]) || q[nl] == '-')
				nl++;
			if (!fz_word_in(q, nl, attrs, sizeof attrs / sizeof attrs[0]))
				abort();
			if (q[nl] != '=' || q[nl + 1] != '"')
				abort();
			const char *v = q + nl + 2;
			const char *ve = strchr(v, '"');
			if (!ve)
				abort();
			bool title = nl == 5 && strncmp(q, "title", 5) == 0;
			for (const char *c = v; c < ve; c++) {
				bool ws = *c == '\n' || *c == '\r' || *c == '\t';
				if (*c == '<' || *c == '>' || *c == 0x7f ||
				    ((unsigned char)*c < 0x20 && !(title && ws)))
					abort();
				if (*c == '&' && strncmp(c, "&amp;", 5) != 0 && strncmp(c, "&lt;", 4) != 0 &&
				    strncmp(c, "&gt;", 4) != 0 && strncmp(c, "&quot;", 6) != 0 &&
				    strncmp(c, "&#39;", 5) != 0)
					abort();
			}
			bool href = nl == 4 && strncmp(q, "href", 4) == 0;
			if (!title && !href &&
			    (fz_ci_in(v, ve, "javascript:") || fz_ci_in(v, ve, "vbscript:")))
				abort();
			if (href) {
				if (!is_a)
					abort();
				for (const char *c = v; c < ve; c++)
					if (*c == ' ' || *c == '\t' || *c == '\'' || *c == '\\')
						abort();
				fz_check_scheme(v, (size_t)(ve - v));
			}
			if (nl == 3 && strncmp(q, "rel", 3) == 0 &&
			    strncmp(v, "noopener noreferrer nofollow\" target=\"_blank\"", 45) == 0)
				isolated = true;
			if (nl == 9 && strncmp(q, "data-user", 9) == 0) {
				if (!is_span)
					abort();
				for (const char *c = v; c < ve; c++)
					if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
					      *c == '.' || *c == '_' || *c == '-'))
						abort();
				fz_note_user(seen, v, (size_t)(ve - v));
			}
			if (nl == 5 && strncmp(q, "class", 5) == 0 && is_span &&
			    (size_t)(ve - v) == 19 && strncmp(v, "mention mention-all", 19) == 0)
				seen->all = true;
			q = ve + 1;
		}
		if (is_a && !isolated)
			abort();
		p = q;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MARKDOWN_IN_MAX + 16)
		return 0;
	char *in = malloc(size ? size : 1);     /* exact size for ASan */
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);

	char *out = (char *)1;
	size_t out_len = 7;
	int rc = markdown_render(in, size, &out, &out_len);

	static char names[FZ_NAMES][MARKDOWN_NAME_MAX + 1];
	int n = -1;
	bool all = false;
	int mrc = markdown_mentions(in, size, names, FZ_NAMES, &n, &all);

	if (rc != 0) {
		if (rc != BW_EINVAL && rc != BW_ETOOBIG)
			abort();
		if (out != (char *)1 || out_len != 7)
			abort();
		if (rc == BW_EINVAL && mrc != BW_EINVAL)
			abort();
		if (size > MARKDOWN_IN_MAX && (rc != BW_ETOOBIG || mrc != BW_ETOOBIG))
			abort();
		free(in);
		return 0;
	}
	if (mrc != 0)
		abort();
	if (strlen(out) != out_len || out_len > MARKDOWN_OUT_MAX)
		abort();
	if (out_len && !bw_utf8_valid(out, out_len, true))
		abort();

	static struct fz_seen seen;
	memset(&seen, 0, sizeof seen);
	fz_check_html(out, &seen);
	if (!seen.overflow) {
		if (seen.n != n)
			abort();
		for (int i = 0; i < n; i++)
			if (strcmp(seen.names[i], names[i]) != 0)
				abort();
	}
	if (seen.all != all)
		abort();
	free(out);
	free(in);
	return 0;
}
