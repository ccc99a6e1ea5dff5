/*
 * crypto.h — the two cryptographic suites and the sealed-box format used for
 * every encrypted field (PS-CRY, WC-STORE, RG-IM-a, RG-DOC-a).
 *
 *   intl: XChaCha20-Poly1305 (libsodium), SHA-256, HMAC-SHA-256, Ed25519
 *   gm:   SM4-GCM (libgcrypt), SM3, HMAC-SM3, SM2 with SM3 (OpenSSL 3)
 *
 * The suite is chosen once per installation at `bulwark init` and recorded in
 * the store; a process calls bwc_init() once before anything else here.
 *
 * Sealed box (all integers big-endian):
 *   byte 0      format version (1)
 *   byte 1      suite id (CRYPTO_SUITE_*)
 *   bytes 2..5  key version (which data-key version sealed it)
 *   nonce       24 bytes (intl) or 12 bytes (gm)
 *   ciphertext  same length as the plaintext
 *   tag         16 bytes
 * The associated data binds the box to its place (bwc_aad()), so a box
 * moved to another tenant, table, row or column does not open.
 *
 * Memory: callers own every buffer; nothing here allocates except where the
 * comment says so.  Keys are 32-byte arrays the caller wipes.
 */
#ifndef BW_CRYPTO_H
#define BW_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum bwc_suite { CRYPTO_SUITE_INTL = 1, CRYPTO_SUITE_GM = 2 };

#define CRYPTO_KEY_LEN 32          /* data keys, master key, MAC keys */
#define CRYPTO_HASH_LEN 32         /* SHA-256 and SM3 */
#define CRYPTO_TAG_LEN 16
#define CRYPTO_NONCE_MAX 24
#define CRYPTO_BOX_HDR_LEN 6
#define CRYPTO_BOX_OVERHEAD_MAX (CRYPTO_BOX_HDR_LEN + CRYPTO_NONCE_MAX + CRYPTO_TAG_LEN)
#define CRYPTO_SIG_MAX 80          /* Ed25519 64, SM2 DER <= 72 */
#define CRYPTO_PUB_MAX 65          /* Ed25519 32, SM2 uncompressed point 65 */
#define CRYPTO_SEC_MAX 64          /* Ed25519 secret 64, SM2 scalar 32 */
#define CRYPTO_AAD_MAX 512

/* Initialise libsodium/libgcrypt and select the suite.  0 or BW_ECRYPTO. */
int bwc_init(enum bwc_suite suite);
enum bwc_suite bwc_suite(void);
const char *bwc_suite_name(enum bwc_suite s);   /* "intl" / "gm" */
int bwc_suite_parse(const char *name, enum bwc_suite *out);

/* Cryptographically secure random bytes. */
void bwc_random(void *buf, size_t n);

/* Hash and HMAC of the selected suite; out is CRYPTO_HASH_LEN bytes. */
void bwc_hash(const void *msg, size_t n, uint8_t out[CRYPTO_HASH_LEN]);
struct bwc_hash_ctx { uint8_t opaque[512]; };
void bwc_hash_init(struct bwc_hash_ctx *c);
void bwc_hash_update(struct bwc_hash_ctx *c, const void *p, size_t n);
void bwc_hash_final(struct bwc_hash_ctx *c, uint8_t out[CRYPTO_HASH_LEN]);
void bwc_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *msg, size_t n,
                 uint8_t out[CRYPTO_HASH_LEN]);

/* Builds associated data "bw1" ‖ len-prefixed tenant, table, row, column into
 * out (capacity CRYPTO_AAD_MAX); returns its length, or BW_ETOOBIG. */
int bwc_aad(uint8_t *out, int64_t tenant_id, const char *table,
               int64_t row_id, const char *column);

/* Size of the box for a plaintext of n bytes under the selected suite. */
size_t bwc_box_len(size_t n);
/* Seal: out must hold bwc_box_len(n) bytes.  Random nonce. */
int bwc_box_seal(const uint8_t key[CRYPTO_KEY_LEN], uint32_t key_version,
                    const uint8_t *aad, size_t aad_len,
                    const void *pt, size_t n, uint8_t *out);
/* Parse the header only: key version and plaintext length.  BW_EINVAL when
 * the box is malformed or of another suite. */
int bwc_box_peek(const uint8_t *box, size_t box_len, uint32_t *key_version,
                    size_t *pt_len);
/* Open: out must hold the plaintext length from bwc_box_peek().
 * BW_ECRYPTO when the tag, key or associated data do not match. */
int bwc_box_open(const uint8_t key[CRYPTO_KEY_LEN],
                    const uint8_t *aad, size_t aad_len,
                    const uint8_t *box, size_t box_len, uint8_t *out);

/* Signatures (audit checkpoints).  Lengths are suite-dependent. */
int bwc_sign_keygen(uint8_t *pub, size_t *pub_len, uint8_t *sec, size_t *sec_len);
int bwc_sign(const uint8_t *sec, size_t sec_len, const void *msg, size_t n,
                uint8_t *sig, size_t *sig_len);
/* 0 when valid, BW_ECRYPTO otherwise. */
int bwc_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                  const uint8_t *sig, size_t sig_len);

/* Argon2id password hashing (libsodium, both suites: no SM equivalent).
 * The encoded string is at most CRYPTO_PWHASH_MAX bytes incl. NUL. */
#define CRYPTO_PWHASH_MAX 128
int bwc_pwhash(const char *pw, size_t pw_len, char out[CRYPTO_PWHASH_MAX]);
/* 0 on match, BW_EAUTH on mismatch. */
int bwc_pwhash_verify(const char *encoded, const char *pw, size_t pw_len);

#endif
