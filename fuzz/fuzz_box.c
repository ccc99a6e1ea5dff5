/*
 * fuzz_box.c — libFuzzer target for the sealed-box parser and opener
 * (bwc_box_peek, bwc_box_open) under both suites (PS-CRY, WC-STORE,
 * PS-COM-b).
 *
 * Each input is treated as a box read back from the store, opened with a
 * fixed key and associated data, first under the intl suite and then under
 * gm.  Besides the sanitizers catching any out-of-bounds access (the input
 * and the output buffer are exact-size heap blocks), the target checks:
 * - peek and open agree on malformed boxes (both BW_EINVAL);
 * - a well-formed box either opens or fails with BW_ECRYPTO, and then the
 *   output buffer is all zero;
 * - a box that opens re-seals to a box of the same length that opens to the
 *   same plaintext.
 * Seeds in fuzz/corpus/fuzz_box/ are real boxes of both suites made with the
 * key and AAD below, so mutations start from the authenticated path.
 */
#include "crypto.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t fuzz_key[CRYPTO_KEY_LEN];
static uint8_t fuzz_aad[CRYPTO_AAD_MAX];
static size_t fuzz_aad_len;

static void fuzz_setup(void)
{
	static int ready;
	if (ready)
		return;
	for (size_t i = 0; i < sizeof fuzz_key; i++)
		fuzz_key[i] = (uint8_t)(0x42 + i);
	if (bwc_init(CRYPTO_SUITE_INTL) != 0)
		abort();
	int n = bwc_aad(fuzz_aad, 7, "messages", 42, "body");
	if (n <= 0)
		abort();
	fuzz_aad_len = (size_t)n;
	ready = 1;
}

static void fuzz_one(enum bwc_suite s, const uint8_t *data, size_t size)
{
	uint32_t kv = 0;
	size_t pt_len = 0;

	if (bwc_init(s) != 0)
		abort();
	int prc = bwc_box_peek(data, size, &kv, &pt_len);
	if (prc != 0 && prc != BW_EINVAL)
		abort();
	/* Exact-size output so ASan flags any write past the plaintext. */
	uint8_t *out = malloc(prc == 0 && pt_len > 0 ? pt_len : 1);
	if (out == NULL)
		abort();
	memset(out, 0xa5, prc == 0 && pt_len > 0 ? pt_len : 1);
	int orc = bwc_box_open(fuzz_key, fuzz_aad, fuzz_aad_len, data, size, out);
	if (prc != 0) {
		if (orc != BW_EINVAL)
			abort();
	} else if (orc == BW_ECRYPTO) {
		for (size_t i = 0; i < pt_len; i++)
			if (out[i] != 0)
				abort();
	} else if (orc == 0) {
		if (bwc_box_len(pt_len) != size)
			abort();
		uint8_t *box = malloc(size);
		uint8_t *back = malloc(pt_len ? pt_len : 1);
		if (box == NULL || back == NULL)
			abort();
		if (bwc_box_seal(fuzz_key, kv, fuzz_aad, fuzz_aad_len, out, pt_len, box) != 0 ||
		    bwc_box_open(fuzz_key, fuzz_aad, fuzz_aad_len, box, size, back) != 0 ||
		    (pt_len > 0 && memcmp(back, out, pt_len) != 0))
			abort();
		free(box);
		free(back);
	} else {
		abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup();
	fuzz_one(CRYPTO_SUITE_INTL, data, size);
	fuzz_one(CRYPTO_SUITE_GM, data, size);
	return 0;
}
