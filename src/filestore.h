/*
 * filestore.h — chat attachments at rest: streaming authenticated encryption
 * of whole files under the tenant's data key, content-type sniffing and
 * display-name sanitising (RG-IM-a, WC-STORE, MI-3).
 *
 * Encrypted file format (all integers big-endian):
 *   header (FILESTORE_HDR_LEN = 37 bytes)
 *     "BWF1" | suite id (1) | key version (4) | chunk size (4) |
 *     plaintext length (8) | file salt (16 random bytes, fresh per encryption)
 *   chunk 0, chunk 1, ... chunk N-1
 *     each a sealed box (crypto.h, bwc_box_seal) of chunk-size plaintext
 *     bytes, the last one shorter (possibly empty); N = max(1, ceil(len /
 *     chunk size)), so an empty file is exactly one empty final chunk.
 *   The associated data of chunk i is
 *     bwc_aad(tenant, "attachments", file_id, "content")
 *     ‖ the 37 header bytes themselves ‖ i (8) ‖ final flag (1)
 * (the raw header rather than a hash of it: it is short, and binding the
 * bytes needs no hash-collision argument), so a chunk opens only in its own
 * file (tenant + file id), under this exact header, at its position, and
 * only the last chunk carries final = 1.  The salt makes every encryption's
 * header unique, so chunks cannot even be mixed between two encryptions of
 * the same file id with the same key version and length (a re-upload or a
 * re-encryption):
 * header edits, truncation, dropped/reordered/duplicated chunks, chunks
 * swapped in from another file and appended bytes all fail with BW_ECRYPTO.
 *
 * Keys: callers pass the 32-byte data key; this module keeps a copy only
 * inside an open reader (wiped by filestore_reader_close) and never logs it.
 */
#ifndef BW_FILESTORE_H
#define BW_FILESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define FILESTORE_HDR_LEN 37
#define FILESTORE_SALT_LEN 16
#define FILESTORE_CHUNK_LEN 65536u            /* plaintext bytes per chunk */
#define FILESTORE_PLAIN_MAX (((uint64_t)1) << 40)   /* 1 TiB hard cap */
#define FILESTORE_SNIFF_LEN 4096              /* bytes filestore_sniff wants */
#define FILESTORE_NAME_MAX 256                /* suggested display-name buffer */

/* Encrypts exactly len bytes read from in_fd (from its current offset) into
 * a new file at path.  The data goes to path+".tmp" (O_EXCL, 0600), is
 * fsync'd, then linked to path (never replacing an existing file) and the
 * directory fsync'd.  0; BW_EEXIST when path or path+".tmp" exists; BW_EIO on
 * read/write errors or when in_fd ends early; BW_ETOOBIG when len >
 * FILESTORE_PLAIN_MAX; BW_EINVAL for bad arguments.  On failure nothing is
 * left at path or path+".tmp" (unless they existed before). */
int filestore_encrypt_fd(const uint8_t key[CRYPTO_KEY_LEN], uint32_t key_version,
                         int64_t tenant_id, int64_t file_id, int in_fd, uint64_t len,
                         const char *path);

/* The key version recorded in an encrypted file's header, so the caller can
 * fetch the matching data key.  Unauthenticated until the reader opens it.
 * 0; BW_ENOENT; BW_EIO; BW_ECRYPTO when the header is malformed. */
int filestore_key_version(const char *path, uint32_t *key_version);

/* Streaming reader for downloads.  filestore_reader_open() checks the header
 * against the file size and authenticates chunk 0 before returning, so a
 * tampered header or a truncated/extended file fails here, before a caller
 * sends any response headers.  *out is malloc'd; free it with
 * filestore_reader_close().  0; BW_ENOENT; BW_EIO; BW_ENOMEM; BW_EINVAL for
 * bad arguments; BW_ECRYPTO for a malformed, tampered or misplaced file, or
 * the wrong key. */
struct filestore_reader;
int filestore_reader_open(const uint8_t key[CRYPTO_KEY_LEN], int64_t tenant_id,
                          int64_t file_id, const char *path,
                          struct filestore_reader **out, uint64_t *plain_len);
/* Fills buf with the next 1..max bytes of plaintext (max > 0); *n = 0 at the
 * end, which is reported only after the final chunk authenticated and no byte
 * follows it.  BW_ECRYPTO on any tampering (incl. truncation found late, when
 * the file changed while open) and on every call after an error; BW_EIO on
 * read errors.  Bytes already returned came from authenticated chunks. */
int filestore_reader_next(struct filestore_reader *r, uint8_t *buf, size_t max, size_t *n);
/* Closes the file and wipes the key and plaintext; NULL is a no-op. */
void filestore_reader_close(struct filestore_reader *r);

/* MIME type from the first bytes (pass up to FILESTORE_SNIFF_LEN): image/png,
 * image/jpeg, image/gif, image/webp, application/pdf, application/zip (or the
 * OOXML docx/xlsx/pptx types when the zip's local headers in head name
 * [Content_Types].xml and word/, xl/ or ppt/ entries), application/gzip,
 * video/mp4 (audio/mp4 for M4A), audio/mpeg, audio/ogg, audio/wav,
 * "text/plain; charset=utf-8" (valid UTF-8, no NUL or C0 control other than
 * TAB LF CR FF; an incomplete sequence cut by the head's end is allowed),
 * else application/octet-stream (also for n == 0).  Never returns a type a
 * browser executes (HTML, SVG, XML, JavaScript).  Static string. */
const char *filestore_sniff(const uint8_t *head, size_t n);

/* Sanitised display file name.  Keeps the part after the last '/' or '\';
 * drops invalid UTF-8, C0/C1 controls, DEL, bidi and other invisible format
 * characters (U+061C, U+200B–U+200F, U+2028–U+202E, U+2060–U+206F, U+FEFF,
 * U+FFF9–U+FFFB, U+E0000–U+E007F);
 * replaces < > : " | ? * with '_'; strips leading dots and spaces and
 * trailing dots and spaces; cuts to at most max-1 bytes on a character
 * boundary, keeping an extension of up to 16 bytes when possible; an empty
 * result becomes "file" (cut to max-1).  Reads at most 4096 bytes of in.
 * The result is valid UTF-8 and NUL-terminated; nothing is written when max
 * is 0.  Idempotent. */
void filestore_sanitize_name(const char *in, char *out, size_t max);

#ifdef BW_TESTING
/* Test builds only: when non-zero, filestore_encrypt_fd() writes chunks of
 * this many plaintext bytes (1..FILESTORE_CHUNK_LEN) so tests and fuzz seeds
 * get many chunks from small files.  Readers accept any size in that range. */
extern uint32_t filestore_test_chunk_len;
#endif

#endif
