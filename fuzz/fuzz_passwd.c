/*
 * fuzz_passwd.c — passwd_check on arbitrary bytes (password, username and
 * policy taken from the input), and the common-password list parser.
 *
 * Input layout: byte 0 = mode and policy bits, byte 1 = username length u
 * (mod 64), then u bytes of username, then the password.  In list mode
 * (byte 0 bit 7) the rest is loaded as a list and a few fixed passwords are
 * checked against it; the fixed small list is restored afterwards so runs
 * stay deterministic.
 */
#include "passwd.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char fuzz_list[] = "# seed list\npassword\nqwerty\n123456\n密码\ndragon\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bw_log_level = BW_LOG_ERR - 1; /* quiet: parse errors are expected */
	if (passwd_load_common_buf(fuzz_list, sizeof fuzz_list - 1) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	size_t ulen = data[1] % 64;
	data += 2;
	size -= 2;
	if (ulen > size)
		ulen = size;

	if (mode & 0x80) {
		int rc = passwd_load_common_buf((const char *)data, size);
		if (rc == 0) {
			static const char *const probes[] = { "password", "Password123!", "密码1!", "" };
			for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
				struct passwd_policy lax = { 1, 0 };
				passwd_check(&lax, probes[i], strlen(probes[i]), NULL, NULL);
			}
		}
		if (passwd_load_common_buf(fuzz_list, sizeof fuzz_list - 1) != 0)
			abort();
		return 0;
	}

	char *user = malloc(ulen + 1);
	if (!user)
		return 0;
	memcpy(user, data, ulen);
	user[ulen] = '\0';
	/* The password gets its own exact-size allocation so ASan sees any
	 * read past pw_len. */
	size_t pw_len = size - ulen;
	char *pw = malloc(pw_len ? pw_len : 1);
	if (!pw) {
		free(user);
		return 0;
	}
	memcpy(pw, data + ulen, pw_len);

	struct passwd_policy p = { .min_length = 1 + (mode & 0x1f), .min_classes = (mode >> 5) & 3 };
	const char *reason = NULL;
	int rc = passwd_check(&p, pw, pw_len, (mode & 0x40) ? NULL : user, &reason);
	if (rc == BW_EPOLICY && !reason)
		abort();
	if (rc == 0 && reason)
		abort();
	if (rc != 0 && rc != BW_EPOLICY)
		abort(); /* the policy built above is always valid */
	if (rc == 0 && pw_len > PASSWD_MAX_BYTES)
		abort();
	if (rc == 0 && !bw_utf8_valid(pw, pw_len, false))
		abort();
	passwd_check(NULL, pw, pw_len, user, NULL);
	free(pw);
	free(user);
	return 0;
}
