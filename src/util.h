/*
 * util.h — shared error codes, logging, time, bounded buffers and small
 * helpers used by every subsystem.
 *
 * Conventions (style.md): functions return 0 or a negative BW_E* code;
 * out-parameters are written only on success.
 *
 * Time: bw_now() is the one clock every policy decision (ticket expiry,
 * lockout, TOTP, retention) reads.  Test builds (-DBW_TESTING) add an offset
 * read from the file named by $BULWARK_TEST_CLOCK so black-box tests can move
 * time forward; release builds have no such hook (PS-DEL-b: documented in
 * docs/operations.md as a test-only interface that release builds lack).
 */
#ifndef BW_UTIL_H
#define BW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>

enum {
	BW_OK = 0,
	BW_ENOMEM = -1,     /* allocation failed */
	BW_EINVAL = -2,     /* malformed input */
	BW_ENOENT = -3,     /* no such object (in this tenant) */
	BW_EEXIST = -4,     /* already exists */
	BW_EPERM = -5,      /* denied by policy */
	BW_EAUTH = -6,      /* authentication failed */
	BW_ECRYPTO = -7,    /* AEAD open / signature verification failed */
	BW_EIO = -8,        /* file or socket error */
	BW_ESTORE = -9,     /* database error */
	BW_EBUSY = -10,     /* queue full, try later */
	BW_ETOOBIG = -11,   /* input over its limit */
	BW_ELOCKED = -12,   /* account locked */
	BW_EEXPIRED = -13,  /* ticket or code expired */
	BW_ECORRUPT = -14,  /* integrity check failed (audit chain) */
	BW_EPOLICY = -15,   /* password or input violates policy */
	BW_ECONFLICT = -16, /* state conflict (e.g. already enrolled) */
	BW_EUNAVAIL = -17,  /* a required service (clamd) is unreachable */
	BW_EINFECTED = -18, /* a file carries malware */
};

const char *bw_strerror(int err);

/* Logging to stderr (operator log, not the audit trail).  Never pass secrets. */
enum { BW_LOG_ERR = 0, BW_LOG_WARN = 1, BW_LOG_INFO = 2, BW_LOG_DEBUG = 3 };
extern int bw_log_level;
void bw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)   bw_log(BW_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  bw_log(BW_LOG_WARN, __VA_ARGS__)
#define log_info(...)  bw_log(BW_LOG_INFO, __VA_ARGS__)
#define log_debug(...) bw_log(BW_LOG_DEBUG, __VA_ARGS__)

/* Wall-clock seconds / milliseconds since the epoch (see header comment). */
int64_t bw_now(void);
int64_t bw_now_ms(void);
/* Monotonic milliseconds, unaffected by the test clock (for timers). */
int64_t bw_mono_ms(void);

/* A byte buffer with a hard maximum fixed at creation (style.md: Memory). */
struct bw_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};
void bw_buf_init(struct bw_buf *b, size_t max);
/* Appends; BW_ETOOBIG past max, BW_ENOMEM on allocation failure. */
int bw_buf_append(struct bw_buf *b, const void *p, size_t n);
int bw_buf_printf(struct bw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the storage (wiped first when secret is true). */
void bw_buf_free(struct bw_buf *b, bool secret);

/* Constant-time equality of two equal-length byte strings. */
bool bw_ct_eq(const void *a, const void *b, size_t n);

/* base64url without padding.  out must hold bw_b64_len(n)+1 bytes (NUL). */
size_t bw_b64_len(size_t n);
void bw_b64url_encode(const uint8_t *in, size_t n, char *out);
/* Decodes into out (capacity out_max); returns decoded length or <0. */
int bw_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max);
void bw_hex_encode(const uint8_t *in, size_t n, char *out); /* out: 2n+1 */
int bw_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_max);

/* Valid UTF-8 without NUL and without C0 controls except \t \n \r. */
bool bw_utf8_valid(const char *s, size_t n, bool allow_newlines);
/* Number of Unicode code points in valid UTF-8. */
size_t bw_utf8_count(const char *s, size_t n);

/* Finds cookie `name` in a Cookie header value ("a=1; b=2"); copies its
 * value into out.  false when absent or longer than out_max-1. */
bool bw_cookie_get(const char *header, const char *name, char *out, size_t out_max);

/* Read a whole (small) file; *out is malloc'd, NUL-terminated. */
int bw_file_read(const char *path, size_t max, uint8_t **out, size_t *out_len);
/* Atomically write a file with the given mode (write temp + fsync + rename). */
int bw_file_write_atomic(const char *path, const void *p, size_t n, unsigned mode);
int bw_mkdir_p(const char *path, unsigned mode);

#define BW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
