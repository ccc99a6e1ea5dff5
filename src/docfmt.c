/*
 * docfmt.c — Quill document delta ⇄ Markdown, delta → HTML page, for
 * document import/export (RG-DOC-a…h export, RG-DATA-a watermarking by
 * the caller).  The rules are in docfmt.h.
 *
 * How:
 *  - Import: libcmark parses; one iterative cmark_iter walk (no recursion,
 *    so deep nesting is only heap) pushes text runs and line ends into a
 *    "sink" that merges adjacent runs with equal attributes (canonical
 *    Delta form) and turns them into ops.
 *  - Export: the delta is validated and cut into lines of segments (a
 *    text piece or embed with its inline attributes); a renderer gets each
 *    line with its line attributes.  Inline formatting is written by one
 *    mark-stack walk (link outermost, then the marks that last longest),
 *    so tags always nest properly.
 *  - Markdown export checks every line: the line's inline Markdown is
 *    parsed back with the import walker into a serialisation sink and
 *    compared with what the segments say.  When CommonMark's flanking
 *    rules would misread "**"/"*", the line is written with <strong>/<em>
 *    tags, and failing that as plain escaped text.  So export is correct
 *    by check, not by hope.
 *
 * Invariants:
 *  - every output byte derived from input passes an escaper: dfm_html_esc
 *    (HTML text and attributes), dfm_md_text / dfm_md_code / dfm_md_url
 *    (Markdown);
 *  - a link is only ever written for a URL that passed dfm_url_allowed;
 *  - every buffer is a bw_buf with a hard maximum (DOCFMT_OUT_MAX, or
 *    OT_DOC_MAX for a run of text); the first append error is latched and
 *    returned;
 *  - segment text points into the borrowed delta (valid for the call) or
 *    into the Markdown writer's per-line copy; the sink copies what it
 *    keeps.
 *
 * Memory: all temporaries are freed before return; results are handed to
 * the caller (see docfmt.h).
 */
#include "docfmt.h"
#include "ot.h"
#include "util.h"

#include <cmark.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef BW_TESTING
unsigned long docfmt_test_fallbacks[3];
#define DFM_COUNT(i) __atomic_fetch_add(&docfmt_test_fallbacks[i], 1, __ATOMIC_RELAXED)
#else
#define DFM_COUNT(i) ((void)0)
#endif

/* line kinds */
enum { DFM_PARA, DFM_HEADER, DFM_LIST, DFM_QUOTE, DFM_CODE, DFM_NONE, DFM_WM };
/* list kinds */
enum { DFM_BULLET = 1, DFM_ORDERED, DFM_CHECKED, DFM_UNCHECKED };

/* inline flags */
#define DFM_F_BOLD 1u
#define DFM_F_ITALIC 2u
#define DFM_F_UNDER 4u
#define DFM_F_STRIKE 8u
#define DFM_F_CODE 16u
#define DFM_F_EMPH (DFM_F_BOLD | DFM_F_ITALIC | DFM_F_UNDER | DFM_F_STRIKE)

/* marks in nesting order, outermost first */
enum { DFM_M_LINK, DFM_M_STRIKE, DFM_M_UNDER, DFM_M_BOLD, DFM_M_ITALIC, DFM_MARKS };
static const unsigned dfm_mark_flag[DFM_MARKS] = {
	0, DFM_F_STRIKE, DFM_F_UNDER, DFM_F_BOLD, DFM_F_ITALIC,
};

/* Markdown line forms, best first */
enum { DFM_MODE_MD, DFM_MODE_TAGS, DFM_MODE_PLAIN };

#define DFM_LANG_MAX 32
#define DFM_WM_REPEAT 160               /* overlay copies of the watermark */
#define DFM_SEGS_MAX ((size_t)OT_DOC_OPS_MAX * 3 + 16)
static const char dfm_hr[] = "\xe2\x80\x94\xe2\x80\x94\xe2\x80\x94";  /* ——— */

struct dfm_inline {
	unsigned flags;
	const char *link;               /* allowed URL (NUL-terminated) or NULL */
};

struct dfm_line {
	int kind;
	int header;                     /* 1..6 for DFM_HEADER */
	int list;                       /* DFM_BULLET… for DFM_LIST */
	int indent;                     /* 0..DOCFMT_INDENT_MAX for DFM_LIST */
	char lang[DFM_LANG_MAX + 1];    /* DFM_CODE language, "" = none */
};

/* ---- small helpers ------------------------------------------------------ */

struct dfm_out {
	struct bw_buf b;
	int err;
};

static void out_init(struct dfm_out *o, size_t max)
{
	bw_buf_init(&o->b, max);
	o->err = bw_buf_append(&o->b, "", 0);   /* never NULL data */
}

static void out_put(struct dfm_out *o, const void *p, size_t n)
{
	if (o->err || n == 0)
		return;
	int rc = bw_buf_append(&o->b, p, n);
	if (rc)
		o->err = rc;
}

static void out_puts(struct dfm_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_free(struct dfm_out *o)
{
	bw_buf_free(&o->b, false);
}

/* Hands the buffer to the caller (on success). */
static int out_take(struct dfm_out *o, char **out, size_t *out_len)
{
	if (o->err)
		return o->err;
	*out = (char *)o->b.data;
	*out_len = o->b.len;
	o->b.data = NULL;
	return 0;
}

static bool dfm_starts_ci(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && strncasecmp(p, lit, l) == 0;
}

/* Link allowlist (docfmt.h): http://, https://, mailto:, no controls. */
static bool dfm_url_allowed(const char *u, size_t n)
{
	if (!u || n == 0 || n > DOCFMT_URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return dfm_starts_ci(u, n, "http://") || dfm_starts_ci(u, n, "https://") ||
	       dfm_starts_ci(u, n, "mailto:");
}

/* An inline image we may show in HTML: base64 PNG/GIF/JPEG/WebP only. */
static bool dfm_data_image(const char *u, size_t n)
{
	static const char *pre[] = {
		"data:image/png;base64,", "data:image/gif;base64,",
		"data:image/jpeg;base64,", "data:image/webp;base64,",
	};
	for (size_t k = 0; k < BW_ARRAY_LEN(pre); k++) {
		if (!dfm_starts_ci(u, n, pre[k]))
			continue;
		for (size_t i = strlen(pre[k]); i < n; i++) {
			char c = u[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
				return false;
		}
		return true;
	}
	return false;
}

/* Copies a code language into lang when it is [A-Za-z0-9_+#.-]{1,32}. */
static bool dfm_lang_copy(const char *s, size_t n, char lang[DFM_LANG_MAX + 1])
{
	if (n == 0 || n > DFM_LANG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (c && strchr("_+#.-", c))))
			return false;
	}
	memcpy(lang, s, n);
	lang[n] = '\0';
	return true;
}

/* Code point of valid UTF-8 at p (n > 0 bytes left); *len its bytes. */
static uint32_t dfm_utf8_at(const char *p, size_t n, size_t *len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t l = s[0] < 0x80 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (l > n)
		l = n;
	uint32_t cp = l == 1 ? s[0] : l == 2 ? s[0] & 0x1fu : l == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
	for (size_t i = 1; i < l; i++)
		cp = (cp << 6) | (s[i] & 0x3fu);
	*len = l;
	return cp;
}

/* CommonMark "Unicode whitespace" (Zs plus tab, LF, FF, CR). */
static bool dfm_is_uws(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == 0xa0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

/* ---- the sink: runs of text and line ends, merged ------------------------ */

/* Run kinds: without attributes (text or plain line ends: these merge,
 * as in Delta's canonical form), text with inline attributes, line ends
 * with line attributes. */
enum { DFM_RUN_PLAIN, DFM_RUN_TEXT, DFM_RUN_LINE };

struct dfm_sink {
	bool have;                      /* a pending run */
	int pk;                         /* its kind: DFM_RUN_* */
	struct dfm_inline in;
	struct dfm_line ln;
	struct bw_buf text;             /* pending run's bytes */
	json_t *ops;                    /* JSON sink … */
	struct dfm_out *ser;            /* … or serialisation sink */
	size_t payload, nops;
	int err;
};

static void sink_init(struct dfm_sink *s, json_t *ops, struct dfm_out *ser)
{
	memset(s, 0, sizeof *s);
	bw_buf_init(&s->text, OT_DOC_MAX);
	s->ops = ops;
	s->ser = ser;
}

static void sink_free(struct dfm_sink *s)
{
	bw_buf_free(&s->text, false);
}

static bool inline_eq(const struct dfm_inline *a, const struct dfm_inline *b)
{
	if (a->flags != b->flags)
		return false;
	if (!a->link || !b->link)
		return a->link == b->link;
	return strcmp(a->link, b->link) == 0;
}

static bool line_eq(const struct dfm_line *a, const struct dfm_line *b)
{
	return a->kind == b->kind && a->header == b->header && a->list == b->list &&
	       a->indent == b->indent && strcmp(a->lang, b->lang) == 0;
}

static const char *dfm_list_name(int list)
{
	switch (list) {
	case DFM_ORDERED: return "ordered";
	case DFM_CHECKED: return "checked";
	case DFM_UNCHECKED: return "unchecked";
	default: return "bullet";
	}
}

/* Adds attribute key with value v (stolen) and counts it like ot.c. */
static int sink_attr(struct dfm_sink *s, json_t *attrs, const char *key, json_t *v)
{
	if (!v)
		return BW_ENOMEM;
	s->payload += strlen(key) + (json_is_string(v) ? json_string_length(v) : 8);
	if (json_object_set_new(attrs, key, v))
		return BW_ENOMEM;
	return 0;
}

static int sink_flush_json(struct dfm_sink *s)
{
	const char *t = s->text.data ? (const char *)s->text.data : "";
	int rc = BW_ENOMEM;
	if (!bw_utf8_valid(t, s->text.len, true))
		return BW_EINVAL;               /* cannot happen: input was checked */
	if (s->nops >= OT_DOC_OPS_MAX)
		return BW_ETOOBIG;
	json_t *op = json_object();
	json_t *attrs = json_object();
	if (!op || !attrs)
		goto out;
	if (json_object_set_new(op, "insert", json_stringn(t, s->text.len)))
		goto out;
	s->payload += s->text.len;
	rc = 0;
	if (s->pk == DFM_RUN_TEXT) {
		static const struct { unsigned f; const char *k; } fl[] = {
			{ DFM_F_BOLD, "bold" }, { DFM_F_ITALIC, "italic" },
			{ DFM_F_UNDER, "underline" }, { DFM_F_STRIKE, "strike" },
			{ DFM_F_CODE, "code" },
		};
		for (size_t i = 0; i < BW_ARRAY_LEN(fl) && !rc; i++)
			if (s->in.flags & fl[i].f)
				rc = sink_attr(s, attrs, fl[i].k, json_true());
		if (!rc && s->in.link)
			rc = sink_attr(s, attrs, "link", json_string(s->in.link));
	} else if (s->pk == DFM_RUN_LINE) {
		switch (s->ln.kind) {
		case DFM_HEADER:
			rc = sink_attr(s, attrs, "header", json_integer(s->ln.header));
			break;
		case DFM_LIST:
			rc = sink_attr(s, attrs, "list", json_string(dfm_list_name(s->ln.list)));
			if (!rc && s->ln.indent > 0)
				rc = sink_attr(s, attrs, "indent", json_integer(s->ln.indent));
			break;
		case DFM_QUOTE:
			rc = sink_attr(s, attrs, "blockquote", json_true());
			break;
		case DFM_CODE:
			rc = sink_attr(s, attrs, "code-block",
			               s->ln.lang[0] ? json_string(s->ln.lang) : json_true());
			break;
		default:
			break;
		}
	}
	if (rc)
		goto out;
	if (s->payload > OT_DOC_MAX) {
		rc = BW_ETOOBIG;
		goto out;
	}
	if (json_object_size(attrs) > 0 && json_object_set(op, "attributes", attrs)) {
		rc = BW_ENOMEM;
		goto out;
	}
	if (json_array_append(s->ops, op))
		rc = BW_ENOMEM;
	else
		s->nops++;
out:
	json_decref(attrs);
	json_decref(op);
	return rc;
}

/* Serialisation used to compare two runs lists (Markdown check).  Text
 * holds no C0 controls but tab (CR/LF are mapped), so \1 \2 separate. */
static int sink_flush_ser(struct dfm_sink *s)
{
	struct dfm_out *o = s->ser;
	char h[64];
	if (s->pk == DFM_RUN_LINE)
		snprintf(h, sizeof h, "N%d.%d.%d.%d.", s->ln.kind, s->ln.header, s->ln.list,
		         s->ln.indent);
	else if (s->pk == DFM_RUN_TEXT)
		snprintf(h, sizeof h, "T%u.", s->in.flags);
	else
		snprintf(h, sizeof h, "P.");
	out_puts(o, h);
	if (s->pk == DFM_RUN_LINE)
		out_puts(o, s->ln.lang);
	else if (s->pk == DFM_RUN_TEXT && s->in.link)
		out_puts(o, s->in.link);
	out_put(o, "\1", 1);
	out_put(o, s->text.data, s->text.len);
	out_put(o, "\2", 1);
	return o->err;
}

static int sink_flush(struct dfm_sink *s)
{
	if (!s->have || s->err)
		return s->err;
	int rc = s->ops ? sink_flush_json(s) : sink_flush_ser(s);
	s->text.len = 0;
	s->have = false;
	if (rc)
		s->err = rc;
	return s->err;
}

/* Appends text mapping what a Quill line cannot hold: CR/LF → space,
 * other C0 controls and DEL → U+FFFD. */
static void sink_append_clean(struct dfm_sink *s, const char *p, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n && !s->err; i++) {
		unsigned char c = (unsigned char)p[i];
		const char *rep;
		if (c == '\n' || c == '\r')
			rep = " ";
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			rep = "\xef\xbf\xbd";
		else
			continue;
		int rc = bw_buf_append(&s->text, p + run, i - run);
		if (!rc)
			rc = bw_buf_append(&s->text, rep, strlen(rep));
		if (rc)
			s->err = rc;
		run = i + 1;
	}
	if (!s->err) {
		int rc = bw_buf_append(&s->text, p + run, n - run);
		if (rc)
			s->err = rc;
	}
}

static void sink_text(struct dfm_sink *s, const char *p, size_t n, const struct dfm_inline *in)
{
	if (s->err || n == 0)
		return;
	int pk = in->flags || in->link ? DFM_RUN_TEXT : DFM_RUN_PLAIN;
	if (!(s->have && s->pk == pk && (pk == DFM_RUN_PLAIN || inline_eq(&s->in, in)))) {
		if (sink_flush(s))
			return;
		s->have = true;
		s->pk = pk;
		s->in = *in;
	}
	sink_append_clean(s, p, n);
}

static void sink_nl(struct dfm_sink *s, const struct dfm_line *ln)
{
	if (s->err)
		return;
	int pk = ln->kind == DFM_PARA ? DFM_RUN_PLAIN : DFM_RUN_LINE;
	if (!(s->have && s->pk == pk && (pk == DFM_RUN_PLAIN || line_eq(&s->ln, ln)))) {
		if (sink_flush(s))
			return;
		s->have = true;
		s->pk = pk;
		s->ln = *ln;
	}
	int rc = bw_buf_append(&s->text, "\n", 1);
	if (rc)
		s->err = rc;
}

/* ---- Markdown import: the cmark walk ------------------------------------ */

enum { DFM_H_BOLD, DFM_H_ITALIC, DFM_H_UNDER, DFM_H_STRIKE, DFM_H_N };

struct dfm_imp {
	struct dfm_sink *sink;
	int list_depth;                 /* LIST nodes around the walk position */
	int strong, emph;
	int html[DFM_H_N];              /* open raw-HTML formatting tags */
	const char *link;               /* current link URL or NULL */
	struct dfm_line ln;             /* the current leaf's line attributes */
	cmark_node *task;               /* text node starting with "[x] " */
	const char *src;                /* the Markdown source … */
	size_t src_len;
	size_t *lines;                  /* … its line start offsets (lazily) */
	size_t nlines;
	int err;
};

/* The source bytes at a block's 1-based (line, column), or NULL.  The
 * line table is built the first time it is needed. */
static const char *imp_src_at(struct dfm_imp *w, int line, int col, size_t *left)
{
	if (!w->lines && !w->err) {
		size_t n = 1;
		for (size_t i = 0; i < w->src_len; i++)
			n += w->src[i] == '\n' || (w->src[i] == '\r' &&
			                           (i + 1 == w->src_len || w->src[i + 1] != '\n'));
		w->lines = malloc(n * sizeof *w->lines);
		if (!w->lines) {
			w->err = BW_ENOMEM;
			return NULL;
		}
		w->lines[0] = 0;
		w->nlines = 1;
		for (size_t i = 0; i < w->src_len && w->nlines < n; i++)
			if (w->src[i] == '\n' || (w->src[i] == '\r' &&
			                          (i + 1 == w->src_len || w->src[i + 1] != '\n')))
				w->lines[w->nlines++] = i + 1;
	}
	if (!w->lines || line < 1 || (size_t)line > w->nlines || col < 1)
		return NULL;
	size_t at = w->lines[line - 1] + (size_t)col - 1;
	if (at >= w->src_len)
		return NULL;
	*left = w->src_len - at;
	return w->src + at;
}

static void imp_text(struct dfm_imp *w, const char *s, size_t n, unsigned extra)
{
	struct dfm_inline in = { extra, w->link };
	if (w->strong > 0 || w->html[DFM_H_BOLD] > 0)
		in.flags |= DFM_F_BOLD;
	if (w->emph > 0 || w->html[DFM_H_ITALIC] > 0)
		in.flags |= DFM_F_ITALIC;
	if (w->html[DFM_H_UNDER] > 0)
		in.flags |= DFM_F_UNDER;
	if (w->html[DFM_H_STRIKE] > 0)
		in.flags |= DFM_F_STRIKE;
	sink_text(w->sink, s, n, &in);
}

/* Line attributes a leaf block gets from its container (its parent). */
static void imp_leaf_line(struct dfm_imp *w, cmark_node *leaf, struct dfm_line *ln)
{
	memset(ln, 0, sizeof *ln);
	cmark_node *p = cmark_node_parent(leaf);
	cmark_node_type t = p ? cmark_node_get_type(p) : CMARK_NODE_NONE;
	if (t == CMARK_NODE_ITEM) {
		cmark_node *list = cmark_node_parent(p);
		ln->kind = DFM_LIST;
		ln->list = list && cmark_node_get_list_type(list) == CMARK_ORDERED_LIST ? DFM_ORDERED
		                                                                        : DFM_BULLET;
		int ind = w->list_depth - 1;
		ln->indent = ind < 0 ? 0 : ind > DOCFMT_INDENT_MAX ? DOCFMT_INDENT_MAX : ind;
	} else if (t == CMARK_NODE_BLOCK_QUOTE) {
		ln->kind = DFM_QUOTE;
	} else {
		ln->kind = DFM_PARA;
	}
}

static void imp_code_block(struct dfm_imp *w, cmark_node *node)
{
	struct dfm_line ln;
	memset(&ln, 0, sizeof ln);
	ln.kind = DFM_CODE;
	const char *info = cmark_node_get_fence_info(node);
	if (info) {
		size_t l = strcspn(info, " \t");
		dfm_lang_copy(info, l, ln.lang);
	}
	const char *lit = cmark_node_get_literal(node);
	size_t n = lit ? strlen(lit) : 0;
	size_t i = 0;
	if (n == 0) {
		sink_nl(w->sink, &ln);
		return;
	}
	while (i < n && !w->sink->err) {
		const char *nl = memchr(lit + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - lit) : n;
		size_t l = e - i;
		if (l > 0 && lit[i + l - 1] == '\r')
			l--;
		imp_text(w, lit + i, l, 0);
		sink_nl(w->sink, &ln);
		i = e + 1;
	}
}

/* The raw-HTML tags we understand (docfmt.h); others are dropped. */
static void imp_html_inline(struct dfm_imp *w, cmark_node *node)
{
	static const struct { const char *tag; int which; int delta; } tags[] = {
		{ "<b>", DFM_H_BOLD, 1 }, { "</b>", DFM_H_BOLD, -1 },
		{ "<strong>", DFM_H_BOLD, 1 }, { "</strong>", DFM_H_BOLD, -1 },
		{ "<i>", DFM_H_ITALIC, 1 }, { "</i>", DFM_H_ITALIC, -1 },
		{ "<em>", DFM_H_ITALIC, 1 }, { "</em>", DFM_H_ITALIC, -1 },
		{ "<u>", DFM_H_UNDER, 1 }, { "</u>", DFM_H_UNDER, -1 },
		{ "<ins>", DFM_H_UNDER, 1 }, { "</ins>", DFM_H_UNDER, -1 },
		{ "<s>", DFM_H_STRIKE, 1 }, { "</s>", DFM_H_STRIKE, -1 },
		{ "<del>", DFM_H_STRIKE, 1 }, { "</del>", DFM_H_STRIKE, -1 },
		{ "<strike>", DFM_H_STRIKE, 1 }, { "</strike>", DFM_H_STRIKE, -1 },
	};
	const char *lit = cmark_node_get_literal(node);
	if (!lit)
		return;
	if (!strcasecmp(lit, "<br>") || !strcasecmp(lit, "<br/>") || !strcasecmp(lit, "<br />")) {
		sink_nl(w->sink, &w->ln);
		return;
	}
	for (size_t i = 0; i < BW_ARRAY_LEN(tags); i++) {
		if (strcasecmp(lit, tags[i].tag) != 0)
			continue;
		int *c = &w->html[tags[i].which];
		if (tags[i].delta > 0)
			(*c)++;
		else if (*c > 0)
			(*c)--;
		return;
	}
}

/* Links and images: the URL (when allowed) becomes the link of the text
 * inside; the previous link is kept in the node's user_data for EXIT. */
static void imp_link(struct dfm_imp *w, cmark_node *node, bool entering)
{
	if (!entering) {
		w->link = cmark_node_get_user_data(node);
		return;
	}
	cmark_node_set_user_data(node, (void *)w->link);
	const char *url = cmark_node_get_url(node);
	if (url && dfm_url_allowed(url, strlen(url))) {
		w->link = url;
		if (!cmark_node_first_child(node))
			imp_text(w, url, strlen(url), 0);   /* no text: show the URL */
	}
}

/* A task-list item (GFM): a bullet item's first paragraph starting with
 * "[ ] " or "[x] " is an unchecked / checked list line. */
static void imp_task(struct dfm_imp *w, cmark_node *para)
{
	cmark_node *item = cmark_node_parent(para);
	cmark_node *first = cmark_node_first_child(para);
	const char *lit = first ? cmark_node_get_literal(first) : NULL;
	w->task = NULL;
	if (w->ln.kind != DFM_LIST || w->ln.list != DFM_BULLET || !item ||
	    cmark_node_first_child(item) != para || cmark_node_get_type(first) != CMARK_NODE_TEXT ||
	    !lit || strlen(lit) < 4 || lit[0] != '[' || lit[2] != ']' || lit[3] != ' ')
		return;
	/* as written, not "\[x\]" */
	size_t left = 0;
	const char *raw = imp_src_at(w, cmark_node_get_start_line(para),
	                             cmark_node_get_start_column(para), &left);
	if (!raw || left < 4 || memcmp(raw, lit, 4) != 0)
		return;
	if (lit[1] == ' ')
		w->ln.list = DFM_UNCHECKED;
	else if (lit[1] == 'x' || lit[1] == 'X')
		w->ln.list = DFM_CHECKED;
	else
		return;
	w->task = first;
}

static void imp_node(struct dfm_imp *w, cmark_node *node, cmark_event_type ev)
{
	bool entering = ev == CMARK_EVENT_ENTER;
	const char *lit;

	switch (cmark_node_get_type(node)) {
	case CMARK_NODE_LIST:
		w->list_depth += entering ? 1 : -1;
		break;
	case CMARK_NODE_PARAGRAPH:
	case CMARK_NODE_HEADING:
		if (entering) {
			imp_leaf_line(w, node, &w->ln);
			if (cmark_node_get_type(node) == CMARK_NODE_HEADING) {
				int lv = cmark_node_get_heading_level(node);
				w->ln.kind = DFM_HEADER;
				w->ln.header = lv < 1 ? 1 : lv > 6 ? 6 : lv;
				w->ln.list = w->ln.indent = 0;
			}
			memset(w->html, 0, sizeof w->html);
			w->strong = w->emph = 0;
			w->link = NULL;
			imp_task(w, node);
		} else {
			sink_nl(w->sink, &w->ln);
		}
		break;
	case CMARK_NODE_CODE_BLOCK:
		imp_code_block(w, node);
		break;
	case CMARK_NODE_THEMATIC_BREAK:
		imp_leaf_line(w, node, &w->ln);
		w->link = NULL;
		memset(w->html, 0, sizeof w->html);
		w->strong = w->emph = 0;
		imp_text(w, dfm_hr, strlen(dfm_hr), 0);
		sink_nl(w->sink, &w->ln);
		break;
	case CMARK_NODE_TEXT:
		if ((lit = cmark_node_get_literal(node))) {
			size_t skip = node == w->task ? 4 : 0;
			imp_text(w, lit + skip, strlen(lit) - skip, 0);
		}
		break;
	case CMARK_NODE_CODE:
		if ((lit = cmark_node_get_literal(node)))
			imp_text(w, lit, strlen(lit), DFM_F_CODE);
		break;
	case CMARK_NODE_SOFTBREAK:
		imp_text(w, " ", 1, 0);
		break;
	case CMARK_NODE_LINEBREAK:
		sink_nl(w->sink, &w->ln);
		break;
	case CMARK_NODE_HTML_INLINE:
		imp_html_inline(w, node);
		break;
	case CMARK_NODE_EMPH:
		w->emph += entering ? 1 : -1;
		break;
	case CMARK_NODE_STRONG:
		w->strong += entering ? 1 : -1;
		break;
	case CMARK_NODE_LINK:
	case CMARK_NODE_IMAGE:
		imp_link(w, node, entering);
		break;
	default:
		/* document, block quote, item: children only; HTML blocks dropped */
		break;
	}
}

/* Parses md (valid UTF-8, checked by the caller) into the sink. */
static int imp_run(const char *md, size_t len, struct dfm_sink *sink)
{
	struct dfm_imp w;
	memset(&w, 0, sizeof w);
	w.sink = sink;
	w.src = md;
	w.src_len = len;
	cmark_node *root = cmark_parse_document(len ? md : "", len, CMARK_OPT_DEFAULT);
	if (!root)
		return BW_ENOMEM;
	cmark_consolidate_text_nodes(root);
	cmark_iter *it = cmark_iter_new(root);
	if (!it) {
		cmark_node_free(root);
		return BW_ENOMEM;
	}
	cmark_event_type ev;
	while (!sink->err && !w.err && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE)
		imp_node(&w, cmark_iter_get_node(it), ev);
	cmark_iter_free(it);
	sink_flush(sink);               /* before the tree (and its URLs) goes */
	cmark_node_free(root);
	free(w.lines);
	return w.err ? w.err : sink->err;
}

int docfmt_from_markdown(const char *md, size_t len, json_t **doc)
{
	struct dfm_sink sink;
	int rc;

	if (!doc || (!md && len))
		return BW_EINVAL;
	if (len > DOCFMT_MD_MAX)
		return BW_ETOOBIG;
	if (len && !bw_utf8_valid(md, len, true))
		return BW_EINVAL;
	json_t *ops = json_array();
	json_t *res = json_object();
	if (!ops || !res) {
		json_decref(ops);
		json_decref(res);
		return BW_ENOMEM;
	}
	sink_init(&sink, ops, NULL);
	rc = imp_run(md, len, &sink);
	if (rc)
		goto out;
	/* a document always ends with "\n" */
	size_t n = json_array_size(ops);
	const char *last = n ? json_string_value(json_object_get(json_array_get(ops, n - 1),
	                                                         "insert")) : NULL;
	if (!last || !*last || last[strlen(last) - 1] != '\n') {
		struct dfm_line para;
		memset(&para, 0, sizeof para);
		sink_nl(&sink, &para);
		rc = sink_flush(&sink);
		if (rc)
			goto out;
	}
	if (json_object_set(res, "ops", ops)) {
		rc = BW_ENOMEM;
		goto out;
	}
	*doc = res;
	res = NULL;
out:
	sink_free(&sink);
	json_decref(ops);
	json_decref(res);
	return rc;
}

/* ---- export: the delta, cut into lines of segments ----------------------- */

struct dfm_seg {
	const char *p;                  /* text, valid UTF-8 without '\n' */
	size_t n;
	struct dfm_inline a;
	const char *img;                /* data: image for <img>, or NULL */
	size_t run[DFM_MARKS];          /* segments the mark lasts from here */
};

typedef int (*dfm_line_fn)(void *ctx, struct dfm_seg *segs, size_t n, const struct dfm_line *ln);

/* A boolean attribute: true → on; false, null, absent → off; else EINVAL. */
static int dfm_attr_bool(const json_t *attrs, const char *key, bool *on)
{
	const json_t *v = json_object_get(attrs, key);
	*on = false;
	if (!v || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_true(v)) {
		*on = true;
		return 0;
	}
	return BW_EINVAL;
}

static int dfm_parse_inline(const json_t *attrs, struct dfm_inline *in, size_t *bytes)
{
	static const struct { const char *k; unsigned f; } fl[] = {
		{ "bold", DFM_F_BOLD }, { "italic", DFM_F_ITALIC }, { "underline", DFM_F_UNDER },
		{ "strike", DFM_F_STRIKE }, { "code", DFM_F_CODE },
	};
	memset(in, 0, sizeof *in);
	if (!attrs)
		return 0;
	for (size_t i = 0; i < BW_ARRAY_LEN(fl); i++) {
		bool on;
		if (dfm_attr_bool(attrs, fl[i].k, &on))
			return BW_EINVAL;
		if (on)
			in->flags |= fl[i].f;
	}
	const json_t *link = json_object_get(attrs, "link");
	if (link && !json_is_null(link)) {
		if (!json_is_string(link))
			return BW_EINVAL;
		const char *u = json_string_value(link);
		size_t n = json_string_length(link);
		*bytes += n;
		if (strlen(u) == n && dfm_url_allowed(u, n))
			in->link = u;
	}
	return 0;
}

static int dfm_parse_line(const json_t *attrs, struct dfm_line *ln)
{
	memset(ln, 0, sizeof *ln);
	ln->kind = DFM_PARA;
	if (!attrs)
		return 0;
	bool code = false, quote = false;
	int header = 0, list = 0;
	const json_t *v = json_object_get(attrs, "code-block");
	if (v && !json_is_null(v)) {
		if (json_is_string(v)) {
			code = true;
			dfm_lang_copy(json_string_value(v), json_string_length(v), ln->lang);
		} else if (json_is_boolean(v)) {
			code = json_is_true(v);
		} else {
			return BW_EINVAL;
		}
	}
	v = json_object_get(attrs, "header");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v))
			return BW_EINVAL;
		json_int_t h = json_integer_value(v);
		if (h >= 1 && h <= 6)
			header = (int)h;
	}
	v = json_object_get(attrs, "list");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return BW_EINVAL;
		const char *s = json_string_value(v);
		list = !strcmp(s, "bullet") ? DFM_BULLET : !strcmp(s, "ordered") ? DFM_ORDERED :
		       !strcmp(s, "checked") ? DFM_CHECKED : !strcmp(s, "unchecked") ? DFM_UNCHECKED : 0;
	}
	v = json_object_get(attrs, "indent");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v))
			return BW_EINVAL;
		json_int_t i = json_integer_value(v);
		ln->indent = i < 0 ? 0 : i > DOCFMT_INDENT_MAX ? DOCFMT_INDENT_MAX : (int)i;
	}
	if (dfm_attr_bool(attrs, "blockquote", &quote))
		return BW_EINVAL;

	if (code) {
		ln->kind = DFM_CODE;
	} else if (header) {
		ln->kind = DFM_HEADER;
		ln->header = header;
	} else if (list) {
		ln->kind = DFM_LIST;
		ln->list = list;
	} else if (quote) {
		ln->kind = DFM_QUOTE;
	}
	if (ln->kind != DFM_LIST)
		ln->indent = 0;
	if (ln->kind != DFM_CODE)
		ln->lang[0] = '\0';
	return 0;
}

struct dfm_segs {
	struct dfm_seg *v;
	size_t n, cap;
};

static int segs_push(struct dfm_segs *s, const struct dfm_seg *seg)
{
	if (s->n == s->cap) {
		if (s->cap >= DFM_SEGS_MAX)
			return BW_ETOOBIG;
		size_t cap = s->cap ? s->cap * 2 : 64;
		if (cap > DFM_SEGS_MAX)
			cap = DFM_SEGS_MAX;
		struct dfm_seg *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return BW_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *seg;
	return 0;
}

/* An embed as a segment (docfmt.h). */
static int dfm_embed_seg(const json_t *ins, const struct dfm_inline *in, struct dfm_seg *seg,
                         size_t *bytes)
{
	memset(seg, 0, sizeof *seg);
	seg->a = *in;
	seg->p = "[embed]";
	const json_t *img = json_object_get(ins, "image");
	if (img) {
		if (!json_is_string(img))
			return BW_EINVAL;
		const char *u = json_string_value(img);
		size_t n = json_string_length(img);
		*bytes += n;
		seg->p = "[image]";
		if (strlen(u) == n && dfm_url_allowed(u, n)) {
			seg->p = "image";
			seg->a.link = u;
		} else if (strlen(u) == n && dfm_data_image(u, n)) {
			seg->img = u;
		}
	}
	seg->n = strlen(seg->p);
	return 0;
}

/* Validates doc and calls fn for each line (docfmt.h: malformed deltas). */
static int dfm_walk(const json_t *doc, dfm_line_fn fn, void *ctx)
{
	const json_t *ops = !doc ? NULL : json_is_array(doc) ? doc : json_object_get(doc, "ops");
	struct dfm_segs segs = { 0 };
	size_t bytes = 0;
	int rc = 0;

	if (!json_is_array(ops))
		return BW_EINVAL;
	if (json_array_size(ops) > OT_DOC_OPS_MAX)
		return BW_ETOOBIG;
	for (size_t i = 0; i < json_array_size(ops) && !rc; i++) {
		const json_t *op = json_array_get(ops, i);
		const json_t *ins = json_object_get(op, "insert");
		const json_t *attrs = json_object_get(op, "attributes");
		struct dfm_inline in;
		struct dfm_line ln;
		struct dfm_seg seg;

		if (!json_is_object(op) || !ins || json_object_get(op, "retain") ||
		    json_object_get(op, "delete") || (attrs && !json_is_object(attrs) &&
		                                      !json_is_null(attrs))) {
			rc = BW_EINVAL;
			break;
		}
		if (attrs && json_is_null(attrs))
			attrs = NULL;
		if ((rc = dfm_parse_inline(attrs, &in, &bytes)) || (rc = dfm_parse_line(attrs, &ln)))
			break;
		if (json_is_object(ins)) {
			if ((rc = dfm_embed_seg(ins, &in, &seg, &bytes)))
				break;
			rc = segs_push(&segs, &seg);
		} else if (json_is_string(ins)) {
			const char *t = json_string_value(ins);
			size_t n = json_string_length(ins), at = 0;
			if (!bw_utf8_valid(t, n, true)) {
				rc = BW_EINVAL;
				break;
			}
			bytes += n;
			while (at < n && !rc) {
				const char *nl = memchr(t + at, '\n', n - at);
				size_t e = nl ? (size_t)(nl - t) : n;
				if (e > at) {
					memset(&seg, 0, sizeof seg);
					seg.p = t + at;
					seg.n = e - at;
					seg.a = in;
					rc = segs_push(&segs, &seg);
				}
				if (!rc && nl) {
					rc = fn(ctx, segs.v, segs.n, &ln);
					segs.n = 0;
				}
				at = e + 1;
			}
		} else {
			rc = BW_EINVAL;
		}
		if (!rc && bytes > OT_DOC_MAX)
			rc = BW_ETOOBIG;
	}
	if (!rc && segs.n > 0) {
		struct dfm_line para;
		memset(&para, 0, sizeof para);
		rc = fn(ctx, segs.v, segs.n, &para);
	}
	free(segs.v);
	return rc;
}

/* ---- inline formatting: the mark-stack walk ----------------------------- */

struct dfm_tok {
	void (*open)(void *ctx, int mark, const char *link);
	void (*close)(void *ctx, int mark, const char *link);
	void (*text)(void *ctx, const struct dfm_seg *s, bool last);
	void *ctx;
};

static bool tok_active(const struct dfm_tok *t, const struct dfm_seg *s, int m)
{
	if (m == DFM_M_LINK)
		return s->a.link != NULL;
	return (s->a.flags & dfm_mark_flag[m]) != 0;
}

static bool tok_same(const struct dfm_tok *t, const struct dfm_seg *a, const struct dfm_seg *b,
                     int m)
{
	if (!tok_active(t, a, m) || !tok_active(t, b, m))
		return false;
	return m != DFM_M_LINK || strcmp(a->a.link, b->a.link) == 0;
}

/* Writes segs[0..n) as tokens: every mark opens and closes properly
 * nested; the link is always the outermost. */
static void dfm_inline_walk(struct dfm_seg *segs, size_t n, const struct dfm_tok *t)
{
	int stack[DFM_MARKS];
	const char *slink = NULL;       /* URL of the open link */
	int depth = 0;

	for (size_t i = n; i-- > 0;)
		for (int m = 0; m < DFM_MARKS; m++)
			segs[i].run[m] = !tok_active(t, &segs[i], m) ? 0 :
			                 i + 1 < n && tok_same(t, &segs[i], &segs[i + 1], m)
			                 ? segs[i + 1].run[m] + 1 : 1;
	for (size_t i = 0; i < n; i++) {
		const struct dfm_seg *s = &segs[i];
		bool want_link = tok_active(t, s, DFM_M_LINK);
		int k = 0;
		while (k < depth && tok_active(t, s, stack[k]) &&
		       (stack[k] != DFM_M_LINK || strcmp(slink, s->a.link) == 0))
			k++;
		if (want_link && !(depth > 0 && stack[0] == DFM_M_LINK && k > 0))
			k = 0;                  /* a new link encloses everything */
		while (depth > k) {
			depth--;
			t->close(t->ctx, stack[depth], slink);
		}
		if (want_link && depth == 0) {
			stack[depth++] = DFM_M_LINK;
			slink = s->a.link;
			t->open(t->ctx, DFM_M_LINK, slink);
		}
		/* the other wanted marks, the longest-lasting outermost */
		int add[DFM_MARKS], na = 0;
		for (int m = DFM_M_STRIKE; m < DFM_MARKS; m++) {
			if (!tok_active(t, s, m))
				continue;
			bool open = false;
			for (int d = 0; d < depth; d++)
				open |= stack[d] == m;
			if (!open)
				add[na++] = m;
		}
		for (int a = 1; a < na; a++)
			for (int b = a; b > 0 && s->run[add[b]] > s->run[add[b - 1]]; b--) {
				int x = add[b];
				add[b] = add[b - 1];
				add[b - 1] = x;
			}
		for (int a = 0; a < na; a++) {
			stack[depth++] = add[a];
			t->open(t->ctx, add[a], NULL);
		}
		t->text(t->ctx, s, i + 1 == n);
	}
	while (depth > 0) {
		depth--;
		t->close(t->ctx, stack[depth], slink);
	}
}

/* ---- Markdown export ---------------------------------------------------- */

struct dfm_md {
	struct dfm_out out;             /* the document */
	struct dfm_out line;            /* one line's inline Markdown */
	struct dfm_out code;            /* pending fenced block body */
	struct dfm_out want, got;       /* parse-back check */
	struct dfm_segs ws;             /* segments after whitespace moves */
	struct dfm_out text;            /* their text */
	int mode;
	bool heading;                   /* escape every '#' */
	int prev;                       /* kind of the last block written */
	bool code_open;
	char code_lang[DFM_LANG_MAX + 1];
	int list_depth;                 /* open list levels */
	int list_type[DOCFMT_INDENT_MAX + 1];
	long list_num[DOCFMT_INDENT_MAX + 1];
	size_t list_col[DOCFMT_INDENT_MAX + 1];
};

static bool md_is_ws_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Escaped Markdown text (rules in docfmt.h).  at_start: first bytes of
 * the line; at_end: nothing follows on the line. */
static void dfm_md_text(struct dfm_md *m, struct dfm_out *o, const char *p, size_t n,
                        bool at_start, bool at_end)
{
	size_t i = 0, end = n;
	if (at_start) {
		for (; i < n && md_is_ws_byte(p[i]); i++)
			out_puts(o, p[i] == '\t' ? "&#9;" : "&#32;");
		if (i < n && strchr("#-+=", p[i])) {
			out_put(o, "\\", 1);
			out_put(o, p + i, 1);
			i++;
		} else {
			size_t j = i;
			while (j < n && j - i < 12 && p[j] >= '0' && p[j] <= '9')
				j++;
			if (j > i && j < n && (p[j] == '.' || p[j] == ')')) {
				out_put(o, p + i, j - i);
				out_put(o, "\\", 1);
				out_put(o, p + j, 1);
				i = j + 1;
			}
		}
	}
	if (at_end)
		while (end > i && md_is_ws_byte(p[end - 1]))
			end--;
	size_t run = i;
	for (; i < end; i++) {
		char c = p[i];
		bool esc = strchr("\\`*_[]<>&~", c) != NULL || (c == '#' && m->heading);
		if (!esc && c != '\r')
			continue;
		out_put(o, p + run, i - run);
		if (c == '\r') {
			out_put(o, " ", 1);
		} else {
			out_put(o, "\\", 1);
			out_put(o, &c, 1);
		}
		run = i + 1;
	}
	out_put(o, p + run, end - run);
	for (i = end; i < n; i++)
		out_puts(o, p[i] == '\t' ? "&#9;" : "&#32;");
}

/* A code span whose fence no backtick run inside can close. */
static void dfm_md_code(struct dfm_out *o, const char *p, size_t n)
{
	size_t best = 0, cur = 0;
	bool all_space = true;
	for (size_t i = 0; i < n; i++) {
		cur = p[i] == '`' ? cur + 1 : 0;
		if (cur > best)
			best = cur;
		if (p[i] != ' ')
			all_space = false;
	}
	size_t fence = best + 1;
	bool pad = n > 0 && (p[0] == '`' || p[n - 1] == '`' ||
	                     (p[0] == ' ' && p[n - 1] == ' ' && !all_space));
	for (size_t k = 0; k < fence; k++)
		out_put(o, "`", 1);
	if (pad)
		out_put(o, " ", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r')
			continue;
		out_put(o, p + run, i - run);
		out_put(o, " ", 1);
		run = i + 1;
	}
	out_put(o, p + run, n - run);
	if (pad)
		out_put(o, " ", 1);
	for (size_t k = 0; k < fence; k++)
		out_put(o, "`", 1);
}

/* A link destination <…> with < > \ & backslash-escaped. */
static void dfm_md_url(struct dfm_out *o, const char *u)
{
	out_put(o, "<", 1);
	for (; *u; u++) {
		if (strchr("<>\\&", *u))
			out_put(o, "\\", 1);
		out_put(o, u, 1);
	}
	out_put(o, ">", 1);
}

static void md_tok_open(void *ctx, int mark, const char *link)
{
	struct dfm_md *m = ctx;
	bool md = m->mode == DFM_MODE_MD;
	switch (mark) {
	case DFM_M_LINK:
		/* "![" would be an image: a '!' from the text before is escaped */
		if (m->line.b.len && m->line.b.data[m->line.b.len - 1] == '!') {
			m->line.b.len--;
			out_puts(&m->line, "\\!");
		}
		out_put(&m->line, "[", 1);
		break;
	case DFM_M_STRIKE: out_puts(&m->line, "<s>"); break;
	case DFM_M_UNDER: out_puts(&m->line, "<u>"); break;
	case DFM_M_BOLD: out_puts(&m->line, md ? "**" : "<strong>"); break;
	default: out_puts(&m->line, md ? "*" : "<em>"); break;
	}
}

static void md_tok_close(void *ctx, int mark, const char *link)
{
	struct dfm_md *m = ctx;
	bool md = m->mode == DFM_MODE_MD;
	switch (mark) {
	case DFM_M_LINK:
		out_puts(&m->line, "](");
		dfm_md_url(&m->line, link);
		out_put(&m->line, ")", 1);
		break;
	case DFM_M_STRIKE: out_puts(&m->line, "</s>"); break;
	case DFM_M_UNDER: out_puts(&m->line, "</u>"); break;
	case DFM_M_BOLD: out_puts(&m->line, md ? "**" : "</strong>"); break;
	default: out_puts(&m->line, md ? "*" : "</em>"); break;
	}
}

/* Segments are merged (md_split_ws), so only the first can start the
 * line and only the last, when unformatted, can end it. */
static void md_tok_text(void *ctx, const struct dfm_seg *s, bool last)
{
	struct dfm_md *m = ctx;
	if (s->a.flags & DFM_F_CODE) {
		dfm_md_code(&m->line, s->p, s->n);
		return;
	}
	bool closers = (s->a.flags & DFM_F_EMPH) || s->a.link;
	dfm_md_text(m, &m->line, s->p, s->n, m->line.b.len == 0, last && !closers);
}

/* Appends a piece to m->ws, merged with the previous one when the inline
 * attributes are equal, so the segments of a line are canonical (the
 * escaping of a piece depends on its neighbours).  Text is copied into
 * m->text; seg.p holds an offset until md_split_ws fixes it up. */
static int md_ws_push(struct dfm_md *m, const char *p, size_t n, const struct dfm_inline *a)
{
	struct dfm_seg *last = m->ws.n ? &m->ws.v[m->ws.n - 1] : NULL;
	size_t off = m->text.b.len;
	out_put(&m->text, p, n);
	if (m->text.err)
		return m->text.err;
	if (last && inline_eq(&last->a, a)) {
		last->n += n;
		return 0;
	}
	struct dfm_seg seg;
	memset(&seg, 0, sizeof seg);
	seg.p = (const char *)(uintptr_t)off;
	seg.n = n;
	seg.a = *a;
	return segs_push(&m->ws, &seg);
}

/* Moves whitespace at the edges of emphasised runs out of them; in plain
 * mode drops every inline attribute. */
static int md_split_ws(struct dfm_md *m, const struct dfm_seg *segs, size_t n, bool plain)
{
	int rc = 0;
	m->ws.n = 0;
	m->text.b.len = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct dfm_seg *s = &segs[i];
		struct dfm_inline a = s->a, bare = s->a;
		if (plain)
			memset(&a, 0, sizeof a);
		bare.flags &= ~DFM_F_EMPH;
		if (plain || (a.flags & DFM_F_CODE) || !(a.flags & DFM_F_EMPH)) {
			rc = md_ws_push(m, s->p, s->n, &a);
			continue;
		}
		size_t lead = 0, trail = s->n, l;
		while (lead < s->n && dfm_is_uws(dfm_utf8_at(s->p + lead, s->n - lead, &l)))
			lead += l;
		while (trail > lead) {
			size_t st = trail - 1;
			while (st > lead && ((unsigned char)s->p[st] & 0xc0) == 0x80)
				st--;
			if (!dfm_is_uws(dfm_utf8_at(s->p + st, trail - st, &l)))
				break;
			trail = st;
		}
		if (lead == s->n) {             /* all whitespace */
			rc = md_ws_push(m, s->p, s->n, &bare);
			continue;
		}
		if (lead > 0)
			rc = md_ws_push(m, s->p, lead, &bare);
		if (!rc)
			rc = md_ws_push(m, s->p + lead, trail - lead, &a);
		if (!rc && trail < s->n)
			rc = md_ws_push(m, s->p + trail, s->n - trail, &bare);
	}
	for (size_t i = 0; i < m->ws.n; i++)
		m->ws.v[i].p = (const char *)m->text.b.data + (uintptr_t)m->ws.v[i].p;
	return rc;
}

/* What the line must parse back to in the current mode. */
static int md_expect(struct dfm_md *m)
{
	struct dfm_sink sink;
	struct dfm_line para;
	memset(&para, 0, sizeof para);
	m->want.b.len = 0;
	sink_init(&sink, NULL, &m->want);
	for (size_t i = 0; i < m->ws.n; i++) {
		const struct dfm_seg *s = &m->ws.v[i];
		sink_text(&sink, s->p, s->n, &s->a);
	}
	sink_nl(&sink, &para);
	int rc = sink_flush(&sink);
	sink_free(&sink);
	return rc ? rc : m->want.err;
}

/* Does the line's Markdown parse back to what we meant? */
static int md_check(struct dfm_md *m, bool *ok)
{
	struct dfm_sink sink;
	int rc = md_expect(m);
	if (rc)
		return rc;
	m->got.b.len = 0;
	sink_init(&sink, NULL, &m->got);
	rc = imp_run((const char *)m->line.b.data, m->line.b.len, &sink);
	sink_free(&sink);
	if (rc == BW_ETOOBIG || rc == BW_EINVAL) {
		*ok = false;            /* cannot represent: treat as a mismatch */
		return 0;
	}
	if (rc || (rc = m->got.err))
		return rc;
	*ok = m->got.b.len == m->want.b.len &&
	      memcmp(m->got.b.data, m->want.b.data, m->got.b.len) == 0;
	return 0;
}

/* Writes a line's inline Markdown into m->line, checked (see top). */
static int md_inline(struct dfm_md *m, const struct dfm_seg *segs, size_t n)
{
	struct dfm_tok t = { md_tok_open, md_tok_close, md_tok_text, m };
	int rc;

	m->line.b.len = 0;
	for (m->mode = DFM_MODE_MD; m->mode <= DFM_MODE_PLAIN; m->mode++) {
		bool ok = false;
		if (m->mode != DFM_MODE_TAGS &&
		    (rc = md_split_ws(m, segs, n, m->mode == DFM_MODE_PLAIN)))
			return rc;
		if (m->ws.n == 0)
			return 0;
		m->line.b.len = 0;
		m->line.b.data[0] = '\0';
		dfm_inline_walk(m->ws.v, m->ws.n, &t);
		if (m->line.err)
			return m->line.err;
		if ((rc = md_check(m, &ok)))
			return rc;
		if (ok)
			return 0;
		if (m->mode < DFM_MODE_PLAIN)
			DFM_COUNT(m->mode);
	}
	DFM_COUNT(2);                   /* plain text failed the check: a bug */
	return 0;
}

/* The blank line (or quote continuation) before a block of kind. */
static void md_separate(struct dfm_md *m, int kind)
{
	if (m->prev == DFM_NONE)
		return;
	if (m->prev == DFM_LIST && kind == DFM_LIST)
		return;                 /* tight list */
	out_puts(&m->out, m->prev == DFM_QUOTE && kind == DFM_QUOTE ? ">\n" : "\n");
}

static void md_code_flush(struct dfm_md *m)
{
	if (!m->code_open)
		return;
	const char *p = (const char *)m->code.b.data;
	size_t n = m->code.b.len, best = 0, cur = 0;
	for (size_t i = 0; i < n; i++) {
		cur = p[i] == '`' ? cur + 1 : 0;
		if (cur > best)
			best = cur;
	}
	size_t fence = best + 1 < 3 ? 3 : best + 1;
	md_separate(m, DFM_CODE);
	for (size_t k = 0; k < fence; k++)
		out_put(&m->out, "`", 1);
	out_puts(&m->out, m->code_lang);
	out_put(&m->out, "\n", 1);
	out_put(&m->out, p, n);
	for (size_t k = 0; k < fence; k++)
		out_put(&m->out, "`", 1);
	out_put(&m->out, "\n", 1);
	m->code_open = false;
	m->code.b.len = 0;
	m->prev = DFM_CODE;
	m->list_depth = 0;
}

static void md_code_line(struct dfm_md *m, const struct dfm_seg *segs, size_t n,
                         const struct dfm_line *ln)
{
	if (m->code_open && strcmp(m->code_lang, ln->lang) != 0)
		md_code_flush(m);
	if (!m->code_open) {
		m->code_open = true;
		memcpy(m->code_lang, ln->lang, sizeof m->code_lang);
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = segs[i].p;
		size_t run = 0;
		for (size_t k = 0; k < segs[i].n; k++) {
			if (p[k] != '\r')
				continue;
			out_put(&m->code, p + run, k - run);
			run = k + 1;
		}
		out_put(&m->code, p + run, segs[i].n - run);
	}
	out_put(&m->code, "\n", 1);
}

/* The list marker for a list line; updates the list state. */
static void md_list_prefix(struct dfm_md *m, const struct dfm_line *ln)
{
	int depth = m->prev == DFM_LIST ? m->list_depth : 0;
	int lv = ln->indent < depth ? ln->indent : depth;
	int type = ln->list == DFM_ORDERED ? DFM_ORDERED : DFM_BULLET;
	if (lv < depth && m->list_type[lv] == type) {
		m->list_num[lv]++;
	} else {
		if (lv == 0 && depth > 0)
			out_put(&m->out, "\n", 1);     /* a new top-level list */
		m->list_type[lv] = type;
		m->list_num[lv] = 1;
	}
	m->list_depth = lv + 1;
	size_t col = lv > 0 ? m->list_col[lv - 1] : 0;
	for (size_t k = 0; k < col; k++)
		out_put(&m->out, " ", 1);
	char mk[32];
	if (type == DFM_ORDERED)
		snprintf(mk, sizeof mk, "%ld. ", m->list_num[lv]);
	else
		snprintf(mk, sizeof mk, "- ");
	out_puts(&m->out, mk);
	m->list_col[lv] = col + strlen(mk);
	if (ln->list == DFM_CHECKED)
		out_puts(&m->out, "[x] ");
	else if (ln->list == DFM_UNCHECKED)
		out_puts(&m->out, "[ ] ");
}

static int md_line(void *ctx, struct dfm_seg *segs, size_t n, const struct dfm_line *ln)
{
	struct dfm_md *m = ctx;
	int rc;

	if (ln->kind == DFM_CODE) {
		md_code_line(m, segs, n, ln);
		return m->code.err;
	}
	m->heading = ln->kind == DFM_HEADER;
	if ((rc = md_inline(m, segs, n)))
		return rc;
	if (m->line.b.len == 0)
		return m->out.err;      /* empty lines are omitted */
	md_code_flush(m);
	md_separate(m, ln->kind);
	switch (ln->kind) {
	case DFM_HEADER:
		for (int k = 0; k < ln->header; k++)
			out_put(&m->out, "#", 1);
		out_put(&m->out, " ", 1);
		break;
	case DFM_LIST:
		md_list_prefix(m, ln);
		break;
	case DFM_QUOTE:
		out_puts(&m->out, "> ");
		break;
	default:
		break;
	}
	if (ln->kind != DFM_LIST)
		m->list_depth = 0;
	out_put(&m->out, m->line.b.data, m->line.b.len);
	out_put(&m->out, "\n", 1);
	m->prev = ln->kind;
	return m->out.err;
}

/* Checks a title/watermark: UTF-8 (tab/CR/LF allowed), at most max. */
static int dfm_check_str(const char *s, size_t max)
{
	if (!s)
		return 0;
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return BW_ETOOBIG;
	return bw_utf8_valid(s, n, true) ? 0 : BW_EINVAL;
}

static void md_watermark(struct dfm_md *m, const char *wm)
{
	char buf[DOCFMT_WATERMARK_MAX + 1];
	size_t n = strlen(wm);
	for (size_t i = 0; i < n; i++)
		buf[i] = wm[i] == '\t' || wm[i] == '\r' || wm[i] == '\n' ? ' ' : wm[i];
	m->heading = false;
	out_puts(&m->out, "> **Watermark:** ");
	dfm_md_text(m, &m->out, buf, n, false, true);
	out_put(&m->out, "\n", 1);
}

int docfmt_to_markdown(const json_t *doc, const char *watermark, char **out, size_t *out_len)
{
	struct dfm_md m;
	int rc;

	if (!doc || !out || !out_len)
		return BW_EINVAL;
	if ((rc = dfm_check_str(watermark, DOCFMT_WATERMARK_MAX)))
		return rc;
	memset(&m, 0, sizeof m);
	out_init(&m.out, DOCFMT_OUT_MAX);
	out_init(&m.line, DOCFMT_OUT_MAX);
	out_init(&m.code, DOCFMT_OUT_MAX);
	out_init(&m.want, DOCFMT_OUT_MAX);
	out_init(&m.got, DOCFMT_OUT_MAX);
	out_init(&m.text, DOCFMT_OUT_MAX);
	m.prev = DFM_NONE;
	if (watermark) {
		md_watermark(&m, watermark);
		m.prev = DFM_WM;
	}
	rc = dfm_walk(doc, md_line, &m);
	if (rc)
		goto out;
	md_code_flush(&m);
	if (watermark) {
		md_separate(&m, DFM_WM);
		md_watermark(&m, watermark);
	}
	rc = out_take(&m.out, out, out_len);
out:
	out_free(&m.out);
	out_free(&m.line);
	out_free(&m.code);
	out_free(&m.want);
	out_free(&m.got);
	out_free(&m.text);
	free(m.ws.v);
	return rc;
}

/* ---- HTML export -------------------------------------------------------- */

struct dfm_html {
	struct dfm_out out;
	int open;                       /* container: DFM_NONE/QUOTE/CODE/LIST */
	char code_lang[DFM_LANG_MAX + 1];
	int depth;                      /* open list levels */
	int type[DOCFMT_INDENT_MAX + 1];
};

static void dfm_html_esc(struct dfm_out *o, const char *p, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		out_put(o, p + run, i - run);
		out_puts(o, rep);
		run = i + 1;
	}
	out_put(o, p + run, n - run);
}

static void html_tok_open(void *ctx, int mark, const char *link)
{
	struct dfm_html *h = ctx;
	switch (mark) {
	case DFM_M_LINK:
		out_puts(&h->out, "<a href=\"");
		dfm_html_esc(&h->out, link, strlen(link));
		out_puts(&h->out, "\" rel=\"noopener noreferrer\">");
		break;
	case DFM_M_STRIKE: out_puts(&h->out, "<s>"); break;
	case DFM_M_UNDER: out_puts(&h->out, "<u>"); break;
	case DFM_M_BOLD: out_puts(&h->out, "<strong>"); break;
	default: out_puts(&h->out, "<em>"); break;
	}
}

static void html_tok_close(void *ctx, int mark, const char *link)
{
	struct dfm_html *h = ctx;
	static const char *tags[DFM_MARKS] = { "</a>", "</s>", "</u>", "</strong>", "</em>" };
	out_puts(&h->out, tags[mark]);
}

static void html_tok_text(void *ctx, const struct dfm_seg *s, bool last)
{
	struct dfm_html *h = ctx;
	if (s->img) {
		out_puts(&h->out, "<img src=\"");
		dfm_html_esc(&h->out, s->img, strlen(s->img));
		out_puts(&h->out, "\" alt=\"image\">");
		return;
	}
	bool code = (s->a.flags & DFM_F_CODE) != 0;
	if (code)
		out_puts(&h->out, "<code>");
	dfm_html_esc(&h->out, s->p, s->n);
	if (code)
		out_puts(&h->out, "</code>");
}

static void html_inline(struct dfm_html *h, struct dfm_seg *segs, size_t n)
{
	struct dfm_tok t = { html_tok_open, html_tok_close, html_tok_text, h };
	if (n == 0)
		out_puts(&h->out, "<br>");
	else
		dfm_inline_walk(segs, n, &t);
}

static void html_close(struct dfm_html *h)
{
	switch (h->open) {
	case DFM_QUOTE:
		out_puts(&h->out, "</blockquote>\n");
		break;
	case DFM_CODE:
		out_puts(&h->out, "</code></pre>\n");
		break;
	case DFM_LIST:
		while (h->depth > 0) {
			h->depth--;
			out_puts(&h->out, h->type[h->depth] == DFM_ORDERED ? "</li></ol>\n" : "</li></ul>\n");
		}
		break;
	default:
		break;
	}
	h->open = DFM_NONE;
}

static void html_list_item(struct dfm_html *h, const struct dfm_line *ln)
{
	int type = ln->list == DFM_ORDERED ? DFM_ORDERED : DFM_BULLET;
	int lv = ln->indent < h->depth ? ln->indent : h->depth;
	while (h->depth > lv + 1) {
		h->depth--;
		out_puts(&h->out, h->type[h->depth] == DFM_ORDERED ? "</li></ol>\n" : "</li></ul>\n");
	}
	if (h->depth == lv + 1) {
		if (h->type[lv] != type) {
			h->depth--;
			out_puts(&h->out, h->type[lv] == DFM_ORDERED ? "</li></ol>\n" : "</li></ul>\n");
		} else {
			out_puts(&h->out, "</li>\n");
		}
	}
	if (h->depth == lv) {
		out_puts(&h->out, type == DFM_ORDERED ? "<ol>\n" : "<ul>\n");
		h->type[h->depth++] = type;
	}
	out_puts(&h->out, "<li>");
	if (ln->list == DFM_CHECKED)
		out_puts(&h->out, "\xe2\x98\x91 ");     /* ☑ */
	else if (ln->list == DFM_UNCHECKED)
		out_puts(&h->out, "\xe2\x98\x90 ");     /* ☐ */
}

static int html_line(void *ctx, struct dfm_seg *segs, size_t n, const struct dfm_line *ln)
{
	struct dfm_html *h = ctx;
	struct dfm_out *o = &h->out;
	char tag[8];

	if (h->open != ln->kind || (ln->kind == DFM_CODE && strcmp(h->code_lang, ln->lang) != 0))
		html_close(h);
	switch (ln->kind) {
	case DFM_CODE:
		if (h->open != DFM_CODE) {
			out_puts(o, "<pre><code");
			if (ln->lang[0]) {
				out_puts(o, " class=\"language-");
				dfm_html_esc(o, ln->lang, strlen(ln->lang));
				out_puts(o, "\"");
			}
			out_puts(o, ">");
			memcpy(h->code_lang, ln->lang, sizeof h->code_lang);
			h->open = DFM_CODE;
		} else {
			out_put(o, "\n", 1);
		}
		for (size_t i = 0; i < n; i++)
			dfm_html_esc(o, segs[i].p, segs[i].n);
		break;
	case DFM_HEADER:
		snprintf(tag, sizeof tag, "h%d>", ln->header);
		out_puts(o, "<");
		out_puts(o, tag);
		html_inline(h, segs, n);
		out_puts(o, "</");
		out_puts(o, tag);
		out_put(o, "\n", 1);
		break;
	case DFM_LIST:
		h->open = DFM_LIST;
		html_list_item(h, ln);
		html_inline(h, segs, n);
		break;
	case DFM_QUOTE:
		if (h->open != DFM_QUOTE) {
			out_puts(o, "<blockquote>\n");
			h->open = DFM_QUOTE;
		}
		out_puts(o, "<p>");
		html_inline(h, segs, n);
		out_puts(o, "</p>\n");
		break;
	default:
		out_puts(o, "<p>");
		html_inline(h, segs, n);
		out_puts(o, "</p>\n");
		break;
	}
	return o->err;
}

static const char dfm_html_head[] =
	"<!doctype html>\n"
	"<html>\n<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	"style-src 'unsafe-inline'; img-src data:\">\n"
	"<meta name=\"referrer\" content=\"no-referrer\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>";

static const char dfm_html_style[] =
	"</title>\n<style>\n"
	"body{font:16px/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\","
	"\"PingFang SC\",\"Microsoft YaHei\",sans-serif;max-width:48em;margin:2em auto;"
	"padding:0 1em;color:#1b1b1b;background:#fff}\n"
	"pre{background:#f4f4f4;padding:.75em 1em;overflow:auto;white-space:pre-wrap}\n"
	"code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}\n"
	"blockquote{margin:1em 0;padding:0 1em;border-left:4px solid #ccc;color:#555}\n"
	"img{max-width:100%}\n"
	"a{color:#0b57d0}\n";

static const char dfm_html_wm_style[] =
	".wm{position:fixed;top:-50%;left:-50%;width:200%;height:200%;z-index:2147483647;"
	"pointer-events:none;user-select:none;-webkit-user-select:none;overflow:hidden;"
	"display:flex;flex-wrap:wrap;align-content:flex-start;gap:5em 7em;padding:2em;"
	"transform:rotate(-30deg);opacity:.13;color:#000;font:600 22px/1.2 sans-serif}\n"
	".wm span{white-space:nowrap}\n"
	".wm-line{margin:.5em 0;padding:.3em .8em;border:1px dashed #999;color:#444;"
	"background:#fafafa;font-size:.9em}\n"
	"@media print{.wm{opacity:.18}}\n";

static void html_wm_line(struct dfm_out *o, const char *wm)
{
	out_puts(o, "<p class=\"wm-line\">Watermark: ");
	dfm_html_esc(o, wm, strlen(wm));
	out_puts(o, "</p>\n");
}

int docfmt_to_html(const json_t *doc, const char *title, const char *watermark, char **out,
                   size_t *out_len)
{
	struct dfm_html h;
	int rc;

	if (!doc || !out || !out_len)
		return BW_EINVAL;
	if ((rc = dfm_check_str(title, DOCFMT_TITLE_MAX)) ||
	    (rc = dfm_check_str(watermark, DOCFMT_WATERMARK_MAX)))
		return rc;
	memset(&h, 0, sizeof h);
	h.open = DFM_NONE;
	out_init(&h.out, DOCFMT_OUT_MAX);
	out_puts(&h.out, dfm_html_head);
	if (title)
		dfm_html_esc(&h.out, title, strlen(title));
	out_puts(&h.out, dfm_html_style);
	if (watermark)
		out_puts(&h.out, dfm_html_wm_style);
	out_puts(&h.out, "</style>\n</head>\n<body>\n");
	if (watermark) {
		out_puts(&h.out, "<div class=\"wm\" aria-hidden=\"true\">");
		for (int i = 0; i < DFM_WM_REPEAT; i++) {
			out_puts(&h.out, "<span>");
			dfm_html_esc(&h.out, watermark, strlen(watermark));
			out_puts(&h.out, "</span>");
		}
		out_puts(&h.out, "</div>\n");
		html_wm_line(&h.out, watermark);
	}
	out_puts(&h.out, "<main>\n");
	rc = dfm_walk(doc, html_line, &h);
	if (rc)
		goto out;
	html_close(&h);
	out_puts(&h.out, "</main>\n");
	if (watermark)
		html_wm_line(&h.out, watermark);
	out_puts(&h.out, "</body>\n</html>\n");
	rc = out_take(&h.out, out, out_len);
out:
	out_free(&h.out);
	return rc;
}
