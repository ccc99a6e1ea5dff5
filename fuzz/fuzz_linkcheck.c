/*
 * fuzz_linkcheck.c — URL extraction and link checking on arbitrary chat
 * text (linkcheck.c: RG-WEB-b, IN-PHISH, MI-3), plus host normalisation,
 * list entries and list import on the same bytes.
 *
 * Properties checked on every input:
 *  - no crash, leak or out-of-bounds access (sanitizers);
 *  - extraction returns 0..max or BW_ETOOBIG; URLs lie inside the text, in
 *    order, without overlap, start with http:, https: or www. (any case),
 *    and path_off lies inside the URL;
 *  - a URL's host is "" exactly when BADHOST is set, otherwise it is at most
 *    253 bytes and normalises to itself; host_unicode is valid UTF-8;
 *  - extracting from just the URL's bytes finds the same single URL (same
 *    length, host and flags): the range a client linkifies is what was
 *    checked;
 *  - checking every URL succeeds with a verdict in range and a valid UTF-8
 *    reason; a URL whose host is a trusted domain is never a lookalike
 *    unless through its user info or an embedded link;
 *  - normalisation is idempotent; an accepted list entry is accepted again
 *    without growing the list; import never fails on bounded input and
 *    counts exactly the entries it added.
 */
#include "linkcheck.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_URLS 32

static struct linkcheck_list *fz_list;
static const char *const fz_trusted[] = { "example.cn", "apple.com", "oa.example.com.cn",
                                          "xn--fiqs8s.cn" };
static struct linkcheck_url fz_urls[FZ_MAX_URLS], fz_again[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const entries[] = {
		"evil.example", "*.phish.example", "https://files.example/share/abc",
		"http://q.example/p?id=1", "192.0.2.1", "[2001:db8::1]", "xn--pple-43d.example",
	};
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	if (linkcheck_list_new(&fz_list) != 0)
		abort();
	for (size_t i = 0; i < BW_ARRAY_LEN(entries); i++)
		if (linkcheck_list_add(fz_list, entries[i]) != 0)
			abort();
	return 0;
}

static bool fz_starts_url(const char *s, size_t n)
{
	static const char *const pre[] = { "http:", "https:", "www." };
	for (size_t i = 0; i < BW_ARRAY_LEN(pre); i++) {
		size_t k = strlen(pre[i]);
		if (n < k)
			continue;
		size_t j = 0;
		while (j < k && (s[j] | 0x20) == pre[i][j])
			j++;
		if (j == k)
			return true;
	}
	return false;
}

static void fz_check_url(const char *in, size_t size, const struct linkcheck_url *u,
                         size_t prev_end)
{
	if (u->off < prev_end || u->len == 0 || u->len > size - u->off)
		abort();
	if (u->path_off < u->off || u->path_off > u->off + u->len)
		abort();
	if (!fz_starts_url(in + u->off, u->len))
		abort();
	size_t hl = strnlen(u->host, sizeof u->host);
	size_t ul = strnlen(u->host_unicode, sizeof u->host_unicode);
	if (hl == sizeof u->host || ul == sizeof u->host_unicode)
		abort();
	if (!bw_utf8_valid(u->host_unicode, ul, false))
		abort();
	if (u->flags & LINKCHECK_URL_BADHOST) {
		if (hl != 0)
			abort();
	} else {
		char h[LINKCHECK_HOST_MAX + 1];
		if (hl == 0 || hl > LINKCHECK_HOST_MAX)
			abort();
		if (linkcheck_host_normalise(u->host, h, sizeof h) != 0 || strcmp(h, u->host) != 0)
			abort();
	}

	/* the URL's own bytes give back the same URL */
	char *copy = malloc(u->len);
	if (!copy)
		return;
	memcpy(copy, in + u->off, u->len);
	int n = linkcheck_extract(copy, u->len, fz_again, 2);
	if (n != 1 || fz_again[0].off != 0 || fz_again[0].len != u->len ||
	    fz_again[0].flags != u->flags || strcmp(fz_again[0].host, u->host) != 0 ||
	    fz_again[0].path_off != u->path_off - u->off)
		abort();
	free(copy);

	/* check against the fixed list and against no list */
	struct linkcheck_result r;
	for (int pass = 0; pass < 2; pass++) {
		int rc = linkcheck_url_check(pass ? NULL : fz_list, fz_trusted,
		                             (int)BW_ARRAY_LEN(fz_trusted), u, pass ? NULL : in, &r);
		if (rc != 0)
			abort();
		if (r.verdict != LINK_OK && r.verdict != LINK_LOOKALIKE && r.verdict != LINK_MALICIOUS)
			abort();
		size_t rl = strnlen(r.reason, sizeof r.reason);
		if (rl == sizeof r.reason || !bw_utf8_valid(r.reason, rl, false))
			abort();
		if ((r.verdict == LINK_OK) != (rl == 0))
			abort();
		/* without a list or text nothing can be malicious */
		if (pass && r.verdict == LINK_MALICIOUS)
			abort();
		if (pass && r.verdict == LINK_LOOKALIKE && !(u->flags & LINKCHECK_URL_USERINFO) &&
		    !(u->flags & LINKCHECK_URL_BADHOST)) {
			for (size_t t = 0; t < BW_ARRAY_LEN(fz_trusted); t++) {
				size_t tl = strlen(fz_trusted[t]);
				if ((hl == tl || (hl > tl && u->host[hl - tl - 1] == '.')) &&
				    strcmp(u->host + hl - tl, fz_trusted[t]) == 0)
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *in = malloc(size ? size : 1);   /* exact size for ASan */
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);

	/* extraction and checks */
	int n = linkcheck_extract(in, size, fz_urls, FZ_MAX_URLS);
	if (n == BW_ETOOBIG)
		n = FZ_MAX_URLS;   /* the array was filled up to max */
	else if (n < 0 || n > FZ_MAX_URLS)
		abort();
	size_t prev_end = 0;
	for (int i = 0; i < n; i++) {
		fz_check_url(in, size, &fz_urls[i], prev_end);
		prev_end = fz_urls[i].off + fz_urls[i].len;
	}

	/* the input as one host / entry */
	char s[1200];
	size_t sl = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, in, sl);
	s[sl] = '\0';
	char h[LINKCHECK_HOST_MAX + 1], h2[LINKCHECK_HOST_MAX + 1];
	if (linkcheck_host_normalise(s, h, sizeof h) == 0) {
		if (strlen(h) > LINKCHECK_HOST_MAX || linkcheck_host_normalise(h, h2, sizeof h2) != 0 ||
		    strcmp(h, h2) != 0)
			abort();
	}

	if (size <= 8192) {
		struct linkcheck_list *l = NULL;
		int added = -1, bad = -1;
		if (linkcheck_list_new(&l) != 0)
			abort();
		if (linkcheck_list_add(l, s) == 0) {
			size_t c = linkcheck_list_count(l);
			if (c != 1 || linkcheck_list_add(l, s) != 0 || linkcheck_list_count(l) != 1)
				abort();
		}
		linkcheck_list_free(l);
		l = NULL;
		if (linkcheck_list_new(&l) != 0)
			abort();
		if (linkcheck_list_import(l, in, size, &added, &bad) != 0)
			abort();
		if (added < 0 || bad < 0 || (size_t)added != linkcheck_list_count(l))
			abort();
		for (int i = 0; i < n && i < 4; i++) {
			struct linkcheck_result r;
			if (linkcheck_url_check(l, NULL, 0, &fz_urls[i], in, &r) != 0)
				abort();
		}
		linkcheck_list_free(l);
	}
	free(in);
	return 0;
}
