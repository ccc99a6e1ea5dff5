/*
 * test_filestore.c — unit tests for src/filestore.c (RG-IM-a, WC-STORE,
 * MI-3): streaming AEAD round trips under both suites, every tampering the
 * format claims to detect, content sniffing and name sanitising.
 *
 * Tamper tests edit real encrypted files on disk: every byte of a small
 * many-chunk file flipped (test builds can shrink the chunk size through
 * filestore_test_chunk_len), flips in each region of a 64 KiB-chunk file,
 * truncation (before and while reading), appended bytes, dropped, swapped and
 * duplicated chunks, header edits with a consistent file size, chunks from
 * another file or another encryption of the same file id, another tenant,
 * file id, key or suite.  All must fail with BW_ECRYPTO, never hand out
 * plaintext of a bad chunk.
 */
#include "crypto.h"
#include "filestore.h"
#include "util.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static const enum bwc_suite suites[] = { CRYPTO_SUITE_INTL, CRYPTO_SUITE_GM };
static char tdir[64];
static uint8_t key[CRYPTO_KEY_LEN];
static int path_seq;

#define TENANT 7
#define FILE_ID 4242

/* A fresh path in the test directory (not created). */
static void tpath(char *out, size_t max, const char *tag)
{
	snprintf(out, max, "%s/%s-%d", tdir, tag, path_seq++);
}

static int write_plain(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

/* Encrypts p[0..n) to a fresh path (stored in enc). */
static int encrypt_buf(const uint8_t *p, size_t n, int64_t tenant, int64_t file_id,
                       char *enc, size_t enc_max)
{
	char plain[128];
	tpath(plain, sizeof plain, "plain");
	tpath(enc, enc_max, "enc");
	if (write_plain(plain, p, n) != 0)
		return BW_EIO;
	int fd = open(plain, O_RDONLY);
	if (fd < 0)
		return BW_EIO;
	int rc = filestore_encrypt_fd(key, 3, tenant, file_id, fd, n, enc);
	close(fd);
	unlink(plain);
	return rc;
}

/* Decrypts the whole file reading step bytes at a time; *out malloc'd. */
static int decrypt_all(const uint8_t *k, int64_t tenant, int64_t file_id, const char *path,
                       size_t step, uint8_t **out, size_t *out_len)
{
	struct filestore_reader *r = NULL;
	uint64_t pl = 0;
	int rc = filestore_reader_open(k, tenant, file_id, path, &r, &pl);
	if (rc != 0)
		return rc;
	uint8_t *buf = malloc(pl + 1);
	uint8_t *tmp = malloc(step);
	size_t len = 0;
	if (buf == NULL || tmp == NULL) {
		rc = BW_ENOMEM;
		goto out;
	}
	for (;;) {
		size_t n = 0;
		rc = filestore_reader_next(r, tmp, step, &n);
		if (rc != 0)
			goto out;
		if (n == 0)
			break;
		if (n > step || len + n > pl) {
			rc = BW_EINVAL;
			goto out;
		}
		memcpy(buf + len, tmp, n);
		len += n;
	}
	if (len != pl) {
		rc = BW_EINVAL;
		goto out;
	}
	/* The end is sticky. */
	size_t n = 1;
	if (filestore_reader_next(r, tmp, step, &n) != 0 || n != 0)
		rc = BW_EINVAL;
out:
	filestore_reader_close(r);
	free(tmp);
	if (rc == 0 && out != NULL) {
		*out = buf;
		*out_len = len;
	} else {
		free(buf);
	}
	return rc;
}

static int decrypt_rc(const char *path)
{
	return decrypt_all(key, TENANT, FILE_ID, path, 4096, NULL, NULL);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	return bw_file_read(path, 64u << 20, out, len);
}

static int overwrite(const char *path, const uint8_t *p, size_t n)
{
	return write_plain(path, p, n);
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

TEST(round_trips)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 3 * 65536 + 5, 1u << 20 };
	static const size_t steps[] = { 1, 4096, 65536, 200000 };
	uint8_t *src = malloc(1u << 20);
	CHECK(src != NULL);
	if (src == NULL)
		return;
	bwc_random(src, 1u << 20);
	for (size_t s = 0; s < BW_ARRAY_LEN(suites); s++) {
		CHECK_EQ(bwc_init(suites[s]), 0);
		for (size_t i = 0; i < BW_ARRAY_LEN(sizes); i++) {
			char enc[128];
			size_t n = sizes[i];
			CHECK_EQ(encrypt_buf(src, n, TENANT, FILE_ID, enc, sizeof enc), 0);
			/* Size = header + boxes, no temp file left behind. */
			struct stat st;
			size_t nch = n == 0 ? 1 : (n + 65535) / 65536;
			size_t expect = FILESTORE_HDR_LEN + n + nch * (bwc_box_len(0));
			CHECK_EQ(stat(enc, &st), 0);
			CHECK_EQ((size_t)st.st_size, expect);
			CHECK_EQ(st.st_mode & 0777, 0600);
			char tmp[160];
			snprintf(tmp, sizeof tmp, "%s.tmp", enc);
			CHECK(access(tmp, F_OK) != 0);
			uint32_t kv = 0;
			CHECK_EQ(filestore_key_version(enc, &kv), 0);
			CHECK_EQ(kv, 3);
			/* 1-byte steps over 1 MiB are slow under ASan: skip those. */
			for (size_t j = 0; j < BW_ARRAY_LEN(steps); j++) {
				if (steps[j] == 1 && n > 70000)
					continue;
				uint8_t *got = NULL;
				size_t got_len = 0;
				CHECK_EQ(decrypt_all(key, TENANT, FILE_ID, enc, steps[j], &got, &got_len), 0);
				CHECK_EQ(got_len, n);
				if (got != NULL && got_len == n && n > 0)
					CHECK_MEM(got, src, n);
				free(got);
			}
			unlink(enc);
		}
	}
	free(src);
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
}

TEST(reader_first_read_sizes)
{
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	uint8_t data[100];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	char enc[128];
	CHECK_EQ(encrypt_buf(data, sizeof data, TENANT, FILE_ID, enc, sizeof enc), 0);
	struct filestore_reader *r = NULL;
	uint64_t pl = 0;
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, enc, &r, &pl), 0);
	CHECK_EQ(pl, 100);
	uint8_t buf[64];
	size_t n = 0;
	CHECK_EQ(filestore_reader_next(r, buf, 0, &n), BW_EINVAL);
	CHECK_EQ(filestore_reader_next(r, NULL, 4, &n), BW_EINVAL);
	CHECK_EQ(filestore_reader_next(r, buf, 64, &n), 0);
	CHECK_EQ(n, 64);
	CHECK_MEM(buf, data, 64);
	CHECK_EQ(filestore_reader_next(r, buf, 64, &n), 0);
	CHECK_EQ(n, 36);
	CHECK_MEM(buf, data + 64, 36);
	CHECK_EQ(filestore_reader_next(r, buf, 64, &n), 0);
	CHECK_EQ(n, 0);
	filestore_reader_close(r);
	filestore_reader_close(NULL);
	unlink(enc);
}

/* Flipping any single bit-pattern in any byte of a many-chunk file fails. */
TEST(tamper_every_byte_small_chunks)
{
	for (size_t s = 0; s < BW_ARRAY_LEN(suites); s++) {
		CHECK_EQ(bwc_init(suites[s]), 0);
		filestore_test_chunk_len = 16;
		uint8_t data[40];   /* chunks of 16, 16, 8 */
		bwc_random(data, sizeof data);
		char enc[128];
		CHECK_EQ(encrypt_buf(data, sizeof data, TENANT, FILE_ID, enc, sizeof enc), 0);
		filestore_test_chunk_len = 0;
		uint8_t *orig = NULL;
		size_t len = 0;
		CHECK_EQ(read_file(enc, &orig, &len), 0);
		CHECK_EQ(len, FILESTORE_HDR_LEN + 40 + 3 * bwc_box_len(0));
		CHECK_EQ(decrypt_rc(enc), 0);
		int bad = 0;
		for (size_t i = 0; orig != NULL && i < len; i++) {
			uint8_t *m = malloc(len);
			memcpy(m, orig, len);
			m[i] ^= (uint8_t)(1u << (i % 8));
			CHECK_EQ(overwrite(enc, m, len), 0);
			int rc = decrypt_rc(enc);
			if (rc != BW_ECRYPTO) {
				fprintf(stderr, "  byte %zu: rc %d\n", i, rc);
				bad++;
			}
			free(m);
		}
		CHECK_EQ(bad, 0);
		free(orig);
		unlink(enc);
	}
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
}

/* A 3-chunk file with 64 KiB chunks: offsets of the regions. */
struct layout {
	size_t hdr, c0, c1, c2, end, box_full;
};

static void layout_of(size_t n, struct layout *l)
{
	l->box_full = bwc_box_len(65536);
	l->hdr = 0;
	l->c0 = FILESTORE_HDR_LEN;
	l->c1 = l->c0 + l->box_full;
	l->c2 = l->c1 + l->box_full;
	l->end = l->c2 + bwc_box_len(n - 2 * 65536);
}

TEST(tamper_regions_and_structure)
{
	const size_t n = 2 * 65536 + 1000;
	uint8_t *data = malloc(n);
	CHECK(data != NULL);
	if (data == NULL)
		return;
	bwc_random(data, n);
	for (size_t s = 0; s < BW_ARRAY_LEN(suites); s++) {
		CHECK_EQ(bwc_init(suites[s]), 0);
		struct layout L;
		layout_of(n, &L);
		char enc[128], other[128];
		CHECK_EQ(encrypt_buf(data, n, TENANT, FILE_ID, enc, sizeof enc), 0);
		uint8_t *orig = NULL, *m = NULL;
		size_t len = 0;
		CHECK_EQ(read_file(enc, &orig, &len), 0);
		CHECK_EQ(len, L.end);
		if (orig == NULL || len != L.end)
			continue;
		m = malloc(len + 1);
		size_t nl = bwc_box_len(0) - CRYPTO_TAG_LEN; /* box header + nonce */

		/* A flipped byte in each region. */
		const size_t spots[] = {
			0, 4, 5, 9, 13, 20, 21, FILESTORE_HDR_LEN - 1,         /* header */
			L.c0, L.c0 + 1, L.c0 + 2, L.c0 + 6, L.c0 + nl,         /* chunk 0 box hdr, nonce, ct */
			L.c0 + nl + 30000, L.c1 - 1,                           /* ct, tag */
			L.c1, L.c1 + 10, L.c1 + nl + 5, L.c2 - 1,              /* chunk 1 */
			L.c2, L.c2 + nl, L.c2 + nl + 999, L.end - 1,           /* final chunk */
		};
		for (size_t i = 0; i < BW_ARRAY_LEN(spots); i++) {
			memcpy(m, orig, len);
			m[spots[i]] ^= 0x01;
			CHECK_EQ(overwrite(enc, m, len), 0);
			int rc = decrypt_rc(enc);
			if (rc != BW_ECRYPTO)
				fprintf(stderr, "  offset %zu: rc %d\n", spots[i], rc);
			CHECK_EQ(rc, BW_ECRYPTO);
		}

		/* Truncated last chunk, by one byte and by the whole chunk: found
		 * by open already (size check), before any plaintext is out. */
		CHECK_EQ(overwrite(enc, orig, len - 1), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		{
			struct filestore_reader *r = NULL;
			uint64_t pl = 0;
			CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, enc, &r, &pl), BW_ECRYPTO);
			CHECK(r == NULL);
			filestore_reader_close(r);
		}
		CHECK_EQ(overwrite(enc, orig, L.c2), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* ... and with the header's length edited to match. */
		memcpy(m, orig, L.c2);
		put_be64(m + 13, 2 * 65536);
		CHECK_EQ(overwrite(enc, m, L.c2), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Appended byte. */
		memcpy(m, orig, len);
		m[len] = 0;
		CHECK_EQ(overwrite(enc, m, len + 1), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Header only / empty file. */
		CHECK_EQ(overwrite(enc, orig, FILESTORE_HDR_LEN), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		CHECK_EQ(overwrite(enc, orig, 0), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);

		/* Dropped chunk 1, header length fixed so the size is consistent. */
		memcpy(m, orig, L.c1);
		memcpy(m + L.c1, orig + L.c2, L.end - L.c2);
		put_be64(m + 13, 65536 + 1000);
		CHECK_EQ(overwrite(enc, m, len - L.box_full), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Swapped chunks 0 and 1. */
		memcpy(m, orig, len);
		memcpy(m + L.c0, orig + L.c1, L.box_full);
		memcpy(m + L.c1, orig + L.c0, L.box_full);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Chunk 0 duplicated over chunk 1. */
		memcpy(m, orig, len);
		memcpy(m + L.c1, orig + L.c0, L.box_full);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Plaintext-length edit within the same chunk count (size check
		 * would catch a size change, so edit the header only). */
		memcpy(m, orig, len);
		put_be64(m + 13, n - 1);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Key version edit. */
		memcpy(m, orig, len);
		m[8] ^= 1;
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);

		/* Restore; the original still opens. */
		CHECK_EQ(overwrite(enc, orig, len), 0);
		CHECK_EQ(decrypt_rc(enc), 0);

		/* Moved to another file id or tenant; wrong key; wrong suite. */
		CHECK_EQ(decrypt_all(key, TENANT, FILE_ID + 1, enc, 4096, NULL, NULL), BW_ECRYPTO);
		CHECK_EQ(decrypt_all(key, TENANT + 1, FILE_ID, enc, 4096, NULL, NULL), BW_ECRYPTO);
		uint8_t k2[CRYPTO_KEY_LEN];
		memcpy(k2, key, sizeof k2);
		k2[31] ^= 0x80;
		CHECK_EQ(decrypt_all(k2, TENANT, FILE_ID, enc, 4096, NULL, NULL), BW_ECRYPTO);
		CHECK_EQ(bwc_init(suites[1 - s]), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		CHECK_EQ(bwc_init(suites[s]), 0);

		/* Chunk swap between files: another file id, and another
		 * encryption of the same file id (same length, key, version). */
		for (int same_id = 0; same_id < 2; same_id++) {
			CHECK_EQ(encrypt_buf(data, n, TENANT, same_id ? FILE_ID : FILE_ID + 9, other,
			                     sizeof other), 0);
			uint8_t *o = NULL;
			size_t ol = 0;
			CHECK_EQ(read_file(other, &o, &ol), 0);
			CHECK_EQ(ol, len);
			if (o != NULL && ol == len) {
				memcpy(m, orig, len);
				memcpy(m + L.c1, o + L.c1, L.box_full);
				CHECK_EQ(overwrite(enc, m, len), 0);
				CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
				/* Whole header from the other file. */
				memcpy(m, orig, len);
				memcpy(m, o, FILESTORE_HDR_LEN);
				CHECK_EQ(overwrite(enc, m, len), 0);
				CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
			}
			free(o);
			unlink(other);
		}
		free(m);
		free(orig);
		unlink(enc);
	}
	free(data);
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
}

/* Builds the associated data of chunk idx as filestore.h documents it. */
static size_t doc_aad(uint8_t *aad, int64_t tenant, int64_t file_id, const uint8_t *hdr,
                      uint64_t idx, int final)
{
	int n = bwc_aad(aad, tenant, "attachments", file_id, "content");
	CHECK(n > 0);
	if (n <= 0)
		return 0;
	memcpy(aad + n, hdr, FILESTORE_HDR_LEN);
	put_be64(aad + n + FILESTORE_HDR_LEN, idx);
	aad[n + FILESTORE_HDR_LEN + 8] = (uint8_t)final;
	return (size_t)n + FILESTORE_HDR_LEN + 9;
}

/* The documented format: chunks open with bwc_box_open() and the documented
 * AAD; a hand-made file whose last chunk lacks the final flag is refused, as
 * is one whose extra chunk claims to be final early. */
TEST(format_pinned)
{
	for (size_t s = 0; s < BW_ARRAY_LEN(suites); s++) {
		CHECK_EQ(bwc_init(suites[s]), 0);
		filestore_test_chunk_len = 10;
		uint8_t data[15];
		bwc_random(data, sizeof data);
		char enc[128];
		CHECK_EQ(encrypt_buf(data, sizeof data, TENANT, FILE_ID, enc, sizeof enc), 0);
		filestore_test_chunk_len = 0;
		uint8_t *f = NULL;
		size_t len = 0;
		CHECK_EQ(read_file(enc, &f, &len), 0);
		size_t b0 = bwc_box_len(10), b1 = bwc_box_len(5);
		CHECK_EQ(len, FILESTORE_HDR_LEN + b0 + b1);
		if (f == NULL || len != FILESTORE_HDR_LEN + b0 + b1) {
			free(f);
			continue;
		}
		CHECK_MEM(f, "BWF1", 4);
		CHECK_EQ(f[4], suites[s]);
		CHECK_MEM(f + 5, "\0\0\0\x03\0\0\0\x0a\0\0\0\0\0\0\0\x0f", 16);
		uint8_t aad[CRYPTO_AAD_MAX], pt[16];
		size_t al = doc_aad(aad, TENANT, FILE_ID, f, 0, 0);
		CHECK_EQ(bwc_box_open(key, aad, al, f + FILESTORE_HDR_LEN, b0, pt), 0);
		CHECK_MEM(pt, data, 10);
		al = doc_aad(aad, TENANT, FILE_ID, f, 1, 1);
		CHECK_EQ(bwc_box_open(key, aad, al, f + FILESTORE_HDR_LEN + b0, b1, pt), 0);
		CHECK_MEM(pt, data + 10, 5);

		/* Re-seal the last chunk with final = 0: refused. */
		uint8_t *m = malloc(len);
		memcpy(m, f, len);
		al = doc_aad(aad, TENANT, FILE_ID, f, 1, 0);
		CHECK_EQ(bwc_box_seal(key, 3, aad, al, data + 10, 5, m + FILESTORE_HDR_LEN + b0), 0);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* Re-seal it correctly: accepted (the harness itself is right). */
		al = doc_aad(aad, TENANT, FILE_ID, f, 1, 1);
		CHECK_EQ(bwc_box_seal(key, 3, aad, al, data + 10, 5, m + FILESTORE_HDR_LEN + b0), 0);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), 0);
		/* Chunk 0 sealed as final: refused. */
		al = doc_aad(aad, TENANT, FILE_ID, f, 0, 1);
		CHECK_EQ(bwc_box_seal(key, 3, aad, al, data, 10, m + FILESTORE_HDR_LEN), 0);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		/* A box under another key version than the header's: refused. */
		memcpy(m, f, len);
		al = doc_aad(aad, TENANT, FILE_ID, f, 1, 1);
		CHECK_EQ(bwc_box_seal(key, 4, aad, al, data + 10, 5, m + FILESTORE_HDR_LEN + b0), 0);
		CHECK_EQ(overwrite(enc, m, len), 0);
		CHECK_EQ(decrypt_rc(enc), BW_ECRYPTO);
		free(m);
		free(f);
		unlink(enc);
	}
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
}

/* The file changes after open: truncation and appended data are found when
 * reading reaches them, and no plaintext of the bad part is returned. */
TEST(tamper_while_open)
{
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	const size_t n = 2 * 65536 + 10;
	uint8_t *data = malloc(n), *buf = malloc(65536);
	CHECK(data != NULL && buf != NULL);
	if (data == NULL || buf == NULL) {
		free(data);
		free(buf);
		return;
	}
	bwc_random(data, n);
	char enc[128];
	CHECK_EQ(encrypt_buf(data, n, TENANT, FILE_ID, enc, sizeof enc), 0);
	struct stat st;
	CHECK_EQ(stat(enc, &st), 0);

	/* Truncate the last chunk after open. */
	struct filestore_reader *r = NULL;
	uint64_t pl = 0;
	size_t got = 0, k = 0;
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, enc, &r, &pl), 0);
	CHECK_EQ(truncate(enc, st.st_size - 1), 0);
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++) {
		rc = filestore_reader_next(r, buf, 65536, &k);
		if (rc == 0 && k == 0)
			break;
		got += rc == 0 ? k : 0;
	}
	CHECK_EQ(rc, BW_ECRYPTO);
	CHECK_EQ(got, 2 * 65536);
	CHECK_EQ(filestore_reader_next(r, buf, 65536, &k), BW_ECRYPTO);   /* sticky */
	filestore_reader_close(r);
	unlink(enc);

	/* Append after open: the end is refused. */
	CHECK_EQ(encrypt_buf(data, n, TENANT, FILE_ID, enc, sizeof enc), 0);
	r = NULL;
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, enc, &r, &pl), 0);
	int fd = open(enc, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "x", 1), 1);
	close(fd);
	got = 0;
	rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++) {
		rc = filestore_reader_next(r, buf, 65536, &k);
		if (rc == 0 && k == 0)
			break;
		got += rc == 0 ? k : 0;
	}
	CHECK_EQ(rc, BW_ECRYPTO);
	CHECK_EQ(got, n);
	filestore_reader_close(r);
	unlink(enc);
	free(data);
	free(buf);
}

TEST(write_errors)
{
	CHECK_EQ(bwc_init(CRYPTO_SUITE_INTL), 0);
	char enc[128], plain[128];
	uint8_t data[10] = { 1, 2, 3 };
	CHECK_EQ(encrypt_buf(data, sizeof data, TENANT, FILE_ID, enc, sizeof enc), 0);

	tpath(plain, sizeof plain, "plain");
	CHECK_EQ(write_plain(plain, data, sizeof data), 0);
	int fd = open(plain, O_RDONLY);
	CHECK(fd >= 0);
	/* Existing target: refused, nothing replaced, no temp left. */
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, sizeof data, enc), BW_EEXIST);
	CHECK_EQ(decrypt_rc(enc), 0);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", enc);
	CHECK(access(tmp, F_OK) != 0);

	/* Input shorter than len: BW_EIO and nothing left behind. */
	char enc2[128];
	tpath(enc2, sizeof enc2, "enc");
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, sizeof data + 1, enc2), BW_EIO);
	CHECK(access(enc2, F_OK) != 0);
	snprintf(tmp, sizeof tmp, "%s.tmp", enc2);
	CHECK(access(tmp, F_OK) != 0);
	/* Stale temp file: refused. */
	CHECK_EQ(write_plain(tmp, data, 1), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, sizeof data, enc2), BW_EEXIST);
	CHECK(access(enc2, F_OK) != 0);
	unlink(tmp);
	/* Reads from the current offset. */
	CHECK_EQ(lseek(fd, 3, SEEK_SET), 3);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, sizeof data - 3, enc2), 0);
	uint8_t *got = NULL;
	size_t gl = 0;
	CHECK_EQ(decrypt_all(key, TENANT, FILE_ID, enc2, 100, &got, &gl), 0);
	CHECK_EQ(gl, sizeof data - 3);
	if (got != NULL && gl == sizeof data - 3)
		CHECK_MEM(got, data + 3, gl);
	free(got);
	uint32_t kv = 0;
	CHECK_EQ(filestore_key_version(enc2, &kv), 0);
	CHECK_EQ(kv, 1);

	/* Bad arguments and limits. */
	CHECK_EQ(filestore_encrypt_fd(NULL, 1, TENANT, FILE_ID, fd, 1, enc2), BW_EINVAL);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, -1, 1, enc2), BW_EINVAL);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, 1, NULL), BW_EINVAL);
	CHECK_EQ(filestore_encrypt_fd(key, 1, TENANT, FILE_ID, fd, FILESTORE_PLAIN_MAX + 1, enc2),
	         BW_ETOOBIG);
	close(fd);

	/* Reader: missing file, directory, not ours. */
	struct filestore_reader *r = (struct filestore_reader *)&kv;
	uint64_t pl = 99;
	char missing[128];
	tpath(missing, sizeof missing, "missing");
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, missing, &r, &pl), BW_ENOENT);
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, tdir, &r, &pl), BW_EIO);
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, plain, &r, &pl), BW_ECRYPTO);
	CHECK(r == (struct filestore_reader *)&kv);   /* untouched on failure */
	CHECK_EQ(pl, 99);
	CHECK_EQ(filestore_key_version(plain, &kv), BW_ECRYPTO);
	CHECK_EQ(filestore_key_version(missing, &kv), BW_ENOENT);
	/* A symlink is not followed. */
	char link_path[128];
	tpath(link_path, sizeof link_path, "link");
	CHECK_EQ(symlink(enc, link_path), 0);
	CHECK_EQ(filestore_reader_open(key, TENANT, FILE_ID, link_path, &r, &pl), BW_EIO);
	unlink(link_path);
	unlink(plain);
	unlink(enc);
	unlink(enc2);
}

TEST(sniff)
{
	static const struct {
		const char *head;
		size_t n;
		const char *mime;
	} cases[] = {
		{ "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "image/png" },
		{ "\xff\xd8\xff\xe0\0\x10JFIF", 10, "image/jpeg" },
		{ "GIF89a\x01\0\x01\0", 10, "image/gif" },
		{ "GIF87a", 6, "image/gif" },
		{ "RIFF\x24\0\0\0WEBPVP8 ", 16, "image/webp" },
		{ "RIFF\x24\0\0\0WAVEfmt ", 16, "audio/wav" },
		{ "%PDF-1.7\n%\xe2\xe3\xcf\xd3", 14, "application/pdf" },
		{ "PK\x03\x04\x14\0\0\0\x08\0", 10, "application/zip" },
		{ "PK\x05\x06\0\0\0\0", 8, "application/zip" },
		{ "\x1f\x8b\x08\0\0\0\0\0", 8, "application/gzip" },
		{ "OggS\0\x02", 6, "audio/ogg" },
		{ "\0\0\0\x18" "ftypmp42\0\0\0\0", 16, "video/mp4" },
		{ "\0\0\0\x20" "ftypisom\0\0\x02\0", 16, "video/mp4" },
		{ "\0\0\0\x20" "ftypM4A \0\0\0\0", 16, "audio/mp4" },
		{ "ID3\x04\0\0\0\0\0\0", 10, "audio/mpeg" },
		{ "\xff\xfb\x90\x64\0\0", 6, "audio/mpeg" },
		{ "\xff\xf3\x40\xc4", 4, "audio/mpeg" },
		{ "\xff\xfb\xf0\x64", 4, "application/octet-stream" },   /* bad bitrate */
		{ "hello, world\n", 13, "text/plain; charset=utf-8" },
		{ "\xef\xbb\xbf" "BOM text\r\n\tx\f", 16, "text/plain; charset=utf-8" },
		{ "\xe4\xbd\xa0\xe5\xa5\xbd", 6, "text/plain; charset=utf-8" },
		{ "ab\xe4\xbd", 4, "text/plain; charset=utf-8" },        /* cut at the end */
		{ "ab\xe4\xbdx", 5, "application/octet-stream" },        /* broken inside */
		{ "a\0b", 3, "application/octet-stream" },
		{ "a\x01" "b", 3, "application/octet-stream" },
		{ "a\x7f", 2, "application/octet-stream" },
		{ "\xc0\x80", 2, "application/octet-stream" },           /* overlong NUL */
		{ "\xed\xa0\x80", 3, "application/octet-stream" },       /* surrogate */
		{ "<html><script>alert(1)</script>", 31, "text/plain; charset=utf-8" },
		{ "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 41, "text/plain; charset=utf-8" },
		{ "\x89PN", 3, "application/octet-stream" },
		{ "", 0, "application/octet-stream" },
	};
	for (size_t i = 0; i < BW_ARRAY_LEN(cases); i++) {
		const char *m = filestore_sniff((const uint8_t *)cases[i].head, cases[i].n);
		if (strcmp(m, cases[i].mime) != 0)
			fprintf(stderr, "  case %zu\n", i);
		CHECK_STR(m, cases[i].mime);
	}
	CHECK_STR(filestore_sniff(NULL, 10), "application/octet-stream");
}

/* A zip with local headers for the given names (stored, empty bodies). */
static size_t make_zip(uint8_t *out, size_t max, const char *const *names, size_t count)
{
	size_t o = 0;
	for (size_t i = 0; i < count; i++) {
		size_t nl = strlen(names[i]);
		if (o + 30 + nl + 3 > max)
			break;
		memset(out + o, 0, 30);
		memcpy(out + o, "PK\x03\x04", 4);
		out[o + 4] = 20;
		out[o + 18] = 3;    /* compressed size */
		out[o + 22] = 3;    /* uncompressed size */
		out[o + 26] = (uint8_t)nl;
		memcpy(out + o + 30, names[i], nl);
		memcpy(out + o + 30 + nl, "abc", 3);
		o += 30 + nl + 3;
	}
	return o;
}

TEST(sniff_ooxml)
{
	uint8_t z[2048];
	const char *docx[] = { "[Content_Types].xml", "_rels/.rels", "word/document.xml" };
	const char *xlsx[] = { "[Content_Types].xml", "_rels/.rels", "xl/workbook.xml" };
	const char *pptx[] = { "[Content_Types].xml", "ppt/presentation.xml" };
	const char *plain[] = { "word/document.xml", "readme.txt" };   /* no content types */
	const char *ct_only[] = { "[Content_Types].xml", "other/x.xml" };
	size_t n;
	n = make_zip(z, sizeof z, docx, 3);
	CHECK_STR(filestore_sniff(z, n),
	          "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
	n = make_zip(z, sizeof z, xlsx, 3);
	CHECK_STR(filestore_sniff(z, n),
	          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
	n = make_zip(z, sizeof z, pptx, 2);
	CHECK_STR(filestore_sniff(z, n),
	          "application/vnd.openxmlformats-officedocument.presentationml.presentation");
	n = make_zip(z, sizeof z, plain, 2);
	CHECK_STR(filestore_sniff(z, n), "application/zip");
	n = make_zip(z, sizeof z, ct_only, 2);
	CHECK_STR(filestore_sniff(z, n), "application/zip");
	/* Head cut inside the second name: still a zip, no over-read. */
	n = make_zip(z, sizeof z, docx, 3);
	CHECK_STR(filestore_sniff(z, 30 + 19 + 3 + 30 + 4), "application/zip");
	/* A name length pointing past the head. */
	z[26] = 0xff;
	z[27] = 0xff;
	CHECK_STR(filestore_sniff(z, 40), "application/zip");
}

static void check_name(const char *in, size_t max, const char *want)
{
	char out[1024], again[1024];
	memset(out, 'Z', sizeof out);
	filestore_sanitize_name(in, out, max);
	if (want != NULL)
		CHECK_STR(out, want);
	size_t n = strlen(out);
	CHECK(n < max);
	CHECK(bw_utf8_valid(out, n, false));
	CHECK(strchr(out, '/') == NULL && strchr(out, '\\') == NULL);
	if (n > 0) {
		CHECK(out[0] != '.' && out[0] != ' ');
		CHECK(out[n - 1] != '.' && out[n - 1] != ' ');
	}
	/* Idempotent. */
	filestore_sanitize_name(out, again, max);
	CHECK_STR(again, out);
}

TEST(sanitize_name)
{
	check_name("report.pdf", 256, "report.pdf");
	check_name("../../etc/passwd", 256, "passwd");
	check_name("..\\..\\windows\\system32\\cmd.exe", 256, "cmd.exe");
	check_name("C:\\Users\\me\\evil.exe", 256, "evil.exe");
	check_name("dir/", 256, "file");
	check_name("", 256, "file");
	check_name(NULL, 256, "file");
	check_name("...", 256, "file");
	check_name(". . .", 256, "file");
	check_name(".bashrc", 256, "bashrc");
	check_name("..hidden.txt", 256, "hidden.txt");
	check_name("name. . ", 256, "name");
	check_name("  spaced  .txt  ", 256, "spaced  .txt");
	/* RLO: "invoice\u202Efdp.exe" shows as "invoiceexe.pdf". */
	check_name("invoice\xe2\x80\xae" "fdp.exe", 256, "invoicefdp.exe");
	check_name("a\xe2\x80\xaa" "b\xe2\x80\xab" "c\xe2\x80\xac" "d\xe2\x80\xad" "e.txt", 256,
	           "abcde.txt");
	check_name("x\xe2\x81\xa6" "y\xe2\x81\xa7" "z\xe2\x81\xa8" "w\xe2\x81\xa9.png", 256,
	           "xyzw.png");
	check_name("lrm\xe2\x80\x8e" "rlm\xe2\x80\x8f" "zw\xe2\x80\x8b" "bom\xef\xbb\xbf.txt", 256,
	           "lrmrlmzwbom.txt");
	check_name("tag\xf3\xa0\x80\x81.txt", 256, "tag.txt");
	check_name("ctl\x01\x1f\x7f\xc2\x85" "x.txt", 256, "ctlx.txt");
	check_name("new\nline\r.txt", 256, "newline.txt");
	check_name("bad\xff\xfe utf8\xc0\xaf.txt", 256, "bad utf8.txt");
	check_name("cut\xe4\xbd", 256, "cut");
	check_name("a<b>c:d\"e|f?g*h.txt", 256, "a_b_c_d_e_f_g_h.txt");
	check_name("\xe6\x8a\xa5\xe5\x91\x8a.docx", 256, "\xe6\x8a\xa5\xe5\x91\x8a.docx");
	check_name("\xf0\x9f\x98\x80 smile.png", 256, "\xf0\x9f\x98\x80 smile.png");
	/* Tiny buffers. */
	check_name("report.pdf", 1, "");
	check_name("", 3, "fi");
	check_name("report.pdf", 5, "repo");
	check_name("report.pdf", 6, "r.pdf");
	check_name("\xe4\xb8\xad", 3, "fi");   /* the first character does not fit */
	char out[4] = "abc";
	filestore_sanitize_name("x", out, 0);
	CHECK_STR(out, "abc");
}

TEST(sanitize_long_names)
{
	/* 300 CJK characters (900 bytes) + ".pdf" into 256 bytes. */
	char in[2048], out[256];
	size_t o = 0;
	for (int i = 0; i < 300; i++) {
		memcpy(in + o, "\xe6\x96\x87", 3);
		o += 3;
	}
	memcpy(in + o, ".pdf", 5);
	filestore_sanitize_name(in, out, sizeof out);
	size_t n = strlen(out);
	CHECK(n <= 255);
	CHECK(n >= 250);
	CHECK(bw_utf8_valid(out, n, false));
	CHECK(n >= 4 && strcmp(out + n - 4, ".pdf") == 0);
	CHECK_EQ((n - 4) % 3, 0);
	check_name(in, sizeof out, NULL);

	/* Mixed widths, cut must land on a boundary for every max. */
	o = 0;
	for (int i = 0; i < 100; i++) {
		static const char *const parts[] = { "a", "\xc3\xa9", "\xe6\x96\x87",
		                                     "\xf0\x9f\x98\x80" };
		size_t pl = strlen(parts[i % 4]);
		memcpy(in + o, parts[i % 4], pl);
		o += pl;
	}
	memcpy(in + o, ".tar.gz", 8);
	for (size_t max = 1; max < 300; max++)
		check_name(in, max, NULL);
	filestore_sanitize_name(in, out, 50);
	n = strlen(out);
	CHECK(n >= 3 && strcmp(out + n - 3, ".gz") == 0);

	/* An over-long extension is not kept. */
	char big[400];
	memset(big, 'b', 100);
	big[100] = '.';
	memset(big + 101, 'e', 40);
	big[141] = '\0';
	filestore_sanitize_name(big, out, 64);
	CHECK_EQ(strlen(out), 63);
	CHECK(strchr(out, '.') == NULL);   /* plain cut: 63 of the 100 b's */
	/* Input longer than the 4096-byte window. */
	char *huge = malloc(10000);
	if (huge != NULL) {
		memset(huge, 'h', 9999);
		huge[9999] = '\0';
		filestore_sanitize_name(huge, out, sizeof out);
		CHECK_EQ(strlen(out), 255);
		free(huge);
	}
}

int main(void)
{
	bw_log_level = getenv("BW_TEST_VERBOSE") ? BW_LOG_DEBUG : BW_LOG_ERR - 1;
	if (bwc_init(CRYPTO_SUITE_INTL) != 0) {
		fprintf(stderr, "bwc_init failed\n");
		return 1;
	}
	snprintf(tdir, sizeof tdir, "/tmp/bw-filestore-XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	bwc_random(key, sizeof key);
	RUN(round_trips);
	RUN(reader_first_read_sizes);
	RUN(tamper_every_byte_small_chunks);
	RUN(tamper_regions_and_structure);
	RUN(format_pinned);
	RUN(tamper_while_open);
	RUN(write_errors);
	RUN(sniff);
	RUN(sniff_ooxml);
	RUN(sanitize_name);
	RUN(sanitize_long_names);
	rmdir(tdir);
	return UNIT_DONE();
}
