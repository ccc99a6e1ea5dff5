/*
 * test_keys.c — unit tests of the tenant keyring and field sealing
 * (keys.c; WC-STORE, RG-IM-a, PS-PI-h encrypted at rest, RG-PI masking,
 * PS-PI-d tamper-evident fields) against a real key process: each suite
 * gets a fresh data directory (app_init + app_open fork a real keyd), one
 * tenant from accounts_tenant_create and one from keys_tenant_create in a
 * store transaction.
 *
 * Claims checked: seal/open round trip; a box moved to another row, column,
 * table or tenant, or opened with the other key class, fails with
 * BW_ECRYPTO; any changed byte fails; empty values give an empty box and "";
 * size limits (BW_ETOOBIG) on input and output; a second keyring (another
 * process's view) opens the same boxes; a wrapped key copied to another
 * tenant does not unwrap; masking of phone, ID-card and e-mail values never
 * splits a UTF-8 code point and never overruns the output.
 */
#include "unit.h"
#include "app.h"
#include "keyd.h"
#include "keys.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <limits.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

struct keys_fx {
	char dir[64];
	struct app a;
	bool up;
	int64_t ta, tb;     /* tenants with keys */
	int64_t tnokey;     /* a tenant without keys */
};

/* Removes the data directory tree the fixture created (two levels). */
static void keys_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			keys_rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static bool keys_fx_up(struct keys_fx *f, enum bwc_suite suite)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/bw_keys_XXXXXX");
	if (!mkdtemp(f->dir)) {
		perror("mkdtemp");
		return false;
	}
	int rc = app_init(f->dir, suite);
	if (rc == 0)
		rc = app_open(f->dir, -1, -1, &f->a);
	if (rc) {
		fprintf(stderr, "  fixture (%s): %s\n", bwc_suite_name(suite), bw_strerror(rc));
		keys_rm_tree(f->dir);
		return false;
	}
	f->up = true;
	struct actor ac;
	struct onetime_pw pw[3];
	actor_system(&ac, "test");
	rc = accounts_tenant_create(&f->a, &ac, "alpha", &f->ta, pw);
	sodium_memzero(pw, sizeof pw);   /* the one-time passwords are not needed */
	struct store *s = f->a.s;
	if (rc == 0 && (rc = s->ops->begin(s, true)) == 0) {
		rc = s->ops->tenant_create(s, "beta", bw_now(), &f->tb);
		if (rc == 0)
			rc = keys_tenant_create(f->a.kr, f->tb);
		if (rc == 0)
			rc = s->ops->tenant_create(s, "gamma", bw_now(), &f->tnokey);
		if (rc == 0)
			rc = s->ops->commit(s);
		else
			s->ops->rollback(s);
	}
	if (rc) {
		fprintf(stderr, "  tenants: %s\n", bw_strerror(rc));
		return false;
	}
	return true;
}

static void keys_fx_down(struct keys_fx *f)
{
	if (f->up)
		app_close(&f->a);
	f->up = false;
	keys_rm_tree(f->dir);
}

static int keys_open_str(struct keys_fx *f, int64_t t, int cls, const char *table, int64_t row,
                         const char *col, const struct store_box *b, char *out, size_t out_max)
{
	return keys_open(f->a.kr, t, cls, table, row, col, b, out, out_max);
}

/* ------------------------------------------------------------- sealing */

static void keys_check_round_trip(struct keys_fx *f)
{
	static const char *const vals[] = {
		"x", "13812348000", "zhang@example.cn", "张三", "110101199003071234",
		"line\nbreak", "tab\there", "\xf0\x9f\x98\x80 emoji",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(vals); i++)
		for (int cls = KEY_CLASS_DATA; cls <= KEY_CLASS_PII; cls++) {
			struct store_box b;
			char out[STORE_FIELD_MAX + 1];
			CHECK_EQ(keys_seal(f->a.kr, f->ta, cls, "users", 5, "email", vals[i],
			                   strlen(vals[i]), &b), 0);
			CHECK(b.len > strlen(vals[i]));
			CHECK(b.len <= STORE_BOX_MAX);
			/* the plaintext does not appear in the box */
			CHECK(strlen(vals[i]) < 4 || !memmem(b.data, b.len, vals[i], strlen(vals[i])));
			CHECK_EQ(keys_open_str(f, f->ta, cls, "users", 5, "email", &b, out, sizeof out), 0);
			CHECK_STR(out, vals[i]);
		}
	/* every length up to the maximum, binary content included */
	char pt[STORE_FIELD_MAX];
	for (size_t i = 0; i < sizeof pt; i++)
		pt[i] = (char)(i * 7 + 1);
	for (size_t n = 1; n <= STORE_FIELD_MAX; n += (n < 20 ? 1 : 29)) {
		struct store_box b;
		char out[STORE_FIELD_MAX + 1];
		CHECK_EQ(keys_seal(f->a.kr, f->tb, KEY_CLASS_DATA, "depts", 9, "name", pt, n, &b), 0);
		CHECK_EQ(keys_open_str(f, f->tb, KEY_CLASS_DATA, "depts", 9, "name", &b, out, sizeof out), 0);
		CHECK_MEM(out, pt, n);
		CHECK_EQ(out[n], 0);
	}
	/* the nonce is random: the same value twice gives two different boxes */
	struct store_box b1, b2;
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, "users", 1, "phone", "13812348000", 11, &b1), 0);
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, "users", 1, "phone", "13812348000", 11, &b2), 0);
	CHECK_EQ(b1.len, b2.len);
	CHECK(memcmp(b1.data, b2.data, b1.len) != 0);
}

static void keys_check_moved_box(struct keys_fx *f)
{
	const char *v = "13812348000";
	struct store_box b;
	char out[STORE_FIELD_MAX + 1];
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, "users", 42, "phone", v, strlen(v), &b), 0);
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 42, "phone", &b, out, sizeof out), 0);
	struct {
		int64_t t;
		int cls;
		const char *table;
		int64_t row;
		const char *col;
		const char *what;
	} moved[] = {
		{ f->ta, KEY_CLASS_PII, "users", 43, "phone", "another row" },
		{ f->ta, KEY_CLASS_PII, "users", 0, "phone", "row 0" },
		{ f->ta, KEY_CLASS_PII, "users", -42, "phone", "negative row" },
		{ f->ta, KEY_CLASS_PII, "users", 42 + ((int64_t)1 << 32), "phone", "row + 2^32" },
		{ f->ta, KEY_CLASS_PII, "users", 42, "email", "another column" },
		{ f->ta, KEY_CLASS_PII, "users", 42, "id_card", "another column" },
		{ f->ta, KEY_CLASS_PII, "users", 42, "phone ", "column + space" },
		{ f->ta, KEY_CLASS_PII, "users", 42, "", "empty column" },
		{ f->ta, KEY_CLASS_PII, "user", 42, "phone", "another table" },
		{ f->ta, KEY_CLASS_PII, "depts", 42, "phone", "another table" },
		{ f->ta, KEY_CLASS_PII, "usersp", 42, "hone", "table/column boundary moved" },
		{ f->tb, KEY_CLASS_PII, "users", 42, "phone", "another tenant" },
		{ f->ta, KEY_CLASS_DATA, "users", 42, "phone", "other key class" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(moved); i++) {
		strcpy(out, "sentinel");
		int rc = keys_open_str(f, moved[i].t, moved[i].cls, moved[i].table, moved[i].row,
		                       moved[i].col, &b, out, sizeof out);
		if (rc != BW_ECRYPTO) {
			fprintf(stderr, "  %s: got %d (%s)\n", moved[i].what, rc, bw_strerror(rc));
			unit_failed_checks++;
		}
		CHECK_STR(out, "");      /* nothing of the plaintext leaks out */
	}
	/* a tenant with no keys, and a tenant that does not exist */
	CHECK(keys_open_str(f, f->tnokey, KEY_CLASS_PII, "users", 42, "phone", &b, out, sizeof out) != 0);
	CHECK(keys_open_str(f, 999999, KEY_CLASS_PII, "users", 42, "phone", &b, out, sizeof out) != 0);
	CHECK(keys_seal(f->a.kr, f->tnokey, KEY_CLASS_PII, "users", 1, "phone", v, strlen(v), &b) != 0);
	/* an unknown key class */
	struct store_box b3;
	CHECK(keys_seal(f->a.kr, f->ta, 3, "users", 1, "phone", v, strlen(v), &b3) != 0);
	CHECK(keys_seal(f->a.kr, f->ta, 0, "users", 1, "phone", v, strlen(v), &b3) != 0);
}

static void keys_check_tamper(struct keys_fx *f)
{
	const char *v = "110101199003071234";
	struct store_box b;
	char out[STORE_FIELD_MAX + 1];
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, "users", 7, "id_card", v, strlen(v), &b), 0);
	/* every byte, one bit at a time: nothing opens */
	for (size_t i = 0; i < b.len; i++) {
		struct store_box t = b;
		t.data[i] ^= 0x01;
		strcpy(out, "sentinel");
		int rc = keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 7, "id_card", &t, out, sizeof out);
		if (rc == 0) {
			fprintf(stderr, "  flipped byte %zu still opens\n", i);
			unit_failed_checks++;
		}
		if (strcmp(out, "sentinel") != 0)
			CHECK_STR(out, "");
	}
	/* truncated and extended boxes */
	for (size_t n = 1; n < b.len; n += 3) {
		struct store_box t = b;
		t.len = n;
		CHECK(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 7, "id_card", &t, out, sizeof out) != 0);
	}
	struct store_box t = b;
	t.data[t.len] = 0;
	t.len++;
	CHECK(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 7, "id_card", &t, out, sizeof out) != 0);
	/* the untouched box still opens */
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 7, "id_card", &b, out, sizeof out), 0);
	CHECK_STR(out, v);
}

static void keys_check_sizes(struct keys_fx *f)
{
	struct store_box b;
	char out[STORE_FIELD_MAX + 1];
	/* empty value: empty box, opens as "" */
	memset(&b, 0xaa, sizeof b);
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", "", 0, &b), 0);
	CHECK_EQ(b.len, 0);
	strcpy(out, "sentinel");
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", &b, out, sizeof out), 0);
	CHECK_STR(out, "");
	/* an empty box opens as "" wherever it is (NULL column) */
	strcpy(out, "sentinel");
	CHECK_EQ(keys_open_str(f, f->tb, KEY_CLASS_PII, "x", 2, "y", &b, out, 1), 0);
	CHECK_STR(out, "");
	/* limit on the plaintext */
	char big[STORE_FIELD_MAX + 2];
	memset(big, 'b', sizeof big);
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", big,
	                   STORE_FIELD_MAX, &b), 0);
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", big,
	                   STORE_FIELD_MAX + 1, &b), BW_ETOOBIG);
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", big,
	                   SIZE_MAX, &b), BW_ETOOBIG);
	/* the output buffer must hold the plaintext and its NUL */
	const char *v = "zhang@example.cn";   /* 16 bytes */
	CHECK_EQ(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, "users", 1, "email", v, 16, &b), 0);
	char small[17];
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 1, "email", &b, small, 16), BW_ETOOBIG);
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 1, "email", &b, small, 1), BW_ETOOBIG);
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 1, "email", &b, small, 0), BW_EINVAL);
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 1, "email", &b, small, 17), 0);
	CHECK_STR(small, v);
	/* heap buffer of exactly n+1 bytes: ASan sees any write past it */
	char *h = malloc(17);
	CHECK_EQ(keys_open_str(f, f->ta, KEY_CLASS_PII, "users", 1, "email", &b, h, 17), 0);
	CHECK_STR(h, v);
	free(h);
	/* names that do not fit the associated data */
	char longname[CRYPTO_AAD_MAX + 8];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	CHECK(keys_seal(f->a.kr, f->ta, KEY_CLASS_PII, longname, 1, "email", v, 16, &b) != 0);
}

/* A second keyring on the same store (what another process sees) loads the
 * wrapped keys through keyd and opens what the first sealed. */
static void keys_check_second_ring(struct keys_fx *f)
{
	struct store_box b;
	char out[STORE_FIELD_MAX + 1];
	CHECK_EQ(keys_seal(f->a.kr, f->tb, KEY_CLASS_DATA, "depts", 3, "name", "研发部", 9, &b), 0);
	struct keyring *kr2 = NULL;
	CHECK_EQ(keyring_open(f->a.s, f->a.kd, &kr2), 0);
	if (!kr2)
		return;
	CHECK_EQ(keys_open(kr2, f->tb, KEY_CLASS_DATA, "depts", 3, "name", &b, out, sizeof out), 0);
	CHECK_STR(out, "研发部");
	CHECK_EQ(keys_open(kr2, f->ta, KEY_CLASS_DATA, "depts", 3, "name", &b, out, sizeof out),
	         BW_ECRYPTO);
	keyring_close(kr2);
	keyring_close(NULL);
}

/* A wrapped data key copied from one tenant to another does not unwrap:
 * keyd binds the wrap to (tenant, class, version). */
static void keys_check_wrapped_key_bound(struct keys_fx *f)
{
	struct store *s = f->a.s;
	struct store_tenant_key ks[8];
	size_t n = 0;
	CHECK_EQ(s->ops->tenant_keys_get(s, f->ta, ks, BW_ARRAY_LEN(ks), &n), 0);
	CHECK_EQ(n, 2);
	if (n < 1)
		return;
	int64_t tc = 0;
	CHECK_EQ(s->ops->begin(s, true), 0);
	CHECK_EQ(s->ops->tenant_create(s, "delta", bw_now(), &tc), 0);
	for (size_t i = 0; i < n; i++) {
		struct store_tenant_key k = ks[i];
		k.tenant_id = tc;
		CHECK_EQ(s->ops->tenant_key_put(s, &k), 0);
	}
	CHECK_EQ(s->ops->commit(s), 0);
	struct store_box b;
	int rc = keys_seal(f->a.kr, tc, KEY_CLASS_DATA, "users", 1, "display_name", "x", 1, &b);
	CHECK(rc != 0);
	/* class swapped within the same tenant: copy the PII wrap as DATA v2 */
	struct store_tenant_key k = ks[0].key_class == KEY_CLASS_PII ? ks[0] : ks[1];
	k.key_class = KEY_CLASS_DATA;
	k.version = 2;
	CHECK_EQ(s->ops->begin(s, true), 0);
	CHECK_EQ(s->ops->tenant_key_put(s, &k), 0);
	CHECK_EQ(s->ops->commit(s), 0);
	struct keyring *kr2 = NULL;
	CHECK_EQ(keyring_open(s, f->a.kd, &kr2), 0);
	if (kr2) {
		/* the newest DATA version is the forged one: sealing must not use it */
		rc = keys_seal(kr2, f->ta, KEY_CLASS_DATA, "users", 1, "display_name", "x", 1, &b);
		CHECK(rc != 0);
		keyring_close(kr2);
	}
}

static void keys_suite_run(enum bwc_suite suite)
{
	struct keys_fx f;
	if (!keys_fx_up(&f, suite)) {
		CHECK(!"fixture");
		return;
	}
	keys_check_round_trip(&f);
	keys_check_moved_box(&f);
	keys_check_tamper(&f);
	keys_check_sizes(&f);
	keys_check_second_ring(&f);
	keys_check_wrapped_key_bound(&f);
	keys_fx_down(&f);
}

TEST(sealing_intl)
{
	keys_suite_run(CRYPTO_SUITE_INTL);
}

TEST(sealing_gm)
{
	keys_suite_run(CRYPTO_SUITE_GM);
}

/* --------------------------------------------------------------- masking */

TEST(mask_examples)
{
	char out[STORE_FIELD_MAX + 1];
	keys_mask_phone("13812348000", out, sizeof out);
	CHECK_STR(out, "138****8000");
	keys_mask_id_card("110101199003071234", out, sizeof out);
	CHECK_STR(out, "1101**********1234");
	keys_mask_id_card("11010119900307123X", out, sizeof out);
	CHECK_STR(out, "1101**********123X");
	keys_mask_email("zhang@example.cn", out, sizeof out);
	CHECK_STR(out, "z***@example.cn");
	keys_mask_phone("+8613812348000", out, sizeof out);
	CHECK_STR(out, "+86*******8000");
	/* the masked value never contains the hidden digits */
	keys_mask_phone("13812348000", out, sizeof out);
	CHECK(strstr(out, "1234") == NULL);
}

static const struct { int kind; const char *in, *want; } keys_mask_cases[] = {
	/* kind 0 phone, 1 id card, 2 e-mail */
	{ 0, "", "" },
	{ 0, "1", "*" },
	{ 0, "12", "**" },
	{ 0, "123", "1*3" },
	{ 0, "1234567", "1*****7" },
	{ 0, "12345678", "123*5678" },
	{ 1, "", "" },
	{ 1, "1", "*" },
	{ 1, "12345678", "1******8" },
	{ 1, "123456789", "1234*6789" },
	{ 2, "", "" },
	{ 2, "a", "*" },
	{ 2, "a@b", "a***@b" },
	{ 2, "@example.cn", "@*********n" },
	{ 2, "noatsign", "n******n" },
	{ 2, "张伟@例子.中国", "张***@例子.中国" },
	{ 2, "\xf0\x9f\x98\x80x@e.cn", "\xf0\x9f\x98\x80***@e.cn" },
	{ 0, "张三", "**" },
	{ 0, "张三丰", "张*丰" },
	{ 1, "欧阳娜娜", "欧**娜" },
	{ 0, "一二三四五六七八", "一二三*五六七八" },
};

static void keys_mask(int kind, const char *in, char *out, size_t out_max)
{
	if (kind == 0)
		keys_mask_phone(in, out, out_max);
	else if (kind == 1)
		keys_mask_id_card(in, out, out_max);
	else
		keys_mask_email(in, out, out_max);
}

TEST(mask_short_and_utf8)
{
	for (size_t i = 0; i < BW_ARRAY_LEN(keys_mask_cases); i++) {
		char out[STORE_FIELD_MAX + 1];
		keys_mask(keys_mask_cases[i].kind, keys_mask_cases[i].in, out, sizeof out);
		if (strcmp(out, keys_mask_cases[i].want) != 0) {
			fprintf(stderr, "  mask %d \"%s\" -> \"%s\", expected \"%s\"\n",
			        keys_mask_cases[i].kind, keys_mask_cases[i].in, out, keys_mask_cases[i].want);
			unit_failed_checks++;
		}
		CHECK(bw_utf8_valid(out, strlen(out), false));
	}
}

/* Every output capacity from 0 up: no write past out_max (heap buffers of
 * the exact size), always NUL-terminated, never a split code point. */
TEST(mask_tight_buffers)
{
	static const char *const ins[] = {
		"13812348000", "110101199003071234", "zhang@example.cn", "张三丰李四",
		"张伟@例子.中国", "a@\xf0\x9f\x98\x80\xf0\x9f\x98\x80.cn", "欧阳娜娜@公司.cn",
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(ins); i++)
		for (int kind = 0; kind < 3; kind++)
			for (size_t cap = 0; cap <= strlen(ins[i]) + 8; cap++) {
				char *out = malloc(cap ? cap : 1);
				out[0] = 'Z';
				keys_mask(kind, ins[i], out, cap);
				if (cap == 0) {
					CHECK_EQ(out[0], 'Z');   /* nothing written */
				} else {
					size_t n = strnlen(out, cap);
					CHECK(n < cap);
					if (n < cap && !bw_utf8_valid(out, n, false)) {
						fprintf(stderr, "  kind %d \"%s\" cap %zu: split code point\n",
						        kind, ins[i], cap);
						unit_failed_checks++;
					}
				}
				free(out);
			}
}

/* What accounts_user_json does: a stored e-mail up to STORE_FIELD_MAX bytes
 * masked into STORE_FIELD_MAX + 1 bytes must still be valid UTF-8 (jansson
 * refuses invalid UTF-8, and the user could not be shown at all). */
TEST(mask_email_full_length_utf8_domain)
{
	char in[STORE_FIELD_MAX + 1];
	size_t o = 0;
	in[o++] = 'a';
	in[o++] = '@';
	while (o + 3 <= STORE_FIELD_MAX - 2) {
		memcpy(in + o, "中", 3);
		o += 3;
	}
	in[o] = 0;
	CHECK(o <= STORE_FIELD_MAX);
	char out[STORE_FIELD_MAX + 1];
	keys_mask_email(in, out, sizeof out);
	CHECK(bw_utf8_valid(out, strlen(out), false));
	CHECK(strncmp(out, "a***@", 5) == 0);
}

/* Arbitrary bytes (not UTF-8) do not crash or overrun. */
TEST(mask_arbitrary_bytes)
{
	uint32_t x = 12345;
	for (int iter = 0; iter < 3000; iter++) {
		char in[40];
		size_t n = 1 + (size_t)(iter % 39);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			uint8_t c = (uint8_t)(x >> 16);
			in[i] = (char)(c ? c : 0x80);
		}
		in[n] = 0;
		size_t cap = (size_t)(iter % 50);
		char *out = malloc(cap ? cap : 1);
		keys_mask(iter % 3, in, out, cap);
		if (cap)
			CHECK(strnlen(out, cap) < cap);
		free(out);
	}
}

int main(void)
{
	bw_log_level = BW_LOG_ERR - 1;   /* the forged-key cases make keys.c log */
	RUN(sealing_intl);
	RUN(sealing_gm);
	RUN(mask_examples);
	RUN(mask_short_and_utf8);
	RUN(mask_tight_buffers);
	RUN(mask_email_full_length_utf8_domain);
	RUN(mask_arbitrary_bytes);
	return UNIT_DONE();
}
