/*
 * crypto.c — the two cryptographic suites behind one interface, and the
 * sealed-box format used for every encrypted field.
 *
 *   intl: XChaCha20-Poly1305 (libsodium), SHA-256, HMAC-SHA-256, Ed25519
 *   gm:   SM4-GCM (libgcrypt), SM3, HMAC-SM3 (libgcrypt), SM2-with-SM3
 *         (OpenSSL 3, distinguishing ID "1234567812345678")
 *   both: Argon2id password hashing (libsodium; there is no SM equivalent)
 *
 * Requirements served: PS-CRY (SM2/SM3/SM4 offered as a complete suite),
 * WC-STORE / RG-IM-a / RG-DOC-a / RG-MEET-c / PS-PI-h (fields stored
 * encrypted, the box records the data-key version that sealed it so per-tenant
 * keys can rotate), PS-COM-b (integrity: every box is authenticated and bound
 * to its place), PS-LOG-c (signatures for audit checkpoints), PS-IA-b
 * (credentials stored only as Argon2id hashes).
 *
 * Invariants:
 * - The active suite is set only by bwc_init(); every other function acts
 *   under the suite active when it is called.  Calling a suite-dependent
 *   function before bwc_init() is a programming error and aborts.
 * - Sealed box (big-endian): version(1) ‖ suite(1) ‖ key version(4) ‖ nonce
 *   (24 intl / 12 gm) ‖ ciphertext ‖ tag(16).  The AEAD associated data is the
 *   6-byte header followed by the caller's AAD, so the version, suite and key
 *   version are authenticated too: changing any byte of a box makes it fail
 *   to open.  Nonces are random: 192-bit for XChaCha20; 96-bit for SM4-GCM,
 *   which limits one data key to 2^32 seals (NIST SP 800-38D §8.3) — key
 *   rotation (keys module) must happen well before that.
 * - SM4 takes a 128-bit key: the gm suite uses the first 16 bytes of
 *   HMAC-SM3(data key, "bulwark box sm4-gcm v1"), so every bit of the 32-byte
 *   data key matters (plain truncation would let two keys that differ only in
 *   their second half open each other's boxes) and the box key is separated
 *   from any other use of the data key.
 * - A box that fails to open leaves the output buffer zeroed; nothing here
 *   reads outside the lengths it was given (the fuzz target checks this).
 * - Secrets (private keys, SM2 scalars, copies of hash state) held in local
 *   buffers are wiped with sodium_memzero before return; libsodium, libgcrypt
 *   and OpenSSL wipe their own contexts on free.
 * - libgcrypt secure memory is disabled: it is a small fixed mlock()ed pool
 *   that needs privileges and runs out under concurrency, and our keys live in
 *   caller buffers anyway; libgcrypt wipes cipher and digest contexts when
 *   they are closed.
 *
 * Memory: nothing here allocates memory that outlives a call, except the gm
 * incremental hash: bwc_hash_init() opens a libgcrypt digest handle stored
 * inside struct bwc_hash_ctx and bwc_hash_final() releases it — every
 * bwc_hash_init() must be paired with exactly one bwc_hash_final(), and
 * a ctx must not be copied.  Allocation failure inside the void hash/HMAC
 * functions aborts (they cannot report it; see crypto_oom()).
 *
 * Thread safety: bwc_init() must run before other threads use this module
 * (tests may call it again to switch suites while single-threaded); every
 * other function is safe to call concurrently.
 */
#include "crypto.h"
#include "util.h"

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
/* Only the libsodium headers of the primitives used here.  (Our API is
 * prefixed bwc_ so it cannot collide with libsodium's generic crypto_*.) */
#include <sodium/core.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>
#include <sodium/crypto_auth_hmacsha256.h>
#include <sodium/crypto_hash_sha256.h>
#include <sodium/crypto_pwhash_argon2id.h>
#include <sodium/crypto_sign_ed25519.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

#define CRYPTO_BOX_VERSION 1
#define CRYPTO_NONCE_INTL crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define CRYPTO_NONCE_GM 12
#define CRYPTO_SM4_KEY_LEN 16
static const char crypto_sm4_label[] = "bulwark box sm4-gcm v1";
/* GCM limit on one message: 2^39 - 256 bits (NIST SP 800-38D §5.2.1.1). */
#define CRYPTO_GCM_PT_MAX ((((uint64_t)1) << 36) - 32u)

#define CRYPTO_ED25519_PUB_LEN crypto_sign_ed25519_PUBLICKEYBYTES
#define CRYPTO_ED25519_SEC_LEN crypto_sign_ed25519_SECRETKEYBYTES
#define CRYPTO_ED25519_SIG_LEN crypto_sign_ed25519_BYTES
#define CRYPTO_SM2_PUB_LEN 65      /* 0x04 ‖ x ‖ y */
#define CRYPTO_SM2_SEC_LEN 32
#define CRYPTO_SM2_SIG_DER_MAX 72  /* SEQUENCE { INTEGER r, INTEGER s } */
/* GB/T 32918.2 / GM/T 0009 default distinguishing identifier. */
static const char crypto_sm2_id[] = "1234567812345678";

/* Argon2id at the OWASP minimum: m = 19 MiB (19456 KiB), t = 2, p = 1. */
#define CRYPTO_PWHASH_OPSLIMIT 2u
#define CRYPTO_PWHASH_MEMLIMIT (19u * 1024u * 1024u)
/* Longest password accepted (bytes); anything longer cannot match. */
#define CRYPTO_PW_MAX 4096u
/* Bounds on parameters read back from an encoded hash, so a hash from an
 * import or a damaged store cannot make verification allocate gigabytes. */
#define CRYPTO_PWHASH_VERIFY_M_KIB_MAX (256u * 1024u)
#define CRYPTO_PWHASH_VERIFY_T_MAX 16u
#define CRYPTO_PWHASH_VERIFY_P_MAX 4u

static_assert(CRYPTO_NONCE_INTL == CRYPTO_NONCE_MAX, "intl nonce is the maximum");
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == CRYPTO_KEY_LEN, "key size");
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == CRYPTO_TAG_LEN, "tag size");
static_assert(crypto_hash_sha256_BYTES == CRYPTO_HASH_LEN, "hash size");
static_assert(crypto_auth_hmacsha256_KEYBYTES == CRYPTO_KEY_LEN, "hmac key size");
static_assert(crypto_auth_hmacsha256_BYTES == CRYPTO_HASH_LEN, "hmac size");
static_assert(crypto_pwhash_argon2id_STRBYTES == CRYPTO_PWHASH_MAX, "pwhash string size");
static_assert(CRYPTO_ED25519_PUB_LEN <= CRYPTO_PUB_MAX && CRYPTO_SM2_PUB_LEN <= CRYPTO_PUB_MAX,
              "public key size");
static_assert(CRYPTO_ED25519_SEC_LEN <= CRYPTO_SEC_MAX && CRYPTO_SM2_SEC_LEN <= CRYPTO_SEC_MAX,
              "secret key size");
static_assert(CRYPTO_ED25519_SIG_LEN <= CRYPTO_SIG_MAX && CRYPTO_SM2_SIG_DER_MAX <= CRYPTO_SIG_MAX,
              "signature size");
static_assert(CRYPTO_AAD_MAX <= INT_MAX, "bwc_aad returns the length as int");

/* ---- initialisation ---------------------------------------------------- */

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_lib_status = BW_ECRYPTO;  /* written once, inside crypto_once */
static bool crypto_gm_available;            /* idem */
static atomic_int crypto_active;            /* 0 until bwc_init() succeeds */

/* Broken invariant (misuse by the caller): log and abort. */
static _Noreturn void crypto_misuse(const char *what)
{
	log_err("crypto: misuse: %s", what);
	abort();
}

/* Allocation failure in a function that cannot report it (void API). */
static _Noreturn void crypto_oom(const char *what)
{
	log_err("crypto: out of memory in %s", what);
	abort();
}

/* Whether this libgcrypt/OpenSSL build provides everything the gm suite
 * needs.  Frees what it fetched. */
static bool crypto_gm_probe(void)
{
	bool ok = gcry_cipher_test_algo(GCRY_CIPHER_SM4) == 0 &&
	          gcry_md_test_algo(GCRY_MD_SM3) == 0;
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_MD *md = EVP_MD_fetch(NULL, "SM3", NULL);
	ok = ok && pctx != NULL && md != NULL;
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_free(md);
	ERR_clear_error();
	return ok;
}

/* Runs once per process (pthread_once): libsodium, then libgcrypt.  If the
 * application already finished libgcrypt's initialisation we leave its
 * settings alone. */
static EVP_MD *crypto_sha256_md;   /* one-shot SHA-256 (OpenSSL), set once */

static void crypto_lib_init(void)
{
	if (sodium_init() < 0) {
		log_err("crypto: sodium_init failed");
		return;
	}
	/* gcry_check_version must be the first libgcrypt call. */
	if (gcry_check_version(GCRYPT_VERSION) == NULL) {
		log_err("crypto: libgcrypt %s is older than the %s we were built with",
		        gcry_check_version(NULL), GCRYPT_VERSION);
		return;
	}
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	crypto_gm_available = crypto_gm_probe();
	/* OpenSSL's SHA-256 uses the CPU's SHA extensions where present (about
	 * 2x libsodium's portable code): fetched once for one-shot hashing */
	crypto_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	crypto_lib_status = 0;
}

int bwc_init(enum bwc_suite suite)
{
	if (suite != CRYPTO_SUITE_INTL && suite != CRYPTO_SUITE_GM)
		return BW_EINVAL;
	if (pthread_once(&crypto_once, crypto_lib_init) != 0 || crypto_lib_status != 0)
		return BW_ECRYPTO;
	if (suite == CRYPTO_SUITE_GM && !crypto_gm_available) {
		log_err("crypto: the gm suite needs SM4/SM3 in libgcrypt and SM2/SM3 in OpenSSL");
		return BW_ECRYPTO;
	}
	atomic_store(&crypto_active, (int)suite);
	return 0;
}

enum bwc_suite bwc_suite(void)
{
	return (enum bwc_suite)atomic_load(&crypto_active);
}

/* The active suite; aborts when bwc_init() has not succeeded. */
static enum bwc_suite crypto_cur(void)
{
	int s = atomic_load(&crypto_active);
	if (s != CRYPTO_SUITE_INTL && s != CRYPTO_SUITE_GM)
		crypto_misuse("used before bwc_init()");
	return (enum bwc_suite)s;
}

const char *bwc_suite_name(enum bwc_suite s)
{
	switch (s) {
	case CRYPTO_SUITE_INTL: return "intl";
	case CRYPTO_SUITE_GM: return "gm";
	}
	return "unknown";
}

int bwc_suite_parse(const char *name, enum bwc_suite *out)
{
	if (name == NULL || out == NULL)
		return BW_EINVAL;
	if (strcmp(name, "intl") == 0)
		*out = CRYPTO_SUITE_INTL;
	else if (strcmp(name, "gm") == 0)
		*out = CRYPTO_SUITE_GM;
	else
		return BW_EINVAL;
	return 0;
}

/* ---- random, hash, HMAC ------------------------------------------------- */

/* libsodium's CSPRNG (getrandom(2)); usable before bwc_init(). */
void bwc_random(void *buf, size_t n)
{
	if (n == 0)
		return;
	if (buf == NULL)
		crypto_misuse("bwc_random(NULL)");
	randombytes_buf(buf, n);
}

/* A non-NULL pointer for zero-length inputs (some APIs reject NULL). */
static const uint8_t crypto_empty[1];

static const void *crypto_nonnull(const void *p, size_t n, const char *what)
{
	if (p != NULL)
		return p;
	if (n != 0)
		crypto_misuse(what);
	return crypto_empty;
}

void bwc_hash(const void *msg, size_t n, uint8_t out[CRYPTO_HASH_LEN])
{
	enum bwc_suite s = crypto_cur();
	msg = crypto_nonnull(msg, n, "bwc_hash(NULL, n > 0)");
	if (out == NULL)
		crypto_misuse("bwc_hash(out = NULL)");
	if (s == CRYPTO_SUITE_INTL) {
		if (crypto_sha256_md == NULL ||
		    EVP_Digest(msg, n, out, NULL, crypto_sha256_md, NULL) != 1)
			crypto_hash_sha256(out, msg, n);   /* same function, portable code */
	} else {
		gcry_md_hash_buffer(GCRY_MD_SM3, out, msg, n);
	}
}

/* What struct bwc_hash_ctx holds.  It is copied in and out with memcpy
 * (the opaque array has no alignment guarantee) and the copy wiped. */
#define CRYPTO_HASH_MAGIC 0x42574843u  /* "BWHC" */
struct crypto_hash_state {
	uint32_t magic;
	uint32_t suite;
	union {
		crypto_hash_sha256_state sha256;
		gcry_md_hd_t sm3;  /* owned: closed by bwc_hash_final() */
	} u;
};
static_assert(sizeof(struct crypto_hash_state) <= sizeof(((struct bwc_hash_ctx *)0)->opaque),
              "hash state fits the opaque context");

static void crypto_hash_load(const struct bwc_hash_ctx *c, struct crypto_hash_state *st)
{
	if (c == NULL)
		crypto_misuse("hash ctx NULL");
	memcpy(st, c->opaque, sizeof *st);
	if (st->magic != CRYPTO_HASH_MAGIC ||
	    (st->suite != CRYPTO_SUITE_INTL && st->suite != CRYPTO_SUITE_GM))
		crypto_misuse("hash ctx not initialised (or already finalised)");
}

/* Starts a hash under the active suite.  gm: allocates a libgcrypt handle
 * that bwc_hash_final() releases (abort on allocation failure). */
void bwc_hash_init(struct bwc_hash_ctx *c)
{
	struct crypto_hash_state st;
	enum bwc_suite s = crypto_cur();

	if (c == NULL)
		crypto_misuse("bwc_hash_init(NULL)");
	memset(&st, 0, sizeof st);
	st.magic = CRYPTO_HASH_MAGIC;
	st.suite = (uint32_t)s;
	if (s == CRYPTO_SUITE_INTL) {
		crypto_hash_sha256_init(&st.u.sha256);
	} else if (gcry_md_open(&st.u.sm3, GCRY_MD_SM3, 0) != 0) {
		crypto_oom("bwc_hash_init");
	}
	memset(c->opaque, 0, sizeof c->opaque);
	memcpy(c->opaque, &st, sizeof st);
	sodium_memzero(&st, sizeof st);
}

void bwc_hash_update(struct bwc_hash_ctx *c, const void *p, size_t n)
{
	struct crypto_hash_state st;

	crypto_hash_load(c, &st);
	p = crypto_nonnull(p, n, "bwc_hash_update(NULL, n > 0)");
	if (st.suite == CRYPTO_SUITE_INTL) {
		crypto_hash_sha256_update(&st.u.sha256, p, n);
		memcpy(c->opaque, &st, sizeof st);
	} else {
		gcry_md_write(st.u.sm3, p, n);
	}
	sodium_memzero(&st, sizeof st);
}

/* Writes the digest, releases the gm handle and wipes the ctx; the ctx must
 * be initialised again before reuse. */
void bwc_hash_final(struct bwc_hash_ctx *c, uint8_t out[CRYPTO_HASH_LEN])
{
	struct crypto_hash_state st;

	crypto_hash_load(c, &st);
	if (out == NULL)
		crypto_misuse("bwc_hash_final(out = NULL)");
	if (st.suite == CRYPTO_SUITE_INTL) {
		crypto_hash_sha256_final(&st.u.sha256, out);
	} else {
		const unsigned char *d = gcry_md_read(st.u.sm3, GCRY_MD_SM3);
		if (d == NULL)
			crypto_misuse("SM3 digest unavailable");
		memcpy(out, d, CRYPTO_HASH_LEN);
		gcry_md_close(st.u.sm3);
	}
	sodium_memzero(&st, sizeof st);
	sodium_memzero(c->opaque, sizeof c->opaque);
}

void bwc_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *msg, size_t n,
                 uint8_t out[CRYPTO_HASH_LEN])
{
	enum bwc_suite s = crypto_cur();

	if (key == NULL || out == NULL)
		crypto_misuse("bwc_hmac(key or out NULL)");
	msg = crypto_nonnull(msg, n, "bwc_hmac(NULL, n > 0)");
	if (s == CRYPTO_SUITE_INTL) {
		/* libsodium wipes its HMAC state in _final. */
		crypto_auth_hmacsha256(out, msg, n, key);
	} else {
		/* With GCRY_MD_FLAG_HMAC the first buffer is the key; libgcrypt
		 * only reads the buffers (the casts drop const for its API). */
		gcry_buffer_t iov[2];
		memset(iov, 0, sizeof iov);
		iov[0].data = (void *)key;
		iov[0].len = CRYPTO_KEY_LEN;
		iov[1].data = (void *)msg;
		iov[1].len = n;
		if (gcry_md_hash_buffers(GCRY_MD_SM3, GCRY_MD_FLAG_HMAC, out, iov, 2) != 0)
			crypto_oom("bwc_hmac");
	}
}

/* ---- associated data ---------------------------------------------------- */

static void crypto_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void crypto_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void crypto_put_be64(uint8_t *p, uint64_t v)
{
	crypto_put_be32(p, (uint32_t)(v >> 32));
	crypto_put_be32(p + 4, (uint32_t)v);
}

static uint32_t crypto_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "bw1" ‖ tenant (8, two's complement BE) ‖ u16 len ‖ table ‖ row (8 BE) ‖
 * u16 len ‖ column.  Length prefixes make the encoding injective.  Writes
 * out only on success; BW_EINVAL on NULL arguments. */
int bwc_aad(uint8_t *out, int64_t tenant_id, const char *table,
               int64_t row_id, const char *column)
{
	static const uint8_t tag[3] = { 'b', 'w', '1' };

	if (out == NULL || table == NULL || column == NULL)
		return BW_EINVAL;
	/* strnlen bounds the scan; either name alone past the maximum is too big. */
	size_t tl = strnlen(table, CRYPTO_AAD_MAX + 1);
	size_t cl = strnlen(column, CRYPTO_AAD_MAX + 1);
	size_t fixed = sizeof tag + 8 + 2 + 8 + 2;
	if (tl > CRYPTO_AAD_MAX || cl > CRYPTO_AAD_MAX || fixed + tl + cl > CRYPTO_AAD_MAX)
		return BW_ETOOBIG;

	uint8_t *p = out;
	memcpy(p, tag, sizeof tag);
	p += sizeof tag;
	crypto_put_be64(p, (uint64_t)tenant_id);
	p += 8;
	crypto_put_be16(p, (uint16_t)tl);
	p += 2;
	memcpy(p, table, tl);
	p += tl;
	crypto_put_be64(p, (uint64_t)row_id);
	p += 8;
	crypto_put_be16(p, (uint16_t)cl);
	p += 2;
	memcpy(p, column, cl);
	p += cl;
	return (int)(p - out);
}

/* ---- sealed boxes ------------------------------------------------------- */

static size_t crypto_nonce_len(enum bwc_suite s)
{
	return s == CRYPTO_SUITE_GM ? CRYPTO_NONCE_GM : CRYPTO_NONCE_INTL;
}

static size_t crypto_box_overhead(enum bwc_suite s)
{
	return CRYPTO_BOX_HDR_LEN + crypto_nonce_len(s) + CRYPTO_TAG_LEN;
}

/* Largest plaintext the suite's AEAD accepts in one box. */
static uint64_t crypto_box_pt_max(enum bwc_suite s)
{
	uint64_t aead = s == CRYPTO_SUITE_GM
		? CRYPTO_GCM_PT_MAX
		: (uint64_t)crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX;
	uint64_t fit = (uint64_t)(SIZE_MAX - crypto_box_overhead(s));
	return aead < fit ? aead : fit;
}

/* SIZE_MAX when n is beyond what one box can hold (seal then fails with
 * BW_ETOOBIG, and an allocation of SIZE_MAX fails first). */
size_t bwc_box_len(size_t n)
{
	enum bwc_suite s = crypto_cur();
	if ((uint64_t)n > crypto_box_pt_max(s))
		return SIZE_MAX;
	return n + crypto_box_overhead(s);
}

/* AEAD associated data: box header ‖ caller AAD (aad_len <= CRYPTO_AAD_MAX). */
struct crypto_ad {
	uint8_t b[CRYPTO_BOX_HDR_LEN + CRYPTO_AAD_MAX];
	size_t len;
};

static void crypto_ad_build(struct crypto_ad *ad, const uint8_t hdr[CRYPTO_BOX_HDR_LEN],
                            const uint8_t *aad, size_t aad_len)
{
	memcpy(ad->b, hdr, CRYPTO_BOX_HDR_LEN);
	if (aad_len > 0)
		memcpy(ad->b + CRYPTO_BOX_HDR_LEN, aad, aad_len);
	ad->len = CRYPTO_BOX_HDR_LEN + aad_len;
}

/* The SM4 key for a 32-byte data key (see the header comment); wiped by the
 * caller. */
static int crypto_sm4_key(const uint8_t key[CRYPTO_KEY_LEN], uint8_t k16[CRYPTO_SM4_KEY_LEN])
{
	uint8_t full[CRYPTO_HASH_LEN];
	gcry_buffer_t iov[2];

	memset(iov, 0, sizeof iov);
	iov[0].data = (void *)key;
	iov[0].len = CRYPTO_KEY_LEN;
	iov[1].data = (void *)crypto_sm4_label;
	iov[1].len = sizeof crypto_sm4_label - 1;
	if (gcry_md_hash_buffers(GCRY_MD_SM3, GCRY_MD_FLAG_HMAC, full, iov, 2) != 0)
		return BW_ENOMEM;
	memcpy(k16, full, CRYPTO_SM4_KEY_LEN);
	sodium_memzero(full, sizeof full);
	return 0;
}

/* SM4-GCM through libgcrypt.  Encrypt (tag_in NULL): in → out, tag written
 * to tag_out.  Decrypt (tag_in set): in → out, tag_in checked (constant time,
 * by libgcrypt); on a bad tag out is wiped and BW_ECRYPTO returned.  in and
 * out hold n bytes; the handle (which holds the key schedule) is wiped by
 * gcry_cipher_close. */
static int crypto_sm4_gcm(const uint8_t key[CRYPTO_KEY_LEN],
                          const uint8_t nonce[CRYPTO_NONCE_GM],
                          const struct crypto_ad *ad, const uint8_t *in, size_t n,
                          uint8_t *out, uint8_t *tag_out, const uint8_t *tag_in)
{
	bool encrypt = tag_in == NULL;
	uint8_t k16[CRYPTO_SM4_KEY_LEN];
	gcry_cipher_hd_t h;
	gcry_error_t err;
	int rc;

	rc = crypto_sm4_key(key, k16);
	if (rc != 0)
		goto wipe;
	err = gcry_cipher_open(&h, GCRY_CIPHER_SM4, GCRY_CIPHER_MODE_GCM, 0);
	if (err != 0) {
		rc = gcry_err_code(err) == GPG_ERR_ENOMEM ? BW_ENOMEM : BW_ECRYPTO;
		goto wipe;
	}
	rc = BW_ECRYPTO;
	if (gcry_cipher_setkey(h, k16, sizeof k16) != 0 ||
	    gcry_cipher_setiv(h, nonce, CRYPTO_NONCE_GM) != 0 ||
	    gcry_cipher_authenticate(h, ad->b, ad->len) != 0)
		goto out;
	if (n > 0) {
		err = encrypt ? gcry_cipher_encrypt(h, out, n, in, n)
		              : gcry_cipher_decrypt(h, out, n, in, n);
		if (err != 0)
			goto out;
	}
	if (encrypt)
		err = gcry_cipher_gettag(h, tag_out, CRYPTO_TAG_LEN);
	else
		err = gcry_cipher_checktag(h, tag_in, CRYPTO_TAG_LEN);
	if (err == 0)
		rc = 0;
out:
	gcry_cipher_close(h);
wipe:
	sodium_memzero(k16, sizeof k16);
	if (rc != 0 && !encrypt && n > 0)
		sodium_memzero(out, n);
	return rc;
}

/* out (bwc_box_len(n) bytes) must not overlap pt.  On failure out is
 * wiped.  BW_EINVAL for NULL arguments, BW_ETOOBIG for aad_len over
 * CRYPTO_AAD_MAX or a plaintext too long for one box. */
int bwc_box_seal(const uint8_t key[CRYPTO_KEY_LEN], uint32_t key_version,
                    const uint8_t *aad, size_t aad_len,
                    const void *pt, size_t n, uint8_t *out)
{
	enum bwc_suite s = crypto_cur();
	struct crypto_ad ad;
	int rc = 0;

	if (key == NULL || out == NULL || (pt == NULL && n > 0) || (aad == NULL && aad_len > 0))
		return BW_EINVAL;
	if (aad_len > CRYPTO_AAD_MAX || (uint64_t)n > crypto_box_pt_max(s))
		return BW_ETOOBIG;
	pt = crypto_nonnull(pt, n, "seal");

	size_t nl = crypto_nonce_len(s);
	uint8_t *nonce = out + CRYPTO_BOX_HDR_LEN;
	uint8_t *ct = nonce + nl;
	uint8_t *tag = ct + n;

	out[0] = CRYPTO_BOX_VERSION;
	out[1] = (uint8_t)s;
	crypto_put_be32(out + 2, key_version);
	bwc_random(nonce, nl);
	crypto_ad_build(&ad, out, aad, aad_len);

	if (s == CRYPTO_SUITE_INTL) {
		if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			    ct, tag, NULL, pt, n, ad.b, ad.len, NULL, nonce, key) != 0)
			rc = BW_ECRYPTO;
	} else {
		rc = crypto_sm4_gcm(key, nonce, &ad, pt, n, ct, tag, NULL);
	}
	if (rc != 0)
		sodium_memzero(out, n + crypto_box_overhead(s));
	return rc;
}

/* Header checks shared by peek and open; reads only box[0 .. box_len). */
static int crypto_box_parse(enum bwc_suite s, const uint8_t *box, size_t box_len,
                            uint32_t *key_version, size_t *pt_len)
{
	if (box == NULL || box_len < crypto_box_overhead(s))
		return BW_EINVAL;
	if (box[0] != CRYPTO_BOX_VERSION || box[1] != (uint8_t)s)
		return BW_EINVAL;
	*key_version = crypto_get_be32(box + 2);
	*pt_len = box_len - crypto_box_overhead(s);
	return 0;
}

/* Either out-pointer may be NULL when the caller does not need it. */
int bwc_box_peek(const uint8_t *box, size_t box_len, uint32_t *key_version,
                    size_t *pt_len)
{
	uint32_t kv;
	size_t n;
	int rc = crypto_box_parse(crypto_cur(), box, box_len, &kv, &n);
	if (rc != 0)
		return rc;
	if (key_version != NULL)
		*key_version = kv;
	if (pt_len != NULL)
		*pt_len = n;
	return 0;
}

/* out holds the plaintext length bwc_box_peek() reports (may be NULL when
 * that is 0) and must not overlap box.  BW_EINVAL for a malformed box or one
 * of another suite, BW_ETOOBIG for aad_len over CRYPTO_AAD_MAX, BW_ECRYPTO
 * when the tag, key or associated data do not match (out is then zeroed). */
int bwc_box_open(const uint8_t key[CRYPTO_KEY_LEN],
                    const uint8_t *aad, size_t aad_len,
                    const uint8_t *box, size_t box_len, uint8_t *out)
{
	enum bwc_suite s = crypto_cur();
	struct crypto_ad ad;
	uint32_t kv;
	size_t n;
	int rc;

	if (key == NULL || (aad == NULL && aad_len > 0))
		return BW_EINVAL;
	if (aad_len > CRYPTO_AAD_MAX)
		return BW_ETOOBIG;
	rc = crypto_box_parse(s, box, box_len, &kv, &n);
	if (rc != 0)
		return rc;
	if (out == NULL && n > 0)
		return BW_EINVAL;

	size_t nl = crypto_nonce_len(s);
	const uint8_t *nonce = box + CRYPTO_BOX_HDR_LEN;
	const uint8_t *ct = nonce + nl;
	const uint8_t *tag = ct + n;
	uint8_t dummy[1];
	uint8_t *dst = n > 0 ? out : dummy;

	crypto_ad_build(&ad, box, aad, aad_len);
	if (s == CRYPTO_SUITE_INTL) {
		/* Verifies the tag before writing anything. */
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			    dst, NULL, ct, n, tag, ad.b, ad.len, nonce, key) != 0)
			rc = BW_ECRYPTO;
	} else {
		rc = crypto_sm4_gcm(key, nonce, &ad, ct, n, dst, NULL, tag);
	}
	if (rc != 0 && n > 0)
		sodium_memzero(out, n);
	return rc;
}

/* ---- signatures: Ed25519 ------------------------------------------------ */

static int crypto_ed25519_sign(const uint8_t *sec, size_t sec_len, const void *msg, size_t n,
                               uint8_t *sig, size_t *sig_len)
{
	uint8_t pk[CRYPTO_ED25519_PUB_LEN], sk[CRYPTO_ED25519_SEC_LEN];
	unsigned long long l = 0;
	int rc = BW_EINVAL;

	if (sec_len != CRYPTO_ED25519_SEC_LEN)
		return BW_EINVAL;
	/* libsodium's secret key is seed ‖ public key, and signing trusts the
	 * public half.  Signing one message under two public keys with the same
	 * seed leaks the private scalar, so refuse a key whose halves disagree. */
	if (crypto_sign_ed25519_seed_keypair(pk, sk, sec) != 0 ||
	    sodium_memcmp(pk, sec + crypto_sign_ed25519_SEEDBYTES, sizeof pk) != 0)
		goto out;
	if (crypto_sign_ed25519_detached(sig, &l, msg, n, sk) != 0 || l != CRYPTO_ED25519_SIG_LEN) {
		rc = BW_ECRYPTO;
		goto out;
	}
	*sig_len = CRYPTO_ED25519_SIG_LEN;
	rc = 0;
out:
	sodium_memzero(sk, sizeof sk);
	return rc;
}

/* ---- signatures: SM2 with SM3 (OpenSSL 3) ------------------------------- */

/* Validates the SM2 scalar (1 <= d <= n-2, GB/T 32918.1) and derives the
 * uncompressed public point d·G into pub.  The range check matters beyond
 * form: with d = n-1, 1+d has no inverse mod n and OpenSSL 3.0's SM2 signing
 * loops forever (seen while mutation-testing this check).  All temporaries
 * freed here; BN_clear_free wipes the copy of d. */
static int crypto_sm2_pub_from_sec(const uint8_t sec[CRYPTO_SM2_SEC_LEN],
                                   uint8_t pub[CRYPTO_SM2_PUB_LEN])
{
	EC_GROUP *g = NULL;
	EC_POINT *q = NULL;
	BN_CTX *bctx = NULL;
	BIGNUM *d = NULL, *lim = NULL;
	int rc = BW_ENOMEM;

	g = EC_GROUP_new_by_curve_name(NID_sm2);
	q = g ? EC_POINT_new(g) : NULL;
	bctx = BN_CTX_secure_new();
	d = BN_secure_new();
	lim = g ? BN_dup(EC_GROUP_get0_order(g)) : NULL;
	if (g == NULL || q == NULL || bctx == NULL || d == NULL || lim == NULL)
		goto out;
	BN_set_flags(d, BN_FLG_CONSTTIME);
	if (BN_bin2bn(sec, CRYPTO_SM2_SEC_LEN, d) == NULL || !BN_sub_word(lim, 2))
		goto out;
	if (BN_is_zero(d) || BN_cmp(d, lim) > 0) {
		rc = BW_EINVAL;
		goto out;
	}
	rc = BW_ECRYPTO;
	if (!EC_POINT_mul(g, q, d, NULL, NULL, bctx) ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, CRYPTO_SM2_PUB_LEN,
	                       bctx) != CRYPTO_SM2_PUB_LEN)
		goto out;
	rc = 0;
out:
	BN_clear_free(d);
	BN_free(lim);
	BN_CTX_free(bctx);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	ERR_clear_error();
	return rc;
}

/* Builds an SM2 EVP_PKEY from the raw public point and, when sec is not
 * NULL, the private scalar.  *out is the caller's to EVP_PKEY_free().  The
 * parameter block holding the scalar lives in OpenSSL's secure heap and is
 * wiped by OSSL_PARAM_free. */
static int crypto_sm2_pkey(const uint8_t *sec, const uint8_t pub[CRYPTO_SM2_PUB_LEN],
                           EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	int rc = BW_ENOMEM;

	if (bld == NULL)
		goto out;
	if (sec != NULL) {
		d = BN_secure_new();
		if (d == NULL || BN_bin2bn(sec, CRYPTO_SM2_SEC_LEN, d) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
			goto out;
	}
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	                                      CRYPTO_SM2_PUB_LEN))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	if (params == NULL || ctx == NULL)
		goto out;
	/* Import decodes the point, which fails when it is not on the curve. */
	rc = BW_ECRYPTO;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, sec ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
	                      params) != 1)
		goto out;
	*out = pkey;
	pkey = NULL;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return rc;
}

/* One SM2-with-SM3 sign (sig != NULL: writes sig and *sig_len, capacity
 * CRYPTO_SIG_MAX) or verify (checks vsig) over msg, with the standard
 * distinguishing ID, through the EVP_MD_CTX + EVP_PKEY_CTX pattern of
 * EVP_PKEY-SM2(7).  Frees everything it creates; clears OpenSSL's error
 * queue so no stale error reaches the TLS code on this thread. */
static int crypto_sm2_digest_op(EVP_PKEY *pkey, const void *msg, size_t n,
                                uint8_t *sig, size_t *sig_len,
                                const uint8_t *vsig, size_t vsig_len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int rc = BW_ENOMEM;

	if (mctx == NULL || pctx == NULL)
		goto out;
	rc = BW_ECRYPTO;
	if (EVP_PKEY_CTX_set1_id(pctx, crypto_sm2_id, (int)strlen(crypto_sm2_id)) <= 0)
		goto out;
	/* mctx borrows pctx: we still free it, after mctx. */
	EVP_MD_CTX_set_pkey_ctx(mctx, pctx);
	if (sig != NULL) {
		uint8_t buf[CRYPTO_SIG_MAX];
		size_t l = sizeof buf;
		if (EVP_DigestSignInit(mctx, NULL, EVP_sm3(), NULL, pkey) != 1 ||
		    EVP_DigestSign(mctx, buf, &l, msg, n) != 1 || l == 0 ||
		    l > CRYPTO_SM2_SIG_DER_MAX)
			goto out;
		memcpy(sig, buf, l);
		*sig_len = l;
	} else {
		if (EVP_DigestVerifyInit(mctx, NULL, EVP_sm3(), NULL, pkey) != 1 ||
		    EVP_DigestVerify(mctx, vsig, vsig_len, msg, n) != 1)
			goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return rc;
}

static int crypto_sm2_keygen(uint8_t *pub, size_t *pub_len, uint8_t *sec, size_t *sec_len)
{
	uint8_t p[CRYPTO_SM2_PUB_LEN], d[CRYPTO_SM2_SEC_LEN];
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	BIGNUM *bn = NULL;
	size_t pl = 0;
	int rc = BW_ECRYPTO;

	if (pkey == NULL)
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
	    BN_bn2binpad(bn, d, sizeof d) != (int)sizeof d ||
	    EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, p, sizeof p, &pl) != 1 ||
	    pl != sizeof p || p[0] != 0x04)
		goto out;
	memcpy(pub, p, sizeof p);
	memcpy(sec, d, sizeof d);
	*pub_len = sizeof p;
	*sec_len = sizeof d;
	rc = 0;
out:
	sodium_memzero(d, sizeof d);
	BN_clear_free(bn);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

static int crypto_sm2_sign(const uint8_t *sec, size_t sec_len, const void *msg, size_t n,
                           uint8_t *sig, size_t *sig_len)
{
	uint8_t pub[CRYPTO_SM2_PUB_LEN];
	EVP_PKEY *pkey = NULL;
	int rc;

	if (sec_len != CRYPTO_SM2_SEC_LEN)
		return BW_EINVAL;
	/* SM2 signing hashes the signer's public key into Z, so derive it. */
	rc = crypto_sm2_pub_from_sec(sec, pub);
	if (rc == 0)
		rc = crypto_sm2_pkey(sec, pub, &pkey);
	if (rc == 0)
		rc = crypto_sm2_digest_op(pkey, msg, n, sig, sig_len, NULL, 0);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

static int crypto_sm2_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                             const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *chk = NULL;
	int rc;

	if (pub_len != CRYPTO_SM2_PUB_LEN || pub[0] != 0x04 || sig_len == 0 ||
	    sig_len > CRYPTO_SM2_SIG_DER_MAX)
		return BW_ECRYPTO;
	rc = crypto_sm2_pkey(NULL, pub, &pkey);
	if (rc != 0)
		goto out;
	/* Not the point at infinity, coordinates in range, on the curve
	 * (cofactor 1, so that is the whole public-key validation). */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (chk == NULL) {
		rc = BW_ENOMEM;
		goto out;
	}
	if (EVP_PKEY_public_check_quick(chk) != 1) {
		rc = BW_ECRYPTO;
		goto out;
	}
	/* OpenSSL accepts only strict DER without trailing bytes. */
	rc = crypto_sm2_digest_op(pkey, msg, n, NULL, NULL, sig, sig_len);
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return rc;
}

/* ---- signatures: dispatch ----------------------------------------------- */

/* pub must hold CRYPTO_PUB_MAX bytes and sec CRYPTO_SEC_MAX; *pub_len and
 * *sec_len are outputs only (intl 32/64, gm 65/32).  The caller wipes sec. */
int bwc_sign_keygen(uint8_t *pub, size_t *pub_len, uint8_t *sec, size_t *sec_len)
{
	enum bwc_suite s = crypto_cur();

	if (pub == NULL || pub_len == NULL || sec == NULL || sec_len == NULL)
		return BW_EINVAL;
	if (s == CRYPTO_SUITE_GM)
		return crypto_sm2_keygen(pub, pub_len, sec, sec_len);
	uint8_t pk[CRYPTO_ED25519_PUB_LEN], sk[CRYPTO_ED25519_SEC_LEN];
	if (crypto_sign_ed25519_keypair(pk, sk) != 0) {
		sodium_memzero(sk, sizeof sk);
		return BW_ECRYPTO;
	}
	memcpy(pub, pk, sizeof pk);
	memcpy(sec, sk, sizeof sk);
	sodium_memzero(sk, sizeof sk);
	*pub_len = sizeof pk;
	*sec_len = sizeof sk;
	return 0;
}

/* sig must hold CRYPTO_SIG_MAX bytes; *sig_len is an output (intl 64, gm
 * DER <= 72).  BW_EINVAL for a secret key of the wrong length or form. */
int bwc_sign(const uint8_t *sec, size_t sec_len, const void *msg, size_t n,
                uint8_t *sig, size_t *sig_len)
{
	enum bwc_suite s = crypto_cur();

	if (sec == NULL || sig == NULL || sig_len == NULL || (msg == NULL && n > 0))
		return BW_EINVAL;
	msg = crypto_nonnull(msg, n, "sign");
	if (s == CRYPTO_SUITE_GM)
		return crypto_sm2_sign(sec, sec_len, msg, n, sig, sig_len);
	return crypto_ed25519_sign(sec, sec_len, msg, n, sig, sig_len);
}

/* 0 only for a valid signature; BW_ECRYPTO for anything else (malformed key
 * or signature included), BW_ENOMEM if OpenSSL could not allocate. */
int bwc_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                  const uint8_t *sig, size_t sig_len)
{
	enum bwc_suite s = crypto_cur();

	if (pub == NULL || sig == NULL || (msg == NULL && n > 0))
		return BW_ECRYPTO;
	msg = crypto_nonnull(msg, n, "verify");
	if (s == CRYPTO_SUITE_GM)
		return crypto_sm2_verify(pub, pub_len, msg, n, sig, sig_len);
	if (pub_len != CRYPTO_ED25519_PUB_LEN || sig_len != CRYPTO_ED25519_SIG_LEN)
		return BW_ECRYPTO;
	/* libsodium 1.0.18 also rejects small-order keys and non-canonical S. */
	return crypto_sign_ed25519_verify_detached(sig, msg, n, pub) == 0 ? 0 : BW_ECRYPTO;
}

/* ---- Argon2id ------------------------------------------------------------ */

/* Writes the NUL-terminated encoded hash ("$argon2id$v=19$m=19456,t=2,p=1$…")
 * into out only on success.  BW_ETOOBIG for passwords over CRYPTO_PW_MAX
 * bytes, BW_ENOMEM when the 19 MiB work area cannot be allocated.  pw is
 * the caller's (not wiped here). */
int bwc_pwhash(const char *pw, size_t pw_len, char out[CRYPTO_PWHASH_MAX])
{
	char tmp[CRYPTO_PWHASH_MAX];

	if (out == NULL || (pw == NULL && pw_len > 0))
		return BW_EINVAL;
	if (pw_len > CRYPTO_PW_MAX)
		return BW_ETOOBIG;
	pw = crypto_nonnull(pw, pw_len, "pwhash");
	if (crypto_pwhash_argon2id_str(tmp, pw, pw_len, CRYPTO_PWHASH_OPSLIMIT,
	                               CRYPTO_PWHASH_MEMLIMIT) != 0)
		return BW_ENOMEM;
	memcpy(out, tmp, sizeof tmp);
	return 0;
}

/* Reads a decimal number of at most 10 digits at *p (advancing it). */
static bool crypto_parse_u32(const char **p, uint32_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 10) {
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || v > UINT32_MAX || (**p >= '0' && **p <= '9'))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Accepts only "$argon2id$v=19$m=M,t=T,p=P$" with parameters under the
 * verification bounds; libsodium checks the rest of the string. */
static bool crypto_pwhash_params_ok(const char *s)
{
	static const char head[] = "$argon2id$v=19$m=";
	uint32_t m, t, p;

	if (strncmp(s, head, sizeof head - 1) != 0)
		return false;
	s += sizeof head - 1;
	if (!crypto_parse_u32(&s, &m) || strncmp(s, ",t=", 3) != 0)
		return false;
	s += 3;
	if (!crypto_parse_u32(&s, &t) || strncmp(s, ",p=", 3) != 0)
		return false;
	s += 3;
	if (!crypto_parse_u32(&s, &p) || *s != '$')
		return false;
	return m <= CRYPTO_PWHASH_VERIFY_M_KIB_MAX && t >= 1 && t <= CRYPTO_PWHASH_VERIFY_T_MAX &&
	       p >= 1 && p <= CRYPTO_PWHASH_VERIFY_P_MAX;
}

/* 0 on match, BW_EAUTH on mismatch (or if the work area cannot be
 * allocated: fail closed), BW_EINVAL when encoded is not a well-formed
 * Argon2id string of at most CRYPTO_PWHASH_MAX bytes incl. NUL or asks for
 * parameters beyond the verification bounds. */
int bwc_pwhash_verify(const char *encoded, const char *pw, size_t pw_len)
{
	char buf[CRYPTO_PWHASH_MAX];

	if (encoded == NULL || (pw == NULL && pw_len > 0))
		return BW_EINVAL;
	size_t el = strnlen(encoded, sizeof buf);
	if (el == sizeof buf)
		return BW_EINVAL;
	/* libsodium's prototype takes a 128-byte array: give it one. */
	memset(buf, 0, sizeof buf);
	memcpy(buf, encoded, el);
	if (!crypto_pwhash_params_ok(buf) ||
	    crypto_pwhash_argon2id_str_needs_rehash(buf, CRYPTO_PWHASH_OPSLIMIT,
	                                            CRYPTO_PWHASH_MEMLIMIT) < 0)
		return BW_EINVAL;
	if (pw_len > CRYPTO_PW_MAX)
		return BW_EAUTH;
	pw = crypto_nonnull(pw, pw_len, "pwhash_verify");
	return crypto_pwhash_argon2id_str_verify(buf, pw, pw_len) == 0 ? 0 : BW_EAUTH;
}
