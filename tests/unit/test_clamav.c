/*
 * test_clamav.c — unit tests for src/clamav.c (RG-IM-a, WC-STORE, MI-3;
 * user rule "scan downloaded files for viruses").
 *
 * Two halves:
 * - Protocol handling against fake servers on unix sockets in this process
 *   (a thread that reads the request and sends a chosen reply, or a socket
 *   that listens but never answers): every reply shape, signature
 *   sanitising, the size-limit reply sent while we are still streaming,
 *   timeouts and unreachable sockets.  Always runs.
 * - A real clamd started with scripts/clamd.sh in a temporary directory,
 *   with the shipped test signature: clean and EICAR buffers and fds, a
 *   multi-chunk clean file, EICAR across a chunk boundary, offsets, a stream
 *   over StreamMaxLength, idempotent start, and stop.  Skipped (printed
 *   "SKIP", counted as passed) only when /usr/sbin/clamd does not exist.
 *   Must run from the repository root (as `make check` does).
 *
 * The EICAR test string is assembled at run time from two halves so neither
 * this source nor the binary carries it whole.
 */
#include "clamav.h"
#include "util.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char tdir[64];
static char eicar[69];
#define EICAR_LEN 68
#define TO_MS 5000

static void eicar_build(void)
{
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EIC";
	static const char b[] = "AR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	memcpy(eicar, a, sizeof a - 1);
	memcpy(eicar + sizeof a - 1, b, sizeof b);
}

/* ---- fake servers ------------------------------------------------------ */

static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 4) != 0) {
		close(s);
		return -1;
	}
	return s;
}

struct fake {
	int lfd;
	size_t expect;          /* request bytes to read before replying */
	const char *reply;
	size_t reply_len;
	uint8_t got[64];        /* the first request bytes */
	size_t got_len;
};

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		return NULL;
	int c = accept(f->lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	size_t total = 0;
	uint8_t buf[65536];
	while (total < f->expect) {
		struct pollfd q = { .fd = c, .events = POLLIN };
		if (poll(&q, 1, 5000) != 1)
			break;
		size_t want = f->expect - total < sizeof buf ? f->expect - total : sizeof buf;
		ssize_t r = recv(c, buf, want, 0);
		if (r <= 0)
			break;
		if (f->got_len < sizeof f->got) {
			size_t k = (size_t)r < sizeof f->got - f->got_len ? (size_t)r
			                                                   : sizeof f->got - f->got_len;
			memcpy(f->got + f->got_len, buf, k);
			f->got_len += k;
		}
		total += (size_t)r;
	}
	if (f->reply_len > 0)
		(void)!send(c, f->reply, f->reply_len, MSG_NOSIGNAL);
	close(c);
	return NULL;
}

/* Scans buf against a fake server replying `reply` after `expect` bytes. */
static int fake_scan(const char *reply, size_t reply_len, size_t expect, const void *buf,
                     size_t len, struct clamav_result *res, struct fake *out_f)
{
	char path[128];
	snprintf(path, sizeof path, "%s/fake.sock", tdir);
	struct fake f = { .expect = expect, .reply = reply, .reply_len = reply_len };
	f.lfd = listen_at(path);
	CHECK(f.lfd >= 0);
	if (f.lfd < 0)
		return -999;
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, fake_run, &f), 0);
	int rc = clamav_scan_buf(path, buf, len, TO_MS, res);
	pthread_join(t, NULL);
	close(f.lfd);
	unlink(path);
	if (out_f != NULL)
		*out_f = f;
	return rc;
}

#define REPLY(s) s, sizeof s   /* with its NUL */

TEST(fake_replies)
{
	struct clamav_result r;
	struct fake f;
	const size_t req = 10 + 4 + 3 + 4;   /* zINSTREAM\0, one chunk "abc", end */

	memset(&r, 0x55, sizeof r);
	CHECK_EQ(fake_scan(REPLY("stream: OK"), req, "abc", 3, &r, &f), 0);
	CHECK_EQ(r.verdict, CLAMAV_CLEAN);
	CHECK_STR(r.signature, "");
	/* The request on the wire. */
	CHECK_EQ(f.got_len, req);
	CHECK_MEM(f.got, "zINSTREAM\0\0\0\0\x03" "abc\0\0\0\0", req);

	CHECK_EQ(fake_scan(REPLY("stream: Eicar-Test-Signature FOUND"), req, "abc", 3, &r, NULL), 0);
	CHECK_EQ(r.verdict, CLAMAV_INFECTED);
	CHECK_STR(r.signature, "Eicar-Test-Signature");
	/* Newline-terminated and NUL-less replies (closed connection). */
	CHECK_EQ(fake_scan("stream: OK\n", 11, req, "abc", 3, &r, NULL), 0);
	CHECK_EQ(r.verdict, CLAMAV_CLEAN);
	CHECK_EQ(fake_scan("stream: X FOUND", 15, req, "abc", 3, &r, NULL), 0);
	CHECK_EQ(r.verdict, CLAMAV_INFECTED);
	CHECK_STR(r.signature, "X");
	/* Signature sanitised: controls and non-ASCII become '?'. */
	CHECK_EQ(fake_scan(REPLY("stream: Bad\x1b[31m\xe2\x80\xae" "Name FOUND"), req, "abc", 3, &r,
	                   NULL), 0);
	CHECK_EQ(r.verdict, CLAMAV_INFECTED);
	CHECK_STR(r.signature, "Bad?[31m???Name");
	/* Over-long signature: cut to CLAMAV_SIG_MAX-1. */
	{
		char longr[400];
		int n = snprintf(longr, sizeof longr, "stream: %0300d FOUND", 7);
		CHECK_EQ(fake_scan(longr, (size_t)n + 1, req, "abc", 3, &r, NULL), 0);
		CHECK_EQ(r.verdict, CLAMAV_INFECTED);
		CHECK_EQ(strlen(r.signature), CLAMAV_SIG_MAX - 1);
	}
	/* Errors. */
	memset(&r, 0x55, sizeof r);
	CHECK_EQ(fake_scan(REPLY("INSTREAM size limit exceeded. ERROR"), req, "abc", 3, &r, NULL),
	         BW_ETOOBIG);
	CHECK_EQ(r.verdict, 0x55555555);   /* untouched on failure */
	CHECK_EQ(fake_scan(REPLY("stream: Can't allocate memory ERROR"), req, "abc", 3, &r, NULL),
	         BW_EUNAVAIL);
	CHECK_EQ(fake_scan(REPLY("UNKNOWN COMMAND ERROR"), req, "abc", 3, &r, NULL), BW_EUNAVAIL);
	CHECK_EQ(fake_scan(REPLY("garbage"), req, "abc", 3, &r, NULL), BW_EINVAL);
	CHECK_EQ(fake_scan(REPLY("stream: "), req, "abc", 3, &r, NULL), BW_EINVAL);
	CHECK_EQ(fake_scan(REPLY("stream:  FOUND"), req, "abc", 3, &r, NULL), BW_EINVAL);
	CHECK_EQ(fake_scan(REPLY("stream: FOUND"), req, "abc", 3, &r, NULL), BW_EINVAL);
	CHECK_EQ(fake_scan(REPLY("stream: OKAY"), req, "abc", 3, &r, NULL), BW_EINVAL);
	CHECK_EQ(fake_scan(REPLY("PONG"), req, "abc", 3, &r, NULL), BW_EINVAL);
	/* Closed without a reply. */
	CHECK_EQ(fake_scan("", 0, req, "abc", 3, &r, NULL), BW_EUNAVAIL);
	/* A reply longer than the reply buffer. */
	{
		char *big = malloc(5000);
		if (big != NULL) {
			memset(big, 'A', 5000);
			CHECK_EQ(fake_scan(big, 5000, req, "abc", 3, &r, NULL), BW_EINVAL);
			free(big);
		}
	}
	/* Empty input: just the terminator. */
	CHECK_EQ(fake_scan(REPLY("stream: OK"), 14, NULL, 0, &r, &f), 0);
	CHECK_EQ(f.got_len, 14);
	CHECK_MEM(f.got, "zINSTREAM\0\0\0\0\0", 14);
}

/* clamd refuses a stream past StreamMaxLength and hangs up while we are
 * still sending: the reply it left must still be read. */
TEST(fake_size_limit_midstream)
{
	size_t len = 8u << 20;
	uint8_t *buf = calloc(1, len);
	struct clamav_result r;
	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	CHECK_EQ(fake_scan(REPLY("INSTREAM size limit exceeded. ERROR"), 100000, buf, len, &r, NULL),
	         BW_ETOOBIG);
	/* Hang-up mid-stream without a reply. */
	CHECK_EQ(fake_scan("", 0, 100000, buf, len, &r, NULL), BW_EUNAVAIL);
	free(buf);
}

TEST(timeouts_and_unreachable)
{
	struct clamav_result r;
	char path[128];

	/* No such socket. */
	snprintf(path, sizeof path, "%s/none.sock", tdir);
	CHECK_EQ(clamav_ping(path, 500), BW_EUNAVAIL);
	CHECK_EQ(clamav_scan_buf(path, "abc", 3, 500, &r), BW_EUNAVAIL);
	/* A regular file, not a socket. */
	snprintf(path, sizeof path, "%s/plain", tdir);
	CHECK_EQ(bw_file_write_atomic(path, "x", 1, 0600), 0);
	CHECK_EQ(clamav_ping(path, 500), BW_EUNAVAIL);
	unlink(path);
	/* A socket nobody listens on any more. */
	snprintf(path, sizeof path, "%s/stale.sock", tdir);
	int l = listen_at(path);
	CHECK(l >= 0);
	close(l);
	CHECK_EQ(clamav_ping(path, 500), BW_EUNAVAIL);
	unlink(path);

	/* Listens but never answers: bounded by the timeout. */
	snprintf(path, sizeof path, "%s/mute.sock", tdir);
	l = listen_at(path);
	CHECK(l >= 0);
	int64_t t0 = bw_mono_ms();
	CHECK_EQ(clamav_ping(path, 200), BW_EUNAVAIL);
	CHECK_EQ(clamav_scan_buf(path, "abc", 3, 200, &r), BW_EUNAVAIL);
	/* Large enough to fill the socket buffers: the send times out. */
	size_t big_len = 4u << 20;
	uint8_t *big = calloc(1, big_len);
	if (big != NULL)
		CHECK_EQ(clamav_scan_buf(path, big, big_len, 200, &r), BW_EUNAVAIL);
	free(big);
	int64_t el = bw_mono_ms() - t0;
	CHECK(el >= 400);
	CHECK(el < 3000);
	close(l);
	unlink(path);

	/* Bad arguments. */
	char longp[200];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	CHECK_EQ(clamav_ping(longp, 100), BW_EINVAL);
	CHECK_EQ(clamav_ping(NULL, 100), BW_EINVAL);
	CHECK_EQ(clamav_ping("/x", 0), BW_EINVAL);
	CHECK_EQ(clamav_scan_buf("/x", "a", 1, 100, NULL), BW_EINVAL);
	CHECK_EQ(clamav_scan_buf("/x", NULL, 1, 100, &r), BW_EINVAL);
	CHECK_EQ(clamav_scan_fd("/x", -1, 1, 100, &r), BW_EINVAL);
	CHECK_EQ(clamav_scan_buf(longp, "a", 1, 100, &r), BW_EINVAL);
}

/* ---- real clamd -------------------------------------------------------- */

static char cdir[80];
static char sock[160];

static int clamd_script(const char *verb, char *out, size_t out_max)
{
	char cmd[320];
	snprintf(cmd, sizeof cmd, "sh scripts/clamd.sh %s %s", verb, cdir);
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	char line[256] = "";
	if (fgets(line, sizeof line, p) == NULL)
		line[0] = '\0';
	int st = pclose(p);
	line[strcspn(line, "\n")] = '\0';
	if (out != NULL)
		snprintf(out, out_max, "%s", line);
	return st;
}

static int tmp_file_with(const void *p, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/scanXXXXXX", tdir);
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, p, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static const char sig_name[] = "Bulwark.Test.EICAR.UNOFFICIAL";

TEST(clamd_real)
{
	struct clamav_result r;
	int64_t t0 = bw_mono_ms();
	CHECK_EQ(clamd_script("start", sock, sizeof sock), 0);
	printf("  clamd up in %lld ms at %s\n", (long long)(bw_mono_ms() - t0), sock);
	CHECK_EQ(clamav_ping(sock, TO_MS), 0);
	/* Idempotent start: same socket, still up. */
	char again[160];
	CHECK_EQ(clamd_script("start", again, sizeof again), 0);
	CHECK_STR(again, sock);
	CHECK_EQ(clamav_ping(sock, TO_MS), 0);
	/* Socket usable by an unprivileged user. */
	struct stat st;
	CHECK_EQ(stat(sock, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0666);
	CHECK_EQ(stat(cdir, &st), 0);
	CHECK_EQ(st.st_mode & 0001, 0001);

	/* Buffers. */
	memset(&r, 0x55, sizeof r);
	CHECK_EQ(clamav_scan_buf(sock, "hello, world\n", 13, TO_MS, &r), 0);
	CHECK_EQ(r.verdict, CLAMAV_CLEAN);
	CHECK_STR(r.signature, "");
	CHECK_EQ(clamav_scan_buf(sock, NULL, 0, TO_MS, &r), 0);
	CHECK_EQ(r.verdict, CLAMAV_CLEAN);
	CHECK_EQ(clamav_scan_buf(sock, eicar, EICAR_LEN, TO_MS, &r), 0);
	CHECK_EQ(r.verdict, CLAMAV_INFECTED);
	CHECK_STR(r.signature, sig_name);
	/* One byte of the string changed: clean (the signature is exact). */
	{
		char near[EICAR_LEN];
		memcpy(near, eicar, EICAR_LEN);
		near[10] ^= 1;
		CHECK_EQ(clamav_scan_buf(sock, near, EICAR_LEN, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_CLEAN);
	}

	/* Multi-chunk: 200 KiB clean, then the same with EICAR straddling the
	 * 64 KiB chunk boundary (clamd must see the stream, not the chunks). */
	size_t n = 200 * 1024;
	uint8_t *big = malloc(n);
	CHECK(big != NULL);
	if (big != NULL) {
		for (size_t i = 0; i < n; i++)
			big[i] = (uint8_t)('a' + i % 26);
		CHECK_EQ(clamav_scan_buf(sock, big, n, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_CLEAN);
		int fd = tmp_file_with(big, n);
		CHECK(fd >= 0);
		CHECK_EQ(clamav_scan_fd(sock, fd, n, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_CLEAN);
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)n);
		close(fd);

		memcpy(big + CLAMAV_CHUNK_MAX - 30, eicar, EICAR_LEN);
		CHECK_EQ(clamav_scan_buf(sock, big, n, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_INFECTED);
		CHECK_STR(r.signature, sig_name);
		fd = tmp_file_with(big, n);
		CHECK(fd >= 0);
		CHECK_EQ(clamav_scan_fd(sock, fd, n, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_INFECTED);
		/* From the current offset: only the bytes after EICAR. */
		CHECK_EQ(lseek(fd, CLAMAV_CHUNK_MAX + 100, SEEK_SET), CLAMAV_CHUNK_MAX + 100);
		CHECK_EQ(clamav_scan_fd(sock, fd, n - CLAMAV_CHUNK_MAX - 100, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_CLEAN);
		/* Only the first 64 KiB: EICAR cut in half, clean. */
		CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
		CHECK_EQ(clamav_scan_fd(sock, fd, CLAMAV_CHUNK_MAX, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_CLEAN);
		/* len past the end of the file: BW_EIO. */
		CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
		memset(&r, 0x55, sizeof r);
		CHECK_EQ(clamav_scan_fd(sock, fd, n + 1, TO_MS, &r), BW_EIO);
		CHECK_EQ(r.verdict, 0x55555555);
		close(fd);
		/* An unreadable fd (write-only): BW_EIO. */
		char wpath[128];
		snprintf(wpath, sizeof wpath, "%s/wonly", tdir);
		int wfd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(wfd >= 0);
		CHECK_EQ(clamav_scan_fd(sock, wfd, 10, TO_MS, &r), BW_EIO);
		close(wfd);
		unlink(wpath);
		free(big);
	}
	/* EICAR in a small fd. */
	{
		int fd = tmp_file_with(eicar, EICAR_LEN);
		CHECK(fd >= 0);
		CHECK_EQ(clamav_scan_fd(sock, fd, EICAR_LEN, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_INFECTED);
		CHECK_STR(r.signature, sig_name);
		close(fd);
	}
	/* Over StreamMaxLength (25M). */
	{
		size_t tl = 26u << 20;
		uint8_t *huge = calloc(1, tl);
		CHECK(huge != NULL);
		if (huge != NULL)
			CHECK_EQ(clamav_scan_buf(sock, huge, tl, TO_MS, &r), BW_ETOOBIG);
		free(huge);
		/* clamd is still fine afterwards. */
		CHECK_EQ(clamav_scan_buf(sock, eicar, EICAR_LEN, TO_MS, &r), 0);
		CHECK_EQ(r.verdict, CLAMAV_INFECTED);
	}

	CHECK_EQ(clamd_script("stop", NULL, 0), 0);
	CHECK_EQ(clamav_ping(sock, 500), BW_EUNAVAIL);
	CHECK_EQ(clamav_scan_buf(sock, "abc", 3, 500, &r), BW_EUNAVAIL);
	CHECK(access(sock, F_OK) != 0);
	/* Stopping twice is fine. */
	CHECK_EQ(clamd_script("stop", NULL, 0), 0);
}

int main(void)
{
	bw_log_level = getenv("BW_TEST_VERBOSE") ? BW_LOG_DEBUG : BW_LOG_ERR - 1;
	eicar_build();
	snprintf(tdir, sizeof tdir, "/tmp/bw-clamav-XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cdir, sizeof cdir, "%s/clamd", tdir);
	RUN(fake_replies);
	RUN(fake_size_limit_midstream);
	RUN(timeouts_and_unreachable);
	if (access("/usr/sbin/clamd", X_OK) != 0) {
		printf("SKIP - clamd_real (/usr/sbin/clamd not installed)\n");
		unit_passed++;
	} else {
		RUN(clamd_real);
	}
	char cmd[320];
	snprintf(cmd, sizeof cmd, "sh scripts/clamd.sh stop %s >/dev/null 2>&1; rm -rf %s", cdir,
	         tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tdir);
	return UNIT_DONE();
}
