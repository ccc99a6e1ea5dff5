/*
 * clamav.h — client for clamd's INSTREAM protocol over a unix socket: every
 * uploaded file is scanned before anyone can see it (RG-IM-a, WC-STORE, MI-3;
 * user rule "scan downloaded files for viruses").
 *
 * Callers fail closed: anything but 0 with CLAMAV_CLEAN means the file must
 * not be published.  scripts/clamd.sh starts a private clamd for `make run`
 * and the tests.
 *
 * Memory: nothing here keeps state between calls; callers own every buffer.
 * Thread safety: every function may be called concurrently (one connection
 * per call).
 */
#ifndef BW_CLAMAV_H
#define BW_CLAMAV_H

#include <stddef.h>
#include <stdint.h>

enum clamav_verdict { CLAMAV_CLEAN = 1, CLAMAV_INFECTED = 2 };

#define CLAMAV_SIG_MAX 128          /* signature buffer incl. NUL */
#define CLAMAV_CHUNK_MAX 65536      /* bytes per INSTREAM chunk */

struct clamav_result {
	enum clamav_verdict verdict;
	/* Infected: the signature name, printable ASCII only (other bytes become
	 * '?'), cut to CLAMAV_SIG_MAX-1 bytes, never empty.  Clean: "". */
	char signature[CLAMAV_SIG_MAX];
};

/* PING → PONG within timeout_ms (> 0).  0, BW_EUNAVAIL, or BW_EINVAL for a
 * NULL/too-long socket path or a timeout <= 0. */
int clamav_ping(const char *socket_path, int timeout_ms);

/* Scans len bytes read from fd (from its current offset) via INSTREAM in
 * chunks of <= CLAMAV_CHUNK_MAX bytes; every socket operation (connect, each
 * send, the wait for the reply) is bounded by timeout_ms through poll(), so
 * the whole call takes at most about (len / 64 KiB + 3) * timeout_ms.
 * Returns 0 with *out set; BW_EUNAVAIL when clamd cannot be reached, times
 * out, drops the connection or replies "... ERROR" (other than the size
 * limit); BW_EIO on a read error of fd or when fd ends before len bytes;
 * BW_ETOOBIG when clamd replies "INSTREAM size limit exceeded" (its
 * StreamMaxLength); BW_EINVAL on an unparseable reply or bad arguments.
 * The fd offset is advanced by the bytes read. */
int clamav_scan_fd(const char *socket_path, int fd, uint64_t len, int timeout_ms,
                   struct clamav_result *out);

/* Same for a buffer in memory (buf may be NULL when len is 0). */
int clamav_scan_buf(const char *socket_path, const void *buf, size_t len, int timeout_ms,
                    struct clamav_result *out);

#endif
