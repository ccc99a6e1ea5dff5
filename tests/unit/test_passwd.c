/*
 * test_passwd.c — every reason code, boundaries, UTF-8 (Chinese) input, the
 * common-password list (the committed data file and edge-case lists), and
 * passwd_generate.  Runs from the repository root (make unit does) or with
 * $BULWARK_COMMON_PASSWORDS naming the list.
 */
#include "passwd.h"
#include "util.h"
#include "unit.h"

#include <pthread.h>
#include <sodium.h>

/* The committed list; $BULWARK_COMMON_PASSWORDS (as main.c reads it)
 * overrides the path for runs outside the repository root. */
static const char *list_path(void)
{
	const char *env = getenv("BULWARK_COMMON_PASSWORDS");
	return env && *env ? env : "data/common-passwords.txt";
}
#define LIST_PATH list_path()

/* passwd_check with the default policy; returns the reason or "ok". */
static const char *why(const char *pw, const char *user)
{
	const char *r = "unset";
	int rc = passwd_check(NULL, pw, strlen(pw), user, &r);
	if (rc == 0)
		return r == NULL ? "ok" : "ok-but-reason-set";
	if (rc != BW_EPOLICY)
		return "error";
	return r;
}

static const char *why_n(const char *pw, size_t n)
{
	const char *r = "unset";
	int rc = passwd_check(NULL, pw, n, NULL, &r);
	return rc == 0 ? "ok" : rc == BW_EPOLICY ? r : "error";
}

TEST(load_real_list)
{
	CHECK_EQ(passwd_load_common(LIST_PATH), 0);
}

TEST(good_passwords_pass)
{
	CHECK_STR(why("Vq7#mLw2!pZx9", "alice"), "ok");
	CHECK_STR(why("correct-Horse-battery-staple", NULL), "ok");
	CHECK_STR(why("Tr0ub4dor&3-zebra", "bob"), "ok");
	/* Exactly 12 code points, 3 classes. */
	CHECK_STR(why("Kx9vTq2wPz4m", NULL), "ok");
}

TEST(too_short)
{
	CHECK_STR(why("Kx9vTq2wPz4", NULL), PASSWD_R_TOO_SHORT);
	CHECK_STR(why("Ab1!", NULL), PASSWD_R_TOO_SHORT);
	CHECK_STR(why("", NULL), PASSWD_R_TOO_SHORT);
	CHECK_STR(why_n(NULL, 0), PASSWD_R_TOO_SHORT);
	struct passwd_policy p = { .min_length = 20, .min_classes = 3 };
	const char *r = NULL;
	CHECK_EQ(passwd_check(&p, "Vq7#mLw2!pZx9", 13, NULL, &r), BW_EPOLICY);
	CHECK_STR(r, PASSWD_R_TOO_SHORT);
}

TEST(too_long)
{
	char pw[PASSWD_MAX_BYTES + 2];
	for (size_t i = 0; i < sizeof pw; i++)
		pw[i] = "Ab3$"[i % 4];
	CHECK_STR(why_n(pw, PASSWD_MAX_BYTES), "ok");
	CHECK_STR(why_n(pw, PASSWD_MAX_BYTES + 1), PASSWD_R_TOO_LONG);
	CHECK_STR(why_n(pw, SIZE_MAX), PASSWD_R_TOO_LONG); /* never read */
}

TEST(too_few_classes)
{
	CHECK_STR(why("kxqvtzwpmnbrjh", NULL), PASSWD_R_TOO_FEW_CLASSES);
	CHECK_STR(why("kxqvtzwPMNBRJH", NULL), PASSWD_R_TOO_FEW_CLASSES);
	CHECK_STR(why("84736291057384", NULL), PASSWD_R_TOO_FEW_CLASSES);
	CHECK_STR(why("kxqvtzw5938271", NULL), PASSWD_R_TOO_FEW_CLASSES);
	CHECK_STR(why("kxqvtzwPMNB8RJ", NULL), "ok");
	CHECK_STR(why("kxqvtzw!@#$%^&", NULL), PASSWD_R_TOO_FEW_CLASSES);
	CHECK_STR(why("kxqvtzw !@#$%9", NULL), "ok"); /* space is a symbol */
	struct passwd_policy p4 = { .min_length = 12, .min_classes = 4 };
	const char *r = NULL;
	CHECK_EQ(passwd_check(&p4, "kxqvtzwPMNB8RJ", 14, NULL, &r), BW_EPOLICY);
	CHECK_STR(r, PASSWD_R_TOO_FEW_CLASSES);
	CHECK_EQ(passwd_check(&p4, "kxqvtzwPMNB8R!", 14, NULL, &r), 0);
	CHECK(r == NULL);
}

TEST(contains_username)
{
	CHECK_STR(why("xxALICE99!!yyZ", "alice"), PASSWD_R_CONTAINS_USERNAME);
	CHECK_STR(why("Alice-Kx9vTq2w", "aLiCe"), PASSWD_R_CONTAINS_USERNAME);
	CHECK_STR(why("Kx9vTq2w-alice", "alice"), PASSWD_R_CONTAINS_USERNAME);
	CHECK_STR(why("Kx9vTq2w-alic3", "alice"), "ok");
	/* Usernames under 3 code points are not searched. */
	CHECK_STR(why("Kx9vTq2w-al-yz", "al"), "ok");
	CHECK_STR(why("Kx9vTq2w-bob-z", "bob"), PASSWD_R_CONTAINS_USERNAME);
	/* Chinese username: 3 code points (9 bytes) counts; 2 does not. */
	CHECK_STR(why("张三丰Kx9vTq2w-z", "张三丰"), PASSWD_R_CONTAINS_USERNAME);
	CHECK_STR(why("张三Kx9vTq2w-zq", "张三"), "ok");
	/* Username longer than the password: no match, no over-read. */
	CHECK_STR(why("Kx9vTq2w-zqpm", "Kx9vTq2w-zqpm-and-more"), "ok");
	CHECK_STR(why("Kx9vTq2w-zqpm", ""), "ok");
}

TEST(common_password)
{
	CHECK_STR(why("Password123!", NULL), PASSWD_R_COMMON);
	CHECK_STR(why("PaSsWoRd1234!", NULL), PASSWD_R_COMMON);
	CHECK_STR(why("Dragon2024!!", NULL), PASSWD_R_COMMON);
	CHECK_STR(why("Qwerty123456!", NULL), PASSWD_R_COMMON);
	CHECK_STR(why("Letmein!!2024", NULL), PASSWD_R_COMMON);
	/* A listed entry itself under a permissive policy. */
	struct passwd_policy lax = { .min_length = 1, .min_classes = 0 };
	const char *r = NULL;
	CHECK_EQ(passwd_check(&lax, "qwerty", 6, NULL, &r), BW_EPOLICY);
	CHECK_STR(r, PASSWD_R_COMMON);
	CHECK_EQ(passwd_check(&lax, "QWERTY", 6, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "123456", 6, NULL, &r), BW_EPOLICY);
	/* Only trailing digits and symbols are stripped. */
	CHECK_STR(why("Password123!x", NULL), "ok");
	CHECK_STR(why("xPassword123!", NULL), "ok");
	/* Without a list the check is skipped (with a warning), then back. */
	passwd_free_common();
	CHECK_STR(why("Password123!", NULL), "ok");
	CHECK_EQ(passwd_load_common(LIST_PATH), 0);
	CHECK_STR(why("Password123!", NULL), PASSWD_R_COMMON);
}

TEST(invalid_utf8)
{
	static const struct { const char *s; size_t n; } bad[] = {
		{ "Kx9vTq2w-zqp\xff", 13 },
		{ "Kx9vTq2w\0-zqpm", 14 },           /* NUL */
		{ "Kx9vTq2w\x01-zqpm", 14 },         /* C0 control */
		{ "Kx9vTq2w\t-zqpm", 14 },           /* tab */
		{ "Kx9vTq2w\n-zqpm", 14 },           /* newline */
		{ "Kx9vTq2w\x7f-zqpm", 14 },         /* DEL */
		{ "Kx9vTq2w\xc2\x85-zqpm", 15 },     /* C1 control NEL */
		{ "Kx9vTq2w\xc0\xaf-zqpm", 15 },     /* overlong '/' */
		{ "Kx9vTq2w\xed\xa0\x80-zqpm", 16 }, /* surrogate */
		{ "Kx9vTq2w-zqpm\xe5\xbc", 15 },     /* truncated */
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++)
		CHECK_STR(why_n(bad[i].s, bad[i].n), PASSWD_R_INVALID_UTF8);
	/* U+00A0 (first code point after C1) is fine and counts as a symbol. */
	CHECK_STR(why_n("Kx9vTq2w\xc2\xa0zqpm", 14), "ok");
}

TEST(chinese)
{
	/* 12 code points, 36 bytes, one class (other). */
	CHECK_STR(why("密码密码密码密码密码密码", NULL), PASSWD_R_TOO_FEW_CLASSES);
	/* 6 code points = 18 bytes: short although over 12 bytes. */
	CHECK_STR(why("密码Ab1!", NULL), PASSWD_R_TOO_SHORT);
	/* 11 code points. */
	CHECK_STR(why("我的密码是Abc123", NULL), PASSWD_R_TOO_SHORT);
	/* 12 code points, 4 classes. */
	CHECK_STR(why("我的密码是很安全的Ab1", NULL), "ok");
	/* Chinese plus one ASCII class: other + lower + digit. */
	CHECK_STR(why("安全安全安全安全xyz9", NULL), "ok");
	CHECK_STR(why("安全安全安全安全xyzw", NULL), PASSWD_R_TOO_FEW_CLASSES);
	/* 86 CJK characters = 258 bytes: too long in bytes. */
	char big[300];
	size_t n = 0;
	for (int i = 0; i < 86; i++) {
		memcpy(big + n, "密", 3);
		n += 3;
	}
	CHECK_STR(why_n(big, n), PASSWD_R_TOO_LONG);
}

TEST(bad_arguments)
{
	const char *r = "untouched";
	struct passwd_policy p = { .min_length = 0, .min_classes = 3 };
	CHECK_EQ(passwd_check(&p, "Kx9vTq2w-zqpm", 13, NULL, &r), BW_EINVAL);
	p = (struct passwd_policy){ .min_length = 12, .min_classes = 5 };
	CHECK_EQ(passwd_check(&p, "Kx9vTq2w-zqpm", 13, NULL, &r), BW_EINVAL);
	p = (struct passwd_policy){ .min_length = PASSWD_MAX_BYTES + 1, .min_classes = 3 };
	CHECK_EQ(passwd_check(&p, "Kx9vTq2w-zqpm", 13, NULL, &r), BW_EINVAL);
	p = (struct passwd_policy){ .min_length = 12, .min_classes = -1 };
	CHECK_EQ(passwd_check(&p, "Kx9vTq2w-zqpm", 13, NULL, &r), BW_EINVAL);
	CHECK_EQ(passwd_check(NULL, NULL, 5, NULL, &r), BW_EINVAL);
	CHECK_STR(r, "untouched");
	CHECK_EQ(passwd_check(NULL, "Kx9vTq2w-zqpm", 13, NULL, NULL), 0);
	CHECK_EQ(passwd_check(NULL, "short", 5, NULL, NULL), BW_EPOLICY);
}

TEST(list_parsing)
{
	int saved_level = bw_log_level;
	bw_log_level = -1; /* the refused lists below log errors by design */
	const char *r = NULL;
	struct passwd_policy lax = { .min_length = 1, .min_classes = 0 };
	const char list[] = "# comment\r\n\nHunter2\r\nzebra-crossing\nzebra-crossing\n"
	                    "  spaced\n密码\n#not-an-entry\nlast-no-newline";
	CHECK_EQ(passwd_load_common_buf(list, sizeof list - 1), 0);
	CHECK_EQ(passwd_check(&lax, "hunter2", 7, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "HUNTER2", 7, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "hunter", 6, NULL, &r), 0); /* entries are not stemmed */
	CHECK_EQ(passwd_check(&lax, "Zebra-Crossing", 14, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "zebra-crossing99!", 17, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "  spaced", 8, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "密码", 6, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "密码123!", 10, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "last-no-newline", 15, NULL, &r), BW_EPOLICY);
	CHECK_EQ(passwd_check(&lax, "# comment", 9, NULL, &r), 0);
	CHECK_EQ(passwd_check(&lax, "#not-an-entry", 13, NULL, &r), 0);
	CHECK_EQ(passwd_check(&lax, "zebra", 5, NULL, &r), 0);
	CHECK_EQ(passwd_check(&lax, "password", 8, NULL, &r), 0); /* old list replaced */

	/* A bad list is refused and the loaded one stays. */
	char longline[PASSWD_COMMON_ENTRY_MAX + 3];
	memset(longline, 'a', PASSWD_COMMON_ENTRY_MAX + 1);
	longline[PASSWD_COMMON_ENTRY_MAX + 1] = '\n';
	longline[PASSWD_COMMON_ENTRY_MAX + 2] = '\0';
	CHECK_EQ(passwd_load_common_buf(longline, strlen(longline)), BW_EINVAL);
	longline[PASSWD_COMMON_ENTRY_MAX] = '\n';
	CHECK_EQ(passwd_load_common_buf(longline, PASSWD_COMMON_ENTRY_MAX + 1), 0);
	CHECK_EQ(passwd_load_common_buf("ok\n\xff\xfe\n", 6), BW_EINVAL);
	CHECK_EQ(passwd_load_common_buf("ok\nnul\0x\n", 9), BW_EINVAL);
	CHECK_EQ(passwd_load_common_buf("ok\nctl\x01x\n", 9), BW_EINVAL);
	CHECK_EQ(passwd_load_common("/nonexistent/bulwark-list.txt"), BW_ENOENT);
	CHECK_EQ(passwd_load_common(NULL), BW_EINVAL);
	size_t aa = PASSWD_COMMON_ENTRY_MAX;
	CHECK_EQ(passwd_check(&lax, longline, aa, NULL, &r), BW_EPOLICY); /* still loaded */

	/* Entry-count limit. */
	size_t over = (size_t)PASSWD_COMMON_MAX_ENTRIES + 1;
	char *many = malloc(over * 2);
	if (many) {
		for (size_t i = 0; i < over; i++) {
			many[2 * i] = 'x';
			many[2 * i + 1] = '\n';
		}
		CHECK_EQ(passwd_load_common_buf(many, over * 2), BW_ETOOBIG);
		CHECK_EQ(passwd_load_common_buf(many, (over - 1) * 2), 0);
		free(many);
	}
	CHECK_EQ(passwd_load_common_buf(NULL, (size_t)PASSWD_COMMON_FILE_MAX + 1), BW_EINVAL);
	CHECK_EQ(passwd_load_common_buf("", 0), 0); /* empty list: nothing common */
	CHECK_EQ(passwd_check(&lax, "x", 1, NULL, &r), 0);
	CHECK_EQ(passwd_load_common(LIST_PATH), 0);
	bw_log_level = saved_level;
}

TEST(generate)
{
	static const char ambiguous[] = "0Oo1Il| '\"`\\";
	char seen[200][PASSWD_GEN_LEN + 1];
	for (int i = 0; i < 200; i++) {
		char pw[PASSWD_GEN_LEN + 1];
		CHECK_EQ(passwd_generate(pw, sizeof pw), 0);
		CHECK_EQ(strlen(pw), PASSWD_GEN_LEN);
		CHECK_EQ(passwd_check(NULL, pw, strlen(pw), NULL, NULL), 0);
		struct passwd_policy all4 = { .min_length = 16, .min_classes = 4 };
		CHECK_EQ(passwd_check(&all4, pw, strlen(pw), NULL, NULL), 0);
		CHECK(strpbrk(pw, ambiguous) == NULL);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(seen[j], pw) != 0);
		memcpy(seen[i], pw, sizeof pw);
		sodium_memzero(pw, sizeof pw);
	}
	sodium_memzero(seen, sizeof seen);
	char small[PASSWD_GEN_LEN] = "untouched";
	CHECK_EQ(passwd_generate(small, sizeof small), BW_ETOOBIG);
	CHECK_STR(small, "untouched");
}

/* Checks race list reloads: ASan would see a use-after-free if a check
 * could read a list being freed. */
static void *checker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		const char *r = NULL;
		int rc = passwd_check(NULL, "Password123!", 12, NULL, &r);
		if (rc != 0 && rc != BW_EPOLICY)
			return (void *)1;
	}
	return NULL;
}

TEST(concurrent_reload)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, checker, NULL), 0);
	for (int i = 0; i < 20; i++)
		CHECK_EQ(passwd_load_common_buf("password\nqwerty\n", 16), 0);
	for (int i = 0; i < 2; i++) {
		void *res = NULL;
		pthread_join(t[i], &res);
		CHECK(res == NULL);
	}
	CHECK_EQ(passwd_load_common(LIST_PATH), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	bw_log_level = BW_LOG_WARN;
	RUN(load_real_list);
	RUN(good_passwords_pass);
	RUN(too_short);
	RUN(too_long);
	RUN(too_few_classes);
	RUN(contains_username);
	RUN(common_password);
	RUN(invalid_utf8);
	RUN(chinese);
	RUN(bad_arguments);
	RUN(list_parsing);
	RUN(generate);
	RUN(concurrent_reload);
	passwd_free_common();
	return UNIT_DONE();
}
