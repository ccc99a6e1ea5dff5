/*
 * search.h — blind index for "messages containing X" (RG-IM-a, WC-STORE).
 *
 * Message bodies are stored encrypted; the server keeps, per message, only
 * a set of short keyed hashes ("terms") of its normalised tokens.  A query
 * is turned into terms the same way and matches a message when the message
 * holds ALL query terms (the caller runs SELECT message ... WHERE term IN
 * (...) GROUP BY message HAVING COUNT(DISTINCT term) = n, restricted to the
 * conversations the caller may read); matching rows are decrypted only for
 * the caller.
 *
 * Tokens: the text is NFKC-normalised and case-folded, then split:
 *   - runs of letters/marks/digits of non-CJK scripts are word tokens
 *     (fewer than 2 code points skipped, cut to at most 64 bytes on a code
 *     point boundary);
 *   - runs of CJK characters (Han, Hiragana, Katakana, Hangul, plus the
 *     prolonged sound mark U+30FC) give overlapping character bigrams; a
 *     message also indexes every CJK character as a unigram so that a
 *     one-character query can match (cost: a CJK run of k characters
 *     yields up to 2k-1 terms instead of k-1, so long Chinese messages
 *     reach SEARCH_TOKEN_MAX sooner and their tail is not indexed);
 *   - everything else (spaces, punctuation, Markdown syntax) separates.
 * A query CJK run of one character gives its unigram, a longer run only
 * its bigrams.  Search is exact-token: no prefixes, no stemming.
 *
 * Term = first SEARCH_TERM_LEN bytes of HMAC(search_key, "t" ‖ token) under
 * the installation's suite (HMAC-SHA-256 or HMAC-SM3).  The search key is
 * per tenant, derived from the tenant data key, so terms of two tenants
 * (or two suites) are unrelated.  What leaks to the store: how many
 * distinct terms a message has and which messages share a term.
 */
#ifndef BW_SEARCH_H
#define BW_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define SEARCH_TOKEN_MAX 256      /* distinct index terms per message */
#define SEARCH_TERM_LEN 8         /* bytes of truncated keyed hash stored per term */
#define SEARCH_QUERY_TERMS_MAX 16 /* distinct terms per query */
#define SEARCH_TEXT_MAX (64 * 1024)  /* bytes of message body indexed */
#define SEARCH_QUERY_MAX 1024     /* bytes of query text */
#define SEARCH_WORD_MAX 64        /* bytes of a word token (longer: cut) */

struct search_terms {
	int n;
	uint8_t term[SEARCH_TOKEN_MAX][SEARCH_TERM_LEN];
};

/* Derives the per-tenant search key from the tenant's data key:
 * HMAC(data_key, "bulwark/search/v1") with the active suite's HMAC.
 * The caller owns and wipes both buffers.  Needs bwc_init(). */
void search_key_derive(const uint8_t data_key[CRYPTO_KEY_LEN], uint8_t out[CRYPTO_KEY_LEN]);

/* Index terms of a message body (UTF-8, len bytes, NUL not required).
 * Distinct terms in text order; at most SEARCH_TOKEN_MAX (the rest is
 * ignored).  Empty or separator-only text gives n = 0.
 * BW_EINVAL: not valid UTF-8; BW_ETOOBIG: len > SEARCH_TEXT_MAX;
 * BW_ENOMEM.  *out is written only on success; nothing is allocated for
 * the caller. */
int search_index_terms(const uint8_t key[CRYPTO_KEY_LEN], const char *text, size_t len,
                       struct search_terms *out);

/* Terms of a query, same tokenisation (see above for CJK).  Distinct terms.
 * BW_EINVAL: invalid UTF-8 or no term at all (only punctuation, a single
 * Latin letter, empty); BW_ETOOBIG: len > SEARCH_QUERY_MAX or more than
 * SEARCH_QUERY_TERMS_MAX distinct terms; BW_ENOMEM.  *out is written only
 * on success. */
int search_query_terms(const uint8_t key[CRYPTO_KEY_LEN], const char *query, size_t len,
                       struct search_terms *out);

#endif
