/*
 * passwd.c — password policy and generation.
 *
 * Serves PS-IA-e (password complexity checked: length, character classes,
 * username, common leaked passwords) and PS-IA-c/PS-IA-d (random one-time
 * passwords for bootstrap and reset that satisfy the policy).
 *
 * Invariants:
 * - Every input is bounded: passwords over PASSWD_MAX_BYTES are refused
 *   before any other work; usernames are read up to PASSWD_MAX_BYTES; the
 *   list file, its entry count and entry length have fixed maxima.
 * - Copies of a password (the lowercased scratch buffer) live on the stack
 *   and are wiped with sodium_memzero before return.  Passwords are never
 *   logged.
 * - The common list is an immutable sorted, de-duplicated array published
 *   under a rwlock: a load builds the new set completely, then swaps it in;
 *   checks hold the read lock while they search.
 * - Case-insensitivity is ASCII only (list entries and input are folded the
 *   same way); non-ASCII text is compared byte for byte.
 */
#include "passwd.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const struct passwd_policy passwd_policy_default = {
	.min_length = PASSWD_MIN_LENGTH_DEFAULT,
	.min_classes = PASSWD_MIN_CLASSES_DEFAULT,
};

/* A loaded list: words point into blob, sorted by strcmp, unique. */
struct passwd_set {
	char *blob;
	const char **words;
	size_t count;
};

static pthread_rwlock_t passwd_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct passwd_set *passwd_common;     /* guarded by passwd_lock */
static atomic_bool passwd_warned_unloaded;

static char passwd_ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void passwd_set_free(struct passwd_set *s)
{
	if (!s)
		return;
	free(s->words);
	free(s->blob);
	free(s);
}

static int passwd_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Walks the lines of blob[0..len) (blob[len] is writable).  Without words it
 * validates and counts the entries; with words it also lowercases and
 * NUL-terminates them in place and stores pointers.  Returns the number of
 * entries or a negative BW_E*. */
static long passwd_parse(char *blob, size_t len, const char **words)
{
	size_t pos = 0, count = 0, line = 0;
	while (pos < len) {
		char *s = blob + pos;
		char *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos;
		pos += l + 1;
		line++;
		if (l > 0 && s[l - 1] == '\r')
			l--;
		if (l == 0 || s[0] == '#')
			continue;
		if (l > PASSWD_COMMON_ENTRY_MAX || !bw_utf8_valid(s, l, false)) {
			log_err("passwd: common-password list line %zu: %s", line,
			        l > PASSWD_COMMON_ENTRY_MAX ? "entry too long" : "not valid UTF-8 text");
			return BW_EINVAL;
		}
		if (count == PASSWD_COMMON_MAX_ENTRIES) {
			log_err("passwd: common-password list has more than %d entries",
			        PASSWD_COMMON_MAX_ENTRIES);
			return BW_ETOOBIG;
		}
		if (words) {
			for (size_t i = 0; i < l; i++)
				s[i] = passwd_ascii_lower(s[i]);
			s[l] = '\0';
			words[count] = s;
		}
		count++;
	}
	return (long)count;
}

int passwd_load_common_buf(const char *buf, size_t len)
{
	if (!buf && len)
		return BW_EINVAL;
	if (len > PASSWD_COMMON_FILE_MAX)
		return BW_ETOOBIG;
	int rc = BW_ENOMEM;
	struct passwd_set *s = calloc(1, sizeof *s);
	if (!s)
		goto out;
	s->blob = malloc(len + 1);
	if (!s->blob)
		goto out;
	if (len)
		memcpy(s->blob, buf, len);
	s->blob[len] = '\0';
	long n = passwd_parse(s->blob, len, NULL);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	s->words = malloc(((size_t)n ? (size_t)n : 1) * sizeof *s->words);
	if (!s->words)
		goto out;
	if (passwd_parse(s->blob, len, s->words) != n)
		abort(); /* the second pass sees the same bytes as the first */
	qsort(s->words, (size_t)n, sizeof *s->words, passwd_strcmp_ptr);
	size_t u = 0;
	for (size_t i = 0; i < (size_t)n; i++)
		if (u == 0 || strcmp(s->words[u - 1], s->words[i]) != 0)
			s->words[u++] = s->words[i];
	s->count = u;

	pthread_rwlock_wrlock(&passwd_lock);
	struct passwd_set *old = passwd_common;
	passwd_common = s;
	pthread_rwlock_unlock(&passwd_lock);
	passwd_set_free(old);
	s = NULL;
	log_info("passwd: common-password list loaded (%zu entries)", u);
	rc = 0;
out:
	passwd_set_free(s);
	return rc;
}

int passwd_load_common(const char *path)
{
	if (!path)
		return BW_EINVAL;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = bw_file_read(path, PASSWD_COMMON_FILE_MAX, &data, &len);
	if (rc) {
		log_err("passwd: cannot read common-password list %s: %s", path, bw_strerror(rc));
		return rc;
	}
	rc = passwd_load_common_buf((const char *)data, len);
	free(data);
	return rc;
}

void passwd_free_common(void)
{
	pthread_rwlock_wrlock(&passwd_lock);
	struct passwd_set *old = passwd_common;
	passwd_common = NULL;
	pthread_rwlock_unlock(&passwd_lock);
	passwd_set_free(old);
}

/* Binary search of key[0..klen) (no NUL inside) in the sorted list. */
static bool passwd_set_has(const struct passwd_set *s, const char *key, size_t klen)
{
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *w = s->words[mid];
		size_t wlen = strlen(w);
		int c = memcmp(key, w, klen < wlen ? klen : wlen);
		if (c == 0)
			c = klen < wlen ? -1 : klen > wlen ? 1 : 0;
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static bool passwd_ascii_digit_or_symbol(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* 1 when low (lowercased password) or its stem without trailing ASCII
 * digits and symbols is in the loaded list, 0 if not, -1 if no list. */
static int passwd_is_common(const char *low, size_t n)
{
	int rc;
	pthread_rwlock_rdlock(&passwd_lock);
	const struct passwd_set *s = passwd_common;
	if (!s) {
		rc = -1;
	} else if (passwd_set_has(s, low, n)) {
		rc = 1;
	} else {
		size_t stem = n;
		while (stem > 0 && passwd_ascii_digit_or_symbol((unsigned char)low[stem - 1]))
			stem--;
		rc = stem > 0 && stem < n && passwd_set_has(s, low, stem);
	}
	pthread_rwlock_unlock(&passwd_lock);
	return rc;
}

/* Number of classes present: lower, upper, digit, other (ASCII punctuation
 * and space, and any non-ASCII character, counted at its lead byte). */
static int passwd_classes(const char *pw, size_t n)
{
	bool lower = false, upper = false, digit = false, other = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pw[i];
		if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else if (c < 0x80 || c >= 0xc0)
			other = true;
	}
	return lower + upper + digit + other;
}

/* Valid UTF-8 text without C0, DEL or C1 (U+0080..U+009F = C2 80..C2 9F). */
static bool passwd_text_ok(const char *pw, size_t n)
{
	if (!bw_utf8_valid(pw, n, false))
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)pw[i] == 0xc2 && (unsigned char)pw[i + 1] < 0xa0)
			return false;
	return true;
}

int passwd_check(const struct passwd_policy *p, const char *pw, size_t pw_len,
                 const char *username, const char **reason)
{
	if (!p)
		p = &passwd_policy_default;
	if (p->min_length < 1 || p->min_length > PASSWD_MAX_BYTES ||
	    p->min_classes < 0 || p->min_classes > 4 || (!pw && pw_len))
		return BW_EINVAL;
	if (!pw)
		pw = "";
	const char *why = NULL;
	char low[PASSWD_MAX_BYTES];
	char ulow[PASSWD_MAX_BYTES];
	size_t ulen = 0;

	if (pw_len > PASSWD_MAX_BYTES) {
		why = PASSWD_R_TOO_LONG;
		goto out;
	}
	if (!passwd_text_ok(pw, pw_len)) {
		why = PASSWD_R_INVALID_UTF8;
		goto out;
	}
	if (bw_utf8_count(pw, pw_len) < (size_t)p->min_length) {
		why = PASSWD_R_TOO_SHORT;
		goto out;
	}
	if (passwd_classes(pw, pw_len) < p->min_classes) {
		why = PASSWD_R_TOO_FEW_CLASSES;
		goto out;
	}
	for (size_t i = 0; i < pw_len; i++)
		low[i] = passwd_ascii_lower(pw[i]);
	if (username) {
		ulen = strnlen(username, PASSWD_MAX_BYTES + 1);
		if (ulen <= pw_len && bw_utf8_count(username, ulen) >= PASSWD_USERNAME_MIN) {
			for (size_t i = 0; i < ulen; i++)
				ulow[i] = passwd_ascii_lower(username[i]);
			if (memmem(low, pw_len, ulow, ulen)) {
				why = PASSWD_R_CONTAINS_USERNAME;
				goto out;
			}
		}
	}
	int common = passwd_is_common(low, pw_len);
	if (common < 0) {
		if (!atomic_exchange(&passwd_warned_unloaded, true))
			log_warn("passwd: no common-password list loaded; the check skips it");
	} else if (common) {
		why = PASSWD_R_COMMON;
		goto out;
	}
out:
	sodium_memzero(low, sizeof low);
	sodium_memzero(ulow, sizeof ulow);
	if (reason)
		*reason = why;
	return why ? BW_EPOLICY : 0;
}

/* Generation alphabets: no 0 O o 1 I l |, no quotes, backslash, backtick or
 * space (copied from terminals and typed by hand). */
static const char passwd_gen_lower[] = "abcdefghijkmnpqrstuvwxyz";
static const char passwd_gen_upper[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
static const char passwd_gen_digit[] = "23456789";
static const char passwd_gen_symbol[] = "!#$%*+-=?@^_";

static char passwd_gen_pick(const char *set, size_t set_len)
{
	return set[randombytes_uniform((uint32_t)set_len)];
}

int passwd_generate(char *out, size_t out_max)
{
	if (!out)
		return BW_EINVAL;
	if (out_max < PASSWD_GEN_LEN + 1)
		return BW_ETOOBIG;
	static const char *const sets[] = {
		passwd_gen_lower, passwd_gen_upper, passwd_gen_digit, passwd_gen_symbol,
	};
	char all[sizeof passwd_gen_lower + sizeof passwd_gen_upper +
	         sizeof passwd_gen_digit + sizeof passwd_gen_symbol];
	size_t all_len = 0;
	for (size_t i = 0; i < BW_ARRAY_LEN(sets); i++) {
		size_t l = strlen(sets[i]);
		memcpy(all + all_len, sets[i], l);
		all_len += l;
	}
	char pw[PASSWD_GEN_LEN + 1];
	/* A random password failing the default policy would need to be in the
	 * common list: vanishingly rare, but retried rather than returned. */
	for (int attempt = 0; attempt < 64; attempt++) {
		for (size_t i = 0; i < PASSWD_GEN_LEN; i++)
			pw[i] = i < BW_ARRAY_LEN(sets) ? passwd_gen_pick(sets[i], strlen(sets[i]))
			                               : passwd_gen_pick(all, all_len);
		for (size_t i = PASSWD_GEN_LEN - 1; i > 0; i--) { /* Fisher–Yates */
			size_t j = randombytes_uniform((uint32_t)(i + 1));
			char t = pw[i];
			pw[i] = pw[j];
			pw[j] = t;
		}
		pw[PASSWD_GEN_LEN] = '\0';
		if (passwd_check(NULL, pw, PASSWD_GEN_LEN, NULL, NULL) == 0) {
			memcpy(out, pw, sizeof pw);
			sodium_memzero(pw, sizeof pw);
			return 0;
		}
	}
	abort(); /* 64 independent 16-character draws all rejected: broken RNG */
}
