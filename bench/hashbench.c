/*
 * hashbench.c — per-hash cost of the hash implementations available for the
 * audit chain (PS-LOG-c; design.md "Budgets": verify >= 1,000,000
 * records/s), for a 300-byte message, the size of a typical canonical audit
 * record.  A diagnostic for BENCHMARKS.md, not run by bench/run.sh:
 *
 *   cc -O2 -o /tmp/hashbench bench/hashbench.c \
 *      $(pkg-config --cflags --libs openssl libsodium libgcrypt) && /tmp/hashbench
 *
 * Bounded: 500,000 hashes per implementation.
 */
#include <gcrypt.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#define HB_ITERS 500000
#define HB_MSG_LEN 300

static double hb_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void hb_report(const char *name, double t0)
{
	printf("%-44s %.3f us/hash\n", name, (hb_now() - t0) / HB_ITERS * 1e6);
}

int main(void)
{
	if (!gcry_check_version(NULL) || sodium_init() < 0)
		return 1;
	unsigned char msg[HB_MSG_LEN] = { 1 }, out[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD *sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!sha256 || !ctx)
		return 1;
	double t0;

	t0 = hb_now();
	for (int i = 0; i < HB_ITERS; i++) {
		msg[0] = (unsigned char)i;
		crypto_hash_sha256(out, msg, sizeof msg);
	}
	hb_report("libsodium crypto_hash_sha256", t0);

	t0 = hb_now();
	for (int i = 0; i < HB_ITERS; i++) {
		msg[0] = (unsigned char)i;
		EVP_DigestInit_ex2(ctx, sha256, NULL);
		EVP_DigestUpdate(ctx, msg, sizeof msg);
		EVP_DigestFinal_ex(ctx, out, &len);
	}
	hb_report("OpenSSL SHA-256, reused EVP_MD_CTX", t0);

	t0 = hb_now();
	for (int i = 0; i < HB_ITERS; i++) {
		msg[0] = (unsigned char)i;
		EVP_Digest(msg, sizeof msg, out, &len, sha256, NULL);
	}
	hb_report("OpenSSL SHA-256, EVP_Digest, pre-fetched MD", t0);

	t0 = hb_now();
	for (int i = 0; i < HB_ITERS; i++) {
		msg[0] = (unsigned char)i;
		EVP_Digest(msg, sizeof msg, out, &len, EVP_sha256(), NULL);
	}
	hb_report("OpenSSL SHA-256, EVP_Digest(EVP_sha256())", t0);

	t0 = hb_now();
	for (int i = 0; i < HB_ITERS; i++) {
		msg[0] = (unsigned char)i;
		gcry_md_hash_buffer(GCRY_MD_SM3, out, msg, sizeof msg);
	}
	hb_report("libgcrypt SM3, gcry_md_hash_buffer", t0);

	if (sm3) {
		t0 = hb_now();
		for (int i = 0; i < HB_ITERS; i++) {
			msg[0] = (unsigned char)i;
			EVP_DigestInit_ex2(ctx, sm3, NULL);
			EVP_DigestUpdate(ctx, msg, sizeof msg);
			EVP_DigestFinal_ex(ctx, out, &len);
		}
		hb_report("OpenSSL SM3, reused EVP_MD_CTX", t0);
	}
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(sha256);
	EVP_MD_free(sm3);
	return 0;
}
