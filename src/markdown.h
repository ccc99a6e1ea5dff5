/*
 * markdown.h — safe rendering of chat Markdown to HTML, and the @mentions a
 * message carries (RG-IM-a chat messages; RG-WEB-b/IN-PHISH: no script, no
 * remote content, links open isolated).
 *
 * Rendering (CommonMark via libcmark, then our own iterative HTML writer):
 *  - raw HTML (blocks and inline) is shown as escaped text, never passed on;
 *  - link URLs: leading/trailing C0 controls and spaces and every tab/CR/LF
 *    are removed (as browsers do), then a URL with a scheme is kept only
 *    for http, https, mailto, tel and data:image/(png|gif|jpeg|webp);
 *    relative URLs are kept.  A refused (or empty) URL renders as the
 *    link's text only.
 *    This is stricter than CMARK_OPT_SAFE's denylist (javascript:,
 *    vbscript:, file:, other data:);
 *  - every <a> carries rel="noopener noreferrer nofollow" target="_blank";
 *  - images never become <img>: an image is a link (class="image-link") to
 *    its URL whose text is the alt text (or the URL when the alt is empty);
 *  - headings become <p><strong>…</strong></p>;
 *  - soft line breaks become <br /> (chat keeps the lines the user typed);
 *  - "@name" in text (not in code, not in image alt text) becomes
 *    <span class="mention" data-user="name">@Name</span> and "@all"
 *    <span class="mention mention-all">@all</span>.  A mention is '@' at
 *    the start of a text run or after a byte that is not an ASCII letter,
 *    digit or one of "_.+-/@" (so a@b.com and https://x/@y are not
 *    mentions), followed by 3..64 of [A-Za-z0-9._-] starting with a letter
 *    or digit, trailing dots not included, not followed by '@'.  Names are
 *    matched case-insensitively and reported lower-case;
 *  - every attribute value and every text is HTML-escaped (& < > " ').
 * The only tags produced are p strong em code pre a span ul ol li
 * blockquote hr br, with attributes href title rel target class data-user
 * start.
 */
#ifndef BW_MARKDOWN_H
#define BW_MARKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#define MARKDOWN_IN_MAX (16 * 1024)
#define MARKDOWN_OUT_MAX (1024 * 1024)  /* rendered HTML (reference links can amplify) */
#define MARKDOWN_NAME_MAX 64            /* bytes of a mentioned user name */

/* Renders chat Markdown (md, len bytes, NUL not required) to HTML as
 * described above.  On success *out is a malloc'd NUL-terminated string of
 * *out_len bytes that the caller frees; empty input gives "".
 * BW_ETOOBIG: len > MARKDOWN_IN_MAX or the HTML would exceed
 * MARKDOWN_OUT_MAX; BW_EINVAL: not valid UTF-8, or NUL, DEL or C0 controls
 * other than tab, CR, LF (bw_utf8_valid); BW_ENOMEM.  Controls produced by
 * numeric entities (&#6;) are shown as U+FFFD.  Out-params are written only
 * on success. */
int markdown_render(const char *md, size_t len, char **out, size_t *out_len);

/* The distinct user names mentioned (lower-case, NUL-terminated, in order
 * of first appearance) into names[0..max), *n of them (names past max are
 * ignored); *all is true when @all appears.  Same rules and same places as
 * markdown_render (never inside code or image alt text), for the server to
 * notify mentioned users.  Errors as markdown_render; max < 0 is
 * BW_EINVAL.  Out-params (names, *n, *all) are written only on success. */
int markdown_mentions(const char *md, size_t len, char (*names)[MARKDOWN_NAME_MAX + 1], int max,
                      int *n, bool *all);

#endif
