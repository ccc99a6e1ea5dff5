/*
 * fuzz_util.c — the input helpers every request passes through (util.c):
 * bw_utf8_valid / bw_utf8_count, bw_b64url_decode and bw_hex_decode on
 * arbitrary bytes.
 *
 * Properties checked on every input:
 *  - bw_utf8_valid agrees with an independent table-driven validator
 *    (Unicode 15 table 3-7, well-formed byte sequences) plus the control
 *    rule (no NUL, no C0 controls but \t \n \r when allowed, no DEL);
 *    strict validity implies validity with newlines; for valid text
 *    bw_utf8_count equals the reference code-point count;
 *  - a successful base64url decode re-encodes to exactly the input (only
 *    canonical encodings are accepted) and fits the stated output size;
 *  - a successful hex decode has exactly half the input length and
 *    re-encodes to the lowercased input;
 *  - encode-then-decode of the raw input returns it (both encodings);
 *  - a too-small output buffer is refused, never overrun.
 */
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1;
	return 0;
}

/* Reference validator; *cps gets the code-point count when valid. */
static bool fuzz_util_ref_utf8(const uint8_t *s, size_t n, bool nl, size_t *cps)
{
	size_t i = 0, c = 0;
	while (i < n) {
		uint8_t b = s[i];
		size_t len;
		uint8_t lo = 0x80, hi = 0xbf;   /* range of the second byte */
		if (b <= 0x7f) {
			bool ctl = b < 0x20 || b == 0x7f;
			if (ctl && !(nl && (b == '\t' || b == '\n' || b == '\r')))
				return false;
			i++;
			c++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			len = 2;
		} else if (b == 0xe0) {
			len = 3; lo = 0xa0;
		} else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) {
			len = 3;
		} else if (b == 0xed) {
			len = 3; hi = 0x9f;
		} else if (b == 0xf0) {
			len = 4; lo = 0x90;
		} else if (b >= 0xf1 && b <= 0xf3) {
			len = 4;
		} else if (b == 0xf4) {
			len = 4; hi = 0x8f;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
		c++;
	}
	*cps = c;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *in = malloc(size ? size : 1);     /* exact size for ASan */
	if (!in)
		return 0;
	if (size)
		memcpy(in, data, size);

	/* UTF-8 */
	for (int nl = 0; nl < 2; nl++) {
		size_t ref_count = 0;
		bool ref = fuzz_util_ref_utf8(data, size, nl, &ref_count);
		bool got = bw_utf8_valid(in, size, nl);
		if (got != ref)
			abort();
		if (got && bw_utf8_count(in, size) != ref_count)
			abort();
		if (got && memchr(in, 0, size))
			abort();
	}
	if (bw_utf8_valid(in, size, false) && !bw_utf8_valid(in, size, true))
		abort();
	if (bw_utf8_count(in, size) > size)
		abort();

	/* base64url decode of the input */
	size_t out_max = size * 3 / 4 + 3;
	uint8_t *out = malloc(out_max);
	char *enc = malloc(bw_b64_len(out_max) + 1 > 2 * out_max + 1 ? bw_b64_len(out_max) + 1
	                                                              : 2 * out_max + 1);
	if (!out || !enc)
		goto done;
	int n = bw_b64url_decode(in, size, out, out_max);
	if (n >= 0) {
		if ((size_t)n > out_max || (size_t)n > size * 3 / 4)
			abort();
		bw_b64url_encode(out, (size_t)n, enc);
		if (strlen(enc) != size || memcmp(enc, in, size) != 0)
			abort();
		/* one byte less room than needed is refused */
		if (n > 0 && bw_b64url_decode(in, size, out, (size_t)n - 1) >= 0)
			abort();
	}

	/* hex decode of the input */
	n = bw_hex_decode(in, size, out, out_max);
	if (n >= 0) {
		if ((size_t)n * 2 != size)
			abort();
		bw_hex_encode(out, (size_t)n, enc);
		for (size_t i = 0; i < size; i++)
			if (enc[i] != (char)tolower((unsigned char)in[i]))
				abort();
		if (n > 0 && bw_hex_decode(in, size, out, (size_t)n - 1) >= 0)
			abort();
	}

	/* encode the raw bytes, decode back */
	{
		size_t m = size > 1024 ? 1024 : size;
		char *e = malloc(2 * m + bw_b64_len(m) + 2);
		uint8_t *d = malloc(m ? m : 1);
		if (e && d) {
			bw_b64url_encode(data, m, e);
			if (strlen(e) != bw_b64_len(m) ||
			    bw_b64url_decode(e, strlen(e), d, m) != (int)m || (m && memcmp(d, data, m) != 0))
				abort();
			bw_hex_encode(data, m, e);
			if (strlen(e) != 2 * m ||
			    bw_hex_decode(e, 2 * m, d, m) != (int)m || (m && memcmp(d, data, m) != 0))
				abort();
			if (m && !bw_ct_eq(d, data, m))
				abort();
		}
		free(e);
		free(d);
	}
done:
	free(out);
	free(enc);
	free(in);
	return 0;
}
