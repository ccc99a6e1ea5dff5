/*
 * linkcheck.c — link safety for chat: URL extraction, the malicious
 * URL/domain list, and lookalike-domain detection (RG-WEB-b, IN-PHISH, MI-3,
 * user rule "do not open unknown links").
 *
 * Invariants:
 *  - Every host that reaches a comparison went through
 *    linkcheck_host_normalise(): lower-case ASCII (A-labels), no trailing
 *    dot, <= 253 bytes, or canonical IPv4 / [IPv6].  List entries and URL
 *    hosts are normalised the same way, so equal names compare equal.
 *  - Extraction errs on the side of finding a URL: a host we cannot
 *    normalise is reported (LINKCHECK_URL_BADHOST) and flagged, never
 *    silently dropped; the real host is the one after the last '@'.
 *  - A list is built, then only read: lookups do not write, so one list can
 *    be shared by threads.  Its size is bounded (LINKCHECK_LIST_MAX entries,
 *    LINKCHECK_LIST_BYTES_MAX bytes); the hash is keyed SipHash
 *    (crypto_shorthash) with a per-list random key, so list contents chosen
 *    by a feed cannot be made to collide.
 *  - Every loop is bounded by its input length or a fixed maximum; all
 *    buffers are fixed-size or grow to a fixed maximum.
 *
 * Homographs: the skeleton below is a compact, hand-written SUBSET of the
 * Unicode TR39 confusables (the Latin-lookalike letters of Cyrillic, Greek
 * and Armenian, IPA/small-capital Latin, a few letters Chromium adds),
 * applied after NFKD (which folds full-width and mathematical letters),
 * lower-casing and dropping non-spacing marks; then 0->o, 1->l, "rn"->"m",
 * "vv"->"w".  Characters outside the table are compared as themselves.
 * The registrable part of a trusted domain is approximated without the
 * Public Suffix List: the last two labels, or three when the second-level
 * label is a generic one under a two-letter ccTLD (com.cn, co.uk, ...).
 *
 * Memory: linkcheck_list_new() allocates the list, linkcheck_list_free()
 * frees it; everything else works in caller buffers or frees what it
 * allocates before returning.
 */
#include "linkcheck.h"
#include "util.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#define LC_HOST_RAW_MAX 1024   /* bytes of a host before normalisation */
#define LC_KEY_MAX (1 + LINKCHECK_HOST_MAX + 1 + LINKCHECK_URL_MAX + 1)
#define LC_EMBED_MAX 8         /* embedded URLs checked per URL and pass */
#define LC_SKEL_MAX 4096       /* skeleton of a whole host */
#define LC_LABEL_U_MAX 512     /* one decoded U-label */
#define LC_SLOTS_MIN 1024

/* ------------------------------------------------------------------ */
/* small helpers */

/* A bounded output buffer: writes past max set over and are dropped. */
struct lc_sb {
	char *p;
	size_t n, max;
	bool over;
};

static void lc_sb_put(struct lc_sb *b, char c)
{
	if (b->n < b->max)
		b->p[b->n++] = c;
	else
		b->over = true;
}

static void lc_sb_puts(struct lc_sb *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lc_sb_put(b, s[i]);
}

static bool lc_is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int lc_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static int lc_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool lc_ieq(const char *s, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc_lower((unsigned char)s[i]) != lit[i])
			return false;
	return true;
}

/* Copies valid UTF-8 s[0..n) into out (out_max >= 1), cut at a code-point
 * boundary when it does not fit; always NUL-terminates. */
static void lc_copy_trunc(char *out, size_t out_max, const char *s, size_t n)
{
	if (n > out_max - 1) {
		n = out_max - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* host normalisation */

/* WHATWG IPv4 number parser for one part; 0 or -1.  Values past 2^32 are
 * capped at 2^32 (out of range for every part). */
static int lc_ipv4_number(const char *s, size_t n, uint64_t *v)
{
	unsigned radix = 10;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		radix = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		radix = 8;
		s++;
		n--;
	}
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int d = lc_hexval((unsigned char)s[i]);
		if (d < 0 || (unsigned)d >= radix)
			return -1;
		x = x * radix + (unsigned)d;
		if (x > UINT32_MAX)
			x = (uint64_t)UINT32_MAX + 1;
	}
	*v = x;
	return 0;
}

/* True when the last label of h (no trailing dot) makes the host an IPv4
 * address under WHATWG rules: all digits, or a valid 0x number. */
static bool lc_ends_in_number(const char *h, size_t n)
{
	size_t s = n;
	while (s > 0 && h[s - 1] != '.')
		s--;
	bool digits = s < n;
	for (size_t i = s; i < n; i++)
		if (h[i] < '0' || h[i] > '9')
			digits = false;
	if (digits)
		return true;
	uint64_t v;
	return n - s >= 2 && h[s] == '0' && h[s + 1] == 'x' && lc_ipv4_number(h + s, n - s, &v) == 0;
}

static int lc_ipv4_normalise(const char *h, size_t n, char *out, size_t out_max)
{
	uint64_t part[4];
	int np = 0;
	size_t s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && h[i] != '.')
			continue;
		if (np == 4 || i == s || lc_ipv4_number(h + s, i - s, &part[np]) < 0)
			return BW_EINVAL;
		np++;
		s = i + 1;
	}
	if (np == 0)
		return BW_EINVAL;
	uint64_t addr = 0;
	for (int i = 0; i < np - 1; i++) {
		if (part[i] > 255)
			return BW_EINVAL;
		addr |= part[i] << (8 * (3 - i));
	}
	if (part[np - 1] >= ((uint64_t)1 << (8 * (5 - np))))
		return BW_EINVAL;
	addr |= part[np - 1];
	char buf[16];
	int k = snprintf(buf, sizeof buf, "%u.%u.%u.%u", (unsigned)(addr >> 24) & 255,
	                 (unsigned)(addr >> 16) & 255, (unsigned)(addr >> 8) & 255,
	                 (unsigned)addr & 255);
	if (k < 0 || (size_t)k >= sizeof buf)
		return BW_EINVAL;
	if ((size_t)k + 1 > out_max)
		return BW_ETOOBIG;
	memcpy(out, buf, (size_t)k + 1);
	return 0;
}

/* s[0..n) is an IPv6 address without brackets. */
static int lc_ipv6_normalise(const char *s, size_t n, char *out, size_t out_max)
{
	char buf[64], txt[INET6_ADDRSTRLEN];
	struct in6_addr a;
	if (n == 0 || n >= sizeof buf)
		return BW_EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1 || !inet_ntop(AF_INET6, &a, txt, sizeof txt))
		return BW_EINVAL;
	size_t k = strlen(txt);
	if (k + 3 > out_max)
		return BW_ETOOBIG;
	out[0] = '[';
	memcpy(out + 1, txt, k);
	out[k + 1] = ']';
	out[k + 2] = '\0';
	return 0;
}

/* IDNA to ASCII: TR46 non-transitional, then transitional.  *out is
 * allocated by libidn2 (idn2_free). */
static int lc_idna_ascii(const char *in, char **out)
{
	char *o = NULL;
	int rc = idn2_to_ascii_8z(in, &o, IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		o = NULL;
		rc = idn2_to_ascii_8z(in, &o, IDN2_TRANSITIONAL);
	}
	if (rc != IDN2_OK || !o) {
		if (rc == IDN2_OK)
			idn2_free(o);
		return -1;
	}
	*out = o;
	return 0;
}

/* An ASCII "xn--" label is valid punycode whose U-label converts back to it. */
static bool lc_alabel_ok(const char *label, size_t n)
{
	char buf[64];
	char *u = NULL, *a = NULL;
	bool ok = false;
	if (n >= sizeof buf)
		return false;
	memcpy(buf, label, n);
	buf[n] = '\0';
	if (idn2_to_unicode_8z8z(buf, &u, 0) != IDN2_OK || !u)
		return false;
	if (u[0] != '\0' && lc_idna_ascii(u, &a) == 0)
		ok = strcmp(a, buf) == 0;
	idn2_free(u);
	idn2_free(a);
	return ok;
}

/* Labels of lower-case ASCII h[0..n): 1..63 bytes of [a-z0-9_-], no '-' at
 * either end, total <= 253. */
static bool lc_labels_valid(const char *h, size_t n)
{
	if (n == 0 || n > LINKCHECK_HOST_MAX)
		return false;
	size_t s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && h[i] != '.') {
			char c = h[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
				return false;
			continue;
		}
		size_t len = i - s;
		if (len == 0 || len > 63 || h[s] == '-' || h[i - 1] == '-')
			return false;
		s = i + 1;
	}
	return true;
}

int linkcheck_host_normalise(const char *in, char *out, size_t out_max)
{
	char buf[LINKCHECK_HOST_MAX + 2];
	bool ascii = true;
	size_t n, m;

	if (!in || !out)
		return BW_EINVAL;
	n = strnlen(in, LC_HOST_RAW_MAX + 1);
	if (n == 0 || n > LC_HOST_RAW_MAX || !bw_utf8_valid(in, n, false))
		return BW_EINVAL;
	if (in[0] == '[') {
		if (n < 2 || in[n - 1] != ']')
			return BW_EINVAL;
		return lc_ipv6_normalise(in + 1, n - 2, out, out_max);
	}
	if (memchr(in, ':', n))
		return lc_ipv6_normalise(in, n, out, out_max);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] >= 0x80)
			ascii = false;
	if (ascii) {
		if (n > sizeof buf - 1)
			return BW_EINVAL;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)lc_lower((unsigned char)in[i]);
		m = n;
	} else {
		char *a = NULL;
		if (lc_idna_ascii(in, &a) < 0)
			return BW_EINVAL;
		m = strlen(a);
		if (m > sizeof buf - 1) {
			idn2_free(a);
			return BW_EINVAL;
		}
		for (size_t i = 0; i < m; i++)
			buf[i] = (char)lc_lower((unsigned char)a[i]);
		idn2_free(a);
	}
	buf[m] = '\0';
	if (m > 0 && buf[m - 1] == '.')
		buf[--m] = '\0';
	if (!lc_labels_valid(buf, m))
		return BW_EINVAL;
	if (lc_ends_in_number(buf, m))
		return lc_ipv4_normalise(buf, m, out, out_max);
	/* every A-label must decode, also one that IDNA mapping passed through
	 * unchanged (e.g. behind a BOM it removed), so that normalising is
	 * idempotent and "\uFEFFxn--bad" is as invalid as "xn--bad" */
	for (size_t i = 0, s = 0; i <= m; i++) {
		if (i < m && buf[i] != '.')
			continue;
		if (i - s >= 4 && memcmp(buf + s, "xn--", 4) == 0 && !lc_alabel_ok(buf + s, i - s))
			return BW_EINVAL;
		s = i + 1;
	}
	if (m + 1 > out_max)
		return BW_ETOOBIG;
	memcpy(out, buf, m + 1);
	return 0;
}

static bool lc_host_is_ip(const char *h)
{
	if (h[0] == '[')
		return true;
	if (!h[0])
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	return true;
}

/* Percent-decodes a raw host (as written in a URL or entry) and
 * normalises it into host (LINKCHECK_HOST_MAX + 1 bytes). */
static int lc_host_decode(const char *raw, size_t n, char *host)
{
	char dec[LC_HOST_RAW_MAX + 1];
	size_t m = 0;
	if (n == 0 || n > LC_HOST_RAW_MAX)
		return BW_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] != '%') {
			dec[m++] = raw[i];
			continue;
		}
		int hi = i + 2 < n ? lc_hexval((unsigned char)raw[i + 1]) : -1;
		int lo = i + 2 < n ? lc_hexval((unsigned char)raw[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return BW_EINVAL;
		dec[m++] = (char)(hi * 16 + lo);
		i += 2;
	}
	dec[m] = '\0';
	if (m == 0 || strlen(dec) != m || !bw_utf8_valid(dec, m, false))
		return BW_EINVAL;
	return linkcheck_host_normalise(dec, host, LINKCHECK_HOST_MAX + 1);
}

/* ------------------------------------------------------------------ */
/* extraction */

/* Characters that end a URL (see linkcheck.h). */
static bool lc_is_term(ucs4_t c)
{
	if (c < 0x80)
		return c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '`' || c == '<' ||
		       c == '>';
	if (c <= 0xa0)  /* C1 controls, no-break space */
		return true;
	switch (c) {
	case 0xab: case 0xbb: case 0x1680: case 0x2028: case 0x2029: case 0x202f:
	case 0x2039: case 0x203a: case 0x205f: case 0x3000: case 0x3001:
	case 0xff01: case 0xff08: case 0xff09: case 0xff0c: case 0xff1a: case 0xff1b:
	case 0xff1f: case 0xff62: case 0xff63: case 0xff64:
		return true;
	default:
		break;
	}
	return (c >= 0x2000 && c <= 0x200a) ||  /* spaces */
	       (c >= 0x2018 && c <= 0x201f) ||  /* quotes */
	       (c >= 0x3008 && c <= 0x3011) ||  /* CJK brackets */
	       (c >= 0x3014 && c <= 0x301f);
}

/* Ideographic / full-width / half-width full stops: IDNA maps them to '.'. */
static bool lc_is_cjk_dot(ucs4_t c)
{
	return c == 0x3002 || c == 0xff0e || c == 0xff61;
}

static bool lc_is_alnum_wide(ucs4_t c)
{
	return (c < 0x80 && lc_is_alnum((int)c)) || (c >= 0xff10 && c <= 0xff19) ||
	       (c >= 0xff21 && c <= 0xff3a) || (c >= 0xff41 && c <= 0xff5a);
}

/* "http:" or "https:" (any case) and at least one '/' or '\' at t[i];
 * *h gets where the authority starts. */
static bool lc_match_scheme(const char *t, size_t len, size_t i, size_t *h)
{
	size_t p;
	if (len - i >= 5 && lc_ieq(t + i, "http:", 5))
		p = i + 5;
	else if (len - i >= 6 && lc_ieq(t + i, "https:", 6))
		p = i + 6;
	else
		return false;
	size_t q = p;
	while (q < len && (t[q] == '/' || t[q] == '\\'))
		q++;
	if (q == p)
		return false;
	*h = q;
	return true;
}

/* "www." at t[i] that does not continue a word, domain or address. */
static bool lc_match_www(const char *t, size_t len, size_t i)
{
	if (len - i < 5 || !lc_ieq(t + i, "www.", 4))
		return false;
	if (i == 0)
		return true;
	unsigned char p = (unsigned char)t[i - 1];
	return !(p < 0x80 && (lc_is_alnum(p) || p == '.' || p == '-' || p == '_' || p == '@'));
}

/* Scans from the authority start h to where the URL ends (untrimmed). */
static size_t lc_scan_end(const char *t, size_t len, size_t h)
{
	const uint8_t *s = (const uint8_t *)t;
	size_t i = h;
	bool auth = true, v6 = false, host_start = true;

	while (i < len) {
		ucs4_t c;
		int n = u8_mbtoucr(&c, s + i, len - i);
		if (n <= 0)
			break;
		bool at_start = host_start;
		host_start = false;
		if (v6) {
			if (c == ']')
				v6 = false;
			else if (!(c < 0x80 && (lc_hexval((int)c) >= 0 || c == ':' || c == '.')))
				break;
			i += (size_t)n;
			continue;
		}
		if (lc_is_term(c))
			break;
		if (c == '[' || c == ']') {
			if (!(auth && at_start && c == '['))
				break;
			v6 = true;
		} else if (auth) {
			if (c == '/' || c == '?' || c == '#' || c == '\\') {
				auth = false;
			} else if (c == '@') {
				host_start = true;
			} else if (lc_is_cjk_dot(c)) {
				ucs4_t d;
				size_t j = i + (size_t)n;
				if (j >= len || u8_mbtoucr(&d, s + j, len - j) <= 0 || !lc_is_alnum_wide(d))
					break;
			}
		} else if (lc_is_cjk_dot(c)) {
			break;
		}
		i += (size_t)n;
	}
	return i;
}

/* Trims trailing punctuation and unbalanced ')' from [s, e); never below h. */
static size_t lc_trim(const char *t, size_t s, size_t h, size_t e)
{
	size_t open = 0, close = 0;
	for (size_t i = s; i < e; i++) {
		if (t[i] == '(')
			open++;
		else if (t[i] == ')')
			close++;
	}
	while (e > h) {
		char c = t[e - 1];
		if (c == ')') {
			if (close <= open)
				break;
			close--;
			e--;
		} else if (c && strchr(".,;:!?*_~", c)) {
			e--;
		} else {
			break;
		}
	}
	return e;
}

/* Fills u for the URL t[s, e) whose authority starts at h. */
static void lc_parse(const char *t, size_t s, size_t h, size_t e, bool noscheme,
                     struct linkcheck_url *u)
{
	size_t a = h, hs = h, he;

	memset(u, 0, sizeof *u);
	u->off = s;
	u->len = e - s;
	if (noscheme)
		u->flags |= LINKCHECK_URL_NOSCHEME;
	while (a < e && t[a] != '/' && t[a] != '?' && t[a] != '#' && t[a] != '\\')
		a++;
	u->path_off = a;
	for (size_t i = h; i < a; i++)
		if (t[i] == '@')
			hs = i + 1;
	if (hs != h)
		u->flags |= LINKCHECK_URL_USERINFO;
	he = hs;
	if (hs < a && t[hs] == '[') {
		while (he < a && t[he] != ']')
			he++;
		if (he < a)
			he++;
		else
			he = hs;   /* unterminated: bad host */
	} else {
		while (he < a && t[he] != ':')
			he++;
	}
	if (he > hs && lc_host_decode(t + hs, he - hs, u->host) == 0) {
		if (lc_host_is_ip(u->host)) {
			u->flags |= LINKCHECK_URL_IP;
			lc_copy_trunc(u->host_unicode, sizeof u->host_unicode, u->host, strlen(u->host));
		} else {
			char *uni = NULL;
			if (idn2_to_unicode_8z8z(u->host, &uni, 0) == IDN2_OK && uni &&
			    strlen(uni) < sizeof u->host_unicode)
				memcpy(u->host_unicode, uni, strlen(uni) + 1);
			else
				memcpy(u->host_unicode, u->host, strlen(u->host) + 1);
			idn2_free(uni);
		}
		return;
	}
	u->flags |= LINKCHECK_URL_BADHOST;
	u->host[0] = '\0';
	lc_copy_trunc(u->host_unicode, sizeof u->host_unicode, t + hs, he - hs);
}

/* Extracts URLs from t[0..len) into out (max entries); *more is set when
 * the text holds more than max.  Returns the count. */
static int lc_extract_range(const char *t, size_t len, struct linkcheck_url *out, int max,
                            bool *more)
{
	int count = 0;
	size_t i = 0;

	*more = false;
	while (i < len) {
		int c = lc_lower((unsigned char)t[i]);
		size_t s = i, h = 0;
		bool noscheme = false;
		if (c == 'h' && lc_match_scheme(t, len, i, &h)) {
			/* h set */
		} else if (c == 'w' && lc_match_www(t, len, i)) {
			h = i;
			noscheme = true;
		} else {
			i++;
			continue;
		}
		size_t e = lc_scan_end(t, len, h);
		size_t te = lc_trim(t, s, h, e);
		if (te <= h || (noscheme && te <= h + 4)) {
			i = e > i ? e : i + 1;   /* all of it was punctuation */
			continue;
		}
		if (count == max) {
			*more = true;
			break;
		}
		lc_parse(t, s, h, te, noscheme, &out[count]);
		count++;
		i = te;
	}
	return count;
}

int linkcheck_extract(const char *text, size_t len, struct linkcheck_url *out, int max)
{
	bool more;
	if ((!text && len) || max < 0 || (max > 0 && !out))
		return BW_EINVAL;
	if (len > LINKCHECK_TEXT_MAX)
		return BW_ETOOBIG;
	if (len == 0)
		return 0;
	int n = lc_extract_range(text, len, out, max, &more);
	return more ? BW_ETOOBIG : n;
}

/* ------------------------------------------------------------------ */
/* path normalisation (prefix entries) */

static bool lc_unreserved(int c)
{
	return lc_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void lc_put_pct(struct lc_sb *b, unsigned v)
{
	static const char hex[] = "0123456789ABCDEF";
	lc_sb_put(b, '%');
	lc_sb_put(b, hex[(v >> 4) & 15]);
	lc_sb_put(b, hex[v & 15]);
}

/* Canonical percent-encoding of s[0..n): unreserved escapes decoded, other
 * escapes upper-cased, a lone '%', controls, space, non-ASCII and "<>`{}
 * encoded. */
static void lc_pct_norm(const char *s, size_t n, struct lc_sb *b)
{
	for (size_t i = 0; i < n && !b->over; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && lc_hexval((unsigned char)s[i + 1]) >= 0 &&
		    lc_hexval((unsigned char)s[i + 2]) >= 0) {
			unsigned v = (unsigned)(lc_hexval((unsigned char)s[i + 1]) * 16 +
			                        lc_hexval((unsigned char)s[i + 2]));
			if (lc_unreserved((int)v))
				lc_sb_put(b, (char)v);
			else
				lc_put_pct(b, v);
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f || c == '%' || c == '"' || c == '<' || c == '>' ||
		           c == '`' || c == '{' || c == '}') {
			lc_put_pct(b, c);
		} else {
			lc_sb_put(b, (char)c);
		}
	}
}

/* Normalises path+query p[0..n) (starting at '/', '?', '#' or '\', or
 * empty) into b; see linkcheck.h.  The result never ends in '/', '?', '&';
 * the root path is "". */
static void lc_path_norm(const char *p, size_t n, struct lc_sb *b)
{
	size_t end = n, q;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '#') {
			end = i;
			break;
		}
	q = end;
	for (size_t i = 0; i < end; i++)
		if (p[i] == '?') {
			q = i;
			break;
		}
	size_t i = 0;
	while (i < q && !b->over) {
		while (i < q && (p[i] == '/' || p[i] == '\\'))
			i++;
		if (i >= q)
			break;
		size_t j = i;
		while (j < q && p[j] != '/' && p[j] != '\\')
			j++;
		size_t mark = b->n;
		lc_sb_put(b, '/');
		size_t seg = b->n;
		lc_pct_norm(p + i, j - i, b);
		size_t sl = b->n - seg;
		if (!b->over && sl == 1 && b->p[seg] == '.') {
			b->n = mark;
		} else if (!b->over && sl == 2 && b->p[seg] == '.' && b->p[seg + 1] == '.') {
			b->n = mark;
			while (b->n > 0 && b->p[b->n - 1] != '/')
				b->n--;
			if (b->n > 0)
				b->n--;
		}
		i = j;
	}
	if (q < end && !b->over) {
		size_t mark = b->n;
		lc_sb_put(b, '?');
		lc_pct_norm(p + q + 1, end - q - 1, b);
		while (!b->over && b->n > mark && (b->p[b->n - 1] == '&' || b->p[b->n - 1] == '?'))
			b->n--;
	}
}

static bool lc_is_boundary(char c)
{
	return c == '/' || c == '?' || c == '&';
}

/* ------------------------------------------------------------------ */
/* the list */

struct linkcheck_list {
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	char *pool;             /* NUL-terminated keys, back to back */
	size_t pool_len, pool_cap;
	uint32_t *slots;        /* 0 = empty, else pool offset + 1 */
	size_t nslots;          /* power of two, or 0 before the first add */
	size_t count;
};

static uint64_t lc_hash(const struct linkcheck_list *l, const char *k, size_t n)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;
	crypto_shorthash(h, (const unsigned char *)k, n, l->hkey);
	memcpy(&v, h, sizeof v);
	return v;
}

/* Slot index holding key k, or of the empty slot where it would go. */
static size_t lc_probe(const struct linkcheck_list *l, const char *k, size_t n, bool *found)
{
	size_t mask = l->nslots - 1, i = (size_t)lc_hash(l, k, n) & mask;
	for (size_t step = 0; step < l->nslots; step++) {
		uint32_t v = l->slots[i];
		if (!v) {
			*found = false;
			return i;
		}
		const char *e = l->pool + (v - 1);
		if (strncmp(e, k, n) == 0 && e[n] == '\0') {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	abort();  /* load factor <= 1/2: an empty slot always exists */
}

static bool lc_find(const struct linkcheck_list *l, const char *k, size_t n)
{
	bool found = false;
	if (!l || l->nslots == 0)
		return false;
	(void)lc_probe(l, k, n, &found);
	return found;
}

static int lc_grow(struct linkcheck_list *l)
{
	size_t ns = l->nslots ? l->nslots * 2 : LC_SLOTS_MIN;
	uint32_t *old = l->slots;
	size_t on = l->nslots;
	uint32_t *slots = calloc(ns, sizeof *slots);
	if (!slots)
		return BW_ENOMEM;
	l->slots = slots;
	l->nslots = ns;
	for (size_t i = 0; i < on; i++) {
		if (!old[i])
			continue;
		const char *e = l->pool + (old[i] - 1);
		bool found;
		size_t j = lc_probe(l, e, strlen(e), &found);
		l->slots[j] = old[i];
	}
	free(old);
	return 0;
}

/* Inserts key k[0..n); 0 added, 1 already present, or BW_E*. */
static int lc_insert(struct linkcheck_list *l, const char *k, size_t n)
{
	bool found = false;
	if (lc_find(l, k, n))
		return 1;
	if (l->count >= LINKCHECK_LIST_MAX)
		return BW_ETOOBIG;
	if (n + 1 > LINKCHECK_LIST_BYTES_MAX - l->pool_len)
		return BW_ETOOBIG;
	if ((l->count + 1) * 2 > l->nslots) {
		int rc = lc_grow(l);
		if (rc < 0)
			return rc;
	}
	if (l->pool_len + n + 1 > l->pool_cap) {
		size_t cap = l->pool_cap ? l->pool_cap : 4096;
		while (cap < l->pool_len + n + 1)
			cap *= 2;
		if (cap > LINKCHECK_LIST_BYTES_MAX)
			cap = LINKCHECK_LIST_BYTES_MAX;
		char *p = realloc(l->pool, cap);
		if (!p)
			return BW_ENOMEM;
		l->pool = p;
		l->pool_cap = cap;
	}
	size_t slot = lc_probe(l, k, n, &found);
	memcpy(l->pool + l->pool_len, k, n);
	l->pool[l->pool_len + n] = '\0';
	l->slots[slot] = (uint32_t)(l->pool_len + 1);
	l->pool_len += n + 1;
	l->count++;
	return 0;
}

int linkcheck_list_new(struct linkcheck_list **out)
{
	if (!out)
		return BW_EINVAL;
	if (sodium_init() < 0)
		return BW_ECRYPTO;
	struct linkcheck_list *l = calloc(1, sizeof *l);
	if (!l)
		return BW_ENOMEM;
	randombytes_buf(l->hkey, sizeof l->hkey);
	*out = l;
	return 0;
}

void linkcheck_list_free(struct linkcheck_list *l)
{
	if (!l)
		return;
	free(l->pool);
	free(l->slots);
	free(l);
}

size_t linkcheck_list_count(const struct linkcheck_list *l)
{
	return l ? l->count : 0;
}

/* Builds the key of a domain entry ('D' host) or a prefix entry
 * ('P' host ' ' path) into key (LC_KEY_MAX bytes); returns its length. */
static size_t lc_key(char *key, char type, const char *host, const char *path, size_t pn)
{
	size_t hn = strlen(host), n = 0;
	key[n++] = type;
	memcpy(key + n, host, hn);
	n += hn;
	if (type == 'P') {
		key[n++] = ' ';
		memcpy(key + n, path, pn);
		n += pn;
	}
	key[n] = '\0';
	return n;
}

/* Parses a list entry into its key. */
static int lc_entry_key(const char *entry, char *key, size_t *key_len)
{
	char host[LINKCHECK_HOST_MAX + 1];
	size_t n = strnlen(entry, LINKCHECK_URL_MAX + 1), hs = 0;
	bool url = false;

	if (n == 0 || n > LINKCHECK_URL_MAX || !bw_utf8_valid(entry, n, false) ||
	    memchr(entry, ' ', n))
		return BW_EINVAL;
	if (n >= 7 && lc_ieq(entry, "http://", 7)) {
		hs = 7;
		url = true;
	} else if (n >= 8 && lc_ieq(entry, "https://", 8)) {
		hs = 8;
		url = true;
	} else if (strstr(entry, "://")) {
		return BW_EINVAL;   /* another scheme */
	} else if (memchr(entry, '/', n)) {
		url = true;
	}
	if (!url) {
		const char *d = entry;
		if (n > 2 && d[0] == '*' && d[1] == '.')
			d += 2;
		if (linkcheck_host_normalise(d, host, sizeof host) != 0)
			return BW_EINVAL;
		*key_len = lc_key(key, 'D', host, NULL, 0);
		return 0;
	}

	size_t a = hs, he;
	while (a < n && entry[a] != '/' && entry[a] != '?' && entry[a] != '#' && entry[a] != '\\')
		a++;
	if (memchr(entry + hs, '@', a - hs))
		return BW_EINVAL;
	he = hs;
	if (hs < a && entry[hs] == '[') {
		while (he < a && entry[he] != ']')
			he++;
		if (he == a)
			return BW_EINVAL;
		he++;
	} else {
		while (he < a && entry[he] != ':')
			he++;
	}
	if (he < a) {   /* ":port" */
		if (entry[he] != ':' || a - he - 1 == 0 || a - he - 1 > 5)
			return BW_EINVAL;
		for (size_t i = he + 1; i < a; i++)
			if (entry[i] < '0' || entry[i] > '9')
				return BW_EINVAL;
	}
	if (he == hs || lc_host_decode(entry + hs, he - hs, host) != 0)
		return BW_EINVAL;

	char path[LINKCHECK_URL_MAX];
	struct lc_sb b = { path, 0, sizeof path, false };
	lc_path_norm(entry + a, n - a, &b);
	if (b.over)
		return BW_EINVAL;
	int depth = 0;
	for (size_t i = 0; i < b.n; i++)
		if (lc_is_boundary(path[i]))
			depth++;
	if (depth > LINKCHECK_PATH_DEPTH_MAX)
		return BW_EINVAL;
	*key_len = lc_key(key, 'P', host, path, b.n);
	return 0;
}

/* 0 added, 1 already present, or BW_E*. */
static int lc_list_add(struct linkcheck_list *l, const char *entry)
{
	char key[LC_KEY_MAX];
	size_t kn;
	int rc = lc_entry_key(entry, key, &kn);
	if (rc < 0)
		return rc;
	return lc_insert(l, key, kn);
}

int linkcheck_list_add(struct linkcheck_list *l, const char *entry)
{
	if (!l || !entry)
		return BW_EINVAL;
	int rc = lc_list_add(l, entry);
	return rc < 0 ? rc : 0;
}

static bool lc_blank(char c)
{
	return c == ' ' || c == '\t';
}

int linkcheck_list_import(struct linkcheck_list *l, const char *text, size_t len,
                          int *added, int *bad_line)
{
	char entry[LINKCHECK_URL_MAX + 1];
	size_t i = 0;
	int line = 0, nadd = 0, first_bad = 0;

	if (!l || !added || !bad_line || (!text && len))
		return BW_EINVAL;
	if (len > LINKCHECK_IMPORT_MAX)
		return BW_ETOOBIG;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len) {
		size_t j = i, next, b, e, t, rest;
		line++;
		while (j < len && text[j] != '\n')
			j++;
		next = j < len ? j + 1 : j;
		e = j;
		if (e > i && text[e - 1] == '\r')
			e--;
		b = i;
		while (b < e && lc_blank(text[b]))
			b++;
		while (e > b && lc_blank(text[e - 1]))
			e--;
		i = next;
		if (b == e || text[b] == '#')
			continue;
		t = b;
		while (t < e && !lc_blank(text[t]))
			t++;
		rest = t;
		while (rest < e && lc_blank(text[rest]))
			rest++;
		bool ok = (rest == e || text[rest] == '#') && t - b <= LINKCHECK_URL_MAX &&
		          !memchr(text + b, '\0', t - b);
		if (ok) {
			memcpy(entry, text + b, t - b);
			entry[t - b] = '\0';
			int rc = lc_list_add(l, entry);
			if (rc == BW_EINVAL)
				ok = false;
			else if (rc < 0)
				return rc;
			else if (rc == 0)
				nadd++;
		}
		if (!ok && !first_bad)
			first_bad = line;
	}
	*added = nadd;
	*bad_line = first_bad;
	return 0;
}

/* ------------------------------------------------------------------ */
/* blocklist matching */

static void lc_reason(struct linkcheck_result *r, enum linkcheck_verdict v, const char *what,
                      const char *s, size_t n)
{
	size_t wl = strlen(what);
	r->verdict = v;
	if (wl >= sizeof r->reason)
		wl = sizeof r->reason - 1;
	memcpy(r->reason, what, wl);
	lc_copy_trunc(r->reason + wl, sizeof r->reason - wl, s, n);
}

/* The host or a parent domain is listed. */
static bool lc_match_host(const struct linkcheck_list *l, const char *host,
                          struct linkcheck_result *r)
{
	char key[LC_KEY_MAX];
	const char *d = host;
	bool ip = lc_host_is_ip(host);
	for (int guard = 0; guard < LINKCHECK_HOST_MAX && d && *d; guard++) {
		size_t kn = lc_key(key, 'D', d, NULL, 0);
		if (lc_find(l, key, kn)) {
			lc_reason(r, LINK_MALICIOUS, "listed: ", d, strlen(d));
			return true;
		}
		if (ip)
			break;
		d = strchr(d, '.');
		if (d)
			d++;
	}
	return false;
}

/* A prefix entry for the host covers the URL's path. */
static bool lc_match_path(const struct linkcheck_list *l, const struct linkcheck_url *u,
                          const char *text, struct linkcheck_result *r)
{
	char path[LINKCHECK_URL_MAX], key[LC_KEY_MAX];
	struct lc_sb b = { path, 0, sizeof path, false };
	int nb = 0;

	lc_path_norm(text + u->path_off, u->off + u->len - u->path_off, &b);
	for (size_t k = 0; k <= b.n && nb <= LINKCHECK_PATH_DEPTH_MAX; k++) {
		if (k < b.n && !lc_is_boundary(path[k]))
			continue;
		nb++;
		size_t kn = lc_key(key, 'P', u->host, path, k);
		if (lc_find(l, key, kn)) {
			lc_reason(r, LINK_MALICIOUS, "listed: ", key + 1, kn - 1);
			char *sp = strchr(r->reason, ' ');
			sp = sp ? strchr(sp + 1, ' ') : NULL;   /* "listed: host path" */
			if (sp)
				memmove(sp, sp + 1, strlen(sp + 1) + 1);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* lookalikes */

struct lc_conf {
	uint32_t cp;
	char to[3];
};

/* Lower-case confusables, sorted by code point: a SUBSET of Unicode TR39
 * confusables.txt (prototype letters only) plus Chromium's additions. */
static const struct lc_conf lc_conf_tbl[] = {
	{ 0x00e6, "ae" }, { 0x00f8, "o" }, { 0x0111, "d" }, { 0x0127, "h" }, { 0x0131, "i" },
	{ 0x0138, "k" }, { 0x0142, "l" }, { 0x014b, "n" }, { 0x0180, "b" }, { 0x0185, "b" },
	{ 0x01c0, "l" }, { 0x0237, "j" }, { 0x0251, "a" }, { 0x0261, "g" }, { 0x0269, "i" },
	{ 0x026a, "i" }, { 0x0274, "n" }, { 0x0280, "r" }, { 0x028f, "y" }, { 0x029c, "h" },
	{ 0x029f, "l" },
	/* Greek */
	{ 0x03b1, "a" }, { 0x03b3, "y" }, { 0x03b5, "e" }, { 0x03b7, "n" }, { 0x03b9, "i" },
	{ 0x03ba, "k" }, { 0x03bd, "v" }, { 0x03bf, "o" }, { 0x03c1, "p" }, { 0x03c4, "t" },
	{ 0x03c5, "u" }, { 0x03c7, "x" }, { 0x03c9, "w" }, { 0x03f2, "c" }, { 0x03f3, "j" },
	/* Cyrillic */
	{ 0x0430, "a" }, { 0x0432, "b" }, { 0x0433, "r" }, { 0x0435, "e" }, { 0x0437, "3" },
	{ 0x043a, "k" }, { 0x043c, "m" }, { 0x043d, "h" }, { 0x043e, "o" }, { 0x043f, "n" },
	{ 0x0440, "p" }, { 0x0441, "c" }, { 0x0442, "t" }, { 0x0443, "y" }, { 0x0445, "x" },
	{ 0x0448, "w" }, { 0x0449, "w" }, { 0x044a, "b" }, { 0x044c, "b" }, { 0x0455, "s" },
	{ 0x0456, "i" }, { 0x0458, "j" }, { 0x045b, "h" }, { 0x0461, "w" }, { 0x0475, "v" },
	{ 0x048f, "p" }, { 0x0491, "r" }, { 0x049b, "k" }, { 0x04a3, "h" }, { 0x04ab, "c" },
	{ 0x04af, "y" }, { 0x04b1, "y" }, { 0x04b3, "x" }, { 0x04bb, "h" }, { 0x04bd, "e" },
	{ 0x04cf, "l" }, { 0x04e1, "3" }, { 0x0501, "d" }, { 0x050d, "g" }, { 0x051b, "q" },
	{ 0x051d, "w" },
	/* Armenian */
	{ 0x0561, "w" }, { 0x0563, "q" }, { 0x0566, "q" }, { 0x0570, "h" }, { 0x0578, "n" },
	{ 0x057d, "u" }, { 0x0581, "g" }, { 0x0584, "f" }, { 0x0585, "o" },
	/* Devanagari digit zero; Latin small capitals */
	{ 0x0966, "o" }, { 0x1d04, "c" }, { 0x1d0f, "o" }, { 0x1d1c, "u" }, { 0x1d20, "v" },
	{ 0x1d21, "w" }, { 0x1d22, "z" },
};

static const char *lc_confusable(ucs4_t c)
{
	size_t lo = 0, hi = BW_ARRAY_LEN(lc_conf_tbl);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lc_conf_tbl[mid].cp == c)
			return lc_conf_tbl[mid].to;
		if (lc_conf_tbl[mid].cp < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The U-label of A-label lab[0..n) into out; ASCII labels are copied. */
static int lc_label_unicode(const char *lab, size_t n, char *out, size_t out_max)
{
	char buf[LINKCHECK_HOST_MAX + 1];
	if (n >= sizeof buf || n >= out_max)
		return -1;
	memcpy(buf, lab, n);
	buf[n] = '\0';
	if (n < 4 || memcmp(buf, "xn--", 4) != 0) {
		memcpy(out, buf, n + 1);
		return 0;
	}
	char *u = NULL;
	int rc = -1;
	if (idn2_to_unicode_8z8z(buf, &u, 0) == IDN2_OK && u && strlen(u) < out_max) {
		memcpy(out, u, strlen(u) + 1);
		rc = 0;
	}
	idn2_free(u);
	return rc;
}

/* Appends the skeleton of UTF-8 label s[0..n) to b. */
static int lc_skeleton_label(const char *s, size_t n, struct lc_sb *b)
{
	uint8_t tmp[LC_LABEL_U_MAX * 2];
	size_t tn = sizeof tmp, start = b->n;
	int rc = 0;
	uint8_t *d = u8_normalize(UNINORM_NFKD, (const uint8_t *)s, n, tmp, &tn);
	if (!d)
		return -1;
	for (size_t i = 0; i < tn && !b->over;) {
		ucs4_t c;
		int k = u8_mbtoucr(&c, d + i, tn - i);
		if (k <= 0) {
			rc = -1;
			break;
		}
		i += (size_t)k;
		c = uc_tolower(c);
		if (uc_is_general_category(c, UC_CATEGORY_Mn))
			continue;
		const char *m = c == '0' ? "o" : c == '1' ? "l" : lc_confusable(c);
		if (m) {
			lc_sb_puts(b, m, strlen(m));
		} else {
			uint8_t enc[6];
			int el = u8_uctomb(enc, c, (int)sizeof enc);
			if (el <= 0 || c == '.') {
				rc = -1;
				break;
			}
			lc_sb_puts(b, (const char *)enc, (size_t)el);
		}
	}
	if (d != tmp)
		free(d);
	if (rc < 0 || b->over)
		return -1;
	/* "rn" -> "m", "vv" -> "w" */
	size_t o = start;
	for (size_t i = start; i < b->n;) {
		if (i + 1 < b->n && b->p[i] == 'r' && b->p[i + 1] == 'n') {
			b->p[o++] = 'm';
			i += 2;
		} else if (i + 1 < b->n && b->p[i] == 'v' && b->p[i + 1] == 'v') {
			b->p[o++] = 'w';
			i += 2;
		} else {
			b->p[o++] = b->p[i++];
		}
	}
	b->n = o;
	return 0;
}

/* Skeleton of a normalised host, label by label, NUL-terminated in out. */
static int lc_skeleton_host(const char *host, char *out, size_t out_max)
{
	char ul[LC_LABEL_U_MAX];
	struct lc_sb b = { out, 0, out_max - 1, false };
	size_t n = strlen(host), s = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && host[i] != '.')
			continue;
		if (s > 0)
			lc_sb_put(&b, '.');
		if (lc_label_unicode(host + s, i - s, ul, sizeof ul) < 0 ||
		    lc_skeleton_label(ul, strlen(ul), &b) < 0 || b.over)
			return -1;
		s = i + 1;
	}
	out[b.n] = '\0';
	return 0;
}

/* Start of the last m labels of s, or NULL when s has fewer. */
static const char *lc_suffix_labels(const char *s, int m)
{
	int seen = 0;
	for (size_t i = strlen(s); i > 0; i--)
		if (s[i - 1] == '.' && ++seen == m)
			return s + i;
	return seen == m - 1 ? s : NULL;
}

static int lc_count_labels(const char *s)
{
	int n = 1;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

static bool lc_is_subdomain(const char *host, const char *d)
{
	size_t hl = strlen(host), dl = strlen(d);
	if (hl == dl)
		return strcmp(host, d) == 0;
	return hl > dl && host[hl - dl - 1] == '.' && strcmp(host + hl - dl, d) == 0;
}

/* Registrable part of a normalised domain, approximated (see top). */
static const char *lc_registrable(const char *d)
{
	static const char *const generic[] = { "com", "net", "org", "gov", "edu", "ac",
	                                       "co", "mil", "ne", "or", "go" };
	const char *two = lc_suffix_labels(d, 2), *three;
	if (!two || two == d)
		return d;
	const char *tld = strchr(two, '.') + 1;
	size_t sl = (size_t)(tld - 1 - two);
	if (strlen(tld) == 2 && (three = lc_suffix_labels(d, 3)) != NULL) {
		for (size_t i = 0; i < BW_ARRAY_LEN(generic); i++)
			if (strlen(generic[i]) == sl && memcmp(two, generic[i], sl) == 0)
				return three;
	}
	return two;
}

/* The last labels of host, as many as x has, are not x but have x's
 * skeleton xs. */
static bool lc_skel_match(const char *host, const char *hskel, const char *x, const char *xs)
{
	int m = lc_count_labels(x);
	const char *hs = lc_suffix_labels(host, m), *hk = lc_suffix_labels(hskel, m);
	if (!hs || !hk || strcmp(hs, x) == 0)
		return false;
	return strcmp(hk, xs) == 0;
}

/* Skeleton xs appears as whole labels in hskel, but not at its end
 * ("example.cn.login.example"). */
static bool lc_skel_contains(const char *hskel, const char *xs)
{
	size_t hl = strlen(hskel), xl = strlen(xs);
	for (size_t p = 0; xl > 0 && p + xl < hl; p++)
		if ((p == 0 || hskel[p - 1] == '.') && hskel[p + xl] == '.' &&
		    memcmp(hskel + p, xs, xl) == 0)
			return true;
	return false;
}

static bool lc_in(const char *s, size_t n, const char *const *set, size_t nset)
{
	for (size_t i = 0; i < nset; i++)
		if (strlen(set[i]) == n && memcmp(s, set[i], n) == 0)
			return true;
	return false;
}

/* Script checks for one U-label: mixed scripts, or a whole label of
 * Latin-looking Cyrillic/Greek/Armenian under a foreign ASCII TLD. */
static bool lc_label_scripts(const char *lab, const char *tld, struct linkcheck_result *r)
{
	static const char *const combos[3][4] = {
		{ "Latin", "Han", "Hiragana", "Katakana" },
		{ "Latin", "Han", "Bopomofo", "Latin" },
		{ "Latin", "Han", "Hangul", "Latin" },
	};
	static const char *const cyrl_tld[] = { "ru", "su", "ua", "by", "kz", "kg", "bg",
	                                        "mk", "rs", "mn", "tj", "uz" };
	static const char *const grek_tld[] = { "gr", "cy" };
	static const char *const armn_tld[] = { "am" };
	const char *sc[4];
	int nsc = 0;
	bool overflow = false, latin_alike = true;
	const uint8_t *s = (const uint8_t *)lab;
	size_t n = strlen(lab);

	for (size_t i = 0; i < n;) {
		ucs4_t c;
		int k = u8_mbtoucr(&c, s + i, n - i);
		if (k <= 0)
			return false;
		i += (size_t)k;
		const uc_script_t *us = uc_script(c);
		const char *name = us ? us->name : "Unknown";
		if (strcmp(name, "Common") == 0 || strcmp(name, "Inherited") == 0)
			continue;
		if (strcmp(name, "Latin") != 0) {
			const char *m = lc_confusable(uc_tolower(c));
			if (!m || m[0] < 'a' || m[0] > 'z')
				latin_alike = false;
		}
		bool have = false;
		for (int j = 0; j < nsc; j++)
			have = have || strcmp(sc[j], name) == 0;
		if (!have) {
			if (nsc == 4)
				overflow = true;
			else
				sc[nsc++] = name;
		}
	}
	if (overflow || nsc > 1) {
		bool ok = false;
		for (size_t c = 0; !overflow && c < BW_ARRAY_LEN(combos) && !ok; c++) {
			bool all = true;
			for (int j = 0; j < nsc; j++)
				all = all && lc_in(sc[j], strlen(sc[j]), combos[c], 4);
			ok = all;
		}
		if (!ok) {
			char why[64];
			snprintf(why, sizeof why, "%s+%s", sc[0], sc[1]);
			lc_reason(r, LINK_LOOKALIKE, "mixed scripts in label: ", why, strlen(why));
			return true;
		}
		return false;
	}
	if (nsc != 1 || !latin_alike || !tld ||
	    !(strcmp(sc[0], "Cyrillic") == 0 || strcmp(sc[0], "Greek") == 0 ||
	      strcmp(sc[0], "Armenian") == 0))
		return false;
	size_t tl = strlen(tld);
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)tld[i] >= 0x80)
			return false;
	if (tl >= 4 && memcmp(tld, "xn--", 4) == 0)
		return false;
	bool home = (strcmp(sc[0], "Cyrillic") == 0 && lc_in(tld, tl, cyrl_tld, BW_ARRAY_LEN(cyrl_tld))) ||
	            (strcmp(sc[0], "Greek") == 0 && lc_in(tld, tl, grek_tld, BW_ARRAY_LEN(grek_tld))) ||
	            (strcmp(sc[0], "Armenian") == 0 && lc_in(tld, tl, armn_tld, BW_ARRAY_LEN(armn_tld)));
	if (home)
		return false;
	lc_reason(r, LINK_LOOKALIKE, "Latin-lookalike label in script ", sc[0], strlen(sc[0]));
	return true;
}

/* Lookalike checks on a normalised domain host.  *is_trusted is set when
 * the host is a trusted domain or below one (then nothing is flagged). */
static int lc_lookalike(const char *const *trusted, int nt, const char *host, bool *is_trusted,
                        struct linkcheck_result *r)
{
	char tn[LINKCHECK_HOST_MAX + 1], ul[LC_LABEL_U_MAX];
	char *hskel = NULL, *xs;

	*is_trusted = false;
	for (int i = 0; i < nt; i++) {
		if (trusted[i] && linkcheck_host_normalise(trusted[i], tn, sizeof tn) == 0 &&
		    lc_is_subdomain(host, tn)) {
			*is_trusted = true;
			return 0;
		}
	}
	hskel = malloc(2 * LC_SKEL_MAX);
	if (!hskel)
		return BW_ENOMEM;
	xs = hskel + LC_SKEL_MAX;
	if (lc_skeleton_host(host, hskel, LC_SKEL_MAX) == 0) {
		for (int i = 0; i < nt; i++) {
			if (!trusted[i] || linkcheck_host_normalise(trusted[i], tn, sizeof tn) != 0 ||
			    lc_host_is_ip(tn))
				continue;
			const char *reg = lc_registrable(tn);
			for (int k = 0; k < 2; k++) {
				const char *x = k ? reg : tn;
				if ((k && reg == tn) || lc_skeleton_host(x, xs, LC_SKEL_MAX) < 0)
					continue;
				if (lc_skel_match(host, hskel, x, xs)) {
					lc_reason(r, LINK_LOOKALIKE, "lookalike of ", x, strlen(x));
					goto out;
				}
				if (lc_skel_contains(hskel, xs)) {
					lc_reason(r, LINK_LOOKALIKE, "contains the name ", x, strlen(x));
					goto out;
				}
			}
		}
	}
	/* scripts, label by label; the TLD is the last label */
	const char *tld = strrchr(host, '.');
	size_t n = strlen(host), s = 0;
	char tldu[LC_LABEL_U_MAX];
	if (!tld || lc_label_unicode(tld + 1, strlen(tld + 1), tldu, sizeof tldu) < 0)
		tldu[0] = '\0';
	for (size_t i = 0; i <= n; i++) {
		if (i < n && host[i] != '.')
			continue;
		if (lc_label_unicode(host + s, i - s, ul, sizeof ul) == 0 &&
		    lc_label_scripts(ul, (i < n && tld) ? tldu : NULL, r))
			goto out;
		s = i + 1;
	}
out:
	free(hskel);
	return 0;
}

static int lc_check(const struct linkcheck_list *bl, const char *const *trusted, int nt,
                    const struct linkcheck_url *u, const char *text, int depth,
                    struct linkcheck_result *r);

/* Checks URLs embedded in u's path/query, plain and percent-decoded. */
static int lc_check_embedded(const struct linkcheck_list *bl, const char *const *trusted, int nt,
                             const struct linkcheck_url *u, const char *text,
                             struct linkcheck_result *r)
{
	size_t start = u->path_off, end = u->off + u->len;
	struct linkcheck_url *emb = NULL;
	char *dec = NULL;
	int rc = 0;

	if (end <= start)
		return 0;
	size_t n = end - start;
	if (n > LINKCHECK_URL_MAX)
		n = LINKCHECK_URL_MAX;
	emb = malloc(LC_EMBED_MAX * sizeof *emb);
	dec = malloc(n + 1);
	if (!emb || !dec) {
		rc = BW_ENOMEM;
		goto out;
	}
	const char *src = text + start;
	size_t dn = 0;
	for (size_t i = 0; i < n; i++) {
		int hi = i + 2 < n ? lc_hexval((unsigned char)src[i + 1]) : -1;
		int lo = i + 2 < n ? lc_hexval((unsigned char)src[i + 2]) : -1;
		if (src[i] == '%' && hi >= 0 && lo >= 0) {
			dec[dn++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			dec[dn++] = src[i];
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *t = pass ? dec : src;
		size_t tn = pass ? dn : n;
		bool more;
		if (pass && dn == n)
			break;   /* nothing was encoded */
		int k = lc_extract_range(t, tn, emb, LC_EMBED_MAX, &more);
		for (int i = 0; i < k; i++) {
			struct linkcheck_result er;
			rc = lc_check(bl, trusted, nt, &emb[i], t, 1, &er);
			if (rc < 0)
				goto out;
			if (er.verdict > r->verdict) {
				lc_reason(r, er.verdict, "embedded link ", er.reason, strlen(er.reason));
				if (er.verdict == LINK_MALICIOUS)
					goto out;
			}
		}
	}
out:
	free(emb);
	free(dec);
	return rc;
}

static int lc_check(const struct linkcheck_list *bl, const char *const *trusted, int nt,
                    const struct linkcheck_url *u, const char *text, int depth,
                    struct linkcheck_result *r)
{
	struct linkcheck_result emb = { LINK_OK, "" };
	bool is_trusted = false, bad = (u->flags & LINKCHECK_URL_BADHOST) || !u->host[0];
	int rc;

	r->verdict = LINK_OK;
	r->reason[0] = '\0';
	if (bl && !bad) {
		if (lc_match_host(bl, u->host, r))
			return 0;
		if (text && lc_match_path(bl, u, text, r))
			return 0;
	}
	if (text && depth == 0) {
		rc = lc_check_embedded(bl, trusted, nt, u, text, &emb);
		if (rc < 0)
			return rc;
		if (emb.verdict == LINK_MALICIOUS) {
			*r = emb;
			return 0;
		}
	}
	if (bad) {
		lc_reason(r, LINK_LOOKALIKE, "invalid host: ", u->host_unicode,
		          strnlen(u->host_unicode, sizeof u->host_unicode - 1));
		return 0;
	}
	if (!lc_host_is_ip(u->host)) {
		rc = lc_lookalike(trusted, nt, u->host, &is_trusted, r);
		if (rc < 0)
			return rc;
		if (r->verdict != LINK_OK)
			return 0;
	}
	if ((u->flags & LINKCHECK_URL_USERINFO) && !is_trusted) {
		lc_reason(r, LINK_LOOKALIKE, "user info before real host ", u->host, strlen(u->host));
		return 0;
	}
	if (emb.verdict != LINK_OK)
		*r = emb;
	return 0;
}

int linkcheck_url_check(const struct linkcheck_list *blocked, const char *const *trusted,
                        int ntrusted, const struct linkcheck_url *u, const char *text,
                        struct linkcheck_result *out)
{
	struct linkcheck_result r;
	if (!u || !out || ntrusted < 0 || (ntrusted > 0 && !trusted))
		return BW_EINVAL;
	if (ntrusted > LINKCHECK_TRUSTED_MAX)
		return BW_ETOOBIG;
	if (strnlen(u->host, sizeof u->host) == sizeof u->host ||
	    strnlen(u->host_unicode, sizeof u->host_unicode) == sizeof u->host_unicode)
		return BW_EINVAL;
	if (text && (u->len > SIZE_MAX - u->off || u->path_off < u->off ||
	             u->path_off > u->off + u->len))
		return BW_EINVAL;
	if (!(u->flags & LINKCHECK_URL_BADHOST) && u->host[0]) {
		/* the host must already be normalised */
		char h[LINKCHECK_HOST_MAX + 1];
		if (linkcheck_host_normalise(u->host, h, sizeof h) != 0 || strcmp(h, u->host) != 0)
			return BW_EINVAL;
	}
	int rc = lc_check(blocked, trusted, ntrusted, u, text, 0, &r);
	if (rc < 0)
		return rc;
	*out = r;
	return 0;
}
