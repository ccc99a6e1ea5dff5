/*
 * test_linkcheck.c — URL extraction, host normalisation, the malicious
 * URL/domain list (domain, subdomain, URL prefix, import) and lookalike
 * detection (RG-WEB-b, IN-PHISH, MI-3).
 */
#include "linkcheck.h"
#include "util.h"
#include "unit.h"

#include <stdint.h>
#include <time.h>

#define NURL 16

static struct linkcheck_url urls[NURL];

/* Extracts from a NUL-terminated text; returns the count or the error. */
static int ex(const char *t)
{
	return linkcheck_extract(t, strlen(t), urls, NURL);
}

/* The i-th extracted URL as a string (static buffer). */
static const char *ustr(const char *t, int i)
{
	static char buf[4096];
	size_t n = urls[i].len < sizeof buf - 1 ? urls[i].len : sizeof buf - 1;
	memcpy(buf, t + urls[i].off, n);
	buf[n] = '\0';
	return buf;
}

static const char *const trusted[] = { "apple.com", "example.cn", "oa.example.com.cn" };

/* Extracts the single URL of t and checks it; returns the verdict. */
static int verdict_of(const struct linkcheck_list *l, const char *t, char *reason, size_t rmax)
{
	struct linkcheck_result r;
	if (ex(t) != 1)
		return -100;
	int rc = linkcheck_url_check(l, trusted, (int)BW_ARRAY_LEN(trusted), &urls[0], t, &r);
	if (rc < 0)
		return rc;
	if (reason)
		snprintf(reason, rmax, "%s", r.reason);
	return (int)r.verdict;
}

TEST(extract_basic)
{
	const char *t = "see https://example.cn/a and www.foo.example. ok";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(ustr(t, 0), "https://example.cn/a");
	CHECK_STR(urls[0].host, "example.cn");
	CHECK_EQ(urls[0].flags, 0);
	CHECK_EQ(urls[0].path_off, urls[0].off + strlen("https://example.cn"));
	CHECK_STR(ustr(t, 1), "www.foo.example");
	CHECK_STR(urls[1].host, "www.foo.example");
	CHECK_EQ(urls[1].flags, LINKCHECK_URL_NOSCHEME);
	CHECK_EQ(urls[1].path_off, urls[1].off + urls[1].len);

	CHECK_EQ(ex(""), 0);
	CHECK_EQ(ex("no links here, not even www or http"), 0);
	CHECK_EQ(ex("javascript:alert(1) mailto:a@b.example ftp://x.example data:text/html,hi"), 0);
	CHECK_EQ(ex("awww.x.example foo.www.x.example a@www.x.example"), 0);
	CHECK_EQ(ex("http:// https://) www. http:"), 0);
	t = "HTTPS://EXAMPLE.CN/Path HtTp:\\\\evil.example\\x http:/one.example";
	CHECK_EQ(ex(t), 3);
	CHECK_STR(ustr(t, 0), "HTTPS://EXAMPLE.CN/Path");
	CHECK_STR(urls[0].host, "example.cn");
	CHECK_STR(urls[1].host, "evil.example");
	CHECK_STR(urls[2].host, "one.example");
}

TEST(extract_markdown_punct)
{
	const char *t = "[click](https://evil.example/login) and <http://b.example/x>";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(ustr(t, 0), "https://evil.example/login");
	CHECK_STR(ustr(t, 1), "http://b.example/x");

	t = "[http://a.example](http://b.example/p \"title\")";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(ustr(t, 0), "http://a.example");
	CHECK_STR(ustr(t, 1), "http://b.example/p");

	t = "(see http://en.example/wiki/Foo_(bar)), ok! **https://x.example/a?b=1**. "
	    "'http://q.example' \"http://r.example/\"; http://s.example/x?";
	CHECK_EQ(ex(t), 5);
	CHECK_STR(ustr(t, 0), "http://en.example/wiki/Foo_(bar)");
	CHECK_STR(ustr(t, 1), "https://x.example/a?b=1");
	CHECK_STR(ustr(t, 2), "http://q.example");
	CHECK_STR(ustr(t, 3), "http://r.example/");
	CHECK_STR(ustr(t, 4), "http://s.example/x");

	t = "`http://code.example/x` (http://p.example)";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(ustr(t, 0), "http://code.example/x");
	CHECK_STR(ustr(t, 1), "http://p.example");
}

TEST(extract_cjk)
{
	const char *t = "请看https://example.cn/a。";
	CHECK_EQ(ex(t), 1);
	CHECK_STR(ustr(t, 0), "https://example.cn/a");
	CHECK_EQ(urls[0].off, strlen("请看"));

	t = "链接：https://example.cn，谢谢 「www.example.cn」 【http://x.example/路径】";
	CHECK_EQ(ex(t), 3);
	CHECK_STR(ustr(t, 0), "https://example.cn");
	CHECK_STR(ustr(t, 1), "www.example.cn");
	CHECK_STR(ustr(t, 2), "http://x.example/路径");

	/* ideographic full stop inside the host is a dot, at the end it is not */
	t = "https://evil。example/x 和 https://example.cn。谢谢";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(urls[0].host, "evil.example");
	CHECK_STR(ustr(t, 1), "https://example.cn");
	CHECK_STR(urls[1].host, "example.cn");

	/* full-width letters fold to ASCII */
	t = "http://ｅｖｉｌ.example/";
	CHECK_EQ(ex(t), 1);
	CHECK_STR(urls[0].host, "evil.example");

	/* ideographic space ends a URL */
	t = "http://a.example/x\xe3\x80\x80next";
	CHECK_EQ(ex(t), 1);
	CHECK_STR(ustr(t, 0), "http://a.example/x");
}

TEST(extract_hosts)
{
	const char *t = "http://аpple.com/login";   /* Cyrillic а */
	CHECK_EQ(ex(t), 1);
	CHECK_STR(urls[0].host, "xn--pple-43d.com");
	CHECK_STR(urls[0].host_unicode, "аpple.com");

	t = "http://[2001:DB8:0::1]:8080/x http://0x7f.1/ http://2130706433 http://[::1";
	CHECK_EQ(ex(t), 4);
	CHECK_STR(urls[0].host, "[2001:db8::1]");
	CHECK_EQ(urls[0].flags, LINKCHECK_URL_IP);
	CHECK_STR(ustr(t, 0), "http://[2001:DB8:0::1]:8080/x");
	CHECK_STR(urls[1].host, "127.0.0.1");
	CHECK_STR(urls[2].host, "127.0.0.1");
	CHECK(urls[3].flags & LINKCHECK_URL_BADHOST);

	t = "https://example.cn@evil.example/x https://u:p@Evil.Example.:443/";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(urls[0].host, "evil.example");
	CHECK(urls[0].flags & LINKCHECK_URL_USERINFO);
	CHECK_STR(urls[1].host, "evil.example");

	t = "http://exa!mple.com/ http://%zz/ http://%65vil.example/ http://@/x http://:80/";
	CHECK_EQ(ex(t), 5);
	CHECK(urls[0].flags & LINKCHECK_URL_BADHOST);
	CHECK_STR(urls[0].host, "");
	CHECK_STR(urls[0].host_unicode, "exa!mple.com");
	CHECK(urls[1].flags & LINKCHECK_URL_BADHOST);
	CHECK_STR(urls[2].host, "evil.example");
	CHECK(urls[3].flags & LINKCHECK_URL_BADHOST);
	CHECK(urls[4].flags & LINKCHECK_URL_BADHOST);

	/* characters IDNA ignores do not hide the host */
	t = "http://ev\xef\xbb\xbfil.example/ http://ev\xc2\xadil.example/";
	CHECK_EQ(ex(t), 2);
	CHECK_STR(urls[0].host, "evil.example");
	CHECK_STR(urls[1].host, "evil.example");

	/* invalid UTF-8 ends a URL */
	t = "http://a.example/x\xff\xfe";
	CHECK_EQ(ex(t), 1);
	CHECK_STR(ustr(t, 0), "http://a.example/x");
}

TEST(extract_limits)
{
	struct linkcheck_url one[2];
	const char *t = "http://a.example http://b.example http://c.example";
	CHECK_EQ(linkcheck_extract(t, strlen(t), one, 2), BW_ETOOBIG);
	CHECK_EQ(linkcheck_extract(t, strlen(t), NULL, 0), BW_ETOOBIG);
	CHECK_EQ(linkcheck_extract("none", 4, NULL, 0), 0);
	CHECK_EQ(linkcheck_extract(NULL, 1, one, 2), BW_EINVAL);
	CHECK_EQ(linkcheck_extract(t, strlen(t), NULL, 2), BW_EINVAL);
	CHECK_EQ(linkcheck_extract(t, strlen(t), one, -1), BW_EINVAL);
	CHECK_EQ(linkcheck_extract(NULL, 0, NULL, 0), 0);

	/* NUL bytes end a URL and never hide one */
	const char nul[] = "http://a.example\0http://b.example";
	CHECK_EQ(linkcheck_extract(nul, sizeof nul - 1, urls, NURL), 2);

	char *big = malloc(LINKCHECK_TEXT_MAX + 1);
	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, 'a', LINKCHECK_TEXT_MAX + 1);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX + 1, urls, NURL), BW_ETOOBIG);

	/* one very long URL: found whole, quickly */
	memcpy(big, "http://long.example/", 20);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 1);
	CHECK_EQ(urls[0].len, LINKCHECK_TEXT_MAX);
	CHECK_STR(urls[0].host, "long.example");

	/* worst cases for the scanner stay linear */
	clock_t c0 = clock();
	for (size_t i = 0; i + 8 <= LINKCHECK_TEXT_MAX; i += 8)
		memcpy(big + i, "http://?", 8);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 1);
	CHECK(urls[0].flags & LINKCHECK_URL_BADHOST);
	for (size_t i = 0; i + 8 <= LINKCHECK_TEXT_MAX; i += 8)
		memcpy(big + i, "http:///", 8);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 1);
	CHECK_STR(urls[0].host, "http");   /* as browsers parse it */
	for (size_t i = 0; i + 8 <= LINKCHECK_TEXT_MAX; i += 8)
		memcpy(big + i, "http:// ", 8);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 0);
	for (size_t i = 0; i + 5 <= LINKCHECK_TEXT_MAX; i += 5)
		memcpy(big + i, "www.@", 5);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 1);
	for (size_t i = 0; i + 4 <= LINKCHECK_TEXT_MAX; i += 4)
		memcpy(big + i, "www ", 4);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 0);
	for (size_t i = 0; i + 4 <= LINKCHECK_TEXT_MAX; i += 4)
		memcpy(big + i, "(((.", 4);
	memcpy(big, "http://x.example/", 17);
	CHECK_EQ(linkcheck_extract(big, LINKCHECK_TEXT_MAX, urls, NURL), 1);
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	CHECK(secs < 20.0);

	/* check a URL longer than LINKCHECK_URL_MAX */
	struct linkcheck_result r;
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &urls[0], big, &r), 0);
	CHECK_EQ(r.verdict, LINK_OK);
	free(big);
}

TEST(normalise)
{
	char out[LINKCHECK_HOST_MAX + 1];
	static const struct { const char *in, *want; } ok[] = {
		{ "Example.CN.", "example.cn" },
		{ "аpple.com", "xn--pple-43d.com" },
		{ "XN--PPLE-43D.COM", "xn--pple-43d.com" },
		{ "evil。example", "evil.example" },
		{ "ＥＶＩＬ．example", "evil.example" },
		{ "例え.jp", "xn--r8jz45g.jp" },
		{ "faß.de", "xn--fa-hia.de" },
		{ "\xf0\x9f\x92\xa9.la", "xn--ls8h.la" },   /* transitional fallback */
		{ "foo_bar.example", "foo_bar.example" },
		{ "ab--c.example", "ab--c.example" },
		{ "127.1", "127.0.0.1" },
		{ "0x7F.0.0.1", "127.0.0.1" },
		{ "017700000001", "127.0.0.1" },
		{ "１２７.０.０.１", "127.0.0.1" },
		{ "[::1]", "[::1]" },
		{ "2001:DB8:0:0::1", "[2001:db8::1]" },
		{ "localhost", "localhost" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(ok); i++) {
		int rc = linkcheck_host_normalise(ok[i].in, out, sizeof out);
		if (rc != 0 || strcmp(out, ok[i].want) != 0)
			fprintf(stderr, "  normalise(%s) = %d %s\n", ok[i].in, rc, rc ? "" : out);
		CHECK_EQ(rc, 0);
		CHECK_STR(out, ok[i].want);
		/* idempotent */
		char again[LINKCHECK_HOST_MAX + 1];
		CHECK_EQ(linkcheck_host_normalise(out, again, sizeof again), 0);
		CHECK_STR(again, out);
	}
	static const char *const bad[] = {
		"", ".", "a..b", ".a", "-a.com", "a-.com", "xn--ab.example", "a b.com", "a!b.com",
		"evil,example", "1.2.3.256", "1.2.3.4.5", "08.1", "foo.0x1", "[::1", "[1::2::3]",
		"a/b", "a@b", "a%41.com", "\xff.com", "tab\t.com",
		/* an invalid A-label behind a BOM that IDNA removes (fuzz_linkcheck
		 * found normalising it was not idempotent) */
		"\xef\xbb\xbfxn--sth", "\xef\xbb\xbfxn--ab.example",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		int rc = linkcheck_host_normalise(bad[i], out, sizeof out);
		if (rc != BW_EINVAL)
			fprintf(stderr, "  normalise(%s) = %d, want EINVAL\n", bad[i], rc);
		CHECK_EQ(rc, BW_EINVAL);
	}
	char lab[80], longname[300];
	memset(lab, 'a', 64);
	strcpy(lab + 64, ".com");
	CHECK_EQ(linkcheck_host_normalise(lab, out, sizeof out), BW_EINVAL);
	memcpy(lab + 63, ".com", 5);   /* 63-byte label is fine */
	CHECK_EQ(linkcheck_host_normalise(lab, out, sizeof out), 0);
	/* 253 bytes ok, 254 not */
	for (int i = 0; i < 253; i++)
		longname[i] = (i % 2) ? '.' : 'a';
	longname[253] = '\0';
	CHECK_EQ(linkcheck_host_normalise(longname, out, sizeof out), 0);
	longname[252] = 'b';
	longname[253] = 'c';
	longname[254] = '\0';
	CHECK_EQ(linkcheck_host_normalise(longname, out, sizeof out), BW_EINVAL);
	CHECK_EQ(linkcheck_host_normalise("example.cn", out, 5), BW_ETOOBIG);
	CHECK_EQ(linkcheck_host_normalise(NULL, out, sizeof out), BW_EINVAL);
	memset(out, 'z', sizeof out);
	CHECK_EQ(linkcheck_host_normalise("a..b", out, sizeof out), BW_EINVAL);
	CHECK_EQ(out[0], 'z');   /* untouched on failure */
}

TEST(list_domains)
{
	struct linkcheck_list *l = NULL;
	char why[96];
	CHECK_EQ(linkcheck_list_new(&l), 0);
	CHECK_EQ(linkcheck_list_add(l, "evil.example"), 0);
	CHECK_EQ(linkcheck_list_add(l, "*.Wild.Example."), 0);
	CHECK_EQ(linkcheck_list_add(l, "EVIL.example"), 0);   /* duplicate */
	CHECK_EQ(linkcheck_list_add(l, "злой.example"), 0);
	CHECK_EQ(linkcheck_list_add(l, "192.0.2.1"), 0);
	CHECK_EQ(linkcheck_list_add(l, "[2001:db8::1]"), 0);
	CHECK_EQ(linkcheck_list_count(l), 5);

	CHECK_EQ(verdict_of(l, "go http://evil.example/", why, sizeof why), LINK_MALICIOUS);
	CHECK_STR(why, "listed: evil.example");
	CHECK_EQ(verdict_of(l, "https://a.b.EVIL.example./x?y", why, sizeof why), LINK_MALICIOUS);
	CHECK_STR(why, "listed: evil.example");
	CHECK_EQ(verdict_of(l, "www.evil.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://x.wild.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://wild.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://ЗЛОЙ.example/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://notevil.example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "http://evil.example.com/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "http://example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "http://192.0.2.1:8080/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://0xc0.0.2.1/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://3221225985/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://192.0.2.10/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "http://[2001:db8:0::1]/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://%65vil.example/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://evil。example/", NULL, 0), LINK_MALICIOUS);
	/* the real host after the user info is what counts */
	CHECK_EQ(verdict_of(l, "https://example.cn@evil.example/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://evil.example@example.cn/", NULL, 0), LINK_OK);

	/* a URL embedded in another (redirectors), plain or percent-encoded */
	CHECK_EQ(verdict_of(l, "https://go.example/r?u=https://evil.example/x", why, sizeof why),
	         LINK_MALICIOUS);
	CHECK_STR(why, "embedded link listed: evil.example");
	CHECK_EQ(verdict_of(l, "https://go.example/r?u=https%3A%2F%2Fsub.evil.example%2Fx", NULL, 0),
	         LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://go.example/r?u=www.evil.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://go.example/r?u=https://good.example", NULL, 0), LINK_OK);

	/* no list: nothing is malicious */
	struct linkcheck_result r;
	const char *t = "http://evil.example/";
	CHECK_EQ(ex(t), 1);
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &urls[0], t, &r), 0);
	CHECK_EQ(r.verdict, LINK_OK);
	linkcheck_list_free(l);
	linkcheck_list_free(NULL);
}

TEST(list_prefix)
{
	struct linkcheck_list *l = NULL;
	char why[96];
	CHECK_EQ(linkcheck_list_new(&l), 0);
	CHECK_EQ(linkcheck_list_add(l, "https://phish.example/login"), 0);
	CHECK_EQ(linkcheck_list_add(l, "HTTP://Q.example:8080/p?id=1#frag"), 0);
	CHECK_EQ(linkcheck_list_add(l, "whole.example/"), 0);
	CHECK_EQ(linkcheck_list_add(l, "https://phish.example/login/"), 0);   /* same entry */
	CHECK_EQ(linkcheck_list_count(l), 3);

	CHECK_EQ(verdict_of(l, "http://phish.example/login", why, sizeof why), LINK_MALICIOUS);
	CHECK_STR(why, "listed: phish.example/login");
	CHECK_EQ(verdict_of(l, "https://phish.example/login?x=1#y", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example/login/step2", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example//login", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example/a/../login", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example/./%6Cogin", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example\\login", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "https://phish.example/loginx", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "https://phish.example/LOGIN", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "https://phish.example/other", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "https://phish.example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "https://sub.phish.example/login", NULL, 0), LINK_OK);

	CHECK_EQ(verdict_of(l, "http://q.example/p?id=1", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://q.example/p?id=1&x=2", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://q.example/p?id=10", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(l, "http://q.example/p", NULL, 0), LINK_OK);

	CHECK_EQ(verdict_of(l, "http://whole.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://whole.example/any/thing?x", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://sub.whole.example/", NULL, 0), LINK_OK);

	/* without the text only domain entries can match */
	struct linkcheck_result r;
	const char *t = "https://phish.example/login";
	CHECK_EQ(ex(t), 1);
	CHECK_EQ(linkcheck_url_check(l, NULL, 0, &urls[0], NULL, &r), 0);
	CHECK_EQ(r.verdict, LINK_OK);

	/* a path deeper than the limit is refused; at the limit it matches */
	char e[LINKCHECK_URL_MAX + 64], u[LINKCHECK_URL_MAX + 128];
	strcpy(e, "http://deep.example");
	for (int i = 0; i < LINKCHECK_PATH_DEPTH_MAX; i++)
		strcat(e, "/a");
	CHECK_EQ(linkcheck_list_add(l, e), 0);
	snprintf(u, sizeof u, "%s/b/c", e);
	CHECK_EQ(verdict_of(l, u, NULL, 0), LINK_MALICIOUS);
	strcat(e, "/a");
	CHECK_EQ(linkcheck_list_add(l, e), BW_EINVAL);
	linkcheck_list_free(l);
}

TEST(list_bad_entries)
{
	struct linkcheck_list *l = NULL;
	CHECK_EQ(linkcheck_list_new(&l), 0);
	static const char *const bad[] = {
		"", " evil.example", "evil.example ", "bad entry", "http://", "https:///x",
		"https://user@x.example/", "-x.example", "x.example:port/", "http://x.example:99999999/",
		"a..b", "ftp://x.example/", "http://[::1/", "x.example\n", "*.", "*",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		int rc = linkcheck_list_add(l, bad[i]);
		if (rc != BW_EINVAL)
			fprintf(stderr, "  add(%s) = %d\n", bad[i], rc);
		CHECK_EQ(rc, BW_EINVAL);
	}
	char longe[LINKCHECK_URL_MAX + 2];
	memset(longe, 'a', sizeof longe - 1);
	longe[sizeof longe - 1] = '\0';
	memcpy(longe, "http://x.example/", 17);
	CHECK_EQ(linkcheck_list_add(l, longe), BW_EINVAL);
	CHECK_EQ(linkcheck_list_add(NULL, "x.example"), BW_EINVAL);
	CHECK_EQ(linkcheck_list_add(l, NULL), BW_EINVAL);
	CHECK_EQ(linkcheck_list_count(l), 0);
	CHECK_EQ(linkcheck_list_new(NULL), BW_EINVAL);
	linkcheck_list_free(l);
}

TEST(list_import)
{
	struct linkcheck_list *l = NULL;
	int added = -1, bad = -1;
	const char *f =
		"\xef\xbb\xbf# Bulwark blocklist\r\n"
		"\r\n"
		"evil.example\r\n"
		"   # indented comment\n"
		"  phish.example/login   # inline comment\n"
		"not a domain\n"
		"https://bad.example/x?y=1\n"
		"evil.example\n"
		"\t*.wild.example\t\n"
		"exa!mple.com\n"
		"last.example";
	CHECK_EQ(linkcheck_list_new(&l), 0);
	CHECK_EQ(linkcheck_list_import(l, f, strlen(f), &added, &bad), 0);
	CHECK_EQ(added, 5);
	CHECK_EQ(bad, 6);
	CHECK_EQ(linkcheck_list_count(l), 5);
	CHECK_EQ(verdict_of(l, "http://x.evil.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://phish.example/login/a", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://bad.example/x?y=1&z", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://a.wild.example", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://last.example", NULL, 0), LINK_MALICIOUS);

	/* empty, NUL inside a line, over-long line */
	CHECK_EQ(linkcheck_list_import(l, "", 0, &added, &bad), 0);
	CHECK_EQ(added, 0);
	CHECK_EQ(bad, 0);
	const char nul[] = "a.example\nb\0c.example\nd.example\n";
	CHECK_EQ(linkcheck_list_import(l, nul, sizeof nul - 1, &added, &bad), 0);
	CHECK_EQ(added, 2);
	CHECK_EQ(bad, 2);
	char *longf = malloc(LINKCHECK_URL_MAX + 100);
	CHECK(longf != NULL);
	if (longf) {
		memset(longf, 'a', LINKCHECK_URL_MAX + 99);
		memcpy(longf, "x.example\nhttp://y.example/", 27);
		longf[LINKCHECK_URL_MAX + 99] = '\0';
		CHECK_EQ(linkcheck_list_import(l, longf, strlen(longf), &added, &bad), 0);
		CHECK_EQ(added, 1);
		CHECK_EQ(bad, 2);
		free(longf);
	}
	CHECK_EQ(linkcheck_list_import(l, NULL, 1, &added, &bad), BW_EINVAL);
	CHECK_EQ(linkcheck_list_import(l, "x", 1, NULL, &bad), BW_EINVAL);
	CHECK_EQ(linkcheck_list_import(l, "x", (size_t)LINKCHECK_IMPORT_MAX + 1, &added, &bad),
	         BW_ETOOBIG);

	/* the example file ships with the source */
	uint8_t *ex_file = NULL;
	size_t ex_len = 0;
	if (bw_file_read("share/linkcheck/example-blocklist.txt", 1 << 20, &ex_file, &ex_len) == 0) {
		struct linkcheck_list *e = NULL;
		CHECK_EQ(linkcheck_list_new(&e), 0);
		CHECK_EQ(linkcheck_list_import(e, (const char *)ex_file, ex_len, &added, &bad), 0);
		CHECK(added > 0);
		CHECK_EQ(bad, 0);
		CHECK_EQ(verdict_of(e, "http://login.evil.example/", NULL, 0), LINK_MALICIOUS);
		linkcheck_list_free(e);
		free(ex_file);
	} else {
		fprintf(stderr, "  (share/linkcheck/example-blocklist.txt not found; skipped)\n");
	}
	linkcheck_list_free(l);
}

TEST(list_bounded)
{
	struct linkcheck_list *l = NULL;
	char name[64];
	CHECK_EQ(linkcheck_list_new(&l), 0);
	int rc = 0;
	for (unsigned i = 0; i < LINKCHECK_LIST_MAX && rc == 0; i++) {
		snprintf(name, sizeof name, "d%u.example", i);
		rc = linkcheck_list_add(l, name);
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(linkcheck_list_count(l), LINKCHECK_LIST_MAX);
	CHECK_EQ(linkcheck_list_add(l, "one-more.example"), BW_ETOOBIG);
	CHECK_EQ(linkcheck_list_add(l, "d7.example"), 0);   /* already there */
	int added = -1, bad = -1;
	CHECK_EQ(linkcheck_list_import(l, "more.example\n", 13, &added, &bad), BW_ETOOBIG);
	CHECK_EQ(added, -1);   /* untouched on error */
	CHECK_EQ(verdict_of(l, "http://x.d999999.example/", NULL, 0), LINK_MALICIOUS);
	CHECK_EQ(verdict_of(l, "http://d1000000.example/", NULL, 0), LINK_OK);
	linkcheck_list_free(l);
}

TEST(homograph)
{
	char why[96];
	/* Cyrillic а in apple.com */
	CHECK_EQ(verdict_of(NULL, "http://xn--pple-43d.com/", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "lookalike of apple.com");
	CHECK_EQ(verdict_of(NULL, "http://аpple.com/", NULL, 0), LINK_LOOKALIKE);
	CHECK_EQ(verdict_of(NULL, "http://аррӏе.com/", NULL, 0), LINK_LOOKALIKE);
	/* ASCII lookalikes */
	CHECK_EQ(verdict_of(NULL, "see http://examp1e.cn/login", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "lookalike of example.cn");
	CHECK_EQ(verdict_of(NULL, "http://mail.examp1e.cn/", NULL, 0), LINK_LOOKALIKE);
	CHECK_EQ(verdict_of(NULL, "http://exarnple.cn/", NULL, 0), LINK_LOOKALIKE);
	/* a trusted name (or its lookalike) in front of another domain */
	CHECK_EQ(verdict_of(NULL, "http://example.cn.evil.example/", why, sizeof why),
	         LINK_LOOKALIKE);
	CHECK_STR(why, "contains the name example.cn");
	CHECK_EQ(verdict_of(NULL, "http://login.examp1e.cn.evil.example/", NULL, 0),
	         LINK_LOOKALIKE);
	CHECK_EQ(verdict_of(NULL, "http://apple.company.example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://myexample.cn.example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://еxample.cn/", NULL, 0), LINK_LOOKALIKE);   /* Cyrillic е */
	CHECK_EQ(verdict_of(NULL, "http://ехаmрlе.cn/", NULL, 0), LINK_LOOKALIKE);   /* all Cyrillic */
	CHECK_EQ(verdict_of(NULL, "http://exämple.cn/", NULL, 0), LINK_LOOKALIKE);   /* diacritic */
	CHECK_EQ(verdict_of(NULL, "http://ｅｘａｍｐｌｅ.cn/", NULL, 0), LINK_OK);   /* folds to the real one */
	/* the registrable part of a trusted domain */
	CHECK_EQ(verdict_of(NULL, "http://examp1e.com.cn/", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "lookalike of example.com.cn");
	CHECK_EQ(verdict_of(NULL, "http://www.example.com.cn/", NULL, 0), LINK_OK);
	/* trusted domains and their subdomains */
	CHECK_EQ(verdict_of(NULL, "http://mail.example.cn/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://EXAMPLE.cn/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://apple.com/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "https://user@example.cn/", NULL, 0), LINK_OK);
	/* unrelated domains */
	CHECK_EQ(verdict_of(NULL, "http://unrelated.example/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://example.com/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://中国政府.cn/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://日本語テスト.jp/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://한국abc.kr/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://пример.рф/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://сос.ru/", NULL, 0), LINK_OK);   /* Cyrillic at home */
	CHECK_EQ(verdict_of(NULL, "http://münchen.de/", NULL, 0), LINK_OK);
	CHECK_EQ(verdict_of(NULL, "http://192.0.2.1/", NULL, 0), LINK_OK);
	/* mixed scripts in one label, not similar to any trusted domain */
	CHECK_EQ(verdict_of(NULL, "http://pаypal.example/", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "mixed scripts in label: Latin+Cyrillic");
	CHECK_EQ(verdict_of(NULL, "http://gοοgle.example/", NULL, 0), LINK_LOOKALIKE);  /* Greek ο */
	CHECK_EQ(verdict_of(NULL, "http://аbc.пример.рф/", NULL, 0), LINK_LOOKALIKE);
	CHECK_EQ(verdict_of(NULL, "http://абв.пример.рф/", NULL, 0), LINK_OK);
	/* whole-label Cyrillic that looks Latin under an ASCII TLD */
	CHECK_EQ(verdict_of(NULL, "http://рахос.com/", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "Latin-lookalike label in script Cyrillic");
	/* other suspicious forms */
	CHECK_EQ(verdict_of(NULL, "https://example.cn@evil.example/", why, sizeof why),
	         LINK_LOOKALIKE);
	CHECK_STR(why, "user info before real host evil.example");
	CHECK_EQ(verdict_of(NULL, "http://exa!mple.com/", why, sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "invalid host: exa!mple.com");
	CHECK_EQ(verdict_of(NULL, "https://example.cn/go?u=https://xn--pple-43d.com", why,
	                    sizeof why), LINK_LOOKALIKE);
	CHECK_STR(why, "embedded link lookalike of apple.com");
}

TEST(check_args)
{
	struct linkcheck_result r;
	struct linkcheck_url u;
	const char *t = "http://a.example/";
	CHECK_EQ(ex(t), 1);
	u = urls[0];
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, NULL, t, &r), BW_EINVAL);
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &u, t, NULL), BW_EINVAL);
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 1, &u, t, &r), BW_EINVAL);
	CHECK_EQ(linkcheck_url_check(NULL, trusted, -1, &u, t, &r), BW_EINVAL);
	CHECK_EQ(linkcheck_url_check(NULL, trusted, LINKCHECK_TRUSTED_MAX + 1, &u, t, &r),
	         BW_ETOOBIG);
	u.path_off = u.off + u.len + 1;
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &u, t, &r), BW_EINVAL);
	u = urls[0];
	strcpy(u.host, "A.example");   /* not normalised */
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &u, t, &r), BW_EINVAL);
	u = urls[0];
	memset(u.host, 'a', sizeof u.host);   /* not terminated */
	CHECK_EQ(linkcheck_url_check(NULL, NULL, 0, &u, t, &r), BW_EINVAL);
	/* invalid trusted entries are ignored */
	const char *const weird[] = { NULL, "", "a..b", "a.example" };
	CHECK_EQ(linkcheck_url_check(NULL, weird, 4, &urls[0], t, &r), 0);
	CHECK_EQ(r.verdict, LINK_OK);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR - 1;
	RUN(extract_basic);
	RUN(extract_markdown_punct);
	RUN(extract_cjk);
	RUN(extract_hosts);
	RUN(extract_limits);
	RUN(normalise);
	RUN(list_domains);
	RUN(list_prefix);
	RUN(list_bad_entries);
	RUN(list_import);
	RUN(list_bounded);
	RUN(homograph);
	RUN(check_args);
	return UNIT_DONE();
}
