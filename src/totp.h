/*
 * totp.h — time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits,
 * 30-second steps, T0 = 0 — what authenticator apps and
 * `oathtool --totp -b SECRET` use) and single-use recovery codes.
 *
 * Serves PS-IA-b (second factor protects credentials against leak),
 * PS-COM-c (a code is accepted at most once: replay guard by time step).
 *
 * The caller owns every buffer passed in; nothing here allocates memory that
 * outlives a call.  Secrets and codes are wiped from internal scratch space.
 */
#ifndef BW_TOTP_H
#define BW_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20      /* bytes of a generated secret (160 bits) */
#define TOTP_SECRET_MIN 16      /* RFC 4226 R6: at least 128 bits */
#define TOTP_SECRET_MAX 64      /* bytes accepted by encode/verify */
#define TOTP_DIGITS 6
#define TOTP_STEP 30            /* seconds per time step */
#define TOTP_WINDOW_MAX 10      /* largest accepted +/- step window */
/* Characters of unpadded base32 for n bytes (no NUL). */
#define TOTP_B32_LEN(n) (((n) * 8 + 4) / 5)
#define TOTP_LABEL_MAX 256      /* bytes of issuer or account name */
#define TOTP_URI_MAX 4096       /* bytes of a URI including the NUL: labels
                                 * percent-encode to at most 3 bytes per byte,
                                 * and the issuer appears twice: < 2500 */

/* Fills secret with TOTP_SECRET_LEN bytes from libsodium's CSPRNG.  The
 * caller owns secret and wipes it (sodium_memzero) when done. */
void totp_secret_generate(uint8_t secret[TOTP_SECRET_LEN]);

/* RFC 4648 base32, uppercase, no '=' padding, NUL-terminated, into the
 * caller's out (needs TOTP_B32_LEN(n) + 1 bytes).  n must be 1..
 * TOTP_SECRET_MAX.  Returns 0, BW_EINVAL (n out of range) or BW_ETOOBIG
 * (out too small); out is untouched on error.  The result is as secret as
 * the input: the caller wipes it. */
int totp_secret_base32(const uint8_t *secret, size_t n, char *out, size_t out_max);

/* Builds the provisioning URI authenticator apps read from a QR code:
 *   otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&algorithm=SHA1
 *     &digits=6&period=30
 * issuer and account are NUL-terminated UTF-8 (1..TOTP_LABEL_MAX bytes, no
 * control characters, no ':' — the label separator) and are percent-encoded
 * (everything but RFC 3986 unreserved characters).  secret_b32 is unpadded
 * uppercase base32 of TOTP_SECRET_MIN..TOTP_SECRET_MAX bytes.  Writes a
 * NUL-terminated string into the caller's out.  Returns 0, BW_EINVAL or
 * BW_ETOOBIG (out_max too small); out is untouched on error.  The URI
 * contains the secret: the caller wipes it.  Note qr_svg takes at most
 * QR_TEXT_MAX (1024) bytes: very long non-ASCII labels can make a URI that
 * is valid here but too long for a QR code. */
int totp_uri(const char *issuer, const char *account, const char *secret_b32,
             char *out, size_t out_max);

/* The RFC 4226 HOTP value for time step `step` (= unix time / 30) with
 * `digits` (6..8) digits, NUL-terminated into the caller's out (digits + 1
 * bytes).  Used by totp_verify and by tests against the RFC 6238 vectors.
 * Returns 0, BW_EINVAL or BW_ECRYPTO (liboath failure). */
int totp_code_at(const uint8_t *secret, size_t n, uint64_t step, unsigned digits,
                 char *out, size_t out_max);

/* Checks a 6-digit code typed by the user at unix time `now` (>= 0) against
 * the steps now/30 - window .. now/30 + window (0 <= window <=
 * TOTP_WINDOW_MAX), comparing every candidate in constant time.  A code
 * whose matching step is <= last_step was already used (or is older than a
 * used one) and is refused (replay guard); pass last_step = -1 when the
 * secret has never been used.  On success writes the matched step to
 * *matched_step (may be NULL), which the caller stores as the new last_step
 * before reporting success to the client.
 * Returns 0; BW_EINVAL if code is not exactly 6 ASCII digits or an argument
 * is out of range; BW_EAUTH for a wrong or replayed code; BW_ECRYPTO if
 * liboath fails. */
int totp_verify(const uint8_t *secret, size_t n, const char *code, int64_t now,
                int window, int64_t last_step, int64_t *matched_step);

/*
 * Recovery codes: RECOVERY_CODE_COUNT single-use codes shown once at
 * enrolment, formatted "xxxx-xxxx-xxxx" from the 32-symbol Crockford base32
 * alphabet in lowercase ("0123456789abcdefghjkmnpqrstvwxyz": no i, l, o, u),
 * 12 symbols = 60 bits each.  The caller stores only a keyed hash of the
 * normalised form (recovery_code_normalise) and marks a code used.
 */
#define RECOVERY_CODE_COUNT 10
#define RECOVERY_CODE_SYMBOLS 12                   /* symbols of entropy */
#define RECOVERY_CODE_LEN 14                       /* "xxxx-xxxx-xxxx" */
#define RECOVERY_CODE_NORM_LEN RECOVERY_CODE_SYMBOLS /* normalised, no dashes */
#define RECOVERY_CODE_INPUT_MAX 64                 /* bytes of typed input */

/* Fills the caller's array with fresh random codes (NUL-terminated, display
 * form).  The caller wipes the array after showing and hashing the codes.
 * Returns 0. */
int recovery_codes_generate(char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1]);

/* Normalises a code as typed: ASCII letters lowercased, spaces and dashes
 * removed, and the Crockford look-alikes 'o' -> '0', 'i'/'l' -> '1'
 * mapped.  The result (RECOVERY_CODE_NORM_LEN symbols + NUL) goes into the
 * caller's out (out_max >= RECOVERY_CODE_NORM_LEN + 1).  Returns 0,
 * BW_EINVAL (wrong length, a character outside the alphabet, or more than
 * RECOVERY_CODE_INPUT_MAX input bytes) or BW_ETOOBIG (out too small); out is
 * untouched on error. */
int recovery_code_normalise(const char *in, char *out, size_t out_max);

#endif
