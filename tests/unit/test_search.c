/*
 * test_search.c — unit tests of the blind search index (search.c; RG-IM-a,
 * WC-STORE).
 *
 * Claims checked: terms are exactly HMAC(search_key, "t" ‖ token)[0..8) of
 * the documented tokens (an independent recomputation); case folding
 * (Report/REPORT, ß/SS), NFKC (full-width Latin, half-width katakana,
 * composed vs decomposed accents); CJK unigrams + overlapping bigrams in
 * messages and bigram-only (or unigram for one character) queries, so the
 * AND of query terms matches as described; mixed Chinese/English; Markdown
 * punctuation separates; dedup; the SEARCH_TOKEN_MAX cap keeps the first
 * terms; the 16-term query cap; word truncation at 64 bytes on a code
 * point boundary; invalid UTF-8 and empty queries rejected without touching
 * the output; size limits; different keys, tenants and suites (intl, gm)
 * give unrelated terms.
 */
#include "unit.h"
#include "crypto.h"
#include "search.h"
#include "util.h"

#include <stdbool.h>

static uint8_t key_a[CRYPTO_KEY_LEN];
static uint8_t key_b[CRYPTO_KEY_LEN];

static void keys_setup(void)
{
	uint8_t dk[CRYPTO_KEY_LEN];
	memset(dk, 0x11, sizeof dk);
	search_key_derive(dk, key_a);
	memset(dk, 0x22, sizeof dk);
	search_key_derive(dk, key_b);
}

/* Reference term of one token, computed independently of search.c. */
static void ref_term(const uint8_t *key, const char *tok, uint8_t out[SEARCH_TERM_LEN])
{
	uint8_t msg[256], mac[CRYPTO_HASH_LEN];
	size_t n = strlen(tok);
	msg[0] = 't';
	memcpy(msg + 1, tok, n);
	bwc_hmac(key, msg, n + 1, mac);
	memcpy(out, mac, SEARCH_TERM_LEN);
}

static int term_index(const struct search_terms *t, const uint8_t term[SEARCH_TERM_LEN])
{
	for (int i = 0; i < t->n; i++)
		if (memcmp(t->term[i], term, SEARCH_TERM_LEN) == 0)
			return i;
	return -1;
}

static bool has_tok(const uint8_t *key, const struct search_terms *t, const char *tok)
{
	uint8_t r[SEARCH_TERM_LEN];
	ref_term(key, tok, r);
	return term_index(t, r) >= 0;
}

/* Terms of t are exactly toks (in this order). */
static bool terms_are(const uint8_t *key, const struct search_terms *t, const char **toks, int n)
{
	if (t->n != n)
		return false;
	for (int i = 0; i < n; i++) {
		uint8_t r[SEARCH_TERM_LEN];
		ref_term(key, toks[i], r);
		if (memcmp(t->term[i], r, SEARCH_TERM_LEN) != 0)
			return false;
	}
	return true;
}

/* Every query term is in the message (the caller's AND semantics). */
static bool matches(const struct search_terms *msg, const struct search_terms *q)
{
	for (int i = 0; i < q->n; i++)
		if (term_index(msg, q->term[i]) < 0)
			return false;
	return true;
}

static int idx(const uint8_t *key, const char *s, struct search_terms *t)
{
	return search_index_terms(key, s, strlen(s), t);
}

static int qry(const uint8_t *key, const char *s, struct search_terms *t)
{
	return search_query_terms(key, s, strlen(s), t);
}

static bool same_terms(const struct search_terms *a, const struct search_terms *b)
{
	return a->n == b->n && memcmp(a->term, b->term, (size_t)a->n * SEARCH_TERM_LEN) == 0;
}

static struct search_terms m, q, q2;

TEST(key_derive)
{
	uint8_t dk[CRYPTO_KEY_LEN], k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], mac[CRYPTO_HASH_LEN];
	memset(dk, 0x11, sizeof dk);
	search_key_derive(dk, k1);
	search_key_derive(dk, k2);
	CHECK_MEM(k1, k2, CRYPTO_KEY_LEN);
	CHECK_MEM(k1, key_a, CRYPTO_KEY_LEN);
	CHECK(memcmp(k1, dk, CRYPTO_KEY_LEN) != 0);
	CHECK(memcmp(key_a, key_b, CRYPTO_KEY_LEN) != 0);
	bwc_hmac(dk, "bulwark/search/v1", 17, mac);
	CHECK_MEM(k1, mac, CRYPTO_KEY_LEN);
}

TEST(english_case_folding)
{
	CHECK_EQ(idx(key_a, "Quarterly REPORT for Q3", &m), 0);
	const char *want[] = { "quarterly", "report", "for", "q3" };
	CHECK(terms_are(key_a, &m, want, 4));
	CHECK_EQ(qry(key_a, "Report", &q), 0);
	CHECK_EQ(q.n, 1);
	CHECK(has_tok(key_a, &q, "report"));
	CHECK(matches(&m, &q));
	CHECK_EQ(qry(key_a, "REPORT", &q2), 0);
	CHECK(same_terms(&q, &q2));
	CHECK_EQ(qry(key_a, "report quarterly", &q), 0);
	CHECK_EQ(q.n, 2);
	CHECK(matches(&m, &q));
	CHECK_EQ(qry(key_a, "report annual", &q), 0);
	CHECK(!matches(&m, &q));
	/* exact tokens only: no prefix match */
	CHECK_EQ(qry(key_a, "rep", &q), 0);
	CHECK(!matches(&m, &q));
	/* full case folding, not just tolower: ß folds to ss */
	CHECK_EQ(qry(key_a, "STRASSE", &q), 0);
	CHECK_EQ(qry(key_a, "Straße", &q2), 0);
	CHECK(same_terms(&q, &q2));
	CHECK(has_tok(key_a, &q, "strasse"));
}

TEST(nfkc)
{
	/* full-width Latin ＡＢＣ (U+FF21..U+FF23) -> abc */
	CHECK_EQ(idx(key_a, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3", &m), 0);
	const char *abc[] = { "abc" };
	CHECK(terms_are(key_a, &m, abc, 1));
	CHECK_EQ(qry(key_a, "abc", &q), 0);
	CHECK(matches(&m, &q));
	/* full-width digits */
	CHECK_EQ(idx(key_a, "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94", &m), 0);
	CHECK(has_tok(key_a, &m, "2024"));
	/* composed é (U+00E9) vs e + U+0301, and upper-case É */
	CHECK_EQ(qry(key_a, "caf\xc3\xa9", &q), 0);
	CHECK_EQ(qry(key_a, "cafe\xcc\x81", &q2), 0);
	CHECK(same_terms(&q, &q2));
	CHECK_EQ(qry(key_a, "CAF\xc3\x89", &q2), 0);
	CHECK(same_terms(&q, &q2));
	CHECK(has_tok(key_a, &q, "caf\xc3\xa9"));
	/* half-width katakana ｺｰﾋｰ -> コーヒー (the prolonged mark joins the run) */
	CHECK_EQ(idx(key_a, "\xef\xbd\xba\xef\xbd\xb0\xef\xbe\x8b\xef\xbd\xb0", &m), 0);
	CHECK_EQ(qry(key_a, "コーヒー", &q), 0);
	const char *coffee[] = { "コー", "ーヒ", "ヒー" };
	CHECK(terms_are(key_a, &q, coffee, 3));
	CHECK(matches(&m, &q));
}

TEST(cjk_bigrams)
{
	CHECK_EQ(idx(key_a, "安全办公平台", &m), 0);
	const char *want[] = { "安", "全", "安全", "办", "全办", "公", "办公",
	                       "平", "公平", "台", "平台" };
	CHECK(terms_are(key_a, &m, want, 11));

	CHECK_EQ(qry(key_a, "办公", &q), 0);
	const char *bg[] = { "办公" };
	CHECK(terms_are(key_a, &q, bg, 1));
	CHECK(matches(&m, &q));

	CHECK_EQ(qry(key_a, "办公平台", &q), 0);
	const char *bg3[] = { "办公", "公平", "平台" };
	CHECK(terms_are(key_a, &q, bg3, 3));
	CHECK(matches(&m, &q));

	/* one character: its unigram */
	CHECK_EQ(qry(key_a, "公", &q), 0);
	const char *ug[] = { "公" };
	CHECK(terms_are(key_a, &q, ug, 1));
	CHECK(matches(&m, &q));

	/* characters present but not adjacent */
	CHECK_EQ(qry(key_a, "安台", &q), 0);
	CHECK(!matches(&m, &q));
	CHECK_EQ(qry(key_a, "会议", &q), 0);
	CHECK(!matches(&m, &q));

	/* CJK punctuation separates runs: no bigram across "，" */
	CHECK_EQ(idx(key_a, "你好，世界", &m), 0);
	CHECK(has_tok(key_a, &m, "你好"));
	CHECK(has_tok(key_a, &m, "世界"));
	CHECK(!has_tok(key_a, &m, "好世"));
	CHECK_EQ(m.n, 6);

	/* Japanese and Korean */
	CHECK_EQ(idx(key_a, "会議は明日です", &m), 0);
	CHECK_EQ(qry(key_a, "明日", &q), 0);
	CHECK(matches(&m, &q));
	CHECK_EQ(idx(key_a, "안녕하세요 여러분", &m), 0);
	CHECK_EQ(qry(key_a, "안녕", &q), 0);
	CHECK(matches(&m, &q));
	CHECK_EQ(qry(key_a, "여러분", &q), 0);
	CHECK(matches(&m, &q));
}

TEST(mixed_and_markdown)
{
	CHECK_EQ(idx(key_a, "今天review一下PR-42的文档, OK?", &m), 0);
	CHECK(has_tok(key_a, &m, "review"));
	CHECK(has_tok(key_a, &m, "pr"));
	CHECK(has_tok(key_a, &m, "42"));
	CHECK(has_tok(key_a, &m, "ok"));
	CHECK(has_tok(key_a, &m, "今天"));
	CHECK(has_tok(key_a, &m, "文档"));
	CHECK(has_tok(key_a, &m, "的文"));
	CHECK(!has_tok(key_a, &m, "天r"));
	CHECK_EQ(qry(key_a, "Review 文档", &q), 0);
	CHECK_EQ(q.n, 2);
	CHECK(matches(&m, &q));
	CHECK_EQ(qry(key_a, "review 会议", &q), 0);
	CHECK(!matches(&m, &q));
	/* a digit run next to a single CJK character */
	CHECK_EQ(idx(key_a, "2024年计划", &m), 0);
	CHECK_EQ(qry(key_a, "2024年", &q), 0);
	const char *yr[] = { "2024", "年" };
	CHECK(terms_are(key_a, &q, yr, 2));
	CHECK(matches(&m, &q));

	/* Markdown syntax is only a separator */
	CHECK_EQ(idx(key_a, "**Bold** _it_ `code` [link](https://x.example.com/a?b=c#d)\n"
	                    "> quote\n- item\n# Title", &m), 0);
	const char *md[] = { "bold", "it", "code", "link", "https", "example", "com",
	                     "quote", "item", "title" };
	CHECK(terms_are(key_a, &m, md, 10));
	/* NUL is a separator too */
	CHECK_EQ(search_index_terms(key_a, "ab\0cd", 5, &m), 0);
	const char *nul[] = { "ab", "cd" };
	CHECK(terms_are(key_a, &m, nul, 2));
}

TEST(short_words_and_empty)
{
	CHECK_EQ(idx(key_a, "a b c I x", &m), 0);
	CHECK_EQ(m.n, 0);
	CHECK_EQ(idx(key_a, "", &m), 0);
	CHECK_EQ(m.n, 0);
	CHECK_EQ(search_index_terms(key_a, NULL, 0, &m), 0);
	CHECK_EQ(m.n, 0);
	CHECK_EQ(idx(key_a, "!!! ... ---", &m), 0);
	CHECK_EQ(m.n, 0);

	q.n = -7;
	CHECK_EQ(qry(key_a, "a", &q), BW_EINVAL);
	CHECK_EQ(qry(key_a, "", &q), BW_EINVAL);
	CHECK_EQ(qry(key_a, "?!*#", &q), BW_EINVAL);
	CHECK_EQ(qry(key_a, "  \t\n ", &q), BW_EINVAL);
	CHECK_EQ(search_query_terms(key_a, NULL, 0, &q), BW_EINVAL);
	CHECK_EQ(search_query_terms(key_a, NULL, 3, &q), BW_EINVAL);
	CHECK_EQ(q.n, -7);
	/* a short word next to a long one is dropped, the long one stays */
	CHECK_EQ(qry(key_a, "a report", &q), 0);
	const char *r[] = { "report" };
	CHECK(terms_are(key_a, &q, r, 1));
}

TEST(dedup)
{
	CHECK_EQ(idx(key_a, "foo FOO Foo foo. fOo!", &m), 0);
	const char *f[] = { "foo" };
	CHECK(terms_are(key_a, &m, f, 1));
	CHECK_EQ(idx(key_a, "好好好好", &m), 0);
	const char *h[] = { "好", "好好" };
	CHECK(terms_are(key_a, &m, h, 2));
	CHECK_EQ(qry(key_a, "report REPORT Report", &q), 0);
	CHECK_EQ(q.n, 1);
}

TEST(index_limit)
{
	static char buf[8192];
	size_t off = 0;
	for (int i = 0; i < 300; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "w%d ", i);
	CHECK_EQ(search_index_terms(key_a, buf, off, &m), 0);
	CHECK_EQ(m.n, SEARCH_TOKEN_MAX);
	CHECK(has_tok(key_a, &m, "w0"));
	CHECK(has_tok(key_a, &m, "w255"));
	CHECK(!has_tok(key_a, &m, "w256"));
	CHECK(!has_tok(key_a, &m, "w299"));
	/* distinct terms: no two equal */
	bool dup = false;
	for (int i = 0; i < m.n; i++)
		for (int j = i + 1; j < m.n; j++)
			if (memcmp(m.term[i], m.term[j], SEARCH_TERM_LEN) == 0)
				dup = true;
	CHECK(!dup);

	/* the whole size limit of text is accepted, one byte more is not */
	static char big[SEARCH_TEXT_MAX + 1];
	memset(big, 'z', sizeof big);
	for (size_t i = 5; i < sizeof big; i += 6)
		big[i] = ' ';
	CHECK_EQ(search_index_terms(key_a, big, SEARCH_TEXT_MAX, &m), 0);
	CHECK_EQ(m.n, 2);       /* "zzzzz" and the final partial "zzzz" */
	CHECK(has_tok(key_a, &m, "zzzz"));
	m.n = -7;
	CHECK_EQ(search_index_terms(key_a, big, SEARCH_TEXT_MAX + 1, &m), BW_ETOOBIG);
	CHECK_EQ(m.n, -7);
}

TEST(query_limit)
{
	char buf[512];
	size_t off = 0;
	for (int i = 0; i < SEARCH_QUERY_TERMS_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "q%d ", i);
	CHECK_EQ(search_query_terms(key_a, buf, off, &q), 0);
	CHECK_EQ(q.n, SEARCH_QUERY_TERMS_MAX);
	/* duplicates do not count */
	size_t off2 = off + (size_t)snprintf(buf + off, sizeof buf - off, "Q0 q1 Q2");
	CHECK_EQ(search_query_terms(key_a, buf, off2, &q), 0);
	CHECK_EQ(q.n, SEARCH_QUERY_TERMS_MAX);
	/* a 17th distinct term is refused */
	off2 = off + (size_t)snprintf(buf + off, sizeof buf - off, "extra");
	q.n = -7;
	CHECK_EQ(search_query_terms(key_a, buf, off2, &q), BW_ETOOBIG);
	CHECK_EQ(q.n, -7);
	/* 17 CJK characters give 16 bigrams: fine; 18 give 17: refused */
	CHECK_EQ(qry(key_a, "一二三四五六七八九十百千万亿兆京垓", &q), 0);
	CHECK_EQ(q.n, 16);
	CHECK_EQ(qry(key_a, "一二三四五六七八九十百千万亿兆京垓秭", &q), BW_ETOOBIG);
	/* byte limit */
	char big[SEARCH_QUERY_MAX + 1];
	memset(big, 'y', sizeof big);
	CHECK_EQ(search_query_terms(key_a, big, SEARCH_QUERY_MAX, &q), 0);
	CHECK_EQ(search_query_terms(key_a, big, SEARCH_QUERY_MAX + 1, &q), BW_ETOOBIG);
}

TEST(long_words_truncated)
{
	char w[200];
	memset(w, 'a', 70);
	w[70] = '\0';
	CHECK_EQ(idx(key_a, w, &m), 0);
	w[64] = '\0';
	const char *cut[] = { w };
	CHECK(terms_are(key_a, &m, cut, 1));
	/* 40 x "é" = 80 bytes: cut to 32 characters (64 bytes), never mid-character */
	char e[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(e, "\xc3\xa9");
	CHECK_EQ(idx(key_a, e, &m), 0);
	e[64] = '\0';
	const char *ecut[] = { e };
	CHECK(terms_are(key_a, &m, ecut, 1));
	/* 3-byte characters: 64/3 = 21 characters (63 bytes) */
	char t[200] = "";
	for (int i = 0; i < 30; i++)
		strcat(t, "\xe0\xb8\x81");      /* Thai ko kai: a word letter, not CJK */
	CHECK_EQ(idx(key_a, t, &m), 0);
	t[63] = '\0';
	const char *tcut[] = { t };
	CHECK(terms_are(key_a, &m, tcut, 1));
}

TEST(invalid_utf8)
{
	static const char *bad[] = {
		"\xff", "abc\xfe", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xe5\xae", "\xf4\x90\x80\x80", "report \x80 x", "\xf8\x88\x80\x80\x80",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		m.n = -7;
		q.n = -7;
		CHECK_EQ(idx(key_a, bad[i], &m), BW_EINVAL);
		CHECK_EQ(qry(key_a, bad[i], &q), BW_EINVAL);
		CHECK_EQ(m.n, -7);
		CHECK_EQ(q.n, -7);
	}
	/* a valid prefix of an invalid buffer is fine when len stops before it */
	CHECK_EQ(search_index_terms(key_a, "ok\xff", 2, &m), 0);
	CHECK_EQ(m.n, 1);
}

TEST(keys_separate)
{
	CHECK_EQ(idx(key_a, "secret project 机密项目", &m), 0);
	struct search_terms mb;
	CHECK_EQ(idx(key_b, "secret project 机密项目", &mb), 0);
	CHECK_EQ(m.n, mb.n);
	for (int i = 0; i < mb.n; i++)
		CHECK(term_index(&m, mb.term[i]) < 0);
	CHECK_EQ(qry(key_b, "secret", &q), 0);
	CHECK(!matches(&m, &q));
	CHECK(matches(&mb, &q));
}

TEST(suites_differ)
{
	struct search_terms gm, intl;
	uint8_t dk[CRYPTO_KEY_LEN], sk_intl[CRYPTO_KEY_LEN], sk_gm[CRYPTO_KEY_LEN];
	memset(dk, 0x33, sizeof dk);

	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	search_key_derive(dk, sk_intl);
	CHECK_EQ(idx(sk_intl, "budget 预算 review", &intl), 0);

	if (bwc_init(CRYPTO_SUITE_GM) != 0) {
		CHECK(!"gm suite unavailable");
		return;
	}
	search_key_derive(dk, sk_gm);
	CHECK(memcmp(sk_intl, sk_gm, CRYPTO_KEY_LEN) != 0);
	CHECK_EQ(idx(sk_gm, "budget 预算 review", &gm), 0);
	CHECK_EQ(gm.n, intl.n);
	CHECK_EQ(gm.n, 5);      /* budget 预 算 预算 review */
	for (int i = 0; i < gm.n; i++)
		CHECK(term_index(&intl, gm.term[i]) < 0);
	/* under gm the reference (HMAC-SM3) agrees, and queries match */
	CHECK(has_tok(sk_gm, &gm, "budget"));
	CHECK(has_tok(sk_gm, &gm, "预算"));
	CHECK_EQ(qry(sk_gm, "预算 Review", &q), 0);
	CHECK(matches(&gm, &q));
	/* same search key, other suite: still different terms */
	CHECK_EQ(idx(sk_intl, "budget 预算 review", &gm), 0);
	for (int i = 0; i < gm.n; i++)
		CHECK(term_index(&intl, gm.term[i]) < 0);

	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	CHECK_EQ(idx(sk_intl, "budget 预算 review", &gm), 0);
	CHECK(same_terms(&gm, &intl));
}

int main(void)
{
	if (bwc_init(CRYPTO_SUITE_INTL) != 0) {
		fprintf(stderr, "bwc_init failed\n");
		return 1;
	}
	keys_setup();
	RUN(key_derive);
	RUN(english_case_folding);
	RUN(nfkc);
	RUN(cjk_bigrams);
	RUN(mixed_and_markdown);
	RUN(short_words_and_empty);
	RUN(dedup);
	RUN(index_limit);
	RUN(query_limit);
	RUN(long_words_truncated);
	RUN(invalid_utf8);
	RUN(keys_separate);
	RUN(suites_differ);
	return UNIT_DONE();
}
