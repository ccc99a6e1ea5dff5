/*
 * tls.c — self-signed server certificate generation with OpenSSL 3
 * (RG-APP-e, RG-COMM-a, PS-COM-a).  The TLS policy itself (TLS 1.2/1.3 only,
 * AEAD suites, HSTS) is applied where the listener is created (http.c).
 */
#include "tls.h"
#include "util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return BW_ECRYPTO;
	int ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : BW_ECRYPTO;
}

int tls_selfsigned_create(const char *cert_path, const char *key_path, const char *cn)
{
	if (access(cert_path, F_OK) == 0)
		return BW_EEXIST;
	int rc = BW_ECRYPTO;
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = NULL;
	if (!pkey || !x)
		goto out;
	uint8_t serial[16];
	FILE *ur = fopen("/dev/urandom", "rb");
	if (!ur || fread(serial, 1, sizeof serial, ur) != sizeof serial) {
		if (ur)
			fclose(ur);
		goto out;
	}
	fclose(ur);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 825L * 24 * 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Bulwark", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, NID_ext_key_usage, "serverAuth"))
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	mode_t old = umask(077);
	f = fopen(key_path, "wx");
	umask(old);
	if (!f || !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = fopen(cert_path, "wx");
	if (!f || !PEM_write_X509(f, x))
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	chmod(cert_path, 0644);
	rc = 0;
out:
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
