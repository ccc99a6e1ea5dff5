/*
 * test_totp.c — TOTP against the published RFC 6238 Appendix B vectors and
 * the real `oathtool`, the replay guard, malformed input, the provisioning
 * URI, RFC 4648 base32 (§10 vectors) and recovery codes.
 */
#include "totp.h"
#include "util.h"
#include "unit.h"

#include <sodium.h>
#include <time.h>

/* RFC 6238 Appendix B: seed is the ASCII string "12345678901234567890". */
static const uint8_t rfc_seed[] = "12345678901234567890";
#define RFC_SEED_LEN 20

static const struct { int64_t t; const char *totp8; } rfc6238_sha1[] = {
	{ 59LL, "94287082" },
	{ 1111111109LL, "07081804" },
	{ 1111111111LL, "14050471" },
	{ 1234567890LL, "89005924" },
	{ 2000000000LL, "69279037" },
	{ 20000000000LL, "65353130" },
};

TEST(rfc6238_vectors_8_digits)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(rfc6238_sha1); i++) {
		char out[9];
		CHECK_EQ(totp_code_at(rfc_seed, RFC_SEED_LEN,
		                      (uint64_t)(rfc6238_sha1[i].t / 30), 8, out, sizeof out), 0);
		CHECK_STR(out, rfc6238_sha1[i].totp8);
	}
}

/* A 6-digit code is the 8-digit value mod 10^6: its last six digits. */
TEST(rfc6238_vectors_verify_6_digits)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(rfc6238_sha1); i++) {
		const char *code = rfc6238_sha1[i].totp8 + 2;
		int64_t t = rfc6238_sha1[i].t, m = -1;
		CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, code, t, 0, -1, &m), 0);
		CHECK_EQ(m, t / 30);
		/* The same code three steps later, window 1: refused. */
		CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, code, t + 90, 1, -1, &m), BW_EAUTH);
		/* Wrong last digit: refused. */
		char bad[7];
		memcpy(bad, code, 7);
		bad[5] = bad[5] == '9' ? '0' : (char)(bad[5] + 1);
		CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, bad, t, 1, -1, &m), BW_EAUTH);
	}
	/* A wrong secret does not verify a right code. */
	uint8_t other[RFC_SEED_LEN];
	memcpy(other, rfc_seed, RFC_SEED_LEN);
	other[0] ^= 1;
	CHECK_EQ(totp_verify(other, RFC_SEED_LEN, "287082", 59, 1, -1, NULL), BW_EAUTH);
}

/* RFC 4648 §10 test vectors, without the padding. */
TEST(base32_rfc4648)
{
	static const struct { const char *in, *out; } v[] = {
		{ "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(v); i++) {
		char out[32];
		size_t n = strlen(v[i].in);
		CHECK_EQ(totp_secret_base32((const uint8_t *)v[i].in, n, out, sizeof out), 0);
		CHECK_STR(out, v[i].out);
		CHECK_EQ(strlen(out), TOTP_B32_LEN(n));
	}
	/* Every symbol of the alphabet, including the 26 -> '2' boundary. */
	uint8_t all[20];
	/* 0x00 0x44 0x32 0x14 0xc7 ... is 00000 00001 00010 ... 11111 */
	unsigned acc = 0, bits = 0, o = 0;
	for (unsigned v5 = 0; v5 < 32; v5++) {
		acc = (acc << 5) | v5;
		bits += 5;
		while (bits >= 8) {
			all[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	char out[40];
	CHECK_EQ(totp_secret_base32(all, sizeof all, out, sizeof out), 0);
	CHECK_STR(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");

	char small[4] = "xyz";
	CHECK_EQ(totp_secret_base32((const uint8_t *)"foo", 3, small, sizeof small), BW_ETOOBIG);
	CHECK_STR(small, "xyz");
	CHECK_EQ(totp_secret_base32((const uint8_t *)"foo", 0, out, sizeof out), BW_EINVAL);
	uint8_t big[TOTP_SECRET_MAX + 1] = { 0 };
	char bigout[256];
	CHECK_EQ(totp_secret_base32(big, sizeof big, bigout, sizeof bigout), BW_EINVAL);
}

TEST(secret_generate)
{
	uint8_t a[TOTP_SECRET_LEN], b[TOTP_SECRET_LEN], zero[TOTP_SECRET_LEN] = { 0 };
	totp_secret_generate(a);
	totp_secret_generate(b);
	CHECK(memcmp(a, b, TOTP_SECRET_LEN) != 0);
	CHECK(memcmp(a, zero, TOTP_SECRET_LEN) != 0);
	char s[TOTP_B32_LEN(TOTP_SECRET_LEN) + 1];
	CHECK_EQ(totp_secret_base32(a, sizeof a, s, sizeof s), 0);
	CHECK_EQ(strlen(s), 32);
	sodium_memzero(a, sizeof a);
	sodium_memzero(b, sizeof b);
}

/* The 6-digit code from the real oathtool for unix time t, or "" on error. */
static void oathtool_code(const char *b32, int64_t t, char out[8])
{
	char cmd[256], when[64];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	/* b32 is [A-Z2-7] only: safe inside the shell command. */
	snprintf(cmd, sizeof cmd, "oathtool --totp -b --now '%s' %s", when, b32);
	out[0] = '\0';
	FILE *f = popen(cmd, "r");
	if (!f)
		return;
	if (!fgets(out, 8, f))
		out[0] = '\0';
	pclose(f);
	out[strcspn(out, "\r\n")] = '\0';
}

TEST(oathtool_interop_and_replay)
{
	uint8_t secret[TOTP_SECRET_LEN];
	char b32[TOTP_B32_LEN(TOTP_SECRET_LEN) + 1];
	totp_secret_generate(secret);
	CHECK_EQ(totp_secret_base32(secret, sizeof secret, b32, sizeof b32), 0);

	int64_t now = bw_now();
	now -= now % 30;
	now += 11; /* inside a step, away from its edges */
	int64_t cur = now / 30;
	char c0[8], cm1[8], cp1[8], cm2[8], cp2[8];
	oathtool_code(b32, now, c0);
	oathtool_code(b32, now - 30, cm1);
	oathtool_code(b32, now + 30, cp1);
	oathtool_code(b32, now - 60, cm2);
	oathtool_code(b32, now + 60, cp2);
	CHECK_EQ(strlen(c0), 6);
	CHECK_EQ(strlen(cm2), 6);

	int64_t m = -7;
	CHECK_EQ(totp_verify(secret, sizeof secret, c0, now, 1, -1, &m), 0);
	CHECK_EQ(m, cur);
	/* Replay of the same code: refused. */
	int64_t m2 = -7;
	CHECK_EQ(totp_verify(secret, sizeof secret, c0, now, 1, m, &m2), BW_EAUTH);
	CHECK_EQ(m2, -7); /* untouched on failure */
	/* An older code after a newer one was used: refused. */
	if (strcmp(cm1, c0) != 0)
		CHECK_EQ(totp_verify(secret, sizeof secret, cm1, now, 1, m, NULL), BW_EAUTH);
	/* The next step's code is still fine after this one. */
	CHECK_EQ(totp_verify(secret, sizeof secret, cp1, now, 1, m, &m2), 0);
	CHECK_EQ(m2, cur + 1);

	/* window = 1 takes +-1 and refuses +-2 (unless a code collides). */
	CHECK_EQ(totp_verify(secret, sizeof secret, cm1, now, 1, -1, &m2), 0);
	CHECK_EQ(m2, cur - 1);
	if (strcmp(cm2, c0) && strcmp(cm2, cm1) && strcmp(cm2, cp1))
		CHECK_EQ(totp_verify(secret, sizeof secret, cm2, now, 1, -1, NULL), BW_EAUTH);
	if (strcmp(cp2, c0) && strcmp(cp2, cm1) && strcmp(cp2, cp1))
		CHECK_EQ(totp_verify(secret, sizeof secret, cp2, now, 1, -1, NULL), BW_EAUTH);
	/* window = 0 refuses +-1; window = 2 takes +-2. */
	if (strcmp(cp1, c0))
		CHECK_EQ(totp_verify(secret, sizeof secret, cp1, now, 0, -1, NULL), BW_EAUTH);
	CHECK_EQ(totp_verify(secret, sizeof secret, cp2, now, 2, -1, &m2), 0);
	CHECK_EQ(totp_verify(secret, sizeof secret, cm2, now, 2, -1, &m2), 0);
	sodium_memzero(secret, sizeof secret);
}

TEST(verify_malformed)
{
	static const char *bad[] = {
		"12345", "abcdef", "1234567", "", "12345a", " 12345", "123 45",
		"１２３４５６" /* fullwidth digits */, "-12345", "+12345", "12345\n",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++)
		CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, bad[i], 59, 1, -1, NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, NULL, 59, 1, -1, NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, "287082", -1, 1, -1, NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, "287082", 59, -1, -1, NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, "287082", 59, TOTP_WINDOW_MAX + 1, -1,
	                     NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(rfc_seed, 10, "287082", 59, 1, -1, NULL), BW_EINVAL);
	CHECK_EQ(totp_verify(NULL, RFC_SEED_LEN, "287082", 59, 1, -1, NULL), BW_EINVAL);
	/* Near the epoch the window does not reach negative steps. */
	CHECK_EQ(totp_verify(rfc_seed, RFC_SEED_LEN, "287082", 59, TOTP_WINDOW_MAX, -1,
	                     NULL), 0);
	char out[9];
	CHECK_EQ(totp_code_at(rfc_seed, RFC_SEED_LEN, 1, 5, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_code_at(rfc_seed, RFC_SEED_LEN, 1, 8, out, 8), BW_ETOOBIG);
}

TEST(uri)
{
	const char *s = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
	char out[TOTP_URI_MAX];
	CHECK_EQ(totp_uri("Bulwark", "alice", s, out, sizeof out), 0);
	CHECK_STR(out, "otpauth://totp/Bulwark:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	          "&issuer=Bulwark&algorithm=SHA1&digits=6&period=30");
	CHECK_EQ(totp_uri("ACME Co & Sons", "bob@example.com", s, out, sizeof out), 0);
	CHECK_STR(out, "otpauth://totp/ACME%20Co%20%26%20Sons:bob%40example.com?secret="
	          "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME%20Co%20%26%20Sons"
	          "&algorithm=SHA1&digits=6&period=30");
	/* UTF-8: 公司 is E5 85 AC E5 8F B8; 张三 is E5 BC A0 E4 B8 89. */
	CHECK_EQ(totp_uri("公司", "张三", s, out, sizeof out), 0);
	CHECK_STR(out, "otpauth://totp/%E5%85%AC%E5%8F%B8:%E5%BC%A0%E4%B8%89?secret="
	          "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=%E5%85%AC%E5%8F%B8"
	          "&algorithm=SHA1&digits=6&period=30");
	/* Unreserved characters pass; ?, #, /, +, % are encoded. */
	CHECK_EQ(totp_uri("a-b.c_d~e", "x?y#z/w+v%u", s, out, sizeof out), 0);
	CHECK(strstr(out, "/a-b.c_d~e:x%3Fy%23z%2Fw%2Bv%25u?") != NULL);

	/* Refused input; out untouched. */
	strcpy(out, "unchanged");
	CHECK_EQ(totp_uri("Bul:wark", "alice", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "al:ice", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("", "alice", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "al\nice", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "\xff\xfe", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri(NULL, "alice", s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "alice", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq", out,
	                  sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "alice", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ=", out,
	                  sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "alice", "GEZDGNBV", out, sizeof out), BW_EINVAL);
	char longl[TOTP_LABEL_MAX + 2];
	memset(longl, 'a', sizeof longl - 1);
	longl[sizeof longl - 1] = '\0';
	CHECK_EQ(totp_uri("Bulwark", longl, s, out, sizeof out), BW_EINVAL);
	CHECK_EQ(totp_uri("Bulwark", "alice", s, out, 40), BW_ETOOBIG);
	CHECK_STR(out, "unchanged");

	/* The longest labels still fit TOTP_URI_MAX. */
	char cjk[TOTP_LABEL_MAX + 1];
	size_t k = 0;
	while (k + 3 <= TOTP_LABEL_MAX) {
		memcpy(cjk + k, "公", 3);
		k += 3;
	}
	cjk[k] = '\0';
	CHECK_EQ(totp_uri(cjk, cjk, s, out, sizeof out), 0);
}

TEST(recovery_codes)
{
	static const char alpha[] = "0123456789abcdefghjkmnpqrstvwxyz";
	int seen[256] = { 0 };
	for (int round = 0; round < 100; round++) {
		char codes[RECOVERY_CODE_COUNT][RECOVERY_CODE_LEN + 1];
		CHECK_EQ(recovery_codes_generate(codes), 0);
		for (int i = 0; i < RECOVERY_CODE_COUNT; i++) {
			CHECK_EQ(strlen(codes[i]), RECOVERY_CODE_LEN);
			CHECK(codes[i][4] == '-' && codes[i][9] == '-');
			for (int j = 0; j < RECOVERY_CODE_LEN; j++) {
				if (j == 4 || j == 9)
					continue;
				unsigned char c = (unsigned char)codes[i][j];
				CHECK(c && strchr(alpha, c) != NULL);
				seen[c]++;
			}
			for (int j = 0; j < i; j++)
				CHECK(strcmp(codes[i], codes[j]) != 0);
			char norm[RECOVERY_CODE_NORM_LEN + 1];
			CHECK_EQ(recovery_code_normalise(codes[i], norm, sizeof norm), 0);
			CHECK_EQ(strlen(norm), RECOVERY_CODE_NORM_LEN);
			CHECK(memcmp(norm, codes[i], 4) == 0 && memcmp(norm + 4, codes[i] + 5, 4) == 0 &&
			      memcmp(norm + 8, codes[i] + 10, 4) == 0);
		}
		sodium_memzero(codes, sizeof codes);
	}
	/* 12,000 draws use all 32 symbols (5 bits each, 60 bits a code). */
	for (const char *a = alpha; *a; a++)
		CHECK(seen[(unsigned char)*a] > 0);
	CHECK_EQ(strlen(alpha), 32);
	CHECK(RECOVERY_CODE_SYMBOLS * 5 >= 60);
	CHECK(!seen['i'] && !seen['l'] && !seen['o'] && !seen['u']);
}

TEST(recovery_normalise)
{
	char out[RECOVERY_CODE_NORM_LEN + 1];
	CHECK_EQ(recovery_code_normalise("k7wq-9m2x-p4dh", out, sizeof out), 0);
	CHECK_STR(out, "k7wq9m2xp4dh");
	CHECK_EQ(recovery_code_normalise("  K7WQ 9M2X-P4DH ", out, sizeof out), 0);
	CHECK_STR(out, "k7wq9m2xp4dh");
	CHECK_EQ(recovery_code_normalise("k7wq9m2xp4dh", out, sizeof out), 0);
	CHECK_STR(out, "k7wq9m2xp4dh");
	/* Look-alikes: O -> 0, I and L -> 1. */
	CHECK_EQ(recovery_code_normalise("OOII-LL00-1111", out, sizeof out), 0);
	CHECK_STR(out, "001111001111");

	strcpy(out, "unchanged");
	static const char *bad[] = {
		"k7wq-9m2x-p4d", "k7wq-9m2x-p4dhh", "k7wq-9m2x-p4du", "k7wq_9m2x_p4dh",
		"k7wq-9m2x-p4d!", "", "k7wq\t9m2x-p4dh", "k7wq-9m2x-p4dé",
		"k7wq-9m2x-p4dh-k7wq-9m2x-p4dh",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++)
		CHECK_EQ(recovery_code_normalise(bad[i], out, sizeof out), BW_EINVAL);
	/* Over RECOVERY_CODE_INPUT_MAX bytes, even if mostly spaces. */
	char spaced[RECOVERY_CODE_INPUT_MAX + 16];
	memset(spaced, ' ', sizeof spaced - 1);
	memcpy(spaced + sizeof spaced - 13, "k7wq9m2xp4dh", 12);
	spaced[sizeof spaced - 1] = '\0';
	CHECK_EQ(recovery_code_normalise(spaced, out, sizeof out), BW_EINVAL);
	CHECK_EQ(recovery_code_normalise(NULL, out, sizeof out), BW_EINVAL);
	CHECK_STR(out, "unchanged");
	char small[RECOVERY_CODE_NORM_LEN];
	CHECK_EQ(recovery_code_normalise("k7wq-9m2x-p4dh", small, sizeof small), BW_ETOOBIG);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(rfc6238_vectors_8_digits);
	RUN(rfc6238_vectors_verify_6_digits);
	RUN(base32_rfc4648);
	RUN(secret_generate);
	RUN(oathtool_interop_and_replay);
	RUN(verify_malformed);
	RUN(uri);
	RUN(recovery_codes);
	RUN(recovery_normalise);
	return UNIT_DONE();
}
