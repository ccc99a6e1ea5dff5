/*
 * fuzz_search.c — the blind-index tokeniser (search.c) on arbitrary bytes,
 * as message body and as query.
 *
 * Properties checked on every input:
 *  - the only results are 0, BW_EINVAL (invalid UTF-8 / no query term) and
 *    BW_ETOOBIG; text that passes bw_utf8_valid always indexes;
 *  - index terms are distinct and at most SEARCH_TOKEN_MAX; query terms are
 *    distinct, at least 1 and at most SEARCH_QUERY_TERMS_MAX;
 *  - a failed call leaves the output untouched;
 *  - a text searched for itself matches: when the index was not cut at
 *    SEARCH_TOKEN_MAX, every term of the query made of the same text is in
 *    the index (the caller's AND semantics find the message);
 *  - the same input gives the same terms twice; another key gives none of
 *    the same terms (checked on the first term only: 2^-64 false alarm).
 */
#include "crypto.h"
#include "search.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fz_key[CRYPTO_KEY_LEN], fz_key2[CRYPTO_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	if (bwc_init(CRYPTO_SUITE_INTL) != 0)
		abort();
	uint8_t dk[CRYPTO_KEY_LEN];
	memset(dk, 0x5a, sizeof dk);
	search_key_derive(dk, fz_key);
	dk[0] ^= 1;
	search_key_derive(dk, fz_key2);
	return 0;
}

static bool fz_distinct(const struct search_terms *t)
{
	for (int i = 0; i < t->n; i++)
		for (int j = i + 1; j < t->n; j++)
			if (memcmp(t->term[i], t->term[j], SEARCH_TERM_LEN) == 0)
				return false;
	return true;
}

static bool fz_has(const struct search_terms *t, const uint8_t *term)
{
	for (int i = 0; i < t->n; i++)
		if (memcmp(t->term[i], term, SEARCH_TERM_LEN) == 0)
			return true;
	return false;
}

static struct search_terms fz_m, fz_m2, fz_q, fz_o;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SEARCH_TEXT_MAX + 16)
		return 0;
	char *in = malloc(size ? size : 1);     /* exact size for ASan */
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);

	fz_m.n = -7;
	int rc = search_index_terms(fz_key, in, size, &fz_m);
	if (rc != 0 && rc != BW_EINVAL && rc != BW_ETOOBIG)
		abort();
	if (rc != 0 && fz_m.n != -7)
		abort();
	if (size <= SEARCH_TEXT_MAX && bw_utf8_valid(in, size, true) && rc != 0)
		abort();
	if (rc == 0) {
		if (fz_m.n < 0 || fz_m.n > SEARCH_TOKEN_MAX || !fz_distinct(&fz_m))
			abort();
		if (search_index_terms(fz_key, in, size, &fz_m2) != 0 || fz_m2.n != fz_m.n ||
		    memcmp(fz_m.term, fz_m2.term, (size_t)fz_m.n * SEARCH_TERM_LEN) != 0)
			abort();
		if (fz_m.n > 0) {
			if (search_index_terms(fz_key2, in, size, &fz_o) != 0 || fz_o.n != fz_m.n)
				abort();
			if (fz_has(&fz_m, fz_o.term[0]))
				abort();
		}
	}

	fz_q.n = -7;
	int qrc = search_query_terms(fz_key, in, size, &fz_q);
	if (qrc != 0 && qrc != BW_EINVAL && qrc != BW_ETOOBIG)
		abort();
	if (qrc != 0 && fz_q.n != -7)
		abort();
	if (size > SEARCH_QUERY_MAX && qrc != BW_ETOOBIG)
		abort();
	if (qrc == 0) {
		if (rc != 0)
			abort();        /* a query-valid text is index-valid */
		if (fz_q.n < 1 || fz_q.n > SEARCH_QUERY_TERMS_MAX || !fz_distinct(&fz_q))
			abort();
		if (fz_m.n < SEARCH_TOKEN_MAX)
			for (int i = 0; i < fz_q.n; i++)
				if (!fz_has(&fz_m, fz_q.term[i]))
					abort();
	}
	/* a query with no terms has an index with no terms */
	if (qrc == BW_EINVAL && rc == 0 && fz_m.n != 0)
		abort();
	free(in);
	return 0;
}
