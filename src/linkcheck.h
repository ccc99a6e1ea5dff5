/*
 * linkcheck.h — link safety for chat messages: find the URLs in a text,
 * match them against the security administrators' malicious URL/domain list,
 * and flag lookalike (punycode / homograph) domains of the tenant's trusted
 * domains (RG-WEB-b, IN-PHISH, MI-3, user rule "do not open unknown links").
 *
 * Pure computation: no database, no I/O, no global state.  The caller keeps
 * the list entries (SQLite) and builds a struct linkcheck_list from them;
 * the policy (flag or block) is the caller's too.
 *
 * Consistency rule for callers that render links: linkify exactly the byte
 * ranges linkcheck_extract() returns, so what the user can click is what was
 * checked.
 */
#ifndef BW_LINKCHECK_H
#define BW_LINKCHECK_H

#include <stddef.h>

#define LINKCHECK_URL_MAX 2048            /* longest list entry; path bytes compared */
#define LINKCHECK_HOST_MAX 253            /* DNS name without the trailing dot */
#define LINKCHECK_TEXT_MAX (1024 * 1024)  /* longest text linkcheck_extract() takes */
#define LINKCHECK_LIST_MAX 1000000        /* entries in one list */
#define LINKCHECK_LIST_BYTES_MAX (64u * 1024 * 1024) /* entry storage in one list */
#define LINKCHECK_IMPORT_MAX (128u * 1024 * 1024)    /* longest import file text */
#define LINKCHECK_TRUSTED_MAX 1024        /* trusted domains per check */
#define LINKCHECK_PATH_DEPTH_MAX 64       /* '/', '?', '&' boundaries in a prefix entry */

/* struct linkcheck_url.flags */
#define LINKCHECK_URL_NOSCHEME 0x1u  /* bare www. link (browsers add http://) */
#define LINKCHECK_URL_USERINFO 0x2u  /* "user@" before the host: real host is after '@' */
#define LINKCHECK_URL_IP       0x4u  /* host is an IPv4 (dotted) or [IPv6] literal */
#define LINKCHECK_URL_BADHOST  0x8u  /* host missing or not a valid host; host[] is "" */

struct linkcheck_url {                    /* one URL found in a text */
	size_t off, len;                  /* byte range in the input text */
	size_t path_off;                  /* where path/query starts (== off+len if none) */
	unsigned flags;                   /* LINKCHECK_URL_* */
	char host[LINKCHECK_HOST_MAX + 1];        /* lower-case A-label, no trailing dot */
	char host_unicode[4 * LINKCHECK_HOST_MAX + 1]; /* U-label form for display (raw
	                                           text, truncated, when BADHOST) */
};

/*
 * Finds http://, https:// (any case, also "http:\\" and "http:/" as browsers
 * accept them) and bare www. URLs in UTF-8 text, including inside Markdown
 * [x](url) and <url>.  A URL stops at whitespace (ASCII and Unicode), quotes,
 * <>, [] (except around an IPv6 host), CJK/full-width punctuation and invalid
 * UTF-8; trailing .,;:!?*_~ and a ')' without its '(' are trimmed.  Inside the
 * host, 。．｡ count as dots when a letter or digit follows (browsers map
 * them to '.').  The host is taken after the last '@' of the authority,
 * percent-decoded and normalised (linkcheck_host_normalise); IPv4 in any
 * form browsers accept (0x7f.1, 2130706433) becomes dotted decimal, IPv6
 * becomes "[canonical]".  A host that does not normalise is reported with
 * LINKCHECK_URL_BADHOST rather than dropped.  URLs do not overlap.
 *
 * out: caller-owned array of max entries (may be NULL when max is 0).
 * Returns the count found (0..max); BW_ETOOBIG when the text holds more than
 * max URLs or is longer than LINKCHECK_TEXT_MAX (callers should then reject
 * or flag the whole message); BW_EINVAL on bad arguments.  On error the
 * contents of out are unspecified.
 */
int linkcheck_extract(const char *text, size_t len, struct linkcheck_url *out, int max);

/*
 * Normalises a host name or a domain list entry into out (out_max bytes):
 * IDNA2008 via libidn2 (TR46 non-transitional, falling back to transitional,
 * e.g. for emoji), lower case, trailing dot stripped, labels 1..63 bytes of
 * [a-z0-9_-] not starting or ending with '-', whole name <= 253 bytes; xn--
 * labels must be valid punycode that round-trips.  Numeric hosts become
 * dotted IPv4 (WHATWG rules); "[v6]" or a bare IPv6 address becomes
 * "[canonical]".  BW_EINVAL if not a valid host, BW_ETOOBIG if out is too
 * small.  out is written only on success.
 */
int linkcheck_host_normalise(const char *in, char *out, size_t out_max);

/*
 * A malicious URL/domain list.  Immutable once built: add everything, then
 * share it read-only between threads (lookups never write).
 *
 * Entries:
 *   "evil.example", "*.evil.example"   the domain and all its subdomains
 *   "192.0.2.1", "[2001:db8::1]"       that address
 *   "https://host/path?query",         that exact host (any scheme, any port)
 *   "host/path"                          and every URL under the path:
 *                                        "/login" matches /login, /login/x,
 *                                        /login?a=1 but not /loginx; a query
 *                                        entry "/p?id=1" matches /p?id=1&x=2.
 * Paths are compared case-sensitively after normalisation (fragment dropped,
 * '\' as '/', repeated '/' merged, "." and ".." resolved, unreserved %XX
 * decoded, other escapes upper-cased, non-ASCII bytes percent-encoded,
 * trailing '/', '?' and '&' ignored).
 */
struct linkcheck_list;

/* Allocates an empty list; free with linkcheck_list_free(). */
int linkcheck_list_new(struct linkcheck_list **out);
/* Adds one entry (no surrounding whitespace).  0 when added or already
 * present; BW_EINVAL on a bad entry; BW_ETOOBIG when the list already holds
 * LINKCHECK_LIST_MAX entries or LINKCHECK_LIST_BYTES_MAX bytes; BW_ENOMEM. */
int linkcheck_list_add(struct linkcheck_list *l, const char *entry);
/* Number of distinct entries. */
size_t linkcheck_list_count(const struct linkcheck_list *l);
/*
 * Imports a list file: one entry per line, surrounding blanks ignored, a
 * line whose first non-blank is '#' is a comment, an entry may be followed
 * by blanks and a '#' comment, blank lines are ignored, CRLF and a leading
 * UTF-8 BOM are accepted.  Bad lines are skipped and the import continues;
 * *added gets the number of new distinct entries, *bad_line the 1-based
 * number of the first bad line (0 if none).  Returns 0, or BW_ETOOBIG (text
 * over LINKCHECK_IMPORT_MAX, or the list filled up), BW_ENOMEM, BW_EINVAL
 * (bad arguments).  On error the list may hold part of the file: discard it.
 */
int linkcheck_list_import(struct linkcheck_list *l, const char *text, size_t len,
                          int *added, int *bad_line);
void linkcheck_list_free(struct linkcheck_list *l);

enum linkcheck_verdict { LINK_OK = 0, LINK_LOOKALIKE = 1, LINK_MALICIOUS = 2 };

struct linkcheck_result {
	enum linkcheck_verdict verdict;
	char reason[96];  /* "listed: evil.example", "lookalike of example.cn", ... */
};

/*
 * Checks one URL from linkcheck_extract(); text is the same text (or NULL:
 * then URL-prefix entries and embedded URLs are not checked).
 *
 * LINK_MALICIOUS when the list has the host or a parent domain of it, or a
 * prefix entry covering the URL; also when a URL embedded in this one (e.g.
 * a redirector's "?u=https://evil.example", plain or percent-encoded) is
 * listed.
 * LINK_LOOKALIKE, unless the host is a trusted domain or a subdomain of one:
 *  - its confusable skeleton (TR39-style, see linkcheck.c) equals that of a
 *    trusted domain or of the trusted domain's registrable part;
 *  - it contains such a name (or a lookalike of it) as whole labels, not at
 *    its end ("example.cn.login.example");
 *  - a label mixes scripts (Latin+Cyrillic etc.; the CJK combinations
 *    Latin+Han+Kana, Latin+Han+Bopomofo and Latin+Han+Hangul are allowed);
 *  - a label is entirely Cyrillic/Greek/Armenian letters that look Latin,
 *    under an ASCII TLD that is not of that script's countries;
 *  - the host is invalid, or user info ("x@") precedes the real host;
 *  - an embedded URL is a lookalike.
 * Otherwise LINK_OK.  trusted: ntrusted (<= LINKCHECK_TRUSTED_MAX) domain
 * names, normalised here (invalid ones are ignored).  *out is written on
 * success only.  BW_EINVAL / BW_ETOOBIG on bad arguments, BW_ENOMEM.
 */
int linkcheck_url_check(const struct linkcheck_list *blocked, const char *const *trusted,
                        int ntrusted, const struct linkcheck_url *u, const char *text,
                        struct linkcheck_result *out);

#endif
