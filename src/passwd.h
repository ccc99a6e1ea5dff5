/*
 * passwd.h — password policy (complexity, length, username, common-password
 * list) and one-time password generation.
 *
 * Serves PS-IA-e (password complexity checked), PS-IA-c/PS-IA-d (generated
 * one-time bootstrap and reset passwords).
 */
#ifndef BW_PASSWD_H
#define BW_PASSWD_H

#include <stddef.h>

#define PASSWD_MIN_LENGTH_DEFAULT 12    /* code points */
#define PASSWD_MIN_CLASSES_DEFAULT 3    /* of lower, upper, digit, symbol */
#define PASSWD_MAX_BYTES 256            /* longest accepted password */
#define PASSWD_USERNAME_MIN 3           /* shorter usernames are not searched */
#define PASSWD_GEN_LEN 16               /* characters of passwd_generate */
#define PASSWD_COMMON_MAX_ENTRIES 200000
#define PASSWD_COMMON_ENTRY_MAX 64      /* bytes of one list entry */
#define PASSWD_COMMON_FILE_MAX (16 * 1024 * 1024)

/* Stable reason codes (the API and the web client key messages on them). */
#define PASSWD_R_TOO_SHORT "too_short"
#define PASSWD_R_TOO_LONG "too_long"
#define PASSWD_R_TOO_FEW_CLASSES "too_few_classes"
#define PASSWD_R_CONTAINS_USERNAME "contains_username"
#define PASSWD_R_COMMON "common_password"
#define PASSWD_R_INVALID_UTF8 "invalid_utf8"

struct passwd_policy {
	int min_length;   /* 1..PASSWD_MAX_BYTES code points */
	int min_classes;  /* 0..4 */
};

/* min_length 12, min_classes 3. */
extern const struct passwd_policy passwd_policy_default;

/* Checks pw (pw_len bytes, need not be NUL-terminated) against policy p
 * (NULL = passwd_policy_default).  In order:
 *   too_long         more than PASSWD_MAX_BYTES bytes
 *   invalid_utf8     not UTF-8, or contains NUL or a control character
 *                    (C0, DEL, C1)
 *   too_short        fewer than min_length code points
 *   too_few_classes  fewer than min_classes of: ASCII lowercase, ASCII
 *                    uppercase, ASCII digit, other (ASCII punctuation or
 *                    space, and every non-ASCII character)
 *   contains_username  username (NUL-terminated, may be NULL; only when it
 *                    has >= PASSWD_USERNAME_MIN code points) occurs in pw,
 *                    ASCII case-insensitively
 *   common_password  pw, or pw with its trailing ASCII digits and symbols
 *                    removed ("Password123!" -> "password"), is in the
 *                    common list (ASCII case-insensitive); skipped with a
 *                    one-time warning when no list is loaded
 * Returns 0 (*reason = NULL), BW_EPOLICY with *reason set to one of the
 * PASSWD_R_* static strings, or BW_EINVAL (bad policy or NULL pw with
 * pw_len > 0; *reason untouched).  reason may be NULL.  Thread-safe.
 * Scratch copies of pw are wiped. */
int passwd_check(const struct passwd_policy *p, const char *pw, size_t pw_len,
                 const char *username, const char **reason);

/* Writes a random PASSWD_GEN_LEN-character password plus NUL into the
 * caller's out (out_max >= PASSWD_GEN_LEN + 1): at least one character of
 * each class, no look-alikes (0 O o 1 I l |) and no quotes, backslash or
 * space; it passes passwd_check with the default policy.  Returns 0 or
 * BW_ETOOBIG (out untouched).  The caller wipes out (sodium_memzero). */
int passwd_generate(char *out, size_t out_max);

/* Loads the common-password list from path (at most PASSWD_COMMON_FILE_MAX
 * bytes): one entry per line, '#' starts a comment line, blank lines and a
 * trailing '\r' are ignored, entries are lowercased (ASCII) and must be
 * valid UTF-8 of at most PASSWD_COMMON_ENTRY_MAX bytes; at most
 * PASSWD_COMMON_MAX_ENTRIES entries.  Replaces any list loaded before only
 * when the new one loaded completely.  Returns 0, BW_ENOENT, BW_EIO,
 * BW_ETOOBIG (file or entry count over its limit), BW_EINVAL (a bad line,
 * logged with its number) or BW_ENOMEM.  The list is owned by this module
 * until passwd_free_common.  Thread-safe. */
int passwd_load_common(const char *path);

/* Same from a caller-owned buffer of len bytes (copied; the caller keeps
 * ownership of buf). */
int passwd_load_common_buf(const char *buf, size_t len);

/* Frees the loaded list; checks skip the list until the next load. */
void passwd_free_common(void);

#endif
