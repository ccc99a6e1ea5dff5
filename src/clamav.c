/*
 * clamav.c — clamd client: PING and INSTREAM over a unix stream socket
 * (RG-IM-a, WC-STORE, MI-3; user rule "scan downloaded files for viruses").
 *
 * Protocol (clamd(8), "z" form: NUL-terminated commands and replies):
 *   "zPING\0"                      → "PONG\0"
 *   "zINSTREAM\0", then chunks each prefixed by a 4-byte big-endian length,
 *   then a zero length             → "stream: OK\0"
 *                                  | "stream: <signature> FOUND\0"
 *                                  | "INSTREAM size limit exceeded. ERROR\0"
 *                                  | "<anything> ERROR\0"
 *
 * Invariants:
 * - One connection per call; the socket is non-blocking and every wait
 *   (connect, each send, the reply) is a poll() bounded by timeout_ms, so no
 *   call can hang on a stuck clamd.  Sends use MSG_NOSIGNAL: a clamd that
 *   hangs up never raises SIGPIPE in the server.
 * - When clamd stops reading mid-stream (it closes the connection once the
 *   stream passes StreamMaxLength), the reply it sent before closing is still
 *   read, so the caller gets BW_ETOOBIG rather than BW_EUNAVAIL.
 * - Replies are read into a fixed CLAMAV_REPLY_MAX buffer; a longer reply is
 *   unparseable (BW_EINVAL).  The signature name handed back is printable
 *   ASCII only and bounded (clamav.h), so it is safe to log and to show.
 * - Fail closed: only "stream: OK" yields CLAMAV_CLEAN.
 *
 * Memory: one CLAMAV_CHUNK_MAX heap buffer per clamav_scan_fd() call, freed
 * before return; nothing else is allocated.
 */
#include "clamav.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CLAMAV_REPLY_MAX 1024
#define CLAMAV_EAGAIN_SLEEP_MS 10

static const char clamav_cmd_ping[] = "zPING";          /* sent with its NUL */
static const char clamav_cmd_instream[] = "zINSTREAM";  /* idem */
static const char clamav_too_big[] = "INSTREAM size limit exceeded";

/* Where INSTREAM data comes from: a buffer, or fd when buf is NULL. */
struct clamav_src {
	const uint8_t *buf;
	int fd;
	uint64_t len;
};

/* Milliseconds left until deadline (>= 0). */
static int clamav_left(int64_t deadline)
{
	int64_t left = deadline - bw_mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Waits for events on s until deadline.  0 when ready (including error or
 * hang-up conditions, which the following call reports), BW_EUNAVAIL on
 * timeout or poll failure. */
static int clamav_wait(int s, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = s, .events = events };
		int left = clamav_left(deadline);
		int n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n == 0)
			return BW_EUNAVAIL;
		if (errno != EINTR)
			return BW_EUNAVAIL;
		if (clamav_left(deadline) == 0)
			return BW_EUNAVAIL;
	}
}

/* Connects to the unix socket at path; *out gets a non-blocking socket.
 * BW_EINVAL for a path that does not fit sun_path, BW_EUNAVAIL otherwise. */
static int clamav_connect(const char *path, int timeout_ms, int *out)
{
	struct sockaddr_un sa;
	size_t pl;
	int s = -1, rc = BW_EUNAVAIL;
	int64_t deadline = bw_mono_ms() + timeout_ms;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	pl = strnlen(path, sizeof sa.sun_path);
	if (pl == 0 || pl >= sizeof sa.sun_path)
		return BW_EINVAL;
	memcpy(sa.sun_path, path, pl);

	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return BW_EUNAVAIL;
	for (;;) {
		if (connect(s, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		if (errno == EAGAIN) {
			/* Listen backlog full (unix sockets do not queue the
			 * attempt): retry until the deadline. */
			int left = clamav_left(deadline);
			if (left == 0)
				goto out;
			poll(NULL, 0, left < CLAMAV_EAGAIN_SLEEP_MS ? left : CLAMAV_EAGAIN_SLEEP_MS);
			continue;
		}
		if (errno != EINPROGRESS && errno != EINTR)
			goto out;
		int err = 0;
		socklen_t el = sizeof err;
		if (clamav_wait(s, POLLOUT, deadline) != 0 ||
		    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
			goto out;
		break;
	}
	*out = s;
	s = -1;
	rc = 0;
out:
	if (s >= 0)
		close(s);
	return rc;
}

/* Sends all n bytes within timeout_ms.  0 or BW_EUNAVAIL. */
static int clamav_send_all(int s, const void *p, size_t n, int timeout_ms)
{
	const uint8_t *b = p;
	int64_t deadline = bw_mono_ms() + timeout_ms;

	while (n > 0) {
		ssize_t w = send(s, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (clamav_wait(s, POLLOUT, deadline) != 0)
				return BW_EUNAVAIL;
			continue;
		}
		return BW_EUNAVAIL;   /* EPIPE, ECONNRESET, ... */
	}
	return 0;
}

/* Reads one reply (up to its NUL, or to EOF) within timeout_ms into out
 * (capacity CLAMAV_REPLY_MAX), NUL-terminated, without trailing NUL/newline.
 * BW_EUNAVAIL on timeout or when clamd closed without a byte, BW_EINVAL when
 * the reply does not fit. */
static int clamav_read_reply(int s, int timeout_ms, char out[CLAMAV_REPLY_MAX])
{
	size_t len = 0;
	int64_t deadline = bw_mono_ms() + timeout_ms;

	for (;;) {
		if (len == CLAMAV_REPLY_MAX - 1)
			return BW_EINVAL;
		ssize_t r = recv(s, out + len, CLAMAV_REPLY_MAX - 1 - len, MSG_DONTWAIT);
		if (r > 0) {
			void *nul = memchr(out + len, '\0', (size_t)r);
			len += (size_t)r;
			if (nul != NULL) {
				len = (size_t)((char *)nul - out);
				break;
			}
			continue;
		}
		if (r == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (clamav_wait(s, POLLIN, deadline) != 0)
				return BW_EUNAVAIL;
			continue;
		}
		if (len > 0)   /* ECONNRESET after a full reply */
			break;
		return BW_EUNAVAIL;
	}
	if (len == 0)
		return BW_EUNAVAIL;
	out[len] = '\0';
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return 0;
}

static bool clamav_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n >= sl && memcmp(s + n - sl, suffix, sl) == 0;
}

/* Copies a signature name keeping printable ASCII only (others → '?'),
 * bounded to CLAMAV_SIG_MAX-1 bytes; "unknown" when empty. */
static void clamav_copy_signature(char out[CLAMAV_SIG_MAX], const char *name, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o < CLAMAV_SIG_MAX - 1; i++) {
		unsigned char c = (unsigned char)name[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
	if (o == 0)
		memcpy(out, "unknown", sizeof "unknown");
}

/* Parses an INSTREAM reply into *res (see the header comment). */
static int clamav_parse_reply(const char *reply, struct clamav_result *res)
{
	static const char pfx[] = "stream: ";
	size_t n = strlen(reply);

	if (strncmp(reply, clamav_too_big, sizeof clamav_too_big - 1) == 0)
		return BW_ETOOBIG;
	if (strncmp(reply, pfx, sizeof pfx - 1) != 0)
		return clamav_ends_with(reply, n, " ERROR") ? BW_EUNAVAIL : BW_EINVAL;

	const char *rest = reply + sizeof pfx - 1;
	size_t rl = n - (sizeof pfx - 1);
	if (rl == 2 && memcmp(rest, "OK", 2) == 0) {
		res->verdict = CLAMAV_CLEAN;
		res->signature[0] = '\0';
		return 0;
	}
	if (clamav_ends_with(rest, rl, " FOUND") && rl > sizeof " FOUND" - 1) {
		res->verdict = CLAMAV_INFECTED;
		clamav_copy_signature(res->signature, rest, rl - (sizeof " FOUND" - 1));
		return 0;
	}
	if (clamav_ends_with(rest, rl, " ERROR"))
		return BW_EUNAVAIL;
	return BW_EINVAL;
}

static void clamav_put_be32(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Reads exactly n bytes of fd into b.  0 or BW_EIO (error or early EOF). */
static int clamav_read_full(int fd, uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r > 0) {
			b += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			return BW_EIO;
		}
	}
	return 0;
}

static int clamav_scan(const char *socket_path, const struct clamav_src *src, int timeout_ms,
                       struct clamav_result *out)
{
	struct clamav_result res;
	char reply[CLAMAV_REPLY_MAX];
	uint8_t *chunk = NULL;
	uint64_t left = src->len;
	int s = -1, rc;

	if (socket_path == NULL || out == NULL || timeout_ms <= 0)
		return BW_EINVAL;
	if (src->buf == NULL && src->fd < 0)
		return BW_EINVAL;
	if (src->buf == NULL) {
		chunk = malloc(CLAMAV_CHUNK_MAX);
		if (chunk == NULL)
			return BW_ENOMEM;
	}
	memset(&res, 0, sizeof res);

	rc = clamav_connect(socket_path, timeout_ms, &s);
	if (rc != 0)
		goto out;
	rc = clamav_send_all(s, clamav_cmd_instream, sizeof clamav_cmd_instream, timeout_ms);
	if (rc != 0)
		goto out;

	const uint8_t *p = src->buf;
	/* Bounded: every pass consumes up to CLAMAV_CHUNK_MAX of len bytes. */
	while (left > 0) {
		size_t n = left > CLAMAV_CHUNK_MAX ? CLAMAV_CHUNK_MAX : (size_t)left;
		uint8_t hdr[4];
		const uint8_t *data = p;
		if (src->buf == NULL) {
			rc = clamav_read_full(src->fd, chunk, n);
			if (rc != 0)
				goto out;
			data = chunk;
		}
		clamav_put_be32(hdr, (uint32_t)n);
		rc = clamav_send_all(s, hdr, sizeof hdr, timeout_ms);
		if (rc == 0)
			rc = clamav_send_all(s, data, n, timeout_ms);
		if (rc != 0) {
			/* clamd may have refused the stream and hung up: its
			 * reply tells us why. */
			if (clamav_read_reply(s, timeout_ms, reply) == 0 &&
			    clamav_parse_reply(reply, &res) == BW_ETOOBIG)
				rc = BW_ETOOBIG;
			goto out;
		}
		if (src->buf != NULL)
			p += n;
		left -= n;
	}
	{
		uint8_t end[4] = { 0, 0, 0, 0 };
		rc = clamav_send_all(s, end, sizeof end, timeout_ms);
		if (rc != 0 && clamav_read_reply(s, timeout_ms, reply) == 0 &&
		    clamav_parse_reply(reply, &res) == BW_ETOOBIG)
			rc = BW_ETOOBIG;
		if (rc != 0)
			goto out;
	}
	rc = clamav_read_reply(s, timeout_ms, reply);
	if (rc != 0)
		goto out;
	rc = clamav_parse_reply(reply, &res);
	if (rc != 0) {
		if (rc == BW_EINVAL)
			log_warn("clamav: unparseable reply from clamd");
		goto out;
	}
	*out = res;
out:
	if (s >= 0)
		close(s);
	free(chunk);
	return rc;
}

int clamav_ping(const char *socket_path, int timeout_ms)
{
	char reply[CLAMAV_REPLY_MAX];
	int s = -1, rc;

	if (socket_path == NULL || timeout_ms <= 0)
		return BW_EINVAL;
	rc = clamav_connect(socket_path, timeout_ms, &s);
	if (rc != 0)
		return rc;
	rc = clamav_send_all(s, clamav_cmd_ping, sizeof clamav_cmd_ping, timeout_ms);
	if (rc == 0)
		rc = clamav_read_reply(s, timeout_ms, reply);
	if (rc == 0 && strcmp(reply, "PONG") != 0)
		rc = BW_EUNAVAIL;
	close(s);
	return rc == 0 ? 0 : BW_EUNAVAIL;
}

int clamav_scan_fd(const char *socket_path, int fd, uint64_t len, int timeout_ms,
                   struct clamav_result *out)
{
	struct clamav_src src = { .buf = NULL, .fd = fd, .len = len };
	if (fd < 0)
		return BW_EINVAL;
	return clamav_scan(socket_path, &src, timeout_ms, out);
}

int clamav_scan_buf(const char *socket_path, const void *buf, size_t len, int timeout_ms,
                    struct clamav_result *out)
{
	static const uint8_t empty[1];
	struct clamav_src src = { .buf = buf, .fd = -1, .len = len };
	if (buf == NULL) {
		if (len > 0)
			return BW_EINVAL;
		src.buf = empty;
	}
	return clamav_scan(socket_path, &src, timeout_ms, out);
}
