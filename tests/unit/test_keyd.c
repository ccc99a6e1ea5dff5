/*
 * test_keyd.c — the key process: key file creation and checks, wrap/unwrap
 * binding to tenant/class/version, tamper detection, domain-separated
 * signing, the frame parser and request handler, the sandbox the child runs
 * in, and the client's behaviour when the key process dies.  Runs both
 * crypto suites (intl and gm).  WC-STORE, PS-CRY, PS-IA-b, PS-AC-a.
 */
#include "unit.h"
#include "keyd.h"
#include "sandbox.h"
#include "crypto.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "bulwark-audit-checkpoint-v1"   /* + NUL: 28 bytes */

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

static char *tmpdir_new(void)
{
	char *d = strdup("/tmp/bw_keyd_XXXXXX");
	if (!d || !mkdtemp(d)) {
		perror("mkdtemp");
		exit(2);
	}
	return d;
}

static void path_of(char *out, size_t n, const char *dir, const char *rel)
{
	snprintf(out, n, "%s/%s", dir, rel);
}

static void tmpdir_free(char *d)
{
	char p[512];
	path_of(p, sizeof p, d, "keys");
	DIR *dd = opendir(p);
	if (dd) {
		struct dirent *e;
		while ((e = readdir(dd))) {
			if (e->d_name[0] == '.')
				continue;
			char f[1024];
			snprintf(f, sizeof f, "%s/%s", p, e->d_name);
			unlink(f);
		}
		closedir(dd);
	}
	rmdir(p);
	rmdir(d);
	free(d);
}

static char *keyfile_path(const char *dir)
{
	static char p[512];
	path_of(p, sizeof p, dir, "keys/master.key");
	return p;
}

/* Reads one field line ("Name:\tvalue") of /proc/PID/status into out. */
static int proc_status(pid_t pid, const char *field, char *out, size_t n)
{
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	size_t fl = strlen(field);
	int rc = -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			const char *v = line + fl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, n, "%s", v);
			out[strcspn(out, "\n")] = 0;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frame parser and handler (no process) ----------------------------- */

TEST(frame_parse)
{
	uint8_t b[KEYD_PAYLOAD_MAX + 16];
	struct keyd_frame f;
	memset(&f, 0, sizeof f);
	memset(b, 0, sizeof b);
	CHECK_EQ(keyd_frame_parse(b, 0, &f), 0);
	CHECK_EQ(keyd_frame_parse(b, 7, &f), 0);            /* short header */
	/* id 0x01020304, op 3, len 5 */
	uint8_t h[] = { 1, 2, 3, 4, 0, 3, 0, 5, 'a', 'b', 'c', 'd', 'e', 'X' };
	CHECK_EQ(keyd_frame_parse(h, 8, &f), 0);            /* payload missing */
	CHECK_EQ(keyd_frame_parse(h, 12, &f), 0);           /* payload short */
	CHECK_EQ(keyd_frame_parse(h, 13, &f), 13);
	CHECK_EQ(f.id, 0x01020304);
	CHECK_EQ(f.op, 3);
	CHECK_EQ(f.len, 5);
	CHECK(f.payload == h + 8);
	CHECK_EQ(keyd_frame_parse(h, sizeof h, &f), 13);    /* trailing byte: not consumed */
	/* payload length at and over the maximum */
	b[6] = (uint8_t)(KEYD_PAYLOAD_MAX >> 8);
	b[7] = (uint8_t)KEYD_PAYLOAD_MAX;
	CHECK_EQ(keyd_frame_parse(b, 8 + KEYD_PAYLOAD_MAX, &f), 8 + KEYD_PAYLOAD_MAX);
	b[7] = (uint8_t)(KEYD_PAYLOAD_MAX + 1);
	CHECK_EQ(keyd_frame_parse(b, sizeof b, &f), BW_EINVAL);
	CHECK_EQ(keyd_frame_parse(b, 8, &f), BW_EINVAL);    /* decided from the header */
	b[6] = 0xff;
	b[7] = 0xff;
	CHECK_EQ(keyd_frame_parse(b, sizeof b, &f), BW_EINVAL);
	CHECK_EQ(keyd_frame_parse(NULL, 8, &f), BW_EINVAL);
}

static void keys_make(struct keyd_keys *k)
{
	memset(k, 0, sizeof *k);
	bwc_random(k->master, sizeof k->master);
	CHECK_EQ(bwc_sign_keygen(k->sign_pub, &k->sign_pub_len, k->sign_sec,
	                            &k->sign_sec_len), 0);
}

static size_t wrap_req(uint8_t *p, int64_t tenant, uint32_t cls, uint32_t ver,
                       const uint8_t *tail, size_t tail_len)
{
	uint64_t t = (uint64_t)tenant;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(t >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		p[8 + i] = (uint8_t)(cls >> (24 - 8 * i));
		p[12 + i] = (uint8_t)(ver >> (24 - 8 * i));
	}
	memcpy(p + 16, tail, tail_len);
	return 16 + tail_len;
}

TEST(handle_direct)
{
	struct keyd_keys k, other;
	keys_make(&k);
	keys_make(&other);
	uint8_t out[KEYD_PAYLOAD_MAX], box[KEYD_PAYLOAD_MAX], req[KEYD_PAYLOAD_MAX];
	size_t out_len = 99, box_len = 0;
	uint8_t dek[CRYPTO_KEY_LEN];
	bwc_random(dek, sizeof dek);

	/* unknown op: error status and an empty reply */
	struct keyd_frame f = { 7, 99, 0, NULL };
	CHECK(keyd_handle(&k, &f, out, &out_len) < 0);
	CHECK_EQ(out_len, 0);
	f.op = 0;
	CHECK(keyd_handle(&k, &f, out, &out_len) < 0);

	/* PUBKEY: empty payload only */
	f = (struct keyd_frame){ 1, KEYD_PUBKEY, 0, NULL };
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), 0);
	CHECK_EQ(out_len, k.sign_pub_len);
	CHECK_MEM(out, k.sign_pub, k.sign_pub_len);
	f.len = 1;
	f.payload = dek;
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);

	/* WRAP: exact length, valid class */
	size_t n = wrap_req(req, 5, KEY_CLASS_DATA, 3, dek, sizeof dek);
	f = (struct keyd_frame){ 2, KEYD_WRAP, (uint16_t)n, req };
	CHECK_EQ(keyd_handle(&k, &f, box, &box_len), 0);
	CHECK_EQ(box_len, bwc_box_len(CRYPTO_KEY_LEN));
	f.len = (uint16_t)(n - 1);
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);
	n = wrap_req(req, 5, 3, 3, dek, sizeof dek);
	f.len = (uint16_t)n;
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);
	n = wrap_req(req, 5, 0, 3, dek, sizeof dek);
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);

	/* UNWRAP round trip, and the same box under another master key */
	n = wrap_req(req, 5, KEY_CLASS_DATA, 3, box, box_len);
	f = (struct keyd_frame){ 3, KEYD_UNWRAP, (uint16_t)n, req };
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), 0);
	CHECK_EQ(out_len, CRYPTO_KEY_LEN);
	CHECK_MEM(out, dek, CRYPTO_KEY_LEN);
	CHECK_EQ(keyd_handle(&other, &f, out, &out_len), BW_ECRYPTO);
	CHECK_EQ(out_len, 0);
	f.len = 16;                                    /* no box at all */
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);
	f.len = 15;
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);
	/* a box holding something other than a 32-byte key */
	uint8_t aad[CRYPTO_AAD_MAX], small[CRYPTO_BOX_OVERHEAD_MAX + 16];
	int aad_len = bwc_aad(aad, 5, "tenant_keys", ((int64_t)KEY_CLASS_DATA << 32) | 3, "dek");
	CHECK(aad_len > 0);
	CHECK_EQ(bwc_box_seal(k.master, 1, aad, (size_t)aad_len, dek, 16, small), 0);
	n = wrap_req(req, 5, KEY_CLASS_DATA, 3, small, bwc_box_len(16));
	f.len = (uint16_t)n;
	CHECK(keyd_handle(&k, &f, out, &out_len) < 0);
	/* a correctly bound 32-byte box sealed directly under the master key
	 * with a different box key version is refused */
	CHECK_EQ(bwc_box_seal(k.master, 2, aad, (size_t)aad_len, dek, 32, box), 0);
	n = wrap_req(req, 5, KEY_CLASS_DATA, 3, box, bwc_box_len(32));
	f.len = (uint16_t)n;
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_ECRYPTO);
	/* ...and with version 1 it opens: the documented wrapping format */
	CHECK_EQ(bwc_box_seal(k.master, 1, aad, (size_t)aad_len, dek, 32, box), 0);
	n = wrap_req(req, 5, KEY_CLASS_DATA, 3, box, bwc_box_len(32));
	f.len = (uint16_t)n;
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), 0);
	CHECK_MEM(out, dek, CRYPTO_KEY_LEN);

	/* SIGN: at most KEYD_SIGN_MSG_MAX bytes */
	static uint8_t big[KEYD_SIGN_MSG_MAX + 1];
	f = (struct keyd_frame){ 4, KEYD_SIGN, KEYD_SIGN_MSG_MAX, big };
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), 0);
	CHECK_EQ(keyd_checkpoint_verify(k.sign_pub, k.sign_pub_len, big, KEYD_SIGN_MSG_MAX,
	                                out, out_len), 0);
	f.len = KEYD_SIGN_MSG_MAX + 1;
	CHECK(keyd_handle(&k, &f, out, &out_len) < 0);
	CHECK_EQ(out_len, 0);
	CHECK_EQ(keyd_checkpoint_verify(k.sign_pub, k.sign_pub_len, big, KEYD_SIGN_MSG_MAX + 1,
	                                out, 64), BW_ECRYPTO);
	CHECK_EQ(keyd_checkpoint_verify(NULL, 0, big, 1, out, 64), BW_ECRYPTO);

	/* invalid key context and arguments */
	struct keyd_keys bad = k;
	bad.sign_sec_len = CRYPTO_SEC_MAX + 1;
	f = (struct keyd_frame){ 1, KEYD_PUBKEY, 0, NULL };
	CHECK_EQ(keyd_handle(&bad, &f, out, &out_len), BW_EINVAL);
	CHECK_EQ(keyd_handle(NULL, &f, out, &out_len), BW_EINVAL);
	CHECK_EQ(keyd_handle(&k, NULL, out, &out_len), BW_EINVAL);
	f = (struct keyd_frame){ 1, KEYD_SIGN, 3, NULL };
	CHECK_EQ(keyd_handle(&k, &f, out, &out_len), BW_EINVAL);
	memset(&k, 0, sizeof k);
	memset(&other, 0, sizeof other);
}

/* ---- key file ---------------------------------------------------------- */

TEST(keyfile_create)
{
	char *d = tmpdir_new();
	CHECK_EQ(keyd_keyfile_create(d), 0);
	struct stat st;
	CHECK_EQ(stat(keyfile_path(d), &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0600);
	char kd[512];
	path_of(kd, sizeof kd, d, "keys");
	CHECK_EQ(stat(kd, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0700);

	/* Content: magic, suite, and a size matching the suite's key lengths. */
	uint8_t buf[256];
	int fd = open(keyfile_path(d), O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	CHECK(n > 40);
	CHECK_MEM(buf, "BWK1", 4);
	CHECK_EQ(buf[4], bwc_suite());
	size_t sec_len = buf[37];
	CHECK(n > (ssize_t)(38 + sec_len));
	size_t pub_len = buf[38 + sec_len];
	CHECK_EQ(n, 39 + sec_len + pub_len);

	/* Second create refuses and leaves the file untouched. */
	uint8_t again[256];
	CHECK_EQ(keyd_keyfile_create(d), BW_EEXIST);
	fd = open(keyfile_path(d), O_RDONLY);
	CHECK_EQ(read(fd, again, sizeof again), n);
	close(fd);
	CHECK_MEM(again, buf, (size_t)n);

	/* Nothing else (no temp files) in the keys directory. */
	DIR *dd = opendir(kd);
	int entries = 0;
	struct dirent *e;
	while (dd && (e = readdir(dd)))
		if (e->d_name[0] != '.')
			entries++;
	if (dd)
		closedir(dd);
	CHECK_EQ(entries, 1);

	CHECK_EQ(keyd_keyfile_create(NULL), BW_EINVAL);
	CHECK_EQ(keyd_keyfile_create(""), BW_EINVAL);
	memset(buf, 0, sizeof buf);
	memset(again, 0, sizeof again);
	tmpdir_free(d);
}

/* keyd_start must fail with want, leaving no child process behind. */
static void start_fails(const char *d, int want)
{
	struct keyd *k = (struct keyd *)1;
	int64_t t0 = now_ms();
	CHECK_EQ(keyd_start(d, -1, -1, &k), want);
	CHECK(k == (struct keyd *)1);
	CHECK(now_ms() - t0 < 3000);
	CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1);
	CHECK_EQ(errno, ECHILD);
}

static void write_file(const char *path, const uint8_t *p, size_t n, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, p, n), (ssize_t)n);
	fchmod(fd, mode);
	close(fd);
}

TEST(keyfile_refused)
{
	char *d = tmpdir_new();
	start_fails(d, BW_ENOENT);                       /* no keys directory */
	CHECK_EQ(keyd_keyfile_create(d), 0);
	const char *kf = keyfile_path(d);
	uint8_t orig[256];
	int fd = open(kf, O_RDONLY);
	ssize_t n = read(fd, orig, sizeof orig);
	close(fd);
	CHECK(n > 0);

	/* group/world readable */
	CHECK_EQ(chmod(kf, 0644), 0);
	start_fails(d, BW_EPERM);
	CHECK_EQ(chmod(kf, 0640), 0);
	start_fails(d, BW_EPERM);
	CHECK_EQ(chmod(kf, 0604), 0);
	start_fails(d, BW_EPERM);
	CHECK_EQ(chmod(kf, 0600), 0);

	/* keys directory writable by others */
	char kd[512];
	path_of(kd, sizeof kd, d, "keys");
	CHECK_EQ(chmod(kd, 0777), 0);
	start_fails(d, BW_EPERM);
	CHECK_EQ(chmod(kd, 0700), 0);

	/* a symlink instead of the file */
	char real[512];
	path_of(real, sizeof real, d, "keys/real.key");
	CHECK_EQ(rename(kf, real), 0);
	CHECK_EQ(symlink(real, kf), 0);
	start_fails(d, BW_EPERM);
	unlink(kf);
	CHECK_EQ(rename(real, kf), 0);

	/* bad magic, truncation, trailing garbage, bad lengths */
	uint8_t bad[260];
	memcpy(bad, orig, (size_t)n);
	bad[0] = 'X';
	write_file(kf, bad, (size_t)n, 0600);
	start_fails(d, BW_EINVAL);
	write_file(kf, orig, (size_t)n - 1, 0600);
	start_fails(d, BW_EINVAL);
	memcpy(bad, orig, (size_t)n);
	bad[n] = 0;
	write_file(kf, bad, (size_t)n + 1, 0600);
	start_fails(d, BW_EINVAL);
	memcpy(bad, orig, (size_t)n);
	bad[37] = 0;                                     /* sec_len 0 */
	write_file(kf, bad, (size_t)n, 0600);
	start_fails(d, BW_EINVAL);
	memcpy(bad, orig, (size_t)n);
	bad[37] = CRYPTO_SEC_MAX + 1;
	write_file(kf, bad, (size_t)n, 0600);
	start_fails(d, BW_EINVAL);
	write_file(kf, orig, 10, 0600);
	start_fails(d, BW_EINVAL);
	/* a signing key that does not match its public key: self-test fails */
	memcpy(bad, orig, (size_t)n);
	bad[n - 1] ^= 1;
	write_file(kf, bad, (size_t)n, 0600);
	start_fails(d, BW_ECRYPTO);

	/* the original works again */
	write_file(kf, orig, (size_t)n, 0600);
	struct keyd *k = NULL;
	CHECK_EQ(keyd_start(d, -1, -1, &k), 0);
	keyd_stop(k);

	/* argument checks */
	CHECK_EQ(keyd_start(d, 1000, -1, &k), BW_EINVAL);
	CHECK_EQ(keyd_start(d, -1, 1000, &k), BW_EINVAL);
	CHECK_EQ(keyd_start(NULL, -1, -1, &k), BW_EINVAL);
	CHECK_EQ(keyd_start(d, -1, -1, NULL), BW_EINVAL);
	keyd_stop(NULL);
	CHECK_EQ(keyd_pid(NULL), -1);
	memset(orig, 0, sizeof orig);
	memset(bad, 0, sizeof bad);
	tmpdir_free(d);
}

/* ---- the live key process ------------------------------------------------ */

static void check_sandboxed(pid_t pid)
{
	char v[128];
	CHECK_EQ(proc_status(pid, "Seccomp", v, sizeof v), 0);
	CHECK_STR(v, "2");
	CHECK_EQ(proc_status(pid, "NoNewPrivs", v, sizeof v), 0);
	CHECK_STR(v, "1");
	/* no core dumps */
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%d/limits", (int)pid);
	FILE *f = fopen(p, "r");
	CHECK(f != NULL);
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "Max core file size", 18) == 0) {
			unsigned long soft = 1, hard = 1;
			CHECK_EQ(sscanf(line + 18, " %lu %lu", &soft, &hard), 2);
			CHECK_EQ(soft, 0);
			CHECK_EQ(hard, 0);
			found = 1;
		}
	}
	if (f)
		fclose(f);
	CHECK(found);
#if !T_ASAN
	/* memory locked (under AddressSanitizer mlock is a no-op) */
	CHECK_EQ(proc_status(pid, "VmLck", v, sizeof v), 0);
	CHECK(strcmp(v, "0 kB") != 0);
#endif
	/* only stdin/stdout/stderr and the channel are open (needs the right
	 * to look into a non-dumpable process: root) */
	snprintf(p, sizeof p, "/proc/%d/fd", (int)pid);
	DIR *dd = geteuid() == 0 ? opendir(p) : NULL;
	if (dd) {
		int max = -1, count = 0;
		struct dirent *e;
		while ((e = readdir(dd))) {
			if (e->d_name[0] == '.')
				continue;
			int fd = atoi(e->d_name);
			if (fd > max)
				max = fd;
			count++;
		}
		closedir(dd);
		CHECK_EQ(count, 4);
		CHECK_EQ(max, SANDBOX_KEYD_FD);
	}
}

static void roundtrip(struct keyd *k)
{
	uint8_t dek[CRYPTO_KEY_LEN], dek2[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN];
	uint8_t box[256], box2[256];
	size_t box_len = 0, box2_len = 0;
	size_t want = bwc_box_len(CRYPTO_KEY_LEN);
	bwc_random(dek, sizeof dek);

	CHECK_EQ(keyd_wrap(k, 42, KEY_CLASS_DATA, 7, dek, box, sizeof box, &box_len), 0);
	CHECK_EQ(box_len, want);
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box, box_len, out), 0);
	CHECK_MEM(out, dek, sizeof dek);
	/* random nonce: the same key wraps differently */
	CHECK_EQ(keyd_wrap(k, 42, KEY_CLASS_DATA, 7, dek, box2, sizeof box2, &box2_len), 0);
	CHECK(memcmp(box, box2, box_len) != 0);
	/* PII class, negative and large tenant ids, version 0 and max */
	bwc_random(dek2, sizeof dek2);
	CHECK_EQ(keyd_wrap(k, -1, KEY_CLASS_PII, 0, dek2, box2, sizeof box2, &box2_len), 0);
	CHECK_EQ(keyd_unwrap(k, -1, KEY_CLASS_PII, 0, box2, box2_len, out), 0);
	CHECK_MEM(out, dek2, sizeof dek2);
	CHECK_EQ(keyd_wrap(k, INT64_MAX, KEY_CLASS_DATA, UINT32_MAX, dek2, box2, sizeof box2,
	                   &box2_len), 0);
	CHECK_EQ(keyd_unwrap(k, INT64_MAX, KEY_CLASS_DATA, UINT32_MAX, box2, box2_len, out), 0);
	CHECK_MEM(out, dek2, sizeof dek2);

	/* bound to tenant, class and version; out-parameter untouched */
	memset(out, 0xAA, sizeof out);
	CHECK_EQ(keyd_unwrap(k, 43, KEY_CLASS_DATA, 7, box, box_len, out), BW_ECRYPTO);
	CHECK_EQ(keyd_unwrap(k, -42, KEY_CLASS_DATA, 7, box, box_len, out), BW_ECRYPTO);
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_PII, 7, box, box_len, out), BW_ECRYPTO);
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 8, box, box_len, out), BW_ECRYPTO);
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 6, box, box_len, out), BW_ECRYPTO);
	/* (class << 32 | version) must not collide across the two fields */
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_PII, 6, box, box_len, out), BW_ECRYPTO);
	CHECK_EQ(keyd_unwrap(k, 42, 3, 7, box, box_len, out), BW_EINVAL);
	CHECK_EQ(keyd_unwrap(k, 42, 0, 7, box, box_len, out), BW_EINVAL);
	CHECK_EQ(keyd_unwrap(k, 42, -1, 7, box, box_len, out), BW_EINVAL);
	for (size_t i = 0; i < sizeof out; i++)
		CHECK_EQ(out[i], 0xAA);

	/* every single-bit flip of the box is detected */
	int opened = 0;
	for (size_t i = 0; i < box_len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(box2, box, box_len);
			box2[i] ^= (uint8_t)(1u << bit);
			if (keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box2, box_len, out) == 0)
				opened++;
		}
	}
	CHECK_EQ(opened, 0);
	/* truncated / extended / empty / oversized boxes */
	CHECK(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box, box_len - 1, out) < 0);
	CHECK(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box, 6, out) < 0);
	memcpy(box2, box, box_len);
	box2[box_len] = 0;
	CHECK(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box2, box_len + 1, out) < 0);
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box, 0, out), BW_EINVAL);
	static uint8_t huge[KEYD_PAYLOAD_MAX];
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, huge, sizeof huge, out), BW_ETOOBIG);
	CHECK(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, huge, sizeof huge - 16, out) < 0);
	/* and the process is still healthy after all those refusals */
	CHECK_EQ(keyd_unwrap(k, 42, KEY_CLASS_DATA, 7, box, box_len, out), 0);
	CHECK_MEM(out, dek, sizeof dek);

	/* client-side argument checks */
	CHECK_EQ(keyd_wrap(k, 42, KEY_CLASS_DATA, 7, dek, box2, want - 1, &box2_len), BW_ETOOBIG);
	CHECK_EQ(keyd_wrap(k, 42, 3, 7, dek, box2, sizeof box2, &box2_len), BW_EINVAL);
	CHECK_EQ(keyd_wrap(k, 42, KEY_CLASS_DATA, 7, NULL, box2, sizeof box2, &box2_len),
	         BW_EINVAL);
	CHECK_EQ(keyd_wrap(NULL, 42, KEY_CLASS_DATA, 7, dek, box2, sizeof box2, &box2_len),
	         BW_EINVAL);
	memset(dek, 0, sizeof dek);
	memset(dek2, 0, sizeof dek2);
	memset(out, 0, sizeof out);
}

static void signing(struct keyd *k)
{
	static const char msg[] = "checkpoint 17: 0f1e2d3c";
	uint8_t sig[CRYPTO_SIG_MAX], pub[CRYPTO_PUB_MAX];
	size_t sig_len = 0, pub_len = 0;
	CHECK_EQ(keyd_sign(k, msg, sizeof msg - 1, sig, sizeof sig, &sig_len), 0);
	CHECK(sig_len > 0 && sig_len <= CRYPTO_SIG_MAX);
	CHECK_EQ(keyd_pubkey(k, pub, sizeof pub, &pub_len), 0);
	CHECK(pub_len > 0 && pub_len <= CRYPTO_PUB_MAX);
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, msg, sizeof msg - 1, sig, sig_len), 0);
	/* another message, a flipped signature byte, a truncated signature */
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, "checkpoint 18: 0f1e2d3c",
	                                sizeof msg - 1, sig, sig_len), BW_ECRYPTO);
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, msg, sizeof msg - 2, sig, sig_len),
	         BW_ECRYPTO);
	uint8_t bad[CRYPTO_SIG_MAX];
	memcpy(bad, sig, sig_len);
	bad[sig_len / 2] ^= 0x01;
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, msg, sizeof msg - 1, bad, sig_len),
	         BW_ECRYPTO);
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, msg, sizeof msg - 1, sig, sig_len - 1),
	         BW_ECRYPTO);
	/* Domain separation: the signature is not over the bare message (keyd
	 * is no generic signing oracle) but over prefix ‖ NUL ‖ message. */
	CHECK_EQ(bwc_verify(pub, pub_len, msg, sizeof msg - 1, sig, sig_len), BW_ECRYPTO);
	uint8_t full[sizeof PREFIX + sizeof msg];
	memcpy(full, PREFIX, sizeof PREFIX);
	memcpy(full + sizeof PREFIX, msg, sizeof msg - 1);
	CHECK_EQ(sizeof PREFIX, 28);
	CHECK_EQ(bwc_verify(pub, pub_len, full, sizeof PREFIX + sizeof msg - 1, sig, sig_len), 0);
	/* a message that itself starts with the prefix still gets its own prefix */
	CHECK_EQ(keyd_sign(k, full, sizeof PREFIX + sizeof msg - 1, bad, sizeof bad, &sig_len), 0);
	CHECK_EQ(bwc_verify(pub, pub_len, full, sizeof PREFIX + sizeof msg - 1, bad, sig_len),
	         BW_ECRYPTO);

	/* limits */
	static uint8_t big[KEYD_SIGN_MSG_MAX + 1];
	CHECK_EQ(keyd_sign(k, big, KEYD_SIGN_MSG_MAX, sig, sizeof sig, &sig_len), 0);
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, big, KEYD_SIGN_MSG_MAX, sig, sig_len), 0);
	CHECK_EQ(keyd_sign(k, big, KEYD_SIGN_MSG_MAX + 1, sig, sizeof sig, &sig_len), BW_ETOOBIG);
	CHECK_EQ(keyd_sign(k, "", 0, sig, sizeof sig, &sig_len), 0);
	CHECK_EQ(keyd_checkpoint_verify(pub, pub_len, "", 0, sig, sig_len), 0);
	CHECK_EQ(keyd_sign(k, msg, sizeof msg - 1, sig, 1, &sig_len), BW_ETOOBIG);
	CHECK_EQ(keyd_pubkey(k, pub, 1, &pub_len), BW_ETOOBIG);
	CHECK_EQ(keyd_sign(k, NULL, 5, sig, sizeof sig, &sig_len), BW_EINVAL);
}

struct worker { struct keyd *k; int failures; };

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 40; i++) {
		uint8_t dek[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN], box[256], sig[CRYPTO_SIG_MAX];
		size_t box_len = 0, sig_len = 0;
		bwc_random(dek, sizeof dek);
		if (keyd_wrap(w->k, i, KEY_CLASS_DATA, (uint32_t)i, dek, box, sizeof box, &box_len) ||
		    keyd_unwrap(w->k, i, KEY_CLASS_DATA, (uint32_t)i, box, box_len, out) ||
		    memcmp(out, dek, sizeof dek) != 0 ||
		    keyd_sign(w->k, &i, sizeof i, sig, sizeof sig, &sig_len))
			w->failures++;
	}
	return NULL;
}

static void concurrent(struct keyd *k)
{
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ k, 0 };
		CHECK_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].failures, 0);
	}
}

/* keys/audit.pub: hex of the public key and a newline (as `bulwark init`
 * writes it). */
static void pubkey_file(const char *d, struct keyd *k)
{
	uint8_t pub[CRYPTO_PUB_MAX], got[CRYPTO_PUB_MAX];
	size_t pub_len = 0, got_len = 0;
	char path[512], hex[2 * CRYPTO_PUB_MAX + 8];
	path_of(path, sizeof path, d, "keys/audit.pub");
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_ENOENT);
	CHECK_EQ(keyd_pubkey(k, pub, sizeof pub, &pub_len), 0);
	bw_hex_encode(pub, pub_len, hex);
	strcat(hex, "\n");
	write_file(path, (const uint8_t *)hex, strlen(hex), 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), 0);
	CHECK_EQ(got_len, pub_len);
	CHECK_MEM(got, pub, pub_len);
	CHECK_EQ(keyd_read_pubkey_file(d, got, pub_len - 1, &got_len), BW_ETOOBIG);
	/* without the newline, too */
	write_file(path, (const uint8_t *)hex, strlen(hex) - 1, 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), 0);
	/* odd length, not hex, empty, too long */
	write_file(path, (const uint8_t *)hex, strlen(hex) - 2, 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_EINVAL);
	char bad[sizeof hex];
	memcpy(bad, hex, sizeof hex);
	bad[3] = 'g';
	write_file(path, (const uint8_t *)bad, strlen(bad), 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_EINVAL);
	write_file(path, (const uint8_t *)"\n", 1, 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_EINVAL);
	char big[4 * CRYPTO_PUB_MAX];
	memset(big, 'a', sizeof big);
	write_file(path, (const uint8_t *)big, 2 * CRYPTO_PUB_MAX + 2, 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_EINVAL);
	write_file(path, (const uint8_t *)big, sizeof big, 0644);
	CHECK_EQ(keyd_read_pubkey_file(d, got, sizeof got, &got_len), BW_EINVAL);
	CHECK_EQ(keyd_read_pubkey_file(NULL, got, sizeof got, &got_len), BW_EINVAL);
	CHECK_EQ(got_len, pub_len);                   /* untouched on failure */
	unlink(path);
}

static void suite_run(enum bwc_suite s)
{
	CHECK_EQ(bwc_init(s), 0);
	char *d = tmpdir_new();
	CHECK_EQ(keyd_keyfile_create(d), 0);
	struct keyd *k = NULL;
	CHECK_EQ(keyd_start(d, -1, -1, &k), 0);
	if (!k) {
		tmpdir_free(d);
		return;
	}
	pid_t pid = keyd_pid(k);
	CHECK(pid > 0 && pid != getpid());
	check_sandboxed(pid);
	roundtrip(k);
	signing(k);
	concurrent(k);
	pubkey_file(d, k);

	/* A second key process on the same key file shares the keys: a box from
	 * one opens in the other; the signing key is the same. */
	struct keyd *k2 = NULL;
	CHECK_EQ(keyd_start(d, -1, -1, &k2), 0);
	if (k2) {
		uint8_t dek[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN], box[256];
		uint8_t p1[CRYPTO_PUB_MAX], p2[CRYPTO_PUB_MAX];
		size_t box_len = 0, l1 = 0, l2 = 0;
		bwc_random(dek, sizeof dek);
		CHECK_EQ(keyd_wrap(k, 9, KEY_CLASS_PII, 1, dek, box, sizeof box, &box_len), 0);
		CHECK_EQ(keyd_unwrap(k2, 9, KEY_CLASS_PII, 1, box, box_len, out), 0);
		CHECK_MEM(out, dek, sizeof dek);
		CHECK_EQ(keyd_pubkey(k, p1, sizeof p1, &l1), 0);
		CHECK_EQ(keyd_pubkey(k2, p2, sizeof p2, &l2), 0);
		CHECK_EQ(l1, l2);
		CHECK_MEM(p1, p2, l1);
		keyd_stop(k2);
	}

	/* stop: the process is gone and reaped */
	int64_t t0 = now_ms();
	keyd_stop(k);
	CHECK(now_ms() - t0 < 2000);
	CHECK_EQ(kill(pid, 0), -1);
	CHECK_EQ(errno, ESRCH);

	/* a key file of the other suite is refused */
	enum bwc_suite o = s == CRYPTO_SUITE_INTL ? CRYPTO_SUITE_GM : CRYPTO_SUITE_INTL;
	CHECK_EQ(bwc_init(o), 0);
	start_fails(d, BW_EINVAL);
	CHECK_EQ(bwc_init(s), 0);
	tmpdir_free(d);
}

TEST(suite_intl) { suite_run(CRYPTO_SUITE_INTL); }
TEST(suite_gm) { suite_run(CRYPTO_SUITE_GM); }

TEST(killed_keyd_fails_fast)
{
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	char *d = tmpdir_new();
	CHECK_EQ(keyd_keyfile_create(d), 0);
	struct keyd *k = NULL;
	CHECK_EQ(keyd_start(d, -1, -1, &k), 0);
	if (!k) {
		tmpdir_free(d);
		return;
	}
	uint8_t dek[CRYPTO_KEY_LEN] = { 1 }, box[256], sig[CRYPTO_SIG_MAX];
	size_t box_len = 0, sig_len = 0;
	CHECK_EQ(keyd_wrap(k, 1, KEY_CLASS_DATA, 1, dek, box, sizeof box, &box_len), 0);
	pid_t pid = keyd_pid(k);
	CHECK_EQ(kill(pid, SIGKILL), 0);
	/* wait until it is dead, without reaping it (keyd_stop does that) */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK_EQ(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	CHECK_EQ(si.si_status, SIGKILL);

	int64_t t0 = now_ms();
	CHECK_EQ(keyd_wrap(k, 1, KEY_CLASS_DATA, 1, dek, box, sizeof box, &box_len), BW_EIO);
	CHECK_EQ(keyd_unwrap(k, 1, KEY_CLASS_DATA, 1, box, box_len, dek), BW_EIO);
	CHECK_EQ(keyd_sign(k, "x", 1, sig, sizeof sig, &sig_len), BW_EIO);
	CHECK_EQ(keyd_pubkey(k, sig, sizeof sig, &sig_len), BW_EIO);
	CHECK(now_ms() - t0 < 1000);
	t0 = now_ms();
	keyd_stop(k);
	CHECK(now_ms() - t0 < 1000);
	CHECK_EQ(waitpid(pid, NULL, WNOHANG), -1);   /* already reaped */
	CHECK_EQ(errno, ECHILD);

	/* killed while a request is in flight from another angle: SIGSTOP makes
	 * it unresponsive; the client gives up after its timeout. */
	CHECK_EQ(keyd_start(d, -1, -1, &k), 0);
	if (k) {
		pid = keyd_pid(k);
		CHECK_EQ(kill(pid, SIGSTOP), 0);
		t0 = now_ms();
		CHECK_EQ(keyd_sign(k, "x", 1, sig, sizeof sig, &sig_len), BW_EIO);
		int64_t dt = now_ms() - t0;
		CHECK(dt >= 4500 && dt < 8000);
		/* broken from now on, without waiting again */
		t0 = now_ms();
		CHECK_EQ(keyd_sign(k, "x", 1, sig, sizeof sig, &sig_len), BW_EIO);
		CHECK(now_ms() - t0 < 500);
		kill(pid, SIGCONT);
		keyd_stop(k);
		CHECK_EQ(kill(pid, 0), -1);
	}
	tmpdir_free(d);
}

/* The server runs keyd's client under its own seccomp filter and stops the
 * key process at shutdown: requests, keyd_stop(), and the SIGKILL fallback
 * for a key process that does not leave must all work under that filter. */
static char t_dir_for_child[64];

static void stop_under_filter(int stall)
{
	struct keyd *k = NULL;
	if (keyd_start(t_dir_for_child, -1, -1, &k) != 0)
		_exit(3);
	pid_t pid = keyd_pid(k);
	/* stall: a key process that will not leave (stopped while the filter,
	 * which forbids kill(2), is not yet there) */
	if (stall && kill(pid, SIGSTOP) != 0)
		_exit(6);
	if (sandbox_seccomp_server() != 0)
		_exit(4);
	if (!stall) {
		uint8_t dek[CRYPTO_KEY_LEN] = { 9 }, out[CRYPTO_KEY_LEN], box[256];
		size_t box_len = 0;
		if (keyd_wrap(k, 3, KEY_CLASS_DATA, 1, dek, box, sizeof box, &box_len) != 0 ||
		    keyd_unwrap(k, 3, KEY_CLASS_DATA, 1, box, box_len, out) != 0 ||
		    memcmp(out, dek, sizeof dek) != 0)
			_exit(5);
	}
	int64_t t0 = now_ms();
	keyd_stop(k);
	int64_t dt = now_ms() - t0;
	if (stall ? (dt < 4500 || dt > 8000) : dt > 2000)
		_exit(8);
	/* the key process is gone and reaped */
	if (waitpid(pid, NULL, WNOHANG) != -1 || errno != ECHILD)
		_exit(7);
	exit(0);
}

static int run_stop_child(int stall)
{
	fflush(stdout);
	fflush(stderr);
	pid_t c = fork();
	if (c == 0)
		stop_under_filter(stall);
	int st = 0;
	waitpid(c, &st, 0);
	return st;
}

TEST(stop_under_server_filter)
{
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	char *d = tmpdir_new();
	snprintf(t_dir_for_child, sizeof t_dir_for_child, "%s", d);
	CHECK_EQ(keyd_keyfile_create(d), 0);
	for (int stall = 0; stall < 2; stall++) {
		int st = run_stop_child(stall);
		CHECK(WIFEXITED(st));
		CHECK_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), 0);
	}
	tmpdir_free(d);
}

TEST(privilege_drop)
{
	if (geteuid() != 0) {
		printf("  (skipped: not root)\n");
		return;
	}
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	char *d = tmpdir_new();
	CHECK_EQ(keyd_keyfile_create(d), 0);
	long uid = -1, gid = -1;
	CHECK_EQ(sandbox_resolve_user("nobody", &uid, &gid), 0);
	struct keyd *k = NULL;
	CHECK_EQ(keyd_start(d, uid, gid, &k), 0);
	if (k) {
		char v[128], want[128];
		snprintf(want, sizeof want, "%ld\t%ld\t%ld\t%ld", uid, uid, uid, uid);
		CHECK_EQ(proc_status(keyd_pid(k), "Uid", v, sizeof v), 0);
		CHECK_STR(v, want);
		snprintf(want, sizeof want, "%ld\t%ld\t%ld\t%ld", gid, gid, gid, gid);
		CHECK_EQ(proc_status(keyd_pid(k), "Gid", v, sizeof v), 0);
		CHECK_STR(v, want);
		CHECK_EQ(proc_status(keyd_pid(k), "Groups", v, sizeof v), 0);
		CHECK_STR(v, "");
		CHECK_EQ(proc_status(keyd_pid(k), "CapEff", v, sizeof v), 0);
		CHECK_STR(v, "0000000000000000");
		/* non-dumpable: its /proc entries stay owned by root */
		char p[64];
		struct stat st;
		snprintf(p, sizeof p, "/proc/%d/status", (int)keyd_pid(k));
		CHECK_EQ(stat(p, &st), 0);
		CHECK_EQ(st.st_uid, 0);
		check_sandboxed(keyd_pid(k));
		roundtrip(k);
		keyd_stop(k);
	}
	tmpdir_free(d);
}

int main(void)
{
	if (bwc_init(CRYPTO_SUITE_INTL) != 0) {
		fprintf(stderr, "bwc_init failed\n");
		return 1;
	}
	RUN(frame_parse);
	RUN(handle_direct);
	RUN(keyfile_create);
	RUN(keyfile_refused);
	RUN(suite_intl);
	RUN(suite_gm);
	RUN(killed_keyd_fails_fast);
	RUN(stop_under_server_filter);
	RUN(privilege_drop);
	return UNIT_DONE();
}
