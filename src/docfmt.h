/*
 * docfmt.h — conversion between Quill documents (Delta JSON {"ops":[...]})
 * and Markdown / HTML, for document import and export (RG-DOC-a…h export
 * of co-edited documents, RG-DATA-a: the caller adds the watermark that a
 * classification requires and refuses export where the label forbids it;
 * this module only converts — no permission checks, no audit).
 *
 * Document model (Quill 2 formats; everything else is ignored):
 *  - inline attributes on text inserts: bold, italic, underline, strike,
 *    code (true / false / null) and link (a string URL, or null);
 *  - line attributes on the "\n" that ends a line: header (integer 1..6),
 *    list ("bullet" | "ordered" | "checked" | "unchecked"), indent (integer,
 *    list nesting, clamped to 0..DOCFMT_INDENT_MAX), blockquote (true),
 *    code-block (true or a language string).  A line has one block kind;
 *    when several are set: code-block > header > list > blockquote;
 *  - embeds (insert objects): {"image": url} becomes a link to url when
 *    url is allowed (below), in HTML a data:image/(png|gif|jpeg|webp);base64
 *    image becomes an <img>; any other embed is the text "[embed]".
 *    Remote content is never loaded.
 *  - links are kept only for http://, https:// and mailto: URLs (scheme
 *    case-insensitive, no control characters, at most DOCFMT_URL_MAX bytes);
 *    any other link (javascript:, data:, relative, …) is dropped and its
 *    text kept, on import and on both exports.
 * A delta is malformed (BW_EINVAL) when: it is not {"ops":[...]} (a bare
 * [...] array is accepted too); an op is not an object, has retain/delete,
 * or an insert that is neither a string nor an object; text is not valid
 * UTF-8 or holds NUL/C0 controls other than tab, CR, LF; "attributes" is
 * neither an object nor null; a known attribute has the wrong type (bold
 * etc. not a boolean, link/list not a string, header/indent not an integer,
 * code-block neither boolean nor string, an image embed's URL not a
 * string).  Unknown values of the right type (header 9, list "foo") are
 * ignored.  More than OT_DOC_OPS_MAX ops or OT_DOC_MAX bytes of text and
 * URLs is BW_ETOOBIG.  A missing final "\n" is tolerated.
 *
 * Memory: every string result is malloc'd and NUL-terminated, freed by the
 * caller with free(); a json_t result is a new reference (json_decref).
 * Inputs are borrowed.  Out-parameters are written only on success.
 * Thread-safe (no shared state beyond test counters).
 */
#ifndef BW_DOCFMT_H
#define BW_DOCFMT_H

#include <stddef.h>
#include <jansson.h>

#define DOCFMT_MD_MAX (4 * 1024 * 1024)     /* Markdown import input bytes */
#define DOCFMT_OUT_MAX (64 * 1024 * 1024)   /* Markdown/HTML export bytes */
#define DOCFMT_TITLE_MAX 1024               /* HTML title bytes */
#define DOCFMT_WATERMARK_MAX 512            /* watermark text bytes */
#define DOCFMT_URL_MAX 8192                 /* bytes of a kept link URL */
#define DOCFMT_INDENT_MAX 8                 /* deepest list nesting (Quill's) */

/*
 * Markdown (CommonMark via libcmark, no extensions) → a Quill document
 * {"ops":[...]} (new reference in *doc), always ending with "\n", in
 * canonical form (adjacent inserts with equal attributes merged).
 *  - paragraphs → lines; headings (ATX, setext) → header; block quotes →
 *    blockquote; list items → list bullet/ordered with indent = nesting
 *    depth (capped at DOCFMT_INDENT_MAX; an item's every paragraph becomes
 *    its own list line; empty items are dropped; a bullet item whose text
 *    starts with "[ ] " / "[x] " as written is unchecked / checked);
 *    fenced and indented code → code-block lines (the fence's first info
 *    word as language when it matches [A-Za-z0-9_+#.-]{1,32}, else true);
 *    a block inside a list item or quote takes its own kind (a heading
 *    in a quote is a header);
 *    thematic break → a line "———" (three U+2014);
 *  - emphasis/strong/code spans/links → italic/bold/code/link; images →
 *    their alt text (or URL) linked to the image URL; soft line break →
 *    space; hard line break → a new line with the same line attributes;
 *  - raw HTML tags are dropped (the text between them is kept), except
 *    that the exact tags <b> <strong> <i> <em> <u> <ins> <s> <del>
 *    <strike> and their closing tags toggle bold, italic, underline,
 *    strike (what docfmt_to_markdown emits), and <br> is a hard line
 *    break; HTML blocks are dropped entirely;
 *  - control characters produced by entities become U+FFFD (CR/LF: space).
 * BW_ETOOBIG: len > DOCFMT_MD_MAX, or the result would exceed
 * OT_DOC_OPS_MAX ops or OT_DOC_MAX payload bytes (counted as src/ot.c
 * does); BW_EINVAL: md not valid UTF-8 (or NUL, C0 controls other than
 * tab/CR/LF, DEL; see bw_utf8_valid), doc NULL; BW_ENOMEM.
 * libcmark aborts on allocation failure (a libcmark limitation).
 */
int docfmt_from_markdown(const char *md, size_t len, json_t **doc);

/*
 * Document delta → CommonMark text (*out malloc'd, NUL-terminated,
 * *out_len bytes).  Blocks are separated by blank lines; header → "#"×n;
 * list items "- " / "1. " (numbers consecutive per list), nested by
 * indent, tight; checked/unchecked → "- [x] " / "- [ ] "; consecutive
 * blockquote lines → one quote ("> a\n>\n> b"); consecutive code-block
 * lines with the same language → one fenced block (fence longer than any
 * backtick run; CR dropped).  Empty non-code lines are omitted.
 * Inline: bold "**", italic "*", underline <u>…</u>, strike <s>…</s>,
 * code spans with a safe fence, links [text](<url>) with the URL
 * backslash-escaped.  Text escapes \ ` * _ [ ] < > & ~, '!' before a
 * link, '#' at the start of a line and everywhere in headings, - + = and
 * "1." / "1)" at the start of a line; leading/trailing spaces and tabs are
 * written as &#32; / &#9; so they survive; CR is written as a space.
 * Whitespace at the edges of bold/italic/underline/strike runs is moved
 * outside the markers.  Every line is checked by parsing it back; when the
 * "**"/"*" form would not round-trip (CommonMark flanking rules, e.g.
 * punctuation inside CJK text), that line uses <strong>/<em> instead, and
 * failing that, plain escaped text.  markdown → delta → markdown is
 * stable.
 * watermark: when non-NULL (tab/CR/LF shown as spaces), the first line is
 * "> **Watermark:** <text>" and the same is the last line (escaped).
 * BW_EINVAL: malformed delta (see top), watermark not valid UTF-8;
 * BW_ETOOBIG: limits above, watermark over DOCFMT_WATERMARK_MAX, output
 * over DOCFMT_OUT_MAX; BW_ENOMEM.
 */
int docfmt_to_markdown(const json_t *doc, const char *watermark, char **out, size_t *out_len);

/*
 * Document delta → a complete, self-contained HTML5 page (*out malloc'd,
 * NUL-terminated): <!doctype html>, <meta charset="utf-8">, the CSP
 * "default-src 'none'; style-src 'unsafe-inline'; img-src data:", a
 * no-referrer policy, <title> = title (NULL: empty), one inline <style>, no
 * script.  Body: h1..h6, p (an empty line is <p><br></p>), strong, em, u,
 * s, code, a href (allowed URLs only, rel="noopener noreferrer"), nested
 * ul/ol/li, blockquote (consecutive lines grouped, each a <p>),
 * pre><code class="language-x"> (consecutive code lines grouped), img for
 * data: images.  Every text and attribute value is HTML-escaped
 * (& < > " ').
 * watermark: when non-NULL, a fixed, semi-transparent, rotated overlay
 * repeating the text (CSS only, pointer-events none, also printed) plus a
 * visible "Watermark: <text>" line at the top and bottom of the body.
 * BW_EINVAL: malformed delta, title/watermark not valid UTF-8 (tab/CR/LF
 * allowed); BW_ETOOBIG: title over DOCFMT_TITLE_MAX, watermark over
 * DOCFMT_WATERMARK_MAX, output over DOCFMT_OUT_MAX, delta limits; BW_ENOMEM.
 */
int docfmt_to_html(const json_t *doc, const char *title, const char *watermark, char **out,
                   size_t *out_len);

#ifdef BW_TESTING
/* Lines exported to Markdown in each fallback form: [0] <strong>/<em>
 * tags, [1] plain text, [2] plain text that still failed the parse-back
 * check (a bug: tests and the fuzz target require 0). */
extern unsigned long docfmt_test_fallbacks[3];
#endif

#endif
