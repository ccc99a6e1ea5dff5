/*
 * keyd.c — the key process: holds the installation master key and the audit
 * signing key in a separate, sandboxed process and answers four typed
 * requests over a socketpair (WC-STORE envelope encryption, PS-CRY suites,
 * PS-IA-b keys protected against leak, PS-AC-a least privilege).
 *
 * Wire format (keyd.h): every frame is one SOCK_SEQPACKET record
 *   u32 id ‖ u16 op-or-status ‖ u16 payload length ‖ payload
 * with all integers big-endian.  In a reply the u16 is 0 for success or the
 * negated BW_E* code (e.g. 7 for BW_ECRYPTO); an error reply has no payload.
 * Request payloads (integers big-endian):
 *   WRAP    i64 tenant ‖ u32 key class ‖ u32 key version ‖ 32-byte data key
 *           -> sealed box (bwc_box_len(32) bytes)
 *   UNWRAP  i64 tenant ‖ u32 key class ‖ u32 key version ‖ sealed box
 *           -> 32-byte data key
 *   SIGN    message (0..KEYD_SIGN_MSG_MAX bytes) -> signature
 *   PUBKEY  (empty) -> signing public key
 * The first frame the key process sends, unasked, has id 0 and reports
 * whether start-up (key file load, self-test, privilege drop, seccomp)
 * succeeded; client request ids start at 1 and skip 0.
 *
 * Wrapping: a data key is sealed with bwc_box_seal under the master key
 * with associated data bwc_aad(tenant, "tenant_keys",
 * (key_class << 32) | version, "dek"), and the box header's key version is
 * KEYD_MASTER_VERSION (the generation of the master key).  A wrapped key
 * therefore opens only for the tenant, class and version it was wrapped for.
 *
 * Signing is domain-separated: keyd signs KEYD_SIGN_PREFIX ‖ message, where
 * the prefix "bulwark-audit-checkpoint-v1\0" (28 bytes, including the NUL) is
 * added by keyd itself.  A caller cannot choose the signed bytes freely, so
 * keyd is not a generic signing oracle: no signature it makes can be passed
 * off as a signature over a message that does not start with that prefix.
 * Verifiers must use keyd_checkpoint_verify(), which adds the same prefix.
 *
 * Invariants: the master key and signing secret exist only in the child
 * (never in the client), in locked, non-dumpable memory, and are wiped
 * before exit; the child reads only from its channel and runs under the keyd
 * seccomp filter after start-up; the client never waits longer than
 * KEYD_TIMEOUT_MS for a reply and treats any framing, id or length error as
 * a dead key process (every later call fails with BW_EIO).
 *
 * Process rules: keyd_start() forks and must run early, from the main
 * thread, before the process starts threads (the child continues in the
 * forking thread only, and gets SIGKILL when that thread's process dies,
 * PR_SET_PDEATHSIG).  The child never returns into the caller's code and
 * leaves with _exit(), so the parent's atexit handlers and stdio buffers are
 * not run twice.  A handle belongs to one process: a process forked later
 * must not use its parent's handle concurrently with the parent (the replies
 * would be read by whichever process reads first).
 *
 * Key file checks (in the child, before the key is read): DIR/keys must be a
 * directory owned by the process's user or root and not writable by group
 * or others; master.key must be a regular file (no symlink), owned likewise,
 * with no group/other permission bits, exactly the documented length, and of
 * the suite bwc_init() selected.  A start-up self-test then signs and
 * verifies and wraps and unwraps, so a damaged key file fails keyd_start().
 *
 * Memory: keyd_start() allocates the client handle, keyd_stop() frees it;
 * every other buffer is owned by the caller.  Frames holding data keys are
 * wiped after use on both sides.
 */
#include "keyd.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* Not <sodium.h>: its generic API shares names with crypto.h. */
#include <sodium/utils.h>

#define KEYD_HDR_LEN 8
#define KEYD_FRAME_MAX (KEYD_HDR_LEN + KEYD_PAYLOAD_MAX)
#define KEYD_TIMEOUT_MS 5000          /* per request */
#define KEYD_START_TIMEOUT_MS 10000   /* key load + self-test */
#define KEYD_STOP_WAIT_MS 5000        /* before SIGKILL in keyd_stop */
#define KEYD_MASTER_VERSION 1u        /* box header key version */
#define KEYD_WRAP_HDR_LEN 16          /* tenant, class, version */
#define KEYD_BOX_MAX (KEYD_PAYLOAD_MAX - KEYD_WRAP_HDR_LEN)

#define KEYD_SIGN_PREFIX "bulwark-audit-checkpoint-v1"
#define KEYD_SIGN_PREFIX_LEN sizeof(KEYD_SIGN_PREFIX)   /* 28, with the NUL */

/* Key file: "BWK1" ‖ suite ‖ master ‖ u8 sec_len ‖ sec ‖ u8 pub_len ‖ pub */
#define KEYD_FILE_MAGIC "BWK1"
#define KEYD_FILE_MIN (4 + 1 + CRYPTO_KEY_LEN + 1 + 1 + 1 + 1)
#define KEYD_FILE_MAX (4 + 1 + CRYPTO_KEY_LEN + 1 + CRYPTO_SEC_MAX + 1 + CRYPTO_PUB_MAX)

struct keyd {
	int fd;
	pid_t pid;
	int pidfd;              /* pidfd of the child, or -1 */
	uint32_t next_id;
	bool broken;            /* a transport error happened: fail fast */
	pthread_mutex_t lock;   /* one request in flight */
};

/* ---- encoding --------------------------------------------------------- */

static void keyd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void keyd_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void keyd_put64(uint8_t *p, uint64_t v)
{
	keyd_put32(p, (uint32_t)(v >> 32));
	keyd_put32(p + 4, (uint32_t)v);
}

static uint16_t keyd_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t keyd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t keyd_get64(const uint8_t *p)
{
	return (uint64_t)keyd_get32(p) << 32 | keyd_get32(p + 4);
}

/* Writes a frame header. */
static void keyd_put_hdr(uint8_t *p, uint32_t id, uint16_t op, uint16_t len)
{
	keyd_put32(p, id);
	keyd_put16(p + 4, op);
	keyd_put16(p + 6, len);
}

/* Reply status <-> u16: 0 or the negated BW_E* code. */
static uint16_t keyd_status_encode(int status)
{
	if (status >= 0)
		return 0;
	if (status < -0x7fff)
		return (uint16_t)(-BW_EIO);
	return (uint16_t)(-status);
}

int keyd_frame_parse(const uint8_t *p, size_t n, struct keyd_frame *out)
{
	if (!p || !out)
		return BW_EINVAL;
	if (n < KEYD_HDR_LEN)
		return 0;
	uint16_t len = keyd_get16(p + 6);
	if (len > KEYD_PAYLOAD_MAX)
		return BW_EINVAL;
	if (n - KEYD_HDR_LEN < len)
		return 0;
	out->id = keyd_get32(p);
	out->op = keyd_get16(p + 4);
	out->len = len;
	out->payload = p + KEYD_HDR_LEN;
	return (int)(KEYD_HDR_LEN + len);
}

/* ---- request handling (runs in the key process, and in tests) -------- */

/* Associated data binding a wrapped key to tenant, class and version. */
static int keyd_wrap_aad(uint8_t aad[CRYPTO_AAD_MAX], int64_t tenant, uint32_t key_class,
                         uint32_t version)
{
	int64_t row = (int64_t)(((uint64_t)key_class << 32) | version);
	return bwc_aad(aad, tenant, "tenant_keys", row, "dek");
}

static bool keyd_class_valid(uint32_t c)
{
	return c == KEY_CLASS_DATA || c == KEY_CLASS_PII;
}

static bool keyd_keys_valid(const struct keyd_keys *k)
{
	return k->sign_sec_len > 0 && k->sign_sec_len <= CRYPTO_SEC_MAX &&
	       k->sign_pub_len > 0 && k->sign_pub_len <= CRYPTO_PUB_MAX;
}

static int keyd_do_wrap(const struct keyd_keys *keys, const uint8_t *p, size_t n,
                        uint8_t *out, size_t *out_len)
{
	if (n != KEYD_WRAP_HDR_LEN + CRYPTO_KEY_LEN)
		return BW_EINVAL;
	int64_t tenant = (int64_t)keyd_get64(p);
	uint32_t cls = keyd_get32(p + 8), ver = keyd_get32(p + 12);
	if (!keyd_class_valid(cls))
		return BW_EINVAL;
	size_t box_len = bwc_box_len(CRYPTO_KEY_LEN);
	if (box_len > KEYD_PAYLOAD_MAX)
		return BW_ETOOBIG;
	uint8_t aad[CRYPTO_AAD_MAX];
	int aad_len = keyd_wrap_aad(aad, tenant, cls, ver);
	if (aad_len < 0)
		return aad_len;
	int rc = bwc_box_seal(keys->master, KEYD_MASTER_VERSION, aad, (size_t)aad_len,
	                         p + KEYD_WRAP_HDR_LEN, CRYPTO_KEY_LEN, out);
	if (rc != 0)
		return rc;
	*out_len = box_len;
	return 0;
}

static int keyd_do_unwrap(const struct keyd_keys *keys, const uint8_t *p, size_t n,
                          uint8_t *out, size_t *out_len)
{
	if (n <= KEYD_WRAP_HDR_LEN)
		return BW_EINVAL;
	int64_t tenant = (int64_t)keyd_get64(p);
	uint32_t cls = keyd_get32(p + 8), ver = keyd_get32(p + 12);
	if (!keyd_class_valid(cls))
		return BW_EINVAL;
	const uint8_t *box = p + KEYD_WRAP_HDR_LEN;
	size_t box_len = n - KEYD_WRAP_HDR_LEN;
	uint32_t box_ver;
	size_t pt_len;
	int rc = bwc_box_peek(box, box_len, &box_ver, &pt_len);
	if (rc != 0)
		return BW_EINVAL;
	if (pt_len != CRYPTO_KEY_LEN)
		return BW_EINVAL;
	if (box_ver != KEYD_MASTER_VERSION)
		return BW_ECRYPTO;
	uint8_t aad[CRYPTO_AAD_MAX];
	int aad_len = keyd_wrap_aad(aad, tenant, cls, ver);
	if (aad_len < 0)
		return aad_len;
	rc = bwc_box_open(keys->master, aad, (size_t)aad_len, box, box_len, out);
	if (rc != 0) {
		sodium_memzero(out, CRYPTO_KEY_LEN);
		return rc < 0 ? rc : BW_ECRYPTO;
	}
	*out_len = CRYPTO_KEY_LEN;
	return 0;
}

/* Builds the domain-separated message: prefix ‖ msg, into buf (capacity
 * KEYD_SIGN_PREFIX_LEN + KEYD_SIGN_MSG_MAX).  Returns its length. */
static size_t keyd_sign_input(uint8_t *buf, const void *msg, size_t n)
{
	memcpy(buf, KEYD_SIGN_PREFIX, KEYD_SIGN_PREFIX_LEN);
	if (n)
		memcpy(buf + KEYD_SIGN_PREFIX_LEN, msg, n);
	return KEYD_SIGN_PREFIX_LEN + n;
}

static int keyd_do_sign(const struct keyd_keys *keys, const uint8_t *p, size_t n,
                        uint8_t *out, size_t *out_len)
{
	if (n > KEYD_SIGN_MSG_MAX)
		return BW_ETOOBIG;
	uint8_t buf[KEYD_SIGN_PREFIX_LEN + KEYD_SIGN_MSG_MAX];
	size_t len = keyd_sign_input(buf, p, n);
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len = 0;
	int rc = bwc_sign(keys->sign_sec, keys->sign_sec_len, buf, len, sig, &sig_len);
	if (rc == 0 && (sig_len == 0 || sig_len > CRYPTO_SIG_MAX))
		rc = BW_ECRYPTO;
	if (rc == 0) {
		memcpy(out, sig, sig_len);
		*out_len = sig_len;
	}
	sodium_memzero(buf, len);
	return rc;
}

int keyd_handle(const struct keyd_keys *keys, const struct keyd_frame *req,
                uint8_t *out, size_t *out_len)
{
	if (!out_len)
		return BW_EINVAL;
	*out_len = 0;
	if (!keys || !req || !out || (req->len && !req->payload) ||
	    req->len > KEYD_PAYLOAD_MAX || !keyd_keys_valid(keys))
		return BW_EINVAL;
	size_t len = 0;
	int rc;
	switch (req->op) {
	case KEYD_WRAP:
		rc = keyd_do_wrap(keys, req->payload, req->len, out, &len);
		break;
	case KEYD_UNWRAP:
		rc = keyd_do_unwrap(keys, req->payload, req->len, out, &len);
		break;
	case KEYD_SIGN:
		rc = keyd_do_sign(keys, req->payload, req->len, out, &len);
		break;
	case KEYD_PUBKEY:
		if (req->len != 0) {
			rc = BW_EINVAL;
			break;
		}
		memcpy(out, keys->sign_pub, keys->sign_pub_len);
		len = keys->sign_pub_len;
		rc = 0;
		break;
	default:
		rc = BW_EINVAL;
		break;
	}
	if (rc == 0)
		*out_len = len;
	return rc;
}

/* Verifies a signature made by KEYD_SIGN over msg: applies the same domain
 * prefix and calls bwc_verify().  Caller owns all buffers.  0 when valid,
 * BW_ECRYPTO otherwise (also for missing arguments and for messages longer
 * than keyd would ever sign). */
int keyd_checkpoint_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t n,
                           const uint8_t *sig, size_t sig_len)
{
	if (!pub || !sig || (n && !msg) || n > KEYD_SIGN_MSG_MAX)
		return BW_ECRYPTO;
	uint8_t buf[KEYD_SIGN_PREFIX_LEN + KEYD_SIGN_MSG_MAX];
	size_t len = keyd_sign_input(buf, msg, n);
	int rc = bwc_verify(pub, pub_len, buf, len, sig, sig_len);
	return rc == 0 ? 0 : BW_ECRYPTO;
}

/* ---- key file ---------------------------------------------------------- */

static int keyd_paths(const char *data_dir, char dir[PATH_MAX], char file[PATH_MAX])
{
	if (!data_dir || !*data_dir)
		return BW_EINVAL;
	int a = snprintf(dir, PATH_MAX, "%s/keys", data_dir);
	int b = snprintf(file, PATH_MAX, "%s/keys/master.key", data_dir);
	if (a < 0 || b < 0 || a >= PATH_MAX || b >= PATH_MAX)
		return BW_ETOOBIG;
	return 0;
}

/* The keys directory must be a real directory that only its owner (us or
 * root) can modify, or the key file could be swapped under us. */
static int keyd_dir_check(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) != 0)
		return errno == ENOENT ? BW_ENOENT : BW_EIO;
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 022) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		log_err("keyd: %s must be a directory owned by this user or root and "
		        "not writable by group or others", dir);
		return BW_EPERM;
	}
	return 0;
}

static int keyd_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return BW_EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int keyd_keyfile_create(const char *data_dir)
{
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
	int rc = keyd_paths(data_dir, dir, path);
	if (rc != 0)
		return rc;
	enum bwc_suite suite = bwc_suite();
	if (suite != CRYPTO_SUITE_INTL && suite != CRYPTO_SUITE_GM)
		return BW_EINVAL;
	struct stat st;
	if (lstat(path, &st) == 0)
		return BW_EEXIST;
	if (errno != ENOENT)
		return BW_EIO;
	if ((rc = bw_mkdir_p(dir, 0700)) != 0)
		return rc;
	if ((rc = keyd_dir_check(dir)) != 0)
		return rc;
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return BW_ETOOBIG;

	uint8_t file[KEYD_FILE_MAX];
	uint8_t sec[CRYPTO_SEC_MAX], pub[CRYPTO_PUB_MAX];
	size_t sec_len = 0, pub_len = 0, n = 0;
	int fd = -1;
	rc = bwc_sign_keygen(pub, &pub_len, sec, &sec_len);
	if (rc != 0)
		goto out;
	if (sec_len == 0 || sec_len > CRYPTO_SEC_MAX || pub_len == 0 || pub_len > CRYPTO_PUB_MAX) {
		rc = BW_ECRYPTO;
		goto out;
	}
	memcpy(file, KEYD_FILE_MAGIC, 4);
	file[4] = (uint8_t)suite;
	bwc_random(file + 5, CRYPTO_KEY_LEN);
	n = 5 + CRYPTO_KEY_LEN;
	file[n++] = (uint8_t)sec_len;
	memcpy(file + n, sec, sec_len);
	n += sec_len;
	file[n++] = (uint8_t)pub_len;
	memcpy(file + n, pub, pub_len);
	n += pub_len;

	(void)unlink(tmp);   /* a leftover of a crash with our pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = BW_EIO;
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || keyd_write_all(fd, file, n) != 0 || fsync(fd) != 0) {
		rc = BW_EIO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = BW_EIO;
		goto out;
	}
	fd = -1;
	/* link() fails if the key file appeared meanwhile: never overwrite. */
	if (link(tmp, path) != 0) {
		rc = errno == EEXIST ? BW_EEXIST : BW_EIO;
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	sodium_memzero(file, sizeof file);
	sodium_memzero(sec, sizeof sec);
	return rc;
}

/* Reads and parses the key file into *keys (wiped on failure). */
static int keyd_keyfile_load(const char *dir, const char *path, struct keyd_keys *keys)
{
	uint8_t file[KEYD_FILE_MAX + 1];
	size_t n = 0;
	int rc = keyd_dir_check(dir);
	if (rc != 0)
		return rc;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_err("keyd: cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? BW_ENOENT : errno == ELOOP ? BW_EPERM : BW_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = BW_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		log_err("keyd: %s must be a regular file owned by this user or root", path);
		rc = BW_EPERM;
		goto out;
	}
	if (st.st_mode & 077) {
		log_err("keyd: %s is accessible by group or others (mode %03o); "
		        "it must be mode 0600", path, (unsigned)(st.st_mode & 0777));
		rc = BW_EPERM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, file + n, sizeof file - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = BW_EIO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof file)
			break;
	}
	rc = BW_EINVAL;
	if (n < KEYD_FILE_MIN || n > KEYD_FILE_MAX || memcmp(file, KEYD_FILE_MAGIC, 4) != 0) {
		log_err("keyd: %s is not a Bulwark key file", path);
		goto out;
	}
	if (file[4] != (uint8_t)bwc_suite()) {
		log_err("keyd: %s belongs to another crypto suite", path);
		goto out;
	}
	size_t off = 5;
	memcpy(keys->master, file + off, CRYPTO_KEY_LEN);
	off += CRYPTO_KEY_LEN;
	size_t sec_len = file[off++];
	if (sec_len == 0 || sec_len > CRYPTO_SEC_MAX || off + sec_len + 1 > n)
		goto bad;
	memcpy(keys->sign_sec, file + off, sec_len);
	keys->sign_sec_len = sec_len;
	off += sec_len;
	size_t pub_len = file[off++];
	if (pub_len == 0 || pub_len > CRYPTO_PUB_MAX || off + pub_len != n)
		goto bad;
	memcpy(keys->sign_pub, file + off, pub_len);
	keys->sign_pub_len = pub_len;
	rc = 0;
	goto out;
bad:
	log_err("keyd: %s is malformed", path);
	sodium_memzero(keys, sizeof *keys);
out:
	close(fd);
	sodium_memzero(file, sizeof file);
	return rc;
}

#define KEYD_PUBFILE_MAX (2 * CRYPTO_PUB_MAX + 8)

/* DIR/keys/audit.pub holds the public key in hex and a newline (written by
 * `bulwark init`, app.c).  Caller owns pub (capacity pub_max); *pub_len is
 * set on success.  BW_ENOENT when absent, BW_EINVAL when not a hex key of
 * 1..CRYPTO_PUB_MAX bytes, BW_ETOOBIG when pub_max is too small. */
int keyd_read_pubkey_file(const char *data_dir, uint8_t *pub, size_t pub_max, size_t *pub_len)
{
	char path[PATH_MAX];
	if (!data_dir || !*data_dir || !pub || !pub_len)
		return BW_EINVAL;
	int w = snprintf(path, sizeof path, "%s/keys/audit.pub", data_dir);
	if (w < 0 || w >= (int)sizeof path)
		return BW_ETOOBIG;
	uint8_t *txt = NULL;
	size_t n = 0;
	int rc = bw_file_read(path, KEYD_PUBFILE_MAX, &txt, &n);
	if (rc != 0)
		return rc == BW_ETOOBIG ? BW_EINVAL : rc;
	while (n > 0 && (txt[n - 1] == '\n' || txt[n - 1] == '\r' || txt[n - 1] == ' ' ||
	                 txt[n - 1] == '\t'))
		n--;
	uint8_t key[CRYPTO_PUB_MAX];
	rc = BW_EINVAL;
	if (n == 0 || n % 2 != 0 || n / 2 > CRYPTO_PUB_MAX)
		goto out;
	int d = bw_hex_decode((const char *)txt, n, key, sizeof key);
	if (d != (int)(n / 2))
		goto out;
	if ((size_t)d > pub_max) {
		rc = BW_ETOOBIG;
		goto out;
	}
	memcpy(pub, key, (size_t)d);
	*pub_len = (size_t)d;
	rc = 0;
out:
	free(txt);
	return rc;
}

/* ---- the key process --------------------------------------------------- */

/* Runs one request of each kind through keyd_handle: proves the signing key
 * pair matches and the master key seals and opens, and makes the crypto
 * libraries do their lazy initialisation before the seccomp filter. */
static int keyd_self_test(const struct keyd_keys *keys)
{
	static const char msg[] = "keyd self-test";
	uint8_t req[KEYD_WRAP_HDR_LEN + KEYD_BOX_MAX];
	uint8_t out[KEYD_PAYLOAD_MAX], box[KEYD_PAYLOAD_MAX];
	size_t out_len = 0, box_len = 0;
	struct keyd_frame f = { 0, KEYD_SIGN, sizeof msg - 1, (const uint8_t *)msg };
	int rc = keyd_handle(keys, &f, out, &out_len);
	if (rc == 0)
		rc = keyd_checkpoint_verify(keys->sign_pub, keys->sign_pub_len, msg,
		                            sizeof msg - 1, out, out_len);
	if (rc != 0) {
		log_err("keyd: signing key pair is unusable: %s", bw_strerror(rc));
		return rc;
	}
	keyd_put64(req, 1);
	keyd_put32(req + 8, KEY_CLASS_DATA);
	keyd_put32(req + 12, 1);
	bwc_random(req + KEYD_WRAP_HDR_LEN, CRYPTO_KEY_LEN);
	f = (struct keyd_frame){ 0, KEYD_WRAP, KEYD_WRAP_HDR_LEN + CRYPTO_KEY_LEN, req };
	rc = keyd_handle(keys, &f, box, &box_len);
	if (rc == 0 && box_len <= KEYD_BOX_MAX) {
		uint8_t dek[CRYPTO_KEY_LEN];
		memcpy(dek, req + KEYD_WRAP_HDR_LEN, CRYPTO_KEY_LEN);
		memcpy(req + KEYD_WRAP_HDR_LEN, box, box_len);
		f = (struct keyd_frame){ 0, KEYD_UNWRAP,
		                         (uint16_t)(KEYD_WRAP_HDR_LEN + box_len), req };
		rc = keyd_handle(keys, &f, out, &out_len);
		if (rc == 0 && (out_len != CRYPTO_KEY_LEN || !bw_ct_eq(out, dek, CRYPTO_KEY_LEN)))
			rc = BW_ECRYPTO;
		sodium_memzero(dek, sizeof dek);
	} else if (rc == 0) {
		rc = BW_ETOOBIG;
	}
	sodium_memzero(req, sizeof req);
	sodium_memzero(out, sizeof out);
	if (rc != 0)
		log_err("keyd: master key self-test failed: %s", bw_strerror(rc));
	return rc;
}

/* Sends one frame from the key process.  0 or BW_EIO. */
static int keyd_child_send(uint8_t *frame, uint32_t id, int status, size_t len)
{
	keyd_put_hdr(frame, id, keyd_status_encode(status), (uint16_t)len);
	for (;;) {
		ssize_t w = write(SANDBOX_KEYD_FD, frame, KEYD_HDR_LEN + len);
		if (w < 0 && errno == EINTR)
			continue;
		return w == (ssize_t)(KEYD_HDR_LEN + len) ? 0 : BW_EIO;
	}
}

/* Serves requests until the client closes the channel. */
static void keyd_serve(const struct keyd_keys *keys)
{
	/* One byte more than the largest frame detects an over-long record
	 * (SOCK_SEQPACKET truncates silently). */
	static uint8_t req[KEYD_FRAME_MAX + 1], rep[KEYD_FRAME_MAX];
	for (;;) {
		ssize_t r = read(SANDBOX_KEYD_FD, req, sizeof req);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		struct keyd_frame f;
		size_t out_len = 0;
		uint32_t id = 0;
		int status;
		int used = keyd_frame_parse(req, (size_t)r, &f);
		if (used > 0 && (size_t)used == (size_t)r) {
			id = f.id;
			status = keyd_handle(keys, &f, rep + KEYD_HDR_LEN, &out_len);
		} else {
			if (r >= 4)
				id = keyd_get32(req);
			status = BW_EINVAL;
		}
		if (status != 0)
			out_len = 0;
		int rc = keyd_child_send(rep, id, status, out_len);
		sodium_memzero(req, (size_t)r);
		sodium_memzero(rep, KEYD_HDR_LEN + out_len);
		if (rc != 0)
			return;
	}
}

/* Moves the channel to SANDBOX_KEYD_FD, points stdin/stdout at /dev/null,
 * keeps stderr (the operator log) and closes every other descriptor. */
static int keyd_child_fds(int fd)
{
	if (fd < 3) {
		int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (nfd < 0)
			return BW_EIO;
		close(fd);
		fd = nfd;
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		if (null != 0)
			(void)dup2(null, 0);
		if (null != 1)
			(void)dup2(null, 1);
		if (fcntl(2, F_GETFD) < 0 && null != 2)
			(void)dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (fd != SANDBOX_KEYD_FD) {
		if (dup2(fd, SANDBOX_KEYD_FD) < 0)
			return BW_EIO;
		close(fd);
	}
	if (close_range(SANDBOX_KEYD_FD + 1, ~0u, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 1 << 20)
			max = 1 << 20;
		for (int i = SANDBOX_KEYD_FD + 1; i < max; i++)
			(void)close(i);
	}
	return 0;
}

/* Signal dispositions inherited from the parent do not apply here: keyd
 * leaves when its channel closes or its parent dies (PDEATHSIG), not on the
 * terminal's ^C nor on a SIGTERM sent to the whole process group — the
 * server still needs keyd to sign its final audit checkpoint while it stops
 * — and a dead peer shows up as EPIPE rather than SIGPIPE. */
static void keyd_child_signals(void)
{
	static const int ignore[] = { SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
	                              SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU };
	static const int dfl[] = { SIGALRM, SIGCHLD };
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < BW_ARRAY_LEN(ignore); i++)
		(void)sigaction(ignore[i], &sa, NULL);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < BW_ARRAY_LEN(dfl); i++)
		(void)sigaction(dfl[i], &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

__attribute__((noreturn))
static void keyd_child_main(int fd, const char *dir, const char *path, long uid, long gid,
                            pid_t parent)
{
	static uint8_t frame[KEYD_HDR_LEN];
	struct keyd_keys keys;
	memset(&keys, 0, sizeof keys);

	int rc = keyd_child_fds(fd);
	if (rc != 0)
		_exit(1);
	keyd_child_signals();
	/* Die with the parent even if another process inherited the channel. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
		_exit(1);
	sandbox_no_core_dumps();
	sandbox_lock_memory();
	(void)sodium_mlock(&keys, sizeof keys);

	rc = keyd_keyfile_load(dir, path, &keys);
	if (rc == 0)
		rc = keyd_self_test(&keys);
	if (rc == 0 && uid >= 0 && geteuid() == 0)
		rc = sandbox_drop_privileges(uid, gid);
	if (rc == 0)
		rc = sandbox_seccomp_keyd();
	if (keyd_child_send(frame, 0, rc, 0) != 0 || rc != 0) {
		sodium_memzero(&keys, sizeof keys);
		_exit(1);
	}
	keyd_serve(&keys);
	sodium_memzero(&keys, sizeof keys);
	_exit(0);
}

/* ---- the client -------------------------------------------------------- */

/* Waits for one frame with the given id; the payload (status 0) is copied
 * into rep (capacity rep_max).  Returns the reply status, or BW_EIO when
 * the channel failed, timed out or sent a malformed or unexpected frame. */
static int keyd_recv(struct keyd *k, uint32_t id, int timeout_ms, uint8_t *rep,
                     size_t rep_max, size_t *rep_len)
{
	uint8_t buf[KEYD_FRAME_MAX + 1];
	int64_t deadline = bw_mono_ms() + timeout_ms;
	ssize_t r;
	for (;;) {
		int64_t left = deadline - bw_mono_ms();
		if (left <= 0) {
			log_err("keyd: no reply within %d ms", timeout_ms);
			return BW_EIO;
		}
		struct pollfd pfd = { k->fd, POLLIN, 0 };
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return BW_EIO;
		if (pr == 0)
			continue;
		r = recv(k->fd, buf, sizeof buf, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		break;
	}
	int rc = BW_EIO;
	struct keyd_frame f;
	if (r <= 0) {
		log_err("keyd: key process closed the channel");
		goto out;
	}
	if (keyd_frame_parse(buf, (size_t)r, &f) != (int)r || f.id != id) {
		log_err("keyd: malformed or unexpected reply");
		goto out;
	}
	if (f.op != 0) {
		if (f.len != 0 || f.op > 0x7fff)
			goto out;
		rc = -(int)f.op;
		goto out;
	}
	if (f.len > rep_max)
		goto out;
	if (f.len)
		memcpy(rep, f.payload, f.len);
	*rep_len = f.len;
	rc = 0;
out:
	sodium_memzero(buf, (size_t)(r > 0 ? r : 0));
	return rc;
}

/* One request/response exchange under the lock.  The reply payload is
 * written to rep (capacity rep_max, caller-owned). */
static int keyd_call(struct keyd *k, uint16_t op, const uint8_t *req, size_t req_len,
                     uint8_t *rep, size_t rep_max, size_t *rep_len)
{
	uint8_t frame[KEYD_FRAME_MAX];
	if (req_len > KEYD_PAYLOAD_MAX)
		return BW_ETOOBIG;
	pthread_mutex_lock(&k->lock);
	int rc = BW_EIO;
	if (k->broken)
		goto out;
	uint32_t id = k->next_id++;
	if (k->next_id == 0)
		k->next_id = 1;
	keyd_put_hdr(frame, id, op, (uint16_t)req_len);
	if (req_len)
		memcpy(frame + KEYD_HDR_LEN, req, req_len);
	ssize_t w;
	do
		w = send(k->fd, frame, KEYD_HDR_LEN + req_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)(KEYD_HDR_LEN + req_len)) {
		log_err("keyd: cannot send to the key process: %s",
		        w < 0 ? strerror(errno) : "short write");
		k->broken = true;
		goto out;
	}
	rc = keyd_recv(k, id, KEYD_TIMEOUT_MS, rep, rep_max, rep_len);
	if (rc == BW_EIO)
		k->broken = true;
out:
	pthread_mutex_unlock(&k->lock);
	sodium_memzero(frame, KEYD_HDR_LEN + req_len);
	return rc;
}

/* Logs how the key process ended when that was not a clean exit. */
static void keyd_report_exit(pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warn("keyd: key process %ld exited with status %d", (long)pid,
		         WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warn("keyd: key process %ld killed by signal %d%s", (long)pid,
		         WTERMSIG(status),
		         WTERMSIG(status) == SIGSYS ? " (seccomp: system call not allowed)" : "");
}

/* Closes the channel and reaps the child, killing it if it does not leave
 * within KEYD_STOP_WAIT_MS.  quiet: do not log a failed exit (start-up
 * failures were reported by the child already).  With a pidfd the wait is
 * a poll() on it and the kill goes through it, so this also works under
 * the server's seccomp filter (which allows wait4 and pidfd_send_signal, but
 * not kill); closes pidfd. */
static void keyd_reap(int fd, pid_t pid, int pidfd, bool quiet)
{
	if (fd >= 0) {
		/* shutdown reaches the peer even if a copy of fd lives on in
		 * another process. */
		(void)shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	if (pid <= 0)
		return;
	int status = 0;
	bool exited = false;
	int64_t deadline = bw_mono_ms() + KEYD_STOP_WAIT_MS;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			exited = true;
			break;
		}
		if (r < 0 && errno != EINTR)
			goto out;    /* reaped elsewhere (a SIGCHLD handler) */
		int64_t left = deadline - bw_mono_ms();
		if (left <= 0)
			break;
		if (pidfd >= 0) {
			/* readable once the process has exited */
			struct pollfd pfd = { pidfd, POLLIN, 0 };
			(void)poll(&pfd, 1, (int)left);
		} else {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (!exited) {
		log_warn("keyd: key process %ld did not exit; killing it", (long)pid);
		if (pidfd >= 0)
			(void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		else
			(void)kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		quiet = true;
	}
	if (!quiet)
		keyd_report_exit(pid, status);
out:
	if (pidfd >= 0)
		close(pidfd);
}

int keyd_start(const char *data_dir, long run_as_uid, long run_as_gid, struct keyd **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (!out)
		return BW_EINVAL;
	int rc = keyd_paths(data_dir, dir, path);
	if (rc != 0)
		return rc;
	if ((run_as_uid >= 0) != (run_as_gid >= 0))
		return BW_EINVAL;
	struct keyd *k = calloc(1, sizeof *k);
	if (!k)
		return BW_ENOMEM;
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		return BW_ENOMEM;
	}
	k->next_id = 1;
	k->pidfd = -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = BW_EIO;
		goto fail;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		rc = BW_EIO;
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		keyd_child_main(sv[1], dir, path, run_as_uid, run_as_gid, parent);
	}
	close(sv[1]);
	k->fd = sv[0];
	k->pid = pid;
	k->pidfd = pidfd_open(pid, 0);   /* -1 on kernels before 5.3: kill() then */
	size_t len = 0;
	rc = keyd_recv(k, 0, KEYD_START_TIMEOUT_MS, NULL, 0, &len);
	if (rc != 0) {
		log_err("keyd: key process failed to start: %s", bw_strerror(rc));
		keyd_reap(k->fd, k->pid, k->pidfd, true);
		goto fail;
	}
	*out = k;
	return 0;
fail:
	pthread_mutex_destroy(&k->lock);
	free(k);
	return rc;
}

void keyd_stop(struct keyd *k)
{
	if (!k)
		return;
	keyd_reap(k->fd, k->pid, k->pidfd, false);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

pid_t keyd_pid(const struct keyd *k)
{
	return k ? k->pid : -1;
}

int keyd_wrap(struct keyd *k, int64_t tenant_id, int key_class, uint32_t version,
              const uint8_t dek[CRYPTO_KEY_LEN], uint8_t *box, size_t box_max,
              size_t *box_len)
{
	if (!k || !dek || !box || !box_len || key_class < 0 ||
	    !keyd_class_valid((uint32_t)key_class))
		return BW_EINVAL;
	size_t want = bwc_box_len(CRYPTO_KEY_LEN);
	if (box_max < want)
		return BW_ETOOBIG;
	uint8_t req[KEYD_WRAP_HDR_LEN + CRYPTO_KEY_LEN], rep[KEYD_PAYLOAD_MAX];
	size_t rep_len = 0;
	keyd_put64(req, (uint64_t)tenant_id);
	keyd_put32(req + 8, (uint32_t)key_class);
	keyd_put32(req + 12, version);
	memcpy(req + KEYD_WRAP_HDR_LEN, dek, CRYPTO_KEY_LEN);
	int rc = keyd_call(k, KEYD_WRAP, req, sizeof req, rep, sizeof rep, &rep_len);
	sodium_memzero(req, sizeof req);
	if (rc != 0)
		return rc;
	if (rep_len != want)
		return BW_EIO;
	memcpy(box, rep, rep_len);
	*box_len = rep_len;
	return 0;
}

int keyd_unwrap(struct keyd *k, int64_t tenant_id, int key_class, uint32_t version,
                const uint8_t *box, size_t box_len, uint8_t dek[CRYPTO_KEY_LEN])
{
	if (!k || !box || !dek || box_len == 0 || key_class < 0 ||
	    !keyd_class_valid((uint32_t)key_class))
		return BW_EINVAL;
	if (box_len > KEYD_BOX_MAX)
		return BW_ETOOBIG;
	uint8_t req[KEYD_PAYLOAD_MAX], rep[KEYD_PAYLOAD_MAX];
	size_t rep_len = 0;
	keyd_put64(req, (uint64_t)tenant_id);
	keyd_put32(req + 8, (uint32_t)key_class);
	keyd_put32(req + 12, version);
	memcpy(req + KEYD_WRAP_HDR_LEN, box, box_len);
	int rc = keyd_call(k, KEYD_UNWRAP, req, KEYD_WRAP_HDR_LEN + box_len, rep, sizeof rep,
	                   &rep_len);
	if (rc == 0 && rep_len != CRYPTO_KEY_LEN)
		rc = BW_EIO;
	if (rc == 0)
		memcpy(dek, rep, CRYPTO_KEY_LEN);
	sodium_memzero(rep, sizeof rep);
	return rc;
}

int keyd_sign(struct keyd *k, const void *msg, size_t n, uint8_t *sig, size_t sig_max,
              size_t *sig_len)
{
	if (!k || (n && !msg) || !sig || !sig_len)
		return BW_EINVAL;
	if (n > KEYD_SIGN_MSG_MAX)
		return BW_ETOOBIG;
	uint8_t rep[KEYD_PAYLOAD_MAX];
	size_t rep_len = 0;
	int rc = keyd_call(k, KEYD_SIGN, msg, n, rep, sizeof rep, &rep_len);
	if (rc != 0)
		return rc;
	if (rep_len == 0 || rep_len > CRYPTO_SIG_MAX)
		return BW_EIO;
	if (rep_len > sig_max)
		return BW_ETOOBIG;
	memcpy(sig, rep, rep_len);
	*sig_len = rep_len;
	return 0;
}

int keyd_pubkey(struct keyd *k, uint8_t *pub, size_t pub_max, size_t *pub_len)
{
	if (!k || !pub || !pub_len)
		return BW_EINVAL;
	uint8_t rep[KEYD_PAYLOAD_MAX];
	size_t rep_len = 0;
	int rc = keyd_call(k, KEYD_PUBKEY, NULL, 0, rep, sizeof rep, &rep_len);
	if (rc != 0)
		return rc;
	if (rep_len == 0 || rep_len > CRYPTO_PUB_MAX)
		return BW_EIO;
	if (rep_len > pub_max)
		return BW_ETOOBIG;
	memcpy(pub, rep, rep_len);
	*pub_len = rep_len;
	return 0;
}
