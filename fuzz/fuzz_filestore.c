/*
 * fuzz_filestore.c — libFuzzer target for the attachment store's parsers
 * (src/filestore.c; RG-IM-a, WC-STORE, MI-3): the encrypted-file reader on
 * arbitrary file bytes under both suites, filestore_sniff() on arbitrary
 * heads and filestore_sanitize_name() on arbitrary names.
 *
 * Properties checked on every input:
 * - reader: the input is written to a temp file under /tmp and opened with a
 *   fixed key, tenant and file id; open fails only with BW_ECRYPTO (or
 *   BW_ENOMEM); reading in steps chosen from the input never returns more
 *   than the step or more than the header's plaintext length, fails only
 *   with BW_ECRYPTO and stays failed; a file that reads to the end yields
 *   exactly plain_len bytes, and re-encrypting that plaintext and reading it
 *   back gives the same bytes;
 * - sniff: the result is one of the documented types (never HTML/SVG/XML);
 * - sanitize, for several buffer sizes: the result is shorter than the
 *   buffer, valid UTF-8 without controls, has no '/' or '\', no bidi or
 *   other dropped format character, no leading dot/space, no trailing
 *   dot/space, is non-empty when the buffer holds "file", and sanitising it
 *   again changes nothing.
 *
 * Seeds (fuzz/corpus/fuzz_filestore/) are real encrypted files of both
 * suites, with 64 KiB chunks and with 16-byte chunks (test builds only, via
 * filestore_test_chunk_len), plus names and file heads.  Regenerate them with
 *   cc -std=c11 -D_GNU_SOURCE -DBW_TESTING -DFUZZ_FILESTORE_GEN -Isrc \
 *      fuzz/fuzz_filestore.c src/filestore.c src/util.c src/crypto.c \
 *      $(pkg-config --cflags --libs libsodium libgcrypt openssl) -lpthread \
 *      -o /tmp/gen && /tmp/gen fuzz/corpus/fuzz_filestore
 */
#include "crypto.h"
#include "filestore.h"
#include "util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_TENANT 7
#define FUZZ_FILE_ID 99

static uint8_t fuzz_key[CRYPTO_KEY_LEN];
static char fuzz_path[64];
static char fuzz_path2[64];

static void fuzz_cleanup(void)
{
	unlink(fuzz_path);
	unlink(fuzz_path2);
}

static void fuzz_setup(void)
{
	static int ready;
	if (ready)
		return;
	bw_log_level = BW_LOG_ERR - 1;
	for (size_t i = 0; i < sizeof fuzz_key; i++)
		fuzz_key[i] = (uint8_t)(0x42 + i);
	if (bwc_init(CRYPTO_SUITE_INTL) != 0)
		abort();
	snprintf(fuzz_path, sizeof fuzz_path, "/tmp/fuzz_filestore.%ld", (long)getpid());
	snprintf(fuzz_path2, sizeof fuzz_path2, "/tmp/fuzz_filestore.%ld.re", (long)getpid());
	atexit(fuzz_cleanup);
	ready = 1;
}

static void fuzz_write(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	close(fd);
}

/* Reads the whole file with steps from steps[]; *out (malloc'd, or NULL)
 * gets the plaintext when the file reads to its end.  Returns the rc. */
static int fuzz_read_all(const char *path, const uint8_t *steps, size_t nsteps,
                         uint8_t **out, size_t *out_len)
{
	struct filestore_reader *r = NULL;
	uint64_t pl = 0;
	int rc = filestore_reader_open(fuzz_key, FUZZ_TENANT, FUZZ_FILE_ID, path, &r, &pl);
	*out = NULL;
	if (rc != 0) {
		if (rc != BW_ECRYPTO && rc != BW_ENOMEM)
			abort();
		if (r != NULL)
			abort();
		return rc;
	}
	if (pl > 1u << 20)   /* the file size was checked against it at open */
		abort();
	uint8_t *plain = malloc(pl + 1);
	uint8_t buf[300];
	size_t len = 0;
	if (plain == NULL)
		abort();
	/* Bounded: every successful call returns >= 1 byte of pl, or ends. */
	for (size_t i = 0;; i++) {
		size_t step = nsteps ? (size_t)steps[i % nsteps] % sizeof buf + 1 : sizeof buf;
		size_t n = 12345;
		rc = filestore_reader_next(r, buf, step, &n);
		if (rc != 0) {
			if (rc != BW_ECRYPTO)
				abort();
			if (filestore_reader_next(r, buf, step, &n) != BW_ECRYPTO)
				abort();
			break;
		}
		if (n > step || len + n > pl)
			abort();
		if (n == 0) {
			if (len != pl)
				abort();
			break;
		}
		memcpy(plain + len, buf, n);
		len += n;
		if (i > pl + 2)
			abort();
	}
	filestore_reader_close(r);
	if (rc == 0) {
		*out = plain;
		*out_len = len;
	} else {
		free(plain);
	}
	return rc;
}

static void fuzz_reader(enum bwc_suite s, const uint8_t *data, size_t size)
{
	uint8_t *plain = NULL, *back = NULL;
	size_t len = 0, back_len = 0;

	if (bwc_init(s) != 0)
		abort();
	fuzz_write(fuzz_path, data, size);
	if (fuzz_read_all(fuzz_path, data, size > 16 ? 16 : size, &plain, &len) != 0)
		return;
	/* It opened: round trip the plaintext through the writer. */
	unlink(fuzz_path2);
	fuzz_write(fuzz_path, plain, len);
	int fd = open(fuzz_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		abort();
	if (filestore_encrypt_fd(fuzz_key, 1, FUZZ_TENANT, FUZZ_FILE_ID, fd, len, fuzz_path2) != 0)
		abort();
	close(fd);
	if (fuzz_read_all(fuzz_path2, NULL, 0, &back, &back_len) != 0 || back_len != len ||
	    (len > 0 && memcmp(back, plain, len) != 0))
		abort();
	unlink(fuzz_path2);
	free(plain);
	free(back);
}

static void fuzz_sniff(const uint8_t *data, size_t size)
{
	static const char *const ok[] = {
		"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
		"application/zip",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/gzip", "video/mp4", "audio/mp4", "audio/mpeg", "audio/ogg", "audio/wav",
		"text/plain; charset=utf-8", "application/octet-stream",
	};
	uint8_t *head = malloc(size ? size : 1);   /* exact size for ASan */
	if (head == NULL)
		abort();
	if (size)
		memcpy(head, data, size);
	const char *m = filestore_sniff(head, size);
	bool found = false;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(m, ok[i]) == 0)
			found = true;
	if (!found)
		abort();
	free(head);
}

/* True when valid UTF-8 s contains a code point the sanitiser drops. */
static bool fuzz_has_dropped(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	for (; *p; p++) {
		if (p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x8b && p[2] <= 0x8f) ||
		                                     (p[2] >= 0xa8 && p[2] <= 0xae)))
			return true;
		if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa0 && p[2] <= 0xaf)
			return true;
		if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
			return true;
		if (p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xb9 && p[2] <= 0xbb)
			return true;
		if (p[0] == 0xd8 && p[1] == 0x9c)
			return true;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
		if (p[0] == 0xf3 && p[1] == 0xa0 && (p[2] == 0x80 || p[2] == 0x81))
			return true;
	}
	return false;
}

static void fuzz_sanitize(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 1, 2, 3, 5, 8, 17, 64, 256 };
	char *in = malloc(size + 1);
	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	for (size_t k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
		size_t max = maxes[k];
		char *out = malloc(max), *again = malloc(max);   /* exact size */
		if (out == NULL || again == NULL)
			abort();
		filestore_sanitize_name(in, out, max);
		size_t n = strlen(out);
		if (n >= max)
			abort();
		if (!bw_utf8_valid(out, n, false))
			abort();
		if (strchr(out, '/') || strchr(out, '\\') || strpbrk(out, "<>:\"|?*"))
			abort();
		if (fuzz_has_dropped(out))
			abort();
		if (n > 0 && (out[0] == '.' || out[0] == ' ' || out[n - 1] == '.' || out[n - 1] == ' '))
			abort();
		if (max >= 5 && n == 0)
			abort();
		filestore_sanitize_name(out, again, max);
		if (strcmp(out, again) != 0)
			abort();
		free(out);
		free(again);
	}
	free(in);
}

static void fuzz_one(const uint8_t *data, size_t size)
{
	fuzz_setup();
	fuzz_reader(CRYPTO_SUITE_INTL, data, size);
	fuzz_reader(CRYPTO_SUITE_GM, data, size);
	fuzz_sniff(data, size);
	fuzz_sanitize(data, size);
}

#ifndef FUZZ_FILESTORE_GEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1u << 16)
		return 0;
	fuzz_one(data, size);
	return 0;
}

#else /* seed generator */

static void gen_file(const char *dir, const char *name, enum bwc_suite s, uint32_t chunk,
                     const uint8_t *p, size_t n)
{
	char out[512], plain[64];
	if (bwc_init(s) != 0)
		abort();
	filestore_test_chunk_len = chunk;
	snprintf(out, sizeof out, "%s/%s", dir, name);
	snprintf(plain, sizeof plain, "/tmp/fuzz_filestore_gen.%ld", (long)getpid());
	unlink(out);
	fuzz_write(plain, p, n);
	int fd = open(plain, O_RDONLY);
	if (fd < 0 ||
	    filestore_encrypt_fd(fuzz_key, 1, FUZZ_TENANT, FUZZ_FILE_ID, fd, n, out) != 0)
		abort();
	close(fd);
	unlink(plain);
	filestore_test_chunk_len = 0;
	/* The seed must open and read back, and pass the properties. */
	uint8_t *seed = NULL, *back = NULL;
	size_t seed_len = 0, back_len = 0;
	if (bw_file_read(out, 1u << 20, &seed, &seed_len) != 0 ||
	    fuzz_read_all(out, NULL, 0, &back, &back_len) != 0 || back_len != n ||
	    (n > 0 && memcmp(back, p, n) != 0))
		abort();
	fuzz_one(seed, seed_len);
	free(seed);
	free(back);
}

static void gen_raw(const char *dir, const char *name, const void *p, size_t n)
{
	char out[512];
	snprintf(out, sizeof out, "%s/%s", dir, name);
	fuzz_write(out, p, n);
	fuzz_one(p, n);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	fuzz_setup();
	const char *d = argv[1];
	uint8_t text[200];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (uint8_t)('a' + i % 26);
	gen_file(d, "intl_empty", CRYPTO_SUITE_INTL, 0, text, 0);
	gen_file(d, "intl_one", CRYPTO_SUITE_INTL, 0, text, 1);
	gen_file(d, "intl_200", CRYPTO_SUITE_INTL, 0, text, 200);
	gen_file(d, "intl_chunks16", CRYPTO_SUITE_INTL, 16, text, 40);
	gen_file(d, "intl_chunks16_exact", CRYPTO_SUITE_INTL, 16, text, 48);
	gen_file(d, "gm_empty", CRYPTO_SUITE_GM, 0, text, 0);
	gen_file(d, "gm_200", CRYPTO_SUITE_GM, 0, text, 200);
	gen_file(d, "gm_chunks16", CRYPTO_SUITE_GM, 16, text, 40);
	gen_raw(d, "name_traversal", "../../etc/passwd", 16);
	gen_raw(d, "name_bidi", "invoice\xe2\x80\xae" "fdp.exe", 17);
	gen_raw(d, "name_cjk", "\xe6\x8a\xa5\xe5\x91\x8a\xe6\x96\x87\xe4\xbb\xb6.docx", 17);
	gen_raw(d, "name_windows", "C:\\Users\\a\\..bad. .txt ", 23);
	gen_raw(d, "head_png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
	gen_raw(d, "head_mp3", "\xff\xfb\x90\x64\0\0", 6);
	static const uint8_t docx[] =
		"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0\x03\0\0\0\x13\0\0\0"
		"[Content_Types].xmlabc"
		"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0\x03\0\0\0\x11\0\0\0"
		"word/document.xmlabc";
	gen_raw(d, "head_docx", docx, sizeof docx - 1);
	return 0;
}

#endif
