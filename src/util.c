/*
 * util.c — error strings, operator logging, the clock, bounded buffers,
 * encodings, UTF-8 validation and small file helpers.  Serves every module;
 * the bounded buffer is how "every input has a limit" is kept (style.md).
 * Requirement IDs: PS-IA-b (secret buffers wiped), PS-LOG-b (timestamps).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

int bw_log_level = BW_LOG_INFO;

const char *bw_strerror(int err)
{
	switch (err) {
	case BW_OK: return "success";
	case BW_ENOMEM: return "out of memory";
	case BW_EINVAL: return "invalid input";
	case BW_ENOENT: return "not found";
	case BW_EEXIST: return "already exists";
	case BW_EPERM: return "permission denied";
	case BW_EAUTH: return "authentication failed";
	case BW_ECRYPTO: return "cryptographic check failed";
	case BW_EIO: return "input/output error";
	case BW_ESTORE: return "storage error";
	case BW_EBUSY: return "busy, try again later";
	case BW_ETOOBIG: return "input too large";
	case BW_ELOCKED: return "account locked";
	case BW_EEXPIRED: return "expired";
	case BW_ECORRUPT: return "integrity check failed";
	case BW_EPOLICY: return "rejected by policy";
	case BW_ECONFLICT: return "conflicting state";
	case BW_EUNAVAIL: return "service unavailable";
	case BW_EINFECTED: return "malware found";
	}
	return "unknown error";
}

void bw_log(int level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	if (level > bw_log_level)
		return;
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int off = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	off += snprintf(line + off, sizeof line - (size_t)off, "bulwark[%d] %s: ",
	                (int)getpid(), names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
	va_end(ap);
	size_t n = strlen(line);
	if (n < sizeof line - 1)
		line[n++] = '\n';
	else
		line[sizeof line - 2] = '\n', n = sizeof line - 1;
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

#ifdef BW_TESTING
/* Test clock: the file named by $BULWARK_TEST_CLOCK holds an offset in
 * seconds added to the real time.  Re-read at most every 50 ms. */
static int64_t test_offset(void)
{
	static int64_t cached, last_read_ms = -1000;
	const char *path = getenv("BULWARK_TEST_CLOCK");
	if (!path)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t mono = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (mono - last_read_ms < 50)
		return cached;
	last_read_ms = mono;
	FILE *f = fopen(path, "r");
	if (!f)
		return cached = 0;
	long long v = 0;
	if (fscanf(f, "%lld", &v) != 1)
		v = 0;
	fclose(f);
	return cached = v;
}
#else
static int64_t test_offset(void) { return 0; }
#endif

int64_t bw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + test_offset() * 1000;
}

int64_t bw_now(void) { return bw_now_ms() / 1000; }

int64_t bw_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bw_buf_init(struct bw_buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

static int buf_reserve(struct bw_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return BW_ETOOBIG;
	size_t need = b->len + extra;
	if (need <= b->cap && b->data)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	if (cap < need)
		cap = need;
	if (cap == SIZE_MAX)
		return BW_ENOMEM;   /* cap + 1 below would wrap */
	uint8_t *p = realloc(b->data, cap + 1);
	if (!p)
		return BW_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int bw_buf_append(struct bw_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int bw_buf_printf(struct bw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return BW_EINVAL;
	int rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void bw_buf_free(struct bw_buf *b, bool secret)
{
	if (b->data && secret)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

bool bw_ct_eq(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

size_t bw_b64_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

void bw_b64url_encode(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2base64(out, bw_b64_len(n) + 1, in, n,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int bw_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max)
{
	/* libsodium 1.0.18 decodes bytes >= 0x80 as '_': check the alphabet
	 * ourselves so every value has exactly one spelling */
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return BW_EINVAL;
	}
	size_t n = 0;
	const char *end = NULL;
	if (sodium_base642bin(out, out_max, in, in_len, NULL, &n, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + in_len)
		return BW_EINVAL;
	return (int)n;
}

void bw_hex_encode(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

int bw_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max)
{
	size_t n = 0;
	const char *end = NULL;
	if (sodium_hex2bin(out, out_max, in, in_len, NULL, &n, &end) != 0 ||
	    end != in + in_len)
		return BW_EINVAL;
	return (int)n;
}

bool bw_utf8_valid(const char *str, size_t n, bool allow_newlines)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c == 0 || c == 0x7f)
				return false;
			if (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
				return false;
			i++;
			continue;
		}
		size_t len;
		unsigned cp, min;
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return false;
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

size_t bw_utf8_count(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

int bw_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? BW_ENOENT : BW_EIO;
	struct stat st;
	int rc = BW_EIO;
	uint8_t *p = NULL;
	if (fstat(fd, &st) != 0)
		goto out;
	if ((size_t)st.st_size > max) {
		rc = BW_ETOOBIG;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		rc = BW_ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	p[got] = 0;
	*out = p;
	*out_len = got;
	p = NULL;
	rc = 0;
out:
	free(p);
	close(fd);
	return rc;
}

int bw_file_write_atomic(const char *path, const void *data, size_t n, unsigned mode)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
		return BW_ETOOBIG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return BW_EIO;
	const uint8_t *p = data;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			return BW_EIO;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return BW_EIO;
	}
	return 0;
}

int bw_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return BW_EINVAL;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == 0) {
			char c = buf[i];
			buf[i] = 0;
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return BW_EIO;
			buf[i] = c;
		}
	}
	return 0;
}

bool bw_cookie_get(const char *header, const char *name, char *out, size_t out_max)
{
	size_t nl = strlen(name);
	if (out_max == 0)
		return false;
	out[0] = 0;
	for (const char *c = header; c && *c; ) {
		while (*c == ' ' || *c == ';' || *c == '\t')
			c++;
		const char *end = strchr(c, ';');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len > nl && strncmp(c, name, nl) == 0 && c[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= out_max)
				return false;
			memcpy(out, c + nl + 1, vl);
			out[vl] = 0;
			return true;
		}
		c = end ? end + 1 : NULL;
	}
	return false;
}
