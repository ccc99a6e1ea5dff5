/*
 * fuzz_keyd.c — the key process's request path on arbitrary bytes: frames
 * are parsed with keyd_frame_parse() one after another and each is served
 * by keyd_handle() against a fixed in-memory key set, exactly as the key
 * process does (WC-STORE, PS-IA-b).
 *
 * Input: byte 0 selects the suite (bit 0: 0 intl, 1 gm); the rest is a
 * stream of frames.  Checked properties, beyond the sanitizers':
 *  - the parser never consumes more than it was given and never accepts a
 *    payload over KEYD_PAYLOAD_MAX;
 *  - a reply never exceeds KEYD_PAYLOAD_MAX and is empty on error;
 *  - a successful WRAP unwraps again (same tenant/class/version) to the
 *    same key, and not under another tenant;
 *  - a successful UNWRAP yields exactly CRYPTO_KEY_LEN bytes;
 *  - a successful SIGN verifies with keyd_checkpoint_verify().
 */
#include "keyd.h"
#include "crypto.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int keyd_checkpoint_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                           const uint8_t *sig, size_t sig_len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyd_keys fz_keys[3];   /* indexed by suite */
static int fz_suite;

static void fz_setup(int suite)
{
	if (fz_suite == suite)
		return;
	if (bwc_init((enum bwc_suite)suite) != 0)
		abort();
	fz_suite = suite;
	struct keyd_keys *k = &fz_keys[suite];
	if (k->sign_pub_len == 0) {
		/* Fixed for the life of the process: a deterministic master key
		 * and one signing key pair per suite. */
		for (size_t i = 0; i < sizeof k->master; i++)
			k->master[i] = (uint8_t)(0xA5 ^ i);
		if (bwc_sign_keygen(k->sign_pub, &k->sign_pub_len, k->sign_sec,
		                       &k->sign_sec_len) != 0)
			abort();
	}
}

static void fz_check_wrap(const struct keyd_keys *k, const struct keyd_frame *req,
                          const uint8_t *box, size_t box_len)
{
	uint8_t unwrap[KEYD_PAYLOAD_MAX], out[KEYD_PAYLOAD_MAX];
	size_t out_len = 0;
	if (box_len + 16 > sizeof unwrap)
		abort();
	memcpy(unwrap, req->payload, 16);
	memcpy(unwrap + 16, box, box_len);
	struct keyd_frame f = { req->id, KEYD_UNWRAP, (uint16_t)(16 + box_len), unwrap };
	if (keyd_handle(k, &f, out, &out_len) != 0 || out_len != CRYPTO_KEY_LEN ||
	    memcmp(out, req->payload + 16, CRYPTO_KEY_LEN) != 0)
		abort();
	unwrap[7] ^= 1;   /* another tenant */
	if (keyd_handle(k, &f, out, &out_len) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_setup((data[0] & 1) ? CRYPTO_SUITE_GM : CRYPTO_SUITE_INTL);
	const struct keyd_keys *k = &fz_keys[fz_suite];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	static uint8_t out[KEYD_PAYLOAD_MAX];
	for (int frames = 0; frames < 64 && n > 0; frames++) {
		struct keyd_frame f;
		int used = keyd_frame_parse(p, n, &f);
		if (used <= 0)
			break;
		if ((size_t)used > n || f.len > KEYD_PAYLOAD_MAX || (size_t)used != 8u + f.len)
			abort();
		size_t out_len = 12345;
		int rc = keyd_handle(k, &f, out, &out_len);
		if (out_len > KEYD_PAYLOAD_MAX || (rc != 0 && out_len != 0) || rc > 0)
			abort();
		if (rc == 0) {
			switch (f.op) {
			case KEYD_WRAP:
				fz_check_wrap(k, &f, out, out_len);
				break;
			case KEYD_UNWRAP:
				if (out_len != CRYPTO_KEY_LEN)
					abort();
				break;
			case KEYD_SIGN:
				if (keyd_checkpoint_verify(k->sign_pub, k->sign_pub_len, f.payload,
				                           f.len, out, out_len) != 0)
					abort();
				break;
			case KEYD_PUBKEY:
				if (out_len != k->sign_pub_len)
					abort();
				break;
			default:
				abort();   /* unknown ops must fail */
			}
		}
		p += used;
		n -= (size_t)used;
	}
	return 0;
}
