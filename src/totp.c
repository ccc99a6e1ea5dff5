/*
 * totp.c — RFC 6238 TOTP on top of liboath's RFC 4226 HOTP, the otpauth://
 * provisioning URI, RFC 4648 base32, and recovery codes.
 *
 * Serves PS-IA-b (second authentication factor; secrets never logged, wiped
 * from scratch buffers) and PS-COM-c (replay guard: a code is accepted only
 * for a time step strictly after the last accepted one).
 *
 * Invariants:
 * - Parameters are fixed: HMAC-SHA-1, 6 digits, 30 s steps, T0 = 0, as
 *   authenticator apps assume when they read the URI built here.
 * - totp_verify computes the code of every step in the window and compares
 *   each with the input in constant time (sodium_memcmp), so the time taken
 *   does not depend on how many leading digits matched.
 * - oath_init runs exactly once per process (pthread_once); liboath keeps no
 *   other global state, so the functions here are thread-safe.
 * - Every input is bounded (secret length, label length, window, typed
 *   recovery code length); out-parameters are written only on success.
 */
#include "totp.h"
#include "util.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

static pthread_once_t totp_once = PTHREAD_ONCE_INIT;
static int totp_oath_rc = OATH_INVALID_DIGITS; /* any non-OK value until init */

static void totp_oath_init(void)
{
	totp_oath_rc = oath_init();
	if (totp_oath_rc != OATH_OK)
		log_err("totp: oath_init failed: %s", oath_strerror(totp_oath_rc));
}

/* 0 once liboath is initialised, BW_ECRYPTO if it could not be. */
static int totp_lib_ready(void)
{
	if (pthread_once(&totp_once, totp_oath_init) != 0)
		return BW_ECRYPTO;
	return totp_oath_rc == OATH_OK ? 0 : BW_ECRYPTO;
}

void totp_secret_generate(uint8_t secret[TOTP_SECRET_LEN])
{
	randombytes_buf(secret, TOTP_SECRET_LEN);
}

/* The RFC 4648 base32 symbol for v (0..31) without a secret-indexed table
 * lookup: 'A' + v, or '2' + (v - 26) for v >= 26. */
static char totp_b32_symbol(unsigned v)
{
	unsigned mask = 0u - ((25u - v) >> (sizeof(unsigned) * 8 - 1)); /* v > 25 */
	return (char)('A' + v - (mask & 41u)); /* 'A' + 26 - 41 == '2' */
}

int totp_secret_base32(const uint8_t *secret, size_t n, char *out, size_t out_max)
{
	if (!secret || !out || n == 0 || n > TOTP_SECRET_MAX)
		return BW_EINVAL;
	size_t olen = TOTP_B32_LEN(n);
	if (out_max < olen + 1)
		return BW_ETOOBIG;
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = ((acc << 8) | secret[i]) & 0xfffu; /* at most 12 live bits */
		bits += 8;
		while (bits >= 5) {
			out[o++] = totp_b32_symbol((acc >> (bits - 5)) & 31u);
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = totp_b32_symbol((acc << (5 - bits)) & 31u);
	out[o] = '\0';
	return 0;
}

/* A bounded string writer: records overflow instead of writing past max. */
struct totp_w {
	char *p;
	size_t len;
	size_t max;     /* capacity including the NUL */
	bool over;
};

static void totp_w_put(struct totp_w *w, const char *s, size_t n)
{
	if (w->over || n >= w->max - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void totp_w_str(struct totp_w *w, const char *s)
{
	totp_w_put(w, s, strlen(s));
}

/* Percent-encodes everything except RFC 3986 unreserved characters. */
static void totp_w_pct(struct totp_w *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' ||
		    *c == '_' || *c == '~') {
			totp_w_put(w, (const char *)c, 1);
		} else {
			char e[3] = { '%', hex[*c >> 4], hex[*c & 15] };
			totp_w_put(w, e, 3);
		}
	}
}

/* Issuer / account: 1..TOTP_LABEL_MAX bytes of UTF-8, no controls, no ':'. */
static bool totp_label_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, TOTP_LABEL_MAX + 1);
	if (n == 0 || n > TOTP_LABEL_MAX)
		return false;
	if (!bw_utf8_valid(s, n, false))
		return false;
	return memchr(s, ':', n) == NULL;
}

/* Unpadded uppercase base32 of TOTP_SECRET_MIN..TOTP_SECRET_MAX bytes. */
static bool totp_b32_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strnlen(s, TOTP_B32_LEN(TOTP_SECRET_MAX) + 1);
	if (n < TOTP_B32_LEN(TOTP_SECRET_MIN) || n > TOTP_B32_LEN(TOTP_SECRET_MAX))
		return false;
	/* Lengths that no whole number of bytes produces (RFC 4648 §6). */
	switch (n % 8) {
	case 1: case 3: case 6:
		return false;
	default:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
			return false;
	}
	return true;
}

int totp_uri(const char *issuer, const char *account, const char *secret_b32,
             char *out, size_t out_max)
{
	if (!out || !totp_label_ok(issuer) || !totp_label_ok(account) ||
	    !totp_b32_ok(secret_b32))
		return BW_EINVAL;
	char tmp[TOTP_URI_MAX];
	struct totp_w w = { .p = tmp, .len = 0, .max = sizeof tmp, .over = false };
	tmp[0] = '\0';
	totp_w_str(&w, "otpauth://totp/");
	totp_w_pct(&w, issuer);
	totp_w_str(&w, ":");
	totp_w_pct(&w, account);
	totp_w_str(&w, "?secret=");
	totp_w_str(&w, secret_b32);
	totp_w_str(&w, "&issuer=");
	totp_w_pct(&w, issuer);
	totp_w_str(&w, "&algorithm=SHA1&digits=6&period=30");
	int rc = 0;
	if (w.over || w.len + 1 > out_max) {
		rc = BW_ETOOBIG;
		goto out;
	}
	memcpy(out, tmp, w.len + 1);
out:
	sodium_memzero(tmp, sizeof tmp);
	return rc;
}

int totp_code_at(const uint8_t *secret, size_t n, uint64_t step, unsigned digits,
                 char *out, size_t out_max)
{
	if (!secret || !out || n < TOTP_SECRET_MIN || n > TOTP_SECRET_MAX ||
	    digits < 6 || digits > 8)
		return BW_EINVAL;
	if (out_max < digits + 1)
		return BW_ETOOBIG;
	int rc = totp_lib_ready();
	if (rc)
		return rc;
	char buf[16];
	int orc = oath_hotp_generate((const char *)secret, n, step, digits, false,
	                             OATH_HOTP_DYNAMIC_TRUNCATION, buf);
	if (orc != OATH_OK) {
		log_err("totp: oath_hotp_generate: %s", oath_strerror(orc));
		rc = BW_ECRYPTO;
		goto out;
	}
	memcpy(out, buf, digits + 1);
out:
	sodium_memzero(buf, sizeof buf);
	return rc;
}

/* Exactly TOTP_DIGITS ASCII digits followed by the NUL. */
static bool totp_code_wellformed(const char *code)
{
	if (!code || strnlen(code, TOTP_DIGITS + 1) != TOTP_DIGITS)
		return false;
	for (size_t i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return true;
}

int totp_verify(const uint8_t *secret, size_t n, const char *code, int64_t now,
                int window, int64_t last_step, int64_t *matched_step)
{
	if (!secret || n < TOTP_SECRET_MIN || n > TOTP_SECRET_MAX || now < 0 ||
	    window < 0 || window > TOTP_WINDOW_MAX)
		return BW_EINVAL;
	if (!totp_code_wellformed(code))
		return BW_EINVAL;
	int rc = totp_lib_ready();
	if (rc)
		return rc;
	char cand[TOTP_DIGITS + 1];
	int64_t cur = now / TOTP_STEP;
	int64_t found = -1;
	/* Oldest step first, so a (rare) code valid for two steps burns the
	 * earlier one.  Every candidate is computed and compared. */
	for (int64_t d = -window; d <= window; d++) {
		int64_t step = cur + d;
		if (step < 0)
			continue;
		rc = totp_code_at(secret, n, (uint64_t)step, TOTP_DIGITS, cand, sizeof cand);
		if (rc)
			goto out;
		bool eq = bw_ct_eq(cand, code, TOTP_DIGITS);
		if (eq && step > last_step && found < 0)
			found = step;
	}
	if (found < 0) {
		rc = BW_EAUTH;
		goto out;
	}
	if (matched_step)
		*matched_step = found;
	rc = 0;
out:
	sodium_memzero(cand, sizeof cand);
	return rc;
}

/* Crockford's base32 alphabet, lowercase: no i, l, o (look like 1 and 0)
 * and no u.  32 symbols, so each carries exactly 5 bits. */
static const char recovery_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

int recovery_codes_generate(char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1])
{
	for (size_t i = 0; i < RECOVERY_CODE_COUNT; i++) {
		size_t o = 0;
		for (size_t k = 0; k < RECOVERY_CODE_SYMBOLS; k++) {
			if (k > 0 && k % 4 == 0)
				codes[i][o++] = '-';
			codes[i][o++] = recovery_alphabet[randombytes_uniform(32)];
		}
		codes[i][o] = '\0';
	}
	return 0;
}

int recovery_code_normalise(const char *in, char *out, size_t out_max)
{
	if (!in || !out)
		return BW_EINVAL;
	if (out_max < RECOVERY_CODE_NORM_LEN + 1)
		return BW_ETOOBIG;
	size_t in_len = strnlen(in, RECOVERY_CODE_INPUT_MAX + 1);
	if (in_len > RECOVERY_CODE_INPUT_MAX)
		return BW_EINVAL;
	char tmp[RECOVERY_CODE_NORM_LEN + 1];
	size_t k = 0;
	int rc = BW_EINVAL;
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];
		if (c == ' ' || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == 'o')
			c = '0';
		else if (c == 'i' || c == 'l')
			c = '1';
		if (!memchr(recovery_alphabet, c, sizeof recovery_alphabet - 1))
			goto out;
		if (k == RECOVERY_CODE_NORM_LEN)
			goto out;
		tmp[k++] = c;
	}
	if (k != RECOVERY_CODE_NORM_LEN)
		goto out;
	tmp[k] = '\0';
	memcpy(out, tmp, k + 1);
	rc = 0;
out:
	sodium_memzero(tmp, sizeof tmp);
	return rc;
}
