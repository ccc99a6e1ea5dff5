/*
 * test_util.c — unit tests of the shared helpers (util.c): UTF-8 validation
 * (every input bound, PS-IA-e inputs, RG-PI names), base64url and hex
 * round trips and rejects, the bounded buffer's maximum and its size
 * arithmetic, constant-time comparison, atomic file write and read, error
 * strings, and the BW_TESTING clock offset read from $BULWARK_TEST_CLOCK
 * (PS-IA-f timers are tested by moving it).
 *
 * Checks that would crash the process when the code under test is wrong run
 * in a forked child (util_in_child), so one bad case cannot hide the rest.
 */
#include "unit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UTIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UTIL_ASAN 1
#endif
#endif

#ifdef UTIL_ASAN
/* An impossible allocation must return NULL (BW_ENOMEM) rather than stop the
 * test binary: the sanitizer's default is to abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

/* Runs fn in a child process; true when it exited with status 0 (a crash,
 * sanitizer report or non-zero exit is false). */
static bool util_in_child(void (*fn)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ------------------------------------------------------------------ UTF-8 */

struct utf8_case {
	const char *s;
	size_t n;              /* 0: strlen(s) */
	bool ok_strict;        /* allow_newlines = false */
	bool ok_newlines;      /* allow_newlines = true */
	size_t count;          /* code points, when valid */
	const char *what;
};

#define U8(lit, ok1, ok2, cnt, what) { lit, sizeof(lit) - 1, ok1, ok2, cnt, what }

static const struct utf8_case utf8_cases[] = {
	U8("", true, true, 0, "empty"),
	U8("hello", true, true, 5, "ascii"),
	U8("\xc3\xa9", true, true, 1, "U+00E9 two bytes"),
	U8("\xe4\xb8\xad\xe6\x96\x87", true, true, 2, "中文"),
	U8("\xf0\x9f\x98\x80", true, true, 1, "U+1F600 four bytes"),
	U8("\xc2\x80", true, true, 1, "U+0080 smallest two-byte"),
	U8("\xdf\xbf", true, true, 1, "U+07FF largest two-byte"),
	U8("\xe0\xa0\x80", true, true, 1, "U+0800 smallest three-byte"),
	U8("\xef\xbf\xbf", true, true, 1, "U+FFFF"),
	U8("\xed\x9f\xbf", true, true, 1, "U+D7FF just below surrogates"),
	U8("\xee\x80\x80", true, true, 1, "U+E000 just above surrogates"),
	U8("\xf0\x90\x80\x80", true, true, 1, "U+10000 smallest four-byte"),
	U8("\xf4\x8f\xbf\xbf", true, true, 1, "U+10FFFF largest"),
	/* overlong encodings */
	U8("\xc0\x80", false, false, 0, "overlong NUL"),
	U8("\xc1\xbf", false, false, 0, "overlong U+007F"),
	U8("\xc0\xaf", false, false, 0, "overlong '/'"),
	U8("\xe0\x80\xaf", false, false, 0, "overlong '/' three bytes"),
	U8("\xe0\x9f\xbf", false, false, 0, "overlong U+07FF"),
	U8("\xf0\x80\x80\xaf", false, false, 0, "overlong '/' four bytes"),
	U8("\xf0\x8f\xbf\xbf", false, false, 0, "overlong U+FFFF"),
	/* surrogates */
	U8("\xed\xa0\x80", false, false, 0, "U+D800"),
	U8("\xed\xbf\xbf", false, false, 0, "U+DFFF"),
	U8("\xed\xa0\xbd\xed\xb8\x80", false, false, 0, "CESU-8 surrogate pair"),
	/* beyond U+10FFFF and invalid lead bytes */
	U8("\xf4\x90\x80\x80", false, false, 0, "U+110000"),
	U8("\xf7\xbf\xbf\xbf", false, false, 0, "U+1FFFFF"),
	U8("\xf8\x88\x80\x80\x80", false, false, 0, "five-byte form"),
	U8("\xfc\x84\x80\x80\x80\x80", false, false, 0, "six-byte form"),
	U8("\xfe", false, false, 0, "0xFE"),
	U8("\xff", false, false, 0, "0xFF"),
	U8("\x80", false, false, 0, "lone continuation"),
	U8("a\xbf" "b", false, false, 0, "continuation inside ascii"),
	/* truncated sequences */
	U8("\xc3", false, false, 0, "two-byte cut after lead"),
	U8("\xe4\xb8", false, false, 0, "three-byte cut"),
	U8("\xf0\x9f\x98", false, false, 0, "four-byte cut"),
	U8("\xe4\xb8" "a", false, false, 0, "continuation replaced by ascii"),
	U8("ok\xf0\x9f", false, false, 0, "truncated at end"),
	/* NUL and controls */
	U8("a\0b", false, false, 0, "embedded NUL"),
	U8("\0", false, false, 0, "NUL alone"),
	U8("a\nb", false, true, 3, "newline"),
	U8("a\rb", false, true, 3, "carriage return"),
	U8("a\tb", false, true, 3, "tab"),
	U8("a\x01" "b", false, false, 0, "SOH"),
	U8("\x1b[31m", false, false, 0, "ESC (terminal injection)"),
	U8("\x1f", false, false, 0, "unit separator"),
	U8("\x7f", false, false, 0, "DEL"),
	U8("\x0b", false, false, 0, "vertical tab"),
	U8("\x0c", false, false, 0, "form feed"),
	U8(" ~", true, true, 2, "printable ascii edges"),
};

TEST(utf8_table)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(utf8_cases); i++) {
		const struct utf8_case *c = &utf8_cases[i];
		bool a = bw_utf8_valid(c->s, c->n, false);
		bool b = bw_utf8_valid(c->s, c->n, true);
		if (a != c->ok_strict || b != c->ok_newlines) {
			fprintf(stderr, "  utf8 case %zu (%s): strict %d newlines %d, expected %d %d\n",
			        i, c->what, a, b, c->ok_strict, c->ok_newlines);
			unit_failed_checks++;
		}
		if (c->ok_newlines && bw_utf8_count(c->s, c->n) != c->count) {
			fprintf(stderr, "  utf8 case %zu (%s): count %zu, expected %zu\n", i, c->what,
			        bw_utf8_count(c->s, c->n), c->count);
			unit_failed_checks++;
		}
	}
}

/* The length bounds the scan: bytes beyond n are never read, and a valid
 * prefix of an invalid string is valid. */
TEST(utf8_length_bound)
{
	const char s[] = "ab\xe4\xb8\xad\xff";
	CHECK(bw_utf8_valid(s, 5, false));
	CHECK(!bw_utf8_valid(s, 6, false));
	CHECK(!bw_utf8_valid(s, 4, false));   /* cuts 中 */
	CHECK(bw_utf8_valid(s, 0, false));
	CHECK_EQ(bw_utf8_count(s, 5), 3);
	/* exactly-sized heap buffer: ASan catches a read past n */
	char *h = malloc(3);
	memcpy(h, "\xe4\xb8\xad", 3);
	CHECK(bw_utf8_valid(h, 3, false));
	CHECK(!bw_utf8_valid(h, 2, false));
	free(h);
}

/* Every single byte value, alone. */
TEST(utf8_single_bytes)
{
	for (int c = 0; c < 256; c++) {
		char b = (char)c;
		bool want = c >= 0x20 && c < 0x7f;
		bool want_nl = want || c == '\n' || c == '\r' || c == '\t';
		CHECK_EQ(bw_utf8_valid(&b, 1, false), want);
		CHECK_EQ(bw_utf8_valid(&b, 1, true), want_nl);
	}
}

/* Cross-check against a straightforward decoder over every 2- and 3-byte
 * sequence with a valid lead byte. */
static bool util_ref_valid3(const unsigned char *s, size_t n)
{
	unsigned cp;
	if (n == 2) {
		if ((s[0] & 0xe0) != 0xc0 || (s[1] & 0xc0) != 0x80)
			return false;
		cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
		return cp >= 0x80;
	}
	if ((s[0] & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
		return false;
	cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	return cp >= 0x800 && !(cp >= 0xd800 && cp <= 0xdfff);
}

TEST(utf8_exhaustive_short)
{
	int bad = 0;
	for (int a = 0xc0; a < 0xe0; a++)
		for (int b = 0; b < 256; b++) {
			unsigned char s[2] = { (unsigned char)a, (unsigned char)b };
			if (bw_utf8_valid((const char *)s, 2, false) != util_ref_valid3(s, 2))
				bad++;
		}
	for (int a = 0xe0; a < 0xf0; a++)
		for (int b = 0x80; b < 0xc0; b++)
			for (int c = 0; c < 256; c += 3) {
				unsigned char s[3] = { (unsigned char)a, (unsigned char)b, (unsigned char)c };
				if (bw_utf8_valid((const char *)s, 3, false) != util_ref_valid3(s, 3))
					bad++;
			}
	CHECK_EQ(bad, 0);
}

/* ------------------------------------------------------------- encodings */

TEST(b64url_round_trip)
{
	uint8_t in[300], out[300];
	char enc[512];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof in; n += (n < 40 ? 1 : 37)) {
		bw_b64url_encode(in, n, enc);
		CHECK_EQ(strlen(enc), bw_b64_len(n));
		CHECK(strchr(enc, '=') == NULL);
		CHECK(strchr(enc, '+') == NULL);
		CHECK(strchr(enc, '/') == NULL);
		CHECK_EQ(bw_b64url_decode(enc, strlen(enc), out, sizeof out), (int)n);
		CHECK_MEM(out, in, n);
	}
}

/* RFC 4648 section 10 test vectors (base64; no padding, URL alphabet is the
 * same for these inputs). */
TEST(b64url_rfc4648_vectors)
{
	static const struct { const char *plain, *enc; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(v); i++) {
		char enc[16];
		uint8_t dec[16];
		bw_b64url_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), enc);
		CHECK_STR(enc, v[i].enc);
		CHECK_EQ(bw_b64url_decode(v[i].enc, strlen(v[i].enc), dec, sizeof dec),
		         (int)strlen(v[i].plain));
		CHECK_MEM(dec, v[i].plain, strlen(v[i].plain));
	}
	/* the URL-safe alphabet: 0xfb 0xff -> "-_8" (standard: "+/8") */
	char enc[8];
	const uint8_t b[2] = { 0xfb, 0xff };
	bw_b64url_encode(b, 2, enc);
	CHECK_STR(enc, "-_8");
}

TEST(b64url_rejects)
{
	uint8_t out[64];
	static const char *const bad[] = {
		"Zg==",        /* padding not accepted */
		"Zm8=",
		"Z",           /* impossible length */
		"Zm9vY",
		"Zm+v",        /* standard alphabet */
		"Zm/v",
		"Zm9v Yg",     /* whitespace */
		"Zm9v\n",
		"Zh",          /* non-zero trailing bits (non-canonical) */
		"Zm9",
		"Zm9v!",
		"\xc3\xa9",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		int rc = bw_b64url_decode(bad[i], strlen(bad[i]), out, sizeof out);
		if (rc >= 0) {
			fprintf(stderr, "  b64url accepted \"%s\" (%d)\n", bad[i], rc);
			unit_failed_checks++;
		}
	}
	/* embedded NUL inside the given length */
	CHECK(bw_b64url_decode("Zm\0v", 4, out, sizeof out) < 0);
	/* output capacity is enforced */
	CHECK(bw_b64url_decode("Zm9vYmFy", 8, out, 5) < 0);
	CHECK_EQ(bw_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
	/* only in_len bytes are read */
	CHECK_EQ(bw_b64url_decode("Zm9vYmFy!!!", 8, out, sizeof out), 6);
}

/* Only the 64 URL-safe characters are accepted: bytes 0x80..0xff are not
 * base64url (found by fuzz_util: libsodium 1.0.18 decodes every one of them
 * as '_', so one token had 2^k spellings). */
TEST(b64url_rejects_high_bytes)
{
	uint8_t out[16];
	int accepted = 0;
	for (int c = 0x80; c <= 0xff; c++) {
		char in[4] = { 'A', 'A', 'A', (char)c };
		if (bw_b64url_decode(in, 4, out, sizeof out) >= 0)
			accepted++;
	}
	CHECK_EQ(accepted, 0);
	CHECK(bw_b64url_decode("dead\xf1" "BEEF00", 11, out, sizeof out) < 0);
	/* the real '_' still works */
	CHECK_EQ(bw_b64url_decode("AAA_", 4, out, sizeof out), 3);
	CHECK_EQ(out[2], 0x3f);
}

TEST(hex_round_trip_and_rejects)
{
	uint8_t in[64], out[64];
	char enc[130];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(255 - i * 3);
	for (size_t n = 0; n <= sizeof in; n++) {
		bw_hex_encode(in, n, enc);
		CHECK_EQ(strlen(enc), 2 * n);
		CHECK_EQ(bw_hex_decode(enc, 2 * n, out, sizeof out), (int)n);
		CHECK_MEM(out, in, n);
	}
	const uint8_t k[4] = { 0xde, 0xad, 0xbe, 0xef };
	bw_hex_encode(k, 4, enc);
	CHECK_STR(enc, "deadbeef");
	CHECK_EQ(bw_hex_decode("DEADBEEF", 8, out, sizeof out), 4);
	CHECK_MEM(out, k, 4);
	static const char *const bad[] = { "abc", "zz", "0g", "de ad", "-1", "0x00", "de\n" };
	for (size_t i = 0; i < BW_ARRAY_LEN(bad); i++) {
		int rc = bw_hex_decode(bad[i], strlen(bad[i]), out, sizeof out);
		if (rc >= 0) {
			fprintf(stderr, "  hex accepted \"%s\" (%d)\n", bad[i], rc);
			unit_failed_checks++;
		}
	}
	CHECK(bw_hex_decode("00\0" "0", 4, out, sizeof out) < 0);
	CHECK(bw_hex_decode("deadbeef", 8, out, 3) < 0);
	CHECK_EQ(bw_hex_decode("deadbeef", 8, out, 4), 4);
	CHECK_EQ(bw_hex_decode("", 0, out, sizeof out), 0);
}

/* ------------------------------------------------------------ bounded buf */

TEST(buf_max_enforced)
{
	struct bw_buf b;
	bw_buf_init(&b, 10);
	CHECK_EQ(bw_buf_append(&b, "12345", 5), 0);
	CHECK_EQ(bw_buf_append(&b, "67890", 5), 0);
	CHECK_EQ(b.len, 10);
	CHECK_STR((char *)b.data, "1234567890");   /* always NUL-terminated */
	CHECK_EQ(bw_buf_append(&b, "x", 1), BW_ETOOBIG);
	CHECK_EQ(b.len, 10);                        /* unchanged on failure */
	CHECK_EQ(bw_buf_printf(&b, "%d", 1), BW_ETOOBIG);
	CHECK_EQ(b.len, 10);
	CHECK_STR((char *)b.data, "1234567890");
	bw_buf_free(&b, true);
	CHECK(b.data == NULL);
	CHECK_EQ(b.len, 0);

	bw_buf_init(&b, 8);
	CHECK_EQ(bw_buf_printf(&b, "%s-%d", "ab", 42), 0);
	CHECK_STR((char *)b.data, "ab-42");
	CHECK_EQ(bw_buf_printf(&b, "%s", "xyz"), 0);
	CHECK_STR((char *)b.data, "ab-42xyz");
	CHECK_EQ(bw_buf_printf(&b, "%s", "!"), BW_ETOOBIG);
	CHECK_EQ(b.len, 8);
	bw_buf_free(&b, false);

	/* a buffer of max 0 takes nothing */
	bw_buf_init(&b, 0);
	CHECK_EQ(bw_buf_append(&b, "a", 1), BW_ETOOBIG);
	bw_buf_free(&b, false);

	/* growth past the first allocation keeps the content */
	bw_buf_init(&b, 100000);
	char chunk[1000];
	memset(chunk, 'q', sizeof chunk);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(bw_buf_append(&b, chunk, sizeof chunk), 0);
	CHECK_EQ(b.len, 100000);
	CHECK(b.cap >= b.len && b.cap <= 100000);
	CHECK_EQ(bw_buf_append(&b, "q", 1), BW_ETOOBIG);
	size_t q = 0;
	for (size_t i = 0; i < b.len; i++)
		q += b.data[i] == 'q';
	CHECK_EQ(q, 100000);
	CHECK_EQ(b.data[b.len], 0);
	bw_buf_free(&b, true);
}

/* len + n must not wrap around: these must all be refused before any
 * allocation or copy (the source pointer is never read). */
TEST(buf_overflow_arithmetic)
{
	struct bw_buf b;
	bw_buf_init(&b, SIZE_MAX);
	CHECK_EQ(bw_buf_append(&b, "abc", 3), 0);
	CHECK_EQ(bw_buf_append(&b, "x", SIZE_MAX), BW_ETOOBIG);
	CHECK_EQ(bw_buf_append(&b, "x", SIZE_MAX - 1), BW_ETOOBIG);
	CHECK_EQ(bw_buf_append(&b, "x", SIZE_MAX - 2), BW_ETOOBIG);
	CHECK_EQ(b.len, 3);
	CHECK_STR((char *)b.data, "abc");
	bw_buf_free(&b, false);

	bw_buf_init(&b, 1000);
	CHECK_EQ(bw_buf_append(&b, "abc", 3), 0);
	CHECK_EQ(bw_buf_append(&b, "x", SIZE_MAX - 1), BW_ETOOBIG);
	CHECK_EQ(bw_buf_append(&b, "x", 998), BW_ETOOBIG);   /* 3 + 998 > 1000 */
	CHECK_EQ(b.len, 3);
	bw_buf_free(&b, false);
}

/* Empty appends to a fresh (never allocated) buffer must not touch memory
 * the buffer does not own. */
static void util_child_empty_append(void)
{
	struct bw_buf b;
	bw_buf_init(&b, 16);
	if (bw_buf_append(&b, "", 0) != 0)
		_exit(3);
	if (b.len != 0)
		_exit(4);
	bw_buf_free(&b, false);
}

static void util_child_empty_printf(void)
{
	struct bw_buf b;
	bw_buf_init(&b, 16);
	if (bw_buf_printf(&b, "%s", "") != 0)
		_exit(3);
	if (b.len != 0)
		_exit(4);
	bw_buf_free(&b, false);
}

TEST(buf_empty_append_on_fresh_buffer)
{
	CHECK(util_in_child(util_child_empty_append));
	CHECK(util_in_child(util_child_empty_printf));
}

/* A request near SIZE_MAX within max must fail with BW_ENOMEM (the capacity
 * arithmetic `cap + 1` must not wrap to a zero-size allocation that is then
 * copied into).  The source is never read by a correct implementation. */
static void util_child_huge_append(void)
{
	struct bw_buf b;
	bw_buf_init(&b, SIZE_MAX);
	int rc = bw_buf_append(&b, "x", SIZE_MAX / 2 + 2);
	if (rc != BW_ENOMEM && rc != BW_ETOOBIG)
		_exit(3);
	bw_buf_free(&b, false);
}

TEST(buf_capacity_arithmetic_near_size_max)
{
	CHECK(util_in_child(util_child_huge_append));
}

TEST(ct_eq)
{
	uint8_t a[64], b[64];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = b[i] = (uint8_t)i;
	CHECK(bw_ct_eq(a, b, sizeof a));
	CHECK(bw_ct_eq(a, b, 0));
	for (size_t i = 0; i < sizeof a; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			if (bw_ct_eq(a, b, sizeof a)) {
				fprintf(stderr, "  ct_eq missed byte %zu bit %d\n", i, bit);
				unit_failed_checks++;
			}
			CHECK(bw_ct_eq(a, b, i));   /* the prefix before the change */
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	CHECK(bw_ct_eq(a, b, sizeof a));
}

/* ------------------------------------------------------------------ files */

static void util_tmpdir(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/bw_util_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
}

TEST(file_write_atomic_and_read)
{
	char dir[64], path[128];
	util_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/f.txt", dir);
	mode_t old = umask(022);
	const char data[] = "line one\nline two\n\0binary\xff";
	CHECK_EQ(bw_file_write_atomic(path, data, sizeof data, 0600), 0);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(st.st_size, (long long)sizeof data);
	uint8_t *p = NULL;
	size_t n = 0;
	CHECK_EQ(bw_file_read(path, 4096, &p, &n), 0);
	CHECK_EQ(n, sizeof data);
	if (p) {
		CHECK_MEM(p, data, sizeof data);
		CHECK_EQ(p[n], 0);
		free(p);
	}
	/* replace: new content, no temp file left behind */
	CHECK_EQ(bw_file_write_atomic(path, "new", 3, 0644), 0);
	p = NULL;
	CHECK_EQ(bw_file_read(path, 4096, &p, &n), 0);
	CHECK_EQ(n, 3);
	if (p) {
		CHECK_STR((char *)p, "new");
		free(p);
	}
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0644);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	CHECK(access(tmp, F_OK) != 0);
	/* max is enforced; out-params untouched on failure */
	p = (uint8_t *)"untouched";
	n = 77;
	CHECK_EQ(bw_file_read(path, 2, &p, &n), BW_ETOOBIG);
	CHECK_STR((char *)p, "untouched");
	CHECK_EQ(n, 77);
	CHECK_EQ(bw_file_read(path, 3, &p, &n), 0);
	if (n == 3)
		free(p);
	/* empty file */
	CHECK_EQ(bw_file_write_atomic(path, "", 0, 0600), 0);
	p = NULL;
	CHECK_EQ(bw_file_read(path, 10, &p, &n), 0);
	CHECK_EQ(n, 0);
	free(p);
	/* missing file, missing directory */
	char missing[160];
	snprintf(missing, sizeof missing, "%s/nope", dir);
	CHECK_EQ(bw_file_read(missing, 10, &p, &n), BW_ENOENT);
	snprintf(missing, sizeof missing, "%s/nodir/f", dir);
	CHECK_EQ(bw_file_write_atomic(missing, "x", 1, 0600), BW_EIO);
	/* a directory cannot be replaced by a file */
	CHECK(bw_file_write_atomic(dir, "x", 1, 0600) != 0);
	umask(old);
	unlink(path);
	rmdir(dir);
}

TEST(mkdir_p)
{
	char dir[64], path[160];
	util_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/a/b/c", dir);
	CHECK_EQ(bw_mkdir_p(path, 0700), 0);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(bw_mkdir_p(path, 0700), 0);   /* exists: fine */
	CHECK_EQ(bw_mkdir_p("", 0700), BW_EINVAL);
	char file[160];
	snprintf(file, sizeof file, "%s/a/file", dir);
	CHECK_EQ(bw_file_write_atomic(file, "x", 1, 0600), 0);
	snprintf(path, sizeof path, "%s/a/file/sub", dir);
	CHECK(bw_mkdir_p(path, 0700) != 0);
	unlink(file);
	snprintf(path, sizeof path, "%s/a/b/c", dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/a/b", dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/a", dir);
	rmdir(path);
	rmdir(dir);
}

TEST(strerror_covers_every_code)
{
	for (int e = BW_ECONFLICT; e <= 0; e++) {
		const char *s = bw_strerror(e);
		CHECK(s != NULL && strcmp(s, "unknown error") != 0);
		for (int f = e + 1; f <= 0; f++)
			CHECK(strcmp(s, bw_strerror(f)) != 0);
	}
	CHECK_STR(bw_strerror(-999), "unknown error");
	CHECK_STR(bw_strerror(5), "unknown error");
}

/* ------------------------------------------------------------ test clock */

static void util_clock_write(const char *path, const char *v)
{
	if (bw_file_write_atomic(path, v, strlen(v), 0600) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	usleep(80 * 1000);   /* the offset is re-read at most every 50 ms */
}

TEST(test_clock_offset)
{
	char dir[64], path[128];
	util_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/clock", dir);
	util_clock_write(path, "3600\n");
	setenv("BULWARK_TEST_CLOCK", path, 1);
	usleep(80 * 1000);
	int64_t real = (int64_t)time(NULL);
	int64_t now = bw_now();
	CHECK(now - real >= 3599 && now - real <= 3601);
	int64_t ms = bw_now_ms();
	CHECK(ms / 1000 - real >= 3599 && ms / 1000 - real <= 3601);
	/* the monotonic clock is not moved */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t mono = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	CHECK(bw_mono_ms() - mono >= 0 && bw_mono_ms() - mono < 1000);
	/* moving it again takes effect */
	util_clock_write(path, "-86400");
	real = (int64_t)time(NULL);
	CHECK(bw_now() - real >= -86401 && bw_now() - real <= -86399);
	/* garbage or a missing file means no offset */
	util_clock_write(path, "soon");
	real = (int64_t)time(NULL);
	CHECK(bw_now() - real >= -1 && bw_now() - real <= 1);
	unlink(path);
	usleep(80 * 1000);
	real = (int64_t)time(NULL);
	CHECK(bw_now() - real >= -1 && bw_now() - real <= 1);
	unsetenv("BULWARK_TEST_CLOCK");
	usleep(80 * 1000);
	real = (int64_t)time(NULL);
	CHECK(bw_now() - real >= -1 && bw_now() - real <= 1);
	rmdir(dir);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR;
	RUN(utf8_table);
	RUN(utf8_length_bound);
	RUN(utf8_single_bytes);
	RUN(utf8_exhaustive_short);
	RUN(b64url_round_trip);
	RUN(b64url_rfc4648_vectors);
	RUN(b64url_rejects);
	RUN(b64url_rejects_high_bytes);
	RUN(hex_round_trip_and_rejects);
	RUN(buf_max_enforced);
	RUN(buf_overflow_arithmetic);
	RUN(buf_empty_append_on_fresh_buffer);
	RUN(buf_capacity_arithmetic_near_size_max);
	RUN(ct_eq);
	RUN(file_write_atomic_and_read);
	RUN(mkdir_p);
	RUN(strerror_covers_every_code);
	RUN(test_clock_offset);
	return UNIT_DONE();
}
