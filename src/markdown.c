/*
 * markdown.c — chat Markdown to safe HTML, and @mention extraction
 * (RG-IM-a; RG-WEB-b/IN-PHISH for links).  Rules are in markdown.h.
 *
 * How: libcmark parses (CommonMark, no extensions) into an AST; adjacent
 * text nodes are merged; then one walk with cmark_iter (iterative, no
 * recursion, so 10k-deep nesting is only heap) writes HTML ourselves.
 * cmark_render_html is not used: we need different output for headings,
 * images, links, raw HTML and mentions, and writing every byte here keeps
 * the escaping in one place we can audit.
 *
 * Invariants:
 *  - input is at most MARKDOWN_IN_MAX bytes of valid UTF-8 (checked first);
 *  - output grows in one bw_buf capped at MARKDOWN_OUT_MAX; the first
 *    append error stops the walk and is returned;
 *  - every text or attribute byte from the input passes md_put_escaped()
 *    (or md_put_url() for href, which percent-encodes everything outside
 *    a fixed URL-safe set and HTML-escapes '&');
 *  - a link or image records in its node's user_data what its ENTER event
 *    emitted, so its EXIT closes exactly that;
 *  - mention scanning reads only text-node literals outside image alt text.
 *
 * Memory: the cmark tree and iterator are freed before return; *out is
 * the bw_buf's malloc'd storage handed to the caller.  libcmark's default
 * allocator aborts on out-of-memory (a libcmark limitation).
 */
#include "markdown.h"
#include "util.h"

#include <cmark.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD_REL " rel=\"noopener noreferrer nofollow\" target=\"_blank\""
#define MD_SCHEME_MAX 32
/* Each mention takes at least 4 input bytes ("@abc"), so this bounds the
 * distinct names one message can carry. */
#define MD_MENTIONS_CAP (MARKDOWN_IN_MAX / 4 + 1)

/* What a link/image ENTER emitted (stored as node user_data). */
static const char md_mark_plain[1];     /* entered plain (alt-text) mode only */
static const char md_mark_a[1];         /* opened <a> (link) */
static const char md_mark_a_plain[1];   /* opened <a> and plain mode (image) */
static const char md_mark_none[1];      /* emitted nothing */

struct md_walk {
	struct bw_buf *out;     /* NULL: collect mentions only */
	int plain;              /* > 0 inside image alt text: text only */
	int in_a;               /* > 0 inside an <a> we opened */
	int err;                /* first error; stops output */
	/* mention collection (markdown_mentions) */
	char (*names)[MARKDOWN_NAME_MAX + 1];
	int names_max;
	int names_n;
	bool all;
};

/* ---- output helpers ----------------------------------------------------- */

static void md_put(struct md_walk *w, const char *p, size_t n)
{
	if (!w->out || w->err)
		return;
	int rc = bw_buf_append(w->out, p, n);
	if (rc)
		w->err = rc;
}

static void md_puts(struct md_walk *w, const char *s)
{
	md_put(w, s, strlen(s));
}

/* A newline unless the output is empty or already ends with one. */
static void md_cr(struct md_walk *w)
{
	if (w->out && w->out->len && w->out->data[w->out->len - 1] != '\n')
		md_put(w, "\n", 1);
}

/* HTML-escapes p[0..n) for text and double-quoted attribute values.
 * Control characters other than tab, CR, LF (which numeric entities such
 * as &#6; can produce) become U+FFFD. */
static void md_put_escaped(struct md_walk *w, const char *p, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)p[i];
		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '\t': case '\n': case '\r': break;
		default:
			if (c < 0x20 || c == 0x7f)
				rep = "\xef\xbf\xbd";
			break;
		}
		if (!rep)
			continue;
		md_put(w, p + run, i - run);
		md_puts(w, rep);
		run = i + 1;
	}
	md_put(w, p + run, n - run);
}

static bool md_is_url_ws(unsigned char c)
{
	return c == '\t' || c == '\n' || c == '\r';
}

/* Bytes kept as they are in an href; everything else is %XX.  '&' is
 * written as &amp;.  No quote, '<', '>', backslash, space or control. */
static bool md_url_safe(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-_.~!*();:@&=+$,/?#[]%", c) != NULL;
}

/* Strips what browsers strip: leading/trailing C0 controls and spaces. */
static void md_url_trim(const char *url, const char **p, size_t *n)
{
	size_t len = strlen(url), a = 0;
	while (a < len && (unsigned char)url[a] <= 0x20)
		a++;
	while (len > a && (unsigned char)url[len - 1] <= 0x20)
		len--;
	*p = url + a;
	*n = len - a;
}

/* Case-insensitive: does p[0..n), ignoring tab/CR/LF, start with lit? */
static bool md_starts_ci(const char *p, size_t n, const char *lit)
{
	size_t i = 0;
	for (; *lit; lit++) {
		while (i < n && md_is_url_ws((unsigned char)p[i]))
			i++;
		if (i >= n)
			return false;
		unsigned char c = (unsigned char)p[i++];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)*lit)
			return false;
	}
	return true;
}

/* Allowlist check of a trimmed URL (see markdown.h). */
static bool md_url_allowed(const char *p, size_t n)
{
	char scheme[MD_SCHEME_MAX + 1];
	size_t s = 0;
	bool colon = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (md_is_url_ws(c))
			continue;
		if (c == ':') {
			colon = true;
			break;
		}
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
		if (!alpha && !(s > 0 && other))
			return true;            /* no scheme: a relative URL */
		if (s >= MD_SCHEME_MAX)
			return false;           /* absurdly long scheme */
		scheme[s++] = (char)(alpha && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (!colon || s == 0)
		return true;                    /* relative (or empty) */
	scheme[s] = '\0';
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0 ||
	    strcmp(scheme, "mailto") == 0 || strcmp(scheme, "tel") == 0)
		return true;
	if (strcmp(scheme, "data") == 0) {
		static const char *ok[] = {
			"data:image/png;", "data:image/png,", "data:image/gif;", "data:image/gif,",
			"data:image/jpeg;", "data:image/jpeg,", "data:image/webp;", "data:image/webp,",
		};
		for (size_t i = 0; i < BW_ARRAY_LEN(ok); i++)
			if (md_starts_ci(p, n, ok[i]))
				return true;
	}
	return false;
}

/* Writes the href value of an allowed, trimmed URL. */
static void md_put_url(struct md_walk *w, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (md_is_url_ws(c))
			continue;
		if (c == '&') {
			md_puts(w, "&amp;");
		} else if (md_url_safe(c)) {
			md_put(w, (const char *)&p[i], 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			md_put(w, e, 3);
		}
	}
}

/* ---- mentions ----------------------------------------------------------- */

static bool md_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool md_is_name_char(unsigned char c)
{
	return md_is_alnum(c) || c == '.' || c == '_' || c == '-';
}

/* Is there a mention at s[i] == '@'?  On yes, *name_len is the length of
 * the name after '@' (trailing dots excluded). */
static bool md_mention_at(const char *s, size_t n, size_t i, size_t *name_len)
{
	if (i > 0) {
		unsigned char prev = (unsigned char)s[i - 1];
		if (md_is_alnum(prev) || (prev && strchr("_.+-/@", prev)))
			return false;
	}
	size_t j = i + 1;
	while (j < n && md_is_name_char((unsigned char)s[j]))
		j++;
	size_t end = j;
	while (end > i + 1 && s[end - 1] == '.')
		end--;
	size_t len = end - (i + 1);
	if (len < 3 || len > MARKDOWN_NAME_MAX || !md_is_alnum((unsigned char)s[i + 1]))
		return false;
	if (end == j && j < n && s[j] == '@')
		return false;                   /* looks like @user@host */
	*name_len = len;
	return true;
}

static void md_mention_record(struct md_walk *w, const char *lower, size_t len, bool all)
{
	if (all) {
		w->all = true;
		return;
	}
	if (!w->names)
		return;
	for (int k = 0; k < w->names_n; k++)
		if (strcmp(w->names[k], lower) == 0)
			return;
	if (w->names_n >= w->names_max)
		return;
	memcpy(w->names[w->names_n], lower, len + 1);
	w->names_n++;
}

/* Text node: escaped text with mentions turned into spans. */
static void md_render_text(struct md_walk *w, const char *s)
{
	size_t n = strlen(s), run = 0, i = 0;
	while (i < n) {
		const char *at = memchr(s + i, '@', n - i);
		if (!at)
			break;
		i = (size_t)(at - s);
		size_t len = 0;
		if (!md_mention_at(s, n, i, &len)) {
			i++;
			continue;
		}
		char lower[MARKDOWN_NAME_MAX + 1];
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)s[i + 1 + k];
			lower[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		lower[len] = '\0';
		bool all = strcmp(lower, "all") == 0;
		md_mention_record(w, lower, len, all);

		md_put_escaped(w, s + run, i - run);
		if (all) {
			md_puts(w, "<span class=\"mention mention-all\">");
		} else {
			md_puts(w, "<span class=\"mention\" data-user=\"");
			md_put_escaped(w, lower, len);
			md_puts(w, "\">");
		}
		md_put_escaped(w, s + i, len + 1);
		md_puts(w, "</span>");
		i += len + 1;
		run = i;
	}
	md_put_escaped(w, s + run, n - run);
}

/* ---- the walk ----------------------------------------------------------- */

static void md_put_literal(struct md_walk *w, cmark_node *node)
{
	const char *lit = cmark_node_get_literal(node);
	if (lit)
		md_put_escaped(w, lit, strlen(lit));
}

/* <a href=... [title=...] [class=...] rel target> for an allowed URL. */
static void md_open_a(struct md_walk *w, cmark_node *node, const char *p, size_t n,
                      const char *cls)
{
	md_puts(w, "<a href=\"");
	md_put_url(w, p, n);
	md_puts(w, "\"");
	const char *title = cmark_node_get_title(node);
	if (title && *title) {
		md_puts(w, " title=\"");
		md_put_escaped(w, title, strlen(title));
		md_puts(w, "\"");
	}
	if (cls) {
		md_puts(w, " class=\"");
		md_puts(w, cls);
		md_puts(w, "\"");
	}
	md_puts(w, MD_REL ">");
	/* an empty link text would be an invisible link: show the URL */
	if (!cmark_node_first_child(node))
		md_put_escaped(w, p, n);
}

static void md_link(struct md_walk *w, cmark_node *node, bool entering, bool image)
{
	if (!entering) {
		const void *mark = cmark_node_get_user_data(node);
		if (mark == md_mark_a || mark == md_mark_a_plain) {
			md_puts(w, "</a>");
			w->in_a--;
		}
		if (mark == md_mark_plain || mark == md_mark_a_plain)
			w->plain--;
		return;
	}
	const char *mark = md_mark_none;
	const char *url = cmark_node_get_url(node);
	const char *p = "";
	size_t n = 0;
	if (url)
		md_url_trim(url, &p, &n);
	bool open = w->plain == 0 && w->in_a == 0 && n > 0 && md_url_allowed(p, n);
	if (open) {
		md_open_a(w, node, p, n, image ? "image-link" : NULL);
		w->in_a++;
		mark = md_mark_a;
	}
	if (image) {
		w->plain++;
		mark = open ? md_mark_a_plain : md_mark_plain;
	}
	cmark_node_set_user_data(node, (void *)mark);
}

static void md_node(struct md_walk *w, cmark_node *node, cmark_event_type ev)
{
	bool entering = ev == CMARK_EVENT_ENTER;
	cmark_node_type type = cmark_node_get_type(node);

	if (w->plain > 0 && type != CMARK_NODE_IMAGE && type != CMARK_NODE_LINK) {
		switch (type) {
		case CMARK_NODE_TEXT:
		case CMARK_NODE_CODE:
		case CMARK_NODE_HTML_INLINE:
			md_put_literal(w, node);
			break;
		case CMARK_NODE_SOFTBREAK:
		case CMARK_NODE_LINEBREAK:
			md_put(w, " ", 1);
			break;
		default:
			break;
		}
		return;
	}

	switch (type) {
	case CMARK_NODE_BLOCK_QUOTE:
		md_cr(w);
		md_puts(w, entering ? "<blockquote>\n" : "</blockquote>\n");
		break;
	case CMARK_NODE_LIST:
		if (entering) {
			md_cr(w);
			if (cmark_node_get_list_type(node) != CMARK_ORDERED_LIST) {
				md_puts(w, "<ul>\n");
			} else {
				int start = cmark_node_get_list_start(node);
				char b[32];
				if (start == 1)
					snprintf(b, sizeof b, "<ol>\n");
				else
					snprintf(b, sizeof b, "<ol start=\"%d\">\n", start);
				md_puts(w, b);
			}
		} else {
			md_puts(w, cmark_node_get_list_type(node) == CMARK_ORDERED_LIST ? "</ol>\n"
			                                                                 : "</ul>\n");
		}
		break;
	case CMARK_NODE_ITEM:
		if (entering) {
			md_cr(w);
			md_puts(w, "<li>");
		} else {
			md_puts(w, "</li>\n");
		}
		break;
	case CMARK_NODE_HEADING:
		if (entering) {
			md_cr(w);
			md_puts(w, "<p><strong>");
		} else {
			md_puts(w, "</strong></p>\n");
		}
		break;
	case CMARK_NODE_CODE_BLOCK: {
		md_cr(w);
		md_puts(w, "<pre><code");
		const char *info = cmark_node_get_fence_info(node);
		size_t il = 0;
		/* first word of the info string, limited to a harmless class name */
		while (info && info[il] && il < 32 &&
		       (md_is_alnum((unsigned char)info[il]) || strchr("_+#.-", info[il])))
			il++;
		if (il > 0) {
			md_puts(w, " class=\"language-");
			md_put_escaped(w, info, il);
			md_puts(w, "\"");
		}
		md_puts(w, ">");
		md_put_literal(w, node);
		md_puts(w, "</code></pre>\n");
		break;
	}
	case CMARK_NODE_HTML_BLOCK: {
		/* raw HTML is shown as text, never passed through */
		const char *lit = cmark_node_get_literal(node);
		size_t l = lit ? strlen(lit) : 0;
		while (l > 0 && (lit[l - 1] == '\n' || lit[l - 1] == '\r'))
			l--;
		md_cr(w);
		md_puts(w, "<p>");
		if (l)
			md_put_escaped(w, lit, l);
		md_puts(w, "</p>\n");
		break;
	}
	case CMARK_NODE_THEMATIC_BREAK:
		md_cr(w);
		md_puts(w, "<hr />\n");
		break;
	case CMARK_NODE_PARAGRAPH: {
		cmark_node *gp = cmark_node_parent(cmark_node_parent(node));
		bool tight = gp && cmark_node_get_type(gp) == CMARK_NODE_LIST &&
		             cmark_node_get_list_tight(gp);
		if (tight)
			break;
		if (entering) {
			md_cr(w);
			md_puts(w, "<p>");
		} else {
			md_puts(w, "</p>\n");
		}
		break;
	}
	case CMARK_NODE_TEXT: {
		const char *lit = cmark_node_get_literal(node);
		if (lit)
			md_render_text(w, lit);
		break;
	}
	case CMARK_NODE_SOFTBREAK:
	case CMARK_NODE_LINEBREAK:
		md_puts(w, "<br />\n");
		break;
	case CMARK_NODE_CODE:
		md_puts(w, "<code>");
		md_put_literal(w, node);
		md_puts(w, "</code>");
		break;
	case CMARK_NODE_HTML_INLINE:
		md_put_literal(w, node);
		break;
	case CMARK_NODE_EMPH:
		md_puts(w, entering ? "<em>" : "</em>");
		break;
	case CMARK_NODE_STRONG:
		md_puts(w, entering ? "<strong>" : "</strong>");
		break;
	case CMARK_NODE_LINK:
	case CMARK_NODE_IMAGE:
		md_link(w, node, entering, type == CMARK_NODE_IMAGE);
		break;
	default:
		/* document, custom nodes (never produced by the parser): children only */
		break;
	}
}

/* Parses and walks md; w says what to produce. */
static int md_run(const char *md, size_t len, struct md_walk *w)
{
	if (!md && len)
		return BW_EINVAL;
	if (len > MARKDOWN_IN_MAX)
		return BW_ETOOBIG;
	if (len && !bw_utf8_valid(md, len, true))
		return BW_EINVAL;

	cmark_node *doc = cmark_parse_document(len ? md : "", len, CMARK_OPT_DEFAULT);
	if (!doc)
		return BW_ENOMEM;
	cmark_consolidate_text_nodes(doc);
	cmark_iter *it = cmark_iter_new(doc);
	if (!it) {
		cmark_node_free(doc);
		return BW_ENOMEM;
	}
	cmark_event_type ev;
	while (!w->err && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE)
		md_node(w, cmark_iter_get_node(it), ev);
	cmark_iter_free(it);
	cmark_node_free(doc);
	return w->err;
}

int markdown_render(const char *md, size_t len, char **out, size_t *out_len)
{
	struct bw_buf b;
	struct md_walk w = { 0 };
	int rc;

	if (!out || !out_len)
		return BW_EINVAL;
	bw_buf_init(&b, MARKDOWN_OUT_MAX);
	rc = bw_buf_append(&b, "", 0);  /* "" for empty input, never NULL */
	if (rc)
		goto out;
	w.out = &b;
	rc = md_run(md, len, &w);
	if (rc)
		goto out;
	*out = (char *)b.data;
	*out_len = b.len;
	return 0;
out:
	bw_buf_free(&b, false);
	return rc;
}

int markdown_mentions(const char *md, size_t len, char (*names)[MARKDOWN_NAME_MAX + 1], int max,
                      int *n, bool *all)
{
	struct md_walk w = { 0 };
	int rc;

	if (max < 0 || !n || !all || (max > 0 && !names))
		return BW_EINVAL;
	int cap = max < MD_MENTIONS_CAP ? max : MD_MENTIONS_CAP;
	w.names_max = cap;
	if (cap > 0) {
		w.names = calloc((size_t)cap, sizeof *w.names);
		if (!w.names)
			return BW_ENOMEM;
	}
	rc = md_run(md, len, &w);
	if (rc)
		goto out;
	if (w.names_n)
		memcpy(names, w.names, (size_t)w.names_n * sizeof *w.names);
	*n = w.names_n;
	*all = w.all;
out:
	free(w.names);
	return rc;
}
