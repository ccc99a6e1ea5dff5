/*
 * search.c — blind index terms for message search (RG-IM-a, WC-STORE).
 *
 * See search.h for the token rules and what the index reveals.
 *
 * Invariants:
 *  - input is checked as UTF-8 (u8_check) before libunistring touches it;
 *  - normalisation is NFKC, then full case folding with NFKC after it
 *    (u8_casefold(..., UNINORM_NFKC)), so "Report", "REPORT", "ＲＥＰＯＲＴ"
 *    give the same token;
 *  - every loop is bounded by the input length (SEARCH_TEXT_MAX /
 *    SEARCH_QUERY_MAX bytes, normalisation grows it by a bounded factor)
 *    and the term table by SEARCH_TOKEN_MAX;
 *  - the normalised copy of the plaintext and every token/HMAC buffer are
 *    wiped before they are freed or go out of scope (libunistring's own
 *    scratch buffers cannot be wiped: a known limitation);
 *  - out-parameters are written only on success.
 */
#include "search.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

static_assert(CRYPTO_HASH_LEN == CRYPTO_KEY_LEN, "search key is one HMAC output");
static_assert(SEARCH_TERM_LEN <= CRYPTO_HASH_LEN, "term is a truncated HMAC");
static_assert(SEARCH_QUERY_TERMS_MAX <= SEARCH_TOKEN_MAX, "query terms fit the table");

#define SEARCH_KEY_LABEL "bulwark/search/v1"
/* A token is a word (<= SEARCH_WORD_MAX bytes) or a CJK uni/bigram (<= 8). */
#define SEARCH_TOK_BUF (1 + SEARCH_WORD_MAX)

void search_key_derive(const uint8_t data_key[CRYPTO_KEY_LEN], uint8_t out[CRYPTO_KEY_LEN])
{
	uint8_t mac[CRYPTO_HASH_LEN];
	bwc_hmac(data_key, SEARCH_KEY_LABEL, sizeof SEARCH_KEY_LABEL - 1, mac);
	memcpy(out, mac, CRYPTO_KEY_LEN);
	sodium_memzero(mac, sizeof mac);
}

/* Collects distinct terms up to max; remembers whether any was refused. */
struct search_acc {
	const uint8_t *key;
	struct search_terms *t;
	int max;
	bool overflow;      /* a distinct term past max was seen */
	bool query;         /* query mode: CJK unigrams only for 1-char runs */
};

static void search_acc_add(struct search_acc *a, const uint8_t *tok, size_t len)
{
	uint8_t msg[SEARCH_TOK_BUF];
	uint8_t mac[CRYPTO_HASH_LEN];

	if (len == 0 || len > sizeof msg - 1)
		abort();        /* the tokeniser never builds such a token */
	msg[0] = 't';
	memcpy(msg + 1, tok, len);
	bwc_hmac(a->key, msg, len + 1, mac);
	for (int i = 0; i < a->t->n; i++)
		if (memcmp(a->t->term[i], mac, SEARCH_TERM_LEN) == 0)
			goto out;
	if (a->t->n >= a->max) {
		a->overflow = true;
		goto out;
	}
	memcpy(a->t->term[a->t->n], mac, SEARCH_TERM_LEN);
	a->t->n++;
out:
	sodium_memzero(msg, sizeof msg);
	sodium_memzero(mac, sizeof mac);
}

enum search_class { SEARCH_SEP, SEARCH_WORD, SEARCH_CJK };

static enum search_class search_classify(ucs4_t uc)
{
	if (uc < 0x80) {
		if ((uc >= 'a' && uc <= 'z') || (uc >= 'A' && uc <= 'Z') || (uc >= '0' && uc <= '9'))
			return SEARCH_WORD;
		return SEARCH_SEP;
	}
	if (uc == 0x30fc)       /* KATAKANA-HIRAGANA PROLONGED SOUND MARK (Common) */
		return SEARCH_CJK;
	const uc_script_t *s = uc_script(uc);
	if (s && s->name && (strcmp(s->name, "Han") == 0 || strcmp(s->name, "Hiragana") == 0 ||
	                     strcmp(s->name, "Katakana") == 0 || strcmp(s->name, "Hangul") == 0))
		return SEARCH_CJK;
	uc_general_category_t lmn = uc_general_category_or(
		uc_general_category_or(UC_CATEGORY_L, UC_CATEGORY_M), UC_CATEGORY_N);
	if (uc_is_general_category(uc, lmn))
		return SEARCH_WORD;
	return SEARCH_SEP;
}

/* NFKC + case fold of valid UTF-8; *out is malloc'd (caller wipes and
 * frees), NULL with *out_len 0 for empty input. */
static int search_normalise(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
	if (n == 0) {
		*out = NULL;
		*out_len = 0;
		return 0;
	}
	if (u8_check((const uint8_t *)s, n) != NULL)
		return BW_EINVAL;
	size_t l1 = 0, l2 = 0;
	uint8_t *a = u8_normalize(UNINORM_NFKC, (const uint8_t *)s, n, NULL, &l1);
	if (!a)
		return errno == ENOMEM ? BW_ENOMEM : BW_EINVAL;
	uint8_t *b = u8_casefold(a, l1, NULL, UNINORM_NFKC, NULL, &l2);
	int saved = errno;
	sodium_memzero(a, l1);
	free(a);
	if (!b)
		return saved == ENOMEM ? BW_ENOMEM : BW_EINVAL;
	*out = b;
	*out_len = l2;
	return 0;
}

/* Splits normalised text p[0..n) into tokens and feeds them to a.  Stops
 * early once the table is full in index mode (later terms are ignored). */
static void search_tokenise(struct search_acc *a, const uint8_t *p, size_t n)
{
	size_t w_start = 0, w_cut = 0, w_len = 0, w_cps = 0;
	size_t c_prev = 0, c_prev_len = 0, c_run = 0;
	size_t i = 0;

	while (i <= n) {
		ucs4_t uc = 0;
		int k = 0;
		enum search_class cls = SEARCH_SEP;     /* end of text acts as a separator */
		if (i < n) {
			k = u8_mbtouc(&uc, p + i, n - i);
			if (k <= 0)
				abort();        /* input was checked; never happens */
			cls = search_classify(uc);
		}
		if (cls != SEARCH_WORD && w_cps > 0) {
			if (w_cps >= 2)
				search_acc_add(a, p + w_start, w_cut);
			w_cps = w_len = w_cut = 0;
		}
		if (cls != SEARCH_CJK && c_run > 0) {
			if (a->query && c_run == 1)
				search_acc_add(a, p + c_prev, c_prev_len);
			c_run = 0;
		}
		if (!a->query && a->t->n >= a->max)
			return;
		if (i == n)
			break;
		if (cls == SEARCH_WORD) {
			if (w_cps == 0)
				w_start = i;
			if (w_len + (size_t)k <= SEARCH_WORD_MAX)
				w_cut = w_len + (size_t)k;
			w_len += (size_t)k;
			w_cps++;
		} else if (cls == SEARCH_CJK) {
			if (!a->query)
				search_acc_add(a, p + i, (size_t)k);
			if (c_run > 0)  /* previous CJK character ends right here */
				search_acc_add(a, p + c_prev, c_prev_len + (size_t)k);
			c_prev = i;
			c_prev_len = (size_t)k;
			c_run++;
		}
		i += (size_t)k;
	}
}

/* Shared body of the two entry points. */
static int search_terms_build(const uint8_t key[CRYPTO_KEY_LEN], const char *s, size_t len,
                              bool query, struct search_terms *out)
{
	int rc;
	uint8_t *norm = NULL;
	size_t norm_len = 0;
	struct search_terms t;

	if (!key || !out || (!s && len))
		return BW_EINVAL;
	if (len > (query ? SEARCH_QUERY_MAX : SEARCH_TEXT_MAX))
		return BW_ETOOBIG;
	rc = search_normalise(s, len, &norm, &norm_len);
	if (rc < 0)
		return rc;

	t.n = 0;
	struct search_acc a = {
		.key = key, .t = &t, .overflow = false, .query = query,
		.max = query ? SEARCH_QUERY_TERMS_MAX : SEARCH_TOKEN_MAX,
	};
	if (norm_len)
		search_tokenise(&a, norm, norm_len);

	if (query && a.overflow) {
		rc = BW_ETOOBIG;
		goto out;
	}
	if (query && t.n == 0) {
		rc = BW_EINVAL;
		goto out;
	}
	out->n = t.n;
	memcpy(out->term, t.term, (size_t)t.n * SEARCH_TERM_LEN);
	rc = 0;
out:
	if (norm) {
		sodium_memzero(norm, norm_len);
		free(norm);
	}
	sodium_memzero(&t, sizeof t);
	return rc;
}

int search_index_terms(const uint8_t key[CRYPTO_KEY_LEN], const char *text, size_t len,
                       struct search_terms *out)
{
	return search_terms_build(key, text, len, false, out);
}

int search_query_terms(const uint8_t key[CRYPTO_KEY_LEN], const char *query, size_t len,
                       struct search_terms *out)
{
	return search_terms_build(key, query, len, true, out);
}
