/*
 * test_crypto.c — unit tests for src/crypto.c (PS-CRY, WC-STORE, RG-IM-a,
 * RG-DOC-a, PS-IA-b, PS-LOG-c).
 *
 * Known-answer vectors are copied from the published documents named at each
 * test, never computed by the code under test:
 *   draft-irtf-cfrg-xchacha-03 §A.3.1, RFC 8439 §2.8.2, FIPS 180-2 (SHA-256
 *   "abc"), RFC 4231 test case 2, GB/T 32905-2016 Appendix A (SM3),
 *   GB/T 32907-2016 Appendix A example 1 (SM4), RFC 8998 Appendix A.1
 *   (SM4-GCM), GM/T 0042-2015 Appendix D.3 (HMAC-SM3), RFC 8032 §7.1 TEST 1
 *   (Ed25519), GM/T 0003.5-2012 / GB/T 32918.5 Annex A.2 (SM2 signature on the
 *   recommended curve, ID "1234567812345678", message "message digest").
 * Library-level KATs (XChaCha20-Poly1305, ChaCha20-Poly1305, SM4, SM4-GCM)
 * call libsodium/libgcrypt directly, showing the libraries crypto.c builds on
 * match the standards; the box tests then decrypt crypto.c's boxes with those
 * same library calls to pin the documented format.
 *
 * Every security claim has a negative test: each byte of a box flipped, each
 * AAD field changed, truncation, wrong key, wrong suite, bad signatures, wrong
 * password.  Run under ASan+UBSan with LeakSanitizer (tests/run-unit.sh).
 */
#include "crypto.h"
#include "util.h"
#include "unit.h"

#include <stdint.h>

#include <gcrypt.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
/* Not <sodium.h>: its generic API shares five names with crypto.h. */
#include <sodium/crypto_aead_chacha20poly1305.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

static const enum bwc_suite suites[] = { CRYPTO_SUITE_INTL, CRYPTO_SUITE_GM };

/* Decodes a hex test vector into out (capacity max); returns its length. */
static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	int n = bw_hex_decode(hex, strlen(hex), out, max);
	if (n < 0) {
		fprintf(stderr, "  bad test vector hex: %.20s...\n", hex);
		abort();
	}
	return (size_t)n;
}

static void use_suite(enum bwc_suite s)
{
	if (bwc_init(s) != 0) {
		fprintf(stderr, "  bwc_init(%s) failed\n", bwc_suite_name(s));
		abort();
	}
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* ---- suite selection -------------------------------------------------- */

TEST(suite_names)
{
	enum bwc_suite s = 0;

	CHECK_STR(bwc_suite_name(CRYPTO_SUITE_INTL), "intl");
	CHECK_STR(bwc_suite_name(CRYPTO_SUITE_GM), "gm");
	CHECK_STR(bwc_suite_name((enum bwc_suite)7), "unknown");
	CHECK_EQ(bwc_suite_parse("gm", &s), 0);
	CHECK_EQ(s, CRYPTO_SUITE_GM);
	CHECK_EQ(bwc_suite_parse("intl", &s), 0);
	CHECK_EQ(s, CRYPTO_SUITE_INTL);
	s = CRYPTO_SUITE_GM;
	CHECK_EQ(bwc_suite_parse("GM", &s), BW_EINVAL);
	CHECK_EQ(bwc_suite_parse("", &s), BW_EINVAL);
	CHECK_EQ(bwc_suite_parse("intl ", &s), BW_EINVAL);
	CHECK_EQ(bwc_suite_parse(NULL, &s), BW_EINVAL);
	CHECK_EQ(s, CRYPTO_SUITE_GM); /* untouched on failure */

	CHECK_EQ(bwc_init((enum bwc_suite)0), BW_EINVAL);
	CHECK_EQ(bwc_init((enum bwc_suite)3), BW_EINVAL);
	CHECK_EQ(bwc_init(CRYPTO_SUITE_GM), 0);
	CHECK_EQ(bwc_suite(), CRYPTO_SUITE_GM);
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	CHECK_EQ(bwc_suite(), CRYPTO_SUITE_INTL);
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0); /* idempotent */
	CHECK_EQ(bwc_suite(), CRYPTO_SUITE_INTL);
}

TEST(random_bytes)
{
	uint8_t a[32], b[32];

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	bwc_random(a, sizeof a);
	bwc_random(b, sizeof b);
	CHECK(!all_zero(a, sizeof a));
	CHECK(memcmp(a, b, sizeof a) != 0);
	bwc_random(NULL, 0); /* no-op */
}

/* ---- library known-answer tests --------------------------------------- */

static const char sunscreen[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you only one "
	"tip for the future, sunscreen would be it.";

/* draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XCHACHA20_POLY1305). */
TEST(kat_xchacha20poly1305_draft_a31)
{
	uint8_t key[32], iv[24], aad[12], want_ct[114], want_tag[16];
	uint8_t ct[114], tag[16], pt[114];
	unsigned long long tl = 0;

	CHECK_EQ(unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
	               key, sizeof key), 32);
	CHECK_EQ(unhex("404142434445464748494a4b4c4d4e4f5051525354555657", iv, sizeof iv), 24);
	CHECK_EQ(unhex("50515253c0c1c2c3c4c5c6c7", aad, sizeof aad), 12);
	CHECK_EQ(unhex("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
	               "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
	               "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
	               "21f9664c97637da9768812f615c68b13b52e", want_ct, sizeof want_ct), 114);
	CHECK_EQ(unhex("c0875924c1c7987947deafd8780acf49", want_tag, sizeof want_tag), 16);
	CHECK_EQ(strlen(sunscreen), 114);

	CHECK_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		ct, tag, &tl, (const uint8_t *)sunscreen, 114, aad, sizeof aad, NULL, iv, key), 0);
	CHECK_MEM(ct, want_ct, sizeof ct);
	CHECK_MEM(tag, want_tag, sizeof tag);
	CHECK_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		pt, NULL, want_ct, 114, want_tag, aad, sizeof aad, iv, key), 0);
	CHECK_MEM(pt, sunscreen, 114);
	want_tag[15] ^= 1;
	CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		pt, NULL, want_ct, 114, want_tag, aad, sizeof aad, iv, key) != 0);
}

/* RFC 8439 §2.8.2 through libsodium's IETF ChaCha20-Poly1305. */
TEST(kat_chacha20poly1305_rfc8439)
{
	uint8_t key[32], nonce[12], aad[12], want_ct[114], want_tag[16], ct[114], tag[16];
	unsigned long long tl = 0;

	unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", key, sizeof key);
	/* 32-bit fixed-common part 07000000 ‖ IV 4041424344454647 */
	CHECK_EQ(unhex("070000004041424344454647", nonce, sizeof nonce), 12);
	unhex("50515253c0c1c2c3c4c5c6c7", aad, sizeof aad);
	CHECK_EQ(unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	               "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	               "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	               "3ff4def08e4b7a9de576d26586cec64b6116", want_ct, sizeof want_ct), 114);
	unhex("1ae10b594f09e26a7e902ecbd0600691", want_tag, sizeof want_tag);
	CHECK_EQ(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		ct, tag, &tl, (const uint8_t *)sunscreen, 114, aad, sizeof aad, NULL, nonce, key), 0);
	CHECK_MEM(ct, want_ct, sizeof ct);
	CHECK_MEM(tag, want_tag, sizeof tag);
}

/* GB/T 32907-2016 Appendix A, example 1: one SM4 block (libgcrypt ECB). */
TEST(kat_sm4_gbt32907_example1)
{
	uint8_t key[16], pt[16], want[16], ct[16];
	gcry_cipher_hd_t h;

	use_suite(CRYPTO_SUITE_GM); /* initialises libgcrypt */
	unhex("0123456789abcdeffedcba9876543210", key, sizeof key);
	unhex("0123456789abcdeffedcba9876543210", pt, sizeof pt);
	unhex("681edf34d206965e86b3e94f536e4246", want, sizeof want);
	CHECK_EQ(gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_ECB, 0), 0);
	CHECK_EQ(gcry_cipher_setkey(h, key, 16), 0);
	CHECK_EQ(gcry_cipher_encrypt(h, ct, 16, pt, 16), 0);
	CHECK_MEM(ct, want, 16);
	CHECK_EQ(gcry_cipher_decrypt(h, ct, 16, NULL, 0), 0);
	CHECK_MEM(ct, pt, 16);
	gcry_cipher_close(h);
}

/* RFC 8998 Appendix A.1 (SM4-GCM) through libgcrypt. */
TEST(kat_sm4_gcm_rfc8998_a1)
{
	uint8_t key[16], iv[12], aad[20], pt[64], want_ct[64], want_tag[16], out[64], tag[16];
	gcry_cipher_hd_t h;

	use_suite(CRYPTO_SUITE_GM);
	unhex("0123456789ABCDEFFEDCBA9876543210", key, sizeof key);
	unhex("00001234567800000000ABCD", iv, sizeof iv);
	CHECK_EQ(unhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2", aad, sizeof aad), 20);
	CHECK_EQ(unhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
	               "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
	               pt, sizeof pt), 64);
	CHECK_EQ(unhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
	               "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
	               want_ct, sizeof want_ct), 64);
	unhex("83DE3541E4C2B58177E065A9BF7B62EC", want_tag, sizeof want_tag);

	CHECK_EQ(gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, 0), 0);
	CHECK_EQ(gcry_cipher_setkey(h, key, 16), 0);
	CHECK_EQ(gcry_cipher_setiv(h, iv, 12), 0);
	CHECK_EQ(gcry_cipher_authenticate(h, aad, sizeof aad), 0);
	CHECK_EQ(gcry_cipher_encrypt(h, out, 64, pt, 64), 0);
	CHECK_EQ(gcry_cipher_gettag(h, tag, 16), 0);
	gcry_cipher_close(h);
	CHECK_MEM(out, want_ct, 64);
	CHECK_MEM(tag, want_tag, 16);

	/* Decrypt with checktag; a flipped tag bit is refused. */
	for (int bad = 0; bad < 2; bad++) {
		CHECK_EQ(gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, 0), 0);
		gcry_cipher_setkey(h, key, 16);
		gcry_cipher_setiv(h, iv, 12);
		gcry_cipher_authenticate(h, aad, sizeof aad);
		CHECK_EQ(gcry_cipher_decrypt(h, out, 64, want_ct, 64), 0);
		want_tag[0] ^= (uint8_t)bad;
		gcry_error_t e = gcry_cipher_checktag(h, want_tag, 16);
		want_tag[0] ^= (uint8_t)bad;
		gcry_cipher_close(h);
		if (bad)
			CHECK_EQ(gcry_err_code(e), GPG_ERR_CHECKSUM);
		else {
			CHECK_EQ(e, 0);
			CHECK_MEM(out, pt, 64);
		}
	}
}

/* ---- hashes and HMAC through crypto.c --------------------------------- */

/* FIPS 180-2 Appendix B.1: SHA-256("abc"). */
TEST(kat_sha256_abc)
{
	uint8_t want[32], out[32];

	use_suite(CRYPTO_SUITE_INTL);
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	bwc_hash("abc", 3, out);
	CHECK_MEM(out, want, 32);

	struct bwc_hash_ctx c;
	bwc_hash_init(&c);
	bwc_hash_update(&c, "a", 1);
	bwc_hash_update(&c, NULL, 0);
	bwc_hash_update(&c, "bc", 2);
	bwc_hash_final(&c, out);
	CHECK_MEM(out, want, 32);
	CHECK(all_zero(c.opaque, sizeof c.opaque)); /* wiped */

	bwc_hash("abd", 3, out);
	CHECK(memcmp(out, want, 32) != 0);
}

/* GB/T 32905-2016 Appendix A: SM3("abc") and SM3("abcd" x 16). */
TEST(kat_sm3_gbt32905)
{
	uint8_t want1[32], want2[32], out[32];
	char abcd16[65];

	use_suite(CRYPTO_SUITE_GM);
	unhex("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0", want1, 32);
	unhex("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732", want2, 32);
	for (int i = 0; i < 16; i++)
		memcpy(abcd16 + 4 * i, "abcd", 4);
	abcd16[64] = 0;

	bwc_hash("abc", 3, out);
	CHECK_MEM(out, want1, 32);
	bwc_hash(abcd16, 64, out);
	CHECK_MEM(out, want2, 32);

	/* Incremental, one byte at a time. */
	struct bwc_hash_ctx c;
	bwc_hash_init(&c);
	for (int i = 0; i < 64; i++)
		bwc_hash_update(&c, abcd16 + i, 1);
	bwc_hash_final(&c, out);
	CHECK_MEM(out, want2, 32);
	CHECK(all_zero(c.opaque, sizeof c.opaque));
}

/* Incremental == one-shot for random chunkings, both suites; a context
 * records its suite, so switching suites mid-hash does not change it. */
TEST(hash_incremental_matches_oneshot)
{
	static uint8_t msg[5000];
	uint8_t a[32], b[32];

	bwc_random(msg, sizeof msg);
	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		use_suite(suites[k]);
		for (int round = 0; round < 20; round++) {
			struct bwc_hash_ctx c;
			size_t len = (size_t)randombytes_uniform(sizeof msg + 1);
			bwc_hash(msg, len, a);
			bwc_hash_init(&c);
			for (size_t off = 0; off < len;) {
				size_t step = 1 + randombytes_uniform(200);
				if (step > len - off)
					step = len - off;
				bwc_hash_update(&c, msg + off, step);
				off += step;
			}
			bwc_hash_final(&c, b);
			CHECK_MEM(a, b, 32);
		}
	}
	/* Suite captured at init. */
	struct bwc_hash_ctx c;
	use_suite(CRYPTO_SUITE_GM);
	bwc_hash("abc", 3, a);
	bwc_hash_init(&c);
	use_suite(CRYPTO_SUITE_INTL);
	bwc_hash_update(&c, "abc", 3);
	bwc_hash_final(&c, b);
	CHECK_MEM(a, b, 32);
	/* The two suites really differ. */
	bwc_hash("abc", 3, b);
	CHECK(memcmp(a, b, 32) != 0);
}

/* RFC 4231 test case 2.  HMAC pads a short key with zero bytes to the block
 * size (RFC 2104 §2), so "Jefe" and "Jefe" followed by 28 zero bytes are the
 * same HMAC key: that lets the 32-byte bwc_hmac() reproduce the RFC value. */
TEST(kat_hmac_sha256_rfc4231_tc2)
{
	uint8_t key[32], want[32], out[32];
	const char *data = "what do ya want for nothing?";

	use_suite(CRYPTO_SUITE_INTL);
	memset(key, 0, sizeof key);
	memcpy(key, "Jefe", 4);
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
	bwc_hmac(key, data, strlen(data), out);
	CHECK_MEM(out, want, 32);
	key[31] = 1;
	bwc_hmac(key, data, strlen(data), out);
	CHECK(memcmp(out, want, 32) != 0);
}

/* GM/T 0042-2015 Appendix D.3, HMAC-SM3 cases 1 and 3 (32-byte keys) and
 * case 4 ("Jefe", zero-padded as above). */
TEST(kat_hmac_sm3_gmt0042)
{
	uint8_t key[32], want[32], out[32];
	const char *m1 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
	                 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	use_suite(CRYPTO_SUITE_GM);
	unhex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", key, 32);
	unhex("ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a", want, 32);
	bwc_hmac(key, m1, strlen(m1), out);
	CHECK_MEM(out, want, 32);

	memset(key, 0x0b, sizeof key);
	unhex("c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e", want, 32);
	bwc_hmac(key, "Hi There", 8, out);
	CHECK_MEM(out, want, 32);

	memset(key, 0, sizeof key);
	memcpy(key, "Jefe", 4);
	unhex("2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882", want, 32);
	bwc_hmac(key, "what do ya want for nothing?", 28, out);
	CHECK_MEM(out, want, 32);

	/* And it agrees with OpenSSL's independent HMAC-SM3 for random input. */
	uint8_t msg[300], ref[EVP_MAX_MD_SIZE];
	unsigned int rl = 0;
	bwc_random(key, sizeof key);
	bwc_random(msg, sizeof msg);
	bwc_hmac(key, msg, sizeof msg, out);
	CHECK(HMAC(EVP_sm3(), key, 32, msg, sizeof msg, ref, &rl) != NULL);
	CHECK_EQ(rl, 32);
	CHECK_MEM(out, ref, 32);
}

/* ---- associated data --------------------------------------------------- */

TEST(aad_encoding)
{
	uint8_t out[CRYPTO_AAD_MAX], want[64];
	char big[CRYPTO_AAD_MAX + 2];

	/* "bw1" ‖ 0000000000000007 ‖ 0002 "ab" ‖ 00000000000001c8 ‖ 0001 "c" */
	size_t wl = unhex("627731" "0000000000000007" "0002" "6162"
	                  "00000000000001c8" "0001" "63", want, sizeof want);
	CHECK_EQ(bwc_aad(out, 7, "ab", 456, "c"), (int)wl);
	CHECK_MEM(out, want, wl);

	/* Negative ids are two's complement big-endian. */
	CHECK_EQ(bwc_aad(out, -1, "", 0, ""), 3 + 8 + 2 + 8 + 2);
	CHECK(memcmp(out + 3, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);

	/* Injective: moving a byte between table and column changes it. */
	uint8_t o2[CRYPTO_AAD_MAX];
	int l1 = bwc_aad(out, 1, "ab", 2, "c");
	int l2 = bwc_aad(o2, 1, "a", 2, "bc");
	CHECK_EQ(l1, l2);
	CHECK(memcmp(out, o2, (size_t)l1) != 0);

	/* Limits: exactly CRYPTO_AAD_MAX fits, one more is too big. */
	size_t room = CRYPTO_AAD_MAX - (3 + 8 + 2 + 8 + 2);
	memset(big, 't', room);
	big[room] = 0;
	CHECK_EQ(bwc_aad(out, 1, big, 2, ""), CRYPTO_AAD_MAX);
	big[room] = 't';
	big[room + 1] = 0;
	memset(o2, 0x5a, sizeof o2);
	CHECK_EQ(bwc_aad(o2, 1, big, 2, ""), BW_ETOOBIG);
	CHECK_EQ(bwc_aad(o2, 1, "", 2, big), BW_ETOOBIG);
	CHECK_EQ(o2[0], 0x5a); /* untouched on failure */
	CHECK_EQ(bwc_aad(o2, 1, NULL, 2, "c"), BW_EINVAL);
	CHECK_EQ(bwc_aad(o2, 1, "t", 2, NULL), BW_EINVAL);
	CHECK_EQ(bwc_aad(NULL, 1, "t", 2, "c"), BW_EINVAL);
}

/* ---- sealed boxes ------------------------------------------------------ */

static size_t overhead(enum bwc_suite s)
{
	return CRYPTO_BOX_HDR_LEN + (s == CRYPTO_SUITE_GM ? 12 : 24) + CRYPTO_TAG_LEN;
}

/* Opens box with the libraries directly, following the format documented in
 * crypto.h and crypto.c (AD = 6-byte header ‖ aad; the SM4 key is the first
 * 16 bytes of HMAC-SM3(key, "bulwark box sm4-gcm v1"), computed here with
 * OpenSSL's HMAC, independent of crypto.c and libgcrypt). */
static bool open_by_spec(enum bwc_suite s, const uint8_t key[32], const uint8_t *aad,
                         size_t aad_len, const uint8_t *box, size_t box_len, uint8_t *pt)
{
	uint8_t ad[CRYPTO_BOX_HDR_LEN + CRYPTO_AAD_MAX];
	size_t nl = s == CRYPTO_SUITE_GM ? 12 : 24;
	size_t n = box_len - overhead(s);
	const uint8_t *nonce = box + 6, *ct = nonce + nl, *tag = ct + n;

	memcpy(ad, box, 6);
	memcpy(ad + 6, aad, aad_len);
	if (s == CRYPTO_SUITE_INTL)
		return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			pt, NULL, ct, n, tag, ad, 6 + aad_len, nonce, key) == 0;
	static const char label[] = "bulwark box sm4-gcm v1";
	uint8_t k[EVP_MAX_MD_SIZE];
	unsigned int kl = 0;
	if (HMAC(EVP_sm3(), key, 32, (const uint8_t *)label, strlen(label), k, &kl) == NULL ||
	    kl != 32)
		return false;
	gcry_cipher_hd_t h;
	bool ok = gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, 0) == 0;
	ok = ok && gcry_cipher_setkey(h, k, 16) == 0 && gcry_cipher_setiv(h, nonce, 12) == 0 &&
	     gcry_cipher_authenticate(h, ad, 6 + aad_len) == 0 &&
	     (n == 0 || gcry_cipher_decrypt(h, pt, n, ct, n) == 0) &&
	     gcry_cipher_checktag(h, tag, 16) == 0;
	gcry_cipher_close(h);
	return ok;
}

TEST(box_roundtrip_and_format)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 64, 1000, 100000 };
	uint8_t key[32], aad[CRYPTO_AAD_MAX];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		enum bwc_suite s = suites[k];
		use_suite(s);
		bwc_random(key, sizeof key);
		int al = bwc_aad(aad, 42, "messages", 9001, "body");
		CHECK(al > 0);
		for (size_t i = 0; i < BW_ARRAY_LEN(sizes); i++) {
			size_t n = sizes[i];
			uint8_t *pt = malloc(n + 1), *out = malloc(n + 1), *ref = malloc(n + 1);
			size_t bl = bwc_box_len(n);
			uint8_t *box = malloc(bl);
			uint32_t kv = 0;
			size_t pl = 99;

			CHECK_EQ(bl, n + overhead(s));
			bwc_random(pt, n);
			CHECK_EQ(bwc_box_seal(key, 0x01020304u, aad, (size_t)al, pt, n, box), 0);
			CHECK_EQ(box[0], 1);
			CHECK_EQ(box[1], s);
			CHECK(memcmp(box + 2, "\x01\x02\x03\x04", 4) == 0);
			CHECK_EQ(bwc_box_peek(box, bl, &kv, &pl), 0);
			CHECK_EQ(kv, 0x01020304u);
			CHECK_EQ(pl, n);
			CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, n ? out : NULL), 0);
			CHECK(n == 0 || memcmp(out, pt, n) == 0);
			/* The documented layout, decrypted without crypto.c. */
			CHECK(open_by_spec(s, key, aad, (size_t)al, box, bl, ref));
			CHECK(n == 0 || memcmp(ref, pt, n) == 0);
			/* Ciphertext is not the plaintext. */
			if (n >= 16)
				CHECK(memcmp(box + overhead(s) - CRYPTO_TAG_LEN, pt, n) != 0);
			free(pt);
			free(out);
			free(ref);
			free(box);
		}
		/* Two seals of the same plaintext differ (random nonce). */
		uint8_t b1[64], b2[64];
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, "same", 4, b1), 0);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, "same", 4, b2), 0);
		CHECK(memcmp(b1, b2, bwc_box_len(4)) != 0);
		/* Key version 0 and UINT32_MAX round-trip through peek. */
		uint32_t kv;
		CHECK_EQ(bwc_box_seal(key, UINT32_MAX, NULL, 0, "x", 1, b1), 0);
		CHECK_EQ(bwc_box_peek(b1, bwc_box_len(1), &kv, NULL), 0);
		CHECK_EQ(kv, UINT32_MAX);
	}
}

/* Every single-byte change of a box is refused: header bytes 0-1 as
 * malformed, everything else (key version included) as inauthentic; the
 * output buffer is zeroed on every failure. */
TEST(box_every_byte_flip_fails)
{
	uint8_t key[32], aad[CRYPTO_AAD_MAX], pt[37], box[128], out[37];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		enum bwc_suite s = suites[k];
		use_suite(s);
		bwc_random(key, sizeof key);
		bwc_random(pt, sizeof pt);
		int al = bwc_aad(aad, 3, "docs", 77, "content");
		size_t bl = bwc_box_len(sizeof pt);
		CHECK_EQ(bwc_box_seal(key, 5, aad, (size_t)al, pt, sizeof pt, box), 0);
		int failures = 0;
		for (size_t i = 0; i < bl; i++) {
			static const uint8_t masks[] = { 0x01, 0x80, 0xff };
			for (size_t m = 0; m < sizeof masks; m++) {
				box[i] ^= masks[m];
				memset(out, 0xa5, sizeof out);
				int rc = bwc_box_open(key, aad, (size_t)al, box, bl, out);
				box[i] ^= masks[m];
				if (i < 2)
					CHECK_EQ(rc, BW_EINVAL);
				else
					CHECK_EQ(rc, BW_ECRYPTO);
				if (rc == BW_ECRYPTO)
					CHECK(all_zero(out, sizeof out));
				failures += rc != 0;
			}
		}
		CHECK_EQ(failures, (int)(3 * bl));
		/* Untouched box still opens. */
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, out), 0);
		CHECK_MEM(out, pt, sizeof pt);
	}
}

/* A box moved to another tenant, table, row or column does not open; nor
 * under another key.  For gm the ciphertext is decrypted before the tag is
 * checked, so this also shows the output is wiped. */
TEST(box_bound_to_its_place)
{
	uint8_t key[32], key2[32], aad[CRYPTO_AAD_MAX], other[CRYPTO_AAD_MAX];
	const char *msg = "salary review 2024: confidential";
	size_t n = strlen(msg);
	uint8_t box[128], out[64];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		use_suite(suites[k]);
		bwc_random(key, sizeof key);
		int al = bwc_aad(aad, 10, "messages", 500, "body");
		size_t bl = bwc_box_len(n);
		CHECK_EQ(bwc_box_seal(key, 1, aad, (size_t)al, msg, n, box), 0);

		struct { int64_t t; const char *tb; int64_t r; const char *c; } moves[] = {
			{ 11, "messages", 500, "body" },
			{ 10, "messages2", 500, "body" },
			{ 10, "messages", 501, "body" },
			{ 10, "messages", 500, "bodY" },
			{ -10, "messages", 500, "body" },
			{ 10, "", 500, "messagesbody" },
		};
		for (size_t i = 0; i < BW_ARRAY_LEN(moves); i++) {
			int ol = bwc_aad(other, moves[i].t, moves[i].tb, moves[i].r, moves[i].c);
			CHECK(ol > 0);
			memset(out, 0xa5, sizeof out);
			CHECK_EQ(bwc_box_open(key, other, (size_t)ol, box, bl, out), BW_ECRYPTO);
			CHECK(all_zero(out, n));
		}
		/* No AAD at all, or a prefix of the right one. */
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, out), BW_ECRYPTO);
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al - 1, box, bl, out), BW_ECRYPTO);
		/* Another key, differing in the last byte or the first: every
		 * key bit matters (gm derives its 128-bit SM4 key from all 32). */
		for (int pos = 31; pos >= 0; pos -= 31) {
			memcpy(key2, key, sizeof key);
			key2[pos] ^= 1;
			memset(out, 0xa5, sizeof out);
			CHECK_EQ(bwc_box_open(key2, aad, (size_t)al, box, bl, out), BW_ECRYPTO);
			CHECK(all_zero(out, n));
		}
		/* Only the tag damaged: gm decrypts correct plaintext into out
		 * before the tag check fails — it must not be left there. */
		box[bl - 1] ^= 0x10;
		memset(out, 0xa5, sizeof out);
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, out), BW_ECRYPTO);
		CHECK(all_zero(out, n));
		box[bl - 1] ^= 0x10;
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, out), 0);
		CHECK_MEM(out, msg, n);
	}
}

TEST(box_truncated_and_malformed)
{
	uint8_t key[32], box[256], out[200];
	const size_t n = 100;
	uint8_t pt[100];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		enum bwc_suite s = suites[k];
		use_suite(s);
		bwc_random(key, sizeof key);
		bwc_random(pt, n);
		size_t bl = bwc_box_len(n);
		CHECK_EQ(bwc_box_seal(key, 9, NULL, 0, pt, n, box), 0);
		for (size_t len = 0; len < bl; len++) {
			/* Copy to an exact-size heap block so ASan sees any over-read. */
			uint8_t *b = malloc(len ? len : 1);
			memcpy(b, box, len);
			uint32_t kv = 77;
			size_t pl = 77;
			int prc = bwc_box_peek(b, len, &kv, &pl);
			int orc = bwc_box_open(key, NULL, 0, b, len, out);
			if (len < overhead(s)) {
				CHECK_EQ(prc, BW_EINVAL);
				CHECK_EQ(orc, BW_EINVAL);
				CHECK_EQ(kv, 77); /* untouched */
				CHECK_EQ(pl, 77);
			} else {
				CHECK_EQ(prc, 0);
				CHECK_EQ(pl, len - overhead(s));
				CHECK_EQ(orc, BW_ECRYPTO);
			}
			free(b);
		}
		/* One byte appended. */
		box[bl] = 0;
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl + 1, out), BW_ECRYPTO);
		/* Wrong version / suite bytes. */
		box[0] = 2;
		CHECK_EQ(bwc_box_peek(box, bl, NULL, NULL), BW_EINVAL);
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, out), BW_EINVAL);
		box[0] = 1;
		box[1] = 3;
		CHECK_EQ(bwc_box_peek(box, bl, NULL, NULL), BW_EINVAL);
		box[1] = (uint8_t)s;
		CHECK_EQ(bwc_box_peek(box, bl, NULL, NULL), 0);
		CHECK_EQ(bwc_box_peek(NULL, bl, NULL, NULL), BW_EINVAL);
		CHECK_EQ(bwc_box_open(key, NULL, 0, NULL, bl, out), BW_EINVAL);
		/* out NULL with a non-empty plaintext. */
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, NULL), BW_EINVAL);
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, out), 0);
	}
}

/* A box of one suite is malformed under the other (header byte 1). */
TEST(box_wrong_suite)
{
	uint8_t key[32], box[64], out[8];

	bwc_random(key, sizeof key);
	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		use_suite(suites[k]);
		size_t bl = bwc_box_len(5);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, "hello", 5, box), 0);
		use_suite(suites[1 - k]);
		CHECK_EQ(bwc_box_peek(box, bl, NULL, NULL), BW_EINVAL);
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, out), BW_EINVAL);
		use_suite(suites[k]);
		CHECK_EQ(bwc_box_open(key, NULL, 0, box, bl, out), 0);
	}
}

TEST(box_empty_plaintext)
{
	uint8_t key[32], aad[CRYPTO_AAD_MAX], box[64];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		enum bwc_suite s = suites[k];
		use_suite(s);
		bwc_random(key, sizeof key);
		int al = bwc_aad(aad, 1, "t", 1, "c");
		size_t bl = bwc_box_len(0);
		size_t pl = 5;
		CHECK_EQ(bl, overhead(s));
		CHECK_EQ(bwc_box_seal(key, 2, aad, (size_t)al, NULL, 0, box), 0);
		CHECK_EQ(bwc_box_peek(box, bl, NULL, &pl), 0);
		CHECK_EQ(pl, 0);
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, NULL), 0);
		/* Still authenticated: tag, AAD and header flips fail. */
		box[bl - 1] ^= 1;
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, NULL), BW_ECRYPTO);
		box[bl - 1] ^= 1;
		aad[al - 1] ^= 1;
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, NULL), BW_ECRYPTO);
		aad[al - 1] ^= 1;
		box[5] ^= 1;
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, NULL), BW_ECRYPTO);
		box[5] ^= 1;
		CHECK_EQ(bwc_box_open(key, aad, (size_t)al, box, bl, NULL), 0);
	}
}

TEST(box_limits)
{
	static uint8_t aad[CRYPTO_AAD_MAX + 1];
	uint8_t key[32], box[CRYPTO_BOX_OVERHEAD_MAX + 8], out[8];

	for (size_t k = 0; k < BW_ARRAY_LEN(suites); k++) {
		use_suite(suites[k]);
		bwc_random(key, sizeof key);
		bwc_random(aad, sizeof aad);
		size_t bl = bwc_box_len(3);
		/* Exactly CRYPTO_AAD_MAX is accepted. */
		CHECK_EQ(bwc_box_seal(key, 1, aad, CRYPTO_AAD_MAX, "abc", 3, box), 0);
		CHECK_EQ(bwc_box_open(key, aad, CRYPTO_AAD_MAX, box, bl, out), 0);
		/* One more is too big, on both sides. */
		CHECK_EQ(bwc_box_seal(key, 1, aad, CRYPTO_AAD_MAX + 1, "abc", 3, box), BW_ETOOBIG);
		CHECK_EQ(bwc_box_open(key, aad, CRYPTO_AAD_MAX + 1, box, bl, out), BW_ETOOBIG);
		/* Plaintext lengths no box can hold. */
		CHECK_EQ(bwc_box_len(SIZE_MAX), SIZE_MAX);
		CHECK_EQ(bwc_box_len(SIZE_MAX - 10), SIZE_MAX);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, "abc", SIZE_MAX - 10, box), BW_ETOOBIG);
		/* NULL arguments. */
		CHECK_EQ(bwc_box_seal(NULL, 1, NULL, 0, "abc", 3, box), BW_EINVAL);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, NULL, 3, box), BW_EINVAL);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 5, "abc", 3, box), BW_EINVAL);
		CHECK_EQ(bwc_box_seal(key, 1, NULL, 0, "abc", 3, NULL), BW_EINVAL);
		CHECK_EQ(bwc_box_open(NULL, NULL, 0, box, bl, out), BW_EINVAL);
		CHECK_EQ(bwc_box_open(key, NULL, 5, box, bl, out), BW_EINVAL);
	}
}

/* ---- signatures ------------------------------------------------------- */

/* RFC 8032 §7.1 TEST 1: empty message. */
TEST(kat_ed25519_rfc8032_test1)
{
	uint8_t sec[64], pub[32], want[64], sig[CRYPTO_SIG_MAX];
	size_t sl = 0;

	use_suite(CRYPTO_SUITE_INTL);
	unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", sec, 32);
	unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, 32);
	CHECK_EQ(unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	               "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	               want, sizeof want), 64);
	memcpy(sec + 32, pub, 32); /* libsodium secret key = seed ‖ public key */

	CHECK_EQ(bwc_sign(sec, sizeof sec, NULL, 0, sig, &sl), 0);
	CHECK_EQ(sl, 64);
	CHECK_MEM(sig, want, 64);
	CHECK_EQ(bwc_verify(pub, 32, "", 0, want, 64), 0);
	CHECK_EQ(bwc_verify(pub, 32, "x", 1, want, 64), BW_ECRYPTO);
	want[0] ^= 1;
	CHECK_EQ(bwc_verify(pub, 32, "", 0, want, 64), BW_ECRYPTO);
	want[0] ^= 1;
	CHECK_EQ(bwc_verify(pub, 32, "", 0, want, 63), BW_ECRYPTO);
	CHECK_EQ(bwc_verify(pub, 31, "", 0, want, 64), BW_ECRYPTO);
	/* A secret key whose public half does not match its seed is refused. */
	sec[40] ^= 1;
	sl = 0;
	CHECK_EQ(bwc_sign(sec, sizeof sec, NULL, 0, sig, &sl), BW_EINVAL);
	CHECK_EQ(sl, 0);
	sec[40] ^= 1;
	CHECK_EQ(bwc_sign(sec, 32, NULL, 0, sig, &sl), BW_EINVAL);
	sodium_memzero(sec, sizeof sec);
}

/* SM2 signature example of GM/T 0003.5-2012 Annex A.2 (= GB/T 32918.5),
 * on the recommended curve: d, P = dG, ID "1234567812345678", message
 * "message digest", signature (r, s) — here DER-encoded as OpenSSL wants. */
static const char sm2_d[] = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
static const char sm2_px[] = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
static const char sm2_py[] = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
static const char sm2_r[] = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
static const char sm2_s[] = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

/* DER SEQUENCE { INTEGER r, INTEGER s } from two 32-byte big-endian values. */
static size_t der_sig(const uint8_t r[32], const uint8_t s[32], uint8_t *out)
{
	uint8_t body[70];
	size_t bl = 0;
	const uint8_t *v[2] = { r, s };

	for (int i = 0; i < 2; i++) {
		size_t skip = 0;
		while (skip < 31 && v[i][skip] == 0)
			skip++;
		size_t len = 32 - skip;
		bool pad = v[i][skip] & 0x80;
		body[bl++] = 0x02;
		body[bl++] = (uint8_t)(len + pad);
		if (pad)
			body[bl++] = 0;
		memcpy(body + bl, v[i] + skip, len);
		bl += len;
	}
	out[0] = 0x30;
	out[1] = (uint8_t)bl;
	memcpy(out + 2, body, bl);
	return bl + 2;
}

static void sm2_published_pub(uint8_t pub[65])
{
	pub[0] = 0x04;
	unhex(sm2_px, pub + 1, 32);
	unhex(sm2_py, pub + 33, 32);
}

/* Verifies with OpenSSL directly under a chosen distinguishing ID. */
static int ossl_sm2_verify(const uint8_t pub[65], const char *id, const void *msg, size_t n,
                           const uint8_t *sig, size_t sl)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL), *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok = -1;

	if (!bld || !kctx || !mctx ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(kctx) != 1 ||
	    EVP_PKEY_fromdata(kctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
	    !(pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
	    EVP_PKEY_CTX_set1_id(pctx, id, (int)strlen(id)) <= 0)
		goto out;
	EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	if (EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, pkey) != 1)
		goto out;
	ok = EVP_DigestVerify(mctx, sig, sl, msg, n);
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(kctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return ok;
}

TEST(kat_sm2_gmt0003_annex_a2)
{
	uint8_t pub[65], r[32], s[32], der[72], d[32], sig[CRYPTO_SIG_MAX];
	const char *msg = "message digest";
	size_t n = strlen(msg), sl = 0;

	use_suite(CRYPTO_SUITE_GM);
	sm2_published_pub(pub);
	unhex(sm2_r, r, 32);
	unhex(sm2_s, s, 32);
	size_t dl = der_sig(r, s, der);
	CHECK_EQ(dl, 72);

	/* The published signature verifies... */
	CHECK_EQ(bwc_verify(pub, 65, msg, n, der, dl), 0);
	/* ...but not for another message, a changed r or s, or a padded DER. */
	CHECK_EQ(bwc_verify(pub, 65, "message digesT", n, der, dl), BW_ECRYPTO);
	der[10] ^= 1;
	CHECK_EQ(bwc_verify(pub, 65, msg, n, der, dl), BW_ECRYPTO);
	der[10] ^= 1;
	der[dl - 1] ^= 1;
	CHECK_EQ(bwc_verify(pub, 65, msg, n, der, dl), BW_ECRYPTO);
	der[dl - 1] ^= 1;
	CHECK_EQ(bwc_verify(pub, 65, msg, n, der, dl - 1), BW_ECRYPTO);
	/* It was made with the standard ID: OpenSSL agrees only under it. */
	CHECK_EQ(ossl_sm2_verify(pub, "1234567812345678", msg, n, der, dl), 1);
	CHECK(ossl_sm2_verify(pub, "ALICE123@YAHOO.COM", msg, n, der, dl) != 1);

	/* Signing with the published d yields signatures that verify under the
	 * published P (Z hashes P, so this shows d -> P is derived correctly). */
	unhex(sm2_d, d, 32);
	CHECK_EQ(bwc_sign(d, 32, msg, n, sig, &sl), 0);
	CHECK(sl >= 8 && sl <= 72);
	CHECK_EQ(bwc_verify(pub, 65, msg, n, sig, sl), 0);
	CHECK_EQ(ossl_sm2_verify(pub, "1234567812345678", msg, n, sig, sl), 1);
	CHECK(ossl_sm2_verify(pub, "ALICE123@YAHOO.COM", msg, n, sig, sl) != 1);
	sodium_memzero(d, sizeof d);
}

TEST(sm2_roundtrip_and_rejections)
{
	uint8_t pub[CRYPTO_PUB_MAX], sec[CRYPTO_SEC_MAX], pub2[CRYPTO_PUB_MAX], sec2[CRYPTO_SEC_MAX];
	uint8_t sig[CRYPTO_SIG_MAX], big[CRYPTO_SIG_MAX + 1];
	size_t pl = 0, sl = 0, pl2 = 0, sl2 = 0, gl = 0;
	const char *m = "audit checkpoint 17: 9f86d081884c7d65";
	size_t n = strlen(m);

	use_suite(CRYPTO_SUITE_GM);
	CHECK_EQ(bwc_sign_keygen(pub, &pl, sec, &sl), 0);
	CHECK_EQ(pl, 65);
	CHECK_EQ(sl, 32);
	CHECK_EQ(pub[0], 0x04);
	CHECK_EQ(bwc_sign_keygen(pub2, &pl2, sec2, &sl2), 0);
	CHECK(memcmp(sec, sec2, 32) != 0);

	CHECK_EQ(bwc_sign(sec, sl, m, n, sig, &gl), 0);
	CHECK(gl >= 8 && gl <= 72);
	CHECK_EQ(sig[0], 0x30);
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), 0);
	CHECK_EQ(bwc_verify(pub, pl, m, n - 1, sig, gl), BW_ECRYPTO);
	CHECK_EQ(bwc_verify(pub2, pl2, m, n, sig, gl), BW_ECRYPTO);
	for (size_t i = 0; i < gl; i++) {
		sig[i] ^= 0x04;
		CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), BW_ECRYPTO);
		sig[i] ^= 0x04;
	}
	/* Trailing garbage after the DER, and over-long input. */
	memcpy(big, sig, gl);
	big[gl] = 0;
	CHECK_EQ(bwc_verify(pub, pl, m, n, big, gl + 1), BW_ECRYPTO);
	CHECK_EQ(bwc_verify(pub, pl, m, n, big, sizeof big), BW_ECRYPTO);
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, 0), BW_ECRYPTO);
	/* Malformed public keys: compressed tag, wrong length, off the curve. */
	pub[0] = 0x02;
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), BW_ECRYPTO);
	pub[0] = 0x04;
	CHECK_EQ(bwc_verify(pub, 64, m, n, sig, gl), BW_ECRYPTO);
	pub[64] ^= 1;
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), BW_ECRYPTO);
	pub[64] ^= 1;
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), 0);

	/* Secret scalars outside [1, n-2] and wrong lengths are refused. */
	uint8_t bad[32];
	memset(bad, 0, sizeof bad);
	gl = 0;
	CHECK_EQ(bwc_sign(bad, 32, m, n, sig, &gl), BW_EINVAL);
	/* n - 1, n = FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
	 * (GB/T 32918.5 recommended curve order). */
	unhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122", bad, 32);
	CHECK_EQ(bwc_sign(bad, 32, m, n, sig, &gl), BW_EINVAL);
	bad[31] = 0x21; /* n - 2: the largest valid scalar */
	CHECK_EQ(bwc_sign(bad, 32, m, n, sig, &gl), 0);
	CHECK_EQ(bwc_sign(sec, 31, m, n, sig, &gl), BW_EINVAL);
	CHECK_EQ(bwc_sign(sec, 64, m, n, sig, &gl), BW_EINVAL);
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(sec2, sizeof sec2);
}

TEST(ed25519_roundtrip_and_rejections)
{
	uint8_t pub[CRYPTO_PUB_MAX], sec[CRYPTO_SEC_MAX], pub2[CRYPTO_PUB_MAX], sec2[CRYPTO_SEC_MAX];
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t pl = 0, sl = 0, pl2 = 0, sl2 = 0, gl = 0;
	const char *m = "audit checkpoint 17";
	size_t n = strlen(m);

	use_suite(CRYPTO_SUITE_INTL);
	CHECK_EQ(bwc_sign_keygen(pub, &pl, sec, &sl), 0);
	CHECK_EQ(pl, 32);
	CHECK_EQ(sl, 64);
	CHECK_EQ(bwc_sign_keygen(pub2, &pl2, sec2, &sl2), 0);
	CHECK_EQ(bwc_sign(sec, sl, m, n, sig, &gl), 0);
	CHECK_EQ(gl, 64);
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), 0);
	CHECK_EQ(bwc_verify(pub2, pl2, m, n, sig, gl), BW_ECRYPTO);
	CHECK_EQ(bwc_verify(pub, pl, m, n - 1, sig, gl), BW_ECRYPTO);
	for (size_t i = 0; i < gl; i++) {
		sig[i] ^= 0x20;
		CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), BW_ECRYPTO);
		sig[i] ^= 0x20;
	}
	/* An intl key under the gm suite is just a malformed key. */
	use_suite(CRYPTO_SUITE_GM);
	CHECK_EQ(bwc_verify(pub, pl, m, n, sig, gl), BW_ECRYPTO);
	CHECK_EQ(bwc_sign(sec, sl, m, n, sig, &gl), BW_EINVAL);
	use_suite(CRYPTO_SUITE_INTL);
	CHECK_EQ(bwc_sign_keygen(NULL, &pl, sec, &sl), BW_EINVAL);
	CHECK_EQ(bwc_sign(NULL, 64, m, n, sig, &gl), BW_EINVAL);
	CHECK_EQ(bwc_verify(NULL, 32, m, n, sig, 64), BW_ECRYPTO);
	sodium_memzero(sec, sizeof sec);
	sodium_memzero(sec2, sizeof sec2);
}

/* ---- Argon2id ---------------------------------------------------------- */

TEST(pwhash_roundtrip_and_wrong_password)
{
	char h1[CRYPTO_PWHASH_MAX], h2[CRYPTO_PWHASH_MAX];
	const char *pw = "correct horse battery staple";

	use_suite(CRYPTO_SUITE_GM); /* both suites use Argon2id */
	CHECK_EQ(bwc_pwhash(pw, strlen(pw), h1), 0);
	CHECK(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	CHECK(strnlen(h1, sizeof h1) < sizeof h1);
	CHECK_EQ(bwc_pwhash_verify(h1, pw, strlen(pw)), 0);
	CHECK_EQ(bwc_pwhash_verify(h1, pw, strlen(pw) - 1), BW_EAUTH);
	CHECK_EQ(bwc_pwhash_verify(h1, "Correct horse battery staple", strlen(pw)), BW_EAUTH);
	CHECK_EQ(bwc_pwhash_verify(h1, "", 0), BW_EAUTH);
	/* Salted: the same password hashes differently. */
	use_suite(CRYPTO_SUITE_INTL);
	CHECK_EQ(bwc_pwhash(pw, strlen(pw), h2), 0);
	CHECK(strcmp(h1, h2) != 0);
	CHECK_EQ(bwc_pwhash_verify(h2, pw, strlen(pw)), 0);
	/* Embedded NUL bytes count. */
	CHECK_EQ(bwc_pwhash("a\0b", 3, h2), 0);
	CHECK_EQ(bwc_pwhash_verify(h2, "a\0b", 3), 0);
	CHECK_EQ(bwc_pwhash_verify(h2, "a", 1), BW_EAUTH);
	CHECK_EQ(bwc_pwhash_verify(h2, "a\0c", 3), BW_EAUTH);
}

TEST(pwhash_limits_and_malformed)
{
	char h[CRYPTO_PWHASH_MAX], bad[CRYPTO_PWHASH_MAX + 8];
	static char longpw[4097];

	char keep[CRYPTO_PWHASH_MAX];

	use_suite(CRYPTO_SUITE_INTL);
	CHECK_EQ(bwc_pwhash("pw", 2, h), 0);
	/* Password length bound; out untouched on failure. */
	memset(longpw, 'p', sizeof longpw);
	memcpy(keep, h, sizeof h);
	CHECK_EQ(bwc_pwhash(longpw, sizeof longpw, h), BW_ETOOBIG);
	CHECK_MEM(h, keep, sizeof h);
	CHECK_EQ(bwc_pwhash(longpw, 4096, bad), 0);
	CHECK_EQ(bwc_pwhash_verify(bad, longpw, 4096), 0);
	CHECK_EQ(bwc_pwhash_verify(h, longpw, sizeof longpw), BW_EAUTH);
	CHECK_EQ(bwc_pwhash(NULL, 2, h), BW_EINVAL);

	/* Malformed encodings. */
	CHECK_EQ(bwc_pwhash_verify("", "pw", 2), BW_EINVAL);
	CHECK_EQ(bwc_pwhash_verify("pw", "pw", 2), BW_EINVAL);
	CHECK_EQ(bwc_pwhash_verify(NULL, "pw", 2), BW_EINVAL);
	memset(bad, 'a', sizeof bad); /* no NUL within CRYPTO_PWHASH_MAX */
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	/* argon2i instead of argon2id. */
	snprintf(bad, sizeof bad, "$argon2i$%s", h + strlen("$argon2id$"));
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	/* Truncated hash part. */
	memcpy(bad, h, sizeof h);
	bad[strlen(bad) - 10] = 0;
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	/* Parameters beyond the verification bounds (memory 4 GiB, t = 1000). */
	const char *rest = strchr(h + 31 - 1, '$'); /* "$salt$hash" after "p=1" */
	CHECK(rest != NULL);
	snprintf(bad, sizeof bad, "$argon2id$v=19$m=4194304,t=2,p=1%s", rest);
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	snprintf(bad, sizeof bad, "$argon2id$v=19$m=19456,t=1000,p=1%s", rest);
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	snprintf(bad, sizeof bad, "$argon2id$v=19$m=019456,t=2,p=1%s", rest);
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), BW_EINVAL);
	/* The same string with the real parameters verifies (the edit above is
	 * what made it fail). */
	snprintf(bad, sizeof bad, "$argon2id$v=19$m=19456,t=2,p=1%s", rest);
	CHECK_EQ(bwc_pwhash_verify(bad, "pw", 2), 0);
}

int main(void)
{
	RUN(suite_names);
	RUN(random_bytes);
	RUN(kat_xchacha20poly1305_draft_a31);
	RUN(kat_chacha20poly1305_rfc8439);
	RUN(kat_sm4_gbt32907_example1);
	RUN(kat_sm4_gcm_rfc8998_a1);
	RUN(kat_sha256_abc);
	RUN(kat_sm3_gbt32905);
	RUN(hash_incremental_matches_oneshot);
	RUN(kat_hmac_sha256_rfc4231_tc2);
	RUN(kat_hmac_sm3_gmt0042);
	RUN(aad_encoding);
	RUN(box_roundtrip_and_format);
	RUN(box_every_byte_flip_fails);
	RUN(box_bound_to_its_place);
	RUN(box_truncated_and_malformed);
	RUN(box_wrong_suite);
	RUN(box_empty_plaintext);
	RUN(box_limits);
	RUN(kat_ed25519_rfc8032_test1);
	RUN(kat_sm2_gmt0003_annex_a2);
	RUN(sm2_roundtrip_and_rejections);
	RUN(ed25519_roundtrip_and_rejections);
	RUN(pwhash_roundtrip_and_wrong_password);
	RUN(pwhash_limits_and_malformed);
	return UNIT_DONE();
}
