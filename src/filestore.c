/*
 * filestore.c — chat attachments at rest: chunked sealed boxes under the
 * tenant's data key, content-type sniffing and display-name sanitising
 * (RG-IM-a: IM data stored encrypted; WC-STORE: files stored encrypted under
 * a per-organisation key; MI-3 / "scan downloaded files for viruses": the
 * type is sniffed from the bytes, never taken from the client).
 *
 * The format is in filestore.h.  Invariants:
 * - Every chunk is a bwc_box_seal() box with a fresh random nonce, whose
 *   associated data binds tenant, file id, the exact header bytes (with
 *   their per-encryption random salt), the chunk index and the final flag; the reader checks the file size implied by
 *   the header against the real size before decrypting anything, opens
 *   chunk 0 before returning from filestore_reader_open(), and reports the
 *   end only after the final chunk opened and nothing follows it.  Any
 *   mismatch is BW_ECRYPTO and poisons the reader.
 * - Plaintext is only ever handed out from chunks that authenticated.
 * - Writes go to path+".tmp" (O_EXCL|O_NOFOLLOW, 0600), are fsync'd and then
 *   hard-linked to path, which never replaces an existing file; the temp
 *   name is unlinked and the directory fsync'd.  Failure removes both names
 *   we created.
 * - Key copies (inside a reader) and plaintext buffers are wiped with
 *   sodium_memzero before they are freed; nothing here logs key material or
 *   file contents.
 * - filestore_sniff() and filestore_sanitize_name() read only the bytes they
 *   are given (bounded), allocate nothing, and always produce a result.
 *
 * Memory: filestore_encrypt_fd() allocates two chunk buffers freed before it
 * returns; a reader owns its buffers (about 2 × 64 KiB) until
 * filestore_reader_close().
 */
#include "filestore.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium/utils.h>

static const uint8_t fs_magic[4] = { 'B', 'W', 'F', '1' };
static const char fs_table[] = "attachments";
static const char fs_column[] = "content";

_Static_assert(FILESTORE_HDR_LEN == 21 + FILESTORE_SALT_LEN, "header layout");

#define FS_TAIL_LEN 9                  /* chunk index (8) ‖ final flag (1) */
#define FS_NAME_IN_MAX 4096            /* bytes of a client name considered */
#define FS_EXT_MAX 16                  /* longest extension kept on a cut */

#ifdef BW_TESTING
uint32_t filestore_test_chunk_len;
#endif

struct filestore_reader {
	int fd;
	bool failed;
	bool done;
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t aad[CRYPTO_AAD_MAX];
	size_t aad_len;                    /* base ‖ header; the tail follows */
	uint32_t key_version;
	uint32_t chunk_len;
	uint64_t plain_len;
	uint64_t n_chunks;
	uint64_t next_chunk;               /* index of the next chunk to load */
	uint8_t *box;                      /* bwc_box_len(chunk_len) bytes */
	uint8_t *pt;                       /* chunk_len bytes */
	size_t pt_len;
	size_t pt_off;
};

/* ---- small helpers ----------------------------------------------------- */

static void fs_put_be32(uint8_t *b, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void fs_put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint32_t fs_get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t fs_get_be64(const uint8_t *b)
{
	return (uint64_t)fs_get_be32(b) << 32 | fs_get_be32(b + 4);
}

/* Reads up to n bytes; *got < n only at EOF.  0 or BW_EIO. */
static int fs_read_full(int fd, uint8_t *b, size_t n, size_t *got)
{
	size_t off = 0;
	while (off < n) {
		ssize_t r = read(fd, b + off, n - off);
		if (r > 0)
			off += (size_t)r;
		else if (r == 0)
			break;
		else if (errno != EINTR)
			return BW_EIO;
	}
	*got = off;
	return 0;
}

static int fs_write_full(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else {
			return BW_EIO;
		}
	}
	return 0;
}

/* Number of chunks and length of the last one for a file of len bytes. */
static void fs_layout(uint64_t len, uint32_t chunk_len, uint64_t *n_chunks, size_t *last_len)
{
	if (len == 0) {
		*n_chunks = 1;
		*last_len = 0;
		return;
	}
	*n_chunks = (len - 1) / chunk_len + 1;
	*last_len = (size_t)(len - (*n_chunks - 1) * chunk_len);
}

/* aad (capacity CRYPTO_AAD_MAX) = bwc_aad(...) ‖ header; *len its length. */
static int fs_aad_base(uint8_t *aad, size_t *len, int64_t tenant_id, int64_t file_id,
                       const uint8_t hdr[FILESTORE_HDR_LEN])
{
	int n = bwc_aad(aad, tenant_id, fs_table, file_id, fs_column);
	if (n < 0)
		return n;
	if ((size_t)n + FILESTORE_HDR_LEN + FS_TAIL_LEN > CRYPTO_AAD_MAX)
		return BW_ETOOBIG;
	memcpy(aad + n, hdr, FILESTORE_HDR_LEN);
	*len = (size_t)n + FILESTORE_HDR_LEN;
	return 0;
}

static void fs_aad_tail(uint8_t *aad, size_t base_len, uint64_t index, bool final)
{
	fs_put_be64(aad + base_len, index);
	aad[base_len + 8] = final ? 1 : 0;
}

static void fs_free_secret(void *p, size_t n)
{
	if (p != NULL) {
		sodium_memzero(p, n);
		free(p);
	}
}

/* fsync of the directory holding path.  0 or BW_EIO. */
static int fs_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl;

	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else {
		dl = (size_t)(slash - path);
		if (dl == 0)
			dl = 1;   /* "/name" → "/" */
		if (dl >= sizeof dir)
			return BW_EIO;
		memcpy(dir, path, dl);
		dir[dl] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return BW_EIO;
	int rc = fsync(fd) == 0 ? 0 : BW_EIO;
	close(fd);
	return rc;
}

/* ---- writing ----------------------------------------------------------- */

int filestore_encrypt_fd(const uint8_t key[CRYPTO_KEY_LEN], uint32_t key_version,
                         int64_t tenant_id, int64_t file_id, int in_fd, uint64_t len,
                         const char *path)
{
	char tmp[PATH_MAX];
	uint8_t hdr[FILESTORE_HDR_LEN];
	uint8_t aad[CRYPTO_AAD_MAX];
	size_t aad_len = 0, last_len, box_max;
	uint64_t n_chunks;
	uint32_t chunk_len = FILESTORE_CHUNK_LEN;
	uint8_t *pt = NULL, *box = NULL;
	bool tmp_made = false, path_made = false;
	int fd = -1, rc;

	if (key == NULL || path == NULL || in_fd < 0 || path[0] == '\0')
		return BW_EINVAL;
	if (len > FILESTORE_PLAIN_MAX)
		return BW_ETOOBIG;
	int tl = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (tl < 0 || (size_t)tl >= sizeof tmp)
		return BW_EINVAL;
#ifdef BW_TESTING
	if (filestore_test_chunk_len >= 1 && filestore_test_chunk_len <= FILESTORE_CHUNK_LEN)
		chunk_len = filestore_test_chunk_len;
#endif

	memcpy(hdr, fs_magic, sizeof fs_magic);
	hdr[4] = (uint8_t)bwc_suite();
	fs_put_be32(hdr + 5, key_version);
	fs_put_be32(hdr + 9, chunk_len);
	fs_put_be64(hdr + 13, len);
	bwc_random(hdr + 21, FILESTORE_SALT_LEN);
	rc = fs_aad_base(aad, &aad_len, tenant_id, file_id, hdr);
	if (rc != 0)
		return rc;
	fs_layout(len, chunk_len, &n_chunks, &last_len);

	box_max = bwc_box_len(chunk_len);
	pt = malloc(chunk_len);
	box = malloc(box_max);
	if (pt == NULL || box == NULL) {
		rc = BW_ENOMEM;
		goto out;
	}

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = errno == EEXIST ? BW_EEXIST : BW_EIO;
		goto out;
	}
	tmp_made = true;
	rc = fs_write_full(fd, hdr, sizeof hdr);
	if (rc != 0)
		goto out;

	/* Bounded: n_chunks <= FILESTORE_PLAIN_MAX / 1 + 1. */
	for (uint64_t i = 0; i < n_chunks; i++) {
		bool final = i == n_chunks - 1;
		size_t n = final ? last_len : chunk_len, got = 0;
		rc = fs_read_full(in_fd, pt, n, &got);
		if (rc == 0 && got != n)
			rc = BW_EIO;   /* input ended before len bytes */
		if (rc != 0)
			goto out;
		fs_aad_tail(aad, aad_len, i, final);
		rc = bwc_box_seal(key, key_version, aad, aad_len + FS_TAIL_LEN, pt, n, box);
		if (rc != 0)
			goto out;
		rc = fs_write_full(fd, box, bwc_box_len(n));
		if (rc != 0)
			goto out;
	}
	if (fsync(fd) != 0) {
		rc = BW_EIO;
		goto out;
	}
	int cfd = fd;
	fd = -1;
	if (close(cfd) != 0) {
		rc = BW_EIO;
		goto out;
	}
	if (link(tmp, path) != 0) {
		rc = errno == EEXIST ? BW_EEXIST : BW_EIO;
		goto out;
	}
	path_made = true;
	if (unlink(tmp) != 0) {
		rc = BW_EIO;
		goto out;
	}
	tmp_made = false;
	rc = fs_sync_dir(path);
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		if (path_made)
			unlink(path);
		if (tmp_made)
			unlink(tmp);
	}
	fs_free_secret(pt, chunk_len);
	free(box);   /* ciphertext only */
	sodium_memzero(aad, sizeof aad);
	return rc;
}

/* ---- reading ----------------------------------------------------------- */

/* Parses and checks a header (the suite must be the active one). */
static int fs_header_parse(const uint8_t hdr[FILESTORE_HDR_LEN], uint32_t *key_version,
                           uint32_t *chunk_len, uint64_t *plain_len)
{
	if (memcmp(hdr, fs_magic, sizeof fs_magic) != 0 || hdr[4] != (uint8_t)bwc_suite())
		return BW_ECRYPTO;
	uint32_t cl = fs_get_be32(hdr + 9);
	uint64_t pl = fs_get_be64(hdr + 13);
	if (cl == 0 || cl > FILESTORE_CHUNK_LEN || pl > FILESTORE_PLAIN_MAX)
		return BW_ECRYPTO;
	*key_version = fs_get_be32(hdr + 5);
	*chunk_len = cl;
	*plain_len = pl;
	return 0;
}

/* Opens path read-only as a regular file. */
static int fs_open_regular(const char *path, int *out, off_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? BW_ENOENT : BW_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return BW_EIO;
	}
	*out = fd;
	*size = st.st_size;
	return 0;
}

int filestore_key_version(const char *path, uint32_t *key_version)
{
	uint8_t hdr[FILESTORE_HDR_LEN];
	uint32_t kv, cl;
	uint64_t pl;
	size_t got = 0;
	off_t size;
	int fd, rc;

	if (path == NULL || key_version == NULL)
		return BW_EINVAL;
	rc = fs_open_regular(path, &fd, &size);
	if (rc != 0)
		return rc;
	rc = fs_read_full(fd, hdr, sizeof hdr, &got);
	close(fd);
	if (rc != 0)
		return rc;
	if (got != sizeof hdr)
		return BW_ECRYPTO;
	rc = fs_header_parse(hdr, &kv, &cl, &pl);
	if (rc != 0)
		return rc;
	*key_version = kv;
	return 0;
}

/* Reads and opens chunk r->next_chunk into r->pt.  BW_ECRYPTO or BW_EIO. */
static int fs_reader_load(struct filestore_reader *r)
{
	uint64_t i = r->next_chunk;
	bool final = i == r->n_chunks - 1;
	size_t n = r->chunk_len, got = 0, pt_n = 0;
	uint32_t kv = 0;

	if (i >= r->n_chunks)
		return BW_ECRYPTO;
	if (final) {
		uint64_t n_last;
		size_t last;
		fs_layout(r->plain_len, r->chunk_len, &n_last, &last);
		n = last;
	}
	size_t blen = bwc_box_len(n);
	int rc = fs_read_full(r->fd, r->box, blen, &got);
	if (rc != 0)
		return rc;
	if (got != blen)
		return BW_ECRYPTO;   /* truncated after open */
	if (bwc_box_peek(r->box, blen, &kv, &pt_n) != 0 || pt_n != n || kv != r->key_version)
		return BW_ECRYPTO;
	fs_aad_tail(r->aad, r->aad_len, i, final);
	if (bwc_box_open(r->key, r->aad, r->aad_len + FS_TAIL_LEN, r->box, blen, r->pt) != 0)
		return BW_ECRYPTO;
	r->pt_len = n;
	r->pt_off = 0;
	r->next_chunk = i + 1;
	return 0;
}

int filestore_reader_open(const uint8_t key[CRYPTO_KEY_LEN], int64_t tenant_id,
                          int64_t file_id, const char *path,
                          struct filestore_reader **out, uint64_t *plain_len)
{
	struct filestore_reader *r = NULL;
	uint8_t hdr[FILESTORE_HDR_LEN];
	size_t got = 0, last_len;
	off_t size;
	int fd = -1, rc;

	if (key == NULL || path == NULL || out == NULL)
		return BW_EINVAL;
	rc = fs_open_regular(path, &fd, &size);
	if (rc != 0)
		return rc;
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		rc = BW_ENOMEM;
		goto out;
	}
	r->fd = fd;
	fd = -1;

	rc = fs_read_full(r->fd, hdr, sizeof hdr, &got);
	if (rc != 0)
		goto out;
	if (got != sizeof hdr) {
		rc = BW_ECRYPTO;
		goto out;
	}
	rc = fs_header_parse(hdr, &r->key_version, &r->chunk_len, &r->plain_len);
	if (rc != 0)
		goto out;
	fs_layout(r->plain_len, r->chunk_len, &r->n_chunks, &last_len);

	/* Expected size; no overflow: plain_len <= 2^40, so n_chunks <= 2^40
	 * and the box overhead (<= CRYPTO_BOX_OVERHEAD_MAX) adds < 2^47. */
	uint64_t full_box = bwc_box_len(r->chunk_len);
	uint64_t expect = FILESTORE_HDR_LEN + (r->n_chunks - 1) * full_box + bwc_box_len(last_len);
	if (size < 0 || (uint64_t)size != expect) {
		rc = BW_ECRYPTO;
		goto out;
	}

	rc = fs_aad_base(r->aad, &r->aad_len, tenant_id, file_id, hdr);
	if (rc != 0)
		goto out;
	memcpy(r->key, key, CRYPTO_KEY_LEN);
	r->box = malloc((size_t)full_box);
	r->pt = malloc(r->chunk_len);
	if (r->box == NULL || r->pt == NULL) {
		rc = BW_ENOMEM;
		goto out;
	}
	rc = fs_reader_load(r);
	if (rc != 0)
		goto out;
	*out = r;
	if (plain_len != NULL)
		*plain_len = r->plain_len;
	r = NULL;
out:
	if (fd >= 0)
		close(fd);
	filestore_reader_close(r);
	return rc;
}

/* True when nothing follows the final chunk. */
static int fs_reader_at_eof(struct filestore_reader *r)
{
	uint8_t extra;
	size_t got = 0;
	int rc = fs_read_full(r->fd, &extra, 1, &got);
	if (rc != 0)
		return rc;
	return got == 0 ? 0 : BW_ECRYPTO;
}

int filestore_reader_next(struct filestore_reader *r, uint8_t *buf, size_t max, size_t *n)
{
	int rc;

	if (r == NULL || buf == NULL || n == NULL || max == 0)
		return BW_EINVAL;
	if (r->failed)
		return BW_ECRYPTO;
	/* Bounded: at most one load per call, and only the (final) chunk of an
	 * empty file is empty. */
	if (r->pt_off == r->pt_len && !r->done) {
		if (r->next_chunk < r->n_chunks) {
			rc = fs_reader_load(r);
			if (rc != 0)
				goto fail;
		}
		if (r->pt_off == r->pt_len && r->next_chunk == r->n_chunks) {
			rc = fs_reader_at_eof(r);
			if (rc != 0)
				goto fail;
			r->done = true;
		}
	}
	if (r->done && r->pt_off == r->pt_len) {
		*n = 0;
		return 0;
	}
	size_t k = r->pt_len - r->pt_off;
	if (k > max)
		k = max;
	memcpy(buf, r->pt + r->pt_off, k);
	r->pt_off += k;
	*n = k;
	return 0;
fail:
	r->failed = true;
	if (r->pt != NULL)
		sodium_memzero(r->pt, r->chunk_len);
	r->pt_len = r->pt_off = 0;
	return rc == BW_EIO ? BW_EIO : BW_ECRYPTO;
}

void filestore_reader_close(struct filestore_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	fs_free_secret(r->pt, r->chunk_len);
	free(r->box);
	sodium_memzero(r, sizeof *r);
	free(r);
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Decodes one code point of s[0..n) (n > 0).  Returns its length 1..4 with
 * *cp set, 0 when s starts with an invalid sequence, -1 when s is a valid
 * but incomplete prefix cut by the end (Unicode table 3-7). */
static int fs_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t b = s[0];
	uint8_t lo = 0x80, hi = 0xbf;
	int len;
	uint32_t c;

	if (b < 0x80) {
		*cp = b;
		return 1;
	} else if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		c = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		c = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		c = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (int k = 1; k < len; k++) {
		if ((size_t)k >= n)
			return -1;
		uint8_t t = s[k];
		if (t < (k == 1 ? lo : 0x80) || t > (k == 1 ? hi : 0xbf))
			return 0;
		c = c << 6 | (t & 0x3f);
	}
	*cp = c;
	return len;
}

/* ---- sniffing ---------------------------------------------------------- */

static bool fs_at(const uint8_t *h, size_t n, size_t off, const void *m, size_t ml)
{
	return n >= off && n - off >= ml && memcmp(h + off, m, ml) == 0;
}

static const char fs_mime_docx[] =
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document";
static const char fs_mime_xlsx[] =
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
static const char fs_mime_pptx[] =
	"application/vnd.openxmlformats-officedocument.presentationml.presentation";

/* Zip: look at the names of the local file headers inside head. */
static const char *fs_sniff_zip(const uint8_t *h, size_t n)
{
	static const char ct[] = "[Content_Types].xml";
	bool has_ct = false, word = false, xl = false, ppt = false;
	size_t i = 0;

	/* Bounded: i grows on every pass. */
	while (n >= 30 && i <= n - 30) {
		if (memcmp(h + i, "PK\x03\x04", 4) != 0) {
			i++;
			continue;
		}
		size_t nl = (size_t)h[i + 26] | (size_t)h[i + 27] << 8;
		if (nl > n - i - 30) {
			i++;
			continue;
		}
		const uint8_t *name = h + i + 30;
		if (nl == sizeof ct - 1 && memcmp(name, ct, nl) == 0)
			has_ct = true;
		else if (fs_at(name, nl, 0, "word/", 5))
			word = true;
		else if (fs_at(name, nl, 0, "xl/", 3))
			xl = true;
		else if (fs_at(name, nl, 0, "ppt/", 4))
			ppt = true;
		i += 30 + nl;
	}
	if (has_ct && word)
		return fs_mime_docx;
	if (has_ct && xl)
		return fs_mime_xlsx;
	if (has_ct && ppt)
		return fs_mime_pptx;
	return "application/zip";
}

static bool fs_sniff_mp3_frame(const uint8_t *h, size_t n)
{
	if (n < 4 || h[0] != 0xff || (h[1] & 0xe0) != 0xe0)
		return false;
	unsigned version = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3;
	unsigned bitrate = h[2] >> 4, rate = (h[2] >> 2) & 3;
	return version != 1 && layer == 1 && bitrate != 0 && bitrate != 15 && rate != 3;
}

static bool fs_sniff_text(const uint8_t *h, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp = 0;
		int l = fs_utf8_decode(h + i, n - i, &cp);
		if (l < 0)
			return true;   /* sequence cut by the end of head */
		if (l == 0)
			return false;
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r' && cp != '\f') || cp == 0x7f)
			return false;
		i += (size_t)l;
	}
	return true;
}

const char *filestore_sniff(const uint8_t *head, size_t n)
{
	const uint8_t *h = head;

	if (h == NULL || n == 0)
		return "application/octet-stream";
	if (fs_at(h, n, 0, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (fs_at(h, n, 0, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (fs_at(h, n, 0, "GIF87a", 6) || fs_at(h, n, 0, "GIF89a", 6))
		return "image/gif";
	if (fs_at(h, n, 0, "RIFF", 4) && fs_at(h, n, 8, "WEBP", 4))
		return "image/webp";
	if (fs_at(h, n, 0, "RIFF", 4) && fs_at(h, n, 8, "WAVE", 4))
		return "audio/wav";
	if (fs_at(h, n, 0, "%PDF-", 5))
		return "application/pdf";
	if (fs_at(h, n, 0, "PK\x03\x04", 4))
		return fs_sniff_zip(h, n);
	if (fs_at(h, n, 0, "PK\x05\x06", 4))
		return "application/zip";   /* empty archive */
	if (fs_at(h, n, 0, "\x1f\x8b\x08", 3))
		return "application/gzip";
	if (fs_at(h, n, 0, "OggS", 4))
		return "audio/ogg";
	if (fs_at(h, n, 4, "ftyp", 4) && n >= 12)
		return fs_at(h, n, 8, "M4A ", 4) ? "audio/mp4" : "video/mp4";
	if (fs_at(h, n, 0, "ID3", 3) || fs_sniff_mp3_frame(h, n))
		return "audio/mpeg";
	if (fs_sniff_text(h, n))
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

/* ---- names ------------------------------------------------------------- */

/* Code points a display name never shows: controls, bidi and other
 * invisible format characters. */
static bool fs_name_drop(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
	       (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
}

static bool fs_name_trim(char c)
{
	return c == '.' || c == ' ';
}

/* Largest cut <= limit of valid UTF-8 s that ends on a character boundary. */
static size_t fs_cut(const char *s, size_t len, size_t limit)
{
	if (len <= limit)
		return len;
	size_t k = limit;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

/* Length of s[0..len) without trailing dots and spaces. */
static size_t fs_rtrim(const char *s, size_t len)
{
	while (len > 0 && fs_name_trim(s[len - 1]))
		len--;
	return len;
}

void filestore_sanitize_name(const char *in, char *out, size_t max)
{
	char w[FS_NAME_IN_MAX + 1];
	size_t wl = 0, n, start = 0;

	if (out == NULL || max == 0)
		return;
	if (in == NULL)
		in = "";
	n = strnlen(in, FS_NAME_IN_MAX);
	for (size_t i = 0; i < n; i++)
		if (in[i] == '/' || in[i] == '\\')
			start = i + 1;

	const uint8_t *s = (const uint8_t *)in;
	for (size_t i = start; i < n;) {
		uint32_t cp = 0;
		int l = fs_utf8_decode(s + i, n - i, &cp);
		if (l < 0)
			break;          /* incomplete sequence at the end */
		if (l == 0) {
			i++;            /* invalid byte: dropped */
			continue;
		}
		if (!fs_name_drop(cp)) {
			if (cp < 0x80 && strchr("<>:\"|?*", (int)cp) != NULL)
				w[wl++] = '_';
			else {
				memcpy(w + wl, s + i, (size_t)l);
				wl += (size_t)l;
			}
		}
		i += (size_t)l;
	}

	size_t lead = 0;
	while (lead < wl && fs_name_trim(w[lead]))
		lead++;
	char *name = w + lead;
	size_t nl = fs_rtrim(name, wl - lead);
	size_t room = max - 1;

	if (nl == 0) {
		static const char def[] = "file";
		size_t k = room < sizeof def - 1 ? room : sizeof def - 1;
		memcpy(out, def, k);
		out[k] = '\0';
		return;
	}
	if (nl <= room) {
		memcpy(out, name, nl);
		out[nl] = '\0';
		return;
	}
	/* Too long: keep the extension when there is room for some of the base. */
	const char *dot = memrchr(name, '.', nl);
	if (dot != NULL && dot > name) {
		size_t el = nl - (size_t)(dot - name);
		if (el <= FS_EXT_MAX && el < room) {
			size_t bl = fs_rtrim(name, fs_cut(name, (size_t)(dot - name), room - el));
			if (bl > 0) {
				memcpy(out, name, bl);
				memcpy(out + bl, dot, el);
				out[bl + el] = '\0';
				return;
			}
		}
	}
	size_t k = fs_rtrim(name, fs_cut(name, nl, room));
	if (k == 0) {
		/* Only possible when room is smaller than the first character. */
		static const char def[] = "file";
		k = room < sizeof def - 1 ? room : sizeof def - 1;
		memcpy(out, def, k);
	} else {
		memcpy(out, name, k);
	}
	out[k] = '\0';
}
